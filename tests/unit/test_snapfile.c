/* Unit tests for snapshot files (src/store/snapfile.h): whole-or-nothing writes, listing and
 * pruning, torn and corrupted files refused, and resumable reception of a transferred file. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/snapfile.h"

static char dir[200], rdir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/zk-snapfile-%d", getpid());
    snprintf(rdir, sizeof rdir, "%s/recv", dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, rdir);
    cr_assert_eq(system(cmd), 0);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(snapfile, .init = setup, .fini = teardown);

static void write_snapshot(int64_t zxid, const void *body, size_t len)
{
    struct snapfile_writer *w;
    char err[SNAPFILE_ERRMSG_SIZE];
    cr_assert_eq(snapfile_create(&w, dir, zxid, err, sizeof err), 0, "%s", err);
    /* in uneven pieces, like a serializer would */
    for (size_t off = 0; off < len; off += 1000) {
        size_t n = len - off < 1000 ? len - off : 1000;
        cr_assert_eq(snapfile_write(w, (const char *)body + off, n), 0);
    }
    cr_assert_eq(snapfile_commit(w, err, sizeof err), 0, "%s", err);
}

struct collected {
    char *data;
    size_t len;
};

static int collect(void *ctx, const void *p, size_t len)
{
    struct collected *c = ctx;
    c->data = realloc(c->data, c->len + len);
    memcpy(c->data + c->len, p, len);
    c->len += len;
    return 0;
}

static int read_back(const char *d, int64_t zxid, struct collected *c)
{
    char err[SNAPFILE_ERRMSG_SIZE];
    *c = (struct collected){0};
    return snapfile_read(d, zxid, collect, c, err, sizeof err);
}

static char *pattern(size_t len, unsigned seed)
{
    char *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)((i * 31 + seed) & 0xff);
    return p;
}

static char *path_of(const char *d, int64_t zxid, const char *suffix)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/snapshot.%016llx%s", d, (unsigned long long)zxid, suffix);
    return path;
}

Test(snapfile, round_trip_and_listing)
{
    char *a = pattern(3 << 20, 1), *b = pattern(10, 2);
    write_snapshot(0x100000005LL, a, 3 << 20);
    write_snapshot(0x200000001LL, b, 10);
    write_snapshot(0, "", 0);
    int64_t z[8];
    cr_assert_eq(snapfile_list(dir, z, 8), 3);
    cr_expect_eq(z[0], 0x200000001LL);
    cr_expect_eq(z[1], 0x100000005LL);
    cr_expect_eq(z[2], 0);
    cr_expect_eq(snapfile_list(dir, z, 1), 1);
    struct collected c;
    cr_assert_eq(read_back(dir, 0x100000005LL, &c), 0);
    cr_expect_eq(c.len, (size_t)3 << 20);
    cr_expect_eq(memcmp(c.data, a, c.len), 0);
    free(c.data);
    cr_assert_eq(read_back(dir, 0, &c), 0);
    cr_expect_eq(c.len, 0);
    free(c.data);
    snapfile_prune(dir, 1);
    cr_expect_eq(snapfile_list(dir, z, 8), 1);
    cr_expect_eq(z[0], 0x200000001LL);
    free(a);
    free(b);
}

Test(snapfile, an_unfinished_write_leaves_nothing)
{
    struct snapfile_writer *w;
    char err[SNAPFILE_ERRMSG_SIZE];
    cr_assert_eq(snapfile_create(&w, dir, 42, err, sizeof err), 0);
    cr_assert_eq(snapfile_write(w, "abc", 3), 0);
    int64_t z[4];
    cr_expect_eq(snapfile_list(dir, z, 4), 0, "a .tmp file is not a snapshot");
    snapfile_abort(w);
    cr_expect_eq(access(path_of(dir, 42, ".tmp"), F_OK), -1);
}

