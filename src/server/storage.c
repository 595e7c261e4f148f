/* A member's disk (see storage.h): the durable log (durablelog.c), the epochs, and the snapshot
 * files written by a forked child. */
#include "server/storage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/fsdir.h"
#include "common/hist.h"
#include "common/log.h"
#include "proto/jute.h"
#include "member/storage_ops.h"
#include "server/durablelog.h"
#include "server/snapshotter.h"
#include "store/snapfile.h"
#include "store/store.h"

#define META_ACCEPTED "acceptedEpoch"
#define META_CURRENT "currentEpoch"
#define META_COMMITTED "committedZxid" /* everything up to here is known committed */
#define META_BOOTS "boots"
#define SNAP_KEEP 2            /* finished snapshot files kept (the newest may be in transfer) */
#define SNAP_RETRY_MIN_MS 5000 /* after a failed snapshot (disk full), doubling to a minute */
#define SNAP_RETRY_MAX_MS 60000

struct storage {
    struct dlog *log;
    struct snapshotter *snapper;
    char snap_dir[1100];
    int64_t purge_target;   /* purge the log up to here (behind the kept snapshots); -1 none */
    int64_t snap_latest;    /* newest finished snapshot, -1 none */
    int64_t snap_retry_at_ms;
    int64_t snap_backoff_ms;
    struct snapfile_receiver *recv; /* a snapshot file arriving from the leader */
    struct hist snapshot_hist;      /* us per snapshot file written (off the loop) */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_purge_target(struct storage *s);

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        ZK_ERROR("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* The names of the files and directories just opened or created (LMDB's, the journals, our
 * directories) survive a power loss only once their directories are synced: without this a
 * member's first acknowledged writes and epochs could vanish with a directory entry. */
static int sync_dirs(const struct storage_config *cfg, const char *log_dir)
{
    const char *dirs[] = {log_dir, cfg->log_dir, cfg->data_dir};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (zk_fsync_dir(dirs[i]) != 0) {
            ZK_ERROR("cannot sync the directory %s: %s", dirs[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

int storage_open(struct storage **out, struct event_base *base, const struct storage_config *cfg)
{
    *out = NULL;
    struct storage *s = zk_calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->purge_target = s->snap_latest = -1;
    snprintf(s->snap_dir, sizeof s->snap_dir, "%s/zabkeeper-snap", cfg->data_dir);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/zabkeeper-log", cfg->log_dir);
    if (make_dir(cfg->data_dir) || make_dir(cfg->log_dir) || make_dir(s->snap_dir) ||
        make_dir(dir) || dlog_open(&s->log, base, dir, cfg->lmdb_map_bytes) != 0 ||
        sync_dirs(cfg, dir))
        goto fail;
    s->snapper = snapshotter_new(s->snap_dir);
    if (!s->snapper)
        goto fail;
    *out = s;
    return 0;
fail:
    storage_close(s);
    return -1;
}

void storage_close(struct storage *s)
{
    if (!s)
        return;
    snapfile_receive_close(s->recv);
    dlog_close(s->log);
    snapshotter_free(s->snapper);
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
        return 0;
    int64_t first_logged = -1;
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            if (first_logged < 0 && dlog_first_zxid(s->log, &first_logged) != 0)
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
 * start of an empty member). */
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

static int st_recover(void *sctx, struct store *st, struct storage_recovered *out,
                      storage_record_fn fn, void *ctx)
{
    struct storage *s = sctx;
    if (dlog_recover(s->log) != 0 || load_newest_snapshot(s, st) != 0)
        return -1;
    /* There is always a snapshot the log starts after, so a leader can always stream one. */
    if (s->snap_latest < 0 && write_snapshot_now(s, st) != 0)
        return -1;
    out->accepted_epoch = (uint32_t)dlog_meta_get(s->log, META_ACCEPTED, 0);
    out->current_epoch = (uint32_t)dlog_meta_get(s->log, META_CURRENT, 0);
    out->committed = dlog_meta_get(s->log, META_COMMITTED, 0);
    /* A boot count, durable before the core runs, keeps sync-session nonces unique. */
    int64_t boots = dlog_meta_get(s->log, META_BOOTS, 0) + 1;
    if (dlog_meta_put(s->log, META_BOOTS, boots) != 0)
        return -1;
    /* The boot count keeps sync nonces unique (its low 20 bits suffice: a member restarted a
     * million times); 20 random bits above it make them unguessable, so a forger who can reach
     * the peer port cannot pose as this member's current sync session. */
    uint32_t noise = 0;
    if (getrandom(&noise, sizeof noise, 0) != (ssize_t)sizeof noise)
        noise = 0;
    out->incarnation = ((uint64_t)boots & 0xfffffu) | ((uint64_t)(noise & 0xfffffu) << 20);
    if (dlog_read_after(s->log, store_last_zxid(st), fn, ctx) != 0) {
        ZK_ERROR("reading the log failed");
        return -1;
    }
    set_purge_target(s);
    return 0;
}

/* ---- the log ---- */

static int st_append(void *ctx, int64_t zxid, const void *rec, size_t len)
{
    struct storage *s = ctx;
    return dlog_append(s->log, zxid, rec, len);
}

static void st_flush(void *ctx, int64_t committed_mark)
{
    struct storage *s = ctx;
    dlog_flush(s->log, committed_mark, s->purge_target);
}

static int64_t st_durable(const void *ctx)
{
    return dlog_durable(((const struct storage *)ctx)->log);
}

static int st_set_epochs(void *ctx, int64_t accepted, int64_t current, int64_t committed)
{
    struct storage *s = ctx;
    const char *names[2];
    int64_t values[2];
    int n = 0;
    if (accepted >= 0)
        names[n] = META_ACCEPTED, values[n++] = accepted;
    if (current >= 0)
        names[n] = META_CURRENT, values[n++] = current;
    return n ? dlog_commit_meta(s->log, names, values, n, committed) : 0;
}

static int st_truncate_after(void *ctx, int64_t zxid, int64_t committed)
{
    return dlog_truncate_after(((struct storage *)ctx)->log, zxid, committed);
}

static int st_read_after(void *sctx, int64_t after, storage_record_fn fn, void *ctx)
{
    return dlog_read_after(((struct storage *)sctx)->log, after, fn, ctx);
}

/* ---- snapshots ---- */

static int st_snapshot_start(void *ctx, const struct store *st)
{
    struct storage *s = ctx;
    if (snapshotter_busy(s->snapper) || mono_ms() < s->snap_retry_at_ms)
        return -1;
    if (store_last_zxid(st) <= s->snap_latest)
        return -1; /* nothing new to write */
    return snapshotter_start(s->snapper, st);
}

static int64_t st_snapshot_latest(const void *ctx)
{
    return ((const struct storage *)ctx)->snap_latest;
}

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
    if (zxid < s->snap_latest) {
        /* An install (a leader's newer snapshot) came while the child wrote: the mark must not
         * go back to a file the install may have removed; pruning keeps only the newest. */
        ZK_INFO("snapshot at zxid 0x%llx finished after a newer install (0x%llx); not used",
                (unsigned long long)zxid, (unsigned long long)s->snap_latest);
        snapfile_prune(s->snap_dir, SNAP_KEEP);
        return;
    }
    s->snap_latest = zxid;
    s->snap_backoff_ms = 0;
    hist_add(&s->snapshot_hist, (uint64_t)(ms > 0 ? ms : 0) * 1000u);
    snapfile_prune(s->snap_dir, SNAP_KEEP);
    set_purge_target(s);
    ZK_INFO("snapshot at zxid 0x%llx written in %lld ms (off the loop), the fork %.1f ms",
            (unsigned long long)zxid, (long long)ms,
            (double)snapshotter_fork_us(s->snapper) / 1000.0);
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

static void st_poll(void *ctx)
{
    struct storage *s = ctx;
    int64_t zxid, ms;
    int r = snapshotter_poll(s->snapper, &zxid, &ms);
    if (r > 0)
        snapshot_done(s, zxid, ms);
    else if (r < 0)
        snapshot_failed(s, zxid);
    /* LMDB's copy-on-write reads every commit's fresh pages through its map: release them each
     * tick so they never pile up in RSS. */
    dlog_release_memory(s->log);
}

/* ---- installing a leader's snapshot ---- */

static int reset_log_to(struct storage *s, int64_t snap_zxid, const void *const *recs,
                        const size_t *lens, const int64_t *zxids, size_t n, int64_t target)
{
    if (dlog_replace(s->log, recs, lens, zxids, n, target) != 0)
        return -1;
    s->snap_latest = snap_zxid;
    s->purge_target = -1;
    snapfile_prune(s->snap_dir, 1);
    return 0;
}

static int st_install(void *sctx, struct store *st, int64_t snap_zxid, const void *const *recs,
                      const size_t *lens, const int64_t *zxids, size_t n,
                      storage_record_fn apply, void *ctx)
{
    struct storage *s = sctx;
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

/* ---- snapshot files for a catch-up ---- */

static int64_t st_file_size(void *ctx, int64_t zxid)
{
    return snapfile_size(((struct storage *)ctx)->snap_dir, zxid);
}

static int64_t st_file_pread(void *ctx, int64_t zxid, uint64_t off, void *buf, size_t len)
{
    return snapfile_pread(((struct storage *)ctx)->snap_dir, zxid, off, buf, len);
}

static int st_receive_open(void *ctx, int64_t zxid, uint64_t size, uint64_t *have)
{
    struct storage *s = ctx;
    char err[SNAPFILE_ERRMSG_SIZE];
    snapfile_receive_close(s->recv);
    s->recv = NULL;
    if (snapfile_receive_open(&s->recv, s->snap_dir, zxid, size, have, err, sizeof err) != 0) {
        ZK_ERROR_RL("cannot receive a snapshot file: %s", err);
        return -1;
    }
    return 0;
}

static int st_receive_chunk(void *ctx, uint64_t off, const void *p, size_t len)
{
    struct storage *s = ctx;
    char err[SNAPFILE_ERRMSG_SIZE];
    if (!s->recv || snapfile_receive_chunk(s->recv, off, p, len, err, sizeof err) != 0) {
        ZK_WARN_RL("snapshot file chunk refused: %s", s->recv ? err : "no file open");
        return -1;
    }
    return 0;
}

static int st_receive_finish(void *ctx)
{
    struct storage *s = ctx;
    char err[SNAPFILE_ERRMSG_SIZE];
    struct snapfile_receiver *r = s->recv;
    s->recv = NULL;
    if (!r || snapfile_receive_finish(r, err, sizeof err) != 0) {
        ZK_WARN_RL("received snapshot file refused: %s", r ? err : "no file open");
        return -1;
    }
    return 0;
}

static void st_receive_close(void *ctx)
{
    struct storage *s = ctx;
    snapfile_receive_close(s->recv);
    s->recv = NULL;
}

/* ---- numbers ---- */

static uint64_t st_disk_bytes(void *ctx) { return dlog_disk_bytes(((struct storage *)ctx)->log); }
static uint64_t st_fsyncs(const void *ctx) { return dlog_fsyncs(((const struct storage *)ctx)->log); }

static const struct hist *st_commit_hist(const void *ctx)
{
    return dlog_commit_hist(((const struct storage *)ctx)->log);
}

static const struct hist *st_batch_hist(const void *ctx)
{
    return dlog_batch_hist(((const struct storage *)ctx)->log);
}

static const struct hist *st_checkpoint_hist(const void *ctx)
{
    return dlog_checkpoint_hist(((const struct storage *)ctx)->log);
}

static const struct hist *st_snapshot_hist(const void *ctx)
{
    return &((const struct storage *)ctx)->snapshot_hist;
}

static void st_log_queue(const void *ctx, uint64_t *records, uint64_t *bytes)
{
    dlog_queue(((const struct storage *)ctx)->log, records, bytes);
}

void storage_seam(struct storage *s, struct member_storage *out)
{
    *out = (struct member_storage){
        .ctx = s,
        .recover = st_recover,
        .append = st_append,
        .flush = st_flush,
        .durable = st_durable,
        .set_epochs = st_set_epochs,
        .truncate_after = st_truncate_after,
        .read_after = st_read_after,
        .snapshot_start = st_snapshot_start,
        .poll = st_poll,
        .snapshot_latest = st_snapshot_latest,
        .install = st_install,
        .file_size = st_file_size,
        .file_pread = st_file_pread,
        .receive_open = st_receive_open,
        .receive_chunk = st_receive_chunk,
        .receive_finish = st_receive_finish,
        .receive_close = st_receive_close,
        .disk_bytes = st_disk_bytes,
        .fsyncs = st_fsyncs,
        .commit_hist = st_commit_hist,
        .batch_hist = st_batch_hist,
        .checkpoint_hist = st_checkpoint_hist,
        .snapshot_hist = st_snapshot_hist,
        .log_queue = st_log_queue,
    };
}
