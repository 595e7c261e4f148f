/* The member's core loop: recovery at start, ordering of writes, group commit, apply, snapshots,
 * session expiry (see server.h for the pipeline). */
#include "server/server.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <malloc.h>
#include <msgpack.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"
#include "server/repl.h"
#include "server/sdnotify.h"
#include "session/tracker.h"
#include "server/storage.h"

int64_t srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t srv_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- writes ---- */

int srv_track_session(struct srv *s, int64_t session_id, int32_t timeout_ms)
{
    /* The stored timeout came through the log: clamp it to this member's limits so no txn
     * (or an old one from before a config change) can set an unbounded session lifetime. */
    if (timeout_ms < s->cfg.min_session_timeout_ms)
        timeout_ms = s->cfg.min_session_timeout_ms;
    if (timeout_ms > s->cfg.max_session_timeout_ms)
        timeout_ms = s->cfg.max_session_timeout_ms;
    return sess_tracker_touch(s->tracker, session_id, timeout_ms, srv_now_ms());
}

void srv_track_session_change(struct srv *s, const struct store_txn *txn, int32_t err)
{
    if (txn->type == ZOP_CLOSESESSION) {
        sess_tracker_remove(s->tracker, txn->session_id);
        return;
    }
    if (txn->type != ZOP_CREATESESSION || err != ZE_OK || txn->session_id == 0)
        return;
    int32_t timeout_ms;
    uint8_t passwd[ZK_PASSWD_LEN];
    if (store_session_get(s->store, txn->session_id, &timeout_ms, passwd) &&
        srv_track_session(s, txn->session_id, timeout_ms) != 0)
        ZK_ERROR("out of memory tracking session");
}

static void maybe_snapshot(struct srv *s);

void srv_flush(struct srv *s)
{
    repl_flush(s);
    client_drain_all(s);
    client_unthrottle(s);
    maybe_snapshot(s);
    client_reap_doomed(s);
}

/* ---- memory ---- */

#define TRIM_INTERVAL_MS 10000

/* Give back the freed heap (glibc keeps it otherwise). */
static void trim_memory(struct srv *s)
{
    malloc_trim(0);
    s->last_trim_ms = srv_now_ms();
}

/* ---- snapshots ---- */

/* ZooKeeper's rule: a snapshot after snapCount/2 + a random part of snapCount/2 txns, so the
 * members of an ensemble do not all write one at the same moment; or once snapSizeLimitInKb of
 * log has been written since the last one. */
static void pick_snapshot_threshold(struct srv *s)
{
    long half = s->cfg.snap_count / 2;
    s->snap_threshold = half + (half > 0 ? (long)((uint64_t)rand() % (uint64_t)(half + 1)) : 1);
}

static void maybe_snapshot(struct srv *s)
{
    bool due = s->txns_since_snapshot >= s->snap_threshold ||
               (s->cfg.snap_size_limit_bytes > 0 &&
                s->bytes_since_snapshot >= s->cfg.snap_size_limit_bytes);
    if (!due || storage_snapshot_start(s->storage, s->store) != 0)
        return;
    ZK_INFO("snapshot at zxid 0x%llx started (%ld txns, %lld bytes since the last one)",
            (unsigned long long)store_last_zxid(s->store), s->txns_since_snapshot,
            (long long)s->bytes_since_snapshot);
    s->txns_since_snapshot = 0;
    s->bytes_since_snapshot = 0;
    pick_snapshot_threshold(s);
}

/* ---- ticks: session expiry and container reaping (this member orders writes) ---- */

static void expire_session(void *ctx, int64_t session_id)
{
    struct srv *s = ctx;
    ZK_INFO("session 0x%llx expired", (unsigned long long)session_id);
    struct store_txn txn = {.session_id = session_id, .type = ZOP_CLOSESESSION};
    if (repl_submit(s, &txn) != ZE_OK)
        ZK_ERROR("could not log the expiry of session 0x%llx", (unsigned long long)session_id);
}

struct reap_round {
    struct srv *srv;
    long budget; /* znode.container.maxPerMinute, spread over the check interval */
};

static void reap_node(void *ctx, const char *path)
{
    struct reap_round *round = ctx;
    if (round->budget <= 0)
        return;
    round->budget--;
    struct jute_writer body;
    jw_init(&body);
    jw_string(&body, path);
    struct store_txn txn = {.type = ZOP_DELETECONTAINER, .body = body.data,
                            .body_len = (uint32_t)body.len};
    if (body.err || repl_submit(round->srv, &txn) != ZE_OK)
        ZK_ERROR_RL("could not log the deletion of %s", path);
    jw_free(&body);
}

static void reap_containers(struct srv *s)
{
    long per_round = (long)((int64_t)s->cfg.container_max_per_minute * s->cfg.container_check_ms /
                            60000);
    struct reap_round round = {s, per_round > 0 ? per_round : 1};
    store_reap_candidates(s->store, srv_wall_ms(), reap_node, &round);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct srv *s = arg;
    int64_t now = srv_now_ms();
    if (now - s->last_trim_ms >= TRIM_INTERVAL_MS)
        trim_memory(s);
    if (!repl_is_leader(s) || !repl_serving(s))
        return; /* the leader alone decides expiry and reaping */
    sess_tracker_expire(s->tracker, now, expire_session, s);
    if (now - s->last_reap_ms >= s->cfg.container_check_ms) {
        s->last_reap_ms = now;
        reap_containers(s);
    }
}

