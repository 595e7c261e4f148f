/* zabctl lock / elect: wait for a distributed lock (or leadership), run CMD while holding it with
 * the fencing token in its environment, release when CMD exits and return CMD's status. If the
 * lock is lost (session expired, or the library could not confirm it with the leader in time:
 * docs/locks.md) CMD's process group gets SIGTERM within 20 ms (then SIGKILL) and zabctl exits
 * 125. Signals to zabctl cancel the wait, or are forwarded to CMD once it runs. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/zabctl.h"
#include "common/assert.h"

extern char **environ;

struct lock_opts {
    int timeout_ms; /* -1: forever */
    int kill_after_ms;
    int kind; /* 'x' exclusive, 'r' read, 'w' write, 's' semaphore, 'e' election */
    unsigned permits;
    const char *id;
    char path[1024];
    char **cmd;
};

/* What the supervisor asks while CMD runs. */
typedef enum zkl_lock_state (*state_fn)(void *obj);

static sigset_t fwd_sigs;
static atomic_int got_signal;
static atomic_int child_pid;
static pthread_mutex_t waiting_mu = PTHREAD_MUTEX_INITIALIZER;
static zkl_lock *waiting_lock;

static void *signal_thread(void *arg)
{
    (void)arg;
    for (;;) {
        int sig;
        if (sigwait(&fwd_sigs, &sig) != 0)
            continue;
        atomic_store(&got_signal, sig);
        int pid = atomic_load(&child_pid);
        if (pid > 0)
            kill(-pid, sig);
        ZK_ASSERT(pthread_mutex_lock(&waiting_mu) == 0);
        if (waiting_lock != NULL)
            zkl_lock_cancel(waiting_lock);
        ZK_ASSERT(pthread_mutex_unlock(&waiting_mu) == 0);
    }
    return NULL;
}

/* Block the forwarded signals in every thread (before the client starts its threads) and let
 * one thread receive them. */
static int setup_signals(void)
{
    sigemptyset(&fwd_sigs);
    sigaddset(&fwd_sigs, SIGINT);
    sigaddset(&fwd_sigs, SIGTERM);
    sigaddset(&fwd_sigs, SIGHUP);
    sigaddset(&fwd_sigs, SIGQUIT);
    if (pthread_sigmask(SIG_BLOCK, &fwd_sigs, NULL) != 0)
        return -1;
    pthread_t t;
    if (pthread_create(&t, NULL, signal_thread, NULL) != 0)
        return -1;
    return pthread_detach(t) == 0 ? 0 : -1;
}

static void set_waiting(zkl_lock *l)
{
    ZK_ASSERT(pthread_mutex_lock(&waiting_mu) == 0);
    waiting_lock = l;
    ZK_ASSERT(pthread_mutex_unlock(&waiting_mu) == 0);
}

static void sleep_ms(int ms) { (void)poll(NULL, 0, ms); }

/* ---- running CMD ---------------------------------------------------------------------- */

static void export_env(const char *path, const char *node, int64_t token)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, token);
    if (setenv("ZABKEEPER_LOCK_TOKEN", buf, 1) != 0 || setenv("ZABKEEPER_LOCK_PATH", path, 1) != 0 ||
        setenv("ZABKEEPER_LOCK_NODE", node ? node : "", 1) != 0)
        fprintf(stderr, "zabctl: cannot set the environment: %s\n", strerror(errno));
}

static int spawn_cmd(char **cmd, pid_t *pid)
{
    posix_spawnattr_t attr;
    sigset_t none;
    sigemptyset(&none);
    if (posix_spawnattr_init(&attr) != 0)
        return ZC_ERROR;
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &fwd_sigs);
    int rc = posix_spawnp(pid, cmd[0], NULL, &attr, cmd, environ);
    posix_spawnattr_destroy(&attr);
    if (rc == 0)
        return ZC_OK;
    fprintf(stderr, "zabctl: cannot run %s: %s\n", cmd[0], strerror(rc));
    return rc == ENOENT ? ZC_NOTFOUND : ZC_NOEXEC;
}

