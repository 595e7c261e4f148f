/* The simulator's forging peer (sim_opts.hostile): at each chaos tick it injects a few messages a
 * hostile process connected to a member's peer port could send (docs/consensus.md, "Hostile
 * messages") and checks what the core does with each: messages out of range, from unknown ids or
 * out of their phase must be refused (ZAB_EINVAL), and votes must not move an established member.
 * The forger knows member ids and epochs (any vote reveals them) and, for the out-of-phase kinds,
 * even a live session's nonce; it never uses a nonce for a message the session could accept, as
 * no crash-tolerant protocol survives that. The usual checkers watch safety meanwhile. */
#include <inttypes.h>
#include <string.h>

#include "common/assert.h"
#include "sim_internal.h"

enum expect { EXPECT_ANY, EXPECT_REFUSED, EXPECT_KEEP_ROLE };

struct forgery {
    const char *what;
    uint32_t from; /* claimed sender id */
    struct zab_msg m;
    enum expect expect;
};

static const uint8_t junk[8] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};

static bool is_up(const struct member *mb) { return mb->up; }
static bool is_established_follower(const struct member *mb)
{
    return mb->up && mb->established && mb->role == ZAB_FOLLOWING;
}
static bool is_established_leader(const struct member *mb)
{
    return mb->up && mb->established && mb->role == ZAB_LEADING;
}

/* A random member satisfying ok, or NULL. */
static struct member *pick(struct sim *s, bool (*ok)(const struct member *))
{
    uint32_t start = (uint32_t)rng_below(&s->rng, s->n);
    for (uint32_t k = 0; k < s->n; k++) {
        struct member *mb = &s->m[(start + k) % s->n];
        if (ok(mb)) {
            return mb;
        }
    }
    return NULL;
}

static uint32_t other_id(struct sim *s, const struct member *t)
{
    uint32_t i = (uint32_t)rng_below(&s->rng, s->n - 1);
    return s->m[i >= (uint32_t)(t - s->m) ? i + 1 : i].id;
}

static struct member *member_by_id(struct sim *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->m[i].id == id) {
            return &s->m[i];
        }
    }
    return NULL;
}

/* A message of a random type with in-range fields around t's epoch and a random nonce (so it
 * belongs to no live session). */
static struct zab_msg plausible(struct sim *s, const struct member *t)
{
    struct zab_msg m = {.type = (uint8_t)(1 + rng_below(&s->rng, ZAB_MSG_TYPE_MAX))};
    m.epoch = t->epoch + (uint32_t)rng_below(&s->rng, 3);
    uint32_t ze = m.epoch > 0 ? m.epoch - (uint32_t)rng_below(&s->rng, 2) : 0;
    m.zxid = zab_zxid(ze, 1 + (uint32_t)rng_below(&s->rng, 8));
    m.nonce = rng_next(&s->rng);
    if (m.type == ZAB_MSG_VOTE) {
        m.state = (uint8_t)rng_below(&s->rng, 3);
        m.leader = s->m[rng_below(&s->rng, s->n)].id;
        m.nonce = rng_below(&s->rng, 64);
    } else if (m.type == ZAB_MSG_PROPOSAL) {
        m.zxid2 = m.zxid - 1;
        m.data = (struct zab_buf){junk, sizeof(junk)};
    } else if (m.type == ZAB_MSG_FOLLOWERINFO || m.type == ZAB_MSG_LEADERINFO ||
               m.type == ZAB_MSG_REQUEST || m.type == ZAB_MSG_APP) {
        m.zxid = 0;
        m.epoch += m.epoch == 0; /* LEADERINFO of epoch 0 is out of range: not this kind */
    }
    if (m.epoch == 0 && m.type != ZAB_MSG_VOTE) {
        m.epoch = 1;
    }
    return m;
}

