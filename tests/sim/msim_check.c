/* member-sim's checker of the members: the history of committed txns, built from what members
 * apply, and the checks made after every call into a member and at the end of a run.
 *
 * After each call, a member's store is looked at (store_last_zxid, store_digest): what it
 * applied since the last look are the records of its own log in between (the core applies only
 * logged entries), or, after its state was replaced (recovery, a snapshot install), the records
 * after the snapshot's zxid. Every applied txn must be the next one of the one history every
 * member follows: same zxid, same record, nothing skipped but through a snapshot; and members
 * at the same zxid must have the same digest. Acknowledged writes are looked up in the history
 * (msim_client.c). At the end all members must agree (one zxid, one digest), every session must
 * have expired after the clients went quiet, with its ephemerals. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/i64map.h"
#include "msim_internal.h"
#include "store/store.h"
#include "store/txnrec.h"


struct hent {
    int64_t zxid;
    uint64_t hash;
    uint64_t digest;
    bool has_digest;
    bool deletes;   /* may have deleted nodes */
    int64_t session;
    int32_t cxid, type;
};

struct tag_zxids {  /* where one data tag was written (usually once; twice if duplicated) */
    int n;
    int64_t z[4];
};

struct ms_check {
    struct ms_world *w;
    struct hent *h;
    size_t n, cap;
    struct i64map tags;
    int64_t acked_floor;
};

