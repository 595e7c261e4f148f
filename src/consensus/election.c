/* Fast leader election (FLE) as ZooKeeper runs it: votes ordered by (epoch, zxid, sid), decided on
 * a quorum of matching votes after a finalize wait; joins an established ensemble from the
 * FOLLOWING/LEADING answers of its members. While a configuration change is pending, every
 * quorum is one of the old voters and one of the new (ZooKeeper's lastSeenQuorumVerifier). */
#include <string.h>

#include "common/assert.h"
#include "consensus/internal.h"

static bool hint_excludes(const struct zab *z, uint32_t id);
static void adopt(struct zab *z, const struct zab_vote *v);

/* A candidate votes for itself; anyone else (an observer, a joiner, a voter of a pending
 * configuration only) starts with no candidate and takes the first valid vote it gets. */
static struct zab_vote own_vote(const struct zab *z)
{
    if (!candidate(z) || hint_excludes(z, z->cfg.my_id)) {
        return (struct zab_vote){0, 0, 0};
    }
    return (struct zab_vote){z->cfg.my_id, ring_last(&z->log), z->current_epoch};
}

/* Our configuration as VOTE data (none in a static ensemble: no config_of, nothing to learn).
 * The bytes live in a buffer of this step; an identical encoding is shared. */
static struct zab_buf vote_data(struct zab *z)
{
    if (z->cfg.config_of == NULL) {
        return (struct zab_buf){NULL, 0};
    }
    uint8_t buf[VOTE_CFG_MAX];
    size_t n = vote_cfg_encode(z, buf);
    uint32_t k = z->n_vote_wire;
    if (k > 0 && z->vote_wire_len[k - 1] == n && memcmp(z->vote_wire[k - 1], buf, n) == 0) {
        return (struct zab_buf){z->vote_wire[k - 1], n};
    }
    ZK_ASSERT(k < sizeof(z->vote_wire) / sizeof(z->vote_wire[0])); /* configs change rarely */
    memcpy(z->vote_wire[k], buf, n);
    z->vote_wire_len[k] = n;
    z->n_vote_wire++;
    return (struct zab_buf){z->vote_wire[k], n};
}

static void send_vote(struct zab *z, uint32_t to, uint8_t state, const struct zab_vote *v)
{
    struct zab_msg m = {.type = ZAB_MSG_VOTE, .state = state, .leader = v->leader,
                        .zxid = v->zxid, .epoch = v->epoch, .nonce = z->el.round,
                        .data = vote_data(z)};
    out_send(z, to, &m);
}

/* ---- A newer configuration learned from votes: whom to talk to and whom to follow only. ---- */

static bool hinted(const struct zab *z, uint32_t id)
{
    const struct election *el = &z->el;
    return el->has_hint && id != 0 &&
           (mem_voter(&el->hint.cur, id) || (el->hint.has_pend && mem_voter(&el->hint.pend, id)));
}

/* A newer configuration that does not name id a voter: id cannot lead it, so we do not vote for
 * it (else a member that missed the change keeps voting for a removed candidate whose vote beats
 * the others', and the members that know the change never get its vote: zab-sim readd-leader
 * seed 671). */
static bool hint_excludes(const struct zab *z, uint32_t id)
{
    return z->el.has_hint && id != 0 && !hinted(z, id);
}

/* A voter of ours or of the hint: its votes and answers are recorded, we send it ours. */
static bool electorate(const struct zab *z, uint32_t id)
{
    return counted(z, id) || hinted(z, id);
}

static bool hint_quorum(const struct zab *z, const struct idset *s)
{
    const struct election *el = &z->el;
    return el->has_hint && quorum_in(&el->hint.cur, s) &&
           (!el->hint.has_pend || quorum_in(&el->hint.pend, s));
}

/* Our configuration as a vote would carry it, to compare claims with. */
static struct vote_cfg own_cfg(const struct zab *z)
{
    return (struct vote_cfg){z->cur, z->pend, z->cur_claim, z->pend_zxid, z->has_pend};
}

/* Is c newer than k (our configuration, or the hint we hold)? Configurations only change by
 * entries, so of two true claims "in force from zxid" the later one is the newer. */
static bool cfg_newer(const struct vote_cfg *c, const struct vote_cfg *k)
{
    /* exactly k's pending change, in force: for the hint (it only chooses whom to follow), a
     * hint kept with the change pending needed the old configuration's quorum too, which a
     * member that missed the change may never see again (zab-sim observer-flip seed 2858) */
    if (k->has_pend && !c->has_pend && c->cur_zxid == k->pend_zxid &&
        mem_equal(&c->cur, &k->pend)) {
        return true;
    }
    if (c->cur_zxid > k->cur_zxid && !(k->has_pend && c->cur_zxid <= k->pend_zxid) &&
        (!mem_equal(&c->cur, &k->cur) || k->has_pend)) {
        return true;
    }
    /* an equal cur may still come with a newer pending change (zab-sim replace seed 378) */
    uint64_t ours = k->has_pend ? k->pend_zxid : k->cur_zxid;
    return c->has_pend && c->pend_zxid > ours;
}

