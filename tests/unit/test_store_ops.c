/* Unit tests of the znode store's write ops: create/create2/delete/setData/setACL/check, their
 * error codes in ZooKeeper's check order, full Stat values, sequential naming, sessions. */
#include <criterion/criterion.h>

#include "store/store_testkit.h"
#include "store/store_internal.h"

#define SID 0x1000000000000001LL

TK_SUITE_WITH_SESSION(store_ops, SID);

Test(store_ops, fresh_tree)
{
    struct tk f;
    tk_init(&f);
    cr_expect_eq(store_node_count(f.st), 4);
    cr_expect_eq(tk_read(&f, ZOP_EXISTS, "/zookeeper/config", 0, 0), 0);
    cr_expect_eq(tk_read(&f, ZOP_EXISTS, "/zookeeper/quota", 0, 0), 0);
    struct zk_stat root = tk_stat(&f, "/");
    cr_expect_eq(root.num_children, 1);
    cr_expect_eq(root.cversion, -1);
    cr_expect_eq(tk_read(&f, ZOP_GETACL, "/zookeeper/config", -1, 0), 0);
    struct jute_reader jr;
    jr_init(&jr, f.reply.data, f.reply.len);
    cr_expect_eq(jr_int(&jr), 1);
    cr_expect_eq(jr_int(&jr), ZPERM_READ);
    cr_assert_eq(tk_read(&f, ZOP_GETDATA, "/", 0, 0), 0);
    cr_expect_eq(be32_load(f.reply.data), 0); /* empty buffer, as ZooKeeper's new byte[0] */
    tk_fini(&f);
}

Test(store_ops, create_reply_and_stat)
{
    int64_t z = t.zxid + 1;
    cr_assert_eq(tk_create(&t, SID, "/a", "hello", 0), 0);
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    struct jute_bytes p = jr_bytes(&jr);
    cr_assert_eq(p.len, 2);
    cr_expect(memcmp(p.ptr, "/a", 2) == 0);
    cr_expect_eq(jr_remaining(&jr), 0);
    struct zk_stat s = tk_stat(&t, "/a");
    cr_expect_eq(s.czxid, z);
    cr_expect_eq(s.mzxid, z);
    cr_expect_eq(s.pzxid, z);
    cr_expect_eq(s.ctime, t.time_ms);
    cr_expect_eq(s.mtime, t.time_ms);
    cr_expect_eq(s.version, 0);
    cr_expect_eq(s.cversion, 0);
    cr_expect_eq(s.aversion, 0);
    cr_expect_eq(s.ephemeral_owner, 0);
    cr_expect_eq(s.data_length, 5);
    cr_expect_eq(s.num_children, 0);
    struct zk_stat root = tk_stat(&t, "/");
    cr_expect_eq(root.pzxid, z);
    cr_expect_eq(root.num_children, 2);
    cr_expect_eq(root.cversion, 0); /* stored 1, 2*1-2 */
    cr_expect_eq(store_last_zxid(t.st), z);
    cr_expect_eq(store_node_count(t.st), 5);
}

Test(store_ops, create2_returns_stat)
{
    cr_assert_eq(tk_create_op(&t, SID, ZOP_CREATE2, "/b", NULL, 0), 0);
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    struct jute_bytes p = jr_bytes(&jr);
    cr_expect_eq(p.len, 2);
    struct zk_stat s;
    zk_stat_read(&jr, &s);
    cr_assert(jr_ok(&jr));
    cr_expect_eq(s.czxid, t.zxid);
    cr_expect_eq(s.data_length, 0);
    cr_expect_eq(jr_remaining(&jr), 0);
    /* null data comes back as a -1 buffer */
    cr_assert_eq(tk_read(&t, ZOP_GETDATA, "/b", 0, 0), 0);
    jr_init(&jr, t.reply.data, t.reply.len);
    cr_expect_eq(jr_int(&jr), -1);
}

