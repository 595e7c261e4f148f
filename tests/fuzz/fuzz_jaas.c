/* fuzz_jaas: jaas_parse (src/security/jaas.c) on arbitrary JAAS login configuration text, the
 * file named by java.security.auth.login.config. The first input byte picks the section asked
 * for (Server, Client, QuorumServer, or one named like no section), the size of the error buffer
 * (1, 24, 256 bytes), and after how many users the callback refuses (never, 1, 3); the rest is
 * the text. Checks: every user handed over has a name and both strings fit a token; a success
 * handed over at least one user; a refusal says why ("line N: ..." or "no section named ..."),
 * terminated within the buffer; a second parse of the same text gives the same verdict, users
 * and message. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/assert.h"
#include "security/sasl.h"

#define TOKEN_LIMIT 1024 /* jaas.c's TOKEN_MAX: a token and its NUL */

static const char *const sections[] = {"Server", "Client", "QuorumServer", "user_a"};
static const size_t err_sizes[] = {1, 24, 256};
static const int refuse_after[] = {0, 1, 3};

struct seen {
    int users, refuse_after;
    uint64_t hash; /* of every name and password, in order */
};

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL; /* the end of the string counts */
}

static int on_user(void *ctx, const char *user, const char *password)
{
    struct seen *s = ctx;
    size_t ulen = strnlen(user, TOKEN_LIMIT), plen = strnlen(password, TOKEN_LIMIT);
    ZK_ASSERT(ulen > 0 && ulen < TOKEN_LIMIT - 5); /* "user_" came before the name */
    ZK_ASSERT(plen < TOKEN_LIMIT);
    if (s->refuse_after && s->users == s->refuse_after)
        return -1;
    s->users++;
    s->hash = fnv(fnv(s->hash, user), password);
    return 0;
}

static int parse(const char *text, size_t len, const char *section, int refuse, char *err,
                 size_t n, struct seen *s)
{
    memset(s, 0, sizeof *s);
    s->refuse_after = refuse;
    s->hash = 0xcbf29ce484222325ULL;
    memset(err, 0x7f, n); /* no NUL: the parser must write one */
    return jaas_parse(text, len, section, on_user, s, err, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 65536)
        return 0;
    uint8_t sel = data[0];
    const char *section = sections[sel & 3];
    size_t n = err_sizes[(sel >> 2) % 3];
    int refuse = refuse_after[(sel >> 4) % 3];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    char err1[256], err2[256];
    struct seen s1, s2;
    int rc1 = parse(text, len, section, refuse, err1, n, &s1);
    ZK_ASSERT(rc1 == 0 || rc1 == -1 || rc1 == JAAS_SECTION_ABSENT);
    if (rc1 == 0) {
        ZK_ASSERT(s1.users >= 1); /* the section asked for has a user */
    } else {
        ZK_ASSERT(memchr(err1, '\0', n) != NULL);
        ZK_ASSERT(n == 1 || err1[0] != '\0');
        /* "line N: ..." or, for JAAS_SECTION_ABSENT only, "no section named ...", cut to the
         * buffer */
        size_t cmp = n - 1 < 5 ? n - 1 : 5;
        ZK_ASSERT(rc1 == -1 ? !strncmp(err1, "line ", cmp) : !strncmp(err1, "no se", cmp));
    }
    if (refuse)
        ZK_ASSERT(s1.users <= refuse);
    int rc2 = parse(text, len, section, refuse, err2, n, &s2);
    ZK_ASSERT(rc2 == rc1 && s2.users == s1.users && s2.hash == s1.hash);
    ZK_ASSERT(rc1 == 0 || !strcmp(err1, err2));
    return 0;
}
