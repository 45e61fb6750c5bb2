/* The misuse detector: explanations, signals, evidence files, rings and
 * curiosity bursts, and the daily budget (docs/detect.md).
 *
 * One pass over the events in time order.  For each access:
 *   1. explain it from context at that moment (case assignment, a cited
 *      case, a case of the officer's unit, the officer's own explained
 *      search, continuing work, the household of a case subject, templates
 *      mined from the unexplained routine of the officer's unit);
 *   2. derive signals (declared relation, same address/family/surname,
 *      protected register, sensitive record, someone else's live case,
 *      repeat look-ups, exfiltration, bulk export, trawling, a colleague's
 *      login, spikes, off-shift, out-of-area, new access);
 *   3. add their weights to the officer's evidence file (decaying, half-life
 *      EV_HALF), or to a group file (ring, curiosity burst); a refused
 *      access with no case of the officer's own is an attempt to look
 *      someone up and feeds only the co-access graph and the officer's
 *      unexplained breadth;
 *   4. once an hour of event time, the gate ranks files over the threshold
 *      and emits as many as the budget's tokens allow; files already
 *      emitted are re-emitted (same id, later raised_at) when they grow.
 *
 * Invariants:
 * 1. Causal: every signal uses only the event being read, earlier events
 *    and the reference context as of now; an alert's events are all <= now.
 * 2. Bounded: per-officer, per-person and per-terminal arrays indexed by
 *    interned id (grown by doubling when a new id appears, never per event
 *    otherwise), fixed rings, fixed open-addressing tables (a full table
 *    drops the new key), a fixed pool of evidence files (reused when their
 *    evidence has decayed).  Nothing is allocated per event.
 * 3. One alert per file: an officer's campaign or a ring stays one alert id
 *    however long it runs; a ring is one alert naming its members (those
 *    whose links to it weigh as much as one strong link, or who met one of
 *    its strangers on the same errand: a purpose seldom stated in both
 *    officers' units, counted per unit and purpose); two rings become
 *    one only on a strong link, and the alert emitted first carries on.
 *    Register people met only in a unit's routine are co-accesses kept
 *    apart, which join an officer to a ring and never start one.
 * 4. rules_only turns off everything learned: personal and peer baselines,
 *    mined templates, the co-access graph and bursts (the rules baseline).
 * 5. What is copied from the reference for speed (a record's summary, a
 *    one-version officer's unit, the officer's relations' people) is
 *    remade when the reference changes, and a prefetch changes nothing:
 *    the results are those of reading the reference itself.
 */
#include "custos/detect.h"

#include "detect/detect_int.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ tuning */

#define SR_N 16           /* recent searches' people per officer */
#define XP_N 24           /* recently explained people per officer */
#define UX_N 16           /* recently unexplained people per officer */
#define TX_N 8            /* register people recently met in the routine per officer */
#define TM_N 8            /* people recently known only from a colleague's case per officer */
#define PV_N 8            /* recent unexplained viewers per person (bursts) */
#define PA_N 4            /* recent unexplained accessors per person (graph) */
#define PR_N 4            /* recent routine accessors of a register person (graph) */
#define TERM_N 4          /* usual terminals per officer */
#define AREA_N 4          /* usual areas per officer */
#define HIST_N 28         /* active days of personal history */
#define PEER_N 256        /* peer samples per group */
#define FILE_EV 16        /* events listed in one alert */
#define FILE_SUBJ 32      /* people listed in one alert */
#define FILE_MEM 16       /* officers in one group */
#define RISK_N 16
#define PEND_MAX 4096
#define TPL_BITS 17       /* mined template table */
#define TPAIR_BITS 20     /* (template, officer) pairs seen */
#define PAIR_BITS 18      /* officer pairs of the co-access graph */
#define PROBE 16
#define CASE_SCAN 16      /* cases looked at per person */
#define CASE_OFF_SCAN 32  /* officers looked at per case */
#define ADDR_N 64         /* addresses of the officer's case subjects (household) */

#define EV_HALF (21.0 * 86400) /* evidence half-life */
#define SCALE 3.0              /* score = 1 - exp(-E / SCALE) */
#define SEARCH_WIN (4 * 60)    /* minutes a search explains the views after it */
#define REPEAT_WIN (30 * 1440) /* minutes a person stays explained for an officer */
#define BURST_WIN (72 * 60)    /* minutes of a curiosity burst */
#define BURST_MIN 3            /* unexplained viewers in a burst */
#define PAIR_WIN (60 * 1440)   /* minutes two accesses of one person stay linked */
#define TPL_AGAIN 0.8           /* a register person again, or sent out, in the unit's routine (soft) */
#define TPL_FLOOR 0.3           /* ... times the routine weight, at least this */
#define LOGIN_HOTDESK 0.6       /* a colleague's desk in the officer's hours, nobody logged in there */
#define EDGE_MIN 1.5           /* shared-person weight that makes two officers an edge */
#define PUR_N 16              /* stated purposes counted per unit */
#define ERRAND_SHARE 0.05      /* a purpose under this share of the unit's accesses is out of its line */
#define ERRAND_MIN 200         /* accesses of the unit before that share is judged */
#define ROUTINE_NP 4           /* people shared through the routine that join a ring whatever their weight */
#define NEW_ACCESS_DAYS 10
#define LEARN_DAYS 5           /* active days before personal baselines count */
#define WEEK_DAYS 7            /* active days of the weekly allowance */
#define WEEK_SLACK 1.5         /* the usual weekly excess, times this, is allowed */
#define BASE_TIME 946684800LL  /* 2000-01-01: times are kept as minutes since */

enum sig {
    S_RELATION, S_HOUSEHOLD, S_SURNAME, S_PROTECTED, S_SENSITIVE, S_LIVECASE, S_REPEAT, S_EXFIL,
    S_BULK, S_TRAWL, S_LOGIN, S_SPIKE, S_PRETEXT, S_OFFSHIFT, S_OUTAREA, S_NEWACCESS, S_CURIOSITY, S_RING, S_COUNT
};
static const char *const sig_kind[S_COUNT] = {
    "declared-relation", "same-address", "same-surname", "protected-person", "sensitive-record",
    "live-case", "repeated-lookup", "exfiltration", "bulk-export", "trawling", "colleague-login",
    "unexplained-spike", "pretext", "off-shift", "out-of-area", "new-access", "curiosity", "ring"};

enum { F_OFFICER, F_RING, F_BURST };

/* ================================================================ state */

struct ux {                  /* an unexplained person for an officer (24 bytes) */
    uint64_t h;                 /* the person's household (address), 0: none */
    cu_id p;
    uint32_t t;
    int32_t lastday;
    uint16_t days;
};

#define REL_N 4 /* declared relations' people kept in the officer's state */

/* An officer's state.  Laid out by use (speed, docs/detect.md): the fields
 * nearly every access reads or writes come first (about two cache lines),
 * then the people of the two rings every access scans, each ring's ids
 * apart from its times and flags (a scan that finds nobody, the usual
 * case, reads one line of ids, not three of 12-byte entries), then what
 * only unexplained accesses, logins or the day's roll touch. */
struct ost {
    /* hot: every access */
    int32_t day, active_days;
    cu_id unit_seen;
    uint32_t file;           /* evidence file + 1, 0 none */
    int64_t new_access_at;   /* INT64_MIN none */
    const cu_officer *own_for; /* the officer version the cache below is for */
    uint64_t own_addr, own_sur, own_fam;
    struct peer *role;       /* the officer's role's peer group (cached with own_for) */
    float ew_all, ew_unx;    /* decayed counts of accesses and unexplained ones */
    float ew_weak;           /* decayed count of accesses with no data link (routine or not) */
    uint32_t events;
    uint32_t big_t;          /* the last wide search (20+ results): when, its flags, its people */
    uint8_t big_x;
    uint8_t srpos, xppos, uxpos, sess_suspect;
    uint8_t nrel;            /* the own_for version's relations, when at most REL_N (else REL_N + 1) */
    uint16_t t_exf, t_unx, t_bulk_fired, t_spike_fired; /* today */
    cu_id rel_p[REL_N];      /* ... their people (cached with own_for) */
    cu_id area[AREA_N];
    uint16_t area_n[AREA_N];
    /* the rings every access scans: recent searches' people, recently
     * explained people (ids first) */
    cu_id sr_p[SR_N];
    cu_id xp_p[XP_N];
    uint32_t sr_t[SR_N];     /* minutes since BASE_TIME */
    uint32_t xp_t[XP_N];
    uint8_t sr_x[SR_N];      /* 1 explained, 2 came from a trawl, 4 wide, 8 routine */
    uint16_t hour[24];
    uint64_t big_bloom[4];
    /* cold: unexplained accesses, logins, the day's roll */
    struct ux ux[UX_N];
    struct ux tx[TX_N];      /* register people met only in the unit's routine */
    uint8_t txpos;
    struct ux tm[TM_N];      /* people known only from a case of the officer's unit (team) */
    uint8_t tmpos;
    cu_id term[TERM_N];
    uint16_t term_n[TERM_N];
    uint32_t logins, big_searches;
    int32_t own_day;         /* last day the officer looked up their own circle */
    int32_t own_addr_day;    /* last day they looked up where one of it lives */
    uint16_t own_days;       /* days with such look-ups */
    float ring_w;            /* the weight of the ring links the officer took part in */
    cu_id sess_other;        /* colleague whose terminal the suspect session uses */
    /* history of active days */
    uint8_t hpos, hn;
    uint16_t h_exf[HIST_N], h_unx[HIST_N], h_soft[HIST_N];
    uint16_t h_exc[HIST_N], h_unc[HIST_N]; /* the day's soft excess over its allowance, and what of it was not credited (x10) */
    float soft_today, credited_today;
    float allow_today;       /* the day's allowance, < 0 until first needed */
    float wk_exc, wk_unc;    /* excess, and excess not credited, of the previous WEEK_DAYS - 1 active days */
    float wk_slack;          /* the officer's usual weekly excess (see week_slack) */
};

struct pst {
    struct oref { cu_id p; uint32_t t; } pv[PV_N]; /* officers here, at a time */
    struct oref pa[PA_N];
    uint8_t pa_pur[PA_N];     /* the purpose each of them stated (purpose_code), 0 none */
    uint8_t pvpos, papos;
    struct oref pr[PR_N];     /* recent officers who met the person only in their unit's routine */
    uint8_t prpos;
    uint16_t nacc, acc_day;   /* decayed count of distinct unexplained accessors, as of acc_day */
    uint16_t nrt;             /* ... of those who met them in a routine (same decay) */
    uint32_t burst;           /* file + 1 */
};

struct file {
    uint8_t used, kind, emitted, pending, dirty;
    cu_id owner;
    double E;
    int64_t upd;              /* time E was last decayed to */
    int64_t first_ev, last_ev;
    float w[S_COUNT];
    uint16_t cnt[S_COUNT];
    cu_id sp[S_COUNT];        /* a person (or terminal) for the reason */
    cu_id so[S_COUNT];        /* another id (officer, case, unit) */
    float aux[S_COUNT];
    uint32_t nmem, nsubj, nev;
    cu_id mem[FILE_MEM];
    float memw[FILE_MEM];     /* ring: the weight of each member's links */
    cu_id subj[FILE_SUBJ];
    char ev[FILE_EV][CU_ID_MAX_LEN + 1];
    uint64_t num;
    double last_score;
    uint32_t last_nmem;
    uint8_t rpos, rn;
    struct { int64_t ts; float score, aux; uint8_t sig; uint16_t cnt; cu_id sp, so; } risk[RISK_N]; /* as it was then */
};

/* An officer's unit and span when the reference has one version of the
 * officer (nearly all): team_link asks the unit of every officer of a
 * case, and this small array answers without reading the officer. */
struct ounit { int64_t start, end; cu_id unit; uint32_t one; };

/* What an access reads of its record, in 16 bytes per record id (built
 * with the indexes): the record is then one line of a small array, asked
 * for by address at the start of the event, not a pointer, a structure
 * and its subjects array read one after the other.  A record with more
 * than RS_N subjects is read from the reference instead. */
#define RS_N 3
enum { RS_OK = 1, RS_HAS = 2, RS_CAVEAT = 4, RS_SECRET = 8, RS_ADDRESS = 16 };
struct rsum { cu_id sub[RS_N]; uint8_t n, f; uint16_t pad; };

/* A record as an access uses it: from its summary or from the reference. */
typedef struct rview {
    bool has, caveat, secret, address;
    uint32_t n;
    const cu_id *sub;
} rview;

struct tpl { uint64_t key; uint32_t count; uint16_t distinct; };
struct pair { uint64_t key; uint32_t t; cu_id p[4]; uint8_t np, active; float W; };
struct peer { uint16_t v[PEER_N]; uint32_t n, nupd; float med, mad; }; /* nupd: samples behind med/mad */

typedef struct misuse {
    cu_detect_cfg cfg;
    const cu_ref *ref;
    struct ost *off; size_t noff;
    struct pst *per; size_t nper;
    cu_id *term_owner; uint16_t *term_cnt; cu_id *term_sess; size_t nterm;
    uint32_t *unit_total; size_t nunit;
    uint32_t *unit_pur; size_t nunit_pur; /* accesses per unit and stated purpose (PUR_N per unit) */
    float *unit_all, *unit_unx; size_t nunit2, nunit3;
    float *unit_weak; size_t nunit6;   /* decayed accesses with no data link, per unit */
    struct peer *unit_soft; size_t nunit4;
    struct { float srch, big; } *unit_srch; size_t nunit5; /* decayed searches, big ones */
    cu_id *uf; size_t nuf;             /* union-find over officers */
    uint32_t *ring_file; size_t nring; /* root -> file + 1 */
    /* reference indexes (built once) */
    uint32_t *pc_off, *pc;             /* person -> cases (CSR) */
    uint32_t *rc_off, *rc;             /* record -> cases */
    uint32_t *co_off, *co;             /* case -> every officer ever assigned */
    uint8_t *restricted;               /* case -> 1 when a record it holds carries a handling caveat */
    uint32_t *case_open;               /* case -> when it opened (minutes since BASE_TIME) */
    uint8_t *wide_area; size_t nwide;  /* area -> 1 when few people live there (a force-wide remit) */
    struct ounit *ounit; size_t nounit; /* officer -> unit, for officers of one version */
    struct rsum *rsum; size_t nrsum;   /* record -> what an access reads of it */
    size_t np_idx, nr_idx, nc_idx;
    /* tables */
    struct tpl *tpl;
    uint64_t *tpair;
    struct pair *pairs;
    struct peer peer_exf, peer_unx;
    struct peer *role_res; size_t nrole; uint64_t *role_key;
    uint32_t *role_total;
    /* files and the gate */
    struct file *files; uint32_t nfiles, clock;
    uint32_t pend[PEND_MAX], npend;
    uint32_t dirtyq[PEND_MAX], ndirty;
    double tokens, rate, cap, debt;
    int64_t last_refill, hour;
    int32_t gday;
    bool gate_due;
    uint32_t officers_total;
    cu_detect_stats st;
} misuse;

/* ================================================================ helpers */

static uint32_t tmin(int64_t ts) { return ts <= BASE_TIME ? 0 : (uint32_t)((ts - BASE_TIME) / 60); }
static int32_t day_of(int64_t ts) { return (int32_t)(ts >= 0 ? ts / 86400 : (ts - 86399) / 86400); }
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static cu_rc grow_more(void **p, size_t *n, size_t need, size_t elem);

/* Room for `need` elements in *p (of *n): called on every event for each
 * indexed array, so the check is inline and the growth out of line. */
static inline cu_rc grow(void **p, size_t *n, size_t need, size_t elem)
{
    return need <= *n ? CU_OK : grow_more(p, n, need, elem);
}

static cu_rc grow_more(void **p, size_t *n, size_t need, size_t elem)
{
    /* the first size is what is asked (the reference's count), with a
     * little room; later growth (ids first seen in events) by half again */
    size_t nn = *n ? *n + *n / 2 : need + need / 16 + 16;
    while (nn < need)
        nn += nn / 2 + 16;
    void *q = cu_realloc(*p, nn * elem);
    if (!q)
        return cu_err_set(CU_ERR_NOMEM, "misuse detector: out of memory");
    memset((char *)q + *n * elem, 0, (nn - *n) * elem);
    *p = q;
    *n = nn;
    return CU_OK;
}

