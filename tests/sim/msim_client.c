/* member-sim's clients: each speaks ZooKeeper's jute protocol to one member at a time through
 * member_conn_input (ConnectRequest with session id, password and lastZxidSeen; requests with
 * xids; ReplyHeader + bodies back), works on a few shared paths (creates, sequential and
 * ephemeral; setData with expected versions; deletes; multis; getData/exists/getChildren; data
 * watches), lets sessions expire, closes some, and reconnects to another member with the same
 * session when its connection goes. Every reply is checked as it arrives:
 *   - replies come in request order and their zxid never goes back for a session;
 *   - an acknowledged write's zxid holds that very txn (session, xid, opcode), and is above
 *     every write acknowledged before it was issued (linearizable writes);
 *   - a read shows data some txn wrote at the Stat's mzxid, never older than the session's own
 *     acknowledged write on that path (a NoNode only if a deletion came since);
 *   - a watch fires at most once per registration, for a change of the registered state: a
 *     re-read after the event shows it changed; a read never shows a change whose event the
 *     watch has not delivered yet. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "msim_internal.h"

#define QMAX 16            /* requests in flight per client, re-reads included */
#define CONNECT_GIVE_UP_MS 3000
#define P_ABANDON 1500     /* per action, per million: the client walks away from its session */

static const char *const paths[MS_PATHS] = {"/a", "/b", "/c", "/d", "/e", "/f", "/q"};
#define SEQ_PARENT (MS_PATHS - 1) /* "/q": parent of the sequential nodes */

enum cl_state { CL_OFF, CL_CONNECTING, CL_UP };
enum op_kind { OP_CREATE, OP_SEQ, OP_SET, OP_DELETE, OP_MULTI, OP_GET, OP_EXISTS, OP_CHILDREN,
               OP_SYNC, OP_CLOSE, OP_REREAD };

struct req {
    int32_t xid, type;
    enum op_kind op;
    int path, path2, path3;  /* indexes in paths[]; multi: check, set, create */
    uint64_t tag;            /* the write's data tag (write id) */
    int64_t floor;           /* highest acknowledged zxid when it was issued */
    int64_t issued;
    bool watch;
    bool reg_existed;        /* OP_REREAD: what the watch was registered on */
    int64_t reg_mzxid, reg_zxid;
};

struct watch {
    bool armed, existed;
    int64_t mzxid;           /* of the registered state */
    int64_t zxid;            /* the registering reply's zxid */
};

struct ms_client {
    struct ms_world *w;
    int idx;
    bool probe, probe_acked;
    enum cl_state state;
    int conn;
    int64_t connect_at;
    int64_t session;
    uint8_t passwd[ZK_PASSWD_LEN];
    int32_t timeout;
    int64_t last_zxid;       /* the highest zxid any reply showed: the session's floor */
    int32_t next_xid;
    struct req q[QMAX];
    int qh, qn;
    int pings;
    int64_t last_sent;
    uint64_t writes;
    struct jute_writer rx, tx;
    struct watch watch[MS_PATHS];
    int64_t wrote[MS_PATHS]; /* zxid of the session's last acknowledged write of the path */
    int32_t version[MS_PATHS]; /* the version last seen, for conditional writes */
};

struct ms_client *ms_client_new(struct ms_world *w, int idx, bool probe)
{
    struct ms_client *c = calloc(1, sizeof *c);
    ZK_ASSERT(c != NULL);
    c->w = w;
    c->idx = idx;
    c->probe = probe;
    c->conn = -1;
    c->next_xid = 1;
    jw_init(&c->rx);
    jw_init(&c->tx);
    return c;
}

void ms_client_free(struct ms_client *c)
{
    if (!c)
        return;
    jw_free(&c->rx);
    jw_free(&c->tx);
    free(c);
}

bool ms_client_probe_done(const struct ms_client *c) { return c && c->probe_acked; }

static int path_index(const char *p, size_t len)
{
    for (int i = 0; i < MS_PATHS; i++)
        if (strlen(paths[i]) == len && memcmp(paths[i], p, len) == 0)
            return i;
    return -1;
}

/* ---- sending ---- */

static void send_tx(struct ms_client *c)
{
    ZK_ASSERT(!c->tx.err);
    ms_conn_write(c->w, c->conn, c->tx.data, c->tx.len);
    c->last_sent = c->w->now;
}

