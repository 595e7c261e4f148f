/* Library tests of zklock against a live ZooKeeper-protocol server (Apache ZooKeeper or
 * zabkeeper; ctest sets ZKL_TEST_SERVERS): mutual exclusion across processes, FIFO order,
 * fencing tokens, no herd, crashed holders, the lost-reply ghost, try/timeout, read/write locks,
 * semaphores, session expiry and leader election. */
#include <pthread.h>
#include <stdatomic.h>

#include "helpers.h"

#define NWAIT 4

static void suppress_zk_log(void) { zoo_set_debug_level((ZooLogLevel)0); }
TestSuite(lock, .init = suppress_zk_log);

/* ---- a waiter thread with its own session ---------------------------------------------- */

struct waiter {
    zkl_client *c;
    zkl_lock *l;
    pthread_t t;
    int timeout_ms;
    int rc;
    int64_t token;
    int order;
    atomic_int held;
    atomic_int release;
};

static atomic_int acquisitions;

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    w->rc = zkl_lock_acquire(w->l, w->timeout_ms, &w->token);
    if (w->rc != ZKL_OK)
        return NULL;
    w->order = atomic_fetch_add(&acquisitions, 1);
    atomic_store(&w->held, 1);
    while (!atomic_load(&w->release))
        msleep(5);
    w->rc = zkl_lock_release(w->l);
    return NULL;
}

struct count_arg {
    zkl_client *c;
    const char *path;
    int want;
};

static int has_children(void *p)
{
    struct count_arg *a = p;
    return count_children(a->c, a->path) == a->want;
}

/* Start waiter `w` on `path` and wait until its node is queued (want children in total). */
static void start_waiter(struct waiter *w, zkl_lock *(*mk)(zkl_client *, const char *),
                         const char *path, int timeout_ms, zkl_client *observer, int want)
{
    w->c = connect_client();
    w->l = mk(w->c, path);
    cr_assert_not_null(w->l);
    w->timeout_ms = timeout_ms;
    cr_assert_eq(pthread_create(&w->t, NULL, waiter_main, w), 0);
    struct count_arg a = {observer, path, want};
    cr_assert(wait_until(has_children, &a, 5000), "waiter node never appeared");
}

static void finish_waiter(struct waiter *w)
{
    atomic_store(&w->release, 1);
    cr_assert_eq(pthread_join(w->t, NULL), 0);
    zkl_lock_free(w->l);
    zkl_client_free(w->c);
}

static int is_held(void *p) { return atomic_load(&((struct waiter *)p)->held); }

/* ---- tests ------------------------------------------------------------------------------ */

Test(lock, decision_basics_try_and_release, .timeout = 30)
{
    char path[256];
    unique_path(path, sizeof path, "try");
    zkl_client *a = connect_client(), *b = connect_client();
    zkl_lock *la = zkl_mutex_new(a, path), *lb = zkl_mutex_new(b, path);
    int64_t ta = 0, tb = 0;
    cr_assert_eq(zkl_lock_acquire(la, 0, &ta), ZKL_OK);
    cr_assert_eq(zkl_lock_state(la), ZKL_HELD);
    cr_assert_gt(ta, 0);
    cr_assert_eq(zkl_lock_acquire(lb, 0, &tb), ZKL_EBUSY);
    cr_assert_eq(zkl_lock_acquire(lb, 300, &tb), ZKL_ETIMEOUT);
    cr_assert_eq(count_children(a, path), 1, "a waiter that gave up must delete its node");
    cr_assert_eq(zkl_lock_acquire(la, 0, NULL), ZKL_EINVAL, "re-acquire while held");
    cr_assert_eq(zkl_lock_release(la), ZKL_OK);
    cr_assert_eq(zkl_lock_release(la), ZKL_EINVAL);
    cr_assert_eq(zkl_lock_acquire(lb, 0, &tb), ZKL_OK);
    cr_assert_gt(tb, ta, "fencing token must increase");
    zkl_lock_free(la);
    zkl_lock_free(lb);
    zkl_client_free(a);
    zkl_client_free(b);
}

