/* Unit tests of the store's whole-state properties: digest, snapshot round trip and rejection of
 * bad snapshots, containers/TTL and their reaping, getEphemerals, malformed bodies (truncated and
 * random bytes never crash), out-of-memory injection during apply. */
#include <criterion/criterion.h>
#include <msgpack.h>

#include "common/alloc.h"
#include "store/store_testkit.h"

#define SID 0x4000000000000001LL

static struct tk t;

static void setup(void)
{
    tk_init(&t);
    tk_session(&t, SID);
}
static void teardown(void)
{
    zk_fail_after(-1);
    tk_fini(&t);
}

TestSuite(store_state, .init = setup, .fini = teardown);

static void build_sample(struct tk *k)
{
    cr_assert_eq(tk_create(k, SID, "/app", "cfg", 0), 0);
    cr_assert_eq(tk_create(k, SID, "/app/q", NULL, 0), 0);
    cr_assert_eq(tk_create(k, SID, "/app/q/n-", "1", ZCM_PERSISTENT_SEQUENTIAL), 0);
    cr_assert_eq(tk_create(k, SID, "/app/q/n-", "2", ZCM_EPHEMERAL_SEQUENTIAL), 0);
    cr_assert_eq(tk_create(k, SID, "/app/eph", "e", ZCM_EPHEMERAL), 0);
    cr_assert_eq(tk_create_op(k, SID, ZOP_CREATECONTAINER, "/cont", NULL, ZCM_CONTAINER), 0);
    cr_assert_eq(tk_create_op(k, SID, ZOP_CREATETTL, "/ttl", NULL, ZCM_PERSISTENT_WITH_TTL), 0);
    cr_assert_eq(tk_set(k, SID, "/app", "cfg2", -1), 0);
    cr_assert_eq(tk_delete(k, SID, "/app/q/n-0000000000", -1), 0);
}

Test(store_state, digest_equal_for_same_txns)
{
    struct tk other;
    tk_init(&other);
    tk_session(&other, SID);
    cr_expect_eq(store_digest(t.st), store_digest(other.st));
    build_sample(&t);
    build_sample(&other);
    cr_expect_eq(store_digest(t.st), store_digest(other.st));
    cr_assert_eq(tk_set(&t, SID, "/app", "cfg3", -1), 0);
    cr_assert_eq(tk_set(&other, SID, "/app", "cfg4", -1), 0);
    cr_expect_neq(store_digest(t.st), store_digest(other.st));
    cr_assert_eq(tk_set(&other, SID, "/app", "cfg3", 2), 0);
    cr_expect_neq(store_digest(t.st), store_digest(other.st)); /* version differs */
    tk_fini(&other);
}

Test(store_state, digest_back_after_delete)
{
    uint64_t d0 = store_digest(t.st);
    cr_assert_eq(tk_create(&t, SID, "/tmp", "x", 0), 0);
    cr_expect_neq(store_digest(t.st), d0);
    cr_assert_eq(tk_delete(&t, SID, "/tmp", -1), 0);
    cr_expect_neq(store_digest(t.st), d0); /* root pzxid/cversion changed */
}

static int sink_sbuffer(void *ctx, const void *p, size_t len)
{
    return msgpack_sbuffer_write(ctx, p, len);
}

static void snapshot_bytes(struct store *st, msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    cr_assert_eq(store_snapshot_write(st, sink_sbuffer, sb), 0);
}

