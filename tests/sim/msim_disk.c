/* member-sim's disk: the member's storage seam (src/member/storage_ops.h) in memory, modelled
 * on src/server/storage.c and durablelog.c, with a real disk's failure model:
 *   - appended records wait for `flush`, which writes them as one batch (group commit) that
 *     completes after a random, sometimes slow, delay; only then are they durable, with the
 *     committed mark the batch carried;
 *   - a crash loses what was not durable, except a random prefix of the batch being written (a
 *     torn tail counts as lost, and the batch's mark survives only with the whole batch);
 *   - a full disk makes batches (and snapshots) fail for a while: they are retried, nothing
 *     becomes durable meanwhile; durable-now operations fail (the member stops);
 *   - an fsync failure leaves the disk broken: the next append or durable-now operation fails
 *     and the member stops (env.fatal);
 *   - durable-now operations (epochs, truncation, install) fold everything appended in first,
 *     as the production log does, and may be made to fail half-way (a crash in the middle);
 *   - snapshots capture the store at snapshot_start (store_snapshot_write into memory), finish
 *     after a delay and are lost if the member crashes first; files are kept and pruned as
 *     storage.c keeps them, received files resume after an interruption.
 * A snapshot file here: "MSIMSNAP" + zxid (8 BE) + body + body length (8 BE) + FNV-1a (8 BE). */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/log.h"
#include "msim_internal.h"
#include "store/store.h"

#define SNAP_KEEP 2
#define FILES_MAX 8
#define RETRY_MS 100            /* a failed batch is retried (durablelog.c) */
#define SNAP_RETRY_MIN_MS 5000  /* a failed snapshot, doubling to a minute (storage.c) */
#define SNAP_RETRY_MAX_MS 60000
#define FILE_HEAD 16u
#define FILE_TAIL 16u

struct rec {
    int64_t zxid;
    size_t len;
    uint8_t *data;
};

struct file {
    int64_t zxid;
    struct jute_writer bytes;
};

struct ms_disk {
    struct ms_node *nd;
    struct ms_world *w;
    /* ---- durable ---- */
    struct rec *log;
    size_t n, cap;
    size_t n_durable;           /* log[0, n_durable) is durable */
    int64_t accepted, current, committed, boots;
    struct file files[FILES_MAX]; /* finished snapshot files, any order */
    int n_files;
    struct file partial;        /* a file being received; survives crashes (a prefix) */
    uint64_t partial_size;
    bool has_partial;
    /* ---- volatile: lost in a crash ---- */
    size_t n_writing;           /* log[n_durable, n_writing) is the batch being written */
    int64_t writing_mark;
    bool batch_busy;
    uint64_t batch_gen;
    int64_t retry_at;
    int64_t last_appended, durable_zxid;
    int64_t snap_latest, purge_target;
    bool snap_busy;
    int snap_result;            /* 1 written, -1 failed, 0 not yet (collected by poll) */
    uint64_t snap_gen;
    struct file snap;           /* the snapshot being written */
    int64_t snap_retry_at, snap_backoff;
    bool receiving;
    /* ---- faults ---- */
    bool broken;                /* an fsync failed */
    int64_t full_until;
};

static int64_t now_of(const struct ms_disk *d) { return d->w->now; }

static bool full(const struct ms_disk *d) { return now_of(d) < d->full_until; }

struct ms_disk *ms_disk_new(struct ms_node *nd)
{
    struct ms_disk *d = calloc(1, sizeof *d);
    ZK_ASSERT(d != NULL);
    d->nd = nd;
    d->w = nd->w;
    d->snap_latest = d->purge_target = -1;
    jw_init(&d->partial.bytes);
    jw_init(&d->snap.bytes);
    return d;
}

static void drop_records(struct ms_disk *d, size_t from)
{
    for (size_t i = from; i < d->n; i++)
        free(d->log[i].data);
    d->n = from;
    if (d->n_durable > from)
        d->n_durable = from;
    if (d->n_writing > from)
        d->n_writing = from;
}

