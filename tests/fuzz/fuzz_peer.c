/* fuzz_peer: three Zab cores (after ZAB_START) on an in-memory network, driven by a program read
 * from the input: deliver or drop queued messages, tick, report durability, submit, app
 * messages, link hints, and hostile messages from any sender id, either decoded from raw bytes
 * (zab_msg_decode) or built field by field, optionally with a live session's nonce, epoch and
 * zxids so they reach the checks past the session filter. The cores must never abort, and a
 * message they refuse (ZAB_EINVAL) must leave their state exactly as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "consensus/internal.h"
#include "fuzz_input.h"
#include "sim/cfg_bytes.h"

#define MEMBERS 3
#define QUEUE_MAX 1024
#define BUF_MAX 512 /* payloads stay below 256 bytes, so every message the cores send fits */

struct qmsg {
    uint8_t from, to;
    size_t len;
    uint8_t buf[BUF_MAX];
};

struct world {
    struct zab *z[MEMBERS];
    uint64_t appended[MEMBERS]; /* last zxid each was told to append (for PERSISTED) */
    struct qmsg *q;
    size_t head, count;
};

static struct qmsg queue_storage[QUEUE_MAX];

static void enqueue(struct world *w, uint8_t from, const struct zab_out_msg *om)
{
    struct zab_msg m = om->msg;
    if (m.type == ZAB_MSG_SNAP) {
        m.data = (struct zab_buf){NULL, 0}; /* the caller's state: none here */
    }
    if (w->count == QUEUE_MAX || om->to < 1 || om->to > MEMBERS) {
        return; /* a full link drops: bounded, as peer.c's queues are */
    }
    struct qmsg *qm = &w->q[(w->head + w->count) % QUEUE_MAX];
    qm->from = from;
    qm->to = (uint8_t)(om->to - 1);
    if (zab_msg_encode(&m, qm->buf, sizeof(qm->buf), &qm->len) == 0) {
        w->count++;
    }
}

static void exec_update(struct world *w, uint8_t i, const struct zab_update *up)
{
    if (up->flags & ZAB_UPD_INSTALL) {
        w->appended[i] = up->install_zxid;
    }
    if (up->flags & ZAB_UPD_TRUNCATE && w->appended[i] > up->truncate_to) {
        w->appended[i] = up->truncate_to;
    }
    if (up->n_entries > 0) {
        w->appended[i] = up->entries[up->n_entries - 1].zxid;
    }
    for (size_t k = 0; k < up->n_msgs; k++) {
        enqueue(w, i, &up->msgs[k]);
    }
}

/* The part of a core's state a message may change (not the output buffers, not the window,
 * which zab_step trims of applied entries before looking at the event). */
struct observed {
    uint32_t accepted, current, epoch, leader;
    uint64_t durable, committed, applied, last;
    enum zab_role role;
    bool established;
    struct election el;
    struct follower f;
    struct leader l;
    struct zab_members cur, pend, act; /* the configuration state */
    uint64_t cur_zxid, pend_zxid, act_zxid, cur_claim;
    bool has_pend;
};

static void observe(const struct zab *z, struct observed *o)
{
    memset(o, 0, sizeof(*o));
    o->accepted = z->accepted_epoch;
    o->current = z->current_epoch;
    o->epoch = z->epoch;
    o->leader = z->leader;
    o->durable = z->durable;
    o->committed = z->committed;
    o->applied = z->applied;
    o->last = ring_last(&z->log);
    o->role = z->role;
    o->established = z->established;
    o->el = z->el;
    o->f = z->f;
    o->l = z->l;
    o->cur = z->cur;
    o->pend = z->pend;
    o->act = z->act;
    o->cur_zxid = z->cur_zxid;
    o->pend_zxid = z->pend_zxid;
    o->act_zxid = z->act_zxid;
    o->cur_claim = z->cur_claim;
    o->has_pend = z->has_pend;
}

static bool tracing; /* FUZZ_TRACE=1: print every event, to read a crashing program */

