/* Unit tests of multi (atomic, one zxid, results 0/code/-2 on abort, watches only on success)
 * and multiRead (independent sub-ops). */
#include <criterion/criterion.h>

#include "store/store_testkit.h"

#define SID 0x2000000000000001LL

TK_SUITE_WITH_SESSION(store_multi, SID);

Test(store_multi, success_results_and_one_zxid)
{
    cr_assert_eq(tk_create(&t, SID, "/m", NULL, 0), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETCHILDREN, "/m", 1, 7), 0);
    struct jute_writer b;
    jw_init(&b);
    tk_multi_op(&b, ZOP_CREATE);
    tk_create_body(&b, "/m/a", "1", 0);
    tk_multi_op(&b, ZOP_CREATE2);
    tk_create_body(&b, "/m/b", "2", 0);
    tk_multi_op(&b, ZOP_SETDATA);
    jw_string(&b, "/m/a");
    jw_bytes(&b, "xyz", 3);
    jw_int(&b, 0);
    tk_multi_path_version(&b, ZOP_CHECK, "/m/b", 0);
    tk_multi_path_version(&b, ZOP_DELETE, "/m/b", 0);
    tk_multi_end(&b);
    cr_expect_eq(store_validate_write(ZOP_MULTI, b.data, b.len, ZK_MAX_BUFFER_DEFAULT), 0);
    cr_assert_eq(tk_apply(&t, SID, ZOP_MULTI, &b), 0);
    cr_assert_eq(t.err, 0);
    int64_t z = t.zxid;
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    cr_expect_eq(jr_int(&jr), ZOP_CREATE);
    cr_expect_eq(jr_bool(&jr), false);
    cr_expect_eq(jr_int(&jr), 0);
    cr_expect_eq(jr_bytes(&jr).len, 4);
    cr_expect_eq(jr_int(&jr), ZOP_CREATE2);
    (void)jr_bool(&jr);
    cr_expect_eq(jr_int(&jr), 0);
    cr_expect_eq(jr_bytes(&jr).len, 4);
    struct zk_stat s;
    zk_stat_read(&jr, &s);
    cr_expect_eq(s.czxid, z);
    cr_expect_eq(jr_int(&jr), ZOP_SETDATA);
    (void)jr_bool(&jr);
    (void)jr_int(&jr);
    zk_stat_read(&jr, &s);
    cr_expect_eq(s.version, 1);
    cr_expect_eq(s.data_length, 3);
    cr_expect_eq(jr_int(&jr), ZOP_CHECK);
    (void)jr_bool(&jr);
    (void)jr_int(&jr);
    cr_expect_eq(jr_int(&jr), ZOP_DELETE);
    (void)jr_bool(&jr);
    (void)jr_int(&jr);
    cr_expect_eq(jr_int(&jr), -1);
    cr_expect_eq(jr_bool(&jr), true);
    cr_expect_eq(jr_int(&jr), -1);
    cr_expect_eq(jr_remaining(&jr), 0);
    struct zk_stat m = tk_stat(&t, "/m");
    cr_expect_eq(m.pzxid, z);
    cr_expect_eq(m.num_children, 1);
    cr_expect_eq(m.cversion, 2 * 2 - 1);
    cr_expect_eq(tk_stat(&t, "/m/a").mzxid, z);
    cr_expect_eq(tk_count_events(&t, 7, ZEV_CHILDREN_CHANGED, "/m"), 1);
    jw_free(&b);
}

Test(store_multi, rollback_on_failure)
{
    cr_assert_eq(tk_create(&t, SID, "/r", "v", 0), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETDATA, "/r", 1, 9), 0);
    cr_assert_eq(tk_read(&t, ZOP_EXISTS, "/r/new", 1, 9), ZE_NONODE);
    uint64_t digest = store_digest(t.st);
    size_t nodes = store_node_count(t.st);
    struct zk_stat before = tk_stat(&t, "/r");
    struct jute_writer b;
    jw_init(&b);
    tk_multi_op(&b, ZOP_CREATE);
    tk_create_body(&b, "/r/new", NULL, 0);
    tk_multi_op(&b, ZOP_SETDATA);
    jw_string(&b, "/r");
    jw_bytes(&b, "w", 1);
    jw_int(&b, -1);
    tk_multi_path_version(&b, ZOP_DELETE, "/r", -1); /* NotEmpty: /r/new exists now */
    tk_multi_path_version(&b, ZOP_CHECK, "/r", 0);
    tk_multi_end(&b);
    cr_assert_eq(tk_apply(&t, SID, ZOP_MULTI, &b), 0);
    cr_expect_eq(t.err, 0);
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    int32_t expect[] = {0, 0, ZE_NOTEMPTY, ZE_RUNTIMEINCONSISTENCY};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(jr_int(&jr), -1);
        cr_expect_eq(jr_bool(&jr), false);
        cr_expect_eq(jr_int(&jr), expect[i]);
        cr_expect_eq(jr_int(&jr), expect[i]);
    }
    cr_expect_eq(jr_int(&jr), -1);
    cr_expect_eq(jr_bool(&jr), true);
    cr_expect_eq(jr_int(&jr), -1);
    cr_expect_eq(jr_remaining(&jr), 0);
    cr_expect_eq(store_digest(t.st), digest);
    cr_expect_eq(store_node_count(t.st), nodes);
    struct zk_stat after = tk_stat(&t, "/r");
    cr_expect_eq(memcmp(&before, &after, sizeof before), 0);
    cr_expect_eq(t.nevents, 0);
    cr_expect_eq(store_watch_count(t.st), 2);
    cr_expect_eq(store_last_zxid(t.st), t.zxid);
    jw_free(&b);
}

