/* Peer transport implementation (see peer.h). */
#include "server/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"
#include "consensus/zab.h"
#include "proto/jute.h"
#include "server/tlsctx.h"

#define HELLO_MAGIC 0x5a41424bu /* "ZABK" */
#define HELLO_VERSION 2u
#define HELLO_FIXED 16u  /* magic, version, id, peer port; then the host, up to HOST_MAX */
#define HOST_MAX 255u
#define HELLO_MAX (HELLO_FIXED + HOST_MAX)
#define LEARNER_LINKS_MAX 8 /* links to members outside our configuration (joiners) */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define INBOUND_PER_MEMBER 3
#define INBOUND_MAX (ZK_SERVERS_MAX * INBOUND_PER_MEMBER) /* identified connections */
/* Connections that have not said who they are yet get a small budget of their own, the oldest
 * giving way to a new one, and a deadline: idle or hostile connections can never take the slots
 * of real members (whose hello follows their connect at once). */
#define PREHELLO_MAX 8
#define HELLO_TIMEOUT_MS 5000 /* ZooKeeper's cnxTimeout */
#define ACCEPT_BACKOFF_MIN_MS 10
#define ACCEPT_BACKOFF_MAX_MS 1000

struct link { /* our outgoing connection to one member */
    struct peer_net *pn;
    uint32_t id;
    char host[256]; /* as server.N names it: the name its certificate must carry */
    int port;
    bool learner;   /* not in our configuration: made from its hello (a joiner) */
    bool departed;  /* left the configuration: kept until it drops, so what is queued for it
                     * (the COMMIT that removed it) still goes out */
    struct sockaddr_storage addr;
    int addr_len;
    struct bufferevent *bev;
    struct event *retry_ev;
    int backoff_ms;
    int up;
};

struct inbound { /* a connection another member opened to us */
    struct peer_net *pn;
    struct bufferevent *bev;
    struct event *hello_ev; /* closes it if no hello arrives in time */
    uint32_t id; /* 0 until the hello arrived */
    uint64_t seq; /* accept order */
    char addr[INET6_ADDRSTRLEN];
};

struct peer_net {
    struct event_base *base;
    uint32_t frame_max;
    size_t queue_max;
    struct peer_callbacks cbs;
    uint32_t my_id;
    char my_host[256];
    int my_port;
    struct evconnlistener *listener;
    struct link *links[ZK_SERVERS_MAX + LEARNER_LINKS_MAX];
    int n_links;
    struct inbound *inbound[INBOUND_MAX];  /* identified (hello accepted) */
    struct inbound *prehello[PREHELLO_MAX]; /* not yet */
    uint64_t accepted;
    struct event *accept_retry_ev;
    int accept_backoff_ms;
    bool tls;                  /* sslQuorum: every link is mutually authenticated TLS */
    const struct tls_settings *tls_settings;
    struct tlsctx tls_accept, tls_connect;
};

/* ---- outgoing links ---- */

static void link_connect(struct link *l);