static void trace_event(uint8_t i, const struct zab_event *ev)
{
    static const char *const names[] = {"?", "START", "RECEIVE", "TICK", "SUBMIT", "PERSISTED",
                                        "PEER_UP", "PEER_DOWN", "APP"};
    fprintf(stderr, "m%u %s", i + 1u, names[ev->type <= ZAB_APP ? ev->type : 0]);
    if (ev->type == ZAB_RECEIVE) {
        const struct zab_msg *m = ev->receive.msg;
        fprintf(stderr, " %s from %u e%u e2 %u z%#llx z2 %#llx n%#llx f%u s%u len %zu",
                zab_msg_type_name(m->type), ev->receive.from, m->epoch, m->epoch2,
                (unsigned long long)m->zxid, (unsigned long long)m->zxid2,
                (unsigned long long)m->nonce, m->flags, m->state, m->data.len);
    } else if (ev->type == ZAB_PERSISTED) {
        fprintf(stderr, " %#llx", (unsigned long long)ev->persisted.zxid);
    }
}

static void trace_result(const struct zab *z, int rc, const struct zab_update *up)
{
    fprintf(stderr, " -> %s flags %#x role %d e%u leader %u entries %zu commits %zu msgs %zu"
            " | last %#llx durable %#llx committed %#llx applied %#llx\n", zab_strerror(rc),
            up->flags, up->role, up->epoch, up->leader, up->n_entries, up->n_commits,
            up->n_msgs, (unsigned long long)ring_last(&z->log),
            (unsigned long long)z->durable, (unsigned long long)z->committed,
            (unsigned long long)z->applied);
}

static int step(struct world *w, uint8_t i, const struct zab_event *ev)
{
    struct observed before, after;
    observe(w->z[i], &before);
    struct zab_update up;
    if (tracing) {
        trace_event(i, ev);
    }
    int rc = zab_step(w->z[i], ev, &up);
    if (tracing) {
        trace_result(w->z[i], rc, &up);
    }
    if (ev->type == ZAB_RECEIVE && rc == ZAB_EINVAL) {
        observe(w->z[i], &after);
        ZK_ASSERT(memcmp(&before, &after, sizeof(before)) == 0); /* refused: nothing changed */
    }
    exec_update(w, i, &up);
    return rc;
}

static void receive(struct world *w, uint8_t to, uint32_t from, const struct zab_msg *m)
{
    struct zab_event ev = {.type = ZAB_RECEIVE};
    ev.receive.from = from;
    ev.receive.msg = m;
    (void)step(w, to, &ev);
}

static void deliver_next(struct world *w, bool drop)
{
    if (w->count == 0) {
        return;
    }
    struct qmsg *qm = &w->q[w->head];
    w->head = (w->head + 1) % QUEUE_MAX;
    w->count--;
    struct zab_msg m;
    ZK_ASSERT(zab_msg_decode(qm->buf, qm->len, &m) == 0); /* we encoded it */
    if (!drop) {
        receive(w, qm->to, qm->from + 1u, &m);
    }
}

/* A sender id: mostly members (forged or not), sometimes unknown ids or the receiver itself. */
static uint32_t sender(struct fz *in)
{
    uint8_t k = fz_u8(in);
    if (k < 200) {
        return 1u + k % MEMBERS;
    }
    return k < 220 ? 0 : k < 240 ? 99 : fz_u32(in);
}

static void op_raw(struct world *w, struct fz *in)
{
    uint8_t to = fz_u8(in) % MEMBERS;
    uint32_t from = sender(in);
    size_t len;
    const uint8_t *bytes = fz_bytes(in, fz_u16(in) % 1024, &len);
    struct zab_msg m;
    if (zab_msg_decode(bytes, len, &m) == 0) {
        receive(w, to, from, &m);
    }
}

/* The live session between `to` and `from` as `to` sees it, to graft onto a forged message. */
static void graft_live(const struct zab *z, uint32_t from, uint8_t what, struct zab_msg *m)
{
    int idx = leader_slot(z, from);
    if (what & 1) {
        m->nonce = z->role == ZAB_LEADING && idx >= 0 ? z->l.peers[idx].nonce : z->f.nonce;
    }
    if (what & 2) {
        m->epoch = z->epoch;
    }
    if (what & 4) {
        m->zxid = ring_last(&z->log) + (uint64_t)(int64_t)(int8_t)m->zxid;
    }
    if (what & 8) {
        m->zxid2 = ring_last(&z->log) - (m->zxid2 & 3);
    }
}

/* A well-formed VOTE configuration (docs/consensus.md, "Learning a configuration from votes")
 * from the fuzz bytes: 1..4 voters among ids 1..5, a claimed zxid near the receiver's log, and
 * sometimes the receiver's own pending change (the promotion path) or a pending one. */
