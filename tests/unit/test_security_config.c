/* Unit tests for the security settings of zoo.cfg and of -D properties
 * (src/server/config_security.c and its use in src/server/config.c): every key family lands in
 * cfg->sec with ZooKeeper's meaning (ssl.*, ssl.quorum.*, sslQuorum, authProvider.N, SASL and
 * JAAS keys, superUser, enforce.auth, digest provider, secureClientPort, maxCnxns, skipACL);
 * every refusal (quorum SASL, revocation checks, JKS/BCFKS stores, Java-only TLS settings,
 * unknown ssl./quorum.auth./authProvider. keys, javax.net.ssl.*, port unification, settings that
 * need each other, flags that are not true/false, unknown keys that look security-related) fails
 * the load with a message naming the key; -D properties apply and zoo.cfg overrides them; the
 * clientPort settling rules with secureClientPort; myid 255 with extendedTypesEnabled. */
#include "config_testkit.h"

/* Every zoo.cfg starts with "dataDir=<dir>". */
static void setup(void) { config_testkit_setup("zk-seccfg", "dataDir=%s\n"); }

TestSuite(seccfg, .init = setup, .fini = config_testkit_teardown);

/* One line added to a minimal config must be refused with a message naming `name`. */
static void line_refused(const char *line, const char *name, const char *frag)
{
    char text[1400];
    snprintf(text, sizeof text, "%s\n", line);
    write_cfg(text);
    load_fails(name, frag);
}

static void line_accepted(const char *line)
{
    char text[1400];
    snprintf(text, sizeof text, "%s\n", line);
    write_cfg(text);
    int rc = config_load(cfg_path, NULL, &cfg, err, sizeof err);
    cr_assert_eq(rc, 0, "'%s' refused: %s", line, err);
}

/* The settings a secureClientPort needs, so a test can add the one it is about. */
#define SECURE "secureClientPort=2281\nssl.keyStore.location=/etc/zk/server.pem\n"
#define QUORUM_TLS                                                                            \
    "sslQuorum=true\nssl.quorum.keyStore.location=/etc/zk/q.pem\n"                          \
    "ssl.quorum.trustStore.location=/etc/zk/ca.pem\n"

/* ---- defaults ---- */

Test(seccfg, defaults)
{
    write_cfg("");
    load_ok();
    const struct zk_security *s = &cfg.sec;
    cr_assert_eq(s->secure_client_port, 0);
    cr_assert_eq(cfg.client_port, 2181);
    cr_assert_eq(s->quorum_tls, false);
    cr_assert_eq(s->max_cnxns, 0);
    cr_assert_eq(s->skip_acl, false);
    cr_assert_eq(s->sasl_provider, false);
    cr_assert_str_eq(s->jaas_path, "");
    cr_assert_str_eq(s->jaas_section, "Server");
    cr_assert_str_eq(s->sasl_super_users, "");
    cr_assert_str_eq(s->x509_super_user, "");
    cr_assert_eq(s->allow_sasl_failed, false);
    cr_assert_eq(s->enforce_auth, false);
    cr_assert_eq(s->digest_enabled, true);
    cr_assert_str_eq(s->digest_alg, "SHA1");
    const struct tls_settings *t[2] = {&s->ssl, &s->ssl_quorum};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(t[i]->client_auth, TLS_CLIENT_AUTH_NEED, "ZooKeeper's default is need");
        cr_assert_eq(t[i]->hostname_verification, true);
        cr_assert_eq(t[i]->client_hostname_verification, -1);
        cr_assert_str_eq(t[i]->key.location, "");
        cr_assert_str_eq(t[i]->protocol, "");
        cr_assert_str_eq(t[i]->ciphersuites, "");
    }
}

/* ---- accepted values land in cfg->sec ---- */

