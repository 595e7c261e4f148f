/* zabkeeper [-Dname=value ...] CONFIG: load a zoo.cfg-style file and run one member until
 * SIGTERM. -D properties (also taken from SERVER_JVMFLAGS and JVMFLAGS, as ZooKeeper's
 * zkServer.sh passes them) are the JVM system properties ZooKeeper reads (config.h).
 * zabkeeper --import-zookeeper ...: migrate a ZooKeeper member's state (src/import). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "import/zkimport.h"
#include "server/config.h"
#include "server/server.h"

#define PROPS_MAX 256

struct props {
    const char *items[PROPS_MAX];
    int count;
    char *env_copy[2];
};

static int add_prop(struct props *p, const char *arg)
{
    if (p->count == PROPS_MAX) {
        fprintf(stderr, "zabkeeper: more than %d -D properties\n", PROPS_MAX);
        return -1;
    }
    p->items[p->count++] = arg + 2;
    return 0;
}

/* The -D words of an environment variable; other JVM options (-Xmx...) mean nothing here. */
static int env_props(struct props *p, const char *var, int slot)
{
    const char *v = getenv(var);
    if (!v || !*v)
        return 0;
    p->env_copy[slot] = strdup(v);
    if (!p->env_copy[slot])
        return -1;
    for (char *save = NULL, *w = strtok_r(p->env_copy[slot], " \t\n", &save); w;
         w = strtok_r(NULL, " \t\n", &save)) {
        if (!strncmp(w, "-D", 2) && w[2]) {
            if (add_prop(p, w) != 0)
                return -1;
        } else {
            ZK_INFO("%s: JVM option %s has no meaning for zabkeeper; ignored", var, w);
        }
    }
    return 0;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-Dname=value ...] CONFIG\n       %s --import-zookeeper "
                    "ZK_DATA_DIR [ZK_DATALOG_DIR] CONFIG\n  CONFIG: a zoo.cfg-style file\n",
            prog, prog);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--import-zookeeper"))
        return zkimport_main(argc, argv);
    static struct props props;
    const char *path = NULL;
    /* zkServer.sh order: SERVER_JVMFLAGS, JVMFLAGS, then the command line; later wins. */
    if (env_props(&props, "SERVER_JVMFLAGS", 0) != 0 || env_props(&props, "JVMFLAGS", 1) != 0)
        return 2;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "-D", 2) && argv[i][2]) {
            if (add_prop(&props, argv[i]) != 0)
                return 2;
        } else if (!path && strcmp(argv[i], "-h") && strcmp(argv[i], "--help")) {
            path = argv[i];
        } else {
            return usage(argv[0]);
        }
    }
    if (!path)
        return usage(argv[0]);
    static struct zk_config cfg;
    char err[1024];
    struct config_props cp = {props.items, props.count};
    if (config_load(path, &cp, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "zabkeeper: bad configuration: %s\n", err);
        return 2;
    }
    free(props.env_copy[0]);
    free(props.env_copy[1]);
    if (cfg.myid) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "zk%d", cfg.myid);
        zk_log_set_prefix(prefix);
    }
    static struct server s;
    int rc = server_init(&s, &cfg);
    if (rc == 0)
        rc = server_run(&s);
    server_destroy(&s);
    ZK_INFO("stopped");
    return rc == 0 ? 0 : 1;
}
