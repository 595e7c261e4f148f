/* msgpack codec for Zab messages, log entries and epoch files: msgpack-c packs into a caller buffer
 * (no allocation); a small strict reader decodes, so hostile bytes can only produce an error. */
#include <msgpack.h>
#include <string.h>

#include "common/assert.h"
#include "consensus/zab.h"
#include "consensus/zab_msg.h"

#define MSG_FIELDS 12 /* wire layout version 1: a 12-element array, see pack_msg() */

static const char *const type_names[] = {
    "?",        "VOTE",      "FOLLOWERINFO", "LEADERINFO", "ACKEPOCH", "DIFF",
    "TRUNC",    "SNAP",      "PROPOSAL",     "NEWLEADER",  "ACKNL",    "UPTODATE",
    "ACK",      "COMMIT",    "PING",         "REQUEST",    "APP",
};
_Static_assert(sizeof(type_names) / sizeof(type_names[0]) == ZAB_MSG_TYPE_MAX + 1, "names");

const char *zab_msg_type_name(uint8_t type)
{
    return type <= ZAB_MSG_TYPE_MAX ? type_names[type] : "?";
}

/* ---- Writing: msgpack-c packer over a fixed buffer. ---- */

struct fixed_buf {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool overflow;
};

static int fixed_write(void *data, const char *src, size_t n)
{
    struct fixed_buf *fb = data;
    if (fb->overflow || n > fb->cap - fb->len) {
        fb->overflow = true; /* keep packing quietly; the caller sees ZAB_ETOOBIG */
        return 0;
    }
    memcpy(fb->buf + fb->len, src, n);
    fb->len += n;
    return 0;
}

static void pack_bin(msgpack_packer *pk, struct zab_buf b)
{
    ZK_ASSERT(b.len <= UINT32_MAX);
    msgpack_pack_bin(pk, b.len);
    if (b.len > 0) {
        msgpack_pack_bin_body(pk, b.data, b.len);
    }
}

static void pack_msg(msgpack_packer *pk, const struct zab_msg *m)
{
    msgpack_pack_array(pk, MSG_FIELDS);
    msgpack_pack_uint8(pk, m->type);
    msgpack_pack_uint8(pk, m->flags);
    msgpack_pack_uint8(pk, m->state);
    msgpack_pack_uint8(pk, m->tag);
    msgpack_pack_uint32(pk, m->leader);
    msgpack_pack_uint32(pk, m->epoch);
    msgpack_pack_uint32(pk, m->epoch2);
    msgpack_pack_uint64(pk, m->zxid);
    msgpack_pack_uint64(pk, m->zxid2);
    msgpack_pack_uint64(pk, m->nonce);
    pack_bin(pk, m->data);
    msgpack_pack_uint8(pk, 1); /* layout version, last so a reader can reject unknown ones */
}

size_t zab_msg_encoded_max(const struct zab_msg *m)
{
    /* array header 5 + 4 small ints * 2 + 3 u32 * 5 + 3 u64 * 9 + bin header 5 + version 1 */
    return 5 + 8 + 15 + 27 + 5 + m->data.len + 1;
}

int zab_msg_encode(const struct zab_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
    ZK_ASSERT(m->type >= ZAB_MSG_VOTE && m->type <= ZAB_MSG_TYPE_MAX);
    struct fixed_buf fb = {.buf = buf, .cap = cap};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixed_write);
    pack_msg(&pk, m);
    if (fb.overflow) {
        return ZAB_ETOOBIG;
    }
    ZK_ASSERT(fb.len <= zab_msg_encoded_max(m));
    *len = fb.len;
    return 0;
}

/* ---- Reading: a strict subset reader (arrays, unsigned ints, bin) that never reads past len. ---- */

struct reader {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static uint64_t read_be(struct reader *r, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | r->p[i];
    }
    r->p += n;
    r->left -= n;
    return v;
}

static uint64_t read_uint(struct reader *r, uint64_t max)
{
    uint8_t tag = (uint8_t)read_be(r, 1);
    uint64_t v = 0;
    if (tag <= 0x7f) {
        v = tag;
    } else if (tag >= 0xcc && tag <= 0xcf) {
        v = read_be(r, (size_t)1 << (tag - 0xcc));
    } else {
        r->bad = true;
    }
    if (v > max) {
        r->bad = true;
    }
    return r->bad ? 0 : v;
}

