/* Internal state of the Zab core shared by its modules (election, leader, follower, ring, core). */
#ifndef ZAB_INTERNAL_H
#define ZAB_INTERNAL_H

#include "consensus/quorum.h"
#include "consensus/zab.h"

/* ---- The in-memory entry window (ring.c): every entry after `applied`, plus up to
 * cfg.window applied ones (and cfg.window_bytes of their payloads) for DIFF. `base` is the zxid
 * just before the oldest entry. ---- */
struct ring_entry {
    uint64_t zxid;
    uint8_t *data; /* owned copy, zk_malloc'ed; NULL when len == 0 */
    size_t len;
    bool config; /* cfg.config_of recognized it (with a valid configuration) when appended */
};

struct zab_ring {
    struct ring_entry *e;
    size_t cap;
    size_t head;
    size_t count;
    uint64_t base;
    uint64_t bytes; /* payload bytes of every entry held */
};

int ring_init(struct zab_ring *r, size_t cap);
void ring_free(struct zab_ring *r);
uint64_t ring_last(const struct zab_ring *r);
const struct ring_entry *ring_at(const struct zab_ring *r, size_t i);
bool ring_full(const struct zab_ring *r);
int ring_append(struct zab_ring *r, uint64_t zxid, struct zab_buf payload, bool config);
/* Index of the first entry with zxid > after (count if none). */
size_t ring_after(const struct zab_ring *r, uint64_t after);
/* true if zxid is base or an entry of the window. */
bool ring_contains(const struct zab_ring *r, uint64_t zxid);
/* Largest known zxid (base or entry) <= zxid; false if zxid < base. */
bool ring_floor(const struct zab_ring *r, uint64_t zxid, uint64_t *out);
void ring_truncate(struct zab_ring *r, uint64_t zxid);
void ring_reset(struct zab_ring *r, uint64_t base);
/* Drops applied entries from the front while more than keep entries, or more than keep_bytes
 * payload bytes of applied entries, are held. */
void ring_evict(struct zab_ring *r, uint64_t applied, size_t keep, uint64_t keep_bytes);

/* ---- Election (election.c): FLE. ---- */
/* The configuration a vote carries (VOTE data): the sender's cur, the zxid from which it is in
 * force, and its pending one if any. Wire: [cur][cur_zxid u64] or [cur][cur_zxid][pend][pend_zxid]
 * (members as in NEWLEADER). */
struct vote_cfg {
    struct zab_members cur, pend;
    uint64_t cur_zxid, pend_zxid;
    bool has_pend;
};
#define VOTE_CFG_MAX (2 * (2 + 4 * (ZAB_PEERS_MAX + ZAB_MEMBERS_MAX) + 8))

struct vote_rec {
    uint32_t id; /* sender; 0: free slot */
    bool valid;
    uint8_t state;
    uint64_t round;
    struct zab_vote vote;
};

struct election {
    uint64_t round; /* logicalclock */
    struct zab_vote proposal;
    /* by sender, counted voters only (at most 2 * ZAB_PEERS_MAX of them) */
    struct vote_rec recv[ZAB_MEMBERS_MAX];  /* this round's votes */
    struct vote_rec outof[ZAB_MEMBERS_MAX]; /* FOLLOWING/LEADING answers from any round */
    bool finalizing;
    uint64_t finalize_at;
    uint64_t last_sent;
    /* The newest configuration a vote showed us, newer than ours (docs/consensus.md, "Learning
     * a configuration from votes"): it tells whom to send votes to and whom to follow, never a
     * quorum of our own (votes are not authenticated). Forgotten at every election_start. */
    bool has_hint;
    struct vote_cfg hint;
};

/* ---- Follower side (follower.c). ---- */
enum fphase {
    F_DISCOVERY, /* FOLLOWERINFO sent, waiting for LEADERINFO */
    F_SYNC,      /* ACKEPOCH sent, receiving DIFF/TRUNC/SNAP + PROPOSALs until NEWLEADER */
    F_SYNCED,    /* NEWLEADER taken: ACKNL once durable, then wait for UPTODATE */
    F_BROADCAST, /* UPTODATE seen: the leader is established */
};

struct follower {
    enum fphase phase;
    uint32_t epoch; /* the leader's epoch, from LEADERINFO */
    uint64_t nonce;
    uint64_t nonce_seq;
    bool stream_started; /* DIFF/TRUNC/SNAP seen in this session */
    uint64_t nl_zxid;
    bool nl_acked;
    uint64_t acked_sent;
    uint64_t last_heard; /* tick of the last message from the leader */
    uint64_t progress;   /* tick of the last phase change or stream message */
    uint64_t since;      /* tick we started following */
    bool snapped;        /* this session installed a SNAP: take the leader's active config */
};

