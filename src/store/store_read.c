/* store_read: the read-only and watch-management requests served from the local tree
 * (exists, getData, getChildren[2], getACL, getAllChildrenNumber, getEphemerals, multiRead,
 * addWatch, removeWatches, checkWatches, setWatches[2]), as ZooKeeper's FinalRequestProcessor. */
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

#define WATCHER_TYPE_CHILDREN 1
#define WATCHER_TYPE_DATA 2
#define WATCHER_TYPE_ANY 3

struct read_ctx {
    struct store *st;
    int64_t session_id;
    uint64_t watcher;
    struct jute_writer *out;
    size_t mark; /* where this reply starts in out */
    const uint8_t *ids; /* the caller's identities, or NULL for a trusted caller */
    uint32_t ids_len;
};

static int32_t check_read(const struct read_ctx *rc, const struct znode *n, int32_t perm)
{
    return rc->ids ? acl_check(n->acl, perm, rc->ids, rc->ids_len) : 0;
}

static size_t blen(struct jute_bytes b) { return b.len < 0 ? 0 : (size_t)b.len; }
static const char *bstr(struct jute_bytes b) { return b.len <= 0 ? "" : (const char *)b.ptr; }

/* ZooKeeper's DataTree keeps the root under "" as well as "/": reads of "" see the root. */
static struct znode *lookup_bytes(const struct store *st, struct jute_bytes path)
{
    if (blen(path) == 0)
        return st->root;
    return node_lookup(st, bstr(path), blen(path));
}

static int32_t add_watch(struct read_ctx *rc, struct jute_bytes path, enum watch_table_id table,
                         enum watch_mode mode)
{
    if (watch_add(&rc->st->watches, bstr(path), blen(path), rc->watcher, table, mode))
        return ZE_SYSTEMERROR; /* out of memory: reported, nothing registered */
    return 0;
}

static void write_children(struct jute_writer *out, const struct znode *n)
{
    jw_int(out, n->num_children);
    size_t prefix = n->path_len == 1 ? 1 : n->path_len + 1;
    int32_t written = 0;
    for (const struct znode *c = n->first_child; c; c = c->next_sibling, written++) {
        ZK_ASSERT(c->parent == n && c->path_len > prefix);
        jw_bytes(out, c->path + prefix, (int32_t)(c->path_len - prefix));
    }
    ZK_ASSERT(written == n->num_children);
}

static void write_data(struct jute_writer *out, const struct znode *n)
{
    jw_bytes(out, n->data, n->data_len > 0 ? n->data_len : n->data_len < 0 ? -1 : 0);
    write_node_stat(out, n);
}

/* exists / getData / getChildren / getChildren2: path + watch flag. */
static int32_t read_node(struct read_ctx *rc, int32_t type, struct jute_reader *jr)
{
    struct jute_bytes path = jr_bytes(jr);
    bool watch = jr_bool(jr);
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    if (type == ZOP_EXISTS && path_has_nul(bstr(path), blen(path)))
        return ZE_BADARGUMENTS;
    struct znode *n = lookup_bytes(rc->st, path);
    if (!n) {
        if (type == ZOP_EXISTS && watch) { /* becomes the NodeCreated watch */
            int32_t err = add_watch(rc, path, WATCH_DATA, WATCH_STANDARD);
            if (err)
                return err;
        }
        return ZE_NONODE;
    }
    /* exists is not ACL-checked in ZooKeeper: a Stat is not the data. */
    int32_t denied = type == ZOP_EXISTS ? 0 : check_read(rc, n, ZPERM_READ);
    if (denied)
        return denied;
    switch (type) {
    case ZOP_EXISTS: write_node_stat(rc->out, n); break;
    case ZOP_GETDATA: write_data(rc->out, n); break;
    case ZOP_GETCHILDREN: write_children(rc->out, n); break;
    case ZOP_GETCHILDREN2:
        write_children(rc->out, n);
        write_node_stat(rc->out, n);
        break;
    default: ZK_UNREACHABLE();
    }
    if (rc->out->err)
        return ZE_SYSTEMERROR; /* reply could not be built: register nothing */
    if (watch) {
        enum watch_table_id table =
            (type == ZOP_GETCHILDREN || type == ZOP_GETCHILDREN2) ? WATCH_CHILD : WATCH_DATA;
        return add_watch(rc, path, table, WATCH_STANDARD);
    }
    return 0;
}

