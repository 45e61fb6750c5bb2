/* Evaluation: alerts against labelled misuse (`custos eval`).
 *
 * Reads labels.jsonl (the generator's "scenario" lines: officers, events,
 * first_event, ring), alerts.jsonl (interchange alerts; an alert re-emitted
 * with the same id and a later raised_at is an update of one alert) and the
 * reference (to count officers).  With the events file it also measures the
 * share of legitimate accesses explained and runs the two baselines on the
 * same data: a random audit of one access in ten, and the rules alone
 * (cu_detect_cfg.rules_only).  Definitions are in docs/detect.md.
 *
 * Invariants: every input line is bounded (CU_EVENT_MAX_LINE for alerts,
 * 64 MiB for a label line, which lists event ids) and a bad line is an error
 * naming the file and line; nothing here runs in the hot path.
 */
#include "custos/detect.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCEN_KINDS 64
#define LABEL_MAX_LINE (64u << 20)

typedef struct inst {
    int kind;
    bool ring;
    int64_t first;
    uint32_t off0, noff; /* into ev->offs */
} inst;

typedef struct aline {
    uint64_t key;    /* hash of the alert id */
    int64_t raised;
    uint32_t off0, noff;
} aline;

typedef struct evalctx {
    cu_names *names;
    char *kinds[MAX_SCEN_KINDS];
    int nkinds;
    inst *in; size_t nin, capin;
    cu_id *offs; size_t noffs, capoffs;
    /* labelled event ids: open addressing on a hash of the id */
    uint64_t *lab; size_t labcap, nlab;
    uint32_t *lab_inst;
    int64_t tmin, tmax;
} evalctx;

static uint64_t hstr(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h ? h : 1;
}

static cu_rc push_off(evalctx *e, cu_id o)
{
    cu_rc rc = cu_grow(&e->offs, &e->capoffs, e->noffs + 1, sizeof *e->offs, 1024, false);
    if (rc)
        return rc;
    e->offs[e->noffs++] = o;
    return CU_OK;
}

static cu_rc lab_put(evalctx *e, uint64_t h, uint32_t idx)
{
    if ((e->nlab + 1) * 2 > e->labcap) {
        size_t nc = e->labcap ? e->labcap * 2 : 4096;
        uint64_t *nk = cu_calloc(nc, sizeof *nk);
        uint32_t *ni = cu_calloc(nc, sizeof *ni);
        if (!nk || !ni) {
            cu_free(nk);
            cu_free(ni);
            return CU_ERR_NOMEM;
        }
        for (size_t i = 0; i < e->labcap; i++)
            if (e->lab[i]) {
                size_t j = e->lab[i] & (nc - 1);
                while (nk[j])
                    j = (j + 1) & (nc - 1);
                nk[j] = e->lab[i];
                ni[j] = e->lab_inst[i];
            }
        cu_free(e->lab);
        cu_free(e->lab_inst);
        e->lab = nk;
        e->lab_inst = ni;
        e->labcap = nc;
    }
    size_t j = h & (e->labcap - 1);
    while (e->lab[j] && e->lab[j] != h)
        j = (j + 1) & (e->labcap - 1);
    if (!e->lab[j])
        e->nlab++;
    e->lab[j] = h;
    e->lab_inst[j] = idx;
    return CU_OK;
}

static bool lab_has(const evalctx *e, uint64_t h)
{
    if (!e->labcap)
        return false;
    size_t j = h & (e->labcap - 1);
    while (e->lab[j]) {
        if (e->lab[j] == h)
            return true;
        j = (j + 1) & (e->labcap - 1);
    }
    return false;
}

static cu_rc jtime(json_t *v, int64_t *out)
{
    const char *s = json_string_value(v);
    if (!s)
        return cu_err_set(CU_ERR_PARSE, "missing time");
    return cu_time_parse(s, strlen(s), out);
}

