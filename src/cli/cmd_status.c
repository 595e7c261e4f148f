/* zabctl status: one view of the whole ensemble from the four-letter words each member answers
 * on its client port (srvr, mntr, conf), asked of every member in parallel: id, mode, zxid, lag
 * behind the leader, connections, outstanding requests, latency. Members are identified by conf's
 * serverId (by position in HOSTS when conf is not allowed); conf's `membership:` section names
 * the voters (for the quorum) and the members HOSTS left out, which are asked too. Works on
 * zabkeeper and Apache ZooKeeper alike (same formats). Exit 0 when a leader serves with a quorum
 * of the voters, ZC_NOQUORUM otherwise, ZC_UNREACHABLE when no member answered at all. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/zabctl.h"

#define MAX_ROWS 64
#define MAX_CFG 64
#define ANSWER_MAX (1024 * 1024)

enum word_state { WS_UNASKED, WS_OK, WS_DENIED, WS_NOT_SERVING, WS_NO_ANSWER, WS_UNREACHABLE };

static const char *const word_state_names[] = {
    [WS_UNASKED] = "not asked",      [WS_OK] = "ok",
    [WS_DENIED] = "not in whitelist", [WS_NOT_SERVING] = "not serving",
    [WS_NO_ANSWER] = "no answer",    [WS_UNREACHABLE] = "unreachable",
};

enum { WORD_SRVR, WORD_MNTR, WORD_CONF, WORD_COUNT };
static const char *const word_names[WORD_COUNT] = {"srvr", "mntr", "conf"};

/* One server.N line of conf's membership section. */
struct cfg_member {
    int id;
    char role[16];        /* participant | observer */
    char peer_host[256];  /* first address of the quorum address */
    char client_host[256];
    char client_port[8];  /* "" when the line has no client address */
};

struct row {
    /* where */
    char addr[300]; /* host:port as given or built */
    char host[256];
    char port[8];
    int position; /* 1-based in HOSTS; 0: discovered from the membership */
    /* what it said */
    enum word_state words[WORD_COUNT];
    char error[128]; /* why it is unreachable */
    int id;          /* serverId, -1 unknown */
    char role[16];   /* from the membership, "" unknown */
    char mode[24];
    bool have_zxid;
    uint64_t zxid;
    long long conns, outstanding; /* -1 unknown */
    bool have_latency;
    long long lat_min, lat_max;
    double lat_avg;
    char version[128];
    long long znodes, synced_followers; /* -1 unknown */
    /* conf */
    int n_cfg;
    struct cfg_member cfg[MAX_CFG];
    char cfg_version[32];
    bool have_membership;
    /* derived */
    bool have_lag;
    long long lag;
};

struct probe {
    struct row *row;
    int timeout_ms;
    pthread_t thread;
};

/* ---- talking to a member --------------------------------------------------------------------- */

/* Send WORD, read the whole answer (the member closes the connection) into a NUL-terminated
 * malloc'd buffer. NULL when the member cannot be reached (row->error says why) or did not
 * answer within timeout_ms. */
static char *fetch(struct row *r, const char *word, int timeout_ms, enum word_state *st)
{
    int fd = zabctl_tcp_connect(r->host, r->port, timeout_ms);
    if (fd < 0) {
        snprintf(r->error, sizeof r->error, "%s",
                 fd == -2 ? "cannot resolve host" : strerror(errno));
        *st = WS_UNREACHABLE;
        return NULL;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    bool eof = false;
    if (buf != NULL && send(fd, word, 4, MSG_NOSIGNAL) == 4) {
        for (;;) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            long spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (spent >= timeout_ms || poll(&p, 1, (int)(timeout_ms - spent)) != 1)
                break;
            if (len + 4096 + 1 > cap) {
                if (cap >= ANSWER_MAX)
                    break;
                char *bigger = realloc(buf, cap * 2);
                if (bigger == NULL)
                    break;
                buf = bigger;
                cap *= 2;
            }
            ssize_t n = read(fd, buf + len, cap - len - 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                eof = n == 0;
                break;
            }
            len += (size_t)n;
        }
    }
    close(fd);
    if (buf == NULL || len == 0) {
        /* connected, but nothing came back: a member that closes at once, or a stopped one
         * (the kernel accepts for it) */
        free(buf);
        snprintf(r->error, sizeof r->error, "connected, but no answer to %s%s", word,
                 eof ? "" : " in time");
        *st = WS_NO_ANSWER;
        return NULL;
    }
    buf[len] = '\0';
    if (strstr(buf, "is not executed because it is not in the whitelist"))
        *st = WS_DENIED;
    else if (strstr(buf, "not currently serving requests"))
        *st = WS_NOT_SERVING;
    else
        *st = WS_OK;
    return buf;
}

