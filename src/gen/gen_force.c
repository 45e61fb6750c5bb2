/*
 * gen force: builds the synthetic force (areas, units, officers, population,
 * records, the cases live at the start, planned officer changes) and writes
 * the static part of reference.jsonl.
 *
 * Invariants:
 *   - Persons of one household are consecutive and share household (the index
 *     of the first member) and address; the first one or two members are the
 *     adults.  Every person has at least one record (the force record
 *     system's nominal), so a look-up of anyone can end in a view.
 *   - Case slots are recycled: a slot is live from creation until its case is
 *     closed; officers' case lists hold only live slots.
 *   - Rota, leave and sickness are stateless functions of (seed, officer,
 *     day), so scenarios can plan on them before the day loop runs.
 */
#include "gen/gen_int.h"

#include <stdlib.h>

/* ============================================================ unit tables */

typedef struct { uint8_t v; uint16_t w; } wpick;

static const uint16_t unit_share[U_COUNT] = {280, 150, 130, 45, 55, 40, 70, 30, 30, 170, 0};
static const wpick unit_roles[U_COUNT][4] = {
    [U_RESP] = {{R_PC, 84}, {R_PS, 13}, {R_PI, 3}},
    [U_NHD] = {{R_PC, 65}, {R_PCSO, 25}, {R_PS, 10}},
    [U_CID] = {{R_DC, 72}, {R_DS, 20}, {R_DI, 8}},
    [U_CUST] = {{R_PS, 35}, {R_PC, 15}, {R_DDO, 50}},
    [U_INT] = {{R_ANALYST, 55}, {R_DC, 30}, {R_DS, 15}},
    [U_TRAF] = {{R_PC, 85}, {R_PS, 15}},
    [U_PPU] = {{R_DC, 75}, {R_DS, 20}, {R_DI, 5}},
    [U_CT] = {{R_DC, 55}, {R_DS, 20}, {R_ANALYST, 20}, {R_DI, 5}},
    [U_MIT] = {{R_DC, 65}, {R_DS, 20}, {R_DI, 10}, {R_ANALYST, 5}},
    [U_STAFF] = {{R_STAFF, 100}},
    [U_TRAIN] = {{R_TRAINER, 100}},
};
static const wpick unit_shifts[U_COUNT][4] = {
    [U_RESP] = {{SH_EARLIES, 34}, {SH_LATES, 33}, {SH_NIGHTS, 33}},
    [U_NHD] = {{SH_DAYS, 50}, {SH_EARLIES, 25}, {SH_LATES, 25}},
    [U_CID] = {{SH_DAYS, 70}, {SH_OFFICE, 20}, {SH_LATES, 10}},
    [U_CUST] = {{SH_EARLIES, 34}, {SH_LATES, 33}, {SH_NIGHTS, 33}},
    [U_INT] = {{SH_OFFICE, 100}},
    [U_TRAF] = {{SH_EARLIES, 40}, {SH_LATES, 35}, {SH_NIGHTS, 25}},
    [U_PPU] = {{SH_DAYS, 50}, {SH_OFFICE, 50}},
    [U_CT] = {{SH_OFFICE, 70}, {SH_DAYS, 30}},
    [U_MIT] = {{SH_DAYS, 100}},
    [U_STAFF] = {{SH_OFFICE, 100}},
    [U_TRAIN] = {{SH_OFFICE, 100}},
};
static const wpick unit_vetting[U_COUNT][4] = {
    [U_RESP] = {{V_RV, 40}, {V_NPPV2, 60}},
    [U_NHD] = {{V_RV, 50}, {V_NPPV2, 50}},
    [U_CID] = {{V_NPPV2, 70}, {V_NPPV3, 30}},
    [U_CUST] = {{V_NPPV2, 80}, {V_RV, 20}},
    [U_INT] = {{V_NPPV3, 60}, {V_SC, 35}, {V_CTC, 5}},
    [U_TRAF] = {{V_RV, 60}, {V_NPPV2, 40}},
    [U_PPU] = {{V_NPPV3, 70}, {V_NPPV2, 30}},
    [U_CT] = {{V_SC, 50}, {V_ESC, 25}, {V_DV, 15}, {V_CTC, 10}},
    [U_MIT] = {{V_NPPV3, 70}, {V_SC, 30}},
    [U_STAFF] = {{V_NPPV1, 50}, {V_RV, 30}, {V_MV, 20}},
    [U_TRAIN] = {{V_NPPV1, 100}},
};
/* validity of a vetting clearance, years */
static const uint8_t vet_years[V_COUNT] = {10, 10, 5, 7, 7, 5, 10, 7, 7};

static uint8_t pick(g_rng *r, const wpick *t)
{
    unsigned tot = 0;
    for (int i = 0; i < 4 && t[i].w; i++)
        tot += t[i].w;
    unsigned x = g_below(r, tot);
    for (int i = 0; i < 4 && t[i].w; i++) {
        if (x < t[i].w)
            return t[i].v;
        x -= t[i].w;
    }
    return t[0].v;
}

static int unit_is_hq(uint8_t u) { return u == U_TRAF || u == U_CT || u == U_MIT || u == U_TRAIN; }

static uint8_t rota_of(uint8_t shift)
{
    switch (shift) {
    case SH_OFFICE: return ROTA_WEEKDAYS;
    case SH_DAYS: return ROTA_5ON3OFF;
    default: return ROTA_4ON4OFF;
    }
}

int g_vet_rank(uint8_t v)
{
    static const int rank[V_COUNT] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    return rank[v];
}

static uint8_t random_unit(g_rng *r)
{
    unsigned x = g_below(r, 1000);
    for (uint8_t u = 0; u < U_COUNT; u++) {
        if (x < unit_share[u])
            return u;
        x -= unit_share[u];
    }
    return U_STAFF;
}

/* ================================================================ rota */

static int rota_on(uint8_t rota, uint8_t phase, int32_t day)
{
    switch (rota) {
    case ROTA_WEEKDAYS: return ((day % 7 + 7 + 3) % 7) < 5; /* 1970-01-01 was a Thursday */
    case ROTA_5ON3OFF: return (uint32_t)(day + phase) % 8 < 5;
    default: return (uint32_t)(day + phase) % 8 < 4;
    }
}

int g_on_duty(const g_ctx *c, uint32_t oi, int32_t day)
{
    const g_officer *o = &c->off[oi];
    if (day < o->start_day || day >= o->end_day)
        return 0;
    if (!rota_on(o->rota, o->phase, day))
        return 0;
    /* leave: blocks of 20 days, one in five starts with 8 days off (about
     * 25 working days a year); sickness: short spells, about 2% of days */
    uint32_t k = (uint32_t)day + (uint32_t)o->phase * 5u;
    if (g_hash3(c->cfg->seed, oi, k / 20 * 2 + 1) % 100 < 20 && k % 20 < 8)
        return 0;
    if (g_hash3(c->cfg->seed ^ 0x5151, oi, (uint32_t)day / 6) % 1000 < 22)
        return 0;
    return 1;
}