Test(store_ops, create_errors)
{
    cr_expect_eq(tk_create(&t, SID, "/x/y", NULL, 0), ZE_NONODE);
    cr_expect_eq(tk_create(&t, SID, "noslash", NULL, 0), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/a", NULL, 7), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/a", NULL, -1), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/", NULL, 0), ZE_NODEEXISTS);
    cr_expect_eq(tk_create(&t, SID, "/a/", NULL, 0), ZE_NONODE);
    cr_expect_eq(tk_create(&t, SID, "/a", NULL, 0), 0);
    cr_expect_eq(tk_create(&t, SID, "/a", NULL, 0), ZE_NODEEXISTS);
    cr_expect_eq(tk_create(&t, SID, "/a/", NULL, 0), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/a//b", NULL, 0), ZE_NONODE);
    cr_expect_eq(tk_create(&t, SID, "/a/.", NULL, 0), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/a/..", NULL, 0), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/a/.b", NULL, 0), 0);
    cr_expect_eq(tk_create(&t, SID, "/a/b.", NULL, 0), 0);
    cr_expect_eq(tk_create(&t, SID, "/a/\x01", NULL, 0), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/a/\x7f", NULL, 0), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/a/\xc2\x80", NULL, 0), ZE_BADARGUMENTS);   /* U+0080 */
    cr_expect_eq(tk_create(&t, SID, "/a/\xee\x80\x80", NULL, 0), ZE_BADARGUMENTS); /* U+E000 */
    cr_expect_eq(tk_create(&t, SID, "/a/\xef\xbf\xbd", NULL, 0), ZE_BADARGUMENTS); /* U+FFFD */
    cr_expect_eq(tk_create(&t, SID, "/a/\xf0\x9f\x98\x80", NULL, 0), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/a/\xff", NULL, 0), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "/a/caf\xc3\xa9", NULL, 0), 0);
    cr_expect_eq(store_node_count(t.st), 8);
}

Test(store_ops, create_nul_in_path)
{
    struct jute_writer b;
    jw_init(&b);
    jw_bytes(&b, "/a\0b", 4);
    jw_bytes(&b, NULL, -1);
    tk_acl_open(&b);
    jw_int(&b, 0);
    cr_assert_eq(tk_apply(&t, SID, ZOP_CREATE, &b), 0);
    cr_expect_eq(t.err, ZE_BADARGUMENTS);
    jw_free(&b);
    struct jute_writer e;
    jw_init(&e);
    jw_bytes(&e, "/a\0b", 4);
    jw_bool(&e, false);
    cr_expect_eq(store_read(t.st, ZOP_EXISTS, e.data, e.len, 0, 0, NULL), ZE_BADARGUMENTS);
    jw_free(&e);
}

Test(store_ops, data_too_long)
{
    struct store_options o = {.max_data_len = 10};
    struct store *st = store_new(&o);
    cr_assert(st);
    struct jute_writer b;
    jw_init(&b);
    jw_int(&b, 1000);
    uint8_t pw[16] = {0};
    jw_bytes(&b, pw, 16);
    int32_t err;
    struct store_txn txn = {1, 1, 7, 1, ZOP_CREATESESSION, b.data, (uint32_t)b.len, NULL, 0};
    cr_assert_eq(store_apply(st, &txn, NULL, &err), 0);
    jw_reset(&b);
    tk_create_body(&b, "/big", "0123456789A", 0);
    struct store_txn c = {2, 2, 7, 1, ZOP_CREATE, b.data, (uint32_t)b.len, NULL, 0};
    cr_assert_eq(store_apply(st, &c, NULL, &err), 0);
    cr_expect_eq(err, ZE_BADARGUMENTS);
    cr_expect_eq(store_validate_write(ZOP_CREATE, b.data, b.len, 10), ZE_BADARGUMENTS);
    cr_expect_eq(store_last_zxid(st), 2);
    jw_free(&b);
    store_free(st);
}

