/* Unit tests of src/server/sdnotify.c: the datagrams sent to NOTIFY_SOCKET (ready, stopping, a
 * formatted and a truncated status), and silence when NOTIFY_SOCKET is unset. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/sdnotify.h"

static int sock = -1;
static char path[108];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/zk-sdnotify-test.%d", (int)getpid());
    unlink(path);
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert(sock >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    cr_assert_eq(bind(sock, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {.tv_sec = 5}; /* a missing datagram fails the test, bounded */
    cr_assert_eq(setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    cr_assert_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
}

static void teardown(void)
{
    close(sock);
    unlink(path);
    unsetenv("NOTIFY_SOCKET");
}

/* The next datagram, NUL-terminated; its length. */
static ssize_t next(char *buf, size_t cap)
{
    ssize_t n = recv(sock, buf, cap - 1, 0);
    cr_assert(n >= 0, "no datagram within 5 s");
    buf[n] = '\0';
    return n;
}

TestSuite(sdnotify, .init = setup, .fini = teardown);

Test(sdnotify, ready_stopping_and_status)
{
    char buf[1024];
    sdnotify_ready();
    next(buf, sizeof buf);
    cr_assert_str_eq(buf, "READY=1\nSTATUS=serving clients");
    sdnotify_status("following leader %d of epoch %u", 3, 7u);
    next(buf, sizeof buf);
    cr_assert_str_eq(buf, "STATUS=following leader 3 of epoch 7");
    sdnotify_stopping();
    next(buf, sizeof buf);
    cr_assert_str_eq(buf, "STOPPING=1\nSTATUS=shutting down");
}

Test(sdnotify, long_status_is_truncated_not_dropped)
{
    char big[2000], buf[2048];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sdnotify_status("%s", big);
    ssize_t n = next(buf, sizeof buf);
    cr_assert_eq(n, 511);
    cr_assert_eq(strncmp(buf, "STATUS=xxx", 10), 0);
}

Test(sdnotify, nothing_sent_without_notify_socket)
{
    cr_assert_eq(unsetenv("NOTIFY_SOCKET"), 0);
    sdnotify_ready();
    sdnotify_status("x");
    sdnotify_stopping();
    char buf[64];
    cr_assert_eq(recv(sock, buf, sizeof buf, MSG_DONTWAIT), -1, "a datagram was sent");
}
