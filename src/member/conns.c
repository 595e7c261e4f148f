/* Client connections, without sockets: jute framing, the connect handshake, per-session FIFO
 * request queues, replies and watch notifications, limits (design.md #6, #8). Bytes come in
 * through conns_input and leave through the member's network seam (member_env). */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"
#include "member/member_internal.h"
#include "security/digest.h"
#include "session/sessions.h"

#define OUT_HIGH_BYTES (4u << 20)   /* stop reading a client whose replies pile up */
#define OUT_LOW_BYTES (256u << 10)  /* ...and resume below this */
/* A client that lets this much pile up is disconnected (one largest reply fits). */
#define OUT_HARD_BYTES ((size_t)MEMBER_MAX_REPLY_BYTES + OUT_HIGH_BYTES)
#define WRITER_KEEP_BYTES (2u << 20) /* reply buffers above this are freed after the turn */
/* Client output (all connections) that a reply over jute.maxbuffer may join: many clients
 * asking for huge children lists must not add up to gigabytes. */
#define BIG_REPLIES_BUDGET (256u << 20)
#define PENDING_MAX 4096            /* requests queued per connection before we stop reading */
#define AUTH_IDS_MAX 16
#define HANDSHAKE_TIMEOUT_MS 10000  /* ZooKeeper's sessionlessCnxnTimeout */
/* A failed SASL authentication is answered this much later (docs/security.md): it slows
 * password guessing, and kazoo's start(), which reports "connected" before it authenticates,
 * needs the time to see that it was (against us it otherwise raised a time-out at random). */
#define SASL_FAILURE_DELAY_MS 200
#define ADDR_MAX 64

enum conn_state { CONN_NEW, CONN_CONNECTING, CONN_ESTABLISHED };
enum req_kind { REQ_WRITE, REQ_SYNC, REQ_LOCAL, REQ_ERROR };

/* The lists a connection can be on besides every connection's: the FIFO ones are in deadline
 * order, since each deadline is a fixed time after the connection joined. */
enum conn_list {
    LIST_FRESH,     /* CONN_NEW: its ConnectRequest is due (HANDSHAKE_TIMEOUT_MS), FIFO */
    LIST_SYNC,      /* has syncs queued (n_syncs > 0) */
    LIST_AUTH_FAIL, /* its SASL failure is answered at auth_fail_at_ms, FIFO */
    CONN_LISTS
};
struct conn;
struct conn_link {
    struct conn *prev, *next;
    bool on;
};
struct conn_list_head {
    struct conn *head, *tail;
};

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
    struct conn_link link[CONN_LISTS];
    size_t n_syncs;          /* REQ_SYNC among the queued requests */
    struct conns *cs;
    uint64_t id;
    enum conn_state state;
    bool closing;            /* asked the io layer to close it; waiting for conns_closed */
    bool close_after_write;
    bool reading_paused;
    bool throttled;          /* stopped reading: globalOutstandingLimit was reached */
    bool ro_byte;            /* the ConnectRequest had the readOnly flag: answer with one */
    bool ro_client;          /* ...and it was true: the client takes read-only service */
    bool read_only;          /* served read-only (the member has no quorum) */
    bool ro_local;           /* its session is a read-only session of this member */
    int32_t auth_fail_xid, auth_fail_err;
    int64_t auth_fail_at_ms;
    int64_t opened_ms;
    int64_t session_id;
    int32_t timeout_ms;
    uint8_t passwd[ZK_PASSWD_LEN];
    struct pending_req *head, *tail;
    size_t n_pending;
    struct jute_writer auth; /* jute vector<Id> (ip, digest, super), stamped on the session's txns */
    int32_t n_auth;
    uint64_t received, sent;
    char addr[ADDR_MAX];
    int port;
};

struct conns {
    struct member *m;
    struct conn *list;            /* every open connection */
    struct conn_list_head lists[CONN_LISTS];
    struct i64map by_id;          /* conn id (also the watcher id) -> conn */
    struct i64map by_session;     /* session id -> the conn that owns it here */
    size_t n;
    size_t outstanding;           /* queued requests, over all connections */
    size_t n_throttled;
    bool notifying;               /* inside the store's watch walk (conns_notify) */
    struct jute_writer scratch;   /* frame assembly */
    struct jute_writer body;      /* reply bodies */
};

static void process_input_again(struct conn *c);
static void drain(struct conn *c);
static void close_after_write(struct conn *c);

static const struct member_env *env_of(const struct conn *c) { return &c->cs->m->env; }

/* Its SASL exchange failed: nothing more is read or answered until its AuthFailed goes out. */
static bool auth_failing(const struct conn *c) { return c->link[LIST_AUTH_FAIL].on; }

/* Take c off list l (if it is on it). */
static void list_remove(struct conn *c, enum conn_list l)
{
    struct conn_link *link = &c->link[l];
    struct conn_list_head *list = &c->cs->lists[l];
    if (!link->on)
        return;
    if (link->prev)
        link->prev->link[l].next = link->next;
    else
        list->head = link->next;
    if (link->next)
        link->next->link[l].prev = link->prev;
    else
        list->tail = link->prev;
    link->on = false;
}

/* Put c at the tail of list l. */
static void list_append(struct conn *c, enum conn_list l)
{
    struct conn_link *link = &c->link[l];
    struct conn_list_head *list = &c->cs->lists[l];
    ZK_ASSERT(!link->on);
    link->prev = list->tail;
    link->next = NULL;
    if (list->tail)
        list->tail->link[l].next = c;
    else
        list->head = c;
    list->tail = c;
    link->on = true;
}

/* ---- lifetime ---- */

struct conns *conns_new(struct member *m)
{
    struct conns *cs = zk_calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->m = m;
    i64map_init(&cs->by_id);
    i64map_init(&cs->by_session);
    jw_init(&cs->scratch);
    jw_init(&cs->body);
    return cs;
}

static void unlink_session(struct conn *c)
{
    struct conns *cs = c->cs;
    if (c->session_id && i64map_get(&cs->by_session, c->session_id) == c)
        i64map_del(&cs->by_session, c->session_id);
}

/* Ask the io layer to close c; it stays (inert) until conns_closed. */
static void conn_close(struct conn *c, const char *why)
{
    if (c->closing)
        return;
    if (why)
        ZK_INFO("closing connection %s:%d session 0x%llx: %s", c->addr, c->port,
                (unsigned long long)c->session_id, why);
    c->closing = true;
    unlink_session(c);
    /* Inside a notification the store is walking its watches: removing ours now would free
     * registrations under it. conns_closed removes them (a closing connection gets no events). */
    if (!c->cs->notifying)
        store_remove_watcher(c->cs->m->store, c->id);
    env_of(c)->conn_close(env_of(c)->io, c->id, false);
}

