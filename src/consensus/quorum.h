/* Pure quorum arithmetic and FLE vote ordering (no state; unit-tested on their own). */
#ifndef ZAB_QUORUM_H
#define ZAB_QUORUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A vote as FLE compares them: epoch, then zxid, then id (totalOrderPredicate). */
struct zab_vote {
    uint32_t leader;
    uint64_t zxid;
    uint32_t epoch; /* the proposed leader's currentEpoch (peerEpoch) */
};

/* Strict majority of n voters: floor(n/2)+1. */
uint32_t zab_quorum_size(uint32_t n_voters);

/* totalOrderPredicate: a beats b iff (epoch, zxid, leader) of a is lexicographically greater. */
bool zab_vote_beats(const struct zab_vote *a, const struct zab_vote *b);
bool zab_vote_equal(const struct zab_vote *a, const struct zab_vote *b);

/* Commit point of a cumulative-ack ensemble: the largest z such that at least `quorum` of the n
 * acked[] values are >= z, i.e. the quorum-th largest value; 0 if n < quorum. acked is not
 * modified. */
uint64_t zab_quorum_commit(const uint64_t *acked, size_t n, uint32_t quorum);

/* Discovery: is history (epoch_a, zxid_a) more recent than (epoch_b, zxid_b)? (isMoreRecentThan) */
bool zab_history_newer(uint32_t epoch_a, uint64_t zxid_a, uint32_t epoch_b, uint64_t zxid_b);

#endif
