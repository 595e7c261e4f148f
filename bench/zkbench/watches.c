/* zkbench watches: --watchers sessions each set a data watch (getData with a watcher) on every
 * one of the first --nodes leaves of a tree made by `zkbench fill` (same --root and --fanout),
 * so nodes x watchers watches are set; then --at-peak runs (e.g. record RSS) and one more
 * session changes every watched node once (setData, --depth in flight): the write burst. The
 * result is the delivery time, from the first setData sent to the last notification received,
 * and the burst's own duration (its writes acknowledged). Prints
 *   RESULT kind=watches watches=W delivered=D set_seconds=... burst_seconds=... deliver_seconds=...
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define PATH_BYTES 96

static struct {
    atomic_long set_ok, set_err;  /* watch registrations answered */
    atomic_long outstanding;      /* requests in flight (bounded: the C client queues without limit) */
    atomic_long fired;            /* NodeDataChanged received */
    atomic_long writes_done, write_err;
    _Atomic uint64_t last_fired_ns, last_write_ns;
} wt;

static void on_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)path;
    (void)ctx;
    if (type == ZOO_CHANGED_EVENT) {
        atomic_fetch_add(&wt.fired, 1);
        atomic_store(&wt.last_fired_ns, now_ns());
    }
}

static void get_done(int rc, const char *v, int len, const struct Stat *st, const void *data)
{
    (void)v;
    (void)len;
    (void)st;
    (void)data;
    atomic_fetch_add(rc == ZOK ? &wt.set_ok : &wt.set_err, 1);
    atomic_fetch_sub(&wt.outstanding, 1);
}

static void set_done(int rc, const struct Stat *st, const void *data)
{
    (void)st;
    (void)data;
    atomic_fetch_add(rc == ZOK ? &wt.writes_done : &wt.write_err, 1);
    atomic_store(&wt.last_write_ns, now_ns());
    atomic_fetch_sub(&wt.outstanding, 1);
}

static void throttle(long max)
{
    while (atomic_load(&wt.outstanding) >= max)
        sleep_ms(1);
}

static bool wait_until(atomic_long *v, long want, uint64_t deadline)
{
    while (atomic_load(v) < want && now_ns() < deadline)
        sleep_ms(1);
    return atomic_load(v) >= want;
}

int cmd_watches(const struct opts *o)
{
    if (o->nodes < 1 || o->watchers < 1 || o->fanout < 1 || o->depth < 1) {
        fprintf(stderr, "zkbench watches: bad --nodes/--watchers/--fanout/--depth\n");
        return 2;
    }
    long total = (long)o->nodes * o->watchers;
    zhandle_t **zw = calloc((size_t)o->watchers, sizeof *zw);
    zhandle_t *writer = bench_connect(o->connect, 30000, o->timeout * 1000);
    int rc = 1;
    if (!zw || !writer)
        goto out;
    for (int i = 0; i < o->watchers; i++)
        if ((zw[i] = bench_connect(o->connect, 30000, o->timeout * 1000)) == NULL)
            goto out;
    char path[PATH_BYTES];
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)o->timeout * 1000000000ull;
    for (int n = 0; n < o->nodes; n++) {
        layout_path(path, sizeof path, o->root, o->fanout, n);
        for (int i = 0; i < o->watchers; i++) {
            throttle(1000L * o->watchers);
            atomic_fetch_add(&wt.outstanding, 1);
            if (zoo_awget(zw[i], path, on_watch, NULL, get_done, NULL) != ZOK) {
                atomic_fetch_sub(&wt.outstanding, 1);
                atomic_fetch_add(&wt.set_err, 1);
            }
        }
    }
    while (atomic_load(&wt.set_ok) + atomic_load(&wt.set_err) < total && now_ns() < deadline)
        sleep_ms(1);
    double set_secs = (double)(now_ns() - t0) / 1e9;
    if (atomic_load(&wt.set_err) != 0 || atomic_load(&wt.set_ok) != total) {
        fprintf(stderr, "zkbench watches: %ld of %ld watches set (%ld errors; did `zkbench fill` "
                        "make --nodes leaves under --root?)\n",
                atomic_load(&wt.set_ok), total, atomic_load(&wt.set_err));
        goto out;
    }
    at_peak(o);
    /* The burst: every watched node changes once. */
    uint64_t b0 = now_ns();
    deadline = b0 + (uint64_t)o->timeout * 1000000000ull;
    for (int n = 0; n < o->nodes; n++) {
        layout_path(path, sizeof path, o->root, o->fanout, n);
        throttle(o->depth);
        atomic_fetch_add(&wt.outstanding, 1);
        if (zoo_aset(writer, path, "w", 1, -1, set_done, NULL) != ZOK) {
            atomic_fetch_sub(&wt.outstanding, 1);
            atomic_fetch_add(&wt.write_err, 1);
        }
    }
    wait_until(&wt.writes_done, o->nodes, deadline);
    wait_until(&wt.fired, total, deadline);
    long fired = atomic_load(&wt.fired);
    uint64_t last = atomic_load(&wt.last_fired_ns), lw = atomic_load(&wt.last_write_ns);
    printf("RESULT kind=watches watches=%ld nodes=%d watchers=%d delivered=%ld set_seconds=%.2f "
           "burst_seconds=%.3f deliver_seconds=%.3f write_errors=%ld\n",
           total, o->nodes, o->watchers, fired, set_secs, lw > b0 ? (double)(lw - b0) / 1e9 : 0,
           last > b0 ? (double)(last - b0) / 1e9 : 0, atomic_load(&wt.write_err));
    fflush(stdout);
    rc = fired == total ? 0 : 1;
out:
    if (writer)
        zookeeper_close(writer);
    for (int i = 0; zw && i < o->watchers; i++)
        if (zw[i])
            zookeeper_close(zw[i]);
    free(zw);
    return rc;
}
