/* The seeded Zab simulator: members with in-memory disks (crash keeps only durable writes), a lossy
 * reordering network (messages travel encoded), a client stream, and the invariant checkers. */
#include "sim_internal.h"

#include "cfg_bytes.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "consensus/zab.h"

static void seq_push(struct seq *q, uint64_t zxid, uint64_t id)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->v = realloc(q->v, q->cap * sizeof(*q->v));
        ZK_ASSERT(q->v != NULL);
    }
    q->v[q->n++] = (struct seq_ent){zxid, id};
}

static struct prop *map_slot(struct prop_map *m, uint64_t zxid)
{
    size_t i = (size_t)(zxid * 0x9e3779b97f4a7c15ull) & (m->cap - 1);
    while (m->v[i].zxid != 0 && m->v[i].zxid != zxid) {
        i = (i + 1) & (m->cap - 1);
    }
    return &m->v[i];
}

static struct prop *map_get(struct prop_map *m, uint64_t zxid, bool create)
{
    if (m->n * 2 >= m->cap) {
        struct prop_map bigger = {calloc(m->cap * 2, sizeof(struct prop)), m->cap * 2, m->n};
        ZK_ASSERT(bigger.v != NULL);
        for (size_t i = 0; i < m->cap; i++) {
            if (m->v[i].zxid != 0) {
                *map_slot(&bigger, m->v[i].zxid) = m->v[i];
            }
        }
        free(m->v);
        *m = bigger;
    }
    struct prop *p = map_slot(m, zxid);
    if (p->zxid == 0) {
        if (!create) {
            return NULL;
        }
        p->zxid = zxid;
        m->n++;
    }
    return p;
}

void trace(struct sim *s, const char *fmt, ...)
{
    if (s->o.trace == NULL) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(s->o.trace, "[%6" PRIu64 ".%u] ", s->now / UNITS_PER_TICK,
            (unsigned)(s->now % UNITS_PER_TICK));
    vfprintf(s->o.trace, fmt, ap);
    fputc('\n', s->o.trace);
    va_end(ap);
}

void violation(struct sim *s, const char *fmt, ...)
{
    if (s->res->violation) {
        return; /* report the first one */
    }
    s->res->violation = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->res->what, sizeof(s->res->what), fmt, ap);
    va_end(ap);
    trace(s, "VIOLATION: %s", s->res->what);
}

static void heap_push(struct sim *s, struct sev e) { sim_heap_push(&s->heap, &e); }

/* ---- Payloads: 8-byte id plus a deterministic tail so sizes vary. ---- */
static uint64_t payload_id(struct zab_buf b)
{
    uint64_t id = 0;
    if (b.len < 8) {
        return 0;
    }
    for (int i = 7; i >= 0; i--) {
        id = (id << 8) | b.data[i];
    }
    return id;
}

#define BIG_PAYLOAD_MAX 16384
#define BIG_WINDOW_BYTES (64u * 1024)

static size_t make_payload(uint64_t id, uint8_t *buf, bool big)
{
    size_t len = 8 + (big ? (size_t)(id * 7919 % BIG_PAYLOAD_MAX) : (size_t)(id % 25));
    for (size_t i = 0; i < len; i++) {
        buf[i] = i < 8 ? (uint8_t)(id >> (8 * i)) : (uint8_t)(id * 31 + i);
    }
    return len;
}

/* ---- Config entries: id, "CFG!", n_voters, n_observers, one byte per id (sim ids are small).
 * An ordinary payload never has "CFG!" at offset 8 (its bytes there are consecutive). ---- */
static int sim_config_of(void *ctx, struct zab_buf b, struct zab_members *next)
{
    (void)ctx;
    return b.len >= 8 && cfg_bytes_decode(b.data + 8, b.len - 8, next);
}

static size_t make_config_payload(uint64_t id, const struct zab_members *m, uint8_t *buf)
{
    for (int i = 0; i < 8; i++) {
        buf[i] = (uint8_t)(id >> (8 * i));
    }
    memcpy(buf + 8, "CFG!", 4);
    buf[12] = (uint8_t)m->n_voters;
    buf[13] = (uint8_t)m->n_observers;
    for (uint32_t i = 0; i < m->n_voters + m->n_observers; i++) {
        buf[14 + i] = (uint8_t)(i < m->n_voters ? m->voters[i] : m->observers[i - m->n_voters]);
    }
    return 14 + m->n_voters + m->n_observers;
}

static const struct zab_members *cfg_lookup(const struct sim *s, uint64_t id)
{
    for (uint32_t i = 0; i < s->n_cfgs; i++) {
        if (s->cfgs[i].id == id) {
            return &s->cfgs[i].m;
        }
    }
    return NULL;
}

static bool same_members(const struct zab_members *a, const struct zab_members *b)
{
    return a->n_voters == b->n_voters && a->n_observers == b->n_observers &&
           memcmp(a->voters, b->voters, a->n_voters * sizeof(a->voters[0])) == 0 &&
           memcmp(a->observers, b->observers, a->n_observers * sizeof(a->observers[0])) == 0;
}

static bool is_voter(const struct zab_members *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->n_voters; i++) {
        if (m->voters[i] == id) {
            return true;
        }
    }
    return false;
}

static bool is_member(const struct zab_members *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->n_observers; i++) {
        if (m->observers[i] == id) {
            return true;
        }
    }
    return is_voter(m, id);
}

static void format_members(const struct zab_members *m, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "{");
    for (uint32_t i = 0; i < m->n_voters + m->n_observers && n < cap; i++) {
        uint32_t id = i < m->n_voters ? m->voters[i] : m->observers[i - m->n_voters];
        n += (size_t)snprintf(buf + n, cap - n, "%s%s%u", i ? "," : "",
                              i >= m->n_voters ? "o" : "", id);
    }
    if (n < cap) {
        snprintf(buf + n, cap - n, "}");
    }
}

static int index_of(const struct sim *s, uint32_t id);
static void plan_committed(struct sim *s, uint64_t id, const struct zab_members *m);

/* Had a quorum of m's voters the proposal durable at some point? */
static bool durable_quorum(const struct sim *s, const struct zab_members *m, const struct prop *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; p != NULL && i < m->n_voters; i++) {
        int k = index_of(s, m->voters[i]);
        n += k >= 0 && (p->durable_mask >> k) & 1u;
    }
    return n >= m->n_voters / 2 + 1;
}

/* ---- Checkers fed by each update. ---- */

