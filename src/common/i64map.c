/* int64 -> pointer hash map with linear probing and tombstones (see i64map.h). */
#include "common/i64map.h"

#include "common/alloc.h"
#include "common/assert.h"

#define DELETED INT64_MIN

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
    m->slots = NULL;
    m->cap = m->used = m->live = 0;
}

void i64map_free(struct i64map *m)
{
    zk_free(m->slots);
    i64map_init(m);
}

static struct i64map_slot *find(const struct i64map *m, int64_t key)
{
    ZK_ASSERT(key != 0 && key != DELETED);
    if (!m->cap)
        return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].key == key)
            return &m->slots[i];
        if (m->slots[i].key == 0)
            return NULL;
    }
}

void *i64map_get(const struct i64map *m, int64_t key)
{
    struct i64map_slot *s = find(m, key);
    return s ? s->value : NULL;
}

static int rehash(struct i64map *m, size_t cap)
{
    struct i64map_slot *slots = zk_calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key == 0 || m->slots[i].key == DELETED)
            continue;
        size_t j = slot_of(m->slots[i].key, cap);
        while (slots[j].key != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    zk_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->live;
    return 0;
}

int i64map_reserve(struct i64map *m, size_t count)
{
    size_t cap = m->cap ? m->cap : 16;
    while (count * 2 > cap)
        cap *= 2;
    return cap == m->cap ? 0 : rehash(m, cap);
}

int i64map_put(struct i64map *m, int64_t key, void *value)
{
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
    while (m->slots[i].key != 0 && m->slots[i].key != DELETED)
        i = (i + 1) & (m->cap - 1);
    if (m->slots[i].key == 0)
        m->used++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->live++;
    return 0;
}

void *i64map_del(struct i64map *m, int64_t key)
{
    struct i64map_slot *s = find(m, key);
    if (!s)
        return NULL;
    void *value = s->value;
    s->key = DELETED;
    s->value = NULL;
    ZK_ASSERT(m->live > 0);
    m->live--;
    return value;
}
