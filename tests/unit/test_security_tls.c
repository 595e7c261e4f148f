/* Unit tests for TLS as ZooKeeper configures it (src/security/tls.c, x509name.c), on
 * certificates made at test time with the openssl command line (tests/unit/data/
 * make-test-pki.sh: a CA, server and client certificates, a rogue CA with the same name, an
 * expired certificate, an encrypted PEM key, PKCS12 key and trust stores, and certificates
 * whose subjects exercise the RFC 2253 formatter):
 * - tls_context_new with PEM, encrypted PEM and PKCS12 stores, and its refusals (wrong
 *   password, no key, a key without its certificate, empty or unreadable trust store, JKS,
 *   BCFKS, unknown types, a server without a key store), tls_store_type, tls_settings_check;
 * - real handshakes between a server and a client context over a socketpair (both sides
 *   non-blocking, SSL_do_handshake in turn): protocol ranges (ssl.enabledProtocols,
 *   ssl.protocol), cipher suites by IANA name (TLS 1.3-only, TLS 1.2-only, unknown names
 *   skipped, none known refused), client authentication need/want/none and on the quorum, a
 *   rogue CA and an expired certificate refused both ways, a trust store holding the leaf only,
 *   host name verification through tls_expect_peer_name (IP and DNS, match and mismatch,
 *   disabled, the client's name on the quorum and with ssl.clientHostnameVerification);
 * - tls_peer_subject's strings, checked against what Java's
 *   X509Certificate.getSubjectX500Principal().getName() prints for the same certificates
 *   (tests/unit/data/JavaReference.java, run when `java` is installed; the expected strings below
 *   are Java 17's; the one case zabkeeper prints otherwise on purpose says why);
 * - stores written by Java's KeyStore (as keytool writes them) load and work;
 * - tls_describe_error, tls_stores_stamp, tls_read_secret. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "security/tls.h"

#define PKI_ENV "ZK_TEST_TLS_PKI"

/* ---- the certificates: made once per run, before the first test ---- */

static char pki_dir[512];

static bool have_command(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

/* The subjects Java is asked about (JavaReference.java) and the tests compare. */
static const char *const java_certs[] = {
    "client.pem",      "server.pem",       "subj-email.pem", "subj-escape.pem",
    "subj-special.pem", "subj-plus.pem",   "subj-space1.pem", "subj-keywords.pem",
    "subj-oids.pem",   "subj-utf8.pem",    "subj-multi.pem", "subj-multi3.pem",
    "subj-space2.pem", "subj-cr.pem",      "subj-legacy.pem",
};

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    const char *base = getenv("TMPDIR");
    snprintf(pki_dir, sizeof pki_dir, "%s/zk-tls-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(pki_dir)) {
        pki_dir[0] = '\0';
        return;
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "bash %s/tests/unit/data/make-test-pki.sh %s >%s/pki.log 2>&1",
             ZK_SOURCE_DIR, pki_dir, pki_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_security_tls: make-test-pki.sh failed, see %s/pki.log\n", pki_dir);
        return; /* the tests fail with the log's path */
    }
    setenv(PKI_ENV, pki_dir, 1);
    if (!have_command("java"))
        return;
    /* Java starts slowly: it runs in the background while the other tests run; the suite that
     * needs it (zjava) runs last and waits for java.rc. */
    size_t o = (size_t)snprintf(cmd, sizeof cmd,
                                "(cd %s && java %s/tests/unit/data/JavaReference.java %s", pki_dir,
                                ZK_SOURCE_DIR, pki_dir);
    for (size_t i = 0; i < sizeof java_certs / sizeof *java_certs; i++)
        o += (size_t)snprintf(cmd + o, sizeof cmd - o, " %s", java_certs[i]);
    snprintf(cmd + o, sizeof cmd - o,
             " >java.log 2>&1; echo $? >java.rc.tmp; mv java.rc.tmp java.rc) "
             "</dev/null >/dev/null 2>&1 &");
    if (system(cmd) != 0)
        fprintf(stderr, "test_security_tls: cannot start java\n");
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    if (!pki_dir[0])
        return;
    char path[600];
    snprintf(path, sizeof path, "%s/java.rc", pki_dir);
    char java_started[600];
    snprintf(java_started, sizeof java_started, "%s/java.log", pki_dir);
    for (int i = 0; i < 600 && file_exists(java_started) && !file_exists(path); i++)
        usleep(100000); /* a filtered run may end before java does */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pki_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_security_tls: cannot remove %s\n", pki_dir);
}

static const char *pki(void)
{
    const char *d = getenv(PKI_ENV);
    cr_assert(d && *d, "the test certificates were not made (make-test-pki.sh: see the log "
                       "path printed above; is the openssl command installed?)");
    return d;
}

/* The path of a file of the PKI (a few rotating buffers, so a call can take several). */
static const char *P(const char *name)
{
    static char bufs[8][600];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", pki(), name);
    return b;
}

static void set_store(struct tls_store *st, const char *name, const char *password,
                      const char *type)
{
    snprintf(st->location, sizeof st->location, "%s", name ? P(name) : "");
    snprintf(st->password, sizeof st->password, "%s", password ? password : "");
    snprintf(st->type, sizeof st->type, "%s", type ? type : "");
}

/* Settings with a key store and a trust store (NULL: none), PEM or by file name. */
static struct tls_settings settings(const char *key, const char *trust)
{
    struct tls_settings s;
    tls_settings_init(&s);
    if (key)
        set_store(&s.key, key, NULL, NULL);
    if (trust)
        set_store(&s.trust, trust, NULL, NULL);
    return s;
}

static char err[1024];

static void setup(void)
{
    zk_log_set_level(ZK_LOG_ERROR);
    err[0] = '\0';
    (void)pki();
}

static SSL_CTX *server_ctx(const struct tls_settings *s)
{
    SSL_CTX *ctx = tls_context_new(s, "ssl.", true, false, err, sizeof err);
    cr_assert_not_null(ctx, "server context: %s", err);
    return ctx;
}

static SSL_CTX *client_ctx(const struct tls_settings *s)
{
    SSL_CTX *ctx = tls_context_new(s, "ssl.", false, false, err, sizeof err);
    cr_assert_not_null(ctx, "client context: %s", err);
    return ctx;
}

