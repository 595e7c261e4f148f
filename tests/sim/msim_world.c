/* member-sim's world: the event loop and its turns, the members' lives (start, crash, restart,
 * pause, clock jumps), their clocks and randomness (member_env), the faults schedule and the
 * phases of a run (see msim.h and docs/simulation.md). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/log.h"
#include "msim_internal.h"

#define CHAOS_MS 100           /* the faults schedule's period */
#define FAULTS_MS_DEFAULT 12000
#define HEALED_MS_DEFAULT 5000
#define LIVE_BOUND_MS 15000    /* after the heal, a new write is acknowledged within this */
#define CONVERGE_BOUND_MS 15000 /* after the clients stop, every member agrees within this */

const char *const msim_fault_names[MF_COUNT] = {
    "crash", "pause", "clock", "partition", "reset", "drop", "dup", "diskfull", "fsync",
    "opfail", "slowdisk", "connreset", "outage",
};

/* ---- tracing and verdicts ---- */

void ms_trace(struct ms_world *w, const char *fmt, ...)
{
    if (!w->o.trace)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(w->o.trace, "[%7lld] ", (long long)w->now);
    vfprintf(w->o.trace, fmt, ap);
    fputc('\n', w->o.trace);
    va_end(ap);
}

void ms_violation(struct ms_world *w, const char *fmt, ...)
{
    if (w->res->violation)
        return; /* the first one is the one to look at */
    w->res->violation = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->res->what, sizeof w->res->what, fmt, ap);
    va_end(ap);
    ms_trace(w, "VIOLATION: %s", w->res->what);
}

void ms_schedule(struct ms_world *w, int64_t delay, enum ms_ev_kind kind, int a, int b,
                 uint64_t gen)
{
    struct ms_ev ev = {.k.time = (uint64_t)(w->now + delay), .kind = kind, .a = a, .b = b,
                       .gen = gen};
    sim_heap_push(&w->heap, &ev);
}

bool ms_fault_on(const struct ms_world *w, enum ms_fault f)
{
    return !w->healed && !(w->o.no_faults & (1u << f));
}

bool ms_chance(struct ms_world *w, uint32_t ppm, enum ms_fault f)
{
    bool hit = rng_chance(&w->rng, ppm); /* drawn either way: see msim_internal.h */
    return hit && ms_fault_on(w, f);
}

/* ---- member_env: time, randomness, stopping ---- */

int64_t ms_node_now(const struct ms_node *nd) { return nd->w->now + nd->clock_off; }

static int64_t env_now_ms(void *io) { return ms_node_now(io); }

static int64_t env_wall_ms(void *io)
{
    const struct ms_node *nd = io;
    return MS_BASE_WALL_MS + ms_node_now(nd) + nd->wall_off;
}

static void env_random(void *io, void *buf, size_t len)
{
    struct ms_world *w = ((struct ms_node *)io)->w;
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = rng_next(&w->rng);
        memcpy(p + i, &r, len - i < 8 ? len - i : 8);
    }
}

static void env_fatal(void *io, const char *why)
{
    struct ms_node *nd = io;
    ZK_ASSERT(nd->jb != NULL); /* only ever called from inside a call into the member */
    snprintf(nd->fatal_why, sizeof nd->fatal_why, "%s", why);
    longjmp(*nd->jb, 1);
}

/* ---- calls into a member ---- */

static void dispatch(struct ms_node *nd, struct ms_call *c)
{
    struct member *m = nd->m;
    switch (c->kind) {
    case MC_START: c->rc = member_start(m); break;
    case MC_TICK: member_tick(m); break;
    case MC_STICK: member_session_tick(m); break;
    case MC_FLUSH: member_flush(m); break;
    case MC_PEER_MSG: member_peer_message(m, c->peer, c->data, c->len); break;
    case MC_PEER_DOWN: member_peer_down(m, c->peer); break;
    case MC_PEER_DRAINED: member_peer_drained(m, c->peer); break;
    case MC_CONN_OPEN: member_conn_open(m, c->conn, c->addr, c->port); break;
    case MC_CONN_INPUT: c->used = member_conn_input(m, c->conn, c->data, c->len); break;
    case MC_CONN_CLOSED: member_conn_closed(m, c->conn); break;
    }
}

