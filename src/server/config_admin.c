/* The AdminServer's and the Prometheus endpoint's settings (config.h, src/server/admin.c), with
 * ZooKeeper 3.8's names and defaults: admin.* (JettyAdminServer reads them as
 * zookeeper.admin.* properties; a zoo.cfg line sets the same property) and metricsProvider.*
 * (QuorumPeerConfig hands them to the provider). What zabkeeper cannot do is refused at start
 * rather than ignored: HTTPS on either endpoint, another metrics provider. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "server/config.h"

#define PROMETHEUS_PROVIDER "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
#define NULL_PROVIDER "org.apache.zookeeper.metrics.impl.NullMetricsProvider"

void config_admin_defaults(struct zk_admin *a)
{
    memset(a, 0, sizeof *a);
    a->enabled = true; /* ZooKeeper's default (zookeeper.admin.enableServer) */
    snprintf(a->address, sizeof a->address, "0.0.0.0");
    a->port = 8080;
    snprintf(a->command_url, sizeof a->command_url, "/commands");
    a->idle_timeout_ms = 30000;
    snprintf(a->metrics_host, sizeof a->metrics_host, "0.0.0.0");
    a->metrics_port = 7000;
}

static int bad(char *err, size_t n, const char *key, const char *val, const char *why)
{
    snprintf(err, n, "invalid value '%.200s' for %s (%s)", val, key, why);
    return -1;
}

static int get_bool(const char *key, const char *val, bool *out, char *err, size_t n)
{
    /* Java's Boolean.parseBoolean: "true" in any case is true, anything else false; a typo
     * silently meaning false is not taken here. */
    if (!strcasecmp(val, "true"))
        *out = true;
    else if (!strcasecmp(val, "false"))
        *out = false;
    else
        return bad(err, n, key, val, "expected true or false");
    return 0;
}

static int get_int(const char *key, const char *val, long lo, long hi, int *out, char *err,
                   size_t n)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < lo || v > hi) {
        char why[64];
        snprintf(why, sizeof why, "expected an integer in %ld..%ld", lo, hi);
        return bad(err, n, key, val, why);
    }
    *out = (int)v;
    return 0;
}

static int get_host(const char *key, const char *val, char *dst, size_t size, char *err,
                    size_t n)
{
    if (!*val || strlen(val) >= size || strpbrk(val, " \t/"))
        return bad(err, n, key, val, "expected a host name or address");
    snprintf(dst, size, "%s", val);
    return 0;
}

/* A setting that turns on something zabkeeper does not do: refused when true. */
static int off_only(const char *key, const char *val, const char *what, char *err, size_t n)
{
    bool on = false;
    if (get_bool(key, val, &on, err, n) != 0)
        return -1;
    if (on) {
        snprintf(err, n, "%s=true: %s is not implemented in zabkeeper (docs/operations.md, "
                 "Monitoring)", key, what);
        return -1;
    }
    return 0;
}

/* As any unknown key: logged, unless it looks like a security setting (then refused). */
static int unknown(const char *prefix, const char *key, char *err, size_t n)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, key);
    if (config_looks_security_related(full)) {
        snprintf(err, n, "%s: unknown setting that looks security-related: refused rather than "
                 "ignored", full);
        return -1;
    }
    ZK_WARN("config: unknown key '%s' ignored", full);
    return 0;
}

