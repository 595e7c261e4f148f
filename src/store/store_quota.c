/* Quotas as ZooKeeper's DataTree keeps them: a quota on /a/b is the node
 * /zookeeper/quota/a/b/zookeeper_limits (its limits, "count=N,bytes=M", written by zkCli
 * setquota) beside /zookeeper/quota/a/b/zookeeper_stats, whose data the members keep equal to
 * the node count and data bytes of /a/b's subtree. Every create, delete and setData under /a/b
 * updates the stats of the deepest quota above it (DataTree.getMaxPrefixWithQuota and
 * updateQuotaStat); creating a stats node sets it from the subtree (updateQuotaForPath). Only
 * the data changes: no version, no mzxid, no watch event, as in ZooKeeper. The updates are
 * part of the txn (undone with it), so every member computes the same bytes. Hard limits
 * (countHardLimit, byteHardLimit) refuse a create or setData with QuotaExceeded when the txn
 * carries the enforceQuota identity (zookeeper.enforceQuota on the member that took the
 * request: store.h), as ZooKeeperServer.checkQuota does on the leader. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "store/store_internal.h"

#define QUOTA_ROOT "/zookeeper/quota"
#define QUOTA_LIMITS "zookeeper_limits"
#define QUOTA_STATS "zookeeper_stats"
#define STATS_TEXT_MAX 4096 /* what a stats node written by a client may hold for us to update */
#define STATS_VALUE_MAX (1LL << 60)

static bool under_zookeeper(const char *path, size_t len)
{
    return len >= 10 && !memcmp(path, "/zookeeper", 10) && (len == 10 || path[10] == '/');
}

/* The quota node of prefix (QUOTA_ROOT + prefix + "/" + leaf), looked up; buf holds the name. */
static struct znode *quota_node(const struct store *st, char *buf, const char *prefix,
                                size_t prefix_len, const char *leaf)
{
    size_t root = strlen(QUOTA_ROOT), leaf_len = strlen(leaf);
    memcpy(buf, QUOTA_ROOT, root);
    memcpy(buf + root, prefix, prefix_len);
    buf[root + prefix_len] = '/';
    memcpy(buf + root + prefix_len + 1, leaf, leaf_len);
    return node_lookup(st, buf, root + prefix_len + 1 + leaf_len);
}

/* DataTree.getMaxPrefixWithQuota + Quotas.limitPath/statPath: the limits and stats nodes of
 * the deepest quota on path or an ancestor (not the root, nothing under /zookeeper). Returns
 * the stats node (NULL: none, or no stats), *limits the limits node (NULL: no quota). */
static struct znode *stats_node_for(const struct store *st, const char *path, size_t len,
                                    struct znode **limits, int *nomem)
{
    *limits = NULL;
    const struct znode *root = node_lookup(st, QUOTA_ROOT, strlen(QUOTA_ROOT));
    if (!root || root->num_children == 0 || under_zookeeper(path, len))
        return NULL;
    char *buf = zk_malloc(strlen(QUOTA_ROOT) + len + 2 + strlen(QUOTA_LIMITS));
    if (!buf) {
        *nomem = 1;
        return NULL;
    }
    struct znode *stats = NULL;
    for (long plen = (long)len; plen > 1; plen = path_last_slash(path, (size_t)plen)) {
        if ((*limits = quota_node(st, buf, path, (size_t)plen, QUOTA_LIMITS))) {
            stats = quota_node(st, buf, path, (size_t)plen, QUOTA_STATS);
            break; /* ZooKeeper's trie: the deepest prefix with limits, its stats or none */
        }
    }
    zk_free(buf);
    return stats;
}

/* StatsTrack's text: count and bytes first, any other keys after "=" as ";key=value", sorted
 * (ours keep the order they came in, which is ZooKeeper's for the text it wrote). */
struct stats_text {
    int64_t count, bytes;
    int64_t count_hard, byte_hard; /* countHardLimit, byteHardLimit (limits nodes) */
    const char *rest; /* the pairs after count and bytes, as found */
    size_t rest_len;
};

