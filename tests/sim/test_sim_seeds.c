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