static void send_connect(struct ms_client *c)
{
    static const uint8_t none[ZK_PASSWD_LEN];
    struct ms_world *w = c->w;
    int32_t timeout = c->session ? c->timeout : (int32_t)rng_range(&w->rng, 300, 3000);
    jw_reset(&c->tx);
    size_t mark = jw_begin_frame(&c->tx);
    jw_int(&c->tx, 0);
    jw_long(&c->tx, c->last_zxid);
    jw_int(&c->tx, timeout);
    jw_long(&c->tx, c->session);
    jw_bytes(&c->tx, c->session ? c->passwd : none, ZK_PASSWD_LEN);
    jw_bool(&c->tx, false);
    jw_end_frame(&c->tx, mark);
    send_tx(c);
}

static void connect_to_member(struct ms_client *c)
{
    struct ms_world *w = c->w;
    int node = (int)rng_below(&w->rng, w->n);
    c->conn = ms_conn_connect(w, c->idx, node);
    c->state = CL_CONNECTING;
    c->connect_at = w->now;
    ms_trace(w, "c%d connects to m%d (session 0x%" PRIx64 ")", c->idx, node + 1, c->session);
    send_connect(c);
}

/* The connection is gone: what was in flight has an unknown outcome; watches die with it. */
static void lost(struct ms_client *c)
{
    c->state = CL_OFF;
    c->conn = -1;
    c->qh = c->qn = c->pings = 0;
    jw_reset(&c->rx);
    memset(c->watch, 0, sizeof c->watch);
}

static struct req *push_req(struct ms_client *c, enum op_kind op, int32_t type, int path)
{
    ZK_ASSERT(c->qn < QMAX);
    struct req *r = &c->q[(c->qh + c->qn++) % QMAX];
    *r = (struct req){.xid = c->next_xid++, .type = type, .op = op, .path = path,
                      .floor = ms_check_acked_floor(c->w), .issued = c->w->now};
    jw_reset(&c->tx);
    return r;
}

static size_t begin_request(struct ms_client *c, const struct req *r)
{
    size_t mark = jw_begin_frame(&c->tx);
    jw_int(&c->tx, r->xid);
    jw_int(&c->tx, r->type);
    return mark;
}

static void end_request(struct ms_client *c, size_t mark)
{
    jw_end_frame(&c->tx, mark);
    send_tx(c);
}

static uint64_t new_tag(struct ms_client *c)
{
    return ((uint64_t)(c->idx + 1) << 40) | ++c->writes;
}

/* Data written by op k of write `tag`: "w<tag>:<k>" (msim_check.c reads it back from records). */
static void put_data(struct jute_writer *jw, uint64_t tag, int k)
{
    char data[48];
    int n = snprintf(data, sizeof data, "w%" PRIu64 ":%d", tag, k);
    jw_bytes(jw, data, n);
}

static void put_create(struct jute_writer *jw, const char *path, uint64_t tag, int k,
                       int32_t flags)
{
    jw_string(jw, path);
    put_data(jw, tag, k);
    jw_int(jw, 1); /* ACL: world:anyone, all */
    jw_int(jw, ZPERM_ALL);
    jw_string(jw, "world");
    jw_string(jw, "anyone");
    jw_int(jw, flags);
}

static void put_multi_head(struct jute_writer *jw, int32_t type, bool done)
{
    jw_int(jw, type);
    jw_bool(jw, done);
    jw_int(jw, -1);
}

static int32_t expected_version(struct ms_client *c, int path)
{
    return rng_chance(&c->w->rng, MS_PPM / 2) ? -1 : c->version[path];
}

static void issue_create(struct ms_client *c, enum op_kind op, int path)
{
    struct ms_world *w = c->w;
    struct req *r = push_req(c, op, ZOP_CREATE, op == OP_SEQ ? SEQ_PARENT : path);
    r->tag = new_tag(c);
    bool eph = rng_chance(&w->rng, MS_PPM / 2);
    const char *p = op == OP_SEQ ? (eph ? "/q/e-" : "/q/s-") : paths[path];
    int32_t flags = (eph ? ZCM_EPHEMERAL : ZCM_PERSISTENT) | (op == OP_SEQ ? 2 : 0);
    size_t mark = begin_request(c, r);
    put_create(&c->tx, p, r->tag, 0, flags);
    end_request(c, mark);
}

