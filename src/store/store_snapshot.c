/* Snapshots: the tree and the session table as a stream of length-prefixed msgpack records
 * (format in docs/storage-tree.md): a header, then every ACL, session and node. Writing streams
 * to a sink (a file, from a forked child); reading is incremental (store_loader), one record at
 * a time, so neither side ever holds a whole snapshot in memory. The loader builds the new state
 * aside and swaps it in only when the whole input validated, so malformed input leaves the store
 * unchanged. */
#include <msgpack.h>
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

#define SNAPSHOT_MAGIC "zabkeeper-store"
#define SNAPSHOT_VERSION 2
#define SNAP_HEADER_FIELDS 7
#define SINK_BATCH_BYTES (256u << 10)
#define SNAP_NODE_FIELDS 13
#define SNAP_SESSION_FIELDS 3

/* ---- writing ---- */

static int pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    return msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len);
}

static int pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
    return msgpack_pack_bin(pk, len) || msgpack_pack_bin_body(pk, p, len);
}

/* Records are [length: 4 bytes BE][one msgpack object], gathered in a buffer that goes to the
 * sink every SINK_BATCH_BYTES. */
struct rec_out {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    size_t rec_start;
    store_sink_fn sink;
    void *ctx;
    int rc;
};

static void rec_begin(struct rec_out *o)
{
    static const char placeholder[4];
    o->rec_start = o->sb.size;
    if (msgpack_sbuffer_write(&o->sb, placeholder, 4) != 0)
        o->rc = -1;
}

static void rec_end(struct rec_out *o, int pack_rc)
{
    if (pack_rc != 0 || o->rc != 0) {
        o->rc = -1;
        return;
    }
    be32_store((uint8_t *)o->sb.data + o->rec_start, (uint32_t)(o->sb.size - o->rec_start - 4));
    if (o->sb.size >= SINK_BATCH_BYTES) {
        o->rc = o->sink(o->ctx, o->sb.data, o->sb.size);
        o->sb.size = 0;
    }
}

static int rec_flush(struct rec_out *o)
{
    if (o->rc == 0 && o->sb.size)
        o->rc = o->sink(o->ctx, o->sb.data, o->sb.size);
    o->sb.size = 0;
    return o->rc;
}

static void pack_acls(const struct store *st, struct rec_out *o)
{
    uint32_t index = 0;
    size_t b = 0;
    struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &st->acls) {
        struct acl_list *a = CHAIN_ITEM(l, struct acl_list, link);
        a->snap_index = index++;
        rec_begin(o);
        rec_end(o, pack_bin(&o->pk, a->bytes, a->len));
    }
    ZK_ASSERT(index == st->acls.count);
}

static void pack_sessions(const struct store *st, struct rec_out *o)
{
    size_t b = 0;
    const struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &st->sessions) {
        const struct session *s = CHAIN_ITEM(l, const struct session, link);
        rec_begin(o);
        rec_end(o, msgpack_pack_array(&o->pk, SNAP_SESSION_FIELDS) ||
                       msgpack_pack_int64(&o->pk, s->id) ||
                       msgpack_pack_int32(&o->pk, s->timeout_ms) ||
                       pack_bin(&o->pk, s->passwd, ZK_PASSWD_LEN));
    }
}

static int pack_node(const struct znode *n, msgpack_packer *pk)
{
    int rc = msgpack_pack_array(pk, SNAP_NODE_FIELDS) || pack_str(pk, n->path, n->path_len);
    if (n->data_len < 0)
        rc = rc || msgpack_pack_nil(pk);
    else
        rc = rc || pack_bin(pk, n->data, (size_t)n->data_len);
    rc = rc || msgpack_pack_int64(pk, n->czxid) || msgpack_pack_int64(pk, n->mzxid) ||
         msgpack_pack_int64(pk, n->ctime) || msgpack_pack_int64(pk, n->mtime) ||
         msgpack_pack_int32(pk, n->version) || msgpack_pack_int32(pk, n->cversion) ||
         msgpack_pack_int32(pk, n->aversion) || msgpack_pack_int64(pk, n->ephemeral_owner) ||
         msgpack_pack_int64(pk, n->pzxid) || msgpack_pack_uint8(pk, n->kind) ||
         msgpack_pack_uint32(pk, n->acl->snap_index);
    return rc ? -1 : 0;
}

