/* zabctl: command-line tool for zabkeeper and any ZooKeeper-protocol ensemble. This file holds
 * main: global options (--servers or $ZABKEEPER_SERVERS, timeouts), connect-string checking,
 * connecting with clear messages, and dispatch to the commands. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/zabctl.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zabctl [-s HOSTS] [--session-timeout MS] [--connect-timeout MS] [-v] CMD ...\n"
            "  HOSTS: host:port[,host:port...][/chroot]; default $ZABKEEPER_SERVERS\n"
            "commands:\n"
            "  ls PATH                    list children\n"
            "  get PATH                   print data\n"
            "  set PATH DATA [-v VERSION] set data\n"
            "  create [-e] [-s] [-c] PATH [DATA]  create (ephemeral, sequential, container)\n"
            "  delete [-r] PATH           delete (recursively with -r)\n"
            "  stat PATH                  print the node's stat\n"
            "  watch [-n COUNT] PATH      print data/children events of PATH\n"
            "  mntr | srvr                ask every member (four-letter words)\n"
            "  status [--json] [--no-discover]  the ensemble at a glance: each member's mode,\n"
            "                             zxid, lag, connections, latency; exit 8 without quorum\n"
            "  lock [--timeout S] [--read|--write|--permits N] NAME -- CMD [ARGS...]\n"
            "  elect [--timeout S] [--id ID] NAME -- CMD [ARGS...]\n"
            "  members                    the ensemble's configuration and its version\n"
            "  reconfig [--add 'server.N=host:peer:election[:role];clientPort'] [--remove N]\n"
            "           [--members LIST] [--from-config VERSION] [--auth digest:USER:PASSWORD]\n"
            "exit codes: 0 ok, 1 error, 2 usage, 3 bad connect string, 4 unreachable,\n"
            "  5 no node, 6 node exists, 7 not empty, 8 no quorum (status), 124 lock timeout,\n"
            "  125 lock lost, 126/127 CMD not executable/not found; lock/elect otherwise\n"
            "  return CMD's status\n");
}

/* host:port[,host:port...][/chroot] with a numeric port 1..65535 */
static int valid_connect_string(const char *s)
{
    const char *end = strchr(s, '/');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    if (len == 0)
        return 0;
    const char *p = s;
    while (p < s + len) {
        const char *comma = memchr(p, ',', (size_t)(s + len - p));
        const char *stop = comma ? comma : s + len;
        const char *colon = NULL;
        for (const char *q = p; q < stop; q++)
            if (*q == ':')
                colon = q;
        if (colon == NULL || colon == p || colon + 1 >= stop)
            return 0;
        long port = 0;
        for (const char *q = colon + 1; q < stop; q++) {
            if (!isdigit((unsigned char)*q) || (port = port * 10 + (*q - '0')) > 65535)
                return 0;
        }
        if (port == 0)
            return 0;
        p = stop + 1;
    }
    return 1;
}

zkl_client *zabctl_connect(const struct zabctl_opts *o, int *exit_code)
{
    if (o->servers == NULL || !valid_connect_string(o->servers)) {
        fprintf(stderr, "zabctl: bad connect string '%s' (want host:port[,host:port...])\n",
                o->servers ? o->servers : "");
        *exit_code = ZC_BADCONNECT;
        return NULL;
    }
    int st;
    zkl_client *c = zkl_client_new(o->servers, o->session_timeout_ms, o->connect_timeout_ms, &st);
    if (c != NULL)
        return c;
    if (st == ZKL_ETIMEOUT) {
        fprintf(stderr, "zabctl: ensemble %s unreachable (no session within %d ms)\n",
                o->servers, o->connect_timeout_ms);
        *exit_code = ZC_UNREACHABLE;
    } else {
        fprintf(stderr, "zabctl: cannot connect to '%s': %s\n", o->servers, zkl_strerror(st));
        *exit_code = st == ZKL_ECONNECT ? ZC_BADCONNECT : ZC_ERROR;
    }
    return NULL;
}

