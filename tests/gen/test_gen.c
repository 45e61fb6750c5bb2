/* Tests of the synthetic force generator: determinism, the interchange
 * format read back with jansson, referential integrity, time order and
 * employment, the distributions the model promises per role and shift, the
 * labels of every scenario, and argument errors. */
#include "harness.h"

#include "custos/gen.h"
#include "gen/gen_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ------------------------------------------------------------- helpers */

static int gen_into(const char *sub, uint32_t officers, uint32_t days, uint64_t seed, const char *scenarios,
                    cu_gen_stats *st)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", cu_test_tmpdir(), sub);
    cu_gen_config c;
    cu_gen_config_default(&c);
    c.officers = officers;
    c.days = days;
    c.seed = seed;
    c.scenarios = scenarios;
    c.out_dir = path;
    CHECK_OK(cu_date_parse("2024-03-01", 10, &c.start));
    cu_rc rc = cu_gen_run(&c, st);
    CHECK_MSG(rc == CU_OK, "cu_gen_run: %s: %s", cu_strerror(rc), cu_err_detail());
    return rc == CU_OK;
}

static char *slurp(const char *sub, const char *name, size_t *len)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/%s", cu_test_tmpdir(), sub, name);
    char *data = NULL;
    cu_rc rc = cu_file_read(path, (size_t)1 << 30, &data, len);
    CHECK_MSG(rc == CU_OK, "read %s: %s", path, cu_err_detail());
    return rc == CU_OK ? data : NULL;
}

static int64_t ts_of(json_t *v)
{
    int64_t t = -1;
    const char *s = json_string_value(v);
    if (!s || cu_time_parse(s, strlen(s), &t) != CU_OK)
        return -1;
    return t;
}

static int64_t date_of(json_t *v)
{
    int64_t t = -1;
    const char *s = json_string_value(v);
    if (!s || cu_date_parse(s, strlen(s), &t) != CU_OK)
        return -1;
    return t;
}

/* Every line of a file parsed; calls fn(obj, lineno, ctx); returns lines. */
typedef void (*line_fn)(json_t *o, uint64_t lineno, void *ctx);
static uint64_t each_line(const char *sub, const char *name, line_fn fn, void *ctx)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/%s", cu_test_tmpdir(), sub, name);
    cu_lines *lr = NULL;
    if (cu_lines_open(path, 1 << 20, &lr) != CU_OK) {
        CHECK_MSG(0, "open %s: %s", path, cu_err_detail());
        return 0;
    }
    const char *line;
    size_t len;
    uint64_t n = 0;
    cu_rc rc;
    while ((rc = cu_lines_next(lr, &line, &len)) == CU_OK) {
        json_error_t err;
        json_t *o = json_loadb(line, len, 0, &err);
        n++;
        CHECK_MSG(o && json_is_object(o), "%s:%llu: does not parse: %s", name, (unsigned long long)n, err.text);
        if (o) {
            fn(o, n, ctx);
            json_decref(o);
        }
    }
    CHECK_RC(rc, CU_ERR_NOTFOUND);
    cu_lines_close(lr);
    return n;
}

/* ------------------------------------------------------- the reference */

typedef struct ref {
    json_t *officers; /* id -> first officer line */
    json_t *updates;  /* id -> array of later officer lines (valid_from) */
    json_t *persons;  /* id -> true */
    json_t *records;  /* id -> record */
    json_t *cases;    /* id -> case */
    uint64_t assigns;
    int bad;
} ref;

