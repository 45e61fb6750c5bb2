/*
 * The gateway's resident reference store: officers, people, cases and
 * records held as fixed-size structs with interned strings, so that a force
 * of tens of thousands of officers and ten million records fits in a few
 * hundred MiB (docs/gateway.md has the figures).  The Cedar entities a
 * decision needs are built from it per request (gateway.c), except the
 * officers', which are built once per snapshot (snap.c).
 *
 * NOTES ON THE LAYOUT
 * 1. Every string (ids and attribute values) lives once in one byte pool:
 *    a two-byte little-endian length, the bytes, a NUL.  A string is named by
 *    the offset of its bytes, so the pool may grow (move) while it is built
 *    and a store is copied with memcpy.  Offsets are 32-bit: the pool is
 *    capped at 4 GiB.
 * 2. Attribute values (role, unit, area, vetting level, record type, system,
 *    classification) are atoms: each distinct string once, named by a small
 *    number (records keep them in 16 bits).  Sets of strings (caveats, flags)
 *    are interned the same way as "set atoms".
 * 3. Lists of people, officers, cases and records are gw_list words: 0 is
 *    empty, bit 31 set is a one-item list (the item in the low bits), else
 *    the offset of [n, items...] in the list pool.  Most records name one
 *    person, so most lists cost nothing beyond the word.
 * 4. An id mentioned before it is defined (a case naming a record, a record
 *    naming a person) gets a slot with defined = false; decisions treat an
 *    undefined officer or record as unknown.
 * 5. Later lines replace earlier objects of the same kind and id in place;
 *    lists of the replaced object stay in the pool as garbage (bounded by
 *    the input).  Assignment lines are kept as they come and folded by time
 *    when a snapshot is made (snap.c), so their order in the file does not
 *    matter, only their ts.
 */
#include "gateway_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX ((size_t)UINT32_MAX - 1024)

/* ------------------------------------------------------------ growth */

/* --------------------------------------------------------- the pool */

static cu_rc pool_put(gw_store *s, const char *str, size_t n, uint32_t *off)
{
    if (n > 0xffff)
        return cu_err_set(CU_ERR_TOOBIG, "gateway store: string of %zu bytes", n);
    if (s->pool_len + n + 3 > POOL_MAX)
        return cu_err_set(CU_ERR_TOOBIG, "gateway store: more than 4 GiB of ids and strings");
    cu_rc rc = cu_grow(&s->pool, &s->pool_cap, s->pool_len + n + 3, 1, 16, false);
    if (rc)
        return rc;
    char *p = s->pool + s->pool_len;
    p[0] = (char)(n & 0xff);
    p[1] = (char)(n >> 8);
    memcpy(p + 2, str, n);
    p[2 + n] = 0;
    *off = (uint32_t)(s->pool_len + 2);
    s->pool_len += n + 3;
    return CU_OK;
}

size_t gw_str_len(const gw_store *s, uint32_t off)
{
    const unsigned char *p = (const unsigned char *)s->pool + off;
    return (size_t)p[-2] | (size_t)p[-1] << 8;
}

/* ---------------------------------------------------- hash tables */

/* cu_hash64 (util.h): ids are 6-20 bytes, a byte loop was most of a
 * look-up. */
static uint64_t hash_bytes(const char *p, size_t n) { return cu_hash64(p, n, 0); }

/* The key of item i: the uint32 pool offset at the start of its struct. */
static uint32_t key_of(const void *base, size_t stride, uint32_t i)
{
    uint32_t k;
    memcpy(&k, (const char *)base + (size_t)i * stride, sizeof k);
    return k;
}

static bool key_eq(const gw_store *s, uint32_t off, const char *k, size_t n)
{
    return gw_str_len(s, off) == n && memcmp(s->pool + off, k, n) == 0;
}

/* A slot holds its item's index + 1 in its low log2(cap) bits (the index
 * is below count, and count below cap) and, in the bits above, the same
 * bits of the top half of the key's hash: a tag.  A probe whose tag
 * differs is passed over without reading the item or its id, which at ten
 * million records are two dependent cache misses (linear probing at up to
 * 3/4 load visits about 1.75 slots a successful look-up).  0: empty. */
