/* fuzz_config: config_parse_text (src/server/config.c) on arbitrary zoo.cfg text. dataDir is
 * forced under /tmp, where a few myid files are prepared, so the myid read of ensemble mode is
 * harmless and deterministic: the first input byte picks the directory, and "dataDir" in the rest
 * of the text is defused. An accepted configuration must be one the server can run with. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/assert.h"
#include "common/log.h"
#include "server/config.h"

#define DIR_BASE "/tmp/zabkeeper-fuzz-config"
#define TEXT_MAX 65536

static const char *const myids[] = {"1\n", "2", " 3 \n", "x", "", "300", "0\n", "16"};
#define N_DIRS (sizeof(myids) / sizeof(myids[0]))

static void prepare(void)
{
    ZK_ASSERT(mkdir(DIR_BASE, 0700) == 0 || errno == EEXIST);
    for (size_t i = 0; i < N_DIRS; i++) {
        char path[128];
        snprintf(path, sizeof(path), DIR_BASE "/%zu", i);
        ZK_ASSERT(mkdir(path, 0700) == 0 || errno == EEXIST);
        snprintf(path, sizeof(path), DIR_BASE "/%zu/myid", i);
        FILE *f = fopen(path, "w");
        ZK_ASSERT(f != NULL);
        ZK_ASSERT(fputs(myids[i], f) >= 0 || myids[i][0] == '\0');
        ZK_ASSERT(fclose(f) == 0);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    zk_log_set_level(ZK_LOG_ERROR); /* unknown keys are logged: not per execution */
    prepare();
    return 0;
}

static bool terminated(const char *s, size_t cap) { return memchr(s, '\0', cap) != NULL; }

static void check_accepted(const struct zk_config *c, const char *dir)
{
    ZK_ASSERT(strcmp(c->data_dir, dir) == 0);
    ZK_ASSERT(terminated(c->data_log_dir, sizeof(c->data_log_dir)) && c->data_log_dir[0]);
    ZK_ASSERT(terminated(c->client_addr, sizeof(c->client_addr)));
    ZK_ASSERT(terminated(c->fourlw_whitelist, sizeof(c->fourlw_whitelist)));
    ZK_ASSERT(terminated(c->super_digest, sizeof(c->super_digest)));
    ZK_ASSERT(c->tick_ms >= 1 && c->init_limit >= 1 && c->sync_limit >= 1);
    ZK_ASSERT(c->client_port >= 1 && c->client_port <= 65535);
    ZK_ASSERT(c->min_session_timeout_ms >= 0 &&
              c->min_session_timeout_ms <= c->max_session_timeout_ms);
    ZK_ASSERT(c->max_buffer >= 1024 && c->snap_count >= 2);
    ZK_ASSERT(c->n_members >= 0 && c->n_members <= ZK_SERVERS_MAX);
    bool me = c->n_members == 0;
    for (int i = 0; i < c->n_members; i++) {
        const struct zk_member *m = &c->members[i];
        ZK_ASSERT(m->id >= 0 && m->id <= 255);
        ZK_ASSERT(terminated(m->host, sizeof(m->host)) && m->host[0]);
        ZK_ASSERT(m->peer_port >= 1 && m->peer_port <= 65535);
        ZK_ASSERT(m->election_port >= 1 && m->election_port <= 65535);
        ZK_ASSERT(m->client_port >= 0 && m->client_port <= 65535);
        for (int j = 0; j < i; j++) {
            ZK_ASSERT(c->members[j].id != m->id);
        }
        me = me || m->id == c->myid;
    }
    ZK_ASSERT(me); /* in ensemble mode, myid names one of the members */
    (void)config_fourlw_allowed(c, "srvr");
    (void)config_fourlw_allowed(c, "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[TEXT_MAX + 128];
    if (size == 0 || size > TEXT_MAX) {
        return 0;
    }
    char dir[64];
    snprintf(dir, sizeof(dir), DIR_BASE "/%u", (unsigned)(data[0] % N_DIRS));
    int head = snprintf(text, sizeof(text), "dataDir=%s\n", dir);
    memcpy(text + head, data + 1, size - 1);
    size_t len = (size_t)head + size - 1;
    for (char *p = text + head; (p = memmem(p, len - (size_t)(p - text), "dataDir", 7));) {
        p[4] = 'd'; /* only ours counts */
    }
    struct zk_config cfg;
    char err[256] = "";
    if (config_parse_text(text, len, "fuzz.cfg", NULL, &cfg, err, sizeof(err)) == 0) {
        check_accepted(&cfg, dir);
    } else {
        ZK_ASSERT(err[0] != '\0' && terminated(err, sizeof(err))); /* refusals say why */
    }
    return 0;
}
