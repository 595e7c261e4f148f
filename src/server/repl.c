/* Replication pipeline: drives the Zab core and executes its updates (see repl.h). */
#include "server/repl.h"

#include <event2/event.h>
#include <msgpack.h>
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"
#include "consensus/zab.h"
#include "server/catchup.h"
#include "server/peer.h"
#include "server/sdnotify.h"
#include "server/server.h"
#include "server/stages.h"
#include "server/storage.h"
#include "session/tracker.h"
#include "store/snapfile.h"
#include "store/txnrec.h"

#define APP_SYNC_REQ 1                 /* follower -> leader: conn id, xid */
#define APP_SYNC_RESP 2                /* leader -> follower: conn id, xid, zxid to wait for */
#define WINDOW_ENTRIES 1000
#define RECORD_ENVELOPE_BYTES (64u << 10) /* txnrec fields and up to 16 identities */
#define MAX_OUTSTANDING 4096

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
    struct zab *zab;
    struct peer_net *peers;
    struct catchup *catchup; /* streamed snapshots to and from other members */
    struct stages *stages;   /* where a write's time goes (mntr) */
    uint64_t submit_recv_us; /* arrival of the write being handed to the core, 0 otherwise */
    bool standalone;
    enum zab_role role;
    uint32_t leader;
    uint32_t epoch;
    bool established;
    int64_t reported_persisted;
    struct pending_write *backlog_head, *backlog_tail; /* submitted, not yet handed to the core */
    size_t backlog_len;
    struct app_out *apps_head, *apps_tail;
    uint32_t links_down[ZK_SERVERS_MAX]; /* link losses not yet reported to the core */
    int n_links_down;
    struct i64map touched;     /* follower: sessions active since the last tick */
    uint8_t *msgbuf;
    size_t msgcap;
    struct jute_writer activity;
};

static void exec_update(struct srv *s, const struct zab_update *up);
static void report_links_down(struct srv *s);

bool repl_is_leader(const struct srv *s) { return s->repl && s->repl->role == ZAB_LEADING; }
bool repl_serving(const struct srv *s) { return s->repl && s->repl->established; }

const char *repl_mode(const struct srv *s)
{
    const struct repl *r = s->repl;
    if (!r || !r->established)
        return "looking";
    if (r->standalone)
        return "standalone";
    return r->role == ZAB_LEADING ? "leader" : "follower";
}

const struct stages *repl_stages(const struct srv *s) { return s->repl ? s->repl->stages : NULL; }

