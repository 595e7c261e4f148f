/* Replicated-ensemble integration tests against real zabkeeper processes, driven through
 * deploy/localcluster and the official C client (libzookeeper-mt).
 *
 * Each Criterion test brings up its own 3- or 5-member ensemble in $ZABKEEPER_CLUSTER_DIR on
 * $ZABKEEPER_BASE_PORT (client port = base + id) and brings it down in the suite's fini (ctest
 * also runs a cleanup fixture, for crashes and timeouts). Every wait is a poll of a condition
 * with a bounded deadline; nothing sleeps and hopes.
 *
 * Environment: ZABKEEPER_BIN, ZABKEEPER_CLUSTER_DIR, ZABKEEPER_BASE_PORT, ZABKEEPER_TICK_TIME
 * (all passed through to localcluster), ZIT_LOCALCLUSTER (path of deploy/localcluster). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#define SESSION_MS 8000
#define MAXW 100000 /* creates a writer issues at most */
#define PENDING 1   /* rc of a create that has not completed (ZOK is 0, errors are < 0) */

/* ---------------------------------------------------------------- small utilities */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int base_port(void)
{
    const char *b = getenv("ZABKEEPER_BASE_PORT");
    cr_assert(b && atoi(b) > 0, "ZABKEEPER_BASE_PORT is not set");
    return atoi(b);
}

static const char *cluster_dir(void)
{
    const char *d = getenv("ZABKEEPER_CLUSTER_DIR");
    cr_assert(d && *d, "ZABKEEPER_CLUSTER_DIR is not set");
    return d;
}

static int client_port(int id) { return base_port() + id; }

static void member_hosts(char *out, size_t cap, const int *ids, int n)
{
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s127.0.0.1:%d", i ? "," : "", client_port(ids[i]));
    }
}

/* Runs `localcluster ARGS` (via /bin/sh), captures stdout into out; returns the exit status. */
static int lc(char *out, size_t cap, const char *fmt, ...)
{
    const char *lcpath = getenv("ZIT_LOCALCLUSTER");
    cr_assert(lcpath, "ZIT_LOCALCLUSTER is not set");
    char args[256], cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s", lcpath, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "popen %s", cmd);
    char tmp[4096];
    size_t n = fread(tmp, 1, sizeof tmp - 1, p);
    tmp[n] = 0;
    int st = pclose(p);
    if (out && cap) {
        size_t l = n < cap - 1 ? n : cap - 1;
        memcpy(out, tmp, l);
        out[l] = 0;
        while (l && (out[l - 1] == '\n' || out[l - 1] == ' ')) out[--l] = 0;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int n_members;

static void ensemble_up(int n)
{
    char cmd[1024];
    lc(NULL, 0, "down >/dev/null 2>&1");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cluster_dir());
    cr_assert(system(cmd) == 0);
    char out[1024];
    double t0 = now_ms();
    int rc = lc(out, sizeof out, "up %d 2>&1", n);
    cr_assert(rc == 0, "localcluster up %d failed (%d): %s", n, rc, out);
    n_members = n;
    cr_log_info("%s (%.0f ms)", out, now_ms() - t0);
}

static void ensemble_down(void)
{
    lc(NULL, 0, "down >/dev/null 2>&1");
}

/* The leader's id per `localcluster leader`, polled until there is one (0 after timeout_ms). */
static int wait_leader(int timeout_ms)
{
    double end = now_ms() + timeout_ms;
    do {
        char out[64];
        if (lc(out, sizeof out, "leader 2>/dev/null") == 0 && atoi(out) > 0)
            return atoi(out);
        nap_ms(50);
    } while (now_ms() < end);
    return 0;
}

static pid_t member_pid(int id)
{
    char path[512];
    snprintf(path, sizeof path, "%s/m%d/pid", cluster_dir(), id);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int pid = 0;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid;
}

/* Dead: gone, or a zombie the reaper has not collected yet. */
static int pid_dead(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    int dead = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "State:", 6))
            dead = strchr(line, 'Z') != NULL;
    fclose(f);
    return dead;
}

/* SIGKILL at a precise moment (kill(2) on the pid localcluster recorded), then waits until
 * the process is dead. Returns the time of the kill. */