void ms_disk_free(struct ms_disk *d)
{
    if (!d)
        return;
    drop_records(d, 0);
    free(d->log);
    for (int i = 0; i < d->n_files; i++)
        jw_free(&d->files[i].bytes);
    jw_free(&d->partial.bytes);
    jw_free(&d->snap.bytes);
    free(d);
}

/* ---- faults ---- */

void ms_disk_crash(struct ms_disk *d)
{
    size_t writing = d->n_writing - d->n_durable; /* written, not known durable */
    size_t kept = writing ? (size_t)rng_below(&d->w->rng, writing + 1) : 0;
    if (kept == writing && writing > 0 && d->writing_mark > d->committed)
        d->committed = d->writing_mark; /* the whole batch made it, its mark with it */
    d->n_durable += kept;
    drop_records(d, d->n_durable);
    if (d->has_partial) /* appended without fsync: a prefix is on disk */
        d->partial.bytes.len = (size_t)rng_below(&d->w->rng, d->partial.bytes.len + 1);
    d->batch_busy = d->snap_busy = d->receiving = d->broken = false;
    d->batch_gen++;
    d->snap_gen++;
    d->snap_result = 0;
    d->retry_at = d->snap_retry_at = d->snap_backoff = 0;
    jw_reset(&d->snap.bytes);
}

void ms_disk_fill(struct ms_disk *d, int64_t until) { d->full_until = until; }
void ms_disk_heal(struct ms_disk *d) { d->full_until = 0; }
bool ms_disk_broken(const struct ms_disk *d) { return d->broken; }

/* ---- snapshot files ---- */

static int sink(void *ctx, const void *p, size_t len)
{
    jw_raw(ctx, p, len);
    return ((struct jute_writer *)ctx)->err;
}

/* Serialize st as a file into out. 0 or -1. */
static int file_write(struct jute_writer *out, const struct store *st)
{
    jw_reset(out);
    jw_raw(out, "MSIMSNAP", 8);
    jw_long(out, store_last_zxid(st));
    if (store_snapshot_write(st, sink, out) != 0)
        return -1;
    size_t body = out->len - FILE_HEAD;
    jw_long(out, (int64_t)body);
    jw_long(out, (int64_t)ms_hash(out->data + FILE_HEAD, body));
    return out->err;
}

/* Is it a whole file of this zxid? */
static bool file_checks(const uint8_t *p, size_t len, int64_t zxid)
{
    if (len < FILE_HEAD + FILE_TAIL || memcmp(p, "MSIMSNAP", 8) != 0 ||
        (int64_t)be64_load(p + 8) != zxid)
        return false;
    size_t body = len - FILE_HEAD - FILE_TAIL;
    return be64_load(p + len - 16) == body && be64_load(p + len - 8) == ms_hash(p + FILE_HEAD, body);
}

static struct file *file_find(struct ms_disk *d, int64_t zxid)
{
    for (int i = 0; i < d->n_files; i++)
        if (d->files[i].zxid == zxid)
            return &d->files[i];
    return NULL;
}

static struct file *file_newest(struct ms_disk *d, int skip_newer_than_rank)
{
    /* the (rank)-th newest: 0 is the newest */
    struct file *best = NULL;
    for (int rank = 0; rank <= skip_newer_than_rank; rank++) {
        struct file *next = NULL;
        for (int i = 0; i < d->n_files; i++) {
            struct file *f = &d->files[i];
            if ((!best || f->zxid < best->zxid) && (!next || f->zxid > next->zxid))
                next = f;
        }
        if (!next)
            return NULL;
        best = next;
    }
    return best;
}

/* Keep the `keep` newest files (snapfile_prune). */
static void file_prune(struct ms_disk *d, int keep)
{
    struct file *oldest_kept = file_newest(d, keep - 1);
    if (!oldest_kept)
        return;
    int64_t limit = oldest_kept->zxid;
    for (int i = 0; i < d->n_files;) {
        if (d->files[i].zxid < limit) {
            jw_free(&d->files[i].bytes);
            d->files[i] = d->files[--d->n_files];
        } else {
            i++;
        }
    }
}