static cu_rc ensure_officer(misuse *m, cu_id o)
{
    if (o < m->noff && o < m->nuf && o < m->nring) /* every event: nothing to grow */
        return CU_OK;
    size_t old = m->noff;
    cu_rc rc = grow((void **)&m->off, &m->noff, (size_t)o + 1, sizeof *m->off);
    if (rc)
        return rc;
    for (size_t i = old; i < m->noff; i++) {
        m->off[i].day = INT32_MIN;
        m->off[i].own_day = INT32_MIN;
        m->off[i].own_addr_day = INT32_MIN;
        m->off[i].unit_seen = CU_ID_NONE;
        m->off[i].new_access_at = INT64_MIN;
        m->off[i].sess_other = CU_ID_NONE;
        for (int k = 0; k < TERM_N; k++)
            m->off[i].term[k] = CU_ID_NONE;
        for (int k = 0; k < AREA_N; k++)
            m->off[i].area[k] = CU_ID_NONE;
        for (int k = 0; k < SR_N; k++)
            m->off[i].sr_p[k] = CU_ID_NONE;
        for (int k = 0; k < XP_N; k++)
            m->off[i].xp_p[k] = CU_ID_NONE;
        for (int k = 0; k < UX_N; k++)
            m->off[i].ux[k].p = CU_ID_NONE;
        for (int k = 0; k < TX_N; k++)
            m->off[i].tx[k].p = CU_ID_NONE;
    }
    old = m->nuf;
    if ((rc = grow((void **)&m->uf, &m->nuf, (size_t)o + 1, sizeof *m->uf)))
        return rc;
    for (size_t i = old; i < m->nuf; i++)
        m->uf[i] = (cu_id)i;
    return grow((void **)&m->ring_file, &m->nring, (size_t)o + 1, sizeof *m->ring_file);
}

static cu_rc ensure_person(misuse *m, cu_id p)
{
    if (p < m->nper)
        return CU_OK;
    size_t old = m->nper;
    cu_rc rc = grow((void **)&m->per, &m->nper, (size_t)p + 1, sizeof *m->per);
    if (rc)
        return rc;
    for (size_t i = old; i < m->nper; i++) {
        for (int k = 0; k < PV_N; k++)
            m->per[i].pv[k].p = CU_ID_NONE;
        for (int k = 0; k < PA_N; k++)
            m->per[i].pa[k].p = CU_ID_NONE;
        for (int k = 0; k < PR_N; k++)
            m->per[i].pr[k].p = CU_ID_NONE;
    }
    return CU_OK;
}

static cu_rc ensure_term(misuse *m, cu_id t)
{
    size_t n1 = m->nterm, n2 = m->nterm, n3 = m->nterm, old = m->nterm;
    cu_rc rc;
    if ((rc = grow((void **)&m->term_owner, &n1, (size_t)t + 1, sizeof *m->term_owner)) ||
        (rc = grow((void **)&m->term_cnt, &n2, (size_t)t + 1, sizeof *m->term_cnt)) ||
        (rc = grow((void **)&m->term_sess, &n3, (size_t)t + 1, sizeof *m->term_sess)))
        return rc;
    m->nterm = n1;
    for (size_t i = old; i < m->nterm; i++)
        m->term_owner[i] = m->term_sess[i] = CU_ID_NONE;
    return CU_OK;
}

/* Robust centre and spread of a small sample (median, MAD scaled to a
 * standard deviation); tmp must hold n values. */
static void med_mad(const uint16_t *v, uint32_t n, float *tmp, float *med, float *mad)
{
    if (!n) {
        *med = *mad = 0;
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        tmp[i] = v[i];
    /* insertion sort: n <= PEER_N, done once a day per group */
    for (uint32_t i = 1; i < n; i++) {
        float x = tmp[i];
        uint32_t j = i;
        while (j && tmp[j - 1] > x) {
            tmp[j] = tmp[j - 1];
            j--;
        }
        tmp[j] = x;
    }
    float md = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
    for (uint32_t i = 0; i < n; i++)
        tmp[i] = fabsf(tmp[i] - md);
    for (uint32_t i = 1; i < n; i++) {
        float x = tmp[i];
        uint32_t j = i;
        while (j && tmp[j - 1] > x) {
            tmp[j] = tmp[j - 1];
            j--;
        }
        tmp[j] = x;
    }
    *med = md;
    *mad = 1.4826f * (n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2);
}

static void peer_add(struct peer *g, uint16_t v)
{
    g->v[g->n % PEER_N] = v;
    g->n++;
}

static void peer_update(struct peer *g)
{
    float tmp[PEER_N];
    med_mad(g->v, g->n < PEER_N ? g->n : PEER_N, tmp, &g->med, &g->mad);
    g->nupd = g->n;
}

/* ================================================================ init */

/* CSR from (key, value) pairs counted in two passes by the callers. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Order each key's case list: need-to-know cases first, then by opening. */
static cu_rc sort_cases(const misuse *m, const uint32_t *off, uint32_t *val, size_t nkeys)
{
    uint32_t most = 0;
    for (size_t k = 0; k < nkeys; k++)
        if (off[k + 1] - off[k] > most)
            most = off[k + 1] - off[k];
    uint64_t *tmp = cu_malloc((most ? most : 1) * sizeof *tmp);
    if (!tmp)
        return CU_ERR_NOMEM;
    for (size_t k = 0; k < nkeys; k++) {
        uint32_t b = off[k], n = off[k + 1] - b;
        if (n < 2)
            continue;
        for (uint32_t i = 0; i < n; i++) {
            cu_id c = val[b + i];
            tmp[i] = (uint64_t)(m->restricted[c] ? 0 : 1) << 63 | (uint64_t)(m->case_open[c] & 0x7fffffffu) << 32 | c;
        }
        qsort(tmp, n, sizeof *tmp, cmp_u64);
        for (uint32_t i = 0; i < n; i++)
            val[b + i] = (uint32_t)tmp[i];
    }
    cu_free(tmp);
    return CU_OK;
}

static cu_rc build_indexes(misuse *m, const cu_ref *ref)
{
    cu_ref_all all;
    cu_ref_get_all(ref, &all);
    const cu_names *nm = cu_ref_names(ref);
    size_t np = cu_names_count(nm, CU_K_PERSON) + 1, nr = cu_names_count(nm, CU_K_RECORD) + 1,
           nc = cu_names_count(nm, CU_K_CASE) + 1;
    m->np_idx = np;
    m->nr_idx = nr;
    m->nc_idx = nc;
    m->pc_off = cu_calloc(np + 1, sizeof *m->pc_off);
    m->rc_off = cu_calloc(nr + 1, sizeof *m->rc_off);
    m->co_off = cu_calloc(nc + 1, sizeof *m->co_off);
    if (!m->pc_off || !m->rc_off || !m->co_off)
        return CU_ERR_NOMEM;
    size_t tp = 0, tr = 0, to = 0;
    for (size_t i = 0; i < all.ncases; i++) {
        const cu_case *c = all.cases[i];
        for (uint32_t k = 0; k < c->nsubjects; k++)
            m->pc_off[c->subjects[k] + 1]++, tp++;
        for (uint32_t k = 0; k < c->nrecords; k++)
            m->rc_off[c->records[k] + 1]++, tr++;
        m->co_off[c->id + 1] += c->nofficers;
        to += c->nofficers;
    }
    for (size_t i = 0; i < all.nassigns; i++)
        if (all.assigns[i].add && all.assigns[i].case_id < nc)
            m->co_off[all.assigns[i].case_id + 1]++, to++;
    for (size_t i = 0; i < np; i++)
        m->pc_off[i + 1] += m->pc_off[i];
    for (size_t i = 0; i < nr; i++)
        m->rc_off[i + 1] += m->rc_off[i];
    for (size_t i = 0; i < nc; i++)
        m->co_off[i + 1] += m->co_off[i];
    m->pc = cu_malloc((tp ? tp : 1) * sizeof *m->pc);
    m->rc = cu_malloc((tr ? tr : 1) * sizeof *m->rc);
    m->co = cu_malloc((to ? to : 1) * sizeof *m->co);
    uint32_t *fp = cu_calloc(np, sizeof *fp), *fr = cu_calloc(nr, sizeof *fr), *fc = cu_calloc(nc, sizeof *fc);
    cu_rc rc = CU_OK;
    if (!m->pc || !m->rc || !m->co || !fp || !fr || !fc) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < all.ncases; i++) {
        const cu_case *c = all.cases[i];
        for (uint32_t k = 0; k < c->nsubjects; k++)
            m->pc[m->pc_off[c->subjects[k]] + fp[c->subjects[k]]++] = c->id;
        for (uint32_t k = 0; k < c->nrecords; k++)
            m->rc[m->rc_off[c->records[k]] + fr[c->records[k]]++] = c->id;
        for (uint32_t k = 0; k < c->nofficers; k++)
            m->co[m->co_off[c->id] + fc[c->id]++] = c->officers[k];
    }
    for (size_t i = 0; i < all.nassigns; i++) {
        const cu_assign *a = &all.assigns[i];
        if (a->add && a->case_id < nc)
            m->co[m->co_off[a->case_id] + fc[a->case_id]++] = a->officer;
    }
    /* a case that keeps its records under a handling caveat is need-to-know:
     * being a colleague of its officers explains nothing */
    m->restricted = cu_calloc(nc, 1);
    if (!m->restricted) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < all.ncases; i++) {
        const cu_case *c = all.cases[i];
        for (uint32_t k = 0; k < c->nrecords && c->id < nc; k++) {
            const cu_record *r = cu_ref_record(ref, c->records[k]);
            if (r && r->ncaveats)
                m->restricted[c->id] = 1;
        }
    }
    /* Each person's and record's cases: need-to-know cases first, then
     * the rest in order of opening, so that team_link finds an operation
     * however many incidents came since and the latest cases opened by
     * now (a replay's reference holds cases that open later). */
    m->case_open = cu_calloc(nc, sizeof *m->case_open);
    if (!m->case_open) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < all.ncases; i++)
        if (all.cases[i]->id < nc)
            m->case_open[all.cases[i]->id] = tmin(all.cases[i]->opened);
    if ((rc = sort_cases(m, m->pc_off, m->pc, np)) || (rc = sort_cases(m, m->rc_off, m->rc, nr)))
        goto fail;
    m->nounit = cu_names_count(nm, CU_K_OFFICER) + 1;
    m->ounit = cu_calloc(m->nounit, sizeof *m->ounit);
    if (!m->ounit) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    m->nrsum = nr;
    m->rsum = cu_malloc(nr * sizeof *m->rsum);
    if (!m->rsum) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    /* each id as cu_ref_record answers it, so the summary says what the
     * reference would */
    for (size_t i = 0; i < nr; i++) {
        const cu_record *r = cu_ref_record(ref, (cu_id)i);
        struct rsum *q = &m->rsum[i];
        *q = (struct rsum){.f = RS_OK}; /* no record by that id */
        if (!r)
            continue;
        if (r->nsubjects > RS_N) {
            q->f = 0; /* read from the reference */
            continue;
        }
        q->n = (uint8_t)r->nsubjects;
        if (r->nsubjects)
            memcpy(q->sub, r->subjects, r->nsubjects * sizeof *r->subjects);
        q->f = (uint8_t)(RS_OK | RS_HAS | (r->ncaveats ? RS_CAVEAT : 0) |
                         (r->classification >= CU_CLASS_SECRET ? RS_SECRET : 0) |
                         (r->type && strcmp(r->type, "address") == 0 ? RS_ADDRESS : 0));
    }
    for (size_t i = 0; i < m->nounit; i++) { /* the first version, as cu_ref_officer starts from */
        const cu_officer *o = cu_ref_all_get(ref, CU_REF_OFFICER, (cu_id)i);
        if (o && !o->next)
            m->ounit[i] = (struct ounit){.start = o->start, .end = o->end, .unit = o->unit, .one = 1};
    }
    /* An area where hardly any of the force's people live (under a quarter
     * of an even share) is not a neighbourhood: its officers (headquarters,
     * force-wide units) meet people of every area in their work. */
    {
        size_t na = cu_names_count(nm, CU_K_AREA) + 1;
        uint32_t *cnt = cu_calloc(na, sizeof *cnt);
        m->wide_area = cu_calloc(na, 1);
        if (!cnt || !m->wide_area) {
            cu_free(cnt);
            rc = CU_ERR_NOMEM;
            goto fail;
        }
        m->nwide = na;
        size_t used = 0;
        for (size_t i = 0; i < all.npersons; i++) {
            cu_id a = all.persons[i]->area;
            if (a < na && !cnt[a]++)
                used++;
        }
        for (size_t i = 0; i < all.nofficers; i++) {
            cu_id a = all.officers[i]->area;
            if (a < na && used && (double)cnt[a] * 4 * (double)used < (double)all.npersons)
                m->wide_area[a] = 1;
        }
        cu_free(cnt);
    }
fail:
    cu_free(fp);
    cu_free(fr);
    cu_free(fc);
    return rc;
}

/* The indexes build_indexes made (init) remade after a reference update:
 * a case, record or person added or replaced is then seen by the team
 * links and the need-to-know and area tests as if it had been in the
 * reference file.  Built aside and swapped in, so a failure keeps the old. */
static cu_rc misuse_ref_changed(void *state, const cu_ref *ref)
{
    misuse *m = state;
    struct idx { /* what build_indexes sets */
        uint32_t *pc_off, *pc, *rc_off, *rc, *co_off, *co;
        uint8_t *restricted, *wide_area;
        uint32_t *case_open;
        struct ounit *ounit;
        struct rsum *rsum;
        size_t np_idx, nr_idx, nc_idx, nwide, nounit, nrsum;
    } sets[2] = {{m->pc_off, m->pc, m->rc_off, m->rc, m->co_off, m->co, m->restricted, m->wide_area, m->case_open,
                  m->ounit, m->rsum, m->np_idx, m->nr_idx, m->nc_idx, m->nwide, m->nounit, m->nrsum}};
    m->pc_off = m->pc = m->rc_off = m->rc = m->co_off = m->co = NULL;
    m->restricted = m->wide_area = NULL;
    m->case_open = NULL;
    m->ounit = NULL;
    m->nounit = 0;
    m->rsum = NULL;
    m->nrsum = 0;
    /* an officer version may have been changed in place: its relations
     * are read from it again (the cache is remade with the next version) */
    for (size_t i = 0; i < m->noff; i++)
        m->off[i].nrel = REL_N + 1;
    cu_rc rc = build_indexes(m, ref);
    sets[1] = (struct idx){m->pc_off, m->pc, m->rc_off, m->rc, m->co_off, m->co, m->restricted, m->wide_area,
                           m->case_open, m->ounit, m->rsum, m->np_idx, m->nr_idx, m->nc_idx, m->nwide, m->nounit,
                           m->nrsum};
    int keep = rc ? 0 : 1, drop = !keep; /* a failure keeps the old */
    cu_free(sets[drop].pc_off);
    cu_free(sets[drop].pc);
    cu_free(sets[drop].rc_off);
    cu_free(sets[drop].rc);
    cu_free(sets[drop].co_off);
    cu_free(sets[drop].co);
    cu_free(sets[drop].restricted);
    cu_free(sets[drop].wide_area);
    cu_free(sets[drop].case_open);
    cu_free(sets[drop].ounit);
    cu_free(sets[drop].rsum);
    m->pc_off = sets[keep].pc_off, m->pc = sets[keep].pc, m->rc_off = sets[keep].rc_off, m->rc = sets[keep].rc;
    m->co_off = sets[keep].co_off, m->co = sets[keep].co, m->restricted = sets[keep].restricted;
    m->wide_area = sets[keep].wide_area;
    m->case_open = sets[keep].case_open;
    m->np_idx = sets[keep].np_idx, m->nr_idx = sets[keep].nr_idx, m->nc_idx = sets[keep].nc_idx;
    m->nwide = sets[keep].nwide;
    m->ounit = sets[keep].ounit, m->nounit = sets[keep].nounit;
    m->rsum = sets[keep].rsum, m->nrsum = sets[keep].nrsum;
    return rc;
}

