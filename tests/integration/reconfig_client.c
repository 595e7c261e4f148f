/* The C client's membership calls against a running ensemble (issue 13), driven by
 * test_membership.py (test_c_client):
 *
 *   integ_reconfig_client HOSTS JOINER_LINE JOINER_ID
 *
 * zoo_getconfig / zoo_wgetconfig read /zookeeper/config; zoo_reconfig without auth is NoAuth, a
 * malformed server string BadArguments; with super:test it adds JOINER_LINE (a member that runs
 * and follows as a learner) and the watch set by zoo_wgetconfig fires; a stale version is
 * BadVersion; removing the joiner with the current version works and getconfig agrees with the
 * answer. Prints one line per step; exit 0 when every step passed, 1 at the first failure. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#define BUF 8192

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int auth_rc = 1;      /* 1 until the auth completion runs */
static int config_event = 0; /* set by the getconfig watcher */

#define FAIL(...)                                                                                 \
    do {                                                                                          \
        printf("FAIL: ");                                                                         \
        printf(__VA_ARGS__);                                                                      \
        printf("\n");                                                                             \
        fflush(stdout);                                                                           \
        exit(1);                                                                                  \
    } while (0)

static void ok(const char *what)
{
    printf("ok: %s\n", what);
    fflush(stdout);
}

static void global_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)type, (void)state, (void)path, (void)ctx;
}

static void config_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)state, (void)ctx;
    if (type == ZOO_CHANGED_EVENT && path && !strcmp(path, ZOO_CONFIG_NODE)) {
        pthread_mutex_lock(&mu);
        config_event = 1;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
}

static void auth_done(int rc, const void *data)
{
    (void)data;
    pthread_mutex_lock(&mu);
    auth_rc = rc;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Waits until *flag != unset or `seconds` pass; returns the flag. */
static int wait_flag(int *flag, int unset, int seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&mu);
    while (*flag == unset && pthread_cond_timedwait(&cv, &mu, &deadline) == 0)
        ;
    int v = *flag;
    pthread_mutex_unlock(&mu);
    return v;
}

/* version=<hex> of a configuration text; -1 when absent. */
static int64_t version_of(const char *text)
{
    const char *v = strstr(text, "version=");
    if (!v || (v != text && v[-1] != '\n'))
        return -1;
    return (int64_t)strtoll(v + 8, NULL, 16);
}

static int count_servers(const char *text)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, "server.")) != NULL; p++)
        if (p == text || p[-1] == '\n')
            n++;
    return n;
}

