/* fuzz_records: the decoders of what a member reads back from disk or gets in a SNAP. The first
 * byte picks one: txnrec_decode (a valid record re-encodes to the same bytes), store_snapshot_read
 * (refused input leaves the store untouched; accepted input is a consistent state that survives
 * a write and read back), zab_entry_decode, zab_epochs_decode and zab_msg_decode (each round trip
 * gives the same fields), and journal_batch_each over an arena of log records built from the input
 * with journal_batch_add, the unit a member hands to its disk (the walk must return them all,
 * with their counts, and stop where the callback says; the arena is the server's own memory, so
 * a malformed one is not an input it can get). A snapshot is read whole and through the
 * incremental loader in pieces (sized by the selector byte). */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "consensus/zab.h"
#include "fuzz_input.h"
#include "fuzz_store.h"
#include "store/store.h"
#include "store/journal.h"
#include "store/store_internal.h"
#include "store/txnrec.h"

static void txn_record(const uint8_t *p, size_t n)
{
    struct store_txn t;
    if (txnrec_decode(p, n, &t) != 0) {
        return;
    }
    uint8_t *again = malloc(n);
    ZK_ASSERT(again != NULL);
    ZK_ASSERT(txnrec_size(&t) == n && txnrec_encode(&t, again) == n);
    ZK_ASSERT(memcmp(again, p, n) == 0); /* fixed widths: one encoding per record */
    free(again);
}

/* The same bytes fed to the incremental loader in pieces of `piece` bytes. */
static int load_in_pieces(struct store *st, const uint8_t *p, size_t n, size_t piece)
{
    struct store_loader *l = store_loader_new();
    ZK_ASSERT(l != NULL);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += piece) {
        rc = store_loader_feed(l, p + off, n - off < piece ? n - off : piece);
    }
    rc = rc != 0 ? rc : store_loader_finish(l, st);
    store_loader_free(l);
    return rc;
}

/* Read whole and in pieces: the same verdict and state; a refused input leaves the store
 * untouched, an accepted one is consistent and survives a write and read back. */
static void snapshot(const uint8_t *p, size_t n, size_t piece)
{
    struct store *st = store_new(NULL), *pieces = store_new(NULL);
    ZK_ASSERT(st != NULL && pieces != NULL);
    uint64_t empty = store_digest(st);
    int whole = store_snapshot_read(st, p, n);
    int split = load_in_pieces(pieces, p, n, piece);
    ZK_ASSERT((whole == 0) == (split == 0));
    ZK_ASSERT(store_digest(pieces) == store_digest(st));
    if (whole != 0) {
        ZK_ASSERT(store_digest(st) == empty && store_node_count(st) == 4); /* untouched */
    } else {
        store_check_invariants(st);
        struct jute_writer out;
        jw_init(&out);
        fzs_snapshot(st, &out);
        struct store *back = store_new(NULL);
        ZK_ASSERT(back != NULL);
        ZK_ASSERT(store_snapshot_read(back, out.data, out.len) == 0);
        ZK_ASSERT(store_digest(back) == store_digest(st));
        ZK_ASSERT(store_node_count(back) == store_node_count(st));
        ZK_ASSERT(store_session_count(back) == store_session_count(st));
        ZK_ASSERT(store_last_zxid(back) == store_last_zxid(st));
        jw_free(&out);
        store_free(back);
    }
    store_free(pieces);
    store_free(st);
}

static void zab_entry(const uint8_t *p, size_t n)
{
    struct zab_entry e, d;
    if (zab_entry_decode(p, n, &e) != 0) {
        return;
    }
    size_t cap = n + 16, len;
    uint8_t *buf = malloc(cap);
    ZK_ASSERT(buf != NULL);
    ZK_ASSERT(zab_entry_encode(&e, buf, cap, &len) == 0 && zab_entry_decode(buf, len, &d) == 0);
    ZK_ASSERT(d.zxid == e.zxid && d.payload.len == e.payload.len);
    ZK_ASSERT(e.payload.len == 0 || memcmp(d.payload.data, e.payload.data, e.payload.len) == 0);
    free(buf);
}

