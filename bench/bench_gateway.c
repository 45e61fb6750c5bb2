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
 * Usage: bench_gateway [RECORDS] [DECISIONS] [--pool N] [--no-guards] [--no-memo] [--units N] [--requests FILE] [--reference FILE]
 *   (run from the source tree).
 *   Timed decisions are a fresh random request each (records all over the
 *   store, as in real traffic: mostly cache and TLB misses at ten million
 *   records); --pool N cycles N requests instead (--pool 4096: the figures
 *   before, with the records that requests touch warm in the caches).
 *   --requests FILE: write the benchmark's 4096 requests as JSON Lines, each
 *     with the Cedar entities it needs and custos's decision, for
 *     bench/gateway_vs_cedar_wasm.sh (and a "body" for the HTTP benchmark).
 *   --reference FILE: write the synthetic force as interchange JSON Lines
 *     (for custosd in bench/gateway_http.sh).
 *   --ledger DIR [--threads N]: decide through a durable ledger in DIR (made
 *     fresh; every decision fsync'd before it returns, group commit) with N
 *     threads deciding at once (default 64): the in-process ceiling of
 *     bench/gateway_http.sh, without HTTP.
 *   --no-memo: no decision memo (every decision evaluated; docs/gateway.md).
 *   --units N: the officers spread over N units (of five kinds: TP-, CID-,
 *     PNCB-, DBS-, INT-) instead of one: more distinct memo keys.
 *   --no-guards: every candidate policy evaluated in full (as before guard
 *     prefixes; docs/policy.md), for comparison.
 *   --now T: the decision time (seconds since the epoch; the force's dates
 *     are relative to it), for a daemon that decides at the real time. */
#include "gateway/gateway_int.h"

#include "custos/ledger.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFFICERS 45000
static int64_t NOW = INT64_C(1717243200); /* 2024-06-01T12:00:00Z; --now changes it */
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

static cu_rc ledger_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    return cu_ledger_append(ud, e, len, index);
}