static void ref_line(json_t *o, uint64_t ln, void *ctx)
{
    ref *r = ctx;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!kind) {
        CHECK_MSG(0, "reference:%llu: no kind", (unsigned long long)ln);
        return;
    }
    if (strcmp(kind, "officer") == 0) {
        CHECK(id && strlen(id) <= 64);
        json_t *vet = json_object_get(o, "vetting");
        CHECK(json_is_object(vet) && json_is_string(json_object_get(vet, "level")));
        CHECK(date_of(json_object_get(vet, "granted")) >= 0 && date_of(json_object_get(vet, "expires")) >= 0);
        CHECK(json_is_string(json_object_get(o, "role")) && json_is_string(json_object_get(o, "unit")));
        CHECK(json_is_array(json_object_get(o, "relations")));
        const char *sh = json_string_value(json_object_get(o, "shift"));
        CHECK(sh && (!strcmp(sh, "days") || !strcmp(sh, "earlies") || !strcmp(sh, "lates") || !strcmp(sh, "nights") ||
                     !strcmp(sh, "office")));
        if (json_object_get(o, "valid_from")) {
            json_t *arr = json_object_get(r->updates, id);
            if (!arr) {
                arr = json_array();
                json_object_set_new(r->updates, id, arr);
            }
            json_array_append(arr, o);
            CHECK_MSG(json_object_get(r->officers, id), "update of unknown officer %s", id);
        } else {
            CHECK_MSG(!json_object_get(r->officers, id), "officer %s twice", id);
            json_object_set(r->officers, id, o);
        }
    } else if (strcmp(kind, "person") == 0) {
        CHECK(json_is_array(json_object_get(o, "flags")));
        CHECK(json_is_string(json_object_get(o, "surname")));
        json_object_set_new(r->persons, id, json_true());
    } else if (strcmp(kind, "record") == 0) {
        json_t *s;
        size_t i;
        json_array_foreach(json_object_get(o, "subjects"), i, s)
            if (!json_object_get(r->persons, json_string_value(s)))
                r->bad++;
        json_object_set(r->records, id, o);
    } else if (strcmp(kind, "case") == 0) {
        CHECK_MSG(!json_object_get(r->cases, id), "case %s twice", id);
        CHECK(ts_of(json_object_get(o, "opened")) > 0);
        json_t *s;
        size_t i;
        json_array_foreach(json_object_get(o, "officers"), i, s)
            if (!json_object_get(r->officers, json_string_value(s)))
                r->bad++;
        json_array_foreach(json_object_get(o, "subjects"), i, s)
            if (!json_object_get(r->persons, json_string_value(s)))
                r->bad++;
        json_array_foreach(json_object_get(o, "records"), i, s)
            if (!json_object_get(r->records, json_string_value(s)))
                r->bad++;
        json_object_set(r->cases, id, o);
    } else if (strcmp(kind, "assign") == 0) {
        const char *cid = json_string_value(json_object_get(o, "case"));
        const char *op = json_string_value(json_object_get(o, "op"));
        CHECK_MSG(cid && json_object_get(r->cases, cid), "reference:%llu: assign to unknown case", (unsigned long long)ln);
        CHECK(json_object_get(r->officers, json_string_value(json_object_get(o, "officer"))));
        CHECK(op && (!strcmp(op, "add") || !strcmp(op, "remove")));
        r->assigns++;
    } else {
        CHECK_MSG(0, "reference:%llu: unknown kind %s", (unsigned long long)ln, kind);
    }
}

static void ref_load(ref *r, const char *sub)
{
    memset(r, 0, sizeof *r);
    r->officers = json_object();
    r->updates = json_object();
    r->persons = json_object();
    r->records = json_object();
    r->cases = json_object();
    each_line(sub, "reference.jsonl", ref_line, r);
    CHECK_INT(r->bad, 0);
}

static void ref_free(ref *r)
{
    json_decref(r->officers);
    json_decref(r->updates);
    json_decref(r->persons);
    json_decref(r->records);
    json_decref(r->cases);
}

static const char *officer_unit(ref *r, const char *id)
{
    const char *u = json_string_value(json_object_get(json_object_get(r->officers, id), "unit"));
    const char *dash = u ? strrchr(u, '-') : NULL;
    return dash ? dash + 1 : "";
}

/* ------------------------------------------------------------- events */