static size_t read_array(struct reader *r)
{
    uint8_t tag = (uint8_t)read_be(r, 1);
    if ((tag & 0xf0) == 0x90) {
        return tag & 0x0f;
    }
    if (tag == 0xdc) {
        return (size_t)read_be(r, 2);
    }
    if (tag == 0xdd) {
        return (size_t)read_be(r, 4);
    }
    r->bad = true;
    return 0;
}

static struct zab_buf read_bin(struct reader *r)
{
    struct zab_buf b = {NULL, 0};
    uint8_t tag = (uint8_t)read_be(r, 1);
    if (tag < 0xc4 || tag > 0xc6) {
        r->bad = true;
        return b;
    }
    size_t n = (size_t)read_be(r, (size_t)1 << (tag - 0xc4));
    if (r->bad || n > r->left) {
        r->bad = true;
        return b;
    }
    b.data = n > 0 ? r->p : NULL;
    b.len = n;
    r->p += n;
    r->left -= n;
    return b;
}

int zab_msg_decode(const uint8_t *buf, size_t len, struct zab_msg *m)
{
    struct reader r = {.p = buf, .left = len};
    memset(m, 0, sizeof(*m));
    if (read_array(&r) != MSG_FIELDS) {
        return ZAB_EMALFORMED;
    }
    m->type = (uint8_t)read_uint(&r, ZAB_MSG_TYPE_MAX);
    m->flags = (uint8_t)read_uint(&r, UINT8_MAX);
    m->state = (uint8_t)read_uint(&r, UINT8_MAX);
    m->tag = (uint8_t)read_uint(&r, UINT8_MAX);
    m->leader = (uint32_t)read_uint(&r, UINT32_MAX);
    m->epoch = (uint32_t)read_uint(&r, UINT32_MAX);
    m->epoch2 = (uint32_t)read_uint(&r, UINT32_MAX);
    m->zxid = read_uint(&r, UINT64_MAX);
    m->zxid2 = read_uint(&r, UINT64_MAX);
    m->nonce = read_uint(&r, UINT64_MAX);
    m->data = read_bin(&r);
    uint64_t version = read_uint(&r, UINT8_MAX);
    if (r.bad || r.left != 0 || version != 1 || m->type < ZAB_MSG_VOTE) {
        memset(m, 0, sizeof(*m));
        return ZAB_EMALFORMED;
    }
    return 0;
}

/* ---- Persistent records. ---- */

int zab_entry_encode(const struct zab_entry *e, uint8_t *buf, size_t cap, size_t *len)
{
    struct fixed_buf fb = {.buf = buf, .cap = cap};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixed_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, e->zxid);
    pack_bin(&pk, e->payload);
    if (fb.overflow) {
        return ZAB_ETOOBIG;
    }
    *len = fb.len;
    return 0;
}

int zab_entry_decode(const uint8_t *buf, size_t len, struct zab_entry *e)
{
    struct reader r = {.p = buf, .left = len};
    memset(e, 0, sizeof(*e));
    if (read_array(&r) != 2) {
        return ZAB_EMALFORMED;
    }
    e->zxid = read_uint(&r, UINT64_MAX);
    e->payload = read_bin(&r);
    if (r.bad || r.left != 0) {
        memset(e, 0, sizeof(*e));
        return ZAB_EMALFORMED;
    }
    return 0;
}

int zab_epochs_encode(const struct zab_epochs *e, uint8_t *buf, size_t cap, size_t *len)
{
    ZK_ASSERT(e->current_epoch <= e->accepted_epoch);
    struct fixed_buf fb = {.buf = buf, .cap = cap};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixed_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint32(&pk, e->accepted_epoch);
    msgpack_pack_uint32(&pk, e->current_epoch);
    if (fb.overflow) {
        return ZAB_ETOOBIG;
    }
    *len = fb.len;
    return 0;
}

int zab_epochs_decode(const uint8_t *buf, size_t len, struct zab_epochs *e)
{
    struct reader r = {.p = buf, .left = len};
    memset(e, 0, sizeof(*e));
    if (read_array(&r) != 2) {
        return ZAB_EMALFORMED;
    }
    e->accepted_epoch = (uint32_t)read_uint(&r, UINT32_MAX);
    e->current_epoch = (uint32_t)read_uint(&r, UINT32_MAX);
    /* acceptedEpoch >= currentEpoch is Zab's load invariant: refuse anything else */
    if (r.bad || r.left != 0 || e->current_epoch > e->accepted_epoch) {
        memset(e, 0, sizeof(*e));
        return ZAB_EMALFORMED;
    }
    return 0;
}
