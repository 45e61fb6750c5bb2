/*
 * The Cedar policy parser: text to the compact form evaluated by eval.c.
 *
 * A hand-written lexer and a recursive-descent parser following Cedar's
 * grammar (Policy ::= {Annotation} Effect '(' Scope ')' {Condition} ';').
 * Everything it builds lives in the set's arena, so a failed parse frees
 * with one cu_arena_free and a successful one never allocates again.
 *
 * Invariants
 * 1. Nesting is counted on every recursive descent (NEST_COST levels each)
 *    and on every link of an operator or member chain; deeper than
 *    CU_POLICY_MAX_EXPR_DEPTH is a
 *    parse error, so neither this parser nor the evaluator (which recurses
 *    along the same tree) can overflow the stack.
 * 2. Every error names the line and column (1-based, columns in bytes) of
 *    the offending token, as "name:LINE:COL: message".
 * 3. Literal sets and records whose elements are all literals, entity
 *    literals and extension constructors of valid literal text are folded
 *    at parse time, so evaluation does not build them per request.
 * 4. Function and method names and their arity are checked here; only
 *    operand types are left to evaluation (Cedar's type errors).
 */
#include "policy_int.h"

#include <stdio.h>
#include <string.h>

enum tok {
    T_EOF, T_IDENT, T_STR, T_INT, T_LP, T_RP, T_LB, T_RB, T_LC, T_RC, T_COMMA, T_SEMI, T_DOT,
    T_COLON, T_DCOLON, T_AT, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_AND, T_OR, T_NOT, T_MINUS,
    T_PLUS, T_STAR, T_ASSIGN, T_QUESTION, T_BAD
};

typedef struct P {
    const char *s;
    size_t n, pos;
    int tk;
    size_t ts, te;   /* current token span */
    size_t prev_end; /* end of the previous token */
    uint64_t ival;   /* T_INT magnitude (up to 2^63) */
    bool ibig;       /* T_INT did not fit in 2^63 */
    cu_arena *a;
    const char *name;
    int depth;
    bool failed;
    /* attribute names met so far (`.name`), one string each: nodes reading
     * the same attribute share the pointer, which the evaluator's memo of
     * context.a (eval.c, nest_root) tests before the bytes.  Open
     * addressing; when full, further names are copied as they come. */
    const char *names[256];
    uint32_t name_lens[256];
} P;

/* The set's one copy of attribute name nm (NULL: out of memory). */
static const char *intern_name(P *p, const char *nm, size_t nl)
{
    size_t mask = sizeof p->names / sizeof p->names[0] - 1;
    for (size_t i = pol_hash(nm, nl, 0) & mask, k = 0; k <= mask; i = (i + 1) & mask, k++) {
        if (!p->names[i]) {
            p->names[i] = cu_arena_strndup(p->a, nm, nl);
            p->name_lens[i] = (uint32_t)nl;
            return p->names[i];
        }
        if (p->name_lens[i] == nl && memcmp(p->names[i], nm, nl) == 0)
            return p->names[i];
    }
    return cu_arena_strndup(p->a, nm, nl);
}

/* ------------------------------------------------------------- errors */

static void where(const char *s, size_t off, unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            l++;
            c = 1;
        } else
            c++;
    }
    *line = l;
    *col = c;
}

CU_PRINTF(3, 4) static void perr(P *p, size_t off, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned l, c;
    where(p->s, off, &l, &c);
    cu_err_set(CU_ERR_PARSE, "%s:%u:%u: %s", p->name, l, c, msg);
}

static void nomem(P *p)
{
    if (!p->failed) {
        p->failed = true;
        cu_err_set(CU_ERR_NOMEM, "%s: out of memory while parsing", p->name);
    }
}

static void *palloc(P *p, size_t n)
{
    void *r = cu_arena_alloc(p->a, n ? n : 1);
    if (!r)
        nomem(p);
    else
        memset(r, 0, n ? n : 1);
    return r;
}

/* -------------------------------------------------------------- lexer */

static bool is_id0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_id(char c) { return is_id0(c) || (c >= '0' && c <= '9'); }

static void next(P *p)
{
    if (p->failed) {
        p->tk = T_EOF;
        return;
    }
    p->prev_end = p->te;
    const char *s = p->s;
    size_t n = p->n, i = p->pos;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        break;
    }
    p->ts = i;
    if (i >= n) {
        p->tk = T_EOF;
        p->te = p->pos = i;
        return;
    }
    char c = s[i];
    int tk = T_BAD;
    size_t e = i + 1;
    if (is_id0(c)) {
        while (e < n && is_id(s[e]))
            e++;
        tk = T_IDENT;
    } else if (c >= '0' && c <= '9') {
        uint64_t v = 0;
        bool big = false;
        e = i;
        while (e < n && s[e] >= '0' && s[e] <= '9') {
            unsigned d = (unsigned)(s[e] - '0');
            if (v > (UINT64_C(9223372036854775808) - d) / 10)
                big = true;
            else
                v = v * 10 + d;
            e++;
        }
        p->ival = v;
        p->ibig = big;
        tk = T_INT;
    } else if (c == '"') {
        e = i + 1;
        while (e < n && s[e] != '"') {
            if (s[e] == '\\' && e + 1 < n)
                e++;
            e++;
        }
        if (e >= n) {
            perr(p, i, "unterminated string");
            p->tk = T_EOF;
            return;
        }
        e++;
        tk = T_STR;
    } else {
        char d = i + 1 < n ? s[i + 1] : 0;
        switch (c) {
        case '(': tk = T_LP; break;
        case ')': tk = T_RP; break;
        case '[': tk = T_LB; break;
        case ']': tk = T_RB; break;
        case '{': tk = T_LC; break;
        case '}': tk = T_RC; break;
        case ',': tk = T_COMMA; break;
        case ';': tk = T_SEMI; break;
        case '.': tk = T_DOT; break;
        case '@': tk = T_AT; break;
        case '+': tk = T_PLUS; break;
        case '*': tk = T_STAR; break;
        case '-': tk = T_MINUS; break;
        case '?': tk = T_QUESTION; break;
        case ':': if (d == ':') { tk = T_DCOLON; e++; } else tk = T_COLON; break;
        case '=': if (d == '=') { tk = T_EQ; e++; } else tk = T_ASSIGN; break;
        case '!': if (d == '=') { tk = T_NE; e++; } else tk = T_NOT; break;
        case '<': if (d == '=') { tk = T_LE; e++; } else tk = T_LT; break;
        case '>': if (d == '=') { tk = T_GE; e++; } else tk = T_GT; break;
        case '&': if (d == '&') { tk = T_AND; e++; } break;
        case '|': if (d == '|') { tk = T_OR; e++; } break;
        default: break;
        }
        if (tk == T_BAD) {
            perr(p, i, "unexpected character '%c'", (c >= 0x20 && c < 0x7f) ? c : '?');
            p->tk = T_EOF;
            return;
        }
    }
    p->tk = tk;
    p->te = p->pos = e;
}

static bool tok_is(const P *p, const char *kw)
{
    size_t l = strlen(kw);
    return p->tk == T_IDENT && p->te - p->ts == l && memcmp(p->s + p->ts, kw, l) == 0;
}

