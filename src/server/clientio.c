/* Client sockets (see clientio.h). */
#include "server/clientio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/i64map.h"
#include "common/log.h"
#include "member/member.h"

#define OUT_LOW_BYTES (256u << 10)  /* the member hears "writable" below this */
#define ACCEPT_BACKOFF_MIN_MS 10    /* accept failing (EMFILE...): pause the listener, doubling */
#define ACCEPT_BACKOFF_MAX_MS 1000

struct sock {
    struct clientio *io;
    uint64_t id;
    struct bufferevent *bev;
    bool closing;            /* the member asked; freed at the next reap (or once flushed) */
    bool after_flush;
    bool gone;               /* closed: to be reported and freed at the next reap */
    struct sock *reap_next;
};

struct clientio {
    struct event_base *base;
    const struct zk_config *cfg;
    struct member *m;
    struct evconnlistener *listener;
    struct event *accept_retry_ev;
    int accept_backoff_ms;
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
        if (io->m)
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
    if (s->gone || s->closing || !s->io->m)
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

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        sock_gone(arg);
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

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)l;
    (void)socklen;
    struct clientio *io = arg;
    io->accept_backoff_ms = 0;
    char addr[INET6_ADDRSTRLEN];
    int port;
    describe_peer(sa, addr, sizeof addr, &port);
    if (!io->m || !member_conn_admit(io->m, addr)) {
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sock *s = zk_calloc(1, sizeof *s);
    struct bufferevent *bev = s ? bufferevent_socket_new(io->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
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
    *s = (struct sock){.io = io, .id = id, .bev = bev};
    bufferevent_setcb(bev, on_read, on_write, on_event, s);
    bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW_BYTES, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    member_conn_open(io->m, id, addr, port);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct clientio *io = arg;
    if (io->listener && evconnlistener_enable(io->listener) != 0)
        ZK_ERROR_RL("cannot re-enable the client listener");
}

/* EMFILE and friends: the pending connection stays in the backlog, so accepting again at once
 * would fail again at once (a busy loop). Pause the listener with a doubling backoff instead and
 * keep serving the connections we have. */
static void on_listen_error(struct evconnlistener *l, void *arg)
{
    struct clientio *io = arg;
    int err = EVUTIL_SOCKET_ERROR();
    int ms = io->accept_backoff_ms ? io->accept_backoff_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
    io->accept_backoff_ms = ms > ACCEPT_BACKOFF_MAX_MS ? ACCEPT_BACKOFF_MAX_MS : ms;
    ZK_ERROR_RL("accept failed: %s; not accepting for %d ms (%zu connections open)",
                evutil_socket_error_to_string(err), io->accept_backoff_ms,
                i64map_count(&io->socks));
    struct timeval tv = {0, io->accept_backoff_ms * 1000};
    if (evconnlistener_disable(l) != 0 || evtimer_add(io->accept_retry_ev, &tv) != 0)
        ZK_ERROR_RL("cannot pause the client listener");
}

static int listen_addr(const struct zk_config *cfg, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    const char *host = cfg->client_addr[0] ? cfg->client_addr : "0.0.0.0";
    struct sockaddr_in *in = (void *)ss;
    struct sockaddr_in6 *in6 = (void *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)cfg->client_port);
        *len = sizeof *in;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)cfg->client_port);
        *len = sizeof *in6;
        return 0;
    }
    ZK_ERROR("clientPortAddress '%s' is not a numeric address", host);
    return -1;
}

int clientio_listen(struct clientio *io)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (listen_addr(io->cfg, &ss, &len) != 0)
        return -1;
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    for (int attempt = 0; attempt < 50 && !io->listener; attempt++) {
        io->listener = evconnlistener_new_bind(io->base, on_accept, io, flags, 1024,
                                               (struct sockaddr *)&ss, (int)len);
        if (io->listener)
            break;
        /* design.md #10: the port may be briefly held by someone's outgoing connection. */
        ZK_WARN("cannot bind client port %d: %s; retrying", io->cfg->client_port,
                strerror(errno));
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (!io->listener) {
        ZK_ERROR("cannot listen on the client port %d", io->cfg->client_port);
        return -1;
    }
    evconnlistener_set_error_cb(io->listener, on_listen_error);
    io->accept_retry_ev = evtimer_new(io->base, on_accept_retry, io);
    return io->accept_retry_ev ? 0 : -1;
}

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
    if (io->listener)
        evconnlistener_free(io->listener);
    if (io->accept_retry_ev)
        event_free(io->accept_retry_ev);
    int64_t id;
    void *v;
    for (size_t it = 0; i64map_next(&io->socks, &it, &id, &v);)
        sock_gone(v);
    io->m = NULL; /* the member is gone or going: nobody to tell */
    clientio_reap(io);
    i64map_free(&io->socks);
    zk_free(io);
}
