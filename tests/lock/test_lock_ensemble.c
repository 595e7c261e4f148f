/* The lock held through a leader SIGKILL on a 3-member zabkeeper ensemble (deploy/localcluster;
 * ctest starts it as a fixture and sets ZABKEEPER_CLUSTER_DIR, ZABKEEPER_BASE_PORT,
 * LOCKENS_LOCALCLUSTER and ZABCTL_BIN): process A holds the exclusive lock, B, C and D queue behind
 * it one after the other, the leader is SIGKILLed; A must still hold the lock (HELD, never LOST,
 * its node still the lowest child) and nobody else may get it; once A releases, B, C, D acquire in
 * that order with strictly increasing fencing tokens and no two holds overlap (every holder writes
 * ACQ/REL lines with CLOCK_MONOTONIC times to a shared event file). Once with the library (worker
 * processes), once with `zabctl lock`.
 *
 * Also (fixture lock_partition, its own ensemble): a holder connected only to a follower that is
 * cut off from the majority (the leader and the other follower SIGSTOPped) must be told LOST
 * within the session timeout of the cut, although its member keeps answering pings for a while
 * (lib_cut_off_holder_told_lost_before_expiry, zabctl_cut_off_holder_exits_125_before_expiry).
 *
 * The helper processes are this binary itself, re-executed with a role argument that a
 * constructor handles before Criterion's main:
 *   --lockens-worker NAME SERVERS PATH EVENTS SESSION_MS ORDERED
 *       connect, acquire the mutex in a thread, print "HELD <token> <node>"; on stdin:
 *       "state" -> "STATE <lock state> <client state> lost=N susp=N port=P", "release" ->
 *       "RELEASED <rc>", "quit" (or EOF) -> leave. ORDERED=1: connect to SERVERS in the given
 *       order (zoo_deterministic_conn_order), so the test can put the leader first.
 *   --lockens-stamp EVENTS NAME ACQ|REL [TOKEN [NODE]]   append one event line
 *   --lockens-waitfile FILE TIMEOUT_MS                  exit 0 once FILE exists, 3 on timeout */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "helpers.h"

#define NPROC 4 /* A holds, B, C, D queue */
#define SESSION_MS 8000
#define MAX_EVENTS 32

static const char *const names[NPROC] = {"A", "B", "C", "D"};

/* ---- roles of the re-executed binary ------------------------------------------------------ */

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One line, one write(2) on an O_APPEND file: lines of concurrent writers never interleave. */
static int append_event(const char *file, const char *kind, const char *name, long long token,
                        const char *node)
{
    char line[512];
    int n = snprintf(line, sizeof line, "%s %s %lld %lld %s\n", kind, name, mono_ns(), token,
                     node && *node ? node : "-");
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int ok = write(fd, line, (size_t)n) == n;
    return close(fd) == 0 && ok ? 0 : -1;
}

struct worker {
    const char *name, *events;
    zkl_client *c;
    zkl_lock *l;
    pthread_t t;
    pthread_mutex_t out_mu;
    atomic_int lost, susp, held;
};

static void say(struct worker *w, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&w->out_mu);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&w->out_mu);
}

static void worker_listener(zkl_lock *l, enum zkl_lock_state s, void *arg)
{
    (void)l;
    struct worker *w = arg;
    if (s == ZKL_LOST)
        atomic_fetch_add(&w->lost, 1);
    if (s == ZKL_LOCK_SUSPENDED)
        atomic_fetch_add(&w->susp, 1);
}

static void *worker_acquire(void *arg)
{
    struct worker *w = arg;
    int64_t token = 0;
    int st = zkl_lock_acquire(w->l, 40000, &token);
    if (st != ZKL_OK) {
        say(w, "ERR acquire %s", zkl_strerror(st));
        return NULL;
    }
    if (append_event(w->events, "ACQ", w->name, token, zkl_lock_node(w->l)) != 0)
        say(w, "ERR event file %s", strerror(errno));
    atomic_store(&w->held, 1);
    say(w, "HELD %lld %s", (long long)token, zkl_lock_node(w->l));
    return NULL;
}

static const char *lock_state_name(enum zkl_lock_state s)
{
    switch (s) {
    case ZKL_UNLOCKED: return "UNLOCKED";
    case ZKL_WAITING: return "WAITING";
    case ZKL_HELD: return "HELD";
    case ZKL_LOCK_SUSPENDED: return "SUSPENDED";
    case ZKL_LOST: return "LOST";
    }
    return "?";
}

static const char *client_state_name(enum zkl_conn_state s)
{
    return s == ZKL_CONNECTED ? "CONNECTED" : s == ZKL_SUSPENDED ? "SUSPENDED" : "EXPIRED";
}

