/* The write path of a member, standalone or in an ensemble: writes go to the Zab core
 * (src/consensus); its updates are executed here in the order its contract demands: install a
 * snapshot, truncate, persist epochs (durably, before sending), append entries to the log,
 * apply commits to the store (and answer the clients connected here), send peer messages.
 * Durability comes back from storage by polling in repl_flush, which reports PERSISTED to the
 * core; the core then releases ACKs and commits. Standalone is an ensemble of one voter. */
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"
#include "consensus/zab.h"
#include "consensus/zab_stats.h"
#include "member/catchup.h"
#include "member/member_internal.h"
#include "member/stages.h"
#include "session/sessions.h"
#include "store/txnrec.h"

#define APP_SYNC_REQ 1  /* follower -> leader: conn id, xid */
#define APP_SYNC_RESP 2 /* leader -> follower: conn id, xid, zxid to wait for */
#define APP_OWNER 3     /* follower -> leader: session id, now connected here */
#define APP_MOVED 4     /* leader -> follower: session id, xid of a request refused as moved */
#define APP_REFUSED 5   /* leader -> follower: session id, xid, error of a refused reconfig */
#define WINDOW_ENTRIES 1000
#define MAX_OUTSTANDING 4096
#define RECORD_ENVELOPE_BYTES (64u << 10) /* txnrec fields and up to 16 identities */

/* A write submitted this turn, not yet handed to the core (txnrec-encoded). */
struct pending_write {
    struct pending_write *next;
    uint64_t recv_us; /* arrival, for the stage timings */
    size_t len;
    uint8_t rec[];
};

/* An app message waiting to be handed to the core (zab_step must not be re-entered). */
struct app_out {
    struct app_out *next;
    uint32_t to;
    uint8_t tag;
    size_t len;
    uint8_t data[];
};

struct repl {
    struct member *m;
    struct zab *zab;
    struct catchup *catchup; /* streamed snapshots to and from other members */
    struct stages *stages;   /* where a write's time goes (mntr) */
    bool standalone;
    enum zab_role role;
    uint32_t leader;
    uint32_t epoch;
    bool established;
    int64_t reported_persisted;
    uint64_t submit_recv_us; /* arrival of the write being handed to the core, 0 otherwise */
    uint64_t last_proposal_size; /* leader: bytes of the last entry it proposed */
    struct pending_write *backlog_head, *backlog_tail; /* submitted, not yet handed over */
    struct app_out *apps_head, *apps_tail;
    uint32_t links_down[ZK_SERVERS_MAX]; /* link losses not yet reported to the core */
    int n_links_down;
    uint8_t *msgbuf;
    size_t msgcap;
    /* Leader: session id -> 1 + the member its client is connected to (ZooKeeper's session
     * owner). Only sessions in the store are entered; closing one removes it. */
    struct i64map owners;
    struct jute_writer activity;
    struct jute_writer body; /* reply bodies of applied txns */
};

static void exec_update(struct repl *r, const struct zab_update *up);
static void step(struct repl *r, const struct zab_event *ev);

bool repl_is_leader(const struct repl *r) { return r && r->role == ZAB_LEADING; }

void repl_leader_facts(const struct repl *r, uint32_t *learners, uint32_t *synced_followers,
                       uint32_t *synced_observers, uint64_t *last_proposal_size)
{
    struct zab_stats st = {0};
    if (r && r->zab)
        zab_stats(r->zab, &st);
    *learners = st.learners;
    *synced_followers = st.synced_followers;
    *synced_observers = st.synced_observers;
    *last_proposal_size = repl_is_leader(r) ? r->last_proposal_size : 0;
}
bool repl_serving(const struct repl *r) { return r && r->established; }
bool repl_looking(const struct repl *r) { return r && !r->established && r->role == ZAB_LOOKING; }
const struct stages *repl_stages(const struct repl *r) { return r ? r->stages : NULL; }

const char *repl_mode(const struct repl *r)
{
    if (!r || !r->established)
        return "looking";
    if (r->standalone)
        return "standalone";
    if (r->role == ZAB_OBSERVING)
        return "observer";
    return r->role == ZAB_LEADING ? "leader" : "follower";
}

uint32_t repl_leader(const struct repl *r) { return r && r->established ? r->leader : 0; }

int64_t repl_last_proposed(const struct repl *r)
{
    return r && r->zab ? (int64_t)zab_last_logged(r->zab) : 0;
}

/* ---- applying ---- */

/* Nothing that reached the log may stop a member: an entry that does not decode (validation
 * should have kept it out) is applied as a failed txn of no session, the same on every member,
 * so the zxid still advances and every state stays equal. */
