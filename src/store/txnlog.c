/* LMDB implementation of the transaction log and its metadata (see txnlog.h). */
#include "store/txnlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "proto/jute.h"

struct txnlog {
    MDB_env *env;
    MDB_dbi log_dbi;
    MDB_dbi meta_dbi;
    MDB_txn *batch;         /* open write txn holding appended, uncommitted records */
    int64_t batch_last_zxid;
    int64_t last_zxid;      /* highest durable zxid */
    char path[512];
    char errmsg[TXNLOG_ERRMSG_SIZE];
    void *map_addr; /* our mapping of data.mdb (found lazily), for txnlog_release_memory */
    size_t map_len;
};

static int fail(struct txnlog *log, int rc, const char *what)
{
    snprintf(log->errmsg, sizeof log->errmsg, "%s: %s", what, mdb_strerror(rc));
    if (rc == MDB_MAP_FULL || rc == ENOSPC)
        return TXNLOG_EFULL;
    if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
        return TXNLOG_ECORRUPT;
    if (rc == ENOMEM)
        return TXNLOG_ENOMEM;
    return TXNLOG_EIO;
}

/* Keys are big-endian so LMDB's byte order is zxid order. */
static void zxid_key(uint8_t out[8], int64_t zxid) { be64_store(out, (uint64_t)zxid); }

static int64_t key_zxid(const MDB_val *key)
{
    ZK_ASSERT(key->mv_size >= 8);
    return (int64_t)be64_load(key->mv_data);
}

static int open_batch(struct txnlog *log);

const char *txnlog_errmsg(const struct txnlog *log) { return log->errmsg; }

static int open_tables(struct txnlog *log)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(log->env, NULL, 0, &txn);
    if (rc)
        return fail(log, rc, "begin");
    if ((rc = mdb_dbi_open(txn, "log", MDB_CREATE, &log->log_dbi)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &log->meta_dbi))) {
        mdb_txn_abort(txn);
        return fail(log, rc, "open tables");
    }
    rc = mdb_txn_commit(txn);
    return rc ? fail(log, rc, "commit tables") : TXNLOG_OK;
}

/* The zxid of the first (op MDB_FIRST) or last (MDB_LAST) durable record, 0 if none. */
static int edge_zxid(struct txnlog *log, MDB_cursor_op op, int64_t *out)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return fail(log, rc, "begin read");
    rc = mdb_cursor_open(txn, log->log_dbi, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return fail(log, rc, "cursor");
    }
    MDB_val key, val;
    rc = mdb_cursor_get(cur, &key, &val, op);
    *out = rc == 0 ? key_zxid(&key) : 0;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc && rc != MDB_NOTFOUND)
        return fail(log, rc, "read first/last");
    return TXNLOG_OK;
}

static int load_last_zxid(struct txnlog *log)
{
    return edge_zxid(log, MDB_LAST, &log->last_zxid);
}

int txnlog_first_zxid(struct txnlog *log, int64_t *zxid)
{
    return edge_zxid(log, MDB_FIRST, zxid);
}

int txnlog_open(struct txnlog **out, const char *dir, size_t map_size_bytes, char *errmsg,
                size_t errmsg_size)
{
    struct txnlog *log = zk_calloc(1, sizeof *log);
    if (!log) {
        snprintf(errmsg, errmsg_size, "out of memory");
        return TXNLOG_ENOMEM;
    }
    snprintf(log->path, sizeof log->path, "%s", dir);
    int rc = TXNLOG_EIO;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(log->errmsg, sizeof log->errmsg, "mkdir %s: %s", dir, strerror(errno));
        goto err_after_alloc;
    }
    int mrc = mdb_env_create(&log->env);
    if (mrc) {
        rc = fail(log, mrc, "mdb_env_create");
        goto err_after_alloc;
    }
    if ((mrc = mdb_env_set_maxdbs(log->env, 4)) ||
        (mrc = mdb_env_set_mapsize(log->env, map_size_bytes)) ||
        (mrc = mdb_env_open(log->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0644))) {
        rc = fail(log, mrc, "open LMDB environment");
        goto err_after_env;
    }
    if ((rc = open_tables(log)) || (rc = load_last_zxid(log)))
        goto err_after_env;
    *out = log;
    return TXNLOG_OK;

