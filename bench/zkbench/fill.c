/* zkbench fill: load a tree of --nodes znodes as fast as the ensemble takes them, and keep it
 * (nothing is deleted afterwards: the tree is what the caller measures next, e.g. RSS, a
 * snapshot, a catch-up). Layout: ROOT/p<k> parents (--fanout children each), leaves
 * ROOT/p<k>/n<j> for leaf i = k * fanout + j, with --size bytes of data. --clients sessions
 * keep --depth requests in flight each; with --batch B > 1 a request is a multi of B creates
 * (one txn for B znodes: far fewer txns, for tests that need a big tree quickly), with B = 1
 * plain creates (the load rate to compare between servers). With --batch 1 a node that already
 * exists counts as created, so such a fill can be repeated or extended (a multi that meets an
 * existing node fails whole). Prints
 *   RESULT kind=fill nodes=N ... nodes_per_s=R errors=E
 * and exits 1 if any create failed: with errors=0 every leaf of the layout is acknowledged.
 * A request lost with its connection is sent again once the client has reconnected (retries=),
 * so a fill survives a member restarting or an election under it. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define PATH_BYTES 96

struct fslot {
    zhandle_t *zh;
    uint64_t t0;
    int unit, count; /* what this request creates: parents [unit] or leaves of batch `unit` */
    int tries;       /* sends of this unit that were lost with the connection */
    bool leaves;
    zoo_op_t *ops;
    zoo_op_result_t *results;
    char (*paths)[PATH_BYTES];
    char (*made)[PATH_BYTES];
};

static struct {
    const char *root;
    char *data;
    int size, nodes, fanout, batch, parents, batches;
    atomic_int next;       /* next unit of the current pass */
    atomic_int inflight;
    atomic_ullong created, errors, retries;
    bool leaves;           /* the pass: parents first, then leaves */
    struct hist h;         /* request latency; completions run on one thread per session */
    atomic_flag hist_lock;
} fl;

static void fissue(struct fslot *s);
static void fsend(struct fslot *s);

#define MAX_TRIES 100 /* a unit lost with its connection is sent again, 20 ms apart */

static bool retryable(int rc)
{
    return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZINVALIDSTATE;
}

/* A request lost with the connection (the client reconnects by itself, maybe to another
 * member) is sent again; whether the lost one was applied shows as NodeExists. */
static bool retry(struct fslot *s, int rc)
{
    if (!retryable(rc) || s->tries >= MAX_TRIES)
        return false;
    s->tries++;
    atomic_fetch_add(&fl.retries, 1);
    sleep_ms(20);
    fsend(s);
    return true;
}

static void fdone(struct fslot *s, int rc, int ok)
{
    if (ok < s->count && retry(s, rc))
        return;
    uint64_t us = (now_ns() - s->t0) / 1000;
    while (atomic_flag_test_and_set(&fl.hist_lock))
        ;
    hist_add(&fl.h, us);
    atomic_flag_clear(&fl.hist_lock);
    atomic_fetch_add(&fl.created, (unsigned long long)ok);
    if (ok < s->count) {
        unsigned long long e = atomic_fetch_add(&fl.errors, (unsigned long long)(s->count - ok));
        if (e == 0)
            fprintf(stderr, "zkbench fill: %s: %s\n", s->paths[0], zerror(rc));
    }
    fissue(s);
}

static void create_done(int rc, const char *value, const void *data)
{
    (void)value;
    fdone((struct fslot *)data, rc, rc == ZOK || rc == ZNODEEXISTS);
}

static void multi_done(int rc, const void *data)
{
    struct fslot *s = (struct fslot *)data;
    /* atomic: all of the batch or none of it; a resent batch whose first node exists was
     * applied by the send that was lost (nothing else creates these paths) */
    bool applied = rc == ZOK || (rc == ZNODEEXISTS && s->tries > 0 &&
                                 s->results[0].err == ZNODEEXISTS);
    fdone(s, rc, applied ? s->count : 0);
}

static void fissue(struct fslot *s)
{
    int u = atomic_fetch_add(&fl.next, 1);
    int limit = fl.leaves ? fl.batches : fl.parents;
    if (u >= limit) {
        atomic_fetch_sub(&fl.inflight, 1);
        return;
    }
    s->unit = u;
    s->leaves = fl.leaves;
    s->tries = 0;
    fsend(s);
}

/* Send the slot's unit (again, after a loss). */
static void fsend(struct fslot *s)
{
    int rc, u = s->unit;
    s->t0 = now_ns();
    if (!s->leaves) {
        s->count = 1;
        snprintf(s->paths[0], PATH_BYTES, "%s/p%d", fl.root, u);
        rc = zoo_acreate(s->zh, s->paths[0], NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, create_done, s);
    } else {
        int first = u * fl.batch;
        s->count = fl.nodes - first < fl.batch ? fl.nodes - first : fl.batch;
        for (int i = 0; i < s->count; i++)
            layout_path(s->paths[i], PATH_BYTES, fl.root, fl.fanout, first + i);
        if (fl.batch == 1) {
            rc = zoo_acreate(s->zh, s->paths[0], fl.data, fl.size, &ZOO_OPEN_ACL_UNSAFE, 0,
                             create_done, s);
        } else {
            for (int i = 0; i < s->count; i++)
                zoo_create_op_init(&s->ops[i], s->paths[i], fl.data, fl.size,
                                   &ZOO_OPEN_ACL_UNSAFE, 0, s->made[i], PATH_BYTES);
            rc = zoo_amulti(s->zh, s->count, s->ops, s->results, multi_done, s);
        }
    }
    if (rc != ZOK && !retry(s, rc)) { /* not sent: count it and retire the slot */
        atomic_fetch_add(&fl.errors, (unsigned long long)s->count);
        atomic_fetch_sub(&fl.inflight, 1);
    }
}