static void misuse_free(void *state)
{
    misuse *m = state;
    if (!m)
        return;
    cu_free(m->off);
    cu_free(m->per);
    cu_free(m->term_owner);
    cu_free(m->term_cnt);
    cu_free(m->term_sess);
    cu_free(m->unit_total);
    cu_free(m->unit_pur);
    cu_free(m->unit_all);
    cu_free(m->unit_soft);
    cu_free(m->unit_srch);
    cu_free(m->unit_unx);
    cu_free(m->unit_weak);
    cu_free(m->uf);
    cu_free(m->ring_file);
    cu_free(m->pc_off);
    cu_free(m->pc);
    cu_free(m->rc_off);
    cu_free(m->rc);
    cu_free(m->co_off);
    cu_free(m->co);
    cu_free(m->restricted);
    cu_free(m->case_open);
    cu_free(m->wide_area);
    cu_free(m->ounit);
    cu_free(m->rsum);
    cu_free(m->tpl);
    cu_free(m->tpair);
    cu_free(m->pairs);
    cu_free(m->role_res);
    cu_free(m->role_key);
    cu_free(m->role_total);
    cu_free(m->files);
    cu_free(m);
}

static cu_rc misuse_init(const cu_ref *ref, const cu_detect_cfg *cfg, void **state)
{
    misuse *m = cu_calloc(1, sizeof *m);
    if (!m)
        return CU_ERR_NOMEM;
    cu_rc rc = CU_OK;
    m->cfg = *cfg;
    if (!(m->cfg.budget > 0))
        m->cfg.budget = 1.0;
    if (!(m->cfg.threshold > 0))
        m->cfg.threshold = 0.7;
    m->ref = ref;
    const cu_names *nm = cu_ref_names(ref);
    cu_ref_all all;
    cu_ref_get_all(ref, &all);
    m->officers_total = (uint32_t)all.nofficers;
    uint32_t no = cu_names_count(nm, CU_K_OFFICER), npers = cu_names_count(nm, CU_K_PERSON);
    if ((rc = ensure_officer(m, no ? no - 1 : 0)) || (rc = ensure_person(m, npers ? npers - 1 : 0)) ||
        (rc = ensure_term(m, 0)) || (rc = build_indexes(m, ref)))
        goto fail;
    m->tpl = cu_calloc((size_t)1 << TPL_BITS, sizeof *m->tpl);
    m->tpair = cu_calloc((size_t)1 << TPAIR_BITS, sizeof *m->tpair);
    m->pairs = cu_calloc((size_t)1 << PAIR_BITS, sizeof *m->pairs);
    m->nrole = 256;
    m->role_res = cu_calloc(m->nrole, sizeof *m->role_res);
    m->role_key = cu_calloc(m->nrole, sizeof *m->role_key);
    m->role_total = cu_calloc(m->nrole, sizeof *m->role_total);
    m->nfiles = m->officers_total / 4 + 1024;
    m->files = cu_calloc(m->nfiles, sizeof *m->files);
    if (!m->tpl || !m->tpair || !m->pairs || !m->role_res || !m->role_key || !m->role_total || !m->files) {
        rc = cu_err_set(CU_ERR_NOMEM, "misuse detector: out of memory");
        goto fail;
    }
    /* the budget: tokens per day for the force, kept for up to two days */
    m->rate = m->cfg.budget * (m->officers_total ? m->officers_total : 1) / 1000.0;
    m->cap = m->rate * 2 > 1 ? m->rate * 2 : 1;
    /* One token is lent at the start (a small force can always raise its
     * first alert) and repaid by the first accrual; so over any span S of
     * the stream at most max(1, budget x S) alerts are emitted: a ceiling
     * that holds, not a quota. */
    m->tokens = 1;
    m->debt = 1;
    m->last_refill = INT64_MIN;
    m->hour = INT64_MIN;
    m->gday = INT32_MIN;
    *state = m;
    return CU_OK;
fail:
    misuse_free(m);
    return rc ? rc : CU_ERR_NOMEM;
}

/* ================================================================ files */

static double decayed(const struct file *f, int64_t now)
{
    if (now <= f->upd)
        return f->E;
    return f->E * exp2(-(double)(now - f->upd) / EV_HALF);
}

static double score_of(double E) { return 1.0 - exp(-E / SCALE); }

/* A ring's evidence is its links (shared rarely-seen people) and what its
 * members did on their own: several officers each quietly looking people up
 * with no reason, linked by shared targets, weigh more than either alone.
 * Each member brings half of their own evidence and RING_BREADTH per
 * distinct person looked up with no reason beyond BREADTH_MIN - 1 in the
 * last BREADTH_WIN, up to RING_SUPPORT. */
#define RING_SUPPORT 1.8
#define RING_BREADTH 0.6
#define BREADTH_WIN (30 * 1440) /* minutes: the window of an officer's unexplained breadth */
#define NAME_MIN 1.5f           /* link weight that names an officer in a grown ring */
#define BREADTH_MIN 4           /* distinct people unexplained in it that make a quiet outlier */

/* How many distinct people the officer looked up (or tried to) with no
 * explanation in the last BREADTH_WIN minutes: the officer's unexplained
 * breadth.  Most officers have none or one a month; one who keeps looking
 * people up with no reason, however slowly, stands out. */
static unsigned breadth(const struct ost *s, uint32_t t)
{
    unsigned n = 0;
    for (int k = 0; k < UX_N; k++)
        if (s->ux[k].p != CU_ID_NONE && s->ux[k].t + BREADTH_WIN >= t)
            n++;
    return n;
}

static double file_evidence(const misuse *m, const struct file *f, int64_t now)
{
    double E = decayed(f, now);
    if (f->kind != F_RING)
        return E;
    uint32_t t = tmin(now);
    for (uint32_t i = 0; i < f->nmem; i++) {
        cu_id o = f->mem[i];
        if (o >= m->noff)
            continue;
        uint32_t fi = m->off[o].file;
        double e = fi ? 0.5 * decayed(&m->files[fi - 1], now) : 0;
        /* each member's own quiet breadth: people looked up with no
         * reason beyond the first few (which anyone may have) */
        unsigned b = breadth(&m->off[o], t);
        if (b > BREADTH_MIN - 1)
            e += RING_BREADTH * (double)(b - (BREADTH_MIN - 1));
        E += e < RING_SUPPORT ? e : RING_SUPPORT;
    }
    return E;
}

/* A free file, or the one with the least evidence left among a few not
 * emitted (a clock hand); 0 when none (the evidence is dropped). */
static uint32_t file_alloc(misuse *m, int64_t now, uint8_t kind, cu_id owner)
{
    uint32_t best = 0;
    double bestE = 1e300;
    for (uint32_t k = 0; k < 256; k++) {
        uint32_t i = m->clock++ % m->nfiles;
        struct file *f = &m->files[i];
        if (!f->used) {
            best = i + 1;
            bestE = 0;
            break;
        }
        if (f->emitted || f->pending)
            continue;
        double e = decayed(f, now);
        if (e < bestE) {
            bestE = e;
            best = i + 1;
        }
    }
    if (!best || bestE > 0.5 * SCALE)
        return 0;
    struct file *f = &m->files[best - 1];
    if (f->used) { /* detach the evicted file from its owner */
        if (f->kind == F_OFFICER && f->owner < m->noff && m->off[f->owner].file == best)
            m->off[f->owner].file = 0;
        else if (f->kind == F_BURST && f->owner < m->nper && m->per[f->owner].burst == best)
            m->per[f->owner].burst = 0;
        else if (f->kind == F_RING && f->owner < m->nring && m->ring_file[f->owner] == best)
            m->ring_file[f->owner] = 0;
    }
    memset(f, 0, sizeof *f);
    f->used = 1;
    f->kind = kind;
    f->owner = owner;
    f->upd = now;
    f->first_ev = INT64_MAX;
    f->last_ev = INT64_MIN;
    return best;
}

static void file_member(struct file *f, cu_id o)
{
    for (uint32_t i = 0; i < f->nmem; i++)
        if (f->mem[i] == o)
            return;
    if (f->nmem < FILE_MEM)
        f->mem[f->nmem++] = o;
}

/* A ring's member with the weight of a link: an alert names at most
 * FILE_MEM officers, so when the ring is larger the weakest linked member
 * gives way to a more strongly linked one (the union-find keeps them all). */
static void ring_member(struct file *f, cu_id o, float w)
{
    uint32_t low = 0;
    for (uint32_t i = 0; i < f->nmem; i++) {
        if (f->mem[i] == o) {
            f->memw[i] += w;
            return;
        }
        if (f->memw[i] < f->memw[low])
            low = i;
    }
    if (f->nmem < FILE_MEM) {
        f->memw[f->nmem] = w;
        f->mem[f->nmem++] = o;
    } else if (f->memw[low] < w) {
        f->mem[low] = o;
        f->memw[low] = w;
    }
}

static void file_subject(struct file *f, cu_id p)
{
    if (p == CU_ID_NONE)
        return;
    for (uint32_t i = 0; i < f->nsubj; i++)
        if (f->subj[i] == p)
            return;
    if (f->nsubj < FILE_SUBJ)
        f->subj[f->nsubj++] = p;
}

static void file_event(struct file *f, const cu_event *ev)
{
    if (f->nev && strcmp(f->ev[f->nev - 1], ev->id) == 0)
        return;
    if (f->nev < FILE_EV) {
        memcpy(f->ev[f->nev], ev->id, (size_t)ev->id_len + 1);
        f->nev++;
    } else { /* keep the first half, slide the rest: the latest evidence is listed */
        memmove(f->ev[FILE_EV / 2], f->ev[FILE_EV / 2 + 1], (FILE_EV / 2 - 1) * sizeof f->ev[0]);
        memcpy(f->ev[FILE_EV - 1], ev->id, (size_t)ev->id_len + 1);
    }
    if (ev->ts < f->first_ev)
        f->first_ev = ev->ts;
    if (ev->ts > f->last_ev)
        f->last_ev = ev->ts;
}

/* Add evidence w of signal s to file fi (1-based). */
static void file_add(misuse *m, uint32_t fi, int s, double w, const cu_event *ev, cu_id sp, cu_id so, float aux)
{
    if (!fi || w <= 0)
        return;
    struct file *f = &m->files[fi - 1];
    f->E = decayed(f, ev->ts) + w;
    f->upd = ev->ts;
    f->w[s] += (float)w;
    if (f->cnt[s] < UINT16_MAX)
        f->cnt[s]++;
    if (f->cnt[s] == 1 || sp != CU_ID_NONE) {
        if (f->cnt[s] == 1 || f->sp[s] == CU_ID_NONE)
            f->sp[s] = sp;
        if (so != CU_ID_NONE)
            f->so[s] = so;
    }
    if (aux > f->aux[s])
        f->aux[s] = aux;
    file_event(f, ev);
    double sc = score_of(file_evidence(m, f, ev->ts));
    /* the risk history keeps changes worth a line (a tenth of a point) */
    uint32_t last = f->rn ? (uint32_t)(f->rpos + RISK_N - 1) % RISK_N : 0;
    if (!f->rn || sc - f->risk[last].score >= 0.1) {
        f->risk[f->rpos].ts = ev->ts;
        f->risk[f->rpos].score = (float)sc;
        f->risk[f->rpos].sig = (uint8_t)s;
        f->risk[f->rpos].cnt = f->cnt[s];
        f->risk[f->rpos].sp = f->sp[s];
        f->risk[f->rpos].so = f->so[s];
        f->risk[f->rpos].aux = f->aux[s];
        f->rpos = (uint8_t)((f->rpos + 1) % RISK_N);
        if (f->rn < RISK_N)
            f->rn++;
    }
    if (f->emitted) {
        if (!f->dirty && m->ndirty < PEND_MAX) {
            f->dirty = 1;
            m->dirtyq[m->ndirty++] = fi;
        }
    } else if (!f->pending && sc >= m->cfg.threshold && m->npend < PEND_MAX) {
        f->pending = 1;
        m->pend[m->npend++] = fi;
        m->st.candidates++;
    }
}

static uint32_t officer_file(misuse *m, cu_id o, int64_t now)
{
    struct ost *s = &m->off[o];
    if (!s->file) {
        s->file = file_alloc(m, now, F_OFFICER, o);
        if (s->file)
            file_member(&m->files[s->file - 1], o);
    }
    return s->file;
}

/* ================================================================ alerts */

static const char *nstr(const misuse *m, cu_idkind k, cu_id id)
{
    const char *s = cu_names_str(cu_ref_names(m->ref), k, id);
    return s ? s : "?";
}

static const char *rel_type(const misuse *m, cu_id officer, cu_id p)
{
    const cu_officer *o = cu_ref_officer(m->ref, officer);
    if (o)
        for (uint32_t i = 0; i < o->nrelations; i++)
            if (o->relations[i].person == p)
                return o->relations[i].type;
    return "relation";
}

/* The reason for signal s with its count n, person/terminal sp, other id
 * so and figure aux (a file's counters now, or as a risk entry kept them). */
static void reason_at(const misuse *m, const struct file *f, int s, unsigned n, cu_id sp, cu_id so, float aux, char *out,
                      size_t cap)
{
    const char *who = f->nmem ? nstr(m, CU_K_OFFICER, f->mem[0]) : "?";
    const char *p = sp != CU_ID_NONE ? nstr(m, CU_K_PERSON, sp) : "?";
    switch (s) {
    case S_RELATION:
        snprintf(out, cap, "%s looked up %s, declared as their %s, %u time(s) with no case linking them", who, p,
                 rel_type(m, f->mem[0], sp), n);
        break;
    case S_HOUSEHOLD:
        snprintf(out, cap, "%s looked up %s, who shares the officer's own address or family in the reference data (%u time(s))",
                 who, p, n);
        break;
    case S_SURNAME:
        snprintf(out, cap, "%s looked up %u person(s) with the officer's own surname, e.g. %s, with no explanation", who, n, p);
        break;
    case S_PROTECTED:
        snprintf(out, cap, "%u unexplained access(es) to people on the protected-person register, e.g. %s", n, p);
        break;
    case S_SENSITIVE:
        snprintf(out, cap, "%u unexplained view(s) of sensitive records (caveats or SECRET)", n);
        break;
    case S_LIVECASE:
        snprintf(out, cap, "%u unexplained look-up(s) of people on live cases the officer is not on, e.g. %s on case %s", n, p,
                 so != CU_ID_NONE ? nstr(m, CU_K_CASE, so) : "?");
        break;
    case S_REPEAT:
        if (so != CU_ID_NONE)
            snprintf(out, cap,
                     "looked up the same people again on other days (%u repeat(s)), e.g. %s; among them people known "
                     "only from case %s of a colleague, which the officer is not on",
                     n, p, nstr(m, CU_K_CASE, so));
        else
            snprintf(out, cap, "looked up the same people again on other days with no reason (%u repeat(s)), e.g. %s", n, p);
        break;
    case S_EXFIL:
        snprintf(out, cap, "%u export(s), print(s) or disclosure(s) of unexplained records", n);
        break;
    case S_BULK:
        snprintf(out, cap, "exported or printed %.0f records in a day, far above the officer's and peers' usual%s",
                 (double)aux, so == 1 ? "; the officer is leaving the force" : "");
        break;
    case S_TRAWL:
        snprintf(out, cap, "%u search(es) returning many people (up to %.0f), unusual for the officer's role, and views of them", n,
                 (double)aux);
        break;
    case S_LOGIN:
        snprintf(out, cap, "the account of %s was used at terminal %s, the usual terminal of %s, where it had never logged in",
                 who, sp != CU_ID_NONE ? nstr(m, CU_K_TERMINAL, sp) : "?",
                 so != CU_ID_NONE ? nstr(m, CU_K_OFFICER, so) : "another officer");
        break;
    case S_PRETEXT:
        snprintf(out, cap, "%u look-up(s) citing a case that links neither the record nor the person, e.g. %s citing %s", n,
                 p, so != CU_ID_NONE ? nstr(m, CU_K_CASE, so) : "?");
        break;
    case S_SPIKE:
        snprintf(out, cap, "%.0f unexplained look-ups in a day, far above the officer's usual", (double)aux);
        break;
    case S_OFFSHIFT:
        snprintf(out, cap, "%u unexplained access(es) outside the officer's usual hours", n);
        break;
    case S_OUTAREA:
        snprintf(out, cap, "%u unexplained access(es) from outside the officer's usual areas", n);
        break;
    case S_NEWACCESS:
        snprintf(out, cap, "%u unexplained access(es) in the first days of new access (moved to %s)", n,
                 so != CU_ID_NONE ? nstr(m, CU_K_UNIT, so) : "a new unit");
        break;
    case S_CURIOSITY:
        snprintf(out, cap, "%u officers looked at %s within 3 days with no case, search or team link", f->nmem, p);
        break;
    case S_RING:
        snprintf(out, cap, "%u officers converged on the same people (%.0f shared) with no shared case", f->nmem,
                 (double)aux);
        break;
    default:
        snprintf(out, cap, "unexplained activity");
    }
}

