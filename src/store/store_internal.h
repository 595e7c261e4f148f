/* Internal data structures of the znode store (shared by the store_*.c files only).
 *
 * Layout: one allocation per znode (struct + full path), data in a second allocation when non-empty.
 * Nodes are found by full path in an intrusive chained hash table; children form an intrusive
 * doubly-linked sibling list (O(1) add/remove, O(children) listing). Ephemerals hang on their
 * session's owner list; containers and TTL nodes on the store's "special" list (a node is at most
 * one of those kinds, so one pair of links serves both). ACL lists are interned and refcounted.
 * Every write runs inside a txn context with an undo log, so a failed multi or an out-of-memory in
 * the middle of an op rolls the tree back exactly. */
#ifndef ZK_STORE_INTERNAL_H
#define ZK_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/jute.h"
#include "proto/zkproto.h"
#include "store/store.h"
#include "store/store_chain.h"
#include "store/watch.h"

struct acl_list {
    struct chain_link link; /* link.hash: hash of bytes */
    uint32_t refcount;
    uint32_t len;         /* bytes: jute vector<ACL>, normalized (count + entries) */
    uint32_t snap_index;  /* scratch for snapshot writing */
    uint8_t bytes[];
};

struct znode {
    struct chain_link link; /* link.hash: hash of the full path */
    struct znode *parent;
    struct znode *first_child;
    struct znode *next_sibling;
    struct znode *prev_sibling;
    struct znode *owner_next; /* session ephemerals or store special (container/TTL) list */
    struct znode *owner_prev;
    struct acl_list *acl;
    uint8_t *data; /* NULL when data_len <= 0 */
    uint64_t data_hash;
    int64_t czxid, mzxid, ctime, mtime, pzxid;
    int64_t ephemeral_owner; /* internal encoding: session, container or TTL marker */
    int32_t version;
    int32_t cversion; /* STORED: number of child creates */
    int32_t aversion;
    int32_t num_children;
    int32_t data_len; /* -1 means null data */
    uint32_t path_len;
    uint8_t kind;     /* enum znode_kind */
    char path[];      /* NUL-terminated full path */
};

struct owner_list {
    struct znode *head;
    struct znode *tail;
    size_t count;
};

struct session {
    struct chain_link link; /* link.hash: store_mix64(id) */
    int64_t id;
    int32_t timeout_ms;
    uint8_t passwd[ZK_PASSWD_LEN];
    struct owner_list ephemerals;
};

enum undo_kind {
    UNDO_CREATE = 1,
    UNDO_DELETE,
    UNDO_SET_DATA,
    UNDO_SET_ACL,
    UNDO_SESSION_ADD,
    UNDO_SESSION_UPDATE,
    UNDO_SESSION_REMOVE,
};

struct undo_entry {
    uint8_t kind;
    struct znode *node;
    struct znode *parent;
    struct session *session;
    int64_t saved_parent_pzxid;
    int32_t saved_parent_cversion;
    int32_t saved_version;
    int64_t saved_mzxid, saved_mtime;
    uint8_t *saved_data;
    int32_t saved_data_len;
    uint64_t saved_data_hash;
    struct acl_list *saved_acl;
    int32_t saved_timeout;
    uint8_t saved_passwd[ZK_PASSWD_LEN];
};

struct txn_event {
    int32_t type;      /* enum zk_event_type */
    bool duplicate;    /* same (type, path) as an earlier event of this txn */
    const char *path;  /* points into a node kept alive until the txn ends */
    uint32_t path_len;
    const struct acl_list *acl; /* that node's ACL (READ is checked on delivery) */
    uint64_t hash;
};

struct event_sort_key {
    uint64_t hash;
    int32_t type;
    uint32_t index;
};

struct txn_ctx {
    struct undo_entry *undo;
    size_t undo_len, undo_cap;
    struct txn_event *events;
    struct event_sort_key *event_keys;
    size_t events_len, events_cap;
    int64_t zxid;
    int64_t time_ms;
    bool active;
};