/* env.fatal longjmps here: nothing in this frame changes between setjmp and longjmp. */
static bool guarded(struct ms_node *nd, struct ms_call *c)
{
    jmp_buf jb;
    nd->jb = &jb;
    if (setjmp(jb) != 0) {
        nd->jb = NULL;
        return false;
    }
    dispatch(nd, c);
    nd->jb = NULL;
    return true;
}

static void node_down(struct ms_node *nd, const char *why);

bool ms_call(struct ms_node *nd, struct ms_call *c)
{
    ZK_ASSERT(nd->up && nd->m && !nd->jb && !nd->paused);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "m%u", nd->id);
    zk_log_set_prefix(prefix);
    nd->w->res->steps++;
    if (!guarded(nd, c)) {
        ms_trace(nd->w, "m%u stops: %s", nd->id, nd->fatal_why);
        if (!nd->jumped) /* what it applied before stopping was seen by its clients */
            ms_check_observe(nd);
        node_down(nd, nd->fatal_why);
        return false;
    }
    if (c->kind != MC_FLUSH)
        nd->touched = true;
    ms_check_observe(nd);
    return true;
}

/* ---- lives ---- */

static struct member_env node_env(struct ms_node *nd)
{
    struct member_env env = {0};
    ms_net_env(nd, &env);
    env.now_ms = env_now_ms;
    env.wall_ms = env_wall_ms;
    env.random = env_random;
    env.fatal = env_fatal;
    return env;
}

static void schedule_ticks(struct ms_world *w, struct ms_node *nd)
{
    ms_schedule(w, rng_range(&w->rng, 1, MEMBER_TICK_MS), EV_TICK, nd->idx, 0, nd->inc);
    ms_schedule(w, rng_range(&w->rng, 1, w->cfg.tick_ms / 2), EV_STICK, nd->idx, 0, nd->inc);
}

static void node_start(struct ms_node *nd)
{
    struct ms_world *w = nd->w;
    struct zk_config cfg = w->cfg;
    cfg.myid = (int)nd->id;
    struct member_env env = node_env(nd);
    struct member_init init = {.cfg = &cfg, .env = env, .storage = &nd->seam,
                               .sabotage = w->o.sabotage};
    nd->m = member_new(&init);
    ZK_ASSERT(nd->m != NULL);
    nd->up = true;
    nd->seen_zxid = 0;
    nd->jumped = false;
    ms_trace(w, "m%u START (incarnation %llu)", nd->id, (unsigned long long)nd->inc);
    struct ms_call c = {.kind = MC_START};
    if (!ms_call(nd, &c))
        return;
    if (c.rc != 0) {
        ms_violation(w, "m%u cannot start from its own disk", nd->id);
        return;
    }
    for (uint32_t j = 0; j < w->n; j++)
        if ((int)j != nd->idx)
            ms_link_retry(w, nd->idx, (int)j);
    schedule_ticks(w, nd);
}

static void node_down(struct ms_node *nd, const char *why)
{
    struct ms_world *w = nd->w;
    ms_trace(w, "m%u CRASH: %s", nd->id, why);
    w->res->crashes++;
    member_free(nd->m);
    nd->m = NULL;
    nd->up = nd->paused = nd->leading = false;
    nd->touched = false;
    ms_disk_crash(nd->disk);
    ms_node_links_down(w, nd->idx);
    nd->inc++; /* its pending ticks, batches and notifications are void */
    int64_t down = w->healed ? 10 : rng_range(&w->rng, 50, w->k.down_max);
    ms_schedule(w, down, EV_RESTART, nd->idx, 0, nd->inc);
}

void ms_node_crash(struct ms_node *nd, const char *why)
{
    ZK_ASSERT(nd->jb == NULL);
    if (nd->up)
        node_down(nd, why);
}

static void node_pause(struct ms_node *nd, int64_t ms)
{
    nd->paused = true;
    nd->paused_at = nd->w->now;
    ms_trace(nd->w, "m%u PAUSE for %lld ms", nd->id, (long long)ms);
    ms_schedule(nd->w, ms, EV_UNPAUSE, nd->idx, 0, nd->inc);
}

