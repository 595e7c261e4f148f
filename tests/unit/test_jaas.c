/* Unit tests for the JAAS login configuration parser (src/security/jaas.c, jaas_parse) and for
 * client SASL (src/security/sasl.c):
 * - jaas_parse on good files: // and C comments, several sections, quoted values with escapes,
 *   bare values, several users and entries, every control flag, a repeated user (each value
 *   handed over in order: the caller decides), other sections' modules left alone;
 * - its refusals, each with its line number: an unclosed quote, a missing ';' (after an entry
 *   or after '}'), a missing '{' or '}', a section absent, twice, or without users, a
 *   Krb5LoginModule in the server's section, user_ with no name, name without '=', '=' without
 *   a value, an unknown flag, a token too long, the caller refusing a user;
 * - a real DIGEST-MD5 exchange: zsasl_init on a JAAS file, zsasl_session_new, zsasl_step on the
 *   server side, driven by Cyrus SASL's client (sasl_client_*, mechanism DIGEST-MD5, service
 *   "zookeeper", server name "zk-sasl-md5", the password from a callback) as ZooKeeper's Java
 *   client does it: the right password authenticates "bob" (with or without an authorization
 *   id, and the client checks the server's rspauth), a wrong password, an unknown user, another
 *   user's authorization id and a garbage response fail; the last of a repeated user_ wins;
 *   zsasl_init's refusals. */
#include <criterion/criterion.h>
#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "security/sasl.h"

/* ==== jaas_parse ==== */

#define USERS_MAX 16

struct users {
    int n;
    int refuse_after; /* the callback fails on this user (0: never) */
    char name[USERS_MAX][128];
    char pw[USERS_MAX][2048];
};

static int collect(void *ctx, const char *user, const char *password)
{
    struct users *u = ctx;
    if (u->n == USERS_MAX || (u->refuse_after && u->n + 1 == u->refuse_after))
        return -1;
    snprintf(u->name[u->n], sizeof u->name[0], "%s", user);
    snprintf(u->pw[u->n], sizeof u->pw[0], "%s", password);
    u->n++;
    return 0;
}

static char err[512];

static void parse_ok(const char *text, const char *section, struct users *u)
{
    memset(u, 0, sizeof *u);
    err[0] = '\0';
    int rc = jaas_parse(text, strlen(text), section, collect, u, err, sizeof err);
    cr_assert_eq(rc, 0, "jaas_parse failed: %s", err);
}

/* The parse must fail with a message holding `frag` and, when line > 0, "line <line>:". */
static void parse_fails(const char *text, const char *section, int line, const char *frag)
{
    struct users u;
    memset(&u, 0, sizeof u);
    err[0] = '\0';
    int rc = jaas_parse(text, strlen(text), section, collect, &u, err, sizeof err);
    cr_assert_eq(rc, -1, "jaas_parse accepted: %s", text);
    cr_assert_neq(err[0], '\0');
    if (frag)
        cr_assert_not_null(strstr(err, frag), "message '%s' lacks '%s'", err, frag);
    if (line > 0) {
        char want[32];
        snprintf(want, sizeof want, "line %d:", line);
        cr_assert_not_null(strstr(err, want), "message '%s' is not about line %d", err, line);
    }
}

static void expect_user(const struct users *u, int i, const char *name, const char *pw)
{
    cr_assert_lt(i, u->n, "only %d users", u->n);
    cr_assert_str_eq(u->name[i], name);
    cr_assert_str_eq(u->pw[i], pw, "password of %s", name);
}

#define DIGEST "org.apache.zookeeper.server.auth.DigestLoginModule"

TestSuite(jaas);

Test(jaas, zookeeper_documentation_example)
{
    struct users u;
    parse_ok("Server {\n"
             "       " DIGEST " required\n"
             "       user_super=\"adminsecret\"\n"
             "       user_bob=\"bobsecret\";\n"
             "};\n"
             "Client {\n"
             "       " DIGEST " required\n"
             "       username=\"bob\"\n"
             "       password=\"bobsecret\";\n"
             "};\n",
             "Server", &u);
    cr_assert_eq(u.n, 2);
    expect_user(&u, 0, "super", "adminsecret");
    expect_user(&u, 1, "bob", "bobsecret");
}