typedef struct evstat {
    ref *r;
    int64_t start, end;
    char last_ts[32];
    uint64_t n, with_case, bad_ref, bad_time, bad_case, bad_employ, bad_id;
    json_t *ids;        /* id -> officer id, for label checks */
    json_t *distinct;   /* officer -> object of subjects seen */
    json_t *search_res; /* officer -> total search results */
    uint64_t night_total, night_in; /* events of officers on nights */
    uint64_t prev_num;
    json_t *rel_nocase; /* id -> true: a look-up of the officer's declared relation, no case */
} evstat;

static void ev_line(json_t *o, uint64_t ln, void *ctx)
{
    evstat *s = ctx;
    s->n++;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *tss = json_string_value(json_object_get(o, "ts"));
    const char *off = json_string_value(json_object_get(o, "officer"));
    CHECK_MSG(kind && !strcmp(kind, "access"), "events:%llu: kind", (unsigned long long)ln);
    if (!id || !tss || !off) {
        CHECK_MSG(0, "events:%llu: missing id/ts/officer", (unsigned long long)ln);
        return;
    }
    /* ids: E + zero-padded counter, increasing by one */
    uint64_t num = strtoull(id + 1, NULL, 10);
    if (id[0] != 'E' || strlen(id) != 11 || num != s->prev_num + 1)
        s->bad_id++;
    s->prev_num = num;
    static const char *const fields[] = {"system", "action", "record", "subjects", "purpose", "case",
                                         "terminal", "area", "outcome", "results"};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
        CHECK_MSG(json_object_get(o, fields[k]), "events:%llu: no %s", (unsigned long long)ln, fields[k]);
    if (strcmp(tss, s->last_ts) < 0)
        s->bad_time++;
    snprintf(s->last_ts, sizeof s->last_ts, "%s", tss);
    int64_t t = ts_of(json_object_get(o, "ts"));
    if (t < s->start || t >= s->end)
        s->bad_time++;
    json_t *of = json_object_get(s->r->officers, off);
    if (!of) {
        s->bad_ref++;
        return;
    }
    int64_t st = date_of(json_object_get(of, "start"));
    json_t *endv = json_object_get(of, "end");
    int64_t en = json_is_null(endv) ? INT64_MAX : date_of(endv);
    if (t < st || t >= en)
        s->bad_employ++;
    const char *rec = json_string_value(json_object_get(o, "record"));
    if (rec && !json_object_get(s->r->records, rec))
        s->bad_ref++;
    json_t *subs = json_object_get(o, "subjects"), *p;
    size_t i;
    json_t *seen = json_object_get(s->distinct, off);
    if (!seen) {
        seen = json_object();
        json_object_set_new(s->distinct, off, seen);
    }
    const char *cs = json_string_value(json_object_get(o, "case"));
    json_t *rels = json_object_get(of, "relations");
    json_array_foreach(subs, i, p) {
        if (!json_object_get(s->r->persons, json_string_value(p)))
            s->bad_ref++;
        json_object_set_new(seen, json_string_value(p), json_true());
        /* the person looked up: a view's subjects, a search's first one */
        json_t *rel;
        size_t j;
        int targeted = !strcmp(json_string_value(json_object_get(o, "action")), "view") || i == 0;
        json_array_foreach(rels, j, rel)
            if (!cs && targeted && json_equal(json_object_get(rel, "person"), p))
                json_object_set_new(s->rel_nocase, id, json_true());
    }
    if (cs) {
        s->with_case++;
        json_t *c = json_object_get(s->r->cases, cs);
        if (!c) {
            s->bad_ref++;
        } else {
            int64_t op = ts_of(json_object_get(c, "opened"));
            json_t *cl = json_object_get(c, "closed");
            int64_t clt = json_is_null(cl) ? INT64_MAX : ts_of(cl);
            if (t < op || t >= clt)
                s->bad_case++;
        }
    }
    const char *action = json_string_value(json_object_get(o, "action"));
    if (action && !strcmp(action, "search")) {
        json_int_t prev = json_integer_value(json_object_get(s->search_res, off));
        json_object_set_new(s->search_res, off,
                            json_integer(prev + json_integer_value(json_object_get(o, "results"))));
    }
    const char *shift = json_string_value(json_object_get(of, "shift"));
    if (shift && !strcmp(shift, "nights") && !json_object_get(s->r->updates, off)) {
        int h = (tss[11] - '0') * 10 + (tss[12] - '0');
        s->night_total++;
        s->night_in += h >= 21 || h < 8;
    }
    json_object_set_new(s->ids, id, json_string(off));
}