/* A looking member takes the configuration a vote carries as its hint if it is newer than ours
 * and than the hint it holds. With authenticated peers, a vote whose sender has our pending
 * change in force tells us it was committed: a member only ever puts a change in force once it
 * is committed (the leader's COMMIT, or a later change after it). True if it took something (a
 * state change: the vote is then taken). */
static bool learn_hint(struct zab *z, const struct zab_msg *m)
{
    struct vote_cfg c;
    if (z->role != ZAB_LOOKING || m->data.len == 0 || !vote_cfg_decode(m->data, &c)) {
        return false; /* msg_check decoded it already */
    }
    if (z->cfg.peers_authenticated && z->has_pend && c.cur_zxid == z->pend_zxid &&
        mem_equal(&c.cur, &z->pend)) {
        cfg_set_cur(z, &z->pend, z->pend_zxid); /* cfg_settle acts on it */
        z->has_pend = false;
        return true;
    }
    struct vote_cfg ours = own_cfg(z);
    if (!cfg_newer(&c, &ours) || (z->el.has_hint && !cfg_newer(&c, &z->el.hint))) {
        return false;
    }
    z->el.hint = c;
    z->el.has_hint = true;
    return true;
}

/* To every voter of cur and pend (and of the hint): they count our vote, or (established)
 * answer it. */
static void broadcast_vote(struct zab *z)
{
    struct idset to = {0};
    for (uint32_t i = 0; i < z->cur.n_voters; i++) {
        idset_add(&to, z->cur.voters[i]);
    }
    for (uint32_t i = 0; z->has_pend && i < z->pend.n_voters; i++) {
        idset_add(&to, z->pend.voters[i]);
    }
    for (uint32_t i = 0; z->el.has_hint && i < z->el.hint.cur.n_voters; i++) {
        idset_add(&to, z->el.hint.cur.voters[i]);
    }
    for (uint32_t i = 0; z->el.has_hint && z->el.hint.has_pend && i < z->el.hint.pend.n_voters;
         i++) {
        idset_add(&to, z->el.hint.pend.voters[i]);
    }
    for (uint32_t i = 0; i < to.n; i++) {
        if (to.ids[i] != z->cfg.my_id) {
            send_vote(z, to.ids[i], ZAB_LOOKING, &z->el.proposal);
        }
    }
    z->el.last_sent = z->now;
}

void election_start(struct zab *z)
{
    ZK_ASSERT(z->started);
    if (z->role == ZAB_LEADING) {
        leader_leave(z);
    } else if (is_learner(z)) {
        follower_leave(z);
    }
    set_role(z, ZAB_LOOKING, 0, 0);
    if (z->el.round < ZAB_ROUND_MAX) {
        z->el.round++; /* saturates: votes above ZAB_ROUND_MAX are refused, so all meet there */
    }
    z->el.proposal = own_vote(z);
    memset(z->el.recv, 0, sizeof(z->el.recv));
    memset(z->el.outof, 0, sizeof(z->el.outof));
    z->el.finalizing = false;
    z->el.has_hint = false;
    broadcast_vote(z);
}

/* Voters answer anyone's looking vote (that is how observers and joiners find the leader). */
void election_answer(struct zab *z, uint32_t to)
{
    struct zab_vote v = {z->leader, z->el.proposal.zxid, z->epoch};
    ZK_ASSERT(z->role != ZAB_LOOKING);
    send_vote(z, to, (uint8_t)(z->role == ZAB_LEADING ? ZAB_LEADING : ZAB_FOLLOWING), &v);
}

static void adopt(struct zab *z, const struct zab_vote *v)
{
    z->el.proposal = *v;
    z->el.finalizing = false; /* the quorum we were finalizing was for another proposal */
    broadcast_vote(z);
}

/* The record of sender id in a table (a free slot if it has none yet; NULL if the table is full,
 * which only senders outside our voters can cause: at most 2 * ZAB_PEERS_MAX are voters). */
static struct vote_rec *rec_of(struct vote_rec *t, uint32_t id)
{
    struct vote_rec *free_slot = NULL;
    for (uint32_t i = 0; i < ZAB_MEMBERS_MAX; i++) {
        if (t[i].id == id) {
            return &t[i];
        }
        if (t[i].id == 0 && free_slot == NULL) {
            free_slot = &t[i];
        }
    }
    return free_slot;
}

