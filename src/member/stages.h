/* Where a write's time goes: per-stage latency histograms of the write path, for mntr and the
 * metrics endpoint (docs/performance.md has a depth-1 trace made with them).
 *
 * On the leader, a write is timed from its arrival at this member (or, forwarded, at the
 * leader) through: proposed (the core gave it a zxid), durable here, quorum (committed),
 * applied, replied (its reply queued to the client's connection, when the client is here).
 * On a follower: proposal received, durable here, ACK sent. Entries are found by zxid in a
 * fixed ring, so timing costs no allocation and forgets writes it cannot place. */
#ifndef ZK_STAGES_H
#define ZK_STAGES_H

#include <stdint.h>

#include "common/hist.h"

enum stage_hist {
    STAGE_RECV_TO_PROPOSED,    /* leader: arrival -> zxid assigned */
    STAGE_PROPOSED_TO_DURABLE, /* leader: zxid -> durable on the leader's disk */
    STAGE_PROPOSED_TO_QUORUM,  /* leader: zxid -> committed (a quorum has it durable) */
    STAGE_QUORUM_TO_APPLIED,   /* leader: committed -> applied to the tree */
    STAGE_APPLIED_TO_REPLIED,  /* applied -> the reply queued to the client */
    STAGE_RECV_TO_REPLIED,     /* the whole of it, for writes whose client is here */
    STAGE_F_RECEIVED_TO_DURABLE, /* follower: proposal received -> durable */
    STAGE_F_DURABLE_TO_ACK,    /* follower: durable -> ACK sent */
    STAGE_COUNT
};

struct stages;

struct stages *stages_new(void);
void stages_free(struct stages *st);
/* Monotonic microseconds. */
uint64_t stages_now_us(void);

/* A write that arrived at time recv_us got zxid (this member leads) / a proposal arrived. */
void stages_proposed(struct stages *st, int64_t zxid, uint64_t recv_us);
void stages_follower_received(struct stages *st, int64_t zxid);
/* Everything up to zxid is durable here. */
void stages_durable(struct stages *st, int64_t zxid);
/* Follower: an ACK up to zxid left. */
void stages_ack_sent(struct stages *st, int64_t zxid);
/* Leader: zxid committed (about to be applied), then applied, then replied to. */
void stages_committed(struct stages *st, int64_t zxid);
void stages_applied(struct stages *st, int64_t zxid);
void stages_replied(struct stages *st, int64_t zxid);

const struct hist *stages_hist(const struct stages *st, enum stage_hist which);
const char *stages_name(enum stage_hist which);

#endif
