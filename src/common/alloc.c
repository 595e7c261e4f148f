/* Allocation hooks with an optional failure countdown for out-of-memory tests. */
#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

static long fail_countdown = -1;

static int should_fail(void)
{
    if (fail_countdown < 0)
        return 0;
    if (fail_countdown == 0)
        return 1;
    fail_countdown--;
    return 0;
}

void zk_fail_after(long countdown) { fail_countdown = countdown; }

void *zk_malloc(size_t size) { return should_fail() ? NULL : malloc(size ? size : 1); }

void *zk_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *zk_realloc(void *ptr, size_t size)
{
    return should_fail() ? NULL : realloc(ptr, size ? size : 1);
}

char *zk_strndup(const char *s, size_t len)
{
    char *copy = zk_malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void zk_free(void *ptr) { free(ptr); }