int g_shift_window(const g_ctx *c, uint32_t oi, const g_ostate *st, int32_t day, int64_t *s, int64_t *e)
{
    const g_officer *o = &c->off[oi];
    int64_t base = (int64_t)day * 86400, a, b;
    int jitter = (int)(g_hash3(c->cfg->seed, oi, (uint64_t)day + 77) % 21) - 10;
    switch (st->shift) {
    case SH_EARLIES: a = 7 * 3600; b = 15 * 3600; break;
    case SH_LATES: a = 15 * 3600; b = 23 * 3600; break;
    case SH_NIGHTS: a = 22 * 3600; b = 31 * 3600; break;
    case SH_DAYS: a = 8 * 3600; b = 18 * 3600; break;
    default:
        a = (int64_t)o->office_start_min * 60;
        b = a + 510 * 60;
        break;
    }
    a = base + a + jitter * 60;
    b = base + b + jitter * 60;
    int64_t lo = (int64_t)c->day0 * 86400, hi = (int64_t)(c->day0 + c->ndays) * 86400;
    int64_t elo = (int64_t)o->start_day * 86400, ehi = o->end_day == INT32_MAX ? hi : (int64_t)o->end_day * 86400;
    if (a < lo) a = lo;
    if (a < elo) a = elo;
    if (a < base) a = base;
    if (b > hi) b = hi;
    if (b > ehi) b = ehi;
    if (b - a < 20 * 60)
        return 0;
    *s = a;
    *e = b;
    return 1;
}

/* ============================================================== persons */

static int add_flagged(g_ctx *c, int bit, uint32_t p, size_t *caps)
{
    if (cu_grow(&c->flagged[bit], &caps[bit], c->nflagged[bit] + 1, sizeof(uint32_t), 16, false))
        return -1;
    c->flagged[bit][c->nflagged[bit]++] = p;
    return 0;
}

static int push_u32(uint32_t **v, uint32_t *n, size_t *cap, uint32_t x)
{
    if (cu_grow(v, cap, (size_t)*n + 1, sizeof(uint32_t), 16, false))
        return -1;
    (*v)[(*n)++] = x;
    return 0;
}

static int is_adult(const g_ctx *c, uint32_t p)
{
    int64_t y;
    unsigned m, d;
    cu_civil_from_days(c->day0, &y, &m, &d);
    return (int64_t)c->per[p].born <= y - 18;
}

static cu_rc build_persons(g_ctx *c)
{
    g_rng *r = &c->rng;
    uint32_t n = c->cfg->officers * 6u;
    if (n < 600)
        n = 600;
    uint32_t ntest = 12;
    c->nper = n + ntest;
    c->per = cu_calloc(c->nper, sizeof(g_person));
    if (!c->per)
        return CU_ERR_NOMEM;
    int64_t year;
    unsigned mo, dd;
    cu_civil_from_days(c->day0, &year, &mo, &dd);
    static const uint8_t hsize[] = {1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5};
    uint32_t i = 0, prev_family = 0;
    while (i < n) {
        uint32_t sz = hsize[g_below(r, sizeof hsize)];
        if (sz > n - i)
            sz = n - i;
        uint8_t area = (uint8_t)g_below(r, c->nareas);
        int community = g_chance(r, 0.02);
        uint16_t surname = (uint16_t)g_below(r, community ? g_ncommunity_surnames : g_nsurnames);
        uint32_t family = g_chance(r, 0.15) && i ? prev_family : i;
        uint8_t first_sex = (uint8_t)g_below(r, 2);
        for (uint32_t k = 0; k < sz; k++) {
            g_person *p = &c->per[i + k];
            p->household = i;
            p->family = family;
            p->area = area;
            p->surname = surname;
            p->community = (uint8_t)(community ? 1 + (surname % 2) : 0);
            if (community)
                p->extra |= PX_COMMUNITY;
            int adult = k < 2;
            int female = k == 0 ? first_sex : k == 1 ? (g_chance(r, 0.9) ? !first_sex : first_sex) : (int)g_below(r, 2);
            if (female)
                p->extra |= PX_FEMALE;
            p->given = (uint16_t)g_below(r, female ? g_ngiven_f : g_ngiven_m);
            p->born = (uint16_t)(adult ? year - 19 - (int64_t)g_below(r, 60) : year - 1 - (int64_t)g_below(r, 17));
            if (g_chance(r, 0.005))
                p->extra |= PX_ALIAS;
        }
        prev_family = family;
        i += sz;
    }
    for (uint32_t k = 0; k < ntest; k++) {
        g_person *p = &c->per[n + k];
        p->household = n + k;
        p->family = n + k;
        p->area = G_HQ_AREA;
        p->extra = PX_TEST | (k % 2 ? PX_FEMALE : 0);
        p->born = (uint16_t)(year - 30);
    }
    /* flags on adults, with a floor so that small forces still have some */
    static const struct { int bit; double p; uint32_t floor; } fl[] = {
        {0, 0.004, 12}, {1, 0.0015, 10}, {2, 0.01, 10}, {3, 0.002, 6},
        {4, 0.004, 24}, {6, 0.005, 3},   {7, 0.0015, 10},
    };
    for (uint32_t p = 0; p < n; p++) {
        if (!is_adult(c, p))
            continue;
        for (size_t f = 0; f < sizeof fl / sizeof fl[0]; f++)
            if (g_chance(r, fl[f].p))
                c->per[p].flags |= (uint8_t)(1u << fl[f].bit);
        if ((c->per[p].extra & PX_FEMALE) && g_chance(r, 0.02))
            c->per[p].extra |= PX_DA_VICTIM;
        if (g_chance(r, 0.001))
            c->per[p].extra |= PX_CT;
    }
    for (size_t f = 0; f < sizeof fl / sizeof fl[0]; f++) {
        uint32_t have = 0;
        for (uint32_t p = 0; p < n; p++)
            have += (c->per[p].flags >> fl[f].bit) & 1;
        for (uint32_t t = 0; have < fl[f].floor && t < fl[f].floor * 50; t++) {
            uint32_t p = g_below(r, n);
            if (is_adult(c, p) && !(c->per[p].flags & (1u << fl[f].bit))) {
                c->per[p].flags |= (uint8_t)(1u << fl[f].bit);
                have++;
            }
        }
    }
    uint32_t nda = 0, nct = 0;
    for (uint32_t p = 0; p < n; p++) {
        nda += !!(c->per[p].extra & PX_DA_VICTIM);
        nct += !!(c->per[p].extra & PX_CT);
    }
    for (uint32_t t = 0; (nda < 15 || nct < 6) && t < 100000; t++) {
        uint32_t p = g_below(r, n);
        if (!is_adult(c, p) || c->per[p].flags)
            continue;
        if (nda < 15 && (c->per[p].extra & PX_FEMALE) && !(c->per[p].extra & PX_DA_VICTIM)) {
            c->per[p].extra |= PX_DA_VICTIM;
            nda++;
        } else if (nct < 6 && !(c->per[p].extra & (PX_CT | PX_DA_VICTIM))) {
            c->per[p].extra |= PX_CT;
            nct++;
        }
    }
    /* persons by area (CSR) */
    c->area_per_off = cu_calloc(G_MAX_AREAS + 2, sizeof(uint32_t));
    c->area_per = cu_malloc((size_t)c->nper * sizeof(uint32_t));
    if (!c->area_per_off || !c->area_per)
        return CU_ERR_NOMEM;
    for (uint32_t p = 0; p < c->nper; p++)
        c->area_per_off[c->per[p].area + 1]++;
    for (int a = 0; a <= G_MAX_AREAS; a++)
        c->area_per_off[a + 1] += c->area_per_off[a];
    uint32_t fillpos[G_MAX_AREAS + 1];
    memcpy(fillpos, c->area_per_off, sizeof fillpos);
    for (uint32_t p = 0; p < c->nper; p++)
        c->area_per[fillpos[c->per[p].area]++] = p;
    /* lists */
    size_t caps[8] = {0}, capda = 0, capct = 0, capcom = 0, captest = 0;
    for (uint32_t p = 0; p < c->nper; p++) {
        for (int b = 0; b < 8; b++)
            if ((c->per[p].flags >> b) & 1)
                if (add_flagged(c, b, p, caps))
                    return CU_ERR_NOMEM;
        if ((c->per[p].extra & PX_DA_VICTIM) && push_u32(&c->da_victims, &c->nda, &capda, p))
            return CU_ERR_NOMEM;
        if ((c->per[p].extra & PX_CT) && push_u32(&c->ct_subjects, &c->nct, &capct, p))
            return CU_ERR_NOMEM;
        if ((c->per[p].extra & PX_COMMUNITY) && is_adult(c, p) && push_u32(&c->community, &c->ncommunity, &capcom, p))
            return CU_ERR_NOMEM;
        if ((c->per[p].extra & PX_TEST) && push_u32(&c->test_persons, &c->ntest, &captest, p))
            return CU_ERR_NOMEM;
    }
    /* frequent callers: two per area, complainants every shift knows */
    c->callers = cu_malloc(sizeof(uint32_t) * G_MAX_AREAS * 2);
    if (!c->callers)
        return CU_ERR_NOMEM;
    for (uint32_t a = 0; a < G_MAX_AREAS; a++)
        for (int k = 0; k < 2; k++) {
            uint32_t p = G_NONE;
            if (a < c->nareas)
                for (int t = 0; t < 200 && p == G_NONE; t++) {
                    uint32_t q = g_random_person(c, r, (uint8_t)a);
                    if (q != G_NONE && is_adult(c, q) && !c->per[q].flags && !(c->per[q].extra & PX_CALLER))
                        p = q;
                }
            if (p != G_NONE)
                c->per[p].extra |= PX_CALLER;
            c->callers[a * 2 + (uint32_t)k] = p;
        }
    return CU_OK;
}

