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
    struct chain_link link; /* link.hash: hash of the path */
    struct watch_reg *heads[2];
    size_t len;
    char path[];
};

struct watch_owner {
    struct chain_link link; /* link.hash: store_mix64(watcher) */
    uint64_t watcher;
    uint64_t mark; /* round in which it was last notified */
    struct watch_reg *regs;
    size_t reg_count;
};

#define WATCH_INITIAL_BUCKETS 64

int watch_init(struct watch_manager *wm)
{
    memset(wm, 0, sizeof *wm);
    if (chain_init(&wm->paths, WATCH_INITIAL_BUCKETS) ||
        chain_init(&wm->owners, WATCH_INITIAL_BUCKETS)) {
        chain_destroy(&wm->paths, NULL, NULL);
        return -1;
    }
    return 0;
}

static uint64_t watcher_hash(uint64_t watcher) { return store_mix64(watcher); }

static struct watch_path *path_find(const struct watch_manager *wm, const char *path, size_t len,
                                    uint64_t hash)
{
    for (struct chain_link *l = chain_bucket(&wm->paths, hash); l; l = l->next) {
        struct watch_path *p = CHAIN_ITEM(l, struct watch_path, link);
        if (l->hash == hash && p->len == len && memcmp(p->path, path, len) == 0)
            return p;
    }
    return NULL;
}

static struct watch_owner *owner_find(const struct watch_manager *wm, uint64_t watcher)
{
    uint64_t hash = watcher_hash(watcher);
    for (struct chain_link *l = chain_bucket(&wm->owners, hash); l; l = l->next) {
        struct watch_owner *o = CHAIN_ITEM(l, struct watch_owner, link);
        if (l->hash == hash && o->watcher == watcher)
            return o;
    }
    return NULL;
}

static void path_unlink_free(struct watch_manager *wm, struct watch_path *wp)
{
    ZK_ASSERT(!wp->heads[0] && !wp->heads[1]);
    chain_remove(&wm->paths, &wp->link);
    zk_free(wp);
}

static void owner_unlink_free(struct watch_manager *wm, struct watch_owner *o)
{
    ZK_ASSERT(o->reg_count == 0 && o->regs == NULL);
    chain_remove(&wm->owners, &o->link);
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
    wp->link.hash = hash;
    wp->len = len;
    memcpy(wp->path, path, len);
    wp->path[len] = '\0';
    chain_insert(&wm->paths, &wp->link);
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
    o->link.hash = watcher_hash(watcher);
    chain_insert(&wm->owners, &o->link);
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
    chain_maybe_grow(&wm->paths);
    chain_maybe_grow(&wm->owners);
    return 0;
}

void watch_begin_round(struct watch_manager *wm) { wm->serial++; }

/* One trigger: the event and what is needed to deliver it. */
struct trigger {
    const char *path;
    int32_t event_type;
    const struct acl_list *acl;
    watch_notify_fn notify;
    void *ctx;
};

static void notify_once(struct watch_manager *wm, struct watch_owner *o, const struct trigger *t)
{
    if (o->mark == wm->serial)
        return;
    o->mark = wm->serial;
    if (t->notify)
        t->notify(t->ctx, o->watcher, t->event_type, t->path, t->acl);
}

/* Visit the registrations on one path (the event path itself, or an ancestor). */
static void trigger_at(struct watch_manager *wm, struct watch_path *wp, bool at_parent, int table,
                       const struct trigger *t)
{
    struct watch_reg *r = wp->heads[table];
    while (r) {
        struct watch_reg *next = r->path_next;
        struct watch_owner *o = r->owner;
        if (r->mode == WATCH_RECURSIVE) {
            if (t->event_type != ZEV_CHILDREN_CHANGED)
                notify_once(wm, o, t);
        } else if (!at_parent) {
            bool one_shot = r->mode == WATCH_STANDARD;
            bool last_of_path = (next == NULL && r->path_prev == NULL &&
                                 wp->heads[table ^ 1] == NULL);
            /* Notify before removing: removal may free the owner. */
            notify_once(wm, o, t);
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
                   const struct acl_list *acl, enum watch_table_id table, watch_notify_fn notify,
                   void *ctx)
{
    const struct trigger t = {path, event_type, acl, notify, ctx};
    ZK_ASSERT(len > 0 && path[0] == '/');
    size_t cur = len;
    bool at_parent = false;
    for (;;) {
        struct watch_path *wp = path_find(wm, path, cur, store_hash_bytes(path, cur));
        if (wp && wp->heads[table])
            trigger_at(wm, wp, at_parent, (int)table, &t);
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
    if (!wm->owners.buckets)
        return;
    size_t b = 0;
    struct chain_link *l;
    while ((l = chain_next(&wm->owners, &b, NULL)))
        watch_remove_watcher(wm, CHAIN_ITEM(l, struct watch_owner, link)->watcher);
    ZK_ASSERT(wm->reg_count == 0 && wm->paths.count == 0 && wm->owners.count == 0);
    chain_destroy(&wm->paths, NULL, NULL);
    chain_destroy(&wm->owners, NULL, NULL);
    memset(wm, 0, sizeof *wm);
}

void watch_summary(const struct watch_manager *wm, enum watch_table_id table, size_t *owners,
                   size_t *paths, size_t *regs)
{
    *owners = *paths = *regs = 0;
    size_t b = 0;
    const struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &wm->paths) {
        const struct watch_path *p = CHAIN_ITEM(l, const struct watch_path, link);
        if (p->heads[table])
            (*paths)++;
        for (const struct watch_reg *r = p->heads[table]; r; r = r->path_next)
            (*regs)++;
    }
    b = 0;
    CHAIN_FOR_EACH(l, b, &wm->owners) {
        const struct watch_owner *o = CHAIN_ITEM(l, const struct watch_owner, link);
        for (const struct watch_reg *r = o->regs; r; r = r->owner_next) {
            if (r->table == table) {
                (*owners)++;
                break;
            }
        }
    }
}