static int exit_status_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return ZC_ERROR;
}

/* The lock is gone: stop CMD (its whole process group), SIGKILL after the grace period. */
static void stop_cmd(pid_t pid, int kill_after_ms)
{
    kill(-pid, SIGTERM);
    for (int waited = 0; waited < kill_after_ms; waited += 10) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        sleep_ms(10);
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Run CMD while state(obj) says the lock is held; returns zabctl's exit status. */
static int supervise(const struct lock_opts *lo, state_fn state, void *obj)
{
    pid_t pid;
    int code = spawn_cmd(lo->cmd, &pid);
    if (code != ZC_OK)
        return code;
    atomic_store(&child_pid, pid);
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            atomic_store(&child_pid, 0);
            if (state(obj) == ZKL_LOST) {
                fprintf(stderr, "zabctl: lock %s was lost while %s ran\n", lo->path, lo->cmd[0]);
                return ZC_LOST;
            }
            return exit_status_of(status);
        }
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "zabctl: waitpid: %s\n", strerror(errno));
            return ZC_ERROR;
        }
        if (state(obj) == ZKL_LOST) {
            fprintf(stderr, "zabctl: lock %s lost (session expired or unconfirmed); stopping %s\n",
                    lo->path, lo->cmd[0]);
            stop_cmd(pid, lo->kill_after_ms);
            atomic_store(&child_pid, 0);
            return ZC_LOST;
        }
        sleep_ms(20);
    }
}

/* ---- lock ------------------------------------------------------------------------------ */

static enum zkl_lock_state lock_state_of(void *obj) { return zkl_lock_state(obj); }

static zkl_lock *make_lock(zkl_client *c, const struct lock_opts *lo)
{
    switch (lo->kind) {
    case 'r': return zkl_read_lock_new(c, lo->path);
    case 'w': return zkl_write_lock_new(c, lo->path);
    case 's': return zkl_semaphore_new(c, lo->path, lo->permits);
    default: return zkl_mutex_new(c, lo->path);
    }
}

static int acquire_failed(const struct lock_opts *lo, int st)
{
    int sig = atomic_load(&got_signal);
    if (st == ZKL_ECANCELED && sig != 0)
        return 128 + sig;
    if (st == ZKL_ETIMEOUT) {
        fprintf(stderr, "zabctl: timed out after %d ms waiting for lock %s\n", lo->timeout_ms,
                lo->path);
        return ZC_TIMEOUT;
    }
    fprintf(stderr, "zabctl: cannot acquire lock %s: %s\n", lo->path, zkl_strerror(st));
    return st == ZKL_ESESSION ? ZC_UNREACHABLE : ZC_ERROR;
}

static int run_locked(zkl_client *c, const struct lock_opts *lo)
{
    zkl_lock *l = make_lock(c, lo);
    if (l == NULL) {
        fprintf(stderr, "zabctl: bad lock name %s\n", lo->path);
        return ZC_USAGE;
    }
    int64_t token = 0;
    set_waiting(l);
    int st = atomic_load(&got_signal) ? ZKL_ECANCELED : zkl_lock_acquire(l, lo->timeout_ms, &token);
    set_waiting(NULL);
    int code;
    if (st != ZKL_OK) {
        code = acquire_failed(lo, st);
    } else {
        export_env(lo->path, zkl_lock_node(l), token);
        code = supervise(lo, lock_state_of, l);
        if (zkl_lock_release(l) == ZKL_ESESSION && code != ZC_LOST)
            code = ZC_LOST;
    }
    zkl_lock_free(l);
    return code;
}

/* ---- elect ----------------------------------------------------------------------------- */

static enum zkl_lock_state election_state_of(void *obj) { return zkl_election_state(obj); }