/* One field pushed out of the range a correct member can send. */
static struct forgery out_of_range(struct sim *s, const struct member *t)
{
    struct forgery f = {"out of range", other_id(s, t), plausible(s, t), EXPECT_REFUSED};
    struct zab_msg *m = &f.m;
    switch (rng_below(&s->rng, 12)) {
    case 0: m->epoch = ZAB_EPOCH_MAX + 1 + (uint32_t)rng_below(&s->rng, 0xff); break;
    case 1: /* the ensemble used to persist acceptedEpoch 0xffffffff from this and then abort */
        *m = (struct zab_msg){.type = ZAB_MSG_FOLLOWERINFO, .epoch = 0xfffffffeu,
                              .nonce = rng_next(&s->rng)};
        f.what = "FOLLOWERINFO epoch 0xfffffffe";
        break;
    case 2: m->zxid = zab_zxid(zab_epoch_of(m->zxid), 0xffffffffu); f.what = "zxid counter max"; break;
    case 3: m->type = ZAB_MSG_COMMIT; m->zxid = zab_zxid(m->epoch + 1, 1); break;
    case 4: *m = (struct zab_msg){.type = ZAB_MSG_VOTE, .leader = t->id,
                                  .nonce = ZAB_ROUND_MAX + 1 + rng_below(&s->rng, 1000)}; break;
    case 5: m->type = ZAB_MSG_VOTE; m->leader = t->id; m->state = (uint8_t)(3 + rng_below(&s->rng, 253)); break;
    case 6: /* a leader outside the ensemble: answered or kept (an answer from a voter may name
             * a leader we do not know, whom we then ask ourselves), never followed */
        m->type = ZAB_MSG_VOTE;
        m->leader = 99;
        m->nonce = 1;
        f.expect = EXPECT_KEEP_ROLE;
        break;
    case 7: m->flags = (uint8_t)(8u << rng_below(&s->rng, 5)); break;
    case 8: m->type = rng_chance(&s->rng, 500000) ? 0 : (uint8_t)(ZAB_MSG_TYPE_MAX + 1); break;
    case 9: m->type = ZAB_MSG_ACK; m->data = (struct zab_buf){junk, sizeof(junk)}; break;
    case 10: *m = (struct zab_msg){.type = ZAB_MSG_PROPOSAL, .epoch = m->epoch,
                                   .zxid = zab_zxid(m->epoch, 0), .nonce = m->nonce}; break;
    default: *m = (struct zab_msg){.type = ZAB_MSG_ACKEPOCH, .epoch = m->epoch,
                                   .epoch2 = m->epoch + 1, .nonce = m->nonce}; break;
    }
    return f;
}

static struct forgery unknown_sender(struct sim *s, const struct member *t)
{
    static const uint32_t ids[] = {0, 99, 0xffffffffu};
    uint64_t k = rng_below(&s->rng, 4);
    struct forgery f = {"unknown sender", k == 3 ? t->id : ids[k], plausible(s, t),
                        EXPECT_REFUSED};
    /* anyone may ask an established voter for its leader, and offer a leader to follow it as a
     * non-voting learner (a joiner): neither may move the member */
    bool some_id = f.from != 0 && f.from != t->id;
    if (some_id && ((f.m.type == ZAB_MSG_VOTE && f.m.state == ZAB_LOOKING && t->role != ZAB_LOOKING) ||
                    (f.m.type == ZAB_MSG_FOLLOWERINFO && t->role == ZAB_LEADING))) {
        f.expect = EXPECT_KEEP_ROLE;
    }
    return f;
}

/* A vote to an established member: answered at most, never a reason to leave its leader. */
static struct forgery vote_at_established(struct sim *s, struct member *t)
{
    struct forgery f = {"vote at an established member", other_id(s, t), plausible(s, t),
                        EXPECT_KEEP_ROLE};
    if (t->role == ZAB_FOLLOWING && rng_chance(&s->rng, 700000)) {
        f.from = t->leader; /* "my leader is looking": once forced every follower out */
        f.what = "looking vote from the leader";
    }
    f.m = (struct zab_msg){.type = ZAB_MSG_VOTE, .state = (uint8_t)rng_below(&s->rng, 3),
                           .leader = s->m[rng_below(&s->rng, s->n)].id,
                           .epoch = t->epoch + (uint32_t)rng_below(&s->rng, 3),
                           .zxid = zab_zxid(t->epoch + 1, 5), .nonce = rng_below(&s->rng, 64)};
    return f;
}

