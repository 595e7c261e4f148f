/* The lock recipes on a live server: create the contender node (protected against the lost-reply
 * ghost by a per-attempt id in its name), list the children, let recipe.c decide, watch only the
 * predecessor(s), and release. Shared by mutexes, read/write locks, semaphores and elections. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "lockrecipe/internal.h"

#define PATH_MAX_LEN 1024

static atomic_int lose_create_replies;

void zkl_test_lose_create_replies(int count) { atomic_store(&lose_create_replies, count); }

static bool take_injected_loss(void)
{
    int n = atomic_load(&lose_create_replies);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&lose_create_replies, &n, n - 1))
            return true;
    }
    return false;
}

static void lock_mu(zkl_client *c) { ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0); }
static void unlock_mu(zkl_client *c) { ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0); }

static bool valid_path(const char *path)
{
    size_t n = strlen(path);
    if (n < 2 || n > PATH_MAX_LEN - 64 || path[0] != '/' || path[n - 1] == '/')
        return false;
    return strstr(path, "//") == NULL;
}

/* ---- construction ---------------------------------------------------------------------- */

static char *default_data(void)
{
    char host[256], buf[300];
    if (gethostname(host, sizeof host) != 0)
        strcpy(host, "unknown");
    host[sizeof host - 1] = '\0';
    snprintf(buf, sizeof buf, "%s:%ld", host, (long)getpid());
    return zk_strndup(buf, strlen(buf));
}

static zkl_lock *lock_new(zkl_client *c, const char *path, enum zkl_node_type type, unsigned n)
{
    if (c == NULL || path == NULL || !valid_path(path) || n == 0)
        return NULL;
    zkl_lock *l = zk_calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->c = c;
    l->type = type;
    l->permits = n;
    l->state = l->notified = ZKL_UNLOCKED;
    l->path = zk_strndup(path, strlen(path));
    l->data = default_data();
    if (l->path == NULL || l->data == NULL) {
        zk_free(l->path);
        zk_free(l->data);
        zk_free(l);
        return NULL;
    }
    zkl_client_add_lock(c, l);
    return l;
}

zkl_lock *zkl_mutex_new(zkl_client *c, const char *path) { return lock_new(c, path, ZKL_T_LOCK, 1); }
zkl_lock *zkl_read_lock_new(zkl_client *c, const char *path)
{
    return lock_new(c, path, ZKL_T_READ, 1);
}
zkl_lock *zkl_write_lock_new(zkl_client *c, const char *path)
{
    return lock_new(c, path, ZKL_T_WRITE, 1);
}
zkl_lock *zkl_semaphore_new(zkl_client *c, const char *path, unsigned permits)
{
    return lock_new(c, path, ZKL_T_SEM, permits);
}
zkl_lock *zkl_election_lock_new(zkl_client *c, const char *path)
{
    return lock_new(c, path, ZKL_T_ELECT, 1);
}

int zkl_lock_set_data(zkl_lock *l, const char *data)
{
    char *copy = zk_strndup(data, strlen(data));
    if (copy == NULL)
        return ZKL_ENOMEM;
    lock_mu(l->c);
    zk_free(l->data);
    l->data = copy;
    unlock_mu(l->c);
    return ZKL_OK;
}

void zkl_lock_set_listener(zkl_lock *l, zkl_lock_listener fn, void *arg)
{
    lock_mu(l->c);
    l->fn = fn;
    l->arg = arg;
    unlock_mu(l->c);
}

/* ---- retrying ZooKeeper calls ------------------------------------------------------------ */

/* After a ZooKeeper rc: ZKL_OK to retry (it was a connection loss and we are connected again),
 * else the status to give up with. */
static int retry_after(zkl_lock *l, int rc, int64_t deadline)
{
    if (rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT)
        return zkl_map_rc(rc);
    lock_mu(l->c);
    int st = zkl_wait_connected_locked(l->c, l, deadline);
    unlock_mu(l->c);
    return st;
}

