/* Proves the checkers bite: cores broken on purpose must be caught by the simulator, each with a
 * named invariant, within a bounded number of seeds. */
#include "sim_check.h"

/* A broken core may also stall (a follower left with a stale suffix resyncs forever): such a
 * liveness verdict is a catch too, but the scan goes on to the named safety checker. */
static uint64_t first_safety_violation(struct sim_opts o, uint64_t count, struct sim_result *r)
{
    for (uint64_t seed = 1; seed <= count; seed++) {
        o.seed = seed;
        if (sim_run(&o, r) != 0 && strstr(r->what, "liveness") != r->what) {
            return seed;
        }
    }
    return 0;
}

static void expect_caught(enum zab_sabotage sab, uint32_t members, const char *invariant)
{
    struct sim_opts o = {.members = members, .sabotage = sab};
    struct sim_result r;
    uint64_t seed = first_safety_violation(o, 500, &r);
    cr_assert(seed != 0, "sabotage %d on %u members went unnoticed for 500 seeds", sab, members);
    cr_log_info("caught at seed %" PRIu64 ": %s", seed, r.what);
    cr_assert(strstr(r.what, invariant) != NULL, "seed %" PRIu64 ": expected %s, got: %s", seed,
              invariant, r.what);
}

/* the leader commits on its own log alone: a minority */
Test(sim_bites, minority_commit_3) { expect_caught(ZAB_SABOTAGE_MINORITY_COMMIT, 3, "durability"); }
Test(sim_bites, minority_commit_5) { expect_caught(ZAB_SABOTAGE_MINORITY_COMMIT, 5, "durability"); }
/* the leader sends DIFF where TRUNC was needed: the follower keeps a stale suffix */
Test(sim_bites, skip_trunc_3) { expect_caught(ZAB_SABOTAGE_SKIP_TRUNC, 3, "agreement"); }
Test(sim_bites, skip_trunc_5) { expect_caught(ZAB_SABOTAGE_SKIP_TRUNC, 5, "agreement"); }
/* followers ACK before their log is durable (ZOOKEEPER-3911) */
Test(sim_bites, early_ack_3) { expect_caught(ZAB_SABOTAGE_EARLY_ACK, 3, "durability"); }
Test(sim_bites, early_ack_5) { expect_caught(ZAB_SABOTAGE_EARLY_ACK, 5, "durability"); }

/* the leader commits a configuration change on a quorum of the new voters alone */
static void expect_caught_plan(enum sim_plan plan)
{
    struct sim_opts o = {.members = 3, .plan = plan, .sabotage = ZAB_SABOTAGE_NEW_QUORUM_ONLY};
    struct sim_result r;
    uint64_t seed = sim_run_range(o, 1, 300, &r);
    cr_assert(seed != 0, "new-quorum-only commits on plan %s went unnoticed for 300 seeds",
              sim_plan_name(plan));
    cr_log_info("caught at seed %" PRIu64 ": %s", seed, r.what);
    cr_assert(strstr(r.what, "durability") != NULL || strstr(r.what, "two configurations"),
              "seed %" PRIu64 ": expected durability or split brain, got: %s", seed, r.what);
}
Test(sim_bites, new_quorum_only_grow) { expect_caught_plan(SIM_PLAN_GROW); }
Test(sim_bites, new_quorum_only_replace) { expect_caught_plan(SIM_PLAN_REPLACE); }
Test(sim_bites, new_quorum_only_shrink) { expect_caught_plan(SIM_PLAN_SHRINK); }
