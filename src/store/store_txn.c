/* Transaction context of one store_apply: the undo log (rollback of a failed multi or of an
 * out-of-memory mid-op), the list of watch events to fire once the txn committed, and the memory
 * whose release waits for the commit (deleted nodes, replaced data and ACLs, closed sessions). */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

void txn_begin(struct store *st, int64_t zxid, int64_t time_ms)
{
    struct txn_ctx *t = &st->txn;
    ZK_ASSERT(!t->active);
    t->active = true;
    t->undo_len = 0;
    t->events_len = 0;
    t->zxid = zxid;
    t->time_ms = time_ms;
}

static int grow_array(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t new_cap = *cap ? *cap : 16;
    while (new_cap < need)
        new_cap *= 2;
    void *p = zk_realloc(*arr, new_cap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = new_cap;
    return 0;
}

int txn_reserve(struct store *st, size_t undo_entries, size_t events)
{
    struct txn_ctx *t = &st->txn;
    ZK_ASSERT(t->active);
    if (grow_array((void **)&t->undo, &t->undo_cap, t->undo_len + undo_entries, sizeof *t->undo))
        return STORE_ERR_NOMEM;
    size_t need = t->events_len + events;
    if (need > t->events_cap) {
        size_t cap_keys = t->events_cap;
        if (grow_array((void **)&t->event_keys, &cap_keys, need, sizeof *t->event_keys))
            return STORE_ERR_NOMEM;
        size_t cap_events = t->events_cap;
        if (grow_array((void **)&t->events, &cap_events, need, sizeof *t->events))
            return STORE_ERR_NOMEM; /* keys array is merely larger than needed */
        t->events_cap = cap_events < cap_keys ? cap_events : cap_keys;
    }
    return 0;
}

struct undo_entry *txn_push_undo(struct store *st, uint8_t kind)
{
    struct txn_ctx *t = &st->txn;
    ZK_ASSERT(t->active && t->undo_len < t->undo_cap);
    struct undo_entry *e = &t->undo[t->undo_len++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    return e;
}

void txn_push_event(struct store *st, int32_t type, const struct znode *n)
{
    struct txn_ctx *t = &st->txn;
    ZK_ASSERT(t->active && t->events_len < t->events_cap);
    struct txn_event *ev = &t->events[t->events_len++];
    ev->type = type;
    ev->duplicate = false;
    ev->path = n->path;
    ev->path_len = n->path_len;
    ev->acl = n->acl;
    ev->hash = 0;
}

static void undo_create(struct store *st, struct undo_entry *e)
{
    struct znode *n = e->node, *parent = n->parent;
    node_unlink(st, n);
    store_digest_remove_node(st, parent);
    parent->cversion = e->saved_parent_cversion;
    parent->pzxid = e->saved_parent_pzxid;
    store_digest_add_node(st, parent);
    node_free(st, n);
}

static void undo_delete(struct store *st, struct undo_entry *e)
{
    struct znode *n = e->node, *parent = e->parent;
    store_digest_remove_node(st, parent);
    parent->pzxid = e->saved_parent_pzxid;
    store_digest_add_node(st, parent);
    node_attach(st, parent, n);
    struct owner_list *owners = node_owner_list(st, n);
    if (owners) {
        owner_list_append(owners, n);
        if (n->kind == ZK_KIND_EPHEMERAL)
            st->ephemeral_count++;
    }
}

static void undo_set_data(struct store *st, struct undo_entry *e)
{
    struct znode *n = e->node;
    store_digest_remove_node(st, n);
    st->data_size -= n->data_len > 0 ? (uint64_t)n->data_len : 0;
    zk_free(n->data);
    n->data = e->saved_data;
    n->data_len = e->saved_data_len;
    n->data_hash = e->saved_data_hash;
    n->version = e->saved_version;
    n->mzxid = e->saved_mzxid;
    n->mtime = e->saved_mtime;
    st->data_size += n->data_len > 0 ? (uint64_t)n->data_len : 0;
    store_digest_add_node(st, n);
}

static void undo_set_acl(struct store *st, struct undo_entry *e)
{
    struct znode *n = e->node;
    store_digest_remove_node(st, n);
    acl_release(&st->acls, n->acl);
    n->acl = e->saved_acl;
    n->aversion = e->saved_version;
    store_digest_add_node(st, n);
}

static void undo_one(struct store *st, struct undo_entry *e)
{
    switch (e->kind) {
    case UNDO_CREATE: undo_create(st, e); break;
    case UNDO_DELETE: undo_delete(st, e); break;
    case UNDO_SET_DATA: undo_set_data(st, e); break;
    case UNDO_SET_ACL: undo_set_acl(st, e); break;
    case UNDO_SESSION_ADD:
        session_unlink(st, e->session);
        zk_free(e->session);
        break;
    case UNDO_SESSION_UPDATE:
        st->digest -= store_session_digest(e->session);
        e->session->timeout_ms = e->saved_timeout;
        memcpy(e->session->passwd, e->saved_passwd, ZK_PASSWD_LEN);
        st->digest += store_session_digest(e->session);
        break;
    case UNDO_SESSION_REMOVE: session_link(st, e->session); break;
    default: ZK_UNREACHABLE();
    }
}

void txn_rollback(struct store *st)
{
    struct txn_ctx *t = &st->txn;
    ZK_ASSERT(t->active);
    while (t->undo_len > 0)
        undo_one(st, &t->undo[--t->undo_len]);
    t->events_len = 0;
    t->active = false;
}

static int compare_event_keys(const void *a, const void *b)
{
    const struct event_sort_key *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

/* Contract: at most one notification per (watcher, event, path) per txn, so repeated events of
 * one multi (or of many ephemerals under one parent) collapse to the first occurrence. */
static void mark_duplicate_events(struct txn_ctx *t)
{
    if (t->events_len < 2)
        return;
    for (size_t i = 0; i < t->events_len; i++) {
        struct txn_event *ev = &t->events[i];
        ev->hash = store_hash_bytes(ev->path, ev->path_len);
        t->event_keys[i] = (struct event_sort_key){ev->hash, ev->type, (uint32_t)i};
    }
    qsort(t->event_keys, t->events_len, sizeof *t->event_keys, compare_event_keys);
    for (size_t i = 1; i < t->events_len; i++) {
        struct event_sort_key *prev = &t->event_keys[i - 1], *cur = &t->event_keys[i];
        struct txn_event *a = &t->events[prev->index], *b = &t->events[cur->index];
        if (prev->hash == cur->hash && prev->type == cur->type && a->path_len == b->path_len &&
            memcmp(a->path, b->path, a->path_len) == 0)
            b->duplicate = true; /* keys sorted by index within equal (hash,type) */
    }
}

static void fire_event(struct store *st, const struct txn_event *ev)
{
    struct watch_manager *wm = &st->watches;
    watch_begin_round(wm);
    switch (ev->type) {
    case ZEV_CREATED:
    case ZEV_DATA_CHANGED:
        watch_trigger(wm, ev->path, ev->path_len, ev->type, ev->acl, WATCH_DATA, st->opts.notify,
                      st->opts.notify_ctx);
        break;
    case ZEV_DELETED: /* the child-table round suppresses watchers already notified */
        watch_trigger(wm, ev->path, ev->path_len, ev->type, ev->acl, WATCH_DATA, st->opts.notify,
                      st->opts.notify_ctx);
        watch_trigger(wm, ev->path, ev->path_len, ev->type, ev->acl, WATCH_CHILD, st->opts.notify,
                      st->opts.notify_ctx);
        break;
    case ZEV_CHILDREN_CHANGED:
        watch_trigger(wm, ev->path, ev->path_len, ev->type, ev->acl, WATCH_CHILD, st->opts.notify,
                      st->opts.notify_ctx);
        break;
    default: ZK_UNREACHABLE();
    }
}

static void release_committed(struct store *st, struct undo_entry *e)
{
    switch (e->kind) {
    case UNDO_DELETE: node_free(st, e->node); break;
    case UNDO_SET_DATA: zk_free(e->saved_data); break;
    case UNDO_SET_ACL: acl_release(&st->acls, e->saved_acl); break;
    case UNDO_SESSION_REMOVE: zk_free(e->session); break;
    default: break;
    }
}

void txn_commit(struct store *st)
{
    struct txn_ctx *t = &st->txn;
    ZK_ASSERT(t->active);
    mark_duplicate_events(t);
    for (size_t i = 0; i < t->events_len; i++)
        if (!t->events[i].duplicate)
            fire_event(st, &t->events[i]);
    for (size_t i = 0; i < t->undo_len; i++)
        release_committed(st, &t->undo[i]);
    t->undo_len = 0;
    t->events_len = 0;
    t->active = false;
    chain_maybe_grow(&st->nodes);
    chain_maybe_grow(&st->sessions);
}

void txn_ctx_free(struct txn_ctx *t)
{
    ZK_ASSERT(!t->active);
    zk_free(t->undo);
    zk_free(t->events);
    zk_free(t->event_keys);
    memset(t, 0, sizeof *t);
}
