/* store_apply: runs one committed txn (single write, multi, session create/close, container
 * reap) inside a txn context; computes the reply; rolls back on error/out-of-memory; fires
 * watches after the commit, before returning (so before the caller writes the reply). */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

#define MULTI_HEADER_BYTES 9

static bool is_multi_write_op(int32_t type)
{
    return type == ZOP_CREATE || type == ZOP_CREATE2 || type == ZOP_CREATECONTAINER ||
           type == ZOP_CREATETTL || type == ZOP_DELETE || type == ZOP_SETDATA ||
           type == ZOP_CHECK;
}

/* Run one write op and, on success, append its reply record (single-op or multi result). */
static int32_t run_write_op(struct store *st, const struct store_txn *txn, int32_t type,
                            struct jute_reader *jr, struct jute_writer *out, bool in_multi)
{
    struct znode *n = NULL;
    int32_t rc;
    switch (type) {
    case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
        rc = op_create(st, txn, type, jr, &n);
        break;
    case ZOP_DELETE: rc = op_delete(st, txn, jr); break;
    case ZOP_SETDATA: rc = op_set_data(st, txn, jr, &n); break;
    case ZOP_SETACL: rc = op_set_acl(st, txn, jr, &n); break;
    case ZOP_CHECK: rc = op_check(st, txn, jr); break;
    case ZOP_DELETECONTAINER: rc = op_delete_container(st, jr); break;
    default: return ZE_UNIMPLEMENTED;
    }
    if (rc)
        return rc;
    if (in_multi) {
        int32_t result_type = type == ZOP_CREATE ? ZOP_CREATE
                              : (type == ZOP_CREATE2 || type == ZOP_CREATECONTAINER ||
                                 type == ZOP_CREATETTL) ? ZOP_CREATE2 : type;
        jw_int(out, result_type);
        jw_bool(out, false);
        jw_int(out, 0);
        type = result_type;
    }
    switch (type) {
    case ZOP_CREATE: jw_bytes(out, n->path, (int32_t)n->path_len); break;
    case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
        jw_bytes(out, n->path, (int32_t)n->path_len);
        write_node_stat(out, n);
        break;
    case ZOP_SETDATA: case ZOP_SETACL: write_node_stat(out, n); break;
    default: break;
    }
    return out->err ? STORE_ERR_NOMEM : 0;
}

/* First pass over a multi body: shape of every sub-op. Returns the op count or a ZE_ code. */
static int32_t multi_validate(const uint8_t *body, size_t len, int32_t max_data_len,
                              int32_t *count)
{
    struct jute_reader jr;
    jr_init(&jr, body, len);
    *count = 0;
    for (;;) {
        int32_t type = jr_int(&jr);
        bool done = jr_bool(&jr);
        (void)jr_int(&jr);
        if (!jr_ok(&jr))
            return ZE_MARSHALLINGERROR;
        if (done)
            return 0;
        if (!is_multi_write_op(type))
            return ZE_MARSHALLINGERROR;
        int32_t rc = parse_write_record(type, &jr, max_data_len);
        if (rc)
            return rc == ZE_BADARGUMENTS ? ZE_BADARGUMENTS : ZE_MARSHALLINGERROR;
        (*count)++;
    }
}

static void multi_write_failure(struct jute_writer *out, int32_t count, int32_t failed_index,
                                int32_t failed_code)
{
    for (int32_t i = 0; i < count; i++) {
        int32_t code = i < failed_index ? 0 : i == failed_index ? failed_code
                                                                : ZE_RUNTIMEINCONSISTENCY;
        jw_int(out, -1);
        jw_bool(out, false);
        jw_int(out, code);
        jw_int(out, code);
    }
    jw_int(out, -1);
    jw_bool(out, true);
    jw_int(out, -1);
}

