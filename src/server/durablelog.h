/* The durable log of a member: the one module that owns it — the batch and journal formats
 * (src/store/journal.h), the LMDB log (src/store/txnlog.h), group commit, the committed mark,
 * checkpoints, purging and retries.
 *
 * A record appended here goes into the next batch. storage_flush-style calls hand batches to
 * the journal worker, which appends a batch to the active journal file and fdatasyncs it: one
 * flush makes a whole batch durable (group commit). When the active journal file is full it is
 * sealed and the checkpoint worker commits its records into LMDB in one transaction (with a
 * bounded purge of records behind the newest snapshot); the file is then free for reuse. So
 * LMDB holds the whole log, and the journals the records of the last moments. Batches that
 * cannot be made durable (disk full) are kept and retried; nothing is reported durable meanwhile.
 * Rare operations that must be durable at once (epochs, truncation, replacing the log) first
 * fold everything into LMDB from the calling thread. */
#ifndef ZK_DURABLELOG_H
#define ZK_DURABLELOG_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct hist;
struct dlog;

int dlog_open(struct dlog **out, struct event_base *base, const char *dir, uint64_t map_bytes);
/* Waits for running jobs; records not yet durable were never acknowledged and are dropped. */
void dlog_close(struct dlog *d);

/* ---- recovery ---- */
/* Fold the journals' valid records that LMDB lacks into LMDB and start both journals afresh.
 * Call once, before anything else. 0 or -1 (logged). */
int dlog_recover(struct dlog *d);
/* Named durable integers (epochs, boot count, the committed mark). */
int64_t dlog_meta_get(struct dlog *d, const char *name, int64_t def);
int dlog_meta_put(struct dlog *d, const char *name, int64_t value);
/* Lowest logged zxid (0 if none). 0 or -1. */
int dlog_first_zxid(struct dlog *d, int64_t *zxid);

/* ---- appending ---- */
/* Add a record (zxid above every earlier one) to the next batch. 0, or -1 when too much waits
 * for a disk that keeps failing (the member must stop). */
int dlog_append(struct dlog *d, int64_t zxid, const void *rec, size_t len);
/* Start what can start now: a journal batch of everything appended (with committed_mark), a
 * checkpoint of a sealed journal, a purge up to purge_through (-1: none). Once per loop turn. */
void dlog_flush(struct dlog *d, int64_t committed_mark, int64_t purge_through);
int64_t dlog_durable(const struct dlog *d);
int64_t dlog_last(const struct dlog *d);

/* ---- durable now (rare) ---- */
/* Fold everything into LMDB, set the named values, commit. 0 or -1. */
int dlog_commit_meta(struct dlog *d, const char *const *names, const int64_t *values, int n,
                     int64_t committed);
/* Drop every record above zxid, durably. 0 or -1. */
int dlog_truncate_after(struct dlog *d, int64_t zxid, int64_t committed);
/* Replace the whole log by these records (a leader's snapshot was installed), durably. */
int dlog_replace(struct dlog *d, const void *const *recs, const size_t *lens,
                 const int64_t *zxids, size_t n, int64_t committed);

/* Visit durable records with zxid > after, in order; fn's non-zero return stops and is
 * returned. */
int dlog_read_after(struct dlog *d, int64_t after,
                    int (*fn)(void *ctx, int64_t zxid, const void *rec, size_t len), void *ctx);
/* Give back LMDB's mapped pages (every tick). */
void dlog_release_memory(struct dlog *d);

/* For mntr. */
uint64_t dlog_disk_bytes(struct dlog *d);
uint64_t dlog_fsyncs(const struct dlog *d);
const struct hist *dlog_commit_hist(const struct dlog *d); /* us per journal batch */
const struct hist *dlog_batch_hist(const struct dlog *d);  /* records per journal batch */
const struct hist *dlog_checkpoint_hist(const struct dlog *d); /* us per LMDB checkpoint */
/* Records (and their bytes) appended and not yet durable: waiting for, or in, the journal
 * writer. */
void dlog_queue(const struct dlog *d, uint64_t *records, uint64_t *bytes);

#endif
