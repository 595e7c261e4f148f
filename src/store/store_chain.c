/* Generic intrusive chained hash table (see store_chain.h). */
#include "store/store_chain.h"

#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"

int chain_init(struct chain_table *t, size_t buckets)
{
    ZK_ASSERT(buckets > 0 && (buckets & (buckets - 1)) == 0);
    t->buckets = zk_calloc(buckets, sizeof *t->buckets);
    if (!t->buckets)
        return -1;
    t->mask = buckets - 1;
    t->count = 0;
    return 0;
}

void chain_insert(struct chain_table *t, struct chain_link *l)
{
    ZK_ASSERT(l->next == NULL);
    struct chain_link **head = &t->buckets[l->hash & t->mask];
    ZK_ASSERT(*head != l);
    l->next = *head;
    *head = l;
    t->count++;
    ZK_ASSERT(t->count > 0);
}

void chain_remove(struct chain_table *t, struct chain_link *l)
{
    struct chain_link **pp = &t->buckets[l->hash & t->mask];
    while (*pp != l) {
        ZK_ASSERT(*pp != NULL); /* the item must be in the bucket its hash names */
        pp = &(*pp)->next;
    }
    *pp = l->next;
    l->next = NULL;
    ZK_ASSERT(t->count > 0);
    t->count--;
}

/* Move every item into `nb` (new_size buckets), keeping the old relative order per walk. */
static void chain_rehash(struct chain_table *t, struct chain_link **nb, size_t new_size)
{
    for (size_t i = 0; i <= t->mask; i++) {
        struct chain_link *l = t->buckets[i];
        while (l) {
            struct chain_link *next = l->next;
            ZK_ASSERT((l->hash & t->mask) == i);
            l->next = nb[l->hash & (new_size - 1)];
            nb[l->hash & (new_size - 1)] = l;
            l = next;
        }
    }
}

void chain_grow(struct chain_table *t)
{
    size_t new_size = (t->mask + 1) * 2;
    struct chain_link **nb = zk_calloc(new_size, sizeof *nb);
    if (!nb)
        return;
    chain_rehash(t, nb, new_size);
    zk_free(t->buckets);
    t->buckets = nb;
    t->mask = new_size - 1;
}

void chain_destroy(struct chain_table *t, void (*free_item)(struct chain_link *, void *),
                   void *ctx)
{
    if (!t->buckets)
        return;
    ZK_ASSERT(free_item || t->count == 0);
    for (size_t i = 0; free_item && i <= t->mask; i++) {
        struct chain_link *l = t->buckets[i];
        while (l) {
            struct chain_link *next = l->next;
            free_item(l, ctx);
            l = next;
        }
    }
    zk_free(t->buckets);
    memset(t, 0, sizeof *t);
}

struct chain_link *chain_next(const struct chain_table *t, size_t *bucket,
                              const struct chain_link *l)
{
    if (l && l->next)
        return l->next;
    size_t i = l ? *bucket + 1 : *bucket;
    for (; t->buckets && i <= t->mask; i++) {
        if (t->buckets[i]) {
            *bucket = i;
            return t->buckets[i];
        }
    }
    *bucket = t->mask + 1;
    return NULL;
}

void chain_check(const struct chain_table *t)
{
    size_t n = 0;
    for (size_t i = 0; t->buckets && i <= t->mask; i++)
        for (const struct chain_link *l = t->buckets[i]; l; l = l->next, n++)
            ZK_ASSERT((l->hash & t->mask) == i);
    ZK_ASSERT(n == t->count);
}
