/* libFuzzer target: the journal reader of the durable log (recovery).  The
 * input becomes private/journal of a real log directory, which is then
 * opened read-only (recovery in memory, no writes).  Any outcome but a
 * crash, a leak or reading out of bounds is fine; when the open succeeds
 * the recovered entries must read back and the root must compute. */
#include "custos/ledger.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[256];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void cleanup(void) { nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void setup(void)
{
    char *sk = NULL, *vk = NULL;
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/fuzz-journal-%ld", t && *t ? t : "/tmp", (long)getpid());
    if (cu_note_keygen("fuzz.example/log", &sk, &vk) != CU_OK || cu_ledger_init(g_dir, "fuzz.example/log", sk) != CU_OK)
        abort();
    cu_free(sk);
    cu_free(vk);
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[300];
    if (!g_dir[0])
        setup();
    snprintf(path, sizeof path, "%s/private/journal", g_dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    cu_ledger_opts o = {.read_only = true};
    cu_ledger *l = NULL;
    if (cu_ledger_open(g_dir, &o, &l) != CU_OK)
        return 0;
    uint64_t n = cu_ledger_size(l);
    cu_buf b;
    cu_buf_init(&b, CU_LEDGER_ENTRY_MAX + 1);
    /* entries of the last (in-memory) bundle; earlier ones would need tiles */
    for (uint64_t i = n & ~(uint64_t)255; i < n; i++) {
        cu_buf_reset(&b);
        if (cu_ledger_read_entry(l, i, &b) != CU_OK)
            abort();
    }
    cu_buf_free(&b);
    cu_ledger_close(l);
    return 0;
}
