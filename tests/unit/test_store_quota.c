/* Unit tests of quotas (store_quota.c): what zkCli setquota creates under /zookeeper/quota is
 * kept up to date by every create, delete and setData below the quota'd node, as ZooKeeper's
 * DataTree does: the data only, the deepest quota, undone with a failed multi. Hard limits
 * refuse writes whose txn carries the enforceQuota identity. */
#include <string.h>

#include <criterion/criterion.h>

#include "store/store_testkit.h"

#define SID 0x2000000000000001LL

TK_SUITE_WITH_SESSION(store_quota, SID);

/* The data of path, as a string (empty for none). */
static const char *data_of(const char *path)
{
    static char buf[256];
    cr_assert_eq(tk_read(&t, ZOP_GETDATA, path, 0, 0), 0, "getData %s", path);
    struct jute_reader jr;
    jr_init(&jr, t.reply.data, t.reply.len);
    struct jute_bytes d = jr_bytes(&jr);
    size_t n = d.len > 0 ? (size_t)d.len : 0;
    cr_assert_lt(n, sizeof buf);
    memcpy(buf, d.ptr, n);
    buf[n] = '\0';
    return buf;
}

/* zkCli setquota -n count PATH: the quota path's parents, stats, then limits. */
static void set_quota(const char *path, const char *limits)
{
    char p[256];
    snprintf(p, sizeof p, "/zookeeper/quota%s", path);
    for (char *slash = strchr(p + 17, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        (void)tk_create(&t, SID, p, NULL, 0); /* the parents (NodeExists when there) */
        *slash = '/';
    }
    (void)tk_create(&t, SID, p, NULL, 0);
    char leaf[300];
    snprintf(leaf, sizeof leaf, "%s/zookeeper_stats", p);
    cr_assert_eq(tk_create(&t, SID, leaf, "count=0,bytes=0", 0), 0);
    snprintf(leaf, sizeof leaf, "%s/zookeeper_limits", p);
    cr_assert_eq(tk_create(&t, SID, leaf, limits, 0), 0);
}

Test(store_quota, stats_follow_creates_sets_and_deletes)
{
    cr_assert_eq(tk_create(&t, SID, "/q", "abcd", 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/q/a", "xx", 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/other", "zzz", 0), 0);
    set_quota("/q", "count=10,bytes=-1");
    /* creating the stats node computed the subtree: /q and /q/a, 4 + 2 bytes */
    cr_expect_str_eq(data_of("/zookeeper/quota/q/zookeeper_stats"), "count=2,bytes=6");
    struct zk_stat before = tk_stat(&t, "/zookeeper/quota/q/zookeeper_stats");
    cr_assert_eq(tk_create(&t, SID, "/q/b", "abc", 0), 0);
    cr_expect_str_eq(data_of("/zookeeper/quota/q/zookeeper_stats"), "count=3,bytes=9");
    cr_assert_eq(tk_create(&t, SID, "/q/b/c", NULL, 0), 0); /* null data: 0 bytes */
    cr_expect_str_eq(data_of("/zookeeper/quota/q/zookeeper_stats"), "count=4,bytes=9");
    cr_assert_eq(tk_set(&t, SID, "/q/a", "x", -1), 0);
    cr_expect_str_eq(data_of("/zookeeper/quota/q/zookeeper_stats"), "count=4,bytes=8");
    cr_assert_eq(tk_delete(&t, SID, "/q/b/c", -1), 0);
    cr_assert_eq(tk_delete(&t, SID, "/q/b", -1), 0);
    cr_expect_str_eq(data_of("/zookeeper/quota/q/zookeeper_stats"), "count=2,bytes=5");
    cr_assert_eq(tk_set(&t, SID, "/other", "more data", -1), 0); /* no quota there */
    cr_expect_str_eq(data_of("/zookeeper/quota/q/zookeeper_stats"), "count=2,bytes=5");
    /* the data alone changes: ZooKeeper writes it in place */
    struct zk_stat after = tk_stat(&t, "/zookeeper/quota/q/zookeeper_stats");
    cr_expect_eq(after.version, before.version);
    cr_expect_eq(after.mzxid, before.mzxid);
    /* the limits node is what ZooKeeper wrote */
    cr_expect_str_eq(data_of("/zookeeper/quota/q/zookeeper_limits"), "count=10,bytes=-1");
}

Test(store_quota, the_deepest_quota_counts)
{
    cr_assert_eq(tk_create(&t, SID, "/d", NULL, 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/d/e", NULL, 0), 0);
    set_quota("/d", "count=-1,bytes=100");
    set_quota("/d/e", "count=5,bytes=-1");
    cr_expect_str_eq(data_of("/zookeeper/quota/d/zookeeper_stats"), "count=2,bytes=0");
    cr_expect_str_eq(data_of("/zookeeper/quota/d/e/zookeeper_stats"), "count=1,bytes=0");
    cr_assert_eq(tk_create(&t, SID, "/d/e/f", "12", 0), 0);
    cr_expect_str_eq(data_of("/zookeeper/quota/d/e/zookeeper_stats"), "count=2,bytes=2");
    cr_expect_str_eq(data_of("/zookeeper/quota/d/zookeeper_stats"), "count=2,bytes=0");
    cr_assert_eq(tk_create(&t, SID, "/d/g", "1", 0), 0);
    cr_expect_str_eq(data_of("/zookeeper/quota/d/zookeeper_stats"), "count=3,bytes=1");
    /* the limits gone, the quota is gone: /d counts again */
    cr_assert_eq(tk_delete(&t, SID, "/zookeeper/quota/d/e/zookeeper_limits", -1), 0);
    cr_assert_eq(tk_create(&t, SID, "/d/e/h", NULL, 0), 0);
    cr_expect_str_eq(data_of("/zookeeper/quota/d/zookeeper_stats"), "count=4,bytes=1");
    cr_expect_str_eq(data_of("/zookeeper/quota/d/e/zookeeper_stats"), "count=2,bytes=2");
}

Test(store_quota, a_failed_multi_leaves_the_stats)
{
    cr_assert_eq(tk_create(&t, SID, "/m", NULL, 0), 0);
    set_quota("/m", "count=3,bytes=-1");
    struct jute_writer b;
    jw_init(&b);
    tk_multi_op(&b, ZOP_CREATE); /* create /m/x, then delete a node that is not there */
    tk_create_body(&b, "/m/x", "data", 0);
    tk_multi_path_version(&b, ZOP_DELETE, "/m/missing", -1);
    tk_multi_end(&b);
    uint64_t digest = store_digest(t.st);
    cr_assert_eq(tk_apply(&t, SID, ZOP_MULTI, &b), 0);
    cr_expect_eq(tk_read(&t, ZOP_EXISTS, "/m/x", 0, 0), ZE_NONODE); /* rolled back */
    cr_expect_str_eq(data_of("/zookeeper/quota/m/zookeeper_stats"), "count=1,bytes=0");
    cr_expect_eq(store_digest(t.st), digest);
    jw_free(&b);
}

Test(store_quota, stats_a_client_overwrote_are_left_alone)
{
    cr_assert_eq(tk_create(&t, SID, "/g", NULL, 0), 0);
    set_quota("/g", "count=3,bytes=-1");
    cr_assert_eq(tk_set(&t, SID, "/zookeeper/quota/g/zookeeper_stats", "garbage", -1), 0);
    cr_assert_eq(tk_create(&t, SID, "/g/a", NULL, 0), 0); /* nothing to update, no failure */
    cr_expect_str_eq(data_of("/zookeeper/quota/g/zookeeper_stats"), "garbage");
    cr_assert_eq(tk_set(&t, SID, "/zookeeper/quota/g/zookeeper_stats",
                        "count=7,bytes=5=;byteHardLimit=9;countHardLimit=8", -1), 0);
    cr_assert_eq(tk_create(&t, SID, "/g/b", "z", 0), 0); /* ZooKeeper's own format, extended */
    cr_expect_str_eq(data_of("/zookeeper/quota/g/zookeeper_stats"),
                     "count=8,bytes=6=;byteHardLimit=9;countHardLimit=8");
    /* values at INT64's end are left alone: adding to them would overflow */
    cr_assert_eq(tk_set(&t, SID, "/zookeeper/quota/g/zookeeper_stats",
                        "count=9223372036854775807,bytes=0", -1), 0);
    cr_assert_eq(tk_create(&t, SID, "/g/c", NULL, 0), 0);
    cr_expect_str_eq(data_of("/zookeeper/quota/g/zookeeper_stats"),
                     "count=9223372036854775807,bytes=0");
}

/* The identities of a connection of a member with zookeeper.enforceQuota=true. */
static void stamp_enforce(struct jute_writer *ids)
{
    jw_init(ids);
    jw_int(ids, 2);
    jw_string(ids, "ip");
    jw_string(ids, "127.0.0.1");
    jw_string(ids, STORE_ENFORCE_QUOTA_SCHEME);
    jw_string(ids, STORE_ENFORCE_QUOTA_ID);
    t.auth = ids->data;
    t.auth_len = (uint32_t)ids->len;
}

Test(store_quota, hard_limits_refuse_when_enforced)
{
    cr_assert_eq(tk_create(&t, SID, "/h", "12", 0), 0);
    /* setquota -N 3 -B 10 /h: soft limits unset, hard ones set */
    set_quota("/h", "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=3");
    cr_assert_eq(tk_create(&t, SID, "/h/a", NULL, 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/h/b", NULL, 0), 0); /* not enforced: over the limit */
    cr_expect_str_eq(data_of("/zookeeper/quota/h/zookeeper_stats"), "count=3,bytes=2");
    struct jute_writer ids;
    stamp_enforce(&ids);
    cr_expect_eq(tk_create(&t, SID, "/h/c", NULL, 0), ZE_QUOTAEXCEEDED); /* 4 > 3 */
    cr_expect_eq(tk_read(&t, ZOP_EXISTS, "/h/c", 0, 0), ZE_NONODE);
    cr_assert_eq(tk_delete(&t, SID, "/h/b", -1), 0);
    cr_expect_eq(tk_create(&t, SID, "/h/c", NULL, 0), 0); /* 3, the limit itself */
    cr_expect_eq(tk_set(&t, SID, "/h/a", "123456789", -1), ZE_QUOTAEXCEEDED); /* 11 > 10 */
    /* the quota comes before the version check, as in ZooKeeper */
    cr_expect_eq(tk_set(&t, SID, "/h/a", "123456789", 7), ZE_QUOTAEXCEEDED);
    cr_expect_eq(tk_set(&t, SID, "/h/a", "12345678", -1), 0); /* 10 */
    cr_expect_eq(tk_set(&t, SID, "/h", "", -1), 0); /* shrinking: 8 */
    cr_expect_str_eq(data_of("/zookeeper/quota/h/zookeeper_stats"), "count=3,bytes=8");
    /* soft limits alone are only logged, as in ZooKeeper */
    cr_assert_eq(tk_set(&t, SID, "/zookeeper/quota/h/zookeeper_limits", "count=1,bytes=1", -1),
                 0);
    cr_expect_eq(tk_create(&t, SID, "/h/d", "xyz", 0), 0);
    jw_free(&ids);
    t.auth = NULL;
    t.auth_len = 0;
}
