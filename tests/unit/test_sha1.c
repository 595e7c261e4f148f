/* Unit tests for SHA-1 and Base64 (src/common/sha1.{h,c}) and the ZooKeeper digest id built from
 * them. Expected values: FIPS 180 / RFC 3174 vectors, RFC 4648 Base64 vectors, and digests
 * computed independently with python3 hashlib + base64 (what Java's
 * DigestAuthenticationProvider.generateDigest returns: user:Base64(SHA1("user:password"))). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sha1.h"

static void sha1_hex(const void *data, size_t len, char out[41])
{
    uint8_t d[20];
    memset(d, 0xAA, sizeof d);
    zk_sha1(data, len, d);
    for (int i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void assert_sha1(const void *data, size_t len, const char *want)
{
    char got[41];
    sha1_hex(data, len, got);
    cr_assert_str_eq(got, want, "SHA-1 of %zu bytes", len);
}

static void assert_b64(const char *in, size_t len, const char *want)
{
    char out[64];
    memset(out, 'X', sizeof out);
    size_t n = zk_base64((const uint8_t *)in, len, out);
    cr_assert_eq(n, strlen(want), "base64 of %zu bytes: length %zu", len, n);
    cr_assert_str_eq(out, want);
    cr_assert_eq(n, 4 * ((len + 2) / 3));
}

/* ZooKeeper digest id, as DigestAuthenticationProvider.generateDigest builds it. */
static void zk_digest(const char *idpassword, char *out)
{
    uint8_t d[20];
    zk_sha1(idpassword, strlen(idpassword), d);
    const char *colon = strchr(idpassword, ':');
    size_t ulen = (size_t)(colon - idpassword);
    memcpy(out, idpassword, ulen);
    out[ulen] = ':';
    zk_base64(d, 20, out + ulen + 1);
}

Test(sha1, abc)
{
    assert_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

Test(sha1, empty)
{
    assert_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

Test(sha1, two_block_56_byte_message)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cr_assert_eq(strlen(m), 56);
    assert_sha1(m, 56, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

Test(sha1, million_a)
{
    char *m = malloc(1000000);
    memset(m, 'a', 1000000);
    assert_sha1(m, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(m);
}

Test(sha1, padding_boundaries)
{
    /* lengths around the 55/56/64-byte padding edges (python3 hashlib) */
    static const struct { size_t len; const char *hex; } v[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {57, "f08f24908d682555111be7ff6f004e78283d989a"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
        {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
        {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
    };
    char buf[128];
    memset(buf, 'a', sizeof buf);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_sha1(buf, v[i].len, v[i].hex);
}

Test(sha1, quick_brown_fox)
{
    const char *m = "The quick brown fox jumps over the lazy dog";
    assert_sha1(m, strlen(m), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
}

Test(base64, zero_to_three_bytes)
{
    assert_b64("", 0, "");
    assert_b64("f", 1, "Zg==");
    assert_b64("fo", 2, "Zm8=");
    assert_b64("foo", 3, "Zm9v");
}

Test(base64, rfc4648_vectors)
{
    assert_b64("foob", 4, "Zm9vYg==");
    assert_b64("fooba", 5, "Zm9vYmE=");
    assert_b64("foobar", 6, "Zm9vYmFy");
}

Test(base64, high_bytes_use_plus_and_slash)
{
    assert_b64("\xff", 1, "/w==");
    assert_b64("\xff\xff", 2, "//8=");
    assert_b64("\xfb\xff\xbf", 3, "+/+/");
    assert_b64("\x00", 1, "AA==");
    assert_b64("\x00\x00\x00", 3, "AAAA");
}

Test(base64, sha1_digest_is_28_chars)
{
    uint8_t d[20];
    zk_sha1("abc", 3, d);
    char out[32];
    cr_assert_eq(zk_base64(d, 20, out), 28);
    cr_assert_str_eq(out, "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
}

Test(digest, super_secret)
{
    char out[128];
    zk_digest("super:secret", out);
    cr_assert_str_eq(out, "super:lK75jTNcA+U9vtVEw5vB51mj/w4=");
}

Test(digest, documented_examples)
{
    char out[128];
    /* the super:test digest ZooKeeper's admin guide shows for -Dzookeeper.DigestAuthenticationProvider.superDigest */
    zk_digest("super:test", out);
    cr_assert_str_eq(out, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    zk_digest("super:super", out);
    cr_assert_str_eq(out, "super:gG7s8t3oDEtIqF6DM9LlI/R+9Ss=");
    zk_digest("user:password", out);
    cr_assert_str_eq(out, "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=");
}
