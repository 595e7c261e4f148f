/* Public API of the Zab consensus core: a deterministic, I/O-free state machine driven by zab_step(). */
#ifndef ZAB_H
#define ZAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/zab_msg.h"

/* Limits. Every queue of the core is bounded by one of these or by a zab_config field. */
#define ZAB_PEERS_MAX 7                   /* voters in one ensemble (3 and 5 are the tested sizes) */
#define ZAB_MEMBERS_MAX 16 /* voters + observers (+ learners not yet in a configuration) */
#define ZAB_PAYLOAD_MAX (1024 * 1024)      /* default of zab_config.max_payload */
#define ZAB_WINDOW_BYTES_DEFAULT (64u * 1024 * 1024) /* zab_config.window_bytes */
#define ZAB_COUNTER_MAX_DEFAULT 0xfffffffeu /* ZOOKEEPER-1277: counter 0xffffffff is never used */
/* Ceilings on what a peer message may carry (docs/consensus.md, "Hostile messages"). A message
 * above one of them is refused, so a forged message cannot push a member's epoch or election
 * round to the end of its range, where it could no longer grow. */
#define ZAB_EPOCH_MAX 0xffffff00u          /* highest epoch a message may name or a leader choose */
#define ZAB_ROUND_MAX (UINT64_C(1) << 48)  /* highest election round; ours saturates there */
#define ZAB_APP_DATA_MAX (16u * 1024 * 1024) /* PING session activity and APP payloads */

/* Return codes of zab_step() and zab_new(). 0 is success; the negative values are operating
 * errors the caller handles (retry, reply an error); a bug is an assertion, never a code. */
#define ZAB_OK 0
#define ZAB_ENOLEADER (-1) /* SUBMIT/APP while no leader is established: retry later */
#define ZAB_EBUSY (-2)     /* too many outstanding proposals: back-pressure */
#define ZAB_EINVAL (-3)    /* event refused, nothing changed (bad START state, payload too big,
                            * a received message out of range or not for our current state) */