static void span(evalctx *e, int64_t t)
{
    if (t < e->tmin)
        e->tmin = t;
    if (t > e->tmax)
        e->tmax = t;
}

static cu_rc id_list(evalctx *e, json_t *arr, uint32_t *off0, uint32_t *n)
{
    *off0 = (uint32_t)e->noffs;
    *n = 0;
    if (!json_is_array(arr))
        return cu_err_set(CU_ERR_PARSE, "\"officers\" must be an array");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(v);
        size_t l = s ? strlen(s) : 0;
        cu_id id;
        if (!s || !l || l > CU_ID_MAX_LEN)
            return cu_err_set(CU_ERR_PARSE, "bad officer id");
        cu_rc rc = cu_names_intern(e->names, CU_K_OFFICER, s, l, &id);
        if (rc || (rc = push_off(e, id)))
            return rc;
        (*n)++;
    }
    return CU_OK;
}

/* One labels.jsonl line: a scenario line is kept, a benign or other line
 * is skipped; a line that is not a JSON object, or a scenario line without
 * its scenario, first_event or officers, is CU_ERR_PARSE (detail says why). */
static cu_rc label_line(evalctx *e, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(line, len, 0, &jerr);
    cu_rc rc = CU_OK;
    if (!j || !json_is_object(j)) {
        rc = cu_err_set(CU_ERR_PARSE, "not a JSON object (%s)", j ? "" : jerr.text);
        goto done;
    }
    const char *kind = json_string_value(json_object_get(j, "kind"));
    if (!kind || strcmp(kind, "scenario") != 0)
        goto done;
    const char *sc = json_string_value(json_object_get(j, "scenario"));
    inst in = {.ring = json_is_true(json_object_get(j, "ring"))};
    if (!sc || strlen(sc) > 64) {
        rc = cu_err_set(CU_ERR_PARSE, "bad scenario line: no scenario, or a name over 64 bytes");
        goto done;
    }
    if ((rc = jtime(json_object_get(j, "first_event"), &in.first)) ||
        (rc = id_list(e, json_object_get(j, "officers"), &in.off0, &in.noff))) {
        if (rc != CU_ERR_NOMEM)
            rc = CU_ERR_PARSE;
        cu_err_prefix("bad scenario line: ");
        goto done;
    }
    in.kind = -1;
    for (int k = 0; k < e->nkinds; k++)
        if (strcmp(e->kinds[k], sc) == 0)
            in.kind = k;
    if (in.kind < 0 && e->nkinds < MAX_SCEN_KINDS - 1) {
        e->kinds[e->nkinds] = cu_strdup(sc);
        if (!e->kinds[e->nkinds]) {
            rc = CU_ERR_NOMEM;
            goto done;
        }
        in.kind = e->nkinds++;
    }
    if (in.kind < 0) /* too many kinds: the rest share the last row */
        in.kind = MAX_SCEN_KINDS - 1;
    if ((rc = cu_grow(&e->in, &e->capin, e->nin + 1, sizeof *e->in, 64, false)))
        goto done;
    e->in[e->nin] = in;
    span(e, in.first);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "events"), i, v) {
        const char *id = json_string_value(v);
        if (id && (rc = lab_put(e, hstr(id), (uint32_t)e->nin)))
            break;
    }
    e->nin++;
done:
    json_decref(j);
    return rc;
}

/* One line of a labels or alerts file, parsed into the context. */
typedef cu_rc (*line_fn)(evalctx *e, const char *line, size_t len, void *out);

/* Read a JSON Lines file line by line (empty lines skipped); a line that
 * does not parse stops the read with its file and line named. */
