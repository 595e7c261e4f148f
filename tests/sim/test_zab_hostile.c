/* Targeted hostile-message tests of the Zab core on a tiny perfect network (instant FIFO links,
 * instant disks): the known bugs of issue 10 (FOLLOWERINFO with epoch 0xfffffffe, the epoch
 * ceiling, counter exhaustion, forged looking votes) and the refusals that replaced assertions
 * (TRUNC/SNAP below applied). Each test builds an established ensemble, forges, and checks both
 * the refusal and that the ensemble still commits. */
#include <criterion/criterion.h>
#include <string.h>

#include "consensus/zab.h"

#define NET_MAX 5
#define QUEUE_MAX 8192
#define MSG_BYTES 256

struct qmsg {
    uint32_t from, to; /* indexes */
    size_t len;
    uint8_t buf[MSG_BYTES];
};

struct net {
    uint32_t n;
    struct zab *z[NET_MAX];
    struct zab_config cfg[NET_MAX];
    bool down[NET_MAX];            /* crashed: receives and sends nothing */
    uint64_t to_persist[NET_MAX];  /* zxid to report with PERSISTED, 0 if none */
    uint64_t last_nonce[NET_MAX];  /* nonce of the last non-vote message each sent */
    uint64_t commits[NET_MAX];
    uint32_t accepted[NET_MAX];
    unsigned flags_seen[NET_MAX];  /* every update flag since net_establish */
    bool led[NET_MAX];             /* an update said LEADING since net_establish */
    struct qmsg *q;
    size_t qhead, qtail;
    uint64_t next_payload;
};

static void net_exec(struct net *nt, uint32_t i, const struct zab_update *up)
{
    nt->flags_seen[i] |= up->flags;
    nt->led[i] = nt->led[i] || up->role == ZAB_LEADING;
    if (up->flags & ZAB_UPD_ACCEPTED_EPOCH) {
        nt->accepted[i] = up->accepted_epoch;
    }
    if (up->n_entries > 0) {
        nt->to_persist[i] = up->entries[up->n_entries - 1].zxid;
    }
    nt->commits[i] += up->n_commits;
    for (size_t k = 0; k < up->n_msgs; k++) {
        const struct zab_out_msg *om = &up->msgs[k];
        uint32_t to = om->to - 1;
        if (om->msg.type != ZAB_MSG_VOTE) {
            nt->last_nonce[i] = om->msg.nonce;
        }
        if (to >= nt->n || nt->down[to]) { /* a forged id's: nobody listens */
            continue;
        }
        cr_assert_lt(nt->qtail - nt->qhead, QUEUE_MAX, "network queue overflow");
        struct qmsg *qm = &nt->q[nt->qtail++ % QUEUE_MAX];
        qm->from = i;
        qm->to = to;
        cr_assert_eq(zab_msg_encode(&om->msg, qm->buf, sizeof(qm->buf), &qm->len), 0);
    }
}

static int net_step(struct net *nt, uint32_t i, const struct zab_event *ev, struct zab_update *up)
{
    int rc = zab_step(nt->z[i], ev, up);
    net_exec(nt, i, up);
    return rc;
}

static void net_start_inc(struct net *nt, uint32_t i, uint32_t accepted, uint32_t current,
                          uint64_t incarnation)
{
    nt->z[i] = zab_new(&nt->cfg[i]);
    cr_assert_not_null(nt->z[i]);
    struct zab_event ev = {.type = ZAB_START};
    ev.start.accepted_epoch = accepted;
    ev.start.current_epoch = current;
    ev.start.incarnation = incarnation;
    struct zab_update up;
    cr_assert_eq(net_step(nt, i, &ev, &up), 0);
}

static void net_start(struct net *nt, uint32_t i, uint32_t accepted, uint32_t current)
{
    net_start_inc(nt, i, accepted, current, 1);
}

static void net_init(struct net *nt, uint32_t n, uint32_t counter_max)
{
    memset(nt, 0, sizeof(*nt));
    nt->n = n;
    nt->q = calloc(QUEUE_MAX, sizeof(*nt->q));
    cr_assert_not_null(nt->q);
    uint32_t ids[NET_MAX] = {1, 2, 3, 4, 5};
    for (uint32_t i = 0; i < n; i++) {
        zab_config_default(&nt->cfg[i], ids[i], n, ids);
        nt->cfg[i].counter_max = counter_max;
    }
}

static void net_free(struct net *nt)
{
    for (uint32_t i = 0; i < nt->n; i++) {
        zab_free(nt->z[i]);
    }
    free(nt->q);
}

