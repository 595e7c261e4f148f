/* Unit tests for the LMDB transaction log and its metadata (src/store/txnlog.{h,c}).
 * Every test gets a fresh mkdtemp directory, removed afterwards. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/txnlog.h"

#define MAP_64M ((size_t)64 << 20)

static char dir[256];
static struct txnlog *lg;

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (e->d_type == DT_DIR)
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

static void open_log(size_t map)
{
    char err[TXNLOG_ERRMSG_SIZE] = "";
    int rc = txnlog_open(&lg, dir, map, err, sizeof err);
    cr_assert_eq(rc, TXNLOG_OK, "txnlog_open(%s): %d %s", dir, rc, err);
    cr_assert_not_null(lg);
}

static void reopen_log(void)
{
    txnlog_close(lg);
    lg = NULL;
    open_log(MAP_64M);
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/zk-txnlog-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp");
    lg = NULL;
    open_log(MAP_64M);
}

static void teardown(void)
{
    txnlog_close(lg);
    lg = NULL;
    rm_tree(dir);
}

TestSuite(txnlog, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static void rec_for(int64_t zxid, char *buf, size_t cap, size_t *len)
{
    int n = snprintf(buf, cap, "record-%lld", (long long)zxid);
    *len = (size_t)n;
}

static void append_ok(int64_t zxid)
{
    char buf[64];
    size_t len;
    rec_for(zxid, buf, sizeof buf, &len);
    int rc = txnlog_append(lg, zxid, buf, len);
    cr_assert_eq(rc, TXNLOG_OK, "append %lld: %d %s", (long long)zxid, rc, txnlog_errmsg(lg));
}

static void commit_ok(void)
{
    int rc = txnlog_commit(lg);
    cr_assert_eq(rc, TXNLOG_OK, "commit: %d %s", rc, txnlog_errmsg(lg));
}

struct collect {
    int64_t zxids[4096];
    size_t n;
    int stop_at; /* stop (return 7) after this many, 0 = never */
    int bad_content;
};

static int collect_fn(void *ctx, int64_t zxid, const void *rec, size_t len)
{
    struct collect *c = ctx;
    char want[64];
    size_t wlen;
    rec_for(zxid, want, sizeof want, &wlen);
    if (len != wlen || memcmp(rec, want, len) != 0)
        c->bad_content++;
    if (c->n < sizeof c->zxids / sizeof c->zxids[0])
        c->zxids[c->n] = zxid;
    c->n++;
    if (c->stop_at && (int)c->n == c->stop_at)
        return 7;
    return 0;
}