static uint32_t tab_low(size_t cap) { return cap > UINT32_MAX ? UINT32_MAX : (uint32_t)(cap - 1); }

static uint32_t slot_of(uint64_t h, size_t cap, uint32_t idx)
{
    return ((uint32_t)(h >> 32) & ~tab_low(cap)) | (idx + 1);
}

static bool tab_find_h(const gw_store *s, const gw_tab *t, const void *base, size_t stride, const char *k, size_t n,
                       uint64_t h, uint32_t *idx)
{
    if (!t->cap)
        return false;
    size_t mask = t->cap - 1;
    uint32_t low = tab_low(t->cap), tag = (uint32_t)(h >> 32) & ~low;
    for (size_t j = h & mask;; j = (j + 1) & mask) {
        uint32_t v = t->slots[j];
        if (!v)
            return false;
        if ((v & ~low) == tag && key_eq(s, key_of(base, stride, (v & low) - 1), k, n)) {
            *idx = (v & low) - 1;
            return true;
        }
    }
}

static bool tab_find(const gw_store *s, const gw_tab *t, const void *base, size_t stride, const char *k, size_t n,
                     uint32_t *idx)
{
    return tab_find_h(s, t, base, stride, k, n, hash_bytes(k, n), idx);
}

static cu_rc tab_insert(gw_store *s, gw_tab *t, const void *base, size_t stride, uint32_t idx)
{
    if ((t->count + 1) * 4 > t->cap * 3) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        uint32_t *ns = cu_calloc(nc, sizeof *ns);
        if (!ns)
            return cu_err_set(CU_ERR_NOMEM, "gateway store: out of memory");
        for (size_t i = 0; i < t->cap; i++) {
            uint32_t v = t->slots[i];
            if (!v)
                continue;
            uint32_t k = (v & tab_low(t->cap)) - 1, off = key_of(base, stride, k);
            uint64_t h = hash_bytes(s->pool + off, gw_str_len(s, off));
            size_t j = h & (nc - 1);
            while (ns[j])
                j = (j + 1) & (nc - 1);
            ns[j] = slot_of(h, nc, k); /* the tag has fewer bits now */
        }
        cu_free(t->slots);
        t->slots = ns;
        t->cap = nc;
    }
    uint32_t off = key_of(base, stride, idx);
    uint64_t h = hash_bytes(s->pool + off, gw_str_len(s, off));
    size_t j = h & (t->cap - 1);
    while (t->slots[j])
        j = (j + 1) & (t->cap - 1);
    t->slots[j] = slot_of(h, t->cap, idx);
    t->count++;
    return CU_OK;
}

static cu_rc tab_clone(const gw_tab *src, gw_tab *dst)
{
    *dst = *src;
    dst->slots = NULL;
    if (!src->cap)
        return CU_OK;
    dst->slots = cu_malloc(src->cap * sizeof *dst->slots);
    if (!dst->slots)
        return cu_err_set(CU_ERR_NOMEM, "gateway store: out of memory");
    memcpy(dst->slots, src->slots, src->cap * sizeof *dst->slots);
    return CU_OK;
}

/* ------------------------------------------------------------ atoms */

cu_rc gw_atom(gw_store *s, const char *str, size_t n, uint32_t *out)
{
    if (tab_find(s, &s->atom_tab, s->atoms, sizeof *s->atoms, str, n, out))
        return CU_OK;
    if (s->natoms >= GW_MAX_ATOMS)
        return cu_err_set(CU_ERR_TOOBIG, "gateway store: more than %d distinct attribute values", GW_MAX_ATOMS);
    cu_rc rc = cu_grow(&s->atoms, &s->capatoms, s->natoms + 1, sizeof *s->atoms, 16, false);
    uint32_t off = 0;
    if (!rc)
        rc = pool_put(s, str, n, &off);
    if (rc)
        return rc;
    s->atoms[s->natoms] = off;
    if ((rc = tab_insert(s, &s->atom_tab, s->atoms, sizeof *s->atoms, (uint32_t)s->natoms)))
        return rc;
    *out = (uint32_t)s->natoms++;
    return CU_OK;
}

