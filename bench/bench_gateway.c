/* bench_gateway: decisions per second and latency percentiles of the gateway
 * in process, with the police pack (policies/) over a synthetic force:
 * 45,000 officers, 10 million records (argv[1] changes the count), one case
 * per 20 records (4 officers, 1 person named), 1% of people on the
 * protected-person register.  The reference store is filled straight through
 * the store's C functions (no JSON).  The audit log here is a counter, so
 * the figures are request building, evaluation of both tiers and the ledger
 * entry's encoding; the ledger's fsync is in bench/gateway_http.sh.  Prints
 * figures (and the resident memory); asserts nothing.
 *
 * Usage: bench_gateway [RECORDS] [DECISIONS] [--requests FILE]
 *   (run from the source tree).  --requests writes the benchmark's requests
 *   as JSON Lines (officer, action, record, purpose, case) for
 *   bench/gateway_vs_cedar_wasm.sh. */
#include "gateway/gateway_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFFICERS 45000
#define NOW INT64_C(1717243200)
#define NEVER INT64_C(253402300799)

static uint64_t n_logged;
static cu_rc count_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    (void)ud;
    (void)e;
    (void)len;
    *index = n_logged++;
    return CU_OK;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static const char *const ROLES[] = {"PC", "PC", "PC", "DC", "PS", "DS", "analyst", "staff", "Insp", "DI"};
static const char *const SYSTEMS[] = {"PNC", "RMS", "RMS", "INTEL", "CUSTODY", "CAD", "PND", "ANPR"};
static const char *const CLASSES[] = {"OFFICIAL", "OFFICIAL", "OFFICIAL-SENSITIVE", "OFFICIAL-SENSITIVE", "SECRET"};
static const char *const VET[] = {"RV", "RV", "RV", "MV", "NPPV2", "SC"};

