/* zkl_client: one ZooKeeper session (libzookeeper-mt handle) plus what the recipes need around
 * it: the connection state machine (CONNECTED / SUSPENDED / EXPIRED), exists-watches that wake a
 * waiting lock, deferred deletes after a disconnect, and the monitor thread that runs the lease
 * heartbeat (lease.c: held locks are declared LOST before the session could have expired at the
 * leader, connected or not) and the listeners. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"
#include "lockrecipe/internal.h"

struct zkl_watch {
    zkl_client *c;
    uint64_t lock_id;
    uint64_t gen;
    struct zkl_watch *next, *prev;
};

struct zkl_doomed { /* a node to delete once connected */
    zkl_client *c;
    char *path;
    struct zkl_doomed *next;
};

static _Thread_local int last_zk_error;

int64_t zkl_now_ms(void)
{
    struct timespec ts;
    ZK_ASSERT(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void zkl_set_zk_error(int rc) { last_zk_error = rc; }
int zkl_last_zk_error(void) { return last_zk_error; }

int zkl_map_rc(int rc)
{
    zkl_set_zk_error(rc);
    switch (rc) {
    case ZOK: return ZKL_OK;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZAUTHFAILED: return ZKL_ESESSION;
    case ZBADARGUMENTS: return ZKL_EINVAL;
    case ZOPERATIONTIMEOUT: return ZKL_ETIMEOUT;
    case ZSYSTEMERROR:
        if (errno == ENOMEM)
            return ZKL_ENOMEM;
        return ZKL_EZK;
    default: return ZKL_EZK;
    }
}

const char *zkl_strerror(int status)
{
    switch (status) {
    case ZKL_OK: return "ok";
    case ZKL_ETIMEOUT: return "timed out";
    case ZKL_EBUSY: return "lock is held by someone else";
    case ZKL_ESESSION: return "session expired or lost";
    case ZKL_ECONNECT: return "cannot connect (bad connect string?)";
    case ZKL_EINVAL: return "invalid argument or state";
    case ZKL_ENOMEM: return "out of memory";
    case ZKL_ECANCELED: return "canceled";
    case ZKL_EZK: return zerror(last_zk_error);
    default: return "unknown error";
    }
}

void zkl_cond_wait_until(zkl_client *c, int64_t deadline)
{
    if (deadline < 0) {
        ZK_ASSERT(pthread_cond_wait(&c->cond, &c->mu) == 0);
        return;
    }
    int64_t left = deadline - zkl_now_ms();
    if (left <= 0)
        return;
    struct timespec ts;
    ZK_ASSERT(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    int rc = pthread_cond_timedwait(&c->cond, &c->mu, &ts);
    ZK_ASSERT(rc == 0 || rc == ETIMEDOUT);
}

int zkl_wait_connected_locked(zkl_client *c, zkl_lock *lock, int64_t deadline)
{
    for (;;) {
        if (c->state == ZKL_EXPIRED)
            return ZKL_ESESSION;
        if (lock != NULL && lock->cancel)
            return ZKL_ECANCELED;
        if (c->state == ZKL_CONNECTED)
            return ZKL_OK;
        if (deadline >= 0 && zkl_now_ms() >= deadline)
            return ZKL_ETIMEOUT;
        zkl_cond_wait_until(c, deadline);
    }
}

/* ---- deferred deletes ------------------------------------------------------------------- */

static void issue_delete(struct zkl_doomed *d);

static void delete_done(int rc, const void *data)
{
    struct zkl_doomed *d = (struct zkl_doomed *)data;
    zkl_client *c = d->c;
    if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) { /* try again when reconnected */
        ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
        if (!c->stopping && c->state == ZKL_CONNECTED) {
            issue_delete(d);
        } else {
            d->next = c->doomed;
            c->doomed = d;
        }
        ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
        return;
    }
    zk_free(d->path);
    zk_free(d);
}

static void issue_delete(struct zkl_doomed *d)
{
    int rc = zoo_adelete(d->c->zh, d->path, -1, delete_done, d);
    if (rc != ZOK) { /* closing or expired: the session end removes the node anyway */
        zk_free(d->path);
        zk_free(d);
    }
}

void zkl_client_delete_later(zkl_client *c, const char *path)
{
    struct zkl_doomed *d = zk_calloc(1, sizeof *d);
    char *copy = zk_strndup(path, strlen(path));
    if (d == NULL || copy == NULL) { /* the session end removes the node anyway */
        zk_free(d);
        zk_free(copy);
        return;
    }
    d->c = c;
    d->path = copy;
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    if (c->state == ZKL_CONNECTED) {
        issue_delete(d);
    } else {
        d->next = c->doomed;
        c->doomed = d;
    }
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
}

/* c->mu held: reissue (connected) or drop (expired/closing) this client's deferred deletes. */
static void flush_doomed_locked(zkl_client *c, bool reissue)
{
    while (c->doomed != NULL) {
        struct zkl_doomed *d = c->doomed;
        c->doomed = d->next;
        if (reissue) {
            issue_delete(d);
        } else {
            zk_free(d->path);
            zk_free(d);
        }
    }
}

/* ---- session events ------------------------------------------------------------------------ */

static void set_held_locks_locked(zkl_client *c, enum zkl_lock_state from, enum zkl_lock_state to)
{
    for (zkl_lock *l = c->locks; l != NULL; l = l->next) {
        if (l->state == from)
            l->state = to;
    }
}

static void on_session_event(zkl_client *c, zhandle_t *zh, int state)
{
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    if (c->state == ZKL_EXPIRED) { /* terminal */
        ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
        return;
    }
    if (state == ZOO_CONNECTED_STATE) {
        c->state = ZKL_CONNECTED;
        c->session_timeout = zoo_recv_timeout(zh); /* c->zh may not be set yet */
        zkl_lease_on_connected_locked(c);
        set_held_locks_locked(c, ZKL_LOCK_SUSPENDED, ZKL_HELD);
        flush_doomed_locked(c, true);
    } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
        c->state = ZKL_EXPIRED;
        set_held_locks_locked(c, ZKL_HELD, ZKL_LOST);
        set_held_locks_locked(c, ZKL_LOCK_SUSPENDED, ZKL_LOST);
        flush_doomed_locked(c, false);
    } else if (c->state == ZKL_CONNECTED) { /* CONNECTING / ASSOCIATING / NOTCONNECTED */
        c->state = ZKL_SUSPENDED;
        set_held_locks_locked(c, ZKL_HELD, ZKL_LOCK_SUSPENDED);
    }
    ZK_ASSERT(pthread_cond_broadcast(&c->cond) == 0);
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)path;
    if (type == ZOO_SESSION_EVENT && ctx != NULL)
        on_session_event(ctx, zh, state);
}

