/* The imported state as a zabkeeper member's storage. The model is packed as zabkeeper snapshot
 * records (format: docs/storage-tree.md; ZooKeeper's StatPersisted, data, ACL lists, TTL and
 * container owner encoding and sessions map onto it field for field) and loaded by zabkeeper's
 * own loader, with all its checks; the store it gives is written by zabkeeper's own snapshot
 * writer into a new LMDB environment (`zabkeeper-log.import.XXXXXX` next to the target; a member
 * without snapshot files loads the snapshot kept there, see storage.c) together with the epochs,
 * read back from disk, compared, and only then renamed to `zabkeeper-log`. */
#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "import/zkimport_internal.h"
#include "proto/jute.h"
#include "store/store.h"
#include "store/txnlog.h"

#define SNAPSHOT_MAGIC "zabkeeper-store"
#define SNAPSHOT_VERSION 2
#define SNAP_HEADER_FIELDS 7
#define SNAP_NODE_FIELDS 13
#define LOG_DIR_NAME "zabkeeper-log"   /* in dataLogDir (storage.c) */
#define SNAP_DIR_NAME "zabkeeper-snap" /* in dataDir: snapshot files (storage.c) */
/* The metadata names repl.c keeps (docs/storage.md). */
#define META_ACCEPTED "acceptedEpoch"
#define META_CURRENT "currentEpoch"
#define META_COMMITTED "committedZxid"

#define OWNER_TTL_BITS 0xFF00000000000000ULL
#define OWNER_TTL_RESERVED 0x00FFFF0000000000ULL /* EphemeralType's reserved bits: 0 for TTL */

enum { KIND_PERSISTENT, KIND_EPHEMERAL, KIND_CONTAINER, KIND_TTL }; /* the snapshot's `kind` */

/* ---- conversion checks ---- */

