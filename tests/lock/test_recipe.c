/* Unit tests of the pure recipe rules (lockrecipe/recipe.c), no server needed: name parsing,
 * ordering by sequence suffix, and the own/watch decision for every lock kind. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "lockrecipe/recipe.h"

#define HEX_A "0123456789abcdef0123456789abcdef"
#define HEX_B "fedcba9876543210fedcba9876543210"

static char *N(char *buf, const char *hex, const char *type, int seq)
{
    sprintf(buf, "zkl-%s-%s-%010d", hex, type, seq);
    return buf;
}

Test(recipe, parse_names)
{
    struct zkl_child k;
    char b[128];
    cr_assert_eq(zkl_parse_child(N(b, HEX_A, "lock", 42), &k), 0);
    cr_assert_eq(k.seq, 42);
    cr_assert_eq(k.type, ZKL_T_LOCK);
    cr_assert_eq(zkl_parse_child(N(b, HEX_A, "read", 7), &k), 0);
    cr_assert_eq(k.type, ZKL_T_READ);
    cr_assert_eq(zkl_parse_child("lock-0000000001", &k), -1, "foreign names are ignored");
    cr_assert_eq(zkl_parse_child("zkl-xyz-lock-0000000001", &k), -1);
    cr_assert_eq(zkl_parse_child("zkl-" HEX_A "-lock-00000001", &k), -1);
}

Test(recipe, sorts_by_sequence_not_name)
{
    char a[128], b[128], c[128];
    char *names[] = {N(a, HEX_A, "lock", 3), N(b, HEX_B, "lock", 1), N(c, HEX_A, "lock", 2),
                     "junk"};
    struct zkl_child kids[4];
    size_t n = zkl_sort_children(names, 4, kids);
    cr_assert_eq(n, 3);
    cr_assert_eq(kids[0].seq, 1);
    cr_assert_eq(kids[1].seq, 2);
    cr_assert_eq(kids[2].seq, 3);
    cr_assert_eq(zkl_find_prefix(kids, n, "zkl-" HEX_B "-"), 0);
    cr_assert_eq(zkl_find_prefix(kids, n, "zkl-ffff"), -1);
}

static size_t decide(const char *types[], size_t n, size_t me, unsigned permits,
                     struct zkl_decision *d, char names[][128])
{
    char *ptrs[8];
    static const char *hex[] = {HEX_A, HEX_B};
    for (size_t i = 0; i < n; i++)
        ptrs[i] = N(names[i], hex[i % 2], types[i], (int)(i + 10));
    struct zkl_child kids[8];
    size_t k = zkl_sort_children(ptrs, n, kids);
    enum zkl_node_type t = kids[me].type;
    zkl_decide(kids, k, names[me], t, permits, d);
    return k;
}

Test(recipe, exclusive_watches_predecessor_only)
{
    char names[8][128];
    _Alignas(struct zkl_decision) char mem[256];
    struct zkl_decision *d = (void *)mem;
    const char *t[] = {"lock", "lock", "lock", "lock"};
    decide(t, 4, 0, 1, d, names);
    cr_assert_eq(d->verdict, ZKL_OWN);
    decide(t, 4, 3, 1, d, names);
    cr_assert_eq(d->verdict, ZKL_WATCH);
    cr_assert_eq(d->nwatch, 1);
    cr_assert_eq(d->watch[0], 2);
}

Test(recipe, read_write)
{
    char names[8][128];
    _Alignas(struct zkl_decision) char mem[256];
    struct zkl_decision *d = (void *)mem;
    const char *t[] = {"read", "read", "write", "read", "read"};
    decide(t, 5, 1, 1, d, names);
    cr_assert_eq(d->verdict, ZKL_OWN, "readers share");
    decide(t, 5, 2, 1, d, names);
    cr_assert_eq(d->verdict, ZKL_WATCH);
    cr_assert_eq(d->watch[0], 1, "writer watches its immediate predecessor");
    decide(t, 5, 4, 1, d, names);
    cr_assert_eq(d->verdict, ZKL_WATCH);
    cr_assert_eq(d->watch[0], 2, "reader watches the last writer before it");
}

Test(recipe, semaphore)
{
    char names[8][128];
    _Alignas(struct zkl_decision) char mem[256];
    struct zkl_decision *d = (void *)mem;
    const char *t[] = {"sem", "sem", "sem", "sem", "sem"};
    decide(t, 5, 1, 2, d, names);
    cr_assert_eq(d->verdict, ZKL_OWN);
    decide(t, 5, 2, 2, d, names);
    cr_assert_eq(d->verdict, ZKL_WATCH);
    cr_assert_eq(d->nwatch, 2, "first waiter watches every holder");
    cr_assert_eq(d->watch[0], 0);
    cr_assert_eq(d->watch[1], 1);
    decide(t, 5, 4, 2, d, names);
    cr_assert_eq(d->nwatch, 1);
    cr_assert_eq(d->watch[0], 3);
}

Test(recipe, gone_when_my_node_is_missing)
{
    char a[128];
    char *names[] = {N(a, HEX_A, "lock", 1)};
    struct zkl_child kids[1];
    size_t n = zkl_sort_children(names, 1, kids);
    _Alignas(struct zkl_decision) char mem[256];
    struct zkl_decision *d = (void *)mem;
    zkl_decide(kids, n, "zkl-" HEX_B "-lock-0000000002", ZKL_T_LOCK, 1, d);
    cr_assert_eq(d->verdict, ZKL_GONE);
}
