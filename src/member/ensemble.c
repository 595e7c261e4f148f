/* Ensemble configurations (see ensemble.h). */
#include "member/ensemble.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"
#include "proto/jute.h"
#include "proto/zkproto.h"

#define LINE_MAX_BYTES 1024

static int parse_number(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int bad(char *err, size_t n, const char *key, const char *why)
{
    snprintf(err, n, "invalid %s: %s", key, why);
    return -1;
}

/* "host:port", "port", "[v6]:port" -> host (may stay "") and port. */
static int split_host_port(char *s, char *host, size_t host_size, int *port)
{
    char *colon = strrchr(s, ':');
    const char *p = colon ? colon + 1 : s;
    long v;
    if (parse_number(p, 1, 65535, &v) != 0)
        return -1;
    *port = (int)v;
    host[0] = '\0';
    if (!colon)
        return 0;
    *colon = '\0';
    char *h = s;
    size_t len = strlen(h);
    if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
        h[len - 1] = '\0';
        h++;
    }
    if (strlen(h) >= host_size)
        return -1;
    snprintf(host, host_size, "%s", h);
    return 0;
}

/* "host:peer:election[:role]" with an IPv6 host in brackets. */
static int parse_server_part(char *s, struct zk_member *m, const char *key, char *err, size_t n)
{
    if (strchr(s, '|'))
        return bad(err, n, key, "several addresses per server (multiAddress) are not supported");
    char *host = s, *rest;
    if (*s == '[') {
        char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return bad(err, n, key, "unclosed [ in the address");
        *close = '\0';
        host = s + 1;
        rest = close + 2;
    } else {
        char *colon = strchr(s, ':');
        if (!colon)
            return bad(err, n, key, "expected host:peerPort:electionPort");
        *colon = '\0';
        rest = colon + 1;
    }
    char *fields[3] = {0};
    int count = 0;
    for (char *p = rest; p && count < 3; count++) {
        char *colon = strchr(p, ':');
        if (colon)
            *colon = '\0';
        fields[count] = zk_trim(p);
        p = colon ? colon + 1 : NULL;
    }
    host = zk_trim(host);
    long peer, election;
    char why[160];
    if (!*host || strlen(host) >= sizeof m->host)
        return bad(err, n, key, "missing or too long host");
    if (count < 2)
        return bad(err, n, key, "expected host:peerPort:electionPort");
    for (int i = 0; i < 2; i++) {
        if (parse_number(fields[i], 1, 65535, i ? &election : &peer) != 0) {
            snprintf(why, sizeof why, "port '%.32s' is not in 1..65535", fields[i]);
            return bad(err, n, key, why);
        }
    }
    if (peer == election) /* as ZooKeeper's QuorumServer */
        return bad(err, n, key, "the peer and election ports must be different");
    if (count == 3 && strcasecmp(fields[2], "participant") && strcasecmp(fields[2], "observer")) {
        snprintf(why, sizeof why, "role '%.32s' is not participant or observer", fields[2]);
        return bad(err, n, key, why);
    }
    snprintf(m->host, sizeof m->host, "%s", host);
    m->peer_port = (int)peer;
    m->election_port = (int)election;
    m->observer = count == 3 && !strcasecmp(fields[2], "observer");
    return 0;
}

int ensemble_parse_server(const char *key, const char *value, struct zk_member *out, char *err,
                          size_t n)
{
    struct zk_member m = {0};
    long id;
    /* ZooKeeper reads any positive long here; ids zabkeeper cannot serve are refused later
     * (ensemble_check_ids), so a reconfig by someone without the right gets NoAuth first */
    if (strncmp(key, "server.", 7) || parse_number(key + 7, 1, INT32_MAX, &id))
        return bad(err, n, key, "the server id is a positive number");
    m.id = (int)id;
    char buf[LINE_MAX_BYTES];
    if (snprintf(buf, sizeof buf, "%s", value) >= (int)sizeof buf)
        return bad(err, n, key, "too long");
    char *client = strchr(buf, ';');
    if (client) {
        *client++ = '\0';
        char *secure = strchr(client, ';'); /* a secure client address: our port is zoo.cfg's */
        if (secure)
            *secure = '\0';
        client = zk_trim(client);
        if (*client && split_host_port(client, m.client_host, sizeof m.client_host,
                                       &m.client_port) != 0) {
            char why[160];
            snprintf(why, sizeof why, "client part '%.64s' is not [host:]port", client);
            return bad(err, n, key, why);
        }
    }
    if (parse_server_part(zk_trim(buf), &m, key, err, n) != 0)
        return -1;
    *out = m;
    return 0;
}

int ensemble_check_id(int id, char *err, size_t n)
{
    if (id >= 1 && id <= ZK_SERVER_ID_MAX)
        return 0;
    snprintf(err, n, "server.%d: zabkeeper's server ids are 1..%d (a session id carries its "
             "member's id in its top byte)", id, ZK_SERVER_ID_MAX);
    return -1;
}

