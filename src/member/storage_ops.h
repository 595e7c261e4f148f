/* What a member needs from its disk: the durable log, the epochs, snapshot files. One of the
 * member's three seams (member.h): src/server/storage.c implements it on LMDB, the journal and
 * real files; the whole-member simulator implements it in memory with a real disk's failure
 * model (unsynced writes lost on a crash, a torn last write, failing fsyncs, a full disk).
 *
 * Durability is reported by polling: `flush` starts making everything appended durable (group
 * commit), `durable` says how far that got. Operations marked "durable now" return only once
 * durable; when one fails the member cannot go on and stops. Snapshots are written off the
 * caller's path (`snapshot_start`, finished when `poll` says so). Snapshot *files* also travel
 * between members for a catch-up (src/member/catchup.c) through the file operations. */
#ifndef ZK_STORAGE_OPS_H
#define ZK_STORAGE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct hist;

typedef int (*storage_record_fn)(void *ctx, int64_t zxid, const void *rec, size_t len);

struct storage_recovered {
    uint32_t accepted_epoch, current_epoch;
    uint64_t incarnation; /* a boot count, durable before recover returns */
    int64_t committed;    /* records up to here are known committed */
};

struct member_storage {
    void *ctx;
    /* ---- recovery ---- */
    /* Load the newest good snapshot into st, then call fn for every log record after it, in
     * order. out->committed is set before the first record. 0, or -1: refuse to start. */
    int (*recover)(void *ctx, struct store *st, struct storage_recovered *out,
                   storage_record_fn fn, void *fn_ctx);
    /* ---- the log ---- */
    /* Add a record (zxid above every earlier one) to the next batch. 0, or -1: stop. */
    int (*append)(void *ctx, int64_t zxid, const void *rec, size_t len);
    /* Start committing what was appended (with the committed mark), if possible now. */
    void (*flush)(void *ctx, int64_t committed_mark);
    int64_t (*durable)(const void *ctx); /* every record up to here is durable */
    /* Durable now: epochs (-1: unchanged); drop records above zxid. 0, or -1: stop. */
    int (*set_epochs)(void *ctx, int64_t accepted, int64_t current, int64_t committed);
    int (*truncate_after)(void *ctx, int64_t zxid, int64_t committed);
    /* Visit durable records with zxid > after in order; fn's non-zero return stops. */
    int (*read_after)(void *ctx, int64_t after, storage_record_fn fn, void *fn_ctx);
    /* ---- snapshots ---- */
    /* Start writing st's state as a snapshot off the caller's path. 0 started, -1 not now. */
    int (*snapshot_start)(void *ctx, const struct store *st);
    /* Periodic work (every core tick): finished snapshots, housekeeping. */
    void (*poll)(void *ctx);
    int64_t (*snapshot_latest)(const void *ctx); /* newest finished snapshot, -1: none */
    /* Replace the state by snapshot file snap_zxid (present, see the file operations) plus the
     * committed records (snap_zxid, last of zxids]: loaded into st, records applied with apply,
     * all made durable. 0, or -1 (st unchanged if the file does not load): stop. */
    int (*install)(void *ctx, struct store *st, int64_t snap_zxid, const void *const *recs,
                   const size_t *lens, const int64_t *zxids, size_t n, storage_record_fn apply,
                   void *apply_ctx);
    /* ---- snapshot files, for a catch-up ---- */
    int64_t (*file_size)(void *ctx, int64_t zxid); /* -1: no finished file at zxid */
    int64_t (*file_pread)(void *ctx, int64_t zxid, uint64_t off, void *buf, size_t len);
    /* Receive file zxid of `size` bytes: *have gets what an interrupted transfer left. */
    int (*receive_open)(void *ctx, int64_t zxid, uint64_t size, uint64_t *have);
    int (*receive_chunk)(void *ctx, uint64_t off, const void *p, size_t len);
    /* All bytes in: check and keep the file (0), or drop it (-1). */
    int (*receive_finish)(void *ctx);
    /* Stop receiving, keeping what arrived for a resume. */
    void (*receive_close)(void *ctx);
    /* ---- numbers for mntr (may return NULL / 0) ---- */
    uint64_t (*disk_bytes)(void *ctx);
    uint64_t (*fsyncs)(const void *ctx);
    const struct hist *(*commit_hist)(const void *ctx);
    const struct hist *(*batch_hist)(const void *ctx);
    const struct hist *(*checkpoint_hist)(const void *ctx);
    const struct hist *(*snapshot_hist)(const void *ctx); /* us per snapshot file written */
    /* Records and bytes appended, not yet durable (the log writer's queue). */
    void (*log_queue)(const void *ctx, uint64_t *records, uint64_t *bytes);
};

#endif
