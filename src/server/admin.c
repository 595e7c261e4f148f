/* The AdminServer and the Prometheus endpoint (see admin.h). */
#include "server/admin.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/hist.h"
#include "common/log.h"
#include "member/member.h"

#define NOT_SERVING "This ZooKeeper instance is not currently serving requests"

struct tracked_conn;

struct endpoint {
    struct admin *a;
    const char *what; /* for log lines */
    struct evhttp *http;
    struct evconnlistener *lev; /* owned by http once bound */
    int conns;                  /* open connections */
    bool paused;                /* accepting stopped at ADMIN_CONNS_HARD_MAX */
    bool closing;
    struct tracked_conn *oldest, *newest; /* connections with a close callback, by age */
};

struct admin {
    struct event_base *base;
    const struct zk_config *cfg;
    struct member *m;
    struct endpoint ep[2]; /* the AdminServer, the metrics endpoint */
};

/* ---- connections: counted, at most ADMIN_CONNS_MAX per endpoint, the oldest evicted ----
 * evhttp 2.1 has no connection limit. Every connection it accepts gets its bufferevent from
 * on_new_conn (evhttp_set_bevcb), which counts it; on the next loop turn its evhttp_connection
 * (the bufferevent's callback argument) gets a close callback, which fires once when evhttp
 * closes it, however that happens, and joins the endpoint's list by age. A reference held
 * meanwhile keeps the bufferevent readable even if evhttp dropped the connection at once.
 * Past ADMIN_CONNS_MAX the oldest connection is closed, so clients that open connections and
 * send nothing (or a request a byte at a time) cannot lock a Prometheus scrape out until
 * admin.idleTimeout; past ADMIN_CONNS_HARD_MAX (within one loop turn) the listener waits. */

struct fresh_conn {
    struct endpoint *ep;
    struct bufferevent *bev;
};

struct tracked_conn {
    struct endpoint *ep;
    struct evhttp_connection *evcon;
    struct tracked_conn *older, *newer;
};

static void update_accepting(struct endpoint *ep)
{
    if (ep->closing || !ep->lev)
        return;
    if (!ep->paused && ep->conns >= ADMIN_CONNS_HARD_MAX) {
        ep->paused = true;
        evconnlistener_disable(ep->lev);
        ZK_WARN_RL("%s: %d connections open; new ones wait until some close", ep->what,
                   ep->conns);
    } else if (ep->paused && ep->conns < ADMIN_CONNS_HARD_MAX) {
        ep->paused = false;
        evconnlistener_enable(ep->lev);
    }
}

static void conn_gone(struct endpoint *ep)
{
    if (ep->closing)
        return;
    ep->conns--;
    update_accepting(ep);
}

static void untrack(struct tracked_conn *t)
{
    struct endpoint *ep = t->ep;
    if (t->older)
        t->older->newer = t->newer;
    else
        ep->oldest = t->newer;
    if (t->newer)
        t->newer->older = t->older;
    else
        ep->newest = t->older;
}

static void on_conn_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    struct tracked_conn *t = arg;
    struct endpoint *ep = t->ep;
    untrack(t);
    free(t);
    conn_gone(ep);
}

/* Over ADMIN_CONNS_MAX: close the oldest connections (uncounted here, their callback unset,
 * whatever evhttp_connection_free does with it). */
static void evict_oldest(struct endpoint *ep)
{
    while (ep->conns > ADMIN_CONNS_MAX && ep->oldest) {
        ZK_WARN_RL("%s: %d connections open; closing the oldest", ep->what, ep->conns);
        struct tracked_conn *t = ep->oldest;
        untrack(t);
        evhttp_connection_set_closecb(t->evcon, NULL, NULL);
        evhttp_connection_free(t->evcon);
        free(t);
        conn_gone(ep);
    }
}

static void on_conn_created(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct fresh_conn *fc = arg;
    struct endpoint *ep = fc->ep;
    bufferevent_data_cb r, w;
    bufferevent_event_cb e = NULL;
    void *evcon = NULL;
    bufferevent_getcb(fc->bev, &r, &w, &e, &evcon);
    struct tracked_conn *t = e && evcon && !ep->closing ? malloc(sizeof *t) : NULL;
    if (t) {
        *t = (struct tracked_conn){ep, evcon, ep->newest, NULL};
        if (ep->newest)
            ep->newest->newer = t;
        else
            ep->oldest = t;
        ep->newest = t;
        evhttp_connection_set_closecb(evcon, on_conn_closed, t);
    } else {
        conn_gone(ep); /* evhttp already let it go (or out of memory: it goes uncounted) */
    }
    bufferevent_decref(fc->bev);
    free(fc);
    if (!ep->closing)
        evict_oldest(ep);
}

static struct bufferevent *on_new_conn(struct event_base *base, void *arg)
{
    struct endpoint *ep = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    /* evhttp reads on while it writes an answer (to see the peer close): bound what it holds */
    if (bev)
        bufferevent_setwatermark(bev, EV_READ, 0, ADMIN_INPUT_MAX);
    struct fresh_conn *fc = bev ? malloc(sizeof *fc) : NULL;
    if (!fc)
        return bev; /* out of memory: this one goes uncounted (evhttp copes with NULL) */
    *fc = (struct fresh_conn){ep, bev};
    struct timeval now = {0, 0};
    bufferevent_incref(bev);
    if (event_base_once(base, -1, EV_TIMEOUT, on_conn_created, fc, &now) != 0) {
        bufferevent_decref(bev);
        free(fc);
        return bev;
    }
    ep->conns++;
    update_accepting(ep);
    return bev;
}

