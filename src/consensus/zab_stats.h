/* Read-only facts about a leader's followers, for the metrics ZooKeeper's leader exports
 * (learners, synced_followers, synced_observers). */
#ifndef ZAB_STATS_H
#define ZAB_STATS_H

#include <stdint.h>

struct zab;

struct zab_stats {
    uint32_t learners;          /* peers this leader has a sync session with (any phase) */
    uint32_t synced_followers;  /* voters of the active configuration whose acks count */
    uint32_t synced_observers;  /* observers of the active configuration, synced */
};

/* All zero unless z leads. */
void zab_stats(const struct zab *z, struct zab_stats *out);

#endif
