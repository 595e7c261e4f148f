/* The ensemble's configuration as the member keeps it, and the reconfig request (ZooKeeper
 * 3.5+): which configuration is active (/zookeeper/config, or zoo.cfg's before any reconfig),
 * how a log entry says "this is a configuration" to the consensus core, how the leader turns a
 * ReconfigRequest into the txn that carries the next configuration, and what a member does when
 * a configuration becomes active. docs/membership.md. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "consensus/zab.h"
#include "member/member_internal.h"
#include "store/txnrec.h"

/* ---- configurations and the core ---- */

void reconfig_to_core(const struct ensemble *e, struct zab_members *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < e->n; i++) {
        const struct zk_member *m = &e->m[i];
        if (m->observer && out->n_observers < ZAB_MEMBERS_MAX)
            out->observers[out->n_observers++] = (uint32_t)m->id;
        else if (!m->observer && out->n_voters < ZAB_PEERS_MAX)
            out->voters[out->n_voters++] = (uint32_t)m->id;
    }
}

/* A SETCONFIG txn's configuration. 0, or -1 (not one, or malformed). */
static int config_of_payload(const uint8_t *payload, size_t len, struct ensemble *out)
{
    struct store_txn txn;
    if (txnrec_decode(payload, len, &txn) != 0 || txn.type != ZOP_SETCONFIG)
        return -1;
    struct jute_reader jr;
    jr_init(&jr, txn.body, txn.body_len);
    struct jute_bytes text = jr_bytes(&jr);
    char err[256];
    if (!jr_ok(&jr) || text.len < 0 ||
        ensemble_parse_text((const char *)text.ptr, (size_t)text.len, out, err, sizeof err) != 0)
        return -1;
    return 0;
}

/* zab_config.config_of: pure, as the core requires. */
int reconfig_config_of(void *ctx, struct zab_buf payload, struct zab_members *next)
{
    (void)ctx;
    struct ensemble e;
    if (config_of_payload(payload.data, payload.len, &e) != 0)
        return 0;
    reconfig_to_core(&e, next);
    return 1;
}

/* ---- the active configuration ---- */

static void publish(struct member *m)
{
    struct jute_writer text;
    jw_init(&text);
    ensemble_format(&m->ensemble, true, &text);
    if (!text.err && m->env.members_changed)
        m->env.members_changed(m->env.io, m->ensemble.m, m->ensemble.n, (const char *)text.data,
                               text.len, m->ensemble.version);
    jw_free(&text);
}

/* Which configuration to start with: the newer of /zookeeper/config (the last reconfig the
 * state holds) and zoo.cfg's (its dynamic file's version). Before any reconfig the node gets
 * zoo.cfg's, as each ZooKeeper member sets it from its own configuration. */
int reconfig_start(struct member *m)
{
    const struct zk_config *c = &m->cfg;
    struct ensemble from_cfg = {.n = 0, .version = c->config_version};
    for (int i = 0; i < c->n_members; i++)
        if (ensemble_put(&from_cfg, &c->members[i]) != 0)
            return -1;
    size_t len;
    const uint8_t *data = store_config_data(m->store, &len);
    struct ensemble stored;
    char err[256];
    if (data && ensemble_parse_text((const char *)data, len, &stored, err, sizeof err) == 0 &&
        stored.n > 0 && stored.version >= from_cfg.version) {
        m->ensemble = stored;
        if (!ensemble_same_members(&stored, &from_cfg))
            ZK_INFO("configuration version 0x%llx from the state (the zoo.cfg is older)",
                    (unsigned long long)stored.version);
        return 0;
    }
    m->ensemble = from_cfg;
    if (c->n_members == 0)
        return 0; /* standalone: no configuration node, as ZooKeeper's */
    struct jute_writer text;
    jw_init(&text);
    ensemble_format(&from_cfg, true, &text);
    int rc = text.err ? -1
                      : store_set_config_node(m->store, text.data, text.len, from_cfg.version);
    jw_free(&text);
    return rc;
}