static int create_parents(zkl_lock *l, const char *path, int64_t deadline)
{
    for (;;) {
        int rc = zoo_create(l->c->zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
        if (rc == ZOK || rc == ZNODEEXISTS)
            return ZKL_OK;
        if (rc == ZNONODE) {
            char parent[PATH_MAX_LEN];
            snprintf(parent, sizeof parent, "%s", path);
            char *slash = strrchr(parent, '/');
            ZK_ASSERT(slash != NULL);
            if (slash == parent) /* "/" always exists */
                return zkl_map_rc(rc);
            *slash = '\0';
            int st = create_parents(l, parent, deadline);
            if (st != ZKL_OK)
                return st;
            continue;
        }
        int st = retry_after(l, rc, deadline);
        if (st != ZKL_OK)
            return st;
    }
}

/* Children of the lock node, retried over connection losses. */
static int list_children(zkl_lock *l, struct String_vector *kids, int64_t deadline)
{
    for (;;) {
        int rc = zoo_get_children(l->c->zh, l->path, 0, kids);
        if (rc == ZOK)
            return ZKL_OK;
        int st = retry_after(l, rc, deadline);
        if (st != ZKL_OK)
            return st;
    }
}

/* ---- the contender node --------------------------------------------------------------------- */

static int attempt_prefix(const zkl_lock *l, char *out, size_t len)
{
    unsigned char rnd[ZKL_ATTEMPT_HEX / 2];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return -1;
    char hex[ZKL_ATTEMPT_HEX + 1];
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    int n = snprintf(out, len, "%s-%s-%s-", ZKL_NAME_TAG, hex, zkl_type_name(l->type));
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* After a lost create reply: did the server create our node? Returns 1 (found, *node filled),
 * 0 (not there: create again) or a negative status. */
static int find_own_node(zkl_lock *l, const char *prefix, char *node, size_t len, int64_t deadline)
{
    struct String_vector kids = {0, NULL};
    int st = list_children(l, &kids, deadline);
    if (st != ZKL_OK)
        return st;
    int found = 0;
    size_t plen = strlen(prefix);
    for (int i = 0; i < kids.count && !found; i++) {
        if (strncmp(kids.data[i], prefix, plen) == 0) {
            snprintf(node, len, "%s/%s", l->path, kids.data[i]);
            found = 1;
        }
    }
    deallocate_String_vector(&kids);
    return found;
}

static int node_czxid(zkl_lock *l, const char *node, int64_t *czxid, int64_t deadline)
{
    for (;;) {
        struct Stat st;
        int rc = zoo_exists(l->c->zh, node, 0, &st);
        if (rc == ZOK) {
            *czxid = st.czxid;
            return ZKL_OK;
        }
        int s = retry_after(l, rc, deadline);
        if (s != ZKL_OK)
            return s;
    }
}

static int create_once(zkl_lock *l, const char *base, const char *data, char *node, size_t len,
                       int64_t *czxid)
{
    struct Stat st;
    int rc = zoo_create2(l->c->zh, base, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE,
                         ZOO_EPHEMERAL_SEQUENTIAL, node, (int)len, &st);
    if (rc == ZOK && take_injected_loss())
        return ZCONNECTIONLOSS; /* test hook: the node exists, the reply is "lost" */
    if (rc == ZOK)
        *czxid = st.czxid;
    return rc;
}

/* Create my EPHEMERAL_SEQUENTIAL node "<path>/zkl-<attempt>-<type>-NNNNNNNNNN". A connection loss
 * after sending may hide a successful create: look for the attempt prefix before retrying, so
 * there is never a second (ghost) node of ours. */
static int create_contender(zkl_lock *l, char *node, size_t len, int64_t *czxid, int64_t deadline)
{
    char prefix[128], base[PATH_MAX_LEN];
    if (attempt_prefix(l, prefix, sizeof prefix) != 0)
        return ZKL_ENOMEM;
    snprintf(base, sizeof base, "%s/%s", l->path, prefix);
    lock_mu(l->c);
    char *data = zk_strndup(l->data, strlen(l->data));
    unlock_mu(l->c);
    if (data == NULL)
        return ZKL_ENOMEM;
    int st;
    for (;;) {
        int rc = create_once(l, base, data, node, len, czxid);
        if (rc == ZOK) {
            st = ZKL_OK;
            break;
        }
        if ((st = retry_after(l, rc, deadline)) != ZKL_OK)
            break;
        int found = find_own_node(l, prefix, node, len, deadline);
        if (found < 0 || found == 1) {
            st = found < 0 ? found : node_czxid(l, node, czxid, deadline);
            break;
        }
    }
    zk_free(data);
    return st;
}

/* Delete my node; over a disconnect, leave it to the client to delete once reconnected. */
static void delete_node(zkl_lock *l, const char *node)
{
    int rc = zoo_delete(l->c->zh, node, -1);
    if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT)
        zkl_client_delete_later(l->c, node);
}

/* ---- waiting --------------------------------------------------------------------------------- */

/* Set exists-watches on the nodes the decision names. Returns 1 if all are set (wait), 0 if one
 * is already gone (re-check now), or a negative status. */
static int watch_predecessors(zkl_lock *l, const struct zkl_child *kids,
                              const struct zkl_decision *d, uint64_t gen)
{
    for (size_t i = 0; i < d->nwatch; i++) {
        char pred[PATH_MAX_LEN];
        snprintf(pred, sizeof pred, "%s/%s", l->path, kids[d->watch[i]].name);
        int rc = zkl_watch_exists(l->c, l, gen, pred);
        if (rc == ZNONODE)
            return 0;
        if (rc != ZOK)
            return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT ? 0 : zkl_map_rc(rc);
    }
    return 1;
}

/* Block until a watched predecessor changes, the deadline passes, the session ends or cancel.
 * A disconnect does not end the wait: the client re-registers the watches on reconnect. */
static int wait_for_wakeup(zkl_lock *l, uint64_t gen, int64_t deadline)
{
    zkl_client *c = l->c;
    lock_mu(c);
    int st = ZKL_OK;
    while (!(l->woken && l->wait_gen == gen)) {
        if (c->state == ZKL_EXPIRED) {
            st = ZKL_ESESSION;
            break;
        }
        if (l->cancel) {
            st = ZKL_ECANCELED;
            break;
        }
        if (deadline >= 0 && zkl_now_ms() >= deadline) {
            st = ZKL_ETIMEOUT;
            break;
        }
        zkl_cond_wait_until(c, deadline);
    }
    unlock_mu(c);
    return st;
}

static uint64_t new_wait_gen(zkl_lock *l)
{
    lock_mu(l->c);
    uint64_t gen = ++l->wait_gen;
    l->woken = false;
    unlock_mu(l->c);
    return gen;
}

/* One round: list, decide, own or watch. Returns 1 (own), 0 (wait/recheck done, loop again),
 * or a negative status. */
static int contend_round(zkl_lock *l, const char *node, bool try_only, int64_t deadline)
{
    struct String_vector names = {0, NULL};
    int st = list_children(l, &names, deadline);
    if (st != ZKL_OK)
        return st;
    struct zkl_child *kids = zk_calloc((size_t)names.count + 1, sizeof *kids);
    struct zkl_decision *d = zk_malloc(zkl_decision_size(l->permits));
    if (kids == NULL || d == NULL) {
        st = ZKL_ENOMEM;
        goto out;
    }
    size_t n = zkl_sort_children(names.data, (size_t)names.count, kids);
    zkl_decide(kids, n, strrchr(node, '/') + 1, l->type, l->permits, d);
    if (d->verdict == ZKL_GONE) { /* deleted under us: expired session or a manual delete */
        zkl_set_zk_error(ZNONODE);
        st = zkl_client_state(l->c) == ZKL_EXPIRED ? ZKL_ESESSION : ZKL_EZK;
    } else if (d->verdict == ZKL_OWN) {
        st = 1;
    } else if (try_only) {
        st = ZKL_EBUSY;
    } else {
        uint64_t gen = new_wait_gen(l);
        st = watch_predecessors(l, kids, d, gen);
        if (st == 1)
            st = wait_for_wakeup(l, gen, deadline);
    }
out:
    zk_free(kids);
    zk_free(d);
    deallocate_String_vector(&names);
    return st;
}

/* A semaphore waiter that got a permit touches its node: the next waiter watches it and must
 * re-check, as it may now be the first waiter (which watches every holder). */
static void touch_node(zkl_lock *l, const char *node)
{
    int rc = zoo_set(l->c->zh, node, "held", 4, -1);
    if (rc != ZOK)
        zkl_set_zk_error(rc); /* best effort: the successor still wakes when we release */
}

/* Own the lock. The read that decided it may come from a member cut off from the leader, so HELD
 * is only entered while the leader-confirmed lease (lease.c) has a good part left: until the
 * session ends our node stays the lowest, and the lease says how long it certainly lives. */
static int become_holder(zkl_lock *l, const char *node, int64_t czxid, bool waited,
                         int64_t deadline)
{
    if (waited && l->type == ZKL_T_SEM)
        touch_node(l, node);
    char *copy = zk_strndup(node, strlen(node));
    if (copy == NULL)
        return ZKL_ENOMEM;
    lock_mu(l->c);
    int st = zkl_wait_lease_locked(l->c, l, deadline);
    if (st == ZKL_OK) {
        ZK_ASSERT(l->state == ZKL_WAITING && l->node == NULL);
        l->node = copy;
        l->token = czxid;
        l->state = l->c->state == ZKL_CONNECTED ? ZKL_HELD : ZKL_LOCK_SUSPENDED;
        ZK_ASSERT(pthread_cond_broadcast(&l->c->cond) == 0); /* the monitor tells the listener */
    }
    unlock_mu(l->c);
    if (st != ZKL_OK)
        zk_free(copy);
    return st;
}

static int begin_acquire(zkl_lock *l)
{
    lock_mu(l->c);
    int st = ZKL_OK;
    if (l->state != ZKL_UNLOCKED)
        st = ZKL_EINVAL;
    else if (l->c->state == ZKL_EXPIRED)
        st = ZKL_ESESSION;
    else {
        l->state = ZKL_WAITING;
        l->cancel = false;
        ZK_ASSERT(pthread_cond_broadcast(&l->c->cond) == 0); /* the monitor starts heartbeats */
    }
    unlock_mu(l->c);
    return st;
}

static void end_acquire_failed(zkl_lock *l)
{
    lock_mu(l->c);
    l->state = ZKL_UNLOCKED;
    l->wait_gen++;
    unlock_mu(l->c);
}

int zkl_lock_acquire(zkl_lock *l, int timeout_ms, int64_t *token)
{
    ZK_ASSERT(l != NULL);
    int st = begin_acquire(l);
    if (st != ZKL_OK)
        return st;
    int64_t deadline = timeout_ms < 0 ? -1 : zkl_now_ms() + timeout_ms;
    /* try-acquire still gets a few seconds to get through connection losses */
    int64_t io_deadline = timeout_ms == 0 ? zkl_now_ms() + 5000 : deadline;
    char node[PATH_MAX_LEN];
    int64_t czxid = 0;
    st = create_parents(l, l->path, io_deadline);
    if (st == ZKL_OK)
        st = create_contender(l, node, sizeof node, &czxid, io_deadline);
    if (st != ZKL_OK) {
        end_acquire_failed(l);
        return st;
    }
    bool waited = false;
    while ((st = contend_round(l, node, timeout_ms == 0, io_deadline)) == 0)
        waited = true;
    if (st == 1)
        st = become_holder(l, node, czxid, waited, io_deadline);
    if (st != ZKL_OK) {
        if (st != ZKL_ESESSION)
            delete_node(l, node); /* a waiter giving up leaves the queue */
        end_acquire_failed(l);
        return st;
    }
    if (token != NULL)
        *token = czxid;
    return ZKL_OK;
}

int zkl_lock_release(zkl_lock *l)
{
    zkl_client *c = l->c;
    lock_mu(c);
    if (l->state == ZKL_UNLOCKED || l->state == ZKL_WAITING) {
        unlock_mu(c);
        return ZKL_EINVAL;
    }
    char *node = l->node;
    bool lost = l->state == ZKL_LOST;
    bool expired = c->state == ZKL_EXPIRED;
    l->node = NULL;
    l->token = 0;
    l->state = ZKL_UNLOCKED;
    unlock_mu(c);
    ZK_ASSERT(node != NULL);
    if (!expired)
        delete_node(l, node);
    zk_free(node);
    return lost ? ZKL_ESESSION : ZKL_OK;
}

void zkl_lock_cancel(zkl_lock *l)
{
    lock_mu(l->c);
    l->cancel = true;
    ZK_ASSERT(pthread_cond_broadcast(&l->c->cond) == 0);
    unlock_mu(l->c);
}

enum zkl_lock_state zkl_lock_state(zkl_lock *l)
{
    lock_mu(l->c);
    enum zkl_lock_state s = l->state;
    unlock_mu(l->c);
    return s;
}

int64_t zkl_lock_token(zkl_lock *l)
{
    lock_mu(l->c);
    int64_t t = l->token;
    unlock_mu(l->c);
    return t;
}

const char *zkl_lock_node(zkl_lock *l)
{
    lock_mu(l->c);
    const char *n = l->node;
    unlock_mu(l->c);
    return n;
}

unsigned zkl_lock_wakeups(zkl_lock *l)
{
    lock_mu(l->c);
    unsigned w = l->wakeups;
    unlock_mu(l->c);
    return w;
}

const char *zkl_lock_state_name(enum zkl_lock_state s)
{
    switch (s) {
    case ZKL_UNLOCKED: return "unlocked";
    case ZKL_WAITING: return "waiting";
    case ZKL_HELD: return "held";
    case ZKL_LOCK_SUSPENDED: return "suspended";
    case ZKL_LOST: return "lost";
    }
    return "?";
}

void zkl_lock_free(zkl_lock *l)
{
    if (l == NULL)
        return;
    enum zkl_lock_state s = zkl_lock_state(l);
    ZK_ASSERT(s != ZKL_WAITING); /* cancel and let acquire return first */
    if (s != ZKL_UNLOCKED)
        (void)zkl_lock_release(l);
    zkl_client_remove_lock(l->c, l);
    zk_free(l->path);
    zk_free(l->data);
    zk_free(l->node);
    zk_free(l);
}
