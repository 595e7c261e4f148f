/* Unit tests of watch semantics: one-shot data/child/exist watches and their events, persistent
 * and persistent-recursive watches, dedupe, remove/check watches, setWatches with relativeZxid,
 * and that notifications happen during apply. */
#include <criterion/criterion.h>

#include "store/store_testkit.h"

#define SID 0x3000000000000001LL

TK_SUITE_WITH_SESSION(store_watch, SID);

static int32_t add_watch(uint64_t watcher, const char *path, int32_t mode)
{
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, path);
    jw_int(&b, mode);
    jw_reset(&t.reply);
    int32_t err = store_read(t.st, ZOP_ADDWATCH, b.data, b.len, SID, watcher, &t.reply);
    jw_free(&b);
    return err;
}

static int32_t watch_op(int32_t op, uint64_t watcher, const char *path, int32_t type)
{
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, path);
    jw_int(&b, type);
    int32_t err = store_read(t.st, op, b.data, b.len, SID, watcher, NULL);
    jw_free(&b);
    return err;
}

Test(store_watch, exists_on_missing_fires_created_once)
{
    cr_expect_eq(tk_read(&t, ZOP_EXISTS, "/w", 1, 1), ZE_NONODE);
    cr_expect_eq(store_watch_count(t.st), 1);
    cr_assert_eq(tk_create(&t, SID, "/w", NULL, 0), 0);
    cr_expect_eq(tk_count_events(&t, 1, ZEV_CREATED, "/w"), 1);
    cr_expect_eq(store_watch_count(t.st), 0);
    cr_assert_eq(tk_set(&t, SID, "/w", "x", -1), 0);
    cr_expect_eq(t.nevents, 1);
}

Test(store_watch, data_and_child_events)
{
    cr_assert_eq(tk_create(&t, SID, "/w", NULL, 0), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETDATA, "/w", 1, 1), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETCHILDREN, "/w", 1, 2), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETCHILDREN2, "/nope", 1, 2), ZE_NONODE);
    cr_expect_eq(store_watch_count(t.st), 2);
    cr_assert_eq(tk_set(&t, SID, "/w", "x", -1), 0);
    cr_expect_eq(tk_count_events(&t, 1, ZEV_DATA_CHANGED, "/w"), 1);
    cr_assert_eq(tk_create(&t, SID, "/w/c", NULL, 0), 0);
    cr_expect_eq(tk_count_events(&t, 2, ZEV_CHILDREN_CHANGED, "/w"), 1);
    cr_expect_eq(t.nevents, 2);
    /* delete: data + child watch of the same watcher => one NodeDeleted */
    cr_assert_eq(tk_read(&t, ZOP_GETDATA, "/w/c", 1, 3), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETCHILDREN, "/w/c", 1, 3), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETCHILDREN, "/w/c", 1, 4), 0);
    cr_assert_eq(tk_delete(&t, SID, "/w/c", -1), 0);
    cr_expect_eq(tk_count_events(&t, 3, ZEV_DELETED, "/w/c"), 1);
    cr_expect_eq(tk_count_events(&t, 4, ZEV_DELETED, "/w/c"), 1);
    cr_expect_eq(store_watch_count(t.st), 0);
}

Test(store_watch, persistent_not_removed)
{
    cr_assert_eq(tk_create(&t, SID, "/p", NULL, 0), 0);
    cr_assert_eq(add_watch(5, "/p", 0), 0);
    cr_expect_eq(t.reply.len, 4);
    cr_expect_eq(store_watch_count(t.st), 2);
    cr_assert_eq(tk_set(&t, SID, "/p", "1", -1), 0);
    cr_assert_eq(tk_set(&t, SID, "/p", "2", -1), 0);
    cr_expect_eq(tk_count_events(&t, 5, ZEV_DATA_CHANGED, "/p"), 2);
    cr_assert_eq(tk_create(&t, SID, "/p/k", NULL, 0), 0);
    cr_expect_eq(tk_count_events(&t, 5, ZEV_CHILDREN_CHANGED, "/p"), 1);
    cr_expect_eq(tk_count_events(&t, 5, ZEV_CREATED, "/p/k"), 0);
    cr_assert_eq(tk_set(&t, SID, "/p/k", "2", -1), 0);
    cr_expect_eq(t.nevents, 3);
    cr_expect_eq(store_watch_count(t.st), 2);
}

