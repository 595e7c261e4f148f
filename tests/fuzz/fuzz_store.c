/* The fuzz targets' small store and request-body generator (see fuzz_store.h). */
#include "fuzz_store.h"

#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "proto/zkproto.h"

#define DIGEST_ALICE "alice:Yg9V7m0Oz4eXvDbxjVw8n6zN9Uk=" /* any digest id: ids carry it as is */

static void on_notify(void *ctx, uint64_t watcher, int32_t type, const char *path,
                      const struct acl_list *acl)
{
    struct fzs *s = ctx;
    ZK_ASSERT(path != NULL); /* setWatches echoes a client's paths as given, as ZooKeeper */
    (void)strlen(path);      /* ... but NUL-terminated */
    (void)watcher;
    (void)type;
    (void)store_acl_allows_read(acl, s->reader_ids, s->reader_ids_len); /* as client_notify */
    s->notified++;
}

int32_t fzs_apply(struct fzs *s, const struct store_txn *txn)
{
    struct store_txn t = *txn;
    t.zxid = ++s->zxid;
    if (t.time_ms < s->time_ms) {
        t.time_ms = s->time_ms; /* the leader's clock, as logged: never behind */
    }
    s->time_ms = t.time_ms;
    if (t.body == NULL) {
        t.body_len = 0;
    }
    jw_reset(&s->reply);
    int32_t err = 0;
    ZK_ASSERT(store_apply(s->st, &t, &s->reply, &err) == 0);
    return err;
}

static int to_writer(void *ctx, const void *p, size_t len)
{
    jw_raw(ctx, p, len);
    return 0;
}

void fzs_snapshot(const struct store *st, struct jute_writer *out)
{
    ZK_ASSERT(store_snapshot_write(st, to_writer, out) == 0 && out->err == 0);
}

/* ---- jute pieces ---- */

static void acl_entry(struct jute_writer *b, int32_t perms, const char *scheme, const char *id)
{
    jw_int(b, perms);
    jw_string(b, scheme);
    jw_string(b, id);
}

static void acl_open(struct jute_writer *b)
{
    jw_int(b, 1);
    acl_entry(b, ZPERM_ALL, "world", "anyone");
}

static void base_apply(struct fzs *s, int64_t session, int32_t type, struct jute_writer *b)
{
    struct store_txn txn = {.time_ms = s->time_ms + 1, .session_id = session, .cxid = 1,
                            .type = type, .body = b->data, .body_len = (uint32_t)b->len};
    ZK_ASSERT(fzs_apply(s, &txn) == 0); /* the base tree must build */
    jw_reset(b);
}

static void base_session(struct fzs *s, struct jute_writer *b, int64_t id)
{
    static const uint8_t pw[ZK_PASSWD_LEN] = {1, 2, 3, 4};
    jw_int(b, 30000);
    jw_bytes(b, pw, ZK_PASSWD_LEN);
    base_apply(s, id, ZOP_CREATESESSION, b);
}

static void base_create(struct fzs *s, struct jute_writer *b, int64_t session, const char *path,
                        int32_t mode, int32_t op)
{
    jw_string(b, path);
    jw_bytes(b, "data", 4);
    if (strcmp(path, "/acl") == 0) {
        jw_int(b, 2);
        acl_entry(b, ZPERM_READ, "world", "anyone");
        acl_entry(b, ZPERM_ALL, "digest", DIGEST_ALICE);
    } else {
        acl_open(b);
    }
    jw_int(b, mode);
    if (op == ZOP_CREATETTL) {
        jw_long(b, 1000);
    }
    base_apply(s, session, op, b);
}