struct store {
    struct store_options opts;
    struct chain_table nodes;    /* struct znode by path */
    struct chain_table acls;     /* struct acl_list by bytes */
    struct chain_table sessions; /* struct session by id */
    struct owner_list special; /* containers and TTL nodes */
    struct watch_manager watches;
    struct znode *root;
    int64_t last_zxid;
    uint64_t digest;
    uint64_t data_size;
    size_t ephemeral_count;
    struct txn_ctx txn;
    struct jute_writer scratch; /* reused for ACL normalization */
};

/* ---- lifetime (store_core.c) ---- */
int store_init_tree(struct store *st);    /* fresh node + ACL tables with the 4 system nodes */
void store_release_tree(struct store *st); /* frees nodes, ACLs and sessions */
void store_check_invariants(const struct store *st); /* O(n), for tests */

/* ---- hashing (store_hash.c) ---- */
uint64_t store_hash_bytes(const void *p, size_t len);
uint64_t store_mix64(uint64_t x);
uint64_t store_node_digest(const struct znode *n);
uint64_t store_session_digest(const struct session *s);

/* ---- node table and tree links (store_tree.c) ---- */
void node_table_free_all(struct store *st);
struct znode *node_lookup(const struct store *st, const char *path, size_t len);
struct znode *node_lookup_hashed(const struct store *st, const char *path, size_t len,
                                 uint64_t hash);
struct znode *node_alloc(const char *path, size_t len, const uint8_t *data, int32_t data_len);
void node_free(struct store *st, struct znode *n);
void node_attach(struct store *st, struct znode *parent, struct znode *n);
void node_detach(struct store *st, struct znode *n);
void node_fill_stat(const struct znode *n, struct zk_stat *out);
/* The node after n in a walk of top's subtree, parents before children, without a stack; NULL
 * after the last. Start with n = top. */
const struct znode *node_next_preorder(const struct znode *top, const struct znode *n);
void owner_list_append(struct owner_list *l, struct znode *n);
void owner_list_remove(struct owner_list *l, struct znode *n);
struct owner_list *node_owner_list(struct store *st, struct znode *n);
/* Take a childless node off its owner list (session ephemerals, containers/TTL) and out of the
 * tree: the common half of a delete and of undoing a create. */
void node_unlink(struct store *st, struct znode *n);
void store_digest_remove_node(struct store *st, const struct znode *n);
void store_digest_add_node(struct store *st, const struct znode *n);
uint8_t node_kind_from_owner(int64_t owner);

/* ---- ACLs (store_acl.c) ---- */
void acl_table_free(struct chain_table *t);
/* Normalize a request's vector<ACL> (dedupe, expand auth) and intern it. Returns 0 and a
 * referenced list, ZE_INVALIDACL, ZE_MARSHALLINGERROR, or -1 on out of memory. */
/* (returns STORE_ERR_NOMEM rather than -1 on out of memory) */
int acl_from_request(struct store *st, struct jute_bytes acl_vec, const uint8_t *auth,
                     uint32_t auth_len, struct acl_list **out);
/* Intern already-normalized bytes (fresh tree, snapshot load). NULL on out of memory. */
struct acl_list *acl_intern(struct chain_table *t, const uint8_t *bytes, uint32_t len);
void acl_release(struct chain_table *t, struct acl_list *acl);
/* Entries one ACL may have: every member de-duplicates and checks them at apply time, so the
 * count is bounded before a request is logged (ZooKeeper bounds it only by jute.maxbuffer). */
#define ACL_ENTRIES_MAX 1024
/* 0, ZE_MARSHALLINGERROR (not a vector<ACL>) or ZE_INVALIDACL (empty or over ACL_ENTRIES_MAX). */
int32_t acl_vector_check(struct jute_bytes acl_vec);
/* Parse a vector<ACL> from the reader, only checking the shape; returns the raw span. */
struct jute_bytes acl_skip_vector(struct jute_reader *jr);
/* 0 if ids (jute vector<Id> of the caller: ip, digest, super) grant perm on acl, else
 * ZE_NOAUTH. A NULL/empty ACL or a super id allows everything. */
int32_t acl_check(const struct acl_list *acl, int32_t perm, const uint8_t *ids, uint32_t ids_len);
bool acl_ids_have_super(const uint8_t *ids, uint32_t ids_len);
/* The ACL as getACL shows it to a caller without ADMIN: digest ids masked as user:x. */
void acl_write_masked(struct jute_writer *out, const struct acl_list *acl);

