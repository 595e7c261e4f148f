/* The security settings of zoo.cfg and of ZooKeeper's -Dzookeeper.* properties (config.h,
 * docs/security.md). The rule: a setting that would weaken security if ignored is implemented
 * with ZooKeeper's meaning or refused at start with a message naming it. Unknown keys under
 * ssl., quorum.auth. or authProvider. are refused for the same reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "security/digest.h"
#include "server/config.h"

#define SASL_PROVIDER "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"

void config_security_defaults(struct zk_security *sec)
{
    memset(sec, 0, sizeof *sec);
    tls_settings_init(&sec->ssl);
    tls_settings_init(&sec->ssl_quorum);
    snprintf(sec->jaas_section, sizeof sec->jaas_section, "Server");
    sec->digest_enabled = true;
    snprintf(sec->digest_alg, sizeof sec->digest_alg, "SHA1");
}

static int refuse(char *err, size_t n, const char *key, const char *why)
{
    snprintf(err, n, "%s: %s", key, why);
    return -1;
}

/* Java's Boolean.parseBoolean reads anything but "true" as false; a typo must not turn a
 * security setting off silently, so only true/false are taken. */
static int parse_flag(const char *key, const char *val, bool *out, char *err, size_t n)
{
    if (!strcasecmp(val, "true"))
        *out = true;
    else if (!strcasecmp(val, "false"))
        *out = false;
    else
        return refuse(err, n, key, "expected true or false");
    return 1;
}

static int copy_value(char *dst, size_t size, const char *key, const char *val, char *err,
                      size_t n)
{
    if (strlen(val) >= size)
        return refuse(err, n, key, "value too long");
    memcpy(dst, val, strlen(val) + 1);
    return 1;
}

static int store_key(struct tls_store *st, const char *field, const char *key, const char *val,
                     char *err, size_t n)
{
    if (!strcmp(field, "location"))
        return copy_value(st->location, sizeof st->location, key, val, err, n);
    if (!strcmp(field, "password"))
        return copy_value(st->password, sizeof st->password, key, val, err, n);
    if (!strcmp(field, "passwordPath")) {
        char why[400];
        if (tls_read_secret(val, st->password, sizeof st->password, why, sizeof why) == 0)
            return 1;
        return refuse(err, n, key, why);
    }
    if (!strcmp(field, "type"))
        return copy_value(st->type, sizeof st->type, key, val, err, n);
    return refuse(err, n, key, "unknown store setting (refused: no TLS setting is ignored)");
}

static int client_auth(struct tls_settings *s, const char *key, const char *val, char *err,
                       size_t n)
{
    if (!val[0] || !strcasecmp(val, "need"))
        s->client_auth = TLS_CLIENT_AUTH_NEED;
    else if (!strcasecmp(val, "want"))
        s->client_auth = TLS_CLIENT_AUTH_WANT;
    else if (!strcasecmp(val, "none"))
        s->client_auth = TLS_CLIENT_AUTH_NONE;
    else
        return refuse(err, n, key, "expected need, want or none");
    return 1;
}

/* One `ssl.X` or `ssl.quorum.X` setting; sub is X. */
static int tls_key(struct tls_settings *s, bool quorum, const char *sub, const char *key,
                   const char *val, char *err, size_t n)
{
    if (!strncmp(sub, "keyStore.", 9))
        return store_key(&s->key, sub + 9, key, val, err, n);
    if (!strncmp(sub, "trustStore.", 11))
        return store_key(&s->trust, sub + 11, key, val, err, n);
    if (!strcmp(sub, "protocol"))
        return copy_value(s->protocol, sizeof s->protocol, key, val, err, n);
    if (!strcmp(sub, "enabledProtocols"))
        return copy_value(s->enabled_protocols, sizeof s->enabled_protocols, key, val, err, n);
    if (!strcmp(sub, "ciphersuites"))
        return copy_value(s->ciphersuites, sizeof s->ciphersuites, key, val, err, n);
    if (!strcmp(sub, "hostnameVerification"))
        return parse_flag(key, val, &s->hostname_verification, err, n);
    if (!strcmp(sub, "clientHostnameVerification")) {
        bool on = false;
        int rc = parse_flag(key, val, &on, err, n);
        s->client_hostname_verification = on;
        return rc;
    }
    if (!strcmp(sub, "clientAuth"))
        return client_auth(s, key, val, err, n);
    if (!strcmp(sub, "crl") || !strcmp(sub, "ocsp")) {
        bool on = false;
        if (parse_flag(key, val, &on, err, n) < 0)
            return -1;
        return on ? refuse(err, n, key, "revocation checking is not implemented in zabkeeper: "
                                        "remove revoked certificates' CA from the trust store "
                                        "instead (docs/security.md)")
                  : 1;
    }
    /* Settings whose absence cannot weaken anything here: zabkeeper never looks names up in
     * DNS (stricter than allowReverseDnsLookup=true), reloads rotated stores by itself, and
     * has one TLS implementation. */
    if (!strcmp(sub, "allowReverseDnsLookup") || !strcmp(sub, "handshakeDetectionTimeoutMillis") ||
        !strcmp(sub, "sslProvider") || !strcmp(sub, "fips-mode")) {
        ZK_INFO("config: %s=%s accepted (see docs/security.md)", key, val);
        return 1;
    }
    if (!quorum && !strcmp(sub, "authProvider")) {
        if (strcmp(val, "x509"))
            return refuse(err, n, key, "only the x509 provider exists in zabkeeper");
        return 1;
    }
    if (!strcmp(sub, "context.supplier.class"))
        return refuse(err, n, key, "Java SSLContext suppliers cannot be loaded by zabkeeper; "
                                   "use the keyStore/trustStore settings");
    return refuse(err, n, key, "unknown TLS setting (refused: no TLS setting is ignored)");
}

