/*
 * Cedar values: hashing and equality of uids, record and set helpers, the
 * decimal and ipaddr extension types, rendering, and the public value
 * constructors.
 *
 * Invariants: decimals are int64 scaled by 10^4 and a parse that would not
 * fit fails; an ip keeps the address as written (host bits included, as
 * Cedar's equality compares them) and its prefix length; an IPv4 address
 * sits in addr[12..15].
 */
#include "policy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ hashing */

/* A word at a time (ids and names are short: a byte loop was most of a
 * uid's cost): each 8 bytes xored in and multiplied, the high half folded
 * down (tables use the low bits); the tail read as one word (overlapping
 * the last full one, or assembled from 4-, 2- and 1-byte reads), the length
 * mixed in.  Hashes live only in this process's memory. */
uint64_t pol_hash(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *b = p;
    uint64_t h = (seed ^ 1469598103934665603ull) + n * 0x9e3779b97f4a7c15ull, w;
    size_t len = n;
    while (n > 8) {
        memcpy(&w, b, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        b += 8;
        n -= 8;
    }
    if (len >= 8) {
        memcpy(&w, b + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, b, 4);
        memcpy(&y, b + n - 4, 4);
        w = (uint64_t)x << 32 | y;
    } else {
        w = n ? (uint64_t)b[0] << 16 | (uint64_t)b[n / 2] << 8 | b[n - 1] : 0;
    }
    /* the last word's high bytes (an id's last characters) must reach the
     * low bits too: a full finishing mix */
    h ^= w;
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

uint64_t pol_uid_hash(const char *t, size_t tl, const char *id, size_t il)
{
    uint64_t h = pol_hash(t, tl, 0);
    h = pol_hash(id, il, h * 31 + 7);
    return h ^ (h >> 29);
}

bool pol_uid_eq(const puid *a, const puid *b)
{
    if (a == b)
        return true;
    return a->hash == b->hash && a->tlen == b->tlen && a->ilen == b->ilen &&
           pol_bytes_eq(a->type, b->type, a->tlen) && pol_bytes_eq(a->id, b->id, a->ilen);
}

puid *pol_uid_make(cu_arena *a, const char *t, size_t tl, const char *id, size_t il)
{
    if (tl > UINT32_MAX || il > UINT32_MAX)
        return NULL;
    puid *u = cu_arena_alloc(a, sizeof *u);
    char *ts = cu_arena_strndup(a, t, tl);
    char *is = cu_arena_strndup(a, id, il);
    if (!u || !ts || !is)
        return NULL;
    u->type = ts;
    u->id = is;
    u->tlen = (uint32_t)tl;
    u->ilen = (uint32_t)il;
    u->hash = pol_uid_hash(t, tl, id, il);
    return u;
}

/* ------------------------------------------------------------ records */

const pval *pol_rec_get(const pval *rec, const char *k, uint32_t kn)
{
    uint32_t lo = 0, hi = rec->u.rec.n;
    const pfield *f = rec->u.rec.f;
    if (hi <= 16) {
        /* entities and contexts are small: a scan on the length (and the
         * first byte) rejects most keys without reading them */
        for (uint32_t i = 0; i < hi; i++)
            if (f[i].klen == kn && (kn == 0 || f[i].key[0] == k[0]) && pol_bytes_eq(f[i].key, k, kn))
                return &f[i].v;
        return NULL;
    }
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = pol_key_cmp(f[mid].key, f[mid].klen, k, kn);
        if (c == 0)
            return &f[mid].v;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int field_cmp(const void *a, const void *b)
{
    const pfield *x = a, *y = b;
    return pol_key_cmp(x->key, x->klen, y->key, y->klen);
}

bool pol_rec_sort(pfield *f, uint32_t n)
{
    /* insertion sort for the usual small records keeps qsort off hot paths */
    if (n > 16)
        qsort(f, n, sizeof *f, field_cmp);
    else
        for (uint32_t i = 1; i < n; i++) {
            pfield t = f[i];
            uint32_t j = i;
            while (j > 0 && field_cmp(&f[j - 1], &t) > 0) {
                f[j] = f[j - 1];
                j--;
            }
            f[j] = t;
        }
    for (uint32_t i = 1; i < n; i++)
        if (field_cmp(&f[i - 1], &f[i]) == 0)
            return false;
    return true;
}

/* ----------------------------------------------------------- equality */

static bool set_has(const pval *set, const pval *x)
{
    for (uint32_t i = 0; i < set->u.set.n; i++)
        if (pol_val_eq(&set->u.set.v[i], x))
            return true;
    return false;
}

bool pol_val_eq(const pval *a, const pval *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case PV_BOOL:
        return a->u.b == b->u.b;
    case PV_LONG:
    case PV_DECIMAL:
        return a->u.l == b->u.l;
    case PV_STR:
        return a->u.s.n == b->u.s.n && pol_bytes_eq(a->u.s.p, b->u.s.p, a->u.s.n);
    case PV_ENTITY:
        return pol_uid_eq(a->u.e, b->u.e);
    case PV_IP:
        return a->u.ip.v6 == b->u.ip.v6 && a->u.ip.prefix == b->u.ip.prefix &&
               memcmp(a->u.ip.addr, b->u.ip.addr, 16) == 0;
    case PV_SET:
        /* sets may hold duplicates: equal when each contains the other */
        for (uint32_t i = 0; i < a->u.set.n; i++)
            if (!set_has(b, &a->u.set.v[i]))
                return false;
        for (uint32_t i = 0; i < b->u.set.n; i++)
            if (!set_has(a, &b->u.set.v[i]))
                return false;
        return true;
    case PV_RECORD:
        if (a->u.rec.n != b->u.rec.n)
            return false;
        for (uint32_t i = 0; i < a->u.rec.n; i++) {
            const pfield *x = &a->u.rec.f[i], *y = &b->u.rec.f[i];
            if (pol_key_cmp(x->key, x->klen, y->key, y->klen) != 0 || !pol_val_eq(&x->v, &y->v))
                return false;
        }
        return true;
    }
    return false;
}

bool pol_val_copy(cu_arena *a, const pval *src, pval *dst)
{
    *dst = *src;
    switch (src->kind) {
    case PV_STR: {
        char *s = cu_arena_strndup(a, src->u.s.p, src->u.s.n);
        if (!s)
            return false;
        dst->u.s.p = s;
        return true;
    }
    case PV_ENTITY: {
        puid *u = pol_uid_make(a, src->u.e->type, src->u.e->tlen, src->u.e->id, src->u.e->ilen);
        if (!u)
            return false;
        dst->u.e = u;
        return true;
    }
    case PV_SET: {
        pval *v = cu_arena_alloc(a, sizeof *v * (src->u.set.n ? src->u.set.n : 1));
        if (!v)
            return false;
        for (uint32_t i = 0; i < src->u.set.n; i++)
            if (!pol_val_copy(a, &src->u.set.v[i], &v[i]))
                return false;
        dst->u.set.v = v;
        return true;
    }
    case PV_RECORD: {
        pfield *f = cu_arena_alloc(a, sizeof *f * (src->u.rec.n ? src->u.rec.n : 1));
        if (!f)
            return false;
        for (uint32_t i = 0; i < src->u.rec.n; i++) {
            f[i].klen = src->u.rec.f[i].klen;
            f[i].key = cu_arena_strndup(a, src->u.rec.f[i].key, f[i].klen);
            if (!f[i].key || !pol_val_copy(a, &src->u.rec.f[i].v, &f[i].v))
                return false;
        }
        dst->u.rec.f = f;
        return true;
    }
    default:
        return true;
    }
}

/* ---------------------------------------------------------- extensions */

bool pol_decimal_parse(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    size_t ds = i;
    /* accumulate as a negative number so that the minimum fits */
    int64_t acc = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        int d = s[i] - '0';
        if (acc < (INT64_MIN + d) / 10)
            return false;
        acc = acc * 10 - d;
        i++;
    }
    if (i == ds || i >= n || s[i] != '.')
        return false;
    i++;
    size_t fs = i;
    int64_t frac = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (i - fs < 4) /* more than 4 digits is refused below */
            frac = frac * 10 + (s[i] - '0');
        i++;
    }
    size_t nf = i - fs;
    if (i != n || nf == 0 || nf > 4)
        return false;
    for (size_t k = nf; k < 4; k++)
        frac *= 10;
    if (acc < INT64_MIN / 10000)
        return false;
    acc *= 10000;
    if (acc < INT64_MIN + frac)
        return false;
    acc -= frac;
    if (!neg) {
        if (acc == INT64_MIN)
            return false;
        acc = -acc;
    }
    *out = acc;
    return true;
}