static double kill_member(int id)
{
    pid_t pid = member_pid(id);
    cr_assert(pid > 0, "no pid for member %d", id);
    double t = now_ms();
    cr_assert(kill(pid, SIGKILL) == 0, "kill member %d (pid %d): %s", id, pid, strerror(errno));
    double end = t + 5000;
    while (!pid_dead(pid)) {
        cr_assert(now_ms() < end, "member %d (pid %d) still alive 5 s after SIGKILL", id, pid);
        nap_ms(5);
    }
    return t;
}

static void start_member(int id)
{
    /* `localcluster kill` waits until a killed member is reaped, so `start` really starts it */
    cr_assert(lc(NULL, 0, "kill %d", id) == 0, "localcluster kill %d", id);
    cr_assert(lc(NULL, 0, "start %d", id) == 0, "localcluster start %d", id);
}

/* A four-letter word on a client port; "" when the member does not answer within 1 s. */
static void fourlw(int port, const char *word, char *out, size_t cap)
{
    out[0] = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        write(fd, word, strlen(word)) == (ssize_t)strlen(word)) {
        size_t len = 0;
        ssize_t r;
        while (len + 1 < cap && (r = read(fd, out + len, cap - 1 - len)) > 0) len += (size_t)r;
        out[len] = 0;
    }
    close(fd);
}

struct mntr {
    char state[32];
    char zxid[32];
    char digest[64];
};

static int get_mntr(int id, struct mntr *m)
{
    char buf[8192];
    memset(m, 0, sizeof *m);
    fourlw(client_port(id), "mntr", buf, sizeof buf);
    const char *keys[3] = {"zk_server_state\t", "zk_last_zxid\t", "zk_tree_digest\t"};
    char *dst[3] = {m->state, m->zxid, m->digest};
    size_t caps[3] = {sizeof m->state, sizeof m->zxid, sizeof m->digest};
    int found = 0;
    for (int k = 0; k < 3; k++) {
        char *p = strstr(buf, keys[k]);
        if (!p)
            continue;
        p += strlen(keys[k]);
        size_t l = strcspn(p, "\r\n");
        if (l >= caps[k])
            l = caps[k] - 1;
        memcpy(dst[k], p, l);
        dst[k][l] = 0;
        found++;
    }
    return found == 3 ? 0 : -1;
}

/* Polls until every member serves (leader/follower) and all report the same zk_last_zxid and
 * zk_tree_digest. Fails the test with every member's view after timeout_ms. */
static void wait_converged(int timeout_ms, struct mntr *out)
{
    double t0 = now_ms(), end = t0 + timeout_ms;
    struct mntr m[8];
    for (;;) {
        int ok = 1, leaders = 0;
        for (int id = 1; id <= n_members; id++) {
            if (get_mntr(id, &m[id]) != 0 ||
                (strcmp(m[id].state, "leader") && strcmp(m[id].state, "follower")))
                ok = 0;
            else if (strcmp(m[id].zxid, m[1].zxid) || strcmp(m[id].digest, m[1].digest))
                ok = 0;
            leaders += !strcmp(m[id].state, "leader");
        }
        if (ok && leaders == 1) {
            if (out)
                *out = m[1];
            cr_log_info("converged in %.0f ms: zxid %s digest %s", now_ms() - t0, m[1].zxid,
                        m[1].digest);
            return;
        }
        if (now_ms() > end) {
            char msg[1024] = "";
            for (int id = 1; id <= n_members; id++) {
                size_t l = strlen(msg);
                snprintf(msg + l, sizeof msg - l, " [m%d %s zxid=%s digest=%s]", id,
                         m[id].state[0] ? m[id].state : "no-answer", m[id].zxid, m[id].digest);
            }
            cr_assert_fail("members did not converge within %d ms:%s", timeout_ms, msg);
        }
        nap_ms(50);
    }
}

/* ---------------------------------------------------------------- client connections */

struct conn {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;
};

static void conn_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    struct conn *c = ctx;
    if (type != ZOO_SESSION_EVENT || !c)
        return;
    pthread_mutex_lock(&c->mu);
    c->state = state;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static struct conn conns[16];
static int n_conns;