static void ev_load(evstat *s, ref *r, const char *sub, int64_t start, uint32_t days)
{
    memset(s, 0, sizeof *s);
    s->r = r;
    s->start = start;
    s->end = start + (int64_t)days * 86400;
    s->ids = json_object();
    s->rel_nocase = json_object();
    s->distinct = json_object();
    s->search_res = json_object();
    each_line(sub, "events.jsonl", ev_line, s);
}

static void ev_free(evstat *s)
{
    json_decref(s->ids);
    json_decref(s->rel_nocase);
    json_decref(s->distinct);
    json_decref(s->search_res);
}

/* ------------------------------------------------------------- labels */

typedef struct labstat {
    ref *r;
    evstat *e;
    unsigned count[CU_GEN_SC_COUNT];
    unsigned benign;
    uint64_t bad;
} labstat;

static int in_array(json_t *arr, const char *s)
{
    json_t *v;
    size_t i;
    json_array_foreach(arr, i, v)
        if (json_string_value(v) && !strcmp(json_string_value(v), s))
            return 1;
    return 0;
}

static void lab_line(json_t *o, uint64_t ln, void *ctx)
{
    labstat *l = ctx;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    json_t *offs = json_object_get(o, "officers"), *evs = json_object_get(o, "events"), *v;
    size_t i;
    CHECK_MSG(json_is_array(offs) && json_is_array(evs), "labels:%llu: officers/events", (unsigned long long)ln);
    if (kind && !strcmp(kind, "benign")) {
        l->benign++;
        json_array_foreach(evs, i, v) /* legitimate-odd work, labelled as such */
            json_object_del(l->e->rel_nocase, json_string_value(v));
        json_array_foreach(evs, i, v)
            if (!json_object_get(l->e->ids, json_string_value(v)))
                l->bad++;
        return;
    }
    CHECK_MSG(kind && !strcmp(kind, "scenario"), "labels:%llu: kind", (unsigned long long)ln);
    const char *name = json_string_value(json_object_get(o, "scenario"));
    unsigned k;
    for (k = 0; k < CU_GEN_SC_COUNT; k++)
        if (name && !strcmp(name, cu_gen_scenario_name(k)))
            break;
    CHECK_MSG(k < CU_GEN_SC_COUNT, "labels:%llu: unknown scenario", (unsigned long long)ln);
    if (k == CU_GEN_SC_COUNT)
        return;
    l->count[k]++;
    json_array_foreach(evs, i, v)
        json_object_del(l->e->rel_nocase, json_string_value(v));
    CHECK_MSG(json_array_size(evs) > 0, "labels:%llu: %s has no events", (unsigned long long)ln, name);
    int64_t first = ts_of(json_object_get(o, "first_event")), last = ts_of(json_object_get(o, "last_event"));
    CHECK(first > 0 && first <= last);
    json_t *params = json_object_get(o, "params");
    CHECK(json_is_object(params));
    /* every labelled event exists and is by a labelled officer */
    json_array_foreach(evs, i, v) {
        const char *who = json_string_value(json_object_get(l->e->ids, json_string_value(v)));
        if (!who || !in_array(offs, who)) {
            l->bad++;
            continue;
        }
    }
    json_array_foreach(json_object_get(o, "subjects"), i, v)
        if (!json_object_get(l->r->persons, json_string_value(v)))
            l->bad++;
    json_t *ring = json_object_get(o, "ring");
    if (k == CU_GEN_SC_RING) {
        CHECK(json_is_true(ring));
        CHECK_MSG(json_array_size(offs) >= 2, "labels:%llu: ring of %zu officers", (unsigned long long)ln,
                  json_array_size(offs));
    } else {
        CHECK(json_is_false(ring));
    }
    if (k == CU_GEN_SC_BULK_EXPORT) {
        /* the officer leaves within the period; exports come before */
        json_t *of = json_object_get(l->r->officers, json_string_value(json_array_get(offs, 0)));
        CHECK(of && !json_is_null(json_object_get(of, "end")));
        CHECK(last < date_of(json_object_get(of, "end")));
    }
    if (k == CU_GEN_SC_TIPOFF) {
        int64_t raid = ts_of(json_object_get(params, "raid"));
        CHECK(last < raid);
        json_t *op = json_object_get(l->r->cases, json_string_value(json_object_get(params, "operation")));
        CHECK(op != NULL);
        if (op)
            CHECK(!in_array(json_object_get(op, "officers"), json_string_value(json_array_get(offs, 0))));
    }
    if (k == CU_GEN_SC_NEW_ACCESS) {
        const char *who = json_string_value(json_array_get(offs, 0));
        json_t *ups = json_object_get(l->r->updates, who);
        CHECK_MSG(json_array_size(ups) >= 1, "new-access officer %s has no later officer line", who);
        CHECK(!strcmp(json_string_value(json_object_get(json_array_get(ups, 0), "valid_from")),
                      json_string_value(json_object_get(params, "access_from"))));
        CHECK(first >= date_of(json_object_get(params, "access_from")));
    }
    if (k == CU_GEN_SC_COLLEAGUE_LOGIN)
        CHECK(json_array_size(offs) == 2);
}

