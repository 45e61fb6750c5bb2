/*
 * The decision memo: per thread, the engine's two answers (as asked, and as
 * the emergency tier would give them) for a request's abstraction, so that
 * a request like one decided before is answered without building its
 * entities or evaluating anything.
 *
 * Why it is exact.  The pack must pass cu_policy_set_abstract_ok (checked
 * when it is loaded, gw_dm_pack_ok): no Officer, Record, Case or Person is
 * named in it, no @reason has a placeholder, and the dates (the officer's
 * vetting and service dates, context.now, the case's opened and closed) are
 * only compared with one another.  Then the answers depend on a request
 * only through what the key holds: the action, the purpose's bytes, every
 * attribute of the officer and the record other than ids and dates (atoms
 * and set atoms, which name values within one store, so the key is only
 * good for one snapshot; the officer's role, unit, vetting and area as
 * classes of values the pack's tests cannot tell apart, gw_dm_classes,
 * when it reads them only in such tests), the case's area, whether a case was stated and
 * known, the order of the seven dates, and the equalities between the
 * entities: the officer among the case's officers (and whether it has any),
 * the case among the record's parents, and how the record's subjects, the
 * case's subjects and the officer's relations overlap (which of the seven
 * regions of their Venn diagram are empty: Cedar's set operations on them,
 * contains, containsAll, containsAny, isEmpty and ==, see nothing else;
 * it has no size of a set).  Answers with evaluation errors
 * (whose messages may name ids) and requests with the vetting register's
 * context are not memoised.
 *
 * Invariants: an entry is used only by the thread that made it, only under
 * the snapshot (serial) it was made under and only while the thread's
 * string pool is the one its explanation was copied into (gen); nothing is
 * allocated after the thread's memo is made.
 */
#include "gateway_int.h"

#include <string.h>

#define DM_BITS 14
#define DM_N (1u << DM_BITS)
#define DM_MAXR 6             /* deciding policies kept per answer */
#define DM_POOL (64u * 1024)  /* explanations' bytes */
#define DM_STRS 1024          /* distinct explanations (a table of pool offsets) */
#define DM_PURPOSES 63
#define DM_LIST 16            /* distinct people per list (more: not keyed) */

struct dm_ent {
    uint64_t serial; /* 0: empty */
    uint64_t k[GW_DM_WORDS];
    uint32_t gen;
    uint8_t allow0, has1, allow1, n0, n1;
    uint16_t r0[DM_MAXR], r1[DM_MAXR];
    uint16_t xpol;          /* explain_policy's index + 1, 0: none */
    uint32_t xcond, xtext;  /* pool offsets + 1, 0: NULL */
};

struct gw_dm {
    struct dm_ent *ents;
    char *pool;
    uint32_t used, gen, nstr;
    uint32_t str[DM_STRS];  /* pool offsets + 1 by hash of the text, 0: free */
    uint64_t serial; /* the snapshot the pool's strings were copied under */
    uint32_t npur;
    uint8_t plen[DM_PURPOSES];
    char pur[DM_PURPOSES][CU_GATEWAY_MAX_ID];
    uint64_t hits, misses;
};

gw_dm *gw_dm_new(void)
{
    gw_dm *m = cu_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->ents = cu_calloc(DM_N, sizeof *m->ents);
    m->pool = cu_malloc(DM_POOL);
    if (!m->ents || !m->pool) {
        gw_dm_free(m);
        return NULL;
    }
    m->gen = 1;
    return m;
}

void gw_dm_free(gw_dm *m)
{
    if (!m)
        return;
    cu_free(m->ents);
    cu_free(m->pool);
    cu_free(m);
}

void gw_dm_counts(const gw_dm *m, uint64_t *hits, uint64_t *misses)
{
    *hits = m ? m->hits : 0;
    *misses = m ? m->misses : 0;
}

