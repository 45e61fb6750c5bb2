/* Byte-identical interop with an independent C2SP tlog-tiles implementation:
 * tests/ledger/data/tessera-log is a log published by tessera's POSIX
 * storage (see its README.md).  Given the same entries, origin and key, the
 * log custos writes must hold exactly the same files with exactly the same
 * bytes: every checkpoint along the way (signed-note text and Ed25519
 * signature, key hash), every partial hash tile and entry bundle.  And
 * custos's offline verifier must accept tessera's log as it is. */
#include "harness.h"

#include "custos/ledger.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#define REF "tests/ledger/data/tessera-log"
#define ORIGIN "example.com/log/testdata"
#define SIGNER "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
#define VERIFIER "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"

/* The 15 entries, in order (upstream's list, typos included). */
static const char *const entries[] = {"one",    "two",   "three",    "four",    "five",
                                      "six",    "seven", "eit",      "nain",    "ten",
                                      "ileven", "twelf", "threeten", "fourten", "fivten"};
#define NENT (sizeof entries / sizeof entries[0])

static bool same_file(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    bool ok = cu_file_read(a, 1 << 20, &x, &xl) == CU_OK && cu_file_read(b, 1 << 20, &y, &yl) == CU_OK &&
              xl == yl && memcmp(x, y, xl) == 0;
    cu_free(x);
    cu_free(y);
    return ok;
}

/* The files of a log's public tree: checkpoint and everything under tile/,
 * as paths relative to the log directory. */
static char g_files[256][128];
static size_t g_nfiles, g_skip;

static int collect(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag != FTW_F)
        return 0;
    const char *rel = path + g_skip;
    if (strncmp(rel, "tile/", 5) != 0 && strcmp(rel, "checkpoint") != 0)
        return 0;
    if (g_nfiles < 256)
        snprintf(g_files[g_nfiles], sizeof g_files[0], "%s", rel);
    g_nfiles++;
    return 0;
}

static size_t list_files(const char *dir, char out[][128], size_t max)
{
    g_nfiles = 0;
    g_skip = strlen(dir) + 1;
    CHECK(nftw(dir, collect, 16, FTW_PHYS) == 0);
    size_t n = g_nfiles < max ? g_nfiles : max;
    for (size_t i = 0; i < n; i++)
        memcpy(out[i], g_files[i], sizeof g_files[0]);
    return g_nfiles;
}

static bool listed(char files[][128], size_t n, const char *rel)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(files[i], rel) == 0)
            return true;
    return false;
}

TEST(same_log_as_tessera_byte_for_byte)
{
    char d[600], p[700], q[700];
    snprintf(d, sizeof d, "%s/ours", cu_test_tmpdir());
    CHECK_OK(cu_ledger_init(d, ORIGIN, SIGNER));
    snprintf(p, sizeof p, "%s/checkpoint", d);
    CHECK_MSG(same_file(p, REF "/checkpoint.0"), "the empty log's checkpoint differs from checkpoint.0");
    cu_ledger_opts o = {.signer_key = SIGNER};
    cu_ledger *l = NULL;
    CHECK_OK(cu_ledger_open(d, &o, &l));
    if (!l)
        return;
    for (size_t i = 0; i < NENT; i++) {
        uint64_t idx = 0;
        CHECK_OK(cu_ledger_append(l, entries[i], strlen(entries[i]), &idx));
        CHECK_INT(idx, i);
        cu_checkpoint cp;
        CHECK_OK(cu_ledger_publish(l, &cp));
        CHECK_INT(cp.size, i + 1);
        snprintf(q, sizeof q, REF "/checkpoint.%zu", i + 1);
        CHECK_MSG(same_file(p, q), "our checkpoint of size %zu differs from tessera's", i + 1);
    }
    cu_ledger_close(l);

    /* the same file set, the same bytes */
    static char ours[256][128], theirs[256][128];
    size_t no = list_files(d, ours, 256), nt = list_files(REF, theirs, 256);
    CHECK_INT(nt, 31); /* checkpoint, 15 partial tiles, 15 partial bundles */
    CHECK_INT(no, nt);
    for (size_t i = 0; i < nt && i < 256; i++) {
        CHECK_MSG(listed(ours, no, theirs[i]), "tessera has %s, custos has not", theirs[i]);
        bool fits = snprintf(p, sizeof p, "%s/%s", d, theirs[i]) < (int)sizeof p &&
                    snprintf(q, sizeof q, REF "/%s", theirs[i]) < (int)sizeof q;
        CHECK_MSG(fits, "path too long: %s", theirs[i]);
        CHECK_MSG(!listed(ours, no, theirs[i]) || same_file(p, q), "%s differs", theirs[i]);
    }
    for (size_t i = 0; i < no && i < 256; i++)
        CHECK_MSG(listed(theirs, nt, ours[i]), "custos has %s, tessera has not", ours[i]);
}

