/* A strict RFC 8259 scanner for one JSON line.
 *
 * Why not jansson per line: at millions of events a tree per line (a malloc
 * per value) costs more than the rest of ingest.  This scanner validates the
 * whole text in one pass and records spans, so parsing an event allocates
 * nothing.  It is a complete validator, not a shortcut: every byte of the
 * line is checked (grammar, escapes, UTF-8 with no overlong forms, no
 * surrogates, nothing above U+10FFFF; lone surrogate escapes refused), and
 * tests compare its verdicts with jansson's.
 *
 * Invariants: positions never pass `end`; recursion is bounded by
 * CU_JSON_MAX_DEPTH; spans point into the caller's text.
 */
#include "event/json_int.h"

#include <string.h>

typedef struct scan {
    const char *p, *end, *base;
    int depth;
} scan;

static cu_rc bad(const scan *s, const char *what)
{
    return cu_err_set(CU_ERR_PARSE, "malformed JSON at byte %zu: %s", (size_t)(s->p - s->base) + 1, what);
}

static void ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = cu_hex_digit(p[i]);
        if (h < 0)
            return false;
        v = (v << 4) | (unsigned)h;
    }
    *out = v;
    return true;
}

/* The first byte at or after p that is not plain string text (a control
 * character, '"', '\\' or a byte >= 0x80), looking at eight bytes at a time
 * while eight remain; the caller's byte loop finishes.  In each word a
 * flag is set on every byte that matches (borrows only carry upwards, so
 * the lowest flag is always a true match), and the lowest one is taken. */
static const char *skip_plain(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t m = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w;
        m &= high;
        if (m)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#else
    (void)end;
#endif
    return p;
}

/* At the opening quote; leaves p after the closing quote. */
static cu_rc scan_string(scan *s, cu_jval *v)
{
    s->p++;
    const char *start = s->p;
    bool esc = false;
    for (;;) {
        /* fast path over plain ASCII: eight bytes at a time, then one */
        s->p = skip_plain(s->p, s->end);
        while (s->p < s->end) {
            unsigned char c = (unsigned char)*s->p;
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
                break;
            s->p++;
        }
        if (s->p >= s->end)
            return bad(s, "unterminated string");
        unsigned char c = (unsigned char)*s->p;
        if (c == '"')
            break;
        if (c < 0x20)
            return bad(s, "control character in string");
        if (c >= 0x80) {
            uint32_t cp;
            size_t n = cu_utf8_decode((const unsigned char *)s->p, (size_t)(s->end - s->p), &cp);
            if (!n)
                return bad(s, "invalid UTF-8");
            s->p += n;
            continue;
        }
        /* backslash */
        esc = true;
        if (s->end - s->p < 2)
            return bad(s, "unterminated escape");
        char e = s->p[1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            s->p += 2;
            continue;
        }
        if (e != 'u')
            return bad(s, "bad escape");
        unsigned u;
        if (s->end - s->p < 6 || !hex4(s->p + 2, &u))
            return bad(s, "bad \\u escape");
        s->p += 6;
        if (u >= 0xDC00 && u <= 0xDFFF)
            return bad(s, "lone low surrogate");
        if (u >= 0xD800 && u <= 0xDBFF) {
            unsigned lo;
            if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || !hex4(s->p + 2, &lo) || lo < 0xDC00 ||
                lo > 0xDFFF)
                return bad(s, "lone high surrogate");
            s->p += 6;
        }
    }
    if (v) {
        v->s = start;
        v->len = (uint32_t)(s->p - start);
        v->type = CU_JT_STRING;
        v->esc = esc;
    }
    s->p++;
    return CU_OK;
}

static bool isdig(char c) { return c >= '0' && c <= '9'; }

static cu_rc scan_number(scan *s)
{
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p >= s->end || !isdig(*s->p))
        return bad(s, "bad number");
    if (*s->p == '0') {
        s->p++;
    } else {
        while (s->p < s->end && isdig(*s->p))
            s->p++;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (s->p >= s->end || !isdig(*s->p))
            return bad(s, "bad number fraction");
        while (s->p < s->end && isdig(*s->p))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || !isdig(*s->p))
            return bad(s, "bad number exponent");
        while (s->p < s->end && isdig(*s->p))
            s->p++;
    }
    return CU_OK;
}

