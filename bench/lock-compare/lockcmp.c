/* lockcmp: one lock client for bench/lock-compare, the same loop over five lock services, all from
 * C so that client overhead is alike (libzookeeper-mt through zklock, hiredis, libpq):
 *
 *   zk            zabkeeper's zklock mutex (src/lockrecipe): EPHEMERAL_SEQUENTIAL node, fencing
 *                 token = the node's czxid; session timeout $LOCKCMP_SESSION_MS
 *   redis         SET key val NX PX $LOCKCMP_TTL_MS; release: compare-and-delete (Lua);
 *                 a waiter retries every 10 ms (Redis has no wait)
 *   redlock       the same on the N masters of $LOCKCMP_REDLOCK, sent to all at once; held when
 *                 a majority said OK within the validity time (TTL - elapsed - 1% - 2 ms), else
 *                 undone on all and retried after 10 ms
 *   pg-advisory   pg_advisory_lock(k) / pg_advisory_unlock(k) (session-level advisory lock)
 *   pg-forupdate  BEGIN; SELECT ... FROM lockcmp_locks WHERE name=... FOR UPDATE; ... COMMIT
 *   pg-unique     INSERT INTO lockcmp_held (name, holder) ... ON CONFLICT DO NOTHING (a row per
 *                 holder, committed), DELETE to release; a waiter retries every 10 ms
 *
 *   lockcmp cycles BACKEND SECONDS  uncontended acquire+release for SECONDS (after 0.5 s of
 *                                   warm-up): RESULT line with cycles/s, p50/p99/max in ms
 *   lockcmp hold BACKEND WORK_MS    acquire, print ACQUIRED, "work" WORK_MS, then write to the
 *                                   protected resource with its token, release
 *   lockcmp grab BACKEND TIMEOUT_MS print WAITING, wait for the lock, print ACQUIRED (wall-clock
 *                                   ms), write to the resource, release
 *
 * The protected resource: for zk/redis/redlock a file ($LOCKCMP_RESOURCE) that remembers the
 * largest fencing token it has seen and refuses a write with a smaller one (what a fencing-aware
 * storage does); a write without a token (Redis has none) cannot be checked and is taken. For the
 * pg-* backends the resource is a row in the same database, written in the holder's own session
 * (inside its transaction for pg-forupdate). Environment: LOCKCMP_ZK (connect string),
 * LOCKCMP_REDIS (host:port), LOCKCMP_REDLOCK (host:port,...), LOCKCMP_PG (conninfo),
 * LOCKCMP_PG_IDLE_MS (idle_in_transaction_session_timeout / idle_session_timeout of the holder's
 * session, 0 = PostgreSQL's default: none), LOCKCMP_NAME (lock name, default "bench"). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "zklock.h"

#define MAX_MASTERS 9
#define RETRY_MS 10

static const char *env(const char *k, const char *dflt)
{
    const char *v = getenv(k);
    return v && *v ? v : dflt;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static long long wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

static void die(const char *fmt, const char *a)
{
    fprintf(stderr, "lockcmp: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    exit(2);
}

/* ---- the backends ------------------------------------------------------------------------- */

struct lk {
    const char *kind;
    char name[128];
    char me[40]; /* random value identifying this holder (Redis value, pg-unique holder) */
    /* zk */
    zkl_client *zc;
    zkl_lock *zl;
    /* redis / redlock */
    int n_masters;
    redisContext *rc[MAX_MASTERS];
    int ttl_ms;
    /* pg */
    PGconn *pg;
    long long pg_key;
};

static bool is(const struct lk *l, const char *k) { return strcmp(l->kind, k) == 0; }

/* A master that cannot be reached is NULL for redlock (it only costs its vote), fatal else. */
static redisContext *redis_connect(const char *hostport, bool may_fail)
{
    char host[256];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon)
        die("bad redis address %s", hostport);
    *colon = '\0';
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    if (c == NULL || c->err) {
        if (!may_fail)
            die("cannot connect to redis at %s", hostport);
        fprintf(stderr, "lockcmp: redis master %s unreachable: counted as a refusal\n", hostport);
        if (c)
            redisFree(c);
        return NULL;
    }
    return c;
}

static PGresult *pg_exec(struct lk *l, const char *sql, const char *p1, const char *p2)
{
    const char *params[2] = {p1, p2};
    int n = p2 ? 2 : p1 ? 1 : 0;
    return PQexecParams(l->pg, sql, n, NULL, params, NULL, NULL, 0);
}

