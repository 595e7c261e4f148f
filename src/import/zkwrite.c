/* The imported state as a zabkeeper member's storage. The model is encoded as zabkeeper snapshot
 * records by the store's own encoders (store_snap_encode_*; ZooKeeper's StatPersisted, data, ACL
 * lists, TTL and container owner encoding and sessions map onto them field for field) and loaded
 * by zabkeeper's own loader, with all its checks. What a member reads at start is then written
 * beside the targets: the store's snapshot file (dataDir/zabkeeper-snap.import.XXXXXX/
 * snapshot.<zxid>, by store_snapshot_write) and an LMDB environment holding only the epochs and
 * the committed mark (dataLogDir/zabkeeper-log.import.XXXXXX); both are read back, compared, and
 * only then renamed to zabkeeper-log and zabkeeper-snap, the snapshot last (see place()). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fsdir.h"
#include "import/zkimport_internal.h"
#include "proto/jute.h"
#include "store/snapfile.h"
#include "store/store.h"
#include "store/txnlog.h"

#define LOG_DIR_NAME "zabkeeper-log"   /* in dataLogDir (storage.c) */
#define SNAP_DIR_NAME "zabkeeper-snap" /* in dataDir: snapshot files (storage.c) */
/* The metadata names repl.c keeps (docs/storage.md). */
#define META_ACCEPTED "acceptedEpoch"
#define META_CURRENT "currentEpoch"
#define META_COMMITTED "committedZxid"

#define OWNER_TTL_RESERVED 0x00FFFF0000000000ULL /* EphemeralType's reserved bits: 0 for TTL */

/* ---- conversion checks ---- */

static int node_kind(struct zkimp *im, const struct zt_node *n, uint8_t *kind)
{
    const char *path = n->path_len ? n->path : "/";
    uint64_t o = (uint64_t)n->owner;
    if (o == 0) {
        *kind = ZK_KIND_PERSISTENT;
    } else if (n->owner == ZK_EPHEMERAL_CONTAINER) {
        *kind = ZK_KIND_CONTAINER;
    } else if ((n->owner & ZK_EPHEMERAL_TTL_MASK) == ZK_EPHEMERAL_TTL_MASK) {
        if (o & OWNER_TTL_RESERVED)
            return zkimp_fail(im, "node %s: ephemeralOwner 0x%llx is neither a session nor a TTL "
                              "(a ZooKeeper server id 255 without extendedTypesEnabled?)", path,
                              (unsigned long long)o);
        *kind = ZK_KIND_TTL;
    } else {
        if (!zt_session_find(&im->tree, n->owner))
            return zkimp_fail(im, "ephemeral node %s: its session 0x%llx is not open", path,
                              (unsigned long long)o);
        if (n->first_child)
            return zkimp_fail(im, "ephemeral node %s has children", path);
        *kind = ZK_KIND_EPHEMERAL;
    }
    return 0;
}

struct acl_out {
    struct zt_acl **v; /* in snapshot index order */
    size_t n, cap;
};

static int acl_index(struct zkimp *im, struct acl_out *out, const struct zt_node *n,
                     uint32_t *index)
{
    const char *path = n->path_len ? n->path : "/";
    struct zt_acl *a = zt_acl_of(&im->tree, n->acl);
    if (!a) /* ZooKeeper itself fails on it: "Failed to fetch acls" */
        return zkimp_fail(im, "node %s: ACL id %lld is not in ZooKeeper's ACL cache", path,
                          (long long)n->acl);
    a = zt_acl_canonical(&im->tree, a); /* zabkeeper's snapshot holds each list once */
    if (a->len < 4 || (int32_t)be32_load(a->bytes) <= 0)
        return zkimp_fail(im, "node %s: an empty ACL list cannot be stored by zabkeeper", path);
    if (!a->used) {
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 16;
            struct zt_acl **v = zk_realloc(out->v, cap * sizeof *v);
            if (!v)
                return zkimp_fail(im, "out of memory");
            out->v = v;
            out->cap = cap;
        }
        a->used = true;
        a->out_index = (uint32_t)out->n;
        out->v[out->n++] = a;
    }
    *index = a->out_index;
    return 0;
}

