/* The write operations (create*, delete, setData, setACL, check, deleteContainer) with the exact
 * check order of ZooKeeper 3.8's PrepRequestProcessor. Each parses its
 * jute record, checks, then changes the tree through store_mutate.c (undo-logged). */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

#define TTL_MAX 0xFFFFFFFFFFLL
#define SEQ_SUFFIX_MAX 11 /* "%010d" of INT32_MIN is 11 chars */
#define PATH_STACK_BUF 512

/* Every op calls this with the permission ZooKeeper checks at that point; the txn carries the
 * issuing session's identities. Server-generated txns (no session) are trusted. */
static int32_t store_acl_check(const struct znode *n, int32_t perm, const struct store_txn *txn)
{
    if (txn->session_id == 0 || txn->type == ZOP_DELETECONTAINER)
        return 0;
    return acl_check(n->acl, perm, txn->auth, txn->auth_len);
}

static size_t bytes_len(struct jute_bytes b) { return b.len < 0 ? 0 : (size_t)b.len; }
static const char *bytes_str(struct jute_bytes b) { return b.len <= 0 ? "" : (const char *)b.ptr; }

static struct znode *parent_of(const struct store *st, const char *path, long last_slash)
{
    ZK_ASSERT(last_slash >= 0);
    return last_slash == 0 ? st->root : node_lookup(st, path, (size_t)last_slash);
}

static int32_t version_matches(int32_t expected, int32_t actual)
{
    return expected == -1 || expected == actual ? 0 : ZE_BADVERSION;
}

struct create_request {
    struct jute_bytes path, data, acl;
    int32_t flags;
    int64_t ttl;
};

static int32_t create_check_mode(const struct store *st, const struct create_request *rq)
{
    if (rq->flags < ZCM_PERSISTENT || rq->flags > ZCM_PERSISTENT_SEQUENTIAL_WITH_TTL)
        return ZE_BADARGUMENTS;
    bool is_ttl = rq->flags == ZCM_PERSISTENT_WITH_TTL ||
                  rq->flags == ZCM_PERSISTENT_SEQUENTIAL_WITH_TTL;
    if (is_ttl && !st->opts.extended_types)
        return ZE_UNIMPLEMENTED;
    if (is_ttl ? (rq->ttl < 1 || rq->ttl > TTL_MAX) : rq->ttl >= 0)
        return ZE_BADARGUMENTS; /* EphemeralType.validateTTL */
    return 0;
}

static void init_created_node(struct znode *n, const struct store_txn *txn,
                              const struct create_request *rq)
{
    n->czxid = n->mzxid = n->pzxid = txn->zxid;
    n->ctime = n->mtime = txn->time_ms;
    switch (rq->flags) {
    case ZCM_EPHEMERAL:
    case ZCM_EPHEMERAL_SEQUENTIAL:
        n->kind = ZK_KIND_EPHEMERAL;
        n->ephemeral_owner = txn->session_id;
        break;
    case ZCM_CONTAINER:
        n->kind = ZK_KIND_CONTAINER;
        n->ephemeral_owner = ZK_EPHEMERAL_CONTAINER;
        break;
    case ZCM_PERSISTENT_WITH_TTL:
    case ZCM_PERSISTENT_SEQUENTIAL_WITH_TTL:
        n->kind = ZK_KIND_TTL;
        n->ephemeral_owner = ZK_EPHEMERAL_TTL_MASK | rq->ttl;
        break;
    default:
        n->kind = ZK_KIND_PERSISTENT;
        n->ephemeral_owner = 0;
    }
}

/* From "parent exists" on: sequence suffix, final path checks, node allocation and insert.
 * Takes ownership of acl. */
static int32_t create_insert(struct store *st, const struct store_txn *txn,
                             const struct create_request *rq, long last_slash,
                             struct acl_list *acl, struct znode **created)
{
    const char *req_path = bytes_str(rq->path);
    size_t req_len = bytes_len(rq->path);
    struct znode *parent = parent_of(st, req_path, last_slash);
    if (!parent)
        return ZE_NONODE;
    int32_t rc = store_acl_check(parent, ZPERM_CREATE, txn);
    if (rc)
        return rc;
    char stack_buf[PATH_STACK_BUF];
    char *path = req_len + SEQ_SUFFIX_MAX + 1 <= sizeof stack_buf
                     ? stack_buf : zk_malloc(req_len + SEQ_SUFFIX_MAX + 1);
    if (!path)
        return STORE_ERR_NOMEM;
    memcpy(path, req_path, req_len);
    size_t len = req_len;
    bool sequential = rq->flags == ZCM_PERSISTENT_SEQUENTIAL ||
                      rq->flags == ZCM_EPHEMERAL_SEQUENTIAL ||
                      rq->flags == ZCM_PERSISTENT_SEQUENTIAL_WITH_TTL;
    if (sequential)
        len += (size_t)snprintf(path + len, SEQ_SUFFIX_MAX + 1, "%010d", parent->cversion);
    if (!path_is_valid(path, len))
        rc = ZE_BADARGUMENTS;
    else if (node_lookup(st, path, len))
        rc = ZE_NODEEXISTS;
    else if (parent->kind == ZK_KIND_EPHEMERAL)
        rc = ZE_NOCHILDRENFOREPHEMERALS;
    else
        rc = quota_check(st, txn, path, len, 1, rq->data.len > 0 ? rq->data.len : 0);
    struct znode *n = NULL;
    if (rc == 0) {
        n = node_alloc(path, len, rq->data.ptr, rq->data.len);
        rc = n ? 0 : STORE_ERR_NOMEM;
    }
    if (path != stack_buf)
        zk_free(path);
    if (rc)
        return rc;
    init_created_node(n, txn, rq);
    n->acl = acl;
    if (mutate_create(st, parent, n)) {
        n->acl = NULL; /* the caller still owns the reference */
        node_free(st, n);
        return STORE_ERR_NOMEM;
    }
    *created = n;
    return 0;
}

