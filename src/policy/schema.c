/*
 * A reader for Cedar's human-readable schema (.cedarschema).  It keeps what
 * typing JSON values needs: the attribute types of each entity type, the
 * context type of each action and the action groups (memberOf).  Policies
 * are not validated against it (docs/policy.md says so).
 *
 * Invariants
 * 1. Type names are resolved after the whole text is read (declarations may
 *    come in any order): a name inside namespace N means, in order, the
 *    common type N::x, the entity type N::x, a built-in type, the common
 *    type x, the entity type x.  Unknown names are taken as entity types.
 * 2. Common-type chains are followed at most CU_POLICY_MAX_DEPTH steps (a
 *    cycle is an error), and types nest at most that deep.
 * 3. Errors say "name:LINE:COL: message".
 */
#include "policy_int.h"

#include <stdio.h>
#include <string.h>

#define ST_NAMED 100
#define ST_SCHEMA_MAX_ITEMS 100000

typedef struct S {
    const char *s;
    size_t n, pos, ts, te;
    int tk; /* 'i' ident, 's' string, 0 eof, else the punctuation char; ':'+':' as 'D' */
    cu_arena *a;
    const char *name;
    const char *ns; /* current namespace or "" */
    bool failed;
    int depth;
    /* growing lists (heap, freed at the end) */
    sentity *ents;
    size_t nents, capents;
    sentity *acts;
    size_t nacts, capacts;
    struct common {
        const char *name; /* qualified */
        stype *t;
    } *commons;
    size_t ncommons, capcommons;
    stype **named; /* every ST_NAMED node, for resolution */
    const char **named_ns;
    size_t nnamed, capnamed, capnamed_ns;
} S;

CU_PRINTF(3, 4) static void serr(S *p, size_t off, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    unsigned l = 1, c = 1;
    for (size_t i = 0; i < off && i < p->n; i++) {
        if (p->s[i] == '\n') {
            l++;
            c = 1;
        } else
            c++;
    }
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cu_err_set(CU_ERR_PARSE, "%s:%u:%u: %s", p->name, l, c, msg);
}

static void *salloc(S *p, size_t n)
{
    void *r = cu_arena_alloc(p->a, n ? n : 1);
    if (!r) {
        if (!p->failed)
            cu_err_set(CU_ERR_NOMEM, "%s: out of memory", p->name);
        p->failed = true;
    } else
        memset(r, 0, n ? n : 1);
    return r;
}