static const char *tok_name(int tk)
{
    static const char *names[] = {"end of input", "identifier", "string", "integer", "'('", "')'",
                                  "'['", "']'", "'{'", "'}'", "','", "';'", "'.'", "':'", "'::'",
                                  "'@'", "'=='", "'!='", "'<'", "'<='", "'>'", "'>='", "'&&'",
                                  "'||'", "'!'", "'-'", "'+'", "'*'", "'='", "'?'", "?"};
    return names[tk];
}

static void unexpected(P *p, const char *want)
{
    if (p->tk == T_IDENT || p->tk == T_STR || p->tk == T_INT)
        perr(p, p->ts, "expected %s, found '%.*s'", want, (int)(p->te - p->ts > 40 ? 40 : p->te - p->ts),
             p->s + p->ts);
    else
        perr(p, p->ts, "expected %s, found %s", want, tok_name(p->tk));
}

static bool expect(P *p, int tk)
{
    if (p->tk != tk) {
        unexpected(p, tok_name(tk));
        return false;
    }
    next(p);
    return true;
}

static bool is_reserved(const char *s, size_t n)
{
    static const char *kw[] = {"true", "false", "if", "then", "else", "in", "is", "like", "has", "__cedar"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strlen(kw[i]) == n && memcmp(kw[i], s, n) == 0)
            return true;
    return false;
}

/* Unescape the current string token.  In a pattern, "\*" becomes a star
 * marker: the byte 0 is never produced by \0 there; instead stars are
 * reported through *stars (positions) so that like can tell them apart. */
static char *unescape(P *p, uint32_t *len, bool pattern, uint32_t **stars, uint32_t *nstars)
{
    const char *s = p->s + p->ts + 1;
    size_t n = p->te - p->ts - 2;
    char *o = cu_arena_alloc(p->a, n + 1);
    uint32_t *st = NULL;
    if (pattern)
        st = cu_arena_alloc(p->a, sizeof *st * (n + 1));
    if (!o || (pattern && !st)) {
        nomem(p);
        return NULL;
    }
    size_t k = 0;
    uint32_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '*' && pattern) {
            st[ns++] = (uint32_t)k;
            continue;
        }
        if (c != '\\') {
            o[k++] = c;
            continue;
        }
        size_t at = p->ts + 1 + i;
        if (++i >= n) {
            perr(p, at, "bad escape in string");
            return NULL;
        }
        c = s[i];
        switch (c) {
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case '0': o[k++] = '\0'; break;
        case '\\': o[k++] = '\\'; break;
        case '\'': o[k++] = '\''; break;
        case '"': o[k++] = '"'; break;
        case '*':
            if (!pattern) {
                perr(p, at, "bad escape '\\*' in string");
                return NULL;
            }
            o[k++] = '*';
            break;
        case 'x': {
            if (i + 2 >= n + 0 && i + 2 > n) {
                perr(p, at, "bad \\x escape");
                return NULL;
            }
            int h1 = i + 1 < n ? (s[i + 1] >= '0' && s[i + 1] <= '7' ? s[i + 1] - '0' : -1) : -1;
            char c2 = i + 2 < n ? s[i + 2] : 0;
            int h2 = cu_hex_digit(c2);
            if (h1 < 0 || h2 < 0) {
                perr(p, at, "bad \\x escape");
                return NULL;
            }
            o[k++] = (char)(h1 * 16 + h2);
            i += 2;
            break;
        }
        case 'u': {
            if (i + 1 >= n || s[i + 1] != '{') {
                perr(p, at, "bad \\u escape");
                return NULL;
            }
            uint32_t cp = 0;
            size_t j = i + 2, digits = 0;
            while (j < n && s[j] != '}' && digits < 7) {
                char h = s[j];
                int v = cu_hex_digit(h);
                if (v < 0)
                    break;
                cp = cp * 16 + (uint32_t)v;
                j++;
                digits++;
            }
            if (j >= n || s[j] != '}' || digits == 0 || digits > 6 || cp > 0x10ffff ||
                (cp >= 0xd800 && cp <= 0xdfff)) {
                perr(p, at, "bad \\u escape");
                return NULL;
            }
            k += cu_utf8_encode(cp, o + k);
            i = j;
            break;
        }
        default:
            perr(p, at, "bad escape '\\%c' in string", (c >= 0x20 && c < 0x7f) ? c : '?');
            return NULL;
        }
    }
    o[k] = 0;
    *len = (uint32_t)k;
    if (stars) {
        *stars = st;
        *nstars = ns;
    }
    return o;
}

/* ------------------------------------------------------------- nodes */

static node *mk(P *p, int op, size_t start)
{
    node *x = palloc(p, sizeof *x);
    if (!x)
        return NULL;
    x->op = (uint8_t)op;
    x->start = (uint32_t)start;
    x->end = (uint32_t)p->prev_end;
    return x;
}

static node *mk2(P *p, int op, node *a, node *b)
{
    node *x = mk(p, op, a->start);
    if (!x)
        return NULL;
    x->kids = palloc(p, sizeof(node *) * 2);
    if (!x->kids)
        return NULL;
    x->kids[0] = a;
    x->kids[1] = b;
    x->nkids = b ? 2 : 1;
    x->end = (uint32_t)p->prev_end;
    return x;
}

static node *expr(P *p);

/* IDENT {'::' IDENT} ['::' STR]: returns the path text (idents joined by
 * "::") and, when it ends in a string, the unescaped id. */
static bool path(P *p, const char **text, uint32_t *tlen, const char **id, uint32_t *ilen, bool want_id)
{
    size_t start = p->ts;
    *id = NULL;
    for (;;) {
        if (p->tk != T_IDENT) {
            unexpected(p, "identifier");
            return false;
        }
        if (is_reserved(p->s + p->ts, p->te - p->ts)) {
            perr(p, p->ts, "'%.*s' is a reserved word", (int)(p->te - p->ts), p->s + p->ts);
            return false;
        }
        size_t end = p->te;
        next(p);
        if (p->tk != T_DCOLON) {
            if (want_id) {
                unexpected(p, "'::'");
                return false;
            }
            *tlen = (uint32_t)(end - start);
            *text = cu_arena_strndup(p->a, p->s + start, end - start);
            if (!*text)
                nomem(p);
            return !p->failed;
        }
        next(p);
        if (p->tk == T_STR) {
            if (!want_id) {
                perr(p, p->ts, "expected a type name, found an entity");
                return false;
            }
            *tlen = (uint32_t)(end - start);
            *text = cu_arena_strndup(p->a, p->s + start, end - start);
            if (!*text) {
                nomem(p);
                return false;
            }
            *id = unescape(p, ilen, false, NULL, NULL);
            if (!*id)
                return false;
            next(p);
            return true;
        }
    }
}

/* Normalise "A :: B" to "A::B" (whitespace between path parts). */
static void squeeze(char *t, uint32_t *len)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < *len; i++)
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\n' && t[i] != '\r')
            t[k++] = t[i];
    *len = k;
    t[k] = 0;
}

