/* Unit tests of the import on crafted ZooKeeper files (src/import): the snapshot reader (seals,
 * trailers, falling back to an older snapshot), the log iterator (torn, zeroed, partial and
 * corrupted tails as ZooKeeper's FileTxnIterator ends or refuses them, files that continue each
 * other, zxid gaps), the fuzzy-snapshot replay of DataTree.processTxn (NODEEXISTS/NONODE, the
 * cversion fix-up, orphans, closeSession, multi), ZooKeeper's tree digest, and the writing of a
 * zabkeeper target (a snapshot file and the epochs, read back; refused when occupied or when
 * zabkeeper cannot hold the state; nothing left behind by a failure). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "import/zkimport_internal.h"
#include "proto/jute.h"
#include "proto/zkproto.h"
#include "store/snapfile.h"
#include "store/store.h"
#include "store/txnlog.h"

#define E1(n) (0x100000000LL + (n)) /* zxid n of epoch 1 */
#define SESSION 0x0100000c2b8c0000LL
#define SESSION2 0x0100000c2b8c0001LL
#define TTL_OWNER ((int64_t)0xFF00000000001388ULL) /* TTL 5000 ms */

static char dir[64];
static struct zkimp *im;

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char sub[512];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            remove_tree(sub);
        }
        closedir(d);
        cr_assert_eq(rmdir(path), 0, "rmdir %s", path);
    } else {
        cr_assert_eq(unlink(path), 0, "unlink %s", path);
    }
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/zkimport-unit.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    im = zk_calloc(1, sizeof *im);
    cr_assert_not_null(im);
    snprintf(im->snap_dir, sizeof im->snap_dir, "%s", dir);
    snprintf(im->log_dir, sizeof im->log_dir, "%s", dir);
    im->max_len = zkf_length_limit(ZK_MAX_BUFFER_DEFAULT);
}

static void teardown(void)
{
    zt_free(&im->tree);
    zk_free(im);
    remove_tree(dir);
}

TestSuite(zkfiles, .init = setup, .fini = teardown);

/* ---- building files ---- */