/* Agreement, total order, primary order and integrity for one applied entry. */
static void check_apply(struct sim *s, struct member *mb, uint64_t zxid, uint64_t id)
{
    size_t k = mb->applied.n;
    uint64_t prev = k > 0 ? mb->applied.v[k - 1].zxid : 0;
    uint32_t e = (uint32_t)(zxid >> 32), c = (uint32_t)zxid;
    if (zxid <= prev) {
        violation(s, "total order: member %u applied %#" PRIx64 " after %#" PRIx64, mb->id, zxid, prev);
    } else if (c == 0) {
        violation(s, "member %u applied the epoch marker %#" PRIx64, mb->id, zxid);
    } else if (e == (uint32_t)(prev >> 32) ? c != (uint32_t)prev + 1 : c != 1) {
        violation(s, "primary order: member %u applied %#" PRIx64 " right after %#" PRIx64,
                  mb->id, zxid, prev);
    }
    struct prop *p = map_get(&s->props, zxid, false);
    if (p == NULL || p->id != id) {
        violation(s, "integrity: member %u applied %#" PRIx64 " (id %" PRIu64 ") no leader proposed",
                  mb->id, zxid, id);
    }
    if (k < s->global.n) {
        if (s->global.v[k].zxid != zxid || s->global.v[k].id != id) {
            violation(s, "agreement: member %u applied #%zu = %#" PRIx64 "/%" PRIu64
                      ", others %#" PRIx64 "/%" PRIu64, mb->id, k, zxid, id,
                      s->global.v[k].zxid, s->global.v[k].id);
        }
    } else {
        /* a quorum of the configuration in force, and of a config entry's own voters */
        const struct zab_members *cm = cfg_lookup(s, id);
        if (!durable_quorum(s, &s->gcfg, p) || (cm != NULL && !durable_quorum(s, cm, p))) {
            uint32_t n = p ? (uint32_t)__builtin_popcount(p->durable_mask) : 0;
            violation(s, "durability: %#" PRIx64 " committed but durable on %u members only "
                      "(mask %#x)%s", zxid, n, p ? p->durable_mask : 0,
                      cm != NULL ? ", a config entry" : "");
        }
        seq_push(&s->global, zxid, id);
        s->res->commits++;
        if (cm != NULL) {
            char buf[128];
            format_members(cm, buf, sizeof(buf));
            trace(s, "CONFIG %s committed at %#" PRIx64, buf, zxid);
            s->gcfg = *cm;
            s->res->reconfigs++;
            plan_committed(s, id, cm);
        }
    }
    seq_push(&mb->applied, zxid, id);
}

static void mark_durable(struct sim *s, struct member *mb, size_t from, size_t to)
{
    uint32_t bit = 1u << (mb - s->m);
    for (size_t i = from; i < to; i++) {
        struct prop *p = map_get(&s->props, mb->log[i].zxid, false);
        if (p != NULL && p->id == payload_id((struct zab_buf){mb->log[i].data, mb->log[i].len})) {
            p->durable_mask |= bit;
        }
    }
}

static void schedule_disk(struct sim *s, struct member *mb)
{
    if (mb->disk_busy || mb->n_durable == mb->n_log) {
        return;
    }
    mb->disk_busy = true;
    struct sev e = {.k.time = s->now + 1 + rng_below(&s->rng, s->disk_max), .kind = E_DISK,
                    .to = (uint32_t)(mb - s->m), .to_inc = mb->incarnation};
    heap_push(s, e);
}

static void disk_truncate(struct sim *s, struct member *mb, uint64_t t)
{
    uint64_t applied = mb->applied.n ? mb->applied.v[mb->applied.n - 1].zxid : 0;
    if (t < applied || t < mb->snap_zxid) {
        violation(s, "member %u told to truncate to %#" PRIx64 " below applied %#" PRIx64,
                  mb->id, t, applied);
    }
    while (mb->n_log > 0 && mb->log[mb->n_log - 1].zxid > t) {
        free(mb->log[--mb->n_log].data);
    }
    if (mb->n_durable > mb->n_log) {
        mb->n_durable = mb->n_log;
    }
}

static void disk_append(struct sim *s, struct member *mb, const struct zab_entry *en)
{
    uint64_t last = mb->n_log ? mb->log[mb->n_log - 1].zxid : mb->snap_zxid;
    if (en->zxid <= last) {
        violation(s, "member %u log append %#" PRIx64 " after %#" PRIx64, mb->id, en->zxid, last);
    }
    if (mb->n_log == mb->cap_log) {
        mb->cap_log = mb->cap_log ? mb->cap_log * 2 : 64;
        mb->log = realloc(mb->log, mb->cap_log * sizeof(*mb->log));
        ZK_ASSERT(mb->log != NULL);
    }
    uint8_t *copy = malloc(en->payload.len + 1);
    ZK_ASSERT(copy != NULL);
    memcpy(copy, en->payload.data, en->payload.len);
    mb->log[mb->n_log++] = (struct disk_ent){en->zxid, copy, en->payload.len};
    schedule_disk(s, mb);
}

static void disk_install(struct sim *s, struct member *mb, uint64_t zxid, struct zab_buf data)
{
    size_t n = data.len / SEQ_ENTRY;
    if (data.len % SEQ_ENTRY != 0 || (n > 0 && payload_id((struct zab_buf){data.data + (n - 1) *
                                              SEQ_ENTRY, 8}) != zxid) || (n == 0 && zxid != 0)) {
        violation(s, "member %u got a snapshot that is not the state at %#" PRIx64, mb->id, zxid);
        return;
    }
    struct seq fresh = {0};
    for (size_t i = 0; i < n; i++) {
        uint64_t z = payload_id((struct zab_buf){data.data + i * SEQ_ENTRY, 8});
        uint64_t id = payload_id((struct zab_buf){data.data + i * SEQ_ENTRY + 8, 8});
        if (i < mb->applied.n && (mb->applied.v[i].zxid != z || mb->applied.v[i].id != id)) {
            violation(s, "agreement: snapshot for member %u rewrites applied #%zu", mb->id, i);
        }
        seq_push(&fresh, z, id);
    }
    if (n < mb->applied.n) {
        violation(s, "snapshot for member %u rolls back its applied state", mb->id);
    }
    free(mb->applied.v);
    mb->applied = (struct seq){0};
    for (size_t i = 0; i < n; i++) {
        check_apply(s, mb, fresh.v[i].zxid, fresh.v[i].id); /* also extends the global order */
    }
    free(fresh.v);
    while (mb->n_log > 0) {
        free(mb->log[--mb->n_log].data);
    }
    mb->n_durable = 0;
    mb->snap_zxid = zxid;
    mb->snap_len = mb->applied.n;
}

