/* Sessions (see sessions.h). */
#include "session/sessions.h"

#include <string.h>

#include "common/alloc.h"
#include "common/i64map.h"
#include "common/log.h"
#include "session/tracker.h"
#include "store/store.h"

/* A read-only session: this member's alone, never logged. */
struct ro_session {
    int32_t timeout_ms;
    uint8_t passwd[ZK_PASSWD_LEN];
};

struct sessions {
    struct sessions_config cfg;
    int64_t next_id;
    struct sess_tracker *tracker; /* leader: deadlines */
    struct i64map touched;        /* follower: active since the last report */
    struct i64map ro;             /* read-only mode: id -> struct ro_session */
    struct sess_tracker *ro_deadlines;
};

struct sessions *sessions_new(const struct sessions_config *cfg, int64_t wall_ms)
{
    struct sessions *s = zk_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->tracker = sess_tracker_new(cfg->tick_ms > 0 ? cfg->tick_ms : 1);
    s->ro_deadlines = sess_tracker_new(cfg->tick_ms > 0 ? cfg->tick_ms : 1);
    if (!s->tracker || !s->ro_deadlines) {
        sess_tracker_free(s->tracker);
        sess_tracker_free(s->ro_deadlines);
        zk_free(s);
        return NULL;
    }
    i64map_init(&s->touched);
    i64map_init(&s->ro);
    /* As ZooKeeper makes them: member id in the top byte, then milliseconds, so ids stay
     * unique across members and restarts. */
    s->next_id = (int64_t)(((uint64_t)wall_ms << 24) >> 8) |
                 (int64_t)((uint64_t)cfg->member_id << 56);
    return s;
}

void sessions_free(struct sessions *s)
{
    if (!s)
        return;
    sessions_ro_clear(s);
    sess_tracker_free(s->tracker);
    sess_tracker_free(s->ro_deadlines);
    i64map_free(&s->touched);
    zk_free(s);
}

int64_t sessions_new_id(struct sessions *s, const struct store *st)
{
    int64_t id;
    do {
        id = s->next_id++;
    } while (id == 0 || id == INT64_MIN || store_session_exists(st, id) ||
             i64map_get(&s->ro, id));
    return id;
}

int32_t sessions_negotiate(const struct sessions *s, int32_t requested)
{
    if (requested < s->cfg.min_timeout_ms)
        return s->cfg.min_timeout_ms;
    return requested > s->cfg.max_timeout_ms ? s->cfg.max_timeout_ms : requested;
}

void sessions_create_body(struct jute_writer *out, int32_t timeout_ms,
                          const uint8_t passwd[ZK_PASSWD_LEN])
{
    jw_int(out, timeout_ms);
    jw_bytes(out, passwd, ZK_PASSWD_LEN);
}

enum session_resume sessions_check_resume(const struct sessions *s, const struct store *st,
                                          int64_t id, const uint8_t *passwd, int32_t passwd_len,
                                          bool leader, uint8_t passwd_out[ZK_PASSWD_LEN])
{
    int32_t timeout;
    bool known = store_session_get(st, id, &timeout, passwd_out) &&
                 (!leader || sess_tracker_contains(s->tracker, id));
    if (!known)
        return RESUME_UNKNOWN;
    if (passwd_len != ZK_PASSWD_LEN || memcmp(passwd_out, passwd, ZK_PASSWD_LEN) != 0)
        return RESUME_BAD_PASSWORD;
    return RESUME_OK;
}

void sessions_touch(struct sessions *s, int64_t id, bool leader, int64_t now_ms)
{
    if (leader)
        sess_tracker_renew(s->tracker, id, now_ms);
    else if (i64map_put(&s->touched, id, s) != 0)
        ZK_WARN_RL("out of memory recording session activity");
}

void sessions_take_activity(struct sessions *s, struct jute_writer *out)
{
    jw_reset(out);
    int64_t id;
    void *unused;
    for (size_t it = 0; i64map_next(&s->touched, &it, &id, &unused);)
        if (id != 0)
            jw_long(out, id);
    i64map_free(&s->touched);
}

void sessions_apply_activity(struct sessions *s, const uint8_t *p, size_t len, int64_t now_ms)
{
    for (size_t off = 0; off + 8 <= len; off += 8)
        sess_tracker_renew(s->tracker, (int64_t)be64_load(p + off), now_ms);
}

int sessions_track(struct sessions *s, int64_t id, int32_t timeout_ms, int64_t now_ms)
{
    /* The stored timeout came through the log: clamp it to this member's limits so no command
     * (or one from before a configuration change) sets an unbounded session lifetime. */
    return sess_tracker_touch(s->tracker, id, sessions_negotiate(s, timeout_ms), now_ms);
}

