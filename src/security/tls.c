/* TLS contexts from ZooKeeper's ssl settings (see tls.h). */
#include "security/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/log.h"

void tls_settings_init(struct tls_settings *s)
{
    memset(s, 0, sizeof *s);
    s->client_auth = TLS_CLIENT_AUTH_NEED; /* ZooKeeper's default when ssl.clientAuth is unset */
    s->hostname_verification = true;
    s->client_hostname_verification = -1;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

const char *tls_store_type(const struct tls_store *st)
{
    static const char *const types[] = {"PEM", "PKCS12", "JKS", "BCFKS"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcasecmp(st->type, types[i]))
            return types[i];
    if (st->type[0])
        return NULL;
    /* KeyStoreFileType.fromFilename */
    if (ends_with(st->location, ".pem") || ends_with(st->location, ".crt") ||
        ends_with(st->location, ".cer") || ends_with(st->location, ".key"))
        return "PEM";
    if (ends_with(st->location, ".p12") || ends_with(st->location, ".pfx"))
        return "PKCS12";
    if (ends_with(st->location, ".jks"))
        return "JKS";
    if (ends_with(st->location, ".bcfks"))
        return "BCFKS";
    return NULL;
}

static int check_store(const struct tls_store *st, const char *name, char *err, size_t n)
{
    if (!st->location[0])
        return 0;
    const char *type = tls_store_type(st);
    if (!type) {
        snprintf(err, n, "%s.type: '%s' is not a store type zabkeeper reads (PEM or PKCS12), "
                 "and the file name %s does not tell", name, st->type, st->location);
        return -1;
    }
    if (!strcmp(type, "JKS") || !strcmp(type, "BCFKS")) {
        snprintf(err, n, "%s (%s) is a %s store, which zabkeeper cannot read: convert it to "
                 "PKCS12 (keytool -importkeystore -deststoretype PKCS12) or PEM", name,
                 st->location, type);
        return -1;
    }
    return 0;
}

/* ---- protocols ---- */

static int protocol_version(const char *name)
{
    static const struct { const char *name; int version; } map[] = {
        {"TLSv1", TLS1_VERSION},     {"TLSv1.1", TLS1_1_VERSION},
        {"TLSv1.2", TLS1_2_VERSION}, {"TLSv1.3", TLS1_3_VERSION},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(name, map[i].name))
            return map[i].version;
    return 0;
}

/* The versions allowed, as a range: ssl.enabledProtocols, else ssl.protocol alone (as
 * ZooKeeper's SSLContextAndOptions), else TLSv1.2 and TLSv1.3. "TLS" means 1.2 and up. */
static int protocol_range(const struct tls_settings *s, int *lo, int *hi, char *err, size_t n,
                          const char *prefix)
{
    const char *list = s->enabled_protocols[0] ? s->enabled_protocols : s->protocol;
    *lo = *hi = 0;
    if (!list[0] || !strcmp(list, "TLS")) {
        *lo = TLS1_2_VERSION;
        *hi = TLS1_3_VERSION;
        return 0;
    }
    char copy[sizeof s->enabled_protocols];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *tok = strtok_r(copy, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        int v = protocol_version(tok);
        if (!v) {
            snprintf(err, n, "%s%s: unknown TLS protocol '%s' (TLSv1.2 or TLSv1.3)", prefix,
                     s->enabled_protocols[0] ? "enabledProtocols" : "protocol", tok);
            return -1;
        }
        *lo = *lo && *lo < v ? *lo : v;
        *hi = *hi > v ? *hi : v;
    }
    if (!*lo) {
        snprintf(err, n, "%senabledProtocols names no protocol", prefix);
        return -1;
    }
    return 0;
}

/* ---- cipher suites: Java names them as IANA does; OpenSSL has its own names for TLS 1.2 ---- */

static bool is_tls13_suite(const char *name)
{
    return !strncmp(name, "TLS_AES_", 8) || !strncmp(name, "TLS_CHACHA20_", 13);
}

/* A TLS 1.3 suite name OpenSSL knows (its names are the IANA ones), or NULL. */
static const char *known_tls13_suite(const char *name)
{
    SSL_CTX *probe = SSL_CTX_new(TLS_method());
    bool known = probe && SSL_CTX_set_ciphersuites(probe, name) == 1;
    SSL_CTX_free(probe);
    ERR_clear_error();
    return known ? name : NULL;
}

static const char *openssl_name(STACK_OF(SSL_CIPHER) *all, const char *iana)
{
    for (int i = 0; i < sk_SSL_CIPHER_num(all); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(all, i);
        const char *std = SSL_CIPHER_standard_name(c);
        if (std && !strcmp(std, iana))
            return SSL_CIPHER_get_name(c);
    }
    return NULL;
}

static void list_append(char *list, size_t size, const char *item)
{
    size_t len = strlen(list);
    snprintf(list + len, size - len, "%s%s", len ? ":" : "", item);
}

/* Split ssl.ciphersuites into OpenSSL's TLS 1.2 cipher list and TLS 1.3 suite list. Names
 * OpenSSL does not know are logged and skipped, as Netty does; none known is an error. */
static int map_ciphersuites(const char *iana_list, char *v12, char *v13, size_t size,
                            const char *prefix, char *err, size_t n)
{
    v12[0] = v13[0] = '\0';
    SSL_CTX *probe = SSL_CTX_new(TLS_method());
    if (!probe || SSL_CTX_set_cipher_list(probe, "ALL:COMPLEMENTOFALL") != 1) {
        SSL_CTX_free(probe);
        snprintf(err, n, "OpenSSL cannot list its cipher suites");
        return -1;
    }
    STACK_OF(SSL_CIPHER) *all = SSL_CTX_get_ciphers(probe);
    char copy[TLS_LIST_MAX];
    snprintf(copy, sizeof copy, "%s", iana_list);
    for (char *save = NULL, *tok = strtok_r(copy, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        const char *name = is_tls13_suite(tok) ? known_tls13_suite(tok) : openssl_name(all, tok);
        if (!name)
            ZK_WARN("%sciphersuites: %s is not known to OpenSSL; skipped", prefix, tok);
        else
            list_append(is_tls13_suite(tok) ? v13 : v12, size, name);
    }
    SSL_CTX_free(probe);
    if (!v12[0] && !v13[0]) {
        snprintf(err, n, "%sciphersuites: none of '%s' is a cipher suite OpenSSL knows", prefix,
                 iana_list);
        return -1;
    }
    return 0;
}

/* The protocol range and cipher lists the settings ask for, clamped to what the suite list
 * allows: no TLS 1.3 suite named means no TLS 1.3, and the other way round. */
struct versions {
    int lo, hi;
    char v12[TLS_LIST_MAX], v13[TLS_LIST_MAX];
};

static int effective_versions(const struct tls_settings *s, const char *prefix,
                              struct versions *v, char *err, size_t n)
{
    v->v12[0] = v->v13[0] = '\0';
    if (protocol_range(s, &v->lo, &v->hi, err, n, prefix) != 0)
        return -1;
    if (!s->ciphersuites[0])
        return 0;
    if (map_ciphersuites(s->ciphersuites, v->v12, v->v13, sizeof v->v12, prefix, err, n) != 0)
        return -1;
    if (!v->v13[0] && v->hi == TLS1_3_VERSION)
        v->hi = TLS1_2_VERSION;
    if (!v->v12[0] && v->lo < TLS1_3_VERSION)
        v->lo = TLS1_3_VERSION;
    if (v->lo > v->hi) {
        snprintf(err, n, "%sciphersuites allows none of the enabled protocols", prefix);
        return -1;
    }
    return 0;
}

int tls_settings_check(const struct tls_settings *s, const char *prefix, char *err, size_t n)
{
    char name[64];
    snprintf(name, sizeof name, "%skeyStore", prefix);
    if (check_store(&s->key, name, err, n) != 0)
        return -1;
    snprintf(name, sizeof name, "%strustStore", prefix);
    if (check_store(&s->trust, name, err, n) != 0)
        return -1;
    struct versions v;
    return effective_versions(s, prefix, &v, err, n);
}

/* ---- loading stores ---- */

static int pem_password(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pw = u;
    int len = (int)strlen(pw);
    if (len > size)
        return -1;
    memcpy(buf, pw, (size_t)len);
    return len;
}

static void openssl_reason(char *out, size_t n)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, out, n);
    else
        snprintf(out, n, "%s", "no detail from OpenSSL");
    ERR_clear_error();
}

