/* Client SASL on Cyrus SASL (see sasl.h). */
#include "security/sasl.h"

#include <errno.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

#define SERVICE "zookeeper"
#define SERVER_NAME "zk-sasl-md5" /* ZooKeeper's fixed DIGEST-MD5 server name (and realm) */
#define PLUGIN_NAME "zabkeeper-jaas"
#define USERS_MAX 65536
#define JAAS_FILE_MAX (1u << 20)

struct user {
    char *name, *password;
};

static struct {
    bool ready;
    struct user *users;
    size_t n, cap;
} g;

struct zsasl_session {
    sasl_conn_t *conn;
    bool started;
};

/* ---- the users, from the JAAS file ---- */

static int add_user(void *ctx, const char *name, const char *password)
{
    (void)ctx;
    for (size_t i = 0; i < g.n; i++) {
        if (!strcmp(g.users[i].name, name)) { /* a later option wins, as in a Java Map */
            char *pw = zk_strndup(password, strlen(password));
            if (!pw)
                return -1;
            zk_free(g.users[i].password);
            g.users[i].password = pw;
            return 0;
        }
    }
    if (g.n == USERS_MAX)
        return -1;
    if (g.n == g.cap) {
        size_t cap = g.cap ? g.cap * 2 : 16;
        struct user *u = zk_realloc(g.users, cap * sizeof *u);
        if (!u)
            return -1;
        g.users = u;
        g.cap = cap;
    }
    struct user u = {zk_strndup(name, strlen(name)), zk_strndup(password, strlen(password))};
    if (!u.name || !u.password) {
        zk_free(u.name);
        zk_free(u.password);
        return -1;
    }
    g.users[g.n++] = u;
    return 0;
}

static void free_users(void)
{
    for (size_t i = 0; i < g.n; i++) {
        zk_free(g.users[i].name);
        zk_free(g.users[i].password);
    }
    zk_free(g.users);
    g.users = NULL;
    g.n = g.cap = 0;
}

/* A name as the mechanism hands it over: "bob", or "bob@zk-sasl-md5" with the realm. */
static const struct user *find_user(const char *name, size_t len)
{
    const char *at = memchr(name, '@', len);
    if (at && (size_t)(name + len - at - 1) == strlen(SERVER_NAME) &&
        !memcmp(at + 1, SERVER_NAME, strlen(SERVER_NAME)))
        len = (size_t)(at - name);
    for (size_t i = 0; i < g.n; i++)
        if (strlen(g.users[i].name) == len && !memcmp(g.users[i].name, name, len))
            return &g.users[i];
    return NULL;
}

static int read_file(const char *path, char **text, size_t *len, char *err, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, n, "cannot open the JAAS file %s: %s", path, strerror(errno));
        return -1;
    }
    *text = zk_malloc(JAAS_FILE_MAX + 1);
    *len = *text ? fread(*text, 1, JAAS_FILE_MAX + 1, f) : 0;
    bool bad = !*text || ferror(f) || *len > JAAS_FILE_MAX;
    fclose(f);
    if (bad) {
        snprintf(err, n, "cannot read the JAAS file %s (unreadable or over 1 MiB)", path);
        zk_free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}

/* ---- the auxprop plugin: userPassword for DIGEST-MD5, from the table above ---- */

static int lookup(void *glob, sasl_server_params_t *sparams, unsigned flags, const char *user,
                  unsigned ulen)
{
    (void)glob;
    if (flags & SASL_AUXPROP_AUTHZID)
        return SASL_OK; /* properties of an authorization id: we have none */
    const struct user *u = find_user(user, ulen);
    if (!u)
        return SASL_NOUSER;
    const struct propval *want = sparams->utils->prop_get(sparams->propctx);
    for (const struct propval *p = want; p && p->name; p++) {
        if (p->name[0] != '*' || strcmp(p->name + 1, SASL_AUX_PASSWORD_PROP))
            continue;
        if (p->values && !(flags & SASL_AUXPROP_OVERRIDE))
            continue;
        if (p->values)
            sparams->utils->prop_erase(sparams->propctx, p->name);
        sparams->utils->prop_set(sparams->propctx, p->name, u->password,
                                 (unsigned)strlen(u->password));
    }
    return SASL_OK;
}

static sasl_auxprop_plug_t plugin = {
    .auxprop_lookup = lookup,
    .name = PLUGIN_NAME,
};

static int plugin_init(const sasl_utils_t *utils, int max_version, int *out_version,
                       sasl_auxprop_plug_t **plug, const char *name)
{
    (void)utils;
    (void)name;
    if (max_version < SASL_AUXPROP_PLUG_VERSION)
        return SASL_BADVERS;
    *out_version = SASL_AUXPROP_PLUG_VERSION;
    *plug = &plugin;
    return SASL_OK;
}

/* ---- libsasl2's options come from here, not from /etc/sasl2 ---- */

static int get_option(void *ctx, const char *plugin_name, const char *option, const char **result,
                      unsigned *len)
{
    (void)ctx;
    (void)plugin_name;
    const char *value = NULL;
    if (!strcmp(option, "auxprop_plugin"))
        value = PLUGIN_NAME;
    else if (!strcmp(option, "mech_list"))
        value = "DIGEST-MD5";
    if (!value)
        return SASL_FAIL;
    *result = value;
    if (len)
        *len = (unsigned)strlen(value);
    return SASL_OK;
}

static int log_message(void *ctx, int level, const char *message)
{
    (void)ctx;
    if (level <= SASL_LOG_WARN)
        ZK_WARN_RL("sasl: %s", message);
    return SASL_OK;
}

