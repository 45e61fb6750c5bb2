/*
 * Reference snapshots: a store made immutable plus what decisions need
 * prebuilt (the officers' Cedar entities, a Cedar value per interned
 * string and string set, the cases of each record, the assignment
 * intervals of each case), and the per-decision entities built from them.
 *
 * Invariants
 * 1. A snapshot never changes once made; readers hold a reference taken
 *    under the gateway's lock (gw_acquire) and release it when done.
 * 2. Everything a snapshot's values point to lives in its arena or its
 *    store's pool, which live as long as the snapshot.
 * 3. Assignments follow time: an officer is on a case over the intervals
 *    made by folding the case line's officers (assigned from the start of
 *    time) with the assign lines in (ts, line) order; an add opens an
 *    interval at its ts, a remove closes it there.  A decision at `now`
 *    sees the officers whose interval holds now.
 * 4. Per-decision entities come from the scratch arena only.
 */
#include "gateway_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__linux__) && !defined(MADV_COLLAPSE)
#define MADV_COLLAPSE 25 /* Linux 6.1 uapi; older C libraries do not name it */
#endif

#define NOTHING INT64_MIN
#define FOREVER INT64_MAX

static int assign_cmp(const void *a, const void *b)
{
    const gw_assign *x = a, *y = b;
    if (x->case_idx != y->case_idx)
        return x->case_idx < y->case_idx ? -1 : 1;
    if (x->officer != y->officer)
        return x->officer < y->officer ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void gw_snap_release(gw_snap *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    gw_pack_release(s->pack);
    gw_store_free(s->st);
    cu_arena_free(s->arena);
    cu_free(s->atom_val);
    cu_free(s->set_val);
    cu_free(s->sys_val);
    cu_free(s->set_nonempty);
    cu_free(s->off_ent);
    cu_free(s->off_val);
    cu_free(s->rec_case_start);
    cu_free(s->rec_cases);
    cu_free(s->case_iv_start);
    cu_free(s->ivs);
    cu_free(s->off_class);
    cu_free(s);
}

#define NOMEM() cu_err_set(CU_ERR_NOMEM, "gateway snapshot: out of memory")

static const cu_policy_value *person_val(const gw_store *st, uint32_t p, cu_arena *a)
{
    uint32_t off = st->persons[p].id;
    return cu_policy_val_entity_ref(a, "Person", 6, gw_str(st, off), gw_str_len(st, off));
}

/* The officers' entities: attributes in key order (length, then bytes). */
static cu_rc officer_entity(gw_snap *s, uint32_t i)
{
    const gw_store *st = s->st;
    const gw_officer *o = &st->officers[i];
    cu_arena *a = s->arena;
    uint32_t off = o->id;
    cu_policy_entity *e = cu_policy_entity_make(a, "Officer", 7, gw_str(st, off), gw_str_len(st, off), 10, 0);
    if (!e)
        return NOMEM();
    const uint32_t *items;
    uint32_t one;
    size_t n = gw_list_items(st, o->relations, &items, &one);
    const cu_policy_value **rel = n ? cu_arena_alloc(a, n * sizeof *rel) : NULL;
    if (n && !rel)
        return NOMEM();
    for (size_t k = 0; k < n; k++)
        if (!(rel[k] = person_val(st, items[k], a)))
            return NOMEM();
    const cu_policy_value *relations = cu_policy_val_set(a, rel, n);
    const cu_policy_value *end = cu_policy_val_long(a, o->end), *start = cu_policy_val_long(a, o->start);
    const cu_policy_value *granted = cu_policy_val_long(a, o->granted), *expires = cu_policy_val_long(a, o->expires);
    if (!relations || !end || !start || !granted || !expires)
        return NOMEM();
    cu_rc rc;
    if ((rc = cu_policy_entity_put(e, "end", end)) || (rc = cu_policy_entity_put(e, "area", s->atom_val[o->area])) ||
        (rc = cu_policy_entity_put(e, "role", s->atom_val[o->role])) ||
        (rc = cu_policy_entity_put(e, "unit", s->atom_val[o->unit])) || (rc = cu_policy_entity_put(e, "start", start)) ||
        (rc = cu_policy_entity_put(e, "caveats", s->set_val[o->caveats])) ||
        (rc = cu_policy_entity_put(e, "vetting", s->atom_val[o->vetting])) ||
        (rc = cu_policy_entity_put(e, "relations", relations)) ||
        (rc = cu_policy_entity_put(e, "vetting_expires", expires)) ||
        (rc = cu_policy_entity_put(e, "vetting_granted", granted)) || (rc = cu_policy_entity_seal(e, NULL, a)))
        return rc;
    s->off_ent[i] = e;
    if (!(s->off_val[i] = cu_policy_entity_value(a, e)))
        return NOMEM();
    return CU_OK;
}

/* Fold the assign lines into intervals per case (invariant 3). */
static cu_rc fold_assignments(gw_snap *s)
{
    gw_store *st = s->st;
    if (st->nassigns > 1)
        qsort(st->assigns, st->nassigns, sizeof *st->assigns, assign_cmp);
    /* at most: each case line officer, plus one interval per assign line */
    size_t cap = st->nassigns + 1;
    for (size_t c = 0; c < st->ncases; c++) {
        const uint32_t *items;
        uint32_t one;
        cap += gw_list_items(st, st->cases[c].officers, &items, &one);
    }
    s->ivs = cu_malloc(cap * sizeof *s->ivs);
    s->case_iv_start = cu_malloc((st->ncases + 1) * sizeof *s->case_iv_start);
    if (!s->ivs || !s->case_iv_start)
        return NOMEM();
    size_t n = 0, ai = 0;
    for (size_t c = 0; c < st->ncases; c++) {
        s->case_iv_start[c] = (uint32_t)n;
        const uint32_t *items;
        uint32_t one;
        size_t no = gw_list_items(st, st->cases[c].officers, &items, &one);
        size_t first = n;
        for (size_t k = 0; k < no; k++) {
            bool dup = false;
            for (size_t q = first; q < n && !dup; q++)
                dup = s->ivs[q].officer == items[k];
            if (!dup)
                s->ivs[n++] = (gw_interval){items[k], NOTHING, FOREVER};
        }
        size_t base_end = n;
        while (ai < st->nassigns && st->assigns[ai].case_idx == c) {
            uint32_t who = st->assigns[ai].officer;
            /* the officer's state before the first assign line: from the case line */
            gw_interval *open = NULL;
            for (size_t q = first; q < base_end; q++)
                if (s->ivs[q].officer == who)
                    open = &s->ivs[q];
            for (; ai < st->nassigns && st->assigns[ai].case_idx == c && st->assigns[ai].officer == who; ai++) {
                const gw_assign *x = &st->assigns[ai];
                if (x->add && !open) {
                    s->ivs[n] = (gw_interval){who, x->ts, FOREVER};
                    open = &s->ivs[n++];
                } else if (!x->add && open) {
                    open->until = x->ts;
                    if (open->until <= open->from) /* closed before it began: drop it */
                        open->officer = UINT32_MAX;
                    open = NULL;
                }
            }
        }
    }
    s->case_iv_start[st->ncases] = (uint32_t)n;
    return CU_OK;
}

/* The cases that link each defined record (parents of the record entity). */
static cu_rc invert_records(gw_snap *s)
{
    gw_store *st = s->st;
    s->rec_case_start = cu_calloc(st->nrecords + 1, sizeof *s->rec_case_start);
    if (!s->rec_case_start)
        return NOMEM();
    size_t total = 0;
    for (size_t c = 0; c < st->ncases; c++) {
        if (!st->cases[c].defined)
            continue;
        const uint32_t *items;
        uint32_t one;
        size_t n = gw_list_items(st, st->cases[c].records, &items, &one);
        for (size_t k = 0; k < n; k++)
            if (st->records[items[k]].defined) {
                s->rec_case_start[items[k] + 1]++;
                total++;
            }
    }
    for (size_t r = 0; r < st->nrecords; r++)
        s->rec_case_start[r + 1] += s->rec_case_start[r];
    s->rec_cases = cu_malloc((total ? total : 1) * sizeof *s->rec_cases);
    uint32_t *fill = cu_malloc((st->nrecords ? st->nrecords : 1) * sizeof *fill);
    if (!s->rec_cases || !fill) {
        cu_free(fill);
        return NOMEM();
    }
    if (st->nrecords)
        memcpy(fill, s->rec_case_start, st->nrecords * sizeof *fill);
    for (size_t c = 0; c < st->ncases; c++) {
        if (!st->cases[c].defined)
            continue;
        const uint32_t *items;
        uint32_t one;
        size_t n = gw_list_items(st, st->cases[c].records, &items, &one);
        for (size_t k = 0; k < n; k++)
            if (st->records[items[k]].defined) {
                /* a case that lists a record twice links it once */
                uint32_t r = items[k];
                bool dup = false;
                for (uint32_t q = s->rec_case_start[r]; q < fill[r] && !dup; q++)
                    dup = s->rec_cases[q] == (uint32_t)c;
                if (!dup)
                    s->rec_cases[fill[r]++] = (uint32_t)c;
                else
                    s->rec_cases[fill[r]++] = UINT32_MAX;
            }
    }
    cu_free(fill);
    return CU_OK;
}

/* Back a large read-only array with 2 MiB pages where the kernel can: a
 * decision at ten million records touches a dozen places in some GiB, and
 * with 4 KiB pages each is a TLB miss and a page walk before the cache miss.
 * MADV_COLLAPSE (Linux 6.1) makes the huge pages now, from memory already
 * filled, by copying it: done for the snapshot made at start.  A snapshot
 * made by a reference update (a clone of the whole store) is only marked
 * MADV_HUGEPAGE, and the kernel's khugepaged collapses it in the
 * background: copying some hundred MiB on the update's own thread was half
 * of an update's time (the gate held, every decision waiting).  Elsewhere,
 * or when memory is short, it fails and nothing changes but the speed. */
static void huge_pages(const void *p, size_t n, bool now)
{
#if defined(MADV_HUGEPAGE) && defined(MADV_COLLAPSE)
    const uintptr_t H = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)p + H - 1) & ~(H - 1), b = ((uintptr_t)p + n) & ~(H - 1);
    if (!p || b <= a)
        return;
    (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
    if (now)
        (void)madvise((void *)a, b - a, MADV_COLLAPSE);
#else
    (void)p;
    (void)n;
    (void)now;
#endif
}