static bool idc(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

static void snext(S *p)
{
    if (p->failed) {
        p->tk = 0;
        return;
    }
    size_t i = p->pos;
    for (;;) {
        while (i < p->n && (p->s[i] == ' ' || p->s[i] == '\t' || p->s[i] == '\n' || p->s[i] == '\r'))
            i++;
        if (i + 1 < p->n && p->s[i] == '/' && p->s[i + 1] == '/') {
            while (i < p->n && p->s[i] != '\n')
                i++;
            continue;
        }
        break;
    }
    p->ts = i;
    if (i >= p->n) {
        p->tk = 0;
        p->te = p->pos = i;
        return;
    }
    char c = p->s[i];
    size_t e = i + 1;
    if (idc(c, true)) {
        while (e < p->n && idc(p->s[e], false))
            e++;
        p->tk = 'i';
    } else if (c == '"') {
        while (e < p->n && p->s[e] != '"') {
            if (p->s[e] == '\\')
                e++;
            e++;
        }
        if (e >= p->n) {
            serr(p, i, "unterminated string");
            p->tk = 0;
            return;
        }
        e++;
        p->tk = 's';
    } else if (c == ':' && e < p->n && p->s[e] == ':') {
        e++;
        p->tk = 'D';
    } else if (strchr("{}[]<>,;:=?@()", c)) {
        p->tk = c;
    } else {
        serr(p, i, "unexpected character '%c'", (c >= 0x20 && c < 0x7f) ? c : '?');
        p->tk = 0;
        return;
    }
    p->te = p->pos = e;
}

static bool kw(const S *p, const char *w)
{
    size_t l = strlen(w);
    return p->tk == 'i' && p->te - p->ts == l && memcmp(p->s + p->ts, w, l) == 0;
}

static bool sexpect(S *p, int tk, const char *what)
{
    if (p->tk != tk) {
        serr(p, p->ts, "expected %s", what);
        return false;
    }
    snext(p);
    return true;
}

/* The current ident or string token as a C string. */
static const char *tokstr(S *p)
{
    if (p->tk == 'i') {
        char *r = cu_arena_strndup(p->a, p->s + p->ts, p->te - p->ts);
        if (!r) {
            if (!p->failed)
                cu_err_set(CU_ERR_NOMEM, "%s: out of memory", p->name);
            p->failed = true;
        }
        return r;
    }
    size_t n = p->te - p->ts - 2;
    char *o = salloc(p, n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p->s[p->ts + 1 + i];
        if (c == '\\' && i + 1 < n) {
            c = p->s[p->ts + 2 + i];
            i++;
            if (c == 'n')
                c = '\n';
            else if (c == 't')
                c = '\t';
            else if (c == 'r')
                c = '\r';
            else if (c == '0')
                c = 0;
        }
        o[k++] = c;
    }
    o[k] = 0;
    return o;
}

/* IDENT {'::' IDENT}; stops before '::' STR when allow_str_tail. */
static const char *spath(S *p, bool allow_str_tail, bool *str_tail)
{
    char buf[1024];
    size_t k = 0;
    if (str_tail)
        *str_tail = false;
    if (p->tk != 'i') {
        serr(p, p->ts, "expected a name");
        return NULL;
    }
    for (;;) {
        size_t l = p->te - p->ts;
        if (k + l + 3 >= sizeof buf) {
            serr(p, p->ts, "name too long");
            return NULL;
        }
        memcpy(buf + k, p->s + p->ts, l);
        k += l;
        snext(p);
        if (p->tk != 'D')
            break;
        size_t save = p->pos, sts = p->ts, ste = p->te;
        snext(p);
        if (p->tk == 's' && allow_str_tail) {
            /* rewind: the caller reads '::' STR */
            p->pos = save;
            p->ts = sts;
            p->te = ste;
            p->tk = 'D';
            if (str_tail)
                *str_tail = true;
            break;
        }
        if (p->tk != 'i') {
            serr(p, p->ts, "expected a name after '::'");
            return NULL;
        }
        memcpy(buf + k, "::", 2);
        k += 2;
    }
    char *r = cu_arena_strndup(p->a, buf, k);
    if (!r) {
        serr(p, p->ts, "out of memory");
        return NULL;
    }
    return r;
}

static const char *qualify(S *p, const char *n)
{
    if (!n)
        return NULL;
    if (!p->ns[0])
        return n;
    size_t a = strlen(p->ns), b = strlen(n);
    char *r = salloc(p, a + b + 3);
    if (!r)
        return NULL;
    memcpy(r, p->ns, a);
    memcpy(r + a, "::", 2);
    memcpy(r + a + 2, n, b + 1);
    return r;
}

static bool grow(S *p, void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    if (n >= ST_SCHEMA_MAX_ITEMS) {
        serr(p, p->ts, "too many declarations");
        return false;
    }
    size_t nc = *cap ? *cap * 2 : 16;
    void *na = cu_realloc(*arr, nc * sz);
    if (!na) {
        serr(p, p->ts, "out of memory");
        return false;
    }
    *arr = na;
    *cap = nc;
    return true;
}

static void skip_annotations(S *p)
{
    while (p->tk == '@') {
        snext(p);
        if (p->tk != 'i') {
            serr(p, p->ts, "expected an annotation name");
            return;
        }
        snext(p);
        if (p->tk == '(') {
            snext(p);
            if (p->tk == 's')
                snext(p);
            sexpect(p, ')', "')'");
        }
    }
}

static stype *stype_parse(S *p);

static stype *record_type(S *p)
{
    /* at '{' */
    snext(p);
    const char *keys[512];
    const stype *types[512];
    uint32_t n = 0;
    while (p->tk != '}' && !p->failed) {
        skip_annotations(p);
        if (p->tk != 'i' && p->tk != 's') {
            serr(p, p->ts, "expected an attribute name");
            return NULL;
        }
        if (n == 512) {
            serr(p, p->ts, "too many attributes");
            return NULL;
        }
        keys[n] = tokstr(p);
        if (!keys[n])
            return NULL;
        snext(p);
        if (p->tk == '?')
            snext(p);
        if (!sexpect(p, ':', "':'"))
            return NULL;
        types[n] = stype_parse(p);
        if (!types[n])
            return NULL;
        n++;
        if (p->tk == ',')
            snext(p);
        else
            break;
    }
    if (!sexpect(p, '}', "'}'"))
        return NULL;
    stype *t = salloc(p, sizeof *t);
    if (!t)
        return NULL;
    t->kind = ST_RECORD;
    t->keys = salloc(p, sizeof(char *) * (n ? n : 1));
    t->types = salloc(p, sizeof(stype *) * (n ? n : 1));
    if (!t->keys || !t->types)
        return NULL;
    memcpy(t->keys, keys, sizeof(char *) * n);
    memcpy(t->types, types, sizeof(stype *) * n);
    t->nkeys = n;
    return t;
}

static stype *stype_parse(S *p)
{
    if (++p->depth > CU_POLICY_MAX_DEPTH) {
        serr(p, p->ts, "type nested deeper than %d levels", CU_POLICY_MAX_DEPTH);
        return NULL;
    }
    stype *t = NULL;
    if (p->tk == '{')
        t = record_type(p);
    else if (kw(p, "Set")) {
        snext(p);
        if (!sexpect(p, '<', "'<'"))
            return NULL;
        stype *e = stype_parse(p);
        if (!e || !sexpect(p, '>', "'>'"))
            return NULL;
        t = salloc(p, sizeof *t);
        if (t) {
            t->kind = ST_SET;
            t->elem = e;
        }
    } else if (p->tk == 'i') {
        const char *n = spath(p, false, NULL);
        if (!n)
            return NULL;
        t = salloc(p, sizeof *t);
        if (!t)
            return NULL;
        t->kind = ST_NAMED;
        t->name = n;
        if (!grow(p, (void **)&p->named, &p->capnamed, p->nnamed, sizeof *p->named) ||
            !grow(p, (void **)&p->named_ns, &p->capnamed_ns, p->nnamed, sizeof *p->named_ns)) {
            return NULL;
        }
        p->named[p->nnamed] = t;
        p->named_ns[p->nnamed] = p->ns;
        p->nnamed++;
    } else
        serr(p, p->ts, "expected a type");
    p->depth--;
    return p->failed ? NULL : t;
}

/* Entity-or-type lists: Path | '[' [Path {, Path}] ']' (names only kept
 * for action parents; here only skipped). */
static bool skip_type_list(S *p)
{
    if (p->tk == '[') {
        snext(p);
        while (p->tk == 'i') {
            if (!spath(p, false, NULL))
                return false;
            if (p->tk != ',')
                break;
            snext(p);
        }
        return sexpect(p, ']', "']'");
    }
    return spath(p, false, NULL) != NULL;
}

static bool entity_decl(S *p)
{
    snext(p);
    const char *names[256];
    size_t n = 0;
    for (;;) {
        if (p->tk != 'i') {
            serr(p, p->ts, "expected an entity type name");
            return false;
        }
        if (n == 256) {
            serr(p, p->ts, "too many names in one declaration");
            return false;
        }
        names[n++] = qualify(p, tokstr(p));
        if (!names[n - 1])
            return false;
        snext(p);
        if (p->tk != ',')
            break;
        snext(p);
    }
    const stype *attrs = NULL, *tags = NULL;
    if (kw(p, "enum")) {
        snext(p);
        if (!sexpect(p, '[', "'['"))
            return false;
        while (p->tk == 's') {
            snext(p);
            if (p->tk != ',')
                break;
            snext(p);
        }
        if (!sexpect(p, ']', "']'"))
            return false;
    } else {
        if (kw(p, "in")) {
            snext(p);
            if (!skip_type_list(p))
                return false;
        }
        if (p->tk == '=')
            snext(p);
        if (p->tk == '{') {
            attrs = record_type(p);
            if (!attrs)
                return false;
        }
        if (kw(p, "tags")) {
            snext(p);
            tags = stype_parse(p);
            if (!tags)
                return false;
        }
    }
    if (!sexpect(p, ';', "';'"))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!grow(p, (void **)&p->ents, &p->capents, p->nents, sizeof *p->ents))
            return false;
        sentity *e = &p->ents[p->nents++];
        memset(e, 0, sizeof *e);
        e->name = names[i];
        e->attrs = attrs;
        e->tags = tags;
    }
    return true;
}

