/* Sessions, as one module (design.md #4): session ids and passwords, the negotiated timeout,
 * the rules for resuming a session on another connection or member, the bodies of the
 * createSession/closeSession commands, the activity a follower reports to the leader, and the
 * leader's expiry tracker (tracker.h). Sessions themselves are replicated state kept in the
 * store; this module reads them there and proposes their changes as commands.
 *
 * No I/O and no clock: the time is passed in, and so are random bytes for passwords. */
#ifndef ZK_SESSIONS_H
#define ZK_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/jute.h"
#include "proto/zkproto.h"

struct store;
struct store_txn;
struct sessions;

struct sessions_config {
    uint32_t member_id;     /* goes in the top byte of the ids this member makes */
    int32_t tick_ms;        /* expiry happens in batches on tick boundaries */
    int32_t min_timeout_ms; /* minSessionTimeout / maxSessionTimeout */
    int32_t max_timeout_ms;
};

/* wall_ms seeds the ids (ZooKeeper: member id, then milliseconds), so they differ across
 * restarts. NULL when memory ran out. */
struct sessions *sessions_new(const struct sessions_config *cfg, int64_t wall_ms);
void sessions_free(struct sessions *s);

/* ---- a new session ---- */
/* An id no session in st has (never 0 or INT64_MIN). */
int64_t sessions_new_id(struct sessions *s, const struct store *st);
/* The timeout a client asking for `requested` ms gets. */
int32_t sessions_negotiate(const struct sessions *s, int32_t requested);
/* Body of the createSession command: {int timeout, buffer passwd}. */
void sessions_create_body(struct jute_writer *out, int32_t timeout_ms,
                          const uint8_t passwd[ZK_PASSWD_LEN]);

/* ---- resuming ---- */
enum session_resume { RESUME_OK, RESUME_UNKNOWN, RESUME_BAD_PASSWORD };
/* May a client resume session id with this password here? A session is unknown when the
 * store has no such session or, on the leader, when it is no longer tracked (it is expiring).
 * On RESUME_OK the stored password is copied to passwd_out. */
enum session_resume sessions_check_resume(const struct sessions *s, const struct store *st,
                                          int64_t id, const uint8_t *passwd, int32_t passwd_len,
                                          bool leader, uint8_t passwd_out[ZK_PASSWD_LEN]);

/* ---- activity and expiry ---- */
/* A client of this member was active in session id. The leader renews it; a follower keeps it
 * for its next report. */
void sessions_touch(struct sessions *s, int64_t id, bool leader, int64_t now_ms);
/* Follower: the ids touched since the last report, as 8-byte big-endian ids (out is reset). */
void sessions_take_activity(struct sessions *s, struct jute_writer *out);
/* Leader: a follower's report. */
void sessions_apply_activity(struct sessions *s, const uint8_t *p, size_t len, int64_t now_ms);
/* Leader: track (or renew) a session, its timeout clamped to the configured range. 0 or -1. */
int sessions_track(struct sessions *s, int64_t id, int32_t timeout_ms, int64_t now_ms);
/* Leader: keep tracking in step with an applied createSession/closeSession. */
void sessions_on_applied(struct sessions *s, const struct store *st, const struct store_txn *txn,
                         int32_t err, int64_t now_ms);
/* Leader: a client asked to close: never expire it as well. */
void sessions_forget(struct sessions *s, int64_t id);
/* A new leader gives every session of st a fresh timeout (elections expire no one). */
int sessions_rebuild(struct sessions *s, const struct store *st, int64_t now_ms);
bool sessions_tracked(const struct sessions *s, int64_t id);
/* The deadlines the leader tracks (sess_tracker_foreach). */
void sessions_deadlines(const struct sessions *s,
                        void (*fn)(void *ctx, int64_t id, int64_t deadline_ms), void *ctx);
/* Leader: report and stop tracking every session past its deadline. */
void sessions_expire(struct sessions *s, int64_t now_ms, void (*fn)(void *ctx, int64_t id),
                     void *ctx);

/* ---- read-only sessions (readonlymode.enabled) ----
 * A member without a quorum may serve clients that accept read-only service. The sessions they
 * start there are this member's alone, as on ZooKeeper's read-only server: never logged,
 * resumable on this member while it stays read-only, expired here by their timeout, and all
 * dropped when it rejoins a quorum. */
#define SESSIONS_RO_MAX 65536 /* bounded like everything a client can make */
/* A new read-only session with this password: 0 and *id_out, or -1 (out of memory, or
 * SESSIONS_RO_MAX reached). */
int sessions_ro_create(struct sessions *s, const struct store *st, int32_t timeout_ms,
                       const uint8_t passwd[ZK_PASSWD_LEN], int64_t now_ms, int64_t *id_out);
enum session_resume sessions_ro_check_resume(const struct sessions *s, int64_t id,
                                             const uint8_t *passwd, int32_t passwd_len);
void sessions_ro_touch(struct sessions *s, int64_t id, int64_t now_ms);
void sessions_ro_close(struct sessions *s, int64_t id);
/* Forget every read-only session past its deadline, reporting each to fn (which must not call
 * back into the read-only sessions). */
void sessions_ro_expire(struct sessions *s, int64_t now_ms, void (*fn)(void *ctx, int64_t id),
                        void *ctx);
/* Forget every read-only session (the member rejoined a quorum). */
void sessions_ro_clear(struct sessions *s);
size_t sessions_ro_count(const struct sessions *s);

#endif