/* ---- JSON, laid out as Jackson's DefaultPrettyPrinter (ZooKeeper's JsonOutputter) ----
 * Object fields one per line, indented two spaces per open object; arrays inline. */

#define JSON_DEPTH_MAX 16

struct json {
    struct evbuffer *b;
    int depth;                   /* open containers */
    int objects;                 /* open objects among them */
    bool first;                  /* nothing written yet in the innermost one */
    bool array[JSON_DEPTH_MAX];  /* is the container at that depth an array */
};

static void j_string_raw(struct json *j, const char *s, size_t len)
{
    evbuffer_add(j->b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            evbuffer_add_printf(j->b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            evbuffer_add_printf(j->b, "\\u%04x", c);
        else
            evbuffer_add(j->b, &s[i], 1);
    }
    evbuffer_add(j->b, "\"", 1);
}

/* Before a value: the separator, and the key inside an object. */
static void j_key(struct json *j, const char *key)
{
    if (j->depth == 0)
        return;
    if (j->array[j->depth - 1]) {
        evbuffer_add_printf(j->b, "%s", j->first ? " " : ", ");
    } else {
        evbuffer_add_printf(j->b, "%s\n%*s", j->first ? "" : ",", j->objects * 2, "");
        j_string_raw(j, key ? key : "", strlen(key ? key : ""));
        evbuffer_add(j->b, " : ", 3);
    }
    j->first = false;
}

static void j_open(struct json *j, const char *key, char bracket)
{
    j_key(j, key);
    evbuffer_add(j->b, &bracket, 1);
    if (j->depth < JSON_DEPTH_MAX)
        j->array[j->depth] = bracket == '[';
    j->depth++;
    j->objects += bracket == '{';
    j->first = true;
}

static void j_close(struct json *j, char bracket)
{
    j->depth--;
    j->objects -= bracket == '}';
    if (j->first || bracket == ']')
        evbuffer_add(j->b, " ", 1); /* "[ ]", "{ }", "[ 1, 2 ]" */
    else
        evbuffer_add_printf(j->b, "\n%*s", j->objects * 2, "");
    evbuffer_add(j->b, &bracket, 1);
    j->first = false;
}

static void j_str(struct json *j, const char *key, const char *v)
{
    j_key(j, key);
    if (v)
        j_string_raw(j, v, strlen(v));
    else
        evbuffer_add(j->b, "null", 4);
}

/* ZooKeeper's full version string ("..., built on yyyy-MM-dd HH:mm UTC"). */
static void j_version(struct json *j, const char *key)
{
    char version[MEMBER_FULL_VERSION_MAX];
    member_full_version(version, sizeof version);
    j_str(j, key, version);
}

static void j_int(struct json *j, const char *key, int64_t v)
{
    j_key(j, key);
    evbuffer_add_printf(j->b, "%lld", (long long)v);
}

static void j_uint(struct json *j, const char *key, uint64_t v)
{
    j_key(j, key);
    evbuffer_add_printf(j->b, "%llu", (unsigned long long)v);
}

static void j_double(struct json *j, const char *key, double v)
{
    j_key(j, key);
    char num[64];
    snprintf(num, sizeof num, "%.15g", isfinite(v) ? v : 0.0);
    evbuffer_add_printf(j->b, "%s%s", num, strpbrk(num, ".eE") ? "" : ".0"); /* a double */
}

static void j_bool(struct json *j, const char *key, bool v)
{
    j_key(j, key);
    evbuffer_add_printf(j->b, "%s", v ? "true" : "false");
}

/* ---- the commands (ZooKeeper's org.apache.zookeeper.server.admin.Commands) ---- */

struct cmd {
    const char *names[4]; /* the primary name first */
    bool needs_serving;   /* ZooKeeper's serverRequired */
    void (*run)(struct admin *a, struct json *j, const struct member_info *mi);
};

static void no_data_sizes(struct json *j, const char *key)
{
    /* ZooKeeper's BufferStats before any response: -1 everywhere (not measured here) */
    j_open(j, key, '{');
    j_int(j, "last_buffer_size", -1);
    j_int(j, "min_buffer_size", -1);
    j_int(j, "max_buffer_size", -1);
    j_close(j, '}');
}

static void run_ruok(struct admin *a, struct json *j, const struct member_info *mi)
{
    (void)a, (void)j, (void)mi;
}

static void server_stats(struct admin *a, struct json *j, const struct member_info *mi)
{
    (void)a;
    j_version(j, "version");
    j_bool(j, "read_only", mi->read_only);
    j_open(j, "server_stats", '{');
    j_uint(j, "packets_sent", mi->packets_sent);
    j_uint(j, "packets_received", mi->packets_received);
    j_int(j, "fsync_threshold_exceed_count", 0);
    no_data_sizes(j, "client_response_stats");
    j_uint(j, "data_dir_size", mi->disk_bytes);
    j_uint(j, "log_dir_size", mi->disk_bytes);
    j_bool(j, "provider_null", false);
    j_str(j, "server_state", mi->mode);
    j_int(j, "last_processed_zxid", mi->last_zxid);
    j_uint(j, "outstanding_requests", mi->outstanding);
    j_double(j, "avg_latency", mi->avg_latency_ms);
    j_int(j, "max_latency", mi->max_latency_ms);
    j_int(j, "min_latency", mi->min_latency_ms);
    j_uint(j, "num_alive_client_connections", mi->connections);
    j_int(j, "uptime", mi->uptime_ms);
    j_int(j, "auth_failed_count", 0);
    j_int(j, "non_mtlsremote_conn_count", 0);
    j_int(j, "non_mtlslocal_conn_count", 0);
    j_close(j, '}');
    no_data_sizes(j, "client_response");
    if (mi->leader)
        no_data_sizes(j, "proposal_stats");
    j_uint(j, "node_count", mi->znode_count);
}

static void conn_json(void *ctx, const struct member_conn_info *c, bool brief)
{
    struct json *j = ctx;
    char addr[128];
    snprintf(addr, sizeof addr, "%s:%d", c->addr, c->port);
    j_open(j, NULL, '{');
    j_str(j, "remote_socket_address", addr);
    j_int(j, "interest_ops", c->reading ? 1 : 0);
    j_uint(j, "outstanding_requests", c->outstanding);
    j_uint(j, "packets_received", c->received);
    j_uint(j, "packets_sent", c->sent);
    if (!brief) {
        /* Per-connection request statistics are not kept: ZooKeeper's values before any
         * request (ServerCnxn.resetStats) stand for them. */
        j_int(j, "session_id", c->session_id);
        j_str(j, "last_operation", "NA");
        j_int(j, "established", c->opened_wall_ms);
        j_int(j, "session_timeout", c->timeout_ms);
        j_int(j, "last_cxid", -1);
        j_int(j, "last_zxid", -1);
        j_int(j, "last_response_time", 0);
        j_int(j, "last_latency", 0);
        j_int(j, "min_latency", 0);
        j_int(j, "avg_latency", 0);
        j_int(j, "max_latency", 0);
    }
    j_close(j, '}');
}

static void conn_brief(void *ctx, const struct member_conn_info *c) { conn_json(ctx, c, true); }
static void conn_full(void *ctx, const struct member_conn_info *c) { conn_json(ctx, c, false); }

static void run_stats(struct admin *a, struct json *j, const struct member_info *mi)
{
    server_stats(a, j, mi);
    j_open(j, "connections", '[');
    member_conns_each(a->m, conn_brief, j);
    j_close(j, ']');
    j_open(j, "secure_connections", '['); /* TLS clients are listed with the others */
    j_close(j, ']');
}

static void run_cons(struct admin *a, struct json *j, const struct member_info *mi)
{
    (void)mi;
    j_open(j, "connections", '[');
    member_conns_each(a->m, conn_full, j);
    j_close(j, ']');
    j_open(j, "secure_connections", '[');
    j_close(j, ']');
}

static void run_conf(struct admin *a, struct json *j, const struct member_info *mi)
{
    (void)mi;
    const struct zk_config *c = member_config(a->m);
    j_int(j, "client_port", c->client_port);
    j_str(j, "data_dir", c->data_dir);
    j_str(j, "data_log_dir", c->data_log_dir);
    j_int(j, "tick_time", c->tick_ms);
    j_int(j, "max_client_cnxns", c->max_client_cnxns);
    j_int(j, "min_session_timeout", c->min_session_timeout_ms);
    j_int(j, "max_session_timeout", c->max_session_timeout_ms);
    j_int(j, "server_id", c->myid);
    j_int(j, "client_port_listen_backlog", 1024);
}

/* The active configuration's server line of id (a reconfig changes them), NULL if none. */
static const struct zk_member *server_line(const struct member *m, uint32_t id)
{
    const struct zk_member *servers;
    int n = member_configuration(m, &servers);
    for (int i = 0; i < n; i++)
        if ((uint32_t)servers[i].id == id)
            return &servers[i];
    return NULL;
}

/* ZooKeeper's QuorumServer.delimitedHostString: IPv6 in brackets. */
static void host_port(char *out, size_t n, const char *host, int port)
{
    snprintf(out, n, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

static void run_leader(struct admin *a, struct json *j, const struct member_info *mi)
{
    if (member_config(a->m)->n_members == 0) {
        j_str(j, "error", "server is not initialized"); /* as ZooKeeper's standalone */
        return;
    }
    const struct zk_member *l = server_line(a->m, mi->leader_id);
    j_bool(j, "is_leader", mi->leader);
    j_int(j, "leader_id", mi->leader_id);
    j_str(j, "leader_ip", l ? l->host : "");
}

static void run_voting_view(struct admin *a, struct json *j, const struct member_info *mi)
{
    (void)mi;
    const struct zk_config *c = member_config(a->m);
    const struct zk_member *servers;
    int n = member_configuration(a->m, &servers); /* the active one */
    j_open(j, "current_config", '{');
    for (int i = 0; i < n; i++) {
        const struct zk_member *z = &servers[i];
        if (z->observer)
            continue; /* the voting view: participants only */
        char key[16], addr[300];
        snprintf(key, sizeof key, "%d", z->id);
        j_open(j, key, '{');
        j_open(j, "server_addresses", '[');
        host_port(addr, sizeof addr, z->host, z->peer_port);
        j_str(j, NULL, addr);
        j_close(j, ']');
        j_open(j, "election_addresses", '[');
        host_port(addr, sizeof addr, z->host, z->election_port);
        j_str(j, NULL, addr);
        j_close(j, ']');
        addr[0] = '\0';
        if (z->client_port)
            host_port(addr, sizeof addr, z->client_host[0] ? z->client_host : "0.0.0.0",
                      z->client_port);
        else if (z->id == c->myid && c->client_port)
            host_port(addr, sizeof addr, c->client_addr[0] ? c->client_addr : "0.0.0.0",
                      c->client_port);
        j_str(j, "client_address", addr);
        j_str(j, "learner_type", "participant");
        j_close(j, '}');
    }
    j_close(j, '}');
}

static void run_wchs(struct admin *a, struct json *j, const struct member_info *mi)
{
    (void)mi;
    size_t watchers, paths, watches;
    member_watch_summary(a->m, &watchers, &paths, &watches);
    j_uint(j, "num_connections", watchers);
    j_uint(j, "num_paths", paths);
    j_uint(j, "num_total_watches", watches);
}

struct expiry {
    int64_t at, session;
};

struct expiries {
    struct expiry *v;
    size_t n, cap;
    bool failed;
};

static void add_expiry(void *ctx, int64_t session, int64_t expires_ms)
{
    struct expiries *e = ctx;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        struct expiry *v = realloc(e->v, cap * sizeof *v);
        if (!v) {
            e->failed = true;
            return;
        }
        e->v = v, e->cap = cap;
    }
    e->v[e->n++] = (struct expiry){expires_ms, session};
}

static int by_expiry(const void *x, const void *y)
{
    const struct expiry *a = x, *b = y;
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    return a->session < b->session ? -1 : a->session > b->session;
}

struct ephemerals_walk {
    struct json *j;
    bool open;
    int64_t session;
};

static void add_ephemeral(void *ctx, int64_t session, const char *path, size_t len)
{
    struct ephemerals_walk *w = ctx;
    if (!w->open || session != w->session) { /* a session's ephemerals come together */
        if (w->open)
            j_close(w->j, ']');
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)session);
        j_open(w->j, key, '[');
        w->open = true;
        w->session = session;
    }
    j_key(w->j, NULL);
    j_string_raw(w->j, path, len);
}

