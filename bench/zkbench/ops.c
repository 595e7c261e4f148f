/* zkbench ops: throughput and latency of create, setData, getData or exists with --clients
 * sessions, each keeping --depth requests in flight through the asynchronous API. Every request
 * slot is allocated once; a completion records its latency and issues the slot's next request
 * (on that session's completion thread), so the generator itself allocates nothing per request.
 * Keys for set/get/exists are created before, and the nodes created by a run are deleted after
 * it (that delete pass is reported too, as op=delete). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

enum kind { K_CREATE, K_SET, K_GET, K_EXISTS, K_PREFILL, K_DEL_KEYS, K_DEL_CREATED };

struct client;

struct slot {
    struct client *c;
    uint64_t t0;
    char path[128];
};

struct client {
    zhandle_t *zh;
    int id;
    uint64_t seq;      /* requests issued (names created nodes c<id>-<seq>) */
    uint64_t del_seq;  /* created nodes deleted so far */
    uint64_t done;     /* successful completions inside the window */
    uint64_t errors;
    struct slot *slots;
    struct hist h;
};

static struct {
    enum kind kind;
    char base[96];
    char data[4096];
    int size;
    int keys;
    atomic_int stop;
    atomic_int inflight;
    atomic_int key_next;
    _Atomic uint64_t rec_start, rec_end;
} run;

static void issue(struct slot *s);

static void finish(struct slot *s, int rc)
{
    uint64_t t1 = now_ns();
    struct client *c = s->c;
    if (rc != ZOK && !(rc == ZNONODE && run.kind >= K_DEL_KEYS))
        c->errors++;
    else if (s->t0 >= atomic_load(&run.rec_start) && t1 <= atomic_load(&run.rec_end)) {
        hist_add(&c->h, (t1 - s->t0) / 1000);
        c->done++;
    }
    if (atomic_load(&run.stop))
        atomic_fetch_sub(&run.inflight, 1);
    else
        issue(s);
}

static void string_done(int rc, const char *value, const void *data)
{
    (void)value;
    finish((struct slot *)data, rc);
}

static void stat_done(int rc, const struct Stat *st, const void *data)
{
    (void)st;
    finish((struct slot *)data, rc);
}

static void data_done(int rc, const char *value, int len, const struct Stat *st, const void *data)
{
    (void)value;
    (void)len;
    (void)st;
    finish((struct slot *)data, rc);
}

static void void_done(int rc, const void *data) { finish((struct slot *)data, rc); }

/* Fill s->path for the next request; false when the pass (prefill / delete) is complete. */
static bool next_path(struct slot *s)
{
    struct client *c = s->c;
    int k;
    switch (run.kind) {
    case K_CREATE:
        snprintf(s->path, sizeof s->path, "%s/c%d-%llu", run.base, c->id,
                 (unsigned long long)c->seq);
        break;
    case K_PREFILL:
    case K_DEL_KEYS:
        k = atomic_fetch_add(&run.key_next, 1);
        if (k >= run.keys)
            return false;
        snprintf(s->path, sizeof s->path, "%s/k%d", run.base, k);
        break;
    case K_DEL_CREATED:
        if (c->del_seq >= c->seq)
            return false;
        snprintf(s->path, sizeof s->path, "%s/c%d-%llu", run.base, c->id,
                 (unsigned long long)c->del_seq++);
        break;
    default:
        snprintf(s->path, sizeof s->path, "%s/k%llu", run.base,
                 (unsigned long long)((c->seq * 7 + (uint64_t)c->id * 131) % (uint64_t)run.keys));
        break;
    }
    return true;
}

static int send_request(struct slot *s)
{
    zhandle_t *zh = s->c->zh;
    switch (run.kind) {
    case K_CREATE:
    case K_PREFILL:
        return zoo_acreate(zh, s->path, run.data, run.size, &ZOO_OPEN_ACL_UNSAFE, 0, string_done,
                           s);
    case K_SET:
        return zoo_aset(zh, s->path, run.data, run.size, -1, stat_done, s);
    case K_GET:
        return zoo_aget(zh, s->path, 0, data_done, s);
    case K_EXISTS:
        return zoo_aexists(zh, s->path, 0, stat_done, s);
    default:
        return zoo_adelete(zh, s->path, -1, void_done, s);
    }
}

static void issue(struct slot *s)
{
    if (!next_path(s)) {
        atomic_fetch_sub(&run.inflight, 1);
        return;
    }
    s->t0 = now_ns();
    s->c->seq += run.kind != K_DEL_CREATED;
    int rc = send_request(s);
    if (rc != ZOK) { /* not sent (e.g. connection loss): count it and retire the slot */
        s->c->errors++;
        atomic_fetch_sub(&run.inflight, 1);
    }
}

static void sleep_until(uint64_t t)
{
    while (now_ns() < t)
        sleep_ms(2);
}

/* Start every slot of every client with kind k. When timed, stop issuing at run.rec_end and
 * store the CPU this process used inside the window in *cpu. Then wait (up to 60 s) until every
 * slot has retired. 0, or -1 when requests are still outstanding. */
static int run_pass(struct client *cl, int nclients, int depth, enum kind k, bool timed,
                    double *cpu)
{
    run.kind = k;
    atomic_store(&run.stop, 0);
    atomic_store(&run.key_next, 0);
    atomic_store(&run.inflight, nclients * depth);
    for (int i = 0; i < nclients; i++)
        for (int j = 0; j < depth; j++)
            issue(&cl[i].slots[j]);
    if (timed) {
        sleep_until(atomic_load(&run.rec_start));
        double cpu0 = cpu_seconds();
        sleep_until(atomic_load(&run.rec_end));
        *cpu = cpu_seconds() - cpu0;
        atomic_store(&run.stop, 1);
    }
    for (int t = 0; t < 60000 && atomic_load(&run.inflight) > 0; t += 2)
        sleep_ms(2);
    atomic_store(&run.stop, 1);
    return atomic_load(&run.inflight) == 0 ? 0 : -1;
}

