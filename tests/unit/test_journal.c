/* Unit tests for the journal file (src/store/journal.h): batches read back in order with their
 * committed marks, a torn or zero tail ends the journal, a reset makes older records stale,
 * and the file grows for a batch larger than it. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/journal.h"

static char path[256];

static void setup(void) { snprintf(path, sizeof path, "/tmp/zk-journal-%d", getpid()); }
static void teardown(void) { unlink(path); }

TestSuite(journal, .init = setup, .fini = teardown);

struct seen {
    int n;
    int64_t zxids[4096];
    int kinds[4096];
    size_t lens[4096];
};

static int collect(void *ctx, int kind, int64_t zxid, const uint8_t *p, size_t len)
{
    struct seen *s = ctx;
    (void)p;
    s->zxids[s->n] = zxid;
    s->kinds[s->n] = kind;
    s->lens[s->n++] = len;
    return 0;
}

static struct journal *open_journal(uint64_t size)
{
    struct journal *j;
    char err[JOURNAL_ERRMSG_SIZE];
    cr_assert_eq(journal_open(&j, path, size, err, sizeof err), 0, "%s", err);
    return j;
}

/* Append a batch of n records zxid..zxid+n-1 of `len` bytes, with committed mark `mark`. */
static void append(struct journal *j, int64_t zxid, int n, size_t len, int64_t mark)
{
    struct jute_writer recs, framed;
    jw_init(&recs);
    jw_init(&framed);
    char *payload = malloc(len ? len : 1);
    memset(payload, 'a', len);
    for (int i = 0; i < n; i++)
        journal_batch_add(&recs, zxid + i, payload, len);
    journal_frame_batch(j, &framed, &recs, mark);
    char err[JOURNAL_ERRMSG_SIZE];
    cr_assert_eq(journal_reserve(j, framed.len, err, sizeof err), 0, "%s", err);
    cr_assert_eq(journal_write(j, &framed, err, sizeof err), 0, "%s", err);
    free(payload);
    jw_free(&recs);
    jw_free(&framed);
}

Test(journal, batches_read_back_in_order_with_their_marks)
{
    struct journal *j = open_journal(1 << 20);
    char err[JOURNAL_ERRMSG_SIZE];
    cr_assert_eq(journal_reset(j, 7, err, sizeof err), 0);
    append(j, 100, 3, 10, 99);
    append(j, 103, 1, 0, 101);
    append(j, 104, 2, 1000, 104);
    journal_close(j);
    j = open_journal(1 << 20);
    cr_expect_eq(journal_generation(j), 7);
    struct seen s = {0};
    cr_assert_eq(journal_scan(j, collect, &s), 0);
    const int64_t want_zxid[] = {100, 101, 102, 99, 103, 101, 104, 105, 104};
    const int want_kind[] = {1, 1, 1, 2, 1, 2, 1, 1, 2};
    cr_assert_eq(s.n, 9);
    for (int i = 0; i < 9; i++) {
        cr_expect_eq(s.zxids[i], want_zxid[i], "record %d", i);
        cr_expect_eq(s.kinds[i], want_kind[i], "record %d", i);
    }
    cr_expect_eq(s.lens[7], 1000);
    journal_close(j);
}

Test(journal, a_torn_tail_ends_the_journal)
{
    struct journal *j = open_journal(1 << 20);
    char err[JOURNAL_ERRMSG_SIZE];
    cr_assert_eq(journal_reset(j, 3, err, sizeof err), 0);
    append(j, 1, 2, 100, 0);
    append(j, 3, 2, 100, 2);
    journal_close(j);
    /* flip a byte of the second batch's first payload */
    int fd = open(path, O_RDWR);
    uint8_t b = 0x33;
    off_t second = JOURNAL_HEADER_BYTES + 3 * 32 + 2 * 104; /* two records + one mark */
    cr_assert_eq(pwrite(fd, &b, 1, second + 40), 1);
    close(fd);
    j = open_journal(1 << 20);
    struct seen s = {0};
    cr_assert_eq(journal_scan(j, collect, &s), 0);
    cr_expect_eq(s.n, 3, "the first batch only");
    /* appending after a scan continues where the valid part ends */
    append(j, 3, 1, 5, 3);
    s.n = 0;
    cr_assert_eq(journal_scan(j, collect, &s), 0);
    cr_expect_eq(s.n, 5);
    cr_expect_eq(s.zxids[3], 3);
    journal_close(j);
}

Test(journal, a_reset_makes_older_records_stale)
{
    struct journal *j = open_journal(1 << 20);
    char err[JOURNAL_ERRMSG_SIZE];
    cr_assert_eq(journal_reset(j, 1, err, sizeof err), 0);
    append(j, 10, 5, 50, 14);
    cr_assert_eq(journal_reset(j, 2, err, sizeof err), 0);
    append(j, 20, 1, 50, 20);
    journal_close(j);
    j = open_journal(1 << 20);
    struct seen s = {0};
    cr_assert_eq(journal_scan(j, collect, &s), 0);
    cr_expect_eq(s.n, 2, "only generation 2's record and mark");
    cr_expect_eq(s.zxids[0], 20);
    journal_close(j);
}

Test(journal, a_fresh_file_holds_nothing_and_grows_for_a_big_batch)
{
    struct journal *j = open_journal(64 << 10);
    struct seen s = {0};
    cr_assert_eq(journal_scan(j, collect, &s), 0);
    cr_expect_eq(s.n, 0, "never reset: generation 0, nothing counts");
    char err[JOURNAL_ERRMSG_SIZE];
    cr_assert_eq(journal_reset(j, 5, err, sizeof err), 0);
    append(j, 1, 200, 1000, 200); /* ~250 KB into a 64 KB file */
    journal_close(j);
    j = open_journal(64 << 10);
    cr_assert_eq(journal_scan(j, collect, &s), 0);
    cr_expect_eq(s.n, 201);
    journal_close(j);
}
