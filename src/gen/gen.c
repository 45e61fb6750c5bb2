/*
 * gen: configuration, argument parsing, the run (build the force, plan the
 * scenarios, write the static reference, run the days, write the labels)
 * and the labels file.
 *
 * Every limit is checked before anything is written: officers 1..200000,
 * days 1..3660, a start date from 2000-01-01 to 2100-12-31, intensity in
 * (0, 50], scenario names from the catalogue with bounded parameters.
 */
#include "gen/gen_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

const char *cu_gen_scenario_name(unsigned sc) { return g_scen_name(sc); }

void cu_gen_config_default(cu_gen_config *c)
{
    memset(c, 0, sizeof *c);
    c->officers = 100;
    c->days = 7;
    c->start = cu_days_from_civil(2024, 1, 1) * 86400;
    c->seed = 1;
    c->intensity = 1.0;
}

/* ============================================================ arguments */

static cu_rc parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return cu_err_set(CU_ERR_INVAL, "%s needs a value", opt);
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return cu_err_set(CU_ERR_INVAL, "%s: \"%.40s\" is not a whole number", opt, s);
        if (v > (UINT64_MAX - 9) / 10)
            return cu_err_set(CU_ERR_RANGE, "%s: \"%.40s\" is too large", opt, s);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > max)
        return cu_err_set(CU_ERR_RANGE, "%s: %llu is over the limit of %llu", opt, (unsigned long long)v,
                          (unsigned long long)max);
    *out = v;
    return CU_OK;
}

static cu_rc parse_double(const char *opt, const char *s, double *out)
{
    if (!s || !*s)
        return cu_err_set(CU_ERR_INVAL, "%s needs a value", opt);
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || *end || v != v)
        return cu_err_set(CU_ERR_INVAL, "%s: \"%.40s\" is not a number", opt, s);
    *out = v;
    return CU_OK;
}

cu_rc cu_gen_parse_args(int argc, char **argv, cu_gen_config *c)
{
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u = 0;
        cu_rc rc;
        if (strcmp(a, "--officers") == 0) {
            if ((rc = parse_u64(a, v, UINT32_MAX, &u)))
                return rc;
            c->officers = (uint32_t)u;
        } else if (strcmp(a, "--days") == 0) {
            if ((rc = parse_u64(a, v, UINT32_MAX, &u)))
                return rc;
            c->days = (uint32_t)u;
        } else if (strcmp(a, "--seed") == 0) {
            if ((rc = parse_u64(a, v, UINT64_MAX, &u)))
                return rc;
            c->seed = u;
        } else if (strcmp(a, "--start") == 0) {
            if (!v)
                return cu_err_set(CU_ERR_INVAL, "--start needs a date (YYYY-MM-DD)");
            if (cu_date_parse(v, strlen(v), &c->start) != CU_OK)
                return cu_err_set(CU_ERR_INVAL, "--start: bad date \"%.40s\" (want YYYY-MM-DD)", v);
        } else if (strcmp(a, "--intensity") == 0) {
            if ((rc = parse_double(a, v, &c->intensity)))
                return rc;
        } else if (strcmp(a, "--scenarios") == 0) {
            if (!v)
                return cu_err_set(CU_ERR_INVAL, "--scenarios needs a list");
            c->scenarios = v;
        } else if (strcmp(a, "--out") == 0) {
            if (!v || !*v)
                return cu_err_set(CU_ERR_INVAL, "--out needs a directory");
            c->out_dir = v;
        } else {
            return cu_err_set(CU_ERR_INVAL, "unknown argument \"%.60s\"", a);
        }
    }
    return CU_OK;
}

