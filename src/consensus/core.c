/* zab_step(): event dispatch, the update being built, role transitions and the shared output
 * helpers of the Zab core. */
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "consensus/internal.h"

const char *zab_strerror(int rc)
{
    switch (rc) {
    case ZAB_OK: return "ok";
    case ZAB_ENOLEADER: return "no established leader";
    case ZAB_EBUSY: return "too many outstanding proposals";
    case ZAB_EINVAL: return "invalid argument";
    case ZAB_ENOMEM: return "out of memory";
    case ZAB_ETOOBIG: return "buffer too small";
    case ZAB_EMALFORMED: return "malformed message";
    case ZAB_ENOQUORUM: return "the new configuration has no quorum synced with the leader";
    case ZAB_ERECONFIG: return "another configuration change is in progress";
    default: return "unknown error";
    }
}

void zab_config_default(struct zab_config *cfg, uint32_t my_id, uint32_t n_voters,
                        const uint32_t *voters)
{
    ZK_ASSERT(n_voters >= 1 && n_voters <= ZAB_PEERS_MAX);
    memset(cfg, 0, sizeof(*cfg));
    cfg->my_id = my_id;
    cfg->members.n_voters = n_voters;
    memcpy(cfg->members.voters, voters, n_voters * sizeof(voters[0]));
    cfg->init_limit_ticks = 10;
    cfg->sync_limit_ticks = 5;
    cfg->finalize_ticks = 1;
    cfg->retry_ticks = 2;
    cfg->window = 500;
    cfg->window_bytes = ZAB_WINDOW_BYTES_DEFAULT;
    cfg->max_outstanding = 256;
    cfg->counter_max = ZAB_COUNTER_MAX_DEFAULT;
    cfg->max_payload = ZAB_PAYLOAD_MAX;
}

/* my_id need not be in members: a member started outside the configuration is a non-voting
 * learner (a joiner), as in ZooKeeper. */
static bool config_valid(const struct zab_config *c)
{
    return c->my_id != 0 && zab_members_valid(&c->members) && c->window >= 1 && c->max_outstanding >= 1 && c->retry_ticks >= 1 &&
           c->sync_limit_ticks >= 2 && c->init_limit_ticks >= 2 && c->counter_max >= 2 &&
           c->counter_max <= ZAB_COUNTER_MAX_DEFAULT;
}

static int alloc_buffers(struct zab *z)
{
    size_t ring_cap = (size_t)z->cfg.window + z->cfg.max_outstanding + 16;
    if (ring_init(&z->log, ring_cap) != 0) {
        return ZAB_ENOMEM;
    }
    /* worst step: the ACKEPOCH quorum syncs every peer with the whole window */
    z->cap_msgs = (size_t)ZAB_MEMBERS_MAX * (ring_cap + 8);
    z->cap_entries = ring_cap;
    z->cap_apps = ZAB_MEMBERS_MAX + 2;
    z->msgs = zk_calloc(z->cap_msgs, sizeof(*z->msgs));
    z->persist = zk_calloc(z->cap_entries, sizeof(*z->persist));
    z->commits = zk_calloc(z->cap_entries, sizeof(*z->commits));
    z->apps = zk_calloc(z->cap_apps, sizeof(*z->apps));
    if (!z->msgs || !z->persist || !z->commits || !z->apps) {
        return ZAB_ENOMEM;
    }
    return 0;
}

struct zab *zab_new(const struct zab_config *cfg)
{
    if (!config_valid(cfg)) {
        return NULL;
    }
    struct zab *z = zk_calloc(1, sizeof(*z));
    if (z == NULL) {
        return NULL;
    }
    z->cfg = *cfg;
    if (z->cfg.window_bytes == 0) {
        z->cfg.window_bytes = ZAB_WINDOW_BYTES_DEFAULT;
    }
    if (z->cfg.contest_ticks == 0) {
        uint32_t a = 2 * z->cfg.retry_ticks + 2, b = z->cfg.sync_limit_ticks / 4;
        z->cfg.contest_ticks = a > b ? a : b;
    }
    z->role = ZAB_LOOKING;
    cfg_start(z, 0);
    if (alloc_buffers(z) != 0) {
        zab_free(z);
        return NULL;
    }
    return z;
}