static void reason_of(const misuse *m, const struct file *f, int s, char *out, size_t cap)
{
    reason_at(m, f, s, f->cnt[s], f->sp[s], f->so[s], f->aux[s], out, cap);
}

static int top_signal(const struct file *f)
{
    int best = 0;
    for (int s = 1; s < S_COUNT; s++)
        if (f->w[s] > f->w[best])
            best = s;
    return best;
}

static void build_alert(misuse *m, const struct file *f, double score, cu_alert *a)
{
    int top = top_signal(f);
    snprintf(a->kind, sizeof a->kind, "%s", sig_kind[top]);
    a->score = score;
    for (uint32_t i = 0; i < f->nmem; i++)
        cu_alert_add_officer(a, f->mem[i]);
    for (uint32_t i = 0; i < f->nsubj; i++)
        cu_alert_add_subject(a, f->subj[i]);
    for (uint32_t i = 0; i < f->nev; i++)
        cu_alert_add_event(a, f->ev[i], f->first_ev);
    a->first_event = f->first_ev;
    a->last_event = f->last_ev;
    /* reasons by weight, strongest first */
    bool done[S_COUNT] = {false};
    for (int r = 0; r < CU_ALERT_MAX_REASONS - 1; r++) {
        int best = -1;
        for (int s = 0; s < S_COUNT; s++)
            if (!done[s] && f->cnt[s] && (best < 0 || f->w[s] > f->w[best]))
                best = s;
        if (best < 0)
            break;
        done[best] = true;
        char txt[CU_ALERT_REASON_LEN];
        reason_of(m, f, best, txt, sizeof txt);
        cu_alert_add_reason(a, "%s", txt);
    }
}

/* The gate: refill tokens, emit the best pending files the budget allows,
 * re-emit grown files.  Runs once per hour of event time and at the end. */
static int cmp_pend(const void *x, const void *y)
{
    const double *a = x, *b = y;
    return a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0;
}

static void gate(misuse *m, int64_t now, cu_alerts *out)
{
    m->gate_due = false;
    if (m->last_refill == INT64_MIN)
        m->last_refill = now;
    if (now > m->last_refill) {
        double add = m->rate * (double)(now - m->last_refill) / 86400.0;
        double pay = add < m->debt ? add : m->debt;
        m->debt -= pay;
        m->tokens += add - pay;
        if (m->tokens > m->cap)
            m->tokens = m->cap;
        m->last_refill = now;
    }
    /* updates first: they cost no token */
    uint32_t keep = 0;
    for (uint32_t i = 0; i < m->ndirty; i++) {
        uint32_t fi = m->dirtyq[i];
        struct file *f = &m->files[fi - 1];
        double sc = score_of(file_evidence(m, f, now));
        if (sc < f->last_score + 0.05 && f->nmem <= f->last_nmem) {
            f->dirty = 0;
            continue;
        }
        cu_alert *a = cu_alerts_add(out);
        if (!a) {
            m->dirtyq[keep++] = fi;
            m->gate_due = true;
            continue;
        }
        build_alert(m, f, sc > f->last_score ? sc : f->last_score, a);
        a->num = f->num;
        f->last_score = sc > f->last_score ? sc : f->last_score;
        f->last_nmem = f->nmem;
        f->dirty = 0;
        m->st.updates++;
    }
    m->ndirty = keep;
    if (!m->npend)
        return;
    /* rank the pending files by score now */
    static __thread double rank[PEND_MAX][2];
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->npend; i++) {
        struct file *f = &m->files[m->pend[i] - 1];
        /* judged as an hourly gate would have judged it, however sparse the
         * stream: at most an hour after its evidence last grew */
        int64_t te = now < f->upd + 3600 ? now : f->upd + 3600;
        double sc = score_of(file_evidence(m, f, te));
        if (sc < m->cfg.threshold || !f->used) {
            f->pending = 0;
            continue;
        }
        rank[n][0] = sc;
        rank[n][1] = (double)m->pend[i];
        n++;
    }
    qsort(rank, n, sizeof rank[0], cmp_pend);
    m->npend = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t fi = (uint32_t)rank[i][1];
        struct file *f = &m->files[fi - 1];
        if (m->tokens >= 1.0) {
            cu_alert *a = cu_alerts_add(out);
            if (a) {
                build_alert(m, f, rank[i][0], a);
                f->num = cu_alerts_number(out, a);
                f->emitted = 1;
                f->pending = 0;
                f->last_score = rank[i][0];
                f->last_nmem = f->nmem;
                m->tokens -= 1.0;
                m->st.emitted++;
                continue;
            }
            m->gate_due = true;
        }
        m->pend[m->npend++] = fi; /* waits for a token or a slot */
    }
}

/* ================================================================ explain */

static bool my_case_links(const misuse *m, const cu_case *const *mine, int nmine, cu_id rec, cu_id p)
{
    (void)m;
    for (int i = 0; i < nmine; i++)
        if ((rec != CU_ID_NONE && cu_case_links_record(mine[i], rec)) || (p != CU_ID_NONE && cu_case_links_person(mine[i], p)))
            return true;
    return false;
}

/* The unit of officer o now (cu_ref_officer's), CU_ID_NONE when the
 * officer is not in force. */
static cu_id unit_now(const misuse *m, cu_id o)
{
    int64_t now = cu_ref_now(m->ref);
    if (o < m->nounit && m->ounit[o].one)
        return now >= m->ounit[o].start && now < m->ounit[o].end ? m->ounit[o].unit : CU_ID_NONE;
    const cu_officer *oo = cu_ref_officer(m->ref, o);
    return oo ? oo->unit : CU_ID_NONE;
}

/* Whether an open case linked through idx (person or record CSR) has an
 * officer of `unit` assigned now, other than `self`. */
static bool team_link(const misuse *m, const uint32_t *off, const uint32_t *val, size_t nidx, cu_id key, cu_id unit,
                      cu_id self, cu_id *other_case)
{
    if (key == CU_ID_NONE || key >= nidx || unit == CU_ID_NONE)
        return false;
    /* the need-to-know cases (first in the list), then the latest
     * CASE_SCAN opened by now (in order of opening after them) */
    uint32_t b = off[key], e = off[key + 1], r = b;
    while (r < e && m->restricted[val[r]])
        r++;
    uint32_t now = tmin(cu_ref_now(m->ref)), lo = r, hi = e;
    if (e - r <= CASE_SCAN)
        lo = hi = e; /* few: scan them all (cu_ref_case skips those not yet open) */
    while (lo < hi) { /* the first case opened after now */
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->case_open[val[mid]] <= now)
            lo = mid + 1;
        else
            hi = mid;
    }
    e = lo;
    uint32_t from = e - r > CASE_SCAN ? e - CASE_SCAN : r;
    for (uint32_t j = b; j < e; j++) {
        if (j == r && from > r)
            j = from;
        cu_id c = val[j];
        const cu_case *cs = cu_ref_case(m->ref, c);
        if (!cs)
            continue;
        if (other_case && *other_case == CU_ID_NONE && !cu_ref_assigned(m->ref, c, self))
            *other_case = c;
        if (c >= m->nc_idx || m->restricted[c])
            continue;
        uint32_t ob = m->co_off[c], oe = m->co_off[c + 1];
        if (oe - ob > CASE_OFF_SCAN)
            oe = ob + CASE_OFF_SCAN;
        for (uint32_t k = ob; k < oe; k++) {
            /* the unit first (from the small array), the assignment only
             * for an officer of the unit: both must hold */
            cu_id o2 = m->co[k];
            if (o2 == self || unit_now(m, o2) != unit || !cu_ref_assigned(m->ref, c, o2))
                continue;
            return true;
        }
    }
    return false;
}

/* Whether ring (ids rp, times rt, flags rx; NULL: every entry 1) holds p
 * since `since` with the flags `want`.  The ids are compared first, all
 * of them without a branch (nobody, the usual answer, costs one pass over
 * one array); only a hit looks at the times and flags. */
static bool ring_has(const cu_id *rp, const uint32_t *rt, const uint8_t *rx, int n, cu_id p, uint32_t since,
                     uint8_t want)
{
    unsigned any = 0;
    for (int i = 0; i < n; i++)
        any |= rp[i] == p;
    if (!any)
        return false;
    for (int i = 0; i < n; i++)
        if (rp[i] == p && rt[i] >= since && ((rx ? rx[i] : 1) & want) == want)
            return true;
    return false;
}

/* A 256-bit filter of one search's people, two probes each (about 7% false
 * matches at 40 people: a view counted as following the wide search). */
static void bloom_add(uint64_t *b, cu_id p)
{
    uint64_t h = mix64((uint64_t)p + 1);
    b[(h >> 6) & 3] |= 1ull << (h & 63);
    b[(h >> 14) & 3] |= 1ull << ((h >> 8) & 63);
}

static bool bloom_has(const uint64_t *b, cu_id p)
{
    uint64_t h = mix64((uint64_t)p + 1);
    return (b[(h >> 6) & 3] >> (h & 63) & 1) && (b[(h >> 14) & 3] >> ((h >> 8) & 63) & 1);
}

/* Whether the officer's own search within SEARCH_WIN minutes returned p,
 * with the flags `want` (1 explained, 2 a trawl, 4 wide, 8 routine). */
static bool searched(const struct ost *s, cu_id p, uint32_t t, uint8_t want)
{
    uint32_t since = t > SEARCH_WIN ? t - SEARCH_WIN : 0;
    if (ring_has(s->sr_p, s->sr_t, s->sr_x, SR_N, p, since, want))
        return true;
    return s->big_t && s->big_t >= since && (s->big_x & want) == want && bloom_has(s->big_bloom, p);
}

typedef struct ectx {
    const cu_officer *o;
    const cu_case *mine[16];
    int nmine;
    const cu_case *cited;
    uint64_t own_addr, own_sur, own_fam;
    cu_id other_case;         /* an open case linking the person the officer is not on */
    bool restricted;          /* the record carries a handling caveat */
    bool addr_done;           /* addr holds the addresses of the officer's case subjects */
    int naddr;
    uint64_t addr[ADDR_N];
    cu_id addr_p[ADDR_N];
} ectx;

static uint32_t explain_person(misuse *m, const cu_event *ev, ectx *x, cu_id p)
{
    uint32_t bits = 0;
    struct ost *s = &m->off[ev->officer];
    uint32_t t = tmin(ev->ts);
    if (my_case_links(m, x->mine, x->nmine, CU_ID_NONE, p))
        bits |= CU_X_CASE;
    if (x->cited && cu_case_links_person(x->cited, p))
        bits |= CU_X_CITED;
    if (searched(s, p, t, 1))
        bits |= CU_X_SEARCH;
    if (ring_has(s->xp_p, s->xp_t, NULL, XP_N, p, t > REPEAT_WIN ? t - REPEAT_WIN : 0, 1))
        bits |= CU_X_REPEAT;
    /* the household is the last resort of a data link: looked at only
     * when nothing stronger explains (it costs a look at every subject of
     * the officer's cases, gathered once per event) */
    bool need = !(bits & (CU_X_CASE | CU_X_CITED)) && (x->restricted || !(bits & (CU_X_SEARCH | CU_X_REPEAT)));
    const cu_person *pp = need && x->nmine ? cu_ref_person(m->ref, p) : NULL;
    if (pp && pp->address_h) {
        if (!x->addr_done) {
            x->addr_done = true;
            for (int i = 0; i < x->nmine; i++)
                for (uint32_t k = 0; k < x->mine[i]->nsubjects && x->naddr < ADDR_N; k++) {
                    const cu_person *qq = cu_ref_person(m->ref, x->mine[i]->subjects[k]);
                    if (qq && qq->address_h) {
                        x->addr[x->naddr] = qq->address_h;
                        x->addr_p[x->naddr++] = qq->id;
                    }
                }
        }
        for (int i = 0; i < x->naddr; i++)
            if (x->addr[i] == pp->address_h && x->addr_p[i] != p) {
                bits |= CU_X_HOUSEHOLD;
                break;
            }
    }
    /* a record under a handling caveat is for the case's own officers:
     * a colleague of the same unit is not thereby entitled to it */
    if (!(bits & (CU_X_CASE | CU_X_CITED)) && x->o &&
        team_link(m, m->pc_off, m->pc, m->np_idx, p, x->o->unit, ev->officer, &x->other_case) && !x->restricted)
        bits |= CU_X_TEAM;
    if (x->restricted) /* nor by a search or habit that only a colleague's case explained */
        bits &= CU_X_CASE | CU_X_CITED | CU_X_HOUSEHOLD;
    return bits;
}

/* ================================================================ templates */

/* A template's shape: who (the unit, or the role force-wide), the stated
 * purpose and the kind of action (search, view/update, export/print/
 * disclose).  The purpose proves nothing by itself; the template says only
 * that this shape is the unexplained routine of many of the group. */
static uint64_t tpl_key(const cu_event *ev, uint64_t group, int which)
{
    int cls = ev->action == CU_ACT_SEARCH ? 1 : (ev->action == CU_ACT_VIEW || ev->action == CU_ACT_UPDATE) ? 2 : 3;
    uint64_t h = mix64(group * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)ev->purpose << 8) ^ ((uint64_t)cls << 40) ^
                       ((uint64_t)which << 60));
    return h ? h : 1;
}

static struct tpl *tpl_find(misuse *m, uint64_t key, bool add)
{
    size_t mask = ((size_t)1 << TPL_BITS) - 1;
    for (size_t i = 0; i < PROBE; i++) {
        struct tpl *t = &m->tpl[(key + i) & mask];
        if (t->key == key)
            return t;
        if (!t->key) {
            if (!add)
                return NULL;
            t->key = key;
            return t;
        }
    }
    return NULL;
}

/* true when (key, officer) was not seen before (and is now recorded) */
static bool tpair_new(misuse *m, uint64_t key, cu_id o)
{
    uint64_t k = mix64(key ^ ((uint64_t)o * 0x9e3779b97f4a7c15ULL));
    k = k ? k : 1;
    size_t mask = ((size_t)1 << TPAIR_BITS) - 1;
    for (size_t i = 0; i < PROBE; i++) {
        uint64_t *slot = &m->tpair[(k + i) & mask];
        if (*slot == k)
            return false;
        if (!*slot) {
            *slot = k;
            return true;
        }
    }
    return false;
}

/* A template explains when the unit's unexplained routine of this shape is
 * common (a share of all the unit's accesses) and shared by several of
 * its officers: one officer's habit never becomes a template. */
static bool tpl_explains(const struct tpl *t, uint32_t group_total, unsigned min_distinct)
{
    if (!t)
        return false;
    return t->count >= 30 && t->distinct >= min_distinct && (double)t->count >= 0.03 * group_total;
}

/* ================================================================ graph */

static cu_id uf_find(misuse *m, cu_id x)
{
    while (m->uf[x] != x) {
        m->uf[x] = m->uf[m->uf[x]];
        x = m->uf[x];
    }
    return x;
}

static bool share_case(misuse *m, cu_id a, cu_id b)
{
    const cu_id *ca, *cb;
    size_t na = cu_ref_officer_cases(m->ref, a, &ca), nb = cu_ref_officer_cases(m->ref, b, &cb);
    for (size_t i = 0; i < na; i++)
        for (size_t k = 0; k < nb; k++)
            if (ca[i] == cb[k])
                return true;
    return false;
}

/* strong: the pair shares two or more rarely seen people with no reason.
 * Only a strong edge joins two rings into one: rings that draw on one
 * pool of targets (the same activists, one community) share a person here
 * and there, and an officer who met one of them is not a bridge. */