/* A request that is just a path: parse it, find the node, check the caller may `perm` it. */
static int32_t read_path_node(struct read_ctx *rc, struct jute_reader *jr, int32_t perm,
                              struct znode **out)
{
    struct jute_bytes path = jr_bytes(jr);
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    struct znode *n = lookup_bytes(rc->st, path);
    if (!n)
        return ZE_NONODE;
    ZK_ASSERT(n->acl != NULL);
    if (check_read(rc, n, perm))
        return ZE_NOAUTH;
    *out = n;
    return 0;
}

static int32_t read_acl(struct read_ctx *rc, struct jute_reader *jr)
{
    struct znode *n;
    int32_t err = read_path_node(rc, jr, ZPERM_READ | ZPERM_ADMIN, &n);
    if (err)
        return err;
    if (check_read(rc, n, ZPERM_ADMIN))
        acl_write_masked(rc->out, n->acl);
    else
        jw_raw(rc->out, n->acl->bytes, n->acl->len);
    write_node_stat(rc->out, n);
    return 0;
}

/* Descendants of top. */
static int32_t count_descendants(const struct znode *top)
{
    int32_t count = 0;
    for (const struct znode *n = node_next_preorder(top, top); n; n = node_next_preorder(top, n))
        count++;
    return count;
}

static int32_t read_all_children_number(struct read_ctx *rc, struct jute_reader *jr)
{
    struct znode *n;
    int32_t err = read_path_node(rc, jr, ZPERM_READ, &n);
    if (err)
        return err;
    int32_t total = n == rc->st->root ? (int32_t)(rc->st->nodes.count - 1) : count_descendants(n);
    jw_int(rc->out, total);
    return 0;
}

static int32_t read_ephemerals(struct read_ctx *rc, struct jute_reader *jr)
{
    struct jute_bytes prefix = jr_bytes(jr);
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    size_t plen = blen(prefix);
    bool all = plen == 0 || (plen == 1 && prefix.ptr[0] == '/');
    size_t count_at = rc->out->len;
    jw_int(rc->out, 0);
    int32_t count = 0;
    struct session *s = session_find(rc->st, rc->session_id);
    for (struct znode *n = s ? s->ephemerals.head : NULL; n; n = n->owner_next) {
        if (!all && (n->path_len < plen || memcmp(n->path, prefix.ptr, plen) != 0))
            continue;
        jw_bytes(rc->out, n->path, (int32_t)n->path_len);
        count++;
    }
    jw_put_int_at(rc->out, count_at, count);
    return 0;
}

static int32_t read_add_watch(struct read_ctx *rc, struct jute_reader *jr)
{
    struct jute_bytes path = jr_bytes(jr);
    int32_t mode = jr_int(jr);
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    if (mode != 0 && mode != 1)
        return ZE_BADARGUMENTS;
    enum watch_mode wm = mode == 0 ? WATCH_PERSISTENT : WATCH_RECURSIVE;
    jw_int(rc->out, 0); /* ErrorResponse{err = 0}, built before anything is registered */
    if (rc->out->err)
        return ZE_SYSTEMERROR;
    int32_t err = add_watch(rc, path, WATCH_DATA, wm);
    if (!err && (err = add_watch(rc, path, WATCH_CHILD, wm)))
        (void)watch_remove(&rc->st->watches, bstr(path), blen(path), rc->watcher, WATCH_DATA);
    return err;
}

/* removeWatches (remove = true) and checkWatches. */
static int32_t read_watch_check(struct read_ctx *rc, struct jute_reader *jr, bool remove)
{
    struct jute_bytes path = jr_bytes(jr);
    int32_t type = jr_int(jr);
    if (!jr_ok(jr))
        return ZE_MARSHALLINGERROR;
    if (type < WATCHER_TYPE_CHILDREN || type > WATCHER_TYPE_ANY)
        return ZE_BADARGUMENTS;
    bool found = false;
    for (int table = WATCH_DATA; table <= WATCH_CHILD; table++) {
        bool wanted = type == WATCHER_TYPE_ANY ||
                      (type == WATCHER_TYPE_DATA) == (table == WATCH_DATA);
        if (!wanted)
            continue;
        if (remove)
            found |= watch_remove(&rc->st->watches, bstr(path), blen(path), rc->watcher,
                                  (enum watch_table_id)table);
        else
            found |= watch_contains(&rc->st->watches, bstr(path), blen(path), rc->watcher,
                                    (enum watch_table_id)table);
    }
    return found ? 0 : ZE_NOWATCHER;
}

