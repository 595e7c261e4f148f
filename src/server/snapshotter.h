/* Snapshots taken off the event loop: a forked child writes the store, as it was at the fork,
 * to a snapshot file (src/store/snapfile.h) and exits; the loop goes on serving meanwhile and
 * learns of the result by polling. The child shares nothing with the loop but copy-on-write
 * memory (Redis's BGSAVE): it never touches sockets, LMDB or the log writer thread, and ends
 * with _exit. A snapshot that cannot be written (disk full) is a log line and a later retry,
 * never a stop: the log still holds everything since the last good snapshot. */
#ifndef ZK_SNAPSHOTTER_H
#define ZK_SNAPSHOTTER_H

#include <stdbool.h>
#include <stdint.h>

struct store;
struct snapshotter;

struct snapshotter *snapshotter_new(const char *dir);
/* Kills a running child (its .tmp file is removed) and frees sn. */
void snapshotter_free(struct snapshotter *sn);
/* Fork a child that writes st's state at store_last_zxid(st). Returns 0 if started, -1 if a
 * child is already running or fork failed (logged). */
int snapshotter_start(struct snapshotter *sn, const struct store *st);
bool snapshotter_busy(const struct snapshotter *sn);
/* Microseconds the last start held the loop in fork() (copying the page tables). */
int64_t snapshotter_fork_us(const struct snapshotter *sn);
/* Check on the child without blocking: 1 when it finished writing the snapshot at *zxid (and
 * how long it took in *ms), -1 when it failed, 0 when still running or idle. */
int snapshotter_poll(struct snapshotter *sn, int64_t *zxid, int64_t *ms);

#endif