static void ring_edge(misuse *m, cu_id a, cu_id b, const cu_event *ev, cu_id p, double wp, bool flagged, bool strong,
                      bool names)
{
    cu_id ra = uf_find(m, a), rb = uf_find(m, b);
    uint32_t fa = m->ring_file[ra], fb = ra != rb ? m->ring_file[rb] : 0;
    if (ra != rb && fa && fb && !strong)
        return;
    if (ra != rb) {
        /* the older alert survives (emitted first, else a's) */
        cu_id root = ra, other = rb;
        uint32_t keep = fa, drop = fb;
        const struct file *Fa = fa ? &m->files[fa - 1] : NULL, *Fb = fb ? &m->files[fb - 1] : NULL;
        if (!Fa || (Fb && Fb->emitted && (!Fa->emitted || Fb->num < Fa->num))) {
            root = rb;
            other = ra;
            keep = fb;
            drop = fa;
        }
        m->uf[other] = root;
        if (drop && keep) {
            struct file *d = &m->files[drop - 1], *k = &m->files[keep - 1];
            for (uint32_t i = 0; i < d->nmem; i++)
                ring_member(k, d->mem[i], d->memw[i]);
            for (uint32_t i = 0; i < d->nsubj; i++)
                file_subject(k, d->subj[i]);
            k->E = decayed(k, ev->ts) + decayed(d, ev->ts);
            k->upd = ev->ts;
            if (!d->emitted && !d->pending)
                d->used = 0;
            else
                d->owner = CU_ID_NONE; /* stays until the gate forgets it */
        }
        m->ring_file[other] = 0;
        m->ring_file[root] = keep;
        ra = root;
        fa = keep;
    }
    if (!fa) {
        fa = file_alloc(m, ev->ts, F_RING, ra);
        m->ring_file[ra] = fa;
        if (!fa)
            return;
    }
    struct file *f = &m->files[fa - 1];
    f->owner = ra;
    /* a ring names an officer once the officer's links to it weigh as much
     * as one strong link: one shared person with a grown ring (a quiet
     * outlier who met one of its targets) is not yet membership; a new
     * ring names its pair */
    bool fresh_ring = f->nmem == 0;
    m->off[a].ring_w += (float)wp;
    m->off[b].ring_w += (float)wp;
    if (names || fresh_ring || m->off[a].ring_w >= NAME_MIN)
        ring_member(f, a, (float)wp);
    if (names || fresh_ring || m->off[b].ring_w >= NAME_MIN)
        ring_member(f, b, (float)wp);
    file_subject(f, p);
    double w = wp * (flagged ? 1.5 : 1.0) + (f->nmem >= 3 ? 0.3 : 0);
    file_add(m, fa, S_RING, w, ev, p, CU_ID_NONE, (float)f->nsubj);
}

/* How much a person shared by two officers says about them: a person
 * whom few officers look at unexplained links them strongly; one whom
 * many look at (a frequent caller, a name in the news) hardly at all
 * (resource-allocation weighting, 1 / (accessors - 1)). */
static double shared_weight(const struct pst *ps)
{
    unsigned n = ps->nacc < 2 ? 2 : ps->nacc;
    return 1.0 / (double)(n - 1);
}

/* A stated purpose in a byte: the interned purpose + 1; 0 for none, and
 * for the PUR_N-th purpose and beyond (the interchange has eight), which
 * then match nothing. */
static uint8_t purpose_code(cu_id purpose)
{
    return purpose == CU_ID_NONE || purpose >= PUR_N - 1 ? 0 : (uint8_t)(purpose + 1);
}

/* Whether purpose code c is seldom stated by the officer's unit (under
 * ERRAND_SHARE of its accesses so far, once it has ERRAND_MIN): stating
 * it is a claim out of the unit's line of work, not its daily business. */
static bool rare_purpose(const misuse *m, const cu_officer *o, uint8_t c)
{
    if (!o || !c || o->unit >= m->nunit || (size_t)o->unit * PUR_N + c >= m->nunit_pur)
        return false;
    uint32_t total = m->unit_total[o->unit];
    return total >= ERRAND_MIN && (double)m->unit_pur[(size_t)o->unit * PUR_N + c] < ERRAND_SHARE * total;
}

static bool wide(const misuse *m, const cu_officer *o) { return o->area < m->nwide && m->wide_area[o->area]; }

/* Whether officer o is already a member of a ring (a component with a
 * ring file). */
static bool in_ring(misuse *m, cu_id o)
{
    if (o >= m->nuf)
        return false;
    cu_id r = uf_find(m, o);
    return r < m->nring && m->ring_file[r] != 0;
}

/* routine: the access was explained only by the unit's routine (a mined
 * template) and the person is on the register.  Such an access never
 * starts a ring: it links its officer only to an officer who is already
 * in one, on two or more rarely seen people (weighted by everyone who met
 * them, routine or not), and it never joins two rings (an analyst whose
 * routine is the register meets every ring's targets). */
static void graph_access(misuse *m, const cu_event *ev, cu_id p, bool flagged, bool routine)
{
    struct pst *ps = &m->per[p];
    uint32_t t = tmin(ev->ts);
    cu_id o = ev->officer;
    bool seen = false;
    /* the routine's accessors are kept apart: analysts who meet the
     * register every day must not push the unexplained ones out */
    struct oref *mine = routine ? ps->pr : ps->pa;
    int nmine = routine ? PR_N : PA_N;
    for (int i = 0; i < nmine; i++)
        if (mine[i].p == o && mine[i].t + PAIR_WIN >= t)
            seen = true;
    if (!seen) {
        /* a new accessor: the counts halve every 30 days */
        uint16_t today = (uint16_t)(t / 1440);
        uint16_t el = (uint16_t)(today - ps->acc_day);
        if (el >= 30) {
            unsigned sh = el / 30 > 15 ? 15 : el / 30;
            ps->nacc = (uint16_t)(ps->nacc >> sh);
            ps->nrt = (uint16_t)(ps->nrt >> sh);
            ps->acc_day = today;
        }
        if (routine) {
            if (ps->nrt < UINT16_MAX)
                ps->nrt++;
        } else if (ps->nacc < UINT16_MAX)
            ps->nacc++;
    }
    double wp = shared_weight(ps);
    uint8_t pur = purpose_code(ev->purpose);
    /* a pair through the routine: everyone who met the person counts */
    double wrt = 1.0 / (double)((ps->nacc + ps->nrt < 2 ? 2 : ps->nacc + ps->nrt) - 1);
    const cu_person *pp = NULL;
    bool pp_done = false;
    /* a routine access meets the unexplained ones only: two routines
     * meeting is the routine */
    int ncand = routine ? PA_N : PA_N + PR_N;
    for (int i = 0; i < ncand; i++) {
        bool rt2 = i >= PA_N;
        const struct oref *e = rt2 ? &ps->pr[i - PA_N] : &ps->pa[i];
        cu_id o2 = e->p;
        if (o2 == CU_ID_NONE || e->t + PAIR_WIN < t)
            continue;
        if (o2 == o)
            continue;
        bool via_rt = routine || rt2;
        if (share_case(m, o, o2))
            continue;
        /* one unit's officers meeting the same people is teamwork */
        const cu_officer *oa = cu_ref_officer(m->ref, o), *ob = cu_ref_officer(m->ref, o2);
        if (oa && ob && oa->unit == ob->unit)
            continue;
        /* officers of one area meeting a person of that area is local
         * knowledge (the same callers, the same addresses): it links them
         * only half as much, and never on one person alone */
        bool local = oa && ob && (oa->area == ob->area || wide(m, oa) || wide(m, ob));
        if (local && !pp_done) { /* looked up once, only when it matters */
            pp = cu_ref_person(m->ref, p);
            pp_done = true;
        }
        double wpp = (local && pp && pp->area == oa->area ? 0.5 : 1.0) * (via_rt ? wrt : wp);
        cu_id lo = o < o2 ? o : o2, hi = o < o2 ? o2 : o;
        uint64_t key = ((uint64_t)lo << 32 | hi) + 1;
        size_t mask = ((size_t)1 << PAIR_BITS) - 1;
        uint64_t h = mix64(key);
        struct pair *pr = NULL;
        for (size_t k = 0; k < PROBE; k++) {
            struct pair *c = &m->pairs[(h + k) & mask];
            if (c->key == key || !c->key || c->t + PAIR_WIN < t) {
                if (c->key != key) {
                    memset(c, 0, sizeof *c);
                    c->key = key;
                }
                pr = c;
                break;
            }
        }
        if (!pr)
            continue;
        pr->t = t;
        bool have = false;
        for (int k = 0; k < pr->np && k < 4; k++)
            if (pr->p[k] == p)
                have = true;
        /* a person shared again: nothing new to add, but an officer who
         * did not stand out then may now (the edge is judged again) */
        if (have && pr->active)
            continue;
        if (!have) {
            if (pr->np < 4)
                pr->p[pr->np] = p;
            if (pr->np < UINT8_MAX)
                pr->np++;
            pr->W += (float)wpp;
        }
        /* an edge once the pair shares enough rarely-seen people: two
         * people whom nobody else looked at, or more that a few did */
        /* or, one person nobody else looked at, shared by two officers who
         * each keep looking people up with no reason (quiet outliers):
         * chance seldom puts two such officers on one stranger */
        if (via_rt) {
            /* through the routine: the other officer must already be in
             * a ring (a quiet outlier alone is not enough: analysts and
             * outliers meet on the register by chance), and the pair share
             * two or more rarely seen people, or four or more however many
             * others met them (an analyst of a ring whose targets the rest
             * of the unit also meets now and then: fifth round) */
            cu_id other = routine ? o2 : o;
            bool stands_out = in_ring(m, other);
            cu_id rto = routine ? o : o2;
            /* never the bridge between two rings */
            if (in_ring(m, rto) && in_ring(m, other) && uf_find(m, rto) != uf_find(m, other))
                continue;
            if (((pr->W >= EDGE_MIN && pr->np >= 2) || pr->np >= ROUTINE_NP) && stands_out) {
                double w = pr->active ? wpp : pr->W;
                pr->active = 1;
                ring_edge(m, o, o2, ev, p, w, flagged, true, true);
                continue;
            }
            continue;
        }
        /* or, one person nobody else looked at, by two officers of other
         * units and areas who both stated the same purpose for it with
         * nothing in the data behind it: the same claimed errand on the
         * same stranger (eighth round).  The purpose is not their units'
         * routine (a routine look-up takes the path above), so it is a
         * claim, and two such claims meeting on one stranger are seldom
         * chance.  Such an edge names both, but it is not strong: it does
         * not join two rings. */
        bool same_errand = !local && !rt2 && pur && ps->pa_pur[i] == pur && pr->W >= 0.99f &&
                           rare_purpose(m, oa, pur) && rare_purpose(m, ob, pur);
        if (pr->W >= EDGE_MIN || same_errand ||
            (!local && pr->W >= 0.9f && breadth(&m->off[o], t) >= BREADTH_MIN && o2 < m->noff &&
             breadth(&m->off[o2], t) >= BREADTH_MIN)) {
            double w = pr->active ? wpp : pr->W; /* the earlier shared people count when the edge forms */
            pr->active = 1;
            bool strong = pr->W >= EDGE_MIN && pr->np >= 2;
            ring_edge(m, o, o2, ev, p, w, flagged, strong, strong || same_errand);
        }
    }
    if (!seen && routine) {
        ps->pr[ps->prpos].p = o;
        ps->pr[ps->prpos].t = t;
        ps->prpos = (uint8_t)((ps->prpos + 1) % PR_N);
    } else if (!seen) {
        ps->pa[ps->papos].p = o;
        ps->pa[ps->papos].t = t;
        ps->pa_pur[ps->papos] = pur;
        ps->papos = (uint8_t)((ps->papos + 1) % PA_N);
    }
}

static void burst_access(misuse *m, const cu_event *ev, cu_id p, bool flagged)
{
    struct pst *ps = &m->per[p];
    uint32_t t = tmin(ev->ts);
    cu_id o = ev->officer;
    bool seen = false;
    for (int i = 0; i < PV_N; i++)
        if (ps->pv[i].p == o && ps->pv[i].t + BURST_WIN >= t) {
            ps->pv[i].t = t;
            seen = true;
        }
    if (!seen) {
        ps->pv[ps->pvpos].p = o;
        ps->pv[ps->pvpos].t = t;
        ps->pvpos = (uint8_t)((ps->pvpos + 1) % PV_N);
    }
    cu_id who[PV_N];
    int n = 0;
    for (int i = 0; i < PV_N; i++)
        if (ps->pv[i].p != CU_ID_NONE && ps->pv[i].t + BURST_WIN >= t)
            who[n++] = ps->pv[i].p;
    if (n < BURST_MIN)
        return;
    if (!ps->burst) {
        ps->burst = file_alloc(m, ev->ts, F_BURST, p);
        if (!ps->burst)
            return;
    }
    struct file *f = &m->files[ps->burst - 1];
    uint32_t before = f->nmem;
    for (int i = 0; i < n; i++)
        file_member(f, who[i]);
    file_subject(f, p);
    uint32_t added = f->nmem - before;
    file_add(m, ps->burst, S_CURIOSITY, 1.0 * (added ? added : 0.25) * (flagged ? 1.5 : 1.0), ev, p, CU_ID_NONE, 0);
}

/* ================================================================ per event */

/* Notes p (of household h, 0: none) as unexplained for the officer at t.
 * Returns the number of distinct days p, or failing that another of p's
 * household, has been looked up unexplained when this is a new day for it
 * (a repeat), else 0. */
static unsigned ux_note_in(struct ux *ux, int n, uint8_t *pos, cu_id p, uint64_t h, uint32_t t, int32_t day)
{
    int hk = -1;
    for (int k = 0; k < n; k++) {
        struct ux *u = &ux[k];
        if (h && u->h == h && u->p != p && (hk < 0 || u->days > ux[hk].days))
            hk = k;
        if (u->p != p)
            continue;
        bool again = u->lastday != day;
        if (again) {
            u->days++;
            u->lastday = day;
        }
        u->t = t;
        return again ? u->days : 0;
    }
    if (hk >= 0 && ux[hk].lastday != day) {
        /* another of the household, looked up unexplained on an earlier
         * day: coming back to one home is coming back */
        struct ux *u = &ux[hk];
        u->days++;
        u->lastday = day;
        u->t = t;
        return u->days;
    }
    struct ux *u = &ux[*pos];
    *pos = (uint8_t)((*pos + 1) % n);
    u->p = p;
    u->h = h;
    u->t = t;
    u->days = 1;
    u->lastday = day;
    return 0;
}

/* A person (or home) looked up with no reason on a second day weighs 1.0;
 * coming back a third time and more is a fixation, not chance: 1.5 on the
 * third day, +0.5 each day after, at most 3.0 (fourth round). */
static double repeat_weight(unsigned days)
{
    if (days <= 2)
        return 1.0;
    double w = 1.5 + 0.5 * (double)(days - 3);
    return w < 3.0 ? w : 3.0;
}

static unsigned ux_note(struct ost *s, cu_id p, uint64_t h, uint32_t t, int32_t day)
{
    return ux_note_in(s->ux, UX_N, &s->uxpos, p, h, t, day);
}

static double rarity(const misuse *m, const struct ost *s, const cu_officer *o);
static void graph_access(misuse *m, const cu_event *ev, cu_id p, bool flagged, bool routine);

/* A refused access is still an attempt to look someone up: with no case
 * of the officer's own (or cited) linking the person or record, it counts
 * in the officer's unexplained breadth and in the co-access graph, as the
 * look-up would have.  Nothing else is derived from it (it showed the
 * officer nothing). */