bool gw_dm_pack_ok(const cu_policy_set *set)
{
    static const char *const types[] = {"Officer", "Record", "Case", "Person"};
    static const cu_policy_attr_path dates[] = {
        {CU_POLICY_VAR_CONTEXT, "now", NULL},          {CU_POLICY_VAR_PRINCIPAL, "vetting_granted", NULL},
        {CU_POLICY_VAR_PRINCIPAL, "vetting_expires", NULL}, {CU_POLICY_VAR_PRINCIPAL, "start", NULL},
        {CU_POLICY_VAR_PRINCIPAL, "end", NULL},        {CU_POLICY_VAR_CONTEXT, "case", "opened"},
        {CU_POLICY_VAR_CONTEXT, "case", "closed"}};
    return cu_policy_set_abstract_ok(set, types, sizeof types / sizeof *types, dates, sizeof dates / sizeof *dates);
}

/* ------------------------------------------------------ officer classes */

#define DM_TESTW 4 /* up to 256 tests of one attribute */

/* The class of each value of one officer attribute: values whose outcomes
 * under every test the pack makes of principal.<attr> are the same share a
 * class (cu_policy_set_attr_tests); when the pack reads it otherwise, each
 * value is its own class (raw). */
typedef struct attr_cls {
    const char *name;
    cu_policy_attr_tests *tests; /* NULL: raw */
    bool raw;
    uint32_t *cls;               /* per atom; UINT32_MAX: not yet */
    uint64_t (*vec)[DM_TESTW];   /* the classes' outcomes */
    uint32_t nvec;
} attr_cls;

static uint32_t value_class(const gw_snap *s, attr_cls *c, uint32_t atom)
{
    if (c->raw)
        return atom;
    if (c->cls[atom] != UINT32_MAX)
        return c->cls[atom];
    const gw_store *st = s->st;
    uint64_t v[DM_TESTW];
    long n = cu_policy_attr_tests_run(c->tests, gw_str(st, st->atoms[atom]), gw_str_len(st, st->atoms[atom]), v,
                                      DM_TESTW);
    if (n < 0) { /* too many tests: the same for every value */
        c->raw = true;
        return atom;
    }
    uint32_t k = 0;
    while (k < c->nvec && memcmp(c->vec[k], v, sizeof v) != 0)
        k++;
    if (k == c->nvec)
        memcpy(c->vec[c->nvec++], v, sizeof v);
    return c->cls[atom] = k;
}

void gw_dm_classes(gw_snap *s)
{
    const gw_store *st = s->st;
    size_t no = st->nofficers, cap = 16;
    while (cap < 2 * no)
        cap *= 2;
    attr_cls ac[4] = {{.name = "role"}, {.name = "unit"}, {.name = "vetting"}, {.name = "area"}};
    /* the classes' tuples, interned: (role, unit, vetting, area, caveats) */
    uint32_t(*tup)[6] = cu_calloc(cap, sizeof *tup); /* [5]: class id + 1, 0: free */
    uint32_t *oc = cu_malloc((no ? no : 1) * sizeof *oc);
    bool ok = tup && oc;
    for (int k = 0; k < 4 && ok; k++) {
        ac[k].cls = cu_malloc((st->natoms ? st->natoms : 1) * sizeof *ac[k].cls);
        ac[k].vec = cu_malloc((st->natoms ? st->natoms : 1) * sizeof *ac[k].vec);
        ok = ac[k].cls && ac[k].vec;
        if (ok)
            memset(ac[k].cls, 0xff, st->natoms * sizeof *ac[k].cls);
        /* the pack's tests of principal.<name>, found once; none (read
         * otherwise, or memory): each value its own class */
        ac[k].tests = cu_policy_attr_tests_new(s->pack->set, CU_POLICY_VAR_PRINCIPAL, ac[k].name);
        ac[k].raw = !ac[k].tests;
    }
    uint32_t next = 0;
    for (size_t i = 0; i < no && ok; i++) {
        const gw_officer *o = &st->officers[i];
        if (!o->defined) {
            oc[i] = UINT32_MAX;
            continue;
        }
        uint32_t t[5] = {value_class(s, &ac[0], o->role), value_class(s, &ac[1], o->unit),
                         value_class(s, &ac[2], o->vetting), value_class(s, &ac[3], o->area), o->caveats};
        size_t j = (size_t)cu_hash64(t, sizeof t, 0) & (cap - 1);
        while (tup[j][5] && memcmp(tup[j], t, sizeof t) != 0)
            j = (j + 1) & (cap - 1);
        if (!tup[j][5]) {
            memcpy(tup[j], t, sizeof t);
            tup[j][5] = ++next;
        }
        oc[i] = tup[j][5] - 1;
    }
    for (int k = 0; k < 4; k++) {
        cu_free(ac[k].cls);
        cu_free(ac[k].vec);
        cu_policy_attr_tests_free(ac[k].tests);
    }
    cu_free(tup);
    if (ok && !s->off_class)
        s->off_class = oc;
    else
        cu_free(oc);
}

