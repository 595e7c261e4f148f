/* Hashing for the store: a fast 64-bit byte hash (path/data/ACL keys) and the per-node and
 * per-session digest contributions that store_digest sums (wrapping add, so order-independent). */
#include <string.h>

#include "store/store_internal.h"

uint64_t store_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t store_hash_bytes(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)len * 0xff51afd7ed558ccdULL);
    while (len >= 8) {
        h = store_mix64(h ^ load_le64(p)) + 0x9E3779B97F4A7C15ULL;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    return store_mix64(h ^ tail ^ ((uint64_t)len << 59));
}

static uint64_t fold(uint64_t h, uint64_t v) { return store_mix64(h ^ v) + 0x632BE59BD9B4E019ULL; }

uint64_t store_node_digest(const struct znode *n)
{
    /* As ZooKeeper's digest, /zookeeper/config is left out: each member sets it from its own
     * configuration at start (spelled as its zoo.cfg spells it); reconfig txns set it alike. */
    if (n->path_len == sizeof STORE_CONFIG_PATH - 1 && !memcmp(n->path, STORE_CONFIG_PATH,
                                                               n->path_len))
        return 0;
    uint64_t h = n->link.hash;
    h = fold(h, n->data_hash);
    h = fold(h, (uint64_t)(uint32_t)n->data_len);
    h = fold(h, (uint64_t)n->czxid);
    h = fold(h, (uint64_t)n->mzxid);
    h = fold(h, (uint64_t)n->ctime);
    h = fold(h, (uint64_t)n->mtime);
    h = fold(h, (uint64_t)n->pzxid);
    h = fold(h, (uint64_t)n->ephemeral_owner);
    h = fold(h, ((uint64_t)(uint32_t)n->version << 32) | (uint32_t)n->cversion);
    h = fold(h, ((uint64_t)(uint32_t)n->aversion << 32) | n->kind);
    h = fold(h, n->acl ? n->acl->link.hash : 0);
    return h;
}

uint64_t store_session_digest(const struct session *s)
{
    uint64_t h = fold(0x5E55105EULL, (uint64_t)s->id);
    h = fold(h, (uint64_t)(uint32_t)s->timeout_ms);
    h = fold(h, store_hash_bytes(s->passwd, ZK_PASSWD_LEN));
    return h;
}
