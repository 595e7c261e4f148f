/* Logging to stderr with a level and a timestamp; the only logging facility of the project. */
#ifndef ZK_LOG_H
#define ZK_LOG_H

enum zk_log_level { ZK_LOG_DEBUG, ZK_LOG_INFO, ZK_LOG_WARN, ZK_LOG_ERROR };

void zk_log_set_level(enum zk_log_level level);
void zk_log_set_prefix(const char *prefix); /* e.g. "zk1" so ensemble logs can be told apart */
void zk_log(enum zk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ZK_DEBUG(...) zk_log(ZK_LOG_DEBUG, __VA_ARGS__)
#define ZK_INFO(...) zk_log(ZK_LOG_INFO, __VA_ARGS__)
#define ZK_WARN(...) zk_log(ZK_LOG_WARN, __VA_ARGS__)
#define ZK_ERROR(...) zk_log(ZK_LOG_ERROR, __VA_ARGS__)

#endif
