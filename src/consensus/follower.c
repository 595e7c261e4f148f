/* The follower side of Zab: discovery (FOLLOWERINFO/LEADERINFO/ACKEPOCH), synchronisation
 * (DIFF/TRUNC/SNAP, NEWLEADER, ACKNL, UPTODATE) and broadcast (PROPOSAL/ACK/COMMIT/PING). */
#include <string.h>

#include "common/assert.h"
#include "consensus/internal.h"

static void send_leader(struct zab *z, struct zab_msg *m)
{
    m->epoch = z->f.epoch;
    m->nonce = z->f.nonce;
    out_send(z, z->leader, m);
}

/* Unique for every (incarnation < 2^40, seq < 2^24) since the mix is a bijection; and as hard
 * to guess as the incarnation, so a caller that puts random bits there makes forging a message
 * of someone's sync session a matter of luck. */
static uint64_t session_nonce(uint64_t incarnation, uint64_t seq)
{
    uint64_t x = ((incarnation << 24) | (incarnation >> 40)) ^ seq;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull; /* splitmix64's finalizer */
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A new sync session: fresh nonce, so stale messages of an earlier session are ignored. */
static void send_followerinfo(struct zab *z)
{
    z->f.nonce_seq++;
    z->f.nonce = session_nonce(z->incarnation, z->f.nonce_seq);
    z->f.phase = F_DISCOVERY;
    z->f.stream_started = false;
    z->f.snapped = false;
    z->f.nl_acked = false;
    z->f.progress = z->now;
    struct zab_msg m = {.type = ZAB_MSG_FOLLOWERINFO, .epoch = z->accepted_epoch,
                        .nonce = z->f.nonce};
    out_send(z, z->leader, &m);
}

void follower_start(struct zab *z, uint32_t leader)
{
    ZK_ASSERT(leader != z->cfg.my_id && leader != 0);
    set_role(z, learner_role(z), 0, leader);
    uint64_t seq = z->f.nonce_seq; /* nonces stay unique across sessions of this run */
    memset(&z->f, 0, sizeof(z->f));
    z->f.nonce_seq = seq;
    z->f.last_heard = z->f.since = z->now;
    send_followerinfo(z);
}

/* We leave our session with the leader (a resync, an election): tell it, so that our next
 * FOLLOWERINFO need not wait for the old session to fall silent (docs/consensus.md, "Contested
 * sessions"). Only from a session the leader knows the epoch of: it ignores the others. */
void follower_leave(struct zab *z)
{
    ZK_ASSERT(is_learner(z));
    if (z->f.phase >= F_SYNC) {
        struct zab_msg m = {.type = ZAB_MSG_PING, .flags = ZAB_MSG_F_LEAVING};
        send_leader(z, &m);
    }
}

/* Something in the stream is missing or out of order: start a new session with the leader. */
static void resync(struct zab *z)
{
    set_established(z, false);
    follower_leave(z);
    send_followerinfo(z);
}

static void on_leaderinfo(struct zab *z, const struct zab_msg *m)
{
    bool promise = counted(z, z->cfg.my_id); /* a non-voter's epoch promise counts nowhere */
    if (m->epoch < z->accepted_epoch && promise) {
        election_start(z); /* we promised a newer epoch to someone else */
        return;
    }
    struct zab_msg ack = {.type = ZAB_MSG_ACKEPOCH, .epoch2 = z->current_epoch,
                          .zxid = ring_last(&z->log)};
    if (m->epoch < z->current_epoch) {
        election_start(z); /* our log holds a later epoch than this leader: not ours */
        return;
    }
    if (m->epoch > z->accepted_epoch) {
        out_accepted_epoch(z, m->epoch); /* persisted before the ACKEPOCH leaves (rule 3) */
    } else {
        ack.flags = ZAB_MSG_F_ALREADY; /* never ack one epoch twice (Java's -1) */
    }
    z->f.epoch = m->epoch;
    z->epoch = m->epoch;
    z->f.phase = F_SYNC;
    z->f.progress = z->now;
    send_leader(z, &ack);
}

static void learn_commit(struct zab *z, uint64_t commit)
{
    if (z->f.phase < F_SYNC || !z->f.stream_started) {
        return; /* only after the stream head is our log known to be a prefix of the leader's */
    }
    uint64_t last = ring_last(&z->log);
    uint64_t c = commit < last ? commit : last;
    if (c > z->committed) {
        z->committed = c;
    }
}

static void on_stream_head(struct zab *z, const struct zab_msg *m)
{
    uint64_t last = ring_last(&z->log);
    if (m->type == ZAB_MSG_DIFF && m->zxid != last) {
        resync(z);
        return;
    }
    if (m->type == ZAB_MSG_TRUNC) {
        if (m->zxid > last || m->zxid < z->log.base) {
            resync(z); /* not a point of our log: the leader's plan is stale */
            return;
        }
        ring_truncate(&z->log, m->zxid);
        cfg_on_truncate(z);
        z->up->flags |= ZAB_UPD_TRUNCATE;
        z->up->truncate_to = m->zxid;
        /* the point is the leader's: our log may lack it and now end below it (the stream
         * that follows then shows a gap and we resync), so clamp to what is left */
        uint64_t left = ring_last(&z->log);
        z->durable = z->durable < left ? z->durable : left;
        z->committed = z->committed < left ? z->committed : left;
    }
    if (m->type == ZAB_MSG_SNAP) {
        ring_reset(&z->log, m->zxid);
        cfg_on_reset(z, m->zxid);
        z->f.snapped = true;
        z->up->flags |= ZAB_UPD_INSTALL;
        z->up->install_zxid = m->zxid;
        z->up->install_data = m->data;
        z->durable = z->committed = z->applied = m->zxid; /* installed durably, rule 1 */
    }
    z->f.stream_started = true;
    z->f.progress = z->now;
    learn_commit(z, m->zxid2);
}

static void on_proposal(struct zab *z, const struct zab_msg *m)
{
    if (m->zxid2 != ring_last(&z->log)) {
        resync(z); /* gap: a message of this session was lost */
        return;
    }
    if (log_append(z, m->zxid, m->data) != 0) {
        resync(z); /* window full of unapplied entries (or OOM): start over later */
        return;
    }
    z->f.progress = z->now;
}

static void on_newleader(struct zab *z, const struct zab_msg *m)
{
    if (m->zxid != ring_last(&z->log)) {
        resync(z); /* the tail of the stream was lost */
        return;
    }
    z->f.nl_zxid = m->zxid;
    z->f.phase = F_SYNCED;
    z->f.progress = z->now;
    /* the leader's configuration: in force from zxid2 on (its config entry, or a point after
     * it); a joiner's start-up configuration and a snapshot's are replaced by it. Compared with
     * what we know of ours (cur_claim: a start-up configuration of unknown origin is older than
     * any the leader names, and our log is now a prefix of the leader's, so the leader knows
     * every change we know committed) */
    struct zab_members cur, act;
    uint64_t act_zxid;
    bool ok = cfg_wire_decode(m->data, &cur, &act_zxid, &act);
    ZK_ASSERT(ok); /* fits_phase */
    uint64_t cz = m->zxid2;
    if (cz > z->cur_claim || (cz == z->cur_claim && !mem_equal(&cur, &z->cur))) {
        if (z->has_pend && z->pend_zxid <= cz) {
            z->has_pend = false; /* committed: cur covers it */
        }
        cfg_set_cur(z, &cur, cz);
    }
    bool replace = z->f.snapped || (act_zxid == 0 && z->act_zxid == 0);
    if (replace && (act_zxid != z->act_zxid || !mem_equal(&act, &z->act))) {
        z->act = act;
        z->act_zxid = act_zxid;
        z->up->flags |= ZAB_UPD_CONFIG;
        z->up->config = act;
        z->up->config_zxid = act_zxid;
    }
}

static void on_uptodate(struct zab *z, const struct zab_msg *m)
{
    ZK_ASSERT(z->f.phase == F_SYNCED && z->f.nl_acked); /* checked by the callers */
    z->f.phase = F_BROADCAST;
    learn_commit(z, m->zxid);
    set_established(z, true);
}

static void on_ping(struct zab *z, const struct zab_msg *m)
{
    if (m->flags & ZAB_MSG_F_LEAVING) {
        learn_commit(z, m->zxid);
        election_start(z); /* our leader stepped down: elect now rather than after syncLimit */
        return;
    }
    if (z->f.phase >= F_SYNCED && m->zxid2 > ring_last(&z->log)) {
        resync(z); /* links are FIFO: proposals sent before this ping were lost (zab-sim 16524) */
        return;
    }
    learn_commit(z, m->zxid);
    if ((m->flags & ZAB_MSG_F_ESTABLISHED) && z->f.phase == F_SYNCED && z->f.nl_acked) {
        on_uptodate(z, m); /* the UPTODATE was lost, the established leader's ping stands in */
    }
}

/* Does m fit the phase we are in? Checked before anything changes; a message that does not
 * (a duplicate, a late one, or a forged one) is ignored. */
static bool fits_phase(const struct zab *z, const struct zab_msg *m)
{
    const struct follower *f = &z->f;
    switch (m->type) {
    case ZAB_MSG_LEADERINFO: return f->phase == F_DISCOVERY;
    case ZAB_MSG_DIFF:
    case ZAB_MSG_TRUNC:
    case ZAB_MSG_SNAP:
        /* a committed entry is in every later leader's log, so a TRUNC never reaches it, and
         * a snapshot never rolls committed state back */
        return f->phase == F_SYNC && !f->stream_started && m->zxid >= z->applied;
    case ZAB_MSG_PROPOSAL:
        /* at or below our last zxid: a duplicate, the leader's log is fixed within its epoch */
        return ((f->phase == F_SYNC && f->stream_started) || f->phase >= F_SYNCED) &&
               m->zxid > ring_last(&z->log);
    case ZAB_MSG_NEWLEADER: {
        struct zab_members a, b;
        uint64_t az;
        return f->phase == F_SYNC && f->stream_started && m->zxid2 <= m->zxid &&
               cfg_wire_decode(m->data, &a, &az, &b) && az <= m->zxid;
    }
    case ZAB_MSG_UPTODATE: return f->phase == F_SYNCED && f->nl_acked;
    case ZAB_MSG_COMMIT:
    case ZAB_MSG_PING:
    case ZAB_MSG_APP: return true;
    default: return false; /* leader-bound types are not for us */
    }
}

int follower_recv(struct zab *z, uint32_t from, const struct zab_msg *m)
{
    ZK_ASSERT(is_learner(z));
    if (from != z->leader || m->nonce != z->f.nonce) {
        return ZAB_EINVAL; /* another member, or a stale session */
    }
    if ((m->type != ZAB_MSG_LEADERINFO && m->epoch != z->f.epoch) || !fits_phase(z, m)) {
        return ZAB_EINVAL;
    }
    z->f.last_heard = z->now;
    switch (m->type) {
    case ZAB_MSG_LEADERINFO: on_leaderinfo(z, m); break;
    case ZAB_MSG_DIFF:
    case ZAB_MSG_TRUNC:
    case ZAB_MSG_SNAP: on_stream_head(z, m); break;
    case ZAB_MSG_PROPOSAL: on_proposal(z, m); break;
    case ZAB_MSG_NEWLEADER: on_newleader(z, m); break;
    case ZAB_MSG_UPTODATE: on_uptodate(z, m); break;
    case ZAB_MSG_COMMIT: learn_commit(z, m->zxid); break;
    case ZAB_MSG_PING: on_ping(z, m); break;
    case ZAB_MSG_APP: out_app(z, from, m->tag, m->data); break;
    default: ZK_UNREACHABLE(); /* fits_phase */
    }
    return ZAB_OK;
}

void follower_flush(struct zab *z)
{
    ZK_ASSERT(is_learner(z));
    if (z->f.phase < F_SYNCED) {
        return;
    }
    /* the ACK leaves only for entries the caller reported durable: ZOOKEEPER-3911 by design */
    uint64_t durable = z->sabotage == ZAB_SABOTAGE_EARLY_ACK ? ring_last(&z->log) : z->durable;
    if (!z->f.nl_acked && durable >= z->f.nl_zxid) {
        /* currentEpoch says "my log is the new leader's history": write it only once the
         * synced log is durable, else a crash leaves a short log under a new epoch that wins
         * the next discovery and drops committed txns (bug found by zab-sim, seed 1623) */
        if (z->current_epoch < z->f.epoch) {
            out_current_epoch(z, z->f.epoch); /* durable before the ACKNL leaves (rule 3) */
        }
        struct zab_msg m = {.type = ZAB_MSG_ACKNL, .zxid = z->f.nl_zxid};
        send_leader(z, &m);
        z->f.nl_acked = true;
        z->f.acked_sent = z->f.nl_zxid;
    }
    if (z->f.nl_acked && durable > z->f.acked_sent) {
        struct zab_msg m = {.type = ZAB_MSG_ACK, .zxid = durable};
        send_leader(z, &m);
        z->f.acked_sent = durable;
    }
}

void follower_tick(struct zab *z, struct zab_buf activity)
{
    ZK_ASSERT(is_learner(z));
    uint64_t limit = z->f.phase == F_BROADCAST ? z->cfg.sync_limit_ticks : z->cfg.init_limit_ticks;
    bool stuck = z->f.phase != F_BROADCAST && z->now - z->f.since > 2u * z->cfg.init_limit_ticks;
    if (z->now - z->f.last_heard > limit || stuck) {
        election_start(z); /* the leader is gone (or never came): elect again */
        return;
    }
    if (z->f.phase <= F_SYNC && z->now - z->f.progress >= 2u * z->cfg.retry_ticks) {
        resync(z);
        return;
    }
    struct zab_msg m = {.type = ZAB_MSG_PING, .data = activity};
    if (z->f.nl_acked) {
        m.flags = ZAB_MSG_F_SYNCED;
        m.zxid = z->f.acked_sent;
    }
    send_leader(z, &m);
}

int follower_submit(struct zab *z, struct zab_buf payload)
{
    if (z->f.phase != F_BROADCAST) {
        return ZAB_ENOLEADER;
    }
    struct zab_msg m = {.type = ZAB_MSG_REQUEST, .data = payload};
    send_leader(z, &m);
    return 0;
}

int follower_app(struct zab *z, uint8_t tag, struct zab_buf data)
{
    if (z->f.phase != F_BROADCAST) {
        return ZAB_ENOLEADER;
    }
    struct zab_msg m = {.type = ZAB_MSG_APP, .tag = tag, .data = data};
    send_leader(z, &m);
    return 0;
}