Test(store_ops, invalid_acls)
{
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, "/acl");
    jw_bytes(&b, NULL, -1);
    jw_int(&b, 0); /* empty ACL */
    jw_int(&b, 0);
    cr_assert_eq(tk_apply(&t, SID, ZOP_CREATE, &b), 0);
    cr_expect_eq(t.err, ZE_INVALIDACL);
    const char *bad[][2] = {{"auth", ""}, {"digest", "nouser"}, {"ip", "1.2.3.4/40"},
                            {"world", "someone"}, {"bogus", "x"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jw_reset(&b);
        jw_string(&b, "/acl");
        jw_bytes(&b, NULL, -1);
        jw_int(&b, 1);
        jw_int(&b, ZPERM_ALL);
        jw_string(&b, bad[i][0]);
        jw_string(&b, bad[i][1]);
        jw_int(&b, 0);
        cr_assert_eq(tk_apply(&t, SID, ZOP_CREATE, &b), 0);
        cr_expect_eq(t.err, ZE_INVALIDACL, "acl %s:%s", bad[i][0], bad[i][1]);
    }
    cr_expect_eq(store_node_count(t.st), 4);
    jw_free(&b);
}

Test(store_ops, acl_auth_expansion_and_dedupe)
{
    struct jute_writer auth, b;
    jw_init(&auth);
    jw_init(&b);
    jw_int(&auth, 2);
    jw_string(&auth, "ip");
    jw_string(&auth, "127.0.0.1");
    jw_string(&auth, "digest");
    jw_string(&auth, "bob:hash");
    jw_string(&b, "/sec");
    jw_bytes(&b, NULL, -1);
    jw_int(&b, 3);
    for (int i = 0; i < 2; i++) {
        jw_int(&b, ZPERM_ALL);
        jw_string(&b, "auth");
        jw_bytes(&b, NULL, -1);
    }
    jw_int(&b, ZPERM_READ);
    jw_string(&b, "ip");
    jw_string(&b, "10.0.0.0/8");
    jw_int(&b, 0);
    struct store_txn txn = {++t.zxid, 5, SID, 1, ZOP_CREATE, b.data, (uint32_t)b.len,
                            auth.data, (uint32_t)auth.len};
    int32_t err;
    cr_assert_eq(store_apply(t.st, &txn, NULL, &err), 0);
    cr_assert_eq(err, 0);
    cr_assert_eq(tk_read(&t, ZOP_GETACL, "/sec", -1, 0), 0);
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    cr_assert_eq(jr_int(&jr), 2);
    cr_expect_eq(jr_int(&jr), ZPERM_ALL);
    struct jute_bytes s = jr_bytes(&jr), id = jr_bytes(&jr);
    cr_expect(s.len == 6 && memcmp(s.ptr, "digest", 6) == 0);
    cr_expect(id.len == 8 && memcmp(id.ptr, "bob:hash", 8) == 0);
    cr_expect_eq(jr_int(&jr), ZPERM_READ);
    jw_free(&auth);
    jw_free(&b);
}

