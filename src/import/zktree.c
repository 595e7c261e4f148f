/* ZooKeeper's DataTree, modelled for the import (see zktree.h). Function names follow the Java
 * methods they mirror so the two can be read side by side. */
#include "import/zktree.h"

#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "proto/jute.h"

#define ZK_SUBTREE "/zookeeper/" /* ZooDefs.ZOOKEEPER_NODE_SUBTREE: outside the digest */
#define EXTENDED_MASK 0xFF00000000000000ULL
#define ZKIMP_QUOTA_PATH_MAX 8192

/* ---- hashing ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return mix64(h ^ n);
}

static uint64_t path_hash(const char *path, size_t len) { return hash_bytes(path, len, 0); }

static uint64_t eph_hash(int64_t owner, const char *path, size_t len)
{
    return hash_bytes(path, len, mix64((uint64_t)owner));
}

/* EphemeralType.get(owner) == NORMAL with extended types on: a session owns the node. */
static bool owner_is_session(int64_t owner)
{
    return owner != 0 && owner != INT64_MIN && ((uint64_t)owner & EXTENDED_MASK) != EXTENDED_MASK;
}

static long last_slash(const char *path, size_t len)
{
    for (size_t i = len; i > 0; i--)
        if (path[i - 1] == '/')
            return (long)(i - 1);
    return -1;
}

/* ---- lifetime ---- */

static const uint8_t OPEN_ACL_BYTES[] = {0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 5, 'w', 'o', 'r',
                                         'l', 'd', 0, 0, 0, 6, 'a', 'n', 'y', 'o', 'n', 'e'};

int zt_init(struct zt *t)
{
    memset(t, 0, sizeof *t);
    t->open_acl = zk_calloc(1, sizeof *t->open_acl + sizeof OPEN_ACL_BYTES);
    if (!t->open_acl || chain_init(&t->nodes, 1024) || chain_init(&t->acl_ids, 64) ||
        chain_init(&t->acl_vals, 64) || chain_init(&t->owners, 64) || chain_init(&t->ephs, 64) ||
        chain_init(&t->sessions, 64)) {
        zt_free(t);
        return -1;
    }
    t->open_acl->id = ZT_OPEN_ACL_ID;
    t->open_acl->len = sizeof OPEN_ACL_BYTES;
    memcpy(t->open_acl->bytes, OPEN_ACL_BYTES, sizeof OPEN_ACL_BYTES);
    return 0;
}

static void free_node(struct chain_link *l, void *ctx)
{
    (void)ctx;
    struct zt_node *n = CHAIN_ITEM(l, struct zt_node, link);
    zk_free(n->data);
    zk_free(n);
}

static void free_acl(struct chain_link *l, void *ctx)
{
    (void)ctx;
    zk_free(CHAIN_ITEM(l, struct zt_acl, by_id));
}

static void free_nothing(struct chain_link *l, void *ctx) { (void)l, (void)ctx; }

static void free_owner(struct chain_link *l, void *ctx)
{
    (void)ctx;
    zk_free(CHAIN_ITEM(l, struct zt_owner, link));
}

static void free_eph(struct chain_link *l, void *ctx)
{
    (void)ctx;
    zk_free(CHAIN_ITEM(l, struct zt_eph, link));
}

static void free_session(struct chain_link *l, void *ctx)
{
    (void)ctx;
    zk_free(CHAIN_ITEM(l, struct zt_session, link));
}

void zt_free(struct zt *t)
{
    chain_destroy(&t->nodes, free_node, NULL);
    chain_destroy(&t->acl_vals, free_nothing, NULL); /* the same items as acl_ids */
    chain_destroy(&t->acl_ids, free_acl, NULL);
    chain_destroy(&t->ephs, free_eph, NULL);
    chain_destroy(&t->owners, free_owner, NULL);
    chain_destroy(&t->sessions, free_session, NULL);
    zk_free(t->open_acl);
    memset(t, 0, sizeof *t);
}

/* ---- nodes and child sets ---- */

