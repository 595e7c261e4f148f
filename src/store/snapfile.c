/* Snapshot files (see snapfile.h). CRC-32 from zlib; plain POSIX file I/O. */
#include "store/snapfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/fsdir.h"
#include "proto/jute.h"

#define HEADER_MAGIC "ZKSNAP02"
#define TRAILER_MAGIC "ZKSNEND"  /* 8 bytes with its NUL */
#define WRITE_BUF_BYTES (1u << 20)
#define READ_BUF_BYTES (1u << 20)
#define NAME_PREFIX "snapshot."
#define NAME_HEX 16
#define PATH_BYTES 1100

static void set_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t n, const char *fmt, ...)
{
    if (!err || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static void snap_path(char *out, const char *dir, int64_t zxid, const char *suffix)
{
    snprintf(out, PATH_BYTES, "%s/" NAME_PREFIX "%016llx%s", dir, (unsigned long long)zxid,
             suffix);
}

static int write_all(int fd, const void *p, size_t len)
{
    const uint8_t *b = p;
    while (len > 0) {
        ssize_t n = write(fd, b, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

static int pread_all(int fd, void *p, size_t len, uint64_t off)
{
    uint8_t *b = p;
    while (len > 0) {
        ssize_t n = pread(fd, b, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        b += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static void make_header(uint8_t out[SNAPFILE_HEADER_LEN], int64_t zxid)
{
    memcpy(out, HEADER_MAGIC, 8);
    be64_store(out + 8, (uint64_t)zxid);
}

static void make_trailer(uint8_t out[SNAPFILE_TRAILER_LEN], uint64_t body_len, uint32_t crc)
{
    be64_store(out, body_len);
    be32_store(out + 8, crc);
    memcpy(out + 12, TRAILER_MAGIC, 8);
}

/* ---- writing ---- */

struct snapfile_writer {
    int fd;
    char tmp[PATH_BYTES];
    char final[PATH_BYTES];
    char dir[PATH_BYTES];
    uint8_t *buf;
    size_t used;
    uint64_t body_len;
    uint64_t file_off;     /* bytes written to fd so far */
    uint64_t started_off;  /* [started_off, file_off) is being written back */
    uLong crc;
    bool failed;
    int saved_errno;
};

int snapfile_create(struct snapfile_writer **out, const char *dir, int64_t zxid, char *err,
                    size_t err_size)
{
    *out = NULL;
    struct snapfile_writer *w = zk_calloc(1, sizeof *w);
    uint8_t *buf = w ? zk_malloc(WRITE_BUF_BYTES) : NULL;
    if (!buf) {
        zk_free(w);
        set_err(err, err_size, "out of memory");
        return -1;
    }
    w->buf = buf;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    snap_path(w->tmp, dir, zxid, ".tmp");
    snap_path(w->final, dir, zxid, "");
    w->crc = crc32(0L, Z_NULL, 0);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    uint8_t header[SNAPFILE_HEADER_LEN];
    make_header(header, zxid);
    if (w->fd < 0 || write_all(w->fd, header, sizeof header) != 0) {
        set_err(err, err_size, "%s: %s", w->tmp, strerror(errno));
        snapfile_abort(w);
        return -1;
    }
    w->file_off = sizeof header;
    *out = w;
    return 0;
}

/* Write back what the previous flush wrote before going on, and start this flush's: the file
 * never holds more than two buffers of dirty pages, so the final fdatasync is short and the
 * member's own log syncs (whose ext4 journal commits wait for dirty data allocated meanwhile)
 * never queue behind a whole snapshot. The written pages are dropped from the page cache. */
static int range_sync(int fd, uint64_t off, uint64_t len, unsigned flags)
{
    int rc;
    do /* the snapshot child takes a SIGALRM (snapshotter.c) */
        rc = sync_file_range(fd, (off_t)off, (off_t)len, flags);
    while (rc != 0 && errno == EINTR);
    return rc;
}

static int pace_writeback(struct snapfile_writer *w, uint64_t off, uint64_t len)
{
    uint64_t prev = w->started_off;
    if (off > prev) {
        if (range_sync(w->fd, prev, off - prev,
                       SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                           SYNC_FILE_RANGE_WAIT_AFTER) != 0)
            return -1;
        (void)posix_fadvise(w->fd, (off_t)prev, (off_t)(off - prev), POSIX_FADV_DONTNEED);
    }
    w->started_off = off;
    return range_sync(w->fd, off, len, SYNC_FILE_RANGE_WRITE);
}

static int flush_buf(struct snapfile_writer *w)
{
    if (!w->used)
        return 0;
    if (write_all(w->fd, w->buf, w->used) != 0 || pace_writeback(w, w->file_off, w->used) != 0) {
        w->failed = true;
        w->saved_errno = errno;
        return -1;
    }
    w->file_off += w->used;
    w->used = 0;
    return 0;
}

int snapfile_write(void *writer, const void *p, size_t len)
{
    struct snapfile_writer *w = writer;
    if (w->failed)
        return -1;
    w->crc = crc32(w->crc, p, (uInt)len);
    w->body_len += len;
    const uint8_t *b = p;
    while (len > 0) {
        size_t room = WRITE_BUF_BYTES - w->used;
        size_t n = len < room ? len : room;
        memcpy(w->buf + w->used, b, n);
        w->used += n;
        b += n;
        len -= n;
        if (w->used == WRITE_BUF_BYTES && flush_buf(w) != 0)
            return -1;
    }
    return 0;
}

int snapfile_commit(struct snapfile_writer *w, char *err, size_t err_size)
{
    uint8_t trailer[SNAPFILE_TRAILER_LEN];
    make_trailer(trailer, w->body_len, (uint32_t)w->crc);
    if (w->failed || flush_buf(w) != 0 || write_all(w->fd, trailer, sizeof trailer) != 0 ||
        fdatasync(w->fd) != 0) {
        set_err(err, err_size, "%s: %s", w->tmp, strerror(w->failed ? w->saved_errno : errno));
        snapfile_abort(w);
        return -1;
    }
    int rc = close(w->fd);
    w->fd = -1;
    if (rc != 0 || rename(w->tmp, w->final) != 0 || zk_fsync_dir(w->dir) != 0) {
        set_err(err, err_size, "%s: %s", w->final, strerror(errno));
        snapfile_abort(w);
        return -1;
    }
    zk_free(w->buf);
    zk_free(w);
    return 0;
}

void snapfile_abort(struct snapfile_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    zk_free(w->buf);
    zk_free(w);
}

/* ---- finding ---- */

/* The zxid of a finished snapshot's file name (suffix "" ) or of a name with that suffix. */
static bool parse_name(const char *name, const char *suffix, int64_t *zxid)
{
    size_t plen = strlen(NAME_PREFIX), slen = strlen(suffix);
    if (strlen(name) != plen + NAME_HEX + slen || strncmp(name, NAME_PREFIX, plen) != 0 ||
        strcmp(name + plen + NAME_HEX, suffix) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < NAME_HEX; i++) {
        char c = name[plen + i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = (v << 4) | (uint64_t)d;
    }
    *zxid = (int64_t)v;
    return *zxid >= 0;
}

static int newest_first(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

#define LIST_MAX 256 /* finished snapshots considered; prune keeps a handful */

int snapfile_list(const char *dir, int64_t *zxids, int max)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int64_t found[LIST_MAX];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < LIST_MAX)
        if (parse_name(e->d_name, "", &found[n]))
            n++;
    closedir(d);
    qsort(found, (size_t)n, sizeof found[0], newest_first);
    if (n > max)
        n = max;
    memcpy(zxids, found, (size_t)n * sizeof found[0]);
    return n;
}

int64_t snapfile_size(const char *dir, int64_t zxid)
{
    char path[PATH_BYTES];
    snap_path(path, dir, zxid, "");
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

int64_t snapfile_pread(const char *dir, int64_t zxid, uint64_t offset, void *buf, size_t len)
{
    char path[PATH_BYTES];
    snap_path(path, dir, zxid, "");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do {
        n = pread(fd, buf, len, (off_t)offset);
    } while (n < 0 && errno == EINTR);
    close(fd);
    return n;
}

void snapfile_prune(const char *dir, int keep)
{
    int64_t zxids[64];
    int n = snapfile_list(dir, zxids, 64);
    char path[PATH_BYTES];
    for (int i = keep; i < n; i++) {
        snap_path(path, dir, zxids[i], "");
        unlink(path);
    }
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    int64_t z;
    while ((e = readdir(d))) {
        if (parse_name(e->d_name, ".tmp", &z)) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* ---- reading ---- */

/* Check header and trailer of an open file; *body_len and *crc from the trailer. */
static int check_frame(int fd, int64_t zxid, uint64_t size, uint64_t *body_len, uint32_t *crc,
                       char *err, size_t err_size)
{
    uint8_t header[SNAPFILE_HEADER_LEN], trailer[SNAPFILE_TRAILER_LEN];
    if (size < SNAPFILE_HEADER_LEN + SNAPFILE_TRAILER_LEN ||
        pread_all(fd, header, sizeof header, 0) != 0 ||
        pread_all(fd, trailer, sizeof trailer, size - SNAPFILE_TRAILER_LEN) != 0) {
        set_err(err, err_size, "too short or unreadable");
        return -1;
    }
    *body_len = be64_load(trailer);
    *crc = be32_load(trailer + 8);
    if (memcmp(header, HEADER_MAGIC, 8) != 0 || (int64_t)be64_load(header + 8) != zxid ||
        memcmp(trailer + 12, TRAILER_MAGIC, 8) != 0 ||
        *body_len != size - SNAPFILE_HEADER_LEN - SNAPFILE_TRAILER_LEN) {
        set_err(err, err_size, "header or trailer does not match (torn or foreign file)");
        return -1;
    }
    return 0;
}

/* Stream the body of an open file through fn (fn may be NULL: checksum only). */
static int stream_body(int fd, uint64_t body_len, uint32_t want_crc,
                       int (*fn)(void *ctx, const void *p, size_t len), void *ctx, char *err,
                       size_t err_size)
{
    uint8_t *buf = zk_malloc(READ_BUF_BYTES);
    if (!buf) {
        set_err(err, err_size, "out of memory");
        return -1;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    int rc = 0;
    for (uint64_t off = 0; off < body_len && rc == 0;) {
        size_t n = body_len - off < READ_BUF_BYTES ? (size_t)(body_len - off) : READ_BUF_BYTES;
        if (pread_all(fd, buf, n, SNAPFILE_HEADER_LEN + off) != 0) {
            set_err(err, err_size, "read error at offset %llu: %s",
                    (unsigned long long)(SNAPFILE_HEADER_LEN + off), strerror(errno));
            rc = -1;
            break;
        }
        crc = crc32(crc, buf, (uInt)n);
        off += n;
        if (fn && (rc = fn(ctx, buf, n)) != 0)
            set_err(err, err_size, "the snapshot's content is invalid");
    }
    zk_free(buf);
    if (rc == 0 && (uint32_t)crc != want_crc) {
        set_err(err, err_size, "checksum mismatch");
        rc = -1;
    }
    return rc;
}

static int read_open_file(int fd, int64_t zxid, int (*fn)(void *, const void *, size_t),
                          void *ctx, char *err, size_t err_size)
{
    struct stat st;
    uint64_t body_len;
    uint32_t crc;
    if (fstat(fd, &st) != 0) {
        set_err(err, err_size, "%s", strerror(errno));
        return -1;
    }
    if (check_frame(fd, zxid, (uint64_t)st.st_size, &body_len, &crc, err, err_size) != 0)
        return -1;
    return stream_body(fd, body_len, crc, fn, ctx, err, err_size);
}

int snapfile_read(const char *dir, int64_t zxid, int (*fn)(void *ctx, const void *p, size_t len),
                  void *ctx, char *err, size_t err_size)
{
    char path[PATH_BYTES];
    snap_path(path, dir, zxid, "");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = read_open_file(fd, zxid, fn, ctx, err, err_size);
    close(fd);
    return rc;
}

/* ---- receiving ---- */

struct snapfile_receiver {
    int fd;
    int64_t zxid;
    uint64_t size;
    uint64_t have;
    char partial[PATH_BYTES];
    char final[PATH_BYTES];
    char dir[PATH_BYTES];
};

/* Remove every .partial but the one for zxid. */
static void drop_other_partials(const char *dir, int64_t zxid)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    int64_t z;
    char path[PATH_BYTES];
    while ((e = readdir(d))) {
        if (parse_name(e->d_name, ".partial", &z) && z != zxid) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

int snapfile_receive_open(struct snapfile_receiver **out, const char *dir, int64_t zxid,
                          uint64_t size, uint64_t *have, char *err, size_t err_size)
{
    *out = NULL;
    struct snapfile_receiver *r = zk_calloc(1, sizeof *r);
    if (!r) {
        set_err(err, err_size, "out of memory");
        return -1;
    }
    r->zxid = zxid;
    r->size = size;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    snap_path(r->partial, dir, zxid, ".partial");
    snap_path(r->final, dir, zxid, "");
    drop_other_partials(dir, zxid);
    r->fd = open(r->partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) != 0) {
        set_err(err, err_size, "%s: %s", r->partial, strerror(errno));
        if (r->fd >= 0)
            close(r->fd);
        zk_free(r);
        return -1;
    }
    r->have = (uint64_t)st.st_size;
    if (r->have > size && ftruncate(r->fd, 0) == 0)
        r->have = 0; /* not a prefix of this file: start over */
    *have = r->have;
    *out = r;
    return 0;
}

uint64_t snapfile_receive_have(const struct snapfile_receiver *r) { return r->have; }

int snapfile_receive_chunk(struct snapfile_receiver *r, uint64_t offset, const void *p,
                           size_t len, char *err, size_t err_size)
{
    if (offset > r->have || offset + len > r->size || offset + len < offset) {
        set_err(err, err_size, "chunk at %llu (+%zu) does not continue %llu of %llu bytes",
                (unsigned long long)offset, len, (unsigned long long)r->have,
                (unsigned long long)r->size);
        return -1;
    }
    if (offset + len <= r->have)
        return 0; /* a piece we already have (the sender resumed earlier than us) */
    size_t skip = (size_t)(r->have - offset);
    const uint8_t *b = (const uint8_t *)p + skip;
    size_t n = len - skip;
    while (n > 0) {
        ssize_t w = pwrite(r->fd, b, n, (off_t)r->have);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            set_err(err, err_size, "%s: %s", r->partial, strerror(errno));
            return -1;
        }
        b += w;
        n -= (size_t)w;
        r->have += (uint64_t)w;
    }
    return 0;
}

int snapfile_receive_finish(struct snapfile_receiver *r, char *err, size_t err_size)
{
    int rc = -1;
    if (r->have != r->size)
        set_err(err, err_size, "only %llu of %llu bytes", (unsigned long long)r->have,
                (unsigned long long)r->size);
    else if (read_open_file(r->fd, r->zxid, NULL, NULL, err, err_size) == 0) {
        if (fdatasync(r->fd) != 0 || rename(r->partial, r->final) != 0 || zk_fsync_dir(r->dir) != 0)
            set_err(err, err_size, "%s: %s", r->final, strerror(errno));
        else
            rc = 0;
    }
    close(r->fd);
    if (rc != 0)
        unlink(r->partial);
    zk_free(r);
    return rc;
}

void snapfile_receive_close(struct snapfile_receiver *r)
{
    if (!r)
        return;
    close(r->fd);
    zk_free(r);
}