/* Check every node of the tree and number the ACLs in use; counts the nodes. */
static int prepare(struct zkimp *im, struct acl_out *acls, size_t *nodes)
{
    *nodes = 0;
    for (const struct zt_node *n = im->tree.root; n; n = zt_next_preorder(n)) {
        uint8_t kind;
        uint32_t index;
        if (node_kind(im, n, &kind) || acl_index(im, acls, n, &index))
            return -1;
        (*nodes)++;
    }
    return 0;
}

/* ---- the model as snapshot records (store_snap_encode_*: the format is store_snapshot.c's) ---- */

#define LOADER_REJECTS 1 /* a sink's code: the loader refused what it was fed */

static int feed_loader(void *loader, const void *p, size_t len)
{
    return store_loader_feed(loader, p, len) == 0 ? 0 : LOADER_REJECTS;
}

static int snap_node(struct zkimp *im, struct acl_out *acls, const struct zt_node *n,
                     struct store_snap_node *r)
{
    uint8_t kind;
    uint32_t acl;
    if (node_kind(im, n, &kind) || acl_index(im, acls, n, &acl))
        return -1;
    *r = (struct store_snap_node){
        .path = n->path_len ? n->path : "/", .path_len = n->path_len ? n->path_len : 1,
        .data = n->data, .data_len = n->data_len, .czxid = n->czxid, .mzxid = n->mzxid,
        .ctime = n->ctime, .mtime = n->mtime, .pzxid = n->pzxid, .version = n->version,
        .cversion = n->cversion, .aversion = n->aversion, .ephemeral_owner = n->owner,
        .kind = kind, .acl_index = acl};
    return 0;
}

static int encode_sessions(struct zkimp *im, struct store_snap_writer *w)
{
    size_t b = 0;
    int rc = 0;
    const struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &im->tree.sessions) {
        const struct zt_session *s = CHAIN_ITEM(l, const struct zt_session, link);
        uint8_t pw[ZKF_PASSWD_LEN];
        zkf_session_passwd(s->id, pw); /* what ZooKeeper checks a reconnecting client against */
        rc = rc ? rc : store_snap_encode_session(w, s->id, s->timeout, pw);
    }
    return rc;
}

/* Header h, the ACLs in use, the sessions, the nodes in pre-order, to sink. 0, -1 (im->err),
 * or the sink's code. */
static int encode_model(struct zkimp *im, struct acl_out *acls, const struct store_snap_header *h,
                        store_sink_fn sink, void *ctx)
{
    struct store_snap_writer *w = store_snap_writer_new(sink, ctx);
    if (!w)
        return zkimp_fail(im, "out of memory");
    int rc = store_snap_encode_header(w, h);
    for (size_t i = 0; i < acls->n && rc == 0; i++)
        rc = store_snap_encode_acl(w, acls->v[i]->bytes, acls->v[i]->len);
    rc = rc ? rc : encode_sessions(im, w);
    for (const struct zt_node *n = im->tree.root; n && rc == 0; n = zt_next_preorder(n)) {
        struct store_snap_node r;
        rc = snap_node(im, acls, n, &r);
        rc = rc ? rc : store_snap_encode_node(w, &r);
    }
    int end = store_snap_writer_end(w);
    rc = rc ? rc : end;
    return rc == 0 || rc == LOADER_REJECTS ? rc : zkimp_fail(im, "out of memory");
}

/* The model through a fresh loader: *digest gets the digest of what it was fed; with st, the
 * load is finished into st (which checks the digest h announced). 0 or -1 (im->err). */
static int load_model(struct zkimp *im, struct acl_out *acls, const struct store_snap_header *h,
                      uint64_t *digest, struct store *st)
{
    struct store_loader *l = store_loader_new();
    if (!l)
        return zkimp_fail(im, "out of memory");
    int rc = encode_model(im, acls, h, feed_loader, l);
    if (rc == 0 && digest)
        *digest = store_loader_digest(l);
    if (rc == 0 && st && store_loader_finish(l, st) != 0)
        rc = LOADER_REJECTS;
    store_loader_free(l);
    if (rc == LOADER_REJECTS)
        return zkimp_fail(im, "zabkeeper's snapshot loader rejects the converted state (a path "
                          "or value zabkeeper cannot hold)");
    return rc;
}