static void check_epochs(struct sim *s, struct member *mb, const struct zab_update *up)
{
    if (up->flags & ZAB_UPD_ACCEPTED_EPOCH) {
        if (up->accepted_epoch <= mb->accepted) {
            violation(s, "member %u acceptedEpoch went %u -> %u", mb->id, mb->accepted,
                      up->accepted_epoch);
        }
        mb->accepted = up->accepted_epoch;
    }
    if (up->flags & ZAB_UPD_CURRENT_EPOCH) {
        if (up->current_epoch <= mb->current || up->current_epoch > mb->accepted) {
            violation(s, "member %u currentEpoch went %u -> %u (accepted %u)", mb->id,
                      mb->current, up->current_epoch, mb->accepted);
        }
        mb->current = up->current_epoch;
    }
}

static void record_proposals(struct sim *s, struct member *mb, const struct zab_update *up)
{
    for (size_t i = 0; i < up->n_entries; i++) {
        const struct zab_entry *en = &up->entries[i];
        if (up->role == ZAB_LEADING && (uint32_t)(en->zxid >> 32) == up->epoch) {
            struct prop *p = map_get(&s->props, en->zxid, true);
            uint64_t id = payload_id(en->payload);
            if (p->id != 0 && p->id != id) {
                violation(s, "two proposals share zxid %#" PRIx64, en->zxid);
            }
            p->id = id;
        }
        disk_append(s, mb, en);
    }
}

static void check_role(struct sim *s, struct member *mb, const struct zab_update *up)
{
    if ((up->flags & ZAB_UPD_ESTABLISHED) && up->role == ZAB_LEADING) {
        uint32_t e = up->epoch;
        ZK_ASSERT(e < 1024);
        if (s->leader_of_epoch[e] != 0 && s->leader_of_epoch[e] != mb->id) {
            violation(s, "two leaders established in epoch %u: %u and %u", e,
                      s->leader_of_epoch[e], mb->id);
        }
        s->leader_of_epoch[e] = mb->id;
        trace(s, "m%u LEADER ESTABLISHED epoch %u", mb->id, e);
    }
    if (up->flags & (ZAB_UPD_ROLE | ZAB_UPD_ESTABLISHED | ZAB_UPD_LOST)) {
        static const char *const names[] = {"LOOKING", "FOLLOWING", "LEADING", "OBSERVING"};
        trace(s, "m%u role %s epoch %u leader %u%s%s", mb->id, names[up->role], up->epoch,
              up->leader, up->flags & ZAB_UPD_ESTABLISHED ? " established" : "",
              up->flags & ZAB_UPD_LOST ? " lost" : "");
    }
    if ((up->flags & ZAB_UPD_ESTABLISHED) && mb->rejoining) {
        mb->rejoining = false;
        s->res->rejoins++;
        s->res->rejoin_ticks += (s->now - mb->restarted_at) / UNITS_PER_TICK;
    }
    mb->role = up->role;
    mb->epoch = up->epoch;
    mb->leader = up->leader;
    mb->established = (mb->established || (up->flags & ZAB_UPD_ESTABLISHED)) &&
                      !(up->flags & ZAB_UPD_LOST);
}

/* ---- Network. ---- */

static uint8_t *encode_state(const struct member *mb, size_t *len)
{
    *len = mb->applied.n * SEQ_ENTRY;
    uint8_t *buf = malloc(*len + 1);
    ZK_ASSERT(buf != NULL);
    for (size_t i = 0; i < mb->applied.n; i++) {
        for (int b = 0; b < 8; b++) {
            buf[i * SEQ_ENTRY + b] = (uint8_t)(mb->applied.v[i].zxid >> (8 * b));
            buf[i * SEQ_ENTRY + 8 + b] = (uint8_t)(mb->applied.v[i].id >> (8 * b));
        }
    }
    return buf;
}