/* Delivers messages and disk completions until nothing is left. */
static void net_settle(struct net *nt)
{
    for (bool busy = true; busy;) {
        busy = false;
        struct zab_update up;
        while (nt->qhead < nt->qtail) {
            struct qmsg *qm = &nt->q[nt->qhead++ % QUEUE_MAX];
            if (nt->down[qm->to] || nt->down[qm->from]) {
                continue;
            }
            struct zab_msg m;
            cr_assert_eq(zab_msg_decode(qm->buf, qm->len, &m), 0);
            struct zab_event ev = {.type = ZAB_RECEIVE};
            ev.receive.from = qm->from + 1;
            ev.receive.msg = &m;
            (void)net_step(nt, qm->to, &ev, &up);
            busy = true;
        }
        for (uint32_t i = 0; i < nt->n; i++) {
            if (!nt->down[i] && nt->to_persist[i] != 0) {
                struct zab_event ev = {.type = ZAB_PERSISTED};
                ev.persisted.zxid = nt->to_persist[i];
                nt->to_persist[i] = 0;
                (void)net_step(nt, i, &ev, &up);
                busy = true;
            }
        }
    }
}

static void net_tick(struct net *nt, uint32_t ticks)
{
    for (uint32_t t = 0; t < ticks; t++) {
        for (uint32_t i = 0; i < nt->n; i++) {
            if (!nt->down[i]) {
                struct zab_event ev = {.type = ZAB_TICK};
                struct zab_update up;
                (void)net_step(nt, i, &ev, &up);
            }
        }
        net_settle(nt);
    }
}

/* Index of the one established leader whose live members are all established, or -1. */
static int net_leader(const struct net *nt)
{
    int leader = -1;
    for (uint32_t i = 0; i < nt->n; i++) {
        if (nt->down[i]) {
            continue;
        }
        if (!zab_established(nt->z[i])) {
            return -1;
        }
        if (zab_role(nt->z[i]) == ZAB_LEADING) {
            leader = (int)i;
        }
    }
    return leader;
}

static uint32_t net_establish(struct net *nt)
{
    for (uint32_t t = 0; t < 100 && net_leader(nt) < 0; t++) {
        net_tick(nt, 1);
    }
    int l = net_leader(nt);
    cr_assert_geq(l, 0, "no leader established within 100 ticks");
    for (uint32_t i = 0; i < nt->n; i++) {
        nt->flags_seen[i] = 0;
        nt->led[i] = false;
    }
    return (uint32_t)l;
}

static int net_submit(struct net *nt, uint32_t i, struct zab_update *up)
{
    uint8_t payload[8];
    uint64_t id = ++nt->next_payload;
    memcpy(payload, &id, sizeof(id));
    struct zab_event ev = {.type = ZAB_SUBMIT};
    ev.submit.payload = (struct zab_buf){payload, sizeof(payload)};
    return net_step(nt, i, &ev, up);
}

/* Submits one write at the leader and checks that every live member applies it. */
static void expect_commits(struct net *nt)
{
    uint32_t l = net_establish(nt);
    uint64_t before[NET_MAX];
    memcpy(before, nt->commits, sizeof(before));
    struct zab_update up;
    cr_assert_eq(net_submit(nt, l, &up), ZAB_OK);
    net_tick(nt, 2);
    for (uint32_t i = 0; i < nt->n; i++) {
        cr_assert(nt->down[i] || nt->commits[i] > before[i], "member %u did not commit", i + 1);
    }
}

/* Feeds a forged message; returns zab_step's code and leaves the update in *up. */
static int forge(struct net *nt, uint32_t to, uint32_t from_id, struct zab_msg m,
                 struct zab_update *up)
{
    struct zab_event ev = {.type = ZAB_RECEIVE};
    ev.receive.from = from_id;
    ev.receive.msg = &m;
    return net_step(nt, to, &ev, up);
}

static void expect_refused(struct net *nt, uint32_t to, uint32_t from_id, struct zab_msg m)
{
    struct zab_update up;
    int rc = forge(nt, to, from_id, m, &up);
    cr_assert_eq(rc, ZAB_EINVAL, "%s (epoch %#x zxid %#llx) to member %u was not refused",
                 zab_msg_type_name(m.type), m.epoch, (unsigned long long)m.zxid, to + 1);
    cr_assert_eq(up.flags, 0);
    cr_assert_eq(up.n_msgs + up.n_entries + up.n_commits + up.n_apps, 0);
}

static void start_all(struct net *nt)
{
    for (uint32_t i = 0; i < nt->n; i++) {
        net_start(nt, i, 0, 0);
    }
}

