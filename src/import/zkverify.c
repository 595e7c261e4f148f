/* The import's end-to-end check: a zabkeeper store loaded from what was written must serve, for
 * every node of the imported ZooKeeper tree, the data, Stat and ACL ZooKeeper served (Stat as
 * DataNode.copyStat builds it: cversion = 2 x creates - children, ephemeralOwner 0 for
 * containers and TTL nodes), hold nothing more, and hold every session with its timeout and the
 * password ZooKeeper derives for it. */
#include <string.h>

#include "import/zkimport_internal.h"
#include "proto/jute.h"
#include "proto/zkproto.h"
#include "store/store.h"

#define OWNER_TYPE_BITS 0xFF00000000000000ULL

_Static_assert(ZK_PASSWD_LEN == ZKF_PASSWD_LEN, "zabkeeper keeps ZooKeeper's password length");

static const char *node_path(const struct zt_node *n) { return n->path_len ? n->path : "/"; }

/* DataNode.copyStat */
static void expected_stat(const struct zt_node *n, struct zk_stat *s)
{
    bool session_owned = n->owner != INT64_MIN &&
                         ((uint64_t)n->owner & OWNER_TYPE_BITS) != OWNER_TYPE_BITS;
    s->czxid = n->czxid;
    s->mzxid = n->mzxid;
    s->ctime = n->ctime;
    s->mtime = n->mtime;
    s->version = n->version;
    s->cversion = (int32_t)((uint32_t)n->cversion * 2 - (uint32_t)n->num_children);
    s->aversion = n->aversion;
    s->ephemeral_owner = session_owned ? n->owner : 0;
    s->data_length = n->data_len > 0 ? n->data_len : 0;
    s->num_children = n->num_children;
    s->pzxid = n->pzxid;
}

static bool stat_equal(const struct zk_stat *a, const struct zk_stat *b)
{
    return a->czxid == b->czxid && a->mzxid == b->mzxid && a->ctime == b->ctime &&
           a->mtime == b->mtime && a->version == b->version && a->cversion == b->cversion &&
           a->aversion == b->aversion && a->ephemeral_owner == b->ephemeral_owner &&
           a->data_length == b->data_length && a->num_children == b->num_children &&
           a->pzxid == b->pzxid;
}

/* One read of n's path; the reply body is left in `reply`. */
static int read_path(struct store *st, int32_t op, const struct zt_node *n,
                     struct jute_writer *req, struct jute_writer *reply)
{
    jw_reset(req);
    jw_reset(reply);
    jw_bytes(req, node_path(n), (int32_t)(n->path_len ? n->path_len : 1));
    if (op == ZOP_GETDATA)
        jw_bool(req, false);
    if (req->err)
        return -1;
    int32_t err = store_read(st, op, req->data, req->len, 0, 0, reply);
    return err == 0 && !reply->err ? 0 : -1;
}

static int verify_data(struct zkimp *im, struct store *st, const struct zt_node *n,
                       struct jute_writer *req, struct jute_writer *reply)
{
    if (read_path(st, ZOP_GETDATA, n, req, reply))
        return zkimp_fail(im, "verify: zabkeeper does not serve node %s", node_path(n));
    struct jute_reader jr;
    jr_init(&jr, reply->data, reply->len);
    struct jute_bytes data = jr_bytes(&jr);
    struct zk_stat got, want;
    zk_stat_read(&jr, &got);
    expected_stat(n, &want);
    if (!jr_ok(&jr) || jr_remaining(&jr) != 0)
        return zkimp_fail(im, "verify: node %s: malformed getData reply", node_path(n));
    if (data.len != n->data_len || (data.len > 0 && memcmp(data.ptr, n->data, (size_t)data.len)))
        return zkimp_fail(im, "verify: node %s: data differs", node_path(n));
    if (!stat_equal(&got, &want))
        return zkimp_fail(im, "verify: node %s: Stat differs", node_path(n));
    return 0;
}

static int verify_acl(struct zkimp *im, struct store *st, const struct zt_node *n,
                      struct jute_writer *req, struct jute_writer *reply)
{
    if (read_path(st, ZOP_GETACL, n, req, reply))
        return zkimp_fail(im, "verify: zabkeeper does not serve the ACL of %s", node_path(n));
    struct zkin in;
    zkin_init(&in, reply->data, reply->len, INT32_MAX);
    struct zkbuf acl;
    zkin_acl_vector(&in, &acl);
    const struct zt_acl *want = zt_acl_of(&im->tree, n->acl);
    if (!zkin_ok(&in) || !want || acl.len != (int32_t)want->len ||
        memcmp(acl.ptr, want->bytes, want->len) != 0)
        return zkimp_fail(im, "verify: node %s: ACL differs", node_path(n));
    return 0;
}

static int verify_sessions(struct zkimp *im, struct store *st)
{
    if (store_session_count(st) != im->tree.sessions.count)
        return zkimp_fail(im, "verify: zabkeeper holds %zu sessions, %zu expected",
                          store_session_count(st), im->tree.sessions.count);
    size_t b = 0;
    const struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &im->tree.sessions) {
        const struct zt_session *s = CHAIN_ITEM(l, const struct zt_session, link);
        int32_t timeout;
        uint8_t got[ZK_PASSWD_LEN], want[ZKF_PASSWD_LEN];
        zkf_session_passwd(s->id, want);
        if (!store_session_get(st, s->id, &timeout, got) || timeout != s->timeout ||
            memcmp(got, want, sizeof want) != 0)
            return zkimp_fail(im, "verify: session 0x%llx differs", (unsigned long long)s->id);
    }
    return 0;
}

int zkverify_store(struct zkimp *im, struct store *st)
{
    struct jute_writer req, reply;
    jw_init(&req);
    jw_init(&reply);
    size_t count = 0;
    int rc = 0;
    for (const struct zt_node *n = im->tree.root; n && rc == 0; n = zt_next_preorder(n)) {
        rc = verify_data(im, st, n, &req, &reply);
        rc = rc ? rc : verify_acl(im, st, n, &req, &reply);
        count++;
    }
    jw_free(&req);
    jw_free(&reply);
    if (rc == 0 && count != store_node_count(st))
        rc = zkimp_fail(im, "verify: zabkeeper holds %zu nodes, %zu expected",
                        store_node_count(st), count);
    return rc ? rc : verify_sessions(im, st);
}