/* Calls zoo_reconfig; on ZOK the answer is in buf (NUL-terminated) and *stat. */
static int reconfig(zhandle_t *zh, const char *joining, const char *leaving, int64_t version,
                    char *buf, struct Stat *stat)
{
    int len = BUF - 1;
    int rc = zoo_reconfig(zh, joining, leaving, NULL, version, buf, &len, stat);
    buf[rc == ZOK && len >= 0 ? len : 0] = '\0';
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOSTS JOINER_LINE JOINER_ID\n", argv[0]);
        return 2;
    }
    const char *hosts = argv[1], *joiner = argv[2], *joiner_id = argv[3];
    char joiner_key[32];
    snprintf(joiner_key, sizeof joiner_key, "server.%s=", joiner_id);
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    zhandle_t *zh = zookeeper_init(hosts, global_watcher, 10000, NULL, NULL, 0);
    if (!zh)
        FAIL("zookeeper_init(%s)", hosts);
    for (int i = 0; i < 300 && zoo_state(zh) != ZOO_CONNECTED_STATE; i++)
        usleep(50000);
    if (zoo_state(zh) != ZOO_CONNECTED_STATE)
        FAIL("not connected to %s after 15 s", hosts);
    ok("connected");

    static char buf[BUF], first[BUF], answer[BUF];
    struct Stat stat;
    int len = BUF - 1;
    int rc = zoo_getconfig(zh, 0, first, &len, &stat);
    if (rc != ZOK || len <= 0)
        FAIL("zoo_getconfig: %s (len %d)", zerror(rc), len);
    first[len] = '\0';
    int64_t v0 = version_of(first);
    if (v0 < 0 || count_servers(first) != 3 || strstr(first, joiner_key))
        FAIL("zoo_getconfig: unexpected configuration:\n%s", first);
    printf("ok: zoo_getconfig: 3 servers, version %" PRIx64 "\n", (uint64_t)v0);

    rc = reconfig(zh, joiner, NULL, -1, buf, &stat);
    if (rc != ZNOAUTH)
        FAIL("zoo_reconfig without auth: %s, expected ZNOAUTH", zerror(rc));
    ok("zoo_reconfig without auth: ZNOAUTH");

    const char *cred = "super:test";
    rc = zoo_add_auth(zh, "digest", cred, (int)strlen(cred), auth_done, NULL);
    if (rc != ZOK || wait_flag(&auth_rc, 1, 15) != ZOK)
        FAIL("zoo_add_auth digest super:test: %s / %d", zerror(rc), auth_rc);
    ok("zoo_add_auth digest super:test");

    rc = reconfig(zh, "server.9=not-a-server-string", NULL, -1, buf, &stat);
    if (rc != ZBADARGUMENTS)
        FAIL("zoo_reconfig with a malformed server: %s, expected ZBADARGUMENTS", zerror(rc));
    ok("zoo_reconfig with a malformed server string: ZBADARGUMENTS");

    len = BUF - 1;
    rc = zoo_wgetconfig(zh, config_watcher, NULL, buf, &len, &stat);
    if (rc != ZOK)
        FAIL("zoo_wgetconfig: %s", zerror(rc));
    ok("zoo_wgetconfig with a watcher");

    rc = reconfig(zh, joiner, NULL, v0, answer, &stat);
    if (rc != ZOK)
        FAIL("zoo_reconfig adding %s from version %" PRIx64 ": %s", joiner, (uint64_t)v0,
             zerror(rc));
    int64_t v1 = version_of(answer);
    if (count_servers(answer) != 4 || !strstr(answer, joiner_key) || v1 <= v0 ||
        stat.mzxid != v1)
        FAIL("zoo_reconfig add: unexpected answer (mzxid %" PRIx64 "):\n%s",
             (uint64_t)stat.mzxid, answer);
    printf("ok: zoo_reconfig added server.%s: version %" PRIx64 "\n", joiner_id, (uint64_t)v1);

    if (!wait_flag(&config_event, 0, 15))
        FAIL("the zoo_wgetconfig watcher did not fire within 15 s of the reconfig");
    ok("the getconfig watch fired");

    rc = reconfig(zh, NULL, joiner_id, v0, buf, &stat);
    if (rc != ZBADVERSION)
        FAIL("zoo_reconfig from the stale version %" PRIx64 ": %s, expected ZBADVERSION",
             (uint64_t)v0, zerror(rc));
    ok("zoo_reconfig from a stale version: ZBADVERSION");

    rc = reconfig(zh, NULL, joiner_id, v1, answer, &stat);
    int64_t v2 = version_of(answer);
    if (rc != ZOK || count_servers(answer) != 3 || strstr(answer, joiner_key) || v2 <= v1)
        FAIL("zoo_reconfig removing %s from version %" PRIx64 ": %s\n%s", joiner_id,
             (uint64_t)v1, zerror(rc), answer);
    printf("ok: zoo_reconfig removed server.%s: version %" PRIx64 "\n", joiner_id, (uint64_t)v2);

    /* the member the client is connected to may apply the commit a moment after the leader
     * answered: poll until it shows the answer */
    for (int i = 0;; i++) {
        len = BUF - 1;
        rc = zoo_getconfig(zh, 0, buf, &len, &stat);
        if (rc == ZOK && len >= 0) {
            buf[len] = '\0';
            if (!strcmp(buf, answer))
                break;
        }
        if (i == 100)
            FAIL("zoo_getconfig after the removal: %s\n%s\nexpected\n%s", zerror(rc), buf,
                 answer);
        usleep(100000);
    }
    ok("zoo_getconfig shows the removal");
    zookeeper_close(zh);
    printf("PASS\n");
    return 0;
}
