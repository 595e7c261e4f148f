/* ACL lists: parsing and ZooKeeper's fix-up (dedupe, `auth` expansion, scheme validation) and
 * interning of identical normalized lists with a refcount, so nodes share one copy.
 * enforcement: acl_check, used by store_write.c for writes and store_read.c for reads. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/assert.h"
#include "store/store_internal.h"

struct acl_entry {
    int32_t perms;
    struct jute_bytes scheme;
    struct jute_bytes id;
};

#define ACL_MIN_ENTRY_BYTES 12 /* int perms + two length prefixes */
#define ACL_STACK_ENTRIES 16

static void acl_free_link(struct chain_link *l, void *ctx)
{
    (void)ctx;
    zk_free(CHAIN_ITEM(l, struct acl_list, link));
}

void acl_table_free(struct chain_table *t)
{
    chain_destroy(t, acl_free_link, NULL);
}

struct acl_list *acl_intern(struct chain_table *t, const uint8_t *bytes, uint32_t len)
{
    uint64_t hash = store_hash_bytes(bytes, len);
    for (struct chain_link *l = chain_bucket(t, hash); l; l = l->next) {
        struct acl_list *a = CHAIN_ITEM(l, struct acl_list, link);
        if (l->hash == hash && a->len == len && memcmp(a->bytes, bytes, len) == 0) {
            a->refcount++;
            return a;
        }
    }
    struct acl_list *a = zk_malloc(sizeof *a + len);
    if (!a)
        return NULL;
    a->link = (struct chain_link){NULL, hash};
    a->refcount = 1;
    a->len = len;
    a->snap_index = 0;
    memcpy(a->bytes, bytes, len);
    chain_insert(t, &a->link);
    chain_maybe_grow(t);
    return a;
}

void acl_release(struct chain_table *t, struct acl_list *acl)
{
    ZK_ASSERT(acl->refcount > 0);
    if (--acl->refcount > 0)
        return;
    chain_remove(t, &acl->link);
    zk_free(acl);
}

struct jute_bytes acl_skip_vector(struct jute_reader *jr)
{
    struct jute_bytes span = {jr->data + jr->pos, 0};
    size_t start = jr->pos;
    int32_t count = jr_vector_count(jr, ACL_MIN_ENTRY_BYTES);
    for (int32_t i = 0; i < count && jr_ok(jr); i++) {
        (void)jr_int(jr);
        (void)jr_bytes(jr);
        (void)jr_bytes(jr);
    }
    if (!jr_ok(jr))
        return (struct jute_bytes){NULL, -1};
    span.len = (int32_t)(jr->pos - start);
    return span;
}

static bool bytes_eq(struct jute_bytes b, const char *s)
{
    size_t n = strlen(s);
    return b.len >= 0 && (size_t)b.len == n && memcmp(b.ptr, s, n) == 0;
}

static bool bytes_same(struct jute_bytes a, struct jute_bytes b)
{
    int32_t la = a.len < 0 ? 0 : a.len, lb = b.len < 0 ? 0 : b.len;
    return la == lb && (la == 0 || memcmp(a.ptr, b.ptr, (size_t)la) == 0);
}

/* DigestAuthenticationProvider.isValid: Java id.split(":").length > 1. */
static bool digest_id_valid(struct jute_bytes id)
{
    const char *colon = id.len > 0 ? memchr(id.ptr, ':', (size_t)id.len) : NULL;
    if (!colon)
        return false;
    for (const char *p = colon; p < (const char *)id.ptr + id.len; p++)
        if (*p != ':')
            return true;
    return false;
}

/* IPAuthenticationProvider.isValid: address[/bits] with bits within the address size. */
/* SASLAuthenticationProvider.isValid: a Kerberos-style name, user[/host]@REALM, or a name with
 * no '@' at all. */
static bool sasl_id_valid(struct jute_bytes id)
{
    if (id.len < 0)
        return false;
    const uint8_t *at = memchr(id.ptr, '@', (size_t)id.len);
    if (!at)
        return true;
    size_t before = (size_t)(at - id.ptr), after = (size_t)id.len - before - 1;
    if (memchr(at + 1, '@', after) || memchr(at + 1, '/', after))
        return false;
    const uint8_t *slash = memchr(id.ptr, '/', before);
    return !slash || !memchr(slash + 1, '/', before - (size_t)(slash - id.ptr) - 1);
}