static int connected_port(zkl_client *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (zookeeper_get_connected_host(zkl_client_handle(c), (struct sockaddr *)&ss, &len) == NULL)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

static void worker_quit(struct worker *w, int code)
{
    zkl_lock_cancel(w->l);
    pthread_join(w->t, NULL);
    zkl_lock_free(w->l);
    zkl_client_free(w->c);
    _exit(code);
}

static void worker_main(char **argv)
{
    static struct worker w = {.out_mu = PTHREAD_MUTEX_INITIALIZER};
    w.name = argv[2];
    w.events = argv[5];
    zoo_set_debug_level((ZooLogLevel)0);
    if (atoi(argv[7]))
        zoo_deterministic_conn_order(1);
    int st;
    w.c = zkl_client_new(argv[3], atoi(argv[6]), 10000, &st);
    if (w.c == NULL) {
        say(&w, "ERR connect %s", zkl_strerror(st));
        _exit(1);
    }
    w.l = zkl_mutex_new(w.c, argv[4]);
    if (w.l == NULL) {
        say(&w, "ERR mutex_new");
        _exit(1);
    }
    zkl_lock_set_listener(w.l, worker_listener, &w);
    if (pthread_create(&w.t, NULL, worker_acquire, &w) != 0)
        _exit(1);
    char cmd[64];
    while (fgets(cmd, sizeof cmd, stdin) != NULL) {
        if (strncmp(cmd, "state", 5) == 0) {
            say(&w, "STATE %s %s lost=%d susp=%d port=%d",
                lock_state_name(zkl_lock_state(w.l)),
                client_state_name(zkl_client_state(w.c)), atomic_load(&w.lost),
                atomic_load(&w.susp), connected_port(w.c));
        } else if (strncmp(cmd, "release", 7) == 0) {
            if (!atomic_load(&w.held)) {
                say(&w, "ERR release while not held");
                continue;
            }
            /* REL is written while the node still exists: intervals are inside the real hold */
            if (append_event(w.events, "REL", w.name, 0, NULL) != 0)
                say(&w, "ERR event file %s", strerror(errno));
            st = zkl_lock_release(w.l);
            atomic_store(&w.held, 0);
            say(&w, "RELEASED %d", st);
        } else if (strncmp(cmd, "quit", 4) == 0) {
            break;
        }
    }
    worker_quit(&w, 0);
}

static void waitfile_main(char **argv)
{
    long long end = now_ms() + atoll(argv[3]);
    struct stat st;
    while (stat(argv[2], &st) != 0) {
        if (now_ms() >= end)
            _exit(3);
        msleep(10);
    }
    _exit(0);
}

__attribute__((constructor)) static void lockens_role(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc < 2 || strncmp(argv[1], "--lockens-", 10) != 0)
        return;
    if (strcmp(argv[1], "--lockens-worker") == 0 && argc == 8)
        worker_main(argv);
    if (strcmp(argv[1], "--lockens-stamp") == 0 && argc >= 5)
        _exit(append_event(argv[2], argv[4], argv[3], argc > 5 ? atoll(argv[5]) : 0,
                           argc > 6 ? argv[6] : NULL) == 0 ? 0 : 1);
    if (strcmp(argv[1], "--lockens-waitfile") == 0 && argc == 4)
        waitfile_main(argv);
    fprintf(stderr, "test_lock_ensemble: bad role arguments\n");
    _exit(2);
}

/* ---- child processes of the test -------------------------------------------------------- */

/* Every child of a test, so that .fini can stop them whatever happened. */
static pid_t kids[16];
static int nkids;

/* posix_spawn with stdin/stdout redirected and every other descriptor closed (so neither the
 * ensemble members started through localcluster nor the workers keep Criterion's pipes open). */
static pid_t spawn_io(char *const argv[], int in_fd, int out_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "spawn %s: %s", argv[0], strerror(rc));
    return pid;
}

static void track(pid_t pid)
{
    cr_assert_lt(nkids, (int)(sizeof kids / sizeof kids[0]));
    kids[nkids++] = pid;
}

static void untrack(pid_t pid)
{
    for (int i = 0; i < nkids; i++)
        if (kids[i] == pid)
            kids[i] = kids[--nkids];
}

/* waitpid with a deadline: the exit status (128+N for signal N), or -1 on timeout. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            untrack(pid);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        cr_assert(r == 0 || errno == EINTR, "waitpid %d: %s", (int)pid, strerror(errno));
        if (now_ms() >= end)
            return -1;
        msleep(10);
    }
}

static void stop_kids(void)
{
    for (int i = 0; i < nkids; i++)
        kill(kids[i], SIGTERM); /* zabctl forwards it to CMD's group; workers just die */
    long long end = now_ms() + 3000;
    while (nkids > 0 && now_ms() < end) {
        for (int i = 0; i < nkids; i++)
            if (waitpid(kids[i], NULL, WNOHANG) == kids[i])
                kids[i--] = kids[--nkids];
        msleep(10);
    }
    for (int i = 0; i < nkids; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
    }
    nkids = 0;
}

static void suite_init(void)
{
    zoo_set_debug_level((ZooLogLevel)0);
    signal(SIGPIPE, SIG_IGN);
}

TestSuite(lock_ensemble, .init = suite_init, .fini = stop_kids);

/* ---- the ensemble ------------------------------------------------------------------------ */

