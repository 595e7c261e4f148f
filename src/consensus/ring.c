/* The bounded in-memory window of log entries (ZooKeeper's committedLog plus the uncommitted tail):
 * the payloads the core needs for PROPOSAL, DIFF and commits. */
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "consensus/internal.h"

int ring_init(struct zab_ring *r, size_t cap)
{
    ZK_ASSERT(cap > 0);
    memset(r, 0, sizeof(*r));
    r->e = zk_calloc(cap, sizeof(*r->e));
    if (r->e == NULL) {
        return ZAB_ENOMEM;
    }
    r->cap = cap;
    return 0;
}

void ring_free(struct zab_ring *r)
{
    if (r->e != NULL) {
        ring_reset(r, 0);
        zk_free(r->e);
    }
    memset(r, 0, sizeof(*r));
}

const struct ring_entry *ring_at(const struct zab_ring *r, size_t i)
{
    ZK_ASSERT(i < r->count);
    return &r->e[(r->head + i) % r->cap];
}

uint64_t ring_last(const struct zab_ring *r)
{
    return r->count == 0 ? r->base : ring_at(r, r->count - 1)->zxid;
}

bool ring_full(const struct zab_ring *r)
{
    return r->count == r->cap;
}

int ring_append(struct zab_ring *r, uint64_t zxid, struct zab_buf payload, bool config)
{
    ZK_ASSERT(zxid > ring_last(r)); /* the log only grows in zxid order */
    ZK_ASSERT(zab_counter_of(zxid) != 0); /* (e,0) marks an epoch start, never a txn */
    if (ring_full(r)) {
        return ZAB_EBUSY;
    }
    uint8_t *copy = NULL;
    if (payload.len > 0) {
        copy = zk_malloc(payload.len);
        if (copy == NULL) {
            return ZAB_ENOMEM;
        }
        memcpy(copy, payload.data, payload.len);
    }
    struct ring_entry *slot = &r->e[(r->head + r->count) % r->cap];
    slot->zxid = zxid;
    slot->data = copy;
    slot->len = payload.len;
    slot->config = config;
    r->count++;
    r->bytes += payload.len;
    return 0;
}

size_t ring_after(const struct zab_ring *r, uint64_t after)
{
    size_t lo = 0, hi = r->count;
    while (lo < hi) { /* first index with zxid > after */
        size_t mid = lo + (hi - lo) / 2;
        if (ring_at(r, mid)->zxid <= after) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

bool ring_contains(const struct zab_ring *r, uint64_t zxid)
{
    if (zxid == r->base) {
        return true;
    }
    size_t i = ring_after(r, zxid);
    return i > 0 && ring_at(r, i - 1)->zxid == zxid;
}

bool ring_floor(const struct zab_ring *r, uint64_t zxid, uint64_t *out)
{
    if (zxid < r->base) {
        return false;
    }
    size_t i = ring_after(r, zxid);
    *out = i == 0 ? r->base : ring_at(r, i - 1)->zxid;
    ZK_ASSERT(*out <= zxid);
    return true;
}

static void drop_last(struct zab_ring *r)
{
    struct ring_entry *slot = &r->e[(r->head + r->count - 1) % r->cap];
    r->bytes -= slot->len;
    zk_free(slot->data);
    memset(slot, 0, sizeof(*slot));
    r->count--;
}

void ring_truncate(struct zab_ring *r, uint64_t zxid)
{
    ZK_ASSERT(zxid >= r->base); /* the caller decided this is inside the window */
    while (r->count > 0 && ring_at(r, r->count - 1)->zxid > zxid) {
        drop_last(r);
    }
    ZK_ASSERT(ring_last(r) <= zxid);
}

void ring_reset(struct zab_ring *r, uint64_t base)
{
    while (r->count > 0) {
        drop_last(r);
    }
    r->head = 0;
    r->base = base;
}

void ring_evict(struct zab_ring *r, uint64_t applied, size_t keep, uint64_t keep_bytes)
{
    /* the bytes of the entries not yet applied: they stay whatever the bounds. Only counted
     * when the ring holds more than keep_bytes in all: otherwise the byte bound cannot evict,
     * and this walk over up to max_outstanding entries on every step was 6 % of a leader's CPU
     * under load. */
    uint64_t tail = 0;
    for (size_t i = r->count; r->bytes > keep_bytes && i > 0 && ring_at(r, i - 1)->zxid > applied;
         i--) {
        tail += ring_at(r, i - 1)->len;
    }
    /* only applied entries leave: the tail after `applied` is still needed for commits */
    while (r->count > 0 && ring_at(r, 0)->zxid <= applied &&
           (r->count > keep || r->bytes - tail > keep_bytes)) {
        struct ring_entry *slot = &r->e[r->head];
        r->base = slot->zxid;
        r->bytes -= slot->len;
        zk_free(slot->data);
        memset(slot, 0, sizeof(*slot));
        r->head = (r->head + 1) % r->cap;
        r->count--;
    }
}