TEST(tessera_log_passes_our_verifier)
{
    cu_note_verifier *v = NULL;
    CHECK_OK(cu_note_verifier_parse(VERIFIER, &v));
    if (!v)
        return;
    CHECK_OK(cu_ledger_verify_dir(REF, v));
    /* each checkpoint along the way: signature, origin, size, and the root
     * of the first N entries computed here from the entries alone */
    cu_merkle_tree *t = NULL;
    CHECK_OK(cu_merkle_tree_new(&t));
    for (size_t n = 0; n <= NENT && t; n++) {
        if (n > 0) {
            cu_hash h;
            CHECK_OK(cu_merkle_leaf_hash(entries[n - 1], strlen(entries[n - 1]), &h));
            CHECK_OK(cu_merkle_tree_append_hash(t, &h));
        }
        char path[256], *note = NULL;
        size_t len = 0, text_len = 0;
        bool ok = false;
        snprintf(path, sizeof path, REF "/checkpoint.%zu", n);
        CHECK_OK(cu_file_read(path, CU_NOTE_MAX, &note, &len));
        if (!note)
            continue;
        CHECK_OK(cu_note_open(note, len, &v, 1, &text_len, &ok));
        CHECK(ok);
        cu_checkpoint cp, want;
        CHECK_OK(cu_checkpoint_parse(note, text_len, &cp));
        CHECK_STR(cp.origin, ORIGIN);
        CHECK_INT(cp.size, n);
        CHECK_OK(cu_merkle_tree_root(t, &want.root));
        CHECK_MSG(memcmp(cp.root.b, want.root.b, CU_HASH_LEN) == 0, "checkpoint.%zu: root differs", n);
        cu_free(note);
    }
    cu_merkle_tree_free(t);
    cu_note_verifier_free(v);
}

/* A larger tree against golang.org/x/mod/sumdb/tlog (a second, unrelated
 * implementation of the same tiles): 70005 entries, so full tiles at level
 * 0 and 1 and partial tiles at levels 0, 1 and 2.  The expected root and
 * tile digests are in tests/ledger/data/xmod-tlog-70005.txt.  Publishing
 * at 1000 and 65537 on the way leaves partial tiles that the last publish
 * must remove, so the final hash tiles are exactly the ones x/mod lists. */
#define XMOD "tests/ledger/data/xmod-tlog-70005.txt"

static cu_rc append_entries(cu_ledger *l, uint64_t from, uint64_t to)
{
    size_t n = (size_t)(to - from);
    char *bufs = cu_malloc(n * 16);
    const void **e = cu_malloc(n * sizeof *e);
    size_t *lens = cu_malloc(n * sizeof *lens);
    uint64_t first = 0;
    cu_rc rc = CU_ERR_NOMEM;
    if (bufs && e && lens) {
        for (size_t i = 0; i < n; i++) {
            e[i] = bufs + i * 16;
            lens[i] = (size_t)snprintf(bufs + i * 16, 16, "entry-%llu", (unsigned long long)(from + i));
        }
        rc = cu_ledger_append_many(l, e, lens, n, &first);
    }
    cu_free(bufs);
    cu_free(e);
    cu_free(lens);
    return rc;
}

