/* Durability across a crash: a libzookeeper-mt client pipelines async creates; once thousands
 * are acknowledged the server is SIGKILLed (serverctl kill) while creates are in flight, then
 * restarted (serverctl restart) on the same data. Every create acknowledged with ZOK must be
 * present with its data; unacknowledged ones may or may not exist but must be intact if they do.
 *
 * Environment (set by ctest): ZK_CONNECT, ZK_TEST_DIR (the serverctl dir), SERVERCTL.
 * Exit 0 = pass, 1 = fail. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#define TOTAL 50000      /* creates issued at most */
#define WINDOW 1000      /* max outstanding */
#define KILL_AFTER 3000  /* acknowledged creates before the kill */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int issued, completed, acked_n, connected, killed, lost, kill_failed, acked_at_kill = -1;
static int rcs[TOTAL];
static int idx[TOTAL];

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh;
    (void)path;
    (void)ctx;
    if (type != ZOO_SESSION_EVENT) return;
    pthread_mutex_lock(&mu);
    connected = state == ZOO_CONNECTED_STATE;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static zhandle_t *connect_wait(void) {
    zhandle_t *zh = zookeeper_init(getenv("ZK_CONNECT"), watcher, 10000, NULL, NULL, 0);
    if (!zh) fail("zookeeper_init");
    struct timespec ts;
    deadline_in(&ts, 15000);
    pthread_mutex_lock(&mu);
    int rc = 0;
    while (!connected && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&cv, &mu, &ts);
    int ok = connected;
    pthread_mutex_unlock(&mu);
    if (!ok) fail("not connected to %s within 15 s", getenv("ZK_CONNECT"));
    return zh;
}

static void make_data(int i, char *buf, int *len) {
    *len = snprintf(buf, 200, "rec-%06d:%s", i,
                    "the quick brown fox jumps over the lazy dog 0123456789abcdefghijklmnop");
}

static void create_done(int rc, const char *value, const void *data) {
    (void)value;
    int i = *(const int *)data;
    pthread_mutex_lock(&mu);
    rcs[i] = rc;
    completed++;
    if (rc == ZOK) acked_n++;
    if (rc == ZCONNECTIONLOSS) lost = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int run(const char *cmd) {
    fprintf(stderr, "+ %s\n", cmd);
    return system(cmd);
}

/* Waits for KILL_AFTER acknowledgements, then SIGKILLs the server while the main thread keeps
 * issuing creates, so requests are certainly in flight when the process dies. */
static void *killer(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    while (acked_n < KILL_AFTER && !killed) pthread_cond_wait(&cv, &mu);
    acked_at_kill = acked_n;
    pthread_mutex_unlock(&mu);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' kill '%s'", getenv("SERVERCTL"), getenv("ZK_TEST_DIR"));
    int rc = run(cmd);
    pthread_mutex_lock(&mu);
    kill_failed = rc != 0;
    killed = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return NULL;
}

int main(void) {
    const char *dir = getenv("ZK_TEST_DIR"), *serverctl = getenv("SERVERCTL");
    if (!dir || !serverctl || !getenv("ZK_CONNECT")) fail("ZK_TEST_DIR/SERVERCTL/ZK_CONNECT unset");
    zoo_set_debug_level(0);
    zhandle_t *zh = connect_wait();
    int rc = zoo_create(zh, "/rec", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    if (rc != ZOK) fail("create /rec: %s", zerror(rc));

    char path[64], data[200];
    int len;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t kt;
    pthread_create(&kt, NULL, killer, NULL);
    for (int i = 0; i < TOTAL; i++) {
        pthread_mutex_lock(&mu);
        struct timespec ts;
        deadline_in(&ts, 30000);
        int w = 0;
        while (issued - completed >= WINDOW && !killed && !lost && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&cv, &mu, &ts);
        int stop = killed || lost; /* the server is dead: stop the load */
        if (!stop && issued - completed >= WINDOW) {
            pthread_mutex_unlock(&mu);
            fail("no completions for 30 s (issued %d completed %d)", issued, completed);
        }
        if (!stop) issued++;
        pthread_mutex_unlock(&mu);
        if (stop) break;
        idx[i] = i;
        snprintf(path, sizeof path, "/rec/n%06d", i);
        make_data(i, data, &len);
        rc = zoo_acreate(zh, path, data, len, &ZOO_OPEN_ACL_UNSAFE, 0, create_done, &idx[i]);
        if (rc != ZOK) fail("zoo_acreate %d: %s", i, zerror(rc));
    }
    pthread_mutex_lock(&mu);
    if (!killed && !lost) {
        killed = 1; /* release the killer if it never fired */
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        fail("all %d creates issued before the kill (acked %d); raise TOTAL", TOTAL, acked_n);
    }
    pthread_mutex_unlock(&mu);
    pthread_join(kt, NULL);
    if (kill_failed) fail("serverctl kill failed");
    fprintf(stderr, "killed after %d acknowledgements; %d creates issued\n", acked_at_kill, issued);

    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' restart '%s'", serverctl, dir);
    if (run(cmd) != 0) fail("serverctl restart failed");

    /* every issued create completes (ZCONNECTIONLOSS, or ZOK if sent after the reconnect) */
    struct timespec ts;
    deadline_in(&ts, 60000);
    pthread_mutex_lock(&mu);
    int w = 0;
    while (completed < issued && w != ETIMEDOUT) w = pthread_cond_timedwait(&cv, &mu, &ts);
    int done = completed, acked_total = acked_n;
    pthread_mutex_unlock(&mu);
    if (done < issued) fail("only %d of %d creates completed after restart", done, issued);
    zookeeper_close(zh);

    connected = 0;
    zhandle_t *v = connect_wait();
    int missing = 0, present_unacked = 0, bad = 0, present = 0, connloss = 0;
    for (int i = 0; i < issued; i++) connloss += rcs[i] == ZCONNECTIONLOSS;
    char buf[256];
    for (int i = 0; i < issued; i++) {
        snprintf(path, sizeof path, "/rec/n%06d", i);
        int blen = sizeof buf;
        struct Stat st;
        rc = zoo_get(v, path, 0, buf, &blen, &st);
        if (rc == ZNONODE) {
            if (rcs[i] == ZOK) {
                if (missing++ < 10) fprintf(stderr, "acknowledged %s is missing\n", path);
            }
            continue;
        }
        if (rc != ZOK) fail("get %s: %s", path, zerror(rc));
        present++;
        make_data(i, data, &len);
        if (blen != len || memcmp(buf, data, len) != 0) {
            if (bad++ < 10) fprintf(stderr, "%s has wrong data (%d bytes)\n", path, blen);
        }
        if (rcs[i] != ZOK) present_unacked++;
    }
    struct Stat rst;
    rc = zoo_exists(v, "/rec", 0, &rst);
    if (rc != ZOK) fail("/rec missing after restart: %s", zerror(rc));
    zookeeper_close(v);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr,
            "issued %d, acknowledged %d (%d before the kill), failed with connection loss %d, "
            "present but unacknowledged %d, /rec has %d children, %.1f s\n",
            issued, acked_total, acked_at_kill, connloss, present_unacked, rst.numChildren,
            (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (missing) fail("%d acknowledged creates lost", missing);
    if (connloss == 0) fail("no create failed with connection loss: nothing was in flight at the kill");
    if (bad) fail("%d nodes with wrong data", bad);
    if (rst.numChildren != present)
        fail("/rec has %d children but %d of the issued paths exist", rst.numChildren, present);
    printf("PASS\n");
    return 0;
}
