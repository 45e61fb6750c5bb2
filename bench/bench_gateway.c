/* bench_gateway: decisions per second and latency percentiles of the gateway
 * in process, with the police pack (policies/, ~100 policies) over a
 * synthetic force: 45,000 officers, cases, and records (default 500,000;
 * argv[1] sets the count).  The entities are built straight through the
 * policy API (no JSON).  The audit log here is a counter, so the figures are
 * evaluation plus log-entry encoding; the ledger's fsync is in the HTTP
 * benchmark (bench/gateway_http.sh).  Prints figures; asserts nothing.
 *
 * Usage: bench_gateway [RECORDS] [DECISIONS]   (run from the source tree) */
#include "gateway/gateway_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFFICERS 45000
#define NOW INT64_C(1717243200)

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

int main(int argc, char **argv)
{
    size_t nrec = argc > 1 ? strtoull(argv[1], NULL, 10) : 500000;
    size_t ndec = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
    size_t ncase = nrec / 20 + 1; /* each case links 20 records, assigns 4 officers */
    char *pack = NULL;
    size_t plen = 0;
    CHK(cu_gateway_read_pack("policies", &pack, &plen));
    cu_gateway *g = NULL;
    cu_gateway_opts o = {.policy_text = pack, .policy_len = plen, .audit = {.append = count_append}};
    CHK(cu_gateway_new(&o, &g));
    cu_free(pack);

    uint64_t t0 = cu_mono_ns();
    cu_policy_entities *e = NULL;
    CHK(cu_policy_entities_new(&e));
    gw_snap *s = NULL;
    CHK(gw_snap_wrap(e, &s));
    cu_arena *a = cu_arena_new(1 << 16, 1 << 24);
    char id[32], id2[32];
    cu_policy_entity *ent;
    for (size_t i = 0; i < OFFICERS; i++) {
        cu_arena_reset(a);
        snprintf(id, sizeof id, "MP%05zu", i);
        const char *role = ROLES[i % 10], *vet = VET[i % 6];
        CHK(cu_policy_entities_add(e, "Officer", id, &ent));
        CHK(cu_policy_entity_set_attr(e, ent, "role", cu_policy_val_string(a, role, strlen(role))));
        CHK(cu_policy_entity_set_attr(e, ent, "unit", cu_policy_val_string(a, "TP-CW-RESP", 10)));
        CHK(cu_policy_entity_set_attr(e, ent, "area", cu_policy_val_string(a, "CW", 2)));
        CHK(cu_policy_entity_set_attr(e, ent, "vetting", cu_policy_val_string(a, vet, strlen(vet))));
        CHK(cu_policy_entity_set_attr(e, ent, "vetting_granted", cu_policy_val_long(a, NOW - 86400 * 400)));
        CHK(cu_policy_entity_set_attr(e, ent, "vetting_expires", cu_policy_val_long(a, NOW + 86400 * (int64_t)(i % 900) - 86400 * 30)));
        CHK(cu_policy_entity_set_attr(e, ent, "start", cu_policy_val_long(a, 0)));
        CHK(cu_policy_entity_set_attr(e, ent, "end", cu_policy_val_long(a, INT64_C(253402300799))));
        CHK(cu_policy_entity_set_attr(e, ent, "caveats", cu_policy_val_set(a, NULL, 0)));
        CHK(cu_policy_entity_set_attr(e, ent, "relations", cu_policy_val_set(a, NULL, 0)));
        CHK(gw_snap_note(s, GW_OFFICER, id, NULL));
    }
    for (size_t c = 0; c < ncase; c++) {
        cu_arena_reset(a);
        snprintf(id, sizeof id, "C%07zu", c);
        const cu_policy_value *offs[4], *subj[1];
        for (int k = 0; k < 4; k++) {
            snprintf(id2, sizeof id2, "MP%05zu", (c * 4 + (size_t)k) % OFFICERS);
            offs[k] = cu_policy_val_entity(a, "Officer", id2);
        }
        snprintf(id2, sizeof id2, "P%07zu", c);
        subj[0] = cu_policy_val_entity(a, "Person", id2);
        CHK(cu_policy_entities_add(e, "Case", id, &ent));
        CHK(cu_policy_entity_set_attr(e, ent, "area", cu_policy_val_string(a, "CW", 2)));
        CHK(cu_policy_entity_set_attr(e, ent, "opened", cu_policy_val_long(a, NOW - 86400 * 10)));
        CHK(cu_policy_entity_set_attr(e, ent, "closed", cu_policy_val_long(a, INT64_C(253402300799))));
        CHK(cu_policy_entity_set_attr(e, ent, "officers", cu_policy_val_set(a, offs, 4)));
        CHK(cu_policy_entity_set_attr(e, ent, "subjects", cu_policy_val_set(a, subj, 1)));
        CHK(gw_snap_note(s, GW_CASE, id, NULL));
    }
    for (size_t r = 0; r < nrec; r++) {
        cu_arena_reset(a);
        snprintf(id, sizeof id, "R%08zu", r);
        const char *sys = SYSTEMS[r % 8], *cls = CLASSES[r % 5];
        snprintf(id2, sizeof id2, "P%07zu", r / 20);
        const cu_policy_value *subj[1] = {cu_policy_val_entity(a, "Person", id2)};
        CHK(cu_policy_entities_add(e, "Record", id, &ent));
        CHK(cu_policy_entity_set_attr(e, ent, "type", cu_policy_val_string(a, "nominal", 7)));
        CHK(cu_policy_entity_set_attr(e, ent, "system", cu_policy_val_string(a, sys, strlen(sys))));
        CHK(cu_policy_entity_set_attr(e, ent, "area", cu_policy_val_string(a, "CW", 2)));
        CHK(cu_policy_entity_set_attr(e, ent, "classification", cu_policy_val_string(a, cls, strlen(cls))));
        CHK(cu_policy_entity_set_attr(e, ent, "caveats", cu_policy_val_set(a, NULL, 0)));
        CHK(cu_policy_entity_set_attr(e, ent, "subjects", cu_policy_val_set(a, subj, 1)));
        CHK(cu_policy_entity_set_attr(e, ent, "protected", cu_policy_val_bool(a, r % 97 == 0)));
        CHK(cu_policy_entity_set_attr(e, ent, "live", cu_policy_val_bool(a, true)));
        snprintf(id2, sizeof id2, "C%07zu", r / 20);
        CHK(cu_policy_entity_add_parent(e, ent, "Case", id2));
        CHK(gw_snap_note(s, GW_RECORD, id, sys));
    }
    CHK(cu_policy_entities_finalize(e));
    cu_arena_free(a);
    /* publish the snapshot */
    pthread_mutex_lock(&g->lock);
    s->version = g->next_version++;
    gw_snap *old = g->snap;
    g->snap = s;
    pthread_mutex_unlock(&g->lock);
    gw_snap_release(old);
    double build_s = (double)(cu_mono_ns() - t0) / 1e9;

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
    size_t allow = 0;
    for (size_t i = 0; i < nreq; i++) /* warm up */
        CHK(cu_gateway_decide(g, &rq[i], &d));
    uint64_t allocs = cu_alloc_count();
    uint64_t start = cu_mono_ns();
    for (size_t i = 0; i < ndec; i++) {
        uint64_t a0 = cu_mono_ns();
        if (cu_gateway_decide(g, &rq[i % nreq], &d) != CU_OK)
            return 1;
        lat[i] = (uint32_t)(cu_mono_ns() - a0);
        allow += d.outcome == CU_GW_ALLOW;
    }
    double secs = (double)(cu_mono_ns() - start) / 1e9;
    allocs = cu_alloc_count() - allocs;
    qsort(lat, ndec, sizeof *lat, cmp_u32);
    printf("force: %d officers, %zu cases, %zu records, %zu policies; entities built in %.2f s\n", OFFICERS, ncase,
           nrec, cu_policy_set_count(g->set), build_s);
    printf("decisions: %zu in %.3f s = %.0f decisions/s (one thread), %.1f%% allowed\n", ndec, secs,
           (double)ndec / secs, 100.0 * (double)allow / (double)ndec);
    printf("latency: p50 %.2f us, p99 %.2f us, p99.9 %.2f us (cu_gateway_decide: evaluation, second evaluation on "
           "deny, log entry)\n",
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