uint32_t g_random_person(g_ctx *c, g_rng *r, uint8_t area)
{
    uint32_t lo = c->area_per_off[area], hi = c->area_per_off[area + 1];
    if (hi <= lo)
        return G_NONE;
    return c->area_per[lo + g_below(r, hi - lo)];
}

/* ============================================================== records */

static int new_record(g_ctx *c, size_t *caprec, size_t *capsubj, uint8_t type, uint8_t sys, uint8_t cls,
                      uint8_t caveats, uint8_t area, uint8_t category, const uint32_t *subj, unsigned nsubj)
{
    if (cu_grow(&c->rec, caprec, (size_t)c->nrec + 1, sizeof(g_record), 16, false) ||
        cu_grow(&c->rsubj, capsubj, c->nrsubj + nsubj, sizeof(uint32_t), 16, false))
        return -1;
    g_record *rc = &c->rec[c->nrec++];
    rc->subj_off = (uint32_t)c->nrsubj;
    rc->nsubj = (uint8_t)nsubj;
    rc->type = type;
    rc->system = sys;
    rc->cls = cls;
    rc->caveats = caveats;
    rc->area = area;
    rc->category = category;
    memcpy(c->rsubj + c->nrsubj, subj, nsubj * sizeof(uint32_t));
    c->nrsubj += nsubj;
    return 0;
}