Test(snapfile, torn_and_corrupted_files_are_refused)
{
    char *a = pattern(100000, 3);
    write_snapshot(7, a, 100000);
    struct collected c;
    /* flip one byte of the body */
    int fd = open(path_of(dir, 7, ""), O_RDWR);
    cr_assert_geq(fd, 0);
    char x = 0x55;
    cr_assert_eq(pwrite(fd, &x, 1, 5000), 1);
    cr_expect_eq(read_back(dir, 7, &c), -1, "checksum");
    free(c.data);
    /* cut the trailer off (a torn write) */
    cr_assert_eq(ftruncate(fd, 50000), 0);
    close(fd);
    cr_expect_eq(read_back(dir, 7, &c), -1, "torn");
    free(c.data);
    cr_expect_eq(read_back(dir, 8, &c), -1, "missing");
    free(c.data);
    free(a);
}

/* Receive file zxid from dir into rdir in chunks of `chunk`, stopping after `stop_at` bytes
 * (to simulate a cut link); returns what the receiver had when it stopped. */
static uint64_t receive(int64_t zxid, size_t chunk, uint64_t stop_at, int *finished)
{
    int64_t size = snapfile_size(dir, zxid);
    cr_assert_gt(size, 0);
    struct snapfile_receiver *r;
    char err[SNAPFILE_ERRMSG_SIZE];
    uint64_t have;
    cr_assert_eq(snapfile_receive_open(&r, rdir, zxid, (uint64_t)size, &have, err, sizeof err), 0);
    char *buf = malloc(chunk);
    /* the sender starts from 0 regardless; the receiver skips what it has */
    for (uint64_t off = 0; off < (uint64_t)size && off < stop_at; off += chunk) {
        int64_t n = snapfile_pread(dir, zxid, off, buf, chunk);
        cr_assert_gt(n, 0);
        cr_assert_eq(snapfile_receive_chunk(r, off, buf, (size_t)n, err, sizeof err), 0, "%s", err);
    }
    free(buf);
    uint64_t got = snapfile_receive_have(r);
    if (got == (uint64_t)size) {
        *finished = snapfile_receive_finish(r, err, sizeof err) == 0;
    } else {
        *finished = 0;
        snapfile_receive_close(r);
    }
    return got;
}

Test(snapfile, reception_resumes_after_a_cut)
{
    char *a = pattern(1000000, 4);
    write_snapshot(0x300000009LL, a, 1000000);
    int finished;
    uint64_t first = receive(0x300000009LL, 65536, 400000, &finished);
    cr_expect_eq(finished, 0);
    cr_expect_geq(first, 400000);
    cr_expect_eq(access(path_of(rdir, 0x300000009LL, ".partial"), F_OK), 0);
    receive(0x300000009LL, 65536, UINT64_MAX, &finished);
    cr_expect_eq(finished, 1);
    struct collected c;
    cr_assert_eq(read_back(rdir, 0x300000009LL, &c), 0);
    cr_expect_eq(c.len, 1000000);
    cr_expect_eq(memcmp(c.data, a, c.len), 0);
    free(c.data);
    free(a);
}

Test(snapfile, reception_refuses_gaps_and_bad_content)
{
    char *a = pattern(200000, 5);
    write_snapshot(9, a, 200000);
    int64_t size = snapfile_size(dir, 9);
    struct snapfile_receiver *r;
    char err[SNAPFILE_ERRMSG_SIZE];
    uint64_t have;
    cr_assert_eq(snapfile_receive_open(&r, rdir, 9, (uint64_t)size, &have, err, sizeof err), 0);
    cr_expect_eq(have, 0);
    char buf[100] = {0};
    cr_expect_eq(snapfile_receive_chunk(r, 1000, buf, sizeof buf, err, sizeof err), -1, "gap");
    cr_expect_eq(snapfile_receive_chunk(r, (uint64_t)size - 10, buf, 100, err, sizeof err), -1,
                 "past the end");
    /* right length, wrong bytes: refused at the end, nothing installed */
    char *junk = calloc(1, (size_t)size);
    cr_assert_eq(snapfile_receive_chunk(r, 0, junk, (size_t)size, err, sizeof err), 0);
    cr_expect_eq(snapfile_receive_finish(r, err, sizeof err), -1);
    int64_t z[2];
    cr_expect_eq(snapfile_list(rdir, z, 2), 0);
    cr_expect_eq(access(path_of(rdir, 9, ".partial"), F_OK), -1);
    free(junk);
    free(a);
}