static const puid *entity_lit(P *p)
{
    const char *t, *id;
    uint32_t tl, il;
    if (!path(p, &t, &tl, &id, &il, true))
        return NULL;
    squeeze((char *)t, &tl);
    const puid *u = pol_uid_make(p->a, t, tl, id, il);
    if (!u)
        nomem(p);
    return u;
}

struct fninfo {
    const char *name;
    int fn;
    int nargs; /* besides the receiver for methods */
    bool method;
    bool ext;  /* an extension function: a wrong number of arguments is an
                  error when evaluated, not when parsed (Cedar) */
};

static const struct fninfo fns[] = {
    {"ip", FN_IP, 1, false, true},
    {"decimal", FN_DECIMAL, 1, false, true},
    {"datetime", FN_DATETIME, 1, false, true},
    {"duration", FN_DURATION, 1, false, true},
    {"contains", FN_CONTAINS, 1, true, false},
    {"containsAll", FN_CONTAINS_ALL, 1, true, false},
    {"containsAny", FN_CONTAINS_ANY, 1, true, false},
    {"isEmpty", FN_IS_EMPTY, 0, true, false},
    {"isIpv4", FN_IS_IPV4, 0, true, true},
    {"isIpv6", FN_IS_IPV6, 0, true, true},
    {"isLoopback", FN_IS_LOOPBACK, 0, true, true},
    {"isMulticast", FN_IS_MULTICAST, 0, true, true},
    {"isInRange", FN_IS_IN_RANGE, 1, true, true},
    {"lessThan", FN_LT, 1, true, true},
    {"lessThanOrEqual", FN_LE, 1, true, true},
    {"greaterThan", FN_GT, 1, true, true},
    {"greaterThanOrEqual", FN_GE, 1, true, true},
    {"hasTag", FN_HAS_TAG, 1, true, false},
    {"getTag", FN_GET_TAG, 1, true, false},
    {"offset", FN_OFFSET, 1, true, true},
    {"durationSince", FN_DURATION_SINCE, 1, true, true},
    {"toDate", FN_TO_DATE, 0, true, true},
    {"toTime", FN_TO_TIME, 0, true, true},
    {"toMilliseconds", FN_TO_MILLISECONDS, 0, true, true},
    {"toSeconds", FN_TO_SECONDS, 0, true, true},
    {"toMinutes", FN_TO_MINUTES, 0, true, true},
    {"toHours", FN_TO_HOURS, 0, true, true},
    {"toDays", FN_TO_DAYS, 0, true, true},
};

static const struct fninfo *find_fn(const char *s, size_t n, bool method)
{
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (fns[i].method == method && strlen(fns[i].name) == n && memcmp(fns[i].name, s, n) == 0)
            return &fns[i];
    return NULL;
}

/* '(' [Expr {',' Expr}] ')' into kids starting at slot `first`.  An
 * extension function given the wrong number becomes FN_ARITY (an error
 * when evaluated) with the first arguments it was given. */
static bool args(P *p, node *call, int first, const struct fninfo *f, size_t name_at)
{
    int want = f->nargs;
    const char *fname = f->name;
    node *tmp[8];
    int n = 0;
    if (!expect(p, T_LP))
        return false;
    if (p->tk != T_RP) {
        for (;;) {
            node *e = expr(p);
            if (!e)
                return false;
            if (n < 8)
                tmp[n] = e;
            n++;
            if (p->tk != T_COMMA)
                break;
            next(p);
            if (p->tk == T_RP)
                break; /* a trailing comma */
        }
    }
    if (!expect(p, T_RP))
        return false;
    if (n != want && f->ext) {
        call->fn = FN_ARITY;
        n = n > 8 ? 8 : n;
    } else if (n != want) {
        perr(p, name_at, "%s takes %d argument%s, %d given", fname, want, want == 1 ? "" : "s", n);
        return false;
    }
    call->nkids = (uint32_t)(first + n);
    call->kids = palloc(p, sizeof(node *) * (call->nkids ? call->nkids : 1));
    if (!call->kids)
        return false;
    for (int i = 0; i < n; i++)
        call->kids[first + i] = tmp[i];
    return true;
}

/* Fold constant set/record/constructor nodes into literals (invariant 3). */
static void fold(P *p, node *x)
{
    for (uint32_t i = 0; i < x->nkids; i++)
        if (x->kids[i]->op != N_LIT)
            return;
    if (x->op == N_SET) {
        pval *v = palloc(p, sizeof *v * (x->nkids ? x->nkids : 1));
        if (!v)
            return;
        for (uint32_t i = 0; i < x->nkids; i++)
            v[i] = x->kids[i]->lit;
        x->lit.kind = PV_SET;
        x->lit.u.set.v = v;
        x->lit.u.set.n = x->nkids;
        x->op = N_LIT;
    } else if (x->op == N_RECORD) {
        pfield *f = palloc(p, sizeof *f * (x->nkids ? x->nkids : 1));
        if (!f)
            return;
        for (uint32_t i = 0; i < x->nkids; i++) {
            f[i].key = x->keys[i];
            f[i].klen = x->klens[i];
            f[i].v = x->kids[i]->lit;
        }
        pol_rec_sort(f, x->nkids); /* duplicates were refused when parsed */
        x->lit.kind = PV_RECORD;
        x->lit.u.rec.f = f;
        x->lit.u.rec.n = x->nkids;
        x->op = N_LIT;
    } else if (x->op == N_CALL && (x->fn == FN_DATETIME || x->fn == FN_DURATION)) {
        const pval *a = &x->kids[0]->lit;
        int64_t ms;
        if (a->kind != PV_STR || !(x->fn == FN_DATETIME ? pol_datetime_parse(a->u.s.p, a->u.s.n, &ms)
                                                       : pol_duration_parse(a->u.s.p, a->u.s.n, &ms)))
            return; /* an error at evaluation, as in Cedar */
        x->lit.kind = x->fn == FN_DATETIME ? PV_DATETIME : PV_DURATION;
        x->lit.u.l = ms;
        x->op = N_LIT;
    } else if (x->op == N_CALL && (x->fn == FN_IP || x->fn == FN_DECIMAL)) {
        const pval *a = &x->kids[0]->lit;
        if (a->kind != PV_STR)
            return;
        if (x->fn == FN_IP) {
            pip ip;
            if (!pol_ip_parse(a->u.s.p, a->u.s.n, &ip))
                return; /* an error at evaluation, as in Cedar */
            x->lit.kind = PV_IP;
            x->lit.u.ip = ip;
        } else {
            int64_t d;
            if (!pol_decimal_parse(a->u.s.p, a->u.s.n, &d))
                return;
            x->lit.kind = PV_DECIMAL;
            x->lit.u.l = d;
        }
        x->op = N_LIT;
    }
}

/* Every level of the tree the evaluator will recurse through counts: nested
 * parentheses, and each link of an operator or member chain (a && b && c
 * is a left spine of depth 3). */
static bool enter(P *p)
{
    if (++p->depth > CU_POLICY_MAX_EXPR_DEPTH) {
        perr(p, p->ts, "expression nested deeper than %d levels", CU_POLICY_MAX_EXPR_DEPTH);
        return false;
    }
    return true;
}