static void snap_huge_pages(const gw_snap *s)
{
    const gw_store *st = s->st;
    bool now = !st->is_clone;
    huge_pages(st->pool, st->pool_len, now);
    huge_pages(st->lists, st->lists_len * sizeof *st->lists, now);
    huge_pages(st->persons, st->npersons * sizeof *st->persons, now);
    huge_pages(st->cases, st->ncases * sizeof *st->cases, now);
    huge_pages(st->records, st->nrecords * sizeof *st->records, now);
    huge_pages(st->person_tab.slots, st->person_tab.cap * sizeof *st->person_tab.slots, now);
    huge_pages(st->case_tab.slots, st->case_tab.cap * sizeof *st->case_tab.slots, now);
    huge_pages(st->record_tab.slots, st->record_tab.cap * sizeof *st->record_tab.slots, now);
    huge_pages(s->rec_case_start, (st->nrecords + 1) * sizeof *s->rec_case_start, now);
    huge_pages(s->rec_cases, s->rec_case_start[st->nrecords] * sizeof *s->rec_cases, now);
    huge_pages(s->case_iv_start, (st->ncases + 1) * sizeof *s->case_iv_start, now);
    huge_pages(s->ivs, s->case_iv_start[st->ncases] * sizeof *s->ivs, now);
    /* the officers' entities: made one after another in the arena's blocks,
     * so the span from the lowest to the highest is mostly theirs (a gap
     * between blocks is skipped by the kernel) */
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (size_t i = 0; i < st->nofficers; i++) {
        uintptr_t p = (uintptr_t)s->off_ent[i];
        if (!p)
            continue;
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
    }
    if (hi > lo)
        huge_pages((const void *)lo, hi - lo + 4096, now);
}

