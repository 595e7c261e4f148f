/* The replicated state machine: the znode tree plus the table of live sessions.
 *
 * Deterministic: applying the same transactions in the same order gives the same tree, byte for
 * byte, on every member (design.md #3). A transaction is the *command* a client sent (opcode +
 * the jute request body as received), stamped with zxid, time, session id and cxid; store_apply
 * computes the result, errors included, so the reply a client gets is the one every member
 * computed. No I/O, no clock (time comes in the txn), no randomness.
 *
 * Watches are member-local (they belong to connections): the store keeps a watch table and,
 * while applying, calls the delivery callback for every notification it fires. Watchers are
 * opaque uint64 ids chosen by the caller (the server uses connection ids). */
#ifndef ZK_STORE_H
#define ZK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/jute.h"
#include "proto/zkproto.h"

struct store;

/* A command to apply. body/auth point into caller memory that lives during the call. */
struct store_txn {
    int64_t zxid;       /* > every zxid applied before */
    int64_t time_ms;    /* leader's wall clock when it ordered the txn: ctime/mtime */
    int64_t session_id; /* the client session that issued it (0 for server-internal txns) */
    int32_t cxid;       /* the client's xid (informational) */
    int32_t type;       /* enum zk_op: a write op, ZOP_CREATESESSION or ZOP_CLOSESESSION */
    const uint8_t *body; /* jute request body (after the RequestHeader) */
    uint32_t body_len;
    /* jute vector<Id> of the session's identities (ip, digest, super): checked against ACLs
     * and used to expand `auth` ACL entries (digest ids only). NULL/0 means none. */
    const uint8_t *auth;
    uint32_t auth_len;
};

/* The identity a member stamps on its connections' txns when zookeeper.enforceQuota is on:
 * the txns it forwards then fail with QuotaExceeded past a hard quota, the same on every member
 * (the log carries the decision's input, not each member's setting). No ACL can name it. */
#define STORE_ENFORCE_QUOTA_SCHEME "zabkeeper"
#define STORE_ENFORCE_QUOTA_ID "enforceQuota"
/* Is an identity's scheme that mark? (No client can claim the scheme: addAuth refuses it.) */
static inline bool store_is_quota_mark(struct jute_bytes scheme)
{
    return scheme.len == (int32_t)sizeof STORE_ENFORCE_QUOTA_SCHEME - 1 &&
           !memcmp(scheme.ptr, STORE_ENFORCE_QUOTA_SCHEME, sizeof STORE_ENFORCE_QUOTA_SCHEME - 1);
}

/* Bodies of the server-generated txns:
 *   ZOP_CREATESESSION: int timeout_ms, buffer passwd (16 bytes)
 *   ZOP_CLOSESESSION : empty (closes txn.session_id; its ephemerals are deleted in this txn)
 *   ZOP_DELETECONTAINER: ustring path (deleted only if still empty; used for container/TTL reaping)
 */

/* Delivery of one notification to one watcher (connection). Called during store_apply/store_read
 * (setWatches may fire events immediately). At most one call per (watcher, event, path) per txn. */
struct acl_list; /* a node's ACL, interned in the store */
/* acl is the ACL of the node the event is about (NULL when there is none): as ZooKeeper 3.8 (and
 * its fix of CVE-2024-23944), a connection only receives events on nodes it may READ. */
typedef void (*store_notify_fn)(void *ctx, uint64_t watcher, int32_t event_type, const char *path,
                                const struct acl_list *acl);
/* Does a caller with identities ids (jute vector<Id>) hold READ on acl? A NULL acl: yes. */
bool store_acl_allows_read(const struct acl_list *acl, const uint8_t *ids, uint32_t ids_len);

struct store_options {
    int32_t max_data_len;     /* data size limit (jute.maxbuffer), default ZK_MAX_BUFFER_DEFAULT */
    bool extended_types;      /* allow TTL nodes (ZooKeeper: extendedTypesEnabled) */
    store_notify_fn notify;   /* may be NULL */
    void *notify_ctx;
    /* Largest read reply built (0: unbounded); a read whose reply would exceed it gets
     * ZE_MARSHALLINGERROR. One read (a huge children list) answers what one node holds;
     * ZooKeeper sets no bound there, so a member's is large. A multiRead multiplies data by
     * its ops (5 KB asking for 300 MB), so its bound is jute.maxbuffer. */
    int32_t max_reply_len;
    int32_t max_multiread_reply_len;
};

/* A fresh tree holds /, /zookeeper, /zookeeper/quota, /zookeeper/config (as ZooKeeper 3.8). */
struct store *store_new(const struct store_options *opts);
void store_free(struct store *st);

/* Apply a committed txn. Writes the client's reply into the out-parameters:
 *   *reply_err = the ReplyHeader err (0 on success, and 0 for a multi that failed atomically);
 *   reply_body (may be NULL when nobody will read it) gets the response record when
 *   *reply_err == 0 (CreateResponse, Stat, MultiResponse...), nothing otherwise.
 * Returns 0, or -1 only if memory ran out (the tree is then unchanged and the caller must stop:
 * a member that cannot apply a committed txn cannot go on). */