/* Every certificate in a PEM file, in order (other blocks, such as the key, are skipped). */
static STACK_OF(X509) *read_pem_certs(const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    STACK_OF(X509) *certs = bio ? sk_X509_new_null() : NULL;
    if (!certs) {
        BIO_free(bio);
        return NULL;
    }
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error(); /* the end of the file reads as "no start line" */
    BIO_free(bio);
    return certs;
}

static EVP_PKEY *read_pem_key(const char *path, const char *password)
{
    BIO *bio = BIO_new_file(path, "r");
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, pem_password, (void *)password) : NULL;
    BIO_free(bio);
    return key;
}

static int read_pkcs12(const char *path, const char *password, EVP_PKEY **key, X509 **cert,
                       STACK_OF(X509) **others)
{
    BIO *bio = BIO_new_file(path, "rb");
    PKCS12 *p12 = bio ? d2i_PKCS12_bio(bio, NULL) : NULL;
    BIO_free(bio);
    int ok = p12 && PKCS12_parse(p12, password, key, cert, others) == 1;
    PKCS12_free(p12);
    return ok ? 0 : -1;
}

/* The key store: our private key, the certificate that goes with it, and the rest of the chain
 * (a PEM key store holds them in one file, as ZooKeeper's PEMFileLoader reads it). */
