/* The member as a process (see server.h): the event loop, the timers and signals, and the
 * member_env functions that connect the member to sockets and the clock. */
#include "server/server.h"

#include <dirent.h>
#include <event2/event.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "member/member.h"
#include "security/sasl.h"
#include "server/admin.h"
#include "server/clientio.h"
#include "server/dynconfig.h"
#include "server/peer.h"
#include "server/sdnotify.h"
#include "server/storage.h"

#define TRIM_INTERVAL_MS 10000
#define TLS_RELOAD_CHECK_MS 5000 /* how soon rotated certificate files are taken */

/* ---- the member's seams ---- */

static int env_peer_send(void *io, uint32_t to, const uint8_t *msg, size_t len)
{
    struct server *s = io;
    return s->peers ? peer_net_send(s->peers, to, msg, len) : -1;
}

static size_t env_peer_queued(void *io, uint32_t to)
{
    struct server *s = io;
    return s->peers ? peer_net_queued(s->peers, to) : 0;
}

static size_t env_peer_queue_max(void *io) { return ((struct server *)io)->cfg.peer_queue_max_bytes; }

static void env_peer_reset(void *io, uint32_t to, const char *why)
{
    struct server *s = io;
    if (s->peers)
        peer_net_reset(s->peers, to, why);
}

static void env_peer_push(void *io)
{
    struct server *s = io;
    if (s->peers)
        peer_net_push(s->peers);
}

static int env_conn_send(void *io, uint64_t conn, const uint8_t *data, size_t len)
{
    return clientio_send(((struct server *)io)->clients, conn, data, len);
}

static size_t env_conn_queued(void *io, uint64_t conn)
{
    return clientio_queued(((struct server *)io)->clients, conn);
}

static void env_conn_reading(void *io, uint64_t conn, bool on)
{
    clientio_reading(((struct server *)io)->clients, conn, on);
}

static void env_conn_close(void *io, uint64_t conn, bool after_flush)
{
    clientio_close(((struct server *)io)->clients, conn, after_flush);
}

static void env_conn_push(void *io) { clientio_push(((struct server *)io)->clients); }

static int env_sasl_step(void *io, uint64_t conn, const uint8_t *in, size_t in_len,
                         const uint8_t **out, size_t *out_len, char *id, size_t id_size)
{
    return clientio_sasl_step(((struct server *)io)->clients, conn, in, in_len, out, out_len, id,
                              id_size);
}

static void env_members_changed(void *io, const struct zk_member *members, int n,
                                const char *text, size_t text_len, int64_t version)
{
    struct server *s = io;
    if (s->peers)
        peer_net_set_members(s->peers, members, n);
    /* As ZooKeeper: the files are rewritten only where reconfiguration is on (an operator's
     * static zoo.cfg is left alone otherwise); the state holds the configuration anyway. */
    if (s->cfg.reconfig_enabled)
        dynconfig_write(&s->cfg, text, text_len, version); /* failures are logged */
}

static int64_t clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t env_now_ms(void *io)
{
    (void)io;
    return clock_ms(CLOCK_MONOTONIC);
}

static int64_t env_wall_ms(void *io)
{
    (void)io;
    return clock_ms(CLOCK_REALTIME);
}

static void env_random(void *io, void *buf, size_t len)
{
    (void)io;
    if (getrandom(buf, len, 0) != (ssize_t)len) {
        ZK_ERROR("getrandom failed; exiting");
        abort(); /* session passwords must not be guessable */
    }
}

static void env_fatal(void *io, const char *why)
{
    (void)io;
    ZK_ERROR("stopping: %s", why);
    fflush(stderr);
    _exit(70); /* no clean-up: nothing may be written as if the member could go on */
}

static void env_serving(void *io, bool serving)
{
    (void)io;
    if (serving)
        sdnotify_ready();
}

static long count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

static void env_process_facts(void *io, long *open_fds, long *max_fds)
{
    (void)io;
    struct rlimit rl = {0, 0};
    *open_fds = count_open_fds();
    *max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)rl.rlim_cur : -1;
}

static struct member_env make_env(struct server *s)
{
    return (struct member_env){
        .io = s,
        .peer_send = env_peer_send,
        .peer_queued = env_peer_queued,
        .peer_queue_max = env_peer_queue_max,
        .peer_reset = env_peer_reset,
        .peer_push = env_peer_push,
        .conn_send = env_conn_send,
        .conn_queued = env_conn_queued,
        .conn_reading = env_conn_reading,
        .conn_close = env_conn_close,
        .conn_push = env_conn_push,
        .sasl_step = zsasl_ready() ? env_sasl_step : NULL,
        .members_changed = env_members_changed,
        .now_ms = env_now_ms,
        .wall_ms = env_wall_ms,
        .random = env_random,
        .fatal = env_fatal,
        .serving = env_serving,
        .process_facts = env_process_facts,
    };
}

/* ---- peer transport events ---- */

static void on_peer_message(void *ctx, uint32_t from, const uint8_t *data, size_t len)
{
    member_peer_message(((struct server *)ctx)->member, from, data, len);
}

static void on_peer_down(void *ctx, uint32_t id)
{
    member_peer_down(((struct server *)ctx)->member, id);
}