static bool starts(const char *line, const char *prefix)
{
    return strncmp(line, prefix, strlen(prefix)) == 0;
}

static void copy_trim(char *dst, size_t cap, const char *src)
{
    while (*src == ' ' || *src == '\t')
        src++;
    size_t n = strcspn(src, "\r\n");
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\t'))
        n--;
    snprintf(dst, cap, "%.*s", (int)n, src);
}

static bool parse_zxid(const char *s, uint64_t *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (end == s || errno != 0)
        return false;
    *out = v;
    return true;
}

static void parse_srvr(struct row *r, char *text)
{
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (starts(l, "Zookeeper version: "))
            copy_trim(r->version, sizeof r->version, l + 19);
        else if (starts(l, "Latency min/avg/max: ")) {
            if (sscanf(l + 21, "%lld/%lf/%lld", &r->lat_min, &r->lat_avg, &r->lat_max) == 3)
                r->have_latency = true;
        } else if (starts(l, "Connections: "))
            r->conns = atoll(l + 13);
        else if (starts(l, "Outstanding: "))
            r->outstanding = atoll(l + 13);
        else if (starts(l, "Zxid: "))
            r->have_zxid = parse_zxid(l + 6, &r->zxid);
        else if (starts(l, "Mode: "))
            copy_trim(r->mode, sizeof r->mode, l + 6);
        else if (starts(l, "Node count: "))
            r->znodes = atoll(l + 12);
    }
}

/* mntr fills what srvr did not give (srvr may be refused while mntr is allowed). */
static void parse_mntr(struct row *r, char *text)
{
    double avg = -1;
    long long min = -1, max = -1;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(l, '\t');
        if (tab == NULL)
            continue;
        *tab = '\0';
        const char *k = l, *v = tab + 1;
        if (!strcmp(k, "zk_server_state") && r->mode[0] == '\0')
            copy_trim(r->mode, sizeof r->mode, v);
        else if (!strcmp(k, "zk_version") && r->version[0] == '\0')
            copy_trim(r->version, sizeof r->version, v);
        else if (!strcmp(k, "zk_avg_latency"))
            avg = atof(v);
        else if (!strcmp(k, "zk_max_latency"))
            max = atoll(v);
        else if (!strcmp(k, "zk_min_latency"))
            min = atoll(v);
        else if (!strcmp(k, "zk_num_alive_connections") && r->conns < 0)
            r->conns = atoll(v);
        else if (!strcmp(k, "zk_outstanding_requests") && r->outstanding < 0)
            r->outstanding = atoll(v);
        else if (!strcmp(k, "zk_last_zxid") && !r->have_zxid)
            r->have_zxid = parse_zxid(v, &r->zxid);
        else if (!strcmp(k, "zk_znode_count") && r->znodes < 0)
            r->znodes = atoll(v);
        else if (!strcmp(k, "zk_synced_followers"))
            r->synced_followers = atoll(v);
    }
    if (!r->have_latency && avg >= 0 && min >= 0 && max >= 0) {
        r->lat_avg = avg;
        r->lat_min = min;
        r->lat_max = max;
        r->have_latency = true;
    }
}

