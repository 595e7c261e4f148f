/* member-sim's network: FIFO channels with random delays for peer links and client connections
 * (member_env's peer_* and conn_* calls), and their faults: drops and duplicates of single peer
 * messages, link resets (in-flight messages lost, the sender's member told member_peer_down),
 * partitions (messages held on a cut link until it heals or its queue overflows), members
 * paused (messages held until they resume). A channel keeps one delivery event for its head, so
 * nothing is ever delivered out of order, also across a pause or a cut. */
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "msim_internal.h"

#define RETRY_MIN_MS 50   /* a link reconnects with a backoff, as src/server/peer.c */
#define RETRY_MAX_MS 1000

static struct ms_world *world_of(void *io) { return ((struct ms_node *)io)->w; }

/* ---- channels ---- */

static void chan_init(struct ms_chan *ch, enum ms_chan_kind kind, int a, int b)
{
    *ch = (struct ms_chan){.kind = kind, .a = a, .b = b};
}

static void chan_schedule(struct ms_world *w, struct ms_chan *ch)
{
    if (ch->scheduled || !ch->head)
        return;
    ch->scheduled = true;
    struct ms_ev ev = {.k.time = (uint64_t)(ch->head->at > w->now ? ch->head->at : w->now),
                       .kind = EV_CHAN, .gen = ch->gen, .chan = ch};
    sim_heap_push(&w->heap, &ev);
}

static void chan_push(struct ms_world *w, struct ms_chan *ch, const uint8_t *data, size_t len,
                      bool close)
{
    struct ms_msg *m = malloc(sizeof *m + len);
    ZK_ASSERT(m != NULL);
    int64_t at = w->now + rng_range(&w->rng, 1, w->k.delay_max);
    m->at = at > ch->last_at ? at : ch->last_at;
    ch->last_at = m->at;
    m->next = NULL;
    m->close = close;
    m->len = len;
    if (len)
        memcpy(m->data, data, len);
    if (ch->tail)
        ch->tail->next = m;
    else
        ch->head = m;
    ch->tail = m;
    ch->bytes += len;
    chan_schedule(w, ch);
}

