/* Internals of member-sim shared by its modules:
 *   msim_world.c   the run: event loop and turns, members' lives (start, crash, pause), the
 *                  clock and the faults schedule, phases
 *   msim_net.c     FIFO channels: peer links and client connections (member_env's network)
 *   msim_disk.c    member_storage in memory with a real disk's failure model
 *   msim_client.c  clients speaking jute: sessions, requests, watches, the checks on replies
 *   msim_check.c   the history of applied txns, per-member observation, the final checks
 * Nothing calls into a member from inside a member's call: env and storage calls only queue
 * events, which the loop delivers in later turns. */
#ifndef MSIM_INTERNAL_H
#define MSIM_INTERNAL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "member/member.h"
#include "msim.h"
#include "proto/jute.h"
#include "proto/zkproto.h"
#include "server/config.h"
#include "sim_heap.h"
#include "sim_rng.h"

#define MS_NODES_MAX 7
#define MS_CLIENTS_MAX 12
#define MS_PATHS 7              /* the fixed top-level paths clients work on (msim_client.c) */
#define MS_BASE_WALL_MS 1700000000000LL
#define MS_PPM 1000000u         /* probabilities are per million */

struct ms_world;
struct ms_disk;
struct ms_check;

/* ---- events ---- */
enum ms_ev_kind {
    EV_CHAN,      /* the head of a channel is due */
    EV_TICK,      /* member_tick (node a) */
    EV_STICK,     /* member_session_tick (node a) */
    EV_DISK,      /* a log batch finished (node a, batch generation) */
    EV_SNAP,      /* a snapshot finished writing (node a, snapshot generation) */
    EV_PEER_DOWN, /* node a's link to node b went down */
    EV_DRAINED,   /* node a's link to node b has room again */
    EV_RECONNECT, /* node a retries its link to node b */
    EV_MCLOSED,   /* connection a is gone: tell its member */
    EV_OFFER,     /* connection a: the member reads again, offer what is buffered */
    EV_CLIENT,    /* client a acts */
    EV_CHAOS,     /* the faults schedule */
    EV_RESTART,   /* node a starts again */
    EV_UNPAUSE,   /* node a resumes */
    EV_HEAL,      /* the partition ends */
};

struct ms_chan;

struct ms_ev {
    struct sim_heap_key k; /* due time (ms) */
    enum ms_ev_kind kind;
    int a, b;
    uint64_t gen;          /* the generation (incarnation, link, batch) it belongs to */
    struct ms_chan *chan;  /* EV_CHAN */
};

/* ---- channels: one direction of a link or connection, FIFO as TCP ---- */
struct ms_msg {
    struct ms_msg *next;
    int64_t at;    /* due no earlier than this */
    bool close;    /* a close marker (connections): nothing follows */
    size_t len;
    uint8_t data[];
};

enum ms_chan_kind { CH_PEER, CH_UP, CH_DOWN }; /* peer link; client->member; member->client */

struct ms_chan {
    enum ms_chan_kind kind;
    int a, b;           /* CH_PEER: from, to node; else: connection index */
    struct ms_msg *head, *tail;
    size_t bytes;
    uint64_t gen;       /* a reset bumps it: deliveries scheduled before are void */
    bool scheduled;
    int64_t last_at;
};

struct ms_link {
    struct ms_chan ch;
    bool up;
    bool retrying;      /* an EV_RECONNECT is pending */
    bool over;          /* its queue went past the drained mark */
};

/* A client connection as both ends see it. */
struct ms_conn {
    uint64_t id;        /* index + 1: the member's connection id */
    int node, client;
    uint64_t node_inc;  /* the member incarnation it belongs to */
    bool at_member;     /* member_conn_open done, member_conn_closed not yet */
    bool member_closing;
    bool client_gone;
    bool reading;       /* the member takes input */
    struct jute_writer inbox; /* arrived at the member, not consumed yet */
    struct ms_chan up, down;
};