static cu_rc build_records(g_ctx *c)
{
    g_rng *r = &c->rng;
    size_t caprec = 0, capsubj = 0;
    for (uint32_t p = 0; p < c->nper; p++) {
        g_person *ps = &c->per[p];
        uint8_t a = ps->area;
        int adult = is_adult(c, p);
        uint32_t self[2] = {p, G_NONE};
        /* the household's address record comes with its first member */
        if (ps->household == p) {
            uint32_t members[6];
            unsigned nm = 0;
            for (uint32_t q = p; q < c->nper && c->per[q].household == p && nm < 6; q++)
                members[nm++] = q;
            int needed = 0;
            for (unsigned k = 0; k < nm; k++)
                needed |= (c->per[members[k]].extra & PX_DA_VICTIM) || (c->per[members[k]].flags & F_PROTECTED);
            if ((needed || g_chance(r, 0.6)) && !(ps->extra & PX_TEST))
                if (new_record(c, &caprec, &capsubj, RT_ADDRESS, SYS_RMS, CL_OFFICIAL, 0, a, 0, members, nm))
                    return CU_ERR_NOMEM;
        }
        uint8_t cav = 0;
        if (ps->flags & F_PROTECTED)
            cav |= CV_SAFEGUARDING;
        if (ps->flags & (F_VIP | F_HIGH_PROFILE))
            cav |= CV_VIP;
        if (new_record(c, &caprec, &capsubj, RT_NOMINAL, SYS_RMS, cav ? CL_OS : CL_OFFICIAL, cav, a, 0, self, 1))
            return CU_ERR_NOMEM;
        if (ps->extra & PX_TEST)
            continue;
        if (!adult)
            continue;
        if (g_chance(r, 0.22) || (ps->extra & PX_CT) || (ps->flags & (F_INFORMANT | F_VIP | F_HIGH_PROFILE)))
            if (new_record(c, &caprec, &capsubj, RT_NOMINAL, SYS_PNC, CL_OS, cav & CV_VIP, a, 0, self, 1))
                return CU_ERR_NOMEM;
        if (g_chance(r, 0.40) || (ps->flags & (F_VIP | F_HIGH_PROFILE)))
            if (new_record(c, &caprec, &capsubj, RT_VEHICLE, SYS_PNC, CL_OFFICIAL, 0, a, 0, self, 1))
                return CU_ERR_NOMEM;
        if (g_chance(r, 0.07) || (ps->flags & F_ACTIVIST) || (ps->extra & PX_COMMUNITY && g_chance(r, 0.3)))
            if (new_record(c, &caprec, &capsubj, RT_INTEL, SYS_PND, g_chance(r, 0.2) ? CL_SECRET : CL_OS, 0, a, 0,
                           self, 1))
                return CU_ERR_NOMEM;
        if (ps->flags & F_INFORMANT)
            if (new_record(c, &caprec, &capsubj, RT_INTEL, SYS_PND, CL_SECRET, CV_INFORMANT, a, 0, self, 1))
                return CU_ERR_NOMEM;
        if (ps->extra & PX_CT)
            if (new_record(c, &caprec, &capsubj, RT_INTEL, SYS_PND, g_chance(r, 0.1) ? CL_TS : CL_SECRET, CV_CT, a,
                           0, self, 1))
                return CU_ERR_NOMEM;
        if (g_chance(r, 0.08)) {
            uint32_t s2[2] = {p, g_random_person(c, r, a)};
            unsigned ns = s2[1] != G_NONE && s2[1] != p && g_chance(r, 0.5) ? 2 : 1;
            if (new_record(c, &caprec, &capsubj, RT_CRIME, SYS_RMS, CL_OS, 0, a, (uint8_t)(1 + g_below(r, 5)), s2, ns))
                return CU_ERR_NOMEM;
        }
        if (ps->extra & PX_DA_VICTIM) {
            uint32_t s2[2] = {p, G_NONE};
            unsigned ns = 1;
            uint32_t h = ps->household;
            for (uint32_t q = h; q < h + 2 && q < c->nper && c->per[q].household == h; q++)
                if (q != p) {
                    s2[1] = q;
                    ns = 2;
                }
            if (new_record(c, &caprec, &capsubj, RT_CRIME, SYS_RMS, CL_OS, CV_PPU | CV_SAFEGUARDING, a, 6, s2, ns))
                return CU_ERR_NOMEM;
        }
        if (g_chance(r, 0.05))
            if (new_record(c, &caprec, &capsubj, RT_CUSTODY, SYS_RMS, CL_OS, 0, a, 0, self, 1))
                return CU_ERR_NOMEM;
        if (g_chance(r, 0.02))
            if (new_record(c, &caprec, &capsubj, RT_LICENCE, SYS_RMS, CL_OFFICIAL, 0, a, 0, self, 1))
                return CU_ERR_NOMEM;
    }
    /* records by person (CSR over every subject) */
    c->per_rec_off = cu_calloc((size_t)c->nper + 1, sizeof(uint32_t));
    c->per_rec = cu_malloc((c->nrsubj ? c->nrsubj : 1) * sizeof(uint32_t));
    if (!c->per_rec_off || !c->per_rec)
        return CU_ERR_NOMEM;
    for (size_t k = 0; k < c->nrsubj; k++)
        c->per_rec_off[c->rsubj[k] + 1]++;
    for (uint32_t p = 0; p < c->nper; p++)
        c->per_rec_off[p + 1] += c->per_rec_off[p];
    uint32_t *fill = cu_malloc((size_t)c->nper * sizeof(uint32_t));
    if (!fill)
        return CU_ERR_NOMEM;
    memcpy(fill, c->per_rec_off, (size_t)c->nper * sizeof(uint32_t));
    for (uint32_t ri = 0; ri < c->nrec; ri++)
        for (unsigned k = 0; k < c->rec[ri].nsubj; k++)
            c->per_rec[fill[c->rsubj[c->rec[ri].subj_off + k]]++] = ri;
    cu_free(fill);
    return CU_OK;
}

uint32_t g_record_of(g_ctx *c, g_rng *r, uint32_t p, int type)
{
    uint32_t lo = c->per_rec_off[p], hi = c->per_rec_off[p + 1];
    if (hi <= lo)
        return G_NONE;
    if (type < 0)
        return c->per_rec[lo + g_below(r, hi - lo)];
    uint32_t start = g_below(r, hi - lo);
    for (uint32_t k = 0; k < hi - lo; k++) {
        uint32_t ri = c->per_rec[lo + (start + k) % (hi - lo)];
        if (c->rec[ri].type == type)
            return ri;
    }
    return G_NONE;
}

/* ============================================================== officers */

static void random_vetting(g_ctx *c, g_rng *r, g_ostate *st, int32_t start_day)
{
    st->vet = pick(r, unit_vetting[st->unit]);
    int32_t years = vet_years[st->vet];
    /* granted at joining or at the last renewal before the period */
    int32_t granted = start_day;
    while (granted + years * 365 < c->day0)
        granted += years * 365;
    granted += (int32_t)g_below(r, 40);
    if (granted > c->day0 && start_day <= c->day0)
        granted = c->day0 - (int32_t)g_below(r, 300) - 1;
    if (granted < start_day)
        granted = start_day;
    st->vet_granted = granted;
    st->vet_expires = granted + years * 365 + years / 4;
}

static int add_relation(g_officer *o, uint32_t p, uint8_t type)
{
    if (o->nrel >= G_MAX_REL)
        return 0;
    for (unsigned k = 0; k < o->nrel; k++)
        if (o->rel_person[k] == p)
            return 0;
    o->rel_person[o->nrel] = p;
    o->rel_type[o->nrel++] = type;
    return 1;
}

