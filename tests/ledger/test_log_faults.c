/* Fault injection: every call of the durable log that changes the disk
 * (open for writing, write, fsync, fdatasync, rename, truncate, mkdir,
 * syncfs) goes through the I/O table of ledger_int.h.  For each such call
 * site in turn, during an append + publish, during recovery on open and
 * during init, make it fail with ENOSPC and then EIO and check:
 *   - the call fails with CU_ERR_NOSPC / CU_ERR_IO and a detail;
 *   - the log then fails closed (CU_ERR_STATE) until reopened;
 *   - reopening recovers, every acknowledged entry is there, publish and
 *     the offline verifier pass. */
#include "harness.h"
#include "ledger/ledger_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_sk[512], g_vk[512];
static atomic_long g_calls, g_fail_at;
static atomic_int g_injected;
static int g_errno;

static bool hit(void)
{
    long c = atomic_fetch_add(&g_calls, 1) + 1;
    if (atomic_load(&g_fail_at) && c == atomic_load(&g_fail_at)) {
        atomic_store(&g_injected, 1);
        errno = g_errno;
        return true;
    }
    return false;
}

static int f_open(const char *p, int flags, unsigned mode)
{
    if ((flags & (O_WRONLY | O_RDWR | O_CREAT)) && hit())
        return -1;
    return cu_ledger_io_real.open(p, flags, mode);
}
static ssize_t f_pwrite(int fd, const void *b, size_t n, off_t off)
{
    return hit() ? -1 : cu_ledger_io_real.pwrite(fd, b, n, off);
}
static int f_fsync(int fd) { return hit() ? -1 : cu_ledger_io_real.fsync(fd); }
static int f_fdatasync(int fd) { return hit() ? -1 : cu_ledger_io_real.fdatasync(fd); }
static int f_rename(const char *a, const char *b) { return hit() ? -1 : cu_ledger_io_real.rename(a, b); }
static int f_ftruncate(int fd, off_t n) { return hit() ? -1 : cu_ledger_io_real.ftruncate(fd, n); }
static int f_mkdir(const char *p, unsigned m) { return hit() ? -1 : cu_ledger_io_real.mkdir(p, m); }
/* counted as a site; the real syncfs is skipped to keep the test fast */
static int f_syncfs(int fd)
{
    (void)fd;
    return hit() ? -1 : 0;
}

static const cu_ledger_io faulty = {f_open, f_pwrite, f_fsync, f_fdatasync, f_rename, f_ftruncate, f_mkdir, f_syncfs};

static void arm(long at, int err)
{
    atomic_store(&g_calls, 0);
    atomic_store(&g_injected, 0);
    atomic_store(&g_fail_at, at);
    g_errno = err;
    cu_ledger_set_io(&faulty);
}

static void disarm(void)
{
    atomic_store(&g_fail_at, 0);
    cu_ledger_set_io(NULL);
}

static void keys(void)
{
    if (g_sk[0])
        return;
    char *sk = NULL, *vk = NULL;
    if (cu_note_keygen("faults.example/log", &sk, &vk) != CU_OK)
        exit(1);
    snprintf(g_sk, sizeof g_sk, "%s", sk);
    snprintf(g_vk, sizeof g_vk, "%s", vk);
    cu_free(sk);
    cu_free(vk);
}

static const char *newdir(void)
{
    static char p[600];
    static int seq;
    snprintf(p, sizeof p, "%s/f%d", cu_test_tmpdir(), seq++);
    return p;
}

static size_t entry_of(uint64_t i, char *buf)
{
    return (size_t)snprintf(buf, 64, "fault-entry-%llu-%s", (unsigned long long)i, i % 3 ? "x" : "yyyyyyyyyyyy");
}

static cu_rc append_range(cu_ledger *l, uint64_t from, uint64_t to)
{
    size_t n = (size_t)(to - from);
    char *bufs = cu_malloc(n * 64);
    const void **e = cu_malloc(n * sizeof *e);
    size_t *lens = cu_malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        e[i] = bufs + i * 64;
        lens[i] = entry_of(from + i, bufs + i * 64);
    }
    uint64_t first = 0;
    cu_rc rc = cu_ledger_append_many(l, e, lens, n, &first);
    cu_free(bufs);
    cu_free(e);
    cu_free(lens);
    return rc;
}