/* Do this round's votes equal to the proposal, mine included, make the quorums? Ours, or, to
 * follow someone else, the hint's. */
static bool proposal_has_quorum(const struct zab *z)
{
    if (z->el.proposal.leader == 0) {
        return false;
    }
    struct idset s = {0};
    if (electorate(z, z->cfg.my_id)) {
        idset_add(&s, z->cfg.my_id);
    }
    for (uint32_t i = 0; i < ZAB_MEMBERS_MAX; i++) {
        const struct vote_rec *r = &z->el.recv[i];
        if (r->id != 0 && r->valid && r->round == z->el.round &&
            zab_vote_equal(&r->vote, &z->el.proposal)) {
            idset_add(&s, r->id);
        }
    }
    return has_quorum(z, &s) || (z->el.proposal.leader != z->cfg.my_id && hint_quorum(z, &s));
}

static void decide(struct zab *z)
{
    ZK_ASSERT(z->role == ZAB_LOOKING);
    if (z->el.proposal.leader == z->cfg.my_id) {
        leader_start(z);
    } else {
        follower_start(z, z->el.proposal.leader);
    }
}

static void recv_looking(struct zab *z, uint32_t from, const struct zab_msg *m)
{
    struct zab_vote v = {m->leader, m->zxid, m->epoch}; /* leader is counted or 0 (msg_check) */
    bool better = v.leader != 0 && !hint_excludes(z, v.leader) &&
                  (z->el.proposal.leader == 0 || zab_vote_beats(&v, &z->el.proposal));
    if (m->nonce > z->el.round) {
        z->el.round = m->nonce;
        memset(z->el.recv, 0, sizeof(z->el.recv));
        struct zab_vote mine = own_vote(z);
        bool theirs = v.leader != 0 && !hint_excludes(z, v.leader) &&
                      (mine.leader == 0 || zab_vote_beats(&v, &mine));
        adopt(z, theirs ? &v : &mine);
    } else if (m->nonce < z->el.round) {
        send_vote(z, from, ZAB_LOOKING, &z->el.proposal); /* help it catch up */
        return;
    } else if (better) {
        adopt(z, &v);
    }
    struct vote_rec *r = rec_of(z->el.recv, from);
    ZK_ASSERT(r != NULL); /* checked by election_recv */
    *r = (struct vote_rec){from, true, ZAB_LOOKING, m->nonce, v};
    if (!z->el.finalizing && proposal_has_quorum(z)) {
        z->el.finalizing = true; /* finalizeWait: give a better vote a chance to arrive */
        z->el.finalize_at = z->now + z->cfg.finalize_ticks;
    }
}

/* An established ensemble answers: join its leader once a quorum of our voters names it and it
 * says LEADING itself. The leader may be outside our configuration (we missed a change that
 * added it): then we ask it directly, and its sync hands us its configuration. Whom we follow
 * is no matter of safety (the leader's quorums are), only of liveness. */
static int recv_established(struct zab *z, uint32_t from, const struct zab_msg *m)
{
    struct zab_vote v = {m->leader, m->zxid, m->epoch};
    struct vote_rec *rec = rec_of(z->el.outof, from);
    if (rec == NULL) {
        return ZAB_EINVAL; /* full of answers from outside our voters */
    }
    *rec = (struct vote_rec){from, true, m->state, m->nonce, v};
    if (m->leader == z->cfg.my_id) {
        return ZAB_OK;
    }
    struct idset s = {0};
    bool leading = false;
    for (uint32_t i = 0; i < ZAB_MEMBERS_MAX; i++) {
        const struct vote_rec *r = &z->el.outof[i];
        if (r->id == 0 || !r->valid || r->vote.leader != m->leader) {
            continue; /* ZOOKEEPER-1818: leader id only */
        }
        if (electorate(z, r->id)) {
            idset_add(&s, r->id);
        }
        leading = leading || (r->id == m->leader && r->state == ZAB_LEADING);
    }
    if (electorate(z, z->cfg.my_id)) {
        idset_add(&s, z->cfg.my_id); /* my own vote joins theirs */
    }
    if (leading && (has_quorum(z, &s) || hint_quorum(z, &s))) {
        z->el.proposal = v;
        follower_start(z, m->leader);
    } else if (!leading && !electorate(z, m->leader) && from != m->leader) {
        send_vote(z, m->leader, ZAB_LOOKING, &z->el.proposal); /* not one we broadcast to */
    }
    return ZAB_OK;
}

/* A member outside its configuration (removed by a committed change, or a joiner) that follows
 * a leader tells a looking candidate that asks what configuration it holds: a member that
 * restarted without the change may need that to go on. The answer is its own vote in the
 * asker's round, for no one, so nobody answers it back. */