Test(seccfg, ssl_client_port_settings)
{
    write_cfg("clientPort=2181\n"
              "secureClientPort=2281\n"
              "secureClientPortAddress=127.0.0.1\n"
              "ssl.keyStore.location=/etc/zk/server.pem\n"
              "ssl.keyStore.password=kpw\n"
              "ssl.keyStore.type=PEM\n"
              "ssl.trustStore.location=/etc/zk/trust.p12\n"
              "ssl.trustStore.password=tpw\n"
              "ssl.trustStore.type=PKCS12\n"
              "ssl.protocol=TLSv1.2\n"
              "ssl.enabledProtocols=TLSv1.2,TLSv1.3\n"
              "ssl.ciphersuites=TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
              "ssl.hostnameVerification=false\n"
              "ssl.clientHostnameVerification=true\n"
              "ssl.clientAuth=want\n"
              "ssl.crl=false\n"
              "ssl.ocsp=false\n"
              "ssl.allowReverseDnsLookup=true\n"
              "ssl.handshakeDetectionTimeoutMillis=5000\n"
              "ssl.sslProvider=OPENSSL\n"
              "ssl.fips-mode=false\n"
              "ssl.authProvider=x509\n"
              "client.certReload=true\n"
              "maxCnxns=100\n");
    load_ok();
    const struct zk_security *s = &cfg.sec;
    cr_assert_eq(cfg.client_port, 2181);
    cr_assert_eq(s->secure_client_port, 2281);
    cr_assert_str_eq(s->secure_client_addr, "127.0.0.1");
    cr_assert_str_eq(s->ssl.key.location, "/etc/zk/server.pem");
    cr_assert_str_eq(s->ssl.key.password, "kpw");
    cr_assert_str_eq(s->ssl.key.type, "PEM");
    cr_assert_str_eq(s->ssl.trust.location, "/etc/zk/trust.p12");
    cr_assert_str_eq(s->ssl.trust.password, "tpw");
    cr_assert_str_eq(s->ssl.trust.type, "PKCS12");
    cr_assert_str_eq(s->ssl.protocol, "TLSv1.2");
    cr_assert_str_eq(s->ssl.enabled_protocols, "TLSv1.2,TLSv1.3");
    cr_assert_str_eq(s->ssl.ciphersuites,
                     "TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    cr_assert_eq(s->ssl.hostname_verification, false);
    cr_assert_eq(s->ssl.client_hostname_verification, 1);
    cr_assert_eq(s->ssl.client_auth, TLS_CLIENT_AUTH_WANT);
    cr_assert_eq(s->max_cnxns, 100);
    /* the client port's settings are not the quorum's */
    cr_assert_str_eq(s->ssl_quorum.key.location, "");
    cr_assert_eq(s->ssl_quorum.client_auth, TLS_CLIENT_AUTH_NEED);
}

Test(seccfg, ssl_quorum_settings)
{
    write_cfg("sslQuorum=true\n"
              "sslQuorumReloadCertFiles=true\n"
              "ssl.quorum.keyStore.location=/etc/zk/q.p12\n"
              "ssl.quorum.keyStore.password=qk\n"
              "ssl.quorum.keyStore.type=pkcs12\n"
              "ssl.quorum.trustStore.location=/etc/zk/ca.pem\n"
              "ssl.quorum.trustStore.password=qt\n"
              "ssl.quorum.protocol=TLSv1.3\n"
              "ssl.quorum.enabledProtocols=TLSv1.3\n"
              "ssl.quorum.ciphersuites=TLS_AES_256_GCM_SHA384\n"
              "ssl.quorum.hostnameVerification=true\n"
              "ssl.quorum.clientHostnameVerification=false\n"
              "ssl.quorum.clientAuth=NEED\n"
              "ssl.quorum.crl=false\n"
              "ssl.quorum.ocsp=FALSE\n"
              "ssl.quorum.allowReverseDnsLookup=false\n");
    load_ok();
    const struct zk_security *s = &cfg.sec;
    cr_assert_eq(s->quorum_tls, true);
    cr_assert_str_eq(s->ssl_quorum.key.location, "/etc/zk/q.p12");
    cr_assert_str_eq(s->ssl_quorum.key.password, "qk");
    cr_assert_str_eq(s->ssl_quorum.key.type, "pkcs12");
    cr_assert_str_eq(tls_store_type(&s->ssl_quorum.key), "PKCS12");
    cr_assert_str_eq(s->ssl_quorum.trust.location, "/etc/zk/ca.pem");
    cr_assert_str_eq(s->ssl_quorum.trust.password, "qt");
    cr_assert_str_eq(s->ssl_quorum.protocol, "TLSv1.3");
    cr_assert_str_eq(s->ssl_quorum.enabled_protocols, "TLSv1.3");
    cr_assert_str_eq(s->ssl_quorum.ciphersuites, "TLS_AES_256_GCM_SHA384");
    cr_assert_eq(s->ssl_quorum.hostname_verification, true);
    cr_assert_eq(s->ssl_quorum.client_hostname_verification, 0);
    cr_assert_eq(s->ssl_quorum.client_auth, TLS_CLIENT_AUTH_NEED);
    cr_assert_str_eq(s->ssl.key.location, "", "ssl.quorum.* leaves ssl.* alone");
}

Test(seccfg, client_auth_values)
{
    static const struct {
        const char *val;
        enum tls_client_auth want;
    } cases[] = {{"need", TLS_CLIENT_AUTH_NEED}, {"NEED", TLS_CLIENT_AUTH_NEED},
                 {"want", TLS_CLIENT_AUTH_WANT}, {"Want", TLS_CLIENT_AUTH_WANT},
                 {"none", TLS_CLIENT_AUTH_NONE}, {"NONE", TLS_CLIENT_AUTH_NONE},
                 {"", TLS_CLIENT_AUTH_NEED}}; /* ClientAuth.fromPropertyValue: empty is NEED */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char line[128];
        snprintf(line, sizeof line, "ssl.clientAuth=%s", cases[i].val);
        line_accepted(line);
        cr_assert_eq(cfg.sec.ssl.client_auth, cases[i].want, "ssl.clientAuth=%s", cases[i].val);
    }
    line_refused("ssl.clientAuth=optional", "ssl.clientAuth", "need, want or none");
    line_refused("ssl.quorum.clientAuth=true", "ssl.quorum.clientAuth", "need, want or none");
}

