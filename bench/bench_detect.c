/* bench_detect: throughput and memory of the misuse detector on replay.
 *
 * Generates a synthetic force with `custos gen`'s library (default 45,000
 * officers over 2 days: the detector's state is bounded by the size of the
 * force, not by the number of days, so a short period measures the memory a
 * 90-day run needs; the throughput per event does not depend on the day
 * count either, beyond the learned state, which is bounded).  Parses every
 * event into memory first, then times the detectors alone (reference clock
 * + cu_detect_event) on one core, three runs, and prints the median events/s,
 * the alerts, and the resident memory the detector's state added.
 *
 * usage: bench_detect [OFFICERS] [DAYS] [--rules-only]
 */
#include "custos/detect.h"
#include "custos/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint32_t officers = 45000, days = 2;
    bool rules = false;
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules-only") == 0)
            rules = true;
        else if (pos++ == 0)
            officers = (uint32_t)atoi(argv[i]);
        else
            days = (uint32_t)atoi(argv[i]);
    }
    char dir[] = "/tmp/bench-detect-XXXXXX";
    if (!mkdtemp(dir))
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
    char ref[256], ev[256];
    snprintf(ref, sizeof ref, "%s/reference.jsonl", dir);
    snprintf(ev, sizeof ev, "%s/events.jsonl", dir);

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

    double rate[3];
    long mem_kb = 0;
    for (int run = 0; run < 3; run++) {
        cu_ref *rr;
        if (cu_ref_new(n, &rr) || cu_ref_load(rr, ref))
            return 1;
        cu_detect_cfg cfg;
        cu_detect_cfg_default(&cfg);
        cfg.rules_only = rules;
        long before = rss_kb();
        cu_detect *d;
        if (cu_detect_new_cfg(rr, 1, &cfg, &d))
            return 1;
        nalerts = 0;
        uint64_t t0 = cu_mono_ns();
        for (size_t i = 0; i < nev; i++) {
            if (cu_ref_advance(rr, evs[i].ts) || cu_detect_event(d, &evs[i], evs[i].ts, count, NULL)) {
                fprintf(stderr, "detect: %s\n", cu_err_detail());
                return 1;
            }
        }
        if (nev && cu_detect_flush(d, evs[nev - 1].ts, count, NULL))
            return 1;
        uint64_t t1 = cu_mono_ns();
        long after = rss_kb();
        if (after - before > mem_kb)
            mem_kb = after - before;
        rate[run] = (double)nev / ((double)(t1 - t0) / 1e9);
        cu_detect_free(d);
        cu_ref_free(rr);
    }
    qsort(rate, 3, sizeof rate[0], cmp_d);
    printf("bench_detect: %u officers, %u days, %zu events (%s)\n", officers, days, nev, rules ? "rules only" : "full");
    printf("  detection throughput (median of 3, one core): %.0f events/s\n", rate[1]);
    printf("  alert lines: %llu\n", (unsigned long long)nalerts);
    printf("  resident memory added by the detector state: %.1f MiB\n", (double)mem_kb / 1024.0);
    free(evs);
    free(pool);
    free(tmp);
    cu_names_free(n);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