/* Pre-order walk (parents before children) without a stack. */
static void pack_nodes(const struct store *st, struct rec_out *o)
{
    size_t packed = 0;
    const struct znode *n = st->root;
    while (n && o->rc == 0) {
        rec_begin(o);
        rec_end(o, pack_node(n, &o->pk));
        packed++;
        if (n->first_child) {
            n = n->first_child;
            continue;
        }
        while (n && !n->next_sibling)
            n = n->parent;
        n = n ? n->next_sibling : NULL;
    }
    ZK_ASSERT(o->rc != 0 || packed == st->nodes.count);
}

int store_snapshot_write(const struct store *st, store_sink_fn sink, void *ctx)
{
    ZK_ASSERT(st && sink && !st->txn.active);
    struct rec_out o = {.sink = sink, .ctx = ctx};
    msgpack_sbuffer_init(&o.sb);
    msgpack_packer_init(&o.pk, &o.sb, msgpack_sbuffer_write);
    rec_begin(&o);
    rec_end(&o, msgpack_pack_array(&o.pk, SNAP_HEADER_FIELDS) ||
                    pack_str(&o.pk, SNAPSHOT_MAGIC, strlen(SNAPSHOT_MAGIC)) ||
                    msgpack_pack_int32(&o.pk, SNAPSHOT_VERSION) ||
                    msgpack_pack_int64(&o.pk, st->last_zxid) ||
                    msgpack_pack_uint64(&o.pk, st->acls.count) ||
                    msgpack_pack_uint64(&o.pk, st->sessions.count) ||
                    msgpack_pack_uint64(&o.pk, st->nodes.count) ||
                    msgpack_pack_uint64(&o.pk, st->digest));
    pack_acls(st, &o);
    pack_sessions(st, &o);
    pack_nodes(st, &o);
    int rc = rec_flush(&o);
    msgpack_sbuffer_destroy(&o.sb);
    return rc;
}

/* ---- reading ---- */

static bool get_i64(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    return false;
}