struct zt_node *zt_lookup(const struct zt *t, const char *path, size_t len)
{
    if (len == 1 && path[0] == '/')
        len = 0; /* DataTree maps "/" to the root too */
    uint64_t h = path_hash(path, len);
    for (struct chain_link *l = chain_bucket(&t->nodes, h); l; l = l->next) {
        struct zt_node *n = CHAIN_ITEM(l, struct zt_node, link);
        if (l->hash == h && n->path_len == len && memcmp(n->path, path, len) == 0)
            return n;
    }
    return NULL;
}

static struct zt_node *node_new(const char *path, size_t len, struct zkbuf data)
{
    struct zt_node *n = zk_calloc(1, sizeof *n + len + 1);
    if (!n)
        return NULL;
    if (data.len > 0) {
        n->data = zk_malloc((size_t)data.len);
        if (!n->data) {
            zk_free(n);
            return NULL;
        }
        memcpy(n->data, data.ptr, (size_t)data.len);
    }
    n->data_len = data.len;
    memcpy(n->path, path, len);
    n->path_len = (uint32_t)len;
    n->link.hash = path_hash(path, len);
    return n;
}

static void child_add(struct zt_node *parent, struct zt_node *n)
{
    n->parent = parent;
    n->prev_sibling = NULL;
    n->next_sibling = parent->first_child;
    if (parent->first_child)
        parent->first_child->prev_sibling = n;
    parent->first_child = n;
    parent->num_children++;
}

static void child_remove(struct zt_node *n)
{
    struct zt_node *p = n->parent;
    ZK_ASSERT(p && p->num_children > 0);
    if (n->prev_sibling)
        n->prev_sibling->next_sibling = n->next_sibling;
    else
        p->first_child = n->next_sibling;
    if (n->next_sibling)
        n->next_sibling->prev_sibling = n->prev_sibling;
    n->parent = n->next_sibling = n->prev_sibling = NULL;
    p->num_children--;
}

/* ---- ephemeral sets ---- */

static struct zt_owner *owner_find(const struct zt *t, int64_t owner)
{
    uint64_t h = mix64((uint64_t)owner);
    for (struct chain_link *l = chain_bucket(&t->owners, h); l; l = l->next) {
        struct zt_owner *o = CHAIN_ITEM(l, struct zt_owner, link);
        if (o->owner == owner)
            return o;
    }
    return NULL;
}

static struct zt_eph *eph_find(const struct zt *t, int64_t owner, const char *path, size_t len)
{
    uint64_t h = eph_hash(owner, path, len);
    for (struct chain_link *l = chain_bucket(&t->ephs, h); l; l = l->next) {
        struct zt_eph *e = CHAIN_ITEM(l, struct zt_eph, link);
        if (l->hash == h && e->set->owner == owner && e->path_len == len &&
            memcmp(e->path, path, len) == 0)
            return e;
    }
    return NULL;
}

static void eph_list_unlink(struct zt_eph **head, struct zt_eph *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        *head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
}

static void eph_list_push(struct zt_eph **head, struct zt_eph *e)
{
    e->prev = NULL;
    e->next = *head;
    if (*head)
        (*head)->prev = e;
    *head = e;
}

static struct zt_owner *owner_get(struct zt *t, int64_t owner)
{
    struct zt_owner *o = owner_find(t, owner);
    if (o)
        return o;
    o = zk_calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->owner = owner;
    o->link.hash = mix64((uint64_t)owner);
    chain_insert(&t->owners, &o->link);
    chain_maybe_grow(&t->owners);
    return o;
}

/* ephemerals.get(owner).add(path), the entry now standing for node n. */
static int eph_add(struct zt *t, int64_t owner, struct zt_node *n)
{
    struct zt_eph *e = eph_find(t, owner, n->path, n->path_len);
    if (!e) {
        struct zt_owner *o = owner_get(t, owner);
        e = o ? zk_calloc(1, sizeof *e + n->path_len + 1) : NULL;
        if (!e)
            return ZT_NOMEM;
        e->set = o;
        e->path_len = n->path_len;
        memcpy(e->path, n->path, n->path_len);
        e->link.hash = eph_hash(owner, n->path, n->path_len);
        chain_insert(&t->ephs, &e->link);
        chain_maybe_grow(&t->ephs);
        eph_list_push(&o->head, e);
    }
    if (e->node)
        e->node->eph = NULL;
    e->node = n;
    n->eph = e;
    return ZT_OK;
}