static bool ip4_parse(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
        size_t st = i;
        unsigned v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - st < 4) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        size_t len = i - st;
        if (len == 0 || len > 3 || v > 255 || (len > 1 && s[st] == '0'))
            return false;
        out[part] = (uint8_t)v;
    }
    return i == n;
}

static bool ip6_parse(const char *s, size_t n, uint8_t out[16])
{
    uint16_t head[8], tail[8];
    int nh = 0, nt = 0;
    bool gap = false;
    size_t i = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = true;
        i = 2;
        if (i == n)
            goto done;
    } else if (n >= 1 && s[0] == ':')
        return false;
    /* Cedar refuses IPv4 addresses embedded in IPv6 ones (::ffff:1.2.3.4) */
    if (memchr(s, '.', n))
        return false;
    for (;;) {
        size_t st = i;
        unsigned v = 0;
        while (i < n && cu_hex_digit(s[i]) >= 0 && i - st < 5) {
            v = v * 16 + (unsigned)cu_hex_digit(s[i]);
            i++;
        }
        if (i == st || i - st > 4)
            return false;
        if (gap) {
            if (nt >= 8)
                return false;
            tail[nt++] = (uint16_t)v;
        } else {
            if (nh >= 8)
                return false;
            head[nh++] = (uint16_t)v;
        }
        if (i == n)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < n && s[i] == ':') {
            if (gap)
                return false;
            gap = true;
            i++;
            if (i == n)
                break;
        } else if (i == n)
            return false;
    }