/* Messages a broadcast follower's live session must refuse: they belong to another phase. */
static struct forgery out_of_phase_at_follower(struct sim *s, struct member *t)
{
    struct member *l = member_by_id(s, t->leader);
    ZK_ASSERT(l != NULL);
    uint64_t last = zab_last_logged(t->z);
    struct forgery f = {"out of phase at a follower", t->leader, {0}, EXPECT_REFUSED};
    static const uint8_t types[] = {ZAB_MSG_LEADERINFO, ZAB_MSG_DIFF, ZAB_MSG_TRUNC, ZAB_MSG_SNAP,
                                    ZAB_MSG_NEWLEADER, ZAB_MSG_UPTODATE, ZAB_MSG_PROPOSAL,
                                    ZAB_MSG_ACK, ZAB_MSG_ACKEPOCH, ZAB_MSG_REQUEST,
                                    ZAB_MSG_FOLLOWERINFO};
    f.m.type = types[rng_below(&s->rng, sizeof(types))];
    f.m.epoch = t->epoch;
    f.m.nonce = s->link_nonce[t - s->m][l - s->m];
    if (f.m.type == ZAB_MSG_PROPOSAL) {
        if (zab_counter_of(last) == 0 || zab_epoch_of(last) > t->epoch) {
            f.m.type = ZAB_MSG_NEWLEADER; /* no duplicate to forge */
        } else {
            f.m.zxid2 = last - 1; /* a duplicate of our last entry */
            f.m.data = (struct zab_buf){junk, sizeof(junk)};
        }
    }
    bool has_zxid = f.m.type != ZAB_MSG_LEADERINFO && f.m.type != ZAB_MSG_REQUEST &&
                    f.m.type != ZAB_MSG_FOLLOWERINFO;
    f.m.zxid = has_zxid && zab_epoch_of(last) <= t->epoch ? last : 0;
    return f;
}

/* Messages the leader must refuse under a synced follower's live session nonce. */
static struct forgery out_of_phase_at_leader(struct sim *s, struct member *t, struct member *fo)
{
    uint64_t last = zab_last_logged(t->z);
    struct forgery f = {"out of phase at the leader", fo->id, {0}, EXPECT_REFUSED};
    f.m.epoch = t->epoch;
    f.m.nonce = s->link_nonce[fo - s->m][t - s->m];
    switch (rng_below(&s->rng, 5)) {
    case 0: f.m.type = ZAB_MSG_ACK; f.m.zxid = last + 1; f.what = "ACK beyond our log"; break;
    case 1: f.m.type = ZAB_MSG_ACKNL; f.m.zxid = last + 1; break;
    case 2: f.m.type = ZAB_MSG_PING; f.m.flags = ZAB_MSG_F_ESTABLISHED; break;
    case 3: f.m.type = ZAB_MSG_ACKEPOCH; f.m.zxid = last; break;
    default: f.m.type = ZAB_MSG_UPTODATE; f.m.zxid = last; break;
    }
    if (zab_epoch_of(f.m.zxid) > t->epoch || zab_counter_of(f.m.zxid) > ZAB_COUNTER_MAX_DEFAULT) {
        f.m = (struct zab_msg){.type = ZAB_MSG_LEADERINFO, .epoch = t->epoch, .nonce = f.m.nonce};
    }
    return f;
}

/* A newer acceptedEpoch to an established leader: once in a while, never a steady stream. */
static struct forgery newer_promise(struct sim *s, struct member *t)
{
    struct forgery f = {"FOLLOWERINFO with a newer epoch", other_id(s, t), {0}, EXPECT_ANY};
    f.m = (struct zab_msg){.type = ZAB_MSG_FOLLOWERINFO,
                           .epoch = t->epoch + 1 + (uint32_t)rng_below(&s->rng, 2),
                           .nonce = rng_next(&s->rng)};
    s->hostile_promise_at = s->now / UNITS_PER_TICK;
    return f;
}