static bool is_any_address(const char *h)
{
    return !strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !strcmp(h, "[::]") || !*h;
}

/* "host:port..." or "[v6]:port...": the host (brackets dropped) and a pointer past it. */
static const char *split_host(const char *s, char *host, size_t cap)
{
    const char *end;
    if (*s == '[') {
        end = strchr(s, ']');
        if (end == NULL)
            return NULL;
        snprintf(host, cap, "%.*s", (int)(end - s - 1), s + 1);
        return end + 1;
    }
    end = strchr(s, ':');
    if (end == NULL)
        end = s + strlen(s);
    snprintf(host, cap, "%.*s", (int)(end - s), s);
    return end;
}

/* server.N=HOST:QUORUM:ELECTION[:ROLE][|HOST2...][;[CLIENTHOST:]CLIENTPORT] */
static bool parse_server_line(const char *line, struct cfg_member *m)
{
    memset(m, 0, sizeof *m);
    char *end;
    m->id = (int)strtol(line + 7, &end, 10);
    if (end == line + 7 || *end != '=')
        return false;
    char spec[1024];
    copy_trim(spec, sizeof spec, end + 1);
    char *client = strchr(spec, ';');
    if (client != NULL)
        *client++ = '\0';
    char *bar = strchr(spec, '|'); /* ZooKeeper 3.6+ multi-address: keep the first */
    if (bar != NULL)
        *bar = '\0';
    const char *rest = split_host(spec, m->peer_host, sizeof m->peer_host);
    snprintf(m->role, sizeof m->role, "participant");
    if (rest != NULL) {
        /* :quorum:election[:role] */
        int colons = 0;
        for (const char *p = rest; *p; p++) {
            if (*p == ':' && ++colons == 3) {
                copy_trim(m->role, sizeof m->role, p + 1);
                break;
            }
        }
    }
    if (client != NULL && *client) {
        char *colon = strrchr(client, ':');
        if (colon != NULL && (client[0] != '[' || colon > strchr(client, ']'))) {
            *colon = '\0';
            split_host(client, m->client_host, sizeof m->client_host);
            snprintf(m->client_port, sizeof m->client_port, "%s", colon + 1);
        } else {
            snprintf(m->client_port, sizeof m->client_port, "%s", client);
        }
        if (is_any_address(m->client_host))
            snprintf(m->client_host, sizeof m->client_host, "%s", m->peer_host);
    }
    return true;
}

static void parse_conf(struct row *r, char *text)
{
    bool in_membership = false;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        l[strcspn(l, "\r")] = '\0';
        if (starts(l, "membership:")) {
            in_membership = true;
            r->have_membership = true;
        } else if (starts(l, "serverId=")) {
            r->id = atoi(l + 9);
        } else if (in_membership && starts(l, "server.")) {
            if (r->n_cfg < MAX_CFG && parse_server_line(l, &r->cfg[r->n_cfg]))
                r->n_cfg++;
        } else if (in_membership && starts(l, "version=")) {
            copy_trim(r->cfg_version, sizeof r->cfg_version, l + 8);
        }
    }
}

static void *probe_member(void *arg)
{
    struct probe *p = arg;
    struct row *r = p->row;
    for (int w = 0; w < WORD_COUNT; w++) {
        enum word_state st;
        char *text = fetch(r, word_names[w], p->timeout_ms, &st);
        r->words[w] = st;
        if (st == WS_UNREACHABLE || (w == WORD_SRVR && st == WS_NO_ANSWER)) {
            for (int rest = w + 1; rest < WORD_COUNT; rest++)
                r->words[rest] = WS_UNREACHABLE;
            break;
        }
        if (st == WS_OK) {
            if (w == WORD_SRVR)
                parse_srvr(r, text);
            else if (w == WORD_MNTR)
                parse_mntr(r, text);
            else
                parse_conf(r, text);
        }
        free(text);
    }
    if (r->words[WORD_SRVR] == WS_UNREACHABLE || r->words[WORD_SRVR] == WS_NO_ANSWER)
        snprintf(r->mode, sizeof r->mode, "unreachable");
    else if (r->mode[0] == '\0') {
        bool not_serving = false, answered = false;
        for (int w = 0; w < WORD_COUNT; w++) {
            not_serving |= r->words[w] == WS_NOT_SERVING;
            answered |= r->words[w] == WS_OK || r->words[w] == WS_DENIED;
        }
        /* "not currently serving": no leader yet (or not any more) */
        snprintf(r->mode, sizeof r->mode, "%s",
                 not_serving ? "looking" : answered ? "unknown" : "unreachable");
    }
    return NULL;
}