/* An action reference: Name | Path '::' STR.  Fills type and id. */
static bool action_ref(S *p, const char **type, const char **id)
{
    if (p->tk == 's') {
        *type = qualify(p, "Action");
        *id = tokstr(p);
        snext(p);
        return *type && *id;
    }
    bool tail;
    const char *path = spath(p, true, &tail);
    if (!path)
        return false;
    if (tail) {
        snext(p); /* '::' */
        *type = path;
        *id = tokstr(p);
        snext(p);
        /* an unqualified Action type inside a namespace is that namespace's */
        if (strcmp(path, "Action") == 0)
            *type = qualify(p, "Action");
        return *id != NULL;
    }
    *type = qualify(p, "Action");
    *id = path;
    return *type != NULL;
}

static bool action_decl(S *p)
{
    snext(p);
    const char *names[256];
    size_t n = 0;
    for (;;) {
        if (p->tk != 'i' && p->tk != 's') {
            serr(p, p->ts, "expected an action name");
            return false;
        }
        if (n == 256) {
            serr(p, p->ts, "too many names in one declaration");
            return false;
        }
        names[n++] = tokstr(p);
        if (!names[n - 1])
            return false;
        snext(p);
        if (p->tk != ',')
            break;
        snext(p);
    }
    const char *ptypes[256], *pids[256];
    uint32_t np = 0;
    if (kw(p, "in")) {
        snext(p);
        bool list = p->tk == '[';
        if (list)
            snext(p);
        while (p->tk == 'i' || p->tk == 's') {
            if (np == 256) {
                serr(p, p->ts, "too many action groups");
                return false;
            }
            if (!action_ref(p, &ptypes[np], &pids[np]))
                return false;
            np++;
            if (!list || p->tk != ',')
                break;
            snext(p);
        }
        if (list && !sexpect(p, ']', "']'"))
            return false;
    }
    const stype *ctx = NULL;
    if (kw(p, "appliesTo")) {
        snext(p);
        if (!sexpect(p, '{', "'{'"))
            return false;
        while (p->tk == 'i' && !p->failed) {
            if (kw(p, "context")) {
                snext(p);
                if (!sexpect(p, ':', "':'"))
                    return false;
                ctx = stype_parse(p);
                if (!ctx)
                    return false;
            } else if (kw(p, "principal") || kw(p, "resource")) {
                snext(p);
                if (!sexpect(p, ':', "':'") || !skip_type_list(p))
                    return false;
            } else {
                serr(p, p->ts, "expected principal, resource or context");
                return false;
            }
            if (p->tk != ',')
                break;
            snext(p);
        }
        if (!sexpect(p, '}', "'}'"))
            return false;
    }
    if (kw(p, "attributes")) {
        snext(p);
        if (p->tk != '{' || !record_type(p))
            return false;
    }
    if (!sexpect(p, ';', "';'"))
        return false;
    const char *atype = qualify(p, "Action");
    const char **pt = salloc(p, sizeof(char *) * (np ? np : 1));
    const char **pi = salloc(p, sizeof(char *) * (np ? np : 1));
    if (!atype || !pt || !pi)
        return false;
    memcpy(pt, ptypes, sizeof(char *) * np);
    memcpy(pi, pids, sizeof(char *) * np);
    for (size_t i = 0; i < n; i++) {
        if (!grow(p, (void **)&p->acts, &p->capacts, p->nacts, sizeof *p->acts))
            return false;
        sentity *e = &p->acts[p->nacts++];
        memset(e, 0, sizeof *e);
        e->name = atype;
        e->action_id = names[i];
        e->context = ctx;
        e->parent_types = pt;
        e->parent_ids = pi;
        e->nparents = np;
    }
    return true;
}