int store_apply(struct store *st, const struct store_txn *txn, struct jute_writer *reply_body,
                int32_t *reply_err);

/* Check, before a write is logged, that its body parses as the opcode's request record and that
 * the opcode is one store_apply handles. Returns 0 or ZE_MARSHALLINGERROR / ZE_UNIMPLEMENTED /
 * ZE_BADARGUMENTS. Garbage never reaches the log. */
int32_t store_validate_write(int32_t type, const uint8_t *body, size_t body_len,
                             int32_t max_data_len);

/* What a member accepts into the log from a client (or from a follower forwarding one). */
struct store_txn_limits {
    int32_t max_data_len;           /* jute.maxbuffer */
    int32_t min_session_timeout_ms; /* a createSession must be within these */
    int32_t max_session_timeout_ms;
};

/* Check a client-originated txn completely before it is proposed, on the member that received
 * it and again on the leader for forwarded ones (so nothing in the log can crash a member):
 * an opcode a client may cause, a live-session id (never 0: internal txns are the leader's
 * own), a body that parses (store_validate_write), a session timeout within the limits and a
 * well-formed identity vector. Returns ZE_OK or the error to reply with. */
int32_t store_validate_txn(const struct store_txn *txn, const struct store_txn_limits *lim);

/* Serve a read-only or watch-management request against the current tree:
 * exists, getData, getChildren, getChildren2, getACL, getAllChildrenNumber, getEphemerals
 * (of session_id), multiRead, addWatch, removeWatches, checkWatches, setWatches, setWatches2.
 * `watcher` is the id watches are registered for. Returns the reply err; the reply record
 * goes to reply_body on success. Malformed bodies give ZE_MARSHALLINGERROR. */
int32_t store_read(struct store *st, int32_t type, const uint8_t *body, size_t body_len,
                   int64_t session_id, uint64_t watcher, struct jute_writer *reply_body);

/* store_read for a client: ids is the jute vector<Id> of the caller's identities (ip, digest,
 * super); READ (getACL: READ or ADMIN) is enforced against each node's ACL, and digest ids are
 * masked as user:x in getACL for callers without ADMIN. store_read itself is the trusted form
 * (no ACL checks), for tests and internal use. Writes are checked in store_apply against the
 * txn's auth ids. */
int32_t store_read_as(struct store *st, int32_t type, const uint8_t *body, size_t body_len,
                      int64_t session_id, uint64_t watcher, const uint8_t *ids, uint32_t ids_len,
                      struct jute_writer *reply_body);

/* Drop every watch of a watcher (its connection closed). */
void store_remove_watcher(struct store *st, uint64_t watcher);

/* ---- sessions (replicated state) ---- */
bool store_session_exists(const struct store *st, int64_t session_id);
/* Returns false if unknown. passwd gets 16 bytes. */
bool store_session_get(const struct store *st, int64_t session_id, int32_t *timeout_ms,
                       uint8_t passwd[ZK_PASSWD_LEN]);
/* Visit every live session (used to rebuild expiry tracking after start-up or election). */
void store_session_foreach(const struct store *st,
                           void (*fn)(void *ctx, int64_t session_id, int32_t timeout_ms),
                           void *ctx);
size_t store_session_count(const struct store *st);
/* Visit every ephemeral node with its owner session (the AdminServer's dump). */
void store_ephemerals_foreach(const struct store *st,
                              void (*fn)(void *ctx, int64_t session_id, const char *path,
                                         size_t len),
                              void *ctx);

/* Paths of nodes due for server-side deletion at now_ms: containers that had children and are
 * empty again, TTL nodes childless and unmodified for their ttl. Leader calls this and proposes
 * ZOP_DELETECONTAINER txns. */
void store_reap_candidates(const struct store *st, int64_t now_ms,
                           void (*fn)(void *ctx, const char *path), void *ctx);

/* ---- introspection ---- */
int64_t store_last_zxid(const struct store *st);
size_t store_node_count(const struct store *st);  /* including / and /zookeeper... */
size_t store_watch_count(const struct store *st);
/* Data watches as ZooKeeper's wchs counts them: watchers with any, paths with any, all. */
void store_watch_summary(const struct store *st, size_t *watchers, size_t *paths,
                         size_t *watches);
size_t store_ephemeral_count(const struct store *st);
uint64_t store_approximate_data_size(const struct store *st);
/* Order-independent digest of the whole state (tree + sessions), maintained incrementally;
 * equal on members that applied the same txns. */
uint64_t store_digest(const struct store *st);