static void run_dump(struct admin *a, struct json *j, const struct member_info *mi)
{
    (void)mi;
    struct expiries e = {0};
    member_expiries_each(a->m, add_expiry, &e);
    if (e.n)
        qsort(e.v, e.n, sizeof *e.v, by_expiry);
    j_open(j, "expiry_time_to_session_ids", '{');
    for (size_t i = 0; i < e.n; i++) {
        if (i == 0 || e.v[i].at != e.v[i - 1].at) {
            if (i)
                j_close(j, ']');
            char key[32];
            snprintf(key, sizeof key, "%lld", (long long)e.v[i].at);
            j_open(j, key, '[');
        }
        j_int(j, NULL, e.v[i].session);
    }
    if (e.n)
        j_close(j, ']');
    j_close(j, '}');
    free(e.v);
    struct ephemerals_walk w = {j, false, 0};
    j_open(j, "session_id_to_ephemeral_paths", '{');
    member_ephemerals_each(a->m, add_ephemeral, &w);
    if (w.open)
        j_close(j, ']');
    j_close(j, '}');
}

static void run_envi(struct admin *a, struct json *j, const struct member_info *mi)
{
    (void)a, (void)mi;
    char host[256] = "unknown", cwd[1024] = "";
    gethostname(host, sizeof host - 1);
    j_version(j, "zookeeper.version");
    j_str(j, "host.name", host);
    struct utsname u;
    if (uname(&u) == 0) {
        j_str(j, "os.name", u.sysname);
        j_str(j, "os.arch", u.machine);
        j_str(j, "os.version", u.release);
    }
    struct passwd *pw = getpwuid(geteuid());
    if (pw) {
        j_str(j, "user.name", pw->pw_name);
        j_str(j, "user.home", pw->pw_dir);
    }
    if (getcwd(cwd, sizeof cwd))
        j_str(j, "user.dir", cwd);
    j_str(j, "server.implementation", "zabkeeper (C, libevent, LMDB)");
}