int64_t repl_last_proposed(const struct srv *s)
{
    return s->repl ? (int64_t)zab_last_logged(s->repl->zab) : 0;
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

static void apply_entry(struct srv *s, uint64_t zxid, const uint8_t *payload, size_t len,
                        bool reply)
{
    struct store_txn txn;
    decode_committed(zxid, payload, len, &txn);
    txn.zxid = (int64_t)zxid;
    ZK_ASSERT(txn.zxid > store_last_zxid(s->store));
    int32_t err = ZE_OK;
    jw_reset(&s->body_scratch);
    if (reply)
        stages_committed(s->repl->stages, txn.zxid);
    if (store_apply(s->store, &txn, reply ? &s->body_scratch : NULL, &err) != 0) {
        ZK_ERROR("out of memory applying zxid 0x%llx; exiting", (unsigned long long)zxid);
        abort(); /* a member that cannot apply a committed txn must not diverge */
    }
    ZK_ASSERT(store_last_zxid(s->store) == txn.zxid);
    s->txns_since_snapshot++;
    s->bytes_since_snapshot += (int64_t)len;
    if (!reply)
        return;
    stages_applied(s->repl->stages, txn.zxid);
    if (repl_is_leader(s))
        srv_track_session_change(s, &txn, err);
    if (client_on_applied(s, &txn, err, &s->body_scratch))
        stages_replied(s->repl->stages, txn.zxid);
}

/* ---- start-up: snapshot + committed log prefix into the store, the rest to the core ---- */

struct tail {
    struct zab_entry *entries;
    size_t n, cap;
    const struct storage_recovered *rec; /* its committed mark is set before records come */
    struct srv *srv;
};

static int load_record(void *ctx, int64_t zxid, const void *rec, size_t len)
{
    struct tail *t = ctx;
    if (zxid <= t->rec->committed) { /* known committed: straight into the store */
        apply_entry(t->srv, (uint64_t)zxid, rec, len, false);
        return 0;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct zab_entry *e = zk_realloc(t->entries, cap * sizeof *e);
        if (!e)
            return -1;
        t->entries = e;
        t->cap = cap;
    }
    uint8_t *copy = zk_malloc(len);
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
static uint32_t max_payload(const struct srv *s)
{
    return (uint32_t)s->cfg.max_buffer + RECORD_ENVELOPE_BYTES;
}

static void core_config(const struct srv *s, struct zab_config *zc)
{
    uint32_t voters[ZAB_PEERS_MAX], n = 0;
    const struct zk_config *c = &s->cfg;
    for (int i = 0; i < c->n_members && n < ZAB_PEERS_MAX; i++)
        if (!c->members[i].observer)
            voters[n++] = (uint32_t)c->members[i].id;
    uint32_t my_id = c->n_members ? (uint32_t)c->myid : 1;
    if (n == 0)
        voters[n++] = 1; /* standalone: an ensemble of one */
    zab_config_default(zc, my_id, n, voters);
    uint32_t ticks_per_tick = (uint32_t)(c->tick_ms / REPL_TICK_MS > 0 ? c->tick_ms / REPL_TICK_MS : 1);
    zc->init_limit_ticks = (uint32_t)c->init_limit * ticks_per_tick;
    zc->sync_limit_ticks = (uint32_t)c->sync_limit * ticks_per_tick;
    zc->finalize_ticks = 1; /* 50 ms for a better vote (ZooKeeper's finalizeWait is 200 ms) */
    zc->retry_ticks = 1;
    zc->window = WINDOW_ENTRIES;
    zc->max_payload = max_payload(s);
    zc->max_outstanding = MAX_OUTSTANDING;
}

static int start_core(struct srv *s, struct tail *t, const struct storage_recovered *rec)
{
    struct repl *r = s->repl;
    struct zab_config zc;
    core_config(s, &zc);
    r->standalone = s->cfg.n_members == 0;
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
    struct zab_event ev = {.type = ZAB_START};
    ev.start.accepted_epoch = rec->accepted_epoch;
    ev.start.current_epoch = rec->current_epoch;
    ev.start.last_applied = (uint64_t)store_last_zxid(s->store);
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
    exec_update(s, &up);
    return 0;
}

/* ---- executing the core's updates ---- */

/* The member cannot go on without these being durable: the core already acted on them. */
static void storage_or_exit(int rc, const char *what)
{
    if (rc != 0) {
        ZK_ERROR("cannot persist %s; exiting", what);
        abort();
    }
}

static void append_entries(struct srv *s, const struct zab_update *up)
{
    struct repl *r = s->repl;
    for (size_t i = 0; i < up->n_entries; i++) {
        const struct zab_entry *e = &up->entries[i];
        if (r->role == ZAB_LEADING)
            stages_proposed(r->stages, (int64_t)e->zxid, r->submit_recv_us);
        else
            stages_follower_received(r->stages, (int64_t)e->zxid);
        storage_or_exit(storage_append(s->storage, (int64_t)e->zxid, e->payload.data,
                                       e->payload.len), "log entries");
        s->stats.txns_logged++;
    }
}

void repl_quiesce(struct srv *s) { (void)s; }

static int apply_installed(void *ctx, int64_t zxid, const void *rec, size_t len)
{
    apply_entry(ctx, (uint64_t)zxid, rec, len, false);
    return 0;
}

/* The core installs what the leader's SNAP announced: the stream that came before it (the SNAP
 * reached the core only if that stream is complete, see on_peer_message). */
static void install_snapshot(struct srv *s, uint64_t zxid)
{
    struct repl *r = s->repl;
    if (!r->catchup || !catchup_ready(r->catchup, r->leader, (int64_t)zxid) ||
        catchup_install(r->catchup, s->store, apply_installed, s) != 0) {
        ZK_ERROR("cannot install the leader's snapshot at 0x%llx; exiting",
                 (unsigned long long)zxid);
        abort(); /* the core believes it is installed: going on would diverge */
    }
    r->reported_persisted = (int64_t)zxid;
    s->txns_since_snapshot = 0;
    s->bytes_since_snapshot = 0;
    ZK_INFO("installed the leader's snapshot: state at zxid 0x%llx (%zu znodes)",
            (unsigned long long)zxid, store_node_count(s->store));
}

static void persist_epochs(struct srv *s, const struct zab_update *up)
{
    int64_t accepted = up->flags & ZAB_UPD_ACCEPTED_EPOCH ? (int64_t)up->accepted_epoch : -1;
    int64_t current = up->flags & ZAB_UPD_CURRENT_EPOCH ? (int64_t)up->current_epoch : -1;
    /* Durable before any message of this update leaves (Zab: persist, then answer). */
    storage_or_exit(storage_set_epochs(s->storage, accepted, current,
                                       (int64_t)zab_committed(s->repl->zab)), "the epoch");
}

static void truncate_log(struct srv *s, uint64_t zxid)
{
    storage_or_exit(storage_truncate_after(s->storage, (int64_t)zxid,
                                           (int64_t)zab_committed(s->repl->zab)),
                    "a truncation");
    if (s->repl->reported_persisted > (int64_t)zxid)
        s->repl->reported_persisted = (int64_t)zxid;
}

static void send_msg(struct srv *s, uint32_t to, const struct zab_msg *m)
{
    struct repl *r = s->repl;
    size_t need = zab_msg_encoded_max(m), len;
    if (need > r->msgcap) {
        uint8_t *buf = zk_realloc(r->msgbuf, need);
        if (!buf)
            return; /* dropped: the core tolerates loss */
        r->msgbuf = buf;
        r->msgcap = need;
    }
    if (zab_msg_encode(m, r->msgbuf, r->msgcap, &len) != 0 || !r->peers)
        return;
    if (catchup_streaming(r->catchup, to))
        catchup_hold(r->catchup, to, r->msgbuf, len); /* after the snapshot, in order */
    else
        peer_net_send(r->peers, to, r->msgbuf, len);
}

/* A SNAP is the start of a streamed catch-up (catchup.c); the message itself carries no data
 * and follows the stream. If the stream cannot start, the SNAP is not sent: the member's core
 * times out and re-syncs. */
static void send_msgs(struct srv *s, const struct zab_update *up)
{
    struct repl *r = s->repl;
    for (size_t i = 0; i < up->n_msgs; i++) {
        const struct zab_out_msg *o = &up->msgs[i];
        if (o->msg.type == ZAB_MSG_SNAP &&
            (!r->catchup || catchup_start(r->catchup, o->to, (int64_t)o->msg.zxid) != 0))
            continue;
        if (o->msg.type == ZAB_MSG_ACK || o->msg.type == ZAB_MSG_ACKNL)
            stages_ack_sent(r->stages, (int64_t)o->msg.zxid);
        send_msg(s, o->to, &o->msg);
    }
}

/* Queue an app message for the core; repl_flush hands it over (leader: to member `to`;
 * follower: to the leader). Dropped if memory runs out: senders retry or time out. */
static void send_app(struct srv *s, uint32_t to, uint8_t tag, const uint8_t *data, size_t len)
{
    struct repl *r = s->repl;
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

static void step(struct srv *s, const struct zab_event *ev);

static void flush_apps(struct srv *s)
{
    struct repl *r = s->repl;
    struct app_out *a = r->apps_head;
    r->apps_head = r->apps_tail = NULL;
    while (a) {
        struct app_out *next = a->next;
        struct zab_event ev = {.type = ZAB_APP};
        ev.app.to = a->to;
        ev.app.tag = a->tag;
        ev.app.data = (struct zab_buf){a->data, a->len};
        step(s, &ev);
        zk_free(a);
        a = next;
    }
}

static void handle_app(struct srv *s, const struct zab_app_in *a)
{
    const uint8_t *p = a->data.data;
    if (a->tag == ZAB_APP_TAG_PING && repl_is_leader(s)) {
        for (size_t off = 0; off + 8 <= a->data.len; off += 8)
            sess_tracker_renew(s->tracker, (int64_t)be64_load(p + off), srv_now_ms());
    } else if (a->tag == APP_SYNC_REQ && a->data.len == 12 && repl_is_leader(s)) {
        uint8_t resp[20];
        memcpy(resp, p, 12);
        be64_store(resp + 12, zab_last_logged(s->repl->zab));
        send_app(s, a->from, APP_SYNC_RESP, resp, sizeof resp);
    } else if (a->tag == APP_SYNC_RESP && a->data.len == 20) {
        client_sync_resolved(s, be64_load(p), (int32_t)be32_load(p + 8),
                             (int64_t)be64_load(p + 12));
    }
}

static void track_all_sessions(void *ctx, int64_t session_id, int32_t timeout_ms)
{
    struct srv *s = ctx;
    if (srv_track_session(s, session_id, timeout_ms) != 0)
        ZK_ERROR("out of memory tracking session 0x%llx", (unsigned long long)session_id);
}

static void on_established(struct srv *s)
{
    struct repl *r = s->repl;
    r->established = true;
    if (r->role == ZAB_LEADING) {
        /* The new leader gives every session a fresh timeout (sessions do not expire merely
         * because of an election). */
        sess_tracker_free(s->tracker);
        s->tracker = sess_tracker_new(s->cfg.tick_ms);
        if (!s->tracker) {
            ZK_ERROR("out of memory rebuilding the session tracker; exiting");
            abort();
        }
        store_session_foreach(s->store, track_all_sessions, s);
    }
    ZK_INFO("serving as %s of epoch %u (zxid 0x%llx, %zu sessions)", repl_mode(s), r->epoch,
            (unsigned long long)store_last_zxid(s->store), store_session_count(s->store));
    sdnotify_ready();
}

static void on_lost(struct srv *s)
{
    s->repl->established = false;
    /* As ZooKeeper: clients are disconnected and move to a member that has a quorum. */
    ZK_WARN("lost the quorum; disconnecting %zu clients", s->n_conns);
    client_close_all(s);
}

static void note_role(struct srv *s, const struct zab_update *up)
{
    struct repl *r = s->repl;
    static const char *names[] = {"looking", "following", "leading"};
    if (up->role != r->role || up->epoch != r->epoch || up->leader != r->leader)
        ZK_INFO("role %s, epoch %u, leader %u", names[up->role], up->epoch, up->leader);
    r->role = up->role;
    r->epoch = up->epoch;
    r->leader = up->leader;
}

static void exec_update(struct srv *s, const struct zab_update *up)
{
    if (up->flags & ZAB_UPD_LOST && s->repl->established)
        on_lost(s);
    note_role(s, up);
    if (up->flags & ZAB_UPD_INSTALL)
        install_snapshot(s, up->install_zxid);
    if (up->flags & ZAB_UPD_TRUNCATE)
        truncate_log(s, up->truncate_to);
    if (up->flags & (ZAB_UPD_ACCEPTED_EPOCH | ZAB_UPD_CURRENT_EPOCH))
        persist_epochs(s, up);
    append_entries(s, up);
    for (size_t i = 0; i < up->n_commits; i++)
        apply_entry(s, up->commits[i].zxid, up->commits[i].payload.data,
                    up->commits[i].payload.len, true);
    send_msgs(s, up);
    for (size_t i = 0; i < up->n_apps; i++)
        handle_app(s, &up->apps[i]);
    if (up->flags & ZAB_UPD_ESTABLISHED && !s->repl->established)
        on_established(s);
}

static void step(struct srv *s, const struct zab_event *ev)
{
    struct zab_update up;
    int rc = zab_step(s->repl->zab, ev, &up);
    if (rc == ZAB_OK || rc == ZAB_EINVAL)
        exec_update(s, &up); /* EINVAL: e.g. a message from an unknown peer, ignored */
    else
        ZK_WARN_RL("consensus step (event %d) failed: %s", (int)ev->type, zab_strerror(rc));
}

/* ---- the write path ---- */

/* Internal txns (no session: container/TTL reaping) are the leader's own; everything else
 * came from a client and is checked completely before it can reach the log. */
static int32_t validate_submission(struct srv *s, const struct store_txn *txn)
{
    if (txn->session_id == 0)
        return txn->type == ZOP_DELETECONTAINER && repl_is_leader(s) ? ZE_OK : ZE_BADARGUMENTS;
    struct store_txn_limits lim = {s->cfg.max_buffer, s->cfg.min_session_timeout_ms,
                                   s->cfg.max_session_timeout_ms};
    return store_validate_txn(txn, &lim);
}

int repl_submit(struct srv *s, struct store_txn *txn)
{
    struct repl *r = s->repl;
    if (!r->established)
        return ZE_CONNECTIONLOSS;
    int32_t err = validate_submission(s, txn);
    if (err != ZE_OK)
        return err;
    txn->zxid = 0; /* the leader's core assigns it; the log and the commit carry it */
    txn->time_ms = srv_wall_ms();
    size_t len = txnrec_size(txn);
    if (len > max_payload(s))
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
    r->backlog_len++;
    return ZE_OK;
}

static void fail_proposal(struct srv *s, struct pending_write *p, int32_t err)
{
    struct store_txn txn;
    if (txnrec_decode(p->rec, p->len, &txn) == 0)
        client_on_failed(s, &txn, err);
}

/* Hand this turn's writes to the core; on back-pressure the rest waits for the next turn. */
static void submit_backlog(struct srv *s)
{
    struct repl *r = s->repl;
    while (r->backlog_head) {
        struct pending_write *p = r->backlog_head;
        struct zab_event ev = {.type = ZAB_SUBMIT};
        ev.submit.payload = (struct zab_buf){p->rec, p->len};
        struct zab_update up;
        r->submit_recv_us = p->recv_us;
        int rc = zab_step(r->zab, &ev, &up);
        if (rc == ZAB_EBUSY) {
            r->submit_recv_us = 0;
            return;
        }
        r->backlog_head = p->next;
        if (!r->backlog_head)
            r->backlog_tail = NULL;
        r->backlog_len--;
        if (rc == ZAB_OK)
            exec_update(s, &up);
        else
            fail_proposal(s, p, ZE_CONNECTIONLOSS);
        r->submit_recv_us = 0;
        zk_free(p);
    }
}

void repl_flush(struct srv *s)
{
    struct repl *r = s->repl;
    report_links_down(s);
    flush_apps(s);
    submit_backlog(s);
    if (r->catchup)
        catchup_pump(r->catchup);
    if (r->peers)
        peer_net_push(r->peers); /* overlap the other members' work with our fsync */
    client_push_all(s);          /* replies of commits applied this turn: do not make them wait */
    storage_flush(s->storage, (int64_t)zab_committed(r->zab));
    int64_t durable = storage_durable_zxid(s->storage);
    if (durable > r->reported_persisted) {
        r->reported_persisted = durable;
        stages_durable(r->stages, durable);
        struct zab_event ev = {.type = ZAB_PERSISTED};
        ev.persisted.zxid = (uint64_t)durable;
        step(s, &ev);
    }
}

static void build_activity(struct srv *s)
{
    struct repl *r = s->repl;
    jw_reset(&r->activity);
    int64_t id;
    void *unused;
    for (size_t it = 0; i64map_next(&r->touched, &it, &id, &unused);)
        if (id != 0)
            jw_long(&r->activity, id);
    i64map_free(&r->touched);
}

void repl_tick(struct srv *s)
{
    struct zab_event ev = {.type = ZAB_TICK};
    build_activity(s);
    ev.tick.session_activity = (struct zab_buf){s->repl->activity.data, s->repl->activity.len};
    step(s, &ev);
}

void repl_touch(struct srv *s, int64_t session_id)
{
    if (repl_is_leader(s))
        sess_tracker_renew(s->tracker, session_id, srv_now_ms());
    else if (i64map_put(&s->repl->touched, session_id, s) != 0)
        ZK_WARN("out of memory recording session activity");
}

bool repl_session_alive(struct srv *s, int64_t session_id)
{
    if (!store_session_exists(s->store, session_id))
        return false;
    return !repl_is_leader(s) || sess_tracker_contains(s->tracker, session_id);
}

bool repl_sync(struct srv *s, uint64_t conn_id, int32_t xid, int64_t *zxid)
{
    struct repl *r = s->repl;
    if (r->role == ZAB_LEADING || r->standalone) {
        *zxid = (int64_t)zab_last_logged(r->zab);
        return true;
    }
    uint8_t req[12];
    be64_store(req, conn_id);
    be32_store(req + 8, (uint32_t)xid);
    send_app(s, r->leader, APP_SYNC_REQ, req, sizeof req);
    return false;
}

/* ---- peers ---- */

/* The core ignores messages of an earlier epoch; say so in the log (rate-limited: they are
 * normal for a moment after an election, and a sign of trouble if they persist). */
static void note_stale_epoch(struct srv *s, uint32_t from, const struct zab_msg *m)
{
    struct repl *r = s->repl;
    if (m->type == ZAB_MSG_VOTE || m->type == ZAB_MSG_FOLLOWERINFO || r->epoch == 0 ||
        m->epoch >= r->epoch)
        return;
    ZK_WARN_RL("member %u sent %s of old epoch %u (current epoch %u); ignored", from,
               zab_msg_type_name(m->type), m->epoch, r->epoch);
}

/* The leader proposes a forwarded REQUEST as it is: check it as the follower did, so a forged
 * or corrupted one never reaches the log. */
static bool forwarded_request_ok(struct srv *s, uint32_t from, const struct zab_msg *m)
{
    struct store_txn txn;
    struct store_txn_limits lim = {s->cfg.max_buffer, s->cfg.min_session_timeout_ms,
                                   s->cfg.max_session_timeout_ms};
    /* store_validate_txn, not validate_submission: internal txns (session 0) are the leader's
     * own and never come from another member. */
    int32_t err = txnrec_decode(m->data.data, m->data.len, &txn) != 0
                      ? ZE_MARSHALLINGERROR : store_validate_txn(&txn, &lim);
    if (err == ZE_OK)
        return true;
    ZK_WARN_RL("member %u forwarded an invalid request (%zu bytes, %s); dropped", from,
               m->data.len, zk_err_name(err));
    return false;
}

static void on_peer_message(void *ctx, uint32_t from, const uint8_t *data, size_t len)
{
    struct srv *s = ctx;
    struct repl *r = s->repl;
    if (len > 0 && data[0] == CATCHUP_TAG) {
        if (r->catchup)
            catchup_receive(r->catchup, from, data, len);
        struct zab_event ev = {.type = ZAB_SYNC_PROGRESS};
        ev.peer.id = from;
        step(s, &ev);
        return;
    }
    struct zab_msg m;
    if (zab_msg_decode(data, len, &m) != 0) {
        ZK_WARN_RL("member %u sent a malformed message (%zu bytes); ignored", from, len);
        return;
    }
    if (m.type == ZAB_MSG_REQUEST && !forwarded_request_ok(s, from, &m))
        return;
    if (m.type == ZAB_MSG_SNAP &&
        (!r->catchup || !catchup_ready(r->catchup, from, (int64_t)m.zxid))) {
        /* Only a SNAP whose snapshot stream arrived whole may reach the core (which would
         * otherwise demand an install we cannot do). */
        ZK_WARN_RL("member %u sent SNAP 0x%llx without its snapshot stream; ignored", from,
                   (unsigned long long)m.zxid);
        return;
    }
    note_stale_epoch(s, from, &m);
    struct zab_event ev = {.type = ZAB_RECEIVE};
    ev.receive.from = from;
    ev.receive.msg = &m;
    step(s, &ev);
}

/* Link changes are only hints to the core; they arrive from inside peer_net_send (which the
 * core's own update may have called), so they must not step the core here. */
static void on_peer_down(void *ctx, uint32_t id)
{
    struct srv *s = ctx;
    struct repl *r = s->repl;
    for (int i = 0; i < r->n_links_down; i++)
        if (r->links_down[i] == id)
            return;
    if (r->n_links_down < ZK_SERVERS_MAX)
        r->links_down[r->n_links_down++] = id;
}

/* A link has room again: a catch-up stream waiting for it may go on. */
static void on_peer_drained(void *ctx, uint32_t id)
{
    (void)id;
    struct srv *s = ctx;
    if (s->repl->catchup)
        catchup_pump(s->repl->catchup);
}

static void report_links_down(struct srv *s)
{
    struct repl *r = s->repl;
    int n = r->n_links_down;
    r->n_links_down = 0;
    for (int i = 0; i < n; i++) {
        if (r->catchup)
            catchup_peer_down(r->catchup, r->links_down[i]);
        struct zab_event ev = {.type = ZAB_PEER_DOWN};
        ev.peer.id = r->links_down[i];
        step(s, &ev);
    }
}

/* ---- lifecycle ---- */

int repl_start(struct srv *s)
{
    struct repl *r = zk_calloc(1, sizeof *r);
    if (!r)
        return -1;
    s->repl = r;
    i64map_init(&r->touched);
    r->stages = stages_new();
    if (!r->stages)
        return -1;
    jw_init(&r->activity);
    struct storage_recovered rec;
    struct tail t = {.srv = s, .rec = &rec};
    if (storage_recover(s->storage, s->store, &rec, load_record, &t) != 0) {
        free_tail(&t);
        return -1;
    }
    ZK_INFO("recovered: state at zxid 0x%llx (%zu znodes, %zu sessions), %zu logged entries "
            "awaiting the ensemble", (unsigned long long)store_last_zxid(s->store),
            store_node_count(s->store), store_session_count(s->store), t.n);
    int rc = start_core(s, &t, &rec);
    free_tail(&t);
    if (rc != 0)
        return -1;
    if (s->cfg.n_members > 0) {
        struct peer_callbacks cbs = {.on_message = on_peer_message, .on_down = on_peer_down,
                                     .on_drained = on_peer_drained, .ctx = s};
        r->peers = peer_net_new(s->base, &s->cfg, &cbs);
        r->catchup = r->peers ? catchup_new(s->storage, r->peers) : NULL;
        if (!r->catchup) {
            ZK_ERROR("cannot start the peer transport");
            return -1;
        }
    }
    return 0;
}

void repl_stop(struct srv *s)
{
    struct repl *r = s->repl;
    if (!r)
        return;
    catchup_free(r->catchup);
    peer_net_free(r->peers);
    stages_free(r->stages);
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
    i64map_free(&r->touched);
    jw_free(&r->activity);
    zk_free(r->msgbuf);
    zk_free(r);
    s->repl = NULL;
}
