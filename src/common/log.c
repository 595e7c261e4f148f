/* stderr logger: "2026-11-24T18:00:00.123Z zk1 INFO message". */
#include "common/log.h"

#include <stdarg.h>
#include <stdbool.h>
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

#define RATELIMIT_REFILL_MS 1000

/* Token bucket: ZK_LOG_BURST tokens, one more each RATELIMIT_REFILL_MS. */
static bool take_token(struct zk_ratelimit *rl)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
    if (rl->last_ms == 0) {
        rl->tokens = ZK_LOG_BURST;
        rl->last_ms = now;
    }
    long long refill = (now - rl->last_ms) / RATELIMIT_REFILL_MS;
    if (refill > 0) {
        rl->tokens = refill >= ZK_LOG_BURST - rl->tokens ? ZK_LOG_BURST : rl->tokens + (int)refill;
        rl->last_ms += refill * RATELIMIT_REFILL_MS;
    }
    if (rl->tokens == 0)
        return false;
    rl->tokens--;
    return true;
}

void zk_log_limited(struct zk_ratelimit *rl, enum zk_log_level level, const char *fmt, ...)
{
    if (!take_token(rl)) {
        rl->suppressed++;
        return;
    }
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
