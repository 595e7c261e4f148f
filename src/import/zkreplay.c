/* One logged ZooKeeper txn: parsed as SerializeUtils.deserializeTxn and applied as
 * FileTxnSnapLog.processTransaction / DataTree.processTxn (3.8) apply it while loading.
 *
 * Log entry = TxnHeader { long clientId, int cxid, long zxid, long time, int type }, the record
 * of that type, then optionally TxnDigest { int version, long treeDigest } (3.6+).
 *
 * ZooKeeper's logs hold resolved txns (a create names the final path and the parent's new
 * cversion, a setData the new version), so applying one never checks versions or ACLs. What a
 * fuzzy snapshot already reflects fails with NONODE/NODEEXISTS and is ignored, except that a
 * `create` that finds its node sets the parent's cversion/pzxid (processTxn's fix-up).
 * Where ZooKeeper would fail to load (unknown type, a malformed record, a null path that
 * processTxn dereferences) the import refuses too. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "import/zkimport_internal.h"
#include "proto/zkproto.h"

#define TXN_HEADER_LEN 32
#define TTL_MAX 0x000000FFFFFFFFFFLL /* EphemeralType.TTL.maxValue() */
#define TTL_OWNER_BITS ((int64_t)0xFF00000000000000ULL)
#define REPLAY_STOP 2   /* a multi's remaining sub-txns are not applied */
#define REPLAY_UNUSABLE (-2)

/* ---- parsing ---- */

static bool is_create(int32_t type)
{
    return type == ZOP_CREATE || type == ZOP_CREATE2 || type == ZOP_CREATETTL ||
           type == ZOP_CREATECONTAINER;
}

static void read_create(struct zkin *in, int32_t type, struct zktxn *t)
{
    t->path = zkin_buffer(in);
    t->data = zkin_buffer(in);
    zkin_acl_vector(in, &t->acl);
    if (type == ZOP_CREATE || type == ZOP_CREATE2)
        t->ephemeral = zkin_bool(in);
    t->parent_cversion = zkin_int(in);
    if (type == ZOP_CREATETTL)
        t->ttl = zkin_long(in);
}

/* CreateTxnV0 { path, data, acl, ephemeral }: what an EOF in a `create` record falls back to. */
static void read_create_v0(struct zkin *in, size_t start, struct zktxn *t)
{
    in->pos = start;
    in->status = ZKIN_OK;
    t->path = zkin_buffer(in);
    t->data = zkin_buffer(in);
    zkin_acl_vector(in, &t->acl);
    t->ephemeral = zkin_bool(in);
    t->parent_cversion = -1;
}

/* CloseSessionTxn { vector<ustring> paths2Delete }; an EOF means a txn without the record. */
static int read_close(struct zkin *in, struct zktxn *t)
{
    int32_t n = zkin_vector(in);
    size_t start = in->pos;
    for (int32_t i = 0; i < n && zkin_ok(in); i++)
        (void)zkin_buffer(in);
    if (in->status == ZKIN_EOF) {
        in->status = ZKIN_OK; /* "perhaps this is before CloseSessionTxn was added" */
        in->pos = in->len;
        return 0;
    }
    if (!zkin_ok(in) || n < 0)
        return 0; /* the caller reports a malformed record; a null vector lists nothing */
    t->paths_listed = true;
    t->paths = zk_calloc(n ? (size_t)n : 1, sizeof *t->paths);
    if (!t->paths)
        return -1;
    size_t end = in->pos;
    in->pos = start;
    for (int32_t i = 0; i < n; i++)
        t->paths[i] = zkin_buffer(in);
    t->n_paths = n;
    ZK_ASSERT(in->pos == end); /* the same bytes walked twice */
    return 0;
}

/* MultiTxn { vector<Txn { int type, buffer data }> }: the sub-records are parsed when applied. */
static void read_multi(struct zkin *in, struct zktxn *t)
{
    t->n_ops = zkin_vector(in);
    t->ops = *in;
    for (int32_t i = 0; i < t->n_ops && zkin_ok(in); i++) {
        (void)zkin_int(in);
        (void)zkin_buffer(in);
    }
}

/* The record of `type`; false when ZooKeeper knows no record for the type. */
static bool read_record(struct zkin *in, int32_t type, struct zktxn *t)
{
    switch (type) {
    case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATETTL: case ZOP_CREATECONTAINER:
        read_create(in, type, t);
        return true;
    case ZOP_DELETE: case ZOP_DELETECONTAINER:
        t->path = zkin_buffer(in);
        return true;
    case ZOP_SETDATA: case ZOP_RECONFIG:
        t->path = zkin_buffer(in);
        t->data = zkin_buffer(in);
        t->version = zkin_int(in);
        return true;
    case ZOP_SETACL:
        t->path = zkin_buffer(in);
        zkin_acl_vector(in, &t->acl);
        t->version = zkin_int(in);
        return true;
    case ZOP_CHECK:
        t->path = zkin_buffer(in);
        t->version = zkin_int(in);
        return true;
    case ZOP_CREATESESSION: case ZOP_ERROR:
        t->timeout = zkin_int(in); /* ErrorTxn's err has the same shape */
        return true;
    default:
        return false;
    }
}

