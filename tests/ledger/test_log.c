/* The durable log: append / reopen / read back, tiles against the RFC 9162
 * definition, proofs, group commit from many threads, torn-tail recovery,
 * the commit period (commits spaced, publishing while appends gather),
 * the writer lock, publish refusing an inconsistent checkpoint, and the
 * offline verifier finding flipped bytes. */
#include "harness.h"
#include "ledger/ledger_int.h"

#include "custos/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_sk[512], g_vk[512];

static void keys(void)
{
    if (g_sk[0])
        return;
    char *sk = NULL, *vk = NULL;
    if (cu_note_keygen("test.example/log", &sk, &vk) != CU_OK) {
        fprintf(stderr, "keygen failed\n");
        exit(1);
    }
    snprintf(g_sk, sizeof g_sk, "%s", sk);
    snprintf(g_vk, sizeof g_vk, "%s", vk);
    cu_free(sk);
    cu_free(vk);
}

static const char *newdir(const char *tag)
{
    static char path[256][600];
    static int seq;
    char *p = path[seq % 256];
    snprintf(p, 600, "%s/%s-%d", cu_test_tmpdir(), tag, seq++);
    return p;
}

static cu_ledger *open_log(const char *dir)
{
    keys();
    cu_ledger_opts o = {.signer_key = g_sk};
    cu_ledger *l = NULL;
    cu_rc rc = cu_ledger_open(dir, &o, &l);
    CHECK_MSG(rc == CU_OK, "open %s: %s: %s", dir, cu_strerror(rc), cu_err_detail());
    return l;
}

static const char *make_log(const char *tag)
{
    keys();
    const char *d = newdir(tag);
    cu_rc rc = cu_ledger_init(d, "test.example/log", g_sk);
    CHECK_MSG(rc == CU_OK, "init: %s", cu_err_detail());
    return d;
}

/* Entry i: deterministic, 1..300 bytes. */
static size_t entry_of(uint64_t i, char *buf)
{
    size_t n = (size_t)snprintf(buf, 64, "entry-%llu:", (unsigned long long)i);
    size_t extra = (size_t)((i * 7919) % 240);
    for (size_t k = 0; k < extra; k++)
        buf[n + k] = (char)('a' + (i + k) % 26);
    return n + extra;
}

static void append_range(cu_ledger *l, uint64_t from, uint64_t to)
{
    size_t n = (size_t)(to - from);
    char *bufs = cu_malloc(n * 320);
    const void **e = cu_malloc(n * sizeof *e);
    size_t *lens = cu_malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        e[i] = bufs + i * 320;
        lens[i] = entry_of(from + i, bufs + i * 320);
    }
    uint64_t first = 0;
    CHECK_OK(cu_ledger_append_many(l, e, lens, n, &first));
    CHECK_INT(first, from);
    cu_free(bufs);
    cu_free(e);
    cu_free(lens);
}

static void check_entries(cu_ledger *l, uint64_t n)
{
    cu_buf b;
    char want[320];
    cu_buf_init(&b, 70000);
    CHECK(cu_ledger_size(l) >= n);
    for (uint64_t i = 0; i < n; i++) {
        cu_buf_reset(&b);
        size_t wl = entry_of(i, want);
        cu_rc rc = cu_ledger_read_entry(l, i, &b);
        if (rc != CU_OK || b.len != wl || memcmp(b.data, want, wl) != 0) {
            cu_test_fail(__FILE__, __LINE__, "entry %llu differs (%s)", (unsigned long long)i, cu_err_detail());
            break;
        }
    }
    cu_buf_free(&b);
}

static cu_note_verifier *verifier(void)
{
    keys();
    cu_note_verifier *v = NULL;
    if (cu_note_verifier_parse(g_vk, &v) != CU_OK)
        cu_test_fail(__FILE__, __LINE__, "verifier parse");
    return v;
}

static cu_rc verify(const char *dir)
{
    cu_note_verifier *v = verifier();
    cu_rc rc = cu_ledger_verify_dir(dir, v);
    cu_note_verifier_free(v);
    return rc;
}

static bool read_file(const char *dir, const char *rel, char **data, size_t *len)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return cu_file_read(p, 1 << 24, data, len) == CU_OK;
}

static bool file_exists(const char *dir, const char *rel)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return stat(p, &st) == 0;
}

/* Every tile for size n, checked against the definition of tlog-tiles over
 * an independent in-memory tree: hash i of tile (L, t) is
 * MTH(D[(t*256+i)*256^L : (t*256+i+1)*256^L]). */
