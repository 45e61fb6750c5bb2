/*
 * gen work: the day engine.  For every day it applies planned officer
 * changes, closes cases, lets every officer on duty work a shift (login,
 * tasks explained by their cases, incidents, custody, bulk searches,
 * licensing checks, a little unexplained noise, logout), lets the scenarios
 * add their events, then sorts the day's events and streams them out.
 *
 * Invariants:
 *   - Iteration d creates events only in [d*86400, (d+2)*86400); g_emit
 *     checks it (CU_ERR_INTERNAL otherwise).  After iteration d every event
 *     before (d+1)*86400 is written; later ones (night shifts) are carried.
 *   - Events are ordered by (ts, generation order), so output is a pure
 *     function of the configuration.  Sorting is an LSD radix sort of
 *     (ts - base) << 32 | index keys: no comparisons, no allocation per event.
 *   - Cases opened during the period (incidents, new investigations) and
 *     assignment changes are appended to reference.jsonl as they happen; the
 *     reference file is therefore the static part followed by a part in day
 *     order.
 */
#include "gen/gen_int.h"

#include <stdlib.h>

#define G_BENIGN_CAP 2000 /* event ids listed on a benign line */

/* ============================================================== emitting */

static g_ev g_sink; /* target of writes after an error, never output */

g_ev *g_emit(g_ctx *c, int64_t ts, uint32_t oi, uint8_t action, uint8_t system, uint8_t purpose)
{
    if (ts < c->day_base || ts >= c->day_base + 2 * 86400) {
        if (!c->err)
            c->err = cu_err_set(CU_ERR_INTERNAL, "event outside its day window (%lld)", (long long)ts);
        return &g_sink;
    }
    if (cu_grow(&c->ev, &c->capev, c->nev + 1, sizeof(g_ev), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return &g_sink;
    }
    g_ev *e = &c->ev[c->nev++];
    const g_officer *o = &c->off[oi];
    e->ts = ts;
    e->seq = c->ev_seq++;
    e->officer = oi;
    e->record = G_NONE;
    e->case_seq = 0;
    e->case_year = 0;
    e->results = 0;
    e->subj_off = (uint32_t)c->nsub;
    e->nsubj = 0;
    e->label = c->cur_label;
    e->benign = c->cur_benign;
    e->terminal = o->terminal;
    e->area = o->st.area;
    e->action = action;
    e->system = system;
    e->purpose = purpose;
    e->outcome = 0;
    return e;
}

void g_emit_subject(g_ctx *c, g_ev *e, uint32_t p)
{
    if (e == &g_sink)
        return;
    if (cu_grow(&c->sub, &c->capsub, c->nsub + 1, sizeof(uint32_t), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return;
    }
    c->sub[c->nsub++] = p;
    e->nsubj++;
}

/* Link the event to cs when the case is open at the event's time (a task can
 * run past a closure: the later steps are then not case-linked). */
void g_ev_case(g_ev *e, const g_case *cs)
{
    if (cs && cs->seq && cs->opened <= e->ts && e->ts < cs->closed) {
        e->case_year = cs->year;
        e->case_seq = cs->seq;
    }
}

/* Events appear at another officer's desk (colleague-login) or borough. */
void g_ev_at(g_ctx *c, g_ev *e, uint32_t other)
{
    e->area = c->off[other].st.area;
    e->terminal = c->off[other].terminal;
}

int g_case_usable(const g_case *cs, int64_t ts)
{
    return cs && cs->live && cs->seq && cs->opened <= ts && ts < cs->closed;
}

static int allowed(const g_ctx *c, uint32_t oi, const g_record *r)
{
    const g_ostate *st = &c->off[oi].st;
    int rank = g_vet_rank(st->vet);
    if (r->cls == CL_SECRET && rank < V_NPPV3)
        return 0;
    if (r->cls == CL_TS && rank < V_ESC)
        return 0;
    if ((r->caveats & CV_CT) && st->unit != U_CT && rank < V_SC)
        return 0;
    if ((r->caveats & CV_INFORMANT) && st->unit != U_INT && st->unit != U_CT && st->unit != U_MIT)
        return 0;
    return 1;
}

g_ev *g_emit_view(g_ctx *c, int64_t ts, uint32_t oi, uint32_t ri, uint8_t action, uint8_t purpose,
                  const g_case *cs)
{
    const g_record *r = &c->rec[ri];
    g_ev *e = g_emit(c, ts, oi, action, r->system, purpose);
    e->record = ri;
    e->results = 1;
    e->outcome = allowed(c, oi, r) ? 0 : 1;
    g_ev_case(e, cs);
    for (unsigned k = 0; k < r->nsubj; k++)
        g_emit_subject(c, e, c->rsubj[r->subj_off + k]);
    return e;
}

/* A name search that finds p and perhaps a namesake or two. */
g_ev *g_emit_search(g_ctx *c, int64_t ts, uint32_t oi, uint8_t system, uint32_t p, uint8_t purpose,
                    const g_case *cs)
{
    g_rng *r = &c->drng;
    g_ev *e = g_emit(c, ts, oi, A_SEARCH, system, purpose);
    g_ev_case(e, cs);
    g_emit_subject(c, e, p);
    unsigned extra = g_below(r, 4) == 0 ? g_range(r, 1, 2) : 0;
    for (unsigned k = 0; k < extra; k++) {
        uint32_t q = g_random_person(c, r, c->per[p].area);
        if (q != G_NONE && q != p)
            g_emit_subject(c, e, q);
    }
    e->results = e->nsubj;
    return e;
}

void g_idlist_add(g_ctx *c, g_idlist *l, uint64_t id, size_t cap)
{
    l->total++;
    if (cap && l->n >= cap)
        return;
    if (cu_grow(&l->v, &l->cap, l->n + 1, sizeof(uint64_t), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return;
    }
    l->v[l->n++] = id;
}

uint32_t g_benign_new(g_ctx *c, const char *activity)
{
    if (cu_grow(&c->ben, &c->capben, c->nben + 1, sizeof(g_benign), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return G_NONE;
    }
    g_benign *b = &c->ben[c->nben];
    memset(b, 0, sizeof *b);
    b->activity = activity;
    b->case_slot = G_NONE;
    b->first = G_NEVER;
    b->last = INT64_MIN;
    return (uint32_t)c->nben++;
}

/* The officer's benign line for their kind of odd-but-legitimate work. */
static uint32_t officer_benign(g_ctx *c, uint32_t oi, const char *activity)
{
    if (!c->off_benign[oi]) {
        uint32_t b = g_benign_new(c, activity);
        if (b == G_NONE)
            return 0;
        c->ben[b].officers[c->ben[b].nof++] = oi;
        c->off_benign[oi] = b + 1;
    }
    return c->off_benign[oi];
}

/* One of the officer's own live cases that is usable at ts, or G_NONE. */
uint32_t g_unrelated_case(g_ctx *c, g_rng *r, uint32_t oi, int64_t ts)
{
    const g_officer *o = &c->off[oi];
    if (!o->ncases)
        return G_NONE;
    uint32_t k0 = g_below(r, o->ncases);
    for (unsigned k = 0; k < o->ncases; k++) {
        uint32_t s = o->cases[(k0 + k) % o->ncases];
        if (g_case_usable(&c->cases[s], ts))
            return s;
    }
    return G_NONE;
}

/* ================================================================ cases */

static void area_live_add(g_ctx *c, uint32_t slot)
{
    g_case *cs = &c->cases[slot];
    uint8_t a = cs->area;
    size_t cap = c->caparea_live[a];
    if (cu_grow(&c->area_live[a], &cap, (size_t)c->narea_live[a] + 1, sizeof(uint32_t), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return;
    }
    c->caparea_live[a] = (uint32_t)cap;
    cs->area_pos = c->narea_live[a];
    c->area_live[a][c->narea_live[a]++] = slot;
}

static void case_close(g_ctx *c, uint32_t slot)
{
    g_case *cs = &c->cases[slot];
    for (size_t k = 0; k < cs->nof; k++) {
        g_officer *o = &c->off[cs->officers[k]];
        for (unsigned j = 0; j < o->ncases; j++)
            if (o->cases[j] == slot) {
                o->cases[j] = o->cases[--o->ncases];
                break;
            }
    }
    if (cs->area_pos != G_NONE) {
        uint8_t a = cs->area;
        uint32_t last = c->area_live[a][--c->narea_live[a]];
        c->area_live[a][cs->area_pos] = last;
        c->cases[last].area_pos = cs->area_pos;
    }
    cu_free(cs->officers);
    cu_free(cs->subjects);
    cu_free(cs->records);
    memset(cs, 0, sizeof *cs);
    if (cu_grow(&c->free_slots, &c->capfree, (size_t)c->nfree + 1, sizeof(uint32_t), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return;
    }
    c->free_slots[c->nfree++] = slot;
}

static void write_assign(g_ctx *c, int64_t ts, const g_case *cs, uint32_t oi, int add)
{
    g_out *o = &c->ref;
    g_lit(o, "{\"kind\":\"assign\",\"ts\":");
    g_ts(o, ts);
    g_lit(o, ",\"case\":");
    g_case_id(o, cs->year, cs->seq);
    g_lit(o, ",\"officer\":");
    g_officer_id(o, oi);
    g_puts(o, add ? ",\"op\":\"add\"}\n" : ",\"op\":\"remove\"}\n");
    c->st->assigns++;
}

/* A new case opened by oi during the shift (written to the reference now). */
static uint32_t open_case(g_ctx *c, uint32_t oi, int64_t ts, int64_t day_start)
{
    g_rng *r = &c->drng;
    g_officer *o = &c->off[oi];
    uint8_t type = CT_INVESTIGATION;
    int mind = 15, maxd = 120;
    switch (o->st.unit) {
    case U_PPU: type = CT_SAFEGUARDING; mind = 30; maxd = 180; break;
    case U_INT: type = CT_OPERATION; mind = 60; maxd = 300; break;
    case U_CT: type = CT_CTOP; mind = 90; maxd = 400; break;
    case U_MIT: type = CT_MAJOR; mind = 60; maxd = 300; break;
    default: break;
    }
    uint8_t area = o->st.area == G_HQ_AREA ? (uint8_t)g_below(r, c->nareas) : o->st.area;
    int64_t opened = ts - (int64_t)g_below(r, 3600);
    if (opened < day_start)
        opened = day_start;
    int64_t closed = opened + (int64_t)g_range(r, (uint32_t)mind, (uint32_t)maxd) * 86400;
    if (closed >= (int64_t)(c->day0 + c->ndays) * 86400)
        closed = G_NEVER;
    uint32_t slot = g_case_new(c, type, area, opened, closed);
    if (slot == G_NONE)
        return G_NONE;
    g_case_add_officer(c, slot, oi);
    unsigned nsub = type == CT_OPERATION ? g_range(r, 4, 8) : g_range(r, 1, 4);
    if (type == CT_SAFEGUARDING && c->nda) {
        uint32_t v = c->da_victims[g_below(r, c->nda)];
        g_case_link_person(c, slot, v, 3);
    } else if (type == CT_CTOP && c->nct) {
        for (unsigned k = 0; k < nsub; k++)
            g_case_link_person(c, slot, c->ct_subjects[g_below(r, c->nct)], 3);
    } else {
        for (unsigned k = 0; k < nsub; k++) {
            uint32_t p = g_random_person(c, r, area);
            if (p != G_NONE)
                g_case_link_person(c, slot, p, 2);
        }
    }
    if (type == CT_OPERATION || type == CT_CTOP)
        c->cases[slot].name = (uint16_t)(1 + g_below(r, g_nop_words));
    area_live_add(c, slot);
    g_write_case(c, &c->cases[slot]);
    c->st->cases++;
    return slot;
}

/* ================================================================ tasks */

static uint8_t unit_purpose(uint8_t unit)
{
    switch (unit) {
    case U_INT:
    case U_CT: return P_INTELLIGENCE;
    case U_CUST: return P_CUSTODY;
    default: return P_INVESTIGATION;
    }
}

static int64_t step(g_rng *r, int64_t ts, int64_t end, uint32_t lo, uint32_t hi)
{
    ts += g_range(r, lo, hi);
    return ts < end ? ts : end - 1;
}

/* Work on one of the officer's cases: find a subject, read their records. */
static void task_case(g_ctx *c, uint32_t oi, int64_t ts, int64_t end, uint32_t slot)
{
    g_rng *r = &c->drng;
    g_case *cs = &c->cases[slot];
    uint8_t pur = unit_purpose(c->off[oi].st.unit);
    if (!cs->nsubj)
        return;
    uint32_t p = cs->subjects[g_below(r, (uint32_t)cs->nsubj)];
    uint32_t hp = cs->hp_benign && (c->per[p].flags & F_HIGH_PROFILE) ? cs->hp_benign : 0;
    uint32_t saved = c->cur_benign;
    if (hp)
        c->cur_benign = hp;
    if (g_chance(r, 0.5)) {
        g_emit_search(c, ts, oi, g_chance(r, 0.5) ? SYS_PNC : SYS_RMS, p, pur, cs);
        ts = step(r, ts, end, 20, 240);
    }
    uint32_t ri = cs->nrec && g_chance(r, 0.7) ? cs->records[g_below(r, (uint32_t)cs->nrec)] : g_record_of(c, r, p, -1);
    if (ri != G_NONE) {
        g_emit_view(c, ts, oi, ri, A_VIEW, pur, cs);
        if (g_chance(r, 0.35)) {
            ts = step(r, ts, end, 60, 900);
            uint32_t r2 = g_record_of(c, r, p, -1);
            if (r2 != G_NONE)
                g_emit_view(c, ts, oi, r2, A_VIEW, pur, cs);
        }
        double u = g_unit(r);
        ts = step(r, ts, end, 120, 1800);
        if (u < 0.15)
            g_emit_view(c, ts, oi, ri, A_UPDATE, pur, cs);
        else if (u < 0.18)
            g_emit_view(c, ts, oi, ri, A_PRINT, pur, cs);
        else if (u < 0.20 && c->off[oi].st.unit == U_PPU)
            g_emit_view(c, ts, oi, ri, A_DISCLOSE, pur, cs);
    }
    c->cur_benign = saved;
}

/* Response, neighbourhood and traffic: an incident becomes a small, short
 * case (written now) that explains the checks made during it. */
static void task_incident(g_ctx *c, uint32_t oi, int64_t ts, int64_t end, int64_t day_start, uint8_t area)
{
    g_rng *r = &c->drng;
    int traffic = c->off[oi].st.unit == U_TRAF;
    if (area == G_HQ_AREA)
        area = (uint8_t)g_below(r, c->nareas);
    uint32_t subj[4], recs[8], offs[1] = {oi};
    unsigned ns = 0, nr = 0;
    unsigned want = traffic ? g_range(r, 1, 2) : g_range(r, 1, 3);
    int caller = 0;
    if (!traffic && g_chance(r, 0.12)) {
        uint32_t p = c->callers[area * 2 + g_below(r, 2)];
        if (p != G_NONE) {
            subj[ns++] = p;
            caller = 1;
        }
    }
    for (unsigned t = 0; ns < want && t < 10; t++) {
        uint32_t p = g_random_person(c, r, area);
        if (p == G_NONE || (c->per[p].extra & PX_TEST))
            continue;
        int dup = 0;
        for (unsigned k = 0; k < ns; k++)
            dup |= subj[k] == p;
        if (!dup)
            subj[ns++] = p;
    }
    if (!ns)
        return;
    for (unsigned k = 0; k < ns; k++) {
        uint32_t a = g_record_of(c, r, subj[k], traffic ? RT_VEHICLE : RT_NOMINAL);
        if (a == G_NONE)
            a = g_record_of(c, r, subj[k], -1);
        if (a != G_NONE && nr < 8)
            recs[nr++] = a;
    }
    g_case cs;
    memset(&cs, 0, sizeof cs);
    cs.type = traffic ? CT_TRAFFIC : CT_INCIDENT;
    cs.area = area;
    cs.opened = ts - (int64_t)g_range(r, 60, 1200);
    if (cs.opened < day_start)
        cs.opened = day_start;
    cs.closed = ts + (int64_t)g_range(r, 2 * 3600, 10 * 3600);
    if (cs.closed >= (int64_t)(c->day0 + c->ndays) * 86400)
        cs.closed = G_NEVER;
    cs.live = 1;
    cs.officers = offs;
    cs.nof = 1;
    cs.subjects = subj;
    cs.nsubj = ns;
    cs.records = recs;
    cs.nrec = nr;
    g_write_case(c, &cs);
    c->st->cases++;
    uint32_t saved = c->cur_benign;
    for (unsigned k = 0; k < ns; k++) {
        int is_caller = caller && k == 0;
        if (is_caller) {
            if (!c->caller_benign[area]) {
                uint32_t b = g_benign_new(c, "frequent-caller");
                if (b != G_NONE) {
                    c->caller_benign[area] = b + 1;
                    for (int j = 0; j < 2; j++)
                        if (c->callers[area * 2 + (uint32_t)j] != G_NONE)
                            c->ben[b].subjects[c->ben[b].nsubj++] = c->callers[area * 2 + (uint32_t)j];
                }
            }
            c->cur_benign = c->caller_benign[area];
        }
        g_emit_search(c, ts, oi, SYS_PNC, subj[k], P_INVESTIGATION, &cs);
        ts = step(r, ts, end, 20, 300);
        uint32_t ri = g_record_of(c, r, subj[k], traffic ? RT_VEHICLE : (g_chance(r, 0.6) ? RT_NOMINAL : -1));
        if (ri == G_NONE)
            ri = g_record_of(c, r, subj[k], -1);
        if (ri != G_NONE) {
            /* the incident case lists its first records; a view of another
             * record of a subject is still explained by the case subjects */
            g_emit_view(c, ts, oi, ri, A_VIEW, P_INVESTIGATION, &cs);
            ts = step(r, ts, end, 20, 600);
        }
        c->cur_benign = saved;
    }
}

/* Custody: book in and review detainees arrested on live cases of the area. */
static void task_custody(g_ctx *c, uint32_t oi, int64_t ts, int64_t end, uint8_t area)
{
    g_rng *r = &c->drng;
    uint32_t slot = G_NONE, p = G_NONE;
    /* half the detainees come from live investigations, half straight from
     * the street (the arrest is in the custody record, not a case yet) */
    if (c->narea_live[area] && g_chance(r, 0.5)) {
        for (int t = 0; t < 6 && slot == G_NONE; t++) {
            uint32_t s = c->area_live[area][g_below(r, c->narea_live[area])];
            g_case *cs = &c->cases[s];
            if (g_case_usable(cs, ts) && cs->nsubj && (cs->type == CT_INVESTIGATION || cs->type == CT_SAFEGUARDING))
                slot = s;
        }
    }
    const g_case *cs = slot == G_NONE ? NULL : &c->cases[slot];
    if (cs)
        p = cs->subjects[g_below(r, (uint32_t)cs->nsubj)];
    else
        for (int t = 0; t < 4 && (p == G_NONE || (c->per[p].extra & PX_TEST)); t++)
            p = g_random_person(c, r, area);
    if (p == G_NONE)
        return;
    g_emit_search(c, ts, oi, SYS_RMS, p, P_CUSTODY, cs);
    ts = step(r, ts, end, 30, 300);
    uint32_t ri = g_record_of(c, r, p, RT_CUSTODY);
    if (ri == G_NONE)
        ri = g_record_of(c, r, p, RT_NOMINAL);
    if (ri != G_NONE) {
        g_emit_view(c, ts, oi, ri, A_VIEW, P_CUSTODY, cs);
        if (g_chance(r, 0.4)) {
            ts = step(r, ts, end, 300, 3600);
            g_emit_view(c, ts, oi, ri, A_UPDATE, P_CUSTODY, cs);
        }
    }
    uint32_t pn = g_record_of(c, r, p, RT_NOMINAL);
    if (pn != G_NONE && g_chance(r, 0.5)) {
        ts = step(r, ts, end, 30, 600);
        g_emit_view(c, ts, oi, pn, A_VIEW, P_CUSTODY, cs);
    }
}

/* Analysts: searches by attribute over an area returning many people. */
static void task_bulk(g_ctx *c, uint32_t oi, int64_t ts, int64_t end)
{
    g_rng *r = &c->drng;
    g_officer *o = &c->off[oi];
    uint32_t slot = g_chance(r, 0.6) ? g_unrelated_case(c, r, oi, ts) : G_NONE;
    const g_case *cs = slot == G_NONE ? NULL : &c->cases[slot];
    uint8_t area = cs ? cs->area : o->st.area == G_HQ_AREA ? (uint8_t)g_below(r, c->nareas) : o->st.area;
    g_ev *e = g_emit(c, ts, oi, A_SEARCH, g_chance(r, 0.7) ? SYS_PND : SYS_RMS, P_INTELLIGENCE);
    g_ev_case(e, cs);
    uint32_t results = g_range(r, 20, 300);
    uint32_t listed = results < G_MAX_SUBJ_LIST ? results : G_MAX_SUBJ_LIST;
    if (cs)
        for (size_t k = 0; k < cs->nsubj && e->nsubj < listed; k++)
            g_emit_subject(c, e, cs->subjects[k]);
    for (uint32_t tries = 0; e->nsubj < listed && tries < listed * 2; tries++) {
        uint32_t p = g_random_person(c, r, area);
        if (p == G_NONE)
            break;
        g_emit_subject(c, e, p);
    }
    e->results = results;
    uint32_t first = e->subj_off, nlisted = e->nsubj;
    unsigned nview = g_range(r, 1, 3);
    for (unsigned k = 0; k < nview && nlisted; k++) {
        ts = step(r, ts, end, 60, 900);
        uint32_t p = c->sub[first + g_below(r, nlisted)];
        uint32_t ri = g_record_of(c, r, p, RT_INTEL);
        if (ri == G_NONE)
            ri = g_record_of(c, r, p, -1);
        if (ri != G_NONE)
            g_emit_view(c, ts, oi, ri, A_VIEW, P_INTELLIGENCE, cs);
    }
}

/* An officer who meets their own declared relation in case-less work hands
 * it to a colleague (forces require a conflict of interest to be declared and
 * the work passed on), so legitimate work without a case never looks one up:
 * such a look-up is the ex-partner/family misuse pattern, and generating it
 * unlabelled made the labels call real conflicts benign. */
static int own_relation(const g_ctx *c, uint32_t oi, uint32_t p)
{
    const g_officer *o = &c->off[oi];
    for (unsigned k = 0; k < o->nrel; k++)
        if (o->rel_person[k] == p)
            return 1;
    return 0;
}

/* Civilian staff: firearms licensing and vetting checks, no case. */
static void task_staff(g_ctx *c, uint32_t oi, int64_t ts, int64_t end)
{
    g_rng *r = &c->drng;
    uint8_t area = (uint8_t)g_below(r, c->nareas);
    uint32_t p = g_random_person(c, r, area);
    if (p == G_NONE || own_relation(c, oi, p))
        return;
    uint8_t pur = g_chance(r, 0.5) ? P_LICENSING : P_VETTING;
    g_emit_search(c, ts, oi, SYS_PNC, p, pur, NULL);
    ts = step(r, ts, end, 30, 600);
    uint32_t ri = g_record_of(c, r, p, pur == P_LICENSING ? RT_LICENCE : RT_NOMINAL);
    if (ri == G_NONE)
        ri = g_record_of(c, r, p, -1);
    if (ri != G_NONE)
        g_emit_view(c, ts, oi, ri, A_VIEW, pur, NULL);
}

static void task_training(g_ctx *c, uint32_t oi, int64_t ts, int64_t end)
{
    g_rng *r = &c->drng;
    if (!c->ntest)
        return;
    uint32_t p = c->test_persons[g_below(r, c->ntest)];
    uint8_t pur = g_chance(r, 0.7) ? P_TRAINING : P_TEST;
    g_emit_search(c, ts, oi, (uint8_t)g_below(r, 3), p, pur, NULL);
    ts = step(r, ts, end, 30, 600);
    uint32_t ri = g_record_of(c, r, p, -1);
    if (ri != G_NONE)
        g_emit_view(c, ts, oi, ri, g_chance(r, 0.3) ? A_UPDATE : A_VIEW, pur, NULL);
}

/* The low rate of legitimate look-ups nothing in the data explains: a query
 * from the public, a colleague's question, a check on a name in the news. */
static void task_noise(g_ctx *c, uint32_t oi, int64_t ts, int64_t end, uint8_t area)
{
    g_rng *r = &c->drng;
    if (area == G_HQ_AREA)
        area = (uint8_t)g_below(r, c->nareas);
    uint32_t p = g_random_person(c, r, area);
    if (p == G_NONE || (c->per[p].extra & PX_TEST))
        return;
    if (own_relation(c, oi, p))
        return;
    uint8_t pur = g_chance(r, 0.5) ? P_OTHER : P_INVESTIGATION;
    g_emit_search(c, ts, oi, g_chance(r, 0.5) ? SYS_PNC : SYS_RMS, p, pur, NULL);
    if (g_chance(r, 0.6)) {
        uint32_t ri = g_record_of(c, r, p, -1);
        if (ri != G_NONE)
            g_emit_view(c, step(r, ts, end, 20, 300), oi, ri, A_VIEW, pur, NULL);
    }
}

/* =============================================================== a shift */

static const uint8_t task_mean[U_COUNT] = {5, 3, 5, 14, 4, 5, 5, 4, 5, 3, 4};

static void officer_day(g_ctx *c, uint32_t oi, int32_t day)
{
    g_rng *r = &c->drng;
    g_officer *o = &c->off[oi];
    if (!g_on_duty(c, oi, day))
        return;
    int64_t s, e;
    if (!g_shift_window(c, oi, &o->st, day, &s, &e))
        return;
    /* a change takes effect at midnight: no shift runs into it */
    if (o->next_change != INT32_MAX && e > (int64_t)o->next_change * 86400)
        e = (int64_t)o->next_change * 86400;
    if (e - s < 20 * 60)
        return;
    int64_t day_start = (int64_t)day * 86400;
    uint8_t unit = o->st.unit;
    uint8_t area = o->st.area;
    /* response officers sometimes cover a neighbouring area for a shift */
    uint8_t saved_area = o->st.area;
    uint16_t saved_term = o->terminal;
    uint32_t saved_benign = c->cur_benign;
    int cover = 0;
    if ((unit == U_RESP || unit == U_CUST) && c->nareas > 1 && g_chance(r, 0.015)) {
        cover = 1;
        area = (uint8_t)((area + 1 + g_below(r, c->nareas - 1)) % c->nareas);
        o->st.area = area;
        o->terminal = (uint16_t)(1 + g_below(r, 60));
        c->cur_benign = officer_benign(c, oi, "covering-another-area");
    } else if (unit == U_TRAIN) {
        c->cur_benign = officer_benign(c, oi, "training-account");
    } else if (unit == U_CUST) {
        c->cur_benign = officer_benign(c, oi, "custody-processing");
    } else if (o->st.role == R_ANALYST) {
        c->cur_benign = officer_benign(c, oi, "analyst-bulk-search");
    }
    g_emit(c, s + g_below(r, 600), oi, A_LOGIN, SYS_RMS, P_OTHER);
    unsigned mean = task_mean[unit];
    unsigned n = mean / 2 + g_below(r, mean + 1);
    int64_t times[24];
    if (n > 24)
        n = 24;
    int64_t lo = s + 600, hi = e - 900;
    if (hi <= lo)
        n = 0;
    for (unsigned k = 0; k < n; k++)
        times[k] = lo + (int64_t)g_below(r, (uint32_t)(hi - lo));
    for (unsigned k = 1; k < n; k++) /* insertion sort: n is small */
        for (unsigned j = k; j > 0 && times[j - 1] > times[j]; j--) {
            int64_t t = times[j];
            times[j] = times[j - 1];
            times[j - 1] = t;
        }
    int investigator = unit == U_CID || unit == U_PPU || unit == U_MIT || unit == U_CT ||
                       (unit == U_INT && o->st.role != R_ANALYST) || (unit == U_NHD && o->st.role != R_PCSO);
    for (unsigned k = 0; k < n; k++) {
        int64_t t = times[k];
        if (g_chance(r, 0.02) && unit != U_TRAIN) {
            uint32_t b = c->cur_benign;
            c->cur_benign = 0;
            task_noise(c, oi, t, e, area);
            c->cur_benign = b;
            continue;
        }
        switch (unit) {
        case U_RESP:
        case U_TRAF:
            task_incident(c, oi, t, e, day_start, area);
            break;
        case U_CUST:
            task_custody(c, oi, t, e, area == G_HQ_AREA ? 0 : area);
            break;
        case U_STAFF:
            task_staff(c, oi, t, e);
            break;
        case U_TRAIN:
            task_training(c, oi, t, e);
            break;
        default:
            if (o->st.role == R_ANALYST && g_chance(r, 0.7)) {
                task_bulk(c, oi, t, e);
                break;
            }
            if (unit == U_NHD && g_chance(r, 0.5)) {
                task_incident(c, oi, t, e, day_start, area);
                break;
            }
            {
                uint32_t slot = g_unrelated_case(c, r, oi, t);
                unsigned want = unit == U_NHD ? 1 : unit == U_INT || unit == U_CT || unit == U_MIT ? 1 : 3;
                if (investigator && (slot == G_NONE || (o->ncases < want && g_chance(r, 0.1))) &&
                    o->ncases < G_MAX_OFF_CASES)
                    slot = open_case(c, oi, t, day_start);
                if (slot == G_NONE) {
                    task_noise(c, oi, t, e, area);
                    break;
                }
                /* now and then join a colleague's case in the area */
                if (investigator && g_chance(r, 0.01) && c->narea_live[c->cases[slot].area]) {
                    uint8_t ca = c->cases[slot].area;
                    uint32_t s2 = c->area_live[ca][g_below(r, c->narea_live[ca])];
                    g_case *c2 = &c->cases[s2];
                    if (g_case_usable(c2, t) && c2->type == c->cases[slot].type && !g_officer_has_case(o, s2) &&
                        o->ncases < G_MAX_OFF_CASES) {
                        g_case_add_officer(c, s2, oi);
                        write_assign(c, t - 60, c2, oi, 1);
                        slot = s2;
                    }
                }
                task_case(c, oi, t, e, slot);
            }
            break;
        }
    }
    g_emit(c, e - 1 - g_below(r, 600), oi, A_LOGOUT, SYS_RMS, P_OTHER);
    if (cover) {
        o->st.area = saved_area;
        o->terminal = saved_term;
    }
    c->cur_benign = saved_benign;
}

/* ============================================================ day engine */

static void apply_changes(g_ctx *c, int32_t day)
{
    while (c->chg_next < c->nchg && c->chg[c->chg_next].day <= day) {
        g_change *ch = &c->chg[c->chg_next++];
        g_officer *o = &c->off[ch->officer];
        if (ch->kind == 0 || ch->kind == 3) {
            /* a transfer ends the old assignments (after the night shift) */
            int64_t ts = (int64_t)ch->day * 86400 + 8 * 3600;
            while (o->ncases) {
                uint32_t slot = o->cases[--o->ncases];
                g_case *cs = &c->cases[slot];
                if (cs->seq && cs->opened <= ts && ts < cs->closed)
                    write_assign(c, ts, cs, ch->officer, 0);
            }
        }
        o->st = ch->st;
        o->rota = ch->st.shift == SH_OFFICE ? ROTA_WEEKDAYS : ch->st.shift == SH_DAYS ? ROTA_5ON3OFF : ROTA_4ON4OFF;
        o->next_change = INT32_MAX;
        for (size_t k = c->chg_next; k < c->nchg; k++)
            if (c->chg[k].officer == ch->officer) {
                o->next_change = c->chg[k].day;
                break;
            }
    }
}

static void close_cases(g_ctx *c, int32_t day)
{
    int64_t t = (int64_t)day * 86400;
    for (uint32_t s = 0; s < c->ncases; s++)
        if (c->cases[s].live && c->cases[s].closed <= t)
            case_close(c, s);
}

static void write_event(g_ctx *c, const g_ev *e, const uint32_t *subj)
{
    g_out *o = &c->evs;
    uint64_t id = ++c->next_event_id;
    g_lit(o, "{\"kind\":\"access\",\"id\":");
    g_event_id(o, id);
    g_lit(o, ",\"ts\":");
    g_ts(o, e->ts);
    g_lit(o, ",\"officer\":");
    g_officer_id(o, e->officer);
    g_lit(o, ",\"system\":\"");
    g_put(o, g_sys_name[e->system], 3);
    g_lit(o, "\",\"action\":\"");
    g_put(o, g_action_name[e->action], strlen(g_action_name[e->action]));
    g_lit(o, "\",\"record\":");
    if (e->record == G_NONE)
        g_lit(o, "null");
    else
        g_record_id(o, e->record);
    g_lit(o, ",\"subjects\":[");
    for (unsigned k = 0; k < e->nsubj; k++) {
        if (k)
            g_ch(o, ',');
        g_person_id(o, subj[k]);
    }
    g_lit(o, "],\"purpose\":\"");
    g_put(o, g_purpose_name[e->purpose], strlen(g_purpose_name[e->purpose]));
    g_lit(o, "\",\"case\":");
    if (e->case_seq)
        g_case_id(o, e->case_year, e->case_seq);
    else
        g_lit(o, "null");
    g_lit(o, ",\"terminal\":\"T-");
    g_put(o, g_area_codes[e->area], 2);
    g_ch(o, '-');
    g_u0(o, e->terminal, 4);
    g_lit(o, "\",\"area\":");
    g_area_code(o, e->area);
    g_puts(o, e->outcome ? ",\"outcome\":\"deny\",\"results\":" : ",\"outcome\":\"allow\",\"results\":");
    g_u(o, e->results);
    g_lit(o, "}\n");
    c->st->events++;
    if (e->label) {
        g_scen *sc = &c->scen[e->label - 1];
        g_idlist_add(c, &sc->ev, id, 0);
        if (e->ts < sc->first)
            sc->first = e->ts;
        if (e->ts > sc->last)
            sc->last = e->ts;
        for (uint32_t k = 0; k < sc->nof; k++)
            if (sc->officers[k] == e->officer)
                sc->used[k] = 1;
        c->st->scenario_events++;
    }
    if (e->benign) {
        g_benign *b = &c->ben[e->benign - 1];
        g_idlist_add(c, &b->ev, id, G_BENIGN_CAP);
        if (e->ts < b->first)
            b->first = e->ts;
        if (e->ts > b->last)
            b->last = e->ts;
        int have = 0;
        for (uint32_t k = 0; k < b->nof; k++)
            have |= b->officers[k] == e->officer;
        if (!have && b->nof < G_MAX_SC_OFFICERS)
            b->officers[b->nof++] = e->officer;
    }
}

/* Sort the buffered events by (ts, generation order), write those before
 * limit, keep the rest (and their subjects) for the next day. */
static void flush_events(g_ctx *c, int64_t base, int64_t limit)
{
    size_t n = c->nev;
    if (!n)
        return;
    if (cu_grow(&c->sortkey, &c->capkey, n, sizeof(uint64_t), 16, false) ||
        cu_grow(&c->sortkey2, &c->capkey2, n, sizeof(uint64_t), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return;
    }
    for (size_t k = 0; k < n; k++)
        c->sortkey[k] = ((uint64_t)(c->ev[k].ts - base) << 32) | (uint64_t)k;
    uint64_t *a = c->sortkey, *b = c->sortkey2;
    for (int shift = 0; shift < 52; shift += 13) {
        size_t count[8193] = {0};
        for (size_t k = 0; k < n; k++)
            count[((a[k] >> shift) & 8191) + 1]++;
        for (size_t k = 0; k < 8192; k++)
            count[k + 1] += count[k];
        for (size_t k = 0; k < n; k++)
            b[count[(a[k] >> shift) & 8191]++] = a[k];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    size_t keep = 0;
    if (cu_grow(&c->ev2, &c->capev2, n, sizeof(g_ev), 16, false) ||
        cu_grow(&c->sub2, &c->capsub2, c->nsub ? c->nsub : 1, sizeof(uint32_t), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return;
    }
    size_t nsub2 = 0;
    for (size_t k = 0; k < n; k++) {
        const g_ev *e = &c->ev[a[k] & 0xffffffffu];
        if (e->ts < limit) {
            write_event(c, e, c->sub + e->subj_off);
        } else {
            g_ev *d = &c->ev2[keep++];
            *d = *e;
            if (e->nsubj)
                memcpy(c->sub2 + nsub2, c->sub + e->subj_off, e->nsubj * sizeof(uint32_t));
            d->subj_off = (uint32_t)nsub2;
            nsub2 += e->nsubj;
        }
    }
    /* swap the buffers: carried events become the start of the next day */
    g_ev *te = c->ev;
    size_t tc = c->capev;
    c->ev = c->ev2;
    c->capev = c->capev2;
    c->ev2 = te;
    c->capev2 = tc;
    c->nev = keep;
    uint32_t *ts = c->sub;
    size_t tsc = c->capsub;
    c->sub = c->sub2;
    c->capsub = c->capsub2;
    c->sub2 = ts;
    c->capsub2 = tsc;
    c->nsub = nsub2;
}

cu_rc g_run_days(g_ctx *c)
{
    c->off_benign = cu_calloc(c->noff, sizeof(uint32_t));
    if (!c->off_benign)
        return cu_err_set(CU_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < c->noff; i++)
        c->off[i].next_change = INT32_MAX;
    for (size_t k = c->nchg; k-- > 0;)
        c->off[c->chg[k].officer].next_change = c->chg[k].day;
    for (uint32_t s = 0; s < c->ncases; s++)
        if (c->cases[s].live)
            area_live_add(c, s);
    for (int32_t d = c->day0; d < c->day0 + c->ndays && !c->err; d++) {
        c->day_base = (int64_t)d * 86400;
        apply_changes(c, d);
        close_cases(c, d);
        g_seed(&c->drng, c->cfg->seed, 0x1000000ULL + (uint64_t)(d - c->day0));
        for (uint32_t oi = 0; oi < c->noff; oi++)
            officer_day(c, oi, d);
        g_scen_day(c, d);
        flush_events(c, c->day_base, c->day_base + 86400);
        if (c->evs.err || c->ref.err)
            break;
    }
    if (!c->err)
        flush_events(c, c->day_base, G_NEVER);
    if (c->err)
        return c->err == CU_ERR_NOMEM ? cu_err_set(CU_ERR_NOMEM, "out of memory generating events") : c->err;
    if (c->evs.err)
        return cu_err_set(c->evs.err, "writing %s failed", c->evs.path);
    if (c->ref.err)
        return cu_err_set(c->ref.err, "writing %s failed", c->ref.path);
    return CU_OK;
}