/* Run `localcluster ARGS`, stdout into out (trailing newline removed); returns its status. */
static int lc(char *out, size_t cap, const char *fmt, ...)
{
    const char *lcpath = getenv("LOCKENS_LOCALCLUSTER");
    if (lcpath == NULL || getenv("ZABKEEPER_CLUSTER_DIR") == NULL)
        cr_skip_test("LOCKENS_LOCALCLUSTER / ZABKEEPER_CLUSTER_DIR not set (run through ctest)");
    char args[256], cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "exec %s %s", lcpath, args);
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    pid_t pid = spawn_io(argv, -1, p[1]);
    close(p[1]);
    char tmp[4096];
    size_t n = 0;
    long long end = now_ms() + 70000; /* `up` gives up after 60 s */
    for (;;) {
        struct pollfd pf = {p[0], POLLIN, 0};
        int left = (int)(end - now_ms());
        cr_assert_gt(left, 0, "localcluster %s: no answer", args);
        if (poll(&pf, 1, left) <= 0)
            continue;
        ssize_t r = read(p[0], tmp + n, sizeof tmp - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof tmp - 1)
            break;
    }
    close(p[0]);
    tmp[n] = 0;
    while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == ' '))
        tmp[--n] = 0;
    if (out != NULL && cap > 0) { /* copy what fits: the caller's buffer bounds it */
        size_t len = n < cap - 1 ? n : cap - 1;
        memcpy(out, tmp, len);
        out[len] = 0;
    }
    int st = wait_exit(pid, 10000);
    cr_assert_neq(st, -1, "localcluster %s did not exit", args);
    return st;
}

static int base_port(void)
{
    const char *b = getenv("ZABKEEPER_BASE_PORT");
    cr_assert_not_null(b, "ZABKEEPER_BASE_PORT not set");
    return atoi(b);
}

/* Member modes per `localcluster status`; returns how many members are listed. */
static int member_modes(char modes[][16], int max)
{
    char out[1024];
    cr_assert_eq(lc(out, sizeof out, "status"), 0, "localcluster status");
    int n = 0;
    for (char *line = strtok(out, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        int id;
        char a[32], b[32];
        int k = sscanf(line, "%d %31s %31s", &id, a, b);
        if (k < 2 || id < 1 || id > max)
            continue;
        snprintf(modes[id - 1], 16, "%.15s", k == 3 ? b : a); /* a down member has no pid */
        n = id > n ? id : n;
    }
    return n;
}

/* All three members up, one leader and two followers (restarts a member an earlier test
 * killed); returns the leader's id. */
static int ensemble_ready(int timeout_ms)
{
    char modes[3][16];
    cr_assert_eq(member_modes(modes, 3), 3, "the fixture must have started 3 members");
    for (int id = 1; id <= 3; id++)
        if (strcmp(modes[id - 1], "down") == 0) {
            cr_log_info("restarting member %d", id);
            cr_assert_eq(lc(NULL, 0, "start %d", id), 0, "localcluster start %d", id);
        }
    long long end = now_ms() + timeout_ms;
    for (;;) {
        member_modes(modes, 3);
        int leaders = 0, followers = 0, leader = 0;
        for (int id = 1; id <= 3; id++) {
            if (strcmp(modes[id - 1], "leader") == 0)
                leaders++, leader = id;
            followers += strcmp(modes[id - 1], "follower") == 0;
        }
        if (leaders == 1 && followers == 2) {
            cr_log_info("ensemble ready in %lld ms, leader %d", now_ms() - (end - timeout_ms),
                        leader);
            return leader;
        }
        cr_assert_lt(now_ms(), end, "ensemble not ready: %s %s %s", modes[0], modes[1],
                     modes[2]);
        msleep(50);
    }
}

/* A leader other than `old`, polled (0 after the timeout). */
static int wait_new_leader(int old, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    do {
        char out[64];
        if (lc(out, sizeof out, "leader 2>/dev/null") == 0 && atoi(out) > 0 && atoi(out) != old)
            return atoi(out);
        msleep(20);
    } while (now_ms() < end);
    return 0;
}

/* Kill the leader (SIGKILL; localcluster waits until it is gone) and wait for the next one. */
static void kill_leader(int leader)
{
    long long t0 = now_ms();
    cr_assert_eq(lc(NULL, 0, "kill %d", leader), 0, "localcluster kill %d", leader);
    long long t1 = now_ms();
    int next = wait_new_leader(leader, 10000);
    cr_assert_gt(next, 0, "no new leader within 10 s of killing member %d", leader);
    cr_log_info("SIGKILLed leader %d (%lld ms); member %d leads %lld ms later", leader, t1 - t0,
                next, now_ms() - t1);
}

/* Connect string with member `first` first, then the others in id order. */
static void hosts_with_first(char *buf, size_t len, int first)
{
    int n = snprintf(buf, len, "127.0.0.1:%d", base_port() + first);
    for (int id = 1; id <= 3; id++)
        if (id != first)
            n += snprintf(buf + n, len - (size_t)n, ",127.0.0.1:%d", base_port() + id);
}

/* ---- the lock node, seen by an observer session --------------------------------------- */

struct kids_view {
    int count;
    char lowest[256]; /* child with the smallest 10-digit sequence suffix */
};

static long long seq_of(const char *name)
{
    size_t n = strlen(name);
    return n >= 10 ? atoll(name + n - 10) : -1;
}

/* The children of path; retried through connection losses (failover) until the deadline. */
static struct kids_view view_children(zkl_client *c, const char *path, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        struct String_vector v = {0, NULL};
        int rc = zoo_get_children(zkl_client_handle(c), path, 0, &v);
        if (rc == ZOK || rc == ZNONODE) {
            struct kids_view kv = {rc == ZOK ? v.count : 0, ""};
            long long best = -1;
            for (int i = 0; i < kv.count; i++)
                if (best < 0 || seq_of(v.data[i]) < best) {
                    best = seq_of(v.data[i]);
                    snprintf(kv.lowest, sizeof kv.lowest, "%s", v.data[i]);
                }
            if (rc == ZOK)
                deallocate_String_vector(&v);
            return kv;
        }
        cr_assert(now_ms() < end, "get_children %s: %s", path, zerror(rc));
        msleep(20);
    }
}

