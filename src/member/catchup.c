/* Streamed catch-up of a member that is too far behind (see catchup.h). */
#include "member/catchup.h"

#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "common/log.h"
#include "member/member_internal.h"
#include "proto/jute.h"

enum frame_kind { F_BEGIN = 1, F_CHUNK, F_FILEDONE, F_LOGREC, F_END, F_RESUME };

#define HEAD_LEN 10u               /* tag, kind, snapshot zxid */
#define CHUNK_BYTES (256u << 10)   /* file bytes per frame, at most */
#define WINDOW_BYTES (4u << 20)    /* stream bytes queued on a link before we wait, at most */
#define RECORDS_MAX_BYTES (512u << 20) /* log records a member buffers before installing */
#define LOG_PUMP_RECORDS 1024      /* records read from the log per pump */

enum out_phase { OUT_FILE, OUT_LOG, OUT_HELD };

struct out_stream {
    bool active;
    bool dead;           /* its link went down: drop at the next pump */
    uint32_t to;
    int64_t snap, target;
    uint64_t size, offset;
    enum out_phase phase;
    int64_t log_after;   /* last record sent */
    struct jute_writer held; /* [len:4][message] */
};

struct in_stream {
    bool active;
    bool file_done;
    bool complete;
    uint32_t from;
    int64_t snap, target;
    bool receiving; /* storage has a reception open for this stream */
    int64_t last_rec;
    size_t n, cap, bytes;
    int64_t *zxids;
    uint8_t **recs;
    size_t *lens;
};

struct catchup {
    struct member *m;
    const struct member_storage *st; /* the member's storage seam */
    const struct member_env *env;    /* ...and network seam */
    /* Paced below the link's queue bound (peerQueueMaxKB), however small it is set: a chunk
     * is at most a quarter of it, the stream waits at half of it, and the messages held for a
     * member during its stream may fill the other half. */
    size_t chunk_bytes, window_bytes, held_max_bytes;
    struct out_stream out[ZK_SERVERS_MAX];
    struct in_stream in;
    struct jute_writer frame;
    uint8_t *chunk;
};

struct catchup *catchup_new(struct member *m)
{
    struct catchup *cu = zk_calloc(1, sizeof *cu);
    if (!cu)
        return NULL;
    cu->chunk = zk_malloc(CHUNK_BYTES);
    if (!cu->chunk) {
        zk_free(cu);
        return NULL;
    }
    cu->m = m;
    cu->st = &m->storage;
    cu->env = &m->env;
    size_t qmax = cu->env->peer_queue_max(cu->env->io);
    cu->chunk_bytes = qmax / 4 < CHUNK_BYTES ? qmax / 4 : CHUNK_BYTES;
    cu->window_bytes = qmax / 2 < WINDOW_BYTES ? qmax / 2 : WINDOW_BYTES;
    cu->held_max_bytes = qmax / 2;
    jw_init(&cu->frame);
    for (int i = 0; i < ZK_SERVERS_MAX; i++)
        jw_init(&cu->out[i].held);
    return cu;
}

static void in_reset(struct catchup *cu);

void catchup_free(struct catchup *cu)
{
    if (!cu)
        return;
    for (int i = 0; i < ZK_SERVERS_MAX; i++)
        jw_free(&cu->out[i].held);
    in_reset(cu);
    jw_free(&cu->frame);
    zk_free(cu->chunk);
    zk_free(cu);
}

static size_t queued(const struct catchup *cu, uint32_t to)
{
    return cu->env->peer_queued(cu->env->io, to);
}

/* ---- frames ---- */

static struct jute_writer *begin_frame(struct catchup *cu, enum frame_kind kind, int64_t snap)
{
    struct jute_writer *f = &cu->frame;
    jw_reset(f);
    uint8_t head[2] = {CATCHUP_TAG, (uint8_t)kind};
    jw_raw(f, head, 2);
    jw_long(f, snap);
    return f;
}