static size_t vote_config(const struct zab *z, uint8_t live, const uint8_t *b, size_t len,
                          uint8_t *out)
{
    uint8_t k = len > 0 ? b[0] : 0;
    size_t n = 0;
    const struct zab_members *own = z->has_pend && (live & 0x40) ? &z->pend : NULL;
    uint32_t nv = own ? own->n_voters : 1u + k % 4;
    out[n++] = (uint8_t)nv;
    out[n++] = own ? (uint8_t)own->n_observers : 0;
    for (uint32_t i = 0; i < nv + (own ? own->n_observers : 0); i++) {
        uint32_t id = own ? (i < nv ? own->voters[i] : own->observers[i - nv]) : 1u + (k + i) % 5;
        for (int s = 0; s < 4; s++) {
            out[n++] = (uint8_t)(id >> (8 * s));
        }
    }
    uint64_t zx = own ? z->pend_zxid : ring_last(&z->log) + (uint64_t)(len > 1 ? b[1] % 8 : 1);
    for (int s = 0; s < 8; s++) {
        out[n++] = (uint8_t)(zx >> (8 * s));
    }
    if (live & 0x80) { /* a pending change above it */
        out[n++] = 2;
        out[n++] = 0;
        for (uint32_t id = 4; id <= 5; id++) {
            for (int s = 0; s < 4; s++) {
                out[n++] = (uint8_t)(id >> (8 * s));
            }
        }
        zx += 1 + (len > 2 ? b[2] % 4 : 0);
        for (int s = 0; s < 8; s++) {
            out[n++] = (uint8_t)(zx >> (8 * s));
        }
    }
    return n;
}

static void op_forge(struct world *w, struct fz *in)
{
    static uint8_t data[256];
    uint8_t to = fz_u8(in) % MEMBERS;
    uint32_t from = sender(in);
    uint8_t live = fz_u8(in);
    struct zab_msg m = {.type = fz_u8(in), .flags = fz_u8(in), .state = fz_u8(in),
                        .tag = fz_u8(in)};
    m.leader = fz_u8(in) % 5; /* ids near the voters' */
    m.epoch = fz_u32(in);
    m.epoch2 = fz_u32(in);
    m.zxid = fz_u64(in);
    m.zxid2 = fz_u64(in);
    m.nonce = fz_u64(in);
    size_t len;
    const uint8_t *bytes = fz_bytes(in, fz_u8(in), &len);
    memcpy(data, bytes, len);
    m.data = (struct zab_buf){len ? data : NULL, len};
    graft_live(w->z[to], from, live, &m);
    if (m.type == ZAB_MSG_VOTE && (live & 0x30) != 0) {
        m.data = (struct zab_buf){data, vote_config(w->z[to], live, bytes, len, data)};
    }
    if (m.type >= ZAB_MSG_VOTE && m.type <= ZAB_MSG_TYPE_MAX) {
        uint8_t buf[BUF_MAX];
        size_t n; /* through the codec, as a peer's bytes would come */
        ZK_ASSERT(zab_msg_encode(&m, buf, sizeof(buf), &n) == 0);
        ZK_ASSERT(zab_msg_decode(buf, n, &m) == 0);
        receive(w, to, from, &m);
        return;
    }
    receive(w, to, from, &m); /* no codec produces these: straight to the core */
}

static void op_tick(struct world *w, uint8_t to, struct fz *in)
{
    size_t len;
    const uint8_t *act = fz_bytes(in, fz_u8(in) % 64, &len);
    struct zab_event ev = {.type = ZAB_TICK};
    ev.tick.session_activity = (struct zab_buf){len ? act : NULL, len};
    (void)step(w, to, &ev);
}

static void op_persisted(struct world *w, struct fz *in)
{
    uint8_t to = fz_u8(in) % MEMBERS;
    struct zab_event ev = {.type = ZAB_PERSISTED};
    ev.persisted.zxid = fz_u8(in) < 200 ? w->appended[to] : fz_u64(in);
    (void)step(w, to, &ev);
}

static void op_submit(struct world *w, struct fz *in)
{
    uint8_t to = fz_u8(in) % MEMBERS;
    size_t len;
    const uint8_t *p = fz_bytes(in, fz_u8(in), &len);
    struct zab_event ev = {.type = ZAB_SUBMIT};
    ev.submit.payload = (struct zab_buf){len ? p : NULL, len};
    (void)step(w, to, &ev);
}