/* tls_context_new must fail, with a message holding both fragments. */
static void context_fails(const struct tls_settings *s, bool server, const char *prefix,
                          const char *frag1, const char *frag2)
{
    err[0] = '\0';
    SSL_CTX *ctx = tls_context_new(s, prefix, server, false, err, sizeof err);
    if (ctx)
        SSL_CTX_free(ctx);
    cr_assert_null(ctx, "the context was made (expected a failure with '%s')", frag1);
    cr_assert_neq(err[0], '\0');
    if (frag1)
        cr_assert_not_null(strstr(err, frag1), "message '%s' lacks '%s'", err, frag1);
    if (frag2)
        cr_assert_not_null(strstr(err, frag2), "message '%s' lacks '%s'", err, frag2);
}

/* ---- an in-process handshake over a socketpair ---- */

struct hs {
    SSL *srv, *cli;
    int fds[2];
    int srv_state, cli_state; /* 0 running, 1 done, -1 failed */
    char srv_err[512], cli_err[512];
    bool data_ok; /* application data went both ways */
};

static void hs_init(struct hs *h, SSL_CTX *sctx, SSL_CTX *cctx)
{
    memset(h, 0, sizeof *h);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, h->fds), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(fcntl(h->fds[i], F_SETFL, O_NONBLOCK), 0);
    h->srv = SSL_new(sctx);
    h->cli = SSL_new(cctx);
    cr_assert(h->srv && h->cli);
    SSL_set_fd(h->srv, h->fds[0]);
    SSL_set_fd(h->cli, h->fds[1]);
    SSL_set_accept_state(h->srv);
    SSL_set_connect_state(h->cli);
}

static void hs_free(struct hs *h)
{
    SSL_free(h->srv);
    SSL_free(h->cli);
    close(h->fds[0]);
    close(h->fds[1]);
}

/* One SSL_do_handshake; a side that fails says why and closes its end, so the other side sees
 * the alert and then the end instead of waiting. */
static void hs_step(SSL *ssl, int fd, int *state, char *why, size_t n)
{
    if (*state)
        return;
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl);
    if (rc == 1) {
        *state = 1;
        return;
    }
    int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
    *state = -1;
    tls_describe_error(ssl, 0, why, n);
    shutdown(fd, SHUT_RDWR);
}

static bool transfer(SSL *from, SSL *to, const char *msg)
{
    size_t len = strlen(msg);
    ERR_clear_error();
    if (SSL_write(from, msg, (int)len) != (int)len)
        return false;
    char buf[64];
    for (int i = 0; i < 100; i++) {
        ERR_clear_error();
        int rc = SSL_read(to, buf, sizeof buf);
        if (rc > 0)
            return (size_t)rc == len && !memcmp(buf, msg, len);
        int e = SSL_get_error(to, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return false;
    }
    return false;
}

/* Both sides until each is done or failed; then a message each way. true when all went well. */
static bool hs_run(struct hs *h)
{
    for (int i = 0; i < 1000 && (!h->srv_state || !h->cli_state); i++) {
        hs_step(h->cli, h->fds[1], &h->cli_state, h->cli_err, sizeof h->cli_err);
        hs_step(h->srv, h->fds[0], &h->srv_state, h->srv_err, sizeof h->srv_err);
    }
    if (!h->srv_state || !h->cli_state)
        cr_assert_fail("the handshake made no progress");
    if (h->srv_state == 1 && h->cli_state == 1)
        h->data_ok = transfer(h->cli, h->srv, "ping") && transfer(h->srv, h->cli, "pong");
    return h->srv_state == 1 && h->cli_state == 1 && h->data_ok;
}

/* A whole handshake between two settings; host (or NULL) is what the client expects of the
 * server, peer_host what the server expects of the client. */
struct outcome {
    bool ok;
    int srv_state, cli_state;
    char srv_err[512], cli_err[512];
    int version;
    char cipher[128];
    int srv_subject_rc, cli_subject_rc;
    char srv_subject[TLS_DN_MAX], cli_subject[TLS_DN_MAX]; /* the client's; the server's */
};

static struct outcome handshake_ex(const struct tls_settings *ss, bool quorum,
                                   const struct tls_settings *cs, const char *host,
                                   const char *peer_host)
{
    SSL_CTX *sctx = tls_context_new(ss, quorum ? "ssl.quorum." : "ssl.", true, quorum, err,
                                    sizeof err);
    cr_assert_not_null(sctx, "server context: %s", err);
    SSL_CTX *cctx = tls_context_new(cs, quorum ? "ssl.quorum." : "ssl.", false, quorum, err,
                                    sizeof err);
    cr_assert_not_null(cctx, "client context: %s", err);
    struct hs h;
    hs_init(&h, sctx, cctx);
    if (host)
        cr_assert_eq(tls_expect_peer_name(h.cli, cs, false, quorum, host), 0);
    if (peer_host)
        cr_assert_eq(tls_expect_peer_name(h.srv, ss, true, quorum, peer_host), 0);
    struct outcome o = {0};
    o.ok = hs_run(&h);
    o.srv_state = h.srv_state;
    o.cli_state = h.cli_state;
    memcpy(o.srv_err, h.srv_err, sizeof o.srv_err);
    memcpy(o.cli_err, h.cli_err, sizeof o.cli_err);
    if (o.ok) {
        o.version = SSL_version(h.srv);
        const char *std = SSL_CIPHER_standard_name(SSL_get_current_cipher(h.srv));
        snprintf(o.cipher, sizeof o.cipher, "%s", std ? std : "?");
        o.srv_subject_rc = tls_peer_subject(h.srv, o.srv_subject, sizeof o.srv_subject);
        o.cli_subject_rc = tls_peer_subject(h.cli, o.cli_subject, sizeof o.cli_subject);
    }
    hs_free(&h);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    return o;
}

static struct outcome handshake(const struct tls_settings *ss, const struct tls_settings *cs)
{
    return handshake_ex(ss, false, cs, NULL, NULL);
}

static void expect_ok(const struct outcome *o)
{
    cr_assert(o->ok, "handshake failed: server %d (%s), client %d (%s)", o->srv_state,
              o->srv_err, o->cli_state, o->cli_err);
}

/* The handshake must fail; `side` ("server" or "client") is the one that refuses, and its
 * reason must hold `why` (NULL: any). */
static void expect_refused(const struct outcome *o, const char *side, const char *why)
{
    cr_assert_not(o->ok, "the handshake succeeded");
    bool server = !strcmp(side, "server");
    int state = server ? o->srv_state : o->cli_state;
    const char *reason = server ? o->srv_err : o->cli_err;
    cr_assert_eq(state, -1, "the %s did not refuse (server: %s; client: %s)", side, o->srv_err,
                 o->cli_err);
    if (why)
        cr_assert_not_null(strstr(reason, why), "the %s's reason '%s' lacks '%s'", side, reason,
                           why);
}

#define SERVER_OK settings("server.ks.pem", "ca.pem")
#define CLIENT_OK settings("client.ks.pem", "ca.pem")

/* ==== stores and contexts ==== */

TestSuite(ctx, .init = setup);

Test(ctx, pem_stores)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK, anon = settings(NULL, "ca.pem");
    SSL_CTX_free(server_ctx(&s));
    SSL_CTX_free(client_ctx(&c));
    SSL_CTX_free(client_ctx(&anon)); /* a client without a certificate */
    /* the key and the certificate in either order; a trust store file of several CAs */
    struct tls_settings s2 = settings("server-certfirst.ks.pem", "ca.pem");
    struct outcome o = handshake(&s2, &c);
    expect_ok(&o);
    cr_assert_str_eq(o.cli_subject, "CN=server");
}

