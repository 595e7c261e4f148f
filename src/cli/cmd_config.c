/* zabctl members and reconfig: the ensemble's configuration (/zookeeper/config through the C
 * client's zoo_getconfig) and ZooKeeper 3.5+ dynamic reconfiguration (zoo_reconfig), which needs
 * the super user or WRITE on /zookeeper/config: --auth digest:USER:PASSWORD. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/zabctl.h"

#define CONFIG_MAX (64 * 1024)
#define JOIN_MAX 4096

struct auth_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
};

static void auth_done(int rc, const void *data)
{
    struct auth_wait *w = (struct auth_wait *)data;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->rc = rc;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* "scheme:credential", e.g. digest:super:secret. Returns a ZooKeeper rc. */
static int add_auth(zhandle_t *zh, const char *spec)
{
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec)
        return ZBADARGUMENTS;
    char scheme[64];
    snprintf(scheme, sizeof scheme, "%.*s", (int)(colon - spec), spec);
    struct auth_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int rc = zoo_add_auth(zh, scheme, colon + 1, (int)strlen(colon + 1), auth_done, &w);
    if (rc != ZOK)
        return rc;
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return w.rc;
}

static int print_config(zhandle_t *zh)
{
    char *buf = malloc(CONFIG_MAX);
    if (!buf)
        return ZC_ERROR;
    int len = CONFIG_MAX;
    struct Stat st;
    int rc = zoo_getconfig(zh, 0, buf, &len, &st);
    if (rc == ZOK) {
        fwrite(buf, 1, len > 0 ? (size_t)len : 0, stdout);
        putchar('\n');
    }
    free(buf);
    return rc == ZOK ? ZC_OK : zabctl_zk_fail("members", "/zookeeper/config", rc);
}

int cmd_members(const struct zabctl_opts *o, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "zabctl members: no arguments expected\n");
        return ZC_USAGE;
    }
    int code;
    zkl_client *c = zabctl_connect(o, &code);
    if (!c)
        return code;
    code = print_config(zkl_client_handle(c));
    zkl_client_free(c);
    return code;
}

struct reconfig_args {
    char joining[JOIN_MAX], leaving[JOIN_MAX];
    const char *members, *auth;
    long long from;
};

static int append(char *list, const char *item)
{
    size_t used = strlen(list);
    int w = snprintf(list + used, JOIN_MAX - used, "%s%s", used ? "," : "", item);
    return w < 0 || (size_t)w >= JOIN_MAX - used ? -1 : 0;
}

static int parse_reconfig(int argc, char **argv, struct reconfig_args *a)
{
    static const struct option longs[] = {
        {"add", required_argument, NULL, 'a'},     {"remove", required_argument, NULL, 'r'},
        {"members", required_argument, NULL, 'm'}, {"from-config", required_argument, NULL, 'f'},
        {"auth", required_argument, NULL, 'u'},    {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->from = -1;
    int ch;
    while ((ch = getopt_long(argc, argv, "+a:r:m:f:u:", longs, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'a': if (append(a->joining, optarg)) return -1; break;
        case 'r': if (append(a->leaving, optarg)) return -1; break;
        case 'm': a->members = optarg; break;
        case 'u': a->auth = optarg; break;
        case 'f':
            a->from = strtoll(optarg, &end, 0);
            if (*end || end == optarg)
                return -1;
            break;
        default: return -1;
        }
    }
    bool incremental = a->joining[0] || a->leaving[0];
    return optind == argc && (incremental != (a->members != NULL)) ? 0 : -1;
}

static int run_reconfig(zhandle_t *zh, const struct reconfig_args *a)
{
    if (a->auth) {
        int rc = add_auth(zh, a->auth);
        if (rc != ZOK)
            return zabctl_zk_fail("reconfig: auth", a->auth, rc);
    }
    char *buf = malloc(CONFIG_MAX);
    if (!buf)
        return ZC_ERROR;
    int len = CONFIG_MAX;
    struct Stat st;
    int rc = zoo_reconfig(zh, a->joining[0] ? a->joining : NULL,
                          a->leaving[0] ? a->leaving : NULL, a->members, a->from, buf, &len, &st);
    if (rc == ZOK) {
        fwrite(buf, 1, len > 0 ? (size_t)len : 0, stdout);
        putchar('\n');
    }
    free(buf);
    return rc == ZOK ? ZC_OK : zabctl_zk_fail("reconfig", "/zookeeper/config", rc);
}

int cmd_reconfig(const struct zabctl_opts *o, int argc, char **argv)
{
    struct reconfig_args a;
    if (parse_reconfig(argc, argv, &a) != 0) {
        fprintf(stderr, "zabctl reconfig: give --add SERVER / --remove ID (repeatable) or "
                        "--members LIST, and optionally --from-config VERSION, --auth "
                        "SCHEME:CRED\n");
        return ZC_USAGE;
    }
    int code;
    zkl_client *c = zabctl_connect(o, &code);
    if (!c)
        return code;
    code = run_reconfig(zkl_client_handle(c), &a);
    zkl_client_free(c);
    return code;
}