/* ---- snapshots (length-prefixed msgpack records; format in docs/storage.md) ---- */
/* Receives snapshot bytes in order; returns 0, or non-zero to stop the write. */
typedef int (*store_sink_fn)(void *ctx, const void *p, size_t len);
/* Largest record a snapshot may hold: a node with a path and data of up to 64 MiB each. */
#define STORE_SNAP_RECORD_MAX ((132u << 20))
/* Serialize the tree and the session table (not watches) to sink, in pieces of about 256 KiB.
 * Returns 0, -1 if memory ran out, or the sink's non-zero return. */
int store_snapshot_write(const struct store *st, store_sink_fn sink, void *ctx);

/* The record encoders store_snapshot_write is made of, for a writer that builds a snapshot from
 * a state held elsewhere (--import-zookeeper): the format is written in store_snapshot.c only.
 * A snapshot is one header, then every ACL, every session, then every node in pre-order (each
 * parent before its children, "/" first); the loader checks all of it. */
struct store_snap_header {
    int64_t zxid;                   /* the state's last applied zxid */
    uint64_t acls, sessions, nodes; /* how many records of each kind follow */
    uint64_t digest;                /* store_digest of the state (store_loader_digest) */
};
/* A node's kind: also the snapshot's `kind` field, which must agree with ephemeral_owner. */
enum znode_kind { ZK_KIND_PERSISTENT = 0, ZK_KIND_EPHEMERAL = 1, ZK_KIND_CONTAINER = 2, ZK_KIND_TTL = 3 };
struct store_snap_node {
    const char *path;               /* full path, "/" for the root */
    size_t path_len;
    const uint8_t *data;
    int32_t data_len;               /* -1: null data */
    int64_t czxid, mzxid, ctime, mtime, pzxid;
    int32_t version;
    int32_t cversion;               /* stored: the number of child creates (docs/storage-tree.md) */
    int32_t aversion;
    /* A session id (EPHEMERAL), ZK_EPHEMERAL_CONTAINER, ZK_EPHEMERAL_TTL_MASK | ttl, or 0 */
    int64_t ephemeral_owner;
    uint8_t kind;                   /* enum znode_kind */
    uint32_t acl_index;             /* which ACL record, counting from 0 */
};
/* Gathers records for sink and hands them on in pieces of about 256 KiB. */
struct store_snap_writer;
struct store_snap_writer *store_snap_writer_new(store_sink_fn sink, void *ctx);
/* Each returns the writer's state: 0 while every record so far was encoded and every piece
 * accepted, else the first failure (-1 if memory ran out, or the sink's non-zero return), after
 * which records are ignored. */
int store_snap_encode_header(struct store_snap_writer *w, const struct store_snap_header *h);
int store_snap_encode_acl(struct store_snap_writer *w, const uint8_t *acl, size_t len);
int store_snap_encode_session(struct store_snap_writer *w, int64_t id, int32_t timeout_ms,
                              const uint8_t passwd[ZK_PASSWD_LEN]);
int store_snap_encode_node(struct store_snap_writer *w, const struct store_snap_node *n);
/* Hand what is gathered to the sink and free w; returns the writer's state as above. */
int store_snap_writer_end(struct store_snap_writer *w);

/* Incremental reading: feed the bytes in any pieces, then finish, which checks that the input
 * was whole (every record announced, the digest it announced) and only then replaces st's state.
 * Any malformed input makes feed or finish fail with st unchanged. */
struct store_loader;
struct store_loader *store_loader_new(void);
int store_loader_feed(struct store_loader *l, const void *data, size_t len);
int store_loader_finish(struct store_loader *l, struct store *st);
/* The zxid the snapshot's header announced (valid once the header was fed). */
int64_t store_loader_zxid(const struct store_loader *l);
/* The digest of the state fed so far (--import-zookeeper, which makes a snapshot outside
 * zabkeeper, learns the header's digest from a first load of its records). */
uint64_t store_loader_digest(const struct store_loader *l);
void store_loader_free(struct store_loader *l);
/* The same in one call, for a snapshot held whole in memory. */
int store_snapshot_read(struct store *st, const void *data, size_t len);

/* ---- /zookeeper/config (ZooKeeper's configuration node) ---- */
#define STORE_CONFIG_PATH "/zookeeper/config"
/* Set its data outside any txn, as each ZooKeeper member does from its own configuration at
 * start (ZKDatabase.initConfigInZKDatabase): mzxid = the configuration's version, version -1.
 * Not in the digest. 0, or -1 (out of memory). */
int store_set_config_node(struct store *st, const uint8_t *data, size_t len, int64_t version);
/* Its data, or NULL/0 when empty. */
const uint8_t *store_config_data(const struct store *st, size_t *len);
/* May a caller with identities ids (jute vector<Id>) do perm (ZPERM_*) on /zookeeper/config?
 * (super always may; reconfig needs WRITE there, as ZooKeeper's PrepRequestProcessor.) */
bool store_config_allows(const struct store *st, int32_t perm, const uint8_t *ids,
                         uint32_t ids_len);

#endif
