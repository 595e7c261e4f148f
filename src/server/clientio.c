/* Client sockets (see clientio.h). */
#include "server/clientio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/i64map.h"
#include "common/log.h"
#include "member/member.h"
#include "security/sasl.h"
#include "server/tlsctx.h"

#define OUT_LOW_BYTES (256u << 10)  /* the member hears "writable" below this */
#define ACCEPT_BACKOFF_MIN_MS 10    /* accept failing (EMFILE...): pause the listener, doubling */
#define ACCEPT_BACKOFF_MAX_MS 1000
#define TLS_HANDSHAKE_TIMEOUT_S 10 /* as the plaintext handshake (conns.c) */
#define TLS_HANDSHAKES_MAX 256     /* TLS handshakes in progress at once */

struct sock {
    struct clientio *io;
    uint64_t id;
    struct bufferevent *bev;
    bool tls;                /* a secureClientPort connection: libevent's SSL bufferevent */
    bool opened;             /* the member knows it (a TLS one: once its handshake is done) */
    bool closing;            /* the member asked; freed at the next reap (or once flushed) */
    bool after_flush;
    bool gone;               /* closed: to be reported and freed at the next reap */
    struct zsasl_session *sasl;
    bool sasl_done;          /* its exchange ended: a new one starts afresh */
    struct sock *reap_next;
    char addr[INET6_ADDRSTRLEN];
    int port;
};

/* One listening port: clientPort (plain) or secureClientPort (TLS). */
struct port {
    struct clientio *io;
    struct evconnlistener *listener;
    struct event *accept_retry_ev;
    int accept_backoff_ms;
    bool tls;
    int number;
};

struct clientio {
    struct event_base *base;
    const struct zk_config *cfg;
    struct member *m;
    struct port ports[2];
    struct tlsctx tls;       /* the secure port's context (ctx NULL without one) */
    size_t handshaking;      /* TLS handshakes in progress */
    struct i64map socks;     /* id -> sock */
    uint64_t next_id;
    struct sock *reap;       /* socks to report closed and free */
};

static struct sock *find(struct clientio *io, uint64_t id) { return i64map_get(&io->socks, (int64_t)id); }

/* Mark s gone: nothing more is read or written; clientio_reap reports and frees it. */
static void sock_gone(struct sock *s)
{
    if (s->gone)
        return;
    s->gone = true;
    bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    s->reap_next = s->io->reap;
    s->io->reap = s;
}

void clientio_reap(struct clientio *io)
{
    while (io->reap) {
        struct sock *s = io->reap;
        io->reap = s->reap_next;
        i64map_del(&io->socks, (int64_t)s->id);
        bufferevent_free(s->bev);
        zsasl_session_free(s->sasl);
        if (!s->opened && s->tls)
            io->handshaking--;
        if (io->m && s->opened)
            member_conn_closed(io->m, s->id);
        zk_free(s);
    }
}

/* ---- the member's seam ---- */

int clientio_send(struct clientio *io, uint64_t conn, const uint8_t *data, size_t len)
{
    struct sock *s = find(io, conn);
    if (!s || s->gone)
        return -1;
    if (bufferevent_write(s->bev, data, len) != 0) {
        sock_gone(s);
        return -1;
    }
    return 0;
}

size_t clientio_queued(struct clientio *io, uint64_t conn)
{
    struct sock *s = find(io, conn);
    return s && !s->gone ? evbuffer_get_length(bufferevent_get_output(s->bev)) : 0;
}

