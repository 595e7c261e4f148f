/* zabctl node commands: ls, get, set, create, delete (-r), stat and watch, each a thin layer over
 * the synchronous ZooKeeper C API with clear messages and exit codes. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/zabctl.h"
#include "common/assert.h"

#define DATA_MAX (1024 * 1024)

static int need_args(int argc, int want_min, int want_max, const char *cmd)
{
    if (argc >= want_min && argc <= want_max)
        return 0;
    fprintf(stderr, "zabctl %s: wrong number of arguments (see zabctl --help)\n", cmd);
    return -1;
}

/* Connect, run fn(zh, argv...), close. */
typedef int (*node_fn)(zhandle_t *zh, int argc, char **argv);

static int with_client(const struct zabctl_opts *o, node_fn fn, int argc, char **argv)
{
    int code;
    zkl_client *c = zabctl_connect(o, &code);
    if (c == NULL)
        return code;
    code = fn(zkl_client_handle(c), argc, argv);
    zkl_client_free(c);
    return code;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_ls(zhandle_t *zh, int argc, char **argv)
{
    (void)argc;
    struct String_vector kids = {0, NULL};
    int rc = zoo_get_children(zh, argv[1], 0, &kids);
    if (rc != ZOK)
        return zabctl_zk_fail("ls", argv[1], rc);
    if (kids.count > 0)
        qsort(kids.data, (size_t)kids.count, sizeof *kids.data, cmp_str);
    for (int i = 0; i < kids.count; i++)
        printf("%s\n", kids.data[i]);
    deallocate_String_vector(&kids);
    return ZC_OK;
}

int cmd_ls(const struct zabctl_opts *o, int argc, char **argv)
{
    return need_args(argc, 2, 2, "ls") ? ZC_USAGE : with_client(o, do_ls, argc, argv);
}

static int do_get(zhandle_t *zh, int argc, char **argv)
{
    (void)argc;
    char *buf = malloc(DATA_MAX);
    if (buf == NULL)
        return ZC_ERROR;
    int len = DATA_MAX;
    int rc = zoo_get(zh, argv[1], 0, buf, &len, NULL);
    if (rc == ZOK && len > 0)
        fwrite(buf, 1, (size_t)len, stdout);
    if (rc == ZOK)
        putchar('\n');
    free(buf);
    return rc == ZOK ? ZC_OK : zabctl_zk_fail("get", argv[1], rc);
}

int cmd_get(const struct zabctl_opts *o, int argc, char **argv)
{
    return need_args(argc, 2, 2, "get") ? ZC_USAGE : with_client(o, do_get, argc, argv);
}

static int do_set(zhandle_t *zh, int argc, char **argv)
{
    int version = argc > 3 ? atoi(argv[3]) : -1;
    int rc = zoo_set(zh, argv[1], argv[2], (int)strlen(argv[2]), version);
    return rc == ZOK ? ZC_OK : zabctl_zk_fail("set", argv[1], rc);
}

int cmd_set(const struct zabctl_opts *o, int argc, char **argv)
{
    /* set PATH DATA [VERSION] */
    return need_args(argc, 3, 4, "set") ? ZC_USAGE : with_client(o, do_set, argc, argv);
}

static int create_mode = 0;

static int do_create(zhandle_t *zh, int argc, char **argv)
{
    const char *data = argc > 2 ? argv[2] : NULL;
    char created[1024];
    int rc = zoo_create(zh, argv[1], data, data ? (int)strlen(data) : -1, &ZOO_OPEN_ACL_UNSAFE,
                        create_mode, created, sizeof created);
    if (rc != ZOK)
        return zabctl_zk_fail("create", argv[1], rc);
    printf("%s\n", created);
    return ZC_OK;
}

int cmd_create(const struct zabctl_opts *o, int argc, char **argv)
{
    int eph = 0, seq = 0, cont = 0, ch;
    while ((ch = getopt(argc, argv, "esc")) != -1) {
        if (ch == 'e') eph = 1;
        else if (ch == 's') seq = 1;
        else if (ch == 'c') cont = 1;
        else return ZC_USAGE;
    }
    if (cont && (eph || seq)) {
        fprintf(stderr, "zabctl create: -c cannot be combined with -e or -s\n");
        return ZC_USAGE;
    }
    create_mode = cont ? ZOO_CONTAINER
                       : eph ? (seq ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL)
                             : (seq ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT);
    if (eph)
        fprintf(stderr, "zabctl create: note: an ephemeral node vanishes when zabctl exits\n");
    argc -= optind - 1;
    argv += optind - 1;
    return need_args(argc, 2, 3, "create") ? ZC_USAGE : with_client(o, do_create, argc, argv);
}

static int delete_tree(zhandle_t *zh, const char *path)
{
    struct String_vector kids = {0, NULL};
    int rc = zoo_get_children(zh, path, 0, &kids);
    for (int i = 0; rc == ZOK && i < kids.count; i++) {
        char child[2048];
        snprintf(child, sizeof child, "%s/%s", strcmp(path, "/") == 0 ? "" : path, kids.data[i]);
        rc = delete_tree(zh, child);
        if (rc == ZNONODE)
            rc = ZOK;
    }
    deallocate_String_vector(&kids);
    if (rc == ZOK && strcmp(path, "/") != 0)
        rc = zoo_delete(zh, path, -1);
    return rc;
}

static int recursive = 0;

static int do_delete(zhandle_t *zh, int argc, char **argv)
{
    (void)argc;
    int rc = recursive ? delete_tree(zh, argv[1]) : zoo_delete(zh, argv[1], -1);
    return rc == ZOK ? ZC_OK : zabctl_zk_fail("delete", argv[1], rc);
}

int cmd_delete(const struct zabctl_opts *o, int argc, char **argv)
{
    int ch;
    while ((ch = getopt(argc, argv, "r")) != -1) {
        if (ch != 'r')
            return ZC_USAGE;
        recursive = 1;
    }
    argc -= optind - 1;
    argv += optind - 1;
    return need_args(argc, 2, 2, "delete") ? ZC_USAGE : with_client(o, do_delete, argc, argv);
}

static void print_stat(const struct Stat *s)
{
    printf("czxid = 0x%" PRIx64 "\nmzxid = 0x%" PRIx64 "\npzxid = 0x%" PRIx64 "\n", s->czxid,
           s->mzxid, s->pzxid);
    printf("ctime = %" PRId64 "\nmtime = %" PRId64 "\n", s->ctime, s->mtime);
    printf("version = %d\ncversion = %d\naversion = %d\n", s->version, s->cversion, s->aversion);
    printf("ephemeralOwner = 0x%" PRIx64 "\ndataLength = %d\nnumChildren = %d\n",
           s->ephemeralOwner, s->dataLength, s->numChildren);
}

static int do_stat(zhandle_t *zh, int argc, char **argv)
{
    (void)argc;
    struct Stat st;
    int rc = zoo_exists(zh, argv[1], 0, &st);
    if (rc != ZOK)
        return zabctl_zk_fail("stat", argv[1], rc);
    print_stat(&st);
    return ZC_OK;
}

int cmd_stat(const struct zabctl_opts *o, int argc, char **argv)
{
    return need_args(argc, 2, 2, "stat") ? ZC_USAGE : with_client(o, do_stat, argc, argv);
}

/* ---- watch: the watcher queues events, the main thread prints and re-arms ------------ */

struct watch_state {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int pending; /* events not yet printed */
    int types[64];
    char paths[64][512];
};

static const char *event_name(int type)
{
    if (type == ZOO_CREATED_EVENT) return "created";
    if (type == ZOO_DELETED_EVENT) return "deleted";
    if (type == ZOO_CHANGED_EVENT) return "changed";
    if (type == ZOO_CHILD_EVENT) return "child";
    if (type == ZOO_NOTWATCHING_EVENT) return "notwatching";
    return "session";
}

static void watch_fn(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    if (type == ZOO_SESSION_EVENT)
        return;
    struct watch_state *w = ctx;
    ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
    if (w->pending < 64) {
        w->types[w->pending] = type;
        snprintf(w->paths[w->pending], sizeof w->paths[0], "%s", path ? path : "");
        w->pending++;
    }
    ZK_ASSERT(pthread_cond_signal(&w->cond) == 0);
    ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
}

static int arm(zhandle_t *zh, const char *path, struct watch_state *w, int type)
{
    int rc = ZOK;
    struct String_vector kids = {0, NULL};
    if (type != ZOO_CHILD_EVENT) /* data watch (or creation watch when absent) */
        rc = zoo_wexists(zh, path, watch_fn, w, NULL);
    if ((rc == ZOK) && type != ZOO_CHANGED_EVENT) {
        rc = zoo_wget_children(zh, path, watch_fn, w, &kids);
        deallocate_String_vector(&kids);
    }
    return rc == ZNONODE ? ZOK : rc;
}

static int watch_loop(zhandle_t *zh, const char *path, long count, struct watch_state *w)
{
    int rc = arm(zh, path, w, 0);
    if (rc != ZOK)
        return zabctl_zk_fail("watch", path, rc);
    printf("watching %s\n", path);
    fflush(stdout);
    for (long seen = 0; count <= 0 || seen < count;) {
        ZK_ASSERT(pthread_mutex_lock(&w->mu) == 0);
        while (w->pending == 0)
            ZK_ASSERT(pthread_cond_wait(&w->cond, &w->mu) == 0);
        int type = w->types[0];
        char ev_path[512];
        snprintf(ev_path, sizeof ev_path, "%s", w->paths[0]);
        memmove(w->types, w->types + 1, sizeof(int) * (size_t)(w->pending - 1));
        memmove(w->paths, w->paths + 1, sizeof w->paths[0] * (size_t)(w->pending - 1));
        w->pending--;
        ZK_ASSERT(pthread_mutex_unlock(&w->mu) == 0);
        printf("%s %s\n", event_name(type), ev_path);
        fflush(stdout);
        seen++;
        int again = type == ZOO_CHILD_EVENT ? ZOO_CHILD_EVENT
                    : type == ZOO_DELETED_EVENT ? 0 : ZOO_CHANGED_EVENT;
        if ((rc = arm(zh, path, w, again)) != ZOK)
            return zabctl_zk_fail("watch", path, rc);
    }
    return ZC_OK;
}

static long watch_count;

static int do_watch(zhandle_t *zh, int argc, char **argv)
{
    (void)argc;
    static struct watch_state w = {.mu = PTHREAD_MUTEX_INITIALIZER,
                                   .cond = PTHREAD_COND_INITIALIZER};
    return watch_loop(zh, argv[1], watch_count, &w);
}

int cmd_watch(const struct zabctl_opts *o, int argc, char **argv)
{
    int ch;
    while ((ch = getopt(argc, argv, "n:")) != -1) {
        if (ch != 'n')
            return ZC_USAGE;
        watch_count = atol(optarg);
    }
    argc -= optind - 1;
    argv += optind - 1;
    return need_args(argc, 2, 2, "watch") ? ZC_USAGE : with_client(o, do_watch, argc, argv);
}