/* Connects to hosts; 0 when not connected within wait_ms. */
static zhandle_t *zk_open(const char *hosts, int wait_ms)
{
    cr_assert(n_conns < 16);
    struct conn *c = &conns[n_conns++];
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->state = 0;
    zhandle_t *zh = zookeeper_init(hosts, conn_watcher, SESSION_MS, NULL, c, 0);
    cr_assert(zh, "zookeeper_init(%s)", hosts);
    double end = now_ms() + wait_ms;
    pthread_mutex_lock(&c->mu);
    while (c->state != ZOO_CONNECTED_STATE && now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    int ok = c->state == ZOO_CONNECTED_STATE;
    pthread_mutex_unlock(&c->mu);
    if (!ok) {
        zookeeper_close(zh);
        return NULL;
    }
    return zh;
}

static zhandle_t *zk_open_member(int id)
{
    char hosts[64];
    snprintf(hosts, sizeof hosts, "127.0.0.1:%d", client_port(id));
    zhandle_t *zh = zk_open(hosts, 10000);
    cr_assert(zh, "cannot connect to member %d alone (%s)", id, hosts);
    return zh;
}

static zhandle_t *zk_open_all(void)
{
    int ids[8];
    for (int i = 0; i < n_members; i++) ids[i] = i + 1;
    char hosts[512];
    member_hosts(hosts, sizeof hosts, ids, n_members);
    zhandle_t *zh = zk_open(hosts, 10000);
    cr_assert(zh, "cannot connect to %s", hosts);
    return zh;
}

/* Creates path (retrying connection loss: a retried create may find its own node). */
static void create_retry(zhandle_t *zh, const char *path, const char *data)
{
    double end = now_ms() + 15000;
    int rc;
    for (;;) {
        rc = zoo_create(zh, path, data, data ? (int)strlen(data) : -1, &ZOO_OPEN_ACL_UNSAFE, 0,
                        NULL, 0);
        if (rc == ZOK || rc == ZNODEEXISTS || now_ms() > end)
            break;
        nap_ms(50);
    }
    cr_assert(rc == ZOK || rc == ZNODEEXISTS, "create %s: %s", path, zerror(rc));
}

struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
};

static void sync_done(int rc, const char *value, const void *data)
{
    (void)value;
    struct sync_wait *w = (struct sync_wait *)data;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void zk_sync(zhandle_t *zh, const char *path)
{
    struct sync_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    cr_assert(zoo_async(zh, path, sync_done, &w) == ZOK);
    double end = now_ms() + 10000;
    pthread_mutex_lock(&w.mu);
    while (!w.done && now_ms() < end) {
        pthread_mutex_unlock(&w.mu);
        nap_ms(5);
        pthread_mutex_lock(&w.mu);
    }
    int done = w.done, rc = w.rc;
    pthread_mutex_unlock(&w.mu);
    cr_assert(done, "zoo_sync(%s) did not complete within 10 s", path);
    cr_assert(rc == ZOK, "zoo_sync(%s): %s", path, zerror(rc));
}

/* ---------------------------------------------------------------- the streaming writer */

struct writer {
    zhandle_t *zh;
    char parent[64];
    int window;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int issued, completed, acked;
    int *rc;
    double *t_issue, *t_done;
};

static struct writer W;

static void w_done(int rc, const char *value, const void *data)
{
    (void)value;
    int i = (int)(intptr_t)data;
    pthread_mutex_lock(&W.mu);
    if (W.rc[i] == PENDING) {
        W.rc[i] = rc;
        W.t_done[i] = now_ms();
        W.completed++;
        W.acked += rc == ZOK;
    }
    pthread_cond_broadcast(&W.cv);
    pthread_mutex_unlock(&W.mu);
}

static void *w_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&W.mu);
        while (!W.stop && W.issued - W.completed >= W.window) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&W.cv, &W.mu, &ts);
        }
        if (W.stop || W.issued >= MAXW) {
            pthread_mutex_unlock(&W.mu);
            return NULL;
        }
        int i = W.issued++;
        W.rc[i] = PENDING;
        W.t_issue[i] = now_ms();
        pthread_mutex_unlock(&W.mu);
        char path[128], data[64];
        snprintf(path, sizeof path, "%s/n-%06d", W.parent, i);
        int len = snprintf(data, sizeof data, "v-%d", i);
        int r = zoo_acreate(W.zh, path, data, len, &ZOO_OPEN_ACL_UNSAFE, 0, w_done,
                            (void *)(intptr_t)i);
        if (r != ZOK) { /* refused locally (e.g. while the session is being re-established) */
            w_done(r, NULL, (void *)(intptr_t)i);
            nap_ms(10);
        }
    }
}