static node *primary(P *p)
{
    size_t st = p->ts;
    node *x = NULL;
    switch (p->tk) {
    case T_INT:
        if (p->ibig || p->ival > INT64_MAX) {
            perr(p, st, "integer literal out of range");
            return NULL;
        }
        x = mk(p, N_LIT, st);
        if (!x)
            return NULL;
        x->lit.kind = PV_LONG;
        x->lit.u.l = (int64_t)p->ival;
        next(p);
        break;
    case T_STR: {
        uint32_t len;
        const char *s = unescape(p, &len, false, NULL, NULL);
        if (!s)
            return NULL;
        next(p);
        x = mk(p, N_LIT, st);
        if (!x)
            return NULL;
        x->lit.kind = PV_STR;
        x->lit.u.s.p = s;
        x->lit.u.s.n = len;
        break;
    }
    case T_LP:
        next(p);
        x = expr(p);
        if (!x || !expect(p, T_RP))
            return NULL;
        /* keep the parentheses in the source span */
        x->start = (uint32_t)st;
        x->end = (uint32_t)p->prev_end;
        break;
    case T_LB: {
        next(p);
        node *tmp[64];
        node **items = tmp;
        uint32_t n = 0, cap = 64;
        if (p->tk != T_RB) {
            for (;;) {
                node *e = expr(p);
                if (!e)
                    return NULL;
                if (n == cap) {
                    node **bigger = palloc(p, sizeof(node *) * cap * 2);
                    if (!bigger)
                        return NULL;
                    memcpy(bigger, items, sizeof(node *) * n);
                    items = bigger;
                    cap *= 2;
                }
                items[n++] = e;
                if (p->tk != T_COMMA)
                    break;
                next(p);
                if (p->tk == T_RB)
                    break; /* a trailing comma */
            }
        }
        if (!expect(p, T_RB))
            return NULL;
        x = mk(p, N_SET, st);
        if (!x)
            return NULL;
        x->kids = palloc(p, sizeof(node *) * (n ? n : 1));
        if (!x->kids)
            return NULL;
        memcpy(x->kids, items, sizeof(node *) * n);
        x->nkids = n;
        fold(p, x);
        break;
    }
    case T_LC: {
        next(p);
        uint32_t n = 0, cap = 8;
        node **kids = palloc(p, sizeof(node *) * cap);
        const char **keys = palloc(p, sizeof(char *) * cap);
        uint32_t *klens = palloc(p, sizeof(uint32_t) * cap);
        if (!kids || !keys || !klens)
            return NULL;
        if (p->tk != T_RC) {
            for (;;) {
                size_t kat = p->ts;
                const char *k;
                uint32_t kl;
                if (p->tk == T_STR) {
                    k = unescape(p, &kl, false, NULL, NULL);
                    if (!k)
                        return NULL;
                } else if (p->tk == T_IDENT) {
                    if (is_reserved(p->s + p->ts, p->te - p->ts)) {
                        perr(p, p->ts, "'%.*s' is a reserved word", (int)(p->te - p->ts), p->s + p->ts);
                        return NULL;
                    }
                    kl = (uint32_t)(p->te - p->ts);
                    k = cu_arena_strndup(p->a, p->s + p->ts, kl);
                    if (!k) {
                        nomem(p);
                        return NULL;
                    }
                } else {
                    unexpected(p, "a record key");
                    return NULL;
                }
                next(p);
                if (!expect(p, T_COLON))
                    return NULL;
                node *e = expr(p);
                if (!e)
                    return NULL;
                for (uint32_t i = 0; i < n; i++)
                    if (klens[i] == kl && memcmp(keys[i], k, kl) == 0) {
                        perr(p, kat, "duplicate key \"%s\" in record", k);
                        return NULL;
                    }
                if (n == cap) {
                    node **k2 = palloc(p, sizeof(node *) * cap * 2);
                    const char **s2 = palloc(p, sizeof(char *) * cap * 2);
                    uint32_t *l2 = palloc(p, sizeof(uint32_t) * cap * 2);
                    if (!k2 || !s2 || !l2)
                        return NULL;
                    memcpy(k2, kids, sizeof(node *) * n);
                    memcpy(s2, keys, sizeof(char *) * n);
                    memcpy(l2, klens, sizeof(uint32_t) * n);
                    kids = k2;
                    keys = s2;
                    klens = l2;
                    cap *= 2;
                }
                kids[n] = e;
                keys[n] = k;
                klens[n] = kl;
                n++;
                if (p->tk != T_COMMA)
                    break;
                next(p);
                if (p->tk == T_RC)
                    break; /* a trailing comma */
            }
        }
        if (!expect(p, T_RC))
            return NULL;
        x = mk(p, N_RECORD, st);
        if (!x)
            return NULL;
        x->kids = kids;
        x->keys = keys;
        x->klens = klens;
        x->nkids = n;
        fold(p, x);
        break;
    }
    case T_IDENT: {
        size_t l = p->te - p->ts;
        const char *s = p->s + p->ts;
        static const char *vars[] = {"principal", "action", "resource", "context"};
        for (int v = 0; v < 4; v++)
            if (strlen(vars[v]) == l && memcmp(vars[v], s, l) == 0) {
                next(p);
                if (p->tk == T_DCOLON) {
                    perr(p, st, "'%s' cannot be used as a type name", vars[v]);
                    return NULL;
                }
                x = mk(p, N_VAR, st);
                if (x)
                    x->var = (uint8_t)v;
                return x;
            }
        if (tok_is(p, "true") || tok_is(p, "false")) {
            bool b = tok_is(p, "true");
            next(p);
            x = mk(p, N_LIT, st);
            if (x) {
                x->lit.kind = PV_BOOL;
                x->lit.u.b = b;
            }
            return x;
        }
        if (is_reserved(s, l)) {
            perr(p, st, "unexpected '%.*s'", (int)l, s);
            return NULL;
        }
        /* a function call or an entity literal */
        size_t save_pos = p->pos, save_te = p->te, save_prev = p->prev_end;
        next(p);
        if (p->tk == T_LP) {
            const struct fninfo *f = find_fn(s, l, false);
            if (!f) {
                perr(p, st, "unknown function '%.*s'", (int)l, s);
                return NULL;
            }
            x = mk(p, N_CALL, st);
            if (!x)
                return NULL;
            x->fn = (uint8_t)f->fn;
            if (!args(p, x, 0, f, st))
                return NULL;
            x->end = (uint32_t)p->prev_end;
            fold(p, x);
            return x;
        }
        /* rewind to the identifier and read a path */
        p->pos = save_pos;
        p->te = save_te;
        p->prev_end = save_prev;
        p->ts = st;
        p->tk = T_IDENT;
        {
            const puid *u = entity_lit(p);
            if (!u)
                return NULL;
            x = mk(p, N_LIT, st);
            if (!x)
                return NULL;
            x->lit.kind = PV_ENTITY;
            x->lit.u.e = u;
        }
        break;
    }
    case T_QUESTION:
        perr(p, st, "templates (slots such as ?principal) are not supported");
        return NULL;
    default:
        unexpected(p, "an expression");
        return NULL;
    }
    return x;
}