/* ---- exists watches ---------------------------------------------------------------------- */

static void unlink_watch_locked(zkl_client *c, struct zkl_watch *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        c->watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
}

static void lock_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)path;
    if (type == ZOO_SESSION_EVENT) /* the C client shows session events to every watcher */
        return;
    struct zkl_watch *w = ctx;
    zkl_client *c = w->c;
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    for (zkl_lock *l = c->locks; l != NULL; l = l->next) {
        if (l->id == w->lock_id && l->wait_gen == w->gen && l->state == ZKL_WAITING && !l->woken) {
            l->woken = true;
            l->wakeups++;
        }
    }
    unlink_watch_locked(c, w);
    zk_free(w);
    ZK_ASSERT(pthread_cond_broadcast(&c->cond) == 0);
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
}

int zkl_watch_exists(zkl_client *c, zkl_lock *lock, uint64_t gen, const char *path)
{
    struct zkl_watch *w = zk_calloc(1, sizeof *w);
    if (w == NULL)
        return ZSYSTEMERROR;
    w->c = c;
    w->lock_id = lock->id;
    w->gen = gen;
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    w->next = c->watches;
    if (c->watches != NULL)
        c->watches->prev = w;
    c->watches = w;
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
    struct Stat st;
    int rc = zoo_wexists(c->zh, path, lock_watcher, w, &st);
    if (rc != ZOK && rc != ZNONODE) { /* not registered: forget it */
        ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
        unlink_watch_locked(c, w);
        ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
        zk_free(w);
    }
    return rc;
}

/* ---- monitor thread ------------------------------------------------------------------------ */

static bool worth_notifying(zkl_lock *l)
{
    return l->fn != NULL && l->state != ZKL_WAITING && l->state != l->notified;
}

/* c->mu held; runs one listener with the mutex released. Returns true if one ran. */
static bool dispatch_one_locked(zkl_client *c)
{
    for (zkl_lock *l = c->locks; l != NULL; l = l->next) {
        if (!worth_notifying(l))
            continue;
        enum zkl_lock_state s = l->state;
        l->notified = s;
        c->dispatching = l;
        ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
        l->fn(l, s, l->arg);
        ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
        c->dispatching = NULL;
        ZK_ASSERT(pthread_cond_broadcast(&c->cond) == 0);
        return true;
    }
    return false;
}

static void *monitor_main(void *arg)
{
    zkl_client *c = arg;
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    while (!c->stopping) {
        int64_t next = zkl_lease_step_locked(c); /* may release c->mu while sending */
        if (c->stopping)
            break;
        if (dispatch_one_locked(c))
            continue;
        zkl_cond_wait_until(c, next);
    }
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
    return NULL;
}

/* ---- public client API ----------------------------------------------------------------- */