int32_t op_create(struct store *st, const struct store_txn *txn, int32_t opcode,
                  struct jute_reader *jr, struct znode **created)
{
    struct create_request rq;
    rq.path = jr_bytes(jr);
    rq.data = jr_bytes(jr);
    rq.acl = acl_skip_vector(jr);
    rq.flags = jr_int(jr);
    rq.ttl = opcode == ZOP_CREATETTL ? jr_long(jr) : -1;
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    int32_t rc = create_check_mode(st, &rq);
    if (rc)
        return rc;
    bool ephemeral = rq.flags == ZCM_EPHEMERAL || rq.flags == ZCM_EPHEMERAL_SEQUENTIAL;
    if (ephemeral && !session_find(st, txn->session_id))
        return ZE_SESSIONEXPIRED;
    const char *path = bytes_str(rq.path);
    long last_slash = path_last_slash(path, bytes_len(rq.path));
    if (last_slash < 0 || path_has_nul(path, bytes_len(rq.path)))
        return ZE_BADARGUMENTS;
    if (rq.data.len > st->opts.max_data_len)
        return ZE_BADARGUMENTS;
    struct acl_list *acl = NULL;
    rc = acl_from_request(st, rq.acl, txn->auth, txn->auth_len, &acl);
    if (rc)
        return rc;
    rc = create_insert(st, txn, &rq, last_slash, acl, created);
    if (rc)
        acl_release(&st->acls, acl);
    return rc;
}

static bool is_protected_path(const char *path, size_t len)
{
    static const char *const protected_paths[] = {"/", "/zookeeper", "/zookeeper/quota",
                                                  "/zookeeper/config"};
    for (size_t i = 0; i < sizeof protected_paths / sizeof protected_paths[0]; i++)
        if (strlen(protected_paths[i]) == len && memcmp(protected_paths[i], path, len) == 0)
            return true;
    return false;
}

int32_t op_delete(struct store *st, const struct store_txn *txn, struct jute_reader *jr)
{
    struct jute_bytes pb = jr_bytes(jr);
    int32_t version = jr_int(jr);
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    const char *path = bytes_str(pb);
    size_t len = bytes_len(pb);
    long last_slash = path_last_slash(path, len);
    if (last_slash < 0 || path_has_nul(path, len) || is_protected_path(path, len))
        return ZE_BADARGUMENTS;
    struct znode *parent = parent_of(st, path, last_slash);
    if (!parent)
        return ZE_NONODE;
    int32_t rc = store_acl_check(parent, ZPERM_DELETE, txn);
    if (rc)
        return rc;
    struct znode *n = node_lookup(st, path, len);
    if (!n)
        return ZE_NONODE;
    if ((rc = version_matches(version, n->version)))
        return rc;
    if (n->num_children > 0)
        return ZE_NOTEMPTY;
    return mutate_delete(st, n);
}

int32_t op_set_data(struct store *st, const struct store_txn *txn, struct jute_reader *jr,
                    struct znode **changed)
{
    struct jute_bytes pb = jr_bytes(jr);
    struct jute_bytes data = jr_bytes(jr);
    int32_t version = jr_int(jr);
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    if (!path_is_valid(bytes_str(pb), bytes_len(pb)) || data.len > st->opts.max_data_len)
        return ZE_BADARGUMENTS;
    struct znode *n = node_lookup(st, bytes_str(pb), bytes_len(pb));
    if (!n)
        return ZE_NONODE;
    int32_t rc = store_acl_check(n, ZPERM_WRITE, txn);
    if (!rc) /* as ZooKeeper's PrepRequestProcessor: the quota before the version */
        rc = quota_check(st, txn, n->path, n->path_len, 0,
                         (int64_t)(data.len > 0 ? data.len : 0) - (n->data_len > 0 ? n->data_len : 0));
    if (rc || (rc = version_matches(version, n->version)))
        return rc;
    uint8_t *copy = NULL;
    if (data.len > 0) {
        if (!(copy = zk_malloc((size_t)data.len)))
            return STORE_ERR_NOMEM;
        memcpy(copy, data.ptr, (size_t)data.len);
    }
    if (mutate_set_data(st, n, copy, data.len)) {
        zk_free(copy);
        return STORE_ERR_NOMEM;
    }
    *changed = n;
    return 0;
}