static void decode_committed(uint64_t zxid, const uint8_t *payload, size_t len,
                             struct store_txn *txn)
{
    if (txnrec_decode(payload, len, txn) == 0)
        return;
    ZK_ERROR_RL("committed txn 0x%llx (%zu bytes) is malformed; applied as a failed no-op",
                (unsigned long long)zxid, len);
    *txn = (struct store_txn){.type = ZOP_ERROR};
}

static void apply_entry(struct repl *r, uint64_t zxid, const uint8_t *payload, size_t len,
                        bool reply)
{
    struct member *m = r->m;
    struct store_txn txn;
    decode_committed(zxid, payload, len, &txn);
    txn.zxid = (int64_t)zxid;
    ZK_ASSERT(txn.zxid > store_last_zxid(m->store)); /* the core commits in zxid order */
    int32_t err = ZE_OK;
    jw_reset(&r->body);
    if (reply)
        stages_committed(r->stages, txn.zxid);
    if (store_apply(m->store, &txn, reply ? &r->body : NULL, &err) != 0)
        member_fatal(m, "out of memory applying a committed txn"); /* must not diverge */
    ZK_ASSERT(store_last_zxid(m->store) == txn.zxid);
    member_applied(m, len);
    if (!reply)
        return;
    stages_applied(r->stages, txn.zxid);
    if (repl_is_leader(r))
        sessions_on_applied(m->sessions, m->store, &txn, err, member_now(m));
    if (txn.type == ZOP_CLOSESESSION && err == ZE_OK)
        i64map_del(&r->owners, txn.session_id);
    if (conns_on_applied(m->conns, &txn, err, &r->body))
        stages_replied(r->stages, txn.zxid);
}

static int apply_record(void *ctx, int64_t zxid, const void *rec, size_t len)
{
    apply_entry(ctx, (uint64_t)zxid, rec, len, false);
    return 0;
}

/* ---- start-up: snapshot + committed log prefix into the store, the rest to the core ---- */

struct tail {
    struct zab_entry *entries;
    size_t n, cap;
    const struct storage_recovered *rec; /* its committed mark is set before records come */
    struct repl *r;
};

static int load_record(void *ctx, int64_t zxid, const void *rec, size_t len)
{
    struct tail *t = ctx;
    if (zxid <= t->rec->committed) /* known committed: straight into the store */
        return apply_record(t->r, zxid, rec, len);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct zab_entry *e = zk_realloc(t->entries, cap * sizeof *e);
        if (!e)
            return -1;
        t->entries = e;
        t->cap = cap;
    }
    uint8_t *copy = zk_malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, rec, len);
    t->entries[t->n++] = (struct zab_entry){(uint64_t)zxid, {copy, len}};
    return 0;
}

static void free_tail(struct tail *t)
{
    for (size_t i = 0; i < t->n; i++)
        zk_free((void *)t->entries[i].payload.data);
    zk_free(t->entries);
}

/* A log record: a request of up to jute.maxbuffer plus its envelope and identities. */
static uint32_t max_payload(const struct repl *r)
{
    return (uint32_t)r->m->cfg.max_buffer + RECORD_ENVELOPE_BYTES;
}

static void core_config(const struct repl *r, struct zab_config *zc)
{
    const struct zk_config *c = &r->m->cfg;
    uint32_t one = 1;
    uint32_t my_id = c->n_members ? (uint32_t)c->myid : 1;
    zab_config_default(zc, my_id, 1, &one); /* standalone: an ensemble of one */
    if (c->n_members) {
        reconfig_to_core(&r->m->ensemble, &zc->members);
        zc->config_of = reconfig_config_of;
    }
    uint32_t ticks = (uint32_t)(c->tick_ms / MEMBER_TICK_MS > 0 ? c->tick_ms / MEMBER_TICK_MS : 1);
    zc->init_limit_ticks = (uint32_t)c->init_limit * ticks;
    zc->sync_limit_ticks = (uint32_t)c->sync_limit * ticks;
    zc->finalize_ticks = 1; /* 50 ms for a better vote (ZooKeeper's finalizeWait is 200 ms) */
    zc->retry_ticks = 1;
    zc->window = WINDOW_ENTRIES;
    zc->max_outstanding = MAX_OUTSTANDING;
    zc->max_payload = max_payload(r);
}