static void link_schedule_retry(struct link *l)
{
    struct timeval tv = {l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000};
    if (event_add(l->retry_ev, &tv) != 0)
        ZK_ERROR("cannot schedule reconnect to member %u", l->id);
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

static void remove_link(struct peer_net *pn, int i);

static void link_reset(struct link *l, const char *why)
{
    if (l->departed) {
        struct peer_net *pn = l->pn;
        for (int i = 0; i < pn->n_links; i++) {
            if (pn->links[i] == l) {
                ZK_INFO("link to member %u closed (it left the configuration)", l->id);
                remove_link(pn, i);
                return;
            }
        }
    }
    int was_up = l->up;
    if (l->bev)
        bufferevent_free(l->bev);
    l->bev = NULL;
    l->up = 0;
    if (was_up) {
        ZK_INFO("link to member %u down: %s", l->id, why);
        l->pn->cbs.on_down(l->pn->cbs.ctx, l->id);
    }
    link_schedule_retry(l);
}

static void link_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct link *l = arg;
    if (what & BEV_EVENT_CONNECTED) {
        /* Who we are and where our peer port is, as our server.N line says: a member that
         * does not know us yet (we are joining) connects back there. */
        struct peer_net *pn = l->pn;
        uint8_t hello[4 + HELLO_MAX];
        size_t host_len = strlen(pn->my_host);
        be32_store(hello, (uint32_t)(HELLO_FIXED + host_len));
        be32_store(hello + 4, HELLO_MAGIC);
        be32_store(hello + 8, HELLO_VERSION);
        be32_store(hello + 12, pn->my_id);
        be32_store(hello + 16, (uint32_t)pn->my_port);
        memcpy(hello + 20, pn->my_host, host_len);
        if (bufferevent_write(l->bev, hello, 4 + HELLO_FIXED + host_len) != 0) {
            link_reset(l, "out of memory");
            return;
        }
        int one = 1;
        setsockopt(bufferevent_getfd(l->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        l->up = 1;
        l->backoff_ms = BACKOFF_MIN_MS;
        ZK_INFO("link to member %u up", l->id);
        if (l->pn->cbs.on_up)
            l->pn->cbs.on_up(l->pn->cbs.ctx, l->id);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    unsigned long tls_err = l->pn->tls ? bufferevent_get_openssl_error(bev) : 0;
    if (!l->up && tls_error_is_tls(tls_err)) { /* not a peer merely down or starting */
        char why[512];
        tls_describe_error(bufferevent_openssl_get_ssl(bev), tls_err, why, sizeof why);
        ZK_WARN_RL("link to member %u: TLS handshake failed: %s", l->id, why);
    }
    link_reset(l, what & BEV_EVENT_EOF ? "closed by peer" : "connection error");
}

static void link_on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct link *l = arg;
    if (l->up && l->pn->cbs.on_drained)
        l->pn->cbs.on_drained(l->pn->cbs.ctx, l->id);
}

static void link_on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    /* Nothing is expected on an outgoing link: discard. */
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

/* A TLS bufferevent over a new socket (fd -1: connect later) or an accepted one; the other
 * side's certificate must name `host` when hostname verification asks for it. */
static struct bufferevent *tls_bev(struct peer_net *pn, evutil_socket_t fd, bool accepting,
                                   const char *host)
{
    struct tlsctx *t = accepting ? &pn->tls_accept : &pn->tls_connect;
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl || tls_expect_peer_name(ssl, pn->tls_settings, accepting, true, host) != 0) {
        SSL_free(ssl);
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        pn->base, fd, ssl, accepting ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

static void link_connect(struct link *l)
{
    ZK_ASSERT(!l->bev);
    l->bev = l->pn->tls ? tls_bev(l->pn, -1, false, l->host)
                        : bufferevent_socket_new(l->pn->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!l->bev) {
        link_schedule_retry(l);
        return;
    }
    bufferevent_setcb(l->bev, link_on_read, link_on_write, link_on_event, l);
    bufferevent_setwatermark(l->bev, EV_WRITE, PEER_DRAINED_BYTES, 0);
    bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(l->bev, (struct sockaddr *)&l->addr, l->addr_len) != 0)
        link_reset(l, "connect failed");
}

static void link_on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    link_connect(arg);
}

int peer_net_send(struct peer_net *pn, uint32_t to, const uint8_t *data, size_t len)
{
    for (int i = 0; i < pn->n_links; i++) {
        struct link *l = pn->links[i];
        if (l->id != to)
            continue;
        if (!l->up)
            return -1;
        struct evbuffer *out = bufferevent_get_output(l->bev);
        if (evbuffer_get_length(out) + len > pn->queue_max) {
            link_reset(l, "send queue full (peer not reading)");
            return -1;
        }
        uint8_t head[4];
        be32_store(head, (uint32_t)len);
        if (evbuffer_add(out, head, 4) != 0 || evbuffer_add(out, data, len) != 0) {
            link_reset(l, "out of memory");
            return -1;
        }
        return 0;
    }
    return -1;
}

void peer_net_push(struct peer_net *pn)
{
    if (pn->tls)
        return; /* libevent's SSL bufferevents write through TLS themselves */
    for (int i = 0; i < pn->n_links; i++) {
        struct link *l = pn->links[i];
        if (!l->up)
            continue;
        struct evbuffer *out = bufferevent_get_output(l->bev);
        /* Non-blocking: whatever the socket does not take now, libevent sends later. */
        while (evbuffer_get_length(out) > 0 &&
               evbuffer_write(out, bufferevent_getfd(l->bev)) > 0) {
        }
    }
}

static struct link *find_link(const struct peer_net *pn, uint32_t id)
{
    for (int i = 0; i < pn->n_links; i++)
        if (pn->links[i]->id == id)
            return pn->links[i];
    return NULL;
}

size_t peer_net_queue_max(const struct peer_net *pn) { return pn->queue_max; }

size_t peer_net_queued(const struct peer_net *pn, uint32_t id)
{
    const struct link *l = find_link(pn, id);
    return l && l->up ? evbuffer_get_length(bufferevent_get_output(l->bev)) : 0;
}

void peer_net_reset(struct peer_net *pn, uint32_t id, const char *why)
{
    struct link *l = find_link(pn, id);
    if (l && l->up)
        link_reset(l, why);
}

uint32_t peer_frame_max(const struct zk_config *cfg)
{
    uint32_t payload = (uint32_t)cfg->max_buffer + PEER_FRAME_SLACK;
    uint32_t app = ZAB_APP_DATA_MAX + PEER_FRAME_SLACK;
    return payload > app ? payload : app;
}

int peer_net_is_up(const struct peer_net *pn, uint32_t id)
{
    const struct link *l = find_link(pn, id);
    return l ? l->up : 0;
}

/* ---- incoming connections ---- */

/* Remove in from a pool of pointers; returns whether it was there. */
static bool pool_remove(struct inbound **pool, int n, const struct inbound *in)
{
    for (int i = 0; i < n; i++) {
        if (pool[i] == in) {
            pool[i] = NULL;
            return true;
        }
    }
    return false;
}

static int pool_free_slot(struct inbound *const *pool, int n)
{
    for (int i = 0; i < n; i++)
        if (!pool[i])
            return i;
    return -1;
}

static void inbound_close(struct inbound *in, const char *why)
{
    struct peer_net *pn = in->pn;
    if (why)
        ZK_WARN_RL("peer connection from member %u closed: %s", in->id, why);
    if (!pool_remove(pn->inbound, INBOUND_MAX, in))
        pool_remove(pn->prehello, PREHELLO_MAX, in);
    if (in->hello_ev)
        event_free(in->hello_ev);
    bufferevent_free(in->bev);
    zk_free(in);
}

/* Returns 0 when the hello is acceptable. An older connection from the same member is kept (a
 * forged hello must not cut a member's real stream; the core ignores stale or foreign messages);
 * only past INBOUND_PER_MEMBER connections is the oldest closed (a restarted member whose old
 * connection has not been seen to die yet). */
static int add_link(struct peer_net *pn, uint32_t id, const char *host, int port, bool learner);

/* A member outside our configuration (a joiner started with a configuration that has it):
 * we connect back to the address its hello gave, so the consensus core can answer it. */
static int learner_link(struct peer_net *pn, uint32_t id, const uint8_t *host, size_t host_len,
                        uint32_t port)
{
    int learners = 0;
    for (int i = 0; i < pn->n_links; i++)
        learners += pn->links[i]->learner;
    char name[HOST_MAX + 1];
    memcpy(name, host, host_len);
    name[host_len] = '\0';
    if (learners >= LEARNER_LINKS_MAX || port == 0 || port > 65535 || !host_len ||
        strlen(name) != host_len) {
        ZK_WARN_RL("peer port: member %u is not in our configuration and cannot be linked back "
                   "(%d such links, address %s:%u); refused", id, learners, name, port);
        return -1;
    }
    ZK_INFO("member %u (%s:%u) is not in our configuration: linking back to it as a learner", id,
            name, port);
    return add_link(pn, id, name, (int)port, true);
}

/* A member that connects to us is back: our link to it, waiting out its backoff (up to
 * BACKOFF_MAX_MS), dials now. Its answers travel on that link, so a restarted member would
 * otherwise wait up to a second to hear the ensemble. One dial per hello, to the configured
 * address: nothing a forged hello can amplify. */
static void redial_now(struct link *l)
{
    if (!l || l->up || l->bev || l->departed)
        return; /* connected, connecting, or leaving */
    event_del(l->retry_ev);
    l->backoff_ms = BACKOFF_MIN_MS;
    link_connect(l);
}

static int accept_hello(struct inbound *in, const uint8_t *p, uint32_t len)
{
    struct peer_net *pn = in->pn;
    if (len < HELLO_FIXED || len > HELLO_MAX || be32_load(p) != HELLO_MAGIC ||
        be32_load(p + 4) != HELLO_VERSION) {
        ZK_WARN_RL("peer port: a connection that does not speak zabkeeper's peer protocol");
        return -1;
    }
    uint32_t id = be32_load(p + 8);
    if (id == 0 || id == pn->my_id || id > 255) {
        ZK_WARN_RL("peer port: a hello claiming member id %u; refused", id);
        return -1;
    }
    if (!find_link(pn, id) &&
        learner_link(pn, id, p + HELLO_FIXED, len - HELLO_FIXED, be32_load(p + 12)) != 0)
        return -1;
    struct inbound *oldest = NULL;
    int same = 0;
    for (int i = 0; i < INBOUND_MAX; i++) {
        struct inbound *o = pn->inbound[i];
        if (o && o != in && o->id == id) {
            same++;
            if (!oldest || o->seq < oldest->seq)
                oldest = o;
        }
    }
    if (same >= INBOUND_PER_MEMBER)
        inbound_close(oldest, "replaced by a newer connection from the same member");
    /* Identified: from the pre-hello budget to the members' pool (room is certain: at most
     * INBOUND_PER_MEMBER per configured member). */
    int slot = pool_free_slot(pn->inbound, INBOUND_MAX);
    ZK_ASSERT(slot >= 0);
    pool_remove(pn->prehello, PREHELLO_MAX, in);
    pn->inbound[slot] = in;
    event_del(in->hello_ev);
    in->id = id;
    redial_now(find_link(pn, id));
    return 0;
}

static void inbound_on_read(struct bufferevent *bev, void *arg)
{
    struct inbound *in = arg;
    struct peer_net *pn = in->pn;
    struct evbuffer *buf = bufferevent_get_input(bev);
    for (;;) {
        uint8_t head[4];
        if (evbuffer_copyout(buf, head, 4) != 4)
            return;
        uint32_t len = be32_load(head);
        if (len > pn->frame_max || (!in->id && (len < HELLO_FIXED || len > HELLO_MAX))) {
            inbound_close(in, "frame length out of range");
            return;
        }
        if (evbuffer_get_length(buf) < 4 + (size_t)len)
            return;
        const uint8_t *frame = evbuffer_pullup(buf, 4 + (ssize_t)len);
        if (!frame) {
            inbound_close(in, "out of memory");
            return;
        }
        if (!in->id) {
            if (accept_hello(in, frame + 4, len) != 0) {
                inbound_close(in, NULL);
                return;
            }
        } else {
            pn->cbs.on_message(pn->cbs.ctx, in->id, frame + 4, len);
        }
        evbuffer_drain(buf, 4 + (size_t)len);
    }
}

static void inbound_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct inbound *in = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (in->pn->tls && !in->id) {
        char why[512];
        tls_describe_error(bufferevent_openssl_get_ssl(bev), bufferevent_get_openssl_error(bev), why,
                           sizeof why);
        ZK_WARN_RL("peer port: TLS connection from %s refused: %s", in->addr, why);
    }
    inbound_close(in, NULL);
}