static void row_init(struct row *r, const char *host, const char *port, int position)
{
    memset(r, 0, sizeof *r);
    snprintf(r->host, sizeof r->host, "%s", host);
    snprintf(r->port, sizeof r->port, "%s", port);
    if (strchr(host, ':'))
        snprintf(r->addr, sizeof r->addr, "[%s]:%s", host, port);
    else
        snprintf(r->addr, sizeof r->addr, "%s:%s", host, port);
    r->position = position;
    r->id = -1;
    r->conns = r->outstanding = r->znodes = r->synced_followers = -1;
}

static void probe_all(struct row *rows, int from, int to, int timeout_ms)
{
    struct probe probes[MAX_ROWS];
    for (int i = from; i < to; i++) {
        probes[i] = (struct probe){.row = &rows[i], .timeout_ms = timeout_ms};
        if (pthread_create(&probes[i].thread, NULL, probe_member, &probes[i]) != 0) {
            probe_member(&probes[i]);
            probes[i].thread = 0;
        }
    }
    for (int i = from; i < to; i++)
        if (probes[i].thread)
            pthread_join(probes[i].thread, NULL);
}

/* ---- putting it together ---------------------------------------------------------------------- */

/* Same endpoint? Names compare as written, then by their resolved addresses. */
static bool same_endpoint(const char *h1, const char *p1, const char *h2, const char *p2)
{
    if (strcmp(p1, p2) != 0)
        return false;
    if (!strcasecmp(h1, h2))
        return true;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *a = NULL, *b = NULL;
    bool same = false;
    if (getaddrinfo(h1, p1, &hints, &a) == 0 && getaddrinfo(h2, p2, &hints, &b) == 0) {
        for (struct addrinfo *x = a; x && !same; x = x->ai_next)
            for (struct addrinfo *y = b; y && !same; y = y->ai_next)
                same = x->ai_addrlen == y->ai_addrlen &&
                       memcmp(x->ai_addr, y->ai_addr, x->ai_addrlen) == 0;
    }
    if (a)
        freeaddrinfo(a);
    if (b)
        freeaddrinfo(b);
    return same;
}

static bool is_leading(const struct row *r)
{
    return !strcmp(r->mode, "leader") || !strcmp(r->mode, "standalone");
}

static bool is_serving_voter_mode(const struct row *r)
{
    return !strcmp(r->mode, "leader") || !strcmp(r->mode, "follower") ||
           !strcmp(r->mode, "standalone");
}

/* Compare configuration versions (hex, as in conf's version= line). */
static int cmp_cfg_version(const char *a, const char *b)
{
    unsigned long long x = strtoull(a, NULL, 16), y = strtoull(b, NULL, 16);
    return x < y ? -1 : x > y;
}

static int cmp_rows(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->id >= 0 && y->id >= 0 && x->id != y->id)
        return x->id < y->id ? -1 : 1;
    if ((x->id >= 0) != (y->id >= 0))
        return x->id >= 0 ? -1 : 1;
    int px = x->position ? x->position : 1000, py = y->position ? y->position : 1000;
    return px - py;
}

struct summary {
    const struct row *leader;
    int leaders;           /* members that say leader (more than one: a stale leader) */
    const struct row *membership; /* whose conf gave the voters, NULL: the listed hosts */
    int voters, serving, quorum, reachable;
    bool ok;
    char notes[8][320];
    int n_notes;
};

