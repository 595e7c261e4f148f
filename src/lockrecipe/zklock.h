/* zklock: distributed locks, read/write locks, semaphores and leader election on any
 * ZooKeeper-protocol server (zabkeeper or Apache ZooKeeper), built on the official C client
 * (libzookeeper-mt). The recipe is documented in docs/locks.md.
 *
 * Thread safety: a zkl_client and its locks may be used from several threads; one zkl_lock is
 * used by one thread at a time. Listener callbacks run on the library's own monitor thread; they
 * may call the query functions (zkl_lock_state, zkl_lock_token, ...) but must not free objects.
 *
 * Guarantees (see docs/locks.md): mutual exclusion while the session lives, FIFO order by
 * sequence number, only the predecessor is watched (no herd), fencing tokens strictly increase
 * with every later acquisition of the same lock path, and a holder is told LOST (listener and
 * zkl_lock_state) before its session can expire at the leader, also when partitioned away with
 * the member it is connected to (a leader-confirmed lease; docs/locks.md "Sessions"). The limit:
 * a holder paused or delayed beyond the margin (15% of the session timeout) may act on a lock it
 * no longer has -- check the fencing token. */
#ifndef ZKLOCK_H
#define ZKLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zookeeper/zookeeper.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes of every zkl_* function that returns int. */
enum zkl_status {
    ZKL_OK = 0,
    ZKL_ETIMEOUT = -1,  /* the deadline passed (connecting, or waiting for the lock) */
    ZKL_EBUSY = -2,     /* try-acquire (timeout 0) found the lock held */
    ZKL_ESESSION = -3,  /* the session expired (or was lost): the client is unusable */
    ZKL_ECONNECT = -4,  /* could not connect / bad connect string */
    ZKL_EINVAL = -5,    /* bad argument (path, permits, state: e.g. acquire while held) */
    ZKL_ENOMEM = -6,    /* out of memory */
    ZKL_ECANCELED = -7, /* zkl_lock_cancel was called while waiting */
    ZKL_EZK = -8,       /* another ZooKeeper error; zkl_last_zk_error() tells which */
};
const char *zkl_strerror(int status);

/* ---- client (one ZooKeeper session) ---------------------------------------------------- */

typedef struct zkl_client zkl_client;

/* Connection as the application sees it. */
enum zkl_conn_state {
    ZKL_CONNECTED,  /* session live and connected */
    ZKL_SUSPENDED,  /* disconnected; the session may resume on another member */
    ZKL_EXPIRED,    /* the server expired the session: every lock of this client is lost */
};

/* Connect to `hosts` ("h1:p1,h2:p2[/chroot]") and wait up to connect_timeout_ms for the session.
 * session_timeout_ms is a request; the server negotiates (see zkl_client_session_timeout).
 * On failure returns NULL and stores ZKL_ECONNECT (bad string), ZKL_ETIMEOUT (unreachable) or
 * ZKL_ENOMEM in *status (if non-NULL). */
zkl_client *zkl_client_new(const char *hosts, int session_timeout_ms, int connect_timeout_ms,
                           int *status);
/* Close the session (its ephemeral nodes, hence held locks, go at once) and free. Free every
 * lock and election of the client first. */
void zkl_client_free(zkl_client *c);
enum zkl_conn_state zkl_client_state(zkl_client *c);
int zkl_client_session_timeout(zkl_client *c); /* negotiated, ms */
int64_t zkl_client_session_id(zkl_client *c);
/* The underlying handle, for plain ZooKeeper operations (do not close it, do not call the
 * synchronous API from a watcher). */
zhandle_t *zkl_client_handle(zkl_client *c);
/* Last raw ZooKeeper error code (ZNONODE, ...) seen by this thread, for ZKL_EZK. */
int zkl_last_zk_error(void);

/* ---- locks: exclusive, read/write, semaphore -------------------------------------------- */

typedef struct zkl_lock zkl_lock;