static int use_key_store(SSL_CTX *ctx, const struct tls_store *st, const char *name, char *err,
                         size_t n)
{
    EVP_PKEY *key = NULL;
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    char why[256];
    int rc = -1;
    if (!strcmp(tls_store_type(st), "PKCS12")) {
        if (read_pkcs12(st->location, st->password, &key, &leaf, &chain) != 0)
            goto fail;
    } else {
        key = read_pem_key(st->location, st->password);
        chain = key ? read_pem_certs(st->location) : NULL;
        for (int i = 0; chain && i < sk_X509_num(chain); i++) {
            if (X509_check_private_key(sk_X509_value(chain, i), key) == 1) {
                leaf = sk_X509_delete(chain, i);
                break;
            }
        }
        ERR_clear_error();
    }
    if (!key || !leaf) {
        snprintf(err, n, "%s %s: no private key%s", name, st->location,
                 key ? " with its certificate" : " could be read (wrong password?)");
        goto done;
    }
    if (SSL_CTX_use_cert_and_key(ctx, leaf, key, chain, 1) != 1)
        goto fail;
    rc = 0;
    goto done;
fail:
    openssl_reason(why, sizeof why);
    snprintf(err, n, "%s %s cannot be read: %s", name, st->location, why);
done:
    EVP_PKEY_free(key);
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

/* The trust store: the certificates a peer's chain must lead to. As Java's trust managers, any
 * certificate in it is an anchor, a root or not (X509_V_FLAG_PARTIAL_CHAIN). */
static int use_trust_store(SSL_CTX *ctx, const struct tls_store *st, const char *name, char *err,
                           size_t n)
{
    STACK_OF(X509) *certs = NULL;
    if (!strcmp(tls_store_type(st), "PKCS12")) {
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        if (read_pkcs12(st->location, st->password, &key, &cert, &certs) == 0 && cert) {
            if (!certs)
                certs = sk_X509_new_null();
            if (!certs || !sk_X509_push(certs, cert))
                X509_free(cert);
        } else {
            X509_free(cert);
        }
        EVP_PKEY_free(key);
    } else {
        certs = read_pem_certs(st->location);
    }
    int count = certs ? sk_X509_num(certs) : 0;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    for (int i = 0; i < count; i++)
        X509_STORE_add_cert(store, sk_X509_value(certs, i));
    sk_X509_pop_free(certs, X509_free);
    if (count == 0) {
        char why[256];
        openssl_reason(why, sizeof why);
        snprintf(err, n, "%s %s holds no certificate that can be read (%s)", name, st->location,
                 why);
        return -1;
    }
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    return 0;
}

/* ---- contexts ---- */

static int set_versions(SSL_CTX *ctx, const struct tls_settings *s, const char *prefix,
                        char *err, size_t n)
{
    struct versions v;
    if (effective_versions(s, prefix, &v, err, n) != 0)
        return -1;
    if (s->ciphersuites[0] &&
        ((v.v12[0] && SSL_CTX_set_cipher_list(ctx, v.v12) != 1) ||
         SSL_CTX_set_ciphersuites(ctx, v.v13) != 1)) {
        snprintf(err, n, "%sciphersuites: OpenSSL refused the list", prefix);
        return -1;
    }
    if (SSL_CTX_set_min_proto_version(ctx, v.lo) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, v.hi) != 1) {
        snprintf(err, n, "%sprotocol: OpenSSL refused the protocol range", prefix);
        return -1;
    }
    return 0;
}

