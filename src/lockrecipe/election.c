/* Leader election = an exclusive lock whose acquisition runs in a background thread: the
 * candidate with the lowest sequence number leads, each other candidate watches only its
 * predecessor. Leadership changes reach the user through the lock's listener. */
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "lockrecipe/internal.h"

struct zkl_election {
    zkl_client *c;
    zkl_lock *lock;
    char *path;
    zkl_leader_fn fn;
    void *arg;
    pthread_t thread;
    int result; /* of the background acquire */
};

static void *campaign(void *arg)
{
    zkl_election *e = arg;
    e->result = zkl_lock_acquire(e->lock, -1, NULL);
    return NULL;
}

static void on_lock_state(zkl_lock *lock, enum zkl_lock_state s, void *arg)
{
    (void)lock;
    zkl_election *e = arg;
    if (e->fn != NULL)
        e->fn(e, s == ZKL_HELD, e->arg);
}

zkl_election *zkl_election_new(zkl_client *c, const char *path, const char *id, zkl_leader_fn fn,
                               void *arg)
{
    zkl_election *e = zk_calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->c = c;
    e->fn = fn;
    e->arg = arg;
    e->path = zk_strndup(path, strlen(path));
    e->lock = zkl_election_lock_new(c, path);
    if (e->path == NULL || e->lock == NULL || (id != NULL && zkl_lock_set_data(e->lock, id) != 0))
        goto fail;
    zkl_lock_set_listener(e->lock, on_lock_state, e);
    if (pthread_create(&e->thread, NULL, campaign, e) != 0)
        goto fail;
    return e;
fail:
    zkl_lock_free(e->lock);
    zk_free(e->path);
    zk_free(e);
    return NULL;
}

bool zkl_election_is_leader(zkl_election *e) { return zkl_lock_state(e->lock) == ZKL_HELD; }
enum zkl_lock_state zkl_election_state(zkl_election *e) { return zkl_lock_state(e->lock); }
int64_t zkl_election_token(zkl_election *e) { return zkl_lock_token(e->lock); }

/* The leader is the lowest-sequence candidate; read its data. Retries if it just left. */
int zkl_election_leader(zkl_election *e, char *buf, size_t len)
{
    ZK_ASSERT(len > 0);
    for (int attempt = 0; attempt < 5; attempt++) {
        struct String_vector names = {0, NULL};
        int rc = zoo_get_children(e->c->zh, e->path, 0, &names);
        if (rc != ZOK)
            return zkl_map_rc(rc);
        struct zkl_child *kids = zk_calloc((size_t)names.count + 1, sizeof *kids);
        if (kids == NULL) {
            deallocate_String_vector(&names);
            return ZKL_ENOMEM;
        }
        size_t n = zkl_sort_children(names.data, (size_t)names.count, kids);
        char node[1024];
        if (n > 0)
            snprintf(node, sizeof node, "%s/%s", e->path, kids[0].name);
        zk_free(kids);
        deallocate_String_vector(&names);
        if (n == 0)
            return zkl_map_rc(ZNONODE);
        int blen = (int)(len - 1);
        rc = zoo_get(e->c->zh, node, 0, buf, &blen, NULL);
        if (rc == ZOK) {
            buf[blen < 0 ? 0 : blen] = '\0';
            return ZKL_OK;
        }
        if (rc != ZNONODE)
            return zkl_map_rc(rc);
    }
    return zkl_map_rc(ZNONODE);
}

void zkl_election_free(zkl_election *e)
{
    if (e == NULL)
        return;
    zkl_lock_cancel(e->lock);
    ZK_ASSERT(pthread_join(e->thread, NULL) == 0);
    zkl_lock_free(e->lock); /* resigns if leader */
    zk_free(e->path);
    zk_free(e);
}