static bool reply_too_big(const struct read_ctx *rc, int32_t type)
{
    const struct store_options *o = &rc->st->opts;
    int32_t max = type == ZOP_MULTIREAD ? o->max_multiread_reply_len : o->max_reply_len;
    return max > 0 && rc->out->len - rc->mark > (size_t)max;
}

static int32_t store_read_multi(struct read_ctx *rc, struct jute_reader *jr);
static int32_t store_read_set_watches(struct read_ctx *rc, struct jute_reader *jr, bool v2);

int32_t store_read(struct store *st, int32_t type, const uint8_t *body, size_t body_len,
                   int64_t session_id, uint64_t watcher, struct jute_writer *reply_body)
{
    return store_read_as(st, type, body, body_len, session_id, watcher, NULL, 0, reply_body);
}

int32_t store_read_as(struct store *st, int32_t type, const uint8_t *body, size_t body_len,
                      int64_t session_id, uint64_t watcher, const uint8_t *ids, uint32_t ids_len,
                      struct jute_writer *reply_body)
{
    ZK_ASSERT(st != NULL);
    if (!body && body_len > 0)
        return ZE_MARSHALLINGERROR;
    struct jute_writer local;
    jw_init(&local);
    struct read_ctx rc = {st, session_id, watcher, reply_body ? reply_body : &local, 0, ids,
                          ids_len};
    size_t mark = rc.out->len;
    rc.mark = mark;
    struct jute_reader jr;
    jr_init(&jr, body, body_len);
    int32_t err;
    switch (type) {
    case ZOP_EXISTS: case ZOP_GETDATA: case ZOP_GETCHILDREN: case ZOP_GETCHILDREN2:
        err = read_node(&rc, type, &jr);
        break;
    case ZOP_GETACL: err = read_acl(&rc, &jr); break;
    case ZOP_GETALLCHILDRENNUMBER: err = read_all_children_number(&rc, &jr); break;
    case ZOP_GETEPHEMERALS: err = read_ephemerals(&rc, &jr); break;
    case ZOP_MULTIREAD: err = store_read_multi(&rc, &jr); break;
    case ZOP_ADDWATCH: err = read_add_watch(&rc, &jr); break;
    case ZOP_REMOVEWATCHES: err = read_watch_check(&rc, &jr, true); break;
    case ZOP_CHECKWATCHES: err = read_watch_check(&rc, &jr, false); break;
    case ZOP_SETWATCHES: err = store_read_set_watches(&rc, &jr, false); break;
    case ZOP_SETWATCHES2: err = store_read_set_watches(&rc, &jr, true); break;
    default: err = ZE_UNIMPLEMENTED;
    }
    if (err == 0 && rc.out->err)
        err = ZE_SYSTEMERROR;
    if (err == 0 && reply_too_big(&rc, type))
        err = ZE_MARSHALLINGERROR;
    if (err != 0 && rc.out->data)
        rc.out->len = mark;
    jw_free(&local);
    return err;
}

/* ---- multiRead ---- */

static int32_t multi_read_validate(struct jute_reader probe)
{
    for (;;) {
        int32_t type = jr_int(&probe);
        bool done = jr_bool(&probe);
        (void)jr_int(&probe);
        if (!jr_ok(&probe))
            return ZE_MARSHALLINGERROR;
        if (done)
            return 0;
        if (type != ZOP_GETCHILDREN && type != ZOP_GETDATA)
            return ZE_MARSHALLINGERROR;
        (void)jr_bytes(&probe);
        (void)jr_bool(&probe);
    }
}

