/* fsync-floor: the disk's raw durable-write latency, the floor under any fsync-per-batch server.
 * Times COUNT rounds of pwrite(4 KiB) + fdatasync on a file in DIR, in two modes:
 *   prealloc: overwrite blocks of a file written and synced beforehand (like a preallocated log)
 *   append:   extend the file each round (size changes, so metadata is flushed too)
 * and prints median / p99 / max in microseconds.
 *   usage: fsync-floor [DIR] [COUNT]     (default: current directory, 1000) */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* COUNT timed rounds; returns 0 or -1. prealloc: first fill and sync the whole range. */
static int rounds(int fd, int prealloc, int count, uint64_t *lat)
{
    static char buf[BLOCK];
    memset(buf, 'z', sizeof buf);
    if (prealloc) {
        for (int i = 0; i < count; i++)
            if (pwrite(fd, buf, BLOCK, (off_t)i * BLOCK) != BLOCK)
                return -1;
        if (fsync(fd) != 0)
            return -1;
    }
    for (int i = 0; i < count; i++) {
        uint64_t t0 = now_us();
        if (pwrite(fd, buf, BLOCK, (off_t)i * BLOCK) != BLOCK || fdatasync(fd) != 0)
            return -1;
        lat[i] = now_us() - t0;
    }
    return 0;
}

static int measure(const char *dir, int prealloc, int count, uint64_t *lat)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync-floor.%d.tmp", dir, (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    int rc = rounds(fd, prealloc, count, lat);
    if (rc != 0)
        perror("write/fdatasync");
    if (close(fd) != 0 || unlink(path) != 0)
        rc = -1;
    if (rc != 0)
        return -1;
    qsort(lat, (size_t)count, sizeof *lat, cmp_u64);
    printf("RESULT kind=fsync mode=%s count=%d p50_us=%llu p99_us=%llu max_us=%llu\n",
           prealloc ? "prealloc" : "append", count, (unsigned long long)lat[count / 2],
           (unsigned long long)lat[count * 99 / 100], (unsigned long long)lat[count - 1]);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int count = argc > 2 ? atoi(argv[2]) : 1000;
    if (count < 10) {
        fprintf(stderr, "usage: fsync-floor [DIR] [COUNT>=10]\n");
        return 2;
    }
    uint64_t *lat = calloc((size_t)count, sizeof *lat);
    if (lat == NULL)
        return 1;
    int rc = measure(dir, 1, count, lat) || measure(dir, 0, count, lat);
    free(lat);
    return rc ? 1 : 0;
}
