/* Shared helpers of the lock tests: the server under test (from the environment ctest sets),
 * client creation, spawning helper processes, and small waits. Header-only (static functions). */
#ifndef LOCK_TEST_HELPERS_H
#define LOCK_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zklock.h"

extern char **environ;

static inline const char *servers(void)
{
    const char *s = getenv("ZKL_TEST_SERVERS");
    if (s == NULL)
        cr_skip_test("ZKL_TEST_SERVERS not set (run through ctest)");
    return s;
}

static inline zkl_client *connect_client(void)
{
    int st;
    zkl_client *c = zkl_client_new(servers(), 2000, 10000, &st);
    cr_assert_not_null(c, "connect to %s: %s", servers(), zkl_strerror(st));
    return c;
}

/* A lock path unique to this test run, so reruns do not see old children. */
static inline void unique_path(char *buf, size_t len, const char *name)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, len, "/locktest/%s-%ld-%ld", name, (long)getpid(), (long)ts.tv_nsec);
}

static inline void msleep(int ms) { (void)poll(NULL, 0, ms); }

static inline long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline pid_t spawn(char *const argv[], int stdout_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (stdout_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, stdout_fd, 1);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "spawn %s: %s", argv[0], strerror(rc));
    return pid;
}

static inline int wait_status(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

static inline int count_children(zkl_client *c, const char *path)
{
    struct String_vector v = {0, NULL};
    int rc = zoo_get_children(zkl_client_handle(c), path, 0, &v);
    if (rc == ZNONODE)
        return 0;
    cr_assert_eq(rc, ZOK, "get_children %s: %s", path, zerror(rc));
    int n = v.count;
    deallocate_String_vector(&v);
    return n;
}

/* Poll until cond(arg) or timeout; returns cond's last value. */
static inline int wait_until(int (*cond)(void *), void *arg, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    while (!cond(arg) && now_ms() < end)
        msleep(10);
    return cond(arg);
}

#endif