/* ================================================================ tests */

TEST(gen_deterministic)
{
    CHECK(gen_into("a", 150, 5, 42, NULL, NULL));
    CHECK(gen_into("b", 150, 5, 42, NULL, NULL));
    CHECK(gen_into("c", 150, 5, 43, NULL, NULL));
    static const char *const files[] = {"reference.jsonl", "events.jsonl", "labels.jsonl"};
    for (int f = 0; f < 3; f++) {
        size_t la = 0, lb = 0, lc = 0;
        char *a = slurp("a", files[f], &la), *b = slurp("b", files[f], &lb), *c = slurp("c", files[f], &lc);
        CHECK(a && b && c);
        if (a && b)
            CHECK_MSG(la == lb && memcmp(a, b, la) == 0, "%s differs for the same seed", files[f]);
        if (a && c && f < 2)
            CHECK_MSG(la != lc || memcmp(a, c, la) != 0, "%s same for a different seed", files[f]);
        CHECK(la > 0);
        cu_free(a);
        cu_free(b);
        cu_free(c);
    }
}

TEST(gen_small_force_sane)
{
    cu_gen_stats st;
    const uint32_t days = 14;
    if (!gen_into("s", 400, days, 7, NULL, &st))
        return;
    int64_t start;
    CHECK_OK(cu_date_parse("2024-03-01", 10, &start));
    ref r;
    ref_load(&r, "s");
    CHECK_INT(json_object_size(r.officers), 400);
    CHECK(json_object_size(r.persons) >= 400 * 5);
    CHECK(r.assigns > 0);
    CHECK(json_object_size(r.updates) > 0); /* transfers, shift changes, new access */
    evstat e;
    ev_load(&e, &r, "s", start, days);
    CHECK_INT(e.n, st.events);
    CHECK(e.n > 400 * days);
    CHECK_INT(e.bad_id, 0);
    CHECK_INT(e.bad_time, 0);
    CHECK_INT(e.bad_ref, 0);
    CHECK_INT(e.bad_case, 0);
    CHECK_INT(e.bad_employ, 0);
    double case_share = (double)e.with_case / (double)e.n;
    CHECK_MSG(case_share > 0.5 && case_share < 0.9, "share of events with a case %.3f", case_share);
    /* night-shift officers work at night */
    CHECK(e.night_total > 100);
    CHECK_MSG(e.night_in > e.night_total * 9 / 10, "nights: %llu of %llu at night",
              (unsigned long long)e.night_in, (unsigned long long)e.night_total);
    /* analysts search in bulk; custody sees many people */
    double an = 0, pc = 0, cust = 0, cid = 0, resp = 0;
    int nan = 0, npc = 0, ncust = 0, ncid = 0, nresp = 0;
    const char *id;
    json_t *of;
    json_object_foreach(r.officers, id, of) {
        if (json_object_get(r.updates, id))
            continue;
        const char *role = json_string_value(json_object_get(of, "role"));
        json_int_t res = json_integer_value(json_object_get(e.search_res, id));
        json_t *seen = json_object_get(e.distinct, id);
        size_t ds = seen ? json_object_size(seen) : 0;
        if (!seen)
            continue;
        if (!strcmp(role, "analyst"))
            an += (double)res, nan++;
        if (!strcmp(role, "PC"))
            pc += (double)res, npc++;
        const char *u = officer_unit(&r, id);
        if (!strcmp(u, "CUST"))
            cust += (double)ds, ncust++;
        if (!strcmp(u, "CID"))
            cid += (double)ds, ncid++;
        if (!strcmp(u, "RESP"))
            resp += (double)ds, nresp++;
    }
    CHECK(nan > 0 && npc > 0 && ncust > 0 && ncid > 0 && nresp > 0);
    if (nan && npc)
        CHECK_MSG(an / nan > 5 * (pc / npc), "analyst search results %.0f vs PC %.0f", an / nan, pc / npc);
    if (ncust && ncid && nresp)
        CHECK_MSG(cust / ncust > 2 * (cid / ncid) && cust / ncust > resp / nresp,
                  "distinct people: custody %.1f, CID %.1f, response %.1f", cust / ncust, cid / ncid, resp / nresp);
    /* labels */
    labstat l = {.r = &r, .e = &e};
    each_line("s", "labels.jsonl", lab_line, &l);
    CHECK_INT(l.bad, 0);
    for (unsigned k = 0; k < CU_GEN_SC_COUNT; k++)
        CHECK_MSG(l.count[k] > 0, "scenario %s missing from labels", cu_gen_scenario_name(k));
    CHECK(l.benign > 0);
    /* a look-up of one's own declared relation with no case is misuse: the
     * generator's ordinary work never makes one, so every such event is labelled
     * (as misuse, or as legitimate-odd work such as an analyst's bulk search) */
    CHECK_MSG(json_object_size(e.rel_nocase) == 0, "%zu unlabelled case-less look-ups of a declared relation",
              json_object_size(e.rel_nocase));
    CHECK_INT(st.scenario_instances, 0 + l.count[0] + l.count[1] + l.count[2] + l.count[3] + l.count[4] +
                                         l.count[5] + l.count[6] + l.count[7] + l.count[8] + l.count[9] + l.count[10]);
    ev_free(&e);
    ref_free(&r);
}

