/* Generic intrusive chained hash table (power-of-two buckets) shared by the store's tables. */
#ifndef ZK_STORE_CHAIN_H
#define ZK_STORE_CHAIN_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in each item; `hash` is the item's full key hash, set by the caller before insert. */
struct chain_link {
    struct chain_link *next;
    uint64_t hash;
};

struct chain_table {
    struct chain_link **buckets;
    size_t mask;
    size_t count;
};

/* The item that embeds `ptr` as its `member` (container_of). */
#define CHAIN_ITEM(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

int chain_init(struct chain_table *t, size_t buckets); /* power of two; 0 or -1 on OOM */
void chain_insert(struct chain_table *t, struct chain_link *l);
void chain_remove(struct chain_table *t, struct chain_link *l);
/* Calls free_item (if not NULL) on every item, frees the buckets and zeroes the table. */
void chain_destroy(struct chain_table *t, void (*free_item)(struct chain_link *, void *),
                   void *ctx);
/* Cursor in bucket order: start with *bucket = 0 and l = NULL; returns NULL at the end. */
struct chain_link *chain_next(const struct chain_table *t, size_t *bucket,
                              const struct chain_link *l);
/* for (each link l of table t), with `size_t b = 0` declared by the caller as the cursor. */
#define CHAIN_FOR_EACH(l, b, t) for (l = chain_next((t), &(b), NULL); l; l = chain_next((t), &(b), l))
/* O(n) check (ZK_ASSERT): every item sits in its hash's bucket and count is right. */
void chain_check(const struct chain_table *t);

void chain_grow(struct chain_table *t); /* doubles the buckets; best effort */

/* Doubles the buckets once count exceeds them; best effort (on OOM the table stays usable). */
static inline void chain_maybe_grow(struct chain_table *t)
{
    if (t->count > t->mask + 1)
        chain_grow(t);
}

/* Head of the chain for `hash`: walk ->next, compare l->hash before the key. */
static inline struct chain_link *chain_bucket(const struct chain_table *t, uint64_t hash)
{
    return t->buckets[hash & t->mask];
}

#endif