void zab_free(struct zab *z)
{
    if (z == NULL) {
        return;
    }
    ring_free(&z->log);
    zk_free(z->msgs);
    zk_free(z->persist);
    zk_free(z->commits);
    zk_free(z->apps);
    zk_free(z);
}

void zab_sabotage(struct zab *z, enum zab_sabotage what) { z->sabotage = what; }
enum zab_role zab_role(const struct zab *z) { return z->role; }
bool zab_established(const struct zab *z) { return z->established; }
uint64_t zab_committed(const struct zab *z) { return z->committed; }
uint64_t zab_last_logged(const struct zab *z) { return ring_last(&z->log); }
const struct zab_members *zab_members(const struct zab *z) { return &z->act; }
void zab_get_counters(const struct zab *z, struct zab_counters *out) { *out = z->counters; }

int zab_check_config_change(const struct zab *z, const struct zab_members *next)
{
    if (!zab_members_valid(next)) {
        return ZAB_EINVAL;
    }
    if (!z->started || z->role != ZAB_LEADING) {
        return ZAB_ENOLEADER;
    }
    return leader_check_change(z, next);
}

/* ---- Output helpers. ---- */

void out_send(struct zab *z, uint32_t to, const struct zab_msg *m)
{
    ZK_ASSERT(z->n_msgs < z->cap_msgs); /* cap_msgs covers the largest step, see alloc_buffers */
    ZK_ASSERT(to != z->cfg.my_id && to != 0);
    z->msgs[z->n_msgs].to = to;
    z->msgs[z->n_msgs].msg = *m;
    z->n_msgs++;
}

void out_persist(struct zab *z, uint64_t zxid)
{
    ZK_ASSERT(z->n_persist < z->cap_entries);
    const struct ring_entry *e = ring_at(&z->log, z->log.count - 1);
    ZK_ASSERT(e->zxid == zxid); /* entries are persisted right after being appended */
    if (z->n_persist > 0) {
        ZK_ASSERT(z->persist[z->n_persist - 1].zxid < zxid);
    }
    z->persist[z->n_persist].zxid = zxid;
    z->persist[z->n_persist].payload = (struct zab_buf){e->data, e->len};
    z->n_persist++;
}

void out_app(struct zab *z, uint32_t from, uint8_t tag, struct zab_buf data)
{
    if (z->n_apps == z->cap_apps) {
        return; /* bounded: one step receives one message, so this is never reached */
    }
    z->apps[z->n_apps++] = (struct zab_app_in){from, tag, data};
}

void out_accepted_epoch(struct zab *z, uint32_t epoch)
{
    ZK_ASSERT(epoch > z->accepted_epoch); /* epochs only grow */
    z->accepted_epoch = epoch;
    z->up->flags |= ZAB_UPD_ACCEPTED_EPOCH;
    z->up->accepted_epoch = epoch;
}

void out_current_epoch(struct zab *z, uint32_t epoch)
{
    ZK_ASSERT(epoch > z->current_epoch);
    ZK_ASSERT(epoch <= z->accepted_epoch); /* currentEpoch never passes acceptedEpoch */
    z->current_epoch = epoch;
    z->up->flags |= ZAB_UPD_CURRENT_EPOCH;
    z->up->current_epoch = epoch;
}

void set_established(struct zab *z, bool on)
{
    if (z->established == on) {
        return;
    }
    z->established = on;
    z->up->flags |= on ? ZAB_UPD_ESTABLISHED : ZAB_UPD_LOST;
}

void set_role(struct zab *z, enum zab_role role, uint32_t epoch, uint32_t leader)
{
    set_established(z, false);
    if (z->role != role || z->epoch != epoch || z->leader != leader) {
        z->up->flags |= ZAB_UPD_ROLE;
    }
    z->role = role;
    z->epoch = epoch;
    z->leader = leader;
}