Test(store_watch, recursive_subtree_no_children_changed)
{
    cr_assert_eq(tk_create(&t, SID, "/r", NULL, 0), 0);
    cr_assert_eq(add_watch(6, "/r", 1), 0);
    cr_assert_eq(tk_create(&t, SID, "/r/a", NULL, 0), 0);
    cr_assert_eq(tk_create(&t, SID, "/r/a/b", NULL, 0), 0);
    cr_assert_eq(tk_set(&t, SID, "/r/a/b", "z", -1), 0);
    cr_assert_eq(tk_delete(&t, SID, "/r/a/b", -1), 0);
    cr_assert_eq(tk_set(&t, SID, "/r", "z", -1), 0);
    cr_assert_eq(tk_create(&t, SID, "/rx", NULL, 0), 0);
    cr_expect_eq(tk_count_events(&t, 6, ZEV_CREATED, "/r/a"), 1);
    cr_expect_eq(tk_count_events(&t, 6, ZEV_CREATED, "/r/a/b"), 1);
    cr_expect_eq(tk_count_events(&t, 6, ZEV_DATA_CHANGED, "/r/a/b"), 1);
    cr_expect_eq(tk_count_events(&t, 6, ZEV_DELETED, "/r/a/b"), 1);
    cr_expect_eq(tk_count_events(&t, 6, ZEV_DATA_CHANGED, "/r"), 1);
    cr_expect_eq(t.nevents, 5);
    cr_expect_eq(store_watch_count(t.st), 2);
}

Test(store_watch, one_notification_per_watcher_per_txn)
{
    cr_assert_eq(tk_create(&t, SID, "/d", NULL, 0), 0);
    cr_assert_eq(add_watch(7, "/", 1), 0);
    cr_assert_eq(add_watch(7, "/d", 0), 0);
    cr_assert_eq(tk_set(&t, SID, "/d", "x", -1), 0);
    cr_expect_eq(tk_count_events(&t, 7, ZEV_DATA_CHANGED, "/d"), 1);
    /* multi with two setData on one path: one event */
    struct jute_writer b;
    jw_init(&b);
    for (int i = 0; i < 2; i++) {
        tk_multi_op(&b, ZOP_SETDATA);
        jw_string(&b, "/d");
        jw_bytes(&b, "q", 1);
        jw_int(&b, -1);
    }
    tk_multi_end(&b);
    cr_assert_eq(tk_apply(&t, SID, ZOP_MULTI, &b), 0);
    cr_expect_eq(tk_count_events(&t, 7, ZEV_DATA_CHANGED, "/d"), 2);
    jw_free(&b);
}

