/* Unit tests of ZooKeeper's on-disk primitives as the import reads them (src/import/zkformat.c):
 * Adler32/CRC32, jute reading with Java's difference between an EOF and an invalid length, the
 * file names, and the session passwords ZooKeeper derives from a session id (expected values
 * from a real ZooKeeper 3.8 session and from ZooKeeperServer.generatePasswd run in a JVM). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "import/zkformat.h"

static uint32_t adler_ref(const uint8_t *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

Test(zkformat, adler32_known_values_and_long_inputs)
{
    cr_assert_eq(zkf_adler32(1, (const uint8_t *)"", 0), 1u);
    cr_assert_eq(zkf_adler32(1, (const uint8_t *)"Wikipedia", 9), 0x11E60398u);
    static uint8_t buf[200000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(0xff - i * 7); /* large bytes: the sums grow fastest */
    uint32_t whole = zkf_adler32(1, buf, sizeof buf);
    cr_assert_eq(whole, adler_ref(buf, sizeof buf));
    cr_assert_eq(zkf_adler32(zkf_adler32(1, buf, 77777), buf + 77777, sizeof buf - 77777), whole);
}

Test(zkformat, crc32_known_values)
{
    cr_assert_eq(zkf_crc32(0, (const uint8_t *)"", 0), 0u);
    cr_assert_eq(zkf_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
    cr_assert_eq(zkf_crc32(zkf_crc32(0, (const uint8_t *)"1234", 4), (const uint8_t *)"56789", 5),
                 0xCBF43926u);
}

struct pw_case {
    uint64_t id;
    const char *hex;
};

static void hex16(const uint8_t *p, char *out)
{
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

Test(zkformat, session_passwords_equal_zookeepers)
{
    static const struct pw_case cases[] = {
        /* kazoo client_id of sessions on a real ZooKeeper 3.8 (standalone, server id 1) */
        {0x0100000c2b8c0000ULL, "568cd8e32b362651247e94c3ec5560c6"},
        {0x0100000c2b8c0001ULL, "69add2e3cb81059619c1fbeec0de7493"},
        {0x0100000c2b8c0002ULL, "304ae4e3eb9e67c73af8c56c4544372c"},
        {0x0100000c2b8c0003ULL, "436bdee38bea460c2f3b2d9819cd4bf9"},
        /* ZooKeeperServer.generatePasswd (3.8 jar, in jshell): other server ids, negative ids
         * (Random only keeps 48 bits of the seed, so the top byte does not matter) */
        {0x0300017b2c9d0005ULL, "1891ed0f723fec8589ca1b160d3f4a69"},
        {0xfe00017b2c9d0005ULL, "1891ed0f723fec8589ca1b160d3f4a69"},
        {0x8300000000000001ULL, "054cc74a37327db215e702e20c73f005"},
        {0x0000000000000000ULL, "f22acd4a97e69d6d20a49bb638eadb38"},
        {0xffffffffffffffffULL, "20f62cb5648dc2d771471c8a2486a9ee"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t pw[ZKF_PASSWD_LEN];
        char hex[33];
        zkf_session_passwd((int64_t)cases[i].id, pw);
        hex16(pw, hex);
        cr_assert_str_eq(hex, cases[i].hex, "session 0x%016llx",
                         (unsigned long long)cases[i].id);
    }
}

Test(zkformat, eof_is_not_an_invalid_length)
{
    static const uint8_t buf[] = {0, 0, 0, 3, 'a', 'b'}; /* a buffer of 3 with 2 bytes */
    struct zkin in;
    zkin_init(&in, buf, sizeof buf, 100);
    struct zkbuf b = zkin_buffer(&in);
    cr_assert_eq(in.status, ZKIN_EOF);
    cr_assert_eq(b.len, -1);
    static const uint8_t big[] = {0, 0, 0, 101, 'x'}; /* over the limit, even if data follows */
    zkin_init(&in, big, sizeof big, 100);
    (void)zkin_buffer(&in);
    cr_assert_eq(in.status, ZKIN_BAD);
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
    zkin_init(&in, neg, sizeof neg, 100);
    (void)zkin_buffer(&in);
    cr_assert_eq(in.status, ZKIN_BAD);
    static const uint8_t null[] = {0xff, 0xff, 0xff, 0xff, 7};
    zkin_init(&in, null, sizeof null, 100);
    b = zkin_buffer(&in);
    cr_assert(zkin_ok(&in));
    cr_assert_eq(b.len, -1); /* Java's null */
    cr_assert_eq(zkin_byte(&in), 7);
    cr_assert_eq(zkin_long(&in), 0);
    cr_assert_eq(in.status, ZKIN_EOF); /* and it sticks */
    cr_assert_eq(zkin_int(&in), 0);
}

Test(zkformat, vectors_null_and_negative_counts)
{
    static const uint8_t nul[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t negative[] = {0xff, 0xff, 0xff, 0xf0};
    struct zkin in;
    zkin_init(&in, nul, sizeof nul, 100);
    cr_assert_eq(zkin_vector(&in), -1);
    zkin_init(&in, negative, sizeof negative, 100);
    cr_assert_eq(zkin_vector(&in), 0); /* BinaryIndex is done at once: an empty vector */
    cr_assert(zkin_ok(&in));
}

Test(zkformat, acl_vector_span)
{
    /* [perms 31, "world", "anyone"] then a trailing int */
    static const uint8_t acl[] = {0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 5, 'w', 'o', 'r', 'l', 'd',
                                  0, 0, 0, 6, 'a', 'n', 'y', 'o', 'n', 'e', 0, 0, 0, 9};
    struct zkin in;
    zkin_init(&in, acl, sizeof acl, 100);
    struct zkbuf span;
    zkin_acl_vector(&in, &span);
    cr_assert(zkin_ok(&in));
    cr_assert_eq(span.ptr, acl);
    cr_assert_eq(span.len, (int32_t)sizeof acl - 4);
    cr_assert_eq(zkin_int(&in), 9);
    zkin_init(&in, acl, 20, 100); /* cut inside the id */
    zkin_acl_vector(&in, &span);
    cr_assert_eq(in.status, ZKIN_EOF);
    cr_assert_eq(span.len, -1);
}

Test(zkformat, file_names_as_util_getZxidFromName)
{
    cr_assert_eq(zkf_zxid_from_name("snapshot.1a", "snapshot"), 0x1a);
    cr_assert_eq(zkf_zxid_from_name("snapshot.1A2b.gz", "snapshot"), 0x1a2b);
    cr_assert_eq(zkf_zxid_from_name("log.100000001", "log"), 0x100000001LL);
    cr_assert_eq(zkf_zxid_from_name("log.7fffffffffffffff", "log"), INT64_MAX);
    cr_assert_eq(zkf_zxid_from_name("log.8000000000000000", "log"), -1); /* not a Java long */
    cr_assert_eq(zkf_zxid_from_name("log.", "log"), -1);
    cr_assert_eq(zkf_zxid_from_name("log.12x", "log"), -1);
    cr_assert_eq(zkf_zxid_from_name("logs.12", "log"), -1);
    cr_assert_eq(zkf_zxid_from_name("snapshot.12", "log"), -1);
    cr_assert_eq(zkf_zxid_from_name("log", "log"), -1);
}

Test(zkformat, length_limit_as_binary_input_archive)
{
    cr_assert_eq(zkf_length_limit(0xfffff), 0xfffff * 2); /* extrasize defaults to maxBuffer */
    cr_assert_eq(zkf_length_limit(100), 100 + 1024);      /* but at least 1024 */
    cr_assert_eq(zkf_length_limit(INT32_MAX), INT32_MAX);
}
