/* Client connections: jute framing, the connect handshake, per-session FIFO request queues,
 * replies and watch notifications, back-pressure and bad-input handling. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"
#include "common/sha1.h"
#include "server/repl.h"
#include "server/server.h"
#include "session/tracker.h"

#define OUT_HIGH_BYTES (4u << 20)   /* stop reading a client whose replies pile up */
#define OUT_LOW_BYTES (256u << 10)  /* ...and resume below this */
#define OUT_HARD_BYTES (64u << 20)  /* a client that lets this much pile up is disconnected */
#define PENDING_MAX 4096            /* requests queued per connection before we stop reading */
#define AUTH_IDS_MAX 16
#define HANDSHAKE_TIMEOUT_MS 10000  /* ZooKeeper's sessionlessCnxnTimeout */
#define ACCEPT_BACKOFF_MIN_MS 10    /* accept failing (EMFILE...): pause the listener, doubling */
#define ACCEPT_BACKOFF_MAX_MS 1000

enum conn_state { CONN_NEW, CONN_CONNECTING, CONN_ESTABLISHED };
enum req_kind { REQ_WRITE, REQ_SYNC, REQ_LOCAL, REQ_ERROR };

/* One request waiting for its turn to be answered (FIFO per connection). */
struct pending_req {
    struct pending_req *next;
    int32_t xid;
    int32_t type;
    enum req_kind kind;
    int32_t err;       /* REQ_ERROR */
    int64_t wait_zxid; /* REQ_SYNC: reply once this member applied this zxid */
    int64_t start_ms;
    uint32_t body_len;
    uint8_t body[];    /* REQ_LOCAL/REQ_SYNC: the request body, kept until it runs */
};

struct conn {
    struct conn *next, *prev;
    struct conn *doomed_next;
    struct conn *dirty_next; /* on srv->dirty: has replies written this turn */
    bool dirty;
    struct srv *srv;
    uint64_t id;
    struct bufferevent *bev;
    struct event *handshake_ev; /* closes a connection that never completes its handshake */
    enum conn_state state;
    bool close_after_write;
    bool doomed;
    bool reading_paused;
    bool throttled; /* stopped reading: the member's globalOutstandingLimit was reached */
    bool ro_byte;
    int64_t session_id;
    int32_t timeout_ms;
    uint8_t passwd[ZK_PASSWD_LEN];
    struct pending_req *head, *tail;
    size_t n_pending;
    struct jute_writer auth; /* jute vector<Id> of digest ids, stamped on this session's txns */
    int32_t n_auth;
    uint64_t received, sent;
    char addr[INET6_ADDRSTRLEN];
    int port;
};

static void process_input(struct conn *c);
static void drain(struct conn *c);

/* ---- lifetime ---- */

static void conn_doom(struct conn *c, const char *why)
{
    if (c->doomed)
        return;
    struct srv *s = c->srv;
    if (why)
        ZK_INFO("closing connection %s:%d session 0x%llx: %s", c->addr, c->port,
                (unsigned long long)c->session_id, why);
    c->doomed = true;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (c->handshake_ev)
        event_del(c->handshake_ev);
    i64map_del(&s->conn_by_id, (int64_t)c->id);
    if (c->session_id && i64map_get(&s->conn_by_session, c->session_id) == c)
        i64map_del(&s->conn_by_session, c->session_id);
    store_remove_watcher(s->store, c->id);
    c->doomed_next = s->doomed;
    s->doomed = c;
}

/* Every queued request leaves through here: the counts of waiting syncs and of outstanding
 * requests stay exact. */
static void free_req(struct srv *s, struct pending_req *r)
{
    if (r->kind == REQ_SYNC) {
        ZK_ASSERT(s->syncs_waiting > 0);
        s->syncs_waiting--;
    }
    ZK_ASSERT(s->outstanding > 0);
    s->outstanding--;
    zk_free(r);
}

