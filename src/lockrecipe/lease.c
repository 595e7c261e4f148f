/* The leader-confirmed lease: how long the session is certainly alive at the leader, whatever
 * the member we are connected to says. A follower cut off from the leader keeps answering reads
 * and pings (until it gives up on the leader), so "connected" proves nothing; only writes and
 * `sync` go through the leader. While some lock is active (waiting, held, suspended) the monitor
 * thread sends a heartbeat `sync` on "/" (at most one outstanding) and keeps
 *
 *   T_confirmed = the send time of the previous successful sync of a chain, confirmed by a later
 *                 successful sync on the same connection sent at least ZKL_HB_GAP_MS after the
 *                 previous one completed.
 *
 * Why the previous one: a member does not renew a session at the leader when it forwards the
 * session's request; it reports the session's activity in its next ping to the leader (every
 * core tick, 50 ms). Sync A (sent at S) reached our member at >= S and touched the session; the
 * ping carrying that touch left within a tick; sync B, forwarded more than two ticks after A
 * completed, travels behind that ping on the member's link to the leader, so B's success proves
 * the leader renewed the session at >= S. Hence the session cannot expire before S + timeout,
 * and held locks are declared LOST at T_confirmed + timeout - margin, connected or not. */
#include <stdint.h>

#include "common/assert.h"
#include "lockrecipe/internal.h"

#define ZKL_HB_GAP_MS 100     /* two server core ticks (50 ms): a touch is reported by then */
#define ZKL_MONITOR_POLL_MS 50 /* the monitor looks at least this often */
#define ZKL_CHAIN_CAP 1000

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Declared LOST this long before the session could expire: 15% of the timeout, at least two
 * monitor polls. Covers the heartbeat completing late and scheduling delays. */
static int64_t lease_margin(int timeout_ms)
{
    return max64((int64_t)timeout_ms * 15 / 100, 2 * ZKL_MONITOR_POLL_MS);
}

/* Steady-state heartbeat period: an eighth of the timeout, so that T_confirmed lags at most
 * about a quarter of it. */
static int64_t hb_interval(int timeout_ms) { return max64(timeout_ms / 8, ZKL_HB_GAP_MS); }

/* Monotonic ms at which held locks are declared LOST (valid when lease.known). */
static int64_t lease_end_locked(const zkl_client *c)
{
    ZK_ASSERT(c->lease.known);
    return c->lease.confirmed + c->session_timeout - lease_margin(c->session_timeout);
}

/* Milliseconds of lease left at `now` (negative: ran out; INT64_MIN/2 when nothing confirmed). */
static int64_t lease_left_locked(const zkl_client *c, int64_t now)
{
    if (!c->lease.known)
        return INT64_MIN / 2;
    return lease_end_locked(c) - now;
}

void zkl_lease_on_connected_locked(zkl_client *c)
{
    c->epoch++;
    c->lease.chain = 0;
    c->lease.retry_at = 0;
}

static bool lock_active(const zkl_lock *l)
{
    return l->state == ZKL_WAITING || l->state == ZKL_HELD || l->state == ZKL_LOCK_SUSPENDED;
}

static bool any_active_locked(const zkl_client *c)
{
    for (const zkl_lock *l = c->locks; l != NULL; l = l->next)
        if (lock_active(l))
            return true;
    return false;
}

/* ---- the heartbeat ------------------------------------------------------------------------ */

static void confirm_locked(zkl_client *c, int64_t t)
{
    if (!c->lease.known || t > c->lease.confirmed) {
        c->lease.confirmed = t;
        c->lease.known = true;
    }
}

static void hb_success_locked(zkl_client *c, int64_t now)
{
    struct zkl_lease *ls = &c->lease;
    if (ls->chain > 0 && ls->sent >= ls->prev_done + ZKL_HB_GAP_MS)
        confirm_locked(c, ls->prev_sent);
    if (ls->chain < ZKL_CHAIN_CAP)
        ls->chain++;
    ls->prev_sent = ls->sent;
    ls->prev_done = now;
}