static void wait_children(zkl_client *c, const char *path, int want, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    int n;
    while ((n = view_children(c, path, timeout_ms).count) != want) {
        cr_assert_lt(now_ms(), end, "%s has %d children, want %d", path, n, want);
        msleep(10);
    }
}

/* After the failover: the holder's node still exists and is still the lowest of `want`. */
static void assert_holder_lowest(zkl_client *c, const char *path, const char *node, int want)
{
    wait_children(c, path, want, 10000);
    struct kids_view kv = view_children(c, path, 10000);
    const char *base = strrchr(node, '/');
    cr_assert_not_null(base);
    cr_assert_str_eq(kv.lowest, base + 1, "lowest child %s, but A holds with %s", kv.lowest,
                     base + 1);
}

static zkl_client *observer(const char *hosts)
{
    int st;
    zkl_client *c = zkl_client_new(hosts, SESSION_MS, 10000, &st);
    cr_assert_not_null(c, "connect to %s: %s", hosts, zkl_strerror(st));
    return c;
}

/* ---- event file: the timeline of holds ------------------------------------------------- */

struct event {
    char kind[8], name[8], node[256];
    long long t, token;
};

static void temp_file(char *tmpl)
{
    int fd = mkstemp(tmpl);
    cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
    close(fd);
}

static int read_events(const char *file, struct event *ev, int max)
{
    FILE *f = fopen(file, "r");
    cr_assert_not_null(f, "%s: %s", file, strerror(errno));
    int n = 0;
    while (n < max && fscanf(f, "%7s %7s %lld %lld %255s", ev[n].kind, ev[n].name, &ev[n].t,
                             &ev[n].token, ev[n].node) == 5)
        n++;
    fclose(f);
    return n;
}

/* The ACQ of `name`, or NULL. */
static const struct event *find_event(const struct event *ev, int n, const char *kind,
                                      const char *name)
{
    const struct event *found = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(ev[i].kind, kind) == 0 && strcmp(ev[i].name, name) == 0) {
            cr_assert_null(found, "%s acquired/released twice (%s)", name, kind);
            found = &ev[i];
        }
    return found;
}

/* A, B, C, D each held exactly once, in that order, with strictly increasing tokens, and each
 * released before the next acquired. */
static void check_timeline(const char *file)
{
    struct event ev[MAX_EVENTS];
    int n = read_events(file, ev, MAX_EVENTS);
    cr_assert_eq(n, 2 * NPROC, "%d events in %s, want %d", n, file, 2 * NPROC);
    const struct event *prev_rel = NULL;
    long long prev_token = 0;
    for (int i = 0; i < NPROC; i++) {
        const struct event *acq = find_event(ev, n, "ACQ", names[i]),
                           *rel = find_event(ev, n, "REL", names[i]);
        cr_assert(acq && rel, "%s has no ACQ or REL event", names[i]);
        cr_assert_lt(acq->t, rel->t, "%s released before it acquired", names[i]);
        cr_assert_gt(acq->token, prev_token, "%s's token %lld not above the previous %lld",
                     names[i], acq->token, prev_token);
        if (prev_rel != NULL)
            cr_assert_gt(acq->t, prev_rel->t,
                         "%s acquired %.3f ms before %s released: overlapping holds / order",
                         names[i], (prev_rel->t - acq->t) / 1e6, names[i - 1]);
        cr_log_info("%s held %.1f ms from +%.1f ms, token %lld", names[i],
                    (rel->t - acq->t) / 1e6, (acq->t - ev[0].t) / 1e6, acq->token);
        prev_rel = rel;
        prev_token = acq->token;
    }
}

/* ---- library worker processes ------------------------------------------------------------ */

struct proc {
    pid_t pid;
    int in, out;
    char buf[2048];
    size_t len;
};

static const char *self_exe(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    cr_assert_gt(n, 0);
    path[n] = 0;
    return path;
}