int log_append(struct zab *z, uint64_t zxid, struct zab_buf payload)
{
    struct zab_members m;
    bool config = payload_config(z, payload, &m);
    int rc = ring_append(&z->log, zxid, payload, config);
    if (rc == 0) {
        out_persist(z, zxid);
        if (config) {
            cfg_on_append(z, zxid, &m);
        }
    }
    return rc;
}

/* Hands every committed, locally durable entry to the caller, in zxid order. Applying only
 * durable entries keeps applied <= durable, so a restart never finds state ahead of its log. */
static void emit_commits(struct zab *z)
{
    uint64_t limit = z->committed < z->durable ? z->committed : z->durable;
    if (limit <= z->applied) {
        return;
    }
    size_t i = ring_after(&z->log, z->applied);
    ZK_ASSERT(i == 0 || ring_at(&z->log, i - 1)->zxid == z->applied);
    for (; i < z->log.count && ring_at(&z->log, i)->zxid <= limit; i++) {
        const struct ring_entry *e = ring_at(&z->log, i);
        ZK_ASSERT(e->zxid > z->applied);
        ZK_ASSERT(z->n_commits < z->cap_entries);
        z->commits[z->n_commits].zxid = e->zxid;
        z->commits[z->n_commits].payload = (struct zab_buf){e->data, e->len};
        z->n_commits++;
        z->applied = e->zxid;
        struct zab_members m;
        if (e->config && payload_config(z, (struct zab_buf){e->data, e->len}, &m)) {
            z->act = m; /* reported once: in the update that applies it */
            z->act_zxid = e->zxid;
            z->up->flags |= ZAB_UPD_CONFIG;
            z->up->config = m;
            z->up->config_zxid = e->zxid;
        }
    }
}

/* ---- START. ---- */

static int start_validate(const struct zab *z, const struct zab_event *ev)
{
    const __typeof__(ev->start) *s = &ev->start;
    /* the log holds no epoch that was not accepted first (the leader relies on it) */
    if (s->current_epoch > s->accepted_epoch || s->last_applied > s->last_logged ||
        zab_epoch_of(s->last_logged) > s->accepted_epoch || s->n_entries > z->log.cap) {
        return ZAB_EINVAL;
    }
    uint64_t prev = s->last_applied;
    for (size_t i = 0; i < s->n_entries; i++) {
        if (s->entries[i].zxid <= prev || zab_counter_of(s->entries[i].zxid) == 0 ||
            s->entries[i].payload.len > z->cfg.max_payload) {
            return ZAB_EINVAL;
        }
        prev = s->entries[i].zxid;
    }
    return prev == s->last_logged ? 0 : ZAB_EINVAL;
}

static int on_start(struct zab *z, const struct zab_event *ev)
{
    if (z->started || start_validate(z, ev) != 0) {
        return ZAB_EINVAL;
    }
    ring_reset(&z->log, ev->start.last_applied);
    cfg_start(z, ev->start.last_applied);
    for (size_t i = 0; i < ev->start.n_entries; i++) {
        const struct zab_entry *en = &ev->start.entries[i];
        struct zab_members m;
        bool config = payload_config(z, en->payload, &m);
        int rc = ring_append(&z->log, en->zxid, en->payload, config);
        if (rc != 0) {
            ring_reset(&z->log, 0);
            cfg_start(z, 0);
            z->cfg_changed = false;
            return rc;
        }
        if (config) {
            cfg_on_append(z, en->zxid, &m); /* pending, or committed by a later one */
        }
    }
    z->cfg_changed = false; /* nothing to act on: we start looking */
    z->accepted_epoch = ev->start.accepted_epoch;
    z->current_epoch = ev->start.current_epoch;
    z->applied = z->committed = ev->start.last_applied;
    z->durable = ev->start.last_logged; /* read back from disk: durable by definition */
    z->incarnation = ev->start.incarnation;
    z->started = true;
    election_start(z);
    return 0;
}

/* ---- Dispatch. ---- */

static void on_persisted(struct zab *z, uint64_t zxid)
{
    uint64_t last = ring_last(&z->log);
    uint64_t d = zxid < last ? zxid : last; /* a report may race a truncation: clamp */
    if (d > z->durable) {
        z->durable = d;
    }
    if (z->role == ZAB_LEADING) {
        leader_persisted(z);
    }
}

