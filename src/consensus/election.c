/* Fast leader election (FLE) as ZooKeeper runs it: votes ordered by (epoch, zxid, sid), decided on
 * a quorum of matching votes after a finalize wait; joins an established ensemble from the
 * FOLLOWING/LEADING answers of its members. */
#include <string.h>

#include "common/assert.h"
#include "consensus/internal.h"

static struct zab_vote own_vote(const struct zab *z)
{
    return (struct zab_vote){z->cfg.my_id, ring_last(&z->log), z->current_epoch};
}

static void send_vote(struct zab *z, uint32_t to, uint8_t state, const struct zab_vote *v)
{
    struct zab_msg m = {.type = ZAB_MSG_VOTE, .state = state, .leader = v->leader,
                        .zxid = v->zxid, .epoch = v->epoch, .nonce = z->el.round};
    out_send(z, to, &m);
}

static void broadcast_vote(struct zab *z)
{
    for (uint32_t i = 0; i < z->cfg.n_voters; i++) {
        if (i != z->my_index) {
            send_vote(z, z->cfg.voters[i], ZAB_LOOKING, &z->el.proposal);
        }
    }
    z->el.last_sent = z->now;
}

void election_start(struct zab *z)
{
    ZK_ASSERT(z->started);
    if (z->role == ZAB_LEADING) {
        leader_leave(z);
    }
    set_role(z, ZAB_LOOKING, 0, 0);
    if (z->el.round < ZAB_ROUND_MAX) {
        z->el.round++; /* saturates: votes above ZAB_ROUND_MAX are refused, so all meet there */
    }
    z->el.proposal = own_vote(z);
    memset(z->el.recv, 0, sizeof(z->el.recv));
    memset(z->el.outof, 0, sizeof(z->el.outof));
    z->el.finalizing = false;
    broadcast_vote(z);
}

void election_answer(struct zab *z, uint32_t to)
{
    struct zab_vote v = {z->leader, z->el.proposal.zxid, z->epoch};
    ZK_ASSERT(z->role != ZAB_LOOKING);
    send_vote(z, to, (uint8_t)z->role, &v);
}

static void adopt(struct zab *z, const struct zab_vote *v)
{
    z->el.proposal = *v;
    z->el.finalizing = false; /* the quorum we were finalizing was for another proposal */
    broadcast_vote(z);
}

/* Counts this round's votes equal to the proposal, mine included. */
static uint32_t matching_votes(const struct zab *z)
{
    uint32_t n = 1;
    for (uint32_t i = 0; i < z->cfg.n_voters; i++) {
        const struct vote_rec *r = &z->el.recv[i];
        if (i != z->my_index && r->valid && r->round == z->el.round &&
            zab_vote_equal(&r->vote, &z->el.proposal)) {
            n++;
        }
    }
    return n;
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

static void recv_looking(struct zab *z, int idx, const struct zab_msg *m)
{
    struct zab_vote v = {m->leader, m->zxid, m->epoch}; /* leader is a voter (msg_check) */
    if (m->nonce > z->el.round) {
        z->el.round = m->nonce;
        memset(z->el.recv, 0, sizeof(z->el.recv));
        struct zab_vote mine = own_vote(z);
        adopt(z, zab_vote_beats(&v, &mine) ? &v : &mine);
    } else if (m->nonce < z->el.round) {
        send_vote(z, z->cfg.voters[idx], ZAB_LOOKING, &z->el.proposal); /* help it catch up */
        return;
    } else if (zab_vote_beats(&v, &z->el.proposal)) {
        adopt(z, &v);
    }
    z->el.recv[idx] = (struct vote_rec){true, ZAB_LOOKING, m->nonce, v};
    if (!z->el.finalizing && matching_votes(z) >= z->quorum) {
        z->el.finalizing = true; /* finalizeWait: give a better vote a chance to arrive */
        z->el.finalize_at = z->now + z->cfg.finalize_ticks;
    }
}

/* An established ensemble answers: join its leader once a quorum names it and it says LEADING. */
static void recv_established(struct zab *z, int idx, const struct zab_msg *m)
{
    struct zab_vote v = {m->leader, m->zxid, m->epoch};
    z->el.outof[idx] = (struct vote_rec){true, m->state, m->nonce, v};
    int li = voter_index(z, m->leader);
    if (li < 0 || m->leader == z->cfg.my_id) {
        return;
    }
    const struct vote_rec *lr = &z->el.outof[li];
    if (!lr->valid || lr->state != ZAB_LEADING || lr->vote.leader != m->leader) {
        return;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < z->cfg.n_voters; i++) {
        const struct vote_rec *r = &z->el.outof[i];
        n += r->valid && r->vote.leader == m->leader; /* ZOOKEEPER-1818: leader id only */
    }
    if (n + 1 >= z->quorum) { /* +1: my own vote joins theirs */
        z->el.proposal = v;
        follower_start(z, m->leader);
    }
}

int election_recv(struct zab *z, uint32_t from, const struct zab_msg *m)
{
    int idx = voter_index(z, from);
    ZK_ASSERT(idx >= 0); /* msg_check */
    if (z->role == ZAB_FOLLOWING && from == z->leader && m->state == ZAB_LOOKING &&
        z->f.phase != F_BROADCAST) {
        /* The member we want to follow is looking itself (it chose another leader, or stepped
         * down): it will never lead us, so rejoin the election now instead of waiting for
         * initLimit. Not in broadcast: a vote cannot tell a forged sender from the real one, so
         * an established follower relies on its link and ping timeouts instead. */
        election_start(z);
    }
    if (z->role != ZAB_LOOKING) {
        if (m->state != ZAB_LOOKING) {
            return ZAB_EINVAL; /* established members only answer looking ones */
        }
        election_answer(z, from);
        return ZAB_OK;
    }
    if (m->state == ZAB_LOOKING) {
        recv_looking(z, idx, m);
    } else {
        recv_established(z, idx, m); /* FOLLOWING or LEADING (msg_check) */
    }
    return ZAB_OK;
}

void election_tick(struct zab *z)
{
    ZK_ASSERT(z->role == ZAB_LOOKING);
    if (z->el.finalizing && z->now >= z->el.finalize_at) {
        z->el.finalizing = false;
        /* a reordered older vote may have replaced a matching one: decide only on a quorum */
        if (matching_votes(z) >= z->quorum) {
            decide(z);
            return;
        }
    }
    if (!z->el.finalizing && matching_votes(z) >= z->quorum) {
        /* a quorum of one (standalone) never receives a vote: my own is enough */
        z->el.finalizing = true;
        z->el.finalize_at = z->now + z->cfg.finalize_ticks;
    }
    if (z->now - z->el.last_sent >= z->cfg.retry_ticks) {
        broadcast_vote(z); /* votes may have been lost */
    }
}
