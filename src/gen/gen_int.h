/*
 * gen internals: the model of the synthetic force shared by the files of the
 * gen module (gen_out.c: PRNG and the JSON writer; gen_force.c: the force and
 * the static reference data; gen_work.c: daily work and the day engine;
 * gen_scen.c: the misuse scenarios; gen.c: configuration, run, labels).
 *
 * Invariants kept across the module:
 *   - Every id written is built from [A-Za-z0-9-] by the id writers below, so
 *     ids need no JSON escaping; free text (names, aliases, operation names)
 *     always goes through g_str, which escapes.
 *   - Days are absolute: days since 1970-01-01.  Day loop iteration d only
 *     creates events with d*86400 <= ts < (d+2)*86400 (a night shift runs past
 *     midnight), so after iteration d every event before (d+1)*86400 is final
 *     and can be sorted and written.
 *   - An officer works only on days in [start_day, end_day) and an event is
 *     always inside the officer's employment and the generated period.
 *   - A case-linked event has opened <= ts < closed for its case.
 */
#ifndef CUSTOS_GEN_INT_H
#define CUSTOS_GEN_INT_H

#include "custos/gen.h"

#include <stdio.h>
#include <string.h>

#define G_NONE UINT32_MAX
#define G_NEVER INT64_MAX
#define G_MAX_AREAS 12
#define G_HQ_AREA G_MAX_AREAS /* index of the force headquarters pseudo-area */
#define G_MAX_REL 8
#define G_MAX_OFF_CASES 10
#define G_MAX_SUBJ_LIST 40 /* subjects listed on one search event */

/* ================================================================ PRNG */

/* xoshiro256** seeded through splitmix64; one stream per purpose. */
typedef struct g_rng {
    uint64_t s[4];
} g_rng;

static inline uint64_t g_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A stateless hash of three words, for decisions that must not depend on the
 * order of generation (rota, leave, sickness). */
static inline uint64_t g_hash3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);
    uint64_t h = g_splitmix(&x);
    x = h ^ (c * 0xd1b54a32d192ed03ULL);
    return g_splitmix(&x);
}

static inline uint64_t g_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline void g_seed(g_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xa0761d6478bd642fULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = g_splitmix(&x);
}

static inline uint64_t g_next(g_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = g_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = g_rotl(s[3], 45);
    return res;
}

/* Uniform in [0, n); n == 0 gives 0. */
static inline uint32_t g_below(g_rng *r, uint32_t n) { return (uint32_t)(((g_next(r) >> 32) * (uint64_t)n) >> 32); }
/* Uniform in [lo, hi]. */
static inline uint32_t g_range(g_rng *r, uint32_t lo, uint32_t hi) { return lo + g_below(r, hi - lo + 1); }
static inline double g_unit(g_rng *r) { return (double)(g_next(r) >> 11) * 0x1.0p-53; }
static inline int g_chance(g_rng *r, double p) { return g_unit(r) < p; }

/* ================================================================ writer */

/* A buffered writer with its own formatting of ids, numbers and times (no
 * printf and no JSON library on the hot path).  Errors are sticky: the first
 * failure is kept in err and later writes are dropped. */
typedef struct g_out {
    FILE *f;
    char *buf;
    size_t len, cap;
    uint64_t total;
    cu_rc err;
    char path[512];
    int64_t day_cache; /* day whose "YYYY-MM-DD" is in date_cache */
    char date_cache[11];
} g_out;

cu_rc g_out_open(g_out *o, const char *dir, const char *name) CU_NODISCARD;
cu_rc g_out_close(g_out *o) CU_NODISCARD; /* flush, fsync-free close */
void g_out_discard(g_out *o);             /* close after an error */
void g_out_flush(g_out *o);

static inline void g_reserve(g_out *o, size_t n)
{
    if (o->len + n > o->cap)
        g_out_flush(o);
}
static inline void g_put(g_out *o, const char *s, size_t n)
{
    if (n > o->cap) {
        g_out_flush(o);
        if (!o->err && o->f && fwrite(s, 1, n, o->f) != n)
            o->err = CU_ERR_IO;
        o->total += n;
        return;
    }
    g_reserve(o, n);
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->total += n;
}
/* g_lit takes a string literal only (sizeof must see the array) */
#define g_lit(o, s) g_put((o), "" s, sizeof(s) - 1)
static inline void g_puts(g_out *o, const char *s) { g_put(o, s, strlen(s)); }
static inline void g_ch(g_out *o, char c)
{
    g_reserve(o, 1);
    o->buf[o->len++] = c;
    o->total++;
}
void g_u(g_out *o, uint64_t v);               /* decimal */
void g_i(g_out *o, int64_t v);                /* signed decimal */
void g_u0(g_out *o, uint64_t v, int width);   /* zero padded to width */
void g_fixed(g_out *o, double v);             /* 3 decimals, for params */
void g_ts(g_out *o, int64_t t);               /* "YYYY-MM-DDTHH:MM:SSZ" with quotes */
void g_date(g_out *o, int64_t day);           /* "YYYY-MM-DD" with quotes, day number */
void g_str(g_out *o, const char *s);          /* JSON string, escaped, with quotes */

