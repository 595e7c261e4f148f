/* stderr logger: "2026-11-24T18:00:00.123Z zk1 INFO message". */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum zk_log_level min_level = ZK_LOG_INFO;
static char log_prefix[32] = "zabkeeper";

void zk_log_set_level(enum zk_log_level level) { min_level = level; }

void zk_log_set_prefix(const char *prefix)
{
    snprintf(log_prefix, sizeof log_prefix, "%s", prefix);
}

static void emit(enum zk_log_level level, const char *msg);

void zk_log(enum zk_log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(level, msg);
}

#define RATELIMIT_WINDOW_MS 1000

void zk_log_limited(struct zk_ratelimit *rl, enum zk_log_level level, const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (rl->window_start_ms && now - rl->window_start_ms < RATELIMIT_WINDOW_MS) {
        rl->suppressed++;
        return;
    }
    rl->window_start_ms = now ? now : 1;
    if (level < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (rl->suppressed && n >= 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, " (%lu similar lines suppressed)",
                 rl->suppressed);
    rl->suppressed = 0;
    emit(level, msg);
}

static void emit(enum zk_log_level level, const char *msg)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s %s %s\n", stamp, (long)(tv.tv_usec / 1000), log_prefix,
            names[level], msg);
}
