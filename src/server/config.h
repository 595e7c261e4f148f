/* zoo.cfg parsing: the keys ZooKeeper 3.8 reads, so an existing zoo.cfg starts zabkeeper as it
 * is. Unknown keys are reported (logged once), bad values refused with a message naming the key. */
#ifndef ZK_CONFIG_H
#define ZK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "security/tls.h"

#define ZK_SERVERS_MAX 16
#define ZK_PATH_MAX 512

/* One server.N line (src/member/ensemble.c parses and writes them). */
struct zk_member {
    int id;
    char host[256];
    int peer_port;
    int election_port;
    char client_host[64]; /* the ";host:port" part's host; "" = 0.0.0.0 */
    int client_port;      /* 0 when the line has no ;clientPort part */
    bool observer;
};

/* The security settings (config_security.c, docs/security.md). Each is implemented with
 * ZooKeeper's meaning or refused at start: none is accepted and ignored. */
struct zk_security {
    int secure_client_port;          /* secureClientPort: TLS only; 0 = none */
    char secure_client_addr[256];    /* secureClientPortAddress */
    struct tls_settings ssl;         /* ssl.*: the secure client port */
    struct tls_settings ssl_quorum;  /* ssl.quorum.*: links between members */
    bool quorum_tls;                 /* sslQuorum */
    int max_cnxns;                   /* maxCnxns: client connections in all; 0 = no limit */
    bool skip_acl;                   /* skipACL=yes */
    bool sasl_provider;              /* an authProvider.N is SASLAuthenticationProvider */
    char jaas_path[ZK_PATH_MAX];     /* java.security.auth.login.config */
    char jaas_section[64];           /* zookeeper.sasl.serverconfig (default "Server") */
    char sasl_super_users[512];      /* zookeeper.superUser[.x]: '\n'-separated values */
    char sasl_super_keys[8][48];     /* ...the key each came from: a key set again replaces */
    char sasl_super_vals[8][128];
    int n_sasl_super;
    char x509_super_user[TLS_DN_MAX]; /* X509AuthenticationProvider.superUser */
    bool allow_sasl_failed;          /* allowSaslFailedClients */
    bool enforce_auth;               /* enforce.auth.enabled / sessionRequireClientSASLAuth */
    char enforce_auth_schemes[128];  /* enforce.auth.schemes, ',' separated */
    bool digest_enabled;             /* DigestAuthenticationProvider.enabled */
    char digest_alg[32];             /* DigestAuthenticationProvider.digestAlg */
    char let_any_sasl_user[256];     /* letAnySaslUserDoX */
};

/* The AdminServer and the Prometheus endpoint (config_admin.c, src/server/admin.c). */
struct zk_admin {
    bool enabled;            /* admin.enableServer (true, as ZooKeeper) */
    char address[256];       /* admin.serverAddress (0.0.0.0) */
    int port;                /* admin.serverPort (8080) */
    char command_url[128];   /* admin.commandURL (/commands) */
    int idle_timeout_ms;     /* admin.idleTimeout (30000) */
    bool metrics;            /* metricsProvider.className is the PrometheusMetricsProvider */
    char metrics_host[256];  /* metricsProvider.httpHost (0.0.0.0) */
    int metrics_port;        /* metricsProvider.httpPort (7000) */
};

struct zk_config {
    int tick_ms;
    int init_limit;
    int sync_limit;
    char data_dir[ZK_PATH_MAX];
    char data_log_dir[ZK_PATH_MAX];
    int client_port;      /* plain clients; 0 = none (TLS only) */
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
    struct zk_security sec;
    struct zk_admin admin;
    bool reconfig_enabled;   /* reconfigEnabled: the reconfig request is served */
    bool read_only_enabled;  /* readonlymode.enabled: without a quorum, serve read-only clients */
    bool enforce_quota;      /* zookeeper.enforceQuota: hard quotas refuse writes (QuotaExceeded) */
    bool standalone_enabled; /* standaloneEnabled: a reconfig keeps at least 2 voters */
    bool peer_type_observer; /* peerType=observer (the server line decides) */
    char dynamic_config_file[ZK_PATH_MAX]; /* dynamicConfigFile, if any */
    char config_path[ZK_PATH_MAX]; /* the zoo.cfg this was read from (rewritten by reconfig) */
    int64_t config_version;  /* of the server lines: the dynamic file's version, else 0 */
    int myid;             /* from dataDir/myid in ensemble mode; 0 standalone */
    int n_members;
    struct zk_member members[ZK_SERVERS_MAX];
};

/* JVM system properties (-Dname=value) as ZooKeeper's start scripts pass them: those that
 * ZooKeeper reads ("zookeeper.X", jute.maxbuffer, java.security.auth.login.config, ...) set
 * the same setting as zoo.cfg's X, and zoo.cfg wins, as in ZooKeeper. */
struct config_props {
    const char *const *items; /* "name=value" */
    int count;
};

/* Parse `path` (props may be NULL). Returns 0, or -1 with a message in err. */
int config_load(const char *path, const struct config_props *props, struct zk_config *cfg,
                char *err, size_t err_size);
/* Parse zoo.cfg text (name is used in messages; dataDir/myid is read in ensemble mode). */
int config_parse_text(const char *text, size_t len, const char *name,
                      const struct config_props *props, struct zk_config *cfg, char *err,
                      size_t err_size);

/* ---- config_security.c ---- */
void config_security_defaults(struct zk_security *sec);
/* A security key (without "zookeeper."): 1 taken, 0 not a security key, -1 refused (err). */
int config_security_key(struct zk_security *sec, const char *key, const char *val, char *err,
                        size_t n);
/* After the whole file: what the settings need of each other. 0, or -1 and err. */
int config_security_validate(const struct zk_config *cfg, char *err, size_t n);
/* Does an unknown key look like a security setting (refused rather than ignored)? */
bool config_looks_security_related(const char *key);
/* ---- config_admin.c: admin.* and metricsProvider.* ---- */
void config_admin_defaults(struct zk_admin *a);
/* 1 taken, 0 not such a key, -1 refused (err). */
int config_admin_key(struct zk_admin *a, const char *key, const char *val, char *err, size_t n);
int config_admin_validate(const struct zk_config *cfg, char *err, size_t n);
/* Is the four-letter word allowed by 4lw.commands.whitelist? */
bool config_fourlw_allowed(const struct zk_config *cfg, const char *word);

#endif
