/* The journal: a small file in front of the LMDB log that makes a batch of log records durable
 * with one flush (LMDB's copy-on-write commit needs two: its pages, then its meta page).
 *
 * A member keeps two journal files; records are appended to one until it is full, then it is
 * sealed, its records are committed into LMDB in one large transaction (a checkpoint), and it is
 * reused under a new generation number. LMDB therefore still holds the whole log; the journals
 * hold the records of the last few milliseconds that LMDB may not have yet.
 *
 * File layout (docs/storage.md): a 4 KiB header ["ZKJHDR01"][generation:8][crc:4], then
 * records [magic "ZKJ1":4][crc32:4][generation:8][zxid:8][len:4][kind:1][pad:3][payload, padded
 * to 8 bytes]. A record counts only with the file's current generation and a matching
 * checksum; reading stops at the first one that does not (a torn or stale tail). The file is
 * zero-filled when created, so later flushes write into allocated blocks only. */
#ifndef ZK_JOURNAL_H
#define ZK_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "proto/jute.h"

#define JOURNAL_HEADER_BYTES 4096u
#define JOURNAL_KIND_RECORD 1
#define JOURNAL_KIND_COMMITTED 2 /* zxid: every record up to it is known committed */
#define JOURNAL_ERRMSG_SIZE 256

struct journal;

/* Open (creating and zero-filling, at least min_size bytes) the journal file at path. */
int journal_open(struct journal **out, const char *path, uint64_t min_size, char *err,
                 size_t err_size);
void journal_close(struct journal *j);
uint64_t journal_generation(const struct journal *j);
/* Bytes a batch may still take before the file must be sealed. */
uint64_t journal_room(const struct journal *j);
/* Bytes a batch of records will take (framing included). */
uint64_t journal_framed_size(size_t records, size_t payload_bytes);

/* Visit the valid records of the current generation in file order; fn's non-zero return stops
 * the walk and is returned. Sets the append position after the last valid record. */
int journal_scan(struct journal *j,
                 int (*fn)(void *ctx, int kind, int64_t zxid, const uint8_t *p, size_t len),
                 void *ctx);
/* Start over under a new generation (older records stop counting): header write + fdatasync. */
int journal_reset(struct journal *j, uint64_t generation, char *err, size_t err_size);
/* Make room for `bytes` more (grows and zero-fills the file). 0 or -1. */
int journal_reserve(struct journal *j, uint64_t bytes, char *err, size_t err_size);

/* The batch format, written and read only here: an in-memory arena of [zxid:8 BE][len:4 BE]
 * [payload] records, the unit a member hands to its disk. */
void journal_batch_add(struct jute_writer *arena, int64_t zxid, const void *p, size_t len);
/* Walk an arena in order; stops at fn's first non-zero return, which is returned. */
int journal_batch_each(const struct jute_writer *arena,
                       int (*fn)(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len),
                       void *ctx);
/* Records and payload bytes of an arena. */
void journal_batch_count(const struct jute_writer *arena, size_t *records, size_t *bytes);

/* Frame a batch arena into buf (cleared first): its records, then the committed mark. */
void journal_frame_batch(const struct journal *j, struct jute_writer *buf,
                         const struct jute_writer *records, int64_t committed_mark);
/* Write framed bytes at the append position and fdatasync: durable when it returns 0. */
int journal_write(struct journal *j, const struct jute_writer *framed, char *err,
                  size_t err_size);

#endif