static struct store *new_store(struct zkimp *im, const struct zkwrite_plan *p)
{
    struct store_options opts = {.max_data_len = p->max_data_len,
                                 .extended_types = p->extended_types}; /* replies unbounded */
    struct store *st = store_new(&opts);
    if (!st)
        zkimp_fail(im, "out of memory");
    return st;
}

/* The model through zabkeeper's own loader: a first pass learns the digest the header must
 * announce, the second loads with every check, that digest included. The records stream from
 * the model into the loader: the whole snapshot is never held in memory. */
static struct store *build_store(struct zkimp *im, const struct zkwrite_plan *p, size_t *nodes)
{
    struct acl_out acls = {NULL, 0, 0};
    struct store_snap_header h = {.zxid = p->zxid, .sessions = im->tree.sessions.count};
    int rc = prepare(im, &acls, nodes);
    h.acls = acls.n;
    h.nodes = *nodes;
    rc = rc ? rc : load_model(im, &acls, &h, &h.digest, NULL);
    struct store *st = rc == 0 ? new_store(im, p) : NULL;
    if (st && load_model(im, &acls, &h, NULL, st) != 0) {
        store_free(st);
        st = NULL;
    }
    zk_free(acls.v);
    return st;
}

/* ---- the target: two directories, each written aside and renamed into place ---- */

static int refuse_existing(struct zkimp *im, const char *dir, const char *name)
{
    char path[ZKIMP_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (lstat(path, &st) == 0)
        return zkimp_fail(im, "%s exists: the target already holds zabkeeper data (remove it "
                          "first if it is to be replaced)", path);
    if (errno != ENOENT)
        return zkimp_fail(im, "cannot check %s: %s", path, strerror(errno));
    return 0;
}

static int fsync_dir(struct zkimp *im, const char *dir)
{
    return zk_fsync_dir(dir) == 0 ? 0 : zkimp_fail(im, "fsync %s: %s", dir, strerror(errno));
}

/* The LMDB environment's files, then the directory (best effort: we are failing). */
static void remove_log_dir(const char *dir)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[ZKIMP_PATH_MAX + 128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            zkimp_warn("cannot remove %s: %s", path, strerror(errno));
    }
    if (rmdir(dir) != 0)
        zkimp_warn("cannot remove %s: %s", dir, strerror(errno));
}

static void remove_snap_dir(const char *dir)
{
    snapfile_prune(dir, 0); /* every snapshot file, finished or not */
    if (rmdir(dir) != 0)
        zkimp_warn("cannot remove %s: %s", dir, strerror(errno));
}

/* One of the two directories: written as parent/name.import.XXXXXX, then renamed to
 * parent/name. */
struct side {
    const char *parent;
    char tmp[ZKIMP_PATH_MAX + 64], final[ZKIMP_PATH_MAX + 32];
    bool made, placed;
    void (*remove)(const char *dir);
};

static int side_open(struct zkimp *im, struct side *s, const char *parent, const char *name,
                     void (*remove)(const char *dir))
{
    *s = (struct side){.parent = parent, .remove = remove};
    snprintf(s->tmp, sizeof s->tmp, "%s/%s.import.XXXXXX", parent, name);
    snprintf(s->final, sizeof s->final, "%s/%s", parent, name);
    if (!mkdtemp(s->tmp))
        return zkimp_fail(im, "cannot create a directory in %s: %s", parent, strerror(errno));
    s->made = true;
    if (chmod(s->tmp, 0755) != 0) /* as the server makes its own */
        return zkimp_fail(im, "chmod %s: %s", s->tmp, strerror(errno));
    return 0;
}

/* Rename into place and make the rename durable before anything else happens. */
static int side_place(struct zkimp *im, struct side *s)
{
    if (fsync_dir(im, s->tmp) != 0)
        return -1;
    if (renameat2(AT_FDCWD, s->tmp, AT_FDCWD, s->final, RENAME_NOREPLACE) != 0)
        return zkimp_fail(im, "cannot rename %s to %s: %s", s->tmp, s->final, strerror(errno));
    s->placed = true;
    return fsync_dir(im, s->parent);
}

