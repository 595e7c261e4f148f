/* Watch manager implementation (see watch.h): path and watcher hash tables with intrusive lists
 * of registrations, ZooKeeper WatchManager trigger semantics, allocation-free triggering. */
#include "store/watch.h"

#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "proto/zkproto.h"
#include "store/store_internal.h"

struct watch_reg {
    struct watch_reg *path_next, *path_prev;   /* within the path's list for its table */
    struct watch_reg *owner_next, *owner_prev; /* within the watcher's list */
    struct watch_path *wpath;
    struct watch_owner *owner;
    uint8_t table;
    uint8_t mode;
};

struct watch_path {
    struct watch_path *hash_next;
    uint64_t hash;
    struct watch_reg *heads[2];
    size_t len;
    char path[];
};

struct watch_owner {
    struct watch_owner *hash_next;
    uint64_t watcher;
    uint64_t mark; /* round in which it was last notified */
    struct watch_reg *regs;
    size_t reg_count;
};

#define WATCH_INITIAL_BUCKETS 64

int watch_init(struct watch_manager *wm)
{
    memset(wm, 0, sizeof *wm);
    wm->path_buckets = zk_calloc(WATCH_INITIAL_BUCKETS, sizeof *wm->path_buckets);
    wm->owner_buckets = zk_calloc(WATCH_INITIAL_BUCKETS, sizeof *wm->owner_buckets);
    if (!wm->path_buckets || !wm->owner_buckets) {
        zk_free(wm->path_buckets);
        zk_free(wm->owner_buckets);
        return -1;
    }
    wm->path_mask = WATCH_INITIAL_BUCKETS - 1;
    wm->owner_mask = WATCH_INITIAL_BUCKETS - 1;
    return 0;
}

static uint64_t watcher_hash(uint64_t watcher) { return store_mix64(watcher); }

static struct watch_path *path_find(const struct watch_manager *wm, const char *path, size_t len,
                                    uint64_t hash)
{
    for (struct watch_path *p = wm->path_buckets[hash & wm->path_mask]; p; p = p->hash_next)
        if (p->hash == hash && p->len == len && memcmp(p->path, path, len) == 0)
            return p;
    return NULL;
}

static struct watch_owner *owner_find(const struct watch_manager *wm, uint64_t watcher)
{
    uint64_t hash = watcher_hash(watcher);
    for (struct watch_owner *o = wm->owner_buckets[hash & wm->owner_mask]; o; o = o->hash_next)
        if (o->watcher == watcher)
            return o;
    return NULL;
}

/* Best-effort rehash of a table of singly linked entries; on OOM the table stays as it is. */
static void grow_paths(struct watch_manager *wm)
{
    size_t new_size = (wm->path_mask + 1) * 2;
    struct watch_path **nb = zk_calloc(new_size, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i <= wm->path_mask; i++) {
        struct watch_path *p = wm->path_buckets[i];
        while (p) {
            struct watch_path *next = p->hash_next;
            p->hash_next = nb[p->hash & (new_size - 1)];
            nb[p->hash & (new_size - 1)] = p;
            p = next;
        }
    }
    zk_free(wm->path_buckets);
    wm->path_buckets = nb;
    wm->path_mask = new_size - 1;
}

static void grow_owners(struct watch_manager *wm)
{
    size_t new_size = (wm->owner_mask + 1) * 2;
    struct watch_owner **nb = zk_calloc(new_size, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i <= wm->owner_mask; i++) {
        struct watch_owner *o = wm->owner_buckets[i];
        while (o) {
            struct watch_owner *next = o->hash_next;
            size_t b = watcher_hash(o->watcher) & (new_size - 1);
            o->hash_next = nb[b];
            nb[b] = o;
            o = next;
        }
    }
    zk_free(wm->owner_buckets);
    wm->owner_buckets = nb;
    wm->owner_mask = new_size - 1;
}

static void path_unlink_free(struct watch_manager *wm, struct watch_path *wp)
{
    struct watch_path **pp = &wm->path_buckets[wp->hash & wm->path_mask];
    while (*pp != wp) {
        ZK_ASSERT(*pp != NULL);
        pp = &(*pp)->hash_next;
    }
    *pp = wp->hash_next;
    wm->path_count--;
    zk_free(wp);
}

