/* The seeded multi-member Zab simulator: in-memory network, disks and state machines driven by one
 * PRNG, with the Zab invariants checked after every step (VOPR-style). */
#ifndef ZAB_SIM_H
#define ZAB_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "consensus/zab.h"

struct sim_opts {
    uint32_t members;          /* 1..ZAB_PEERS_MAX, 3 and 5 are the tested sizes */
    uint64_t seed;
    uint32_t safety_ticks;     /* faults on for this long (0: default 300) */
    uint32_t liveness_ticks;   /* then healed: must converge within this (0: default 250) */
    enum zab_sabotage sabotage; /* break every member's core on purpose */
    FILE *trace;               /* readable trace of every step, or NULL */
    bool hostile;              /* a forging peer injects messages at every chaos tick */
};

struct sim_result {
    uint64_t steps;    /* zab_step calls */
    uint64_t msgs;     /* messages delivered */
    uint64_t commits;  /* distinct committed transactions */
    uint64_t ticks;
    uint64_t forged;   /* hostile messages injected */
    uint64_t refused;  /* ... of which the core refused (ZAB_EINVAL) */
    bool violation;
    char what[512];    /* first violated invariant, readable */
};

/* Runs one seed to the end or to the first violation. Returns 0 if clean, 1 on violation. */
int sim_run(const struct sim_opts *opts, struct sim_result *res);

#endif