struct worker {
    cu_gateway *g;
    const cu_gateway_request *rq;
    size_t nreq, from, n;
    uint32_t *lat;
    int failed;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    cu_gateway_decision d;
    for (size_t i = 0; i < w->n; i++) {
        uint64_t a0 = cu_mono_ns();
        if (cu_gateway_decide(w->g, &w->rq[(w->from + i) % w->nreq], &d) != CU_OK || !d.audited)
            w->failed++;
        w->lat[i] = (uint32_t)(cu_mono_ns() - a0);
    }
    return NULL;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A random view request (the mix in main) into the buffers given. */
static void make_request(size_t nrec, size_t ncase, char *off, char *rec, char *cs, cu_gateway_request *rq)
{
    size_t r = rnd() % nrec, c = r / 20, k = rnd() % 10;
    snprintf(rec, 32, "R%08zu", r);
    snprintf(off, 32, "MP%05zu", (c * 4 + rnd() % 4) % OFFICERS);
    snprintf(cs, 32, "C%07zu", k == 9 ? (c + 1) % ncase : c);
    *rq = (cu_gateway_request){.caller = "bench", .officer = off, .action = "view", .record = rec,
                               .purpose = "investigation", .case_id = k >= 7 && k < 9 ? NULL : cs, .now = NOW};
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static long proc_kib(const char *file, const char *key)
{
    FILE *f = fopen(file, "r");
    char line[256];
    long kb = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0)
            kb = strtol(line + kl, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static long rss_kib(void) { return proc_kib("/proc/self/status", "VmRSS:"); }

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

/* ------------------------------------------------ output for other benches */

static void uid_json(FILE *f, const char *type, const char *id)
{
    fprintf(f, "{\"type\":\"%s\",\"id\":\"%s\"}", type, id);
}

/* An entity reference inside attributes or the context (Cedar's JSON
 * without a schema reads a bare {"type","id"} there as a record). */
static void ref_json(FILE *f, const char *type, const char *id)
{
    fprintf(f, "{\"__entity\":");
    uid_json(f, type, id);
    fputc('}', f);
}

static void atom_json(FILE *f, const gw_store *st, uint32_t a)
{
    fprintf(f, "\"%s\"", gw_str(st, st->atoms[a]));
}

static void set_json(FILE *f, const gw_store *st, uint32_t set)
{
    const uint32_t *it;
    uint32_t one;
    size_t n = gw_list_items(st, st->sets[set].members, &it, &one);
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        atom_json(f, st, it[i]);
    }
    fputc(']', f);
}

static void persons_json(FILE *f, const gw_store *st, gw_list l, bool as_uids)
{
    const uint32_t *it;
    uint32_t one;
    size_t n = gw_list_items(st, l, &it, &one);
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        if (as_uids)
            ref_json(f, "Person", gw_str(st, st->persons[it[i]].id));
        else
            fprintf(f, "\"%s\"", gw_str(st, st->persons[it[i]].id));
    }
    fputc(']', f);
}

/* The Cedar entities one request needs (what a caller of the reference
 * engine sends with every call): the officer, the record with its parents,
 * the stated case as of now. */
static void entities_json(FILE *f, const gw_snap *s, uint32_t oi, uint32_t ri, bool has_case, uint32_t ci, int64_t now)
{
    const gw_store *st = s->st;
    const gw_officer *o = &st->officers[oi];
    const gw_record *r = &st->records[ri];
    fprintf(f, "[{\"uid\":");
    uid_json(f, "Officer", gw_str(st, o->id));
    fprintf(f, ",\"parents\":[],\"attrs\":{\"role\":");
    atom_json(f, st, o->role);
    fprintf(f, ",\"unit\":");
    atom_json(f, st, o->unit);
    fprintf(f, ",\"area\":");
    atom_json(f, st, o->area);
    fprintf(f, ",\"vetting\":");
    atom_json(f, st, o->vetting);
    fprintf(f, ",\"vetting_granted\":%lld,\"vetting_expires\":%lld,\"start\":%lld,\"end\":%lld,\"caveats\":",
            (long long)o->granted, (long long)o->expires, (long long)o->start, (long long)o->end);
    set_json(f, st, o->caveats);
    fprintf(f, ",\"relations\":");
    persons_json(f, st, o->relations, true);
    fprintf(f, "}},{\"uid\":");
    uid_json(f, "Record", gw_str(st, r->id));
    fprintf(f, ",\"parents\":[");
    uid_json(f, "System", gw_str(st, st->atoms[r->system]));
    for (uint32_t q = s->rec_case_start[ri]; q < s->rec_case_start[ri + 1]; q++) {
        fputc(',', f);
        uid_json(f, "Case", gw_str(st, st->cases[s->rec_cases[q]].id));
    }
    bool prot = false;
    const uint32_t *it;
    uint32_t one;
    size_t n = gw_list_items(st, r->subjects, &it, &one);
    for (size_t i = 0; i < n; i++)
        prot = prot || s->set_nonempty[st->persons[it[i]].flags];
    fprintf(f, "],\"attrs\":{\"type\":");
    atom_json(f, st, r->type);
    fprintf(f, ",\"system\":");
    atom_json(f, st, r->system);
    fprintf(f, ",\"area\":");
    atom_json(f, st, r->area);
    fprintf(f, ",\"classification\":");
    atom_json(f, st, r->cls);
    fprintf(f, ",\"caveats\":");
    set_json(f, st, r->caveats);
    fprintf(f, ",\"subjects\":");
    persons_json(f, st, r->subjects, true);
    fprintf(f, ",\"protected\":%s,\"live\":%s}}", prot ? "true" : "false", r->live ? "true" : "false");
    if (has_case) {
        const gw_case *c = &st->cases[ci];
        fprintf(f, ",{\"uid\":");
        uid_json(f, "Case", gw_str(st, c->id));
        fprintf(f, ",\"parents\":[],\"attrs\":{\"area\":");
        atom_json(f, st, c->area);
        fprintf(f, ",\"opened\":%lld,\"closed\":%lld,\"officers\":[", (long long)c->opened, (long long)c->closed);
        bool first = true;
        for (uint32_t q = s->case_iv_start[ci]; q < s->case_iv_start[ci + 1]; q++) {
            const gw_interval *iv = &s->ivs[q];
            if (iv->officer == UINT32_MAX || now < iv->from || now >= iv->until)
                continue;
            if (!first)
                fputc(',', f);
            first = false;
            ref_json(f, "Officer", gw_str(st, st->officers[iv->officer].id));
        }
        fprintf(f, "],\"subjects\":");
        persons_json(f, st, c->subjects, true);
        fprintf(f, "}}");
    }
    fputc(']', f);
}

static void ids_json(FILE *f, const gw_store *st, gw_list l, const void *base, size_t stride)
{
    const uint32_t *it;
    uint32_t one;
    size_t n = gw_list_items(st, l, &it, &one);
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        uint32_t off;
        memcpy(&off, (const char *)base + (size_t)it[i] * stride, sizeof off);
        fprintf(f, "%s\"%s\"", i ? "," : "", gw_str(st, off));
    }
    fputc(']', f);
}