static void note(struct summary *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct summary *s, const char *fmt, ...)
{
    if (s->n_notes >= (int)(sizeof s->notes / sizeof s->notes[0]))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->notes[s->n_notes++], sizeof s->notes[0], fmt, ap);
    va_end(ap);
}

static const char *row_name(const struct row *r, char *buf, size_t cap)
{
    if (r->id >= 0)
        snprintf(buf, cap, "%d", r->id);
    else
        snprintf(buf, cap, "#%d", r->position);
    return buf;
}

static void summarize(struct row *rows, int n, struct summary *s)
{
    /* the leader: the one that says so; two that say so: the higher epoch is the current one */
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].mode, "unreachable") != 0)
            s->reachable++;
        if (!is_leading(&rows[i]))
            continue;
        s->leaders++;
        if (s->leader == NULL || (rows[i].have_zxid && s->leader->have_zxid &&
                                  rows[i].zxid >> 32 > s->leader->zxid >> 32))
            s->leader = &rows[i];
    }
    if (s->leaders > 1)
        note(s, "%d members say they lead; the one with the highest epoch is taken", s->leaders);

    /* lag behind the leader, in transactions of the same epoch */
    for (int i = 0; i < n; i++) {
        struct row *r = &rows[i];
        if (s->leader == NULL || !s->leader->have_zxid || !r->have_zxid)
            continue;
        if (r->zxid >> 32 != s->leader->zxid >> 32)
            continue; /* another epoch: "?" */
        long long lag = (long long)(s->leader->zxid & 0xffffffffu) - (long long)(r->zxid & 0xffffffffu);
        r->have_lag = true;
        r->lag = lag > 0 ? lag : 0; /* a member asked after a write can be ahead of our reading */
    }

    /* voters: the membership of the leader's conf, else the newest one seen */
    if (s->leader && s->leader->have_membership)
        s->membership = s->leader;
    for (int i = 0; i < n && !(s->leader && s->leader->have_membership); i++) {
        if (rows[i].have_membership &&
            (s->membership == NULL ||
             cmp_cfg_version(rows[i].cfg_version, s->membership->cfg_version) > 0))
            s->membership = &rows[i];
    }

    if (s->leader && !strcmp(s->leader->mode, "standalone") && s->membership == NULL) {
        s->voters = s->quorum = s->serving = 1;
    } else if (s->membership) {
        const struct row *m = s->membership;
        for (int c = 0; c < m->n_cfg; c++) {
            if (strcmp(m->cfg[c].role, "observer") == 0)
                continue;
            s->voters++;
            for (int i = 0; i < n; i++)
                if (rows[i].id == m->cfg[c].id && is_serving_voter_mode(&rows[i])) {
                    s->serving++;
                    break;
                }
        }
        s->quorum = s->voters / 2 + 1;
    } else {
        for (int i = 0; i < n; i++) {
            if (rows[i].position == 0 || !strcmp(rows[i].mode, "observer"))
                continue;
            s->voters++;
            s->serving += is_serving_voter_mode(&rows[i]);
        }
        s->quorum = s->voters / 2 + 1;
    }
    s->ok = s->leader != NULL && s->voters > 0 && s->serving >= s->quorum;

    for (int i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char name[32];
        row_name(r, name, sizeof name);
        if (!strcmp(r->mode, "unreachable"))
            continue;
        char denied[64] = "";
        for (int w = 0; w < WORD_COUNT; w++)
            if (r->words[w] == WS_DENIED)
                snprintf(denied + strlen(denied), sizeof denied - strlen(denied), "%s%s",
                         denied[0] ? ", " : "", word_names[w]);
        if (denied[0] == '\0')
            continue;
        const char *what = r->words[WORD_CONF] == WS_DENIED
                               ? " (no conf: identified by position, membership not known here)"
                               : "";
        note(s, "%s (%s): %s not in 4lw.commands.whitelist%s", name, r->addr, denied, what);
    }
    if (s->membership == NULL && !(s->leader && !strcmp(s->leader->mode, "standalone")))
        note(s, "no member answered conf with a membership: the voters are taken to be the "
                "listed hosts that are not observers");
}

