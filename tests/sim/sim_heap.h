/* A binary min-heap of fixed-size events ordered by (time, seq), shared by the simulators: seq is
 * the push order, so events due at the same time pop in the order they were scheduled and a seed
 * replays identically. Every element starts with a struct sim_heap_key. */
#ifndef SIM_HEAP_H
#define SIM_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_heap_key {
    uint64_t time, seq;
};

struct sim_heap {
    uint8_t *v;
    size_t n, cap, size; /* size: bytes per element */
    uint64_t seq;
};

void sim_heap_init(struct sim_heap *h, size_t elem_size);
void sim_heap_free(struct sim_heap *h);
/* Copies elem in (its key's seq is assigned here). Aborts if memory runs out. */
void sim_heap_push(struct sim_heap *h, void *elem);
/* Copies the earliest element to out; false when empty. */
bool sim_heap_pop(struct sim_heap *h, void *out);
/* The earliest element, or NULL. */
static inline const struct sim_heap_key *sim_heap_top(const struct sim_heap *h)
{
    return h->n ? (const struct sim_heap_key *)h->v : NULL;
}

#endif