/* ephemerals.get(owner).remove(path) */
static void eph_remove(struct zt *t, struct zt_eph *e)
{
    if (e->node)
        e->node->eph = NULL;
    eph_list_unlink(&e->set->head, e);
    chain_remove(&t->ephs, &e->link);
    zk_free(e);
}

/* ---- map removal ---- */

/* Take n out of the map. Its children stay in the map, outside the tree. A delete also takes its
 * path out of its owner's set; a node merely replaced in the map (nodes.put over it) leaves the
 * path in the set, as ZooKeeper does. */
static void map_remove(struct zt *t, struct zt_node *n, bool deleted)
{
    while (n->first_child)
        child_remove(n->first_child);
    if (n->parent)
        child_remove(n);
    if (n->eph) {
        if (deleted) {
            eph_remove(t, n->eph);
        } else {
            n->eph->node = NULL;
            n->eph = NULL;
        }
    }
    chain_remove(&t->nodes, &n->link);
    if (t->root == n)
        t->root = NULL;
    free_node(&n->link, NULL);
}

/* nodes.put(path, n) under parent (NULL: n becomes the root). */
static int map_put(struct zt *t, struct zt_node *parent, struct zt_node *n)
{
    struct zt_node *old = zt_lookup(t, n->path, n->path_len);
    if (old)
        map_remove(t, old, false);
    chain_insert(&t->nodes, &n->link);
    chain_maybe_grow(&t->nodes);
    if (parent)
        child_add(parent, n);
    else
        t->root = n;
    return owner_is_session(n->owner) ? eph_add(t, n->owner, n) : ZT_OK;
}

/* ---- ACL cache ---- */

static struct zt_acl *acl_by_id(const struct zt *t, int64_t id)
{
    uint64_t h = mix64((uint64_t)id);
    for (struct chain_link *l = chain_bucket(&t->acl_ids, h); l; l = l->next) {
        struct zt_acl *a = CHAIN_ITEM(l, struct zt_acl, by_id);
        if (a->id == id)
            return a;
    }
    return NULL;
}

static struct zt_acl *acl_by_bytes(const struct zt *t, const uint8_t *bytes, uint32_t len)
{
    uint64_t h = hash_bytes(bytes, len, 0);
    for (struct chain_link *l = chain_bucket(&t->acl_vals, h); l; l = l->next) {
        struct zt_acl *a = CHAIN_ITEM(l, struct zt_acl, by_bytes);
        if (l->hash == h && a->len == len && memcmp(a->bytes, bytes, len) == 0)
            return a;
    }
    return NULL;
}

static void acl_drop(struct zt *t, struct zt_acl *a)
{
    chain_remove(&t->acl_ids, &a->by_id);
    chain_remove(&t->acl_vals, &a->by_bytes);
    zk_free(a);
}

int zt_load_acl(struct zt *t, int64_t id, const uint8_t *bytes, uint32_t len)
{
    struct zt_acl *old = acl_by_id(t, id);
    if (old)
        acl_drop(t, old); /* longKeyMap.put replaces */
    struct zt_acl *a = zk_calloc(1, sizeof *a + len);
    if (!a)
        return ZT_NOMEM;
    a->id = id;
    a->len = len;
    memcpy(a->bytes, bytes, len);
    a->by_id.hash = mix64((uint64_t)id);
    a->by_bytes.hash = hash_bytes(bytes, len, 0);
    chain_insert(&t->acl_ids, &a->by_id);
    chain_insert(&t->acl_vals, &a->by_bytes);
    chain_maybe_grow(&t->acl_ids);
    chain_maybe_grow(&t->acl_vals);
    if (id > t->acl_index)
        t->acl_index = id;
    return ZT_OK;
}

