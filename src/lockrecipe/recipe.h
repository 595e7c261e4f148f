/* The pure, server-free part of the lock recipes: child-name parsing, ordering by sequence number
 * and the decision "do I own it, or which predecessor(s) must I watch?". No I/O, no allocation
 * except the caller-provided arrays, so every rule of the recipe is unit-testable in isolation. */
#ifndef ZKL_RECIPE_H
#define ZKL_RECIPE_H

#include <stddef.h>
#include <stdint.h>

/* Child names are "<ZKL_NAME_TAG>-<32 hex attempt id>-<type>-<10-digit sequence>". */
#define ZKL_NAME_TAG "zkl"
#define ZKL_ATTEMPT_HEX 32
#define ZKL_SEQ_DIGITS 10

enum zkl_node_type { ZKL_T_LOCK, ZKL_T_READ, ZKL_T_WRITE, ZKL_T_SEM, ZKL_T_ELECT, ZKL_T_UNKNOWN };

/* One parsed contender. `name` points into the caller's string (not copied). */
struct zkl_child {
    const char *name;
    int64_t seq;
    enum zkl_node_type type;
};

enum zkl_verdict { ZKL_OWN, ZKL_WATCH, ZKL_GONE };

/* What a contender must do: own the lock, or watch `nwatch` nodes (indexes into the sorted
 * array given to zkl_decide), or give up because its own node is not among the children. */
struct zkl_decision {
    enum zkl_verdict verdict;
    size_t my_index;
    size_t nwatch;
    size_t watch[]; /* flexible: caller allocates room for `permits` entries (zkl_decision_size) */
};

const char *zkl_type_name(enum zkl_node_type type);
enum zkl_node_type zkl_type_from_name(const char *name, size_t len);

/* Parse one child name; returns 0 and fills `out`, or -1 if the name is not a recipe child
 * (foreign nodes are ignored by the recipe, never waited for). */
int zkl_parse_child(const char *name, struct zkl_child *out);

/* Parse `names` into `out` (skipping foreign names) and sort by sequence; returns the count. */
size_t zkl_sort_children(char *const *names, size_t n, struct zkl_child *out);

/* Index of the child whose name starts with `prefix` (an attempt's "zkl-<id>-<type>-"), or -1. */
long zkl_find_prefix(const struct zkl_child *kids, size_t n, const char *prefix);

size_t zkl_decision_size(unsigned permits);

/* The recipe. `kids` sorted by zkl_sort_children, `me` my full child name, `permits` the number
 * of simultaneous holders (1 for locks and elections, N for a semaphore), `mytype` my node type.
 *  - exclusive/write/elect: own at index 0, else watch the immediate predecessor;
 *  - read: own when no non-read node precedes me, else watch the last such node;
 *  - semaphore: own at index < N; the first waiter (index N) watches all N holders, a later
 *    waiter watches only its immediate predecessor. */
void zkl_decide(const struct zkl_child *kids, size_t n, const char *me, enum zkl_node_type mytype,
                unsigned permits, struct zkl_decision *out);

#endif
