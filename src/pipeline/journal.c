/* The file journal: a minimal durable log behind the cu_sink interface.
 *
 * It stands in for the Merkle ledger (which plugs into the same interface)
 * and keeps the same promise to the pipeline: append_many returns only when
 * every entry is on disk (one fdatasync per call: group commit per batch).
 *
 * Format: "CUJRNL1\n", then records [u32 BE length][u32 BE CRC-32C][entry].
 * Invariants:
 * 1. Records are only ever appended; a record is committed once the
 *    fdatasync after it returned.
 * 2. At open, the first record that is short or fails its CRC marks a torn
 *    tail: the file is cut back to the record before it (those bytes were
 *    never acknowledged).
 * 3. The commitment secret (32 random bytes) lives in journal.key (0600).
 */
#include "custos/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "CUJRNL1\n"
#define MAX_ENTRY 65535

struct journal {
    int fd;
    uint64_t *off;   /* offset of each record's header */
    uint64_t n, cap;
    uint64_t end;
    uint8_t secret[32];
    cu_buf wbuf;
};

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32c(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ b[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static cu_rc push_off(struct journal *j, uint64_t off)
{
    if (j->n == j->cap) {
        uint64_t nc = j->cap ? j->cap * 2 : 4096;
        uint64_t *nv = cu_realloc(j->off, nc * sizeof *nv);
        if (!nv)
            return CU_ERR_NOMEM;
        j->off = nv;
        j->cap = nc;
    }
    j->off[j->n++] = off;
    return CU_OK;
}

static cu_rc j_append(void *ctx, const void *const *entries, const size_t *lens, size_t n, uint64_t *first)
{
    struct journal *j = ctx;
    cu_buf_reset(&j->wbuf);
    for (size_t i = 0; i < n; i++)
        if (lens[i] == 0 || lens[i] > MAX_ENTRY)
            return cu_err_set(CU_ERR_INVAL, "journal: entry of %zu bytes (1..%d)", lens[i], MAX_ENTRY);
    uint64_t start_n = j->n, pos = j->end;
    cu_rc rc = CU_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t h[8];
        cu_put_be32(h, (uint32_t)lens[i]);
        cu_put_be32(h + 4, crc32c(entries[i], lens[i]));
        if ((rc = cu_buf_append(&j->wbuf, h, 8)) || (rc = cu_buf_append(&j->wbuf, entries[i], lens[i])) ||
            (rc = push_off(j, pos)))
            break;
        pos += 8 + lens[i];
    }
    if (rc) {
        j->n = start_n;
        return rc;
    }
    const char *p = j->wbuf.data;
    size_t left = j->wbuf.len;
    uint64_t at = j->end;
    while (left) {
        ssize_t w = pwrite(j->fd, p, left, (off_t)at);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            j->n = start_n;
            /* cut whatever part was written so a later append starts clean */
            if (ftruncate(j->fd, (off_t)j->end) != 0) {
                /* the torn bytes are cut at the next open anyway */
            }
            return cu_err_set(cu_rc_from_errno(e), "journal: write: %s", strerror(e));
        }
        p += w;
        at += (uint64_t)w;
        left -= (size_t)w;
    }
    if (fdatasync(j->fd) != 0) {
        int e = errno;
        j->n = start_n;
        return cu_err_set(cu_rc_from_errno(e), "journal: fdatasync: %s", strerror(e));
    }
    j->end = pos;
    *first = start_n;
    return CU_OK;
}

static uint64_t j_size(void *ctx) { return ((struct journal *)ctx)->n; }

static cu_rc j_read(void *ctx, uint64_t index, cu_buf *out)
{
    struct journal *j = ctx;
    if (index >= j->n)
        return cu_err_set(CU_ERR_RANGE, "journal: no entry %llu", (unsigned long long)index);
    uint8_t h[8];
    if (pread(j->fd, h, 8, (off_t)j->off[index]) != 8)
        return cu_err_set(CU_ERR_IO, "journal: read failed");
    uint32_t len = cu_get_be32(h);
    cu_buf_reset(out);
    cu_rc rc = cu_buf_reserve(out, len);
    if (rc)
        return rc;
    if (pread(j->fd, out->data, len, (off_t)j->off[index] + 8) != (ssize_t)len)
        return cu_err_set(CU_ERR_IO, "journal: read failed");
    if (crc32c(out->data, len) != cu_get_be32(h + 4))
        return cu_err_set(CU_ERR_CORRUPT, "journal: entry %llu fails its checksum", (unsigned long long)index);
    out->len = len;
    out->data[len] = '\0';
    return CU_OK;
}

