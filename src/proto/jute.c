/* Jute reader/writer implementation (see jute.h). */
#include "proto/jute.h"

#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"

void jr_init(struct jute_reader *jr, const void *data, size_t len)
{
    static const uint8_t nothing[1];
    ZK_ASSERT(data != NULL || len == 0);
    /* an empty body may come as NULL: give the reader a real address, since even NULL + 0 is
     * undefined behaviour for whoever computes positions from jr->data */
    jr->data = data != NULL ? data : nothing;
    jr->len = len;
    jr->pos = 0;
    jr->err = 0;
}

size_t jr_remaining(const struct jute_reader *jr) { return jr->err ? 0 : jr->len - jr->pos; }

static const uint8_t *take(struct jute_reader *jr, size_t n)
{
    if (jr->err || jr->len - jr->pos < n) {
        jr->err = -1;
        return NULL;
    }
    const uint8_t *p = jr->data + jr->pos;
    jr->pos += n;
    return p;
}

int32_t jr_int(struct jute_reader *jr)
{
    const uint8_t *p = take(jr, 4);
    return p ? (int32_t)be32_load(p) : 0;
}

int64_t jr_long(struct jute_reader *jr)
{
    const uint8_t *p = take(jr, 8);
    if (!p)
        return 0;
    return (int64_t)be64_load(p);
}

bool jr_bool(struct jute_reader *jr)
{
    const uint8_t *p = take(jr, 1);
    return p && *p != 0;
}

struct jute_bytes jr_bytes(struct jute_reader *jr)
{
    struct jute_bytes b = {NULL, -1};
    int32_t len = jr_int(jr);
    if (jr->err)
        return b;
    if (len < -1) {
        jr->err = -1;
        return b;
    }
    if (len == -1)
        return b;
    const uint8_t *p = take(jr, (size_t)len);
    if (p) {
        b.ptr = p;
        b.len = len;
    }
    return b;
}

int32_t jr_vector_count(struct jute_reader *jr, size_t min_elem_size)
{
    int32_t count = jr_int(jr);
    if (jr->err)
        return 0;
    if (count == -1)
        return 0;
    if (count < -1 || (size_t)count * (min_elem_size ? min_elem_size : 1) > jr->len - jr->pos) {
        jr->err = -1;
        return 0;
    }
    return count;
}

/* ---- writer ---- */

void jw_init(struct jute_writer *jw) { memset(jw, 0, sizeof *jw); }

void jw_free(struct jute_writer *jw)
{
    zk_free(jw->data);
    jw_init(jw);
}

void jw_reset(struct jute_writer *jw)
{
    jw->len = 0;
    jw->err = 0;
}

void jw_release_above(struct jute_writer *jw, size_t keep)
{
    if (jw->cap > keep)
        jw_free(jw);
}

static uint8_t *grow(struct jute_writer *jw, size_t n)
{
    if (jw->err)
        return NULL;
    if (jw->cap - jw->len < n) {
        size_t cap = jw->cap ? jw->cap : 256;
        while (cap - jw->len < n)
            cap *= 2;
        uint8_t *data = zk_realloc(jw->data, cap);
        if (!data) {
            jw->err = -1;
            return NULL;
        }
        jw->data = data;
        jw->cap = cap;
    }
    uint8_t *p = jw->data + jw->len;
    jw->len += n;
    return p;
}

void jw_put_int_at(struct jute_writer *jw, size_t offset, int32_t v)
{
    if (jw->err)
        return;
    ZK_ASSERT(offset + 4 <= jw->len);
    be32_store(jw->data + offset, (uint32_t)v);
}

void jw_int(struct jute_writer *jw, int32_t v)
{
    if (grow(jw, 4))
        jw_put_int_at(jw, jw->len - 4, v);
}

void jw_long(struct jute_writer *jw, int64_t v)
{
    jw_int(jw, (int32_t)((uint64_t)v >> 32));
    jw_int(jw, (int32_t)(uint32_t)v);
}

void jw_bool(struct jute_writer *jw, bool v)
{
    uint8_t *p = grow(jw, 1);
    if (p)
        *p = v ? 1 : 0;
}

void jw_raw(struct jute_writer *jw, const void *src, size_t len)
{
    if (len == 0)
        return; /* nothing to add; an empty writer's data is NULL, and NULL + 0 is undefined */
    uint8_t *p = grow(jw, len);
    if (p)
        memcpy(p, src, len);
}

void jw_bytes(struct jute_writer *jw, const void *src, int32_t len)
{
    ZK_ASSERT(len >= -1);
    jw_int(jw, len);
    if (len > 0)
        jw_raw(jw, src, (size_t)len);
}

void jw_string(struct jute_writer *jw, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    ZK_ASSERT(len <= INT32_MAX);
    jw_bytes(jw, s, (int32_t)len);
}

size_t jw_begin_frame(struct jute_writer *jw)
{
    size_t mark = jw->len;
    jw_int(jw, 0);
    return mark;
}

void jw_end_frame(struct jute_writer *jw, size_t mark)
{
    if (jw->err)
        return;
    ZK_ASSERT(jw->len >= mark + 4);
    jw_put_int_at(jw, mark, (int32_t)(jw->len - mark - 4));
}