int32_t op_set_acl(struct store *st, const struct store_txn *txn, struct jute_reader *jr,
                   struct znode **changed)
{
    struct jute_bytes pb = jr_bytes(jr);
    struct jute_bytes acl_vec = acl_skip_vector(jr);
    int32_t version = jr_int(jr);
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    if (!path_is_valid(bytes_str(pb), bytes_len(pb)))
        return ZE_BADARGUMENTS;
    struct acl_list *acl = NULL;
    int32_t rc = acl_from_request(st, acl_vec, txn->auth, txn->auth_len, &acl);
    if (rc)
        return rc;
    struct znode *n = node_lookup(st, bytes_str(pb), bytes_len(pb));
    if (!n)
        rc = ZE_NONODE;
    else if (!(rc = store_acl_check(n, ZPERM_ADMIN, txn)))
        rc = version_matches(version, n->aversion);
    if (rc == 0 && mutate_set_acl(st, n, acl))
        rc = STORE_ERR_NOMEM;
    if (rc) {
        acl_release(&st->acls, acl);
        return rc;
    }
    *changed = n;
    return 0;
}

int32_t op_check(struct store *st, const struct store_txn *txn, struct jute_reader *jr)
{
    struct jute_bytes pb = jr_bytes(jr);
    int32_t version = jr_int(jr);
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    if (!path_is_valid(bytes_str(pb), bytes_len(pb)))
        return ZE_BADARGUMENTS;
    struct znode *n = node_lookup(st, bytes_str(pb), bytes_len(pb));
    if (!n)
        return ZE_NONODE;
    int32_t rc = store_acl_check(n, ZPERM_READ, txn);
    return rc ? rc : version_matches(version, n->version);
}

/* Server-internal reaping. Unlike ZooKeeper (which only refuses true ephemerals), anything but
 * a container or TTL node is refused with BADVERSION, so a stale reap can never delete a
 * persistent node recreated at the same path. */
int32_t op_delete_container(struct store *st, struct jute_reader *jr)
{
    struct jute_bytes pb = jr_bytes(jr);
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    const char *path = bytes_str(pb);
    size_t len = bytes_len(pb);
    if (!path_is_valid(path, len) || is_protected_path(path, len))
        return ZE_BADARGUMENTS;
    struct znode *n = node_lookup(st, path, len);
    if (!n)
        return ZE_NONODE;
    if (n->num_children > 0)
        return ZE_NOTEMPTY;
    if (n->kind != ZK_KIND_CONTAINER && n->kind != ZK_KIND_TTL)
        return ZE_BADVERSION;
    return mutate_delete(st, n);
}

static int32_t vector_len(struct jute_bytes vec)
{
    struct jute_reader jr;
    jr_init(&jr, vec.ptr, vec.len > 0 ? (size_t)vec.len : 0);
    int32_t n = jr_int(&jr);
    return jr_ok(&jr) ? n : 0;
}

/* Shape-only parse of a write record, shared by store_validate_write and multi validation. */
int32_t parse_write_record(int32_t opcode, struct jute_reader *jr, int32_t max_data_len)
{
    struct jute_bytes data = {NULL, -1}, acl = {NULL, 0};
    switch (opcode) {
    case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
        (void)jr_bytes(jr);
        data = jr_bytes(jr);
        acl = acl_skip_vector(jr);
        (void)jr_int(jr);
        if (opcode == ZOP_CREATETTL)
            (void)jr_long(jr);
        break;
    case ZOP_DELETE: case ZOP_CHECK:
        (void)jr_bytes(jr);
        (void)jr_int(jr);
        break;
    case ZOP_SETDATA:
        (void)jr_bytes(jr);
        data = jr_bytes(jr);
        (void)jr_int(jr);
        break;
    case ZOP_SETACL:
        (void)jr_bytes(jr);
        acl = acl_skip_vector(jr);
        (void)jr_int(jr);
        break;
    case ZOP_DELETECONTAINER:
        (void)jr_bytes(jr);
        break;
    default:
        return ZE_UNIMPLEMENTED;
    }
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    if (acl.ptr && acl_vector_check(acl) == ZE_INVALIDACL && vector_len(acl) > 0)
        return ZE_INVALIDACL; /* too many entries (an empty list fails later, in ZK's order) */
    return data.len > max_data_len ? ZE_BADARGUMENTS : 0;
}