static cu_rc load_lines(evalctx *e, const char *path, size_t max_line, line_fn fn, void *out)
{
    cu_lines *lr;
    cu_rc rc = cu_lines_open(path, max_line, &lr);
    if (rc)
        return rc;
    for (;;) {
        const char *line;
        size_t len;
        rc = cu_lines_next(lr, &line, &len);
        if (rc == CU_ERR_NOTFOUND) {
            rc = CU_OK;
            break;
        }
        if (rc)
            break;
        if (!len)
            continue;
        if ((rc = fn(e, line, len, out))) {
            if (rc == CU_ERR_PARSE)
                cu_err_prefix("%s:%llu", path, (unsigned long long)cu_lines_lineno(lr));
            break;
        }
    }
    cu_lines_close(lr);
    return rc;
}

static cu_rc label_line_fn(evalctx *e, const char *line, size_t len, void *out)
{
    (void)out;
    return label_line(e, line, len);
}

static cu_rc load_labels(evalctx *e, const char *path)
{
    return load_lines(e, path, LABEL_MAX_LINE, label_line_fn, NULL);
}

/* ---------------------------------------------------------------- alerts */

typedef struct alist {
    aline *v;
    size_t n, cap;
} alist;

static cu_rc alist_push(alist *l, const aline *a)
{
    cu_rc rc = cu_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v, 256, false);
    if (rc)
        return rc;
    l->v[l->n++] = *a;
    return CU_OK;
}

/* One alerts.jsonl line: it needs an id, a raised_at and officers. */
static cu_rc alert_line(evalctx *e, const char *line, size_t len, alist *out)
{
    json_t *j = json_loadb(line, len, 0, NULL);
    const char *id = j && json_is_object(j) ? json_string_value(json_object_get(j, "id")) : NULL;
    aline a = {0};
    cu_rc rc = CU_OK;
    if (!id || !*id || strlen(id) > CU_ID_MAX_LEN || jtime(json_object_get(j, "raised_at"), &a.raised) ||
        id_list(e, json_object_get(j, "officers"), &a.off0, &a.noff))
        rc = cu_err_set(CU_ERR_PARSE, "not an alert (needs id, raised_at, officers)");
    if (!rc) {
        a.key = hstr(id);
        span(e, a.raised);
        rc = alist_push(out, &a);
    }
    json_decref(j);
    return rc;
}

static cu_rc alert_line_fn(evalctx *e, const char *line, size_t len, void *out)
{
    return alert_line(e, line, len, out);
}

static cu_rc load_alerts(evalctx *e, const char *path, alist *out)
{
    return load_lines(e, path, CU_EVENT_MAX_LINE, alert_line_fn, out);
}

/* --------------------------------------------------------------- metrics */

typedef struct metrics {
    size_t ninst[MAX_SCEN_KINDS + 1], caught[MAX_SCEN_KINDS + 1], rings, rings_full;
    double ttd[MAX_SCEN_KINDS + 1][2]; /* median, p90 in hours */
    size_t alerts, tp_alerts;
    double per_k_day, precision;
} metrics;

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t find_u64(const uint64_t *v, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static double pct(double *v, size_t n, double q)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp_d);
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    double fr = pos - (double)lo;
    return lo + 1 < n ? v[lo] * (1 - fr) + v[lo + 1] * fr : v[lo];
}

static bool names_officer(const evalctx *e, const aline *a, const inst *in)
{
    for (uint32_t i = 0; i < a->noff; i++)
        for (uint32_t k = 0; k < in->noff; k++)
            if (e->offs[a->off0 + i] == e->offs[in->off0 + k])
                return true;
    return false;
}

/* Distinct alert ids; an alert (id) is a true positive when one of its
 * lines names an officer of a labelled instance and was raised at or after
 * the instance's first misuse.  An instance is caught when such a line
 * exists; its time to detect is from its first misuse to the earliest one.
 * A ring is found whole when one alert id's lines together name all its
 * officers. */