int ensemble_check_ids(const struct ensemble *e, char *err, size_t n)
{
    for (int i = 0; i < e->n; i++)
        if (ensemble_check_id(e->m[i].id, err, n) != 0)
            return -1;
    return 0;
}

int ensemble_put(struct ensemble *e, const struct zk_member *m)
{
    int i = 0;
    while (i < e->n && e->m[i].id < m->id)
        i++;
    if (i < e->n && e->m[i].id == m->id) {
        e->m[i] = *m;
        return 0;
    }
    if (e->n == ZK_SERVERS_MAX)
        return -1;
    memmove(&e->m[i + 1], &e->m[i], (size_t)(e->n - i) * sizeof e->m[0]);
    e->m[i] = *m;
    e->n++;
    return 0;
}

void ensemble_remove(struct ensemble *e, int id)
{
    for (int i = 0; i < e->n; i++) {
        if (e->m[i].id == id) {
            memmove(&e->m[i], &e->m[i + 1], (size_t)(e->n - i - 1) * sizeof e->m[0]);
            e->n--;
            return;
        }
    }
}

const struct zk_member *ensemble_find(const struct ensemble *e, int id)
{
    for (int i = 0; i < e->n; i++)
        if (e->m[i].id == id)
            return &e->m[i];
    return NULL;
}

int ensemble_voters(const struct ensemble *e)
{
    int v = 0;
    for (int i = 0; i < e->n; i++)
        v += !e->m[i].observer;
    return v;
}

/* One "key=value" of configuration text. */
static int parse_item(char *item, struct ensemble *out, char *err, size_t n)
{
    char *s = zk_trim(item);
    if (!*s || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq)
        return bad(err, n, s, "expected key=value");
    *eq = '\0';
    char *key = zk_trim(s), *val = zk_trim(eq + 1);
    if (!strcmp(key, "version")) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(val, &end, 16);
        if (errno || end == val || *end || v > INT64_MAX)
            return bad(err, n, "version", "expected a hexadecimal zxid");
        out->version = (int64_t)v;
        return 0;
    }
    struct zk_member m;
    if (ensemble_parse_server(key, val, &m, err, n) != 0)
        return -1;
    if (ensemble_find(out, m.id))
        return bad(err, n, key, "the server id appears twice");
    if (ensemble_put(out, &m) != 0)
        return bad(err, n, key, "too many servers");
    return 0;
}

int ensemble_parse_text(const char *text, size_t len, struct ensemble *out, char *err, size_t n)
{
    memset(out, 0, sizeof *out);
    char item[LINE_MAX_BYTES];
    for (size_t pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && text[end] != '\n' && text[end] != ',')
            end++;
        if (end - pos >= sizeof item)
            return bad(err, n, "configuration", "a line is too long");
        memcpy(item, text + pos, end - pos);
        item[end - pos] = '\0';
        if (strlen(item) != end - pos)
            return bad(err, n, "configuration", "a NUL byte");
        if (parse_item(item, out, err, n) != 0)
            return -1;
        pos = end + 1;
    }
    return 0;
}

static void put_host(struct jute_writer *out, const char *host)
{
    bool v6 = strchr(host, ':') != NULL;
    char buf[300];
    int len = snprintf(buf, sizeof buf, v6 ? "[%s]" : "%s", host);
    jw_raw(out, buf, (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1);
}

void ensemble_format(const struct ensemble *e, bool with_version, struct jute_writer *out)
{
    char buf[128];
    for (int i = 0; i < e->n; i++) {
        const struct zk_member *m = &e->m[i];
        int len = snprintf(buf, sizeof buf, "server.%d=", m->id);
        jw_raw(out, buf, (size_t)len);
        put_host(out, m->host);
        len = snprintf(buf, sizeof buf, ":%d:%d:%s", m->peer_port, m->election_port,
                       m->observer ? "observer" : "participant");
        jw_raw(out, buf, (size_t)len);
        if (m->client_port) {
            jw_raw(out, ";", 1);
            put_host(out, m->client_host[0] ? m->client_host : "0.0.0.0");
            len = snprintf(buf, sizeof buf, ":%d", m->client_port);
            jw_raw(out, buf, (size_t)len);
        }
        jw_raw(out, "\n", 1);
    }
    if (with_version) {
        int len = snprintf(buf, sizeof buf, "version=%llx", (unsigned long long)e->version);
        jw_raw(out, buf, (size_t)len);
    }
}

bool ensemble_same_members(const struct ensemble *a, const struct ensemble *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++) {
        const struct zk_member *x = &a->m[i], *y = &b->m[i];
        if (x->id != y->id || x->peer_port != y->peer_port ||
            x->election_port != y->election_port || x->observer != y->observer)
            return false;
    }
    return true;
}