Test(store_state, snapshot_round_trip)
{
    build_sample(&t);
    msgpack_sbuffer sb;
    snapshot_bytes(t.st, &sb);
    struct tk r;
    tk_init(&r);
    cr_assert_eq(store_snapshot_read(r.st, sb.data, sb.size), 0);
    cr_expect_eq(store_digest(r.st), store_digest(t.st));
    cr_expect_eq(store_node_count(r.st), store_node_count(t.st));
    cr_expect_eq(store_ephemeral_count(r.st), 2);
    cr_expect_eq(store_session_count(r.st), 1);
    cr_expect_eq(store_last_zxid(r.st), store_last_zxid(t.st));
    cr_expect_eq(store_approximate_data_size(r.st), store_approximate_data_size(t.st));
    const char *paths[] = {"/", "/app", "/app/q", "/app/q/n-0000000001", "/cont", "/ttl",
                           "/zookeeper/config"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct zk_stat a = tk_stat(&t, paths[i]), b = tk_stat(&r, paths[i]);
        cr_expect_eq(memcmp(&a, &b, sizeof a), 0, "%s", paths[i]);
    }
    /* stored cversion survives: next sequential name continues */
    r.zxid = t.zxid;
    cr_assert_eq(tk_create(&r, SID, "/app/q/n-", NULL, ZCM_PERSISTENT_SEQUENTIAL), 0);
    cr_expect_eq(tk_read(&r, ZOP_EXISTS, "/app/q/n-0000000002", 0, 0), 0);
    /* ephemerals still belong to the session */
    cr_assert_eq(tk_apply(&r, SID, ZOP_CLOSESESSION, NULL), 0);
    cr_expect_eq(store_ephemeral_count(r.st), 0);
    cr_expect_eq(tk_read(&r, ZOP_EXISTS, "/app/eph", 0, 0), ZE_NONODE);
    tk_fini(&r);
    msgpack_sbuffer_destroy(&sb);
}

/* The loader takes the bytes in pieces of any size (a file read, chunks of a transfer). */
Test(store_state, snapshot_loads_from_pieces_of_any_size)
{
    build_sample(&t);
    msgpack_sbuffer sb;
    snapshot_bytes(t.st, &sb);
    const size_t pieces[] = {1, 2, 3, 5, 7, 64, 4096};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        struct tk r;
        tk_init(&r);
        struct store_loader *l = store_loader_new();
        cr_assert_not_null(l);
        for (size_t off = 0; off < sb.size; off += pieces[k]) {
            size_t n = sb.size - off < pieces[k] ? sb.size - off : pieces[k];
            cr_assert_eq(store_loader_feed(l, sb.data + off, n), 0, "piece %zu at %zu", n, off);
        }
        cr_assert_eq(store_loader_zxid(l), store_last_zxid(t.st));
        cr_assert_eq(store_loader_finish(l, r.st), 0, "pieces of %zu", pieces[k]);
        store_loader_free(l);
        cr_expect_eq(store_digest(r.st), store_digest(t.st));
        cr_expect_eq(store_node_count(r.st), store_node_count(t.st));
        tk_fini(&r);
    }
    msgpack_sbuffer_destroy(&sb);
}

/* A loader that has not seen the whole snapshot never replaces the state. */
Test(store_state, snapshot_loader_needs_the_whole_input)
{
    build_sample(&t);
    msgpack_sbuffer sb;
    snapshot_bytes(t.st, &sb);
    struct tk r;
    tk_init(&r);
    uint64_t before = store_digest(r.st);
    struct store_loader *l = store_loader_new();
    cr_assert_eq(store_loader_feed(l, sb.data, sb.size - 1), 0);
    cr_expect_eq(store_loader_finish(l, r.st), -1);
    store_loader_free(l);
    cr_expect_eq(store_digest(r.st), before);
    tk_fini(&r);
    msgpack_sbuffer_destroy(&sb);
}