static int start_core(struct repl *r, struct tail *t, const struct storage_recovered *rec)
{
    struct member *m = r->m;
    struct zab_config zc;
    core_config(r, &zc);
    r->standalone = m->cfg.n_members == 0;
    if (t->n > zc.window + zc.max_outstanding) {
        ZK_ERROR("log holds %zu entries past the committed mark; at most %u expected", t->n,
                 zc.window + zc.max_outstanding);
        return -1;
    }
    r->zab = zab_new(&zc);
    if (!r->zab) {
        ZK_ERROR("cannot create the consensus core (bad configuration or out of memory)");
        return -1;
    }
    if (m->sabotage & MEMBER_SABOTAGE_EARLY_ACK)
        zab_sabotage(r->zab, ZAB_SABOTAGE_EARLY_ACK);
    struct zab_event ev = {.type = ZAB_START};
    ev.start.accepted_epoch = rec->accepted_epoch;
    ev.start.current_epoch = rec->current_epoch;
    ev.start.last_applied = (uint64_t)store_last_zxid(m->store);
    ev.start.last_logged = t->n ? t->entries[t->n - 1].zxid : ev.start.last_applied;
    ev.start.incarnation = rec->incarnation;
    ev.start.entries = t->entries;
    ev.start.n_entries = t->n;
    struct zab_update up;
    int rc = zab_step(r->zab, &ev, &up);
    if (rc != ZAB_OK) {
        ZK_ERROR("consensus core refused the persisted state: %s", zab_strerror(rc));
        return -1;
    }
    r->reported_persisted = (int64_t)ev.start.last_logged;
    exec_update(r, &up);
    return 0;
}

int repl_start(struct repl *r)
{
    struct member *m = r->m;
    struct storage_recovered rec;
    struct tail t = {.r = r, .rec = &rec};
    if (m->storage.recover(m->storage.ctx, m->store, &rec, load_record, &t) != 0) {
        free_tail(&t);
        return -1;
    }
    ZK_INFO("recovered: state at zxid 0x%llx (%zu znodes, %zu sessions), %zu logged entries "
            "awaiting the ensemble", (unsigned long long)store_last_zxid(m->store),
            store_node_count(m->store), store_session_count(m->store), t.n);
    if (reconfig_start(m) != 0) {
        free_tail(&t);
        ZK_ERROR("cannot set up the ensemble's configuration (out of memory)");
        return -1;
    }
    int rc = start_core(r, &t, &rec);
    free_tail(&t);
    return rc;
}

/* ---- executing the core's updates ---- */

/* The member cannot go on without these being durable: the core already acted on them. */
static void storage_or_exit(const struct member *m, int rc, const char *what)
{
    if (rc != 0) {
        ZK_ERROR("cannot persist %s; stopping", what);
        member_fatal(m, what);
    }
}

static void append_entries(struct repl *r, const struct zab_update *up)
{
    struct member *m = r->m;
    for (size_t i = 0; i < up->n_entries; i++) {
        const struct zab_entry *e = &up->entries[i];
        if (r->role == ZAB_LEADING) {
            stages_proposed(r->stages, (int64_t)e->zxid, r->submit_recv_us);
            r->last_proposal_size = e->payload.len;
        }
        else
            stages_follower_received(r->stages, (int64_t)e->zxid);
        storage_or_exit(m, m->storage.append(m->storage.ctx, (int64_t)e->zxid, e->payload.data,
                                          e->payload.len), "log entries");
        m->stats.txns_logged++;
    }
}

/* The core installs what the leader's SNAP announced: the stream that came before it (the SNAP
 * reached the core only if that stream is complete, see repl_peer_message). */
static void install_snapshot(struct repl *r, uint64_t zxid)
{
    struct member *m = r->m;
    if (!r->catchup || !catchup_ready(r->catchup, r->leader, (int64_t)zxid) ||
        catchup_install(r->catchup, m->store, apply_record, r) != 0) {
        ZK_ERROR("cannot install the leader's snapshot at 0x%llx; stopping",
                 (unsigned long long)zxid);
        member_fatal(m, "a snapshot install"); /* the core believes it is installed */
    }
    r->reported_persisted = (int64_t)zxid;
    m->txns_since_snapshot = 0;
    m->bytes_since_snapshot = 0;
    ZK_INFO("installed the leader's snapshot: state at zxid 0x%llx (%zu znodes)",
            (unsigned long long)zxid, store_node_count(m->store));
}

static void persist_epochs(struct repl *r, const struct zab_update *up)
{
    struct member *m = r->m;
    int64_t accepted = up->flags & ZAB_UPD_ACCEPTED_EPOCH ? (int64_t)up->accepted_epoch : -1;
    int64_t current = up->flags & ZAB_UPD_CURRENT_EPOCH ? (int64_t)up->current_epoch : -1;
    /* Durable before any message of this update leaves (Zab: persist, then answer). */
    storage_or_exit(m, m->storage.set_epochs(m->storage.ctx, accepted, current,
                                          (int64_t)zab_committed(r->zab)), "the epoch");
}