static int admin_key(struct zk_admin *a, const char *key, const char *val, char *err, size_t n)
{
    if (!strcmp(key, "enableServer"))
        return get_bool("admin.enableServer", val, &a->enabled, err, n);
    if (!strcmp(key, "serverAddress"))
        return get_host("admin.serverAddress", val, a->address, sizeof a->address, err, n);
    if (!strcmp(key, "serverPort"))
        return get_int("admin.serverPort", val, 1, 65535, &a->port, err, n);
    if (!strcmp(key, "idleTimeout"))
        return get_int("admin.idleTimeout", val, 1, 86400000, &a->idle_timeout_ms, err, n);
    if (!strcmp(key, "commandURL")) {
        size_t len = strlen(val);
        while (len > 1 && val[len - 1] == '/')
            len--; /* "/commands/" serves as "/commands" */
        if (val[0] != '/' || len >= sizeof a->command_url || strpbrk(val, " \t?#%"))
            return bad(err, n, "admin.commandURL", val, "expected a path such as /commands");
        snprintf(a->command_url, sizeof a->command_url, "%.*s", (int)len, val);
        return 0;
    }
    if (!strcmp(key, "portUnification") || !strcmp(key, "forceHttps") ||
        !strcmp(key, "needClientAuth")) {
        char full[64];
        snprintf(full, sizeof full, "admin.%s", key);
        return off_only(full, val, "HTTPS for the AdminServer", err, n);
    }
    if (!strcmp(key, "httpVersion") || !strcmp(key, "rateLimiterIntervalInMS") ||
        !strcmp(key, "snapshot.enabled") || !strcmp(key, "restore.enabled")) {
        ZK_INFO("config: admin.%s is accepted but has no effect in zabkeeper", key);
        return 0;
    }
    return unknown("admin.", key, err, n);
}

static int metrics_key(struct zk_admin *a, const char *key, const char *val, char *err, size_t n)
{
    if (!strcmp(key, "className")) {
        if (!strcmp(val, PROMETHEUS_PROVIDER)) {
            a->metrics = true;
            return 0;
        }
        if (!strcmp(val, NULL_PROVIDER)) { /* ZooKeeper's default: no metrics endpoint */
            a->metrics = false;
            return 0;
        }
        snprintf(err, n, "metricsProvider.className=%.200s: zabkeeper exports metrics only as "
                 "%s (or %s, the default: none)", val, PROMETHEUS_PROVIDER, NULL_PROVIDER);
        return -1;
    }
    if (!strcmp(key, "httpHost"))
        return get_host("metricsProvider.httpHost", val, a->metrics_host, sizeof a->metrics_host,
                        err, n);
    if (!strcmp(key, "httpPort"))
        return get_int("metricsProvider.httpPort", val, 1, 65535, &a->metrics_port, err, n);
    if (!strcmp(key, "exportJvmInfo")) {
        bool unused;
        return get_bool("metricsProvider.exportJvmInfo", val, &unused, err, n); /* no JVM */
    }
    if (!strcmp(key, "numWorkerThreads") || !strcmp(key, "maxQueueSize") ||
        !strcmp(key, "workerShutdownTimeoutMs") ||
        !strcmp(key, "prometheusMetricsSummaryRotateIntervalSeconds")) {
        ZK_INFO("config: metricsProvider.%s is accepted but has no effect in zabkeeper", key);
        return 0;
    }
    if (!strcmp(key, "httpsPort") || !strncmp(key, "ssl.", 4)) {
        snprintf(err, n, "metricsProvider.%s: HTTPS for the metrics endpoint is not implemented "
                 "in zabkeeper", key);
        return -1;
    }
    return unknown("metricsProvider.", key, err, n);
}

int config_admin_key(struct zk_admin *a, const char *key, const char *val, char *err, size_t n)
{
    if (!strncmp(key, "admin.", 6))
        return admin_key(a, key + 6, val, err, n) == 0 ? 1 : -1;
    if (!strncmp(key, "metricsProvider.", 16))
        return metrics_key(a, key + 16, val, err, n) == 0 ? 1 : -1;
    return 0;
}

int config_admin_validate(const struct zk_config *cfg, char *err, size_t n)
{
    const struct zk_admin *a = &cfg->admin;
    if (a->enabled && a->metrics && a->port == a->metrics_port) {
        snprintf(err, n, "admin.serverPort and metricsProvider.httpPort are both %d: the "
                 "AdminServer and the metrics endpoint need a port each", a->port);
        return -1;
    }
    return 0;
}