static void owner_unlink_free(struct watch_manager *wm, struct watch_owner *o)
{
    ZK_ASSERT(o->reg_count == 0 && o->regs == NULL);
    struct watch_owner **pp = &wm->owner_buckets[watcher_hash(o->watcher) & wm->owner_mask];
    while (*pp != o) {
        ZK_ASSERT(*pp != NULL);
        pp = &(*pp)->hash_next;
    }
    *pp = o->hash_next;
    wm->owner_count--;
    zk_free(o);
}

static struct watch_reg *reg_find(const struct watch_path *wp, uint64_t watcher, int table)
{
    for (struct watch_reg *r = wp->heads[table]; r; r = r->path_next)
        if (r->owner->watcher == watcher)
            return r;
    return NULL;
}

/* Remove one registration; frees its path entry and owner when they become empty. */
static void reg_remove(struct watch_manager *wm, struct watch_reg *r)
{
    struct watch_path *wp = r->wpath;
    struct watch_owner *o = r->owner;
    if (r->path_prev)
        r->path_prev->path_next = r->path_next;
    else
        wp->heads[r->table] = r->path_next;
    if (r->path_next)
        r->path_next->path_prev = r->path_prev;
    if (r->owner_prev)
        r->owner_prev->owner_next = r->owner_next;
    else
        o->regs = r->owner_next;
    if (r->owner_next)
        r->owner_next->owner_prev = r->owner_prev;
    if (r->mode == WATCH_RECURSIVE) {
        ZK_ASSERT(wm->recursive_count[r->table] > 0);
        wm->recursive_count[r->table]--;
    }
    ZK_ASSERT(wm->reg_count > 0 && o->reg_count > 0);
    wm->reg_count--;
    o->reg_count--;
    zk_free(r);
    if (!wp->heads[0] && !wp->heads[1])
        path_unlink_free(wm, wp);
    if (o->reg_count == 0)
        owner_unlink_free(wm, o);
}

static struct watch_path *path_get_or_create(struct watch_manager *wm, const char *path,
                                             size_t len, uint64_t hash)
{
    struct watch_path *wp = path_find(wm, path, len, hash);
    if (wp)
        return wp;
    wp = zk_calloc(1, sizeof *wp + len + 1);
    if (!wp)
        return NULL;
    wp->hash = hash;
    wp->len = len;
    memcpy(wp->path, path, len);
    wp->path[len] = '\0';
    wp->hash_next = wm->path_buckets[hash & wm->path_mask];
    wm->path_buckets[hash & wm->path_mask] = wp;
    wm->path_count++;
    return wp;
}

static struct watch_owner *owner_get_or_create(struct watch_manager *wm, uint64_t watcher)
{
    struct watch_owner *o = owner_find(wm, watcher);
    if (o)
        return o;
    o = zk_calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->watcher = watcher;
    size_t b = watcher_hash(watcher) & wm->owner_mask;
    o->hash_next = wm->owner_buckets[b];
    wm->owner_buckets[b] = o;
    wm->owner_count++;
    return o;
}

static void set_mode(struct watch_manager *wm, struct watch_reg *r, enum watch_mode mode)
{
    if (r->mode == WATCH_RECURSIVE)
        wm->recursive_count[r->table]--;
    r->mode = (uint8_t)mode;
    if (mode == WATCH_RECURSIVE)
        wm->recursive_count[r->table]++;
}

int watch_add(struct watch_manager *wm, const char *path, size_t len, uint64_t watcher,
              enum watch_table_id table, enum watch_mode mode)
{
    ZK_ASSERT(table == WATCH_DATA || table == WATCH_CHILD);
    uint64_t hash = store_hash_bytes(path, len);
    struct watch_path *existing = path_find(wm, path, len, hash);
    struct watch_reg *r = existing ? reg_find(existing, watcher, table) : NULL;
    if (r) { /* ZooKeeper: the set already holds the watcher; the mode is overwritten */
        set_mode(wm, r, mode);
        return 0;
    }
    r = zk_calloc(1, sizeof *r);
    struct watch_path *wp = r ? path_get_or_create(wm, path, len, hash) : NULL;
    struct watch_owner *o = wp ? owner_get_or_create(wm, watcher) : NULL;
    if (!o) {
        if (wp && !wp->heads[0] && !wp->heads[1])
            path_unlink_free(wm, wp);
        zk_free(r);
        return -1;
    }
    r->wpath = wp;
    r->owner = o;
    r->table = (uint8_t)table;
    r->mode = WATCH_STANDARD;
    r->path_next = wp->heads[table];
    if (r->path_next)
        r->path_next->path_prev = r;
    wp->heads[table] = r;
    r->owner_next = o->regs;
    if (r->owner_next)
        r->owner_next->owner_prev = r;
    o->regs = r;
    o->reg_count++;
    wm->reg_count++;
    set_mode(wm, r, mode);
    if (wm->path_count > wm->path_mask + 1)
        grow_paths(wm);
    if (wm->owner_count > wm->owner_mask + 1)
        grow_owners(wm);
    return 0;
}