/* Every queued request leaves through here: the count of outstanding requests stays exact. */
static void free_req(struct conns *cs, struct pending_req *r)
{
    ZK_ASSERT(cs->outstanding > 0);
    cs->outstanding--;
    zk_free(r);
}

static void conn_free(struct conn *c)
{
    struct conns *cs = c->cs;
    for (struct pending_req *r = c->head, *next; r; r = next) {
        next = r->next;
        free_req(cs, r);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cs->n--;
    if (c->throttled)
        cs->n_throttled--;
    for (int l = 0; l < CONN_LISTS; l++)
        list_remove(c, (enum conn_list)l);
    jw_free(&c->auth);
    zk_free(c);
}

void conns_closed(struct conns *cs, uint64_t id)
{
    struct conn *c = i64map_del(&cs->by_id, (int64_t)id);
    if (!c)
        return;
    if (!c->closing) { /* the client went away */
        c->closing = true;
        unlink_session(c);
    }
    store_remove_watcher(cs->m->store, c->id); /* also what conn_close left (a notification) */
    conn_free(c);
}

void conns_free(struct conns *cs)
{
    if (!cs)
        return;
    while (cs->list) {
        i64map_del(&cs->by_id, (int64_t)cs->list->id);
        conn_free(cs->list);
    }
    i64map_free(&cs->by_id);
    i64map_free(&cs->by_session);
    jw_free(&cs->scratch);
    jw_free(&cs->body);
    zk_free(cs);
}

void conns_close_all(struct conns *cs, bool after_flush)
{
    for (struct conn *c = cs->list; c; c = c->next) {
        if (after_flush)
            close_after_write(c);
        else
            conn_close(c, NULL);
    }
}

void conns_end_read_only(struct conns *cs)
{
    for (struct conn *c = cs->list; c; c = c->next)
        if (c->read_only)
            close_after_write(c);
}

void conns_session_expired(void *ctx, int64_t session)
{
    struct conns *cs = ctx;
    struct conn *c = i64map_get(&cs->by_session, session);
    if (c)
        conn_close(c, "session expired");
}

size_t conns_count(const struct conns *cs) { return cs->n; }
size_t conns_outstanding(const struct conns *cs) { return cs->outstanding; }

/* ---- output ---- */

/* Stop reading; the connection is closed once its queued output has been written. */
static void close_after_write(struct conn *c)
{
    if (c->closing || c->close_after_write)
        return;
    c->close_after_write = true;
    unlink_session(c);
    env_of(c)->conn_close(env_of(c)->io, c->id, true);
}

static size_t queued(const struct conn *c)
{
    return env_of(c)->conn_queued(env_of(c)->io, c->id);
}

static void set_reading(struct conn *c, bool on)
{
    env_of(c)->conn_reading(env_of(c)->io, c->id, on);
}

static void send_frame(struct conn *c, const struct jute_writer *jw)
{
    if (c->closing || c->close_after_write || auth_failing(c))
        return; /* an auth failing connection gets its answer alone, then closes */
    if (jw->err || env_of(c)->conn_send(env_of(c)->io, c->id, jw->data, jw->len) != 0) {
        conn_close(c, "out of memory queueing a reply");
        return;
    }
    c->sent++;
    c->cs->m->stats.packets_sent++;
    size_t q = queued(c);
    if (q > OUT_HARD_BYTES) {
        /* A client that does not read what it asked for (or its notifications) must not make
         * the member grow: ZooKeeper's clients reconnect and re-read. */
        ZK_WARN_RL("%s:%d session 0x%llx: %zu bytes of replies unread; disconnecting", c->addr,
                   c->port, (unsigned long long)c->session_id, q);
        conn_close(c, NULL);
        return;
    }
    if (!c->reading_paused && q > OUT_HIGH_BYTES) {
        c->reading_paused = true; /* the client is not reading its replies: stop reading it */
        set_reading(c, false);
    }
}

static void send_reply_at(struct conn *c, int32_t xid, int64_t zxid, int32_t err,
                          const struct jute_writer *body)
{
    struct jute_writer *jw = &c->cs->scratch;
    jw_reset(jw);
    size_t mark = jw_begin_frame(jw);
    zk_reply_header_write(jw, xid, zxid, err);
    if (err == ZE_OK && body && body->len)
        jw_raw(jw, body->data, body->len);
    jw_end_frame(jw, mark);
    send_frame(c, jw);
}

static void send_reply(struct conn *c, int32_t xid, int32_t err, const struct jute_writer *body)
{
    send_reply_at(c, xid, store_last_zxid(c->cs->m->store), err, body);
}

static void record_latency(struct member *m, int64_t start_ms)
{
    int64_t ms = member_now(m) - start_ms;
    struct member_stats *st = &m->stats;
    if (st->latency_count == 0 || ms < st->latency_min_ms)
        st->latency_min_ms = ms;
    if (ms > st->latency_max_ms)
        st->latency_max_ms = ms;
    st->latency_total_ms += (uint64_t)ms;
    st->latency_count++;
}

void conns_notify(void *ctx, uint64_t watcher, int32_t event_type, const char *path,
                  const struct acl_list *acl)
{
    struct conns *cs = ctx;
    struct conn *c = i64map_get(&cs->by_id, (int64_t)watcher);
    if (!c || c->closing)
        return;
    if (!store_acl_allows_read(acl, c->auth.data, (uint32_t)c->auth.len))
        return; /* as ZooKeeper 3.8: no events about nodes the connection may not read */
    struct jute_writer *jw = &cs->scratch;
    jw_reset(jw);
    size_t mark = jw_begin_frame(jw);
    zk_reply_header_write(jw, ZXID_NOTIFICATION, -1, ZE_OK);
    jw_int(jw, event_type);
    jw_int(jw, ZST_SYNC_CONNECTED);
    jw_string(jw, path);
    jw_end_frame(jw, mark);
    cs->notifying = true; /* a failed send closes c: see conn_close */
    send_frame(c, jw);
    cs->notifying = false;
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
    const struct zk_security *sec = &c->cs->m->cfg.sec;
    if (scheme.len == 6 && !memcmp(scheme.ptr, "digest", 6) && auth.len > 0 &&
        sec->digest_enabled) {
        /* As ZooKeeper's DigestAuthenticationProvider: the user is what precedes the first ':'
         * (all of it when there is none) and the digest covers the whole credential. */
        const uint8_t *colon = memchr(auth.ptr, ':', (size_t)auth.len);
        size_t user_len = colon ? (size_t)(colon - auth.ptr) : (size_t)auth.len;
        char id[400];
        if (user_len > 255 ||
            zk_digest_id(sec->digest_alg, auth.ptr, (size_t)auth.len, id, sizeof id) != 0)
            return ZE_AUTHFAILED;
        if (!has_auth_id(c, "digest", id))
            add_auth_id(c, "digest", id);
        const char *super = c->cs->m->cfg.super_digest;
        if (super[0] && !strcmp(id, super) && !has_auth_id(c, "super", ""))
            add_auth_id(c, "super", "");
        return ZE_OK;
    }
    if (scheme.len == 2 && !memcmp(scheme.ptr, "ip", 2))
        return ZE_OK; /* every connection already has its ip identity */
    return ZE_AUTHFAILED;
}

/* Is item one of the words of a comma- or space-separated list? */
static bool in_line_list_csv(const char *list, const char *item)
{
    size_t len = strlen(item);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == len && n && !memcmp(p, item, len))
            return true;
        p += n;
    }
    return false;
}