/* ---- Leader side (leader.c). ---- */
enum { REL_NONE = 0, REL_LINK_DOWN = 1 /* cleared by a message of the session */,
       REL_LEFT = 2 /* PING LEAVING: for good */ };

enum lphase {
    LP_NONE,     /* nothing from this peer in this leadership */
    LP_INFO,     /* FOLLOWERINFO received (LEADERINFO sent once the epoch is chosen) */
    LP_ACKEPOCH, /* ACKEPOCH received, waiting for the epoch quorum to sync it */
    LP_SYNCING,  /* sync stream + NEWLEADER queued; gets every new PROPOSAL/COMMIT */
    LP_SYNCED,   /* ACKNL received: its acks count */
};

struct lpeer {
    uint32_t id; /* 0: free slot */
    enum lphase phase;
    uint64_t nonce;
    uint32_t accepted_epoch;
    uint32_t cur_epoch;
    uint64_t last_zxid;
    uint64_t nl_zxid;
    uint64_t acked;
    uint64_t last_heard;
    bool epoch_acked; /* counted in the ACKEPOCH quorum; survives a re-sync of the peer */
    /* These two survive a new session of the peer as well: */
    uint64_t promise_since; /* tick+1 it began naming an acceptedEpoch above ours (0: never) */
    uint64_t promise_last;  /* tick+1 it last did */
    uint64_t grace_until;   /* tick until which it counts as alive after leaving LP_SYNCED */
    uint64_t synced_tick;   /* tick+1 its last sync stream started (0: none) */
    /* A FOLLOWERINFO naming a live session's member (docs/consensus.md, "Contested sessions"):
     * held until the live session proves it is still there (then it was forged) or stays
     * silent for contest_ticks (then the member really left it and the new one proceeds). */
    bool contested;
    uint64_t contest_nonce;
    uint32_t contest_epoch;
    uint8_t released; /* REL_*: the follower left this session itself, or its link went down:
                       * its next FOLLOWERINFO replaces it at once */
};

struct leader {
    bool epoch_chosen;
    bool synced_started; /* ACKEPOCH quorum reached, currentEpoch persisted */
    uint32_t hist_epoch; /* own history at election time, for the "more recent" check */
    uint64_t hist_zxid;
    uint64_t nl_zxid;
    uint64_t since;
    struct lpeer peers[ZAB_MEMBERS_MAX]; /* voters, observers and learners, by slot */
};

/* ---- Configurations (members.c). ---- */
struct idset {
    uint32_t n;
    uint32_t ids[ZAB_MEMBERS_MAX + 1];
};
/* NEWLEADER data: [cur][act_zxid u64][act]; members as [n_voters u8][n_observers u8][ids u32] */
#define CFG_WIRE_MAX (2 * (2 + 4 * (ZAB_PEERS_MAX + ZAB_MEMBERS_MAX)) + 8)


struct zab {
    struct zab_config cfg;
    enum zab_sabotage sabotage;
    bool started;
    bool in_step;
    uint64_t now;
    uint64_t incarnation;

    uint32_t accepted_epoch;
    uint32_t current_epoch;
    struct zab_ring log;
    uint64_t durable;   /* every entry <= durable is on disk */
    uint64_t committed; /* known committed (may exceed durable) */
    uint64_t applied;   /* handed to the caller as commits */

    enum zab_role role;
    uint32_t epoch;  /* epoch led / followed */
    uint32_t leader; /* id, 0 if none */
    bool established;

    /* Configurations. cur: in force for every quorum (the last config entry known committed,
     * or followed by a later config entry in our log, which proves it committed: a leader
     * proposes one only once the previous one committed). pend: the last config entry of our
     * log, above committed and above cur; until it commits every quorum is one of cur AND one of
     * pend. act: the last one applied (the API's active configuration). */
    struct zab_members cur, pend, act;
    uint64_t cur_zxid, pend_zxid, act_zxid;
    uint64_t cur_claim; /* the zxid our votes say cur is in force from: its entry's (or a
                         * leader's word), cfg.members_zxid at START (0: unknown) */
    bool has_pend;
    bool cfg_changed; /* cur changed this step: effects run at the end of the step */

    struct election el;
    struct follower f;
    struct leader l;