/* Three members with an established leader l that committed one write in epoch e; f follows. */
static void three_with_one_write(struct net *nt, uint32_t *l, uint32_t *f, uint32_t *e)
{
    net_init(nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    start_all(nt);
    *l = net_establish(nt);
    *f = (*l + 1) % 3;
    struct zab_update up;
    cr_assert_eq(net_submit(nt, *l, &up), ZAB_OK);
    *e = up.epoch;
    net_settle(nt);
}

Test(zab_hostile, followerinfo_top_epochs_refused)
{
    struct net nt;
    net_init(&nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    start_all(&nt);
    uint32_t l = net_establish(&nt), f = (l + 1) % 3;
    static const uint32_t epochs[] = {0xfffffffeu, 0xffffffffu, ZAB_EPOCH_MAX + 1};
    for (size_t k = 0; k < 3; k++) {
        struct zab_msg m = {.type = ZAB_MSG_FOLLOWERINFO, .epoch = epochs[k], .nonce = 7};
        expect_refused(&nt, l, f + 1, m);
        expect_refused(&nt, f, l + 1, m);
    }
    cr_assert_lt(nt.accepted[l], 10, "acceptedEpoch moved");
    /* an election afterwards works: the leader's link drops everywhere */
    for (uint32_t i = 0; i < 3; i++) {
        if (i != l) {
            struct zab_event ev = {.type = ZAB_PEER_DOWN, .peer.id = l + 1};
            struct zab_update up;
            (void)net_step(&nt, i, &ev, &up);
        }
    }
    net_settle(&nt);
    expect_commits(&nt);
    net_free(&nt);
}

Test(zab_hostile, epoch_ceiling_is_usable_once_then_nobody_aborts)
{
    struct net nt;
    net_init(&nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    net_start(&nt, 0, ZAB_EPOCH_MAX - 1, 3);
    net_start(&nt, 1, 3, 3);
    net_start(&nt, 2, 3, 3);
    uint32_t l = net_establish(&nt);
    cr_assert_eq(nt.accepted[l], ZAB_EPOCH_MAX, "the last epoch is a valid one");
    expect_commits(&nt);
    /* now no new epoch exists: every leader gives up, nobody aborts, nobody is established */
    for (uint32_t i = 0; i < 3; i++) {
        if (i != l) {
            struct zab_event ev = {.type = ZAB_PEER_DOWN, .peer.id = l + 1};
            struct zab_update up;
            (void)net_step(&nt, i, &ev, &up);
        }
    }
    nt.down[l] = true;
    for (uint32_t i = 0; i < 3; i++) {
        nt.flags_seen[i] = 0;
        nt.led[i] = false;
    }
    for (uint32_t t = 0; t < 200; t++) {
        net_tick(&nt, 1);
        for (uint32_t i = 0; i < 3; i++) {
            cr_assert(nt.down[i] || !zab_established(nt.z[i]), "established past the ceiling");
        }
    }
    cr_assert(nt.led[0] || nt.led[1] || nt.led[2], "someone tried to lead, and gave up");
    for (uint32_t i = 0; i < 3; i++) {
        cr_assert(nt.down[i] || (nt.flags_seen[i] & ZAB_UPD_ROLE), "role changes were reported");
        cr_assert(nt.down[i] || nt.accepted[i] <= ZAB_EPOCH_MAX);
    }
    net_free(&nt);
}

Test(zab_hostile, counter_exhaustion_steps_down_on_the_tick)
{
    struct net nt;
    net_init(&nt, 3, 3);
    start_all(&nt);
    uint32_t l = net_establish(&nt);
    struct zab_update up;
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(net_submit(&nt, l, &up), ZAB_OK);
    }
    net_settle(&nt);
    int rc = net_submit(&nt, l, &up);
    cr_assert_eq(rc, ZAB_EBUSY, "counter exhausted: back-pressure, not %s", zab_strerror(rc));
    cr_assert_eq(up.flags, 0, "a SUBMIT refused must not carry a role change");
    cr_assert_eq(up.n_msgs, 0);
    struct zab_event tick = {.type = ZAB_TICK};
    (void)net_step(&nt, l, &tick, &up);
    cr_assert(up.flags & ZAB_UPD_ROLE);
    cr_assert(up.flags & ZAB_UPD_LOST);
    cr_assert_eq(up.role, ZAB_LOOKING);
    cr_assert_gt(up.n_msgs, 0, "the step-down's votes go out with it");
    net_settle(&nt);
    expect_commits(&nt); /* a new epoch, a fresh counter */
    net_free(&nt);
}

Test(zab_hostile, looking_vote_from_the_leader_keeps_a_broadcast_follower)
{
    struct net nt;
    net_init(&nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    start_all(&nt);
    uint32_t l = net_establish(&nt);
    for (uint32_t f = 0; f < 3; f++) {
        if (f == l) {
            continue;
        }
        struct zab_msg v = {.type = ZAB_MSG_VOTE, .state = ZAB_LOOKING, .leader = f + 1,
                            .epoch = 50, .zxid = zab_zxid(50, 9), .nonce = 1000};
        struct zab_update up;
        cr_assert_eq(forge(&nt, f, l + 1, v, &up), ZAB_OK);
        cr_assert_eq(up.flags, 0, "the follower left its leader");
        cr_assert_eq(up.n_msgs, 1, "it answers with its own vote");
        cr_assert_eq(up.msgs[0].msg.state, ZAB_FOLLOWING);
        cr_assert_eq(up.msgs[0].msg.leader, l + 1);
    }
    net_settle(&nt);
    cr_assert_eq(net_leader(&nt), (int)l);
    expect_commits(&nt);
    net_free(&nt);
}

Test(zab_hostile, looking_vote_from_the_leader_frees_a_follower_in_discovery)
{
    struct net nt;
    net_init(&nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    net_start(&nt, 0, 0, 0); /* alone: the others' answers are forged by hand */
    struct zab_update up;
    struct zab_msg leading = {.type = ZAB_MSG_VOTE, .state = ZAB_LEADING, .leader = 2,
                              .epoch = 1, .nonce = 1};
    cr_assert_eq(forge(&nt, 0, 2, leading, &up), ZAB_OK);
    cr_assert_eq(up.role, ZAB_FOLLOWING, "joined the established leader 2");
    struct zab_msg looking = {.type = ZAB_MSG_VOTE, .state = ZAB_LOOKING, .leader = 3,
                              .epoch = 1, .nonce = 2};
    cr_assert_eq(forge(&nt, 0, 2, looking, &up), ZAB_OK);
    cr_assert_eq(up.role, ZAB_LOOKING, "its leader is looking: rejoin the election now");
    cr_assert(up.flags & ZAB_UPD_ROLE);
    net_free(&nt);
}

Test(zab_hostile, one_newer_promise_does_not_depose_an_established_leader)
{
    struct net nt;
    uint32_t l, f, e;
    three_with_one_write(&nt, &l, &f, &e);
    struct zab_update up;
    struct zab_msg m = {.type = ZAB_MSG_FOLLOWERINFO, .epoch = e + 1, .nonce = 99};
    cr_assert_eq(forge(&nt, l, f + 1, m, &up), ZAB_OK);
    cr_assert_eq(up.flags, 0, "deposed by one message");
    net_tick(&nt, 40); /* f's live session proves the FOLLOWERINFO forged */
    cr_assert_eq(net_leader(&nt), (int)l);
    cr_assert_eq(nt.flags_seen[l] & (ZAB_UPD_ROLE | ZAB_UPD_LOST), 0);
    /* kept up while f is alive, the forged promise never gets past the contest */
    for (uint32_t t = 0; t < 3 * nt.cfg[l].sync_limit_ticks; t++) {
        m.nonce++;
        (void)forge(&nt, l, f + 1, m, &up);
        cr_assert_eq(up.role, ZAB_LEADING);
        net_tick(&nt, 1);
    }
    cr_assert_eq(nt.flags_seen[l] & (ZAB_UPD_ROLE | ZAB_UPD_LOST), 0);
    struct zab_counters st;
    zab_get_counters(nt.z[l], &st);
    cr_assert_eq(st.contests_conceded, 0);
    cr_assert_geq(st.followerinfo_forged, 3 * nt.cfg[l].sync_limit_ticks);
    /* kept up for syncLimit ticks by a member whose session is gone, as a locked-out member
     * does (f is cut off: its session falls silent), the promise is believed */
    nt.down[f] = true;
    bool stepped_down = false;
    for (uint32_t t = 0; t < 20 + nt.cfg[l].sync_limit_ticks && !stepped_down; t++) {
        m.nonce++;
        (void)forge(&nt, l, f + 1, m, &up);
        stepped_down = up.role != ZAB_LEADING;
        net_tick(&nt, 1);
        stepped_down = stepped_down || zab_role(nt.z[l]) != ZAB_LEADING;
    }
    cr_assert(stepped_down);
    nt.down[f] = false;
    net_tick(&nt, 40); /* f, back, notices its leader went away */
    net_settle(&nt);
    expect_commits(&nt);
    cr_assert_gt(nt.accepted[l], e, "a new epoch"); /* the forged promise was nobody's */
    net_free(&nt);
}

Test(zab_hostile, forged_followerinfo_in_a_degraded_ensemble_keeps_the_quorum)
{
    struct net nt;
    net_init(&nt, 5, ZAB_COUNTER_MAX_DEFAULT);
    start_all(&nt);
    nt.down[3] = nt.down[4] = true; /* quorum 3 of 5: no spare member */
    uint32_t l = net_establish(&nt), f = l == 0 ? 1 : 0;
    struct zab_update up;
    struct zab_msg m = {.type = ZAB_MSG_FOLLOWERINFO, .epoch = 1, .nonce = 12345};
    cr_assert_eq(forge(&nt, l, f + 1, m, &up), ZAB_OK); /* resets f's session at the leader */
    net_tick(&nt, 40);
    cr_assert_eq(nt.flags_seen[l] & ZAB_UPD_LOST, 0, "the leader lost its quorum to one message");
    cr_assert_eq(net_leader(&nt), (int)l);
    expect_commits(&nt);
    net_free(&nt);
}

/* Brings follower f of an established ensemble back to a new sync session whose LEADERINFO we
 * forge, so that it waits for the stream head; returns its session nonce. */
static uint64_t follower_awaiting_head(struct net *nt, uint32_t l, uint32_t f, uint32_t epoch)
{
    struct zab_update up;
    struct zab_msg gap = {.type = ZAB_MSG_PING, .epoch = epoch, .zxid2 = zab_zxid(epoch, 90),
                          .nonce = nt->last_nonce[f]};
    cr_assert_eq(forge(nt, f, l + 1, gap, &up), ZAB_OK); /* a gap: new session */
    cr_assert_eq(up.n_msgs, 2);
    cr_assert_eq(up.msgs[0].msg.type, ZAB_MSG_PING); /* it leaves the old one first */
    cr_assert_eq(up.msgs[0].msg.flags, ZAB_MSG_F_LEAVING);
    cr_assert_eq(up.msgs[1].msg.type, ZAB_MSG_FOLLOWERINFO);
    uint64_t nonce = up.msgs[1].msg.nonce;
    nt->qtail = nt->qhead; /* the leader never hears of it */
    struct zab_msg li = {.type = ZAB_MSG_LEADERINFO, .epoch = epoch, .nonce = nonce};
    cr_assert_eq(forge(nt, f, l + 1, li, &up), ZAB_OK);
    cr_assert_eq(up.msgs[0].msg.type, ZAB_MSG_ACKEPOCH);
    nt->qtail = nt->qhead;
    return nonce;
}

Test(zab_hostile, trunc_and_snap_below_applied_are_refused)
{
    struct net nt;
    net_init(&nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    start_all(&nt);
    uint32_t l = net_establish(&nt), f = (l + 1) % 3;
    struct zab_update up;
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(net_submit(&nt, l, &up), ZAB_OK);
    }
    uint32_t e = up.epoch;
    net_tick(&nt, 2);
    cr_assert_eq(nt.commits[f], 4);
    uint64_t nonce = follower_awaiting_head(&nt, l, f, e);
    /* these used to abort on an assertion */
    struct zab_msg trunc = {.type = ZAB_MSG_TRUNC, .epoch = e, .zxid = zab_zxid(e, 2),
                            .nonce = nonce};
    expect_refused(&nt, f, l + 1, trunc);
    struct zab_msg snap = {.type = ZAB_MSG_SNAP, .epoch = e, .zxid = zab_zxid(e, 1),
                           .nonce = nonce};
    expect_refused(&nt, f, l + 1, snap);
    struct zab_msg diff = {.type = ZAB_MSG_DIFF, .epoch = e, .zxid = zab_zxid(e, 4),
                           .nonce = nonce};
    cr_assert_eq(forge(&nt, f, l + 1, diff, &up), ZAB_OK, "a head at our log is taken");
    net_free(&nt);
}

Test(zab_hostile, out_of_range_fields_are_refused)
{
    struct net nt;
    net_init(&nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    start_all(&nt);
    uint32_t l = net_establish(&nt), f = (l + 1) % 3;
    struct zab_update up;
    (void)net_submit(&nt, l, &up);
    uint32_t e = up.epoch;
    net_settle(&nt);
    uint64_t fn = nt.last_nonce[f]; /* f's live session: only the range check can stop these */
    const struct zab_msg at_follower[] = {
        {.type = ZAB_MSG_COMMIT, .epoch = e, .zxid = zab_zxid(e, 0xffffffffu), .nonce = fn},
        {.type = ZAB_MSG_PROPOSAL, .epoch = e, .zxid = zab_zxid(e, 0xffffffffu),
         .zxid2 = zab_zxid(e, 1), .nonce = fn},
        {.type = ZAB_MSG_PROPOSAL, .epoch = e, .zxid = zab_zxid(e + 1, 2), .zxid2 = zab_zxid(e, 1),
         .nonce = fn}, /* an epoch above the message's own */
        {.type = ZAB_MSG_PROPOSAL, .epoch = e, .zxid = zab_zxid(e, 0), .nonce = fn},
        {.type = ZAB_MSG_COMMIT, .epoch = e, .zxid = zab_zxid(e, 1), .flags = 0x80, .nonce = fn},
        {.type = ZAB_MSG_COMMIT, .epoch = e, .zxid = zab_zxid(e, 1), .tag = 1, .nonce = fn},
        {.type = ZAB_MSG_COMMIT, .epoch = e, .zxid = zab_zxid(e, 1), .state = 1, .nonce = fn},
        {.type = ZAB_MSG_VOTE, .state = ZAB_LOOKING, .leader = 1, .nonce = ZAB_ROUND_MAX + 1},
        {.type = ZAB_MSG_VOTE, .state = 3, .leader = 1, .nonce = 1},
        {.type = ZAB_MSG_VOTE, .state = ZAB_FOLLOWING, .leader = 42, .nonce = 1},
        {.type = ZAB_MSG_VOTE, .state = ZAB_FOLLOWING, .leader = 0, .nonce = 1}, /* no one */
        {.type = ZAB_MSG_VOTE, .state = ZAB_LOOKING, .leader = 0, .zxid = 5, .nonce = 1},
        {.type = 0, .epoch = e, .nonce = fn},
        {.type = ZAB_MSG_TYPE_MAX + 1, .epoch = e, .nonce = fn},
    };
    for (size_t k = 0; k < sizeof(at_follower) / sizeof(at_follower[0]); k++) {
        expect_refused(&nt, f, l + 1, at_follower[k]);
    }
    static const uint8_t junk[4] = {1, 2, 3, 4};
    struct zab_msg with_data = {.type = ZAB_MSG_ACK, .epoch = e, .zxid = zab_zxid(e, 1),
                                .nonce = fn, .data = {junk, sizeof(junk)}};
    expect_refused(&nt, l, f + 1, with_data);
    struct zab_msg ack_ahead = {.type = ZAB_MSG_ACK, .epoch = e, .zxid = zab_zxid(e, 2),
                                .nonce = fn};
    expect_refused(&nt, l, f + 1, ack_ahead); /* we never proposed (e,2) */
    struct zab_msg epoch2 = {.type = ZAB_MSG_ACKEPOCH, .epoch = e, .epoch2 = e + 1, .nonce = fn};
    expect_refused(&nt, l, f + 1, epoch2);
    struct zab_msg li0 = {.type = ZAB_MSG_LEADERINFO, .epoch = 0, .nonce = fn};
    expect_refused(&nt, f, l + 1, li0);
    for (uint32_t id = 0; id < 2; id++) { /* id 0 and ourselves */
        struct zab_msg v = {.type = ZAB_MSG_VOTE, .leader = 1, .nonce = 1};
        expect_refused(&nt, f, id == 0 ? 0 : f + 1, v);
    }
    /* any other id may ask an established voter for its leader (joiners and observers do) */
    struct zab_msg ask = {.type = ZAB_MSG_VOTE, .leader = 0, .nonce = 1};
    struct zab_update ans;
    cr_assert_eq(forge(&nt, f, 77, ask, &ans), ZAB_OK);
    cr_assert_eq(ans.n_msgs, 1);
    cr_assert_eq(ans.msgs[0].to, 77);
    cr_assert_eq(ans.msgs[0].msg.state, ZAB_FOLLOWING);
    cr_assert_eq(ans.msgs[0].msg.leader, l + 1);
    cr_assert_eq(ans.role, ZAB_FOLLOWING);
    cr_assert_eq(ans.flags, 0);
    struct zab_msg answer_77 = {.type = ZAB_MSG_VOTE, .leader = 1, .nonce = 1,
                                 .state = ZAB_FOLLOWING};
    expect_refused(&nt, f, 77, answer_77); /* answers come from voters only */
    expect_commits(&nt);
    net_free(&nt);
}

Test(zab_hostile, election_round_saturates)
{
    struct net nt;
    net_init(&nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    net_start(&nt, 0, 0, 0);
    struct zab_update up;
    struct zab_msg top = {.type = ZAB_MSG_VOTE, .state = ZAB_LOOKING, .leader = 2,
                          .nonce = ZAB_ROUND_MAX};
    cr_assert_eq(forge(&nt, 0, 2, top, &up), ZAB_OK);
    cr_assert_gt(up.n_msgs, 0);
    cr_assert_eq(up.msgs[0].msg.nonce, ZAB_ROUND_MAX, "adopted the round");
    struct zab_msg leading = {.type = ZAB_MSG_VOTE, .state = ZAB_LEADING, .leader = 3,
                              .epoch = 1, .nonce = 1};
    cr_assert_eq(forge(&nt, 0, 3, leading, &up), ZAB_OK);
    cr_assert_eq(up.role, ZAB_FOLLOWING);
    struct zab_event down = {.type = ZAB_PEER_DOWN, .peer.id = 3};
    (void)net_step(&nt, 0, &down, &up);
    cr_assert_eq(up.role, ZAB_LOOKING);
    cr_assert_gt(up.n_msgs, 0);
    cr_assert_eq(up.msgs[0].msg.nonce, ZAB_ROUND_MAX, "a new election stays at the ceiling");
    net_free(&nt);
}

/* How many messages of a sync stream (head, proposals, NEWLEADER) an update sends. */
static size_t stream_msgs(const struct zab_update *up)
{
    size_t n = 0;
    for (size_t k = 0; k < up->n_msgs; k++) {
        uint8_t t = up->msgs[k].msg.type;
        n += t == ZAB_MSG_DIFF || t == ZAB_MSG_TRUNC || t == ZAB_MSG_SNAP ||
             t == ZAB_MSG_PROPOSAL || t == ZAB_MSG_NEWLEADER;
    }
    return n;
}

Test(zab_hostile, sync_streams_are_rate_limited_per_peer)
{
    struct net nt;
    net_init(&nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    start_all(&nt);
    uint32_t l = net_establish(&nt), f = (l + 1) % 3;
    struct zab_update up;
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(net_submit(&nt, l, &up), ZAB_OK);
    }
    uint32_t e = up.epoch;
    net_tick(&nt, 3);
    nt.down[f] = true; /* the forger speaks for f; f itself hears nothing of it */
    net_tick(&nt, 10); /* f's session falls silent: FOLLOWERINFOs are no longer contested */
    size_t streamed = 0;
    for (uint64_t nonce = 1000; nonce < 1010; nonce++) { /* ten sessions in one tick */
        struct zab_msg fi = {.type = ZAB_MSG_FOLLOWERINFO, .epoch = e, .nonce = nonce};
        cr_assert_eq(forge(&nt, l, f + 1, fi, &up), ZAB_OK);
        struct zab_msg ack = {.type = ZAB_MSG_ACKEPOCH, .epoch = e, .epoch2 = e, .nonce = nonce,
                              .flags = ZAB_MSG_F_ALREADY};
        cr_assert_eq(forge(&nt, l, f + 1, ack, &up), ZAB_OK);
        streamed += stream_msgs(&up) > 0;
        /* it leaves its own session (it knows the nonce), so the next one is not contested */
        struct zab_msg leave = {.type = ZAB_MSG_PING, .epoch = e, .nonce = nonce,
                                .flags = ZAB_MSG_F_LEAVING};
        cr_assert_eq(forge(&nt, l, f + 1, leave, &up), ZAB_OK);
    }
    cr_assert_leq(streamed, 1, "%zu sync streams for one peer within a tick", streamed);
    struct zab_event tick = {.type = ZAB_TICK};
    size_t later = 0;
    for (uint32_t t = 0; t < nt.cfg[l].retry_ticks + 1; t++) {
        (void)net_step(&nt, l, &tick, &up);
        later += stream_msgs(&up) > 0;
    }
    cr_assert_eq(later, 1, "the deferred sync goes out on a tick");
    net_free(&nt);
}

/* ---- Contested sessions (issue 10): a FOLLOWERINFO in the name of a member whose session is
 * live is held until the session proves alive (forged: dropped) or falls silent (conceded). */

static struct zab_counters stats_of(const struct net *nt, uint32_t i)
{
    struct zab_counters st;
    zab_get_counters(nt->z[i], &st);
    return st;
}

static bool none_lost(const struct net *nt)
{
    for (uint32_t i = 0; i < nt->n; i++) {
        if (nt->flags_seen[i] & (ZAB_UPD_LOST | ZAB_UPD_ROLE)) {
            return false;
        }
    }
    return true;
}

Test(zab_hostile, forged_followerinfo_against_a_live_follower_has_no_effect)
{
    struct net nt;
    uint32_t l, f, e;
    three_with_one_write(&nt, &l, &f, &e);
    struct zab_update up;
    /* the reproducer of issue 10: the current epoch, any nonce */
    struct zab_msg m = {.type = ZAB_MSG_FOLLOWERINFO, .epoch = e, .nonce = 12345};
    cr_assert_eq(forge(&nt, l, f + 1, m, &up), ZAB_OK);
    cr_assert_eq(up.flags, 0);
    cr_assert_eq(up.n_msgs, 0, "no LEADERINFO for the contender while the session is live");
    cr_assert_eq(forge(&nt, l, f + 1, m, &up), ZAB_EINVAL, "a duplicate of the contender");
    net_tick(&nt, 3 * nt.cfg[l].sync_limit_ticks);
    cr_assert(none_lost(&nt), "a member lost its leader to one forged FOLLOWERINFO");
    cr_assert_eq(net_leader(&nt), (int)l);
    struct zab_counters st = stats_of(&nt, l);
    cr_assert_eq(st.sessions_contested, 1);
    cr_assert_eq(st.followerinfo_forged, 1);
    cr_assert_eq(st.contests_conceded, 0);
    expect_commits(&nt);
    net_free(&nt);
}

Test(zab_hostile, forged_followerinfo_as_every_follower_every_tick_costs_nothing)
{
    struct net nt;
    net_init(&nt, 5, ZAB_COUNTER_MAX_DEFAULT);
    start_all(&nt);
    uint32_t l = net_establish(&nt);
    struct zab_update up;
    cr_assert_eq(net_submit(&nt, l, &up), ZAB_OK);
    uint32_t e = up.epoch;
    net_settle(&nt);
    uint64_t nonce = 1;
    for (uint32_t t = 0; t < 4 * nt.cfg[l].sync_limit_ticks; t++) {
        for (uint32_t f = 0; f < nt.n; f++) {
            if (f != l) {
                struct zab_msg m = {.type = ZAB_MSG_FOLLOWERINFO, .epoch = e + (t & 1),
                                    .nonce = nonce++};
                cr_assert_eq(forge(&nt, l, f + 1, m, &up), ZAB_OK);
                cr_assert_eq(up.flags, 0);
            }
        }
        net_tick(&nt, 1);
    }
    cr_assert(none_lost(&nt), "the forger cost a member its leader");
    cr_assert_eq(stats_of(&nt, l).contests_conceded, 0);
    expect_commits(&nt);
    net_free(&nt);
}

/* f crashes and comes back at once with a new incarnation and no log (its session at the
 * leader was live a moment ago): returns the ticks it took to be established again. */
static uint32_t restart_follower(struct net *nt, uint32_t l, uint32_t f, bool link_hint)
{
    nt->down[f] = true;
    zab_free(nt->z[f]);
    nt->z[f] = NULL;
    if (link_hint) { /* the leader's link to f closes with the process */
        struct zab_event ev = {.type = ZAB_PEER_DOWN};
        ev.peer.id = f + 1;
        struct zab_update up;
        (void)net_step(nt, l, &ev, &up);
    }
    nt->down[f] = false;
    net_start_inc(nt, f, nt->accepted[f], 0, 2);
    uint32_t t = 0;
    while (t < 100 && !(zab_established(nt->z[f]) && zab_role(nt->z[f]) == ZAB_FOLLOWING)) {
        net_tick(nt, 1);
        t++;
    }
    cr_assert_lt(t, 100, "the restarted follower did not rejoin");
    return t;
}

Test(zab_hostile, a_restarted_follower_still_rejoins)
{
    struct net nt;
    net_init(&nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    start_all(&nt);
    uint32_t l = net_establish(&nt), f = (l + 1) % 3;
    struct zab_update up;
    cr_assert_eq(net_submit(&nt, l, &up), ZAB_OK);
    net_tick(&nt, 2);
    /* no link hint (a paused process, a lost connection): the old session must fall silent */
    uint32_t slow = restart_follower(&nt, l, f, false);
    struct zab_counters st = stats_of(&nt, l);
    cr_assert_eq(st.contests_conceded, 1);
    cr_assert_leq(slow, 4 + 6 + 2, "rejoined in %u ticks (contest_ticks 6)", slow);
    cr_assert_eq(net_leader(&nt), (int)l, "the leader kept its followers");
    expect_commits(&nt);
    /* the link hint: the session is over, nothing to contest */
    uint32_t fast = restart_follower(&nt, l, f, true);
    cr_assert_eq(stats_of(&nt, l).sessions_contested, st.sessions_contested);
    cr_assert_lt(fast, slow);
    cr_log_info("restart rejoined in %u ticks without the link hint, %u with it", slow, fast);
    expect_commits(&nt);
    net_free(&nt);
}

Test(zab_hostile, a_follower_resync_is_not_contested)
{
    struct net nt;
    uint32_t l, f, e;
    three_with_one_write(&nt, &l, &f, &e);
    struct zab_update up;
    /* a ping that shows f a gap (forged with f's leader's nonce: f resyncs, leaving its old
     * session with PING LEAVING before the new FOLLOWERINFO) */
    struct zab_msg gap = {.type = ZAB_MSG_PING, .epoch = e, .zxid2 = zab_zxid(e, 90),
                          .nonce = nt.last_nonce[l]};
    cr_assert_eq(forge(&nt, f, l + 1, gap, &up), ZAB_OK);
    net_settle(&nt);
    cr_assert_eq(stats_of(&nt, l).sessions_contested, 0);
    net_tick(&nt, 2);
    cr_assert(zab_established(nt.z[f]), "the resync waited");
    /* the release takes the nonce: a forged one is refused */
    struct zab_msg leave = {.type = ZAB_MSG_PING, .epoch = e, .nonce = 777,
                            .flags = ZAB_MSG_F_LEAVING};
    expect_refused(&nt, l, f + 1, leave);
    expect_commits(&nt);
    net_free(&nt);
}

/* A VOTE's data is the sender's configuration (docs/consensus.md, "Learning a configuration from
 * votes"): anything else there is refused before it changes anything. */
Test(zab_hostile, malformed_vote_configurations_are_refused)
{
    struct net nt;
    net_init(&nt, 3, ZAB_COUNTER_MAX_DEFAULT);
    net_start(&nt, 0, 0, 0); /* alone: looking */
    nt.qtail = nt.qhead;
    uint8_t bad[][24] = {
        {1, 0, 2, 0, 0, 0},                      /* cut short */
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0},          /* no voters */
        {1, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0}, /* zxid counter 0xffffffff */
        {2, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, /* an id twice */
    };
    size_t lens[] = {6, 10, 14, 18};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        struct zab_msg v = {.type = ZAB_MSG_VOTE, .state = ZAB_LOOKING, .leader = 2, .nonce = 1,
                            .data = {bad[k], lens[k]}};
        expect_refused(&nt, 0, 2, v);
    }
    net_free(&nt);
}
