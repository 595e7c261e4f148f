/* The durable log: journal batches in front of the LMDB log (see durablelog.h). All state lives
 * in the loop thread; the two workers only run jobs whose inputs the loop leaves alone until it
 * collects them. */
#include "server/durablelog.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/hist.h"
#include "common/log.h"
#include "proto/jute.h"
#include "server/diskworker.h"
#include "store/journal.h"
#include "store/txnlog.h"

#define META_COMMITTED "committedZxid" /* everything up to here is known committed */
#define JOURNAL_FILES 2
#define JOURNAL_SIZE (8u << 20)      /* each file, grown if one batch needs more */
#define CHECKPOINT_BYTES (4u << 20)  /* a journal file is sealed once it holds this much */
#define UNSYNCED_MAX_BYTES (512u << 20)
#define RETRY_MS 100
/* A disk that keeps failing with anything but a full disk (EIO: a dying device) stops the
 * member after this long, so the ensemble elects around it and someone looks; a full disk
 * waits for space (nothing is acknowledged meanwhile either way). */
#define IO_FAILURE_STOP_MS 30000
#define PURGE_PER_CHECKPOINT 4096    /* records purged per checkpoint: keeps each one short */

enum jstate { J_FREE, J_ACTIVE, J_SEALED };

struct jfile {
    struct journal *j;
    struct jute_writer recs; /* records written to this file, not yet in LMDB (batch format) */
    int64_t recs_last;
    enum jstate state;
};

struct journal_job { /* run by the journal worker */
    struct journal *j;
    uint64_t reset_gen;             /* 0: append to the file as it is */
    const struct jute_writer *batch;
    int64_t mark;
    struct jute_writer framed;
    char err[JOURNAL_ERRMSG_SIZE];
    int err_no;                     /* errno of the failure */
};

struct checkpoint_job { /* run by the checkpoint worker */
    struct txnlog *log;
    const struct jute_writer *recs; /* NULL: a purge only */
    int64_t mark;
    int64_t purge_through;          /* -1: none */
    int64_t purged_through;         /* out */
    int sealed;                     /* which file it folds in, -1 none */
};