/* The log is kept back to the older kept snapshot (storage.c set_purge_target). */
static void set_purge_target(struct ms_disk *d)
{
    struct file *f = file_newest(d, SNAP_KEEP - 1);
    if (!f)
        f = file_newest(d, 0);
    d->purge_target = f ? f->zxid : -1;
}

/* Adds a finished file (the bytes are moved in). */
static void file_add(struct ms_disk *d, int64_t zxid, struct jute_writer *bytes)
{
    struct file *f = file_find(d, zxid);
    if (f) {
        jw_free(&f->bytes);
    } else {
        if (d->n_files == FILES_MAX)
            file_prune(d, SNAP_KEEP);
        ZK_ASSERT(d->n_files < FILES_MAX);
        f = &d->files[d->n_files++];
        f->zxid = zxid;
    }
    f->bytes = *bytes;
    jw_init(bytes);
}

static int load_file(struct ms_disk *d, struct store *st, int64_t zxid)
{
    struct file *f = file_find(d, zxid);
    if (!f || !file_checks(f->bytes.data, f->bytes.len, zxid))
        return -1;
    const uint8_t *p = f->bytes.data;
    size_t body = f->bytes.len - FILE_HEAD - FILE_TAIL;
    if (store_snapshot_read(st, p + FILE_HEAD, body) != 0 || store_last_zxid(st) != zxid)
        return -1;
    return 0;
}

/* ---- the log ---- */

static int st_append(void *ctx, int64_t zxid, const void *rec, size_t len)
{
    struct ms_disk *d = ctx;
    if (d->broken)
        return -1;
    if (zxid <= d->last_appended)
        ms_violation(d->w, "m%u appended 0x%llx after 0x%llx", d->nd->id,
                     (unsigned long long)zxid, (unsigned long long)d->last_appended);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->log = realloc(d->log, d->cap * sizeof *d->log);
        ZK_ASSERT(d->log != NULL);
    }
    uint8_t *copy = malloc(len ? len : 1);
    ZK_ASSERT(copy != NULL);
    memcpy(copy, rec, len);
    d->log[d->n++] = (struct rec){zxid, len, copy};
    d->last_appended = zxid;
    return 0;
}

/* Purging behind the kept snapshots (durable records only, as the checkpoints do). */
static void purge(struct ms_disk *d)
{
    size_t k = 0;
    while (k < d->n_durable && d->log[k].zxid <= d->purge_target)
        k++;
    if (k == 0)
        return;
    for (size_t i = 0; i < k; i++)
        free(d->log[i].data);
    memmove(d->log, d->log + k, (d->n - k) * sizeof *d->log);
    d->n -= k;
    d->n_durable -= k;
    d->n_writing -= k;
}

static int64_t batch_time(struct ms_disk *d)
{
    struct ms_world *w = d->w;
    if (ms_chance(w, w->k.p_slow, MF_SLOWDISK))
        return rng_range(&w->rng, 20, w->k.slow_max);
    return rng_range(&w->rng, 1, w->k.disk_max);
}

static void st_flush(void *ctx, int64_t committed_mark)
{
    struct ms_disk *d = ctx;
    if (d->purge_target >= 0)
        purge(d);
    if (d->batch_busy || d->broken || d->n_writing == d->n || now_of(d) < d->retry_at)
        return;
    d->n_writing = d->n;
    d->writing_mark = committed_mark;
    d->batch_busy = true;
    ms_schedule(d->w, batch_time(d), EV_DISK, d->nd->idx, 0, ++d->batch_gen);
}

void ms_disk_batch_done(struct ms_disk *d, uint64_t gen)
{
    if (gen != d->batch_gen || !d->batch_busy)
        return;
    d->batch_busy = false;
    if (full(d)) {
        ms_trace(d->w, "m%u log batch failed: disk full (retried)", d->nd->id);
        d->n_writing = d->n_durable;
        d->retry_at = now_of(d) + RETRY_MS;
        return;
    }
    if (ms_chance(d->w, d->w->k.p_fsync, MF_FSYNC)) {
        ms_trace(d->w, "m%u fsync failed: the disk is broken", d->nd->id);
        d->broken = true; /* the batch stays in limbo: a crash may keep a prefix of it */
        return;
    }
    d->n_durable = d->n_writing;
    if (d->n_durable > 0 && d->log[d->n_durable - 1].zxid > d->durable_zxid)
        d->durable_zxid = d->log[d->n_durable - 1].zxid;
    if (d->writing_mark > d->committed)
        d->committed = d->writing_mark;
    d->nd->touched = true; /* its next flush reports it (ZAB_PERSISTED) */
}