/* ---- members ---- */
struct ms_node {
    struct ms_world *w;
    int idx;
    uint32_t id;
    struct member *m;   /* NULL while down */
    bool up;
    uint64_t inc;       /* incarnation */
    bool paused;
    int64_t paused_at;
    int64_t clock_off;  /* its monotonic clock: world time + clock_off */
    int64_t wall_off;
    struct ms_disk *disk; /* survives crashes */
    struct member_storage seam;
    jmp_buf *jb;        /* set while a call into the member runs: env.fatal jumps there */
    char fatal_why[96];
    bool touched;       /* got events this turn: member_flush at its end */
    bool leading;       /* serving as leader (checker) */
    int64_t seen_zxid;  /* the store's zxid at the last observation (checker) */
    bool jumped;        /* the state was replaced (recovery, install) since (checker) */
    int64_t jump_to;
};

/* ---- the faults of one seed (drawn per seed: swarm testing) ---- */
struct ms_knobs {
    uint32_t p_crash, p_pause, p_clock, p_part, p_reset, p_full, p_outage; /* per chaos turn */
    uint32_t p_drop, p_dup;           /* per peer message */
    uint32_t p_fsync, p_slow;         /* per log batch */
    uint32_t p_opfail;                /* per durable-now operation */
    uint32_t p_creset;                /* per client action */
    int64_t delay_max;                /* network delay, ms */
    int64_t down_max, pause_max, part_max;
    int64_t disk_max, slow_max;       /* batch time, ms */
    int pipeline;                     /* client requests in flight */
    int64_t think_max;                /* client pause between actions, ms */
};

struct ms_client;

struct ms_world {
    struct msim_opts o;
    struct msim_result *res;
    uint64_t rng;
    int64_t now;
    struct sim_heap heap;
    uint32_t n;
    struct zk_config cfg;
    struct ms_node node[MS_NODES_MAX];
    struct ms_link link[MS_NODES_MAX][MS_NODES_MAX];
    bool cut[MS_NODES_MAX][MS_NODES_MAX];
    struct ms_conn **conns;
    size_t n_conns, cap_conns;
    struct ms_client *clients[MS_CLIENTS_MAX + 1];
    int n_clients;
    struct ms_knobs k;
    bool healed;        /* the faults phase is over */
    bool stopping;      /* clients stopped: waiting for convergence */
    bool done;
    int64_t heal_at, stop_at, deadline;
    struct ms_check *chk;
};