/* A set of strings: its members as atoms, sorted and without duplicates;
 * the key is the atoms' numbers as text, so equal sets intern once. */
static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

cu_rc gw_set_atom(gw_store *s, const char *const *items, const size_t *lens, size_t n, uint32_t *out)
{
    uint32_t a[GW_MAX_SET];
    char key[GW_MAX_SET * 11 + 1];
    if (n > GW_MAX_SET)
        return cu_err_set(CU_ERR_TOOBIG, "gateway store: a set of more than %d strings", GW_MAX_SET);
    cu_rc rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = gw_atom(s, items[i], lens[i], &a[i])))
            return rc;
    if (n > 1)
        qsort(a, n, sizeof *a, u32_cmp);
    size_t m = 0, kl = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && a[m - 1] == a[i])
            continue;
        a[m++] = a[i];
        kl += (size_t)snprintf(key + kl, sizeof key - kl, "%u,", a[i]);
    }
    if (tab_find(s, &s->set_tab, s->sets, sizeof *s->sets, key, kl, out))
        return CU_OK;
    if ((rc = cu_grow(&s->sets, &s->capsets, s->nsets + 1, sizeof *s->sets, 16, false)))
        return rc;
    gw_setatom *st = &s->sets[s->nsets];
    if ((rc = pool_put(s, key, kl, &st->key)) || (rc = gw_list_make(s, a, m, &st->members)))
        return rc;
    if ((rc = tab_insert(s, &s->set_tab, s->sets, sizeof *s->sets, (uint32_t)s->nsets)))
        return rc;
    *out = (uint32_t)s->nsets++;
    return CU_OK;
}

/* ------------------------------------------------------------ lists */

cu_rc gw_list_make(gw_store *s, const uint32_t *items, size_t n, gw_list *out)
{
    if (n == 0) {
        *out = 0;
        return CU_OK;
    }
    if (n == 1 && items[0] < GW_LIST_ONE) {
        *out = GW_LIST_ONE | items[0];
        return CU_OK;
    }
    if (s->lists_len + n + 1 >= GW_LIST_ONE)
        return cu_err_set(CU_ERR_TOOBIG, "gateway store: list pool over 2^31 entries");
    size_t at = s->lists_len ? s->lists_len : 1; /* offset 0 means empty */
    cu_rc rc = cu_grow(&s->lists, &s->caplists, at + n + 1, sizeof *s->lists, 16, false);
    if (rc)
        return rc;
    s->lists[at] = (uint32_t)n;
    memcpy(&s->lists[at + 1], items, n * sizeof *items);
    s->lists_len = at + n + 1;
    *out = (gw_list)at;
    return CU_OK;
}

size_t gw_list_items(const gw_store *s, gw_list l, const uint32_t **items, uint32_t *one)
{
    if (!l)
        return 0;
    if (l & GW_LIST_ONE) {
        *one = l & ~GW_LIST_ONE;
        *items = one;
        return 1;
    }
    *items = &s->lists[l + 1];
    return s->lists[l];
}

/* -------------------------------------------------------- id tables */

#define ID_FIND_OR_ADD(NAME, ARR, N, CAP, TAB)                                                         \
    cu_rc NAME(gw_store *s, const char *id, size_t n, uint32_t *out)                                  \
    {                                                                                                 \
        if (tab_find(s, &s->TAB, s->ARR, sizeof *s->ARR, id, n, out))                                 \
            return CU_OK;                                                                             \
        if (s->N >= GW_LIST_ONE - 1)                                                                  \
            return cu_err_set(CU_ERR_TOOBIG, "gateway store: too many ids");                          \
        cu_rc rc = cu_grow(&s->ARR, &s->CAP, s->N + 1, sizeof *s->ARR, 16, false);                    \
        uint32_t off = 0;                                                                             \
        if (!rc)                                                                                      \
            rc = pool_put(s, id, n, &off);                                                            \
        if (rc)                                                                                       \
            return rc;                                                                                \
        memset(&s->ARR[s->N], 0, sizeof *s->ARR);                                                     \
        s->ARR[s->N].id = off;                                                                        \
        if ((rc = tab_insert(s, &s->TAB, s->ARR, sizeof *s->ARR, (uint32_t)s->N)))                    \
            return rc;                                                                                \
        *out = (uint32_t)s->N++;                                                                      \
        return CU_OK;                                                                                 \
    }