static void node_resume(struct ms_node *nd)
{
    if (!nd->up || !nd->paused)
        return;
    nd->paused = false;
    nd->clock_off -= nd->w->now - nd->paused_at; /* its clock stood still */
    nd->touched = true;
    ms_trace(nd->w, "m%u RESUME", nd->id);
    ms_node_links_kick(nd->w, nd->idx);
}

static void node_clock_jump(struct ms_world *w, struct ms_node *nd)
{
    int64_t mono = rng_range(&w->rng, 100, 3000);
    int64_t wall = rng_range(&w->rng, -3600000, 3600000);
    nd->clock_off += mono;
    nd->wall_off += wall;
    ms_trace(w, "m%u CLOCK JUMP monotonic +%lld ms, wall %+lld ms", nd->id, (long long)mono,
             (long long)wall);
}

/* A tick of a node (core or session), unless it is down or paused (its clock stands still). */
static void on_tick(struct ms_world *w, const struct ms_ev *ev)
{
    struct ms_node *nd = &w->node[ev->a];
    if (!nd->up || ev->gen != nd->inc)
        return;
    bool core = ev->kind == EV_TICK;
    ms_schedule(w, core ? MEMBER_TICK_MS : w->cfg.tick_ms / 2, ev->kind, ev->a, 0, ev->gen);
    if (nd->paused)
        return;
    struct ms_call c = {.kind = core ? MC_TICK : MC_STICK};
    ms_call(nd, &c);
}

/* A notification for a member: held while it is paused. */
static bool node_ready(struct ms_world *w, const struct ms_ev *ev, int node)
{
    struct ms_node *nd = &w->node[node];
    if (!nd->up || (ev->gen && ev->gen != nd->inc))
        return false;
    if (nd->paused) {
        struct ms_ev later = *ev;
        later.k.time = (uint64_t)(w->now + 20);
        sim_heap_push(&w->heap, &later);
        return false;
    }
    return true;
}

static void on_peer_note(struct ms_world *w, const struct ms_ev *ev)
{
    if (!node_ready(w, ev, ev->a))
        return;
    struct ms_call c = {.kind = ev->kind == EV_PEER_DOWN ? MC_PEER_DOWN : MC_PEER_DRAINED,
                        .peer = w->node[ev->b].id};
    ms_call(&w->node[ev->a], &c);
}

static void on_conn_closed(struct ms_world *w, const struct ms_ev *ev)
{
    struct ms_conn *cn = ms_conn_at(w, ev->a);
    if (node_ready(w, ev, cn->node))
        ms_conn_member_closed(w, ev->a);
}

/* ---- the faults phase, the heal, the end ---- */

static void inject_node_faults(struct ms_world *w, struct ms_node *nd)
{
    const struct ms_knobs *k = &w->k;
    if (nd->up && ms_chance(w, k->p_crash, MF_CRASH)) {
        ms_node_crash(nd, "crash (injected)");
        return;
    }
    if (nd->up && !nd->paused && ms_chance(w, k->p_pause, MF_PAUSE))
        node_pause(nd, rng_range(&w->rng, 100, k->pause_max));
    if (nd->up && ms_chance(w, k->p_clock, MF_CLOCK))
        node_clock_jump(w, nd);
    if (ms_chance(w, k->p_full, MF_DISKFULL)) {
        int64_t ms = rng_range(&w->rng, 100, 2000);
        ms_trace(w, "m%u DISK FULL for %lld ms", nd->id, (long long)ms);
        ms_disk_fill(nd->disk, w->now + ms);
    }
}

static bool partitioned(const struct ms_world *w)
{
    for (uint32_t i = 0; i < w->n; i++)
        for (uint32_t j = 0; j < w->n; j++)
            if (w->cut[i][j])
                return true;
    return false;
}

/* A majority (or all) of the members lose power together: what their disks had not made
 * durable is gone on all of them at once. */
static void outage(struct ms_world *w)
{
    uint32_t down = w->n / 2 + 1 + (uint32_t)rng_below(&w->rng, (w->n + 1) / 2);
    uint32_t first = (uint32_t)rng_below(&w->rng, w->n);
    ms_trace(w, "OUTAGE: %u members lose power", down);
    for (uint32_t k = 0; k < down; k++)
        ms_node_crash(&w->node[(first + k) % w->n], "power loss (injected)");
}