/* Id writers (with quotes). */
void g_officer_id(g_out *o, uint32_t i);
void g_person_id(g_out *o, uint32_t i);
void g_record_id(g_out *o, uint32_t i);
void g_case_id(g_out *o, uint16_t year, uint32_t seq);
void g_event_id(g_out *o, uint64_t n);
void g_area_code(g_out *o, uint8_t area);

/* ================================================================ model */

enum { U_RESP, U_NHD, U_CID, U_CUST, U_INT, U_TRAF, U_PPU, U_CT, U_MIT, U_STAFF, U_TRAIN, U_COUNT };
enum { SH_DAYS, SH_EARLIES, SH_LATES, SH_NIGHTS, SH_OFFICE, SH_COUNT };
enum { ROTA_4ON4OFF, ROTA_5ON3OFF, ROTA_WEEKDAYS };
enum { V_RV, V_MV, V_NPPV1, V_NPPV2, V_NPPV3, V_CTC, V_SC, V_ESC, V_DV, V_COUNT };
enum { R_PC, R_PCSO, R_PS, R_PI, R_DC, R_DS, R_DI, R_ANALYST, R_STAFF, R_DDO, R_TRAINER, R_COUNT };
enum { SYS_PNC, SYS_PND, SYS_RMS };
enum { A_SEARCH, A_VIEW, A_UPDATE, A_EXPORT, A_PRINT, A_DISCLOSE, A_LOGIN, A_LOGOUT };
enum { P_INVESTIGATION, P_INTELLIGENCE, P_CUSTODY, P_LICENSING, P_VETTING, P_TRAINING, P_TEST, P_OTHER };
enum { RT_NOMINAL, RT_VEHICLE, RT_INTEL, RT_CRIME, RT_ADDRESS, RT_CUSTODY, RT_LICENCE, RT_COUNT };
enum { CL_OFFICIAL, CL_OS, CL_SECRET, CL_TS };
enum { CV_PPU = 1, CV_SAFEGUARDING = 2, CV_INFORMANT = 4, CV_CT = 8, CV_OPERATION = 16, CV_VIP = 32 };
/* person.flags bits, in the spec's order */
enum { F_PROTECTED = 1, F_VIP = 2, F_WITNESS = 4, F_INFORMANT = 8, F_ACTIVIST = 16, F_OFFICER = 32,
       F_DECEASED = 64, F_HIGH_PROFILE = 128 };
/* person.extra bits */
enum { PX_FEMALE = 1, PX_ALIAS = 2, PX_TEST = 4, PX_DA_VICTIM = 8, PX_CT = 16, PX_COMMUNITY = 32,
       PX_CALLER = 64 };
enum { REL_SELF, REL_FAMILY, REL_EX, REL_PARTNER, REL_NEIGHBOUR, REL_ASSOCIATE };
enum { CT_INVESTIGATION, CT_SAFEGUARDING, CT_OPERATION, CT_MAJOR, CT_INCIDENT, CT_TRAFFIC, CT_CTOP,
       CT_COUNT };

extern const char *const g_unit_code[U_COUNT];
extern const char *const g_shift_name[SH_COUNT];
extern const char *const g_vet_name[V_COUNT];
extern const char *const g_role_name[R_COUNT];
extern const char *const g_sys_name[3];
extern const char *const g_action_name[8];
extern const char *const g_purpose_name[8];
extern const char *const g_rtype_name[RT_COUNT];
extern const char *const g_class_name[4];
extern const char *const g_rel_name[6];
extern const char *const g_ctype_name[CT_COUNT];
extern const char g_area_codes[G_MAX_AREAS + 1][3];
extern const char *const g_surnames[];
extern const unsigned g_nsurnames;
extern const char *const g_community_surnames[];
extern const unsigned g_ncommunity_surnames;
extern const char *const g_given_f[];
extern const unsigned g_ngiven_f;
extern const char *const g_given_m[];
extern const unsigned g_ngiven_m;
extern const char *const g_op_words[];
extern const unsigned g_nop_words;

/* The officer's mutable state: what a reference line says at a moment. */
typedef struct g_ostate {
    uint8_t unit, area, role, shift, vet;
    int32_t vet_granted, vet_expires; /* days */
} g_ostate;

