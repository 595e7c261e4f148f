/* `zabkeeper --import-zookeeper`: the steps in order and the summary.
 *   1. read zabkeeper's CONFIG (target dataDir/dataLogDir, jute.maxbuffer) and refuse a target
 *      that already holds zabkeeper data;
 *   2. load ZooKeeper's newest valid snapshot and replay the logs after it, as a ZooKeeper
 *      member does when it starts (zksnap.c, zklog.c, zkreplay.c);
 *   3. compare the tree with the digest ZooKeeper logged for the last txn, then do what a
 *      member does after loading: delete the ephemerals of sessions that are gone
 *      (ZooKeeperServer.loadData), recompute the quota stats nodes (DataTree.setupQuota) and
 *      replace /zookeeper/config, which each member rewrites from its own zoo.cfg, with a
 *      fresh zabkeeper member's (so the members' replicated states are equal);
 *   4. write the state at max(last zxid, currentEpoch << 32) with epochs at least ZooKeeper's,
 *      so new zxids are higher and no client has seen a later zxid (zkwrite.c). */
#include "import/zkimport.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/alloc.h"
#include "import/zkimport_internal.h"
#include "server/config.h"

int zkimp_fail(struct zkimp *im, const char *fmt, ...)
{
    if (im->err[0])
        return -1; /* keep the first (root) cause */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->err, sizeof im->err, fmt, ap);
    va_end(ap);
    return -1;
}

void zkimp_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("zabkeeper: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0; /* only the printed duration would be wrong */
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ZooKeeper keeps its files in <dir>/version-2; the version-2 directory itself is accepted too. */
static int version_dir(struct zkimp *im, const char *dir, char *out, size_t out_size)
{
    struct stat st;
    snprintf(out, out_size, "%s/version-2", dir);
    int rc = stat(out, &st);
    if (rc == 0 && S_ISDIR(st.st_mode))
        return 0;
    if (rc != 0 && errno != ENOENT && errno != ENOTDIR)
        return zkimp_fail(im, "cannot read %s: %s", out, strerror(errno));
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len >= 9 && strncmp(dir + len - 9, "version-2", 9) == 0) {
        snprintf(out, out_size, "%.*s", (int)len, dir);
        return 0;
    }
    return zkimp_fail(im, "%s/version-2 is not a readable directory (not a ZooKeeper dataDir?)",
                      dir);
}

static int read_epochs(struct zkimp *im)
{
    int64_t cur = zkdir_read_epoch(im, im->snap_dir, "currentEpoch");
    int64_t acc = zkdir_read_epoch(im, im->snap_dir, "acceptedEpoch");
    if (cur == -2 || acc == -2)
        return -1;
    im->zk_current_epoch = cur; /* -1: a standalone ZooKeeper keeps none */
    im->zk_accepted_epoch = acc;
    return 0;
}

/* Step 3: how the tree compares with ZooKeeper's own digest of it. */
static const char *digest_check(struct zkimp *im)
{
    if (!im->zk_digest_known || im->zk_digest_zxid != im->last_zxid)
        return "not available (the last txn carries no digest)";
    if (zt_zk_digest(&im->tree) == im->zk_digest)
        return "match";
    zkimp_warn("the imported tree does not match the digest ZooKeeper logged for zxid 0x%llx",
               (unsigned long long)im->last_zxid);
    return "MISMATCH";
}

static int read_zookeeper(struct zkimp *im, const char **digest)
{
    if (read_epochs(im) || zksnap_load(im) || zklog_replay(im))
        return -1;
    *digest = digest_check(im);
    size_t orphans = zt_orphan_count(&im->tree);
    if (orphans)
        zkimp_warn("%zu nodes are left outside the tree by the replay; they are dropped, as "
                   "ZooKeeper's next snapshot drops them", orphans);
    im->dead_sessions = zt_kill_dead_sessions(&im->tree, im->last_zxid);
    if (im->dead_sessions < 0 || zt_setup_quota(&im->tree) < 0)
        return zkimp_fail(im, "out of memory");
    zt_reset_config(&im->tree);
    return 0;
}