void watch_begin_round(struct watch_manager *wm) { wm->serial++; }

static void notify_once(struct watch_manager *wm, struct watch_owner *o, int32_t event_type,
                        const char *path, watch_notify_fn notify, void *ctx)
{
    if (o->mark == wm->serial)
        return;
    o->mark = wm->serial;
    if (notify)
        notify(ctx, o->watcher, event_type, path);
}

/* Visit the registrations on one path (the event path itself, or an ancestor). */
static void trigger_at(struct watch_manager *wm, struct watch_path *wp, bool at_parent,
                       const char *event_path, int32_t event_type, int table,
                       watch_notify_fn notify, void *ctx)
{
    struct watch_reg *r = wp->heads[table];
    while (r) {
        struct watch_reg *next = r->path_next;
        struct watch_owner *o = r->owner;
        if (r->mode == WATCH_RECURSIVE) {
            if (event_type != ZEV_CHILDREN_CHANGED)
                notify_once(wm, o, event_type, event_path, notify, ctx);
        } else if (!at_parent) {
            bool one_shot = r->mode == WATCH_STANDARD;
            bool last_of_path = (next == NULL && r->path_prev == NULL &&
                                 wp->heads[table ^ 1] == NULL);
            /* Notify before removing: removal may free the owner. */
            notify_once(wm, o, event_type, event_path, notify, ctx);
            if (one_shot) {
                reg_remove(wm, r);
                if (last_of_path)
                    return; /* wp was freed */
            }
        }
        r = next;
    }
}

void watch_trigger(struct watch_manager *wm, const char *path, size_t len, int32_t event_type,
                   enum watch_table_id table, watch_notify_fn notify, void *ctx)
{
    ZK_ASSERT(len > 0 && path[0] == '/');
    size_t cur = len;
    bool at_parent = false;
    for (;;) {
        struct watch_path *wp = path_find(wm, path, cur, store_hash_bytes(path, cur));
        if (wp && wp->heads[table])
            trigger_at(wm, wp, at_parent, path, event_type, (int)table, notify, ctx);
        if (wm->recursive_count[table] == 0 || cur == 1)
            return;
        /* Next ancestor: strip the last component ("/a" -> "/"). */
        size_t slash = cur - 1;
        while (slash > 0 && path[slash] != '/')
            slash--;
        cur = slash == 0 ? 1 : slash;
        at_parent = true;
    }
}

bool watch_contains(const struct watch_manager *wm, const char *path, size_t len,
                    uint64_t watcher, enum watch_table_id table)
{
    struct watch_path *wp = path_find(wm, path, len, store_hash_bytes(path, len));
    return wp && reg_find(wp, watcher, table) != NULL;
}

bool watch_remove(struct watch_manager *wm, const char *path, size_t len, uint64_t watcher,
                  enum watch_table_id table)
{
    struct watch_path *wp = path_find(wm, path, len, store_hash_bytes(path, len));
    struct watch_reg *r = wp ? reg_find(wp, watcher, table) : NULL;
    if (!r)
        return false;
    reg_remove(wm, r);
    return true;
}

void watch_remove_watcher(struct watch_manager *wm, uint64_t watcher)
{
    struct watch_owner *o = owner_find(wm, watcher);
    if (!o)
        return;
    size_t n = o->reg_count;
    for (size_t i = 0; i + 1 < n; i++)
        reg_remove(wm, o->regs); /* owner survives until its last registration */
    reg_remove(wm, o->regs);
    ZK_ASSERT(owner_find(wm, watcher) == NULL);
}

void watch_free(struct watch_manager *wm)
{
    if (!wm->owner_buckets)
        return;
    for (size_t i = 0; i <= wm->owner_mask; i++)
        while (wm->owner_buckets[i])
            watch_remove_watcher(wm, wm->owner_buckets[i]->watcher);
    ZK_ASSERT(wm->reg_count == 0 && wm->path_count == 0);
    zk_free(wm->path_buckets);
    zk_free(wm->owner_buckets);
    memset(wm, 0, sizeof *wm);
}
