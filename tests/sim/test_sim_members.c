/* Membership changes and observers in the seeded simulator (zab-sim --plan): every plan of
 * sim.h over 300 seeds, every safety checker on (durability against the configurations in
 * force, no two configurations both holding a quorum, ...), and after the heal the final
 * configuration must have a leader, every one of its connected members caught up (every seed:
 * the open liveness seeds were closed by learning configurations from votes, docs/consensus.md). */
#include "sim_check.h"

static void expect_plan_clean(enum sim_plan plan, uint64_t first, uint64_t count)
{
    struct sim_opts o = {.members = 3, .plan = plan};
    uint32_t reconfigs = 0;
    for (uint64_t seed = first; seed < first + count; seed++) {
        struct sim_result r;
        o.seed = seed;
        int rc = sim_run(&o, &r);
        if (rc != 0) {
            sim_print_trace_tail(o, 60);
            cr_assert_fail("plan %s seed %" PRIu64 ": %s\nreplay: zab-sim --plan %s --seed %" PRIu64
                           " --trace", sim_plan_name(plan), seed, r.what, sim_plan_name(plan),
                           seed);
        }
        reconfigs += r.reconfigs;
    }
    cr_log_info("plan %s: %u configuration changes committed", sim_plan_name(plan), reconfigs);
    if (plan != SIM_PLAN_DEAD_OBSERVERS) {
        cr_assert_gt(reconfigs, count / 2, "the plan's changes hardly ever committed");
    }
}

Test(sim_members, grow) { expect_plan_clean(SIM_PLAN_GROW, 1, 300); }
Test(sim_members, grow_twice) { expect_plan_clean(SIM_PLAN_GROW_TWICE, 1, 300); }
Test(sim_members, shrink) { expect_plan_clean(SIM_PLAN_SHRINK, 1, 300); }
Test(sim_members, replace) { expect_plan_clean(SIM_PLAN_REPLACE, 1, 300); }
Test(sim_members, while_down) { expect_plan_clean(SIM_PLAN_WHILE_DOWN, 1, 300); }
Test(sim_members, remove_leader) { expect_plan_clean(SIM_PLAN_REMOVE_LEADER, 1, 300); }
Test(sim_members, crash_proposed) { expect_plan_clean(SIM_PLAN_CRASH_PROPOSED, 1, 300); }
Test(sim_members, crash_committed) { expect_plan_clean(SIM_PLAN_CRASH_COMMITTED, 1, 300); }
Test(sim_members, observer_flip) { expect_plan_clean(SIM_PLAN_OBSERVER_FLIP, 1, 300); }
Test(sim_members, dead_observers) { expect_plan_clean(SIM_PLAN_DEAD_OBSERVERS, 1, 300); }
/* A removed member follows on outside the configuration and votes again once added back. */
Test(sim_members, readd) { expect_plan_clean(SIM_PLAN_READD, 1, 300); }
Test(sim_members, readd_leader) { expect_plan_clean(SIM_PLAN_READD_LEADER, 1, 300); }
/* seeds past the CI range that found bugs, kept as regressions (docs/consensus.md) */
Test(sim_members, regressions)
{
    /* a SNAP put the member's own never-committed pending change in force (it removed the
     * member, which went quiet for good) */
    expect_plan_clean(SIM_PLAN_REMOVE_LEADER, 317, 1);
    expect_plan_clean(SIM_PLAN_REMOVE_LEADER, 798, 1);
    /* a member that missed the removal kept voting for the removed, restarted candidate */
    expect_plan_clean(SIM_PLAN_READD_LEADER, 671, 1);
    /* a joiner took the first of two changes for its removal and went quiet */
    expect_plan_clean(SIM_PLAN_GROW_TWICE, 393, 1);
    /* a hint with our cur and a newer pending change was not taken as newer */
    expect_plan_clean(SIM_PLAN_REPLACE, 378, 1);
    /* a removed member's vote elected a member far behind, again and again */
    expect_plan_clean(SIM_PLAN_REPLACE, 1286, 1);
    /* ...but an observer that was a voter of our cur still counts by our joint quorums */
    expect_plan_clean(SIM_PLAN_OBSERVER_FLIP, 1925, 1);
    /* a hint holding the flip as pending was not replaced by votes that had it in force: the
     * member that missed it never found a quorum to follow (liveness) */
    expect_plan_clean(SIM_PLAN_OBSERVER_FLIP, 2858, 1);
}
