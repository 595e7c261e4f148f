/* fuzz_client: the bytes a client sends, through the socket-free part of the server's path. The
 * input is split into 4-byte-length-prefixed frames exactly as src/server/client.c
 * process_input does (jute.maxbuffer bound, ConnectRequest at least 20 bytes); the first frame is
 * the ConnectRequest (its fields decoded with src/proto; a new session is created as a txn, a
 * known one resumed with its password), the rest are requests: the header, then for writes
 * store_validate_write and, when valid, the log record round trip (src/store/txnrec.h) and
 * store_apply; for reads store_read_as with the caller's identities and a watcher, so writes
 * fire the watches reads set. client.c itself (libevent) is not linked. */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "consensus/zab.h"
#include "fuzz_store.h"
#include "proto/zkproto.h"
#include "store/store_internal.h"
#include "store/txnrec.h"

#define MAX_BUFFER 4096          /* this fuzz target's jute.maxbuffer: frames stay small */
#define MIN_TIMEOUT 4000         /* the defaults for tickTime 2000 */
#define MAX_TIMEOUT 40000
#define NEW_SESSION ((int64_t)0x0200000000000001LL)
#define WATCHER 7

struct conn {
    struct fzs s;
    int64_t session;
    const uint8_t *ids;
    uint32_t ids_len;
    bool closed;
};

/* client.c is_local_op: answered from the local tree. */
static bool is_local_read(int32_t type)
{
    switch (type) {
    case ZOP_EXISTS: case ZOP_GETDATA: case ZOP_GETACL: case ZOP_GETCHILDREN:
    case ZOP_GETCHILDREN2: case ZOP_CHECKWATCHES: case ZOP_REMOVEWATCHES: case ZOP_MULTIREAD:
    case ZOP_SETWATCHES: case ZOP_GETEPHEMERALS: case ZOP_GETALLCHILDRENNUMBER:
    case ZOP_SETWATCHES2: case ZOP_ADDWATCH:
        return true;
    default:
        return false;
    }
}

/* The identities a connection has: chosen by the low bits of its protocolVersion. */
static void pick_identities(struct conn *c, int32_t protocol_version)
{
    uint8_t sel = (uint8_t)(40 + (protocol_version & 7) % 5); /* fzs_identities' fixed sets */
    struct fz one = {&sel, 1};
    c->ids = fzs_identities(&one, &c->ids_len);
}

static bool create_session(struct conn *c, int32_t timeout)
{
    static const uint8_t passwd[ZK_PASSWD_LEN] = {0x5a};
    struct jute_writer body;
    jw_init(&body);
    jw_int(&body, timeout);
    jw_bytes(&body, passwd, ZK_PASSWD_LEN);
    struct store_txn txn = {.time_ms = c->s.time_ms + 1, .session_id = NEW_SESSION,
                            .type = ZOP_CREATESESSION, .body = body.data,
                            .body_len = (uint32_t)body.len};
    int32_t err = fzs_apply(&c->s, &txn);
    jw_free(&body);
    c->session = NEW_SESSION;
    return err == 0;
}

/* ConnectRequest{int protocolVersion, long lastZxidSeen, int timeOut, long sessionId,
 * buffer passwd[, bool readOnly]} as client.c handle_connect reads it. */
static bool handle_connect(struct conn *c, const uint8_t *frame, uint32_t len)
{
    struct jute_reader jr;
    jr_init(&jr, frame, len);
    int32_t version = jr_int(&jr);
    int64_t last_zxid_seen = jr_long(&jr);
    int32_t timeout = jr_int(&jr);
    int64_t session_id = jr_long(&jr);
    struct jute_bytes passwd = jr_bytes(&jr);
    if (!jr_ok(&jr) || last_zxid_seen > store_last_zxid(c->s.st)) {
        return false; /* malformed, or the client has seen a newer state: closed */
    }
    pick_identities(c, version);
    c->s.reader_ids = c->ids;
    c->s.reader_ids_len = c->ids_len;
    timeout = timeout < MIN_TIMEOUT ? MIN_TIMEOUT : timeout > MAX_TIMEOUT ? MAX_TIMEOUT : timeout;
    if (session_id == 0) {
        return create_session(c, timeout);
    }
    int32_t stored_timeout;
    uint8_t stored[ZK_PASSWD_LEN];
    if (!store_session_get(c->s.st, session_id, &stored_timeout, stored) ||
        passwd.len != ZK_PASSWD_LEN || memcmp(stored, passwd.ptr, ZK_PASSWD_LEN) != 0) {
        return false; /* expired or wrong password: an expired ConnectResponse, then closed */
    }
    c->session = session_id;
    return true;
}

