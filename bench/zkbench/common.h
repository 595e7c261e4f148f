/* Shared helpers of zkbench: clocks, CPU accounting, connecting a session (official C client,
 * multithreaded library) and the option parser used by every subcommand. */
#ifndef ZKBENCH_COMMON_H
#define ZKBENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zookeeper/zookeeper.h>

#include "common/hist.h"

uint64_t now_ns(void);
void sleep_ms(unsigned ms);
/* CPU seconds (user+system) this process used so far. */
double cpu_seconds(void);

/* Open a session to `connect` and wait up to timeout_ms until it is connected; NULL (with a
 * message on stderr) on failure. */
zhandle_t *bench_connect(const char *connect, int session_timeout_ms, int timeout_ms);
/* By default libzookeeper_mt re-resolves the connect string (getaddrinfo, i.e. netlink dumps)
 * on every pass of its I/O loop: over a third of the generator's CPU. -1 resolves only on a
 * connection loss. */
void quiet_resolver(zhandle_t *zh);
/* Create `path` (persistent, empty) if missing; its parent must exist. 0 or -1. */
int ensure_node(zhandle_t *zh, const char *path);

/* Options common to the subcommands; unset numbers stay at the caller's defaults. */
struct opts {
    const char *connect;
    const char *op;
    const char *kill_cmd;
    const char *root;
    int clients;
    int depth;
    int seconds;
    int warmup;
    int size;
    int keys;
    int contenders;
    int timeout;
    int nodes;      /* fill, watches: znodes */
    int fanout;     /* fill: children per parent */
    int batch;      /* fill: creates per request (a multi when > 1) */
    int sessions;   /* sessions: how many to open */
    int watchers;   /* watches: sessions watching every node */
    int hold;       /* sessions, watches: seconds to keep the peak state after --at-peak */
    const char *at_peak; /* sessions, watches: shell command run when the state is at its peak */
};
/* Parse argv (after the subcommand) into o; 0, or -1 with a message on stderr. */
int parse_opts(int argc, char **argv, struct opts *o);

/* The leaf i of a fill's layout (fill.c): ROOT/p<i / fanout>/n<i % fanout>. */
void layout_path(char *buf, size_t len, const char *root, int fanout, int i);
/* Run --at-peak's command (if any) and wait --hold seconds: the caller's state is at its peak. */
void at_peak(const struct opts *o);

/* Print "name=value" latency quantiles in ms from h. */
void print_latency(const char *prefix, const struct hist *h);

int cmd_ops(const struct opts *o);
int cmd_lock(const struct opts *o);
int cmd_failover(const struct opts *o);
int cmd_fill(const struct opts *o);
int cmd_sessions(const struct opts *o);
int cmd_watches(const struct opts *o);

#endif