static bool parse_value(const char *v, size_t n, int64_t *out)
{
    char num[32];
    if (n == 0) {
        *out = -1; /* StatsTrack: an empty value is -1 */
        return true;
    }
    if (n >= sizeof num)
        return false;
    memcpy(num, v, n);
    num[n] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(num, &end, 10);
    /* far from INT64's ends, so adding a change to it cannot overflow */
    if (*end != '\0' || errno || x > STATS_VALUE_MAX || x < -STATS_VALUE_MAX)
        return false;
    *out = x;
    return true;
}

/* StatsTrack(String): pairs split on runs of ',' and ';', each key=value. */
static bool parse_stats(const uint8_t *data, int32_t len, struct stats_text *out)
{
    memset(out, 0, sizeof *out);
    out->count = out->bytes = out->count_hard = out->byte_hard = -1;
    const char *p = (const char *)data, *end = p + (len > 0 ? len : 0);
    while (p < end) {
        while (p < end && (*p == ',' || *p == ';'))
            p++;
        const char *pair = p;
        while (p < end && *p != ',' && *p != ';')
            p++;
        if (pair == p)
            break;
        const char *eq = memchr(pair, '=', (size_t)(p - pair));
        if (!eq)
            return false;
        const char *val = eq + 1, *val_end = memchr(val, '=', (size_t)(p - val));
        size_t key_len = (size_t)(eq - pair), val_len = (size_t)((val_end ? val_end : p) - val);
        if (key_len == 5 && !memcmp(pair, "count", 5)) {
            if (!parse_value(val, val_len, &out->count))
                return false;
        } else if (key_len == 5 && !memcmp(pair, "bytes", 5)) {
            if (!parse_value(val, val_len, &out->bytes))
                return false;
        } else {
            if (!out->rest) {
                out->rest = pair;
                out->rest_len = (size_t)(end - pair);
            }
            int64_t *hard = key_len == 14 && !memcmp(pair, "countHardLimit", 14) ? &out->count_hard
                            : key_len == 13 && !memcmp(pair, "byteHardLimit", 13) ? &out->byte_hard
                                                                                   : NULL;
            if (hard && !parse_value(val, val_len, hard))
                return false;
        }
    }
    return true;
}

/* StatsTrack.toString for count, bytes and the pairs after them. */
static int format_stats(const struct stats_text *s, struct quota_update *q)
{
    char head[64];
    int n = snprintf(head, sizeof head, "count=%" PRId64 ",bytes=%" PRId64, s->count, s->bytes);
    size_t extra = s->rest ? 2 + s->rest_len : 0; /* "=;" + the rest */
    q->data = zk_malloc((size_t)n + extra);
    if (!q->data)
        return STORE_ERR_NOMEM;
    memcpy(q->data, head, (size_t)n);
    if (s->rest) {
        memcpy(q->data + n, "=;", 2);
        memcpy(q->data + n + 2, s->rest, s->rest_len);
    }
    q->len = (int32_t)((size_t)n + extra);
    return 0;
}

int quota_prepare_change(struct store *st, const char *path, size_t len, int64_t count_diff,
                         int64_t bytes_diff, struct quota_update *q)
{
    memset(q, 0, sizeof *q);
    int nomem = 0;
    struct znode *limits;
    struct znode *stats = stats_node_for(st, path, len, &limits, &nomem);
    if (nomem)
        return STORE_ERR_NOMEM;
    if (!stats)
        return 0;
    struct stats_text s;
    if (stats->data_len > STATS_TEXT_MAX || !parse_stats(stats->data, stats->data_len, &s)) {
        ZK_WARN_RL("quota: %s does not hold count=N,bytes=M; not updated", stats->path);
        return 0; /* written by a client: ZooKeeper would fail the txn on every member */
    }
    s.count += count_diff;
    s.bytes += bytes_diff;
    if (format_stats(&s, q))
        return STORE_ERR_NOMEM;
    q->stats = stats;
    return 0;
}