static void check_tiles_against_definition(const char *dir, uint64_t n)
{
    cu_merkle_tree *t = NULL;
    char buf[320];
    CHECK_OK(cu_merkle_tree_new(&t));
    for (uint64_t i = 0; i < n; i++) {
        cu_hash h;
        size_t len = entry_of(i, buf);
        CHECK_OK(cu_merkle_leaf_hash(buf, len, &h));
        CHECK_OK(cu_merkle_tree_append_hash(t, &h));
    }
    for (unsigned L = 0; L < 3; L++) {
        uint64_t hashes = n >> (8 * L);
        for (uint64_t tile = 0; tile * 256 < hashes; tile++) {
            unsigned w = hashes - tile * 256 >= 256 ? 256 : (unsigned)(hashes - tile * 256);
            char rel[CU_TILE_PATH_MAX], *data = NULL;
            size_t len = 0;
            CHECK_OK(cu_tile_path((int)L, tile, w, rel, sizeof rel));
            if (!read_file(dir, rel, &data, &len)) {
                cu_test_fail(__FILE__, __LINE__, "%s missing", rel);
                continue;
            }
            CHECK_INT(len, (size_t)w * 32);
            for (unsigned i = 0; i < w && len == (size_t)w * 32; i++) {
                cu_hash want;
                CHECK_OK(cu_merkle_tree_node(t, 8 * L, tile * 256 + i, &want));
                CHECK_MSG(memcmp(data + 32 * i, want.b, 32) == 0, "%s hash %u differs from the definition", rel, i);
            }
            cu_free(data);
        }
    }
    /* the checkpoint's root is the tree's */
    char *note = NULL;
    size_t nl = 0;
    cu_checkpoint cp;
    cu_hash root;
    CHECK(read_file(dir, "checkpoint", &note, &nl));
    const char *sep = note ? strstr(note, "\n\n") : NULL;
    CHECK(sep != NULL);
    if (sep) {
        CHECK_OK(cu_checkpoint_parse(note, (size_t)(sep - note) + 1, &cp));
        CHECK_INT(cp.size, n);
        CHECK_OK(cu_merkle_tree_root(t, &root));
        CHECK_MEM(cp.root.b, root.b, 32);
    }
    cu_free(note);
    cu_merkle_tree_free(t);
}

TEST(append_reopen_read_back)
{
    const char *d = make_log("basic");
    cu_ledger *l = open_log(d);
    if (!l)
        return;
    CHECK_INT(cu_ledger_size(l), 0);
    uint64_t idx = 99;
    char buf[320];
    size_t len = entry_of(0, buf);
    CHECK_OK(cu_ledger_append(l, buf, len, &idx));
    CHECK_INT(idx, 0);
    append_range(l, 1, 700);
    append_range(l, 700, 1000);
    check_entries(l, 1000);
    /* bad entries are refused without touching the log */
    CHECK_RC(cu_ledger_append(l, buf, 0, &idx), CU_ERR_INVAL);
    char *big = cu_calloc(1, 70000);
    CHECK_RC(cu_ledger_append(l, big, 65536, &idx), CU_ERR_INVAL);
    CHECK_OK(cu_ledger_append(l, big, 65535, &idx));
    CHECK_INT(idx, 1000);
    cu_free(big);
    cu_ledger_close(l);
    /* reopen without publishing: the journal has everything */
    l = open_log(d);
    if (!l)
        return;
    CHECK_INT(cu_ledger_size(l), 1001);
    cu_buf b;
    cu_buf_init(&b, 70000);
    CHECK_OK(cu_ledger_read_entry(l, 1000, &b));
    CHECK_INT(b.len, 65535);
    CHECK_RC(cu_ledger_read_entry(l, 1001, &b), CU_ERR_RANGE);
    cu_buf_free(&b);
    cu_ledger_close(l);
    l = open_log(d);
    check_entries(l, 1000);
    cu_checkpoint cp;
    CHECK_OK(cu_ledger_publish(l, &cp));
    CHECK_INT(cp.size, 1001);
    CHECK_STR(cp.origin, "test.example/log");
    cu_ledger_close(l);
    CHECK_OK(verify(d));
}