static void writer_start(zhandle_t *zh, const char *parent, int window)
{
    memset(&W, 0, sizeof W);
    pthread_mutex_init(&W.mu, NULL);
    pthread_cond_init(&W.cv, NULL);
    W.zh = zh;
    snprintf(W.parent, sizeof W.parent, "%s", parent);
    W.window = window;
    W.rc = calloc(MAXW, sizeof *W.rc);
    W.t_issue = calloc(MAXW, sizeof *W.t_issue);
    W.t_done = calloc(MAXW, sizeof *W.t_done);
    cr_assert(W.rc && W.t_issue && W.t_done);
    cr_assert(pthread_create(&W.th, NULL, w_thread, NULL) == 0);
}

/* Acks of creates issued after time t (t = 0: all acks). */
static int acks_issued_after(double t)
{
    int n = 0;
    for (int i = 0; i < W.issued; i++)
        n += W.rc[i] == ZOK && W.t_issue[i] > t;
    return n;
}

/* Polls until at least `want` creates issued after t are acknowledged. */
static void wait_acks_after(double t, int want, int timeout_ms, const char *what)
{
    double end = now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&W.mu);
        int n = acks_issued_after(t), issued = W.issued, done = W.completed, acked = W.acked;
        pthread_mutex_unlock(&W.mu);
        if (n >= want)
            return;
        cr_assert(now_ms() < end,
                  "%s: only %d of %d acks within %d ms (issued %d, completed %d, acked %d)", what,
                  n, want, timeout_ms, issued, done, acked);
        nap_ms(10);
    }
}

/* Stops issuing and waits (bounded) until every issued create has completed. */
static void writer_stop(void)
{
    pthread_mutex_lock(&W.mu);
    W.stop = 1;
    pthread_cond_broadcast(&W.cv);
    pthread_mutex_unlock(&W.mu);
    pthread_join(W.th, NULL);
    double end = now_ms() + 3 * SESSION_MS;
    pthread_mutex_lock(&W.mu);
    while (W.completed < W.issued && now_ms() < end) {
        pthread_mutex_unlock(&W.mu);
        nap_ms(10);
        pthread_mutex_lock(&W.mu);
    }
    int issued = W.issued, done = W.completed;
    pthread_mutex_unlock(&W.mu);
    cr_assert(done == issued, "%d of %d creates never completed", issued - done, issued);
}

struct wstats {
    int issued, acked, lost, other;
    double first_ack_after, first_new_ack_after; /* ms after t, -1 if none */
};

static struct wstats writer_stats(double t)
{
    struct wstats s = {0, 0, 0, 0, -1, -1};
    pthread_mutex_lock(&W.mu);
    s.issued = W.issued;
    for (int i = 0; i < W.issued; i++) {
        if (W.rc[i] == ZOK) {
            s.acked++;
            double d = W.t_done[i] - t;
            if (t > 0 && d >= 0 && (s.first_ack_after < 0 || d < s.first_ack_after))
                s.first_ack_after = d;
            if (t > 0 && W.t_issue[i] > t && (s.first_new_ack_after < 0 || d < s.first_new_ack_after))
                s.first_new_ack_after = d;
        } else if (W.rc[i] == ZCONNECTIONLOSS || W.rc[i] == ZOPERATIONTIMEOUT) {
            s.lost++;
        } else {
            s.other++;
        }
    }
    pthread_mutex_unlock(&W.mu);
    return s;
}

static void writer_free(void)
{
    free(W.rc);
    free(W.t_issue);
    free(W.t_done);
    W.rc = NULL;
}

/* Every create the writer saw acknowledged is a child of the parent on member `id` (read
 * through a session to that member alone, without sync: its own applied state), with its data
 * checked for a sample. Returns how many children it has. */