static cu_rc scan_value(scan *s, cu_jval *v);

static cu_rc scan_array(scan *s)
{
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return CU_OK;
    }
    for (;;) {
        cu_rc rc = scan_value(s, NULL);
        if (rc)
            return rc;
        ws(s);
        if (s->p >= s->end)
            return bad(s, "unterminated array");
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == ']') {
            s->p++;
            return CU_OK;
        }
        return bad(s, "expected , or ] in array");
    }
}

/* Object members; when m is set, record them (top level). */
static cu_rc scan_object(scan *s, cu_jmember *m, size_t max, size_t *n)
{
    s->p++;
    ws(s);
    size_t cnt = 0;
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        if (n)
            *n = 0;
        return CU_OK;
    }
    for (;;) {
        ws(s);
        if (s->p >= s->end || *s->p != '"')
            return bad(s, "expected a member name");
        cu_jval key, val;
        cu_rc rc = scan_string(s, &key);
        if (rc)
            return rc;
        ws(s);
        if (s->p >= s->end || *s->p != ':')
            return bad(s, "expected :");
        s->p++;
        if ((rc = scan_value(s, &val)))
            return rc;
        if (m) {
            if (cnt >= max)
                return cu_err_set(CU_ERR_TOOBIG, "more than %zu members in an object", max);
            m[cnt].key = key;
            m[cnt].val = val;
        }
        cnt++;
        ws(s);
        if (s->p >= s->end)
            return bad(s, "unterminated object");
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == '}') {
            s->p++;
            if (n)
                *n = cnt;
            return CU_OK;
        }
        return bad(s, "expected , or } in object");
    }
}

static cu_rc lit(scan *s, const char *w, size_t wl)
{
    if ((size_t)(s->end - s->p) < wl || memcmp(s->p, w, wl) != 0)
        return bad(s, "unexpected character");
    s->p += wl;
    return CU_OK;
}

static cu_rc scan_value(scan *s, cu_jval *v)
{
    ws(s);
    if (s->p >= s->end)
        return bad(s, "expected a value");
    const char *start = s->p;
    cu_rc rc;
    uint8_t t;
    switch (*s->p) {
    case '"':
        return scan_string(s, v);
    case '{':
        if (++s->depth > CU_JSON_MAX_DEPTH)
            return bad(s, "nested too deeply");
        rc = scan_object(s, NULL, 0, NULL);
        s->depth--;
        t = CU_JT_OBJECT;
        break;
    case '[':
        if (++s->depth > CU_JSON_MAX_DEPTH)
            return bad(s, "nested too deeply");
        rc = scan_array(s);
        s->depth--;
        t = CU_JT_ARRAY;
        break;
    case 't':
        rc = lit(s, "true", 4);
        t = CU_JT_TRUE;
        break;
    case 'f':
        rc = lit(s, "false", 5);
        t = CU_JT_FALSE;
        break;
    case 'n':
        rc = lit(s, "null", 4);
        t = CU_JT_NULL;
        break;
    default:
        rc = scan_number(s);
        t = CU_JT_NUMBER;
        break;
    }
    if (rc)
        return rc;
    if (v) {
        v->s = start;
        v->len = (uint32_t)(s->p - start);
        v->type = t;
        v->esc = false;
    }
    return CU_OK;
}

cu_rc cu_jscan_object(const char *text, size_t len, cu_jmember *m, size_t max, size_t *n)
{
    if (len > UINT32_MAX)
        return cu_err_set(CU_ERR_TOOBIG, "JSON text too long");
    scan s = {.p = text, .end = text + len, .base = text, .depth = 1};
    ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return bad(&s, "expected an object");
    cu_rc rc = scan_object(&s, m, max, n);
    if (rc)
        return rc;
    ws(&s);
    if (s.p != s.end)
        return bad(&s, "text after the object");
    return CU_OK;
}