static int node_kind(struct zkimp *im, const struct zt_node *n, uint8_t *kind)
{
    const char *path = n->path_len ? n->path : "/";
    uint64_t o = (uint64_t)n->owner;
    if (o == 0) {
        *kind = KIND_PERSISTENT;
    } else if (n->owner == INT64_MIN) {
        *kind = KIND_CONTAINER;
    } else if ((o & OWNER_TTL_BITS) == OWNER_TTL_BITS) {
        if (o & OWNER_TTL_RESERVED)
            return zkimp_fail(im, "node %s: ephemeralOwner 0x%llx is neither a session nor a TTL "
                              "(a ZooKeeper server id 255 without extendedTypesEnabled?)", path,
                              (unsigned long long)o);
        *kind = KIND_TTL;
    } else {
        if (!zt_session_find(&im->tree, n->owner))
            return zkimp_fail(im, "ephemeral node %s: its session 0x%llx is not open", path,
                              (unsigned long long)o);
        if (n->first_child)
            return zkimp_fail(im, "ephemeral node %s has children", path);
        *kind = KIND_EPHEMERAL;
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

/* ---- packing (docs/storage-tree.md, "Snapshot format"): length-prefixed msgpack records ---- */

struct rec_out {
    msgpack_sbuffer rec;  /* the record being packed */
    msgpack_packer pk;    /* packs into rec */
    msgpack_sbuffer *out; /* where finished records go, each after its 4-byte length */
};

static void rec_init(struct rec_out *o, msgpack_sbuffer *out)
{
    msgpack_sbuffer_init(&o->rec);
    msgpack_packer_init(&o->pk, &o->rec, msgpack_sbuffer_write);
    o->out = out;
}

static int rec_end(struct zkimp *im, struct rec_out *o, int pack_rc)
{
    uint8_t len[4];
    be32_store(len, (uint32_t)o->rec.size);
    int rc = pack_rc || msgpack_sbuffer_write(o->out, (const char *)len, sizeof len) ||
             msgpack_sbuffer_write(o->out, o->rec.data, o->rec.size);
    o->rec.size = 0;
    return rc ? zkimp_fail(im, "out of memory") : 0;
}

static int pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
    return msgpack_pack_bin(pk, len) || msgpack_pack_bin_body(pk, p, len);
}

static int pack_node(struct zkimp *im, struct rec_out *o, struct acl_out *acls,
                     const struct zt_node *n)
{
    uint8_t kind;
    uint32_t acl;
    if (node_kind(im, n, &kind) || acl_index(im, acls, n, &acl))
        return -1;
    msgpack_packer *pk = &o->pk;
    const char *path = n->path_len ? n->path : "/";
    size_t plen = n->path_len ? n->path_len : 1;
    int rc = msgpack_pack_array(pk, SNAP_NODE_FIELDS) || msgpack_pack_str(pk, plen) ||
             msgpack_pack_str_body(pk, path, plen);
    rc = rc || (n->data_len < 0 ? msgpack_pack_nil(pk) : pack_bin(pk, n->data, (size_t)n->data_len));
    rc = rc || msgpack_pack_int64(pk, n->czxid) || msgpack_pack_int64(pk, n->mzxid) ||
         msgpack_pack_int64(pk, n->ctime) || msgpack_pack_int64(pk, n->mtime) ||
         msgpack_pack_int32(pk, n->version) || msgpack_pack_int32(pk, n->cversion) ||
         msgpack_pack_int32(pk, n->aversion) || msgpack_pack_int64(pk, n->owner) ||
         msgpack_pack_int64(pk, n->pzxid) || msgpack_pack_uint8(pk, kind) ||
         msgpack_pack_uint32(pk, acl);
    return rec_end(im, o, rc);
}

static int pack_sessions(struct zkimp *im, struct rec_out *o)
{
    size_t b = 0;
    const struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &im->tree.sessions) {
        const struct zt_session *s = CHAIN_ITEM(l, const struct zt_session, link);
        uint8_t pw[ZKF_PASSWD_LEN];
        zkf_session_passwd(s->id, pw); /* what ZooKeeper checks a reconnecting client against */
        if (rec_end(im, o, msgpack_pack_array(&o->pk, 3) || msgpack_pack_int64(&o->pk, s->id) ||
                               msgpack_pack_int32(&o->pk, s->timeout) ||
                               pack_bin(&o->pk, pw, sizeof pw)))
            return -1;
    }
    return 0;
}

/* Every record after the header: the ACLs in use, the sessions, the nodes in pre-order. */
static int pack_body(struct zkimp *im, msgpack_sbuffer *body, size_t *nodes, size_t *n_acls)
{
    struct acl_out acls = {NULL, 0, 0};
    struct rec_out o;
    rec_init(&o, body);
    int rc = prepare(im, &acls, nodes);
    for (size_t i = 0; rc == 0 && i < acls.n; i++)
        rc = rec_end(im, &o, pack_bin(&o.pk, acls.v[i]->bytes, acls.v[i]->len));
    rc = rc ? rc : pack_sessions(im, &o);
    for (const struct zt_node *n = im->tree.root; n && rc == 0; n = zt_next_preorder(n))
        rc = pack_node(im, &o, &acls, n);
    *n_acls = acls.n;
    zk_free(acls.v);
    msgpack_sbuffer_destroy(&o.rec);
    return rc;
}

static int pack_header(struct zkimp *im, msgpack_sbuffer *head, int64_t zxid, size_t acls,
                       size_t sessions, size_t nodes, uint64_t digest)
{
    struct rec_out o;
    rec_init(&o, head);
    int rc = rec_end(im, &o, msgpack_pack_array(&o.pk, SNAP_HEADER_FIELDS) ||
                                 msgpack_pack_str(&o.pk, strlen(SNAPSHOT_MAGIC)) ||
                                 msgpack_pack_str_body(&o.pk, SNAPSHOT_MAGIC,
                                                       strlen(SNAPSHOT_MAGIC)) ||
                                 msgpack_pack_int32(&o.pk, SNAPSHOT_VERSION) ||
                                 msgpack_pack_int64(&o.pk, zxid) || msgpack_pack_uint64(&o.pk, acls) ||
                                 msgpack_pack_uint64(&o.pk, sessions) ||
                                 msgpack_pack_uint64(&o.pk, nodes) ||
                                 msgpack_pack_uint64(&o.pk, digest));
    msgpack_sbuffer_destroy(&o.rec);
    return rc;
}

