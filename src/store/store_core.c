/* Store lifetime (store_new/store_free with the initial /zookeeper tree), introspection
 * counters and the container/TTL reap scan. */
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

#define INITIAL_NODE_BUCKETS 1024
#define INITIAL_ACL_BUCKETS 64
#define INITIAL_SESSION_BUCKETS 64

/* jute vector<ACL> with one entry {perms, world:anyone}. */
static uint32_t encode_world_acl(uint8_t *buf, int32_t perms)
{
    struct jute_writer jw;
    jw_init(&jw);
    jw_int(&jw, 1);
    jw_int(&jw, perms);
    jw_string(&jw, "world");
    jw_string(&jw, "anyone");
    uint32_t len = 0;
    if (!jw.err) {
        ZK_ASSERT(jw.len <= 64);
        memcpy(buf, jw.data, jw.len);
        len = (uint32_t)jw.len;
    }
    jw_free(&jw);
    return len;
}

static struct znode *add_system_node(struct store *st, struct znode *parent, const char *path,
                                     int32_t perms)
{
    uint8_t acl_bytes[64];
    uint32_t acl_len = encode_world_acl(acl_bytes, perms);
    if (acl_len == 0)
        return NULL;
    struct znode *n = node_alloc(path, strlen(path), NULL, 0); /* empty, not null, data */
    if (!n)
        return NULL;
    n->acl = acl_intern(&st->acls, acl_bytes, acl_len);
    if (!n->acl) {
        node_free(st, n);
        return NULL;
    }
    /* As DataTree's constructor: plain addChild, the parent's stat is not touched (so a fresh
     * "/" reports cversion -1, as ZooKeeper does). */
    node_attach(st, parent, n);
    return n;
}

/* Fresh tree: /, /zookeeper, /zookeeper/quota, /zookeeper/config (ZooKeeper 3.8). */
int store_init_tree(struct store *st)
{
    if (chain_init(&st->nodes, INITIAL_NODE_BUCKETS) ||
        chain_init(&st->acls, INITIAL_ACL_BUCKETS))
        return -1;
    st->root = add_system_node(st, NULL, "/", ZPERM_ALL);
    struct znode *zk = st->root ? add_system_node(st, st->root, "/zookeeper", ZPERM_ALL) : NULL;
    if (!zk || !add_system_node(st, zk, "/zookeeper/quota", ZPERM_ALL) ||
        !add_system_node(st, zk, "/zookeeper/config", ZPERM_READ))
        return -1;
    return 0;
}

void store_release_tree(struct store *st)
{
    node_table_free_all(st);
    acl_table_free(&st->acls);
    session_table_free(&st->sessions);
    memset(&st->special, 0, sizeof st->special);
    st->root = NULL;
    st->digest = 0;
    st->data_size = 0;
    st->ephemeral_count = 0;
}

struct store *store_new(const struct store_options *opts)
{
    struct store *st = zk_calloc(1, sizeof *st);
    if (!st)
        return NULL;
    if (opts)
        st->opts = *opts;
    if (st->opts.max_data_len <= 0)
        st->opts.max_data_len = ZK_MAX_BUFFER_DEFAULT;
    jw_init(&st->scratch);
    if (watch_init(&st->watches)) {
        zk_free(st);
        return NULL;
    }
    if (chain_init(&st->sessions, INITIAL_SESSION_BUCKETS) || store_init_tree(st)) {
        store_free(st);
        return NULL;
    }
    ZK_ASSERT(st->nodes.count == 4);
    return st;
}

void store_free(struct store *st)
{
    if (!st)
        return;
    store_release_tree(st);
    watch_free(&st->watches);
    txn_ctx_free(&st->txn);
    jw_free(&st->scratch);
    zk_free(st);
}

void store_remove_watcher(struct store *st, uint64_t watcher)
{
    watch_remove_watcher(&st->watches, watcher);
}

