/* Ensemble configurations as ZooKeeper writes them: `server.N=host:peer:election[:participant|
 * :observer][;[clientHost:]clientPort]` lines and `version=<hex zxid>` — in zoo.cfg, in a
 * dynamic config file, in /zookeeper/config and in reconfig requests. Parsing (every spelling
 * ZooKeeper 3.8 accepts), the canonical text (ZooKeeper's QuorumMaj.toString: ids in order,
 * the role always written), and the next configuration a reconfig request asks for. No I/O. */
#ifndef ZK_ENSEMBLE_H
#define ZK_ENSEMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

struct jute_writer;

struct ensemble {
    int n;
    struct zk_member m[ZK_SERVERS_MAX]; /* sorted by id */
    int64_t version;                    /* the zxid that made it; 0 for a static zoo.cfg */
};

/* One `server.N` value (key is "server.N"). 0, or -1 and err. */
int ensemble_parse_server(const char *key, const char *value, struct zk_member *out, char *err,
                          size_t n);
/* Server ids zabkeeper serves: 1..ZK_SERVER_ID_MAX (ZooKeeper documents the same range). The
 * parsers take any positive id, as ZooKeeper's; these say which cannot be served: 0, or -1 and
 * err. */
#define ZK_SERVER_ID_MAX 255
int ensemble_check_id(int id, char *err, size_t n);
int ensemble_check_ids(const struct ensemble *e, char *err, size_t n);
/* Add or replace a member, keeping ids sorted. 0, or -1 when full. */
int ensemble_put(struct ensemble *e, const struct zk_member *m);
void ensemble_remove(struct ensemble *e, int id);
const struct zk_member *ensemble_find(const struct ensemble *e, int id);
int ensemble_voters(const struct ensemble *e);

/* Configuration text: server lines separated by newlines or commas, `version=` optional,
 * blank lines and comments skipped. 0, or -1 and err. */
int ensemble_parse_text(const char *text, size_t len, struct ensemble *out, char *err, size_t n);
/* The canonical text, with `version=` when with_version. */
void ensemble_format(const struct ensemble *e, bool with_version, struct jute_writer *out);
/* Are two configurations the same set of members with the same roles and ports? (Host
 * spellings are not compared: `localhost` and 127.0.0.1 name one member.) */
bool ensemble_same_members(const struct ensemble *a, const struct ensemble *b);

/* What a ReconfigRequest asks of configuration cur (strings NULL when absent): the next
 * configuration in *next. ZE_OK, ZE_BADVERSION (cur_config_id is neither -1 nor cur's
 * version), ZE_BADARGUMENTS (malformed, fewer than min_voters voters, duplicate addresses),
 * with why in err. */
int32_t ensemble_reconfigure(const struct ensemble *cur, const char *joining, const char *leaving,
                             const char *new_members, int64_t cur_config_id, int min_voters,
                             struct ensemble *next, char *err, size_t n);

#endif