static int index_of(const struct sim *s, uint32_t id)
{
    if (id == 0) {
        return -1;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->m[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

static void send_one(struct sim *s, struct member *mb, const struct zab_out_msg *om)
{
    struct zab_msg msg = om->msg;
    uint8_t *state = NULL;
    if (msg.type == ZAB_MSG_SNAP) {
        s->res->snaps++;
        uint64_t at = mb->applied.n ? mb->applied.v[mb->applied.n - 1].zxid : 0;
        if (at != msg.zxid) {
            violation(s, "m%u asked to ship its state at %#" PRIx64 " but it is at %#" PRIx64,
                      mb->id, msg.zxid, at);
        }
        state = encode_state(mb, &msg.data.len);
        msg.data.data = state;
    }
    size_t cap = zab_msg_encoded_max(&msg), len = 0;
    uint8_t *buf = malloc(cap);
    ZK_ASSERT(buf != NULL);
    ZK_ASSERT(zab_msg_encode(&msg, buf, cap, &len) == 0);
    free(state);
    int to = index_of(s, om->to);
    uint32_t from = (uint32_t)(mb - s->m);
    if (to < 0) { /* an id no member has (a forger's): nobody listens there */
        trace(s, "m%u -> %u %s (no such member)", mb->id, om->to, zab_msg_type_name(msg.type));
        free(buf);
        return;
    }
    if (msg.type != ZAB_MSG_VOTE) {
        s->link_nonce[from][to] = msg.nonce;
    }
    char vote[32] = "";
    if (msg.type == ZAB_MSG_VOTE) {
        snprintf(vote, sizeof(vote), " for m%u state %u", msg.leader, msg.state);
    }
    trace(s, "m%u -> m%u %s e%u z%#" PRIx64 " z2%#" PRIx64 " n%" PRIx64 "%s%s", mb->id, om->to,
          zab_msg_type_name(msg.type), msg.epoch, msg.zxid, msg.zxid2, msg.nonce, vote,
          s->cut[from][to] ? " (cut)" : "");
    int copies = s->cut[from][to] || rng_chance(&s->rng, s->p_loss) ? 0 : 1;
    copies += copies && rng_chance(&s->rng, s->p_dup);
    for (int c = 0; c < copies; c++) {
        uint8_t *b = buf;
        if (c > 0) {
            b = malloc(len);
            ZK_ASSERT(b != NULL);
            memcpy(b, buf, len);
        }
        uint64_t at = s->now + 1 + rng_below(&s->rng, s->delay_max);
        if (!rng_chance(&s->rng, s->p_reorder) && at < s->link_last[from][to]) {
            at = s->link_last[from][to]; /* FIFO: not before what was sent earlier */
        }
        s->link_last[from][to] = at > s->link_last[from][to] ? at : s->link_last[from][to];
        struct sev e = {.k.time = at, .kind = E_MSG,
                        .to = (uint32_t)to, .from = from, .to_inc = s->m[to].incarnation,
                        .from_inc = mb->incarnation, .buf = b, .len = len};
        heap_push(s, e);
    }
    if (copies == 0) {
        free(buf);
    }
}

/* Executes an update in the documented order, checking as it goes. */
static void handle_update(struct sim *s, struct member *mb, const struct zab_update *up)
{
    if (up->flags & ZAB_UPD_INSTALL) {
        trace(s, "m%u INSTALL snapshot at %#" PRIx64, mb->id, up->install_zxid);
        disk_install(s, mb, up->install_zxid, up->install_data);
    }
    if (up->flags & ZAB_UPD_TRUNCATE) {
        trace(s, "m%u TRUNCATE to %#" PRIx64, mb->id, up->truncate_to);
        disk_truncate(s, mb, up->truncate_to);
    }
    check_epochs(s, mb, up);
    record_proposals(s, mb, up);
    for (size_t i = 0; i < up->n_commits; i++) {
        trace(s, "m%u APPLY %#" PRIx64 " id %" PRIu64, mb->id, up->commits[i].zxid,
              payload_id(up->commits[i].payload));
        check_apply(s, mb, up->commits[i].zxid, payload_id(up->commits[i].payload));
    }
    for (size_t i = 0; i < up->n_msgs; i++) {
        send_one(s, mb, &up->msgs[i]);
    }
    check_role(s, mb, up);
    if (up->flags & ZAB_UPD_CONFIG) {
        char buf[128];
        format_members(&up->config, buf, sizeof(buf));
        bool applied = false;
        for (size_t i = 0; i < up->n_commits; i++) {
            applied = applied || up->commits[i].zxid == up->config_zxid;
        }
        trace(s, "m%u CONFIG %s at %#" PRIx64 "%s", mb->id, buf, up->config_zxid,
              applied ? "" : " (the leader's)");
        if (!applied) {
            mb->base = up->config; /* what a restart uses while the state holds no config */
            mb->base_zxid = up->config_zxid;
        }
        if (!same_members(&up->config, zab_members(mb->z))) {
            violation(s, "m%u reported config %s but zab_members() differs", mb->id, buf);
        }
    }
}

/* No two leaders each hold a quorum of their own configuration's voters among the members
 * established with them (a member follows one leader, so such quorums never intersect). */
static void check_quorums(struct sim *s)
{
    int first = -1;
    for (uint32_t i = 0; i < s->n; i++) {
        const struct member *l = &s->m[i];
        if (!l->up || l->role != ZAB_LEADING || !l->established) {
            continue;
        }
        const struct zab_members *v = zab_members(l->z);
        uint32_t n = is_voter(v, l->id);
        for (uint32_t j = 0; j < s->n; j++) {
            const struct member *f = &s->m[j];
            n += j != i && f->up && f->established && f->leader == l->id && is_voter(v, f->id);
        }
        if (n < v->n_voters / 2 + 1) {
            continue;
        }
        if (first >= 0) {
            char a[128], b[128];
            format_members(zab_members(s->m[first].z), a, sizeof(a));
            format_members(v, b, sizeof(b));
            violation(s, "two configurations both have a quorum: leader %u of %s and leader %u of "
                      "%s", s->m[first].id, a, l->id, b);
        }
        first = (int)i;
    }
}

int sim_step(struct sim *s, struct member *mb, const struct zab_event *ev)
{
    struct zab_update up;
    ZK_ASSERT(mb->up);
    int rc = zab_step(mb->z, ev, &up);
    s->res->steps++;
    handle_update(s, mb, &up);
    if (s->o.plan != SIM_PLAN_NONE) {
        check_quorums(s);
    }
    return rc;
}

/* ---- Crash and restart: only the durable log, the epochs and a state prefix survive. ---- */

/* The state must keep enough applied entries that the log tail fits the core's window. */
static size_t tail_start(const struct member *mb, uint64_t applied_zxid)
{
    size_t i = 0;
    while (i < mb->n_log && mb->log[i].zxid <= applied_zxid) {
        i++;
    }
    return i;
}

static void add_stats(struct sim *s, const struct member *mb)
{
    struct zab_counters st;
    zab_get_counters(mb->z, &st);
    s->res->counters.sessions_contested += st.sessions_contested;
    s->res->counters.followerinfo_forged += st.followerinfo_forged;
    s->res->counters.contests_conceded += st.contests_conceded;
}

static void crash(struct sim *s, struct member *mb)
{
    ZK_ASSERT(mb->up);
    add_stats(s, mb);
    trace(s, "m%u CRASH (log %zu entries, %zu durable)", mb->id, mb->n_log, mb->n_durable);
    zab_free(mb->z);
    mb->z = NULL;
    mb->up = false;
    mb->role = ZAB_LOOKING;
    mb->established = false;
    while (mb->n_log > mb->n_durable) {
        free(mb->log[--mb->n_log].data);
    }
    mb->disk_busy = false;
    size_t keep = mb->snap_len + rng_below(&s->rng, mb->applied.n - mb->snap_len + 1);
    size_t cap = mb->cfg.window + mb->cfg.max_outstanding + 16;
    while (keep < mb->applied.n &&
           mb->n_log - tail_start(mb, keep ? mb->applied.v[keep - 1].zxid : 0) > cap) {
        keep++; /* the START tail must fit the core's window */
    }
    mb->applied.n = keep;
    mb->down_until = s->now + UNITS_PER_TICK * (1 + rng_below(&s->rng, s->down_max));
}

static void restart(struct sim *s, struct member *mb)
{
    uint64_t applied = mb->applied.n ? mb->applied.v[mb->applied.n - 1].zxid : 0;
    size_t first = tail_start(mb, applied);
    struct zab_entry *tail = calloc(mb->n_log - first + 1, sizeof(*tail));
    ZK_ASSERT(tail != NULL);
    for (size_t i = first; i < mb->n_log; i++) {
        tail[i - first] = (struct zab_entry){mb->log[i].zxid, {mb->log[i].data, mb->log[i].len}};
    }
    /* the last committed configuration the member knows: its state's, or the one it started
     * with (or took over from a leader) */
    mb->cfg.members = mb->base;
    mb->cfg.members_zxid = mb->base_zxid; /* 0: a start-up configuration, unknown */
    for (size_t i = mb->applied.n; i-- > 0;) {
        const struct zab_members *cm = cfg_lookup(s, mb->applied.v[i].id);
        if (cm != NULL) {
            mb->cfg.members = *cm;
            mb->cfg.members_zxid = mb->applied.v[i].zxid; /* the dynamic file's version */
            break;
        }
    }
    mb->z = zab_new(&mb->cfg);
    ZK_ASSERT(mb->z != NULL);
    zab_sabotage(mb->z, s->o.sabotage);
    mb->up = true;
    mb->incarnation++;
    mb->rejoining = false;
    for (uint32_t i = 0; i < s->n; i++) {
        const struct member *o = &s->m[i];
        mb->rejoining = mb->rejoining ||
                        (o != mb && o->up && o->role == ZAB_LEADING && o->established);
    }
    mb->restarted_at = s->now;
    struct zab_event ev = {.type = ZAB_START};
    ev.start.accepted_epoch = mb->accepted;
    ev.start.current_epoch = mb->current;
    ev.start.last_applied = applied;
    ev.start.last_logged = mb->n_log > first ? mb->log[mb->n_log - 1].zxid : applied;
    ev.start.entries = tail;
    ev.start.n_entries = mb->n_log - first;
    ev.start.incarnation = mb->incarnation;
    trace(s, "m%u START accepted %u current %u applied %#" PRIx64 " logged %#" PRIx64 " tail %zu",
          mb->id, mb->accepted, mb->current, applied, ev.start.last_logged, ev.start.n_entries);
    int rc = sim_step(s, mb, &ev);
    ZK_ASSERT(rc == 0);
    free(tail);
}

/* ---- Event handlers. ---- */

static void on_msg(struct sim *s, struct sev *e)
{
    struct member *to = &s->m[e->to], *from = &s->m[e->from];
    /* a connection dies with either end: nothing from an earlier incarnation arrives */
    bool alive = to->up && to->incarnation == e->to_inc && from->incarnation == e->from_inc;
    if (alive && !s->cut[e->from][e->to]) {
        struct zab_msg msg;
        ZK_ASSERT(zab_msg_decode(e->buf, e->len, &msg) == 0);
        struct zab_event ev = {.type = ZAB_RECEIVE};
        ev.receive.from = from->id;
        ev.receive.msg = &msg;
        trace(s, "m%u <- m%u %s", to->id, from->id, zab_msg_type_name(msg.type));
        if (sim_step(s, to, &ev) == ZAB_EINVAL) {
            trace(s, "m%u refused it", to->id);
        }
        s->res->msgs++;
    }
    free(e->buf);
}

static void on_disk(struct sim *s, struct sev *e)
{
    struct member *mb = &s->m[e->to];
    if (!mb->up || mb->incarnation != e->to_inc) {
        return;
    }
    mb->disk_busy = false;
    if (mb->n_durable < mb->n_log) {
        /* group commit of a random prefix of the pending writes */
        size_t upto = mb->n_durable + 1 + rng_below(&s->rng, mb->n_log - mb->n_durable);
        mark_durable(s, mb, mb->n_durable, upto);
        mb->n_durable = upto;
        struct zab_event ev = {.type = ZAB_PERSISTED};
        ev.persisted.zxid = mb->log[upto - 1].zxid;
        trace(s, "m%u PERSISTED %#" PRIx64, mb->id, ev.persisted.zxid);
        sim_step(s, mb, &ev);
    }
    schedule_disk(s, mb);
}

static void on_tick(struct sim *s, struct sev *e)
{
    struct member *mb = &s->m[e->to];
    if (mb->up) {
        uint8_t activity[8] = {(uint8_t)mb->id};
        struct zab_event ev = {.type = ZAB_TICK};
        ev.tick.session_activity = (struct zab_buf){activity, sizeof(activity)};
        sim_step(s, mb, &ev);
    }
    struct sev next = {.k.time = s->now + UNITS_PER_TICK, .kind = E_TICK, .to = e->to};
    heap_push(s, next);
}

static void submit(struct sim *s)
{
    uint32_t i = (uint32_t)rng_below(&s->rng, s->n);
    struct member *mb = &s->m[i];
    if (!mb->up || (s->live_out & (1u << i))) {
        return;
    }
    static uint8_t payload[8 + BIG_PAYLOAD_MAX];
    uint64_t id = ++s->next_id;
    struct zab_event ev = {.type = ZAB_SUBMIT};
    ev.submit.payload = (struct zab_buf){payload, make_payload(id, payload, s->o.big_payloads)};
    int rc = sim_step(s, mb, &ev);
    trace(s, "m%u SUBMIT id %" PRIu64 " -> %s", mb->id, id, zab_strerror(rc));
}

static void partition(struct sim *s)
{
    uint32_t side = 0; /* bit i: member i on side B */
    if (rng_chance(&s->rng, 500000)) {
        side = 1u << rng_below(&s->rng, s->n); /* isolate one */
    } else {
        side = (uint32_t)rng_below(&s->rng, 1u << s->n);
    }
    bool oneway = rng_chance(&s->rng, 200000);
    for (uint32_t i = 0; i < s->n; i++) {
        for (uint32_t j = 0; j < s->n; j++) {
            bool split = ((side >> i) & 1) != ((side >> j) & 1);
            s->cut[i][j] = split && (!oneway || i < j);
        }
    }
    s->heal_at = s->now + UNITS_PER_TICK * (5 + rng_below(&s->rng, 40));
    trace(s, "PARTITION side mask %#x%s until tick %" PRIu64, side, oneway ? " one-way" : "",
          s->heal_at / UNITS_PER_TICK);
}

static void heal(struct sim *s)
{
    memset(s->cut, 0, sizeof(s->cut));
    s->heal_at = 0;
    trace(s, "HEAL");
}

static void start_liveness(struct sim *s)
{
    s->liveness = true;
    s->p_loss = s->p_dup = s->p_reorder = s->p_crash = s->p_part = 0;
    s->delay_max = 3;
    s->disk_max = 3;
    heal(s);
    for (uint32_t i = 0; i < s->n; i++) {
        if (!s->m[i].up && !s->m[i].dead) {
            restart(s, &s->m[i]);
        }
    }
    if (s->o.plan != SIM_PLAN_NONE) {
        s->held_down = -1; /* restarted above */
        /* maybe one member cut off, if every configuration still to pass keeps a quorum */
        uint32_t i = (uint32_t)rng_below(&s->rng, 2 * s->n);
        bool ok = i < s->n;
        for (uint32_t k = s->step; ok && k <= s->plan.n_steps; k++) {
            const struct zab_members *c = k == s->step ? &s->gcfg : &s->plan.steps[k - 1];
            uint32_t left = 0;
            for (uint32_t v = 0; v < c->n_voters; v++) {
                int x = index_of(s, c->voters[v]);
                left += x >= 0 && (uint32_t)x != i && !s->m[x].dead;
            }
            ok = left >= c->n_voters / 2 + 1;
        }
        if (ok && s->o.plan != SIM_PLAN_REMOVE_LEADER) {
            s->live_out |= 1u << i;
            for (uint32_t j = 0; j < s->n; j++) {
                s->cut[i][j] = s->cut[j][i] = i != j;
            }
        }
        s->live_from_id = s->next_id + 1;
        trace(s, "LIVENESS PHASE: network healed, all members up, isolated mask %#x",
              s->live_out);
        return;
    }
    /* often leave a minority cut off: a connected majority alone must make progress */
    uint32_t out = (uint32_t)rng_below(&s->rng, s->n - s->quorum + 1);
    for (uint32_t k = 0; k < out; k++) {
        uint32_t i = (uint32_t)rng_below(&s->rng, s->n);
        s->live_out |= 1u << i;
        for (uint32_t j = 0; j < s->n; j++) {
            s->cut[i][j] = s->cut[j][i] = i != j;
        }
    }
    s->live_from_id = s->next_id + 1;
    trace(s, "LIVENESS PHASE: network healed, all members up, isolated mask %#x", s->live_out);
}

/* Plans: every change committed, and the final configuration's members that are up and
 * connected all established under one of its voters, with everything applied. */
static bool plan_converged(const struct sim *s)
{
    if (s->step < s->plan.n_steps) {
        return false;
    }
    uint32_t leaders = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        const struct member *mb = &s->m[i];
        if (mb->dead || (s->live_out & (1u << i)) || !is_member(&s->gcfg, mb->id)) {
            continue;
        }
        if (!mb->up || !mb->established || mb->applied.n != s->global.n) {
            return false;
        }
        leaders += mb->role == ZAB_LEADING && is_voter(&s->gcfg, mb->id);
    }
    return leaders == 1;
}

static bool converged(const struct sim *s)
{
    if (s->global.n == 0 || s->global.v[s->global.n - 1].id < s->live_from_id) {
        return false; /* nothing submitted in the healed phase has committed yet */
    }
    if (s->o.plan != SIM_PLAN_NONE) {
        return plan_converged(s);
    }
    uint32_t leaders = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        const struct member *mb = &s->m[i];
        if (s->live_out & (1u << i)) {
            continue; /* cut off on purpose: not expected to keep up */
        }
        if (!mb->up || !mb->established || mb->applied.n != s->global.n) {
            return false;
        }
        leaders += mb->role == ZAB_LEADING;
    }
    return leaders == 1;
}

/* ---- Membership plans (sim_opts.plan). ---- */

static const char *const plan_names[SIM_PLAN_COUNT] = {
    "none", "grow", "grow-twice", "shrink", "replace", "while-down", "remove-leader",
    "crash-proposed", "crash-committed", "observer-flip", "dead-observers", "readd",
    "readd-leader",
};

const char *sim_plan_name(enum sim_plan p) { return p < SIM_PLAN_COUNT ? plan_names[p] : "?"; }

enum sim_plan sim_plan_parse(const char *name)
{
    for (int p = 0; p < SIM_PLAN_COUNT; p++) {
        if (strcmp(name, plan_names[p]) == 0) {
            return (enum sim_plan)p;
        }
    }
    return SIM_PLAN_COUNT;
}

static struct zab_members voters_of(const uint32_t *ids, uint32_t n)
{
    struct zab_members m = {.n_voters = n};
    memcpy(m.voters, ids, n * sizeof(ids[0]));
    return m;
}

/* Voters 1..5 less one drawn at random (or less two, for 3 of 5). */
static struct zab_members five_less(struct sim *s, uint32_t drop)
{
    uint32_t ids[5] = {1, 2, 3, 4, 5}, n = 5;
    for (uint32_t k = 0; k < drop; k++) {
        uint32_t i = (uint32_t)rng_below(&s->rng, n);
        memmove(&ids[i], &ids[i + 1], (n - i - 1) * sizeof(ids[0]));
        n--;
    }
    return voters_of(ids, n);
}

static void plan_init(struct sim *s)
{
    static const uint32_t three[] = {1, 2, 3}, four[] = {1, 2, 3, 4}, five[] = {1, 2, 3, 4, 5};
    struct plan *p = &s->plan;
    memset(p, 0, sizeof(*p));
    switch (s->o.plan) {
    case SIM_PLAN_GROW:
    case SIM_PLAN_CRASH_PROPOSED:
        *p = (struct plan){5, voters_of(three, 3), 1, {voters_of(five, 5)}};
        break;
    case SIM_PLAN_GROW_TWICE:
        *p = (struct plan){5, voters_of(three, 3), 2, {voters_of(four, 4), voters_of(five, 5)}};
        break;
    case SIM_PLAN_SHRINK:
    case SIM_PLAN_CRASH_COMMITTED:
        *p = (struct plan){5, voters_of(five, 5), 1, {five_less(s, 2)}};
        break;
    case SIM_PLAN_REPLACE: {
        uint32_t ids[3] = {1, 2, 3};
        ids[rng_below(&s->rng, 3)] = 4;
        *p = (struct plan){4, voters_of(three, 3), 1, {voters_of(ids, 3)}};
        break;
    }
    case SIM_PLAN_WHILE_DOWN:
        *p = (struct plan){5, voters_of(five, 5), 1, {five_less(s, 1)}};
        break;
    case SIM_PLAN_REMOVE_LEADER: /* the target is the leader's at the time of the change */
        *p = (struct plan){5, voters_of(five, 5), 1, {voters_of(five, 5)}};
        break;
    case SIM_PLAN_OBSERVER_FLIP: {
        struct zab_members obs = voters_of(three, 3);
        obs.n_observers = 1;
        obs.observers[0] = 4;
        *p = (struct plan){4, obs, 2, {voters_of(four, 4), obs}};
        break;
    }
    case SIM_PLAN_READD:
        *p = (struct plan){5, voters_of(five, 5), 2, {five_less(s, 1), voters_of(five, 5)}};
        break;
    case SIM_PLAN_READD_LEADER: /* the first target is the leader's at the time of the change */
        *p = (struct plan){5, voters_of(five, 5), 2, {voters_of(five, 5), voters_of(five, 5)}};
        break;
    case SIM_PLAN_DEAD_OBSERVERS: {
        struct zab_members obs = voters_of(three, 3);
        obs.n_observers = 2;
        obs.observers[0] = 4;
        obs.observers[1] = 5;
        *p = (struct plan){5, obs, 0, {{0}}};
        break;
    }
    default: ZK_UNREACHABLE();
    }
    s->step_at = 20 + rng_below(&s->rng, 120);
    s->held_down = -1;
}

/* A member's start-up configuration: the ensemble's, or, outside it (a joiner), the ensemble
 * plus itself as a voter (its zoo.cfg). */
static struct zab_members plan_startup(const struct sim *s, uint32_t id)
{
    struct zab_members m = s->plan.initial;
    if (!is_member(&m, id)) {
        m.voters[m.n_voters++] = id;
    }
    return m;
}

static struct member *established_leader(struct sim *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        struct member *mb = &s->m[i];
        if (mb->up && mb->role == ZAB_LEADING && mb->established) {
            return mb;
        }
    }
    return NULL;
}