void sessions_on_applied(struct sessions *s, const struct store *st, const struct store_txn *txn,
                         int32_t err, int64_t now_ms)
{
    if (txn->type == ZOP_CLOSESESSION) {
        sess_tracker_remove(s->tracker, txn->session_id);
        return;
    }
    if (txn->type != ZOP_CREATESESSION || err != ZE_OK || txn->session_id == 0)
        return;
    int32_t timeout_ms;
    uint8_t passwd[ZK_PASSWD_LEN];
    if (store_session_get(st, txn->session_id, &timeout_ms, passwd) &&
        sessions_track(s, txn->session_id, timeout_ms, now_ms) != 0)
        ZK_ERROR_RL("out of memory tracking session 0x%llx",
                    (unsigned long long)txn->session_id);
}

void sessions_forget(struct sessions *s, int64_t id) { sess_tracker_remove(s->tracker, id); }

struct rebuild {
    struct sessions *s;
    int64_t now_ms;
    int rc;
};

static void track_one(void *ctx, int64_t id, int32_t timeout_ms)
{
    struct rebuild *r = ctx;
    if (sessions_track(r->s, id, timeout_ms, r->now_ms) != 0)
        r->rc = -1;
}

int sessions_rebuild(struct sessions *s, const struct store *st, int64_t now_ms)
{
    struct sess_tracker *fresh = sess_tracker_new(s->cfg.tick_ms > 0 ? s->cfg.tick_ms : 1);
    if (!fresh)
        return -1;
    sess_tracker_free(s->tracker);
    s->tracker = fresh;
    struct rebuild r = {s, now_ms, 0};
    store_session_foreach(st, track_one, &r);
    return r.rc;
}

bool sessions_tracked(const struct sessions *s, int64_t id)
{
    return sess_tracker_contains(s->tracker, id);
}

void sessions_expire(struct sessions *s, int64_t now_ms, void (*fn)(void *ctx, int64_t id),
                     void *ctx)
{
    sess_tracker_expire(s->tracker, now_ms, fn, ctx);
}

void sessions_deadlines(const struct sessions *s,
                        void (*fn)(void *ctx, int64_t id, int64_t deadline_ms), void *ctx)
{
    sess_tracker_foreach(s->tracker, fn, ctx);
}

/* ---- read-only sessions ---- */

int sessions_ro_create(struct sessions *s, const struct store *st, int32_t timeout_ms,
                       const uint8_t passwd[ZK_PASSWD_LEN], int64_t now_ms, int64_t *id_out)
{
    if (i64map_count(&s->ro) >= SESSIONS_RO_MAX)
        return -1;
    struct ro_session *ro = zk_malloc(sizeof *ro);
    if (!ro)
        return -1;
    ro->timeout_ms = timeout_ms;
    memcpy(ro->passwd, passwd, ZK_PASSWD_LEN);
    int64_t id = sessions_new_id(s, st);
    if (i64map_put(&s->ro, id, ro) != 0 ||
        sess_tracker_touch(s->ro_deadlines, id, timeout_ms, now_ms) != 0) {
        i64map_del(&s->ro, id);
        zk_free(ro);
        return -1;
    }
    *id_out = id;
    return 0;
}

enum session_resume sessions_ro_check_resume(const struct sessions *s, int64_t id,
                                             const uint8_t *passwd, int32_t passwd_len)
{
    const struct ro_session *ro = i64map_get(&s->ro, id);
    if (!ro)
        return RESUME_UNKNOWN;
    if (passwd_len != ZK_PASSWD_LEN || memcmp(ro->passwd, passwd, ZK_PASSWD_LEN) != 0)
        return RESUME_BAD_PASSWORD;
    return RESUME_OK;
}

void sessions_ro_touch(struct sessions *s, int64_t id, int64_t now_ms)
{
    sess_tracker_renew(s->ro_deadlines, id, now_ms);
}

void sessions_ro_close(struct sessions *s, int64_t id)
{
    sess_tracker_remove(s->ro_deadlines, id);
    zk_free(i64map_del(&s->ro, id));
}

struct ro_expiry {
    struct sessions *s;
    void (*fn)(void *ctx, int64_t id);
    void *ctx;
};

static void ro_expired(void *ctx, int64_t id)
{
    struct ro_expiry *e = ctx;
    ZK_INFO("read-only session 0x%llx expired", (unsigned long long)id);
    zk_free(i64map_del(&e->s->ro, id));
    e->fn(e->ctx, id);
}

void sessions_ro_expire(struct sessions *s, int64_t now_ms, void (*fn)(void *ctx, int64_t id),
                        void *ctx)
{
    struct ro_expiry e = {s, fn, ctx};
    sess_tracker_expire(s->ro_deadlines, now_ms, ro_expired, &e);
}

void sessions_ro_clear(struct sessions *s)
{
    int64_t id;
    void *ro;
    for (size_t it = 0; i64map_next(&s->ro, &it, &id, &ro);) {
        sess_tracker_remove(s->ro_deadlines, id);
        zk_free(ro);
    }
    i64map_free(&s->ro);
}

size_t sessions_ro_count(const struct sessions *s) { return i64map_count(&s->ro); }
