/* Pure quorum arithmetic and FLE vote ordering. */
#include "consensus/quorum.h"

#include "common/assert.h"
#include "consensus/zab.h"

uint32_t zab_quorum_size(uint32_t n_voters)
{
    ZK_ASSERT(n_voters >= 1 && n_voters <= ZAB_PEERS_MAX);
    return n_voters / 2 + 1;
}

bool zab_vote_beats(const struct zab_vote *a, const struct zab_vote *b)
{
    if (a->epoch != b->epoch) {
        return a->epoch > b->epoch;
    }
    if (a->zxid != b->zxid) {
        return a->zxid > b->zxid;
    }
    return a->leader > b->leader;
}

bool zab_vote_equal(const struct zab_vote *a, const struct zab_vote *b)
{
    return a->leader == b->leader && a->zxid == b->zxid && a->epoch == b->epoch;
}

uint64_t zab_quorum_commit(const uint64_t *acked, size_t n, uint32_t quorum)
{
    ZK_ASSERT(quorum >= 1);
    ZK_ASSERT(n <= ZAB_PEERS_MAX);
    if (n < quorum) {
        return 0;
    }
    uint64_t sorted[ZAB_PEERS_MAX];
    for (size_t i = 0; i < n; i++) {
        sorted[i] = acked[i];
    }
    /* insertion sort, descending: n <= ZAB_PEERS_MAX */
    for (size_t i = 1; i < n; i++) {
        uint64_t v = sorted[i];
        size_t j = i;
        while (j > 0 && sorted[j - 1] < v) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = v;
    }
    uint64_t c = sorted[quorum - 1];
    ZK_ASSERT(c <= sorted[0]);
    return c;
}

bool zab_history_newer(uint32_t epoch_a, uint64_t zxid_a, uint32_t epoch_b, uint64_t zxid_b)
{
    return epoch_a > epoch_b || (epoch_a == epoch_b && zxid_a > zxid_b);
}
