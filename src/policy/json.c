/*
 * Cedar's JSON documents (entities, requests, integration-test files) read
 * through jansson, with strings and object keys that may hold NUL.
 *
 * Cedar strings are any Unicode text, NUL included, and the public Cedar
 * corpus has entity ids, attribute names and record keys with "\u0000" in
 * them.  jansson keeps NUL in string values (JSON_ALLOW_NUL) but refuses it
 * in object keys while decoding, although its object API takes keys with a
 * length.  So a document with a "\u0000" escape is decoded from a copy in
 * which each such escape is replaced by the escape of a noncharacter
 * (U+FDD0..U+FDEF) that occurs nowhere in the document, raw or escaped; the
 * tree is then walked and every string and key holding that character gets
 * NUL back.
 *
 * Invariants
 * 1. The replacement has the same length as the escape (six bytes), so the
 *    line and column of any decoding error are those of the original text.
 * 2. The chosen noncharacter does not occur in the document in any form,
 *    so mapping it back to NUL changes nothing else: the tree is exactly
 *    the one a NUL-capable decoder would build (duplicate keys included:
 *    the map is one to one).
 * 3. Documents without a "\u0000" escape are decoded as they are.
 */
#include "policy_int.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Calls fn for every \uXXXX escape inside a JSON string of text. */
static void scan_escapes(const char *t, size_t n, void (*fn)(void *ud, size_t at, unsigned cp), void *ud)
{
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!in) {
            if (c == '"')
                in = true;
            continue;
        }
        if (c == '"') {
            in = false;
        } else if (c == '\\' && i + 1 < n) {
            if (t[i + 1] == 'u' && i + 5 < n) {
                unsigned cp = 0;
                bool ok = true;
                for (int k = 0; k < 4; k++) {
                    int h = hexval(t[i + 2 + k]);
                    ok = ok && h >= 0;
                    cp = cp * 16 + (unsigned)(h < 0 ? 0 : h);
                }
                if (ok)
                    fn(ud, i, cp);
            }
            i++; /* the escaped character */
        }
    }
}

struct scan {
    bool nul;
    uint32_t used; /* bit k: U+FDD0+k occurs escaped */
    char *out;     /* when rewriting */
    unsigned sentinel;
};

static void note_escape(void *ud, size_t at, unsigned cp)
{
    struct scan *s = ud;
    (void)at;
    if (cp == 0)
        s->nul = true;
    else if (cp >= 0xFDD0 && cp <= 0xFDEF)
        s->used |= UINT32_C(1) << (cp - 0xFDD0);
}

static void rewrite_escape(void *ud, size_t at, unsigned cp)
{
    struct scan *s = ud;
    static const char hex[] = "0123456789ABCDEF";
    if (cp != 0)
        return;
    for (int k = 0; k < 4; k++)
        s->out[at + 2 + k] = hex[(s->sentinel >> (12 - 4 * k)) & 15];
}

/* The UTF-8 form of U+FDD0..U+FDEF: EF B7 90..AF. */
static bool has_sentinel(const char *p, size_t n, unsigned cp, size_t *at)
{
    unsigned char b2 = (unsigned char)(0x80 | (cp & 0x3F));
    for (size_t i = 0; i + 2 < n; i++)
        if ((unsigned char)p[i] == 0xEF && (unsigned char)p[i + 1] == 0xB7 && (unsigned char)p[i + 2] == b2) {
            *at = i;
            return true;
        }
    return false;
}

/* s with every sentinel replaced by NUL, into buf (at least n bytes). */
static size_t unmap(const char *s, size_t n, unsigned cp, char *buf)
{
    size_t o = 0, at;
    while (has_sentinel(s, n, cp, &at)) {
        memcpy(buf + o, s, at);
        o += at;
        buf[o++] = '\0';
        s += at + 3;
        n -= at + 3;
    }
    memcpy(buf + o, s, n);
    return o + n;
}

static bool restore(json_t *j, unsigned cp, int depth)
{
    if (depth > CU_POLICY_MAX_DEPTH + 8)
        return true; /* the value readers refuse such depth themselves */
    size_t at;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j);
        if (!has_sentinel(s, n, cp, &at))
            return true;
        char *buf = cu_malloc(n ? n : 1);
        if (!buf)
            return false;
        size_t m = unmap(s, n, cp, buf);
        bool ok = json_string_setn(j, buf, m) == 0;
        cu_free(buf);
        return ok;
    }
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            if (!restore(json_array_get(j, i), cp, depth + 1))
                return false;
        return true;
    }
    if (!json_is_object(j))
        return true;
    bool rekey = false;
    const char *k;
    size_t kn;
    json_t *v;
    json_object_keylen_foreach(j, k, kn, v)
    {
        if (!restore(v, cp, depth + 1))
            return false;
        rekey = rekey || has_sentinel(k, kn, cp, &at);
    }
    if (!rekey)
        return true;
    /* rebuild in the same order with the keys restored */
    json_t *o = json_object();
    if (!o)
        return false;
    bool ok = true;
    json_object_keylen_foreach(j, k, kn, v)
    {
        char *buf = cu_malloc(kn ? kn : 1);
        if (!buf) {
            ok = false;
            break;
        }
        size_t m = unmap(k, kn, cp, buf);
        ok = json_object_setn_nocheck(o, buf, m, v) == 0;
        cu_free(buf);
        if (!ok)
            break;
    }
    if (ok && json_object_clear(j) != 0)
        ok = false;
    if (ok)
        json_object_keylen_foreach(o, k, kn, v)
        {
            if (json_object_setn_nocheck(j, k, kn, v) != 0) {
                ok = false;
                break;
            }
        }
    json_decref(o);
    return ok;
}

json_t *pol_json_loadb(const char *text, size_t len, size_t flags, json_error_t *err)
{
    struct scan s = {0};
    scan_escapes(text, len, note_escape, &s);
    if (!s.nul)
        return json_loadb(text, len, flags, err);
    size_t at;
    s.sentinel = 0;
    for (unsigned k = 0; k < 32 && !s.sentinel; k++)
        if (!(s.used & (UINT32_C(1) << k)) && !has_sentinel(text, len, 0xFDD0 + k, &at))
            s.sentinel = 0xFDD0 + k;
    memset(err, 0, sizeof *err);
    if (!s.sentinel) {
        snprintf(err->text, sizeof err->text, "NUL in a document that uses every character U+FDD0..U+FDEF");
        return NULL;
    }
    if (!(s.out = cu_malloc(len ? len : 1))) {
        snprintf(err->text, sizeof err->text, "out of memory");
        return NULL;
    }
    memcpy(s.out, text, len);
    scan_escapes(text, len, rewrite_escape, &s);
    json_t *root = json_loadb(s.out, len, flags, err);
    cu_free(s.out);
    if (root && !restore(root, s.sentinel, 0)) {
        json_decref(root);
        snprintf(err->text, sizeof err->text, "out of memory");
        return NULL;
    }
    return root;
}