static void on_peer_drained(void *ctx, uint32_t id)
{
    member_peer_drained(((struct server *)ctx)->member, id);
}

/* ---- timers and signals ---- */

static void on_core_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    member_tick(((struct server *)arg)->member);
}

static void on_session_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    member_session_tick(((struct server *)arg)->member);
}

static void on_trim(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    malloc_trim(0); /* glibc keeps freed heap otherwise */
}

static void on_tls_reload(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct server *s = arg;
    clientio_reload_tls(s->clients);
    if (s->peers)
        peer_net_reload_tls(s->peers);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct server *s = arg;
    ZK_INFO("signal %d: shutting down", (int)sig);
    sdnotify_stopping();
    s->stopping = true;
    event_base_loopbreak(s->base);
}

static struct event *add_timer(struct server *s, int64_t ms, event_callback_fn fn)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    struct event *ev = event_new(s->base, -1, EV_PERSIST, fn, s);
    if (ev && event_add(ev, &tv) != 0) {
        event_free(ev);
        return NULL;
    }
    return ev;
}

static int start_events(struct server *s)
{
    int64_t half_tick_ms = s->cfg.tick_ms / 2 > 0 ? s->cfg.tick_ms / 2 : 1;
    s->core_tick_ev = add_timer(s, MEMBER_TICK_MS, on_core_tick);
    s->session_tick_ev = add_timer(s, half_tick_ms, on_session_tick);
    s->trim_ev = add_timer(s, TRIM_INTERVAL_MS, on_trim);
    s->tls_reload_ev = add_timer(s, TLS_RELOAD_CHECK_MS, on_tls_reload);
    s->sig_ev[0] = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sig_ev[1] = evsignal_new(s->base, SIGINT, on_signal, s);
    if (!s->core_tick_ev || !s->session_tick_ev || !s->trim_ev || !s->tls_reload_ev || !s->sig_ev[0] ||
        !s->sig_ev[1] || event_add(s->sig_ev[0], NULL) || event_add(s->sig_ev[1], NULL))
        return -1;
    return clientio_listen(s->clients);
}

/* ---- lifecycle ---- */

static int start_sasl(const struct zk_config *cfg)
{
    if (!cfg->sec.jaas_path[0])
        return 0;
    char err[512];
    int rc = zsasl_init(cfg->sec.jaas_path, cfg->sec.jaas_section, err, sizeof err);
    if (rc == JAAS_SECTION_ABSENT) { /* ZooKeeper's configureSaslLogin goes on likewise */
        ZK_WARN("SASL: %s: client SASL authentication is off", err);
        return 0;
    }
    if (rc != 0) {
        ZK_ERROR("SASL: %s", err);
        return -1;
    }
    return 0;
}

static int start_member(struct server *s)
{
    if (start_sasl(&s->cfg) != 0)
        return -1;
    struct storage_config sc = {s->cfg.data_dir, s->cfg.data_log_dir, s->cfg.lmdb_map_bytes};
    struct member_storage seam;
    if (storage_open(&s->storage, s->base, &sc) != 0)
        return -1;
    storage_seam(s->storage, &seam);
    struct member_init init = {.cfg = &s->cfg, .env = make_env(s), .storage = &seam};
    s->member = member_new(&init);
    if (!s->member || member_start(s->member) != 0)
        return -1;
    clientio_attach(s->clients, s->member);
    if (s->cfg.n_members > 0) {
        struct peer_callbacks cbs = {.on_message = on_peer_message, .on_down = on_peer_down,
                                     .on_drained = on_peer_drained, .ctx = s};
        s->peers = peer_net_new(s->base, &s->cfg, &cbs);
        const struct zk_member *members;
        int n = member_configuration(s->member, &members);
        if (s->peers)
            peer_net_set_members(s->peers, members, n); /* a reconfig may be newer than zoo.cfg */
        if (!s->peers) {
            ZK_ERROR("cannot start the peer transport");
            return -1;
        }
    }
    return 0;
}

int server_init(struct server *s, const struct zk_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    signal(SIGPIPE, SIG_IGN);
    s->base = event_base_new();
    s->clients = s->base ? clientio_new(s->base, &s->cfg) : NULL;
    if (!s->clients || start_member(s) ||
        admin_start(&s->admin, s->base, &s->cfg, s->member) || start_events(s))
        return -1;
    return 0;
}

int server_run(struct server *s)
{
    ZK_INFO("running (%s)", s->cfg.n_members ? "ensemble" : "standalone");
    while (!s->stopping) {
        if (event_base_loop(s->base, EVLOOP_ONCE) < 0) {
            ZK_ERROR("event loop failed");
            return -1;
        }
        member_flush(s->member);
        clientio_reap(s->clients);
    }
    return 0;
}

void server_destroy(struct server *s)
{
    if (s->member) {
        member_stop(s->member);
        clientio_reap(s->clients);
    }
    admin_free(s->admin);
    clientio_free(s->clients);
    peer_net_free(s->peers);
    member_free(s->member);
    storage_close(s->storage);
    struct event *evs[] = {s->core_tick_ev, s->session_tick_ev, s->trim_ev, s->tls_reload_ev,
                           s->sig_ev[0], s->sig_ev[1]};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    if (s->base)
        event_base_free(s->base);
    if (zsasl_ready())
        zsasl_shutdown();
}
