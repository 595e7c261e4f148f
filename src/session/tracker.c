/* Session expiry tracker: an open-addressing hash table of (session id -> deadline). */
#include "session/tracker.h"

#include "common/alloc.h"
#include "common/assert.h"

struct slot {
    int64_t id; /* 0 = empty, TOMBSTONE = deleted */
    int64_t deadline_ms;
    int32_t timeout_ms;
};

#define TOMBSTONE INT64_MIN

struct sess_tracker {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t used; /* live + tombstones */
    size_t live;
    int32_t tick_ms;
};

static size_t hash_id(int64_t id)
{
    uint64_t x = (uint64_t)id;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

struct sess_tracker *sess_tracker_new(int32_t tick_ms)
{
    ZK_ASSERT(tick_ms > 0);
    struct sess_tracker *t = zk_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cap = 64;
    t->slots = zk_calloc(t->cap, sizeof *t->slots);
    if (!t->slots) {
        zk_free(t);
        return NULL;
    }
    t->tick_ms = tick_ms;
    return t;
}

void sess_tracker_free(struct sess_tracker *t)
{
    if (!t)
        return;
    zk_free(t->slots);
    zk_free(t);
}

static struct slot *find(const struct sess_tracker *t, int64_t id)
{
    ZK_ASSERT(id != 0 && id != TOMBSTONE);
    for (size_t i = hash_id(id) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].id == id)
            return &t->slots[i];
        if (t->slots[i].id == 0)
            return NULL;
    }
}

static int grow(struct sess_tracker *t)
{
    size_t cap = t->live * 4 > t->cap ? t->cap * 2 : t->cap; /* rehash drops tombstones */
    struct slot *slots = zk_calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        struct slot s = t->slots[i];
        if (s.id == 0 || s.id == TOMBSTONE)
            continue;
        size_t j = hash_id(s.id) & (cap - 1);
        while (slots[j].id != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = s;
    }
    zk_free(t->slots);
    t->slots = slots;
    t->cap = cap;
    t->used = t->live;
    return 0;
}

static int64_t deadline_for(const struct sess_tracker *t, int64_t now_ms, int32_t timeout_ms)
{
    int64_t at = now_ms + timeout_ms;
    return (at / t->tick_ms + 1) * t->tick_ms; /* next tick boundary strictly after */
}

int sess_tracker_touch(struct sess_tracker *t, int64_t id, int32_t timeout_ms, int64_t now_ms)
{
    ZK_ASSERT(timeout_ms > 0);
    struct slot *s = find(t, id);
    if (!s) {
        if ((t->used + 1) * 4 > t->cap * 3 && grow(t) != 0)
            return -1;
        size_t i = hash_id(id) & (t->cap - 1);
        while (t->slots[i].id != 0 && t->slots[i].id != TOMBSTONE)
            i = (i + 1) & (t->cap - 1);
        s = &t->slots[i];
        if (s->id == 0)
            t->used++;
        s->id = id;
        t->live++;
    }
    s->timeout_ms = timeout_ms;
    s->deadline_ms = deadline_for(t, now_ms, timeout_ms);
    return 0;
}

void sess_tracker_renew(struct sess_tracker *t, int64_t id, int64_t now_ms)
{
    struct slot *s = find(t, id);
    if (s)
        s->deadline_ms = deadline_for(t, now_ms, s->timeout_ms);
}

void sess_tracker_remove(struct sess_tracker *t, int64_t id)
{
    struct slot *s = find(t, id);
    if (!s)
        return;
    s->id = TOMBSTONE;
    ZK_ASSERT(t->live > 0);
    t->live--;
}

int sess_tracker_contains(const struct sess_tracker *t, int64_t id) { return find(t, id) != NULL; }

size_t sess_tracker_count(const struct sess_tracker *t) { return t->live; }

void sess_tracker_expire(struct sess_tracker *t, int64_t now_ms,
                         void (*fn)(void *ctx, int64_t session_id), void *ctx)
{
    for (size_t i = 0; i < t->cap; i++) {
        struct slot *s = &t->slots[i];
        if (s->id == 0 || s->id == TOMBSTONE || s->deadline_ms > now_ms)
            continue;
        int64_t id = s->id;
        s->id = TOMBSTONE;
        t->live--;
        fn(ctx, id);
    }
}

void sess_tracker_renew_all(struct sess_tracker *t, int64_t now_ms)
{
    for (size_t i = 0; i < t->cap; i++) {
        struct slot *s = &t->slots[i];
        if (s->id != 0 && s->id != TOMBSTONE)
            s->deadline_ms = deadline_for(t, now_ms, s->timeout_ms);
    }
}
