/* A member's disk in production: the member's storage seam (src/member/storage_ops.h) on the
 * durable log (durablelog.c: the journal in front of LMDB), the epochs and the snapshot files
 * (src/store/snapfile.h) written by a forked child (snapshotter.c).
 *
 * Layout on disk (docs/storage.md): dataLogDir/zabkeeper-log/ (LMDB: log records by zxid and a
 * few named integers; the two journal files) and dataDir/zabkeeper-snap/ (snapshot files). */
#ifndef ZK_STORAGE_H
#define ZK_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;
struct storage;

struct storage_config {
    const char *data_dir;     /* snapshots */
    const char *log_dir;      /* the LMDB log */
    uint64_t lmdb_map_bytes;
};

/* Opens (creating) both directories. 0, or -1 (logged). */
int storage_open(struct storage **out, struct event_base *base, const struct storage_config *cfg);
/* Stops the writer (waiting for a batch in flight) and a snapshot child; unsynced records were
 * never acknowledged and are dropped. */
void storage_close(struct storage *s);

/* The member's storage seam (src/member/storage_ops.h), backed by s. */
struct member_storage;
void storage_seam(struct storage *s, struct member_storage *out);

#endif