/* 0, or -1 if the link is down or full (the caller drops the stream). */
static int send_frame(struct catchup *cu, uint32_t to)
{
    if (cu->frame.err)
        return -1;
    return cu->env->peer_send(cu->env->io, to, cu->frame.data, cu->frame.len);
}

/* ---- leader side ---- */

static struct out_stream *out_find(struct catchup *cu, uint32_t to)
{
    for (int i = 0; i < ZK_SERVERS_MAX; i++)
        if (cu->out[i].active && cu->out[i].to == to)
            return &cu->out[i];
    return NULL;
}

static void out_drop(struct out_stream *os, const char *why)
{
    if (why)
        ZK_WARN_RL("catch-up of member %u stopped: %s (it resumes at the next sync)", os->to,
                   why);
    os->active = false;
    jw_free(&os->held);
    jw_init(&os->held);
}

int catchup_start(struct catchup *cu, uint32_t to, int64_t target)
{
    struct out_stream *os = out_find(cu, to);
    if (os)
        out_drop(os, "a new sync began");
    for (int i = 0; i < ZK_SERVERS_MAX && !os; i++)
        if (!cu->out[i].active)
            os = &cu->out[i];
    int64_t snap = cu->st->snapshot_latest(cu->st->ctx);
    int64_t size = snap >= 0 ? cu->st->file_size(cu->st->ctx, snap) : -1;
    if (!os || size < 0 || snap > target) {
        ZK_WARN_RL("cannot stream a snapshot to member %u (snapshot 0x%llx, target 0x%llx)", to,
                   (unsigned long long)snap, (unsigned long long)target);
        return -1;
    }
    *os = (struct out_stream){.active = true, .to = to, .snap = snap, .target = target,
                              .size = (uint64_t)size, .phase = OUT_FILE, .log_after = snap};
    jw_init(&os->held);
    struct jute_writer *f = begin_frame(cu, F_BEGIN, snap);
    jw_long(f, size);
    jw_long(f, target);
    if (send_frame(cu, to) != 0) {
        out_drop(os, "link down");
        return -1;
    }
    ZK_INFO("catch-up of member %u: snapshot 0x%llx (%lld bytes) and the log to 0x%llx", to,
            (unsigned long long)snap, (long long)size, (unsigned long long)target);
    return 0;
}

bool catchup_streaming(const struct catchup *cu, uint32_t to)
{
    return out_find((struct catchup *)cu, to) != NULL;
}

int catchup_hold(struct catchup *cu, uint32_t to, const uint8_t *msg, size_t len)
{
    struct out_stream *os = out_find(cu, to);
    ZK_ASSERT(os);
    if (os->held.len + 4 + len > cu->held_max_bytes) {
        out_drop(os, "too many messages waiting behind the snapshot");
        cu->env->peer_reset(cu->env->io, to, "catch-up could not keep up");
        return -1;
    }
    jw_int(&os->held, (int32_t)len);
    jw_raw(&os->held, msg, len);
    return 0;
}

void catchup_peer_down(struct catchup *cu, uint32_t id)
{
    struct out_stream *os = out_find(cu, id);
    if (os)
        os->dead = true;
    if (cu->in.active && cu->in.from == id)
        in_reset(cu); /* the partial file stays for a resume */
}

/* One chunk of the file; moves to the log phase after the last one. */
static int pump_file(struct catchup *cu, struct out_stream *os)
{
    if (os->offset == os->size) {
        begin_frame(cu, F_FILEDONE, os->snap);
        os->phase = OUT_LOG;
        return send_frame(cu, os->to);
    }
    size_t want = os->size - os->offset < cu->chunk_bytes ? (size_t)(os->size - os->offset)
                                                          : cu->chunk_bytes;
    int64_t n = cu->st->file_pread(cu->st->ctx, os->snap, os->offset, cu->chunk, want);
    if (n <= 0)
        return -1; /* pruned under us (a newer snapshot): the member re-syncs */
    struct jute_writer *f = begin_frame(cu, F_CHUNK, os->snap);
    jw_long(f, (int64_t)os->offset);
    jw_raw(f, cu->chunk, (size_t)n);
    os->offset += (uint64_t)n;
    return send_frame(cu, os->to);
}