static void hb_failed_locked(zkl_client *c, int64_t now)
{
    c->lease.chain = 0;
    c->lease.retry_at = now + ZKL_HB_GAP_MS;
}

/* Completion of a heartbeat sync (the C client's completion thread). */
static void hb_done(int rc, const char *value, const void *data)
{
    (void)value;
    zkl_client *c = (zkl_client *)data;
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    ZK_ASSERT(c->lease.inflight);
    c->lease.inflight = false;
    int64_t now = zkl_now_ms();
    /* a success after a reconnect we have already seen went over another member: no proof */
    if (rc == ZOK && c->lease.sent_epoch == c->epoch)
        hb_success_locked(c, now);
    else
        hb_failed_locked(c, now);
    ZK_ASSERT(pthread_cond_broadcast(&c->cond) == 0);
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
}

/* When the next heartbeat is due (INT64_MAX: none now). Fast (one gap after the last) while the
 * chain is being (re)built or the lease runs short, else every hb_interval. */
static int64_t hb_next_due_locked(const zkl_client *c, int64_t now)
{
    const struct zkl_lease *ls = &c->lease;
    if (c->stopping || c->state != ZKL_CONNECTED || ls->inflight || !any_active_locked(c))
        return INT64_MAX;
    if (ls->chain == 0)
        return ls->retry_at;
    int64_t due = ls->prev_done + ZKL_HB_GAP_MS;
    bool fast = ls->chain == 1 || lease_left_locked(c, now) < c->session_timeout / 2;
    if (!fast)
        due = max64(due, ls->sent + hb_interval(c->session_timeout));
    return max64(due, ls->retry_at);
}

/* Send a heartbeat sync; c->mu is released around zoo_async (its completion takes c->mu). */
static void hb_send_locked(zkl_client *c, int64_t now)
{
    ZK_ASSERT(!c->lease.inflight);
    c->lease.inflight = true;
    c->lease.sent = now;
    c->lease.sent_epoch = c->epoch;
    ZK_ASSERT(pthread_mutex_unlock(&c->mu) == 0);
    int rc = zoo_async(c->zh, "/", hb_done, c);
    ZK_ASSERT(pthread_mutex_lock(&c->mu) == 0);
    if (rc != ZOK) { /* not queued: no completion will come */
        c->lease.inflight = false;
        hb_failed_locked(c, zkl_now_ms());
    }
}

/* ---- declaring locks lost ------------------------------------------------------------------ */

static void expire_held_locked(zkl_client *c)
{
    for (zkl_lock *l = c->locks; l != NULL; l = l->next) {
        if (l->state == ZKL_HELD || l->state == ZKL_LOCK_SUSPENDED) {
            l->state = ZKL_LOST; /* its node is deleted on release if the session lives on */
            ZK_ASSERT(pthread_cond_broadcast(&c->cond) == 0);
        }
    }
}

int64_t zkl_lease_step_locked(zkl_client *c)
{
    int64_t now = zkl_now_ms();
    if (hb_next_due_locked(c, now) <= now) {
        hb_send_locked(c, now);
        now = zkl_now_ms();
    }
    int64_t left = lease_left_locked(c, now);
    if (left <= 0)
        expire_held_locked(c);
    int64_t next = min64(now + ZKL_MONITOR_POLL_MS, hb_next_due_locked(c, now));
    return left > 0 ? min64(next, now + left) : next;
}

int zkl_wait_lease_locked(zkl_client *c, zkl_lock *lock, int64_t deadline)
{
    for (;;) {
        if (c->state == ZKL_EXPIRED)
            return ZKL_ESESSION;
        if (lock->cancel)
            return ZKL_ECANCELED;
        int64_t now = zkl_now_ms();
        if (lease_left_locked(c, now) > c->session_timeout / 4)
            return ZKL_OK;
        if (deadline >= 0 && now >= deadline)
            return ZKL_ETIMEOUT;
        zkl_cond_wait_until(c, deadline); /* every heartbeat completion broadcasts */
    }
}
