/* Bounded file reading, atomic file writing, and a bounded line reader. */
#include "custos/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cu_rc cu_file_read(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cu_err_set(cu_rc_from_errno(errno), "%s: %s", path, strerror(errno));
    cu_buf b;
    cu_buf_init(&b, max);
    cu_rc rc = CU_OK;
    for (;;) {
        char tmp[65536];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = cu_err_set(cu_rc_from_errno(errno), "%s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if ((size_t)n > max - b.len) {
            rc = cu_err_set(CU_ERR_TOOBIG, "%s: larger than the limit of %zu bytes", path, max);
            break;
        }
        if ((rc = cu_buf_append(&b, tmp, (size_t)n)))
            break;
    }
    close(fd);
    if (rc) {
        cu_buf_free(&b);
        return rc;
    }
    *out = cu_buf_take(&b, len);
    return *out ? CU_OK : CU_ERR_NOMEM;
}

cu_rc cu_file_write_atomic(const char *path, const void *data, size_t n, unsigned mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return cu_err_set(CU_ERR_TOOBIG, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return cu_err_set(cu_rc_from_errno(errno), "%s: %s", tmp, strerror(errno));
    const char *p = data;
    size_t left = n;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    /* make the rename itself durable */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(slash && dir[0] ? dir : (slash ? "/" : "."), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        int r = fsync(dfd);
        int e = errno;
        close(dfd);
        if (r != 0)
            return cu_err_set(cu_rc_from_errno(e), "fsync of directory of %s: %s", path, strerror(e));
    }
    return CU_OK;
fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return cu_err_set(cu_rc_from_errno(e), "%s: %s", path, strerror(e));
}

/* ------------------------------------------------------------ line reader */

struct cu_lines {
    int fd;
    bool own_fd;
    char *name;
    size_t max_line;
    char *buf;      /* capacity max_line + 65536 */
    size_t cap;
    size_t start;   /* first unread byte */
    size_t end;     /* one past the last valid byte */
    bool eof;
    uint64_t lineno;
};

cu_rc cu_lines_from_fd(int fd, const char *name, size_t max_line, cu_lines **out)
{
    cu_lines *r = cu_calloc(1, sizeof *r);
    if (!r)
        return CU_ERR_NOMEM;
    r->fd = fd;
    r->max_line = max_line;
    r->cap = max_line + 65536;
    r->buf = cu_malloc(r->cap + 1);
    r->name = cu_strdup(name ? name : "-");
    if (!r->buf || !r->name) {
        cu_free(r->buf);
        cu_free(r->name);
        cu_free(r);
        return CU_ERR_NOMEM;
    }
    *out = r;
    return CU_OK;
}

cu_rc cu_lines_open(const char *path, size_t max_line, cu_lines **out)
{
    int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cu_err_set(cu_rc_from_errno(errno), "%s: %s", path, strerror(errno));
    cu_rc rc = cu_lines_from_fd(fd, path, max_line, out);
    if (rc) {
        close(fd);
        return rc;
    }
    (*out)->own_fd = true;
    return CU_OK;
}

static cu_rc fill(cu_lines *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    while (r->end < r->cap) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cu_err_set(CU_ERR_IO, "%s: read error: %s", r->name, strerror(errno));
        }
        if (n == 0) {
            r->eof = true;
            break;
        }
        r->end += (size_t)n;
        break;
    }
    return CU_OK;
}

cu_rc cu_lines_next(cu_lines *r, const char **line, size_t *len)
{
    bool skipping = false;
    for (;;) {
        char *s = r->buf + r->start;
        char *nl = memchr(s, '\n', r->end - r->start);
        if (nl) {
            size_t n = (size_t)(nl - s);
            r->start += n + 1;
            r->lineno++;
            if (skipping || n > r->max_line)
                return cu_err_set(CU_ERR_TOOBIG, "%s:%llu: line longer than %zu bytes", r->name,
                                  (unsigned long long)r->lineno, r->max_line);
            *nl = '\0';
            *line = s;
            *len = n;
            return CU_OK;
        }
        if (r->eof) {
            if (r->start == r->end && !skipping)
                return CU_ERR_NOTFOUND;
            size_t n = r->end - r->start;
            r->start = r->end;
            r->lineno++;
            if (skipping || n > r->max_line)
                return cu_err_set(CU_ERR_TOOBIG, "%s:%llu: line longer than %zu bytes", r->name,
                                  (unsigned long long)r->lineno, r->max_line);
            r->buf[r->end] = '\0';
            *line = s;
            *len = n;
            return CU_OK;
        }
        if (r->end - r->start > r->max_line) {
            /* over-long line: drop what we have and keep reading to its end */
            skipping = true;
            r->start = r->end;
        }
        cu_rc rc = fill(r);
        if (rc)
            return rc;
    }
}

uint64_t cu_lines_lineno(const cu_lines *r) { return r->lineno; }
const char *cu_lines_name(const cu_lines *r) { return r->name; }

void cu_lines_close(cu_lines *r)
{
    if (!r)
        return;
    if (r->own_fd)
        close(r->fd);
    cu_free(r->buf);
    cu_free(r->name);
    cu_free(r);
}