static void put_file(const char *name, const uint8_t *p, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static void open_acl(struct jute_writer *w)
{
    jw_int(w, 1);
    jw_int(w, 31);
    jw_string(w, "world");
    jw_string(w, "anyone");
}

struct snode {
    const char *path, *data; /* data NULL: null */
    int64_t acl, czxid, mzxid, owner, pzxid;
    int32_t version, cversion;
};

static void snap_node(struct jute_writer *w, const struct snode *n)
{
    jw_string(w, n->path);
    jw_bytes(w, n->data, n->data ? (int32_t)strlen(n->data) : -1);
    jw_long(w, n->acl);
    jw_long(w, n->czxid);
    jw_long(w, n->mzxid);
    jw_long(w, 1000 + n->czxid % 1000); /* ctime */
    jw_long(w, 2000 + n->mzxid % 1000); /* mtime */
    jw_int(w, n->version);
    jw_int(w, n->cversion);
    jw_int(w, 0); /* aversion */
    jw_long(w, n->owner);
    jw_long(w, n->pzxid);
}

static void seal(struct jute_writer *w)
{
    jw_long(w, zkf_adler32(1, w->data, w->len));
    jw_string(w, "/");
}

/* A snapshot file of the given nodes, with one session and an ACL cache {1: open, 2: alice}. */
static void snapshot(const char *name, const struct snode *nodes, size_t n, int64_t digest_zxid)
{
    struct jute_writer w;
    jw_init(&w);
    jw_int(&w, ZKF_SNAP_MAGIC);
    jw_int(&w, 2);
    jw_long(&w, -1);
    jw_int(&w, 1); /* sessions */
    jw_long(&w, SESSION);
    jw_int(&w, 30000);
    jw_int(&w, 2); /* ACL cache */
    jw_long(&w, 1);
    open_acl(&w);
    jw_long(&w, 2);
    jw_int(&w, 1);
    jw_int(&w, 31);
    jw_string(&w, "digest");
    jw_string(&w, "alice:hash");
    for (size_t i = 0; i < n; i++)
        snap_node(&w, &nodes[i]);
    jw_string(&w, "/");
    seal(&w);
    if (digest_zxid) {
        jw_long(&w, digest_zxid);
        jw_int(&w, 2);
        jw_long(&w, 0x1234);
        seal(&w);
    }
    cr_assert_eq(w.err, 0);
    put_file(name, w.data, w.len);
    jw_free(&w);
}

/* The tree at E1(2): /a (zxid 1), /b (zxid 3: the snapshot is fuzzy) and system nodes. */
static const struct snode BASE_NODES[] = {
    {"", "", -1, 0, 0, 0, E1(3), 0, 3},
    {"/zookeeper", "", -1, 0, 0, 0, 0, 0, 0},
    {"/zookeeper/quota", "", -1, 0, 0, 0, 0, 0, 0},
    {"/zookeeper/config", "server.1=x", -1, 0, 0, 0, 0, -1, 0},
    {"/a", "x", 2, E1(1), E1(1), 0, E1(1), 0, 0},
    {"/a/e", NULL, 1, E1(1), E1(1), SESSION, E1(1), 0, 0},
    {"/b", "b", 1, E1(3), E1(3), 0, E1(3), 0, 0},
    {"/c", "", 1, E1(1), E1(1), INT64_MIN, E1(1), 0, 0},
    {"/t", "t", 1, E1(1), E1(1), TTL_OWNER, E1(1), 0, 0},
};
#define N_BASE (sizeof BASE_NODES / sizeof BASE_NODES[0])

/* ---- building logs ---- */

struct logfile {
    struct jute_writer w;
    size_t at[16]; /* offset of each entry */
    size_t n;
};

static void log_begin(struct logfile *l)
{
    memset(l, 0, sizeof *l);
    jw_init(&l->w);
    jw_int(&l->w, ZKF_LOG_MAGIC);
    jw_int(&l->w, 2);
    jw_long(&l->w, 0);
}

static void txn_header(struct jute_writer *t, int64_t session, int64_t zxid, int32_t type)
{
    jw_reset(t);
    jw_long(t, session);
    jw_int(t, 1);
    jw_long(t, zxid);
    jw_long(t, 5000 + zxid % 1000);
    jw_int(t, type);
}

static void log_add(struct logfile *l, const struct jute_writer *t)
{
    cr_assert_lt(l->n, 16);
    l->at[l->n++] = l->w.len;
    jw_long(&l->w, zkf_adler32(1, t->data, t->len));
    jw_int(&l->w, (int32_t)t->len);
    jw_raw(&l->w, t->data, t->len);
    jw_raw(&l->w, "B", 1);
}

static void log_put(struct logfile *l, const char *name, size_t zero_tail)
{
    for (size_t i = 0; i < zero_tail; i++)
        jw_raw(&l->w, "", 1); /* the preallocated tail */
    cr_assert_eq(l->w.err, 0);
    put_file(name, l->w.data, l->w.len);
    jw_free(&l->w);
}

static void t_create(struct jute_writer *t, int64_t session, int64_t zxid, int32_t type,
                     const char *path, const char *data, int32_t pcv)
{
    txn_header(t, session, zxid, type);
    jw_string(t, path);
    jw_bytes(t, data, (int32_t)strlen(data));
    open_acl(t);
    jw_bool(t, false);
    jw_int(t, pcv);
}

static void t_path(struct jute_writer *t, int64_t zxid, int32_t type, const char *path)
{
    txn_header(t, SESSION, zxid, type);
    jw_string(t, path);
}

static void t_set(struct jute_writer *t, int64_t zxid, const char *path, const char *data,
                  int32_t version)
{
    txn_header(t, SESSION, zxid, ZOP_SETDATA);
    jw_string(t, path);
    jw_bytes(t, data, (int32_t)strlen(data));
    jw_int(t, version);
}

/* The log after BASE_NODES: 1 create /a and 2 create /x (in the snapshot), 3 create /b (also in
 * it), 4 delete /x (already gone), 5 setData /a, 6 create2 /a/k. */
static void base_log(struct logfile *l)
{
    struct jute_writer t;
    jw_init(&t);
    log_begin(l);
    t_create(&t, SESSION, E1(1), ZOP_CREATE, "/a", "x", 1);
    log_add(l, &t);
    t_create(&t, SESSION, E1(2), ZOP_CREATE, "/x", "", 2);
    log_add(l, &t);
    t_create(&t, SESSION, E1(3), ZOP_CREATE, "/b", "b", 3);
    log_add(l, &t);
    t_path(&t, E1(4), ZOP_DELETE, "/x");
    log_add(l, &t);
    t_set(&t, E1(5), "/a", "y", 1);
    log_add(l, &t);
    t_create(&t, SESSION, E1(6), ZOP_CREATE2, "/a/k", "k", 1);
    log_add(l, &t);
    jw_free(&t);
}

static struct zt_node *node(const char *path)
{
    return zt_lookup(&im->tree, path, strlen(path));
}

static int load_all(void)
{
    if (zksnap_load(im) != 0)
        return -1;
    return zklog_replay(im);
}

/* ---- snapshots ---- */

Test(zkfiles, snapshot_gives_the_datatree)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, E1(3));
    cr_assert_eq(load_all(), 0, "%s", im->err);
    cr_assert_eq(im->snap_zxid, E1(2));
    cr_assert_eq(im->last_zxid, E1(2)); /* no logs */
    struct zt_node *a = node("/a"), *root = node("/");
    cr_assert(a && root && root == node(""));
    cr_assert_eq(a->data_len, 1);
    cr_assert_eq(a->czxid, E1(1));
    cr_assert_eq(a->num_children, 1);
    cr_assert_eq(root->num_children, 5);
    cr_assert_eq(node("/a/e")->data_len, -1);
    struct zt_acl *acl = zt_acl_of(&im->tree, a->acl);
    cr_assert(acl && acl->len > 4 && memcmp(acl->bytes + acl->len - 10, "alice:hash", 10) == 0);
    cr_assert_eq(zt_session_find(&im->tree, SESSION)->timeout, 30000);
    cr_assert(im->zk_digest_known && im->zk_digest == 0x1234 && im->zk_digest_zxid == E1(3));
    /* the ephemeral is in its session's set: closing the session deletes it */
    cr_assert_eq(zt_kill_session(&im->tree, SESSION, E1(9), NULL, 0), ZT_OK);
    cr_assert_null(node("/a/e"));
    cr_assert_eq(a->pzxid, E1(9));
    cr_assert_not_null(node("/c"));
    cr_assert_not_null(node("/t")); /* containers and TTL nodes are nobody's ephemerals */
}