/* The purpose's number in this thread's table (1..63), 0 when it is full. */
static uint32_t purpose_num(gw_dm *m, const char *p, size_t n)
{
    for (uint32_t i = 0; i < m->npur; i++)
        if (m->plen[i] == n && memcmp(m->pur[i], p, n) == 0)
            return i + 1;
    if (m->npur == DM_PURPOSES || n > CU_GATEWAY_MAX_ID)
        return 0;
    memcpy(m->pur[m->npur], p, n);
    m->plen[m->npur] = (uint8_t)n;
    return ++m->npur;
}

/* A list's distinct items into out (at most DM_LIST); false when longer. */
static bool distinct(const gw_store *st, gw_list l, uint32_t *out, uint32_t *n)
{
    const uint32_t *it;
    uint32_t one;
    size_t k = gw_list_items(st, l, &it, &one);
    *n = 0;
    for (size_t i = 0; i < k; i++) {
        uint32_t j = 0;
        while (j < *n && out[j] != it[i])
            j++;
        if (j < *n)
            continue;
        if (*n == DM_LIST)
            return false;
        out[(*n)++] = it[i];
    }
    return true;
}

static bool has(const uint32_t *a, uint32_t n, uint32_t x)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i] == x)
            return true;
    return false;
}

bool gw_dm_key_make(gw_dm *m, const gw_snap *s, size_t ai, const char *purpose, size_t plen, int64_t now,
                    uint32_t oi, uint32_t ri, int cstate, uint32_t ci, uint64_t k[GW_DM_WORDS])
{
    const gw_store *st = s->st;
    const gw_officer *o = &st->officers[oi];
    const gw_record *rec = &st->records[ri];
    uint32_t pn = purpose_num(m, purpose, plen);
    if (!pn)
        return false;
    /* the people: record subjects (bit 0), case subjects (1), relations (2) */
    uint32_t R[DM_LIST], C[DM_LIST], O[DM_LIST], nr, nc = 0, no;
    if (!distinct(st, rec->subjects, R, &nr) || !distinct(st, o->relations, O, &no) ||
        (cstate == 2 && !distinct(st, st->cases[ci].subjects, C, &nc)))
        return false;
    /* bit (1 << m) for each region m (bit 0 R, 1 C, 2 O) holding someone */
    uint64_t venn = 0;
    bool prot = false;
    for (uint32_t i = 0; i < nr; i++) {
        venn |= 1u << (1u | (has(C, nc, R[i]) ? 2u : 0) | (has(O, no, R[i]) ? 4u : 0));
        prot = prot || s->set_nonempty[st->persons[R[i]].flags];
    }
    for (uint32_t i = 0; i < nc; i++)
        if (!has(R, nr, C[i]))
            venn |= 1u << (2u | (has(O, no, C[i]) ? 4u : 0));
    for (uint32_t i = 0; i < no; i++)
        if (!has(R, nr, O[i]) && !has(C, nc, O[i]))
            venn |= 1u << 4;
    /* the case: its officers at now (the officer among them?), the record's
     * parents (the case among them?), its dates */
    uint64_t anyof = 0, assigned = 0, linked = 0, carea = 0;
    /* (without a case its two dates are 0: cstate tells the keys apart) */
    int64_t d[7] = {now, o->granted, o->expires, o->start, o->end, 0, 0};
    if (cstate == 2) {
        const gw_case *c = &st->cases[ci];
        for (uint32_t q = s->case_iv_start[ci]; q < s->case_iv_start[ci + 1]; q++) {
            const gw_interval *iv = &s->ivs[q];
            if (iv->officer == UINT32_MAX || now < iv->from || now >= iv->until)
                continue;
            anyof = 1;
            assigned |= iv->officer == oi;
        }
        for (uint32_t q = s->rec_case_start[ri]; q < s->rec_case_start[ri + 1]; q++)
            linked |= s->rec_cases[q] == ci;
        carea = c->area;
        d[5] = c->opened;
        d[6] = c->closed;
    }
    /* the order of the seven dates: 2 bits a pair (<, =, >), 42 in all;
     * a fixed count, unrolled into straight-line comparisons */
    uint64_t order = 0;
    int b = 0;
#pragma GCC unroll 8
    for (int i = 0; i < 7; i++)
#pragma GCC unroll 8
        for (int j = i + 1; j < 7; j++, b += 2)
            order |= (uint64_t)((d[i] > d[j]) - (d[i] < d[j]) + 1) << b;
    if (s->off_class) { /* the officer's class: its attributes as the pack tells them apart */
        k[0] = (uint64_t)s->off_class[oi] | UINT64_C(1) << 63;
        k[1] = 0;
        k[2] = (uint64_t)rec->caveats << 32;
    } else {
        k[0] = (uint64_t)o->role | (uint64_t)o->vetting << 32;
        k[1] = (uint64_t)o->unit | (uint64_t)o->area << 32;
        k[2] = (uint64_t)o->caveats | (uint64_t)rec->caveats << 32;
    }
    k[3] = (uint64_t)rec->type | (uint64_t)rec->system << 16 | (uint64_t)rec->area << 32 | (uint64_t)rec->cls << 48;
    k[4] = order | (uint64_t)ai << 42 | (uint64_t)(rec->live != 0) << 45 | (uint64_t)prot << 46 |
           (uint64_t)cstate << 47 | linked << 49 | assigned << 50 | (uint64_t)pn << 51;
    k[5] = carea | anyof << 32 | venn << 33;
    return true;
}