Test(ctx, pkcs12_stores)
{
    struct tls_settings s, c;
    tls_settings_init(&s);
    tls_settings_init(&c);
    set_store(&s.key, "server.p12", "p12secret", NULL);
    set_store(&s.trust, "trust.p12", "trustsecret", NULL);
    set_store(&c.key, "client.p12", "p12secret", NULL);
    set_store(&c.trust, "trust.p12", "trustsecret", "PKCS12");
    struct outcome o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_str_eq(o.srv_subject, "CN=client,O=Example\\, Inc.,C=US");
    cr_assert_str_eq(o.cli_subject, "CN=server");
    /* the type by setting, whatever the file is called */
    set_store(&s.key, "server.store", "p12secret", "PKCS12");
    SSL_CTX_free(server_ctx(&s));
}

Test(ctx, pkcs12_wrong_password)
{
    struct tls_settings s = settings(NULL, "ca.pem");
    set_store(&s.key, "server.p12", "wrong", NULL);
    context_fails(&s, true, "ssl.", "ssl.keyStore", "server.p12");
    set_store(&s.key, "server.p12", "", NULL);
    context_fails(&s, true, "ssl.", "ssl.keyStore", NULL);
    struct tls_settings t = settings("server.ks.pem", NULL);
    set_store(&t.trust, "trust.p12", "wrong", NULL);
    context_fails(&t, true, "ssl.", "ssl.trustStore", "no certificate");
}

Test(ctx, encrypted_pem_key)
{
    struct tls_settings s = settings(NULL, "ca.pem");
    set_store(&s.key, "server-enc.ks.pem", "pemsecret", NULL);
    struct tls_settings c = CLIENT_OK;
    struct outcome o = handshake(&s, &c);
    expect_ok(&o);
    set_store(&s.key, "server-enc.ks.pem", "wrong", NULL);
    context_fails(&s, true, "ssl.", "ssl.keyStore", "wrong password");
    set_store(&s.key, "server-enc.ks.pem", "", NULL);
    context_fails(&s, true, "ssl.", "server-enc.ks.pem", "no private key");
}

Test(ctx, key_store_without_key_or_with_another_key)
{
    struct tls_settings s = settings("server-certonly.pem", "ca.pem");
    context_fails(&s, true, "ssl.", "server-certonly.pem", "no private key");
    s = settings("mismatch.ks.pem", "ca.pem");
    context_fails(&s, true, "ssl.", "mismatch.ks.pem", "with its certificate");
    s = settings("nope.pem", "ca.pem");
    context_fails(&s, true, "ssl.", "nope.pem", NULL);
    s = settings("garbage.pem", "ca.pem");
    context_fails(&s, true, "ssl.", "garbage.pem", NULL);
    /* a client's key store is checked as well */
    s = settings("mismatch.ks.pem", "ca.pem");
    context_fails(&s, false, "ssl.", "mismatch.ks.pem", NULL);
}

Test(ctx, trust_store_empty_missing_or_garbage)
{
    struct tls_settings s = settings("server.ks.pem", "empty.pem");
    context_fails(&s, true, "ssl.", "ssl.trustStore", "no certificate");
    s = settings("server.ks.pem", "garbage.pem");
    context_fails(&s, true, "ssl.", "garbage.pem", "no certificate");
    s = settings("server.ks.pem", "missing.pem");
    context_fails(&s, true, "ssl.", "missing.pem", NULL);
    s = settings("server.ks.pem", "empty.pem");
    context_fails(&s, false, "ssl.quorum.", "ssl.quorum.trustStore", NULL);
}

Test(ctx, jks_bcfks_and_unknown_types)
{
    struct tls_settings s = SERVER_OK;
    snprintf(s.key.type, sizeof s.key.type, "JKS");
    context_fails(&s, true, "ssl.", "ssl.keyStore", "JKS");
    s = SERVER_OK;
    snprintf(s.trust.type, sizeof s.trust.type, "bcfks");
    context_fails(&s, true, "ssl.", "ssl.trustStore", "BCFKS");
    s = settings("server.jks", "ca.pem");
    context_fails(&s, true, "ssl.", "server.jks", "PKCS12");
    s = settings("server.ks.pem", "truststore.JKS");
    context_fails(&s, true, "ssl.quorum.", "ssl.quorum.trustStore", "JKS");
    s = settings("server.ks.pem", "trust.bcfks");
    context_fails(&s, true, "ssl.", "BCFKS", NULL);
    s = SERVER_OK;
    snprintf(s.key.type, sizeof s.key.type, "PKCS11");
    context_fails(&s, true, "ssl.", "ssl.keyStore.type", "PKCS11");
    s = settings("server.store", "ca.pem");
    context_fails(&s, true, "ssl.", "ssl.keyStore.type", "does not tell");
    /* PEM named by type reads a PKCS12 file as PEM, and fails */
    s = settings("server.p12", "ca.pem");
    snprintf(s.key.type, sizeof s.key.type, "PEM");
    context_fails(&s, true, "ssl.", "server.p12", NULL);
}