static void damage(const char *name, long offset, uint8_t xor_mask)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    off_t size = lseek(fd, 0, SEEK_END);
    off_t at = offset >= 0 ? offset : size + offset;
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, at), 1);
    b ^= xor_mask;
    cr_assert_eq(pwrite(fd, &b, 1, at), 1);
    cr_assert_eq(close(fd), 0);
}

Test(zkfiles, invalid_snapshots_are_skipped_for_older_ones)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    snapshot("snapshot.100000005", BASE_NODES, N_BASE, E1(5));
    damage("snapshot.100000005", 200, 0x40);  /* inside the tree: the first seal fails */
    snapshot("snapshot.100000006", BASE_NODES, N_BASE, 0);
    damage("snapshot.100000006", -1, 0x01);   /* the trailer's '/': not a candidate at all */
    snapshot("snapshot.100000007", BASE_NODES, N_BASE, E1(7));
    damage("snapshot.100000007", -20, 0x01);  /* inside the digest: the second seal fails */
    put_file("snapshot.100000008.gz", (const uint8_t *)"\x1f\x8b", 2); /* compressed */
    cr_assert_eq(zksnap_load(im), 0, "%s", im->err);
    cr_assert_eq(im->snap_zxid, E1(2));
    cr_assert_eq(im->snaps_skipped, 4);
    cr_assert_not_null(node("/b"));
}

