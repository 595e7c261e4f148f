/* Zab peer messages and persistent records as plain C structs, with their msgpack codec. */
#ifndef ZAB_MSG_H
#define ZAB_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes owned by someone else (see each use for how long they live). */
struct zab_buf {
    const uint8_t *data;
    size_t len;
};

/* One log entry: the txn command the core orders, stamped with its zxid. */
struct zab_entry {
    uint64_t zxid;
    struct zab_buf payload;
};

static inline uint64_t zab_zxid(uint32_t epoch, uint32_t counter)
{
    return ((uint64_t)epoch << 32) | counter;
}
static inline uint32_t zab_epoch_of(uint64_t zxid) { return (uint32_t)(zxid >> 32); }
static inline uint32_t zab_counter_of(uint64_t zxid) { return (uint32_t)(zxid & 0xffffffffu); }

/* Message types. Names follow ZooKeeper's quorum packets (Leader.java) plus the FLE vote. */
enum zab_msg_type {
    ZAB_MSG_VOTE = 1,     /* FLE notification: state, leader, zxid, epoch (peerEpoch), round */
    ZAB_MSG_FOLLOWERINFO, /* F->L: epoch = acceptedEpoch, nonce = new sync session */
    ZAB_MSG_LEADERINFO,   /* L->F: epoch = new epoch, nonce echoed */
    ZAB_MSG_ACKEPOCH,     /* F->L: epoch2 = currentEpoch, zxid = last logged, flags ALREADY */
    ZAB_MSG_DIFF,         /* L->F: zxid = follower's last zxid, stream continues from there */
    ZAB_MSG_TRUNC,        /* L->F: zxid = truncate to this, stream continues from there */
    ZAB_MSG_SNAP,         /* L->F: zxid = snapshot point, data = state (attached by caller) */
    ZAB_MSG_PROPOSAL,     /* L->F: zxid, zxid2 = previous zxid in the leader's log, data = txn */
    ZAB_MSG_NEWLEADER,    /* L->F: epoch, zxid = leader's last zxid at the end of the sync */
    ZAB_MSG_ACKNL,        /* F->L: ACK of NEWLEADER, zxid echoed */
    ZAB_MSG_UPTODATE,     /* L->F: established; zxid = commit point */
    ZAB_MSG_ACK,          /* F->L: cumulative, zxid = durable and synced up to here */
    ZAB_MSG_COMMIT,       /* L->F: cumulative, zxid = committed up to here */
    ZAB_MSG_PING,         /* L->F: zxid = commit, zxid2 = last proposed; F->L: zxid = acked,
                           * data = session activity */
    ZAB_MSG_REQUEST,      /* F->L: forwarded SUBMIT, data = payload */
    ZAB_MSG_APP,          /* either way between member and leader: tag + opaque data */
    ZAB_MSG_TYPE_MAX = ZAB_MSG_APP,
};

#define ZAB_MSG_F_ALREADY 1u   /* ACKEPOCH: this epoch was already accepted (Java's -1) */
#define ZAB_MSG_F_SYNCED 2u    /* PING F->L: zxid is a valid ack */
#define ZAB_MSG_F_ESTABLISHED 4u /* PING L->F: the leader is established */
#define ZAB_MSG_F_LEAVING 8u   /* PING L->F: the leader steps down: elect now (a looking vote,
                                * which anyone can forge, no longer moves a follower);
                                * PING F->L: the follower leaves this sync session (a resync, an
                                * election), so its next FOLLOWERINFO is not contested */

/* One message; every field has a meaning for some type, unused fields are 0. */
struct zab_msg {
    uint8_t type;
    uint8_t flags;
    uint8_t state;   /* VOTE: sender's role */
    uint8_t tag;     /* APP: type tag */
    uint32_t leader; /* VOTE: proposed leader */
    uint32_t epoch;  /* the sender's epoch in this exchange (VOTE: proposed leader's peerEpoch) */
    uint32_t epoch2; /* ACKEPOCH: follower's currentEpoch */
    uint64_t zxid;
    uint64_t zxid2;
    uint64_t nonce; /* sync session chosen by the follower; VOTE: election round */
    struct zab_buf data;
};

const char *zab_msg_type_name(uint8_t type);

/* Encodes m as one msgpack array into buf[0..cap); *len gets the size. 0 or ZAB_ETOOBIG. */
int zab_msg_encode(const struct zab_msg *m, uint8_t *buf, size_t cap, size_t *len);
/* Upper bound of the encoded size of m. */
size_t zab_msg_encoded_max(const struct zab_msg *m);
/* Decodes buf[0..len) into *m; m->data points into buf. 0 or ZAB_EMALFORMED, never crashes. */
int zab_msg_decode(const uint8_t *buf, size_t len, struct zab_msg *m);

/* Log record codec (used by the log writer): [zxid, payload]. */
int zab_entry_encode(const struct zab_entry *e, uint8_t *buf, size_t cap, size_t *len);
int zab_entry_decode(const uint8_t *buf, size_t len, struct zab_entry *e);

/* Epoch files codec: [acceptedEpoch, currentEpoch]. */
struct zab_epochs {
    uint32_t accepted_epoch;
    uint32_t current_epoch;
};
int zab_epochs_encode(const struct zab_epochs *e, uint8_t *buf, size_t cap, size_t *len);
int zab_epochs_decode(const uint8_t *buf, size_t len, struct zab_epochs *e);

#endif
