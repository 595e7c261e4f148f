/* SHA-1 and Base64, for ZooKeeper's digest auth ids: user:Base64(SHA1("user:password")). */
#ifndef ZK_SHA1_H
#define ZK_SHA1_H

#include <stddef.h>
#include <stdint.h>

void zk_sha1(const void *data, size_t len, uint8_t out[20]);
/* Standard Base64 with padding; out needs 4*((len+2)/3)+1 bytes. Returns the length written. */
size_t zk_base64(const uint8_t *in, size_t len, char *out);

#endif