struct log_pump {
    struct catchup *cu;
    struct out_stream *os;
    int sent;
    int failed;
};

static int send_record(void *ctx, int64_t zxid, const void *rec, size_t len)
{
    struct log_pump *lp = ctx;
    if (zxid > lp->os->target)
        return 1;
    struct jute_writer *f = begin_frame(lp->cu, F_LOGREC, lp->os->snap);
    jw_long(f, zxid);
    jw_long(f, lp->os->log_after); /* the record before: a lost frame shows as a break */
    jw_raw(f, rec, len);
    if (send_frame(lp->cu, lp->os->to) != 0) {
        lp->failed = 1;
        return 1;
    }
    lp->os->log_after = zxid;
    lp->sent++; /* before the pacing stop: a record that filled the window was still sent */
    /* paced like the file: stop once the link holds a window's worth (records may be large) */
    if (queued(lp->cu, lp->os->to) >= lp->cu->window_bytes)
        return 1;
    return lp->sent >= LOG_PUMP_RECORDS ? 1 : 0;
}

/* Committed records (snapshot, target]: only once they are durable here (a leader may commit
 * on its followers' acks before its own fsync returns). */
static int pump_log(struct catchup *cu, struct out_stream *os, bool *wait)
{
    if (os->log_after < os->target) {
        if (cu->st->durable(cu->st->ctx) < os->target) {
            *wait = true;
            return 0;
        }
        struct log_pump lp = {cu, os, 0, 0};
        int rc = cu->st->read_after(cu->st->ctx, os->log_after, send_record, &lp);
        if (lp.failed || rc < 0)
            return -1;
        if (lp.sent == 0 && os->log_after < os->target) {
            ZK_ERROR_RL("catch-up of member %u: the log has no record after 0x%llx up to "
                        "0x%llx", os->to, (unsigned long long)os->log_after,
                        (unsigned long long)os->target);
            return -1;
        }
        return 0;
    }
    struct jute_writer *f = begin_frame(cu, F_END, os->snap);
    jw_long(f, os->target);
    os->phase = OUT_HELD;
    return send_frame(cu, os->to);
}

/* The stream is out: send what the core said meanwhile, in order, and finish. */
static int pump_held(struct catchup *cu, struct out_stream *os)
{
    struct jute_reader jr;
    jr_init(&jr, os->held.data, os->held.len);
    while (jr_remaining(&jr) > 0) {
        struct jute_bytes m = jr_bytes(&jr);
        ZK_ASSERT(jr_ok(&jr) && m.len >= 0); /* we wrote it */
        if (cu->env->peer_send(cu->env->io, os->to, m.ptr, (size_t)m.len) != 0)
            return -1;
    }
    ZK_INFO("catch-up of member %u: stream to 0x%llx sent", os->to,
            (unsigned long long)os->target);
    out_drop(os, NULL);
    return 0;
}

static void pump_one(struct catchup *cu, struct out_stream *os)
{
    int rc = 0;
    bool wait = false;
    while (os->active && !os->dead && rc == 0 && !wait &&
           queued(cu, os->to) < cu->window_bytes) {
        switch (os->phase) {
        case OUT_FILE: rc = pump_file(cu, os); break;
        case OUT_LOG: rc = pump_log(cu, os, &wait); break;
        case OUT_HELD: rc = pump_held(cu, os); break;
        }
    }
    if (os->active && (rc != 0 || os->dead))
        out_drop(os, os->dead ? "link down" : "send or read failed");
}

