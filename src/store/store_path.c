/* Path rules: ZooKeeper's PathUtils.validatePath applied to UTF-8 bytes (Java checks UTF-16 code
 * units; invalid UTF-8 decodes to U+FFFD there, which is rejected, so it is rejected here too). */
#include <string.h>

#include "store/store_internal.h"

bool path_has_nul(const char *path, size_t len) { return memchr(path, '\0', len) != NULL; }

long path_last_slash(const char *path, size_t len)
{
    for (size_t i = len; i > 0; i--)
        if (path[i - 1] == '/')
            return (long)(i - 1);
    return -1;
}

/* Decode one UTF-8 code point at p (len bytes left). Returns bytes used, 0 if malformed. */
static size_t utf8_decode(const uint8_t *p, size_t len, uint32_t *cp)
{
    uint8_t c = p[0];
    size_t need;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        need = 2;
        v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        need = 3;
        v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        need = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (len < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_for_len[need])
        return 0; /* overlong */
    *cp = v;
    return need;
}

static bool code_point_allowed(uint32_t cp)
{
    if (cp == 0 || (cp >= 0x01 && cp <= 0x1F) || (cp >= 0x7F && cp <= 0x9F))
        return false;
    if (cp >= 0xD800 && cp <= 0xF8FF)
        return false;
    if (cp >= 0xFFF0 && cp <= 0xFFFF)
        return false;
    return cp < 0x10000; /* Java sees surrogate pairs, which are in D800-DFFF */
}

static bool component_is_relative(const char *c, size_t n)
{
    return (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.');
}

bool path_is_valid(const char *path, size_t len)
{
    if (len == 0 || path[0] != '/')
        return false;
    if (len == 1)
        return true;
    if (path[len - 1] == '/')
        return false;
    size_t comp_start = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i == len || path[i] == '/') {
            size_t n = i - comp_start;
            if (n == 0 || component_is_relative(path + comp_start, n))
                return false;
            comp_start = i + 1;
        }
    }
    const uint8_t *p = (const uint8_t *)path;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t used = utf8_decode(p + i, len - i, &cp);
        if (used == 0 || !code_point_allowed(cp))
            return false;
        i += used;
    }
    return true;
}