Test(seccfg, password_path)
{
    char pw[400], text[1024];
    snprintf(pw, sizeof pw, "%s/keystore.pw", dir);
    write_file(pw, "s3cret with spaces\r\n\n");
    snprintf(text, sizeof text,
             "ssl.keyStore.passwordPath=%s\nssl.quorum.trustStore.passwordPath=%s\n", pw, pw);
    write_cfg(text);
    load_ok();
    cr_assert_str_eq(cfg.sec.ssl.key.password, "s3cret with spaces", "trailing newlines dropped");
    cr_assert_str_eq(cfg.sec.ssl_quorum.trust.password, "s3cret with spaces");
    /* a later password line replaces it, as any later setting does */
    snprintf(text, sizeof text, "ssl.keyStore.passwordPath=%s\nssl.keyStore.password=plain\n", pw);
    write_cfg(text);
    load_ok();
    cr_assert_str_eq(cfg.sec.ssl.key.password, "plain");
}

Test(seccfg, password_path_missing)
{
    write_cfg("ssl.keyStore.passwordPath=%s/nope.pw\n");
    load_fails("nope.pw", "password file");
}

Test(seccfg, skip_acl_is_exactly_yes)
{
    line_accepted("skipACL=yes");
    cr_assert_eq(cfg.sec.skip_acl, true);
    line_accepted("zookeeper.skipACL=yes");
    cr_assert_eq(cfg.sec.skip_acl, true);
    /* ZooKeeper: System.getProperty("zookeeper.skipACL", "no").equals("yes") */
    static const char *const others[] = {"no", "true", "YES", "Yes", "1", ""};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        char line[64];
        snprintf(line, sizeof line, "skipACL=%s", others[i]);
        line_accepted(line);
        cr_assert_eq(cfg.sec.skip_acl, false, "skipACL=%s must not skip ACLs", others[i]);
    }
}

Test(seccfg, max_cnxns)
{
    line_accepted("maxCnxns=0");
    cr_assert_eq(cfg.sec.max_cnxns, 0);
    line_accepted("maxCnxns=12345");
    cr_assert_eq(cfg.sec.max_cnxns, 12345);
    line_refused("maxCnxns=-1", "maxCnxns", NULL);
    line_refused("maxCnxns=ten", "maxCnxns", NULL);
    line_refused("maxCnxns=", "maxCnxns", NULL);
    line_refused("maxCnxns=99999999999", "maxCnxns", NULL);
}

Test(seccfg, auth_providers)
{
    line_accepted("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider");
    cr_assert_eq(cfg.sec.sasl_provider, true);
    line_accepted("zookeeper.authProvider.sasl="
                  "org.apache.zookeeper.server.auth.SASLAuthenticationProvider");
    cr_assert_eq(cfg.sec.sasl_provider, true);
    write_cfg("authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n"
              "authProvider.2=org.apache.zookeeper.server.auth.IPAuthenticationProvider\n"
              "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n");
    load_ok();
    cr_assert_eq(cfg.sec.sasl_provider, false, "the built-in providers are not SASL");
    line_refused("authProvider.1=com.example.MyAuthenticationProvider", "authProvider.1",
                 "com.example.MyAuthenticationProvider");
    line_refused("authProvider.2=org.apache.zookeeper.server.auth.KerberosProvider",
                 "authProvider.2", "not available");
    line_refused("authProvider.3=", "authProvider.3", NULL);
}

Test(seccfg, sasl_settings)
{
    write_cfg("java.security.auth.login.config=/etc/zk/jaas.conf\n"
              "zookeeper.sasl.serverconfig=ZkServer\n"
              "superUser=admin\n"
              "zookeeper.superUser.ops=operator\n"
              "allowSaslFailedClients=true\n"
              "letAnySaslUserDoX=anyone\n"
              "kerberos.removeHostFromPrincipal=true\n"
              "zookeeper.kerberos.removeRealmFromPrincipal=true\n"
              "X509AuthenticationProvider.superUser=CN=admin,O=Example\\, Inc.\n");
    load_ok();
    const struct zk_security *s = &cfg.sec;
    cr_assert_str_eq(s->jaas_path, "/etc/zk/jaas.conf");
    cr_assert_str_eq(s->jaas_section, "ZkServer");
    cr_assert_str_eq(s->sasl_super_users, "admin\noperator\n");
    cr_assert_eq(s->allow_sasl_failed, true);
    cr_assert_str_eq(s->let_any_sasl_user, "anyone");
    cr_assert_str_eq(s->x509_super_user, "CN=admin,O=Example\\, Inc.");
}

Test(seccfg, digest_provider_settings)
{
    write_cfg("DigestAuthenticationProvider.enabled=false\n"
              "DigestAuthenticationProvider.digestAlg=SHA-256\n");
    load_ok();
    cr_assert_eq(cfg.sec.digest_enabled, false);
    cr_assert_str_eq(cfg.sec.digest_alg, "SHA-256");
    static const char *const algs[] = {"SHA1", "SHA-1", "SHA-256", "SHA-512", "SHA3-256"};
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++) {
        char line[128];
        snprintf(line, sizeof line, "zookeeper.DigestAuthenticationProvider.digestAlg=%s", algs[i]);
        line_accepted(line);
        cr_assert_str_eq(cfg.sec.digest_alg, algs[i]);
    }
}

Test(seccfg, unknown_digest_alg)
{
    line_refused("DigestAuthenticationProvider.digestAlg=SHA-7", "digestAlg", "unknown digest");
    line_refused("DigestAuthenticationProvider.digestAlg=", "digestAlg", NULL);
    line_refused("DigestAuthenticationProvider.digestAlg=MD4-ish", "digestAlg", NULL);
}

