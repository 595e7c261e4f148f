/* Project-wide always-on assertion: a failed ZK_ASSERT is a bug, so the process aborts with the
 * file, line and expression (assertions stay on in release builds, as in TigerBeetle/redis). */
#ifndef ZK_ASSERT_H
#define ZK_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define ZK_ASSERT(expr)                                                                      \
    do {                                                                                     \
        if (!(expr)) {                                                                       \
            fprintf(stderr, "assertion failed: %s (%s:%d)\n", #expr, __FILE__, __LINE__);    \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

#define ZK_UNREACHABLE() ZK_ASSERT(0 && "unreachable")

#endif