/* ReferenceCountedACLCache.convertAcls */
static int convert_acls(struct zt *t, struct zkbuf acl, int64_t *id)
{
    if (acl.len < 0) {
        *id = ZT_OPEN_ACL_ID;
        return ZT_OK;
    }
    struct zt_acl *a = acl_by_bytes(t, acl.ptr, (uint32_t)acl.len);
    if (a) {
        *id = a->id;
        return ZT_OK;
    }
    int64_t next = t->acl_index + 1;
    int rc = zt_load_acl(t, next, acl.ptr, (uint32_t)acl.len);
    if (rc == ZT_OK)
        *id = next;
    return rc;
}

struct zt_acl *zt_acl_of(const struct zt *t, int64_t id)
{
    return id == ZT_OPEN_ACL_ID ? t->open_acl : acl_by_id(t, id);
}

struct zt_acl *zt_acl_canonical(const struct zt *t, struct zt_acl *a)
{
    struct zt_acl *c = acl_by_bytes(t, a->bytes, a->len);
    return c ? c : a; /* only the open list may be outside the table */
}

/* ---- building from a snapshot ---- */

int zt_load_node(struct zt *t, const char *path, size_t len, const struct zt_node *proto,
                 struct zkbuf data)
{
    long slash = last_slash(path, len);
    struct zt_node *parent = NULL;
    if (len > 0) {
        parent = slash >= 0 ? zt_lookup(t, path, (size_t)slash) : NULL;
        if (!parent)
            return ZT_NONODE; /* "Invalid Datatree, unable to find parent" */
    }
    struct zt_node *n = node_new(path, len, data);
    if (!n)
        return ZT_NOMEM;
    n->acl = proto->acl;
    n->czxid = proto->czxid, n->mzxid = proto->mzxid, n->ctime = proto->ctime;
    n->mtime = proto->mtime, n->owner = proto->owner, n->pzxid = proto->pzxid;
    n->version = proto->version, n->cversion = proto->cversion, n->aversion = proto->aversion;
    return map_put(t, parent, n);
}

/* ---- DataTree mutations ---- */

int zt_create_node(struct zt *t, const struct zt_create *c)
{
    long slash = last_slash(c->path, c->path_len);
    ZK_ASSERT(slash >= 0); /* the txn parser only passes paths starting with '/' */
    struct zt_node *parent = zt_lookup(t, c->path, (size_t)slash);
    if (!parent)
        return ZT_NONODE;
    int64_t acl;
    int rc = convert_acls(t, c->acl, &acl); /* before the exists check, as createNode does */
    if (rc != ZT_OK)
        return rc;
    struct zt_node *old = zt_lookup(t, c->path, c->path_len);
    if (old && old->parent == parent)
        return ZT_NODEEXISTS;
    ZK_ASSERT(!old || old->parent == NULL); /* anything else in the map is a child of its parent */
    struct zt_node *n = node_new(c->path, c->path_len, c->data);
    if (!n)
        return ZT_NOMEM;
    int32_t cv = c->parent_cversion;
    if (cv == -1)
        cv = (int32_t)((uint32_t)parent->cversion + 1); /* Java int arithmetic wraps */
    if (cv > parent->cversion) { /* a replayed create must not move the parent back */
        parent->cversion = cv;
        parent->pzxid = c->zxid;
    }
    n->acl = acl;
    n->czxid = n->mzxid = n->pzxid = c->zxid;
    n->ctime = n->mtime = c->time;
    n->owner = c->owner;
    return map_put(t, parent, n);
}

int zt_delete_node(struct zt *t, const char *path, size_t len, int64_t zxid)
{
    long slash = last_slash(path, len);
    ZK_ASSERT(slash >= 0);
    struct zt_node *parent = zt_lookup(t, path, (size_t)slash);
    if (!parent)
        return ZT_NONODE;
    struct zt_node *n = zt_lookup(t, path, len);
    if (n && n->parent == parent)
        child_remove(n); /* parent.removeChild(childName) */
    if (zxid > parent->pzxid) /* even when the child is already gone (fuzzy snapshot) */
        parent->pzxid = zxid;
    if (!n)
        return ZT_NONODE;
    map_remove(t, n, true);
    return ZT_OK;
}

