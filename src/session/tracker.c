/* Session expiry tracker: session id -> deadline, in the project's int64 map (common/i64map). */
#include "session/tracker.h"

#include <stdbool.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/i64map.h"

struct deadline {
    int64_t deadline_ms;
    int32_t timeout_ms;
};

struct sess_tracker {
    struct i64map sessions; /* id -> struct deadline */
    int32_t tick_ms;
};

struct sess_tracker *sess_tracker_new(int32_t tick_ms)
{
    ZK_ASSERT(tick_ms > 0);
    struct sess_tracker *t = zk_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    i64map_init(&t->sessions);
    if (i64map_reserve(&t->sessions, 32) != 0) {
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
    int64_t id;
    void *d;
    for (size_t it = 0; i64map_next(&t->sessions, &it, &id, &d);)
        zk_free(d);
    i64map_free(&t->sessions);
    zk_free(t);
}

/* The next tick boundary strictly after now + timeout, as ZooKeeper's ExpiryQueue rounds. */
static int64_t deadline_for(const struct sess_tracker *t, int64_t now_ms, int32_t timeout_ms)
{
    int64_t at = now_ms + timeout_ms;
    return (at / t->tick_ms + 1) * t->tick_ms;
}

int sess_tracker_touch(struct sess_tracker *t, int64_t id, int32_t timeout_ms, int64_t now_ms)
{
    if (timeout_ms < 1)
        timeout_ms = 1; /* the caller clamps to the configured range; never trust a stored 0 */
    struct deadline *d = i64map_get(&t->sessions, id);
    if (!d) {
        d = zk_malloc(sizeof *d);
        if (!d)
            return -1;
        if (i64map_put(&t->sessions, id, d) != 0) {
            zk_free(d);
            return -1;
        }
    }
    d->timeout_ms = timeout_ms;
    d->deadline_ms = deadline_for(t, now_ms, timeout_ms);
    return 0;
}

void sess_tracker_renew(struct sess_tracker *t, int64_t id, int64_t now_ms)
{
    struct deadline *d = i64map_get(&t->sessions, id);
    if (d)
        d->deadline_ms = deadline_for(t, now_ms, d->timeout_ms);
}

void sess_tracker_remove(struct sess_tracker *t, int64_t id)
{
    zk_free(i64map_del(&t->sessions, id));
}

int sess_tracker_contains(const struct sess_tracker *t, int64_t id)
{
    return i64map_get(&t->sessions, id) != NULL;
}

size_t sess_tracker_count(const struct sess_tracker *t) { return i64map_count(&t->sessions); }

void sess_tracker_expire(struct sess_tracker *t, int64_t now_ms,
                         void (*fn)(void *ctx, int64_t session_id), void *ctx)
{
    /* Deleting the entry just returned keeps the walk valid (i64map_next). */
    int64_t id;
    void *value;
    for (size_t it = 0; i64map_next(&t->sessions, &it, &id, &value);) {
        if (((struct deadline *)value)->deadline_ms > now_ms)
            continue;
        sess_tracker_remove(t, id);
        fn(ctx, id);
    }
}

void sess_tracker_renew_all(struct sess_tracker *t, int64_t now_ms)
{
    int64_t id;
    void *value;
    for (size_t it = 0; i64map_next(&t->sessions, &it, &id, &value);) {
        struct deadline *d = value;
        d->deadline_ms = deadline_for(t, now_ms, d->timeout_ms);
    }
}

void sess_tracker_foreach(const struct sess_tracker *t,
                          void (*fn)(void *ctx, int64_t session_id, int64_t deadline_ms),
                          void *ctx)
{
    size_t it = 0;
    int64_t id;
    void *value;
    while (i64map_next(&t->sessions, &it, &id, &value))
        fn(ctx, id, ((const struct deadline *)value)->deadline_ms);
}