void fzs_init(struct fzs *s, bool extended, bool small_data)
{
    memset(s, 0, sizeof(*s));
    int32_t max = small_data ? 1024 : ZK_MAX_BUFFER_DEFAULT;
    struct store_options o = {.max_data_len = max, .extended_types = extended,
                              .notify = on_notify, .notify_ctx = s, .max_reply_len = max,
                              .max_multiread_reply_len = max};
    s->st = store_new(&o);
    ZK_ASSERT(s->st != NULL);
    s->zxid = 0x100000000LL;
    s->time_ms = 1000000;
    jw_init(&s->reply);
    struct jute_writer b;
    jw_init(&b);
    base_session(s, &b, FZS_LIVE);
    base_session(s, &b, FZS_LIVE2);
    base_session(s, &b, FZS_DEAD);
    base_create(s, &b, FZS_LIVE, "/a", ZCM_PERSISTENT, ZOP_CREATE);
    base_create(s, &b, FZS_LIVE, "/a/b", ZCM_PERSISTENT, ZOP_CREATE2);
    base_create(s, &b, FZS_LIVE, "/acl", ZCM_PERSISTENT, ZOP_CREATE);
    base_create(s, &b, FZS_LIVE, "/c", ZCM_CONTAINER, ZOP_CREATECONTAINER);
    base_create(s, &b, FZS_LIVE, "/c/x", ZCM_PERSISTENT, ZOP_CREATE);
    if (extended) {
        base_create(s, &b, FZS_LIVE, "/t", ZCM_PERSISTENT_WITH_TTL, ZOP_CREATETTL);
    }
    base_create(s, &b, FZS_LIVE, "/e", ZCM_EPHEMERAL, ZOP_CREATE);
    base_create(s, &b, FZS_DEAD, "/e2", ZCM_EPHEMERAL, ZOP_CREATE);
    base_create(s, &b, FZS_LIVE, "/s-", ZCM_PERSISTENT_SEQUENTIAL, ZOP_CREATE);
    base_apply(s, FZS_DEAD, ZOP_CLOSESESSION, &b);
    jw_free(&b);
}

void fzs_free(struct fzs *s)
{
    store_free(s->st);
    jw_free(&s->reply);
}

/* ---- choices ---- */

int64_t fzs_session(struct fz *in)
{
    static const int64_t ids[] = {FZS_LIVE, FZS_LIVE2, FZS_DEAD, 0, INT64_MIN, -1, FZS_LIVE};
    uint8_t k = fz_u8(in);
    return k < 240 ? ids[k % (sizeof(ids) / sizeof(ids[0]))] : (int64_t)fz_u64(in);
}

const uint8_t *fzs_identities(struct fz *in, uint32_t *len)
{
    enum { SETS = 5 };
    static struct jute_writer ids[SETS];
    static bool built;
    if (!built) {
        for (int i = 0; i < SETS; i++) {
            jw_init(&ids[i]);
            jw_int(&ids[i], i == 0 ? 1 : 2);
            jw_string(&ids[i], "ip");
            jw_string(&ids[i], "127.0.0.1");
        }
        jw_string(&ids[1], "digest");
        jw_string(&ids[1], DIGEST_ALICE);
        jw_string(&ids[2], "super");
        jw_string(&ids[2], "");
        jw_string(&ids[3], "ip");
        jw_string(&ids[3], "10.1.2.3");
        jw_string(&ids[4], STORE_ENFORCE_QUOTA_SCHEME); /* a member with enforceQuota */
        jw_string(&ids[4], STORE_ENFORCE_QUOTA_ID);
        built = true;
    }
    uint8_t k = fz_u8(in);
    if (k < 40) {
        *len = 0;
        return NULL;
    }
    if (k < 240) {
        *len = (uint32_t)ids[k % SETS].len;
        return ids[k % SETS].data;
    }
    size_t n;
    const uint8_t *raw = fz_bytes(in, fz_u8(in), &n);
    *len = (uint32_t)n;
    return n ? raw : NULL;
}

int32_t fzs_opcode(struct fz *in, bool writes_only)
{
    static const int32_t writes[] = {ZOP_CREATE, ZOP_CREATE2, ZOP_CREATECONTAINER, ZOP_CREATETTL,
                                     ZOP_DELETE, ZOP_SETDATA, ZOP_SETACL, ZOP_CHECK, ZOP_MULTI,
                                     ZOP_DELETECONTAINER, ZOP_CREATESESSION, ZOP_CLOSESESSION};
    static const int32_t reads[] = {ZOP_EXISTS, ZOP_GETDATA, ZOP_GETACL, ZOP_GETCHILDREN,
                                    ZOP_GETCHILDREN2, ZOP_CHECKWATCHES, ZOP_REMOVEWATCHES,
                                    ZOP_MULTIREAD, ZOP_SETWATCHES, ZOP_GETEPHEMERALS,
                                    ZOP_GETALLCHILDRENNUMBER, ZOP_SETWATCHES2, ZOP_ADDWATCH,
                                    ZOP_SYNC, ZOP_PING, ZOP_AUTH, ZOP_WHOAMI, ZOP_RECONFIG};
    uint8_t k = fz_u8(in);
    size_t nw = sizeof(writes) / sizeof(writes[0]), nr = sizeof(reads) / sizeof(reads[0]);
    if (k >= 250) {
        return (int32_t)fz_u32(in);
    }
    if (writes_only || k % 2 == 0) {
        return writes[(k / 2) % nw];
    }
    return reads[(k / 2) % nr];
}

