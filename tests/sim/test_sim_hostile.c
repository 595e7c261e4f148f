/* The simulator with a forging peer (sim_opts.hostile): out-of-range, unknown-sender, out-of-phase
 * and vote forgeries injected into running 3- and 5-member ensembles. Every safety checker stays
 * on, forgeries that must be refused are, votes never move an established member, and the
 * ensemble still converges and commits after the heal (forgeries continue meanwhile). */
#include "sim_check.h"

static void expect_clean_hostile(uint32_t members, uint64_t first, uint64_t count)
{
    struct sim_opts o = {.members = members, .hostile = true};
    uint64_t forged = 0, refused = 0;
    for (uint64_t seed = first; seed < first + count; seed++) {
        struct sim_result r;
        o.seed = seed;
        if (sim_run(&o, &r) != 0) {
            sim_print_trace_tail(o, 60);
            cr_assert_fail("seed %" PRIu64 " (%u members): %s\nreplay: zab-sim --hostile "
                           "--members %u --seed %" PRIu64 " --trace", seed, members, r.what,
                           members, seed);
        }
        cr_assert_gt(r.commits, 0, "seed %" PRIu64 ": nothing committed", seed);
        forged += r.forged;
        refused += r.refused;
    }
    cr_log_info("%u members: %" PRIu64 " forged, %" PRIu64 " refused", members, forged, refused);
    cr_assert_gt(forged, 100 * count, "the forger hardly ran");
    cr_assert_gt(refused, forged / 2, "most forgeries are out of range and must be refused");
    cr_assert_lt(refused, forged, "in-range votes are answered, not refused");
}

Test(sim_hostile, three_members_1_to_600, .timeout = 200) { expect_clean_hostile(3, 1, 600); }
Test(sim_hostile, three_members_601_to_1200, .timeout = 200) { expect_clean_hostile(3, 601, 600); }
Test(sim_hostile, five_members_1_to_400, .timeout = 200) { expect_clean_hostile(5, 1, 400); }
