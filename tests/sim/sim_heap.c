/* The simulators' event heap (see sim_heap.h). */
#include "sim_heap.h"

#include <stdlib.h>
#include <string.h>

#include "common/assert.h"

static const struct sim_heap_key *key_at(const struct sim_heap *h, size_t i)
{
    return (const struct sim_heap_key *)(h->v + i * h->size);
}

static bool less(const struct sim_heap_key *a, const struct sim_heap_key *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void sim_heap_init(struct sim_heap *h, size_t elem_size)
{
    *h = (struct sim_heap){.size = elem_size};
}

void sim_heap_free(struct sim_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

void sim_heap_push(struct sim_heap *h, void *elem)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->v = realloc(h->v, h->cap * h->size);
        ZK_ASSERT(h->v != NULL);
    }
    ((struct sim_heap_key *)elem)->seq = h->seq++;
    size_t i = h->n++;
    while (i > 0 && less(elem, key_at(h, (i - 1) / 2))) {
        memcpy(h->v + i * h->size, h->v + (i - 1) / 2 * h->size, h->size);
        i = (i - 1) / 2;
    }
    memcpy(h->v + i * h->size, elem, h->size);
}

bool sim_heap_pop(struct sim_heap *h, void *out)
{
    if (h->n == 0)
        return false;
    memcpy(out, h->v, h->size);
    const uint8_t *last = h->v + --h->n * h->size;
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && less(key_at(h, c + 1), key_at(h, c)))
            c++;
        if (!less(key_at(h, c), (const struct sim_heap_key *)last))
            break;
        memcpy(h->v + i * h->size, h->v + c * h->size, h->size);
        i = c;
    }
    if (h->n > 0)
        memmove(h->v + i * h->size, last, h->size);
    return true;
}