static void conn_free(struct conn *c)
{
    struct srv *s = c->srv;
    for (struct pending_req *r = c->head, *next; r; r = next) {
        next = r->next;
        free_req(s, r);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    if (c->throttled)
        s->n_throttled--;
    if (c->handshake_ev)
        event_free(c->handshake_ev);
    bufferevent_free(c->bev);
    jw_free(&c->auth);
    zk_free(c);
}

void client_push_all(struct srv *s)
{
    struct conn *c = s->dirty;
    s->dirty = NULL;
    while (c) {
        struct conn *next = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        struct evbuffer *out = bufferevent_get_output(c->bev);
        /* Non-blocking; what the socket does not take now, libevent writes later. */
        while (!c->doomed && evbuffer_get_length(out) > 0 &&
               evbuffer_write(out, bufferevent_getfd(c->bev)) > 0) {
        }
        if (c->close_after_write && !c->doomed && evbuffer_get_length(out) == 0)
            conn_doom(c, NULL);
        c = next;
    }
}

void client_reap_doomed(struct srv *s)
{
    client_push_all(s); /* the dirty list must not point at freed connections */
    while (s->doomed) {
        struct conn *c = s->doomed;
        s->doomed = c->doomed_next;
        conn_free(c);
    }
}

void client_close_all(struct srv *s)
{
    for (struct conn *c = s->conns; c; c = c->next)
        conn_doom(c, NULL);
}

/* ---- output ---- */

/* Stop reading; the connection is closed once its queued output has been written. */
static void close_after_write(struct conn *c)
{
    c->close_after_write = true;
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

static void send_frame(struct conn *c, const struct jute_writer *jw)
{
    if (c->doomed)
        return;
    if (jw->err || bufferevent_write(c->bev, jw->data, jw->len) != 0) {
        conn_doom(c, "out of memory queueing a reply");
        return;
    }
    c->sent++;
    c->srv->stats.packets_sent++;
    size_t queued = evbuffer_get_length(bufferevent_get_output(c->bev));
    if (queued > OUT_HARD_BYTES) {
        /* A client that does not read what it asked for (or its notifications) must not make
         * the member grow: ZooKeeper's clients reconnect and re-read. */
        ZK_WARN_RL("%s:%d session 0x%llx: %zu bytes of replies unread; disconnecting", c->addr,
                   c->port, (unsigned long long)c->session_id, queued);
        conn_doom(c, NULL);
        return;
    }
    if (!c->dirty) {
        c->dirty = true;
        c->dirty_next = c->srv->dirty;
        c->srv->dirty = c;
    }
    if (!c->reading_paused &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) > OUT_HIGH_BYTES) {
        c->reading_paused = true; /* the client is not reading its replies: stop reading it */
        bufferevent_disable(c->bev, EV_READ);
    }
}

static void send_reply(struct conn *c, int32_t xid, int32_t err, const struct jute_writer *body)
{
    struct srv *s = c->srv;
    struct jute_writer *jw = &s->scratch;
    jw_reset(jw);
    size_t mark = jw_begin_frame(jw);
    zk_reply_header_write(jw, xid, store_last_zxid(s->store), err);
    if (err == ZE_OK && body && body->len)
        jw_raw(jw, body->data, body->len);
    jw_end_frame(jw, mark);
    send_frame(c, jw);
}

static void record_latency(struct srv *s, int64_t start_ms)
{
    int64_t ms = srv_now_ms() - start_ms;
    struct srv_stats *st = &s->stats;
    if (st->latency_count == 0 || ms < st->latency_min_ms)
        st->latency_min_ms = ms;
    if (ms > st->latency_max_ms)
        st->latency_max_ms = ms;
    st->latency_total_ms += (uint64_t)ms;
    st->latency_count++;
}

void client_notify(void *ctx, uint64_t watcher, int32_t event_type, const char *path,
                   const struct acl_list *acl)
{
    struct srv *s = ctx;
    struct conn *c = i64map_get(&s->conn_by_id, (int64_t)watcher);
    if (!c || c->doomed)
        return;
    if (!store_acl_allows_read(acl, c->auth.data, (uint32_t)c->auth.len))
        return; /* as ZooKeeper 3.8: no events about nodes the connection may not read */
    struct jute_writer *jw = &s->scratch;
    jw_reset(jw);
    size_t mark = jw_begin_frame(jw);
    zk_reply_header_write(jw, ZXID_NOTIFICATION, -1, ZE_OK);
    jw_int(jw, event_type);
    jw_int(jw, ZST_SYNC_CONNECTED);
    jw_string(jw, path);
    jw_end_frame(jw, mark);
    send_frame(c, jw);
}

/* ---- auth and identity ---- */

/* c->auth is the jute vector<Id> of the connection's identities: ip first (every connection
 * has it, as in ZooKeeper), then digest ids, and super when the digest is the superDigest. */
static void add_auth_id(struct conn *c, const char *scheme, const char *id)
{
    if (c->n_auth == AUTH_IDS_MAX)
        return;
    if (c->auth.len == 0)
        jw_int(&c->auth, 0);
    jw_string(&c->auth, scheme);
    jw_string(&c->auth, id);
    jw_put_int_at(&c->auth, 0, ++c->n_auth);
}

static bool has_auth_id(const struct conn *c, const char *scheme, const char *id)
{
    struct jute_reader jr;
    jr_init(&jr, c->auth.data, c->auth.len);
    int32_t n = jr_vector_count(&jr, 8);
    for (int32_t i = 0; i < n && jr_ok(&jr); i++) {
        struct jute_bytes s = jr_bytes(&jr), v = jr_bytes(&jr);
        if (jr_ok(&jr) && (size_t)s.len == strlen(scheme) && !memcmp(s.ptr, scheme, (size_t)s.len) &&
            (size_t)v.len == strlen(id) && !memcmp(v.ptr, id, (size_t)v.len))
            return true;
    }
    return false;
}

/* AuthPacket{int type, ustring scheme, buffer auth}: digest ids are user:Base64(SHA1(user:pw)). */
static int32_t handle_auth(struct conn *c, const uint8_t *body, uint32_t len)
{
    struct jute_reader jr;
    jr_init(&jr, body, len);
    (void)jr_int(&jr);
    struct jute_bytes scheme = jr_bytes(&jr);
    struct jute_bytes auth = jr_bytes(&jr);
    if (!jr_ok(&jr))
        return ZE_MARSHALLINGERROR;
    if (scheme.len == 6 && !memcmp(scheme.ptr, "digest", 6) && auth.len > 0) {
        /* As ZooKeeper's DigestAuthenticationProvider: the user is what precedes the first ':'
         * (all of it when there is none) and the digest covers the whole credential. */
        const uint8_t *colon = memchr(auth.ptr, ':', (size_t)auth.len);
        size_t user_len = colon ? (size_t)(colon - auth.ptr) : (size_t)auth.len;
        if (user_len > 255)
            return ZE_AUTHFAILED;
        uint8_t digest[20];
        char b64[32], id[300];
        zk_sha1(auth.ptr, (size_t)auth.len, digest);
        zk_base64(digest, sizeof digest, b64);
        snprintf(id, sizeof id, "%.*s:%s", (int)user_len, (const char *)auth.ptr, b64);
        if (!has_auth_id(c, "digest", id))
            add_auth_id(c, "digest", id);
        const char *super = c->srv->cfg.super_digest;
        if (super[0] && !strcmp(id, super) && !has_auth_id(c, "super", ""))
            add_auth_id(c, "super", "");
        return ZE_OK;
    }
    if (scheme.len == 2 && !memcmp(scheme.ptr, "ip", 2))
        return ZE_OK; /* every connection already has its ip identity */
    return ZE_AUTHFAILED;
}

/* WhoAmIResponse{vector<ClientInfo{ustring authScheme, ustring user}>}: one per identity; a
 * digest id shows its user name only, as ZooKeeper's provider does. */
static void write_whoami(struct conn *c, struct jute_writer *out)
{
    struct jute_reader jr;
    jr_init(&jr, c->auth.data, c->auth.len);
    int32_t n = jr_vector_count(&jr, 8);
    jw_int(out, n);
    for (int32_t i = 0; i < n; i++) {
        struct jute_bytes scheme = jr_bytes(&jr), id = jr_bytes(&jr);
        ZK_ASSERT(jr_ok(&jr)); /* we built it */
        const uint8_t *colon = id.len > 0 ? memchr(id.ptr, ':', (size_t)id.len) : NULL;
        bool digest = scheme.len == 6 && !memcmp(scheme.ptr, "digest", 6);
        jw_bytes(out, scheme.ptr, scheme.len);
        jw_bytes(out, id.ptr, digest && colon ? (int32_t)(colon - id.ptr) : id.len);
    }
}

/* ---- executing requests in FIFO order ---- */

static void exec_local(struct conn *c, int32_t xid, int32_t type, const uint8_t *body,
                       uint32_t len)
{
    struct srv *s = c->srv;
    struct jute_writer *out = &s->body_scratch;
    jw_reset(out);
    int32_t err;
    if (type == ZOP_AUTH) {
        err = handle_auth(c, body, len);
        send_reply(c, ZXID_AUTH, err, NULL);
        if (err != ZE_OK) {
            close_after_write(c); /* as ZooKeeper: AuthFailed, then close */
        }
        return;
    }
    if (type == ZOP_WHOAMI) {
        write_whoami(c, out);
        err = ZE_OK;
    } else {
        err = store_read_as(s->store, type, body, len, c->session_id, c->id, c->auth.data,
                            (uint32_t)c->auth.len, out);
        if (err == ZE_MARSHALLINGERROR)
            ZK_WARN_RL("%s:%d: read (opcode %d) refused: malformed, or its reply would exceed "
                       "jute.maxbuffer (%d)", c->addr, c->port, (int)type, s->cfg.max_buffer);
    }
    send_reply(c, xid, err, out);
}

static void exec_sync(struct conn *c, struct pending_req *r)
{
    struct jute_reader jr;
    jr_init(&jr, r->body, r->body_len);
    struct jute_bytes path = jr_bytes(&jr);
    struct jute_writer *out = &c->srv->body_scratch;
    jw_reset(out);
    jw_bytes(out, path.ptr, path.len < 0 ? 0 : path.len); /* SyncResponse{path}, never null */
    send_reply(c, r->xid, jr_ok(&jr) ? ZE_OK : ZE_MARSHALLINGERROR, out);
}

static bool sync_ready(const struct conn *c, const struct pending_req *r)
{
    return store_last_zxid(c->srv->store) >= r->wait_zxid;
}

static void pop_head(struct conn *c)
{
    struct pending_req *r = c->head;
    ZK_ASSERT(r && c->n_pending > 0);
    c->head = r->next;
    if (!c->head)
        c->tail = NULL;
    c->n_pending--;
    free_req(c->srv, r);
}

/* Answer every queued request that no longer waits for an earlier write. */
static void drain(struct conn *c)
{
    while (c->head && !c->doomed) {
        struct pending_req *r = c->head;
        if (r->kind == REQ_WRITE || (r->kind == REQ_SYNC && !sync_ready(c, r)))
            break;
        if (r->kind == REQ_SYNC)
            exec_sync(c, r);
        else if (r->kind == REQ_ERROR)
            send_reply(c, r->xid, r->err, NULL);
        else
            exec_local(c, r->xid, r->type, r->body, r->body_len);
        record_latency(c->srv, r->start_ms);
        pop_head(c);
    }
}

static struct pending_req *enqueue(struct conn *c, enum req_kind kind, int32_t xid,
                                   int32_t type, const uint8_t *body, uint32_t len)
{
    bool keep_body = kind == REQ_LOCAL || kind == REQ_SYNC;
    struct pending_req *r = zk_malloc(sizeof *r + (keep_body ? len : 0));
    if (!r) {
        conn_doom(c, "out of memory queueing a request");
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->xid = xid;
    r->type = type;
    r->kind = kind;
    r->start_ms = srv_now_ms();
    if (keep_body) {
        r->body_len = len;
        if (len)
            memcpy(r->body, body, len);
    }
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->n_pending++;
    c->srv->outstanding++;
    if (kind == REQ_SYNC)
        c->srv->syncs_waiting++;
    return r;
}

static void queue_error(struct conn *c, int32_t xid, int32_t type, int32_t err)
{
    if (!c->head) {
        send_reply(c, xid, err, NULL);
        return;
    }
    struct pending_req *r = enqueue(c, REQ_ERROR, xid, type, NULL, 0);
    if (r)
        r->err = err;
}

/* ---- requests of an established session ---- */

static void submit_write(struct conn *c, int32_t xid, int32_t type, const uint8_t *body,
                         uint32_t len)
{
    struct srv *s = c->srv;
    struct store_txn txn = {
        .session_id = c->session_id, .cxid = xid, .type = type, .body = body,
        .body_len = len, .auth = c->auth.data, .auth_len = (uint32_t)c->auth.len,
    };
    int32_t err = repl_submit(s, &txn); /* validates it completely first */
    if (err == ZE_CONNECTIONLOSS) {
        conn_doom(c, "no leader to order the write"); /* the client retries elsewhere */
        return;
    }
    if (err != ZE_OK) {
        queue_error(c, xid, type, err);
        return;
    }
    if (type == ZOP_CLOSESESSION && repl_is_leader(s))
        sess_tracker_remove(s->tracker, c->session_id); /* closing: never expire it too */
    enqueue(c, REQ_WRITE, xid, type, NULL, 0);
}

static bool is_local_op(int32_t type)
{
    switch (type) {
    case ZOP_EXISTS: case ZOP_GETDATA: case ZOP_GETACL: case ZOP_GETCHILDREN:
    case ZOP_GETCHILDREN2: case ZOP_CHECKWATCHES: case ZOP_REMOVEWATCHES: case ZOP_MULTIREAD:
    case ZOP_AUTH: case ZOP_SETWATCHES: case ZOP_GETEPHEMERALS: case ZOP_GETALLCHILDRENNUMBER:
    case ZOP_SETWATCHES2: case ZOP_ADDWATCH: case ZOP_WHOAMI:
        return true;
    default:
        return false;
    }
}

static void dispatch(struct conn *c, int32_t xid, int32_t type, const uint8_t *body,
                     uint32_t len)
{
    struct srv *s = c->srv;
    if (type == ZOP_PING) { /* answered at once, even behind pending writes */
        send_reply(c, ZXID_PING, ZE_OK, NULL);
        return;
    }
    if (is_local_op(type)) {
        if (!c->head)
            exec_local(c, xid, type, body, len);
        else
            enqueue(c, REQ_LOCAL, xid, type, body, len);
        return;
    }
    if (type == ZOP_SYNC) {
        struct pending_req *r = enqueue(c, REQ_SYNC, xid, type, body, len);
        if (!r)
            return;
        r->wait_zxid = INT64_MAX; /* until the leader says which zxid to wait for */
        int64_t zxid;
        if (repl_sync(s, c->id, xid, &zxid))
            r->wait_zxid = zxid;
        drain(c);
        return;
    }
    if (type == ZOP_RECONFIG) {
        queue_error(c, xid, type, ZE_RECONFIGDISABLED);
        return;
    }
    if (type == ZOP_CREATESESSION || type == ZOP_DELETECONTAINER) {
        /* Sessions are created by the handshake only: a createSession sent as a request would
         * re-create this session with a timeout no handshake negotiated. deleteContainer is
         * the server's own (ZooKeeper 3.8 answers BadArguments to a client that sends it). */
        queue_error(c, xid, type, ZE_BADARGUMENTS);
        return;
    }
    if (zk_op_is_write(type) && type != ZOP_CHECK) {
        submit_write(c, xid, type, body, len);
        return;
    }
    /* As ZooKeeper (Request.isValid): Unimplemented, then the connection is closed. */
    ZK_WARN_RL("%s:%d sent unknown opcode %d", c->addr, c->port, (int)type);
    queue_error(c, xid, type, ZE_UNIMPLEMENTED);
    close_after_write(c);
}

static void handle_request(struct conn *c, const uint8_t *frame, uint32_t len)
{
    struct jute_reader jr;
    jr_init(&jr, frame, len);
    int32_t xid = jr_int(&jr);
    int32_t type = jr_int(&jr);
    if (!jr_ok(&jr)) {
        conn_doom(c, "request shorter than its header");
        return;
    }
    repl_touch(c->srv, c->session_id);
    dispatch(c, xid, type, frame + 8, len - 8);
}


/* ---- the connect handshake ---- */

/* ConnectResponse{int protocolVersion, int timeOut, long sessionId, buffer passwd[, bool ro]};
 * timeOut 0 and sessionId 0 tell every client the session is expired. */
static void send_connect_response(struct conn *c, bool valid)
{
    static const uint8_t zero_passwd[ZK_PASSWD_LEN];
    struct jute_writer *jw = &c->srv->scratch;
    jw_reset(jw);
    size_t mark = jw_begin_frame(jw);
    jw_int(jw, 0);
    jw_int(jw, valid ? c->timeout_ms : 0);
    jw_long(jw, valid ? c->session_id : 0);
    jw_bytes(jw, valid ? c->passwd : zero_passwd, ZK_PASSWD_LEN);
    if (c->ro_byte)
        jw_bool(jw, false);
    jw_end_frame(jw, mark);
    send_frame(c, jw);
    if (!valid)
        close_after_write(c);
}

static int64_t new_session_id(struct srv *s)
{
    int64_t id;
    do {
        id = s->next_session_id++;
    } while (id == 0 || id == INT64_MIN || store_session_exists(s->store, id));
    return id;
}

static void create_session(struct conn *c)
{
    struct srv *s = c->srv;
    c->session_id = new_session_id(s);
    if (getrandom(c->passwd, sizeof c->passwd, 0) != (ssize_t)sizeof c->passwd) {
        conn_doom(c, "getrandom failed");
        return;
    }
    struct jute_writer body;
    jw_init(&body);
    jw_int(&body, c->timeout_ms);
    jw_bytes(&body, c->passwd, ZK_PASSWD_LEN);
    struct store_txn txn = {.session_id = c->session_id, .type = ZOP_CREATESESSION,
                            .body = body.data, .body_len = (uint32_t)body.len};
    int rc = body.err ? ZE_SYSTEMERROR : repl_submit(s, &txn);
    jw_free(&body);
    if (rc != ZE_OK || i64map_put(&s->conn_by_session, c->session_id, c) != 0) {
        conn_doom(c, "could not log the new session");
        return;
    }
    c->state = CONN_CONNECTING; /* the ConnectResponse waits for the createSession commit */
}

static void resume_session(struct conn *c, int64_t session_id, struct jute_bytes passwd)
{
    struct srv *s = c->srv;
    int32_t stored_timeout;
    uint8_t stored[ZK_PASSWD_LEN];
    bool known = store_session_get(s->store, session_id, &stored_timeout, stored) &&
                 repl_session_alive(s, session_id);
    /* As ZooKeeper 3.8: the session's current connection here is closed before the password
     * is checked, so a resume attempt always moves the session off its old connection. */
    struct conn *old = i64map_get(&s->conn_by_session, session_id);
    if (old && old != c)
        conn_doom(old, "session is being resumed on a new connection");
    c->session_id = session_id;
    if (!known || passwd.len != ZK_PASSWD_LEN || memcmp(stored, passwd.ptr, ZK_PASSWD_LEN)) {
        ZK_INFO("%s:%d: session 0x%llx %s", c->addr, c->port, (unsigned long long)session_id,
                known ? "wrong password" : "expired or unknown");
        c->session_id = 0;
        send_connect_response(c, false);
        return;
    }
    memcpy(c->passwd, stored, ZK_PASSWD_LEN);
    if (i64map_put(&s->conn_by_session, session_id, c) != 0 ||
        (repl_is_leader(s) &&
         srv_track_session(s, session_id, c->timeout_ms) != 0)) {
        conn_doom(c, "out of memory resuming a session");
        return;
    }
    c->state = CONN_ESTABLISHED;
    send_connect_response(c, true);
}

static void handle_connect(struct conn *c, const uint8_t *frame, uint32_t len)
{
    struct srv *s = c->srv;
    struct jute_reader jr;
    jr_init(&jr, frame, len);
    (void)jr_int(&jr); /* protocolVersion */
    int64_t last_zxid_seen = jr_long(&jr);
    int32_t timeout = jr_int(&jr);
    int64_t session_id = jr_long(&jr);
    struct jute_bytes passwd = jr_bytes(&jr);
    if (!jr_ok(&jr)) {
        conn_doom(c, "malformed ConnectRequest");
        return;
    }
    c->ro_byte = jr_remaining(&jr) >= 1;
    if (!repl_serving(s)) {
        /* Not part of an established quorum: the client should try another member. */
        conn_doom(c, NULL);
        return;
    }
    if (last_zxid_seen > store_last_zxid(s->store)) {
        /* The client has seen a newer state than ours: let it find a member that has it. */
        ZK_INFO("%s:%d has seen zxid 0x%llx, ahead of ours 0x%llx", c->addr, c->port,
                (unsigned long long)last_zxid_seen, (unsigned long long)store_last_zxid(s->store));
        conn_doom(c, NULL);
        return;
    }
    if (timeout < s->cfg.min_session_timeout_ms)
        timeout = s->cfg.min_session_timeout_ms;
    if (timeout > s->cfg.max_session_timeout_ms)
        timeout = s->cfg.max_session_timeout_ms;
    c->timeout_ms = timeout;
    if (session_id == 0)
        create_session(c);
    else
        resume_session(c, session_id, passwd);
}

bool client_on_applied(struct srv *s, const struct store_txn *txn, int32_t err,
                       const struct jute_writer *body)
{
    if (txn->session_id == 0)
        return false; /* an internal txn (container/TTL reaping): nobody to answer */
    struct conn *c = i64map_get(&s->conn_by_session, txn->session_id);
    if (!c || c->doomed)
        return false;
    if (txn->type == ZOP_CREATESESSION) {
        if (c->state != CONN_CONNECTING)
            return false;
        c->state = CONN_ESTABLISHED;
        send_connect_response(c, err == ZE_OK);
        process_input(c); /* requests the client pipelined behind its ConnectRequest */
        return true;
    }
    struct pending_req *r = c->head;
    bool mine = r && r->kind == REQ_WRITE && r->xid == txn->cxid && r->type == txn->type;
    if (!mine) {
        if (txn->type == ZOP_CLOSESESSION) /* expired, or closed through another member */
            conn_doom(c, "session closed");
        return false;
    }
    send_reply(c, r->xid, err, body);
    record_latency(s, r->start_ms);
    pop_head(c);
    if (txn->type == ZOP_CLOSESESSION) {
        close_after_write(c);
        return true;
    }
    drain(c);
    return true;
}

void client_on_failed(struct srv *s, const struct store_txn *txn, int32_t err)
{
    if (txn->session_id == 0)
        return;
    struct conn *c = i64map_get(&s->conn_by_session, txn->session_id);
    if (!c || c->doomed)
        return;
    if (txn->type == ZOP_CREATESESSION || err == ZE_CONNECTIONLOSS) {
        conn_doom(c, "the write could not be ordered (no leader)");
        return;
    }
    struct pending_req *r = c->head;
    if (r && r->kind == REQ_WRITE && r->xid == txn->cxid) {
        send_reply(c, r->xid, err, NULL);
        pop_head(c);
        drain(c);
    }
}

void client_sync_resolved(struct srv *s, uint64_t conn_id, int32_t xid, int64_t zxid)
{
    struct conn *c = i64map_get(&s->conn_by_id, (int64_t)conn_id);
    if (!c || c->doomed)
        return;
    for (struct pending_req *r = c->head; r; r = r->next) {
        if (r->kind == REQ_SYNC && r->xid == xid && r->wait_zxid == INT64_MAX) {
            r->wait_zxid = zxid;
            break;
        }
    }
    drain(c);
}

void client_describe_all(struct srv *s, struct jute_writer *out)
{
    for (struct conn *c = s->conns; c; c = c->next) {
        if (c->doomed)
            continue;
        char line[256];
        int n = snprintf(line, sizeof line, " /%s:%d[%d](queued=%zu,recved=%llu,sent=%llu)\n",
                         c->addr, c->port, c->state == CONN_ESTABLISHED ? 1 : 0, c->n_pending,
                         (unsigned long long)c->received, (unsigned long long)c->sent);
        if (n > 0)
            jw_raw(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

void client_drain_all(struct srv *s)
{
    if (s->syncs_waiting == 0)
        return; /* the usual case: no walk over every connection each loop turn */
    int64_t give_up_ms = (int64_t)s->cfg.sync_limit * s->cfg.tick_ms;
    for (struct conn *c = s->conns; c; c = c->next) {
        struct pending_req *r = c->head;
        if (!r || r->kind != REQ_SYNC || c->doomed)
            continue;
        /* The leader's answer was lost (a link reset): let the client retry elsewhere rather
         * than wait forever. */
        if (r->wait_zxid == INT64_MAX && srv_now_ms() - r->start_ms > give_up_ms)
            conn_doom(c, "the leader did not answer a sync");
        else
            drain(c);
    }
}

/* ---- framing and socket events ---- */

static void answer_fourlw(struct conn *c, const uint8_t word[4])
{
    char cmd[5];
    memcpy(cmd, word, 4);
    cmd[4] = '\0';
    struct jute_writer *out = &c->srv->scratch;
    jw_reset(out);
    fourlw_answer(c->srv, cmd, out);
    send_frame(c, out);
    close_after_write(c);
}

static bool output_high(const struct conn *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev)) > OUT_HIGH_BYTES;
}

/* globalOutstandingLimit: while the member holds that many queued requests, connections stop
 * being read (ZooKeeper's throttling); client_unthrottle resumes them. */
static bool throttle_if_over_limit(struct conn *c)
{
    struct srv *s = c->srv;
    if (c->state != CONN_ESTABLISHED || s->cfg.global_outstanding_limit <= 0 ||
        s->outstanding < (size_t)s->cfg.global_outstanding_limit)
        return false;
    if (!c->throttled) {
        c->throttled = true;
        s->n_throttled++;
        bufferevent_disable(c->bev, EV_READ);
        ZK_WARN_RL("%zu requests outstanding (globalOutstandingLimit=%d): throttling clients",
                   s->outstanding, s->cfg.global_outstanding_limit);
    }
    return true;
}

void client_unthrottle(struct srv *s)
{
    if (s->n_throttled == 0 || s->outstanding >= (size_t)s->cfg.global_outstanding_limit / 2 + 1)
        return;
    for (struct conn *c = s->conns; c; c = c->next) {
        if (!c->throttled)
            continue;
        c->throttled = false;
        s->n_throttled--;
        if (!c->doomed && !c->reading_paused && !c->close_after_write)
            bufferevent_enable(c->bev, EV_READ);
        if (!c->doomed)
            process_input(c); /* frames may already be buffered */
    }
}

static void update_backpressure(struct conn *c)
{
    if (c->doomed || c->close_after_write || c->throttled)
        return;
    size_t out = evbuffer_get_length(bufferevent_get_output(c->bev));
    bool overloaded = c->n_pending >= PENDING_MAX || out > OUT_HIGH_BYTES;
    if (overloaded && !c->reading_paused) {
        c->reading_paused = true;
        bufferevent_disable(c->bev, EV_READ);
    } else if (!overloaded && c->reading_paused && out < OUT_LOW_BYTES &&
               c->n_pending < PENDING_MAX / 2) {
        c->reading_paused = false;
        bufferevent_enable(c->bev, EV_READ);
    }
}

/* Decode and handle every complete frame in the input buffer. */
static void process_input(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    uint32_t max = (uint32_t)c->srv->cfg.max_buffer;
    while (!c->doomed && !c->close_after_write && c->state != CONN_CONNECTING &&
           c->n_pending < PENDING_MAX && !output_high(c) && !throttle_if_over_limit(c)) {
        size_t avail = evbuffer_get_length(in);
        uint8_t head[4];
        if (avail < 4 || evbuffer_copyout(in, head, 4) != 4)
            break;
        if (c->state == CONN_NEW && fourlw_is_command(head)) {
            answer_fourlw(c, head);
            break;
        }
        uint32_t len = be32_load(head);
        if (len > max || (c->state == CONN_NEW && len < 20)) {
            ZK_WARN("%s:%d: frame length %d out of range; closing", c->addr, c->port,
                    (int32_t)len);
            conn_doom(c, NULL);
            break;
        }
        if (avail < 4 + (size_t)len)
            break;
        const uint8_t *frame = evbuffer_pullup(in, 4 + (ssize_t)len);
        if (!frame) {
            conn_doom(c, "out of memory reading a frame");
            break;
        }
        c->received++;
        c->srv->stats.packets_received++;
        if (c->state == CONN_NEW) {
            if (c->handshake_ev)
                event_del(c->handshake_ev);
            handle_connect(c, frame + 4, len);
        }
        else
            handle_request(c, frame + 4, len);
        evbuffer_drain(in, 4 + (size_t)len);
    }
    update_backpressure(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    process_input(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (c->close_after_write && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        conn_doom(c, NULL);
        return;
    }
    if (c->reading_paused) {
        update_backpressure(c);
        if (!c->reading_paused)
            process_input(c); /* frames may already be buffered */
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (what & BEV_EVENT_ERROR)
        conn_doom(c, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    else if (what & BEV_EVENT_EOF)
        conn_doom(c, c->state == CONN_NEW ? NULL : "client closed the connection");
}

/* ---- accepting ---- */

static int count_from_addr(const struct srv *s, const char *addr)
{
    int n = 0;
    for (const struct conn *c = s->conns; c; c = c->next)
        if (!c->doomed && !strcmp(c->addr, addr))
            n++;
    return n;
}

static void describe_peer(const struct sockaddr *sa, char *addr, size_t size, int *port)
{
    addr[0] = '\0';
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)size);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)size);
        *port = ntohs(in6->sin6_port);
    }
}

static void on_handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (c->state == CONN_NEW && !c->doomed) {
        ZK_WARN_RL("%s:%d sent no ConnectRequest within %d ms; closing", c->addr, c->port,
                   HANDSHAKE_TIMEOUT_MS);
        conn_doom(c, NULL);
    }
}

static int arm_handshake_timer(struct conn *c)
{
    struct timeval tv = {HANDSHAKE_TIMEOUT_MS / 1000, (HANDSHAKE_TIMEOUT_MS % 1000) * 1000};
    c->handshake_ev = evtimer_new(c->srv->base, on_handshake_timeout, c);
    return c->handshake_ev && evtimer_add(c->handshake_ev, &tv) == 0 ? 0 : -1;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)l;
    (void)socklen;
    struct srv *s = arg;
    s->accept_backoff_ms = 0;
    char addr[INET6_ADDRSTRLEN];
    int port;
    describe_peer(sa, addr, sizeof addr, &port);
    if (s->cfg.max_client_cnxns > 0 && count_from_addr(s, addr) >= s->cfg.max_client_cnxns) {
        ZK_WARN("too many connections from %s (maxClientCnxns=%d); refusing", addr,
                s->cfg.max_client_cnxns);
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = zk_calloc(1, sizeof *c);
    struct bufferevent *bev =
        c ? bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!c || !bev || i64map_put(&s->conn_by_id, (int64_t)s->next_conn_id, c) != 0) {
        ZK_ERROR("out of memory accepting a connection from %s", addr);
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        zk_free(c);
        return;
    }
    c->srv = s;
    c->id = s->next_conn_id++;
    c->bev = bev;
    jw_init(&c->auth);
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    add_auth_id(c, "ip", addr);
    c->port = port;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW_BYTES, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (arm_handshake_timer(c) != 0)
        conn_doom(c, "out of memory arming the handshake timer");
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct srv *s = arg;
    if (s->listener && evconnlistener_enable(s->listener) != 0)
        ZK_ERROR_RL("cannot re-enable the client listener");
}