static struct dm_ent *slot_of(const gw_dm *m, const uint64_t k[GW_DM_WORDS])
{
    /* a multiply-xor per word, not cu_hash64: for these keys (a few bits
     * apart) it leaves fewer of the direct-mapped slots shared (bench_gateway
     * at 100,000 records: 13,879 misses in 10^6 against 19,193-25,240) */
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < GW_DM_WORDS; i++)
        h = (h ^ k[i]) * 0xff51afd7ed558ccdull;
    return &m->ents[(h ^ h >> 29) >> (64 - DM_BITS)];
}

/* Every entry forgotten (gen) and the pool emptied. */
static void forget(gw_dm *m)
{
    m->used = m->nstr = 0;
    memset(m->str, 0, sizeof m->str);
    m->gen++;
}

/* A new snapshot on this thread: its entries are made for it alone, and the
 * pool starts afresh with them. */
static void pool_for(gw_dm *m, const gw_snap *s)
{
    if (m->serial == s->serial)
        return;
    m->serial = s->serial;
    forget(m);
}

static void fill(const gw_pack *p, const uint16_t *idx, uint8_t n, bool allow, cu_arena *a, cu_policy_answer *out,
                 bool *ok)
{
    memset(out, 0, sizeof *out);
    out->allow = allow;
    if (!n)
        return;
    const char **ids = cu_arena_alloc(a, n * (sizeof *ids + sizeof(uint32_t)));
    if (!ids) {
        *ok = false;
        return;
    }
    uint32_t *ix = (uint32_t *)(ids + n);
    for (uint8_t i = 0; i < n; i++) {
        ix[i] = idx[i];
        ids[i] = cu_policy_set_id(p->set, idx[i]);
    }
    out->n_reasons = n;
    out->reasons = ids;
    out->reason_index = ix;
}

