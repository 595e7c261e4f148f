/* The core's in-memory window (ring.c): applied entries leave beyond cfg.window entries or beyond
 * cfg.window_bytes payload bytes (issue 11), entries not yet applied never do. */
#include <criterion/criterion.h>
#include <string.h>

#include "consensus/internal.h"

static void append(struct zab_ring *r, uint32_t counter, size_t len)
{
    static uint8_t buf[4096];
    memset(buf, (int)counter, len);
    cr_assert_eq(ring_append(r, zab_zxid(1, counter), (struct zab_buf){buf, len}, false), 0);
}

Test(zab_ring, evicts_applied_entries_beyond_the_byte_bound)
{
    struct zab_ring r;
    cr_assert_eq(ring_init(&r, 64), 0);
    for (uint32_t c = 1; c <= 20; c++) {
        append(&r, c, 1000);
    }
    cr_assert_eq(r.bytes, 20000);
    /* 10 applied; keep up to 50 entries but 3,500 bytes of applied ones: 3 applied stay */
    ring_evict(&r, zab_zxid(1, 10), 50, 3500);
    cr_assert_eq(r.count, 13);
    cr_assert_eq(r.base, zab_zxid(1, 7));
    cr_assert_eq(r.bytes, 13000);
    /* the entry bound still applies on its own */
    ring_evict(&r, zab_zxid(1, 10), 11, UINT64_MAX);
    cr_assert_eq(r.count, 11);
    cr_assert_eq(r.base, zab_zxid(1, 9));
    /* nothing unapplied leaves, however small the bounds */
    ring_evict(&r, zab_zxid(1, 10), 0, 0);
    cr_assert_eq(r.count, 10);
    cr_assert_eq(r.base, zab_zxid(1, 10));
    cr_assert_eq(ring_at(&r, 0)->zxid, zab_zxid(1, 11));
    cr_assert_eq(r.bytes, 10000);
    /* truncation and reset keep the count of bytes */
    ring_truncate(&r, zab_zxid(1, 15));
    cr_assert_eq(r.bytes, 5000);
    ring_reset(&r, zab_zxid(1, 15));
    cr_assert_eq(r.bytes, 0);
    ring_free(&r);
}

Test(zab_ring, one_entry_larger_than_the_bound_leaves_once_applied)
{
    struct zab_ring r;
    cr_assert_eq(ring_init(&r, 8), 0);
    append(&r, 1, 4096);
    append(&r, 2, 10);
    ring_evict(&r, zab_zxid(1, 1), 8, 1000);
    cr_assert_eq(r.count, 1);
    cr_assert_eq(r.base, zab_zxid(1, 1));
    ring_free(&r);
}

/* Through the API: a leader with 1 MiB window_bytes and 64 KiB payloads keeps at most 1 MiB of
 * applied payloads (plus the unapplied ones) whatever its entry window. */
Test(zab_ring, a_standalone_leader_keeps_window_bytes)
{
    uint32_t one = 1;
    struct zab_config cfg;
    zab_config_default(&cfg, 1, 1, &one);
    cfg.window = 1000;
    cfg.window_bytes = 1024 * 1024;
    struct zab *z = zab_new(&cfg);
    cr_assert_not_null(z);
    struct zab_update up;
    struct zab_event ev = {.type = ZAB_START};
    ev.start.incarnation = 1;
    cr_assert_eq(zab_step(z, &ev, &up), 0);
    struct zab_event tick = {.type = ZAB_TICK};
    for (int t = 0; t < 5 && !zab_established(z); t++) {
        (void)zab_step(z, &tick, &up);
        if (up.n_entries == 0 && !zab_established(z)) {
            struct zab_event p = {.type = ZAB_PERSISTED};
            (void)zab_step(z, &p, &up);
        }
    }
    cr_assert(zab_established(z));
    static uint8_t payload[64 * 1024];
    for (int k = 0; k < 100; k++) {
        struct zab_event s = {.type = ZAB_SUBMIT};
        s.submit.payload = (struct zab_buf){payload, sizeof(payload)};
        cr_assert_eq(zab_step(z, &s, &up), 0);
        struct zab_event p = {.type = ZAB_PERSISTED};
        p.persisted.zxid = zab_last_logged(z);
        cr_assert_eq(zab_step(z, &p, &up), 0);
        cr_assert_eq(up.n_commits, 1); /* a quorum of one */
        cr_assert_leq(z->log.bytes, cfg.window_bytes + sizeof(payload),
                      "%llu bytes held", (unsigned long long)z->log.bytes);
    }
    cr_assert_leq(z->log.count, 17);
    zab_free(z);
}
