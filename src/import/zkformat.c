/* ZooKeeper on-disk primitives with Java's semantics (see zkformat.h). */
#include "import/zkformat.h"

#include <string.h>

#include "proto/jute.h"

void zkin_init(struct zkin *in, const void *p, size_t len, int32_t max_len)
{
    in->p = p;
    in->len = len;
    in->pos = 0;
    in->max_len = max_len;
    in->status = ZKIN_OK;
}

/* n bytes, or NULL with an EOF once fewer are left. */
static const uint8_t *take(struct zkin *in, size_t n)
{
    if (in->status != ZKIN_OK)
        return NULL;
    if (in->len - in->pos < n) {
        in->status = ZKIN_EOF;
        return NULL;
    }
    const uint8_t *p = in->p + in->pos;
    in->pos += n;
    return p;
}

int32_t zkin_int(struct zkin *in)
{
    const uint8_t *p = take(in, 4);
    return p ? (int32_t)be32_load(p) : 0;
}

int64_t zkin_long(struct zkin *in)
{
    const uint8_t *p = take(in, 8);
    return p ? (int64_t)be64_load(p) : 0;
}

uint8_t zkin_byte(struct zkin *in)
{
    const uint8_t *p = take(in, 1);
    return p ? *p : 0;
}

bool zkin_bool(struct zkin *in) { return zkin_byte(in) != 0; }

struct zkbuf zkin_buffer(struct zkin *in)
{
    struct zkbuf b = {NULL, -1};
    int32_t len = zkin_int(in);
    if (in->status != ZKIN_OK || len == -1)
        return b;
    if (len < 0 || len > in->max_len) { /* checkLength: "Unreasonable length" */
        in->status = ZKIN_BAD;
        return b;
    }
    const uint8_t *p = take(in, (size_t)len);
    if (p) {
        b.ptr = p;
        b.len = len;
    }
    return b;
}

int32_t zkin_vector(struct zkin *in)
{
    int32_t n = zkin_int(in);
    if (in->status != ZKIN_OK)
        return 0;
    return n < -1 ? 0 : n; /* BinaryIndex: a negative count is done at once */
}

void zkin_acl_vector(struct zkin *in, struct zkbuf *out)
{
    size_t start = in->pos;
    int32_t n = zkin_vector(in);
    out->ptr = NULL;
    out->len = -1;
    if (!zkin_ok(in) || n == -1)
        return;
    for (int32_t i = 0; i < n && zkin_ok(in); i++) {
        (void)zkin_int(in);    /* perms */
        (void)zkin_buffer(in); /* id.scheme */
        (void)zkin_buffer(in); /* id.id */
    }
    if (zkin_ok(in) && in->pos - start <= INT32_MAX) {
        out->ptr = in->p + start;
        out->len = (int32_t)(in->pos - start);
    }
}

int32_t zkf_length_limit(int32_t max_buffer)
{
    int64_t extra = max_buffer < 1024 ? 1024 : max_buffer;
    int64_t limit = (int64_t)max_buffer + extra;
    return limit > INT32_MAX ? INT32_MAX : (int32_t)limit;
}

/* ---- checksums ---- */

uint32_t zkf_adler32(uint32_t adler, const uint8_t *p, size_t n)
{
    enum { MOD = 65521, NMAX = 5552 }; /* NMAX: most bytes before the sums can overflow */
    uint32_t a = adler & 0xffff, b = adler >> 16;
    while (n > 0) {
        size_t k = n < NMAX ? n : NMAX;
        n -= k;
        while (k--) {
            a += *p++;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    return (b << 16) | a;
}

uint32_t zkf_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    static bool ready;
    if (!ready) { /* single-threaded tool: computing the table twice would still be harmless */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = true;
    }
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- java.util.Random (its documented 48-bit LCG) ---- */

#define JRANDOM_MULT 0x5DEECE66DULL
#define JRANDOM_MASK ((1ULL << 48) - 1)
#define ZK_SUPER_SECRET 0xB3415C00ULL /* ZooKeeperServer.superSecret */

static int32_t jrandom_next_int(uint64_t *seed)
{
    *seed = (*seed * JRANDOM_MULT + 0xB) & JRANDOM_MASK;
    return (int32_t)(uint32_t)(*seed >> 16); /* next(32) */
}

void zkf_session_passwd(int64_t session_id, uint8_t out[ZKF_PASSWD_LEN])
{
    uint64_t seed = (((uint64_t)session_id ^ ZK_SUPER_SECRET) ^ JRANDOM_MULT) & JRANDOM_MASK;
    /* Random.nextBytes: each nextInt() gives up to 4 bytes, low byte first. */
    for (int i = 0; i < ZKF_PASSWD_LEN;) {
        uint32_t rnd = (uint32_t)jrandom_next_int(&seed);
        for (int n = 0; n < 4 && i < ZKF_PASSWD_LEN; n++, rnd >>= 8)
            out[i++] = (uint8_t)rnd;
    }
}

/* ---- file names ---- */

int64_t zkf_zxid_from_name(const char *name, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (strncmp(name, prefix, plen) != 0 || name[plen] != '.')
        return -1;
    const char *p = name + plen + 1;
    uint64_t v = 0;
    size_t digits = 0;
    for (; *p && *p != '.'; p++, digits++) {
        char c = *p;
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0 || v > (uint64_t)INT64_MAX >> 4)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    return digits > 0 && v <= (uint64_t)INT64_MAX ? (int64_t)v : -1;
}