static void inject_faults(struct ms_world *w)
{
    if (ms_chance(w, w->k.p_outage, MF_OUTAGE))
        outage(w);
    for (uint32_t i = 0; i < w->n; i++)
        inject_node_faults(w, &w->node[i]);
    if (!partitioned(w) && ms_chance(w, w->k.p_part, MF_PARTITION))
        ms_net_partition(w, false);
    if (w->n > 1 && ms_chance(w, w->k.p_reset, MF_RESET)) {
        int from = (int)rng_below(&w->rng, w->n);
        int to = (from + 1 + (int)rng_below(&w->rng, w->n - 1)) % (int)w->n;
        ms_link_down(w, from, to, true, "reset (injected)");
    }
}

/* Faults stop: the network heals, paused members resume, disks recover (a broken one makes
 * its member stop, as it would at its next write), crashed members restart. */
static void heal(struct ms_world *w)
{
    w->healed = true;
    ms_trace(w, "HEALED: faults stop");
    ms_net_partition(w, true);
    for (uint32_t i = 0; i < w->n; i++) {
        struct ms_node *nd = &w->node[i];
        ms_disk_heal(nd->disk);
        if (nd->up && ms_disk_broken(nd->disk))
            ms_node_crash(nd, "its disk is broken");
        node_resume(nd);
        if (!nd->up)
            ms_schedule(w, 10, EV_RESTART, nd->idx, 0, nd->inc);
    }
    int probe = w->n_clients;
    w->clients[probe] = ms_client_new(w, probe, true);
    ms_schedule(w, 1, EV_CLIENT, probe, 0, 0);
}

static int64_t session_max_ms(const struct ms_world *w) { return w->cfg.max_session_timeout_ms; }

static void on_chaos(struct ms_world *w)
{
    if (!w->healed && w->now >= w->heal_at)
        heal(w);
    if (!w->healed)
        inject_faults(w);
    if (w->healed && !ms_client_probe_done(w->clients[w->n_clients]) &&
        w->now >= w->heal_at + LIVE_BOUND_MS) {
        ms_violation(w, "liveness: no write acknowledged %d ms after the faults stopped",
                     LIVE_BOUND_MS);
        return;
    }
    if (!w->stopping && w->now >= w->stop_at) {
        w->stopping = true; /* clients go quiet: their sessions must expire */
        w->deadline = w->now + session_max_ms(w) + CONVERGE_BOUND_MS;
        ms_trace(w, "STOP: clients go quiet; waiting for agreement and expiries");
    }
    if (w->stopping && ms_check_converged(w)) {
        ms_check_final(w);
        w->done = true;
        return;
    }
    if (w->stopping && w->now >= w->deadline) {
        ms_check_stuck(w);
        return;
    }
    ms_schedule(w, CHAOS_MS, EV_CHAOS, 0, 0, 0);
}

/* ---- the loop ---- */

static void handle(struct ms_world *w, const struct ms_ev *ev)
{
    bool node_event = ev->kind == EV_DISK || ev->kind == EV_SNAP || ev->kind == EV_RESTART ||
                      ev->kind == EV_UNPAUSE; /* `a` is a node (else a channel, a client...) */
    struct ms_node *nd = node_event ? &w->node[ev->a] : NULL;
    switch (ev->kind) {
    case EV_CHAN: ms_chan_deliver(w, ev->chan, ev->gen); break;
    case EV_TICK:
    case EV_STICK: on_tick(w, ev); break;
    case EV_DISK: if (nd->up) ms_disk_batch_done(nd->disk, ev->gen); break;
    case EV_SNAP: if (nd->up) ms_disk_snap_done(nd->disk, ev->gen); break;
    case EV_PEER_DOWN:
    case EV_DRAINED: on_peer_note(w, ev); break;
    case EV_RECONNECT: ms_link_retry(w, ev->a, ev->b); break;
    case EV_MCLOSED: on_conn_closed(w, ev); break;
    case EV_OFFER: ms_conn_offer(w, ev->a); break;
    case EV_CLIENT: ms_client_act(w->clients[ev->a]); break;
    case EV_CHAOS: on_chaos(w); break;
    case EV_RESTART: if (!nd->up && ev->gen == nd->inc) node_start(nd); break;
    case EV_UNPAUSE: if (ev->gen == nd->inc) node_resume(nd); break;
    case EV_HEAL: ms_net_partition(w, true); break;
    }
}