/* ---- RECEIVE: the range check every message passes before it may change anything. ---- */

/* Which fields each message type uses (see zab_msg.h); a field a type does not use must be 0. */
struct msg_shape {
    uint8_t flags;     /* flag bits the type may carry */
    bool zxid, zxid2;  /* zxid / zxid2 are used */
    bool epoch2, tag;  /* epoch2 / tag are used */
    uint32_t data_max; /* largest data the type may carry (0: none) */
};

#define DATA_IS_PAYLOAD 0xfffffffeu /* data_max: the configured max_payload */

static const struct msg_shape shapes[ZAB_MSG_TYPE_MAX + 1] = {
    [ZAB_MSG_VOTE] = {0, true, false, false, false, VOTE_CFG_MAX}, /* the sender's config */
    [ZAB_MSG_FOLLOWERINFO] = {0, false, false, false, false, 0},
    [ZAB_MSG_LEADERINFO] = {0, false, false, false, false, 0},
    [ZAB_MSG_ACKEPOCH] = {ZAB_MSG_F_ALREADY, true, false, true, false, 0},
    [ZAB_MSG_DIFF] = {0, true, true, false, false, 0},
    [ZAB_MSG_TRUNC] = {0, true, true, false, false, 0},
    [ZAB_MSG_SNAP] = {0, true, true, false, false, UINT32_MAX}, /* the state: the caller's frame
                                                                  * limit bounds it */
    [ZAB_MSG_PROPOSAL] = {0, true, true, false, false, DATA_IS_PAYLOAD},
    [ZAB_MSG_NEWLEADER] = {0, true, true, false, false, CFG_WIRE_MAX}, /* zxid2: config zxid */
    [ZAB_MSG_ACKNL] = {0, true, false, false, false, 0},
    [ZAB_MSG_UPTODATE] = {0, true, false, false, false, 0},
    [ZAB_MSG_ACK] = {0, true, false, false, false, 0},
    [ZAB_MSG_COMMIT] = {0, true, false, false, false, 0},
    [ZAB_MSG_PING] = {ZAB_MSG_F_SYNCED | ZAB_MSG_F_ESTABLISHED | ZAB_MSG_F_LEAVING, true, true,
                      false, false, ZAB_APP_DATA_MAX},
    [ZAB_MSG_REQUEST] = {0, false, false, false, false, DATA_IS_PAYLOAD},
    [ZAB_MSG_APP] = {0, false, false, false, true, ZAB_APP_DATA_MAX},
};

/* A zxid a message may carry: counter 0xffffffff is never used, and no epoch passes `epoch_max`
 * (the message's own epoch: a member's log never holds entries of an epoch it has not accepted). */
static bool zxid_ok(uint64_t zxid, uint32_t epoch_max)
{
    return zab_epoch_of(zxid) <= epoch_max && zab_counter_of(zxid) <= ZAB_COUNTER_MAX_DEFAULT;
}

/* A vote names a leader (a voter of ours: election.c checks it where the vote counts), or no one
 * (leader 0: a looking member that is no candidate, such as an observer, asks the established
 * ones for their leader). */
static bool vote_ok(const struct zab_msg *m)
{
    bool leader_ok = m->leader != 0 || (m->state == ZAB_LOOKING && m->zxid == 0 && m->epoch == 0);
    if (m->data.len > 0) { /* the sender's configuration (older members send none) */
        struct vote_cfg c;
        if (!vote_cfg_decode(m->data, &c) || !zxid_ok(c.cur_zxid, ZAB_EPOCH_MAX) ||
            (c.has_pend && !zxid_ok(c.pend_zxid, ZAB_EPOCH_MAX))) {
            return false;
        }
    }
    return m->state <= ZAB_LEADING && leader_ok && m->nonce <= ZAB_ROUND_MAX &&
           zxid_ok(m->zxid, ZAB_EPOCH_MAX);
}

