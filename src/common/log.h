/* Logging to stderr with a level and a timestamp; the only logging facility of the project. */
#ifndef ZK_LOG_H
#define ZK_LOG_H

enum zk_log_level { ZK_LOG_DEBUG, ZK_LOG_INFO, ZK_LOG_WARN, ZK_LOG_ERROR };

void zk_log_set_level(enum zk_log_level level);
void zk_log_set_prefix(const char *prefix); /* e.g. "zk1" so ensemble logs can be told apart */
void zk_log(enum zk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rate limiting for lines that input can trigger (a limit reached, a hostile peer): per call
 * site a burst of ZK_LOG_BURST lines, then one a second; the next line that gets through says
 * how many were dropped. */
#define ZK_LOG_BURST 10
struct zk_ratelimit {
    long long last_ms;  /* when tokens were last refilled (0: never) */
    int tokens;
    unsigned long suppressed;
};
void zk_log_limited(struct zk_ratelimit *rl, enum zk_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define ZK_LOG_LIMITED(level, ...)                                                               \
    do {                                                                                         \
        static struct zk_ratelimit zk_rl_;                                                       \
        zk_log_limited(&zk_rl_, level, __VA_ARGS__);                                             \
    } while (0)
#define ZK_WARN_RL(...) ZK_LOG_LIMITED(ZK_LOG_WARN, __VA_ARGS__)
#define ZK_ERROR_RL(...) ZK_LOG_LIMITED(ZK_LOG_ERROR, __VA_ARGS__)

#define ZK_DEBUG(...) zk_log(ZK_LOG_DEBUG, __VA_ARGS__)
#define ZK_INFO(...) zk_log(ZK_LOG_INFO, __VA_ARGS__)
#define ZK_WARN(...) zk_log(ZK_LOG_WARN, __VA_ARGS__)
#define ZK_ERROR(...) zk_log(ZK_LOG_ERROR, __VA_ARGS__)

#endif
