/* The JAAS login configuration file, as far as ZooKeeper's server reads it (see sasl.h):
 *
 *   Server {
 *       org.apache.zookeeper.server.auth.DigestLoginModule required
 *       user_super="adminsecret"
 *       user_bob="bobsecret";
 *   };
 *
 * Sections of entries `ModuleClass Flag [name=value ...];`, values quoted or bare, // and
 * C comments. Only the section asked for is checked beyond its syntax. */
#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

#include "security/sasl.h"

#define TOKEN_MAX 1024

struct lexer {
    const char *p, *end;
    int line;
    char *err;
    size_t n;
};

static void skip_space_and_comments(struct lexer *lx)
{
    for (;;) {
        while (lx->p < lx->end && isspace((unsigned char)*lx->p)) {
            if (*lx->p == '\n')
                lx->line++;
            lx->p++;
        }
        if (lx->end - lx->p >= 2 && lx->p[0] == '/' && lx->p[1] == '/') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (lx->end - lx->p >= 2 && lx->p[0] == '/' && lx->p[1] == '*') {
            lx->p += 2;
            while (lx->end - lx->p >= 2 && !(lx->p[0] == '*' && lx->p[1] == '/'))
                lx->line += *lx->p++ == '\n';
            lx->p = lx->end - lx->p >= 2 ? lx->p + 2 : lx->end;
        } else {
            return;
        }
    }
}

static int fail(struct lexer *lx, const char *what)
{
    snprintf(lx->err, lx->n, "line %d: %s", lx->line, what);
    return -1;
}

static bool is_punct(char c) { return c == '{' || c == '}' || c == ';' || c == '='; }

/* The next token: punctuation as itself, a quoted string unquoted (\" and \\ escapes), or a
 * bare word. Returns 1, 0 at the end, -1 on error. quoted says which. */
static int next_token(struct lexer *lx, char *tok, bool *quoted)
{
    skip_space_and_comments(lx);
    *quoted = false;
    if (lx->p >= lx->end)
        return 0;
    size_t len = 0;
    if (is_punct(*lx->p)) {
        tok[0] = *lx->p++;
        tok[1] = '\0';
        return 1;
    }
    if (*lx->p == '"') {
        *quoted = true;
        for (lx->p++; lx->p < lx->end && *lx->p != '"'; lx->p++) {
            if (*lx->p == '\\' && lx->p + 1 < lx->end)
                lx->p++;
            if (*lx->p == '\n')
                lx->line++;
            if (len + 1 >= TOKEN_MAX)
                return fail(lx, "a value is too long");
            tok[len++] = *lx->p;
        }
        if (lx->p >= lx->end)
            return fail(lx, "a quoted value is not closed");
        lx->p++;
    } else {
        while (lx->p < lx->end && !isspace((unsigned char)*lx->p) && !is_punct(*lx->p) &&
               *lx->p != '"') {
            if (len + 1 >= TOKEN_MAX)
                return fail(lx, "a word is too long");
            tok[len++] = *lx->p++;
        }
    }
    tok[len] = '\0';
    return 1;
}

static int expect(struct lexer *lx, const char *what)
{
    char tok[TOKEN_MAX];
    bool quoted;
    int rc = next_token(lx, tok, &quoted);
    if (rc < 0)
        return -1;
    if (rc == 0 || quoted || strcmp(tok, what)) {
        char msg[128];
        snprintf(msg, sizeof msg, "expected '%s'", what);
        return fail(lx, msg);
    }
    return 0;
}

struct section_state {
    bool wanted;
    int users;
    int (*cb)(void *ctx, const char *user, const char *password);
    void *ctx;
};

static bool digest_module(const char *cls)
{
    return !strcmp(cls, "org.apache.zookeeper.server.auth.DigestLoginModule");
}

/* `name=value` options up to ';'. */
static int parse_options(struct lexer *lx, struct section_state *st, const char *module)
{
    char key[TOKEN_MAX], val[TOKEN_MAX];
    bool quoted;
    for (;;) {
        int rc = next_token(lx, key, &quoted);
        if (rc <= 0)
            return rc < 0 ? -1 : fail(lx, "an entry is not ended by ';'");
        if (!quoted && !strcmp(key, ";"))
            return 0;
        if (quoted || is_punct(key[0]) || expect(lx, "=") != 0)
            return fail(lx, "expected name=value");
        rc = next_token(lx, val, &quoted);
        if (rc <= 0 || (!quoted && is_punct(val[0])))
            return rc < 0 ? -1 : fail(lx, "expected a value after '='");
        if (!st->wanted || strncmp(key, "user_", 5))
            continue;
        if (!digest_module(module))
            return fail(lx, "user_ options belong to DigestLoginModule");
        if (!key[5])
            return fail(lx, "user_ with no user name");
        if (st->cb(st->ctx, key + 5, val) != 0)
            return fail(lx, "too many users");
        st->users++;
    }
}

/* `ModuleClass Flag options;` entries up to '}'. */
static int parse_entries(struct lexer *lx, struct section_state *st)
{
    static const char *const flags[] = {"required", "requisite", "sufficient", "optional"};
    char module[TOKEN_MAX], flag[TOKEN_MAX];
    bool quoted;
    for (;;) {
        int rc = next_token(lx, module, &quoted);
        if (rc <= 0)
            return rc < 0 ? -1 : fail(lx, "a section is not closed by '}'");
        if (!quoted && !strcmp(module, "}"))
            return expect(lx, ";");
        if (quoted || is_punct(module[0]))
            return fail(lx, "expected a login module class");
        if (st->wanted && !digest_module(module)) {
            char msg[TOKEN_MAX + 160];
            snprintf(msg, sizeof msg, "login module %s is not supported: only "
                     "org.apache.zookeeper.server.auth.DigestLoginModule (DIGEST-MD5) is",
                     module);
            return fail(lx, msg);
        }
        rc = next_token(lx, flag, &quoted);
        bool known = false;
        for (size_t i = 0; rc > 0 && i < sizeof flags / sizeof *flags; i++)
            known |= !strcasecmp(flag, flags[i]);
        if (!known)
            return rc < 0 ? -1 : fail(lx, "expected required, requisite, sufficient or optional");
        if (parse_options(lx, st, module) != 0)
            return -1;
    }
}

int jaas_parse(const char *text, size_t len, const char *section,
               int (*cb)(void *ctx, const char *user, const char *password), void *ctx,
               char *err, size_t n)
{
    struct lexer lx = {text, text + len, 1, err, n};
    bool found = false;
    char name[TOKEN_MAX];
    bool quoted;
    for (;;) {
        int rc = next_token(&lx, name, &quoted);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        if (quoted || is_punct(name[0]))
            return fail(&lx, "expected a section name");
        struct section_state st = {!strcmp(name, section), 0, cb, ctx};
        if (expect(&lx, "{") != 0 || parse_entries(&lx, &st) != 0)
            return -1;
        if (st.wanted && found)
            return fail(&lx, "the section appears twice");
        if (st.wanted && st.users == 0)
            return fail(&lx, "the section defines no user_<name>=\"<password>\"");
        found |= st.wanted;
    }
    if (!found) {
        snprintf(err, n, "no section named '%s'", section);
        return JAAS_SECTION_ABSENT;
    }
    return 0;
}
