/* bench_governance: the cost of the register on the decision path and of its
 * bulk actions.  A register of N officers (default 45,000; argv[1]) each with
 * a clearance, two entitlements and a caveat, imported from a generated file;
 * then cu_gov_effective_get over random officers (the gateway's live hook),
 * single-threaded and with 2 threads at once; the import; a report; a
 * re-vetting draw of 1%.  The audit log is a counter (the ledger's fsync is
 * measured in bench_ledger).  Prints figures; asserts nothing. */
#include "custos/governance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t n_logged;
static cu_rc count_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    (void)ud;
    (void)e;
    (void)len;
    *index = n_logged++;
    return CU_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct run {
    cu_gov *g;
    int n;
    uint64_t seed, ns_per;
    volatile size_t sink;
};

#define LOOKUPS 200000

static void *lookups(void *arg)
{
    struct run *r = arg;
    uint64_t s = r->seed;
    cu_gov_effective e;
    char id[16];
    uint64_t t0 = cu_mono_ns();
    for (int i = 0; i < LOOKUPS; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        snprintf(id, sizeof id, "MP%06d", (int)(s % (uint64_t)r->n));
        cu_gov_effective_get(r->g, id, INT64_C(1750000000), &e);
        r->sink += e.nsystems;
    }
    r->ns_per = (cu_mono_ns() - t0) / LOOKUPS;
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 45000;
    if (n < 100)
        n = 100;
    char dir[] = "/tmp/bench-gov-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char ref[128], db[128];
    snprintf(ref, sizeof ref, "%s/register.jsonl", dir);
    snprintf(db, sizeof db, "%s/governance.db", dir);
    FILE *f = fopen(ref, "w");
    if (!f)
        return 1;
    static const char *const units[] = {"TP-CW-RESP", "TP-HK-CID", "INTEL", "CUSTODY", "PSD", "ROADS"};
    for (int i = 0; i < n; i++) {
        fprintf(f, "{\"kind\":\"staff\",\"officer\":\"MP%06d\",\"unit\":\"%s\",\"manager\":\"MGR%02d\"}\n", i,
                units[i % 6], i % 50);
        fprintf(f, "{\"kind\":\"vetting\",\"officer\":\"MP%06d\",\"level\":\"%s\",\"granted\":\"20%02d-01-01\","
                   "\"expires\":\"20%02d-01-01\"}\n", i, i % 3 ? "NPPV2" : "SC", 15 + i % 10, 25 + i % 10);
        fprintf(f, "{\"kind\":\"entitlement\",\"officer\":\"MP%06d\",\"system\":\"PNC\",\"scope\":\"all\",\"purpose\":\"investigation\"}\n", i);
        fprintf(f, "{\"kind\":\"entitlement\",\"officer\":\"MP%06d\",\"system\":\"RMS\",\"scope\":\"force\",\"purpose\":\"investigation\"}\n", i);
        fprintf(f, "{\"kind\":\"entitlement\",\"officer\":\"MP%06d\",\"system\":\"INTEL\",\"caveat\":\"UKEO\",\"scope\":\"UK eyes only\",\"purpose\":\"intelligence\",\"requires\":\"SC\"}\n", i);
    }
    fclose(f);
    cu_gov_audit a = {count_append, NULL};
    cu_gov *g = NULL;
    if (cu_gov_open(db, &a, &g)) {
        fprintf(stderr, "open: %s\n", cu_err_detail());
        return 1;
    }
    uint64_t t0 = cu_mono_ns();
    size_t applied = 0;
    if (cu_gov_import(g, "BENCH", ref, INT64_C(1750000000), &applied)) {
        fprintf(stderr, "import: %s\n", cu_err_detail());
        return 1;
    }
    double import_s = (double)(cu_mono_ns() - t0) / 1e9;
    printf("officers: %d, records imported: %zu in %.2f s (%.0f records/s, one ledger entry)\n", n, applied, import_s,
           (double)applied / import_s);

    /* lookups: median of 5 runs, one thread; then two threads at once */
    uint64_t med[5];
    for (int k = 0; k < 5; k++) {
        struct run r = {.g = g, .n = n, .seed = 88172645463325252ull + (uint64_t)k};
        lookups(&r);
        med[k] = r.ns_per;
    }
    qsort(med, 5, sizeof med[0], cmp_u64);
    printf("cu_gov_effective_get: median %llu ns per lookup (1 thread, %d lookups x 5)\n", (unsigned long long)med[2],
           LOOKUPS);
    struct run r2[2] = {{.g = g, .n = n, .seed = 1}, {.g = g, .n = n, .seed = 2}};
    pthread_t th[2];
    t0 = cu_mono_ns();
    for (int k = 0; k < 2; k++)
        pthread_create(&th[k], NULL, lookups, &r2[k]);
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    double both = (double)(cu_mono_ns() - t0) / 1e9;
    printf("cu_gov_effective_get: 2 threads: %.0f lookups/s together (%llu, %llu ns each)\n", 2.0 * LOOKUPS / both,
           (unsigned long long)r2[0].ns_per, (unsigned long long)r2[1].ns_per);

    cu_gov_report rep;
    t0 = cu_mono_ns();
    if (cu_gov_report_make(g, INT64_C(1750000000), &rep) == CU_OK) {
        printf("report over %d officers: %.1f ms (%zu units)\n", n, (double)(cu_mono_ns() - t0) / 1e6, rep.nrows - 1);
        cu_gov_report_free(&rep);
    }
    t0 = cu_mono_ns();
    if (cu_gov_draw(g, "BENCH", 42, (size_t)n / 100, INT64_C(1760000000), INT64_C(1750000000), NULL, NULL) == CU_OK)
        printf("re-vetting draw of %d from %d: %.1f ms\n", n / 100, n, (double)(cu_mono_ns() - t0) / 1e6);
    t0 = cu_mono_ns();
    cu_gov_clearance c = {.officer = "MP000007", .level = CU_GOV_SC, .granted = INT64_C(1600000000),
                          .expires = INT64_C(1900000000)};
    int k;
    for (k = 0; k < 200; k++)
        if (cu_gov_grant(g, "BENCH", &c, NULL, INT64_C(1750000000) + k))
            break;
    printf("single actions (grant): %.2f ms each, ledger counter excluded from fsync\n",
           (double)(cu_mono_ns() - t0) / 1e6 / (k ? k : 1));
    cu_gov_close(g);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