Test(ctx, server_needs_key_store)
{
    struct tls_settings s = settings(NULL, "ca.pem");
    context_fails(&s, true, "ssl.", "ssl.keyStore.location", "required");
    context_fails(&s, true, "ssl.quorum.", "ssl.quorum.keyStore.location", NULL);
}

Test(ctx, store_types)
{
    static const struct {
        const char *location, *type, *want;
    } cases[] = {
        {"/a/b.pem", "", "PEM"},      {"/a/b.PEM", "", "PEM"},     {"/a/b.crt", "", "PEM"},
        {"/a/b.cer", "", "PEM"},      {"/a/b.key", "", "PEM"},     {"/a/b.p12", "", "PKCS12"},
        {"/a/b.pfx", "", "PKCS12"},   {"/a/b.jks", "", "JKS"},     {"/a/b.bcfks", "", "BCFKS"},
        {"/a/b", "", NULL},           {"/a/b.store", "", NULL},    {"", "", NULL},
        {"/a/b.jks", "pkcs12", "PKCS12"}, {"/a/b.p12", "Pem", "PEM"}, {"/a/b.pem", "jks", "JKS"},
        {"/a/b.pem", "PKCS11", NULL}, {"/a/pem", "", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct tls_store st = {0};
        snprintf(st.location, sizeof st.location, "%s", cases[i].location);
        snprintf(st.type, sizeof st.type, "%s", cases[i].type);
        const char *got = tls_store_type(&st);
        if (cases[i].want)
            cr_assert(got && !strcmp(got, cases[i].want), "%s type '%s': got %s, want %s",
                      cases[i].location, cases[i].type, got ? got : "NULL", cases[i].want);
        else
            cr_assert_null(got, "%s type '%s': got %s", cases[i].location, cases[i].type, got);
    }
}

Test(ctx, settings_check_protocols_and_suites)
{
    struct tls_settings s;
    tls_settings_init(&s);
    cr_assert_eq(tls_settings_check(&s, "ssl.", err, sizeof err), 0, "%s", err);
    static const char *const good[] = {"TLSv1.2", "TLSv1.3", "TLSv1.2,TLSv1.3", "TLSv1.3, TLSv1.2",
                                       "TLS", "TLSv1,TLSv1.1,TLSv1.2"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        tls_settings_init(&s);
        snprintf(s.enabled_protocols, sizeof s.enabled_protocols, "%s", good[i]);
        cr_assert_eq(tls_settings_check(&s, "ssl.", err, sizeof err), 0, "%s: %s", good[i], err);
    }
    tls_settings_init(&s);
    snprintf(s.enabled_protocols, sizeof s.enabled_protocols, "TLSv1.2,SSLv3");
    cr_assert_eq(tls_settings_check(&s, "ssl.", err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "ssl.enabledProtocols"), "%s", err);
    cr_assert_not_null(strstr(err, "SSLv3"), "%s", err);
    tls_settings_init(&s);
    snprintf(s.protocol, sizeof s.protocol, "TLSv1.4");
    cr_assert_eq(tls_settings_check(&s, "ssl.quorum.", err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "ssl.quorum.protocol"), "%s", err);
    /* ssl.enabledProtocols wins over ssl.protocol */
    snprintf(s.enabled_protocols, sizeof s.enabled_protocols, "TLSv1.3");
    cr_assert_eq(tls_settings_check(&s, "ssl.", err, sizeof err), 0, "%s", err);

    tls_settings_init(&s);
    snprintf(s.ciphersuites, sizeof s.ciphersuites,
             "TLS_NOT_A_SUITE, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    cr_assert_eq(tls_settings_check(&s, "ssl.", err, sizeof err), 0, "unknown names are skipped");
    snprintf(s.ciphersuites, sizeof s.ciphersuites, "TLS_NOT_A_SUITE,ECDHE-RSA-AES128-GCM-SHA256");
    cr_assert_eq(tls_settings_check(&s, "ssl.", err, sizeof err), -1,
                 "OpenSSL's own names are not IANA names");
    cr_assert_not_null(strstr(err, "ssl.ciphersuites"), "%s", err);
    cr_assert_not_null(strstr(err, "TLS_NOT_A_SUITE"), "%s", err);
}

Test(ctx, client_without_trust_store_uses_system_cas)
{
    /* As Java without a trust store: the system's CAs, which do not know the test CA. */
    struct tls_settings s = SERVER_OK, c = settings("client.ks.pem", NULL);
    struct outcome o = handshake(&s, &c);
    expect_refused(&o, "client", "certificate");
}

/* ==== protocols and cipher suites ==== */

TestSuite(proto, .init = setup);

Test(proto, default_is_tls13)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK;
    struct outcome o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_eq(o.version, TLS1_3_VERSION);
}

Test(proto, enabled_protocols_tls12_only)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK;
    snprintf(s.enabled_protocols, sizeof s.enabled_protocols, "TLSv1.2");
    struct outcome o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_eq(o.version, TLS1_2_VERSION);
    /* ssl.protocol alone, as ZooKeeper's SSLContextAndOptions, when enabledProtocols is unset */
    s = SERVER_OK;
    snprintf(s.protocol, sizeof s.protocol, "TLSv1.2");
    o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_eq(o.version, TLS1_2_VERSION);
    /* a client that only speaks TLS 1.3 cannot connect */
    s = SERVER_OK;
    snprintf(s.enabled_protocols, sizeof s.enabled_protocols, "TLSv1.2");
    snprintf(c.enabled_protocols, sizeof c.enabled_protocols, "TLSv1.3");
    o = handshake(&s, &c);
    cr_assert_not(o.ok);
    cr_assert_eq(o.srv_state, -1, "the server must refuse: %s", o.srv_err);
}