static void issue_set(struct ms_client *c, int path)
{
    struct req *r = push_req(c, OP_SET, ZOP_SETDATA, path);
    r->tag = new_tag(c);
    size_t mark = begin_request(c, r);
    jw_string(&c->tx, paths[path]);
    put_data(&c->tx, r->tag, 0);
    jw_int(&c->tx, expected_version(c, path));
    end_request(c, mark);
}

static void issue_delete(struct ms_client *c, int path)
{
    struct req *r = push_req(c, OP_DELETE, ZOP_DELETE, path);
    size_t mark = begin_request(c, r);
    jw_string(&c->tx, paths[path]);
    jw_int(&c->tx, expected_version(c, path));
    end_request(c, mark);
}

/* check(p1, version) + setData(p2) + create(p3): all or nothing. */
static void issue_multi(struct ms_client *c, int p1, int p2, int p3)
{
    struct req *r = push_req(c, OP_MULTI, ZOP_MULTI, p1);
    r->path2 = p2;
    r->path3 = p3;
    r->tag = new_tag(c);
    size_t mark = begin_request(c, r);
    put_multi_head(&c->tx, ZOP_CHECK, false);
    jw_string(&c->tx, paths[p1]);
    jw_int(&c->tx, expected_version(c, p1));
    put_multi_head(&c->tx, ZOP_SETDATA, false);
    jw_string(&c->tx, paths[p2]);
    put_data(&c->tx, r->tag, 1);
    jw_int(&c->tx, -1);
    put_multi_head(&c->tx, ZOP_CREATE, false);
    put_create(&c->tx, paths[p3], r->tag, 2, ZCM_EPHEMERAL);
    put_multi_head(&c->tx, -1, true);
    end_request(c, mark);
}

static int32_t read_type(enum op_kind op)
{
    switch (op) {
    case OP_EXISTS: return ZOP_EXISTS;
    case OP_CHILDREN: return ZOP_GETCHILDREN;
    case OP_SYNC: return ZOP_SYNC;
    default: return ZOP_GETDATA;
    }
}

/* A read of one path (SyncRequest is {path} alone). */
static struct req *issue_read(struct ms_client *c, enum op_kind op, int path, bool watch)
{
    int32_t type = read_type(op);
    struct req *r = push_req(c, op, type, path);
    r->watch = watch;
    size_t mark = begin_request(c, r);
    jw_string(&c->tx, paths[path]);
    if (op != OP_SYNC)
        jw_bool(&c->tx, watch);
    end_request(c, mark);
    return r;
}

static void issue_simple(struct ms_client *c, enum op_kind op, int32_t type)
{
    struct req *r = push_req(c, op, type, -1);
    end_request(c, begin_request(c, r));
}

static void issue_ping(struct ms_client *c)
{
    jw_reset(&c->tx);
    size_t mark = jw_begin_frame(&c->tx);
    jw_int(&c->tx, ZXID_PING);
    jw_int(&c->tx, ZOP_PING);
    c->pings++;
    end_request(c, mark);
}

static void issue_random(struct ms_client *c)
{
    uint64_t *rng = &c->w->rng;
    int p = (int)rng_below(rng, MS_PATHS - 1);
    int r = (int)rng_below(rng, 100);
    if (r < 20)
        issue_create(c, OP_CREATE, p);
    else if (r < 26)
        issue_create(c, OP_SEQ, p);
    else if (r < 28)
        issue_create(c, OP_CREATE, SEQ_PARENT);
    else if (r < 45)
        issue_set(c, p);
    else if (r < 52)
        issue_delete(c, p);
    else if (r < 58)
        issue_multi(c, p, (int)rng_below(rng, MS_PATHS - 1), (int)rng_below(rng, MS_PATHS - 1));
    else if (r < 75)
        issue_read(c, OP_GET, p, rng_chance(rng, MS_PPM / 2));
    else if (r < 88)
        issue_read(c, OP_EXISTS, p, rng_chance(rng, MS_PPM / 2));
    else if (r < 94)
        issue_read(c, OP_CHILDREN, rng_chance(rng, MS_PPM / 2) ? SEQ_PARENT : p, false);
    else if (r < 95)
        issue_simple(c, OP_CLOSE, ZOP_CLOSESESSION);
    else if (r < 97)
        issue_read(c, OP_SYNC, p, false);
    else
        issue_read(c, OP_GET, p, false);
}

