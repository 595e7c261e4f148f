/* member-sim: N real members (src/member: store, sessions, durable log, replication, catch-up,
 * the Zab core) in one process, on a simulated network, disk and clock, driven by one seeded
 * PRNG, with clients speaking the real jute protocol and a checker over what they saw and what
 * the members applied (docs/simulation.md). */
#ifndef MSIM_H
#define MSIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"

/* Faults a run may inject; options switch them off one by one to shrink a failing seed. */
enum ms_fault {
    MF_CRASH,     /* members crash (unsynced writes lost) and restart from their disk */
    MF_PAUSE,     /* members stop (no events, clock stopped) for a while */
    MF_CLOCK,     /* a member's clocks jump */
    MF_PARTITION, /* links cut, both ways or one way */
    MF_RESET,     /* peer links reset (in-flight messages lost) */
    MF_DROP,      /* single peer messages lost */
    MF_DUP,       /* single peer messages delivered twice */
    MF_DISKFULL,  /* batches fail for a while, then the disk recovers */
    MF_FSYNC,     /* an fsync fails: the member must stop */
    MF_OPFAIL,    /* a durable-now operation (epochs, truncation, install) fails half-way */
    MF_SLOWDISK,  /* some batches take hundreds of milliseconds */
    MF_CONNRESET, /* client connections reset */
    MF_OUTAGE,    /* a majority of the members crash at once (a power loss) */
    MF_COUNT
};

struct msim_opts {
    uint32_t members;   /* 1..7; 3 and 5 are the tested sizes */
    uint64_t seed;
    unsigned sabotage;  /* enum member_sabotage flags, for every member */
    int64_t faults_ms;  /* length of the faults phase (0: default) */
    int64_t healed_ms;  /* length of the healed phase before the final checks (0: default) */
    int clients;        /* simulated clients (0: drawn per seed) */
    unsigned no_faults; /* bit (1 << enum ms_fault): that fault is never injected */
    FILE *trace;        /* readable trace of every event, or NULL */
};

struct msim_result {
    uint64_t steps;     /* calls into members (events, ticks, flushes) */
    uint64_t commits;   /* distinct committed transactions */
    uint64_t acked;     /* writes acknowledged to clients */
    uint64_t reads;     /* read replies checked */
    uint64_t crashes, installs, snapshots, expiries;
    int64_t sim_ms;     /* simulated time */
    bool violation;
    char what[640];     /* the first violation, readable */
};

extern const char *const msim_fault_names[MF_COUNT];

/* Runs one seed; 0 if clean, 1 on a violation (res->what says which). */
int msim_run(const struct msim_opts *o, struct msim_result *res);

#endif