void store_reap_candidates(const struct store *st, int64_t now_ms,
                           void (*fn)(void *ctx, const char *path), void *ctx)
{
    for (const struct znode *n = st->special.head; n; n = n->owner_next) {
        if (n->num_children > 0)
            continue;
        if (n->kind == ZK_KIND_CONTAINER) {
            if (n->cversion > 0) /* had at least one child (stored cversion counts creates) */
                fn(ctx, n->path);
        } else {
            ZK_ASSERT(n->kind == ZK_KIND_TTL);
            int64_t ttl = n->ephemeral_owner & ~ZK_EPHEMERAL_TTL_MASK;
            if (ttl != 0 && now_ms - n->mtime > ttl)
                fn(ctx, n->path);
        }
    }
}

int64_t store_last_zxid(const struct store *st) { return st->last_zxid; }
size_t store_node_count(const struct store *st) { return st->nodes.count; }
size_t store_watch_count(const struct store *st) { return watch_count(&st->watches); }

void store_watch_summary(const struct store *st, size_t *watchers, size_t *paths,
                         size_t *watches)
{
    watch_summary(&st->watches, WATCH_DATA, watchers, paths, watches);
}
size_t store_ephemeral_count(const struct store *st) { return st->ephemeral_count; }
uint64_t store_approximate_data_size(const struct store *st) { return st->data_size; }
uint64_t store_digest(const struct store *st) { return st->digest; }

/* Full O(n) consistency check for tests: links, counts, owner lists, digest recomputed from
 * scratch. Aborts (ZK_ASSERT) on the first violation. */
void store_check_invariants(const struct store *st)
{
    ZK_ASSERT(!st->txn.active && st->root && st->root->parent == NULL);
    uint64_t digest = 0, data_size = 0;
    size_t nodes = 0, ephemerals = 0, special = 0, b = 0;
    chain_check(&st->nodes);
    chain_check(&st->acls);
    chain_check(&st->sessions);
    const struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &st->nodes) {
        const struct znode *n = CHAIN_ITEM(l, const struct znode, link);
        ZK_ASSERT(n->link.hash == store_hash_bytes(n->path, n->path_len));
        ZK_ASSERT(n->acl && n->acl->refcount > 0);
        ZK_ASSERT(n == st->root || (n->parent && path_is_valid(n->path, n->path_len)));
        int32_t children = 0;
        for (const struct znode *c = n->first_child; c; c = c->next_sibling, children++)
            ZK_ASSERT(c->parent == n && (c->next_sibling == NULL || c->next_sibling->prev_sibling == c));
        ZK_ASSERT(children == n->num_children);
        ZK_ASSERT(n->kind == ZK_KIND_PERSISTENT || n->kind == ZK_KIND_EPHEMERAL ||
                  n->kind == ZK_KIND_CONTAINER || n->kind == ZK_KIND_TTL);
        ephemerals += n->kind == ZK_KIND_EPHEMERAL;
        special += n->kind == ZK_KIND_CONTAINER || n->kind == ZK_KIND_TTL;
        if (n->kind == ZK_KIND_EPHEMERAL)
            ZK_ASSERT(session_find(st, n->ephemeral_owner) && n->num_children == 0);
        digest += store_node_digest(n);
        data_size += n->path_len + (n->data_len > 0 ? (uint64_t)n->data_len : 0);
        nodes++;
    }
    size_t session_ephemerals = 0;
    b = 0;
    CHAIN_FOR_EACH(l, b, &st->sessions) {
        const struct session *s = CHAIN_ITEM(l, const struct session, link);
        ZK_ASSERT(s->link.hash == store_mix64((uint64_t)s->id));
        digest += store_session_digest(s);
        size_t count = 0;
        for (const struct znode *n = s->ephemerals.head; n; n = n->owner_next, count++)
            ZK_ASSERT(n->ephemeral_owner == s->id && node_lookup(st, n->path, n->path_len) == n);
        ZK_ASSERT(count == s->ephemerals.count);
        session_ephemerals += count;
    }
    ZK_ASSERT(nodes == st->nodes.count && ephemerals == st->ephemeral_count);
    ZK_ASSERT(session_ephemerals == ephemerals && special == st->special.count);
    ZK_ASSERT(digest == st->digest && data_size == st->data_size);
}