/* ---- acting ---- */

static void abandon(struct ms_client *c, const char *why)
{
    ms_trace(c->w, "c%d %s (session 0x%" PRIx64 ")", c->idx, why, c->session);
    ms_conn_reset(c->w, c->conn);
    lost(c);
}

/* Once the faults stopped, a request on a connection that stays open is answered: a member
 * that lost a reply (a commit matched to the wrong queued request) leaves the client waiting
 * forever, which no other check sees (it held zklock contenders up). */
#define ANSWER_BOUND_MS 2500

static const char *node_name(struct ms_client *c);

/* Faults stopped, and a leader deposed while it stood still had its syncLimit to step down
 * (see sync_is_linearizable): from here on, requests are held to the healed rules. */
static bool issued_settled(const struct ms_world *w, const struct req *r)
{
    return w->healed && r->issued >= w->heal_at + 2 * w->cfg.sync_limit * w->cfg.tick_ms;
}

static void check_answered(struct ms_client *c)
{
    struct ms_world *w = c->w;
    const struct req *r = c->qn ? &c->q[c->qh] : NULL;
    if (r && issued_settled(w, r) && w->now - r->issued > ANSWER_BOUND_MS)
        ms_violation(w, "liveness: c%d session 0x%" PRIx64 " xid %d (%s) unanswered by %s for "
                     "%d ms on an open connection", c->idx, c->session, r->xid,
                     zk_op_name(r->type), node_name(c), ANSWER_BOUND_MS);
}

static void act_up(struct ms_client *c)
{
    struct ms_world *w = c->w;
    check_answered(c);
    if (ms_chance(w, w->k.p_creset, MF_CONNRESET)) {
        abandon(c, "resets its connection");
        return;
    }
    if (!c->probe && rng_chance(&w->rng, P_ABANDON)) {
        abandon(c, "walks away from its session (it must expire)");
        c->session = 0;
        return;
    }
    if (c->probe) {
        /* one write at a time until one is acknowledged: as a real client, it writes again
         * when a write was lost with its connection or session, or refused before the log */
        if (!c->probe_acked && c->qn == 0)
            issue_create(c, OP_CREATE, (int)rng_below(&w->rng, MS_PATHS - 1));
    } else if (c->qn < w->k.pipeline) {
        issue_random(c);
    }
    if (w->now - c->last_sent > c->timeout / 3)
        issue_ping(c);
}

void ms_client_act(struct ms_client *c)
{
    struct ms_world *w = c->w;
    if (w->stopping)
        return; /* quiet: the session must expire */
    switch (c->state) {
    case CL_OFF: connect_to_member(c); break;
    case CL_CONNECTING:
        if (w->now - c->connect_at > CONNECT_GIVE_UP_MS)
            abandon(c, "gives up connecting");
        break;
    case CL_UP: act_up(c); break;
    }
    ms_schedule(w, rng_range(&w->rng, 1, w->k.think_max), EV_CLIENT, c->idx, 0, 0);
}

void ms_client_closed(struct ms_client *c, int conn)
{
    if (conn != c->conn)
        return;
    ms_trace(c->w, "c%d connection to m%d closed", c->idx, ms_conn_at(c->w, conn)->node + 1);
    lost(c);
}

/* ---- replies ---- */

static const char *node_name(struct ms_client *c)
{
    static char name[16];
    snprintf(name, sizeof name, "m%d", ms_conn_at(c->w, c->conn)->node + 1);
    return name;
}

static void on_connected(struct ms_client *c, struct jute_reader *jr)
{
    (void)jr_int(jr);
    int32_t timeout = jr_int(jr);
    int64_t sid = jr_long(jr);
    struct jute_bytes pw = jr_bytes(jr);
    if (!jr_ok(jr) || pw.len != ZK_PASSWD_LEN) {
        ms_violation(c->w, "c%d: malformed ConnectResponse from %s", c->idx, node_name(c));
        return;
    }
    if (sid == 0 || timeout == 0) { /* expired: the member closes the connection */
        ms_trace(c->w, "c%d session 0x%" PRIx64 " expired", c->idx, c->session);
        c->session = 0;
        return;
    }
    if (c->session && sid != c->session) {
        ms_violation(c->w, "c%d resumed session 0x%" PRIx64 " but %s answered 0x%" PRIx64,
                     c->idx, c->session, node_name(c), sid);
        return;
    }
    c->session = sid;
    c->timeout = timeout;
    memcpy(c->passwd, pw.ptr, ZK_PASSWD_LEN);
    c->state = CL_UP;
    ms_trace(c->w, "c%d session 0x%" PRIx64 " (timeout %d ms) on %s", c->idx, sid, timeout,
             node_name(c));
}