static int verify_acked_on(int id)
{
    zhandle_t *zh = zk_open_member(id);
    struct String_vector kids = {0, NULL};
    int rc = zoo_get_children(zh, W.parent, 0, &kids);
    cr_assert(rc == ZOK, "member %d: get_children(%s): %s", id, W.parent, zerror(rc));
    char *seen = calloc(MAXW, 1);
    cr_assert(seen);
    for (int k = 0; k < kids.count; k++) {
        int i;
        if (sscanf(kids.data[k], "n-%d", &i) == 1 && i >= 0 && i < MAXW)
            seen[i] = 1;
    }
    int missing = 0, first_missing = -1, extra = 0;
    for (int i = 0; i < W.issued; i++) {
        if (W.rc[i] == ZOK && !seen[i]) {
            if (first_missing < 0)
                first_missing = i;
            missing++;
        }
        extra += W.rc[i] != ZOK && seen[i];
    }
    cr_assert(missing == 0,
              "member %d: %d acknowledged creates missing (first %s/n-%06d); %d children",
              id, missing, W.parent, first_missing, kids.count);
    for (int i = 0; i < W.issued; i += 97) {
        if (W.rc[i] != ZOK)
            continue;
        char path[128], buf[64], want[64];
        int len = sizeof buf - 1;
        snprintf(path, sizeof path, "%s/n-%06d", W.parent, i);
        snprintf(want, sizeof want, "v-%d", i);
        rc = zoo_get(zh, path, 0, buf, &len, NULL);
        cr_assert(rc == ZOK, "member %d: get %s: %s", id, path, zerror(rc));
        buf[len < 0 ? 0 : len] = 0;
        cr_assert_str_eq(buf, want, "member %d: data of %s", id, path);
    }
    cr_log_info("member %d: all acked creates present (%d children, %d of them unacknowledged)",
                id, kids.count, extra);
    int n = kids.count;
    deallocate_String_vector(&kids);
    free(seen);
    zookeeper_close(zh);
    return n;
}

static void verify_everywhere(void)
{
    int n1 = -1;
    for (int id = 1; id <= n_members; id++) {
        int n = verify_acked_on(id);
        if (n1 < 0)
            n1 = n;
        cr_assert(n == n1, "member %d has %d children of %s, member 1 has %d", id, n, W.parent,
                  n1);
    }
}

static void report(const char *what, double t_kill)
{
    struct wstats s = writer_stats(t_kill);
    fprintf(stderr,
            "RESULT %s: issued %d, acked %d, lost %d, other errors %d; first ack after kill "
            "%.1f ms, first ack of a create issued after the kill %.1f ms\n",
            what, s.issued, s.acked, s.lost, s.other, s.first_ack_after, s.first_new_ack_after);
    cr_assert(s.other == 0, "%s: %d creates failed with something else than connection loss",
              what, s.other);
}

/* ---------------------------------------------------------------- tests */

static void setup(void)
{
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    n_conns = 0;
}

static void teardown(void)
{
    ensemble_down();
}

TestSuite(ensemble, .init = setup, .fini = teardown, .timeout = 150);

/* (a) Writes through each member's own connect string land on every member. */
Test(ensemble, writes_via_each_member)
{
    ensemble_up(3);
    zhandle_t *zh = zk_open_member(1);
    create_retry(zh, "/a", "");
    zookeeper_close(zh);
    for (int id = 1; id <= 3; id++) {
        zh = zk_open_member(id);
        for (int k = 0; k < 20; k++) {
            char path[64], data[64];
            snprintf(path, sizeof path, "/a/m%d-%02d", id, k);
            snprintf(data, sizeof data, "via-%d-%d", id, k);
            int rc = zoo_create(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, 0,
                                NULL, 0);
            cr_assert(rc == ZOK, "create %s via member %d: %s", path, id, zerror(rc));
        }
        zookeeper_close(zh);
    }
    for (int id = 1; id <= 3; id++) {
        zh = zk_open_member(id);
        zk_sync(zh, "/a");
        struct String_vector kids = {0, NULL};
        cr_assert(zoo_get_children(zh, "/a", 0, &kids) == ZOK);
        cr_assert(kids.count == 60, "member %d sees %d children of /a, not 60", id, kids.count);
        deallocate_String_vector(&kids);
        for (int via = 1; via <= 3; via++)
            for (int k = 0; k < 20; k++) {
                char path[64], want[64], buf[64];
                int len = sizeof buf - 1;
                snprintf(path, sizeof path, "/a/m%d-%02d", via, k);
                snprintf(want, sizeof want, "via-%d-%d", via, k);
                int rc = zoo_get(zh, path, 0, buf, &len, NULL);
                cr_assert(rc == ZOK, "member %d: get %s: %s", id, path, zerror(rc));
                buf[len < 0 ? 0 : len] = 0;
                cr_assert_str_eq(buf, want, "member %d: %s", id, path);
            }
        zookeeper_close(zh);
    }
    wait_converged(10000, NULL);
}