static int answer_outside(struct zab *z, uint32_t from, const struct zab_msg *m)
{
    if (m->leader == 0 || z->cfg.config_of == NULL || mem_has(&z->cur, z->cfg.my_id)) {
        return ZAB_EINVAL; /* not to a vote for no one: two such members would echo */
    }
    struct zab_msg a = {.type = ZAB_MSG_VOTE, .state = ZAB_LOOKING, .nonce = m->nonce,
                        .data = vote_data(z)};
    out_send(z, from, &a);
    return ZAB_OK;
}

/* Does a vote count as its sender's, as far as its configuration goes? Not when the sender's own
 * configuration (its vote's data) is newer than ours and names it no voter: a change we missed
 * removed it, and it votes only to find whom to follow. Counted, it made a quorum of the old
 * configuration with a member far behind, again and again (zab-sim replace seed 1286). An older
 * configuration of the sender's does not matter (a joiner that took the leader's configuration
 * before the change adding it: we count it as our pending change says), nor one that is our own
 * pending change (we count by our joint quorums, which is safe: zab-sim observer-flip seed 1925,
 * an observer that was a voter of our cur). A forged claim can only make a vote not count. */
static bool sender_votes(const struct zab *z, const struct zab_msg *m, uint32_t from)
{
    struct vote_cfg c;
    if (m->data.len == 0 || !vote_cfg_decode(m->data, &c)) {
        return true; /* a static ensemble (msg_check refused malformed data) */
    }
    bool voter = mem_voter(&c.cur, from) || (c.has_pend && mem_voter(&c.pend, from));
    bool confirms_pend = z->has_pend && mem_equal(&c.cur, &z->pend); /* our joint quorums */
    struct vote_cfg ours = own_cfg(z);
    return voter || confirms_pend || !cfg_newer(&c, &ours);
}

int election_recv(struct zab *z, uint32_t from, const struct zab_msg *m)
{
    /* a newer configuration first: it may make the sender one we count */
    bool taken = learn_hint(z, m);
    /* a vote counts only from a voter of ours, for a voter of ours (or for no one); the hint's
     * voters are recorded too, to find whom to follow */
    bool countable = electorate(z, from) && (m->leader == 0 || electorate(z, m->leader)) &&
                     sender_votes(z, m, from);
    if (is_learner(z) && from == z->leader && m->state == ZAB_LOOKING && countable &&
        z->f.phase != F_BROADCAST) {
        taken = true;
        /* The member we want to follow is looking itself (it chose another leader, or stepped
         * down): it will never lead us, so rejoin the election now instead of waiting for
         * initLimit. Not in broadcast: a vote cannot tell a forged sender from the real one, so
         * an established follower relies on its link and ping timeouts instead. */
        election_start(z);
    }
    if (z->role != ZAB_LOOKING) {
        if (m->state != ZAB_LOOKING) {
            return taken ? ZAB_OK : ZAB_EINVAL;
        }
        if (!counted(z, z->cfg.my_id)) {
            return answer_outside(z, from, m); /* observers stay silent */
        }
        election_answer(z, from);
        return ZAB_OK;
    }
    if (m->state == ZAB_LOOKING) {
        if (!countable || rec_of(z->el.recv, from) == NULL) {
            /* it counts for nothing, and a looking member does not answer it (two members that
             * do not count each other would echo forever) */
            return taken ? ZAB_OK : ZAB_EINVAL;
        }
        recv_looking(z, from, m);
        return ZAB_OK;
    }
    /* an answer (FOLLOWING or LEADING): from a voter of ours, or a leader's own */
    bool own = m->state == ZAB_LEADING && m->leader == from;
    if (m->leader == 0 || (!electorate(z, from) && !own)) {
        return taken ? ZAB_OK : ZAB_EINVAL;
    }
    int rc = recv_established(z, from, m);
    return taken ? ZAB_OK : rc;
}

void election_tick(struct zab *z)
{
    ZK_ASSERT(z->role == ZAB_LOOKING);
    if (z->el.finalizing && z->now >= z->el.finalize_at) {
        z->el.finalizing = false;
        /* a reordered older vote may have replaced a matching one: decide only on a quorum */
        if (proposal_has_quorum(z)) {
            decide(z);
            return;
        }
    }
    if (!z->el.finalizing && proposal_has_quorum(z)) {
        /* a quorum of one (standalone) never receives a vote: my own is enough */
        z->el.finalizing = true;
        z->el.finalize_at = z->now + z->cfg.finalize_ticks;
    }
    if (z->now - z->el.last_sent >= z->cfg.retry_ticks) {
        broadcast_vote(z); /* votes may have been lost */
    }
}