static cu_rc build_officers(g_ctx *c)
{
    g_rng *r = &c->rng;
    uint32_t n = c->cfg->officers;
    c->noff = n;
    c->off = cu_calloc(n, sizeof(g_officer));
    if (!c->off)
        return CU_ERR_NOMEM;
    uint32_t ntrain = 1 + n / 5000;
    double churn = 0.012 * c->ndays / 30.0;
    if (churn > 0.3)
        churn = 0.3;
    for (uint32_t i = 0; i < n; i++) {
        g_officer *o = &c->off[i];
        uint8_t u;
        /* the first officers cover every unit so that a small force has all */
        static const uint8_t first[] = {U_RESP, U_CID, U_CUST, U_INT, U_NHD, U_PPU, U_STAFF, U_TRAF, U_CT, U_MIT,
                                        U_RESP, U_CID, U_INT, U_RESP, U_CUST, U_NHD};
        if (i < sizeof first && i < n)
            u = first[i];
        else if (i >= n - ntrain && n > 40)
            u = U_TRAIN;
        else
            u = random_unit(r);
        o->st.unit = u;
        o->st.area = unit_is_hq(u) ? G_HQ_AREA : (uint8_t)(i < sizeof first ? i % c->nareas : g_below(r, c->nareas));
        o->st.role = pick(r, unit_roles[u]);
        o->st.shift = pick(r, unit_shifts[u]);
        o->rota = rota_of(o->st.shift);
        o->phase = (uint8_t)g_below(r, 8);
        o->office_start_min = (uint16_t)(450 + g_below(r, 121));
        o->terminal = (uint16_t)(1 + g_below(r, 60));
        int32_t service = (int32_t)g_below(r, 30 * 365) + 30;
        o->start_day = c->day0 - service;
        o->end_day = INT32_MAX;
        if (u != U_TRAIN && c->ndays > 2 && i >= sizeof first) {
            if (g_chance(r, churn))
                o->start_day = c->day0 + 1 + (int32_t)g_below(r, (uint32_t)c->ndays - 1);
            else if (g_chance(r, churn))
                o->end_day = c->day0 + 1 + (int32_t)g_below(r, (uint32_t)c->ndays - 1);
        }
        random_vetting(c, r, &o->st, o->start_day);
        /* a few clearances lapse during the period */
        if (g_chance(r, 0.02) && o->start_day < c->day0) {
            o->st.vet_expires = c->day0 + (int32_t)g_below(r, (uint32_t)c->ndays);
            o->st.vet_granted = o->st.vet_expires - vet_years[o->st.vet] * 365;
            if (o->st.vet_granted < o->start_day)
                o->st.vet_granted = o->start_day;
        }
        /* the officer as a person, with declared relations */
        uint8_t home = o->st.area == G_HQ_AREA ? (uint8_t)g_below(r, c->nareas) : o->st.area;
        uint32_t self = G_NONE;
        for (int t = 0; t < 400 && self == G_NONE; t++) {
            uint32_t q = g_random_person(c, r, home);
            if (q != G_NONE && is_adult(c, q) && !(c->per[q].flags & ~(unsigned)F_OFFICER) &&
                !(c->per[q].flags & F_OFFICER) && !(c->per[q].extra & (PX_CALLER | PX_DA_VICTIM | PX_CT)))
                self = q;
        }
        if (self == G_NONE)
            self = g_random_person(c, r, home);
        o->person = self;
        c->per[self].flags |= F_OFFICER;
        add_relation(o, self, REL_SELF);
        uint32_t h = c->per[self].household;
        for (uint32_t q = h; q < c->nper && c->per[q].household == h; q++) {
            if (q == self)
                continue;
            int partner = q < h + 2 && self < h + 2;
            add_relation(o, q, partner ? REL_PARTNER : REL_FAMILY);
        }
        if (g_chance(r, 0.12)) {
            for (int t = 0; t < 50; t++) {
                uint32_t q = g_random_person(c, r, g_chance(r, 0.7) ? home : (uint8_t)g_below(r, c->nareas));
                if (q != G_NONE && c->per[q].household != h && is_adult(c, q) &&
                    (c->per[q].extra & PX_FEMALE) != (c->per[self].extra & PX_FEMALE) && !c->per[q].flags) {
                    add_relation(o, q, REL_EX);
                    break;
                }
            }
        }
        if (g_chance(r, 0.08) && h > 0)
            add_relation(o, c->per[h - 1].household, REL_NEIGHBOUR);
    }
    /* officers by (unit, area) at the start of the period */
    memset(c->ua_start, 0, sizeof c->ua_start);
    for (uint32_t i = 0; i < n; i++)
        c->ua_start[c->off[i].st.unit * (G_MAX_AREAS + 1) + c->off[i].st.area + 1]++;
    for (size_t k = 0; k < U_COUNT * (G_MAX_AREAS + 1); k++)
        c->ua_start[k + 1] += c->ua_start[k];
    c->unit_area_off = cu_malloc((size_t)n * sizeof(uint32_t));
    if (!c->unit_area_off)
        return CU_ERR_NOMEM;
    uint32_t *fill = cu_malloc(sizeof c->ua_start);
    if (!fill)
        return CU_ERR_NOMEM;
    memcpy(fill, c->ua_start, sizeof c->ua_start);
    for (uint32_t i = 0; i < n; i++)
        c->unit_area_off[fill[c->off[i].st.unit * (G_MAX_AREAS + 1) + c->off[i].st.area]++] = i;
    cu_free(fill);
    return CU_OK;
}

uint32_t g_area_officer(g_ctx *c, g_rng *r, uint8_t unit, uint8_t area)
{
    size_t k = (size_t)unit * (G_MAX_AREAS + 1) + area;
    uint32_t lo = c->ua_start[k], hi = c->ua_start[k + 1];
    if (hi <= lo)
        return G_NONE;
    return c->unit_area_off[lo + g_below(r, hi - lo)];
}

/* ================================================================ cases */

int g_officer_has_case(const g_officer *o, uint32_t slot)
{
    for (unsigned k = 0; k < o->ncases; k++)
        if (o->cases[k] == slot)
            return 1;
    return 0;
}

uint32_t g_case_new(g_ctx *c, uint8_t type, uint8_t area, int64_t opened, int64_t closed)
{
    uint32_t slot;
    if (c->nfree) {
        slot = c->free_slots[--c->nfree];
    } else {
        size_t cap = c->capcases;
        if (cu_grow(&c->cases, &cap, (size_t)c->ncases + 1, sizeof(g_case), 16, false)) {
            c->err = CU_ERR_NOMEM;
            return G_NONE;
        }
        c->capcases = (uint32_t)cap;
        slot = c->ncases++;
    }
    g_case *cs = &c->cases[slot];
    memset(cs, 0, sizeof *cs);
    cs->type = type;
    cs->area = area;
    cs->opened = opened;
    cs->closed = closed;
    cs->live = 1;
    cs->area_pos = G_NONE;
    return slot;
}

static int append_u32(g_ctx *c, uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
    for (size_t k = 0; k < *n; k++)
        if ((*v)[k] == x)
            return 0;
    if (cu_grow(v, cap, *n + 1, sizeof(uint32_t), 16, false)) {
        c->err = CU_ERR_NOMEM;
        return 0;
    }
    (*v)[(*n)++] = x;
    return 1;
}

int g_case_add_officer(g_ctx *c, uint32_t slot, uint32_t oi)
{
    g_case *cs = &c->cases[slot];
    if (!append_u32(c, &cs->officers, &cs->nof, &cs->capof, oi))
        return 0;
    g_officer *o = &c->off[oi];
    if (o->ncases < G_MAX_OFF_CASES && !g_officer_has_case(o, slot))
        o->cases[o->ncases++] = slot;
    return 1;
}

int g_case_add_subject(g_ctx *c, uint32_t slot, uint32_t p)
{
    g_case *cs = &c->cases[slot];
    return append_u32(c, &cs->subjects, &cs->nsubj, &cs->capsubj, p);
}

int g_case_add_record(g_ctx *c, uint32_t slot, uint32_t ri)
{
    g_case *cs = &c->cases[slot];
    return append_u32(c, &cs->records, &cs->nrec, &cs->caprec, ri);
}

void g_case_link_person(g_ctx *c, uint32_t slot, uint32_t p, unsigned maxrec)
{
    g_case_add_subject(c, slot, p);
    uint32_t lo = c->per_rec_off[p], hi = c->per_rec_off[p + 1];
    for (uint32_t k = lo; k < hi && k - lo < maxrec; k++)
        g_case_add_record(c, slot, c->per_rec[k]);
}