static void on_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    inbound_close(arg, "no hello within the connect timeout");
}

/* A free pre-hello slot, closing the oldest unidentified connection if there is none. */
static int prehello_slot(struct peer_net *pn)
{
    int slot = pool_free_slot(pn->prehello, PREHELLO_MAX);
    if (slot >= 0)
        return slot;
    int oldest = 0;
    for (int i = 1; i < PREHELLO_MAX; i++)
        if (pn->prehello[i]->seq < pn->prehello[oldest]->seq)
            oldest = i;
    inbound_close(pn->prehello[oldest], "too many connections without a hello");
    return oldest;
}

static void numeric_addr(const struct sockaddr *sa, char *out, size_t n)
{
    out[0] = '\0';
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)n);
}

static void on_peer_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                           int socklen, void *arg)
{
    (void)l;
    (void)socklen;
    struct peer_net *pn = arg;
    pn->accept_backoff_ms = 0;
    int slot = prehello_slot(pn);
    struct inbound *in = zk_calloc(1, sizeof *in);
    char addr[INET6_ADDRSTRLEN];
    numeric_addr(sa, addr, sizeof addr);
    /* With TLS, the hello deadline covers the handshake too. */
    struct bufferevent *bev = !in ? NULL
                              : pn->tls ? tls_bev(pn, fd, true, addr)
                                        : bufferevent_socket_new(pn->base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct event *timer = bev ? evtimer_new(pn->base, on_hello_timeout, in) : NULL;
    struct timeval tv = {HELLO_TIMEOUT_MS / 1000, (HELLO_TIMEOUT_MS % 1000) * 1000};
    if (!timer || evtimer_add(timer, &tv) != 0) {
        ZK_WARN_RL("peer port: refusing a connection (out of memory)");
        if (timer)
            event_free(timer);
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        zk_free(in);
        return;
    }
    in->pn = pn;
    in->bev = bev;
    in->hello_ev = timer;
    snprintf(in->addr, sizeof in->addr, "%s", addr);
    in->seq = ++pn->accepted;
    pn->prehello[slot] = in;
    bufferevent_setcb(bev, inbound_on_read, NULL, inbound_on_event, in);
    bufferevent_enable(bev, EV_READ);
}

static void on_peer_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct peer_net *pn = arg;
    if (evconnlistener_enable(pn->listener) != 0)
        ZK_ERROR_RL("cannot re-enable the peer listener");
}