static void plan_committed(struct sim *s, uint64_t id, const struct zab_members *m)
{
    (void)id;
    if (s->step >= s->plan.n_steps || s->step_id == 0 || !same_members(m, &s->step_target)) {
        return;
    }
    s->step++;
    s->step_id = 0;
    s->step_at = s->now / UNITS_PER_TICK + 10 + rng_below(&s->rng, 40);
    if (s->held_down >= 0) {
        s->m[s->held_down].down_until = s->now + UNITS_PER_TICK * (5 + rng_below(&s->rng, 20));
        s->held_down = -1;
    }
    trace(s, "PLAN step %u of %u done", s->step, s->plan.n_steps);
}

static void plan_tick(struct sim *s)
{
    uint64_t tick = s->now / UNITS_PER_TICK;
    if (s->o.plan == SIM_PLAN_DEAD_OBSERVERS && !s->crash_done && tick >= s->step_at) {
        for (uint32_t i = 3; i < 5; i++) {
            if (s->m[i].up) {
                crash(s, &s->m[i]);
            }
            s->m[i].dead = true;
        }
        s->crash_done = true;
        trace(s, "PLAN observers 4 and 5 die");
    }
    if (s->o.plan == SIM_PLAN_CRASH_COMMITTED && !s->crash_done && s->step_zxid != 0 &&
        !s->liveness) {
        struct member *l = &s->m[s->step_leader];
        if (l->up && l->role == ZAB_LEADING && zab_committed(l->z) >= s->step_zxid) {
            trace(s, "PLAN the leader that committed the change crashes");
            crash(s, l);
            s->crash_done = true;
        }
    }
    if (s->step >= s->plan.n_steps || tick < s->step_at) {
        return;
    }
    struct member *l = established_leader(s);
    if (l == NULL || (s->step_id != 0 && tick < s->step_at + 30)) {
        return; /* no leader, or the submitted change may still commit */
    }
    struct zab_members target = s->plan.steps[s->step];
    if (s->o.plan == SIM_PLAN_REMOVE_LEADER ||
        (s->o.plan == SIM_PLAN_READD_LEADER && s->step == 0)) {
        target.n_voters = 0;
        for (uint32_t i = 0; i < s->gcfg.n_voters; i++) {
            if (s->gcfg.voters[i] != l->id) {
                target.voters[target.n_voters++] = s->gcfg.voters[i];
            }
        }
    }
    int check = zab_check_config_change(l->z, &target);
    if (check != ZAB_OK) {
        trace(s, "PLAN m%u cannot change now: %s", l->id, zab_strerror(check));
        return;
    }
    if (s->o.plan == SIM_PLAN_WHILE_DOWN && s->held_down < 0 && !s->liveness) {
        uint32_t start = (uint32_t)rng_below(&s->rng, s->n);
        for (uint32_t k = 0; k < s->n; k++) {
            struct member *mb = &s->m[(start + k) % s->n];
            if (mb != l && mb->up && is_voter(&target, mb->id) && is_voter(&s->gcfg, mb->id)) {
                trace(s, "PLAN m%u goes down for the change", mb->id);
                crash(s, mb);
                mb->down_until = UINT64_MAX;
                s->held_down = (int)(mb - s->m);
                break;
            }
        }
    }
    uint8_t payload[64];
    uint64_t id = ++s->next_id;
    ZK_ASSERT(s->n_cfgs < SIM_CFGS_MAX);
    s->cfgs[s->n_cfgs++] = (struct cfg_rec){id, target};
    struct zab_event ev = {.type = ZAB_SUBMIT};
    ev.submit.payload = (struct zab_buf){payload, make_config_payload(id, &target, payload)};
    uint64_t before = zab_last_logged(l->z);
    int rc = sim_step(s, l, &ev);
    char buf[128];
    format_members(&target, buf, sizeof(buf));
    trace(s, "PLAN m%u SUBMIT config %s id %" PRIu64 " -> %s", l->id, buf, id, zab_strerror(rc));
    if (rc == ZAB_EBUSY) {
        return;
    }
    if (rc != ZAB_OK) {
        violation(s, "zab_check_config_change said ok, SUBMIT of the change said %s",
                  zab_strerror(rc));
        return;
    }
    if (zab_check_config_change(l->z, &target) != ZAB_ERECONFIG) {
        violation(s, "a second change while one is pending was not refused with ERECONFIG");
    }
    s->step_id = id;
    s->step_zxid = zab_last_logged(l->z);
    ZK_ASSERT(s->step_zxid > before);
    s->step_leader = (uint32_t)(l - s->m);
    s->step_target = target;
    s->step_at = tick;
    if (s->o.plan == SIM_PLAN_CRASH_PROPOSED && !s->crash_done && !s->liveness) {
        trace(s, "PLAN the leader crashes right after proposing the change");
        crash(s, l);
        s->crash_done = true;
    }
}