Test(proto, tls13_only_suite)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK;
    snprintf(s.ciphersuites, sizeof s.ciphersuites, "TLS_AES_256_GCM_SHA384");
    struct outcome o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_eq(o.version, TLS1_3_VERSION);
    cr_assert_str_eq(o.cipher, "TLS_AES_256_GCM_SHA384");
    snprintf(s.ciphersuites, sizeof s.ciphersuites, "TLS_CHACHA20_POLY1305_SHA256");
    o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_str_eq(o.cipher, "TLS_CHACHA20_POLY1305_SHA256");
    /* TLS 1.3 suites only, but TLS 1.2 only: nothing is left */
    snprintf(s.ciphersuites, sizeof s.ciphersuites, "TLS_AES_128_GCM_SHA256");
    snprintf(s.enabled_protocols, sizeof s.enabled_protocols, "TLSv1.2");
    context_fails(&s, true, "ssl.", "ssl.ciphersuites", "none of the enabled protocols");
}

Test(proto, tls12_suite_by_iana_name)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK;
    /* no TLS 1.3 suite named: TLS 1.2 only, with the suite named (the server's key is RSA) */
    snprintf(s.ciphersuites, sizeof s.ciphersuites, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    struct outcome o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_eq(o.version, TLS1_2_VERSION);
    cr_assert_str_eq(o.cipher, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    /* TLS 1.2 suites only and TLS 1.3 only: nothing is left */
    snprintf(s.enabled_protocols, sizeof s.enabled_protocols, "TLSv1.3");
    context_fails(&s, true, "ssl.", "ssl.ciphersuites", NULL);
}

Test(proto, unknown_suites_skipped)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK;
    snprintf(s.ciphersuites, sizeof s.ciphersuites,
             "TLS_BOGUS_WITH_NOTHING, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
             "SSL_RSA_WITH_RC4_128_MD5");
    struct outcome o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_str_eq(o.cipher, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    /* a mixed list allows both protocols, each with its suites */
    snprintf(s.ciphersuites, sizeof s.ciphersuites,
             "TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_str_eq(o.cipher, "TLS_AES_128_GCM_SHA256");
    snprintf(c.enabled_protocols, sizeof c.enabled_protocols, "TLSv1.2");
    o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_str_eq(o.cipher, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    /* a TLS 1.3-looking name OpenSSL does not know is skipped too */
    c = CLIENT_OK;
    snprintf(s.ciphersuites, sizeof s.ciphersuites, "TLS_AES_999_FAKE,TLS_AES_256_GCM_SHA384");
    o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_str_eq(o.cipher, "TLS_AES_256_GCM_SHA384");
}

Test(proto, no_known_suite)
{
    struct tls_settings s = SERVER_OK;
    snprintf(s.ciphersuites, sizeof s.ciphersuites, "TLS_BOGUS_1,NOT_EVEN_CLOSE");
    context_fails(&s, true, "ssl.", "ssl.ciphersuites", "TLS_BOGUS_1");
    context_fails(&s, false, "ssl.quorum.", "ssl.quorum.ciphersuites", NULL);
    snprintf(s.ciphersuites, sizeof s.ciphersuites, " , ");
    context_fails(&s, true, "ssl.", "ssl.ciphersuites", NULL);
    /* only unknown TLS 1.3-looking names: refused by the settings check already */
    snprintf(s.ciphersuites, sizeof s.ciphersuites, "TLS_AES_999_FAKE");
    context_fails(&s, true, "ssl.", "ssl.ciphersuites", "TLS_AES_999_FAKE");
    char err[512];
    cr_assert_eq(tls_settings_check(&s, "ssl.", err, sizeof err), -1);
    cr_assert(strstr(err, "TLS_AES_999_FAKE"), "%s", err);
}

/* ==== client authentication and trust ==== */

TestSuite(auth, .init = setup);

Test(auth, need)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK, anon = settings(NULL, "ca.pem");
    struct outcome o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_eq(o.srv_subject_rc, 0);
    cr_assert_str_eq(o.srv_subject, "CN=client,O=Example\\, Inc.,C=US");
    o = handshake(&s, &anon);
    expect_refused(&o, "server", "certificate");
}

Test(auth, want)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK, anon = settings(NULL, "ca.pem");
    s.client_auth = TLS_CLIENT_AUTH_WANT;
    struct outcome o = handshake(&s, &anon);
    expect_ok(&o);
    cr_assert_eq(o.srv_subject_rc, -1, "no certificate, no subject");
    o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_eq(o.srv_subject_rc, 0);
    cr_assert_str_eq(o.srv_subject, "CN=client,O=Example\\, Inc.,C=US");
    /* a certificate shown must still be a good one */
    struct tls_settings rogue = settings("rogue-client.ks.pem", "ca.pem");
    o = handshake(&s, &rogue);
    expect_refused(&o, "server", "certificate");
}

Test(auth, none)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK;
    s.client_auth = TLS_CLIENT_AUTH_NONE;
    struct outcome o = handshake(&s, &c);
    expect_ok(&o);
    cr_assert_eq(o.srv_subject_rc, -1, "the server did not ask for a certificate");
    struct tls_settings rogue = settings("rogue-client.ks.pem", "ca.pem");
    o = handshake(&s, &rogue);
    expect_ok(&o);
    cr_assert_eq(o.srv_subject_rc, -1);
}

Test(auth, quorum_always_needs_the_peer)
{
    struct tls_settings s = SERVER_OK, anon = settings(NULL, "ca.pem"), c = CLIENT_OK;
    s.client_auth = TLS_CLIENT_AUTH_NONE; /* refused by the config; ignored on the quorum */
    s.hostname_verification = false;
    struct outcome o = handshake_ex(&s, true, &anon, NULL, NULL);
    expect_refused(&o, "server", NULL);
    o = handshake_ex(&s, true, &c, NULL, NULL);
    expect_ok(&o);
    cr_assert_str_eq(o.srv_subject, "CN=client,O=Example\\, Inc.,C=US");
}

