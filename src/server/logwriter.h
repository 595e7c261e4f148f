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
    bool done;              /* a batch finished since the last collect */
    int rc;                 /* TXNLOG_OK or the failure */
    int64_t last_zxid;      /* highest zxid of the finished batch */
    int64_t purged_through; /* the log holds nothing at or below this (when rc is OK) */
};

/* One commit: the records of *batch, the committed mark, and a bounded purge of records up to
 * purge_through (at most LOGWRITER_PURGE_MAX of them, so a purge never makes a batch slow). */
struct logwriter_job {
    struct jute_writer *batch;
    int64_t last_zxid;
    int64_t committed_mark;
    int64_t purge_through; /* -1: none */
};
#define LOGWRITER_PURGE_MAX 4096

/* on_done runs in the loop thread when a batch finished (collect the result there). */
struct logwriter *logwriter_new(struct event_base *base, struct txnlog *log,
                                void (*on_done)(void *ctx), void *ctx);
/* Waits for an in-flight batch, stops the thread. */
void logwriter_free(struct logwriter *w);

bool logwriter_busy(const struct logwriter *w);
/* Hand a job to the thread. Precondition: not busy. The writer owns *job->batch's contents
 * until collected: the caller passes a writer it will not touch until then. */
void logwriter_submit(struct logwriter *w, const struct logwriter_job *job);
/* Take the result of the finished batch, if any (loop thread). */
struct logwriter_result logwriter_collect(struct logwriter *w);
/* Block until no batch is in flight (its result is then ready to collect). */
void logwriter_wait_idle(struct logwriter *w);

/* The batch format, written and read only here: [zxid:8 BE][len:4 BE][payload] records. */
void logwriter_batch_add(struct jute_writer *arena, int64_t zxid, const void *p, size_t len);
/* Walk an arena of records, calling fn for each; stops at the first non-zero return. */
int logwriter_each_record(const struct jute_writer *arena,
                          int (*fn)(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len),
                          void *ctx);

#endif