static void check_zxid(struct ms_client *c, int32_t xid, int64_t zxid)
{
    if (zxid < c->last_zxid)
        ms_violation(c->w, "c%d session 0x%" PRIx64 ": reply to xid %d from %s has zxid 0x%"
                     PRIx64 ", below 0x%" PRIx64 " it saw before", c->idx, c->session, xid,
                     node_name(c), zxid, c->last_zxid);
    else
        c->last_zxid = zxid;
}

/* Errors a write gets from store_apply, after it went through the log. */
static bool logged_err(int32_t err)
{
    switch (err) {
    case ZE_OK: case ZE_NONODE: case ZE_NODEEXISTS: case ZE_BADVERSION: case ZE_NOTEMPTY:
    case ZE_NOCHILDRENFOREPHEMERALS: case ZE_SESSIONEXPIRED: case ZE_NOAUTH:
        return true;
    default:
        return false;
    }
}

static void check_ack(struct ms_client *c, const struct req *r, int64_t zxid, int32_t err)
{
    struct ms_world *w = c->w;
    if (!ms_check_is_txn(w, zxid, c->session, r->xid, r->type)) {
        ms_violation(w, "c%d session 0x%" PRIx64 " xid %d (%s) was answered (%s) by %s with "
                     "zxid 0x%" PRIx64 ", which is not that write's committed txn", c->idx,
                     c->session, r->xid, zk_op_name(r->type), zk_err_name(err), node_name(c),
                     zxid);
        return;
    }
    if (zxid <= r->floor) {
        ms_violation(w, "linearizability: c%d xid %d committed at 0x%" PRIx64 ", not after "
                     "0x%" PRIx64 " acknowledged before it was issued", c->idx, r->xid, zxid,
                     r->floor);
        return;
    }
    ms_check_acked(w, zxid);
    w->res->acked++;
    if (c->probe)
        c->probe_acked = true;
}

static bool read_stat(struct jute_reader *jr, struct zk_stat *st)
{
    zk_stat_read(jr, st);
    return jr_ok(jr);
}

static void on_write_ok(struct ms_client *c, const struct req *r, int64_t zxid,
                        struct jute_reader *jr)
{
    struct zk_stat st;
    if (r->op == OP_SET) {
        if (!read_stat(jr, &st) || st.mzxid != zxid)
            ms_violation(c->w, "c%d setData xid %d: Stat mzxid 0x%" PRIx64 " in a reply of "
                         "zxid 0x%" PRIx64, c->idx, r->xid, st.mzxid, zxid);
        c->version[r->path] = st.version;
        c->wrote[r->path] = zxid;
    } else if (r->op == OP_CREATE) {
        struct jute_bytes p = jr_bytes(jr);
        if (!jr_ok(jr) || path_index((const char *)p.ptr, (size_t)p.len) != r->path)
            ms_violation(c->w, "c%d create xid %d of %s answered with another path", c->idx,
                         r->xid, paths[r->path]);
        c->version[r->path] = 0;
        c->wrote[r->path] = zxid;
    }
}

/* The multi's results: when they all succeeded, the set and the create are the session's. */
static void on_multi(struct ms_client *c, const struct req *r, int64_t zxid,
                     struct jute_reader *jr)
{
    bool ok = true;
    for (int i = 0; i < 4 && jr_ok(jr); i++) {
        int32_t type = jr_int(jr);
        bool done = jr_bool(jr);
        int32_t err = jr_int(jr);
        if (done)
            break;
        struct zk_stat st;
        if (type == -1) {
            ok = ok && jr_int(jr) == ZE_OK;
        } else if (type == ZOP_SETDATA && read_stat(jr, &st) && st.mzxid != zxid) {
            ms_violation(c->w, "c%d multi xid %d: setData's mzxid 0x%" PRIx64 " in a reply of "
                         "zxid 0x%" PRIx64, c->idx, r->xid, st.mzxid, zxid);
        } else if (type == ZOP_CREATE) {
            (void)jr_bytes(jr);
        }
        ok = ok && err == ZE_OK;
    }
    if (ok && jr_ok(jr)) {
        c->wrote[r->path2] = zxid;
        c->wrote[r->path3] = zxid;
    }
}