err_after_env:
    mdb_env_close(log->env);
err_after_alloc:
    snprintf(errmsg, errmsg_size, "%s", log->errmsg);
    zk_free(log);
    return rc;
}

void txnlog_close(struct txnlog *log)
{
    if (!log)
        return;
    txnlog_abort(log);
    mdb_env_close(log->env);
    zk_free(log);
}

int txnlog_has_pending(const struct txnlog *log) { return log->batch != NULL; }

int64_t txnlog_pending_last(const struct txnlog *log)
{
    return log->batch ? log->batch_last_zxid : log->last_zxid;
}

int txnlog_append(struct txnlog *log, int64_t zxid, const void *rec, size_t len)
{
    ZK_ASSERT(zxid > log->last_zxid);
    ZK_ASSERT(!log->batch || zxid > log->batch_last_zxid);
    int rc = open_batch(log);
    if (rc)
        return rc;
    uint8_t kb[8];
    zxid_key(kb, zxid);
    MDB_val key = {8, kb}, val = {len, (void *)rec};
    rc = mdb_put(log->batch, log->log_dbi, &key, &val, MDB_APPEND);
    if (rc) {
        txnlog_abort(log);
        return fail(log, rc, "append");
    }
    log->batch_last_zxid = zxid;
    return TXNLOG_OK;
}

/* Drop the data file's pages from the page cache once a commit made them durable. LMDB reuses
 * freed pages wherever they are, and a page written into a large page-cache folio (left by an
 * earlier multi-page write) dirties, and writes back, the whole folio: about a quarter more
 * bytes per record (docs/storage.md). The few pages the next commit needs are read back. */
static void drop_cached_pages(struct txnlog *log)
{
    int fd;
    if (mdb_env_get_fd(log->env, &fd) == 0)
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

int txnlog_commit(struct txnlog *log)
{
    if (!log->batch)
        return TXNLOG_OK;
    int rc = mdb_txn_commit(log->batch); /* fsyncs: durable when it returns 0 */
    log->batch = NULL;
    if (rc)
        return fail(log, rc, "commit batch");
    ZK_ASSERT(log->batch_last_zxid >= log->last_zxid);
    log->last_zxid = log->batch_last_zxid;
    drop_cached_pages(log);
    return TXNLOG_OK;
}

void txnlog_abort(struct txnlog *log)
{
    if (log->batch)
        mdb_txn_abort(log->batch);
    log->batch = NULL;
    log->batch_last_zxid = log->last_zxid;
}

int64_t txnlog_last_zxid(struct txnlog *log) { return log->last_zxid; }

#define DELETE_PER_TXN 4096 /* bounds the dirty pages one delete transaction holds */

void txnlog_release_memory(struct txnlog *log);

/* Delete up to DELETE_PER_TXN log records in (lo, hi] in one durable write txn; *more is set
 * when records in the range may remain. */
static int delete_some(struct txnlog *log, int64_t lo, int64_t hi, bool *more)
{
    ZK_ASSERT(!log->batch);
    *more = false;
    if (lo == INT64_MAX)
        return TXNLOG_OK; /* nothing is above the largest zxid */
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(log->env, NULL, 0, &txn);
    if (rc)
        return fail(log, rc, "begin delete");
    if ((rc = mdb_cursor_open(txn, log->log_dbi, &cur))) {
        mdb_txn_abort(txn);
        return fail(log, rc, "cursor delete");
    }
    /* zxids are never negative: a negative lower bound means "from the first record" (its
     * big-endian key would sort after every real one). */
    uint8_t kb[8];
    zxid_key(kb, lo < 0 ? 0 : lo + 1);
    MDB_val key = {8, kb}, val;
    int deleted = 0;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && key_zxid(&key) <= hi && deleted < DELETE_PER_TXN) {
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        deleted++;
        rc = mdb_cursor_get(cur, &key, &val, MDB_GET_CURRENT);
        if (rc == EINVAL) /* cursor past the end after deleting the last record */
            rc = MDB_NOTFOUND;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return fail(log, rc, "delete range");
    }
    if ((rc = mdb_txn_commit(txn)))
        return fail(log, rc, "commit delete");
    *more = deleted == DELETE_PER_TXN;
    return TXNLOG_OK;
}