cu_rc gw_snap_make(gw_store *st, gw_snap **out)
{
    cu_rc rc = CU_OK;
    gw_snap *s = cu_calloc(1, sizeof *s);
    if (!s) {
        gw_store_free(st);
        return NOMEM();
    }
    static atomic_ullong serials;
    atomic_init(&s->refs, 1);
    s->serial = atomic_fetch_add(&serials, 1) + 1;
    s->st = st;
    gw_store_trim(st);
    /* blocks of 8 MiB: the officers' entities (tens of MiB) then lie on
     * few blocks that 2 MiB pages can back (snap_huge_pages) */
    s->arena = cu_arena_new((size_t)8 << 20, (size_t)8 << 30);
    s->atom_val = cu_calloc(st->natoms + 1, sizeof *s->atom_val);
    s->set_val = cu_calloc(st->nsets + 1, sizeof *s->set_val);
    s->sys_val = cu_calloc(st->natoms + 1, sizeof *s->sys_val);
    s->set_nonempty = cu_calloc(st->nsets + 1, sizeof *s->set_nonempty);
    s->off_ent = cu_calloc(st->nofficers + 1, sizeof *s->off_ent);
    s->off_val = cu_calloc(st->nofficers + 1, sizeof *s->off_val);
    s->bool_val[0] = s->arena ? cu_policy_val_bool(s->arena, false) : NULL;
    s->bool_val[1] = s->arena ? cu_policy_val_bool(s->arena, true) : NULL;
    if (!s->bool_val[0] || !s->bool_val[1] || !s->off_val || !s->arena || !s->atom_val || !s->set_val ||
        !s->sys_val || !s->set_nonempty || !s->off_ent) {
        rc = NOMEM();
        goto fail;
    }
    for (size_t i = 0; i < st->natoms; i++) {
        const char *v = gw_str(st, st->atoms[i]);
        size_t n = gw_str_len(st, st->atoms[i]);
        s->atom_val[i] = cu_policy_val_string_ref(s->arena, v, n);
        s->sys_val[i] = cu_policy_val_entity_ref(s->arena, "System", 6, v, n);
        if (!s->atom_val[i] || !s->sys_val[i]) {
            rc = NOMEM();
            goto fail;
        }
    }
    for (size_t i = 0; i < st->nsets; i++) {
        const uint32_t *items;
        uint32_t one;
        size_t n = gw_list_items(st, st->sets[i].members, &items, &one);
        const cu_policy_value *v[GW_MAX_SET];
        for (size_t k = 0; k < n; k++)
            v[k] = s->atom_val[items[k]];
        if (!(s->set_val[i] = cu_policy_val_set(s->arena, v, n))) {
            rc = NOMEM();
            goto fail;
        }
        s->set_nonempty[i] = n > 0;
    }
    for (size_t i = 0; i < st->nofficers; i++)
        if (st->officers[i].defined && (rc = officer_entity(s, (uint32_t)i)))
            goto fail;
    if ((rc = fold_assignments(s)) || (rc = invert_records(s)))
        goto fail;
    s->bytes = cu_arena_used(s->arena) + (st->nrecords + 1) * sizeof(uint32_t) +
               s->rec_case_start[st->nrecords] * sizeof(uint32_t) + (st->ncases + 1) * sizeof(uint32_t) +
               s->case_iv_start[st->ncases] * sizeof(gw_interval) +
               (2 * st->natoms + st->nsets + 2 * st->nofficers) * sizeof(void *);
    snap_huge_pages(s);
    *out = s;
    return CU_OK;
fail:
    gw_snap_release(s);
    return rc;
}

