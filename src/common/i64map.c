/* int64 -> pointer hash map with linear probing and tombstones (see i64map.h). */
#include "common/i64map.h"

#include "common/alloc.h"
#include "common/assert.h"

#define EMPTY 0
#define DELETED INT64_MIN

static bool is_marker(int64_t key) { return key == EMPTY || key == DELETED; }

static size_t slot_of(int64_t key, size_t cap)
{
    uint64_t x = (uint64_t)key;
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return (size_t)x & (cap - 1);
}

void i64map_init(struct i64map *m)
{
    *m = (struct i64map){0};
}

void i64map_free(struct i64map *m)
{
    zk_free(m->slots);
    i64map_init(m);
}

static struct i64map_slot *find(const struct i64map *m, int64_t key)
{
    ZK_ASSERT(!is_marker(key));
    if (!m->cap)
        return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].key == key)
            return &m->slots[i];
        if (m->slots[i].key == EMPTY)
            return NULL;
    }
}

/* The side entry of a marker key. */
static bool *side_has(struct i64map *m, int64_t key, void ***value)
{
    *value = key == EMPTY ? &m->zero_value : &m->min_value;
    return key == EMPTY ? &m->has_zero : &m->has_min;
}

void *i64map_get(const struct i64map *m, int64_t key)
{
    if (key == EMPTY)
        return m->has_zero ? m->zero_value : NULL;
    if (key == DELETED)
        return m->has_min ? m->min_value : NULL;
    struct i64map_slot *s = find(m, key);
    return s ? s->value : NULL;
}

static int rehash(struct i64map *m, size_t cap)
{
    struct i64map_slot *slots = zk_calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    size_t moved = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (is_marker(m->slots[i].key))
            continue;
        size_t j = slot_of(m->slots[i].key, cap);
        while (slots[j].key != EMPTY)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
        moved++;
    }
    zk_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = moved;
    return 0;
}

int i64map_reserve(struct i64map *m, size_t count)
{
    size_t cap = m->cap ? m->cap : 16;
    while (count * 2 > cap)
        cap *= 2;
    return cap == m->cap ? 0 : rehash(m, cap);
}

static int put_side(struct i64map *m, int64_t key, void *value)
{
    void **slot;
    bool *has = side_has(m, key, &slot);
    if (!*has)
        m->live++;
    *has = true;
    *slot = value;
    return 0;
}

int i64map_put(struct i64map *m, int64_t key, void *value)
{
    if (is_marker(key))
        return put_side(m, key, value);
    struct i64map_slot *s = find(m, key);
    if (s) {
        s->value = value;
        return 0;
    }
    if ((m->used + 1) * 4 > m->cap * 3) {
        size_t cap = m->cap ? m->cap : 16;
        while ((m->live + 1) * 2 > cap)
            cap *= 2;
        if (rehash(m, cap) != 0)
            return -1;
    }
    size_t i = slot_of(key, m->cap);
    while (!is_marker(m->slots[i].key))
        i = (i + 1) & (m->cap - 1);
    if (m->slots[i].key == EMPTY)
        m->used++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->live++;
    return 0;
}

void *i64map_del(struct i64map *m, int64_t key)
{
    void *value = NULL;
    if (is_marker(key)) {
        void **slot;
        bool *has = side_has(m, key, &slot);
        if (!*has)
            return NULL;
        value = *slot;
        *has = false;
        *slot = NULL;
    } else {
        struct i64map_slot *s = find(m, key);
        if (!s)
            return NULL;
        value = s->value;
        s->key = DELETED;
        s->value = NULL;
    }
    ZK_ASSERT(m->live > 0);
    m->live--;
    return value;
}

size_t i64map_count(const struct i64map *m) { return m->live; }

/* it: 0 and 1 are the side entries, 2.. the slots. */
bool i64map_next(const struct i64map *m, size_t *it, int64_t *key, void **value)
{
    for (; *it < 2; (*it)++) {
        bool has = *it == 0 ? m->has_zero : m->has_min;
        if (has) {
            *key = *it == 0 ? EMPTY : DELETED;
            *value = *it == 0 ? m->zero_value : m->min_value;
            (*it)++;
            return true;
        }
    }
    for (; *it - 2 < m->cap; (*it)++) {
        const struct i64map_slot *s = &m->slots[*it - 2];
        if (!is_marker(s->key)) {
            *key = s->key;
            *value = s->value;
            (*it)++;
            return true;
        }
    }
    return false;
}