/* Delete log records in (lo, hi], in bounded transactions. */
static int delete_range(struct txnlog *log, int64_t lo, int64_t hi)
{
    bool more = true;
    int rc = TXNLOG_OK;
    while (more && rc == TXNLOG_OK) {
        rc = delete_some(log, lo, hi, &more);
        txnlog_release_memory(log); /* the walk faulted in the pages it deleted from */
    }
    return rc;
}

int txnlog_truncate_after(struct txnlog *log, int64_t zxid)
{
    txnlog_abort(log);
    int rc = delete_range(log, zxid, INT64_MAX);
    if (rc == TXNLOG_OK && (rc = load_last_zxid(log)) == TXNLOG_OK) {
        ZK_ASSERT(log->last_zxid <= zxid);
        log->batch_last_zxid = log->last_zxid;
    }
    return rc;
}

int txnlog_stage_purge(struct txnlog *log, int64_t zxid, size_t max, int64_t *purged_through)
{
    int rc = open_batch(log);
    if (rc)
        return rc;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(log->batch, log->log_dbi, &cur))) {
        txnlog_abort(log);
        return fail(log, rc, "cursor purge");
    }
    MDB_val key, val;
    size_t deleted = 0;
    *purged_through = zxid; /* unless a record <= zxid is left below */
    rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (rc == 0 && key_zxid(&key) <= zxid) {
        if (deleted == max) {
            *purged_through = key_zxid(&key) - 1;
            break;
        }
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        deleted++;
        rc = mdb_cursor_get(cur, &key, &val, MDB_GET_CURRENT);
        if (rc == EINVAL)
            rc = MDB_NOTFOUND;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        txnlog_abort(log);
        return fail(log, rc, "purge");
    }
    return TXNLOG_OK;
}

int txnlog_purge_through(struct txnlog *log, int64_t zxid)
{
    if (log->batch)
        return TXNLOG_OK; /* purge later: never mix it into a client batch */
    return delete_range(log, INT64_MIN, zxid);
}

int txnlog_read_after(struct txnlog *log, int64_t after_zxid, txnlog_visit_fn fn, void *ctx)
{
    if (after_zxid == INT64_MAX)
        return TXNLOG_OK;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return fail(log, rc, "begin read");
    if ((rc = mdb_cursor_open(txn, log->log_dbi, &cur))) {
        mdb_txn_abort(txn);
        return fail(log, rc, "cursor read");
    }
    uint8_t kb[8];
    zxid_key(kb, after_zxid < 0 ? 0 : after_zxid + 1);
    MDB_val key = {8, kb}, val;
    int stop = 0;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && !stop) {
        stop = fn(ctx, key_zxid(&key), val.mv_data, val.mv_size);
        if (!stop)
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (stop)
        return stop;
    return rc == MDB_NOTFOUND ? TXNLOG_OK : fail(log, rc, "read log");
}

size_t txnlog_count(struct txnlog *log)
{
    MDB_txn *txn;
    MDB_stat st;
    if (mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn))
        return 0;
    int rc = mdb_stat(txn, log->log_dbi, &st);
    mdb_txn_abort(txn);
    return rc ? 0 : st.ms_entries;
}