/* EMFILE and friends: the pending connection stays in the backlog, so accepting again at once
 * would fail again at once (a busy loop). Pause the listener with a doubling backoff instead and
 * keep serving the connections we have. */
static void on_listen_error(struct evconnlistener *l, void *arg)
{
    struct srv *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    int ms = s->accept_backoff_ms ? s->accept_backoff_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
    s->accept_backoff_ms = ms > ACCEPT_BACKOFF_MAX_MS ? ACCEPT_BACKOFF_MAX_MS : ms;
    ZK_ERROR_RL("accept failed: %s; not accepting for %d ms (%zu connections open)",
                evutil_socket_error_to_string(err), s->accept_backoff_ms, s->n_conns);
    struct timeval tv = {0, s->accept_backoff_ms * 1000};
    if (evconnlistener_disable(l) != 0 || !s->accept_retry_ev ||
        evtimer_add(s->accept_retry_ev, &tv) != 0)
        ZK_ERROR_RL("cannot pause the client listener");
}

int client_listen(struct srv *s)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    const char *host = s->cfg.client_addr[0] ? s->cfg.client_addr : "0.0.0.0";
    struct sockaddr_in *in = (void *)&ss;
    struct sockaddr_in6 *in6 = (void *)&ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)s->cfg.client_port);
        len = sizeof *in;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)s->cfg.client_port);
        len = sizeof *in6;
    } else {
        ZK_ERROR("clientPortAddress '%s' is not a numeric address", host);
        return -1;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    for (int attempt = 0; attempt < 50; attempt++) {
        s->listener = evconnlistener_new_bind(s->base, on_accept, s, flags, 1024,
                                              (struct sockaddr *)&ss, (int)len);
        if (s->listener)
            break;
        /* design.md #10: the port may be briefly held by someone's outgoing connection. */
        ZK_WARN("cannot bind client port %d: %s; retrying", s->cfg.client_port, strerror(errno));
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (!s->listener) {
        ZK_ERROR("cannot listen on %s:%d", host, s->cfg.client_port);
        return -1;
    }
    evconnlistener_set_error_cb(s->listener, on_listen_error);
    s->accept_retry_ev = evtimer_new(s->base, on_accept_retry, s);
    return s->accept_retry_ev ? 0 : -1;
}