static bool pg_ok(PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static void lk_open(struct lk *l, const char *kind)
{
    memset(l, 0, sizeof *l);
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", env("LOCKCMP_NAME", "bench"));
    srandom((unsigned)(getpid() ^ (unsigned)wall_ms()));
    snprintf(l->me, sizeof l->me, "%08lx%08lx-%d", random(), random(), (int)getpid());
    l->ttl_ms = atoi(env("LOCKCMP_TTL_MS", "4000"));
    if (is(l, "zk")) {
        int st;
        l->zc = zkl_client_new(env("LOCKCMP_ZK", "127.0.0.1:2181"),
                               atoi(env("LOCKCMP_SESSION_MS", "4000")), 10000, &st);
        if (!l->zc)
            die("cannot connect to zabkeeper: %s", zkl_strerror(st));
        char path[200];
        snprintf(path, sizeof path, "/lockcmp/%s", l->name);
        l->zl = zkl_mutex_new(l->zc, path);
        zkl_lock_set_data(l->zl, l->me);
    } else if (is(l, "redis")) {
        l->n_masters = 1;
        l->rc[0] = redis_connect(env("LOCKCMP_REDIS", "127.0.0.1:6379"), false);
    } else if (is(l, "redlock")) {
        char list[1024], *save = NULL;
        snprintf(list, sizeof list, "%s", env("LOCKCMP_REDLOCK", ""));
        for (char *m = strtok_r(list, ",", &save); m && l->n_masters < MAX_MASTERS;
             m = strtok_r(NULL, ",", &save))
            l->rc[l->n_masters++] = redis_connect(m, true);
        if (l->n_masters < 3)
            die("redlock wants at least 3 masters in LOCKCMP_REDLOCK%s", "");
    } else if (!strncmp(kind, "pg-", 3)) {
        l->pg = PQconnectdb(env("LOCKCMP_PG", "host=127.0.0.1 user=postgres dbname=postgres"));
        if (PQstatus(l->pg) != CONNECTION_OK)
            die("cannot connect to PostgreSQL: %s", PQerrorMessage(l->pg));
        l->pg_key = 4242;
        PQclear(PQexec(l->pg, "SET client_min_messages = warning"));
        PQclear(PQexec(l->pg,
                       "CREATE TABLE IF NOT EXISTS lockcmp_locks (name text PRIMARY KEY);"
                       "CREATE TABLE IF NOT EXISTS lockcmp_held (name text PRIMARY KEY, holder "
                       "text NOT NULL, since timestamptz NOT NULL DEFAULT now());"
                       "CREATE TABLE IF NOT EXISTS lockcmp_resource (id int PRIMARY KEY, value "
                       "text, writes int NOT NULL DEFAULT 0);"
                       "INSERT INTO lockcmp_resource (id, value) VALUES (1, '') "
                       "ON CONFLICT DO NOTHING"));
        PQclear(pg_exec(l, "INSERT INTO lockcmp_locks (name) VALUES ($1) ON CONFLICT DO NOTHING",
                        l->name, NULL));
        int idle = atoi(env("LOCKCMP_PG_IDLE_MS", "0"));
        if (idle > 0) {
            char sql[200];
            snprintf(sql, sizeof sql,
                     "SET idle_in_transaction_session_timeout = %d; SET idle_session_timeout = %d",
                     idle, idle);
            PQclear(PQexec(l->pg, sql));
        }
    } else {
        die("unknown backend %s (zk, redis, redlock, pg-advisory, pg-forupdate, pg-unique)",
            kind);
    }
}

static const char *const release_lua =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";

/* Send one command to every master at once, then collect the replies. */
static int redis_all(struct lk *l, bool set)
{
    char key[160];
    snprintf(key, sizeof key, "lockcmp:%s", l->name);
    for (int i = 0; i < l->n_masters; i++) {
        if (l->rc[i] == NULL || l->rc[i]->err)
            continue;
        if (set)
            redisAppendCommand(l->rc[i], "SET %s %s NX PX %d", key, l->me, l->ttl_ms);
        else
            redisAppendCommand(l->rc[i], "EVAL %s 1 %s %s", release_lua, key, l->me);
        int done = 0;
        while (!done)
            if (redisBufferWrite(l->rc[i], &done) != REDIS_OK)
                break;
    }
    int ok = 0;
    for (int i = 0; i < l->n_masters; i++) {
        redisReply *r = NULL;
        if (l->rc[i] == NULL || l->rc[i]->err)
            continue;
        if (redisGetReply(l->rc[i], (void **)&r) != REDIS_OK || r == NULL)
            continue;
        if (set ? (r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK"))
                : (r->type == REDIS_REPLY_INTEGER && r->integer == 1))
            ok++;
        freeReplyObject(r);
    }
    return ok;
}

/* 0 acquired, 1 not within wait_ms (wait_ms < 0: forever), -1 error. *token: 0 = none. */
static int lk_acquire(struct lk *l, int wait_ms, long long *token)
{
    *token = 0;
    double t0 = now_ms();
    if (is(l, "zk")) {
        int64_t tok = 0;
        int rc = zkl_lock_acquire(l->zl, wait_ms, &tok);
        *token = tok;
        return rc == ZKL_OK ? 0 : rc == ZKL_ETIMEOUT || rc == ZKL_EBUSY ? 1 : -1;
    }
    if (is(l, "redis") || is(l, "redlock")) {
        for (;;) {
            double start = now_ms();
            int ok = redis_all(l, true);
            double validity = l->ttl_ms - (now_ms() - start) - l->ttl_ms * 0.01 - 2;
            if (ok >= l->n_masters / 2 + 1 && validity > 0)
                return 0;
            if (ok > 0)
                redis_all(l, false); /* undo a minority (redlock) */
            if (wait_ms >= 0 && now_ms() - t0 >= wait_ms)
                return 1;
            sleep_ms(RETRY_MS);
        }
    }
    if (is(l, "pg-advisory") || is(l, "pg-forupdate")) {
        char sql[160];
        if (wait_ms >= 0) {
            snprintf(sql, sizeof sql, "SET lock_timeout = %d", wait_ms > 0 ? wait_ms : 1);
            PQclear(PQexec(l->pg, sql));
        }
        PGresult *r;
        if (is(l, "pg-advisory")) {
            snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", l->pg_key);
            r = PQexec(l->pg, sql);
        } else {
            PQclear(PQexec(l->pg, "BEGIN"));
            r = pg_exec(l, "SELECT name FROM lockcmp_locks WHERE name = $1 FOR UPDATE", l->name,
                        NULL);
        }
        bool ok = pg_ok(r);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        bool timed_out = !ok && state && !strcmp(state, "55P03"); /* lock_not_available */
        PQclear(r);
        if (wait_ms >= 0)
            PQclear(PQexec(l->pg, "SET lock_timeout = 0"));
        if (!ok && is(l, "pg-forupdate"))
            PQclear(PQexec(l->pg, "ROLLBACK"));
        return ok ? 0 : timed_out ? 1 : -1;
    }
    /* pg-unique */
    for (;;) {
        PGresult *r = pg_exec(l,
                              "INSERT INTO lockcmp_held (name, holder) VALUES ($1, $2) "
                              "ON CONFLICT DO NOTHING",
                              l->name, l->me);
        bool ok = pg_ok(r), got = ok && !strcmp(PQcmdTuples(r), "1");
        PQclear(r);
        if (!ok)
            return -1;
        if (got)
            return 0;
        if (wait_ms >= 0 && now_ms() - t0 >= wait_ms)
            return 1;
        sleep_ms(RETRY_MS);
    }
}

static int lk_release(struct lk *l)
{
    if (is(l, "zk"))
        return zkl_lock_release(l->zl) == ZKL_OK ? 0 : -1;
    if (is(l, "redis") || is(l, "redlock"))
        return redis_all(l, false) > 0 ? 0 : -1;
    PGresult *r;
    if (is(l, "pg-advisory")) {
        char sql[80];
        snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)", l->pg_key);
        r = PQexec(l->pg, sql);
    } else if (is(l, "pg-forupdate")) {
        r = PQexec(l->pg, "COMMIT");
    } else {
        r = pg_exec(l, "DELETE FROM lockcmp_held WHERE name = $1 AND holder = $2", l->name, l->me);
    }
    bool ok = pg_ok(r);
    if (!ok)
        fprintf(stderr, "lockcmp: release: %s", PQerrorMessage(l->pg));
    PQclear(r);
    return ok ? 0 : -1;
}

/* Write `who` to the protected resource. Prints one WRITE line. */
static void lk_write(struct lk *l, long long token, const char *who)
{
    if (!strncmp(l->kind, "pg-", 3)) {
        PGresult *r = pg_exec(l,
                              "UPDATE lockcmp_resource SET value = $1, writes = writes + 1 "
                              "WHERE id = 1",
                              who, NULL);
        bool ok = pg_ok(r);
        PQclear(r);
        if (ok && is(l, "pg-forupdate")) { /* the write is only done once committed */
            r = PQexec(l->pg, "COMMIT");
            ok = pg_ok(r);
            PQclear(r);
            PQclear(PQexec(l->pg, "BEGIN")); /* lk_release's COMMIT has a transaction */
        }
        char err[200] = "";
        if (!ok)
            snprintf(err, sizeof err, "%s", PQerrorMessage(l->pg));
        err[strcspn(err, "\n")] = '\0';
        printf("WRITE %s %s%s\n", who,
               ok ? "ACCEPTED (committed in the writer's own session)" : "FAILED: ",
               ok ? "" : err);
        return;
    }
    const char *path = env("LOCKCMP_RESOURCE", "/tmp/lockcmp-resource");
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0)
        die("cannot open the resource %s", path);
    char buf[256] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    long long seen = 0;
    char last[128] = "nobody";
    sscanf(buf, "%lld %127s", &seen, last);
    if (token > 0 && token < seen) {
        printf("WRITE %s token=%lld REJECTED by fencing (the resource has seen token %lld, "
               "written by %s)\n", who, token, seen, last);
    } else {
        char out[256];
        int len = snprintf(out, sizeof out, "%lld %s\n", token > seen ? token : seen, who);
        if (ftruncate(fd, 0) != 0 || pwrite(fd, out, (size_t)len, 0) != len)
            die("cannot write the resource %s", path);
        if (token == 0)
            printf("WRITE %s ACCEPTED with no token to check (overwrote %s's value)\n", who,
                   last);
        else
            printf("WRITE %s token=%lld ACCEPTED (previous writer %s, token %lld)\n", who, token,
                   last, seen);
    }
    flock(fd, LOCK_UN);
    close(fd);
}