static void op_link(struct world *w, struct fz *in)
{
    uint8_t to = fz_u8(in) % MEMBERS;
    struct zab_event ev = {.type = fz_u8(in) & 1 ? ZAB_PEER_UP : ZAB_PEER_DOWN};
    ev.peer.id = sender(in);
    (void)step(w, to, &ev);
}

static void op_app(struct world *w, struct fz *in)
{
    uint8_t to = fz_u8(in) % MEMBERS;
    struct zab_event ev = {.type = ZAB_APP};
    ev.app.to = sender(in);
    ev.app.tag = fz_u8(in);
    size_t len;
    const uint8_t *p = fz_bytes(in, fz_u8(in) % 64, &len);
    ev.app.data = (struct zab_buf){len ? p : NULL, len};
    (void)step(w, to, &ev);
}

/* Lets the ensemble run for a while: every queued message, then a tick for everyone, with
 * every append reported durable. Bounded per operation. */
static void op_settle(struct world *w, struct fz *in)
{
    uint8_t rounds = fz_u8(in) % 8 + 1;
    for (uint8_t r = 0; r < rounds; r++) {
        for (int k = 0; k < 256 && w->count > 0; k++) {
            deliver_next(w, false);
        }
        for (uint8_t i = 0; i < MEMBERS; i++) {
            struct zab_event ev = {.type = ZAB_PERSISTED};
            ev.persisted.zxid = w->appended[i];
            (void)step(w, i, &ev);
            struct zab_event tick = {.type = ZAB_TICK};
            (void)step(w, i, &tick);
        }
    }
}

static void run_op(struct world *w, struct fz *in)
{
    switch (fz_u8(in) % 11) {
    case 0: deliver_next(w, false); break;
    case 1: deliver_next(w, true); break;
    case 2: op_raw(w, in); break;
    case 3: op_forge(w, in); break;
    case 4: op_tick(w, fz_u8(in) % MEMBERS, in); break;
    case 5: op_persisted(w, in); break;
    case 6: op_submit(w, in); break;
    case 7: op_link(w, in); break;
    case 8: op_app(w, in); break;
    default: op_settle(w, in); break;
    }
}

/* Config entries in the fuzz programs' SUBMITs: "CFG!", n_voters, n_observers, one byte per id. */
static int fuzz_config_of(void *ctx, struct zab_buf b, struct zab_members *next)
{
    (void)ctx;
    return cfg_bytes_decode(b.data, b.len, next);
}

static void start(struct world *w, uint8_t variant)
{
    static const uint32_t windows[] = {4, 16, 64, 500};
    static const uint32_t counters[] = {3, 6, 1000, ZAB_COUNTER_MAX_DEFAULT};
    uint32_t ids[MEMBERS] = {1, 2, 3};
    for (uint8_t i = 0; i < MEMBERS; i++) {
        struct zab_config cfg;
        zab_config_default(&cfg, ids[i], MEMBERS, ids);
        cfg.window = windows[variant & 3];
        cfg.max_outstanding = variant & 4 ? 64 : 4;
        cfg.counter_max = counters[(variant >> 3) & 3];
        /* the higher bits also pick the incarnation (below): configurations (issue 13), votes
         * trusted (sslQuorum), and a window bound by bytes (issue 11) */
        if (variant & 0x20) {
            cfg.config_of = fuzz_config_of;
            cfg.peers_authenticated = (variant & 0x40) != 0;
        }
        if (variant & 0x80) {
            cfg.window_bytes = 256;
        }
        w->z[i] = zab_new(&cfg);
        ZK_ASSERT(w->z[i] != NULL);
        struct zab_event ev = {.type = ZAB_START};
        ev.start.incarnation = 1 + i + (variant >> 5);
        ZK_ASSERT(step(w, i, &ev) == ZAB_OK);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tracing = getenv("FUZZ_TRACE") != NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in = {data, size};
    struct world w = {.q = queue_storage};
    start(&w, fz_u8(&in));
    for (int ops = 0; ops < 4096 && !fz_done(&in); ops++) {
        run_op(&w, &in);
    }
    for (uint8_t i = 0; i < MEMBERS; i++) {
        zab_free(w.z[i]);
    }
    return 0;
}
