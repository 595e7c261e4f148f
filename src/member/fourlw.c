/* Four-letter words on the client port (ruok, srvr, stat, mntr, conf, isro, envi, cons, wchs,
 * dirs, crst, srst), in ZooKeeper 3.8's formats: monitoring tools parse these lines. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/assert.h"
#include "common/hist.h"
#include "member/member_internal.h"
#include "member/stages.h"


static const char *const words[] = {"ruok", "srvr", "stat", "mntr", "conf", "isro", "envi",
                                    "cons", "wchs", "wchc", "wchp", "dirs", "crst", "srst",
                                    "dump", "hash", "gtmk", "stmk", NULL};

bool fourlw_is_command(const uint8_t word[4])
{
    for (int i = 0; words[i]; i++)
        if (!memcmp(words[i], word, 4))
            return true;
    return false;
}

static void outf(struct jute_writer *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void outf(struct jute_writer *out, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        jw_raw(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static size_t outstanding(const struct member *m)
{
    int64_t n = repl_last_proposed(m->repl) - store_last_zxid(m->store);
    return n > 0 ? (size_t)n : 0;
}

static void write_version_line(struct jute_writer *out)
{
    char version[MEMBER_FULL_VERSION_MAX];
    member_full_version(version, sizeof version);
    outf(out, "Zookeeper version: %s\n", version);
}

static void write_server_stats(struct member *m, struct jute_writer *out)
{
    const struct member_stats *st = &m->stats;
    double avg = st->latency_count ? (double)st->latency_total_ms / (double)st->latency_count : 0;
    outf(out, "Latency min/avg/max: %lld/%.4f/%lld\n", (long long)st->latency_min_ms, avg,
         (long long)st->latency_max_ms);
    outf(out, "Received: %llu\n", (unsigned long long)st->packets_received);
    outf(out, "Sent: %llu\n", (unsigned long long)st->packets_sent);
    outf(out, "Connections: %zu\n", conns_count(m->conns));
    outf(out, "Outstanding: %zu\n", outstanding(m));
    outf(out, "Zxid: 0x%llx\n", (unsigned long long)store_last_zxid(m->store));
    outf(out, "Mode: %s\n", member_mode(m));
    /* ZooKeeper's node map counts the root twice ("" and "/"); print what it would print. */
    outf(out, "Node count: %zu\n", store_node_count(m->store) + 1);
}

static uint64_t disk_bytes(struct member *m)
{
    return m->storage.disk_bytes ? m->storage.disk_bytes(m->storage.ctx) : 0;
}

static uint64_t fsyncs(const struct member *m)
{
    return m->storage.fsyncs ? m->storage.fsyncs(m->storage.ctx) : 0;
}

/* A histogram as mntr lines: count, p50, p99, max (zabkeeper's own, prefixed). */
static void write_hist(struct jute_writer *out, const char *name, const struct hist *h)
{
    if (!h)
        return;
    outf(out, "%s_count\t%llu\n", name, (unsigned long long)h->count);
    outf(out, "%s_p50\t%.0f\n", name, hist_quantile(h, 0.50));
    outf(out, "%s_p99\t%.0f\n", name, hist_quantile(h, 0.99));
    outf(out, "%s_max\t%llu\n", name, (unsigned long long)h->max_us);
}

static void write_mntr(struct member *m, struct jute_writer *out)
{
    const struct member_stats *st = &m->stats;
    double avg = st->latency_count ? (double)st->latency_total_ms / (double)st->latency_count : 0;
    long open_fds = -1, max_fds = -1;
    if (m->env.process_facts)
        m->env.process_facts(m->env.io, &open_fds, &max_fds);
    char version[MEMBER_FULL_VERSION_MAX];
    member_full_version(version, sizeof version);
    outf(out, "zk_version\t%s\n", version);
    outf(out, "zk_server_state\t%s\n", member_mode(m));
    outf(out, "zk_avg_latency\t%.4f\n", avg);
    outf(out, "zk_max_latency\t%lld\n", (long long)st->latency_max_ms);
    outf(out, "zk_min_latency\t%lld\n", (long long)st->latency_min_ms);
    outf(out, "zk_packets_received\t%llu\n", (unsigned long long)st->packets_received);
    outf(out, "zk_packets_sent\t%llu\n", (unsigned long long)st->packets_sent);
    outf(out, "zk_num_alive_connections\t%zu\n", conns_count(m->conns));
    outf(out, "zk_outstanding_requests\t%zu\n", outstanding(m));
    outf(out, "zk_znode_count\t%zu\n", store_node_count(m->store) + 1);
    outf(out, "zk_watch_count\t%zu\n", store_watch_count(m->store));
    outf(out, "zk_ephemerals_count\t%zu\n", store_ephemeral_count(m->store));
    outf(out, "zk_approximate_data_size\t%llu\n",
         (unsigned long long)store_approximate_data_size(m->store));
    outf(out, "zk_open_file_descriptor_count\t%ld\n", open_fds);
    outf(out, "zk_max_file_descriptor_count\t%ld\n", max_fds);
    outf(out, "zk_uptime\t%lld\n", (long long)(member_now(m) - m->start_ms));
    outf(out, "zk_global_sessions\t%zu\n", store_session_count(m->store));
    outf(out, "zk_local_sessions\t0\n");
    outf(out, "zk_last_zxid\t0x%llx\n", (unsigned long long)store_last_zxid(m->store));
    outf(out, "zk_fsync_count\t%llu\n", (unsigned long long)fsyncs(m));
    outf(out, "zk_txns_logged\t%llu\n", (unsigned long long)st->txns_logged);
    outf(out, "zk_log_disk_bytes\t%llu\n", (unsigned long long)disk_bytes(m));
    outf(out, "zk_tree_digest\t%016llx\n", (unsigned long long)store_digest(m->store));
    const struct member_storage *sto = &m->storage;
    if (sto->commit_hist)
        write_hist(out, "zabkeeper_log_commit_us", sto->commit_hist(sto->ctx));
    if (sto->batch_hist)
        write_hist(out, "zabkeeper_log_commit_records", sto->batch_hist(sto->ctx));
    if (sto->checkpoint_hist)
        write_hist(out, "zabkeeper_log_checkpoint_us", sto->checkpoint_hist(sto->ctx));
    const struct stages *stg = repl_stages(m->repl);
    for (int i = 0; stg && i < STAGE_COUNT; i++) {
        char name[96];
        snprintf(name, sizeof name, "zabkeeper_stage_%s_us", stages_name((enum stage_hist)i));
        write_hist(out, name, stages_hist(stg, (enum stage_hist)i));
    }
}