static const uint8_t *j_secret(void *ctx) { return ((struct journal *)ctx)->secret; }

static void j_close(void *ctx)
{
    struct journal *j = ctx;
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    cu_free(j->off);
    cu_buf_free(&j->wbuf);
    memset(j->secret, 0, sizeof j->secret);
    cu_free(j);
}

static const cu_sink_ops journal_ops = {
    .name = "journal", .append_many = j_append, .size = j_size, .read_entry = j_read,
    .commit_secret = j_secret, .close = j_close,
};

static cu_rc load_secret(struct journal *j, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/journal.key", dir);
    char *data = NULL;
    size_t len = 0;
    cu_rc rc = cu_file_read(path, 64, &data, &len);
    if (rc == CU_OK) {
        if (len != 32) {
            cu_free(data);
            return cu_err_set(CU_ERR_CORRUPT, "%s: not 32 bytes", path);
        }
        memcpy(j->secret, data, 32);
        memset(data, 0, 32);
        cu_free(data);
        return CU_OK;
    }
    if (rc != CU_ERR_NOTFOUND)
        return rc;
    if (getrandom(j->secret, 32, 0) != 32)
        return cu_err_set(CU_ERR_CRYPTO, "getrandom failed");
    return cu_file_write_atomic(path, j->secret, 32, 0600);
}

cu_rc cu_sink_journal_open(const char *dir, cu_sink *out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init);
    struct journal *j = cu_calloc(1, sizeof *j);
    if (!j)
        return CU_ERR_NOMEM;
    j->fd = -1;
    cu_buf_init(&j->wbuf, (size_t)1 << 31);
    char path[4096];
    snprintf(path, sizeof path, "%s/journal", dir);
    cu_rc rc = load_secret(j, dir);
    if (rc)
        goto fail;
    j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        rc = cu_err_set(cu_rc_from_errno(errno), "%s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(j->fd, &st) != 0) {
        rc = cu_err_set(CU_ERR_IO, "%s: stat failed", path);
        goto fail;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < 8) {
        /* new (or torn before the header was durable) */
        if (ftruncate(j->fd, 0) != 0 || pwrite(j->fd, MAGIC, 8, 0) != 8 || fsync(j->fd) != 0) {
            rc = cu_err_set(CU_ERR_IO, "%s: cannot initialise", path);
            goto fail;
        }
        j->end = 8;
    } else {
        char magic[8];
        if (pread(j->fd, magic, 8, 0) != 8 || memcmp(magic, MAGIC, 8) != 0) {
            rc = cu_err_set(CU_ERR_CORRUPT, "%s: not a custos journal", path);
            goto fail;
        }
        /* scan records; stop at the first torn one */
        uint64_t pos = 8;
        cu_buf rec;
        cu_buf_init(&rec, MAX_ENTRY + 1);
        while (pos + 8 <= size) {
            uint8_t h[8];
            if (pread(j->fd, h, 8, (off_t)pos) != 8)
                break;
            uint32_t len = cu_get_be32(h);
            if (len == 0 || len > MAX_ENTRY || pos + 8 + len > size)
                break;
            cu_buf_reset(&rec);
            if (cu_buf_reserve(&rec, len) || pread(j->fd, rec.data, len, (off_t)pos + 8) != (ssize_t)len ||
                crc32c(rec.data, len) != cu_get_be32(h + 4))
                break;
            if ((rc = push_off(j, pos))) {
                cu_buf_free(&rec);
                goto fail;
            }
            pos += 8 + len;
        }
        cu_buf_free(&rec);
        if (pos < size) {
            cu_log(CU_LOG_WARN, "%s: cutting a torn tail of %llu bytes after entry %llu", path,
                   (unsigned long long)(size - pos), (unsigned long long)j->n);
            if (ftruncate(j->fd, (off_t)pos) != 0 || fsync(j->fd) != 0) {
                rc = cu_err_set(CU_ERR_IO, "%s: cannot cut the torn tail", path);
                goto fail;
            }
        }
        j->end = pos;
    }
    out->ops = &journal_ops;
    out->ctx = j;
    return CU_OK;
fail:
    j_close(j);
    return rc;
}
