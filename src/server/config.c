/* zoo.cfg parser (see config.h). */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/text.h"
#include "member/ensemble.h"
#include "proto/zkproto.h"

/* Keys ZooKeeper accepts that zabkeeper has no use for (yet): accepted and logged once. */
static const char *const ignored_keys[] = {
    "localSessionsEnabled", "localSessionsUpgradingEnabled", "forceSync", "preAllocSize",
    "autopurge.snapRetainCount", "autopurge.purgeInterval", "electionAlg", "cnxTimeout",
    "leaderServes", "quorumListenOnAllIPs",
    "clientPortListenBacklog", "commitLogCount", "syncEnabled",
    "electionPortBindRetry", "serverCnxnFactory", "quorum.cnxn.threads.size",
    "txnLogSizeLimitInKb", "fsync.warningthresholdms", "multiAddress.enabled", "jvm.pause",
    "connectToLearnerMasterLimit", "initLimit.ms", NULL,
};

static void set_defaults(struct zk_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tick_ms = 3000; /* ZooKeeper's default when zoo.cfg omits tickTime */
    cfg->init_limit = 10;
    cfg->sync_limit = 5;
    cfg->client_port = 0; /* validate() settles it */
    cfg->max_client_cnxns = 60;
    cfg->global_outstanding_limit = 1000; /* ZooKeeper's default */
    cfg->min_session_timeout_ms = -1;
    cfg->max_session_timeout_ms = -1;
    cfg->max_buffer = ZK_MAX_BUFFER_DEFAULT;
    cfg->snap_count = 100000;
    cfg->snap_size_limit_bytes = 512LL << 20; /* ZooKeeper: 4 GiB; see docs/operations.md */
    cfg->container_check_ms = 60000; /* ZooKeeper's ContainerManager defaults */
    cfg->container_max_per_minute = 10000;
    cfg->extended_types = true;
    cfg->standalone_enabled = true; /* ZooKeeper's defaults; reconfigEnabled is false */
    snprintf(cfg->fourlw_whitelist, sizeof cfg->fourlw_whitelist, "srvr"); /* ZooKeeper's */
    cfg->lmdb_map_bytes = 64ULL << 30;
    cfg->peer_queue_max_bytes = 64u << 20;
    config_security_defaults(&cfg->sec);
    config_admin_defaults(&cfg->admin);
}