TEST(tiles_match_the_definition)
{
    const char *d = make_log("tiles");
    cu_ledger *l = open_log(d);
    if (!l)
        return;
    /* publish at several sizes: 256 (a full tile and tile/1/000.p/1),
     * 300, then 66000 (a level-2 tile) */
    append_range(l, 0, 256);
    CHECK_OK(cu_ledger_publish(l, NULL));
    CHECK(file_exists(d, "tile/0/000"));
    CHECK(file_exists(d, "tile/entries/000"));
    CHECK(file_exists(d, "tile/1/000.p/1"));
    CHECK(!file_exists(d, "tile/0/001.p/0"));
    check_tiles_against_definition(d, 256);
    append_range(l, 256, 300);
    CHECK_OK(cu_ledger_publish(l, NULL));
    CHECK(file_exists(d, "tile/0/001.p/44"));
    CHECK(file_exists(d, "tile/entries/001.p/44"));
    check_tiles_against_definition(d, 300);
    /* a partial tile stays while its full tile is not there */
    append_range(l, 300, 400);
    CHECK_OK(cu_ledger_publish(l, NULL));
    CHECK(file_exists(d, "tile/0/001.p/44"));
    CHECK(file_exists(d, "tile/0/001.p/144"));
    CHECK(file_exists(d, "tile/entries/001.p/144"));
    append_range(l, 400, 66000);
    CHECK_OK(cu_ledger_publish(l, NULL));
    check_tiles_against_definition(d, 66000);
    /* the partial tiles of size 300 went when their full tiles came */
    CHECK(!file_exists(d, "tile/0/001.p/44"));
    CHECK(!file_exists(d, "tile/entries/001.p/44"));
    CHECK(file_exists(d, "tile/2/000.p/1"));
    CHECK(file_exists(d, "tile/1/001.p/1"));
    /* tile/1/000 is full at 66000 (257 level-8 hashes): its partials went */
    CHECK(file_exists(d, "tile/1/000"));
    CHECK(!file_exists(d, "tile/1/000.p/1"));
    cu_ledger_close(l);
    CHECK_OK(verify(d));
}

TEST(proofs_verify_against_an_independent_tree)
{
    const char *d = make_log("proofs");
    cu_ledger *l = open_log(d);
    if (!l)
        return;
    append_range(l, 0, 1300);
    cu_merkle_tree *t = NULL;
    char buf[320];
    CHECK_OK(cu_merkle_tree_new(&t));
    for (uint64_t i = 0; i < 1300; i++) {
        cu_hash h;
        size_t len = entry_of(i, buf);
        CHECK_OK(cu_merkle_leaf_hash(buf, len, &h));
        CHECK_OK(cu_merkle_tree_append_hash(t, &h));
    }
    static const uint64_t sizes[] = {1, 2, 255, 256, 257, 511, 512, 700, 1024, 1299, 1300};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint64_t size = sizes[s];
        cu_hash root, lroot, proof[CU_MERKLE_MAX_PROOF];
        size_t n = 0;
        CHECK_OK(cu_merkle_root(cu_merkle_tree_node, t, size, &root));
        CHECK_OK(cu_ledger_root(l, size, &lroot));
        CHECK_MEM(root.b, lroot.b, 32);
        for (uint64_t idx = 0; idx < size; idx += 1 + size / 7) {
            cu_hash leaf;
            CHECK_OK(cu_merkle_tree_node(t, 0, idx, &leaf));
            CHECK_OK(cu_ledger_prove_inclusion(l, idx, size, proof, &n));
            CHECK_OK(cu_merkle_verify_inclusion(idx, size, &leaf, proof, n, &root));
        }
        if (size > 1) {
            cu_hash r1;
            uint64_t s1 = size / 3 + 1;
            CHECK_OK(cu_merkle_root(cu_merkle_tree_node, t, s1, &r1));
            CHECK_OK(cu_ledger_prove_consistency(l, s1, size, proof, &n));
            CHECK_OK(cu_merkle_verify_consistency(s1, size, proof, n, &r1, &root));
        }
    }
    cu_hash proof[CU_MERKLE_MAX_PROOF];
    size_t n;
    CHECK_RC(cu_ledger_prove_inclusion(l, 5, 1301, proof, &n), CU_ERR_RANGE);
    CHECK_RC(cu_ledger_prove_inclusion(l, 1300, 1300, proof, &n), CU_ERR_RANGE);
    CHECK_RC(cu_ledger_prove_consistency(l, 0, 10, proof, &n), CU_ERR_RANGE);
    cu_merkle_tree_free(t);
    cu_ledger_close(l);
}

/* ----------------------------------------------------------- group commit */

static atomic_long g_fdatasyncs;
static int count_fdatasync(int fd)
{
    atomic_fetch_add(&g_fdatasyncs, 1);
    return cu_ledger_io_real.fdatasync(fd);
}

#define THREADS 8
#define PER_THREAD 1500

/* One appending thread: n entries "t<id>-<i>", their indices kept. */
typedef struct tctx {
    cu_ledger *l;
    int id, n, fails;
    uint64_t idx[PER_THREAD];
} tctx;

static void *appender(void *arg)
{
    tctx *c = arg;
    char buf[64];
    for (int i = 0; i < c->n; i++) {
        size_t n = (size_t)snprintf(buf, sizeof buf, "t%d-%d", c->id, i);
        if (cu_ledger_append(c->l, buf, n, &c->idx[i]) != CU_OK)
            c->fails++;
    }
    return NULL;
}

/* threads appenders of each entries, and also(l) in one more thread if
 * given, all run to their end. */
