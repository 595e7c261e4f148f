/* systemd readiness notification (sd_notify) for a zabkeeper member run as a Type=notify unit.
 * Every function is a no-op when NOTIFY_SOCKET is unset (not started by systemd), and a failure
 * to notify is logged, never fatal: the member serves clients either way. */
#ifndef ZK_SDNOTIFY_H
#define ZK_SDNOTIFY_H

/* READY=1: the member serves clients (standalone: at once; ensemble: a leader is established for
 * it). Sent again after each re-establishment, which systemd ignores. */
void sdnotify_ready(void);
/* STOPPING=1: a shutdown was requested (SIGTERM/SIGINT). */
void sdnotify_stopping(void);
/* STATUS=...: a one-line state shown by `systemctl status`. */
void sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
