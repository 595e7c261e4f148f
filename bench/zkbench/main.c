/* zkbench: a load generator for any ZooKeeper-protocol ensemble (zabkeeper or Apache ZooKeeper),
 * built on the official C client. Subcommands:
 *   zkbench ops --connect S --op create|set|get|exists [--clients 16] [--depth 16]
 *               [--seconds 10] [--warmup 1] [--size 100] [--keys 1000]
 *   zkbench lock --connect S --contenders N [--seconds 10] [--warmup 1]
 *   zkbench failover --connect S --kill-cmd CMD [--clients 4] [--warmup 2] [--timeout 60]
 *   zkbench fill --connect S --nodes N [--fanout 1000] [--batch 1] [--size 100] [--clients 4]
 *                [--depth 64]                      (a tree kept for what is measured next)
 *   zkbench sessions --connect S --sessions N [--depth 256] [--hold 0] [--at-peak CMD]
 *   zkbench watches --connect S --nodes N --watchers W [--fanout 1000] [--depth 256]
 *                   [--hold 0] [--at-peak CMD]    (on a tree made by fill)
 * Common: [--root /zkbench] [--timeout 30] (seconds to connect / to wait).
 * Each prints one "RESULT key=value ..." line (latencies in ms) for bench/vs-zookeeper. */
#include <stdio.h>
#include <string.h>

#include "common.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: zkbench ops|lock|failover|fill|sessions|watches --connect HOST:PORT[,...] [options]\n"
            "  ops:      --op create|set|get|exists --clients N --depth N --seconds N\n"
            "            [--warmup N] [--size BYTES] [--keys N]\n"
            "  lock:     --contenders N --seconds N [--warmup N]\n"
            "  failover: --kill-cmd CMD [--clients N] [--warmup N]\n"
            "  fill:     --nodes N [--fanout N] [--batch N] [--size BYTES] [--clients N] [--depth N]\n"
            "  sessions: --sessions N [--depth N] [--hold SECONDS] [--at-peak CMD]\n"
            "  watches:  --nodes N --watchers N [--fanout N] [--depth N] [--hold S] [--at-peak CMD]\n"
            "  common:   [--root PATH] [--timeout SECONDS]\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    struct opts o = {.root = "/zkbench", .clients = 16, .depth = 16, .seconds = 10,
                     .warmup = 1, .size = 100, .keys = 1000, .contenders = 4, .timeout = 30,
                     .fanout = 1000, .batch = 1};
    if (parse_opts(argc - 2, argv + 2, &o) != 0) {
        usage();
        return 2;
    }
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    if (strcmp(argv[1], "ops") == 0)
        return cmd_ops(&o);
    if (strcmp(argv[1], "lock") == 0)
        return cmd_lock(&o);
    if (strcmp(argv[1], "failover") == 0) {
        if (o.warmup < 2)
            o.warmup = 2;
        return cmd_failover(&o);
    }
    /* fill, sessions and watches have their own defaults for what ops uses differently */
    bool depth_set = false, clients_set = false;
    for (int i = 2; i + 1 < argc; i += 2) {
        depth_set |= strcmp(argv[i], "--depth") == 0;
        clients_set |= strcmp(argv[i], "--clients") == 0;
    }
    if (!depth_set)
        o.depth = strcmp(argv[1], "fill") == 0 ? 64 : 256;
    if (!clients_set)
        o.clients = 4;
    if (strcmp(argv[1], "fill") == 0)
        return cmd_fill(&o);
    if (strcmp(argv[1], "sessions") == 0)
        return cmd_sessions(&o);
    if (strcmp(argv[1], "watches") == 0)
        return cmd_watches(&o);
    usage();
    return 2;
}