static bool id_in(const uint32_t *ids, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* Does configuration e have exactly the members and roles the core says are active? */
static bool matches_core(const struct ensemble *e, const struct zab_members *active)
{
    struct zab_members mine;
    reconfig_to_core(e, &mine);
    if (mine.n_voters != active->n_voters || mine.n_observers != active->n_observers)
        return false;
    for (uint32_t i = 0; i < mine.n_voters; i++)
        if (!id_in(active->voters, active->n_voters, mine.voters[i]))
            return false;
    for (uint32_t i = 0; i < mine.n_observers; i++)
        if (!id_in(active->observers, active->n_observers, mine.observers[i]))
            return false;
    return true;
}

/* A member's address for id, from the configurations this member has seen. */
static const struct zk_member *known_address(const struct member *m, const struct ensemble *stored,
                                             int id)
{
    const struct zk_member *z = ensemble_find(stored, id);
    if (!z)
        z = ensemble_find(&m->ensemble, id);
    for (int i = 0; !z && i < m->cfg.n_members; i++)
        if (m->cfg.members[i].id == id)
            z = &m->cfg.members[i];
    return z;
}

/* The core's active configuration with addresses: /zookeeper/config's when it names the same
 * members (a reconfig just applied), else put together from what we know (a sync gave us the
 * leader's configuration, which our state does not spell out: a joiner's first sync). */
static int build_active(struct member *m, const struct zab_members *active, uint64_t zxid,
                        struct ensemble *out)
{
    size_t len;
    const uint8_t *data = store_config_data(m->store, &len);
    struct ensemble stored = {0};
    char err[256];
    if (data && ensemble_parse_text((const char *)data, len, &stored, err, sizeof err) == 0 &&
        matches_core(&stored, active)) {
        *out = stored;
        return 0;
    }
    *out = (struct ensemble){.n = 0, .version = (int64_t)zxid};
    for (uint32_t i = 0; i < active->n_voters + active->n_observers; i++) {
        bool observer = i >= active->n_voters;
        int id = (int)(observer ? active->observers[i - active->n_voters] : active->voters[i]);
        const struct zk_member *z = known_address(m, &stored, id);
        if (!z)
            return -1;
        struct zk_member copy = *z;
        copy.observer = observer;
        if (ensemble_put(out, &copy) != 0)
            return -1;
    }
    struct jute_writer text;
    jw_init(&text);
    ensemble_format(out, true, &text);
    int rc = text.err ? -1 : store_set_config_node(m->store, text.data, text.len, out->version);
    jw_free(&text);
    return rc;
}

/* A configuration became active (a reconfig committed, or a sync gave us the leader's): links
 * follow it, the dynamic configuration file is rewritten. */
void reconfig_activated(struct member *m, const struct zab_members *active, uint64_t zxid)
{
    struct ensemble e;
    if (build_active(m, active, zxid, &e) != 0) {
        ZK_ERROR("configuration 0x%llx is active but the address of one of its members is "
                 "unknown here; links stay as they are", (unsigned long long)zxid);
        return;
    }
    bool changed = !ensemble_same_members(&e, &m->ensemble) || e.version != m->ensemble.version;
    m->ensemble = e;
    if (!changed)
        return;
    bool in = ensemble_find(&e, m->cfg.myid) != NULL;
    ZK_INFO("configuration 0x%llx active: %d members, %d voters%s", (unsigned long long)e.version,
            e.n, ensemble_voters(&e), in ? "" : "; this member is no longer one of them");
    publish(m);
}

/* A static configuration (version 0) takes the first established epoch's zxid as its version,
 * as ZooKeeper's leader gives it one (ZOOKEEPER-1783: version=100000000 after the first
 * election), and the dynamic file is written then. */
void reconfig_established(struct member *m, uint32_t epoch)
{
    if (m->cfg.n_members == 0 || m->ensemble.version != 0)
        return;
    m->ensemble.version = (int64_t)((uint64_t)epoch << 32);
    struct jute_writer text;
    jw_init(&text);
    ensemble_format(&m->ensemble, true, &text);
    if (text.err || store_set_config_node(m->store, text.data, text.len, m->ensemble.version))
        ZK_WARN("out of memory setting /zookeeper/config's version");
    jw_free(&text);
    publish(m);
}

/* ---- the leader's side of a reconfig request ---- */

struct reconfig_request {
    char *joining, *leaving, *new_members; /* NULL when absent */
    int64_t cur_config_id;
};

static char *dup_ustring(struct jute_bytes b)
{
    return b.len < 0 ? NULL : zk_strndup((const char *)(b.ptr ? b.ptr : (const uint8_t *)""),
                                         (size_t)b.len);
}

static int parse_request(const struct store_txn *txn, struct reconfig_request *rq)
{
    struct jute_reader jr;
    jr_init(&jr, txn->body, txn->body_len);
    struct jute_bytes j = jr_bytes(&jr), l = jr_bytes(&jr), nm = jr_bytes(&jr);
    rq->cur_config_id = jr_long(&jr);
    if (!jr_ok(&jr))
        return ZE_MARSHALLINGERROR;
    rq->joining = dup_ustring(j);
    rq->leaving = dup_ustring(l);
    rq->new_members = dup_ustring(nm);
    if ((j.len >= 0 && !rq->joining) || (l.len >= 0 && !rq->leaving) ||
        (nm.len >= 0 && !rq->new_members))
        return ZE_SYSTEMERROR;
    return ZE_OK;
}

static void free_request(struct reconfig_request *rq)
{
    zk_free(rq->joining);
    zk_free(rq->leaving);
    zk_free(rq->new_members);
}

static int32_t core_verdict(int rc)
{
    switch (rc) {
    case ZAB_OK: return ZE_OK;
    case ZAB_ERECONFIG: return ZE_RECONFIGINPROGRESS;
    case ZAB_ENOQUORUM: return ZE_NEWCONFIGNOQUORUM;
    case ZAB_ENOLEADER: return ZE_CONNECTIONLOSS;
    default: return ZE_BADARGUMENTS;
    }
}

/* Authorization as ZooKeeper's: super, skipACL, or WRITE on /zookeeper/config. */
static bool may_reconfigure(const struct member *m, const struct store_txn *txn)
{
    return m->cfg.sec.skip_acl ||
           store_config_allows(m->store, ZPERM_WRITE, txn->auth, txn->auth_len);
}

int32_t reconfig_prepare(struct member *m, const struct zab *core, const struct store_txn *txn,
                         struct jute_writer *text)
{
    if (!m->cfg.reconfig_enabled)
        return ZE_RECONFIGDISABLED;
    struct zab_members current;
    reconfig_to_core(&m->ensemble, &current);
    if (zab_check_config_change(core, &current) == ZAB_ERECONFIG)
        return ZE_RECONFIGINPROGRESS; /* checked first, as ZooKeeper does */
    struct reconfig_request rq = {0};
    int32_t err = parse_request(txn, &rq);
    struct ensemble next;
    char why[256] = "";
    if (err == ZE_OK)
        err = ensemble_reconfigure(&m->ensemble, rq.joining, rq.leaving, rq.new_members,
                                   rq.cur_config_id, m->cfg.standalone_enabled ? 2 : 1, &next,
                                   why, sizeof why);
    free_request(&rq);
    if (err == ZE_OK) {
        struct zab_members members;
        reconfig_to_core(&next, &members);
        err = core_verdict(zab_check_config_change(core, &members));
        if (err == ZE_BADARGUMENTS)
            snprintf(why, sizeof why, "the consensus core refuses this configuration");
    }
    /* the permission comes last, as in ZooKeeper's PrepRequestProcessor */
    if (err == ZE_OK && !may_reconfigure(m, txn))
        err = ZE_NOAUTH;
    if (err == ZE_OK && ensemble_check_ids(&next, why, sizeof why) != 0)
        err = ZE_BADARGUMENTS; /* an id ZooKeeper takes and we cannot serve */
    if (err != ZE_OK) {
        ZK_WARN_RL("reconfig of session 0x%llx refused: %s%s%s",
                   (unsigned long long)txn->session_id, zk_err_name(err), why[0] ? ": " : "", why);
        return err;
    }
    struct jute_writer lines;
    jw_init(&lines);
    ensemble_format(&next, false, &lines);
    jw_bytes(text, lines.data, (int32_t)lines.len);
    int bad = lines.err;
    jw_free(&lines);
    return bad || text->err ? ZE_SYSTEMERROR : ZE_OK;
}