Test(jaas, comments_and_several_sections)
{
    struct users u;
    parse_ok("// the quorum uses Kerberos; clients use digest\n"
             "QuorumServer {\n"
             "  com.sun.security.auth.module.Krb5LoginModule required\n"
             "  useKeyTab=true keyTab=\"/etc/zk/zk.keytab\" /* inline */ storeKey=true\n"
             "  principal=\"zookeeper/host@EXAMPLE.COM\";\n"
             "};\n"
             "/* a comment\n"
             "   over lines, with } ; { \" and // inside */\n"
             "Server { // the one we read\n"
             "  " DIGEST " required debug=\"true\"\n"
             "    user_alice=\"a\" // trailing comment\n"
             "    /* between options */ user_bob=\"b\";\n"
             "};\n"
             "Client{" DIGEST " required username=\"bob\" password=\"b\";};\n"
             "// ends with a comment without a newline",
             "Server", &u);
    cr_assert_eq(u.n, 2, "debug=... is not a user");
    expect_user(&u, 0, "alice", "a");
    expect_user(&u, 1, "bob", "b");
    /* another section of the same file */
    cr_assert_eq(jaas_parse("Other{" DIGEST " optional user_x=\"1\";};Server{" DIGEST
                            " required user_y=\"2\";};",
                            strlen("Other{" DIGEST " optional user_x=\"1\";};Server{" DIGEST
                                   " required user_y=\"2\";};"),
                            "Other", collect, &u, err, sizeof err),
                 0, "%s", err);
}

Test(jaas, quoted_values_with_escapes)
{
    struct users u;
    parse_ok("Server {\n " DIGEST " required\n"
             "  user_quote=\"a\\\"b\"\n"          /* a"b */
             "  user_backslash=\"c:\\\\dir\"\n"   /* c:\dir */
             "  user_punct=\"x;y}z{w=v\"\n"
             "  user_comment=\"// not a comment /* nor this */\"\n"
             "  user_spaces=\"  two  \"\n"
             "  user_empty=\"\"\n"
             "  user_newline=\"line1\nline2\"\n"
             "  user_other=\"\\q\";\n"            /* \q: the q */
             "};\n",
             "Server", &u);
    cr_assert_eq(u.n, 8);
    expect_user(&u, 0, "quote", "a\"b");
    expect_user(&u, 1, "backslash", "c:\\dir");
    expect_user(&u, 2, "punct", "x;y}z{w=v");
    expect_user(&u, 3, "comment", "// not a comment /* nor this */");
    expect_user(&u, 4, "spaces", "  two  ");
    expect_user(&u, 5, "empty", "");
    expect_user(&u, 6, "newline", "line1\nline2");
    expect_user(&u, 7, "other", "q");
}

Test(jaas, bare_values_and_flags)
{
    struct users u;
    parse_ok("Server{" DIGEST " REQUIRED user_bob=bobsecret user_eve=e-v.e_1$;};", "Server", &u);
    cr_assert_eq(u.n, 2);
    expect_user(&u, 0, "bob", "bobsecret");
    expect_user(&u, 1, "eve", "e-v.e_1$");
    static const char *const flags[] = {"required", "requisite", "sufficient", "optional",
                                        "Optional"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        char text[256];
        snprintf(text, sizeof text, "Server { %s %s user_a=\"1\"; };", DIGEST, flags[i]);
        parse_ok(text, "Server", &u);
        cr_assert_eq(u.n, 1, "flag %s", flags[i]);
    }
}