static void zab_epochs(const uint8_t *p, size_t n)
{
    struct zab_epochs e, d;
    if (zab_epochs_decode(p, n, &e) != 0) {
        return;
    }
    ZK_ASSERT(e.current_epoch <= e.accepted_epoch);
    uint8_t buf[32];
    size_t len;
    ZK_ASSERT(zab_epochs_encode(&e, buf, sizeof(buf), &len) == 0);
    ZK_ASSERT(zab_epochs_decode(buf, len, &d) == 0);
    ZK_ASSERT(d.accepted_epoch == e.accepted_epoch && d.current_epoch == e.current_epoch);
}

static void zab_message(const uint8_t *p, size_t n)
{
    struct zab_msg m, d;
    if (zab_msg_decode(p, n, &m) != 0) {
        return;
    }
    ZK_ASSERT(m.type >= ZAB_MSG_VOTE && m.type <= ZAB_MSG_TYPE_MAX);
    size_t cap = zab_msg_encoded_max(&m), len;
    uint8_t *buf = malloc(cap);
    ZK_ASSERT(buf != NULL);
    ZK_ASSERT(zab_msg_encode(&m, buf, cap, &len) == 0 && zab_msg_decode(buf, len, &d) == 0);
    ZK_ASSERT(d.type == m.type && d.flags == m.flags && d.state == m.state && d.tag == m.tag &&
              d.leader == m.leader && d.epoch == m.epoch && d.epoch2 == m.epoch2 &&
              d.zxid == m.zxid && d.zxid2 == m.zxid2 && d.nonce == m.nonce &&
              d.data.len == m.data.len);
    ZK_ASSERT(m.data.len == 0 || memcmp(d.data.data, m.data.data, m.data.len) == 0);
    free(buf);
}

/* ---- journal_batch_each ---- */

#define ARENA_RECORDS 64

struct walk {
    int64_t zxid[ARENA_RECORDS];
    const uint8_t *payload[ARENA_RECORDS];
    uint32_t len[ARENA_RECORDS];
    int count, seen, stop_at;
};

static int visit(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len)
{
    struct walk *w = ctx;
    ZK_ASSERT(w->seen < w->count);
    ZK_ASSERT(zxid == w->zxid[w->seen] && len == w->len[w->seen]);
    ZK_ASSERT(len == 0 || memcmp(p, w->payload[w->seen], len) == 0);
    return w->seen++ == w->stop_at ? 42 : 0;
}

static void arena(const uint8_t *p, size_t n)
{
    struct fz in = {p, n};
    struct walk w = {.stop_at = fz_u8(&in)};
    struct jute_writer a;
    jw_init(&a);
    while (!fz_done(&in) && w.count < ARENA_RECORDS) {
        int64_t zxid = (int64_t)fz_u64(&in);
        size_t len;
        const uint8_t *payload = fz_bytes(&in, fz_u8(&in), &len);
        journal_batch_add(&a, zxid, payload, len);
        w.zxid[w.count] = zxid;
        w.payload[w.count] = payload;
        w.len[w.count] = (uint32_t)len;
        w.count++;
    }
    ZK_ASSERT(a.err == 0);
    size_t records, bytes, total = 0;
    journal_batch_count(&a, &records, &bytes);
    for (int i = 0; i < w.count; i++) {
        total += w.len[i];
    }
    ZK_ASSERT(records == (size_t)w.count && bytes == total);
    int rc = journal_batch_each(&a, visit, &w);
    bool stopped = w.stop_at < w.count;
    ZK_ASSERT(rc == (stopped ? 42 : 0));
    ZK_ASSERT(w.seen == (stopped ? w.stop_at + 1 : w.count));
    jw_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0: txn_record(p, n); break;
    case 1: snapshot(p, n, 1 + (size_t)(data[0] / 6) * 7); break;
    case 2: zab_entry(p, n); break;
    case 3: zab_epochs(p, n); break;
    case 4: zab_message(p, n); break;
    default: arena(p, n); break;
    }
    return 0;
}