Test(zkfiles, no_valid_snapshot_is_refused)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    damage("snapshot.100000002", 100, 0x10);
    cr_assert_eq(zksnap_load(im), -1);
    cr_assert(strstr(im->err, "no valid snapshot") &&
              strstr(im->err, "snapshot.100000002 at offset"), "%s", im->err);
}

Test(zkfiles, a_tree_without_its_parent_is_invalid)
{
    struct snode nodes[] = {BASE_NODES[0], BASE_NODES[5]}; /* /a/e without /a */
    snapshot("snapshot.100000002", nodes, 2, 0);
    cr_assert_eq(zksnap_load(im), -1);
}

/* ---- logs ---- */

Test(zkfiles, fuzzy_snapshot_replay_as_zookeeper)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    struct logfile l;
    base_log(&l);
    log_put(&l, "log.100000001", 4096);
    cr_assert_eq(load_all(), 0, "%s", im->err);
    cr_assert_eq(im->last_zxid, E1(6));
    cr_assert_eq(im->txns, 4);          /* 1 and 2 are in the snapshot */
    cr_assert_eq(im->ops_reflected, 2); /* 3 (create /b) and 4 (delete /x) found done */
    struct zt_node *root = node("/"), *a = node("/a");
    cr_assert_null(node("/x"));
    cr_assert_eq(root->pzxid, E1(4)); /* the delete of a child already gone still counts */
    cr_assert_eq(root->cversion, 3);  /* a replayed create does not move it back */
    cr_assert_eq(a->version, 1);
    cr_assert_eq(a->mzxid, E1(5));
    cr_assert_eq(a->data[0], 'y');
    cr_assert_eq(node("/a/k")->czxid, E1(6));
    cr_assert_eq(a->cversion, 1);
    cr_assert_eq(a->pzxid, E1(6));
}

/* Replays base_log with entry `victim` damaged by fn; returns load_all's result. */
static int replay_damaged(size_t victim, void (*fn)(struct logfile *, size_t))
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    struct logfile l;
    base_log(&l);
    fn(&l, victim);
    log_put(&l, "log.100000001", 0);
    return load_all();
}

static void tear(struct logfile *l, size_t i) { l->w.len = l->at[i] + 15; }
static void zero(struct logfile *l, size_t i) { memset(l->w.data + l->at[i], 0, l->w.len - l->at[i]); }
static void no_eor(struct logfile *l, size_t i) { l->w.data[(i + 1 < l->n ? l->at[i + 1] : l->w.len) - 1] = 0; }
static void bad_crc(struct logfile *l, size_t i) { l->w.data[l->at[i] + 7] ^= 1; }
static void len_minus_one(struct logfile *l, size_t i) { memset(l->w.data + l->at[i] + 8, 0xff, 4); }
static void len_huge(struct logfile *l, size_t i) { l->w.data[l->at[i] + 8] = 0x10; }

Test(zkfiles, torn_zeroed_and_partial_tails_end_at_the_last_whole_txn)
{
    void (*fns[])(struct logfile *, size_t) = {tear, zero, no_eor};
    for (size_t k = 0; k < 3; k++) {
        zt_free(&im->tree);
        im->txns = 0;
        cr_assert_eq(replay_damaged(5, fns[k]), 0, "case %zu: %s", k, im->err);
        cr_assert_eq(im->last_zxid, E1(5), "case %zu", k);
        cr_assert_null(node("/a/k"));
    }
}

Test(zkfiles, corrupt_entries_are_refused)
{
    void (*fns[])(struct logfile *, size_t) = {bad_crc, len_minus_one, len_huge};
    const char *want[] = {"CRC check failed", "entry length -1", "unreasonable entry length"};
    for (size_t k = 0; k < 3; k++) {
        zt_free(&im->tree);
        im->txns = 0;
        im->err[0] = 0;
        cr_assert_eq(replay_damaged(4, fns[k]), -1, "case %zu", k);
        cr_assert(strstr(im->err, want[k]) && strstr(im->err, "log.100000001 at offset"),
                  "case %zu: %s", k, im->err);
    }
}