/* (b) The leader is SIGKILLed during a stream of async creates; every acked create survives. */
static void leader_kill_during_stream(int n)
{
    ensemble_up(n);
    zhandle_t *zh = zk_open_all();
    create_retry(zh, "/b", "");
    writer_start(zh, "/b", 200);
    wait_acks_after(0, 2000, 30000, "before the kill");
    int leader = wait_leader(5000);
    cr_assert(leader > 0, "no leader");
    double t_kill = kill_member(leader);
    cr_log_info("SIGKILLed leader %d", leader);
    wait_acks_after(t_kill, 1000, 30000, "after the leader kill");
    writer_stop();
    char what[64];
    snprintf(what, sizeof what, "leader_kill_%d (killed member %d)", n, leader);
    report(what, t_kill);
    int new_leader = wait_leader(5000);
    cr_assert(new_leader > 0 && new_leader != leader, "new leader %d (old %d)", new_leader,
              leader);
    start_member(leader);
    wait_converged(30000, NULL);
    verify_everywhere();
    zookeeper_close(zh);
    writer_free();
}

Test(ensemble, leader_kill_3)
{
    leader_kill_during_stream(3);
}

Test(ensemble, leader_kill_5)
{
    leader_kill_during_stream(5);
}

/* (c) A follower is killed; writes continue; it restarts and catches up. */
Test(ensemble, follower_restart_catches_up)
{
    ensemble_up(3);
    int leader = wait_leader(5000);
    int victim = leader == 1 ? 2 : 1;
    zhandle_t *zh = zk_open_all();
    create_retry(zh, "/c", "");
    writer_start(zh, "/c", 200);
    wait_acks_after(0, 1000, 30000, "before the kill");
    double t_kill = kill_member(victim);
    wait_acks_after(t_kill, 3000, 30000, "while the follower is down");
    writer_stop();
    report("follower_kill", t_kill);
    double t_start = now_ms();
    start_member(victim);
    wait_converged(30000, NULL);
    fprintf(stderr, "RESULT follower_restart: member %d caught up %.0f ms after its restart\n",
            victim, now_ms() - t_start);
    verify_acked_on(victim); /* its own reads show every new node */
    verify_everywhere();
    zookeeper_close(zh);
    writer_free();
}

/* (d) Power loss: every member is SIGKILLed during writes, then all restart. */
Test(ensemble, power_loss_all_members)
{
    ensemble_up(3);
    zhandle_t *zh = zk_open_all();
    create_retry(zh, "/d", "");
    writer_start(zh, "/d", 200);
    wait_acks_after(0, 3000, 30000, "before the power loss");
    pid_t pids[4];
    for (int id = 1; id <= 3; id++) pids[id] = member_pid(id);
    double t_kill = now_ms();
    for (int id = 1; id <= 3; id++)
        cr_assert(kill(pids[id], SIGKILL) == 0, "kill member %d", id);
    for (int id = 1; id <= 3; id++)
        while (!pid_dead(pids[id])) {
            cr_assert(now_ms() < t_kill + 5000, "member %d alive after SIGKILL", id);
            nap_ms(5);
        }
    writer_stop();
    report("power_loss", t_kill);
    zookeeper_close(zh);
    for (int id = 1; id <= 3; id++) start_member(id);
    double t_start = now_ms();
    cr_assert(wait_leader(30000) > 0, "no leader after restarting all members");
    fprintf(stderr, "RESULT power_loss: leader %.0f ms after the restart\n", now_ms() - t_start);
    wait_converged(30000, NULL);
    verify_everywhere();
    /* and the ensemble takes writes again */
    zh = zk_open_all();
    create_retry(zh, "/d-after", "x");
    zookeeper_close(zh);
    wait_converged(10000, NULL);
    writer_free();
}

