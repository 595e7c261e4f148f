/* A TLS context the process serves or connects with, rebuilt when its store files change so
 * rotated certificates take effect without a restart (ZooKeeper: sslQuorumReloadCertFiles,
 * client.certReload). Connections take the context current when they start; OpenSSL keeps a
 * replaced one alive while connections use it. */
#ifndef ZK_TLSCTX_H
#define ZK_TLSCTX_H

#include <stdbool.h>

#include "security/tls.h"

struct tlsctx {
    SSL_CTX *ctx;
    const struct tls_settings *settings;
    const char *prefix; /* "ssl." or "ssl.quorum." */
    bool server, quorum;
    char stamp[256];    /* the store files' change stamp when ctx was built */
};

/* Build the context (logged on failure). 0, or -1. */
int tlsctx_init(struct tlsctx *t, const struct tls_settings *s, const char *prefix, bool server,
                bool quorum);
/* Rebuild if a store file changed; a store that does not load keeps the old context. */
void tlsctx_reload_if_changed(struct tlsctx *t);
void tlsctx_free(struct tlsctx *t);

#endif
