/* fuzz_apply: arbitrary sequences of txns (every write opcode, multi, session create/close,
 * deleteContainer with session 0, containers, TTL nodes, ephemerals of live and dead sessions,
 * any session id including 0 and INT64_MIN, any identities) applied with increasing zxids to a
 * small tree, with the reaper's candidates applied as internal txns. After each txn: the store's
 * own invariants, the tree's node count against the node table, and a replica that received the
 * txn through the log record codec must give the same reply and digest. Now and then and at the
 * end, a snapshot written and read into a fresh store must give the same state. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "fuzz_store.h"
#include "proto/zkproto.h"
#include "store/store_internal.h"
#include "store/txnrec.h"

#define REAP_MAX 64

struct pair {
    struct fzs main, replica;
    bool extended, small_data;
    int snapshots_left; /* mid-program snapshot checks: each costs two fresh stores */
};

/* The same txn through the log record codec, as a follower would apply it. */
static void replicate(struct pair *p, const struct store_txn *txn, int32_t err)
{
    struct store_txn t = *txn;
    t.zxid = p->main.zxid;
    t.time_ms = p->main.time_ms;
    size_t n = txnrec_size(&t);
    uint8_t *rec = malloc(n);
    ZK_ASSERT(rec != NULL);
    ZK_ASSERT(txnrec_encode(&t, rec) == n);
    struct store_txn d;
    ZK_ASSERT(txnrec_decode(rec, n, &d) == 0);
    ZK_ASSERT(d.zxid == t.zxid && d.time_ms == t.time_ms && d.session_id == t.session_id &&
              d.cxid == t.cxid && d.type == t.type && d.body_len == t.body_len &&
              d.auth_len == t.auth_len);
    ZK_ASSERT(t.body_len == 0 || memcmp(d.body, t.body, t.body_len) == 0);
    ZK_ASSERT(t.auth_len == 0 || memcmp(d.auth, t.auth, t.auth_len) == 0);
    int32_t rerr = fzs_apply(&p->replica, &d);
    free(rec);
    ZK_ASSERT(rerr == err); /* deterministic: every member computes the same reply */
    ZK_ASSERT(p->replica.reply.len == p->main.reply.len);
    ZK_ASSERT(p->main.reply.len == 0 ||
              memcmp(p->replica.reply.data, p->main.reply.data, p->main.reply.len) == 0);
    ZK_ASSERT(store_digest(p->replica.st) == store_digest(p->main.st));
}

/* Every node but / is a descendant of /: the tree and the node table agree. */
static void check_counts(struct fzs *s)
{
    struct jute_writer body, out;
    jw_init(&body);
    jw_init(&out);
    jw_string(&body, "/");
    ZK_ASSERT(store_read(s->st, ZOP_GETALLCHILDRENNUMBER, body.data, body.len, 0, 0, &out) == 0);
    struct jute_reader jr;
    jr_init(&jr, out.data, out.len);
    int32_t n = jr_int(&jr);
    ZK_ASSERT(jr_ok(&jr) && (size_t)n + 1 == store_node_count(s->st));
    jw_free(&body);
    jw_free(&out);
    store_check_invariants(s->st);
}

static bool tracing; /* FUZZ_TRACE=1: print each txn, to read a crashing program */

static void trace_txn(const struct store_txn *t, int32_t err)
{
    fprintf(stderr, "txn %#llx %s session %#llx body", (unsigned long long)t->zxid,
            zk_op_name(t->type), (unsigned long long)t->session_id);
    for (uint32_t i = 0; i < t->body_len && i < 96; i++) {
        fprintf(stderr, isprint(t->body[i]) ? "%c" : "\\x%02x", t->body[i]);
    }
    fprintf(stderr, " -> %s\n", zk_err_name(err));
}

static void apply_txn(struct pair *p, const struct store_txn *txn)
{
    int32_t err = fzs_apply(&p->main, txn);
    if (tracing) {
        struct store_txn t = *txn;
        t.zxid = p->main.zxid;
        trace_txn(&t, err);
    }
    replicate(p, txn, err);
    check_counts(&p->main);
}

