/* ZooKeeper's data directories for the import: file lists sorted by the zxid in their names
 * (Util.sortDataDir), read-only file mappings, and the epoch files. Every failure names the
 * path, because the import refuses anything it cannot read fully. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "import/zkimport_internal.h"

static int cmp_asc(const void *a, const void *b)
{
    int64_t x = ((const struct zkfile_entry *)a)->zxid, y = ((const struct zkfile_entry *)b)->zxid;
    return x < y ? -1 : x > y;
}

static int cmp_desc(const void *a, const void *b) { return cmp_asc(b, a); }

static int push_entry(struct zkfile_entry **v, size_t *n, size_t *cap, int64_t zxid,
                      const char *name)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        struct zkfile_entry *nv = zk_realloc(*v, nc * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    (*v)[*n].zxid = zxid;
    snprintf((*v)[*n].name, sizeof (*v)[*n].name, "%s", name);
    (*n)++;
    return 0;
}

long zkdir_list(struct zkimp *im, const char *dir, const char *prefix, bool ascending,
                struct zkfile_entry **out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return zkimp_fail(im, "cannot read directory %s: %s", dir, strerror(errno));
    struct zkfile_entry *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = zkimp_fail(im, "cannot list directory %s: %s", dir, strerror(errno));
            break;
        }
        int64_t zxid = zkf_zxid_from_name(de->d_name, prefix);
        if (zxid < 0 || strlen(de->d_name) >= sizeof v->name)
            continue;
        if (push_entry(&v, &n, &cap, zxid, de->d_name)) {
            rc = zkimp_fail(im, "out of memory listing %s", dir);
            break;
        }
    }
    closedir(d);
    if (rc) {
        zk_free(v);
        return -1;
    }
    if (n)
        qsort(v, n, sizeof *v, ascending ? cmp_asc : cmp_desc);
    *out = v;
    return (long)n;
}

int zkdir_map(struct zkimp *im, const char *path, struct zkmap *m)
{
    m->p = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return zkimp_fail(im, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = zkimp_fail(im, "cannot stat %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = zkimp_fail(im, "%s at offset 0: not a regular file", path);
    } else if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
            rc = zkimp_fail(im, "cannot read %s: %s", path, strerror(errno));
        else
            m->p = p, m->len = (size_t)st.st_size;
    }
    if (close(fd) != 0 && rc == 0) {
        zkdir_unmap(m);
        rc = zkimp_fail(im, "cannot close %s: %s", path, strerror(errno));
    }
    return rc;
}

void zkdir_unmap(struct zkmap *m)
{
    if (m->p && munmap((void *)m->p, m->len) != 0)
        zkimp_warn("munmap: %s", strerror(errno)); /* address space only; nothing to undo */
    m->p = NULL;
    m->len = 0;
}

int64_t zkdir_read_epoch(struct zkimp *im, const char *dir, const char *name)
{
    char path[ZKIMP_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return -1;
        zkimp_fail(im, "cannot read %s: %s", path, strerror(errno));
        return -2;
    }
    char buf[64] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int read_err = ferror(f);
    if (fclose(f) != 0 || read_err) {
        zkimp_fail(im, "cannot read %s", path);
        return -2;
    }
    /* QuorumPeer.readLongFromFile: one decimal line */
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    while (*end == '\n' || *end == '\r' || *end == ' ')
        end++;
    if (n == 0 || end == buf || *end || errno || v < 0 || v > UINT32_MAX) {
        zkimp_fail(im, "%s at offset 0: not an epoch number", path);
        return -2;
    }
    return v;
}
