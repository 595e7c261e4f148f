/* Unit tests for the int64 -> pointer hash map (src/common/i64map.{h,c}). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>

#include "common/alloc.h"
#include "common/i64map.h"

static void reset_alloc(void) { zk_fail_after(-1); }

TestSuite(i64map, .fini = reset_alloc);

/* A distinct, recognisable pointer per key (never dereferenced). */
static void *val_of(int64_t key) { return (void *)(uintptr_t)((uint64_t)key * 2654435761u | 1u); }

/* Bijective (odd multiplier mod 2^64), so keys are distinct, non-zero, never INT64_MIN, and half
 * of them negative. */
static int64_t key_of(int i) { return (int64_t)((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL); }

Test(i64map, empty_map)
{
    struct i64map m;
    i64map_init(&m);
    cr_assert_null(m.slots);
    cr_assert_eq(m.cap, 0);
    cr_assert_eq(m.live, 0);
    cr_assert_null(i64map_get(&m, 1));
    cr_assert_null(i64map_del(&m, 1));
    i64map_free(&m);
    i64map_free(&m); /* twice is fine: free re-inits */
}

Test(i64map, put_get_del_replace)
{
    struct i64map m;
    i64map_init(&m);
    int a, b, c;
    cr_assert_eq(i64map_put(&m, 10, &a), 0);
    cr_assert_eq(i64map_put(&m, 20, &b), 0);
    cr_assert_eq(m.live, 2);
    cr_assert_eq(i64map_get(&m, 10), &a);
    cr_assert_eq(i64map_get(&m, 20), &b);
    cr_assert_null(i64map_get(&m, 30));
    /* replace keeps the count */
    cr_assert_eq(i64map_put(&m, 10, &c), 0);
    cr_assert_eq(m.live, 2);
    cr_assert_eq(i64map_get(&m, 10), &c);
    /* delete returns the old value, then the key is absent */
    cr_assert_eq(i64map_del(&m, 10), &c);
    cr_assert_eq(m.live, 1);
    cr_assert_null(i64map_get(&m, 10));
    cr_assert_null(i64map_del(&m, 10), "second delete finds nothing");
    cr_assert_eq(i64map_get(&m, 20), &b);
    /* re-insert after delete */
    cr_assert_eq(i64map_put(&m, 10, &a), 0);
    cr_assert_eq(i64map_get(&m, 10), &a);
    cr_assert_eq(m.live, 2);
    i64map_free(&m);
    cr_assert_null(m.slots);
    cr_assert_eq(m.live, 0);
}

Test(i64map, null_value_is_storable_but_reads_as_absent)
{
    struct i64map m;
    i64map_init(&m);
    cr_assert_eq(i64map_put(&m, 5, NULL), 0);
    cr_assert_eq(m.live, 1);
    cr_assert_null(i64map_get(&m, 5));
    cr_assert_null(i64map_del(&m, 5));
    cr_assert_eq(m.live, 0);
    i64map_free(&m);
}

Test(i64map, negative_and_extreme_keys)
{
    const int64_t keys[] = {-1, -2, INT64_MAX, INT64_MIN + 1, 1, -0x100000000LL,
                            0x7fffffff00000000LL, (int64_t)0x8000000000000001ULL + 5};
    size_t n = sizeof keys / sizeof keys[0];
    struct i64map m;
    i64map_init(&m);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(i64map_put(&m, keys[i], val_of(keys[i])), 0);
    cr_assert_eq(m.live, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(i64map_get(&m, keys[i]), val_of(keys[i]), "key %lld", (long long)keys[i]);
    cr_assert_null(i64map_get(&m, 2));
    cr_assert_null(i64map_get(&m, -3));
    cr_assert_eq(i64map_del(&m, -1), val_of(-1));
    cr_assert_null(i64map_get(&m, -1));
    cr_assert_eq(i64map_get(&m, -2), val_of(-2));
    i64map_free(&m);
}

/* Keys come from the network (session ids in a ConnectRequest, txns of session 0): the two
 * values the table uses as slot markers must work like any other key. */
Test(i64map, marker_keys_are_ordinary_keys)
{
    struct i64map m;
    i64map_init(&m);
    int a, b, c;
    cr_assert_null(i64map_get(&m, 0));
    cr_assert_null(i64map_get(&m, INT64_MIN));
    cr_assert_null(i64map_del(&m, 0));
    cr_assert_eq(i64map_put(&m, 0, &a), 0);
    cr_assert_eq(i64map_put(&m, INT64_MIN, &b), 0);
    cr_assert_eq(i64map_put(&m, 7, &c), 0);
    cr_assert_eq(i64map_count(&m), 3);
    cr_assert_eq(i64map_get(&m, 0), &a);
    cr_assert_eq(i64map_get(&m, INT64_MIN), &b);
    cr_assert_eq(i64map_put(&m, 0, &c), 0, "replace");
    cr_assert_eq(i64map_count(&m), 3);
    cr_assert_eq(i64map_del(&m, 0), &c);
    cr_assert_null(i64map_get(&m, 0));
    cr_assert_eq(i64map_del(&m, INT64_MIN), &b);
    cr_assert_eq(i64map_count(&m), 1);
    cr_assert_eq(i64map_get(&m, 7), &c);
    i64map_free(&m);
}

Test(i64map, iteration_visits_every_key_once_and_allows_deleting_the_current_one)
{
    struct i64map m;
    i64map_init(&m);
    const int n = 1000;
    cr_assert_eq(i64map_put(&m, 0, val_of(0)), 0);
    cr_assert_eq(i64map_put(&m, INT64_MIN, val_of(INT64_MIN)), 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(i64map_put(&m, key_of(i), val_of(key_of(i))), 0);
    size_t seen = 0;
    int64_t key;
    void *value;
    for (size_t it = 0; i64map_next(&m, &it, &key, &value);) {
        cr_assert_eq(value, val_of(key));
        seen++;
        if (seen % 2)
            cr_assert_eq(i64map_del(&m, key), value);
    }
    cr_assert_eq(seen, (size_t)n + 2);
    cr_assert_eq(i64map_count(&m), (size_t)(n + 2) / 2);
    seen = 0;
    for (size_t it = 0; i64map_next(&m, &it, &key, &value);)
        seen++;
    cr_assert_eq(seen, (size_t)(n + 2) / 2);
    i64map_free(&m);
}

Test(i64map, hundred_thousand_keys)
{
    const int n = 100000;
    struct i64map m;
    i64map_init(&m);
    for (int i = 0; i < n; i++)
        cr_assert_eq(i64map_put(&m, key_of(i), val_of(key_of(i))), 0);
    cr_assert_eq(m.live, (size_t)n);
    cr_assert_eq(m.cap & (m.cap - 1), 0, "capacity is a power of two");
    cr_assert_leq(m.used * 4, m.cap * 3, "load factor stays at most 3/4");
    for (int i = 0; i < n; i++)
        cr_assert_eq(i64map_get(&m, key_of(i)), val_of(key_of(i)), "key %d", i);
    for (int i = 0; i < 1000; i++)
        cr_assert_null(i64map_get(&m, -(int64_t)i - 1));
    /* delete the odd half */
    for (int i = 1; i < n; i += 2)
        cr_assert_eq(i64map_del(&m, key_of(i)), val_of(key_of(i)));
    cr_assert_eq(m.live, (size_t)n / 2);
    for (int i = 0; i < n; i++) {
        if (i % 2)
            cr_assert_null(i64map_get(&m, key_of(i)), "deleted key %d", i);
        else
            cr_assert_eq(i64map_get(&m, key_of(i)), val_of(key_of(i)), "kept key %d", i);
    }
    /* replace every kept value */
    for (int i = 0; i < n; i += 2)
        cr_assert_eq(i64map_put(&m, key_of(i), val_of(-key_of(i))), 0);
    cr_assert_eq(m.live, (size_t)n / 2);
    for (int i = 0; i < n; i += 2)
        cr_assert_eq(i64map_get(&m, key_of(i)), val_of(-key_of(i)));
    i64map_free(&m);
}

Test(i64map, tombstone_reuse)
{
    struct i64map m;
    i64map_init(&m);
    for (int64_t k = 1; k <= 8; k++)
        cr_assert_eq(i64map_put(&m, k, val_of(k)), 0);
    size_t cap = m.cap, used = m.used;
    cr_assert_eq(cap, 16);
    cr_assert_eq(used, 8);
    /* delete then re-insert the same key: the tombstone is reused, used does not grow */
    for (int round = 0; round < 100; round++) {
        cr_assert_eq(i64map_del(&m, 3), val_of(3));
        cr_assert_eq(m.used, used, "a tombstone still counts as used");
        cr_assert_eq(i64map_put(&m, 3, val_of(3)), 0);
        cr_assert_eq(m.used, used, "round %d: re-insert must reuse the tombstone", round);
        cr_assert_eq(m.cap, cap);
    }
    cr_assert_eq(m.live, 8);
    for (int64_t k = 1; k <= 8; k++)
        cr_assert_eq(i64map_get(&m, k), val_of(k));
    i64map_free(&m);
}

Test(i64map, churn_of_distinct_keys_reclaims_tombstones)
{
    /* Insert/delete 1M distinct keys with at most 10 live: tombstones must be rehashed away
     * (otherwise the table would fill with them and a miss would never find an empty slot). */
    struct i64map m;
    i64map_init(&m);
    for (int64_t k = 1; k <= 1000000; k++) {
        cr_assert_eq(i64map_put(&m, k, val_of(k)), 0);
        if (k > 10)
            cr_assert_eq(i64map_del(&m, k - 10), val_of(k - 10));
    }
    cr_assert_eq(m.live, 10);
    cr_assert_leq(m.cap, 64, "capacity must follow the live count, got %zu", m.cap);
    cr_assert_leq(m.used * 4, m.cap * 3);
    for (int64_t k = 1000000 - 9; k <= 1000000; k++)
        cr_assert_eq(i64map_get(&m, k), val_of(k));
    cr_assert_null(i64map_get(&m, 5));
    cr_assert_null(i64map_get(&m, 2000000));
    i64map_free(&m);
}

Test(i64map, oom_on_first_put_leaves_map_unchanged)
{
    struct i64map m;
    i64map_init(&m);
    zk_fail_after(0);
    int rc = i64map_put(&m, 1, val_of(1));
    zk_fail_after(-1);
    cr_assert_eq(rc, -1);
    cr_assert_eq(m.live, 0);
    cr_assert_eq(m.cap, 0);
    cr_assert_null(i64map_get(&m, 1));
    cr_assert_eq(i64map_put(&m, 1, val_of(1)), 0);
    cr_assert_eq(i64map_get(&m, 1), val_of(1));
    i64map_free(&m);
}

Test(i64map, oom_on_growth_leaves_map_unchanged)
{
    struct i64map m;
    i64map_init(&m);
    /* 16 slots hold 12 keys before the next put must grow */
    for (int64_t k = 1; k <= 12; k++)
        cr_assert_eq(i64map_put(&m, k, val_of(k)), 0);
    cr_assert_eq(m.cap, 16);
    zk_fail_after(0);
    int rc = i64map_put(&m, 13, val_of(13));
    /* replacing an existing key needs no memory */
    int rc2 = i64map_put(&m, 4, val_of(40));
    zk_fail_after(-1);
    cr_assert_eq(rc, -1);
    cr_assert_eq(rc2, 0);
    cr_assert_eq(m.cap, 16);
    cr_assert_eq(m.live, 12);
    cr_assert_null(i64map_get(&m, 13));
    for (int64_t k = 1; k <= 12; k++)
        cr_assert_eq(i64map_get(&m, k), val_of(k == 4 ? 40 : k));
    cr_assert_eq(i64map_put(&m, 13, val_of(13)), 0);
    cr_assert_eq(m.live, 13);
    cr_assert_gt(m.cap, 16);
    i64map_free(&m);
}
