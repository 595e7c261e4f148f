/* The member's rooms and how they call each other (member.h is the outside view):
 *   member.c       lifecycle, the end-of-turn flush, ticks, snapshots, the internal commands
 *                  (session expiry, container and TTL reaping)
 *   conns.c        client connections: framing, the handshake, per-session FIFO queues,
 *                  replies, notifications, limits
 *   replication.c  the write path through the Zab core: submitting, executing the core's
 *                  updates (storage, apply, messages), peer messages, sync
 *   catchup.c      streamed snapshots between members
 *   stages.c       where a write's time goes
 *   fourlw.c       the four-letter words
 * Completions go upward as return values or through the few functions declared here; nothing
 * reaches into another room's data. */
#ifndef ZK_MEMBER_INTERNAL_H
#define ZK_MEMBER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/hist.h"
#include "common/i64map.h"
#include "member/ensemble.h"
#include "member/member.h"
#include "proto/jute.h"
#include "store/store.h"

/* The largest read reply (a children list of millions of names); multiReads stay within
 * jute.maxbuffer (store_options). ZooKeeper has no bound; a client's own jute.maxbuffer may
 * still refuse such a reply (the Java client's default is 1 MiB). */
#define MEMBER_MAX_REPLY_BYTES (64 << 20)

struct sessions;
struct repl;
struct conns;

struct member_stats {
    uint64_t packets_received;
    uint64_t packets_sent;
    uint64_t latency_total_ms;
    uint64_t latency_count;
    int64_t latency_min_ms;
    int64_t latency_max_ms;
    uint64_t txns_logged;
};

/* Serving as seen at the end of each turn (member_flush), for election_time, looking_count and
 * leader_uptime (introspect.c). */
struct member_terms {
    bool serving;
    int64_t since_ms;     /* of the current state (serving or looking) */
    uint64_t looking_count;
    struct hist election; /* looking -> serving, us */
};

struct member {
    struct zk_config cfg;
    struct member_env env;
    struct member_storage storage;
    struct store *store;
    struct sessions *sessions;
    struct repl *repl;
    struct conns *conns;
    struct member_stats stats;
    struct member_terms terms;
    int64_t start_ms;
    int64_t txns_since_snapshot;
    int64_t bytes_since_snapshot; /* log bytes applied since the last snapshot started */
    long snap_threshold;          /* txns before the next snapshot (randomized) */
    int64_t last_reap_ms;
    struct ensemble ensemble; /* the active configuration (reconfig.c) */
    unsigned sabotage; /* enum member_sabotage (tests only) */
    bool stopping;
    bool read_only;         /* readonlymode.enabled, looking for a while: read-only clients */
    int64_t not_looking_ms; /* the last time the core was not looking */
};

static inline int64_t member_now(const struct member *m) { return m->env.now_ms(m->env.io); }
static inline int64_t member_wall(const struct member *m) { return m->env.wall_ms(m->env.io); }

/* The member stops (env.fatal does not return). */
static inline void member_fatal(const struct member *m, const char *why)
{
    m->env.fatal(m->env.io, why);
}

/* ---- member.c ---- */
/* Enter or leave read-only mode as the core's role says (end of each turn, and at once when
 * the core stops looking, before it syncs with a leader). */
void member_note_read_only(struct member *m);
/* A committed txn was applied to the store: count it for the snapshot trigger. */
void member_applied(struct member *m, size_t record_len);

/* ---- conns.c: client connections ---- */
struct conns *conns_new(struct member *m);
void conns_free(struct conns *cs);
void conns_open(struct conns *cs, uint64_t id, const char *addr, int port);
void conns_identity(struct conns *cs, uint64_t id, const char *scheme, const char *id_value);
/* The leader refused a request of this session (xid) as moved: close its connection here. */
void conns_session_moved(struct conns *cs, int64_t session, int32_t xid);
/* The leader refused a forwarded request before proposing it (a reconfig): answer err. */
void conns_request_refused(struct conns *cs, int64_t session, int32_t xid, int32_t err);
size_t conns_input(struct conns *cs, uint64_t id, const uint8_t *data, size_t len);
void conns_writable(struct conns *cs, uint64_t id);
void conns_closed(struct conns *cs, uint64_t id);
bool conns_admit(const struct conns *cs, const char *addr);
/* Every open connection, as member_conns_each describes it. */
void conns_each(const struct conns *cs,
                void (*fn)(void *ctx, const struct member_conn_info *c), void *ctx);
