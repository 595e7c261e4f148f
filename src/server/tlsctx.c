/* TLS contexts and their reloading (see tlsctx.h). */
#include "server/tlsctx.h"

#include <openssl/ssl.h>
#include <string.h>

#include "common/log.h"

int tlsctx_init(struct tlsctx *t, const struct tls_settings *s, const char *prefix, bool server,
                bool quorum)
{
    memset(t, 0, sizeof *t);
    t->settings = s;
    t->prefix = prefix;
    t->server = server;
    t->quorum = quorum;
    tls_stores_stamp(s, t->stamp, sizeof t->stamp);
    char err[512];
    t->ctx = tls_context_new(s, prefix, server, quorum, err, sizeof err);
    if (!t->ctx) {
        ZK_ERROR("TLS (%s*): %s", prefix, err);
        return -1;
    }
    return 0;
}

void tlsctx_reload_if_changed(struct tlsctx *t)
{
    if (!t->ctx)
        return;
    char stamp[sizeof t->stamp];
    tls_stores_stamp(t->settings, stamp, sizeof stamp);
    if (!strcmp(stamp, t->stamp))
        return;
    char err[512];
    SSL_CTX *fresh = tls_context_new(t->settings, t->prefix, t->server, t->quorum, err, sizeof err);
    if (!fresh) {
        /* Perhaps caught half-written: the stamp is kept, so the next check tries again. */
        ZK_WARN_RL("TLS (%s*): the changed stores do not load (%s); keeping the previous ones",
                   t->prefix, err);
        return;
    }
    memcpy(t->stamp, stamp, sizeof stamp);
    SSL_CTX_free(t->ctx);
    t->ctx = fresh;
    ZK_INFO("TLS (%s*): key and trust stores reloaded for new connections", t->prefix);
}

void tlsctx_free(struct tlsctx *t)
{
    SSL_CTX_free(t->ctx);
    t->ctx = NULL;
}