static void on_chaos(struct sim *s)
{
    if (s->o.plan != SIM_PLAN_NONE && !s->res->violation) {
        plan_tick(s);
    }
    if (!s->liveness) {
        for (uint32_t i = 0; i < s->n; i++) {
            struct member *mb = &s->m[i];
            if (mb->up && rng_chance(&s->rng, s->p_crash)) {
                crash(s, mb);
            } else if (!mb->up && !mb->dead && s->now >= mb->down_until) {
                restart(s, mb);
            }
        }
        if (s->heal_at != 0 && s->now >= s->heal_at) {
            heal(s);
        } else if (s->heal_at == 0 && rng_chance(&s->rng, s->p_part)) {
            partition(s);
        }
    }
    if (s->o.hostile) {
        hostile_inject(s);
    }
    if (rng_chance(&s->rng, s->p_submit) || (s->liveness && s->global.n == 0) ||
        (s->liveness && s->global.v[s->global.n - 1].id < s->live_from_id)) {
        submit(s);
    }
    struct sev next = {.k.time = s->now + UNITS_PER_TICK, .kind = E_CHAOS};
    heap_push(s, next);
}

/* ---- Setup: fault probabilities and core limits are swarmed per seed (TigerBeetle VOPR). ---- */

static void swarm(struct sim *s)
{
    static const uint32_t loss[] = {0, 0, 5000, 20000, 60000};
    static const uint32_t dup[] = {0, 0, 10000, 50000};
    static const uint32_t reorder[] = {0, 0, 10000, 100000};
    static const uint32_t crash_p[] = {0, 2000, 8000, 20000};
    static const uint32_t part[] = {0, 10000, 40000};
    static const uint32_t delay[] = {2, 5, 12, 30};
    static const uint32_t disk[] = {1, 4, 15, 40};
    static const uint32_t windows[] = {4, 16, 64, 500};
#define PICK(a) a[rng_below(&s->rng, sizeof(a) / sizeof(a[0]))]
    s->p_loss = PICK(loss);
    s->p_dup = PICK(dup);
    s->p_reorder = PICK(reorder);
    s->p_crash = PICK(crash_p);
    s->p_part = PICK(part);
    s->delay_max = PICK(delay);
    s->disk_max = PICK(disk);
    s->down_max = 1 + (uint32_t)rng_below(&s->rng, 30);
    s->p_submit = 100000 + (uint32_t)rng_below(&s->rng, 700000);
    uint32_t window = PICK(windows);
    uint32_t outstanding = rng_chance(&s->rng, 500000) ? 4 : 64;
    uint32_t counter_max = rng_chance(&s->rng, 200000) ? 6 : ZAB_COUNTER_MAX_DEFAULT;
#undef PICK
    uint32_t ids[ZAB_PEERS_MAX];
    for (uint32_t i = 0; i < s->n; i++) {
        ids[i] = i + 1;
    }
    if (s->o.plan != SIM_PLAN_NONE) {
        plan_init(s);
        s->n = s->plan.n;
        for (uint32_t i = 0; i < s->n; i++) {
            ids[i] = i + 1;
        }
        s->gcfg = s->plan.initial;
    } else {
        s->gcfg = voters_of(ids, s->n);
    }
    for (uint32_t i = 0; i < s->n; i++) {
        struct member *mb = &s->m[i];
        mb->id = ids[i];
        zab_config_default(&mb->cfg, ids[i], s->n, ids);
        if (s->o.plan != SIM_PLAN_NONE) {
            mb->cfg.members = plan_startup(s, ids[i]);
            mb->cfg.config_of = sim_config_of;
            mb->cfg.peers_authenticated = true; /* the network delivers who sent what */
        }
        mb->base = mb->cfg.members;
        mb->cfg.window = window;
        if (s->o.big_payloads) { /* no draw: the schedule stays the seed's */
            mb->cfg.window_bytes = BIG_WINDOW_BYTES;
        }
        mb->cfg.max_outstanding = outstanding;
        mb->cfg.counter_max = counter_max;
    }
    trace(s, "seed %" PRIu64 ": %u members loss %u dup %u reorder %u crash %u part %u delay %u disk %u "
          "window %u outstanding %u counter_max %u (per million, units)", s->o.seed, s->n,
          s->p_loss, s->p_dup, s->p_reorder, s->p_crash, s->p_part, s->delay_max, s->disk_max, window,
          outstanding, counter_max);
}