void catchup_pump(struct catchup *cu)
{
    for (int i = 0; i < ZK_SERVERS_MAX; i++)
        if (cu->out[i].active)
            pump_one(cu, &cu->out[i]);
}

static void on_resume(struct catchup *cu, uint32_t from, int64_t snap, uint64_t offset)
{
    struct out_stream *os = out_find(cu, from);
    if (!os || os->snap != snap || os->phase != OUT_FILE || offset > os->size)
        return;
    if (offset > os->offset) {
        ZK_INFO("catch-up of member %u resumes at byte %llu of %llu", from,
                (unsigned long long)offset, (unsigned long long)os->size);
        os->offset = offset;
    }
}

/* ---- member side ---- */

static void in_reset(struct catchup *cu)
{
    struct in_stream *in = &cu->in;
    if (in->receiving)
        cu->st->receive_close(cu->st->ctx); /* the partial file stays for a resume */
    for (size_t i = 0; i < in->n; i++)
        zk_free(in->recs[i]);
    zk_free(in->recs);
    zk_free(in->lens);
    zk_free(in->zxids);
    *in = (struct in_stream){0};
}

static void in_fail(struct catchup *cu, const char *why)
{
    ZK_WARN_RL("catch-up from member %u dropped: %s", cu->in.from, why);
    in_reset(cu);
}

static void send_resume(struct catchup *cu, uint32_t to, int64_t snap, uint64_t have)
{
    struct jute_writer *f = begin_frame(cu, F_RESUME, snap);
    jw_long(f, (int64_t)have);
    if (send_frame(cu, to) == 0)
        ZK_INFO("catch-up: asking member %u to resume at byte %llu", to,
                (unsigned long long)have);
}

static void on_begin(struct catchup *cu, uint32_t from, int64_t snap, struct jute_reader *jr)
{
    uint64_t size = (uint64_t)jr_long(jr);
    int64_t target = jr_long(jr);
    if (!jr_ok(jr) || snap < 0 || target < snap) {
        ZK_WARN_RL("catch-up: member %u sent a malformed BEGIN", from);
        return;
    }
    in_reset(cu);
    struct in_stream *in = &cu->in;
    *in = (struct in_stream){.active = true, .from = from, .snap = snap, .target = target,
                             .last_rec = snap};
    if (cu->st->file_size(cu->st->ctx, snap) >= 0) {
        /* A finished snapshot at that zxid is that state, whoever wrote it (ours, or one a
         * stream completed last time): no need for the leader's bytes. */
        in->file_done = true;
        send_resume(cu, from, snap, size);
        return;
    }
    uint64_t have;
    if (cu->st->receive_open(cu->st->ctx, snap, size, &have) != 0) {
        in_fail(cu, "cannot store the snapshot file");
        return;
    }
    in->receiving = true;
    if (have > 0)
        send_resume(cu, from, snap, have);
}

static void on_chunk(struct catchup *cu, struct jute_reader *jr)
{
    struct in_stream *in = &cu->in;
    uint64_t offset = (uint64_t)jr_long(jr);
    size_t n = jr_remaining(jr);
    if (in->file_done && jr_ok(jr))
        return; /* sent before our RESUME reached the leader: we have the file already */
    if (!jr_ok(jr) || !in->receiving) {
        in_fail(cu, "a chunk out of place");
        return;
    }
    if (cu->st->receive_chunk(cu->st->ctx, offset, jr->data + jr->pos, n) != 0)
        in_fail(cu, "a chunk does not fit the file");
}

static void on_filedone(struct catchup *cu)
{
    struct in_stream *in = &cu->in;
    if (in->file_done)
        return; /* we had it whole already */
    if (!in->receiving) {
        in_fail(cu, "FILEDONE without a file");
        return;
    }
    in->receiving = false;
    if (cu->st->receive_finish(cu->st->ctx) != 0) {
        in_fail(cu, "the snapshot file did not check out");
        return;
    }
    in->file_done = true;
}