Test(zkfiles, eof_inside_a_record_ends_the_file_unknown_type_is_refused)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    struct logfile l;
    base_log(&l);
    struct jute_writer t;
    jw_init(&t);
    t_set(&t, E1(7), "/a", "z", 2);
    t.len -= 2; /* the record is cut, the entry around it is whole */
    log_add(&l, &t);
    t_set(&t, E1(8), "/a", "w", 3); /* after the EOF: not read */
    log_add(&l, &t);
    log_put(&l, "log.100000001", 0);
    cr_assert_eq(load_all(), 0, "%s", im->err);
    cr_assert_eq(im->last_zxid, E1(6));

    base_log(&l);
    txn_header(&t, SESSION, E1(7), 99);
    log_add(&l, &t);
    log_put(&l, "log.100000001", 0);
    zt_free(&im->tree);
    im->txns = 0;
    cr_assert_eq(load_all(), -1);
    cr_assert(strstr(im->err, "unsupported txn type"), "%s", im->err);
    jw_free(&t);
}

Test(zkfiles, logs_continue_across_files_after_a_torn_tail)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    struct logfile l;
    base_log(&l);
    tear(&l, 4); /* 1..4 whole */
    log_put(&l, "log.100000001", 0);
    struct jute_writer t;
    jw_init(&t);
    log_begin(&l);
    t_set(&t, E1(5), "/a", "y", 1);
    log_add(&l, &t);
    t_create(&t, SESSION, 0x200000001LL, ZOP_CREATE, "/n", "", 4); /* a new epoch */
    log_add(&l, &t);
    log_put(&l, "log.100000005", 100);
    cr_assert_eq(load_all(), 0, "%s", im->err);
    cr_assert_eq(im->last_zxid, 0x200000001LL);
    cr_assert_eq(im->logs_used, 2);
    jw_free(&t);
}

Test(zkfiles, gaps_and_backward_zxids_are_refused)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    struct logfile l;
    base_log(&l);
    log_put(&l, "log.100000001", 0);
    struct jute_writer t;
    jw_init(&t);
    log_begin(&l);
    t_set(&t, E1(8), "/a", "z", 2); /* 7 is missing */
    log_add(&l, &t);
    log_put(&l, "log.100000008", 0);
    cr_assert_eq(load_all(), -1);
    cr_assert(strstr(im->err, "log.100000008 at offset 16") && strstr(im->err, "txns are missing"),
              "%s", im->err);

    log_begin(&l);
    t_set(&t, 0x200000002LL, "/a", "z", 2); /* a new epoch must start at counter 1 */
    log_add(&l, &t);
    log_put(&l, "log.100000008", 0);
    zt_free(&im->tree);
    im->txns = 0;
    im->err[0] = 0;
    cr_assert_eq(load_all(), -1);
    cr_assert(strstr(im->err, "txns are missing"), "%s", im->err);
    jw_free(&t);
}

/* ---- DataTree semantics ---- */

static void apply(const struct jute_writer *t)
{
    struct zktxn txn;
    char why[256];
    cr_assert_eq(zkreplay_parse(im, t->data, t->len, &txn, why, sizeof why), ZKREPLAY_OK, "%s", why);
    cr_assert_eq(zkreplay_apply(im, &txn, why, sizeof why), 0, "%s", why);
    zkreplay_release(&txn);
}

Test(zkfiles, create_of_an_existing_node_fixes_the_parent_cversion)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    cr_assert_eq(zksnap_load(im), 0, "%s", im->err);
    struct jute_writer t;
    jw_init(&t);
    t_create(&t, SESSION, E1(9), ZOP_CREATE, "/b", "other", 7);
    apply(&t);
    cr_assert_eq(node("/")->cversion, 7);
    cr_assert_eq(node("/")->pzxid, E1(9));
    cr_assert_eq(node("/b")->data[0], 'b'); /* the node itself is not replaced */
    t_create(&t, SESSION, E1(10), ZOP_CREATE2, "/b", "other", 9); /* create2: no fix-up */
    apply(&t);
    cr_assert_eq(node("/")->cversion, 7);
    jw_free(&t);
}