enum zkl_lock_state {
    ZKL_UNLOCKED,  /* not held, not waiting */
    ZKL_WAITING,   /* inside zkl_lock_acquire */
    ZKL_HELD,      /* held, session connected */
    ZKL_LOCK_SUSPENDED, /* held, but disconnected: do not trust it until it is HELD again */
    ZKL_LOST,      /* was held, and the session expired, or may expire before the library could
                    * tell: no heartbeat reached the leader for (session timeout - margin), even
                    * if the member we are connected to still answers. Someone else may hold it
                    * now. Release to reset (a later acquire starts over with a new node). */
};
const char *zkl_lock_state_name(enum zkl_lock_state s);

/* Listener for state changes of a lock (HELD -> SUSPENDED -> HELD, or -> LOST). Runs on the
 * library's monitor thread; quick transitions may be coalesced but LOST is always reported. */
typedef void (*zkl_lock_listener)(zkl_lock *lock, enum zkl_lock_state state, void *arg);

/* An exclusive lock on `path` (a persistent node, created with its parents when missing). */
zkl_lock *zkl_mutex_new(zkl_client *c, const char *path);
/* The two sides of a read/write lock on `path`: readers share, writers exclude everybody. */
zkl_lock *zkl_read_lock_new(zkl_client *c, const char *path);
zkl_lock *zkl_write_lock_new(zkl_client *c, const char *path);
/* A counting semaphore: at most `permits` holders of `path` at once. Every contender of one
 * path must use the same `permits`. */
zkl_lock *zkl_semaphore_new(zkl_client *c, const char *path, unsigned permits);
/* Optional data stored in this contender's node (default "hostname:pid"); call before acquire. */
int zkl_lock_set_data(zkl_lock *lock, const char *data);
void zkl_lock_set_listener(zkl_lock *lock, zkl_lock_listener fn, void *arg);

/* Acquire. timeout_ms < 0 waits forever, 0 tries once (ZKL_EBUSY when held), > 0 waits at most
 * that long (ZKL_ETIMEOUT). On ZKL_OK the lock is HELD and *token (if non-NULL) is the fencing
 * token: the czxid of this contender's node, larger than every earlier holder's token. A
 * contender that gives up (timeout, cancel) deletes its node. */
int zkl_lock_acquire(zkl_lock *lock, int timeout_ms, int64_t *token);
/* Release (delete the node). Also resets a LOST lock to UNLOCKED. */
int zkl_lock_release(zkl_lock *lock);
/* Make a zkl_lock_acquire blocked in another thread return ZKL_ECANCELED. */
void zkl_lock_cancel(zkl_lock *lock);
enum zkl_lock_state zkl_lock_state(zkl_lock *lock);
int64_t zkl_lock_token(zkl_lock *lock);              /* 0 when not held */
const char *zkl_lock_node(zkl_lock *lock);           /* full path of my node, or NULL */
/* Diagnostics: how many times a watch on a predecessor woke this contender (no-herd tests). */
unsigned zkl_lock_wakeups(zkl_lock *lock);
/* Free; releases the lock first if held. */
void zkl_lock_free(zkl_lock *lock);

/* ---- leader election -------------------------------------------------------------------- */

typedef struct zkl_election zkl_election;
/* Called on the monitor thread when this candidate becomes leader (true) or stops being
 * leader (false: suspended, lost, or resigned). */
typedef void (*zkl_leader_fn)(zkl_election *e, bool leader, void *arg);

/* Join the election at `path` with `id` (stored in the candidate node, shown to others by
 * zkl_election_leader). The candidate waits in the background; FIFO, no herd. */
zkl_election *zkl_election_new(zkl_client *c, const char *path, const char *id, zkl_leader_fn fn,
                               void *arg);
bool zkl_election_is_leader(zkl_election *e);
enum zkl_lock_state zkl_election_state(zkl_election *e);
int64_t zkl_election_token(zkl_election *e);
/* Copy the current leader's id into buf; ZKL_OK, or ZKL_EZK with ZNONODE when there is none. */
int zkl_election_leader(zkl_election *e, char *buf, size_t len);
/* Resign (if leader) and leave the election. */
void zkl_election_free(zkl_election *e);

/* ---- test hooks ---------------------------------------------------------------------------- */

/* Make the next `count` successful creates of contender nodes report ZCONNECTIONLOSS, as if the
 * reply was lost after the server created the node (the "ghost node" case). */
void zkl_test_lose_create_replies(int count);

#ifdef __cplusplus
}
#endif

#endif