Test(seccfg, enforce_auth)
{
    write_cfg("enforce.auth.enabled=true\nenforce.auth.schemes=digest,ip\n");
    load_ok();
    cr_assert_eq(cfg.sec.enforce_auth, true);
    cr_assert_str_eq(cfg.sec.enforce_auth_schemes, "digest,ip");

    write_cfg("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
              "enforce.auth.enabled=true\nenforce.auth.schemes=sasl, digest\n");
    load_ok();

    write_cfg(SECURE "enforce.auth.enabled=true\nenforce.auth.schemes=x509\n");
    load_ok();

    /* sessionRequireClientSASLAuth is enforce.auth with the sasl scheme */
    write_cfg("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
              "sessionRequireClientSASLAuth=true\n");
    load_ok();
    cr_assert_eq(cfg.sec.enforce_auth, true);
    cr_assert_str_eq(cfg.sec.enforce_auth_schemes, "sasl");

    write_cfg("sessionRequireClientSASLAuth=false\nenforce.auth.enabled=false\n");
    load_ok();
    cr_assert_eq(cfg.sec.enforce_auth, false);
}

/* ---- refusals ---- */

Test(seccfg, quorum_sasl_refused)
{
    line_refused("quorum.auth.enableSasl=true", "quorum.auth.enableSasl", "sslQuorum");
    line_refused("quorum.auth.learnerRequireSasl=true", "quorum.auth.learnerRequireSasl", NULL);
    line_refused("quorum.auth.serverRequireSasl=TRUE", "quorum.auth.serverRequireSasl", NULL);
    line_refused("zookeeper.quorum.auth.enableSasl=true", "quorum.auth.enableSasl", NULL);
    line_refused("quorum.auth.enableSasl=yes", "quorum.auth.enableSasl", "true or false");
    line_refused("quorum.auth.kerberos.keytab=/k", "quorum.auth.kerberos.keytab", "unknown");
    /* off, and the names only quorum SASL would read, are harmless */
    write_cfg("quorum.auth.enableSasl=false\n"
              "quorum.auth.learnerRequireSasl=false\n"
              "quorum.auth.serverRequireSasl=false\n"
              "quorum.auth.kerberos.servicePrincipal=zkquorum/localhost\n"
              "quorum.auth.learner.saslLoginContext=QuorumLearner\n"
              "quorum.auth.server.saslLoginContext=QuorumServer\n");
    load_ok();
}

Test(seccfg, revocation_refused)
{
    line_refused("ssl.crl=true", "ssl.crl", "revocation");
    line_refused("ssl.ocsp=true", "ssl.ocsp", "revocation");
    line_refused("ssl.quorum.crl=true", "ssl.quorum.crl", NULL);
    line_refused("ssl.quorum.ocsp=True", "ssl.quorum.ocsp", NULL);
    line_refused("ssl.crl=on", "ssl.crl", "true or false");
}

Test(seccfg, java_only_tls_settings_refused)
{
    line_refused("ssl.context.supplier.class=com.example.Supplier", "ssl.context.supplier.class",
                 NULL);
    line_refused("ssl.quorum.context.supplier.class=x", "ssl.quorum.context.supplier.class", NULL);
    line_refused("ssl.trustManager=x", "ssl.trustManager", "unknown TLS setting");
    line_refused("ssl.quorum.foo=1", "ssl.quorum.foo", "unknown TLS setting");
    line_refused("ssl.keyStore.alias=k", "ssl.keyStore.alias", "unknown store setting");
    line_refused("ssl.quorum.trustStore.provider=x", "ssl.quorum.trustStore.provider", NULL);
    line_refused("ssl.authProvider=digest", "ssl.authProvider", "x509");
    /* ssl.authProvider is a client port setting: on the quorum it is unknown */
    line_refused("ssl.quorum.authProvider=x509", "ssl.quorum.authProvider", NULL);
    line_refused("zookeeper.ssl.bogus=1", "ssl.bogus", NULL);
}

Test(seccfg, javax_net_ssl_refused)
{
    line_refused("javax.net.ssl.keyStore=/k.jks", "javax.net.ssl.keyStore", "ssl.keyStore");
    line_refused("javax.net.ssl.trustStorePassword=x", "javax.net.ssl.trustStorePassword", NULL);
}

Test(seccfg, port_unification_refused)
{
    line_refused("portUnification=true", "portUnification", "secureClientPort");
    line_refused("client.portUnification=true", "client.portUnification", NULL);
    line_refused("zookeeper.client.portUnification=true", "client.portUnification", NULL);
    line_refused("portUnification=1", "portUnification", "true or false");
    write_cfg("portUnification=false\nclient.portUnification=false\n");
    load_ok();
}