/* Returns 0 (reply in out, maybe a failure MultiResponse), a header-level ZE_ code, or NOMEM. */
static int32_t apply_multi(struct store *st, const struct store_txn *txn, struct jute_writer *out)
{
    int32_t count;
    int32_t rc = multi_validate(txn->body, txn->body_len, st->opts.max_data_len, &count);
    if (rc)
        return rc;
    size_t mark = out->len;
    struct jute_reader jr;
    jr_init(&jr, txn->body, txn->body_len);
    for (int32_t i = 0; i < count; i++) {
        int32_t type = jr_int(&jr);
        (void)jr_bool(&jr);
        (void)jr_int(&jr);
        ZK_ASSERT(jr_ok(&jr) && is_multi_write_op(type));
        rc = run_write_op(st, txn, type, &jr, out, true);
        if (rc == STORE_ERR_NOMEM)
            return rc;
        if (rc) {
            txn_rollback(st);
            txn_begin(st, txn->zxid, txn->time_ms);
            out->len = mark;
            multi_write_failure(out, count, i, rc);
            return out->err ? STORE_ERR_NOMEM : 0;
        }
    }
    jw_int(out, -1);
    jw_bool(out, true);
    jw_int(out, -1);
    return out->err ? STORE_ERR_NOMEM : 0;
}

/* A session id that an ephemeral owner field could not tell from a node kind: 0 (persistent),
 * INT64_MIN (ZooKeeper's container owner) and a top byte of 0xff (a TTL). */
static bool session_id_usable(int64_t id)
{
    return id != 0 && id != INT64_MIN && ((uint64_t)id >> 56) != 0xff;
}

static int32_t apply_create_session(struct store *st, const struct store_txn *txn)
{
    if (!session_id_usable(txn->session_id))
        return ZE_BADARGUMENTS; /* refused before the log; a forged log entry fails here */
    struct jute_reader jr;
    jr_init(&jr, txn->body, txn->body_len);
    int32_t timeout = jr_int(&jr);
    struct jute_bytes pw = jr_bytes(&jr);
    if (!jr_ok(&jr) || pw.len != ZK_PASSWD_LEN)
        return ZE_MARSHALLINGERROR;
    if (txn_reserve(st, 1, 0))
        return STORE_ERR_NOMEM;
    struct session *s = session_find(st, txn->session_id);
    if (s) { /* re-created (e.g. replayed): keep its ephemerals, refresh its parameters */
        struct undo_entry *e = txn_push_undo(st, UNDO_SESSION_UPDATE);
        e->session = s;
        e->saved_timeout = s->timeout_ms;
        memcpy(e->saved_passwd, s->passwd, ZK_PASSWD_LEN);
        st->digest -= store_session_digest(s);
        s->timeout_ms = timeout;
        memcpy(s->passwd, pw.ptr, ZK_PASSWD_LEN);
        st->digest += store_session_digest(s);
        return 0;
    }
    s = zk_calloc(1, sizeof *s);
    if (!s)
        return STORE_ERR_NOMEM;
    s->id = txn->session_id;
    s->timeout_ms = timeout;
    memcpy(s->passwd, pw.ptr, ZK_PASSWD_LEN);
    session_link(st, s);
    txn_push_undo(st, UNDO_SESSION_ADD)->session = s;
    return 0;
}

static int32_t apply_close_session(struct store *st, const struct store_txn *txn)
{
    struct session *s = session_find(st, txn->session_id);
    if (!s)
        return 0; /* closing an unknown session is a no-op success */
    while (s->ephemerals.head) {
        struct znode *n = s->ephemerals.head;
        ZK_ASSERT(n->kind == ZK_KIND_EPHEMERAL && n->ephemeral_owner == s->id);
        if (mutate_delete(st, n))
            return STORE_ERR_NOMEM;
    }
    if (txn_reserve(st, 1, 0))
        return STORE_ERR_NOMEM;
    session_unlink(st, s);
    txn_push_undo(st, UNDO_SESSION_REMOVE)->session = s;
    return 0;
}

static bool needs_live_session(const struct store_txn *txn)
{
    if (txn->type == ZOP_CREATESESSION || txn->type == ZOP_CLOSESESSION ||
        txn->type == ZOP_SETCONFIG)
        return false; /* a configuration commits even if its requester went away */
    return !(txn->type == ZOP_DELETECONTAINER && txn->session_id == 0);
}

/* ---- /zookeeper/config ---- */

static struct znode *config_node(const struct store *st)
{
    return node_lookup(st, STORE_CONFIG_PATH, sizeof STORE_CONFIG_PATH - 1);
}