static bool type_decl(S *p)
{
    snext(p);
    if (p->tk != 'i') {
        serr(p, p->ts, "expected a type name");
        return false;
    }
    const char *n = qualify(p, tokstr(p));
    if (!n)
        return false;
    snext(p);
    if (!sexpect(p, '=', "'='"))
        return false;
    stype *t = stype_parse(p);
    if (!t || !sexpect(p, ';', "';'"))
        return false;
    if (!grow(p, (void **)&p->commons, &p->capcommons, p->ncommons, sizeof *p->commons))
        return false;
    p->commons[p->ncommons].name = n;
    p->commons[p->ncommons].t = t;
    p->ncommons++;
    return true;
}

static bool decls(S *p, bool in_ns)
{
    while (!p->failed && p->tk != 0 && !(in_ns && p->tk == '}')) {
        skip_annotations(p);
        if (kw(p, "entity")) {
            if (!entity_decl(p))
                return false;
        } else if (kw(p, "action")) {
            if (!action_decl(p))
                return false;
        } else if (kw(p, "type")) {
            if (!type_decl(p))
                return false;
        } else if (kw(p, "namespace") && !in_ns) {
            snext(p);
            const char *ns = spath(p, false, NULL);
            if (!ns || !sexpect(p, '{', "'{'"))
                return false;
            p->ns = ns;
            if (!decls(p, true))
                return false;
            p->ns = "";
            if (!sexpect(p, '}', "'}'"))
                return false;
        } else {
            serr(p, p->ts, "expected entity, action, type or namespace");
            return false;
        }
    }
    return !p->failed;
}