Test(zkfiles, a_deleted_parent_leaves_orphans_until_recreated)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    cr_assert_eq(zksnap_load(im), 0, "%s", im->err);
    struct jute_writer t;
    jw_init(&t);
    t_path(&t, E1(9), ZOP_DELETE, "/a"); /* /a still has /a/e: ZooKeeper deletes it anyway */
    apply(&t);
    cr_assert_null(node("/a"));
    cr_assert_eq(zt_orphan_count(&im->tree), 1);
    cr_assert_not_null(node("/a/e")); /* still in the map */
    t_create(&t, SESSION, E1(10), ZOP_CREATE, "/a", "again", 8);
    apply(&t);
    cr_assert_eq(node("/a")->num_children, 0);
    t_create(&t, SESSION2, E1(11), ZOP_CREATE, "/a/e", "new", 1); /* replaces the orphan */
    apply(&t);
    cr_assert_eq(zt_orphan_count(&im->tree), 0);
    cr_assert_eq(node("/a/e")->czxid, E1(11));
    /* the orphan's path stayed in SESSION's set: closing SESSION deletes whatever is there */
    txn_header(&t, SESSION, E1(12), ZOP_CLOSESESSION);
    apply(&t);
    cr_assert_null(node("/a/e"));
    jw_free(&t);
}

Test(zkfiles, close_session_deletes_listed_and_own_ephemerals)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    cr_assert_eq(zksnap_load(im), 0, "%s", im->err);
    struct jute_writer t;
    jw_init(&t);
    txn_header(&t, SESSION2, E1(9), ZOP_CREATESESSION);
    jw_int(&t, 4000);
    apply(&t);
    t_create(&t, SESSION2, E1(10), ZOP_CREATE, "/s2", "", 3);
    t.data[t.len - 5] = 1; /* ephemeral */
    apply(&t);
    cr_assert_eq(node("/s2")->owner, SESSION2);
    txn_header(&t, SESSION2, E1(11), ZOP_CLOSESESSION);
    jw_int(&t, 1);
    jw_string(&t, "/b"); /* listed (ZooKeeper deletes what the txn lists) */
    apply(&t);
    cr_assert_null(node("/s2"));
    cr_assert_null(node("/b"));
    cr_assert_null(zt_session_find(&im->tree, SESSION2));
    cr_assert_eq(node("/")->pzxid, E1(11));
    /* an ephemeral whose session is gone is deleted by the clean-up a member does at load */
    zt_session_remove(&im->tree, SESSION);
    cr_assert_eq(zt_kill_dead_sessions(&im->tree, E1(12)), 1);
    cr_assert_null(node("/a/e"));
    cr_assert_eq(node("/a")->pzxid, E1(12));
    jw_free(&t);
}

static void sub(struct jute_writer *m, int32_t type, const struct jute_writer *rec)
{
    jw_int(m, type);
    jw_bytes(m, rec->data + 32, (int32_t)(rec->len - 32)); /* the record without its header */
}

