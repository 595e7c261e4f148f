/* Snapshots (msgpack): placeholder until the format lands. */
#include <msgpack.h>

#include "store/store_internal.h"

int store_snapshot_write(const struct store *st, struct msgpack_packer *pk)
{
    (void)st;
    (void)pk;
    return -1;
}

int store_snapshot_read(struct store *st, const void *data, size_t len)
{
    (void)st;
    (void)data;
    (void)len;
    return -1;
}
