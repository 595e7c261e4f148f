/* Tests of the zabctl binary against a live server (ctest sets ZKL_TEST_SERVERS and ZABCTL_BIN):
 * exit codes for the documented failure cases, `zabctl lock` passing CMD's status through,
 * --timeout, mutual exclusion among concurrent `zabctl lock` processes, `elect`, and the
 * lock-lost status when the session dies (on a private server that the test stops). */
#include <fcntl.h>
#include <sys/stat.h>

#include "helpers.h"

static const char *zabctl(void)
{
    const char *z = getenv("ZABCTL_BIN");
    if (z == NULL)
        cr_skip_test("ZABCTL_BIN not set (run through ctest)");
    return z;
}

/* Run a shell command line (with $Z = zabctl and $ZABKEEPER_SERVERS set); returns its status. */
static int sh(const char *cmd)
{
    setenv("Z", zabctl(), 1);
    setenv("ZABKEEPER_SERVERS", servers(), 1);
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    return wait_status(spawn(argv, -1));
}

static pid_t sh_bg(const char *cmd)
{
    setenv("Z", zabctl(), 1);
    setenv("ZABKEEPER_SERVERS", servers(), 1);
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    return spawn(argv, -1);
}

static void lock_name(char *buf, size_t len, const char *what)
{
    snprintf(buf, len, "%s-%ld-%lld", what, (long)getpid(), now_ms());
}

static int file_exists(void *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

Test(zabctl, exit_codes, .timeout = 60)
{
    cr_assert_eq(sh("$Z -s nonsense ls / 2>/dev/null"), 3, "bad connect string");
    cr_assert_eq(sh("$Z -s 127.0.0.1:1 --connect-timeout 500 ls / 2>/dev/null"), 4,
                 "unreachable");
    cr_assert_eq(sh("$Z get /no/such/node 2>/dev/null"), 5, "missing node");
    cr_assert_eq(sh("$Z frobnicate 2>/dev/null"), 2, "usage");
    char cmd[512], name[128];
    lock_name(name, sizeof name, "codes");
    snprintf(cmd, sizeof cmd, "$Z lock %s -- sh -c 'exit 7'", name);
    cr_assert_eq(sh(cmd), 7, "CMD's status is returned");
    snprintf(cmd, sizeof cmd, "$Z lock %s -- /no/such/cmd 2>/dev/null", name);
    cr_assert_eq(sh(cmd), 127);
    snprintf(cmd, sizeof cmd, "$Z lock %s -- sh -c 'kill -TERM $$'", name);
    cr_assert_eq(sh(cmd), 128 + SIGTERM, "CMD killed by a signal: 128+N");
    snprintf(cmd, sizeof cmd,
             "test \"$($Z lock %s -- sh -c 'echo $ZABKEEPER_LOCK_TOKEN')\" -gt 0", name);
    cr_assert_eq(sh(cmd), 0, "fencing token in the environment");
}

Test(zabctl, lock_timeout, .timeout = 60)
{
    char cmd[512], name[128], flag[] = "/tmp/zabctl-held-XXXXXX";
    int fd = mkstemp(flag);
    cr_assert(fd >= 0);
    close(fd);
    unlink(flag);
    lock_name(name, sizeof name, "timeout");
    snprintf(cmd, sizeof cmd, "$Z lock %s -- sh -c 'echo held > %s; sleep 2'", name, flag);
    pid_t holder = sh_bg(cmd);
    cr_assert(wait_until(file_exists, flag, 10000));
    long long t0 = now_ms();
    snprintf(cmd, sizeof cmd, "$Z lock --timeout 0.4 %s -- true 2>/dev/null", name);
    cr_assert_eq(sh(cmd), 124, "timeout status");
    cr_assert_lt(now_ms() - t0, 2000);
    snprintf(cmd, sizeof cmd, "$Z lock --timeout 10 %s -- true", name);
    cr_assert_eq(sh(cmd), 0, "gets the lock once the holder's CMD exits");
    cr_assert_eq(wait_status(holder), 0);
    unlink(flag);
}

Test(zabctl, mutual_exclusion, .timeout = 90)
{
    char counter[] = "/tmp/zabctl-counter-XXXXXX", cmd[1024], name[128];
    int fd = mkstemp(counter);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "0\n", 2), 2);
    close(fd);
    lock_name(name, sizeof name, "mutex");
    snprintf(cmd, sizeof cmd,
             "for i in 1 2 3 4 5 6; do $Z lock %s -- sh -c "
             "'n=$(cat %s); sleep 0.01; echo $((n+1)) > %s' || exit 1; done",
             name, counter, counter);
    pid_t p[3];
    for (int i = 0; i < 3; i++)
        p[i] = sh_bg(cmd);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(wait_status(p[i]), 0);
    FILE *f = fopen(counter, "r");
    long n = -1;
    cr_assert_eq(fscanf(f, "%ld", &n), 1);
    fclose(f);
    cr_assert_eq(n, 18, "counter %ld, want 18: mutual exclusion violated", n);
    unlink(counter);
}