static size_t g_hash_files, g_bundle_files;

static int count_tiles(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag != FTW_F)
        return 0;
    const char *rel = path + g_skip;
    if (strncmp(rel, "tile/entries/", 13) == 0)
        g_bundle_files++;
    else if (strncmp(rel, "tile/", 5) == 0)
        g_hash_files++;
    return 0;
}

TEST(same_hash_tiles_as_xmod_tlog)
{
    char d[600], path[800];
    char *sk = NULL, *vk = NULL;
    CHECK_OK(cu_note_keygen("xmod.example/log", &sk, &vk));
    snprintf(d, sizeof d, "%s/xmod", cu_test_tmpdir());
    CHECK_OK(cu_ledger_init(d, "xmod.example/log", sk));
    cu_ledger_opts o = {.signer_key = sk};
    cu_ledger *l = NULL;
    CHECK_OK(cu_ledger_open(d, &o, &l));
    cu_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    if (l) {
        CHECK_OK(append_entries(l, 0, 1000));
        CHECK_OK(cu_ledger_publish(l, NULL));
        CHECK_OK(append_entries(l, 1000, 65537));
        CHECK_OK(cu_ledger_publish(l, NULL));
        CHECK_OK(append_entries(l, 65537, 70005));
        CHECK_OK(cu_ledger_publish(l, &cp));
        cu_ledger_close(l);
    }
    CHECK_INT(cp.size, 70005);

    cu_lines *it = NULL;
    CHECK_OK(cu_lines_open(XMOD, 512, &it));
    size_t ntiles = 0, nroot = 0;
    const char *line;
    size_t len;
    while (it && cu_lines_next(it, &line, &len) == CU_OK) {
        char buf[512];
        if (len == 0 || line[0] == '#' || len >= sizeof buf)
            continue;
        memcpy(buf, line, len);
        buf[len] = '\0';
        if (strncmp(buf, "root ", 5) == 0) {
            char b64[64];
            cu_b64_encode(cp.root.b, CU_HASH_LEN, b64);
            CHECK_STR(b64, buf + 5);
            nroot++;
            continue;
        }
        char *sp = strchr(buf, ' ');
        CHECK_MSG(sp != NULL, "%s:%llu: not \"digest path\"", XMOD, (unsigned long long)cu_lines_lineno(it));
        if (!sp)
            continue;
        *sp = '\0';
        ntiles++;
        char *data = NULL, hex[2 * CU_SHA256_LEN + 1];
        size_t dlen = 0;
        uint8_t dg[CU_SHA256_LEN];
        snprintf(path, sizeof path, "%s/%s", d, sp + 1);
        CHECK_MSG(cu_file_read(path, 1 << 20, &data, &dlen) == CU_OK, "%s: missing", sp + 1);
        if (!data)
            continue;
        CHECK_OK(cu_sha256(data, dlen, NULL, 0, NULL, 0, dg));
        cu_hex_encode(dg, sizeof dg, hex);
        CHECK_MSG(strcmp(hex, buf) == 0, "%s differs from x/mod's tile", sp + 1);
        cu_free(data);
    }
    cu_lines_close(it);
    CHECK_INT(nroot, 1);
    CHECK_INT(ntiles, 277);
    /* and no other hash tile: the partial tiles of sizes 1000 and 65537
     * went when their full tiles were published */
    g_skip = strlen(d) + 1;
    g_hash_files = g_bundle_files = 0;
    CHECK(nftw(d, count_tiles, 16, FTW_PHYS) == 0);
    CHECK_INT(g_hash_files, 277);
    CHECK_INT(g_bundle_files, 274); /* 273 full bundles and entries/273.p/117 */
    cu_free(sk);
    cu_free(vk);
}
