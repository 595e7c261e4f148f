/* Unit tests of quorum arithmetic, FLE vote ordering and the discovery history comparison. */
#include <criterion/criterion.h>

#include "consensus/quorum.h"

Test(zab_quorum, majority_sizes)
{
    cr_assert_eq(zab_quorum_size(1), 1);
    cr_assert_eq(zab_quorum_size(3), 2);
    cr_assert_eq(zab_quorum_size(4), 3);
    cr_assert_eq(zab_quorum_size(5), 3);
    cr_assert_eq(zab_quorum_size(7), 4);
}

Test(zab_quorum, vote_order_epoch_then_zxid_then_sid)
{
    struct zab_vote a = {1, 100, 5}, b = {3, 900, 4};
    cr_assert(zab_vote_beats(&a, &b), "higher epoch wins over higher zxid and sid");
    cr_assert_not(zab_vote_beats(&b, &a));
    struct zab_vote c = {1, 101, 5};
    cr_assert(zab_vote_beats(&c, &a), "same epoch: higher zxid wins");
    struct zab_vote d = {2, 100, 5};
    cr_assert(zab_vote_beats(&d, &a), "same epoch and zxid: higher sid wins");
    cr_assert_not(zab_vote_beats(&a, &a), "strict order");
    cr_assert(zab_vote_equal(&a, &a));
    cr_assert_not(zab_vote_equal(&a, &d));
}

Test(zab_quorum, commit_is_quorum_th_largest_ack)
{
    uint64_t three[] = {10, 30, 20};
    cr_assert_eq(zab_quorum_commit(three, 3, 2), 20);
    uint64_t five[] = {5, 50, 40, 1, 30};
    cr_assert_eq(zab_quorum_commit(five, 5, 3), 30);
    cr_assert_eq(zab_quorum_commit(five, 2, 3), 0, "fewer acks than a quorum: nothing");
    uint64_t same[] = {7, 7, 7};
    cr_assert_eq(zab_quorum_commit(same, 3, 2), 7);
    cr_assert_eq(five[0], 5, "input untouched");
}

Test(zab_quorum, history_comparison)
{
    cr_assert(zab_history_newer(3, 1, 2, 99));
    cr_assert(zab_history_newer(2, 100, 2, 99));
    cr_assert_not(zab_history_newer(2, 99, 2, 99));
    cr_assert_not(zab_history_newer(1, 500, 2, 1));
}