int zt_set_data(struct zt *t, const char *path, size_t len, struct zkbuf data, int32_t version,
                int64_t zxid, int64_t time)
{
    struct zt_node *n = zt_lookup(t, path, len);
    if (!n)
        return ZT_NONODE;
    uint8_t *copy = NULL;
    if (data.len > 0) {
        copy = zk_malloc((size_t)data.len);
        if (!copy)
            return ZT_NOMEM;
        memcpy(copy, data.ptr, (size_t)data.len);
    }
    zk_free(n->data);
    n->data = copy;
    n->data_len = data.len;
    n->mtime = time;
    n->mzxid = zxid;
    n->version = version;
    return ZT_OK;
}

int zt_set_acl(struct zt *t, const char *path, size_t len, struct zkbuf acl, int32_t version)
{
    struct zt_node *n = zt_lookup(t, path, len);
    if (!n)
        return ZT_NONODE;
    n->aversion = version;
    return convert_acls(t, acl, &n->acl);
}

int zt_set_cversion_pzxid(struct zt *t, const char *path, size_t len, int32_t cversion,
                          int64_t zxid)
{
    if (len > 0 && path[len - 1] == '/')
        len--;
    struct zt_node *n = zt_lookup(t, path, len);
    if (!n)
        return ZT_NONODE;
    if (cversion == -1)
        cversion = (int32_t)((uint32_t)n->cversion + 1);
    if (cversion > n->cversion) {
        n->cversion = cversion;
        n->pzxid = zxid;
    }
    return ZT_OK;
}

/* ---- sessions ---- */

struct zt_session *zt_session_find(const struct zt *t, int64_t id)
{
    uint64_t h = mix64((uint64_t)id);
    for (struct chain_link *l = chain_bucket(&t->sessions, h); l; l = l->next) {
        struct zt_session *s = CHAIN_ITEM(l, struct zt_session, link);
        if (s->id == id)
            return s;
    }
    return NULL;
}

int zt_session_put(struct zt *t, int64_t id, int32_t timeout)
{
    struct zt_session *s = zt_session_find(t, id);
    if (!s) {
        s = zk_calloc(1, sizeof *s);
        if (!s)
            return ZT_NOMEM;
        s->id = id;
        s->link.hash = mix64((uint64_t)id);
        chain_insert(&t->sessions, &s->link);
        chain_maybe_grow(&t->sessions);
    }
    s->timeout = timeout;
    return ZT_OK;
}

void zt_session_remove(struct zt *t, int64_t id)
{
    struct zt_session *s = zt_session_find(t, id);
    if (s) {
        chain_remove(&t->sessions, &s->link);
        zk_free(s);
    }
}

/* ephemerals.remove(session): the set leaves the map; its paths become a plain list whose nodes
 * no longer point at it (a delete of them then touches no set, as in ZooKeeper). */
static struct zt_eph *detach_set(struct zt *t, int64_t session)
{
    struct zt_owner *o = owner_find(t, session);
    if (!o)
        return NULL;
    struct zt_eph *list = o->head;
    for (struct zt_eph *e = list; e; e = e->next) {
        chain_remove(&t->ephs, &e->link);
        if (e->node)
            e->node->eph = NULL;
        e->node = NULL;
    }
    chain_remove(&t->owners, &o->link);
    zk_free(o);
    return list;
}

static void free_list(struct zt_eph *e)
{
    while (e) {
        struct zt_eph *next = e->next;
        zk_free(e);
        e = next;
    }
}