struct dlog {
    struct txnlog *log;
    struct diskworker *jw, *cw;
    struct jfile files[JOURNAL_FILES];
    int active;
    uint64_t next_gen;
    struct jute_writer unsynced, inflight;
    int64_t unsynced_last, inflight_last, durable;
    int64_t retry_at_ms, cp_retry_at_ms;
    int64_t first_failure_ms; /* of the current run of journal failures */
    uint64_t active_reset_gen; /* the active file still needs this reset (a failed batch's) */
    bool failure_reported, waiting_reported;
    int64_t purged_through;
    struct journal_job jjob;
    struct checkpoint_job cjob;
    uint64_t fsyncs;
    struct hist commit_hist, batch_hist, checkpoint_hist;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_journal_done(void *ctx);
static void on_checkpoint_done(void *ctx);

int dlog_open(struct dlog **out, struct event_base *base, const char *dir, uint64_t map_bytes)
{
    *out = NULL;
    struct dlog *d = zk_calloc(1, sizeof *d);
    if (!d)
        return -1;
    jw_init(&d->unsynced);
    jw_init(&d->inflight);
    jw_init(&d->jjob.framed);
    d->purged_through = -1;
    char err[TXNLOG_ERRMSG_SIZE > JOURNAL_ERRMSG_SIZE ? TXNLOG_ERRMSG_SIZE : JOURNAL_ERRMSG_SIZE];
    if (txnlog_open(&d->log, dir, (size_t)map_bytes, err, sizeof err) != TXNLOG_OK) {
        ZK_ERROR("cannot open the transaction log in %s: %s", dir, err);
        goto fail;
    }
    for (int i = 0; i < JOURNAL_FILES; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/journal.%d", dir, i);
        jw_init(&d->files[i].recs);
        if (journal_open(&d->files[i].j, path, JOURNAL_SIZE, err, sizeof err) != 0) {
            ZK_ERROR("cannot open the journal: %s", err);
            goto fail;
        }
    }
    d->jw = diskworker_new(base, "journal writer", on_journal_done, d);
    d->cw = diskworker_new(base, "checkpointer", on_checkpoint_done, d);
    if (!d->jw || !d->cw) {
        ZK_ERROR("cannot start the log's threads");
        goto fail;
    }
    *out = d;
    return 0;
fail:
    dlog_close(d);
    return -1;
}

static void collect_journal(struct dlog *d);
static void collect_checkpoint(struct dlog *d);

void dlog_close(struct dlog *d)
{
    if (!d)
        return;
    if (d->jw) {
        diskworker_wait_idle(d->jw);
        collect_journal(d);
        diskworker_free(d->jw);
    }
    if (d->cw) {
        diskworker_wait_idle(d->cw);
        collect_checkpoint(d);
        diskworker_free(d->cw);
    }
    for (int i = 0; i < JOURNAL_FILES; i++) {
        journal_close(d->files[i].j);
        jw_free(&d->files[i].recs);
    }
    txnlog_close(d->log);
    jw_free(&d->unsynced);
    jw_free(&d->inflight);
    jw_free(&d->jjob.framed);
    zk_free(d);
}

int64_t dlog_meta_get(struct dlog *d, const char *name, int64_t def)
{
    return txnlog_meta_get(d->log, name, def);
}

int dlog_meta_put(struct dlog *d, const char *name, int64_t value)
{
    if (txnlog_meta_put(d->log, name, value) != TXNLOG_OK) {
        ZK_ERROR("cannot record %s: %s", name, txnlog_errmsg(d->log));
        return -1;
    }
    return 0;
}

int dlog_first_zxid(struct dlog *d, int64_t *zxid)
{
    return txnlog_first_zxid(d->log, zxid) == TXNLOG_OK ? 0 : -1;
}

/* ---- folding records into LMDB (the loop thread, both workers idle) ---- */

static int append_to_lmdb(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len)
{
    struct txnlog *log = ctx;
    if (zxid <= txnlog_pending_last(log))
        return 0; /* LMDB has it already (a checkpoint got there first) */
    return txnlog_append(log, zxid, p, len);
}

/* Stage every record held in memory (sealed, active, unsynced) into the pending LMDB batch. */
static int stage_all(struct dlog *d)
{
    int rc = TXNLOG_OK;
    for (int k = 0; k < JOURNAL_FILES && rc == TXNLOG_OK; k++) {
        int i = (d->active + 1 + k) % JOURNAL_FILES; /* the sealed one (older) first */
        rc = journal_batch_each(&d->files[i].recs, append_to_lmdb, d->log);
    }
    if (rc == TXNLOG_OK)
        rc = journal_batch_each(&d->unsynced, append_to_lmdb, d->log);
    return rc;
}

static void wait_workers(struct dlog *d)
{
    diskworker_wait_idle(d->jw);
    collect_journal(d);
    diskworker_wait_idle(d->cw);
    collect_checkpoint(d);
}

/* Both journals start over, empty, under new generations. */
static int reset_journals(struct dlog *d)
{
    char err[JOURNAL_ERRMSG_SIZE];
    for (int i = 0; i < JOURNAL_FILES; i++) {
        if (journal_reset(d->files[i].j, d->next_gen++, err, sizeof err) != 0) {
            ZK_ERROR("cannot reset the journal: %s", err);
            return -1;
        }
        jw_reset(&d->files[i].recs);
        d->files[i].state = J_FREE;
        d->fsyncs++;
    }
    d->active = 0;
    d->active_reset_gen = 0;
    d->files[0].state = J_ACTIVE;
    return 0;
}

/* Everything in memory and in the journals goes into LMDB with what the caller staged. */
static int fold_and_commit(struct dlog *d, int64_t committed, const char *what)
{
    if (stage_all(d) != TXNLOG_OK ||
        txnlog_stage_meta(d->log, META_COMMITTED, committed) != TXNLOG_OK ||
        txnlog_commit(d->log) != TXNLOG_OK) {
        ZK_ERROR("cannot persist %s: %s", what, txnlog_errmsg(d->log));
        txnlog_abort(d->log);
        return -1;
    }
    d->fsyncs++;
    if (d->unsynced_last > d->durable)
        d->durable = d->unsynced_last;
    jw_reset(&d->unsynced);
    return reset_journals(d);
}

int dlog_commit_meta(struct dlog *d, const char *const *names, const int64_t *values, int n,
                     int64_t committed)
{
    wait_workers(d);
    for (int i = 0; i < n; i++) {
        if (txnlog_stage_meta(d->log, names[i], values[i]) != TXNLOG_OK) {
            ZK_ERROR("cannot stage %s: %s", names[i], txnlog_errmsg(d->log));
            txnlog_abort(d->log);
            return -1;
        }
    }
    return fold_and_commit(d, committed, names[0]);
}

int dlog_truncate_after(struct dlog *d, int64_t zxid, int64_t committed)
{
    wait_workers(d);
    if (fold_and_commit(d, committed, "the log before a truncation") != 0)
        return -1;
    if (txnlog_truncate_after(d->log, zxid) != TXNLOG_OK) {
        ZK_ERROR("cannot truncate the log: %s", txnlog_errmsg(d->log));
        return -1;
    }
    d->fsyncs++;
    if (d->durable > zxid)
        d->durable = zxid;
    d->unsynced_last = zxid;
    ZK_INFO("log truncated after zxid 0x%llx", (unsigned long long)zxid);
    return 0;
}

int dlog_replace(struct dlog *d, const void *const *recs, const size_t *lens,
                 const int64_t *zxids, size_t n, int64_t committed)
{
    wait_workers(d);
    jw_reset(&d->unsynced);
    for (int i = 0; i < JOURNAL_FILES; i++)
        jw_reset(&d->files[i].recs);
    if (txnlog_truncate_after(d->log, 0) != TXNLOG_OK) {
        ZK_ERROR("cannot empty the log: %s", txnlog_errmsg(d->log));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (txnlog_append(d->log, zxids[i], recs[i], lens[i]) != TXNLOG_OK) {
            ZK_ERROR("cannot log record 0x%llx: %s", (unsigned long long)zxids[i],
                     txnlog_errmsg(d->log));
            return -1;
        }
    }
    d->unsynced_last = d->durable = committed;
    d->purged_through = -1;
    return fold_and_commit(d, committed, "the installed state");
}

/* ---- recovery ---- */

struct replay {
    struct txnlog *log;
    int64_t last;      /* highest zxid in LMDB or replayed */
    int64_t committed; /* highest committed mark seen */
    size_t records;
    int rc;
};

static int replay_record(void *ctx, int kind, int64_t zxid, const uint8_t *p, size_t len)
{
    struct replay *r = ctx;
    if (kind == JOURNAL_KIND_COMMITTED) {
        if (zxid > r->committed)
            r->committed = zxid;
        return 0;
    }
    if (kind != JOURNAL_KIND_RECORD || zxid <= r->last)
        return 0;
    r->rc = txnlog_append(r->log, zxid, p, len);
    r->last = zxid;
    r->records++;
    return r->rc;
}

int dlog_recover(struct dlog *d)
{
    struct replay r = {d->log, txnlog_last_zxid(d->log),
                       txnlog_meta_get(d->log, META_COMMITTED, 0), 0, 0};
    int order[JOURNAL_FILES] = {0, 1};
    if (journal_generation(d->files[1].j) < journal_generation(d->files[0].j))
        order[0] = 1, order[1] = 0; /* the older generation holds the older records */
    for (int k = 0; k < JOURNAL_FILES && r.rc == 0; k++)
        if (journal_scan(d->files[order[k]].j, replay_record, &r) != 0 && r.rc == 0)
            r.rc = -1;
    d->next_gen = 1 + (journal_generation(d->files[0].j) > journal_generation(d->files[1].j)
                           ? journal_generation(d->files[0].j)
                           : journal_generation(d->files[1].j));
    if (r.rc != 0) {
        ZK_ERROR("cannot fold the journal into the log: %s", txnlog_errmsg(d->log));
        txnlog_abort(d->log);
        return -1;
    }
    if (r.records)
        ZK_INFO("journal: %zu records not yet in the log folded in (to zxid 0x%llx)", r.records,
                (unsigned long long)r.last);
    d->unsynced_last = d->durable = r.last;
    return fold_and_commit(d, r.committed, "the journal's records");
}

/* ---- batches: the journal worker ---- */

static int run_journal_job(void *arg)
{
    struct journal_job *job = arg;
    job->err_no = 0;
    int rc = 0;
    if (job->reset_gen && journal_reset(job->j, job->reset_gen, job->err, sizeof job->err))
        rc = -1;
    if (rc == 0) {
        journal_frame_batch(job->j, &job->framed, job->batch, job->mark);
        rc = journal_reserve(job->j, job->framed.len, job->err, sizeof job->err);
    }
    if (rc == 0)
        rc = journal_write(job->j, &job->framed, job->err, sizeof job->err);
    if (rc != 0)
        job->err_no = errno;
    return rc;
}

static bool out_of_space(int err) { return err == ENOSPC || err == EDQUOT; }

/* A failed batch is retried whole: rewritten at the same place and synced again, so a failed
 * fdatasync that left pages marked clean cannot make a retry report data durable that is not
 * (every byte relied upon is written again). */
static void journal_failed(struct dlog *d)
{
    int64_t now = mono_ms();
    if (!d->failure_reported) {
        ZK_ERROR("log batch failed: %s; writes wait (nothing is acknowledged) and the batch is "
                 "retried", d->jjob.err);
        d->first_failure_ms = now;
    }
    d->failure_reported = true;
    if (out_of_space(d->jjob.err_no)) {
        d->first_failure_ms = now; /* waiting for space is not a dying disk */
        ZK_WARN_RL("disk full for the log (%s): free space; writes wait", d->jjob.err);
    } else if (now - d->first_failure_ms > IO_FAILURE_STOP_MS) {
        ZK_ERROR("the log's disk has failed for %d s (%s); stopping so the ensemble goes on "
                 "without this member", IO_FAILURE_STOP_MS / 1000, d->jjob.err);
        fflush(stderr);
        _exit(70);
    }
    d->retry_at_ms = mono_ms() + RETRY_MS;
    d->active_reset_gen = d->jjob.reset_gen; /* the retry redoes it (idempotent) */
    /* the failed batch goes back in front of what was appended since */
    jw_raw(&d->inflight, d->unsynced.data, d->unsynced.len);
    struct jute_writer tmp = d->unsynced;
    d->unsynced = d->inflight;
    d->inflight = tmp;
    jw_reset(&d->inflight);
    if (d->unsynced.err) {
        ZK_ERROR("out of memory keeping unsynced log records; exiting");
        abort();
    }
}

static void collect_journal(struct dlog *d)
{
    int rc;
    uint64_t us;
    if (!diskworker_collect(d->jw, &rc, &us))
        return;
    if (rc != 0) {
        journal_failed(d);
        return;
    }
    size_t records, bytes;
    journal_batch_count(&d->inflight, &records, &bytes);
    hist_add(&d->commit_hist, us);
    hist_add(&d->batch_hist, records);
    struct jfile *f = &d->files[d->active];
    jw_raw(&f->recs, d->inflight.data, d->inflight.len); /* now in that journal file */
    if (f->recs.err) {
        ZK_ERROR("out of memory keeping journaled records; exiting");
        abort();
    }
    if (d->inflight_last > d->durable)
        d->durable = d->inflight_last;
    jw_reset(&d->inflight);
    d->active_reset_gen = 0;
    if (d->failure_reported)
        ZK_INFO("the log accepts writes again");
    d->failure_reported = false;
}

static void on_journal_done(void *ctx) { collect_journal(ctx); }

/* The journal file the next batch of `need` bytes goes to; 0 reset generation if it is the
 * active one as it is, a new generation when it switches. -1: none free (a checkpoint runs). */
static int pick_journal(struct dlog *d, uint64_t need, uint64_t *reset_gen)
{
    struct jfile *f = &d->files[d->active];
    *reset_gen = d->active_reset_gen;
    if (f->recs.len < CHECKPOINT_BYTES && (journal_room(f->j) >= need || *reset_gen))
        return d->active;
    int other = (d->active + 1) % JOURNAL_FILES;
    if (d->files[other].state != J_FREE) {
        if (!d->waiting_reported)
            ZK_WARN_RL("journal full: batches wait for the checkpoint into the log");
        d->waiting_reported = true;
        return -1;
    }
    d->waiting_reported = false;
    f->state = J_SEALED;
    d->files[other].state = J_ACTIVE;
    d->active = other;
    *reset_gen = d->next_gen++;
    return other;
}

static void start_batch(struct dlog *d, int64_t committed_mark)
{
    if (!d->unsynced.len || diskworker_busy(d->jw) || mono_ms() < d->retry_at_ms)
        return;
    size_t records, bytes;
    journal_batch_count(&d->unsynced, &records, &bytes);
    uint64_t reset_gen;
    int i = pick_journal(d, journal_framed_size(records, bytes), &reset_gen);
    if (i < 0)
        return;
    struct jute_writer tmp = d->inflight; /* empty */
    d->inflight = d->unsynced;
    d->unsynced = tmp;
    d->inflight_last = d->unsynced_last;
    d->jjob.j = d->files[i].j;
    d->jjob.reset_gen = reset_gen;
    d->jjob.batch = &d->inflight;
    d->jjob.mark = committed_mark;
    d->fsyncs++;
    diskworker_submit(d->jw, run_journal_job, &d->jjob);
}

/* ---- checkpoints: the checkpoint worker ---- */

static int run_checkpoint_job(void *arg)
{
    struct checkpoint_job *job = arg;
    int rc = TXNLOG_OK;
    job->purged_through = -1;
    if (job->purge_through >= 0)
        rc = txnlog_stage_purge(job->log, job->purge_through, PURGE_PER_CHECKPOINT,
                                &job->purged_through);
    if (rc == TXNLOG_OK && job->recs)
        rc = journal_batch_each(job->recs, append_to_lmdb, job->log);
    if (rc == TXNLOG_OK)
        rc = txnlog_stage_meta(job->log, META_COMMITTED, job->mark);
    if (rc == TXNLOG_OK)
        rc = txnlog_commit(job->log);
    else
        txnlog_abort(job->log);
    return rc;
}

static void collect_checkpoint(struct dlog *d)
{
    int rc;
    uint64_t us;
    if (!diskworker_collect(d->cw, &rc, &us))
        return;
    if (rc != TXNLOG_OK) {
        ZK_ERROR_RL("checkpoint into the log failed: %s; retried (the journal keeps the records)",
                    txnlog_errmsg(d->log));
        d->cp_retry_at_ms = mono_ms() + RETRY_MS;
        return;
    }
    hist_add(&d->checkpoint_hist, us);
    if (d->cjob.purged_through > d->purged_through)
        d->purged_through = d->cjob.purged_through;
    if (d->cjob.sealed >= 0) {
        struct jfile *f = &d->files[d->cjob.sealed];
        jw_reset(&f->recs);
        f->state = J_FREE;
    }
}

static void on_checkpoint_done(void *ctx) { collect_checkpoint(ctx); }

static void start_checkpoint(struct dlog *d, int64_t committed_mark, int64_t purge_through)
{
    if (diskworker_busy(d->cw) || mono_ms() < d->cp_retry_at_ms)
        return;
    int sealed = -1;
    for (int i = 0; i < JOURNAL_FILES; i++)
        if (d->files[i].state == J_SEALED)
            sealed = i;
    bool purge = purge_through > d->purged_through;
    if (sealed < 0 && !purge)
        return;
    d->cjob = (struct checkpoint_job){d->log, sealed >= 0 ? &d->files[sealed].recs : NULL,
                                      committed_mark, purge ? purge_through : -1, -1, sealed};
    d->fsyncs++;
    diskworker_submit(d->cw, run_checkpoint_job, &d->cjob);
}

/* ---- the loop's side ---- */

int dlog_append(struct dlog *d, int64_t zxid, const void *rec, size_t len)
{
    ZK_ASSERT(zxid > d->unsynced_last);
    journal_batch_add(&d->unsynced, zxid, rec, len);
    if (d->unsynced.err || d->unsynced.len > UNSYNCED_MAX_BYTES) {
        ZK_ERROR("cannot hold more unsynced log records (disk still failing?)");
        return -1;
    }
    d->unsynced_last = zxid;
    return 0;
}

void dlog_flush(struct dlog *d, int64_t committed_mark, int64_t purge_through)
{
    collect_journal(d);
    collect_checkpoint(d);
    start_batch(d, committed_mark);
    start_checkpoint(d, committed_mark, purge_through);
}

int64_t dlog_durable(const struct dlog *d) { return d->durable; }
int64_t dlog_last(const struct dlog *d) { return d->unsynced_last; }

void dlog_queue(const struct dlog *d, uint64_t *records, uint64_t *bytes)
{
    size_t r1, b1, r2 = 0, b2 = 0;
    journal_batch_count(&d->unsynced, &r1, &b1);
    if (d->inflight.len) /* the journal writer reads it meanwhile: reading it too is safe */
        journal_batch_count(&d->inflight, &r2, &b2);
    *records = r1 + r2;
    *bytes = b1 + b2;
}

/* ---- reading ---- */

struct read_ctx {
    int64_t after;
    int (*fn)(void *ctx, int64_t zxid, const void *rec, size_t len);
    void *ctx;
};

static int read_one(void *ctx, int64_t zxid, const void *rec, size_t len)
{
    struct read_ctx *r = ctx;
    if (zxid <= r->after)
        return 0;
    r->after = zxid;
    return r->fn(r->ctx, zxid, rec, len);
}

static int read_arena_one(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len)
{
    return read_one(ctx, zxid, p, len);
}

int dlog_read_after(struct dlog *d, int64_t after,
                    int (*fn)(void *ctx, int64_t zxid, const void *rec, size_t len), void *ctx)
{
    struct read_ctx r = {after, fn, ctx};
    int rc = txnlog_read_after(d->log, after, read_one, &r);
    /* then what only the journals hold yet: the sealed file's records, then the active's */
    for (int k = 1; k <= JOURNAL_FILES && rc == 0; k++) {
        const struct jfile *f = &d->files[(d->active + k) % JOURNAL_FILES];
        if (f->state != J_FREE)
            rc = journal_batch_each(&f->recs, read_arena_one, &r);
    }
    return rc;
}

void dlog_release_memory(struct dlog *d) { txnlog_release_memory(d->log); }
uint64_t dlog_disk_bytes(struct dlog *d) { return txnlog_disk_bytes(d->log); }
uint64_t dlog_fsyncs(const struct dlog *d) { return d->fsyncs; }
const struct hist *dlog_commit_hist(const struct dlog *d) { return &d->commit_hist; }
const struct hist *dlog_batch_hist(const struct dlog *d) { return &d->batch_hist; }
const struct hist *dlog_checkpoint_hist(const struct dlog *d) { return &d->checkpoint_hist; }