static void chan_reset(struct ms_chan *ch)
{
    for (struct ms_msg *m = ch->head, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    ch->head = ch->tail = NULL;
    ch->bytes = 0;
    ch->gen++;
    ch->scheduled = false;
    ch->last_at = 0;
}

static bool node_reachable(const struct ms_world *w, int node)
{
    return w->node[node].up && !w->node[node].paused;
}

static bool chan_blocked(const struct ms_world *w, const struct ms_chan *ch)
{
    switch (ch->kind) {
    case CH_PEER: return w->cut[ch->a][ch->b] || !node_reachable(w, ch->b);
    case CH_UP: return w->node[w->conns[ch->a]->node].paused;
    case CH_DOWN: return false;
    }
    return false;
}

static void deliver_peer(struct ms_world *w, struct ms_chan *ch, struct ms_msg *m)
{
    struct ms_node *to = &w->node[ch->b];
    struct ms_call c = {.kind = MC_PEER_MSG, .peer = w->node[ch->a].id, .data = m->data,
                        .len = m->len};
    struct ms_link *l = &w->link[ch->a][ch->b];
    if (l->over && ch->bytes < w->cfg.peer_queue_max_bytes / 4) {
        l->over = false; /* member_peer_drained, as the transport's low-water mark */
        ms_schedule(w, 0, EV_DRAINED, ch->a, ch->b, w->node[ch->a].inc);
    }
    ms_call(to, &c);
}

static void deliver_up(struct ms_world *w, struct ms_conn *cn, struct ms_msg *m)
{
    struct ms_node *nd = &w->node[cn->node];
    if (!nd->up || nd->inc != cn->node_inc || cn->client_gone)
        return;
    if (m->len == 0) { /* the connection reaches the member: accept it */
        char addr[32];
        snprintf(addr, sizeof addr, "10.0.0.%d", cn->client + 1);
        if (!member_conn_admit(nd->m, addr)) {
            ms_trace(w, "m%u refuses connection %llu", nd->id, (unsigned long long)cn->id);
            return;
        }
        cn->at_member = true;
        struct ms_call c = {.kind = MC_CONN_OPEN, .conn = cn->id, .addr = addr,
                            .port = 40000 + (int)cn->id};
        ms_call(nd, &c);
        return;
    }
    if (!cn->at_member || cn->member_closing)
        return;
    jw_raw(&cn->inbox, m->data, m->len);
    ZK_ASSERT(!cn->inbox.err);
    ms_conn_offer(w, (int)(cn->id - 1));
}

static void deliver_down(struct ms_world *w, struct ms_conn *cn, struct ms_msg *m)
{
    struct ms_client *c = w->clients[cn->client];
    if (m->close)
        ms_client_closed(c, (int)(cn->id - 1));
    else
        ms_client_bytes(c, (int)(cn->id - 1), m->data, m->len);
}

void ms_chan_deliver(struct ms_world *w, struct ms_chan *ch, uint64_t gen)
{
    if (gen != ch->gen)
        return; /* scheduled before a reset */
    ch->scheduled = false;
    if (!ch->head || chan_blocked(w, ch))
        return; /* held: a heal or a resume schedules it again */
    struct ms_msg *m = ch->head;
    ch->head = m->next;
    if (!ch->head)
        ch->tail = NULL;
    ch->bytes -= m->len;
    switch (ch->kind) {
    case CH_PEER: deliver_peer(w, ch, m); break;
    case CH_UP: deliver_up(w, w->conns[ch->a], m); break;
    case CH_DOWN: deliver_down(w, w->conns[ch->a], m); break;
    }
    free(m);
    if (ch->gen == gen) /* not reset by what the delivery caused */
        chan_schedule(w, ch);
}

/* ---- peer links ---- */

void ms_net_init(struct ms_world *w)
{
    for (uint32_t i = 0; i < w->n; i++)
        for (uint32_t j = 0; j < w->n; j++)
            chan_init(&w->link[i][j].ch, CH_PEER, (int)i, (int)j);
}

static void link_schedule_retry(struct ms_world *w, int from, int to)
{
    struct ms_link *l = &w->link[from][to];
    if (l->retrying)
        return;
    l->retrying = true;
    ms_schedule(w, rng_range(&w->rng, RETRY_MIN_MS, RETRY_MAX_MS), EV_RECONNECT, from, to, 0);
}

void ms_link_down(struct ms_world *w, int from, int to, bool notify, const char *why)
{
    struct ms_link *l = &w->link[from][to];
    if (l->up) {
        ms_trace(w, "link m%u->m%u down: %s", w->node[from].id, w->node[to].id, why);
        l->up = false;
        l->over = false;
        chan_reset(&l->ch);
        if (notify && w->node[from].up)
            ms_schedule(w, 0, EV_PEER_DOWN, from, to, w->node[from].inc);
    }
    link_schedule_retry(w, from, to);
}

void ms_link_retry(struct ms_world *w, int from, int to)
{
    struct ms_link *l = &w->link[from][to];
    l->retrying = false;
    if (l->up)
        return;
    if (w->node[from].up && w->node[to].up && !w->cut[from][to]) {
        l->up = true;
        ms_trace(w, "link m%u->m%u up", w->node[from].id, w->node[to].id);
        return;
    }
    link_schedule_retry(w, from, to);
}

void ms_node_links_down(struct ms_world *w, int node)
{
    for (uint32_t j = 0; j < w->n; j++) {
        if ((int)j == node)
            continue;
        ms_link_down(w, node, (int)j, false, "member crashed");
        ms_link_down(w, (int)j, node, true, "peer crashed");
    }
    for (size_t i = 0; i < w->n_conns; i++) {
        struct ms_conn *cn = w->conns[i];
        if (cn->node != node || cn->client_gone || cn->node_inc != w->node[node].inc)
            continue;
        cn->at_member = false;
        chan_reset(&cn->up);
        if (!cn->member_closing)
            chan_push(w, &cn->down, NULL, 0, true); /* the kernel closes its sockets */
        cn->member_closing = true;
    }
}

void ms_node_links_kick(struct ms_world *w, int node)
{
    for (uint32_t j = 0; j < w->n; j++)
        chan_schedule(w, &w->link[j][node].ch);
    for (size_t i = 0; i < w->n_conns; i++) {
        struct ms_conn *cn = w->conns[i];
        if (cn->node == node && !cn->client_gone) {
            chan_schedule(w, &cn->up);
            if (cn->inbox.len)
                ms_schedule(w, 0, EV_OFFER, (int)i, 0, 0);
        }
    }
}

static uint32_t partition_sides(struct ms_world *w)
{
    if (rng_chance(&w->rng, MS_PPM / 2))
        return 1u << rng_below(&w->rng, w->n); /* isolate one member */
    return (uint32_t)rng_below(&w->rng, 1u << w->n);
}

void ms_net_partition(struct ms_world *w, bool heal)
{
    if (heal) {
        memset(w->cut, 0, sizeof w->cut);
        ms_trace(w, "HEAL partition");
        for (uint32_t i = 0; i < w->n; i++)
            ms_node_links_kick(w, (int)i);
        return;
    }
    uint32_t side = partition_sides(w);
    bool oneway = rng_chance(&w->rng, MS_PPM / 5);
    bool reset = rng_chance(&w->rng, MS_PPM / 2);
    int64_t ms = rng_range(&w->rng, 200, w->k.part_max);
    for (uint32_t i = 0; i < w->n; i++)
        for (uint32_t j = 0; j < w->n; j++) {
            bool split = ((side >> i) & 1) != ((side >> j) & 1);
            w->cut[i][j] = split && (!oneway || ((side >> i) & 1));
            if (w->cut[i][j] && reset)
                ms_link_down(w, (int)i, (int)j, true, "partition");
        }
    ms_trace(w, "PARTITION sides %#x%s%s for %lld ms", side, oneway ? " one-way" : "",
             reset ? " (links reset)" : " (messages held)", (long long)ms);
    ms_schedule(w, ms, EV_HEAL, 0, 0, 0);
}

/* ---- member_env: members ---- */

static int env_peer_send(void *io, uint32_t to_id, const uint8_t *msg, size_t len)
{
    struct ms_node *nd = io;
    struct ms_world *w = nd->w;
    int to = (int)to_id - 1;
    ZK_ASSERT(to >= 0 && to < (int)w->n && to != nd->idx);
    struct ms_link *l = &w->link[nd->idx][to];
    if (!l->up)
        return -1;
    if (l->ch.bytes + len > w->cfg.peer_queue_max_bytes) {
        ms_link_down(w, nd->idx, to, true, "send queue full");
        return -1;
    }
    bool drop = ms_chance(w, w->k.p_drop, MF_DROP);
    bool dup = ms_chance(w, w->k.p_dup, MF_DUP);
    if (drop)
        return 0; /* lost on the way */
    chan_push(w, &l->ch, msg, len, false);
    if (dup)
        chan_push(w, &l->ch, msg, len, false);
    if (l->ch.bytes > w->cfg.peer_queue_max_bytes / 2)
        l->over = true;
    return 0;
}

static size_t env_peer_queued(void *io, uint32_t to_id)
{
    struct ms_node *nd = io;
    const struct ms_link *l = &nd->w->link[nd->idx][to_id - 1];
    return l->up ? l->ch.bytes : 0;
}

static size_t env_peer_queue_max(void *io) { return world_of(io)->cfg.peer_queue_max_bytes; }

static void env_peer_reset(void *io, uint32_t to_id, const char *why)
{
    struct ms_node *nd = io;
    ms_link_down(nd->w, nd->idx, (int)to_id - 1, true, why);
}

/* ---- member_env: client connections ---- */

static struct ms_conn *conn_of(void *io, uint64_t id)
{
    struct ms_world *w = world_of(io);
    ZK_ASSERT(id >= 1 && id <= w->n_conns);
    return w->conns[id - 1];
}

static int env_conn_send(void *io, uint64_t id, const uint8_t *data, size_t len)
{
    struct ms_conn *cn = conn_of(io, id);
    if (cn->member_closing || cn->client_gone || !cn->at_member)
        return -1;
    chan_push(world_of(io), &cn->down, data, len, false);
    return 0;
}

static size_t env_conn_queued(void *io, uint64_t id) { return conn_of(io, id)->down.bytes; }

static void env_conn_reading(void *io, uint64_t id, bool on)
{
    struct ms_conn *cn = conn_of(io, id);
    if (on && !cn->reading && cn->inbox.len)
        ms_schedule(world_of(io), 0, EV_OFFER, (int)(id - 1), 0, 0);
    cn->reading = on;
}

static void env_conn_close(void *io, uint64_t id, bool after_flush)
{
    (void)after_flush; /* what was queued is on the wire already: it arrives, then the close */
    struct ms_conn *cn = conn_of(io, id);
    if (cn->member_closing)
        return;
    cn->member_closing = true;
    if (!cn->client_gone)
        chan_push(world_of(io), &cn->down, NULL, 0, true);
    ms_schedule(world_of(io), 1, EV_MCLOSED, (int)(id - 1), 0, 0);
}

void ms_net_env(struct ms_node *nd, struct member_env *env)
{
    env->io = nd;
    env->peer_send = env_peer_send;
    env->peer_queued = env_peer_queued;
    env->peer_queue_max = env_peer_queue_max;
    env->peer_reset = env_peer_reset;
    env->conn_send = env_conn_send;
    env->conn_queued = env_conn_queued;
    env->conn_reading = env_conn_reading;
    env->conn_close = env_conn_close;
}

/* ---- the client side ---- */

struct ms_conn *ms_conn_at(struct ms_world *w, int conn) { return w->conns[conn]; }

int ms_conn_connect(struct ms_world *w, int client, int node)
{
    if (w->n_conns == w->cap_conns) {
        w->cap_conns = w->cap_conns ? w->cap_conns * 2 : 64;
        w->conns = realloc(w->conns, w->cap_conns * sizeof *w->conns);
        ZK_ASSERT(w->conns != NULL);
    }
    int i = (int)w->n_conns++;
    struct ms_conn *cn = calloc(1, sizeof *cn);
    ZK_ASSERT(cn != NULL);
    w->conns[i] = cn;
    *cn = (struct ms_conn){.id = (uint64_t)i + 1, .node = node, .client = client,
                           .node_inc = w->node[node].inc, .reading = true};
    jw_init(&cn->inbox);
    chan_init(&cn->up, CH_UP, i, 0);
    chan_init(&cn->down, CH_DOWN, i, 0);
    if (w->node[node].up)
        chan_push(w, &cn->up, NULL, 0, false); /* the connection request */
    else
        chan_push(w, &cn->down, NULL, 0, true); /* refused */
    return i;
}

void ms_conn_write(struct ms_world *w, int conn, const uint8_t *data, size_t len)
{
    struct ms_conn *cn = w->conns[conn];
    if (!cn->client_gone)
        chan_push(w, &cn->up, data, len, false);
}

void ms_conn_reset(struct ms_world *w, int conn)
{
    struct ms_conn *cn = w->conns[conn];
    if (cn->client_gone)
        return;
    cn->client_gone = true;
    chan_reset(&cn->up);
    chan_reset(&cn->down);
    if (cn->at_member)
        ms_schedule(w, 1, EV_MCLOSED, conn, 0, 0);
}

void ms_conn_offer(struct ms_world *w, int conn)
{
    struct ms_conn *cn = w->conns[conn];
    struct ms_node *nd = &w->node[cn->node];
    if (!cn->at_member || cn->member_closing || !cn->reading || !cn->inbox.len ||
        !nd->up || nd->paused || nd->inc != cn->node_inc)
        return;
    struct ms_call c = {.kind = MC_CONN_INPUT, .conn = cn->id, .data = cn->inbox.data,
                        .len = cn->inbox.len};
    if (!ms_call(nd, &c))
        return;
    ZK_ASSERT(c.used <= cn->inbox.len);
    memmove(cn->inbox.data, cn->inbox.data + c.used, cn->inbox.len - c.used);
    cn->inbox.len -= c.used;
}

void ms_conn_member_closed(struct ms_world *w, int conn)
{
    struct ms_conn *cn = w->conns[conn];
    struct ms_node *nd = &w->node[cn->node];
    if (!cn->at_member || !nd->up || nd->inc != cn->node_inc)
        return;
    cn->at_member = false;
    jw_reset(&cn->inbox);
    struct ms_call c = {.kind = MC_CONN_CLOSED, .conn = cn->id};
    ms_call(nd, &c);
}

void ms_net_free(struct ms_world *w)
{
    for (uint32_t i = 0; i < w->n; i++)
        for (uint32_t j = 0; j < w->n; j++)
            chan_reset(&w->link[i][j].ch);
    for (size_t i = 0; i < w->n_conns; i++) {
        chan_reset(&w->conns[i]->up);
        chan_reset(&w->conns[i]->down);
        jw_free(&w->conns[i]->inbox);
        free(w->conns[i]);
    }
    free(w->conns);
}
