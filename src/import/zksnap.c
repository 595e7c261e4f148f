/* Loading ZooKeeper's newest valid snapshot, as FileSnap.deserialize does: the candidates are
 * the snapshot.<zxid> files whose last 5 bytes are the seal's trailer (int 1, '/'), newest first,
 * at most 100; the first that parses and whose Adler32 seals match is used, an invalid one is
 * skipped for the next older one. Layout of a snapshot file:
 *
 *   FileHeader { int magic "ZKSN", int version, long dbid }
 *   int count, count x { long sessionId, int timeout }            (SerializeUtils)
 *   int count, count x { long id, vector<ACL> }                   (ReferenceCountedACLCache)
 *   { ustring path, buffer data, long acl, StatPersisted } ...    (DataTree, "" = the root)
 *   ustring "/"                                                   (end of nodes)
 *   long adler32 of everything before, ustring "/"                (seal)
 *   [ long zxid, int digestVersion, long digest,                   (ZxidDigest, 3.6+)
 *     long adler32 of everything before, ustring "/" ]            (second seal)
 *
 * Compressed snapshots (.gz, .snappy) are not read: they are skipped like invalid ones (with a
 * warning), which is safe because the logs after an older snapshot are checked for gaps. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "import/zkimport_internal.h"
#include "proto/jute.h"

#define SNAP_PREFIX "snapshot"
#define SNAP_CANDIDATES 100 /* findNValidSnapshots(100) */

/* A failure inside a snapshot: what and where (the snapshot is then skipped). */
struct snap_err {
    char what[256];
    size_t offset;
};

static bool snap_fail(struct snap_err *e, const struct zkin *in, size_t off, const char *what)
{
    snprintf(e->what, sizeof e->what, "%s%s", what,
             in && in->status == ZKIN_EOF ? " (file ends too early)"
             : in && in->status == ZKIN_BAD ? " (unreasonable length)" : "");
    e->offset = off;
    return false;
}

/* SnapStream.getStreamMode: the part after the last '.' names a compression. */
static bool is_compressed(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot + 1, "gz") || !strcasecmp(dot + 1, "snappy"));
}

/* SnapStream.isValidCheckedStream */
static bool has_trailer(const struct zkmap *m)
{
    return m->len >= 10 && be32_load(m->p + m->len - 5) == 1 && m->p[m->len - 1] == '/';
}

static bool read_sessions(struct zkimp *im, struct zkin *in, struct snap_err *e)
{
    for (int32_t count = zkin_int(in); count > 0 && zkin_ok(in); count--) {
        size_t at = in->pos;
        int64_t id = zkin_long(in);
        int32_t timeout = zkin_int(in);
        if (!zkin_ok(in))
            return snap_fail(e, in, at, "session entry");
        if (zt_session_put(&im->tree, id, timeout) != ZT_OK)
            return snap_fail(e, NULL, at, "out of memory");
    }
    return zkin_ok(in) || snap_fail(e, in, in->pos, "session count");
}

static bool read_acl_cache(struct zkimp *im, struct zkin *in, struct snap_err *e)
{
    for (int32_t count = zkin_int(in); count > 0 && zkin_ok(in); count--) {
        size_t at = in->pos;
        int64_t id = zkin_long(in);
        struct zkbuf acl;
        zkin_acl_vector(in, &acl);
        if (!zkin_ok(in))
            return snap_fail(e, in, at, "ACL cache entry");
        if (acl.len < 0) /* ZooKeeper: "missing acls" */
            return snap_fail(e, NULL, at, "ACL cache entry without a list");
        if (zt_load_acl(&im->tree, id, acl.ptr, (uint32_t)acl.len) != ZT_OK)
            return snap_fail(e, NULL, at, "out of memory");
    }
    return zkin_ok(in) || snap_fail(e, in, in->pos, "ACL cache count");
}

static bool is_end_marker(struct zkbuf path) { return path.len == 1 && path.ptr[0] == '/'; }

/* DataNode { buffer data, long acl, StatPersisted } after its path. */
static bool read_node(struct zkimp *im, struct zkin *in, struct zkbuf path, size_t at,
                      struct snap_err *e)
{
    struct zt_node proto;
    memset(&proto, 0, sizeof proto);
    struct zkbuf data = zkin_buffer(in);
    proto.acl = zkin_long(in);
    proto.czxid = zkin_long(in);
    proto.mzxid = zkin_long(in);
    proto.ctime = zkin_long(in);
    proto.mtime = zkin_long(in);
    proto.version = zkin_int(in);
    proto.cversion = zkin_int(in);
    proto.aversion = zkin_int(in);
    proto.owner = zkin_long(in);
    proto.pzxid = zkin_long(in);
    if (!zkin_ok(in))
        return snap_fail(e, in, at, "node record");
    int rc = zt_load_node(&im->tree, (const char *)path.ptr, (size_t)path.len, &proto, data);
    if (rc == ZT_NONODE)
        return snap_fail(e, NULL, at, "node whose parent is not in the snapshot");
    return rc == ZT_OK || snap_fail(e, NULL, at, "out of memory");
}

static bool read_tree(struct zkimp *im, struct zkin *in, struct snap_err *e)
{
    if (!read_acl_cache(im, in, e))
        return false;
    for (;;) {
        size_t at = in->pos;
        struct zkbuf path = zkin_buffer(in);
        if (!zkin_ok(in) || path.len < 0)
            return snap_fail(e, in, at, "node path");
        if (is_end_marker(path))
            break;
        if (!read_node(im, in, path, at, e))
            return false;
    }
    return im->tree.root || snap_fail(e, NULL, in->pos, "tree without a root node");
}

