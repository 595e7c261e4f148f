/* The durable transaction log, in one LMDB environment (snapshots are files: snapfile.h).
 *
 * Records are opaque bytes keyed by zxid (the server encodes them, see txnrec.h). Appends are
 * gathered in one LMDB write transaction and made durable together by txnlog_commit (group
 * commit; the server puts its journal in front of it, see server/durablelog.h). Small metadata
 * (acceptedEpoch, currentEpoch, committedZxid) lives in its own table. One thread writes at a
 * time; reads (txnlog_read_after) may run in another thread meanwhile (LMDB's MVCC). */
#ifndef ZK_TXNLOG_H
#define ZK_TXNLOG_H

#include <stddef.h>
#include <stdint.h>

struct txnlog;

enum txnlog_err {
    TXNLOG_OK = 0,
    TXNLOG_EIO = -1,    /* LMDB or the disk failed; the message says which */
    TXNLOG_EFULL = -2,  /* map or disk full: nothing of the batch is durable */
    TXNLOG_ECORRUPT = -3,
    TXNLOG_ENOMEM = -4,
};

#define TXNLOG_ERRMSG_SIZE 256

/* Open (creating if needed) the log in directory `dir`. map_size_bytes bounds the database size
 * (address space only; the file grows as needed). */
int txnlog_open(struct txnlog **out, const char *dir, size_t map_size_bytes, char *errmsg,
                size_t errmsg_size);
void txnlog_close(struct txnlog *log);
const char *txnlog_errmsg(const struct txnlog *log);

/* Add a record to the pending batch. zxid must be above every zxid appended before. */
int txnlog_append(struct txnlog *log, int64_t zxid, const void *rec, size_t len);
/* Make the pending batch durable (fsync). On failure the whole batch is dropped. */
int txnlog_commit(struct txnlog *log);
/* Drop the pending batch without writing it. */
void txnlog_abort(struct txnlog *log);
int txnlog_has_pending(const struct txnlog *log);
/* Highest zxid appended, durable or pending. */
int64_t txnlog_pending_last(const struct txnlog *log);

/* Lowest durable zxid in *zxid (0 if the log is empty). TXNLOG_OK or an error. */
int txnlog_first_zxid(struct txnlog *log, int64_t *zxid);
/* Highest durable zxid in the log, or 0 if the log is empty. */
int64_t txnlog_last_zxid(struct txnlog *log);
/* Remove every durable record with zxid > zxid (a TRUNC from a new leader). */
int txnlog_truncate_after(struct txnlog *log, int64_t zxid);
/* Remove every durable record with zxid <= zxid (behind a snapshot). */
int txnlog_purge_through(struct txnlog *log, int64_t zxid);

/* Inside the pending batch (opening one if needed): delete at most max records with
 * zxid <= zxid, oldest first; *purged_through gets how far the log is now empty. Durable with
 * the batch. Used to purge behind a snapshot without a commit of its own. */
int txnlog_stage_purge(struct txnlog *log, int64_t zxid, size_t max, int64_t *purged_through);
/* Visit durable records with zxid > after_zxid in order. The callback's data pointer is valid
 * only during the call; a non-zero return stops the walk and is returned. */
typedef int (*txnlog_visit_fn)(void *ctx, int64_t zxid, const void *rec, size_t len);
int txnlog_read_after(struct txnlog *log, int64_t after_zxid, txnlog_visit_fn fn, void *ctx);
/* Number of durable records. */
size_t txnlog_count(struct txnlog *log);

/* Write a named integer inside the pending batch (opening one if needed): durable together with
 * the batch's records at the next txnlog_commit. */
int txnlog_stage_meta(struct txnlog *log, const char *name, int64_t value);

/* Small durable integers by name (e.g. "acceptedEpoch"). get returns def when absent. */
int txnlog_meta_put(struct txnlog *log, const char *name, int64_t value);
int64_t txnlog_meta_get(struct txnlog *log, const char *name, int64_t def);

/* Drop this process's resident pages of the LMDB map (they are clean file pages: the map is
 * read-only, writes go through pwrite). Safe at any time, also while a writer thread works:
 * a later access faults the page back in from the page cache. Keeps RSS to the hot pages. */
void txnlog_release_memory(struct txnlog *log);

/* Bytes used by the database file (for mntr/dirs). */
uint64_t txnlog_disk_bytes(struct txnlog *log);

#endif
