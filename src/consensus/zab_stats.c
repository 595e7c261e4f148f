/* Leader facts for the metrics (see zab_stats.h). */
#include "consensus/zab_stats.h"

#include <string.h>

#include "consensus/internal.h"

static bool listed(const uint32_t *ids, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

void zab_stats(const struct zab *z, struct zab_stats *out)
{
    memset(out, 0, sizeof *out);
    if (z->role != ZAB_LEADING)
        return;
    const struct zab_members *act = zab_members(z);
    for (size_t i = 0; i < ZAB_MEMBERS_MAX; i++) {
        const struct lpeer *p = &z->l.peers[i];
        if (p->id == 0 || p->id == z->cfg.my_id || p->phase == LP_NONE)
            continue;
        out->learners++;
        if (p->phase != LP_SYNCED)
            continue;
        if (listed(act->voters, act->n_voters, p->id))
            out->synced_followers++;
        else if (listed(act->observers, act->n_observers, p->id))
            out->synced_observers++;
    }
}