static int init_sync(zkl_client *c)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    ZK_ASSERT(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0);
    int rc = pthread_cond_init(&c->cond, &attr);
    ZK_ASSERT(pthread_condattr_destroy(&attr) == 0);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        ZK_ASSERT(pthread_cond_destroy(&c->cond) == 0);
        return -1;
    }
    return 0;
}

static void set_status(int *status, int value)
{
    if (status != NULL)
        *status = value;
}

static int connect_and_wait(zkl_client *c, const char *hosts, int session_timeout_ms,
                            int connect_timeout_ms)
{
    c->state = ZKL_SUSPENDED;
    c->session_timeout = session_timeout_ms;
    /* hold mu so that the session watcher (another thread) sees c->zh set */
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    c->zh = zookeeper_init(hosts, session_watcher, session_timeout_ms, NULL, c, 0);
    if (c->zh == NULL) {
        int err = errno;
        ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
        return err == ENOMEM ? ZKL_ENOMEM : ZKL_ECONNECT;
    }
    /* libzookeeper re-resolves the connect string on every pass of its I/O loop by default,
     * which was a third of a busy client's CPU; the member list does not change under us. */
    if (zoo_set_servers_resolution_delay(c->zh, -1) != ZOK)
        ZK_WARN("zklock: could not disable connect-string re-resolution");
    int rc = zkl_wait_connected_locked(c, NULL, zkl_now_ms() + connect_timeout_ms);
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
    if (rc != ZKL_OK) {
        zookeeper_close(c->zh);
        c->zh = NULL;
    }
    return rc == ZKL_ESESSION ? ZKL_ECONNECT : rc;
}

zkl_client *zkl_client_new(const char *hosts, int session_timeout_ms, int connect_timeout_ms,
                           int *status)
{
    if (hosts == NULL || *hosts == '\0' || session_timeout_ms <= 0 || connect_timeout_ms < 0) {
        set_status(status, ZKL_ECONNECT);
        return NULL;
    }
    zkl_client *c = zk_calloc(1, sizeof *c);
    if (c == NULL || init_sync(c) != 0) {
        zk_free(c);
        set_status(status, ZKL_ENOMEM);
        return NULL;
    }
    c->next_id = 1;
    int rc = connect_and_wait(c, hosts, session_timeout_ms, connect_timeout_ms);
    if (rc == ZKL_OK && pthread_create(&c->monitor, NULL, monitor_main, c) != 0) {
        zookeeper_close(c->zh);
        rc = ZKL_ENOMEM;
    }
    if (rc != ZKL_OK) {
        ZK_ASSERT(pthread_mutex_destroy(&c->mu) == 0);
        ZK_ASSERT(pthread_cond_destroy(&c->cond) == 0);
        zk_free(c);
        set_status(status, rc);
        return NULL;
    }
    set_status(status, ZKL_OK);
    return c;
}

void zkl_client_free(zkl_client *c)
{
    if (c == NULL)
        return;
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    ZK_ASSERT(c->locks == NULL); /* free locks and elections first */
    c->stopping = true;
    ZK_ASSERT(pthread_cond_broadcast(&c->cond) == 0);
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
    ZK_ASSERT(pthread_join(c->monitor, NULL) == 0);
    zookeeper_close(c->zh); /* joins the client's threads: no watcher runs after this */
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    flush_doomed_locked(c, false);
    while (c->watches != NULL) {
        struct zkl_watch *w = c->watches;
        c->watches = w->next;
        zk_free(w);
    }
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
    ZK_ASSERT(pthread_mutex_destroy(&c->mu) == 0);
    ZK_ASSERT(pthread_cond_destroy(&c->cond) == 0);
    zk_free(c);
}

enum zkl_conn_state zkl_client_state(zkl_client *c)
{
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    enum zkl_conn_state s = c->state;
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
    return s;
}

int zkl_client_session_timeout(zkl_client *c)
{
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    int t = c->session_timeout;
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
    return t;
}

int64_t zkl_client_session_id(zkl_client *c) { return zoo_client_id(c->zh)->client_id; }
zhandle_t *zkl_client_handle(zkl_client *c) { return c->zh; }

void zkl_client_add_lock(zkl_client *c, zkl_lock *lock)
{
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    lock->id = c->next_id++;
    lock->next = c->locks;
    c->locks = lock;
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
}

void zkl_client_remove_lock(zkl_client *c, zkl_lock *lock)
{
    ZK_ASSERT(!pthread_equal(pthread_self(), c->monitor)); /* not from a listener */
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    while (c->dispatching == lock)
        zkl_cond_wait_until(c, -1);
    zkl_lock **pp = &c->locks;
    while (*pp != lock) {
        ZK_ASSERT(*pp != NULL);
        pp = &(*pp)->next;
    }
    *pp = lock->next;
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
}
