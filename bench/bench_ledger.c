/* bench_ledger: durable appends per second with group commit from several
 * threads, acknowledgement latency (p50, p99), the same with fsync turned
 * into a no-op, the edge alone (hashing + tiles in memory), and the SHA-256
 * limit measured in the same run.  Each thread appends BATCH entries per
 * call (cu_ledger_append for BATCH 1, cu_ledger_append_many otherwise, as
 * the pipeline does); latency is per call, from submit to acknowledgement.
 * Run by hand:
 *   bench_ledger [DIR] [THREADS] [ENTRIES_PER_THREAD] [ENTRY_BYTES] [BATCH]
 *   bench_ledger --sweep [DIR]
 * The sweep is the gateway's pattern (request threads appending one entry
 * per call) at 1, 4, 16, 64 and 256 threads, then batched appends (32 and
 * 64 threads x 32 per call): appends/s, p50/p99, entries per fsync (how the
 * commit batch grows with load) and the ratio to the SHA-256 limit.
 * DIR defaults to a fresh directory under $TMPDIR (removed at the end).
 * $BENCH_GROUP_WAIT_US sets cu_ledger_opts.group_wait_us (default 0: no waiting). */
#include "custos/ledger.h"
#include "ledger/ledger_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned g_threads = 16, g_per = 20000, g_bytes = 200, g_batch = 1;
static unsigned g_wait_us; /* $BENCH_GROUP_WAIT_US: cu_ledger_opts.group_wait_us (0: the default) */

static int nop_sync(int fd)
{
    (void)fd;
    return 0;
}