static void run_appenders(cu_ledger *l, tctx *ctx, int threads, int each, void *(*also)(void *))
{
    pthread_t th[THREADS + 1], more;
    for (int t = 0; t < threads && t < THREADS; t++) {
        ctx[t] = (tctx){.l = l, .id = t, .n = each};
        pthread_create(&th[t], NULL, appender, &ctx[t]);
    }
    if (also)
        pthread_create(&more, NULL, also, l);
    for (int t = 0; t < threads && t < THREADS; t++)
        pthread_join(th[t], NULL);
    if (also)
        pthread_join(more, NULL);
}

/* Every acknowledged index distinct, in range, rising within a thread and
 * holding that thread's entry. */
static void check_appended(cu_ledger *l, tctx *ctx, int threads, uint64_t total)
{
    uint8_t *seen = cu_calloc(total, 1);
    cu_buf b;
    cu_buf_init(&b, 128);
    for (int t = 0; t < threads; t++) {
        CHECK_INT(ctx[t].fails, 0);
        for (int i = 0; i < ctx[t].n; i++) {
            uint64_t x = ctx[t].idx[i];
            char want[64];
            if (x >= total || seen[x]) {
                cu_test_fail(__FILE__, __LINE__, "index %llu reused or out of range", (unsigned long long)x);
                break;
            }
            seen[x] = 1;
            if (i > 0)
                CHECK(x > ctx[t].idx[i - 1]);
            cu_buf_reset(&b);
            CHECK_OK(cu_ledger_read_entry(l, x, &b));
            snprintf(want, sizeof want, "t%d-%d", t, i);
            CHECK_STR(b.data, want);
        }
    }
    cu_buf_free(&b);
    cu_free(seen);
}

/* Open dir with fdatasync going through fds (until cu_ledger_set_io(NULL))
 * and the given commit period (0: the default). */
static cu_ledger *open_watched(const char *dir, int (*fds)(int), unsigned period_us)
{
    static cu_ledger_io io;
    io = cu_ledger_io_real;
    io.fdatasync = fds;
    cu_ledger_set_io(&io);
    keys();
    cu_ledger_opts o = {.signer_key = g_sk, .commit_period_us = period_us};
    cu_ledger *l = NULL;
    cu_rc rc = cu_ledger_open(dir, &o, &l);
    CHECK_MSG(rc == CU_OK, "open %s: %s: %s", dir, cu_strerror(rc), cu_err_detail());
    if (!l)
        cu_ledger_set_io(NULL);
    return l;
}

TEST(concurrent_appenders_share_fsyncs)
{
    const char *d = make_log("threads");
    cu_ledger *l = open_watched(d, count_fdatasync, 0);
    if (!l)
        return;
    atomic_store(&g_fdatasyncs, 0);
    static tctx ctx[THREADS];
    run_appenders(l, ctx, THREADS, PER_THREAD, NULL);
    long syncs = atomic_load(&g_fdatasyncs);
    uint64_t groups = cu_ledger_groups_committed(l);
    cu_ledger_set_io(NULL);
    const uint64_t total = (uint64_t)THREADS * PER_THREAD;
    CHECK_INT(cu_ledger_size(l), total);
    /* one fsync per group, and groups were shared */
    CHECK_INT((uint64_t)syncs, groups);
    CHECK_MSG(groups * 2 <= total, "%llu groups for %llu appends: no group commit", (unsigned long long)groups,
              (unsigned long long)total);
    check_appended(l, ctx, THREADS, total);
    CHECK_OK(cu_ledger_publish(l, NULL));
    cu_ledger_close(l);
    CHECK_OK(verify(d));
}

/* The commit period: while several callers wait, a commit starts no
 * sooner than the period after the previous one began (its appends gather
 * in the queue meanwhile), so commits hold several entries each.  The
 * fdatasync calls are timed: a wait can only be longer than asked, never
 * shorter, so the lower bound on their spacing holds on any machine. */
#define PERIOD_US 20000
#define GATHER_THREADS THREADS
#define GATHER_EACH 25
static uint64_t g_sync_at[2 * GATHER_THREADS * GATHER_EACH + 16];
static atomic_long g_sync_n;
static int timed_fdatasync(int fd)
{
    long i = atomic_fetch_add(&g_sync_n, 1);
    if (i < (long)(sizeof g_sync_at / sizeof g_sync_at[0]))
        g_sync_at[i] = cu_mono_ns();
    return cu_ledger_io_real.fdatasync(fd);
}

