/* Unit tests for the session expiry tracker (src/session/tracker.{h,c}). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "session/tracker.h"

struct expired {
    int64_t ids[256];
    size_t n;
};

static void on_expire(void *ctx, int64_t id)
{
    struct expired *e = ctx;
    if (e->n < sizeof e->ids / sizeof e->ids[0])
        e->ids[e->n] = id;
    e->n++;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Expire at `now` and check exactly `want` (any order) were reported. */
static void expect_expired(struct sess_tracker *t, int64_t now, const int64_t *want, size_t n)
{
    struct expired e = {0};
    sess_tracker_expire(t, now, on_expire, &e);
    cr_assert_eq(e.n, n, "expire(%lld) reported %zu sessions, expected %zu", (long long)now,
                 e.n, n);
    int64_t w[256];
    if (n)
        memcpy(w, want, n * sizeof *want);
    qsort(e.ids, n, sizeof e.ids[0], cmp_i64);
    qsort(w, n, sizeof w[0], cmp_i64);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(e.ids[i], w[i], "expired id %lld, expected %lld", (long long)e.ids[i],
                     (long long)w[i]);
}

/* The last moment a session is still alive and the first moment it expires. */
static void expect_deadline(struct sess_tracker *t, int64_t id, int64_t deadline)
{
    expect_expired(t, deadline - 1, NULL, 0);
    cr_assert(sess_tracker_contains(t, id));
    const int64_t want[] = {id};
    expect_expired(t, deadline, want, 1);
    cr_assert_not(sess_tracker_contains(t, id));
}

static void reset_alloc(void) { zk_fail_after(-1); }

TestSuite(tracker, .fini = reset_alloc);

Test(tracker, new_is_empty)
{
    struct sess_tracker *t = sess_tracker_new(2000);
    cr_assert_not_null(t);
    cr_assert_eq(sess_tracker_count(t), 0);
    cr_assert_not(sess_tracker_contains(t, 1));
    expect_expired(t, INT64_MAX / 2, NULL, 0);
    sess_tracker_free(t);
    sess_tracker_free(NULL);
}

Test(tracker, deadline_rounds_up_to_next_tick_boundary)
{
    struct sess_tracker *t = sess_tracker_new(2000);
    /* now 1000 + 5000 = 6000, which is a boundary: the next one strictly after is 8000 */
    cr_assert_eq(sess_tracker_touch(t, 1, 5000, 1000), 0);
    expect_deadline(t, 1, 8000);
    /* now 1500 + 5000 = 6500 -> 8000 */
    cr_assert_eq(sess_tracker_touch(t, 2, 5000, 1500), 0);
    expect_deadline(t, 2, 8000);
    /* now 999 + 5000 = 5999 -> 6000 */
    cr_assert_eq(sess_tracker_touch(t, 3, 5000, 999), 0);
    expect_deadline(t, 3, 6000);
    /* exact boundary 0 + 4000 -> 6000 (as ZooKeeper's ExpiryQueue.roundToNextInterval) */
    cr_assert_eq(sess_tracker_touch(t, 4, 4000, 0), 0);
    expect_deadline(t, 4, 6000);
    sess_tracker_free(t);
}

Test(tracker, deadline_with_tick_of_one_ms)
{
    struct sess_tracker *t = sess_tracker_new(1);
    cr_assert_eq(sess_tracker_touch(t, 9, 100, 50), 0);
    expect_deadline(t, 9, 151);
    sess_tracker_free(t);
}

Test(tracker, large_clock_values)
{
    struct sess_tracker *t = sess_tracker_new(2000);
    int64_t now = 1700000000123LL; /* epoch ms */
    cr_assert_eq(sess_tracker_touch(t, 0x1000a2b3c4d0000LL, 30000, now), 0);
    int64_t at = now + 30000;
    expect_deadline(t, 0x1000a2b3c4d0000LL, (at / 2000 + 1) * 2000);
    cr_assert_eq((at / 2000 + 1) * 2000, 1700000032000LL);
    sess_tracker_free(t);
}

Test(tracker, touch_renews)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    cr_assert_eq(sess_tracker_touch(t, 7, 3000, 0), 0); /* 3000 -> 4000 */
    cr_assert_eq(sess_tracker_count(t), 1);
    expect_expired(t, 3999, NULL, 0);
    cr_assert_eq(sess_tracker_touch(t, 7, 3000, 2500), 0); /* 5500 -> 6000 */
    cr_assert_eq(sess_tracker_count(t), 1, "touch of a tracked session does not add one");
    expect_expired(t, 4000, NULL, 0);
    expect_expired(t, 5999, NULL, 0);
    /* touch may also change the timeout */
    cr_assert_eq(sess_tracker_touch(t, 7, 10000, 5000), 0); /* 15000 -> 16000 */
    expect_deadline(t, 7, 16000);
    sess_tracker_free(t);
}

