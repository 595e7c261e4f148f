/* ZooKeeper's transaction logs after the snapshot, read as FileTxnLog.FileTxnIterator reads them
 * while a member loads:
 *   - the files: every log.<zxid> starting after the snapshot's zxid, plus the newest one
 *     starting at or before it, in zxid order; each opens with FileHeader { int magic "ZKLG",
 *     int version, long dbid } (a short or foreign header fails the load);
 *   - each entry: long adler32, int length, the txn bytes, byte 'B'. The file ends (and the next
 *     one is read) at an EOF anywhere in an entry, a zero length (the preallocated zero tail), a
 *     missing 'B' (a torn write) or an EOF inside the txn's record; a length -1 or beyond the
 *     jute limit, a checksum mismatch or an unloadable record fails the load;
 *   - txns up to the snapshot's zxid are skipped, everything after it is applied.
 * Unlike ZooKeeper, which only logs it, the import refuses zxids that go backwards or skip
 * (within an epoch each zxid must follow the last; a new epoch starts at counter 1): a missing
 * log would otherwise silently lose writes. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "import/zkimport_internal.h"
#include "proto/jute.h"

#define LOG_PREFIX "log"
#define EOR 'B'

enum entry_status { ENTRY_TXN, ENTRY_END, ENTRY_FAIL };

struct log_cursor {
    const char *path;
    struct zkmap map;
    size_t pos;
};

/* One entry at c->pos (FileTxnIterator.next + Util.readTxnBytes). */
static int next_entry(struct zkimp *im, struct log_cursor *c, struct zkbuf *bytes)
{
    struct zkin in;
    zkin_init(&in, c->map.p + c->pos, c->map.len - c->pos, im->max_len);
    uint64_t crc = (uint64_t)zkin_long(&in);
    size_t len_at = in.pos;
    *bytes = zkin_buffer(&in);
    if (zkin_ok(&in) && bytes->len == -1) { /* readBuffer's null: a NullPointerException */
        zkimp_fail(im, "%s at offset %zu: entry length -1", c->path, c->pos + len_at);
        return ENTRY_FAIL;
    }
    if (in.status == ZKIN_BAD) {
        zkimp_fail(im, "%s at offset %zu: unreasonable entry length %d", c->path,
                   c->pos + len_at, (int32_t)be32_load(in.p + len_at));
        return ENTRY_FAIL;
    }
    if (!zkin_ok(&in) || bytes->len == 0)
        return ENTRY_END; /* torn, or the preallocated zero tail */
    uint8_t eor = zkin_byte(&in);
    if (!zkin_ok(&in) || eor != EOR)
        return ENTRY_END; /* "Last transaction was partial." */
    if (zkf_adler32(1, bytes->ptr, (size_t)bytes->len) != crc) {
        zkimp_fail(im, "%s at offset %zu: CRC check failed (Adler32 of the txn does not match)",
                   c->path, c->pos);
        return ENTRY_FAIL;
    }
    c->pos += in.pos;
    return ENTRY_TXN;
}

static uint32_t epoch_of(int64_t zxid) { return (uint32_t)((uint64_t)zxid >> 32); }
static uint32_t counter_of(int64_t zxid) { return (uint32_t)zxid; }

/* Does zxid follow prev without a hole? */
static bool follows(int64_t prev, int64_t zxid)
{
    if (epoch_of(zxid) == epoch_of(prev))
        return zxid == prev + 1;
    return epoch_of(zxid) > epoch_of(prev) && counter_of(zxid) == 1;
}

/* Skip, check and apply one parsed txn. */
static int take_txn(struct zkimp *im, const struct log_cursor *c, size_t at, const struct zktxn *t)
{
    int64_t zxid = t->hdr.zxid;
    if (im->txns == 0 && zxid <= im->snap_zxid)
        return 0; /* fast-forward to the first txn after the snapshot */
    if (!follows(im->last_zxid, zxid))
        return zkimp_fail(im, "%s at offset %zu: txn 0x%llx does not follow 0x%llx (%s): the logs "
                          "are incomplete", c->path, at, (unsigned long long)zxid,
                          (unsigned long long)im->last_zxid,
                          zxid <= im->last_zxid ? "zxids go backwards" : "txns are missing");
    char why[256];
    if (zkreplay_apply(im, t, why, sizeof why) != 0)
        return zkimp_fail(im, "%s at offset %zu (zxid 0x%llx): %s", c->path, at,
                          (unsigned long long)zxid, why);
    im->last_zxid = zxid;
    im->txns++;
    return 0;
}

static int replay_file(struct zkimp *im, struct log_cursor *c)
{
    struct zkin in;
    zkin_init(&in, c->map.p, c->map.len, im->max_len);
    int32_t magic = zkin_int(&in);
    if (!zkin_ok(&in) || c->map.len < ZKF_FILE_HEADER_LEN)
        return zkimp_fail(im, "%s at offset 0: file header missing (ZooKeeper cannot load it "
                          "either)", c->path);
    if (magic != ZKF_LOG_MAGIC)
        return zkimp_fail(im, "%s at offset 0: invalid magic number (not a transaction log)",
                          c->path);
    c->pos = ZKF_FILE_HEADER_LEN;
    for (;;) {
        size_t at = c->pos;
        struct zkbuf bytes;
        int st = next_entry(im, c, &bytes);
        if (st != ENTRY_TXN)
            return st == ENTRY_END ? 0 : -1;
        struct zktxn t;
        char why[256];
        int prc = zkreplay_parse(im, bytes.ptr, (size_t)bytes.len, &t, why, sizeof why);
        int rc = prc == ZKREPLAY_OK ? take_txn(im, c, at, &t) : 0;
        zkreplay_release(&t);
        if (prc == ZKREPLAY_FAIL)
            return zkimp_fail(im, "%s at offset %zu: %s", c->path, at, why);
        if (prc == ZKREPLAY_EOF || rc)
            return rc; /* an EOF inside a record ends this file, as in the iterator */
    }
}

/* FileTxnIterator.init: every file starting after the snapshot plus the newest one starting
 * at or before the first txn needed. Returns the index of the first file to read. */
static long first_file(const struct zkfile_entry *files, long n, int64_t snap_zxid)
{
    long first = n;
    while (first > 0 && files[first - 1].zxid >= snap_zxid + 1)
        first--;
    return first > 0 ? first - 1 : 0;
}

int zklog_replay(struct zkimp *im)
{
    struct zkfile_entry *files;
    long n = zkdir_list(im, im->log_dir, LOG_PREFIX, true, &files);
    if (n < 0)
        return -1;
    im->last_zxid = im->snap_zxid;
    int rc = 0;
    for (long i = first_file(files, n, im->snap_zxid); i < n && rc == 0; i++) {
        char path[ZKIMP_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", im->log_dir, files[i].name);
        struct log_cursor c = {path, {NULL, 0}, 0};
        rc = zkdir_map(im, path, &c.map);
        if (rc == 0) {
            rc = replay_file(im, &c);
            zkdir_unmap(&c.map);
            im->logs_used++;
        }
    }
    zk_free(files);
    return rc;
}