static void proc_start_session(struct proc *p, const char *name, const char *hosts,
                               const char *path, const char *events, int ordered, int session_ms)
{
    int in[2], out[2];
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    char session[16];
    snprintf(session, sizeof session, "%d", session_ms);
    char *argv[] = {(char *)self_exe(), "--lockens-worker", (char *)name, (char *)hosts,
                    (char *)path,       (char *)events,     session,
                    ordered ? "1" : "0", NULL};
    p->pid = spawn_io(argv, in[0], out[1]);
    track(p->pid);
    close(in[0]);
    close(out[1]);
    p->in = in[1];
    p->out = out[0];
    p->len = 0;
}

static void proc_start(struct proc *p, const char *name, const char *hosts, const char *path,
                       const char *events, int ordered)
{
    proc_start_session(p, name, hosts, path, events, ordered, SESSION_MS);
}

/* Next line of p's stdout: 1, 0 on timeout, -1 on EOF. timeout 0 only checks. */
static int proc_line(struct proc *p, char *line, size_t cap, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl != NULL) {
            size_t l = (size_t)(nl - p->buf);
            snprintf(line, cap, "%.*s", (int)l, p->buf);
            memmove(p->buf, nl + 1, p->len - l - 1);
            p->len -= l + 1;
            return 1;
        }
        long long left = end - now_ms();
        struct pollfd pf = {p->out, POLLIN, 0};
        int r = poll(&pf, 1, left > 0 ? (int)left : 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        ssize_t n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (n <= 0)
            return -1;
        p->len += (size_t)n;
    }
}

static void proc_send(struct proc *p, const char *cmd)
{
    size_t n = strlen(cmd);
    cr_assert_eq(write(p->in, cmd, n), (ssize_t)n, "worker %d gone", (int)p->pid);
}

static void proc_expect(struct proc *p, const char *name, const char *prefix, char *line,
                        size_t cap, int timeout_ms)
{
    int r = proc_line(p, line, cap, timeout_ms);
    cr_assert_eq(r, 1, "worker %s: no '%s' within %d ms (%s)", name, prefix, timeout_ms,
                 r == 0 ? "timeout" : "exited");
    cr_assert(strncmp(line, prefix, strlen(prefix)) == 0, "worker %s: '%s', want '%s...'", name,
              line, prefix);
}

struct wstate {
    char lock[32], client[32];
    int lost, susp, port;
};

static struct wstate proc_state(struct proc *p, const char *name)
{
    char line[256];
    struct wstate s = {"", "", 0, 0, 0};
    proc_send(p, "state\n");
    proc_expect(p, name, "STATE ", line, sizeof line, 5000);
    cr_assert_eq(sscanf(line, "STATE %31s %31s lost=%d susp=%d port=%d", s.lock, s.client, &s.lost,
                        &s.susp, &s.port),
                 5, "bad state line '%s'", line);
    return s;
}

static void proc_quit(struct proc *p, const char *name)
{
    proc_send(p, "quit\n");
    int st = wait_exit(p->pid, 10000);
    cr_assert_eq(st, 0, "worker %s exited %d", name, st);
    close(p->in);
    close(p->out);
}

/* No HELD (or anything else) from the waiters. */
static void assert_waiters_silent(struct proc *w, int from, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    do {
        for (int i = from; i < NPROC; i++) {
            char line[512];
            cr_assert_eq(proc_line(&w[i], line, sizeof line, 0), 0,
                         "waiter %s spoke while A held the lock: '%s'", names[i], line);
        }
        msleep(20);
    } while (now_ms() < end);
}

/* ---- the tests ---------------------------------------------------------------------------- */