/* TxnDigest after the record (absent in older logs). */
static void read_txn_digest(struct zkin *in, struct zktxn *t)
{
    int32_t version = zkin_int(in);
    int64_t digest = zkin_long(in);
    t->has_digest = zkin_ok(in) && version == ZT_ZK_DIGEST_VERSION;
    t->digest = (uint64_t)digest;
}

static int parse_record(struct zkin *in, struct zktxn *t, const char **why)
{
    size_t start = in->pos;
    int32_t type = t->hdr.type;
    if (type == ZOP_CLOSESESSION) {
        if (read_close(in, t) != 0) {
            *why = "out of memory";
            return ZKREPLAY_FAIL;
        }
    } else if (type == ZOP_MULTI) {
        read_multi(in, t);
    } else if (!read_record(in, type, t)) {
        *why = "unsupported txn type";
        return ZKREPLAY_FAIL;
    }
    if (type == ZOP_CREATE && in->status == ZKIN_EOF)
        read_create_v0(in, start, t); /* "perhaps this is a V0 Create" */
    if (in->status == ZKIN_BAD) {
        *why = "malformed record (unreasonable length)";
        return ZKREPLAY_FAIL;
    }
    return in->status == ZKIN_EOF ? ZKREPLAY_EOF : ZKREPLAY_OK;
}

int zkreplay_parse(struct zkimp *im, const uint8_t *p, size_t len, struct zktxn *t, char *why,
                   size_t why_len)
{
    memset(t, 0, sizeof *t);
    struct zkin in;
    zkin_init(&in, p, len, im->max_len);
    t->hdr.client_id = zkin_long(&in);
    t->hdr.cxid = zkin_int(&in);
    t->hdr.zxid = zkin_long(&in);
    t->hdr.time = zkin_long(&in);
    t->hdr.type = zkin_int(&in);
    if (!zkin_ok(&in))
        return ZKREPLAY_EOF;
    ZK_ASSERT(in.pos == TXN_HEADER_LEN);
    const char *reason = NULL;
    int rc = parse_record(&in, t, &reason);
    if (rc == ZKREPLAY_OK)
        read_txn_digest(&in, t);
    if (rc == ZKREPLAY_FAIL)
        snprintf(why, why_len, "%s txn: %s", zk_op_name(t->hdr.type), reason);
    return rc;
}

void zkreplay_release(struct zktxn *t)
{
    zk_free(t->paths);
    t->paths = NULL;
}

/* ---- what processTxn dereferences (a Java RuntimeException there fails the load) ---- */

static bool path_usable(int32_t type, struct zkbuf p)
{
    if (type == ZOP_ERROR || type == ZOP_CREATESESSION || type == ZOP_CLOSESESSION ||
        type == ZOP_MULTI || type == ZOP_CHECK)
        return true; /* processTxn does not look at a path for these */
    if (p.len < 1 || p.ptr[0] != '/')
        return false;
    bool tree_edit = is_create(type) || type == ZOP_DELETE || type == ZOP_DELETECONTAINER;
    return !(tree_edit && p.len == 1);
}

static bool txn_usable(int32_t type, const struct zktxn *t)
{
    if (!path_usable(type, t->path))
        return false;
    if (type == ZOP_CREATETTL && (t->ttl <= 0 || t->ttl > TTL_MAX))
        return false; /* TTL.toEphemeralOwner's IllegalArgumentException */
    for (int32_t i = 0; i < t->n_paths; i++) /* closeSession deletes each listed path */
        if (!path_usable(ZOP_DELETE, t->paths[i]))
            return false;
    return true;
}

/* ---- applying (DataTree.processTxn) ---- */

static size_t parent_len(struct zkbuf path)
{
    int32_t i = path.len - 1;
    while (i > 0 && path.ptr[i] != '/')
        i--;
    return (size_t)i;
}

static int64_t create_owner(int32_t type, const struct zktxn *t)
{
    if (type == ZOP_CREATECONTAINER)
        return ZK_EPHEMERAL_CONTAINER;
    if (type == ZOP_CREATETTL)
        return TTL_OWNER_BITS | t->ttl;
    return t->ephemeral ? t->hdr.client_id : 0;
}

/* ZT_OK, ZT_NODEEXISTS/ZT_NONODE (the txn found the tree ahead of it) or ZT_NOMEM. */
static int apply_create(struct zt *tree, int32_t type, const struct zktxn *t)
{
    struct zt_create c = {(const char *)t->path.ptr, (size_t)t->path.len, t->data, t->acl,
                          create_owner(type, t), t->parent_cversion, t->hdr.zxid, t->hdr.time};
    int rc = zt_create_node(tree, &c);
    if (rc == ZT_NODEEXISTS && type == ZOP_CREATE && /* the node is already in the snapshot */
        zt_set_cversion_pzxid(tree, c.path, parent_len(t->path), t->parent_cversion,
                              t->hdr.zxid) == ZT_NOMEM)
        return ZT_NOMEM;
    return rc;
}

