/* Directory sync (fsdir.h). */
#include "common/fsdir.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int zk_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = saved;
    return rc;
}