/* Stateless range check of a received message: every field within what a correct member can
 * send. What depends on our state is checked where the message is used. */
static bool msg_check(const struct zab *z, uint32_t from, const struct zab_msg *m)
{
    /* any id may send: joiners and observers are outside the voters, and who may send what
     * depends on our state (a leader's sessions, a follower's leader, votes: election.c) */
    if (from == 0 || from == z->cfg.my_id || m->type < ZAB_MSG_VOTE ||
        m->type > ZAB_MSG_TYPE_MAX || m->epoch > ZAB_EPOCH_MAX) {
        return false;
    }
    const struct msg_shape *sh = &shapes[m->type];
    if ((m->flags & ~sh->flags) != 0 || (!sh->zxid && m->zxid != 0) ||
        (!sh->zxid2 && m->zxid2 != 0) || (!sh->epoch2 && m->epoch2 != 0) ||
        (!sh->tag && m->tag != 0) ||
        m->data.len > (sh->data_max == DATA_IS_PAYLOAD ? z->cfg.max_payload : sh->data_max) ||
        (m->data.len > 0 && m->data.data == NULL)) {
        return false;
    }
    if (m->type == ZAB_MSG_VOTE) {
        return vote_ok(m);
    }
    /* every other message belongs to a leader's epoch (>= 1); FOLLOWERINFO names an accepted
     * epoch, which may still be 0 */
    if (m->state != 0 || m->leader != 0 || (m->epoch == 0 && m->type != ZAB_MSG_FOLLOWERINFO)) {
        return false;
    }
    if (!zxid_ok(m->zxid, m->epoch) || !zxid_ok(m->zxid2, m->epoch) || m->epoch2 > m->epoch) {
        return false;
    }
    return m->type != ZAB_MSG_PROPOSAL ||
           (zab_counter_of(m->zxid) != 0 && m->zxid2 < m->zxid); /* (e,0) is never a txn */
}

static int on_receive(struct zab *z, uint32_t from, const struct zab_msg *m)
{
    if (!msg_check(z, from, m)) {
        return ZAB_EINVAL;
    }
    if (m->type == ZAB_MSG_VOTE) {
        return election_recv(z, from, m);
    }
    if (z->role == ZAB_LEADING) {
        return leader_recv(z, from, m);
    }
    if (is_learner(z)) {
        return follower_recv(z, from, m);
    }
    return ZAB_EINVAL; /* looking: only votes matter */
}

static void on_tick(struct zab *z, struct zab_buf activity)
{
    z->now++;
    switch (z->role) {
    case ZAB_LOOKING: election_tick(z); break;
    case ZAB_FOLLOWING:
    case ZAB_OBSERVING: follower_tick(z, activity); break;
    case ZAB_LEADING: leader_tick(z); break;
    }
}

static int on_submit(struct zab *z, struct zab_buf payload)
{
    if (payload.len > z->cfg.max_payload) {
        return ZAB_EINVAL;
    }
    if (z->role == ZAB_LEADING) {
        return leader_propose(z, payload);
    }
    if (is_learner(z)) {
        struct zab_members m;
        if (z->cfg.config_of != NULL && z->cfg.config_of(z->cfg.config_ctx, payload, &m) == 1 &&
            !zab_members_valid(&m)) {
            return ZAB_EINVAL; /* the leader would refuse it */
        }
        return follower_submit(z, payload);
    }
    return ZAB_ENOLEADER;
}

static int on_app(struct zab *z, const struct zab_event *ev)
{
    if (z->role == ZAB_LEADING) {
        return leader_app(z, ev->app.to, ev->app.tag, ev->app.data);
    }
    if (is_learner(z)) {
        return follower_app(z, ev->app.tag, ev->app.data);
    }
    return ZAB_ENOLEADER;
}