static int auth_provider(struct zk_security *sec, const char *key, const char *val, char *err,
                         size_t n)
{
    static const char *const builtin[] = {
        "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
        "org.apache.zookeeper.server.auth.IPAuthenticationProvider",
        "org.apache.zookeeper.server.auth.X509AuthenticationProvider",
    };
    if (!strcmp(val, SASL_PROVIDER)) {
        sec->sasl_provider = true;
        return 1;
    }
    for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++)
        if (!strcmp(val, builtin[i]))
            return 1;
    snprintf(err, n, "%s: authentication provider %s is not available in zabkeeper (SASL, "
             "digest, ip and x509 are)", key, val);
    return -1;
}

static int quorum_auth_key(const char *key, const char *val, char *err, size_t n)
{
    static const char *const flags[] = {"quorum.auth.enableSasl", "quorum.auth.learnerRequireSasl",
                                        "quorum.auth.serverRequireSasl"};
    static const char *const names[] = {"quorum.auth.kerberos.servicePrincipal",
                                        "quorum.auth.learner.saslLoginContext",
                                        "quorum.auth.server.saslLoginContext"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        if (strcmp(key, flags[i]))
            continue;
        bool on = false;
        if (parse_flag(key, val, &on, err, n) < 0)
            return -1;
        return on ? refuse(err, n, key, "quorum SASL is not implemented in zabkeeper; members "
                                        "authenticate each other with TLS: set sslQuorum=true "
                                        "and ssl.quorum.* (docs/security.md)")
                  : 1;
    }
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(key, names[i]))
            return 1; /* meaningful only with quorum SASL, which is refused */
    return refuse(err, n, key, "unknown quorum authentication setting (refused)");
}

/* zookeeper.superUser and zookeeper.superUser.<anything> are properties: each key holds one
 * user, and a key set again (zoo.cfg after -D, a later line) replaces its value. */
static int add_super_user(struct zk_security *sec, const char *key, const char *val, char *err,
                          size_t n)
{
    int i = 0;
    while (i < sec->n_sasl_super && strcmp(sec->sasl_super_keys[i], key))
        i++;
    if (i == 8 || strlen(key) >= sizeof sec->sasl_super_keys[0] || strlen(val) >= sizeof sec->sasl_super_vals[0] ||
        strchr(val, '\n'))
        return refuse(err, n, key, "too many or too long super users");
    if (i == sec->n_sasl_super) {
        snprintf(sec->sasl_super_keys[i], sizeof sec->sasl_super_keys[i], "%s", key);
        sec->n_sasl_super++;
    }
    snprintf(sec->sasl_super_vals[i], sizeof sec->sasl_super_vals[i], "%s", val);
    size_t used = 0;
    sec->sasl_super_users[0] = '\0';
    for (int k = 0; k < sec->n_sasl_super; k++) {
        int w = snprintf(sec->sasl_super_users + used, sizeof sec->sasl_super_users - used,
                         "%s\n", sec->sasl_super_vals[k]);
        if (w < 0 || (size_t)w >= sizeof sec->sasl_super_users - used)
            return refuse(err, n, key, "too many or too long super users");
        used += (size_t)w;
    }
    return 1;
}

