/* Shared helpers of the zoo.cfg unit tests (test_config.c, test_security_config.c): a fresh
 * directory per test (also the dataDir), zoo.cfg and myid written into it, config_load expected
 * to succeed or to fail with a message holding given fragments.
 *
 * Static state and functions: a test file includes this once and uses `dir`, `cfg_path`, `err`
 * and `cfg` as its own. What differs between the files is given to config_testkit_setup: the
 * name of the temporary directory and the lines every zoo.cfg starts with. */
#ifndef ZK_TESTS_UNIT_CONFIG_TESTKIT_H
#define ZK_TESTS_UNIT_CONFIG_TESTKIT_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/config.h"

static char dir[256]; /* fresh per test; also used as dataDir */
static char cfg_path[400];
static char err[1024];
static struct zk_config cfg;
static const char *cfg_preamble; /* written by write_cfg before its text (NULL: nothing) */

/* A suite's .init: a fresh $TMPDIR/<name>-XXXXXX (/tmp without TMPDIR) holding zoo.cfg, whose
 * text write_cfg starts with preamble (every %s in it the directory; NULL: nothing). */
static inline void config_testkit_setup(const char *name, const char *preamble)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/%s-XXXXXX", base && *base ? base : "/tmp", name);
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cfg_path, sizeof cfg_path, "%s/zoo.cfg", dir);
    cfg_preamble = preamble;
    err[0] = '\0';
    zk_log_set_level(ZK_LOG_ERROR); /* keep the "unknown key" chatter out of the test output */
}

/* A suite's .fini: the directory and the files in it go. */
static inline void config_testkit_teardown(void)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char p[600];
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Appends text to buf at o with every %s replaced by the test's directory; the new length. */
static inline size_t config_testkit_expand(char *buf, size_t size, size_t o, const char *text)
{
    for (const char *p = text; *p && o < size - 300; p++) {
        if (p[0] == '%' && p[1] == 's') {
            o += (size_t)snprintf(buf + o, size - o, "%s", dir);
            p++;
        } else {
            buf[o++] = *p;
        }
    }
    return o;
}

/* zoo.cfg: the suite's preamble, then text; in both every %s is the test's directory. */
static inline void write_cfg(const char *text)
{
    char buf[8192];
    size_t o = 0;
    if (cfg_preamble)
        o = config_testkit_expand(buf, sizeof buf, o, cfg_preamble);
    o = config_testkit_expand(buf, sizeof buf, o, text);
    buf[o] = '\0';
    write_file(cfg_path, buf);
}

static inline void write_myid(const char *text)
{
    char p[400];
    snprintf(p, sizeof p, "%s/myid", dir);
    write_file(p, text);
}

/* zoo.cfg with these -D properties (count 0: none) must load. */
static inline void load_props_ok(const char *const *items, int count)
{
    struct config_props props = {items, count};
    int rc = config_load(cfg_path, count ? &props : NULL, &cfg, err, sizeof err);
    cr_assert_eq(rc, 0, "config_load failed: %s", err);
}

static inline void load_ok(void) { load_props_ok(NULL, 0); }

/* The load (with props, or NULL) must fail and the message must contain every given fragment. */
static inline void check_fails(const struct config_props *props, const char *frag1,
                               const char *frag2)
{
    err[0] = '\0';
    int rc = config_load(cfg_path, props, &cfg, err, sizeof err);
    cr_assert_eq(rc, -1, "config_load accepted a config it must refuse (expected '%s')",
                 frag1 ? frag1 : "");
    cr_assert_neq(err[0], '\0', "no message");
    if (frag1)
        cr_assert_not_null(strstr(err, frag1), "message '%s' lacks '%s'", err, frag1);
    if (frag2)
        cr_assert_not_null(strstr(err, frag2), "message '%s' lacks '%s'", err, frag2);
}

/* The load must fail and the message must contain every given fragment (the key, mostly). */
static inline void load_fails(const char *frag1, const char *frag2)
{
    check_fails(NULL, frag1, frag2);
}

#endif
