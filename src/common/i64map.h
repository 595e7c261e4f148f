/* Open-addressing hash map from a non-zero int64 key to a pointer. Used for session id ->
 * connection and connection id -> connection lookups on every reply and notification. */
#ifndef ZK_I64MAP_H
#define ZK_I64MAP_H

#include <stddef.h>
#include <stdint.h>

struct i64map_slot {
    int64_t key; /* 0 empty, INT64_MIN deleted */
    void *value;
};

struct i64map {
    struct i64map_slot *slots;
    size_t cap;  /* power of two, or 0 before the first put */
    size_t used; /* live + deleted */
    size_t live;
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

#endif