static cu_rc compute(const evalctx *e, const alist *al, double officers, double days, metrics *m)
{
    memset(m, 0, sizeof *m);
    size_t nk = (size_t)e->nkinds;
    uint64_t *ids = cu_calloc(al->n + 1, sizeof *ids);
    uint8_t *tp = cu_calloc(al->n + 1, 1);
    double *tt = cu_calloc(e->nin + 1, sizeof *tt);
    double *tk = cu_calloc(e->nin + 1, sizeof *tk);
    if (!ids || !tp || !tt || !tk) {
        cu_free(ids);
        cu_free(tp);
        cu_free(tt);
        cu_free(tk);
        return CU_ERR_NOMEM;
    }
    /* distinct ids */
    size_t nid = 0;
    for (size_t i = 0; i < al->n; i++)
        ids[nid++] = al->v[i].key;
    qsort(ids, nid, sizeof *ids, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < nid; i++)
        if (!u || ids[u - 1] != ids[i])
            ids[u++] = ids[i];
    nid = u;
    m->alerts = nid;
    for (size_t i = 0; i < e->nin; i++) {
        const inst *in = &e->in[i];
        int64_t best = INT64_MAX;
        for (size_t k = 0; k < al->n; k++) {
            const aline *a = &al->v[k];
            if (a->raised < in->first || !names_officer(e, a, in))
                continue;
            if (a->raised < best)
                best = a->raised;
            size_t q = find_u64(ids, nid, a->key);
            if (q < nid && ids[q] == a->key)
                tp[q] = 1;
        }
        m->ninst[in->kind]++;
        m->ninst[MAX_SCEN_KINDS]++;
        if (best != INT64_MAX) {
            m->caught[in->kind]++;
            m->caught[MAX_SCEN_KINDS]++;
        }
        tt[i] = best == INT64_MAX ? NAN : (double)(best - in->first) / 3600.0;
        if (in->ring) {
            m->rings++;
            /* one id naming every member */
            bool full = false;
            for (size_t k = 0; k < al->n && !full; k++) {
                if (al->v[k].raised < in->first)
                    continue;
                uint64_t key = al->v[k].key;
                uint32_t have = 0;
                for (uint32_t o = 0; o < in->noff; o++) {
                    bool f = false;
                    for (size_t q = 0; q < al->n && !f; q++)
                        if (al->v[q].key == key)
                            for (uint32_t x = 0; x < al->v[q].noff; x++)
                                f |= e->offs[al->v[q].off0 + x] == e->offs[in->off0 + o];
                    have += f;
                }
                full = have == in->noff;
            }
            m->rings_full += full;
        }
    }
    for (size_t q = 0; q < nid; q++)
        m->tp_alerts += tp[q];
    for (size_t kk = 0; kk <= nk; kk++) {
        size_t kind = kk == nk ? MAX_SCEN_KINDS : kk;
        size_t n = 0;
        for (size_t i = 0; i < e->nin; i++)
            if ((kind == MAX_SCEN_KINDS || (size_t)e->in[i].kind == kind) && !isnan(tt[i]))
                tk[n++] = tt[i];
        m->ttd[kind][0] = pct(tk, n, 0.5);
        m->ttd[kind][1] = pct(tk, n, 0.9);
    }
    m->precision = nid ? (double)m->tp_alerts / (double)nid : NAN;
    m->per_k_day = officers > 0 && days > 0 ? (double)nid / (officers / 1000.0) / days : NAN;
    cu_free(ids);
    cu_free(tp);
    cu_free(tt);
    cu_free(tk);
    return CU_OK;
}

/* ------------------------------------------------------- in-process runs */

typedef struct runctx {
    evalctx *e;
    alist *alerts;
    uint64_t legit, legit_explained, misuse, misuse_explained;
    bool audit;
    alist *audit_hits;   /* sampled accesses, as one-officer "alerts" */
    cu_names *ev_names;
    cu_rc err;
} runctx;

static void on_explain(void *ud, const cu_event *ev, uint32_t bits)
{
    runctx *r = ud;
    if (lab_has(r->e, hstr(ev->id))) {
        r->misuse++;
        r->misuse_explained += bits != 0;
    } else {
        r->legit++;
        r->legit_explained += bits != 0;
    }
}

