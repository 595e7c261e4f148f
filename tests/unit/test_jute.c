/* Unit tests for the jute reader/writer (src/proto/jute.{h,c}) and the shared ZooKeeper records
 * (src/proto/zkproto.{h,c}). Byte expectations come from ZooKeeper's jute definitions (zookeeper.jute). */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "proto/jute.h"
#include "proto/zkproto.h"

/* ---- helpers ---- */

/* Parse a hex string (spaces ignored) into out; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            cr_assert_lt(n, cap, "hex literal too long for buffer");
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    cr_assert_eq(hi, -1, "odd number of hex digits in '%s'", hex);
    return n;
}

static void assert_bytes_hex(const struct jute_writer *jw, const char *hex)
{
    uint8_t want[512];
    size_t n = unhex(hex, want, sizeof want);
    cr_assert_eq(jw->err, 0);
    cr_assert_eq(jw->len, n, "writer holds %zu bytes, expected %zu", jw->len, n);
    cr_assert_arr_eq(jw->data, want, n, "bytes differ from %s", hex);
}

/* Deterministic xorshift64* PRNG so failures reproduce. */
static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s ? s : 0x9E3779B97F4A7C15ULL; }
static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void reset_alloc(void) { zk_fail_after(-1); }

TestSuite(jute, .fini = reset_alloc);

/* ---- primitive encodings ---- */

Test(jute, int_encoding_is_big_endian)
{
    struct jute_writer jw;
    jw_init(&jw);
    jw_int(&jw, 0x01020304);
    jw_int(&jw, -1);
    jw_int(&jw, -101);
    jw_int(&jw, INT32_MIN);
    jw_int(&jw, INT32_MAX);
    jw_int(&jw, 0);
    assert_bytes_hex(&jw, "01020304 ffffffff ffffff9b 80000000 7fffffff 00000000");
    jw_free(&jw);
}

Test(jute, long_encoding_is_big_endian)
{
    struct jute_writer jw;
    jw_init(&jw);
    jw_long(&jw, 0x0102030405060708LL);
    jw_long(&jw, -1);
    jw_long(&jw, INT64_MIN);
    jw_long(&jw, INT64_MAX);
    jw_long(&jw, 0x100000005LL);
    jw_long(&jw, -2);
    assert_bytes_hex(&jw, "0102030405060708 ffffffffffffffff 8000000000000000 7fffffffffffffff "
                          "0000000100000005 fffffffffffffffe");
    jw_free(&jw);
}

Test(jute, bool_encoding)
{
    struct jute_writer jw;
    jw_init(&jw);
    jw_bool(&jw, true);
    jw_bool(&jw, false);
    assert_bytes_hex(&jw, "01 00");
    jw_free(&jw);
}

Test(jute, bytes_and_string_encoding)
{
    struct jute_writer jw;
    jw_init(&jw);
    jw_string(&jw, "/a");
    jw_string(&jw, "");
    jw_string(&jw, NULL); /* NULL is written as "" */
    jw_bytes(&jw, NULL, -1);
    jw_bytes(&jw, "hi", 2);
    jw_bytes(&jw, "xyz", 0);
    assert_bytes_hex(&jw, "00000002 2f61 00000000 00000000 ffffffff 00000002 6869 00000000");
    jw_free(&jw);
}

Test(jute, int_round_trip_including_negatives)
{
    static const int32_t vals[] = {0, 1, -1, 2, -2, 127, 128, -128, -129, 255, 256, 65535, 65536,
                                   -65536, 0x7fffffff, INT32_MIN, INT32_MIN + 1, -101, 30000};
    size_t n = sizeof vals / sizeof vals[0];
    struct jute_writer jw;
    jw_init(&jw);
    for (size_t i = 0; i < n; i++)
        jw_int(&jw, vals[i]);
    cr_assert_eq(jw.len, 4 * n);
    struct jute_reader jr;
    jr_init(&jr, jw.data, jw.len);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(jr_int(&jr), vals[i], "value %zu", i);
    cr_assert(jr_ok(&jr));
    cr_assert_eq(jr_remaining(&jr), 0);
    jw_free(&jw);
}

Test(jute, long_round_trip_including_negatives)
{
    static const int64_t vals[] = {0, 1, -1, INT64_MAX, INT64_MIN, INT64_MIN + 1,
                                   0x00000000ffffffffLL, 0x0000000100000000LL, -0x100000000LL,
                                   0x1000a2b3c4d0000LL, -4294967297LL, 0x7fffffff80000000LL,
                                   (int64_t)0x8000000080000000ULL};
    size_t n = sizeof vals / sizeof vals[0];
    struct jute_writer jw;
    jw_init(&jw);
    for (size_t i = 0; i < n; i++)
        jw_long(&jw, vals[i]);
    cr_assert_eq(jw.len, 8 * n);
    struct jute_reader jr;
    jr_init(&jr, jw.data, jw.len);
    for (size_t i = 0; i < n; i++) {
        int64_t got = jr_long(&jr);
        cr_assert_eq(got, vals[i], "value %zu: got %lld want %lld", i, (long long)got,
                     (long long)vals[i]);
    }
    cr_assert(jr_ok(&jr));
    cr_assert_eq(jr_remaining(&jr), 0);
    jw_free(&jw);
}

