/* bench_detect: throughput and memory of the misuse detector on replay.
 *
 * Generates a synthetic force with `custos gen`'s library (default 45,000
 * officers over 2 days), parses every event into memory first, then times
 * the detectors alone (reference clock + cu_detect_event) on one core,
 * three runs, and prints the median events/s by the wall clock and by the
 * thread's CPU time (the machine is shared: the CPU-time figure is the one
 * that does not count other people's work), the alerts, and the resident
 * memory of the reference context and of the detector's state.
 *
 * --stream reads and detects in one pass instead (one run, nothing held but
 * the reference and the detector): for long periods (45,000 officers x 90
 * days is about 29 M events) where only the memory is wanted.
 *
 * usage: bench_detect [OFFICERS] [DAYS] [--rules-only] [--stream] [--keep DIR]
 */
#include "custos/detect.h"
#include "custos/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint64_t nalerts;
static cu_rc count(void *ud, const cu_alert *a)
{
    (void)ud;
    (void)a;
    nalerts++;
    return CU_OK;
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One pass: read, advance, detect; nothing kept but the state. */
static int stream(const char *ref, const char *ev, bool rules, uint32_t officers, uint32_t days)
{
    cu_names *n;
    cu_ref *r;
    cu_event_reader *rd;
    long base = rss_kb();
    if (cu_names_new(&n) || cu_ref_new(n, &r) || cu_ref_load(r, ref)) {
        fprintf(stderr, "load: %s\n", cu_err_detail());
        return 1;
    }
    long with_ref = rss_kb();
    cu_detect_cfg cfg;
    cu_detect_cfg_default(&cfg);
    cfg.rules_only = rules;
    cu_detect *d;
    if (cu_detect_new_cfg(r, 1, &cfg, &d) || cu_event_reader_open(ev, n, &rd))
        return 1;
    static cu_id subj[CU_EVENT_MAX_SUBJECTS];
    cu_event e = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    uint64_t nev = 0, t0 = cu_mono_ns(), c0 = cpu_ns();
    int64_t last = 0;
    cu_rc rc;
    while ((rc = cu_event_reader_next(rd, &e)) == CU_OK) {
        if (cu_ref_advance(r, e.ts) || cu_detect_event(d, &e, e.ts, count, NULL)) {
            fprintf(stderr, "detect: %s\n", cu_err_detail());
            return 1;
        }
        last = e.ts;
        nev++;
    }
    if (rc != CU_ERR_NOTFOUND || cu_detect_flush(d, last, count, NULL))
        return 1;
    uint64_t t1 = cu_mono_ns(), c1 = cpu_ns();
    long end = rss_kb();
    printf("bench_detect --stream: %u officers, %u days, %llu events (%s)\n", officers, days, (unsigned long long)nev,
           rules ? "rules only" : "full");
    printf("  parse + detect: %.0f events/s (wall), %.0f events/s (CPU time)\n", (double)nev / ((double)(t1 - t0) / 1e9),
           (double)nev / ((double)(c1 - c0) / 1e9));
    printf("  alert lines: %llu\n", (unsigned long long)nalerts);
    printf("  resident memory: reference context %.1f MiB, detector state and reader %.1f MiB, total %.1f MiB\n",
           (double)(with_ref - base) / 1024.0, (double)(end - with_ref) / 1024.0, (double)end / 1024.0);
    cu_event_reader_close(rd);
    cu_detect_free(d);
    cu_ref_free(r);
    cu_names_free(n);
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint32_t officers = 45000, days = 2;
    bool rules = false, streaming = false;
    const char *keep = NULL;
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules-only") == 0)
            rules = true;
        else if (strcmp(argv[i], "--stream") == 0)
            streaming = true;
        else if (strcmp(argv[i], "--keep") == 0 && i + 1 < argc)
            keep = argv[++i];
        else if (pos++ == 0)
            officers = (uint32_t)atoi(argv[i]);
        else
            days = (uint32_t)atoi(argv[i]);
    }
    char tmpl[] = "/tmp/bench-detect-XXXXXX";
    const char *dir = keep;
    if (!dir && !(dir = mkdtemp(tmpl)))
        return 1;
    cu_gen_config g;
    cu_gen_config_default(&g);
    g.officers = officers;
    g.days = days;
    g.seed = 1;
    g.out_dir = dir;
    cu_gen_stats gs;
    if (cu_gen_run(&g, &gs)) {
        fprintf(stderr, "gen: %s\n", cu_err_detail());
        return 1;
    }
    char ref[4096], ev[4096];
    snprintf(ref, sizeof ref, "%s/reference.jsonl", dir);
    snprintf(ev, sizeof ev, "%s/events.jsonl", dir);
    if (streaming) {
        int st = stream(ref, ev, rules, officers, days);
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (!keep && system(cmd) != 0)
            return 1;
        return st;
    }

    /* parse everything first: the timing is the detectors' alone */
    cu_names *n;
    cu_ref *r;
    cu_event_reader *rd;
    if (cu_names_new(&n) || cu_ref_new(n, &r) || cu_ref_load(r, ref) || cu_event_reader_open(ev, n, &rd)) {
        fprintf(stderr, "load: %s\n", cu_err_detail());
        return 1;
    }
    size_t cap = gs.events + 16, nev = 0, nsub = 0, capsub = gs.events * 4 + 1024;
    cu_event *evs = malloc(cap * sizeof *evs);
    cu_id *pool = malloc(capsub * sizeof *pool);
    cu_id *tmp = malloc(CU_EVENT_MAX_SUBJECTS * sizeof *tmp);
    cu_event e = {.subjects = tmp, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    while (nev < cap && cu_event_reader_next(rd, &e) == CU_OK) {
        if (nsub + e.nsubjects > capsub) {
            capsub = (capsub + e.nsubjects) * 2;
            pool = realloc(pool, capsub * sizeof *pool);
        }
        evs[nev] = e;
        memcpy(pool + nsub, e.subjects, e.nsubjects * sizeof *pool);
        evs[nev].subjects = (cu_id *)(uintptr_t)nsub; /* fixed up below: pool may move */
        nsub += e.nsubjects;
        nev++;
    }
    cu_event_reader_close(rd);
    for (size_t i = 0; i < nev; i++)
        evs[i].subjects = pool + (uintptr_t)evs[i].subjects;
    cu_ref_free(r);

    double rate[3], crate[3];
    long mem_kb = 0, ref_kb = 0;
    for (int run = 0; run < 3; run++) {
        cu_ref *rr;
        long b0 = rss_kb();
        if (cu_ref_new(n, &rr) || cu_ref_load(rr, ref))
            return 1;
        if (rss_kb() - b0 > ref_kb)
            ref_kb = rss_kb() - b0;
        cu_detect_cfg cfg;
        cu_detect_cfg_default(&cfg);
        cfg.rules_only = rules;
        long before = rss_kb();
        cu_detect *d;
        if (cu_detect_new_cfg(rr, 1, &cfg, &d))
            return 1;
        nalerts = 0;
        uint64_t t0 = cu_mono_ns(), c0 = cpu_ns();
        for (size_t i = 0; i < nev; i++) {
            if (cu_ref_advance(rr, evs[i].ts) || cu_detect_event(d, &evs[i], evs[i].ts, count, NULL)) {
                fprintf(stderr, "detect: %s\n", cu_err_detail());
                return 1;
            }
        }
        if (nev && cu_detect_flush(d, evs[nev - 1].ts, count, NULL))
            return 1;
        uint64_t t1 = cu_mono_ns(), c1 = cpu_ns();
        long after = rss_kb();
        if (after - before > mem_kb)
            mem_kb = after - before;
        rate[run] = (double)nev / ((double)(t1 - t0) / 1e9);
        crate[run] = (double)nev / ((double)(c1 - c0) / 1e9);
        cu_detect_free(d);
        cu_ref_free(rr);
    }
    qsort(rate, 3, sizeof rate[0], cmp_d);
    qsort(crate, 3, sizeof crate[0], cmp_d);
    printf("bench_detect: %u officers, %u days, %zu events (%s)\n", officers, days, nev, rules ? "rules only" : "full");
    printf("  detection throughput (median of 3, one core): %.0f events/s (wall), %.0f events/s (CPU time)\n", rate[1],
           crate[1]);
    printf("  alert lines: %llu\n", (unsigned long long)nalerts);
    /* the reference's own size is measured by --stream: here its names are
     * already interned and its memory reused, so only the state is shown */
    (void)ref_kb;
    printf("  resident memory added by the detector state: %.1f MiB\n", (double)mem_kb / 1024.0);
    free(evs);
    free(pool);
    free(tmp);
    cu_names_free(n);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (!keep && system(cmd) != 0)
        return 1;
    return 0;
}