static void truncate_log(struct repl *r, uint64_t zxid)
{
    struct member *m = r->m;
    storage_or_exit(m, m->storage.truncate_after(m->storage.ctx, (int64_t)zxid,
                                              (int64_t)zab_committed(r->zab)), "a truncation");
    if (r->reported_persisted > (int64_t)zxid)
        r->reported_persisted = (int64_t)zxid;
}

static void send_msg(struct repl *r, uint32_t to, const struct zab_msg *msg)
{
    const struct member_env *env = &r->m->env;
    size_t need = zab_msg_encoded_max(msg), len;
    if (need > r->msgcap) {
        uint8_t *buf = zk_realloc(r->msgbuf, need);
        if (!buf)
            return; /* dropped: the core tolerates loss */
        r->msgbuf = buf;
        r->msgcap = need;
    }
    if (zab_msg_encode(msg, r->msgbuf, r->msgcap, &len) != 0 || r->standalone)
        return;
    if (catchup_streaming(r->catchup, to))
        catchup_hold(r->catchup, to, r->msgbuf, len); /* after the snapshot, in order */
    else
        env->peer_send(env->io, to, r->msgbuf, len);
}

/* A SNAP is the start of a streamed catch-up (catchup.c); the message itself carries no data
 * and follows the stream. If the stream cannot start, the SNAP is not sent: the member's core
 * times out and re-syncs. */
static void send_msgs(struct repl *r, const struct zab_update *up)
{
    for (size_t i = 0; i < up->n_msgs; i++) {
        const struct zab_out_msg *o = &up->msgs[i];
        if (o->msg.type == ZAB_MSG_SNAP &&
            (!r->catchup || catchup_start(r->catchup, o->to, (int64_t)o->msg.zxid) != 0))
            continue;
        if (o->msg.type == ZAB_MSG_ACK || o->msg.type == ZAB_MSG_ACKNL)
            stages_ack_sent(r->stages, (int64_t)o->msg.zxid);
        send_msg(r, o->to, &o->msg);
    }
}

/* Queue an app message for the core; repl_flush hands it over (leader: to member `to`;
 * follower: to the leader). Dropped if memory runs out: senders retry or time out. */
static void send_app(struct repl *r, uint32_t to, uint8_t tag, const uint8_t *data, size_t len)
{
    struct app_out *a = zk_malloc(sizeof *a + len);
    if (!a)
        return;
    a->next = NULL;
    a->to = to;
    a->tag = tag;
    a->len = len;
    memcpy(a->data, data, len);
    if (r->apps_tail)
        r->apps_tail->next = a;
    else
        r->apps_head = a;
    r->apps_tail = a;
}

static void flush_apps(struct repl *r)
{
    struct app_out *a = r->apps_head;
    r->apps_head = r->apps_tail = NULL;
    while (a) {
        struct app_out *next = a->next;
        struct zab_event ev = {.type = ZAB_APP};
        ev.app.to = a->to;
        ev.app.tag = a->tag;
        ev.app.data = (struct zab_buf){a->data, a->len};
        step(r, &ev);
        zk_free(a);
        a = next;
    }
}

/* ---- session owners: SessionMoved as ZooKeeper's leader decides it ---- */

static void set_owner(struct repl *r, int64_t session, uint32_t member)
{
    if (!store_session_exists(r->m->store, session))
        return; /* bounded by the sessions that exist; a later request enters it */
    if (i64map_put(&r->owners, session, (void *)(uintptr_t)(member + 1)) != 0)
        ZK_WARN_RL("out of memory noting where session 0x%llx is connected",
                   (unsigned long long)session);
}

/* May member `from` write for this session? The first member to write owns a session nobody
 * resumed since this leader started (SessionTrackerImpl.checkSession). A closeSession is never
 * refused (as PrepRequestProcessor): the leader's own expiry of a session connected elsewhere
 * goes through here too, and a refused one would leave the session and its ephemerals for
 * good. */
static bool owner_allows(struct repl *r, const struct store_txn *txn, uint32_t from)
{
    int64_t session = txn->session_id;
    if (session == 0 || txn->type == ZOP_CLOSESESSION)
        return true;
    void *v = i64map_get(&r->owners, session);
    if (!v) {
        set_owner(r, session, from);
        return true;
    }
    return (uintptr_t)v - 1 == from;
}

void repl_session_here(struct repl *r, int64_t session)
{
    if (r->standalone || !r->established)
        return;
    if (repl_is_leader(r)) {
        set_owner(r, session, (uint32_t)r->m->cfg.myid);
        return;
    }
    uint8_t msg[8];
    be64_store(msg, (uint64_t)session);
    /* Sent before any request of the resumed connection, on the same FIFO link. */
    send_app(r, r->leader, APP_OWNER, msg, sizeof msg);
}

