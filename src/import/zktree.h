/* A model of ZooKeeper's in-memory DataTree, just enough to rebuild the state a ZooKeeper member
 * would serve from its snapshot and transaction logs: the node map (path -> node, as
 * DataTree.nodes), each node's child set, StatPersisted, data and ACL cache id, the ACL cache
 * (ReferenceCountedACLCache: id -> vector<ACL>), the per-owner ephemeral path sets and the session
 * map (id -> timeout).
 *
 * The mutations follow DataTree's createNode/deleteNode/setData/setACL/setCversionPzxid/
 * killSession line by line, including their fuzzy-snapshot behaviour: a replayed create of an
 * existing child fails with NODEEXISTS, a delete updates the parent's pzxid before it finds the
 * child missing, and a delete of a node that still has children leaves those children in the map
 * but outside the tree ("orphans"), exactly as ZooKeeper's map does. Whatever is outside the tree
 * at the end is dropped, as ZooKeeper's next snapshot would drop it. */
#ifndef ZK_IMPORT_ZKTREE_H
#define ZK_IMPORT_ZKTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "import/zkformat.h"
#include "store/store_chain.h"

#define ZT_OPEN_ACL_ID (-1LL) /* ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID */

enum zt_result { ZT_OK = 0, ZT_NONODE = -101, ZT_NODEEXISTS = -110, ZT_NOMEM = 1 };

struct zt_eph;

struct zt_node {
    struct chain_link link; /* in zt.nodes, hash of the path */
    struct zt_node *parent; /* NULL for the root and for orphans */
    struct zt_node *first_child, *next_sibling, *prev_sibling;
    struct zt_eph *eph;     /* this node's entry in its owner's ephemeral set, if any */
    uint8_t *data;          /* NULL when data_len <= 0 */
    int32_t data_len;       /* -1: null data */
    int32_t num_children;
    int64_t acl;            /* ACL cache id */
    /* StatPersisted */
    int64_t czxid, mzxid, ctime, mtime, owner, pzxid;
    int32_t version, cversion, aversion;
    uint32_t path_len;
    char path[];            /* "" for the root, as in ZooKeeper's map */
};

struct zt_acl {
    struct chain_link by_id;    /* hash of the id */
    struct chain_link by_bytes; /* hash of the bytes */
    int64_t id;
    uint32_t out_index;         /* scratch for the output */
    bool used;                  /* scratch for the output */
    uint32_t len;
    uint8_t bytes[];            /* jute vector<ACL>, count included */
};

/* One owner's ephemeral set (a DataTree.ephemerals value): a list of path entries. */
struct zt_owner {
    struct chain_link link; /* in zt.owners, hash of the owner */
    int64_t owner;
    struct zt_eph *head;
};

/* (owner, path) is unique, as in ZooKeeper's sets. */
struct zt_eph {
    struct chain_link link; /* in zt.ephs, hash of (owner, path) */
    struct zt_eph *prev, *next;
    struct zt_owner *set;
    struct zt_node *node; /* the node at path with this owner; NULL once it left the map */
    uint32_t path_len;
    char path[];
};

struct zt_session {
    struct chain_link link;
    int64_t id;
    int32_t timeout;
};

struct zt {
    struct chain_table nodes;    /* struct zt_node */
    struct chain_table acl_ids;  /* struct zt_acl by id */
    struct chain_table acl_vals; /* struct zt_acl by bytes */
    struct chain_table owners;   /* struct zt_owner */
    struct chain_table ephs;     /* struct zt_eph */
    struct chain_table sessions; /* struct zt_session */
    struct zt_node *root;
    struct zt_acl *open_acl;     /* what id -1 stands for: world:anyone with every permission */
    int64_t acl_index;           /* ReferenceCountedACLCache.aclIndex */
};

int zt_init(struct zt *t);
void zt_free(struct zt *t);

/* Lookup as DataTree.nodes.get: "" and "/" both name the root. */
struct zt_node *zt_lookup(const struct zt *t, const char *path, size_t len);

