/* Making a directory's entries durable: after creating or renaming a file, its name survives a
 * power loss only once the directory itself is synced (fsync of the file is not enough). */
#pragma once

/* fsync of the directory dir; 0, or -1 with errno set. */
int zk_fsync_dir(const char *dir);
