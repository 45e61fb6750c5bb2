/* bench_replay: end-to-end replay throughput and peak memory.
 *
 * Writes a synthetic force (officers, people, some on the protected
 * register, records, cases with assignments) and a time-ordered events file
 * of N events (default 10 million) into a temporary directory, then runs
 * cu_replay_run on it with a data directory (log + store) and prints
 * events/s, alerts, and the peak RSS of the process.  The generator here is
 * deliberately simple (uniform choices from a fixed seed); it exists so the
 * bench needs nothing else.
 *
 * With --tmp the replay uses a temporary data directory (as `custos replay`
 * without --data does): the store's indexes are then not built at the end.
 *
 * With --ref REF --events EV it replays those files instead (for instance
 * the output of `custos gen`); --workers N sets the parser threads.  With
 * --misuse it runs the detectors `custos replay` runs (cu_detect_cfg_default)
 * instead of cu_detect_new's default.
 *
 * usage: bench_replay [EVENTS] [--keep] [--tmp] [--misuse] [--ref REF --events EV] [--workers N]
 */
#include "custos/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define OFFICERS 5000
#define PERSONS 400000
#define RECORDS 600000
#define CASES 20000

static void gen(const char *dir, uint64_t nev, uint64_t *bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ref.jsonl", dir);
    FILE *f = fopen(path, "w");
    int64_t t0 = 1704067200; /* 2024-01-01 */
    for (int i = 0; i < OFFICERS; i++)
        fprintf(f,
                "{\"kind\":\"officer\",\"id\":\"MP%05d\",\"role\":\"PC\",\"unit\":\"U%02d\",\"area\":\"A%02d\","
                "\"vetting\":{\"level\":\"RV\",\"granted\":\"2019-04-01\",\"expires\":\"2029-04-01\"},"
                "\"shift\":\"days\",\"start\":\"2015-09-01\",\"end\":null,\"relations\":[]}\n",
                i, i % 40, i % 12);
    for (int i = 0; i < PERSONS; i++)
        fprintf(f, "{\"kind\":\"person\",\"id\":\"P%06d\",\"area\":\"A%02d\",\"flags\":[%s]}\n", i, i % 12,
                i % 500 == 0 ? "\"protected\"" : "");
    for (int i = 0; i < RECORDS; i++)
        fprintf(f,
                "{\"kind\":\"record\",\"id\":\"R%06d\",\"type\":\"nominal\",\"system\":\"PNC\","
                "\"subjects\":[\"P%06d\"],\"area\":\"A%02d\",\"classification\":\"OFFICIAL\",\"caveats\":[]}\n",
                i, (int)(next() % PERSONS), i % 12);
    for (int i = 0; i < CASES; i++) {
        char opened[21];
        cu_time_format(t0 + (int64_t)(next() % (365 * 86400)), opened);
        fprintf(f,
                "{\"kind\":\"case\",\"id\":\"C%05d\",\"opened\":\"%s\",\"closed\":null,\"area\":\"A%02d\","
                "\"officers\":[\"MP%05d\"],\"subjects\":[\"P%06d\"],\"records\":[\"R%06d\"]}\n",
                i, opened, i % 12, (int)(next() % OFFICERS), (int)(next() % PERSONS), (int)(next() % RECORDS));
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    f = fopen(path, "w");
    static const char *actions[] = {"search", "view", "view", "view", "update", "print"};
    uint64_t total = 0;
    for (uint64_t i = 0; i < nev; i++) {
        char ts[21];
        cu_time_format(t0 + (int64_t)(i * 3 / (nev / 1000000 + 1)), ts);
        int rec = (int)(next() % RECORDS);
        int per = (int)(next() % PERSONS);
        const char *act = actions[next() % 6];
        int n = fprintf(f,
                        "{\"kind\":\"access\",\"id\":\"E%09llu\",\"ts\":\"%s\",\"officer\":\"MP%05d\",\"system\":\"PNC\","
                        "\"action\":\"%s\",\"record\":\"R%06d\",\"subjects\":[\"P%06d\"],\"purpose\":\"investigation\","
                        "\"case\":null,\"terminal\":\"T-%04d\",\"area\":\"A%02d\",\"outcome\":\"allow\",\"results\":1}\n",
                        (unsigned long long)i, ts, (int)(next() % OFFICERS), act, rec, per, (int)(next() % 2000),
                        (int)(next() % 12));
        total += (uint64_t)n;
    }
    fclose(f);
    *bytes = total;
}

int main(int argc, char **argv)
{
    uint64_t nev = 10000000;
    bool keep = false, tmp = false, misuse = false;
    const char *uref = NULL, *uev = NULL;
    unsigned workers = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keep") == 0)
            keep = true;
        else if (strcmp(argv[i], "--tmp") == 0)
            tmp = true;
        else if (strcmp(argv[i], "--misuse") == 0)
            misuse = true;
        else if (strcmp(argv[i], "--ref") == 0 && i + 1 < argc)
            uref = argv[++i];
        else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
            uev = argv[++i];
        else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
            workers = (unsigned)strtoul(argv[++i], NULL, 10);
        else
            nev = strtoull(argv[i], NULL, 10);
    }
    char dir[] = "/tmp/bench-replay-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    uint64_t bytes = 0;
    char ref[4200], ev[4200], out[4200], data[4200];
    if (uref && uev) {
        snprintf(ref, sizeof ref, "%s", uref);
        snprintf(ev, sizeof ev, "%s", uev);
        struct stat sb;
        if (stat(ev, &sb) == 0)
            bytes = (uint64_t)sb.st_size;
    } else {
        uint64_t g0 = cu_mono_ns();
        gen(dir, nev, &bytes);
        printf("generated %llu events (%.1f MB) in %.1f s\n", (unsigned long long)nev, (double)bytes / 1e6,
               (double)(cu_mono_ns() - g0) / 1e9);
        snprintf(ref, sizeof ref, "%s/ref.jsonl", dir);
        snprintf(ev, sizeof ev, "%s/events.jsonl", dir);
    }
    snprintf(out, sizeof out, "%s/alerts.jsonl", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    cu_replay_opts o = {.reference = ref, .events = ev, .alerts = out, .data_dir = tmp ? NULL : data,
                        .parse_workers = workers};
    cu_detect_cfg dc;
    cu_detect_cfg_default(&dc);
    if (misuse)
        o.detect = &dc;
    cu_replay_stats st;
    uint64_t t0 = cu_mono_ns();
    cu_rc rc = cu_replay_run(&o, &st);
    double secs = (double)(cu_mono_ns() - t0) / 1e9;
    if (rc) {
        fprintf(stderr, "replay failed: %s: %s\n", cu_strerror(rc), cu_err_detail());
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("replay: %llu events, %llu alerts, %llu batches in %.2f s: %.0f events/s, %.1f MB/s\n",
           (unsigned long long)st.events, (unsigned long long)st.alerts, (unsigned long long)st.batches, secs,
           (double)st.events / secs, (double)bytes / 1e6 / secs);
    printf("cpu: user %.1f s, system %.1f s; peak RSS %.0f MiB\n",
           (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
           (double)ru.ru_maxrss / 1024.0);
    const cu_pipeline_stats *ps = &st.pipeline;
    printf("stages (s): start (reference, open) %.2f | parse+intern %.2f (reader thread) | encode %.2f, append wait %.2f (log busy %.2f, "
           "overlapped), store %.2f (writer thread %.2f, overlapped), detect %.2f, close %.2f\n",
           (double)st.ns_start / 1e9, (double)st.ns_parse / 1e9, (double)ps->ns_encode / 1e9,
           (double)ps->ns_append / 1e9, (double)ps->ns_ledger / 1e9, (double)ps->ns_store / 1e9, (double)ps->ns_store_write / 1e9,
           (double)ps->ns_detect / 1e9,
           (double)ps->ns_close / 1e9);
    if (!keep && cu_rmtree(dir))
        fprintf(stderr, "could not remove %s\n", dir);
    else if (keep)
        printf("kept %s\n", dir);
    return 0;
}