/* ---- building from a snapshot (DataTree.deserialize) ---- */
/* A node read from the snapshot (StatPersisted fields filled by the caller in *proto); its
 * parent must already be there. Returns ZT_OK, ZT_NONODE (no parent) or ZT_NOMEM. */
int zt_load_node(struct zt *t, const char *path, size_t len, const struct zt_node *proto,
                 struct zkbuf data);
/* An ACL cache entry from the snapshot. ZT_OK or ZT_NOMEM. */
int zt_load_acl(struct zt *t, int64_t id, const uint8_t *bytes, uint32_t len);

/* ---- DataTree mutations; each returns ZT_OK, ZT_NONODE, ZT_NODEEXISTS or ZT_NOMEM ---- */
struct zt_create {
    const char *path;
    size_t path_len;
    struct zkbuf data;
    struct zkbuf acl; /* raw vector<ACL>; len -1 (null) means OPEN_ACL_UNSAFE */
    int64_t owner;    /* session, container marker, TTL encoding or 0 */
    int32_t parent_cversion;
    int64_t zxid, time;
};
int zt_create_node(struct zt *t, const struct zt_create *c);
int zt_delete_node(struct zt *t, const char *path, size_t len, int64_t zxid);
int zt_set_data(struct zt *t, const char *path, size_t len, struct zkbuf data, int32_t version,
                int64_t zxid, int64_t time);
int zt_set_acl(struct zt *t, const char *path, size_t len, struct zkbuf acl, int32_t version);
int zt_set_cversion_pzxid(struct zt *t, const char *path, size_t len, int32_t cversion,
                          int64_t zxid);
/* closeSession: delete the paths the txn lists (may be NULL: none), then what is left of the
 * session's ephemeral set. NoNode on any of them is ignored, as ZooKeeper does. */
int zt_kill_session(struct zt *t, int64_t session, int64_t zxid, const struct zkbuf *paths,
                    int32_t n_paths);

/* ---- sessions (FileTxnSnapLog's map) ---- */
int zt_session_put(struct zt *t, int64_t id, int32_t timeout);
void zt_session_remove(struct zt *t, int64_t id);
struct zt_session *zt_session_find(const struct zt *t, int64_t id);

/* ZooKeeperServer.loadData's clean-up: ephemerals of owners that are not sessions are deleted
 * at zxid. Returns the number of owners cleaned, or -1 when memory ran out. */
long zt_kill_dead_sessions(struct zt *t, int64_t zxid);

/* Member-local nodes, which ZooKeeper does not replicate (and leaves out of its digest):
 * DataTree.setupQuota: every quota's zookeeper_stats node gets "count=N,bytes=M" of its subtree
 * in this tree. Returns the number of quotas, or -1 when memory ran out. */
long zt_setup_quota(struct zt *t);
/* /zookeeper/config, which every ZooKeeper member rewrites from its own zoo.cfg at start, becomes
 * a fresh zabkeeper member's: empty data, zero Stat (its ACL stays). */
void zt_reset_config(struct zt *t);

/* ACL bytes of a cache id (OPEN_ACL_UNSAFE for -1), or NULL if the cache does not hold it
 * (the entry's scratch fields are the caller's). */
struct zt_acl *zt_acl_of(const struct zt *t, int64_t id);
/* One entry for every list with a's bytes (ZooKeeper may hold the same list under two ids, e.g.
 * -1 and an id for an explicit world:anyone ALL). */
struct zt_acl *zt_acl_canonical(const struct zt *t, struct zt_acl *a);

/* ZooKeeper's tree digest (DigestCalculator version 2 summed as NodeHashMapImpl does) over every
 * node of the map, orphans included; nodes under /zookeeper/ do not count. */
uint64_t zt_zk_digest(const struct zt *t);
#define ZT_ZK_DIGEST_VERSION 2

/* Nodes in the map that are not in the tree (see the header comment). */
size_t zt_orphan_count(const struct zt *t);

/* Pre-order walk of the tree (parents first); returns the next node after n, NULL at the end. */
const struct zt_node *zt_next_preorder(const struct zt_node *n);

#endif
