/* The znode tree: path hash table, node allocation, parent/child links, owner lists
 * (session ephemerals, containers/TTL) and the node part of the incremental digest. */
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

struct znode *node_lookup_hashed(const struct store *st, const char *path, size_t len,
                                 uint64_t hash)
{
    for (struct chain_link *l = chain_bucket(&st->nodes, hash); l; l = l->next) {
        struct znode *n = CHAIN_ITEM(l, struct znode, link);
        if (l->hash == hash && n->path_len == len && memcmp(n->path, path, len) == 0)
            return n;
    }
    return NULL;
}

struct znode *node_lookup(const struct store *st, const char *path, size_t len)
{
    return node_lookup_hashed(st, path, len, store_hash_bytes(path, len));
}

const struct znode *node_next_preorder(const struct znode *top, const struct znode *n)
{
    if (n->first_child)
        return n->first_child;
    while (n != top && !n->next_sibling)
        n = n->parent;
    return n == top ? NULL : n->next_sibling;
}

struct znode *node_alloc(const char *path, size_t len, const uint8_t *data, int32_t data_len)
{
    ZK_ASSERT(len > 0 && len < UINT32_MAX);
    struct znode *n = zk_malloc(sizeof *n + len + 1);
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    if (data_len > 0) {
        n->data = zk_malloc((size_t)data_len);
        if (!n->data) {
            zk_free(n);
            return NULL;
        }
        memcpy(n->data, data, (size_t)data_len);
    }
    memcpy(n->path, path, len);
    n->path[len] = '\0';
    n->path_len = (uint32_t)len;
    n->link.hash = store_hash_bytes(path, len);
    n->data_len = data_len;
    n->data_hash = data_len > 0 ? store_hash_bytes(data, (size_t)data_len) : 0;
    return n;
}

/* Frees the node memory and drops its ACL reference; the node must be detached. */
void node_free(struct store *st, struct znode *n)
{
    if (n->acl)
        acl_release(&st->acls, n->acl);
    zk_free(n->data);
    zk_free(n);
}

void store_digest_add_node(struct store *st, const struct znode *n)
{
    st->digest += store_node_digest(n);
}

void store_digest_remove_node(struct store *st, const struct znode *n)
{
    st->digest -= store_node_digest(n);
}

/* Insert into the hash table and the parent's child list; digest and counters follow. */
void node_attach(struct store *st, struct znode *parent, struct znode *n)
{
    ZK_ASSERT(n->parent == NULL && n->link.next == NULL);
    ZK_ASSERT(node_lookup_hashed(st, n->path, n->path_len, n->link.hash) == NULL);
    chain_insert(&st->nodes, &n->link);
    if (parent) {
        n->parent = parent;
        n->prev_sibling = NULL;
        n->next_sibling = parent->first_child;
        if (parent->first_child)
            parent->first_child->prev_sibling = n;
        parent->first_child = n;
        parent->num_children++;
    }
    st->data_size += n->path_len + (n->data_len > 0 ? (uint64_t)n->data_len : 0);
    store_digest_add_node(st, n);
}

void node_detach(struct store *st, struct znode *n)
{
    ZK_ASSERT(n->first_child == NULL && n->num_children == 0);
    chain_remove(&st->nodes, &n->link);
    struct znode *parent = n->parent;
    if (parent) {
        if (n->prev_sibling)
            n->prev_sibling->next_sibling = n->next_sibling;
        else
            parent->first_child = n->next_sibling;
        if (n->next_sibling)
            n->next_sibling->prev_sibling = n->prev_sibling;
        ZK_ASSERT(parent->num_children > 0);
        parent->num_children--;
    }
    n->parent = NULL;
    n->next_sibling = n->prev_sibling = NULL;
    st->data_size -= n->path_len + (n->data_len > 0 ? (uint64_t)n->data_len : 0);
    store_digest_remove_node(st, n);
}

static void node_free_link(struct chain_link *l, void *st)
{
    node_free(st, CHAIN_ITEM(l, struct znode, link));
}

void node_table_free_all(struct store *st)
{
    chain_destroy(&st->nodes, node_free_link, st);
}

uint8_t node_kind_from_owner(int64_t owner)
{
    if (owner == 0)
        return ZK_KIND_PERSISTENT;
    if (owner == ZK_EPHEMERAL_CONTAINER)
        return ZK_KIND_CONTAINER;
    if ((owner & ZK_EPHEMERAL_TTL_MASK) == ZK_EPHEMERAL_TTL_MASK)
        return ZK_KIND_TTL;
    return ZK_KIND_EPHEMERAL;
}

void node_fill_stat(const struct znode *n, struct zk_stat *out)
{
    out->czxid = n->czxid;
    out->mzxid = n->mzxid;
    out->ctime = n->ctime;
    out->mtime = n->mtime;
    out->version = n->version;
    /* DataNode.copyStat: reported cversion = creates + deletes. */
    out->cversion = (int32_t)((uint32_t)n->cversion * 2u - (uint32_t)n->num_children);
    out->aversion = n->aversion;
    out->ephemeral_owner = n->kind == ZK_KIND_EPHEMERAL ? n->ephemeral_owner : 0;
    out->data_length = n->data_len > 0 ? n->data_len : 0;
    out->num_children = n->num_children;
    out->pzxid = n->pzxid;
}

void write_node_stat(struct jute_writer *jw, const struct znode *n)
{
    struct zk_stat s;
    node_fill_stat(n, &s);
    zk_stat_write(jw, &s);
}

void owner_list_append(struct owner_list *l, struct znode *n)
{
    ZK_ASSERT(n->owner_next == NULL && n->owner_prev == NULL && l->head != n);
    n->owner_prev = l->tail;
    if (l->tail)
        l->tail->owner_next = n;
    else
        l->head = n;
    l->tail = n;
    l->count++;
}

void owner_list_remove(struct owner_list *l, struct znode *n)
{
    if (n->owner_prev)
        n->owner_prev->owner_next = n->owner_next;
    else
        l->head = n->owner_next;
    if (n->owner_next)
        n->owner_next->owner_prev = n->owner_prev;
    else
        l->tail = n->owner_prev;
    n->owner_next = n->owner_prev = NULL;
    ZK_ASSERT(l->count > 0);
    l->count--;
}

/* The owner list a node belongs to, or NULL for plain persistent nodes. */
struct owner_list *node_owner_list(struct store *st, struct znode *n)
{
    if (n->kind == ZK_KIND_CONTAINER || n->kind == ZK_KIND_TTL)
        return &st->special;
    if (n->kind == ZK_KIND_EPHEMERAL) {
        struct session *s = session_find(st, n->ephemeral_owner);
        ZK_ASSERT(s != NULL);
        return &s->ephemerals;
    }
    return NULL;
}

void node_unlink(struct store *st, struct znode *n)
{
    struct owner_list *owners = node_owner_list(st, n);
    if (owners) {
        owner_list_remove(owners, n);
        if (n->kind == ZK_KIND_EPHEMERAL) {
            ZK_ASSERT(st->ephemeral_count > 0);
            st->ephemeral_count--;
        }
    }
    node_detach(st, n);
}
