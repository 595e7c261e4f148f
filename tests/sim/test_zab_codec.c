/* Unit tests of the Zab msgpack codec: round trips, and truncated / corrupted / random input that
 * must give an error, never a crash or an out-of-bounds read. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/alloc.h"
#include "consensus/zab.h"

static struct zab_msg sample(uint8_t type, const uint8_t *data, size_t len)
{
    return (struct zab_msg){.type = type, .flags = 3, .state = 2, .tag = 9, .leader = 0xfffffff0u,
                            .epoch = 7, .epoch2 = 0xffffffffu, .zxid = 0x0000000700000005ull,
                            .zxid2 = UINT64_MAX, .nonce = 0x1234567890ull,
                            .data = {data, len}};
}

Test(zab_codec, round_trip_every_type)
{
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof(payload); i++) {
        payload[i] = (uint8_t)(i * 7);
    }
    for (uint8_t t = ZAB_MSG_VOTE; t <= ZAB_MSG_TYPE_MAX; t++) {
        size_t len = t % 3 == 0 ? 0 : (t * 37) % sizeof(payload);
        struct zab_msg m = sample(t, len ? payload : NULL, len), d;
        uint8_t buf[512];
        size_t n = 0;
        cr_assert_eq(zab_msg_encode(&m, buf, sizeof(buf), &n), 0);
        cr_assert_leq(n, zab_msg_encoded_max(&m));
        cr_assert_eq(zab_msg_decode(buf, n, &d), 0, "type %s", zab_msg_type_name(t));
        cr_assert_eq(d.type, t);
        cr_assert_eq(d.flags, m.flags);
        cr_assert_eq(d.state, m.state);
        cr_assert_eq(d.tag, m.tag);
        cr_assert_eq(d.leader, m.leader);
        cr_assert_eq(d.epoch, m.epoch);
        cr_assert_eq(d.epoch2, m.epoch2);
        cr_assert_eq(d.zxid, m.zxid);
        cr_assert_eq(d.zxid2, m.zxid2);
        cr_assert_eq(d.nonce, m.nonce);
        cr_assert_eq(d.data.len, len);
        if (len) {
            cr_assert(d.data.data >= buf && d.data.data + len <= buf + n, "borrowed from input");
            cr_assert_eq(memcmp(d.data.data, payload, len), 0);
        }
    }
}

Test(zab_codec, small_values_and_zero)
{
    struct zab_msg m = {.type = ZAB_MSG_PING}, d;
    uint8_t buf[64];
    size_t n = 0;
    cr_assert_eq(zab_msg_encode(&m, buf, sizeof(buf), &n), 0);
    cr_assert_eq(zab_msg_decode(buf, n, &d), 0);
    cr_assert_eq(d.type, ZAB_MSG_PING);
    cr_assert_eq(d.data.len, 0);
    cr_assert_null(d.data.data);
}

Test(zab_codec, output_too_small)
{
    uint8_t payload[100] = {1};
    struct zab_msg m = sample(ZAB_MSG_PROPOSAL, payload, sizeof(payload));
    uint8_t buf[256];
    size_t n = 0, full = 0;
    cr_assert_eq(zab_msg_encode(&m, buf, sizeof(buf), &full), 0);
    for (size_t cap = 0; cap < full; cap++) {
        cr_assert_eq(zab_msg_encode(&m, buf, cap, &n), ZAB_ETOOBIG, "cap %zu", cap);
    }
}

Test(zab_codec, every_truncation_is_an_error)
{
    uint8_t payload[40] = {9, 8, 7};
    struct zab_msg m = sample(ZAB_MSG_SNAP, payload, sizeof(payload)), d;
    uint8_t buf[256];
    size_t n = 0;
    cr_assert_eq(zab_msg_encode(&m, buf, sizeof(buf), &n), 0);
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = zk_malloc(len + 1); /* exact-size heap copy: ASan sees any overread */
        memcpy(copy, buf, len);
        cr_assert_eq(zab_msg_decode(copy, len, &d), ZAB_EMALFORMED, "len %zu", len);
        zk_free(copy);
    }
    uint8_t longer[300];
    memcpy(longer, buf, n);
    longer[n] = 0;
    cr_assert_eq(zab_msg_decode(longer, n + 1, &d), ZAB_EMALFORMED, "trailing byte");
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xs_next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

Test(zab_codec, random_and_mutated_bytes_never_crash)
{
    uint8_t payload[20] = {0};
    struct zab_msg m = sample(ZAB_MSG_ACKEPOCH, payload, sizeof(payload)), d;
    uint8_t good[128];
    size_t n = 0;
    cr_assert_eq(zab_msg_encode(&m, good, sizeof(good), &n), 0);
    int bad = 0, decoded = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = iter % 2 == 0 ? (size_t)(xs_next() % 96) : n;
        uint8_t *b = zk_malloc(len + 1);
        if (iter % 2 == 0) {
            for (size_t i = 0; i < len; i++) b[i] = (uint8_t)xs_next();
        } else {
            memcpy(b, good, n);
            b[xs_next() % n] = (uint8_t)xs_next(); /* one corrupted byte */
        }
        int rc = zab_msg_decode(b, len, &d);
        /* plain checks: 200k criterion assertions would flood its reporting pipe */
        bad += !(rc == 0 || rc == ZAB_EMALFORMED);
        bad += rc == 0 && !(d.type >= ZAB_MSG_VOTE && d.type <= ZAB_MSG_TYPE_MAX);
        bad += rc == 0 && d.data.len > len;
        decoded += rc == 0;
        zk_free(b);
    }
    cr_assert_eq(bad, 0);
    cr_log_info("%d of 200000 random inputs decoded as valid messages", decoded);
}

Test(zab_codec, entry_and_epochs_records)
{
    uint8_t payload[5] = {1, 2, 3, 4, 5};
    struct zab_entry e = {0x300000009ull, {payload, 5}}, de;
    uint8_t buf[64];
    size_t n = 0;
    cr_assert_eq(zab_entry_encode(&e, buf, sizeof(buf), &n), 0);
    cr_assert_eq(zab_entry_decode(buf, n, &de), 0);
    cr_assert_eq(de.zxid, e.zxid);
    cr_assert_eq(de.payload.len, 5);
    cr_assert_eq(memcmp(de.payload.data, payload, 5), 0);
    for (size_t len = 0; len < n; len++) {
        cr_assert_eq(zab_entry_decode(buf, len, &de), ZAB_EMALFORMED);
    }
    struct zab_epochs ep = {9, 8}, dp;
    cr_assert_eq(zab_epochs_encode(&ep, buf, sizeof(buf), &n), 0);
    cr_assert_eq(zab_epochs_decode(buf, n, &dp), 0);
    cr_assert_eq(dp.accepted_epoch, 9);
    cr_assert_eq(dp.current_epoch, 8);
    uint8_t bad[] = {0x92, 0x01, 0x02}; /* currentEpoch > acceptedEpoch is refused on load */
    cr_assert_eq(zab_epochs_decode(bad, sizeof(bad), &dp), ZAB_EMALFORMED);
}