static const stype *find_common(S *p, const char *n)
{
    for (size_t i = 0; i < p->ncommons; i++)
        if (strcmp(p->commons[i].name, n) == 0)
            return p->commons[i].t;
    return NULL;
}

static bool find_entity(S *p, const char *n)
{
    for (size_t i = 0; i < p->nents; i++)
        if (strcmp(p->ents[i].name, n) == 0)
            return true;
    return false;
}

static int builtin(const char *n)
{
    if (strncmp(n, "__cedar::", 9) == 0)
        n += 9;
    if (strcmp(n, "Bool") == 0 || strcmp(n, "Boolean") == 0)
        return ST_BOOL;
    if (strcmp(n, "Long") == 0)
        return ST_LONG;
    if (strcmp(n, "String") == 0)
        return ST_STRING;
    if (strcmp(n, "decimal") == 0)
        return ST_DECIMAL;
    if (strcmp(n, "ipaddr") == 0)
        return ST_IP;
    if (strcmp(n, "datetime") == 0)
        return ST_DATETIME;
    if (strcmp(n, "duration") == 0)
        return ST_DURATION;
    return -1;
}

/* Resolve one named node in place (invariant 1). */
static bool resolve(S *p, stype *t, const char *ns, int hops)
{
    if (hops > CU_POLICY_MAX_DEPTH) {
        serr(p, 0, "common type \"%s\" refers to itself", t->name);
        return false;
    }
    const char *n = t->name;
    char q[1100];
    bool qualified = strstr(n, "::") != NULL;
    const stype *c = NULL;
    const char *ent = NULL;
    if (!qualified && ns[0]) {
        snprintf(q, sizeof q, "%s::%s", ns, n);
        c = find_common(p, q);
        if (!c && find_entity(p, q))
            ent = cu_arena_strndup(p->a, q, strlen(q));
    }
    if (!c && !ent) {
        int b = builtin(n);
        if (b >= 0) {
            t->kind = (uint8_t)b;
            return true;
        }
        c = find_common(p, n);
        if (!c)
            ent = n;
    }
    if (c) {
        if (c->kind == ST_NAMED && !resolve(p, (stype *)c, ns, hops + 1))
            return false;
        const char *keep = t->name;
        *t = *c;
        if (t->kind == ST_NAMED)
            t->name = keep;
        return true;
    }
    if (!ent) {
        serr(p, 0, "out of memory");
        return false;
    }
    t->kind = ST_ENTITY;
    t->name = ent;
    return true;
}

