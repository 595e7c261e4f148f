/* Jute (ZooKeeper's record format) primitives: a bounds-checked reader over a received frame and
 * a growable writer for replies. Big-endian integers; buffers/strings are int32 length + bytes,
 * length -1 meaning null. Reader errors are sticky: check jr->err once after a whole record. */
#ifndef ZK_JUTE_H
#define ZK_JUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- reader ---- */

struct jute_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    int err; /* 0, or -1 once any read ran past the end or hit an invalid length */
};

/* A string or buffer inside the reader's frame (no copy). len -1 means null. */
struct jute_bytes {
    const uint8_t *ptr;
    int32_t len;
};

void jr_init(struct jute_reader *jr, const void *data, size_t len);
int32_t jr_int(struct jute_reader *jr);
int64_t jr_long(struct jute_reader *jr);
bool jr_bool(struct jute_reader *jr);
struct jute_bytes jr_bytes(struct jute_reader *jr); /* buffer or ustring */
/* Vector count; -1 (null) is returned as 0. Counts that cannot fit the remaining bytes
 * (each element needs at least min_elem_size) set err, so a hostile count never allocates. */
int32_t jr_vector_count(struct jute_reader *jr, size_t min_elem_size);
size_t jr_remaining(const struct jute_reader *jr);
static inline bool jr_ok(const struct jute_reader *jr) { return jr->err == 0; }

/* ---- writer ---- */

struct jute_writer {
    uint8_t *data;
    size_t len;
    size_t cap;
    int err; /* -1 once an allocation failed; further writes are dropped */
};

void jw_init(struct jute_writer *jw);
void jw_free(struct jute_writer *jw);
void jw_reset(struct jute_writer *jw); /* keep capacity, drop contents */
/* Give the buffer back if it grew beyond keep bytes (one huge reply must not stay resident). */
void jw_release_above(struct jute_writer *jw, size_t keep);
void jw_int(struct jute_writer *jw, int32_t v);
void jw_long(struct jute_writer *jw, int64_t v);
void jw_bool(struct jute_writer *jw, bool v);
void jw_bytes(struct jute_writer *jw, const void *p, int32_t len); /* len -1 writes null */
void jw_string(struct jute_writer *jw, const char *s);             /* NULL is written as "" */
void jw_raw(struct jute_writer *jw, const void *p, size_t len);
/* Reserve room for a 4-byte length prefix; jw_end_frame patches it with the bytes since. */
size_t jw_begin_frame(struct jute_writer *jw);
void jw_end_frame(struct jute_writer *jw, size_t mark);
void jw_put_int_at(struct jute_writer *jw, size_t offset, int32_t v);

/* Big-endian helpers shared by every byte format of the project (frames, keys, records). */
static inline uint32_t be32_load(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t be64_load(const uint8_t *p)
{
    return (uint64_t)be32_load(p) << 32 | be32_load(p + 4);
}

static inline void be32_store(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void be64_store(uint8_t *p, uint64_t v)
{
    be32_store(p, (uint32_t)(v >> 32));
    be32_store(p + 4, (uint32_t)v);
}

#endif
