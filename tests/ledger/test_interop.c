/* Byte-identical interop with independent C2SP tlog-tiles implementations.
 *
 * tessera: tests/ledger/data/tessera-digests.txt holds the SHA-256 of every
 * public file of the 15-entry test log tessera publishes in its repository
 * (the digests only: its files are not copied here).  Given the same entries
 * and origin, the log custos writes must hold exactly the same tile and
 * entry-bundle files with the same bytes, and every checkpoint along the way
 * the same signed text (the signature itself depends on upstream's key; our
 * signatures are checked against the C2SP signed-note vectors in
 * test_note.c). */
#include "harness.h"

#include "custos/ledger.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#define DIGESTS "tests/ledger/data/tessera-digests.txt"
#define ORIGIN "example.com/log/testdata"

/* The 15 entries, in order (upstream's list, typos included). */
static const char *const entries[] = {"one",    "two",   "three",    "four",    "five",
                                      "six",    "seven", "eit",      "nain",    "ten",
                                      "ileven", "twelf", "threeten", "fourten", "fivten"};
#define NENT (sizeof entries / sizeof entries[0])

/* The manifest: "<hex> <path>" lines; "body:<checkpoint file>" for the
 * signed text of a checkpoint. */
static char g_hex[128][65], g_path[128][96];
static size_t g_n;

static void load_digests(void)
{
    char *text = NULL;
    size_t len = 0;
    g_n = 0;
    CHECK_OK(cu_file_read(DIGESTS, 1 << 16, &text, &len));
    for (char *line = text ? strtok(text, "\n") : NULL; line && g_n < 128; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char hex[65], path[96];
        if (sscanf(line, "%64s %95s", hex, path) != 2)
            continue;
        memcpy(g_hex[g_n], hex, sizeof hex);
        memcpy(g_path[g_n], path, sizeof path);
        g_n++;
    }
    cu_free(text);
}

static const char *digest_of(const char *path)
{
    for (size_t i = 0; i < g_n; i++)
        if (strcmp(g_path[i], path) == 0)
            return g_hex[i];
    return NULL;
}

/* SHA-256 hex of a file, or of its text up to the blank line (body). */
static bool file_digest(const char *path, bool body, char out[65])
{
    char *x = NULL;
    size_t xl = 0;
    if (cu_file_read(path, 1 << 20, &x, &xl) != CU_OK)
        return false;
    if (body) {
        char *blank = strstr(x, "\n\n");
        if (!blank) {
            cu_free(x);
            return false;
        }
        xl = (size_t)(blank - x) + 1;
    }
    uint8_t h[32];
    bool ok = cu_sha256(x, xl, NULL, 0, NULL, 0, h) == CU_OK;
    cu_hex_encode(h, 32, out);
    cu_free(x);
    return ok;
}

/* The files under tile/ of a log, as paths relative to the log directory. */
static char g_files[256][128];
static size_t g_nfiles, g_skip;

static int collect(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag != FTW_F)
        return 0;
    const char *rel = path + g_skip;
    if (strncmp(rel, "tile/", 5) != 0)
        return 0;
    if (g_nfiles < 256)
        snprintf(g_files[g_nfiles], sizeof g_files[0], "%s", rel);
    g_nfiles++;
    return 0;
}

static bool checkpoint_matches(const char *dir, const char *ref_name)
{
    char p[700], hex[65];
    const char *want = NULL;
    char key[96];
    snprintf(key, sizeof key, "body:%s", ref_name);
    want = digest_of(key);
    return snprintf(p, sizeof p, "%s/checkpoint", dir) < (int)sizeof p && want && file_digest(p, true, hex) &&
           strcmp(hex, want) == 0;
}

TEST(same_log_as_tessera_byte_for_byte)
{
    load_digests();
    CHECK_INT(g_n, 47); /* 17 checkpoint bodies, 15 partial tiles, 15 partial bundles */
    char *skey = NULL, *vkey = NULL;
    CHECK_OK(cu_note_keygen(ORIGIN, &skey, &vkey));
    if (!skey)
        return;
    char d[600], p[700], hex[65];
    snprintf(d, sizeof d, "%s/ours", cu_test_tmpdir());
    CHECK_OK(cu_ledger_init(d, ORIGIN, skey));
    CHECK_MSG(checkpoint_matches(d, "checkpoint.0"), "the empty log's checkpoint text differs from tessera's");
    cu_ledger_opts o = {.signer_key = skey};
    cu_ledger *l = NULL;
    CHECK_OK(cu_ledger_open(d, &o, &l));
    for (size_t i = 0; l && i < NENT; i++) {
        uint64_t idx = 0;
        CHECK_OK(cu_ledger_append(l, entries[i], strlen(entries[i]), &idx));
        CHECK_INT(idx, i);
        cu_checkpoint cp;
        CHECK_OK(cu_ledger_publish(l, &cp));
        CHECK_INT(cp.size, i + 1);
        char name[32];
        snprintf(name, sizeof name, "checkpoint.%zu", i + 1);
        CHECK_MSG(checkpoint_matches(d, name), "our checkpoint text of size %zu differs from tessera's", i + 1);
    }
    cu_ledger_close(l);
    CHECK_MSG(checkpoint_matches(d, "checkpoint"), "the final checkpoint text differs");

    /* the same tile files, the same bytes */
    g_nfiles = 0;
    g_skip = strlen(d) + 1;
    CHECK(nftw(d, collect, 16, FTW_PHYS) == 0);
    size_t theirs = 0;
    for (size_t i = 0; i < g_n; i++)
        if (strncmp(g_path[i], "tile/", 5) == 0)
            theirs++;
    CHECK_INT(g_nfiles, theirs);
    for (size_t i = 0; i < g_nfiles && i < 256; i++) {
        const char *want = digest_of(g_files[i]);
        CHECK_MSG(want != NULL, "custos has %s, tessera has not", g_files[i]);
        bool fits = snprintf(p, sizeof p, "%.600s/%.90s", d, g_files[i]) < (int)sizeof p;
        CHECK_MSG(fits && want && file_digest(p, false, hex) && strcmp(hex, want) == 0, "%s differs", g_files[i]);
    }
    /* and our own verifier accepts what we wrote */
    cu_note_verifier *v = NULL;
    CHECK_OK(cu_note_verifier_parse(vkey, &v));
    if (v)
        CHECK_OK(cu_ledger_verify_dir(d, v));
    cu_note_verifier_free(v);
    cu_free(skey);
    cu_free(vkey);
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