/* ---- reconfig ---- */

static bool special_host(const char *h)
{
    return !strncmp(h, "127.", 4) || !strcmp(h, "::1") || !strcasecmp(h, "localhost") ||
           !strcmp(h, "0.0.0.0") || !strcmp(h, "::");
}

/* Two members of one configuration must not share a peer or election address. */
static bool addresses_clash(const struct ensemble *e, char *err, size_t n)
{
    for (int i = 0; i < e->n; i++) {
        for (int j = i + 1; j < e->n; j++) {
            const struct zk_member *a = &e->m[i], *b = &e->m[j];
            int pa[2] = {a->peer_port, a->election_port}, pb[2] = {b->peer_port, b->election_port};
            /* as ZooKeeper's checkAddressDuplicate: loopback and wildcard addresses are not
             * compared (several members of one host in tests) */
            if (strcasecmp(a->host, b->host) || special_host(a->host))
                continue;
            for (int x = 0; x < 2; x++) {
                for (int y = 0; y < 2; y++) {
                    if (pa[x] == pb[y]) {
                        snprintf(err, n, "servers %d and %d share the address %s:%d", a->id,
                                 b->id, a->host, pa[x]);
                        return true;
                    }
                }
            }
        }
    }
    return false;
}

static int32_t apply_joining(struct ensemble *next, const char *joining, char *err, size_t n)
{
    char copy[4096];
    if (snprintf(copy, sizeof copy, "%s", joining) >= (int)sizeof copy) {
        snprintf(err, n, "joining servers: too long");
        return ZE_BADARGUMENTS;
    }
    for (char *save = NULL, *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, n, "Wrong format of server string");
            return ZE_BADARGUMENTS;
        }
        *eq = '\0';
        char *key = zk_trim(s);
        const char *dot = strrchr(key, '.');
        char name[32];
        snprintf(name, sizeof name, "server.%s", dot ? dot + 1 : key);
        struct zk_member m;
        if (ensemble_parse_server(name, zk_trim(eq + 1), &m, err, n) != 0)
            return ZE_BADARGUMENTS;
        if (!m.client_port) { /* as ZooKeeper: a joiner says where its clients connect */
            snprintf(err, n, "Wrong format of server string - each server should have at least "
                     "3 ports specified");
            return ZE_BADARGUMENTS;
        }
        if (ensemble_put(next, &m) != 0) {
            snprintf(err, n, "more than %d servers", ZK_SERVERS_MAX);
            return ZE_BADARGUMENTS;
        }
    }
    return ZE_OK;
}

static int32_t apply_leaving(struct ensemble *next, const char *leaving, char *err, size_t n)
{
    char copy[1024];
    if (snprintf(copy, sizeof copy, "%s", leaving) >= (int)sizeof copy) {
        snprintf(err, n, "leaving servers: too long");
        return ZE_BADARGUMENTS;
    }
    for (char *save = NULL, *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        long id;
        if (parse_number(zk_trim(s), 0, INT32_MAX, &id) != 0) {
            /* ZooKeeper's Long.parseLong outside its ConfigException handler: its request
             * fails as MarshallingError, so that is what clients know */
            snprintf(err, n, "leaving server '%s' is not a server id", s);
            return ZE_MARSHALLINGERROR;
        }
        ensemble_remove(next, (int)id);
    }
    return ZE_OK;
}

int32_t ensemble_reconfigure(const struct ensemble *cur, const char *joining, const char *leaving,
                             const char *new_members, int64_t cur_config_id, int min_voters,
                             struct ensemble *next, char *err, size_t n)
{
    if (cur_config_id != -1 && cur_config_id != cur->version) {
        snprintf(err, n, "Reconfiguration from version %lld failed -- last seen version is %lld",
                 (long long)cur_config_id, (long long)cur->version);
        return ZE_BADVERSION;
    }
    int32_t rc = ZE_OK;
    if (new_members) {
        if (ensemble_parse_text(new_members, strlen(new_members), next, err, n) != 0)
            return ZE_BADARGUMENTS;
    } else {
        *next = *cur;
        if (leaving)
            rc = apply_leaving(next, leaving, err, n);
        if (rc == ZE_OK && joining)
            rc = apply_joining(next, joining, err, n);
        if (rc != ZE_OK)
            return rc;
    }
    next->version = cur->version;
    if (ensemble_voters(next) < min_voters) {
        snprintf(err, n, "Reconfig failed - new configuration must include at least %d "
                 "follower%s", min_voters, min_voters > 1 ? "s" : "");
        return ZE_BADARGUMENTS;
    }
    return addresses_clash(next, err, n) ? ZE_BADARGUMENTS : ZE_OK;
}