/* One pass over all units with every slot; 0, or -1 if requests are still out after 10 min. */
static int fpass(struct fslot *slots, int n, bool leaves)
{
    fl.leaves = leaves;
    atomic_store(&fl.next, 0);
    atomic_store(&fl.inflight, n);
    for (int i = 0; i < n; i++)
        fissue(&slots[i]);
    for (int t = 0; t < 600000 && atomic_load(&fl.inflight) > 0; t += 2)
        sleep_ms(2);
    return atomic_load(&fl.inflight) == 0 ? 0 : -1;
}

/* Create every ancestor of path (and path itself). */
static int ensure_path(zhandle_t *zh, const char *path)
{
    char buf[PATH_BYTES];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (ensure_node(zh, buf) != 0)
                return -1;
            if (c == '\0')
                return 0;
            *p = c;
        }
    }
}

int cmd_fill(const struct opts *o)
{
    if (o->nodes < 1 || o->fanout < 1 || o->batch < 1 || o->batch > 1000 || o->clients < 1 ||
        o->depth < 1 || o->size < 0 || strlen(o->root) > 40 || o->root[0] != '/') {
        fprintf(stderr, "zkbench fill: bad --nodes/--fanout/--batch/--clients/--depth/--size/"
                        "--root\n");
        return 2;
    }
    fl.root = o->root;
    fl.size = o->size;
    fl.nodes = o->nodes;
    fl.fanout = o->fanout;
    fl.batch = o->batch;
    fl.parents = (o->nodes + o->fanout - 1) / o->fanout;
    fl.batches = (o->nodes + o->batch - 1) / o->batch;
    fl.data = calloc(1, (size_t)o->size + 1);
    int nslots = o->clients * o->depth;
    struct fslot *slots = calloc((size_t)nslots, sizeof *slots);
    zhandle_t **zhs = calloc((size_t)o->clients, sizeof *zhs);
    if (!fl.data || !slots || !zhs)
        return 1;
    memset(fl.data, 'v', (size_t)o->size);
    int rc = 1;
    for (int i = 0; i < o->clients; i++)
        if ((zhs[i] = bench_connect(o->connect, 30000, o->timeout * 1000)) == NULL)
            goto out;
    for (int i = 0; i < nslots; i++) {
        slots[i].zh = zhs[i % o->clients];
        slots[i].ops = calloc((size_t)o->batch, sizeof *slots[i].ops);
        slots[i].results = calloc((size_t)o->batch, sizeof *slots[i].results);
        slots[i].paths = calloc((size_t)o->batch, PATH_BYTES);
        slots[i].made = calloc((size_t)o->batch, PATH_BYTES);
        if (!slots[i].ops || !slots[i].results || !slots[i].paths || !slots[i].made)
            goto out;
    }
    if (ensure_path(zhs[0], o->root) != 0)
        goto out;
    uint64_t t0 = now_ns();
    if (fpass(slots, nslots, false) != 0 || atomic_load(&fl.errors) != 0)
        goto report;
    hist_reset(&fl.h);
    uint64_t t1 = now_ns();
    atomic_store(&fl.created, 0);
    if (fpass(slots, nslots, true) != 0)
        goto report;
    double secs = (double)(now_ns() - t1) / 1e9;
    printf("RESULT kind=fill nodes=%d parents=%d fanout=%d batch=%d size=%d clients=%d depth=%d "
           "seconds=%.2f parents_seconds=%.2f nodes_per_s=%.0f",
           o->nodes, fl.parents, o->fanout, o->batch, o->size, o->clients, o->depth, secs,
           (double)(t1 - t0) / 1e9, (double)atomic_load(&fl.created) / (secs > 0 ? secs : 1e-9));
    print_latency("", &fl.h);
    printf(" retries=%llu errors=%llu\n", (unsigned long long)atomic_load(&fl.retries),
           (unsigned long long)atomic_load(&fl.errors));
    fflush(stdout);
    rc = atomic_load(&fl.errors) == 0 ? 0 : 1;
    goto out;
report:
    printf("RESULT kind=fill nodes=%d errors=%llu unfinished=%d\n", o->nodes,
           (unsigned long long)atomic_load(&fl.errors), atomic_load(&fl.inflight));
    fflush(stdout);
out:
    for (int i = 0; i < o->clients; i++)
        if (zhs[i])
            zookeeper_close(zhs[i]);
    for (int i = 0; i < nslots; i++) {
        free(slots[i].ops);
        free(slots[i].results);
        free(slots[i].paths);
        free(slots[i].made);
    }
    free(slots);
    free(zhs);
    free(fl.data);
    return rc;
}