static void denied_attempt(misuse *m, const cu_event *ev, struct ost *s, const cu_officer *o, const cu_ref *ref)
{
    bool look = ev->action == CU_ACT_VIEW || (ev->action == CU_ACT_SEARCH && ev->has_results && ev->results <= 3);
    if (!look || !o)
        return;
    const cu_record *rec = ev->record != CU_ID_NONE ? cu_ref_record(ref, ev->record) : NULL;
    cu_id p = ev->nsubjects ? ev->subjects[0] : rec && rec->nsubjects ? rec->subjects[0] : CU_ID_NONE;
    if (p == CU_ID_NONE || ensure_person(m, p))
        return;
    const cu_case *cited = ev->case_id != CU_ID_NONE ? cu_ref_case(ref, ev->case_id) : NULL;
    if (cited && ((rec && cu_case_links_record(cited, ev->record)) || cu_case_links_person(cited, p)))
        return;
    const cu_id *cases;
    size_t nc = cu_ref_officer_cases(ref, ev->officer, &cases);
    for (size_t i = 0; i < nc && i < 16; i++) {
        const cu_case *c = cu_ref_case(ref, cases[i]);
        if (c && ((rec && cu_case_links_record(c, ev->record)) || cu_case_links_person(c, p)))
            return;
    }
    uint32_t t = tmin(ev->ts);
    const cu_person *pp = cu_ref_person(ref, p);
    (void)ux_note(s, p, pp ? pp->address_h : 0, t, day_of(ev->ts));
    if (rarity(m, s, o) >= 0.5) {
        graph_access(m, ev, p, pp && pp->flags, false);
    }
}

/* The week behind an officer's day: the soft excess (and what of it was
 * not credited) of the
 * previous WEEK_DAYS - 1 active days, and the officer's usual weekly
 * excess, the upper median of the excess summed over the blocks of
 * WEEK_DAYS active days in the history (at least two blocks, else none):
 * a routine whose odd days come in bursts of weeks passes the day's
 * allowance in two weeks of four, and the lower median (0) had judged it
 * by the day alone (seventh round).  Once a day per officer. */
static void week_roll(struct ost *s)
{
    s->wk_exc = s->wk_unc = s->wk_slack = 0;
    for (int k = 1; k < WEEK_DAYS && k <= s->hn; k++) {
        int i = (s->hpos + HIST_N - k) % HIST_N;
        s->wk_exc += s->h_exc[i] / 10.0f;
        s->wk_unc += s->h_unc[i] / 10.0f;
    }
    int nb = s->hn / WEEK_DAYS;
    if (nb < 2)
        return;
    float b[HIST_N / WEEK_DAYS];
    for (int j = 0; j < nb; j++) {
        b[j] = 0;
        for (int k = 1; k <= WEEK_DAYS; k++)
            b[j] += s->h_exc[(s->hpos + HIST_N - j * WEEK_DAYS - k) % HIST_N] / 10.0f;
    }
    for (int i = 1; i < nb; i++)
        for (int j = i; j && b[j - 1] > b[j]; j--) {
            float x = b[j];
            b[j] = b[j - 1];
            b[j - 1] = x;
        }
    s->wk_slack = (float)(WEEK_SLACK * b[nb / 2]);
}

static void officer_day(misuse *m, struct ost *s, int32_t day)
{
    if (s->day == day)
        return;
    if (s->day != INT32_MIN && (s->t_exf || s->t_unx || s->events)) {
        s->h_exf[s->hpos] = s->t_exf;
        s->h_unx[s->hpos] = s->t_unx;
        uint16_t sv = (uint16_t)(s->soft_today * 10 > 60000 ? 60000 : s->soft_today * 10);
        s->h_soft[s->hpos] = sv;
        double ex = s->allow_today >= 0 && s->allow_today < 1e8 ? s->soft_today - s->allow_today : 0;
        s->h_exc[s->hpos] = (uint16_t)(ex <= 0 ? 0 : ex * 10 > 60000 ? 60000 : ex * 10 + 0.5);
        double un = ex - s->credited_today; /* 0 but for what the week's slack kept back */
        s->h_unc[s->hpos] = (uint16_t)(un <= 0 ? 0 : un * 10 > 60000 ? 60000 : un * 10 + 0.5);
        if (s->unit_seen != CU_ID_NONE &&
            !grow((void **)&m->unit_soft, &m->nunit4, (size_t)s->unit_seen + 1, sizeof *m->unit_soft))
            peer_add(&m->unit_soft[s->unit_seen], sv);
        s->hpos = (uint8_t)((s->hpos + 1) % HIST_N);
        if (s->hn < HIST_N)
            s->hn++;
        s->active_days++;
        peer_add(&m->peer_exf, s->t_exf);
        peer_add(&m->peer_unx, s->t_unx);
    }
    s->day = day;
    s->t_exf = s->t_unx = s->t_bulk_fired = s->t_spike_fired = 0;
    s->soft_today = s->credited_today = 0;
    s->allow_today = -1;
    week_roll(s);
}

static struct peer *role_peer(misuse *m, const cu_officer *o)
{
    if (!o || !o->role)
        return NULL;
    uint64_t k = cu_ref_text_hash(o->role, strlen(o->role));
    for (size_t i = 0; i < m->nrole; i++) {
        size_t j = (k + i) % m->nrole;
        if (m->role_key[j] == k)
            return &m->role_res[j];
        if (!m->role_key[j]) {
            m->role_key[j] = k;
            return &m->role_res[j];
        }
    }
    return NULL;
}

static void global_day(misuse *m, int32_t day)
{
    if (m->gday == day)
        return;
    m->gday = day;
    peer_update(&m->peer_exf);
    peer_update(&m->peer_unx);
    for (size_t i = 0; i < m->nrole; i++)
        if (m->role_key[i])
            peer_update(&m->role_res[i]);
    for (size_t i = 0; i < m->nunit4; i++)
        if (m->unit_soft[i].n)
            peer_update(&m->unit_soft[i]);
}

/* The day's allowance of soft evidence (unexplained sensitive look-ups):
 * what the officer's own history (or, while learning, the unit's) shows
 * as usual, median + 3 MAD.  Only the excess becomes evidence, so a role
 * whose daily work touches sensitive people unexplained (custody, analysts)
 * is judged against itself, and a low-and-slow campaign still counts. */
static double soft_allowance(const misuse *m, const struct ost *s)
{
    if (m->cfg.rules_only)
        return 0;
    float tmp[HIST_N], med, mad;
    if (s->active_days >= LEARN_DAYS) {
        med_mad(s->h_soft, s->hn, tmp, &med, &mad);
        return (med + 3 * mad) / 10.0;
    }
    if (s->unit_seen != CU_ID_NONE && s->unit_seen < m->nunit4 && m->unit_soft[s->unit_seen].n >= 20) {
        const struct peer *g = &m->unit_soft[s->unit_seen];
        return (g->med + 3 * g->mad) / 10.0;
    }
    return 1e9; /* learning: nothing to compare with yet */
}

/* What of today's soft evidence becomes evidence now: the excess over
 * the day's allowance, less the officer's usual weekly excess (a custody
 * officer or analyst whose routine passes the day's allowance on the odd
 * day is judged by the week: what they usually pass it by in a week is
 * theirs too), less what the week has already credited.  With no usual
 * weekly excess this is the day's excess less today's credit, as before.
 * None in the first days of new access (the routine is not yet theirs). */
static double week_credit(const struct ost *s, double allow, bool fresh)
{
    double ex = s->soft_today - allow;
    if (ex < 0)
        ex = 0;
    double slack = fresh ? 0 : s->wk_slack;
    if (s->wk_exc + ex - slack <= 0)
        return 0;
    /* the week may credit wk_exc + ex - slack in all; it has credited
     * wk_exc - wk_unc before today and credited_today today */
    return s->wk_unc + ex - slack - s->credited_today;
}

/* Whether hour h is outside a declared shift band. */
static bool band_off(uint8_t shift, int h)
{
    switch (shift) {
    case CU_SHIFT_DAYS: return h < 7 || h >= 19;
    case CU_SHIFT_EARLIES: return h < 6 || h >= 16;
    case CU_SHIFT_LATES: return h < 14 && h >= 1;
    case CU_SHIFT_NIGHTS: return h >= 9 && h < 20;
    case CU_SHIFT_OFFICE: return h < 6 || h >= 20;
    default: return false;
    }
}

/* Whether hour h is outside the officer's habits (learned) or shift band. */
static bool off_shift(const misuse *m, const struct ost *s, const cu_officer *o, int h)
{
    if (!m->cfg.rules_only) {
        if (s->active_days < LEARN_DAYS || s->events < 100)
            return false;
        uint32_t around = s->hour[h] + s->hour[(h + 23) % 24] + s->hour[(h + 1) % 24];
        return around * 200 < s->events;
    }
    return o && band_off(o->shift, h);
}

static bool usual_area(const struct ost *s, cu_id a)
{
    for (int i = 0; i < AREA_N; i++)
        if (s->area[i] == a && s->area_n[i] >= 3)
            return true;
    return false;
}

static void count_slot(cu_id *ids, uint16_t *n, int cap, cu_id x)
{
    int lo = 0;
    for (int i = 0; i < cap; i++) {
        if (ids[i] == x) {
            if (n[i] < UINT16_MAX)
                n[i]++;
            return;
        }
        if (n[i] < n[lo])
            lo = i;
    }
    ids[lo] = x;
    n[lo] = 1;
}

static void on_login(misuse *m, const cu_event *ev, struct ost *s, const cu_officer *o)
{
    cu_id t = ev->terminal;
    if (t == CU_ID_NONE)
        return;
    if (ensure_term(m, t))
        return;
    if (ev->action == CU_ACT_LOGOUT) {
        if (m->term_sess[t] == ev->officer)
            m->term_sess[t] = CU_ID_NONE;
        s->sess_suspect = 0;
        return;
    }
    s->sess_suspect = 0;
    bool known = false;
    for (int i = 0; i < TERM_N; i++)
        if (s->term[i] == t)
            known = true;
    cu_id owner = m->term_owner[t];
    bool other_area = o && ev->area != CU_ID_NONE && o->area != CU_ID_NONE && ev->area != o->area;
    int h = (int)((ev->ts % 86400 + 86400) % 86400 / 3600);
    /* out of the officer's hours: learned, or while they are being learned
     * the declared shift band */
    bool learned = s->active_days >= LEARN_DAYS && s->events >= 100;
    bool offh = !m->cfg.rules_only && (learned ? off_shift(m, s, o, h) : o && band_off(o->shift, h));
    bool colleague = owner != CU_ID_NONE && owner != ev->officer;
    if (!m->cfg.rules_only) {
        /* a terminal that another officer uses (3+ logins), or, out of the
         * officer's hours, one that another used last */
        if (!known && colleague && ((s->logins >= 3 && m->term_cnt[t] >= 3) || (offh && s->logins >= 1))) {
            uint32_t fi = officer_file(m, ev->officer, ev->ts);
            if (fi) {
                file_member(&m->files[fi - 1], owner);
                /* Hot-desking and covering another station are common, so a
                 * login at a colleague's desk is only the start of a case:
                 * what is done in the session (below) decides.  The owner
                 * being logged in at that very terminal is worth more: one
                 * person, two accounts.  In the officer's own hours with
                 * nobody logged in there, the desk alone weighs half: that
                 * is how hot-desking looks (fifth round: most false
                 * colleague-login alerts on the tuning seeds). */
                bool open_there = m->term_sess[t] != CU_ID_NONE && m->term_sess[t] != ev->officer;
                double w = (offh || open_there ? 1.2 : LOGIN_HOTDESK) + (other_area && !usual_area(s, ev->area) ? 0.3 : 0) +
                           (m->term_sess[t] != CU_ID_NONE && m->term_sess[t] != ev->officer ? 0.5 : 0) +
                           (offh ? 1.0 : 0);
                file_add(m, fi, S_LOGIN, w, ev, t, owner, (float)offh);
            }
            /* at a colleague's desk when the officer does not work: whoever
             * uses the account, the unit's routine is no excuse for it */
            s->sess_suspect = offh ? 2 : 1;
            s->sess_other = owner;
        }
    } else if (other_area) {
        uint32_t fi = officer_file(m, ev->officer, ev->ts);
        file_add(m, fi, S_LOGIN, 1.0, ev, t, CU_ID_NONE, 0);
        s->sess_suspect = 1;
    }
    s->logins++;
    count_slot(s->term, s->term_n, TERM_N, t);
    if (owner == ev->officer)
        m->term_cnt[t]++;
    else if (!m->term_cnt[t] || owner == CU_ID_NONE) {
        m->term_owner[t] = ev->officer;
        m->term_cnt[t] = 1;
    } else
        m->term_cnt[t]--;
    m->term_sess[t] = ev->officer;
}

static double flag_weight(uint32_t flags)
{
    if (flags & (CU_PF_PROTECTED | CU_PF_INFORMANT | CU_PF_WITNESS))
        return 1.0;
    if (flags & (CU_PF_VIP | CU_PF_HIGH_PROFILE))
        return 1.0;
    if (flags & CU_PF_ACTIVIST)
        return 0.8;
    if (flags & CU_PF_OTHER)
        return 0.6;
    if (flags & CU_PF_OFFICER)
        return 0.25;
    return 0.15; /* deceased */
}

#define EW_KEEP (1.0f - 1.0f / 400)  /* decayed counts remember ~400 accesses */
#define BASE_SHARE 0.04                /* a usual share of unexplained accesses */

/* How surprising one more unexplained access is for this officer: 1 for
 * an officer (or, while learning, a unit) whose work is almost always
 * explained, down to 0.05 for one whose routine is largely unexplained
 * (custody off the street, analysts' trawls, licensing checks). */
static double rarity(const misuse *m, const struct ost *s, const cu_officer *o)
{
    if (m->cfg.rules_only)
        return 1.0;
    double share = BASE_SHARE;
    if (s->ew_all >= 150)
        share = s->ew_unx / s->ew_all;
    else if (o && o->unit < m->nunit2 && m->unit_all[o->unit] >= 300)
        share = m->unit_unx[o->unit] / m->unit_all[o->unit];
    double r = BASE_SHARE / (share > BASE_SHARE ? share : BASE_SHARE);
    return r < 0.05 ? 0.05 : r;
}

/* An officer first seen after a change of unit that the reference dates
 * within the last NEW_ACCESS_DAYS (a move before the stream's first event
 * of the officer, or over days off): when the version in force began, if
 * the version before it was of another unit; INT64_MIN otherwise.  Once
 * per officer. */
/* Whether p may be one of the officer's declared relations (o: the
 * version own_for caches): false only when it is not. */
static bool related(const struct ost *s, const cu_officer *o, cu_id p)
{
    if (s->own_for != o || s->nrel > REL_N)
        return o->nrelations != 0;
    unsigned any = 0;
    for (int i = 0; i < REL_N; i++)
        any |= s->rel_p[i] == p;
    return any != 0;
}

static int64_t moved_at(const cu_ref *ref, const cu_officer *o, int64_t now)
{
    if (o->valid_from == INT64_MIN || now - o->valid_from >= NEW_ACCESS_DAYS * 86400)
        return INT64_MIN;
    const cu_officer *v = cu_ref_all_get(ref, CU_REF_OFFICER, o->id), *prev = NULL;
    for (; v && v != o; v = v->next)
        prev = v;
    return v && prev && prev->unit != o->unit ? o->valid_from : INT64_MIN;
}

/* Ask for the memory the event will read, all at once, before any of it
 * is used: the officer's state (its hot fields and the rings every access
 * scans) and the record are cache misses on a large force, and asked for
 * together they are waited for once instead of one after the other.  A
 * prefetch changes no result. */
static void warm(const misuse *m, const cu_event *ev)
{
    const char *b = (const char *)&m->off[ev->officer];
    for (size_t k = 0; k < offsetof(struct ost, sr_t) + 64; k += 64)
        __builtin_prefetch(b + k);
    __builtin_prefetch(b + offsetof(struct ost, hour));
    if (ev->record < m->nrsum) /* CU_ID_NONE is not */
        __builtin_prefetch(&m->rsum[ev->record]);
}