Test(store_ops, delete_rules)
{
    cr_assert_eq(tk_create(&t, SID, "/d", NULL, 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/d/c", NULL, 0), 0);
    cr_expect_eq(tk_delete(&t, SID, "/", -1), ZE_BADARGUMENTS);
    cr_expect_eq(tk_delete(&t, SID, "/zookeeper", -1), ZE_BADARGUMENTS);
    cr_expect_eq(tk_delete(&t, SID, "/zookeeper/quota", -1), ZE_BADARGUMENTS);
    cr_expect_eq(tk_delete(&t, SID, "/zookeeper/config", -1), ZE_BADARGUMENTS);
    cr_expect_eq(tk_delete(&t, SID, "nope", -1), ZE_BADARGUMENTS);
    cr_expect_eq(tk_delete(&t, SID, "/nope/x", -1), ZE_NONODE);
    cr_expect_eq(tk_delete(&t, SID, "/d/x", -1), ZE_NONODE);
    cr_expect_eq(tk_delete(&t, SID, "/d", 5), ZE_BADVERSION); /* version before NotEmpty */
    cr_expect_eq(tk_delete(&t, SID, "/d", 0), ZE_NOTEMPTY);
    int64_t z = t.zxid + 1;
    cr_expect_eq(tk_delete(&t, SID, "/d/c", 0), 0);
    cr_expect_eq(t.reply.len, 0);
    struct zk_stat d = tk_stat(&t, "/d");
    cr_expect_eq(d.pzxid, z);
    cr_expect_eq(d.cversion, 2); /* 1 create + 1 delete */
    cr_expect_eq(d.num_children, 0);
    cr_expect_eq(tk_delete(&t, SID, "/d", -1), 0);
    cr_expect_eq(store_node_count(t.st), 4);
}

Test(store_ops, set_data_and_versions)
{
    cr_assert_eq(tk_create(&t, SID, "/s", "a", 0), 0);
    int64_t cz = t.zxid;
    cr_expect_eq(tk_set(&t, SID, "/s", "bb", 1), ZE_BADVERSION);
    cr_expect_eq(tk_set(&t, SID, "/nope", "bb", -1), ZE_NONODE);
    cr_expect_eq(tk_set(&t, SID, "bad", "bb", -1), ZE_BADARGUMENTS);
    cr_expect_eq(tk_set(&t, SID, "/s", "bb", 0), 0);
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    struct zk_stat s;
    zk_stat_read(&jr, &s);
    cr_expect_eq(s.version, 1);
    cr_expect_eq(s.mzxid, t.zxid);
    cr_expect_eq(s.czxid, cz);
    cr_expect_eq(s.mtime, t.time_ms);
    cr_expect_eq(s.data_length, 2);
    cr_expect_eq(s.pzxid, cz);
    cr_expect_eq(tk_set(&t, SID, "/s", NULL, -1), 0);
    struct zk_stat s2 = tk_stat(&t, "/s");
    cr_expect_eq(s2.version, 2);
    cr_expect_eq(s2.data_length, 0);
}

Test(store_ops, set_acl_and_check)
{
    cr_assert_eq(tk_create(&t, SID, "/p", NULL, 0), 0);
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, "/p");
    jw_int(&b, 1);
    jw_int(&b, ZPERM_READ);
    jw_string(&b, "world");
    jw_string(&b, "anyone");
    jw_int(&b, 3);
    cr_assert_eq(tk_apply(&t, SID, ZOP_SETACL, &b), 0);
    cr_expect_eq(t.err, ZE_BADVERSION);
    jw_put_int_at(&b, b.len - 4, 0);
    cr_assert_eq(tk_apply(&t, SID, ZOP_SETACL, &b), 0);
    cr_expect_eq(t.err, 0);
    struct zk_stat s = tk_stat(&t, "/p");
    cr_expect_eq(s.aversion, 1);
    cr_expect_eq(s.version, 0);
    jw_reset(&b);
    jw_string(&b, "/p");
    jw_int(&b, 0);
    cr_assert_eq(tk_apply(&t, SID, ZOP_CHECK, &b), 0);
    cr_expect_eq(t.err, 0);
    cr_expect_eq(t.reply.len, 0);
    jw_put_int_at(&b, b.len - 4, 4);
    cr_assert_eq(tk_apply(&t, SID, ZOP_CHECK, &b), 0);
    cr_expect_eq(t.err, ZE_BADVERSION);
    jw_free(&b);
}

Test(store_ops, sequential_naming)
{
    cr_assert_eq(tk_create(&t, SID, "/q", NULL, 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/q/job-", NULL, ZCM_PERSISTENT_SEQUENTIAL), 0);
    cr_expect_eq(tk_read(&t, ZOP_EXISTS, "/q/job-0000000000", 0, 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/q/plain", NULL, 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/q/", NULL, ZCM_EPHEMERAL_SEQUENTIAL), 0);
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    struct jute_bytes p = jr_bytes(&jr);
    cr_expect(p.len == 13 && memcmp(p.ptr, "/q/0000000002", 13) == 0);
    cr_expect_eq(tk_delete(&t, SID, "/q/plain", -1), 0);
    cr_assert_eq(tk_create(&t, SID, "/q/job-", NULL, ZCM_PERSISTENT_SEQUENTIAL), 0);
    cr_expect_eq(tk_read(&t, ZOP_EXISTS, "/q/job-0000000003", 0, 0), 0);
    struct zk_stat q = tk_stat(&t, "/q");
    cr_expect_eq(q.cversion, 2 * 4 - 3);
}

Test(store_ops, ephemerals_and_sessions)
{
    cr_assert_eq(tk_create(&t, SID, "/e", "x", ZCM_EPHEMERAL), 0);
    struct zk_stat s = tk_stat(&t, "/e");
    cr_expect_eq(s.ephemeral_owner, SID);
    cr_expect_eq(tk_create(&t, SID, "/e/c", NULL, 0), ZE_NOCHILDRENFOREPHEMERALS);
    cr_expect_eq(tk_create(&t, 99, "/e2", NULL, ZCM_EPHEMERAL), ZE_SESSIONEXPIRED);
    cr_expect_eq(tk_create(&t, 99, "/p2", NULL, 0), ZE_SESSIONEXPIRED);
    cr_expect_eq(store_ephemeral_count(t.st), 1);
    cr_expect(store_session_exists(t.st, SID));
    int32_t timeout;
    uint8_t pw[16];
    cr_expect(store_session_get(t.st, SID, &timeout, pw));
    cr_expect_eq(timeout, 30000);
    cr_expect_eq(pw[1], 2);
    cr_expect_eq(store_session_count(t.st), 1);
    cr_assert_eq(tk_read(&t, ZOP_GETDATA, "/e", 1, 42), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETCHILDREN, "/", 1, 43), 0);
    cr_assert_eq(tk_apply(&t, SID, ZOP_CLOSESESSION, NULL), 0);
    cr_expect_eq(t.err, 0);
    cr_expect_eq(tk_read(&t, ZOP_EXISTS, "/e", 0, 0), ZE_NONODE);
    cr_expect_eq(store_ephemeral_count(t.st), 0);
    cr_expect_eq(store_session_count(t.st), 0);
    cr_expect_eq(tk_count_events(&t, 42, ZEV_DELETED, "/e"), 1);
    cr_expect_eq(tk_count_events(&t, 43, ZEV_CHILDREN_CHANGED, "/"), 1);
    cr_expect_eq(tk_create(&t, SID, "/p3", NULL, 0), ZE_SESSIONEXPIRED);
    /* closing an unknown session is a no-op success */
    cr_assert_eq(tk_apply(&t, 12345, ZOP_CLOSESESSION, NULL), 0);
    cr_expect_eq(t.err, 0);
}

Test(store_ops, failed_write_advances_zxid_only)
{
    uint64_t d = store_digest(t.st);
    cr_expect_eq(tk_delete(&t, SID, "/none", -1), ZE_NONODE);
    cr_expect_eq(store_last_zxid(t.st), t.zxid);
    cr_expect_eq(store_digest(t.st), d);
    cr_expect_eq(t.reply.len, 0);
}

Test(store_ops, get_children_and_data)
{
    cr_assert_eq(tk_create(&t, SID, "/g", "dd", 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/g/one", NULL, 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/g/two", NULL, 0), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETCHILDREN2, "/g", 0, 0), 0);
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    cr_assert_eq(jr_int(&jr), 2);
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        struct jute_bytes n = jr_bytes(&jr);
        if (n.len == 3 && memcmp(n.ptr, "one", 3) == 0)
            seen |= 1;
        if (n.len == 3 && memcmp(n.ptr, "two", 3) == 0)
            seen |= 2;
    }
    cr_expect_eq(seen, 3);
    struct zk_stat s;
    zk_stat_read(&jr, &s);
    cr_expect_eq(s.num_children, 2);
    cr_expect_eq(s.cversion, 2);
    cr_expect_eq(jr_remaining(&jr), 0);
    cr_expect_eq(tk_read(&t, ZOP_GETCHILDREN, "/nope", 0, 0), ZE_NONODE);
    cr_expect_eq(tk_read(&t, ZOP_GETDATA, "/nope", 0, 0), ZE_NONODE);
    cr_assert_eq(tk_read(&t, ZOP_GETDATA, "/g", 0, 0), 0);
    jr_init(&jr, t.reply.data, t.reply.len);
    struct jute_bytes d = jr_bytes(&jr);
    cr_expect(d.len == 2 && memcmp(d.ptr, "dd", 2) == 0);
    cr_assert_eq(tk_read(&t, ZOP_GETALLCHILDRENNUMBER, "/", -1, 0), 0);
    jr_init(&jr, t.reply.data, t.reply.len);
    cr_expect_eq(jr_int(&jr), 6);
    cr_assert_eq(tk_read(&t, ZOP_GETALLCHILDRENNUMBER, "/g", -1, 0), 0);
    jr_init(&jr, t.reply.data, t.reply.len);
    cr_expect_eq(jr_int(&jr), 2);
}