static cu_rc officer_of(runctx *r, cu_id ev_officer, cu_id *out)
{
    const char *s = cu_names_str(r->ev_names, CU_K_OFFICER, ev_officer);
    if (!s)
        return CU_ERR_INTERNAL;
    return cu_names_intern(r->e->names, CU_K_OFFICER, s, strlen(s), out);
}

static cu_rc on_alert(void *ud, const cu_alert *a)
{
    runctx *r = ud;
    aline l = {.key = a->num, .raised = a->raised_at, .off0 = (uint32_t)r->e->noffs};
    for (uint32_t i = 0; i < a->nofficers; i++) {
        cu_id o;
        cu_rc rc = officer_of(r, a->officers[i], &o);
        if (rc || (rc = push_off(r->e, o)))
            return rc;
        l.noff++;
    }
    return alist_push(r->alerts, &l);
}

/* Replay the events through an engine (cfg NULL: none, only the audit
 * sample and the explanation counts are wanted). */
static cu_rc run_events(evalctx *e, const char *reference, const char *events, const cu_detect_cfg *cfg, runctx *r,
                        int64_t *tmin, int64_t *tmax)
{
    cu_names *n = NULL;
    cu_ref *ref = NULL;
    cu_detect *d = NULL;
    cu_event_reader *rd = NULL;
    cu_id *subj = cu_malloc(CU_EVENT_MAX_SUBJECTS * sizeof *subj);
    cu_rc rc = subj ? CU_OK : CU_ERR_NOMEM;
    if (rc || (rc = cu_names_new(&n)) || (rc = cu_ref_new(n, &ref)) || (rc = cu_ref_load(ref, reference)) ||
        (rc = cu_event_reader_open(events, n, &rd)))
        goto fail;
    if (cfg && (rc = cu_detect_new_cfg(ref, 1, cfg, &d)))
        goto fail;
    r->ev_names = n;
    r->e = e;
    cu_event ev = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    int64_t last = INT64_MIN;
    for (;;) {
        rc = cu_event_reader_next(rd, &ev);
        if (rc == CU_ERR_NOTFOUND) {
            rc = CU_OK;
            break;
        }
        if (rc)
            goto fail;
        if (ev.ts < *tmin)
            *tmin = ev.ts;
        if (ev.ts > *tmax)
            *tmax = ev.ts;
        last = ev.ts;
        if ((rc = cu_ref_advance(ref, ev.ts)))
            goto fail;
        if (d && (rc = cu_detect_event(d, &ev, ev.ts, on_alert, r)))
            goto fail;
        if (r->audit && ev.action != CU_ACT_LOGIN && ev.action != CU_ACT_LOGOUT && hstr(ev.id) % 10 == 0) {
            /* the audit reviews the sampled access when it happens */
            aline l = {.key = hstr(ev.id), .raised = ev.ts, .off0 = (uint32_t)e->noffs, .noff = 1};
            cu_id o;
            if ((rc = officer_of(r, ev.officer, &o)) || (rc = push_off(e, o)) || (rc = alist_push(r->audit_hits, &l)))
                goto fail;
        }
    }
    if (d && last != INT64_MIN && (rc = cu_detect_flush(d, last, on_alert, r)))
        goto fail;
fail:
    cu_detect_free(d);
    cu_event_reader_close(rd);
    cu_ref_free(ref);
    cu_names_free(n);
    cu_free(subj);
    return rc;
}

/* ---------------------------------------------------------------- report */

static cu_rc put_row(cu_buf *out, const char *name, const metrics *m, size_t kind, bool overall)
{
    double rec = m->ninst[kind] ? (double)m->caught[kind] / (double)m->ninst[kind] : NAN;
    cu_rc rc = cu_buf_appendf(out, "  %-20s %4zu %4zu  %6.3f  %8.1f %8.1f", name, m->ninst[kind], m->caught[kind], rec,
                              m->ttd[kind][0], m->ttd[kind][1]);
    if (!rc && overall)
        rc = cu_buf_appendf(out, "   precision %.3f (%zu/%zu alerts)  %.3f alerts/1000 officers/day  rings whole %zu/%zu",
                            m->precision, m->tp_alerts, m->alerts, m->per_k_day, m->rings_full, m->rings);
    if (!rc)
        rc = cu_buf_appends(out, "\n");
    return rc;
}