/* ---- output ----------------------------------------------------------------------------------- */

static void fmt_zxid(const struct row *r, char *buf, size_t cap)
{
    if (r->have_zxid)
        snprintf(buf, cap, "0x%" PRIx64, r->zxid);
    else
        snprintf(buf, cap, "-");
}

static void fmt_ll(long long v, char *buf, size_t cap)
{
    if (v < 0)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%lld", v);
}

static void print_table(const struct row *rows, int n, const struct summary *s)
{
    const char *hdr[] = {"ID", "MODE", "ZXID", "LAG", "CONNS", "OUTSTANDING", "LAT AVG/MAX MS",
                         "ADDRESS"};
    enum { NCOL = 8 };
    static char cells[MAX_ROWS][NCOL][512]; /* the longest: address, note and error */
    size_t width[NCOL];
    for (int c = 0; c < NCOL; c++)
        width[c] = strlen(hdr[c]);
    for (int i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        bool down = !strcmp(r->mode, "unreachable");
        row_name(r, cells[i][0], sizeof cells[i][0]);
        snprintf(cells[i][1], sizeof cells[i][1], "%s", r->mode);
        fmt_zxid(r, cells[i][2], sizeof cells[i][2]);
        if (r->have_lag)
            snprintf(cells[i][3], sizeof cells[i][3], "%lld", r->lag);
        else
            snprintf(cells[i][3], sizeof cells[i][3], "%s", r->have_zxid && s->leader ? "?" : "-");
        fmt_ll(r->conns, cells[i][4], sizeof cells[i][4]);
        fmt_ll(r->outstanding, cells[i][5], sizeof cells[i][5]);
        if (r->have_latency)
            snprintf(cells[i][6], sizeof cells[i][6], "%.2f/%lld", r->lat_avg, r->lat_max);
        else
            snprintf(cells[i][6], sizeof cells[i][6], "-");
        snprintf(cells[i][7], sizeof cells[i][7], "%s%s%s%s", r->addr,
                 r->position == 0 ? " (from membership)" : "", down ? " (" : "",
                 down ? r->error : "");
        if (down)
            strncat(cells[i][7], ")", sizeof cells[i][7] - strlen(cells[i][7]) - 1);
        for (int c = 0; c < NCOL; c++)
            if (strlen(cells[i][c]) > width[c])
                width[c] = strlen(cells[i][c]);
    }
    for (int c = 0; c < NCOL - 1; c++)
        printf("%-*s  ", (int)width[c], hdr[c]);
    printf("%s\n", hdr[NCOL - 1]);
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < NCOL - 1; c++)
            printf("%-*s  ", (int)width[c], cells[i][c]);
        printf("%s\n", cells[i][NCOL - 1]);
    }
    char lead[32] = "none";
    if (s->leader)
        row_name(s->leader, lead, sizeof lead);
    bool standalone = s->leader && !strcmp(s->leader->mode, "standalone");
    printf("\nleader: %s; voters serving: %d of %d (quorum %d)%s: %s\n", lead, s->serving,
           s->voters, s->quorum,
           s->membership ? "" : standalone ? " [standalone]" : " [voters = listed hosts]",
           s->ok ? "OK" : s->reachable == 0 ? "UNREACHABLE" : "NO QUORUM");
    for (int i = 0; i < s->n_notes; i++)
        printf("note: %s\n", s->notes[i]);
}

static void json_str(const char *v)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_ll(long long v)
{
    if (v < 0)
        printf("null");
    else
        printf("%lld", v);
}