static void run_isro(struct admin *a, struct json *j, const struct member_info *mi)
{
    (void)a;
    j_bool(j, "read_only", mi->read_only);
}

static void run_dirs(struct admin *a, struct json *j, const struct member_info *mi)
{
    (void)a;
    j_uint(j, "datadir_size", mi->disk_bytes);
    j_uint(j, "logdir_size", mi->disk_bytes);
}

/* ZooKeeper's summaries in its default provider's words: avg_, min_, max_, cnt_, sum_ (ms). */
static void summary_ms(struct json *j, const char *name, const struct hist *h)
{
    char key[128];
    uint64_t n = h ? h->count : 0;
    double sum_ms = n ? hist_sum(h) / 1000.0 : 0;
    snprintf(key, sizeof key, "avg_%s", name);
    j_double(j, key, n ? sum_ms / (double)n : 0);
    snprintf(key, sizeof key, "min_%s", name);
    j_int(j, key, n ? (int64_t)(hist_quantile(h, 0) / 1000.0) : 0);
    snprintf(key, sizeof key, "max_%s", name);
    j_int(j, key, n ? (int64_t)(h->max_us / 1000) : 0);
    snprintf(key, sizeof key, "cnt_%s", name);
    j_uint(j, key, n);
    snprintf(key, sizeof key, "sum_%s", name);
    j_int(j, key, (int64_t)sum_ms);
}