/* The configuration text with its version line: ZooKeeper's QuorumVerifier.toString(). */
static uint8_t *config_with_version(const uint8_t *text, size_t len, int64_t version,
                                    size_t *out_len)
{
    char line[40];
    int n = snprintf(line, sizeof line, "version=%llx", (unsigned long long)version);
    uint8_t *data = zk_malloc(len + (size_t)n);
    if (!data)
        return NULL;
    if (len)
        memcpy(data, text, len);
    memcpy(data + len, line, (size_t)n);
    *out_len = len + (size_t)n;
    return data;
}

/* A reconfig's txn: the new configuration (server lines) becomes /zookeeper/config's data with
 * this txn's zxid as its version; stat version -1 and the GetDataResponse reply, as ZooKeeper's
 * DataTree and FinalRequestProcessor do. Data watches fire (getConfig watchers). */
static int32_t apply_set_config(struct store *st, const struct store_txn *txn,
                                struct jute_writer *out)
{
    struct jute_reader jr;
    jr_init(&jr, txn->body, txn->body_len);
    struct jute_bytes text = jr_bytes(&jr);
    struct znode *n = config_node(st);
    if (!jr_ok(&jr) || text.len < 0 || !n)
        return ZE_MARSHALLINGERROR;
    size_t len;
    uint8_t *data = config_with_version(text.ptr, (size_t)text.len, txn->zxid, &len);
    if (!data)
        return STORE_ERR_NOMEM;
    if (mutate_set_data(st, n, data, (int32_t)len)) {
        zk_free(data);
        return STORE_ERR_NOMEM;
    }
    n->version = -1; /* the undo entry restores the old one on rollback */
    jw_bytes(out, n->data, n->data_len);
    write_node_stat(out, n);
    return out->err ? STORE_ERR_NOMEM : 0;
}

int store_set_config_node(struct store *st, const uint8_t *data, size_t len, int64_t version)
{
    struct znode *n = config_node(st);
    uint8_t *copy = len ? zk_malloc(len) : NULL;
    if (!n || (len && !copy))
        return -1;
    if (len)
        memcpy(copy, data, len);
    st->data_size -= n->data_len > 0 ? (uint64_t)n->data_len : 0;
    zk_free(n->data);
    n->data = copy;
    n->data_len = (int32_t)len;
    n->data_hash = len ? store_hash_bytes(copy, len) : 0;
    n->mzxid = version;
    n->version = -1;
    st->data_size += len;
    return 0;
}

bool store_config_allows(const struct store *st, int32_t perm, const uint8_t *ids,
                         uint32_t ids_len)
{
    const struct znode *n = config_node(st);
    return n && acl_check(n->acl, perm, ids, ids_len) == 0;
}

const uint8_t *store_config_data(const struct store *st, size_t *len)
{
    const struct znode *n = config_node(st);
    *len = n && n->data_len > 0 ? (size_t)n->data_len : 0;
    return *len ? n->data : NULL;
}

static int32_t apply_dispatch(struct store *st, const struct store_txn *txn,
                              struct jute_writer *out)
{
    if (txn->type == ZOP_CREATESESSION)
        return apply_create_session(st, txn);
    if (txn->type == ZOP_CLOSESESSION)
        return apply_close_session(st, txn);
    if (txn->type == ZOP_SETCONFIG)
        return apply_set_config(st, txn, out);
    if (txn->type != ZOP_MULTI) {
        struct jute_reader probe;
        jr_init(&probe, txn->body, txn->body_len);
        int32_t rc = parse_write_record(txn->type, &probe, INT32_MAX);
        if (rc)
            return rc;
    }
    if (needs_live_session(txn) && !session_find(st, txn->session_id))
        return ZE_SESSIONEXPIRED;
    if (txn->type == ZOP_MULTI)
        return apply_multi(st, txn, out);
    struct jute_reader jr;
    jr_init(&jr, txn->body, txn->body_len);
    return run_write_op(st, txn, txn->type, &jr, out, false);
}

int store_apply(struct store *st, const struct store_txn *txn, struct jute_writer *reply_body,
                int32_t *reply_err)
{
    ZK_ASSERT(st && txn && reply_err);
    ZK_ASSERT(txn->zxid > st->last_zxid);
    ZK_ASSERT(txn->body != NULL || txn->body_len == 0);
    struct jute_writer local;
    jw_init(&local);
    struct jute_writer *out = reply_body ? reply_body : &local;
    size_t mark = out->len;
    int saved_err = out->err;
    txn_begin(st, txn->zxid, txn->time_ms);
    int32_t rc = apply_dispatch(st, txn, out);
    int result = 0;
    if (rc == STORE_ERR_NOMEM) {
        txn_rollback(st);
        result = -1;
    } else if (rc != 0) {
        txn_rollback(st); /* failed writes leave the tree unchanged */
        *reply_err = rc;
    } else {
        *reply_err = 0;
        txn_commit(st);
    }
    if (result == 0)
        st->last_zxid = txn->zxid;
    if (rc != 0 && out->data) {
        out->len = mark;
        out->err = saved_err;
    }
    jw_free(&local);
    return result;
}