/* DataTree.getCounts: the node and its descendants, and their data bytes. */
static void subtree_counts(const struct znode *top, int64_t *count, int64_t *bytes)
{
    *count = 0, *bytes = 0;
    for (const struct znode *n = top; n; n = node_next_preorder(top, n)) {
        *count += 1;
        *bytes += n->data_len > 0 ? n->data_len : 0;
    }
}

int quota_fill_stats_node(struct store *st, struct znode *parent, struct znode *n)
{
    size_t root = strlen(QUOTA_ROOT), leaf = strlen(QUOTA_STATS);
    if (parent->path_len <= root || memcmp(parent->path, QUOTA_ROOT "/", root + 1) != 0 ||
        n->path_len != parent->path_len + 1 + leaf ||
        memcmp(n->path + parent->path_len + 1, QUOTA_STATS, leaf) != 0)
        return 0; /* not /zookeeper/quota/<path>/zookeeper_stats */
    struct stats_text s = {0, 0, -1, -1, NULL, 0};
    const struct znode *top = node_lookup(st, parent->path + root, parent->path_len - root);
    if (top)
        subtree_counts(top, &s.count, &s.bytes);
    struct quota_update q;
    if (format_stats(&s, &q))
        return STORE_ERR_NOMEM;
    zk_free(n->data); /* n is not in the tree yet: its digest and size come with it */
    n->data = q.data;
    n->data_len = q.len;
    n->data_hash = store_hash_bytes(q.data, (size_t)q.len);
    return 0;
}

void quota_discard(struct quota_update *q)
{
    zk_free(q->data);
    q->data = NULL;
    q->stats = NULL;
}

static bool enforcing(const struct store_txn *txn)
{
    struct jute_reader jr;
    jr_init(&jr, txn->auth, txn->auth_len);
    int32_t n = txn->auth_len ? jr_vector_count(&jr, 8) : 0;
    for (int32_t i = 0; i < n && jr_ok(&jr); i++) {
        struct jute_bytes scheme = jr_bytes(&jr);
        (void)jr_bytes(&jr);
        if (jr_ok(&jr) && store_is_quota_mark(scheme))
            return true;
    }
    return false;
}

/* One limit of ZooKeeperServer.checkQuota: the hard one if set, else the soft one (logged). */
static bool over_limit(const char *quota, const char *what, int64_t now, int64_t soft,
                       int64_t hard)
{
    int64_t limit = hard > -1 ? hard : soft;
    if (limit < 0 || now <= limit)
        return false;
    ZK_WARN_RL("Quota exceeded: %s [current %s=%" PRId64 ", %s%sLimit=%" PRId64 "]", quota, what,
               now, hard > -1 ? "hard" : "soft", what[0] == 'c' ? "Count" : "Byte", limit);
    return hard > -1;
}

int32_t quota_check(const struct store *st, const struct store_txn *txn, const char *path,
                    size_t len, int64_t count_diff, int64_t bytes_diff)
{
    if (!enforcing(txn))
        return 0;
    int nomem = 0;
    struct znode *limits;
    const struct znode *stats = stats_node_for(st, path, len, &limits, &nomem);
    if (nomem)
        return STORE_ERR_NOMEM;
    struct stats_text lim, now;
    if (!stats || !limits || limits->data_len > STATS_TEXT_MAX || stats->data_len > STATS_TEXT_MAX ||
        !parse_stats(limits->data, limits->data_len, &lim) ||
        !parse_stats(stats->data, stats->data_len, &now))
        return 0; /* ZooKeeper: "Missing limit node" and the like are logged and let through */
    const char *quota = limits->path + strlen(QUOTA_ROOT);
    size_t quota_len = limits->path_len - strlen(QUOTA_ROOT) - 1 - strlen(QUOTA_LIMITS);
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(quota_len < 255 ? quota_len : 255), quota);
    if (count_diff != 0 && over_limit(name, "count", now.count + count_diff, lim.count,
                                      lim.count_hard))
        return ZE_QUOTAEXCEEDED;
    if (bytes_diff != 0 && over_limit(name, "bytes", now.bytes + bytes_diff, lim.bytes,
                                      lim.byte_hard))
        return ZE_QUOTAEXCEEDED;
    return 0;
}
