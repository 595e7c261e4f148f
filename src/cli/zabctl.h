/* zabctl internals: exit codes, global options and the command entry points shared by the
 * zabctl sources (main in zabctl.c, node commands in cmd_node.c, 4lw in cmd_4lw.c, lock/elect
 * in cmd_lock.c). Exit codes are documented in docs/zabctl.md. */
#ifndef ZABCTL_H
#define ZABCTL_H

#include "zklock.h"

enum zabctl_exit {
    ZC_OK = 0,
    ZC_ERROR = 1,        /* any other ZooKeeper or system error */
    ZC_USAGE = 2,        /* bad command line */
    ZC_BADCONNECT = 3,   /* malformed connect string */
    ZC_UNREACHABLE = 4,  /* no member answered within --connect-timeout, or connection lost */
    ZC_NONODE = 5,       /* the node does not exist */
    ZC_NODEEXISTS = 6,   /* create: the node already exists */
    ZC_NOTEMPTY = 7,     /* delete: the node has children (use -r) */
    ZC_NOQUORUM = 8,     /* status: no leader serving with a quorum of the voters */
    ZC_TIMEOUT = 124,    /* lock/elect: --timeout passed before the lock was acquired */
    ZC_LOST = 125,       /* lock/elect: the lock was lost while CMD ran (CMD was signalled) */
    ZC_NOEXEC = 126,     /* lock/elect: CMD found but not executable */
    ZC_NOTFOUND = 127,   /* lock/elect: CMD not found */
};

struct zabctl_opts {
    const char *servers;
    int session_timeout_ms;
    int connect_timeout_ms;
    int verbose;
};

/* Connect or print a clear message; returns NULL and sets *exit_code on failure. */
zkl_client *zabctl_connect(const struct zabctl_opts *o, int *exit_code);
/* Print "zabctl: WHAT PATH: <zerror>" and map a ZooKeeper rc to an exit code. */
int zabctl_zk_fail(const char *what, const char *path, int rc);
/* A non-blocking TCP connection to host:port (a name or an address; IPv6 without brackets)
 * made within timeout_ms; -1 when it failed (errno says why: ETIMEDOUT, ECONNREFUSED, ...), -2
 * when host does not resolve. */
int zabctl_tcp_connect(const char *host, const char *port, int timeout_ms);
/* Parse a duration in seconds ("2", "0.5") to ms; -1 on error. */
int zabctl_parse_seconds(const char *s);

int cmd_ls(const struct zabctl_opts *o, int argc, char **argv);
int cmd_get(const struct zabctl_opts *o, int argc, char **argv);
int cmd_set(const struct zabctl_opts *o, int argc, char **argv);
int cmd_create(const struct zabctl_opts *o, int argc, char **argv);
int cmd_delete(const struct zabctl_opts *o, int argc, char **argv);
int cmd_stat(const struct zabctl_opts *o, int argc, char **argv);
int cmd_watch(const struct zabctl_opts *o, int argc, char **argv);
int cmd_status(const struct zabctl_opts *o, int argc, char **argv);
int cmd_4lw(const struct zabctl_opts *o, const char *word, int argc, char **argv);
int cmd_lock(const struct zabctl_opts *o, int argc, char **argv);
int cmd_elect(const struct zabctl_opts *o, int argc, char **argv);
int cmd_members(const struct zabctl_opts *o, int argc, char **argv);
int cmd_reconfig(const struct zabctl_opts *o, int argc, char **argv);

#endif
