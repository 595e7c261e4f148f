/* The dynamic configuration file, written as ZooKeeper 3.5+ writes it when a reconfig commits
 * (QuorumPeer.setQuorumVerifier -> writeDynamicConfig, editStaticConfig): the new server lines
 * and version go to `<base>.dynamic.<version hex>`, and the static zoo.cfg keeps everything but
 * its server lines, pointing to that file with dynamicConfigFile. A restarted member reads them
 * back (config.c) and also finds the configuration in its state (/zookeeper/config); it takes
 * the newer of the two. Both files are replaced atomically (write, fsync, rename). */
#include "server/dynconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"

#define STATIC_MAX (1u << 20)

static int write_atomically(const char *path, const char *data, size_t len)
{
    char tmp[ZK_PATH_MAX + 16];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int rc = done == len && fsync(fd) == 0 ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* `<base>.dynamic.<version>`: base is the current dynamic file's name before ".dynamic.", or
 * the static file's name. */
static int dynamic_path(const struct zk_config *cfg, int64_t version, char *out, size_t n)
{
    const char *from = cfg->dynamic_config_file[0] ? cfg->dynamic_config_file : cfg->config_path;
    const char *dyn = strstr(from, ".dynamic.");
    int base = dyn ? (int)(dyn - from) : (int)strlen(from);
    int w = snprintf(out, n, "%.*s.dynamic.%llx", base, from, (unsigned long long)version);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

/* zoo.cfg without its server lines and with dynamicConfigFile pointing to `dynamic`. */
static int edit_static(const char *path, const char *dynamic)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *out = zk_malloc(STATIC_MAX + ZK_PATH_MAX + 32);
    size_t len = 0;
    char line[2048];
    int rc = out ? 0 : -1;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        const char *s = line + strspn(line, " \t");
        if (!strncmp(s, "server.", 7) || !strncmp(s, "dynamicConfigFile", 17))
            continue;
        size_t l = strlen(line);
        if (len + l > STATIC_MAX) {
            rc = -1;
            break;
        }
        memcpy(out + len, line, l);
        len += l;
    }
    if (ferror(f))
        rc = -1;
    fclose(f);
    if (rc == 0) {
        if (len && out[len - 1] != '\n')
            out[len++] = '\n';
        len += (size_t)sprintf(out + len, "dynamicConfigFile=%s\n", dynamic);
        rc = write_atomically(path, out, len);
    }
    zk_free(out);
    return rc;
}

int dynconfig_write(struct zk_config *cfg, const char *text, size_t len, int64_t version)
{
    char path[ZK_PATH_MAX];
    if (!cfg->config_path[0] || dynamic_path(cfg, version, path, sizeof path) != 0)
        return -1;
    char *body = zk_malloc(len + 2);
    if (!body)
        return -1;
    memcpy(body, text, len);
    body[len] = '\n';
    int rc = write_atomically(path, body, len + 1);
    zk_free(body);
    if (rc == 0 && strcmp(path, cfg->dynamic_config_file) != 0)
        rc = edit_static(cfg->config_path, path);
    if (rc != 0) {
        ZK_ERROR("cannot write the dynamic configuration file %s or update %s: %s (the "
                 "configuration is in the state; a restart still finds it)", path,
                 cfg->config_path, strerror(errno));
        return -1;
    }
    snprintf(cfg->dynamic_config_file, sizeof cfg->dynamic_config_file, "%s", path);
    ZK_INFO("configuration version 0x%llx written to %s", (unsigned long long)version, path);
    return 0;
}
