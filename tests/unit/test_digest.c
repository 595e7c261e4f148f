/* Unit tests for ZooKeeper's digest identities (src/security/digest.{h,c}): user:Base64(H(cred))
 * with H = SHA1 (ZooKeeper's default) or the DigestAuthenticationProvider.digestAlg named.
 * Expected values: the digests ZooKeeper's admin guide shows, and digests computed
 * independently with python3 hashlib + base64 (what Java's
 * DigestAuthenticationProvider.generateDigest returns). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "security/digest.h"

static void zk_digest(const char *cred, char *out)
{
    cr_assert_eq(zk_digest_id("SHA1", (const uint8_t *)cred, strlen(cred), out, 128), 0);
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

Test(digest, no_colon_means_the_whole_credential_is_the_user)
{
    char out[128];
    zk_digest("bob", out);
    cr_assert_str_eq(out, "bob:SBgazSKz7a68ikR4aKfffOYpkgo=");
}

Test(digest, other_algorithms_by_their_java_names)
{
    char a[128], b[128];
    const uint8_t *cred = (const uint8_t *)"user:password";
    cr_assert_eq(zk_digest_id("SHA-256", cred, 13, a, sizeof a), 0);
    cr_assert_str_eq(a, "user:yRsdas04PETE7CDJcj51jDEYKh9PAjHWPZElmi6hS50=");
    cr_assert_eq(zk_digest_id("SHA256", cred, 13, b, sizeof b), 0);
    cr_assert_str_eq(a, b);
    cr_assert_eq(zk_digest_id("SHA3-256", cred, 13, a, sizeof a), 0);
    cr_assert_str_eq(a, "user:NAR2RZ7JZxGXKOuQubzhytx9PjP71AWWZoOY+TVw1hw=");
    cr_assert_eq(zk_digest_id("SHA-1", cred, 13, a, sizeof a), 0);
    cr_assert_str_eq(a, "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=");
}

Test(digest, unknown_algorithm_and_small_buffer_are_refused)
{
    char out[128];
    cr_assert(!zk_digest_alg_known("NOPE-512"));
    cr_assert(zk_digest_alg_known("SHA1"));
    cr_assert_eq(zk_digest_id("NOPE-512", (const uint8_t *)"a:b", 3, out, sizeof out), -1);
    cr_assert_eq(zk_digest_id("SHA1", (const uint8_t *)"a:b", 3, out, 30), -1); /* needs 31 */
    cr_assert_eq(zk_digest_id("SHA1", (const uint8_t *)"a:b", 3, out, 31), 0);
}