Test(auth, rogue_ca_refused_both_ways)
{
    /* the rogue CA has the test CA's name, not its key */
    struct tls_settings s = SERVER_OK, rogue_c = settings("rogue-client.ks.pem", "ca.pem");
    struct outcome o = handshake(&s, &rogue_c);
    expect_refused(&o, "server", "(certificate: ");
    struct tls_settings rogue_s = settings("rogue-server.ks.pem", "ca.pem"), c = CLIENT_OK;
    o = handshake(&rogue_s, &c);
    expect_refused(&o, "client", "(certificate: ");
    /* and a client that trusts only the rogue CA refuses the real server */
    struct tls_settings fooled = settings("client.ks.pem", "rogue-ca.pem");
    o = handshake(&s, &fooled);
    expect_refused(&o, "client", "certificate");
}

Test(auth, expired_refused_both_ways)
{
    struct tls_settings s = SERVER_OK, exp_c = settings("expired.ks.pem", "ca.pem");
    struct outcome o = handshake(&s, &exp_c);
    expect_refused(&o, "server", "certificate has expired");
    struct tls_settings exp_s = settings("expired.ks.pem", "ca.pem"), c = CLIENT_OK;
    o = handshake(&exp_s, &c);
    expect_refused(&o, "client", "certificate has expired");
}

Test(auth, trust_store_of_the_leaf_only)
{
    /* As Java's trust managers: any certificate of the trust store is an anchor. */
    struct tls_settings s = SERVER_OK, c = settings("client.ks.pem", "server.pem");
    struct outcome o = handshake(&s, &c);
    expect_ok(&o);
}

/* ==== host name verification ==== */

TestSuite(hostname, .init = setup);

Test(hostname, client_checks_the_server)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK;
    struct outcome o = handshake_ex(&s, false, &c, "127.0.0.1", NULL);
    expect_ok(&o);
    o = handshake_ex(&s, false, &c, "localhost", NULL);
    expect_ok(&o);
    o = handshake_ex(&s, false, &c, "127.0.0.2", NULL);
    expect_refused(&o, "client", "IP address mismatch");
    o = handshake_ex(&s, false, &c, "::1", NULL);
    expect_refused(&o, "client", "IP address mismatch");
    o = handshake_ex(&s, false, &c, "zk1.example.com", NULL);
    expect_refused(&o, "client", "hostname mismatch");
    /* the CN is not a DNS name when SANs exist: "server" does not match */
    o = handshake_ex(&s, false, &c, "server", NULL);
    expect_refused(&o, "client", "hostname mismatch");
}

Test(hostname, disabled)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK;
    c.hostname_verification = false;
    struct outcome o = handshake_ex(&s, false, &c, "127.0.0.2", NULL);
    expect_ok(&o);
    o = handshake_ex(&s, true, &c, "zk9.example.com", NULL);
    expect_ok(&o);
}

Test(hostname, quorum_client_checks_the_server)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK;
    s.hostname_verification = false; /* only the connecting side is under test */
    struct outcome o = handshake_ex(&s, true, &c, "127.0.0.1", NULL);
    expect_ok(&o);
    o = handshake_ex(&s, true, &c, "10.1.2.3", NULL);
    expect_refused(&o, "client", "IP address mismatch");
}

Test(hostname, server_checks_clients_only_when_asked)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK, nosan = settings("nosan.ks.pem", "ca.pem");
    /* the client port: ZooKeeper does not verify a client's name by default */
    struct outcome o = handshake_ex(&s, false, &nosan, NULL, "127.0.0.1");
    expect_ok(&o);
    o = handshake_ex(&s, false, &c, NULL, "10.9.9.9");
    expect_ok(&o);
    /* ssl.clientHostnameVerification=true */
    s.client_hostname_verification = 1;
    o = handshake_ex(&s, false, &c, NULL, "127.0.0.1");
    expect_ok(&o);
    o = handshake_ex(&s, false, &c, NULL, "10.9.9.9");
    expect_refused(&o, "server", "IP address mismatch");
    o = handshake_ex(&s, false, &nosan, NULL, "127.0.0.1");
    expect_refused(&o, "server", "IP address mismatch");
    /* ...but not when host name verification is off altogether */
    s.hostname_verification = false;
    o = handshake_ex(&s, false, &nosan, NULL, "127.0.0.1");
    expect_ok(&o);
}

Test(hostname, quorum_server_checks_the_learner)
{
    struct tls_settings s = SERVER_OK, c = CLIENT_OK, nosan = settings("nosan.ks.pem", "ca.pem");
    c.hostname_verification = false; /* only the accepting side is under test */
    nosan.hostname_verification = false;
    struct outcome o = handshake_ex(&s, true, &c, NULL, "127.0.0.1");
    expect_ok(&o);
    o = handshake_ex(&s, true, &nosan, NULL, "127.0.0.1");
    expect_refused(&o, "server", "IP address mismatch");
    o = handshake_ex(&s, true, &c, NULL, "192.168.0.1");
    expect_refused(&o, "server", "IP address mismatch");
    /* ssl.quorum.clientHostnameVerification=false */
    s.client_hostname_verification = 0;
    o = handshake_ex(&s, true, &nosan, NULL, "127.0.0.1");
    expect_ok(&o);
}

/* ==== subjects as Java prints them ==== */

