/* Log writer thread (see logwriter.h). */
#include "server/logwriter.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"
#include "store/txnlog.h"

#define META_COMMITTED "committedZxid"

struct logwriter {
    struct txnlog *log;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int efd;
    struct event *ev;
    void (*on_done)(void *ctx);
    void *ctx;
    /* guarded by mu */
    bool busy;
    bool stop;
    struct logwriter_job job;
    struct logwriter_result result;
};

void logwriter_batch_add(struct jute_writer *arena, int64_t zxid, const void *p, size_t len)
{
    jw_long(arena, zxid);
    jw_int(arena, (int32_t)len);
    jw_raw(arena, p, len);
}

int logwriter_each_record(const struct jute_writer *arena,
                          int (*fn)(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len),
                          void *ctx)
{
    for (size_t off = 0; off + 12 <= arena->len;) {
        const uint8_t *p = arena->data + off;
        int64_t zxid = (int64_t)be64_load(p);
        uint32_t len = be32_load(p + 8);
        ZK_ASSERT(off + 12 + len <= arena->len);
        int rc = fn(ctx, zxid, p + 12, len);
        if (rc)
            return rc;
        off += 12 + len;
    }
    return 0;
}

static int append_record(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len)
{
    return txnlog_append(ctx, zxid, p, len);
}

/* The thread's one job: purge a little, append, stage the committed mark, commit (fsync). */
static int write_batch(struct logwriter *w, const struct logwriter_job *job,
                       int64_t *purged_through)
{
    int rc = TXNLOG_OK;
    *purged_through = -1;
    if (job->purge_through >= 0)
        rc = txnlog_stage_purge(w->log, job->purge_through, LOGWRITER_PURGE_MAX, purged_through);
    if (rc == TXNLOG_OK)
        rc = logwriter_each_record(job->batch, append_record, w->log);
    if (rc == TXNLOG_OK)
        rc = txnlog_stage_meta(w->log, META_COMMITTED, job->committed_mark);
    if (rc == TXNLOG_OK)
        rc = txnlog_commit(w->log);
    else
        txnlog_abort(w->log);
    return rc;
}

static void *run(void *arg)
{
    struct logwriter *w = arg;
    ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
    for (;;) {
        while (!w->stop && (!w->busy || w->result.done))
            ZK_ASSERT(pthread_cond_wait(&w->cond, &w->mu) == 0);
        if (w->stop)
            break;
        struct logwriter_job job = w->job;
        ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
        int64_t purged;
        int rc = write_batch(w, &job, &purged); /* LMDB is ours while busy */
        ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
        w->result = (struct logwriter_result){true, rc, job.last_zxid, purged};
        w->busy = false;
        ZK_ASSERT(pthread_cond_broadcast(&w->cond) == 0);
        uint64_t one = 1;
        if (write(w->efd, &one, sizeof one) != sizeof one)
            ZK_ERROR("log writer: cannot signal the loop: %s", strerror(errno));
    }
    ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
    return NULL;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct logwriter *w = arg;
    uint64_t count;
    if (read(fd, &count, sizeof count) != sizeof count && errno != EAGAIN)
        ZK_ERROR("log writer: eventfd read failed: %s", strerror(errno));
    w->on_done(w->ctx);
}

struct logwriter *logwriter_new(struct event_base *base, struct txnlog *log,
                                void (*on_done)(void *ctx), void *ctx)
{
    struct logwriter *w = zk_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->log = log;
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

void logwriter_free(struct logwriter *w)
{
    if (!w)
        return;
    logwriter_wait_idle(w);
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

bool logwriter_busy(const struct logwriter *w)
{
    struct logwriter *mw = (struct logwriter *)w;
    ZK_ASSERT(pthread_mutex_lock(&mw->mu) == 0);
    bool busy = mw->busy || mw->result.done;
    ZK_ASSERT(pthread_mutex_unlock(&mw->mu) == 0);
    return busy;
}

void logwriter_submit(struct logwriter *w, const struct logwriter_job *job)
{
    ZK_ASSERT(!job->batch->err);
    ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
    ZK_ASSERT(!w->busy && !w->result.done); /* one batch at a time, collected before the next */
    w->job = *job;
    w->busy = true;
    ZK_ASSERT(pthread_cond_broadcast(&w->cond) == 0);
    ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
}

struct logwriter_result logwriter_collect(struct logwriter *w)
{
    ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
    struct logwriter_result r = w->result;
    if (r.done)
        memset(&w->result, 0, sizeof w->result);
    ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
    return r;
}

void logwriter_wait_idle(struct logwriter *w)
{
    ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
    while (w->busy)
        ZK_ASSERT(pthread_cond_wait(&w->cond, &w->mu) == 0);
    ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
}
