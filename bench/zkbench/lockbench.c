/* zkbench lock: --contenders threads, each with its own session (a zkl_client of
 * src/lockrecipe) and a zkl_mutex on one path, acquire and release in a loop with no work in
 * between. Reports acquire/release cycles per second and the hand-off latency: from the moment a
 * holder calls release to the moment the next acquire returns (with one contender that is the
 * same thread re-acquiring, i.e. a full release + acquire round). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "zklock.h"

struct contender {
    pthread_t thread;
    zkl_client *client;
    zkl_lock *lock;
    uint64_t cycles; /* acquisitions inside the window */
    uint64_t errors;
    struct hist h;
};

static struct {
    _Atomic uint64_t released_at; /* when the last holder called release; 0 = nobody yet */
    _Atomic uint64_t rec_start, rec_end;
    atomic_int stop;
} lk;

static void on_acquired(struct contender *c)
{
    uint64_t t = now_ns(), rel = atomic_load(&lk.released_at);
    if (t < atomic_load(&lk.rec_start) || t > atomic_load(&lk.rec_end))
        return;
    c->cycles++;
    if (rel != 0 && rel >= atomic_load(&lk.rec_start))
        hist_add(&c->h, (t - rel) / 1000);
}

static void *contend(void *arg)
{
    struct contender *c = arg;
    while (!atomic_load(&lk.stop)) {
        int rc = zkl_lock_acquire(c->lock, 5000, NULL);
        if (rc == ZKL_ETIMEOUT)
            continue;
        if (rc != ZKL_OK) {
            c->errors++;
            sleep_ms(10);
            continue;
        }
        on_acquired(c);
        atomic_store(&lk.released_at, now_ns());
        if (zkl_lock_release(c->lock) != ZKL_OK)
            c->errors++;
    }
    return NULL;
}

static int open_contenders(const struct opts *o, struct contender *cs, const char *path)
{
    for (int i = 0; i < o->contenders; i++) {
        int st = 0;
        cs[i].client = zkl_client_new(o->connect, 30000, o->timeout * 1000, &st);
        if (cs[i].client == NULL) {
            fprintf(stderr, "zkbench lock: session %d: %s\n", i, zkl_strerror(st));
            return -1;
        }
        quiet_resolver(zkl_client_handle(cs[i].client));
        cs[i].lock = zkl_mutex_new(cs[i].client, path);
        if (cs[i].lock == NULL) {
            fprintf(stderr, "zkbench lock: zkl_mutex_new failed\n");
            return -1;
        }
    }
    return 0;
}

static void close_contenders(struct contender *cs, int n)
{
    for (int i = 0; i < n; i++) {
        if (cs[i].lock != NULL)
            zkl_lock_free(cs[i].lock);
        if (cs[i].client != NULL)
            zkl_client_free(cs[i].client);
    }
}

static void report_lock(const struct opts *o, struct contender *cs, double cpu)
{
    static struct hist all;
    uint64_t cycles = 0, errors = 0;
    hist_reset(&all);
    for (int i = 0; i < o->contenders; i++) {
        hist_merge(&all, &cs[i].h);
        cycles += cs[i].cycles;
        errors += cs[i].errors;
    }
    printf("RESULT kind=lock contenders=%d seconds=%d cycles=%llu cycles_per_s=%.1f",
           o->contenders, o->seconds, (unsigned long long)cycles,
           (double)cycles / o->seconds);
    print_latency("handoff_", &all);
    printf(" errors=%llu client_cpu_pct=%.0f\n", (unsigned long long)errors,
           100 * cpu / o->seconds);
    fflush(stdout);
}

/* Start the threads, let them run warmup + window, stop them and join. */
static int run_contenders(const struct opts *o, struct contender *cs, double *cpu)
{
    uint64_t t = now_ns() + (uint64_t)o->warmup * 1000000000ull;
    atomic_store(&lk.rec_start, t);
    atomic_store(&lk.rec_end, t + (uint64_t)o->seconds * 1000000000ull);
    int started = 0, rc = 0;
    for (; started < o->contenders; started++)
        if (pthread_create(&cs[started].thread, NULL, contend, &cs[started]) != 0) {
            fprintf(stderr, "zkbench lock: pthread_create failed\n");
            rc = -1;
            break;
        }
    while (now_ns() < atomic_load(&lk.rec_start))
        sleep_ms(2);
    double cpu0 = cpu_seconds();
    while (now_ns() < atomic_load(&lk.rec_end))
        sleep_ms(2);
    *cpu = cpu_seconds() - cpu0;
    atomic_store(&lk.stop, 1);
    for (int i = 0; i < started; i++)
        pthread_join(cs[i].thread, NULL);
    return rc;
}

int cmd_lock(const struct opts *o)
{
    if (o->contenders < 1) {
        fprintf(stderr, "zkbench lock: --contenders must be >= 1\n");
        return 2;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/lock-%d-%llu", o->root, (int)getpid(),
             (unsigned long long)(now_ns() / 1000000));
    struct contender *cs = calloc((size_t)o->contenders, sizeof *cs);
    if (cs == NULL)
        return 1;
    int rc = open_contenders(o, cs, path);
    double cpu = 0;
    if (rc == 0)
        rc = run_contenders(o, cs, &cpu);
    if (rc == 0)
        report_lock(o, cs, cpu);
    if (cs[0].client != NULL) {
        int zrc = zoo_delete(zkl_client_handle(cs[0].client), path, -1);
        if (zrc != ZOK)
            fprintf(stderr, "zkbench lock: delete %s: %s\n", path, zerror(zrc));
    }
    close_contenders(cs, o->contenders);
    free(cs);
    return rc == 0 ? 0 : 1;
}