Test(jute, bool_round_trip_and_nonzero_is_true)
{
    const uint8_t raw[] = {0, 1, 2, 0xff};
    struct jute_reader jr;
    jr_init(&jr, raw, sizeof raw);
    cr_assert_eq(jr_bool(&jr), false);
    cr_assert_eq(jr_bool(&jr), true);
    cr_assert_eq(jr_bool(&jr), true);
    cr_assert_eq(jr_bool(&jr), true);
    cr_assert(jr_ok(&jr));
    cr_assert_eq(jr_remaining(&jr), 0);
    cr_assert_eq(jr_bool(&jr), false);
    cr_assert_not(jr_ok(&jr));
}

Test(jute, bytes_round_trip_sizes_and_null)
{
    static const int32_t sizes[] = {0, 1, 2, 3, 255, 256, 1000, 4096, 70000};
    size_t n = sizeof sizes / sizeof sizes[0];
    uint8_t *src = malloc(70000);
    for (int i = 0; i < 70000; i++)
        src[i] = (uint8_t)(i * 31 + 7);
    struct jute_writer jw;
    jw_init(&jw);
    for (size_t i = 0; i < n; i++) {
        jw_bytes(&jw, src, sizes[i]);
        jw_bytes(&jw, NULL, -1);
    }
    jw_string(&jw, "hello, world");
    cr_assert_eq(jw.err, 0);
    struct jute_reader jr;
    jr_init(&jr, jw.data, jw.len);
    for (size_t i = 0; i < n; i++) {
        struct jute_bytes b = jr_bytes(&jr);
        cr_assert(jr_ok(&jr));
        cr_assert_eq(b.len, sizes[i]);
        cr_assert_not_null(b.ptr);
        cr_assert_eq(memcmp(b.ptr, src, (size_t)sizes[i]), 0, "size %d contents", sizes[i]);
        /* zero-copy: the pointer lies inside the frame */
        cr_assert(b.ptr >= jw.data && b.ptr + b.len <= jw.data + jw.len);
        struct jute_bytes nb = jr_bytes(&jr);
        cr_assert(jr_ok(&jr));
        cr_assert_eq(nb.len, -1);
        cr_assert_null(nb.ptr);
    }
    struct jute_bytes s = jr_bytes(&jr);
    cr_assert_eq(s.len, 12);
    cr_assert_eq(memcmp(s.ptr, "hello, world", 12), 0);
    cr_assert(jr_ok(&jr));
    cr_assert_eq(jr_remaining(&jr), 0);
    jw_free(&jw);
    free(src);
}

Test(jute, mixed_record_round_trip)
{
    struct jute_writer jw;
    jw_init(&jw);
    jw_int(&jw, -7);
    jw_long(&jw, -123456789012345LL);
    jw_bool(&jw, true);
    jw_string(&jw, "/zoo/keeper");
    jw_bytes(&jw, NULL, -1);
    jw_raw(&jw, "\x01\x02\x03", 3);
    jw_int(&jw, 42);
    struct jute_reader jr;
    jr_init(&jr, jw.data, jw.len);
    cr_assert_eq(jr_int(&jr), -7);
    cr_assert_eq(jr_long(&jr), -123456789012345LL);
    cr_assert_eq(jr_bool(&jr), true);
    struct jute_bytes p = jr_bytes(&jr);
    cr_assert_eq(p.len, 11);
    cr_assert_eq(memcmp(p.ptr, "/zoo/keeper", 11), 0);
    cr_assert_eq(jr_bytes(&jr).len, -1);
    cr_assert_eq(jr_remaining(&jr), 7);
    cr_assert_eq(jr_int(&jr), 0x01020300);
    cr_assert_eq(jr_remaining(&jr), 3);
    cr_assert_eq(jr_bool(&jr), false); /* 0x00 of 42's first byte */
    cr_assert(jr_ok(&jr));
    jw_free(&jw);
}

/* ---- vectors ---- */

Test(jute, vector_of_strings_round_trip)
{
    static const char *const items[] = {"a", "", "bb", "/x/y/z"};
    struct jute_writer jw;
    jw_init(&jw);
    jw_int(&jw, 4);
    for (int i = 0; i < 4; i++)
        jw_string(&jw, items[i]);
    struct jute_reader jr;
    jr_init(&jr, jw.data, jw.len);
    int32_t count = jr_vector_count(&jr, 4);
    cr_assert_eq(count, 4);
    for (int i = 0; i < count; i++) {
        struct jute_bytes b = jr_bytes(&jr);
        cr_assert_eq(b.len, (int32_t)strlen(items[i]));
        cr_assert_eq(memcmp(b.ptr, items[i], (size_t)b.len), 0);
    }
    cr_assert(jr_ok(&jr));
    cr_assert_eq(jr_remaining(&jr), 0);
    jw_free(&jw);
}