typedef struct worker {
    cu_ledger *l;
    unsigned id;
    uint64_t *lat;
    int fails;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    char *buf = malloc((size_t)g_batch * g_bytes);
    const void **ents = malloc(g_batch * sizeof *ents);
    size_t *lens = malloc(g_batch * sizeof *lens);
    memset(buf, 'a' + (int)(w->id % 26), (size_t)g_batch * g_bytes);
    for (unsigned b = 0; b < g_batch; b++) {
        ents[b] = buf + (size_t)b * g_bytes;
        lens[b] = g_bytes;
    }
    for (unsigned i = 0, call = 0; i < g_per; i += g_batch, call++) {
        unsigned k = g_per - i < g_batch ? g_per - i : g_batch;
        for (unsigned b = 0; b < k; b++)
            snprintf(buf + (size_t)b * g_bytes, 24, "%u:%u:", w->id, i + b);
        uint64_t t0 = cu_mono_ns(), idx;
        cu_rc rc = k == 1 ? cu_ledger_append(w->l, ents[0], lens[0], &idx)
                          : cu_ledger_append_many(w->l, ents, lens, k, &idx);
        if (rc != CU_OK)
            w->fails++;
        w->lat[call] = cu_mono_ns() - t0;
    }
    free(buf);
    free(ents);
    free(lens);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double run_log(const char *dir, const char *sk, bool durable, double *p50, double *p99, uint64_t *groups)
{

    cu_ledger_io io = cu_ledger_io_real;
    if (!durable) {
        io.fdatasync = nop_sync;
        io.fsync = nop_sync;
        io.syncfs = nop_sync;
        cu_ledger_set_io(&io);
    }
    if (cu_ledger_init(dir, "bench.example/log", sk) != CU_OK) {
        fprintf(stderr, "init %s: %s\n", dir, cu_err_detail());
        exit(1);
    }
    cu_ledger_opts o = {.signer_key = sk, .group_wait_us = g_wait_us};
    cu_ledger *l = NULL;
    if (cu_ledger_open(dir, &o, &l) != CU_OK) {
        fprintf(stderr, "open: %s\n", cu_err_detail());
        exit(1);
    }
    worker *w = calloc(g_threads, sizeof *w);
    pthread_t *th = calloc(g_threads, sizeof *th);
    uint64_t *lat = malloc((size_t)g_threads * g_per * sizeof *lat);
    uint64_t t0 = cu_mono_ns();
    for (unsigned t = 0; t < g_threads; t++) {
        w[t] = (worker){.l = l, .id = t, .lat = lat + (size_t)t * g_per};
        pthread_create(&th[t], NULL, run, &w[t]);
    }
    int fails = 0;
    for (unsigned t = 0; t < g_threads; t++) {
        pthread_join(th[t], NULL);
        fails += w[t].fails;
    }
    double secs = (double)(cu_mono_ns() - t0) / 1e9;
    *groups = cu_ledger_groups_committed(l);
    if (fails)
        fprintf(stderr, "%d appends failed\n", fails);
    if (cu_ledger_publish(l, NULL) != CU_OK)
        fprintf(stderr, "publish: %s\n", cu_err_detail());
    cu_ledger_close(l);
    cu_ledger_set_io(NULL);
    size_t calls = (g_per + g_batch - 1) / g_batch, n = (size_t)g_threads * calls;
    uint64_t *all = malloc(n * sizeof *all);
    for (unsigned t = 0; t < g_threads; t++)
        memcpy(all + (size_t)t * calls, lat + (size_t)t * g_per, calls * sizeof *all);
    qsort(all, n, sizeof *all, cmp_u64);
    *p50 = (double)all[n / 2] / 1e6;
    *p99 = (double)all[n * 99 / 100] / 1e6;
    free(all);
    free(lat);
    free(w);
    free(th);
    return (double)g_threads * g_per / secs;
}

/* SHA-256 leaf hashes of `total` entries of g_bytes, one thread: the
 * hashing limit the durable figures are compared with. */
static double sha_limit(size_t total)
{
    char *buf = calloc(1, g_bytes);
    cu_hash h;
    memset(buf, 'a', g_bytes);
    uint64_t t0 = cu_mono_ns();
    for (size_t i = 0; i < total; i++) {
        buf[i % g_bytes] ^= 1;
        if (cu_merkle_leaf_hash(buf, g_bytes, &h) != CU_OK)
            exit(1);
    }
    free(buf);
    return (double)total / ((double)(cu_mono_ns() - t0) / 1e9);
}

static void sweep(const char *base, const char *sk)
{
    static const struct {
        unsigned threads, per, batch;
    } runs[] = {{1, 2000, 1},      {4, 2000, 1},      {16, 2000, 1},     {64, 1000, 1},
                {256, 500, 1},     {32, 8192, 32},    {64, 8192, 32},    {64, 4096, 64}};
    double sha = sha_limit(1000000);
    printf("bench_ledger --sweep: %u-byte entries, durable (fdatasync per commit batch)\n", g_bytes);
    printf("  SHA-256 leaf hashes (1 thread)  %.0f /s\n", sha);
    printf("  %7s %9s %12s %9s %9s %14s %9s\n", "threads", "per call", "appends/s", "p50 ms", "p99 ms",
           "entries/fsync", "/ SHA-256");
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char dir[700];
        double p50, p99;
        uint64_t syncs;
        g_threads = runs[i].threads;
        g_per = runs[i].per;
        g_batch = runs[i].batch;
        snprintf(dir, sizeof dir, "%s/sweep%zu", base, i);
        double r = run_log(dir, sk, true, &p50, &p99, &syncs);
        printf("  %7u %9u %12.0f %9.3f %9.3f %14.1f %9.3f\n", g_threads, g_batch, r, p50, p99,
               (double)g_threads * g_per / (double)(syncs ? syncs : 1), r / sha);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    char base[512], dir[600], cmd[700];
    const char *tmp = getenv("TMPDIR");
    bool do_sweep = argc > 1 && strcmp(argv[1], "--sweep") == 0;
    const char *w = getenv("BENCH_GROUP_WAIT_US");
    if (w)
        g_wait_us = (unsigned)atoi(w);
    if (do_sweep) {
        argv++;
        argc--;
    }
    bool own = argc <= 1 || strcmp(argv[1], "-") == 0;
    if (!own)
        snprintf(base, sizeof base, "%s", argv[1]);
    else {
        snprintf(base, sizeof base, "%s/bench_ledger-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(base)) {
            perror("mkdtemp");
            return 1;
        }
    }
    if (!do_sweep) {
        if (argc > 2)
            g_threads = (unsigned)atoi(argv[2]);
        if (argc > 3)
            g_per = (unsigned)atoi(argv[3]);
        if (argc > 4)
            g_bytes = (unsigned)atoi(argv[4]);
        if (argc > 5)
            g_batch = (unsigned)atoi(argv[5]);
    }
    if (g_threads < 1 || g_per < 1 || g_bytes < 24 || g_bytes > 65535 || g_batch < 1 || g_batch > 65536) {
        fprintf(stderr, "usage: bench_ledger [DIR|-] [THREADS] [ENTRIES_PER_THREAD] [ENTRY_BYTES >= 24] [BATCH]\n"
                        "       bench_ledger --sweep [DIR|-]\n");
        return 2;
    }
    char *sk = NULL, *vk = NULL;
    if (cu_note_keygen("bench.example/log", &sk, &vk) != CU_OK)
        return 1;
    if (do_sweep) {
        sweep(base, sk);
        goto done;
    }
    size_t total = (size_t)g_threads * g_per;
    printf("bench_ledger: %u threads x %u entries of %u bytes, %u per call (%zu entries)\n", g_threads, g_per, g_bytes,
           g_batch, total);

    double sha = sha_limit(total);

    /* the edge alone: leaf hash + tiles in memory (no I/O, one thread) */
    char *buf = calloc(1, g_bytes);
    memset(buf, 'a', g_bytes);
    cu_hash h;
    cu_lg_edge *e = malloc(sizeof *e);
    cu_lg_edge_reset(e);
    uint64_t t0 = cu_mono_ns();
    for (size_t i = 0; i < total; i++) {
        buf[i % g_bytes] ^= 1;
        if (cu_merkle_leaf_hash(buf, g_bytes, &h) != CU_OK || cu_lg_edge_push(e, &h, NULL, NULL) != CU_OK)
            return 1;
    }
    double edge = (double)total / ((double)(cu_mono_ns() - t0) / 1e9);
    free(e);
    free(buf);

    double p50, p99, q50, q99;
    uint64_t g1, g2;
    snprintf(dir, sizeof dir, "%s/nosync", base);
    double nosync = run_log(dir, sk, false, &q50, &q99, &g2);
    snprintf(dir, sizeof dir, "%s/durable", base);
    double durable = run_log(dir, sk, true, &p50, &p99, &g1);

    printf("  SHA-256 leaf hashes (1 thread)        %12.0f /s\n", sha);
    printf("  edge: hash + tiles in memory          %12.0f /s  (%.2f of the SHA-256 limit)\n", edge, edge / sha);
    printf("  (latencies are per call of %u entries)\n", g_batch);
    printf("  log, fsync a no-op                    %12.0f /s  p50 %.3f ms  p99 %.3f ms  %llu commit batches\n",
           nosync, q50, q99, (unsigned long long)g2);
    printf("  log, durable (group commit)           %12.0f /s  p50 %.3f ms  p99 %.3f ms  %llu fsyncs (%.1f entries/fsync)\n",
           durable, p50, p99, (unsigned long long)g1, (double)total / (double)(g1 ? g1 : 1));
    printf("  durable / SHA-256 limit               %12.3f\n", durable / sha);
    printf("  durable / no-fsync                    %12.2f\n", durable / nosync);
done:
    cu_free(sk);
    cu_free(vk);
    if (own) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", base);
    }
    return 0;
}