Test(store_state, snapshot_rejects_malformed)
{
    build_sample(&t);
    msgpack_sbuffer sb;
    snapshot_bytes(t.st, &sb);
    struct tk r;
    tk_init(&r);
    cr_assert_eq(tk_create(&r, 0, "/x", NULL, 0), ZE_SESSIONEXPIRED);
    uint64_t d = store_digest(r.st);
    for (size_t cut = 0; cut < sb.size; cut += 1 + cut / 16)
        cr_expect_eq(store_snapshot_read(r.st, sb.data, cut), -1, "cut %zu", cut);
    unsigned seed = 1;
    char *copy = malloc(sb.size);
    for (int i = 0; i < 300; i++) {
        memcpy(copy, sb.data, sb.size);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            copy[(seed >> 8) % sb.size] ^= (char)(1 + (seed >> 20) % 255);
        }
        if (store_snapshot_read(r.st, copy, sb.size) == 0) {
            r.zxid = store_last_zxid(r.st); /* accepted: must still be a consistent tree */
            (void)tk_read(&r, ZOP_GETALLCHILDRENNUMBER, "/", -1, 0);
            struct store *fresh = store_new(NULL);
            cr_assert_eq(store_snapshot_read(r.st, NULL, 0), -1);
            store_free(fresh);
            tk_fini(&r);
            tk_init(&r);
            d = store_digest(r.st);
        }
        cr_expect_eq(store_digest(r.st), d);
    }
    free(copy);
    cr_expect_eq(store_node_count(r.st), 4);
    tk_fini(&r);
    msgpack_sbuffer_destroy(&sb);
}

/* A snapshot made record by record with the public encoders (as --import-zookeeper makes one):
 * the loader takes it only with the digest it announces right, and the store it gives writes
 * the very same bytes back. */
static void encode_tiny(msgpack_sbuffer *sb, uint64_t digest)
{
    static const uint8_t pw[ZK_PASSWD_LEN] = {1, 2, 3};
    struct jute_writer acl;
    jw_init(&acl);
    tk_acl_open(&acl);
    struct store_snap_node root = {.path = "/", .path_len = 1, .data_len = -1, .pzxid = 7,
                                   .cversion = 1, .kind = ZK_KIND_PERSISTENT};
    struct store_snap_node eph = {.path = "/e", .path_len = 2, .data = (const uint8_t *)"xy",
                                  .data_len = 2, .czxid = 7, .mzxid = 7, .pzxid = 7,
                                  .ctime = 1000, .mtime = 1000, .ephemeral_owner = SID,
                                  .kind = ZK_KIND_EPHEMERAL};
    struct store_snap_header h = {.zxid = 7, .acls = 1, .sessions = 1, .nodes = 2,
                                  .digest = digest};
    msgpack_sbuffer_init(sb);
    struct store_snap_writer *w = store_snap_writer_new(sink_sbuffer, sb);
    cr_assert_not_null(w);
    cr_assert_eq(store_snap_encode_header(w, &h), 0);
    cr_assert_eq(store_snap_encode_acl(w, acl.data, acl.len), 0);
    cr_assert_eq(store_snap_encode_session(w, SID, 30000, pw), 0);
    cr_assert_eq(store_snap_encode_node(w, &root), 0);
    cr_assert_eq(store_snap_encode_node(w, &eph), 0);
    cr_assert_eq(store_snap_writer_end(w), 0);
    jw_free(&acl);
}

Test(store_state, snapshot_encoded_record_by_record)
{
    msgpack_sbuffer sb, back;
    encode_tiny(&sb, 0);
    struct store_loader *l = store_loader_new();
    cr_assert_eq(store_loader_feed(l, sb.data, sb.size), 0);
    uint64_t digest = store_loader_digest(l);
    cr_expect_eq(store_loader_finish(l, t.st), -1); /* the header announced digest 0 */
    store_loader_free(l);
    msgpack_sbuffer_destroy(&sb);
    encode_tiny(&sb, digest);
    struct tk r;
    tk_init(&r);
    cr_assert_eq(store_snapshot_read(r.st, sb.data, sb.size), 0);
    cr_expect_eq(store_digest(r.st), digest);
    cr_expect_eq(store_ephemeral_count(r.st), 1);
    struct zk_stat e = tk_stat(&r, "/e");
    cr_expect(e.ephemeral_owner == SID && e.data_length == 2 && e.ctime == 1000);
    snapshot_bytes(r.st, &back);
    cr_expect(back.size == sb.size && memcmp(back.data, sb.data, sb.size) == 0,
              "store_snapshot_write and the encoders disagree");
    tk_fini(&r);
    msgpack_sbuffer_destroy(&back);
    msgpack_sbuffer_destroy(&sb);
}