TEST(commit_period_gathers_concurrent_appends)
{
    const char *d = make_log("period");
    cu_ledger *l = open_watched(d, timed_fdatasync, PERIOD_US);
    if (!l)
        return;
    atomic_store(&g_sync_n, 0);
    static tctx ctx[GATHER_THREADS];
    run_appenders(l, ctx, GATHER_THREADS, GATHER_EACH, NULL);
    cu_ledger_set_io(NULL);
    const uint64_t total = (uint64_t)GATHER_THREADS * GATHER_EACH;
    long syncs = atomic_load(&g_sync_n);
    CHECK_INT(cu_ledger_size(l), total);
    CHECK_INT((uint64_t)syncs, cu_ledger_groups_committed(l));
    /* all but a few commits started a period or more after the one before
     * (the exceptions: a commit after one that acknowledged a single caller,
     * which does not wait, as the second one does, and a thread preempted
     * between the start and its fdatasync); the slack is the previous
     * commit's pwrite, timed before it but measured after */
    int short_gaps = 0;
    for (long i = 1; i < syncs; i++)
        if (g_sync_at[i] - g_sync_at[i - 1] < (uint64_t)PERIOD_US * 1000u * 9 / 10)
            short_gaps++;
    CHECK_MSG(short_gaps <= 3 + syncs / 10, "%d of %ld commits less than the period after the one before", short_gaps, syncs);
    CHECK_MSG((uint64_t)syncs * 4 <= total, "%ld commits for %llu appends: not gathered", syncs,
              (unsigned long long)total);
    check_appended(l, ctx, GATHER_THREADS, total);
    cu_ledger_close(l);
    CHECK_OK(verify(d));
}

/* Publishing while appends gather: the builder drains (waits for every
 * built batch to be committed) while the syncer waits for it to build what
 * was queued; neither may wait for the other for ever. */
static void *publisher(void *arg)
{
    cu_ledger *l = arg;
    for (int i = 0; i < 20; i++)
        CHECK_OK(cu_ledger_publish(l, NULL));
    return NULL;
}

TEST(publish_while_appends_gather)
{
    const char *d = make_log("periodpub");
    cu_ledger *l = open_log(d); /* the default period */
    if (!l)
        return;
    enum { T = 8, EACH = 100 };
    static tctx ctx[T];
    run_appenders(l, ctx, T, EACH, publisher);
    CHECK_INT(cu_ledger_size(l), (uint64_t)T * EACH);
    check_appended(l, ctx, T, (uint64_t)T * EACH);
    CHECK_OK(cu_ledger_publish(l, NULL));
    cu_ledger_close(l);
    CHECK_OK(verify(d));
}

/* ------------------------------------------------------- torn-tail recovery */

static off_t fsize(const char *dir, const char *rel)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static void truncate_to(const char *dir, const char *rel, off_t len)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    CHECK(truncate(p, len) == 0);
}

static void append_bytes(const char *dir, const char *rel, const void *data, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "ab");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, n, f) == n);
        fclose(f);
    }
}

static void write_bytes(const char *dir, const char *rel, const void *data, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, n, f) == n);
        fclose(f);
    }
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

TEST(torn_tail_is_cut_back)
{
    const char *d = make_log("torn");
    cu_ledger *l = open_log(d);
    if (!l)
        return;
    append_range(l, 0, 200);
    CHECK_OK(cu_ledger_publish(l, NULL));
    append_range(l, 200, 400); /* one commit record each */
    off_t before_third = journal_end(d);
    append_range(l, 400, 600);
    off_t full = journal_end(d);
    cu_ledger_close(l);

    /* a record cut anywhere is not committed: the log goes back to 400 */
    static const off_t cuts[] = {1, 31, 33, 100, 2000};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        char *saved = NULL;
        size_t sl = 0;
        CHECK(read_file(d, "private/journal", &saved, &sl));
        truncate_to(d, "private/journal", full - cuts[c]);
        l = open_log(d);
        if (!l) {
            cu_free(saved);
            return;
        }
        CHECK_INT(cu_ledger_size(l), 400);
        CHECK_INT(fsize(d, "private/journal"), before_third);
        /* the full tile/bundle 001 (entries 256..511) was written by the cut
         * group only in part: the recovered log must not keep it */
        CHECK(!file_exists(d, "tile/entries/001"));
        CHECK(!file_exists(d, "tile/0/001"));
        check_entries(l, 400);
        cu_ledger_close(l);
        write_bytes(d, "private/journal", saved, sl);
        cu_free(saved);
    }
    /* the zeros after the last record are no torn tail: kept */
    off_t size = fsize(d, "private/journal");
    CHECK(size > full);
    l = open_log(d);
    CHECK_INT(cu_ledger_size(l), 600);
    cu_ledger_close(l);
    CHECK_INT(fsize(d, "private/journal"), size);
    /* garbage after the last record: cut, nothing lost */
    l = open_log(d);
    CHECK_INT(cu_ledger_size(l), 600);
    cu_ledger_close(l);
    static const char junk[] = "CUJR\0\0\0\x01\0\0\0\x05garbage that is not a record";
    append_bytes(d, "private/journal", junk, sizeof junk);
    /* and a torn, unsynced full tile from the crash */
    write_bytes(d, "tile/0/001", "torn", 4);
    l = open_log(d);
    if (!l)
        return;
    CHECK_INT(cu_ledger_size(l), 600);
    CHECK_INT(fsize(d, "private/journal"), full);
    CHECK_INT(fsize(d, "tile/0/001"), 8192);
    check_entries(l, 600);
    CHECK_OK(cu_ledger_publish(l, NULL));
    cu_ledger_close(l);
    CHECK_OK(verify(d));
    check_tiles_against_definition(d, 600);
    /* a tile beyond the committed size (an uncommitted group's) goes away */
    write_bytes(d, "tile/entries/002", "x", 1);
    write_bytes(d, "tile/entries/003", "x", 1);
    l = open_log(d);
    CHECK(!file_exists(d, "tile/entries/002"));
    CHECK(!file_exists(d, "tile/entries/003"));
    CHECK(file_exists(d, "tile/entries/001"));
    cu_ledger_close(l);
    /* a damaged journal header is refused, not guessed at */
    char *j = NULL;
    size_t jl = 0;
    CHECK(read_file(d, "private/journal", &j, &jl));
    if (j && jl > 20) {
        j[9] ^= 1;
        write_bytes(d, "private/journal", j, jl);
        keys();
        cu_ledger_opts o = {.signer_key = g_sk};
        CHECK_RC(cu_ledger_open(d, &o, &l), CU_ERR_CORRUPT);
    }
    cu_free(j);
}