Test(seccfg, jks_and_bcfks_refused)
{
    /* by type */
    write_cfg(SECURE "ssl.keyStore.type=JKS\n");
    load_fails("ssl.keyStore", "JKS");
    write_cfg(SECURE "ssl.trustStore.location=/etc/zk/trust.p12\nssl.trustStore.type=jks\n");
    load_fails("ssl.trustStore", "JKS");
    write_cfg(SECURE "ssl.keyStore.type=BCFKS\n");
    load_fails("ssl.keyStore", "BCFKS");
    /* by file name */
    write_cfg("secureClientPort=2281\nssl.keyStore.location=/etc/zk/keystore.jks\n");
    load_fails("ssl.keyStore", "keystore.jks");
    write_cfg(SECURE "ssl.trustStore.location=/etc/zk/truststore.JKS\n");
    load_fails("ssl.trustStore", "JKS");
    write_cfg(SECURE "ssl.trustStore.location=/etc/zk/truststore.bcfks\n");
    load_fails("ssl.trustStore", "BCFKS");
    /* the quorum's stores, when sslQuorum is on */
    write_cfg(QUORUM_TLS "ssl.quorum.keyStore.type=JKS\n");
    load_fails("ssl.quorum.keyStore", "JKS");
    write_cfg("sslQuorum=true\nssl.quorum.keyStore.location=/q.pem\n"
              "ssl.quorum.trustStore.location=/etc/zk/trust.jks\n");
    load_fails("ssl.quorum.trustStore", "trust.jks");
    /* a type zabkeeper does not know, or a file name that tells nothing */
    write_cfg(SECURE "ssl.keyStore.type=PKCS11\n");
    load_fails("ssl.keyStore.type", "PKCS11");
    write_cfg("secureClientPort=2281\nssl.keyStore.location=/etc/zk/server.store\n");
    load_fails("ssl.keyStore.type", "server.store");
    /* a type that says PEM or PKCS12 wins over the name */
    write_cfg("secureClientPort=2281\nssl.keyStore.location=/etc/zk/server.jks\n"
              "ssl.keyStore.type=PKCS12\n");
    load_ok();
}

Test(seccfg, unused_stores_and_protocols_checked_too)
{
    /* found at start, not on the day secureClientPort or sslQuorum is turned on */
    line_refused("ssl.quorum.keyStore.location=/etc/zk/q.jks", "ssl.quorum.keyStore", "JKS");
    write_cfg("ssl.keyStore.location=/etc/zk/k.pem\nssl.keyStore.type=JKS\n");
    load_fails("ssl.keyStore", "JKS");
    line_accepted("ssl.keyStore.type=JKS"); /* a type without a store is no store */
    line_refused("ssl.trustStore.location=/etc/zk/t.bcfks", "ssl.trustStore", "BCFKS");
    line_refused("ssl.enabledProtocols=TLSv1.2,TLSv9", "ssl.enabledProtocols", "TLSv9");
    line_refused("ssl.quorum.protocol=SSLv3", "ssl.quorum.protocol", "SSLv3");
    line_refused("ssl.quorum.ciphersuites=NOT_A_SUITE", "ssl.quorum.ciphersuites", NULL);
    line_accepted("ssl.quorum.keyStore.location=/etc/zk/q.p12");
}

Test(seccfg, quorum_client_auth_must_be_need)
{
    write_cfg(QUORUM_TLS "ssl.quorum.clientAuth=want\n");
    load_fails("ssl.quorum.clientAuth", "need");
    write_cfg(QUORUM_TLS "ssl.quorum.clientAuth=none\n");
    load_fails("ssl.quorum.clientAuth", NULL);
    write_cfg(QUORUM_TLS "ssl.quorum.clientAuth=need\n");
    load_ok();
}

Test(seccfg, ssl_quorum_needs_stores)
{
    write_cfg("sslQuorum=true\n");
    load_fails("sslQuorum", "ssl.quorum.keyStore.location");
    write_cfg("sslQuorum=true\nssl.quorum.keyStore.location=/q.pem\n");
    load_fails("sslQuorum", "ssl.quorum.trustStore.location");
    write_cfg("sslQuorum=true\nssl.quorum.trustStore.location=/ca.pem\n");
    load_fails("sslQuorum", NULL);
    /* the client port's stores are not the quorum's */
    write_cfg("sslQuorum=true\nssl.keyStore.location=/k.pem\nssl.trustStore.location=/t.pem\n");
    load_fails("sslQuorum", NULL);
    write_cfg(QUORUM_TLS);
    load_ok();
    cr_assert_eq(cfg.sec.quorum_tls, true);
}

Test(seccfg, quorum_tls_protocols_and_suites_checked)
{
    write_cfg(QUORUM_TLS "ssl.quorum.enabledProtocols=TLSv1.2,SSLv3\n");
    load_fails("ssl.quorum.enabledProtocols", "SSLv3");
    write_cfg(QUORUM_TLS "ssl.quorum.protocol=TLSv1.9\n");
    load_fails("ssl.quorum.protocol", "TLSv1.9");
    write_cfg(QUORUM_TLS "ssl.quorum.ciphersuites=TLS_NOT_A_SUITE,ALSO_NOT\n");
    load_fails("ssl.quorum.ciphersuites", "TLS_NOT_A_SUITE");
}

Test(seccfg, secure_client_port_checks)
{
    write_cfg("secureClientPort=2281\n");
    load_fails("secureClientPort", "ssl.keyStore.location");
    write_cfg("clientPort=2281\n" SECURE);
    load_fails("secureClientPort", "clientPort");
    line_refused("secureClientPort=abc", "secureClientPort", "port");
    line_refused("secureClientPort=70000", "secureClientPort", NULL);
    line_refused("secureClientPort=-1", "secureClientPort", NULL);
    line_refused("secureClientPort=", "secureClientPort", NULL);
    /* the client port's protocols and suites are checked at start too */
    write_cfg(SECURE "ssl.enabledProtocols=TLSv1.2,TLSv2\n");
    load_fails("ssl.enabledProtocols", "TLSv2");
    write_cfg(SECURE "ssl.ciphersuites=NOPE\n");
    load_fails("ssl.ciphersuites", "NOPE");
    write_cfg(SECURE "ssl.enabledProtocols=,\n");
    load_fails("ssl.enabledProtocols", NULL);
    /* secureClientPort=0 is no secure port */
    write_cfg("secureClientPort=0\n");
    load_ok();
    cr_assert_eq(cfg.sec.secure_client_port, 0);
    cr_assert_eq(cfg.client_port, 2181);
}

