/* The pure lock-recipe rules (see recipe.h): parse child names, sort them by their 10-digit
 * sequence suffix (never by the whole name: the attempt id would scramble the order) and decide
 * between owning and watching. */
#include "lockrecipe/recipe.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"

static const char *const type_names[] = {
    [ZKL_T_LOCK] = "lock", [ZKL_T_READ] = "read", [ZKL_T_WRITE] = "write",
    [ZKL_T_SEM] = "sem",   [ZKL_T_ELECT] = "elect",
};

const char *zkl_type_name(enum zkl_node_type type)
{
    ZK_ASSERT(type < ZKL_T_UNKNOWN);
    return type_names[type];
}

enum zkl_node_type zkl_type_from_name(const char *name, size_t len)
{
    for (int t = 0; t < ZKL_T_UNKNOWN; t++) {
        if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0)
            return (enum zkl_node_type)t;
    }
    return ZKL_T_UNKNOWN;
}

static int all_match(const char *s, size_t n, int (*pred)(int))
{
    for (size_t i = 0; i < n; i++) {
        if (!pred((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

int zkl_parse_child(const char *name, struct zkl_child *out)
{
    const size_t tag = strlen(ZKL_NAME_TAG);
    size_t len = strlen(name);
    /* tag '-' hex '-' type(>=1) '-' digits */
    if (len < tag + 1 + ZKL_ATTEMPT_HEX + 1 + 1 + 1 + ZKL_SEQ_DIGITS)
        return -1;
    if (memcmp(name, ZKL_NAME_TAG "-", tag + 1) != 0)
        return -1;
    const char *hex = name + tag + 1;
    if (!all_match(hex, ZKL_ATTEMPT_HEX, isxdigit) || hex[ZKL_ATTEMPT_HEX] != '-')
        return -1;
    const char *digits = name + len - ZKL_SEQ_DIGITS;
    if (!all_match(digits, ZKL_SEQ_DIGITS, isdigit) || digits[-1] != '-')
        return -1;
    const char *type = hex + ZKL_ATTEMPT_HEX + 1;
    size_t type_len = (size_t)(digits - 1 - type);
    if (type_len == 0)
        return -1;
    out->name = name;
    out->seq = strtoll(digits, NULL, 10);
    out->type = zkl_type_from_name(type, type_len);
    return 0;
}

static int by_seq(const void *a, const void *b)
{
    const struct zkl_child *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

size_t zkl_sort_children(char *const *names, size_t n, struct zkl_child *out)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (zkl_parse_child(names[i], &out[count]) == 0)
            count++;
    }
    qsort(out, count, sizeof *out, by_seq);
    return count;
}

long zkl_find_prefix(const struct zkl_child *kids, size_t n, const char *prefix)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(kids[i].name, prefix, plen) == 0)
            return (long)i;
    }
    return -1;
}

size_t zkl_decision_size(unsigned permits)
{
    return sizeof(struct zkl_decision) + (permits ? permits : 1) * sizeof(size_t);
}

static void decide_read(const struct zkl_child *kids, size_t i, struct zkl_decision *out)
{
    for (size_t j = i; j-- > 0;) {
        if (kids[j].type != ZKL_T_READ) {
            out->verdict = ZKL_WATCH;
            out->nwatch = 1;
            out->watch[0] = j;
            return;
        }
    }
    out->verdict = ZKL_OWN;
}

static void decide_counting(size_t i, unsigned permits, struct zkl_decision *out)
{
    if (i < permits) {
        out->verdict = ZKL_OWN;
        return;
    }
    out->verdict = ZKL_WATCH;
    if (i == permits) { /* first waiter: any holder leaving makes room */
        for (size_t j = 0; j < permits; j++)
            out->watch[j] = j;
        out->nwatch = permits;
    } else {
        out->watch[0] = i - 1;
        out->nwatch = 1;
    }
}

void zkl_decide(const struct zkl_child *kids, size_t n, const char *me, enum zkl_node_type mytype,
                unsigned permits, struct zkl_decision *out)
{
    ZK_ASSERT(permits >= 1);
    out->nwatch = 0;
    out->verdict = ZKL_GONE;
    out->my_index = 0;
    size_t i = 0;
    while (i < n && strcmp(kids[i].name, me) != 0)
        i++;
    if (i == n)
        return;
    out->my_index = i;
    if (mytype == ZKL_T_READ)
        decide_read(kids, i, out);
    else
        decide_counting(i, mytype == ZKL_T_SEM ? permits : 1, out);
    ZK_ASSERT(out->verdict == ZKL_OWN || out->nwatch >= 1);
}