int zabctl_zk_fail(const char *what, const char *path, int rc)
{
    fprintf(stderr, "zabctl: %s %s: %s\n", what, path, zerror(rc));
    switch (rc) {
    case ZNONODE: return ZC_NONODE;
    case ZNODEEXISTS: return ZC_NODEEXISTS;
    case ZNOTEMPTY: return ZC_NOTEMPTY;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED: return ZC_UNREACHABLE;
    default: return ZC_ERROR;
    }
}

int zabctl_parse_seconds(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || v < 0 || v > 1e6)
        return -1;
    return (int)(v * 1000);
}

static int parse_ms(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v <= 0 || v > 3600000)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_globals(int argc, char **argv, struct zabctl_opts *o)
{
    static const struct option longs[] = {
        {"servers", required_argument, NULL, 's'},
        {"session-timeout", required_argument, NULL, 'T'},
        {"connect-timeout", required_argument, NULL, 'C'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "+s:vh", longs, NULL)) != -1) {
        switch (ch) {
        case 's': o->servers = optarg; break;
        case 'T': if (parse_ms(optarg, &o->session_timeout_ms) != 0) return -1; break;
        case 'C': if (parse_ms(optarg, &o->connect_timeout_ms) != 0) return -1; break;
        case 'v': o->verbose++; break;
        case 'h': usage(stdout); exit(ZC_OK);
        default: return -1;
        }
    }
    return optind;
}

static int dispatch(const struct zabctl_opts *o, int argc, char **argv)
{
    const char *cmd = argv[0];
    if (strcmp(cmd, "ls") == 0) return cmd_ls(o, argc, argv);
    if (strcmp(cmd, "get") == 0) return cmd_get(o, argc, argv);
    if (strcmp(cmd, "set") == 0) return cmd_set(o, argc, argv);
    if (strcmp(cmd, "create") == 0) return cmd_create(o, argc, argv);
    if (strcmp(cmd, "delete") == 0 || strcmp(cmd, "rm") == 0) return cmd_delete(o, argc, argv);
    if (strcmp(cmd, "stat") == 0) return cmd_stat(o, argc, argv);
    if (strcmp(cmd, "watch") == 0) return cmd_watch(o, argc, argv);
    if (strcmp(cmd, "mntr") == 0 || strcmp(cmd, "srvr") == 0 || strcmp(cmd, "ruok") == 0)
        return cmd_4lw(o, cmd, argc, argv);
    if (strcmp(cmd, "status") == 0) return cmd_status(o, argc, argv);
    if (strcmp(cmd, "lock") == 0) return cmd_lock(o, argc, argv);
    if (strcmp(cmd, "elect") == 0) return cmd_elect(o, argc, argv);
    if (strcmp(cmd, "members") == 0) return cmd_members(o, argc, argv);
    if (strcmp(cmd, "reconfig") == 0) return cmd_reconfig(o, argc, argv);
    fprintf(stderr, "zabctl: unknown command '%s'\n", cmd);
    usage(stderr);
    return ZC_USAGE;
}

int main(int argc, char **argv)
{
    struct zabctl_opts o = {
        .servers = getenv("ZABKEEPER_SERVERS"),
        .session_timeout_ms = 10000,
        .connect_timeout_ms = 5000,
    };
    int first = parse_globals(argc, argv, &o);
    if (first < 0 || first >= argc) {
        usage(stderr);
        return ZC_USAGE;
    }
    zoo_set_debug_level(o.verbose ? ZOO_LOG_LEVEL_INFO : (ZooLogLevel)0);
    if (!o.verbose) {
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull != NULL)
            zoo_set_log_stream(devnull);
    }
    optind = 0; /* commands re-initialise getopt on their own argv */
    return dispatch(&o, argc - first, argv + first);
}
