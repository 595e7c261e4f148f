/* zkbench sessions: open --sessions client sessions spread over the members of --connect and
 * report how fast they were established; then run --at-peak (e.g. record the members' RSS),
 * keep them --hold seconds (pinged) and close them with closeSession.
 *
 * It speaks the client protocol on raw sockets (ConnectRequest, ping, closeSession) from one
 * epoll thread: libzookeeper_mt would start two threads per session, 20,000 threads for
 * 10,000 sessions, and measure the generator rather than the servers. At most --depth
 * handshakes are in flight at once (a listen backlog is finite on both servers). Prints
 *   RESULT kind=sessions sessions=N established=E seconds=S sessions_per_s=R ... */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define MAX_MEMBERS 16
#define SESSION_TIMEOUT_MS 30000

enum sstate { S_IDLE, S_CONNECTING, S_SENT, S_UP, S_DEAD };

struct sess {
    int fd;
    enum sstate st;
    uint8_t in[64]; /* the ConnectResponse: 4 + 4 + 4 + 8 + 4 + 16 + 1 bytes at most */
    size_t got;
    uint64_t t0;
    struct hist *h;
};

static int parse_members(const char *connect, struct sockaddr_in *out, int max)
{
    int n = 0;
    char *copy = strdup(connect), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(tok, ':');
        if (!colon)
            continue;
        *colon = '\0';
        memset(&out[n], 0, sizeof out[n]);
        out[n].sin_family = AF_INET;
        out[n].sin_port = htons((uint16_t)atoi(colon + 1));
        if (inet_pton(AF_INET, tok, &out[n].sin_addr) == 1)
            n++;
    }
    free(copy);
    return n;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Frame + ConnectRequest{protocolVersion 0, lastZxidSeen 0, timeOut, sessionId 0,
 * passwd 16 zero bytes, readOnly false}. */
static size_t connect_request(uint8_t *buf)
{
    uint8_t *p = buf + 4;
    memset(buf, 0, 64);
    p += 4 + 8;                        /* protocol version, last zxid */
    put32(p, SESSION_TIMEOUT_MS);
    p += 4 + 8;                        /* timeout, session id */
    put32(p, 16);
    p += 4 + 16 + 1;                   /* passwd, readOnly */
    put32(buf, (uint32_t)(p - buf - 4));
    return (size_t)(p - buf);
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* a dead session: noticed when reading */
        p += w;
        n -= (size_t)w;
    }
}

static int start_connect(struct sess *s, const struct sockaddr_in *to, int ep)
{
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        return -1;
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->t0 = now_ns();
    s->got = 0;
    if (connect(s->fd, (const struct sockaddr *)to, sizeof *to) != 0 && errno != EINPROGRESS) {
        close(s->fd);
        return -1;
    }
    s->st = S_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = s};
    return epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

/* Progress of one handshake; returns 1 when the session is up, -1 when it failed, 0 else. */
static int on_event(struct sess *s, uint32_t events, int ep)
{
    if (s->st == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
            return -1;
        uint8_t req[64];
        send_all(s->fd, req, connect_request(req));
        s->st = S_SENT;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
        return 0;
    }
    if (s->st != S_SENT || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return 0;
    ssize_t n = recv(s->fd, s->in + s->got, sizeof s->in - s->got, 0);
    if (n <= 0)
        return n < 0 && errno == EAGAIN ? 0 : -1;
    s->got += (size_t)n;
    if (s->got < 4 || s->got < 4 + get32(s->in))
        return 0;
    /* {protocolVersion, timeOut, sessionId, ...}: a timeout <= 0 is a refusal */
    if ((int32_t)get32(s->in + 8) <= 0)
        return -1;
    return 1;
}

/* Drain whatever the server sends (ping replies) so its buffers never fill. */
static void drain(int fd)
{
    uint8_t buf[4096];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

static void send_header(int fd, int32_t xid, int32_t type)
{
    uint8_t f[12];
    put32(f, 8);
    put32(f + 4, (uint32_t)xid);
    put32(f + 8, (uint32_t)type);
    send_all(fd, f, sizeof f);
}

static void raise_nofile(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int cmd_sessions(const struct opts *o)
{
    struct sockaddr_in members[MAX_MEMBERS];
    int nm = parse_members(o->connect, members, MAX_MEMBERS);
    if (nm == 0 || o->sessions < 1 || o->depth < 1) {
        fprintf(stderr, "zkbench sessions: bad --connect (IPv4 host:port list), --sessions or "
                        "--depth\n");
        return 2;
    }
    raise_nofile(o->sessions + 64);
    struct sess *ss = calloc((size_t)o->sessions, sizeof *ss);
    static struct hist h;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!ss || ep < 0)
        return 1;
    hist_reset(&h);
    int next = 0, inflight = 0, up = 0, failed = 0;
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)o->timeout * 1000000000ull;
    struct epoll_event evs[256];
    while (up + failed < o->sessions && now_ns() < deadline) {
        while (next < o->sessions && inflight < o->depth) {
            struct sess *s = &ss[next];
            if (start_connect(s, &members[next % nm], ep) != 0) {
                s->st = S_DEAD;
                failed++;
            } else {
                inflight++;
            }
            next++;
        }
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct sess *s = evs[i].data.ptr;
            int r = on_event(s, evs[i].events, ep);
            if (r == 0)
                continue;
            inflight--;
            epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
            if (r > 0) {
                s->st = S_UP;
                up++;
                hist_add(&h, (now_ns() - s->t0) / 1000);
            } else {
                close(s->fd);
                s->st = S_DEAD;
                failed++;
            }
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("RESULT kind=sessions sessions=%d established=%d failed=%d seconds=%.2f "
           "sessions_per_s=%.0f",
           o->sessions, up, failed, secs, up / (secs > 0 ? secs : 1e-9));
    print_latency("", &h);
    printf("\n");
    fflush(stdout);
    /* Hold the sessions (pinged well within their timeout) while --at-peak runs. */
    if (o->at_peak != NULL && system(o->at_peak) != 0)
        fprintf(stderr, "zkbench: --at-peak command failed\n");
    for (uint64_t end = now_ns() + (uint64_t)o->hold * 1000000000ull;;) {
        for (int i = 0; i < o->sessions; i++)
            if (ss[i].st == S_UP) {
                drain(ss[i].fd);
                send_header(ss[i].fd, -2, 11); /* ping */
            }
        if (now_ns() >= end)
            break;
        sleep_ms(SESSION_TIMEOUT_MS / 6 < 1000 ? SESSION_TIMEOUT_MS / 6 : 1000);
    }
    for (int i = 0; i < o->sessions; i++)
        if (ss[i].st == S_UP)
            send_header(ss[i].fd, 1, -11); /* closeSession: the servers drop it at once */
    sleep_ms(500);
    for (int i = 0; i < o->sessions; i++)
        if (ss[i].st == S_UP || ss[i].st == S_SENT || ss[i].st == S_CONNECTING)
            close(ss[i].fd);
    close(ep);
    free(ss);
    return up == o->sessions ? 0 : 1;
}
