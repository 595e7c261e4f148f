/* The leader side of Zab: discovery (new epoch above every acceptedEpoch), per-follower
 * synchronisation (DIFF/TRUNC/SNAP + NEWLEADER), establishment on a NEWLEADER-ACK quorum, and
 * broadcast (zxid assignment, PROPOSAL, quorum commit, PING, quorum loss). Peers are voters,
 * observers and non-voting learners, each in a slot; only voters of the configurations in force
 * (members.c) count for a quorum. */
#include <string.h>

#include "common/assert.h"
#include "consensus/internal.h"

static void send_peer(struct zab *z, uint32_t idx, struct zab_msg *m)
{
    ZK_ASSERT(idx < ZAB_MEMBERS_MAX && z->l.peers[idx].id != 0);
    m->epoch = z->epoch;
    m->nonce = z->l.peers[idx].nonce;
    out_send(z, z->l.peers[idx].id, m);
}

static int slot_of(const struct zab *z, uint32_t id);

#define FOR_PEERS(i) for (uint32_t i = 0; i < ZAB_MEMBERS_MAX; i++) if (z->l.peers[i].id != 0)

int leader_slot(const struct zab *z, uint32_t id) { return slot_of(z, id); }

static int slot_of(const struct zab *z, uint32_t id)
{
    for (uint32_t i = 0; i < ZAB_MEMBERS_MAX; i++) {
        if (z->l.peers[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

/* A member of our configurations (voter or observer, of cur or of pend). */
static bool listed(const struct zab *z, uint32_t id)
{
    return mem_has(&z->cur, id) || (z->has_pend && mem_has(&z->pend, id));
}

/* A slot for a new peer: a free one, or one of a learner outside every configuration that has
 * been silent for initLimit (so forged ids cannot hold them for good). -1: none. */
static int slot_alloc(struct zab *z, uint32_t id)
{
    int victim = -1;
    for (uint32_t i = 0; i < ZAB_MEMBERS_MAX; i++) {
        const struct lpeer *p = &z->l.peers[i];
        if (p->id == 0) {
            victim = (int)i;
            break;
        }
        if (victim < 0 && !listed(z, p->id) && z->now - p->last_heard > z->cfg.init_limit_ticks) {
            victim = (int)i;
        }
    }
    if (victim >= 0) {
        memset(&z->l.peers[victim], 0, sizeof(z->l.peers[victim]));
        z->l.peers[victim].id = id;
        z->l.peers[victim].last_heard = z->now;
    }
    return victim;
}

/* The peers at or past phase whose vote counts, and me (if I count). */
static void voters_at_least(const struct zab *z, enum lphase phase, struct idset *s)
{
    memset(s, 0, sizeof(*s));
    if (counted(z, z->cfg.my_id)) {
        idset_add(s, z->cfg.my_id);
    }
    FOR_PEERS(i) {
        if (z->l.peers[i].phase >= phase && counted(z, z->l.peers[i].id)) {
            idset_add(s, z->l.peers[i].id);
        }
    }
}

void leader_start(struct zab *z)
{
    set_role(z, ZAB_LEADING, 0, z->cfg.my_id);
    memset(&z->l, 0, sizeof(z->l));
    z->l.hist_epoch = z->current_epoch;
    z->l.hist_zxid = ring_last(&z->log);
    z->l.since = z->now;
    z->el.proposal = (struct zab_vote){z->cfg.my_id, ring_last(&z->log), z->current_epoch};
    /* slots for every member of the configurations, in their order (learners come later) */
    const struct zab_members *cfgs[2] = {&z->cur, z->has_pend ? &z->pend : NULL};
    for (int c = 0; c < 2 && cfgs[c] != NULL; c++) {
        const struct zab_members *m = cfgs[c];
        for (uint32_t i = 0; i < m->n_voters + m->n_observers; i++) {
            uint32_t id = i < m->n_voters ? m->voters[i] : m->observers[i - m->n_voters];
            if (id != z->cfg.my_id && slot_of(z, id) < 0) {
                (void)slot_alloc(z, id); /* may find none: more members than slots */
            }
        }
    }
    leader_persisted(z); /* a single voter is its own quorum at every stage */
}

/* Discovery: once a quorum (me included) sent FOLLOWERINFO, propose an epoch above all of theirs.
 * Returns false if we stepped down instead. */
static bool maybe_choose_epoch(struct zab *z)
{
    struct idset s;
    voters_at_least(z, LP_INFO, &s);
    if (z->l.epoch_chosen || !has_quorum(z, &s)) {
        return true;
    }
    uint32_t e = z->accepted_epoch;
    FOR_PEERS(i) {
        const struct lpeer *p = &z->l.peers[i];
        if (p->phase >= LP_INFO && listed(z, p->id) && p->accepted_epoch > e) {
            /* a member of our configurations, observers included: an observer that was a voter
             * may hold a currentEpoch above ours and could never sync below it; a learner
             * outside them binds no one */
            e = p->accepted_epoch;
        }
    }
    if (e >= ZAB_EPOCH_MAX) {
        /* the epoch space is used up (only an operator resetting the epoch files can help):
         * never lead with an epoch out of range; stay looking, which the update reports */
        election_start(z);
        return false;
    }
    out_accepted_epoch(z, e + 1);
    set_role(z, ZAB_LEADING, e + 1, z->cfg.my_id);
    z->l.epoch_chosen = true;
    FOR_PEERS(i) {
        if (z->l.peers[i].phase == LP_INFO) {
            struct zab_msg m = {.type = ZAB_MSG_LEADERINFO};
            send_peer(z, i, &m);
        }
    }
    return true;
}

static void stream_entries(struct zab *z, uint32_t idx, uint64_t start, uint64_t first_prev)
{
    uint64_t prev = first_prev;
    for (size_t i = ring_after(&z->log, start); i < z->log.count; i++) {
        const struct ring_entry *e = ring_at(&z->log, i);
        struct zab_msg m = {.type = ZAB_MSG_PROPOSAL, .zxid = e->zxid, .zxid2 = prev,
                            .data = {e->data, e->len}};
        send_peer(z, idx, &m);
        prev = e->zxid;
    }
}

/* Synchronisation of one follower: make its log end exactly at ours, then NEWLEADER. */
static void sync_peer(struct zab *z, uint32_t idx)
{
    struct lpeer *p = &z->l.peers[idx];
    uint64_t last = ring_last(&z->log), start, t;
    /* zxid2 = what we know committed: the follower may apply that part of the stream at once,
     * which keeps its window from filling with entries it cannot yet release */
    struct zab_msg head = {.zxid = p->last_zxid, .zxid2 = z->committed};
    uint64_t first_prev;
    if (p->last_zxid <= last && ring_contains(&z->log, p->last_zxid)) {
        head.type = ZAB_MSG_DIFF; /* its log is a prefix of ours */
        start = first_prev = p->last_zxid;
    } else if (ring_floor(&z->log, p->last_zxid, &t)) {
        /* it has entries we don't: cut back to the last zxid we share, then DIFF */
        head.type = ZAB_MSG_TRUNC;
        head.zxid = start = first_prev = t;
        if (z->sabotage == ZAB_SABOTAGE_SKIP_TRUNC) {
            head.type = ZAB_MSG_DIFF;
            head.zxid = first_prev = p->last_zxid;
        }
    } else {
        head.type = ZAB_MSG_SNAP; /* behind our window: the caller ships its state */
        head.zxid = start = first_prev = z->applied;
        z->snap_zxid = z->applied;
    }
    send_peer(z, idx, &head);
    stream_entries(z, idx, start, first_prev);
    /* with our configuration, which the learner takes over (docs/consensus.md) */
    size_t n = cfg_wire_encode(z, z->nl_wire);
    struct zab_msg nl = {.type = ZAB_MSG_NEWLEADER, .zxid = last, .zxid2 = z->cur_zxid,
                         .data = {z->nl_wire, n}};
    if (nl.zxid2 > last) {
        nl.zxid2 = last; /* a point of our log at which cur is in force */
    }
    send_peer(z, idx, &nl);
    p->nl_zxid = last;
    p->phase = LP_SYNCING; /* from now on it also gets every new PROPOSAL and COMMIT */
    p->synced_tick = z->now + 1;
}

/* A sync stream is up to the whole window: a peer gets at most one per retry_ticks, so a sender
 * repeating FOLLOWERINFO + ACKEPOCH (it picks the nonce itself) cannot multiply our output. The
 * rest wait in LP_ACKEPOCH for leader_tick. */
static bool may_sync(const struct zab *z, const struct lpeer *p)
{
    return p->synced_tick == 0 || z->now + 1 - p->synced_tick >= z->cfg.retry_ticks;
}

static void check_established(struct zab *z)
{
    if (!z->l.synced_started || z->established) {
        return;
    }
    if (z->current_epoch < z->epoch && z->durable >= z->l.nl_zxid) {
        out_current_epoch(z, z->epoch); /* like a follower: only over a durable history */
    }
    bool self = z->current_epoch == z->epoch && z->durable >= z->l.nl_zxid;
    struct idset s;
    voters_at_least(z, LP_SYNCED, &s);
    if (!self || !has_quorum(z, &s)) {
        /* the leader counts itself only over a durable history under its new currentEpoch; a
         * config entry in our history needs a quorum of its voters too (waitForNewLeaderAck) */
        return;
    }
    ZK_ASSERT(ring_last(&z->log) == z->l.nl_zxid); /* nothing proposed before establishment */
    /* Zab: the new leader's whole history is committed once a quorum acked NEWLEADER */
    if (z->l.nl_zxid > z->committed) {
        z->committed = z->l.nl_zxid;
    }
    set_established(z, true);
    FOR_PEERS(i) {
        if (z->l.peers[i].phase == LP_SYNCED) {
            struct zab_msg m = {.type = ZAB_MSG_UPTODATE, .zxid = z->committed};
            send_peer(z, i, &m);
        }
    }
}

/* After an ACKEPOCH quorum: persist currentEpoch and sync everyone who acked. */
static void maybe_start_sync(struct zab *z)
{
    if (!z->l.epoch_chosen || z->l.synced_started) {
        return;
    }
    struct idset s = {0};
    if (counted(z, z->cfg.my_id)) {
        idset_add(&s, z->cfg.my_id);
    }
    FOR_PEERS(i) {
        if (z->l.peers[i].epoch_acked && counted(z, z->l.peers[i].id)) {
            idset_add(&s, z->l.peers[i].id);
        }
    }
    if (!has_quorum(z, &s)) {
        return;
    }
    z->l.synced_started = true;
    z->l.nl_zxid = ring_last(&z->log);
    FOR_PEERS(i) {
        if (z->l.peers[i].phase == LP_ACKEPOCH) {
            sync_peer(z, i);
        }
    }
    check_established(z);
}

/* Largest zxid a quorum of m's voters acknowledged (cumulative acks). */
static uint64_t quorum_acked(const struct zab *z, const struct zab_members *m)
{
    uint64_t vals[ZAB_PEERS_MAX];
    for (uint32_t v = 0; v < m->n_voters; v++) {
        uint32_t id = m->voters[v];
        int i = slot_of(z, id);
        vals[v] = id == z->cfg.my_id ? z->durable /* the leader's own ACK: after its fsync */
                  : i >= 0 && z->l.peers[i].phase == LP_SYNCED ? z->l.peers[i].acked
                                                               : 0;
    }
    return zab_quorum_commit(vals, m->n_voters, zab_quorum_size(m->n_voters));
}

/* From a pending config entry C on, an entry commits only with a quorum of the old voters and a
 * quorum of C's; the entries before C need the old ones only. */
static uint64_t commit_point(const struct zab *z)
{
    uint64_t c = quorum_acked(z, &z->cur);
    if (!z->has_pend) {
        return c;
    }
    uint64_t cn = quorum_acked(z, &z->pend);
    if (z->sabotage == ZAB_SABOTAGE_NEW_QUORUM_ONLY && cn >= z->pend_zxid) {
        return cn; /* planted bug: the new voters alone commit the change */
    }
    if (c < z->pend_zxid) {
        return c;
    }
    if (cn >= z->pend_zxid) {
        return c < cn ? c : cn;
    }
    size_t i = ring_after(&z->log, z->pend_zxid - 1); /* pend is above committed: in the ring */
    return i == 0 ? z->log.base : ring_at(&z->log, i - 1)->zxid;
}

static void recompute_commit(struct zab *z)
{
    if (!z->established) {
        return;
    }
    uint64_t c = commit_point(z);
    if (z->sabotage == ZAB_SABOTAGE_MINORITY_COMMIT) {
        c = ring_last(&z->log);
    }
    if (c <= z->committed) {
        return;
    }
    ZK_ASSERT(c <= ring_last(&z->log));
    z->committed = c;
    FOR_PEERS(i) {
        if (z->l.peers[i].phase >= LP_SYNCING) {
            struct zab_msg m = {.type = ZAB_MSG_COMMIT, .zxid = c};
            send_peer(z, i, &m);
        }
    }
}

void leader_persisted(struct zab *z)
{
    ZK_ASSERT(z->role == ZAB_LEADING);
    if (!maybe_choose_epoch(z)) {
        return;
    }
    maybe_start_sync(z);
    check_established(z);
    recompute_commit(z);
}

/* A member promised a newer epoch to a leader that never got established: it can never join us,
 * so give way to an election whose epoch will be above its promise (zab-sim 11791). Established,
 * we give way only once the member has kept repeating the promise (it retries every
 * 2 * retry_ticks) for syncLimit ticks: a single forged FOLLOWERINFO, or a few far apart, must
 * not take down an ensemble that has a quorum. */
static void newer_promise(struct zab *z, struct lpeer *p)
{
    if (p->promise_since == 0 || z->now + 1 - p->promise_last > z->cfg.init_limit_ticks) {
        p->promise_since = z->now + 1; /* ticks + 1: 0 means none */
    }
    p->promise_last = z->now + 1;
    if (!z->established || p->promise_last - p->promise_since >= z->cfg.sync_limit_ticks) {
        election_start(z);
    }
}

/* A new session for the peer in slot idx: stop forwarding until it is synced again. */
static void new_session(struct zab *z, uint32_t idx, uint64_t nonce, uint32_t epoch)
{
    struct lpeer *p = &z->l.peers[idx];
    struct lpeer kept = *p;
    memset(p, 0, sizeof(*p));
    p->id = kept.id;
    p->epoch_acked = kept.epoch_acked;
    p->promise_since = kept.promise_since;
    p->promise_last = kept.promise_last;
    p->synced_tick = kept.synced_tick;
    /* its old session may still be ours (a silent one is no proof of a restart: the member may
     * be cut off for a while): count it alive while it has the time to come back, so one
     * message cannot cost us the quorum */
    p->grace_until = kept.phase == LP_SYNCED
                         ? z->now + z->cfg.sync_limit_ticks + z->cfg.init_limit_ticks
                         : kept.grace_until;
    p->phase = LP_INFO;
    p->nonce = nonce;
    p->accepted_epoch = epoch;
    p->last_heard = z->now;
    if (z->l.epoch_chosen && epoch > z->epoch && listed(z, p->id)) {
        newer_promise(z, p);
        return;
    }
    p->promise_since = 0;
    if (z->l.epoch_chosen) {
        struct zab_msg li = {.type = ZAB_MSG_LEADERINFO};
        send_peer(z, idx, &li);
    } else {
        (void)maybe_choose_epoch(z); /* a step-down is in the update */
    }
}

/* Is the peer's session one a FOLLOWERINFO in its name must contest rather than replace? One
 * being synced or synced, heard within contest_ticks, that its member did not leave itself. */
static bool session_live(const struct zab *z, const struct lpeer *p)
{
    return p->phase >= LP_SYNCING && !p->released &&
           z->now - p->last_heard < z->cfg.contest_ticks;
}

static int on_followerinfo(struct zab *z, uint32_t from, const struct zab_msg *m)
{
    int slot = slot_of(z, from);
    if (slot < 0) {
        slot = slot_alloc(z, from); /* a joiner, an observer, or a voter's first session */
        if (slot < 0) {
            return ZAB_EINVAL; /* every slot is taken: bounded */
        }
    }
    uint32_t idx = (uint32_t)slot;
    struct lpeer *p = &z->l.peers[idx];
    if (session_live(z, p)) {
        /* Anyone reaching our peer port can send this in the member's name (issue 10): keep
         * serving the live session, and let the tick decide (leader_tick: contest_ticks of
         * silence concede it). A message of the live session settles it as forged. */
        if (m->nonce == p->nonce ||
            (p->contested && m->nonce == p->contest_nonce && m->epoch == p->contest_epoch)) {
            return ZAB_EINVAL; /* a duplicate: of the live session's, or of the contender */
        }
        if (!p->contested) {
            z->counters.sessions_contested++;
        }
        p->contested = true;
        p->contest_nonce = m->nonce; /* a real member retries with a new one: the latest wins */
        p->contest_epoch = m->epoch;
        return ZAB_OK;
    }
    new_session(z, idx, m->nonce, m->epoch);
    return ZAB_OK;
}

/* The link to a peer went down: its session is over (a restarted member comes back with a new
 * one, which need not wait). A link that comes back with the session alive clears it again. */
void leader_peer_down(struct zab *z, uint32_t id)
{
    int slot = slot_of(z, id);
    if (slot >= 0 && z->l.peers[slot].phase != LP_NONE &&
        z->l.peers[slot].released == REL_NONE) {
        z->l.peers[slot].released = REL_LINK_DOWN;
    }
}

/* Contests whose live session stayed silent for contest_ticks (or was released) are conceded:
 * the member really left it (a restart, a resync whose release was lost). False if we stepped
 * down (a conceded FOLLOWERINFO may carry a newer promise). */
static bool settle_contests(struct zab *z)
{
    FOR_PEERS(i) {
        struct lpeer *p = &z->l.peers[i];
        if (p->contested && !session_live(z, p)) {
            z->counters.contests_conceded++;
            new_session(z, i, p->contest_nonce, p->contest_epoch);
            if (z->role != ZAB_LEADING) {
                return false;
            }
        }
    }
    return true;
}

static void on_ackepoch(struct zab *z, uint32_t idx, const struct zab_msg *m)
{
    struct lpeer *p = &z->l.peers[idx];
    p->cur_epoch = m->epoch2;
    p->last_zxid = m->zxid;
    bool voter = counted(z, p->id); /* a non-voter's history is truncated to ours, as any */
    if (voter && !z->l.synced_started &&
        zab_history_newer(m->epoch2, m->zxid, z->l.hist_epoch, z->l.hist_zxid)) {
        election_start(z); /* a follower is more recent: a leader must hold the most
                              * recent history of its quorum, so we must not lead */
        return;
    }
    if (!(m->flags & ZAB_MSG_F_ALREADY) && voter) {
        p->epoch_acked = true;
    }
    p->phase = LP_ACKEPOCH;
    if (!z->l.synced_started) {
        maybe_start_sync(z);
    } else if (may_sync(z, p)) {
        sync_peer(z, idx);
    }
}

static void on_acknl(struct zab *z, uint32_t idx)
{
    struct lpeer *p = &z->l.peers[idx];
    ZK_ASSERT(p->phase == LP_SYNCING); /* fits_session */
    p->phase = LP_SYNCED;
    p->acked = p->nl_zxid;
    if (z->established) {
        struct zab_msg m = {.type = ZAB_MSG_UPTODATE, .zxid = z->committed};
        send_peer(z, idx, &m);
    }
    check_established(z);
    recompute_commit(z);
}

static void on_ack(struct zab *z, uint32_t idx, uint64_t zxid)
{
    struct lpeer *p = &z->l.peers[idx];
    if (p->phase == LP_SYNCING) {
        on_acknl(z, idx); /* its ACKNL was lost; a later ack implies it */
        return;
    }
    if (zxid > p->acked) { /* zxid <= our last zxid: fits_session */
        p->acked = zxid;
        recompute_commit(z);
    }
}

static void on_ping(struct zab *z, uint32_t from, uint32_t idx, const struct zab_msg *m)
{
    if (m->flags & ZAB_MSG_F_SYNCED) {
        on_ack(z, idx, m->zxid);
    }
    if (m->data.len > 0) {
        out_app(z, from, ZAB_APP_TAG_PING, m->data); /* session activity for the server */
    }
}

/* An acknowledgement of zxid fits a peer that is being synced (then it covers its NEWLEADER) or
 * is synced, and never names more than we have. */
static bool ack_fits(const struct zab *z, const struct lpeer *p, uint64_t zxid)
{
    if (zxid > ring_last(&z->log)) {
        return false;
    }
    return p->phase == LP_SYNCED || (p->phase == LP_SYNCING && zxid >= p->nl_zxid);
}

/* Does m fit the peer's session state? Checked before anything changes. */
static bool fits_session(const struct zab *z, const struct lpeer *p, const struct zab_msg *m)
{
    switch (m->type) {
    case ZAB_MSG_ACKEPOCH: return p->phase == LP_INFO && z->l.epoch_chosen;
    case ZAB_MSG_ACKNL:
    case ZAB_MSG_ACK: return ack_fits(z, p, m->zxid);
    case ZAB_MSG_PING:
        /* a follower's ping: no leader flags, and an ack only with SYNCED; LEAVING alone (the
         * follower leaves the session), from a session not already left */
        if ((m->flags & ZAB_MSG_F_ESTABLISHED) || m->zxid2 != 0) {
            return false;
        }
        if (m->flags & ZAB_MSG_F_LEAVING) {
            return m->flags == ZAB_MSG_F_LEAVING && m->zxid == 0 && m->data.len == 0 &&
                   p->released != REL_LEFT;
        }
        return (m->flags & ZAB_MSG_F_SYNCED) ? ack_fits(z, p, m->zxid) : m->zxid == 0;
    case ZAB_MSG_REQUEST:
    case ZAB_MSG_APP:
        /* a follower sends them in broadcast only, which it may reach on an established ping
         * while its ACKNL is still on the way (lost: its next ack stands in) */
        return p->phase >= LP_SYNCING;
    default: return false; /* follower-bound types are not for us */
    }
}

int leader_recv(struct zab *z, uint32_t from, const struct zab_msg *m)
{
    ZK_ASSERT(z->role == ZAB_LEADING);
    if (m->type == ZAB_MSG_FOLLOWERINFO) {
        return on_followerinfo(z, from, m);
    }
    int slot = slot_of(z, from);
    if (slot < 0) {
        return ZAB_EINVAL; /* no session with us */
    }
    uint32_t idx = (uint32_t)slot;
    struct lpeer *p = &z->l.peers[idx];
    if (p->phase == LP_NONE || m->nonce != p->nonce || m->epoch != z->epoch ||
        !fits_session(z, p, m)) {
        return ZAB_EINVAL; /* stale session, another leader's follower, or not for this phase */
    }
    p->last_heard = z->now;
    if (m->type == ZAB_MSG_PING && (m->flags & ZAB_MSG_F_LEAVING)) {
        /* the follower leaves this session for a new one (only it knows the nonce) */
        p->released = REL_LEFT;
        if (p->contested) {
            z->counters.contests_conceded++;
            new_session(z, idx, p->contest_nonce, p->contest_epoch);
        }
        return ZAB_OK;
    }
    if (p->released == REL_LINK_DOWN) {
        p->released = REL_NONE; /* alive after all: its link came back */
    }
    if (p->contested) {
        p->contested = false; /* the session is alive: the FOLLOWERINFO was forged */
        z->counters.followerinfo_forged++;
    }
    switch (m->type) {
    case ZAB_MSG_ACKEPOCH: on_ackepoch(z, idx, m); break;
    case ZAB_MSG_ACKNL: on_ack(z, idx, m->zxid); break; /* fits_session: it covers NEWLEADER */
    case ZAB_MSG_ACK: on_ack(z, idx, m->zxid); break;
    case ZAB_MSG_PING: on_ping(z, from, idx, m); break;
    case ZAB_MSG_REQUEST: (void)leader_propose(z, m->data); break; /* errors: client retries */
    case ZAB_MSG_APP: out_app(z, from, m->tag, m->data); break;
    default: ZK_UNREACHABLE(); /* fits_session */
    }
    return ZAB_OK;
}

/* Every zxid counter of our epoch is used: no proposal is possible until a new epoch. */
static bool counter_exhausted(const struct zab *z)
{
    uint64_t last = ring_last(&z->log);
    return zab_epoch_of(last) == z->epoch && zab_counter_of(last) >= z->cfg.counter_max;
}

void leader_tick(struct zab *z)
{
    ZK_ASSERT(z->role == ZAB_LEADING);
    if (!z->established && z->now - z->l.since > z->cfg.init_limit_ticks) {
        election_start(z); /* no quorum joined in time */
        return;
    }
    if (z->established) {
        struct idset alive = {0};
        if (counted(z, z->cfg.my_id)) {
            idset_add(&alive, z->cfg.my_id);
        }
        FOR_PEERS(i) {
            const struct lpeer *p = &z->l.peers[i];
            bool heard = p->phase == LP_SYNCED && z->now - p->last_heard <= z->cfg.sync_limit_ticks;
            /* A peer whose link went down is gone at once, as a ZooKeeper leader's
             * LearnerHandler dies with its socket: without it the leader steps down now, not
             * syncLimit later (a member without a quorum turns read-only that much sooner). */
            bool linked = p->released != REL_LINK_DOWN;
            if (linked && (heard || z->now < p->grace_until) && counted(z, p->id)) {
                idset_add(&alive, p->id);
            }
        }
        if (!has_quorum(z, &alive)) {
            election_start(z); /* "not sufficient followers synced": step down */
            return;
        }
        if (counter_exhausted(z)) {
            election_start(z); /* ZOOKEEPER-1277: the next epoch resets the counter */
            return;
        }
    }
    if (!settle_contests(z)) {
        return;
    }
    FOR_PEERS(i) {
        const struct lpeer *p = &z->l.peers[i];
        if (z->l.synced_started && p->phase == LP_ACKEPOCH && may_sync(z, p)) {
            sync_peer(z, i); /* deferred by may_sync */
        }
    }
    FOR_PEERS(i) {
        if (z->l.peers[i].phase >= LP_SYNCING) {
            /* zxid2 = last proposed (as Java's PING): lets a follower notice lost proposals
             * even when no later proposal comes to reveal the gap */
            struct zab_msg m = {.type = ZAB_MSG_PING, .zxid = z->committed,
                                .zxid2 = ring_last(&z->log),
                                .flags = z->established ? ZAB_MSG_F_ESTABLISHED : 0};
            send_peer(z, i, &m);
        }
    }
}

/* ZooKeeper's reconfig checks: one change at a time, and the new voters must hold a quorum of
 * members synced with us now (or the change could never commit). */
int leader_check_change(const struct zab *z, const struct zab_members *next)
{
    if (z->role != ZAB_LEADING || !z->established) {
        return ZAB_ENOLEADER;
    }
    if (z->has_pend) {
        return ZAB_ERECONFIG;
    }
    struct idset s = {0};
    if (mem_voter(next, z->cfg.my_id)) {
        idset_add(&s, z->cfg.my_id);
    }
    FOR_PEERS(i) {
        const struct lpeer *p = &z->l.peers[i];
        if (p->phase == LP_SYNCED && z->now - p->last_heard <= z->cfg.sync_limit_ticks &&
            mem_voter(next, p->id)) {
            idset_add(&s, p->id);
        }
    }
    return quorum_in(next, &s) ? ZAB_OK : ZAB_ENOQUORUM;
}

int leader_propose(struct zab *z, struct zab_buf payload)
{
    if (!z->established) {
        return ZAB_ENOLEADER;
    }
    struct zab_members next;
    if (z->cfg.config_of != NULL && z->cfg.config_of(z->cfg.config_ctx, payload, &next) == 1) {
        int rc = zab_members_valid(&next) ? leader_check_change(z, &next) : ZAB_EINVAL;
        if (rc != ZAB_OK) {
            return rc;
        }
    }
    uint64_t last = ring_last(&z->log);
    ZK_ASSERT(zab_epoch_of(last) <= z->epoch); /* our log holds no epoch we have not accepted */
    uint32_t counter = zab_epoch_of(last) == z->epoch ? zab_counter_of(last) : 0;
    if (counter >= z->cfg.counter_max) {
        /* back-pressure until the next tick steps down (leader_tick): a SUBMIT's update is
         * dropped by callers on error, so it must not carry the role change */
        return ZAB_EBUSY;
    }
    uint32_t done = zab_epoch_of(z->committed) == z->epoch ? zab_counter_of(z->committed) : 0;
    if (counter - done >= z->cfg.max_outstanding || ring_full(&z->log)) {
        return ZAB_EBUSY;
    }
    uint64_t zxid = zab_zxid(z->epoch, counter + 1);
    int rc = log_append(z, zxid, payload);
    if (rc != 0) {
        return rc;
    }
    const struct ring_entry *e = ring_at(&z->log, z->log.count - 1);
    FOR_PEERS(i) {
        if (z->l.peers[i].phase >= LP_SYNCING) {
            struct zab_msg m = {.type = ZAB_MSG_PROPOSAL, .zxid = zxid, .zxid2 = last,
                                .data = {e->data, e->len}};
            send_peer(z, i, &m);
        }
    }
    return 0;
}

void leader_leave(struct zab *z)
{
    ZK_ASSERT(z->role == ZAB_LEADING);
    FOR_PEERS(i) {
        if (z->l.peers[i].phase >= LP_SYNCING) {
            struct zab_msg m = {.type = ZAB_MSG_PING, .zxid = z->committed,
                                .flags = ZAB_MSG_F_LEAVING};
            send_peer(z, i, &m);
        }
    }
}

int leader_app(struct zab *z, uint32_t to, uint8_t tag, struct zab_buf data)
{
    if (!z->established) {
        return ZAB_ENOLEADER;
    }
    int idx = slot_of(z, to);
    if (to == 0 || idx < 0 || z->l.peers[idx].phase < LP_SYNCED) {
        return ZAB_EINVAL;
    }
    struct zab_msg m = {.type = ZAB_MSG_APP, .tag = tag, .data = data};
    send_peer(z, (uint32_t)idx, &m);
    return 0;
}
