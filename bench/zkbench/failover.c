/* zkbench failover: --clients sessions stream setData (synchronously, one in flight each) to one
 * node; after --warmup seconds the --kill-cmd runs (e.g. "kill -KILL <leader pid>"), and the
 * result is the time from just before the kill command starts to the first write acknowledged
 * with ZOK among those sent after the kill command has *returned* (the member is dead by then, so
 * the old leader cannot have acknowledged it; a kill command that first looks the leader up
 * takes tens of ms, during which the old leader still answers). Gives up after --timeout s. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

static struct {
    const char *path;
    _Atomic uint64_t kill_at;   /* 0 until the kill command has returned */
    _Atomic uint64_t first_ack; /* 0 until the first post-kill write is acknowledged */
    _Atomic uint64_t last_pre_ack;
    atomic_ulong writes, errors;
    atomic_int stop;
} fo;

static void *writer(void *arg)
{
    zhandle_t *zh = arg;
    static const char data[16] = "failover";
    while (!atomic_load(&fo.stop)) {
        uint64_t t0 = now_ns();
        uint64_t kill_at = atomic_load(&fo.kill_at);
        int rc = zoo_set(zh, fo.path, data, (int)sizeof data, -1);
        uint64_t t1 = now_ns();
        if (rc != ZOK) {
            atomic_fetch_add(&fo.errors, 1);
            sleep_ms(1);
            continue;
        }
        atomic_fetch_add(&fo.writes, 1);
        if (kill_at == 0)
            atomic_store(&fo.last_pre_ack, t1);
        else if (t0 >= kill_at) {
            uint64_t zero = 0;
            atomic_compare_exchange_strong(&fo.first_ack, &zero, t1);
        }
    }
    return NULL;
}

static int start_writers(const struct opts *o, zhandle_t **zhs, pthread_t *th, int *started)
{
    for (int i = 0; i < o->clients; i++) {
        zhs[i] = bench_connect(o->connect, 10000, o->timeout * 1000);
        if (zhs[i] == NULL)
            return -1;
    }
    if (ensure_node(zhs[0], o->root) != 0 || ensure_node(zhs[0], fo.path) != 0)
        return -1;
    for (; *started < o->clients; (*started)++)
        if (pthread_create(&th[*started], NULL, writer, zhs[*started]) != 0)
            return -1;
    return 0;
}

/* Run the kill command and wait for the first acknowledged write after it. */
static int kill_and_wait(const struct opts *o)
{
    sleep_ms((unsigned)o->warmup * 1000);
    unsigned long before = atomic_load(&fo.writes);
    if (before == 0) {
        fprintf(stderr, "zkbench failover: no write succeeded before the kill\n");
        return -1;
    }
    uint64_t t = now_ns();
    int rc = system(o->kill_cmd);
    if (rc != 0)
        fprintf(stderr, "zkbench failover: kill command exited with %d\n", rc);
    atomic_store(&fo.kill_at, now_ns()); /* only writes sent from now on count */
    uint64_t deadline = t + (uint64_t)o->timeout * 1000000000ull;
    while (atomic_load(&fo.first_ack) == 0 && now_ns() < deadline)
        sleep_ms(1);
    uint64_t ack = atomic_load(&fo.first_ack);
    if (ack == 0) {
        fprintf(stderr, "zkbench failover: no write acknowledged within %d s\n", o->timeout);
        return -1;
    }
    printf("RESULT kind=failover clients=%d failover_s=%.3f gap_s=%.3f writes=%lu errors=%lu\n",
           o->clients, (double)(ack - t) / 1e9,
           (double)(ack - atomic_load(&fo.last_pre_ack)) / 1e9, atomic_load(&fo.writes),
           atomic_load(&fo.errors));
    fflush(stdout);
    return 0;
}

int cmd_failover(const struct opts *o)
{
    if (o->kill_cmd == NULL || o->clients < 1) {
        fprintf(stderr, "zkbench failover: --kill-cmd is required, --clients >= 1\n");
        return 2;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/failover", o->root);
    fo.path = path;
    zhandle_t **zhs = calloc((size_t)o->clients, sizeof *zhs);
    pthread_t *th = calloc((size_t)o->clients, sizeof *th);
    int started = 0, rc = -1;
    if (zhs != NULL && th != NULL && start_writers(o, zhs, th, &started) == 0)
        rc = kill_and_wait(o);
    atomic_store(&fo.stop, 1);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; zhs != NULL && i < o->clients; i++)
        if (zhs[i] != NULL)
            zookeeper_close(zhs[i]);
    free(zhs);
    free(th);
    return rc == 0 ? 0 : 1;
}