TEST(second_writer_is_refused)
{
    const char *d = make_log("lock");
    cu_ledger *a = open_log(d), *b = NULL, *r = NULL;
    if (!a)
        return;
    keys();
    cu_ledger_opts o = {.signer_key = g_sk};
    CHECK_RC(cu_ledger_open(d, &o, &b), CU_ERR_LOCKED);
    CHECK(b == NULL);
    append_range(a, 0, 10);
    /* a reader is allowed and sees committed entries */
    cu_ledger_opts ro = {.read_only = true};
    CHECK_OK(cu_ledger_open(d, &ro, &r));
    if (r) {
        CHECK_INT(cu_ledger_size(r), 10);
        char x = 'x';
        uint64_t i;
        CHECK_RC(cu_ledger_append(r, &x, 1, &i), CU_ERR_STATE);
        CHECK_RC(cu_ledger_publish(r, NULL), CU_ERR_STATE);
        cu_ledger_close(r);
    }
    cu_ledger_close(a);
    CHECK_OK(cu_ledger_open(d, &o, &b));
    cu_ledger_close(b);
    /* not a log; init over a log */
    CHECK_RC(cu_ledger_open(cu_test_tmpdir(), &o, &b), CU_ERR_NOTFOUND);
    CHECK_RC(cu_ledger_init(d, "test.example/log", g_sk), CU_ERR_EXISTS);
    CHECK_RC(cu_ledger_init(newdir("badkey"), "o", "PRIVATE+KEY+nonsense"), CU_ERR_PARSE);
}

TEST(publish_refuses_an_inconsistent_checkpoint)
{
    const char *a = make_log("cons-a");
    const char *b = make_log("cons-b");
    cu_ledger *la = open_log(a), *lb = open_log(b);
    if (!la || !lb)
        return;
    append_range(la, 0, 50);
    CHECK_OK(cu_ledger_publish(la, NULL));
    /* b has other entries at the same size */
    char x[8];
    for (int i = 0; i < 80; i++) {
        uint64_t idx;
        snprintf(x, sizeof x, "o%d", i);
        CHECK_OK(cu_ledger_append(lb, x, strlen(x), &idx));
    }
    char *acp = NULL, *bcp = NULL;
    size_t al = 0, bl = 0;
    CHECK(read_file(a, "checkpoint", &acp, &al));
    CHECK(read_file(b, "checkpoint", &bcp, &bl));
    /* a checkpoint of size 50 signed by the same key over other entries */
    write_bytes(b, "checkpoint", acp, al);
    CHECK_RC(cu_ledger_publish(lb, NULL), CU_ERR_VERIFY);
    CHECK_MSG(strstr(cu_err_detail(), "not consistent") != NULL, "detail: %s", cu_err_detail());
    char *now = NULL;
    size_t nl = 0;
    CHECK(read_file(b, "checkpoint", &now, &nl));
    CHECK(nl == al && memcmp(now, acp, al) == 0); /* nothing signed */
    cu_free(now);
    /* a checkpoint not signed by the log's key */
    char *sk = NULL, *vk = NULL;
    CHECK_OK(cu_note_keygen("test.example/log", &sk, &vk));
    {
        cu_note_signer *s = NULL;
        char *note = NULL, *text = NULL;
        size_t n = 0, tl = 0;
        cu_checkpoint cp = {.size = 0};
        snprintf(cp.origin, sizeof cp.origin, "test.example/log");
        cu_merkle_empty_root(&cp.root);
        CHECK_OK(cu_note_signer_parse(sk, &s));
        CHECK_OK(cu_checkpoint_format(&cp, &text, &tl));
        CHECK_OK(cu_note_sign(text, tl, s, &note, &n));
        write_bytes(b, "checkpoint", note, n);
        CHECK_RC(cu_ledger_publish(lb, NULL), CU_ERR_VERIFY);
        cu_note_signer_free(s);
        cu_free(note);
        cu_free(text);
    }
    cu_free(sk);
    cu_free(vk);
    /* with its own checkpoint back, b publishes */
    write_bytes(b, "checkpoint", bcp, bl);
    cu_checkpoint cp;
    CHECK_OK(cu_ledger_publish(lb, &cp));
    CHECK_INT(cp.size, 80);
    cu_free(acp);
    cu_free(bcp);
    cu_ledger_close(la);
    cu_ledger_close(lb);
    CHECK_OK(verify(b));
}