/* paths2DeleteLocal.remove(path) for every path of the txn. */
static int drop_txn_paths(struct zt_eph **list, const struct zkbuf *paths, int32_t n_paths)
{
    struct chain_table byp;
    if (chain_init(&byp, 64))
        return ZT_NOMEM;
    for (struct zt_eph *e = *list; e; e = e->next) {
        e->link.hash = path_hash(e->path, e->path_len);
        chain_insert(&byp, &e->link);
        chain_maybe_grow(&byp);
    }
    for (int32_t i = 0; i < n_paths; i++) {
        uint64_t h = path_hash((const char *)paths[i].ptr, (size_t)paths[i].len);
        for (struct chain_link *l = chain_bucket(&byp, h); l; l = l->next) {
            struct zt_eph *e = CHAIN_ITEM(l, struct zt_eph, link);
            if (l->hash == h && e->path_len == (uint32_t)paths[i].len &&
                memcmp(e->path, paths[i].ptr, e->path_len) == 0) {
                chain_remove(&byp, &e->link);
                eph_list_unlink(list, e);
                zk_free(e);
                break;
            }
        }
    }
    zk_free(byp.buckets); /* the items live on in the list */
    return ZT_OK;
}

int zt_kill_session(struct zt *t, int64_t session, int64_t zxid, const struct zkbuf *paths,
                    int32_t n_paths)
{
    struct zt_eph *local = detach_set(t, session);
    int rc = ZT_OK;
    for (int32_t i = 0; i < n_paths && rc != ZT_NOMEM; i++)
        rc = zt_delete_node(t, (const char *)paths[i].ptr, (size_t)paths[i].len, zxid);
    if (rc != ZT_NOMEM && paths && local)
        rc = drop_txn_paths(&local, paths, n_paths);
    for (struct zt_eph *e = local; e && rc != ZT_NOMEM; e = e->next)
        rc = zt_delete_node(t, e->path, e->path_len, zxid);
    free_list(local);
    return rc == ZT_NOMEM ? ZT_NOMEM : ZT_OK;
}

long zt_kill_dead_sessions(struct zt *t, int64_t zxid)
{
    size_t n = 0, b = 0;
    int64_t *dead = zk_calloc(t->owners.count ? t->owners.count : 1, sizeof *dead);
    if (!dead)
        return -1;
    struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &t->owners) {
        struct zt_owner *o = CHAIN_ITEM(l, struct zt_owner, link);
        if (o->head && !zt_session_find(t, o->owner))
            dead[n++] = o->owner;
    }
    int rc = ZT_OK;
    for (size_t i = 0; i < n && rc == ZT_OK; i++)
        rc = zt_kill_session(t, dead[i], zxid, NULL, 0);
    zk_free(dead);
    return rc == ZT_OK ? (long)n : -1;
}

/* ---- member-local nodes ---- */

#define QUOTA_ROOT "/zookeeper/quota" /* Quotas.quotaZookeeper */
#define QUOTA_LIMITS "/zookeeper_limits"
#define QUOTA_STATS "/zookeeper_stats"

/* DataTree.getCounts: the node itself and every descendant, and their data bytes. */
static void subtree_counts(const struct zt_node *top, int64_t *count, int64_t *bytes)
{
    *count = 0, *bytes = 0;
    for (const struct zt_node *n = top; n;) {
        *count += 1;
        *bytes += n->data_len > 0 ? n->data_len : 0;
        if (n->first_child) {
            n = n->first_child;
            continue;
        }
        while (n != top && !n->next_sibling)
            n = n->parent;
        n = n == top ? NULL : n->next_sibling;
    }
}