#define CHK(x)                                                                                       \
    do {                                                                                             \
        if ((x) != CU_OK) {                                                                          \
            fprintf(stderr, "bench_gateway: %s failed: %s\n", #x, cu_err_detail());                  \
            exit(1);                                                                                 \
        }                                                                                            \
    } while (0)

static uint32_t atom(gw_store *s, const char *v)
{
    uint32_t a;
    CHK(gw_atom(s, v, strlen(v), &a));
    return a;
}

int main(int argc, char **argv)
{
    const char *reqfile = NULL;
    size_t pos[2] = {10000000, 1000000};
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
            reqfile = argv[++i];
        else if (np < 2)
            pos[np++] = strtoull(argv[i], NULL, 10);
    }
    size_t nrec = pos[0] ? pos[0] : 1, ndec = pos[1] ? pos[1] : 1;
    size_t ncase = nrec / 20 + 1; /* each case links 20 records, assigns 4 officers */
    char *pack = NULL;
    size_t plen = 0;
    CHK(cu_gateway_read_pack("policies", &pack, &plen));
    cu_gateway *g = NULL;
    cu_gateway_opts o = {.policy_text = pack, .policy_len = plen, .audit = {count_append, NULL, NULL}};
    CHK(cu_gateway_new(&o, &g));
    cu_free(pack);
    long rss0 = rss_kib();

    uint64_t t0 = cu_mono_ns();
    gw_store *st = NULL;
    CHK(gw_store_new(&st));
    char id[32];
    uint32_t empty_set, flagged_set;
    CHK(gw_set_atom(st, NULL, NULL, 0, &empty_set));
    const char *prot = "protected";
    size_t protn = strlen(prot);
    CHK(gw_set_atom(st, &prot, &protn, 1, &flagged_set));
    uint32_t unit = atom(st, "TP-CW-RESP"), area = atom(st, "CW"), nominal = atom(st, "nominal");
    for (size_t i = 0; i < OFFICERS; i++) {
        uint32_t k;
        int n = snprintf(id, sizeof id, "MP%05zu", i);
        CHK(gw_officer_id(st, id, (size_t)n, &k));
        gw_officer *f = &st->officers[k];
        f->role = atom(st, ROLES[i % 10]);
        f->vetting = atom(st, VET[i % 6]);
        f->unit = unit;
        f->area = area;
        f->caveats = empty_set;
        f->relations = 0;
        f->granted = NOW - 86400 * 400;
        f->expires = NOW + 86400 * (int64_t)(i % 900) - 86400 * 30;
        f->start = 0;
        f->end = NEVER;
        f->defined = true;
    }
    for (size_t c = 0; c < ncase; c++) {
        uint32_t k, offs[4], person, recs[20];
        int n = snprintf(id, sizeof id, "P%07zu", c);
        CHK(gw_person_id(st, id, (size_t)n, &person));
        st->persons[person].area = area;
        st->persons[person].flags = c % 97 == 0 ? flagged_set : empty_set;
        st->persons[person].defined = true;
        for (int q = 0; q < 4; q++) {
            n = snprintf(id, sizeof id, "MP%05zu", (c * 4 + (size_t)q) % OFFICERS);
            CHK(gw_officer_id(st, id, (size_t)n, &offs[q]));
        }
        size_t nr = 0;
        for (size_t r = c * 20; r < c * 20 + 20 && r < nrec; r++) {
            n = snprintf(id, sizeof id, "R%08zu", r);
            CHK(gw_record_id(st, id, (size_t)n, &recs[nr]));
            gw_record *rec = &st->records[recs[nr]];
            rec->type = (uint16_t)nominal;
            rec->system = (uint16_t)atom(st, SYSTEMS[r % 8]);
            rec->area = (uint16_t)area;
            rec->cls = (uint16_t)atom(st, CLASSES[r % 5]);
            rec->caveats = empty_set;
            rec->subjects = GW_LIST_ONE | person;
            rec->live = 1;
            rec->defined = 1;
            nr++;
        }
        n = snprintf(id, sizeof id, "C%07zu", c);
        CHK(gw_case_id(st, id, (size_t)n, &k));
        gw_case *cs = &st->cases[k];
        cs->area = area;
        cs->opened = NOW - 86400 * 10;
        cs->closed = NEVER;
        CHK(gw_list_make(st, offs, 4, &cs->officers));
        cs->subjects = GW_LIST_ONE | person;
        CHK(gw_list_make(st, recs, nr, &cs->records));
        cs->defined = true;
    }
    size_t store_bytes = gw_store_bytes(st);
    gw_snap *s = NULL;
    CHK(gw_snap_make(st, &s));
    gw_publish(g, s);
    double build_s = (double)(cu_mono_ns() - t0) / 1e9;
    long rss1 = rss_kib();

    /* Requests: 70% an officer assigned to the case that links the record,
     * 20% no case stated, 10% a case the officer is not on. */
    size_t nreq = 4096;
    char (*offs)[32] = calloc(nreq, 32), (*recs)[32] = calloc(nreq, 32), (*cases)[32] = calloc(nreq, 32);
    cu_gateway_request *rq = calloc(nreq, sizeof *rq);
    uint32_t *lat = calloc(ndec, sizeof *lat);
    if (!offs || !recs || !cases || !rq || !lat)
        return 1;
    for (size_t i = 0; i < nreq; i++) {
        size_t r = rnd() % nrec, c = r / 20, k = rnd() % 10;
        snprintf(recs[i], 32, "R%08zu", r);
        snprintf(offs[i], 32, "MP%05zu", (c * 4 + rnd() % 4) % OFFICERS);
        snprintf(cases[i], 32, "C%07zu", k == 9 ? (c + 1) % ncase : c);
        rq[i] = (cu_gateway_request){.caller = "bench", .officer = offs[i], .action = "view", .record = recs[i],
                                     .purpose = "investigation", .case_id = k >= 7 && k < 9 ? NULL : cases[i],
                                     .now = NOW};
    }
    cu_gateway_decision d;
    size_t allow = 0, bga = 0;
    FILE *rf = reqfile ? fopen(reqfile, "w") : NULL;
    if (reqfile && !rf) {
        fprintf(stderr, "bench_gateway: cannot write %s\n", reqfile);
        return 1;
    }
    for (size_t i = 0; i < nreq; i++) { /* warm up, and the decisions for the comparison */
        CHK(cu_gateway_decide(g, &rq[i], &d));
        if (rf)
            fprintf(rf,
                    "{\"officer\":\"%s\",\"action\":\"view\",\"record\":\"%s\",\"purpose\":\"investigation\","
                    "\"case\":%s%s%s,\"now\":%lld,\"decision\":\"%s\"}\n",
                    rq[i].officer, rq[i].record, rq[i].case_id ? "\"" : "", rq[i].case_id ? rq[i].case_id : "null",
                    rq[i].case_id ? "\"" : "", (long long)NOW,
                    d.outcome == CU_GW_ALLOW ? "allow" : d.outcome == CU_GW_DENY ? "deny" : "break-glass-available");
    }
    if (rf)
        fclose(rf);
    uint64_t allocs = cu_alloc_count();
    uint64_t start = cu_mono_ns();
    for (size_t i = 0; i < ndec; i++) {
        uint64_t a0 = cu_mono_ns();
        if (cu_gateway_decide(g, &rq[i % nreq], &d) != CU_OK)
            return 1;
        lat[i] = (uint32_t)(cu_mono_ns() - a0);
        allow += d.outcome == CU_GW_ALLOW;
        bga += d.outcome == CU_GW_BREAK_GLASS_AVAILABLE;
    }
    double secs = (double)(cu_mono_ns() - start) / 1e9;
    allocs = cu_alloc_count() - allocs;
    qsort(lat, ndec, sizeof *lat, cmp_u32);
    printf("force: %d officers, %zu cases, %zu records, %zu policies; store filled and snapshot made in %.2f s\n",
           OFFICERS, ncase, nrec, cu_policy_set_count(g->set), build_s);
    printf("memory: store %.0f MiB + snapshot %.0f MiB; resident %.0f MiB (%.0f MiB before the store)\n",
           (double)store_bytes / 1048576.0, (double)s->bytes / 1048576.0, (double)rss1 / 1024.0,
           (double)rss0 / 1024.0);
    printf("decisions: %zu in %.3f s = %.0f decisions/s (one thread), %.1f%% allowed, %.1f%% break-glass-available\n",
           ndec, secs, (double)ndec / secs, 100.0 * (double)allow / (double)ndec, 100.0 * (double)bga / (double)ndec);
    printf("latency: p50 %.2f us, p99 %.2f us, p99.9 %.2f us (cu_gateway_decide: entities, both tiers, ledger entry)\n",
           lat[ndec / 2] / 1e3, lat[ndec * 99 / 100] / 1e3, lat[ndec * 999 / 1000] / 1e3);
    printf("allocations during the timed decisions: %llu\n", (unsigned long long)allocs);
    free(offs);
    free(recs);
    free(cases);
    free(rq);
    free(lat);
    cu_gateway_free(g);
    return 0;
}