static const struct subject_case {
    const char *cert;      /* NAME: NAME.pem, NAME.ks.pem */
    const char *java;      /* getSubjectX500Principal().getName(), Java 17 */
    const char *ours;      /* NULL: zabkeeper prints what Java does; else what it prints */
} subjects[] = {
    {"client", "CN=client,O=Example\\, Inc.,C=US", NULL},
    {"server", "CN=server", NULL},
    {"subj-email", "1.2.840.113549.1.9.1=#1612636c69656e74406578616d706c652e636f6d,CN=client",
     NULL},
    {"subj-escape", "OU=\\#lead,CN=a\\=b\\#c", NULL},
    {"subj-special", "CN=x/y\\;z\\<\\>\\\"q\\\\", NULL},
    {"subj-plus", "OU=a\\+b\\,c", NULL},
    {"subj-space1", "O=a b,CN=\\ one\\ ", NULL},
    {"subj-keywords",
     "UID=u7,CN=all,OU=Unit,O=Org,STREET=Main St 1,L=Munich,ST=Bayern,C=DE,DC=example,DC=org",
     NULL},
    {"subj-oids",
     "CN=x,2.5.4.4=#0c034c6565,2.5.4.42=#0c03416e6e,2.5.4.12=#0c04426f7373,2.5.4.5=#1303313233",
     NULL},
    {"subj-utf8", "O=\xe6\x97\xa5\xe6\x9c\xac,CN=Gr\xc3\xbc\xc3\x9f" "e", NULL},
    /* a multi-valued RDN: Java keeps the order of the encoded SET (DER order) */
    {"subj-multi", "CN=alice+UID=a1,O=Org", NULL},
    {"subj-multi3", "CN=a+O=c+OU=b", NULL},
    /* Java escapes every leading and trailing space (and carriage return), not only one */
    {"subj-space2", "L=\\ \\ \\ ,O=trail\\ \\ ,CN=\\ \\ two lead", NULL},
    {"subj-cr", "CN=\\\rcr\\\r", NULL},
    /* T61String and BMPString values: Java 17 decodes their bytes as UTF-8 (U+FFFD for what
     * is not UTF-8), where OpenSSL converts them properly. Not followed: an x509 ACL with
     * U+FFFD in it is not one an operator writes; such certificates are rare (openssl's
     * default string_mask makes UTF8Strings) */
    {"subj-legacy", "OU=abc,O=e\xef\xbf\xbdg\\,,CN=Gr\xef\xbf\xbd\xef\xbf\xbd" "e",
     "OU=abc,O=\xe6\x97\xa5\xe6\x9c\xac,CN=Gr\xc3\xbc\xc3\x9f" "e"},
};
#define N_SUBJECTS (sizeof subjects / sizeof *subjects)

/* The subject zabkeeper gives a client that shows NAME.ks.pem; rc as tls_peer_subject's. */
static int subject_of(const char *name, char *out, size_t n)
{
    struct tls_settings s = SERVER_OK;
    char ks[128];
    snprintf(ks, sizeof ks, "%s.ks.pem", name);
    struct tls_settings c = settings(ks, "ca.pem");
    if (!strcmp(name, "server")) { /* the server's own: as the client sees it */
        c = CLIENT_OK;
        struct outcome o = handshake(&s, &c);
        expect_ok(&o);
        snprintf(out, n, "%s", o.cli_subject);
        return o.cli_subject_rc;
    }
    SSL_CTX *sctx = server_ctx(&s), *cctx = client_ctx(&c);
    struct hs h;
    hs_init(&h, sctx, cctx);
    cr_assert(hs_run(&h), "%s: handshake failed: %s / %s", name, h.srv_err, h.cli_err);
    int rc = tls_peer_subject(h.srv, out, n);
    hs_free(&h);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    return rc;
}

static void escape_for_message(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < n; p++)
        o += (size_t)(*p >= 0x20 && *p < 0x7f ? snprintf(out + o, n - o, "%c", *p)
                                             : snprintf(out + o, n - o, "\\x%02x", *p));
    out[o] = '\0';
}

static const char *expected(const struct subject_case *c) { return c->ours ? c->ours : c->java; }

static void check_subjects(void)
{
    for (size_t i = 0; i < N_SUBJECTS; i++) {
        char got[TLS_DN_MAX], a[2 * TLS_DN_MAX], b[2 * TLS_DN_MAX];
        cr_assert_eq(subject_of(subjects[i].cert, got, sizeof got), 0, "%s", subjects[i].cert);
        escape_for_message(got, a, sizeof a);
        escape_for_message(expected(&subjects[i]), b, sizeof b);
        cr_expect_str_eq(got, expected(&subjects[i]), "%s: zabkeeper '%s', expected '%s'",
                         subjects[i].cert, a, b);
    }
}

TestSuite(subject, .init = setup);

Test(subject, as_java_prints_them) { check_subjects(); }

Test(subject, buffer_too_small)
{
    char small[12];
    cr_assert_eq(subject_of("client", small, sizeof small), -1);
    char exact[sizeof "CN=server"];
    cr_assert_eq(subject_of("server", exact, sizeof exact), 0);
    cr_assert_str_eq(exact, "CN=server");
}

/* ==== Java itself: the reference strings, and stores Java writes ==== */

/* Wait for the background JavaReference run; skip when java is not installed. */
static void wait_for_java(void)
{
    if (!file_exists(P("java.log")))
        cr_skip_test("java is not installed: the Java reference is not checked");
    for (int i = 0; i < 1200 && !file_exists(P("java.rc")); i++)
        usleep(100000);
    FILE *f = fopen(P("java.rc"), "r");
    cr_assert_not_null(f, "java did not finish in 2 minutes");
    int rc = -1;
    cr_assert_eq(fscanf(f, "%d", &rc), 1);
    fclose(f);
    cr_assert_eq(rc, 0, "JavaReference.java failed: see %s", P("java.log"));
}

static int hexval(int c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

/* zjava: after the other suites, so that java has had time to start. */
TestSuite(zjava, .init = setup, .timeout = 180);

Test(zjava, reference_strings_are_javas)
{
    wait_for_java();
    FILE *f = fopen(P("java-names.txt"), "r");
    cr_assert_not_null(f);
    char line[4 * TLS_DN_MAX];
    size_t seen = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab);
        *tab = '\0';
        char name[TLS_DN_MAX] = "";
        size_t n = 0;
        for (char *h = tab + 1; h[0] && h[1] && h[0] != '\n' && n + 1 < sizeof name; h += 2)
            name[n++] = (char)(hexval(h[0]) << 4 | hexval(h[1]));
        name[n] = '\0';
        const struct subject_case *c = NULL;
        for (size_t i = 0; i < N_SUBJECTS; i++) {
            char file[128];
            snprintf(file, sizeof file, "%s.pem", subjects[i].cert);
            if (!strcmp(file, line))
                c = &subjects[i];
        }
        cr_assert_not_null(c, "java named %s, which the table lacks", line);
        char a[2 * TLS_DN_MAX], b[2 * TLS_DN_MAX];
        escape_for_message(name, a, sizeof a);
        escape_for_message(c->java, b, sizeof b);
        cr_expect_str_eq(name, c->java, "%s: Java prints '%s', the table says '%s'", line, a, b);
        /* and zabkeeper agrees with Java, except where the table says why not */
        char ours[TLS_DN_MAX];
        cr_assert_eq(subject_of(c->cert, ours, sizeof ours), 0);
        if (!c->ours)
            cr_expect_str_eq(ours, name, "%s: zabkeeper disagrees with Java", line);
        seen++;
    }
    fclose(f);
    cr_assert_eq(seen, N_SUBJECTS, "java printed %zu names of %zu", seen, N_SUBJECTS);
}

