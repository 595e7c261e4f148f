/* zabkeeper CONFIG: load a zoo.cfg-style file and run one member until SIGTERM.
 * zabkeeper --import-zookeeper ...: migrate a ZooKeeper member's state (src/import). */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "import/zkimport.h"
#include "server/config.h"
#include "server/server.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--import-zookeeper"))
        return zkimport_main(argc, argv);
    if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: %s CONFIG\n       %s --import-zookeeper ZK_DATA_DIR "
                        "[ZK_DATALOG_DIR] CONFIG\n  CONFIG: a zoo.cfg-style file\n",
                argv[0], argv[0]);
        return 2;
    }
    static struct zk_config cfg;
    char err[512];
    if (config_load(argv[1], &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "zabkeeper: bad configuration: %s\n", err);
        return 2;
    }
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