static void teardown(struct sim *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        struct member *mb = &s->m[i];
        if (mb->z != NULL) {
            add_stats(s, mb);
        }
        zab_free(mb->z);
        while (mb->n_log > 0) {
            free(mb->log[--mb->n_log].data);
        }
        free(mb->log);
        free(mb->applied.v);
    }
    struct sev e;
    while (sim_heap_pop(&s->heap, &e)) {
        free(e.buf);
    }
    sim_heap_free(&s->heap);
    free(s->global.v);
    free(s->props.v);
}

static void run_loop(struct sim *s, uint64_t end_safety, uint64_t end)
{
    struct sev e;
    while (!s->res->violation && sim_heap_pop(&s->heap, &e)) {
        ZK_ASSERT(e.k.time >= s->now);
        s->now = e.k.time;
        if (!s->liveness && s->now >= end_safety) {
            start_liveness(s);
        }
        if (s->liveness && converged(s)) {
            free(e.buf);
            trace(s, "CONVERGED: %zu commits everywhere", s->global.n);
            return;
        }
        if (s->now >= end) {
            free(e.buf);
            for (uint32_t i = 0; i < s->n && s->o.trace != NULL; i++) {
                const struct member *mb = &s->m[i];
                char buf[128] = "-";
                if (mb->up) {
                    format_members(zab_members(mb->z), buf, sizeof(buf));
                }
                trace(s, "STATE m%u up %d%s role %u leader %u established %d applied %zu of %zu "
                      "config %s", mb->id, mb->up, mb->dead ? " dead" : "", mb->role, mb->leader,
                      mb->established, mb->applied.n, s->global.n, buf);
            }
            violation(s, "liveness: no convergence %u ticks after healing (commits %zu)",
                      s->o.liveness_ticks, s->global.n);
            return;
        }
        switch (e.kind) {
        case E_MSG: on_msg(s, &e); break;
        case E_TICK: on_tick(s, &e); break;
        case E_DISK: on_disk(s, &e); break;
        case E_CHAOS: on_chaos(s); break;
        }
    }
}