/* ---- bodies ---- */

static void put_path(struct fz *in, struct jute_writer *b)
{
    static const char *const paths[] = {
        "/", "/a", "/a/b", "/a/b/c", "/acl", "/c", "/c/x", "/t", "/e", "/e2", "/s-",
        "/s-0000000000", "/new", "/new/kid", "/c/new", "/t/kid", "/e/kid", "/zookeeper",
        "/zookeeper/quota", "/zookeeper/config", "/a/", "//a", "/a/./b", "/a/../b", "", "a",
    };
    static const char *const quota_paths[] = { /* what zkCli setquota makes (store_quota.c) */
        "/zookeeper/quota/a", "/zookeeper/quota/a/zookeeper_stats",
        "/zookeeper/quota/a/zookeeper_limits", "/zookeeper/quota/a/b",
        "/zookeeper/quota/a/b/zookeeper_stats", "/zookeeper/quota/a/b/zookeeper_limits",
    };
    uint8_t k = fz_u8(in);
    if (k < 232) {
        jw_string(b, paths[k % (sizeof(paths) / sizeof(paths[0]))]);
        return;
    }
    if (k < 240) {
        jw_string(b, quota_paths[k % (sizeof(quota_paths) / sizeof(quota_paths[0]))]);
        return;
    }
    size_t n;
    const uint8_t *raw = fz_bytes(in, fz_u8(in), &n);
    jw_bytes(b, raw, k == 255 ? -1 : (int32_t)n); /* any bytes, NULs included, or null */
}

static void put_data(struct fz *in, struct jute_writer *b)
{
    static uint8_t big[FZS_DATA_MAX];
    uint8_t k = fz_u8(in);
    if (k < 30) {
        jw_bytes(b, NULL, -1);
    } else if (k >= 224 && k < 230) { /* a quota's stats or limits text */
        char text[64];
        int n = snprintf(text, sizeof text, "count=%d,bytes=%d", (int)(int8_t)fz_u8(in),
                         (int)(int16_t)fz_u16(in));
        jw_bytes(b, text, n);
    } else if (k < 230) {
        size_t n;
        const uint8_t *raw = fz_bytes(in, k % 32, &n);
        jw_bytes(b, raw, (int32_t)n);
    } else {
        size_t n = fz_u16(in) % sizeof(big); /* around the small store's 1024 limit */
        memset(big, k, n);
        jw_bytes(b, big, (int32_t)n);
    }
}

static void put_acl(struct fz *in, struct jute_writer *b)
{
    static const char *const schemes[] = {"world", "auth", "digest", "ip", "super", "sasl", ""};
    static const char *const ids[] = {"anyone", "", DIGEST_ALICE, "127.0.0.1", "10.0.0.0/8",
                                      "10.0.0.0/33", "nocolon", "::1", "1.2.3.4/0"};
    uint8_t k = fz_u8(in);
    if (k < 10) {
        jw_int(b, k < 5 ? -1 : 0); /* null or empty vector */
        return;
    }
    if (k < 40) {
        acl_open(b);
        return;
    }
    int32_t n = 1 + fz_u8(in) % 8;
    bool same = k >= 200; /* duplicates: the de-duplication's worst case */
    if (same) {
        n = 1 + fz_u8(in) % 64;
    }
    jw_int(b, n);
    uint8_t perm = fz_u8(in), sc = fz_u8(in), id = fz_u8(in);
    for (int32_t i = 0; i < n; i++) {
        if (!same && i > 0) {
            perm = fz_u8(in);
            sc = fz_u8(in);
            id = fz_u8(in);
        }
        jw_int(b, perm % 40); /* 31 is ALL; above it: invalid bits */
        jw_string(b, schemes[sc % (sizeof(schemes) / sizeof(schemes[0]))]);
        jw_string(b, ids[id % (sizeof(ids) / sizeof(ids[0]))]);
    }
}

static int32_t pick_version(struct fz *in)
{
    uint8_t k = fz_u8(in);
    return k < 100 ? -1 : k < 200 ? (int32_t)(k % 4) : (int32_t)fz_u32(in);
}

