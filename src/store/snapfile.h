/* Snapshot files: the durable copy of the applied state, outside the LMDB log.
 *
 * A snapshot lives in DIR/snapshot.<zxid as 16 hex digits> and is only ever seen whole: it is
 * written as snapshot.<zxid>.tmp, fdatasync'd, renamed into place and the directory fsync'd.
 * Layout (docs/storage.md):
 *   header  "ZKSNAP02" + zxid (8 bytes BE)                                  16 bytes
 *   body    the store's snapshot records (store_snapshot_write)           any length
 *   trailer body length (8 BE) + CRC-32 of the body (4 BE) + "ZKSNEND\0"    20 bytes
 * A file whose trailer, length or checksum does not match is not a snapshot (a torn write).
 *
 * Files are also the unit of transfer to a member that is too far behind: the leader sends the
 * raw bytes of its newest file in chunks, the receiver appends them to snapshot.<zxid>.partial
 * (kept across reconnects, so a transfer resumes where it stopped) and installs the file once
 * its length and checksum are right. Writes happen in a forked child, at a member's first start
 * or in --import-zookeeper; nothing here touches the tree or LMDB. */
#ifndef ZK_SNAPFILE_H
#define ZK_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#define SNAPFILE_HEADER_LEN 16u
#define SNAPFILE_TRAILER_LEN 20u
#define SNAPFILE_ERRMSG_SIZE 256

/* ---- writing a snapshot (e.g. from a forked child) ---- */
struct snapfile_writer;
/* Start DIR/snapshot.<zxid>.tmp. Returns 0, or -1 with a message in err. */
int snapfile_create(struct snapfile_writer **out, const char *dir, int64_t zxid, char *err,
                    size_t err_size);
/* Append body bytes (buffered). 0 or -1. Signature fits store_sink_fn. */
int snapfile_write(void *writer, const void *p, size_t len);
/* Trailer, fdatasync, rename into place, fsync the directory; frees w. 0, or -1 with err. */
int snapfile_commit(struct snapfile_writer *w, char *err, size_t err_size);
/* Drop an unfinished snapshot (removes the .tmp file); frees w. */
void snapfile_abort(struct snapfile_writer *w);

/* ---- finding and reading ---- */
/* Zxids of the finished snapshots in DIR, newest first (at most max). Returns how many, or -1. */
int snapfile_list(const char *dir, int64_t *zxids, int max);
/* Stream the body of DIR/snapshot.<zxid> to fn in pieces (the last call ends the body), and
 * check the checksum at the end: returns 0 only if every byte was delivered and matched, -1
 * (err says why) otherwise, or fn's non-zero return. */
int snapfile_read(const char *dir, int64_t zxid, int (*fn)(void *ctx, const void *p, size_t len),
                  void *ctx, char *err, size_t err_size);
/* Size in bytes of DIR/snapshot.<zxid> (the whole file), or -1. */
int64_t snapfile_size(const char *dir, int64_t zxid);
/* Read up to len raw bytes of the whole file at offset (for a transfer). Bytes read, or -1. */
int64_t snapfile_pread(const char *dir, int64_t zxid, uint64_t offset, void *buf, size_t len);
/* Remove finished snapshots older than the `keep` newest, and stray .tmp files. */
void snapfile_prune(const char *dir, int keep);

/* ---- receiving a snapshot file from the leader ---- */
struct snapfile_receiver;
/* Open DIR/snapshot.<zxid>.partial for a file of `size` bytes, keeping what an earlier,
 * interrupted transfer of the same file left (any other .partial is removed). *have gets the
 * bytes already there: the sender may resume from it. 0 or -1 with err. */
int snapfile_receive_open(struct snapfile_receiver **out, const char *dir, int64_t zxid,
                          uint64_t size, uint64_t *have, char *err, size_t err_size);
/* Bytes received so far. */
uint64_t snapfile_receive_have(const struct snapfile_receiver *r);
/* Append bytes at offset: bytes below what we have are skipped (a resent piece), a gap or
 * anything past the announced size is an error. 0 or -1. */
int snapfile_receive_chunk(struct snapfile_receiver *r, uint64_t offset, const void *p,
                           size_t len, char *err, size_t err_size);
/* All bytes arrived: check header, trailer and checksum, fsync, rename to snapshot.<zxid>.
 * 0 or -1 with err (the partial file is then removed). Frees r either way. */
int snapfile_receive_finish(struct snapfile_receiver *r, char *err, size_t err_size);
/* Stop receiving, keeping the partial file for a later resume. Frees r. */
void snapfile_receive_close(struct snapfile_receiver *r);

#endif