done:
    if (gap ? nh + nt > 7 : nh != 8)
        return false;
    memset(out, 0, 16);
    for (int k = 0; k < nh; k++) {
        out[2 * k] = (uint8_t)(head[k] >> 8);
        out[2 * k + 1] = (uint8_t)head[k];
    }
    for (int k = 0; k < nt; k++) {
        int pos = 8 - nt + k;
        out[2 * pos] = (uint8_t)(tail[k] >> 8);
        out[2 * pos + 1] = (uint8_t)tail[k];
    }
    return true;
}

bool pol_ip_parse(const char *s, size_t n, pip *out)
{
    const char *slash = memchr(s, '/', n);
    size_t an = slash ? (size_t)(slash - s) : n;
    memset(out, 0, sizeof *out);
    bool v4 = memchr(s, ':', an) == NULL;
    if (v4) {
        if (!ip4_parse(s, an, out->addr + 12))
            return false;
    } else {
        if (!ip6_parse(s, an, out->addr))
            return false;
        out->v6 = 1;
    }
    unsigned maxp = v4 ? 32 : 128;
    out->prefix = (uint8_t)maxp;
    if (slash) {
        const char *p = slash + 1;
        size_t pn = n - an - 1;
        if (pn == 0 || pn > 3 || (pn > 1 && p[0] == '0'))
            return false;
        unsigned v = 0;
        for (size_t k = 0; k < pn; k++) {
            if (p[k] < '0' || p[k] > '9')
                return false;
            v = v * 10 + (unsigned)(p[k] - '0');
        }
        if (v > maxp)
            return false;
        out->prefix = (uint8_t)v;
    }
    return true;
}

/* Bits [0, bits) of the address part (IPv4 counts from addr[12]). */
static bool prefix_eq(const pip *a, const pip *b, unsigned bits)
{
    const uint8_t *x = a->addr + (a->v6 ? 0 : 12), *y = b->addr + (b->v6 ? 0 : 12);
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(x, y, full) != 0)
        return false;
    if (rest) {
        uint8_t m = (uint8_t)(0xff << (8 - rest));
        if ((x[full] & m) != (y[full] & m))
            return false;
    }
    return true;
}

bool pol_ip_in_range(const pip *a, const pip *range)
{
    if (a->v6 != range->v6)
        return false;
    return a->prefix >= range->prefix && prefix_eq(a, range, range->prefix);
}

/* --------------------------------------------------------- rendering */

const char *pol_kind_name(int kind)
{
    switch (kind) {
    case PV_BOOL: return "bool";
    case PV_LONG: return "long";
    case PV_STR: return "string";
    case PV_ENTITY: return "entity";
    case PV_SET: return "set";
    case PV_RECORD: return "record";
    case PV_DECIMAL: return "decimal";
    case PV_IP: return "ipaddr";
    }
    return "?";
}

