/* Unit tests for the log record codec (src/store/txnrec.{h,c}). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/zkproto.h"
#include "store/txnrec.h"

/* Fixed part: fixarray(1) + 3 x int64(9) + 2 x int32(5) + 2 x bin32 header(5). */
#define FIXED_BYTES 48

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s; }
static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Body bytes that never contain msgpack tag values used in the layout, so shifting a length
 * field can never land on a byte that looks like a valid next header by accident. */
static void fill_body(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((seed + i * 7) % 0x60 + 0x01);
}

static struct store_txn make_txn(const uint8_t *body, uint32_t body_len, const uint8_t *auth,
                                 uint32_t auth_len)
{
    struct store_txn t = {
        .zxid = 0x0000000500000007LL,
        .time_ms = 1700000000123LL,
        .session_id = 0x1000a2b3c4d0000LL,
        .cxid = 42,
        .type = ZOP_CREATE,
        .body = body,
        .body_len = body_len,
        .auth = auth,
        .auth_len = auth_len,
    };
    return t;
}

static uint8_t *encode(const struct store_txn *t, size_t *len)
{
    size_t n = txnrec_size(t);
    uint8_t *buf = malloc(n + 16);
    memset(buf, 0xEE, n + 16); /* canary after the record */
    size_t w = txnrec_encode(t, buf);
    cr_assert_eq(w, n, "encode wrote %zu bytes, txnrec_size said %zu", w, n);
    for (size_t i = n; i < n + 16; i++)
        cr_assert_eq(buf[i], 0xEE, "encode wrote past txnrec_size at byte %zu", i);
    *len = n;
    return buf;
}

static void assert_txn_eq(const struct store_txn *got, const struct store_txn *want)
{
    cr_assert_eq(got->zxid, want->zxid);
    cr_assert_eq(got->time_ms, want->time_ms);
    cr_assert_eq(got->session_id, want->session_id);
    cr_assert_eq(got->cxid, want->cxid);
    cr_assert_eq(got->type, want->type);
    cr_assert_eq(got->body_len, want->body_len);
    cr_assert_eq(got->auth_len, want->auth_len);
    if (want->body_len)
        cr_assert_eq(memcmp(got->body, want->body, want->body_len), 0);
    if (want->auth_len)
        cr_assert_eq(memcmp(got->auth, want->auth, want->auth_len), 0);
    else
        cr_assert_null(got->auth, "empty auth decodes as NULL");
}

Test(txnrec, size_formula)
{
    struct store_txn t = make_txn(NULL, 0, NULL, 0);
    cr_assert_eq(txnrec_size(&t), FIXED_BYTES);
    t.body_len = 10;
    t.auth_len = 3;
    cr_assert_eq(txnrec_size(&t), FIXED_BYTES + 13);
}

Test(txnrec, exact_layout)
{
    const uint8_t body[] = {0xAA, 0xBB};
    const uint8_t auth[] = {0xCC};
    struct store_txn t = {
        .zxid = 0x0102030405060708LL,
        .time_ms = -2,
        .session_id = 0x1122334455667788LL,
        .cxid = -1,
        .type = ZOP_CLOSESESSION,
        .body = body,
        .body_len = 2,
        .auth = auth,
        .auth_len = 1,
    };
    const uint8_t want[] = {
        0x97,                                                 /* fixarray of 7 */
        0xd3, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* zxid */
        0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, /* time_ms */
        0xd3, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* session_id */
        0xd2, 0xff, 0xff, 0xff, 0xff,                         /* cxid */
        0xd2, 0xff, 0xff, 0xff, 0xf5,                         /* type -11 */
        0xc6, 0x00, 0x00, 0x00, 0x02, 0xAA, 0xBB,             /* body */
        0xc6, 0x00, 0x00, 0x00, 0x01, 0xCC,                   /* auth */
    };
    size_t len;
    uint8_t *rec = encode(&t, &len);
    cr_assert_eq(len, sizeof want);
    cr_assert_arr_eq(rec, want, sizeof want);
    free(rec);
}