/* Is item one of the lines of a '\n'-separated list? */
static bool in_line_list(const char *list, const char *item)
{
    size_t len = strlen(item);
    for (const char *p = list; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n == len && !memcmp(p, item, len))
            return true;
        p += n + (nl ? 1 : 0);
    }
    return false;
}

/* A SASL exchange ended well: the sasl id (ZooKeeper's SaslServer authorization id), super
 * when zookeeper.superUser names it, and the letAnySaslUserDoX id every sasl user holds. */
static void sasl_authenticated(struct conn *c, const char *authzid)
{
    const struct zk_security *sec = &c->cs->m->cfg.sec;
    ZK_INFO("%s:%d session 0x%llx: SASL authorization id %s", c->addr, c->port,
            (unsigned long long)c->session_id, authzid);
    if (!has_auth_id(c, "sasl", authzid))
        add_auth_id(c, "sasl", authzid);
    if (in_line_list(sec->sasl_super_users, authzid) && !has_auth_id(c, "super", ""))
        add_auth_id(c, "super", "");
    if (sec->let_any_sasl_user[0] && !has_auth_id(c, "sasl", sec->let_any_sasl_user))
        add_auth_id(c, "sasl", sec->let_any_sasl_user);
}

/* Stop taking c's requests and answer its failed SASL exchange (xid, err) after
 * SASL_FAILURE_DELAY_MS (answer_auth_failures), then close it; ZooKeeper does it at once. */
static void delay_auth_failure(struct conn *c, int32_t xid, int32_t err)
{
    c->auth_fail_xid = xid;
    c->auth_fail_err = err;
    c->auth_fail_at_ms = member_now(c->cs->m) + SASL_FAILURE_DELAY_MS;
    set_reading(c, false);
    list_append(c, LIST_AUTH_FAIL);
}

/* GetSASLRequest{buffer token} -> SetSASLResponse{buffer token}. A failure ends the connection
 * (not the session) with AuthFailed, or SessionClosedRequireAuth when enforce.auth asks for
 * sasl, unless allowSaslFailedClients keeps it, as ZooKeeperServer.processSasl does. */
static void handle_sasl(struct conn *c, int32_t xid, const uint8_t *body, uint32_t len)
{
    const struct member_env *env = env_of(c);
    const struct zk_security *sec = &c->cs->m->cfg.sec;
    struct jute_reader jr;
    jr_init(&jr, body, len);
    struct jute_bytes token = jr_bytes(&jr);
    const uint8_t *out = NULL;
    size_t out_len = 0;
    char id[512] = "SASL is not configured on this server";
    int rc = MEMBER_SASL_FAILED;
    if (jr_ok(&jr) && env->sasl_step)
        rc = env->sasl_step(env->io, c->id, token.ptr, token.len > 0 ? (size_t)token.len : 0, &out,
                            &out_len, id, sizeof id);
    else if (!jr_ok(&jr))
        snprintf(id, sizeof id, "malformed SASL request");
    struct jute_writer *resp = &c->cs->body;
    jw_reset(resp);
    if (rc == MEMBER_SASL_FAILED) {
        bool required = sec->enforce_auth && in_line_list_csv(sec->enforce_auth_schemes, "sasl");
        ZK_WARN_RL("%s:%d session 0x%llx: SASL authentication failed: %s", c->addr, c->port,
                   (unsigned long long)c->session_id, id);
        if (sec->allow_sasl_failed && !required) {
            jw_bytes(resp, NULL, -1);
            send_reply(c, xid, ZE_OK, resp);
            return;
        }
        delay_auth_failure(c, xid, required ? ZE_SESSIONCLOSEDREQUIRESASLAUTH : ZE_AUTHFAILED);
        return;
    }
    if (rc == MEMBER_SASL_DONE)
        sasl_authenticated(c, id);
    jw_bytes(resp, out, out ? (int32_t)out_len : -1);
    send_reply(c, xid, ZE_OK, resp);
}

/* WhoAmIResponse{vector<ClientInfo{ustring authScheme, ustring user}>}: one per identity; a
 * digest id shows its user name only, as ZooKeeper's provider does. */
static void write_whoami(struct conn *c, struct jute_writer *out)
{
    struct jute_reader jr;
    jr_init(&jr, c->auth.data, c->auth.len);
    int32_t n = jr_vector_count(&jr, 8), shown = 0;
    size_t count_at = out->len;
    jw_int(out, 0);
    for (int32_t i = 0; i < n; i++) {
        struct jute_bytes scheme = jr_bytes(&jr), id = jr_bytes(&jr);
        ZK_ASSERT(jr_ok(&jr)); /* we built it */
        if (store_is_quota_mark(scheme))
            continue; /* the enforceQuota mark is nobody's identity */
        shown++;
        const uint8_t *colon = id.len > 0 ? memchr(id.ptr, ':', (size_t)id.len) : NULL;
        bool digest = scheme.len == 6 && !memcmp(scheme.ptr, "digest", 6);
        jw_bytes(out, scheme.ptr, scheme.len);
        jw_bytes(out, id.ptr, digest && colon ? (int32_t)(colon - id.ptr) : id.len);
    }
    jw_put_int_at(out, count_at, shown);
}

/* ---- executing requests in FIFO order ---- */

