/* A cursor over a fuzzer input: the targets read their operations and fields from it; reading
 * past the end yields zeros and marks it exhausted, so every input is a valid program. */
#ifndef ZK_FUZZ_INPUT_H
#define ZK_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fz {
    const uint8_t *p;
    size_t left;
};

static inline bool fz_done(const struct fz *in) { return in->left == 0; }

static inline uint64_t fz_uint(struct fz *in, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++) {
        uint8_t b = 0;
        if (in->left > 0) {
            b = *in->p++;
            in->left--;
        }
        v = (v << 8) | b;
    }
    return v;
}

static inline uint8_t fz_u8(struct fz *in) { return (uint8_t)fz_uint(in, 1); }
static inline uint16_t fz_u16(struct fz *in) { return (uint16_t)fz_uint(in, 2); }
static inline uint32_t fz_u32(struct fz *in) { return (uint32_t)fz_uint(in, 4); }
static inline uint64_t fz_u64(struct fz *in) { return fz_uint(in, 8); }

/* Up to n bytes of the input (fewer at its end), borrowed. */
static inline const uint8_t *fz_bytes(struct fz *in, size_t n, size_t *got)
{
    const uint8_t *p = in->p;
    *got = n < in->left ? n : in->left;
    in->p += *got;
    in->left -= *got;
    return p;
}

#endif
