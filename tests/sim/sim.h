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
    bool big_payloads;         /* payloads of up to 16 KiB and window_bytes 64 KiB (issue 11) */
    enum sim_plan {            /* a membership schedule (members is then the plan's own) */
        SIM_PLAN_NONE = 0,
        SIM_PLAN_GROW,          /* 3 voters + 2 joiners -> 5 voters, one config entry */
        SIM_PLAN_GROW_TWICE,    /* the same in two entries: 4 voters, then 5 */
        SIM_PLAN_SHRINK,        /* 5 voters -> 3 of them */
        SIM_PLAN_REPLACE,       /* 3 voters + a joiner -> one voter replaced by the joiner */
        SIM_PLAN_WHILE_DOWN,    /* 5 -> 4 voters while a voter that stays is down */
        SIM_PLAN_REMOVE_LEADER, /* 5 voters -> the 4 others */
        SIM_PLAN_CRASH_PROPOSED, /* grow 3 -> 5; the leader crashes right after proposing */
        SIM_PLAN_CRASH_COMMITTED, /* shrink 5 -> 3; the leader crashes right after committing */
        SIM_PLAN_OBSERVER_FLIP, /* 3 voters + observer 4: 4 becomes a voter, then an observer */
        SIM_PLAN_DEAD_OBSERVERS, /* 3 voters + 2 observers, both observers die for good */
        SIM_PLAN_READD,         /* 5 voters -> one drawn at random removed -> added back */
        SIM_PLAN_READD_LEADER,  /* 5 voters -> the leader removed -> added back */
        SIM_PLAN_COUNT,
    } plan;
};

const char *sim_plan_name(enum sim_plan p);
enum sim_plan sim_plan_parse(const char *name); /* SIM_PLAN_COUNT if unknown */

struct sim_result {
    uint64_t steps;    /* zab_step calls */
    uint64_t msgs;     /* messages delivered */
    uint64_t commits;  /* distinct committed transactions */
    uint64_t ticks;
    uint64_t forged;   /* hostile messages injected */
    uint64_t refused;  /* ... of which the core refused (ZAB_EINVAL) */
    uint32_t reconfigs; /* configuration changes committed */
    uint64_t snaps;        /* SNAP sync streams sent */
    uint64_t rejoins;      /* restarts while an established leader was up, then established */
    uint64_t rejoin_ticks; /* ... the ticks they took, in total */
    struct zab_counters counters; /* the cores' counters, summed over members and incarnations */
    bool violation;
    char what[512];    /* first violated invariant, readable */
};

/* Runs one seed to the end or to the first violation. Returns 0 if clean, 1 on violation. */
int sim_run(const struct sim_opts *opts, struct sim_result *res);

#endif