Test(jaas, several_entries_and_users)
{
    struct users u;
    parse_ok("Server {\n"
             "  " DIGEST " required user_a=\"1\" user_b=\"2\";\n"
             "  " DIGEST " optional user_c=\"3\";\n"
             "};\n",
             "Server", &u);
    cr_assert_eq(u.n, 3);
    expect_user(&u, 0, "a", "1");
    expect_user(&u, 1, "b", "2");
    expect_user(&u, 2, "c", "3");
}

Test(jaas, repeated_user_is_handed_over_twice)
{
    struct users u;
    parse_ok("Server{" DIGEST " required user_bob=\"old\" user_bob=\"new\";};", "Server", &u);
    cr_assert_eq(u.n, 2, "the caller decides which wins");
    expect_user(&u, 0, "bob", "old");
    expect_user(&u, 1, "bob", "new");
}

Test(jaas, user_names)
{
    struct users u;
    /* names are whatever follows user_, as Java's DigestLoginModule takes them */
    parse_ok("Server{" DIGEST " required user_super_duper=\"x\" user_a.b-c=\"y\" "
             "USER_upper=\"ignored: not user_\";};",
             "Server", &u);
    cr_assert_eq(u.n, 2);
    expect_user(&u, 0, "super_duper", "x");
    expect_user(&u, 1, "a.b-c", "y");
}

/* A well-formed file without the section: not an error (ZooKeeper then runs without SASL). */
static void parse_absent(const char *text, const char *section)
{
    struct users u;
    memset(&u, 0, sizeof u);
    err[0] = '\0';
    int rc = jaas_parse(text, strlen(text), section, collect, &u, err, sizeof err);
    cr_assert_eq(rc, JAAS_SECTION_ABSENT, "rc %d (%s) for: %s", rc, err, text);
    cr_assert_eq(u.n, 0);
    char want[300];
    snprintf(want, sizeof want, "no section named '%s'", section);
    cr_assert_str_eq(err, want);
}

Test(jaas, section_absent)
{
    parse_absent("Client{" DIGEST " required username=\"bob\" password=\"x\";};", "Server");
    parse_absent("", "Server");
    parse_absent("// only a comment\n/* and another */\n", "Server");
    /* section names are case-sensitive, as Java's */
    parse_absent("server{" DIGEST " required user_a=\"1\";};", "Server");
    /* a malformed file stays an error even without the section */
    parse_fails("Client{" DIGEST " required username=\"bob\"};", "Server", 1, "name=value");
}

Test(jaas, errors_with_line_numbers)
{
    /* an unclosed quote: reported where the file ends */
    parse_fails("Server {\n  " DIGEST " required\n  user_a=\"abc\n};\n", "Server", 5,
                "quoted value is not closed");
    /* a missing ';' after the last option: '}' is not a name */
    parse_fails("Server {\n  " DIGEST " required\n  user_a=\"abc\"\n};\n", "Server", 4,
                "expected name=value");
    /* a missing ';' after '}' */
    parse_fails("Server {\n  " DIGEST " required user_a=\"abc\";\n}\n", "Server", 4,
                "expected ';'");
    parse_fails("Server {\n  " DIGEST " required user_a=\"abc\";\n}\nClient {};", "Server", 4,
                "expected ';'");
    /* a missing '}' */
    parse_fails("Server {\n  " DIGEST " required user_a=\"abc\";\n\n", "Server", 4,
                "not closed by '}'");
    /* an entry not ended at all */
    parse_fails("Server {\n  " DIGEST " required user_a=\"abc\"", "Server", 2,
                "not ended by ';'");
    /* a missing '{' */
    parse_fails("\nServer\n  " DIGEST " required user_a=\"abc\";\n};", "Server", 3,
                "expected '{'");
    /* a section without users */
    parse_fails("Server {\n  " DIGEST " required;\n};\n", "Server", 3, "no user_");
    parse_fails("Server {\n  " DIGEST " required debug=true;\n};\n", "Server", 0, "no user_");
    parse_fails("Server {\n};\n", "Server", 0, "no user_");
    /* Kerberos in the server's section */
    parse_fails("Server {\n\n  com.sun.security.auth.module.Krb5LoginModule required\n"
                "  useKeyTab=true keyTab=\"/k\" principal=\"zookeeper/h@R\";\n};\n",
                "Server", 3, "DigestLoginModule");
    /* user_ with no name */
    parse_fails("Server {\n  " DIGEST " required\n  user_=\"x\";\n};\n", "Server", 3,
                "no user name");
    /* the section twice */
    parse_fails("Server{" DIGEST " required user_a=\"1\";};\n\nServer{" DIGEST
                " required user_b=\"2\";};\n",
                "Server", 3, "twice");
    /* a name without '=' and '=' without a value */
    parse_fails("Server {\n  " DIGEST " required\n  user_a \"x\";\n};\n", "Server", 3,
                "expected name=value");
    parse_fails("Server {\n  " DIGEST " required\n  user_a=;\n};\n", "Server", 3,
                "expected a value");
    parse_fails("Server {\n  " DIGEST " required\n  \"user_a\"=\"x\";\n};\n", "Server", 3,
                "expected name=value");
    /* an unknown or missing flag */
    parse_fails("Server {\n  " DIGEST " mandatory user_a=\"1\";\n};\n", "Server", 2,
                "expected required");
    parse_fails("Server {\n  " DIGEST "\n", "Server", 0, "expected required");
    /* a quoted section name, a section name that is punctuation, a module that is a string */
    parse_fails("\"Server\" {};", "Server", 1, "expected a section name");
    parse_fails("{};", "Server", 1, "expected a section name");
    parse_fails("Server {\n \"" DIGEST "\" required user_a=\"1\";\n};", "Server", 2,
                "expected a login module class");
}