static int64_t day_time(g_rng *r, int32_t day, int h0, int h1)
{
    return (int64_t)day * 86400 + h0 * 3600 + (int64_t)g_below(r, (uint32_t)(h1 - h0) * 3600);
}

/* A case live at the start: opened before it, closed during or after it. */
static uint32_t initial_case(g_ctx *c, uint8_t type, uint8_t area, int min_days, int max_days)
{
    g_rng *r = &c->rng;
    int32_t dur = min_days + (int32_t)g_below(r, (uint32_t)(max_days - min_days + 1));
    int32_t age = 1 + (int32_t)g_below(r, (uint32_t)dur);
    int64_t opened = day_time(r, c->day0 - age, 8, 18);
    int64_t closed = opened + (int64_t)dur * 86400;
    if (closed >= (int64_t)(c->day0 + c->ndays) * 86400)
        closed = G_NEVER;
    return g_case_new(c, type, area, opened, closed);
}

static uint32_t random_subject(g_ctx *c, uint8_t area, int adult)
{
    for (int t = 0; t < 50; t++) {
        uint32_t p = g_random_person(c, &c->rng, area);
        if (p != G_NONE && (!adult || is_adult(c, p)) && !(c->per[p].extra & PX_TEST))
            return p;
    }
    return g_random_person(c, &c->rng, area);
}

static cu_rc build_cases(g_ctx *c)
{
    g_rng *r = &c->rng;
    for (uint32_t i = 0; i < c->noff; i++) {
        g_officer *o = &c->off[i];
        if (o->start_day > c->day0)
            continue;
        uint8_t u = o->st.unit, a = o->st.area;
        uint8_t pa = a == G_HQ_AREA ? (uint8_t)g_below(r, c->nareas) : a;
        int ncase = 0, type = CT_INVESTIGATION, mind = 20, maxd = 120;
        switch (u) {
        case U_CID: ncase = (int)g_range(r, 2, 5); break;
        case U_PPU: ncase = (int)g_range(r, 2, 4); type = CT_SAFEGUARDING; mind = 30; maxd = 180; break;
        case U_NHD: ncase = o->st.role == R_PCSO ? 0 : (int)g_below(r, 2); break;
        case U_INT:
            if (o->st.role != R_ANALYST && g_chance(r, 0.35)) {
                ncase = 1;
                type = CT_OPERATION;
                mind = 60;
                maxd = 400;
            }
            break;
        case U_CT:
            if (g_chance(r, 0.3)) {
                ncase = 1;
                type = CT_CTOP;
                mind = 90;
                maxd = 500;
            }
            break;
        case U_MIT:
            if (o->st.role == R_DI || g_chance(r, 0.1)) {
                ncase = 1;
                type = CT_MAJOR;
                mind = 60;
                maxd = 300;
            }
            break;
        default: break;
        }
        for (int k = 0; k < ncase; k++) {
            uint32_t slot = initial_case(c, (uint8_t)type, pa, mind, maxd);
            if (slot == G_NONE)
                return CU_ERR_NOMEM;
            g_case_add_officer(c, slot, i);
            unsigned nsub = type == CT_OPERATION ? g_range(r, 5, 10) : type == CT_CTOP ? g_range(r, 2, 5)
                          : type == CT_MAJOR ? g_range(r, 3, 6) : g_range(r, 1, 4);
            unsigned extra_off = type == CT_OPERATION ? g_range(r, 2, 5) : type == CT_CTOP ? g_range(r, 2, 5)
                               : type == CT_MAJOR ? g_range(r, 8, 20) : (g_chance(r, 0.3) ? 1 : 0);
            if (type == CT_SAFEGUARDING && c->nda) {
                for (int t = 0; t < 30; t++) {
                    uint32_t v = c->da_victims[g_below(r, c->nda)];
                    if (c->per[v].area == pa || t == 29) {
                        g_case_link_person(c, slot, v, 3);
                        uint32_t h = c->per[v].household;
                        for (uint32_t q = h; q < h + 2 && c->per[q].household == h; q++)
                            g_case_link_person(c, slot, q, 2);
                        break;
                    }
                }
            } else if (type == CT_CTOP && c->nct) {
                for (unsigned s = 0; s < nsub; s++)
                    g_case_link_person(c, slot, c->ct_subjects[g_below(r, c->nct)], 3);
            } else {
                for (unsigned s = 0; s < nsub; s++)
                    g_case_link_person(c, slot, random_subject(c, pa, 1), 2);
            }
            if (type == CT_MAJOR && c->nflagged[7] && g_chance(r, 0.35)) {
                uint32_t hp = c->flagged[7][g_below(r, c->nflagged[7])];
                g_case_link_person(c, slot, hp, 3);
                c->cases[slot].hp_benign = g_benign_new(c, "major-investigation-high-profile") + 1;
                if (c->cases[slot].hp_benign) {
                    g_benign *b = &c->ben[c->cases[slot].hp_benign - 1];
                    b->case_slot = slot;
                    b->subjects[b->nsubj++] = hp;
                }
            }
            uint8_t team_unit = type == CT_OPERATION ? U_INT : u;
            for (unsigned k2 = 0; k2 < extra_off; k2++) {
                uint32_t m = g_area_officer(c, r, team_unit, a);
                if (type == CT_OPERATION && k2 >= 2)
                    m = g_area_officer(c, r, U_CID, a);
                if (m != G_NONE && c->off[m].start_day <= c->day0 && c->off[m].st.unit != U_TRAIN)
                    g_case_add_officer(c, slot, m);
            }
            if (type == CT_OPERATION || type == CT_CTOP)
                c->cases[slot].name = (uint16_t)(1 + g_below(r, g_nop_words));
        }
    }
    return c->err;
}

/* ============================================================ changes */

int g_add_change(g_ctx *c, const g_change *ch)
{
    if (cu_grow(&c->chg, &c->capchg, c->nchg + 1, sizeof(g_change), 16, false))
        return -1;
    c->chg[c->nchg++] = *ch;
    return 0;
}