static enum kind parse_kind(const char *op)
{
    if (op == NULL || strcmp(op, "create") == 0)
        return K_CREATE;
    if (strcmp(op, "set") == 0)
        return K_SET;
    if (strcmp(op, "get") == 0)
        return K_GET;
    if (strcmp(op, "exists") == 0)
        return K_EXISTS;
    return (enum kind)-1;
}

static int open_clients(const struct opts *o, struct client *cl)
{
    for (int i = 0; i < o->clients; i++) {
        cl[i].id = i;
        cl[i].slots = calloc((size_t)o->depth, sizeof *cl[i].slots);
        if (cl[i].slots == NULL)
            return -1;
        for (int j = 0; j < o->depth; j++)
            cl[i].slots[j].c = &cl[i];
        cl[i].zh = bench_connect(o->connect, 30000, o->timeout * 1000);
        if (cl[i].zh == NULL)
            return -1;
    }
    return 0;
}

static void close_clients(struct client *cl, int n)
{
    for (int i = 0; i < n; i++) {
        if (cl[i].zh != NULL)
            zookeeper_close(cl[i].zh);
        free(cl[i].slots);
    }
}

static void report(const struct opts *o, const char *op, struct client *cl, double secs,
                   double cpu)
{
    static struct hist all;
    uint64_t done = 0, errors = 0;
    hist_reset(&all);
    for (int i = 0; i < o->clients; i++) {
        hist_merge(&all, &cl[i].h);
        done += cl[i].done;
        errors += cl[i].errors;
    }
    printf("RESULT kind=ops op=%s clients=%d depth=%d size=%d seconds=%.2f ops=%llu "
           "ops_per_s=%.0f",
           op, o->clients, o->depth, o->size, secs, (unsigned long long)done,
           (double)done / secs);
    print_latency("", &all);
    printf(" errors=%llu client_cpu_pct=%.0f\n", (unsigned long long)errors, 100 * cpu / secs);
    fflush(stdout);
}

static void reset_counts(struct client *cl, int n)
{
    for (int i = 0; i < n; i++) {
        cl[i].done = 0;
        cl[i].errors = 0;
        hist_reset(&cl[i].h);
    }
}

/* The measured pass: warmup, then the window; prints the RESULT line. */
static int measure(const struct opts *o, struct client *cl, enum kind k)
{
    uint64_t t = now_ns() + (uint64_t)o->warmup * 1000000000ull;
    atomic_store(&run.rec_start, t);
    atomic_store(&run.rec_end, t + (uint64_t)o->seconds * 1000000000ull);
    reset_counts(cl, o->clients);
    double cpu = 0;
    int rc = run_pass(cl, o->clients, o->depth, k, true, &cpu);
    report(o, o->op ? o->op : "create", cl, (double)o->seconds, cpu);
    return rc;
}

/* Delete what the run made (timed, reported as op=delete) and the run's parent node. */
static void cleanup(const struct opts *o, struct client *cl, enum kind k)
{
    atomic_store(&run.rec_start, 0);
    atomic_store(&run.rec_end, UINT64_MAX);
    reset_counts(cl, o->clients);
    uint64_t t0 = now_ns();
    int rc = run_pass(cl, k == K_CREATE ? o->clients : 1, o->depth,
                      k == K_CREATE ? K_DEL_CREATED : K_DEL_KEYS, false, NULL);
    double secs = (double)(now_ns() - t0) / 1e9;
    if (k == K_CREATE && rc == 0)
        report(o, "delete", cl, secs > 0 ? secs : 1e-9, 0);
    int zrc = zoo_delete(cl[0].zh, run.base, -1);
    if (zrc != ZOK)
        fprintf(stderr, "zkbench: delete %s: %s\n", run.base, zerror(zrc));
}

int cmd_ops(const struct opts *o)
{
    enum kind k = parse_kind(o->op);
    if ((int)k < 0 || o->clients < 1 || o->depth < 1 || o->size > (int)sizeof run.data ||
        o->keys < 1) {
        fprintf(stderr, "zkbench ops: bad --op/--clients/--depth/--size/--keys\n");
        return 2;
    }
    memset(run.data, 'x', sizeof run.data);
    run.size = o->size;
    run.keys = o->keys;
    snprintf(run.base, sizeof run.base, "%s/r%d-%llu", o->root, (int)getpid(),
             (unsigned long long)(now_ns() / 1000000));
    struct client *cl = calloc((size_t)o->clients, sizeof *cl);
    if (cl == NULL || open_clients(o, cl) != 0) {
        if (cl != NULL)
            close_clients(cl, o->clients);
        free(cl);
        return 1;
    }
    int rc = 1;
    if (ensure_node(cl[0].zh, o->root) == 0 && ensure_node(cl[0].zh, run.base) == 0) {
        atomic_store(&run.rec_end, 0);
        if (k == K_CREATE || run_pass(cl, 1, o->depth, K_PREFILL, false, NULL) == 0)
            rc = measure(o, cl, k);
        cleanup(o, cl, k);
    }
    close_clients(cl, o->clients);
    free(cl);
    return rc == 0 ? 0 : 1;
}
