/* The configurations the simulator's and the fuzzer's config entries carry: "CFG!", n_voters,
 * n_observers, then one byte per id (test ids are small). One decoder for both harnesses. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "consensus/zab.h"

/* 1 and the configuration in *next if p[0..len) is exactly such an encoding, else 0. */
static inline int cfg_bytes_decode(const uint8_t *p, size_t len, struct zab_members *next)
{
    if (len < 6 || memcmp(p, "CFG!", 4) != 0) {
        return 0;
    }
    uint32_t nv = p[4], no = p[5];
    if (nv > ZAB_PEERS_MAX || no > ZAB_MEMBERS_MAX || len != 6 + (size_t)nv + no) {
        return 0;
    }
    memset(next, 0, sizeof(*next));
    next->n_voters = nv;
    next->n_observers = no;
    for (uint32_t i = 0; i < nv + no; i++) {
        if (i < nv) {
            next->voters[i] = p[6 + i];
        } else {
            next->observers[i - nv] = p[6 + i];
        }
    }
    return 1;
}