static node *member(P *p)
{
    size_t st = p->ts;
    node *x = primary(p);
    int links = 0;
    while (x && !p->failed) {
        if (p->tk == T_DOT || p->tk == T_LB) {
            if (!enter(p))
                return NULL;
            links++;
        }
        if (p->tk == T_DOT) {
            next(p);
            if (p->tk != T_IDENT) {
                unexpected(p, "an attribute or method name");
                return NULL;
            }
            size_t nat = p->ts;
            const char *nm = p->s + p->ts;
            size_t nl = p->te - p->ts;
            if (is_reserved(nm, nl)) {
                perr(p, nat, "'%.*s' is a reserved word", (int)nl, nm);
                return NULL;
            }
            next(p);
            if (p->tk == T_LP) {
                const struct fninfo *f = find_fn(nm, nl, true);
                if (!f) {
                    perr(p, nat, "unknown method '%.*s'", (int)nl, nm);
                    return NULL;
                }
                node *c = mk(p, N_CALL, st);
                if (!c)
                    return NULL;
                c->fn = (uint8_t)f->fn;
                if (!args(p, c, 1, f, nat))
                    return NULL;
                c->kids[0] = x;
                c->end = (uint32_t)p->prev_end;
                x = c;
            } else {
                node *a = mk2(p, N_ATTR, x, NULL);
                if (!a)
                    return NULL;
                a->start = (uint32_t)st;
                a->name = intern_name(p, nm, nl);
                a->nlen = (uint32_t)nl;
                if (!a->name) {
                    nomem(p);
                    return NULL;
                }
                x = a;
            }
        } else if (p->tk == T_LB) {
            next(p);
            if (p->tk != T_STR) {
                unexpected(p, "a string attribute name");
                return NULL;
            }
            uint32_t nl;
            const char *nm = unescape(p, &nl, false, NULL, NULL);
            if (!nm)
                return NULL;
            next(p);
            if (!expect(p, T_RB))
                return NULL;
            node *a = mk2(p, N_ATTR, x, NULL);
            if (!a)
                return NULL;
            a->start = (uint32_t)st;
            a->name = nm;
            a->nlen = nl;
            x = a;
        } else
            break;
    }
    p->depth -= links;
    return p->failed ? NULL : x;
}

static node *unary(P *p)
{
    size_t st = p->ts;
    int ops[5];
    int nops = 0;
    while (p->tk == T_NOT || p->tk == T_MINUS) {
        if (nops == 4) {
            perr(p, p->ts, "too many unary operators in a row (at most 4)");
            return NULL;
        }
        ops[nops++] = p->tk;
        next(p);
    }
    node *x;
    /* "-<integer>" is a literal, so that the minimum long can be written */
    if (nops > 0 && ops[nops - 1] == T_MINUS && p->tk == T_INT) {
        size_t ist = p->ts;
        uint64_t v = p->ival;
        bool big = p->ibig;
        size_t save_pos = p->pos, save_te = p->te, save_prev = p->prev_end;
        next(p);
        if (p->tk == T_DOT || p->tk == T_LB) {
            /* "-1.foo": the minus applies to the member expression */
            p->pos = save_pos;
            p->te = save_te;
            p->prev_end = save_prev;
            p->ts = ist;
            p->tk = T_INT;
            p->ival = v;
            p->ibig = big;
            x = member(p);
        } else {
            if (big || v > UINT64_C(9223372036854775808)) {
                perr(p, ist, "integer literal out of range");
                return NULL;
            }
            x = mk(p, N_LIT, ops[nops - 1] == T_MINUS ? ist - 1 : ist);
            if (!x)
                return NULL;
            x->start = (uint32_t)st;
            x->lit.kind = PV_LONG;
            x->lit.u.l = v == UINT64_C(9223372036854775808) ? INT64_MIN : -(int64_t)v;
            nops--;
        }
    } else
        x = member(p);
    if (!x)
        return NULL;
    while (nops > 0) {
        node *u = mk2(p, ops[--nops] == T_NOT ? N_NOT : N_NEG, x, NULL);
        if (!u)
            return NULL;
        u->start = (uint32_t)st;
        x = u;
    }
    return x;
}

/* A left-associative chain `sub (op sub)*`, op_of giving the node of a
 * token (-1: not this chain's).  Each link is one level of nesting, since
 * the evaluator recurses along it; the levels are released once the chain
 * ends. */
static node *chain(P *p, node *(*sub)(P *), int (*op_of)(int tk))
{
    node *x = sub(p);
    int links = 0, op;
    while (x && (op = op_of(p->tk)) >= 0) {
        if (!enter(p))
            return NULL;
        links++;
        next(p);
        node *y = sub(p);
        if (!y)
            return NULL;
        x = mk2(p, op, x, y);
    }
    p->depth -= links;
    return x;
}

static int op_mul(int tk) { return tk == T_STAR ? N_MUL : -1; }
static int op_add(int tk) { return tk == T_PLUS ? N_ADD : tk == T_MINUS ? N_SUB : -1; }
static int op_and(int tk) { return tk == T_AND ? N_AND : -1; }
static int op_or(int tk) { return tk == T_OR ? N_OR : -1; }

static node *mult(P *p) { return chain(p, unary, op_mul); }

static node *add(P *p) { return chain(p, mult, op_add); }

static ppat *pattern(P *p)
{
    uint32_t len, *stars, nstars;
    char *s = unescape(p, &len, true, &stars, &nstars);
    if (!s)
        return NULL;
    ppat *pt = palloc(p, sizeof *pt);
    if (!pt)
        return NULL;
    pt->nseg = nstars + 1;
    pt->seg = palloc(p, sizeof(char *) * pt->nseg);
    pt->seglen = palloc(p, sizeof(uint32_t) * pt->nseg);
    if (!pt->seg || !pt->seglen)
        return NULL;
    uint32_t from = 0;
    for (uint32_t i = 0; i <= nstars; i++) {
        uint32_t to = i < nstars ? stars[i] : len;
        pt->seg[i] = s + from;
        pt->seglen[i] = to - from;
        from = to;
    }
    return pt;
}