int32_t store_validate_write(int32_t type, const uint8_t *body, size_t body_len,
                             int32_t max_data_len)
{
    if (!body && body_len > 0)
        return ZE_MARSHALLINGERROR;
    struct jute_reader jr;
    jr_init(&jr, body, body_len);
    if (type == ZOP_MULTI) {
        int32_t count;
        return multi_validate(body, body_len, max_data_len, &count);
    }
    if (type == ZOP_CREATESESSION) {
        (void)jr_int(&jr);
        struct jute_bytes pw = jr_bytes(&jr);
        return jr_ok(&jr) && pw.len == ZK_PASSWD_LEN ? 0 : ZE_MARSHALLINGERROR;
    }
    if (type == ZOP_CLOSESESSION)
        return 0;
    if (type == ZOP_SETCONFIG) { /* buffer text: server lines */
        struct jute_bytes text = jr_bytes(&jr);
        return jr_ok(&jr) && text.len >= 0 && text.len <= max_data_len - 64 && !jr_remaining(&jr)
                   ? 0 : ZE_MARSHALLINGERROR;
    }
    if (type == ZOP_RECONFIG) { /* ReconfigRequest{joining, leaving, newMembers, curConfigId} */
        for (int i = 0; i < 3; i++)
            (void)jr_bytes(&jr);
        (void)jr_long(&jr);
        return jr_ok(&jr) ? 0 : ZE_MARSHALLINGERROR;
    }
    return parse_write_record(type, &jr, max_data_len);
}

static bool is_client_write_op(int32_t type)
{
    switch (type) {
    case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
    case ZOP_DELETE: case ZOP_SETDATA: case ZOP_SETACL: case ZOP_MULTI:
    case ZOP_CREATESESSION: case ZOP_CLOSESESSION: case ZOP_RECONFIG: case ZOP_SETCONFIG:
        return true; /* deleteContainer is the leader's own (session 0) */
    default:
        return false;
    }
}

static bool ids_well_formed(const uint8_t *ids, uint32_t len)
{
    if (!ids || len == 0)
        return len == 0;
    struct jute_reader jr;
    jr_init(&jr, ids, len);
    int32_t n = jr_vector_count(&jr, 8);
    for (int32_t i = 0; i < n && jr_ok(&jr); i++) {
        (void)jr_bytes(&jr);
        (void)jr_bytes(&jr);
    }
    return jr_ok(&jr) && jr_remaining(&jr) == 0;
}

static int32_t validate_create_session(const struct store_txn *txn,
                                       const struct store_txn_limits *lim)
{
    if (!session_id_usable(txn->session_id))
        return ZE_BADARGUMENTS;
    struct jute_reader jr;
    jr_init(&jr, txn->body, txn->body_len);
    int32_t timeout = jr_int(&jr);
    struct jute_bytes pw = jr_bytes(&jr);
    if (!jr_ok(&jr) || pw.len != ZK_PASSWD_LEN || jr_remaining(&jr) != 0)
        return ZE_MARSHALLINGERROR;
    if (timeout < lim->min_session_timeout_ms || timeout > lim->max_session_timeout_ms)
        return ZE_BADARGUMENTS;
    return 0;
}

int32_t store_validate_txn(const struct store_txn *txn, const struct store_txn_limits *lim)
{
    if (!is_client_write_op(txn->type) || txn->session_id == 0)
        return ZE_BADARGUMENTS;
    if (!ids_well_formed(txn->auth, txn->auth_len) || (!txn->body && txn->body_len > 0))
        return ZE_MARSHALLINGERROR;
    if (txn->type == ZOP_CREATESESSION)
        return validate_create_session(txn, lim);
    return store_validate_write(txn->type, txn->body, txn->body_len, lim->max_data_len);
}