Test(txnrec, round_trip_several_sizes)
{
    static const uint32_t sizes[] = {0, 1, 2, 15, 16, 255, 256, 4095, 65536, 1048576};
    size_t ns = sizeof sizes / sizeof sizes[0];
    uint8_t *body = malloc(1048576);
    uint8_t *auth = malloc(1048576);
    fill_body(body, 1048576, 3);
    fill_body(auth, 1048576, 11);
    for (size_t i = 0; i < ns; i++) {
        for (size_t j = 0; j < ns; j += 3) {
            struct store_txn t = make_txn(sizes[i] ? body : NULL, sizes[i],
                                          sizes[j] ? auth : NULL, sizes[j]);
            size_t len;
            uint8_t *rec = encode(&t, &len);
            cr_assert_eq(len, FIXED_BYTES + (size_t)sizes[i] + sizes[j]);
            struct store_txn got;
            memset(&got, 0x77, sizeof got);
            cr_assert_eq(txnrec_decode(rec, len, &got), 0, "body %u auth %u", sizes[i],
                         sizes[j]);
            assert_txn_eq(&got, &t);
            /* zero-copy: body/auth point into the record */
            if (sizes[i])
                cr_assert(got.body >= rec && got.body + got.body_len <= rec + len);
            if (sizes[j])
                cr_assert(got.auth >= rec && got.auth + got.auth_len <= rec + len);
            free(rec);
        }
    }
    free(body);
    free(auth);
}

Test(txnrec, round_trip_extreme_integers)
{
    static const int64_t longs[] = {0, 1, -1, INT64_MIN, INT64_MAX, 0x100000000LL};
    static const int32_t ints[] = {0, 1, -1, INT32_MIN, INT32_MAX, ZOP_CREATESESSION};
    for (size_t i = 0; i < 6; i++) {
        struct store_txn t = {
            .zxid = longs[i],
            .time_ms = longs[(i + 1) % 6],
            .session_id = longs[(i + 2) % 6],
            .cxid = ints[i],
            .type = ints[(i + 3) % 6],
        };
        size_t len;
        uint8_t *rec = encode(&t, &len);
        struct store_txn got;
        cr_assert_eq(txnrec_decode(rec, len, &got), 0);
        assert_txn_eq(&got, &t);
        free(rec);
    }
}

Test(txnrec, decode_rejects_every_truncation)
{
    uint8_t body[40], auth[9];
    fill_body(body, sizeof body, 1);
    fill_body(auth, sizeof auth, 2);
    struct store_txn t = make_txn(body, sizeof body, auth, sizeof auth);
    size_t len;
    uint8_t *rec = encode(&t, &len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact-size heap copy: ASan sees overreads */
        memcpy(copy, rec, cut);
        struct store_txn got;
        cr_assert_eq(txnrec_decode(copy, cut, &got), -1, "prefix of %zu/%zu bytes accepted",
                     cut, len);
        free(copy);
    }
    free(rec);
}

Test(txnrec, decode_rejects_trailing_garbage)
{
    uint8_t body[5] = {1, 2, 3, 4, 5};
    struct store_txn t = make_txn(body, sizeof body, NULL, 0);
    size_t len;
    uint8_t *rec = encode(&t, &len);
    for (size_t extra = 1; extra <= 16; extra++) {
        uint8_t *big = malloc(len + extra);
        memcpy(big, rec, len);
        memset(big + len, 0, extra);
        struct store_txn got;
        cr_assert_eq(txnrec_decode(big, len + extra, &got), -1, "%zu trailing bytes", extra);
        free(big);
    }
    struct store_txn got;
    cr_assert_eq(txnrec_decode(rec, len, &got), 0);
    free(rec);
}

/* Every byte that carries structure: the array header, the five integer tags, the two bin
 * tags and the two 4-byte bin lengths. Any change to one of them must be rejected. */
static void header_offsets(uint32_t body_len, size_t *offs, size_t *n)
{
    size_t k = 0;
    offs[k++] = 0;
    offs[k++] = 1;
    offs[k++] = 10;
    offs[k++] = 19;
    offs[k++] = 28;
    offs[k++] = 33;
    for (size_t i = 38; i < 43; i++) /* body bin tag + length */
        offs[k++] = i;
    for (size_t i = 43 + body_len; i < 48 + body_len; i++) /* auth bin tag + length */
        offs[k++] = i;
    *n = k;
}