static int minority_ok, minority_err;
static double minority_first_ok = -1;
static pthread_mutex_t minority_mu = PTHREAD_MUTEX_INITIALIZER;

static void minority_done(int rc, const char *value, const void *data)
{
    (void)value;
    (void)data;
    pthread_mutex_lock(&minority_mu);
    if (rc == ZOK) {
        minority_ok++;
        if (minority_first_ok < 0)
            minority_first_ok = now_ms();
    } else {
        minority_err++;
    }
    pthread_mutex_unlock(&minority_mu);
}

/* (e) 5 members, 3 stopped (SIGSTOP): the 2 others refuse writes; after SIGCONT all converge. */
Test(ensemble, minority_refuses_writes_5)
{
    ensemble_up(5);
    zhandle_t *zh = zk_open_all();
    create_retry(zh, "/e", "");
    zookeeper_close(zh);
    wait_converged(10000, NULL);
    int leader = wait_leader(5000);
    int paused[3], n_paused = 0, rest[2], n_rest = 0;
    paused[n_paused++] = leader; /* the leader and two followers stop; two followers remain */
    for (int id = 1; id <= 5; id++)
        if (id != leader) {
            if (n_paused < 3)
                paused[n_paused++] = id;
            else
                rest[n_rest++] = id;
        }
    char hosts[256];
    member_hosts(hosts, sizeof hosts, rest, 2);
    zhandle_t *mz = zk_open(hosts, 10000);
    cr_assert(mz, "cannot connect to %s", hosts);
    for (int k = 0; k < 3; k++)
        cr_assert(lc(NULL, 0, "pause %d", paused[k]) == 0, "pause %d", paused[k]);
    double t_pause = now_ms();
    cr_log_info("paused %d %d %d; writing via %s", paused[0], paused[1], paused[2], hosts);
    /* For 6 s keep trying to write through the minority; none may succeed. */
    int attempts = 0, refused_local = 0;
    while (now_ms() < t_pause + 6000) {
        char path[64];
        snprintf(path, sizeof path, "/e/minority-%04d", attempts++);
        int rc = zoo_acreate(mz, path, "m", 1, &ZOO_OPEN_ACL_UNSAFE, 0, minority_done, NULL);
        refused_local += rc != ZOK;
        nap_ms(50);
    }
    pthread_mutex_lock(&minority_mu);
    int ok = minority_ok, err = minority_err;
    double first = minority_first_ok;
    pthread_mutex_unlock(&minority_mu);
    char m1[2048] = "", m2[2048] = "";
    fourlw(client_port(rest[0]), "srvr", m1, sizeof m1);
    fourlw(client_port(rest[1]), "srvr", m2, sizeof m2);
    fprintf(stderr,
            "RESULT minority: %d create attempts via members %d,%d in 6 s, %d refused by the "
            "client library, %d failed with an error (connection loss), %d succeeded, the rest "
            "pending\n",
            attempts, rest[0], rest[1], refused_local, err, ok);
    cr_assert(ok == 0,
              "the minority (members %d,%d) acknowledged %d writes while 3 of 5 were stopped "
              "(first %.0f ms after the pause)",
              rest[0], rest[1], ok, first - t_pause);
    cr_assert(strstr(m1, "Mode: leader") == NULL && strstr(m2, "Mode: leader") == NULL,
              "a minority member claims to lead:\n%s\n%s", m1, m2);
    for (int k = 0; k < 3; k++)
        cr_assert(lc(NULL, 0, "resume %d", paused[k]) == 0, "resume %d", paused[k]);
    zookeeper_close(mz);
    zh = zk_open_all();
    create_retry(zh, "/e/after-resume", "x");
    zookeeper_close(zh);
    struct mntr m;
    wait_converged(30000, &m);
    for (int id = 1; id <= 5; id++) {
        zhandle_t *z = zk_open_member(id);
        zk_sync(z, "/e");
        cr_assert(zoo_exists(z, "/e/after-resume", 0, NULL) == ZOK, "member %d", id);
        zookeeper_close(z);
    }
}