Test(jaas, other_sections_are_only_parsed)
{
    struct users u;
    /* Kerberos and user_ of other modules are fine outside the section asked for */
    parse_ok("QuorumServer{com.sun.security.auth.module.Krb5LoginModule required user_x=\"1\";};"
             "Server{" DIGEST " required user_a=\"1\";};",
             "Server", &u);
    cr_assert_eq(u.n, 1);
    /* ...but their syntax is checked */
    parse_fails("Broken{ M required user_x=\"1\" };\nServer{" DIGEST " required user_a=\"1\";};",
                "Server", 1, "expected name=value");
}

Test(jaas, too_long_and_refused_users)
{
    char text[4096];
    char big[1500];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(text, sizeof text, "Server{%s required\nuser_a=\"%s\";};", DIGEST, big);
    parse_fails(text, "Server", 2, "too long");
    snprintf(text, sizeof text, "Server{%s required\nuser_a=%s;};", DIGEST, big);
    parse_fails(text, "Server", 2, "too long");
    /* the longest value that fits */
    big[1023] = '\0';
    snprintf(text, sizeof text, "Server{%s required user_a=\"%s\";};", DIGEST, big);
    struct users u;
    parse_ok(text, "Server", &u);
    cr_assert_eq(strlen(u.pw[0]), 1023);
    /* the caller refuses the second user */
    memset(&u, 0, sizeof u);
    u.refuse_after = 2;
    const char *t = "Server{" DIGEST " required\nuser_a=\"1\"\nuser_b=\"2\";};";
    cr_assert_eq(jaas_parse(t, strlen(t), "Server", collect, &u, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "too many users"), "%s", err);
    cr_assert_not_null(strstr(err, "line 3:"), "%s", err);
}

Test(jaas, length_not_nul_and_small_error_buffer)
{
    struct users u;
    const char *t = "Server{" DIGEST " required user_a=\"1\";};GARBAGE{{{";
    size_t good = strlen("Server{" DIGEST " required user_a=\"1\";};");
    memset(&u, 0, sizeof u);
    cr_assert_eq(jaas_parse(t, good, "Server", collect, &u, err, sizeof err), 0,
                 "only len bytes are read: %s", err);
    cr_assert_eq(u.n, 1);
    /* a quote closed only after len bytes is not closed */
    const char *q = "Server{" DIGEST " required user_a=\"12\";};";
    cr_assert_eq(jaas_parse(q, strlen(q) - 5, "Server", collect, &u, err, sizeof err), -1);
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    cr_assert_eq(jaas_parse("x", 1, "Server", collect, &u, tiny, sizeof tiny), -1);
    cr_assert_eq(tiny[sizeof tiny - 1], '\0');
}

