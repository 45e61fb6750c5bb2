/*
 * Policy evaluation benchmark: a synthetic police-style pack of about 100
 * policies over 20,000 officers, 100,000 records and their units and cases,
 * built through the C entity API.  Prints decisions per second, latency
 * percentiles of single in-process decisions, and heap allocations per
 * decision (the goal is zero).
 *
 * usage: bench_policy [DECISIONS] [--no-guards]   (default 300000; --no-guards:
 *        every candidate policy evaluated in full, as before guard prefixes)
 */
#include "custos/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFFICERS 20000
#define RECORDS 100000
#define UNITS 40
#define CASES 5000

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_policy: %s: %s\n", what, cu_err_detail());
    exit(1);
}

int main(int argc, char **argv)
{
    size_t n = 300000;
    bool guards = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-guards") == 0)
            guards = false;
        else
            n = (size_t)strtoull(argv[i], NULL, 10);
    }
    static const char *actions[] = {"view", "search", "update", "export", "print", "disclose"};
    static const char *roles[] = {"PC", "DC", "PS", "DS", "DI", "analyst"};

    /* ---- the pack */
    cu_buf t;
    cu_buf_init(&t, 1 << 22);
    int np = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (cu_buf_appendf(&t, __VA_ARGS__) != CU_OK)                                              \
            die("pack");                                                                           \
        np++;                                                                                      \
    } while (0)
    ADD("@reason(\"{principal} is not assigned to a case that links {resource}\")\n"
        "permit (principal is Officer, action in [Action::\"view\", Action::\"update\"], resource is Record)\n"
        "when { principal in resource.case_officers };\n");
    ADD("permit (principal is Officer, action == Action::\"search\", resource)\n"
        "when { context.purpose != \"test\" && context.hour >= 0 };\n");
    ADD("forbid (principal, action == Action::\"export\", resource) unless { principal.role == \"DI\" };\n");
    ADD("forbid (principal, action, resource) when { context.training && resource has classification && resource.classification > 1 };\n");
    ADD("forbid (principal, action, resource) unless { context.src.isInRange(ip(\"10.0.0.0/8\")) };\n");
    ADD("permit (principal, action in Action::\"read\", resource is Record)\n"
        "when { principal.role like \"D*\" && principal.vetting >= resource.classification && resource.area == principal.area };\n");
    for (int u = 0; u < UNITS; u++)
        ADD("permit (principal in Unit::\"u%d\", action in Action::\"read\", resource is Record)\n"
            "when { resource.area == \"a%d\" && principal.vetting >= resource.classification && context.hour >= 7 && context.hour < 19 };\n",
            u, u % 10);
    for (int k = 0; np < 100; k++)
        ADD("permit (principal == Officer::\"MP%d\", action, resource in Case::\"c%d\")\n"
            "when { context.purpose == \"investigation\" && [\"PC\", \"DC\"].contains(principal.role) };\n",
            k * 37 % OFFICERS, k * 13 % CASES);
    uint64_t t0 = cu_mono_ns();
    cu_policy_set *set;
    if (cu_policy_set_parse(t.data, t.len, "bench", &set) != CU_OK)
        die("parse");
    if (!guards)
        cu_policy_set_guards(set, false);
    uint64_t t1 = cu_mono_ns();
    cu_buf_free(&t);

    /* ---- entities through the C API */
    cu_policy_entities *e;
    if (cu_policy_entities_new(&e) != CU_OK)
        die("entities");
    cu_arena *va = cu_arena_new(1 << 16, 1 << 24);
    char id[64], pid[64];
    for (int i = 0; i < (int)(sizeof actions / sizeof actions[0]); i++) {
        cu_policy_entity *a;
        if (cu_policy_entities_add(e, "Action", actions[i], &a) != CU_OK ||
            cu_policy_entity_add_parent(e, a, "Action", i < 2 || i == 4 ? "read" : "write") != CU_OK)
            die("actions");
    }
    for (int i = 0; i < OFFICERS; i++) {
        cu_policy_entity *o;
        snprintf(id, sizeof id, "MP%d", i);
        snprintf(pid, sizeof pid, "u%d", i % UNITS);
        snprintf(pid + 32, 32, "a%d", i % 10);
        if (cu_policy_entities_add(e, "Officer", id, &o) != CU_OK ||
            cu_policy_entity_add_parent(e, o, "Unit", pid) != CU_OK ||
            cu_policy_entity_set_attr(e, o, "role", cu_policy_val_string(va, roles[i % 6], strlen(roles[i % 6]))) != CU_OK ||
            cu_policy_entity_set_attr(e, o, "vetting", cu_policy_val_long(va, i % 4)) != CU_OK ||
            cu_policy_entity_set_attr(e, o, "area", cu_policy_val_string(va, pid + 32, strlen(pid + 32))) != CU_OK)
            die("officers");
    }
    for (int i = 0; i < RECORDS; i++) {
        cu_policy_entity *r;
        snprintf(id, sizeof id, "R%d", i);
        snprintf(pid, sizeof pid, "c%d", i % CASES);
        snprintf(pid + 32, 32, "a%d", (i / 7) % 10);
        const cu_policy_value *offs[3];
        char oid[3][24];
        for (int k = 0; k < 3; k++) {
            snprintf(oid[k], sizeof oid[k], "MP%d", (int)((i * 7 + k * 101) % OFFICERS));
            offs[k] = cu_policy_val_entity(va, "Officer", oid[k]);
        }
        if (cu_policy_entities_add(e, "Record", id, &r) != CU_OK ||
            cu_policy_entity_add_parent(e, r, "Case", pid) != CU_OK ||
            cu_policy_entity_set_attr(e, r, "classification", cu_policy_val_long(va, i % 4)) != CU_OK ||
            cu_policy_entity_set_attr(e, r, "area", cu_policy_val_string(va, pid + 32, strlen(pid + 32))) != CU_OK ||
            cu_policy_entity_set_attr(e, r, "case_officers", cu_policy_val_set(va, offs, 3)) != CU_OK)
            die("records");
        if ((i & 1023) == 0)
            cu_arena_reset(va);
    }
    uint64_t t2 = cu_mono_ns();
    if (cu_policy_entities_finalize(e) != CU_OK)
        die("finalize");
    uint64_t t3 = cu_mono_ns();

    /* ---- requests: prebuilt so that the loop times evaluation only */
    enum { NREQ = 4096 };
    cu_arena *reqa = cu_arena_new(1 << 20, 1 << 26);
    cu_policy_request **reqs = malloc(sizeof *reqs * NREQ);
    const cu_policy_value *src = cu_policy_val_ip(reqa, "10.20.30.40");
    const cu_policy_value *src_out = cu_policy_val_ip(reqa, "192.168.1.1");
    for (int i = 0; i < NREQ; i++) {
        uint64_t r = next_rand();
        snprintf(id, sizeof id, "MP%d", (int)(r % OFFICERS));
        snprintf(pid, sizeof pid, "R%d", (int)((r >> 20) % RECORDS));
        reqs[i] = cu_policy_request_new(reqa, "Officer", id, "Action", actions[(r >> 40) % 6], "Record", pid);
        if (!reqs[i] ||
            cu_policy_request_ctx(reqs[i], "purpose", cu_policy_val_string(reqa, "investigation", 13)) != CU_OK ||
            cu_policy_request_ctx(reqs[i], "hour", cu_policy_val_long(reqa, (int64_t)((r >> 50) % 24))) != CU_OK ||
            cu_policy_request_ctx(reqs[i], "training", cu_policy_val_bool(reqa, (r >> 55) % 16 == 0)) != CU_OK ||
            cu_policy_request_ctx(reqs[i], "src", (r >> 59) % 8 == 0 ? src_out : src) != CU_OK)
            die("requests");
    }

    cu_arena *scratch = cu_arena_new(64 * 1024, 1 << 24);
    uint64_t *lat = malloc(sizeof *lat * n);
    if (!scratch || !lat)
        die("memory");
    size_t allows = 0, errors = 0, explained = 0;
    cu_policy_answer ans;
    /* warm up */
    for (size_t i = 0; i < 10000; i++) {
        cu_arena_reset(scratch);
        if (cu_policy_eval(set, e, reqs[i % NREQ], scratch, &ans) != CU_OK)
            die("eval");
    }
    uint64_t allocs0 = cu_alloc_count();
    uint64_t start = cu_mono_ns();
    for (size_t i = 0; i < n; i++) {
        uint64_t a = cu_mono_ns();
        cu_arena_reset(scratch);
        if (cu_policy_eval(set, e, reqs[i % NREQ], scratch, &ans) != CU_OK)
            die("eval");
        lat[i] = cu_mono_ns() - a;
        allows += ans.allow;
        errors += ans.n_errors;
        explained += ans.explanation != NULL;
    }
    uint64_t total = cu_mono_ns() - start;
    uint64_t allocs = cu_alloc_count() - allocs0;
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("policy pack: %zu policies parsed in %.2f ms\n", cu_policy_set_count(set), (double)(t1 - t0) / 1e6);
    printf("entities: %zu built in %.1f ms, ancestors finalized in %.1f ms\n", cu_policy_entities_count(e),
           (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1e6);
    printf("decisions: %zu (allow %.1f%%, with errors %zu, explained denies %zu)\n", n, 100.0 * (double)allows / (double)n,
           errors, explained);
    printf("throughput: %.0f decisions/s on one thread (timer included)\n", (double)n / ((double)total / 1e9));
    printf("latency: p50 %.0f ns, p99 %.0f ns, p99.9 %.0f ns, max %.0f ns\n", (double)lat[n / 2],
           (double)lat[n * 99 / 100], (double)lat[n * 999 / 1000], (double)lat[n - 1]);
    printf("heap allocations per decision: %.4f (%llu in all)\n", (double)allocs / (double)n, (unsigned long long)allocs);
    free(lat);
    free(reqs);
    cu_arena_free(scratch);
    cu_arena_free(reqa);
    cu_arena_free(va);
    cu_policy_entities_free(e);
    cu_policy_set_release(set);
    return 0;
}