static int sink_calls;
static int failing_sink(void *ctx, const void *p, size_t len)
{
    (void)ctx, (void)p, (void)len;
    sink_calls++;
    return 7;
}

/* A sink's failure stops the write at once, and its own code is what the caller gets. */
Test(store_state, snapshot_write_returns_the_sinks_failure)
{
    char *big = malloc(200 << 10);
    memset(big, 'b', (200 << 10) - 1);
    big[(200 << 10) - 1] = 0;
    for (int i = 0; i < 4; i++) { /* more than one 256 KiB piece */
        char path[16];
        snprintf(path, sizeof path, "/big%d", i);
        cr_assert_eq(tk_create(&t, SID, path, big, 0), 0);
    }
    free(big);
    sink_calls = 0;
    cr_expect_eq(store_snapshot_write(t.st, failing_sink, NULL), 7);
    cr_expect_eq(sink_calls, 1);
}

Test(store_state, ttl_and_container_rules)
{
    struct tk plain;
    tk_init_opts(&plain, false);
    tk_session(&plain, SID);
    cr_expect_eq(tk_create_op(&plain, SID, ZOP_CREATETTL, "/t", NULL, ZCM_PERSISTENT_WITH_TTL),
                 ZE_UNIMPLEMENTED);
    tk_fini(&plain);
    struct jute_writer b;
    jw_init(&b);
    int64_t ttls[] = {0, -5, 0x10000000000LL};
    for (int i = 0; i < 3; i++) {
        jw_reset(&b);
        tk_create_body(&b, "/t", NULL, ZCM_PERSISTENT_WITH_TTL);
        jw_long(&b, ttls[i]);
        cr_assert_eq(tk_apply(&t, SID, ZOP_CREATETTL, &b), 0);
        cr_expect_eq(t.err, ZE_BADARGUMENTS);
    }
    jw_reset(&b);
    tk_create_body(&b, "/t", NULL, ZCM_PERSISTENT);
    jw_long(&b, 100); /* ttl with a non-TTL mode */
    cr_assert_eq(tk_apply(&t, SID, ZOP_CREATETTL, &b), 0);
    cr_expect_eq(t.err, ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/t", NULL, ZCM_PERSISTENT_WITH_TTL), ZE_BADARGUMENTS);
    jw_free(&b);
    cr_assert_eq(tk_create_op(&t, SID, ZOP_CREATETTL, "/t", NULL, ZCM_PERSISTENT_SEQUENTIAL_WITH_TTL), 0);
    cr_assert_eq(tk_create_op(&t, SID, ZOP_CREATECONTAINER, "/c", NULL, ZCM_CONTAINER), 0);
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    (void)jr_bytes(&jr);
    struct zk_stat s;
    zk_stat_read(&jr, &s);
    cr_expect_eq(s.ephemeral_owner, 0);
    cr_expect_eq(tk_stat(&t, "/t0000000000").ephemeral_owner, 0);
}

static int reaped;
static char reaped_paths[8][64];
static void on_reap(void *ctx, const char *path)
{
    (void)ctx;
    snprintf(reaped_paths[reaped++ % 8], 64, "%s", path);
}

Test(store_state, reap_candidates_and_delete_container)
{
    cr_assert_eq(tk_create_op(&t, SID, ZOP_CREATECONTAINER, "/c", NULL, ZCM_CONTAINER), 0);
    cr_assert_eq(tk_create_op(&t, SID, ZOP_CREATETTL, "/t", NULL, ZCM_PERSISTENT_WITH_TTL), 0);
    int64_t t_mtime = t.time_ms;
    reaped = 0;
    store_reap_candidates(t.st, t_mtime + 1000, on_reap, NULL);
    cr_expect_eq(reaped, 0); /* container never had a child, ttl (5000) not elapsed */
    cr_assert_eq(tk_create(&t, SID, "/c/k", NULL, 0), 0);
    cr_assert_eq(tk_delete(&t, SID, "/c/k", -1), 0);
    store_reap_candidates(t.st, t_mtime + 5001, on_reap, NULL);
    cr_expect_eq(reaped, 2);
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, "/c");
    cr_assert_eq(tk_apply(&t, 0, ZOP_DELETECONTAINER, &b), 0);
    cr_expect_eq(t.err, 0);
    cr_assert_eq(tk_apply(&t, 0, ZOP_DELETECONTAINER, &b), 0);
    cr_expect_eq(t.err, ZE_NONODE);
    cr_assert_eq(tk_create(&t, SID, "/p", NULL, 0), 0);
    jw_reset(&b);
    jw_string(&b, "/p");
    cr_assert_eq(tk_apply(&t, 0, ZOP_DELETECONTAINER, &b), 0);
    cr_expect_eq(t.err, ZE_BADVERSION);
    jw_free(&b);
    reaped = 0;
    store_reap_candidates(t.st, t_mtime + 5001, on_reap, NULL);
    cr_expect_eq(reaped, 1);
    cr_expect_str_eq(reaped_paths[0], "/t");
}

