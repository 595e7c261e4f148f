/* One zabkeeper member's logic, without I/O: client sessions and requests, the write path through
 * the Zab core, the replicated store, catch-up, snapshots and session expiry. It talks to the
 * world only through three seams (design.md #9), as TigerBeetle's replica is generic over its
 * message bus, storage and time:
 *
 *   network  member_env: send to a member, send to / pause / close a client connection; events
 *            come in as member_* calls (a connection's bytes, a member's message, links down);
 *   storage  member_storage (storage_ops.h): the durable log, the epochs, snapshot files;
 *   time     member_env's clocks, and member_tick / member_session_tick called on schedule.
 *
 * Production wires these to libevent, sockets, LMDB, the journal and the clock (src/server);
 * the whole-member simulator (tests/sim/member_sim.c) wires them to a simulated network, disk
 * and clock, and runs several members in one process. Nothing here blocks or sleeps.
 *
 * Calls follow one discipline: events (input, messages, ticks) may queue work; member_flush,
 * called once after each batch of events (a loop turn), hands writes to the core, starts durable
 * commits, answers what became ready and pushes replies out (design.md #5). */
#ifndef ZK_MEMBER_H
#define ZK_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "member/storage_ops.h"
#include "server/config.h"

struct member;
struct jute_writer;

/* The network and the clock, as the member sees them. `io` is passed back to every call. */
struct member_env {
    void *io;
    /* ---- members (peer links are FIFO per pair; a send may be dropped, the core copes) ---- */
    /* Queue a message for member `to`. 0, or -1 (link down or its queue full: link reset). */
    int (*peer_send)(void *io, uint32_t to, const uint8_t *msg, size_t len);
    /* Bytes queued on the link to `to` (0 if down), and the link's bound. */
    size_t (*peer_queued)(void *io, uint32_t to);
    size_t (*peer_queue_max)(void *io);
    /* Drop the link to `to` (it reconnects by itself). */
    void (*peer_reset)(void *io, uint32_t to, const char *why);
    /* Write what is queued for members now (overlap their work with our fsync). May be NULL. */
    void (*peer_push)(void *io);
    /* ---- client connections, by the id member_conn_open was given ---- */
    /* Queue bytes for the connection. 0, or -1 (it is gone or out of memory: it is closed). */
    int (*conn_send)(void *io, uint64_t conn, const uint8_t *data, size_t len);
    /* Bytes queued for the connection and not yet written. */
    size_t (*conn_queued)(void *io, uint64_t conn);
    /* Stop or resume reading the connection. */
    void (*conn_reading)(void *io, uint64_t conn, bool on);
    /* Close the connection: at once, or once what is queued is written (after_flush). The
     * member then gets member_conn_closed. */
    void (*conn_close)(void *io, uint64_t conn, bool after_flush);
    /* Write what is queued for clients now (replies before the next fsync). May be NULL. */
    void (*conn_push)(void *io);
    /* Client SASL (opcode 102, sasl.h): one client token of the connection's exchange in, the
     * server's token out (valid until the next call); on MEMBER_SASL_DONE the authorization id
     * is in id, on MEMBER_SASL_FAILED why. NULL when SASL is not configured (every attempt
     * fails). */
    int (*sasl_step)(void *io, uint64_t conn, const uint8_t *in, size_t in_len,
                     const uint8_t **out, size_t *out_len, char *id, size_t id_size);
    /* The active configuration changed (a reconfig committed, or at start): links follow the
     * members, the dynamic configuration file gets `text` (ZooKeeper's format, with its
     * version line). May be NULL. */
    void (*members_changed)(void *io, const struct zk_member *members, int n, const char *text,
                            size_t text_len, int64_t version);
    /* ---- time and randomness ---- */
    int64_t (*now_ms)(void *io);  /* monotonic */
    int64_t (*wall_ms)(void *io); /* wall clock: ctime/mtime, session ids */
    void (*random)(void *io, void *buf, size_t len);
    /* ---- stopping ---- */
    /* The member cannot go on (a committed txn cannot be applied, something the protocol
     * already relied on cannot be made durable): it must stop rather than diverge. Does not
     * return: production exits, the simulator takes the member down as a crash. */
    void (*fatal)(void *io, const char *why);
    /* ---- the process around it (may be NULL) ---- */
    /* The member started or stopped serving clients (systemd readiness). */
    void (*serving)(void *io, bool serving);
    /* Open and allowed file descriptors, for mntr. */
    void (*process_facts)(void *io, long *open_fds, long *max_fds);
};