static cu_rc misuse_event(void *state, const cu_event *ev, const cu_ref *ref, int64_t now, cu_alerts *out)
{
    misuse *m = state;
    cu_rc rc;
    if (m->last_refill == INT64_MIN)
        m->last_refill = now; /* the budget's clock starts with the stream */
    int64_t hr = now >= 0 ? now / 3600 : (now - 3599) / 3600;
    if (hr != m->hour || m->gate_due) {
        if (m->hour != INT64_MIN || m->gate_due)
            gate(m, now, out);
        m->hour = hr;
    }
    if (ev->officer == CU_ID_NONE)
        return CU_OK;
    if ((rc = ensure_officer(m, ev->officer)))
        return rc;
    warm(m, ev);
    int32_t day = day_of(ev->ts);
    global_day(m, day);
    struct ost *s = &m->off[ev->officer];
    officer_day(m, s, day);
    const cu_officer *o = cu_ref_officer(ref, ev->officer);
    /* a change of unit is the start of new access */
    if (o && o->unit != s->unit_seen) {
        if (s->unit_seen != CU_ID_NONE)
            s->new_access_at = ev->ts;
        else
            s->new_access_at = moved_at(ref, o, ev->ts);
        s->unit_seen = o->unit;
    }
    int h = (int)((ev->ts % 86400 + 86400) % 86400 / 3600);
    if (ev->action == CU_ACT_LOGIN || ev->action == CU_ACT_LOGOUT) {
        on_login(m, ev, s, o);
        s->hour[h]++;
        s->events++;
        return CU_OK;
    }
    if (ev->outcome != CU_OUT_ALLOW) {
        if (!m->cfg.rules_only)
            denied_attempt(m, ev, s, o, ref);
        return CU_OK;
    }

    /* ------------------------------------------------ explanations */
    /* not zeroed whole: the household's arrays (768 bytes) are filled up
     * to naddr only when needed */
    ectx x;
    x.o = o;
    x.nmine = 0;
    x.own_addr = x.own_sur = x.own_fam = 0;
    x.other_case = CU_ID_NONE;
    x.restricted = x.addr_done = false;
    x.naddr = 0;
    const cu_id *cases;
    size_t nc = cu_ref_officer_cases(ref, ev->officer, &cases);
    for (size_t i = 0; i < nc && x.nmine < 16; i++) {
        const cu_case *c = cu_ref_case(ref, cases[i]);
        if (c)
            x.mine[x.nmine++] = c;
    }
    x.cited = ev->case_id != CU_ID_NONE ? cu_ref_case(ref, ev->case_id) : NULL;
    if (o && s->own_for != o) {
        /* the officer's own address, surname, family and role group, once
         * per version of the officer (not per event) */
        s->own_for = o;
        s->own_addr = o->address_h;
        s->own_sur = o->surname_h;
        s->own_fam = 0;
        for (uint32_t i = 0; i < o->nrelations; i++)
            if (strcmp(o->relations[i].type, "self") == 0) {
                const cu_person *me = cu_ref_person(ref, o->relations[i].person);
                if (me) {
                    if (!s->own_addr)
                        s->own_addr = me->address_h;
                    if (!s->own_sur)
                        s->own_sur = me->surname_h;
                    s->own_fam = me->family_h;
                }
            }
        s->role = role_peer(m, o);
        /* the relations' people, so that an access to none of them (nearly
         * all) is told without reading the officer's relation array */
        s->nrel = o->nrelations <= REL_N ? (uint8_t)o->nrelations : REL_N + 1;
        for (uint32_t i = 0; i < REL_N; i++)
            s->rel_p[i] = i < o->nrelations ? o->relations[i].person : CU_ID_NONE;
    }
    if (o) {
        x.own_addr = s->own_addr;
        x.own_sur = s->own_sur;
        x.own_fam = s->own_fam;
    }
    rview rec = {0};
    if (ev->record != CU_ID_NONE) {
        const struct rsum *q = ev->record < m->nrsum ? &m->rsum[ev->record] : NULL;
        if (q && q->f) {
            rec = (rview){.has = q->f & RS_HAS, .caveat = q->f & RS_CAVEAT, .secret = q->f & RS_SECRET,
                          .address = q->f & RS_ADDRESS, .n = q->n, .sub = q->sub};
        } else {
            const cu_record *r = cu_ref_record(ref, ev->record);
            if (r)
                rec = (rview){.has = true, .caveat = r->ncaveats != 0, .secret = r->classification >= CU_CLASS_SECRET,
                              .address = r->type && strcmp(r->type, "address") == 0, .n = r->nsubjects,
                              .sub = r->subjects};
        }
    }
    cu_id people[64];
    uint32_t pbits[64];
    uint32_t np = 0;
    for (uint32_t i = 0; i < ev->nsubjects && np < 48; i++)
        people[np++] = ev->subjects[i];
    if (rec.has)
        for (uint32_t i = 0; i < rec.n && np < 64; i++) {
            bool dup = false;
            for (uint32_t k = 0; k < np; k++)
                dup |= people[k] == rec.sub[i];
            if (!dup)
                people[np++] = rec.sub[i];
        }
    uint32_t bits = 0;
    if (rec.has && my_case_links(m, x.mine, x.nmine, ev->record, CU_ID_NONE))
        bits |= CU_X_CASE;
    if (rec.has && x.cited && cu_case_links_record(x.cited, ev->record))
        bits |= CU_X_CITED;
    x.restricted = rec.has && rec.caveat;
    if (rec.has && !(bits & CU_X_CASE) && o && !x.restricted &&
        team_link(m, m->rc_off, m->rc, m->nr_idx, ev->record, o->unit, ev->officer, NULL))
        bits |= CU_X_TEAM;
    /* A search that returns many people is explained by its stated case,
     * never by one of its many results happening to be known to the
     * officer: that is chance, not a reason for the search. */
    bool big_search = ev->action == CU_ACT_SEARCH && ev->has_results && ev->results >= 20;
    for (uint32_t i = 0; i < np; i++) {
        if ((rc = ensure_person(m, people[i])))
            return rc;
        if (big_search) /* only the cited case counts: nothing else to look at */
            pbits[i] = x.cited && cu_case_links_person(x.cited, people[i]) ? CU_X_CITED : 0;
        else
            pbits[i] = explain_person(m, ev, &x, people[i]);
        bits |= pbits[i];
    }
    if (!np && !rec.has)
        bits |= CU_X_TEST;
    struct tpl *tp = NULL, *tr = NULL;
    bool strong = (bits & CU_X_STRONG) != 0;
    if (o && (rc = grow((void **)&m->unit_total, &m->nunit, (size_t)o->unit + 1, sizeof *m->unit_total)))
        return rc;
    struct peer *rp = o ? s->role : NULL;
    size_t ri = rp ? (size_t)(rp - m->role_res) : 0;
    uint64_t tk = o ? tpl_key(ev, o->unit, 1) : 0, tkr = rp ? tpl_key(ev, m->role_key[ri], 2) : 0;
    if (!m->cfg.rules_only && o) {
        tp = tpl_find(m, tk, !strong);
        tr = rp ? tpl_find(m, tkr, !strong) : NULL;
        if (tpl_explains(tp, m->unit_total[o->unit], 3) || (rp && tpl_explains(tr, m->role_total[ri], 5)))
            bits |= CU_X_TEMPLATE;
        /* the views after a routine search share its explanation */
        uint32_t tt = tmin(ev->ts);
        for (uint32_t i = 0; i < np && !(bits & CU_X_TEMPLATE); i++)
            if (searched(s, people[i], tt, 8))
                bits |= CU_X_TEMPLATE;
    }
    m->st.accesses++;
    if (bits)
        m->st.explained++;
    if (strong)
        m->st.strong++;
    for (uint32_t b = bits & 0xffu; b; b &= b - 1)
        m->st.by_bit[__builtin_ctz(b)]++;
    if (m->cfg.on_explain)
        m->cfg.on_explain(m->cfg.ud, ev, bits);
    /* learning from this access happens after it was judged (causal) */
    if (o && o->unit < m->nunit)
        m->unit_total[o->unit]++;
    if (o && purpose_code(ev->purpose) &&
        !grow((void **)&m->unit_pur, &m->nunit_pur, ((size_t)o->unit + 1) * PUR_N, sizeof *m->unit_pur))
        m->unit_pur[(size_t)o->unit * PUR_N + purpose_code(ev->purpose)]++;
    {
        bool unx = !(bits & (CU_X_STRONG | CU_X_TEMPLATE | CU_X_TEST));
        s->ew_all = s->ew_all * EW_KEEP + 1;
        s->ew_unx = s->ew_unx * EW_KEEP + (unx ? 1 : 0);
        s->ew_weak = s->ew_weak * EW_KEEP + (strong ? 0 : 1);
        if (o && !grow((void **)&m->unit_all, &m->nunit2, (size_t)o->unit + 1, sizeof *m->unit_all) &&
            !grow((void **)&m->unit_unx, &m->nunit3, (size_t)o->unit + 1, sizeof *m->unit_unx)) {
            m->unit_all[o->unit] = m->unit_all[o->unit] * 0.9995f + 1;
            m->unit_unx[o->unit] = m->unit_unx[o->unit] * 0.9995f + (unx ? 1 : 0);
            if (!grow((void **)&m->unit_weak, &m->nunit6, (size_t)o->unit + 1, sizeof *m->unit_weak))
                m->unit_weak[o->unit] = m->unit_weak[o->unit] * 0.9995f + (strong ? 0 : 1);
        }
    }
    if (rp)
        m->role_total[ri]++;
    if (tp && !strong) {
        if (tp->count < UINT32_MAX)
            tp->count++;
        if (tpair_new(m, tk, ev->officer) && tp->distinct < UINT16_MAX)
            tp->distinct++;
    }
    if (tr && !strong) {
        if (tr->count < UINT32_MAX)
            tr->count++;
        if (tpair_new(m, tkr, ev->officer) && tr->distinct < UINT16_MAX)
            tr->distinct++;
    }
    uint32_t t = tmin(ev->ts);
    if (ev->action == CU_ACT_SEARCH) {
        uint8_t trawl = 0;
        if (!strong && ev->has_results && ev->results >= 20) {
            uint16_t lv = (uint16_t)(log2((double)ev->results + 1) * 10);
            struct peer *g = rp;
            bool unusual;
            /* unusual for the officer (not a habitual bulk searcher), for the
             * unit (whose searches are seldom big) and for the role */
            bool unit_routine = o && o->unit < m->nunit5 && m->unit_srch[o->unit].srch >= 50 &&
                                m->unit_srch[o->unit].big >= 0.05f * m->unit_srch[o->unit].srch;
            if (m->cfg.rules_only)
                unusual = ev->results >= 50;
            else
                unusual = g && g->nupd >= 50 && lv > g->med + 20 + 4 * (g->mad > 5 ? g->mad : 5) && s->big_searches < 5 &&
                          !unit_routine;
            if (unusual) {
                trawl = 2;
                uint32_t fi = officer_file(m, ev->officer, ev->ts);
                file_add(m, fi, S_TRAWL, 1.5, ev, np ? people[0] : CU_ID_NONE, CU_ID_NONE, (float)ev->results);
            }
        }
        if (ev->has_results && o &&
            !grow((void **)&m->unit_srch, &m->nunit5, (size_t)o->unit + 1, sizeof *m->unit_srch)) {
            m->unit_srch[o->unit].srch = m->unit_srch[o->unit].srch * 0.999f + 1;
            m->unit_srch[o->unit].big = m->unit_srch[o->unit].big * 0.999f + (ev->results >= 20 ? 1 : 0);
        }
        if (ev->has_results) {
            struct peer *g = rp;
            if (g)
                peer_add(g, (uint16_t)(log2((double)ev->results + 1) * 10));
            if (ev->results >= 20 && s->big_searches < UINT32_MAX)
                s->big_searches++;
        }
        uint8_t sx = (uint8_t)((strong ? 1 : 0) | trawl | (big_search ? 4 : 0) | ((bits & CU_X_TEMPLATE) ? 8 : 0));
        if (big_search) {
            /* a wide search's people (all listed) in a small filter, not
             * in the ring: forty names would push out every other search */
            s->big_t = t;
            s->big_x = sx;
            memset(s->big_bloom, 0, sizeof s->big_bloom);
            for (uint32_t i = 0; i < np; i++)
                bloom_add(s->big_bloom, people[i]);
        } else {
            for (uint32_t i = 0; i < np && i < 8; i++) { /* the first listed are the best matches */
                s->sr_p[s->srpos] = people[i];
                s->sr_t[s->srpos] = t;
                s->sr_x[s->srpos] = sx;
                s->srpos = (uint8_t)((s->srpos + 1) % SR_N);
            }
        }
    }
    if (strong && ev->action != CU_ACT_SEARCH) {
        for (uint32_t i = 0; i < np && i < 4; i++) {
            if (!(pbits[i] & CU_X_STRONG) && !(bits & (CU_X_CASE | CU_X_CITED)))
                continue;
            s->xp_p[s->xppos] = people[i];
            s->xp_t[s->xppos] = t;
            s->xppos = (uint8_t)((s->xppos + 1) % XP_N);
        }
    }
    s->hour[h]++;
    s->events++;
    if (ev->area != CU_ID_NONE)
        count_slot(s->area, s->area_n, AREA_N, ev->area);

    /* ------------------------------------------------ signals */
    bool U = !strong;
    /* A unit's routine is not yet the routine of an officer who has just
     * joined it: in the first days of new access nothing is excused by it. */
    bool fresh = s->new_access_at != INT64_MIN && ev->ts - s->new_access_at < NEW_ACCESS_DAYS * 86400;
    bool T = (bits & CU_X_TEMPLATE) != 0;
    bool exf = ev->action == CU_ACT_EXPORT || ev->action == CU_ACT_PRINT || ev->action == CU_ACT_DISCLOSE;
    if (exf) {
        s->t_exf++;
        /* bulk export against the officer's and the peers' usual */
        double thr;
        if (m->cfg.rules_only) {
            thr = 25;
        } else {
            float tmp[HIST_N], med, mad;
            med_mad(s->h_exf, s->hn, tmp, &med, &mad);
            double pthr = m->peer_exf.med + 8 * (m->peer_exf.mad > 1 ? m->peer_exf.mad : 1);
            double othr = s->active_days >= LEARN_DAYS ? med + 6 * (mad > 1 ? mad : 1) : pthr;
            thr = othr > pthr ? othr : pthr;
            if (thr < 8)
                thr = 8;
        }
        if (s->t_exf >= thr && (s->t_bulk_fired == 0 || s->t_exf >= 2 * s->t_bulk_fired)) {
            bool leaving = o && o->end != CU_TIME_NEVER && o->end - ev->ts < 60 * 86400;
            uint32_t fi = officer_file(m, ev->officer, ev->ts);
            file_add(m, fi, S_BULK, (s->t_bulk_fired ? 1.0 : 2.0) * (leaving ? 1.5 : 1.0), ev, CU_ID_NONE, leaving ? 1 : CU_ID_NONE,
                     (float)s->t_exf);
            s->t_bulk_fired = s->t_exf;
        }
    }
    /* A person known to the officer only from a colleague's case (the
     * unit's case, the officer not on it, no case cited) is teamwork once
     * or twice; coming back to them on a fourth day and more, never
     * assigned, is the fixation of an unexplained repeat hidden behind
     * the team's case (an undeclared former partner who is a subject of
     * it; fifth round).  On the generated forces 0-2 officer-person pairs
     * a month reach three such days legitimately, none four. */
    unsigned team_days = 0;
    cu_id team_p = CU_ID_NONE, team_case = x.other_case;
    if (!m->cfg.rules_only && np && (bits & CU_X_TEAM) && !(bits & (CU_X_CASE | CU_X_CITED | CU_X_HOUSEHOLD))) {
        team_p = people[0];
        const cu_person *tpp = cu_ref_person(ref, team_p);
        team_days = ux_note_in(s->tm, TM_N, &s->tmpos, team_p, tpp ? tpp->address_h : 0, t, day);
    }
    if (!U && team_days < 4) {
        if (!o || !o->nrelations)
            return CU_OK; /* explained: only declared relations still count */
        /* and a routine look-up in a suspect session (after the loop
         * below): an explained access that can raise neither (nearly all)
         * ends here, before the rarities the unexplained ones need */
        bool rel_any = false;
        if (!(bits & (CU_X_CASE | CU_X_CITED)))
            for (uint32_t i = 0; i < np && !rel_any; i++) {
                if (ev->action == CU_ACT_SEARCH && i > 0)
                    break;
                rel_any = !(pbits[i] & (CU_X_CASE | CU_X_CITED)) && related(s, o, people[i]);
            }
        if (!rel_any && !(T && s->sess_suspect == 2 && !m->cfg.rules_only && ev->action != CU_ACT_SEARCH))
            return CU_OK;
    }
    if (U && !T) {
        s->t_unx++;
        if (!m->cfg.rules_only && s->active_days >= LEARN_DAYS && !s->t_spike_fired) {
            float tmp[HIST_N], med, mad;
            med_mad(s->h_unx, s->hn, tmp, &med, &mad);
            double thr = med + 6 * (mad > 1 ? mad : 1);
            if (thr < 8)
                thr = 8;
            if (s->t_unx >= thr) {
                s->t_spike_fired = 1;
                file_add(m, officer_file(m, ev->officer, ev->ts), S_SPIKE, 1.0, ev, CU_ID_NONE, CU_ID_NONE, (float)s->t_unx);
            }
        }
    }
    double mult = 1.0;
    int ctx_sig[3];
    int nctx = 0;
    if (U && !T) {
        if (off_shift(m, s, o, h)) {
            mult *= 1.5;
            ctx_sig[nctx++] = S_OFFSHIFT;
        }
        if (ev->area != CU_ID_NONE && o && ev->area != o->area && (m->cfg.rules_only || (s->active_days >= LEARN_DAYS && !usual_area(s, ev->area)))) {
            mult *= 1.3;
            ctx_sig[nctx++] = S_OUTAREA;
        }
        if (s->new_access_at != INT64_MIN && ev->ts - s->new_access_at < NEW_ACCESS_DAYS * 86400) {
            mult *= 1.5;
            ctx_sig[nctx++] = S_NEWACCESS;
        }
    }
    double total = 0;
    uint32_t fi = 0;
    double rar = rarity(m, s, o);
    /* how rare work without a data link is for the officer at all: custody
     * and licensing meet register people in their routine every day */
    double rar_weak = 1.0;
    if (!m->cfg.rules_only) {
        double sh = -1;
        if (s->ew_all >= 150)
            sh = s->ew_weak / s->ew_all;
        else if (o && o->unit < m->nunit6 && o->unit < m->nunit2 && m->unit_all[o->unit] >= 300)
            sh = m->unit_weak[o->unit] / m->unit_all[o->unit]; /* while learning: the unit's */
        if (sh >= 0) {
            rar_weak = BASE_SHARE / (sh > BASE_SHARE ? sh : BASE_SHARE);
            if (rar_weak < 0.05)
                rar_weak = 0.05;
        }
    }
#define ADD(sig, w, p, other)                                                    \
    do {                                                                         \
        if (!fi)                                                                 \
            fi = officer_file(m, ev->officer, ev->ts);                           \
        file_add(m, fi, (sig), (w) * mult, ev, (p), (other), 0);                 \
        if (fi)                                                                  \
            file_subject(&m->files[fi - 1], (p));                                \
        total += (w);                                                            \
    } while (0)
    /* the day's allowance; none in the first days of new access, whose
     * routine has yet to form (the new unit's is not yet the officer's) */
    double allow = -1;
#define SOFT(sig, w, p, other) SOFT_(sig, w, p, other, true)
#define SOFT_(sig, w, p, other, weekly)                                          \
    do {                                                                         \
        double w_ = (w) * mult;                                                  \
        if (allow < 0) {                                                         \
            allow = fresh ? 0 : soft_allowance(m, s);                            \
            s->allow_today = (float)allow;                                       \
        }                                                                        \
        s->soft_today += (float)w_;                                              \
        double c_ = (weekly) ? week_credit(s, allow, fresh)                      \
                             : s->soft_today - allow - s->credited_today;        \
        if (c_ > w_)                                                             \
            c_ = w_;                                                             \
        if (!fi)                                                                 \
            fi = officer_file(m, ev->officer, ev->ts);                           \
        if (c_ > 0) {                                                            \
            s->credited_today += (float)c_;                                      \
            file_add(m, fi, (sig), c_, ev, (p), (other), 0);                     \
            total += c_;                                                         \
        }                                                                        \
        if (fi)                                                                  \
            file_subject(&m->files[fi - 1], (p));                                \
    } while (0)
    bool is_view = ev->action != CU_ACT_SEARCH;
    bool any_flag = false;
    /* The officer's own circle (declared relations, household, family): an
     * access is one look-up however many of the circle its record lists.
     * A declared relation looked up with no case of the officer's own is
     * worth an alert at once (declaring relations exists so that such
     * look-ups are challenged); more look-ups the same day add little, a
     * look-up on another day adds the full weight again (a pattern). */
    if (team_days >= 4)
        SOFT_(S_REPEAT, repeat_weight(team_days), team_p, team_case, false);
    bool own_done = false, group_done = false, caveat_done = false, sur_done = false;
    /* an officer whose daily work is mostly without case links (custody
     * booking in people off the street) meets their own circle by chance
     * more often: such meetings weigh less, but still count */
    double own_routine = rar_weak > 0.7 ? rar_weak : 0.7;
#define OWN(sig, full, p)                                                        \
    do {                                                                         \
        double w_o;                                                              \
        if (own_done)                                                            \
            w_o = 0;                                                             \
        else if (s->own_day == day)                                              \
            w_o = 0.15;                                                          \
        else if (!s->own_days)                                                   \
            w_o = 1.21 * (full) * own_routine;                                   \
        else                                                                     \
            w_o = (full) * own_routine;                                          \
        if (!own_done && s->own_day != day) {                                    \
            s->own_day = day;                                                    \
            if (s->own_days < UINT16_MAX)                                        \
                s->own_days++;                                                   \
        }                                                                        \
        own_done = true;                                                         \
        if (w_o > 0)                                                             \
            ADD(sig, w_o, p, CU_ID_NONE);                                        \
        else if (fi)                                                             \
            file_subject(&m->files[fi - 1], (p));                                \
    } while (0)
    for (uint32_t i = 0; i < np; i++) {
        cu_id p = people[i];
        /* a relation is excused only by the officer's own case, not a colleague's */
        bool pstrong = (pbits[i] & (CU_X_CASE | CU_X_CITED)) != 0 || (bits & (CU_X_CASE | CU_X_CITED));
        /* a search lists namesakes: only its first result is the target */
        if (ev->action == CU_ACT_SEARCH && i > 0)
            break;
        bool rel = false;
        /* met in a wide search of the officer's own (many results): the
         * person came to the officer, not the other way round */
        bool from_big = false;
        if (o && !pstrong && related(s, o, p)) {
            from_big = searched(s, p, t, 4);
            for (uint32_t k = 0; k < o->nrelations; k++)
                if (o->relations[k].person == p) {
                    /* met in the unit's routine (a mined template) or in a
                     * wide search: judged against the officer's usual, like
                     * other soft signals */
                    double full = strcmp(o->relations[k].type, "self") == 0 ? 2.0 : 3.0;
                    if ((T || from_big) && !m->cfg.rules_only)
                        full *= 0.5;
                    /* where a former partner or a relative lives, looked up
                     * with no case: the first look at an address is the one
                     * that matters (stalking, intimidation) */
                    bool addr = rec.has && rec.address &&
                                strcmp(o->relations[k].type, "self") != 0 && !own_done;
                    OWN(S_RELATION, full, p);
                    if (addr && s->own_addr_day != day) {
                        s->own_addr_day = day;
                        ADD(S_RELATION, 0.2 * full, p, CU_ID_NONE);
                    }
                    rel = true;
                    break;
                }
        }
        if (!U)
            continue;
        /* read only now: an explained access (nearly all) needs neither */
        const cu_person *pp = cu_ref_person(ref, p);
        if (!rel)
            from_big = searched(s, p, t, 4);
        if (T && !m->cfg.rules_only && fresh && pp && pp->flags) {
            /* the first days of new access: the unit's routine is not yet
             * the officer's, a register person weighs in full */
            SOFT(S_PROTECTED, flag_weight(pp->flags) * (is_view ? 1.0 : 0.6) * 1.5, p, CU_ID_NONE);
            continue;
        }
        if (T && !m->cfg.rules_only) {
            /* routine: only the register still counts, against the usual */
            if (pp && pp->flags) {
                double fw = flag_weight(pp->flags);
                /* as rare as work without a data link is for the officer */
                double fr = fw * (rar_weak > TPL_FLOOR ? rar_weak : TPL_FLOOR);
                SOFT(S_PROTECTED, fw * (is_view ? 0.5 : 0.3) * rar_weak, p, CU_ID_NONE);
                /* a routine explains the kind of work, not the choice of
                 * person: the same register person again on another day,
                 * or their record printed or sent out, with no data link */
                if (ux_note_in(s->tx, TX_N, &s->txpos, p, 0, t, day))
                    SOFT(S_REPEAT, fr * TPL_AGAIN, p, CU_ID_NONE);
                if (exf)
                    SOFT(S_EXFIL, fr * TPL_AGAIN, p, CU_ID_NONE);
                if ((is_view || (ev->has_results && ev->results <= 3)) && rar >= 0.5 && !from_big && !group_done)
                    graph_access(m, ev, p, true, true);
                group_done = true;
            }
            continue;
        }
        if (!rel && pp && ((x.own_addr && pp->address_h == x.own_addr) || (x.own_fam && pp->family_h == x.own_fam))) {
            OWN(S_HOUSEHOLD, 2.5, p);
            rel = true;
        }
        /* one access is one look-up: a family's record lists many of one surname */
        if (!rel && !sur_done && pp && x.own_sur && pp->surname_h == x.own_sur && !(pp->flags & CU_PF_OFFICER)) {
            SOFT(S_SURNAME, 0.6, p, CU_ID_NONE);
            sur_done = true;
        }
        if (pp && pp->flags) {
            any_flag = true;
            SOFT(S_PROTECTED, flag_weight(pp->flags) * (is_view ? 1.0 : 0.6), p, CU_ID_NONE);
        }
        if (x.other_case == CU_ID_NONE)
            team_link(m, m->pc_off, m->pc, m->np_idx, p, CU_ID_NONE, ev->officer, &x.other_case);
        if (x.other_case != CU_ID_NONE) {
            /* A record under a handling caveat that another team's live
             * case holds, read by an officer who is not on that case: the
             * tip-off risk an operation's caveat exists to prevent. */
            const cu_case *oc = cu_ref_case(ref, x.other_case);
            bool held = rec.has && rec.caveat && oc && cu_case_links_record(oc, ev->record);
            bool restricted = x.other_case < m->nc_idx && m->restricted[x.other_case];
            if (held && !caveat_done) {
                ADD(S_LIVECASE, 1.2, p, x.other_case);
                caveat_done = true;
            } else if (restricted) {
                /* a subject of a need-to-know case: more than a colleague's
                 * ordinary case, judged against the officer's usual day
                 * but not the week (like a repeat, a choice of person, not
                 * the breadth of a routine: seventh round) */
                SOFT_(S_LIVECASE, 0.8, p, x.other_case, false);
            } else {
                SOFT(S_LIVECASE, 0.5 * rar, p, x.other_case);
            }
            x.other_case = CU_ID_NONE;
        }
        /* repeats: the same person unexplained on another day */
        unsigned rdays = ux_note(s, p, pp ? pp->address_h : 0, t, day);
        if (rdays)
            SOFT_(S_REPEAT, repeat_weight(rdays), p, CU_ID_NONE, false);
        if (is_view && searched(s, p, t, 2))
            ADD(S_TRAWL, 0.4, p, CU_ID_NONE); /* browsing the people a trawl brought up */
        if (!m->cfg.rules_only) {
            /* officers whose routine is unexplained meet everyone: they
             * join bursts and the graph only when that is rare for them */
            /* one access is one co-access, however many people its record
             * lists (a household's address record is not five look-ups) */
            if (is_view && rar >= 0.5 && !from_big && !group_done)
                burst_access(m, ev, p, pp && pp->flags);
            if ((is_view || (ev->has_results && ev->results <= 3)) && rar >= 0.5 && !from_big && !group_done)
                graph_access(m, ev, p, pp && pp->flags, false);
            group_done = true;
        }
    }
    if (T && !U && s->sess_suspect == 2 && !m->cfg.rules_only && ev->action != CU_ACT_SEARCH) {
        /* a routine look-up in a session at a colleague's desk out of the
         * officer's hours: the routine is the unit's, the hour is not */
        fi = fi ? fi : officer_file(m, ev->officer, ev->ts);
        file_add(m, fi, S_LOGIN, 0.35, ev, CU_ID_NONE, CU_ID_NONE, 0);
    }
    if (U && !(T && !m->cfg.rules_only)) {
        if (rec.has && (rec.caveat || rec.secret))
            SOFT(S_SENSITIVE, (rec.secret ? 0.6 : 0.4) * rar, CU_ID_NONE, CU_ID_NONE);
        if (exf)
            SOFT(S_EXFIL, 1.0, np ? people[0] : CU_ID_NONE, CU_ID_NONE);
        /* A stated reason the data contradicts: the access cites a case
         * that links neither its record nor any of its people, and nothing
         * else explains it (anyone can type a case number).  Analysts
         * developing an operation look up people the case does not list
         * yet: that is their unit's routine (a template), excused above. */
        if (x.cited && np)
            SOFT(S_PRETEXT, (is_view ? 1.0 : 0.6) * rar, people[0], ev->case_id);
        if (s->sess_suspect) {
            /* an unexplained look-up in a session at a colleague's desk,
             * as rare as unexplained work is for the officer (custody meets
             * people off the street with no case at any desk) */
            fi = fi ? fi : officer_file(m, ev->officer, ev->ts);
            file_add(m, fi, S_LOGIN, (ev->action == CU_ACT_SEARCH ? 0.3 : 0.7) * rar, ev, CU_ID_NONE, CU_ID_NONE, 0);
        }
        if (total > 0 && fi)
            for (int k = 0; k < nctx; k++)
                file_add(m, fi, ctx_sig[k], 0.01, ev, CU_ID_NONE, ctx_sig[k] == S_NEWACCESS && o ? o->unit : CU_ID_NONE, 0);
    }
    (void)any_flag;
#undef ADD
#undef SOFT
#undef SOFT_
#undef OWN
    return CU_OK;
}

