/* Snapshots: the tree and the session table as a stream of length-prefixed msgpack records
 * (format in docs/storage.md): a header, then every ACL, session and node. The record encoders
 * here are the one implementation of the format (store_snapshot_write and --import-zookeeper
 * both use them). Writing streams to a sink (a file, from a forked child); reading is
 * incremental (store_loader), one record at a time, so neither side ever holds a whole snapshot
 * in memory. The loader builds the new state
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

/* ---- writing: the record encoders (store.h), the only code that writes the format ---- */

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
struct store_snap_writer {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    size_t rec_start;
    store_sink_fn sink;
    void *ctx;
    int rc; /* the first failure, kept: a sink's own code is what the caller gets back */
};

struct store_snap_writer *store_snap_writer_new(store_sink_fn sink, void *ctx)
{
    ZK_ASSERT(sink);
    struct store_snap_writer *w = zk_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
    w->sink = sink;
    w->ctx = ctx;
    return w;
}

/* Start a record (its length is filled in by rec_end); false once the writer has failed. */
static bool rec_begin(struct store_snap_writer *w)
{
    static const char placeholder[4];
    if (w->rc != 0)
        return false;
    w->rec_start = w->sb.size;
    if (msgpack_sbuffer_write(&w->sb, placeholder, 4) != 0)
        w->rc = -1;
    return w->rc == 0;
}

static int rec_end(struct store_snap_writer *w, int pack_rc)
{
    if (pack_rc != 0) {
        w->rc = -1;
        return w->rc;
    }
    be32_store((uint8_t *)w->sb.data + w->rec_start, (uint32_t)(w->sb.size - w->rec_start - 4));
    if (w->sb.size >= SINK_BATCH_BYTES) {
        w->rc = w->sink(w->ctx, w->sb.data, w->sb.size);
        w->sb.size = 0;
    }
    return w->rc;
}

int store_snap_writer_end(struct store_snap_writer *w)
{
    if (w->rc == 0 && w->sb.size)
        w->rc = w->sink(w->ctx, w->sb.data, w->sb.size);
    int rc = w->rc;
    msgpack_sbuffer_destroy(&w->sb);
    zk_free(w);
    return rc;
}

int store_snap_encode_header(struct store_snap_writer *w, const struct store_snap_header *h)
{
    if (!rec_begin(w))
        return w->rc;
    msgpack_packer *pk = &w->pk;
    return rec_end(w, msgpack_pack_array(pk, SNAP_HEADER_FIELDS) ||
                          pack_str(pk, SNAPSHOT_MAGIC, strlen(SNAPSHOT_MAGIC)) ||
                          msgpack_pack_int32(pk, SNAPSHOT_VERSION) ||
                          msgpack_pack_int64(pk, h->zxid) || msgpack_pack_uint64(pk, h->acls) ||
                          msgpack_pack_uint64(pk, h->sessions) ||
                          msgpack_pack_uint64(pk, h->nodes) || msgpack_pack_uint64(pk, h->digest));
}

int store_snap_encode_acl(struct store_snap_writer *w, const uint8_t *acl, size_t len)
{
    return rec_begin(w) ? rec_end(w, pack_bin(&w->pk, acl, len)) : w->rc;
}

int store_snap_encode_session(struct store_snap_writer *w, int64_t id, int32_t timeout_ms,
                              const uint8_t passwd[ZK_PASSWD_LEN])
{
    if (!rec_begin(w))
        return w->rc;
    return rec_end(w, msgpack_pack_array(&w->pk, SNAP_SESSION_FIELDS) ||
                          msgpack_pack_int64(&w->pk, id) ||
                          msgpack_pack_int32(&w->pk, timeout_ms) ||
                          pack_bin(&w->pk, passwd, ZK_PASSWD_LEN));
}

int store_snap_encode_node(struct store_snap_writer *w, const struct store_snap_node *n)
{
    if (!rec_begin(w))
        return w->rc;
    msgpack_packer *pk = &w->pk;
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
         msgpack_pack_uint32(pk, n->acl_index);
    return rec_end(w, rc);
}

/* ---- writing a store ---- */

static int write_acls(const struct store *st, struct store_snap_writer *w)
{
    uint32_t index = 0;
    size_t b = 0;
    int rc = 0;
    struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &st->acls) {
        struct acl_list *a = CHAIN_ITEM(l, struct acl_list, link);
        a->snap_index = index++; /* what the nodes' records refer to */
        rc = rc ? rc : store_snap_encode_acl(w, a->bytes, a->len);
    }
    ZK_ASSERT(index == st->acls.count);
    return rc;
}

static int write_sessions(const struct store *st, struct store_snap_writer *w)
{
    size_t b = 0;
    int rc = 0;
    const struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &st->sessions) {
        const struct session *s = CHAIN_ITEM(l, const struct session, link);
        rc = rc ? rc : store_snap_encode_session(w, s->id, s->timeout_ms, s->passwd);
    }
    return rc;
}

static int write_node(struct store_snap_writer *w, const struct znode *n)
{
    struct store_snap_node r = {
        .path = n->path, .path_len = n->path_len, .data = n->data, .data_len = n->data_len,
        .czxid = n->czxid, .mzxid = n->mzxid, .ctime = n->ctime, .mtime = n->mtime,
        .pzxid = n->pzxid, .version = n->version, .cversion = n->cversion,
        .aversion = n->aversion, .ephemeral_owner = n->ephemeral_owner, .kind = n->kind,
        .acl_index = n->acl->snap_index};
    return store_snap_encode_node(w, &r);
}

/* Parents before children, as loading needs them. */
static int write_nodes(const struct store *st, struct store_snap_writer *w)
{
    size_t written = 0;
    int rc = 0;
    for (const struct znode *n = st->root; n && (rc = write_node(w, n)) == 0;
         n = node_next_preorder(st->root, n))
        written++;
    ZK_ASSERT(rc != 0 || written == st->nodes.count);
    return rc;
}

int store_snapshot_write(const struct store *st, store_sink_fn sink, void *ctx)
{
    ZK_ASSERT(st && sink && !st->txn.active);
    struct store_snap_writer *w = store_snap_writer_new(sink, ctx);
    if (!w)
        return -1;
    struct store_snap_header h = {st->last_zxid, st->acls.count, st->sessions.count,
                                  st->nodes.count, st->digest};
    int rc = store_snap_encode_header(w, &h);
    rc = rc ? rc : write_acls(st, w);
    rc = rc ? rc : write_sessions(st, w);
    rc = rc ? rc : write_nodes(st, w);
    int end = store_snap_writer_end(w); /* frees w, and is rc when rc is not 0 */
    return rc ? rc : end;
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