static void date_json(FILE *f, int64_t t)
{
    char b[21];
    cu_time_format(t, b);
    fprintf(f, "\"%s\"", b);
}

/* The force as interchange reference lines (docs: shared spec). */
static void write_reference(const char *path, const gw_store *st)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_gateway: cannot write %s\n", path);
        exit(1);
    }
    for (size_t i = 0; i < st->npersons; i++) {
        const gw_person *p = &st->persons[i];
        fprintf(f, "{\"kind\":\"person\",\"id\":\"%s\",\"area\":", gw_str(st, p->id));
        atom_json(f, st, p->area);
        fprintf(f, ",\"flags\":");
        set_json(f, st, p->flags);
        fprintf(f, "}\n");
    }
    for (size_t i = 0; i < st->nofficers; i++) {
        const gw_officer *o = &st->officers[i];
        fprintf(f, "{\"kind\":\"officer\",\"id\":\"%s\",\"role\":", gw_str(st, o->id));
        atom_json(f, st, o->role);
        fprintf(f, ",\"unit\":");
        atom_json(f, st, o->unit);
        fprintf(f, ",\"area\":");
        atom_json(f, st, o->area);
        fprintf(f, ",\"vetting\":{\"level\":");
        atom_json(f, st, o->vetting);
        fprintf(f, ",\"granted\":");
        date_json(f, o->granted);
        fprintf(f, ",\"expires\":");
        date_json(f, o->expires);
        fprintf(f, "},\"shift\":\"days\",\"start\":");
        date_json(f, o->start);
        fprintf(f, ",\"end\":null,\"relations\":[]}\n");
    }
    for (size_t i = 0; i < st->nrecords; i++) {
        const gw_record *r = &st->records[i];
        fprintf(f, "{\"kind\":\"record\",\"id\":\"%s\",\"type\":", gw_str(st, r->id));
        atom_json(f, st, r->type);
        fprintf(f, ",\"system\":");
        atom_json(f, st, r->system);
        fprintf(f, ",\"subjects\":");
        persons_json(f, st, r->subjects, false);
        fprintf(f, ",\"area\":");
        atom_json(f, st, r->area);
        fprintf(f, ",\"classification\":");
        atom_json(f, st, r->cls);
        fprintf(f, ",\"caveats\":");
        set_json(f, st, r->caveats);
        fprintf(f, "}\n");
    }
    for (size_t i = 0; i < st->ncases; i++) {
        const gw_case *c = &st->cases[i];
        fprintf(f, "{\"kind\":\"case\",\"id\":\"%s\",\"opened\":", gw_str(st, c->id));
        date_json(f, c->opened);
        fprintf(f, ",\"closed\":null,\"area\":");
        atom_json(f, st, c->area);
        fprintf(f, ",\"officers\":");
        ids_json(f, st, c->officers, st->officers, sizeof *st->officers);
        fprintf(f, ",\"subjects\":");
        persons_json(f, st, c->subjects, false);
        fprintf(f, ",\"records\":");
        ids_json(f, st, c->records, st->records, sizeof *st->records);
        fprintf(f, "}\n");
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_gateway: cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *reqfile = NULL, *reffile = NULL, *ledger_dir = NULL;
    size_t nthreads = 64, pool = 0, nunits = 1;
    bool guards = true, memo = true;
    size_t pos[2] = {10000000, 1000000};
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
            reqfile = argv[++i];
        else if (strcmp(argv[i], "--reference") == 0 && i + 1 < argc)
            reffile = argv[++i];
        else if (strcmp(argv[i], "--ledger") == 0 && i + 1 < argc)
            ledger_dir = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            nthreads = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--no-guards") == 0)
            guards = false;
        else if (strcmp(argv[i], "--no-memo") == 0)
            memo = false;
        else if (strcmp(argv[i], "--units") == 0 && i + 1 < argc)
            nunits = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc)
            pool = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc)
            NOW = strtoll(argv[++i], NULL, 10);
        else if (np < 2)
            pos[np++] = strtoull(argv[i], NULL, 10);
    }
    size_t nrec = pos[0] ? pos[0] : 1, ndec = pos[1] ? pos[1] : 1;
    size_t ncase = nrec / 20 + 1; /* each case links 20 records, assigns 4 officers */
    char *pack = NULL;
    size_t plen = 0;
    CHK(cu_gateway_read_pack("policies", &pack, &plen));
    cu_gateway *g = NULL;
    cu_gateway_opts o = {.policy_text = pack, .policy_len = plen, .audit = {.append = count_append}};
    cu_ledger *ledger = NULL;
    if (ledger_dir) {
        char *key = NULL, *vkey = NULL;
        CHK(cu_note_keygen("bench", &key, &vkey));
        CHK(cu_ledger_init(ledger_dir, "bench", key));
        cu_ledger_opts lo = {.signer_key = key};
        CHK(cu_ledger_open(ledger_dir, &lo, &ledger));
        cu_free(key);
        cu_free(vkey);
        o.audit = (cu_gateway_audit){.append = ledger_append, .ud = ledger};
    }
    CHK(cu_gateway_new(&o, &g));
    cu_free(pack);
    if (!guards)
        cu_policy_set_guards(g->pack->set, false);
    g->dm_off = !memo;
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
    static const char *const UNIT_KINDS[] = {"TP", "CID", "PNCB", "DBS", "INT"};
    for (size_t i = 0; i < OFFICERS; i++) {
        uint32_t k;
        int n = snprintf(id, sizeof id, "MP%05zu", i);
        CHK(gw_officer_id(st, id, (size_t)n, &k));
        gw_officer *f = &st->officers[k];
        f->role = atom(st, ROLES[i % 10]);
        f->vetting = atom(st, VET[i % 6]);
        f->unit = unit;
        if (nunits > 1) { /* --units: officers spread over that many units of five kinds */
            char u[32];
            size_t ui = (i * 7919) % nunits;
            snprintf(u, sizeof u, "%s-%zu", UNIT_KINDS[ui % 5], ui);
            f->unit = atom(st, u);
        }
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
    gw_snap *s = NULL;
    CHK(gw_snap_make(st, &s));
    size_t store_bytes = gw_store_bytes(st);
    gw_publish(g, s);
    if (reffile)
        write_reference(reffile, st);
    double build_s = (double)(cu_mono_ns() - t0) / 1e9;
    long rss1 = rss_kib();

    /* Requests: 70% an officer assigned to the case that links the record,
     * 20% no case stated, 10% a case the officer is not on.  The first 4096
     * warm up (and go to --requests); the timed ones are, by default, a fresh
     * random request each (made outside the timing), so a record is seldom
     * in any cache, as in a force's real traffic; --pool N cycles N. */
    size_t nreq = pool > 4096 ? pool : 4096;
    char (*offs)[32] = calloc(nreq + 1, 32), (*recs)[32] = calloc(nreq + 1, 32), (*cases)[32] = calloc(nreq + 1, 32);
    cu_gateway_request *rq = calloc(nreq + 1, sizeof *rq);
    uint32_t *lat = calloc(ndec, sizeof *lat);
    if (!offs || !recs || !cases || !rq || !lat)
        return 1;
    for (size_t i = 0; i <= nreq; i++)
        make_request(nrec, ncase, offs[i], recs[i], cases[i], &rq[i]);
    cu_gateway_decision d;
    size_t allow = 0, bga = 0;
    FILE *rf = reqfile ? fopen(reqfile, "w") : NULL;
    if (reqfile && !rf) {
        fprintf(stderr, "bench_gateway: cannot write %s\n", reqfile);
        return 1;
    }
    for (size_t i = 0; i < 4096; i++) { /* warm up, and the decisions for the comparison */
        CHK(cu_gateway_decide(g, &rq[i], &d));
        if (rf) {
            uint32_t oi = 0, ri = 0, ci = 0;
            const char *cid = rq[i].case_id;
            bool has_case = cid && gw_find(st, GW_CASE, cid, strlen(cid), &ci);
            if (!gw_find(st, GW_OFFICER, rq[i].officer, strlen(rq[i].officer), &oi) ||
                !gw_find(st, GW_RECORD, rq[i].record, strlen(rq[i].record), &ri))
                return 1;
            fprintf(rf, "{\"body\":{\"officer\":\"%s\",\"action\":\"view\",\"record\":\"%s\",\"purpose\":"
                        "\"investigation\"%s%s%s},\"principal\":",
                    rq[i].officer, rq[i].record, cid ? ",\"case\":\"" : "", cid ? cid : "", cid ? "\"" : "");
            uid_json(rf, "Officer", rq[i].officer);
            fprintf(rf, ",\"action\":");
            uid_json(rf, "Action", "view");
            fprintf(rf, ",\"resource\":");
            uid_json(rf, "Record", rq[i].record);
            fprintf(rf, ",\"context\":{\"purpose\":\"investigation\",\"now\":%lld", (long long)NOW);
            if (has_case) {
                fprintf(rf, ",\"case\":");
                ref_json(rf, "Case", cid);
            }
            fprintf(rf, "},\"entities\":");
            entities_json(rf, s, oi, ri, has_case, ci, NOW);
            fprintf(rf, ",\"decision\":\"%s\",\"policies\":[",
                    d.outcome == CU_GW_ALLOW ? "allow" : d.outcome == CU_GW_DENY ? "deny" : "break-glass-available");
            for (size_t k = 0; k < d.n_policies; k++)
                fprintf(rf, "%s\"%s\"", k ? "," : "", d.policies[k]);
            fprintf(rf, "]}\n");
        }
    }
    if (rf)
        fclose(rf);
    if (ledger) {
        if (!nthreads)
            nthreads = 1;
        pthread_t *th = calloc(nthreads, sizeof *th);
        struct worker *w = calloc(nthreads, sizeof *w);
        if (!th || !w)
            return 1;
        uint64_t t1 = cu_mono_ns();
        for (size_t k = 0; k < nthreads; k++) {
            w[k] = (struct worker){g, rq, nreq, k * 97, ndec / nthreads, lat + k * (ndec / nthreads), 0};
            if (pthread_create(&th[k], NULL, work, &w[k]))
                return 1;
        }
        int failed = 0;
        for (size_t k = 0; k < nthreads; k++) {
            pthread_join(th[k], NULL);
            failed += w[k].failed;
        }
        double secs = (double)(cu_mono_ns() - t1) / 1e9;
        size_t done = (ndec / nthreads) * nthreads;
        qsort(lat, done, sizeof *lat, cmp_u32);
        printf("durable: %zu decisions by %zu threads in %.3f s = %.0f decisions/s, each fsync'd (group commit) "
               "before it returns; %d not logged\n", done, nthreads, secs, (double)done / secs, failed);
        printf("latency: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms (decision and ledger commit); ledger entries %llu\n",
               lat[done / 2] / 1e6, lat[done * 99 / 100] / 1e6, lat[done * 999 / 1000] / 1e6,
               (unsigned long long)cu_ledger_size(ledger));
        free(th);
        free(w);
        free(offs);
        free(recs);
        free(cases);
        free(rq);
        free(lat);
        cu_gateway_free(g);
        cu_ledger_close(ledger);
        return failed ? 1 : 0;
    }
    uint64_t allocs = cu_alloc_count(), hits0, miss0, hits1, miss1;
    gw_dm_counts(gw_dm_thread(), &hits0, &miss0);
    double secs = 0;
    for (size_t i = 0; i < ndec; i++) {
        const cu_gateway_request *q = &rq[i % (pool ? pool : 1)];
        if (!pool) {
            make_request(nrec, ncase, offs[nreq], recs[nreq], cases[nreq], &rq[nreq]);
            q = &rq[nreq];
        }
        uint64_t a0 = cu_mono_ns();
        if (cu_gateway_decide(g, q, &d) != CU_OK)
            return 1;
        lat[i] = (uint32_t)(cu_mono_ns() - a0);
        secs += lat[i] / 1e9;
        allow += d.outcome == CU_GW_ALLOW;
        bga += d.outcome == CU_GW_BREAK_GLASS_AVAILABLE;
    }
    allocs = cu_alloc_count() - allocs;
    gw_dm_counts(gw_dm_thread(), &hits1, &miss1);
    qsort(lat, ndec, sizeof *lat, cmp_u32);
    printf("force: %d officers, %zu cases, %zu records, %zu policies; store filled and snapshot made in %.2f s\n",
           OFFICERS, ncase, nrec, cu_policy_set_count(g->pack->set), build_s);
    printf("memory: store %.0f MiB + snapshot %.0f MiB; resident %.0f MiB (%.0f MiB before the store), "
           "%.0f MiB of it in 2 MiB pages\n",
           (double)store_bytes / 1048576.0, (double)s->bytes / 1048576.0, (double)rss1 / 1024.0,
           (double)rss0 / 1024.0, (double)proc_kib("/proc/self/smaps_rollup", "AnonHugePages:") / 1024.0);
    char how[96];
    if (pool)
        snprintf(how, sizeof how, "%zu requests cycled", pool);
    else
        snprintf(how, sizeof how, "a fresh random request each");
    printf("decisions: %zu in %.3f s = %.0f decisions/s (one thread, time in cu_gateway_decide; %s), %.1f%% allowed, "
           "%.1f%% break-glass-available\n",
           ndec, secs, (double)ndec / secs, how, 100.0 * (double)allow / (double)ndec, 100.0 * (double)bga / (double)ndec);
    printf("latency: p50 %.2f us, p99 %.2f us, p99.9 %.2f us (cu_gateway_decide: entities, both tiers, ledger entry)\n",
           lat[ndec / 2] / 1e3, lat[ndec * 99 / 100] / 1e3, lat[ndec * 999 / 1000] / 1e3);
    printf("allocations during the timed decisions: %llu\n", (unsigned long long)allocs);
    printf("decision memo: %s; %llu hits, %llu misses in the timed decisions\n",
           !memo ? "off (--no-memo)" : g->pack->dm_ok ? "on" : "refused by the pack",
           (unsigned long long)(hits1 - hits0), (unsigned long long)(miss1 - miss0));
    free(offs);
    free(recs);
    free(cases);
    free(rq);
    free(lat);
    cu_gateway_free(g);
    return 0;
}