static cu_rc misuse_flush(void *state, const cu_ref *ref, int64_t now, cu_alerts *out)
{
    (void)ref;
    misuse *m = state;
    gate(m, now, out);
    m->st.over_budget = m->npend;
    return CU_OK;
}

const cu_detector_ops cu_detector_misuse = {
    .name = "misuse",
    .init = NULL,
    .on_event = misuse_event,
    .flush = misuse_flush,
    .free = misuse_free,
    .init_cfg = misuse_init,
    .ref_changed = misuse_ref_changed,
};

/* ================================================================ queries */

cu_rc cu_misuse_risk(const void *state, cu_id officer, int64_t now, cu_risk *out)
{
    const misuse *m = state;
    memset(out, 0, sizeof *out);
    if (officer == CU_ID_NONE || officer >= m->noff)
        return cu_err_set(CU_ERR_NOTFOUND, "officer unknown to the detector");
    const struct ost *s = &m->off[officer];
    out->learning = s->active_days < LEARN_DAYS;
    /* the group files (rings, bursts) that name the officer: a scan of the
     * pool, for a query, never on the hot path */
    for (uint32_t i = 0; i < m->nfiles && out->ngroups < 4; i++) {
        const struct file *g = &m->files[i];
        if (!g->used || !g->emitted || g->kind == F_OFFICER)
            continue;
        for (uint32_t k = 0; k < g->nmem; k++)
            if (g->mem[k] == officer) {
                out->groups[out->ngroups++] = g->num;
                break;
            }
    }
    if (!s->file)
        return CU_OK;
    const struct file *f = &m->files[s->file - 1];
    out->score = score_of(decayed(f, now));
    out->alert_num = f->emitted ? f->num : 0;
    for (uint32_t i = 0; i < f->rn; i++) {
        uint32_t k = (uint32_t)(f->rpos + RISK_N - f->rn + i) % RISK_N;
        out->history[i].ts = f->risk[k].ts;
        out->history[i].score = f->risk[k].score;
        reason_at(m, f, f->risk[k].sig, f->risk[k].cnt, f->risk[k].sp, f->risk[k].so, f->risk[k].aux,
                  out->history[i].reason, sizeof out->history[i].reason);
    }
    out->nhistory = f->rn;
    return CU_OK;
}

void cu_misuse_stats(const void *state, cu_detect_stats *out)
{
    const misuse *m = state;
    *out = m->st;
    uint64_t n = 0;
    for (size_t i = 0; i < ((size_t)1 << TPL_BITS); i++) {
        const struct tpl *t = &m->tpl[i];
        if (t->key && t->count >= 30 && t->distinct >= 3)
            n++;
    }
    out->templates = n;
    out->over_budget = m->npend;
}