Test(lock_ensemble, lib_lock_held_through_leader_kill, .timeout = 60)
{
    long long t_start = now_ms();
    int leader = ensemble_ready(20000);
    char hosts[256], a_hosts[256], path[256], events[] = "/tmp/lockens-events-XXXXXX";
    cr_assert_eq(lc(hosts, sizeof hosts, "connect"), 0);
    hosts_with_first(a_hosts, sizeof a_hosts, leader);
    unique_path(path, sizeof path, "lib");
    temp_file(events);
    zkl_client *obs = observer(hosts);

    /* A holds, connected to the leader first (so the kill breaks its own connection) */
    struct proc w[NPROC];
    char line[512], a_node[256];
    long long a_token = 0;
    proc_start(&w[0], "A", a_hosts, path, events, 1);
    proc_expect(&w[0], "A", "HELD ", line, sizeof line, 15000);
    cr_assert_eq(sscanf(line, "HELD %lld %255s", &a_token, a_node), 2);
    struct wstate s = proc_state(&w[0], "A");
    cr_log_info("A holds %s, token %lld, connected to member %d (leader %d)", a_node, a_token,
                s.port - base_port(), leader);
    wait_children(obs, path, 1, 5000);

    /* B, C, D queue, each only after the previous one's node exists */
    for (int i = 1; i < NPROC; i++) {
        proc_start(&w[i], names[i], hosts, path, events, 0);
        wait_children(obs, path, i + 1, 10000);
    }
    assert_waiters_silent(w, 1, 0);

    kill_leader(leader);

    /* A: HELD again (a SUSPENDED on the way is allowed, LOST never) */
    long long end = now_ms() + 15000;
    for (;;) {
        s = proc_state(&w[0], "A");
        cr_assert_eq(s.lost, 0, "A's lock was reported LOST");
        cr_assert_str_neq(s.lock, "LOST", "A's lock LOST after the leader kill");
        if (strcmp(s.lock, "HELD") == 0 && strcmp(s.client, "CONNECTED") == 0)
            break;
        cr_assert_lt(now_ms(), end, "A not HELD 15 s after the kill: %s / %s", s.lock, s.client);
        msleep(20);
    }
    cr_log_info("A: HELD, connected to member %d, %d suspension(s) seen", s.port - base_port(),
                s.susp);
    /* waiters: reconnected and still waiting */
    for (int i = 1; i < NPROC; i++) {
        end = now_ms() + 15000;
        for (;;) {
            struct wstate ws = proc_state(&w[i], names[i]);
            cr_assert_str_neq(ws.lock, "HELD", "waiter %s holds the lock while A holds it",
                              names[i]);
            if (strcmp(ws.lock, "WAITING") == 0 && strcmp(ws.client, "CONNECTED") == 0)
                break;
            cr_assert_lt(now_ms(), end, "waiter %s: %s / %s", names[i], ws.lock, ws.client);
            msleep(20);
        }
    }
    assert_holder_lowest(obs, path, a_node, NPROC);
    assert_waiters_silent(w, 1, 500);
    s = proc_state(&w[0], "A");
    cr_assert_str_eq(s.lock, "HELD", "A: %s after the failover", s.lock);
    cr_assert_eq(s.lost, 0);

    /* A releases; B, C, D follow in order, each released by the test after 50 ms */
    proc_send(&w[0], "release\n");
    proc_expect(&w[0], "A", "RELEASED 0", line, sizeof line, 5000);
    long long prev = a_token;
    for (int i = 1; i < NPROC; i++) {
        long long tok = 0;
        proc_expect(&w[i], names[i], "HELD ", line, sizeof line, 15000);
        cr_assert_eq(sscanf(line, "HELD %lld", &tok), 1);
        cr_assert_gt(tok, prev, "%s's token %lld not above %lld", names[i], tok, prev);
        prev = tok;
        assert_waiters_silent(w, i + 1, 50);
        proc_send(&w[i], "release\n");
        proc_expect(&w[i], names[i], "RELEASED 0", line, sizeof line, 5000);
    }
    for (int i = 0; i < NPROC; i++)
        proc_quit(&w[i], names[i]);
    check_timeline(events);
    zkl_client_free(obs);
    unlink(events);
    cr_log_info("lib scenario took %lld ms", now_ms() - t_start);
}

static const char *zabctl(void)
{
    const char *z = getenv("ZABCTL_BIN");
    if (z == NULL)
        cr_skip_test("ZABCTL_BIN not set (run through ctest)");
    return z;
}

/* `zabctl lock PATH -- sh -c SCRIPT` where SCRIPT stamps ACQ (with the token and node from the
 * environment), runs `hold`, stamps REL. */
static pid_t zabctl_lock(const char *hosts, const char *path, const char *events,
                         const char *name, const char *hold)
{
    char script[2048];
    snprintf(script, sizeof script,
             "\"%s\" --lockens-stamp \"%s\" %s ACQ \"$ZABKEEPER_LOCK_TOKEN\" "
             "\"$ZABKEEPER_LOCK_NODE\" && %s && \"%s\" --lockens-stamp \"%s\" %s REL",
             self_exe(), events, name, hold, self_exe(), events, name);
    char *argv[] = {(char *)zabctl(), "-s", (char *)hosts, "lock", "--timeout", "30",
                    (char *)path, "--", "sh", "-c", script, NULL};
    pid_t pid = spawn_io(argv, -1, -1);
    track(pid);
    return pid;
}

static int has_acq_of_a(void *file)
{
    struct event ev[MAX_EVENTS];
    int n = read_events(file, ev, MAX_EVENTS);
    for (int i = 0; i < n; i++)
        if (strcmp(ev[i].name, "A") == 0)
            return 1;
    return 0;
}

/* The same with `zabctl lock` processes. Unlike the library test, the waiters' connection state is
 * not visible here, so A may release while some waiter is still reconnecting (the C client backs
 * off for up to a third of the session timeout once every member refused it during the election):
 * that waiter must then learn of the release from its re-registered watch. */
