/* Tree mutations that record their inverse in the txn's undo log and queue the watch events
 * ZooKeeper's DataTree fires for them. Each reserves its undo/event slots first, so it either
 * fails with nothing changed or completes. Parent stats follow DataTree.createNode/deleteNode:
 * create bumps the parent's stored cversion and sets pzxid; delete only sets pzxid. */
#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

/* The reserve for an op and its quota update: on failure the update is dropped. */
static int reserve_with_quota(struct store *st, size_t events, struct quota_update *q)
{
    if (txn_reserve(st, q->stats ? 2 : 1, events)) {
        quota_discard(q);
        return STORE_ERR_NOMEM;
    }
    return 0;
}

int mutate_create(struct store *st, struct znode *parent, struct znode *n)
{
    ZK_ASSERT(parent != NULL && n->parent == NULL);
    struct quota_update q;
    if (quota_fill_stats_node(st, parent, n) ||
        quota_prepare_change(st, n->path, n->path_len, 1, n->data_len > 0 ? n->data_len : 0, &q))
        return STORE_ERR_NOMEM;
    if (reserve_with_quota(st, 2, &q))
        return STORE_ERR_NOMEM;
    struct undo_entry *e = txn_push_undo(st, UNDO_CREATE);
    e->node = n;
    e->saved_parent_cversion = parent->cversion;
    e->saved_parent_pzxid = parent->pzxid;
    store_digest_remove_node(st, parent);
    parent->cversion++;
    if (st->txn.zxid > parent->pzxid)
        parent->pzxid = st->txn.zxid;
    store_digest_add_node(st, parent);
    node_attach(st, parent, n);
    struct owner_list *owners = node_owner_list(st, n);
    if (owners) {
        owner_list_append(owners, n);
        if (n->kind == ZK_KIND_EPHEMERAL)
            st->ephemeral_count++;
    }
    txn_push_event(st, ZEV_CREATED, n);
    txn_push_event(st, ZEV_CHILDREN_CHANGED, parent);
    mutate_quota_stats(st, &q);
    return 0;
}

int mutate_delete(struct store *st, struct znode *n)
{
    struct znode *parent = n->parent;
    ZK_ASSERT(parent != NULL && n->num_children == 0);
    struct quota_update q;
    if (quota_prepare_change(st, n->path, n->path_len, -1, n->data_len > 0 ? -n->data_len : 0,
                             &q) ||
        reserve_with_quota(st, 2, &q))
        return STORE_ERR_NOMEM;
    struct undo_entry *e = txn_push_undo(st, UNDO_DELETE);
    e->node = n;
    e->parent = parent;
    e->saved_parent_pzxid = parent->pzxid;
    node_unlink(st, n);
    store_digest_remove_node(st, parent);
    if (st->txn.zxid > parent->pzxid)
        parent->pzxid = st->txn.zxid;
    store_digest_add_node(st, parent);
    txn_push_event(st, ZEV_DELETED, n);
    txn_push_event(st, ZEV_CHILDREN_CHANGED, parent);
    mutate_quota_stats(st, &q);
    return 0;
}

/* Replace n's data, undoably; as_write also makes it a write (version, mzxid, mtime). */
static void replace_data(struct store *st, struct znode *n, uint8_t *data, int32_t data_len,
                         bool as_write)
{
    struct undo_entry *e = txn_push_undo(st, UNDO_SET_DATA);
    e->node = n;
    e->saved_data = n->data;
    e->saved_data_len = n->data_len;
    e->saved_data_hash = n->data_hash;
    e->saved_version = n->version;
    e->saved_mzxid = n->mzxid;
    e->saved_mtime = n->mtime;
    store_digest_remove_node(st, n);
    st->data_size -= n->data_len > 0 ? (uint64_t)n->data_len : 0;
    n->data = data;
    n->data_len = data_len;
    n->data_hash = data_len > 0 ? store_hash_bytes(data, (size_t)data_len) : 0;
    if (as_write) {
        n->version++;
        n->mzxid = st->txn.zxid;
        n->mtime = st->txn.time_ms;
    }
    st->data_size += data_len > 0 ? (uint64_t)data_len : 0;
    store_digest_add_node(st, n);
}

void mutate_quota_stats(struct store *st, struct quota_update *q)
{
    if (!q->stats)
        return;
    replace_data(st, q->stats, q->data, q->len, false);
    q->data = NULL;
    q->stats = NULL;
}

int mutate_set_data(struct store *st, struct znode *n, uint8_t *data, int32_t data_len)
{
    int32_t old_len = n->data_len > 0 ? n->data_len : 0;
    struct quota_update q;
    if (quota_prepare_change(st, n->path, n->path_len, 0,
                             (int64_t)(data_len > 0 ? data_len : 0) - old_len, &q) ||
        reserve_with_quota(st, 1, &q))
        return STORE_ERR_NOMEM;
    replace_data(st, n, data, data_len, true);
    txn_push_event(st, ZEV_DATA_CHANGED, n);
    mutate_quota_stats(st, &q);
    return 0;
}

int mutate_set_acl(struct store *st, struct znode *n, struct acl_list *acl)
{
    if (txn_reserve(st, 1, 0))
        return STORE_ERR_NOMEM;
    struct undo_entry *e = txn_push_undo(st, UNDO_SET_ACL);
    e->node = n;
    e->saved_acl = n->acl;
    e->saved_version = n->aversion;
    store_digest_remove_node(st, n);
    n->acl = acl;
    n->aversion++;
    store_digest_add_node(st, n);
    return 0;
}