Test(store_ops, path_rules_section_11)
{
    const char *valid[] = {"/", "/a", "/a/b", "/.a", "/a.", "/..a", "/a/...", "/\xc3\xa9",
                           "/\xef\xbf\xaf" /* U+FFEF */, "/\xef\xa4\x80" /* U+F900 */};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        cr_expect(path_is_valid(valid[i], strlen(valid[i])), "%s", valid[i]);
    const char *invalid[] = {"", "a", "a/b", "/a/", "//", "/a//b", "/.", "/..", "/a/./b",
                             "/a/../b", "/\x1f", "/\x7f", "/\xc2\x9f", "/\xed\xa0\x80",
                             "/\xef\xa3\xbf", "/\xef\xbf\xb0", "/\xef\xbf\xbf",
                             "/\xf0\x90\x80\x80", "/\xc0\xaf", "/\xe0\x80", "/\x80"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        cr_expect(!path_is_valid(invalid[i], strlen(invalid[i])), "#%zu", i);
    cr_expect(!path_is_valid("/a\0b", 4));
    cr_expect_eq(tk_set(&t, SID, "/a/", "x", -1), ZE_BADARGUMENTS);
    cr_expect_eq(tk_set(&t, SID, "", "x", -1), ZE_BADARGUMENTS);
    cr_expect_eq(tk_create(&t, SID, "", NULL, 0), ZE_BADARGUMENTS);
    cr_expect_eq(tk_delete(&t, SID, "", -1), ZE_BADARGUMENTS);
}

Test(store_ops, set_acl_errors_in_order)
{
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, "/missing");
    jw_int(&b, 0); /* empty ACL: InvalidACL comes before NoNode */
    jw_int(&b, -1);
    cr_assert_eq(tk_apply(&t, SID, ZOP_SETACL, &b), 0);
    cr_expect_eq(t.err, ZE_INVALIDACL);
    jw_reset(&b);
    jw_string(&b, "/missing");
    tk_acl_open(&b);
    jw_int(&b, -1);
    cr_assert_eq(tk_apply(&t, SID, ZOP_SETACL, &b), 0);
    cr_expect_eq(t.err, ZE_NONODE);
    jw_reset(&b);
    jw_string(&b, "bad");
    tk_acl_open(&b);
    jw_int(&b, -1);
    cr_assert_eq(tk_apply(&t, SID, ZOP_SETACL, &b), 0);
    cr_expect_eq(t.err, ZE_BADARGUMENTS);
    jw_reset(&b);
    jw_string(&b, "/missing");
    jw_int(&b, -1);
    cr_assert_eq(tk_apply(&t, SID, ZOP_CHECK, &b), 0);
    cr_expect_eq(t.err, ZE_NONODE);
    jw_free(&b);
    cr_expect_eq(store_node_count(t.st), 4);
}

Test(store_ops, unknown_opcode_is_unimplemented)
{
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, "/");
    jw_bool(&b, false);
    cr_assert_eq(tk_apply(&t, SID, ZOP_GETDATA, &b), 0);
    cr_expect_eq(t.err, ZE_UNIMPLEMENTED);
    cr_expect_eq(store_validate_write(12345, b.data, b.len, 100), ZE_UNIMPLEMENTED);
    cr_expect_eq(store_read(t.st, ZOP_CREATE, b.data, b.len, SID, 1, NULL), ZE_UNIMPLEMENTED);
    jw_free(&b);
}