/* A forwarded request of a session connected elsewhere: not proposed; its member is told,
 * and closes that (stale) connection, as ZooKeeper's FinalRequestProcessor does. */
static bool forwarded_owner_ok(struct repl *r, uint32_t from, const struct zab_msg *msg)
{
    struct store_txn txn;
    if (txnrec_decode(msg->data.data, msg->data.len, &txn) != 0 || owner_allows(r, &txn, from))
        return true;
    ZK_INFO("member %u forwarded a request of session 0x%llx, which moved; refused", from,
            (unsigned long long)txn.session_id);
    uint8_t moved[12];
    be64_store(moved, (uint64_t)txn.session_id);
    be32_store(moved + 8, (uint32_t)txn.cxid);
    send_app(r, from, APP_MOVED, moved, sizeof moved);
    return false;
}

static void handle_app(struct repl *r, const struct zab_app_in *a)
{
    struct member *m = r->m;
    const uint8_t *p = a->data.data;
    if (a->tag == ZAB_APP_TAG_PING && repl_is_leader(r)) {
        sessions_apply_activity(m->sessions, p, a->data.len, member_now(m));
    } else if (a->tag == APP_SYNC_REQ && a->data.len == 12 && repl_is_leader(r)) {
        uint8_t resp[20];
        memcpy(resp, p, 12);
        be64_store(resp + 12, zab_last_logged(r->zab));
        send_app(r, a->from, APP_SYNC_RESP, resp, sizeof resp);
    } else if (a->tag == APP_SYNC_RESP && a->data.len == 20) {
        conns_sync_resolved(m->conns, be64_load(p), (int32_t)be32_load(p + 8),
                            (int64_t)be64_load(p + 12));
    } else if (a->tag == APP_OWNER && a->data.len == 8 && repl_is_leader(r)) {
        set_owner(r, (int64_t)be64_load(p), a->from);
    } else if (a->tag == APP_MOVED && a->data.len == 12 && a->from == r->leader) {
        conns_session_moved(m->conns, (int64_t)be64_load(p), (int32_t)be32_load(p + 8));
    } else if (a->tag == APP_REFUSED && a->data.len == 16 && a->from == r->leader) {
        conns_request_refused(m->conns, (int64_t)be64_load(p), (int32_t)be32_load(p + 8),
                              (int32_t)be32_load(p + 12));
    }
}

static void on_established(struct repl *r)
{
    struct member *m = r->m;
    r->established = true;
    reconfig_established(m, r->epoch);
    /* A new leader gives every session a fresh timeout (sessions do not expire merely because
     * of an election). */
    if (r->role == ZAB_LEADING && sessions_rebuild(m->sessions, m->store, member_now(m)) != 0)
        member_fatal(m, "out of memory rebuilding the session tracker");
    ZK_INFO("serving as %s of epoch %u (zxid 0x%llx, %zu sessions)", repl_mode(r), r->epoch,
            (unsigned long long)store_last_zxid(m->store), store_session_count(m->store));
    if (m->env.serving)
        m->env.serving(m->env.io, true);
}

static void on_lost(struct repl *r)
{
    struct member *m = r->m;
    r->established = false;
    /* As ZooKeeper: clients are disconnected and move to a member that has a quorum. */
    ZK_WARN("lost the quorum; disconnecting %zu clients", conns_count(m->conns));
    conns_close_all(m->conns, true);
    if (m->env.serving)
        m->env.serving(m->env.io, false);
}

static void note_role(struct repl *r, const struct zab_update *up)
{
    static const char *names[] = {"looking", "following", "leading", "observing"};
    if (up->role != r->role || up->epoch != r->epoch || up->leader != r->leader)
        ZK_INFO("role %s, epoch %u, leader %u", names[up->role], up->epoch, up->leader);
    if (up->role != ZAB_LEADING || up->epoch != r->epoch)
        i64map_free(&r->owners); /* a new leader learns owners afresh, as ZooKeeper's */
    r->role = up->role;
    r->epoch = up->epoch;
    r->leader = up->leader;
}