/* The end of a turn: every member that got events flushes once (as production's loop). */
static void flush_turn(struct ms_world *w)
{
    for (uint32_t i = 0; i < w->n && !w->res->violation; i++) {
        struct ms_node *nd = &w->node[i];
        if (!nd->touched || !nd->up || nd->paused)
            continue;
        nd->touched = false;
        struct ms_call c = {.kind = MC_FLUSH};
        ms_call(nd, &c);
    }
}

static void run(struct ms_world *w)
{
    const struct sim_heap_key *top;
    while (!w->done && !w->res->violation && (top = sim_heap_top(&w->heap))) {
        w->now = (int64_t)top->time;
        struct ms_ev ev;
        while (!w->res->violation && (top = sim_heap_top(&w->heap)) &&
               (int64_t)top->time == w->now) {
            sim_heap_pop(&w->heap, &ev);
            handle(w, &ev);
        }
        flush_turn(w);
    }
}

/* ---- a seed's world: its faults and limits are drawn from the seed (swarm testing) ---- */

#define PICK(w, a) (a)[rng_below(&(w)->rng, sizeof(a) / sizeof((a)[0]))]

static void swarm_faults(struct ms_world *w)
{
    static const uint32_t crash[] = {0, 3000, 10000, 25000};
    static const uint32_t pause[] = {0, 3000, 10000};
    static const uint32_t clock[] = {0, 0, 5000};
    static const uint32_t part[] = {0, 5000, 20000};
    static const uint32_t reset[] = {0, 5000, 30000};
    static const uint32_t full[] = {0, 0, 3000};
    static const uint32_t outage_p[] = {0, 0, 2000, 6000};
    static const uint32_t drop[] = {0, 0, 500, 5000};
    static const uint32_t fsync[] = {0, 0, 100, 1000};
    static const uint32_t slow[] = {0, 20000, 100000};
    static const uint32_t opfail[] = {0, 0, 20000, 100000};
    static const uint32_t creset[] = {0, 5000, 20000};
    static const int64_t delay[] = {2, 5, 20, 60};
    static const int64_t down[] = {500, 2000, 5000};
    static const int64_t span[] = {500, 2000, 4000};
    static const int64_t disk[] = {2, 5, 20};
    static const int64_t slow_ms[] = {100, 500};
    struct ms_knobs *k = &w->k;
    k->p_crash = PICK(w, crash);
    k->p_pause = PICK(w, pause);
    k->p_clock = PICK(w, clock);
    k->p_part = PICK(w, part);
    k->p_reset = PICK(w, reset);
    k->p_full = PICK(w, full);
    k->p_outage = PICK(w, outage_p);
    k->p_drop = PICK(w, drop);
    k->p_dup = PICK(w, drop);
    k->p_fsync = PICK(w, fsync);
    k->p_slow = PICK(w, slow);
    k->p_opfail = PICK(w, opfail);
    k->p_creset = PICK(w, creset);
    k->delay_max = PICK(w, delay);
    k->down_max = PICK(w, down);
    k->pause_max = PICK(w, span);
    k->part_max = PICK(w, span);
    k->disk_max = PICK(w, disk);
    k->slow_max = PICK(w, slow_ms);
}

static void swarm_config(struct ms_world *w)
{
    static const long snap_count[] = {8, 40, 200, 2000};
    static const size_t queue_max[] = {256u << 10, 4u << 20, 64u << 20};
    static const int pipeline[] = {1, 2, 4, 8};
    static const int64_t think[] = {5, 30, 150};
    struct zk_config *c = &w->cfg;
    memset(c, 0, sizeof *c);
    c->tick_ms = 100;
    c->init_limit = 10;
    c->sync_limit = 5;
    c->min_session_timeout_ms = 2 * c->tick_ms;
    c->max_session_timeout_ms = 20 * c->tick_ms;
    c->global_outstanding_limit = 1000;
    c->max_buffer = ZK_MAX_BUFFER_DEFAULT;
    c->snap_count = PICK(w, snap_count);
    c->snap_size_limit_bytes = rng_chance(&w->rng, MS_PPM / 4) ? 64 << 10 : 0;
    c->container_check_ms = 60000;
    c->container_max_per_minute = 10000;
    c->peer_queue_max_bytes = PICK(w, queue_max);
    c->n_members = (int)w->n;
    for (uint32_t i = 0; i < w->n; i++)
        c->members[i] = (struct zk_member){.id = (int)i + 1};
    w->k.pipeline = PICK(w, pipeline);
    w->k.think_max = PICK(w, think);
    w->n_clients = w->o.clients ? w->o.clients : (int)rng_range(&w->rng, 2, 6);
    if (w->n_clients > MS_CLIENTS_MAX)
        w->n_clients = MS_CLIENTS_MAX;
}