static int wait_leader(zkl_election *e, const struct lock_opts *lo)
{
    for (int waited = 0;; waited += 20) {
        enum zkl_lock_state s = zkl_election_state(e);
        if (s == ZKL_HELD)
            return ZC_OK;
        if (atomic_load(&got_signal))
            return 128 + atomic_load(&got_signal);
        if (s == ZKL_LOST) {
            fprintf(stderr, "zabctl: election %s: session lost\n", lo->path);
            return ZC_UNREACHABLE;
        }
        if (lo->timeout_ms >= 0 && waited >= lo->timeout_ms) {
            fprintf(stderr, "zabctl: timed out after %d ms waiting to lead %s\n", lo->timeout_ms,
                    lo->path);
            return ZC_TIMEOUT;
        }
        sleep_ms(20);
    }
}

static int run_elected(zkl_client *c, const struct lock_opts *lo)
{
    zkl_election *e = zkl_election_new(c, lo->path, lo->id, NULL, NULL);
    if (e == NULL) {
        fprintf(stderr, "zabctl: cannot join election %s\n", lo->path);
        return ZC_ERROR;
    }
    int code = wait_leader(e, lo);
    if (code == ZC_OK) {
        export_env(lo->path, NULL, zkl_election_token(e));
        code = supervise(lo, election_state_of, e);
    }
    zkl_election_free(e);
    return code;
}

/* ---- options ---------------------------------------------------------------------------- */

static int parse_lock_opts(int argc, char **argv, struct lock_opts *lo, const char *base)
{
    static const struct option longs[] = {
        {"timeout", required_argument, NULL, 't'}, {"kill-after", required_argument, NULL, 'k'},
        {"read", no_argument, NULL, 'r'},          {"write", no_argument, NULL, 'w'},
        {"permits", required_argument, NULL, 'p'}, {"id", required_argument, NULL, 'i'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "+t:k:rwp:i:", longs, NULL)) != -1) {
        if (ch == 't' && (lo->timeout_ms = zabctl_parse_seconds(optarg)) < 0) return -1;
        else if (ch == 'k' && (lo->kill_after_ms = zabctl_parse_seconds(optarg)) < 0) return -1;
        else if (ch == 'r' || ch == 'w') lo->kind = ch;
        else if (ch == 'p') {
            lo->kind = 's';
            lo->permits = (unsigned)strtoul(optarg, NULL, 10);
            if (lo->permits == 0) return -1;
        } else if (ch == 'i') lo->id = optarg;
        else if (ch == '?') return -1;
    }
    if (optind + 1 >= argc || strcmp(argv[optind + 1], "--") != 0 || optind + 2 >= argc)
        return -1;
    const char *name = argv[optind];
    if (name[0] == '/')
        snprintf(lo->path, sizeof lo->path, "%s", name);
    else if (strchr(name, '/') == NULL && *name != '\0')
        snprintf(lo->path, sizeof lo->path, "%s/%s", base, name);
    else
        return -1;
    lo->cmd = argv + optind + 2;
    return 0;
}

static int lock_or_elect(const struct zabctl_opts *o, int argc, char **argv, int elect)
{
    struct lock_opts lo = {.timeout_ms = -1, .kill_after_ms = 2000, .kind = elect ? 'e' : 'x',
                           .permits = 1};
    if (parse_lock_opts(argc, argv, &lo, elect ? "/zabctl/elections" : "/zabctl/locks") != 0) {
        fprintf(stderr, "usage: zabctl %s [--timeout S] %sNAME -- CMD [ARGS...]\n",
                elect ? "elect" : "lock", elect ? "[--id ID] " : "[--read|--write|--permits N] ");
        return ZC_USAGE;
    }
    if (setup_signals() != 0) {
        fprintf(stderr, "zabctl: cannot set up signal handling\n");
        return ZC_ERROR;
    }
    int code;
    zkl_client *c = zabctl_connect(o, &code);
    if (c == NULL)
        return code;
    code = elect ? run_elected(c, &lo) : run_locked(c, &lo);
    zkl_client_free(c);
    return code;
}

int cmd_lock(const struct zabctl_opts *o, int argc, char **argv)
{
    return lock_or_elect(o, argc, argv, 0);
}

int cmd_elect(const struct zabctl_opts *o, int argc, char **argv)
{
    return lock_or_elect(o, argc, argv, 1);
}