cu_rc gw_snap_empty(gw_snap **out)
{
    gw_store *st = NULL;
    cu_rc rc = gw_store_new(&st);
    return rc ? rc : gw_snap_make(st, out);
}

/* -------------------------------------------------- per-decision entities */

cu_policy_entity *gw_record_entity(const gw_snap *s, uint32_t r, uint32_t kc, const cu_policy_value *kcv,
                                   cu_arena *a, bool *protected_out)
{
    const gw_store *st = s->st;
    const gw_record *rec = &st->records[r];
    uint32_t c0 = s->rec_case_start[r], c1 = s->rec_case_start[r + 1];
    cu_policy_entity *e = cu_policy_entity_make(a, "Record", 6, gw_str(st, rec->id), gw_str_len(st, rec->id), 8,
                                                c1 - c0 + 1);
    if (!e)
        return NULL;
    const uint32_t *items;
    uint32_t one;
    size_t n = gw_list_items(st, rec->subjects, &items, &one);
    const cu_policy_value *subj[64];
    const cu_policy_value **sv = n <= 64 ? subj : cu_arena_alloc(a, n * sizeof *sv);
    if (!sv)
        return NULL;
    bool prot = false;
    for (size_t k = 0; k < n; k++) {
        if (!(sv[k] = person_val(st, items[k], a)))
            return NULL;
        prot = prot || s->set_nonempty[st->persons[items[k]].flags];
    }
    const cu_policy_value *subjects = cu_policy_val_set(a, sv, n);
    if (!subjects)
        return NULL;
    *protected_out = prot;
    /* keys in (length, bytes) order */
    static const char *const keys[] = {"area", "live", "type", "system", "caveats", "subjects", "protected",
                                       "classification"};
    static const uint32_t klens[] = {4, 4, 4, 6, 7, 8, 9, 14};
    const cu_policy_value *vals[] = {s->atom_val[rec->area], s->bool_val[rec->live != 0], s->atom_val[rec->type],
                                     s->atom_val[rec->system], s->set_val[rec->caveats], subjects, s->bool_val[prot],
                                     s->atom_val[rec->cls]};
    if (cu_policy_entity_put_all(e, keys, klens, vals, 8))
        return NULL;
    /* parents: its system (permits for one system are scoped on it), its cases */
    if (cu_policy_entity_put_parent(e, s->sys_val[rec->system]))
        return NULL;
    for (uint32_t q = c0; q < c1; q++) {
        if (s->rec_cases[q] == UINT32_MAX)
            continue;
        uint32_t off = st->cases[s->rec_cases[q]].id;
        const cu_policy_value *cv = s->rec_cases[q] == kc && kcv ? kcv
                                    : cu_policy_val_entity_ref(a, "Case", 4, gw_str(st, off), gw_str_len(st, off));
        if (!cv || cu_policy_entity_put_parent(e, cv))
            return NULL;
    }
    return cu_policy_entity_seal(e, NULL, a) ? NULL : e;
}

