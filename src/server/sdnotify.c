/* systemd readiness notification through libsystemd's sd_notify (see sdnotify.h). */
#include "server/sdnotify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "common/log.h"

/* sd_notify returns 0 when NOTIFY_SOCKET is unset: that is the normal case outside systemd. */
static void notify(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0)
        ZK_WARN("sd_notify(%s) failed: %s", state, strerror(-rc));
}

void sdnotify_ready(void)
{
    notify("READY=1\nSTATUS=serving clients");
}

void sdnotify_stopping(void)
{
    notify("STOPPING=1\nSTATUS=shutting down");
}

void sdnotify_status(const char *fmt, ...)
{
    char state[512] = "STATUS=";
    size_t n = strlen(state);
    va_list ap;
    va_start(ap, fmt);
    /* A truncated status line is still a useful status line. */
    int m = vsnprintf(state + n, sizeof state - n, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    notify(state);
}