/* A write as client.c submit_write and repl.c repl_submit prepare it (store_validate_txn, the
 * record), applied once "committed". */
static void write_request(struct conn *c, int32_t xid, int32_t type, const uint8_t *body,
                          uint32_t len)
{
    static const struct store_txn_limits lim = {MAX_BUFFER, MIN_TIMEOUT, MAX_TIMEOUT};
    struct store_txn txn = {.time_ms = c->s.time_ms + 13, .session_id = c->session, .cxid = xid,
                            .type = type, .body = len ? body : NULL, .body_len = len,
                            .auth = c->ids, .auth_len = c->ids_len};
    if (store_validate_txn(&txn, &lim) != ZE_OK) {
        return; /* an error reply; nothing is logged */
    }
    ZK_ASSERT(store_validate_write(type, body, len, MAX_BUFFER) == ZE_OK); /* implied */
    size_t n = txnrec_size(&txn);
    if (n > ZAB_PAYLOAD_MAX) {
        return; /* BadArguments */
    }
    uint8_t *rec = malloc(n);
    ZK_ASSERT(rec != NULL && txnrec_encode(&txn, rec) == n);
    struct store_txn logged;
    ZK_ASSERT(txnrec_decode(rec, n, &logged) == 0);
    ZK_ASSERT(logged.type == type && logged.body_len == len && logged.cxid == xid);
    (void)fzs_apply(&c->s, &logged);
    free(rec);
    c->closed = type == ZOP_CLOSESESSION;
}

static bool handle_request(struct conn *c, const uint8_t *frame, uint32_t len)
{
    struct jute_reader jr;
    jr_init(&jr, frame, len);
    int32_t xid = jr_int(&jr);
    int32_t type = jr_int(&jr);
    if (!jr_ok(&jr)) {
        return false; /* shorter than its header: closed */
    }
    const uint8_t *body = frame + 8;
    uint32_t body_len = len - 8;
    if (is_local_read(type)) {
        jw_reset(&c->s.reply);
        (void)store_read_as(c->s.st, type, body, body_len, c->session, WATCHER, c->ids,
                            c->ids_len, &c->s.reply);
        return true;
    }
    if (type == ZOP_PING || type == ZOP_SYNC || type == ZOP_AUTH || type == ZOP_WHOAMI ||
        type == ZOP_RECONFIG || type == ZOP_CREATESESSION) {
        return true; /* answered by client.c itself, not by the store */
    }
    if (zk_op_is_write(type) && type != ZOP_CHECK) {
        write_request(c, xid, type, body, body_len);
        return !c->closed;
    }
    return false; /* unknown opcode: Unimplemented, then closed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conn c = {.session = 0};
    fzs_init(&c.s, true, false);
    bool connected = false;
    for (size_t off = 0; off + 4 <= size;) {
        uint32_t len = be32_load(data + off);
        if (len > MAX_BUFFER || (!connected && len < 20) || size - off - 4 < len) {
            break; /* out of range: closed; incomplete: waits forever */
        }
        const uint8_t *frame = data + off + 4;
        bool ok = connected ? handle_request(&c, frame, len) : handle_connect(&c, frame, len);
        if (!ok) {
            break;
        }
        connected = true;
        off += 4 + (size_t)len;
    }
    store_remove_watcher(c.s.st, WATCHER); /* the connection closed */
    ZK_ASSERT(store_watch_count(c.s.st) == 0);
    store_check_invariants(c.s.st);
    fzs_free(&c.s);
    return 0;
}