ID_FIND_OR_ADD(gw_officer_id, officers, nofficers, capofficers, officer_tab)
ID_FIND_OR_ADD(gw_person_id, persons, npersons, cappersons, person_tab)
ID_FIND_OR_ADD(gw_case_id, cases, ncases, capcases, case_tab)
ID_FIND_OR_ADD(gw_record_id, records, nrecords, caprecords, record_tab)

uint64_t gw_id_hash(const char *id, size_t n) { return hash_bytes(id, n); }

static const gw_tab *tab_of(const gw_store *s, int kind)
{
    return kind == GW_OFFICER ? &s->officer_tab
         : kind == GW_RECORD  ? &s->record_tab
         : kind == GW_CASE    ? &s->case_tab
                              : &s->person_tab;
}

void gw_prefetch_id(const gw_store *s, int kind, uint64_t h)
{
    const gw_tab *t = tab_of(s, kind);
    if (t->cap)
        __builtin_prefetch(&t->slots[h & (t->cap - 1)]);
}

bool gw_find_h(const gw_store *s, int kind, const char *id, size_t n, uint64_t h, uint32_t *idx)
{
    const gw_tab *t = tab_of(s, kind);
    switch (kind) {
    case GW_OFFICER:
        return tab_find_h(s, t, s->officers, sizeof *s->officers, id, n, h, idx) && s->officers[*idx].defined;
    case GW_RECORD:
        return tab_find_h(s, t, s->records, sizeof *s->records, id, n, h, idx) && s->records[*idx].defined;
    case GW_CASE:
        return tab_find_h(s, t, s->cases, sizeof *s->cases, id, n, h, idx) && s->cases[*idx].defined;
    case GW_PERSON:
        return tab_find_h(s, t, s->persons, sizeof *s->persons, id, n, h, idx);
    }
    return false;
}

bool gw_find(const gw_store *s, int kind, const char *id, size_t n, uint32_t *idx)
{
    return gw_find_h(s, kind, id, n, hash_bytes(id, n), idx);
}

/* ---------------------------------------------------------- objects */

cu_rc gw_put_assign(gw_store *s, uint32_t case_idx, uint32_t officer, int64_t ts, bool add)
{
    cu_rc rc = cu_grow(&s->assigns, &s->capassigns, s->nassigns + 1, sizeof *s->assigns, 16, false);
    if (rc)
        return rc;
    gw_assign *a = &s->assigns[s->nassigns];
    a->case_idx = case_idx;
    a->officer = officer;
    a->ts = ts;
    a->seq = (uint32_t)s->nassigns;
    a->add = add;
    s->nassigns++;
    return CU_OK;
}

/* ------------------------------------------------------------ life */

cu_rc gw_store_new(gw_store **out)
{
    gw_store *s = cu_calloc(1, sizeof *s);
    if (!s)
        return cu_err_set(CU_ERR_NOMEM, "gateway store: out of memory");
    *out = s;
    return CU_OK;
}

void gw_store_free(gw_store *s)
{
    if (!s)
        return;
    cu_free(s->pool);
    cu_free(s->atoms);
    cu_free(s->sets);
    cu_free(s->lists);
    cu_free(s->officers);
    cu_free(s->persons);
    cu_free(s->cases);
    cu_free(s->records);
    cu_free(s->assigns);
    cu_free(s->atom_tab.slots);
    cu_free(s->set_tab.slots);
    cu_free(s->officer_tab.slots);
    cu_free(s->person_tab.slots);
    cu_free(s->case_tab.slots);
    cu_free(s->record_tab.slots);
    cu_free(s);
}

static cu_rc dup_arr(void **dst, size_t *cap, const void *src, size_t n, size_t elem)
{
    *dst = NULL;
    *cap = 0;
    if (!n)
        return CU_OK;
    *dst = cu_malloc(n * elem);
    if (!*dst)
        return cu_err_set(CU_ERR_NOMEM, "gateway store: out of memory");
    memcpy(*dst, src, n * elem);
    *cap = n;
    return CU_OK;
}

