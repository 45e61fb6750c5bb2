/*
 * The durable log's I/O layer: one table of function pointers for every
 * call that changes the disk, and the small helpers built on it.
 *
 * Invariants:
 *   1. No code in src/ledger/log*.c calls open-for-write, write, fsync,
 *      rename, ftruncate, mkdir or syncfs except through this table, so a
 *      test that fails the Nth call reaches every site.
 *   2. Every failure becomes CU_ERR_NOSPC (ENOSPC, EDQUOT) or CU_ERR_IO
 *      (anything else) with a detail naming the operation and the path.
 */
#include "ledger/ledger_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int real_open(const char *path, int flags, unsigned mode) { return open(path, flags, (mode_t)mode); }
static int real_mkdir(const char *path, unsigned mode) { return mkdir(path, (mode_t)mode); }

const cu_ledger_io cu_ledger_io_real = {
    .open = real_open,
    .pwrite = pwrite,
    .fsync = fsync,
    .fdatasync = fdatasync,
    .rename = rename,
    .ftruncate = ftruncate,
    .mkdir = real_mkdir,
    .syncfs = syncfs,
};

static _Atomic(const cu_ledger_io *) g_io = &cu_ledger_io_real;

const cu_ledger_io *cu_ledger_set_io(const cu_ledger_io *io)
{
    return atomic_exchange(&g_io, io ? io : &cu_ledger_io_real);
}

const cu_ledger_io *cu_ledger_io_get(void) { return atomic_load(&g_io); }

cu_rc cu_lg_errno(int err, const char *op, const char *what)
{
    cu_rc rc = (err == ENOSPC || err == EDQUOT) ? CU_ERR_NOSPC : CU_ERR_IO;
    return cu_err_set(rc, "%s %s: %s", op, what, strerror(err));
}

cu_rc cu_lg_write_all(int fd, const void *p, size_t n, off_t off, const char *what)
{
    const cu_ledger_io *io = cu_ledger_io_get();
    const char *c = p;
    while (n) {
        ssize_t w = io->pwrite(fd, c, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return cu_lg_errno(errno, "write", what);
        }
        if (w == 0)
            return cu_lg_errno(EIO, "write", what);
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return CU_OK;
}

cu_rc cu_lg_sync(int fd, bool data_only, const char *what)
{
    const cu_ledger_io *io = cu_ledger_io_get();
    int r = data_only ? io->fdatasync(fd) : io->fsync(fd);
    if (r != 0)
        return cu_lg_errno(errno, data_only ? "fdatasync" : "fsync", what);
    return CU_OK;
}

cu_rc cu_lg_sync_dir(const char *dir)
{
    /* Opened read-only: not a change to the disk, so not in the table. */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cu_lg_errno(errno, "open", dir);
    cu_rc rc = cu_lg_sync(fd, false, dir);
    close(fd);
    return rc;
}

cu_rc cu_lg_write_file(const char *tmp, const char *path, const void *p, size_t n, unsigned mode, bool sync)
{
    const cu_ledger_io *io = cu_ledger_io_get();
    cu_rc rc;
    int fd = io->open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return cu_lg_errno(errno, "create", tmp);
    if ((rc = cu_lg_write_all(fd, p, n, 0, path)))
        goto fail;
    if (sync && (rc = cu_lg_sync(fd, false, path)))
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        rc = cu_lg_errno(errno, "close", path);
        goto fail;
    }
    fd = -1;
    if (io->rename(tmp, path) != 0) {
        rc = cu_lg_errno(errno, "rename onto", path);
        goto fail;
    }
    return CU_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

cu_rc cu_lg_mkdirs_for(const char *root, const char *rel)
{
    const cu_ledger_io *io = cu_ledger_io_get();
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= sizeof path)
        return cu_err_set(CU_ERR_TOOBIG, "path too long under %s", root);
    size_t start = strlen(root) + 1;
    for (size_t i = start; path[i]; i++) {
        if (path[i] != '/')
            continue;
        path[i] = '\0';
        if (io->mkdir(path, 0755) != 0 && errno != EEXIST) {
            cu_rc rc = cu_lg_errno(errno, "mkdir", path);
            path[i] = '/';
            return rc;
        }
        path[i] = '/';
    }
    return CU_OK;
}