void clientio_reading(struct clientio *io, uint64_t conn, bool on)
{
    struct sock *s = find(io, conn);
    if (!s || s->gone || s->closing)
        return;
    if (!on) {
        bufferevent_disable(s->bev, EV_READ);
        return;
    }
    bufferevent_enable(s->bev, EV_READ);
    /* Bytes may already wait in the input buffer: offer them again (deferred, so the member
     * is never re-entered from inside its own call). */
    bufferevent_trigger(s->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void clientio_close(struct clientio *io, uint64_t conn, bool after_flush)
{
    struct sock *s = find(io, conn);
    if (!s || s->gone || s->closing)
        return;
    s->closing = true;
    s->after_flush = after_flush;
    bufferevent_disable(s->bev, EV_READ);
    if (!after_flush || evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
        sock_gone(s);
    else
        bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0); /* tell us when all is written */
}

void clientio_push(struct clientio *io)
{
    int64_t id;
    void *v;
    /* Non-blocking: what the sockets do not take now, libevent writes later. */
    for (size_t it = 0; i64map_next(&io->socks, &it, &id, &v);) {
        struct sock *s = v;
        struct evbuffer *out = bufferevent_get_output(s->bev);
        if (s->tls) /* never past the TLS layer: libevent's SSL bufferevent writes those */
            continue;
        while (!s->gone && evbuffer_get_length(out) > 0 &&
               evbuffer_write(out, bufferevent_getfd(s->bev)) > 0) {
        }
        if (s->closing && s->after_flush && evbuffer_get_length(out) == 0)
            sock_gone(s);
    }
}

/* ---- socket events ---- */

static void on_read(struct bufferevent *bev, void *arg)
{
    struct sock *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    if (s->gone || s->closing || !s->opened || !s->io->m)
        return;
    const uint8_t *data = len ? evbuffer_pullup(in, -1) : NULL;
    if (len && !data) {
        ZK_WARN_RL("out of memory reading a client's input; closing it");
        sock_gone(s);
        return;
    }
    size_t used = member_conn_input(s->io->m, s->id, data, len);
    evbuffer_drain(in, used < len ? used : len);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct sock *s = arg;
    if (s->gone)
        return;
    if (s->closing) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            sock_gone(s);
        return;
    }
    if (s->io->m)
        member_conn_writable(s->io->m, s->id);
}

int clientio_sasl_step(struct clientio *io, uint64_t conn, const uint8_t *in, size_t in_len,
                       const uint8_t **out, size_t *out_len, char *id, size_t id_size)
{
    struct sock *s = find(io, conn);
    if (!s || s->gone)
        return MEMBER_SASL_FAILED;
    if (s->sasl_done) { /* freed only now: the last reply pointed into it */
        zsasl_session_free(s->sasl);
        s->sasl = NULL;
        s->sasl_done = false;
    }
    if (!s->sasl)
        s->sasl = zsasl_session_new();
    if (!s->sasl) {
        snprintf(id, id_size, "%s", zsasl_ready() ? "out of memory" : "SASL is not configured");
        return MEMBER_SASL_FAILED;
    }
    switch (zsasl_step(s->sasl, in, in_len, out, out_len, id, id_size)) {
    case ZSASL_CONTINUE:
        return MEMBER_SASL_CONTINUE;
    case ZSASL_DONE:
        s->sasl_done = true;
        return MEMBER_SASL_DONE;
    case ZSASL_FAILED:
        break;
    }
    return MEMBER_SASL_FAILED;
}

/* A TLS handshake finished: the member meets the connection, with its certificate's identity. */
static void tls_established(struct sock *s)
{
    struct clientio *io = s->io;
    SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
    char subject[TLS_DN_MAX];
    bool have_cert = ssl && tls_peer_subject(ssl, subject, sizeof subject) == 0;
    io->handshaking--;
    s->opened = true;
    bufferevent_set_timeouts(s->bev, NULL, NULL);
    member_conn_open(io->m, s->id, s->addr, s->port);
    if (have_cert)
        member_conn_identity(io->m, s->id, "x509", subject);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct sock *s = arg;
    if (what & BEV_EVENT_CONNECTED) {
        if (s->tls && !s->opened && !s->gone && s->io->m)
            tls_established(s);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    if (s->tls && !s->opened) {
        char why[512];
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        if (what & BEV_EVENT_TIMEOUT)
            snprintf(why, sizeof why, "no handshake within %d s", TLS_HANDSHAKE_TIMEOUT_S);
        else
            tls_describe_error(ssl, bufferevent_get_openssl_error(bev), why, sizeof why);
        ZK_WARN_RL("TLS client %s:%d refused: %s", s->addr, s->port, why);
    }
    sock_gone(s);
}

/* ---- accepting ---- */

static void describe_peer(const struct sockaddr *sa, char *addr, size_t size, int *port)
{
    addr[0] = '\0';
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)size);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)size);
        *port = ntohs(in6->sin6_port);
    }
}

/* A socket's bufferevent: plain, or TLS in the accepting state (its handshake runs first). */
static struct bufferevent *new_bev(struct clientio *io, evutil_socket_t fd, bool tls)
{
    if (!tls)
        return bufferevent_socket_new(io->base, fd, BEV_OPT_CLOSE_ON_FREE);
    SSL *ssl = SSL_new(io->tls.ctx);
    struct bufferevent *bev =
        ssl ? bufferevent_openssl_socket_new(io->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE)
            : NULL;
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    /* A client closing without close_notify is an ordinary end of stream. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    struct timeval limit = {TLS_HANDSHAKE_TIMEOUT_S, 0};
    bufferevent_set_timeouts(bev, &limit, &limit);
    return bev;
}

static bool admit(struct port *p, const char *addr)
{
    struct clientio *io = p->io;
    if (!io->m || !member_conn_admit(io->m, addr))
        return false;
    if (p->tls && io->handshaking >= TLS_HANDSHAKES_MAX) {
        ZK_WARN_RL("%zu TLS handshakes in progress; refusing %s", io->handshaking, addr);
        return false;
    }
    return true;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)l;
    (void)socklen;
    struct port *p = arg;
    struct clientio *io = p->io;
    p->accept_backoff_ms = 0;
    char addr[INET6_ADDRSTRLEN];
    int port;
    describe_peer(sa, addr, sizeof addr, &port);
    if (!admit(p, addr)) {
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sock *s = zk_calloc(1, sizeof *s);
    struct bufferevent *bev = s ? new_bev(io, fd, p->tls) : NULL;
    uint64_t id = io->next_id++;
    if (!bev || i64map_put(&io->socks, (int64_t)id, s) != 0) {
        ZK_ERROR_RL("out of memory accepting a connection from %s", addr);
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        zk_free(s);
        return;
    }
    *s = (struct sock){.io = io, .id = id, .bev = bev, .tls = p->tls, .port = port};
    snprintf(s->addr, sizeof s->addr, "%s", addr);
    bufferevent_setcb(bev, on_read, on_write, on_event, s);
    bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW_BYTES, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (p->tls) {
        io->handshaking++;
        return; /* the member meets it once the handshake is done (tls_established) */
    }
    s->opened = true;
    member_conn_open(io->m, id, addr, port);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct port *p = arg;
    if (p->listener && evconnlistener_enable(p->listener) != 0)
        ZK_ERROR_RL("cannot re-enable the client listener of port %d", p->number);
}