static cu_ledger *open_log(const char *dir, cu_rc *rc)
{
    cu_ledger_opts o = {.signer_key = g_sk};
    cu_ledger *l = NULL;
    *rc = cu_ledger_open(dir, &o, &l);
    return l;
}

static bool entries_ok(cu_ledger *l, uint64_t n)
{
    cu_buf b;
    char want[64];
    bool ok = true;
    cu_buf_init(&b, 256);
    for (uint64_t i = 0; i < n && ok; i++) {
        cu_buf_reset(&b);
        size_t wl = entry_of(i, want);
        ok = cu_ledger_read_entry(l, i, &b) == CU_OK && b.len == wl && memcmp(b.data, want, wl) == 0;
    }
    cu_buf_free(&b);
    return ok;
}

static cu_rc verify(const char *dir)
{
    cu_note_verifier *v = NULL;
    if (cu_note_verifier_parse(g_vk, &v))
        return CU_ERR_INTERNAL;
    cu_rc rc = cu_ledger_verify_dir(dir, v);
    cu_note_verifier_free(v);
    return rc;
}

static cu_rc want_rc(int err) { return err == ENOSPC ? CU_ERR_NOSPC : CU_ERR_IO; }

/* Reopen cleanly; every acknowledged entry is there; publish; verify. */
static void check_recovers(const char *d, uint64_t acked, uint64_t most, long k, int err)
{
    cu_rc rc;
    cu_ledger *l = open_log(d, &rc);
    CHECK_MSG(rc == CU_OK, "site %ld errno %d: reopen: %s: %s", k, err, cu_strerror(rc), cu_err_detail());
    if (!l)
        return;
    uint64_t n = cu_ledger_size(l);
    CHECK_MSG(n >= acked && n <= most, "site %ld errno %d: %llu entries after reopen, acked %llu", k, err,
              (unsigned long long)n, (unsigned long long)acked);
    CHECK_MSG(entries_ok(l, n), "site %ld errno %d: entries differ after reopen", k, err);
    /* the last published checkpoint is still fully served, before any publish */
    rc = verify(d);
    CHECK_MSG(rc == CU_OK, "site %ld errno %d: verify after reopen: %s", k, err, cu_err_detail());
    rc = cu_ledger_publish(l, NULL);
    CHECK_MSG(rc == CU_OK, "site %ld errno %d: publish after reopen: %s", k, err, cu_err_detail());
    cu_ledger_close(l);
    rc = verify(d);
    CHECK_MSG(rc == CU_OK, "site %ld errno %d: verify: %s", k, err, cu_err_detail());
}

/* The end of the journal's records: the file may go on with zeros (the
 * syncer's preallocation), so its size is not the end. */
static off_t journal_end(const char *dir)
{
    char p[1024], *j = NULL;
    size_t len = 0;
    snprintf(p, sizeof p, "%s/private/journal", dir);
    if (cu_file_read(p, (size_t)256 << 20, &j, &len) != CU_OK || len < 16)
        return -1;
    const uint8_t *u = (const uint8_t *)j;
    uint64_t base = cu_get_be64(u + 8);
    size_t off = 16 + CU_HASH_LEN;
    for (unsigned L = 1; L < 8; L++)
        off += (size_t)((base >> (8 * L)) & 255) * CU_HASH_LEN;
    while (off + 20 + CU_HASH_LEN <= len && memcmp(u + off, "CUJR", 4) == 0)
        off += 20 + (size_t)cu_get_be32(u + off + 8) + CU_HASH_LEN;
    cu_free(j);
    return (off_t)off;
}