static node *relation(P *p)
{
    node *x = add(p);
    if (!x)
        return NULL;
    int op = -1;
    switch (p->tk) {
    case T_EQ: op = N_EQ; break;
    case T_NE: op = N_NE; break;
    case T_LT: op = N_LT; break;
    case T_LE: op = N_LE; break;
    case T_GT: op = N_GT; break;
    case T_GE: op = N_GE; break;
    case T_ASSIGN:
        perr(p, p->ts, "'=' is not an operator (did you mean '=='?)");
        return NULL;
    default:
        break;
    }
    if (op < 0 && tok_is(p, "in"))
        op = N_IN;
    if (op >= 0) {
        next(p);
        node *y = add(p);
        if (!y)
            return NULL;
        return mk2(p, op, x, y);
    }
    if (tok_is(p, "has")) {
        next(p);
        node *h = mk2(p, N_HAS, x, NULL);
        if (!h)
            return NULL;
        const char *names[CU_POLICY_MAX_DEPTH];
        uint32_t lens[CU_POLICY_MAX_DEPTH];
        uint32_t n = 0;
        if (p->tk == T_STR) {
            names[0] = unescape(p, &lens[0], false, NULL, NULL);
            if (!names[0])
                return NULL;
            n = 1;
            next(p);
        } else {
            for (;;) {
                if (p->tk != T_IDENT) {
                    unexpected(p, "an attribute name");
                    return NULL;
                }
                if (n == CU_POLICY_MAX_DEPTH) {
                    perr(p, p->ts, "attribute path too long");
                    return NULL;
                }
                if (is_reserved(p->s + p->ts, p->te - p->ts)) {
                    perr(p, p->ts, "'%.*s' is a reserved word", (int)(p->te - p->ts), p->s + p->ts);
                    return NULL;
                }
                lens[n] = (uint32_t)(p->te - p->ts);
                names[n] = cu_arena_strndup(p->a, p->s + p->ts, lens[n]);
                if (!names[n]) {
                    nomem(p);
                    return NULL;
                }
                n++;
                next(p);
                if (p->tk != T_DOT)
                    break;
                next(p);
            }
        }
        h->path = palloc(p, sizeof(char *) * n);
        h->plens = palloc(p, sizeof(uint32_t) * n);
        if (!h->path || !h->plens)
            return NULL;
        memcpy(h->path, names, sizeof(char *) * n);
        memcpy(h->plens, lens, sizeof(uint32_t) * n);
        h->npath = n;
        h->name = names[0];
        h->nlen = lens[0];
        h->end = (uint32_t)p->prev_end;
        return h;
    }
    if (tok_is(p, "like")) {
        next(p);
        if (p->tk != T_STR) {
            unexpected(p, "a pattern string");
            return NULL;
        }
        ppat *pt = pattern(p);
        if (!pt)
            return NULL;
        next(p);
        node *l = mk2(p, N_LIKE, x, NULL);
        if (l)
            l->pat = pt;
        return l;
    }
    if (tok_is(p, "is")) {
        next(p);
        const char *t, *id;
        uint32_t tl, il;
        if (!path(p, &t, &tl, &id, &il, false))
            return NULL;
        squeeze((char *)t, &tl);
        node *in = NULL;
        if (tok_is(p, "in")) {
            next(p);
            in = add(p);
            if (!in)
                return NULL;
        }
        node *i = mk2(p, N_IS, x, in);
        if (i) {
            i->name = t;
            i->nlen = tl;
        }
        return i;
    }
    return x;
}

static node *and_expr(P *p) { return chain(p, relation, op_and); }

static node *or_expr(P *p) { return chain(p, and_expr, op_or); }

/* A nested expression (parentheses, a set or record element, an argument, a
 * branch) is parsed through a dozen routines before the next primary, so it
 * costs NEST_COST levels of the budget: 512 / 8 = 64 nested expressions, far
 * more than any policy writes, and a stack of a few hundred frames even in
 * sanitizer builds (at one level each, 512 parentheses overflowed the 8 MiB
 * stack of a fuzzing build). Operator and member chains still cost one level
 * a link: they loop here and recurse only in the evaluator. */
#define NEST_COST 8

static node *expr(P *p)
{
    p->depth += NEST_COST - 1;
    if (!enter(p))
        return NULL;
    node *x;
    if (tok_is(p, "if")) {
        size_t st = p->ts;
        next(p);
        node *c = expr(p);
        if (!c)
            return NULL;
        if (!tok_is(p, "then")) {
            unexpected(p, "'then'");
            return NULL;
        }
        next(p);
        node *t = expr(p);
        if (!t)
            return NULL;
        if (!tok_is(p, "else")) {
            unexpected(p, "'else'");
            return NULL;
        }
        next(p);
        node *e = expr(p);
        if (!e)
            return NULL;
        x = mk(p, N_IF, st);
        if (!x)
            return NULL;
        x->kids = palloc(p, sizeof(node *) * 3);
        if (!x->kids)
            return NULL;
        x->kids[0] = c;
        x->kids[1] = t;
        x->kids[2] = e;
        x->nkids = 3;
    } else
        x = or_expr(p);
    p->depth -= NEST_COST;
    return p->failed ? NULL : x;
}

/* ------------------------------------------------------------- scope */

static bool is_action_type(const puid *u)
{
    return (u->tlen == 6 && memcmp(u->type, "Action", 6) == 0) ||
           (u->tlen > 8 && memcmp(u->type + u->tlen - 8, "::Action", 8) == 0);
}

static bool scope_part(P *p, int which, pscope *sc)
{
    static const char *vars[] = {"principal", "action", "resource"};
    if (!tok_is(p, vars[which])) {
        unexpected(p, vars[which]);
        return false;
    }
    next(p);
    sc->kind = SC_ANY;
    if (p->tk == T_EQ) {
        next(p);
        if (p->tk == T_QUESTION) {
            perr(p, p->ts, "templates (slots such as ?%s) are not supported", vars[which]);
            return false;
        }
        size_t at = p->ts;
        sc->uid = entity_lit(p);
        if (!sc->uid)
            return false;
        if (which == 1 && !is_action_type(sc->uid)) {
            perr(p, at, "the action scope needs an entity of type Action");
            return false;
        }
        sc->kind = SC_EQ;
    } else if (tok_is(p, "in")) {
        next(p);
        if (p->tk == T_QUESTION) {
            perr(p, p->ts, "templates (slots such as ?%s) are not supported", vars[which]);
            return false;
        }
        if (which == 1 && p->tk == T_LB) {
            next(p);
            const puid *tmp[256];
            uint32_t n = 0;
            if (p->tk != T_RB) {
                for (;;) {
                    size_t at = p->ts;
                    const puid *u = entity_lit(p);
                    if (!u)
                        return false;
                    if (!is_action_type(u)) {
                        perr(p, at, "the action scope needs entities of type Action");
                        return false;
                    }
                    if (n == 256) {
                        perr(p, at, "too many actions in the scope (at most 256)");
                        return false;
                    }
                    tmp[n++] = u;
                    if (p->tk != T_COMMA)
                        break;
                    next(p);
                }
            }
            if (!expect(p, T_RB))
                return false;
            sc->uids = palloc(p, sizeof(puid *) * (n ? n : 1));
            if (!sc->uids)
                return false;
            memcpy(sc->uids, tmp, sizeof(puid *) * n);
            sc->nuids = n;
            sc->kind = SC_IN_SET;
        } else {
            size_t at = p->ts;
            if (p->tk != T_IDENT) {
                unexpected(p, "an entity");
                return false;
            }
            sc->uid = entity_lit(p);
            if (!sc->uid)
                return false;
            if (which == 1 && !is_action_type(sc->uid)) {
                perr(p, at, "the action scope needs an entity of type Action");
                return false;
            }
            sc->kind = SC_IN;
        }
    } else if (tok_is(p, "is") && which != 1) {
        next(p);
        const char *t, *id;
        uint32_t tl, il;
        if (!path(p, &t, &tl, &id, &il, false))
            return false;
        squeeze((char *)t, &tl);
        sc->type = t;
        sc->tlen = tl;
        sc->kind = SC_IS;
        if (tok_is(p, "in")) {
            next(p);
            if (p->tk == T_QUESTION) {
                perr(p, p->ts, "templates are not supported");
                return false;
            }
            if (p->tk != T_IDENT) {
                unexpected(p, "an entity");
                return false;
            }
            sc->uid = entity_lit(p);
            if (!sc->uid)
                return false;
            sc->kind = SC_IS_IN;
        }
    }
    return !p->failed;
}

