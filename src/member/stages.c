/* Write-path stage timings (see stages.h). Entries sit in a FIFO in zxid order (the order a
 * member appends them); durability, acknowledgement and commit each move a cursor forward, as
 * they happen in zxid order too. */
#include "member/stages.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"

#define RING 16384 /* writes in flight that can be timed; older ones are forgotten */

struct entry {
    int64_t zxid;
    uint64_t recv, proposed, durable, committed, applied;
    bool follower;
};

struct stages {
    struct entry ring[RING];
    uint64_t head, tail;      /* entries [head, tail) */
    uint64_t durable, acked, committed; /* cursors: first entry not yet durable, ... */
    uint64_t last_committed;  /* index of the entry committed last, for applied/replied */
    bool have_committed;
    struct hist h[STAGE_COUNT];
};

static const char *const names[STAGE_COUNT] = {
    "recv_to_proposed", "proposed_to_durable", "proposed_to_quorum", "quorum_to_applied",
    "applied_to_replied", "recv_to_replied", "follower_received_to_durable",
    "follower_durable_to_ack",
};

struct stages *stages_new(void) { return zk_calloc(1, sizeof(struct stages)); }
void stages_free(struct stages *st) { zk_free(st); }

uint64_t stages_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct entry *at(struct stages *st, uint64_t i) { return &st->ring[i % RING]; }

static void bump(uint64_t *cursor, uint64_t head)
{
    if (*cursor < head)
        *cursor = head;
}

static struct entry *push(struct stages *st, int64_t zxid)
{
    if (st->tail > st->head && at(st, st->tail - 1)->zxid >= zxid)
        st->head = st->tail = st->durable = st->acked = st->committed = 0; /* a truncation */
    if (st->tail - st->head == RING) {
        st->head++;
        bump(&st->durable, st->head);
        bump(&st->acked, st->head);
        bump(&st->committed, st->head);
        st->have_committed = false;
    }
    struct entry *e = at(st, st->tail++);
    memset(e, 0, sizeof *e);
    e->zxid = zxid;
    return e;
}

static void add(struct stages *st, enum stage_hist which, uint64_t from, uint64_t to)
{
    if (from && to >= from)
        hist_add(&st->h[which], to - from);
}

void stages_proposed(struct stages *st, int64_t zxid, uint64_t recv_us)
{
    struct entry *e = push(st, zxid);
    e->proposed = stages_now_us();
    e->recv = recv_us ? recv_us : e->proposed;
    add(st, STAGE_RECV_TO_PROPOSED, e->recv, e->proposed);
}

void stages_follower_received(struct stages *st, int64_t zxid)
{
    struct entry *e = push(st, zxid);
    e->proposed = stages_now_us();
    e->follower = true;
}

void stages_durable(struct stages *st, int64_t zxid)
{
    uint64_t now = stages_now_us();
    for (; st->durable < st->tail && at(st, st->durable)->zxid <= zxid; st->durable++) {
        struct entry *e = at(st, st->durable);
        e->durable = now;
        add(st, e->follower ? STAGE_F_RECEIVED_TO_DURABLE : STAGE_PROPOSED_TO_DURABLE,
            e->proposed, now);
    }
}

void stages_ack_sent(struct stages *st, int64_t zxid)
{
    uint64_t now = stages_now_us();
    for (; st->acked < st->durable && at(st, st->acked)->zxid <= zxid; st->acked++) {
        struct entry *e = at(st, st->acked);
        if (e->follower)
            add(st, STAGE_F_DURABLE_TO_ACK, e->durable, now);
    }
}

void stages_committed(struct stages *st, int64_t zxid)
{
    while (st->committed < st->tail && at(st, st->committed)->zxid < zxid)
        st->committed++;
    st->have_committed = st->committed < st->tail && at(st, st->committed)->zxid == zxid;
    if (!st->have_committed)
        return;
    struct entry *e = at(st, st->committed);
    st->last_committed = st->committed++;
    e->committed = stages_now_us();
    if (!e->follower)
        add(st, STAGE_PROPOSED_TO_QUORUM, e->proposed, e->committed);
}

/* The entry committed last, if it is zxid's. */
static struct entry *current(struct stages *st, int64_t zxid)
{
    if (!st->have_committed || st->last_committed < st->head)
        return NULL;
    struct entry *e = at(st, st->last_committed);
    return e->zxid == zxid && !e->follower ? e : NULL;
}

void stages_applied(struct stages *st, int64_t zxid)
{
    struct entry *e = current(st, zxid);
    if (!e)
        return;
    e->applied = stages_now_us();
    add(st, STAGE_QUORUM_TO_APPLIED, e->committed, e->applied);
}

void stages_replied(struct stages *st, int64_t zxid)
{
    struct entry *e = current(st, zxid);
    if (!e)
        return;
    uint64_t now = stages_now_us();
    add(st, STAGE_APPLIED_TO_REPLIED, e->applied, now);
    add(st, STAGE_RECV_TO_REPLIED, e->recv, now);
}

const struct hist *stages_hist(const struct stages *st, enum stage_hist which)
{
    return &st->h[which];
}

const char *stages_name(enum stage_hist which) { return names[which]; }