Test(store_state, get_ephemerals)
{
    cr_assert_eq(tk_create(&t, SID, "/a", NULL, 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/a/e1", NULL, ZCM_EPHEMERAL), 0);
    cr_assert_eq(tk_create(&t, SID, "/b", NULL, ZCM_EPHEMERAL), 0);
    const char *prefixes[] = {"/", "/a", "/b", "/zz"};
    int expect[] = {2, 1, 1, 0};
    for (int i = 0; i < 4; i++) {
        struct jute_writer b;
        jw_init(&b);
        jw_string(&b, prefixes[i]);
        jw_reset(&t.reply);
        cr_assert_eq(store_read(t.st, ZOP_GETEPHEMERALS, b.data, b.len, SID, 1, &t.reply), 0);
        struct jute_reader jr;
        jr_init(&jr, t.reply.data, t.reply.len);
        cr_expect_eq(jr_int(&jr), expect[i], "prefix %s", prefixes[i]);
        jw_free(&b);
    }
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, "/");
    jw_reset(&t.reply);
    cr_assert_eq(store_read(t.st, ZOP_GETEPHEMERALS, b.data, b.len, 999, 1, &t.reply), 0);
    cr_expect_eq(be32_load(t.reply.data), 0);
    jw_free(&b);
}

static const int32_t write_ops[] = {ZOP_CREATE, ZOP_CREATE2, ZOP_CREATECONTAINER, ZOP_CREATETTL,
                                    ZOP_DELETE, ZOP_SETDATA, ZOP_SETACL, ZOP_CHECK, ZOP_MULTI,
                                    ZOP_DELETECONTAINER, ZOP_CREATESESSION, ZOP_CLOSESESSION};
static const int32_t read_ops[] = {ZOP_EXISTS, ZOP_GETDATA, ZOP_GETCHILDREN, ZOP_GETCHILDREN2,
                                   ZOP_GETACL, ZOP_GETALLCHILDRENNUMBER, ZOP_GETEPHEMERALS,
                                   ZOP_MULTIREAD, ZOP_ADDWATCH, ZOP_REMOVEWATCHES,
                                   ZOP_CHECKWATCHES, ZOP_SETWATCHES, ZOP_SETWATCHES2, 9999};

static void feed_everywhere(const uint8_t *body, size_t len)
{
    for (size_t i = 0; i < sizeof write_ops / sizeof write_ops[0]; i++) {
        (void)store_validate_write(write_ops[i], body, len, ZK_MAX_BUFFER_DEFAULT);
        if (write_ops[i] == ZOP_CLOSESESSION || write_ops[i] == ZOP_CREATESESSION)
            continue; /* keep the session so ops get past the session check */
        struct store_txn txn = {++t.zxid, 1, SID, 1, write_ops[i], body, (uint32_t)len, NULL, 0};
        int32_t err;
        cr_assert_eq(store_apply(t.st, &txn, &t.reply, &err), 0);
    }
    for (size_t i = 0; i < sizeof read_ops / sizeof read_ops[0]; i++)
        (void)store_read(t.st, read_ops[i], body, len, SID, 3, &t.reply);
}

Test(store_state, malformed_bodies_never_crash)
{
    struct jute_writer b;
    jw_init(&b);
    tk_create_body(&b, "/m", "data", 0);
    jw_long(&b, 100);
    for (size_t cut = 0; cut < b.len - 8; cut++) { /* the create body without the ttl */
        feed_everywhere(b.data, cut);
        cr_expect_eq(store_validate_write(ZOP_CREATE, b.data, cut, 100), ZE_MARSHALLINGERROR);
    }
    cr_expect_eq(store_validate_write(ZOP_EXISTS, b.data, b.len, 100), ZE_UNIMPLEMENTED);
    unsigned seed = 7;
    uint8_t buf[96];
    for (int i = 0; i < 3000; i++) {
        size_t len = (size_t)(i % 96);
        for (size_t k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[k] = (uint8_t)(seed >> 16);
        }
        if (len >= 4 && i % 3 == 0)
            buf[0] = buf[1] = buf[2] = 0, buf[3] = (uint8_t)(len % 8); /* short lengths */
        feed_everywhere(buf, len);
    }
    jw_free(&b);
    store_remove_watcher(t.st, 3);
    cr_expect_eq(store_watch_count(t.st), 0);
}

/* Out of memory at every allocation of a multi that creates, sets and deletes: either the txn
 * applies fully, or store_apply returns -1 and the tree (digest, count) is unchanged. */
Test(store_state, oom_injection_on_apply)
{
    cr_assert_eq(tk_create(&t, SID, "/o", "x", 0), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETDATA, "/o", 1, 4), 0);
    struct jute_writer b;
    jw_init(&b);
    const char *names[] = {"/o/a", "/o/b", "/o/c"};
    for (int i = 0; i < 3; i++) {
        tk_multi_op(&b, ZOP_CREATE2);
        tk_create_body(&b, names[i], "payload", i == 2 ? ZCM_EPHEMERAL : 0);
    }
    tk_multi_op(&b, ZOP_SETDATA);
    jw_string(&b, "/o");
    jw_bytes(&b, "new", 3);
    jw_int(&b, -1);
    tk_multi_path_version(&b, ZOP_DELETE, "/o/a", -1);
    tk_multi_end(&b);
    uint64_t d = store_digest(t.st);
    size_t nodes = store_node_count(t.st);
    int64_t last = store_last_zxid(t.st);
    int succeeded_at = -1;
    for (long n = 0; n < 200 && succeeded_at < 0; n++) {
        struct jute_writer reply;
        jw_init(&reply);
        struct store_txn txn = {t.zxid + 1, 5, SID, 1, ZOP_MULTI, b.data, (uint32_t)b.len, NULL, 0};
        int32_t err = 99;
        zk_fail_after(n);
        int rc = store_apply(t.st, &txn, &reply, &err);
        zk_fail_after(-1);
        if (rc == 0) {
            cr_expect_eq(err, 0);
            succeeded_at = (int)n;
        } else {
            cr_expect_eq(store_digest(t.st), d, "n=%ld", n);
            cr_expect_eq(store_node_count(t.st), nodes);
            cr_expect_eq(store_last_zxid(t.st), last);
            cr_expect_eq(t.nevents, 0);
            store_check_invariants(t.st);
        }
        jw_free(&reply);
    }
    cr_expect_geq(succeeded_at, 1);
    cr_expect_eq(store_node_count(t.st), nodes + 2);
    cr_expect_eq(tk_count_events(&t, 4, ZEV_DATA_CHANGED, "/o"), 1);
    jw_free(&b);
}