/* ---- the state as a zabkeeper store ---- */

/* Feed header + body to a fresh loader; with st, finish into it. 0 or -1. */
static int feed(const msgpack_sbuffer *head, const msgpack_sbuffer *body, struct store *st,
                uint64_t *digest)
{
    struct store_loader *l = store_loader_new();
    int rc = l && store_loader_feed(l, head->data, head->size) == 0 &&
                     store_loader_feed(l, body->data, body->size) == 0 ? 0 : -1;
    if (rc == 0 && digest)
        *digest = store_loader_digest(l);
    if (rc == 0 && st)
        rc = store_loader_finish(l, st);
    store_loader_free(l);
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
 * announce, the second loads with every check, that digest included. */
static struct store *build_store(struct zkimp *im, const struct zkwrite_plan *p, size_t *nodes)
{
    msgpack_sbuffer body, head;
    msgpack_sbuffer_init(&body);
    msgpack_sbuffer_init(&head);
    size_t acls = 0;
    uint64_t digest = 0;
    size_t sessions = im->tree.sessions.count;
    struct store *st = NULL;
    int rc = pack_body(im, &body, nodes, &acls);
    rc = rc ? rc : pack_header(im, &head, p->zxid, acls, sessions, *nodes, 0);
    if (rc == 0 && feed(&head, &body, NULL, &digest) != 0)
        rc = zkimp_fail(im, "zabkeeper's snapshot loader rejects the converted state (a path or "
                        "value zabkeeper cannot hold)");
    head.size = 0;
    rc = rc ? rc : pack_header(im, &head, p->zxid, acls, sessions, *nodes, digest);
    st = rc == 0 ? new_store(im, p) : NULL;
    if (st && feed(&head, &body, st, NULL) != 0) {
        zkimp_fail(im, "zabkeeper's snapshot loader rejects the converted state");
        store_free(st);
        st = NULL;
    }
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&head);
    return st;
}

/* ---- the target directory ---- */

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
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return zkimp_fail(im, "cannot open %s: %s", dir, strerror(errno));
    int rc = fsync(fd) == 0 ? 0 : zkimp_fail(im, "fsync %s: %s", dir, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = zkimp_fail(im, "close %s: %s", dir, strerror(errno));
    return rc;
}

/* Remove the temporary directory and what LMDB put in it (best effort: we are failing). */
static void remove_temp(const char *dir)
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

static int snapshot_sink(void *log, const void *p, size_t len)
{
    return txnlog_snapshot_write(log, p, len);
}

/* The snapshot (written by zabkeeper's own store_snapshot_write; storage.c loads a snapshot
 * kept in the LMDB environment when there is no snapshot file yet) and the epochs. */
static int write_storage(struct zkimp *im, const char *dir, const struct zkwrite_plan *p,
                         const struct store *st)
{
    struct txnlog *log;
    char err[TXNLOG_ERRMSG_SIZE];
    if (txnlog_open(&log, dir, (size_t)p->lmdb_map_bytes, err, sizeof err) != TXNLOG_OK)
        return zkimp_fail(im, "cannot create the log in %s: %s", dir, err);
    int rc = txnlog_snapshot_begin(log, p->zxid);
    rc = rc ? rc : store_snapshot_write(st, snapshot_sink, log);
    rc = rc ? rc : txnlog_snapshot_finish(log);
    rc = rc ? rc : txnlog_meta_put(log, META_ACCEPTED, p->accepted_epoch);
    rc = rc ? rc : txnlog_meta_put(log, META_CURRENT, p->current_epoch);
    rc = rc ? rc : txnlog_meta_put(log, META_COMMITTED, p->zxid);
    if (rc != 0)
        zkimp_fail(im, "writing %s: %s", dir, txnlog_errmsg(log));
    txnlog_close(log);
    return rc == 0 ? 0 : -1;
}