Test(zjava, stores_written_by_java)
{
    wait_for_java();
    /* java-trust.p12: a trusted-certificate entry, as keytool -importcert writes it;
     * java-server.p12: a private key entry, as keytool writes key stores */
    struct tls_settings s, c = settings("client.ks.pem", NULL);
    tls_settings_init(&s);
    set_store(&s.key, "java-server.p12", "p12secret", NULL);
    set_store(&s.trust, "java-trust.p12", "trustsecret", NULL);
    set_store(&c.trust, "java-trust.p12", "trustsecret", NULL);
    struct outcome o = handshake_ex(&s, false, &c, "127.0.0.1", NULL);
    expect_ok(&o);
    cr_assert_str_eq(o.srv_subject, "CN=client,O=Example\\, Inc.,C=US");
    cr_assert_str_eq(o.cli_subject, "CN=server");
    set_store(&s.trust, "java-trust.p12", "wrong", NULL);
    context_fails(&s, true, "ssl.", "ssl.trustStore", NULL);
}

/* ==== errors, stamps, secrets ==== */

TestSuite(misc, .init = setup);

Test(misc, describe_error)
{
    char out[512];
    ERR_clear_error();
    tls_describe_error(NULL, 0, out, sizeof out);
    cr_assert_str_eq(out, "the connection ended during the handshake");
    /* a failed handshake: OpenSSL's error, then the certificate's verify result */
    struct tls_settings s = SERVER_OK, c = settings("expired.ks.pem", "ca.pem");
    struct outcome o = handshake(&s, &c);
    expect_refused(&o, "server", NULL);
    cr_assert_not_null(strstr(o.srv_err, "certificate verify failed"), "%s", o.srv_err);
    cr_assert_not_null(strstr(o.srv_err, "(certificate: certificate has expired)"), "%s",
                       o.srv_err);
    /* the other side learns it from the alert (TLS 1.2: before its handshake ends) */
    snprintf(s.enabled_protocols, sizeof s.enabled_protocols, "TLSv1.2");
    o = handshake(&s, &c);
    cr_assert_eq(o.srv_state, -1);
    cr_assert_eq(o.cli_state, -1);
    cr_assert_not_null(strstr(o.cli_err, "alert"), "%s", o.cli_err);
    /* an explicit error code is described, whatever OpenSSL's queue holds */
    unsigned long code = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED);
    tls_describe_error(NULL, code, out, sizeof out);
    cr_assert_not_null(strstr(out, "certificate verify failed"), "%s", out);
    /* a small buffer is not overrun */
    char tiny[10];
    memset(tiny, 'x', sizeof tiny);
    tls_describe_error(NULL, code, tiny, sizeof tiny);
    cr_assert_eq(strlen(tiny), sizeof tiny - 1);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

Test(misc, stores_stamp)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/stamp-XXXXXX", pki());
    cr_assert_not_null(mkdtemp(dir));
    char key[480], trust[480];
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(trust, sizeof trust, "%s/trust.pem", dir);
    struct tls_settings s;
    tls_settings_init(&s);
    char a[256], b[256];
    tls_stores_stamp(&s, a, sizeof a);
    cr_assert_str_eq(a, "", "no stores, no stamp");
    snprintf(s.key.location, sizeof s.key.location, "%s", key);
    snprintf(s.trust.location, sizeof s.trust.location, "%s", trust);
    tls_stores_stamp(&s, a, sizeof a);
    cr_assert_str_eq(a, "", "missing files are skipped");
    write_text(key, "one");
    write_text(trust, "two");
    tls_stores_stamp(&s, a, sizeof a);
    tls_stores_stamp(&s, b, sizeof b);
    cr_assert_neq(a[0], '\0');
    cr_assert_str_eq(a, b, "unchanged files, same stamp");
    /* a rotated store: a new file (new inode) of the same size, or new content */
    char tmp[800];
    snprintf(tmp, sizeof tmp, "%s.new", key);
    write_text(tmp, "uno");
    cr_assert_eq(rename(tmp, key), 0);
    tls_stores_stamp(&s, b, sizeof b);
    cr_assert_str_neq(a, b, "a replaced key store changes the stamp");
    tls_stores_stamp(&s, a, sizeof a);
    write_text(trust, "twotwo");
    tls_stores_stamp(&s, b, sizeof b);
    cr_assert_str_neq(a, b, "a rewritten trust store changes the stamp");
    /* a small buffer is not overrun */
    char tiny[8];
    tls_stores_stamp(&s, tiny, sizeof tiny);
    cr_assert_lt(strlen(tiny), sizeof tiny);
    unlink(key);
    unlink(trust);
    rmdir(dir);
}

Test(misc, read_secret)
{
    char path[700];
    snprintf(path, sizeof path, "%s/secret-%d", pki(), (int)getpid());
    char out[16];
    write_text(path, "pa ss\r\n\n\n");
    cr_assert_eq(tls_read_secret(path, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out, "pa ss", "trailing line ends dropped, inner space kept");
    write_text(path, " lead\ttab ");
    cr_assert_eq(tls_read_secret(path, out, sizeof out, err, sizeof err), 0);
    cr_assert_str_eq(out, " lead\ttab ", "spaces are part of a password");
    write_text(path, "");
    cr_assert_eq(tls_read_secret(path, out, sizeof out, err, sizeof err), 0);
    cr_assert_str_eq(out, "");
    write_text(path, "123456789012345"); /* 15 bytes: fits 16 with its NUL */
    cr_assert_eq(tls_read_secret(path, out, sizeof out, err, sizeof err), 0);
    cr_assert_str_eq(out, "123456789012345");
    write_text(path, "1234567890123456");
    cr_assert_eq(tls_read_secret(path, out, sizeof out, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, path), "%s", err);
    unlink(path);
    cr_assert_eq(tls_read_secret(path, out, sizeof out, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, path), "%s", err);
}
