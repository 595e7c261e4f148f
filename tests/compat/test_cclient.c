/* Compatibility tests with the official C client (libzookeeper-mt 3.8), sync and async API,
 * against a running server whose address is in $ZK_CONNECT (ctest starts it with serverctl,
 * ZK_TICK_TIME=500 so session timeouts down to 1 s are accepted).
 * Every test works under its own top-level path. All waits are bounded. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#define WAIT_MS 15000

static const char *connect_string(void) {
    const char *s = getenv("ZK_CONNECT");
    return s ? s : "127.0.0.1:21899";
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ------------------------------------------------------------------ event recorder */

#define MAXEV 64
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int n;
    int type[MAXEV], state[MAXEV];
    char path[MAXEV][256];
} evq_t;

static void evq_init(evq_t *q) {
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->m, NULL);
    pthread_cond_init(&q->c, NULL);
}

static void evq_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh;
    evq_t *q = ctx;
    pthread_mutex_lock(&q->m);
    if (q->n < MAXEV) {
        q->type[q->n] = type;
        q->state[q->n] = state;
        snprintf(q->path[q->n], sizeof q->path[0], "%s", path ? path : "");
        q->n++;
    }
    pthread_cond_broadcast(&q->c);
    pthread_mutex_unlock(&q->m);
}

static int evq_count(evq_t *q) {
    pthread_mutex_lock(&q->m);
    int n = q->n;
    pthread_mutex_unlock(&q->m);
    return n;
}

/* wait until at least n events were recorded; returns 1 on success */
static int evq_wait(evq_t *q, int n, int ms) {
    struct timespec ts;
    deadline_in(&ts, ms);
    pthread_mutex_lock(&q->m);
    int rc = 0;
    while (q->n < n && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&q->c, &q->m, &ts);
    int ok = q->n >= n;
    pthread_mutex_unlock(&q->m);
    return ok;
}

/* wait until a session event with the given state was recorded */
static int evq_wait_state(evq_t *q, int state, int ms) {
    struct timespec ts;
    deadline_in(&ts, ms);
    pthread_mutex_lock(&q->m);
    int found = 0, rc = 0;
    for (;;) {
        for (int i = 0; i < q->n; i++)
            if (q->type[i] == ZOO_SESSION_EVENT && q->state[i] == state) found = 1;
        if (found || rc == ETIMEDOUT) break;
        rc = pthread_cond_timedwait(&q->c, &q->m, &ts);
    }
    pthread_mutex_unlock(&q->m);
    return found;
}

/* ------------------------------------------------------------------ connections */

typedef struct {
    zhandle_t *zh;
    evq_t session; /* session events of the default watcher */
} conn_t;

static conn_t *zconnect_with(int timeout_ms, const clientid_t *cid, int expect_connected) {
    conn_t *c = calloc(1, sizeof *c);
    evq_init(&c->session);
    c->zh = zookeeper_init(connect_string(), evq_watcher, timeout_ms, cid, &c->session, 0);
    cr_assert_not_null(c->zh, "zookeeper_init failed");
    if (expect_connected)
        cr_assert(evq_wait_state(&c->session, ZOO_CONNECTED_STATE, WAIT_MS),
                  "no CONNECTED session event within %d ms (server %s)", WAIT_MS,
                  connect_string());
    return c;
}

static conn_t *zconnect(void) { return zconnect_with(10000, NULL, 1); }

static void zclose(conn_t *c) {
    if (c->zh) zookeeper_close(c->zh);
    c->zh = NULL;
}

static void suite_init(void) { zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR); }

TestSuite(compat_c, .init = suite_init, .timeout = 60);

/* ------------------------------------------------------------------ basic ops */

