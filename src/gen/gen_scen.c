/*
 * gen scenarios: the catalogue of labelled misuse (docs/gen.md).
 *
 * Each instance is planned before the reference is written (it may add a
 * declared relation, a case, an officer change or an end date) as a list of
 * acts: (day, officer, count).  The day engine calls g_scen_day, which turns
 * the day's acts into events at plausible moments of the officer's shift,
 * with plausible purposes and no case or an unrelated one, labelled with the
 * instance.  Only events of the misuse carry the label: legitimate views in
 * the same story (the assigned team of a major investigation) carry a benign
 * line instead.
 *
 * Invariants: a perpetrator is in at most one instance (officer.busy), never a
 * training account, and never an officer with a planned transfer, so that
 * acts planned on the stateless rota stay on duty days.
 */
#include "gen/gen_int.h"

#include <math.h>

static const char *const names[CU_GEN_SC_COUNT] = {
    "curiosity", "ex-partner", "family", "victim-targeting", "tip-off", "media-sale", "ring",
    "colleague-login", "bulk-export", "trawling", "new-access"};
/* default duration in days */
static const int default_days[CU_GEN_SC_COUNT] = {3, 30, 30, 21, 3, 45, 120, 30, 14, 10, 2};
/* instances per 1,000 officers per 30 days at intensity 1 */
static const double base_rate[CU_GEN_SC_COUNT] = {0.3, 1.5, 1.5, 0.5, 0.4, 0.4, 0.2, 0.8, 0.4, 0.5, 0.8};

const char *g_scen_name(unsigned k) { return k < CU_GEN_SC_COUNT ? names[k] : NULL; }
int g_scen_default_days(unsigned k) { return k < CU_GEN_SC_COUNT ? default_days[k] : 1; }
double g_scen_base_rate(unsigned k) { return k < CU_GEN_SC_COUNT ? base_rate[k] : 0; }

/* ============================================================== helpers */