static void trace_swarm(struct ms_world *w)
{
    const struct ms_knobs *k = &w->k;
    ms_trace(w, "seed %" PRIu64 ": %u members, %d clients (pipeline %d, think %lld ms); per "
             "million: crash %u outage %u pause %u clock %u partition %u reset %u full %u drop %u dup %u "
             "fsync %u slow %u opfail %u connreset %u; delay %lld ms, disk %lld ms, snapCount "
             "%ld, peer queue %zu", w->o.seed, w->n, w->n_clients, k->pipeline,
             (long long)k->think_max, k->p_crash, k->p_outage, k->p_pause, k->p_clock, k->p_part, k->p_reset,
             k->p_full, k->p_drop, k->p_dup, k->p_fsync, k->p_slow, k->p_opfail, k->p_creset,
             (long long)k->delay_max, (long long)k->disk_max, w->cfg.snap_count,
             w->cfg.peer_queue_max_bytes);
}

static void world_init(struct ms_world *w, const struct msim_opts *o, struct msim_result *res)
{
    memset(res, 0, sizeof *res);
    w->o = *o;
    w->res = res;
    w->rng = o->seed * 0x2545f4914f6cdd1dull + 0x6d656d626572ull;
    w->n = o->members;
    ZK_ASSERT(w->n >= 1 && w->n <= MS_NODES_MAX);
    sim_heap_init(&w->heap, sizeof(struct ms_ev));
    swarm_faults(w);
    swarm_config(w);
    w->heal_at = o->faults_ms ? o->faults_ms : FAULTS_MS_DEFAULT;
    w->stop_at = w->heal_at + (o->healed_ms ? o->healed_ms : HEALED_MS_DEFAULT);
    trace_swarm(w);
    ms_net_init(w);
    w->chk = ms_check_new(w);
    for (uint32_t i = 0; i < w->n; i++) {
        struct ms_node *nd = &w->node[i];
        *nd = (struct ms_node){.w = w, .idx = (int)i, .id = i + 1};
        nd->disk = ms_disk_new(nd);
        ms_disk_seam(nd->disk, &nd->seam);
        ms_schedule(w, (int64_t)i * 7, EV_RESTART, (int)i, 0, 0);
    }
    for (int i = 0; i < w->n_clients; i++) {
        w->clients[i] = ms_client_new(w, i, false);
        ms_schedule(w, 300 + i * 13, EV_CLIENT, i, 0, 0);
    }
    ms_schedule(w, CHAOS_MS, EV_CHAOS, 0, 0, 0);
}

static void world_free(struct ms_world *w)
{
    for (uint32_t i = 0; i < w->n; i++) {
        member_free(w->node[i].m);
        ms_disk_free(w->node[i].disk);
    }
    for (int i = 0; i <= w->n_clients; i++)
        ms_client_free(w->clients[i]);
    ms_net_free(w); /* after the members: freeing one may still close its connections */
    ms_check_free(w->chk);
    sim_heap_free(&w->heap);
}

int msim_run(const struct msim_opts *o, struct msim_result *res)
{
    struct ms_world *w = calloc(1, sizeof *w);
    ZK_ASSERT(w != NULL);
    zk_log_set_level(o->trace ? ZK_LOG_INFO : ZK_LOG_ERROR);
    world_init(w, o, res);
    run(w);
    if (!w->done && !res->violation)
        ms_violation(w, "the simulation ran out of events"); /* a simulator bug */
    res->sim_ms = w->now;
    world_free(w);
    zk_log_set_prefix("zabkeeper");
    free(w);
    return res->violation ? 1 : 0;
}