/* zabkeeper's own histograms as mntr prints them: _count, _p50, _p99, _max. */
static void mntr_hist(struct json *j, const char *name, const struct hist *h)
{
    if (!h)
        return;
    char key[128];
    snprintf(key, sizeof key, "%s_count", name);
    j_uint(j, key, h->count);
    snprintf(key, sizeof key, "%s_p50", name);
    j_int(j, key, (int64_t)hist_quantile(h, 0.50));
    snprintf(key, sizeof key, "%s_p99", name);
    j_int(j, key, (int64_t)hist_quantile(h, 0.99));
    snprintf(key, sizeof key, "%s_max", name);
    j_uint(j, key, h->max_us);
}

static void run_monitor(struct admin *a, struct json *j, const struct member_info *mi)
{
    const struct zk_config *c = member_config(a->m);
    char text[64];
    j_version(j, "version");
    j_str(j, "server_state", mi->mode);
    j_double(j, "avg_latency", mi->avg_latency_ms);
    j_int(j, "max_latency", mi->max_latency_ms);
    j_int(j, "min_latency", mi->min_latency_ms);
    j_uint(j, "packets_received", mi->packets_received);
    j_uint(j, "packets_sent", mi->packets_sent);
    j_uint(j, "num_alive_connections", mi->connections);
    j_uint(j, "outstanding_requests", mi->outstanding);
    j_uint(j, "znode_count", mi->znode_count);
    j_uint(j, "watch_count", mi->watch_count);
    j_uint(j, "ephemerals_count", mi->ephemerals_count);
    j_uint(j, "approximate_data_size", mi->approximate_data_size);
    j_int(j, "open_file_descriptor_count", mi->open_fds);
    j_int(j, "max_file_descriptor_count", mi->max_fds);
    j_int(j, "uptime", mi->uptime_ms);
    j_uint(j, "global_sessions", mi->global_sessions);
    j_int(j, "local_sessions", 0);
    if (c->n_members) {
        j_int(j, "quorum_size", mi->quorum_size);
        j_str(j, "peer_state", !mi->serving ? "looking"
                               : mi->leader ? "leading - broadcast"
                                            : "following - broadcast");
        if (mi->leader)
            j_int(j, "leader_uptime", mi->leader_uptime_ms);
        j_uint(j, "looking_count", mi->looking_count);
        summary_ms(j, "election_time", mi->election);
    }
    summary_ms(j, "fsynctime", mi->log_commit);
    summary_ms(j, "snapshottime", mi->snapshot);
    snprintf(text, sizeof text, "0x%llx", (unsigned long long)mi->last_zxid);
    j_str(j, "last_zxid", text);
    j_uint(j, "fsync_count", mi->fsyncs);
    j_uint(j, "txns_logged", mi->txns_logged);
    j_uint(j, "log_disk_bytes", mi->disk_bytes);
    snprintf(text, sizeof text, "%016llx", (unsigned long long)mi->tree_digest);
    j_str(j, "tree_digest", text);
    j_uint(j, "zabkeeper_log_queue_records", mi->log_queue_records);
    j_uint(j, "zabkeeper_log_queue_bytes", mi->log_queue_bytes);
    mntr_hist(j, "zabkeeper_log_commit_us", mi->log_commit);
    mntr_hist(j, "zabkeeper_log_commit_records", mi->log_batch);
    mntr_hist(j, "zabkeeper_log_checkpoint_us", mi->log_checkpoint);
    mntr_hist(j, "zabkeeper_snapshot_us", mi->snapshot);
    for (int i = 0; i < MEMBER_STAGES; i++) {
        char name[96];
        snprintf(name, sizeof name, "zabkeeper_stage_%s_us", mi->stage_name[i]);
        mntr_hist(j, name, mi->stage[i]);
    }
}

static const struct cmd commands[] = {
    {{"configuration", "conf", "config"}, true, run_conf},
    {{"connections", "cons"}, true, run_cons},
    {{"dirs"}, true, run_dirs},
    {{"dump"}, true, run_dump},
    {{"environment", "env", "envi"}, false, run_envi},
    {{"is_read_only", "isro"}, true, run_isro},
    {{"leader", "lead"}, true, run_leader},
    {{"monitor", "mntr"}, false, run_monitor},
    {{"ruok"}, true, run_ruok},
    {{"server_stats", "srvr"}, true, server_stats},
    {{"stats", "stat"}, true, run_stats},
    {{"voting_view"}, true, run_voting_view},
    {{"watch_summary", "wchs"}, true, run_wchs},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct cmd *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        for (int k = 0; k < 4 && commands[i].names[k]; k++)
            if (!strcmp(name, commands[i].names[k]))
                return &commands[i];
    return NULL;
}

/* ---- HTTP ---- */

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
                  struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (type)
        evhttp_add_header(h, "Content-Type", type);
    if (code == 405)
        evhttp_add_header(h, "Allow", "GET, HEAD");
    evhttp_send_reply(req, code, reason, body);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add_printf(b, "%s\n", text);
    reply(req, code, reason, "text/plain; charset=utf-8", b);
    if (b)
        evbuffer_free(b);
}

/* Only GET and HEAD; TRACE is forbidden as ZooKeeper's Jetty constraint has it. */
static bool method_ok(struct evhttp_request *req)
{
    enum evhttp_cmd_type t = evhttp_request_get_command(req);
    if (t == EVHTTP_REQ_GET || t == EVHTTP_REQ_HEAD)
        return true;
    if (t == EVHTTP_REQ_TRACE)
        reply_text(req, 403, "Forbidden", "403 Forbidden");
    else
        reply_text(req, 405, "Method Not Allowed", "405 Method Not Allowed: GET and HEAD only");
    return false;
}