/* SnapStream.checkSealIntegrity: adler32 of every byte before, then "/". *adler carries the
 * running checksum from *done bytes on. */
static bool check_seal(struct zkin *in, uint32_t *adler, size_t *done, struct snap_err *e)
{
    size_t at = in->pos;
    *adler = zkf_adler32(*adler, in->p + *done, at - *done);
    *done = at;
    int64_t val = zkin_long(in);
    struct zkbuf slash = zkin_buffer(in);
    if (!zkin_ok(in))
        return snap_fail(e, in, at, "checksum seal");
    (void)slash; /* read and ignored, as ZooKeeper does */
    if ((uint64_t)val != *adler)
        return snap_fail(e, NULL, at, "CRC corruption (Adler32 of the snapshot does not match)");
    return true;
}

/* DataTree.deserializeZxidDigest: absent in older snapshots (EOF), then a second seal. */
static bool read_digest(struct zkimp *im, struct zkin *in, uint32_t *adler, size_t *done,
                        struct snap_err *e)
{
    if (in->pos == in->len)
        return true;
    size_t at = in->pos;
    int64_t zxid = zkin_long(in);
    int32_t version = zkin_int(in);
    int64_t digest = 0;
    if (version < 2)
        (void)zkin_buffer(in); /* a hex string; too old to compare with */
    else
        digest = zkin_long(in);
    if (in->status == ZKIN_EOF)
        return true; /* "likely due to reading an older snapshot" */
    if (!zkin_ok(in))
        return snap_fail(e, in, at, "digest");
    if (!check_seal(in, adler, done, e))
        return false;
    if (version == ZT_ZK_DIGEST_VERSION && zxid > 0) {
        im->zk_digest_known = true;
        im->zk_digest = (uint64_t)digest;
        im->zk_digest_zxid = zxid;
    }
    return true;
}

static bool parse_snapshot(struct zkimp *im, const struct zkmap *m, struct snap_err *e)
{
    struct zkin in;
    zkin_init(&in, m->p, m->len, im->max_len);
    int32_t magic = zkin_int(&in);
    (void)zkin_int(&in);  /* version: not checked by ZooKeeper */
    (void)zkin_long(&in); /* dbid */
    if (!zkin_ok(&in))
        return snap_fail(e, &in, 0, "file header");
    if (magic != ZKF_SNAP_MAGIC)
        return snap_fail(e, NULL, 0, "mismatching magic header (not a ZooKeeper snapshot)");
    uint32_t adler = 1;
    size_t done = 0;
    return read_sessions(im, &in, e) && read_tree(im, &in, e) &&
           check_seal(&in, &adler, &done, e) && read_digest(im, &in, &adler, &done, e);
}

/* Try one candidate; false (with e) when it is invalid. The tree is reset before each try. */
static bool try_snapshot(struct zkimp *im, const char *path, struct snap_err *e, int *fatal)
{
    struct zkmap m;
    if (zkdir_map(im, path, &m) != 0) {
        *fatal = 1; /* unreadable: refuse rather than import an older state silently */
        return false;
    }
    bool ok = has_trailer(&m) || snap_fail(e, NULL, m.len > 5 ? m.len - 5 : 0,
                                           "no valid trailer (incomplete snapshot)");
    zt_free(&im->tree);
    im->zk_digest_known = false;
    if (ok && zt_init(&im->tree) != 0) {
        *fatal = 1;
        zkimp_fail(im, "out of memory");
        ok = false;
    } else if (ok) {
        ok = parse_snapshot(im, &m, e);
    }
    zkdir_unmap(&m);
    return ok;
}

int zksnap_load(struct zkimp *im)
{
    struct zkfile_entry *files;
    long n = zkdir_list(im, im->snap_dir, SNAP_PREFIX, false, &files);
    if (n < 0)
        return -1;
    int fatal = 0, tried = 0;
    char newest[ZKIMP_PATH_MAX + 600] = ""; /* why the newest candidate failed */
    for (long i = 0; i < n && tried < SNAP_CANDIDATES && !fatal; i++) {
        char path[ZKIMP_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", im->snap_dir, files[i].name);
        struct snap_err e = {"", 0};
        if (is_compressed(files[i].name)) {
            zkimp_warn("%s: compressed snapshots cannot be read; trying an older one", path);
            im->snaps_skipped++;
            continue;
        }
        tried++;
        if (try_snapshot(im, path, &e, &fatal)) {
            snprintf(im->snap_file, sizeof im->snap_file, "%s", path);
            im->snap_zxid = files[i].zxid;
            zk_free(files);
            return 0;
        }
        if (!fatal) {
            zkimp_warn("%s at offset %zu: %s; trying an older snapshot", path, e.offset, e.what);
            if (!newest[0])
                snprintf(newest, sizeof newest, "%s at offset %zu: %s", path, e.offset, e.what);
            im->snaps_skipped++;
        }
    }
    zk_free(files);
    if (fatal)
        return -1;
    if (n == 0)
        return zkimp_fail(im, "%s holds no ZooKeeper snapshot (snapshot.<zxid>)", im->snap_dir);
    return zkimp_fail(im, "no valid snapshot in %s (%d skipped, the newest: %s)", im->snap_dir,
                      im->snaps_skipped, newest[0] ? newest : "compressed");
}
