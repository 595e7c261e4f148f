/* Watch manager: the member-local table of watches, modelled on ZooKeeper's WatchManager.
 *
 * Two tables (data and child), each mapping a path to its registrations; a registration is one
 * watcher (connection id) on one path in one table with a mode (standard one-shot, persistent,
 * persistent-recursive). Watchers also index their registrations so a closed connection drops
 * all of them in O(its watches). Triggering never allocates (dedupe uses a per-watcher mark), so
 * notifications can be delivered after a txn committed without any failure path. */
#ifndef ZK_WATCH_H
#define ZK_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_chain.h"

enum watch_table_id { WATCH_DATA = 0, WATCH_CHILD = 1 };
enum watch_mode { WATCH_STANDARD = 0, WATCH_PERSISTENT = 1, WATCH_RECURSIVE = 2 };

struct watch_path;
struct watch_owner;

struct acl_list;
/* acl: the ACL of the node the event is about (delivery checks READ against it), or NULL. */
typedef void (*watch_notify_fn)(void *ctx, uint64_t watcher, int32_t event_type, const char *path,
                                const struct acl_list *acl);

struct watch_manager {
    struct chain_table paths;  /* struct watch_path by path */
    struct chain_table owners; /* struct watch_owner by watcher */
    size_t reg_count;          /* registrations in both tables */
    size_t recursive_count[2]; /* recursive registrations per table */
    uint64_t serial;           /* trigger round, for per-watcher dedupe */
};

int watch_init(struct watch_manager *wm);
void watch_free(struct watch_manager *wm);
/* Register (or change the mode of) a watch. 0, or -1 on out of memory (nothing changed). */
int watch_add(struct watch_manager *wm, const char *path, size_t len, uint64_t watcher,
              enum watch_table_id table, enum watch_mode mode);
/* Start a dedupe round: watchers notified in the same round are notified once. */
void watch_begin_round(struct watch_manager *wm);
/* Fire `event_type` on `path` in `table` as WatchManager.triggerWatch does (ancestors are
 * visited for recursive watches). Standard watches that fire are removed. */
void watch_trigger(struct watch_manager *wm, const char *path, size_t len, int32_t event_type,
                   const struct acl_list *acl, enum watch_table_id table, watch_notify_fn notify,
                   void *ctx);
bool watch_contains(const struct watch_manager *wm, const char *path, size_t len,
                    uint64_t watcher, enum watch_table_id table);
bool watch_remove(struct watch_manager *wm, const char *path, size_t len, uint64_t watcher,
                  enum watch_table_id table);
void watch_remove_watcher(struct watch_manager *wm, uint64_t watcher);
/* Watchers with a registration in table, paths with one, and the registrations (O(watches)). */
void watch_summary(const struct watch_manager *wm, enum watch_table_id table, size_t *owners,
                   size_t *paths, size_t *regs);
static inline size_t watch_count(const struct watch_manager *wm) { return wm->reg_count; }

#endif