Test(tracker, renew_uses_the_sessions_timeout)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    cr_assert_eq(sess_tracker_touch(t, 5, 4000, 0), 0);   /* -> 5000 */
    cr_assert_eq(sess_tracker_touch(t, 6, 10000, 0), 0);  /* -> 11000 */
    sess_tracker_renew(t, 5, 3000);                       /* 7000 -> 8000 */
    sess_tracker_renew(t, 6, 3000);                       /* 13000 -> 14000 */
    expect_expired(t, 7999, NULL, 0);
    const int64_t w5[] = {5};
    expect_expired(t, 8000, w5, 1);
    expect_expired(t, 13999, NULL, 0);
    const int64_t w6[] = {6};
    expect_expired(t, 14000, w6, 1);
    sess_tracker_free(t);
}

Test(tracker, renew_unknown_id_does_nothing)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    cr_assert_eq(sess_tracker_touch(t, 1, 2000, 0), 0);
    sess_tracker_renew(t, 2, 100);
    sess_tracker_renew(t, -2, 100);
    cr_assert_eq(sess_tracker_count(t), 1);
    cr_assert_not(sess_tracker_contains(t, 2));
    /* a removed session is not resurrected by renew */
    sess_tracker_remove(t, 1);
    sess_tracker_renew(t, 1, 500);
    cr_assert_not(sess_tracker_contains(t, 1));
    cr_assert_eq(sess_tracker_count(t), 0);
    expect_expired(t, 1000000, NULL, 0);
    /* neither is an expired one */
    cr_assert_eq(sess_tracker_touch(t, 3, 2000, 0), 0);
    const int64_t w3[] = {3};
    expect_expired(t, 3000, w3, 1);
    sess_tracker_renew(t, 3, 3000);
    cr_assert_not(sess_tracker_contains(t, 3));
    expect_expired(t, 1000000, NULL, 0);
    sess_tracker_free(t);
}

Test(tracker, expire_reports_exactly_due_sessions_once)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    /* deadlines: 1,2 -> 3000; 3 -> 4000; 4 -> 6000; 5 -> 11000 */
    cr_assert_eq(sess_tracker_touch(t, 1, 2000, 0), 0);
    cr_assert_eq(sess_tracker_touch(t, 2, 2500, 0), 0);
    cr_assert_eq(sess_tracker_touch(t, 3, 3000, 0), 0);
    cr_assert_eq(sess_tracker_touch(t, 4, 5000, 500), 0);
    cr_assert_eq(sess_tracker_touch(t, 5, 10000, 0), 0);
    cr_assert_eq(sess_tracker_count(t), 5);
    expect_expired(t, 2999, NULL, 0);
    const int64_t a[] = {1, 2};
    expect_expired(t, 3000, a, 2);
    cr_assert_eq(sess_tracker_count(t), 3);
    expect_expired(t, 3000, NULL, 0); /* never twice */
    expect_expired(t, 3500, NULL, 0);
    /* late tick: everything due by now is reported together */
    const int64_t b[] = {3, 4};
    expect_expired(t, 9000, b, 2);
    cr_assert_eq(sess_tracker_count(t), 1);
    cr_assert(sess_tracker_contains(t, 5));
    cr_assert_not(sess_tracker_contains(t, 3));
    const int64_t c[] = {5};
    expect_expired(t, 11000, c, 1);
    cr_assert_eq(sess_tracker_count(t), 0);
    expect_expired(t, 100000, NULL, 0);
    sess_tracker_free(t);
}

Test(tracker, expired_session_can_be_tracked_again)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    cr_assert_eq(sess_tracker_touch(t, 8, 1000, 0), 0);
    const int64_t w[] = {8};
    expect_expired(t, 2000, w, 1);
    cr_assert_eq(sess_tracker_touch(t, 8, 1000, 5000), 0);
    cr_assert_eq(sess_tracker_count(t), 1);
    expect_deadline(t, 8, 7000);
    sess_tracker_free(t);
}