/* ---- paths (store_path.c) ---- */
bool path_is_valid(const char *path, size_t len); /* PathUtils.validatePath */
bool path_has_nul(const char *path, size_t len);
/* Length of the parent prefix (index of the last '/'), or -1 if there is no '/'. */
long path_last_slash(const char *path, size_t len);

/* ---- sessions (store_session.c) ---- */
void session_table_free(struct chain_table *t);
struct session *session_find(const struct store *st, int64_t id);
void session_link(struct store *st, struct session *s);
void session_unlink(struct store *st, struct session *s);

/* ---- txn context, undo log, events (store_txn.c) ---- */
void txn_begin(struct store *st, int64_t zxid, int64_t time_ms);
int txn_reserve(struct store *st, size_t undo_entries, size_t events);
struct undo_entry *txn_push_undo(struct store *st, uint8_t kind);
void txn_push_event(struct store *st, int32_t type, const struct znode *n);
void txn_rollback(struct store *st);
void txn_commit(struct store *st); /* fires events, frees deferred memory */
void txn_ctx_free(struct txn_ctx *t);

/* ---- tree mutations with undo (store_mutate.c) ---- */
/* Each returns 0, or STORE_ERR_NOMEM with nothing changed (ownership of n/data/acl stays with
 * the caller on failure, passes to the tree on success). */
int mutate_create(struct store *st, struct znode *parent, struct znode *n);
int mutate_delete(struct store *st, struct znode *n);
int mutate_set_data(struct store *st, struct znode *n, uint8_t *data, int32_t data_len);
int mutate_set_acl(struct store *st, struct znode *n, struct acl_list *acl);

/* ---- quotas (store_quota.c) ---- */
/* A prepared update of a quota's stats node (its new data), applied by mutate_quota_stats. */
struct quota_update {
    struct znode *stats; /* NULL: nothing to update */
    uint8_t *data;
    int32_t len;
};
/* The update for count_diff nodes and bytes_diff data bytes changing at path: 0 (q->stats may
 * be NULL) or STORE_ERR_NOMEM. */
int quota_prepare_change(struct store *st, const char *path, size_t len, int64_t count_diff,
                         int64_t bytes_diff, struct quota_update *q);
/* n, about to be created under parent, is a quota's zookeeper_stats node: its data becomes the
 * counts of the subtree it names. 0 (also when n is no such node) or STORE_ERR_NOMEM. */
int quota_fill_stats_node(struct store *st, struct znode *parent, struct znode *n);
void quota_discard(struct quota_update *q);
/* ZooKeeperServer.checkQuota: ZE_QUOTAEXCEEDED when txn carries the enforceQuota identity and
 * the change would take the deepest quota on path past a hard limit (countHardLimit,
 * byteHardLimit), else 0. */
int32_t quota_check(const struct store *st, const struct store_txn *txn, const char *path,
                    size_t len, int64_t count_diff, int64_t bytes_diff);
/* Apply a prepared update (one undo slot reserved): the data only, no version, no event. */
void mutate_quota_stats(struct store *st, struct quota_update *q);

/* ---- write ops (store_write.c) ---- */
/* Internal result meaning "out of memory" (positive, so it never collides with a ZE_ code). */
#define STORE_ERR_NOMEM 1
/* Each returns 0, a ZE_ code, or STORE_ERR_NOMEM (partial work is in the undo log). */
int32_t op_create(struct store *st, const struct store_txn *txn, int32_t opcode,
                  struct jute_reader *jr, struct znode **created);
int32_t op_delete(struct store *st, const struct store_txn *txn, struct jute_reader *jr);
int32_t op_set_data(struct store *st, const struct store_txn *txn, struct jute_reader *jr,
                    struct znode **changed);
int32_t op_set_acl(struct store *st, const struct store_txn *txn, struct jute_reader *jr,
                   struct znode **changed);
int32_t op_check(struct store *st, const struct store_txn *txn, struct jute_reader *jr);
int32_t op_delete_container(struct store *st, struct jute_reader *jr);
/* Parse-only checks used by store_validate_write and multi. */
int32_t parse_write_record(int32_t opcode, struct jute_reader *jr, int32_t max_data_len);

/* ---- reply helpers ---- */
void write_node_stat(struct jute_writer *jw, const struct znode *n);

#endif