static int open_batch(struct txnlog *log)
{
    if (log->batch)
        return TXNLOG_OK;
    int rc = mdb_txn_begin(log->env, NULL, 0, &log->batch);
    if (rc) {
        log->batch = NULL;
        return fail(log, rc, "begin batch");
    }
    log->batch_last_zxid = log->last_zxid;
    return TXNLOG_OK;
}

int txnlog_stage_meta(struct txnlog *log, const char *name, int64_t value)
{
    int rc = open_batch(log);
    if (rc)
        return rc;
    uint8_t vb[8];
    zxid_key(vb, value);
    MDB_val key = {strlen(name), (void *)name}, val = {8, vb};
    if ((rc = mdb_put(log->batch, log->meta_dbi, &key, &val, 0))) {
        txnlog_abort(log);
        return fail(log, rc, "stage meta");
    }
    return TXNLOG_OK;
}

int txnlog_meta_put(struct txnlog *log, const char *name, int64_t value)
{
    ZK_ASSERT(!log->batch);
    MDB_txn *txn;
    int rc = mdb_txn_begin(log->env, NULL, 0, &txn);
    if (rc)
        return fail(log, rc, "begin meta");
    uint8_t vb[8];
    zxid_key(vb, value);
    MDB_val key = {strlen(name), (void *)name}, val = {8, vb};
    if ((rc = mdb_put(txn, log->meta_dbi, &key, &val, 0))) {
        mdb_txn_abort(txn);
        return fail(log, rc, "put meta");
    }
    rc = mdb_txn_commit(txn);
    return rc ? fail(log, rc, "commit meta") : TXNLOG_OK;
}

int64_t txnlog_meta_get(struct txnlog *log, const char *name, int64_t def)
{
    MDB_txn *txn;
    if (mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn))
        return def;
    MDB_val key = {strlen(name), (void *)name}, val;
    int64_t result = def;
    if (mdb_get(txn, log->meta_dbi, &key, &val) == 0 && val.mv_size == 8)
        result = key_zxid(&val);
    mdb_txn_abort(txn);
    return result;
}

/* LMDB reports its map address only for fixed maps: find our data.mdb mapping once, by device
 * and inode (a path may be spelled otherwise in /proc/self/maps: "..", symlinks). */
static void find_map(struct txnlog *log)
{
    mdb_filehandle_t fd;
    struct stat st;
    if (mdb_env_get_fd(log->env, &fd) != 0 || fstat(fd, &st) != 0)
        return;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end, offset, inode;
        unsigned dev_major, dev_minor;
        if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &start, &end, &offset, &dev_major,
                   &dev_minor, &inode) != 6 || offset != 0)
            continue;
        if (inode == (unsigned long)st.st_ino && dev_major == major(st.st_dev) &&
            dev_minor == minor(st.st_dev)) {
            log->map_addr = (void *)start;
            log->map_len = end - start;
            break;
        }
    }
    fclose(f);
}

void txnlog_release_memory(struct txnlog *log)
{
    if (!log->map_addr)
        find_map(log);
    MDB_envinfo info;
    if (!log->map_addr || mdb_env_info(log->env, &info) != 0)
        return;
    size_t used = ((size_t)info.me_last_pgno + 1) * (size_t)sysconf(_SC_PAGESIZE);
    if (used > log->map_len)
        used = log->map_len;
    if (madvise(log->map_addr, used, MADV_DONTNEED) != 0)
        snprintf(log->errmsg, sizeof log->errmsg, "madvise: %s", strerror(errno));
}

uint64_t txnlog_disk_bytes(struct txnlog *log)
{
    char file[600];
    snprintf(file, sizeof file, "%s/data.mdb", log->path);
    struct stat st;
    return stat(file, &st) == 0 ? (uint64_t)st.st_blocks * 512u : 0;
}
