/* The journal file (see journal.h). CRC-32 from zlib; plain POSIX file I/O. */
#include "store/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/assert.h"

#define HDR_MAGIC "ZKJHDR01"
#define REC_MAGIC 0x5a4b4a31u /* "ZKJ1" */
#define REC_HEAD 32u
#define ZERO_CHUNK (1u << 20)
#define SCAN_BUF (1u << 20)
#define PAGE_BYTES 4096u

struct journal {
    int fd;
    char path[1100];
    uint64_t size;       /* file size */
    uint64_t generation;
    uint64_t pos;        /* append position */
};

static void set_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t n, const char *fmt, ...)
{
    if (!err || !n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* ---- the batch format ---- */

void journal_batch_add(struct jute_writer *arena, int64_t zxid, const void *p, size_t len)
{
    jw_long(arena, zxid);
    jw_int(arena, (int32_t)len);
    jw_raw(arena, p, len);
}

int journal_batch_each(const struct jute_writer *arena,
                       int (*fn)(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len),
                       void *ctx)
{
    for (size_t off = 0; off + 12 <= arena->len;) {
        const uint8_t *p = arena->data + off;
        int64_t zxid = (int64_t)be64_load(p);
        uint32_t len = be32_load(p + 8);
        ZK_ASSERT(off + 12 + len <= arena->len); /* we built it */
        int rc = fn(ctx, zxid, p + 12, len);
        if (rc)
            return rc;
        off += 12 + len;
    }
    return 0;
}

struct counts {
    size_t records, bytes;
};

static int count_one(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len)
{
    (void)zxid, (void)p;
    struct counts *c = ctx;
    c->records++;
    c->bytes += len;
    return 0;
}

void journal_batch_count(const struct jute_writer *arena, size_t *records, size_t *bytes)
{
    struct counts c = {0, 0};
    journal_batch_each(arena, count_one, &c);
    *records = c.records;
    *bytes = c.bytes;
}

/* ---- the file ---- */

static int pwrite_all(int fd, const void *p, size_t len, uint64_t off)
{
    const uint8_t *b = p;
    while (len > 0) {
        ssize_t n = pwrite(fd, b, len, (off_t)off);
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

/* Write in pieces that end on page boundaries: a write creates page-cache folios as large as
 * itself, and a small append into a large folio later dirties (and writes back) all of it. */
static int pwrite_pages(int fd, const void *p, size_t len, uint64_t off)
{
    const uint8_t *b = p;
    while (len > 0) {
        size_t n = PAGE_BYTES - (size_t)(off % PAGE_BYTES);
        if (n > len)
            n = len;
        if (pwrite_all(fd, b, n, off) != 0)
            return -1;
        b += n;
        len -= n;
        off += n;
    }
    return 0;
}

/* Zero-fill [from, to): later appends overwrite allocated blocks, and fdatasync then has no
 * block allocation to record. */
static int zero_fill(int fd, uint64_t from, uint64_t to)
{
    uint8_t *zeros = zk_calloc(1, ZERO_CHUNK);
    if (!zeros)
        return -1;
    int rc = 0;
    for (uint64_t off = from; off < to && rc == 0; off += ZERO_CHUNK) {
        size_t n = to - off < ZERO_CHUNK ? (size_t)(to - off) : ZERO_CHUNK;
        rc = pwrite_all(fd, zeros, n, off);
    }
    zk_free(zeros);
    if (rc != 0 || fdatasync(fd) != 0)
        return -1;
    /* Drop the cached pages: written in large pieces, they would sit in large page-cache folios,
     * and each small append would then dirty (and be accounted as) a whole folio. */
    (void)posix_fadvise(fd, (off_t)from, (off_t)(to - from), POSIX_FADV_DONTNEED);
    return 0;
}

static int read_header(struct journal *j)
{
    uint8_t h[20];
    if (pread(j->fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, HDR_MAGIC, 8) != 0)
        return -1;
    uint32_t crc = (uint32_t)crc32(0L, h, 16);
    if (crc != be32_load(h + 16))
        return -1;
    j->generation = be64_load(h + 8);
    return 0;
}

int journal_open(struct journal **out, const char *path, uint64_t min_size, char *err,
                 size_t err_size)
{
    *out = NULL;
    struct journal *j = zk_calloc(1, sizeof *j);
    if (!j) {
        set_err(err, err_size, "out of memory");
        return -1;
    }
    snprintf(j->path, sizeof j->path, "%s", path);
    j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (j->fd < 0 || fstat(j->fd, &st) != 0) {
        set_err(err, err_size, "%s: %s", path, strerror(errno));
        journal_close(j);
        return -1;
    }
    j->size = (uint64_t)st.st_size;
    j->pos = JOURNAL_HEADER_BYTES;
    if (j->size < min_size) {
        if (zero_fill(j->fd, j->size, min_size) != 0) {
            set_err(err, err_size, "%s: cannot allocate: %s", path, strerror(errno));
            journal_close(j);
            return -1;
        }
        j->size = min_size;
    }
    if (read_header(j) != 0)
        j->generation = 0; /* new, or never reset: no record counts */
    *out = j;
    return 0;
}

void journal_close(struct journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    zk_free(j);
}

uint64_t journal_generation(const struct journal *j) { return j->generation; }
uint64_t journal_room(const struct journal *j) { return j->size - j->pos; }

uint64_t journal_framed_size(size_t records, size_t payload_bytes)
{
    /* each record: head + payload padded; plus the committed mark record */
    return (uint64_t)(records + 1) * (REC_HEAD + 7) + payload_bytes;
}

int journal_reserve(struct journal *j, uint64_t bytes, char *err, size_t err_size)
{
    if (journal_room(j) >= bytes)
        return 0;
    uint64_t want = j->pos + bytes;
    if (zero_fill(j->fd, j->size, want) != 0) {
        set_err(err, err_size, "%s: cannot grow: %s", j->path, strerror(errno));
        return -1;
    }
    j->size = want;
    return 0;
}

int journal_reset(struct journal *j, uint64_t generation, char *err, size_t err_size)
{
    uint8_t h[20];
    memcpy(h, HDR_MAGIC, 8);
    be64_store(h + 8, generation);
    be32_store(h + 16, (uint32_t)crc32(0L, h, 16));
    if (pwrite_all(j->fd, h, sizeof h, 0) != 0 || fdatasync(j->fd) != 0) {
        set_err(err, err_size, "%s: %s", j->path, strerror(errno));
        return -1;
    }
    j->generation = generation;
    j->pos = JOURNAL_HEADER_BYTES;
    return 0;
}

/* ---- records ---- */

static void frame_one(struct jute_writer *buf, uint64_t gen, int kind, int64_t zxid,
                      const uint8_t *p, uint32_t len)
{
    uint8_t head[REC_HEAD] = {0};
    be32_store(head, REC_MAGIC);
    be64_store(head + 8, gen);
    be64_store(head + 16, (uint64_t)zxid);
    be32_store(head + 24, len);
    head[28] = (uint8_t)kind;
    static const uint8_t none[1];
    uLong crc = crc32(0L, head + 8, REC_HEAD - 8);
    crc = crc32(crc, p ? p : none, len); /* zlib: a NULL buffer means "initial value" */
    be32_store(head + 4, (uint32_t)crc);
    jw_raw(buf, head, REC_HEAD);
    jw_raw(buf, p, len);
    static const uint8_t zeros[8];
    jw_raw(buf, zeros, pad8(len) - len);
}

struct frame_ctx {
    struct jute_writer *buf;
    uint64_t gen;
};

static int frame_record(void *ctx, int64_t zxid, const uint8_t *p, uint32_t len)
{
    struct frame_ctx *f = ctx;
    frame_one(f->buf, f->gen, JOURNAL_KIND_RECORD, zxid, p, len);
    return 0;
}

void journal_frame_batch(const struct journal *j, struct jute_writer *buf,
                         const struct jute_writer *records, int64_t committed_mark)
{
    jw_reset(buf);
    struct frame_ctx f = {buf, j->generation};
    journal_batch_each(records, frame_record, &f);
    frame_one(buf, j->generation, JOURNAL_KIND_COMMITTED, committed_mark, NULL, 0);
}

int journal_write(struct journal *j, const struct jute_writer *framed, char *err,
                  size_t err_size)
{
    if (framed->err || framed->len > journal_room(j)) {
        set_err(err, err_size, "%s: batch of %zu bytes does not fit", j->path, framed->len);
        return -1;
    }
    if (pwrite_pages(j->fd, framed->data, framed->len, j->pos) != 0 || fdatasync(j->fd) != 0) {
        set_err(err, err_size, "%s: %s", j->path, strerror(errno));
        return -1;
    }
    j->pos += framed->len;
    return 0;
}

/* One record at off in buf (len bytes available): its total framed size, or 0 if it is not a
 * valid record of generation gen. */
static uint64_t check_record(const uint8_t *b, uint64_t avail, uint64_t gen, uint64_t max_len)
{
    if (avail < REC_HEAD || be32_load(b) != REC_MAGIC || be64_load(b + 8) != gen)
        return 0;
    uint32_t len = be32_load(b + 24);
    if (len > max_len || REC_HEAD + pad8(len) > avail)
        return 0;
    uLong crc = crc32(0L, b + 8, REC_HEAD - 8);
    crc = crc32(crc, b + REC_HEAD, len);
    return (uint32_t)crc == be32_load(b + 4) ? REC_HEAD + pad8(len) : 0;
}

int journal_scan(struct journal *j,
                 int (*fn)(void *ctx, int kind, int64_t zxid, const uint8_t *p, size_t len),
                 void *ctx)
{
    j->pos = JOURNAL_HEADER_BYTES;
    if (j->generation == 0)
        return 0;
    uint64_t body = j->size - JOURNAL_HEADER_BYTES;
    uint8_t *buf = zk_malloc(body ? body : 1);
    if (!buf)
        return -1;
    int rc = 0;
    uint64_t have = 0;
    while (have < body) {
        ssize_t n = pread(j->fd, buf + have, body - have, (off_t)(JOURNAL_HEADER_BYTES + have));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (uint64_t)n;
    }
    for (uint64_t off = 0; off < have && rc == 0;) {
        uint64_t n = check_record(buf + off, have - off, j->generation, body);
        if (n == 0)
            break;
        const uint8_t *b = buf + off;
        rc = fn(ctx, b[28], (int64_t)be64_load(b + 16), b + REC_HEAD, be32_load(b + 24));
        off += n;
        j->pos = JOURNAL_HEADER_BYTES + off;
    }
    zk_free(buf);
    return rc;
}