static long read_long(const char *file)
{
    long v = -1;
    FILE *f = fopen(file, "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static void run_workers(const char *kind, int nproc, int iter, const char *path, char *counter,
                        char *log)
{
    char iters[16];
    snprintf(iters, sizeof iters, "%d", iter);
    pid_t pids[16];
    for (int i = 0; i < nproc; i++) {
        char *argv[] = {getenv("LOCK_WORKER"), (char *)servers(), (char *)path, (char *)kind,
                        iters, counter, log, NULL};
        cr_assert_not_null(argv[0], "LOCK_WORKER not set");
        pids[i] = spawn(argv, -1);
    }
    for (int i = 0; i < nproc; i++)
        cr_assert_eq(wait_status(pids[i]), 0, "worker %d failed", i);
}

Test(lock, mutual_exclusion_processes_and_tokens, .timeout = 90)
{
    char path[256], counter[] = "/tmp/zkl-counter-XXXXXX", log[] = "/tmp/zkl-log-XXXXXX";
    unique_path(path, sizeof path, "mutex");
    int fd1 = mkstemp(counter), fd2 = mkstemp(log);
    cr_assert(fd1 >= 0 && fd2 >= 0);
    close(fd1);
    close(fd2);
    const int nproc = 4, iter = 15;
    run_workers("lock", nproc, iter, path, counter, log);
    cr_assert_eq(read_long(counter), nproc * iter, "counter %ld: mutual exclusion violated",
                 read_long(counter));
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    long long prev = 0, tok;
    int n = 0;
    while (fscanf(f, "%lld", &tok) == 1) {
        cr_assert_gt(tok, prev, "token %lld after %lld: not strictly increasing", tok, prev);
        prev = tok;
        n++;
    }
    fclose(f);
    cr_assert_eq(n, nproc * iter);
    unlink(counter);
    unlink(log);
}

/* FIFO order and no herd: each release wakes exactly the next waiter and no other. */
Test(lock, fifo_order_and_no_herd, .timeout = 60)
{
    char path[256];
    unique_path(path, sizeof path, "fifo");
    zkl_client *h = connect_client();
    zkl_lock *hl = zkl_mutex_new(h, path);
    int64_t htok;
    cr_assert_eq(zkl_lock_acquire(hl, 0, &htok), ZKL_OK);
    static struct waiter w[NWAIT];
    atomic_store(&acquisitions, 0);
    for (int i = 0; i < NWAIT; i++)
        start_waiter(&w[i], zkl_mutex_new, path, 30000, h, i + 2);
    cr_assert_eq(zkl_lock_release(hl), ZKL_OK);
    int64_t prev = htok;
    for (int i = 0; i < NWAIT; i++) {
        cr_assert(wait_until(is_held, &w[i], 10000), "waiter %d never acquired", i);
        cr_assert_eq(w[i].order, i, "FIFO: waiter %d acquired as #%d", i, w[i].order);
        cr_assert_gt(w[i].token, prev);
        prev = w[i].token;
        for (int j = i; j < NWAIT; j++) { /* waiters before i are gone */
            unsigned want = j == i ? 1 : 0;
            cr_assert_eq(zkl_lock_wakeups(w[j].l), want,
                         "herd: after release #%d waiter %d woke %u times", i, j,
                         zkl_lock_wakeups(w[j].l));
        }
        finish_waiter(&w[i]);
    }
    zkl_lock_free(hl);
    zkl_client_free(h);
}

/* A waiter in the middle gives up: its successor re-checks and still gets the lock in order. */
Test(lock, waiter_giving_up_keeps_queue, .timeout = 60)
{
    char path[256];
    unique_path(path, sizeof path, "giveup");
    zkl_client *h = connect_client();
    zkl_lock *hl = zkl_mutex_new(h, path);
    cr_assert_eq(zkl_lock_acquire(hl, 0, NULL), ZKL_OK);
    static struct waiter w[3];
    atomic_store(&acquisitions, 0);
    start_waiter(&w[0], zkl_mutex_new, path, 30000, h, 2);
    start_waiter(&w[1], zkl_mutex_new, path, 800, h, 3); /* gives up */
    start_waiter(&w[2], zkl_mutex_new, path, 30000, h, 4);
    cr_assert_eq(pthread_join(w[1].t, NULL), 0);
    cr_assert_eq(w[1].rc, ZKL_ETIMEOUT);
    cr_assert_eq(count_children(h, path), 3);
    cr_assert_eq(zkl_lock_wakeups(w[2].l), 1, "successor must re-check when its predecessor goes");
    cr_assert_eq(zkl_lock_release(hl), ZKL_OK);
    cr_assert(wait_until(is_held, &w[0], 10000));
    cr_assert_eq(atomic_load(&w[2].held), 0);
    finish_waiter(&w[0]);
    cr_assert(wait_until(is_held, &w[2], 10000));
    finish_waiter(&w[2]);
    zkl_lock_free(w[1].l);
    zkl_client_free(w[1].c);
    zkl_lock_free(hl);
    zkl_client_free(h);
}

Test(lock, sigkilled_holder_releases_after_session_timeout, .timeout = 60)
{
    char path[256];
    unique_path(path, sizeof path, "crash");
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    char *argv[] = {getenv("LOCK_WORKER"), (char *)servers(), path, "hold", "1", "-", "-", NULL};
    cr_assert_not_null(argv[0]);
    pid_t pid = spawn(argv, pfd[1]);
    close(pfd[1]);
    char line[64] = {0};
    cr_assert_gt(read(pfd[0], line, sizeof line - 1), 0, "holder did not acquire");
    cr_assert(strncmp(line, "HELD", 4) == 0, "holder said %s", line);
    close(pfd[0]);
    zkl_client *c = connect_client();
    zkl_lock *l = zkl_mutex_new(c, path);
    cr_assert_eq(zkl_lock_acquire(l, 0, NULL), ZKL_EBUSY);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    wait_status(pid);
    long long t0 = now_ms();
    int64_t tok;
    cr_assert_eq(zkl_lock_acquire(l, 15000, &tok), ZKL_OK);
    long long waited = now_ms() - t0;
    cr_assert_gt(tok, atoll(line + 5));
    cr_log_info("acquired %lld ms after the holder's SIGKILL", waited);
    cr_assert_lt(waited, 2000 + 3000, "waited %lld ms, session timeout is 2000", waited);
    zkl_lock_free(l);
    zkl_client_free(c);
}

Test(lock, lost_create_reply_leaves_no_orphan, .timeout = 30)
{
    char path[256];
    unique_path(path, sizeof path, "ghost");
    zkl_client *c = connect_client();
    zkl_lock *l = zkl_mutex_new(c, path);
    zkl_test_lose_create_replies(1);
    int64_t tok;
    cr_assert_eq(zkl_lock_acquire(l, 5000, &tok), ZKL_OK);
    cr_assert_eq(count_children(c, path), 1, "the retry created a second (ghost) node");
    char node[512];
    snprintf(node, sizeof node, "%s", zkl_lock_node(l));
    struct Stat st;
    cr_assert_eq(zoo_exists(zkl_client_handle(c), node, 0, &st), ZOK);
    cr_assert_eq(st.czxid, tok);
    cr_assert_eq(zkl_lock_release(l), ZKL_OK);
    cr_assert_eq(count_children(c, path), 0);
    zkl_lock_free(l);
    zkl_client_free(c);
}

Test(lock, token_increases_across_lock_node_recreation, .timeout = 30)
{
    char path[256];
    unique_path(path, sizeof path, "recreate");
    zkl_client *c = connect_client();
    zkl_lock *l = zkl_mutex_new(c, path);
    int64_t t1, t2;
    cr_assert_eq(zkl_lock_acquire(l, 0, &t1), ZKL_OK);
    cr_assert_eq(zkl_lock_release(l), ZKL_OK);
    cr_assert_eq(zoo_delete(zkl_client_handle(c), path, -1), ZOK);
    cr_assert_eq(zkl_lock_acquire(l, 0, &t2), ZKL_OK);
    cr_assert_gt(t2, t1);
    zkl_lock_free(l);
    zkl_client_free(c);
}

Test(lock, read_write_lock, .timeout = 60)
{
    char path[256];
    unique_path(path, sizeof path, "rw");
    zkl_client *c = connect_client();
    static struct waiter r[2], w1, r3;
    atomic_store(&acquisitions, 0);
    start_waiter(&r[0], zkl_read_lock_new, path, 30000, c, 1);
    start_waiter(&r[1], zkl_read_lock_new, path, 30000, c, 2);
    cr_assert(wait_until(is_held, &r[0], 5000) && wait_until(is_held, &r[1], 5000),
              "two readers must share the lock");
    start_waiter(&w1, zkl_write_lock_new, path, 30000, c, 3);
    start_waiter(&r3, zkl_read_lock_new, path, 30000, c, 4);
    msleep(300);
    cr_assert_eq(atomic_load(&w1.held), 0, "writer got in while readers held");
    cr_assert_eq(atomic_load(&r3.held), 0, "reader overtook a queued writer");
    finish_waiter(&r[0]);
    msleep(200);
    cr_assert_eq(atomic_load(&w1.held), 0);
    finish_waiter(&r[1]);
    cr_assert(wait_until(is_held, &w1, 5000));
    msleep(200);
    cr_assert_eq(atomic_load(&r3.held), 0, "reader got in while the writer held");
    finish_waiter(&w1);
    cr_assert(wait_until(is_held, &r3, 5000));
    finish_waiter(&r3);
    zkl_client_free(c);
}

/* ---- semaphore: at most N holders at once, all eventually served ------------------------ */

#define SEM_PERMITS 2
#define SEM_THREADS 5
#define SEM_ITER 4

static atomic_int sem_current, sem_max;
static char sem_path[256];

static void *sem_thread(void *arg)
{
    (void)arg;
    zkl_client *c = connect_client();
    zkl_lock *l = zkl_semaphore_new(c, sem_path, SEM_PERMITS);
    for (int i = 0; i < SEM_ITER; i++) {
        cr_assert_eq(zkl_lock_acquire(l, 30000, NULL), ZKL_OK);
        int now = atomic_fetch_add(&sem_current, 1) + 1;
        int m = atomic_load(&sem_max);
        while (now > m && !atomic_compare_exchange_weak(&sem_max, &m, now))
            ;
        msleep(30);
        atomic_fetch_sub(&sem_current, 1);
        cr_assert_eq(zkl_lock_release(l), ZKL_OK);
    }
    zkl_lock_free(l);
    zkl_client_free(c);
    return NULL;
}

Test(lock, semaphore_limits, .timeout = 60)
{
    unique_path(sem_path, sizeof sem_path, "sem");
    pthread_t t[SEM_THREADS];
    for (int i = 0; i < SEM_THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, sem_thread, NULL), 0);
    for (int i = 0; i < SEM_THREADS; i++)
        cr_assert_eq(pthread_join(t[i], NULL), 0);
    cr_assert_leq(atomic_load(&sem_max), SEM_PERMITS, "%d holders at once",
                  atomic_load(&sem_max));
    cr_assert_eq(atomic_load(&sem_max), SEM_PERMITS, "the semaphore never let N in at once");
}