static void deliver(struct sim *s, struct member *t, const struct forgery *f)
{
    struct zab_msg m = f->m;
    uint8_t buf[128];
    if (m.type >= ZAB_MSG_VOTE && m.type <= ZAB_MSG_TYPE_MAX) { /* through the codec, as sent */
        size_t len = 0;
        ZK_ASSERT(zab_msg_encode(&f->m, buf, sizeof(buf), &len) == 0);
        ZK_ASSERT(zab_msg_decode(buf, len, &m) == 0);
    }
    enum zab_role role = t->role;
    uint32_t leader = t->leader;
    bool established = t->established;
    struct zab_event ev = {.type = ZAB_RECEIVE};
    ev.receive.from = f->from;
    ev.receive.msg = &m;
    int rc = sim_step(s, t, &ev);
    trace(s, "m%u <- forged %s (%s) claiming %u: %s", t->id, zab_msg_type_name(m.type), f->what,
          f->from, zab_strerror(rc));
    s->res->forged++;
    s->res->refused += rc == ZAB_EINVAL;
    if (f->expect == EXPECT_REFUSED && rc != ZAB_EINVAL) {
        violation(s, "hostile: m%u took a forged %s (%s) claiming %u", t->id,
                  zab_msg_type_name(m.type), f->what, f->from);
    }
    if (f->expect == EXPECT_KEEP_ROLE &&
        (t->role != role || t->leader != leader || t->established != established)) {
        violation(s, "hostile: a forged %s (%s) claiming %u moved established m%u", 
                  zab_msg_type_name(m.type), f->what, f->from, t->id);
    }
}

/* The leader an established follower follows, if it is an established leader as well. */
static struct member *leader_of(struct sim *s, const struct member *fo)
{
    struct member *l = fo != NULL ? member_by_id(s, fo->leader) : NULL;
    return l != NULL && is_established_leader(l) ? l : NULL;
}

/* Forgeries that must leave the ensemble as it is: they run in the liveness phase too. */
static bool harmless(struct sim *s, struct forgery *f, struct member **target)
{
    struct member *t = NULL, *fo = NULL;
    switch (rng_below(&s->rng, 5)) {
    case 0:
        if ((t = pick(s, is_up)) != NULL) {
            *f = out_of_range(s, t);
        }
        break;
    case 1:
        if ((t = pick(s, is_up)) != NULL) {
            *f = unknown_sender(s, t);
        }
        break;
    case 2:
        if ((t = pick(s, is_established_follower)) != NULL ||
            (t = pick(s, is_established_leader)) != NULL) {
            *f = vote_at_established(s, t);
        }
        break;
    case 3:
        if ((t = pick(s, is_established_follower)) != NULL && member_by_id(s, t->leader)) {
            *f = out_of_phase_at_follower(s, t);
        } else {
            t = NULL;
        }
        break;
    default:
        fo = pick(s, is_established_follower);
        if ((t = leader_of(s, fo)) != NULL) {
            *f = out_of_phase_at_leader(s, t, fo);
        }
        break;
    }
    *target = t;
    return t != NULL;
}

/* Forgeries a real member could also send (in-range votes, a newer promise, random fields with
 * no live session): anything may follow but a safety violation. Safety phase only. */
static bool disruptive(struct sim *s, struct forgery *f, struct member **target)
{
    struct member *t = pick(s, is_up);
    if (t == NULL) {
        return false;
    }
    uint64_t tick = s->now / UNITS_PER_TICK;
    struct member *l = pick(s, is_established_leader);
    if (l != NULL && tick > s->hostile_promise_at + 30 && rng_chance(&s->rng, 100000)) {
        *f = newer_promise(s, l);
        *target = l;
        return true;
    }
    *f = (struct forgery){"random fields", other_id(s, t), plausible(s, t), EXPECT_ANY};
    *target = t;
    return true;
}

void hostile_inject(struct sim *s)
{
    if (s->n < 2) {
        return;
    }
    uint32_t count = 1 + (uint32_t)rng_below(&s->rng, 3);
    for (uint32_t k = 0; k < count && !s->res->violation; k++) {
        struct forgery f;
        struct member *t = NULL;
        bool ok = !s->liveness && rng_chance(&s->rng, 300000) ? disruptive(s, &f, &t)
                                                               : harmless(s, &f, &t);
        if (ok) {
            deliver(s, t, &f);
        }
    }
}
