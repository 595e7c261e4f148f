/* Proves the checkers bite: cores broken on purpose must be caught by the simulator, each with a
 * named invariant, within a bounded number of seeds. */
#include "sim_check.h"

static void expect_caught(enum zab_sabotage sab, uint32_t members, const char *invariant)
{
    struct sim_opts o = {.members = members, .sabotage = sab};
    struct sim_result r;
    uint64_t seed = sim_run_range(o, 1, 500, &r);
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