/* ---- commands ------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_cycles(const char *kind, double seconds)
{
    struct lk l;
    lk_open(&l, kind);
    size_t cap = 1 << 20, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    long long tok;
    unsigned errors = 0;
    double warm_end = now_ms() + 500;
    while (now_ms() < warm_end) {
        if (lk_acquire(&l, -1, &tok) != 0 || lk_release(&l) != 0)
            errors++;
    }
    double t0 = now_ms(), end = t0 + seconds * 1000, t1 = t0;
    while ((t1 = now_ms()) < end && n < cap) {
        double a = t1;
        if (lk_acquire(&l, -1, &tok) != 0 || lk_release(&l) != 0) {
            errors++;
            continue;
        }
        lat[n++] = now_ms() - a;
    }
    double elapsed = (now_ms() - t0) / 1000;
    qsort(lat, n, sizeof *lat, cmp_double);
    double p50 = n ? lat[n / 2] : 0, p99 = n ? lat[(size_t)((double)(n - 1) * 0.99)] : 0,
           max = n ? lat[n - 1] : 0;
    printf("RESULT backend=%s cycles=%zu seconds=%.2f cycles_per_s=%.1f p50_ms=%.3f "
           "p99_ms=%.3f max_ms=%.3f errors=%u\n",
           kind, n, elapsed, (double)n / elapsed, p50, p99, max, errors);
    free(lat);
    return errors ? 1 : 0;
}

static const char *zk_state(struct lk *l)
{
    return is(l, "zk") ? zkl_lock_state_name(zkl_lock_state(l->zl)) : "-";
}

static int cmd_hold(const char *kind, int work_ms)
{
    struct lk l;
    lk_open(&l, kind);
    long long tok;
    if (lk_acquire(&l, -1, &tok) != 0)
        die("holder: cannot acquire%s", "");
    printf("ACQUIRED holder token=%lld wall_ms=%lld\n", tok, wall_ms());
    fflush(stdout);
    double t0 = now_ms();
    sleep_ms(work_ms); /* the "work"; bench/lock-compare stops us here */
    if (is(&l, "zk"))
        printf("WOKE holder after %.0f ms; zklock says the lock is %s\n", now_ms() - t0,
               zk_state(&l));
    else
        printf("WOKE holder after %.0f ms\n", now_ms() - t0);
    lk_write(&l, tok, "holder");
    fflush(stdout);
    int rc = lk_release(&l);
    printf("RELEASED holder rc=%d%s%s\n", rc, is(&l, "zk") ? " state=" : "",
           is(&l, "zk") ? zk_state(&l) : "");
    return 0;
}

static int cmd_grab(const char *kind, int timeout_ms)
{
    struct lk l;
    lk_open(&l, kind);
    long long tok;
    printf("WAITING grabber wall_ms=%lld\n", wall_ms());
    fflush(stdout);
    int rc = lk_acquire(&l, timeout_ms, &tok);
    if (rc != 0) {
        printf("TIMEOUT grabber rc=%d wall_ms=%lld (no lock within %d ms)\n", rc, wall_ms(),
               timeout_ms);
        return 1;
    }
    printf("ACQUIRED grabber token=%lld wall_ms=%lld\n", tok, wall_ms());
    lk_write(&l, tok, "grabber");
    fflush(stdout);
    lk_release(&l);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    if (argc == 4 && !strcmp(argv[1], "cycles"))
        return cmd_cycles(argv[2], atof(argv[3]));
    if (argc == 4 && !strcmp(argv[1], "hold"))
        return cmd_hold(argv[2], atoi(argv[3]));
    if (argc == 4 && !strcmp(argv[1], "grab"))
        return cmd_grab(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: lockcmp cycles|hold|grab BACKEND SECONDS|WORK_MS|TIMEOUT_MS\n");
    return 2;
}