static void on_write(struct ms_client *c, const struct req *r, int64_t zxid, int32_t err,
                     struct jute_reader *jr)
{
    if (!logged_err(err))
        return; /* refused before the log (validation): nothing to check */
    check_ack(c, r, zxid, err);
    if (err == ZE_OK && r->op == OP_MULTI)
        on_multi(c, r, zxid, jr);
    else if (err == ZE_OK)
        on_write_ok(c, r, zxid, jr);
    if (r->op == OP_CLOSE && err == ZE_OK)
        c->session = 0; /* closed: the member closes the connection */
}

/* A read's view of one path: exists, and its Stat. */
struct view {
    bool exists;
    struct zk_stat st;
    uint64_t tag;
};

static void check_view(struct ms_client *c, const struct req *r, int64_t zxid,
                       const struct view *v)
{
    struct ms_world *w = c->w;
    int64_t mine = c->wrote[r->path];
    if (v->exists && (v->st.mzxid > zxid || v->st.mzxid < mine))
        ms_violation(w, "c%d read %s at zxid 0x%" PRIx64 " from %s: mzxid 0x%" PRIx64 " (its "
                     "own write of it: 0x%" PRIx64 ")", c->idx, paths[r->path], zxid,
                     node_name(c), v->st.mzxid, mine);
    else if (v->tag && !ms_check_tag_at(w, v->tag, v->st.mzxid))
        ms_violation(w, "c%d read %s from %s: data of write %" PRIu64 " but no such write "
                     "committed at its mzxid 0x%" PRIx64, c->idx, paths[r->path], node_name(c),
                     v->tag / 4, v->st.mzxid);
    else if (!v->exists && mine && !ms_check_deletes_between(w, mine, zxid))
        ms_violation(w, "c%d read %s from %s at 0x%" PRIx64 ": no node, though it wrote it at "
                     "0x%" PRIx64 " and nothing deleted since", c->idx, paths[r->path],
                     node_name(c), zxid, mine);
    if (v->exists)
        c->version[r->path] = v->st.version;
    w->res->reads++;
}

static bool same_state(const struct watch *wt, const struct view *v)
{
    return wt->existed == v->exists && (!v->exists || wt->mzxid == v->st.mzxid);
}

static void watch_read(struct ms_client *c, const struct req *r, int64_t zxid,
                       const struct view *v)
{
    struct watch *wt = &c->watch[r->path];
    if (wt->armed && !same_state(wt, v))
        ms_violation(c->w, "c%d: %s changed (mzxid 0x%" PRIx64 " -> 0x%" PRIx64 ") before its "
                     "watch event arrived", c->idx, paths[r->path], wt->mzxid, v->st.mzxid);
    if (r->watch && (v->exists || r->op == OP_EXISTS))
        *wt = (struct watch){true, v->exists, v->exists ? v->st.mzxid : 0, zxid};
}

static void check_reread(struct ms_client *c, const struct req *r, int64_t zxid,
                         const struct view *v)
{
    struct watch reg = {true, r->reg_existed, r->reg_mzxid, r->reg_zxid};
    if (same_state(&reg, v) && !(!v->exists && ms_check_deletes_between(c->w, r->reg_zxid, zxid)))
        ms_violation(c->w, "c%d: a watch on %s fired, but a re-read at 0x%" PRIx64 " shows the "
                     "state it was registered on (mzxid 0x%" PRIx64 ")", c->idx,
                     paths[r->path], zxid, r->reg_mzxid);
}

/* A sync answered by a leader that was deposed while it stood still (paused: its clock
 * stopped too) misses what the new leader committed, until its next ticks tell it: ZooKeeper's
 * sync has the same limit. So sync is held to the writes acknowledged before it only once the
 * faults have stopped and such a leader had its syncLimit to step down. */
static bool sync_is_linearizable(const struct ms_client *c, const struct req *r)
{
    return issued_settled(c->w, r);
}

