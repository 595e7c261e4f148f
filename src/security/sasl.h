/* Client SASL as ZooKeeper's server does it (ZooKeeperSaslServer, SaslServerCallbackHandler):
 * DIGEST-MD5 with the protocol "zookeeper" and the server name "zk-sasl-md5", users and
 * passwords from the `user_<name>="<password>"` options of a JAAS file section ("Server" unless
 * zookeeper.sasl.serverconfig says otherwise). The mechanism is Cyrus SASL's (libsasl2); the
 * passwords reach it through an in-process auxprop plugin, so nothing is read from sasldb or
 * /etc/sasl2. See docs/security.md. */
#ifndef ZK_SASL_H
#define ZK_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZSASL_NAME_MAX 256

/* A JAAS file that parses but has no section of the name asked for: ZooKeeper then runs without
 * SASL (kazoo's test harness passes an empty file this way), so this is not an error. */
#define JAAS_SECTION_ABSENT 1

/* Read the section of the JAAS file and start libsasl2. 0; JAAS_SECTION_ABSENT and err when the
 * file has no such section (SASL stays off); or -1 and err (the file unreadable or malformed, a
 * login module other than DigestLoginModule, no user, libsasl2's DIGEST-MD5 plugin missing).
 * Call once, before any session; zsasl_shutdown undoes it. */
int zsasl_init(const char *jaas_path, const char *section, char *err, size_t n);
void zsasl_shutdown(void);
bool zsasl_ready(void);

/* Parse JAAS text: the user_ options of `section`. For each user, cb(ctx, user, password).
 * 0, JAAS_SECTION_ABSENT and err (the text is well formed), or -1 and err. Exposed for the unit tests and fuzzing. */
int jaas_parse(const char *text, size_t len, const char *section,
               int (*cb)(void *ctx, const char *user, const char *password), void *ctx,
               char *err, size_t n);

struct zsasl_session;
struct zsasl_session *zsasl_session_new(void);
void zsasl_session_free(struct zsasl_session *s);

enum zsasl_result { ZSASL_CONTINUE, ZSASL_DONE, ZSASL_FAILED };
/* One client token in; the server's token out (valid until the next call). On ZSASL_DONE the
 * authorization id is in authzid; on ZSASL_FAILED, why in authzid. */
enum zsasl_result zsasl_step(struct zsasl_session *s, const uint8_t *in, size_t in_len,
                             const uint8_t **out, size_t *out_len, char *authzid, size_t n);

#endif