cu_policy_entity *gw_case_entity(const gw_snap *s, uint32_t c, int64_t now, cu_arena *a)
{
    const gw_store *st = s->st;
    const gw_case *k = &st->cases[c];
    cu_policy_entity *e = cu_policy_entity_make(a, "Case", 4, gw_str(st, k->id), gw_str_len(st, k->id), 5, 0);
    if (!e)
        return NULL;
    uint32_t i0 = s->case_iv_start[c], i1 = s->case_iv_start[c + 1];
    const cu_policy_value **ov = cu_arena_alloc(a, (i1 - i0 + 1) * sizeof *ov);
    if (!ov)
        return NULL;
    size_t no = 0;
    for (uint32_t q = i0; q < i1; q++) {
        const gw_interval *iv = &s->ivs[q];
        if (iv->officer == UINT32_MAX || now < iv->from || now >= iv->until)
            continue;
        uint32_t off = st->officers[iv->officer].id;
        ov[no] = s->off_val[iv->officer] ? s->off_val[iv->officer]
                                         : cu_policy_val_entity_ref(a, "Officer", 7, gw_str(st, off), gw_str_len(st, off));
        if (!ov[no++])
            return NULL;
    }
    const uint32_t *items;
    uint32_t one;
    size_t n = gw_list_items(st, k->subjects, &items, &one);
    const cu_policy_value **sv = cu_arena_alloc(a, (n + 1) * sizeof *sv);
    if (!sv)
        return NULL;
    for (size_t q = 0; q < n; q++)
        if (!(sv[q] = person_val(st, items[q], a)))
            return NULL;
    const cu_policy_value *officers = cu_policy_val_set(a, ov, no), *subjects = cu_policy_val_set(a, sv, n);
    const cu_policy_value *opened = cu_policy_val_long(a, k->opened), *closed = cu_policy_val_long(a, k->closed);
    if (!officers || !subjects || !opened || !closed)
        return NULL;
    static const char *const keys[] = {"area", "closed", "opened", "officers", "subjects"};
    static const uint32_t klens[] = {4, 6, 6, 8, 8};
    const cu_policy_value *vals[] = {s->atom_val[k->area], closed, opened, officers, subjects};
    if (cu_policy_entity_put_all(e, keys, klens, vals, 5))
        return NULL;
    return cu_policy_entity_seal(e, NULL, a) ? NULL : e;
}