static int dispatch(struct zab *z, const struct zab_event *ev)
{
    if (ev->type == ZAB_START) {
        return on_start(z, ev);
    }
    if (!z->started) {
        return ZAB_EINVAL;
    }
    switch (ev->type) {
    case ZAB_RECEIVE: return on_receive(z, ev->receive.from, ev->receive.msg);
    case ZAB_TICK: on_tick(z, ev->tick.session_activity); return 0;
    case ZAB_SUBMIT: return on_submit(z, ev->submit.payload);
    case ZAB_PERSISTED: on_persisted(z, ev->persisted.zxid); return 0;
    case ZAB_PEER_UP: return 0; /* hint only */
    case ZAB_PEER_DOWN:
        /* A killed leader's connection closes at once: elect now rather than wait syncLimit
         * (liveness only; a paused leader is still caught by the timeout). */
        if (is_learner(z) && ev->peer.id == z->leader) {
            election_start(z);
        } else if (z->role == ZAB_LEADING) {
            leader_peer_down(z, ev->peer.id); /* its session is over: no contest for it */
        }
        return 0;
    case ZAB_APP: return on_app(z, ev);
    case ZAB_SYNC_PROGRESS:
        /* A large snapshot takes longer than the retry interval to arrive: without this the
         * follower would restart the sync it is in the middle of. */
        if (is_learner(z) && ev->peer.id == z->leader && z->f.phase <= F_SYNC) {
            z->f.progress = z->now;
            z->f.last_heard = z->now;
        }
        return 0;
    default: return ZAB_EINVAL;
    }
}

static void check_invariants(const struct zab *z)
{
    uint64_t last = ring_last(&z->log);
    ZK_ASSERT(z->current_epoch <= z->accepted_epoch);
    ZK_ASSERT(z->applied <= z->durable);
    ZK_ASSERT(z->durable <= last);
    ZK_ASSERT(z->applied <= z->committed);
    ZK_ASSERT(z->log.base <= z->applied); /* every unapplied entry is in the window */
    if (z->established) {
        ZK_ASSERT(z->role != ZAB_LOOKING);
        ZK_ASSERT(z->epoch == z->current_epoch);
    }
    if (z->role == ZAB_LEADING && z->established) {
        ZK_ASSERT(z->committed <= last);
    }
}

/* A refused message must leave nothing to do (callers may execute the update all the same). */
static bool update_empty(const struct zab *z, const struct zab_update *up)
{
    return up->flags == 0 && z->n_msgs == 0 && z->n_persist == 0 && z->n_commits == 0 &&
           z->n_apps == 0;
}

static void finish_update(struct zab *z, struct zab_update *up)
{
    up->entries = z->persist;
    up->n_entries = z->n_persist;
    up->commits = z->commits;
    up->n_commits = z->n_commits;
    up->msgs = z->msgs;
    up->n_msgs = z->n_msgs;
    up->apps = z->apps;
    up->n_apps = z->n_apps;
    up->role = z->role;
    up->epoch = z->role == ZAB_LOOKING ? z->current_epoch : z->epoch;
    up->leader = z->leader;
    if (z->snap_zxid != 0) {
        ZK_ASSERT(z->applied == z->snap_zxid); /* the caller attaches its state after commits */
    }
}

int zab_step(struct zab *z, const struct zab_event *ev, struct zab_update *up)
{
    ZK_ASSERT(!z->in_step); /* not re-entrant */
    z->in_step = true;
    memset(up, 0, sizeof(*up));
    z->up = up;
    z->n_msgs = z->n_persist = z->n_commits = z->n_apps = 0;
    z->n_vote_wire = 0;
    z->snap_zxid = 0;
    /* evict before anything refers to entries: pointers handed out last step are now dead */
    ring_evict(&z->log, z->applied, z->cfg.window, z->cfg.window_bytes);
    int rc = dispatch(z, ev);
    if (z->started) {
        if (is_learner(z)) {
            follower_flush(z);
        }
        cfg_settle(z); /* a committed change takes effect (after the COMMITs and ACKs above) */
        emit_commits(z);
        check_invariants(z);
    }
    if ((ev->type == ZAB_RECEIVE && rc == ZAB_EINVAL) ||
        (ev->type == ZAB_SUBMIT && rc != ZAB_OK)) {
        ZK_ASSERT(update_empty(z, up));
    }
    finish_update(z, up);
    z->up = NULL;
    z->in_step = false;
    return rc;
}