static void exec_update(struct repl *r, const struct zab_update *up)
{
    bool lost = up->flags & ZAB_UPD_LOST && r->established;
    note_role(r, up);
    member_note_read_only(r->m); /* read-only clients go before a leader's state comes in */
    if (up->flags & ZAB_UPD_INSTALL)
        install_snapshot(r, up->install_zxid);
    if (up->flags & ZAB_UPD_TRUNCATE)
        truncate_log(r, up->truncate_to);
    if (up->flags & (ZAB_UPD_ACCEPTED_EPOCH | ZAB_UPD_CURRENT_EPOCH))
        persist_epochs(r, up);
    append_entries(r, up);
    for (size_t i = 0; i < up->n_commits; i++)
        apply_entry(r, up->commits[i].zxid, up->commits[i].payload.data,
                    up->commits[i].payload.len, true);
    send_msgs(r, up);
    /* After the messages: the COMMIT that activates a configuration must still reach a member
     * it removes. */
    if (up->flags & ZAB_UPD_CONFIG)
        reconfig_activated(r->m, &up->config, up->config_zxid);
    /* After the commits: their replies go out before the clients are disconnected (a member
     * a reconfig removes answers the reconfig, then stops serving). */
    if (lost)
        on_lost(r);
    for (size_t i = 0; i < up->n_apps; i++)
        handle_app(r, &up->apps[i]);
    if (up->flags & ZAB_UPD_ESTABLISHED && !r->established)
        on_established(r);
}

/* Every update is executed, also the one of a failed step (design.md #2: the core fills it
 * either way; an error's update may still hold a role change and messages). */
static void step(struct repl *r, const struct zab_event *ev)
{
    struct zab_update up;
    int rc = zab_step(r->zab, ev, &up);
    if (rc == ZAB_OK || rc == ZAB_EINVAL || !(r->m->sabotage & MEMBER_SABOTAGE_DROP_ERROR_UPDATE))
        exec_update(r, &up);
    if (rc != ZAB_OK && rc != ZAB_EINVAL)
        ZK_WARN_RL("consensus step (event %d) failed: %s", (int)ev->type, zab_strerror(rc));
}

/* ---- the write path ---- */

/* Internal txns (no session: container/TTL reaping) are the leader's own; everything else
 * came from a client and is checked completely before it can reach the log. */
static int32_t validate_submission(struct repl *r, const struct store_txn *txn)
{
    const struct zk_config *c = &r->m->cfg;
    if (txn->session_id == 0)
        return txn->type == ZOP_DELETECONTAINER && repl_is_leader(r) ? ZE_OK : ZE_BADARGUMENTS;
    struct store_txn_limits lim = {c->max_buffer, c->min_session_timeout_ms,
                                   c->max_session_timeout_ms};
    return store_validate_txn(txn, &lim);
}

static int32_t enqueue_txn(struct repl *r, struct store_txn *txn);

/* The leader turns a reconfig request (its client's here, or forwarded) into the txn that
 * carries the next configuration, with the request's session and xid so its member answers. */
static int32_t submit_reconfig(struct repl *r, const struct store_txn *request)
{
    struct jute_writer body;
    jw_init(&body);
    int32_t err = reconfig_prepare(r->m, r->zab, request, &body);
    if (err == ZE_OK) {
        struct store_txn txn = *request;
        txn.type = ZOP_SETCONFIG;
        txn.body = body.data;
        txn.body_len = (uint32_t)body.len;
        err = enqueue_txn(r, &txn);
    }
    jw_free(&body);
    return err;
}

int32_t repl_submit(struct repl *r, struct store_txn *txn)
{
    if (!r->established)
        return ZE_CONNECTIONLOSS;
    int32_t err = validate_submission(r, txn);
    if (err != ZE_OK)
        return err;
    if (txn->type == ZOP_SETCONFIG)
        return ZE_BADARGUMENTS; /* only submit_reconfig makes them */
    if (repl_is_leader(r) && !r->standalone && !owner_allows(r, txn, (uint32_t)r->m->cfg.myid))
        return ZE_SESSIONMOVED;
    if (txn->type == ZOP_RECONFIG && repl_is_leader(r))
        return submit_reconfig(r, txn);
    return enqueue_txn(r, txn);
}

static int32_t enqueue_txn(struct repl *r, struct store_txn *txn)
{
    txn->zxid = 0; /* the leader's core assigns it; the log and the commit carry it */
    txn->time_ms = member_wall(r->m);
    size_t len = txnrec_size(txn);
    if (len > max_payload(r))
        return ZE_BADARGUMENTS;
    struct pending_write *p = zk_malloc(sizeof *p + len);
    if (!p)
        return ZE_SYSTEMERROR;
    p->next = NULL;
    p->recv_us = stages_now_us();
    p->len = txnrec_encode(txn, p->rec);
    if (r->backlog_tail)
        r->backlog_tail->next = p;
    else
        r->backlog_head = p;
    r->backlog_tail = p;
    return ZE_OK;
}

static void fail_proposal(struct repl *r, struct pending_write *p, int32_t err)
{
    struct store_txn txn;
    if (txnrec_decode(p->rec, p->len, &txn) == 0)
        conns_on_failed(r->m->conns, &txn, err);
}

