/* The member (see member.h): lifecycle, the end-of-turn flush, ticks, snapshots, and the
 * internal commands the leader issues on its own (session expiry, container and TTL reaping). */
#include "member/member.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "member/member_internal.h"
#include "session/sessions.h"

/* ---- snapshots ---- */

/* ZooKeeper's rule: a snapshot after snapCount/2 + a random part of snapCount/2 txns, so the
 * members of an ensemble do not all write one at the same moment; or once snapSizeLimitInKb of
 * log has been written since the last one. */
static void pick_snapshot_threshold(struct member *m)
{
    long half = m->cfg.snap_count / 2;
    uint32_t r;
    m->env.random(m->env.io, &r, sizeof r);
    m->snap_threshold = half + (half > 0 ? (long)(r % (uint64_t)(half + 1)) : 1);
}

static void maybe_snapshot(struct member *m)
{
    bool due = m->txns_since_snapshot >= m->snap_threshold ||
               (m->cfg.snap_size_limit_bytes > 0 &&
                m->bytes_since_snapshot >= m->cfg.snap_size_limit_bytes);
    if (!due || m->storage.snapshot_start(m->storage.ctx, m->store) != 0)
        return;
    ZK_INFO("snapshot at zxid 0x%llx started (%lld txns, %lld bytes since the last one)",
            (unsigned long long)store_last_zxid(m->store), (long long)m->txns_since_snapshot,
            (long long)m->bytes_since_snapshot);
    m->txns_since_snapshot = 0;
    m->bytes_since_snapshot = 0;
    pick_snapshot_threshold(m);
}

void member_applied(struct member *m, size_t record_len)
{
    m->txns_since_snapshot++;
    m->bytes_since_snapshot += (int64_t)record_len;
}

/* ---- read-only mode (readonlymode.enabled) ---- */

/* As ZooKeeper's QuorumPeer: a member looking for max(2 s, tickTime) serves read-only clients
 * from its tree until the election ends; clients that want a quorum are still refused. */
void member_note_read_only(struct member *m)
{
    if (!m->cfg.read_only_enabled || m->cfg.n_members == 0)
        return;
    int64_t now = member_now(m);
    if (!repl_looking(m->repl)) {
        m->not_looking_ms = now;
        if (m->read_only) {
            m->read_only = false;
            ZK_INFO("read-only mode ends: %zu read-only clients disconnected",
                    sessions_ro_count(m->sessions));
            conns_end_read_only(m->conns);
            sessions_ro_clear(m->sessions);
        }
        return;
    }
    int64_t delay = m->cfg.tick_ms > 2000 ? m->cfg.tick_ms : 2000;
    if (!m->read_only && now - m->not_looking_ms >= delay) {
        m->read_only = true;
        ZK_INFO("no quorum for %lld ms: serving read-only clients", (long long)delay);
    }
}

/* ---- the turn ---- */

void member_flush(struct member *m)
{
    repl_flush(m->repl);
    conns_flush(m->conns);
    maybe_snapshot(m);
    member_note_terms(m);
    member_note_read_only(m);
}

void member_tick(struct member *m)
{
    repl_tick(m->repl);
    m->storage.poll(m->storage.ctx);
}

/* ---- the leader's own commands: session expiry and container/TTL reaping ---- */

static void expire_session(void *ctx, int64_t session_id)
{
    struct member *m = ctx;
    ZK_INFO("session 0x%llx expired", (unsigned long long)session_id);
    if (m->sabotage & MEMBER_SABOTAGE_KEEP_EPHEMERALS)
        return; /* planted bug: no closeSession, so its ephemerals stay */
    struct store_txn txn = {.session_id = session_id, .type = ZOP_CLOSESESSION};
    if (repl_submit(m->repl, &txn) != ZE_OK)
        ZK_ERROR_RL("could not log the expiry of session 0x%llx",
                    (unsigned long long)session_id);
}

struct reap_round {
    struct member *m;
    long budget; /* znode.container.maxPerMinute, spread over the check interval */
};

static void reap_node(void *ctx, const char *path)
{
    struct reap_round *round = ctx;
    if (round->budget <= 0)
        return;
    round->budget--;
    struct jute_writer body;
    jw_init(&body);
    jw_string(&body, path);
    struct store_txn txn = {.type = ZOP_DELETECONTAINER, .body = body.data,
                            .body_len = (uint32_t)body.len};
    if (body.err || repl_submit(round->m->repl, &txn) != ZE_OK)
        ZK_ERROR_RL("could not log the deletion of %s", path);
    jw_free(&body);
}