Test(store_multi, malformed_and_mixed)
{
    struct jute_writer b;
    jw_init(&b);
    tk_multi_op(&b, ZOP_GETDATA);
    jw_string(&b, "/");
    jw_bool(&b, false);
    tk_multi_end(&b);
    cr_expect_eq(store_validate_write(ZOP_MULTI, b.data, b.len, 100), ZE_MARSHALLINGERROR);
    cr_assert_eq(tk_apply(&t, SID, ZOP_MULTI, &b), 0);
    cr_expect_eq(t.err, ZE_MARSHALLINGERROR);
    jw_reset(&b);
    tk_multi_op(&b, ZOP_CREATE);
    jw_string(&b, "/x");
    cr_assert_eq(tk_apply(&t, SID, ZOP_MULTI, &b), 0);
    cr_expect_eq(t.err, ZE_MARSHALLINGERROR);
    jw_reset(&b);
    tk_multi_end(&b); /* empty multi */
    cr_assert_eq(tk_apply(&t, SID, ZOP_MULTI, &b), 0);
    cr_expect_eq(t.err, 0);
    cr_expect_eq(t.reply.len, 9);
    cr_assert_eq(tk_apply(&t, 777, ZOP_MULTI, &b), 0);
    cr_expect_eq(t.err, ZE_SESSIONEXPIRED);
    jw_free(&b);
}

Test(store_multi, multi_read_independent)
{
    cr_assert_eq(tk_create(&t, SID, "/mr", "dat", 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/mr/k", NULL, 0), 0);
    struct jute_writer b;
    jw_init(&b);
    tk_multi_op(&b, ZOP_GETCHILDREN);
    jw_string(&b, "/mr");
    jw_bool(&b, true);
    tk_multi_op(&b, ZOP_GETDATA);
    jw_string(&b, "/missing");
    jw_bool(&b, false);
    tk_multi_op(&b, ZOP_GETDATA);
    jw_string(&b, "/mr");
    jw_bool(&b, false);
    tk_multi_end(&b);
    jw_reset(&t.reply);
    cr_assert_eq(store_read(t.st, ZOP_MULTIREAD, b.data, b.len, SID, 5, &t.reply), 0);
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    cr_expect_eq(jr_int(&jr), ZOP_GETCHILDREN);
    (void)jr_bool(&jr);
    cr_expect_eq(jr_int(&jr), 0);
    cr_expect_eq(jr_int(&jr), 1);
    cr_expect_eq(jr_bytes(&jr).len, 1);
    cr_expect_eq(jr_int(&jr), -1);
    (void)jr_bool(&jr);
    cr_expect_eq(jr_int(&jr), ZE_NONODE);
    cr_expect_eq(jr_int(&jr), ZE_NONODE);
    cr_expect_eq(jr_int(&jr), ZOP_GETDATA);
    (void)jr_bool(&jr);
    cr_expect_eq(jr_int(&jr), 0);
    cr_expect_eq(jr_bytes(&jr).len, 3);
    struct zk_stat s;
    zk_stat_read(&jr, &s);
    cr_expect_eq(s.num_children, 1);
    cr_expect_eq(jr_int(&jr), -1);
    cr_expect_eq(jr_bool(&jr), true);
    cr_expect_eq(jr_int(&jr), -1);
    cr_expect_eq(jr_remaining(&jr), 0);
    cr_expect_eq(store_watch_count(t.st), 0); /* watch flags are ignored */
    jw_reset(&b);
    tk_multi_op(&b, ZOP_CREATE);
    tk_create_body(&b, "/x", NULL, 0);
    tk_multi_end(&b);
    cr_expect_eq(store_read(t.st, ZOP_MULTIREAD, b.data, b.len, SID, 5, &t.reply),
                 ZE_MARSHALLINGERROR);
    jw_free(&b);
}

/* A read's reply is bounded by max_reply_len, a multiRead's by max_multiread_reply_len. */
Test(store_multi, reply_bounds)
{
    struct tk b;
    tk_init_with(&b, (struct store_options){.max_data_len = 1000, .max_reply_len = 700,
                                            .max_multiread_reply_len = 300});
    tk_session(&b, SID);
    char name[64];
    cr_assert_eq(tk_create(&b, SID, "/r", "0123456789", 0), 0);
    for (int i = 0; i < 40; i++) { /* 40 names of 9 bytes: 4 + 40 * (4 + 9) = 524 bytes */
        snprintf(name, sizeof name, "/r/child-%03d", i);
        cr_assert_eq(tk_create(&b, SID, name, NULL, 0), 0);
    }
    cr_expect_eq(tk_read(&b, ZOP_GETCHILDREN, "/r", 0, 5), 0);
    cr_expect_eq(b.reply.len, 524);
    struct jute_writer m;
    jw_init(&m);
    for (int i = 0; i < 8; i++) { /* 8 getData of /r: about 8 * 90 bytes */
        tk_multi_op(&m, ZOP_GETDATA);
        jw_string(&m, "/r");
        jw_bool(&m, false);
    }
    tk_multi_end(&m);
    jw_reset(&b.reply);
    cr_expect_eq(store_read(b.st, ZOP_MULTIREAD, m.data, m.len, SID, 5, &b.reply),
                 ZE_MARSHALLINGERROR);
    cr_expect_eq(b.reply.len, 0); /* nothing of it is left */
    for (int i = 40; i < 60; i++) {
        snprintf(name, sizeof name, "/r/child-%03d", i);
        cr_assert_eq(tk_create(&b, SID, name, NULL, 0), 0);
    }
    cr_expect_eq(tk_read(&b, ZOP_GETCHILDREN, "/r", 0, 5), ZE_MARSHALLINGERROR); /* 784 */
    jw_free(&m);
    tk_fini(&b);
}