static int64_t st_durable(const void *ctx) { return ((const struct ms_disk *)ctx)->durable_zxid; }

/* Durable now: everything appended goes in first (the production log folds it into LMDB), with
 * the committed mark. 0, or -1: the disk failed (full, broken, or an injected failure after the
 * fold: the operation is left half done). */
static int fold(struct ms_disk *d, int64_t committed, const char *what)
{
    if (d->broken || full(d)) {
        ms_trace(d->w, "m%u cannot persist %s: disk %s", d->nd->id, what,
                 d->broken ? "broken" : "full");
        return -1;
    }
    d->n_durable = d->n_writing = d->n;
    d->batch_busy = false;
    d->batch_gen++;
    if (d->last_appended > d->durable_zxid)
        d->durable_zxid = d->last_appended;
    d->committed = committed;
    if (ms_chance(d->w, d->w->k.p_opfail, MF_OPFAIL)) {
        ms_trace(d->w, "m%u %s failed half-way (injected)", d->nd->id, what);
        return -1;
    }
    return 0;
}

static int st_set_epochs(void *ctx, int64_t accepted, int64_t current, int64_t committed)
{
    struct ms_disk *d = ctx;
    if (accepted < 0 && current < 0)
        return 0;
    if (fold(d, committed, "the epochs") != 0)
        return -1;
    if (accepted >= 0)
        d->accepted = accepted;
    if (current >= 0)
        d->current = current;
    return 0;
}

static int st_truncate_after(void *ctx, int64_t zxid, int64_t committed)
{
    struct ms_disk *d = ctx;
    if (fold(d, committed, "a truncation") != 0)
        return -1;
    size_t keep = d->n;
    while (keep > 0 && d->log[keep - 1].zxid > zxid)
        keep--;
    drop_records(d, keep);
    if (d->durable_zxid > zxid)
        d->durable_zxid = zxid;
    d->last_appended = zxid;
    ms_trace(d->w, "m%u log truncated after 0x%llx", d->nd->id, (unsigned long long)zxid);
    return 0;
}

static int st_read_after(void *ctx, int64_t after, storage_record_fn fn, void *fn_ctx)
{
    struct ms_disk *d = ctx;
    for (size_t i = 0; i < d->n_durable; i++) {
        if (d->log[i].zxid <= after)
            continue;
        int rc = fn(fn_ctx, d->log[i].zxid, d->log[i].data, d->log[i].len);
        if (rc)
            return rc;
    }
    return 0;
}