bool gw_dm_get(gw_dm *m, const gw_snap *s, const uint64_t k[GW_DM_WORDS], cu_arena *a, cu_policy_answer ans[2])
{
    pool_for(m, s);
    const struct dm_ent *e = slot_of(m, k);
    if (e->serial != s->serial || e->gen != m->gen || memcmp(e->k, k, sizeof e->k) != 0) {
        m->misses++;
        return false;
    }
    bool ok = true;
    fill(s->pack, e->r0, e->n0, e->allow0, a, &ans[0], &ok);
    fill(s->pack, e->r1, e->n1, e->allow1, a, &ans[1], &ok);
    if (!ok)
        return false;
    if (e->xpol)
        ans[0].explain_policy = cu_policy_set_id(s->pack->set, e->xpol - 1u);
    ans[0].explain_condition = e->xcond ? m->pool + e->xcond - 1 : NULL;
    ans[0].explanation = e->xtext ? m->pool + e->xtext - 1 : NULL;
    m->hits++;
    return true;
}

/* str in the pool, once per text (its offset + 1; 0 for NULL); false
 * when the pool or its table is full. */
static bool intern(gw_dm *m, const char *str, uint32_t *off)
{
    *off = 0;
    if (!str)
        return true;
    size_t n = strlen(str) + 1;
    uint32_t j = (uint32_t)cu_hash64(str, n, 0) & (DM_STRS - 1);
    while (m->str[j]) {
        if (strcmp(m->pool + m->str[j] - 1, str) == 0) {
            *off = m->str[j];
            return true;
        }
        j = (j + 1) & (DM_STRS - 1);
    }
    if (n > DM_POOL - m->used || m->nstr >= DM_STRS * 3 / 4)
        return false;
    memcpy(m->pool + m->used, str, n);
    *off = m->str[j] = m->used + 1;
    m->used += (uint32_t)n;
    m->nstr++;
    return true;
}

static bool take(const cu_policy_answer *a, uint16_t *idx, uint8_t *n)
{
    if (a->n_errors || a->n_reasons > DM_MAXR || (a->n_reasons && !a->reason_index))
        return false;
    for (size_t i = 0; i < a->n_reasons; i++) {
        if (a->reason_index[i] > UINT16_MAX - 1)
            return false;
        idx[i] = (uint16_t)a->reason_index[i];
    }
    *n = (uint8_t)a->n_reasons;
    return true;
}

void gw_dm_put(gw_dm *m, const gw_snap *s, const uint64_t k[GW_DM_WORDS], const cu_policy_answer ans[2])
{
    pool_for(m, s);
    struct dm_ent e = {.serial = s->serial, .gen = m->gen, .allow0 = ans[0].allow, .allow1 = ans[1].allow};
    memcpy(e.k, k, sizeof e.k);
    /* the second answer is left empty (lazy) after an allow without errors */
    if (!take(&ans[0], e.r0, &e.n0) || !take(&ans[1], e.r1, &e.n1))
        return;
    if (ans[0].explain_policy) {
        size_t i = 0, n = cu_policy_set_count(s->pack->set);
        while (i < n && cu_policy_set_id(s->pack->set, i) != ans[0].explain_policy)
            i++;
        if (i == n || i > UINT16_MAX - 1)
            return;
        e.xpol = (uint16_t)(i + 1);
    }
    if (!intern(m, ans[0].explain_condition, &e.xcond) || !intern(m, ans[0].explanation, &e.xtext)) {
        /* the pool is full: start again (a pack of many explanations
         * under a long-lived snapshot) */
        forget(m);
        e.gen = m->gen;
        if (!intern(m, ans[0].explain_condition, &e.xcond) || !intern(m, ans[0].explanation, &e.xtext))
            return;
    }
    *slot_of(m, k) = e;
}
