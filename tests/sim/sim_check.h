/* Criterion helper for the simulator tests: run a seed range and, on the first violation, fail with
 * the seed and the tail of its replayed trace. */
#ifndef ZAB_SIM_CHECK_H
#define ZAB_SIM_CHECK_H

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Prints the last `lines` lines of the trace of one seed to stderr. */
static inline void sim_print_trace_tail(struct sim_opts o, int lines)
{
    char *buf = NULL;
    size_t len = 0;
    o.trace = open_memstream(&buf, &len);
    struct sim_result r;
    sim_run(&o, &r);
    fclose(o.trace);
    const char *p = buf + len;
    for (int n = 0; p > buf && n <= lines; p--) {
        n += p[-1] == '\n';
    }
    fprintf(stderr, "---- trace tail of seed %" PRIu64 " ----\n%s", o.seed, p);
    free(buf);
}

/* Runs seeds [first, first+count); returns the first violating seed or 0. */
static inline uint64_t sim_run_range(struct sim_opts o, uint64_t first, uint64_t count,
                                     struct sim_result *bad)
{
    for (uint64_t seed = first; seed < first + count; seed++) {
        o.seed = seed;
        if (sim_run(&o, bad) != 0) {
            return seed;
        }
    }
    return 0;
}

static inline void sim_expect_clean(uint32_t members, uint64_t first, uint64_t count)
{
    struct sim_opts o = {.members = members};
    struct sim_result r;
    uint64_t seed = sim_run_range(o, first, count, &r);
    if (seed != 0) {
        o.seed = seed;
        sim_print_trace_tail(o, 60);
        cr_assert_fail("seed %" PRIu64 " (%u members): %s\nreplay: zab-sim --members %u --seed %" PRIu64
                " --trace", seed, members, r.what, members, seed);
    }
}

#endif