/* ---- msim_world.c ---- */
void ms_trace(struct ms_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ms_violation(struct ms_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ms_schedule(struct ms_world *w, int64_t delay, enum ms_ev_kind kind, int a, int b,
                 uint64_t gen);
bool ms_fault_on(const struct ms_world *w, enum ms_fault f);
/* A draw that always consumes the PRNG, so switching a fault off keeps the rest of the
 * schedule as it was. */
bool ms_chance(struct ms_world *w, uint32_t ppm, enum ms_fault f);
int64_t ms_node_now(const struct ms_node *nd);
/* The member's disk or network failed under it: it stops (a crash). Never returns inside a
 * member call (longjmp), returns otherwise. */
void ms_node_crash(struct ms_node *nd, const char *why);
/* Calls into a node's member; false if the member stopped (env.fatal) during the call. */
enum ms_call_kind { MC_START, MC_TICK, MC_STICK, MC_FLUSH, MC_PEER_MSG, MC_PEER_DOWN,
                    MC_PEER_DRAINED, MC_CONN_OPEN, MC_CONN_INPUT, MC_CONN_CLOSED };
struct ms_call {
    enum ms_call_kind kind;
    uint32_t peer;
    uint64_t conn;
    const uint8_t *data;
    size_t len;
    const char *addr; /* MC_CONN_OPEN */
    int port;
    size_t used;   /* MC_CONN_INPUT: bytes the member took */
    int rc;        /* MC_START */
};
bool ms_call(struct ms_node *nd, struct ms_call *c);

/* ---- msim_net.c ---- */
void ms_net_init(struct ms_world *w);
void ms_net_free(struct ms_world *w);
void ms_net_env(struct ms_node *nd, struct member_env *env); /* fills the network part */
void ms_chan_deliver(struct ms_world *w, struct ms_chan *ch, uint64_t gen);
void ms_link_down(struct ms_world *w, int from, int to, bool notify, const char *why);
void ms_link_retry(struct ms_world *w, int from, int to);
void ms_node_links_down(struct ms_world *w, int node);  /* it crashed */
void ms_node_links_kick(struct ms_world *w, int node);  /* it resumed */
void ms_net_partition(struct ms_world *w, bool heal);
/* Client side of connections. */
int ms_conn_connect(struct ms_world *w, int client, int node);
void ms_conn_write(struct ms_world *w, int conn, const uint8_t *data, size_t len);
void ms_conn_reset(struct ms_world *w, int conn);
void ms_conn_offer(struct ms_world *w, int conn);
void ms_conn_member_closed(struct ms_world *w, int conn);
struct ms_conn *ms_conn_at(struct ms_world *w, int conn);

/* ---- msim_disk.c ---- */
struct ms_disk *ms_disk_new(struct ms_node *nd);
void ms_disk_free(struct ms_disk *d);
void ms_disk_seam(struct ms_disk *d, struct member_storage *out);
void ms_disk_crash(struct ms_disk *d);  /* what was not durable is lost (a prefix may stay) */
void ms_disk_batch_done(struct ms_disk *d, uint64_t gen);
void ms_disk_snap_done(struct ms_disk *d, uint64_t gen);
void ms_disk_fill(struct ms_disk *d, int64_t until); /* the disk is full until then */
void ms_disk_heal(struct ms_disk *d);
bool ms_disk_broken(const struct ms_disk *d);
/* Visit the log records (durable or not) with zxid in (after, upto], in order. */
typedef void (*ms_rec_fn)(void *ctx, int64_t zxid, const uint8_t *rec, size_t len);
void ms_disk_each(const struct ms_disk *d, int64_t after, int64_t upto, ms_rec_fn fn, void *ctx);

/* ---- msim_client.c ---- */
struct ms_client *ms_client_new(struct ms_world *w, int idx, bool probe);
void ms_client_free(struct ms_client *c);
void ms_client_act(struct ms_client *c);
void ms_client_bytes(struct ms_client *c, int conn, const uint8_t *data, size_t len);
void ms_client_closed(struct ms_client *c, int conn);
bool ms_client_probe_done(const struct ms_client *c);

/* ---- msim_check.c ---- */
uint64_t ms_hash(const uint8_t *p, size_t len); /* FNV-1a */
/* A data tag ("w<write id>:<op>", written by msim_client.c) as a key (id * 4 + op), or 0. */
uint64_t ms_tag_key(struct jute_bytes data);
struct ms_check *ms_check_new(struct ms_world *w);
void ms_check_free(struct ms_check *ck);
/* After every call into a member: what it applied since the last look. */
void ms_check_observe(struct ms_node *nd);
/* The storage replaced the node's state by a snapshot at zxid (recovery, install). */
void ms_check_jump(struct ms_node *nd, int64_t zxid);
/* A txn a client wrote: the committed txn at zxid must be (session, cxid, type). */
bool ms_check_is_txn(struct ms_world *w, int64_t zxid, int64_t session, int32_t cxid,
                     int32_t type);
/* Data tag (write id, op index) was written by a txn applied at zxid. */
bool ms_check_tag_at(struct ms_world *w, uint64_t tag, int64_t zxid);
/* Might a txn in (after, upto] have deleted a node (delete, multi, closeSession, reaping)? */
bool ms_check_deletes_between(struct ms_world *w, int64_t after, int64_t upto);
/* The global floor for linearizable writes: the highest zxid acknowledged so far. */
int64_t ms_check_acked_floor(const struct ms_world *w);
void ms_check_acked(struct ms_world *w, int64_t zxid);
/* Have all members converged: all up and serving, the same zxid and digest, and no session
 * left (the clients went quiet, so every session must expire)? */
bool ms_check_converged(struct ms_world *w);
void ms_check_final(struct ms_world *w);
/* The deadline passed without convergence: say what is missing. */
void ms_check_stuck(struct ms_world *w);

#endif