/* ------------------------------------------------------------ verification */

static void copy_log(const char *from, const char *to)
{
    char *out = NULL;
    int st = cu_test_run(&out, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    CHECK_INT(st, 0);
    cu_free(out);
}

static void flip(const char *dir, const char *rel, size_t at)
{
    char *data = NULL;
    size_t len = 0;
    CHECK(read_file(dir, rel, &data, &len));
    if (!data)
        return;
    CHECK(at < len);
    if (at < len)
        data[at] ^= 0x01;
    write_bytes(dir, rel, data, len);
    cu_free(data);
}

static void expect_fault(const char *good, const char *rel, size_t at, cu_rc want, const char *needle)
{
    const char *bad = newdir("flip");
    copy_log(good, bad);
    flip(bad, rel, at);
    cu_rc rc = verify(bad);
    CHECK_MSG(want == CU_OK ? rc != CU_OK : rc == want, "flip %s@%zu: %s (%s), want %s", rel, at, cu_strerror(rc), cu_err_detail(),
              cu_strerror(want));
    CHECK_MSG(strstr(cu_err_detail(), needle) != NULL, "flip %s@%zu: detail \"%s\" lacks \"%s\"", rel, at,
              cu_err_detail(), needle);
}

TEST(verify_finds_flipped_bytes)
{
    const char *d = make_log("verify");
    cu_ledger *l = open_log(d);
    if (!l)
        return;
    append_range(l, 0, 600);
    CHECK_OK(cu_ledger_publish(l, NULL));
    cu_ledger_close(l);
    CHECK_OK(verify(d));
    expect_fault(d, "tile/entries/001", 3, CU_ERR_CORRUPT, "tile/0/001");
    expect_fault(d, "tile/entries/002.p/88", 5, CU_ERR_CORRUPT, "tile/0/002.p/88");
    expect_fault(d, "tile/entries/000", 0, CU_ERR_CORRUPT, "tile/entries/000");
    expect_fault(d, "tile/0/000", 4000, CU_ERR_CORRUPT, "tile/0/000");
    expect_fault(d, "tile/0/002.p/88", 31, CU_ERR_CORRUPT, "tile/0/002.p/88");
    expect_fault(d, "tile/1/000.p/2", 40, CU_ERR_CORRUPT, "tile/1/000.p/2");
    /* the checkpoint's text (size digit, root) and its signature */
    expect_fault(d, "checkpoint", 18, CU_ERR_VERIFY, "checkpoint");
    expect_fault(d, "checkpoint", 25, CU_ERR_VERIFY, "checkpoint");
    char *cp = NULL;
    size_t cl = 0;
    CHECK(read_file(d, "checkpoint", &cp, &cl));
    if (cp)
        expect_fault(d, "checkpoint", cl - 10, CU_OK /* any error */, "signature");
    cu_free(cp);
    /* a missing tile */
    const char *bad = newdir("missing");
    copy_log(d, bad);
    char p[1024];
    snprintf(p, sizeof p, "%s/tile/0/001", bad);
    unlink(p);
    CHECK_RC(verify(bad), CU_ERR_CORRUPT);
    CHECK(strstr(cu_err_detail(), "tile/0/001: missing") != NULL);
}

/* A group that writes full tiles and then fails to commit must not take
 * away what the published checkpoint needs: right after reopening (before
 * any new publish) the log still verifies. */
static int fail_fdatasync(int fd)
{
    (void)fd;
    errno = EIO;
    return -1;
}

TEST(failed_group_keeps_the_published_tiles)
{
    const char *d = make_log("keep");
    cu_ledger *l = open_log(d);
    if (!l)
        return;
    append_range(l, 0, 300);
    CHECK_OK(cu_ledger_publish(l, NULL));
    cu_ledger_io io = cu_ledger_io_real;
    io.fdatasync = fail_fdatasync;
    cu_ledger_set_io(&io);
    size_t n = 400;
    char *bufs = cu_malloc(n * 320);
    const void **e = cu_malloc(n * sizeof *e);
    size_t *lens = cu_malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        e[i] = bufs + i * 320;
        lens[i] = entry_of(300 + i, bufs + i * 320);
    }
    uint64_t first;
    CHECK_RC(cu_ledger_append_many(l, e, lens, n, &first), CU_ERR_IO);
    cu_ledger_set_io(NULL);
    cu_ledger_close(l); /* the tile writer has finished what it was handed */
    /* handed to the tile writer before the commit point, so on disk even
     * though the group never committed */
    CHECK(file_exists(d, "tile/0/001"));
    CHECK(file_exists(d, "tile/entries/001"));
    l = open_log(d);
    CHECK_INT(cu_ledger_size(l), 300);
    CHECK(!file_exists(d, "tile/0/001"));
    CHECK(file_exists(d, "tile/0/001.p/44"));
    cu_ledger_close(l);
    CHECK_OK(verify(d));
    cu_free(bufs);
    cu_free(e);
    cu_free(lens);
}

