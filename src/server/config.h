/* zoo.cfg parsing: the keys ZooKeeper 3.8 reads, so an existing zoo.cfg starts zabkeeper as it
 * is. Unknown keys are reported (logged once), bad values refused with a message naming the key. */
#ifndef ZK_CONFIG_H
#define ZK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZK_SERVERS_MAX 16
#define ZK_PATH_MAX 512

struct zk_member {
    int id;
    char host[256];
    int peer_port;
    int election_port;
    int client_port; /* 0 when the line has no ;clientPort part */
    bool observer;
};

struct zk_config {
    int tick_ms;
    int init_limit;
    int sync_limit;
    char data_dir[ZK_PATH_MAX];
    char data_log_dir[ZK_PATH_MAX];
    int client_port;
    char client_addr[256];
    int max_client_cnxns; /* per client IP; 0 = unlimited */
    int global_outstanding_limit; /* queued requests before clients are throttled; 0 = none */
    int min_session_timeout_ms;
    int max_session_timeout_ms;
    int max_buffer;       /* jute.maxbuffer: max frame and znode data size */
    long snap_count;      /* txns between snapshots */
    int64_t snap_size_limit_bytes; /* snapSizeLimitInKb: log bytes between snapshots (0: none) */
    int container_check_ms;        /* znode.container.checkIntervalMs: container/TTL reaping */
    int container_max_per_minute;  /* znode.container.maxPerMinute */
    bool extended_types;  /* TTL nodes */
    char fourlw_whitelist[512];
    char super_digest[256]; /* "super:<base64 sha1>": a digest auth with it is super */
    uint64_t lmdb_map_bytes;
    size_t peer_queue_max_bytes; /* peerQueueMaxKB: bytes queued for one member before the link
                                  * is reset; streams (catch-up) pace themselves below it */
    int myid;             /* from dataDir/myid in ensemble mode; 0 standalone */
    int n_members;
    struct zk_member members[ZK_SERVERS_MAX];
};

/* Parse `path`. Returns 0, or -1 with a message in err. */
int config_load(const char *path, struct zk_config *cfg, char *err, size_t err_size);
/* Parse zoo.cfg text (name is used in messages; dataDir/myid is read in ensemble mode). */
int config_parse_text(const char *text, size_t len, const char *name, struct zk_config *cfg,
                      char *err, size_t err_size);
/* Is the four-letter word allowed by 4lw.commands.whitelist? */
bool config_fourlw_allowed(const struct zk_config *cfg, const char *word);

#endif