/* Undo a side after a failure, wherever it is. */
static void side_drop(struct side *s)
{
    if (s->made)
        s->remove(s->placed ? s->final : s->tmp);
}

/* The snapshot file a member loads at start: dir/snapshot.<zxid>, written by the store's own
 * writer (the state and its digest as zabkeeper computes them). */
static int write_snapshot(struct zkimp *im, const char *dir, const struct store *st)
{
    char err[SNAPFILE_ERRMSG_SIZE];
    struct snapfile_writer *w;
    if (snapfile_create(&w, dir, store_last_zxid(st), err, sizeof err) != 0)
        return zkimp_fail(im, "cannot write the snapshot: %s", err);
    if (store_snapshot_write(st, snapfile_write, w) != 0) {
        snapfile_abort(w);
        return zkimp_fail(im, "cannot write the snapshot in %s: %s", dir, strerror(errno));
    }
    if (snapfile_commit(w, err, sizeof err) != 0)
        return zkimp_fail(im, "cannot write the snapshot: %s", err);
    return 0;
}

/* The epochs and the committed mark, in one commit; the log itself stays empty. */
static int write_meta(struct zkimp *im, const char *dir, const struct zkwrite_plan *p)
{
    struct txnlog *log;
    char err[TXNLOG_ERRMSG_SIZE];
    if (txnlog_open(&log, dir, (size_t)p->lmdb_map_bytes, err, sizeof err) != TXNLOG_OK)
        return zkimp_fail(im, "cannot create the log in %s: %s", dir, err);
    int rc = txnlog_stage_meta(log, META_ACCEPTED, p->accepted_epoch);
    rc = rc ? rc : txnlog_stage_meta(log, META_CURRENT, p->current_epoch);
    rc = rc ? rc : txnlog_stage_meta(log, META_COMMITTED, p->zxid);
    rc = rc ? rc : txnlog_commit(log);
    if (rc != 0)
        zkimp_fail(im, "writing %s: %s", dir, txnlog_errmsg(log));
    txnlog_close(log);
    return rc == 0 ? 0 : -1;
}

/* ---- reading it back ---- */

static int check_meta(struct zkimp *im, const char *dir, const struct zkwrite_plan *p)
{
    struct txnlog *log;
    char err[TXNLOG_ERRMSG_SIZE];
    if (txnlog_open(&log, dir, (size_t)p->lmdb_map_bytes, err, sizeof err) != TXNLOG_OK)
        return zkimp_fail(im, "read back: cannot open %s: %s", dir, err);
    int rc = 0;
    if (txnlog_meta_get(log, META_ACCEPTED, -1) != p->accepted_epoch ||
        txnlog_meta_get(log, META_CURRENT, -1) != p->current_epoch ||
        txnlog_meta_get(log, META_COMMITTED, -1) != p->zxid || txnlog_count(log) != 0)
        rc = zkimp_fail(im, "read back: the log metadata differs from what was written");
    txnlog_close(log);
    return rc;
}

/* The snapshot file as a member loads it: every byte checked, then the loader's checks. */
static struct store *load_snapshot(struct zkimp *im, const char *dir, const struct zkwrite_plan *p)
{
    struct store_loader *l = store_loader_new();
    char err[SNAPFILE_ERRMSG_SIZE] = "";
    int rc = l ? snapfile_read(dir, p->zxid, feed_loader, l, err, sizeof err) : -1;
    struct store *st = rc == 0 && store_loader_zxid(l) == p->zxid ? new_store(im, p) : NULL;
    if (st && store_loader_finish(l, st) != 0) {
        store_free(st);
        st = NULL;
    }
    if (!st)
        zkimp_fail(im, "read back: zabkeeper cannot load the snapshot it wrote in %s%s%s", dir,
                   err[0] ? ": " : "", err);
    store_loader_free(l);
    return st;
}

/* Load what was written into a fresh store and compare it with what was written (node count,
 * digest, zxid) and with the model (every node and session); check the metadata. */