/* Asynchronous appends: the completion runs once per request with its
 * index; a multi-entry request gets consecutive indices; bad input is
 * refused at once (no completion); close runs every pending completion;
 * the entries are the ones given, in a log that reopens. */
struct async_rec {
    atomic_int calls;
    cu_rc rc;
    uint64_t first;
};

static void async_done_cb(void *ud, cu_rc rc, uint64_t first, const char *detail)
{
    struct async_rec *r = ud;
    (void)detail;
    r->rc = rc;
    r->first = first;
    atomic_fetch_add(&r->calls, 1);
}

TEST(async_appends_complete_once_with_their_index)
{
    const char *d = make_log("async");
    cu_ledger *l = open_log(d);
    if (!l)
        return;
    enum { K = 64 };
    static cu_ledger_pending pend[K + 1];
    static struct async_rec rec[K + 1];
    static char bufs[K + 3][320];
    size_t lens[K + 3];
    for (int i = 0; i < K + 3; i++)
        lens[i] = entry_of((uint64_t)i, bufs[i]);
    memset(rec, 0, sizeof rec);
    CHECK_RC(cu_ledger_append_async(l, &pend[0], (const void *const[]){bufs[0]}, (const size_t[]){0}, 1,
                                    async_done_cb, &rec[0]),
             CU_ERR_INVAL);
    CHECK_RC(cu_ledger_append_async(l, &pend[0], NULL, NULL, 0, async_done_cb, &rec[0]), CU_ERR_INVAL);
    for (int i = 0; i < K; i++) {
        const void *e = bufs[i];
        CHECK_OK(cu_ledger_append_async(l, &pend[i], &e, &lens[i], 1, async_done_cb, &rec[i]));
    }
    /* three entries in one request, then closing with all of it pending */
    const void *three[3] = {bufs[K], bufs[K + 1], bufs[K + 2]};
    CHECK_OK(cu_ledger_append_async(l, &pend[K], three, &lens[K], 3, async_done_cb, &rec[K]));
    cu_ledger_close(l);
    bool seen[K + 3] = {false};
    int good = 0;
    for (int i = 0; i <= K; i++) {
        CHECK_INT(atomic_load(&rec[i].calls), 1);
        CHECK_OK(rec[i].rc);
        if (rec[i].first < K + 3 && !seen[rec[i].first]) {
            seen[rec[i].first] = true;
            good++;
        }
    }
    CHECK_INT(good, K + 1);
    CHECK(rec[K].first + 2 < K + 3);
    l = open_log(d);
    if (!l)
        return;
    CHECK_INT(cu_ledger_size(l), K + 3);
    cu_buf b;
    cu_buf_init(&b, 1 << 16);
    for (int i = 0; i < K; i++) {
        cu_buf_reset(&b);
        CHECK_OK(cu_ledger_read_entry(l, rec[i].first, &b));
        CHECK(b.len == lens[i] && memcmp(b.data, bufs[i], b.len) == 0);
    }
    for (int k = 0; k < 3; k++) {
        cu_buf_reset(&b);
        CHECK_OK(cu_ledger_read_entry(l, rec[K].first + (uint64_t)k, &b));
        CHECK(b.len == lens[K + k] && memcmp(b.data, bufs[K + k], b.len) == 0);
    }
    cu_buf_free(&b);
    cu_ledger_close(l);
}
