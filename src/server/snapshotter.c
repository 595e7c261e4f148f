/* Forked snapshot writer (see snapshotter.h). */
#include "server/snapshotter.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
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
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct snapshotter *snapshotter_new(const char *dir)
{
    struct snapshotter *sn = zk_calloc(1, sizeof *sn);
    if (sn)
        snprintf(sn->dir, sizeof sn->dir, "%s", dir);
    return sn;
}

bool snapshotter_busy(const struct snapshotter *sn) { return sn->child > 0; }

/* The child: write, commit, exit. Exit status 0 means the file is durable and in place. */
static void run_child(const struct snapshotter *sn, const struct store *st, pid_t parent)
{
    /* The child must not outlive the member nor hold its sockets: a member restarted after a
     * kill -9 could not bind its ports while an orphaned writer kept them. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(1);
    if (close_range(3, ~0u, 0) != 0)
        _exit(1);
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
    pid_t pid = fork();
    if (pid < 0) {
        ZK_ERROR_RL("cannot fork the snapshot writer: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        run_child(sn, st, parent); /* does not return */
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