/* Hand this turn's writes to the core; on back-pressure the rest waits for the next turn. */
static void submit_backlog(struct repl *r)
{
    while (r->backlog_head) {
        struct pending_write *p = r->backlog_head;
        struct zab_event ev = {.type = ZAB_SUBMIT};
        ev.submit.payload = (struct zab_buf){p->rec, p->len};
        struct zab_update up;
        r->submit_recv_us = p->recv_us;
        int rc = zab_step(r->zab, &ev, &up);
        exec_update(r, &up);
        r->submit_recv_us = 0;
        if (rc == ZAB_EBUSY)
            return;
        r->backlog_head = p->next;
        if (!r->backlog_head)
            r->backlog_tail = NULL;
        if (rc != ZAB_OK)
            fail_proposal(r, p, ZE_CONNECTIONLOSS);
        zk_free(p);
    }
}

static void report_links_down(struct repl *r)
{
    int n = r->n_links_down;
    r->n_links_down = 0;
    for (int i = 0; i < n; i++) {
        if (r->catchup)
            catchup_peer_down(r->catchup, r->links_down[i]);
        struct zab_event ev = {.type = ZAB_PEER_DOWN};
        ev.peer.id = r->links_down[i];
        step(r, &ev);
    }
}

/* What storage may treat as committed at the next start. */
static int64_t committed_mark(const struct repl *r)
{
    if (r->m->sabotage & MEMBER_SABOTAGE_MARK_AHEAD)
        return (int64_t)zab_last_logged(r->zab);
    return (int64_t)zab_committed(r->zab);
}

void repl_flush(struct repl *r)
{
    struct member *m = r->m;
    const struct member_env *env = &m->env;
    report_links_down(r);
    flush_apps(r);
    submit_backlog(r);
    if (r->catchup)
        catchup_pump(r->catchup);
    if (env->peer_push)
        env->peer_push(env->io); /* overlap the other members' work with our fsync */
    if (env->conn_push)
        env->conn_push(env->io); /* replies of commits applied this turn: do not make them wait */
    m->storage.flush(m->storage.ctx, committed_mark(r));
    int64_t durable = m->storage.durable(m->storage.ctx);
    if (durable > r->reported_persisted) {
        r->reported_persisted = durable;
        stages_durable(r->stages, durable);
        struct zab_event ev = {.type = ZAB_PERSISTED};
        ev.persisted.zxid = (uint64_t)durable;
        step(r, &ev);
    }
}

void repl_tick(struct repl *r)
{
    sessions_take_activity(r->m->sessions, &r->activity);
    struct zab_event ev = {.type = ZAB_TICK};
    ev.tick.session_activity = (struct zab_buf){r->activity.data, r->activity.len};
    step(r, &ev);
}

bool repl_sync(struct repl *r, uint64_t conn_id, int32_t xid, int64_t *zxid)
{
    if (r->role == ZAB_LEADING || r->standalone) {
        *zxid = (int64_t)zab_last_logged(r->zab);
        return true;
    }
    uint8_t req[12];
    be64_store(req, conn_id);
    be32_store(req + 8, (uint32_t)xid);
    send_app(r, r->leader, APP_SYNC_REQ, req, sizeof req);
    return false;
}

/* ---- peers ---- */

/* The core ignores messages of an earlier epoch; say so in the log (rate-limited: they are
 * normal for a moment after an election, and a sign of trouble if they persist). */
static void note_stale_epoch(struct repl *r, uint32_t from, const struct zab_msg *msg)
{
    if (msg->type == ZAB_MSG_VOTE || msg->type == ZAB_MSG_FOLLOWERINFO || r->epoch == 0 ||
        msg->epoch >= r->epoch)
        return;
    ZK_WARN_RL("member %u sent %s of old epoch %u (current epoch %u); ignored", from,
               zab_msg_type_name(msg->type), msg->epoch, r->epoch);
}

/* The leader proposes a forwarded REQUEST as it is: check it as the follower did, so a forged
 * or corrupted one never reaches the log. */
static bool forwarded_request_ok(struct repl *r, uint32_t from, const struct zab_msg *msg)
{
    const struct zk_config *c = &r->m->cfg;
    struct store_txn txn;
    struct store_txn_limits lim = {c->max_buffer, c->min_session_timeout_ms,
                                   c->max_session_timeout_ms};
    /* store_validate_txn, not validate_submission: internal txns (session 0) are the leader's
     * own and never come from another member. */
    int32_t err = txnrec_decode(msg->data.data, msg->data.len, &txn) != 0
                      ? ZE_MARSHALLINGERROR : store_validate_txn(&txn, &lim);
    if (err == ZE_OK)
        return true;
    ZK_WARN_RL("member %u forwarded an invalid request (%zu bytes, %s); dropped", from,
               msg->data.len, zk_err_name(err));
    return false;
}

