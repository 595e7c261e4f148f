/* A member's disk: the one module that owns the durable log (its batch format, the committed
 * mark, group commit, retries), the epochs and the snapshot files. Everything else asks it for
 * durability and learns of completions by polling storage_durable_zxid / storage_poll.
 *
 * Layout on disk (docs/storage.md): dataLogDir/zabkeeper-log/ (LMDB: log records by zxid and
 * a few named integers) and dataDir/zabkeeper-snap/ (snapshot files, src/store/snapfile.h).
 * Appends go to an in-memory batch; storage_flush hands it to the log writer thread, which
 * commits it with one fsync (group commit) together with the committed mark and a bounded
 * purge of records behind the newest snapshot. Snapshots are written by a forked child.
 * Operations that the protocol needs durable before it goes on (epochs, truncation, installing
 * a leader's snapshot) wait for the writer and commit from the caller's thread. */
#ifndef ZK_STORAGE_H
#define ZK_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;
struct storage;

struct storage_config {
    const char *data_dir;     /* snapshots */
    const char *log_dir;      /* the LMDB log */
    uint64_t lmdb_map_bytes;
};

/* Opens (creating) both directories. 0, or -1 (logged). */
int storage_open(struct storage **out, struct event_base *base, const struct storage_config *cfg);
/* Stops the writer (waiting for a batch in flight) and a snapshot child; unsynced records were
 * never acknowledged and are dropped. */
void storage_close(struct storage *s);

/* ---- recovery ---- */
struct storage_recovered {
    uint32_t accepted_epoch, current_epoch;
    uint64_t incarnation;     /* a boot count, durable before this returns */
    int64_t committed;        /* records up to here are known committed */
};
/* Load the newest valid snapshot into st (falling back to an older one if the newest is torn),
 * then call fn for every log record after it in zxid order. 0, or -1 (logged): refuse to start. */
int storage_recover(struct storage *s, struct store *st, struct storage_recovered *out,
                    int (*fn)(void *ctx, int64_t zxid, const void *rec, size_t len), void *ctx);

/* ---- the log ---- */
/* Add a record (zxid above every earlier one) to the next batch. 0, or -1 when too much is
 * waiting for a disk that keeps failing (the member must stop). */
int storage_append(struct storage *s, int64_t zxid, const void *rec, size_t len);
/* Start a commit of everything appended (with committed_mark) if the writer is free: one fsync
 * for every record appended since the last one. Call once per loop turn. */
void storage_flush(struct storage *s, int64_t committed_mark);
/* Every record up to here is durable. */
int64_t storage_durable_zxid(const struct storage *s);
/* Highest zxid appended (durable or not). */
int64_t storage_last_zxid(const struct storage *s);
/* Persist epochs durably now (either may be -1: unchanged). 0 or -1. */
int storage_set_epochs(struct storage *s, int64_t accepted, int64_t current, int64_t committed);
/* Drop every record above zxid, durably, now. 0 or -1. */
int storage_truncate_after(struct storage *s, int64_t zxid, int64_t committed);
/* Visit durable records with zxid > after, in order (a leader streaming a follower's catch-up);
 * fn returns non-zero to stop, which is returned. */
int storage_read_after(struct storage *s, int64_t after,
                       int (*fn)(void *ctx, int64_t zxid, const void *rec, size_t len),
                       void *ctx);

/* ---- snapshots ---- */
/* Start writing st's state in a forked child (no-op if one is running). 0 started, -1 not. */
int storage_snapshot_start(struct storage *s, const struct store *st);
bool storage_snapshot_running(const struct storage *s);
/* Newest finished snapshot's zxid, or -1 if there is none. */
int64_t storage_snapshot_latest(const struct storage *s);
const char *storage_snapshot_dir(const struct storage *s);
/* Replace the whole state by the snapshot file at snap_zxid (already received in the snapshot
 * directory) plus committed records (snap_zxid, target]: loads it into st, applies the records
 * with apply(), and makes it durable (log emptied and refilled with those records, committed
 * mark at target). 0, or -1 (logged; st unchanged if the file does not load). */
int storage_install(struct storage *s, struct store *st, int64_t snap_zxid,
                    const void *const *recs, const size_t *lens, const int64_t *zxids, size_t n,
                    int (*apply)(void *ctx, int64_t zxid, const void *rec, size_t len),
                    void *ctx);

/* Periodic work (call every core tick): the snapshot child's result (prune old files, purge the
 * log behind a new snapshot), memory release. Returns 1 when a snapshot just finished. */
int storage_poll(struct storage *s);

/* For mntr/srvr. */
uint64_t storage_disk_bytes(struct storage *s);
uint64_t storage_fsyncs(const struct storage *s);
struct hist;
/* Microseconds per log commit (fsyncs included) and records per commit. */
const struct hist *storage_commit_hist(const struct storage *s);
const struct hist *storage_batch_hist(const struct storage *s);
/* Microseconds per checkpoint of a journal file into LMDB. */
const struct hist *storage_checkpoint_hist(const struct storage *s);

#endif