cu_rc cu_jscan_value(const char *text, size_t len)
{
    scan s = {.p = text, .end = text + len, .base = text, .depth = 0};
    cu_rc rc = scan_value(&s, NULL);
    if (rc)
        return rc;
    ws(&s);
    if (s.p != s.end)
        return bad(&s, "text after the value");
    return CU_OK;
}

/* The iterators run over text already validated, so they cannot fail; a
 * failure would mean a bug and ends the iteration. */
bool cu_jarray_next(const cu_jval *arr, size_t *pos, cu_jval *el)
{
    scan s = {.p = arr->s + (*pos ? *pos : 1), .end = arr->s + arr->len, .base = arr->s, .depth = 1};
    ws(&s);
    if (s.p >= s.end || *s.p == ']')
        return false;
    if (*s.p == ',')
        s.p++;
    if (scan_value(&s, el))
        return false;
    ws(&s);
    *pos = (size_t)(s.p - arr->s);
    return true;
}

bool cu_jobject_next(const cu_jval *obj, size_t *pos, cu_jval *key, cu_jval *val)
{
    scan s = {.p = obj->s + (*pos ? *pos : 1), .end = obj->s + obj->len, .base = obj->s, .depth = 1};
    ws(&s);
    if (s.p >= s.end || *s.p == '}')
        return false;
    if (*s.p == ',')
        s.p++;
    ws(&s);
    if (s.p >= s.end || *s.p != '"' || scan_string(&s, key))
        return false;
    ws(&s);
    if (s.p >= s.end || *s.p != ':')
        return false;
    s.p++;
    if (scan_value(&s, val))
        return false;
    ws(&s);
    *pos = (size_t)(s.p - obj->s);
    return true;
}

cu_rc cu_jstr_decode(const cu_jval *v, char *out, size_t cap, size_t *outlen)
{
    if (v->type != CU_JT_STRING)
        return cu_err_set(CU_ERR_TYPE, "not a string");
    if (!v->esc) {
        if (v->len >= cap)
            return cu_err_set(CU_ERR_TOOBIG, "string longer than %zu bytes", cap - 1);
        memcpy(out, v->s, v->len);
        out[v->len] = '\0';
        *outlen = v->len;
        return CU_OK;
    }
    size_t o = 0;
    const char *p = v->s, *end = v->s + v->len;
    while (p < end) {
        char tmp[4];
        size_t n;
        if (*p != '\\') {
            tmp[0] = *p++;
            n = 1;
        } else {
            char e = p[1];
            p += 2;
            switch (e) {
            case 'b': tmp[0] = '\b'; n = 1; break;
            case 'f': tmp[0] = '\f'; n = 1; break;
            case 'n': tmp[0] = '\n'; n = 1; break;
            case 'r': tmp[0] = '\r'; n = 1; break;
            case 't': tmp[0] = '\t'; n = 1; break;
            case 'u': {
                unsigned u = 0, lo = 0;
                if (!hex4(p, &u))
                    return cu_err_set(CU_ERR_PARSE, "bad \\u escape");
                p += 4;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (!hex4(p + 2, &lo))
                        return cu_err_set(CU_ERR_PARSE, "bad surrogate pair");
                    p += 6;
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (u == 0)
                    return cu_err_set(CU_ERR_PARSE, "NUL character in string");
                n = cu_utf8_encode(u, tmp);
                break;
            }
            default: tmp[0] = e; n = 1; break; /* " \ / */
            }
        }
        if (o + n >= cap)
            return cu_err_set(CU_ERR_TOOBIG, "string longer than %zu bytes", cap - 1);
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    *outlen = o;
    return CU_OK;
}

bool cu_jstr_eq(const cu_jval *v, const char *lit_)
{
    if (v->type != CU_JT_STRING)
        return false;
    size_t ll = strlen(lit_);
    if (!v->esc)
        return v->len == ll && memcmp(v->s, lit_, ll) == 0;
    char buf[256];
    size_t n;
    if (ll >= sizeof buf || cu_jstr_decode(v, buf, sizeof buf, &n))
        return false;
    return n == ll && memcmp(buf, lit_, ll) == 0;
}