Test(tracker, remove)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    for (int64_t id = 1; id <= 10; id++)
        cr_assert_eq(sess_tracker_touch(t, id, 5000, 0), 0);
    sess_tracker_remove(t, 3);
    sess_tracker_remove(t, 7);
    sess_tracker_remove(t, 7);   /* twice: no effect */
    sess_tracker_remove(t, 999); /* unknown: no effect */
    cr_assert_eq(sess_tracker_count(t), 8);
    cr_assert_not(sess_tracker_contains(t, 3));
    cr_assert_not(sess_tracker_contains(t, 7));
    cr_assert(sess_tracker_contains(t, 4));
    const int64_t want[] = {1, 2, 4, 5, 6, 8, 9, 10};
    expect_expired(t, 6000, want, 8);
    cr_assert_eq(sess_tracker_count(t), 0);
    sess_tracker_free(t);
}

Test(tracker, renew_all_gives_full_timeouts)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    cr_assert_eq(sess_tracker_touch(t, 1, 2000, 0), 0);  /* -> 3000 */
    cr_assert_eq(sess_tracker_touch(t, 2, 6000, 0), 0);  /* -> 7000 */
    cr_assert_eq(sess_tracker_touch(t, 3, 4000, 0), 0);  /* removed below */
    sess_tracker_remove(t, 3);
    sess_tracker_renew_all(t, 10000);                     /* 1 -> 13000, 2 -> 17000 */
    cr_assert_eq(sess_tracker_count(t), 2);
    cr_assert_not(sess_tracker_contains(t, 3), "renew_all does not resurrect removed ones");
    expect_expired(t, 12999, NULL, 0);
    const int64_t w1[] = {1};
    expect_expired(t, 13000, w1, 1);
    expect_expired(t, 16999, NULL, 0);
    const int64_t w2[] = {2};
    expect_expired(t, 17000, w2, 1);
    sess_tracker_free(t);
}

Test(tracker, negative_and_extreme_ids)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    const int64_t ids[] = {-1, INT64_MAX, INT64_MIN + 1, 0x7f00000000000001LL, 1};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(sess_tracker_touch(t, ids[i], 1000 * (int32_t)(i + 1), 0), 0);
    cr_assert_eq(sess_tracker_count(t), 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert(sess_tracker_contains(t, ids[i]));
    const int64_t first[] = {-1};
    expect_expired(t, 2000, first, 1);
    const int64_t rest[] = {INT64_MAX, INT64_MIN + 1, 0x7f00000000000001LL, 1};
    expect_expired(t, 6000, rest, 4);
    sess_tracker_free(t);
}

/* Ids and timeouts reach the tracker from the replicated log: odd values are tracked, never an
 * assertion (a timeout below 1 ms is taken as 1 ms; the server clamps to its limits first). */
Test(tracker, odd_ids_and_timeouts_are_tracked)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    cr_assert_eq(sess_tracker_touch(t, 0, 1000, 0), 0);
    cr_assert_eq(sess_tracker_touch(t, INT64_MIN, 0, 0), 0);
    cr_assert_eq(sess_tracker_touch(t, 5, -7, 0), 0);
    cr_assert_eq(sess_tracker_count(t), 3);
    cr_assert(sess_tracker_contains(t, 0));
    cr_assert(sess_tracker_contains(t, INT64_MIN));
    const int64_t first[] = {INT64_MIN, 5}; /* the two 1 ms sessions: first tick boundary */
    expect_expired(t, 1000, first, 2);
    const int64_t second[] = {0};
    expect_expired(t, 2000, second, 1);
    sess_tracker_free(t);
}

Test(tracker, nonpositive_tick_is_a_programmer_error, .signal = SIGABRT)
{
    sess_tracker_new(0);
}

static int64_t id_of(int i) { return (int64_t)0x100000000LL * (i % 7 + 1) + i * 7919; }

Test(tracker, grows_to_100k_sessions)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    const int n = 100000;
    for (int i = 0; i < n; i++)
        cr_assert_eq(sess_tracker_touch(t, id_of(i), 10000 + (i % 2) * 10000, 0), 0);
    cr_assert_eq(sess_tracker_count(t), (size_t)n);
    for (int i = 0; i < n; i++)
        cr_assert(sess_tracker_contains(t, id_of(i)), "session %d lost", i);
    cr_assert_not(sess_tracker_contains(t, 42));
    /* touching again does not change the count */
    for (int i = 0; i < n; i += 3)
        cr_assert_eq(sess_tracker_touch(t, id_of(i), 10000, 0), 0);
    cr_assert_eq(sess_tracker_count(t), (size_t)n);
    sess_tracker_free(t);
}

struct count_ctx {
    size_t n;
    int64_t bad;
};