static cu_rc render_str(const char *s, size_t n, cu_buf *b)
{
    cu_rc rc = cu_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n && rc == CU_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rc = cu_buf_appendf(b, "\\%c", c);
        else if (c < 0x20)
            rc = cu_buf_appendf(b, "\\u{%x}", c);
        else
            rc = cu_buf_append(b, &s[i], 1);
    }
    return rc != CU_OK ? rc : cu_buf_append(b, "\"", 1);
}

static cu_rc render_ip(const pip *ip, cu_buf *b)
{
    cu_rc rc;
    if (!ip->v6)
        rc = cu_buf_appendf(b, "%u.%u.%u.%u", ip->addr[12], ip->addr[13], ip->addr[14], ip->addr[15]);
    else {
        rc = CU_OK;
        for (int k = 0; k < 8 && rc == CU_OK; k++)
            rc = cu_buf_appendf(b, "%s%x", k ? ":" : "", (unsigned)(ip->addr[2 * k] << 8 | ip->addr[2 * k + 1]));
    }
    if (rc == CU_OK)
        rc = cu_buf_appendf(b, "/%u", ip->prefix);
    return rc;
}

cu_rc pol_val_render(const pval *v, cu_buf *b)
{
    cu_rc rc = CU_OK;
    switch (v->kind) {
    case PV_BOOL:
        return cu_buf_appends(b, v->u.b ? "true" : "false");
    case PV_LONG:
        return cu_buf_appendf(b, "%lld", (long long)v->u.l);
    case PV_STR:
        return render_str(v->u.s.p, v->u.s.n, b);
    case PV_ENTITY:
        rc = cu_buf_append(b, v->u.e->type, v->u.e->tlen);
        if (rc == CU_OK)
            rc = cu_buf_appends(b, "::");
        return rc != CU_OK ? rc : render_str(v->u.e->id, v->u.e->ilen, b);
    case PV_DECIMAL: {
        uint64_t m = v->u.l < 0 ? (uint64_t)0 - (uint64_t)v->u.l : (uint64_t)v->u.l;
        return cu_buf_appendf(b, "decimal(\"%s%llu.%04llu\")", v->u.l < 0 ? "-" : "",
                              (unsigned long long)(m / 10000), (unsigned long long)(m % 10000));
    }
    case PV_IP:
        rc = cu_buf_appends(b, "ip(\"");
        if (rc == CU_OK)
            rc = render_ip(&v->u.ip, b);
        return rc != CU_OK ? rc : cu_buf_appends(b, "\")");
    case PV_SET:
        rc = cu_buf_appends(b, "[");
        for (uint32_t i = 0; i < v->u.set.n && rc == CU_OK; i++) {
            if (i)
                rc = cu_buf_appends(b, ", ");
            if (rc == CU_OK)
                rc = pol_val_render(&v->u.set.v[i], b);
        }
        return rc != CU_OK ? rc : cu_buf_appends(b, "]");
    case PV_RECORD:
        rc = cu_buf_appends(b, "{");
        for (uint32_t i = 0; i < v->u.rec.n && rc == CU_OK; i++) {
            if (i)
                rc = cu_buf_appends(b, ", ");
            if (rc == CU_OK)
                rc = render_str(v->u.rec.f[i].key, v->u.rec.f[i].klen, b);
            if (rc == CU_OK)
                rc = cu_buf_appends(b, ": ");
            if (rc == CU_OK)
                rc = pol_val_render(&v->u.rec.f[i].v, b);
        }
        return rc != CU_OK ? rc : cu_buf_appends(b, "}");
    }
    return CU_ERR_INTERNAL;
}

/* ------------------------------------------------------ public values */

static cu_policy_value *newval(cu_arena *a, int kind)
{
    cu_policy_value *v = cu_arena_alloc(a, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->v.kind = (uint8_t)kind;
    }
    return v;
}

const cu_policy_value *cu_policy_val_bool(cu_arena *a, bool b)
{
    cu_policy_value *v = newval(a, PV_BOOL);
    if (v)
        v->v.u.b = b;
    return v;
}

const cu_policy_value *cu_policy_val_long(cu_arena *a, int64_t l)
{
    cu_policy_value *v = newval(a, PV_LONG);
    if (v)
        v->v.u.l = l;
    return v;
}

const cu_policy_value *cu_policy_val_string(cu_arena *a, const char *s, size_t n)
{
    if (n > UINT32_MAX)
        return NULL;
    cu_policy_value *v = newval(a, PV_STR);
    char *c = cu_arena_strndup(a, s, n);
    if (!v || !c)
        return NULL;
    v->v.u.s.p = c;
    v->v.u.s.n = (uint32_t)n;
    return v;
}

