/* Internal structures shared by the zklock sources (client.c, lock.c, election.c). Not
 * installed. Locking rule: c->mu protects every field below; no ZooKeeper synchronous call is
 * ever made while holding it (the client's completion thread needs it for watches). */
#ifndef ZKL_INTERNAL_H
#define ZKL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lockrecipe/recipe.h"
#include "lockrecipe/zklock.h"

struct zkl_watch;  /* one registered exists-watch (client.c) */
struct zkl_doomed; /* a node to delete once reconnected (client.c) */

/* The leader-confirmed lease (lease.c): the session cannot expire before confirmed + the session
 * timeout. Renewed by a chain of `sync` heartbeats while some lock is active. */
struct zkl_lease {
    bool known;           /* confirmed is valid */
    int64_t confirmed;    /* monotonic ms: T_confirmed */
    bool inflight;        /* a heartbeat sync is outstanding (at most one) */
    int64_t sent;         /* when the outstanding (or last) sync was sent */
    uint64_t sent_epoch;  /* c->epoch it was sent in */
    int chain;            /* consecutive successful syncs in the current epoch (capped) */
    int64_t prev_sent;    /* the last successful sync of the chain: sent ... */
    int64_t prev_done;    /* ... and completed */
    int64_t retry_at;     /* no heartbeat before this (after a failure) */
};

struct zkl_lock {
    zkl_client *c;
    struct zkl_lock *next; /* in c->locks */
    uint64_t id;
    char *path; /* the lock node */
    enum zkl_node_type type;
    unsigned permits;
    char *data;
    enum zkl_lock_state state;
    enum zkl_lock_state notified; /* last state the listener saw */
    char *node;                   /* my contender node (full path) while WAITING/HELD/LOST */
    int64_t token;
    unsigned wakeups;
    uint64_t wait_gen; /* watches registered for older waits are ignored */
    bool woken;
    bool cancel;
    zkl_lock_listener fn;
    void *arg;
};

struct zkl_client {
    zhandle_t *zh;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* broadcast on every state change, watch and cancel */
    enum zkl_conn_state state;
    int session_timeout;
    uint64_t epoch; /* bumped on every CONNECTED event: one connection to one member */
    struct zkl_lease lease;
    struct zkl_lock *locks;
    struct zkl_watch *watches;
    struct zkl_doomed *doomed;
    uint64_t next_id;
    pthread_t monitor;
    bool stopping;
    struct zkl_lock *dispatching; /* lock whose listener runs right now (monitor thread) */
};

int64_t zkl_now_ms(void);
void zkl_set_zk_error(int rc);
/* Map a ZooKeeper return code to a zkl status (records it for zkl_last_zk_error). */
int zkl_map_rc(int rc);

/* Registering locks with their client (for session events and the monitor). */
void zkl_client_add_lock(zkl_client *c, zkl_lock *lock);
void zkl_client_remove_lock(zkl_client *c, zkl_lock *lock);
/* Wait (c->mu held) until connected: ZKL_OK, ZKL_ESESSION, ZKL_ETIMEOUT or ZKL_ECANCELED. */
int zkl_wait_connected_locked(zkl_client *c, zkl_lock *lock, int64_t deadline);
/* Deadline-bounded wait on c->cond with c->mu held; deadline < 0 means forever. */
void zkl_cond_wait_until(zkl_client *c, int64_t deadline);
/* Register an exists watch on `path` that wakes `lock` for its current wait_gen. Returns the
 * ZooKeeper rc of zoo_wexists (ZOK, ZNONODE, ...). Called without c->mu. */
int zkl_watch_exists(zkl_client *c, zkl_lock *lock, uint64_t gen, const char *path);
/* A lock whose nodes are election candidates (type "elect"), for election.c. */
zkl_lock *zkl_election_lock_new(zkl_client *c, const char *path);
/* ---- the lease (lease.c); all with c->mu held ---- */
/* A new connection (CONNECTED event): the heartbeat chain starts over. */
void zkl_lease_on_connected_locked(zkl_client *c);
/* Wait until the lease has at least a quarter session timeout left (before HELD): ZKL_OK,
 * ZKL_ESESSION, ZKL_ECANCELED or ZKL_ETIMEOUT. */
int zkl_wait_lease_locked(zkl_client *c, zkl_lock *lock, int64_t deadline);
/* Monitor step: send a heartbeat sync if one is due (releases c->mu around the call), then declare
 * held locks LOST if the lease ran out. Returns when the monitor should look again. */
int64_t zkl_lease_step_locked(zkl_client *c);

/* Delete `path` once reconnected (a node we could not delete because of a disconnect). */
void zkl_client_delete_later(zkl_client *c, const char *path);

#endif