static cu_rc plan_changes(g_ctx *c)
{
    g_rng *r = &c->rng;
    if (c->ndays < 2)
        return CU_OK;
    double p_transfer = 0.012 * c->ndays / 30.0, p_band = 0.08 * c->ndays / 30.0;
    if (p_transfer > 0.5) p_transfer = 0.5;
    if (p_band > 0.8) p_band = 0.8;
    for (uint32_t i = 0; i < c->noff; i++) {
        g_officer *o = &c->off[i];
        if (o->st.unit == U_TRAIN)
            continue;
        int32_t lo = o->start_day > c->day0 ? o->start_day + 1 : c->day0 + 1;
        int32_t hi = o->end_day < c->day0 + c->ndays ? o->end_day - 1 : c->day0 + c->ndays - 1;
        if (hi < lo)
            continue;
        g_change ch = {.officer = i, .st = o->st};
        ch.day = lo + (int32_t)g_below(r, (uint32_t)(hi - lo + 1));
        if (g_chance(r, p_transfer)) {
            uint8_t u = random_unit(r);
            if (u == U_TRAIN)
                u = U_CID;
            ch.st.unit = u;
            ch.st.area = unit_is_hq(u) ? G_HQ_AREA : (uint8_t)g_below(r, c->nareas);
            ch.st.role = pick(r, unit_roles[u]);
            ch.st.shift = pick(r, unit_shifts[u]);
            uint8_t need = pick(r, unit_vetting[u]);
            if (g_vet_rank(need) > g_vet_rank(ch.st.vet)) {
                ch.st.vet = need;
                ch.st.vet_granted = ch.day - (int32_t)g_below(r, 20);
                ch.st.vet_expires = ch.st.vet_granted + vet_years[need] * 365;
            }
            ch.kind = 0;
            if (g_add_change(c, &ch))
                return CU_ERR_NOMEM;
            o->busy = 1; /* keep planned transferees out of scenarios */
        } else if (rota_of(o->st.shift) == ROTA_4ON4OFF && g_chance(r, p_band)) {
            static const uint8_t bands[] = {SH_EARLIES, SH_LATES, SH_NIGHTS};
            uint8_t nb = bands[g_below(r, 3)];
            if (nb == o->st.shift)
                nb = bands[(nb - SH_EARLIES + 1) % 3];
            ch.st.shift = nb;
            ch.kind = 1;
            if (g_add_change(c, &ch))
                return CU_ERR_NOMEM;
        } else if (o->st.vet_expires >= c->day0 && o->st.vet_expires < c->day0 + c->ndays - 1 && g_chance(r, 0.5)) {
            /* renewed a little after the lapse */
            ch.day = o->st.vet_expires + 1 + (int32_t)g_below(r, 10);
            if (ch.day >= c->day0 + c->ndays || ch.day >= o->end_day)
                continue;
            ch.st.vet_granted = ch.day;
            ch.st.vet_expires = ch.day + vet_years[ch.st.vet] * 365;
            ch.kind = 2;
            if (g_add_change(c, &ch))
                return CU_ERR_NOMEM;
        }
    }
    return CU_OK;
}

cu_rc g_build_force(g_ctx *c)
{
    cu_rc rc = build_persons(c);
    if (!rc)
        rc = build_records(c);
    if (!rc)
        rc = build_officers(c);
    if (!rc)
        rc = build_cases(c);
    if (!rc)
        rc = plan_changes(c);
    if (rc == CU_ERR_NOMEM)
        return cu_err_set(rc, "out of memory building the force");
    return rc;
}

/* ============================================================ writing */

static void write_unit(g_out *o, uint8_t area, uint8_t unit)
{
    g_lit(o, "\"TP-");
    g_put(o, g_area_codes[area], 2);
    g_ch(o, '-');
    g_put(o, g_unit_code[unit], strlen(g_unit_code[unit]));
    g_ch(o, '"');
}

void g_write_officer(g_ctx *c, uint32_t oi, const g_ostate *st, int32_t valid_from)
{
    g_out *o = &c->ref;
    const g_officer *of = &c->off[oi];
    g_lit(o, "{\"kind\":\"officer\",\"id\":");
    g_officer_id(o, oi);
    g_lit(o, ",\"role\":");
    g_str(o, g_role_name[st->role]);
    g_lit(o, ",\"unit\":");
    write_unit(o, st->area, st->unit);
    g_lit(o, ",\"area\":");
    g_area_code(o, st->area);
    g_lit(o, ",\"vetting\":{\"level\":");
    g_str(o, g_vet_name[st->vet]);
    g_lit(o, ",\"granted\":");
    g_date(o, st->vet_granted);
    g_lit(o, ",\"expires\":");
    g_date(o, st->vet_expires);
    g_lit(o, "},\"shift\":");
    g_str(o, g_shift_name[st->shift]);
    g_lit(o, ",\"start\":");
    g_date(o, of->start_day);
    g_lit(o, ",\"end\":");
    if (of->end_day == INT32_MAX)
        g_lit(o, "null");
    else
        g_date(o, of->end_day);
    g_lit(o, ",\"relations\":[");
    for (unsigned k = 0; k < of->nrel; k++) {
        if (k)
            g_ch(o, ',');
        g_lit(o, "{\"person\":");
        g_person_id(o, of->rel_person[k]);
        g_lit(o, ",\"type\":");
        g_str(o, g_rel_name[of->rel_type[k]]);
        g_ch(o, '}');
    }
    g_lit(o, "],\"rota\":");
    uint8_t rota = rota_of(st->shift);
    g_str(o, rota == ROTA_WEEKDAYS ? "weekdays" : rota == ROTA_5ON3OFF ? "5on3off" : "4on4off");
    g_lit(o, ",\"rota_phase\":");
    g_u(o, of->phase);
    g_lit(o, ",\"terminal\":\"T-");
    g_put(o, g_area_codes[st->area], 2);
    g_ch(o, '-');
    g_u0(o, of->terminal, 4);
    g_ch(o, '"');
    if (valid_from >= 0) {
        g_lit(o, ",\"valid_from\":");
        g_date(o, valid_from);
    }
    g_lit(o, "}\n");
}

static void write_person(g_ctx *c, uint32_t p)
{
    static const char *const flag_names[8] = {"protected", "vip", "witness", "informant",
                                              "activist", "officer", "deceased", "high-profile"};
    g_out *o = &c->ref;
    const g_person *ps = &c->per[p];
    g_lit(o, "{\"kind\":\"person\",\"id\":");
    g_person_id(o, p);
    g_lit(o, ",\"area\":");
    g_area_code(o, ps->area);
    g_lit(o, ",\"flags\":[");
    int first = 1;
    for (int b = 0; b < 8; b++)
        if ((ps->flags >> b) & 1) {
            if (!first)
                g_ch(o, ',');
            first = 0;
            g_str(o, flag_names[b]);
        }
    g_lit(o, "],\"surname\":");
    int female = ps->extra & PX_FEMALE;
    if (ps->extra & PX_TEST) {
        g_lit(o, "\"TESTPERSON\",\"given\":");
        static const char *const tn[] = {"Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"};
        g_str(o, tn[p % 6]);
    } else {
        g_str(o, (ps->extra & PX_COMMUNITY) ? g_community_surnames[ps->surname] : g_surnames[ps->surname]);
        g_lit(o, ",\"given\":");
        g_str(o, female ? g_given_f[ps->given] : g_given_m[ps->given]);
    }
    g_lit(o, ",\"sex\":");
    g_puts(o, female ? "\"F\"" : "\"M\"");
    g_lit(o, ",\"born\":");
    g_u(o, ps->born);
    g_lit(o, ",\"address\":\"A");
    g_u0(o, (uint64_t)ps->household + 1, 7);
    g_lit(o, "\",\"family\":\"F");
    g_u0(o, (uint64_t)ps->family + 1, 7);
    g_ch(o, '"');
    if (ps->extra & PX_ALIAS) {
        /* nicknames in quotes, as recorded: exercises escaping */
        char alias[64];
        snprintf(alias, sizeof alias, "\"%s\" %s", p % 2 ? "Big" : "Little",
                 female ? g_given_f[ps->given] : g_given_m[ps->given]);
        g_lit(o, ",\"alias\":");
        g_str(o, alias);
    }
    if (ps->community) {
        g_lit(o, ",\"community\":");
        g_str(o, ps->community == 1 ? "D1" : "D2");
    }
    if (ps->extra & PX_TEST)
        g_lit(o, ",\"test\":true");
    g_lit(o, "}\n");
}