static void count_even(void *ctx, int64_t id)
{
    struct count_ctx *c = ctx;
    c->n++;
    /* only sessions with an even index (timeout 10 s) may expire at 11000 */
    int64_t i = id % 0x100000000LL / 7919;
    if (i % 2 != 0)
        c->bad++;
}

Test(tracker, remove_many_with_tombstones_still_correct)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    const int n = 100000;
    for (int i = 0; i < n; i++)
        cr_assert_eq(sess_tracker_touch(t, id_of(i), 10000 + (i % 2) * 10000, 0), 0);
    /* remove every index divisible by 4: tombstones all over the table */
    for (int i = 0; i < n; i += 4)
        sess_tracker_remove(t, id_of(i));
    cr_assert_eq(sess_tracker_count(t), (size_t)(n - n / 4));
    for (int i = 0; i < n; i++)
        cr_assert_eq(sess_tracker_contains(t, id_of(i)), i % 4 != 0, "session %d", i);
    /* churn: add and remove many new sessions so tombstones get reused / rehashed away */
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 20000; i++)
            cr_assert_eq(sess_tracker_touch(t, -(int64_t)(round * 20000 + i + 1), 10000, 0), 0);
        for (int i = 0; i < 20000; i++)
            sess_tracker_remove(t, -(int64_t)(round * 20000 + i + 1));
    }
    cr_assert_eq(sess_tracker_count(t), (size_t)(n - n / 4));
    for (int i = 0; i < n; i++)
        cr_assert_eq(sess_tracker_contains(t, id_of(i)), i % 4 != 0, "session %d after churn", i);
    /* expiry: at 11000 exactly the even, non-removed ones (i % 4 == 2) are due */
    struct count_ctx c = {0};
    sess_tracker_expire(t, 11000, count_even, &c);
    cr_assert_eq(c.bad, 0);
    cr_assert_eq(c.n, (size_t)(n / 4));
    cr_assert_eq(sess_tracker_count(t), (size_t)(n / 2));
    /* the odd ones are due at 21000 */
    c = (struct count_ctx){0};
    sess_tracker_expire(t, 21000, count_even, &c);
    cr_assert_eq(c.n, (size_t)(n / 2));
    cr_assert_eq(c.bad, (int64_t)(n / 2));
    cr_assert_eq(sess_tracker_count(t), 0);
    for (int i = 0; i < n; i += 997)
        cr_assert_not(sess_tracker_contains(t, id_of(i)));
    sess_tracker_free(t);
}

Test(tracker, touch_remove_cycles_do_not_fill_the_table)
{
    /* Repeatedly adding and removing distinct ids must keep working (tombstones must be
     * reclaimed, otherwise lookups for absent ids would never find an empty slot). */
    struct sess_tracker *t = sess_tracker_new(1000);
    for (int64_t id = 1; id <= 200000; id++) {
        cr_assert_eq(sess_tracker_touch(t, id, 1000, 0), 0);
        sess_tracker_remove(t, id);
    }
    cr_assert_eq(sess_tracker_count(t), 0);
    cr_assert_not(sess_tracker_contains(t, 200001));
    sess_tracker_free(t);
}

Test(tracker, oom_on_growth_returns_minus_one_and_keeps_sessions)
{
    struct sess_tracker *t = sess_tracker_new(1000);
    int64_t id = 1;
    /* the initial table holds 48 sessions (3/4 of 64) before it has to grow */
    for (; id <= 48; id++)
        cr_assert_eq(sess_tracker_touch(t, id, 1000, 0), 0);
    zk_fail_after(0);
    int rc = sess_tracker_touch(t, id, 1000, 0);
    zk_fail_after(-1);
    cr_assert_eq(rc, -1);
    cr_assert_eq(sess_tracker_count(t), 48);
    cr_assert_not(sess_tracker_contains(t, id));
    for (int64_t j = 1; j <= 48; j++)
        cr_assert(sess_tracker_contains(t, j));
    /* renewing a tracked session needs no memory */
    zk_fail_after(0);
    rc = sess_tracker_touch(t, 5, 1000, 0);
    zk_fail_after(-1);
    cr_assert_eq(rc, 0);
    cr_assert_eq(sess_tracker_touch(t, id, 1000, 0), 0);
    cr_assert_eq(sess_tracker_count(t), 49);
    sess_tracker_free(t);
}

Test(tracker, new_returns_null_on_oom)
{
    zk_fail_after(0);
    cr_assert_null(sess_tracker_new(1000));
    zk_fail_after(1);
    cr_assert_null(sess_tracker_new(1000));
    zk_fail_after(-1);
}