Test(jute, vector_null_and_empty)
{
    const uint8_t null_vec[] = {0xff, 0xff, 0xff, 0xff};
    const uint8_t empty_vec[] = {0, 0, 0, 0};
    struct jute_reader jr;
    jr_init(&jr, null_vec, sizeof null_vec);
    cr_assert_eq(jr_vector_count(&jr, 4), 0);
    cr_assert(jr_ok(&jr));
    cr_assert_eq(jr_remaining(&jr), 0);
    jr_init(&jr, empty_vec, sizeof empty_vec);
    cr_assert_eq(jr_vector_count(&jr, 4), 0);
    cr_assert(jr_ok(&jr));
}

Test(jute, vector_count_exactly_fitting_is_accepted)
{
    /* 3 ints: count 3 with min elem 4 needs 12 bytes; exactly 12 remain */
    const uint8_t raw[] = {0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    struct jute_reader jr;
    jr_init(&jr, raw, sizeof raw);
    cr_assert_eq(jr_vector_count(&jr, 4), 3);
    cr_assert(jr_ok(&jr));
    cr_assert_eq(jr_int(&jr), 1);
    cr_assert_eq(jr_int(&jr), 2);
    cr_assert_eq(jr_int(&jr), 3);
    cr_assert(jr_ok(&jr));
    /* one more than fits */
    const uint8_t raw2[] = {0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    jr_init(&jr, raw2, sizeof raw2);
    cr_assert_eq(jr_vector_count(&jr, 4), 0);
    cr_assert_not(jr_ok(&jr));
}

Test(jute, vector_count_that_cannot_fit_sets_err_without_allocating)
{
    static const char *const counts[] = {"7fffffff", "10000000", "00000009", "00010000"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        uint8_t raw[16];
        size_t n = unhex(counts[i], raw, sizeof raw);
        memset(raw + n, 0, sizeof raw - n); /* 12 bytes of payload follow */
        struct jute_reader jr;
        jr_init(&jr, raw, sizeof raw);
        zk_fail_after(0); /* any allocation would now fail; the reader must not try */
        int32_t c = jr_vector_count(&jr, 4);
        zk_fail_after(-1);
        cr_assert_eq(c, 0, "count %s", counts[i]);
        cr_assert_not(jr_ok(&jr), "count %s must set err", counts[i]);
        cr_assert_eq(jr_remaining(&jr), 0);
    }
    /* min_elem_size 0 is treated as 1 byte per element */
    const uint8_t raw[] = {0, 0, 0, 5, 1, 2, 3, 4};
    struct jute_reader jr;
    jr_init(&jr, raw, sizeof raw);
    cr_assert_eq(jr_vector_count(&jr, 0), 0);
    cr_assert_not(jr_ok(&jr));
    jr_init(&jr, raw, sizeof raw);
    cr_assert_eq(jr_vector_count(&jr, 1), 0);
    cr_assert_not(jr_ok(&jr));
    const uint8_t raw4[] = {0, 0, 0, 4, 1, 2, 3, 4};
    jr_init(&jr, raw4, sizeof raw4);
    cr_assert_eq(jr_vector_count(&jr, 0), 4);
    cr_assert(jr_ok(&jr));
}

Test(jute, vector_negative_count_below_minus_one_is_error)
{
    static const int32_t bad[] = {-2, -3, -100, INT32_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct jute_writer jw;
        jw_init(&jw);
        jw_int(&jw, bad[i]);
        jw_int(&jw, 0);
        struct jute_reader jr;
        jr_init(&jr, jw.data, jw.len);
        cr_assert_eq(jr_vector_count(&jr, 4), 0);
        cr_assert_not(jr_ok(&jr), "count %d", bad[i]);
        jw_free(&jw);
    }
}

Test(jute, vector_count_on_truncated_header)
{
    const uint8_t raw[] = {0, 0, 0};
    struct jute_reader jr;
    jr_init(&jr, raw, sizeof raw);
    cr_assert_eq(jr_vector_count(&jr, 4), 0);
    cr_assert_not(jr_ok(&jr));
}

/* ---- reader errors ---- */

Test(jute, negative_lengths_below_minus_one_are_errors)
{
    static const int32_t bad[] = {-2, -5, -1000, INT32_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct jute_writer jw;
        jw_init(&jw);
        jw_int(&jw, bad[i]);
        jw_raw(&jw, "abcdefgh", 8);
        struct jute_reader jr;
        jr_init(&jr, jw.data, jw.len);
        struct jute_bytes b = jr_bytes(&jr);
        cr_assert_not(jr_ok(&jr), "length %d must set err", bad[i]);
        cr_assert_null(b.ptr);
        cr_assert_eq(b.len, -1);
        cr_assert_eq(jr_remaining(&jr), 0);
        jw_free(&jw);
    }
}

Test(jute, length_longer_than_frame_is_error)
{
    const uint8_t raw[] = {0, 0, 0, 5, 'a', 'b', 'c', 'd'};
    struct jute_reader jr;
    jr_init(&jr, raw, sizeof raw);
    struct jute_bytes b = jr_bytes(&jr);
    cr_assert_not(jr_ok(&jr));
    cr_assert_null(b.ptr);
    cr_assert_eq(b.len, -1);
    /* huge positive length */
    const uint8_t raw2[] = {0x7f, 0xff, 0xff, 0xff, 'a'};
    jr_init(&jr, raw2, sizeof raw2);
    b = jr_bytes(&jr);
    cr_assert_not(jr_ok(&jr));
    cr_assert_null(b.ptr);
}

Test(jute, errors_are_sticky)
{
    const uint8_t raw[] = {0, 0, 0, 1, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 9};
    struct jute_reader jr;
    jr_init(&jr, raw, 3); /* too short for the first int */
    cr_assert_eq(jr_int(&jr), 0);
    cr_assert_not(jr_ok(&jr));
    /* the backing data is long enough now, but the error sticks */
    jr.len = sizeof raw;
    cr_assert_eq(jr_int(&jr), 0);
    cr_assert_eq(jr_long(&jr), 0);
    cr_assert_eq(jr_bool(&jr), false);
    struct jute_bytes b = jr_bytes(&jr);
    cr_assert_null(b.ptr);
    cr_assert_eq(b.len, -1);
    cr_assert_eq(jr_vector_count(&jr, 1), 0);
    cr_assert_eq(jr_remaining(&jr), 0);
    cr_assert_eq(jr.err, -1);

    /* an invalid length mid-record also sticks for later reads */
    const uint8_t raw2[] = {0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 7};
    jr_init(&jr, raw2, sizeof raw2);
    jr_bytes(&jr);
    cr_assert_not(jr_ok(&jr));
    cr_assert_eq(jr_int(&jr), 0);
    cr_assert_not(jr_ok(&jr));
}

Test(jute, reads_do_not_advance_past_end)
{
    const uint8_t raw[] = {0, 0, 0, 0, 0, 0, 0, 0x2a};
    struct jute_reader jr;
    jr_init(&jr, raw, sizeof raw);
    cr_assert_eq(jr_int(&jr), 0);
    cr_assert_eq(jr.pos, 4);
    cr_assert_eq(jr_long(&jr), 0); /* needs 8, only 4 remain */
    cr_assert_not(jr_ok(&jr));
    cr_assert_eq(jr.pos, 4);
}

Test(jute, empty_reader)
{
    struct jute_reader jr;
    jr_init(&jr, NULL, 0);
    cr_assert(jr_ok(&jr));
    cr_assert_eq(jr_remaining(&jr), 0);
    cr_assert_eq(jr_bool(&jr), false);
    cr_assert_not(jr_ok(&jr));
}

/* Encode a representative record, then decode every strict prefix: each must fail (and no
 * read may go past the prefix: ASan builds catch that since the prefix is a fresh heap copy). */
static void write_sample_record(struct jute_writer *jw)
{
    struct zk_stat st = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    jw_int(jw, 5);
    jw_long(jw, -9);
    jw_bool(jw, true);
    jw_string(jw, "/abc");
    jw_bytes(jw, NULL, -1);
    jw_bytes(jw, "data!", 5);
    jw_int(jw, 2); /* vector<ustring> */
    jw_string(jw, "x");
    jw_string(jw, "yz");
    zk_stat_write(jw, &st);
}

static int read_sample_record(const uint8_t *p, size_t len)
{
    struct jute_reader jr;
    jr_init(&jr, p, len);
    int32_t a = jr_int(&jr);
    int64_t b = jr_long(&jr);
    bool c = jr_bool(&jr);
    struct jute_bytes path = jr_bytes(&jr);
    struct jute_bytes nul = jr_bytes(&jr);
    struct jute_bytes data = jr_bytes(&jr);
    int32_t n = jr_vector_count(&jr, 4);
    for (int32_t i = 0; i < n; i++)
        jr_bytes(&jr);
    struct zk_stat st;
    zk_stat_read(&jr, &st);
    if (!jr_ok(&jr))
        return -1;
    cr_assert_eq(a, 5);
    cr_assert_eq(b, -9);
    cr_assert(c);
    cr_assert_eq(path.len, 4);
    cr_assert_eq(nul.len, -1);
    cr_assert_eq(data.len, 5);
    cr_assert_eq(n, 2);
    cr_assert_eq(st.pzxid, 11);
    return (int)jr_remaining(&jr);
}

Test(jute, truncated_input_at_every_length_fails)
{
    struct jute_writer jw;
    jw_init(&jw);
    write_sample_record(&jw);
    cr_assert_eq(jw.err, 0);
    cr_assert_eq(jw.len, 4 + 8 + 1 + 8 + 4 + 9 + 4 + 5 + 6 + 68);
    cr_assert_eq(read_sample_record(jw.data, jw.len), 0);
    for (size_t cut = 0; cut < jw.len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, jw.data, cut);
        cr_assert_eq(read_sample_record(copy, cut), -1, "prefix of %zu bytes decoded", cut);
        free(copy);
    }
    jw_free(&jw);
}

Test(jute, random_bytes_never_crash)
{
    rng_seed(0xC0FFEE);
    uint8_t buf[256];
    for (int iter = 0; iter < 10000; iter++) {
        size_t len = rng_next() % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng_next();
        /* bias some length fields to small/edge values so deeper paths get exercised */
        if (len >= 4 && (iter & 3) == 0) {
            buf[0] = buf[1] = buf[2] = 0;
            buf[3] = (uint8_t)(rng_next() % 16);
        }
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        struct jute_reader jr;
        jr_init(&jr, copy, len);
        size_t steps = 0;
        while (jr_ok(&jr) && steps++ < 64) {
            size_t before = jr.pos;
            switch (rng_next() % 6) {
            case 0: jr_int(&jr); break;
            case 1: jr_long(&jr); break;
            case 2: jr_bool(&jr); break;
            case 3: {
                struct jute_bytes b = jr_bytes(&jr);
                if (jr_ok(&jr) && b.len > 0) {
                    cr_assert(b.ptr >= copy && b.ptr + b.len <= copy + len);
                    volatile uint8_t sink = b.ptr[b.len - 1];
                    (void)sink;
                }
                break;
            }
            case 4: {
                int32_t n = jr_vector_count(&jr, 4);
                if (jr_ok(&jr))
                    cr_assert_leq((size_t)n * 4, jr_remaining(&jr));
                break;
            }
            default: {
                struct zk_stat st;
                zk_stat_read(&jr, &st);
                break;
            }
            }
            cr_assert_leq(jr.pos, len);
            if (jr_ok(&jr))
                cr_assert_geq(jr.pos, before);
        }
        free(copy);
    }
}

/* ---- writer ---- */

Test(jute, writer_grows_across_many_writes)
{
    struct jute_writer jw;
    jw_init(&jw);
    for (int32_t i = 0; i < 100000; i++)
        jw_int(&jw, i);
    cr_assert_eq(jw.err, 0);
    cr_assert_eq(jw.len, 400000);
    cr_assert_geq(jw.cap, jw.len);
    struct jute_reader jr;
    jr_init(&jr, jw.data, jw.len);
    for (int32_t i = 0; i < 100000; i++)
        cr_assert_eq(jr_int(&jr), i);
    cr_assert(jr_ok(&jr));
    /* one large raw write larger than double the capacity */
    size_t big = 3u << 20;
    uint8_t *blob = malloc(big);
    memset(blob, 0xab, big);
    jw_raw(&jw, blob, big);
    cr_assert_eq(jw.err, 0);
    cr_assert_eq(jw.len, 400000 + big);
    cr_assert_eq(jw.data[400000], 0xab);
    cr_assert_eq(jw.data[jw.len - 1], 0xab);
    free(blob);
    jw_free(&jw);
    cr_assert_null(jw.data);
    cr_assert_eq(jw.len, 0);
    cr_assert_eq(jw.cap, 0);
}

Test(jute, writer_reset_keeps_capacity)
{
    struct jute_writer jw;
    jw_init(&jw);
    jw_long(&jw, 1);
    size_t cap = jw.cap;
    uint8_t *data = jw.data;
    cr_assert_gt(cap, 0);
    jw_reset(&jw);
    cr_assert_eq(jw.len, 0);
    cr_assert_eq(jw.cap, cap);
    cr_assert_eq(jw.data, data);
    jw_int(&jw, 7);
    assert_bytes_hex(&jw, "00000007");
    jw_free(&jw);
}

Test(jute, raw_zero_length)
{
    struct jute_writer jw;
    jw_init(&jw);
    jw_raw(&jw, NULL, 0);
    cr_assert_eq(jw.len, 0);
    cr_assert_eq(jw.err, 0);
    jw_free(&jw);
}

Test(jute, put_int_at_patches_in_place)
{
    struct jute_writer jw;
    jw_init(&jw);
    jw_int(&jw, 0);
    jw_int(&jw, 0);
    jw_put_int_at(&jw, 4, -2);
    jw_put_int_at(&jw, 0, 0x11223344);
    assert_bytes_hex(&jw, "11223344 fffffffe");
    jw_free(&jw);
}

Test(jute, writer_oom_on_first_allocation_sets_err)
{
    struct jute_writer jw;
    jw_init(&jw);
    zk_fail_after(0);
    jw_int(&jw, 1);
    zk_fail_after(-1);
    cr_assert_eq(jw.err, -1);
    cr_assert_eq(jw.len, 0);
    /* later writes are dropped even though memory is back */
    jw_int(&jw, 2);
    jw_long(&jw, 3);
    jw_bool(&jw, true);
    jw_string(&jw, "x");
    jw_bytes(&jw, "ab", 2);
    jw_raw(&jw, "abc", 3);
    size_t mark = jw_begin_frame(&jw);
    jw_end_frame(&jw, mark);
    jw_put_int_at(&jw, 0, 5); /* ignored when err is set, no assert */
    cr_assert_eq(jw.err, -1);
    cr_assert_eq(jw.len, 0);
    jw_free(&jw);
}

Test(jute, writer_oom_on_growth_keeps_existing_bytes)
{
    struct jute_writer jw;
    jw_init(&jw);
    for (int i = 0; i < 64; i++) /* exactly fills the first 256-byte block */
        jw_int(&jw, i);
    cr_assert_eq(jw.len, 256);
    cr_assert_eq(jw.cap, 256);
    zk_fail_after(0);
    jw_int(&jw, 64); /* needs a realloc, which fails */
    zk_fail_after(-1);
    cr_assert_eq(jw.err, -1);
    cr_assert_eq(jw.len, 256);
    cr_assert_eq(jw.cap, 256);
    cr_assert_not_null(jw.data);
    struct jute_reader jr;
    jr_init(&jr, jw.data, jw.len);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(jr_int(&jr), i);
    /* reset clears the error, and the writer is usable again */
    jw_reset(&jw);
    cr_assert_eq(jw.err, 0);
    jw_int(&jw, 9);
    assert_bytes_hex(&jw, "00000009");
    jw_free(&jw);
}

Test(jute, writer_oom_with_countdown)
{
    /* the first allocation (256 bytes) succeeds, the growth to 512 fails on the 33rd long */
    struct jute_writer jw;
    jw_init(&jw);
    zk_fail_after(1);
    for (int i = 0; i < 200; i++)
        jw_long(&jw, i);
    zk_fail_after(-1);
    cr_assert_eq(jw.err, -1);
    cr_assert_eq(jw.len, 256);
    jw_free(&jw);
}

/* ---- frames ---- */

Test(jute, frame_length_prefix)
{
    struct jute_writer jw;
    jw_init(&jw);
    size_t mark = jw_begin_frame(&jw);
    cr_assert_eq(mark, 0);
    jw_int(&jw, -2);
    jw_int(&jw, ZOP_PING);
    jw_end_frame(&jw, mark);
    assert_bytes_hex(&jw, "00000008 fffffffe 0000000b"); /* section 16: Ping request */
    jw_free(&jw);
}

Test(jute, empty_frame_and_consecutive_frames)
{
    struct jute_writer jw;
    jw_init(&jw);
    size_t m1 = jw_begin_frame(&jw);
    jw_end_frame(&jw, m1);
    size_t m2 = jw_begin_frame(&jw);
    cr_assert_eq(m2, 4);
    jw_string(&jw, "/a");
    jw_end_frame(&jw, m2);
    size_t m3 = jw_begin_frame(&jw);
    jw_long(&jw, 1);
    jw_end_frame(&jw, m3);
    assert_bytes_hex(&jw, "00000000 00000006 00000002 2f61 00000008 0000000000000001");
    jw_free(&jw);
}

Test(jute, large_frame_length)
{
    struct jute_writer jw;
    jw_init(&jw);
    size_t mark = jw_begin_frame(&jw);
    uint8_t *blob = calloc(1, 300000);
    jw_raw(&jw, blob, 300000);
    jw_end_frame(&jw, mark);
    cr_assert_eq(jw.len, 300004);
    cr_assert_eq(be32_load(jw.data), 300000u);
    free(blob);
    jw_free(&jw);
}

Test(jute, be32_load)
{
    const uint8_t p[] = {0xde, 0xad, 0xbe, 0xef};
    cr_assert_eq(be32_load(p), 0xdeadbeefu);
}

/* ---- section 16 byte-level examples ---- */

Test(jute, ping_reply_matches_reference)
{
    struct jute_writer jw;
    jw_init(&jw);
    size_t mark = jw_begin_frame(&jw);
    zk_reply_header_write(&jw, ZXID_PING, 0x100000005LL, ZE_OK);
    jw_end_frame(&jw, mark);
    assert_bytes_hex(&jw, "00000010 fffffffe 0000000100000005 00000000");
    jw_free(&jw);
}

Test(jute, getdata_request_matches_reference)
{
    struct jute_writer jw;
    jw_init(&jw);
    size_t mark = jw_begin_frame(&jw);
    jw_int(&jw, 5);
    jw_int(&jw, ZOP_GETDATA);
    jw_string(&jw, "/a");
    jw_bool(&jw, true);
    jw_end_frame(&jw, mark);
    assert_bytes_hex(&jw, "0000000f 00000005 00000004 00000002 2f61 01");
    jw_free(&jw);
}

Test(jute, nonode_reply_matches_reference)
{
    struct jute_writer jw;
    jw_init(&jw);
    size_t mark = jw_begin_frame(&jw);
    zk_reply_header_write(&jw, 5, 0x0000000200000003LL, ZE_NONODE);
    jw_end_frame(&jw, mark);
    assert_bytes_hex(&jw, "00000010 00000005 0000000200000003 ffffff9b");
    jw_free(&jw);
}

Test(jute, getdata_ok_reply_length_is_0x5a)
{
    struct jute_writer jw;
    jw_init(&jw);
    size_t mark = jw_begin_frame(&jw);
    zk_reply_header_write(&jw, 5, 7, ZE_OK);
    jw_bytes(&jw, "hi", 2);
    struct zk_stat st = {0};
    zk_stat_write(&jw, &st);
    jw_end_frame(&jw, mark);
    cr_assert_eq(jw.err, 0);
    cr_assert_eq(jw.len, 4 + 90);
    char want[512];
    int off = snprintf(want, sizeof want, "0000005a 00000005 0000000000000007 00000000 00000002 6869 ");
    for (int i = 0; i < 68; i++)
        off += snprintf(want + off, sizeof want - (size_t)off, "00");
    assert_bytes_hex(&jw, want);
    jw_free(&jw);
}

Test(jute, watcher_event_matches_reference)
{
    struct jute_writer jw;
    jw_init(&jw);
    size_t mark = jw_begin_frame(&jw);
    zk_reply_header_write(&jw, ZXID_NOTIFICATION, -1, ZE_OK);
    jw_int(&jw, ZEV_DATA_CHANGED);
    jw_int(&jw, ZST_SYNC_CONNECTED);
    jw_string(&jw, "/a");
    jw_end_frame(&jw, mark);
    assert_bytes_hex(&jw, "0000001e ffffffff ffffffffffffffff 00000000 00000003 00000003 "
                          "00000002 2f61");
    jw_free(&jw);
}

Test(jute, close_session_request_and_reply_match_reference)
{
    struct jute_writer jw;
    jw_init(&jw);
    size_t mark = jw_begin_frame(&jw);
    jw_int(&jw, 9);
    jw_int(&jw, ZOP_CLOSESESSION);
    jw_end_frame(&jw, mark);
    mark = jw_begin_frame(&jw);
    zk_reply_header_write(&jw, 9, 0x42, ZE_OK);
    jw_end_frame(&jw, mark);
    assert_bytes_hex(&jw, "00000008 00000009 fffffff5 00000010 00000009 0000000000000042 00000000");
    jw_free(&jw);
}

Test(jute, connect_request_matches_reference)
{
    uint8_t passwd[ZK_PASSWD_LEN] = {0};
    struct jute_writer jw;
    jw_init(&jw);
    size_t mark = jw_begin_frame(&jw);
    jw_int(&jw, 0);      /* protocolVersion */
    jw_long(&jw, 0);     /* lastZxidSeen */
    jw_int(&jw, 30000);  /* timeOut */
    jw_long(&jw, 0);     /* sessionId */
    jw_bytes(&jw, passwd, ZK_PASSWD_LEN);
    jw_bool(&jw, false); /* readOnly */
    jw_end_frame(&jw, mark);
    assert_bytes_hex(&jw, "0000002d 00000000 0000000000000000 00007530 0000000000000000 00000010 "
                          "00000000000000000000000000000000 00");
    jw_free(&jw);
}

Test(jute, connect_response_matches_reference)
{
    uint8_t passwd[ZK_PASSWD_LEN];
    for (int i = 0; i < ZK_PASSWD_LEN; i++)
        passwd[i] = (uint8_t)(0xa0 + i);
    struct jute_writer jw;
    jw_init(&jw);
    size_t mark = jw_begin_frame(&jw);
    jw_int(&jw, 0);
    jw_int(&jw, 30000);
    jw_long(&jw, 0x1000a2b3c4d0000LL);
    jw_bytes(&jw, passwd, ZK_PASSWD_LEN);
    jw_bool(&jw, false);
    jw_end_frame(&jw, mark);
    assert_bytes_hex(&jw, "00000025 00000000 00007530 01000a2b3c4d0000 00000010 "
                          "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf 00");
    jw_free(&jw);
}

Test(jute, multi_terminator_matches_reference)
{
    struct jute_writer jw;
    jw_init(&jw);
    jw_int(&jw, -1);
    jw_bool(&jw, true);
    jw_int(&jw, -1);
    assert_bytes_hex(&jw, "ffffffff 01 ffffffff");
    jw_free(&jw);
}

Test(jute, error_code_hex_values)
{
    static const struct { int32_t code; const char *hex; } codes[] = {
        {ZE_NONODE, "ffffff9b"},       {ZE_NOAUTH, "ffffff9a"},  {ZE_BADVERSION, "ffffff99"},
        {ZE_NODEEXISTS, "ffffff92"},   {ZE_NOTEMPTY, "ffffff91"}, {ZE_SESSIONEXPIRED, "ffffff90"},
        {ZE_AUTHFAILED, "ffffff8d"},   {ZE_RUNTIMEINCONSISTENCY, "fffffffe"},
        {ZE_BADARGUMENTS, "fffffff8"}, {ZOP_CLOSESESSION, "fffffff5"},
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        struct jute_writer jw;
        jw_init(&jw);
        jw_int(&jw, codes[i].code);
        assert_bytes_hex(&jw, codes[i].hex);
        jw_free(&jw);
    }
}

/* ---- Stat ---- */

Test(jute, stat_is_68_bytes_in_field_order)
{
    struct zk_stat st = {
        .czxid = 0x0101010101010101LL,
        .mzxid = 0x0202020202020202LL,
        .ctime = 0x0303030303030303LL,
        .mtime = 0x0404040404040404LL,
        .version = 0x05050505,
        .cversion = 0x06060606,
        .aversion = 0x07070707,
        .ephemeral_owner = 0x0808080808080808LL,
        .data_length = 0x09090909,
        .num_children = 0x0a0a0a0a,
        .pzxid = 0x0b0b0b0b0b0b0b0bLL,
    };
    struct jute_writer jw;
    jw_init(&jw);
    zk_stat_write(&jw, &st);
    assert_bytes_hex(&jw, "0101010101010101 0202020202020202 0303030303030303 0404040404040404 "
                          "05050505 06060606 07070707 0808080808080808 09090909 0a0a0a0a "
                          "0b0b0b0b0b0b0b0b");
    cr_assert_eq(jw.len, 68);
    jw_free(&jw);
}

Test(jute, stat_round_trip_with_negatives)
{
    struct zk_stat st = {
        .czxid = 0x100000001LL,
        .mzxid = 0x100000002LL,
        .ctime = 1700000000123LL,
        .mtime = -1,
        .version = -1,
        .cversion = INT32_MIN,
        .aversion = INT32_MAX,
        .ephemeral_owner = ZK_EPHEMERAL_CONTAINER,
        .data_length = 1048575,
        .num_children = -7,
        .pzxid = INT64_MAX,
    };
    struct jute_writer jw;
    jw_init(&jw);
    zk_stat_write(&jw, &st);
    cr_assert_eq(jw.len, 68);
    struct jute_reader jr;
    jr_init(&jr, jw.data, jw.len);
    struct zk_stat got;
    memset(&got, 0x5a, sizeof got);
    zk_stat_read(&jr, &got);
    cr_assert(jr_ok(&jr));
    cr_assert_eq(jr_remaining(&jr), 0);
    cr_assert_eq(got.czxid, st.czxid);
    cr_assert_eq(got.mzxid, st.mzxid);
    cr_assert_eq(got.ctime, st.ctime);
    cr_assert_eq(got.mtime, st.mtime);
    cr_assert_eq(got.version, st.version);
    cr_assert_eq(got.cversion, st.cversion);
    cr_assert_eq(got.aversion, st.aversion);
    cr_assert_eq(got.ephemeral_owner, st.ephemeral_owner);
    cr_assert_eq(got.data_length, st.data_length);
    cr_assert_eq(got.num_children, st.num_children);
    cr_assert_eq(got.pzxid, st.pzxid);
    jw_free(&jw);
}

Test(jute, stat_read_truncated_fails)
{
    uint8_t raw[68] = {0};
    for (size_t cut = 0; cut < 68; cut++) {
        struct jute_reader jr;
        jr_init(&jr, raw, cut);
        struct zk_stat st;
        zk_stat_read(&jr, &st);
        cr_assert_not(jr_ok(&jr), "stat from %zu bytes", cut);
    }
}

/* ---- names and classification ---- */

Test(jute, op_is_write)
{
    static const int32_t writes[] = {ZOP_CREATE,          ZOP_DELETE,         ZOP_SETDATA,
                                     ZOP_SETACL,          ZOP_CHECK,          ZOP_MULTI,
                                     ZOP_CREATE2,         ZOP_CREATECONTAINER, ZOP_DELETECONTAINER,
                                     ZOP_CREATETTL,       ZOP_CREATESESSION,  ZOP_CLOSESESSION,
                                     ZOP_RECONFIG};
    static const int32_t reads[] = {ZOP_NOTIFICATION, ZOP_EXISTS,     ZOP_GETDATA,
                                    ZOP_GETACL,       ZOP_GETCHILDREN, ZOP_SYNC,
                                    ZOP_PING,         ZOP_GETCHILDREN2, ZOP_MULTIREAD,
                                    ZOP_AUTH,         ZOP_SETWATCHES, ZOP_SASL,
                                    ZOP_GETEPHEMERALS, ZOP_GETALLCHILDRENNUMBER, ZOP_SETWATCHES2,
                                    ZOP_ADDWATCH,     ZOP_WHOAMI,     ZOP_CHECKWATCHES,
                                    ZOP_REMOVEWATCHES, ZOP_ERROR,     999};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
        cr_assert_eq(zk_op_is_write(writes[i]), 1, "op %d", writes[i]);
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
        cr_assert_eq(zk_op_is_write(reads[i]), 0, "op %d", reads[i]);
}

Test(jute, names)
{
    cr_assert_str_eq(zk_err_name(ZE_OK), "OK");
    cr_assert_str_eq(zk_err_name(ZE_NONODE), "NoNode");
    cr_assert_str_eq(zk_err_name(ZE_NODEEXISTS), "NodeExists");
    cr_assert_str_eq(zk_err_name(ZE_SESSIONEXPIRED), "SessionExpired");
    cr_assert_str_eq(zk_err_name(ZE_MARSHALLINGERROR), "MarshallingError");
    cr_assert_str_eq(zk_err_name(12345), "Unknown");
    cr_assert_str_eq(zk_op_name(ZOP_CREATE), "create");
    cr_assert_str_eq(zk_op_name(ZOP_GETCHILDREN2), "getChildren2");
    cr_assert_str_eq(zk_op_name(ZOP_CREATESESSION), "createSession");
    cr_assert_str_eq(zk_op_name(ZOP_CLOSESESSION), "closeSession");
    cr_assert_str_eq(zk_op_name(ZOP_WHOAMI), "whoAmI");
    cr_assert_str_eq(zk_op_name(12345), "unknown");
}
