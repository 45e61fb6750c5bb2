/* Interned ids: a string <-> dense integer table per id kind.
 *
 * Invariants:
 * 1. Ids of a kind are 0..count-1 in order of first sight; an id never
 *    changes and its string never moves (strings live in fixed 64 KiB slabs,
 *    the id -> string table in fixed chunks of 65536 pointers), so another
 *    thread may read the string of an id it was handed while this table grows.
 * 2. The hash index (open addressing, linear probing, load <= 1/2) is used
 *    only by the interning thread.  A slot holds the hash and the first 16
 *    bytes of its string (zero padded), so a lookup of an id of at most 16
 *    bytes touches one slot and nothing else: ids hold no NUL byte, so the
 *    padded bytes decide equality (with the length, stored in the slot).
 *    Longer ids compare their tail in the slab.
 * 3. Each string is stored NUL-terminated after one byte holding its length
 *    (ids are at most CU_ID_MAX_LEN bytes).
 * 4. cu_names_hash is a pure function of the bytes, so other threads may
 *    hash ids ahead (cu_names_intern_h) and the interning thread may
 *    prefetch their slots (cu_names_prefetch): the table is the same as if
 *    each id had been interned with cu_names_intern.
 */
#include "custos/event.h"

#include <stdatomic.h>
#include <string.h>

#define CHUNK_BITS 16
#define CHUNK (1u << CHUNK_BITS)
#define MAX_CHUNKS 4096 /* 268 million ids per kind */
#define SLAB 65536

#define INL 15

struct slot {
    uint32_t hash;
    uint32_t id1;    /* id + 1; 0 = empty */
    const char *str; /* the string itself, to save a lookup on the hot path */
    char inl[INL];   /* its first INL bytes, zero padded */
    uint8_t len;
};

struct table {
    struct slot *slots;
    uint32_t mask;
    _Atomic uint32_t count;
    const char **chunks[MAX_CHUNKS];
};

struct cu_names {
    struct table t[CU_K_COUNT_];
    char *slab;      /* current string slab */
    size_t slab_used;
    char **slabs;    /* every slab, for freeing */
    size_t nslabs, capslabs;
};

static const char *const kind_names[CU_K_COUNT_] = {"officer", "person", "record", "case", "terminal",
                                                    "area", "unit", "system", "purpose"};

const char *cu_idkind_name(cu_idkind k) { return (unsigned)k < CU_K_COUNT_ ? kind_names[k] : "?"; }