static int64_t pick_ttl(struct fz *in)
{
    static const int64_t ttls[] = {-1, 0, 1, 1000, 0xFFFFFFFFFFLL, 0x10000000000LL, INT64_MIN};
    uint8_t k = fz_u8(in);
    return k < 240 ? ttls[k % (sizeof(ttls) / sizeof(ttls[0]))] : (int64_t)fz_u64(in);
}

static void create_body(struct fz *in, int32_t type, struct jute_writer *b)
{
    put_path(in, b);
    put_data(in, b);
    put_acl(in, b);
    jw_int(b, (int32_t)(fz_u8(in) % 9) - 1); /* CreateMode -1..7: invalid at both ends */
    if (type == ZOP_CREATETTL) {
        jw_long(b, pick_ttl(in));
    }
}

static void multi_body(struct fz *in, bool reads, struct jute_writer *b)
{
    static const int32_t wops[] = {ZOP_CREATE, ZOP_CREATE2, ZOP_CREATECONTAINER, ZOP_CREATETTL,
                                   ZOP_DELETE, ZOP_SETDATA, ZOP_CHECK, ZOP_SETACL, ZOP_GETDATA};
    static const int32_t rops[] = {ZOP_GETCHILDREN, ZOP_GETDATA, ZOP_EXISTS};
    int n = fz_u8(in) % 6;
    for (int i = 0; i < n; i++) {
        int32_t t = reads ? rops[fz_u8(in) % 3] : wops[fz_u8(in) % 9];
        jw_int(b, t);
        jw_bool(b, false);
        jw_int(b, -1);
        fzs_body(in, t, b);
    }
    jw_int(b, -1);
    jw_bool(b, true);
    jw_int(b, -1);
}

static void watches_body(struct fz *in, int lists, struct jute_writer *b)
{
    jw_long(b, (int64_t)fz_u64(in) >> (fz_u8(in) % 64));
    for (int l = 0; l < lists; l++) {
        int n = fz_u8(in) % 4;
        jw_int(b, n);
        for (int i = 0; i < n; i++) {
            put_path(in, b);
        }
    }
}

static void session_body(struct fz *in, struct jute_writer *b)
{
    static const int32_t timeouts[] = {30000, 0, -1, 1, INT32_MAX};
    static const uint8_t pw[32] = {9};
    jw_int(b, timeouts[fz_u8(in) % 5]);
    jw_bytes(b, pw, fz_u8(in) < 230 ? ZK_PASSWD_LEN : fz_u8(in) % 32);
}

void fzs_body(struct fz *in, int32_t type, struct jute_writer *b)
{
    if (fz_u8(in) >= 245) { /* raw: whatever a client can send */
        size_t n;
        const uint8_t *raw = fz_bytes(in, fz_u16(in) % 512, &n);
        jw_raw(b, raw, n);
        return;
    }
    switch (type) {
    case ZOP_CREATE: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_CREATETTL:
        create_body(in, type, b);
        break;
    case ZOP_DELETE: case ZOP_CHECK: put_path(in, b); jw_int(b, pick_version(in)); break;
    case ZOP_SETDATA: put_path(in, b); put_data(in, b); jw_int(b, pick_version(in)); break;
    case ZOP_SETACL: put_path(in, b); put_acl(in, b); jw_int(b, pick_version(in)); break;
    case ZOP_MULTI: multi_body(in, false, b); break;
    case ZOP_MULTIREAD: multi_body(in, true, b); break;
    case ZOP_CREATESESSION: session_body(in, b); break;
    case ZOP_CLOSESESSION: break;
    case ZOP_EXISTS: case ZOP_GETDATA: case ZOP_GETCHILDREN: case ZOP_GETCHILDREN2:
        put_path(in, b);
        jw_bool(b, fz_u8(in) & 1);
        break;
    case ZOP_ADDWATCH: case ZOP_REMOVEWATCHES: case ZOP_CHECKWATCHES:
        put_path(in, b);
        jw_int(b, (int32_t)(fz_u8(in) % 6) - 1);
        break;
    case ZOP_SETWATCHES: watches_body(in, 3, b); break;
    case ZOP_SETWATCHES2: watches_body(in, 5, b); break;
    default: put_path(in, b); break; /* getACL, getAllChildrenNumber, getEphemerals, sync... */
    }
}
