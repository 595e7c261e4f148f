/* Shared state and steps of `zabkeeper --import-zookeeper` (src/import only):
 *   zkdir.c    list ZooKeeper's snapshot/log files, map a file
 *   zksnap.c   load the newest valid snapshot (FileSnap) into the DataTree model
 *   zklog.c    iterate the logs after it (FileTxnLog's iterator) and check zxid continuity
 *   zkreplay.c parse one logged txn and apply it as DataTree.processTxn does
 *   zkwrite.c  turn the model into a zabkeeper store, write its snapshot file and the epochs,
 *              read them back and compare
 *   zkverify.c the node-by-node comparison of a loaded zabkeeper store with the model
 *   zkimport.c the command line, the steps in order, the summary */
#ifndef ZK_IMPORT_INTERNAL_H
#define ZK_IMPORT_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "import/zktree.h"

#define ZKIMP_PATH_MAX 4096

struct zkimp {
    /* inputs */
    char snap_dir[ZKIMP_PATH_MAX]; /* ZooKeeper's dataDir/version-2 */
    char log_dir[ZKIMP_PATH_MAX];  /* ZooKeeper's dataLogDir/version-2 */
    int32_t max_len;               /* jute length limit (BinaryInputArchive.checkLength) */
    /* the state read */
    struct zt tree;
    char snap_file[ZKIMP_PATH_MAX + 300]; /* dir + "/" + a file name */
    int64_t snap_zxid;
    int snaps_skipped;
    int64_t last_zxid;             /* last txn replayed, or the snapshot's zxid */
    long txns;
    long ops_reflected;            /* replayed ops the (fuzzy) snapshot already reflected */
    int logs_used;
    int64_t zk_current_epoch, zk_accepted_epoch; /* -1 when ZooKeeper has no such file */
    long dead_sessions;
    /* ZooKeeper's own tree digest (DigestCalculator v2) as of zk_digest_zxid: the newest one the
     * files carry (the snapshot's ZxidDigest, then each txn's TxnDigest) */
    bool zk_digest_known;
    uint64_t zk_digest;
    int64_t zk_digest_zxid;
    char err[1024];
};

/* Record the first failure (printf-style) and return -1. */
int zkimp_fail(struct zkimp *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A warning on stderr (the import goes on). */
void zkimp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- zkdir.c ---- */
struct zkfile_entry {
    int64_t zxid;
    char name[256];
};
/* Files of dir named "<prefix>.<hex zxid>...", sorted by zxid (ascending or not). *out is
 * zk_malloc'd. Returns the count, or -1 (directory unreadable: im->err says why). */
long zkdir_list(struct zkimp *im, const char *dir, const char *prefix, bool ascending,
                struct zkfile_entry **out);
/* A whole file mapped read-only. len 0 gives p == NULL. */
struct zkmap {
    const uint8_t *p;
    size_t len;
};
int zkdir_map(struct zkimp *im, const char *path, struct zkmap *m);
void zkdir_unmap(struct zkmap *m);
/* ZooKeeper's currentEpoch/acceptedEpoch file: a decimal number. -1 if the file is absent;
 * -2 (and im->err) if it cannot be read or parsed. */
int64_t zkdir_read_epoch(struct zkimp *im, const char *dir, const char *name);

/* ---- zksnap.c ---- */
/* Load the newest snapshot that passes ZooKeeper's checks into im->tree (falling back to older
 * ones as FileSnap.deserialize does). 0, or -1 with im->err. */
int zksnap_load(struct zkimp *im);

/* ---- zkreplay.c ---- */
struct zktxn_hdr {
    int64_t client_id;
    int32_t cxid;
    int64_t zxid;
    int64_t time;
    int32_t type;
};

/* A parsed log entry; its buffers point into the entry's bytes. */
struct zktxn {
    struct zktxn_hdr hdr;
    struct zkbuf path, data, acl;
    bool ephemeral;
    int32_t parent_cversion; /* -1: derive from the parent (a V0 create) */
    int32_t version;
    int32_t timeout;         /* createSession (and ErrorTxn's err) */
    int64_t ttl;
    bool paths_listed;       /* closeSession: the txn lists the paths to delete */
    struct zkbuf *paths;     /* zk_malloc'd */
    int32_t n_paths;
    struct zkin ops;         /* multi: reader positioned at the vector<Txn> */
    int32_t n_ops;
    bool has_digest;         /* TxnDigest version 2 after the record */
    uint64_t digest;
};

enum zkreplay_status { ZKREPLAY_OK = 0, ZKREPLAY_EOF = 1, ZKREPLAY_FAIL = -1 };

/* SerializeUtils.deserializeTxn. ZKREPLAY_EOF where Java's EOFException would escape it (the
 * FileTxnIterator then treats the file as ended); ZKREPLAY_FAIL (reason in why) where an
 * IOException would (ZooKeeper refuses to load the log). Release the txn in every case. */
int zkreplay_parse(struct zkimp *im, const uint8_t *p, size_t len, struct zktxn *t, char *why,
                   size_t why_len);
/* FileTxnSnapLog.processTransaction + DataTree.processTxn. 0, or -1 with a reason (what would
 * throw a RuntimeException in ZooKeeper, or out of memory). Records the txn's digest. */
int zkreplay_apply(struct zkimp *im, const struct zktxn *t, char *why, size_t why_len);
void zkreplay_release(struct zktxn *t);

/* ---- zklog.c ---- */
/* Replay every log entry after im->snap_zxid. 0, or -1 with im->err. */
int zklog_replay(struct zkimp *im);

/* ---- zkwrite.c ---- */
struct zkwrite_plan {
    const char *data_dir;     /* the target member's dataDir and dataLogDir (zabkeeper's zoo.cfg) */
    const char *data_log_dir;
    uint64_t lmdb_map_bytes;
    int32_t max_data_len;
    bool extended_types;
    int64_t zxid;             /* the state's zxid in zabkeeper */
    uint32_t accepted_epoch, current_epoch;
};
struct zkwrite_result {
    size_t nodes;
    size_t sessions;
    uint64_t digest;          /* zabkeeper's store digest of the written state */
};
/* Refuse a target whose dataDir or dataLogDir already holds zabkeeper data (a log or snapshot
 * files). 0 or -1. */
int zkwrite_check_target(struct zkimp *im, const struct zkwrite_plan *plan);
/* Refuse a target that holds zabkeeper data; turn the model into a zabkeeper store through
 * zabkeeper's own snapshot loader; write its snapshot file (zabkeeper's writer) and an LMDB
 * environment with the epochs into directories next to the targets and read them back (count,
 * digest, and every node's data, Stat and ACL as zabkeeper serves them); then rename them to
 * dataLogDir/zabkeeper-log and dataDir/zabkeeper-snap. 0, or -1 with im->err; on failure nothing
 * is left behind. */
int zkwrite_target(struct zkimp *im, const struct zkwrite_plan *plan, struct zkwrite_result *res);

/* ---- zkverify.c ---- */
struct store;
/* Every node's data, Stat and ACL and every session (timeout, derived password) as `st` serves
 * them equal the model's, and st holds nothing more. 0, or -1 with im->err naming the first
 * difference. */
int zkverify_store(struct zkimp *im, struct store *st);

#endif
