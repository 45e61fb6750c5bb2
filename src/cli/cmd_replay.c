/* custos replay: wiring for cu_replay_run with the misuse detectors. */
#include "cli.h"

#include "custos/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cu_cmd_replay(int argc, char **argv);

static int usage(void)
{
    fprintf(stderr, "usage: custos replay --reference REF.jsonl --events EV.jsonl --alerts OUT.jsonl [--data DIR]\n"
                    "                     [--budget N] [--threshold S] [--rules-only | --legacy]\n"
                    "  --budget N     alerts per 1,000 officers per day (default 1)\n"
                    "  --threshold S  minimum score for the queue (default 0.7)\n"
                    "  --rules-only   no baselines, mined templates, graph or bursts (the rules baseline)\n"
                    "  --legacy       the protected-person detector alone, one alert per access\n");
    return 2;
}

static int num_arg(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* The wall clock for ingest times: programs read the clock, logic does not. */
static int64_t wall_clock(void *ud)
{
    (void)ud;
    return cu_now();
}

/* Start again with glibc's allocator asking for huge pages when that is
 * wanted (cu_replay_thp_rerun); on any failure carry on as we are. */
static void thp_rerun(int argc, char **argv)
{
    static char self[] = "custos";
    char *mode = NULL;
    size_t len;
    if (cu_file_read("/sys/kernel/mm/transparent_hugepage/enabled", 4096, &mode, &len) != CU_OK)
        return;
    bool want = cu_replay_thp_rerun(mode, getenv("GLIBC_TUNABLES"));
    cu_free(mode);
    char **av = want ? cu_calloc((size_t)argc + 2, sizeof *av) : NULL;
    if (!av)
        return;
    av[0] = self;
    memcpy(av + 1, argv, (size_t)argc * sizeof *av);
    /* the program's own path, not /proc/self/exe: the process is named
     * after the file it runs (ps, top, per-thread figures) */
    char self_path[4096];
    ssize_t pl = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (pl > 0 && setenv("GLIBC_TUNABLES", CU_REPLAY_THP_TUNABLE, 1) == 0) {
        self_path[pl] = '\0';
        execv(self_path, av);
        unsetenv("GLIBC_TUNABLES");
    }
    cu_free(av);
}

int cu_cmd_replay(int argc, char **argv)
{
    thp_rerun(argc, argv);
    cu_replay_opts o = {.ingest_clock = wall_clock};
    cu_detect_cfg dc;
    cu_detect_cfg_default(&dc);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--rules-only") == 0) {
            dc.rules_only = true;
            continue;
        }
        if (strcmp(a, "--legacy") == 0) {
            dc.legacy = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage();
        if (strcmp(a, "--reference") == 0)
            o.reference = argv[++i];
        else if (strcmp(a, "--events") == 0)
            o.events = argv[++i];
        else if (strcmp(a, "--alerts") == 0)
            o.alerts = argv[++i];
        else if (strcmp(a, "--data") == 0)
            o.data_dir = argv[++i];
        else if (strcmp(a, "--budget") == 0) {
            if (num_arg(argv[++i], 0.001, 1000, &dc.budget))
                return usage();
        } else if (strcmp(a, "--threshold") == 0) {
            if (num_arg(argv[++i], 0.01, 1, &dc.threshold))
                return usage();
        } else
            return usage();
    }
    if (!o.reference || !o.events || !o.alerts)
        return usage();
    o.detect = &dc;
    cu_replay_stats st;
    cu_rc rc = cu_replay_run(&o, &st);
    if (rc)
        return cu_cli_fail(cu_strerror(rc));
    fprintf(stderr, "custos: replayed %llu events, %llu alert lines\n", (unsigned long long)st.events,
            (unsigned long long)st.alerts);
    return 0;
}