static int sasl_key(struct zk_security *sec, const char *key, const char *val, char *err,
                    size_t n)
{
    if (!strcmp(key, "java.security.auth.login.config"))
        return copy_value(sec->jaas_path, sizeof sec->jaas_path, key, val, err, n);
    if (!strcmp(key, "sasl.serverconfig"))
        return copy_value(sec->jaas_section, sizeof sec->jaas_section, key, val, err, n);
    if (!strcmp(key, "superUser") || !strncmp(key, "superUser.", 10))
        return add_super_user(sec, key, val, err, n);
    if (!strcmp(key, "allowSaslFailedClients"))
        return parse_flag(key, val, &sec->allow_sasl_failed, err, n);
    if (!strcmp(key, "letAnySaslUserDoX"))
        return copy_value(sec->let_any_sasl_user, sizeof sec->let_any_sasl_user, key, val, err, n);
    if (!strcmp(key, "kerberos.removeHostFromPrincipal") ||
        !strcmp(key, "kerberos.removeRealmFromPrincipal"))
        return 1; /* Kerberos names only; the JAAS check refuses Kerberos modules */
    return 0;
}

static int enforce_key(struct zk_security *sec, const char *key, const char *val, char *err,
                       size_t n)
{
    if (!strcmp(key, "enforce.auth.enabled"))
        return parse_flag(key, val, &sec->enforce_auth, err, n);
    if (!strcmp(key, "enforce.auth.schemes"))
        return copy_value(sec->enforce_auth_schemes, sizeof sec->enforce_auth_schemes, key, val,
                          err, n);
    if (!strcmp(key, "sessionRequireClientSASLAuth")) {
        bool on = false;
        if (parse_flag(key, val, &on, err, n) < 0)
            return -1;
        if (on) { /* ZooKeeper: the same as enforce.auth with the sasl scheme */
            sec->enforce_auth = true;
            snprintf(sec->enforce_auth_schemes, sizeof sec->enforce_auth_schemes, "sasl");
        }
        return 1;
    }
    return 0;
}

static int digest_key(struct zk_security *sec, const char *key, const char *val, char *err,
                      size_t n)
{
    if (!strcmp(key, "DigestAuthenticationProvider.enabled"))
        return parse_flag(key, val, &sec->digest_enabled, err, n);
    if (!strcmp(key, "DigestAuthenticationProvider.digestAlg")) {
        if (!zk_digest_alg_known(val))
            return refuse(err, n, key, "unknown digest algorithm");
        return copy_value(sec->digest_alg, sizeof sec->digest_alg, key, val, err, n);
    }
    if (!strcmp(key, "X509AuthenticationProvider.superUser"))
        return copy_value(sec->x509_super_user, sizeof sec->x509_super_user, key, val, err, n);
    return 0;
}

static int port_key(struct zk_security *sec, const char *key, const char *val, char *err,
                    size_t n)
{
    if (!strcmp(key, "secureClientPort")) {
        char *end;
        long port = strtol(val, &end, 10);
        if (*end || end == val || port < 0 || port > 65535)
            return refuse(err, n, key, "expected a port number");
        sec->secure_client_port = (int)port;
        return 1;
    }
    if (!strcmp(key, "secureClientPortAddress"))
        return copy_value(sec->secure_client_addr, sizeof sec->secure_client_addr, key, val, err,
                          n);
    if (!strcmp(key, "maxCnxns")) {
        char *end;
        long v = strtol(val, &end, 10);
        if (*end || end == val || v < 0 || v > 10000000)
            return refuse(err, n, key, "expected a count (0: no limit)");
        sec->max_cnxns = (int)v;
        return 1;
    }
    if (!strcmp(key, "portUnification") || !strcmp(key, "client.portUnification")) {
        bool on = false;
        if (parse_flag(key, val, &on, err, n) < 0)
            return -1;
        return on ? refuse(err, n, key, "one port for TLS and plaintext is not implemented in "
                                        "zabkeeper: use clientPort and secureClientPort")
                  : 1;
    }
    return 0;
}

int config_security_key(struct zk_security *sec, const char *key, const char *val, char *err,
                        size_t n)
{
    if (!strncmp(key, "ssl.quorum.", 11))
        return tls_key(&sec->ssl_quorum, true, key + 11, key, val, err, n);
    if (!strncmp(key, "ssl.", 4))
        return tls_key(&sec->ssl, false, key + 4, key, val, err, n);
    if (!strcmp(key, "sslQuorum"))
        return parse_flag(key, val, &sec->quorum_tls, err, n);
    if (!strcmp(key, "sslQuorumReloadCertFiles") || !strcmp(key, "client.certReload")) {
        bool on = false;
        return parse_flag(key, val, &on, err, n); /* stores are always reloaded when changed */
    }
    if (!strncmp(key, "quorum.auth.", 12))
        return quorum_auth_key(key, val, err, n);
    if (!strncmp(key, "authProvider.", 13))
        return auth_provider(sec, key, val, err, n);
    if (!strcmp(key, "skipACL")) {
        sec->skip_acl = !strcmp(val, "yes"); /* ZooKeeper: exactly "yes" */
        if (sec->skip_acl)
            ZK_WARN("config: skipACL=yes: no ACL is checked on this member");
        return 1;
    }
    if (!strncmp(key, "javax.net.ssl.", 14))
        return refuse(err, n, key, "Java's default TLS stores are not used by zabkeeper: set "
                                   "ssl.keyStore.* and ssl.trustStore.*");
    int rc = port_key(sec, key, val, err, n);
    if (!rc)
        rc = sasl_key(sec, key, val, err, n);
    if (!rc)
        rc = enforce_key(sec, key, val, err, n);
    if (!rc)
        rc = digest_key(sec, key, val, err, n);
    return rc;
}

