/* Test-only helpers for the store's unit tests (tests/unit/test_store*.c): build jute request
 * bodies, apply txns with increasing zxids, read, and record watch notifications. Header-only
 * (static inline) so nothing of it is linked into the server. */
#ifndef ZK_STORE_TESTKIT_H
#define ZK_STORE_TESTKIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "proto/jute.h"
#include "proto/zkproto.h"
#include "store/store.h"
#include "store/store_internal.h"

#define TK_MAX_EVENTS 256

struct tk_event {
    uint64_t watcher;
    int32_t type;
    char path[128];
};

struct tk {
    struct store *st;
    int64_t zxid;
    int64_t time_ms;
    int32_t err;          /* reply err of the last apply/read */
    struct jute_writer reply;
    struct tk_event events[TK_MAX_EVENTS];
    int nevents;
    const uint8_t *auth; /* the identities stamped on every txn (jute vector<Id>), or NULL */
    uint32_t auth_len;
};

static inline void tk_notify(void *ctx, uint64_t watcher, int32_t type, const char *path,
                             const struct acl_list *acl)
{
    (void)acl;
    struct tk *t = ctx;
    ZK_ASSERT(t->nevents < TK_MAX_EVENTS);
    struct tk_event *e = &t->events[t->nevents++];
    e->watcher = watcher;
    e->type = type;
    snprintf(e->path, sizeof e->path, "%s", path);
}

/* A store with options o (its notifications come to t). */
static inline void tk_init_with(struct tk *t, struct store_options o)
{
    memset(t, 0, sizeof *t);
    o.notify = tk_notify;
    o.notify_ctx = t;
    t->st = store_new(&o);
    ZK_ASSERT(t->st != NULL);
    t->zxid = 0x100000000LL;
    t->time_ms = 1000;
    jw_init(&t->reply);
}

static inline void tk_init_opts(struct tk *t, bool extended)
{
    tk_init_with(t, (struct store_options){.max_data_len = ZK_MAX_BUFFER_DEFAULT,
                                           .extended_types = extended});
}

static inline void tk_init(struct tk *t) { tk_init_opts(t, true); }

static inline void tk_fini(struct tk *t)
{
    store_check_invariants(t->st);
    store_free(t->st);
    jw_free(&t->reply);
}

/* A Criterion suite whose every test starts with a fresh store `t` and session sid open. */
#define TK_SUITE_WITH_SESSION(suite, sid)                                                      \
    static struct tk t;                                                                        \
    static void tk_suite_setup(void)                                                           \
    {                                                                                          \
        tk_init(&t);                                                                           \
        tk_session(&t, sid);                                                                   \
    }                                                                                          \
    static void tk_suite_teardown(void) { tk_fini(&t); }                                       \
    TestSuite(suite, .init = tk_suite_setup, .fini = tk_suite_teardown)

/* multi bodies: each op's MultiHeader{type, done=false, err=-1}, then its request; the end. */
static inline void tk_multi_op(struct jute_writer *b, int32_t type)
{
    jw_int(b, type);
    jw_bool(b, false);
    jw_int(b, -1);
}

static inline void tk_multi_end(struct jute_writer *b)
{
    jw_int(b, -1);
    jw_bool(b, true);
    jw_int(b, -1);
}

/* A delete or check op: path and version. */
static inline void tk_multi_path_version(struct jute_writer *b, int32_t type, const char *path,
                                         int32_t version)
{
    tk_multi_op(b, type);
    jw_string(b, path);
    jw_int(b, version);
}

/* Apply a txn; returns store_apply's result, err in t->err, reply body in t->reply. */
static inline int tk_apply(struct tk *t, int64_t session, int32_t type, const struct jute_writer *body)
{
    struct store_txn txn = {++t->zxid, ++t->time_ms, session, 1, type,
                            body ? body->data : NULL, body ? (uint32_t)body->len : 0, t->auth,
                            t->auth_len};
    jw_reset(&t->reply);
    t->err = 12345;
    return store_apply(t->st, &txn, &t->reply, &t->err);
}