/* The authorization id may be the authentication id, with or without the realm (Java's
 * client sends the user name as both). */
static int proxy_policy(sasl_conn_t *conn, void *ctx, const char *requested, unsigned rlen,
                        const char *auth_identity, unsigned alen, const char *def_realm,
                        unsigned urlen, struct propctx *propctx)
{
    (void)ctx;
    (void)def_realm;
    (void)urlen;
    (void)propctx;
    if (!requested || rlen == 0)
        return SASL_OK;
    const struct user *a = find_user(auth_identity, alen), *r = find_user(requested, rlen);
    if (a && a == r)
        return SASL_OK;
    sasl_seterror(conn, 0, "authorization id differs from the authentication id");
    return SASL_NOAUTHZ;
}

typedef int (*sasl_fn)(void);
static const sasl_callback_t callbacks[] = {
    {SASL_CB_GETOPT, (sasl_fn)(void *)get_option, NULL},
    {SASL_CB_LOG, (sasl_fn)(void *)log_message, NULL},
    {SASL_CB_PROXY_POLICY, (sasl_fn)(void *)proxy_policy, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

static bool digest_md5_available(void)
{
    const char **mechs = sasl_global_listmech();
    for (int i = 0; mechs && mechs[i]; i++)
        if (!strcmp(mechs[i], "DIGEST-MD5"))
            return true;
    return false;
}

int zsasl_init(const char *jaas_path, const char *section, char *err, size_t n)
{
    char *text;
    size_t len;
    if (read_file(jaas_path, &text, &len, err, n) != 0)
        return -1;
    char why[1280];
    int rc = jaas_parse(text, len, section, add_user, NULL, why, sizeof why);
    zk_free(text);
    if (rc != 0) {
        snprintf(err, n, "JAAS file %s: %s", jaas_path, why);
        free_users();
        return rc == JAAS_SECTION_ABSENT ? JAAS_SECTION_ABSENT : -1;
    }
    if (sasl_server_init(callbacks, SERVICE) != SASL_OK ||
        sasl_auxprop_add_plugin(PLUGIN_NAME, plugin_init) != SASL_OK) {
        snprintf(err, n, "libsasl2 cannot start");
        free_users();
        return -1;
    }
    if (!digest_md5_available()) {
        snprintf(err, n, "libsasl2 has no DIGEST-MD5 mechanism (install libsasl2-modules)");
        zsasl_shutdown();
        return -1;
    }
    g.ready = true;
    ZK_INFO("sasl: DIGEST-MD5 for %zu users of section '%s' of %s", g.n, section, jaas_path);
    return 0;
}

void zsasl_shutdown(void)
{
    sasl_server_done();
    free_users();
    g.ready = false;
}

bool zsasl_ready(void) { return g.ready; }

struct zsasl_session *zsasl_session_new(void)
{
    if (!g.ready)
        return NULL;
    struct zsasl_session *s = zk_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    /* SASL_SUCCESS_DATA: the last reply (rspauth) travels with the success, as in ZooKeeper. */
    if (sasl_server_new(SERVICE, SERVER_NAME, NULL, NULL, NULL, NULL, SASL_SUCCESS_DATA,
                        &s->conn) != SASL_OK) {
        zk_free(s);
        return NULL;
    }
    /* Authentication only (qop=auth), as ZooKeeper: no SASL security layer on the stream. */
    sasl_security_properties_t props = {.min_ssf = 0, .max_ssf = 0, .maxbufsize = 0,
                                        .security_flags = SASL_SEC_NOANONYMOUS};
    if (sasl_setprop(s->conn, SASL_SEC_PROPS, &props) != SASL_OK) {
        zsasl_session_free(s);
        return NULL;
    }
    return s;
}

void zsasl_session_free(struct zsasl_session *s)
{
    if (!s)
        return;
    sasl_dispose(&s->conn);
    zk_free(s);
}

/* The authorization id as ZooKeeper names it: the user, without the realm. */
static void authorization_id(struct zsasl_session *s, char *out, size_t n)
{
    const void *v = NULL;
    out[0] = '\0';
    if (sasl_getprop(s->conn, SASL_USERNAME, &v) != SASL_OK || !v)
        return;
    const char *name = v;
    const char *suffix = strstr(name, "@" SERVER_NAME);
    size_t len = suffix && suffix[strlen(SERVER_NAME) + 1] == '\0' ? (size_t)(suffix - name)
                                                                    : strlen(name);
    snprintf(out, n, "%.*s", (int)len, name);
}

enum zsasl_result zsasl_step(struct zsasl_session *s, const uint8_t *in, size_t in_len,
                             const uint8_t **out, size_t *out_len, char *authzid, size_t n)
{
    const char *o = NULL;
    unsigned olen = 0;
    int rc;
    if (in_len > 65536) {
        snprintf(authzid, n, "client token of %zu bytes", in_len);
        return ZSASL_FAILED;
    }
    if (!s->started) {
        s->started = true;
        rc = sasl_server_start(s->conn, "DIGEST-MD5", in_len ? (const char *)in : NULL,
                               (unsigned)in_len, &o, &olen);
    } else {
        rc = sasl_server_step(s->conn, (const char *)in, (unsigned)in_len, &o, &olen);
    }
    *out = (const uint8_t *)o;
    *out_len = o ? olen : 0;
    if (rc == SASL_CONTINUE)
        return ZSASL_CONTINUE;
    if (rc == SASL_OK) {
        authorization_id(s, authzid, n);
        return authzid[0] ? ZSASL_DONE : ZSASL_FAILED;
    }
    snprintf(authzid, n, "%s", sasl_errdetail(s->conn));
    return ZSASL_FAILED;
}