/* ---- session expiry tells the holder ---------------------------------------------------- */

static atomic_int lost_seen;

static void on_state(zkl_lock *l, enum zkl_lock_state s, void *arg)
{
    (void)l;
    (void)arg;
    if (s == ZKL_LOST)
        atomic_store(&lost_seen, 1);
}

static int lost_flag(void *p)
{
    (void)p;
    return atomic_load(&lost_seen);
}

/* Expire a session from outside: attach a second handle to it, then close that handle. */
static void expire_session(zkl_client *victim)
{
    const clientid_t *id = zoo_client_id(zkl_client_handle(victim));
    zhandle_t *zh = zookeeper_init(servers(), NULL, 2000, id, NULL, 0);
    cr_assert_not_null(zh);
    for (int i = 0; i < 200 && zoo_state(zh) != ZOO_CONNECTED_STATE; i++)
        msleep(10);
    cr_assert_eq(zoo_state(zh), ZOO_CONNECTED_STATE);
    zookeeper_close(zh);
}

Test(lock, session_expiry_reports_lost, .timeout = 60)
{
    char path[256];
    unique_path(path, sizeof path, "expire");
    zkl_client *c = connect_client();
    zkl_lock *l = zkl_mutex_new(c, path);
    zkl_lock_set_listener(l, on_state, NULL);
    cr_assert_eq(zkl_lock_acquire(l, 0, NULL), ZKL_OK);
    expire_session(c);
    cr_assert(wait_until(lost_flag, NULL, 15000), "listener never heard LOST");
    cr_assert_eq(zkl_lock_state(l), ZKL_LOST);
    zkl_client *d = connect_client();
    zkl_lock *m = zkl_mutex_new(d, path);
    cr_assert_eq(zkl_lock_acquire(m, 5000, NULL), ZKL_OK, "lock must be free after expiry");
    cr_assert_eq(zkl_lock_release(l), ZKL_ESESSION);
    zkl_lock_free(m);
    zkl_client_free(d);
    zkl_lock_free(l);
    zkl_client_free(c);
}

