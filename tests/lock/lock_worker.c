/* Helper process for the multi-process lock tests: contends for a lock and, while holding it,
 * increments a shared counter file read-modify-write with no other protection (so lost mutual
 * exclusion shows up as a wrong count) and appends its fencing token to a shared log.
 *   lock_worker SERVERS PATH KIND ITERATIONS COUNTER_FILE TOKEN_LOG
 *   KIND: lock | write | sem:N | hold (acquire once, print "HELD <token>", sleep forever) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zklock.h"

static int bump_counter(const char *file)
{
    long n = 0;
    FILE *f = fopen(file, "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &n) != 1)
            n = 0;
        fclose(f);
    }
    usleep(500); /* widen the race window */
    f = fopen(file, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%ld\n", n + 1);
    return fclose(f);
}

static int log_token(const char *file, long long token)
{
    FILE *f = fopen(file, "a");
    if (f == NULL)
        return -1;
    fprintf(f, "%lld\n", token);
    return fclose(f);
}

static zkl_lock *make(zkl_client *c, const char *path, const char *kind)
{
    if (strncmp(kind, "sem:", 4) == 0)
        return zkl_semaphore_new(c, path, (unsigned)atoi(kind + 4));
    if (strcmp(kind, "write") == 0)
        return zkl_write_lock_new(c, path);
    return zkl_mutex_new(c, path);
}

static int hold_forever(zkl_lock *l)
{
    int64_t token;
    if (zkl_lock_acquire(l, -1, &token) != ZKL_OK)
        return 1;
    printf("HELD %lld\n", (long long)token);
    fflush(stdout);
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: lock_worker SERVERS PATH KIND ITER COUNTER LOG\n");
        return 2;
    }
    zoo_set_debug_level((ZooLogLevel)0);
    int st;
    zkl_client *c = zkl_client_new(argv[1], 2000, 10000, &st);
    if (c == NULL) {
        fprintf(stderr, "lock_worker: connect: %s\n", zkl_strerror(st));
        return 1;
    }
    zkl_lock *l = make(c, argv[2], argv[3]);
    if (l == NULL)
        return 1;
    if (strcmp(argv[3], "hold") == 0)
        return hold_forever(l);
    int iterations = atoi(argv[4]), rc = 0;
    for (int i = 0; i < iterations && rc == 0; i++) {
        int64_t token;
        if ((st = zkl_lock_acquire(l, 30000, &token)) != ZKL_OK) {
            fprintf(stderr, "lock_worker: acquire: %s\n", zkl_strerror(st));
            rc = 1;
            break;
        }
        if (bump_counter(argv[5]) != 0 || log_token(argv[6], token) != 0)
            rc = 1;
        if (zkl_lock_release(l) != ZKL_OK)
            rc = 1;
    }
    zkl_lock_free(l);
    zkl_client_free(c);
    return rc;
}