/* Step 4's zxid and epochs. */
static void plan_state(const struct zkimp *im, struct zkwrite_plan *p)
{
    int64_t epoch = (int64_t)((uint64_t)im->last_zxid >> 32);
    int64_t cur = im->zk_current_epoch > epoch ? im->zk_current_epoch : epoch;
    int64_t acc = im->zk_accepted_epoch > cur ? im->zk_accepted_epoch : cur;
    /* A ZooKeeper leader reports currentEpoch << 32 as its zxid before any txn of the epoch. */
    int64_t epoch_zxid = (int64_t)((uint64_t)cur << 32);
    p->zxid = im->last_zxid > epoch_zxid ? im->last_zxid : epoch_zxid;
    p->current_epoch = (uint32_t)cur; /* epochs are 32-bit: zkdir_read_epoch checked */
    p->accepted_epoch = (uint32_t)acc;
}

static void print_summary(const struct zkimp *im, const struct zkwrite_plan *p,
                          const struct zkwrite_result *r, const char *digest, double seconds)
{
    printf("zabkeeper: imported ZooKeeper's state into %s/zabkeeper-snap and %s/zabkeeper-log\n",
           p->data_dir, p->data_log_dir);
    printf("  snapshot: %s (zxid 0x%llx, %d newer skipped)\n", im->snap_file,
           (unsigned long long)im->snap_zxid, im->snaps_skipped);
    printf("  txns replayed: %ld from %d log files (%ld ops found already in the snapshot)\n",
           im->txns, im->logs_used, im->ops_reflected);
    printf("  nodes: %zu\n", r->nodes);
    printf("  sessions: %zu (%ld dead owners' ephemerals removed)\n", r->sessions,
           im->dead_sessions);
    printf("  last zxid: 0x%llx\n", (unsigned long long)im->last_zxid);
    printf("  state zxid: 0x%llx\n", (unsigned long long)p->zxid);
    printf("  epochs: accepted %u, current %u\n", p->accepted_epoch, p->current_epoch);
    printf("  zookeeper digest: %s\n", digest);
    printf("  verified: read back %zu nodes, digest 0x%016llx, every node's data, Stat and ACL "
           "equal\n", r->nodes, (unsigned long long)r->digest);
    printf("  seconds: %.2f\n", seconds);
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s --import-zookeeper ZK_DATA_DIR [ZK_DATALOG_DIR] CONFIG\n"
                    "  ZK_DATA_DIR, ZK_DATALOG_DIR: a stopped ZooKeeper member's dataDir and\n"
                    "  dataLogDir; CONFIG: the zabkeeper member's zoo.cfg\n", prog);
    return 2;
}

static int run(struct zkimp *im, const struct zk_config *cfg, const char *data, const char *logs)
{
    double start = now_s();
    struct zkwrite_plan plan = {cfg->data_dir, cfg->data_log_dir, cfg->lmdb_map_bytes,
                                cfg->max_buffer, cfg->extended_types, 0, 0, 0};
    struct zkwrite_result res;
    const char *digest = "";
    im->max_len = zkf_length_limit(cfg->max_buffer);
    if (zkwrite_check_target(im, &plan) || version_dir(im, data, im->snap_dir, sizeof im->snap_dir) ||
        version_dir(im, logs, im->log_dir, sizeof im->log_dir) || read_zookeeper(im, &digest))
        return -1;
    plan_state(im, &plan);
    if (zkwrite_target(im, &plan, &res))
        return -1;
    print_summary(im, &plan, &res, digest, now_s() - start);
    if (fflush(stdout) != 0)
        zkimp_warn("the summary could not be written (the import itself is complete)");
    return 0;
}

int zkimport_main(int argc, char **argv)
{
    if (argc != 4 && argc != 5)
        return usage(argv[0]);
    const char *data = argv[2], *logs = argc == 5 ? argv[3] : argv[2];
    static struct zk_config cfg;
    char err[512];
    if (config_load(argv[argc - 1], NULL, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "zabkeeper: bad configuration: %s\n", err);
        return 2;
    }
    struct zkimp *im = zk_calloc(1, sizeof *im);
    if (!im) {
        fprintf(stderr, "zabkeeper: out of memory\n");
        return 1;
    }
    int rc = run(im, &cfg, data, logs);
    if (rc)
        fprintf(stderr, "zabkeeper: import refused: %s\nzabkeeper: nothing was written\n",
                im->err[0] ? im->err : "unknown error");
    zt_free(&im->tree);
    zk_free(im);
    return rc ? 1 : 0;
}