int sim_run(const struct sim_opts *opts, struct sim_result *res)
{
    struct sim *s = calloc(1, sizeof(*s));
    ZK_ASSERT(s != NULL);
    memset(res, 0, sizeof(*res));
    s->o = *opts;
    s->o.safety_ticks = opts->safety_ticks ? opts->safety_ticks : 300;
    s->o.liveness_ticks = opts->liveness_ticks ? opts->liveness_ticks
                          : opts->plan != SIM_PLAN_NONE ? 400 : 250;
    s->res = res;
    s->rng = opts->seed * 0x2545f4914f6cdd1dull + 1;
    s->n = opts->members;
    ZK_ASSERT(s->n >= 1 && s->n <= ZAB_PEERS_MAX);
    s->quorum = s->n / 2 + 1;
    s->props = (struct prop_map){calloc(1024, sizeof(struct prop)), 1024, 0};
    sim_heap_init(&s->heap, sizeof(struct sev));
    swarm(s);
    for (uint32_t i = 0; i < s->n; i++) {
        restart(s, &s->m[i]);
        struct sev t = {.k.time = 1 + i * 3, .kind = E_TICK, .to = i};
        heap_push(s, t);
    }
    heap_push(s, (struct sev){.k.time = 5, .kind = E_CHAOS});
    uint64_t end_safety = (uint64_t)s->o.safety_ticks * UNITS_PER_TICK;
    run_loop(s, end_safety, end_safety + (uint64_t)s->o.liveness_ticks * UNITS_PER_TICK);
    res->ticks = s->now / UNITS_PER_TICK;
    teardown(s);
    free(s);
    return res->violation ? 1 : 0;
}
