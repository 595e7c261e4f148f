/* One zabkeeper member: the event loop, the request pipeline and the state it drives.
 *
 * Pipeline (design.md #5): client frames are decoded in read callbacks; writes become txns that
 * are submitted for ordering; once per loop turn srv_flush() commits the batch of log writes
 * with one fsync, applies everything committed in zxid order and queues the replies, which
 * libevent writes out together. Standalone is an ensemble of one: the member orders its own
 * writes and a txn is committed when it is durable in its own log. */
#ifndef ZK_SERVER_H
#define ZK_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/i64map.h"
#include "proto/jute.h"
#include "server/config.h"
#include "store/store.h"

struct event_base;
struct event;
struct evconnlistener;
struct storage;
struct sess_tracker;
struct conn;

struct srv_stats {
    uint64_t packets_received;
    uint64_t packets_sent;
    uint64_t latency_total_ms;
    uint64_t latency_count;
    int64_t latency_min_ms;
    int64_t latency_max_ms;
    uint64_t txns_logged;
};

struct srv {
    struct zk_config cfg;
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *tick_ev;          /* session expiry and reaping, every tickTime/2 */
    struct event *core_tick_ev;     /* the consensus core's tick */
    struct event *sig_ev[2];
    struct store *store;
    struct storage *storage;        /* the log and the snapshots (storage.c) */
    struct sess_tracker *tracker;

    struct repl *repl;              /* the consensus pipeline (repl.c) */
    int64_t txns_since_snapshot;
    int64_t bytes_since_snapshot;   /* log bytes applied since the last snapshot started */
    long snap_threshold;            /* txns before the next snapshot (randomized) */
    int64_t next_session_id;
    int64_t last_reap_ms;
    int64_t last_trim_ms;

    struct conn *conns;             /* all client connections (list) */
    struct i64map conn_by_id;       /* watcher id -> conn */
    struct i64map conn_by_session;  /* session id -> the conn that owns it here */
    uint64_t next_conn_id;
    size_t n_conns;
    struct conn *doomed;            /* conns to free at the end of the loop turn */
    struct conn *dirty;             /* conns with replies not yet pushed to their sockets */
    size_t syncs_waiting;           /* queued sync requests, over all connections */
    size_t outstanding;             /* queued requests, over all connections */
    size_t n_throttled;             /* connections not read because of globalOutstandingLimit */
    struct event *accept_retry_ev;  /* re-enables the listener after an accept failure */
    int accept_backoff_ms;

    struct jute_writer scratch;     /* reply/notification assembly */
    struct jute_writer body_scratch;
    struct srv_stats stats;
    int64_t start_ms;
    bool stopping;
};

/* Monotonic milliseconds (expiry, latency) and wall-clock milliseconds (ctime/mtime). */
int64_t srv_now_ms(void);
int64_t srv_wall_ms(void);

int srv_init(struct srv *s, const struct zk_config *cfg);
int srv_run(struct srv *s);
void srv_destroy(struct srv *s);

/* Leader: track (or renew) a session, its timeout clamped to min/maxSessionTimeout. */
int srv_track_session(struct srv *s, int64_t session_id, int32_t timeout_ms);
/* Leader: keep the expiry tracker in step with applied createSession/closeSession. */
void srv_track_session_change(struct srv *s, const struct store_txn *txn, int32_t err);
/* Commit what was logged this turn and apply it; called once per loop turn. */
void srv_flush(struct srv *s);

/* ---- client connections (client.c) ---- */
int client_listen(struct srv *s);
/* A committed txn was applied: reply to its session's connection here, if any. Returns whether
 * a reply to that very request was queued here. */
bool client_on_applied(struct srv *s, const struct store_txn *txn, int32_t err,
                       const struct jute_writer *body);
/* A logged txn could not be made durable: fail its request. */
void client_on_failed(struct srv *s, const struct store_txn *txn, int32_t err);
/* Deliver a watch notification (store callback). */
void client_notify(void *ctx, uint64_t watcher, int32_t event_type, const char *path,
                   const struct acl_list *acl);
/* The leader answered a forwarded sync: the sync waits until zxid is applied here. */
void client_sync_resolved(struct srv *s, uint64_t conn_id, int32_t xid, int64_t zxid);
/* Replies that waited for later applies (sync) may now be ready. */
void client_drain_all(struct srv *s);
void client_close_all(struct srv *s);
/* One `stat` line per connection: " /ip:port[interest](queued=..,recved=..,sent=..)". */
void client_describe_all(struct srv *s, struct jute_writer *out);
void client_reap_doomed(struct srv *s);
/* Resume reading connections throttled by globalOutstandingLimit once below it. */
void client_unthrottle(struct srv *s);
/* Write this turn's replies to their sockets now (before an fsync would delay them). */
void client_push_all(struct srv *s);

/* ---- four-letter words (fourlw.c) ---- */
bool fourlw_is_command(const uint8_t word[4]);
/* Write the answer to `word` into out (plain text). */
void fourlw_answer(struct srv *s, const char *word, struct jute_writer *out);

#endif