/* ------------------------------------------------------------ policies */

static void conjuncts(P *p, pcond *c)
{
    /* count, then fill, the left-to-right operands of a top-level && chain */
    uint32_t n = 1;
    for (node *x = c->expr; x->op == N_AND; x = x->kids[0])
        n++;
    c->conj = palloc(p, sizeof(node *) * n);
    if (!c->conj)
        return;
    c->nconj = n;
    node *x = c->expr;
    for (uint32_t i = n; i-- > 1; x = x->kids[0])
        c->conj[i] = x->kids[1];
    c->conj[0] = x;
}

static bool parse_policy(P *p, policy *pol, uint32_t index)
{
    const char *keys[64], *vals[64];
    uint32_t nann = 0;
    size_t st = p->ts;
    while (p->tk == T_AT) {
        next(p);
        if (p->tk != T_IDENT) {
            unexpected(p, "an annotation name");
            return false;
        }
        size_t kat = p->ts;
        const char *k = cu_arena_strndup(p->a, p->s + p->ts, p->te - p->ts);
        if (!k) {
            nomem(p);
            return false;
        }
        next(p);
        const char *v = "";
        if (p->tk == T_LP) {
            next(p);
            if (p->tk != T_STR) {
                unexpected(p, "a string");
                return false;
            }
            uint32_t vl;
            v = unescape(p, &vl, false, NULL, NULL);
            if (!v)
                return false;
            next(p);
            if (!expect(p, T_RP))
                return false;
        }
        for (uint32_t i = 0; i < nann; i++)
            if (strcmp(keys[i], k) == 0) {
                perr(p, kat, "duplicate annotation @%s", k);
                return false;
            }
        if (nann == 64) {
            perr(p, kat, "too many annotations (at most 64)");
            return false;
        }
        keys[nann] = k;
        vals[nann] = v;
        nann++;
    }
    unsigned l, c;
    where(p->s, p->ts, &l, &c);
    pol->line = l;
    pol->col = c;
    (void)st;
    if (tok_is(p, "permit"))
        pol->forbid = false;
    else if (tok_is(p, "forbid"))
        pol->forbid = true;
    else {
        unexpected(p, "'permit' or 'forbid'");
        return false;
    }
    next(p);
    if (!expect(p, T_LP))
        return false;
    for (int w = 0; w < 3; w++) {
        if (w > 0 && !expect(p, T_COMMA))
            return false;
        if (!scope_part(p, w, &pol->sc[w]))
            return false;
    }
    if (p->tk == T_COMMA) {
        next(p);
        if (p->tk != T_RP) {
            unexpected(p, "')'");
            return false;
        }
    }
    if (!expect(p, T_RP))
        return false;
    pcond conds[64];
    uint32_t nc = 0;
    while (tok_is(p, "when") || tok_is(p, "unless")) {
        if (nc == 64) {
            perr(p, p->ts, "too many conditions (at most 64)");
            return false;
        }
        conds[nc].unless = tok_is(p, "unless");
        next(p);
        if (!expect(p, T_LC))
            return false;
        if (p->tk == T_RC) {
            perr(p, p->ts, "empty condition");
            return false;
        }
        conds[nc].expr = expr(p);
        if (!conds[nc].expr || !expect(p, T_RC))
            return false;
        conjuncts(p, &conds[nc]);
        nc++;
    }
    if (p->tk != T_SEMI) {
        unexpected(p, "';' or a 'when'/'unless' condition");
        return false;
    }
    next(p);
    pol->conds = palloc(p, sizeof(pcond) * (nc ? nc : 1));
    pol->ann_keys = palloc(p, sizeof(char *) * (nann ? nann : 1));
    pol->ann_vals = palloc(p, sizeof(char *) * (nann ? nann : 1));
    if (!pol->conds || !pol->ann_keys || !pol->ann_vals)
        return false;
    memcpy(pol->conds, conds, sizeof(pcond) * nc);
    pol->nconds = nc;
    memcpy(pol->ann_keys, keys, sizeof(char *) * nann);
    memcpy(pol->ann_vals, vals, sizeof(char *) * nann);
    pol->nann = nann;
    pol->id = NULL;
    for (uint32_t i = 0; i < nann; i++) {
        if (strcmp(keys[i], "id") == 0)
            pol->id = vals[i];
        else if (strcmp(keys[i], "reason") == 0)
            pol->reason = vals[i];
    }
    if (!pol->id) {
        char buf[32];
        snprintf(buf, sizeof buf, "policy%u", index);
        pol->id = cu_arena_strndup(p->a, buf, strlen(buf));
        if (!pol->id) {
            nomem(p);
            return false;
        }
    }
    return !p->failed;
}

/* ------------------------------------------------------------- index */

static pidx_ent *idx_slot(pidx *x, uint64_t h, const puid *u, const char *t, uint32_t tl)
{
    size_t mask = x->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        pidx_ent *s = &x->slots[i];
        if (!s->pols && !s->cap)
            return s;
        if (s->hash == h && ((u && s->uid && pol_uid_eq(u, s->uid)) ||
                             (!u && !s->uid && s->tlen == tl && memcmp(s->type, t, tl) == 0)))
            return s;
    }
}

static uint64_t type_key_hash(const char *t, uint32_t tl)
{
    return pol_hash(t, tl, 0x5bd1e995) ^ 0x9e3779b97f4a7c15ull;
}

static bool idx_push(P *p, uint32_t **arr, uint32_t *n, uint32_t *cap, uint32_t v)
{
    if (*n && (*arr)[*n - 1] == v)
        return true;
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 4;
        uint32_t *na = palloc(p, sizeof(uint32_t) * nc);
        if (!na)
            return false;
        if (*n)
            memcpy(na, *arr, sizeof(uint32_t) * *n);
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = v;
    return true;
}

static bool idx_add(P *p, pidx *x, const puid *u, const char *t, uint32_t tl, uint32_t pol)
{
    uint64_t h = u ? u->hash : type_key_hash(t, tl);
    pidx_ent *s = idx_slot(x, h, u, t, tl);
    if (!s->cap) {
        s->hash = h;
        s->uid = u;
        s->type = t;
        s->tlen = tl;
        x->count++;
    }
    return idx_push(p, &s->pols, &s->n, &s->cap, pol);
}

