/* zkbench helpers: clocks, CPU use, session setup, option parsing (see common.h). */
#include "common.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

struct conn_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;
};

static void conn_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    struct conn_wait *w = ctx;
    if (type != ZOO_SESSION_EVENT || w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->state = state;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int wait_connected(struct conn_wait *w, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    while (w->state != ZOO_CONNECTED_STATE && rc == 0)
        rc = pthread_cond_timedwait(&w->cv, &w->mu, &dl);
    int ok = w->state == ZOO_CONNECTED_STATE;
    pthread_mutex_unlock(&w->mu);
    return ok ? 0 : -1;
}

/* The watcher context must outlive the handle: one static slot per session is simplest, and a
 * benchmark opens few sessions, so a small leak-free pool is used. */
#define MAX_SESSIONS 1024
static struct conn_wait waits[MAX_SESSIONS];
static int n_waits;
static pthread_mutex_t waits_mu = PTHREAD_MUTEX_INITIALIZER;

static struct conn_wait *new_wait(void)
{
    pthread_mutex_lock(&waits_mu);
    struct conn_wait *w = n_waits < MAX_SESSIONS ? &waits[n_waits++] : NULL;
    pthread_mutex_unlock(&waits_mu);
    if (w != NULL) {
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        w->state = 0;
    }
    return w;
}

void quiet_resolver(zhandle_t *zh)
{
    int rc = zoo_set_servers_resolution_delay(zh, -1);
    if (rc != ZOK)
        fprintf(stderr, "zkbench: zoo_set_servers_resolution_delay: %s\n", zerror(rc));
}

zhandle_t *bench_connect(const char *connect, int session_timeout_ms, int timeout_ms)
{
    struct conn_wait *w = new_wait();
    if (w == NULL) {
        fprintf(stderr, "zkbench: too many sessions (max %d)\n", MAX_SESSIONS);
        return NULL;
    }
    zhandle_t *zh = zookeeper_init(connect, conn_watcher, session_timeout_ms, NULL, w, 0);
    if (zh == NULL) {
        fprintf(stderr, "zkbench: zookeeper_init(%s): %s\n", connect, strerror(errno));
        return NULL;
    }
    quiet_resolver(zh);
    if (wait_connected(w, timeout_ms) != 0) {
        fprintf(stderr, "zkbench: no session with %s within %d ms\n", connect, timeout_ms);
        zookeeper_close(zh);
        return NULL;
    }
    return zh;
}

int ensure_node(zhandle_t *zh, const char *path)
{
    int rc = zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    if (rc == ZOK || rc == ZNODEEXISTS)
        return 0;
    fprintf(stderr, "zkbench: create %s: %s\n", path, zerror(rc));
    return -1;
}

static int parse_int(const char *name, const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 1000000000L) {
        fprintf(stderr, "zkbench: bad value for %s: '%s'\n", name, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int set_opt(struct opts *o, const char *name, const char *val)
{
    static const struct {
        const char *name;
        size_t off;
    } ints[] = {
        {"--clients", offsetof(struct opts, clients)}, {"--depth", offsetof(struct opts, depth)},
        {"--seconds", offsetof(struct opts, seconds)}, {"--warmup", offsetof(struct opts, warmup)},
        {"--size", offsetof(struct opts, size)},       {"--keys", offsetof(struct opts, keys)},
        {"--contenders", offsetof(struct opts, contenders)},
        {"--timeout", offsetof(struct opts, timeout)},
        {"--nodes", offsetof(struct opts, nodes)},     {"--fanout", offsetof(struct opts, fanout)},
        {"--batch", offsetof(struct opts, batch)},
        {"--sessions", offsetof(struct opts, sessions)},
        {"--watchers", offsetof(struct opts, watchers)}, {"--hold", offsetof(struct opts, hold)},
    };
    if (strcmp(name, "--connect") == 0)
        o->connect = val;
    else if (strcmp(name, "--op") == 0)
        o->op = val;
    else if (strcmp(name, "--kill-cmd") == 0)
        o->kill_cmd = val;
    else if (strcmp(name, "--root") == 0)
        o->root = val;
    else if (strcmp(name, "--at-peak") == 0)
        o->at_peak = val;
    else {
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
            if (strcmp(name, ints[i].name) == 0)
                return parse_int(name, val, (int *)((char *)o + ints[i].off));
        fprintf(stderr, "zkbench: unknown option %s\n", name);
        return -1;
    }
    return 0;
}

int parse_opts(int argc, char **argv, struct opts *o)
{
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc) {
            fprintf(stderr, "zkbench: option %s needs a value\n", argv[i]);
            return -1;
        }
        if (set_opt(o, argv[i], argv[i + 1]) != 0)
            return -1;
    }
    if (o->connect == NULL) {
        fprintf(stderr, "zkbench: --connect is required\n");
        return -1;
    }
    return 0;
}

void print_latency(const char *prefix, const struct hist *h)
{
    printf(" %sp50_ms=%.3f %sp99_ms=%.3f %sp999_ms=%.3f %smax_ms=%.3f", prefix,
           hist_quantile(h, 0.50) / 1000, prefix, hist_quantile(h, 0.99) / 1000, prefix,
           hist_quantile(h, 0.999) / 1000, prefix, (double)h->max_us / 1000);
}

void layout_path(char *buf, size_t len, const char *root, int fanout, int i)
{
    snprintf(buf, len, "%s/p%d/n%d", root, i / fanout, i % fanout);
}

void at_peak(const struct opts *o)
{
    if (o->at_peak != NULL) {
        fflush(stdout);
        int rc = system(o->at_peak);
        if (rc != 0)
            fprintf(stderr, "zkbench: --at-peak command exited with %d\n", rc);
    }
    sleep_ms((unsigned)o->hold * 1000u);
}
