/* The simulators' only source of choices: a splitmix64 PRNG seeded per run (zab-sim, member-sim),
 * so a seed replays the same schedule byte for byte. */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline uint64_t rng_below(uint64_t *s, uint64_t n) { return n == 0 ? 0 : rng_next(s) % n; }
static inline bool rng_chance(uint64_t *s, uint32_t per_million)
{
    return rng_below(s, 1000000) < per_million;
}
/* A value in [lo, hi]. */
static inline int64_t rng_range(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)rng_below(s, (uint64_t)(hi - lo + 1));
}

#endif