Test(zabctl, elect, .timeout = 60)
{
    char cmd[512], name[128], flag[] = "/tmp/zabctl-leader-XXXXXX";
    int fd = mkstemp(flag);
    cr_assert(fd >= 0);
    close(fd);
    unlink(flag);
    lock_name(name, sizeof name, "elect");
    snprintf(cmd, sizeof cmd, "$Z elect --id first %s -- sh -c 'echo x > %s; sleep 1.5'", name,
             flag);
    pid_t leader = sh_bg(cmd);
    cr_assert(wait_until(file_exists, flag, 10000));
    snprintf(cmd, sizeof cmd, "$Z elect --timeout 0.3 %s -- true 2>/dev/null", name);
    cr_assert_eq(sh(cmd), 124, "only one leader at a time");
    snprintf(cmd, sizeof cmd, "$Z elect --timeout 10 %s -- true", name);
    cr_assert_eq(sh(cmd), 0, "next candidate leads after the first resigns");
    cr_assert_eq(wait_status(leader), 0);
    unlink(flag);
}

/* The session dies under a running CMD: zabctl must signal CMD and exit 125. Uses a private
 * server (SERVERCTL, SERVER_KIND, ZKL_SPARE_PORT) because it stops it. */
Test(zabctl, lock_lost_signals_cmd, .timeout = 90)
{
    const char *ctl = getenv("SERVERCTL"), *kind = getenv("SERVER_KIND"),
               *port = getenv("ZKL_SPARE_PORT"), *dir = getenv("ZKL_SPARE_DIR");
    if (!ctl || !kind || !port || !dir)
        cr_skip_test("SERVERCTL/SERVER_KIND/ZKL_SPARE_PORT/ZKL_SPARE_DIR not set");
    char cmd[1024], pidfile[] = "/tmp/zabctl-cmdpid-XXXXXX";
    int fd = mkstemp(pidfile);
    cr_assert(fd >= 0);
    close(fd);
    unlink(pidfile);
    snprintf(cmd, sizeof cmd, "rm -rf %s && %s start %s %s %s >/dev/null", dir, ctl, kind, dir,
             port);
    cr_assert_eq(sh(cmd), 0, "cannot start the private server");
    snprintf(cmd, sizeof cmd,
             "exec $Z -s 127.0.0.1:%s --session-timeout 1000 lock lost -- "
             "sh -c 'echo $$ > %s; exec sleep 60'",
             port, pidfile);
    pid_t z = sh_bg(cmd);
    cr_assert(wait_until(file_exists, pidfile, 10000), "CMD never started");
    FILE *f = fopen(pidfile, "r");
    long cmd_pid = 0;
    cr_assert_eq(fscanf(f, "%ld", &cmd_pid), 1);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s kill %s", ctl, dir);
    long long t0 = now_ms();
    cr_assert_eq(sh(cmd), 0);
    cr_assert_eq(wait_status(z), 125, "lock-lost exit status");
    long long took = now_ms() - t0;
    cr_log_info("zabctl noticed the loss %lld ms after the server died", took);
    cr_assert_lt(took, 10000);
    cr_assert(kill((pid_t)cmd_pid, 0) != 0, "CMD still running after the lock was lost");
    unlink(pidfile);
}
