/* Session expiry tracking, owned by the leader (design.md #4). Pure: the caller passes the time.
 * A touch renews a session's deadline to now + timeout, rounded up to the next tick boundary as
 * ZooKeeper's ExpiryQueue does, so expiries happen in batches once per tick. Expired sessions are
 * removed from tracking and reported; the caller turns each into a closeSession transaction. */
#ifndef ZK_SESSION_TRACKER_H
#define ZK_SESSION_TRACKER_H

#include <stddef.h>
#include <stdint.h>

struct sess_tracker;

struct sess_tracker *sess_tracker_new(int32_t tick_ms);
void sess_tracker_free(struct sess_tracker *t);

/* Track or renew a session. Returns 0, or -1 if memory ran out. */
int sess_tracker_touch(struct sess_tracker *t, int64_t session_id, int32_t timeout_ms,
                       int64_t now_ms);
/* Renew only if tracked (a touch for a session being closed must not resurrect it). */
void sess_tracker_renew(struct sess_tracker *t, int64_t session_id, int64_t now_ms);
void sess_tracker_remove(struct sess_tracker *t, int64_t session_id);
int sess_tracker_contains(const struct sess_tracker *t, int64_t session_id);
/* Report (and stop tracking) every session whose deadline is <= now_ms. Runs in O(sessions),
 * once per tick. fn must not touch/renew/remove sessions of this tracker (it walks the table). */
void sess_tracker_expire(struct sess_tracker *t, int64_t now_ms,
                         void (*fn)(void *ctx, int64_t session_id), void *ctx);
size_t sess_tracker_count(const struct sess_tracker *t);
/* Visit every tracked session with its deadline. */
void sess_tracker_foreach(const struct sess_tracker *t,
                          void (*fn)(void *ctx, int64_t session_id, int64_t deadline_ms),
                          void *ctx);
/* Give every tracked session a fresh full timeout from now (a new leader does this). */
void sess_tracker_renew_all(struct sess_tracker *t, int64_t now_ms);

#endif