/* As on the client port: accept failing (EMFILE) pauses the listener with a backoff. */
static void on_peer_listen_error(struct evconnlistener *l, void *arg)
{
    struct peer_net *pn = arg;
    int ms = pn->accept_backoff_ms ? pn->accept_backoff_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
    pn->accept_backoff_ms = ms > ACCEPT_BACKOFF_MAX_MS ? ACCEPT_BACKOFF_MAX_MS : ms;
    ZK_ERROR_RL("peer port: accept failed: %s; not accepting for %d ms",
                evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()), pn->accept_backoff_ms);
    struct timeval tv = {0, pn->accept_backoff_ms * 1000};
    if (evconnlistener_disable(l) != 0 || evtimer_add(pn->accept_retry_ev, &tv) != 0)
        ZK_ERROR_RL("cannot pause the peer listener");
}

/* ---- setup ---- */

static int resolve(const char *host, int port, struct sockaddr_storage *out, int *len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res)
        return -1;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len = (int)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int listen_peer_port(struct peer_net *pn, const struct zk_member *me)
{
    struct sockaddr_storage addr;
    int len;
    if (resolve(me->host, me->peer_port, &addr, &len) != 0) {
        ZK_ERROR("cannot resolve my peer address %s", me->host);
        return -1;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    for (int attempt = 0; attempt < 50 && !pn->listener; attempt++) {
        pn->listener = evconnlistener_new_bind(pn->base, on_peer_accept, pn, flags, 64,
                                               (struct sockaddr *)&addr, len);
        if (!pn->listener) {
            ZK_WARN("cannot bind peer port %d: %s; retrying", me->peer_port, strerror(errno));
            struct timespec pause = {0, 100 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    if (!pn->listener)
        return -1;
    evconnlistener_set_error_cb(pn->listener, on_peer_listen_error);
    pn->accept_retry_ev = evtimer_new(pn->base, on_peer_accept_retry, pn);
    return pn->accept_retry_ev ? 0 : -1;
}

static void link_free(struct link *l)
{
    if (l->bev)
        bufferevent_free(l->bev);
    if (l->retry_ev)
        event_free(l->retry_ev);
    zk_free(l);
}

static int add_link(struct peer_net *pn, uint32_t id, const char *host, int port, bool learner)
{
    if (pn->n_links == (int)(sizeof pn->links / sizeof pn->links[0]))
        return -1;
    struct link *l = zk_calloc(1, sizeof *l);
    if (!l)
        return -1;
    l->pn = pn;
    l->id = id;
    l->port = port;
    l->learner = learner;
    l->backoff_ms = BACKOFF_MIN_MS;
    snprintf(l->host, sizeof l->host, "%s", host);
    if (resolve(host, port, &l->addr, &l->addr_len) != 0) {
        ZK_ERROR("cannot resolve member %u's address %s", id, host);
        zk_free(l);
        return -1;
    }
    l->retry_ev = evtimer_new(pn->base, link_on_retry, l);
    if (!l->retry_ev) {
        zk_free(l);
        return -1;
    }
    pn->links[pn->n_links++] = l;
    link_connect(l);
    return 0;
}

static void remove_link(struct peer_net *pn, int i)
{
    struct link *l = pn->links[i];
    bool was_up = l->up;
    uint32_t id = l->id;
    pn->links[i] = pn->links[--pn->n_links];
    link_free(l);
    if (was_up)
        pn->cbs.on_down(pn->cbs.ctx, id);
}

static bool listed(const struct zk_member *members, int n, uint32_t id)
{
    for (int i = 0; i < n; i++)
        if ((uint32_t)members[i].id == id)
            return true;
    return false;
}

/* Does the link already go where m says? Compared by address, not spelling: `localhost` in
 * one member's configuration and 127.0.0.1 in another's name the same peer. */
static bool same_address(const struct link *l, const struct zk_member *m)
{
    if (l->port != m->peer_port)
        return false;
    if (!strcmp(l->host, m->host))
        return true;
    struct sockaddr_storage addr;
    int len;
    return resolve(m->host, m->peer_port, &addr, &len) == 0 && len == l->addr_len &&
           !memcmp(&addr, &l->addr, (size_t)len);
}

int peer_net_set_members(struct peer_net *pn, const struct zk_member *members, int n)
{
    for (int i = pn->n_links - 1; i >= 0; i--) {
        struct link *l = pn->links[i];
        if (listed(members, n, l->id) || l->departed)
            continue;
        if (!l->up) {
            remove_link(pn, i);
            continue;
        }
        ZK_INFO("member %u left the configuration: its link closes once it drops", l->id);
        l->departed = true;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const struct zk_member *m = &members[i];
        if ((uint32_t)m->id == pn->my_id)
            continue;
        struct link *l = find_link(pn, (uint32_t)m->id);
        if (l && !same_address(l, m)) {
            for (int j = 0; j < pn->n_links; j++) {
                if (pn->links[j] == l) {
                    remove_link(pn, j);
                    break;
                }
            }
            l = NULL;
        }
        if (l)
            l->learner = l->departed = false;
        else if (add_link(pn, (uint32_t)m->id, m->host, m->peer_port, false) != 0)
            rc = -1;
    }
    return rc;
}

struct peer_net *peer_net_new(struct event_base *base, const struct zk_config *cfg,
                              const struct peer_callbacks *cbs)
{
    struct peer_net *pn = zk_calloc(1, sizeof *pn);
    if (!pn)
        return NULL;
    pn->base = base;
    pn->cbs = *cbs;
    pn->frame_max = peer_frame_max(cfg);
    pn->queue_max = cfg->peer_queue_max_bytes;
    pn->my_id = (uint32_t)cfg->myid;
    pn->tls = cfg->sec.quorum_tls;
    pn->tls_settings = &cfg->sec.ssl_quorum;
    if (pn->tls && (tlsctx_init(&pn->tls_accept, pn->tls_settings, "ssl.quorum.", true, true) ||
                    tlsctx_init(&pn->tls_connect, pn->tls_settings, "ssl.quorum.", false, true))) {
        peer_net_free(pn);
        return NULL;
    }
    const struct zk_member *me = NULL;
    for (int i = 0; i < cfg->n_members; i++)
        if (cfg->members[i].id == cfg->myid)
            me = &cfg->members[i];
    if (me) {
        snprintf(pn->my_host, sizeof pn->my_host, "%s", me->host);
        pn->my_port = me->peer_port;
    }
    if (!me || strlen(pn->my_host) > HOST_MAX || listen_peer_port(pn, me) != 0 ||
        peer_net_set_members(pn, cfg->members, cfg->n_members) != 0) {
        peer_net_free(pn);
        return NULL;
    }
    return pn;
}

void peer_net_free(struct peer_net *pn)
{
    if (!pn)
        return;
    for (int i = 0; i < INBOUND_MAX; i++)
        if (pn->inbound[i])
            inbound_close(pn->inbound[i], NULL);
    for (int i = 0; i < PREHELLO_MAX; i++)
        if (pn->prehello[i])
            inbound_close(pn->prehello[i], NULL);
    if (pn->accept_retry_ev)
        event_free(pn->accept_retry_ev);
    for (int i = 0; i < pn->n_links; i++)
        link_free(pn->links[i]);
    if (pn->listener)
        evconnlistener_free(pn->listener);
    tlsctx_free(&pn->tls_accept);
    tlsctx_free(&pn->tls_connect);
    zk_free(pn);
}

void peer_net_reload_tls(struct peer_net *pn)
{
    tlsctx_reload_if_changed(&pn->tls_accept);
    tlsctx_reload_if_changed(&pn->tls_connect);
}