static int verify_mode(const struct tls_settings *s, bool server, bool quorum)
{
    if (!server || quorum)
        return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    switch (s->client_auth) {
    case TLS_CLIENT_AUTH_NONE:
        return SSL_VERIFY_NONE;
    case TLS_CLIENT_AUTH_WANT:
        return SSL_VERIFY_PEER;
    case TLS_CLIENT_AUTH_NEED:
        break;
    }
    return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
}

SSL_CTX *tls_context_new(const struct tls_settings *s, const char *prefix, bool server,
                         bool quorum, char *err, size_t n)
{
    if (tls_settings_check(s, prefix, err, n) != 0)
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        snprintf(err, n, "OpenSSL cannot create a TLS context");
        return NULL;
    }
    /* Renegotiation is refused, as ZooKeeper sets jdk.tls.rejectClientInitiatedRenegotiation. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    char name[64];
    snprintf(name, sizeof name, "%skeyStore", prefix);
    bool have_key = s->key.location[0];
    if (server && !have_key) {
        snprintf(err, n, "%skeyStore.location is required to serve TLS", prefix);
        goto fail;
    }
    if (have_key && use_key_store(ctx, &s->key, name, err, n) != 0)
        goto fail;
    snprintf(name, sizeof name, "%strustStore", prefix);
    if (s->trust.location[0]) {
        if (use_trust_store(ctx, &s->trust, name, err, n) != 0)
            goto fail;
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        /* As Java without a trust store: the system's CAs (docs/security.md says why not to). */
        snprintf(err, n, "%strustStore.location is not set and the system CAs cannot be read",
                 prefix);
        goto fail;
    }
    if (set_versions(ctx, s, prefix, err, n) != 0)
        goto fail;
    SSL_CTX_set_verify(ctx, verify_mode(s, server, quorum), NULL);
    if (server) {
        static const unsigned char sid[] = "zabkeeper";
        SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_expect_peer_name(SSL *ssl, const struct tls_settings *s, bool server, bool quorum,
                         const char *host)
{
    if (!s->hostname_verification)
        return 0;
    /* ZooKeeper verifies a client's address only on the quorum (shouldVerifyClientHostname),
     * unless ssl.clientHostnameVerification says otherwise. */
    bool check = !server || (s->client_hostname_verification < 0
                                 ? quorum : s->client_hostname_verification > 0);
    if (!check)
        return 0;
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    unsigned char addr[16];
    bool literal = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                     : X509_VERIFY_PARAM_set1_host(param, host, 0);
    return ok == 1 ? 0 : -1;
}

bool tls_error_is_tls(unsigned long err)
{
    /* libevent reports a socket error (refused, reset) as SSL_ERROR_SYSCALL in place of an
     * OpenSSL error code: library 0 */
    return err && ERR_GET_LIB(err) != 0;
}

void tls_describe_error(SSL *ssl, unsigned long err, char *out, size_t n)
{
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    char why[256];
    if (!err)
        err = ERR_peek_last_error();
    ERR_clear_error();
    if (tls_error_is_tls(err))
        ERR_error_string_n(err, why, sizeof why);
    else
        snprintf(why, sizeof why, "the connection ended during the handshake");
    if (verify != X509_V_OK)
        snprintf(out, n, "%s (certificate: %s)", why, X509_verify_cert_error_string(verify));
    else
        snprintf(out, n, "%s", why);
}

void tls_stores_stamp(const struct tls_settings *s, char *out, size_t n)
{
    const char *paths[2] = {s->key.location, s->trust.location};
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < 2 && used < n; i++) {
        struct stat sb;
        if (!paths[i][0] || stat(paths[i], &sb) != 0)
            continue;
        int w = snprintf(out + used, n - used, "%lld.%ld.%lld.%llu;", (long long)sb.st_mtim.tv_sec,
                         sb.st_mtim.tv_nsec, (long long)sb.st_size, (unsigned long long)sb.st_ino);
        used += w > 0 ? (size_t)w : 0;
    }
}

int tls_read_secret(const char *path, char *out, size_t size, char *err, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "cannot read the password file %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = fread(out, 1, size - 1, f);
    bool bad = ferror(f) || fgetc(f) != EOF;
    fclose(f);
    if (bad) {
        snprintf(err, n, "the password file %s cannot be read or is over %zu bytes", path, size - 1);
        return -1;
    }
    out[len] = '\0';
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        out[--len] = '\0';
    return 0;
}