TEST(gen_selected_scenarios_only)
{
    cu_gen_stats st;
    if (!gen_into("sel", 300, 30, 3, "ring:n=2:size=4:days=25,tip-off:n=2,colleague-login:rate=2", &st))
        return;
    int64_t start;
    CHECK_OK(cu_date_parse("2024-03-01", 10, &start));
    ref r;
    ref_load(&r, "sel");
    evstat e;
    ev_load(&e, &r, "sel", start, 30);
    labstat l = {.r = &r, .e = &e};
    each_line("sel", "labels.jsonl", lab_line, &l);
    CHECK_INT(l.bad, 0);
    CHECK_INT(l.count[CU_GEN_SC_RING], 2);
    CHECK_INT(l.count[CU_GEN_SC_TIPOFF], 2);
    CHECK(l.count[CU_GEN_SC_COLLEAGUE_LOGIN] >= 1);
    for (unsigned k = 0; k < CU_GEN_SC_COUNT; k++)
        if (k != CU_GEN_SC_RING && k != CU_GEN_SC_TIPOFF && k != CU_GEN_SC_COLLEAGUE_LOGIN)
            CHECK_INT(l.count[k], 0);
    ev_free(&e);
    ref_free(&r);
    /* no scenarios: labels hold only benign lines */
    CHECK(gen_into("none", 100, 3, 3, "none", &st));
    CHECK_INT(st.scenario_instances, 0);
    CHECK_INT(st.scenario_events, 0);
}