static int parse_long(const char *key, const char *val, long lo, long hi, long *out, char *err,
                      size_t n)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end != '\0' || v < lo || v > hi) {
        snprintf(err, n, "invalid value '%s' for %s (expected an integer in %ld..%ld)", val, key,
                 lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *key, const char *val, long lo, long hi, int *out, char *err,
                     size_t n)
{
    long v;
    if (parse_long(key, val, lo, hi, &v, err, n))
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_bool(const char *key, const char *val, bool *out, char *err, size_t n)
{
    if (!strcasecmp(val, "true") || !strcasecmp(val, "yes") || !strcmp(val, "1"))
        *out = true;
    else if (!strcasecmp(val, "false") || !strcasecmp(val, "no") || !strcmp(val, "0"))
        *out = false;
    else {
        snprintf(err, n, "invalid value '%s' for %s (expected true or false)", val, key);
        return -1;
    }
    return 0;
}

static int parse_port(const char *what, const char *s, int *out, char *err, size_t n)
{
    return parse_int(what, s, 1, 65535, out, err, n);
}

/* server.N=host:peerPort:electionPort[:participant|observer][;[clientHost:]clientPort] */
static int parse_member(struct zk_config *cfg, const char *key, const char *val, char *err,
                        size_t n)
{
    struct zk_member m;
    if (ensemble_parse_server(key, val, &m, err, n) != 0 || ensemble_check_id(m.id, err, n) != 0)
        return -1;
    for (int i = 0; i < cfg->n_members; i++) {
        if (cfg->members[i].id == m.id) {
            snprintf(err, n, "duplicate %s", key);
            return -1;
        }
    }
    if (cfg->n_members == ZK_SERVERS_MAX) {
        snprintf(err, n, "too many server.N lines (at most %d)", ZK_SERVERS_MAX);
        return -1;
    }
    cfg->members[cfg->n_members++] = m;
    return 0;
}

static int set_path(char *dst, const char *key, const char *val, char *err, size_t n)
{
    if (!*val || strlen(val) >= ZK_PATH_MAX) {
        snprintf(err, n, "invalid %s '%s'", key, val);
        return -1;
    }
    snprintf(dst, ZK_PATH_MAX, "%s", val);
    return 0;
}

static bool is_ignored(const char *key)
{
    if (!strncmp(key, "group.", 6) || !strncmp(key, "weight.", 7))
        return true;
    for (int i = 0; ignored_keys[i]; i++)
        if (!strcmp(key, ignored_keys[i]))
            return true;
    return false;
}

static int apply_key(struct zk_config *cfg, const char *key, char *val, char *err, size_t n)
{
    /* ZooKeeper reads "zookeeper.X" system properties; the same name in zoo.cfg means X. */
    if (!strncmp(key, "zookeeper.", 10))
        key += 10;
    int adm = config_admin_key(&cfg->admin, key, val, err, n);
    if (adm != 0)
        return adm < 0 ? -1 : 0;
    int sec = config_security_key(&cfg->sec, key, val, err, n);
    if (sec != 0)
        return sec < 0 ? -1 : 0;
    if (!strcmp(key, "tickTime"))
        return parse_int(key, val, 1, 1000000, &cfg->tick_ms, err, n);
    if (!strcmp(key, "initLimit"))
        return parse_int(key, val, 1, 100000, &cfg->init_limit, err, n);
    if (!strcmp(key, "syncLimit"))
        return parse_int(key, val, 1, 100000, &cfg->sync_limit, err, n);
    if (!strcmp(key, "dataDir"))
        return set_path(cfg->data_dir, key, val, err, n);
    if (!strcmp(key, "dataLogDir"))
        return set_path(cfg->data_log_dir, key, val, err, n);
    if (!strcmp(key, "clientPort"))
        return parse_port(key, val, &cfg->client_port, err, n);
    if (!strcmp(key, "clientPortAddress"))
        return snprintf(cfg->client_addr, sizeof cfg->client_addr, "%s", val) < 0 ? -1 : 0;
    if (!strcmp(key, "maxClientCnxns"))
        return parse_int(key, val, 0, 1000000, &cfg->max_client_cnxns, err, n);
    if (!strcmp(key, "globalOutstandingLimit"))
        return parse_int(key, val, 0, INT32_MAX, &cfg->global_outstanding_limit, err, n);
    if (!strcmp(key, "minSessionTimeout"))
        return parse_int(key, val, -1, INT32_MAX, &cfg->min_session_timeout_ms, err, n);
    if (!strcmp(key, "maxSessionTimeout"))
        return parse_int(key, val, -1, INT32_MAX, &cfg->max_session_timeout_ms, err, n);
    if (!strcmp(key, "jute.maxbuffer") || !strcmp(key, "juteMaxBuffer"))
        return parse_int(key, val, 1024, 64 << 20, &cfg->max_buffer, err, n);
    if (!strcmp(key, "snapSizeLimitInKb")) {
        long kb;
        if (parse_long(key, val, -1, 1L << 40, &kb, err, n))
            return -1;
        cfg->snap_size_limit_bytes = kb <= 0 ? 0 : (int64_t)kb << 10;
        return 0;
    }
    if (!strcmp(key, "snapCount"))
        return parse_long(key, val, 2, 100000000, &cfg->snap_count, err, n);
    /* ZooKeeper reads these as JVM properties only; zoo.cfg takes them too. */
    if (!strcmp(key, "znode.container.checkIntervalMs"))
        return parse_int(key, val, 1, 86400000, &cfg->container_check_ms, err, n);
    if (!strcmp(key, "znode.container.maxPerMinute"))
        return parse_int(key, val, 1, INT32_MAX, &cfg->container_max_per_minute, err, n);
    /* ZooKeeper reads it as the JVM property readonlymode.enabled only; zoo.cfg takes it too */
    if (!strcmp(key, "readonlymode.enabled"))
        return parse_bool(key, val, &cfg->read_only_enabled, err, n);
    if (!strcmp(key, "extendedTypesEnabled") || !strcmp(key, "zookeeper.extendedTypesEnabled"))
        return parse_bool(key, val, &cfg->extended_types, err, n);
    if (!strcmp(key, "enforceQuota") || !strcmp(key, "zookeeper.enforceQuota"))
        return parse_bool(key, val, &cfg->enforce_quota, err, n);
    /* ZooKeeper turns unknown zoo.cfg keys into "zookeeper."-prefixed system properties, so
     * DigestAuthenticationProvider.superDigest in zoo.cfg sets the super digest there too. */
    if (!strcmp(key, "superDigest") || !strcmp(key, "DigestAuthenticationProvider.superDigest"))
        return snprintf(cfg->super_digest, sizeof cfg->super_digest, "%s", val) < 0;
    if (!strcmp(key, "4lw.commands.whitelist"))
        return snprintf(cfg->fourlw_whitelist, sizeof cfg->fourlw_whitelist, "%s", val) < 0;
    if (!strcmp(key, "peerQueueMaxKB")) {
        long kb;
        if (parse_long(key, val, 64, 16L << 20, &kb, err, n))
            return -1;
        cfg->peer_queue_max_bytes = (size_t)kb << 10;
        return 0;
    }
    if (!strcmp(key, "lmdbMapSizeMB")) {
        long mb;
        if (parse_long(key, val, 16, 16L << 20, &mb, err, n))
            return -1;
        cfg->lmdb_map_bytes = (uint64_t)mb << 20;
        return 0;
    }
    if (!strncmp(key, "server.", 7))
        return parse_member(cfg, key, val, err, n);
    if (!strcmp(key, "reconfigEnabled"))
        return parse_bool(key, val, &cfg->reconfig_enabled, err, n);
    if (!strcmp(key, "standaloneEnabled"))
        return parse_bool(key, val, &cfg->standalone_enabled, err, n);
    if (!strcmp(key, "dynamicConfigFile"))
        return set_path(cfg->dynamic_config_file, key, val, err, n);
    if (!strcmp(key, "peerType")) {
        if (strcasecmp(val, "participant") && strcasecmp(val, "observer")) {
            snprintf(err, n, "invalid peerType '%s' (participant or observer)", val);
            return -1;
        }
        cfg->peer_type_observer = !strcasecmp(val, "observer");
        return 0;
    }
    if (is_ignored(key)) {
        ZK_INFO("config: %s is accepted but has no effect in zabkeeper", key);
    } else if (config_looks_security_related(key)) {
        snprintf(err, n, "%s: unknown setting that looks security-related: refused rather than "
                 "ignored (docs/security.md lists what zabkeeper takes)", key);
        return -1;
    } else {
        ZK_WARN("config: unknown key '%s' ignored", key);
    }
    return 0;
}

static int read_myid(struct zk_config *cfg, char *err, size_t n)
{
    char path[ZK_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/myid", cfg->data_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "ensemble mode needs %s (this member's id): %s", path, strerror(errno));
        return -1;
    }
    char line[64] = {0};
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    if (!ok) {
        snprintf(err, n, "%s is empty (expected this member's id)", path);
        return -1;
    }
    if (parse_int("myid", zk_trim(line), 0, 255, &cfg->myid, err, n))
        return -1;
    for (int i = 0; i < cfg->n_members; i++)
        if (cfg->members[i].id == cfg->myid)
            return 0;
    snprintf(err, n, "myid %d has no server.%d line in the configuration", cfg->myid, cfg->myid);
    return -1;
}

/* clientPort, else this member's server.N ";clientPort", as ZooKeeper; with neither, 2181,
 * unless a secureClientPort is set (then the member takes TLS clients only). */
static void settle_client_port(struct zk_config *cfg)
{
    if (cfg->client_port)
        return;
    for (int i = 0; i < cfg->n_members; i++)
        if (cfg->members[i].id == cfg->myid && cfg->members[i].client_port)
            cfg->client_port = cfg->members[i].client_port;
    if (!cfg->client_port && !cfg->sec.secure_client_port)
        cfg->client_port = 2181;
}

/* dynamicConfigFile: the server lines and version ZooKeeper 3.5+ keeps apart from zoo.cfg;
 * the version also comes from the file name's ".dynamic.<hex>" suffix. */
static int read_dynamic_config(struct zk_config *cfg, char *err, size_t n)
{
    if (!cfg->dynamic_config_file[0])
        return 0;
    if (cfg->n_members) {
        snprintf(err, n, "server.N lines in zoo.cfg and a dynamicConfigFile: keep them in one "
                 "place (ZooKeeper 3.5+ keeps them in the dynamic file)");
        return -1;
    }
    FILE *f = fopen(cfg->dynamic_config_file, "r");
    if (!f) {
        snprintf(err, n, "cannot open dynamicConfigFile %s: %s", cfg->dynamic_config_file,
                 strerror(errno));
        return -1;
    }
    static char text[64 << 10];
    size_t len = fread(text, 1, sizeof text, f);
    bool failed = ferror(f) || len == sizeof text;
    fclose(f);
    struct ensemble e;
    char why[256];
    if (failed || ensemble_parse_text(text, len, &e, why, sizeof why) != 0 ||
        ensemble_check_ids(&e, why, sizeof why) != 0) {
        snprintf(err, n, "dynamicConfigFile %s: %s", cfg->dynamic_config_file,
                 failed ? "unreadable or over 64 KiB" : why);
        return -1;
    }
    const char *suffix = strstr(cfg->dynamic_config_file, ".dynamic.");
    if (!e.version && suffix)
        e.version = (int64_t)strtoull(suffix + 9, NULL, 16);
    cfg->n_members = e.n;
    memcpy(cfg->members, e.m, (size_t)e.n * sizeof e.m[0]);
    cfg->config_version = e.version;
    return 0;
}

static int validate(struct zk_config *cfg, char *err, size_t n)
{
    if (read_dynamic_config(cfg, err, n) != 0)
        return -1;
    if (!cfg->data_dir[0]) {
        snprintf(err, n, "dataDir is not set");
        return -1;
    }
    if (!cfg->data_log_dir[0])
        snprintf(cfg->data_log_dir, sizeof cfg->data_log_dir, "%s", cfg->data_dir);
    if (cfg->min_session_timeout_ms < 0)
        cfg->min_session_timeout_ms = 2 * cfg->tick_ms;
    if (cfg->max_session_timeout_ms < 0)
        cfg->max_session_timeout_ms = 20 * cfg->tick_ms;
    if (cfg->min_session_timeout_ms > cfg->max_session_timeout_ms) {
        snprintf(err, n, "minSessionTimeout (%d) is above maxSessionTimeout (%d)",
                 cfg->min_session_timeout_ms, cfg->max_session_timeout_ms);
        return -1;
    }
    if (cfg->peer_queue_max_bytes < (size_t)cfg->max_buffer + (64u << 10)) {
        snprintf(err, n, "peerQueueMaxKB (%zu) must hold a proposal of jute.maxbuffer (%d) "
                 "bytes plus 64 KiB", cfg->peer_queue_max_bytes >> 10, cfg->max_buffer);
        return -1;
    }
    if (cfg->n_members > 0 && read_myid(cfg, err, n) != 0)
        return -1;
    settle_client_port(cfg);
    for (int i = 0; i < cfg->n_members; i++) {
        const struct zk_member *me = &cfg->members[i];
        if (me->id == cfg->myid && me->observer != cfg->peer_type_observer &&
            cfg->peer_type_observer)
            ZK_WARN("peerType=observer, but server.%d says participant: the server line wins, "
                    "as in ZooKeeper", me->id);
    }
    if (config_admin_validate(cfg, err, n) != 0)
        return -1;
    return config_security_validate(cfg, err, n);
}

/* One key=value line (already trimmed, not a comment). */
static int parse_line(struct zk_config *cfg, char *s, const char *name, int lineno, char *err,
                      size_t n)
{
    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(err, n, "%s:%d: expected key=value, got '%.200s'", name, lineno, s);
        return -1;
    }
    *eq = '\0';
    return apply_key(cfg, zk_trim(s), zk_trim(eq + 1), err, n);
}

/* The JVM properties ZooKeeper reads without the "zookeeper." prefix. */
static bool plain_property(const char *name)
{
    static const char *const names[] = {"jute.maxbuffer", "java.security.auth.login.config",
                                        "readonlymode.enabled",
                                        "znode.container.checkIntervalMs",
                                        "znode.container.maxPerMinute", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcmp(name, names[i]))
            return true;
    return !strncmp(name, "javax.net.ssl.", 14); /* refused by the security rules */
}

static int apply_props(struct zk_config *cfg, const struct config_props *props, char *err,
                       size_t n)
{
    for (int i = 0; props && i < props->count; i++) {
        char item[2048];
        if (snprintf(item, sizeof item, "%s", props->items[i]) >= (int)sizeof item) {
            snprintf(err, n, "-D%.64s...: too long", props->items[i]);
            return -1;
        }
        char *eq = strchr(item, '=');
        char *val = eq ? eq + 1 : item + strlen(item); /* -Dname alone is "" in Java */
        if (eq)
            *eq = '\0';
        if (strncmp(item, "zookeeper.", 10) && !plain_property(item)) {
            ZK_INFO("-D%s has no meaning for zabkeeper (a JVM setting); ignored", item);
            continue;
        }
        if (apply_key(cfg, item, val, err, n) != 0) {
            char inner[512];
            snprintf(inner, sizeof inner, "%s", err);
            snprintf(err, n, "-D%s: %s", item, inner);
            return -1;
        }
    }
    return 0;
}

int config_parse_text(const char *text, size_t len, const char *name,
                      const struct config_props *props, struct zk_config *cfg, char *err,
                      size_t n)
{
    set_defaults(cfg);
    if (apply_props(cfg, props, err, n) != 0)
        return -1;
    char line[2048];
    int lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t line_len = end - pos;
        lineno++;
        if (line_len >= sizeof line) {
            snprintf(err, n, "%s:%d: line longer than %zu bytes", name, lineno, sizeof line - 1);
            return -1;
        }
        memcpy(line, text + pos, line_len);
        line[line_len] = '\0';
        pos = end + 1;
        if (strlen(line) != line_len) {
            snprintf(err, n, "%s:%d: NUL byte in the line", name, lineno);
            return -1;
        }
        char *s = zk_trim(line);
        if (*s && *s != '#' && parse_line(cfg, s, name, lineno, err, n) != 0)
            return -1;
    }
    return validate(cfg, err, n);
}

#define CONFIG_FILE_MAX (1u << 20)

int config_load(const char *path, const struct config_props *props, struct zk_config *cfg,
                char *err, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "cannot open config %s: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(CONFIG_FILE_MAX + 1);
    size_t len = text ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
    bool failed = !text || ferror(f);
    fclose(f);
    if (failed || len > CONFIG_FILE_MAX) {
        snprintf(err, n, "cannot read config %s: %s", path,
                 failed ? "read error or out of memory" : "larger than 1 MiB");
        free(text);
        return -1;
    }
    int rc = config_parse_text(text, len, path, props, cfg, err, n);
    free(text);
    if (rc == 0 && strlen(path) < sizeof cfg->config_path)
        snprintf(cfg->config_path, sizeof cfg->config_path, "%s", path);
    return rc;
}

bool config_fourlw_allowed(const struct zk_config *cfg, const char *word)
{
    const char *list = cfg->fourlw_whitelist;
    if (!strcmp(word, "srvr"))
        return true; /* as ZooKeeper's FourLetterCommands: zkServer.sh depends on it */
    if (strchr(list, '*'))
        return true;
    size_t len = strlen(word);
    if (len == 0)
        return false;
    for (const char *p = strstr(list, word); p; p = strstr(p + 1, word)) {
        bool start_ok = p == list || p[-1] == ',' || isspace((unsigned char)p[-1]);
        bool end_ok = p[len] == '\0' || p[len] == ',' || isspace((unsigned char)p[len]);
        if (start_ok && end_ok)
            return true;
    }
    return false;
}