cu_rc gw_store_clone(const gw_store *src, gw_store **out)
{
    gw_store *s = NULL;
    cu_rc rc = gw_store_new(&s);
    if (rc)
        return rc;
    s->is_clone = true;
    s->pool_len = src->pool_len;
    s->natoms = src->natoms;
    s->nsets = src->nsets;
    s->lists_len = src->lists_len;
    s->nofficers = src->nofficers;
    s->npersons = src->npersons;
    s->ncases = src->ncases;
    s->nrecords = src->nrecords;
    s->nassigns = src->nassigns;
    if ((rc = dup_arr((void **)&s->pool, &s->pool_cap, src->pool, src->pool_len, 1)) ||
        (rc = dup_arr((void **)&s->atoms, &s->capatoms, src->atoms, src->natoms, sizeof *s->atoms)) ||
        (rc = dup_arr((void **)&s->sets, &s->capsets, src->sets, src->nsets, sizeof *s->sets)) ||
        (rc = dup_arr((void **)&s->lists, &s->caplists, src->lists, src->lists_len, sizeof *s->lists)) ||
        (rc = dup_arr((void **)&s->officers, &s->capofficers, src->officers, src->nofficers, sizeof *s->officers)) ||
        (rc = dup_arr((void **)&s->persons, &s->cappersons, src->persons, src->npersons, sizeof *s->persons)) ||
        (rc = dup_arr((void **)&s->cases, &s->capcases, src->cases, src->ncases, sizeof *s->cases)) ||
        (rc = dup_arr((void **)&s->records, &s->caprecords, src->records, src->nrecords, sizeof *s->records)) ||
        (rc = dup_arr((void **)&s->assigns, &s->capassigns, src->assigns, src->nassigns, sizeof *s->assigns)) ||
        (rc = tab_clone(&src->atom_tab, &s->atom_tab)) || (rc = tab_clone(&src->set_tab, &s->set_tab)) ||
        (rc = tab_clone(&src->officer_tab, &s->officer_tab)) || (rc = tab_clone(&src->person_tab, &s->person_tab)) ||
        (rc = tab_clone(&src->case_tab, &s->case_tab)) || (rc = tab_clone(&src->record_tab, &s->record_tab))) {
        gw_store_free(s);
        return rc;
    }
    *out = s;
    return CU_OK;
}

static void trim(void **p, size_t *cap, size_t n, size_t elem)
{
    if (!*p || n >= *cap || n == 0)
        return;
    void *q = cu_realloc(*p, n * elem);
    if (q) { /* a failed shrink keeps the larger block: harmless */
        *p = q;
        *cap = n;
    }
}

void gw_store_trim(gw_store *s)
{
    trim((void **)&s->pool, &s->pool_cap, s->pool_len, 1);
    trim((void **)&s->atoms, &s->capatoms, s->natoms, sizeof *s->atoms);
    trim((void **)&s->sets, &s->capsets, s->nsets, sizeof *s->sets);
    trim((void **)&s->lists, &s->caplists, s->lists_len, sizeof *s->lists);
    trim((void **)&s->officers, &s->capofficers, s->nofficers, sizeof *s->officers);
    trim((void **)&s->persons, &s->cappersons, s->npersons, sizeof *s->persons);
    trim((void **)&s->cases, &s->capcases, s->ncases, sizeof *s->cases);
    trim((void **)&s->records, &s->caprecords, s->nrecords, sizeof *s->records);
    trim((void **)&s->assigns, &s->capassigns, s->nassigns, sizeof *s->assigns);
}

size_t gw_store_bytes(const gw_store *s)
{
    return s->pool_cap + s->capatoms * sizeof *s->atoms + s->capsets * sizeof *s->sets +
           s->caplists * sizeof *s->lists + s->capofficers * sizeof *s->officers +
           s->cappersons * sizeof *s->persons + s->capcases * sizeof *s->cases +
           s->caprecords * sizeof *s->records + s->capassigns * sizeof *s->assigns +
           (s->atom_tab.cap + s->set_tab.cap + s->officer_tab.cap + s->person_tab.cap + s->case_tab.cap +
            s->record_tab.cap) * sizeof(uint32_t);
}
