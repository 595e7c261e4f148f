/* Internals of the Zab simulator shared by its modules (sim.c: members, network, checkers;
 * sim_hostile.c: the forging peer). Not for the tests: they use sim.h. */
#ifndef ZAB_SIM_INTERNAL_H
#define ZAB_SIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/zab.h"
#include "sim.h"
#include "sim_heap.h"
#include "sim_rng.h"

#define UNITS_PER_TICK 10
#define SEQ_ENTRY 16 /* snapshot encoding: zxid + payload id, little endian */

/* ---- Small containers. ---- */
struct seq_ent {
    uint64_t zxid;
    uint64_t id;
};
struct seq {
    struct seq_ent *v;
    size_t n, cap;
};

/* zxid -> (payload id, proposing member, members that ever had it durable) */
struct prop {
    uint64_t zxid; /* 0 = empty slot */
    uint64_t id;
    uint32_t durable_mask;
};
struct prop_map {
    struct prop *v;
    size_t cap, n;
};

/* ---- Members. ---- */
struct disk_ent {
    uint64_t zxid;
    uint8_t *data;
    size_t len;
};

struct member {
    uint32_t id;
    bool up;
    struct zab *z;
    struct zab_config cfg;
    uint64_t incarnation;
    uint64_t down_until;
    /* persistent */
    uint32_t accepted, current;
    uint64_t snap_zxid;
    struct disk_ent *log;
    size_t n_log, cap_log, n_durable;
    struct seq applied; /* the state machine; a prefix >= snap_len survives a crash */
    size_t snap_len;
    /* volatile */
    bool disk_busy;
    enum zab_role role;
    uint32_t epoch;
    uint32_t leader; /* id, 0 if none */
    bool established;
    /* membership */
    struct zab_members base; /* configuration used at restart when the state holds none */
    uint64_t base_zxid;      /* ... the point a leader said it holds from (0: start-up) */
    bool dead;               /* never restarted (a plan's dead observers) */
    /* rejoin measurement: restarted while an established leader was up, not yet established */
    bool rejoining;
    uint64_t restarted_at;
};

/* A membership plan: the starting configuration and up to three changes. */
#define PLAN_STEPS_MAX 3
struct plan {
    uint32_t n;                    /* members in the run */
    struct zab_members initial;    /* the ensemble's configuration */
    uint32_t n_steps;
    struct zab_members steps[PLAN_STEPS_MAX];
};

struct cfg_rec { /* a config entry's payload id and configuration */
    uint64_t id;
    struct zab_members m;
};
#define SIM_CFGS_MAX 64

enum sev_kind { E_MSG, E_TICK, E_DISK, E_CHAOS };

struct sev {
    struct sim_heap_key k; /* delivery time (units) and push order */
    enum sev_kind kind;
    uint32_t to, from; /* member indexes */
    uint64_t to_inc, from_inc;
    uint8_t *buf;
    size_t len;
};

struct sim {
    struct sim_opts o;
    struct sim_result *res;
    uint64_t rng;
    uint64_t now;
    uint32_t n, quorum;
    struct member m[ZAB_PEERS_MAX];
    struct sim_heap heap; /* of struct sev */
    /* faults, swarmed per seed */
    uint32_t p_loss, p_dup, p_reorder, p_crash, p_part, p_submit; /* per million */
    uint64_t link_last[ZAB_PEERS_MAX][ZAB_PEERS_MAX]; /* links are FIFO (TCP) unless reordered */
    /* sync-session nonce of the last non-vote message sent on each link (for the forger) */
    uint64_t link_nonce[ZAB_PEERS_MAX][ZAB_PEERS_MAX];
    uint32_t delay_max, disk_max, down_max;
    bool cut[ZAB_PEERS_MAX][ZAB_PEERS_MAX];
    uint64_t heal_at;
    bool liveness;
    uint32_t live_out; /* members left isolated in the liveness phase (a minority) */
    uint64_t live_from_id;
    /* checker state */
    struct seq global;        /* the committed sequence everyone must agree on */
    struct prop_map props;
    uint32_t leader_of_epoch[1024];
    uint64_t next_id;
    uint64_t hostile_promise_at; /* tick of the forger's last newer-epoch FOLLOWERINFO */
    /* membership */
    struct plan plan;
    uint32_t step;            /* plan steps committed */
    uint64_t step_at;         /* tick from which the next step may be submitted */
    uint64_t step_id;         /* payload id of the last submitted step's entry (0: none) */
    uint64_t step_zxid;       /* its zxid */
    uint32_t step_leader;     /* the member index that proposed it */
    struct zab_members step_target;
    bool crash_done;          /* the plan's crash happened */
    int held_down;            /* member index kept down during the change (-1: none) */
    struct zab_members gcfg;  /* the configuration in force along the global sequence */
    struct cfg_rec cfgs[SIM_CFGS_MAX];
    uint32_t n_cfgs;
};

void trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Feeds one event to a member's core and executes (and checks) the update. */
int sim_step(struct sim *s, struct member *mb, const struct zab_event *ev);

/* sim_hostile.c: forged messages injected at a chaos tick (sim_opts.hostile). */
void hostile_inject(struct sim *s);

#endif