/* The request's path, %-decoded (NULL: none that decodes). Free it. */
static char *request_path(struct evhttp_request *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path)
        path = "/";
    size_t len = 0;
    char *decoded = evhttp_uridecode(path, 0, &len);
    if (decoded && strlen(decoded) != len) { /* an encoded NUL: refused, as Jetty does */
        free(decoded);
        return NULL;
    }
    return decoded;
}

static void list_commands(struct admin *a, struct evhttp_request *req)
{
    /* ZooKeeper's CommandServlet without a command: a link per primary name, sorted */
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        evbuffer_add_printf(b, "<a href=\"%s/%s\">%s</a>\n<br/>\n", a->cfg->admin.command_url,
                            commands[i].names[0], commands[i].names[0]);
    reply(req, 200, "OK", "text/html; charset=utf-8", b);
    evbuffer_free(b);
}

static void run_command(struct admin *a, struct evhttp_request *req, const char *name)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    struct json j = {.b = b, .first = true};
    const struct cmd *c = find_command(name);
    struct member_info mi;
    member_info(a->m, &mi);
    const char *error = NULL, *shown = name;
    j_open(&j, NULL, '{');
    if (!c) {
        error = "Unknown command: ";
    } else if (c->needs_serving && !mi.serving && !mi.read_only) {
        error = NOT_SERVING;
    } else {
        shown = c->names[0];
        c->run(a, &j, &mi);
    }
    if (c && c->run == run_leader && !error && member_config(a->m)->n_members == 0) {
        j_str(&j, "command", shown); /* its "error" came first, as ZooKeeper orders it */
    } else {
        j_str(&j, "command", shown);
        j_key(&j, "error");
        if (!error) {
            evbuffer_add(b, "null", 4);
        } else if (!c) {
            char msg[600];
            snprintf(msg, sizeof msg, "Unknown command: %.500s", name);
            j_string_raw(&j, msg, strlen(msg));
        } else {
            j_string_raw(&j, error, strlen(error));
        }
    }
    j_close(&j, '}');
    /* ZooKeeper 3.8 answers 200 for every command, an unknown one included */
    reply(req, 200, "OK", "application/json", b);
    evbuffer_free(b);
}

static void on_admin_request(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    if (!method_ok(req))
        return;
    char *path = request_path(req);
    const char *url = a->cfg->admin.command_url;
    size_t ulen = strlen(url);
    if (!path) {
        reply_text(req, 400, "Bad Request", "400 Bad Request");
    } else if (!strcmp(path, url) || (!strncmp(path, url, ulen) && !strcmp(path + ulen, "/"))) {
        list_commands(a, req);
    } else if (!strncmp(path, url, ulen) && path[ulen] == '/') {
        run_command(a, req, path + ulen + 1);
    } else {
        reply_text(req, 404, "Not Found", "404 Not Found");
    }
    free(path);
}

/* ---- Prometheus: the text exposition format 0.0.4 ---- */

static void p_head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void p_num(struct evbuffer *b, double v)
{
    if (isnan(v))
        evbuffer_add_printf(b, "NaN\n");
    else
        evbuffer_add_printf(b, "%.17g\n", v);
}

/* A ZooKeeper gauge: HELP is the name, as ZooKeeper's provider writes it. Names that end in
 * _count (znode_count, ...) are ZooKeeper's too, but promtool's lint reserves that suffix for
 * histograms and summaries: those are exported untyped, which Prometheus reads the same. */
static void p_zk(struct evbuffer *b, const char *name, double v)
{
    size_t len = strlen(name);
    bool reserved = len > 6 && !strcmp(name + len - 6, "_count");
    p_head(b, name, reserved ? "untyped" : "gauge", name);
    evbuffer_add_printf(b, "%s ", name);
    p_num(b, v);
}

/* A ZooKeeper BASIC summary (fsynctime, ...): the median, count and sum, in ms. */
static void p_zk_summary(struct evbuffer *b, const char *name, const struct hist *h)
{
    p_head(b, name, "summary", name);
    uint64_t n = h ? h->count : 0;
    evbuffer_add_printf(b, "%s{quantile=\"0.5\"} ", name);
    p_num(b, n ? hist_quantile(h, 0.5) / 1000.0 : NAN);
    evbuffer_add_printf(b, "%s_count %llu\n%s_sum ", name, (unsigned long long)n, name);
    p_num(b, n ? hist_sum(h) / 1000.0 : 0);
}

static const double seconds_le[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const double records_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096,
                                    8192, 16384};

/* One histogram series (the family's head written by the caller). scale: hist unit per le unit
 * (1e6 us per second, 1 record per record). */
static void p_hist(struct evbuffer *b, const char *name, const char *label, const struct hist *h,
                   const double *le, size_t n_le, double scale)
{
    char lab[128];
    snprintf(lab, sizeof lab, "%s%s", label ? label : "", label ? "," : "");
    uint64_t count = h ? h->count : 0;
    for (size_t i = 0; i < n_le; i++) {
        uint64_t c = h ? hist_count_upto(h, (uint64_t)(le[i] * scale)) : 0;
        evbuffer_add_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, lab, le[i],
                            (unsigned long long)(c < count ? c : count));
    }
    evbuffer_add_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, lab,
                        (unsigned long long)count);
    evbuffer_add_printf(b, "%s_sum%s%s%s ", name, label ? "{" : "", label ? label : "",
                        label ? "}" : "");
    p_num(b, h && count ? hist_sum(h) / scale : 0);
    evbuffer_add_printf(b, "%s_count%s%s%s %llu\n", name, label ? "{" : "", label ? label : "",
                        label ? "}" : "", (unsigned long long)count);
}