/* ==== DIGEST-MD5 through zsasl_* and Cyrus SASL's client ==== */

static char dir[256];
static char jaas_path[400];

static void sasl_setup(void)
{
    zk_log_set_level(ZK_LOG_ERROR);
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/zk-jaas-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(jaas_path, sizeof jaas_path, "%s/jaas.conf", dir);
}

static void sasl_teardown(void)
{
    if (zsasl_ready())
        zsasl_shutdown();
    unlink(jaas_path);
    rmdir(dir);
}

static void write_jaas(const char *text)
{
    FILE *f = fopen(jaas_path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *const users_file = "Server {\n"
                                      "  " DIGEST " required\n"
                                      "  user_super=\"adminsecret\"\n"
                                      "  user_bob=\"bobsecret\"\n"
                                      "  user_odd=\"p\\\"w d;\";\n" /* p"w d; */
                                      "};\n";

static void start_server(const char *text)
{
    write_jaas(text);
    cr_assert_not(zsasl_ready());
    cr_assert_eq(zsasl_init(jaas_path, "Server", err, sizeof err), 0, "zsasl_init: %s", err);
    cr_assert(zsasl_ready());
}

/* The client side, as ZooKeeper's Java client: authentication id and password from callbacks,
 * the authorization id the user's name unless told otherwise. */
struct client_id {
    const char *authname, *authzid, *password;
    sasl_secret_t *secret;
};

static int cb_name(void *ctx, int id, const char **result, unsigned *len)
{
    struct client_id *c = ctx;
    const char *v = id == SASL_CB_AUTHNAME ? c->authname : c->authzid;
    if (!v)
        v = "";
    *result = v;
    if (len)
        *len = (unsigned)strlen(v);
    return SASL_OK;
}

static int cb_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
    (void)conn;
    (void)id;
    struct client_id *c = ctx;
    size_t len = strlen(c->password);
    free(c->secret);
    c->secret = malloc(sizeof(sasl_secret_t) + len);
    cr_assert_not_null(c->secret);
    c->secret->len = (unsigned long)len;
    memcpy(c->secret->data, c->password, len + 1);
    *psecret = c->secret;
    return SASL_OK;
}

typedef int (*sasl_fn)(void);

struct exchange {
    enum zsasl_result result;
    char authzid[ZSASL_NAME_MAX];
    bool client_verified; /* the client accepted the server's rspauth */
    int steps;
};

/* The whole exchange: ZooKeeper's client sends an empty first token (DIGEST-MD5 starts with
 * the server's challenge); then response, rspauth. `tamper` garbles the client's response. */
static struct exchange run_exchange(const char *authname, const char *authzid,
                                    const char *password, bool tamper)
{
    struct client_id id = {authname, authzid, password, NULL};
    sasl_callback_t callbacks[] = {
        {SASL_CB_AUTHNAME, (sasl_fn)(void *)cb_name, &id},
        {SASL_CB_USER, (sasl_fn)(void *)cb_name, &id},
        {SASL_CB_PASS, (sasl_fn)(void *)cb_pass, &id},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    cr_assert_eq(sasl_client_init(NULL), SASL_OK);
    sasl_conn_t *conn = NULL;
    cr_assert_eq(sasl_client_new("zookeeper", "zk-sasl-md5", NULL, NULL, callbacks, 0, &conn),
                 SASL_OK);
    const char *out = NULL, *mech = NULL;
    unsigned out_len = 0;
    int crc = sasl_client_start(conn, "DIGEST-MD5", NULL, &out, &out_len, &mech);
    cr_assert(crc == SASL_CONTINUE || crc == SASL_OK, "sasl_client_start: %s",
              sasl_errdetail(conn));
    cr_assert_str_eq(mech, "DIGEST-MD5");

    struct zsasl_session *s = zsasl_session_new();
    cr_assert_not_null(s);
    struct exchange ex = {.result = ZSASL_CONTINUE};
    const uint8_t *token = (const uint8_t *)out;
    size_t token_len = out_len;
    char garbled[4096];
    for (ex.steps = 0; ex.steps < 6 && ex.result == ZSASL_CONTINUE; ex.steps++) {
        const uint8_t *reply = NULL;
        size_t reply_len = 0;
        ex.result = zsasl_step(s, token, token_len, &reply, &reply_len, ex.authzid,
                               sizeof ex.authzid);
        if (ex.result == ZSASL_FAILED)
            break;
        cr_assert(reply_len > 0, "the server sent nothing");
        crc = sasl_client_step(conn, (const char *)reply, (unsigned)reply_len, NULL, &out,
                               &out_len);
        if (ex.result == ZSASL_DONE) {
            ex.client_verified = crc == SASL_OK;
            break;
        }
        cr_assert_eq(crc, SASL_CONTINUE, "sasl_client_step: %s", sasl_errdetail(conn));
        token = (const uint8_t *)out;
        token_len = out_len;
        if (tamper) {
            cr_assert_lt(out_len, sizeof garbled);
            memcpy(garbled, out, out_len);
            for (size_t i = 0; i < out_len; i += 7)
                garbled[i] ^= 0x5a;
            token = (const uint8_t *)garbled;
        }
    }
    zsasl_session_free(s);
    sasl_dispose(&conn);
    sasl_client_done();
    free(id.secret);
    return ex;
}

TestSuite(sasl, .init = sasl_setup, .fini = sasl_teardown);

Test(sasl, right_password)
{
    start_server(users_file);
    struct exchange ex = run_exchange("bob", "bob", "bobsecret", false);
    cr_assert_eq(ex.result, ZSASL_DONE, "failed: %s", ex.authzid);
    cr_assert_str_eq(ex.authzid, "bob");
    cr_assert(ex.client_verified, "the client refused the server's rspauth");
    cr_assert_eq(ex.steps, 1, "challenge, then response and rspauth with the success");
}

Test(sasl, right_password_without_authzid)
{
    start_server(users_file);
    struct exchange ex = run_exchange("super", NULL, "adminsecret", false);
    cr_assert_eq(ex.result, ZSASL_DONE, "failed: %s", ex.authzid);
    cr_assert_str_eq(ex.authzid, "super");
    cr_assert(ex.client_verified);
}

Test(sasl, password_with_quote_space_and_semicolon)
{
    start_server(users_file);
    struct exchange ex = run_exchange("odd", "odd", "p\"w d;", false);
    cr_assert_eq(ex.result, ZSASL_DONE, "failed: %s", ex.authzid);
    cr_assert_str_eq(ex.authzid, "odd");
}

Test(sasl, wrong_password)
{
    start_server(users_file);
    struct exchange ex = run_exchange("bob", "bob", "bobsecreT", false);
    cr_assert_eq(ex.result, ZSASL_FAILED);
    cr_assert_neq(ex.authzid[0], '\0', "a failure says why");
    ex = run_exchange("bob", "bob", "", false);
    cr_assert_eq(ex.result, ZSASL_FAILED);
    /* another user's password */
    ex = run_exchange("bob", "bob", "adminsecret", false);
    cr_assert_eq(ex.result, ZSASL_FAILED);
}

Test(sasl, unknown_user)
{
    start_server(users_file);
    struct exchange ex = run_exchange("mallory", "mallory", "bobsecret", false);
    cr_assert_eq(ex.result, ZSASL_FAILED);
    ex = run_exchange("Bob", "Bob", "bobsecret", false); /* names are case-sensitive */
    cr_assert_eq(ex.result, ZSASL_FAILED);
}

Test(sasl, authzid_of_another_user)
{
    start_server(users_file);
    struct exchange ex = run_exchange("bob", "super", "bobsecret", false);
    cr_assert_eq(ex.result, ZSASL_FAILED, "bob must not become super (authzid %s)", ex.authzid);
    ex = run_exchange("bob", "nobody", "bobsecret", false);
    cr_assert_eq(ex.result, ZSASL_FAILED);
}

Test(sasl, garbage_response)
{
    start_server(users_file);
    struct exchange ex = run_exchange("bob", "bob", "bobsecret", true);
    cr_assert_eq(ex.result, ZSASL_FAILED);
    /* a token over 64 KiB is refused before libsasl2 sees it */
    struct zsasl_session *s = zsasl_session_new();
    cr_assert_not_null(s);
    static uint8_t big[65537];
    const uint8_t *out = NULL;
    size_t out_len = 0;
    char why[256];
    cr_assert_eq(zsasl_step(s, big, sizeof big, &out, &out_len, why, sizeof why), ZSASL_FAILED);
    cr_assert_not_null(strstr(why, "65537"), "%s", why);
    zsasl_session_free(s);
    zsasl_session_free(NULL);
}

Test(sasl, repeated_user_last_wins)
{
    start_server("Server{" DIGEST " required user_bob=\"old\" user_bob=\"new\";};");
    struct exchange ex = run_exchange("bob", "bob", "new", false);
    cr_assert_eq(ex.result, ZSASL_DONE, "failed: %s", ex.authzid);
    ex = run_exchange("bob", "bob", "old", false);
    cr_assert_eq(ex.result, ZSASL_FAILED);
}

Test(sasl, sessions_are_independent)
{
    start_server(users_file);
    for (int i = 0; i < 3; i++) {
        struct exchange ex = run_exchange(i % 2 ? "super" : "bob", NULL,
                                          i % 2 ? "adminsecret" : "bobsecret", false);
        cr_assert_eq(ex.result, ZSASL_DONE, "round %d: %s", i, ex.authzid);
    }
    struct exchange ex = run_exchange("bob", NULL, "nope", false);
    cr_assert_eq(ex.result, ZSASL_FAILED);
    ex = run_exchange("bob", NULL, "bobsecret", false);
    cr_assert_eq(ex.result, ZSASL_DONE, "a failure leaves the next session alone");
}

Test(sasl, init_refusals)
{
    cr_assert_null(zsasl_session_new(), "no session before zsasl_init");
    char missing[500];
    snprintf(missing, sizeof missing, "%s/none.conf", dir);
    cr_assert_eq(zsasl_init(missing, "Server", err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "none.conf"), "%s", err);
    cr_assert_not(zsasl_ready());
    write_jaas("Server {\n " DIGEST " required\n user_a=\"x\"\n};\n");
    cr_assert_eq(zsasl_init(jaas_path, "Server", err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "line 4"), "%s", err);
    write_jaas(users_file);
    cr_assert_eq(zsasl_init(jaas_path, "ZkServer", err, sizeof err), JAAS_SECTION_ABSENT);
    cr_assert_not_null(strstr(err, "ZkServer"), "%s", err);
    cr_assert_not(zsasl_ready(), "no section: SASL stays off");
    cr_assert_null(zsasl_session_new());
    write_jaas("Server { com.sun.security.auth.module.Krb5LoginModule required; };");
    cr_assert_eq(zsasl_init(jaas_path, "Server", err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "DigestLoginModule"), "%s", err);
    cr_assert_not(zsasl_ready());
    /* a section named by zookeeper.sasl.serverconfig */
    write_jaas("ZkServer{" DIGEST " required user_bob=\"b\";};");
    cr_assert_eq(zsasl_init(jaas_path, "ZkServer", err, sizeof err), 0, "%s", err);
    struct exchange ex = run_exchange("bob", "bob", "b", false);
    cr_assert_eq(ex.result, ZSASL_DONE, "failed: %s", ex.authzid);
}