static int32_t store_read_multi(struct read_ctx *rc, struct jute_reader *jr)
{
    int32_t err = multi_read_validate(*jr);
    if (err)
        return err;
    for (;;) {
        int32_t type = jr_int(jr);
        bool done = jr_bool(jr);
        (void)jr_int(jr);
        if (done)
            break;
        struct jute_bytes path = jr_bytes(jr);
        (void)jr_bool(jr); /* watch flag ignored in multiRead */
        ZK_ASSERT(jr_ok(jr));
        struct znode *n = lookup_bytes(rc->st, path);
        int32_t sub_err = !n ? ZE_NONODE : check_read(rc, n, ZPERM_READ);
        if (sub_err) {
            jw_int(rc->out, -1);
            jw_bool(rc->out, false);
            jw_int(rc->out, sub_err);
            jw_int(rc->out, sub_err);
            continue;
        }
        jw_int(rc->out, type);
        jw_bool(rc->out, false);
        jw_int(rc->out, 0);
        if (type == ZOP_GETCHILDREN)
            write_children(rc->out, n);
        else
            write_data(rc->out, n);
        if (reply_too_big(rc, ZOP_MULTIREAD))
            return ZE_MARSHALLINGERROR; /* stop before the next sub-read adds more */
    }
    jw_int(rc->out, -1);
    jw_bool(rc->out, true);
    jw_int(rc->out, -1);
    return 0;
}

/* ---- setWatches / setWatches2 ---- */

static void notify_now(struct read_ctx *rc, int32_t event, struct jute_bytes path,
                       const struct znode *n)
{
    if (!rc->st->opts.notify)
        return;
    char stack_buf[256];
    size_t len = blen(path);
    char *buf = len < sizeof stack_buf ? stack_buf : zk_malloc(len + 1);
    if (!buf)
        return; /* out of memory: the event is lost, as a dropped connection would lose it */
    memcpy(buf, bstr(path), len);
    buf[len] = '\0';
    rc->st->opts.notify(rc->st->opts.notify_ctx, rc->watcher, event, buf, n ? n->acl : NULL);
    if (buf != stack_buf)
        zk_free(buf);
}

/* kind: 0 data, 1 exist, 2 child, 3 persistent, 4 persistent recursive. */
static int32_t restore_watch(struct read_ctx *rc, int kind, struct jute_bytes path, int64_t rel)
{
    const struct znode *n = lookup_bytes(rc->st, path);
    switch (kind) {
    case 0:
        if (!n)
            notify_now(rc, ZEV_DELETED, path, n);
        else if (n->mzxid > rel)
            notify_now(rc, ZEV_DATA_CHANGED, path, n);
        else
            return add_watch(rc, path, WATCH_DATA, WATCH_STANDARD);
        return 0;
    case 1:
        if (n)
            notify_now(rc, ZEV_CREATED, path, n);
        else
            return add_watch(rc, path, WATCH_DATA, WATCH_STANDARD);
        return 0;
    case 2:
        if (!n)
            notify_now(rc, ZEV_DELETED, path, n);
        else if (n->pzxid > rel)
            notify_now(rc, ZEV_CHILDREN_CHANGED, path, n);
        else
            return add_watch(rc, path, WATCH_CHILD, WATCH_STANDARD);
        return 0;
    default: {
        enum watch_mode mode = kind == 3 ? WATCH_PERSISTENT : WATCH_RECURSIVE;
        int32_t err = add_watch(rc, path, WATCH_DATA, mode);
        return err ? err : add_watch(rc, path, WATCH_CHILD, mode);
    }
    }
}

static int32_t skip_string_vector(struct jute_reader *jr)
{
    int32_t count = jr_vector_count(jr, 4);
    for (int32_t i = 0; i < count && jr_ok(jr); i++)
        (void)jr_bytes(jr);
    return jr_ok(jr) ? 0 : ZE_MARSHALLINGERROR;
}

static int32_t store_read_set_watches(struct read_ctx *rc, struct jute_reader *jr, bool v2)
{
    int kinds = v2 ? 5 : 3;
    struct jute_reader probe = *jr;
    (void)jr_long(&probe);
    for (int k = 0; k < kinds; k++)
        if (skip_string_vector(&probe))
            return ZE_MARSHALLINGERROR;
    int64_t rel = jr_long(jr);
    for (int k = 0; k < kinds; k++) {
        int32_t count = jr_vector_count(jr, 4);
        for (int32_t i = 0; i < count; i++) {
            struct jute_bytes path = jr_bytes(jr);
            ZK_ASSERT(jr_ok(jr));
            int32_t err = restore_watch(rc, k, path, rel);
            if (err)
                return err;
        }
    }
    return 0;
}