const cu_policy_value *cu_policy_val_entity(cu_arena *a, const char *type, const char *id)
{
    cu_policy_value *v = newval(a, PV_ENTITY);
    if (!v)
        return NULL;
    v->v.u.e = pol_uid_make(a, type, strlen(type), id, strlen(id));
    return v->v.u.e ? v : NULL;
}

const cu_policy_value *cu_policy_val_decimal(cu_arena *a, const char *text)
{
    int64_t d;
    if (!pol_decimal_parse(text, strlen(text), &d)) {
        cu_err_set(CU_ERR_INVAL, "bad decimal \"%s\"", text);
        return NULL;
    }
    cu_policy_value *v = newval(a, PV_DECIMAL);
    if (v)
        v->v.u.l = d;
    return v;
}

const cu_policy_value *cu_policy_val_ip(cu_arena *a, const char *text)
{
    pip ip;
    if (!pol_ip_parse(text, strlen(text), &ip)) {
        cu_err_set(CU_ERR_INVAL, "bad ip address \"%s\"", text);
        return NULL;
    }
    cu_policy_value *v = newval(a, PV_IP);
    if (v)
        v->v.u.ip = ip;
    return v;
}

const cu_policy_value *cu_policy_val_set(cu_arena *a, const cu_policy_value *const *items, size_t n)
{
    if (n > UINT32_MAX)
        return NULL;
    /* the value and its items in one block */
    size_t vb = (sizeof(cu_policy_value) + 15) & ~(size_t)15;
    char *m = cu_arena_alloc(a, vb + sizeof(pval) * (n ? n : 1));
    if (!m)
        return NULL;
    cu_policy_value *v = (cu_policy_value *)m;
    pval *arr = (pval *)(m + vb);
    memset(v, 0, sizeof *v);
    v->v.kind = PV_SET;
    for (size_t i = 0; i < n; i++) {
        if (!items[i])
            return NULL;
        arr[i] = items[i]->v;
    }
    v->v.u.set.v = arr;
    v->v.u.set.n = (uint32_t)n;
    return v;
}

const cu_policy_value *cu_policy_val_record(cu_arena *a, const char *const *keys,
                                            const cu_policy_value *const *vals, size_t n)
{
    if (n > UINT32_MAX)
        return NULL;
    cu_policy_value *v = newval(a, PV_RECORD);
    pfield *f = cu_arena_alloc(a, sizeof *f * (n ? n : 1));
    if (!v || !f)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!vals[i] || !keys[i])
            return NULL;
        f[i].key = keys[i];
        f[i].klen = (uint32_t)strlen(keys[i]);
        f[i].v = vals[i]->v;
    }
    if (!pol_rec_sort(f, (uint32_t)n)) {
        cu_err_set(CU_ERR_INVAL, "duplicate record key");
        return NULL;
    }
    v->v.u.rec.f = f;
    v->v.u.rec.n = (uint32_t)n;
    return v;
}

/* Views: no copy of the bytes, which must outlive the value. */
const cu_policy_value *cu_policy_val_string_ref(cu_arena *a, const char *s, size_t n)
{
    if (n > UINT32_MAX || !s)
        return NULL;
    cu_policy_value *v = newval(a, PV_STR);
    if (!v)
        return NULL;
    v->v.u.s.p = s;
    v->v.u.s.n = (uint32_t)n;
    return v;
}

const cu_policy_value *cu_policy_val_entity_ref(cu_arena *a, const char *type, size_t tlen, const char *id,
                                                size_t ilen)
{
    if (!type || !id || tlen > UINT32_MAX || ilen > UINT32_MAX)
        return NULL;
    struct {
        cu_policy_value v;
        puid u;
    } *vu = cu_arena_alloc(a, sizeof *vu); /* the value and its uid in one block */
    if (!vu)
        return NULL;
    cu_policy_value *v = &vu->v;
    puid *u = &vu->u;
    memset(v, 0, sizeof *v);
    v->v.kind = PV_ENTITY;
    u->type = type;
    u->id = id;
    u->tlen = (uint32_t)tlen;
    u->ilen = (uint32_t)ilen;
    u->hash = pol_uid_hash(type, tlen, id, ilen);
    v->v.u.e = u;
    return v;
}
