/* ZooKeeper's dynamic configuration file (see dynconfig.c). */
#ifndef ZK_DYNCONFIG_H
#define ZK_DYNCONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

/* Write configuration `text` (ZooKeeper's format, with its version line) as the dynamic file
 * of this version and point zoo.cfg to it; cfg->dynamic_config_file follows. 0, or -1
 * (logged). */
int dynconfig_write(struct zk_config *cfg, const char *text, size_t len, int64_t version);

#endif