static void write_record(g_ctx *c, uint32_t ri)
{
    static const char *const cat[] = {"", "theft", "burglary", "assault", "fraud", "criminal-damage",
                                      "domestic-abuse"};
    static const char *const cav[] = {"PPU", "SAFEGUARDING", "INFORMANT", "CT", "OPERATION", "VIP"};
    g_out *o = &c->ref;
    const g_record *rc = &c->rec[ri];
    g_lit(o, "{\"kind\":\"record\",\"id\":");
    g_record_id(o, ri);
    g_lit(o, ",\"type\":");
    g_str(o, g_rtype_name[rc->type]);
    g_lit(o, ",\"system\":");
    g_str(o, g_sys_name[rc->system]);
    g_lit(o, ",\"subjects\":[");
    for (unsigned k = 0; k < rc->nsubj; k++) {
        if (k)
            g_ch(o, ',');
        g_person_id(o, c->rsubj[rc->subj_off + k]);
    }
    g_lit(o, "],\"area\":");
    g_area_code(o, rc->area);
    g_lit(o, ",\"classification\":");
    g_str(o, g_class_name[rc->cls]);
    g_lit(o, ",\"caveats\":[");
    int first = 1;
    for (int b = 0; b < 6; b++)
        if ((rc->caveats >> b) & 1) {
            if (!first)
                g_ch(o, ',');
            first = 0;
            g_str(o, cav[b]);
        }
    g_ch(o, ']');
    if (rc->type == RT_CRIME) {
        g_lit(o, ",\"category\":");
        g_str(o, cat[rc->category < 7 ? rc->category : 0]);
        g_lit(o, ",\"victim\":");
        g_person_id(o, c->rsubj[rc->subj_off]);
    }
    g_lit(o, "}\n");
}

void g_write_case(g_ctx *c, g_case *cs)
{
    g_out *o = &c->ref;
    if (!cs->seq) {
        int64_t y;
        unsigned m, d;
        int64_t day = cs->opened >= 0 ? cs->opened / 86400 : -1;
        cu_civil_from_days(day, &y, &m, &d);
        if (y < 1900) y = 1900;
        if (y > 2199) y = 2199;
        cs->year = (uint16_t)y;
        cs->seq = ++c->case_seq[y - 1900];
    }
    g_lit(o, "{\"kind\":\"case\",\"id\":");
    g_case_id(o, cs->year, cs->seq);
    g_lit(o, ",\"opened\":");
    g_ts(o, cs->opened);
    g_lit(o, ",\"closed\":");
    if (cs->closed == G_NEVER)
        g_lit(o, "null");
    else
        g_ts(o, cs->closed);
    g_lit(o, ",\"area\":");
    g_area_code(o, cs->area);
    g_lit(o, ",\"officers\":[");
    for (size_t k = 0; k < cs->nof; k++) {
        if (k)
            g_ch(o, ',');
        g_officer_id(o, cs->officers[k]);
    }
    g_lit(o, "],\"subjects\":[");
    for (size_t k = 0; k < cs->nsubj; k++) {
        if (k)
            g_ch(o, ',');
        g_person_id(o, cs->subjects[k]);
    }
    g_lit(o, "],\"records\":[");
    for (size_t k = 0; k < cs->nrec; k++) {
        if (k)
            g_ch(o, ',');
        g_record_id(o, cs->records[k]);
    }
    g_lit(o, "],\"type\":");
    g_str(o, g_ctype_name[cs->type]);
    if (cs->name) {
        char name[64];
        snprintf(name, sizeof name, "Operation %s", g_op_words[cs->name - 1]);
        g_lit(o, ",\"name\":");
        g_str(o, name);
    }
    g_lit(o, "}\n");
    cs->written = 1;
}

static int cmp_case_open(const void *a, const void *b, void *ctx)
{
    const g_ctx *c = ctx;
    const g_case *x = &c->cases[*(const uint32_t *)a], *y = &c->cases[*(const uint32_t *)b];
    if (x->opened != y->opened)
        return x->opened < y->opened ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int cmp_change(const void *a, const void *b)
{
    const g_change *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return x->officer < y->officer ? -1 : x->officer > y->officer;
}

cu_rc g_write_static(g_ctx *c)
{
    /* a change after the officer has left never takes effect */
    size_t kept = 0;
    for (size_t k = 0; k < c->nchg; k++)
        if (c->chg[k].day < c->off[c->chg[k].officer].end_day)
            c->chg[kept++] = c->chg[k];
    c->nchg = kept;
    if (c->nchg)
        qsort(c->chg, c->nchg, sizeof(g_change), cmp_change);
    for (uint32_t i = 0; i < c->noff; i++)
        g_write_officer(c, i, &c->off[i].st, -1);
    for (size_t k = 0; k < c->nchg; k++)
        g_write_officer(c, c->chg[k].officer, &c->chg[k].st, c->chg[k].day);
    for (uint32_t p = 0; p < c->nper; p++)
        write_person(c, p);
    for (uint32_t ri = 0; ri < c->nrec; ri++)
        write_record(c, ri);
    uint32_t *order = cu_malloc(((size_t)c->ncases + 1) * sizeof(uint32_t));
    if (!order)
        return cu_err_set(CU_ERR_NOMEM, "out of memory writing cases");
    uint32_t n = 0;
    for (uint32_t s = 0; s < c->ncases; s++)
        if (c->cases[s].live)
            order[n++] = s;
    if (n)
        qsort_r(order, n, sizeof(uint32_t), cmp_case_open, c);
    for (uint32_t k = 0; k < n; k++)
        g_write_case(c, &c->cases[order[k]]);
    cu_free(order);
    c->st->officers = c->noff;
    c->st->persons = c->nper;
    c->st->records = c->nrec;
    c->st->cases += n;
    c->st->officer_updates = c->nchg;
    return c->ref.err ? cu_err_set(c->ref.err, "writing %s failed", c->ref.path) : CU_OK;
}
