/* zabctl mntr / srvr / ruok: send the four-letter word to every member of the connect string
 * over plain TCP and print each answer under a "== host:port ==" header (ensemble health at a
 * glance: mode (leader/follower), zxid, connections). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/zabctl.h"

int zabctl_tcp_connect(const char *host, const char *port, int timeout_ms)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -2;
    int fd = -1, last_err = ECONNREFUSED;
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            last_err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno != EINPROGRESS) {
            last_err = errno;
            close(fd);
            fd = -1;
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0, ready = poll(&p, 1, timeout_ms);
        socklen_t len = sizeof err;
        if (ready != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            last_err = ready == 0 ? ETIMEDOUT : err != 0 ? err : errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        errno = last_err;
    return fd;
}

/* Send `word`, print the whole answer. Returns 0 if the member answered. */
static int ask(const char *host, const char *port, const char *word, int timeout_ms)
{
    int fd = zabctl_tcp_connect(host, port, timeout_ms);
    if (fd < 0)
        return -1;
    int answered = -1;
    if (write(fd, word, 4) == 4) {
        char buf[4096];
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (poll(&p, 1, timeout_ms) == 1) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0)
                break;
            fwrite(buf, 1, (size_t)n, stdout);
            answered = 0;
        }
    }
    close(fd);
    return answered;
}

int cmd_4lw(const struct zabctl_opts *o, const char *word, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return ZC_USAGE;
    if (o->servers == NULL || *o->servers == '\0') {
        fprintf(stderr, "zabctl: no servers (use -s or ZABKEEPER_SERVERS)\n");
        return ZC_BADCONNECT;
    }
    char *list = strdup(o->servers), *save = NULL;
    if (list == NULL)
        return ZC_ERROR;
    char *slash = strchr(list, '/');
    if (slash != NULL)
        *slash = '\0'; /* drop a chroot */
    int ok = 0, members = 0;
    for (char *m = strtok_r(list, ",", &save); m != NULL; m = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(m, ':');
        members++;
        printf("== %s ==\n", m);
        if (colon == NULL) {
            printf("(bad member: no port)\n");
            continue;
        }
        *colon = '\0';
        if (ask(m, colon + 1, word, o->connect_timeout_ms) == 0)
            ok++;
        else
            printf("(unreachable)\n");
        fflush(stdout);
    }
    free(list);
    if (ok == 0) {
        fprintf(stderr, "zabctl %s: none of %d member(s) answered\n", word, members);
        return ZC_UNREACHABLE;
    }
    return ZC_OK;
}