static uint64_t load_le(const char *s, size_t n)
{
    /* n <= 8 bytes, little-endian, zero padded */
    uint64_t v = 0;
    memcpy(&v, s, n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
    v >>= (8 - n) * 8;
#endif
    return v;
}

uint32_t cu_names_hash(const char *s, size_t n)
{
    /* eight bytes at a time, each word mixed by a multiply and a fold; the
     * length goes in first so that zero padding cannot collide */
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)n * 0xC2B2AE3D27D4EB4Full);
    while (n >= 8) {
        h = (h ^ load_le(s, 8)) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    if (n) {
        h = (h ^ load_le(s, n)) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

cu_rc cu_names_new(cu_names **out)
{
    cu_names *n = cu_calloc(1, sizeof *n);
    if (!n)
        return CU_ERR_NOMEM;
    for (int k = 0; k < CU_K_COUNT_; k++) {
        n->t[k].slots = cu_calloc(1024, sizeof(struct slot));
        if (!n->t[k].slots) {
            cu_names_free(n);
            return CU_ERR_NOMEM;
        }
        n->t[k].mask = 1023;
    }
    *out = n;
    return CU_OK;
}

void cu_names_free(cu_names *n)
{
    if (!n)
        return;
    for (int k = 0; k < CU_K_COUNT_; k++) {
        cu_free(n->t[k].slots);
        for (int c = 0; c < MAX_CHUNKS && n->t[k].chunks[c]; c++)
            cu_free((void *)n->t[k].chunks[c]);
    }
    for (size_t i = 0; i < n->nslabs; i++)
        cu_free(n->slabs[i]);
    cu_free(n->slabs);
    cu_free(n);
}

static const char *str_of(const struct table *t, uint32_t id)
{
    return t->chunks[id >> CHUNK_BITS][id & (CHUNK - 1)];
}

/* The first INL bytes of s, zero padded. */
static void inline_key(const char *s, size_t len, char out[INL])
{
    memset(out, 0, INL);
    memcpy(out, s, len < INL ? len : INL);
}

static bool same(const struct slot *sl, const char key[INL], const char *s, size_t len)
{
    return sl->len == len && memcmp(sl->inl, key, INL) == 0 &&
           (len <= INL || memcmp(sl->str + INL, s + INL, len - INL) == 0);
}

cu_id cu_names_find(const cu_names *n, cu_idkind k, const char *s, size_t len)
{
    if ((unsigned)k >= CU_K_COUNT_ || len == 0 || len > CU_ID_MAX_LEN)
        return CU_ID_NONE;
    const struct table *t = &n->t[k];
    uint32_t h = cu_names_hash(s, len);
    char key[INL];
    inline_key(s, len, key);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const struct slot *sl = &t->slots[i];
        if (!sl->id1)
            return CU_ID_NONE;
        if (sl->hash == h && same(sl, key, s, len))
            return sl->id1 - 1;
    }
}

static cu_rc grow(struct table *t)
{
    uint32_t ncap = (t->mask + 1) * 2;
    struct slot *ns = cu_calloc(ncap, sizeof *ns);
    if (!ns)
        return CU_ERR_NOMEM;
    for (uint32_t i = 0; i <= t->mask; i++) {
        if (!t->slots[i].id1)
            continue;
        uint32_t j = t->slots[i].hash & (ncap - 1);
        while (ns[j].id1)
            j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    cu_free(t->slots);
    t->slots = ns;
    t->mask = ncap - 1;
    return CU_OK;
}

static char *store_str(cu_names *n, const char *s, size_t len)
{
    if (!n->slab || n->slab_used + len + 2 > SLAB) {
        if (cu_grow(&n->slabs, &n->capslabs, n->nslabs + 1, sizeof *n->slabs, 64, false))
            return NULL;
        char *slab = cu_malloc(SLAB);
        if (!slab)
            return NULL;
        n->slabs[n->nslabs++] = slab;
        n->slab = slab;
        n->slab_used = 0;
    }
    char *p = n->slab + n->slab_used;
    p[0] = (char)len;
    memcpy(p + 1, s, len);
    p[len + 1] = '\0';
    n->slab_used += len + 2;
    return p + 1;
}

void cu_names_prefetch(const cu_names *n, cu_idkind k, uint32_t hash)
{
    if ((unsigned)k >= CU_K_COUNT_)
        return;
    const struct table *t = &n->t[k];
    __builtin_prefetch(&t->slots[hash & t->mask]);
}

cu_rc cu_names_intern(cu_names *n, cu_idkind k, const char *s, size_t len, cu_id *out)
{
    return cu_names_intern_h(n, k, s, len, len && len <= CU_ID_MAX_LEN ? cu_names_hash(s, len) : 0, out);
}

cu_rc cu_names_intern_h(cu_names *n, cu_idkind k, const char *s, size_t len, uint32_t h, cu_id *out)
{
    if ((unsigned)k >= CU_K_COUNT_)
        return cu_err_set(CU_ERR_INVAL, "bad id kind");
    if (len == 0)
        return cu_err_set(CU_ERR_INVAL, "empty %s id", kind_names[k]);
    if (len > CU_ID_MAX_LEN)
        return cu_err_set(CU_ERR_TOOBIG, "%s id longer than %d bytes", kind_names[k], CU_ID_MAX_LEN);
    struct table *t = &n->t[k];
    char key[INL];
    inline_key(s, len, key);
    uint32_t i = h & t->mask;
    for (;; i = (i + 1) & t->mask) {
        struct slot *sl = &t->slots[i];
        if (!sl->id1)
            break;
        if (sl->hash == h && same(sl, key, s, len)) {
            *out = sl->id1 - 1;
            return CU_OK;
        }
    }
    /* new: only now is the NUL check worth its cost (a known id has none) */
    if (memchr(s, '\0', len))
        return cu_err_set(CU_ERR_INVAL, "NUL byte in %s id", kind_names[k]);
    uint32_t id = atomic_load_explicit(&t->count, memory_order_relaxed);
    if (id >= (uint32_t)MAX_CHUNKS * CHUNK - 1)
        return cu_err_set(CU_ERR_RANGE, "too many %s ids", kind_names[k]);
    uint32_t c = id >> CHUNK_BITS;
    if (!t->chunks[c]) {
        t->chunks[c] = cu_calloc(CHUNK, sizeof(char *));
        if (!t->chunks[c])
            return CU_ERR_NOMEM;
    }
    char *str = store_str(n, s, len);
    if (!str)
        return CU_ERR_NOMEM;
    t->chunks[c][id & (CHUNK - 1)] = str;
    struct slot *sl = &t->slots[i];
    sl->hash = h;
    sl->id1 = id + 1;
    sl->str = str;
    memcpy(sl->inl, key, INL);
    sl->len = (uint8_t)len;
    /* publish: a reader that sees the new count sees the string */
    atomic_store_explicit(&t->count, id + 1, memory_order_release);
    if ((id + 1) * 2 > t->mask + 1) {
        cu_rc rc = grow(t);
        if (rc)
            return rc; /* the id is interned; only the index did not grow */
    }
    *out = id;
    return CU_OK;
}

const char *cu_names_str(const cu_names *n, cu_idkind k, cu_id id)
{
    if ((unsigned)k >= CU_K_COUNT_ || id == CU_ID_NONE)
        return NULL;
    const struct table *t = &n->t[k];
    if (id >= atomic_load_explicit(&((struct table *)t)->count, memory_order_acquire))
        return NULL;
    return str_of(t, id);
}

const char *cu_names_str_len(const cu_names *n, cu_idkind k, cu_id id, size_t *len)
{
    const char *s = cu_names_str(n, k, id);
    *len = s ? (unsigned char)s[-1] : 0; /* invariant 3: the length byte before it */
    return s;
}

void cu_names_prefetch_id(const cu_names *n, cu_idkind k, cu_id id)
{
    if ((unsigned)k >= CU_K_COUNT_ || id == CU_ID_NONE)
        return;
    const struct table *t = &n->t[k];
    /* below count, the chunk exists (invariant 1) */
    if (id < atomic_load_explicit(&((struct table *)t)->count, memory_order_acquire))
        __builtin_prefetch(&t->chunks[id >> CHUNK_BITS][id & (CHUNK - 1)]);
}

uint32_t cu_names_count(const cu_names *n, cu_idkind k)
{
    if ((unsigned)k >= CU_K_COUNT_)
        return 0;
    return atomic_load_explicit(&((struct table *)&n->t[k])->count, memory_order_acquire);
}