static void print_json(const struct row *rows, int n, const struct summary *s, const char *servers,
                       int code)
{
    printf("{\"servers\":");
    json_str(servers);
    printf(",\"ok\":%s,\"exit\":%d,\"leader\":", s->ok ? "true" : "false", code);
    if (s->leader && s->leader->id >= 0)
        printf("%d", s->leader->id);
    else if (s->leader)
        json_str(s->leader->addr);
    else
        printf("null");
    printf(",\"voters\":%d,\"voters_serving\":%d,\"quorum\":%d,\"voters_from\":", s->voters,
           s->serving, s->quorum);
    json_str(s->membership                                           ? "membership"
             : s->leader && !strcmp(s->leader->mode, "standalone") ? "standalone"
                                                                    : "listed hosts");
    printf(",\"config_version\":");
    if (s->membership && s->membership->cfg_version[0])
        json_str(s->membership->cfg_version);
    else
        printf("null");
    printf(",\"members\":[");
    for (int i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char zx[32];
        printf("%s\n{\"id\":", i ? "," : "");
        if (r->id >= 0)
            printf("%d", r->id);
        else
            printf("null");
        printf(",\"position\":");
        if (r->position)
            printf("%d", r->position);
        else
            printf("null");
        printf(",\"listed\":%s,\"address\":", r->position ? "true" : "false");
        json_str(r->addr);
        printf(",\"role\":");
        if (r->role[0])
            json_str(r->role);
        else
            printf("null");
        printf(",\"mode\":");
        json_str(r->mode);
        printf(",\"zxid\":");
        fmt_zxid(r, zx, sizeof zx);
        if (r->have_zxid) {
            json_str(zx);
            printf(",\"epoch\":%" PRIu64 ",\"counter\":%" PRIu64, r->zxid >> 32,
                   r->zxid & 0xffffffffu);
        } else {
            printf("null,\"epoch\":null,\"counter\":null");
        }
        printf(",\"lag\":");
        if (r->have_lag)
            printf("%lld", r->lag);
        else
            printf("null");
        printf(",\"connections\":");
        json_ll(r->conns);
        printf(",\"outstanding\":");
        json_ll(r->outstanding);
        if (r->have_latency)
            printf(",\"latency_min_ms\":%lld,\"latency_avg_ms\":%.4f,\"latency_max_ms\":%lld",
                   r->lat_min, r->lat_avg, r->lat_max);
        else
            printf(",\"latency_min_ms\":null,\"latency_avg_ms\":null,\"latency_max_ms\":null");
        printf(",\"znode_count\":");
        json_ll(r->znodes);
        printf(",\"synced_followers\":");
        json_ll(r->synced_followers);
        printf(",\"version\":");
        if (r->version[0])
            json_str(r->version);
        else
            printf("null");
        printf(",\"words\":{");
        for (int w = 0; w < WORD_COUNT; w++) {
            printf("%s\"%s\":", w ? "," : "", word_names[w]);
            json_str(word_state_names[r->words[w]]);
        }
        printf("},\"error\":");
        if (r->error[0] && !strcmp(r->mode, "unreachable"))
            json_str(r->error);
        else
            printf("null");
        printf("}");
    }
    printf("],\"notes\":[");
    for (int i = 0; i < s->n_notes; i++) {
        printf("%s", i ? "," : "");
        json_str(s->notes[i]);
    }
    printf("]}\n");
}

/* ---- the command ------------------------------------------------------------------------------ */

/* HOSTS (chroot dropped) into rows; -1 on a malformed entry. */
static int parse_hosts(const char *servers, struct row *rows, int *n)
{
    char *list = strdup(servers), *save = NULL;
    if (list == NULL)
        return -1;
    char *slash = strchr(list, '/');
    if (slash != NULL)
        *slash = '\0';
    int rc = 0;
    for (char *m = strtok_r(list, ",", &save); m != NULL; m = strtok_r(NULL, ",", &save)) {
        char host[256];
        const char *rest = split_host(m, host, sizeof host);
        if (rest == NULL || *rest != ':' || !rest[1] || !host[0] || *n >= MAX_ROWS) {
            fprintf(stderr, "zabctl status: bad member '%s' (want host:port)\n", m);
            rc = -1;
            break;
        }
        row_init(&rows[*n], host, rest + 1, *n + 1);
        (*n)++;
    }
    free(list);
    return *n == 0 ? -1 : rc;
}