static g_scen *scen_new(g_ctx *c, uint8_t kind, double rate)
{
    if (cu_grow(&c->scen, &c->capscen, c->nscen + 1, sizeof(g_scen), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return NULL;
    }
    g_scen *sc = &c->scen[c->nscen++];
    memset(sc, 0, sizeof *sc);
    sc->kind = kind;
    sc->case_slot = G_NONE;
    sc->other = G_NONE;
    sc->rate = rate;
    sc->first = G_NEVER;
    sc->last = INT64_MIN;
    return sc;
}

static void scen_drop(g_ctx *c, g_scen *sc)
{
    for (uint32_t k = 0; k < sc->nof; k++)
        c->off[sc->officers[k]].busy = 0;
    cu_free(sc->acts);
    c->st->skipped[sc->kind]++;
    c->nscen--; /* always the last one */
}

static void param(g_scen *sc, const char *key, int64_t v)
{
    if (sc->nparams < G_MAX_PARAMS) {
        sc->pkey[sc->nparams] = key;
        sc->pval[sc->nparams] = v;
        sc->psval[sc->nparams] = NULL;
        sc->ptime[sc->nparams++] = 0;
    }
}

static void param_time(g_scen *sc, const char *key, int64_t t)
{
    param(sc, key, t);
    sc->ptime[sc->nparams - 1] = 1;
}

static void param_date(g_scen *sc, const char *key, int32_t day)
{
    param(sc, key, day);
    sc->ptime[sc->nparams - 1] = 2;
}

static void param_str(g_scen *sc, const char *key, const char *s)
{
    param(sc, key, 0);
    sc->psval[sc->nparams - 1] = s;
}

static int add_officer(g_scen *sc, uint32_t oi)
{
    for (uint32_t k = 0; k < sc->nof; k++)
        if (sc->officers[k] == oi)
            return 1;
    if (sc->nof >= G_MAX_SC_OFFICERS)
        return 0;
    sc->officers[sc->nof++] = oi;
    return 1;
}

static void add_subject(g_scen *sc, uint32_t p)
{
    for (uint32_t k = 0; k < sc->nsubj; k++)
        if (sc->subjects[k] == p)
            return;
    if (sc->nsubj < G_MAX_SC_SUBJECTS)
        sc->subjects[sc->nsubj++] = p;
}

static int add_act(g_ctx *c, g_scen *sc, int32_t day, uint32_t oi, unsigned count, unsigned aux)
{
    if (cu_grow(&sc->acts, &sc->capacts, sc->nacts + 1, sizeof(g_act), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return -1;
    }
    sc->acts[sc->nacts++] = (g_act){day, oi, (uint16_t)count, (uint16_t)aux};
    return 0;
}

static unsigned scaled(double base, double rate, unsigned lo, unsigned hi)
{
    double v = floor(base * rate + 0.5);
    if (v < lo)
        return lo;
    if (v > hi)
        return hi;
    return (unsigned)v;
}

/* On-duty days of oi in [d0, d1), at most max of them. */
static unsigned duty_days(g_ctx *c, uint32_t oi, int32_t d0, int32_t d1, int32_t *out, unsigned max)
{
    unsigned n = 0;
    for (int32_t d = d0; d < d1 && n < max; d++)
        if (g_on_duty(c, oi, d))
            out[n++] = d;
    return n;
}

#define UM(u) (1u << (u))
#define FIELD_UNITS (UM(U_RESP) | UM(U_NHD) | UM(U_CID) | UM(U_CUST) | UM(U_TRAF) | UM(U_PPU) | UM(U_INT))

/* A free officer of one of the units, employed over [d0, d1) and on duty
 * at least once in it; marked busy.  G_NONE when none is found. */
static uint32_t pick_perp(g_ctx *c, unsigned units, int area, int32_t d0, int32_t d1)
{
    g_rng *r = &c->rng;
    int32_t days[4];
    for (int t = 0; t < 4000; t++) {
        uint32_t oi = g_below(r, c->noff);
        g_officer *o = &c->off[oi];
        if (o->busy || !(units & UM(o->st.unit)) || (area >= 0 && o->st.area != area))
            continue;
        if (o->start_day > d0 || o->end_day < d1)
            continue;
        if (!duty_days(c, oi, d0, d1, days, 1))
            continue;
        o->busy = 1;
        return oi;
    }
    return G_NONE;
}

/* Spread n acts of oi over its duty days in [d0, d1). */
static int spread_acts(g_ctx *c, g_scen *sc, uint32_t oi, int32_t d0, int32_t d1, unsigned n, unsigned count)
{
    int32_t days[400];
    unsigned nd = duty_days(c, oi, d0, d1, days, 400);
    if (!nd)
        return 0;
    for (unsigned k = 0; k < n; k++) {
        /* evenly spread with jitter: low and slow, not a burst */
        unsigned i = (unsigned)(((uint64_t)k * nd) / n);
        if (nd > n && g_chance(&c->rng, 0.5))
            i = (i + g_below(&c->rng, (nd + n - 1) / n)) % nd;
        if (add_act(c, sc, days[i], oi, count, 0))
            return 0;
    }
    return 1;
}

static void window(g_ctx *c, unsigned kind, int32_t *d0, int32_t *d1)
{
    int L = c->sc[kind].days > 0 ? c->sc[kind].days : default_days[kind];
    if (L > c->ndays)
        L = c->ndays;
    *d0 = c->day0 + (int32_t)g_below(&c->rng, (uint32_t)(c->ndays - L + 1));
    *d1 = *d0 + L;
}

static int is_adult_p(const g_ctx *c, uint32_t p)
{
    int64_t y;
    unsigned m, d;
    cu_civil_from_days(c->day0, &y, &m, &d);
    return (int64_t)c->per[p].born <= y - 18;
}

/* ============================================================ planning */

static int plan_curiosity(g_ctx *c, g_scen *sc)
{
    g_rng *r = &c->rng;
    if (!c->nflagged[7])
        return 0;
    int32_t d0, d1;
    window(c, CU_GEN_SC_CURIOSITY, &d0, &d1);
    uint32_t hp = c->flagged[7][g_below(r, c->nflagged[7])];
    add_subject(sc, hp);
    /* the news: a major investigation with the person at its centre */
    int64_t opened = (int64_t)d0 * 86400 + 6 * 3600 + g_below(r, 3 * 3600);
    uint32_t slot = g_case_new(c, CT_MAJOR, c->per[hp].area, opened, G_NEVER);
    if (slot == G_NONE)
        return 0;
    sc->case_slot = slot;
    g_case_link_person(c, slot, hp, 4);
    for (int k = 0; k < 2; k++) {
        uint32_t p = g_random_person(c, r, c->per[hp].area);
        if (p != G_NONE)
            g_case_link_person(c, slot, p, 2);
    }
    unsigned team = g_range(r, 6, 12);
    for (unsigned k = 0, t = 0; k < team && t < 200; t++) {
        uint32_t m = g_area_officer(c, r, U_MIT, G_HQ_AREA);
        if (m == G_NONE)
            m = g_area_officer(c, r, U_CID, c->per[hp].area);
        if (m == G_NONE)
            break;
        const g_officer *o = &c->off[m];
        if (o->start_day > d0 || o->end_day <= d1 || o->busy)
            continue;
        if (g_case_add_officer(c, slot, m))
            k++;
    }
    uint32_t b = g_benign_new(c, "major-investigation-high-profile");
    if (b == G_NONE)
        return 0;
    c->cases[slot].hp_benign = b + 1;
    c->ben[b].case_slot = slot;
    c->ben[b].subjects[c->ben[b].nsubj++] = hp;
    /* legitimate views by the team in the first days */
    g_case *cs = &c->cases[slot];
    for (size_t k = 0; k < cs->nof && k < 4; k++)
        spread_acts(c, sc, cs->officers[k], d0, d1, 2, 1000); /* count 1000 marks a legitimate act */
    unsigned k = scaled(10, sc->rate, 3, G_MAX_SC_OFFICERS - 1);
    unsigned got = 0;
    for (unsigned t = 0; t < k * 4 && got < k; t++) {
        uint32_t oi = pick_perp(c, FIELD_UNITS | UM(U_STAFF) | UM(U_CT), -1, d0, d1);
        if (oi == G_NONE)
            break;
        if (g_officer_has_case(&c->off[oi], slot)) {
            c->off[oi].busy = 0;
            continue;
        }
        int32_t days[8];
        unsigned nd = duty_days(c, oi, d0, d1, days, 8);
        int32_t day = days[g_below(r, nd)];
        /* on the day of the news, only after it broke */
        int64_t s, e;
        if (day == d0 && g_shift_window(c, oi, &c->off[oi].st, day, &s, &e) && e < opened + 3600) {
            if (nd < 2) {
                c->off[oi].busy = 0;
                continue;
            }
            day = days[1];
        }
        add_officer(sc, oi);
        add_act(c, sc, day, oi, g_range(r, 1, 3), 0);
        got++;
    }
    param(sc, "viewers", got);
    param(sc, "days", d1 - d0);
    param_time(sc, "news", opened);
    return got > 0;
}

static int plan_relation(g_ctx *c, g_scen *sc, int ex)
{
    g_rng *r = &c->rng;
    int32_t d0, d1;
    window(c, ex ? CU_GEN_SC_EX_PARTNER : CU_GEN_SC_FAMILY, &d0, &d1);
    int declared = ex ? g_chance(r, 0.8) : 1;
    uint32_t oi = G_NONE, target = G_NONE;
    for (int t = 0; t < 200 && target == G_NONE; t++) {
        oi = pick_perp(c, FIELD_UNITS | UM(U_STAFF), -1, d0, d1);
        if (oi == G_NONE)
            return 0;
        g_officer *o = &c->off[oi];
        for (unsigned k = 0; k < o->nrel && target == G_NONE; k++)
            if ((ex && o->rel_type[k] == REL_EX && declared) ||
                (!ex && (o->rel_type[k] == REL_FAMILY || o->rel_type[k] == REL_PARTNER)))
                target = o->rel_person[k];
        if (target == G_NONE && ex) {
            /* give the officer an ex-partner (declared or not) */
            uint32_t self = o->person;
            for (int u = 0; u < 100 && target == G_NONE; u++) {
                uint32_t q = g_random_person(c, r, c->per[self].area);
                if (q != G_NONE && c->per[q].household != c->per[self].household && is_adult_p(c, q) &&
                    !c->per[q].flags && (c->per[q].extra & PX_FEMALE) != (c->per[self].extra & PX_FEMALE))
                    target = q;
            }
            if (target != G_NONE && declared && o->nrel < G_MAX_REL) {
                o->rel_person[o->nrel] = target;
                o->rel_type[o->nrel++] = REL_EX;
            }
        }
        if (target == G_NONE)
            o->busy = 0;
    }
    if (target == G_NONE)
        return 0;
    add_officer(sc, oi);
    add_subject(sc, target);
    uint32_t h = c->per[target].household;
    for (uint32_t q = h; q < c->nper && c->per[q].household == h && sc->nsubj < 4; q++)
        if (q != c->off[oi].person)
            add_subject(sc, q);
    unsigned n = scaled(ex ? 6 : 4, sc->rate, 2, 60);
    spread_acts(c, sc, oi, d0, d1, n, 1);
    param(sc, "lookups", n);
    param(sc, "days", d1 - d0);
    if (ex)
        param(sc, "declared", declared);
    return sc->nacts > 0;
}

static int plan_victim(g_ctx *c, g_scen *sc)
{
    g_rng *r = &c->rng;
    int32_t d0, d1;
    window(c, CU_GEN_SC_VICTIM, &d0, &d1);
    uint32_t oi = pick_perp(c, UM(U_RESP) | UM(U_NHD) | UM(U_CID) | UM(U_TRAF), -1, d0, d1);
    if (oi == G_NONE)
        return 0;
    add_officer(sc, oi);
    uint8_t area = c->off[oi].st.area;
    unsigned want = scaled(4, sc->rate, 2, 30);
    for (unsigned t = 0; t < 400 && sc->nsubj < want; t++) {
        uint32_t p;
        if (c->nda && g_chance(r, 0.7))
            p = c->da_victims[g_below(r, c->nda)];
        else if (c->nflagged[2])
            p = c->flagged[2][g_below(r, c->nflagged[2])];
        else
            continue;
        if (!(c->per[p].extra & PX_FEMALE) || (t < 200 && c->per[p].area != area))
            continue;
        add_subject(sc, p);
    }
    if (!sc->nsubj)
        return 0;
    spread_acts(c, sc, oi, d0, d1, sc->nsubj, 1);
    param(sc, "victims", sc->nsubj);
    param(sc, "days", d1 - d0);
    return sc->nacts > 0;
}

static int plan_tipoff(g_ctx *c, g_scen *sc)
{
    g_rng *r = &c->rng;
    int L = c->sc[CU_GEN_SC_TIPOFF].days > 0 ? c->sc[CU_GEN_SC_TIPOFF].days : default_days[CU_GEN_SC_TIPOFF];
    if (L >= c->ndays)
        L = c->ndays > 1 ? c->ndays - 1 : 1;
    int32_t raid = c->day0 + L + (int32_t)g_below(r, (uint32_t)(c->ndays - L > 0 ? c->ndays - L : 1));
    int32_t d0 = raid - L, d1 = raid;
    uint8_t area = (uint8_t)g_below(r, c->nareas);
    uint32_t oi = pick_perp(c, UM(U_RESP) | UM(U_NHD) | UM(U_CID) | UM(U_CUST), area, d0, d1);
    if (oi == G_NONE)
        oi = pick_perp(c, UM(U_RESP) | UM(U_NHD) | UM(U_CID) | UM(U_CUST), -1, d0, d1);
    if (oi == G_NONE)
        return 0;
    area = c->off[oi].st.area == G_HQ_AREA ? area : c->off[oi].st.area;
    int64_t opened = (int64_t)(c->day0 - 30 - (int32_t)g_below(r, 170)) * 86400 + 9 * 3600;
    uint32_t slot = g_case_new(c, CT_OPERATION, area, opened, G_NEVER);
    if (slot == G_NONE)
        return 0;
    sc->case_slot = slot;
    c->cases[slot].name = (uint16_t)(1 + g_below(r, g_nop_words));
    unsigned nsub = g_range(r, 5, 8);
    for (unsigned k = 0, t = 0; k < nsub && t < 100; t++) {
        uint32_t p = g_random_person(c, r, area);
        if (p == G_NONE || !is_adult_p(c, p) || c->per[p].flags)
            continue;
        g_case_add_subject(c, slot, p);
        add_subject(sc, p);
        /* the operation's subjects carry its caveat on their PNC/PND records */
        for (uint32_t j = c->per_rec_off[p]; j < c->per_rec_off[p + 1]; j++) {
            g_record *rc = &c->rec[c->per_rec[j]];
            if (rc->system != SYS_RMS && rc->nsubj == 1) {
                rc->caveats |= CV_OPERATION;
                g_case_add_record(c, slot, c->per_rec[j]);
            }
        }
        k++;
    }
    unsigned team = g_range(r, 3, 5);
    for (unsigned k = 0, t = 0; k < team && t < 100; t++) {
        uint32_t m = g_area_officer(c, r, t % 2 ? U_CID : U_INT, area);
        if (m == G_NONE || m == oi || c->off[m].start_day > c->day0)
            continue;
        if (g_case_add_officer(c, slot, m))
            k++;
    }
    add_officer(sc, oi);
    unsigned n = scaled(3, sc->rate, 2, 30);
    spread_acts(c, sc, oi, d0, d1, n, 1);
    param(sc, "lookups", n);
    param(sc, "days", d1 - d0);
    param_time(sc, "raid", (int64_t)raid * 86400 + 5 * 3600);
    return sc->nacts > 0 && sc->nsubj > 0;
}

static int plan_media(g_ctx *c, g_scen *sc)
{
    g_rng *r = &c->rng;
    int32_t d0, d1;
    window(c, CU_GEN_SC_MEDIA, &d0, &d1);
    uint32_t oi = pick_perp(c, FIELD_UNITS, -1, d0, d1);
    if (oi == G_NONE)
        return 0;
    add_officer(sc, oi);
    unsigned want = scaled(6, sc->rate, 2, 40);
    for (unsigned t = 0; t < want * 10 && sc->nsubj < want; t++) {
        int bit = g_chance(r, 0.5) ? 1 : 7;
        if (c->nflagged[bit])
            add_subject(sc, c->flagged[bit][g_below(r, c->nflagged[bit])]);
    }
    if (!sc->nsubj)
        return 0;
    spread_acts(c, sc, oi, d0, d1, sc->nsubj + g_below(r, sc->nsubj + 1), 1);
    param(sc, "celebrities", sc->nsubj);
    param(sc, "days", d1 - d0);
    return sc->nacts > 0;
}

static int plan_ring(g_ctx *c, g_scen *sc, int size_override)
{
    g_rng *r = &c->rng;
    int32_t d0, d1;
    window(c, CU_GEN_SC_RING, &d0, &d1);
    int32_t L = d1 - d0;
    unsigned k = size_override >= 2 ? (unsigned)size_override : g_range(r, 2, 5);
    if (k > 5)
        k = 5;
    sc->ring = 1;
    unsigned want = scaled(12, sc->rate, 6, G_MAX_SC_SUBJECTS);
    for (unsigned t = 0; t < want * 10 && sc->nsubj < want; t++) {
        if (c->ncommunity && g_chance(r, 0.5))
            add_subject(sc, c->community[g_below(r, c->ncommunity)]);
        else if (c->nflagged[4])
            add_subject(sc, c->flagged[4][g_below(r, c->nflagged[4])]);
    }
    if (!sc->nsubj)
        return 0;
    unsigned total = 0;
    for (unsigned i = 0; i < k; i++) {
        /* hand-off: each member is active in a segment, overlapping the next */
        int32_t ov = L / (int32_t)(2 * k);
        int32_t s0 = d0 + (int32_t)((int64_t)L * i / k) - ov, s1 = d0 + (int32_t)((int64_t)L * (i + 1) / k) + ov;
        if (s0 < d0) s0 = d0;
        if (s1 > d1) s1 = d1;
        if (s1 <= s0) s1 = s0 + 1;
        uint32_t oi = pick_perp(c, UM(U_INT) | UM(U_NHD) | UM(U_CID) | UM(U_CT), -1, s0, s1);
        if (oi == G_NONE)
            continue;
        add_officer(sc, oi);
        unsigned n = scaled((double)(s1 - s0) / 5.0, sc->rate, 1, 150);
        spread_acts(c, sc, oi, s0, s1, n, 1);
        total += n;
    }
    if (sc->nof < 2)
        return 0;
    param(sc, "size", sc->nof);
    param(sc, "lookups", total);
    param(sc, "days", L);
    return 1;
}

static int plan_colleague(g_ctx *c, g_scen *sc)
{
    g_rng *r = &c->rng;
    int32_t d0, d1;
    window(c, CU_GEN_SC_COLLEAGUE_LOGIN, &d0, &d1);
    for (int t = 0; t < 100; t++) {
        uint32_t a = pick_perp(c, FIELD_UNITS | UM(U_STAFF), -1, d0, d1);
        if (a == G_NONE)
            return 0;
        const g_officer *oa = &c->off[a];
        uint32_t b = g_area_officer(c, r, oa->st.unit, oa->st.area);
        if (b == G_NONE || b == a || c->off[b].busy || c->off[b].start_day > d0 || c->off[b].end_day < d1) {
            c->off[a].busy = 0;
            continue;
        }
        int32_t days[64];
        unsigned nd = 0;
        for (int32_t d = d0; d < d1 && nd < 64; d++)
            if (!g_on_duty(c, a, d) && g_on_duty(c, b, d) &&
                !(c->off[a].st.shift == SH_NIGHTS && g_on_duty(c, a, d - 1)))
                days[nd++] = d;
        if (!nd) {
            c->off[a].busy = 0;
            continue;
        }
        c->off[b].busy = 1;
        add_officer(sc, a);
        add_officer(sc, b);
        sc->other = b;
        unsigned n = scaled(2, sc->rate, 1, 10);
        for (unsigned k = 0; k < n; k++)
            add_act(c, sc, days[g_below(r, nd)], a, g_range(r, 3, 8), 0);
        param(sc, "sessions", n);
        param(sc, "days", d1 - d0);
        return 1;
    }
    return 0;
}

static int plan_bulk_export(g_ctx *c, g_scen *sc)
{
    g_rng *r = &c->rng;
    int L = c->sc[CU_GEN_SC_BULK_EXPORT].days > 0 ? c->sc[CU_GEN_SC_BULK_EXPORT].days
                                                   : default_days[CU_GEN_SC_BULK_EXPORT];
    if (L > c->ndays)
        L = c->ndays;
    /* the last day at work falls late in the period */
    int32_t end = c->day0 + c->ndays - (int32_t)g_below(r, (uint32_t)(c->ndays / 4 + 1));
    if (end - L < c->day0)
        end = c->day0 + L;
    int32_t d0 = end - L, d1 = end;
    uint32_t oi = pick_perp(c, UM(U_CID) | UM(U_INT) | UM(U_PPU) | UM(U_NHD) | UM(U_RESP), -1, d0, d1);
    if (oi == G_NONE)
        return 0;
    g_officer *o = &c->off[oi];
    if (o->end_day != INT32_MAX || o->start_day > d0) {
        o->busy = 0;
        return 0;
    }
    o->end_day = end;
    add_officer(sc, oi);
    int32_t days[400];
    unsigned nd = duty_days(c, oi, d0, d1, days, 400);
    unsigned total = 0;
    for (unsigned k = 0; k < nd; k++) {
        /* heavier towards the end */
        double ramp = 0.5 + (double)(k + 1) / nd;
        unsigned n = scaled(30.0 * ramp * (0.6 + g_unit(r) * 0.8), sc->rate, 5, 400);
        if (g_chance(r, 0.25) && k + 1 < nd)
            continue; /* not every day */
        add_act(c, sc, days[k], oi, n, 0);
        total += n;
    }
    if (!sc->nacts && nd) {
        add_act(c, sc, days[nd - 1], oi, 30, 0);
        total = 30;
    }
    param_date(sc, "end", end);
    param(sc, "exports", total);
    param(sc, "days", L);
    return sc->nacts > 0;
}

static int plan_trawling(g_ctx *c, g_scen *sc)
{
    int32_t d0, d1;
    window(c, CU_GEN_SC_TRAWLING, &d0, &d1);
    uint32_t oi = pick_perp(c, UM(U_RESP) | UM(U_NHD) | UM(U_CID) | UM(U_CUST) | UM(U_TRAF), -1, d0, d1);
    if (oi == G_NONE)
        return 0;
    add_officer(sc, oi);
    unsigned n = scaled(3, sc->rate, 1, 30);
    spread_acts(c, sc, oi, d0, d1, n, 1);
    param(sc, "searches", n);
    param(sc, "days", d1 - d0);
    return sc->nacts > 0;
}

static uint8_t rota_for(uint8_t shift)
{
    return shift == SH_OFFICE ? ROTA_WEEKDAYS : shift == SH_DAYS ? ROTA_5ON3OFF : ROTA_4ON4OFF;
}

static int plan_new_access(g_ctx *c, g_scen *sc)
{
    g_rng *r = &c->rng;
    int L = c->sc[CU_GEN_SC_NEW_ACCESS].days > 0 ? c->sc[CU_GEN_SC_NEW_ACCESS].days
                                                 : default_days[CU_GEN_SC_NEW_ACCESS];
    uint32_t oi = pick_perp(c, UM(U_RESP) | UM(U_NHD) | UM(U_CID) | UM(U_TRAF) | UM(U_CUST), -1, c->day0,
                            c->day0 + c->ndays);
    if (oi == G_NONE)
        return 0;
    g_officer *o = &c->off[oi];
    g_change ch = {.officer = oi, .st = o->st, .kind = 3};
    int to_int = g_chance(r, 0.5);
    ch.st.unit = to_int ? U_INT : U_PPU;
    ch.st.area = o->st.area == G_HQ_AREA ? (uint8_t)g_below(r, c->nareas) : o->st.area;
    ch.st.role = R_DC;
    ch.st.shift = SH_OFFICE;
    ch.st.vet = to_int ? V_SC : V_NPPV3;
    /* the first working days of the new access, on its office rota */
    int32_t days[4];
    unsigned nd = 0;
    for (int attempt = 0; attempt < 8 && !nd; attempt++) {
        ch.day = c->ndays > 1 ? c->day0 + 1 + (int32_t)g_below(r, (uint32_t)(c->ndays - 1)) : c->day0;
        int32_t d1 = ch.day + L + 14 < c->day0 + c->ndays ? ch.day + L + 14 : c->day0 + c->ndays;
        if (ch.day >= o->end_day)
            continue;
        uint8_t saved = o->rota;
        o->rota = rota_for(ch.st.shift);
        nd = duty_days(c, oi, ch.day, d1, days, 2);
        o->rota = saved;
    }
    if (!nd) {
        o->busy = 0;
        return 0;
    }
    int32_t T = ch.day;
    ch.st.vet_granted = T - (int32_t)g_below(r, 5);
    ch.st.vet_expires = ch.st.vet_granted + 7 * 365;
    if (g_add_change(c, &ch)) {
        c->err = CU_ERR_NOMEM;
        return 0;
    }
    add_officer(sc, oi);
    unsigned n = scaled(6, sc->rate, 3, 60);
    add_act(c, sc, days[0], oi, nd > 1 ? (n + 1) / 2 : n, 0);
    if (nd > 1)
        add_act(c, sc, days[1], oi, n / 2, 0);
    param_date(sc, "access_from", T);
    param_str(sc, "new_unit", g_unit_code[ch.st.unit]);
    param(sc, "lookups", n);
    return 1;
}

cu_rc g_scen_setup(g_ctx *c)
{
    double scale = (double)c->noff / 1000.0 * (c->ndays < 30 ? 1.0 : c->ndays / 30.0) * c->cfg->intensity;
    for (unsigned k = 0; k < CU_GEN_SC_COUNT; k++) {
        if (!c->sc[k].on)
            continue;
        unsigned n;
        if (c->sc[k].n >= 0)
            n = (unsigned)c->sc[k].n;
        else
            n = scaled(base_rate[k], scale, 1, 5000);
        for (unsigned i = 0; i < n && !c->err; i++) {
            g_scen *sc = scen_new(c, (uint8_t)k, c->sc[k].rate);
            if (!sc)
                break;
            int ok = 0;
            switch (k) {
            case CU_GEN_SC_CURIOSITY: ok = plan_curiosity(c, sc); break;
            case CU_GEN_SC_EX_PARTNER: ok = plan_relation(c, sc, 1); break;
            case CU_GEN_SC_FAMILY: ok = plan_relation(c, sc, 0); break;
            case CU_GEN_SC_VICTIM: ok = plan_victim(c, sc); break;
            case CU_GEN_SC_TIPOFF: ok = plan_tipoff(c, sc); break;
            case CU_GEN_SC_MEDIA: ok = plan_media(c, sc); break;
            case CU_GEN_SC_RING: ok = plan_ring(c, sc, c->sc[k].size); break;
            case CU_GEN_SC_COLLEAGUE_LOGIN: ok = plan_colleague(c, sc); break;
            case CU_GEN_SC_BULK_EXPORT: ok = plan_bulk_export(c, sc); break;
            case CU_GEN_SC_TRAWLING: ok = plan_trawling(c, sc); break;
            case CU_GEN_SC_NEW_ACCESS: ok = plan_new_access(c, sc); break;
            default: break;
            }
            if (!ok)
                scen_drop(c, &c->scen[c->nscen - 1]);
        }
    }
    if (c->err)
        return cu_err_set(c->err, "out of memory planning scenarios");
    return CU_OK;
}

/* ============================================================ emission */

/* A moment in oi's shift on day (or the colleague's shift for a login). */
static int act_time(g_ctx *c, uint32_t shift_of, uint32_t account, int32_t day, int64_t *t, int64_t *end)
{
    int64_t s, e;
    if (!g_shift_window(c, shift_of, &c->off[shift_of].st, day, &s, &e))
        return 0;
    const g_officer *a = &c->off[account];
    if (a->end_day != INT32_MAX && e > (int64_t)a->end_day * 86400)
        e = (int64_t)a->end_day * 86400;
    if (s < (int64_t)a->start_day * 86400)
        s = (int64_t)a->start_day * 86400;
    if (a->next_change != INT32_MAX && e > (int64_t)a->next_change * 86400)
        e = (int64_t)a->next_change * 86400;
    if (e - s < 10 * 60)
        return 0;
    int64_t lo = s + 300, hi = e - 900;
    if (hi <= lo) {
        lo = s;
        hi = e - 1;
    }
    *t = lo + (int64_t)g_below(&c->drng, (uint32_t)(hi - lo));
    *end = e;
    return 1;
}

static int64_t nxt(g_ctx *c, int64_t ts, int64_t end, uint32_t lo, uint32_t hi)
{
    ts += g_range(&c->drng, lo, hi);
    return ts < end ? ts : end - 1;
}

/* A plausible cover: "other" or investigation, no case or an unrelated one. */
static const g_case *cover_case(g_ctx *c, uint32_t oi, int64_t ts, double p)
{
    if (!g_chance(&c->drng, p))
        return NULL;
    uint32_t s = g_unrelated_case(c, &c->drng, oi, ts);
    return s == G_NONE ? NULL : &c->cases[s];
}

static uint8_t cover_purpose(g_ctx *c) { return g_chance(&c->drng, 0.35) ? P_OTHER : P_INVESTIGATION; }

/* search for p, then view one of their records of `type` (or any) */
static int64_t lookup(g_ctx *c, uint32_t oi, int64_t ts, int64_t end, uint32_t p, int type, uint8_t pur,
                      const g_case *cs, int search)
{
    g_rng *r = &c->drng;
    if (search) {
        g_emit_search(c, ts, oi, g_chance(r, 0.6) ? SYS_PNC : SYS_RMS, p, pur, cs);
        ts = nxt(c, ts, end, 20, 200);
    }
    uint32_t ri = type >= 0 ? g_record_of(c, r, p, type) : G_NONE;
    if (ri == G_NONE)
        ri = g_record_of(c, r, p, -1);
    if (ri != G_NONE)
        g_emit_view(c, ts, oi, ri, A_VIEW, pur, cs);
    return nxt(c, ts, end, 30, 600);
}

static void emit_act(g_ctx *c, g_scen *sc, const g_act *a)
{
    g_rng *r = &c->drng;
    uint32_t oi = a->officer;
    int64_t t, end;
    uint32_t shift_of = sc->kind == CU_GEN_SC_COLLEAGUE_LOGIN ? sc->other : oi;
    if (!act_time(c, shift_of, oi, a->day, &t, &end))
        return;
    switch (sc->kind) {
    case CU_GEN_SC_CURIOSITY: {
        uint32_t hp = sc->subjects[0];
        g_case *mc = sc->case_slot != G_NONE ? &c->cases[sc->case_slot] : NULL;
        if (mc && t < mc->opened)
            t = mc->opened + g_below(r, 1800);
        if (t >= end)
            return;
        if (a->count >= 1000) {
            /* the investigation team: legitimate, case-linked, benign */
            if (!mc || !g_officer_has_case(&c->off[oi], sc->case_slot))
                return;
            uint32_t saved = c->cur_label, sb = c->cur_benign;
            c->cur_label = 0;
            c->cur_benign = mc->hp_benign;
            lookup(c, oi, t, end, hp, RT_NOMINAL, P_INVESTIGATION, mc, 1);
            c->cur_label = saved;
            c->cur_benign = sb;
            return;
        }
        const g_case *cs = cover_case(c, oi, t, 0.3);
        uint8_t pur = cover_purpose(c);
        for (unsigned k = 0; k < a->count; k++)
            t = lookup(c, oi, t, end, hp, k ? -1 : RT_NOMINAL, pur, cs, k == 0);
        break;
    }
    case CU_GEN_SC_EX_PARTNER:
    case CU_GEN_SC_FAMILY: {
        uint32_t p = sc->subjects[g_chance(r, 0.7) ? 0 : g_below(r, sc->nsubj)];
        const g_case *cs = cover_case(c, oi, t, 0.3);
        uint8_t pur = cover_purpose(c);
        t = lookup(c, oi, t, end, p, g_chance(r, 0.5) ? RT_NOMINAL : -1, pur, cs, 1);
        if (g_chance(r, 0.4)) {
            uint32_t ad = g_record_of(c, r, p, RT_ADDRESS);
            if (ad != G_NONE)
                g_emit_view(c, t, oi, ad, A_VIEW, pur, cs);
        }
        if (sc->kind == CU_GEN_SC_FAMILY && g_chance(r, 0.15)) {
            uint32_t ri = g_record_of(c, r, p, -1);
            if (ri != G_NONE)
                g_emit_view(c, nxt(c, t, end, 30, 300), oi, ri, A_PRINT, pur, cs);
        }
        break;
    }
    case CU_GEN_SC_VICTIM: {
        /* each act is one victim: the crime report, then where she lives */
        uint32_t idx = 0;
        for (size_t k = 0; k < sc->nacts; k++)
            if (&sc->acts[k] == a)
                idx = (uint32_t)k;
        uint32_t p = sc->subjects[idx % sc->nsubj];
        const g_case *cs = cover_case(c, oi, t, 0.25);
        uint32_t cr = g_record_of(c, r, p, RT_CRIME);
        if (cr != G_NONE) {
            g_emit_view(c, t, oi, cr, A_VIEW, P_INVESTIGATION, cs);
            t = nxt(c, t, end, 300, 1800);
        } else {
            t = lookup(c, oi, t, end, p, RT_NOMINAL, P_INVESTIGATION, cs, 1);
        }
        uint32_t ad = g_record_of(c, r, p, RT_ADDRESS);
        if (ad == G_NONE)
            ad = g_record_of(c, r, p, RT_NOMINAL);
        if (ad != G_NONE)
            g_emit_view(c, t, oi, ad, A_VIEW, P_INVESTIGATION, cs);
        break;
    }
    case CU_GEN_SC_TIPOFF: {
        uint8_t pur = cover_purpose(c);
        unsigned n = g_range(r, 1, 2);
        for (unsigned k = 0; k < n; k++) {
            uint32_t p = sc->subjects[g_below(r, sc->nsubj)];
            t = lookup(c, oi, t, end, p, g_chance(r, 0.6) ? RT_NOMINAL : RT_VEHICLE, pur, NULL, 1);
        }
        break;
    }
    case CU_GEN_SC_MEDIA: {
        uint32_t p = sc->subjects[g_below(r, sc->nsubj)];
        uint8_t pur = cover_purpose(c);
        t = lookup(c, oi, t, end, p, RT_NOMINAL, pur, NULL, 1);
        uint32_t ri = g_record_of(c, r, p, -1);
        if (ri != G_NONE)
            g_emit_view(c, t, oi, ri, g_chance(r, 0.35) ? A_PRINT : A_VIEW, pur, NULL);
        break;
    }
    case CU_GEN_SC_RING: {
        uint32_t p = sc->subjects[g_below(r, sc->nsubj)];
        const g_case *cs = cover_case(c, oi, t, 0.5);
        lookup(c, oi, t, end, p, RT_INTEL, P_INTELLIGENCE, cs, g_chance(r, 0.4));
        break;
    }
    case CU_GEN_SC_COLLEAGUE_LOGIN: {
        uint32_t b = sc->other;
        g_ev *e = g_emit(c, t, oi, A_LOGIN, SYS_RMS, P_OTHER);
        g_ev_at(c, e, b);
        uint8_t area = c->off[b].st.area == G_HQ_AREA ? 0 : c->off[b].st.area;
        for (unsigned k = 0; k < a->count; k++) {
            t = nxt(c, t, end, 30, 400);
            uint32_t p = g_random_person(c, r, area);
            if (k == 0 && c->nflagged[0])
                p = c->flagged[0][g_below(r, c->nflagged[0])];
            if (p == G_NONE)
                continue;
            add_subject(sc, p);
            size_t first = c->nev;
            t = lookup(c, oi, t, end, p, -1, cover_purpose(c), NULL, 1);
            for (size_t j = first; j < c->nev; j++)
                g_ev_at(c, &c->ev[j], b);
        }
        e = g_emit(c, nxt(c, t, end, 30, 300), oi, A_LOGOUT, SYS_RMS, P_OTHER);
        g_ev_at(c, e, b);
        break;
    }
    case CU_GEN_SC_BULK_EXPORT: {
        const g_officer *o = &c->off[oi];
        uint8_t area = o->st.area == G_HQ_AREA ? 0 : o->st.area;
        for (unsigned k = 0; k < a->count; k++) {
            uint32_t ri = G_NONE;
            const g_case *cs = NULL;
            if (g_chance(r, 0.3)) {
                uint32_t s = g_unrelated_case(c, r, oi, t);
                if (s != G_NONE && c->cases[s].nrec) {
                    cs = &c->cases[s];
                    ri = cs->records[g_below(r, (uint32_t)cs->nrec)];
                }
            }
            if (ri == G_NONE) {
                uint32_t p = g_random_person(c, r, area);
                if (p != G_NONE)
                    ri = g_record_of(c, r, p, -1);
            }
            if (ri == G_NONE)
                continue;
            if (sc->nsubj < G_MAX_SC_SUBJECTS && c->rec[ri].nsubj)
                add_subject(sc, c->rsubj[c->rec[ri].subj_off]);
            g_emit_view(c, t, oi, ri, g_chance(r, 0.85) ? A_EXPORT : A_PRINT, P_INVESTIGATION, cs);
            t = nxt(c, t, end, 10, 90);
        }
        break;
    }
    case CU_GEN_SC_TRAWLING: {
        const g_officer *o = &c->off[oi];
        uint8_t area = o->st.area == G_HQ_AREA || g_chance(r, 0.3) ? (uint8_t)g_below(r, c->nareas) : o->st.area;
        uint8_t pur = cover_purpose(c);
        g_ev *e = g_emit(c, t, oi, A_SEARCH, g_chance(r, 0.5) ? SYS_RMS : SYS_PNC, pur);
        uint32_t results = g_range(r, 30, 200);
        uint32_t listed = results < G_MAX_SUBJ_LIST ? results : G_MAX_SUBJ_LIST;
        for (unsigned tries = 0; e->nsubj < listed && tries < listed * 20; tries++) {
            uint32_t p = g_random_person(c, r, area);
            if (p == G_NONE)
                break;
            int female = c->per[p].extra & PX_FEMALE;
            if (!female && g_chance(r, 0.85))
                continue; /* the attribute search returns mostly women */
            g_emit_subject(c, e, p);
        }
        e->results = results;
        uint32_t first = e->subj_off, n = e->nsubj;
        unsigned views = g_range(r, 2, 5);
        for (unsigned k = 0; k < views && n; k++) {
            t = nxt(c, t, end, 30, 400);
            uint32_t p = c->sub[first + g_below(r, n)];
            add_subject(sc, p);
            uint32_t ri = g_record_of(c, r, p, g_chance(r, 0.5) ? RT_ADDRESS : RT_NOMINAL);
            if (ri == G_NONE)
                ri = g_record_of(c, r, p, -1);
            if (ri != G_NONE)
                g_emit_view(c, t, oi, ri, A_VIEW, pur, NULL);
        }
        break;
    }
    case CU_GEN_SC_NEW_ACCESS: {
        uint8_t pur = c->off[oi].st.unit == U_INT ? P_INTELLIGENCE : P_INVESTIGATION;
        for (unsigned k = 0; k < a->count; k++) {
            uint32_t p = G_NONE;
            int bits[] = {0, 3, 2};
            int bit = bits[g_below(r, 3)];
            if (c->nda && g_chance(r, 0.3))
                p = c->da_victims[g_below(r, c->nda)];
            else if (c->nflagged[bit])
                p = c->flagged[bit][g_below(r, c->nflagged[bit])];
            if (p == G_NONE)
                continue;
            add_subject(sc, p);
            t = lookup(c, oi, t, end, p, RT_INTEL, pur, NULL, g_chance(r, 0.5));
        }
        break;
    }
    default: break;
    }
}

void g_scen_day(g_ctx *c, int32_t day)
{
    uint32_t saved = c->cur_label, sb = c->cur_benign;
    c->cur_benign = 0;
    for (size_t i = 0; i < c->nscen; i++) {
        g_scen *sc = &c->scen[i];
        c->cur_label = (uint32_t)i + 1;
        for (size_t k = 0; k < sc->nacts; k++)
            if (sc->acts[k].day == day)
                emit_act(c, sc, &sc->acts[k]);
    }
    c->cur_label = saved;
    c->cur_benign = sb;
}