Test(zkfiles, multi_applies_all_none_or_up_to_an_invalid_type)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    cr_assert_eq(zksnap_load(im), 0, "%s", im->err);
    struct jute_writer t, r1, r2, err;
    jw_init(&t), jw_init(&r1), jw_init(&r2), jw_init(&err);
    t_create(&r1, SESSION, 0, ZOP_CREATE, "/m1", "", 3);
    t_set(&r2, 0, "/a", "multi", 1);
    txn_header(&err, 0, 0, ZOP_ERROR);
    jw_int(&err, -101);
    txn_header(&t, SESSION, E1(9), ZOP_MULTI); /* failed: error sub-txns, nothing applies */
    jw_int(&t, 2);
    sub(&t, ZOP_CREATE, &r1);
    sub(&t, ZOP_ERROR, &err);
    apply(&t);
    cr_assert_null(node("/m1"));
    txn_header(&t, SESSION, E1(10), ZOP_MULTI); /* create2 is no multi sub-type in 3.8 */
    jw_int(&t, 3);
    sub(&t, ZOP_CREATE, &r1);
    sub(&t, ZOP_CREATE2, &r1);
    sub(&t, ZOP_SETDATA, &r2);
    apply(&t);
    cr_assert_not_null(node("/m1"));
    cr_assert_eq(node("/a")->version, 0); /* not reached */
    jw_free(&t), jw_free(&r1), jw_free(&r2), jw_free(&err);
}

Test(zkfiles, digest_of_a_fresh_tree_equals_zookeepers)
{
    /* the TxnDigest ZooKeeper 3.8 logs for every txn of a fresh standalone server */
    static const struct snode fresh[] = {
        {"", "", -1, 0, 0, 0, 0, 0, 0},
        {"/zookeeper", "", -1, 0, 0, 0, 0, 0, 0},
        {"/zookeeper/quota", "", -1, 0, 0, 0, 0, 0, 0},
        {"/zookeeper/config", "", -1, 0, 0, 0, 0, 0, 0},
    };
    snapshot("snapshot.0", fresh, 4, 0);
    cr_assert_eq(zksnap_load(im), 0, "%s", im->err);
    const char *paths[] = {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"};
    for (size_t i = 0; i < 4; i++) /* snap_node derives times from zxids; fresh ones are 0 */
        node(paths[i])->ctime = node(paths[i])->mtime = 0;
    cr_assert_eq(zt_zk_digest(&im->tree), 0x51c6d660ULL);
    node("/zookeeper/config")->mzxid = 5; /* under /zookeeper/: not part of the digest */
    cr_assert_eq(zt_zk_digest(&im->tree), 0x51c6d660ULL);
    node("/zookeeper")->mzxid = 5;
    cr_assert_neq(zt_zk_digest(&im->tree), 0x51c6d660ULL);
}

/* ---- writing the target ---- */

/* A target whose dataDir and dataLogDir are dir/data_sub and dir/log_sub. */
static struct zkwrite_plan plan_in(const char *data_sub, const char *log_sub)
{
    static char data[128], logs[128];
    snprintf(data, sizeof data, "%s/%s", dir, data_sub);
    snprintf(logs, sizeof logs, "%s/%s", dir, log_sub);
    struct zkwrite_plan p = {data, logs, 64 << 20, ZK_MAX_BUFFER_DEFAULT, true, E1(2), 1, 1};
    return p;
}

/* Directory path holds one entry, named want (or none, want NULL). */
static void only_entry(const char *path, const char *want)
{
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            count++;
            cr_expect(want && !strcmp(de->d_name, want), "%s holds %s", path, de->d_name);
        }
    closedir(d);
    cr_assert_eq(count, want ? 1 : 0, "%s holds %d entries", path, count);
}

static int feed(void *loader, const void *p, size_t len)
{
    return store_loader_feed(loader, p, len);
}