static int read_back(struct zkimp *im, const struct side *snap, const struct side *log,
                     const struct zkwrite_plan *p, const struct zkwrite_result *written)
{
    if (check_meta(im, log->tmp, p) != 0)
        return -1;
    struct store *disk = load_snapshot(im, snap->tmp, p);
    if (!disk)
        return -1;
    int rc = 0;
    if (store_node_count(disk) != written->nodes || store_digest(disk) != written->digest ||
        store_last_zxid(disk) != p->zxid)
        rc = zkimp_fail(im, "read back: node count, digest or zxid differ from what was written");
    rc = rc ? rc : zkverify_store(im, disk);
    store_free(disk);
    return rc;
}

/* ---- the whole step ---- */

static int make_dir(struct zkimp *im, const char *dir, bool *made)
{
    *made = false;
    if (mkdir(dir, 0755) == 0)
        *made = true;
    else if (errno != EEXIST)
        return zkimp_fail(im, "cannot create %s: %s", dir, strerror(errno));
    return 0;
}

/* Write both directories aside, read them back, rename them into place. st is freed once
 * written (the read back then needs the memory).
 * The snapshot directory is renamed last: its presence means the import is complete. A crash
 * between the two renames leaves the log directory alone, and a member started on it is an
 * empty tree at the imported epochs: consistent, like a new member its leader brings up to date
 * (and the importer refuses to run again until it is removed). The other order would leave the
 * imported state with epochs 0, a state ahead of its epochs, under which a new epoch's zxids
 * could be lower than those the tree already holds. */
static int place(struct zkimp *im, const struct zkwrite_plan *p, struct store **st,
                 const struct zkwrite_result *res)
{
    struct side snap = {0}, log = {0}; /* neither made yet */
    int rc = side_open(im, &snap, p->data_dir, SNAP_DIR_NAME, remove_snap_dir);
    rc = rc ? rc : side_open(im, &log, p->data_log_dir, LOG_DIR_NAME, remove_log_dir);
    rc = rc ? rc : write_snapshot(im, snap.tmp, *st);
    store_free(*st);
    *st = NULL;
    rc = rc ? rc : write_meta(im, log.tmp, p);
    rc = rc ? rc : read_back(im, &snap, &log, p, res);
    rc = rc ? rc : side_place(im, &log);
    rc = rc ? rc : side_place(im, &snap);
    if (rc) {
        side_drop(&snap);
        side_drop(&log);
    }
    return rc;
}

int zkwrite_check_target(struct zkimp *im, const struct zkwrite_plan *p)
{
    return refuse_existing(im, p->data_dir, LOG_DIR_NAME) ||
           refuse_existing(im, p->data_dir, SNAP_DIR_NAME) ||
           refuse_existing(im, p->data_log_dir, LOG_DIR_NAME) ? -1 : 0;
}

int zkwrite_target(struct zkimp *im, const struct zkwrite_plan *p, struct zkwrite_result *res)
{
    memset(res, 0, sizeof *res);
    if (zkwrite_check_target(im, p))
        return -1;
    struct store *st = build_store(im, p, &res->nodes);
    if (!st)
        return -1;
    res->sessions = store_session_count(st);
    res->digest = store_digest(st);
    int rc = 0;
    if (store_node_count(st) != res->nodes || res->sessions != im->tree.sessions.count)
        rc = zkimp_fail(im, "zabkeeper loaded %zu nodes and %zu sessions, %zu and %zu expected",
                        store_node_count(st), res->sessions, res->nodes,
                        im->tree.sessions.count);
    bool made_data = false, made_log = false;
    rc = rc ? rc : make_dir(im, p->data_dir, &made_data);
    rc = rc ? rc : make_dir(im, p->data_log_dir, &made_log);
    rc = rc ? rc : place(im, p, &st, res);
    store_free(st);
    if (rc && made_log && rmdir(p->data_log_dir) != 0)
        zkimp_warn("cannot remove %s: %s", p->data_log_dir, strerror(errno));
    if (rc && made_data && rmdir(p->data_dir) != 0 && errno != ENOENT)
        zkimp_warn("cannot remove %s: %s", p->data_dir, strerror(errno));
    return rc;
}
