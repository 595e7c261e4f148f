/* Configurations: which members vote, which quorums an action needs while a configuration change
 * is pending, how a config entry becomes active, and the configuration a sync hands a learner
 * (docs/consensus.md, "Membership changes and observers"). */
#include <string.h>

#include "common/assert.h"
#include "consensus/internal.h"

bool mem_voter(const struct zab_members *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->n_voters; i++) {
        if (m->voters[i] == id) {
            return true;
        }
    }
    return false;
}

bool mem_has(const struct zab_members *m, uint32_t id)
{
    if (mem_voter(m, id)) {
        return true;
    }
    for (uint32_t i = 0; i < m->n_observers; i++) {
        if (m->observers[i] == id) {
            return true;
        }
    }
    return false;
}

bool mem_equal(const struct zab_members *a, const struct zab_members *b)
{
    return a->n_voters == b->n_voters && a->n_observers == b->n_observers &&
           memcmp(a->voters, b->voters, a->n_voters * sizeof(a->voters[0])) == 0 &&
           memcmp(a->observers, b->observers, a->n_observers * sizeof(a->observers[0])) == 0;
}

bool zab_members_valid(const struct zab_members *m)
{
    if (m->n_voters < 1 || m->n_voters > ZAB_PEERS_MAX || m->n_observers > ZAB_MEMBERS_MAX ||
        m->n_voters + m->n_observers > ZAB_MEMBERS_MAX) {
        return false;
    }
    uint32_t ids[ZAB_PEERS_MAX + ZAB_MEMBERS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n_voters; i++) {
        ids[n++] = m->voters[i];
    }
    for (uint32_t i = 0; i < m->n_observers; i++) {
        ids[n++] = m->observers[i];
    }
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] == 0) {
            return false;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (ids[j] == ids[i]) {
                return false;
            }
        }
    }
    return true;
}

bool counted(const struct zab *z, uint32_t id)
{
    return id != 0 && (mem_voter(&z->cur, id) || (z->has_pend && mem_voter(&z->pend, id)));
}

/* Any voter of cur or pend may lead: the leader must hold the most recent history of its
 * quorums, and that may be a voter of either side of a pending change. */
bool candidate(const struct zab *z)
{
    return counted(z, z->cfg.my_id);
}

void idset_add(struct idset *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->ids[i] == id) {
            return;
        }
    }
    ZK_ASSERT(s->n < sizeof(s->ids) / sizeof(s->ids[0]));
    s->ids[s->n++] = id;
}

bool quorum_in(const struct zab_members *m, const struct idset *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        n += mem_voter(m, s->ids[i]);
    }
    return n >= zab_quorum_size(m->n_voters);
}

bool has_quorum(const struct zab *z, const struct idset *s)
{
    return quorum_in(&z->cur, s) && (!z->has_pend || quorum_in(&z->pend, s));
}

enum zab_role learner_role(const struct zab *z)
{
    return mem_has(&z->cur, z->cfg.my_id) && !mem_voter(&z->cur, z->cfg.my_id) ? ZAB_OBSERVING
                                                                               : ZAB_FOLLOWING;
}

bool is_learner(const struct zab *z)
{
    return z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING;
}

bool payload_config(const struct zab *z, struct zab_buf payload, struct zab_members *out)
{
    if (z->cfg.config_of == NULL) {
        return false;
    }
    memset(out, 0, sizeof(*out));
    return z->cfg.config_of(z->cfg.config_ctx, payload, out) == 1 && zab_members_valid(out);
}

/* ---- The configuration state. ---- */

void cfg_start(struct zab *z, uint64_t at)
{
    z->cur = z->act = z->cfg.members;
    z->cur_zxid = z->act_zxid = at; /* in force at our applied state, maybe from earlier */
    z->cur_claim = z->cfg.members_zxid <= at ? z->cfg.members_zxid : 0;
    z->has_pend = false;
}

void cfg_set_cur(struct zab *z, const struct zab_members *m, uint64_t zxid)
{
    z->cfg_changed = true;
    z->cur = *m;
    z->cur_zxid = zxid;
    z->cur_claim = zxid;
}

/* A config entry was appended to our log (always above committed). The one pending before it is
 * committed: its successor could only be proposed once it was. */
void cfg_on_append(struct zab *z, uint64_t zxid, const struct zab_members *m)
{
    if (zxid <= z->cur_zxid) {
        return; /* already in force (a stream re-delivers what a snapshot covered) */
    }
    if (z->has_pend && z->pend_zxid < zxid) {
        cfg_set_cur(z, &z->pend, z->pend_zxid);
    }
    z->pend = *m;
    z->pend_zxid = zxid;
    z->has_pend = true;
}

void cfg_on_truncate(struct zab *z)
{
    if (z->has_pend && z->pend_zxid > ring_last(&z->log)) {
        z->has_pend = false; /* an uncommitted change cut away */
    }
}