Test(store_state, many_nodes_stay_consistent)
{
    char path[64];
    cr_assert_eq(tk_create(&t, SID, "/many", NULL, 0), 0);
    for (int i = 0; i < 5000; i++) {
        snprintf(path, sizeof path, "/many/n%d", i);
        cr_assert_eq(tk_create(&t, SID, path, "v", 0), 0);
    }
    cr_expect_eq(store_node_count(t.st), 5005);
    cr_expect_eq(tk_stat(&t, "/many").num_children, 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(path, sizeof path, "/many/n%d", i);
        cr_assert_eq(tk_delete(&t, SID, path, -1), 0);
    }
    struct zk_stat s = tk_stat(&t, "/many");
    cr_expect_eq(s.num_children, 2500);
    cr_expect_eq(s.cversion, 7500);
    cr_assert_eq(tk_read(&t, ZOP_GETCHILDREN, "/many", 0, 0), 0);
    cr_expect_eq(be32_load(t.reply.data), 2500);
}

/* closeSession with several ephemerals under OOM: all-or-nothing. */
Test(store_state, oom_injection_on_close_session)
{
    cr_assert_eq(tk_create(&t, SID, "/cs", NULL, 0), 0);
    for (int i = 0; i < 40; i++)
        cr_assert_eq(tk_create(&t, SID, "/cs/e-", NULL, ZCM_EPHEMERAL_SEQUENTIAL), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETCHILDREN, "/cs", 1, 2), 0);
    uint64_t d = store_digest(t.st);
    bool done = false;
    for (long n = 0; n < 50 && !done; n++) {
        struct store_txn txn = {t.zxid + 1, 5, SID, 1, ZOP_CLOSESESSION, NULL, 0, NULL, 0};
        int32_t err;
        zk_fail_after(n);
        int rc = store_apply(t.st, &txn, NULL, &err);
        zk_fail_after(-1);
        if (rc == 0) {
            done = true;
            t.zxid++;
        } else {
            cr_expect_eq(store_digest(t.st), d);
            cr_expect_eq(store_ephemeral_count(t.st), 40);
            store_check_invariants(t.st);
            cr_expect(store_session_exists(t.st, SID));
        }
    }
    cr_expect(done);
    cr_expect_eq(store_ephemeral_count(t.st), 0);
    cr_expect_eq(tk_stat(&t, "/cs").num_children, 0);
    cr_expect_eq(tk_count_events(&t, 2, ZEV_CHILDREN_CHANGED, "/cs"), 1);
    cr_expect_eq(t.nevents, 1);
}