static cu_rc report(cu_buf *out, const char *title, const evalctx *e, const metrics *m, bool per_scenario)
{
    cu_rc rc = cu_buf_appendf(out, "%s\n  %-20s %4s %4s  %6s  %8s %8s\n", title, "scenario", "n", "hit", "recall",
                              "ttd50 h", "ttd90 h");
    if (rc)
        return rc;
    if (per_scenario)
        for (int k = 0; k < e->nkinds && !rc; k++)
            rc = put_row(out, e->kinds[k], m, (size_t)k, false);
    if (!rc)
        rc = put_row(out, "ALL", m, MAX_SCEN_KINDS, true);
    return rc;
}

cu_rc cu_eval_run(const cu_eval_opts *o, cu_buf *out)
{
    evalctx e = {.tmin = INT64_MAX, .tmax = INT64_MIN};
    alist main = {0}, rules = {0}, audit = {0};
    cu_names *rn = NULL;
    cu_ref *ref = NULL;
    cu_rc rc;
    if (!o->labels || !o->alerts || !o->reference)
        return cu_err_set(CU_ERR_INVAL, "eval needs --labels, --alerts and --reference");
    if ((rc = cu_names_new(&e.names)) || (rc = load_labels(&e, o->labels)) || (rc = load_alerts(&e, o->alerts, &main)))
        goto fail;
    if ((rc = cu_names_new(&rn)) || (rc = cu_ref_new(rn, &ref)) || (rc = cu_ref_load(ref, o->reference)))
        goto fail;
    cu_ref_all all;
    cu_ref_get_all(ref, &all);
    double officers = (double)all.nofficers;
    runctx r = {.e = &e};
    int64_t tmin = INT64_MAX, tmax = INT64_MIN;
    if (o->events) {
        /* explanations (full detector) and the random audit sample */
        alist scratch = {0};
        cu_detect_cfg cfg;
        cu_detect_cfg_default(&cfg);
        cfg.on_explain = on_explain;
        cfg.ud = &r;
        r.alerts = &scratch;
        r.audit = o->baselines;
        r.audit_hits = &audit;
        rc = run_events(&e, o->reference, o->events, &cfg, &r, &tmin, &tmax);
        cu_free(scratch.v);
        if (rc)
            goto fail;
    } else {
        tmin = e.tmin;
        tmax = e.tmax;
    }
    double days = tmax > tmin ? ceil((double)(tmax - tmin) / 86400.0) : 1;
    metrics m;
    if ((rc = compute(&e, &main, officers, days, &m)))
        goto fail;
    if ((rc = cu_buf_appendf(out, "custos eval: %.0f officers, %.0f days, %zu labelled instances, %zu alert ids\n\n",
                             officers, days, e.nin, m.alerts)) ||
        (rc = report(out, "detectors (the alerts file)", &e, &m, true)))
        goto fail;
    if (o->result) {
        cu_eval_result *x = o->result;
        memset(x, 0, sizeof *x);
        x->instances = m.ninst[MAX_SCEN_KINDS];
        x->caught = m.caught[MAX_SCEN_KINDS];
        x->recall = x->instances ? (double)x->caught / (double)x->instances : NAN;
        x->precision = m.precision;
        x->per_k_day = m.per_k_day;
        x->ttd_median_h = m.ttd[MAX_SCEN_KINDS][0];
        x->ttd_p90_h = m.ttd[MAX_SCEN_KINDS][1];
        x->alerts = m.alerts;
        x->tp_alerts = m.tp_alerts;
        x->rings = m.rings;
        x->rings_whole = m.rings_full;
        x->days = days;
        x->officers = officers;
        x->explained = o->events && r.legit ? (double)r.legit_explained / (double)r.legit : NAN;
    }
    if (o->events) {
        double share = r.legit ? (double)r.legit_explained / (double)r.legit : NAN;
        if ((rc = cu_buf_appendf(out, "  legitimate accesses explained: %.4f (%llu of %llu); labelled misuse explained: %.4f\n",
                                 share, (unsigned long long)r.legit_explained, (unsigned long long)r.legit,
                                 r.misuse ? (double)r.misuse_explained / (double)r.misuse : NAN)))
            goto fail;
    }
    if (o->events && o->baselines) {
        metrics ma;
        if ((rc = compute(&e, &audit, officers, days, &ma)) ||
            (rc = report(out, "\nbaseline: random audit of one access in ten", &e, &ma, false)))
            goto fail;
        cu_detect_cfg rcfg;
        cu_detect_cfg_default(&rcfg);
        rcfg.rules_only = true;
        if (o->budget > 0)
            rcfg.budget = o->budget;
        runctx rr = {.e = &e, .alerts = &rules};
        int64_t a = INT64_MAX, b = INT64_MIN;
        metrics mr;
        if ((rc = run_events(&e, o->reference, o->events, &rcfg, &rr, &a, &b)) ||
            (rc = compute(&e, &rules, officers, days, &mr)) ||
            (rc = report(out, "\nbaseline: rules only (no baselines, templates, graph or bursts; same budget)", &e, &mr, true)))
            goto fail;
    }
fail:
    for (int k = 0; k < e.nkinds; k++)
        cu_free(e.kinds[k]);
    cu_free(e.in);
    cu_free(e.offs);
    cu_free(e.lab);
    cu_free(e.lab_inst);
    cu_free(main.v);
    cu_free(rules.v);
    cu_free(audit.v);
    cu_names_free(e.names);
    cu_ref_free(ref);
    cu_names_free(rn);
    return rc;
}