static void on_core_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct srv *s = arg;
    repl_tick(s);
    storage_poll(s->storage);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct srv *s = arg;
    ZK_INFO("signal %d: shutting down", (int)sig);
    sdnotify_stopping();
    s->stopping = true;
    event_base_loopbreak(s->base);
}

/* ---- lifecycle ---- */

static int open_storage(struct srv *s)
{
    struct storage_config sc = {s->cfg.data_dir, s->cfg.data_log_dir, s->cfg.lmdb_map_bytes};
    if (storage_open(&s->storage, s->base, &sc) != 0)
        return -1;
    struct store_options opts = {
        .max_data_len = s->cfg.max_buffer,
        .extended_types = s->cfg.extended_types,
        .notify = client_notify,
        .notify_ctx = s,
        .max_reply_len = s->cfg.max_buffer,
    };
    s->store = store_new(&opts);
    s->tracker = sess_tracker_new(s->cfg.tick_ms);
    if (!s->store || !s->tracker) {
        ZK_ERROR("out of memory at start");
        return -1;
    }
    return repl_start(s);
}

static int start_events(struct srv *s)
{
    struct timeval core_tick = {0, REPL_TICK_MS * 1000};
    s->core_tick_ev = event_new(s->base, -1, EV_PERSIST, on_core_tick, s);
    if (!s->core_tick_ev || event_add(s->core_tick_ev, &core_tick))
        return -1;
    struct timeval tick = {0, 0};
    int64_t half_tick_ms = s->cfg.tick_ms / 2 > 0 ? s->cfg.tick_ms / 2 : 1;
    tick.tv_sec = half_tick_ms / 1000;
    tick.tv_usec = (half_tick_ms % 1000) * 1000;
    s->tick_ev = event_new(s->base, -1, EV_PERSIST, on_tick, s);
    s->sig_ev[0] = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sig_ev[1] = evsignal_new(s->base, SIGINT, on_signal, s);
    if (!s->tick_ev || !s->sig_ev[0] || !s->sig_ev[1] || event_add(s->tick_ev, &tick) ||
        event_add(s->sig_ev[0], NULL) || event_add(s->sig_ev[1], NULL))
        return -1;
    return client_listen(s);
}

int srv_init(struct srv *s, const struct zk_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    i64map_init(&s->conn_by_id);
    i64map_init(&s->conn_by_session);
    jw_init(&s->scratch);
    jw_init(&s->body_scratch);
    s->start_ms = srv_now_ms();
    s->last_reap_ms = s->start_ms;
    s->next_conn_id = 1;
    /* Session ids as ZooKeeper makes them: member id in the top byte, then milliseconds, so
     * ids stay unique across members and restarts. */
    s->next_session_id = (int64_t)(((uint64_t)srv_wall_ms() << 24) >> 8) |
                         (int64_t)((uint64_t)cfg->myid << 56);
    if (s->next_session_id == 0)
        s->next_session_id = 1;
    signal(SIGPIPE, SIG_IGN);
    s->base = event_base_new();
    srand((unsigned)(srv_wall_ms() ^ cfg->myid)); /* only spreads the members' snapshots */
    pick_snapshot_threshold(s);
    if (!s->base || open_storage(s) || start_events(s))
        return -1;
    return 0;
}

int srv_run(struct srv *s)
{
    ZK_INFO("listening for clients on port %d (%s), zxid 0x%llx", s->cfg.client_port,
            s->cfg.n_members ? "ensemble" : "standalone",
            (unsigned long long)store_last_zxid(s->store));
    while (!s->stopping) {
        if (event_base_loop(s->base, EVLOOP_ONCE) < 0) {
            ZK_ERROR("event loop failed");
            return -1;
        }
        srv_flush(s);
    }
    return 0;
}

void srv_destroy(struct srv *s)
{
    if (s->storage && s->repl)
        srv_flush(s); /* writes already accepted get their fsync and reply before we go */
    client_close_all(s);
    client_reap_doomed(s);
    if (s->listener)
        evconnlistener_free(s->listener);
    if (s->accept_retry_ev)
        event_free(s->accept_retry_ev);
    repl_stop(s);
    if (s->tick_ev)
        event_free(s->tick_ev);
    if (s->core_tick_ev)
        event_free(s->core_tick_ev);
    for (int i = 0; i < 2; i++)
        if (s->sig_ev[i])
            event_free(s->sig_ev[i]);
    if (s->base)
        event_base_free(s->base);
    storage_close(s->storage);
    store_free(s->store);
    sess_tracker_free(s->tracker);
    i64map_free(&s->conn_by_id);
    i64map_free(&s->conn_by_session);
    jw_free(&s->scratch);
    jw_free(&s->body_scratch);
}