/* Snapshot load under OOM: fails cleanly (store unchanged) until it succeeds. */
Test(store_state, oom_injection_on_snapshot_read)
{
    build_sample(&t);
    msgpack_sbuffer sb;
    snapshot_bytes(t.st, &sb);
    struct tk r;
    tk_init(&r);
    uint64_t d = store_digest(r.st);
    bool done = false;
    for (long n = 0; n < 200 && !done; n++) {
        zk_fail_after(n);
        int rc = store_snapshot_read(r.st, sb.data, sb.size);
        zk_fail_after(-1);
        if (rc == 0)
            done = true;
        else
            cr_expect_eq(store_digest(r.st), d);
    }
    cr_expect(done);
    cr_expect_eq(store_digest(r.st), store_digest(t.st));
    tk_fini(&r);
    msgpack_sbuffer_destroy(&sb);
}

/* A failed watch registration leaves no half registration behind. */
Test(store_state, oom_injection_on_add_watch)
{
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, "/somewhere/deep");
    jw_int(&b, 1);
    bool done = false;
    for (long n = 0; n < 20 && !done; n++) {
        zk_fail_after(n);
        int32_t err = store_read(t.st, ZOP_ADDWATCH, b.data, b.len, SID, 77, NULL);
        zk_fail_after(-1);
        if (err == 0)
            done = true;
        else
            cr_expect_eq(store_watch_count(t.st), 0);
    }
    cr_expect(done);
    cr_expect_eq(store_watch_count(t.st), 2);
    jw_free(&b);
}
