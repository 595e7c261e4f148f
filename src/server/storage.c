/* A member's disk (see storage.h): the LMDB log behind the log writer thread, the epochs, and
 * the snapshot files written by a forked child. */
#include "server/storage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"
#include "proto/jute.h"
#include "server/logwriter.h"
#include "server/snapshotter.h"
#include "store/snapfile.h"
#include "store/store.h"
#include "store/txnlog.h"

#define META_ACCEPTED "acceptedEpoch"
#define META_CURRENT "currentEpoch"
#define META_COMMITTED "committedZxid" /* everything up to here is known committed */
#define META_BOOTS "boots"
#define UNSYNCED_MAX_BYTES (512u << 20)
#define LOG_RETRY_MS 100
#define SNAP_KEEP 2            /* finished snapshot files kept (the newest may be in transfer) */
#define SNAP_RETRY_MIN_MS 5000 /* after a failed snapshot (disk full), doubling to a minute */
#define SNAP_RETRY_MAX_MS 60000

struct storage {
    struct txnlog *log;
    struct logwriter *writer;
    struct snapshotter *snapper;
    char snap_dir[1100];
    /* Records flow: storage_append adds them to unsynced; storage_flush hands unsynced to the
     * writer thread (it becomes inflight) and, once that batch is durable, durable_zxid moves.
     * A failed batch goes back in front of unsynced and is retried: nothing is acknowledged
     * meanwhile and nothing is lost. */
    struct jute_writer unsynced;
    struct jute_writer inflight;
    int64_t unsynced_last_zxid;
    int64_t durable_zxid;
    int64_t retry_at_ms;
    bool failure_reported;
    int64_t purge_target;   /* purge the log up to here (behind the newest snapshot); -1 none */
    int64_t purged_through;
    int64_t snap_latest;    /* newest finished snapshot, -1 none */
    int64_t snap_retry_at_ms;
    int64_t snap_backoff_ms;
    uint64_t fsyncs;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_batch_done(void *ctx);
static void set_purge_target(struct storage *s);

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        ZK_ERROR("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int storage_open(struct storage **out, struct event_base *base, const struct storage_config *cfg)
{
    *out = NULL;
    struct storage *s = zk_calloc(1, sizeof *s);
    if (!s)
        return -1;
    jw_init(&s->unsynced);
    jw_init(&s->inflight);
    s->purge_target = s->purged_through = s->snap_latest = -1;
    snprintf(s->snap_dir, sizeof s->snap_dir, "%s/zabkeeper-snap", cfg->data_dir);
    char dir[1100], err[TXNLOG_ERRMSG_SIZE];
    snprintf(dir, sizeof dir, "%s/zabkeeper-log", cfg->log_dir);
    if (make_dir(cfg->data_dir) || make_dir(cfg->log_dir) || make_dir(s->snap_dir))
        goto fail;
    if (txnlog_open(&s->log, dir, (size_t)cfg->lmdb_map_bytes, err, sizeof err) != TXNLOG_OK) {
        ZK_ERROR("cannot open the transaction log in %s: %s", dir, err);
        goto fail;
    }
    s->writer = logwriter_new(base, s->log, on_batch_done, s);
    s->snapper = snapshotter_new(s->snap_dir);
    if (!s->writer || !s->snapper) {
        ZK_ERROR("cannot start the log writer thread");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    storage_close(s);
    return -1;
}

static void collect_batch(struct storage *s);

void storage_close(struct storage *s)
{
    if (!s)
        return;
    if (s->writer) {
        logwriter_wait_idle(s->writer);
        collect_batch(s);
        logwriter_free(s->writer);
    }
    snapshotter_free(s->snapper);
    txnlog_close(s->log);
    jw_free(&s->unsynced);
    jw_free(&s->inflight);
    zk_free(s);
}

/* ---- recovery ---- */

struct load_ctx {
    struct store_loader *loader;
};

static int feed_loader(void *ctx, const void *p, size_t len)
{
    return store_loader_feed(((struct load_ctx *)ctx)->loader, p, len);
}

/* Load snapshot file zxid into st; 0, or -1 with st unchanged. */
static int load_snapshot_file(struct storage *s, struct store *st, int64_t zxid)
{
    struct load_ctx lc = {store_loader_new()};
    char err[SNAPFILE_ERRMSG_SIZE] = "out of memory";
    int rc = lc.loader ? snapfile_read(s->snap_dir, zxid, feed_loader, &lc, err, sizeof err) : -1;
    if (rc == 0 && store_loader_zxid(lc.loader) != zxid) {
        snprintf(err, sizeof err, "its content is at another zxid");
        rc = -1;
    }
    if (rc == 0 && store_loader_finish(lc.loader, st) != 0) {
        snprintf(err, sizeof err, "its content is invalid");
        rc = -1;
    }
    store_loader_free(lc.loader);
    if (rc != 0)
        ZK_ERROR("snapshot file at zxid 0x%llx in %s: %s", (unsigned long long)zxid,
                 s->snap_dir, err);
    return rc;
}

/* A snapshot kept in the LMDB environment by earlier versions (and by --import-zookeeper). */
static int load_legacy_snapshot(struct storage *s, struct store *st)
{
    int64_t zxid;
    void *data;
    size_t len;
    if (txnlog_snapshot_latest(s->log, &zxid, &data, &len) != TXNLOG_OK) {
        ZK_ERROR("reading snapshot: %s", txnlog_errmsg(s->log));
        return -1;
    }
    if (!data)
        return 0;
    int rc = store_snapshot_read(st, data, len);
    zk_free(data);
    if (rc != 0)
        ZK_ERROR("snapshot 0x%llx in the log is corrupt; refusing to start",
                 (unsigned long long)zxid);
    return rc;
}

/* The newest snapshot that loads; an older one only if the log still covers the gap. */
static int load_newest_snapshot(struct storage *s, struct store *st)
{
    int64_t zxids[SNAP_KEEP + 8];
    int n = snapfile_list(s->snap_dir, zxids, SNAP_KEEP + 8);
    if (n < 0) {
        ZK_ERROR("cannot list %s: %s", s->snap_dir, strerror(errno));
        return -1;
    }
    if (n == 0)
        return load_legacy_snapshot(s, st);
    int64_t first_logged = -1;
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            if (first_logged < 0 && txnlog_first_zxid(s->log, &first_logged) != TXNLOG_OK)
                return -1;
            if (first_logged > zxids[i] + 1 || first_logged == 0) {
                ZK_ERROR("the log does not reach back to snapshot 0x%llx; refusing to start",
                         (unsigned long long)zxids[i]);
                return -1;
            }
        }
        if (load_snapshot_file(s, st, zxids[i]) == 0) {
            s->snap_latest = zxids[i];
            ZK_INFO("loaded snapshot at zxid 0x%llx (%zu znodes)", (unsigned long long)zxids[i],
                    store_node_count(st));
            return 0;
        }
    }
    ZK_ERROR("no snapshot file in %s loads; refusing to start", s->snap_dir);
    return -1;
}

/* Write st as a snapshot file now, from the caller's thread (only for small states: the first
 * start, or a state migrated from an earlier layout). */
static int write_snapshot_now(struct storage *s, const struct store *st)
{
    char err[SNAPFILE_ERRMSG_SIZE];
    struct snapfile_writer *w;
    int64_t zxid = store_last_zxid(st);
    if (snapfile_create(&w, s->snap_dir, zxid, err, sizeof err) != 0)
        goto fail;
    if (store_snapshot_write(st, snapfile_write, w) != 0) {
        snapfile_abort(w);
        snprintf(err, sizeof err, "write failed");
        goto fail;
    }
    if (snapfile_commit(w, err, sizeof err) != 0)
        goto fail;
    s->snap_latest = zxid;
    return 0;
fail:
    ZK_ERROR("cannot write the first snapshot in %s: %s", s->snap_dir, err);
    return -1;
}

int storage_recover(struct storage *s, struct store *st, struct storage_recovered *out,
                    int (*fn)(void *ctx, int64_t zxid, const void *rec, size_t len), void *ctx)
{
    if (load_newest_snapshot(s, st) != 0)
        return -1;
    /* There is always a snapshot the log starts after, so a leader can always stream one. */
    if (s->snap_latest < 0 && write_snapshot_now(s, st) != 0)
        return -1;
    out->accepted_epoch = (uint32_t)txnlog_meta_get(s->log, META_ACCEPTED, 0);
    out->current_epoch = (uint32_t)txnlog_meta_get(s->log, META_CURRENT, 0);
    out->committed = txnlog_meta_get(s->log, META_COMMITTED, 0);
    /* A boot count, durable before the core runs, keeps sync-session nonces unique. */
    int64_t boots = txnlog_meta_get(s->log, META_BOOTS, 0) + 1;
    if (txnlog_meta_put(s->log, META_BOOTS, boots) != TXNLOG_OK) {
        ZK_ERROR("cannot record the boot count: %s", txnlog_errmsg(s->log));
        return -1;
    }
    out->incarnation = (uint64_t)boots;
    int rc = txnlog_read_after(s->log, store_last_zxid(st), fn, ctx);
    if (rc != 0) {
        ZK_ERROR("reading the log failed (%d): %s", rc, txnlog_errmsg(s->log));
        return -1;
    }
    s->durable_zxid = s->unsynced_last_zxid = txnlog_last_zxid(s->log) > store_last_zxid(st)
                                                  ? txnlog_last_zxid(s->log)
                                                  : store_last_zxid(st);
    set_purge_target(s);
    return 0;
}

/* ---- the log ---- */

static void note_failure(struct storage *s, int rc)
{
    if (!s->failure_reported)
        ZK_ERROR("log commit failed (%d): %s; writes wait (nothing is acknowledged) and the "
                 "batch is retried", rc, txnlog_errmsg(s->log));
    s->failure_reported = true;
    s->retry_at_ms = mono_ms() + LOG_RETRY_MS;
}

static void note_success(struct storage *s, int64_t last_zxid)
{
    if (last_zxid > s->durable_zxid)
        s->durable_zxid = last_zxid;
    if (s->failure_reported)
        ZK_INFO("the log accepts writes again");
    s->failure_reported = false;
}

/* Take the writer's result, if a batch finished. A failed batch is put back in front. */
static void collect_batch(struct storage *s)
{
    struct logwriter_result res = logwriter_collect(s->writer);
    if (!res.done)
        return;
    if (res.rc == TXNLOG_OK) {
        note_success(s, res.last_zxid);
        if (res.purged_through > s->purged_through)
            s->purged_through = res.purged_through;
        jw_reset(&s->inflight);
        return;
    }
    note_failure(s, res.rc);
    jw_raw(&s->inflight, s->unsynced.data, s->unsynced.len); /* inflight + unsynced */
    struct jute_writer tmp = s->unsynced;
    s->unsynced = s->inflight;
    s->inflight = tmp;
    jw_reset(&s->inflight);
    if (s->unsynced.err) {
        ZK_ERROR("out of memory keeping unsynced log entries; exiting");
        abort();
    }
}

static void on_batch_done(void *ctx) { collect_batch(ctx); }

int storage_append(struct storage *s, int64_t zxid, const void *rec, size_t len)
{
    ZK_ASSERT(zxid > s->unsynced_last_zxid);
    logwriter_batch_add(&s->unsynced, zxid, rec, len);
    if (s->unsynced.err || s->unsynced.len > UNSYNCED_MAX_BYTES) {
        ZK_ERROR("cannot hold more unsynced log entries (disk still failing?)");
        return -1;
    }
    s->unsynced_last_zxid = zxid;
    return 0;
}

static bool purge_pending(const struct storage *s)
{
    return s->purge_target > s->purged_through;
}

void storage_flush(struct storage *s, int64_t committed_mark)
{
    collect_batch(s);
    if ((!s->unsynced.len && !purge_pending(s)) || logwriter_busy(s->writer) ||
        mono_ms() < s->retry_at_ms)
        return;
    struct jute_writer tmp = s->inflight; /* empty */
    s->inflight = s->unsynced;
    s->unsynced = tmp;
    s->fsyncs++;
    struct logwriter_job job = {&s->inflight, s->unsynced_last_zxid, committed_mark,
                                purge_pending(s) ? s->purge_target : -1};
    logwriter_submit(s->writer, &job);
}

int64_t storage_durable_zxid(const struct storage *s) { return s->durable_zxid; }
int64_t storage_last_zxid(const struct storage *s) { return s->unsynced_last_zxid; }

static int append_record(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len)
{
    return txnlog_append(ctx, zxid, p, len);
}

/* Make LMDB the caller's again: wait for the writer and put every unsynced record into a batch
 * of the caller's own, to be committed with whatever the caller stages next. */
static int quiesce(struct storage *s)
{
    logwriter_wait_idle(s->writer);
    collect_batch(s);
    if (logwriter_each_record(&s->unsynced, append_record, s->log) != TXNLOG_OK) {
        ZK_ERROR("cannot stage unsynced records: %s", txnlog_errmsg(s->log));
        return -1;
    }
    return 0;
}

static int commit_now(struct storage *s, int64_t committed, const char *what)
{
    if (txnlog_stage_meta(s->log, META_COMMITTED, committed) != TXNLOG_OK ||
        txnlog_commit(s->log) != TXNLOG_OK) {
        ZK_ERROR("cannot persist %s: %s", what, txnlog_errmsg(s->log));
        return -1;
    }
    s->fsyncs++;
    if (s->unsynced.len)
        note_success(s, s->unsynced_last_zxid);
    jw_reset(&s->unsynced);
    return 0;
}

int storage_set_epochs(struct storage *s, int64_t accepted, int64_t current, int64_t committed)
{
    if (quiesce(s) != 0)
        return -1;
    int rc = TXNLOG_OK;
    if (accepted >= 0)
        rc = txnlog_stage_meta(s->log, META_ACCEPTED, accepted);
    if (rc == TXNLOG_OK && current >= 0)
        rc = txnlog_stage_meta(s->log, META_CURRENT, current);
    if (rc != TXNLOG_OK) {
        ZK_ERROR("cannot stage the epoch: %s", txnlog_errmsg(s->log));
        return -1;
    }
    return commit_now(s, committed, "the epoch");
}

int storage_truncate_after(struct storage *s, int64_t zxid, int64_t committed)
{
    if (quiesce(s) != 0 || commit_now(s, committed, "the log before a truncation") != 0)
        return -1;
    if (txnlog_truncate_after(s->log, zxid) != TXNLOG_OK) {
        ZK_ERROR("cannot truncate the log: %s", txnlog_errmsg(s->log));
        return -1;
    }
    if (s->durable_zxid > zxid)
        s->durable_zxid = zxid;
    s->unsynced_last_zxid = zxid;
    ZK_INFO("log truncated after zxid 0x%llx", (unsigned long long)zxid);
    return 0;
}

int storage_read_after(struct storage *s, int64_t after,
                       int (*fn)(void *ctx, int64_t zxid, const void *rec, size_t len),
                       void *ctx)
{
    return txnlog_read_after(s->log, after, fn, ctx);
}

/* ---- snapshots ---- */

int storage_snapshot_start(struct storage *s, const struct store *st)
{
    if (snapshotter_busy(s->snapper) || mono_ms() < s->snap_retry_at_ms)
        return -1;
    if (store_last_zxid(st) <= s->snap_latest)
        return -1; /* nothing new to write */
    return snapshotter_start(s->snapper, st);
}

bool storage_snapshot_running(const struct storage *s) { return snapshotter_busy(s->snapper); }
int64_t storage_snapshot_latest(const struct storage *s) { return s->snap_latest; }
const char *storage_snapshot_dir(const struct storage *s) { return s->snap_dir; }

/* Keep the log back to the older of the kept snapshots, so that a newest file found damaged at
 * a restart never leaves a gap; the next snapshot moves the mark on. */
static void set_purge_target(struct storage *s)
{
    int64_t zxids[SNAP_KEEP];
    int n = snapfile_list(s->snap_dir, zxids, SNAP_KEEP);
    s->purge_target = n > 0 ? zxids[n - 1] : -1;
}

static void snapshot_done(struct storage *s, int64_t zxid, int64_t ms)
{
    s->snap_latest = zxid;
    s->snap_backoff_ms = 0;
    snapfile_prune(s->snap_dir, SNAP_KEEP);
    set_purge_target(s);
    ZK_INFO("snapshot at zxid 0x%llx written in %lld ms (off the loop)",
            (unsigned long long)zxid, (long long)ms);
}

static void snapshot_failed(struct storage *s, int64_t zxid)
{
    int64_t backoff = s->snap_backoff_ms ? s->snap_backoff_ms * 2 : SNAP_RETRY_MIN_MS;
    s->snap_backoff_ms = backoff > SNAP_RETRY_MAX_MS ? SNAP_RETRY_MAX_MS : backoff;
    s->snap_retry_at_ms = mono_ms() + s->snap_backoff_ms;
    ZK_ERROR_RL("snapshot at zxid 0x%llx failed (see above); the log keeps everything since "
                "the last one; retrying in %lld ms", (unsigned long long)zxid,
                (long long)s->snap_backoff_ms);
}

int storage_poll(struct storage *s)
{
    int64_t zxid, ms;
    int r = snapshotter_poll(s->snapper, &zxid, &ms);
    if (r > 0)
        snapshot_done(s, zxid, ms);
    else if (r < 0)
        snapshot_failed(s, zxid);
    /* LMDB's copy-on-write reads every commit's fresh pages through its map (~5 pages a
     * commit): release them each tick so they never pile up in RSS. */
    txnlog_release_memory(s->log);
    return r > 0;
}

/* ---- installing a leader's snapshot ---- */

static int reset_log_to(struct storage *s, int64_t snap_zxid, const void *const *recs,
                        const size_t *lens, const int64_t *zxids, size_t n, int64_t target)
{
    if (quiesce(s) != 0 || commit_now(s, s->durable_zxid, "the log before an install") != 0 ||
        txnlog_truncate_after(s->log, 0) != TXNLOG_OK) {
        ZK_ERROR("cannot empty the log: %s", txnlog_errmsg(s->log));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (txnlog_append(s->log, zxids[i], recs[i], lens[i]) != TXNLOG_OK) {
            ZK_ERROR("cannot log record 0x%llx: %s", (unsigned long long)zxids[i],
                     txnlog_errmsg(s->log));
            return -1;
        }
    }
    if (commit_now(s, target, "the installed state") != 0)
        return -1;
    s->durable_zxid = s->unsynced_last_zxid = target;
    s->snap_latest = snap_zxid;
    s->purge_target = s->purged_through = -1;
    snapfile_prune(s->snap_dir, 1);
    return 0;
}

int storage_install(struct storage *s, struct store *st, int64_t snap_zxid,
                    const void *const *recs, const size_t *lens, const int64_t *zxids, size_t n,
                    int (*apply)(void *ctx, int64_t zxid, const void *rec, size_t len),
                    void *ctx)
{
    if (load_snapshot_file(s, st, snap_zxid) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (apply(ctx, zxids[i], recs[i], lens[i]) != 0)
            return -1;
    int64_t target = n ? zxids[n - 1] : snap_zxid;
    /* Durable order: the snapshot file is already in place (fsync'd, renamed); now the log is
     * replaced by the records after it and the committed mark, in one commit. A crash before
     * that commit recovers from this snapshot plus the old log's committed part, which the
     * leader's history contains. */
    return reset_log_to(s, snap_zxid, recs, lens, zxids, n, target);
}

uint64_t storage_disk_bytes(struct storage *s) { return txnlog_disk_bytes(s->log); }
uint64_t storage_fsyncs(const struct storage *s) { return s->fsyncs; }