static void reap_containers(struct member *m)
{
    long per_round = (long)((int64_t)m->cfg.container_max_per_minute *
                            m->cfg.container_check_ms / 60000);
    struct reap_round round = {m, per_round > 0 ? per_round : 1};
    store_reap_candidates(m->store, member_wall(m), reap_node, &round);
}

void member_session_tick(struct member *m)
{
    if (m->read_only)
        sessions_ro_expire(m->sessions, member_now(m), conns_session_expired, m->conns);
    if (!repl_is_leader(m->repl) || !repl_serving(m->repl))
        return; /* the leader alone decides expiry and reaping */
    int64_t now = member_now(m);
    sessions_expire(m->sessions, now, expire_session, m);
    if (now - m->last_reap_ms >= m->cfg.container_check_ms) {
        m->last_reap_ms = now;
        reap_containers(m);
    }
}

/* ---- events ---- */

void member_conn_open(struct member *m, uint64_t conn, const char *addr, int port)
{
    conns_open(m->conns, conn, addr, port);
}

size_t member_conn_input(struct member *m, uint64_t conn, const uint8_t *data, size_t len)
{
    return conns_input(m->conns, conn, data, len);
}

void member_conn_writable(struct member *m, uint64_t conn) { conns_writable(m->conns, conn); }
void member_conn_closed(struct member *m, uint64_t conn) { conns_closed(m->conns, conn); }
bool member_conn_admit(struct member *m, const char *addr) { return conns_admit(m->conns, addr); }

int member_configuration(const struct member *m, const struct zk_member **members)
{
    *members = m->ensemble.m;
    return m->ensemble.n;
}

void member_conn_identity(struct member *m, uint64_t conn, const char *scheme, const char *id)
{
    conns_identity(m->conns, conn, scheme, id);
}

void member_peer_message(struct member *m, uint32_t from, const uint8_t *data, size_t len)
{
    repl_peer_message(m->repl, from, data, len);
}

void member_peer_down(struct member *m, uint32_t id) { repl_peer_down(m->repl, id); }
void member_peer_drained(struct member *m, uint32_t id) { repl_peer_drained(m->repl, id); }

/* ---- introspection ---- */

bool member_serving(const struct member *m) { return repl_serving(m->repl); }
bool member_is_leader(const struct member *m) { return repl_is_leader(m->repl); }
const char *member_mode(const struct member *m)
{
    return m->read_only ? "read-only" : repl_mode(m->repl);
}
const struct store *member_store(const struct member *m) { return m->store; }
uint32_t member_id(const struct member *m) { return (uint32_t)m->cfg.myid; }

void member_fourlw(struct member *m, const char *word, struct jute_writer *out)
{
    fourlw_answer(m, word, out);
}

bool member_is_fourlw(const uint8_t word[4]) { return fourlw_is_command(word); }

/* ---- lifecycle ---- */

struct member *member_new(const struct member_init *init)
{
    struct member *m = zk_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = *init->cfg;
    m->env = init->env;
    m->sabotage = init->sabotage;
    m->storage = *init->storage;
    m->start_ms = member_now(m);
    m->terms.since_ms = m->start_ms;
    m->terms.looking_count = m->cfg.n_members > 0; /* a member of an ensemble starts looking */
    m->last_reap_ms = m->start_ms;
    m->not_looking_ms = m->start_ms;
    struct sessions_config sc = {(uint32_t)m->cfg.myid, m->cfg.tick_ms,
                                 m->cfg.min_session_timeout_ms, m->cfg.max_session_timeout_ms};
    m->sessions = sessions_new(&sc, member_wall(m));
    m->conns = conns_new(m);
    struct store_options opts = {
        .max_data_len = m->cfg.max_buffer,
        .extended_types = m->cfg.extended_types,
        .notify = conns_notify,
        .notify_ctx = m->conns,
        .max_reply_len = MEMBER_MAX_REPLY_BYTES,
        .max_multiread_reply_len = m->cfg.max_buffer,
    };
    m->store = m->conns ? store_new(&opts) : NULL;
    m->repl = m->store && m->sessions ? repl_new(m) : NULL;
    if (!m->repl) {
        ZK_ERROR("out of memory at start");
        member_free(m);
        return NULL;
    }
    pick_snapshot_threshold(m);
    return m;
}

int member_start(struct member *m) { return repl_start(m->repl); }

void member_stop(struct member *m)
{
    if (m->stopping)
        return;
    m->stopping = true;
    member_flush(m); /* writes already accepted get their chance before we go */
    conns_close_all(m->conns, false);
}

void member_free(struct member *m)
{
    if (!m)
        return;
    repl_free(m->repl);
    conns_free(m->conns);
    store_free(m->store);
    sessions_free(m->sessions);
    zk_free(m);
}