Test(txnrec, decode_rejects_any_single_byte_change_of_header_bytes)
{
    uint8_t body[23], auth[6];
    fill_body(body, sizeof body, 5);
    fill_body(auth, sizeof auth, 9);
    struct store_txn t = make_txn(body, sizeof body, auth, sizeof auth);
    size_t len;
    uint8_t *rec = encode(&t, &len);
    size_t offs[32], n;
    header_offsets(sizeof body, offs, &n);
    cr_assert_eq(n, 16);
    for (size_t k = 0; k < n; k++) {
        for (int v = 0; v < 256; v++) {
            if (v == rec[offs[k]])
                continue;
            uint8_t *copy = malloc(len);
            memcpy(copy, rec, len);
            copy[offs[k]] = (uint8_t)v;
            struct store_txn got;
            cr_assert_eq(txnrec_decode(copy, len, &got), -1,
                         "byte %zu changed 0x%02x -> 0x%02x was accepted", offs[k], rec[offs[k]],
                         v);
            free(copy);
        }
    }
    free(rec);
}

Test(txnrec, decode_rejects_random_header_corruption)
{
    rng_seed(0x5EED1234);
    uint8_t body[64], auth[17];
    fill_body(body, sizeof body, 7);
    fill_body(auth, sizeof auth, 8);
    struct store_txn t = make_txn(body, sizeof body, auth, sizeof auth);
    size_t len;
    uint8_t *rec = encode(&t, &len);
    size_t offs[32], n;
    header_offsets(sizeof body, offs, &n);
    for (int iter = 0; iter < 5000; iter++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, rec, len);
        int changed = 0;
        int flips = 1 + (int)(rng_next() % 4);
        for (int f = 0; f < flips; f++) {
            size_t off = offs[rng_next() % n];
            copy[off] ^= (uint8_t)(1 + rng_next() % 255);
        }
        changed = memcmp(copy, rec, len) != 0;
        struct store_txn got;
        if (changed)
            cr_assert_eq(txnrec_decode(copy, len, &got), -1, "iteration %d accepted", iter);
        free(copy);
    }
    free(rec);
}

Test(txnrec, decode_empty_and_tiny_inputs)
{
    struct store_txn got;
    cr_assert_eq(txnrec_decode(NULL, 0, &got), -1);
    const uint8_t one[] = {0x97};
    cr_assert_eq(txnrec_decode(one, 1, &got), -1);
    const uint8_t wrong_array[] = {0x96};
    cr_assert_eq(txnrec_decode(wrong_array, 1, &got), -1);
}

Test(txnrec, decode_rejects_bin_length_beyond_record)
{
    struct store_txn t = make_txn(NULL, 0, NULL, 0);
    size_t len;
    uint8_t *rec = encode(&t, &len);
    /* body length 0xffffffff: must not wrap around or read past the end */
    rec[39] = rec[40] = rec[41] = rec[42] = 0xff;
    struct store_txn got;
    cr_assert_eq(txnrec_decode(rec, len, &got), -1);
    free(rec);
}

Test(txnrec, decode_random_buffers_never_crash)
{
    rng_seed(0xDECAF);
    uint8_t tmpl_body[32];
    fill_body(tmpl_body, sizeof tmpl_body, 4);
    struct store_txn t = make_txn(tmpl_body, sizeof tmpl_body, NULL, 0);
    size_t tlen;
    uint8_t *tmpl = encode(&t, &tlen);
    int accepted = 0;
    for (int iter = 0; iter < 10000; iter++) {
        size_t len = iter % 10 == 0 ? tlen : rng_next() % 200;
        uint8_t *buf = malloc(len ? len : 1);
        if (iter % 2 == 0 && len > 0) {
            /* start from a valid record so decoding gets past the first tags */
            for (size_t i = 0; i < len; i++)
                buf[i] = i < tlen ? tmpl[i] : (uint8_t)rng_next();
            size_t flips = rng_next() % 4;
            for (size_t f = 0; f < flips; f++)
                buf[rng_next() % len] = (uint8_t)rng_next();
        } else {
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rng_next();
        }
        struct store_txn got;
        int rc = txnrec_decode(buf, len, &got);
        cr_assert(rc == 0 || rc == -1);
        if (rc == 0) {
            accepted++;
            /* anything accepted must re-encode to exactly the same bytes */
            cr_assert_eq(txnrec_size(&got), len);
            uint8_t *re = malloc(len);
            txnrec_encode(&got, re);
            cr_assert_eq(memcmp(re, buf, len), 0, "iteration %d: accepted non-canonical", iter);
            free(re);
        }
        free(buf);
    }
    cr_assert_gt(accepted, 0, "the corpus should include some valid records");
    free(tmpl);
}