/* Bugs planted on purpose, so the whole-member simulator can prove its checker finds them
 * (tests/sim/member_sim.c); 0 everywhere else. */
enum member_sabotage {
    MEMBER_SABOTAGE_EARLY_ACK = 1u << 0,     /* the core ACKs before the entry is durable */
    MEMBER_SABOTAGE_EARLY_REPLY = 1u << 1,   /* a write is answered before it commits */
    MEMBER_SABOTAGE_DROP_ERROR_UPDATE = 1u << 2, /* a failed step's update is not executed */
    MEMBER_SABOTAGE_KEEP_EPHEMERALS = 1u << 3, /* closing a session keeps its ephemerals */
    MEMBER_SABOTAGE_MARK_AHEAD = 1u << 4,    /* the committed mark says "all I logged" */
    MEMBER_SABOTAGE_READ_AHEAD = 1u << 5,    /* a read is answered before the session's
                                              * earlier writes (per-session order broken) */
};

enum member_sasl { MEMBER_SASL_CONTINUE, MEMBER_SASL_DONE, MEMBER_SASL_FAILED };

/* Everything the member needs to start; the member copies what it keeps. */
struct member_init {
    const struct zk_config *cfg;
    struct member_env env;
    const struct member_storage *storage;
    unsigned sabotage; /* enum member_sabotage flags; 0 in production */
};

struct member *member_new(const struct member_init *init);
/* Recover the state from storage and start the core. 0, or -1 (logged): cannot start. */
int member_start(struct member *m);
/* Everything still queued gets its chance (a last flush); connections are told to close. */
void member_stop(struct member *m);
void member_free(struct member *m);

/* ---- events from the network ---- */
/* A client connected from addr:port (numeric). The id is the io layer's, unique while open. */
void member_conn_open(struct member *m, uint64_t conn, const char *addr, int port);
/* The io layer authenticated the connection (right after member_conn_open): scheme "x509"
 * and the certificate's subject, as ZooKeeper's X509AuthenticationProvider names it. */
void member_conn_identity(struct member *m, uint64_t conn, const char *scheme, const char *id);
/* Bytes arrived: the member takes as many whole frames as it will now and returns the number
 * of bytes it consumed (the rest stays with the io layer and is offered again). */
size_t member_conn_input(struct member *m, uint64_t conn, const uint8_t *data, size_t len);
/* The connection's queued output fell to its low-water mark: paused reading may resume. */
void member_conn_writable(struct member *m, uint64_t conn);
/* The connection is gone (closed by the client, an error, or after member asked). */
void member_conn_closed(struct member *m, uint64_t conn);
/* May the io layer accept one more connection from addr (maxClientCnxns, maxCnxns)? */
bool member_conn_admit(struct member *m, const char *addr);

/* A message from member `from` (its link said who it is). */
void member_peer_message(struct member *m, uint32_t from, const uint8_t *data, size_t len);
/* Our link to member id went down / has room again. */
void member_peer_down(struct member *m, uint32_t id);
void member_peer_drained(struct member *m, uint32_t id);

/* ---- time ---- */
/* The core's tick (MEMBER_TICK_MS) and the session tick (every tickTime/2). */
#define MEMBER_TICK_MS 50
void member_tick(struct member *m);
void member_session_tick(struct member *m);
/* End of a batch of events: see the header comment. */
void member_flush(struct member *m);

/* ---- introspection (srvr, mntr, tests, the simulator's checker) ---- */
bool member_serving(const struct member *m);
bool member_is_leader(const struct member *m);
/* "standalone", "leader", "follower" or "looking". */
const char *member_mode(const struct member *m);
const struct store *member_store(const struct member *m);
uint32_t member_id(const struct member *m);
/* The active configuration's members (zoo.cfg's, or the last reconfig's); returns how many. */
int member_configuration(const struct member *m, const struct zk_member **members);
/* The answer to a four-letter word, as plain text. */
void member_fourlw(struct member *m, const char *word, struct jute_writer *out);
bool member_is_fourlw(const uint8_t word[4]);

