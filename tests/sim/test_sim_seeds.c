/* CI seed corpus: 2,000 seeds of 3 members and 2,000 of 5, every invariant checked on every step
 * (split in halves so ctest --jobs / criterion --jobs can use both cores). */
#include "sim_check.h"

Test(sim_seeds, three_members_1_to_1000, .timeout = 200) { sim_expect_clean(3, 1, 1000); }
Test(sim_seeds, three_members_1001_to_2000, .timeout = 200) { sim_expect_clean(3, 1001, 1000); }
Test(sim_seeds, five_members_1_to_1000, .timeout = 200) { sim_expect_clean(5, 1, 1000); }
Test(sim_seeds, five_members_1001_to_2000, .timeout = 200) { sim_expect_clean(5, 1001, 1000); }
/* seeds that found real bugs in the core, kept as regressions (see docs/consensus.md) */
Test(sim_seeds, regressions)
{
    sim_expect_clean(3, 1623, 1);  /* currentEpoch written before the synced log was durable */
    sim_expect_clean(3, 88, 1);    /* follower window full of entries it could not apply */
    sim_expect_clean(3, 11791, 1); /* member with a higher acceptedEpoch locked out forever */
    sim_expect_clean(5, 6926, 1);  /* same, 5 members */
    sim_expect_clean(3, 16524, 1); /* proposals lost to a partition never noticed: stall */
}
/* issue 11: payloads of up to 16 KiB against window_bytes 64 KiB: the window is bounded by bytes
 * long before it is by entries, followers behind it are sent snapshots, and every invariant
 * holds (the same seeds' schedules: the payload sizes draw nothing from the PRNG) */
Test(sim_seeds, big_payloads_bounded_by_bytes, .timeout = 200)
{
    uint64_t snaps = 0, small_snaps = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        struct sim_opts o = {.members = 3, .seed = seed, .big_payloads = true};
        struct sim_result r;
        if (sim_run(&o, &r) != 0) {
            sim_print_trace_tail(o, 60);
            cr_assert_fail("seed %" PRIu64 " (big payloads): %s\nreplay: zab-sim --members 3 --big "
                           "--seed %" PRIu64 " --trace", seed, r.what, seed);
        }
        snaps += r.snaps;
        o.big_payloads = false;
        (void)sim_run(&o, &r);
        small_snaps += r.snaps;
    }
    cr_log_info("snapshot syncs: %" PRIu64 " with big payloads, %" PRIu64 " without", snaps,
                small_snaps);
    cr_assert_gt(snaps, small_snaps, "the byte bound never sent anyone a snapshot");
}