int cmd_status(const struct zabctl_opts *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "+", longs, NULL)) != -1) {
        switch (ch) {
        case 'j': json = true; break;
        default:
            fprintf(stderr, "usage: zabctl status [--json]\n");
            return ZC_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "usage: zabctl status [--json]\n");
        return ZC_USAGE;
    }
    if (o->servers == NULL || *o->servers == '\0') {
        fprintf(stderr, "zabctl: no servers (use -s or ZABKEEPER_SERVERS)\n");
        return ZC_BADCONNECT;
    }
    static struct row rows[MAX_ROWS];
    int n = 0;
    if (parse_hosts(o->servers, rows, &n) != 0)
        return ZC_BADCONNECT;
    int listed = n;
    probe_all(rows, 0, n, o->connect_timeout_ms);

    /* the newest membership seen, to identify the members conf did not and find the missing */
    const struct row *mem = NULL;
    for (int i = 0; i < n; i++)
        if (rows[i].have_membership &&
            (mem == NULL || (is_leading(&rows[i]) && !is_leading(mem)) ||
             (is_leading(&rows[i]) == is_leading(mem) &&
              cmp_cfg_version(rows[i].cfg_version, mem->cfg_version) > 0)))
            mem = &rows[i];
    if (mem != NULL) {
        for (int i = 0; i < listed; i++) {
            if (rows[i].id >= 0)
                continue;
            for (int c = 0; c < mem->n_cfg; c++)
                if (mem->cfg[c].client_port[0] &&
                    same_endpoint(rows[i].host, rows[i].port, mem->cfg[c].client_host,
                                  mem->cfg[c].client_port)) {
                    rows[i].id = mem->cfg[c].id;
                    break;
                }
        }
        /* the members HOSTS left out, at their client addresses */
        static struct cfg_member cfg[MAX_CFG];
        int n_cfg = mem->n_cfg;
        memcpy(cfg, mem->cfg, sizeof cfg[0] * (size_t)n_cfg);
        for (int c = 0; c < n_cfg && n < MAX_ROWS; c++) {
            bool known = false;
            for (int i = 0; i < n && !known; i++)
                known = rows[i].id == cfg[c].id;
            if (known || !cfg[c].client_port[0])
                continue;
            row_init(&rows[n], cfg[c].client_host, cfg[c].client_port, 0);
            rows[n].id = cfg[c].id;
            n++;
        }
        probe_all(rows, listed, n, o->connect_timeout_ms);
        for (int i = 0; i < n; i++)
            for (int c = 0; c < mem->n_cfg; c++)
                if (rows[i].id == mem->cfg[c].id)
                    snprintf(rows[i].role, sizeof rows[i].role, "%s", mem->cfg[c].role);
    }
    qsort(rows, (size_t)n, sizeof rows[0], cmp_rows);

    struct summary s = {0};
    summarize(rows, n, &s);
    if (s.membership != NULL) {
        for (int c = 0; c < s.membership->n_cfg; c++) {
            const struct cfg_member *m = &s.membership->cfg[c];
            bool shown = false;
            for (int i = 0; i < n && !shown; i++)
                shown = rows[i].id == m->id;
            if (!shown)
                note(&s, "member %d (%s, %s) of the membership was not asked: %s", m->id,
                     m->peer_host, m->role,
                     m->client_port[0] ? "too many members" : "no client address in its line");
        }
    }
    int code = s.ok ? ZC_OK : s.reachable == 0 ? ZC_UNREACHABLE : ZC_NOQUORUM;
    if (json)
        print_json(rows, n, &s, o->servers, code);
    else
        print_table(rows, n, &s);
    return code;
}