/* EMFILE and friends: the pending connection stays in the backlog, so accepting again at once
 * would fail again at once (a busy loop). Pause the listener with a doubling backoff instead and
 * keep serving the connections we have. */
static void on_listen_error(struct evconnlistener *l, void *arg)
{
    struct port *p = arg;
    int err = EVUTIL_SOCKET_ERROR();
    int ms = p->accept_backoff_ms ? p->accept_backoff_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
    p->accept_backoff_ms = ms > ACCEPT_BACKOFF_MAX_MS ? ACCEPT_BACKOFF_MAX_MS : ms;
    ZK_ERROR_RL("accept failed on port %d: %s; not accepting for %d ms (%zu connections open)",
                p->number, evutil_socket_error_to_string(err), p->accept_backoff_ms,
                i64map_count(&p->io->socks));
    struct timeval tv = {0, p->accept_backoff_ms * 1000};
    if (evconnlistener_disable(l) != 0 || evtimer_add(p->accept_retry_ev, &tv) != 0)
        ZK_ERROR_RL("cannot pause the client listener of port %d", p->number);
}

static int listen_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    const char *host = addr[0] ? addr : "0.0.0.0";
    struct sockaddr_in *in = (void *)ss;
    struct sockaddr_in6 *in6 = (void *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof *in;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    ZK_ERROR("client port address '%s' is not a numeric address", host);
    return -1;
}

static int listen_port(struct clientio *io, struct port *p, const char *addr, int number,
                       bool tls)
{
    struct sockaddr_storage ss;
    socklen_t len;
    *p = (struct port){.io = io, .tls = tls, .number = number};
    if (listen_addr(addr, number, &ss, &len) != 0)
        return -1;
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    for (int attempt = 0; attempt < 50 && !p->listener; attempt++) {
        p->listener = evconnlistener_new_bind(io->base, on_accept, p, flags, 1024,
                                              (struct sockaddr *)&ss, (int)len);
        if (p->listener)
            break;
        /* design.md #10: the port may be briefly held by someone's outgoing connection. */
        ZK_WARN("cannot bind client port %d: %s; retrying", number, strerror(errno));
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (!p->listener) {
        ZK_ERROR("cannot listen on the client port %d", number);
        return -1;
    }
    evconnlistener_set_error_cb(p->listener, on_listen_error);
    p->accept_retry_ev = evtimer_new(io->base, on_accept_retry, p);
    ZK_INFO("listening for %s clients on port %d", tls ? "TLS" : "plaintext", number);
    return p->accept_retry_ev ? 0 : -1;
}

int clientio_listen(struct clientio *io)
{
    const struct zk_config *cfg = io->cfg;
    if (cfg->client_port &&
        listen_port(io, &io->ports[0], cfg->client_addr, cfg->client_port, false) != 0)
        return -1;
    if (!cfg->sec.secure_client_port)
        return 0;
    if (tlsctx_init(&io->tls, &cfg->sec.ssl, "ssl.", true, false) != 0)
        return -1;
    const char *addr = cfg->sec.secure_client_addr[0] ? cfg->sec.secure_client_addr
                                                      : cfg->client_addr;
    return listen_port(io, &io->ports[1], addr, cfg->sec.secure_client_port, true);
}

void clientio_reload_tls(struct clientio *io) { tlsctx_reload_if_changed(&io->tls); }

struct clientio *clientio_new(struct event_base *base, const struct zk_config *cfg)
{
    struct clientio *io = zk_calloc(1, sizeof *io);
    if (!io)
        return NULL;
    io->base = base;
    io->cfg = cfg;
    io->next_id = 1;
    i64map_init(&io->socks);
    return io;
}

void clientio_attach(struct clientio *io, struct member *m) { io->m = m; }

void clientio_free(struct clientio *io)
{
    if (!io)
        return;
    for (int i = 0; i < 2; i++) {
        if (io->ports[i].listener)
            evconnlistener_free(io->ports[i].listener);
        if (io->ports[i].accept_retry_ev)
            event_free(io->ports[i].accept_retry_ev);
    }
    int64_t id;
    void *v;
    for (size_t it = 0; i64map_next(&io->socks, &it, &id, &v);)
        sock_gone(v);
    io->m = NULL; /* the member is gone or going: nobody to tell */
    clientio_reap(io);
    i64map_free(&io->socks);
    tlsctx_free(&io->tls);
    zk_free(io);
}