static void p_seconds_hist(struct evbuffer *b, const char *name, const char *help,
                           const struct hist *h)
{
    if (!h)
        return;
    p_head(b, name, "histogram", help);
    p_hist(b, name, NULL, h, seconds_le, sizeof seconds_le / sizeof *seconds_le, 1e6);
}

static void write_metrics(struct admin *a, struct evbuffer *b)
{
    struct member_info mi;
    member_info(a->m, &mi);
    const struct zk_config *c = member_config(a->m);
    /* ZooKeeper's names (ZooKeeperServer.registerMetrics, ServerMetrics, the quorum's) */
    p_zk(b, "avg_latency", mi.avg_latency_ms);
    p_zk(b, "max_latency", (double)mi.max_latency_ms);
    p_zk(b, "min_latency", (double)mi.min_latency_ms);
    p_zk(b, "packets_received", (double)mi.packets_received);
    p_zk(b, "packets_sent", (double)mi.packets_sent);
    p_zk(b, "num_alive_connections", (double)mi.connections);
    p_zk(b, "outstanding_requests", (double)mi.outstanding);
    p_zk(b, "uptime", (double)mi.uptime_ms);
    p_zk(b, "znode_count", (double)mi.znode_count);
    p_zk(b, "watch_count", (double)mi.watch_count);
    p_zk(b, "ephemerals_count", (double)mi.ephemerals_count);
    p_zk(b, "approximate_data_size", (double)mi.approximate_data_size);
    p_zk(b, "global_sessions", (double)mi.global_sessions);
    p_zk(b, "local_sessions", 0);
    p_zk(b, "open_file_descriptor_count", (double)mi.open_fds);
    p_zk(b, "max_file_descriptor_count", (double)mi.max_fds);
    p_zk_summary(b, "fsynctime", mi.log_commit);
    p_zk_summary(b, "snapshottime", mi.snapshot);
    if (c->n_members) {
        p_zk(b, "quorum_size", mi.quorum_size);
        p_zk_summary(b, "election_time", mi.election);
        /* a ZooKeeper counter; its name lacks _total, which promtool's lint wants of a counter */
        p_head(b, "looking_count", "untyped", "looking_count");
        evbuffer_add_printf(b, "looking_count %llu\n", (unsigned long long)mi.looking_count);
        if (mi.leader) {
            p_zk(b, "leader_uptime", (double)mi.leader_uptime_ms);
            p_zk(b, "learners", (double)mi.learners);
            p_zk(b, "synced_followers", (double)mi.synced_followers);
            p_zk(b, "synced_observers", (double)mi.synced_observers);
            p_zk(b, "last_proposal_size", (double)mi.last_proposal_size);
        }
    }
    /* zabkeeper's own */
    static const char *const states[] = {"standalone", "leader", "follower", "observer",
                                         "looking"};
    p_head(b, "zabkeeper_server_state", "gauge",
           "1 for the member's current mode (srvr's Mode), 0 for the others");
    for (size_t i = 0; i < sizeof states / sizeof *states; i++)
        evbuffer_add_printf(b, "zabkeeper_server_state{state=\"%s\"} %d\n", states[i],
                            !strcmp(mi.mode, states[i]));
    p_head(b, "zabkeeper_leader_id", "gauge", "The leader's server id (0: none, standalone)");
    evbuffer_add_printf(b, "zabkeeper_leader_id %u\n", mi.leader_id);
    p_head(b, "zabkeeper_last_zxid", "gauge", "The last zxid applied to the tree");
    evbuffer_add_printf(b, "zabkeeper_last_zxid %lld\n", (long long)mi.last_zxid);
    p_head(b, "zabkeeper_fsyncs_total", "counter", "fdatasync calls on the log");
    evbuffer_add_printf(b, "zabkeeper_fsyncs_total %llu\n", (unsigned long long)mi.fsyncs);
    p_head(b, "zabkeeper_txns_logged_total", "counter", "Transactions appended to the log");
    evbuffer_add_printf(b, "zabkeeper_txns_logged_total %llu\n",
                        (unsigned long long)mi.txns_logged);
    p_head(b, "zabkeeper_log_disk_bytes", "gauge", "Bytes the log takes on disk");
    evbuffer_add_printf(b, "zabkeeper_log_disk_bytes %llu\n", (unsigned long long)mi.disk_bytes);
    p_head(b, "zabkeeper_log_queue_records", "gauge",
           "Log records appended and not yet durable (the log writer's queue)");
    evbuffer_add_printf(b, "zabkeeper_log_queue_records %llu\n",
                        (unsigned long long)mi.log_queue_records);
    p_head(b, "zabkeeper_log_queue_bytes", "gauge",
           "Bytes of log records appended and not yet durable");
    evbuffer_add_printf(b, "zabkeeper_log_queue_bytes %llu\n",
                        (unsigned long long)mi.log_queue_bytes);
    p_seconds_hist(b, "zabkeeper_log_commit_seconds",
                   "One group commit: a batch appended to the journal and fdatasynced",
                   mi.log_commit);
    if (mi.log_batch) {
        p_head(b, "zabkeeper_log_commit_records", "histogram", "Records per group commit");
        p_hist(b, "zabkeeper_log_commit_records", NULL, mi.log_batch, records_le,
               sizeof records_le / sizeof *records_le, 1);
    }
    p_seconds_hist(b, "zabkeeper_log_checkpoint_seconds",
                   "Folding a sealed journal file into LMDB", mi.log_checkpoint);
    p_seconds_hist(b, "zabkeeper_snapshot_seconds", "Writing one snapshot file (off the loop)",
                   mi.snapshot);
    if (mi.election)
        p_seconds_hist(b, "zabkeeper_election_seconds",
                       "From losing (or not yet having) a leader to serving again", mi.election);
    p_head(b, "zabkeeper_stage_seconds", "histogram",
           "A write's time per stage of the write path (docs/architecture.md)");
    for (int i = 0; i < MEMBER_STAGES; i++) {
        char label[96];
        snprintf(label, sizeof label, "stage=\"%s\"", mi.stage_name[i]);
        p_hist(b, "zabkeeper_stage_seconds", label, mi.stage[i], seconds_le,
               sizeof seconds_le / sizeof *seconds_le, 1e6);
    }
}