Test(lock_ensemble, zabctl_lock_held_through_leader_kill, .timeout = 60)
{
    long long t_start = now_ms();
    int leader = ensemble_ready(20000);
    char hosts[256], path[256], events[] = "/tmp/lockens-zevents-XXXXXX",
                                go[] = "/tmp/lockens-go-XXXXXX";
    cr_assert_eq(lc(hosts, sizeof hosts, "connect"), 0);
    unique_path(path, sizeof path, "zabctl");
    temp_file(events);
    temp_file(go);
    unlink(go); /* A's CMD holds the lock until this file exists */
    zkl_client *obs = observer(hosts);

    char hold_a[1024];
    snprintf(hold_a, sizeof hold_a, "\"%s\" --lockens-waitfile \"%s\" 30000", self_exe(), go);
    pid_t z[NPROC];
    z[0] = zabctl_lock(hosts, path, events, "A", hold_a);
    cr_assert(wait_until(has_acq_of_a, events, 15000), "A's CMD never ran");
    struct event ev[MAX_EVENTS];
    int n = read_events(events, ev, MAX_EVENTS);
    cr_assert_eq(n, 1);
    cr_log_info("zabctl A holds %s, token %lld", ev[0].node, ev[0].token);
    wait_children(obs, path, 1, 5000);
    for (int i = 1; i < NPROC; i++) {
        z[i] = zabctl_lock(hosts, path, events, names[i], "sleep 0.05");
        wait_children(obs, path, i + 1, 10000);
    }

    kill_leader(leader);

    assert_holder_lowest(obs, path, ev[0].node, NPROC);
    /* nobody else ran CMD, every zabctl is still there (A did not exit 125) */
    long long end = now_ms() + 1000;
    do {
        for (int i = 0; i < NPROC; i++)
            cr_assert_eq(waitpid(z[i], NULL, WNOHANG), 0, "zabctl %s exited while A held",
                         names[i]);
        cr_assert_eq(read_events(events, ev, MAX_EVENTS), 1,
                     "a second event while A held the lock after the failover");
        msleep(20);
    } while (now_ms() < end);
    assert_holder_lowest(obs, path, ev[0].node, NPROC);

    /* A's CMD finishes: zabctl A must exit 0 (not 125: the lock was never lost) */
    FILE *f = fopen(go, "w");
    cr_assert_not_null(f);
    fclose(f);
    int st = wait_exit(z[0], 10000);
    cr_assert_eq(st, 0, "zabctl A exited %d (125: lock lost)", st);
    for (int i = 1; i < NPROC; i++) {
        st = wait_exit(z[i], 15000);
        cr_assert_eq(st, 0, "zabctl %s exited %d", names[i], st);
    }
    check_timeline(events);
    wait_children(obs, path, 0, 5000);
    zkl_client_free(obs);
    unlink(events);
    unlink(go);
    cr_log_info("zabctl scenario took %lld ms", now_ms() - t_start);
}

/* ---- a holder cut off from the majority with its member ----------------------------------- */

/* The partition tests run on their own ensemble (ctest fixture lock_partition, another
 * ZABKEEPER_CLUSTER_DIR and base port). The holder is connected ONLY to follower F; the test
 * SIGSTOPs the other follower and the leader. F is then cut off from the majority but keeps
 * answering the holder's pings and reads until it gives up on the leader (syncLimit x tickTime
 * = 2.5 s here), so the connection looks fine for a while. The session could expire at a
 * majority leader a session timeout after the last renewal that reached it, at the earliest a
 * session timeout after the cut... never before the cut + timeout - (renewal lag); the holder
 * must be told LOST (listener, state; zabctl: CMD signalled, exit 125) before the cut + timeout,
 * whatever F says. */
#define CUT_SESSION_MS 4000

/* SIGCONT every paused member (an earlier, failed test may have left some stopped). */
static void resume_paused(void)
{
    char modes[3][16];
    member_modes(modes, 3);
    for (int id = 1; id <= 3; id++)
        if (strcmp(modes[id - 1], "paused") == 0)
            cr_assert_eq(lc(NULL, 0, "resume %d", id), 0, "localcluster resume %d", id);
}

/* The two followers of a 3-member ensemble led by `leader`: f (the holder's) and o. */
static void followers_of(int leader, int *f, int *o)
{
    *f = leader % 3 + 1;
    *o = *f % 3 + 1;
    cr_assert(*f != leader && *o != leader && *f != *o);
}

/* Pause o, then the leader; returns the time before the first pause (so that measured delays
 * are upper bounds of the delays after the real cut). */
static long long cut_off(int leader, int o)
{
    long long t0 = now_ms();
    cr_assert_eq(lc(NULL, 0, "pause %d", o), 0, "localcluster pause %d", o);
    cr_assert_eq(lc(NULL, 0, "pause %d", leader), 0, "localcluster pause %d", leader);
    cr_log_info("paused follower %d and leader %d in %lld ms", o, leader, now_ms() - t0);
    return t0;
}

static void only_member(char *buf, size_t len, int id)
{
    snprintf(buf, len, "127.0.0.1:%d", base_port() + id);
}