/* Parse the scenario list into per-scenario settings. */
static cu_rc parse_scenarios(const char *list, g_scset *sc)
{
    for (unsigned k = 0; k < CU_GEN_SC_COUNT; k++)
        sc[k] = (g_scset){.on = 0, .n = -1, .days = -1, .rate = 1.0, .size = 0};
    if (!list || strcmp(list, "all") == 0) {
        for (unsigned k = 0; k < CU_GEN_SC_COUNT; k++)
            sc[k].on = 1;
        return CU_OK;
    }
    if (strcmp(list, "none") == 0)
        return CU_OK;
    if (strlen(list) > 4096)
        return cu_err_set(CU_ERR_TOOBIG, "--scenarios: list longer than 4096 bytes");
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0)
            return cu_err_set(CU_ERR_INVAL, "--scenarios: empty entry in \"%.60s\"", list);
        char item[256];
        if (len >= sizeof item)
            return cu_err_set(CU_ERR_TOOBIG, "--scenarios: entry too long");
        memcpy(item, p, len);
        item[len] = 0;
        char *save = NULL;
        char *name = strtok_r(item, ":", &save);
        unsigned k;
        for (k = 0; k < CU_GEN_SC_COUNT; k++)
            if (name && strcmp(name, g_scen_name(k)) == 0)
                break;
        if (k == CU_GEN_SC_COUNT)
            return cu_err_set(CU_ERR_INVAL, "--scenarios: unknown scenario \"%.60s\"", name ? name : "");
        sc[k].on = 1;
        for (char *kv = strtok_r(NULL, ":", &save); kv; kv = strtok_r(NULL, ":", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq)
                return cu_err_set(CU_ERR_INVAL, "--scenarios: \"%.60s\" is not key=value", kv);
            *eq = 0;
            const char *val = eq + 1;
            uint64_t u;
            cu_rc rc;
            if (strcmp(kv, "n") == 0) {
                if ((rc = parse_u64("--scenarios n", val, 5000, &u)))
                    return rc;
                sc[k].n = (int)u;
            } else if (strcmp(kv, "days") == 0) {
                if ((rc = parse_u64("--scenarios days", val, CU_GEN_MAX_DAYS, &u)))
                    return rc;
                if (u == 0)
                    return cu_err_set(CU_ERR_RANGE, "--scenarios days: must be at least 1");
                sc[k].days = (int)u;
            } else if (strcmp(kv, "rate") == 0) {
                if ((rc = parse_double("--scenarios rate", val, &sc[k].rate)))
                    return rc;
                if (!(sc[k].rate > 0 && sc[k].rate <= CU_GEN_MAX_INTENSITY))
                    return cu_err_set(CU_ERR_RANGE, "--scenarios rate: must be in (0, 50]");
            } else if (strcmp(kv, "size") == 0 && k == CU_GEN_SC_RING) {
                if ((rc = parse_u64("--scenarios size", val, 5, &u)))
                    return rc;
                if (u < 2)
                    return cu_err_set(CU_ERR_RANGE, "--scenarios size: a ring has 2 to 5 officers");
                sc[k].size = (int)u;
            } else {
                return cu_err_set(CU_ERR_INVAL, "--scenarios: unknown parameter \"%.40s\" for %s", kv,
                                  g_scen_name(k));
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return CU_OK;
}

cu_rc cu_gen_config_check(const cu_gen_config *c)
{
    if (c->officers < 1 || c->officers > CU_GEN_MAX_OFFICERS)
        return cu_err_set(CU_ERR_RANGE, "--officers must be 1..%u (got %u)", CU_GEN_MAX_OFFICERS, c->officers);
    if (c->days < 1 || c->days > CU_GEN_MAX_DAYS)
        return cu_err_set(CU_ERR_RANGE, "--days must be 1..%u (got %u)", CU_GEN_MAX_DAYS, c->days);
    int64_t lo = cu_days_from_civil(2000, 1, 1) * 86400, hi = cu_days_from_civil(2100, 12, 31) * 86400;
    if (c->start < lo || c->start > hi || c->start % 86400 != 0)
        return cu_err_set(CU_ERR_RANGE, "--start must be a date from 2000-01-01 to 2100-12-31");
    if (!(c->intensity > 0 && c->intensity <= CU_GEN_MAX_INTENSITY))
        return cu_err_set(CU_ERR_RANGE, "--intensity must be in (0, %g]", CU_GEN_MAX_INTENSITY);
    if (!c->out_dir || !*c->out_dir)
        return cu_err_set(CU_ERR_INVAL, "--out DIR is required");
    g_scset sc[CU_GEN_SC_COUNT];
    return parse_scenarios(c->scenarios, sc);
}

/* ================================================================ labels */

static void write_ids(g_out *o, const g_idlist *l)
{
    g_ch(o, '[');
    for (size_t k = 0; k < l->n; k++) {
        if (k)
            g_ch(o, ',');
        g_event_id(o, l->v[k]);
    }
    g_ch(o, ']');
}

static void write_labels(g_ctx *c)
{
    g_out *o = &c->lab;
    unsigned id = 0;
    for (size_t i = 0; i < c->nscen; i++) {
        g_scen *sc = &c->scen[i];
        if (!sc->ev.n) {
            c->st->skipped[sc->kind]++;
            continue;
        }
        c->st->scenario_instances++;
        g_lit(o, "{\"kind\":\"scenario\",\"id\":\"S");
        g_u0(o, ++id, 4);
        g_lit(o, "\",\"scenario\":");
        g_str(o, g_scen_name(sc->kind));
        g_lit(o, ",\"officers\":[");
        int first = 1;
        for (uint32_t k = 0; k < sc->nof; k++)
            if (sc->used[k] || sc->kind == CU_GEN_SC_COLLEAGUE_LOGIN) {
                if (!first)
                    g_ch(o, ',');
                first = 0;
                g_officer_id(o, sc->officers[k]);
            }
        g_lit(o, "],\"subjects\":[");
        for (uint32_t k = 0; k < sc->nsubj; k++) {
            if (k)
                g_ch(o, ',');
            g_person_id(o, sc->subjects[k]);
        }
        g_lit(o, "],\"events\":");
        write_ids(o, &sc->ev);
        g_lit(o, ",\"first_event\":");
        g_ts(o, sc->first);
        g_lit(o, ",\"last_event\":");
        g_ts(o, sc->last);
        g_puts(o, sc->ring ? ",\"ring\":true" : ",\"ring\":false");
        g_lit(o, ",\"params\":{\"rate\":");
        g_fixed(o, sc->rate);
        for (unsigned k = 0; k < sc->nparams; k++) {
            g_ch(o, ',');
            g_str(o, sc->pkey[k]);
            g_ch(o, ':');
            if (sc->psval[k])
                g_str(o, sc->psval[k]);
            else if (sc->ptime[k] == 1)
                g_ts(o, sc->pval[k]);
            else if (sc->ptime[k] == 2)
                g_date(o, sc->pval[k]);
            else
                g_i(o, sc->pval[k]);
        }
        if (sc->kind == CU_GEN_SC_COLLEAGUE_LOGIN) {
            g_lit(o, ",\"account\":");
            g_officer_id(o, sc->officers[0]);
            g_lit(o, ",\"user\":");
            g_officer_id(o, sc->other);
        }
        if (sc->case_slot != G_NONE && sc->kind == CU_GEN_SC_TIPOFF) {
            const g_case *cs = &c->cases[sc->case_slot];
            g_lit(o, ",\"operation\":");
            g_case_id(o, cs->year, cs->seq);
        }
        g_lit(o, "}}\n");
    }
    unsigned bid = 0;
    for (size_t i = 0; i < c->nben; i++) {
        g_benign *b = &c->ben[i];
        if (!b->ev.total)
            continue;
        c->st->benign_lines++;
        g_lit(o, "{\"kind\":\"benign\",\"id\":\"B");
        g_u0(o, ++bid, 4);
        g_lit(o, "\",\"activity\":");
        g_str(o, b->activity);
        g_lit(o, ",\"officers\":[");
        for (uint32_t k = 0; k < b->nof; k++) {
            if (k)
                g_ch(o, ',');
            g_officer_id(o, b->officers[k]);
        }
        g_lit(o, "],\"subjects\":[");
        for (uint32_t k = 0; k < b->nsubj; k++) {
            if (k)
                g_ch(o, ',');
            g_person_id(o, b->subjects[k]);
        }
        g_lit(o, "],\"case\":");
        if (b->case_seq)
            g_case_id(o, b->case_year, b->case_seq);
        else
            g_lit(o, "null");
        g_lit(o, ",\"events\":");
        write_ids(o, &b->ev);
        g_lit(o, ",\"events_total\":");
        g_u(o, b->ev.total);
        g_lit(o, ",\"first_event\":");
        g_ts(o, b->first);
        g_lit(o, ",\"last_event\":");
        g_ts(o, b->last);
        g_lit(o, "}\n");
    }
}

/* ================================================================== run */

static void ctx_free(g_ctx *c)
{
    if (c->cases)
        for (uint32_t s = 0; s < c->ncases; s++) {
            cu_free(c->cases[s].officers);
            cu_free(c->cases[s].subjects);
            cu_free(c->cases[s].records);
        }
    cu_free(c->cases);
    cu_free(c->free_slots);
    for (int a = 0; a <= G_MAX_AREAS; a++)
        cu_free(c->area_live[a]);
    for (int b = 0; b < 8; b++)
        cu_free(c->flagged[b]);
    if (c->scen)
        for (size_t i = 0; i < c->nscen; i++) {
            cu_free(c->scen[i].acts);
            cu_free(c->scen[i].ev.v);
        }
    cu_free(c->scen);
    if (c->ben)
        for (size_t i = 0; i < c->nben; i++)
            cu_free(c->ben[i].ev.v);
    cu_free(c->ben);
    cu_free(c->off);
    cu_free(c->unit_area_off);
    cu_free(c->per);
    cu_free(c->area_per_off);
    cu_free(c->area_per);
    cu_free(c->callers);
    cu_free(c->rec);
    cu_free(c->rsubj);
    cu_free(c->per_rec_off);
    cu_free(c->per_rec);
    cu_free(c->da_victims);
    cu_free(c->ct_subjects);
    cu_free(c->community);
    cu_free(c->test_persons);
    cu_free(c->chg);
    cu_free(c->ev);
    cu_free(c->ev2);
    cu_free(c->sub);
    cu_free(c->sub2);
    cu_free(c->sortkey);
    cu_free(c->sortkey2);
    cu_free(c->off_benign);
}

static cu_rc make_dir(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return cu_err_set(CU_ERR_EXISTS, "%s exists and is not a directory", dir);
        return CU_OK;
    }
    if (mkdir(dir, 0755) != 0) {
        int e = errno;
        return cu_err_set(cu_rc_from_errno(e), "cannot create directory %s: %s", dir, strerror(e));
    }
    return CU_OK;
}