bool config_looks_security_related(const char *key)
{
    static const char *const words[] = {"ssl", "tls", "sasl", "auth", "secure", "acl", "super",
                                        "trust", "keystore", "cert", "kerberos", "jaas",
                                        "password", "x509", "digest", "crypt"};
    char lower[256];
    size_t len = strlen(key) < sizeof lower - 1 ? strlen(key) : sizeof lower - 1;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
    lower[len] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strstr(lower, words[i]))
            return true;
    return false;
}

/* ---- what the settings need of each other ---- */

static bool scheme_available(const struct zk_config *cfg, const char *scheme)
{
    const struct zk_security *sec = &cfg->sec;
    if (!strcmp(scheme, "sasl"))
        return sec->sasl_provider;
    if (!strcmp(scheme, "digest"))
        return sec->digest_enabled;
    if (!strcmp(scheme, "x509"))
        return sec->secure_client_port > 0;
    return !strcmp(scheme, "ip");
}

static int check_enforce(const struct zk_config *cfg, char *err, size_t n)
{
    const struct zk_security *sec = &cfg->sec;
    if (!sec->enforce_auth)
        return 0;
    if (!sec->enforce_auth_schemes[0])
        return refuse(err, n, "enforce.auth.enabled", "is true: enforce.auth.schemes must be set");
    char copy[sizeof sec->enforce_auth_schemes];
    snprintf(copy, sizeof copy, "%s", sec->enforce_auth_schemes);
    for (char *save = NULL, *s = strtok_r(copy, ", ", &save); s; s = strtok_r(NULL, ", ", &save)) {
        if (!scheme_available(cfg, s)) {
            snprintf(err, n, "enforce.auth.schemes: authentication scheme %s is not available "
                     "(sasl needs authProvider.N=%s, x509 a secureClientPort)", s, SASL_PROVIDER);
            return -1;
        }
    }
    return 0;
}

static int check_quorum_tls(const struct zk_config *cfg, char *err, size_t n)
{
    const struct tls_settings *q = &cfg->sec.ssl_quorum;
    if (!cfg->sec.quorum_tls)
        return 0;
    if (!q->key.location[0] || !q->trust.location[0])
        return refuse(err, n, "sslQuorum", "needs ssl.quorum.keyStore.location and "
                                           "ssl.quorum.trustStore.location");
    if (q->client_auth != TLS_CLIENT_AUTH_NEED)
        return refuse(err, n, "ssl.quorum.clientAuth", "members always authenticate each other "
                                                        "in zabkeeper: only need is accepted");
    return tls_settings_check(q, "ssl.quorum.", err, n);
}

int config_security_validate(const struct zk_config *cfg, char *err, size_t n)
{
    const struct zk_security *sec = &cfg->sec;
    /* Stores and protocols are checked even where unused, so a JKS store or a misspelt
     * protocol is found before the day it is turned on. */
    if (tls_settings_check(&sec->ssl, "ssl.", err, n) != 0 ||
        tls_settings_check(&sec->ssl_quorum, "ssl.quorum.", err, n) != 0)
        return -1;
    if (sec->secure_client_port) {
        if (!sec->ssl.key.location[0])
            return refuse(err, n, "secureClientPort", "needs ssl.keyStore.location");
        if (sec->secure_client_port == cfg->client_port)
            return refuse(err, n, "secureClientPort", "is the same port as clientPort");
        if (tls_settings_check(&sec->ssl, "ssl.", err, n) != 0)
            return -1;
    }
    if (cfg->myid == 255 && cfg->extended_types)
        return refuse(err, n, "myid", "255 is not allowed while extendedTypesEnabled is on (its "
                                      "session ids would read as TTL owners, as in ZooKeeper)");
    if (sec->sasl_provider && !sec->jaas_path[0])
        ZK_WARN("config: the SASL provider is on but java.security.auth.login.config is not "
                "set: every SASL attempt will fail");
    return check_quorum_tls(cfg, err, n) != 0 ? -1 : check_enforce(cfg, err, n);
}