static bool get_i32(const msgpack_object *o, int32_t *out)
{
    int64_t v;
    if (!get_i64(o, &v) || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

static const msgpack_object *as_array(const msgpack_object *o, uint32_t min_size)
{
    return o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size >= min_size ? o->via.array.ptr
                                                                            : NULL;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Bytes of payload and element count announced by one msgpack header at p (hdr = header size).
 * Returns false for the reserved byte 0xc1. */
static bool msgpack_header(const uint8_t *p, size_t avail, size_t *hdr, uint64_t *payload,
                           uint64_t *elems)
{
    static const uint8_t fixed_len[] = {[0xca - 0xc0] = 4, [0xcb - 0xc0] = 8, [0xcc - 0xc0] = 1,
        [0xcd - 0xc0] = 2, [0xce - 0xc0] = 4, [0xcf - 0xc0] = 8, [0xd0 - 0xc0] = 1,
        [0xd1 - 0xc0] = 2, [0xd2 - 0xc0] = 4, [0xd3 - 0xc0] = 8, [0xd4 - 0xc0] = 2,
        [0xd5 - 0xc0] = 3, [0xd6 - 0xc0] = 5, [0xd7 - 0xc0] = 9, [0xd8 - 0xc0] = 17};
    uint8_t c = p[0];
    *hdr = 1, *payload = 0, *elems = 0;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return true;
    if (c <= 0x8f || (c >= 0x90 && c <= 0x9f)) {
        *elems = (uint64_t)(c & 0x0f) * (c <= 0x8f ? 2 : 1);
        return true;
    }
    if (c >= 0xa0 && c <= 0xbf) {
        *payload = c & 0x1f;
        return true;
    }
    if (c == 0xc1)
        return false;
    if (c >= 0xca && c <= 0xd8) {
        *payload = fixed_len[c - 0xc0];
        return true;
    }
    /* length-prefixed: bin/ext/str (payload) and array/map (elements) */
    size_t width = (c == 0xc4 || c == 0xc7 || c == 0xd9) ? 1
                   : (c == 0xc5 || c == 0xc8 || c == 0xda || c == 0xdc || c == 0xde) ? 2 : 4;
    if (avail < 1 + width)
        return false;
    uint64_t n = load_be(p + 1, width);
    *hdr = 1 + width;
    if (c >= 0xc7 && c <= 0xc9)
        *payload = n + 1; /* ext type byte */
    else if (c == 0xdc || c == 0xdd)
        *elems = n;
    else if (c == 0xde || c == 0xdf)
        *elems = 2 * n;
    else
        *payload = n;
    return true;
}

/* Walks the encoding once, checking every length against the bytes left, so a hostile count can
 * never make the msgpack unpacker allocate more than a small multiple of the input size. */
static bool msgpack_shape_ok(const uint8_t *p, size_t len)
{
    size_t pos = 0;
    uint64_t pending = 1;
    while (pending > 0) {
        if (pos >= len)
            return false;
        size_t hdr;
        uint64_t payload, elems;
        if (!msgpack_header(p + pos, len - pos, &hdr, &payload, &elems))
            return false;
        if (hdr > len - pos || payload > len - pos - hdr)
            return false;
        pos += hdr + (size_t)payload;
        if (elems > len - pos)
            return false; /* each element needs at least one byte */
        pending = pending - 1 + elems;
    }
    return pos == len;
}

/* The state being loaded, built aside from the live store. */
struct snap_load {
    struct store tmp;          /* only tree/ACL/session fields are used */
    struct acl_list **acls;    /* by snapshot index */
    uint32_t acl_count, acl_cap;
};

static bool acl_bytes_valid(const uint8_t *p, size_t len)
{
    struct jute_reader jr;
    jr_init(&jr, p, len);
    struct jute_bytes span = acl_skip_vector(&jr);
    return span.len >= 0 && jr_remaining(&jr) == 0 && len >= 4 && be32_load(p) > 0;
}

static int load_acl(struct snap_load *ld, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_BIN ||
        !acl_bytes_valid((const uint8_t *)o->via.bin.ptr, o->via.bin.size))
        return -1;
    if (ld->acl_count == ld->acl_cap) {
        uint32_t cap = ld->acl_cap ? ld->acl_cap * 2 : 64;
        struct acl_list **a = zk_realloc(ld->acls, cap * sizeof *a);
        if (!a)
            return -1;
        ld->acls = a;
        ld->acl_cap = cap;
    }
    struct acl_list *acl = acl_intern(&ld->tmp.acls, (const uint8_t *)o->via.bin.ptr,
                                      o->via.bin.size);
    if (!acl || acl->refcount != 1) /* a list appears once in a snapshot */
        return -1;
    ld->acls[ld->acl_count++] = acl;
    return 0;
}

static int load_session(struct snap_load *ld, const msgpack_object *o)
{
    const msgpack_object *f = as_array(o, SNAP_SESSION_FIELDS);
    int64_t id;
    int32_t timeout;
    if (!f || !get_i64(&f[0], &id) || !get_i32(&f[1], &timeout) ||
        f[2].type != MSGPACK_OBJECT_BIN || f[2].via.bin.size != ZK_PASSWD_LEN ||
        session_find(&ld->tmp, id))
        return -1;
    struct session *s = zk_calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->id = id;
    s->timeout_ms = timeout;
    memcpy(s->passwd, f[2].via.bin.ptr, ZK_PASSWD_LEN);
    session_link(&ld->tmp, s);
    chain_maybe_grow(&ld->tmp.sessions);
    return 0;
}

struct node_fields {
    int64_t czxid, mzxid, ctime, mtime, owner, pzxid;
    int32_t version, cversion, aversion, kind, acl_index;
};

static bool read_node_fields(const msgpack_object *f, struct node_fields *nf)
{
    return get_i64(&f[2], &nf->czxid) && get_i64(&f[3], &nf->mzxid) &&
           get_i64(&f[4], &nf->ctime) && get_i64(&f[5], &nf->mtime) &&
           get_i32(&f[6], &nf->version) && get_i32(&f[7], &nf->cversion) &&
           get_i32(&f[8], &nf->aversion) && get_i64(&f[9], &nf->owner) &&
           get_i64(&f[10], &nf->pzxid) && get_i32(&f[11], &nf->kind) &&
           get_i32(&f[12], &nf->acl_index);
}

/* Checks that place the node in the tree; returns its parent (NULL for the root) via *parent. */
static int locate_node(struct snap_load *ld, const char *path, size_t len,
                       const struct node_fields *nf, struct znode **parent)
{
    struct store *tmp = &ld->tmp;
    if (!path_is_valid(path, len) || node_lookup(tmp, path, len))
        return -1;
    if (nf->kind < ZK_KIND_PERSISTENT || nf->kind > ZK_KIND_TTL ||
        nf->kind != node_kind_from_owner(nf->owner) || nf->acl_index < 0 ||
        (uint32_t)nf->acl_index >= ld->acl_count)
        return -1;
    if (nf->kind == ZK_KIND_EPHEMERAL && !session_find(tmp, nf->owner))
        return -1;
    *parent = NULL;
    if (len == 1)
        return tmp->root ? -1 : 0;
    long slash = path_last_slash(path, len);
    *parent = slash == 0 ? tmp->root : node_lookup(tmp, path, (size_t)slash);
    if (!*parent || (*parent)->kind == ZK_KIND_EPHEMERAL)
        return -1;
    return 0;
}

static int load_node(struct snap_load *ld, const msgpack_object *o)
{
    const msgpack_object *f = as_array(o, SNAP_NODE_FIELDS);
    struct node_fields nf;
    if (!f || f[0].type != MSGPACK_OBJECT_STR || !read_node_fields(f, &nf))
        return -1;
    if (f[1].type != MSGPACK_OBJECT_NIL &&
        (f[1].type != MSGPACK_OBJECT_BIN || f[1].via.bin.size > INT32_MAX))
        return -1;
    const char *path = f[0].via.str.ptr;
    size_t len = f[0].via.str.size;
    struct znode *parent;
    if (locate_node(ld, path, len, &nf, &parent))
        return -1;
    bool null_data = f[1].type == MSGPACK_OBJECT_NIL;
    struct znode *n = node_alloc(path, len, null_data ? NULL : (const uint8_t *)f[1].via.bin.ptr,
                                 null_data ? -1 : (int32_t)f[1].via.bin.size);
    if (!n)
        return -1;
    n->czxid = nf.czxid, n->mzxid = nf.mzxid, n->ctime = nf.ctime, n->mtime = nf.mtime;
    n->version = nf.version, n->cversion = nf.cversion, n->aversion = nf.aversion;
    n->ephemeral_owner = nf.owner, n->pzxid = nf.pzxid, n->kind = (uint8_t)nf.kind;
    n->acl = ld->acls[nf.acl_index];
    n->acl->refcount++;
    node_attach(&ld->tmp, parent, n);
    if (!parent)
        ld->tmp.root = n;
    struct owner_list *owners = node_owner_list(&ld->tmp, n);
    if (owners) {
        owner_list_append(owners, n);
        if (n->kind == ZK_KIND_EPHEMERAL)
            ld->tmp.ephemeral_count++;
    }
    chain_maybe_grow(&ld->tmp.nodes);
    return 0;
}

/* Drop the references the loader held on the snapshot's ACL list. */
static void release_loader_acls(struct snap_load *ld)
{
    for (uint32_t i = 0; i < ld->acl_count; i++)
        acl_release(&ld->tmp.acls, ld->acls[i]);
    zk_free(ld->acls);
    ld->acls = NULL;
    ld->acl_count = 0;
}

static void swap_state(struct store *st, struct store *tmp)
{
    struct store old;
    memset(&old, 0, sizeof old);
    old.nodes = st->nodes, old.acls = st->acls, old.sessions = st->sessions;
    st->nodes = tmp->nodes, st->acls = tmp->acls, st->sessions = tmp->sessions;
    st->special = tmp->special, st->root = tmp->root, st->digest = tmp->digest;
    st->data_size = tmp->data_size, st->ephemeral_count = tmp->ephemeral_count;
    store_release_tree(&old);
}

/* ---- the incremental loader ---- */

enum load_phase { PH_HEADER, PH_ACLS, PH_SESSIONS, PH_NODES, PH_DONE };

struct store_loader {
    struct snap_load ld;
    enum load_phase phase;
    uint64_t want[3];   /* ACLs, sessions, nodes announced by the header */
    uint64_t got;       /* records of the current phase */
    int64_t last_zxid;
    uint64_t digest;
    uint8_t len_bytes[4];
    size_t len_have;    /* bytes of the current record's length prefix */
    uint8_t *rec;       /* the current record, when it spans fed pieces */
    size_t rec_need, rec_have, rec_cap;
    msgpack_unpacked unp;
    bool failed;
};

struct store_loader *store_loader_new(void)
{
    struct store_loader *l = zk_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    if (chain_init(&l->ld.tmp.nodes, 1024) || chain_init(&l->ld.tmp.acls, 64) ||
        chain_init(&l->ld.tmp.sessions, 64)) {
        store_release_tree(&l->ld.tmp);
        zk_free(l);
        return NULL;
    }
    msgpack_unpacked_init(&l->unp);
    return l;
}

void store_loader_free(struct store_loader *l)
{
    if (!l)
        return;
    release_loader_acls(&l->ld);
    store_release_tree(&l->ld.tmp);
    msgpack_unpacked_destroy(&l->unp);
    zk_free(l->rec);
    zk_free(l);
}

static int load_header(struct store_loader *l, const msgpack_object *o)
{
    const msgpack_object *f = as_array(o, SNAP_HEADER_FIELDS);
    int32_t version;
    if (!f || f[0].type != MSGPACK_OBJECT_STR || f[0].via.str.size != strlen(SNAPSHOT_MAGIC) ||
        memcmp(f[0].via.str.ptr, SNAPSHOT_MAGIC, f[0].via.str.size) != 0 ||
        !get_i32(&f[1], &version) || version != SNAPSHOT_VERSION ||
        !get_i64(&f[2], &l->last_zxid))
        return -1;
    for (int i = 0; i < 4; i++)
        if (f[3 + i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return -1;
    l->want[0] = f[3].via.u64, l->want[1] = f[4].via.u64, l->want[2] = f[5].via.u64;
    l->digest = f[6].via.u64;
    return l->want[2] == 0 ? -1 : 0; /* there is always a root */
}

/* Move past phases whose records are all in. */
static void advance_phase(struct store_loader *l)
{
    while (l->phase != PH_DONE && (l->phase == PH_HEADER ? l->got == 1
                                                         : l->got == l->want[l->phase - 1])) {
        l->phase++;
        l->got = 0;
    }
}

static int load_record(struct store_loader *l, const uint8_t *p, size_t len)
{
    size_t off = 0;
    if (l->phase == PH_DONE || !msgpack_shape_ok(p, len) ||
        msgpack_unpack_next(&l->unp, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len)
        return -1;
    const msgpack_object *o = &l->unp.data;
    int rc;
    switch (l->phase) {
    case PH_HEADER: rc = load_header(l, o); break;
    case PH_ACLS: rc = load_acl(&l->ld, o); break;
    case PH_SESSIONS: rc = load_session(&l->ld, o); break;
    default: rc = load_node(&l->ld, o); break;
    }
    if (rc)
        return -1;
    l->got++;
    advance_phase(l);
    return 0;
}

/* Take the next record's length prefix from the input; 0 when it is not complete yet. */
static size_t take_length(struct store_loader *l, const uint8_t *p, size_t len)
{
    size_t n = 4 - l->len_have < len ? 4 - l->len_have : len;
    memcpy(l->len_bytes + l->len_have, p, n);
    l->len_have += n;
    if (l->len_have == 4) {
        l->rec_need = be32_load(l->len_bytes);
        l->rec_have = 0;
    }
    return n;
}

int store_loader_feed(struct store_loader *l, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0 && !l->failed) {
        if (l->len_have < 4) {
            size_t n = take_length(l, p, len);
            p += n, len -= n;
            if (l->len_have == 4 && (l->rec_need == 0 || l->rec_need > STORE_SNAP_RECORD_MAX))
                l->failed = true;
            continue;
        }
        if (l->rec_have == 0 && len >= l->rec_need) { /* whole record in this piece */
            l->failed = load_record(l, p, l->rec_need) != 0;
            p += l->rec_need, len -= l->rec_need;
            l->len_have = 0;
            continue;
        }
        if (l->rec_cap < l->rec_need) {
            uint8_t *rec = zk_realloc(l->rec, l->rec_need);
            if (!rec) {
                l->failed = true;
                break;
            }
            l->rec = rec;
            l->rec_cap = l->rec_need;
        }
        size_t n = l->rec_need - l->rec_have < len ? l->rec_need - l->rec_have : len;
        memcpy(l->rec + l->rec_have, p, n);
        l->rec_have += n, p += n, len -= n;
        if (l->rec_have == l->rec_need) {
            l->failed = load_record(l, l->rec, l->rec_need) != 0;
            l->len_have = 0;
            l->rec_have = 0;
        }
    }
    return l->failed ? -1 : 0;
}

int store_loader_finish(struct store_loader *l, struct store *st)
{
    ZK_ASSERT(st && !st->txn.active);
    if (l->failed || l->phase != PH_DONE || l->len_have != 0 || !l->ld.tmp.root ||
        l->ld.tmp.digest != l->digest)
        return -1;
    /* Every ACL listed must be used (refcount > 1: the load's own + a node's). */
    for (uint32_t i = 0; i < l->ld.acl_count; i++)
        if (l->ld.acls[i]->refcount < 2)
            return -1;
    release_loader_acls(&l->ld);
    swap_state(st, &l->ld.tmp);
    memset(&l->ld.tmp, 0, sizeof l->ld.tmp);
    st->last_zxid = l->last_zxid;
    return 0;
}

int64_t store_loader_zxid(const struct store_loader *l) { return l->last_zxid; }

uint64_t store_loader_digest(const struct store_loader *l) { return l->ld.tmp.digest; }

int store_snapshot_read(struct store *st, const void *data, size_t len)
{
    struct store_loader *l = store_loader_new();
    if (!l)
        return -1;
    int rc = data && len ? store_loader_feed(l, data, len) : -1;
    if (rc == 0)
        rc = store_loader_finish(l, st);
    store_loader_free(l);
    return rc;
}