Test(store_watch, remove_and_check_watches)
{
    cr_assert_eq(tk_create(&t, SID, "/c", NULL, 0), 0);
    cr_expect_eq(watch_op(ZOP_CHECKWATCHES, 8, "/c", 3), ZE_NOWATCHER);
    cr_assert_eq(tk_read(&t, ZOP_GETDATA, "/c", 1, 8), 0);
    cr_expect_eq(watch_op(ZOP_CHECKWATCHES, 8, "/c", 1), ZE_NOWATCHER);
    cr_expect_eq(watch_op(ZOP_CHECKWATCHES, 8, "/c", 2), 0);
    cr_expect_eq(watch_op(ZOP_CHECKWATCHES, 8, "/c", 3), 0);
    cr_expect_eq(watch_op(ZOP_CHECKWATCHES, 8, "/c", 9), ZE_BADARGUMENTS);
    cr_expect_eq(watch_op(ZOP_REMOVEWATCHES, 8, "/c", 1), ZE_NOWATCHER);
    cr_expect_eq(watch_op(ZOP_REMOVEWATCHES, 8, "/c", 3), 0);
    cr_expect_eq(store_watch_count(t.st), 0);
    cr_expect_eq(watch_op(ZOP_REMOVEWATCHES, 8, "/c", 3), ZE_NOWATCHER);
    cr_assert_eq(tk_read(&t, ZOP_GETCHILDREN, "/c", 1, 8), 0);
    cr_assert_eq(tk_read(&t, ZOP_GETDATA, "/c", 1, 9), 0);
    store_remove_watcher(t.st, 8);
    cr_expect_eq(store_watch_count(t.st), 1);
    cr_assert_eq(tk_set(&t, SID, "/c", "x", -1), 0);
    cr_expect_eq(t.nevents, 1);
    cr_expect_eq(t.events[0].watcher, 9);
}

static void set_watches(uint64_t watcher, int64_t rel, const char *data, const char *exist,
                        const char *child, const char *persistent, bool v2)
{
    struct jute_writer b;
    jw_init(&b);
    jw_long(&b, rel);
    const char *lists[] = {data, exist, child, persistent, NULL};
    for (int i = 0; i < (v2 ? 5 : 3); i++) {
        jw_int(&b, lists[i] ? 1 : 0);
        if (lists[i])
            jw_string(&b, lists[i]);
    }
    jw_reset(&t.reply);
    cr_assert_eq(store_read(t.st, v2 ? ZOP_SETWATCHES2 : ZOP_SETWATCHES, b.data, b.len, SID,
                            watcher, &t.reply), 0);
    cr_expect_eq(t.reply.len, 0);
    jw_free(&b);
}

Test(store_watch, set_watches_relative_zxid)
{
    cr_assert_eq(tk_create(&t, SID, "/s", NULL, 0), 0);
    int64_t created = t.zxid;
    cr_assert_eq(tk_set(&t, SID, "/s", "x", -1), 0);
    int64_t modified = t.zxid;
    set_watches(10, created, "/s", NULL, NULL, NULL, false);
    cr_expect_eq(tk_count_events(&t, 10, ZEV_DATA_CHANGED, "/s"), 1);
    set_watches(11, modified, "/s", NULL, NULL, NULL, false);
    cr_expect_eq(t.nevents, 1);
    cr_expect_eq(store_watch_count(t.st), 1);
    set_watches(12, modified, "/gone", "/s", "/gone2", NULL, false);
    cr_expect_eq(tk_count_events(&t, 12, ZEV_DELETED, "/gone"), 1);
    cr_expect_eq(tk_count_events(&t, 12, ZEV_CREATED, "/s"), 1);
    cr_expect_eq(tk_count_events(&t, 12, ZEV_DELETED, "/gone2"), 1);
    set_watches(13, 0, NULL, "/later", "/s", NULL, false);
    cr_expect_eq(tk_count_events(&t, 13, ZEV_CHILDREN_CHANGED, "/s"), 1); /* pzxid > 0 */
    set_watches(14, modified, NULL, NULL, "/s", "/s", true);
    /* 14 child + persistent on the same path/table: one registration, mode overwritten */
    cr_expect_eq(store_watch_count(t.st), 4);
    cr_assert_eq(tk_create(&t, SID, "/s/k", NULL, 0), 0);
    cr_expect_eq(tk_count_events(&t, 14, ZEV_CHILDREN_CHANGED, "/s"), 1);
}

Test(store_watch, events_only_for_successful_writes)
{
    cr_assert_eq(tk_read(&t, ZOP_EXISTS, "/f", 1, 15), ZE_NONODE);
    cr_expect_eq(tk_create(&t, SID, "/f/x", NULL, 0), ZE_NONODE);
    cr_expect_eq(t.nevents, 0);
    cr_expect_eq(store_watch_count(t.st), 1);
}