typedef struct g_officer {
    g_ostate st;
    uint32_t person; /* the officer's own person (relation self) */
    int32_t start_day, end_day; /* employed on days [start_day, end_day) */
    uint8_t rota, phase, nrel, ncases;
    uint8_t busy;    /* already a perpetrator in some scenario */
    int32_t next_change; /* day of the next planned change, INT32_MAX none */
    uint16_t terminal, office_start_min;
    uint32_t rel_person[G_MAX_REL];
    uint8_t rel_type[G_MAX_REL];
    uint32_t cases[G_MAX_OFF_CASES]; /* live case slots assigned */
} g_officer;

typedef struct g_person {
    uint32_t household, family;
    uint16_t surname, given, born;
    uint8_t area, flags, extra, community;
} g_person;

typedef struct g_record {
    uint32_t subj_off;
    uint8_t nsubj, type, system, cls, caveats, area, category;
} g_record;

typedef struct g_case {
    int64_t opened, closed; /* closed G_NEVER when open past the period */
    uint32_t seq;           /* 0 until the id is assigned */
    uint16_t year;
    uint8_t area, type, live, written;
    uint16_t name;          /* operation name word + 1, 0 none */
    uint32_t *officers, *subjects, *records; /* each its own allocation */
    size_t nof, capof, nsubj, capsubj, nrec, caprec;
    uint32_t area_pos;      /* index in the area's live list */
    uint32_t hp_benign;     /* benign line + 1 for a major case touching a high-profile person */
} g_case;

/* An officer change effective from day (a later officer line with valid_from). */
typedef struct g_change {
    int32_t day;
    uint32_t officer;
    g_ostate st;
    uint8_t kind; /* 0 transfer, 1 shift band, 2 vetting renewal, 3 scenario new access */
} g_change;

typedef struct g_ev {
    int64_t ts;
    uint64_t seq;
    uint32_t officer, record, case_seq, results, subj_off, label, benign;
    uint16_t case_year, terminal, nsubj;
    uint8_t action, purpose, system, outcome, area;
} g_ev;

/* A list of event ids (labels), growable. */
typedef struct g_idlist {
    uint64_t *v;
    size_t n, cap;
    uint64_t total; /* events counted, also past a cap */
} g_idlist;

#define G_MAX_SC_OFFICERS 64
#define G_MAX_SC_SUBJECTS 64
#define G_MAX_PARAMS 8

typedef struct g_act {
    int32_t day;
    uint32_t officer;
    uint16_t count, aux;
} g_act;

typedef struct g_scen {
    uint8_t kind, ring;
    uint32_t officers[G_MAX_SC_OFFICERS]; /* candidates; labelled ones get used[] */
    uint8_t used[G_MAX_SC_OFFICERS];
    uint32_t nof;
    uint32_t subjects[G_MAX_SC_SUBJECTS];
    uint32_t nsubj;
    int32_t d0, d1;      /* active days [d0, d1) */
    uint32_t case_slot;  /* the scenario's case (curiosity, tip-off) or G_NONE */
    uint32_t other;      /* colleague-login: the colleague */
    int32_t key_day;
    double rate;
    g_act *acts;
    size_t nacts, capacts;
    const char *pkey[G_MAX_PARAMS];
    int64_t pval[G_MAX_PARAMS];
    const char *psval[G_MAX_PARAMS];
    int ptime[G_MAX_PARAMS];
    unsigned nparams;
    int64_t first, last;
    g_idlist ev;
} g_scen;

typedef struct g_benign {
    const char *activity;
    uint32_t officers[G_MAX_SC_OFFICERS];
    uint32_t nof;
    uint32_t subjects[8];
    uint32_t nsubj;
    uint32_t case_slot;
    uint16_t case_year;
    uint32_t case_seq;
    int64_t first, last;
    g_idlist ev;
} g_benign;

/* Per-scenario settings after --scenarios and --intensity. */
typedef struct g_scset {
    int on;
    int n;       /* instances (-1: from the force size) */
    int days;    /* duration (-1: default) */
    double rate; /* volume multiplier */
    int size;    /* ring size (0: random 2..5) */
} g_scset;

