/* Forked snapshot writer (see snapshotter.h). */
#include "server/snapshotter.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "store/snapfile.h"
#include "store/store.h"

struct snapshotter {
    char dir[1024];
    pid_t child;
    int64_t zxid;
    int64_t started_ms;
    int64_t fork_us; /* what the last start cost the loop: copying the page tables */
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void) { return mono_us() / 1000; }

struct snapshotter *snapshotter_new(const char *dir)
{
    struct snapshotter *sn = zk_calloc(1, sizeof *sn);
    if (sn)
        snprintf(sn->dir, sizeof sn->dir, "%s", dir);
    return sn;
}

int64_t snapshotter_fork_us(const struct snapshotter *sn) { return sn->fork_us; }

bool snapshotter_busy(const struct snapshotter *sn) { return sn->child > 0; }

/* The writer runs on what the member leaves idle: CPU at nice 19 and disk in the idle I/O class
 * (which mq-deadline and BFQ honour), so the member's loop and its journal syncs are not slowed
 * by the snapshot (issue 11: the snapshot window). Neither can starve it: nice 19 still gets its
 * share of a busy CPU, and after IDLE_IO_SECONDS the writer returns to the normal I/O class (a
 * disk kept busy by the log must not hold the snapshot, and with it the log's purge, forever).
 * SCHED_IDLE is not used: an unprivileged process could not leave it again. Best effort: a
 * kernel without these still gets a correct, if more intrusive, snapshot. */
#define IDLE_IO_SECONDS 5
enum { IOPRIO_CLASS_BE = 2, IOPRIO_CLASS_IDLE = 3, IOPRIO_CLASS_SHIFT = 13, IOPRIO_WHO_PROCESS = 1 };

static long set_io_class(int io_class)
{
    return syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, io_class << IOPRIO_CLASS_SHIFT);
}

static void back_to_normal_io(int sig)
{
    (void)sig;
    (void)set_io_class(IOPRIO_CLASS_BE); /* a syscall: async-signal-safe */
}

static void yield_to_member(void)
{
    if (setpriority(PRIO_PROCESS, 0, 19) != 0)
        ZK_WARN("snapshot writer: cannot lower its CPU priority: %s", strerror(errno));
    if (set_io_class(IOPRIO_CLASS_IDLE) != 0) {
        ZK_WARN("snapshot writer: cannot lower its I/O priority: %s", strerror(errno));
        return;
    }
    struct sigaction sa = {.sa_handler = back_to_normal_io, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        (void)set_io_class(IOPRIO_CLASS_BE);
    else
        alarm(IDLE_IO_SECONDS);
}

/* The child: write, commit, exit. Exit status 0 means the file is durable and in place. */
static void run_child(const struct snapshotter *sn, const struct store *st, pid_t parent)
{
    /* The child must not outlive the member nor hold its sockets: a member restarted after a
     * kill -9 could not bind its ports while an orphaned writer kept them. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(1);
    if (close_range(3, ~0u, 0) != 0)
        _exit(1);
    yield_to_member();
    char err[SNAPFILE_ERRMSG_SIZE];
    struct snapfile_writer *w;
    if (snapfile_create(&w, sn->dir, sn->zxid, err, sizeof err) != 0) {
        ZK_ERROR("snapshot at zxid 0x%llx: %s", (unsigned long long)sn->zxid, err);
        _exit(1);
    }
    if (store_snapshot_write(st, snapfile_write, w) != 0) {
        ZK_ERROR("snapshot at zxid 0x%llx: write failed: %s", (unsigned long long)sn->zxid,
                 strerror(errno));
        snapfile_abort(w);
        _exit(1);
    }
    if (snapfile_commit(w, err, sizeof err) != 0) {
        ZK_ERROR("snapshot at zxid 0x%llx: %s", (unsigned long long)sn->zxid, err);
        _exit(1);
    }
    _exit(0);
}

int snapshotter_start(struct snapshotter *sn, const struct store *st)
{
    if (sn->child > 0)
        return -1;
    sn->zxid = store_last_zxid(st);
    sn->started_ms = mono_ms();
    fflush(stderr);
    pid_t parent = getpid();
    int64_t fork_at = mono_us();
    pid_t pid = fork();
    if (pid < 0) {
        ZK_ERROR_RL("cannot fork the snapshot writer: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        run_child(sn, st, parent); /* does not return */
    sn->fork_us = mono_us() - fork_at;
    sn->child = pid;
    return 0;
}

int snapshotter_poll(struct snapshotter *sn, int64_t *zxid, int64_t *ms)
{
    if (sn->child <= 0)
        return 0;
    int status;
    pid_t r = waitpid(sn->child, &status, WNOHANG);
    if (r == 0)
        return 0;
    sn->child = 0;
    *zxid = sn->zxid;
    *ms = mono_ms() - sn->started_ms;
    if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return 1;
}

void snapshotter_free(struct snapshotter *sn)
{
    if (!sn)
        return;
    if (sn->child > 0) {
        kill(sn->child, SIGKILL);
        int status;
        while (waitpid(sn->child, &status, 0) < 0 && errno == EINTR) {
        }
        snapfile_prune(sn->dir, 1 << 30); /* removes its .tmp file, keeps every snapshot */
    }
    zk_free(sn);
}