/* One (sub-)txn: 0, REPLAY_UNUSABLE, or -1 when memory ran out (NONODE/NODEEXISTS are
 * ignored, as ZooKeeper ignores them while loading: counted as already in the snapshot). */
static int apply_op(struct zkimp *im, int32_t type, const struct zktxn *t)
{
    struct zt *tree = &im->tree;
    if (!txn_usable(type, t))
        return REPLAY_UNUSABLE;
    const char *path = (const char *)t->path.ptr;
    size_t len = t->path.len > 0 ? (size_t)t->path.len : 0;
    int rc = ZT_OK;
    switch (type) {
    case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATETTL: case ZOP_CREATECONTAINER:
        rc = apply_create(tree, type, t);
        break;
    case ZOP_DELETE: case ZOP_DELETECONTAINER:
        rc = zt_delete_node(tree, path, len, t->hdr.zxid);
        break;
    case ZOP_SETDATA: case ZOP_RECONFIG:
        rc = zt_set_data(tree, path, len, t->data, t->version, t->hdr.zxid, t->hdr.time);
        break;
    case ZOP_SETACL:
        rc = zt_set_acl(tree, path, len, t->acl, t->version);
        break;
    case ZOP_CLOSESESSION:
        rc = zt_kill_session(tree, t->hdr.client_id, t->hdr.zxid,
                             t->paths_listed ? t->paths : NULL, t->n_paths);
        break;
    default: /* error, check, createSession: nothing in the tree */
        break;
    }
    if (rc == ZT_NONODE || rc == ZT_NODEEXISTS)
        im->ops_reflected++;
    return rc == ZT_NOMEM ? -1 : 0;
}

static bool multi_sub_type(int32_t type)
{
    return type == ZOP_CREATE || type == ZOP_CREATETTL || type == ZOP_CREATECONTAINER ||
           type == ZOP_DELETE || type == ZOP_DELETECONTAINER || type == ZOP_SETDATA ||
           type == ZOP_ERROR || type == ZOP_CHECK;
}

/* Any ErrorTxn turns every sub-txn into one: nothing changes. A null buffer fails the load
 * (ByteBuffer.wrap(null)). */
static int multi_prescan(const struct zktxn *t, bool *failed)
{
    struct zkin in = t->ops;
    *failed = false;
    for (int32_t i = 0; i < t->n_ops; i++) {
        *failed |= zkin_int(&in) == ZOP_ERROR;
        if (zkin_buffer(&in).len < 0)
            return REPLAY_UNUSABLE;
    }
    return 0;
}

/* One sub-txn of a multi: 0 applied, REPLAY_STOP, REPLAY_UNUSABLE or -1 (out of memory). */
static int apply_sub(struct zkimp *im, const struct zktxn *t, int32_t type, struct zkbuf data)
{
    if (!multi_sub_type(type))
        return REPLAY_STOP; /* IOException "Invalid type of op" quietly ends the multi */
    struct zkin in;
    zkin_init(&in, data.ptr, (size_t)data.len, im->max_len);
    struct zktxn sub;
    memset(&sub, 0, sizeof sub);
    sub.hdr = t->hdr;
    sub.hdr.type = type;
    read_record(&in, type, &sub);
    if (!zkin_ok(&in))
        return REPLAY_STOP; /* byteBuffer2Record's IOException, the same */
    return apply_op(im, type, &sub);
}

static int apply_multi(struct zkimp *im, const struct zktxn *t)
{
    bool failed;
    if (t->n_ops < 0)
        return REPLAY_UNUSABLE; /* a null list: NullPointerException */
    int rc = multi_prescan(t, &failed);
    if (rc || failed)
        return rc;
    struct zkin in = t->ops;
    for (int32_t i = 0; i < t->n_ops; i++) {
        int32_t type = zkin_int(&in);
        struct zkbuf data = zkin_buffer(&in);
        rc = apply_sub(im, t, type, data);
        if (rc == REPLAY_STOP)
            return 0;
        if (rc)
            return rc;
    }
    return 0;
}

int zkreplay_apply(struct zkimp *im, const struct zktxn *t, char *why, size_t why_len)
{
    int rc = 0;
    if (t->hdr.type == ZOP_CREATESESSION)
        rc = zt_session_put(&im->tree, t->hdr.client_id, t->timeout) == ZT_OK ? 0 : -1;
    else if (t->hdr.type == ZOP_CLOSESESSION)
        zt_session_remove(&im->tree, t->hdr.client_id);
    if (rc == 0)
        rc = t->hdr.type == ZOP_MULTI ? apply_multi(im, t) : apply_op(im, t->hdr.type, t);
    if (rc) {
        snprintf(why, why_len, "%s txn: %s", zk_op_name(t->hdr.type),
                 rc == REPLAY_UNUSABLE ? "a path, TTL or list ZooKeeper fails on" : "out of memory");
        return -1;
    }
    if (t->has_digest) {
        im->zk_digest_known = true;
        im->zk_digest = t->digest;
        im->zk_digest_zxid = t->hdr.zxid;
    }
    return 0;
}