/* A committed txn was applied: answer it if its session's connection is here. Returns whether
 * a reply to that very request was queued here. */
bool conns_on_applied(struct conns *cs, const struct store_txn *txn, int32_t err,
                      const struct jute_writer *body);
/* A write could not be ordered: fail its request. */
void conns_on_failed(struct conns *cs, const struct store_txn *txn, int32_t err);
/* The leader answered a forwarded sync. */
void conns_sync_resolved(struct conns *cs, uint64_t conn_id, int32_t xid, int64_t zxid);
/* Watch notifications (the store's callback). */
void conns_notify(void *ctx, uint64_t watcher, int32_t event_type, const char *path,
                  const struct acl_list *acl);
/* End of turn: answer syncs that became ready, resume throttled connections. */
void conns_flush(struct conns *cs);
/* The quorum is lost: every client moves to another member. */
void conns_close_all(struct conns *cs, bool after_flush);
/* The member leaves read-only mode: its read-only clients are disconnected (after their
 * replies), to find a member with a quorum. */
void conns_end_read_only(struct conns *cs);
/* A session expired here (read-only mode): its connection, if any, is closed. ctx: conns. */
void conns_session_expired(void *ctx, int64_t session);
size_t conns_count(const struct conns *cs);
size_t conns_outstanding(const struct conns *cs);
/* One `stat`/`cons` line per connection. */
void conns_describe(const struct conns *cs, struct jute_writer *out);

/* ---- replication.c: the write path ---- */
struct repl *repl_new(struct member *m);
void repl_free(struct repl *r);
/* Recover from storage and start the core. 0 or -1 (logged). */
int repl_start(struct repl *r);
/* Submit a write (validated here). ZE_OK, ZE_CONNECTIONLOSS (no leader) or the error. */
int32_t repl_submit(struct repl *r, struct store_txn *txn);
void repl_flush(struct repl *r);
void repl_tick(struct repl *r);
void repl_peer_message(struct repl *r, uint32_t from, const uint8_t *data, size_t len);
void repl_peer_down(struct repl *r, uint32_t id);
void repl_peer_drained(struct repl *r, uint32_t id);
/* A sync asks the leader which zxid to wait for: answered at once on the leader (returns true,
 * sets *zxid); elsewhere conns_sync_resolved follows. */
bool repl_sync(struct repl *r, uint64_t conn_id, int32_t xid, int64_t *zxid);
/* ---- reconfig.c ---- */
struct zab;
struct zab_members;
struct zab_buf;
/* The configuration to start with (after recovery, before the core starts). 0, or -1. */
int reconfig_start(struct member *m);
void reconfig_to_core(const struct ensemble *e, struct zab_members *out);
/* zab_config.config_of. */
int reconfig_config_of(void *ctx, struct zab_buf payload, struct zab_members *next);
/* The leader: the next configuration's text (a jute buffer, the SETCONFIG txn body) for a
 * ReconfigRequest txn, or the ZE_ error to answer. */
int32_t reconfig_prepare(struct member *m, const struct zab *core, const struct store_txn *txn,
                         struct jute_writer *text);
/* The member serves in epoch `epoch` (a static configuration gets its version then). */
void reconfig_established(struct member *m, uint32_t epoch);
/* The core says a configuration became active (ZAB_UPD_CONFIG). */
void reconfig_activated(struct member *m, const struct zab_members *active, uint64_t zxid);

/* A client created or resumed this session here: the leader learns that its requests now come
 * through this member (SessionMoved for any other). */
void repl_session_here(struct repl *r, int64_t session);
bool repl_is_leader(const struct repl *r);
/* The leader's followers and last proposal, for the metrics (zeros elsewhere). */
void repl_leader_facts(const struct repl *r, uint32_t *learners, uint32_t *synced_followers,
                       uint32_t *synced_observers, uint64_t *last_proposal_size);
bool repl_serving(const struct repl *r);
/* Not serving and the core is looking for a leader (not syncing with one). */
bool repl_looking(const struct repl *r);
const char *repl_mode(const struct repl *r);
int64_t repl_last_proposed(const struct repl *r);
uint32_t repl_leader(const struct repl *r); /* the leader's id, 0 if none */
const struct stages *repl_stages(const struct repl *r);

/* ---- introspect.c ---- */
/* End of a turn: note a change between serving and looking. */
void member_note_terms(struct member *m);

/* ---- fourlw.c ---- */
bool fourlw_is_command(const uint8_t word[4]);
void fourlw_answer(struct member *m, const char *word, struct jute_writer *out);

#endif
