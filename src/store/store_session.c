/* The replicated session table: id -> timeout, password and the session's ephemeral nodes.
 * Sessions are part of the digest and of snapshots. */
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

static void session_free_link(struct chain_link *l, void *ctx)
{
    (void)ctx;
    zk_free(CHAIN_ITEM(l, struct session, link));
}

void session_table_free(struct chain_table *t)
{
    chain_destroy(t, session_free_link, NULL);
}

struct session *session_find(const struct store *st, int64_t id)
{
    uint64_t hash = store_mix64((uint64_t)id);
    for (struct chain_link *l = chain_bucket(&st->sessions, hash); l; l = l->next) {
        struct session *s = CHAIN_ITEM(l, struct session, link);
        if (l->hash == hash && s->id == id)
            return s;
    }
    return NULL;
}

void session_link(struct store *st, struct session *s)
{
    ZK_ASSERT(session_find(st, s->id) == NULL);
    s->link.hash = store_mix64((uint64_t)s->id);
    chain_insert(&st->sessions, &s->link);
    st->digest += store_session_digest(s);
}

void session_unlink(struct store *st, struct session *s)
{
    ZK_ASSERT(s->ephemerals.count == 0 && s->link.hash == store_mix64((uint64_t)s->id));
    chain_remove(&st->sessions, &s->link);
    st->digest -= store_session_digest(s);
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
    size_t b = 0;
    const struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &st->sessions) {
        const struct session *s = CHAIN_ITEM(l, const struct session, link);
        fn(ctx, s->id, s->timeout_ms);
    }
}

size_t store_session_count(const struct store *st) { return st->sessions.count; }

void store_ephemerals_foreach(const struct store *st,
                              void (*fn)(void *ctx, int64_t session_id, const char *path,
                                         size_t len),
                              void *ctx)
{
    size_t b = 0;
    const struct chain_link *l;
    CHAIN_FOR_EACH(l, b, &st->sessions) {
        const struct session *s = CHAIN_ITEM(l, const struct session, link);
        for (const struct znode *n = s->ephemerals.head; n; n = n->owner_next)
            fn(ctx, s->id, n->path, n->path_len);
    }
}
