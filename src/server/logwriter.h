/* The log writer thread: commits batches of log records to LMDB (one fsync per batch) while the
 * event loop goes on receiving, ordering and replying (design.md #5: only the LMDB commit moves
 * to a worker; the consensus core does not change).
 *
 * One batch is in flight at a time, so batches become durable in order. A batch is a byte
 * arena of records [zxid:8 BE][len:4 BE][payload]. The loop learns of completion through an
 * eventfd watched by libevent; the result is recorded by logwriter_collect and acted upon by the
 * caller (never from inside the consensus core's update). While a batch is in flight the loop
 * must not use LMDB for writing: logwriter_wait_idle hands LMDB back. */
#ifndef ZK_LOGWRITER_H
#define ZK_LOGWRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/jute.h"

struct event_base;
struct txnlog;
struct logwriter;

struct logwriter_result {
    bool done;          /* a batch finished since the last collect */
    int rc;             /* TXNLOG_OK or the failure */
    int64_t last_zxid;  /* highest zxid of the finished batch */
};

/* on_done runs in the loop thread when a batch finished (collect the result there). */
struct logwriter *logwriter_new(struct event_base *base, struct txnlog *log,
                                void (*on_done)(void *ctx), void *ctx);
/* Waits for an in-flight batch, stops the thread. */
void logwriter_free(struct logwriter *w);

bool logwriter_busy(const struct logwriter *w);
/* Hand the records in *batch (and the committed mark to store with them) to the thread.
 * Precondition: not busy, batch non-empty. The writer owns *batch's contents until collected:
 * the caller passes a writer it will not touch until then. */
void logwriter_submit(struct logwriter *w, struct jute_writer *batch, int64_t last_zxid,
                      int64_t committed_mark);
/* Take the result of the finished batch, if any (loop thread). */
struct logwriter_result logwriter_collect(struct logwriter *w);
/* Block until no batch is in flight (its result is then ready to collect). */
void logwriter_wait_idle(struct logwriter *w);

/* Walk an arena of records, calling fn for each; stops at the first non-zero return. */
int logwriter_each_record(const struct jute_writer *arena,
                          int (*fn)(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len),
                          void *ctx);

#endif
