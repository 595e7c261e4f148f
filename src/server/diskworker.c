/* Disk worker thread (see diskworker.h). */
#include "server/diskworker.h"

#include <errno.h>
#include <stdio.h>
#include <event2/event.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"

struct diskworker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int efd;
    struct event *ev;
    void (*on_done)(void *ctx);
    void *ctx;
    char name[32];
    /* guarded by mu */
    bool busy;     /* a job is submitted and not finished */
    bool finished; /* a result waits to be collected */
    bool stop;
    int (*job)(void *arg);
    void *arg;
    int rc;
    uint64_t us;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *run(void *p)
{
    struct diskworker *w = p;
    ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
    for (;;) {
        while (!w->stop && (!w->busy || w->finished))
            ZK_ASSERT(pthread_cond_wait(&w->cond, &w->mu) == 0);
        if (w->stop)
            break;
        int (*job)(void *) = w->job;
        void *arg = w->arg;
        ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
        uint64_t t0 = mono_us();
        int rc = job(arg); /* what the job uses is the thread's until it is collected */
        uint64_t us = mono_us() - t0;
        ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
        w->rc = rc;
        w->us = us;
        w->finished = true;
        w->busy = false;
        ZK_ASSERT(pthread_cond_broadcast(&w->cond) == 0);
        uint64_t one = 1;
        if (write(w->efd, &one, sizeof one) != sizeof one)
            ZK_ERROR("%s: cannot signal the loop: %s", w->name, strerror(errno));
    }
    ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
    return NULL;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct diskworker *w = arg;
    uint64_t count;
    if (read(fd, &count, sizeof count) != sizeof count && errno != EAGAIN)
        ZK_ERROR("%s: eventfd read failed: %s", w->name, strerror(errno));
    w->on_done(w->ctx);
}

struct diskworker *diskworker_new(struct event_base *base, const char *name,
                                  void (*on_done)(void *ctx), void *ctx)
{
    struct diskworker *w = zk_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->name, sizeof w->name, "%s", name);
    w->on_done = on_done;
    w->ctx = ctx;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0)
        goto err_after_alloc;
    w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, on_event, w);
    if (!w->ev || event_add(w->ev, NULL) != 0)
        goto err_after_efd;
    if (pthread_mutex_init(&w->mu, NULL) || pthread_cond_init(&w->cond, NULL) ||
        pthread_create(&w->thread, NULL, run, w))
        goto err_after_efd;
    return w;

err_after_efd:
    if (w->ev)
        event_free(w->ev);
    close(w->efd);
err_after_alloc:
    zk_free(w);
    return NULL;
}

void diskworker_free(struct diskworker *w)
{
    if (!w)
        return;
    diskworker_wait_idle(w);
    ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
    w->stop = true;
    ZK_ASSERT(pthread_cond_broadcast(&w->cond) == 0);
    ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
    ZK_ASSERT(pthread_join(w->thread, NULL) == 0);
    event_free(w->ev);
    close(w->efd);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cond);
    zk_free(w);
}

bool diskworker_busy(const struct diskworker *w)
{
    struct diskworker *mw = (struct diskworker *)w;
    ZK_ASSERT(pthread_mutex_lock(&mw->mu) == 0);
    bool busy = mw->busy || mw->finished;
    ZK_ASSERT(pthread_mutex_unlock(&mw->mu) == 0);
    return busy;
}

void diskworker_submit(struct diskworker *w, int (*job)(void *arg), void *arg)
{
    ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
    ZK_ASSERT(!w->busy && !w->finished); /* one job at a time, collected before the next */
    w->job = job;
    w->arg = arg;
    w->busy = true;
    ZK_ASSERT(pthread_cond_broadcast(&w->cond) == 0);
    ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
}

bool diskworker_collect(struct diskworker *w, int *rc, uint64_t *us)
{
    ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
    bool done = w->finished;
    if (done) {
        *rc = w->rc;
        *us = w->us;
        w->finished = false;
    }
    ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
    return done;
}

void diskworker_wait_idle(struct diskworker *w)
{
    ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
    while (w->busy)
        ZK_ASSERT(pthread_cond_wait(&w->cond, &w->mu) == 0);
    ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
}
