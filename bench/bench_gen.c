/* Benchmark of the synthetic force generator: a medium force (5,000
 * officers x 7 days) generated several times into a temporary directory;
 * prints the median events/s and MB/s and an estimate for 45,000 x 30.
 * Usage: bench_gen [officers days runs] */
#include "custos/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint32_t officers = argc > 1 ? (uint32_t)atoi(argv[1]) : 5000;
    uint32_t days = argc > 2 ? (uint32_t)atoi(argv[2]) : 7;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (runs < 1 || runs > 50)
        runs = 5;
    char dir[] = "/tmp/custos-bench-gen-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    cu_gen_config c;
    cu_gen_config_default(&c);
    c.officers = officers;
    c.days = days;
    c.seed = 2024;
    c.out_dir = dir;
    double secs[50];
    cu_gen_stats st;
    memset(&st, 0, sizeof st);
    for (int i = 0; i < runs; i++) {
        uint64_t t0 = cu_mono_ns();
        if (cu_gen_run(&c, &st) != CU_OK) {
            fprintf(stderr, "bench_gen: %s\n", cu_err_detail());
            return 1;
        }
        secs[i] = (double)(cu_mono_ns() - t0) / 1e9;
    }
    qsort(secs, (size_t)runs, sizeof secs[0], cmp_d);
    double med = secs[runs / 2];
    double bytes = (double)(st.bytes_reference + st.bytes_events + st.bytes_labels);
    double evs = (double)st.events / med;
    printf("gen %u officers x %u days: %llu events, %.1f MB events, %.1f MB reference, %.2f MB labels\n",
           officers, days, (unsigned long long)st.events, (double)st.bytes_events / 1e6,
           (double)st.bytes_reference / 1e6, (double)st.bytes_labels / 1e6);
    printf("median of %d runs: %.3f s  (min %.3f, max %.3f)\n", runs, med, secs[0], secs[runs - 1]);
    printf("throughput: %.0f events/s, %.1f MB/s written (all three files)\n", evs, bytes / med / 1e6);
    /* events scale with officers x days; the reference with officers */
    double scale = (45000.0 * 30.0) / ((double)officers * days);
    double est_events = (double)st.events * scale;
    double est_bytes = (double)st.bytes_events * scale + (double)st.bytes_reference * 9.0 * 1.5;
    printf("estimate for 45,000 x 30: %.1f M events, %.1f GB, %.0f s at this rate\n", est_events / 1e6,
           est_bytes / 1e9, est_events / evs);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