void ms_disk_each(const struct ms_disk *d, int64_t after, int64_t upto, ms_rec_fn fn, void *ctx)
{
    size_t lo = 0, hi = d->n; /* the first record above `after` (zxids increase) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->log[mid].zxid <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < d->n && d->log[i].zxid <= upto; i++)
        fn(ctx, d->log[i].zxid, d->log[i].data, d->log[i].len);
}

/* ---- snapshots ---- */

static int st_snapshot_start(void *ctx, const struct store *st)
{
    struct ms_disk *d = ctx;
    if (d->snap_busy || d->broken || now_of(d) < d->snap_retry_at ||
        store_last_zxid(st) <= d->snap_latest)
        return -1;
    if (file_write(&d->snap.bytes, st) != 0)
        return -1;
    d->snap.zxid = store_last_zxid(st);
    d->snap_busy = true;
    d->snap_result = 0;
    struct ms_world *w = d->w;
    ms_schedule(w, rng_range(&w->rng, 5, 300), EV_SNAP, d->nd->idx, 0, ++d->snap_gen);
    return 0;
}

void ms_disk_snap_done(struct ms_disk *d, uint64_t gen)
{
    if (gen != d->snap_gen || !d->snap_busy)
        return;
    d->snap_result = full(d) || d->broken ? -1 : 1;
}

static void snapshot_finished(struct ms_disk *d)
{
    int64_t zxid = d->snap.zxid;
    file_add(d, zxid, &d->snap.bytes);
    d->snap_latest = zxid;
    d->snap_backoff = 0;
    file_prune(d, SNAP_KEEP);
    set_purge_target(d);
    d->w->res->snapshots++;
    ms_trace(d->w, "m%u snapshot at 0x%llx written", d->nd->id, (unsigned long long)zxid);
}

static void st_poll(void *ctx)
{
    struct ms_disk *d = ctx;
    if (!d->snap_busy || d->snap_result == 0)
        return;
    d->snap_busy = false;
    if (d->snap_result > 0) {
        snapshot_finished(d);
        return;
    }
    int64_t backoff = d->snap_backoff ? d->snap_backoff * 2 : SNAP_RETRY_MIN_MS;
    d->snap_backoff = backoff > SNAP_RETRY_MAX_MS ? SNAP_RETRY_MAX_MS : backoff;
    d->snap_retry_at = now_of(d) + d->snap_backoff;
    jw_reset(&d->snap.bytes);
    ms_trace(d->w, "m%u snapshot at 0x%llx failed (disk); retry in %lld ms", d->nd->id,
             (unsigned long long)d->snap.zxid, (long long)d->snap_backoff);
}

static int64_t st_snapshot_latest(const void *ctx)
{
    return ((const struct ms_disk *)ctx)->snap_latest;
}

/* ---- recovery and install ---- */

static void replace_log(struct ms_disk *d, const void *const *recs, const size_t *lens,
                        const int64_t *zxids, size_t n, int64_t target)
{
    drop_records(d, 0);
    d->last_appended = 0;
    for (size_t i = 0; i < n; i++)
        ZK_ASSERT(st_append(d, zxids[i], recs[i], lens[i]) == 0);
    d->n_durable = d->n_writing = d->n;
    d->last_appended = d->durable_zxid = d->committed = target;
}

static int st_install(void *ctx, struct store *st, int64_t snap_zxid, const void *const *recs,
                      const size_t *lens, const int64_t *zxids, size_t n,
                      storage_record_fn apply, void *apply_ctx)
{
    struct ms_disk *d = ctx;
    if (d->broken || load_file(d, st, snap_zxid) != 0)
        return -1;
    ms_check_jump(d->nd, snap_zxid);
    d->w->res->installs++;
    for (size_t i = 0; i < n; i++)
        if (apply(apply_ctx, zxids[i], recs[i], lens[i]) != 0)
            return -1;
    int64_t target = n ? zxids[n - 1] : snap_zxid;
    /* the file is in place; replacing the log is one more durable commit, which may fail (a
     * crash recovers from this snapshot plus the old log) */
    if (fold(d, d->committed, "the installed state") != 0)
        return -1;
    replace_log(d, recs, lens, zxids, n, target);
    d->snap_latest = snap_zxid;
    d->purge_target = -1;
    file_prune(d, 1);
    ms_trace(d->w, "m%u installed snapshot 0x%llx + %zu records", d->nd->id,
             (unsigned long long)snap_zxid, n);
    return 0;
}

static int st_recover(void *ctx, struct store *st, struct storage_recovered *out,
                      storage_record_fn fn, void *fn_ctx)
{
    struct ms_disk *d = ctx;
    struct file *newest = file_newest(d, 0);
    if (newest && load_file(d, st, newest->zxid) != 0) {
        ms_violation(d->w, "m%u: its newest snapshot 0x%llx does not load", d->nd->id,
                     (unsigned long long)newest->zxid);
        return -1;
    }
    if (!newest) { /* a new member: the empty tree, written at once (storage.c) */
        struct jute_writer bytes;
        jw_init(&bytes);
        ZK_ASSERT(file_write(&bytes, st) == 0);
        file_add(d, store_last_zxid(st), &bytes);
    }
    d->snap_latest = store_last_zxid(st);
    ms_check_jump(d->nd, d->snap_latest);
    out->accepted_epoch = (uint32_t)d->accepted;
    out->current_epoch = (uint32_t)d->current;
    out->committed = d->committed;
    out->incarnation = (uint64_t)++d->boots;
    d->last_appended = d->durable_zxid = d->n ? d->log[d->n - 1].zxid : 0;
    set_purge_target(d);
    ms_trace(d->w, "m%u recovers: snapshot 0x%llx, log 0x%llx..0x%llx (%zu records), committed "
             "mark 0x%llx, epochs %lld/%lld", d->nd->id, (unsigned long long)d->snap_latest,
             (unsigned long long)(d->n ? d->log[0].zxid : 0), (unsigned long long)d->last_appended,
             d->n, (unsigned long long)d->committed, (long long)d->accepted, (long long)d->current);
    return st_read_after(d, store_last_zxid(st), fn, fn_ctx) != 0 ? -1 : 0;
}

/* ---- snapshot files, for a catch-up ---- */

static int64_t st_file_size(void *ctx, int64_t zxid)
{
    struct file *f = file_find(ctx, zxid);
    return f ? (int64_t)f->bytes.len : -1;
}

static int64_t st_file_pread(void *ctx, int64_t zxid, uint64_t off, void *buf, size_t len)
{
    struct file *f = file_find(ctx, zxid);
    if (!f || off > f->bytes.len)
        return -1;
    size_t n = f->bytes.len - off < len ? f->bytes.len - (size_t)off : len;
    memcpy(buf, f->bytes.data + off, n);
    return (int64_t)n;
}

static int st_receive_open(void *ctx, int64_t zxid, uint64_t size, uint64_t *have)
{
    struct ms_disk *d = ctx;
    if (!d->has_partial || d->partial.zxid != zxid || d->partial_size != size) {
        jw_reset(&d->partial.bytes); /* any other partial file is removed */
        d->partial.zxid = zxid;
        d->partial_size = size;
        d->has_partial = true;
    }
    d->receiving = true;
    *have = d->partial.bytes.len;
    return 0;
}

static int st_receive_chunk(void *ctx, uint64_t off, const void *p, size_t len)
{
    struct ms_disk *d = ctx;
    uint64_t have = d->partial.bytes.len;
    if (!d->receiving || off > have || off + len > d->partial_size)
        return -1; /* a gap, or past the announced size */
    if (off + len > have)
        jw_raw(&d->partial.bytes, (const uint8_t *)p + (have - off), (size_t)(off + len - have));
    return d->partial.bytes.err;
}

static int st_receive_finish(void *ctx)
{
    struct ms_disk *d = ctx;
    bool ok = d->receiving && d->partial.bytes.len == d->partial_size &&
              file_checks(d->partial.bytes.data, d->partial.bytes.len, d->partial.zxid) &&
              !full(d) && !d->broken;
    d->receiving = false;
    d->has_partial = false;
    if (!ok) {
        jw_reset(&d->partial.bytes);
        return -1;
    }
    struct jute_writer bytes = d->partial.bytes;
    jw_init(&d->partial.bytes);
    file_add(d, d->partial.zxid, &bytes);
    return 0;
}

static void st_receive_close(void *ctx) { ((struct ms_disk *)ctx)->receiving = false; }

/* ---- numbers for mntr: none here ---- */

static uint64_t st_disk_bytes(void *ctx)
{
    (void)ctx;
    return 0;
}

static uint64_t st_fsyncs(const void *ctx)
{
    (void)ctx;
    return 0;
}

static const struct hist *st_no_hist(const void *ctx)
{
    (void)ctx;
    return NULL;
}

void ms_disk_seam(struct ms_disk *d, struct member_storage *out)
{
    *out = (struct member_storage){
        .ctx = d,
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
        .commit_hist = st_no_hist,
        .batch_hist = st_no_hist,
        .checkpoint_hist = st_no_hist,
    };
}
