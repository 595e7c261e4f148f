/* TLS as ZooKeeper configures it (X509Util, ClientX509Util, QuorumX509Util), on OpenSSL: the
 * settings of one `ssl.` or `ssl.quorum.` family, the SSL_CTX built from them (PEM or PKCS12
 * stores, protocols, cipher suites by their IANA names, client authentication), the checks a
 * connection adds (host name verification), and a peer certificate's subject as Java's
 * X500Principal.getName() prints it, which is the `x509` ACL identity. No I/O beyond reading
 * the store files; the sockets are libevent's (bufferevent_openssl). See docs/security.md. */
#ifndef ZK_TLS_H
#define ZK_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

#define TLS_PATH_MAX 512
#define TLS_SECRET_MAX 512
#define TLS_LIST_MAX 2048
#define TLS_DN_MAX 1024

enum tls_client_auth { TLS_CLIENT_AUTH_NEED = 0, TLS_CLIENT_AUTH_WANT, TLS_CLIENT_AUTH_NONE };

/* One store: the key store (our key and certificate chain) or the trust store (the CAs). */
struct tls_store {
    char location[TLS_PATH_MAX];
    char password[TLS_SECRET_MAX]; /* from .password, or read from .passwordPath */
    char type[16];                 /* "PEM", "PKCS12", or "" (from the file name) */
};

struct tls_settings {
    struct tls_store key, trust;
    char protocol[32];           /* ssl.protocol: "" = TLSv1.2 and TLSv1.3 */
    char enabled_protocols[128]; /* ssl.enabledProtocols: "" = ssl.protocol alone */
    char ciphersuites[TLS_LIST_MAX]; /* IANA names, comma-separated; "" = OpenSSL's */
    enum tls_client_auth client_auth;
    bool hostname_verification;   /* ssl.hostnameVerification (default true) */
    int client_hostname_verification; /* -1: the family's default (quorum yes, clients no) */
};

void tls_settings_init(struct tls_settings *s);

/* The store type a setting names, or the file name implies, as ZooKeeper's KeyStoreFileType:
 * "PEM", "PKCS12", "JKS", "BCFKS", or NULL when neither tells. */
const char *tls_store_type(const struct tls_store *st);

/* Everything that can be checked without building a context (types, protocols, cipher names).
 * `prefix` ("ssl." or "ssl.quorum.") names the settings in messages. 0, or -1 and err. */
int tls_settings_check(const struct tls_settings *s, const char *prefix, char *err, size_t n);

/* A context for our side of a connection. server: we accept (the client_auth setting applies;
 * quorum contexts always need the peer's certificate); otherwise we connect and always verify
 * the other side. NULL and err on failure (the first OpenSSL error included). */
SSL_CTX *tls_context_new(const struct tls_settings *s, const char *prefix, bool server,
                         bool quorum, char *err, size_t n);

/* Before the handshake: the certificate the other side shows must name `host` (an address
 * literal is matched against IP SANs, a name against DNS SANs and the CN), when the settings
 * ask for it on this side. 0, or -1. */
int tls_expect_peer_name(SSL *ssl, const struct tls_settings *s, bool server, bool quorum,
                         const char *host);

/* The peer's verified certificate subject in RFC 2253 form, as Java prints it. 0, or -1 when
 * the peer showed no certificate. */
int tls_peer_subject(SSL *ssl, char *out, size_t n);

/* Why a handshake failed: the OpenSSL error libevent kept for the connection
 * (bufferevent_get_openssl_error; 0: OpenSSL's queue) and the certificate verify result. */
void tls_describe_error(SSL *ssl, unsigned long err, char *out, size_t n);
/* Is err (as libevent keeps it) an OpenSSL error, not a socket error in its place? */
bool tls_error_is_tls(unsigned long err);

/* A change stamp of the store files (size, mtime, inode), for reloading rotated stores. */
void tls_stores_stamp(const struct tls_settings *s, char *out, size_t n);

/* Read a passwordPath file into out (trailing newlines dropped). 0, or -1 and err. */
int tls_read_secret(const char *path, char *out, size_t size, char *err, size_t n);

#endif