Test(compat_c, basic_ops_and_stat) {
    conn_t *c = zconnect();
    zhandle_t *zh = c->zh;
    char buf[512];
    struct Stat st, st2, pst;
    int len;

    cr_assert_eq(zoo_create2(zh, "/cb", "hello", 5, &ZOO_OPEN_ACL_UNSAFE, 0, buf, sizeof buf, &st),
                 ZOK);
    cr_assert_str_eq(buf, "/cb");
    cr_assert_eq(st.version, 0);
    cr_assert_eq(st.cversion, 0);
    cr_assert_eq(st.aversion, 0);
    cr_assert_eq(st.dataLength, 5);
    cr_assert_eq(st.numChildren, 0);
    cr_assert_eq(st.ephemeralOwner, 0);
    cr_assert(st.czxid > 0 && st.czxid == st.mzxid && st.czxid == st.pzxid);
    cr_assert_eq(st.ctime, st.mtime);

    len = sizeof buf;
    cr_assert_eq(zoo_get(zh, "/cb", 0, buf, &len, &st2), ZOK);
    cr_assert_eq(len, 5);
    cr_assert(memcmp(buf, "hello", 5) == 0);
    cr_assert_eq(st2.czxid, st.czxid);

    cr_assert_eq(zoo_set2(zh, "/cb", "bye", 3, 0, &st2), ZOK);
    cr_assert_eq(st2.version, 1);
    cr_assert(st2.mzxid > st.mzxid);
    cr_assert_eq(st2.pzxid, st.pzxid);
    cr_assert_eq(zoo_set(zh, "/cb", "x", 1, 0), ZBADVERSION);

    /* null data: dataLength 0, value_len -1 from the C client */
    cr_assert_eq(zoo_create(zh, "/cb/null", NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    len = sizeof buf;
    cr_assert_eq(zoo_get(zh, "/cb/null", 0, buf, &len, &st), ZOK);
    cr_assert_eq(len, -1, "null data reads back as value_len -1 (got %d)", len);
    cr_assert_eq(st.dataLength, 0);

    cr_assert_eq(zoo_create(zh, "/cb/k2", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    struct String_vector kids;
    cr_assert_eq(zoo_get_children2(zh, "/cb", 0, &kids, &pst), ZOK);
    cr_assert_eq(kids.count, 2);
    cr_assert_eq(pst.numChildren, 2);
    cr_assert_eq(pst.cversion, 2);
    deallocate_String_vector(&kids);

    cr_assert_eq(zoo_exists(zh, "/cb/none", 0, &st), ZNONODE);
    cr_assert_eq(zoo_exists(zh, "/cb/k2", 0, &st), ZOK);
    cr_assert_eq(zoo_delete(zh, "/cb", -1), ZNOTEMPTY);
    cr_assert_eq(zoo_delete(zh, "/cb/k2", 3), ZBADVERSION);
    cr_assert_eq(zoo_delete(zh, "/cb/k2", 0), ZOK);
    cr_assert_eq(zoo_delete(zh, "/cb/k2", -1), ZNONODE);
    cr_assert_eq(zoo_exists(zh, "/cb", 0, &pst), ZOK);
    cr_assert_eq(pst.cversion, 3);
    cr_assert_eq(pst.numChildren, 1);
    cr_assert_eq(zoo_create(zh, "/cb", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZNODEEXISTS);
    cr_assert_eq(zoo_create(zh, "/cb/x/y", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZNONODE);
    cr_assert_eq(zoo_create(zh, "/cb/e", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0),
                 ZOK);
    cr_assert_eq(zoo_exists(zh, "/cb/e", 0, &st), ZOK);
    cr_assert_eq(st.ephemeralOwner, zoo_client_id(zh)->client_id);
    cr_assert_eq(zoo_create(zh, "/cb/e/c", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0),
                 ZNOCHILDRENFOREPHEMERALS);

    /* sync */
    cr_assert_eq(zoo_get_children(zh, "/zookeeper", 0, &kids), ZOK);
    deallocate_String_vector(&kids);
    zclose(c);
}

Test(compat_c, sequential_container_ttl) {
    conn_t *c = zconnect();
    zhandle_t *zh = c->zh;
    char buf[512];
    struct Stat st;
    cr_assert_eq(zoo_create(zh, "/cs", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    cr_assert_eq(zoo_create(zh, "/cs/n-", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, buf,
                            sizeof buf), ZOK);
    cr_assert_str_eq(buf, "/cs/n-0000000000");
    cr_assert_eq(zoo_create(zh, "/cs/n-", "", 0, &ZOO_OPEN_ACL_UNSAFE,
                            ZOO_EPHEMERAL | ZOO_SEQUENCE, buf, sizeof buf), ZOK);
    cr_assert_str_eq(buf, "/cs/n-0000000001");
    /* a too-small path buffer truncates the returned name (client-side behaviour) */
    char small[8];
    cr_assert_eq(zoo_create(zh, "/cs/n-", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, small,
                            sizeof small), ZOK);
    cr_assert_str_eq(small, "/cs/n-0");

    /* container: created with opcode 19; ephemeralOwner is reported as 0 */
    cr_assert_eq(zoo_create2(zh, "/cs/box", "b", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, buf,
                             sizeof buf, &st), ZOK);
    cr_assert_str_eq(buf, "/cs/box");
    cr_assert_eq(st.ephemeralOwner, 0);
    cr_assert_eq(zoo_exists(zh, "/cs/box", 0, &st), ZOK);
    cr_assert_eq(st.ephemeralOwner, 0);

    /* TTL (extendedTypesEnabled): opcode 21; ephemeralOwner reported as 0 */
    cr_assert_eq(zoo_create2_ttl(zh, "/cs/ttl", "t", 1, &ZOO_OPEN_ACL_UNSAFE,
                                 ZOO_PERSISTENT_WITH_TTL, 600000, buf, sizeof buf, &st), ZOK);
    cr_assert_str_eq(buf, "/cs/ttl");
    cr_assert_eq(st.ephemeralOwner, 0);
    cr_assert_eq(zoo_create2_ttl(zh, "/cs/t-", "t", 1, &ZOO_OPEN_ACL_UNSAFE,
                                 ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL, 600000, buf, sizeof buf,
                                 &st), ZOK);
    cr_assert_str_eq(buf, "/cs/t-0000000005");
    /* invalid TTL values */
    cr_assert_eq(zoo_create_ttl(zh, "/cs/ttl0", "", 0, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_PERSISTENT_WITH_TTL, 0, NULL, 0), ZBADARGUMENTS);
    cr_assert_eq(zoo_create_ttl(zh, "/cs/ttlbig", "", 0, &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_PERSISTENT_WITH_TTL, 0x10000000000LL, NULL, 0),
                 ZBADARGUMENTS);
    cr_assert_eq(zoo_exists(zh, "/cs/ttl0", 0, &st), ZNONODE);
    zclose(c);
}

Test(compat_c, invalid_paths) {
    conn_t *c = zconnect();
    zhandle_t *zh = c->zh;
    struct Stat st;
    cr_assert_eq(zoo_create(zh, "/cp", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    const char *bad[] = {"/cp/", "/cp//x", "/cp/.", "/cp/..", "/cp/./x", "cp", "", "/cp/\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(zoo_create(zh, bad[i], "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0),
                     ZBADARGUMENTS, "create(\"%s\")", bad[i]);
        cr_assert_eq(zoo_set(zh, bad[i], "", 0, -1), ZBADARGUMENTS, "set(\"%s\")", bad[i]);
    }
    /* U+FFFF (UTF-8 ef bf bf) passes the C client's check but not the server's */
    cr_assert_eq(zoo_create(zh, "/cp/\xef\xbf\xbf", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0),
                 ZBADARGUMENTS);
    cr_assert_eq(zoo_delete(zh, "/zookeeper", -1), ZBADARGUMENTS);
    cr_assert_eq(zoo_delete(zh, "/", -1), ZBADARGUMENTS);
    cr_assert_eq(zoo_exists(zh, "/cp", 0, &st), ZOK);
    cr_assert_eq(st.numChildren, 0);
    zclose(c);
}

/* ------------------------------------------------------------------ async API */

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int done, n;
    int rc[4096];
    int order[4096];
    int64_t czxid[4096];
} acomp_t;

typedef struct {
    acomp_t *a;
    int idx;
} actx_t;

static void acomp_record(acomp_t *a, int idx, int rc, const struct Stat *st) {
    pthread_mutex_lock(&a->m);
    a->rc[idx] = rc;
    a->czxid[idx] = st ? st->czxid : 0;
    a->order[a->done++] = idx;
    pthread_cond_broadcast(&a->c);
    pthread_mutex_unlock(&a->m);
}

static void string_done(int rc, const char *value, const void *data) {
    (void)value;
    const actx_t *x = data;
    acomp_record(x->a, x->idx, rc, NULL);
}

static void stat_done(int rc, const struct Stat *st, const void *data) {
    const actx_t *x = data;
    acomp_record(x->a, x->idx, rc, st);
}

static void data_done(int rc, const char *v, int vl, const struct Stat *st, const void *data) {
    (void)v;
    (void)vl;
    const actx_t *x = data;
    acomp_record(x->a, x->idx, rc, st);
}

static int acomp_wait(acomp_t *a, int n, int ms) {
    struct timespec ts;
    deadline_in(&ts, ms);
    int rc = 0;
    pthread_mutex_lock(&a->m);
    while (a->done < n && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&a->c, &a->m, &ts);
    int ok = a->done >= n;
    pthread_mutex_unlock(&a->m);
    return ok;
}

Test(compat_c, async_pipelined_in_order) {
    conn_t *c = zconnect();
    zhandle_t *zh = c->zh;
    static acomp_t a = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};
    static actx_t ctx[1000];
    cr_assert_eq(zoo_create(zh, "/ca", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    int n = 0;
    char path[64];
    for (int i = 0; i < 300; i++, n++) {
        ctx[n] = (actx_t){&a, n};
        snprintf(path, sizeof path, "/ca/n%03d", i);
        cr_assert_eq(zoo_acreate(zh, path, "v", 1, &ZOO_OPEN_ACL_UNSAFE, 0, string_done, &ctx[n]),
                     ZOK);
    }
    /* mixed ops, including failures, in one pipeline */
    ctx[n] = (actx_t){&a, n};
    cr_assert_eq(zoo_aexists(zh, "/ca/n000", 0, stat_done, &ctx[n]), ZOK);
    n++;
    ctx[n] = (actx_t){&a, n};
    cr_assert_eq(zoo_aget(zh, "/ca/missing", 0, data_done, &ctx[n]), ZOK);
    n++;
    ctx[n] = (actx_t){&a, n};
    cr_assert_eq(zoo_acreate(zh, "/ca/n000", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, string_done,
                             &ctx[n]), ZOK);
    n++;
    ctx[n] = (actx_t){&a, n};
    cr_assert_eq(zoo_aset(zh, "/ca/n001", "w", 1, 0, stat_done, &ctx[n]), ZOK);
    n++;
    cr_assert(acomp_wait(&a, n, WAIT_MS), "only %d of %d completions", a.done, n);
    for (int i = 0; i < n; i++) cr_assert_eq(a.order[i], i, "completion %d out of order", i);
    for (int i = 0; i < 300; i++) cr_assert_eq(a.rc[i], ZOK);
    cr_assert_eq(a.rc[300], ZOK);
    cr_assert_eq(a.rc[301], ZNONODE);
    cr_assert_eq(a.rc[302], ZNODEEXISTS);
    cr_assert_eq(a.rc[303], ZOK);
    struct String_vector kids;
    cr_assert_eq(zoo_get_children(zh, "/ca", 0, &kids), ZOK);
    cr_assert_eq(kids.count, 300);
    deallocate_String_vector(&kids);
    zclose(c);
}

/* ------------------------------------------------------------------ watches */

typedef struct {
    evq_t *q;
    int events_at_completion;
    int rc;
    int done;
} order_ctx_t;

static void order_stat_done(int rc, const struct Stat *st, const void *data) {
    (void)st;
    order_ctx_t *o = (order_ctx_t *)data;
    o->events_at_completion = evq_count(o->q);
    o->rc = rc;
    __atomic_store_n(&o->done, 1, __ATOMIC_SEQ_CST);
}

Test(compat_c, watches) {
    conn_t *c = zconnect(), *o = zconnect();
    zhandle_t *zh = c->zh;
    evq_t dq, cq, eq, dq2;
    evq_init(&dq);
    evq_init(&cq);
    evq_init(&eq);
    evq_init(&dq2);
    char buf[64];
    int len = sizeof buf;
    struct Stat st;
    struct String_vector kids;
    cr_assert_eq(zoo_create(zh, "/cw", "0", 1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);

    /* data watch, triggered by another client */
    cr_assert_eq(zoo_wget(zh, "/cw", evq_watcher, &dq, buf, &len, &st), ZOK);
    cr_assert_eq(zoo_set(o->zh, "/cw", "1", 1, -1), ZOK);
    cr_assert(evq_wait(&dq, 1, WAIT_MS));
    cr_assert_eq(dq.type[0], ZOO_CHANGED_EVENT);
    cr_assert_eq(dq.state[0], ZOO_CONNECTED_STATE);
    cr_assert_str_eq(dq.path[0], "/cw");
    /* one-shot: a later change is seen by a new watch but not the old one */
    cr_assert_eq(zoo_set(o->zh, "/cw", "2", 1, -1), ZOK);
    len = sizeof buf;
    cr_assert_eq(zoo_wget(zh, "/cw", evq_watcher, &dq2, buf, &len, &st), ZOK);
    cr_assert_eq(zoo_set(o->zh, "/cw", "3", 1, -1), ZOK);
    cr_assert(evq_wait(&dq2, 1, WAIT_MS));
    cr_assert_eq(evq_count(&dq), 1, "a fired watch fired again");

    /* the notification for our own write arrives before the write's reply */
    len = sizeof buf;
    evq_t own;
    evq_init(&own);
    cr_assert_eq(zoo_wget(zh, "/cw", evq_watcher, &own, buf, &len, &st), ZOK);
    order_ctx_t oc = {.q = &own};
    cr_assert_eq(zoo_aset(zh, "/cw", "4", 1, -1, order_stat_done, &oc), ZOK);
    int64_t t0 = now_ms();
    while (!__atomic_load_n(&oc.done, __ATOMIC_SEQ_CST) && now_ms() - t0 < WAIT_MS) usleep(1000);
    cr_assert(oc.done);
    cr_assert_eq(oc.rc, ZOK);
    cr_assert_eq(oc.events_at_completion, 1,
                 "NodeDataChanged must be delivered before the setData reply");

    /* child watch */
    cr_assert_eq(zoo_wget_children(zh, "/cw", evq_watcher, &cq, &kids), ZOK);
    cr_assert_eq(kids.count, 0);
    deallocate_String_vector(&kids);
    cr_assert_eq(zoo_create(o->zh, "/cw/k", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    cr_assert(evq_wait(&cq, 1, WAIT_MS));
    cr_assert_eq(cq.type[0], ZOO_CHILD_EVENT);
    cr_assert_str_eq(cq.path[0], "/cw");

    /* exists watch on a missing node: NodeCreated; then on the node: NodeDeleted */
    cr_assert_eq(zoo_wexists(zh, "/cw/new", evq_watcher, &eq, &st), ZNONODE);
    cr_assert_eq(zoo_create(o->zh, "/cw/new", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    cr_assert(evq_wait(&eq, 1, WAIT_MS));
    cr_assert_eq(eq.type[0], ZOO_CREATED_EVENT);
    cr_assert_str_eq(eq.path[0], "/cw/new");
    cr_assert_eq(zoo_wexists(zh, "/cw/new", evq_watcher, &eq, &st), ZOK);
    cr_assert_eq(zoo_delete(o->zh, "/cw/new", -1), ZOK);
    cr_assert(evq_wait(&eq, 2, WAIT_MS));
    cr_assert_eq(eq.type[1], ZOO_DELETED_EVENT);
    zclose(o);
    zclose(c);
}

/* ------------------------------------------------------------------ multi */

Test(compat_c, multi_success_and_failure) {
    conn_t *c = zconnect();
    zhandle_t *zh = c->zh;
    char p0[64], p1[64];
    struct Stat st, sst;
    zoo_op_t ops[5];
    zoo_op_result_t res[5];
    cr_assert_eq(zoo_create(zh, "/cm", "0", 1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    cr_assert_eq(zoo_create(zh, "/cm/old", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);

    zoo_create_op_init(&ops[0], "/cm/a", "a", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p0, sizeof p0);
    zoo_create_op_init(&ops[1], "/cm/s-", "s", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, p1,
                       sizeof p1);
    zoo_check_op_init(&ops[2], "/cm", 0);
    zoo_set_op_init(&ops[3], "/cm", "1", 1, 0, &sst);
    zoo_delete_op_init(&ops[4], "/cm/old", 0);
    cr_assert_eq(zoo_multi(zh, 5, ops, res), ZOK);
    for (int i = 0; i < 5; i++) cr_assert_eq(res[i].err, ZOK, "op %d: %d", i, res[i].err);
    cr_assert_str_eq(p0, "/cm/a");
    cr_assert_str_eq(p1, "/cm/s-0000000002");
    cr_assert_eq(sst.version, 1);
    cr_assert_eq(zoo_exists(zh, "/cm/a", 0, &st), ZOK);
    cr_assert_eq(st.czxid, sst.mzxid, "all ops of a multi share one zxid");
    cr_assert_eq(zoo_exists(zh, "/cm/old", 0, &st), ZNONODE);

    /* failure in the middle: earlier ops ZOK, failing op its code, later ops
     * ZRUNTIMEINCONSISTENCY; zoo_multi returns the failing op's code; nothing applied */
    struct Stat before;
    cr_assert_eq(zoo_exists(zh, "/cm", 0, &before), ZOK);
    zoo_create_op_init(&ops[0], "/cm/b", "b", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p0, sizeof p0);
    zoo_set_op_init(&ops[1], "/cm", "2", 1, -1, &sst);
    zoo_check_op_init(&ops[2], "/cm", 7);
    zoo_delete_op_init(&ops[3], "/cm/a", -1);
    zoo_create_op_init(&ops[4], "/cm/c", "c", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p1, sizeof p1);
    cr_assert_eq(zoo_multi(zh, 5, ops, res), ZBADVERSION);
    cr_assert_eq(res[0].err, ZOK);
    cr_assert_eq(res[1].err, ZOK);
    cr_assert_eq(res[2].err, ZBADVERSION);
    cr_assert_eq(res[3].err, ZRUNTIMEINCONSISTENCY);
    cr_assert_eq(res[4].err, ZRUNTIMEINCONSISTENCY);
    cr_assert_eq(zoo_exists(zh, "/cm/b", 0, &st), ZNONODE);
    cr_assert_eq(zoo_exists(zh, "/cm/a", 0, &st), ZOK);
    cr_assert_eq(zoo_exists(zh, "/cm", 0, &st), ZOK);
    cr_assert_eq(st.version, before.version);
    cr_assert_eq(st.mzxid, before.mzxid);
    cr_assert_eq(st.cversion, before.cversion);

    /* failing first op */
    zoo_delete_op_init(&ops[0], "/cm/missing", -1);
    zoo_create_op_init(&ops[1], "/cm/d", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    cr_assert_eq(zoo_multi(zh, 2, ops, res), ZNONODE);
    cr_assert_eq(res[0].err, ZNONODE);
    cr_assert_eq(res[1].err, ZRUNTIMEINCONSISTENCY);
    cr_assert_eq(zoo_exists(zh, "/cm/d", 0, &st), ZNONODE);
    zclose(c);
}

/* ------------------------------------------------------------------ sessions */

Test(compat_c, ephemerals_vanish_after_close) {
    conn_t *c = zconnect(), *o = zconnect();
    evq_t q;
    evq_init(&q);
    struct Stat st;
    cr_assert_eq(zoo_create(c->zh, "/ce", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    cr_assert_eq(zoo_create(o->zh, "/ce/e", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0),
                 ZOK);
    cr_assert_eq(zoo_create(o->zh, "/ce/s-", "", 0, &ZOO_OPEN_ACL_UNSAFE,
                            ZOO_EPHEMERAL | ZOO_SEQUENCE, NULL, 0), ZOK);
    cr_assert_eq(zoo_wexists(c->zh, "/ce/e", evq_watcher, &q, &st), ZOK);
    cr_assert_eq(st.ephemeralOwner, zoo_client_id(o->zh)->client_id);
    zclose(o);
    cr_assert(evq_wait(&q, 1, WAIT_MS));
    cr_assert_eq(q.type[0], ZOO_DELETED_EVENT);
    struct String_vector kids;
    cr_assert_eq(zoo_get_children(c->zh, "/ce", 0, &kids), ZOK);
    cr_assert_eq(kids.count, 0, "ephemerals left after zookeeper_close");
    deallocate_String_vector(&kids);
    zclose(c);
}

/* A process owning an ephemeral dies (no closeSession): the session expires after its timeout
 * and the ephemeral is removed. */
Test(compat_c, session_expiry_after_client_dies) {
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
        evq_t s;
        evq_init(&s);
        zhandle_t *zh = zookeeper_init(connect_string(), evq_watcher, 2000, NULL, &s, 0);
        if (!zh || !evq_wait_state(&s, ZOO_CONNECTED_STATE, WAIT_MS)) _exit(2);
        zoo_create(zh, "/cx", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        if (zoo_create(zh, "/cx/e", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0) != ZOK)
            _exit(3);
        int to = zoo_recv_timeout(zh);
        if (write(pfd[1], &to, sizeof to) != sizeof to) _exit(4);
        _exit(0); /* no zookeeper_close: the server only sees the TCP connection go away */
    }
    close(pfd[1]);
    int to = 0;
    cr_assert_eq(read(pfd[0], &to, sizeof to), (ssize_t)sizeof to, "child failed to set up");
    int status;
    waitpid(pid, &status, 0);
    int64_t died = now_ms();
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(to, 2000, "negotiated timeout %d (tickTime should be 500)", to);

    conn_t *c = zconnect();
    evq_t q;
    evq_init(&q);
    struct Stat st;
    int rc = zoo_wexists(c->zh, "/cx/e", evq_watcher, &q, &st);
    if (rc == ZOK) {
        cr_assert(evq_wait(&q, 1, 20000), "ephemeral of a dead client not removed in 20 s");
        cr_assert_eq(q.type[0], ZOO_DELETED_EVENT);
    }
    int64_t gone = now_ms() - died;
    cr_assert(gone >= 1000, "ephemeral vanished after %lld ms, before the 2 s session timeout",
              (long long)gone);
    cr_assert_eq(zoo_exists(c->zh, "/cx/e", 0, &st), ZNONODE);
    zclose(c);
}

Test(compat_c, reconnect_with_wrong_password_is_expired) {
    conn_t *c = zconnect();
    clientid_t cid = *zoo_client_id(c->zh);
    cid.passwd[0] ^= 0x5a;
    conn_t *bad = zconnect_with(10000, &cid, 0);
    cr_assert(evq_wait_state(&bad->session, ZOO_EXPIRED_SESSION_STATE, WAIT_MS),
              "wrong password did not give ZOO_EXPIRED_SESSION_STATE");
    cr_assert_eq(zoo_state(bad->zh), ZOO_EXPIRED_SESSION_STATE);
    zclose(bad);
    /* The real session survives. Its connection may just have been dropped (both servers close
     * a session's live connection when a resume is attempted, before the password check), so
     * allow the client a bounded time to reconnect; only a reconnect with the same session
     * answers ZOK. */
    struct Stat st;
    int rc = ZCONNECTIONLOSS;
    for (int64_t t0 = now_ms(); rc == ZCONNECTIONLOSS && now_ms() - t0 < WAIT_MS; usleep(10000))
        rc = zoo_exists(c->zh, "/", 0, &st);
    cr_assert_eq(rc, ZOK);
    cr_assert_eq(zoo_state(c->zh), ZOO_CONNECTED_STATE);

    /* a session id that never existed */
    clientid_t none = {.client_id = 0x0123456789abLL};
    memset(none.passwd, 7, sizeof none.passwd);
    conn_t *ghost = zconnect_with(10000, &none, 0);
    cr_assert(evq_wait_state(&ghost->session, ZOO_EXPIRED_SESSION_STATE, WAIT_MS));
    zclose(ghost);
    zclose(c);
}

/* A second handle resumes a session (zookeeper_init with the first's clientid) and then closes
 * it with zookeeper_close: the session ends at once (its ephemeral is removed well before the
 * session timeout) and the session cannot be resumed again. The first handle's process has
 * exited without closing, so the two handles do not fight over the session (ZooKeeper closes the
 * older connection whenever a session is resumed elsewhere, and the C client reconnects). */
Test(compat_c, resumed_session_closed_by_second_handle) {
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
        evq_t s;
        evq_init(&s);
        zhandle_t *zh = zookeeper_init(connect_string(), evq_watcher, 10000, NULL, &s, 0);
        if (!zh || !evq_wait_state(&s, ZOO_CONNECTED_STATE, WAIT_MS)) _exit(2);
        zoo_create(zh, "/cz", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        if (zoo_create(zh, "/cz/e", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0) != ZOK)
            _exit(3);
        clientid_t cid = *zoo_client_id(zh);
        if (write(pfd[1], &cid, sizeof cid) != sizeof cid) _exit(4);
        _exit(0);
    }
    close(pfd[1]);
    clientid_t cid;
    cr_assert_eq(read(pfd[0], &cid, sizeof cid), (ssize_t)sizeof cid, "child failed to set up");
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    conn_t *w = zconnect();
    conn_t *b = zconnect_with(10000, &cid, 1);
    cr_assert_eq(zoo_client_id(b->zh)->client_id, cid.client_id, "session not resumed");
    struct Stat st;
    cr_assert_eq(zoo_exists(b->zh, "/cz/e", 0, &st), ZOK);
    cr_assert_eq(st.ephemeralOwner, cid.client_id);
    evq_t q;
    evq_init(&q);
    cr_assert_eq(zoo_wexists(w->zh, "/cz/e", evq_watcher, &q, &st), ZOK);
    int64_t t0 = now_ms();
    zclose(b);
    cr_assert(evq_wait(&q, 1, 5000), "closing the resumed handle did not end the session");
    cr_assert_eq(q.type[0], ZOO_DELETED_EVENT);
    cr_assert(now_ms() - t0 < 5000);
    conn_t *again = zconnect_with(10000, &cid, 0);
    cr_assert(evq_wait_state(&again->session, ZOO_EXPIRED_SESSION_STATE, WAIT_MS),
              "a closed session could be resumed");
    zclose(again);
    zclose(w);
}

/* ------------------------------------------------------------------ ACLs, sync */

static void sync_done(int rc, const char *value, const void *data) {
    (void)value;
    const actx_t *x = data;
    acomp_record(x->a, x->idx, rc, NULL);
}

Test(compat_c, acl_and_sync) {
    conn_t *c = zconnect();
    zhandle_t *zh = c->zh;
    struct ACL_vector acl;
    struct Stat st;
    cr_assert_eq(zoo_create(zh, "/cacl", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    cr_assert_eq(zoo_get_acl(zh, "/cacl", &acl, &st), ZOK);
    cr_assert_eq(acl.count, 1);
    cr_assert_eq(acl.data[0].perms, ZOO_PERM_ALL);
    cr_assert_str_eq(acl.data[0].id.scheme, "world");
    cr_assert_str_eq(acl.data[0].id.id, "anyone");
    cr_assert_eq(st.aversion, 0);
    deallocate_ACL_vector(&acl);
    cr_assert_eq(zoo_set_acl(zh, "/cacl", 0, &ZOO_READ_ACL_UNSAFE), ZOK);
    cr_assert_eq(zoo_get_acl(zh, "/cacl", &acl, &st), ZOK);
    cr_assert_eq(acl.count, 1);
    cr_assert_eq(acl.data[0].perms, ZOO_PERM_READ);
    cr_assert_eq(st.aversion, 1);
    deallocate_ACL_vector(&acl);

    static acomp_t a = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};
    static actx_t x = {&a, 0};
    cr_assert_eq(zoo_async(zh, "/cacl", sync_done, &x), ZOK);
    cr_assert(acomp_wait(&a, 1, WAIT_MS));
    cr_assert_eq(a.rc[0], ZOK);
    zclose(c);
}

/* ACLs are enforced: world:anyone with READ only may not write, create below, or change the
 * ACL (NoAuth is checked before the version: a stale aversion still gets ZNOAUTH). */
Test(compat_c, acl_enforced) {
    conn_t *c = zconnect();
    zhandle_t *zh = c->zh;
    cr_assert_eq(zoo_create(zh, "/cacl2", "", 0, &ZOO_READ_ACL_UNSAFE, 0, NULL, 0), ZOK);
    cr_assert_eq(zoo_set_acl(zh, "/cacl2", 0, &ZOO_OPEN_ACL_UNSAFE), ZNOAUTH);
    cr_assert_eq(zoo_set_acl(zh, "/cacl2", 5, &ZOO_OPEN_ACL_UNSAFE), ZNOAUTH);
    cr_assert_eq(zoo_set(zh, "/cacl2", "x", 1, -1), ZNOAUTH);
    cr_assert_eq(zoo_create(zh, "/cacl2/c", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZNOAUTH);
    char buf[8];
    int len = sizeof buf;
    cr_assert_eq(zoo_get(zh, "/cacl2", 0, buf, &len, NULL), ZOK);
    zclose(c);
}