static void on_metrics_request(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    if (!method_ok(req))
        return;
    char *path = request_path(req);
    if (path && !strcmp(path, "/metrics")) {
        struct evbuffer *b = evbuffer_new();
        if (b) {
            write_metrics(a, b);
            reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
            evbuffer_free(b);
        } else {
            evhttp_send_error(req, 500, NULL);
        }
    } else {
        reply_text(req, 404, "Not Found", "404 Not Found");
    }
    free(path);
}

/* ---- start and stop ---- */

/* 0 when it listens. A port it cannot listen on is fatal (-1) unless `optional`: then a
 * warning, and 1 (the endpoint stays unbound). */
static int bind_endpoint(struct admin *a, struct endpoint *ep, const char *what,
                         const char *host, int port, int idle_ms, void (*cb)(struct evhttp_request *, void *),
                         const char *settings, bool optional)
{
    *ep = (struct endpoint){.a = a, .what = what};
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0 || !res) {
        ZK_ERROR("%s: cannot resolve %s (%s): %s", what, host, settings, gai_strerror(gai));
        return -1;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    ep->lev = evconnlistener_new_bind(a->base, NULL, NULL, flags, 128, res->ai_addr,
                                      (int)res->ai_addrlen);
    int saved = errno;
    freeaddrinfo(res);
    if (!ep->lev && optional) {
        ZK_WARN("%s: cannot listen on %s:%d: %s (%s); the member runs without it, as "
                "ZooKeeper's members of an ensemble do", what, host, port, strerror(saved),
                settings);
        return 1;
    }
    if (!ep->lev) {
        ZK_ERROR("%s: cannot listen on %s:%d: %s (%s; the member does not start)", what, host,
                 port, strerror(saved), settings);
        return -1;
    }
    ep->http = evhttp_new(a->base);
    if (!ep->http || !evhttp_bind_listener(ep->http, ep->lev)) {
        ZK_ERROR("%s: out of memory", what);
        evconnlistener_free(ep->lev); /* not the http's: binding it failed */
        ep->lev = NULL;
        return -1;
    }
    evhttp_set_max_headers_size(ep->http, ADMIN_HEADERS_MAX);
    evhttp_set_max_body_size(ep->http, ADMIN_BODY_MAX);
    struct timeval idle = {idle_ms / 1000, (idle_ms % 1000) * 1000};
    evhttp_set_timeout_tv(ep->http, &idle);
    evhttp_set_allowed_methods(ep->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                             EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_bevcb(ep->http, on_new_conn, ep);
    evhttp_set_gencb(ep->http, cb, a);
    ZK_INFO("%s on %s:%d", what, host, port);
    return 0;
}

int admin_start(struct admin **out, struct event_base *base, const struct zk_config *cfg,
                struct member *m)
{
    *out = NULL;
    const struct zk_admin *s = &cfg->admin;
    if (!s->enabled && !s->metrics)
        return 0;
    struct admin *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    *a = (struct admin){.base = base, .cfg = cfg, .m = m};
    *out = a;
    /* As ZooKeeper: a member of an ensemble whose AdminServer cannot start goes on without it
     * (QuorumPeer.start), a standalone server does not start (ZooKeeperServerMain); a metrics
     * provider that cannot start stops either. */
    int rc = s->enabled ? bind_endpoint(a, &a->ep[0], "AdminServer", s->address, s->port,
                                        s->idle_timeout_ms, on_admin_request,
                                        "admin.serverAddress/admin.serverPort; "
                                        "admin.enableServer=false turns it off",
                                        cfg->n_members > 0)
                        : 1;
    if (rc < 0)
        return -1;
    if (s->metrics &&
        bind_endpoint(a, &a->ep[1], "Prometheus metrics", s->metrics_host, s->metrics_port,
                      30000, on_metrics_request,
                      "metricsProvider.httpHost/metricsProvider.httpPort", false) != 0)
        return -1;
    if (rc == 0)
        ZK_INFO("AdminServer command URL %s", s->command_url);
    return 0;
}

void admin_free(struct admin *a)
{
    if (!a)
        return;
    for (int i = 0; i < 2; i++) {
        a->ep[i].closing = true;
        if (a->ep[i].http)
            evhttp_free(a->ep[i].http); /* frees its listener and connections */
        else if (a->ep[i].lev)
            evconnlistener_free(a->ep[i].lev);
    }
    free(a);
}
