/* Replication: the one write pipeline of a member, standalone or in an ensemble.
 *
 * Every write is submitted to the Zab core (src/consensus). The core's updates are executed here
 * in the order its contract demands: install a snapshot, truncate, persist epochs (durably,
 * before sending), append entries to the LMDB batch, apply commits to the store (and reply to
 * the clients connected here), send peer messages. Once per loop turn repl_flush() commits the
 * LMDB batch with one fsync and reports PERSISTED to the core, which releases ACKs and commits.
 * Standalone is an ensemble of one voter: the same path, with no peers. */
#ifndef ZK_REPL_H
#define ZK_REPL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct srv;

#define REPL_TICK_MS 50 /* the core's tick: ZooKeeper limits in tickTime are converted to it */

/* Load the snapshot and the committed part of the log, start the core and (in an ensemble)
 * the peer transport. Returns 0 or -1 (logged). */
int repl_start(struct srv *s);
void repl_stop(struct srv *s);

/* Submit a write for ordering. txn's zxid is assigned by the leader; its time is stamped here.
 * Returns ZE_OK, or an error to reply with. */
int repl_submit(struct srv *s, struct store_txn *txn);
/* Make every logged record durable now and hand LMDB to the loop (before a snapshot). */
void repl_quiesce(struct srv *s);
/* Group commit + PERSISTED + execute; called once per loop turn. */
void repl_flush(struct srv *s);
/* One core tick (REPL_TICK_MS). */
void repl_tick(struct srv *s);

/* A client of this member was active in session_id (renews it at the leader). */
void repl_touch(struct srv *s, int64_t session_id);
/* Is the session alive as far as this member can tell (leader: tracked; others: in the store)? */
bool repl_session_alive(struct srv *s, int64_t session_id);
/* Ask for the zxid a sync must wait for: on the leader, answers at once (returns true and sets
 * *zxid); elsewhere asks the leader and returns false; client_sync_resolved() follows. */
bool repl_sync(struct srv *s, uint64_t conn_id, int32_t xid, int64_t *zxid);

bool repl_is_leader(const struct srv *s);
bool repl_serving(const struct srv *s);
/* "standalone", "leader", "follower" or "looking" (srvr's Mode line). */
const char *repl_mode(const struct srv *s);
int64_t repl_last_proposed(const struct srv *s);
/* Where the writes' time went (stages.h). */
const struct stages *repl_stages(const struct srv *s);

#endif
