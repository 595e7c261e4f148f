/* ZooKeeper's digest identities: user:Base64(H("user:password")), H being SHA1 unless
 * DigestAuthenticationProvider.digestAlg names another (SHA-256, SHA3-256, ...). libcrypto
 * does the hashing and the Base64. */
#ifndef ZK_DIGEST_H
#define ZK_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Is alg (a Java MessageDigest name) one libcrypto has? */
bool zk_digest_alg_known(const char *alg);

/* The digest id of a credential "user:password" (the user is what precedes the first ':', all
 * of it when there is none; the hash covers the whole credential). 0, or -1 when out is too
 * small or alg is unknown. */
int zk_digest_id(const char *alg, const uint8_t *cred, size_t len, char *out, size_t n);

#endif