/* DataTree.updateQuotaForPath for the limits leaf at `limits`. */
static int update_quota(struct zt *t, const struct zt_node *limits)
{
    const char *real = limits->path + strlen(QUOTA_ROOT);
    const char *end = strstr(limits->path, QUOTA_LIMITS); /* path.indexOf(endString) */
    if (!end || end < real)
        return ZT_OK;
    size_t real_len = (size_t)(end - real);
    const struct zt_node *node = zt_lookup(t, real, real_len);
    char stats[ZKIMP_QUOTA_PATH_MAX];
    int n = snprintf(stats, sizeof stats, "%s%.*s%s", QUOTA_ROOT, (int)real_len, real, QUOTA_STATS);
    if (!node || n < 0 || (size_t)n >= sizeof stats)
        return ZT_OK; /* ZooKeeper: "Missing quota stat node" (or a path too long to name it) */
    int64_t count, bytes;
    subtree_counts(node, &count, &bytes);
    char value[64];
    int len = snprintf(value, sizeof value, "count=%lld,bytes=%lld", (long long)count,
                       (long long)bytes);
    struct zt_node *stat_node = zt_lookup(t, stats, (size_t)n);
    if (!stat_node)
        return ZT_OK;
    uint8_t *copy = zk_malloc((size_t)len);
    if (!copy)
        return ZT_NOMEM;
    memcpy(copy, value, (size_t)len);
    zk_free(stat_node->data);
    stat_node->data = copy; /* the data only: ZooKeeper does not touch the Stat */
    stat_node->data_len = len;
    return ZT_OK;
}

long zt_setup_quota(struct zt *t)
{
    struct zt_node *top = zt_lookup(t, QUOTA_ROOT, strlen(QUOTA_ROOT));
    long quotas = 0;
    for (const struct zt_node *n = top; n;) { /* DataTree.traverseNode: the leaves */
        size_t ll = strlen(QUOTA_LIMITS);
        if (!n->first_child && n->path_len >= ll &&
            memcmp(n->path + n->path_len - ll, QUOTA_LIMITS, ll) == 0) {
            if (update_quota(t, n) != ZT_OK)
                return -1;
            quotas++;
        }
        if (n->first_child) {
            n = n->first_child;
            continue;
        }
        while (n != top && !n->next_sibling)
            n = n->parent;
        n = n == top ? NULL : n->next_sibling;
    }
    return quotas;
}

void zt_reset_config(struct zt *t)
{
    struct zt_node *n = zt_lookup(t, "/zookeeper/config", strlen("/zookeeper/config"));
    if (!n)
        return;
    zk_free(n->data);
    n->data = NULL;
    n->data_len = 0;
    n->czxid = n->mzxid = n->ctime = n->mtime = n->pzxid = 0;
    n->version = n->cversion = n->aversion = 0;
}

/* ---- digest and walks ---- */

static uint64_t node_zk_digest(const struct zt_node *n)
{
    uint8_t b[60]; /* DigestCalculator: the stat fields in this order */
    be64_store(b, (uint64_t)n->czxid);
    be64_store(b + 8, (uint64_t)n->mzxid);
    be64_store(b + 16, (uint64_t)n->pzxid);
    be64_store(b + 24, (uint64_t)n->ctime);
    be64_store(b + 32, (uint64_t)n->mtime);
    be32_store(b + 40, (uint32_t)n->version);
    be32_store(b + 44, (uint32_t)n->cversion);
    be32_store(b + 48, (uint32_t)n->aversion);
    be64_store(b + 52, (uint64_t)n->owner);
    uint32_t crc = zkf_crc32(0, (const uint8_t *)n->path, n->path_len);
    if (n->data_len > 0)
        crc = zkf_crc32(crc, n->data, (size_t)n->data_len);
    return zkf_crc32(crc, b, sizeof b);
}

uint64_t zt_zk_digest(const struct zt *t)
{
    uint64_t sum = 0;
    size_t b = 0;
    const struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &t->nodes) {
        const struct zt_node *n = CHAIN_ITEM(l, const struct zt_node, link);
        if (n->path_len < strlen(ZK_SUBTREE) || memcmp(n->path, ZK_SUBTREE, strlen(ZK_SUBTREE)))
            sum += node_zk_digest(n); /* Java long arithmetic wraps */
    }
    return sum;
}

const struct zt_node *zt_next_preorder(const struct zt_node *n)
{
    if (n->first_child)
        return n->first_child;
    while (n && !n->next_sibling)
        n = n->parent;
    return n ? n->next_sibling : NULL;
}

size_t zt_orphan_count(const struct zt *t)
{
    size_t reachable = 0;
    for (const struct zt_node *n = t->root; n; n = zt_next_preorder(n))
        reachable++;
    return t->nodes.count - reachable;
}
