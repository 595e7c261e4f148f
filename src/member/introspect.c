/* Structured introspection (member.h) for the AdminServer's JSON and the Prometheus endpoint:
 * the same numbers the four-letter words print (fourlw.c), as values, plus the serving terms
 * noted at the end of each turn. */
#include <stdio.h>
#include <string.h>

#include "member/member_internal.h"
#include "member/stages.h"
#include "session/sessions.h"

_Static_assert(MEMBER_STAGES == STAGE_COUNT, "member.h's MEMBER_STAGES is stages.h's STAGE_COUNT");

void member_note_terms(struct member *m)
{
    struct member_terms *t = &m->terms;
    bool serving = repl_serving(m->repl);
    if (serving == t->serving || m->cfg.n_members == 0)
        return; /* standalone: no election, as ZooKeeper's */
    int64_t now = member_now(m);
    if (serving)
        hist_add(&t->election, (uint64_t)(now - t->since_ms) * 1000u);
    else
        t->looking_count++;
    t->serving = serving;
    t->since_ms = now;
}

static int quorum_size(const struct ensemble *e)
{
    int n = 0;
    for (int i = 0; i < e->n; i++)
        n += !e->m[i].observer;
    return n;
}

void member_info(const struct member *m, struct member_info *out)
{
    memset(out, 0, sizeof *out);
    const struct member_stats *st = &m->stats;
    const struct member_storage *sto = &m->storage;
    out->mode = member_mode(m);
    out->serving = repl_serving(m->repl);
    out->read_only = m->read_only;
    out->leader = out->serving && repl_is_leader(m->repl) && m->cfg.n_members > 0;
    out->id = (uint32_t)m->cfg.myid;
    out->leader_id = m->cfg.n_members ? repl_leader(m->repl) : 0;
    out->quorum_size = quorum_size(&m->ensemble); /* the active configuration's */
    repl_leader_facts(m->repl, &out->learners, &out->synced_followers, &out->synced_observers,
                      &out->last_proposal_size);
    out->packets_received = st->packets_received;
    out->packets_sent = st->packets_sent;
    out->min_latency_ms = st->latency_min_ms;
    out->max_latency_ms = st->latency_max_ms;
    out->avg_latency_ms =
        st->latency_count ? (double)st->latency_total_ms / (double)st->latency_count : 0;
    out->connections = conns_count(m->conns);
    int64_t ahead = repl_last_proposed(m->repl) - store_last_zxid(m->store);
    out->outstanding = ahead > 0 ? (size_t)ahead : 0; /* as mntr's zk_outstanding_requests */
    out->last_zxid = store_last_zxid(m->store);
    out->znode_count = store_node_count(m->store) + 1;
    out->watch_count = store_watch_count(m->store);
    out->ephemerals_count = store_ephemeral_count(m->store);
    out->global_sessions = store_session_count(m->store);
    out->approximate_data_size = store_approximate_data_size(m->store);
    out->open_fds = out->max_fds = -1;
    if (m->env.process_facts)
        m->env.process_facts(m->env.io, &out->open_fds, &out->max_fds);
    int64_t now = member_now(m);
    out->uptime_ms = now - m->start_ms;
    out->leader_uptime_ms = out->leader && m->terms.serving ? now - m->terms.since_ms : -1;
    out->looking_count = m->terms.looking_count;
    out->election = m->cfg.n_members ? &m->terms.election : NULL;
    out->fsyncs = sto->fsyncs ? sto->fsyncs(sto->ctx) : 0;
    out->txns_logged = st->txns_logged;
    out->disk_bytes = sto->disk_bytes ? sto->disk_bytes(sto->ctx) : 0;
    out->tree_digest = store_digest(m->store);
    if (sto->log_queue)
        sto->log_queue(sto->ctx, &out->log_queue_records, &out->log_queue_bytes);
    out->log_commit = sto->commit_hist ? sto->commit_hist(sto->ctx) : NULL;
    out->log_batch = sto->batch_hist ? sto->batch_hist(sto->ctx) : NULL;
    out->log_checkpoint = sto->checkpoint_hist ? sto->checkpoint_hist(sto->ctx) : NULL;
    out->snapshot = sto->snapshot_hist ? sto->snapshot_hist(sto->ctx) : NULL;
    const struct stages *stg = repl_stages(m->repl);
    for (int i = 0; i < STAGE_COUNT; i++) {
        out->stage_name[i] = stages_name((enum stage_hist)i);
        out->stage[i] = stg ? stages_hist(stg, (enum stage_hist)i) : NULL;
    }
}

const struct zk_config *member_config(const struct member *m) { return &m->cfg; }

void member_conns_each(const struct member *m,
                       void (*fn)(void *ctx, const struct member_conn_info *c), void *ctx)
{
    conns_each(m->conns, fn, ctx);
}

void member_ephemerals_each(const struct member *m,
                            void (*fn)(void *ctx, int64_t session, const char *path, size_t len),
                            void *ctx)
{
    store_ephemerals_foreach(m->store, fn, ctx);
}

void member_expiries_each(const struct member *m,
                          void (*fn)(void *ctx, int64_t session, int64_t expires_ms), void *ctx)
{
    if (repl_is_leader(m->repl) && repl_serving(m->repl))
        sessions_deadlines(m->sessions, fn, ctx);
}

void member_watch_summary(const struct member *m, size_t *watchers, size_t *paths,
                          size_t *watches)
{
    store_watch_summary(m->store, watchers, paths, watches);
}

/* ZooKeeper's "built on" is its build time as yyyy-MM-dd HH:mm zz (Version.getFullVersion);
 * tools parse it, so ours has that shape, from the compiler's __DATE__ ("Nov 30 2026") and
 * __TIME__. */
void member_full_version(char *buf, size_t n)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *date = __DATE__;
    const char *found = strstr(months, (char[]){date[0], date[1], date[2], '\0'});
    int month = found ? (int)(found - months) / 3 + 1 : 1;
    int day = (date[4] == ' ' ? 0 : date[4] - '0') * 10 + (date[5] - '0');
    snprintf(buf, n, "%s, built on %.4s-%02d-%02d %.5s UTC", MEMBER_ZK_VERSION, date + 7, month,
             day, __TIME__);
}