/* Bytes queued for every client: O(connections), asked only for replies over jute.maxbuffer. */
static size_t queued_total(const struct conns *cs)
{
    size_t total = 0;
    for (const struct conn *c = cs->list; c; c = c->next)
        total += queued(c);
    return total;
}

/* A reply over jute.maxbuffer goes out only while all client output stays within
 * BIG_REPLIES_BUDGET; otherwise the read gets MarshallingError (the client may retry). */
static bool big_reply_fits(const struct conn *c, size_t len)
{
    if (len <= (size_t)c->cs->m->cfg.max_buffer)
        return true;
    size_t total = queued_total(c->cs);
    if (total + len <= BIG_REPLIES_BUDGET)
        return true;
    ZK_WARN_RL("%s:%d: a %zu-byte reply refused: %zu bytes already queued for clients", c->addr,
               c->port, len, total);
    return false;
}

static void exec_local(struct conn *c, int32_t xid, int32_t type, const uint8_t *body,
                       uint32_t len)
{
    struct member *m = c->cs->m;
    struct jute_writer *out = &c->cs->body;
    jw_reset(out);
    int32_t err;
    if (type == ZOP_AUTH) {
        err = handle_auth(c, body, len);
        /* As ZooKeeper: the request's xid (-4 from kazoo, the C and Java clients; a counter
         * from others, e.g. go-zookeeper, which waits for it) and zxid 0. */
        send_reply_at(c, xid, 0, err, NULL);
        if (err != ZE_OK)
            close_after_write(c); /* as ZooKeeper: AuthFailed, then close */
        return;
    }
    if (type == ZOP_SASL) {
        handle_sasl(c, xid, body, len);
        return;
    }
    if (type == ZOP_WHOAMI) {
        write_whoami(c, out);
        err = ZE_OK;
    } else {
        err = store_read_as(m->store, type, body, len, c->session_id, c->id, c->auth.data,
                            (uint32_t)c->auth.len, out);
        if (err == ZE_MARSHALLINGERROR)
            ZK_WARN_RL("%s:%d: read (opcode %d) refused: malformed, or its reply would exceed "
                       "%d bytes (a multiRead's: jute.maxbuffer, %d)", c->addr, c->port,
                       (int)type, MEMBER_MAX_REPLY_BYTES, m->cfg.max_buffer);
        if (err == ZE_OK && !big_reply_fits(c, out->len))
            err = ZE_MARSHALLINGERROR;
    }
    send_reply(c, xid, err, out);
}

static void exec_sync(struct conn *c, struct pending_req *r)
{
    struct jute_reader jr;
    jr_init(&jr, r->body, r->body_len);
    struct jute_bytes path = jr_bytes(&jr);
    struct jute_writer *out = &c->cs->body;
    jw_reset(out);
    jw_bytes(out, path.ptr, path.len < 0 ? 0 : path.len); /* SyncResponse{path}, never null */
    send_reply(c, r->xid, jr_ok(&jr) ? ZE_OK : ZE_MARSHALLINGERROR, out);
}

static bool sync_ready(const struct conn *c, const struct pending_req *r)
{
    return store_last_zxid(c->cs->m->store) >= r->wait_zxid;
}

static void pop_head(struct conn *c)
{
    struct pending_req *r = c->head;
    ZK_ASSERT(r && c->n_pending > 0);
    c->head = r->next;
    if (!c->head)
        c->tail = NULL;
    c->n_pending--;
    if (r->kind == REQ_SYNC && --c->n_syncs == 0)
        list_remove(c, LIST_SYNC);
    free_req(c->cs, r);
}

/* Answer every queued request that no longer waits for an earlier write. */
static void drain(struct conn *c)
{
    while (c->head && !c->closing && !auth_failing(c)) {
        struct pending_req *r = c->head;
        if (r->kind == REQ_WRITE || (r->kind == REQ_SYNC && !sync_ready(c, r)))
            break;
        if (r->kind == REQ_SYNC)
            exec_sync(c, r);
        else if (r->kind == REQ_ERROR)
            send_reply(c, r->xid, r->err, NULL);
        else
            exec_local(c, r->xid, r->type, r->body, r->body_len);
        record_latency(c->cs->m, r->start_ms);
        pop_head(c);
    }
}