typedef struct g_ctx {
    const cu_gen_config *cfg;
    cu_gen_stats *st;
    g_scset sc[CU_GEN_SC_COUNT];
    g_rng rng;  /* building */
    g_rng drng; /* daily work */
    int32_t day0, ndays;
    uint32_t nareas;

    g_officer *off;
    uint32_t noff;
    uint32_t *unit_area_off; /* officers by (unit, area), CSR */
    uint32_t ua_start[U_COUNT * (G_MAX_AREAS + 1) + 1];

    g_person *per;
    uint32_t nper;
    uint32_t *area_per_off, *area_per; /* persons by area, CSR */
    uint32_t *callers;                 /* frequent callers, per area (G_NONE none) */
    uint32_t caller_benign[G_MAX_AREAS];

    g_record *rec;
    uint32_t nrec;
    uint32_t *rsubj;
    size_t nrsubj;
    uint32_t *per_rec_off, *per_rec; /* records by person, CSR */

    uint32_t *flagged[8]; /* persons per flag bit, growable lists */
    uint32_t nflagged[8];
    uint32_t *da_victims, nda;
    uint32_t *ct_subjects, nct;
    uint32_t *community, ncommunity;
    uint32_t *test_persons, ntest;

    g_case *cases;
    uint32_t ncases, capcases;
    uint32_t *free_slots, nfree;
    size_t capfree;
    uint32_t *area_live[G_MAX_AREAS + 1];
    uint32_t narea_live[G_MAX_AREAS + 1], caparea_live[G_MAX_AREAS + 1];
    uint32_t case_seq[300]; /* next seq per year - 1900 */

    g_change *chg;
    size_t nchg, capchg, chg_next;

    g_scen *scen;
    size_t nscen, capscen;
    g_benign *ben;
    size_t nben, capben;

    g_ev *ev;
    size_t nev, capev;
    uint32_t *sub;
    size_t nsub, capsub;
    uint32_t *sub2; /* the other half of the double-buffered subject pool */
    size_t capsub2;
    uint64_t ev_seq, next_event_id;
    uint32_t cur_label, cur_benign; /* label given to new events */
    uint32_t *off_benign;           /* per officer: benign line + 1 (cover, bulk search, ...) */
    uint64_t *sortkey, *sortkey2;   /* radix sort scratch */
    g_ev *ev2;                      /* sorted copy scratch */
    size_t capkey, capkey2, capev2;
    int64_t day_base; /* start of the current day iteration */

    g_out ref, evs, lab;
    cu_rc err; /* first allocation failure in generation */
} g_ctx;

/* gen_force.c */
cu_rc g_build_force(g_ctx *c) CU_NODISCARD;
cu_rc g_write_static(g_ctx *c) CU_NODISCARD;
void g_write_officer(g_ctx *c, uint32_t oi, const g_ostate *st, int32_t valid_from);
void g_write_case(g_ctx *c, g_case *cs);
int g_on_duty(const g_ctx *c, uint32_t oi, int32_t day);
int g_shift_window(const g_ctx *c, uint32_t oi, const g_ostate *st, int32_t day, int64_t *s, int64_t *e);
uint32_t g_case_new(g_ctx *c, uint8_t type, uint8_t area, int64_t opened, int64_t closed);
int g_case_add_officer(g_ctx *c, uint32_t slot, uint32_t oi);
int g_case_add_subject(g_ctx *c, uint32_t slot, uint32_t p);
int g_case_add_record(g_ctx *c, uint32_t slot, uint32_t r);
void g_case_link_person(g_ctx *c, uint32_t slot, uint32_t p, unsigned maxrec);
uint32_t g_random_person(g_ctx *c, g_rng *r, uint8_t area);
uint32_t g_record_of(g_ctx *c, g_rng *r, uint32_t p, int type); /* type -1 any; G_NONE none */
int g_add_change(g_ctx *c, const g_change *ch);
int g_officer_has_case(const g_officer *o, uint32_t slot);
int g_vet_rank(uint8_t v);
uint32_t g_area_officer(g_ctx *c, g_rng *r, uint8_t unit, uint8_t area); /* G_NONE none */

/* gen_work.c */
cu_rc g_run_days(g_ctx *c) CU_NODISCARD;
g_ev *g_emit(g_ctx *c, int64_t ts, uint32_t oi, uint8_t action, uint8_t system, uint8_t purpose);
void g_emit_subject(g_ctx *c, g_ev *e, uint32_t p);
g_ev *g_emit_view(g_ctx *c, int64_t ts, uint32_t oi, uint32_t rec, uint8_t action, uint8_t purpose,
                  const g_case *cs);
g_ev *g_emit_search(g_ctx *c, int64_t ts, uint32_t oi, uint8_t system, uint32_t p, uint8_t purpose,
                    const g_case *cs);
void g_ev_case(g_ev *e, const g_case *cs);
void g_ev_at(g_ctx *c, g_ev *e, uint32_t as_officer_area_of);
int g_case_usable(const g_case *cs, int64_t ts);
uint32_t g_unrelated_case(g_ctx *c, g_rng *r, uint32_t oi, int64_t ts);
uint32_t g_benign_new(g_ctx *c, const char *activity);
void g_idlist_add(g_ctx *c, g_idlist *l, uint64_t id, size_t cap);

/* gen_scen.c */
cu_rc g_scen_setup(g_ctx *c) CU_NODISCARD;
void g_scen_day(g_ctx *c, int32_t day);
const char *g_scen_name(unsigned k);
int g_scen_default_days(unsigned k);
double g_scen_base_rate(unsigned k);

#endif /* CUSTOS_GEN_INT_H */
