/* Allocation goes through these hooks so tests can inject out-of-memory failures
 * (sqlite faultsim style): zk_fail_after(n) makes the (n+1)-th allocation from now fail. */
#ifndef ZK_ALLOC_H
#define ZK_ALLOC_H

#include <stddef.h>

void *zk_malloc(size_t size);
void *zk_calloc(size_t count, size_t size);
void *zk_realloc(void *ptr, size_t size);
char *zk_strndup(const char *s, size_t len);
void zk_free(void *ptr);

/* Test hook: after `countdown` more successful allocations, fail every one; -1 disables. */
void zk_fail_after(long countdown);

#endif