Test(lock_ensemble, lib_cut_off_holder_told_lost_before_expiry, .timeout = 60)
{
    resume_paused();
    int leader = ensemble_ready(20000), f, o;
    followers_of(leader, &f, &o);
    char f_hosts[64], path[256], events[] = "/tmp/lockens-cut-XXXXXX", line[512];
    only_member(f_hosts, sizeof f_hosts, f);
    unique_path(path, sizeof path, "cut");
    temp_file(events);

    struct proc a;
    proc_start_session(&a, "A", f_hosts, path, events, 1, CUT_SESSION_MS);
    proc_expect(&a, "A", "HELD ", line, sizeof line, 15000);
    msleep(CUT_SESSION_MS / 2); /* the heartbeat at its steady pace, not just after acquiring */
    struct wstate s = proc_state(&a, "A");
    cr_assert_str_eq(s.lock, "HELD", "A: %s before the cut", s.lock);
    cr_assert_eq(s.lost, 0);
    cr_assert_eq(s.port - base_port(), f, "A is connected to member %d, not follower %d",
                 s.port - base_port(), f);

    long long t0 = cut_off(leader, o), state_at = -1, told_at = -1;
    struct wstate first = s;
    while (told_at < 0 && now_ms() < t0 + 3 * CUT_SESSION_MS) {
        s = proc_state(&a, "A");
        if (state_at < 0 && strcmp(s.lock, "LOST") == 0) {
            state_at = now_ms() - t0;
            first = s;
        }
        if (s.lost > 0)
            told_at = now_ms() - t0;
        else
            msleep(10);
    }
    cr_assert_geq(state_at, 0, "A's lock never became LOST (%s / %s)", s.lock, s.client);
    cr_assert_geq(told_at, 0, "A's listener never heard LOST");
    cr_log_info("cut-off holder: state LOST %lld ms, listener %lld ms after the cut "
                "(session %d ms); client then %s, connected to member %d", state_at, told_at,
                CUT_SESSION_MS, first.client, first.port ? first.port - base_port() : 0);
    cr_assert_lt(state_at, CUT_SESSION_MS, "LOST %lld ms after the cut: the session may have "
                 "expired already", state_at);
    cr_assert_lt(told_at, CUT_SESSION_MS, "listener told %lld ms after the cut", told_at);
    cr_assert_str_eq(s.lock, "LOST");

    resume_paused();
    proc_send(&a, "release\n");
    proc_expect(&a, "A", "RELEASED ", line, sizeof line, 20000);
    int rc = 0;
    cr_assert_eq(sscanf(line, "RELEASED %d", &rc), 1);
    cr_assert_eq(rc, ZKL_ESESSION, "release of a LOST lock: %d", rc);
    proc_quit(&a, "A");
    unlink(events);
    ensemble_ready(20000); /* healed for whatever runs next */
}

static int has_event(const char *file, const char *kind, long long *t)
{
    struct event ev[MAX_EVENTS];
    int n = read_events(file, ev, MAX_EVENTS);
    for (int i = 0; i < n; i++)
        if (strcmp(ev[i].kind, kind) == 0) {
            if (t != NULL)
                *t = ev[i].t;
            return 1;
        }
    return 0;
}

static int has_acq(void *file) { return has_event(file, "ACQ", NULL); }

/* `zabctl lock` on follower F only, CMD = a shell that stamps ACQ, waits, and stamps TERM when
 * signalled (the moment the holder is told). */
static pid_t zabctl_cut_holder(const char *hosts, const char *path, const char *events)
{
    char script[2048], session[16];
    snprintf(session, sizeof session, "%d", CUT_SESSION_MS);
    snprintf(script, sizeof script,
             "trap '\"%s\" --lockens-stamp \"%s\" A TERM; exit 143' TERM; "
             "\"%s\" --lockens-stamp \"%s\" A ACQ \"$ZABKEEPER_LOCK_TOKEN\" "
             "\"$ZABKEEPER_LOCK_NODE\" || exit 1; "
             "\"%s\" --lockens-waitfile /nonexistent/never 60000 & wait $!",
             self_exe(), events, self_exe(), events, self_exe());
    char *argv[] = {(char *)zabctl(), "-s", (char *)hosts, "--session-timeout", session, "lock",
                    "--timeout", "30", "--kill-after", "1", (char *)path, "--", "sh", "-c",
                    script, NULL};
    pid_t pid = spawn_io(argv, -1, -1);
    track(pid);
    return pid;
}

Test(lock_ensemble, zabctl_cut_off_holder_exits_125_before_expiry, .timeout = 60)
{
    resume_paused();
    int leader = ensemble_ready(20000), f, o;
    followers_of(leader, &f, &o);
    char f_hosts[64], path[256], events[] = "/tmp/lockens-zcut-XXXXXX";
    only_member(f_hosts, sizeof f_hosts, f);
    unique_path(path, sizeof path, "zcut");
    temp_file(events);

    pid_t z = zabctl_cut_holder(f_hosts, path, events);
    cr_assert(wait_until(has_acq, events, 15000), "zabctl's CMD never ran");
    msleep(CUT_SESSION_MS / 2);
    cr_assert_eq(waitpid(z, NULL, WNOHANG), 0, "zabctl exited before the cut");

    long long t0 = cut_off(leader, o);
    int st = wait_exit(z, 4 * CUT_SESSION_MS);
    long long exited = now_ms() - t0, term_ns = 0;
    cr_assert_eq(st, 125, "zabctl exited %d, want 125 (lock lost)", st);
    cr_assert(has_event(events, "TERM", &term_ns), "CMD was never signalled");
    long long told = term_ns / 1000000 - t0;
    cr_log_info("cut-off zabctl: CMD signalled %lld ms after the cut, zabctl exited 125 after "
                "%lld ms (session %d ms)", told, exited, CUT_SESSION_MS);
    cr_assert_lt(told, CUT_SESSION_MS, "CMD signalled %lld ms after the cut: too late", told);

    resume_paused();
    unlink(events);
    ensemble_ready(20000);
}