uint64_t ms_hash(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

struct ms_check *ms_check_new(struct ms_world *w)
{
    struct ms_check *ck = calloc(1, sizeof *ck);
    ZK_ASSERT(ck != NULL);
    ck->w = w;
    i64map_init(&ck->tags);
    return ck;
}

void ms_check_free(struct ms_check *ck)
{
    int64_t key;
    void *v;
    for (size_t it = 0; i64map_next(&ck->tags, &it, &key, &v);)
        free(v);
    i64map_free(&ck->tags);
    free(ck->h);
    free(ck);
}

/* Index of zxid in the history, or -1. */
static long find(const struct ms_check *ck, int64_t zxid)
{
    size_t lo = 0, hi = ck->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ck->h[mid].zxid < zxid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ck->n && ck->h[lo].zxid == zxid ? (long)lo : -1;
}

/* ---- what a record wrote: data tags ("w<tag>:<k>", see msim_client.c) ---- */

uint64_t ms_tag_key(struct jute_bytes data)
{
    char buf[48];
    uint64_t tag;
    int k;
    if (data.len < 4 || data.len >= (int32_t)sizeof buf || data.ptr[0] != 'w')
        return 0;
    memcpy(buf, data.ptr, (size_t)data.len);
    buf[data.len] = '\0';
    return sscanf(buf, "w%" SCNu64 ":%d", &tag, &k) == 2 ? tag * 4 + (uint64_t)k : 0;
}

static void add_tag(struct ms_check *ck, struct jute_bytes data, int64_t zxid)
{
    int64_t key = (int64_t)ms_tag_key(data);
    if (key == 0)
        return;
    struct tag_zxids *t = i64map_get(&ck->tags, key);
    if (!t) {
        t = calloc(1, sizeof *t);
        ZK_ASSERT(t != NULL && i64map_put(&ck->tags, key, t) == 0);
    }
    if (t->n < 4)
        t->z[t->n++] = zxid;
}

static void skip_acl(struct jute_reader *jr)
{
    int32_t n = jr_vector_count(jr, 12);
    for (int32_t i = 0; i < n && jr_ok(jr); i++) {
        (void)jr_int(jr);
        (void)jr_bytes(jr);
        (void)jr_bytes(jr);
    }
}

/* One op's body: the data a create or setData writes. */
static void op_tags(struct ms_check *ck, int32_t type, struct jute_reader *jr, int64_t zxid)
{
    (void)jr_bytes(jr); /* path */
    if (type == ZOP_CREATE) {
        add_tag(ck, jr_bytes(jr), zxid);
        skip_acl(jr);
        (void)jr_int(jr);
    } else if (type == ZOP_SETDATA) {
        add_tag(ck, jr_bytes(jr), zxid);
        (void)jr_int(jr);
    } else {
        (void)jr_int(jr); /* check, delete: a version */
    }
}

static void record_tags(struct ms_check *ck, const struct store_txn *txn)
{
    struct jute_reader jr;
    jr_init(&jr, txn->body, txn->body_len);
    if (txn->type == ZOP_CREATE || txn->type == ZOP_SETDATA) {
        op_tags(ck, txn->type, &jr, txn->zxid);
        return;
    }
    while (txn->type == ZOP_MULTI && jr_ok(&jr)) {
        int32_t type = jr_int(&jr);
        bool done = jr_bool(&jr);
        (void)jr_int(&jr);
        if (done || !jr_ok(&jr))
            break;
        op_tags(ck, type, &jr, txn->zxid);
    }
}

static void append(struct ms_check *ck, int64_t zxid, const uint8_t *rec, size_t len)
{
    if (ck->n == ck->cap) {
        ck->cap = ck->cap ? ck->cap * 2 : 1024;
        ck->h = realloc(ck->h, ck->cap * sizeof *ck->h);
        ZK_ASSERT(ck->h != NULL);
    }
    struct hent *e = &ck->h[ck->n++];
    *e = (struct hent){.zxid = zxid, .hash = ms_hash(rec, len)};
    struct store_txn txn;
    if (txnrec_decode(rec, len, &txn) != 0)
        return;
    txn.zxid = zxid;
    e->session = txn.session_id;
    e->cxid = txn.cxid;
    e->type = txn.type;
    e->deletes = txn.type == ZOP_DELETE || txn.type == ZOP_MULTI ||
                 txn.type == ZOP_CLOSESESSION || txn.type == ZOP_DELETECONTAINER;
    record_tags(ck, &txn);
    ck->w->res->commits++;
    if (txn.type == ZOP_CLOSESESSION)
        ck->w->res->expiries++;
}

/* ---- observing members ---- */

void ms_check_jump(struct ms_node *nd, int64_t zxid)
{
    nd->jumped = true;
    nd->jump_to = zxid;
}

struct walk {
    struct ms_check *ck;
    struct ms_node *nd;
    int64_t prev;
};

/* nd applied (zxid, rec) right after w->prev: it must be the history's next txn. */
static void applied(void *ctx, int64_t zxid, const uint8_t *rec, size_t len)
{
    struct walk *wk = ctx;
    struct ms_check *ck = wk->ck;
    long i = wk->prev ? find(ck, wk->prev) : -1;
    size_t next = (size_t)(i + 1);
    if (next == ck->n) {
        append(ck, zxid, rec, len);
        ms_trace(ck->w, "m%u COMMITTED 0x%" PRIx64 " (first to apply it)", wk->nd->id, zxid);
    } else if (ck->h[next].zxid != zxid || ck->h[next].hash != ms_hash(rec, len)) {
        ms_violation(ck->w, "agreement: m%u applied 0x%" PRIx64 " after 0x%" PRIx64 ", but the "
                     "committed order has %s 0x%" PRIx64 " there", wk->nd->id, zxid, wk->prev,
                     ck->h[next].zxid == zxid ? "another txn at" : "txn", ck->h[next].zxid);
    }
    wk->prev = zxid;
}

static void check_digest(struct ms_check *ck, struct ms_node *nd, int64_t zxid, uint64_t digest)
{
    long i = find(ck, zxid);
    if (i < 0)
        return;
    struct hent *e = &ck->h[i];
    if (!e->has_digest) {
        e->digest = digest;
        e->has_digest = true;
    } else if (e->digest != digest) {
        ms_violation(ck->w, "agreement: m%u's state at 0x%" PRIx64 " has digest %016" PRIx64
                     ", another member's had %016" PRIx64, nd->id, zxid, digest, e->digest);
    }
}

void ms_check_observe(struct ms_node *nd)
{
    struct ms_check *ck = nd->w->chk;
    const struct store *st = member_store(nd->m);
    int64_t z = store_last_zxid(st);
    nd->leading = member_is_leader(nd->m) && member_serving(nd->m);
    struct walk wk = {ck, nd, nd->jumped ? nd->jump_to : nd->seen_zxid};
    if (nd->jumped && wk.prev > 0 && find(ck, wk.prev) < 0)
        ms_violation(ck->w, "m%u's state was replaced by a snapshot at 0x%" PRIx64 ", a zxid no "
                     "member applied", nd->id, wk.prev);
    bool moved = nd->jumped || z != nd->seen_zxid;
    nd->jumped = false;
    if (!moved)
        return;
    if (z < wk.prev) {
        ms_violation(ck->w, "m%u's state went back from 0x%" PRIx64 " to 0x%" PRIx64, nd->id,
                     wk.prev, z);
        return;
    }
    ms_disk_each(nd->disk, wk.prev, z, applied, &wk);
    if (wk.prev != z)
        ms_violation(ck->w, "m%u's state is at 0x%" PRIx64 " but its log has no record of it "
                     "after 0x%" PRIx64, nd->id, z, wk.prev);
    if (z > 0)
        check_digest(ck, nd, z, store_digest(st));
    nd->seen_zxid = z;
}

/* ---- lookups for the clients' checks ---- */

bool ms_check_is_txn(struct ms_world *w, int64_t zxid, int64_t session, int32_t cxid,
                     int32_t type)
{
    long i = find(w->chk, zxid);
    if (i < 0)
        return false;
    const struct hent *e = &w->chk->h[i];
    return e->session == session && e->cxid == cxid && e->type == type;
}

bool ms_check_tag_at(struct ms_world *w, uint64_t tag, int64_t zxid)
{
    const struct tag_zxids *t = i64map_get(&w->chk->tags, (int64_t)tag);
    for (int i = 0; t && i < t->n; i++)
        if (t->z[i] == zxid)
            return true;
    return false;
}

bool ms_check_deletes_between(struct ms_world *w, int64_t after, int64_t upto)
{
    const struct ms_check *ck = w->chk;
    for (size_t i = 0; i < ck->n && ck->h[i].zxid <= upto; i++)
        if (ck->h[i].zxid > after && ck->h[i].deletes)
            return true;
    return false;
}

int64_t ms_check_acked_floor(const struct ms_world *w) { return w->chk->acked_floor; }

void ms_check_acked(struct ms_world *w, int64_t zxid)
{
    if (zxid > w->chk->acked_floor)
        w->chk->acked_floor = zxid;
}

/* ---- the end ---- */

struct first_session {
    int64_t id;
    int32_t timeout;
};

static void note_session(void *ctx, int64_t id, int32_t timeout_ms)
{
    struct first_session *fs = ctx;
    if (fs->id == 0) {
        fs->id = id;
        fs->timeout = timeout_ms;
    }
}

/* Why a node is not where it should be at the end, or NULL. */
static const char *node_lag(struct ms_world *w, const struct ms_node *nd, int64_t z,
                            uint64_t digest)
{
    (void)w;
    if (!nd->up || nd->paused)
        return "is down";
    if (!member_serving(nd->m))
        return "is not serving";
    const struct store *st = member_store(nd->m);
    if (store_last_zxid(st) != z || store_digest(st) != digest)
        return "has not caught up";
    if (store_session_count(st) > 0)
        return "still holds sessions";
    return NULL;
}

bool ms_check_converged(struct ms_world *w)
{
    const struct ms_node *first = &w->node[0];
    if (!first->up || !ms_client_probe_done(w->clients[w->n_clients]))
        return false;
    const struct store *st = member_store(first->m);
    for (uint32_t i = 0; i < w->n; i++)
        if (node_lag(w, &w->node[i], store_last_zxid(st), store_digest(st)))
            return false;
    return true;
}

void ms_check_final(struct ms_world *w)
{
    for (uint32_t i = 0; i < w->n; i++) {
        const struct store *st = member_store(w->node[i].m);
        if (store_ephemeral_count(st) != 0)
            ms_violation(w, "m%u holds %zu ephemerals and no session", w->node[i].id,
                         store_ephemeral_count(st));
        if (store_last_zxid(st) < w->chk->acked_floor)
            ms_violation(w, "m%u ends at 0x%" PRIx64 ", before acknowledged write 0x%" PRIx64,
                         w->node[i].id, store_last_zxid(st), w->chk->acked_floor);
    }
    ms_trace(w, "CONVERGED at 0x%" PRIx64 " (%zu txns committed)",
             w->node[0].up ? store_last_zxid(member_store(w->node[0].m)) : 0, w->chk->n);
}

static int most_advanced(struct ms_world *w)
{
    int best = -1;
    for (uint32_t i = 0; i < w->n; i++)
        if (w->node[i].up && (best < 0 || store_last_zxid(member_store(w->node[i].m)) >
                                               store_last_zxid(member_store(w->node[best].m))))
            best = (int)i;
    return best;
}

void ms_check_stuck(struct ms_world *w)
{
    if (!ms_client_probe_done(w->clients[w->n_clients])) {
        ms_violation(w, "liveness: the probe write was never acknowledged");
        return;
    }
    int best = most_advanced(w);
    const struct store *ref = best >= 0 ? member_store(w->node[best].m) : NULL;
    for (uint32_t i = 0; i < w->n && ref; i++) {
        struct ms_node *nd = &w->node[i];
        const char *why = node_lag(w, nd, store_last_zxid(ref), store_digest(ref));
        if (!why)
            continue;
        struct first_session fs = {0};
        if (nd->up)
            store_session_foreach(member_store(nd->m), note_session, &fs);
        if (fs.id)
            ms_violation(w, "expiry: session 0x%" PRIx64 " (timeout %d ms) still open on m%u "
                         "%lld ms after its client went quiet (%zu ephemerals there)", fs.id,
                         fs.timeout, nd->id, (long long)(w->now - w->stop_at),
                         store_ephemeral_count(member_store(nd->m)));
        else
            ms_violation(w, "liveness: m%u %s %lld ms after the clients went quiet (at 0x%"
                         PRIx64 ", the most advanced member at 0x%" PRIx64 ")", nd->id, why,
                         (long long)(w->now - w->stop_at),
                         nd->up ? store_last_zxid(member_store(nd->m)) : 0,
                         store_last_zxid(ref));
        return;
    }
    ms_violation(w, "liveness: no member up at the end");
}
