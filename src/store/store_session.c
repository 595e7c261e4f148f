/* The replicated session table: id -> timeout, password and the session's ephemeral nodes.
 * Sessions are part of the digest and of snapshots. */
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

static size_t session_bucket(const struct session_table *t, int64_t id)
{
    return store_mix64((uint64_t)id) & t->mask;
}

int session_table_init(struct session_table *t, size_t buckets)
{
    ZK_ASSERT(buckets > 0 && (buckets & (buckets - 1)) == 0);
    t->buckets = zk_calloc(buckets, sizeof *t->buckets);
    if (!t->buckets)
        return -1;
    t->mask = buckets - 1;
    t->count = 0;
    return 0;
}

void session_table_free(struct session_table *t)
{
    if (!t->buckets)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        struct session *s = t->buckets[i];
        while (s) {
            struct session *next = s->hash_next;
            zk_free(s);
            s = next;
        }
    }
    zk_free(t->buckets);
    memset(t, 0, sizeof *t);
}

struct session *session_find(const struct store *st, int64_t id)
{
    const struct session_table *t = &st->sessions;
    for (struct session *s = t->buckets[session_bucket(t, id)]; s; s = s->hash_next)
        if (s->id == id)
            return s;
    return NULL;
}

void session_link(struct store *st, struct session *s)
{
    ZK_ASSERT(session_find(st, s->id) == NULL);
    size_t b = session_bucket(&st->sessions, s->id);
    s->hash_next = st->sessions.buckets[b];
    st->sessions.buckets[b] = s;
    st->sessions.count++;
    st->digest += store_session_digest(s);
}

void session_unlink(struct store *st, struct session *s)
{
    ZK_ASSERT(s->ephemerals.count == 0);
    struct session **pp = &st->sessions.buckets[session_bucket(&st->sessions, s->id)];
    while (*pp != s) {
        ZK_ASSERT(*pp != NULL);
        pp = &(*pp)->hash_next;
    }
    *pp = s->hash_next;
    s->hash_next = NULL;
    st->sessions.count--;
    st->digest -= store_session_digest(s);
}

void session_table_maybe_grow(struct session_table *t)
{
    if (t->count <= t->mask + 1)
        return;
    size_t new_size = (t->mask + 1) * 2;
    struct session **nb = zk_calloc(new_size, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        struct session *s = t->buckets[i];
        while (s) {
            struct session *next = s->hash_next;
            size_t b = store_mix64((uint64_t)s->id) & (new_size - 1);
            s->hash_next = nb[b];
            nb[b] = s;
            s = next;
        }
    }
    zk_free(t->buckets);
    t->buckets = nb;
    t->mask = new_size - 1;
}

bool store_session_exists(const struct store *st, int64_t session_id)
{
    return session_find(st, session_id) != NULL;
}

bool store_session_get(const struct store *st, int64_t session_id, int32_t *timeout_ms,
                       uint8_t passwd[ZK_PASSWD_LEN])
{
    const struct session *s = session_find(st, session_id);
    if (!s)
        return false;
    if (timeout_ms)
        *timeout_ms = s->timeout_ms;
    if (passwd)
        memcpy(passwd, s->passwd, ZK_PASSWD_LEN);
    return true;
}

void store_session_foreach(const struct store *st,
                           void (*fn)(void *ctx, int64_t session_id, int32_t timeout_ms),
                           void *ctx)
{
    const struct session_table *t = &st->sessions;
    for (size_t i = 0; i <= t->mask; i++)
        for (const struct session *s = t->buckets[i]; s; s = s->hash_next)
            fn(ctx, s->id, s->timeout_ms);
}

size_t store_session_count(const struct store *st) { return st->sessions.count; }