static inline void tk_session(struct tk *t, int64_t id)
{
    struct jute_writer b;
    jw_init(&b);
    jw_int(&b, 30000);
    uint8_t pw[ZK_PASSWD_LEN] = {1, 2, 3};
    jw_bytes(&b, pw, ZK_PASSWD_LEN);
    ZK_ASSERT(tk_apply(t, id, ZOP_CREATESESSION, &b) == 0 && t->err == 0);
    jw_free(&b);
}

static inline void tk_acl_open(struct jute_writer *b)
{
    jw_int(b, 1);
    jw_int(b, ZPERM_ALL);
    jw_string(b, "world");
    jw_string(b, "anyone");
}

/* Create body with OPEN_ACL_UNSAFE. data NULL means null buffer. */
static inline void tk_create_body(struct jute_writer *b, const char *path, const char *data,
                                  int32_t flags)
{
    jw_string(b, path);
    jw_bytes(b, data, data ? (int32_t)strlen(data) : -1);
    tk_acl_open(b);
    jw_int(b, flags);
}

static inline int32_t tk_create_op(struct tk *t, int64_t session, int32_t op, const char *path,
                                   const char *data, int32_t flags)
{
    struct jute_writer b;
    jw_init(&b);
    tk_create_body(&b, path, data, flags);
    if (op == ZOP_CREATETTL)
        jw_long(&b, 5000);
    ZK_ASSERT(tk_apply(t, session, op, &b) == 0);
    jw_free(&b);
    return t->err;
}

static inline int32_t tk_create(struct tk *t, int64_t session, const char *path, const char *data,
                                int32_t flags)
{
    return tk_create_op(t, session, ZOP_CREATE, path, data, flags);
}

static inline int32_t tk_delete(struct tk *t, int64_t session, const char *path, int32_t version)
{
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, path);
    jw_int(&b, version);
    ZK_ASSERT(tk_apply(t, session, ZOP_DELETE, &b) == 0);
    jw_free(&b);
    return t->err;
}

static inline int32_t tk_set(struct tk *t, int64_t session, const char *path, const char *data,
                             int32_t version)
{
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, path);
    jw_bytes(&b, data, data ? (int32_t)strlen(data) : -1);
    jw_int(&b, version);
    ZK_ASSERT(tk_apply(t, session, ZOP_SETDATA, &b) == 0);
    jw_free(&b);
    return t->err;
}

/* A read with a path (+ optional watch flag when with_watch). */
static inline int32_t tk_read(struct tk *t, int32_t type, const char *path, int with_watch,
                              uint64_t watcher)
{
    struct jute_writer b;
    jw_init(&b);
    jw_string(&b, path);
    if (with_watch >= 0)
        jw_bool(&b, with_watch != 0);
    jw_reset(&t->reply);
    t->err = store_read(t->st, type, b.data, b.len, 0, watcher, &t->reply);
    jw_free(&b);
    return t->err;
}

static inline struct zk_stat tk_stat(struct tk *t, const char *path)
{
    struct zk_stat s;
    memset(&s, 0, sizeof s);
    ZK_ASSERT(tk_read(t, ZOP_EXISTS, path, 0, 0) == 0);
    struct jute_reader jr;
    jr_init(&jr, t->reply.data, t->reply.len);
    zk_stat_read(&jr, &s);
    ZK_ASSERT(jr_ok(&jr));
    return s;
}

static inline int tk_count_events(const struct tk *t, uint64_t watcher, int32_t type,
                                  const char *path)
{
    int n = 0;
    for (int i = 0; i < t->nevents; i++)
        if (t->events[i].watcher == watcher && t->events[i].type == type &&
            strcmp(t->events[i].path, path) == 0)
            n++;
    return n;
}

#endif
