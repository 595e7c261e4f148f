/* Hand-rolled msgpack for the fixed log record layout (see txnrec.h). */
#include "store/txnrec.h"

#include <string.h>

#include "common/assert.h"

#define REC_FIELDS 7
#define INT64_BYTES 9 /* 0xd3 + 8 */
#define INT32_BYTES 5 /* 0xd2 + 4 */
#define BIN_HEAD 5    /* 0xc6 + 4 */

static uint8_t *put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
    return p + bytes;
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

size_t txnrec_size(const struct store_txn *txn)
{
    return 1 + 3 * INT64_BYTES + 2 * INT32_BYTES + 2 * BIN_HEAD + txn->body_len + txn->auth_len;
}

static uint8_t *put_bin(uint8_t *p, const uint8_t *data, uint32_t len)
{
    *p++ = 0xc6;
    p = put_be(p, len, 4);
    if (len)
        memcpy(p, data, len);
    return p + len;
}

size_t txnrec_encode(const struct store_txn *txn, uint8_t *out)
{
    uint8_t *p = out;
    *p++ = 0x90 | REC_FIELDS; /* fixarray */
    *p++ = 0xd3;
    p = put_be(p, (uint64_t)txn->zxid, 8);
    *p++ = 0xd3;
    p = put_be(p, (uint64_t)txn->time_ms, 8);
    *p++ = 0xd3;
    p = put_be(p, (uint64_t)txn->session_id, 8);
    *p++ = 0xd2;
    p = put_be(p, (uint32_t)txn->cxid, 4);
    *p++ = 0xd2;
    p = put_be(p, (uint32_t)txn->type, 4);
    p = put_bin(p, txn->body, txn->body_len);
    p = put_bin(p, txn->auth, txn->auth_len);
    ZK_ASSERT((size_t)(p - out) == txnrec_size(txn));
    return (size_t)(p - out);
}

struct cursor {
    const uint8_t *p;
    size_t left;
    int err;
};

static const uint8_t *take(struct cursor *c, size_t n)
{
    if (c->err || c->left < n) {
        c->err = 1;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

static uint64_t take_int(struct cursor *c, uint8_t tag, int bytes)
{
    const uint8_t *p = take(c, 1 + (size_t)bytes);
    if (!p || p[0] != tag) {
        c->err = 1;
        return 0;
    }
    return get_be(p + 1, bytes);
}

static const uint8_t *take_bin(struct cursor *c, uint32_t *len)
{
    const uint8_t *h = take(c, BIN_HEAD);
    if (!h || h[0] != 0xc6) {
        c->err = 1;
        return NULL;
    }
    *len = (uint32_t)get_be(h + 1, 4);
    return take(c, *len);
}

int txnrec_decode(const uint8_t *rec, size_t len, struct store_txn *txn)
{
    struct cursor c = {rec, len, 0};
    const uint8_t *head = take(&c, 1);
    if (!head || *head != (0x90 | REC_FIELDS))
        return -1;
    txn->zxid = (int64_t)take_int(&c, 0xd3, 8);
    txn->time_ms = (int64_t)take_int(&c, 0xd3, 8);
    txn->session_id = (int64_t)take_int(&c, 0xd3, 8);
    txn->cxid = (int32_t)(uint32_t)take_int(&c, 0xd2, 4);
    txn->type = (int32_t)(uint32_t)take_int(&c, 0xd2, 4);
    txn->body = take_bin(&c, &txn->body_len);
    txn->auth = take_bin(&c, &txn->auth_len);
    if (c.err || c.left != 0)
        return -1;
    if (txn->auth_len == 0)
        txn->auth = NULL;
    return 0;
}