static void on_read(struct ms_client *c, const struct req *r, int64_t zxid, int32_t err,
                    struct jute_reader *jr)
{
    if (r->op == OP_SYNC && err == ZE_OK && zxid < r->floor && sync_is_linearizable(c, r))
        ms_violation(c->w, "c%d: sync answered by %s at 0x%" PRIx64 ", before write 0x%" PRIx64
                     " acknowledged before the sync was issued", c->idx, node_name(c), zxid,
                     r->floor);
    if (r->op == OP_CHILDREN || r->op == OP_SYNC || (err != ZE_OK && err != ZE_NONODE))
        return;
    struct view v = {.exists = err == ZE_OK};
    if (v.exists && r->op != OP_EXISTS)
        v.tag = ms_tag_key(jr_bytes(jr));
    if (v.exists && !read_stat(jr, &v.st)) {
        ms_violation(c->w, "c%d: malformed %s reply from %s", c->idx, zk_op_name(r->type),
                     node_name(c));
        return;
    }
    check_view(c, r, zxid, &v);
    if (r->op == OP_REREAD)
        check_reread(c, r, zxid, &v);
    else
        watch_read(c, r, zxid, &v);
}

static void on_event(struct ms_client *c, struct jute_reader *jr)
{
    int32_t type = jr_int(jr);
    (void)jr_int(jr);
    struct jute_bytes p = jr_bytes(jr);
    int path = jr_ok(jr) && p.len > 0 ? path_index((const char *)p.ptr, (size_t)p.len) : -1;
    struct watch *wt = path >= 0 ? &c->watch[path] : NULL;
    if (!wt || !wt->armed || type == ZEV_CHILDREN_CHANGED ||
        (type == ZEV_CREATED) == wt->existed) {
        ms_violation(c->w, "c%d: watch event %d for %.*s from %s that no armed watch asked "
                     "for", c->idx, type, p.len > 0 ? (int)p.len : 0, p.len > 0 ? (const char *)p.ptr : "",
                     node_name(c));
        return;
    }
    wt->armed = false;
    if (c->qn == QMAX)
        return;
    struct req *r = issue_read(c, OP_REREAD, path, false);
    r->reg_existed = wt->existed;
    r->reg_mzxid = wt->mzxid;
    r->reg_zxid = wt->zxid;
}

static void on_reply(struct ms_client *c, struct jute_reader *jr)
{
    int32_t xid = jr_int(jr);
    int64_t zxid = jr_long(jr);
    int32_t err = jr_int(jr);
    if (!jr_ok(jr)) {
        ms_violation(c->w, "c%d: a reply shorter than its header from %s", c->idx, node_name(c));
        return;
    }
    if (xid == ZXID_NOTIFICATION) {
        on_event(c, jr);
        return;
    }
    check_zxid(c, xid, zxid);
    if (xid == ZXID_PING) {
        c->pings--;
        return;
    }
    if (c->qn == 0 || c->q[c->qh].xid != xid) {
        ms_violation(c->w, "c%d: reply to xid %d from %s, but xid %d was asked first", c->idx,
                     xid, node_name(c), c->qn ? c->q[c->qh].xid : -1);
        return;
    }
    struct req r = c->q[c->qh];
    c->qh = (c->qh + 1) % QMAX;
    c->qn--;
    if (r.op <= OP_MULTI || r.op == OP_CLOSE)
        on_write(c, &r, zxid, err, jr);
    else
        on_read(c, &r, zxid, err, jr);
}

void ms_client_bytes(struct ms_client *c, int conn, const uint8_t *data, size_t len)
{
    if (conn != c->conn)
        return;
    jw_raw(&c->rx, data, len);
    ZK_ASSERT(!c->rx.err);
    size_t off = 0;
    while (c->rx.len - off >= 4 && !c->w->res->violation) {
        size_t n = be32_load(c->rx.data + off);
        if (c->rx.len - off - 4 < n)
            break;
        struct jute_reader jr;
        jr_init(&jr, c->rx.data + off + 4, n);
        off += 4 + n;
        if (c->state == CL_CONNECTING)
            on_connected(c, &jr);
        else
            on_reply(c, &jr);
        if (conn != c->conn)
            return; /* the client left this connection while reading it */
    }
    memmove(c->rx.data, c->rx.data + off, c->rx.len - off);
    c->rx.len -= off;
}