static bool build_index(P *p, cu_policy_set *set)
{
    for (int w = 0; w < 3; w++) {
        pidx *x = &set->idx[w];
        size_t keys = 0;
        for (uint32_t i = 0; i < set->n; i++)
            keys += set->pols[i].sc[w].kind == SC_IN_SET ? set->pols[i].sc[w].nuids : 1;
        x->cap = 16;
        while (x->cap < keys * 2 + 16)
            x->cap *= 2;
        x->slots = palloc(p, sizeof(pidx_ent) * x->cap);
        if (!x->slots)
            return false;
        for (uint32_t i = 0; i < set->n; i++) {
            const pscope *sc = &set->pols[i].sc[w];
            bool ok = true;
            switch (sc->kind) {
            case SC_ANY:
                ok = idx_push(p, &x->any, &x->nany, &x->capany, i);
                break;
            case SC_EQ:
            case SC_IN:
            case SC_IS_IN:
                ok = idx_add(p, x, sc->uid, NULL, 0, i);
                break;
            case SC_IS:
                ok = idx_add(p, x, NULL, sc->type, sc->tlen, i);
                break;
            case SC_IN_SET:
                for (uint32_t k = 0; k < sc->nuids && ok; k++)
                    ok = idx_add(p, x, sc->uids[k], NULL, 0, i);
                break;
            }
            if (!ok)
                return false;
        }
    }
    /* Marking a request's candidates ORs whole words for the lists that
     * cover many policies (the unconstrained ones, `is Officer`, ...). */
    uint32_t words = (set->n + 63) / 64;
    if (!(set->is_in = palloc(p, sizeof(uint64_t) * (words ? words : 1))))
        return false;
    memset(set->is_in, 0, sizeof(uint64_t) * (words ? words : 1));
    for (uint32_t i = 0; i < set->n; i++)
        for (int w = 0; w < 3; w++)
            if (set->pols[i].sc[w].kind == SC_IS_IN)
                set->is_in[i >> 6] |= UINT64_C(1) << (i & 63);
    for (int w = 0; w < 3; w++) {
        pidx *x = &set->idx[w];
        if (x->nany) {
            if (!(x->anybits = palloc(p, sizeof(uint64_t) * words)))
                return false;
            for (uint32_t i = 0; i < x->nany; i++)
                x->anybits[x->any[i] >> 6] |= UINT64_C(1) << (x->any[i] & 63);
        }
        for (size_t k = 0; k < x->cap; k++) {
            pidx_ent *e = &x->slots[k];
            if (!e->cap || e->n < words * 2)
                continue;
            if (!(e->bits = palloc(p, sizeof(uint64_t) * words)) || !(e->abits = palloc(p, sizeof(uint64_t) * words)))
                return false;
            for (uint32_t i = 0; i < e->n; i++) {
                e->bits[e->pols[i] >> 6] |= UINT64_C(1) << (e->pols[i] & 63);
                if (set->pols[e->pols[i]].sc[w].kind != SC_EQ)
                    e->abits[e->pols[i] >> 6] |= UINT64_C(1) << (e->pols[i] & 63);
            }
        }
    }
    return true;
}

/* --------------------------------------------------------------- API */

/* The folded text of every permit's top-level conjuncts and unless
 * conditions, made once with the set: an explanation names one of them
 * (eval.c), and a deny is common enough not to fold text per answer. */
static bool explain_texts(cu_policy_set *set)
{
    for (uint32_t i = 0; i < set->n; i++) {
        const policy *p = &set->pols[i];
        if (p->forbid)
            continue;
        for (uint32_t c = 0; c < p->nconds; c++) {
            pcond *cd = &p->conds[c];
            node *const *u = cd->unless ? &cd->expr : cd->conj;
            uint32_t nu = cd->unless ? 1 : cd->nconj;
            for (uint32_t k = 0; k < nu; k++)
                if (!(u[k]->text = pol_node_text(set->arena, set->src, u[k])))
                    return false;
        }
    }
    return true;
}

cu_rc cu_policy_set_parse(const char *text, size_t len, const char *name, cu_policy_set **out)
{
    cu_policy_set *set = NULL;
    cu_arena *a = NULL;
    cu_rc rc = CU_ERR_NOMEM;
    if (!name)
        name = "policies";
    if (!text && len)
        return cu_err_set(CU_ERR_INVAL, "%s: no text", name);
    if (len > CU_POLICY_MAX_TEXT)
        return cu_err_set(CU_ERR_TOOBIG, "%s: policy text of %zu bytes is over the limit of %u", name,
                          len, CU_POLICY_MAX_TEXT);
    if (len && memchr(text, 0, len))
        return cu_err_set(CU_ERR_PARSE, "%s: policy text holds a NUL byte", name);
    a = cu_arena_new(64 * 1024, (size_t)CU_POLICY_MAX_TEXT * 64);
    set = cu_calloc(1, sizeof *set);
    if (!a || !set) {
        cu_err_set(CU_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    set->arena = a;
    set->src = cu_arena_strndup(a, text ? text : "", len);
    if (!set->src) {
        cu_err_set(CU_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    set->srclen = len;
    P p = {.s = set->src, .n = len, .a = a, .name = name};
    next(&p);
    uint32_t cap = 16, n = 0;
    policy *pols = palloc(&p, sizeof(policy) * cap);
    while (!p.failed && p.tk != T_EOF) {
        if (n == CU_POLICY_MAX_POLICIES) {
            perr(&p, p.ts, "more than %d policies", CU_POLICY_MAX_POLICIES);
            break;
        }
        if (n == cap) {
            policy *np = palloc(&p, sizeof(policy) * cap * 2);
            if (!np)
                break;
            memcpy(np, pols, sizeof(policy) * n);
            pols = np;
            cap *= 2;
        }
        size_t at = p.ts;
        memset(&pols[n], 0, sizeof pols[n]);
        if (!parse_policy(&p, &pols[n], n))
            break;
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(pols[i].id, pols[n].id) == 0) {
                perr(&p, at, "duplicate policy id \"%s\"", pols[n].id);
                break;
            }
        n++;
    }
    if (p.failed) {
        rc = strstr(cu_err_detail(), "out of memory") ? CU_ERR_NOMEM : CU_ERR_PARSE;
        goto fail;
    }
    set->pols = pols;
    set->n = n;
    if (!build_index(&p, set) || !pol_guards_build(set) || !explain_texts(set)) {
        rc = cu_err_set(CU_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    atomic_init(&set->refs, 1);
    static atomic_ullong next_gen = 1;
    set->gen = atomic_fetch_add(&next_gen, 1);
    *out = set;
    return CU_OK;
fail:
    cu_arena_free(a);
    cu_free(set);
    return rc;
}

cu_policy_set *cu_policy_set_ref(cu_policy_set *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
    return s;
}

void cu_policy_set_release(cu_policy_set *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    cu_arena_free(s->arena);
    cu_free(s);
}

size_t cu_policy_set_count(const cu_policy_set *s) { return s ? s->n : 0; }

const char *cu_policy_set_id(const cu_policy_set *s, size_t i)
{
    return s && i < s->n ? s->pols[i].id : NULL;
}

const char *cu_policy_set_annotation(const cu_policy_set *s, size_t i, const char *key)
{
    if (!s || i >= s->n)
        return NULL;
    for (uint32_t k = 0; k < s->pols[i].nann; k++)
        if (strcmp(s->pols[i].ann_keys[k], key) == 0)
            return s->pols[i].ann_vals[k];
    return NULL;
}