/* X509AuthenticationProvider.isValid (an X.500 name): empty, or attribute=value pairs. */
static bool x509_id_valid(struct jute_bytes id)
{
    return id.len == 0 || (id.len > 0 && memchr(id.ptr, '=', (size_t)id.len) != NULL);
}

static bool ip_id_valid(struct jute_bytes id)
{
    char buf[64];
    if (id.len <= 0 || id.len >= (int32_t)sizeof buf)
        return false;
    memcpy(buf, id.ptr, (size_t)id.len);
    buf[id.len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    unsigned char addr[16];
    int max_bits;
    if (inet_pton(AF_INET, buf, addr) == 1)
        max_bits = 32;
    else if (inet_pton(AF_INET6, buf, addr) == 1)
        max_bits = 128;
    else
        return false;
    if (!slash)
        return true;
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    return slash[1] != '\0' && *end == '\0' && bits >= 0 && bits <= max_bits;
}

static void write_entry(struct jute_writer *jw, int32_t perms, struct jute_bytes scheme,
                        struct jute_bytes id)
{
    jw_int(jw, perms);
    jw_bytes(jw, scheme.ptr, scheme.len < 0 ? 0 : scheme.len);
    jw_bytes(jw, id.ptr, id.len < 0 ? 0 : id.len);
}

/* Does the caller's ip (an "ip" id) fall in the ACL's "a.b.c.d[/bits]" range? */
static bool ip_matches(struct jute_bytes acl_id, struct jute_bytes caller)
{
    char want[64], have[64];
    if (acl_id.len <= 0 || acl_id.len >= 64 || caller.len <= 0 || caller.len >= 64)
        return false;
    memcpy(want, acl_id.ptr, (size_t)acl_id.len);
    want[acl_id.len] = '\0';
    memcpy(have, caller.ptr, (size_t)caller.len);
    have[caller.len] = '\0';
    char *slash = strchr(want, '/');
    if (slash)
        *slash = '\0';
    unsigned char a[16], b[16];
    int family = strchr(want, ':') ? AF_INET6 : AF_INET;
    int max_bits = family == AF_INET ? 32 : 128;
    if (inet_pton(family, want, a) != 1 || inet_pton(family, have, b) != 1)
        return false;
    long bits = slash ? strtol(slash + 1, NULL, 10) : max_bits;
    if (bits < 0 || bits > max_bits)
        return false;
    for (long i = 0; i < bits; i++) {
        int mask = 0x80 >> (i % 8);
        if ((a[i / 8] & mask) != (b[i / 8] & mask))
            return false;
    }
    return true;
}

/* Does one of the caller's ids (jute vector<Id>) satisfy an ACL entry of this scheme/id? */
static bool caller_matches(struct jute_bytes scheme, struct jute_bytes id, const uint8_t *ids,
                           uint32_t ids_len)
{
    struct jute_reader jr;
    jr_init(&jr, ids, ids_len);
    int32_t count = jr_vector_count(&jr, 8);
    for (int32_t i = 0; i < count && jr_ok(&jr); i++) {
        struct jute_bytes s = jr_bytes(&jr);
        struct jute_bytes v = jr_bytes(&jr);
        if (!jr_ok(&jr) || s.len != scheme.len || (s.len > 0 && memcmp(s.ptr, scheme.ptr, (size_t)s.len)))
            continue;
        if (bytes_eq(scheme, "ip") ? ip_matches(id, v)
                                    : v.len == id.len && (v.len <= 0 || !memcmp(v.ptr, id.ptr, (size_t)v.len)))
            return true;
    }
    return false;
}

bool acl_ids_have_super(const uint8_t *ids, uint32_t ids_len)
{
    struct jute_reader jr;
    jr_init(&jr, ids, ids_len);
    int32_t count = jr_vector_count(&jr, 8);
    for (int32_t i = 0; i < count && jr_ok(&jr); i++) {
        struct jute_bytes s = jr_bytes(&jr);
        (void)jr_bytes(&jr);
        if (jr_ok(&jr) && bytes_eq(s, "super"))
            return true;
    }
    return false;
}

int32_t acl_check(const struct acl_list *acl, int32_t perm, const uint8_t *ids, uint32_t ids_len)
{
    if (!acl || acl_ids_have_super(ids, ids_len))
        return 0;
    struct jute_reader jr;
    jr_init(&jr, acl->bytes, acl->len);
    int32_t count = jr_vector_count(&jr, ACL_MIN_ENTRY_BYTES);
    if (count == 0)
        return 0; /* an empty ACL allows everything, as in ZooKeeper */
    for (int32_t i = 0; i < count && jr_ok(&jr); i++) {
        int32_t perms = jr_int(&jr);
        struct jute_bytes scheme = jr_bytes(&jr);
        struct jute_bytes id = jr_bytes(&jr);
        if (!jr_ok(&jr) || !(perms & perm))
            continue;
        if (bytes_eq(scheme, "world") && bytes_eq(id, "anyone"))
            return 0;
        if (caller_matches(scheme, id, ids, ids_len))
            return 0;
    }
    return ZE_NOAUTH;
}

bool store_acl_allows_read(const struct acl_list *acl, const uint8_t *ids, uint32_t ids_len)
{
    return acl_check(acl, ZPERM_READ, ids, ids_len) == 0;
}

void acl_write_masked(struct jute_writer *out, const struct acl_list *acl)
{
    struct jute_reader jr;
    jr_init(&jr, acl->bytes, acl->len);
    int32_t count = jr_vector_count(&jr, ACL_MIN_ENTRY_BYTES);
    jw_int(out, count);
    for (int32_t i = 0; i < count && jr_ok(&jr); i++) {
        int32_t perms = jr_int(&jr);
        struct jute_bytes scheme = jr_bytes(&jr);
        struct jute_bytes id = jr_bytes(&jr);
        if (!bytes_eq(scheme, "digest")) {
            write_entry(out, perms, scheme, id);
            continue;
        }
        /* digest ids are shown as user:x to callers without ADMIN (ZooKeeper 3.8) */
        const uint8_t *colon = id.len > 0 ? memchr(id.ptr, ':', (size_t)id.len) : NULL;
        int32_t user_len = colon ? (int32_t)(colon - id.ptr) : (id.len > 0 ? id.len : 0);
        jw_int(out, perms);
        jw_bytes(out, scheme.ptr, scheme.len);
        jw_int(out, user_len + 2);
        jw_raw(out, id.ptr, (size_t)user_len);
        jw_raw(out, ":x", 2);
    }
}

/* Expand one `auth` entry into the session's authenticated ids. Returns how many were added. */
static int32_t expand_auth(struct jute_writer *jw, int32_t perms, const uint8_t *auth,
                           uint32_t auth_len)
{
    if (!auth || auth_len == 0)
        return 0;
    struct jute_reader jr;
    jr_init(&jr, auth, auth_len);
    int32_t count = jr_vector_count(&jr, 8);
    int32_t added = 0;
    for (int32_t i = 0; i < count && jr_ok(&jr); i++) {
        struct jute_bytes scheme = jr_bytes(&jr);
        struct jute_bytes id = jr_bytes(&jr);
        /* ip and super ids are not "authenticated" providers in ZooKeeper's fixupACL, and the
         * enforceQuota mark is no identity at all. */
        if (!jr_ok(&jr) || scheme.len <= 0 || bytes_eq(scheme, "ip") || bytes_eq(scheme, "super") ||
            store_is_quota_mark(scheme))
            continue;
        write_entry(jw, perms, scheme, id);
        added++;
    }
    return added;
}

/* Validate one deduplicated entry and append its normalized form. Returns entries written, or
 * a negative ZE_INVALIDACL. */
static int32_t fixup_entry(struct jute_writer *jw, const struct acl_entry *e, const uint8_t *auth,
                           uint32_t auth_len)
{
    if (e->scheme.len < 0)
        return ZE_INVALIDACL;
    if (bytes_eq(e->scheme, "world") && bytes_eq(e->id, "anyone")) {
        write_entry(jw, e->perms, e->scheme, e->id);
        return 1;
    }
    if (bytes_eq(e->scheme, "auth")) {
        int32_t added = expand_auth(jw, e->perms, auth, auth_len);
        return added > 0 ? added : ZE_INVALIDACL;
    }
    /* sasl and x509 are valid on every member whatever its configuration: this runs at apply
     * time and must give every member the same answer. */
    bool valid = (bytes_eq(e->scheme, "digest") && digest_id_valid(e->id)) ||
                 (bytes_eq(e->scheme, "ip") && ip_id_valid(e->id)) ||
                 (bytes_eq(e->scheme, "sasl") && sasl_id_valid(e->id)) ||
                 (bytes_eq(e->scheme, "x509") && x509_id_valid(e->id));
    if (!valid)
        return ZE_INVALIDACL;
    write_entry(jw, e->perms, e->scheme, e->id);
    return 1;
}

static uint64_t entry_hash(const struct acl_entry *e)
{
    uint64_t h = store_hash_bytes(e->scheme.ptr, e->scheme.len > 0 ? (size_t)e->scheme.len : 0);
    h ^= store_hash_bytes(e->id.ptr, e->id.len > 0 ? (size_t)e->id.len : 0) * 31;
    return h ^ ((uint64_t)(uint32_t)e->perms * 0x9e3779b97f4a7c15ULL) ^ (e->scheme.len < 0);
}

static bool entry_same(const struct acl_entry *a, const struct acl_entry *b)
{
    return a->perms == b->perms && bytes_same(a->scheme, b->scheme) && bytes_same(a->id, b->id) &&
           (a->scheme.len < 0) == (b->scheme.len < 0);
}

/* Parse the entries and drop duplicates (ZooKeeper's removeDuplicates keeps the first), in
 * linear time through a hash set of entry indexes: this runs at apply time on every member. */
static int32_t parse_entries(struct jute_bytes vec, struct acl_entry *entries, int32_t max,
                             int32_t *set, size_t set_cap, int32_t *count_out)
{
    struct jute_reader jr;
    jr_init(&jr, vec.ptr, (size_t)vec.len);
    int32_t count = jr_vector_count(&jr, ACL_MIN_ENTRY_BYTES);
    int32_t kept = 0;
    for (size_t i = 0; i < set_cap; i++)
        set[i] = -1;
    for (int32_t i = 0; i < count && jr_ok(&jr); i++) {
        struct acl_entry e = {jr_int(&jr), jr_bytes(&jr), jr_bytes(&jr)};
        size_t slot = (size_t)entry_hash(&e) & (set_cap - 1);
        while (set[slot] >= 0 && !entry_same(&entries[set[slot]], &e))
            slot = (slot + 1) & (set_cap - 1);
        if (set[slot] >= 0)
            continue;
        ZK_ASSERT(kept < max);
        set[slot] = kept;
        entries[kept++] = e;
    }
    *count_out = kept;
    return jr_ok(&jr) ? 0 : ZE_MARSHALLINGERROR;
}

static int32_t vector_count_of(struct jute_bytes vec)
{
    struct jute_reader jr;
    jr_init(&jr, vec.ptr, (size_t)vec.len);
    int32_t count = jr_vector_count(&jr, ACL_MIN_ENTRY_BYTES);
    return jr_ok(&jr) ? count : -1;
}

int32_t acl_vector_check(struct jute_bytes acl_vec)
{
    int32_t total = acl_vec.len >= 4 ? vector_count_of(acl_vec) : -1;
    if (total < 0)
        return ZE_MARSHALLINGERROR;
    return total == 0 || total > ACL_ENTRIES_MAX ? ZE_INVALIDACL : 0;
}

int acl_from_request(struct store *st, struct jute_bytes acl_vec, const uint8_t *auth,
                     uint32_t auth_len, struct acl_list **out)
{
    *out = NULL;
    int32_t rc = acl_vector_check(acl_vec);
    if (rc)
        return rc;
    int32_t total = vector_count_of(acl_vec);
    struct acl_entry stack_entries[ACL_STACK_ENTRIES];
    int32_t stack_set[ACL_STACK_ENTRIES * 2];
    size_t set_cap = 2;
    while (set_cap < (size_t)total * 2)
        set_cap *= 2;
    struct acl_entry *entries = stack_entries;
    int32_t *set = stack_set;
    if (total > ACL_STACK_ENTRIES) {
        entries = zk_malloc((size_t)total * sizeof *entries);
        set = zk_malloc(set_cap * sizeof *set);
        if (!entries || !set) {
            zk_free(entries);
            zk_free(set);
            return STORE_ERR_NOMEM;
        }
    }
    int32_t kept = 0;
    rc = parse_entries(acl_vec, entries, total, set, set_cap, &kept);
    struct jute_writer *jw = &st->scratch;
    jw_reset(jw);
    jw_int(jw, 0);
    int32_t written = 0;
    for (int32_t i = 0; i < kept && rc == 0; i++) {
        int32_t n = fixup_entry(jw, &entries[i], auth, auth_len);
        if (n < 0)
            rc = n;
        else
            written += n;
    }
    if (entries != stack_entries) {
        zk_free(entries);
        zk_free(set);
    }
    if (rc != 0)
        return rc;
    if (jw->err)
        return STORE_ERR_NOMEM;
    ZK_ASSERT(written > 0);
    jw_put_int_at(jw, 0, written);
    *out = acl_intern(&st->acls, jw->data, (uint32_t)jw->len);
    return *out ? 0 : STORE_ERR_NOMEM;
}