void cfg_on_reset(struct zab *z, uint64_t zxid)
{
    /* A snapshot replaces a log that may have left the leader's history (a SNAP is sent to a
     * follower behind the leader's window, whatever its log holds), so our pending change is
     * not known to be in it even at a zxid below its point: it was once taken as committed
     * there, which put a never-committed change in force (zab-sim remove-leader seed 317: the
     * member it removed went quiet). The snapshot's configuration comes with NEWLEADER; a
     * change above the point comes again in the stream if the leader has it. */
    (void)zxid;
    z->has_pend = false;
}

void cfg_settle(struct zab *z)
{
    if (z->has_pend && z->committed >= z->pend_zxid) {
        cfg_set_cur(z, &z->pend, z->pend_zxid);
        z->has_pend = false;
    }
    if (!z->cfg_changed) {
        return;
    }
    z->cfg_changed = false;
    uint32_t me = z->cfg.my_id;
    /* A member the change removed goes on as a learner outside the configuration, as ZooKeeper's
     * removed server does: it follows the leader (serving its clients), votes for no one, and
     * votes again once a later change adds it back. */
    if (z->role == ZAB_LEADING && !mem_voter(&z->cur, me)) {
        election_start(z); /* the change that removed us as a voter is committed: step down */
    } else if (is_learner(z) && learner_role(z) != z->role) {
        z->role = learner_role(z); /* an observer became a voter, or back */
        z->up->flags |= ZAB_UPD_ROLE;
    }
}

/* ---- The configuration a leader hands a learner with NEWLEADER. ---- */

static size_t put_members(uint8_t *p, const struct zab_members *m)
{
    size_t n = 0;
    p[n++] = (uint8_t)m->n_voters;
    p[n++] = (uint8_t)m->n_observers;
    for (uint32_t i = 0; i < m->n_voters + m->n_observers; i++) {
        uint32_t id = i < m->n_voters ? m->voters[i] : m->observers[i - m->n_voters];
        for (int b = 0; b < 4; b++) {
            p[n++] = (uint8_t)(id >> (8 * b));
        }
    }
    return n;
}

static bool get_members(const uint8_t **p, size_t *left, struct zab_members *m)
{
    memset(m, 0, sizeof(*m));
    if (*left < 2) {
        return false;
    }
    uint32_t nv = (*p)[0], no = (*p)[1];
    if (nv > ZAB_PEERS_MAX || no > ZAB_MEMBERS_MAX || *left - 2 < 4 * (size_t)(nv + no)) {
        return false;
    }
    const uint8_t *q = *p + 2;
    for (uint32_t i = 0; i < nv + no; i++, q += 4) {
        uint32_t id = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                      (uint32_t)q[3] << 24;
        if (i < nv) {
            m->voters[i] = id;
        } else {
            m->observers[i - nv] = id;
        }
    }
    m->n_voters = nv;
    m->n_observers = no;
    *left -= (size_t)(q - *p);
    *p = q;
    return zab_members_valid(m);
}

size_t cfg_wire_encode(const struct zab *z, uint8_t *buf)
{
    size_t n = put_members(buf, &z->cur);
    for (int b = 0; b < 8; b++) {
        buf[n++] = (uint8_t)(z->act_zxid >> (8 * b));
    }
    n += put_members(buf + n, &z->act);
    ZK_ASSERT(n <= CFG_WIRE_MAX);
    return n;
}

bool cfg_wire_decode(struct zab_buf b, struct zab_members *cur, uint64_t *act_zxid,
                     struct zab_members *act)
{
    const uint8_t *p = b.data;
    size_t left = b.len;
    if (p == NULL || !get_members(&p, &left, cur) || left < 8) {
        return false;
    }
    *act_zxid = 0;
    for (int i = 7; i >= 0; i--) {
        *act_zxid = (*act_zxid << 8) | p[i];
    }
    p += 8;
    left -= 8;
    return get_members(&p, &left, act) && left == 0;
}

/* ---- The configuration a VOTE carries (election.c). ---- */

static size_t put_u64(uint8_t *p, uint64_t v)
{
    for (int b = 0; b < 8; b++) {
        p[b] = (uint8_t)(v >> (8 * b));
    }
    return 8;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

size_t vote_cfg_encode(const struct zab *z, uint8_t *buf)
{
    size_t n = put_members(buf, &z->cur);
    n += put_u64(buf + n, z->cur_claim);
    if (z->has_pend) {
        n += put_members(buf + n, &z->pend);
        n += put_u64(buf + n, z->pend_zxid);
    }
    ZK_ASSERT(n <= VOTE_CFG_MAX);
    return n;
}

bool vote_cfg_decode(struct zab_buf b, struct vote_cfg *out)
{
    memset(out, 0, sizeof(*out));
    const uint8_t *p = b.data;
    size_t left = b.len;
    if (p == NULL || !get_members(&p, &left, &out->cur) || left < 8) {
        return false;
    }
    out->cur_zxid = get_u64(p);
    p += 8;
    left -= 8;
    if (left == 0) {
        return true;
    }
    if (!get_members(&p, &left, &out->pend) || left != 8) {
        return false;
    }
    out->pend_zxid = get_u64(p);
    out->has_pend = true;
    return out->pend_zxid > out->cur_zxid;
}