TEST(every_append_and_publish_site_fails_cleanly)
{
    keys();
    static const int errs[] = {ENOSPC, EIO};
    int sites = 0;
    for (size_t e = 0; e < 2; e++) {
        for (long k = 1;; k++) {
            const char *d = newdir();
            cu_rc rc;
            CHECK_OK(cu_ledger_init(d, "faults.example/log", g_sk));
            cu_ledger *l = open_log(d, &rc);
            if (!l) {
                CHECK_OK(rc);
                return;
            }
            CHECK_OK(append_range(l, 0, 200));
            CHECK_OK(cu_ledger_publish(l, NULL));
            uint64_t acked = 200;
            arm(k, errs[e]);
            /* crosses the end of bundle 0 and 1: full tiles, bundles, partials */
            cu_rc a = append_range(l, 200, 600);
            cu_rc p = a ? a : cu_ledger_publish(l, NULL);
            bool injected = atomic_load(&g_injected);
            disarm();
            if (!a)
                acked = 600;
            if (!injected) {
                CHECK_OK(a);
                CHECK_OK(p);
                cu_ledger_close(l);
                CHECK_OK(verify(d));
                break;
            }
            sites++;
            cu_rc failed = a ? a : p;
            CHECK_MSG(failed == want_rc(errs[e]), "site %ld errno %d: got %s from %s (%s)", k, errs[e], cu_strerror(failed), a ? "append" : "publish",
                      cu_err_detail());
            CHECK_MSG(cu_err_detail()[0] != '\0', "site %ld: no detail", k);
            /* fail closed */
            char x = 'x';
            uint64_t idx;
            CHECK_RC(cu_ledger_append(l, &x, 1, &idx), CU_ERR_STATE);
            CHECK_RC(cu_ledger_publish(l, NULL), CU_ERR_STATE);
            cu_ledger_close(l);
            check_recovers(d, acked, 600, k, errs[e]);
        }
    }
    CHECK_MSG(sites >= 20, "only %d call sites were reached", sites);
    printf("# %d injected faults during append and publish\n", sites);
}

TEST(every_recovery_site_fails_cleanly)
{
    keys();
    static const int errs[] = {ENOSPC, EIO};
    int sites = 0;
    for (size_t e = 0; e < 2; e++) {
        for (long k = 1;; k++) {
            const char *d = newdir();
            cu_rc rc;
            CHECK_OK(cu_ledger_init(d, "faults.example/log", g_sk));
            cu_ledger *l = open_log(d, &rc);
            if (!l)
                return;
            CHECK_OK(append_range(l, 0, 300));
            CHECK_OK(cu_ledger_publish(l, NULL));
            CHECK_OK(append_range(l, 300, 600));
            cu_ledger_close(l);
            /* a torn tail: recovery must truncate and rewrite tiles */
            char p[700];
            off_t end = journal_end(d);
            snprintf(p, sizeof p, "%s/private/journal", d);
            CHECK(end > 7 && truncate(p, end - 7) == 0);
            arm(k, errs[e]);
            l = open_log(d, &rc);
            bool injected = atomic_load(&g_injected);
            disarm();
            if (!injected) {
                CHECK_OK(rc);
                cu_ledger_close(l);
                break;
            }
            sites++;
            if (rc == CU_OK) {
                /* a failed best-effort step (none today) would still leave a good log */
                cu_ledger_close(l);
            } else {
                CHECK_MSG(rc == want_rc(errs[e]), "recovery site %ld errno %d: %s (%s)", k, errs[e],
                          cu_strerror(rc), cu_err_detail());
            }
            check_recovers(d, 300, 300, k, errs[e]);
        }
    }
    CHECK_MSG(sites >= 4, "only %d recovery sites were reached", sites);
    printf("# %d injected faults during recovery\n", sites);
}

TEST(every_init_site_fails_cleanly)
{
    keys();
    int sites = 0;
    for (long k = 1;; k++) {
        const char *d = newdir();
        arm(k, k % 2 ? EIO : ENOSPC);
        cu_rc rc = cu_ledger_init(d, "faults.example/log", g_sk);
        bool injected = atomic_load(&g_injected);
        disarm();
        if (!injected) {
            CHECK_OK(rc);
            break;
        }
        sites++;
        CHECK_MSG(rc == want_rc(k % 2 ? EIO : ENOSPC), "init site %ld: %s", k, cu_strerror(rc));
        /* nothing half-written: the directory takes a fresh init */
        char p[700];
        struct stat st;
        snprintf(p, sizeof p, "%s/private", d);
        CHECK_MSG(stat(p, &st) != 0, "init site %ld left private/ behind", k);
        CHECK_OK(cu_ledger_init(d, "faults.example/log", g_sk));
        check_recovers(d, 0, 0, k, 0);
    }
    CHECK(sites >= 8);
}