static void assert_log_is(int64_t after, const int64_t *want, size_t n)
{
    struct collect c = {0};
    int rc = txnlog_read_after(lg, after, collect_fn, &c);
    cr_assert_eq(rc, TXNLOG_OK, "read_after: %d %s", rc, txnlog_errmsg(lg));
    cr_assert_eq(c.bad_content, 0, "records carry the wrong bytes");
    cr_assert_eq(c.n, n, "read_after(%lld) visited %zu records, expected %zu", (long long)after,
                 c.n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(c.zxids[i], want[i], "record %zu: zxid %lld, expected %lld", i,
                     (long long)c.zxids[i], (long long)want[i]);
}

/* ---- log ---- */

Test(txnlog, empty_log)
{
    cr_assert_eq(txnlog_last_zxid(lg), 0);
    cr_assert_eq(txnlog_count(lg), 0);
    cr_assert_eq(txnlog_has_pending(lg), 0);
    assert_log_is(0, NULL, 0);
    cr_assert_eq(txnlog_commit(lg), TXNLOG_OK, "committing nothing is fine");
    cr_assert_eq(txnlog_last_zxid(lg), 0);
    cr_assert_str_eq(txnlog_errmsg(lg), "");
}

Test(txnlog, append_commit_read_after_in_order)
{
    const int64_t z[] = {1, 2, 3, 0x100000001LL, 0x100000002LL, 0x200000001LL};
    for (size_t i = 0; i < 3; i++)
        append_ok(z[i]);
    cr_assert_eq(txnlog_has_pending(lg), 1);
    /* uncommitted records are not durable and not visible */
    cr_assert_eq(txnlog_last_zxid(lg), 0);
    commit_ok();
    cr_assert_eq(txnlog_has_pending(lg), 0);
    cr_assert_eq(txnlog_last_zxid(lg), 3);
    for (size_t i = 3; i < 6; i++)
        append_ok(z[i]);
    commit_ok();
    cr_assert_eq(txnlog_last_zxid(lg), 0x200000001LL);
    cr_assert_eq(txnlog_count(lg), 6);
    assert_log_is(0, z, 6);
    assert_log_is(2, z + 2, 4);
    assert_log_is(3, z + 3, 3);
    assert_log_is(4, z + 3, 3); /* a zxid between records */
    assert_log_is(0x100000002LL, z + 5, 1);
    assert_log_is(0x200000001LL, NULL, 0);
    assert_log_is(0x7fffffff00000000LL, NULL, 0);
}

Test(txnlog, read_after_callback_stop_value_is_returned)
{
    for (int64_t z = 1; z <= 10; z++)
        append_ok(z);
    commit_ok();
    struct collect c = {.stop_at = 3};
    int rc = txnlog_read_after(lg, 0, collect_fn, &c);
    cr_assert_eq(rc, 7);
    cr_assert_eq(c.n, 3);
    cr_assert_eq(c.zxids[2], 3);
}

static const size_t rs_sizes[] = {0, 1, 100, 4000, 4096, 70000, 2 << 20};

struct rs_ctx {
    size_t n;
    int bad;
    const uint8_t *big;
};

static int rs_visit(void *ctx, int64_t zxid, const void *rec, size_t len)
{
    struct rs_ctx *c = ctx;
    if (c->n >= sizeof rs_sizes / sizeof rs_sizes[0] || zxid != (int64_t)c->n + 1 ||
        len != rs_sizes[c->n] || (len && memcmp(rec, c->big, len)))
        c->bad++;
    c->n++;
    return 0;
}

Test(txnlog, record_sizes_including_empty_and_large)
{
    size_t n = sizeof rs_sizes / sizeof rs_sizes[0];
    uint8_t *big = malloc(2 << 20);
    for (size_t i = 0; i < (2u << 20); i++)
        big[i] = (uint8_t)(i * 13 + 1);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(txnlog_append(lg, (int64_t)i + 1, big, rs_sizes[i]), TXNLOG_OK);
    commit_ok();
    reopen_log();
    struct rs_ctx ctx = {0, 0, big};
    cr_assert_eq(txnlog_read_after(lg, 0, rs_visit, &ctx), TXNLOG_OK);
    cr_assert_eq(ctx.n, n);
    cr_assert_eq(ctx.bad, 0);
    free(big);
}

Test(txnlog, abort_drops_the_batch)
{
    append_ok(1);
    append_ok(2);
    commit_ok();
    append_ok(3);
    append_ok(4);
    cr_assert_eq(txnlog_has_pending(lg), 1);
    txnlog_abort(lg);
    cr_assert_eq(txnlog_has_pending(lg), 0);
    cr_assert_eq(txnlog_last_zxid(lg), 2);
    cr_assert_eq(txnlog_count(lg), 2);
    const int64_t want[] = {1, 2};
    assert_log_is(0, want, 2);
    /* the dropped zxids may be reused */
    append_ok(3);
    commit_ok();
    const int64_t want2[] = {1, 2, 3};
    assert_log_is(0, want2, 3);
    txnlog_abort(lg); /* abort with nothing pending is a no-op */
    cr_assert_eq(txnlog_last_zxid(lg), 3);
}

Test(txnlog, close_with_pending_batch_drops_it)
{
    append_ok(1);
    commit_ok();
    append_ok(2);
    reopen_log();
    cr_assert_eq(txnlog_last_zxid(lg), 1);
    cr_assert_eq(txnlog_count(lg), 1);
}

Test(txnlog, records_survive_close_and_reopen)
{
    int64_t want[100];
    for (int i = 0; i < 100; i++) {
        want[i] = 0x300000000LL + i + 1;
        append_ok(want[i]);
        if (i % 25 == 24)
            commit_ok();
    }
    reopen_log();
    cr_assert_eq(txnlog_last_zxid(lg), 0x300000064LL);
    cr_assert_eq(txnlog_count(lg), 100);
    assert_log_is(0, want, 100);
    /* and appends continue after the reloaded last zxid */
    append_ok(0x300000065LL);
    commit_ok();
    cr_assert_eq(txnlog_last_zxid(lg), 0x300000065LL);
}

Test(txnlog, truncate_after_removes_suffix)
{
    for (int64_t z = 1; z <= 10; z++)
        append_ok(z);
    commit_ok();
    cr_assert_eq(txnlog_truncate_after(lg, 6), TXNLOG_OK);
    cr_assert_eq(txnlog_last_zxid(lg), 6);
    cr_assert_eq(txnlog_count(lg), 6);
    const int64_t want[] = {1, 2, 3, 4, 5, 6};
    assert_log_is(0, want, 6);
    /* truncating at or above the end changes nothing */
    cr_assert_eq(txnlog_truncate_after(lg, 6), TXNLOG_OK);
    cr_assert_eq(txnlog_truncate_after(lg, 100), TXNLOG_OK);
    cr_assert_eq(txnlog_count(lg), 6);
    cr_assert_eq(txnlog_last_zxid(lg), 6);
    /* new records may take the truncated zxids */
    append_ok(7);
    commit_ok();
    cr_assert_eq(txnlog_last_zxid(lg), 7);
    reopen_log();
    cr_assert_eq(txnlog_last_zxid(lg), 7);
    cr_assert_eq(txnlog_count(lg), 7);
}

Test(txnlog, truncate_after_a_gap_zxid)
{
    const int64_t z[] = {10, 20, 30, 40};
    for (int i = 0; i < 4; i++)
        append_ok(z[i]);
    commit_ok();
    cr_assert_eq(txnlog_truncate_after(lg, 25), TXNLOG_OK);
    cr_assert_eq(txnlog_last_zxid(lg), 20, "last_zxid follows the highest remaining record");
    assert_log_is(0, z, 2);
}

Test(txnlog, truncate_after_zero_empties_the_log)
{
    for (int64_t z = 1; z <= 5; z++)
        append_ok(z);
    commit_ok();
    cr_assert_eq(txnlog_truncate_after(lg, 0), TXNLOG_OK);
    cr_assert_eq(txnlog_last_zxid(lg), 0);
    cr_assert_eq(txnlog_count(lg), 0);
    assert_log_is(0, NULL, 0);
    append_ok(1);
    commit_ok();
    cr_assert_eq(txnlog_last_zxid(lg), 1);
}

Test(txnlog, truncate_after_int64_max_is_a_noop)
{
    for (int64_t z = 1; z <= 3; z++)
        append_ok(z);
    commit_ok();
    cr_assert_eq(txnlog_truncate_after(lg, INT64_MAX), TXNLOG_OK);
    cr_assert_eq(txnlog_count(lg), 3);
    cr_assert_eq(txnlog_last_zxid(lg), 3);
}

Test(txnlog, read_after_extreme_bounds)
{
    const int64_t z[] = {1, 2, 0x100000000LL};
    for (int i = 0; i < 3; i++)
        append_ok(z[i]);
    commit_ok();
    assert_log_is(-1, z, 3);
    assert_log_is(-5, z, 3);        /* every record has zxid > -5 */
    assert_log_is(INT64_MIN, z, 3);
    assert_log_is(INT64_MAX, NULL, 0);
}

Test(txnlog, truncate_after_drops_pending_batch)
{
    for (int64_t z = 1; z <= 3; z++)
        append_ok(z);
    commit_ok();
    append_ok(4);
    append_ok(5);
    cr_assert_eq(txnlog_truncate_after(lg, 2), TXNLOG_OK);
    cr_assert_eq(txnlog_has_pending(lg), 0);
    cr_assert_eq(txnlog_last_zxid(lg), 2);
    cr_assert_eq(txnlog_count(lg), 2);
    append_ok(3); /* batch state follows the truncated log */
    commit_ok();
    cr_assert_eq(txnlog_last_zxid(lg), 3);
}

Test(txnlog, purge_through_removes_prefix)
{
    for (int64_t z = 1; z <= 10; z++)
        append_ok(z);
    commit_ok();
    cr_assert_eq(txnlog_purge_through(lg, 4), TXNLOG_OK);
    cr_assert_eq(txnlog_count(lg), 6, "records 1..4 must be purged");
    const int64_t want[] = {5, 6, 7, 8, 9, 10};
    assert_log_is(0, want, 6);
    cr_assert_eq(txnlog_last_zxid(lg), 10);
}

Test(txnlog, purge_through_everything_keeps_last_zxid)
{
    for (int64_t z = 0x100000001LL; z <= 0x100000005LL; z++)
        append_ok(z);
    commit_ok();
    cr_assert_eq(txnlog_purge_through(lg, 0x100000005LL), TXNLOG_OK);
    cr_assert_eq(txnlog_count(lg), 0);
    cr_assert_eq(txnlog_last_zxid(lg), 0x100000005LL,
                 "in-memory last zxid stays (a snapshot covers it)");
    assert_log_is(0, NULL, 0);
}

Test(txnlog, purge_through_below_first_is_noop)
{
    for (int64_t z = 5; z <= 7; z++)
        append_ok(z);
    commit_ok();
    cr_assert_eq(txnlog_purge_through(lg, 4), TXNLOG_OK);
    cr_assert_eq(txnlog_count(lg), 3);
    cr_assert_eq(txnlog_purge_through(lg, 0), TXNLOG_OK);
    cr_assert_eq(txnlog_count(lg), 3);
}

Test(txnlog, purge_through_with_pending_batch_defers)
{
    for (int64_t z = 1; z <= 4; z++)
        append_ok(z);
    commit_ok();
    append_ok(5);
    cr_assert_eq(txnlog_purge_through(lg, 3), TXNLOG_OK);
    cr_assert_eq(txnlog_has_pending(lg), 1, "the client batch is untouched");
    commit_ok();
    cr_assert_eq(txnlog_count(lg), 5, "nothing purged while a batch was open");
}

Test(txnlog, count_tracks_commits)
{
    for (int b = 0; b < 5; b++) {
        for (int i = 0; i < 20; i++)
            append_ok(b * 20 + i + 1);
        cr_assert_eq(txnlog_count(lg), (size_t)b * 20, "pending records are not counted");
        commit_ok();
        cr_assert_eq(txnlog_count(lg), (size_t)(b + 1) * 20);
    }
}

/* ---- programmer errors abort ---- */

/* .fini does not run when the test process aborts: remove the directory first (the open
 * environment keeps working on the unlinked files). */
static void unlink_dir_now(void) { rm_tree(dir); }

Test(txnlog, append_at_last_durable_zxid_aborts, .signal = SIGABRT)
{
    append_ok(5);
    commit_ok();
    unlink_dir_now();
    txnlog_append(lg, 5, "x", 1);
}

Test(txnlog, append_below_last_durable_zxid_aborts, .signal = SIGABRT)
{
    append_ok(5);
    commit_ok();
    unlink_dir_now();
    txnlog_append(lg, 3, "x", 1);
}

Test(txnlog, append_not_increasing_within_batch_aborts, .signal = SIGABRT)
{
    append_ok(5);
    append_ok(6);
    unlink_dir_now();
    txnlog_append(lg, 6, "x", 1);
}

Test(txnlog, append_below_durable_after_reopen_aborts, .signal = SIGABRT)
{
    append_ok(9);
    commit_ok();
    reopen_log();
    unlink_dir_now();
    txnlog_append(lg, 2, "x", 1);
}

/* ---- full map ---- */

/* Open a 1 MiB log in its own subdirectory, commit records 1..10, then append records of
 * rec_size bytes in batches of `batch` until TXNLOG_EFULL. Checks that nothing of the failed batch
 * became durable and that the earlier records are intact. Returns 1 if the failure surfaced at
 * txnlog_commit, 0 if at txnlog_append. */
static int fill_until_full(size_t rec_size, int batch)
{
    txnlog_close(lg);
    lg = NULL;
    char sub[400];
    snprintf(sub, sizeof sub, "%s/full-%zu-%d", dir, rec_size, batch);
    char err[TXNLOG_ERRMSG_SIZE] = "";
    cr_assert_eq(txnlog_open(&lg, sub, (size_t)1 << 20, err, sizeof err), TXNLOG_OK, "%s", err);
    for (int64_t z = 1; z <= 10; z++)
        append_ok(z);
    commit_ok();
    cr_assert_eq(txnlog_last_zxid(lg), 10);

    static uint8_t val[4096];
    memset(val, 0x5c, sizeof val);
    cr_assert_leq(rec_size, sizeof val);
    int rc = TXNLOG_OK, in_commit = 0;
    int64_t z = 11;
    for (; z < 11 + 200000; z++) {
        rc = txnlog_append(lg, z, val, rec_size);
        if (rc != TXNLOG_OK)
            break;
        if ((z - 10) % batch == 0) {
            int64_t before = txnlog_last_zxid(lg);
            rc = txnlog_commit(lg);
            if (rc != TXNLOG_OK) {
                in_commit = 1;
                cr_assert_eq(txnlog_last_zxid(lg), before, "last_zxid unchanged by a failed commit");
                break;
            }
            cr_assert_eq(txnlog_last_zxid(lg), z);
        }
    }
    cr_assert_eq(rc, TXNLOG_EFULL, "size %zu batch %d: expected TXNLOG_EFULL, got %d (%s)",
                 rec_size, batch, rc, txnlog_errmsg(lg));
    cr_assert_neq(txnlog_errmsg(lg)[0], '\0', "a message says what failed");
    cr_assert_eq(txnlog_has_pending(lg), 0, "the failed batch is dropped");
    int64_t last = txnlog_last_zxid(lg);
    cr_assert_geq(last, 10);
    cr_assert_lt(last, z, "nothing of the failed batch is durable");
    cr_assert_eq((last - 10) % batch, 0, "only whole batches are durable (last %lld)",
                 (long long)last);
    size_t count = txnlog_count(lg);
    cr_assert_eq(count, (size_t)last, "records 1..%lld and nothing else", (long long)last);

    /* the earlier durable records are still readable */
    struct collect c = {.stop_at = 10};
    cr_assert_eq(txnlog_read_after(lg, 0, collect_fn, &c), 7);
    cr_assert_eq(c.bad_content, 0);
    cr_assert_eq(c.zxids[0], 1);
    cr_assert_eq(c.zxids[9], 10);

    /* after reopening, the log agrees */
    txnlog_close(lg);
    lg = NULL;
    cr_assert_eq(txnlog_open(&lg, sub, (size_t)1 << 20, err, sizeof err), TXNLOG_OK, "%s", err);
    cr_assert_eq(txnlog_last_zxid(lg), last);
    cr_assert_eq(txnlog_count(lg), count);

    /* and making room lets writes continue */
    cr_assert_eq(txnlog_truncate_after(lg, 10), TXNLOG_OK);
    append_ok(11);
    commit_ok();
    cr_assert_eq(txnlog_last_zxid(lg), 11);
    txnlog_close(lg);
    lg = NULL;
    rm_tree(sub);
    open_log(MAP_64M);
    return in_commit;
}

Test(txnlog, full_map_drops_batch_at_append)
{
    /* 100 x 1000-byte batches: the batch that does not fit fails while appending */
    fill_until_full(1000, 100);
}

Test(txnlog, full_map_drops_batch_at_commit_or_append)
{
    /* With small batches of near-page-half records the map usually runs out inside
     * mdb_txn_commit (freelist/meta pages); both outcomes must leave the same state, and at
     * least one of these shapes must exercise the commit path. */
    static const struct { size_t size; int batch; } shapes[] = {
        {1950, 16}, {1465, 16}, {204, 64}, {398, 16},
    };
    int commit_failures = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        commit_failures += fill_until_full(shapes[i].size, shapes[i].batch);
    cr_assert_gt(commit_failures, 0, "no shape failed inside txnlog_commit");
}

/* ---- meta ---- */

Test(txnlog, meta_put_get_default)
{
    cr_assert_eq(txnlog_meta_get(lg, "acceptedEpoch", -1), -1);
    cr_assert_eq(txnlog_meta_get(lg, "acceptedEpoch", 42), 42);
    cr_assert_eq(txnlog_meta_put(lg, "acceptedEpoch", 3), TXNLOG_OK);
    cr_assert_eq(txnlog_meta_put(lg, "currentEpoch", 0x123456789abLL), TXNLOG_OK);
    cr_assert_eq(txnlog_meta_put(lg, "neg", -5), TXNLOG_OK);
    cr_assert_eq(txnlog_meta_put(lg, "min", INT64_MIN), TXNLOG_OK);
    cr_assert_eq(txnlog_meta_get(lg, "acceptedEpoch", -1), 3);
    cr_assert_eq(txnlog_meta_get(lg, "currentEpoch", -1), 0x123456789abLL);
    cr_assert_eq(txnlog_meta_get(lg, "neg", 0), -5);
    cr_assert_eq(txnlog_meta_get(lg, "min", 0), INT64_MIN);
    cr_assert_eq(txnlog_meta_get(lg, "accepted", 99), 99, "no prefix matching");
    cr_assert_eq(txnlog_meta_get(lg, "acceptedEpochX", 98), 98);
    cr_assert_eq(txnlog_meta_put(lg, "acceptedEpoch", 4), TXNLOG_OK);
    cr_assert_eq(txnlog_meta_get(lg, "acceptedEpoch", -1), 4);
    reopen_log();
    cr_assert_eq(txnlog_meta_get(lg, "acceptedEpoch", -1), 4);
    cr_assert_eq(txnlog_meta_get(lg, "currentEpoch", -1), 0x123456789abLL);
    cr_assert_eq(txnlog_meta_get(lg, "neg", 0), -5);
    /* meta does not touch the log */
    cr_assert_eq(txnlog_count(lg), 0);
    cr_assert_eq(txnlog_last_zxid(lg), 0);
}

/* ---- open / misc ---- */

Test(txnlog, open_fails_with_message_when_dir_cannot_be_created)
{
    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such/parent", dir);
    struct txnlog *other = NULL;
    char err[TXNLOG_ERRMSG_SIZE] = "";
    int rc = txnlog_open(&other, bad, MAP_64M, err, sizeof err);
    cr_assert_eq(rc, TXNLOG_EIO);
    cr_assert_null(other);
    cr_assert_not_null(strstr(err, "mkdir"), "message: %s", err);
    cr_assert_not_null(strstr(err, bad), "message names the path: %s", err);
}

Test(txnlog, open_creates_missing_dir)
{
    txnlog_close(lg);
    lg = NULL;
    char sub[400];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    char err[TXNLOG_ERRMSG_SIZE];
    struct txnlog *l2 = NULL;
    cr_assert_eq(txnlog_open(&l2, sub, MAP_64M, err, sizeof err), TXNLOG_OK, "%s", err);
    cr_assert_eq(txnlog_append(l2, 1, "a", 1), TXNLOG_OK);
    cr_assert_eq(txnlog_commit(l2), TXNLOG_OK);
    cr_assert_gt(txnlog_disk_bytes(l2), 0);
    txnlog_close(l2);
    open_log(MAP_64M);
    cr_assert_eq(txnlog_count(lg), 0, "a different directory is a different log");
}

Test(txnlog, close_null_is_noop)
{
    txnlog_close(NULL);
}