static int keep_record(struct in_stream *in, int64_t zxid, const uint8_t *p, size_t len)
{
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 256;
        int64_t *z = zk_realloc(in->zxids, cap * sizeof *z);
        if (z)
            in->zxids = z;
        uint8_t **r = z ? zk_realloc(in->recs, cap * sizeof *r) : NULL;
        if (r)
            in->recs = r;
        size_t *l = r ? zk_realloc(in->lens, cap * sizeof *l) : NULL;
        if (!l)
            return -1;
        in->lens = l;
        in->cap = cap;
    }
    uint8_t *copy = zk_malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, p, len);
    in->zxids[in->n] = zxid;
    in->recs[in->n] = copy;
    in->lens[in->n++] = len;
    in->bytes += len;
    in->last_rec = zxid;
    return 0;
}

static void on_logrec(struct catchup *cu, struct jute_reader *jr)
{
    struct in_stream *in = &cu->in;
    int64_t zxid = jr_long(jr);
    int64_t prev = jr_long(jr);
    size_t len = jr_remaining(jr);
    if (!jr_ok(jr) || !in->file_done || prev != in->last_rec || zxid <= in->last_rec ||
        zxid > in->target || in->bytes + len > RECORDS_MAX_BYTES) {
        in_fail(cu, "a log record out of place or over the bound");
        return;
    }
    if (keep_record(in, zxid, jr->data + jr->pos, len) != 0)
        in_fail(cu, "out of memory");
}

static void on_end(struct catchup *cu, struct jute_reader *jr)
{
    struct in_stream *in = &cu->in;
    int64_t target = jr_long(jr);
    if (!jr_ok(jr) || !in->file_done || target != in->target || in->last_rec != target) {
        in_fail(cu, "END before the stream was whole");
        return;
    }
    in->complete = true;
}

void catchup_receive(struct catchup *cu, uint32_t from, const uint8_t *frame, size_t len)
{
    struct jute_reader jr;
    jr_init(&jr, frame, len);
    uint8_t tag = 0, kind = 0;
    if (len >= HEAD_LEN) {
        tag = frame[0];
        kind = frame[1];
        jr.pos = 2;
    }
    int64_t snap = jr_long(&jr);
    if (len < HEAD_LEN || tag != CATCHUP_TAG || !jr_ok(&jr)) {
        ZK_WARN_RL("catch-up: a malformed frame from member %u", from);
        return;
    }
    if (kind == F_RESUME) {
        uint64_t offset = (uint64_t)jr_long(&jr);
        if (jr_ok(&jr))
            on_resume(cu, from, snap, offset);
        return;
    }
    if (kind == F_BEGIN) {
        on_begin(cu, from, snap, &jr);
        return;
    }
    struct in_stream *in = &cu->in;
    if (!in->active || in->from != from || in->snap != snap || in->complete) {
        ZK_WARN_RL("catch-up: frame %u from member %u outside a stream", kind, from);
        return;
    }
    switch (kind) {
    case F_CHUNK: on_chunk(cu, &jr); break;
    case F_FILEDONE: on_filedone(cu); break;
    case F_LOGREC: on_logrec(cu, &jr); break;
    case F_END: on_end(cu, &jr); break;
    default: in_fail(cu, "unknown frame kind");
    }
}

bool catchup_ready(const struct catchup *cu, uint32_t from, int64_t target)
{
    const struct in_stream *in = &cu->in;
    return in->active && in->complete && in->from == from && in->target == target;
}

int catchup_install(struct catchup *cu, struct store *st,
                    int (*apply)(void *ctx, int64_t zxid, const void *rec, size_t len),
                    void *ctx)
{
    struct in_stream *in = &cu->in;
    ZK_ASSERT(in->active && in->complete);
    int rc = cu->st->install(cu->st->ctx, st, in->snap, (const void *const *)in->recs,
                             in->lens, in->zxids, in->n, apply, ctx);
    in_reset(cu);
    return rc;
}