static void write_conf(struct member *m, struct jute_writer *out)
{
    const struct zk_config *c = &m->cfg;
    outf(out, "clientPort=%d\n", c->client_port);
    outf(out, "secureClientPort=%d\n", c->sec.secure_client_port ? c->sec.secure_client_port : -1);
    outf(out, "dataDir=%s\n", c->data_dir);
    outf(out, "dataDirSize=%llu\n", (unsigned long long)disk_bytes(m));
    outf(out, "dataLogDir=%s\n", c->data_log_dir);
    outf(out, "dataLogSize=%llu\n", (unsigned long long)disk_bytes(m));
    outf(out, "tickTime=%d\n", c->tick_ms);
    outf(out, "maxClientCnxns=%d\n", c->max_client_cnxns);
    outf(out, "minSessionTimeout=%d\n", c->min_session_timeout_ms);
    outf(out, "maxSessionTimeout=%d\n", c->max_session_timeout_ms);
    outf(out, "clientPortListenBacklog=1024\n");
    outf(out, "serverId=%d\n", c->myid);
    if (c->n_members == 0)
        return;
    outf(out, "initLimit=%d\nsyncLimit=%d\nelectionAlg=3\n", c->init_limit, c->sync_limit);
    outf(out, "membership: \n");
    ensemble_format(&m->ensemble, true, out); /* the active configuration, as ZooKeeper's */
    outf(out, "\n");
}

static void write_envi(struct jute_writer *out)
{
    struct utsname u;
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    outf(out, "Environment:\n");
    char version[MEMBER_FULL_VERSION_MAX];
    member_full_version(version, sizeof version);
    outf(out, "zookeeper.version=%s\n", version);
    outf(out, "host.name=%s\n", host);
    if (uname(&u) == 0)
        outf(out, "os.name=%s\nos.arch=%s\nos.version=%s\n", u.sysname, u.machine, u.release);
    outf(out, "server.implementation=zabkeeper (C, libevent, LMDB)\n");
}

static void write_dirs(struct member *m, struct jute_writer *out)
{
    outf(out, "datadir_size: %llu\n", (unsigned long long)disk_bytes(m));
    outf(out, "logdir_size: %llu\n", (unsigned long long)disk_bytes(m));
}

void fourlw_answer(struct member *m, const char *word, struct jute_writer *out)
{
    if (!config_fourlw_allowed(&m->cfg, word)) {
        outf(out, "%s is not executed because it is not in the whitelist.\n", word);
        return;
    }
    if (!strcmp(word, "ruok"))
        outf(out, "imok");
    else if (!strcmp(word, "isro"))
        outf(out, m->read_only ? "ro" : repl_serving(m->repl) ? "rw" : "null");
    else if (!repl_serving(m->repl) && !m->read_only)
        outf(out, "This ZooKeeper instance is not currently serving requests\n");
    else if (!strcmp(word, "srvr")) {
        write_version_line(out);
        write_server_stats(m, out);
    } else if (!strcmp(word, "stat")) {
        write_version_line(out);
        outf(out, "Clients:\n");
        conns_describe(m->conns, out);
        outf(out, "\n");
        write_server_stats(m, out);
    } else if (!strcmp(word, "mntr"))
        write_mntr(m, out);
    else if (!strcmp(word, "conf"))
        write_conf(m, out);
    else if (!strcmp(word, "envi"))
        write_envi(out);
    else if (!strcmp(word, "dirs"))
        write_dirs(m, out);
    else if (!strcmp(word, "cons")) {
        conns_describe(m->conns, out);
        outf(out, "\n");
    } else if (!strcmp(word, "wchs"))
        outf(out, "%zu connections watching paths\nTotal watches:%zu\n", conns_count(m->conns),
             store_watch_count(m->store));
    else if (!strcmp(word, "srst") || !strcmp(word, "crst")) {
        memset(&m->stats, 0, sizeof m->stats);
        outf(out, "%s stats reset.\n", word[0] == 's' ? "Server" : "Connection");
    } else
        outf(out, "%s: not available in zabkeeper\n", word);
}