/* The target's snapshot file, loaded as a member loads it. */
static struct store *load_target_snapshot(const char *snap_dir, int64_t zxid)
{
    int64_t zxids[4];
    cr_assert_eq(snapfile_list(snap_dir, zxids, 4), 1);
    cr_assert_eq(zxids[0], zxid);
    struct store_loader *l = store_loader_new();
    char err[SNAPFILE_ERRMSG_SIZE];
    cr_assert_eq(snapfile_read(snap_dir, zxid, feed, l, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_loader_zxid(l), zxid);
    struct store_options opts = {.max_data_len = ZK_MAX_BUFFER_DEFAULT, .extended_types = true};
    struct store *st = store_new(&opts);
    cr_assert_eq(store_loader_finish(l, st), 0);
    store_loader_free(l);
    return st;
}

static void check_target_meta(const char *log_dir)
{
    struct txnlog *log;
    char err[TXNLOG_ERRMSG_SIZE];
    cr_assert_eq(txnlog_open(&log, log_dir, 64 << 20, err, sizeof err), TXNLOG_OK, "%s", err);
    cr_expect_eq(txnlog_meta_get(log, "acceptedEpoch", -1), 1);
    cr_expect_eq(txnlog_meta_get(log, "currentEpoch", -1), 1);
    cr_expect_eq(txnlog_meta_get(log, "committedZxid", -1), E1(2));
    cr_expect_eq(txnlog_count(log), 0);
    txnlog_close(log);
}

Test(zkfiles, target_is_written_read_back_and_not_overwritten)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    cr_assert_eq(zksnap_load(im), 0, "%s", im->err);
    zt_reset_config(&im->tree);
    struct zkwrite_plan p = plan_in("data", "logs");
    struct zkwrite_result res;
    cr_assert_eq(zkwrite_target(im, &p, &res), 0, "%s", im->err);
    cr_assert_eq(res.nodes, N_BASE);
    cr_assert_eq(res.sessions, 1);
    char path[256];
    only_entry(p.data_dir, "zabkeeper-snap"); /* nothing left aside */
    only_entry(p.data_log_dir, "zabkeeper-log");
    snprintf(path, sizeof path, "%s/zabkeeper-log", p.data_log_dir);
    check_target_meta(path);
    snprintf(path, sizeof path, "%s/zabkeeper-snap", p.data_dir);
    struct store *st = load_target_snapshot(path, E1(2));
    cr_assert_eq(store_digest(st), res.digest);
    cr_assert_eq(store_node_count(st), N_BASE);
    uint8_t pw[16], want[16];
    int32_t timeout;
    zkf_session_passwd(SESSION, want);
    cr_assert(store_session_get(st, SESSION, &timeout, pw) && !memcmp(pw, want, 16));
    store_free(st);
    im->err[0] = 0;
    cr_assert_eq(zkwrite_target(im, &p, &res), -1);
    cr_assert(strstr(im->err, "already holds zabkeeper data"), "%s", im->err);
}

/* The log is written after the snapshot file: its failure must take the snapshot away too. */
Test(zkfiles, a_failure_after_the_snapshot_leaves_nothing)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    cr_assert_eq(zksnap_load(im), 0, "%s", im->err);
    struct zkwrite_plan p = plan_in("t/d", "t/l");
    p.lmdb_map_bytes = 1; /* no room for LMDB's tables */
    char top[128];
    snprintf(top, sizeof top, "%s/t", dir);
    cr_assert_eq(mkdir(top, 0755), 0);
    cr_assert_eq(mkdir(p.data_dir, 0755), 0);
    struct zkwrite_result res;
    cr_assert_eq(zkwrite_target(im, &p, &res), -1);
    cr_assert(strstr(im->err, "/t/l/zabkeeper-log.import."), "%s", im->err);
    only_entry(top, "d"); /* dataLogDir, which it made, is gone again */
    only_entry(p.data_dir, NULL); /* and so is the snapshot written beside dataDir */
}

Test(zkfiles, a_state_zabkeeper_cannot_hold_is_refused_and_nothing_written)
{
    snapshot("snapshot.100000002", BASE_NODES, N_BASE, 0);
    cr_assert_eq(zksnap_load(im), 0, "%s", im->err);
    uint8_t empty[4] = {0, 0, 0, 0};
    cr_assert_eq(zt_load_acl(&im->tree, 77, empty, 4), ZT_OK);
    node("/b")->acl = 77; /* an empty ACL list */
    struct zkwrite_plan p = plan_in("refused", "refused");
    struct zkwrite_result res;
    cr_assert_eq(zkwrite_target(im, &p, &res), -1);
    cr_assert(strstr(im->err, "node /b") && strstr(im->err, "empty ACL"), "%s", im->err);
    struct stat sb;
    cr_assert_neq(stat(p.data_dir, &sb), 0); /* not even the directory */
}