    /* output buffers of the current step, sized at zab_new() */
    struct zab_out_msg *msgs;
    size_t n_msgs, cap_msgs;
    struct zab_entry *persist;
    size_t n_persist, cap_entries;
    struct zab_entry *commits;
    size_t n_commits;
    struct zab_app_in *apps;
    size_t n_apps, cap_apps;
    uint64_t snap_zxid; /* SNAP emitted this step at this zxid (0: none) */
    uint8_t nl_wire[CFG_WIRE_MAX]; /* NEWLEADER data of this step (cfg_wire_encode) */
    uint8_t vote_wire[4][VOTE_CFG_MAX]; /* VOTE data of this step (vote_cfg_encode) */
    size_t vote_wire_len[4];
    uint32_t n_vote_wire;
    struct zab_update *up;
    struct zab_counters counters;
};

/* members.c */
bool mem_voter(const struct zab_members *m, uint32_t id);
bool mem_has(const struct zab_members *m, uint32_t id); /* voter or observer */
bool mem_equal(const struct zab_members *a, const struct zab_members *b);
bool counted(const struct zab *z, uint32_t id);  /* voter of cur or of pend */
bool candidate(const struct zab *z);             /* may propose itself: a voter of cur or pend */
void idset_add(struct idset *s, uint32_t id);
bool quorum_in(const struct zab_members *m, const struct idset *s);
bool has_quorum(const struct zab *z, const struct idset *s); /* of cur, and of pend if any */
enum zab_role learner_role(const struct zab *z); /* OBSERVING if an observer of cur */
bool is_learner(const struct zab *z);            /* FOLLOWING or OBSERVING */
/* config_of on a payload, valid configurations only. */
bool payload_config(const struct zab *z, struct zab_buf payload, struct zab_members *out);
void cfg_start(struct zab *z, uint64_t at);
void cfg_on_append(struct zab *z, uint64_t zxid, const struct zab_members *m);
void cfg_on_truncate(struct zab *z);
void cfg_on_reset(struct zab *z, uint64_t zxid);
void cfg_set_cur(struct zab *z, const struct zab_members *m, uint64_t zxid);
void cfg_settle(struct zab *z); /* end of step: activate a committed pend, run the effects */
size_t cfg_wire_encode(const struct zab *z, uint8_t *buf);
bool cfg_wire_decode(struct zab_buf b, struct zab_members *cur, uint64_t *act_zxid,
                     struct zab_members *act);
size_t vote_cfg_encode(const struct zab *z, uint8_t *buf);
bool vote_cfg_decode(struct zab_buf b, struct vote_cfg *out);

/* core.c: output helpers and transitions shared by the modules. */
void out_send(struct zab *z, uint32_t to, const struct zab_msg *m);
void out_persist(struct zab *z, uint64_t zxid);
void out_app(struct zab *z, uint32_t from, uint8_t tag, struct zab_buf data);
void out_accepted_epoch(struct zab *z, uint32_t epoch);
void out_current_epoch(struct zab *z, uint32_t epoch);
void set_role(struct zab *z, enum zab_role role, uint32_t epoch, uint32_t leader);
void set_established(struct zab *z, bool on);
int log_append(struct zab *z, uint64_t zxid, struct zab_buf payload); /* recognizes configs */

/* election.c */
void election_start(struct zab *z);
/* The *_recv handlers get messages that passed msg_check (core.c). They return ZAB_EINVAL, having
 * changed nothing, for a message that does not fit our state; ZAB_OK once it took effect. */
int election_recv(struct zab *z, uint32_t from, const struct zab_msg *m);
void election_tick(struct zab *z);
void election_answer(struct zab *z, uint32_t to); /* non-looking reply to a LOOKING vote */

/* follower.c */
void follower_start(struct zab *z, uint32_t leader);
int follower_recv(struct zab *z, uint32_t from, const struct zab_msg *m);
void follower_tick(struct zab *z, struct zab_buf activity);
void follower_flush(struct zab *z); /* emit ACKNL/ACK covered by durability */
void follower_leave(struct zab *z); /* leaving our session: tell the leader (PING LEAVING) */
int follower_submit(struct zab *z, struct zab_buf payload);
int follower_app(struct zab *z, uint8_t tag, struct zab_buf data);

/* leader.c */
void leader_start(struct zab *z);
int leader_recv(struct zab *z, uint32_t from, const struct zab_msg *m);
void leader_tick(struct zab *z);
void leader_persisted(struct zab *z);
int leader_propose(struct zab *z, struct zab_buf payload);
int leader_app(struct zab *z, uint32_t to, uint8_t tag, struct zab_buf data);
int leader_check_change(const struct zab *z, const struct zab_members *next);
int leader_slot(const struct zab *z, uint32_t id); /* z->l.peers index of id, or -1 */
void leader_leave(struct zab *z); /* stepping down: tell the followers of our sessions */
void leader_peer_down(struct zab *z, uint32_t id); /* its link is down: its session is over */

#endif