#define ZAB_ENOMEM (-4)    /* allocation failed; the event had no effect */
#define ZAB_ETOOBIG (-5)   /* codec: output buffer too small */
#define ZAB_EMALFORMED (-6) /* codec: input bytes are not a valid message */
#define ZAB_ENOQUORUM (-7) /* config change: the new voters do not contain a quorum of members
                            * synced with this leader (ZooKeeper's NewConfigNoQuorum) */
#define ZAB_ERECONFIG (-8) /* config change: another one is proposed and not yet committed */

const char *zab_strerror(int rc);

enum zab_role { ZAB_LOOKING = 0, ZAB_FOLLOWING = 1, ZAB_LEADING = 2, ZAB_OBSERVING = 3 };

/* A configuration (docs/consensus.md, "Membership changes and observers"). */
struct zab_members {
    uint32_t n_voters;
    uint32_t voters[ZAB_PEERS_MAX];      /* participants, ids > 0, no duplicates */
    uint32_t n_observers;
    uint32_t observers[ZAB_MEMBERS_MAX]; /* never vote, never count for a quorum */
};

/* Static configuration; ticks are the only notion of time. */
struct zab_config {
    uint32_t my_id;
    struct zab_members members;     /* the configuration the member starts with: the last one it
                                     * knows committed (its zoo.cfg / dynamic config file). my_id
                                     * is normally a voter or an observer of it; a member in
                                     * neither is a non-voting learner (a joiner) */
    uint64_t members_zxid;          /* the zxid of the change that made `members` (the dynamic
                                     * config file's version), 0 if unknown (zoo.cfg): what our
                                     * votes claim about it (docs/consensus.md, "Learning a
                                     * configuration from votes") */
    uint32_t init_limit_ticks;      /* discovery+sync must finish within this (ZooKeeper initLimit) */
    uint32_t sync_limit_ticks;      /* silence tolerated in broadcast (ZooKeeper syncLimit) */
    uint32_t finalize_ticks;        /* election: wait this long for a better vote before deciding */
    uint32_t retry_ticks;           /* resend votes / FOLLOWERINFO after this much silence */
    uint32_t window;                /* applied entries kept in memory for DIFF (committedLog) */
    uint64_t window_bytes;          /* ... and at most this many payload bytes of them (issue 11:
                                     * 1,000 entries of 1 MiB were 1 GiB); 0: the default,
                                     * ZAB_WINDOW_BYTES_DEFAULT. Entries not yet applied are
                                     * always kept */
    uint32_t max_outstanding;       /* leader: uncommitted proposals allowed in flight */
    uint32_t counter_max;           /* highest zxid counter used before forcing a new epoch */
    uint32_t max_payload;           /* largest SUBMIT payload (jute.maxbuffer plus its envelope) */
    /* Is this log payload a configuration change, and to what? Called by the core on SUBMIT, on
     * PROPOSALs and sync streams received, and on the START tail. Returns 1 and fills *next
     * (yes), 0 (an ordinary entry). Must be pure. NULL: no entry is ever a config change. An
     * entry whose *next is not a valid configuration is an ordinary entry. */
    int (*config_of)(void *ctx, struct zab_buf payload, struct zab_members *next);
    void *config_ctx;
    /* Leader: how long a live sync session must stay silent before a FOLLOWERINFO in its
     * member's name replaces it (docs/consensus.md, "Contested sessions"). 0: the default,
     * max(2 * retry_ticks + 2, sync_limit_ticks / 4). */
    uint32_t contest_ticks;
    /* The transport authenticates peers (ZooKeeper's sslQuorum): a vote's sender is who it says.
     * Then a looking member takes a vote's word that a change pending in its own log was
     * committed (docs/consensus.md, "Learning a configuration from votes"); without it, a
     * configuration learned from votes only tells whom to follow. */
    bool peers_authenticated;
};

/* Fills in defaults for a member of the given ensemble (init 10, sync 5, window 500, ...):
 * members.voters = voters, no observers, no config_of. */
void zab_config_default(struct zab_config *cfg, uint32_t my_id, uint32_t n_voters,
                        const uint32_t *voters);

enum zab_event_type {
    ZAB_START = 1,  /* once, first: the persisted state */
    ZAB_RECEIVE,    /* a decoded peer message */
    ZAB_TICK,       /* one tick elapsed */
    ZAB_SUBMIT,     /* a write to order (the txn command); leader proposes it, follower forwards */
    ZAB_PERSISTED,  /* every log entry with zxid <= persisted.zxid is durable */
    ZAB_PEER_UP,    /* transport hint: connection to peer established */
    ZAB_PEER_DOWN,  /* transport hint: connection to peer lost */
    ZAB_APP,        /* send an opaque app message to the leader (follower) or to a member (leader) */
    ZAB_SYNC_PROGRESS, /* transport hint: the sync stream from peer.id (a snapshot streamed
                        * beside the core's messages) made progress: the sync is alive */
};

struct zab_event {
    enum zab_event_type type;
    union {
        struct {
            uint32_t accepted_epoch; /* acceptedEpoch file */
            uint32_t current_epoch;  /* currentEpoch file */
            uint64_t last_applied;   /* zxid the state machine (snapshot) is at */
            uint64_t last_logged;    /* last zxid in the log (== last_applied if the tail is empty) */
            /* The log tail: every entry after last_applied, in order (at most window +
             * max_outstanding of them). Payloads are copied. */
            const struct zab_entry *entries;
            size_t n_entries;
            uint64_t incarnation; /* differs on every start (boot count): keeps nonces unique */
        } start;
        struct {
            uint32_t from;
            const struct zab_msg *msg; /* msg->data is borrowed for this call and its update */
        } receive;
        struct {
            struct zab_buf session_activity; /* follower: carried to the leader in its PING */
        } tick;
        struct {
            struct zab_buf payload; /* borrowed; the leader copies it into its window */
        } submit;
        struct {
            uint64_t zxid;
        } persisted;
        struct {
            uint32_t id;
        } peer;
        struct {
            uint32_t to; /* leader: the member; follower: ignored (goes to the leader) */
            uint8_t tag;
            struct zab_buf data;
        } app;
    };
};

/* A message to send. Messages of one update go out in array order (per peer FIFO). */
struct zab_out_msg {
    uint32_t to;
    struct zab_msg msg; /* for ZAB_MSG_SNAP the caller attaches its state at msg.zxid as data */
};

/* An app message (or a follower PING's session activity, tag ZAB_APP_TAG_PING) that arrived. */
struct zab_app_in {
    uint32_t from;
    uint8_t tag;
    struct zab_buf data;
};
#define ZAB_APP_TAG_PING 0

enum zab_update_flags {
    ZAB_UPD_INSTALL = 1u << 0,        /* install install_data as the state at install_zxid */
    ZAB_UPD_TRUNCATE = 1u << 1,       /* drop log entries with zxid > truncate_to */
    ZAB_UPD_ACCEPTED_EPOCH = 1u << 2, /* persist accepted_epoch (durably, before sending) */
    ZAB_UPD_CURRENT_EPOCH = 1u << 3,  /* persist current_epoch (durably, before sending) */
    ZAB_UPD_ROLE = 1u << 4,           /* role / epoch / leader changed (informational) */
    ZAB_UPD_ESTABLISHED = 1u << 5,    /* a leader is established for us: serve clients */
    ZAB_UPD_LOST = 1u << 6,           /* the established leader is gone: stop serving writes */
    ZAB_UPD_CONFIG = 1u << 7, /* a configuration became active: config, committed at config_zxid
                               * (its entry is in this update's commits[]); or a sync replaced
                               * ours with the leader's (after INSTALL, or a joiner's start-up
                               * configuration): then config_zxid is the point it holds from */
};

/* What the caller must do, in this order:
 *   1. INSTALL: replace state and log with the snapshot (durably; the log is then empty at
 *      install_zxid);
 *   2. TRUNCATE: drop log entries above truncate_to (durable no later than the appends below);
 *   3. ACCEPTED_EPOCH / CURRENT_EPOCH: persist them durably *before* sending any message;
 *   4. append entries[] to the log (may complete later: report with ZAB_PERSISTED);
 *   5. apply commits[] to the state machine in array order (zxid order);
 *   6. send msgs[] (a SNAP message gets the state after step 5 attached);
 *   7. hand apps[] to the server layer.
 * All pointers stay valid until the next zab_step() call. The core emits ACKs (of proposals and of
 * NEWLEADER) only once ZAB_PERSISTED has covered them, so no message ever waits on the disk. */
struct zab_update {
    unsigned flags;
    uint64_t install_zxid;
    struct zab_buf install_data;
    uint64_t truncate_to;
    uint32_t accepted_epoch;
    uint32_t current_epoch;
    const struct zab_entry *entries;
    size_t n_entries;
    const struct zab_entry *commits;
    size_t n_commits;
    const struct zab_out_msg *msgs;
    size_t n_msgs;
    const struct zab_app_in *apps;
    size_t n_apps;
    enum zab_role role; /* always filled: current role */
    uint32_t epoch;     /* always filled: the epoch we lead/follow (currentEpoch when looking) */
    uint32_t leader;    /* always filled: leader id, 0 if none */
    struct zab_members config; /* ZAB_UPD_CONFIG: the configuration now active */
    uint64_t config_zxid;
};

struct zab;

/* Allocates a core for cfg (all memory up front, through zk_malloc). NULL on bad config / OOM. */
struct zab *zab_new(const struct zab_config *cfg);
void zab_free(struct zab *z);

/* Feeds one event; fills *up (always, even on error: then it is empty). Not re-entrant. */
int zab_step(struct zab *z, const struct zab_event *ev, struct zab_update *up);

/* Read-only accessors, for tests and the server's status output. */
enum zab_role zab_role(const struct zab *z);
bool zab_established(const struct zab *z);
uint64_t zab_committed(const struct zab *z);
uint64_t zab_last_logged(const struct zab *z);
/* Counters of what the core refused or resolved on its own (the core has no log: the caller
 * may export them or log their increase). Monotonic for the life of the core. */
struct zab_counters {
    uint64_t sessions_contested;  /* FOLLOWERINFOs held because the member's session was live */
    uint64_t followerinfo_forged; /* ... dropped: the live session was heard from after it */
    uint64_t contests_conceded;   /* ... that replaced the session once it stayed silent */
};
void zab_get_counters(const struct zab *z, struct zab_counters *out);
/* The active configuration (the last committed config entry's, or cfg.members). */
const struct zab_members *zab_members(const struct zab *z);

/* Would the leader propose this configuration change now? ZAB_OK, ZAB_ERECONFIG, ZAB_ENOQUORUM,
 * ZAB_EINVAL (not a valid configuration: no voters, a zero or duplicate id, over the limits), or
 * ZAB_ENOLEADER (not an established leader). Pure query; zab_step(SUBMIT) of a config entry
 * returns the same codes and proposes nothing unless ZAB_OK. */
int zab_check_config_change(const struct zab *z, const struct zab_members *next);
/* Is m a valid configuration (at least one voter, ids > 0, no id twice, within the limits)? */
bool zab_members_valid(const struct zab_members *m);

/* Test hook: break the core on purpose so the simulator can prove its checkers bite. */
enum zab_sabotage {
    ZAB_SABOTAGE_NONE = 0,
    ZAB_SABOTAGE_MINORITY_COMMIT, /* leader commits on its own durable log, ignoring acks */
    ZAB_SABOTAGE_SKIP_TRUNC,      /* leader sends DIFF where TRUNC is needed */
    ZAB_SABOTAGE_EARLY_ACK,       /* follower ACKs before the entry is durable (ZOOKEEPER-3911) */
    ZAB_SABOTAGE_NEW_QUORUM_ONLY, /* leader commits a pending config change (and what follows it)
                                   * on a quorum of the new voters alone */
};
void zab_sabotage(struct zab *z, enum zab_sabotage what);

#endif