static cu_rc parse(const char *line)
{
    char buf[512], *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "gen %s", line);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && argc < 31; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    cu_gen_config c;
    cu_gen_config_default(&c);
    cu_rc rc = cu_gen_parse_args(argc, argv, &c);
    if (rc == CU_OK)
        rc = cu_gen_config_check(&c);
    return rc;
}

TEST(gen_argument_errors)
{
    CHECK_OK(parse("--officers 1 --days 1 --start 2024-01-01 --seed 0 --out x"));
    CHECK_OK(parse("--officers 200000 --days 3660 --out x --intensity 50"));
    CHECK_RC(parse("--officers 0 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--officers 200001 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--officers 12x --out x"), CU_ERR_INVAL);
    CHECK_RC(parse("--officers -5 --out x"), CU_ERR_INVAL);
    CHECK_RC(parse("--officers 99999999999999999999999 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--days 0 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--days 3661 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--start 2024-02-30 --out x"), CU_ERR_INVAL);
    CHECK_RC(parse("--start 2024-1-01 --out x"), CU_ERR_INVAL);
    CHECK_RC(parse("--start 1999-12-31 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--intensity 0 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--intensity nan --out x"), CU_ERR_INVAL);
    CHECK_RC(parse("--officers 10"), CU_ERR_INVAL); /* no --out */
    CHECK_RC(parse("--out"), CU_ERR_INVAL);
    CHECK_RC(parse("--bogus 1 --out x"), CU_ERR_INVAL);
    CHECK_RC(parse("--scenarios ring,nosuch --out x"), CU_ERR_INVAL);
    CHECK_RC(parse("--scenarios ring:size=9 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--scenarios ring:size=1 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--scenarios tip-off:size=3 --out x"), CU_ERR_INVAL);
    CHECK_RC(parse("--scenarios ring:days=0 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--scenarios ring:rate=-1 --out x"), CU_ERR_RANGE);
    CHECK_RC(parse("--scenarios ring,,tip-off --out x"), CU_ERR_INVAL);
    CHECK_RC(parse("--scenarios ring:n --out x"), CU_ERR_INVAL);
    CHECK_OK(parse("--scenarios ring:n=3:days=90:rate=0.5:size=3,trawling --out x"));
    /* the command reports errors with exit status 2 and names the argument */
    char *out = NULL;
    int st = cu_test_run(&out, "%s/custos gen --officers 0 --out %s/z 2>&1", cu_test_bindir(), cu_test_tmpdir());
    CHECK_INT(st, 2);
    CHECK(out && strstr(out, "--officers"));
    cu_free(out);
    st = cu_test_run(&out, "%s/custos gen --start 2024-13-01 --out %s/z 2>&1", cu_test_bindir(), cu_test_tmpdir());
    CHECK_INT(st, 2);
    CHECK(out && strstr(out, "--start"));
    cu_free(out);
    /* an --out that is a file */
    char path[600];
    snprintf(path, sizeof path, "%s/afile", cu_test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    cu_gen_config c;
    cu_gen_config_default(&c);
    c.out_dir = path;
    CHECK_RC(cu_gen_run(&c, NULL), CU_ERR_EXISTS);
}

TEST(gen_cli_writes_three_files)
{
    char *out = NULL;
    int st = cu_test_run(&out, "%s/custos gen --officers 60 --days 2 --start 2024-06-01 --seed 9 --out %s/cli 2>&1",
                         cu_test_bindir(), cu_test_tmpdir());
    CHECK_INT(st, 0);
    CHECK(out && strstr(out, "events"));
    cu_free(out);
    static const char *const files[] = {"reference.jsonl", "events.jsonl", "labels.jsonl"};
    for (int k = 0; k < 3; k++) {
        char p[700];
        struct stat sb;
        snprintf(p, sizeof p, "%s/cli/%s", cu_test_tmpdir(), files[k]);
        CHECK_MSG(stat(p, &sb) == 0 && (k == 2 || sb.st_size > 0), "%s missing", files[k]);
    }
}

/* The writer's escaping, read back by jansson. */
TEST(gen_writer_escapes_strings)
{
    g_out o;
    CHECK_OK(g_out_open(&o, cu_test_tmpdir(), "esc.jsonl"));
    static const char *const in[] = {"plain", "O'Brien", "\"Big\" Tony", "back\\slash", "tab\there",
                                     "new\nline", "\x01\x1f ctl", "Zoë Łukasz Yıldız", ""};
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
        g_lit(&o, "{\"s\":");
        g_str(&o, in[k]);
        g_lit(&o, ",\"t\":");
        g_ts(&o, 1709647653 + (int64_t)k * 86400 * 400);
        g_lit(&o, ",\"n\":");
        g_u(&o, k);
        g_lit(&o, ",\"p\":\"");
        g_u0(&o, k, 6);
        g_lit(&o, "\"}\n");
    }
    CHECK_OK(g_out_close(&o));
    size_t len;
    char *data = slurp(".", "esc.jsonl", &len);
    if (!data)
        return;
    char *line = data;
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
        char *nl = strchr(line, '\n');
        CHECK(nl != NULL);
        if (!nl)
            break;
        json_error_t err;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &err);
        CHECK_MSG(j != NULL, "line %zu: %s", k, err.text);
        if (j) {
            CHECK_STR(json_string_value(json_object_get(j, "s")), in[k]);
            char want[21];
            cu_time_format(1709647653 + (int64_t)k * 86400 * 400, want);
            CHECK_STR(json_string_value(json_object_get(j, "t")), want);
            CHECK_INT(json_integer_value(json_object_get(j, "n")), k);
            char pad[8];
            snprintf(pad, sizeof pad, "%06zu", k);
            CHECK_STR(json_string_value(json_object_get(j, "p")), pad);
            json_decref(j);
        }
        line = nl + 1;
    }
    cu_free(data);
}

/* Every allocation failure ends in CU_ERR_NOMEM (or a clean write error),
 * never a crash or a leak (ASan checks the leaks). */
TEST(gen_allocation_failures)
{
    char path[600];
    snprintf(path, sizeof path, "%s/nomem", cu_test_tmpdir());
    cu_gen_config c;
    cu_gen_config_default(&c);
    c.officers = 60;
    c.days = 3;
    c.out_dir = path;
    uint64_t before = cu_alloc_count();
    CHECK_OK(cu_gen_run(&c, NULL));
    uint64_t total = cu_alloc_count() - before;
    CHECK(total > 10);
    uint64_t stride = total / 150 + 1;
    for (uint64_t n = 1; n <= total + 1; n += stride) {
        for (int sticky = 0; sticky < 2; sticky++) {
            cu_alloc_fail_at(n, sticky);
            cu_rc rc = cu_gen_run(&c, NULL);
            cu_alloc_fail_at(0, false);
            CHECK_MSG(rc == CU_OK || rc == CU_ERR_NOMEM, "allocation %llu (sticky %d) gave %s",
                      (unsigned long long)n, sticky, cu_strerror(rc));
        }
    }
}