/* ---- reading it back ---- */

static int check_meta(struct zkimp *im, struct txnlog *log, const struct zkwrite_plan *p)
{
    if (txnlog_meta_get(log, META_ACCEPTED, -1) != p->accepted_epoch ||
        txnlog_meta_get(log, META_CURRENT, -1) != p->current_epoch ||
        txnlog_meta_get(log, META_COMMITTED, -1) != p->zxid || txnlog_count(log) != 0)
        return zkimp_fail(im, "read back: the log metadata differs from what was written");
    return 0;
}

/* Reopen what was written, load it into a fresh store and compare with what was written
 * (node count, digest) and with the model (every node and session). */
static int read_back(struct zkimp *im, const char *dir, const struct zkwrite_plan *p,
                     const struct zkwrite_result *written)
{
    struct txnlog *log;
    char err[TXNLOG_ERRMSG_SIZE];
    if (txnlog_open(&log, dir, (size_t)p->lmdb_map_bytes, err, sizeof err) != TXNLOG_OK)
        return zkimp_fail(im, "read back: cannot open %s: %s", dir, err);
    int64_t zxid;
    void *data = NULL;
    size_t len = 0;
    int rc = check_meta(im, log, p);
    if (rc == 0 && (txnlog_snapshot_latest(log, &zxid, &data, &len) != TXNLOG_OK || !data ||
                    zxid != p->zxid))
        rc = zkimp_fail(im, "read back: the snapshot in %s is missing or at another zxid", dir);
    txnlog_close(log);
    struct store *disk = rc == 0 ? new_store(im, p) : NULL;
    if (disk && store_snapshot_read(disk, data, len) != 0)
        rc = zkimp_fail(im, "read back: zabkeeper cannot load the snapshot it wrote");
    zk_free(data);
    if (rc == 0 && disk &&
        (store_node_count(disk) != written->nodes || store_digest(disk) != written->digest ||
         store_last_zxid(disk) != p->zxid))
        rc = zkimp_fail(im, "read back: node count, digest or zxid differ from what was written");
    rc = rc || !disk ? -1 : zkverify_store(im, disk);
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

/* Write into a new directory next to the target, read it back, rename it into place. st is
 * freed once written (the read back then needs the memory). */
static int place(struct zkimp *im, const struct zkwrite_plan *p, struct store **st,
                 const struct zkwrite_result *res)
{
    char tmp[ZKIMP_PATH_MAX + 64], target[ZKIMP_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/%s.import.XXXXXX", p->data_log_dir, LOG_DIR_NAME);
    snprintf(target, sizeof target, "%s/%s", p->data_log_dir, LOG_DIR_NAME);
    if (!mkdtemp(tmp))
        return zkimp_fail(im, "cannot create a directory in %s: %s", p->data_log_dir,
                          strerror(errno));
    int rc = chmod(tmp, 0755) == 0 ? 0 /* as the server's own txnlog_open makes it */
                                   : zkimp_fail(im, "chmod %s: %s", tmp, strerror(errno));
    rc = rc ? rc : write_storage(im, tmp, p, *st);
    store_free(*st);
    *st = NULL;
    rc = rc ? rc : read_back(im, tmp, p, res);
    rc = rc ? rc : fsync_dir(im, tmp);
    if (rc == 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_NOREPLACE) != 0)
        rc = zkimp_fail(im, "cannot rename %s to %s: %s", tmp, target, strerror(errno));
    if (rc) {
        remove_temp(tmp);
        return rc;
    }
    return fsync_dir(im, p->data_log_dir);
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
