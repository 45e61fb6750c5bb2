/*
 * Cedar values: hashing and equality of uids, record and set helpers, the
 * decimal, ipaddr, datetime and duration extension types, kind names, and
 * the public value constructors.
 *
 * Invariants: decimals are int64 scaled by 10^4 and a parse that would not
 * fit fails; datetimes and durations are int64 milliseconds (Unix epoch,
 * no leap seconds) and any overflow, in parsing or in a method, is an
 * error, never a wrap; an ip keeps the address as written (host bits included, as
 * Cedar's equality compares them) and its prefix length; an IPv4 address
 * sits in addr[12..15].
 */
#include "policy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ hashing */

/* cu_hash64 (util.h): ids and names are short, a byte loop was most of a
 * uid's cost. */
uint64_t pol_hash(const void *p, size_t n, uint64_t seed) { return cu_hash64(p, n, seed); }

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
    case PV_DATETIME:
    case PV_DURATION:
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

/* Days since 1970-01-01 of a proleptic Gregorian date (the civil-calendar
 * arithmetic of eras of 400 years, 146,097 days each). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool pol_datetime_parse(const char *s, size_t n, int64_t *ms)
{
    /* the forms first, then the values (Cedar checks in that order; both
     * are an error here, so only the accepted set matters) */
    unsigned y, mo, d, h = 0, mi = 0, sec = 0, milli = 0, oh = 0, om = 0;
    bool neg = false;
    if (n < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return false;
    if (n > 10) {
        size_t i = 19;
        if (n < 20 || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
            s[16] != ':' || !digits(s + 17, 2, &sec))
            return false;
        if (s[i] == '.') {
            if (n < i + 4 || !digits(s + i + 1, 3, &milli))
                return false;
            i += 4;
        }
        if (i < n && s[i] == 'Z' && i + 1 == n) {
            /* UTC */
        } else if (i < n && (s[i] == '+' || s[i] == '-') && i + 5 == n && digits(s + i + 1, 2, &oh) &&
                   digits(s + i + 3, 2, &om)) {
            neg = s[i] == '-';
        } else
            return false;
    }
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
        return false;
    if (h > 23 || mi > 59 || sec > 59 || oh > 23 || om > 59)
        return false;
    /* local time at offset +hhmm is that much ahead of UTC */
    int64_t off = (int64_t)(oh * 3600 + om * 60) * 1000;
    *ms = days_from_civil(y, mo, d) * 86400000 + (int64_t)h * 3600000 + (int64_t)mi * 60000 + (int64_t)sec * 1000 +
          milli - (neg ? -off : off);
    return true;
}

bool pol_duration_parse(const char *s, size_t n, int64_t *ms)
{
    /* [-] then quantity-unit pairs in the order d h m s ms, each at most
     * once, at least one; 'm' followed by 's' is milliseconds */
    static const int64_t mul[5] = {86400000, 3600000, 60000, 1000, 1};
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg;
    if (i == n)
        return false;
    int64_t acc = 0;
    int last = -1;
    while (i < n) {
        size_t ds = i;
        uint64_t q = 0;
        bool big = false;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            unsigned dg = (unsigned)(s[i] - '0');
            if (q > (UINT64_MAX - dg) / 10)
                big = true;
            else
                q = q * 10 + dg;
            i++;
        }
        if (i == ds || i == n)
            return false;
        int u;
        if (s[i] == 'd')
            u = 0;
        else if (s[i] == 'h')
            u = 1;
        else if (s[i] == 'm' && i + 1 < n && s[i + 1] == 's')
            u = 4, i++;
        else if (s[i] == 'm')
            u = 2;
        else if (s[i] == 's')
            u = 3;
        else
            return false;
        i++;
        if (u <= last)
            return false;
        last = u;
        /* an overflow (quantity over 64 bits, product or sum) is an error;
         * the one quantity over INT64_MAX that fits is -9223372036854775808ms
         * alone (milliseconds come last) */
        int64_t term;
        if (big || q > (uint64_t)INT64_MAX) {
            if (big || !neg || u != 4 || q != (uint64_t)INT64_MAX + 1 || acc != 0)
                return false;
            acc = INT64_MIN;
            continue;
        }
        if (__builtin_mul_overflow((int64_t)q, mul[u], &term))
            return false;
        if (neg ? __builtin_sub_overflow(acc, term, &acc) : __builtin_add_overflow(acc, term, &acc))
            return false;
    }
    *ms = acc;
    return true;
}

const char *pol_datetime_op(int fn, const pval *a, const pval *b, pval *out, const pval **bad)
{
    static const int64_t DAY = 86400000;
    bool on_duration = fn >= FN_TO_MILLISECONDS;
    *bad = NULL;
    if (a->kind != (on_duration ? PV_DURATION : PV_DATETIME)) {
        *bad = a;
        return on_duration ? "duration" : "datetime";
    }
    int64_t x = a->u.l, r;
    switch (fn) {
    case FN_OFFSET:
        if (b->kind != PV_DURATION) {
            *bad = b;
            return "duration";
        }
        if (__builtin_add_overflow(x, b->u.l, &r))
            return "overflow: datetime offset";
        out->kind = PV_DATETIME;
        out->u.l = r;
        return NULL;
    case FN_DURATION_SINCE:
        if (b->kind != PV_DATETIME) {
            *bad = b;
            return "datetime";
        }
        if (__builtin_sub_overflow(x, b->u.l, &r))
            return "overflow: durationSince";
        out->kind = PV_DURATION;
        out->u.l = r;
        return NULL;
    case FN_TO_DATE: { /* midnight at or before; an error where that is below the range */
        int64_t m = x % DAY;
        if (m < 0)
            m += DAY;
        if (__builtin_sub_overflow(x, m, &r))
            return "overflow: toDate";
        out->kind = PV_DATETIME;
        out->u.l = r;
        return NULL;
    }
    case FN_TO_TIME: /* the time since that midnight, in [0, 1 day) */
        r = x % DAY;
        out->kind = PV_DURATION;
        out->u.l = r < 0 ? r + DAY : r;
        return NULL;
    default: /* duration to long, truncated toward zero */
        out->kind = PV_LONG;
        out->u.l = fn == FN_TO_MILLISECONDS ? x
                 : fn == FN_TO_SECONDS    ? x / 1000
                 : fn == FN_TO_MINUTES    ? x / 60000
                 : fn == FN_TO_HOURS      ? x / 3600000
                                          : x / DAY;
        return NULL;
    }
}

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

/* --------------------------------------------------------- kind names */

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
    case PV_DATETIME: return "datetime";
    case PV_DURATION: return "duration";
    }
    return "?";
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