cu_rc cu_policy_schema_parse(const char *text, size_t len, const char *name, cu_policy_schema **out)
{
    if (!name)
        name = "schema";
    if (len > CU_POLICY_MAX_SCHEMA)
        return cu_err_set(CU_ERR_TOOBIG, "%s: %zu bytes is over the limit of %u", name, len, CU_POLICY_MAX_SCHEMA);
    cu_rc rc = CU_ERR_NOMEM;
    cu_policy_schema *sc = cu_calloc(1, sizeof *sc);
    S p = {.s = text, .n = len, .name = name, .ns = ""};
    p.a = cu_arena_new(64 * 1024, (size_t)CU_POLICY_MAX_SCHEMA * 64);
    if (!sc || !p.a) {
        cu_err_set(CU_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    snext(&p);
    if (!decls(&p, false))
        goto parse_fail;
    for (size_t i = 0; i < p.nnamed; i++)
        if (p.named[i]->kind == ST_NAMED && !resolve(&p, p.named[i], p.named_ns[i], 0))
            goto parse_fail;
    sc->arena = p.a;
    sc->ents = salloc(&p, sizeof(sentity) * (p.nents ? p.nents : 1));
    sc->acts = salloc(&p, sizeof(sentity) * (p.nacts ? p.nacts : 1));
    if (!sc->ents || !sc->acts)
        goto fail;
    if (p.nents)
        memcpy(sc->ents, p.ents, sizeof(sentity) * p.nents);
    if (p.nacts)
        memcpy(sc->acts, p.acts, sizeof(sentity) * p.nacts);
    sc->nents = p.nents;
    sc->nacts = p.nacts;
    cu_free(p.ents);
    cu_free(p.acts);
    cu_free(p.commons);
    cu_free(p.named);
    cu_free(p.named_ns);
    *out = sc;
    return CU_OK;
parse_fail:
    rc = strstr(cu_err_detail(), "out of memory") ? CU_ERR_NOMEM : CU_ERR_PARSE;
fail:
    cu_free(p.ents);
    cu_free(p.acts);
    cu_free(p.commons);
    cu_free(p.named);
    cu_free(p.named_ns);
    cu_arena_free(p.a);
    cu_free(sc);
    return rc;
}

void cu_policy_schema_free(cu_policy_schema *s)
{
    if (!s)
        return;
    cu_arena_free(s->arena);
    cu_free(s);
}

const stype *pol_schema_attrs(const cu_policy_schema *s, const char *type, size_t tl)
{
    for (size_t i = 0; i < s->nents; i++)
        if (strlen(s->ents[i].name) == tl && memcmp(s->ents[i].name, type, tl) == 0)
            return s->ents[i].attrs;
    return NULL;
}

const stype *pol_schema_tags(const cu_policy_schema *s, const char *type, size_t tl)
{
    for (size_t i = 0; i < s->nents; i++)
        if (strlen(s->ents[i].name) == tl && memcmp(s->ents[i].name, type, tl) == 0)
            return s->ents[i].tags;
    return NULL;
}

const stype *pol_schema_context(const cu_policy_schema *s, const puid *action)
{
    for (size_t i = 0; i < s->nacts; i++) {
        const sentity *a = &s->acts[i];
        if (strlen(a->name) == action->tlen && memcmp(a->name, action->type, action->tlen) == 0 &&
            strlen(a->action_id) == action->ilen && memcmp(a->action_id, action->id, action->ilen) == 0)
            return a->context;
    }
    return NULL;
}