static struct pending_req *enqueue(struct conn *c, enum req_kind kind, int32_t xid,
                                   int32_t type, const uint8_t *body, uint32_t len)
{
    bool keep_body = kind == REQ_LOCAL || kind == REQ_SYNC;
    struct pending_req *r = zk_malloc(sizeof *r + (keep_body ? len : 0));
    if (!r) {
        conn_close(c, "out of memory queueing a request");
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->xid = xid;
    r->type = type;
    r->kind = kind;
    r->start_ms = member_now(c->cs->m);
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
    c->cs->outstanding++;
    if (kind == REQ_SYNC && c->n_syncs++ == 0)
        list_append(c, LIST_SYNC);
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
    struct member *m = c->cs->m;
    struct store_txn txn = {
        .session_id = c->session_id, .cxid = xid, .type = type, .body = body,
        .body_len = len, .auth = c->auth.data, .auth_len = (uint32_t)c->auth.len,
    };
    int32_t err = repl_submit(m->repl, &txn); /* validates it completely first */
    if (err == ZE_CONNECTIONLOSS) {
        conn_close(c, "no leader to order the write"); /* the client retries elsewhere */
        return;
    }
    if (err == ZE_SESSIONMOVED) {
        /* As ZooKeeper: a connection-level error; the client is connected elsewhere now. */
        conn_close(c, "the session moved to another member");
        return;
    }
    if (err != ZE_OK) {
        queue_error(c, xid, type, err);
        return;
    }
    if (type == ZOP_CLOSESESSION && repl_is_leader(m->repl))
        sessions_forget(m->sessions, c->session_id); /* closing: never expire it too */
    if (!enqueue(c, REQ_WRITE, xid, type, NULL, 0))
        return;
    if (m->sabotage & MEMBER_SABOTAGE_EARLY_REPLY && type != ZOP_CLOSESESSION && c->head == c->tail) {
        send_reply(c, xid, ZE_OK, NULL); /* planted bug: the answer does not wait for the commit */
        pop_head(c);
    }
}

static bool is_local_op(int32_t type)
{
    switch (type) {
    case ZOP_EXISTS: case ZOP_GETDATA: case ZOP_GETACL: case ZOP_GETCHILDREN:
    case ZOP_GETCHILDREN2: case ZOP_CHECKWATCHES: case ZOP_REMOVEWATCHES: case ZOP_MULTIREAD:
    case ZOP_AUTH: case ZOP_SETWATCHES: case ZOP_GETEPHEMERALS: case ZOP_GETALLCHILDRENNUMBER:
    case ZOP_SETWATCHES2: case ZOP_ADDWATCH: case ZOP_WHOAMI: case ZOP_SASL:
        return true;
    default:
        return false;
    }
}

static void start_sync(struct conn *c, int32_t xid, int32_t type, const uint8_t *body,
                       uint32_t len)
{
    struct pending_req *r = enqueue(c, REQ_SYNC, xid, type, body, len);
    if (!r)
        return;
    r->wait_zxid = INT64_MAX; /* until the leader says which zxid to wait for */
    int64_t zxid;
    if (repl_sync(c->cs->m->repl, c->id, xid, &zxid))
        r->wait_zxid = zxid;
    drain(c);
}

/* enforce.auth.enabled: does the connection hold an id of one of enforce.auth.schemes? */
static bool authenticated_enough(const struct conn *c)
{
    const char *schemes = c->cs->m->cfg.sec.enforce_auth_schemes;
    struct jute_reader jr;
    jr_init(&jr, c->auth.data, c->auth.len);
    int32_t n = jr_vector_count(&jr, 8);
    for (int32_t i = 0; i < n && jr_ok(&jr); i++) {
        struct jute_bytes s = jr_bytes(&jr);
        (void)jr_bytes(&jr);
        char scheme[32];
        if (jr_ok(&jr) && s.len > 0 && (size_t)s.len < sizeof scheme) {
            memcpy(scheme, s.ptr, (size_t)s.len);
            scheme[s.len] = '\0';
            if (in_line_list_csv(schemes, scheme))
                return true;
        }
    }
    return false;
}

/* A read-only connection's request that is not a read: closeSession ends a read-only session
 * here; writes and sync get NotReadOnly, as from ZooKeeper's ReadOnlyRequestProcessor. False
 * for what the rest of dispatch refuses alike (unknown opcodes). */
static bool answer_read_only(struct conn *c, int32_t xid, int32_t type)
{
    if (type == ZOP_CLOSESESSION) {
        if (c->ro_local)
            sessions_ro_close(c->cs->m->sessions, c->session_id);
        queue_error(c, xid, type, ZE_OK); /* a session of the quorum expires there */
        close_after_write(c);
        return true;
    }
    if (type == ZOP_SYNC || zk_op_is_write(type)) {
        queue_error(c, xid, type, ZE_NOTREADONLY);
        return true;
    }
    return false;
}

static void dispatch(struct conn *c, int32_t xid, int32_t type, const uint8_t *body,
                     uint32_t len)
{
    if (c->cs->m->cfg.sec.enforce_auth && type != ZOP_AUTH && type != ZOP_SASL &&
        !authenticated_enough(c)) {
        /* As ZooKeeper's AuthenticationHelper: the error, then the connection is closed. */
        ZK_WARN_RL("%s:%d session 0x%llx is not authenticated with %s (enforce.auth); closing",
                   c->addr, c->port, (unsigned long long)c->session_id,
                   c->cs->m->cfg.sec.enforce_auth_schemes);
        queue_error(c, xid, type, ZE_SESSIONCLOSEDREQUIRESASLAUTH);
        close_after_write(c);
        return;
    }
    if (type == ZOP_PING) { /* answered at once, even behind pending writes */
        send_reply(c, ZXID_PING, ZE_OK, NULL);
        return;
    }
    if (is_local_op(type)) {
        if (!c->head || (c->cs->m->sabotage & MEMBER_SABOTAGE_READ_AHEAD))
            exec_local(c, xid, type, body, len); /* planted bug: may overtake pending writes */
        else
            enqueue(c, REQ_LOCAL, xid, type, body, len);
        return;
    }
    if (c->read_only && answer_read_only(c, xid, type))
        return;
    if (type == ZOP_SYNC) {
        start_sync(c, xid, type, body, len);
        return;
    }
    if (type == ZOP_RECONFIG) {
        /* As ZooKeeper: disabled first; standalone cannot be reconfigured (Unimplemented). */
        const struct zk_config *cfg = &c->cs->m->cfg;
        if (!cfg->reconfig_enabled || cfg->n_members == 0)
            queue_error(c, xid, type, cfg->reconfig_enabled ? ZE_UNIMPLEMENTED
                                                            : ZE_RECONFIGDISABLED);
        else
            submit_write(c, xid, type, body, len);
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
        conn_close(c, "request shorter than its header");
        return;
    }
    struct member *m = c->cs->m;
    if (c->ro_local)
        sessions_ro_touch(m->sessions, c->session_id, member_now(m));
    else if (!c->read_only) /* a quorum session served read-only: its leader decides */
        sessions_touch(m->sessions, c->session_id, repl_is_leader(m->repl), member_now(m));
    dispatch(c, xid, type, frame + 8, len - 8);
}

/* ---- the connect handshake ---- */

/* ConnectResponse{int protocolVersion, int timeOut, long sessionId, buffer passwd[, bool ro]};
 * timeOut 0 and sessionId 0 tell every client the session is expired. */
static void send_connect_response(struct conn *c, bool valid)
{
    static const uint8_t zero_passwd[ZK_PASSWD_LEN];
    struct jute_writer *jw = &c->cs->scratch;
    jw_reset(jw);
    size_t mark = jw_begin_frame(jw);
    jw_int(jw, 0);
    jw_int(jw, valid ? c->timeout_ms : 0);
    jw_long(jw, valid ? c->session_id : 0);
    jw_bytes(jw, valid ? c->passwd : zero_passwd, ZK_PASSWD_LEN);
    if (c->ro_byte)
        jw_bool(jw, c->read_only);
    jw_end_frame(jw, mark);
    send_frame(c, jw);
    if (!valid)
        close_after_write(c);
}

static void create_read_only_session(struct conn *c)
{
    struct member *m = c->cs->m;
    m->env.random(m->env.io, c->passwd, sizeof c->passwd);
    if (sessions_ro_create(m->sessions, m->store, c->timeout_ms, c->passwd, member_now(m),
                           &c->session_id) != 0 ||
        i64map_put(&c->cs->by_session, c->session_id, c) != 0) {
        ZK_WARN_RL("%s:%d: no room for another read-only session (%zu open)", c->addr, c->port,
                   sessions_ro_count(m->sessions));
        if (c->session_id)
            sessions_ro_close(m->sessions, c->session_id);
        conn_close(c, NULL);
        return;
    }
    c->ro_local = true;
    c->state = CONN_ESTABLISHED;
    send_connect_response(c, true);
}

static void create_session(struct conn *c)
{
    struct member *m = c->cs->m;
    if (c->read_only) {
        create_read_only_session(c);
        return;
    }
    c->session_id = sessions_new_id(m->sessions, m->store);
    m->env.random(m->env.io, c->passwd, sizeof c->passwd);
    struct jute_writer body;
    jw_init(&body);
    sessions_create_body(&body, c->timeout_ms, c->passwd);
    struct store_txn txn = {.session_id = c->session_id, .type = ZOP_CREATESESSION,
                            .body = body.data, .body_len = (uint32_t)body.len};
    int32_t rc = body.err ? ZE_SYSTEMERROR : repl_submit(m->repl, &txn);
    jw_free(&body);
    if (rc != ZE_OK || i64map_put(&c->cs->by_session, c->session_id, c) != 0) {
        conn_close(c, "could not log the new session");
        return;
    }
    repl_session_here(m->repl, c->session_id);
    c->state = CONN_CONNECTING; /* the ConnectResponse waits for the createSession commit */
}

/* May the client resume this session here? Read-only, a read-only session of this member or
 * a session of the quorum (as ZooKeeper's read-only server reopens those from its tree). */
static enum session_resume check_resume(struct conn *c, int64_t session_id,
                                        struct jute_bytes passwd)
{
    struct member *m = c->cs->m;
    if (c->read_only) {
        enum session_resume rr =
            sessions_ro_check_resume(m->sessions, session_id, passwd.ptr, passwd.len);
        if (rr == RESUME_OK) {
            c->ro_local = true;
            memcpy(c->passwd, passwd.ptr, ZK_PASSWD_LEN); /* checked: the session's password */
        }
        if (rr != RESUME_UNKNOWN)
            return rr;
    }
    return sessions_check_resume(m->sessions, m->store, session_id, passwd.ptr, passwd.len,
                                 repl_is_leader(m->repl) && !c->read_only, c->passwd);
}

static void resume_session(struct conn *c, int64_t session_id, struct jute_bytes passwd)
{
    struct member *m = c->cs->m;
    bool leader = repl_is_leader(m->repl) && !c->read_only;
    enum session_resume rr = check_resume(c, session_id, passwd);
    /* As ZooKeeper 3.8: the session's current connection here is closed before the password
     * is checked, so a resume attempt always moves the session off its old connection. */
    struct conn *old = i64map_get(&c->cs->by_session, session_id);
    if (old && old != c)
        conn_close(old, "session is being resumed on a new connection");
    if (rr != RESUME_OK) {
        ZK_INFO("%s:%d: session 0x%llx %s", c->addr, c->port, (unsigned long long)session_id,
                rr == RESUME_BAD_PASSWORD ? "wrong password" : "expired or unknown");
        send_connect_response(c, false);
        return;
    }
    c->session_id = session_id;
    if (i64map_put(&c->cs->by_session, session_id, c) != 0 ||
        (leader && sessions_track(m->sessions, session_id, c->timeout_ms, member_now(m)) != 0)) {
        conn_close(c, "out of memory resuming a session");
        return;
    }
    c->state = CONN_ESTABLISHED;
    if (c->ro_local)
        sessions_ro_touch(m->sessions, session_id, member_now(m));
    else if (!c->read_only)
        repl_session_here(m->repl, session_id);
    send_connect_response(c, true);
}

static void handle_connect(struct conn *c, const uint8_t *frame, uint32_t len)
{
    struct member *m = c->cs->m;
    struct jute_reader jr;
    jr_init(&jr, frame, len);
    (void)jr_int(&jr); /* protocolVersion */
    int64_t last_zxid_seen = jr_long(&jr);
    int32_t timeout = jr_int(&jr);
    int64_t session_id = jr_long(&jr);
    struct jute_bytes passwd = jr_bytes(&jr);
    if (!jr_ok(&jr)) {
        conn_close(c, "malformed ConnectRequest");
        return;
    }
    c->ro_byte = jr_remaining(&jr) >= 1;
    c->ro_client = c->ro_byte && jr_bool(&jr);
    list_remove(c, LIST_FRESH); /* the handshake came in time */
    if (!repl_serving(m->repl)) {
        /* Not part of an established quorum: the client should try another member, unless
         * this member serves read-only and the client takes that (ZooKeeper refuses other
         * clients there likewise). */
        if (!m->read_only || !c->ro_client) {
            conn_close(c, NULL);
            return;
        }
        c->read_only = true;
    }
    if (last_zxid_seen > store_last_zxid(m->store)) {
        /* The client has seen a newer state than ours: let it find a member that has it. */
        ZK_INFO("%s:%d has seen zxid 0x%llx, ahead of ours 0x%llx", c->addr, c->port,
                (unsigned long long)last_zxid_seen, (unsigned long long)store_last_zxid(m->store));
        conn_close(c, NULL);
        return;
    }
    c->timeout_ms = sessions_negotiate(m->sessions, timeout);
    if (session_id == 0)
        create_session(c);
    else
        resume_session(c, session_id, passwd);
}

/* Answer the syncs (and what queued behind them) whose zxid is now applied. */
static void drain_ready_syncs(struct conns *cs)
{
    for (struct conn *c = cs->lists[LIST_SYNC].head, *next; c; c = next) {
        next = c->link[LIST_SYNC].next;
        if (!c->closing && c->head && c->head->kind == REQ_SYNC && sync_ready(c, c->head))
            drain(c);
    }
}

bool conns_on_applied(struct conns *cs, const struct store_txn *txn, int32_t err,
                      const struct jute_writer *body)
{
    drain_ready_syncs(cs);
    if (txn->session_id == 0)
        return false; /* an internal txn (container/TTL reaping): nobody to answer */
    struct conn *c = i64map_get(&cs->by_session, txn->session_id);
    if (!c || c->closing)
        return false;
    if (txn->type == ZOP_CREATESESSION) {
        if (c->state != CONN_CONNECTING)
            return false;
        c->state = CONN_ESTABLISHED;
        send_connect_response(c, err == ZE_OK);
        process_input_again(c); /* requests the client pipelined behind its ConnectRequest */
        return true;
    }
    struct pending_req *r = c->head;
    /* A reconfig request is answered by the txn the leader made of it. */
    int32_t asked = txn->type == ZOP_SETCONFIG ? ZOP_RECONFIG : txn->type;
    bool mine = r && r->kind == REQ_WRITE && r->xid == txn->cxid && r->type == asked;
    if (!mine) {
        if (txn->type == ZOP_CLOSESESSION) /* expired, or closed through another member */
            conn_close(c, "session closed");
        return false;
    }
    send_reply(c, r->xid, err, body);
    record_latency(cs->m, r->start_ms);
    pop_head(c);
    if (txn->type == ZOP_CLOSESESSION) {
        close_after_write(c);
        return true;
    }
    drain(c);
    return true;
}

void conns_on_failed(struct conns *cs, const struct store_txn *txn, int32_t err)
{
    if (txn->session_id == 0)
        return;
    struct conn *c = i64map_get(&cs->by_session, txn->session_id);
    if (!c || c->closing)
        return;
    if (txn->type == ZOP_CREATESESSION || err == ZE_CONNECTIONLOSS) {
        conn_close(c, "the write could not be ordered (no leader)");
        return;
    }
    struct pending_req *r = c->head;
    if (r && r->kind == REQ_WRITE && r->xid == txn->cxid) {
        send_reply(c, r->xid, err, NULL);
        pop_head(c);
        drain(c);
    }
}

void conns_sync_resolved(struct conns *cs, uint64_t conn_id, int32_t xid, int64_t zxid)
{
    struct conn *c = i64map_get(&cs->by_id, (int64_t)conn_id);
    if (!c || c->closing)
        return;
    for (struct pending_req *r = c->head; r; r = r->next) {
        if (r->kind == REQ_SYNC && r->xid == xid && r->wait_zxid == INT64_MAX) {
            r->wait_zxid = zxid;
            break;
        }
    }
    drain(c);
}

void conns_describe(const struct conns *cs, struct jute_writer *out)
{
    for (const struct conn *c = cs->list; c; c = c->next) {
        if (c->closing)
            continue;
        char line[256];
        int n = snprintf(line, sizeof line, " /%s:%d[%d](queued=%zu,recved=%llu,sent=%llu)\n",
                         c->addr, c->port, c->state == CONN_ESTABLISHED ? 1 : 0, c->n_pending,
                         (unsigned long long)c->received, (unsigned long long)c->sent);
        if (n > 0)
            jw_raw(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

void conns_each(const struct conns *cs,
                void (*fn)(void *ctx, const struct member_conn_info *c), void *ctx)
{
    int64_t now = member_now(cs->m), wall = member_wall(cs->m);
    for (const struct conn *c = cs->list; c; c = c->next) {
        if (c->closing)
            continue;
        bool established = c->state == CONN_ESTABLISHED;
        struct member_conn_info ci = {
            .addr = c->addr, .port = c->port, .established = established,
            .reading = !c->reading_paused && !c->throttled, .outstanding = c->n_pending,
            .received = c->received, .sent = c->sent,
            .session_id = established ? c->session_id : 0,
            .timeout_ms = established ? c->timeout_ms : 0,
            .opened_wall_ms = wall - (now - c->opened_ms)};
        fn(ctx, &ci);
    }
}

/* ---- limits, checked at the end of each turn ---- */

/* globalOutstandingLimit: while the member holds that many queued requests, connections stop
 * being read (ZooKeeper's throttling); conns_flush resumes them. */
static bool throttle_if_over_limit(struct conn *c)
{
    struct conns *cs = c->cs;
    int limit = cs->m->cfg.global_outstanding_limit;
    if (c->state != CONN_ESTABLISHED || limit <= 0 || cs->outstanding < (size_t)limit)
        return false;
    if (!c->throttled) {
        c->throttled = true;
        cs->n_throttled++;
        set_reading(c, false);
        ZK_WARN_RL("%zu requests outstanding (globalOutstandingLimit=%d): throttling clients",
                   cs->outstanding, limit);
    }
    return true;
}

static void unthrottle(struct conns *cs)
{
    int limit = cs->m->cfg.global_outstanding_limit;
    if (cs->n_throttled == 0 || cs->outstanding >= (size_t)limit / 2 + 1)
        return;
    for (struct conn *c = cs->list; c; c = c->next) {
        if (!c->throttled)
            continue;
        c->throttled = false;
        cs->n_throttled--;
        process_input_again(c);
    }
}

/* Handshakes that did not come in time (oldest first). */
static void reap_handshakes(struct conns *cs)
{
    int64_t now = member_now(cs->m);
    struct conn *c;
    while ((c = cs->lists[LIST_FRESH].head) && now - c->opened_ms >= HANDSHAKE_TIMEOUT_MS) {
        list_remove(c, LIST_FRESH);
        ZK_WARN_RL("%s:%d sent no ConnectRequest within %d ms; closing", c->addr, c->port,
                   HANDSHAKE_TIMEOUT_MS);
        conn_close(c, NULL);
    }
}

/* Syncs whose leader answer was lost (a link reset) give up after syncLimit. */
static void drain_syncs(struct conns *cs)
{
    int64_t give_up_ms = (int64_t)cs->m->cfg.sync_limit * cs->m->cfg.tick_ms;
    int64_t now = member_now(cs->m);
    for (struct conn *c = cs->lists[LIST_SYNC].head, *next; c; c = next) {
        next = c->link[LIST_SYNC].next; /* drain may take c off the list */
        struct pending_req *r = c->head;
        if (!r || r->kind != REQ_SYNC || c->closing)
            continue;
        if (r->wait_zxid == INT64_MAX && now - r->start_ms > give_up_ms)
            conn_close(c, "the leader did not answer a sync");
        else
            drain(c);
    }
}

/* Failed SASL exchanges whose delay is over (oldest first): their answer, then close. */
static void answer_auth_failures(struct conns *cs)
{
    int64_t now = member_now(cs->m);
    struct conn *c;
    while ((c = cs->lists[LIST_AUTH_FAIL].head) && now >= c->auth_fail_at_ms) {
        list_remove(c, LIST_AUTH_FAIL);
        send_reply(c, c->auth_fail_xid, c->auth_fail_err, NULL);
        close_after_write(c);
    }
}

void conns_flush(struct conns *cs)
{
    drain_syncs(cs);
    unthrottle(cs);
    reap_handshakes(cs);
    answer_auth_failures(cs);
    jw_release_above(&cs->scratch, WRITER_KEEP_BYTES);
    jw_release_above(&cs->body, WRITER_KEEP_BYTES);
}

/* ---- framing ---- */

static void answer_fourlw(struct conn *c, const uint8_t word[4])
{
    char cmd[5];
    memcpy(cmd, word, 4);
    cmd[4] = '\0';
    struct jute_writer *out = &c->cs->scratch;
    jw_reset(out);
    fourlw_answer(c->cs->m, cmd, out);
    send_frame(c, out);
    close_after_write(c);
}

/* Ask the io layer to offer this connection's buffered input again (it was paused). */
static void process_input_again(struct conn *c)
{
    if (!c->closing && !c->close_after_write && !c->reading_paused && !c->throttled &&
        !auth_failing(c))
        set_reading(c, true);
}

/* Is there room to take another frame from this connection now? */
static bool can_take(struct conn *c)
{
    return !c->closing && !c->close_after_write && !auth_failing(c) &&
           c->state != CONN_CONNECTING && c->n_pending < PENDING_MAX && !c->reading_paused &&
           !throttle_if_over_limit(c);
}

static void update_backpressure(struct conn *c)
{
    if (c->closing || c->close_after_write || c->throttled || auth_failing(c))
        return;
    size_t out = queued(c);
    bool overloaded = c->n_pending >= PENDING_MAX || out > OUT_HIGH_BYTES;
    if (overloaded && !c->reading_paused) {
        c->reading_paused = true;
        set_reading(c, false);
    } else if (!overloaded && c->reading_paused && out < OUT_LOW_BYTES &&
               c->n_pending < PENDING_MAX / 2) {
        c->reading_paused = false;
        set_reading(c, true);
    }
}

/* One frame at data (avail bytes): handled and its size returned, or 0 if it is not whole
 * yet, or -1 when the connection is being closed. */
static long take_frame(struct conn *c, const uint8_t *data, size_t avail)
{
    if (avail < 4)
        return 0;
    if (c->state == CONN_NEW && fourlw_is_command(data)) {
        answer_fourlw(c, data);
        return -1;
    }
    uint32_t len = be32_load(data);
    if (len > (uint32_t)c->cs->m->cfg.max_buffer || (c->state == CONN_NEW && len < 20)) {
        ZK_WARN_RL("%s:%d: frame length %d out of range; closing", c->addr, c->port, (int32_t)len);
        conn_close(c, NULL);
        return -1;
    }
    if (avail < 4 + (size_t)len)
        return 0;
    c->received++;
    c->cs->m->stats.packets_received++;
    if (c->state == CONN_NEW)
        handle_connect(c, data + 4, len);
    else
        handle_request(c, data + 4, len);
    return 4 + (long)len;
}

size_t conns_input(struct conns *cs, uint64_t id, const uint8_t *data, size_t len)
{
    struct conn *c = i64map_get(&cs->by_id, (int64_t)id);
    if (!c)
        return len; /* already closed: nothing more is taken from it */
    size_t used = 0;
    while (can_take(c)) {
        long n = take_frame(c, data + used, len - used);
        if (n <= 0) {
            if (n < 0)
                used = len; /* closing: the rest is of no use */
            break;
        }
        used += (size_t)n;
    }
    if (!c->closing && !c->close_after_write && !can_take(c) && used < len)
        set_reading(c, false); /* what is left waits; process_input_again re-offers it */
    update_backpressure(c);
    return used;
}

void conns_writable(struct conns *cs, uint64_t id)
{
    struct conn *c = i64map_get(&cs->by_id, (int64_t)id);
    if (!c || !c->reading_paused)
        return;
    update_backpressure(c);
}

/* ---- accepting ---- */

bool conns_admit(const struct conns *cs, const char *addr)
{
    int total = cs->m->cfg.sec.max_cnxns;
    if (total > 0 && cs->n >= (size_t)total) {
        ZK_WARN_RL("%zu client connections open (maxCnxns=%d); refusing one from %s", cs->n,
                   total, addr);
        return false;
    }
    int max = cs->m->cfg.max_client_cnxns;
    if (max <= 0)
        return true;
    int n = 0;
    for (const struct conn *c = cs->list; c; c = c->next)
        if (!c->closing && !strcmp(c->addr, addr))
            n++;
    if (n < max)
        return true;
    ZK_WARN_RL("too many connections from %s (maxClientCnxns=%d); refusing", addr, max);
    return false;
}

void conns_open(struct conns *cs, uint64_t id, const char *addr, int port)
{
    struct conn *c = zk_calloc(1, sizeof *c);
    if (!c || i64map_put(&cs->by_id, (int64_t)id, c) != 0) {
        ZK_ERROR_RL("out of memory accepting a connection from %s", addr);
        zk_free(c);
        cs->m->env.conn_close(cs->m->env.io, id, false);
        return;
    }
    c->cs = cs;
    c->id = id;
    c->opened_ms = member_now(cs->m);
    jw_init(&c->auth);
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    add_auth_id(c, "ip", addr);
    if (cs->m->cfg.enforce_quota) /* its txns carry the setting to every member (store.h) */
        add_auth_id(c, STORE_ENFORCE_QUOTA_SCHEME, STORE_ENFORCE_QUOTA_ID);
    if (cs->m->cfg.sec.skip_acl)
        add_auth_id(c, "super", ""); /* skipACL=yes: every check passes, as for super */
    c->port = port;
    c->next = cs->list;
    if (cs->list)
        cs->list->prev = c;
    cs->list = c;
    cs->n++;
    list_append(c, LIST_FRESH);
}

void conns_identity(struct conns *cs, uint64_t id, const char *scheme, const char *id_value)
{
    struct conn *c = i64map_get(&cs->by_id, (int64_t)id);
    if (!c || c->closing)
        return;
    if (!has_auth_id(c, scheme, id_value))
        add_auth_id(c, scheme, id_value);
    const char *super = cs->m->cfg.sec.x509_super_user;
    if (!strcmp(scheme, "x509") && super[0] && !strcmp(id_value, super) &&
        !has_auth_id(c, "super", ""))
        add_auth_id(c, "super", "");
}

void conns_session_moved(struct conns *cs, int64_t session, int32_t xid)
{
    struct conn *c = i64map_get(&cs->by_session, session);
    /* Only the connection whose write was refused: the client may be back here by now. */
    for (struct pending_req *r = c ? c->head : NULL; r; r = r->next) {
        if (r->kind == REQ_WRITE && r->xid == xid) {
            conn_close(c, "the session moved to another member");
            return;
        }
    }
}

void conns_request_refused(struct conns *cs, int64_t session, int32_t xid, int32_t err)
{
    struct conn *c = i64map_get(&cs->by_session, session);
    struct pending_req *r = c && !c->closing ? c->head : NULL;
    if (!r || r->kind != REQ_WRITE || r->xid != xid)
        return; /* not what this connection waits for now (it moved, or it closed) */
    send_reply(c, xid, err, NULL);
    record_latency(cs->m, r->start_ms);
    pop_head(c);
    drain(c);
}