cu_rc cu_gen_run(const cu_gen_config *cfg, cu_gen_stats *stats)
{
    cu_gen_stats local;
    cu_rc rc = cu_gen_config_check(cfg);
    if (rc)
        return rc;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    g_ctx *c = cu_calloc(1, sizeof *c);
    if (!c)
        return cu_err_set(CU_ERR_NOMEM, "out of memory");
    c->cfg = cfg;
    c->st = stats;
    c->day0 = (int32_t)(cfg->start / 86400);
    c->ndays = (int32_t)cfg->days;
    c->nareas = (cfg->officers + 199) / 200;
    if (c->nareas < 2)
        c->nareas = 2;
    if (c->nareas > G_MAX_AREAS)
        c->nareas = G_MAX_AREAS;
    if ((rc = parse_scenarios(cfg->scenarios, c->sc)))
        goto fail;
    g_seed(&c->rng, cfg->seed, 1);
    if ((rc = make_dir(cfg->out_dir)))
        goto fail;
    if ((rc = g_out_open(&c->ref, cfg->out_dir, "reference.jsonl")) ||
        (rc = g_out_open(&c->evs, cfg->out_dir, "events.jsonl")) ||
        (rc = g_out_open(&c->lab, cfg->out_dir, "labels.jsonl")))
        goto fail;
    if ((rc = g_build_force(c)))
        goto fail;
    if ((rc = g_scen_setup(c)))
        goto fail;
    if ((rc = g_write_static(c)))
        goto fail;
    for (size_t i = 0; i < c->nben; i++)
        if (c->ben[i].case_slot != G_NONE) {
            c->ben[i].case_year = c->cases[c->ben[i].case_slot].year;
            c->ben[i].case_seq = c->cases[c->ben[i].case_slot].seq;
        }
    if ((rc = g_run_days(c)))
        goto fail;
    write_labels(c);
    if (c->err) {
        rc = cu_err_set(c->err, "out of memory writing labels");
        goto fail;
    }
    stats->bytes_reference = c->ref.total;
    stats->bytes_events = c->evs.total;
    stats->bytes_labels = c->lab.total;
    if ((rc = g_out_close(&c->ref)) || (rc = g_out_close(&c->evs)) || (rc = g_out_close(&c->lab)))
        goto fail;
    ctx_free(c);
    cu_free(c);
    return CU_OK;
fail:
    g_out_discard(&c->ref);
    g_out_discard(&c->evs);
    g_out_discard(&c->lab);
    ctx_free(c);
    cu_free(c);
    return rc;
}
