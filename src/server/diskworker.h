/* A disk worker: one thread that runs the jobs a member's storage hands it, one at a time,
 * so that fsyncs never stall the event loop (design.md #5). The loop submits a job, goes on,
 * and learns of its end through an eventfd watched by libevent; it collects the result there.
 * While a job runs, the loop must not touch what the job uses: storage.c keeps that rule. */
#ifndef ZK_DISKWORKER_H
#define ZK_DISKWORKER_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct diskworker;

/* on_done runs in the loop thread when a job finished (collect the result there). */
struct diskworker *diskworker_new(struct event_base *base, const char *name,
                                  void (*on_done)(void *ctx), void *ctx);
/* Waits for a running job, stops the thread. */
void diskworker_free(struct diskworker *w);
/* A job runs, or its result was not collected yet. */
bool diskworker_busy(const struct diskworker *w);
/* Run job(arg) in the thread. Precondition: not busy. */
void diskworker_submit(struct diskworker *w, int (*job)(void *arg), void *arg);
/* If a job finished since the last collect: true, its return value and how long it ran. */
bool diskworker_collect(struct diskworker *w, int *rc, uint64_t *us);
/* Block until no job runs (its result is then ready to collect). */
void diskworker_wait_idle(struct diskworker *w);

#endif