/* ---- introspection for the AdminServer and the metrics endpoint (src/server/admin.c) ----
 * Structured facts, read at the moment of the call (src/member/introspect.c). Histograms are
 * the member's own (common/hist.h: microseconds, or records for the batch sizes); pointers stay
 * valid while the member lives, and a NULL one is a measurement this member does not have. */
struct hist;
#define MEMBER_ZK_VERSION "3.8.0-zabkeeper-0.1" /* the ZooKeeper version clients are told */
#define MEMBER_STAGES 8 /* the write-path stages (stages.h) */
#define MEMBER_FULL_VERSION_MAX 96
/* "3.8.0-zabkeeper-0.1, built on 2026-11-30 13:05 UTC": ZooKeeper's getFullVersion shape. */
void member_full_version(char *buf, size_t n);

struct member_info {
    const char *mode;       /* member_mode */
    bool serving, leader;   /* leader: leads an ensemble (never standalone) */
    bool read_only;         /* not serving, but serving read-only clients */
    uint32_t id, leader_id; /* leader_id: 0 when there is none (and standalone) */
    int quorum_size;        /* voters in the configuration; 0 standalone */
    /* the leader's (0 elsewhere): peers with a sync session, synced voters and observers, the
     * size of the last proposal in bytes */
    uint32_t learners, synced_followers, synced_observers;
    uint64_t last_proposal_size;
    uint64_t packets_received, packets_sent;
    int64_t min_latency_ms, max_latency_ms;
    double avg_latency_ms;
    size_t connections, outstanding;
    int64_t last_zxid;
    size_t znode_count; /* as ZooKeeper counts them (the root twice) */
    size_t watch_count, ephemerals_count, global_sessions;
    uint64_t approximate_data_size;
    long open_fds, max_fds; /* -1: unknown */
    int64_t uptime_ms;
    int64_t leader_uptime_ms; /* -1 unless serving as the leader */
    uint64_t looking_count;   /* times this member started looking for a leader */
    uint64_t fsyncs, txns_logged, disk_bytes, tree_digest;
    uint64_t log_queue_records, log_queue_bytes; /* appended, not yet durable */
    const struct hist *election;  /* looking -> serving, us */
    const struct hist *log_commit;     /* one group commit (journal append + fdatasync), us */
    const struct hist *log_batch;      /* records per group commit */
    const struct hist *log_checkpoint; /* journal -> LMDB checkpoint, us */
    const struct hist *snapshot;       /* writing one snapshot file, us */
    const struct hist *stage[MEMBER_STAGES]; /* stages.h, us */
    const char *stage_name[MEMBER_STAGES];
};
void member_info(const struct member *m, struct member_info *out);
/* The configuration the member started with (ports, directories; its server lines may since
 * have been changed by a reconfig: member_configuration has the active ones). */
const struct zk_config *member_config(const struct member *m);

/* One client connection, as `cons` describes it. */
struct member_conn_info {
    const char *addr; /* numeric */
    int port;
    bool established;  /* the session handshake is done */
    bool reading;      /* not paused (unread replies, globalOutstandingLimit) */
    size_t outstanding; /* requests queued, not answered yet */
    uint64_t received, sent;
    int64_t session_id; /* 0 before the handshake */
    int32_t timeout_ms;
    int64_t opened_wall_ms; /* when it connected, wall clock */
};
void member_conns_each(const struct member *m,
                       void (*fn)(void *ctx, const struct member_conn_info *c), void *ctx);
/* Every ephemeral node with its owner session. */
void member_ephemerals_each(const struct member *m,
                           void (*fn)(void *ctx, int64_t session, const char *path, size_t len),
                           void *ctx);
/* The leader's session deadlines (member_env's now_ms clock, rounded to tickTime as ZooKeeper's
 * ExpiryQueue); nothing on other members, which do not expire sessions. */
void member_expiries_each(const struct member *m,
                          void (*fn)(void *ctx, int64_t session, int64_t expires_ms), void *ctx);
/* Data watches as ZooKeeper's wchs counts them: watchers with any, paths with any, all. */
void member_watch_summary(const struct member *m, size_t *watchers, size_t *paths,
                          size_t *watches);

#endif