static void op_txn(struct pair *p, struct fz *in)
{
    struct store_txn txn = {0};
    txn.type = fzs_opcode(in, true);
    txn.session_id = fzs_session(in);
    txn.cxid = (int32_t)fz_u32(in);
    uint8_t dt = fz_u8(in);
    txn.time_ms = p->main.time_ms + (dt < 250 ? dt * 37 : (int64_t)fz_u32(in));
    txn.auth = fzs_identities(in, &txn.auth_len);
    struct jute_writer body;
    jw_init(&body);
    fzs_body(in, txn.type, &body);
    ZK_ASSERT(body.err == 0);
    txn.body = body.data;
    txn.body_len = (uint32_t)body.len;
    apply_txn(p, &txn);
    jw_free(&body);
}

struct reap {
    char *paths[REAP_MAX];
    int n;
};

static void collect(void *ctx, const char *path)
{
    struct reap *r = ctx;
    if (r->n < REAP_MAX) {
        r->paths[r->n] = strdup(path);
        ZK_ASSERT(r->paths[r->n] != NULL);
        r->n++;
    }
}

/* The leader's reaper: every candidate becomes an internal deleteContainer txn (session 0). */
static void op_reap(struct pair *p, struct fz *in)
{
    struct reap r = {.n = 0};
    int64_t now = p->main.time_ms + (int64_t)fz_u16(in) * 10;
    store_reap_candidates(p->main.st, now, collect, &r);
    for (int i = 0; i < r.n; i++) {
        struct jute_writer body;
        jw_init(&body);
        jw_string(&body, r.paths[i]);
        struct store_txn txn = {.time_ms = now, .type = ZOP_DELETECONTAINER, .body = body.data,
                                .body_len = (uint32_t)body.len};
        apply_txn(p, &txn);
        jw_free(&body);
        free(r.paths[i]);
    }
}

/* A snapshot read into a fresh store is the same state, and survives a second round trip. */
static void check_snapshot(struct pair *p)
{
    const struct store *st = p->main.st;
    struct jute_writer a, b;
    jw_init(&a);
    jw_init(&b);
    fzs_snapshot(st, &a);
    int32_t max = p->small_data ? 1024 : ZK_MAX_BUFFER_DEFAULT;
    struct store_options o = {.max_data_len = max, .extended_types = p->extended,
                              .max_reply_len = max, .max_multiread_reply_len = max};
    struct store *fresh = store_new(&o);
    ZK_ASSERT(fresh != NULL);
    ZK_ASSERT(store_snapshot_read(fresh, a.data, a.len) == 0);
    ZK_ASSERT(store_digest(fresh) == store_digest(st));
    ZK_ASSERT(store_node_count(fresh) == store_node_count(st));
    ZK_ASSERT(store_session_count(fresh) == store_session_count(st));
    ZK_ASSERT(store_ephemeral_count(fresh) == store_ephemeral_count(st));
    ZK_ASSERT(store_last_zxid(fresh) == store_last_zxid(st));
    ZK_ASSERT(store_approximate_data_size(fresh) == store_approximate_data_size(st));
    store_check_invariants(fresh);
    fzs_snapshot(fresh, &b);
    struct store *again = store_new(&o);
    ZK_ASSERT(again != NULL && store_snapshot_read(again, b.data, b.len) == 0);
    ZK_ASSERT(store_digest(again) == store_digest(st));
    store_free(again);
    store_free(fresh);
    jw_free(&a);
    jw_free(&b);
}

static void run_op(struct pair *p, struct fz *in)
{
    uint8_t k = fz_u8(in);
    if (k < 200) {
        op_txn(p, in);
    } else if (k < 225) {
        op_reap(p, in);
    } else if (k < 235) {
        int64_t next = ((p->main.zxid >> 32) + 1) << 32; /* a new epoch: counters restart */
        p->main.zxid = p->replica.zxid = next;
    } else if (p->snapshots_left > 0) {
        p->snapshots_left--;
        check_snapshot(p);
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
    uint8_t variant = fz_u8(&in);
    struct pair p;
    p.extended = !(variant & 1);
    p.small_data = variant & 2;
    p.snapshots_left = 2;
    fzs_init(&p.main, p.extended, p.small_data);
    fzs_init(&p.replica, p.extended, p.small_data);
    for (int ops = 0; ops < 256 && !fz_done(&in); ops++) {
        run_op(&p, &in);
    }
    check_snapshot(&p);
    fzs_free(&p.main);
    fzs_free(&p.replica);
    return 0;
}
