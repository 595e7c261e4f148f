/* snapdigest: load snapshot files (src/store/snapfile.h) the way a member does at start-up and
 * print the state each one holds, for test_snapshots.py to compare with what the live members
 * reported (mntr) at the same zxid:
 *
 *   snapdigest FILE...   ->   one line per file: "zxid=0x... digest=<16 hex> nodes=N sessions=S"
 *
 * The digest is recomputed node by node while loading (store_loader_finish also checks it
 * against the one the file announces), so it says what the file really holds. A file that is
 * torn, fails its checksum or does not load makes the tool print "FILE: error" and exit 1. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/snapfile.h"
#include "store/store.h"

static int feed(void *ctx, const void *p, size_t len) { return store_loader_feed(ctx, p, len); }

static int one(const char *file)
{
    char *a = strdup(file), *b = strdup(file);
    const char *dir = dirname(a), *base = basename(b);
    unsigned long long zxid;
    int rc = 1;
    char err[SNAPFILE_ERRMSG_SIZE] = "";
    if (sscanf(base, "snapshot.%16llx", &zxid) != 1 || strlen(base) != 25) {
        fprintf(stderr, "%s: not a snapshot file name (snapshot.<16 hex digits>)\n", file);
        goto out;
    }
    struct store_loader *l = store_loader_new();
    struct store *st = store_new(&(struct store_options){0});
    if (!l || !st) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    if (snapfile_read(dir, (int64_t)zxid, feed, l, err, sizeof err) != 0 ||
        store_loader_zxid(l) != (int64_t)zxid || store_loader_finish(l, st) != 0) {
        fprintf(stderr, "%s: error: %s\n", file, err[0] ? err : "content does not load");
    } else {
        printf("zxid=0x%llx digest=%016llx nodes=%zu sessions=%zu\n", zxid,
               (unsigned long long)store_digest(st), store_node_count(st),
               store_session_count(st));
        rc = 0;
    }
    store_loader_free(l);
    store_free(st);
out:
    free(a);
    free(b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: snapdigest SNAPSHOT_FILE...\n");
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++)
        rc |= one(argv[i]);
    return rc;
}