/* ---- leader election --------------------------------------------------------------------- */

static atomic_int leader_changes;

static void on_leader(zkl_election *e, bool leader, void *arg)
{
    (void)e;
    (void)arg;
    if (leader)
        atomic_fetch_add(&leader_changes, 1);
}

static int is_leader(void *p) { return zkl_election_is_leader(p); }

static int changes_at_least(void *p) { return atomic_load(&leader_changes) >= *(int *)p; }

Test(lock, leader_election, .timeout = 60)
{
    char path[256];
    unique_path(path, sizeof path, "elect");
    zkl_client *c[3];
    zkl_election *e[3];
    char id[3][16];
    for (int i = 0; i < 3; i++) {
        c[i] = connect_client();
        snprintf(id[i], sizeof id[i], "cand-%d", i);
        e[i] = zkl_election_new(c[i], path, id[i], on_leader, NULL);
        cr_assert_not_null(e[i]);
        struct count_arg a = {c[0], path, i + 1};
        cr_assert(wait_until(has_children, &a, 5000));
    }
    cr_assert(wait_until(is_leader, e[0], 5000));
    int want = 1;
    cr_assert(wait_until(changes_at_least, &want, 5000), "leader callback not called");
    cr_assert(!zkl_election_is_leader(e[1]) && !zkl_election_is_leader(e[2]));
    char buf[64];
    cr_assert_eq(zkl_election_leader(e[2], buf, sizeof buf), ZKL_OK);
    cr_assert_str_eq(buf, "cand-0");
    zkl_election_free(e[0]);
    cr_assert(wait_until(is_leader, e[1], 5000), "successor did not take over");
    want = 2;
    cr_assert(wait_until(changes_at_least, &want, 5000), "new leader's callback not called");
    cr_assert(!zkl_election_is_leader(e[2]));
    cr_assert_eq(zkl_election_leader(e[2], buf, sizeof buf), ZKL_OK);
    cr_assert_str_eq(buf, "cand-1");
    zkl_election_free(e[2]); /* a non-leader leaving changes nothing */
    cr_assert(zkl_election_is_leader(e[1]));
    zkl_election_free(e[1]);
    for (int i = 0; i < 3; i++)
        zkl_client_free(c[i]);
}