Test(seccfg, enforce_auth_needs_schemes_and_providers)
{
    write_cfg("enforce.auth.enabled=true\n");
    load_fails("enforce.auth.enabled", "enforce.auth.schemes");
    write_cfg("enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n");
    load_fails("enforce.auth.schemes", "sasl");
    write_cfg("sessionRequireClientSASLAuth=true\n");
    load_fails("enforce.auth.schemes", "SASLAuthenticationProvider");
    write_cfg("enforce.auth.enabled=true\nenforce.auth.schemes=x509\n");
    load_fails("enforce.auth.schemes", "x509");
    write_cfg("DigestAuthenticationProvider.enabled=false\n"
              "enforce.auth.enabled=true\nenforce.auth.schemes=ip,digest\n");
    load_fails("enforce.auth.schemes", "digest");
    write_cfg("enforce.auth.enabled=true\nenforce.auth.schemes=kerberos\n");
    load_fails("enforce.auth.schemes", "kerberos");
}

Test(seccfg, flags_must_be_true_or_false)
{
    static const char *const lines[][2] = {
        {"sslQuorum=yes", "sslQuorum"},
        {"sslQuorumReloadCertFiles=1", "sslQuorumReloadCertFiles"},
        {"client.certReload=enabled", "client.certReload"},
        {"ssl.hostnameVerification=no", "ssl.hostnameVerification"},
        {"ssl.quorum.hostnameVerification=0", "ssl.quorum.hostnameVerification"},
        {"ssl.clientHostnameVerification=yes", "ssl.clientHostnameVerification"},
        {"ssl.ocsp=", "ssl.ocsp"},
        {"allowSaslFailedClients=on", "allowSaslFailedClients"},
        {"enforce.auth.enabled=maybe", "enforce.auth.enabled"},
        {"sessionRequireClientSASLAuth=1", "sessionRequireClientSASLAuth"},
        {"DigestAuthenticationProvider.enabled=no", "DigestAuthenticationProvider.enabled"},
        {"quorum.auth.learnerRequireSasl=t", "quorum.auth.learnerRequireSasl"},
        {"client.portUnification=off", "client.portUnification"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        line_refused(lines[i][0], lines[i][1], "expected true or false");
    /* case does not matter for true and false (Boolean.parseBoolean) */
    line_accepted("ssl.hostnameVerification=FALSE");
    cr_assert_eq(cfg.sec.ssl.hostname_verification, false);
    line_accepted("allowSaslFailedClients=True");
    cr_assert_eq(cfg.sec.allow_sasl_failed, true);
}

Test(seccfg, unknown_security_looking_keys_refused)
{
    static const char *const keys[] = {
        "sslFoo", "trustAll", "myPassword", "tlsEnabled", "authEnabled", "secureMode",
        "aclDefault", "superDuper", "trustStoreLocation", "KeyStore", "certDir",
        "kerberosRealm", "jaasFile", "x509Mapping", "digestStrength", "encryptionKey",
        "SASLmech", "zookeeper.sslFoo", "quorum.sslEnabled",
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char line[128];
        snprintf(line, sizeof line, "%s=true", keys[i]);
        const char *named = strncmp(keys[i], "zookeeper.", 10) ? keys[i] : keys[i] + 10;
        line_refused(line, named, "security");
    }
    /* unknown keys that do not look like security settings are still only logged */
    line_accepted("someFutureKey=whatever");
    line_accepted("zookeeper.someOtherKey=1");
}

Test(seccfg, looks_security_related)
{
    cr_assert(config_looks_security_related("SSLFOO"));
    cr_assert(config_looks_security_related("my.TrustManager"));
    cr_assert(config_looks_security_related("Crypto"));
    cr_assert(config_looks_security_related("x509"));
    cr_assert_not(config_looks_security_related("tickTime"));
    cr_assert_not(config_looks_security_related("snapCount"));
    cr_assert_not(config_looks_security_related(""));
    char longkey[600];
    memset(longkey, 'a', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    cr_assert_not(config_looks_security_related(longkey));
    memcpy(longkey + 100, "Ssl", 3);
    cr_assert(config_looks_security_related(longkey));
}

Test(seccfg, values_too_long)
{
    char line[1200];
    snprintf(line, sizeof line, "ssl.protocol=%0100d", 0);
    line_refused(line, "ssl.protocol", "too long");
    snprintf(line, sizeof line, "ssl.keyStore.location=/%0600d", 0);
    line_refused(line, "ssl.keyStore.location", "too long");
    snprintf(line, sizeof line, "zookeeper.sasl.serverconfig=%070d", 0);
    line_refused(line, "sasl.serverconfig", "too long");
}

Test(seccfg, super_users_newline_or_too_many)
{
    char text[4096] = "";
    for (int i = 0; i < 40; i++) {
        size_t o = strlen(text);
        snprintf(text + o, sizeof text - o, "superUser.u%d=user-with-a-long-name-%d\n", i, i);
    }
    write_cfg(text);
    load_fails("superUser", "too many");
}

/* ---- -D properties ---- */

Test(seccfg, props_apply)
{
    write_cfg("");
    static const char *const items[] = {
        "zookeeper.ssl.keyStore.location=/from/prop.pem",
        "zookeeper.ssl.keyStore.password=proppw",
        "jute.maxbuffer=2097152",
        "java.security.auth.login.config=/from/prop/jaas.conf",
        "zookeeper.sasl.serverconfig=PropServer",
        "zookeeper.authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
        "zookeeper.X509AuthenticationProvider.superUser=CN=root",
        "zookeeper.DigestAuthenticationProvider.digestAlg=SHA-256",
        "zookeeper.secureClientPort=2281",
        "java.net.preferIPv4Stack=true", /* a JVM setting: ignored */
        "sslFoo=1",                      /* not a ZooKeeper property: ignored, not refused */
        "com.sun.management.jmxremote",  /* no '=' */
    };
    load_props_ok(items, (int)(sizeof items / sizeof *items));
    const struct zk_security *s = &cfg.sec;
    cr_assert_str_eq(s->ssl.key.location, "/from/prop.pem");
    cr_assert_str_eq(s->ssl.key.password, "proppw");
    cr_assert_eq(cfg.max_buffer, 2097152);
    cr_assert_str_eq(s->jaas_path, "/from/prop/jaas.conf");
    cr_assert_str_eq(s->jaas_section, "PropServer");
    cr_assert_eq(s->sasl_provider, true);
    cr_assert_str_eq(s->x509_super_user, "CN=root");
    cr_assert_str_eq(s->digest_alg, "SHA-256");
    cr_assert_eq(s->secure_client_port, 2281);
    cr_assert_eq(cfg.client_port, 0, "secureClientPort alone: TLS clients only");
}

Test(seccfg, zoo_cfg_overrides_props)
{
    write_cfg("ssl.keyStore.location=/from/cfg.pem\n"
              "jute.maxbuffer=1048576\n"
              "java.security.auth.login.config=/from/cfg/jaas.conf\n"
              "zookeeper.sasl.serverconfig=CfgServer\n"
              "DigestAuthenticationProvider.digestAlg=SHA-512\n"
              "sslQuorum=false\n");
    static const char *const items[] = {
        "zookeeper.ssl.keyStore.location=/from/prop.pem",
        "jute.maxbuffer=2097152",
        "java.security.auth.login.config=/from/prop/jaas.conf",
        "zookeeper.sasl.serverconfig=PropServer",
        "zookeeper.DigestAuthenticationProvider.digestAlg=SHA-256",
        "zookeeper.sslQuorum=true",
    };
    load_props_ok(items, (int)(sizeof items / sizeof *items));
    cr_assert_str_eq(cfg.sec.ssl.key.location, "/from/cfg.pem");
    cr_assert_eq(cfg.max_buffer, 1048576);
    cr_assert_str_eq(cfg.sec.jaas_path, "/from/cfg/jaas.conf");
    cr_assert_str_eq(cfg.sec.jaas_section, "CfgServer");
    cr_assert_str_eq(cfg.sec.digest_alg, "SHA-512");
    cr_assert_eq(cfg.sec.quorum_tls, false);
}

Test(seccfg, props_refusals_name_the_property)
{
    write_cfg("");
    static const char *const bad1[] = {"javax.net.ssl.trustStore=/t.jks"};
    struct config_props p1 = {bad1, 1};
    check_fails(&p1, "-Djavax.net.ssl.trustStore", "ssl.trustStore");
    static const char *const bad2[] = {"zookeeper.sslQuorum=maybe"};
    struct config_props p2 = {bad2, 1};
    check_fails(&p2, "-Dzookeeper.sslQuorum", "true or false");
    static const char *const bad3[] = {"zookeeper.quorum.auth.enableSasl=true"};
    struct config_props p3 = {bad3, 1};
    check_fails(&p3, "-Dzookeeper.quorum.auth.enableSasl", NULL);
    static const char *const bad4[] = {"zookeeper.trustAll=true"};
    struct config_props p4 = {bad4, 1};
    check_fails(&p4, "trustAll", "security");
    /* a setting from -D is checked with the file: sslQuorum needs the quorum's stores */
    static const char *const bad5[] = {"zookeeper.sslQuorum=true"};
    struct config_props p5 = {bad5, 1};
    check_fails(&p5, "sslQuorum", "ssl.quorum.keyStore.location");
    /* a zoo.cfg value cannot rescue a bad -D value: properties are read first */
    write_cfg("sslQuorum=false\n");
    check_fails(&p2, "-Dzookeeper.sslQuorum", NULL);
}

Test(seccfg, props_empty_value_and_long_item)
{
    write_cfg("");
    static const char *const items[] = {"zookeeper.ssl.keyStore.password"}; /* -Dname: "" */
    load_props_ok(items, 1);
    cr_assert_str_eq(cfg.sec.ssl.key.password, "");
    char big[3000];
    snprintf(big, sizeof big, "zookeeper.ssl.keyStore.location=/%02900d", 0);
    const char *const long_items[] = {big};
    struct config_props p = {long_items, 1};
    check_fails(&p, "too long", NULL);
}

/* ZooKeeper copies an unknown zoo.cfg key X into the system property zookeeper.X
 * (System.setProperty), which replaces a -Dzookeeper.X of the same name, and a repeated zoo.cfg
 * key keeps its last value (java.util.Properties). zabkeeper appends every superUser value
 * instead, so a -Dzookeeper.superUser (or an earlier superUser line) stays a super user where
 * ZooKeeper would drop it. Disabled until config_security.c's add_super_user follows the rule. */
Test(seccfg, super_user_from_cfg_replaces_prop)
{
    write_cfg("superUser=root\n");
    static const char *const items[] = {"zookeeper.superUser=admin"};
    load_props_ok(items, 1);
    cr_assert_str_eq(cfg.sec.sasl_super_users, "root\n", "zoo.cfg wins, as in ZooKeeper");
    write_cfg("superUser=first\nsuperUser=second\n");
    load_ok();
    cr_assert_str_eq(cfg.sec.sasl_super_users, "second\n", "the last line wins");
}

/* ---- clientPort with secureClientPort ---- */

Test(seccfg, secure_client_port_alone_means_no_plain_port)
{
    write_cfg(SECURE);
    load_ok();
    cr_assert_eq(cfg.sec.secure_client_port, 2281);
    cr_assert_eq(cfg.client_port, 0);
}

Test(seccfg, client_port_from_server_line)
{
    write_cfg(SECURE "server.1=127.0.0.1:2888:3888;2191\nserver.2=127.0.0.1:2889:3889;2192\n");
    write_myid("2\n");
    load_ok();
    cr_assert_eq(cfg.myid, 2);
    cr_assert_eq(cfg.client_port, 2192, "this member's server line gives the plain port");
    cr_assert_eq(cfg.sec.secure_client_port, 2281);

    /* without a ";clientPort" part and without clientPort: TLS only */
    write_cfg(SECURE "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889;2192\n");
    write_myid("1\n");
    load_ok();
    cr_assert_eq(cfg.client_port, 0);

    /* clientPort wins over the server line */
    write_cfg("clientPort=2200\nserver.1=127.0.0.1:2888:3888;2191\n");
    write_myid("1\n");
    load_ok();
    cr_assert_eq(cfg.client_port, 2200);

    /* neither, no secure port: ZooKeeper's 2181 */
    write_cfg("server.1=127.0.0.1:2888:3888\n");
    write_myid("1\n");
    load_ok();
    cr_assert_eq(cfg.client_port, 2181);
}

Test(seccfg, secure_port_equal_to_server_line_port)
{
    write_cfg(SECURE "server.1=127.0.0.1:2888:3888;2281\n");
    write_myid("1\n");
    load_fails("secureClientPort", "clientPort");
}

Test(seccfg, myid_255_with_extended_types)
{
    write_cfg("server.255=127.0.0.1:2888:3888\nserver.1=127.0.0.1:2889:3889\n");
    write_myid("255\n");
    load_fails("myid", "extendedTypesEnabled");
    write_cfg("extendedTypesEnabled=false\n"
              "server.255=127.0.0.1:2888:3888\nserver.1=127.0.0.1:2889:3889\n");
    load_ok();
    cr_assert_eq(cfg.myid, 255);
    cr_assert_eq(cfg.extended_types, false);
    /* member 1 of the same ensemble is fine with TTL nodes on */
    write_cfg("server.255=127.0.0.1:2888:3888\nserver.1=127.0.0.1:2889:3889\n");
    write_myid("1\n");
    load_ok();
}

Test(seccfg, zookeeper_prefix_in_zoo_cfg)
{
    write_cfg("zookeeper.ssl.keyStore.location=/p.pem\n"
              "zookeeper.secureClientPort=2281\n"
              "zookeeper.ssl.quorum.clientAuth=want\n"
              "zookeeper.allowSaslFailedClients=true\n");
    load_ok();
    cr_assert_str_eq(cfg.sec.ssl.key.location, "/p.pem");
    cr_assert_eq(cfg.sec.secure_client_port, 2281);
    cr_assert_eq(cfg.sec.ssl_quorum.client_auth, TLS_CLIENT_AUTH_WANT, "sslQuorum is off");
    cr_assert_eq(cfg.sec.allow_sasl_failed, true);
}

/* ---- config_security_key directly: 1 taken, 0 not ours, -1 refused ---- */

Test(seccfg, security_key_return_values)
{
    struct zk_security sec;
    config_security_defaults(&sec);
    cr_assert_eq(config_security_key(&sec, "ssl.protocol", "TLSv1.3", err, sizeof err), 1);
    cr_assert_eq(config_security_key(&sec, "tickTime", "2000", err, sizeof err), 0);
    cr_assert_eq(config_security_key(&sec, "sslFoo", "1", err, sizeof err), 0,
                 "unknown keys are config.c's business");
    cr_assert_eq(config_security_key(&sec, "ssl.foo", "1", err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "ssl.foo"));
    /* a small error buffer is not overrun */
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    cr_assert_eq(config_security_key(&sec, "ssl.crl", "true", tiny, sizeof tiny), -1);
    cr_assert_eq(tiny[sizeof tiny - 1], '\0');
}
