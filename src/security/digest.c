/* Digest identities (see digest.h). */
#include "security/digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* Java's names ("SHA1", "SHA-1", "SHA-256", "SHA3-256") to libcrypto's. */
static const EVP_MD *find_md(const char *alg)
{
    const EVP_MD *md = EVP_get_digestbyname(alg);
    if (md)
        return md;
    char name[32];
    if (!strncmp(alg, "SHA-", 4) && strlen(alg) < sizeof name) {
        snprintf(name, sizeof name, "SHA%s", alg + 4);
        return EVP_get_digestbyname(name);
    }
    return NULL;
}

bool zk_digest_alg_known(const char *alg) { return find_md(alg) != NULL; }

int zk_digest_id(const char *alg, const uint8_t *cred, size_t len, char *out, size_t n)
{
    const EVP_MD *md = find_md(alg);
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned hash_len = 0;
    if (!md || EVP_Digest(cred, len, hash, &hash_len, md, NULL) != 1)
        return -1;
    const uint8_t *colon = memchr(cred, ':', len);
    size_t user_len = colon ? (size_t)(colon - cred) : len;
    size_t b64_len = 4 * ((hash_len + 2) / 3);
    if (user_len + 1 + b64_len + 1 > n)
        return -1;
    memcpy(out, cred, user_len);
    out[user_len] = ':';
    EVP_EncodeBlock((unsigned char *)out + user_len + 1, hash, (int)hash_len);
    return 0;
}