/* A reconfig request forwarded to us, the leader: never proposed as it is (its txn is made
 * here); a refusal goes back to its member, which answers its client. Returns true when the
 * message was taken here. */
static bool forwarded_reconfig(struct repl *r, uint32_t from, const struct zab_msg *msg)
{
    struct store_txn txn;
    if (txnrec_decode(msg->data.data, msg->data.len, &txn) != 0)
        return false;
    if (txn.type == ZOP_SETCONFIG) {
        ZK_WARN_RL("member %u forwarded a configuration txn, which only a leader makes; dropped",
                   from);
        return true;
    }
    if (txn.type != ZOP_RECONFIG)
        return false;
    int32_t err = repl_is_leader(r) ? submit_reconfig(r, &txn) : ZE_CONNECTIONLOSS;
    if (err != ZE_OK) {
        uint8_t refused[16];
        be64_store(refused, (uint64_t)txn.session_id);
        be32_store(refused + 8, (uint32_t)txn.cxid);
        be32_store(refused + 12, (uint32_t)err);
        send_app(r, from, APP_REFUSED, refused, sizeof refused);
    }
    return true;
}

void repl_peer_message(struct repl *r, uint32_t from, const uint8_t *data, size_t len)
{
    if (len > 0 && data[0] == CATCHUP_TAG) {
        if (r->catchup)
            catchup_receive(r->catchup, from, data, len);
        struct zab_event ev = {.type = ZAB_SYNC_PROGRESS};
        ev.peer.id = from;
        step(r, &ev);
        return;
    }
    struct zab_msg msg;
    if (zab_msg_decode(data, len, &msg) != 0) {
        ZK_WARN_RL("member %u sent a malformed message (%zu bytes); ignored", from, len);
        return;
    }
    if (msg.type == ZAB_MSG_REQUEST &&
        (!forwarded_request_ok(r, from, &msg) || !forwarded_owner_ok(r, from, &msg) ||
         forwarded_reconfig(r, from, &msg)))
        return;
    if (msg.type == ZAB_MSG_SNAP &&
        (!r->catchup || !catchup_ready(r->catchup, from, (int64_t)msg.zxid))) {
        /* Only a SNAP whose snapshot stream arrived whole may reach the core (which would
         * otherwise demand an install we cannot do). */
        ZK_WARN_RL("member %u sent SNAP 0x%llx without its snapshot stream; ignored", from,
                   (unsigned long long)msg.zxid);
        return;
    }
    note_stale_epoch(r, from, &msg);
    struct zab_event ev = {.type = ZAB_RECEIVE};
    ev.receive.from = from;
    ev.receive.msg = &msg;
    step(r, &ev);
}

/* Link changes are only hints to the core; they may arrive from inside a send (which the
 * core's own update called), so they must not step the core here: repl_flush reports them. */
void repl_peer_down(struct repl *r, uint32_t id)
{
    for (int i = 0; i < r->n_links_down; i++)
        if (r->links_down[i] == id)
            return;
    if (r->n_links_down < ZK_SERVERS_MAX)
        r->links_down[r->n_links_down++] = id;
}

/* A link has room again: a catch-up stream waiting for it may go on. */
void repl_peer_drained(struct repl *r, uint32_t id)
{
    (void)id;
    if (r->catchup)
        catchup_pump(r->catchup);
}

/* ---- lifecycle ---- */

struct repl *repl_new(struct member *m)
{
    struct repl *r = zk_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->m = m;
    i64map_init(&r->owners);
    jw_init(&r->activity);
    jw_init(&r->body);
    r->stages = stages_new();
    r->catchup = m->cfg.n_members > 0 ? catchup_new(m) : NULL;
    if (!r->stages || (m->cfg.n_members > 0 && !r->catchup)) {
        repl_free(r);
        return NULL;
    }
    return r;
}

void repl_free(struct repl *r)
{
    if (!r)
        return;
    for (struct pending_write *p = r->backlog_head, *next; p; p = next) {
        next = p->next;
        zk_free(p);
    }
    for (struct app_out *a = r->apps_head, *next; a; a = next) {
        next = a->next;
        zk_free(a);
    }
    if (r->zab)
        zab_free(r->zab);
    catchup_free(r->catchup);
    stages_free(r->stages);
    i64map_free(&r->owners);
    jw_free(&r->activity);
    jw_free(&r->body);
    zk_free(r->msgbuf);
    zk_free(r);
}