/* ------------------------------------------------- line API (fuzzing) */

struct cu_eval_lines {
    evalctx e;
    alist alerts;
};

cu_rc cu_eval_lines_new(cu_eval_lines **out)
{
    cu_eval_lines *c = cu_calloc(1, sizeof *c);
    if (!c)
        return CU_ERR_NOMEM;
    c->e.tmin = INT64_MAX;
    c->e.tmax = INT64_MIN;
    cu_rc rc = cu_names_new(&c->e.names);
    if (rc) {
        cu_free(c);
        return rc;
    }
    *out = c;
    return CU_OK;
}

cu_rc cu_eval_label_line(cu_eval_lines *c, const char *line, size_t len)
{
    if (len > LABEL_MAX_LINE)
        return cu_err_set(CU_ERR_RANGE, "label line longer than %u bytes", LABEL_MAX_LINE);
    return label_line(&c->e, line, len);
}

cu_rc cu_eval_alert_line(cu_eval_lines *c, const char *line, size_t len)
{
    if (len > CU_EVENT_MAX_LINE)
        return cu_err_set(CU_ERR_RANGE, "alert line longer than %d bytes", CU_EVENT_MAX_LINE);
    return alert_line(&c->e, line, len, &c->alerts);
}

size_t cu_eval_lines_counts(const cu_eval_lines *c, size_t *alerts)
{
    if (alerts)
        *alerts = c->alerts.n;
    return c->e.nin;
}

void cu_eval_lines_free(cu_eval_lines *c)
{
    if (!c)
        return;
    for (int k = 0; k < c->e.nkinds; k++)
        cu_free(c->e.kinds[k]);
    cu_free(c->e.in);
    cu_free(c->e.offs);
    cu_free(c->e.lab);
    cu_free(c->e.lab_inst);
    cu_free(c->alerts.v);
    cu_names_free(c->e.names);
    cu_free(c);
}
