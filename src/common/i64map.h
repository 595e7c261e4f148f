/* Open-addressing hash map from an int64 key to a pointer. Used for session id -> connection and
 * connection id -> connection lookups on every reply and notification. Every key is valid: the
 * two values the table uses as slot markers (0 = empty, INT64_MIN = deleted) live in side
 * entries, so a key that comes from the network (a session id in a ConnectRequest, a txn of
 * session 0) can never hit an assertion. */
#ifndef ZK_I64MAP_H
#define ZK_I64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct i64map_slot {
    int64_t key; /* 0 empty, INT64_MIN deleted */
    void *value;
};

struct i64map {
    struct i64map_slot *slots;
    size_t cap;  /* power of two, or 0 before the first put */
    size_t used; /* live + deleted slots */
    size_t live; /* entries, side entries included */
    bool has_zero, has_min;
    void *zero_value, *min_value;
};

void i64map_init(struct i64map *m);
void i64map_free(struct i64map *m);
void *i64map_get(const struct i64map *m, int64_t key);
/* Make room for `count` entries up front (allocation at start-up rather than on the first put).
 * Returns 0, or -1 if memory ran out (map unchanged). */
int i64map_reserve(struct i64map *m, size_t count);
/* Insert or replace. Returns 0, or -1 if memory ran out (map unchanged). */
int i64map_put(struct i64map *m, int64_t key, void *value);
/* Remove; returns the old value or NULL. */
void *i64map_del(struct i64map *m, int64_t key);
size_t i64map_count(const struct i64map *m);

/* Iteration: `for (size_t it = 0; i64map_next(m, &it, &key, &value);)`. The map must not be
 * changed during a walk, except i64map_del of the entry just returned. */
bool i64map_next(const struct i64map *m, size_t *it, int64_t *key, void **value);

#endif