/* ------------------------------------------------------------ prefetch */

static inline void pf(const void *p)
{
    if (p)
        __builtin_prefetch(p);
}

/* A prefetch of [p, p + n) a cache line at a time. */
static inline void pf_span(const void *p, size_t n)
{
    for (size_t k = 0; k < n; k += 64)
        __builtin_prefetch((const char *)p + k);
}

void gw_prefetch_officer(const gw_snap *s, uint32_t oi)
{
    const cu_policy_entity *oe = s->off_ent[oi];
    if (oe) /* the entity and its ten attributes, made one after the other in the arena (< 512 bytes) */
        pf_span(oe, 512);
    cu_policy_entity_prefetch_memo(oe);
}

void gw_prefetch_decision(const gw_snap *s, uint32_t oi, bool rec, uint32_t ri, bool cs, uint32_t ci, bool ent)
{
    const gw_store *st = s->st;
    /* step 1: what the three look-ups name (their structs are read) */
    const cu_policy_entity *oe = ent ? s->off_ent[oi] : NULL;
    if (oe) /* the entity and its ten attributes, made one after the other in the arena (< 512 bytes) */
        pf_span(oe, 512);
    const uint32_t *it = NULL;
    uint32_t one = 0;
    size_t nsub = 0;
    if (rec) {
        pf(&s->rec_case_start[ri]);
        pf(&s->rec_case_start[ri + 1]);
        nsub = gw_list_items(st, st->records[ri].subjects, &it, &one);
        for (size_t k = 0; k < nsub && k < 4; k++)
            pf(&st->persons[it[k]]);
    }
    if (cs) {
        pf(&s->case_iv_start[ci]);
        pf(&s->case_iv_start[ci + 1]);
    }
    /* step 2: one level down (these loads wait for step 1's lines, in
     * parallel with one another): the officer's memo, made apart from it */
    if (oe)
        cu_policy_entity_prefetch_memo(oe);
    if (rec) {
        uint32_t q = s->rec_case_start[ri];
        pf(&s->rec_cases[q]);
        for (size_t k = 0; k < nsub && k < 4 && ent; k++)
            pf(st->pool + st->persons[it[k]].id);
    }
    if (cs) {
        uint32_t q0 = s->case_iv_start[ci], q1 = s->case_iv_start[ci + 1];
        if (q1 > q0)
            pf_span(&s->ivs[q0], (q1 - q0) * sizeof *s->ivs);
    }
}
