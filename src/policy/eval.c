/*
 * The evaluator and authoriser: Cedar's semantics over the parsed form.
 *
 * NOTES ON THE DESIGN OF THE EVALUATOR
 * 1. Hot path: cu_policy_eval allocates only from the caller's scratch
 *    arena (candidate bitsets, set and record literals built from non-
 *    constant parts, the answer's arrays, error text).  Nothing touches the
 *    heap once the arena's first block is big enough for one request.
 * 2. Candidates: each of principal, action and resource has an index from
 *    uid (for ==, in, is..in) or type (for is) to the policies that name it,
 *    plus the policies that do not constrain it.  A request marks in a
 *    bitset the policies reachable from its uid, its type and each of its
 *    ancestors, for each part, and intersects the three; only those are
 *    scope-checked and evaluated, in set order.
 * 3. Errors follow Cedar: a policy whose condition raises an error (a type
 *    error, a missing attribute or entity, overflow, a bad extension
 *    argument) is skipped and reported; && and || short-circuit and raise
 *    a type error for a non-bool operand they reach.
 * 4. Recursion is bounded by the parser's depth limit and the value depth
 *    limit of the JSON reader (policy_int.h, invariant 4).
 * 5. Explanations: while evaluating, each permit whose scope matched
 *    records how many top-level conjuncts it passed and the one it failed;
 *    on a deny with no satisfied forbid the answer names the permit that
 *    got furthest (ties: the first) and renders its failing conjunct (or
 *    its @reason) as text.  Nothing is evaluated twice.
 */
#include "policy_int.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define GV_UNKNOWN 2

typedef struct ectx {
    const cu_policy_set *set;
    const cu_policy_entities *ents;
    const cu_policy_request *req;
    cu_arena *scratch;
    pval var[4];
    const struct cu_policy_entity *ent[3];
    const char *err;
    bool oom;
    /* the last uid looked up by find_ent and what it found (NULL uid: none);
     * the request's uids and entities do not change while it is evaluated */
    const puid *last_u;
    const struct cu_policy_entity *last_e;
    /* the guards' reads through context.a (guard.c): a's value (NULL: no
     * such attribute) and, when it is an entity, that entity, kept for the
     * last two names read this request (NULL: no cache) */
    /* per guard of the set, its value this request once computed (lone
     * guards and the guards G_BOOL leaves share: guard.c, invariant 6);
     * GV_UNKNOWN: not yet; NULL: no cache */
    int8_t *gval;
    struct nest_memo {
        const char *name;
        uint32_t nlen;
        bool known;
        const pval *b;
        const puid *u;
        const struct cu_policy_entity *e;
    } *nest;
    /* which of set->nroot the context lacks (a bit each), once known
     * (roots_known): an item's `has` check reads it instead of the context */
    uint32_t absent;
    bool roots_known;
} ectx;

CU_PRINTF(2, 3) static bool efail(ectx *c, const char *fmt, ...)
{
    char *m = cu_arena_alloc(c->scratch, 256);
    if (!m) {
        c->oom = true;
        c->err = "out of scratch memory";
        return false;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, 256, fmt, ap);
    va_end(ap);
    c->err = m;
    return false;
}

static bool type_err(ectx *c, const char *op, const char *want, const pval *got)
{
    return efail(c, "type error: %s expects %s, got %s", op, want, pol_kind_name(got->kind));
}

/* The request's own entities first (by pointer, then the attached local
 * entities by uid), then the store. */
static const struct cu_policy_entity *local_find(const cu_policy_request *r, const puid *u)
{
    for (uint32_t i = 0; i < r->nlocal; i++)
        if (pol_uid_eq(&r->local[i]->uid, u))
            return r->local[i];
    return NULL;
}

static const struct cu_policy_entity *find_ent(ectx *c, const puid *u)
{
    for (int w = 0; w < 3; w++)
        if (c->req->uid[w] == u)
            return c->ent[w];
    if (u == c->last_u) /* context.case.a, context.case.b, ...: one search */
        return c->last_e;
    const struct cu_policy_entity *e = local_find(c->req, u);
    e = e ? e : pol_ent_find(c->ents, u);
    c->last_u = u;
    c->last_e = e;
    return e;
}

static bool in_entity(ectx *c, const puid *a, const puid *b)
{
    if (pol_uid_eq(a, b))
        return true;
    const struct cu_policy_entity *e = find_ent(c, a);
    return e && pol_anc_has(e, b);
}

static const pval *ent_attr(const struct cu_policy_entity *e, const char *k, uint32_t kn)
{
    pval rec;
    rec.kind = PV_RECORD;
    rec.u.rec.f = e->attrs;
    rec.u.rec.n = e->nattrs;
    return pol_rec_get(&rec, k, kn);
}

/* like: segments separated by stars; greedy with backtracking to the last
 * star, which is linear enough for policy patterns. */
static bool like_match(const char *s, size_t n, const ppat *pt)
{
    if (pt->nseg == 1)
        return n == pt->seglen[0] && pol_bytes_eq(s, pt->seg[0], (uint32_t)n);
    size_t pos = 0;
    /* first segment anchors the start */
    if (n < pt->seglen[0] || !pol_bytes_eq(s, pt->seg[0], pt->seglen[0]))
        return false;
    pos = pt->seglen[0];
    uint32_t last = pt->nseg - 1;
    for (uint32_t i = 1; i < last; i++) {
        const char *sg = pt->seg[i];
        size_t sl = pt->seglen[i];
        if (sl == 0)
            continue;
        bool found = false;
        while (pos + sl <= n) {
            if (pol_bytes_eq(s + pos, sg, (uint32_t)sl)) {
                found = true;
                break;
            }
            pos++;
        }
        if (!found)
            return false;
        pos += sl;
    }
    size_t ll = pt->seglen[last];
    return n - pos >= ll && pol_bytes_eq(s + n - ll, pt->seg[last], (uint32_t)ll);
}

bool pol_like(const char *s, size_t n, const ppat *pt) { return like_match(s, n, pt); }

static bool set_contains(const pval *set, const pval *x)
{
    const pval *v = set->u.set.v;
    uint32_t n = set->u.set.n;
    if (x->kind == PV_STR) {
        /* the common policy shape: ["PC", "DC", ...].contains(principal.role) */
        uint32_t xn = x->u.s.n;
        for (uint32_t i = 0; i < n; i++)
            if (v[i].kind == PV_STR && v[i].u.s.n == xn &&
                (xn == 0 || v[i].u.s.p[0] == x->u.s.p[0]) && pol_bytes_eq(v[i].u.s.p, x->u.s.p, xn))
                return true;
        return false;
    }
    if (x->kind == PV_ENTITY) {
        for (uint32_t i = 0; i < n; i++)
            if (v[i].kind == PV_ENTITY && v[i].u.e->hash == x->u.e->hash && pol_uid_eq(v[i].u.e, x->u.e))
                return true;
        return false;
    }
    for (uint32_t i = 0; i < set->u.set.n; i++)
        if (pol_val_eq(&set->u.set.v[i], x))
            return true;
    return false;
}

static inline bool ev(ectx *c, const node *n, pval *out);

static bool ev_shape(ectx *c, const node *n, pval *out);

static bool ev_bool(ectx *c, const node *n, const char *op, bool *b)
{
    pval v;
    if (!ev_shape(c, n, &v))
        return false;
    if (v.kind != PV_BOOL)
        return type_err(c, op, "bool", &v);
    *b = v.u.b;
    return true;
}

static bool ev_long(ectx *c, const node *n, const char *op, int64_t *l)
{
    pval v;
    if (!ev(c, n, &v))
        return false;
    if (v.kind != PV_LONG)
        return type_err(c, op, "long", &v);
    *l = v.u.l;
    return true;
}

static bool get_attr(ectx *c, const pval *base, const char *k, uint32_t kn, pval *out)
{
    const pval *r = NULL;
    if (base->kind == PV_ENTITY) {
        const struct cu_policy_entity *e = find_ent(c, base->u.e);
        if (!e)
            return efail(c, "entity %.*s::\"%.*s\" does not exist", (int)base->u.e->tlen, base->u.e->type,
                         (int)base->u.e->ilen, base->u.e->id);
        r = ent_attr(e, k, kn);
        if (!r)
            return efail(c, "entity %.*s::\"%.*s\" has no attribute \"%.*s\"", (int)base->u.e->tlen,
                         base->u.e->type, (int)base->u.e->ilen, base->u.e->id, (int)kn, k);
    } else if (base->kind == PV_RECORD) {
        r = pol_rec_get(base, k, kn);
        if (!r)
            return efail(c, "record has no attribute \"%.*s\"", (int)kn, k);
    } else
        return type_err(c, "attribute access", "entity or record", base);
    *out = *r;
    return true;
}

static bool has_attr(ectx *c, const pval *base, const char *k, uint32_t kn, const pval **found)
{
    *found = NULL;
    if (base->kind == PV_ENTITY) {
        const struct cu_policy_entity *e = find_ent(c, base->u.e);
        if (e)
            *found = ent_attr(e, k, kn);
        return true;
    }
    if (base->kind == PV_RECORD) {
        *found = pol_rec_get(base, k, kn);
        return true;
    }
    return type_err(c, "has", "entity or record", base);
}

/* The datetime extension's methods (value.c), errors made Cedar's. */
static bool ev_datetime(ectx *c, const node *n, const pval *a, const pval *b, pval *out)
{
    const pval *bad = NULL;
    const char *e = pol_datetime_op(n->fn, a, b, out, &bad);
    if (!e)
        return true;
    if (bad)
        return type_err(c, "datetime method", e, bad);
    return efail(c, "%s", e);
}

static bool ev_call(ectx *c, const node *n, pval *out)
{
    pval a, b;
    if (n->fn == FN_ARITY) { /* the arguments first, as Cedar; then the error */
        for (uint32_t i = 0; i < n->nkids; i++)
            if (!ev(c, n->kids[i], &a))
                return false;
        return efail(c, "wrong number of arguments to an extension function");
    }
    if (!ev(c, n->kids[0], &a))
        return false;
    if (n->nkids > 1 && !ev(c, n->kids[1], &b))
        return false;
    out->kind = PV_BOOL;
    switch (n->fn) {
    case FN_IP:
        if (a.kind != PV_STR)
            return type_err(c, "ip", "string", &a);
        out->kind = PV_IP;
        if (!pol_ip_parse(a.u.s.p, a.u.s.n, &out->u.ip))
            return efail(c, "bad ip address \"%.*s\"", (int)(a.u.s.n > 60 ? 60 : a.u.s.n), a.u.s.p);
        return true;
    case FN_DECIMAL:
        if (a.kind != PV_STR)
            return type_err(c, "decimal", "string", &a);
        out->kind = PV_DECIMAL;
        if (!pol_decimal_parse(a.u.s.p, a.u.s.n, &out->u.l))
            return efail(c, "bad decimal \"%.*s\"", (int)(a.u.s.n > 60 ? 60 : a.u.s.n), a.u.s.p);
        return true;
    case FN_DATETIME:
    case FN_DURATION: {
        const char *nm = n->fn == FN_DATETIME ? "datetime" : "duration";
        if (a.kind != PV_STR)
            return type_err(c, nm, "string", &a);
        out->kind = n->fn == FN_DATETIME ? PV_DATETIME : PV_DURATION;
        if (!(n->fn == FN_DATETIME ? pol_datetime_parse(a.u.s.p, a.u.s.n, &out->u.l)
                                   : pol_duration_parse(a.u.s.p, a.u.s.n, &out->u.l)))
            return efail(c, "bad %s \"%.*s\"", nm, (int)(a.u.s.n > 60 ? 60 : a.u.s.n), a.u.s.p);
        return true;
    }
    case FN_OFFSET:
    case FN_DURATION_SINCE:
    case FN_TO_DATE:
    case FN_TO_TIME:
    case FN_TO_MILLISECONDS:
    case FN_TO_SECONDS:
    case FN_TO_MINUTES:
    case FN_TO_HOURS:
    case FN_TO_DAYS:
        return ev_datetime(c, n, &a, &b, out);
    case FN_ARITY:
        return false;
    case FN_CONTAINS:
        if (a.kind != PV_SET)
            return type_err(c, "contains", "set", &a);
        out->u.b = set_contains(&a, &b);
        return true;
    case FN_CONTAINS_ALL:
    case FN_CONTAINS_ANY: {
        const char *op = n->fn == FN_CONTAINS_ALL ? "containsAll" : "containsAny";
        if (a.kind != PV_SET)
            return type_err(c, op, "set", &a);
        if (b.kind != PV_SET)
            return type_err(c, op, "set", &b);
        bool all = true, any = false;
        for (uint32_t i = 0; i < b.u.set.n; i++) {
            if (set_contains(&a, &b.u.set.v[i]))
                any = true;
            else
                all = false;
        }
        out->u.b = n->fn == FN_CONTAINS_ALL ? all : any;
        return true;
    }
    case FN_IS_EMPTY:
        if (a.kind != PV_SET)
            return type_err(c, "isEmpty", "set", &a);
        out->u.b = a.u.set.n == 0;
        return true;
    case FN_IS_IPV4:
    case FN_IS_IPV6:
    case FN_IS_LOOPBACK:
    case FN_IS_MULTICAST:
        if (a.kind != PV_IP)
            return type_err(c, "ip method", "ipaddr", &a);
        if (n->fn == FN_IS_IPV4)
            out->u.b = !a.u.ip.v6;
        else if (n->fn == FN_IS_IPV6)
            out->u.b = a.u.ip.v6;
        else if (n->fn == FN_IS_LOOPBACK) {
            static const pip lo4 = {0, 8, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 0}};
            static const pip lo6 = {1, 128, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
            out->u.b = pol_ip_in_range(&a.u.ip, a.u.ip.v6 ? &lo6 : &lo4);
        } else {
            static const pip mc4 = {0, 4, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 224, 0, 0, 0}};
            static const pip mc6 = {1, 8, {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}};
            out->u.b = pol_ip_in_range(&a.u.ip, a.u.ip.v6 ? &mc6 : &mc4);
        }
        return true;
    case FN_IS_IN_RANGE:
        if (a.kind != PV_IP)
            return type_err(c, "isInRange", "ipaddr", &a);
        if (b.kind != PV_IP)
            return type_err(c, "isInRange", "ipaddr", &b);
        out->u.b = pol_ip_in_range(&a.u.ip, &b.u.ip);
        return true;
    case FN_LT:
    case FN_LE:
    case FN_GT:
    case FN_GE:
        if (a.kind != PV_DECIMAL)
            return type_err(c, "decimal comparison", "decimal", &a);
        if (b.kind != PV_DECIMAL)
            return type_err(c, "decimal comparison", "decimal", &b);
        out->u.b = n->fn == FN_LT ? a.u.l < b.u.l : n->fn == FN_LE ? a.u.l <= b.u.l
                 : n->fn == FN_GT ? a.u.l > b.u.l : a.u.l >= b.u.l;
        return true;
    case FN_HAS_TAG:
    case FN_GET_TAG: {
        const char *op = n->fn == FN_HAS_TAG ? "hasTag" : "getTag";
        if (a.kind != PV_ENTITY)
            return type_err(c, op, "entity", &a);
        if (b.kind != PV_STR)
            return type_err(c, op, "string", &b);
        const struct cu_policy_entity *e = find_ent(c, a.u.e);
        const pval *t = NULL;
        if (e) {
            pval rec;
            rec.kind = PV_RECORD;
            rec.u.rec.f = e->tags;
            rec.u.rec.n = e->ntags;
            t = pol_rec_get(&rec, b.u.s.p, b.u.s.n);
        }
        if (n->fn == FN_HAS_TAG) {
            out->u.b = t != NULL;
            return true;
        }
        if (!e)
            return efail(c, "entity %.*s::\"%.*s\" does not exist", (int)a.u.e->tlen, a.u.e->type,
                         (int)a.u.e->ilen, a.u.e->id);
        if (!t)
            return efail(c, "entity %.*s::\"%.*s\" has no tag \"%.*s\"", (int)a.u.e->tlen, a.u.e->type,
                         (int)a.u.e->ilen, a.u.e->id, (int)b.u.s.n, b.u.s.p);
        *out = *t;
        return true;
    }
    }
    return efail(c, "internal: unknown function");
}

/* An attribute of a field list (an entity's attributes, the context),
 * trying the node's position hint first. */
static inline __attribute__((always_inline)) const pval *fields_get(const node *n, const pfield *f, uint32_t nf)
{
    uint32_t h = atomic_load_explicit(&((node *)n)->hint, memory_order_relaxed);
    if (h < nf && f[h].klen == n->nlen && pol_bytes_eq(f[h].key, n->name, n->nlen))
        return &f[h].v;
    pval rec;
    rec.kind = PV_RECORD;
    rec.u.rec.f = f;
    rec.u.rec.n = nf;
    const pval *r = pol_rec_get(&rec, n->name, n->nlen);
    if (r) {
        size_t at = (size_t)((const pfield *)((const char *)r - offsetof(pfield, v)) - f);
        if (at < 256)
            atomic_store_explicit(&((node *)n)->hint, (uint8_t)at, memory_order_relaxed);
    }
    return r;
}

/* The error of attr_of_var, out of line so that the common path is small. */
static __attribute__((noinline)) bool attr_error(ectx *c, const node *n, int w)
{
    if (w == VAR_CONTEXT)
        return efail(c, "record has no attribute \"%.*s\"", (int)n->nlen, n->name);
    const puid *u = c->var[w].u.e;
    if (!c->ent[w])
        return efail(c, "entity %.*s::\"%.*s\" does not exist", (int)u->tlen, u->type, (int)u->ilen, u->id);
    return efail(c, "entity %.*s::\"%.*s\" has no attribute \"%.*s\"", (int)u->tlen, u->type, (int)u->ilen, u->id,
                 (int)n->nlen, n->name);
}

/* principal.x, resource.x, action.x, context.x: the commonest node, read
 * without a search for the entity. */
static inline __attribute__((always_inline)) bool attr_of_var(ectx *c, const node *n, pval *out)
{
    int w = n->kids[0]->var;
    const pval *r;
    if (w == VAR_CONTEXT) {
        r = fields_get(n, c->var[3].u.rec.f, c->var[3].u.rec.n);
    } else {
        const struct cu_policy_entity *e = c->ent[w];
        r = e ? fields_get(n, e->attrs, e->nattrs) : NULL;
    }
    if (!r)
        return attr_error(c, n, w);
    *out = *r;
    return true;
}

/* `a in b` once both sides are evaluated. */
static bool ev_in_tail(ectx *c, const pval *a, const pval *b, pval *out)
{
    if (a->kind != PV_ENTITY)
        return type_err(c, "in", "entity", a);
    out->kind = PV_BOOL;
    if (b->kind == PV_ENTITY) {
        out->u.b = in_entity(c, a->u.e, b->u.e);
        return true;
    }
    if (b->kind != PV_SET)
        return type_err(c, "in", "entity or set of entities", b);
    for (uint32_t i = 0; i < b->u.set.n; i++)
        if (b->u.set.v[i].kind != PV_ENTITY)
            return type_err(c, "in", "set of entities", &b->u.set.v[i]);
    out->u.b = false;
    for (uint32_t i = 0; i < b->u.set.n && !out->u.b; i++)
        out->u.b = in_entity(c, a->u.e, b->u.set.v[i].u.e);
    return true;
}

static bool ev_slow(ectx *c, const node *n, pval *out);

/* The leaves and variable attributes inline; the rest in ev_slow. */
static inline bool ev(ectx *c, const node *n, pval *out)
{
    switch (n->op) {
    case N_LIT:
        *out = n->lit;
        return true;
    case N_VAR:
        *out = c->var[n->var];
        return true;
    case N_ATTR:
        if (n->kids[0]->op == N_VAR)
            return attr_of_var(c, n, out);
        if (n->kids[0]->op == N_ATTR && n->kids[0]->kids[0]->op == N_VAR) { /* context.case.opened */
            pval base;
            if (!attr_of_var(c, n->kids[0], &base))
                return false;
            if (base.kind == PV_ENTITY) {
                const struct cu_policy_entity *e = find_ent(c, base.u.e);
                const pval *r = e ? fields_get(n, e->attrs, e->nattrs) : NULL;
                if (r) {
                    *out = *r;
                    return true;
                }
            }
            return get_attr(c, &base, n->name, n->nlen, out);
        }
        break;
    default:
        break;
    }
    return ev_slow(c, n, out);
}

/* Shared by ev_shape and ev_slow, so the fast path and the general one
 * cannot drift apart.  && and || short-circuit; a non-bool operand is a
 * type error.  Comparisons: left operand first, each must be a long. */
static inline bool ev_andor(ectx *c, const node *n, pval *out)
{
    bool x = false, y = false;
    const char *op = n->op == N_AND ? "&&" : "||";
    if (!ev_bool(c, n->kids[0], op, &x))
        return false;
    out->kind = PV_BOOL;
    if (x == (n->op == N_OR)) {
        out->u.b = x;
        return true;
    }
    if (!ev_bool(c, n->kids[1], op, &y))
        return false;
    out->u.b = y;
    return true;
}

/* < <= > >= over two longs, two datetimes or two durations (the
 * extension types whose operators Cedar overloads; not decimal). */
static inline bool ev_cmp(ectx *c, const node *n, pval *out)
{
    static const char *ops[] = {"<", "<=", ">", ">="};
    pval x, y;
    const char *op = ops[n->op - N_LT];
    if (!ev(c, n->kids[0], &x))
        return false;
    if (x.kind != PV_LONG && x.kind != PV_DATETIME && x.kind != PV_DURATION)
        return type_err(c, op, "long, datetime or duration", &x);
    if (!ev(c, n->kids[1], &y))
        return false;
    if (y.kind != x.kind)
        return type_err(c, op, pol_kind_name(x.kind), &y);
    int64_t a = x.u.l, b = y.u.l;
    out->kind = PV_BOOL;
    out->u.b = n->op == N_LT ? a < b : n->op == N_LE ? a <= b : n->op == N_GT ? a > b : a >= b;
    return true;
}

static inline bool is_var_attr(const node *n) { return n->op == N_ATTR && n->kids[0]->op == N_VAR; }

/* The shapes most policies are made of, evaluated without the general
 * recursion; same results and errors as ev_slow:
 *   !context.flag     [lit, ...].contains(var.attr)     var.attr == lit */
static bool ev_shape(ectx *c, const node *n, pval *out)
{
    pval a;
    switch (n->op) {
    case N_NOT:
        if (!is_var_attr(n->kids[0]))
            break;
        if (!attr_of_var(c, n->kids[0], &a))
            return false;
        if (a.kind != PV_BOOL)
            return type_err(c, "!", "bool", &a);
        out->kind = PV_BOOL;
        out->u.b = !a.u.b;
        return true;
    case N_CALL:
        if (n->fn != FN_CONTAINS || n->kids[0]->op != N_LIT || n->kids[0]->lit.kind != PV_SET ||
            !is_var_attr(n->kids[1]))
            break;
        if (!attr_of_var(c, n->kids[1], &a))
            return false;
        out->kind = PV_BOOL;
        out->u.b = set_contains(&n->kids[0]->lit, &a);
        return true;
    case N_EQ:
    case N_NE:
        if (!is_var_attr(n->kids[0]) || n->kids[1]->op != N_LIT)
            break;
        if (!attr_of_var(c, n->kids[0], &a))
            return false;
        out->kind = PV_BOOL;
        out->u.b = pol_val_eq(&a, &n->kids[1]->lit) == (n->op == N_EQ);
        return true;
    case N_LT:
    case N_LE:
    case N_GT:
    case N_GE:
        return ev_cmp(c, n, out);
    case N_AND:
    case N_OR:
        return ev_andor(c, n, out);
    case N_LIKE:
        if (!ev(c, n->kids[0], &a))
            return false;
        if (a.kind != PV_STR)
            return type_err(c, "like", "string", &a);
        out->kind = PV_BOOL;
        out->u.b = like_match(a.u.s.p, a.u.s.n, n->pat);
        return true;
    case N_IN: { /* resource in context.case: entity in entity, else the general path */
        pval b;
        if (n->kids[0]->op != N_VAR || !is_var_attr(n->kids[1]))
            break;
        a = c->var[n->kids[0]->var];
        if (a.kind != PV_ENTITY)
            break;
        if (!attr_of_var(c, n->kids[1], &b))
            return false;
        if (b.kind != PV_ENTITY)
            return ev_in_tail(c, &a, &b, out);
        out->kind = PV_BOOL;
        out->u.b = in_entity(c, a.u.e, b.u.e);
        return true;
    }
    case N_HAS: /* context has case */
        if (n->npath != 1 || n->kids[0]->op != N_VAR || n->kids[0]->var != VAR_CONTEXT)
            break;
        out->kind = PV_BOOL;
        out->u.b = pol_rec_get(&c->var[3], n->path[0], n->plens[0]) != NULL;
        return true;
    default:
        break;
    }
    return ev(c, n, out);
}

static bool ev_slow(ectx *c, const node *n, pval *out)
{
    switch (n->op) {
    case N_LIT:
        *out = n->lit;
        return true;
    case N_VAR:
        *out = c->var[n->var];
        return true;
    case N_AND:
    case N_OR:
        return ev_andor(c, n, out);
    case N_NOT: {
        bool a = false;
        if (!ev_bool(c, n->kids[0], "!", &a))
            return false;
        out->kind = PV_BOOL;
        out->u.b = !a;
        return true;
    }
    case N_NEG: {
        int64_t a = 0;
        if (!ev_long(c, n->kids[0], "-", &a))
            return false;
        if (a == INT64_MIN)
            return efail(c, "overflow: -(%lld)", (long long)a);
        out->kind = PV_LONG;
        out->u.l = -a;
        return true;
    }
    case N_IF: {
        bool b = false;
        if (!ev_bool(c, n->kids[0], "if", &b))
            return false;
        return ev(c, n->kids[b ? 1 : 2], out);
    }
    case N_EQ:
    case N_NE: {
        pval a, b;
        if (!ev(c, n->kids[0], &a) || !ev(c, n->kids[1], &b))
            return false;
        out->kind = PV_BOOL;
        out->u.b = pol_val_eq(&a, &b) == (n->op == N_EQ);
        return true;
    }
    case N_LT:
    case N_LE:
    case N_GT:
    case N_GE:
        return ev_cmp(c, n, out);
    case N_ADD:
    case N_SUB:
    case N_MUL: {
        static const char *ops[] = {"+", "-", "*"};
        int64_t a = 0, b = 0, r;
        const char *op = ops[n->op - N_ADD];
        if (!ev_long(c, n->kids[0], op, &a) || !ev_long(c, n->kids[1], op, &b))
            return false;
        bool ovf = n->op == N_ADD ? __builtin_add_overflow(a, b, &r)
                 : n->op == N_SUB ? __builtin_sub_overflow(a, b, &r) : __builtin_mul_overflow(a, b, &r);
        if (ovf)
            return efail(c, "overflow: %lld %s %lld", (long long)a, op, (long long)b);
        out->kind = PV_LONG;
        out->u.l = r;
        return true;
    }
    case N_IN: {
        pval a, b;
        if (!ev(c, n->kids[0], &a) || !ev(c, n->kids[1], &b))
            return false;
        return ev_in_tail(c, &a, &b, out);
    }
    case N_HAS: {
        pval base;
        if (!ev(c, n->kids[0], &base))
            return false;
        out->kind = PV_BOOL;
        for (uint32_t i = 0; i < n->npath; i++) {
            const pval *f;
            if (!has_attr(c, &base, n->path[i], n->plens[i], &f))
                return false;
            if (!f) {
                out->u.b = false;
                return true;
            }
            base = *f;
        }
        out->u.b = true;
        return true;
    }
    case N_LIKE: {
        pval a;
        if (!ev(c, n->kids[0], &a))
            return false;
        if (a.kind != PV_STR)
            return type_err(c, "like", "string", &a);
        out->kind = PV_BOOL;
        out->u.b = like_match(a.u.s.p, a.u.s.n, n->pat);
        return true;
    }
    case N_IS: {
        pval a;
        if (!ev(c, n->kids[0], &a))
            return false;
        if (a.kind != PV_ENTITY)
            return type_err(c, "is", "entity", &a);
        out->kind = PV_BOOL;
        out->u.b = a.u.e->tlen == n->nlen && pol_bytes_eq(a.u.e->type, n->name, n->nlen);
        if (!out->u.b || n->nkids < 2)
            return true;
        pval b;
        if (!ev(c, n->kids[1], &b))
            return false;
        if (b.kind == PV_ENTITY) {
            out->u.b = in_entity(c, a.u.e, b.u.e);
            return true;
        }
        if (b.kind != PV_SET)
            return type_err(c, "in", "entity or set of entities", &b);
        for (uint32_t i = 0; i < b.u.set.n; i++)
            if (b.u.set.v[i].kind != PV_ENTITY)
                return type_err(c, "in", "set of entities", &b.u.set.v[i]);
        out->u.b = false;
        for (uint32_t i = 0; i < b.u.set.n && !out->u.b; i++)
            out->u.b = in_entity(c, a.u.e, b.u.set.v[i].u.e);
        return true;
    }
    case N_ATTR: {
        pval base;
        if (!ev(c, n->kids[0], &base))
            return false;
        if (base.kind == PV_ENTITY) { /* context.case.opened: the hint serves here too */
            const struct cu_policy_entity *e = find_ent(c, base.u.e);
            const pval *r = e ? fields_get(n, e->attrs, e->nattrs) : NULL;
            if (r) {
                *out = *r;
                return true;
            }
        }
        return get_attr(c, &base, n->name, n->nlen, out);
    }
    case N_SET: {
        pval *v = cu_arena_alloc(c->scratch, sizeof *v * (n->nkids ? n->nkids : 1));
        if (!v) {
            c->oom = true;
            return efail(c, "out of scratch memory");
        }
        for (uint32_t i = 0; i < n->nkids; i++)
            if (!ev(c, n->kids[i], &v[i]))
                return false;
        out->kind = PV_SET;
        out->u.set.v = v;
        out->u.set.n = n->nkids;
        return true;
    }
    case N_RECORD: {
        pfield *f = cu_arena_alloc(c->scratch, sizeof *f * (n->nkids ? n->nkids : 1));
        if (!f) {
            c->oom = true;
            return efail(c, "out of scratch memory");
        }
        for (uint32_t i = 0; i < n->nkids; i++) {
            f[i].key = n->keys[i];
            f[i].klen = n->klens[i];
            if (!ev(c, n->kids[i], &f[i].v))
                return false;
        }
        pol_rec_sort(f, n->nkids);
        out->kind = PV_RECORD;
        out->u.rec.f = f;
        out->u.rec.n = n->nkids;
        return true;
    }
    case N_CALL:
        return ev_call(c, n, out);
    }
    return efail(c, "internal: unknown node");
}

/* -------------------------------------------------------------- scope */

/* The type part of an `is T in E` scope on part w (its `in` part the index
 * decided: the policy is marked through E's uid, the entity's own or an
 * ancestor's). */
static bool scope_type_ok(const ectx *c, const pscope *sc, int w)
{
    const puid *u = c->var[w].u.e;
    return u->tlen == sc->tlen && pol_bytes_eq(u->type, sc->type, sc->tlen);
}

typedef struct near {
    uint32_t pol;
    uint32_t progress; /* top-level conjuncts passed */
    const node *fail;  /* the conjunct (or unless condition) that failed */
    bool unless;
    uint32_t cond;     /* the condition evaluation stopped in */
    const char *err;
} near;

/* 1 satisfied, 0 not, -1 error (c->err set).  Conditions are evaluated one
 * top-level conjunct at a time: && short-circuits left to right, so this
 * gives Cedar's result and errors, and tells how far the policy got (for
 * explanations) at no extra cost. */
static int eval_cond(ectx *c, const pcond *cd, near *r, uint32_t k0)
{
    node *const *conj = cd->unless ? &cd->expr : cd->conj;
    uint32_t nconj = cd->unless ? 1 : cd->nconj;
    for (uint32_t k = k0; k < nconj; k++) {
        pval v;
        r->fail = conj[k];
        r->unless = cd->unless;
        if (!ev_shape(c, conj[k], &v)) {
            r->err = c->err;
            return -1;
        }
        if (v.kind != PV_BOOL) {
            type_err(c, nconj > 1 ? "&&" : cd->unless ? "unless" : "when", "bool", &v);
            r->err = c->err;
            return -1;
        }
        if (v.u.b == cd->unless)
            return 0;
        r->progress++;
    }
    return 1;
}

static void near_init(near *r)
{
    r->progress = 0;
    r->fail = NULL;
    r->err = NULL;
    r->unless = false;
    r->cond = 0;
}

/* resume: every step of the policy's guard prefix is known to have passed
 * (guard.c, invariant 1), so evaluation starts after it. */
static int eval_conds(ectx *c, const policy *p, near *r, bool resume)
{
    near_init(r);
    uint32_t i = 0, k0 = 0;
    if (resume) {
        r->progress = p->npre;
        i = p->pre_cond;
        k0 = p->pre_conj;
    }
    for (; i < p->nconds; i++, k0 = 0) {
        r->cond = i;
        int x = eval_cond(c, &p->conds[i], r, k0);
        if (x <= 0)
            return x;
    }
    r->fail = NULL;
    return 1;
}

/* Both values of the split attribute (flip) for a policy that reads it: a
 * condition that does not read it is evaluated once while both are still
 * satisfied (their progress is then equal: every earlier condition passed
 * whole in both), the others once per value.  Same results and near
 * records as eval_conds under each value. */
static void eval_conds_split(ectx *c, const policy *p, uint32_t cmask, pval *flip, near *nr[2], int res[2])
{
    bool alive[2] = {true, true};
    near_init(nr[0]);
    near_init(nr[1]);
    res[0] = res[1] = 1;
    for (uint32_t i = 0; i < p->nconds && (alive[0] || alive[1]); i++) {
        const pcond *cd = &p->conds[i];
        bool reads = i >= 32 || (cmask >> i & 1);
        if (!reads && alive[0] && alive[1]) {
            int x = eval_cond(c, cd, nr[0], 0);
            nr[1]->progress = nr[0]->progress;
            nr[1]->fail = nr[0]->fail;
            nr[1]->unless = nr[0]->unless;
            nr[1]->err = nr[0]->err;
            if (x <= 0) {
                res[0] = res[1] = x;
                alive[0] = alive[1] = false;
            }
            continue;
        }
        for (int v = 0; v < 2; v++) {
            if (!alive[v])
                continue;
            flip->u.b = v == 1;
            int x = eval_cond(c, cd, nr[v], 0);
            if (x <= 0) {
                res[v] = x;
                alive[v] = false;
            }
        }
    }
    for (int v = 0; v < 2; v++)
        if (alive[v])
            nr[v]->fail = NULL;
}

/* ------------------------------------------------------------ indexes */

static const pidx_ent *idx_find(const pidx *x, uint64_t h, const puid *u, const char *t, uint32_t tl)
{
    if (!x->cap)
        return NULL;
    size_t mask = x->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const pidx_ent *s = &x->slots[i];
        if (!s->cap)
            return NULL;
        if (s->hash == h && ((u && s->uid && pol_uid_eq(u, s->uid)) ||
                             (!u && !s->uid && s->tlen == tl && pol_bytes_eq(s->type, t, tl))))
            return s;
    }
}

static void mark(uint64_t *bits, const uint32_t *pols, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        bits[pols[i] >> 6] |= UINT64_C(1) << (pols[i] & 63);
}

/* Marks from an ancestor: an `in` scope holds through it, an `==` does not. */
static void mark_anc(const cu_policy_set *set, int w, uint64_t *bits, const uint32_t *pols, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (set->pols[pols[i]].sc[w].kind != SC_EQ)
            bits[pols[i] >> 6] |= UINT64_C(1) << (pols[i] & 63);
}

/* After this, a policy marked for part w satisfies its scope on w, except
 * an `is T in E` scope whose type is still to check: the uid key matched the
 * entity itself (==, in), its type (is) or an ancestor (in, in [..]). */
static void mark_ent(const pidx_ent *s, uint64_t *bits, uint32_t words)
{
    if (s->bits)
        for (uint32_t i = 0; i < words; i++)
            bits[i] |= s->bits[i];
    else
        mark(bits, s->pols, s->n);
}

static void candidates(ectx *c, int w, uint64_t *bits)
{
    const pidx *x = &c->set->idx[w];
    const puid *u = c->var[w].u.e;
    uint32_t words = (c->set->n + 63) / 64;
    if (x->anybits)
        for (uint32_t i = 0; i < words; i++)
            bits[i] |= x->anybits[i];
    const pidx_ent *s = idx_find(x, u->hash, u, NULL, 0);
    if (s)
        mark_ent(s, bits, words);
    s = idx_find(x, pol_hash(u->type, u->tlen, 0x5bd1e995) ^ 0x9e3779b97f4a7c15ull, NULL, u->type, u->tlen);
    if (s)
        mark_ent(s, bits, words);
    const struct cu_policy_entity *e = c->ent[w];
    if (e)
        for (uint32_t i = 0; i < e->nanc; i++) {
            s = idx_find(x, e->anc[i]->hash, e->anc[i], NULL, 0);
            if (s && s->abits)
                for (uint32_t k = 0; k < words; k++)
                    bits[k] |= s->abits[k];
            else if (s)
                mark_anc(c->set, w, bits, s->pols, s->n);
        }
}

/* -------------------------------------------------------- explanation */

static const char *node_text(ectx *c, const node *n) { return pol_node_text(c->scratch, c->set->src, n); }

/* @reason text with {principal}, {action}, {resource} replaced by ids;
 * text with no '{' is the set's own (it lives as long as the set, as the
 * answer's policy ids do). */
static const char *reason_text(ectx *c, const char *r)
{
    static const char *names[] = {"{principal}", "{action}", "{resource}"};
    if (!strchr(r, '{'))
        return r;
    size_t cap = strlen(r) + 1;
    for (int w = 0; w < 3; w++)
        for (const char *q = strstr(r, names[w]); q; q = strstr(q + 1, names[w]))
            cap += c->var[w].u.e->ilen;
    char *o = cu_arena_alloc(c->scratch, cap);
    if (!o)
        return NULL;
    size_t k = 0;
    while (*r) {
        int hit = -1;
        for (int w = 0; w < 3 && hit < 0 && *r == '{'; w++)
            if (strncmp(r, names[w], strlen(names[w])) == 0)
                hit = w;
        if (hit >= 0) {
            memcpy(o + k, c->var[hit].u.e->id, c->var[hit].u.e->ilen);
            k += c->var[hit].u.e->ilen;
            r += strlen(names[hit]);
        } else
            o[k++] = *r++;
    }
    o[k] = 0;
    return o;
}

static void explain(ectx *c, const near *nears, uint32_t nnear, cu_policy_answer *ans)
{
    if (nnear == 0) {
        ans->explanation = "no permit policy applies to this principal, action and resource";
        return;
    }
    near best = nears[0];
    for (uint32_t i = 1; i < nnear; i++)
        if (nears[i].progress > best.progress)
            best = nears[i];
    const policy *p = &c->set->pols[best.pol];
    ans->explain_policy = p->id;
    ans->explain_condition = best.fail->text ? best.fail->text : node_text(c, best.fail);
    const char *ct = ans->explain_condition ? ans->explain_condition : "?";
    if (p->reason) {
        ans->explanation = reason_text(c, p->reason);
        return;
    }
    size_t cap = strlen(ct) + strlen(p->id) + (best.err ? strlen(best.err) : 0) + 96;
    char *o = cu_arena_alloc(c->scratch, cap);
    if (!o)
        return;
    if (best.err)
        snprintf(o, cap, "permit %s did not apply: evaluating `%s` failed: %s", p->id, ct, best.err);
    else if (best.unless)
        snprintf(o, cap, "permit %s did not apply: its unless condition `%s` held", p->id, ct);
    else
        snprintf(o, cap, "permit %s did not apply: `%s` was false", p->id, ct);
    ans->explanation = o;
}

/* --------------------------------------------------------- authorise */

/* The bookkeeping of one answer: satisfied permits and forbids, the permits
 * that matched in scope but were not satisfied (for explanations), errors. */
typedef struct tally {
    uint32_t *permits, *forbids;
    uint32_t np, nf;
    near *nears;
    uint32_t nn;
    cu_policy_error *errs;
    uint32_t ne;
} tally;

/* The bytes a tally of ncand candidates takes (a multiple of 16). */
static size_t tally_size(uint32_t ncand)
{
    uint32_t n = ncand ? ncand : 1;
    size_t ids = (sizeof(uint32_t) * 2 * n + 15) & ~(size_t)15, nb = (sizeof(near) * n + 15) & ~(size_t)15;
    return ids + nb + ((sizeof(cu_policy_error) * n + 15) & ~(size_t)15);
}

/* A tally in m (tally_size(ncand) bytes, 16-aligned). */
static void tally_place(char *m, uint32_t ncand, tally *t)
{
    memset(t, 0, sizeof *t);
    uint32_t n = ncand ? ncand : 1;
    size_t ids = (sizeof(uint32_t) * 2 * n + 15) & ~(size_t)15, nb = (sizeof(near) * n + 15) & ~(size_t)15;
    t->permits = (uint32_t *)m;
    t->nears = (near *)(m + ids);
    t->errs = (cu_policy_error *)(m + ids + nb);
    t->forbids = t->permits + n;
}

/* Record the outcome r of policy i, whose near record is nr. */
static void tally_add(tally *t, const policy *p, uint32_t i, int r, const near *nr, const char *err)
{
    if (r > 0) {
        if (p->forbid)
            t->forbids[t->nf++] = i;
        else
            t->permits[t->np++] = i;
        return;
    }
    if (r < 0) {
        t->errs[t->ne].policy_id = p->id;
        t->errs[t->ne].message = err;
        t->ne++;
    }
    if (!p->forbid) {
        if (&t->nears[t->nn] != nr)
            t->nears[t->nn] = *nr;
        t->nn++;
    }
}

static bool tally_answer(ectx *c, const tally *t, cu_policy_answer *ans, bool with_explanation)
{
    const uint32_t *win = t->nf ? t->forbids : t->permits;
    uint32_t nwin = t->nf ? t->nf : t->np;
    ans->allow = t->nf == 0 && t->np > 0;
    const char **reasons = cu_arena_alloc(c->scratch, sizeof(char *) * (nwin ? nwin : 1));
    if (!reasons)
        return false;
    for (uint32_t i = 0; i < nwin; i++)
        reasons[i] = c->set->pols[win[i]].id;
    ans->reasons = reasons;
    ans->reason_index = win; /* the tally's array, in the scratch arena */
    ans->n_reasons = nwin;
    ans->errors = t->ne ? t->errs : NULL;
    ans->n_errors = t->ne;
    if (!ans->allow && t->nf == 0 && with_explanation) {
        explain(c, t->nears, t->nn, ans);
        if (c->oom)
            return false;
    }
    return true;
}

struct cu_policy_split {
    const cu_policy_set *set;
    char *key;
    uint32_t klen;
    uint64_t *reads; /* bit per policy */
    uint32_t *cmask; /* per policy: bit i set when condition i reads it (i >= 32: assumed) */
    uint64_t *gread; /* per guard slot, then per `has` guard: reads it */
    bool reads_tc;   /* some of those are the set's tc items (the memo's time comparisons) */
};

/* Does the expression read context.key, or the context as a whole? */
static bool node_reads(const node *n, const char *key, uint32_t kn)
{
    if (!n)
        return false;
    if ((n->op == N_ATTR || n->op == N_HAS) && n->nkids >= 1 && n->kids[0]->op == N_VAR &&
        n->kids[0]->var == VAR_CONTEXT) {
        const char *name = n->op == N_ATTR ? n->name : n->path[0];
        uint32_t nl = n->op == N_ATTR ? n->nlen : n->plens[0];
        if (pol_key_cmp(name, nl, key, kn) == 0)
            return true;
        for (uint32_t i = 1; i < n->nkids; i++)
            if (node_reads(n->kids[i], key, kn))
                return true;
        return false;
    }
    if (n->op == N_VAR)
        return n->var == VAR_CONTEXT;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (node_reads(n->kids[i], key, kn))
            return true;
    return false;
}

cu_rc cu_policy_split_new(const cu_policy_set *set, const char *key, cu_policy_split **out)
{
    if (!set || !key || !out)
        return cu_err_set(CU_ERR_INVAL, "policy split: a set and a key are needed");
    cu_policy_split *s = cu_calloc(1, sizeof *s);
    if (!s)
        return cu_err_set(CU_ERR_NOMEM, "policy split: out of memory");
    s->set = set;
    s->key = cu_strdup(key);
    s->klen = (uint32_t)strlen(key);
    s->reads = cu_calloc((set->n + 63) / 64 + 1, sizeof *s->reads);
    s->cmask = cu_calloc(set->n + 1, sizeof *s->cmask);
    s->gread = cu_calloc((set->nslots + set->nlone) / 64 + 1, sizeof *s->gread);
    if (!s->key || !s->reads || !s->cmask || !s->gread) {
        cu_policy_split_free(s);
        return cu_err_set(CU_ERR_NOMEM, "policy split: out of memory");
    }
    for (uint32_t i = 0; i < set->n; i++) {
        const policy *p = &set->pols[i];
        bool r = false;
        for (uint32_t k = 0; k < p->nconds; k++)
            if (k >= 32 || node_reads(p->conds[k].expr, s->key, s->klen)) {
                r = true;
                if (k < 32)
                    s->cmask[i] |= UINT32_C(1) << k;
            }
        if (r)
            s->reads[i >> 6] |= UINT64_C(1) << (i & 63);
    }
    /* a slot reads it when it is the attribute or the context itself */
    for (uint32_t j = 0; j < set->nslots; j++) {
        const pslot *sl = &set->slots[j];
        const node *root = sl->attr ? pol_slot_root(sl->attr) : NULL;
        if (sl->var == VAR_CONTEXT && (!root || pol_key_cmp(root->name, root->nlen, s->key, s->klen) == 0))
            s->gread[j >> 6] |= UINT64_C(1) << (j & 63);
    }
    for (uint32_t q = 0; q < set->nlone; q++) {
        const pguard *g = &set->guards[set->lone[q]];
        uint32_t j = set->nslots + q;
        bool r = false;
        if (g->kind == G_HAS)
            r = g->var == VAR_CONTEXT && pol_key_cmp(g->name, g->nlen, s->key, s->klen) == 0;
        if (g->kind == G_SETHAS || g->kind == G_INV) {
            const node *root = pol_slot_root(g->slot);
            r = g->var2 == VAR_CONTEXT || (root->kids[0]->var == VAR_CONTEXT &&
                                           pol_key_cmp(root->name, root->nlen, s->key, s->klen) == 0);
        }
        if (g->kind == G_BOOL)
            r = node_reads(g->cmp, s->key, s->klen);
        for (int k = 0; g->kind == G_CMP && k < 2; k++) {
            const node *x = g->cmp->kids[k];
            const node *root = x->op == N_ATTR ? pol_slot_root(x) : NULL;
            r = r || (root && root->kids[0]->var == VAR_CONTEXT &&
                      pol_key_cmp(root->name, root->nlen, s->key, s->klen) == 0);
        }
        if (r)
            s->gread[j >> 6] |= UINT64_C(1) << (j & 63);
    }
    for (uint32_t k = 0; set->item_tc && k < set->iwords; k++)
        s->reads_tc = s->reads_tc || (s->gread[k] & set->item_tc[k]);
    *out = s;
    return CU_OK;
}

void cu_policy_split_free(cu_policy_split *s)
{
    if (!s)
        return;
    cu_free(s->key);
    cu_free(s->reads);
    cu_free(s->cmask);
    cu_free(s->gread);
    cu_free(s);
}

bool cu_policy_split_reads(const cu_policy_split *s, size_t i)
{
    return s && i < s->set->n && (s->reads[i >> 6] >> (i & 63) & 1);
}

/* ------------------------------------------------------------- guards */

/* The entity u names, found as find_ent finds it, without its cache. */
static const struct cu_policy_entity *ent_of(const ectx *c, const puid *u)
{
    for (int w = 0; w < 3; w++)
        if (c->req->uid[w] == u)
            return c->ent[w];
    const struct cu_policy_entity *e = local_find(c->req, u);
    return e ? e : pol_ent_find(c->ents, u);
}

/* context.a.b: b of the entity (found as find_ent finds it, without its
 * cache) or record that context.a holds; NULL wherever Cedar would raise an
 * error (no a, a neither an entity nor a record, no such entity, no b). */
static const struct nest_memo *nest_root(const ectx *c, const node *root)
{
    struct nest_memo *m = c->nest;
    if (!m) { /* no cache (the principal's memo): a scratch one */
        static _Thread_local struct nest_memo one;
        m = &one;
        m->known = false;
    } else if (m[0].known && (m[0].name == root->name || /* the parser's one copy of each name (parse.c) */
                              (m[0].nlen == root->nlen && pol_bytes_eq(m[0].name, root->name, root->nlen)))) {
        return &m[0];
    } else if (m[1].known && (m[1].name == root->name ||
                              (m[1].nlen == root->nlen && pol_bytes_eq(m[1].name, root->name, root->nlen)))) {
        return &m[1];
    } else {
        m[1] = m[0];
    }
    m->name = root->name;
    m->nlen = root->nlen;
    m->known = true;
    m->b = fields_get(root, c->var[3].u.rec.f, c->var[3].u.rec.n);
    m->u = m->b && m->b->kind == PV_ENTITY ? m->b->u.e : NULL;
    m->e = m->u ? ent_of(c, m->u) : NULL;
    return m;
}

static __attribute__((noinline)) const pval *slot_read_nested(const ectx *c, const node *attr)
{
    const struct nest_memo *m = nest_root(c, attr->kids[0]);
    const pval *b = m->b;
    if (!b)
        return NULL;
    if (b->kind == PV_RECORD)
        return fields_get(attr, b->u.rec.f, b->u.rec.n);
    if (b->kind != PV_ENTITY) /* (a split attribute holds its current value in place) */
        return NULL;
    const struct cu_policy_entity *e = b->u.e == m->u ? m->e : ent_of(c, b->u.e);
    return e ? fields_get(attr, e->attrs, e->nattrs) : NULL;
}

/* A slot's value (NULL when reading it is an error). */
static inline const pval *slot_read(const ectx *c, uint8_t var, const node *attr)
{
    if (!attr)
        return &c->var[var];
    if (var == VAR_CONTEXT)
        return attr->kids[0]->op == N_VAR ? fields_get(attr, c->var[3].u.rec.f, c->var[3].u.rec.n)
                                          : slot_read_nested(c, attr);
    const struct cu_policy_entity *e = c->ent[var];
    return e ? fields_get(attr, e->attrs, e->nattrs) : NULL;
}

/* One guard's value on the slot's value v: 1, 0, or -1 for an error;
 * before its negation. */
static int guard_on_raw(const pguard *g, const pval *v)
{
    switch (g->kind) {
    case G_TRUTH:
        return v->kind == PV_BOOL ? v->u.b : -1;
    case G_NOT:
        return v->kind == PV_BOOL ? !v->u.b : -1;
    case G_EQ:
        return pol_val_eq(v, g->lit);
    case G_NE:
        return !pol_val_eq(v, g->lit);
    case G_IN:
        return set_contains(g->lit, v);
    case G_LIKE:
        return v->kind == PV_STR ? like_match(v->u.s.p, v->u.s.n, g->pat) : -1;
    }
    return -1;
}

static inline int guard_neg(const pguard *g, int r) { return r >= 0 && g->neg ? !r : r; }

static int guard_on(const pguard *g, const pval *v) { return guard_neg(g, guard_on_raw(g, v)); }

/* One guard's value for this request: 1, 0, or -1 when reading it is an
 * error (guard.c).  No error text is made: a policy that mentions an
 * erring guard is evaluated in full and gets Cedar's error itself. */
static int guard_eval(const ectx *c, const pguard *g);

/* A G_BOOL guard: Cedar's short-circuit over its leaves' values, walked
 * as the jumps guard.c compiled (bool_jumps): from leaf to leaf by each
 * one's value until the guard's own; a leaf that errs (or is not a bool)
 * makes the guard an error once reached.  A leaf's value is shared within
 * the request with the set's guard of the same text (or that negated). */
static int bool_eval(const ectx *c, const pguard *g)
{
    uint32_t l = g->bentry;
    for (;;) {
        int v;
        int32_t k = g->leaf_g ? g->leaf_g[l] : -1;
        if (k < 0 || !c->gval) {
            v = guard_eval(c, &g->leaf[l]);
        } else {
            bool neg = g->leaf_neg[l];
            v = c->gval[k];
            if (v == GV_UNKNOWN) {
                v = guard_eval(c, &g->leaf[l]);
                c->gval[k] = (int8_t)(v < 0 || !neg ? v : !v);
            } else if (v >= 0 && neg) {
                v = !v;
            }
        }
        if (v < 0)
            return -1;
        uint32_t nx = g->bnext[2 * l + (uint32_t)v];
        if (nx >= BOOL_FALSE)
            return nx == BOOL_TRUE;
        l = nx;
    }
}

static int guard_eval(const ectx *c, const pguard *g)
{
    if (g->kind == G_BOOL)
        return guard_neg(g, bool_eval(c, g));
    if (g->kind == G_PURE) { /* evaluated whole, in a copy of the context (its error text is not kept) */
        ectx e = *c;
        pval v;
        if (!ev(&e, g->cmp, &v) || v.kind != PV_BOOL)
            return -1;
        return guard_neg(g, v.u.b);
    }
    if (g->kind == G_HAS) {
        bool has;
        if (g->var == VAR_CONTEXT) {
            has = pol_rec_get(&c->var[3], g->name, g->nlen) != NULL;
        } else {
            const struct cu_policy_entity *e = c->ent[g->var];
            has = e && ent_attr(e, g->name, g->nlen) != NULL;
        }
        return guard_neg(g, has);
    }
    if (g->kind == G_SETHAS || g->kind == G_INV) {
        const pval *sv = slot_read(c, g->var, g->slot), *x = &c->var[g->var2];
        if (!sv)
            return -1;
        if (g->kind == G_SETHAS)
            return sv->kind == PV_SET ? guard_neg(g, set_contains(sv, x)) : -1;
        if (x->kind != PV_ENTITY || sv->kind != PV_ENTITY)
            return -1; /* an error, or a set: evaluated in full */
        if (pol_uid_eq(x->u.e, sv->u.e))
            return guard_neg(g, 1);
        const struct cu_policy_entity *e = ent_of(c, x->u.e);
        return guard_neg(g, e && pol_anc_has(e, sv->u.e));
    }
    if (g->kind == G_CMP) { /* left side first, as Cedar; both must be Longs */
        const node *n = g->cmp, *l = n->kids[0], *r = n->kids[1];
        const pval *a = l->op == N_LIT ? &l->lit : slot_read(c, pol_slot_root(l)->kids[0]->var, l);
        if (!a || a->kind != PV_LONG)
            return -1;
        const pval *b = r->op == N_LIT ? &r->lit : slot_read(c, pol_slot_root(r)->kids[0]->var, r);
        if (!b || b->kind != PV_LONG)
            return -1;
        int64_t x = a->u.l, y = b->u.l;
        return guard_neg(g, n->op == N_LT ? x < y : n->op == N_LE ? x <= y : n->op == N_GT ? x > y : x >= y);
    }
    const pval *v = slot_read(c, g->var, g->slot);
    return v ? guard_on(g, v) : -1;
}

static inline void or_into(uint64_t *dst, const uint64_t *b, uint32_t words)
{
    for (uint32_t i = 0; i < words; i++)
        dst[i] |= b[i];
}

/* The guards the candidates mention, slot by slot: kill gets the policies
 * a guard rules out, prot those mentioning a guard that errs (evaluated in
 * full, from the start).  reads: the split's mask of slots and `has`
 * guards read on their own that read its attribute (NULL: none); pick 0 runs the others, 1
 * those. */

/* A guard reading through context.a when the context has no a: it errs,
 * so the policies it mentions are protected, but not those whose prefix
 * tests `context has a` first (guard.c, invariant 4): that test rules them
 * out, and the guard is not read at all. */
static void nested_absent(const uint64_t *has_before, const uint64_t *mention, uint32_t words, uint64_t *prot)
{
    for (uint32_t i = 0; i < words; i++)
        prot[i] |= has_before ? mention[i] & ~has_before[i] : mention[i];
}

/* Does the context lack the context.a that item j (whose nest is given)
 * reads through?  From the request's mask of roots when it has one. */
static inline bool nest_absent(const ectx *c, uint32_t j, const node *nest)
{
    uint32_t r = c->set->item_root[j];
    return c->roots_known && r ? (c->absent >> (r - 1) & 1) : !nest_root(c, nest)->b;
}

/* Item j's guards (slot j, or lone guard j - nslots) into kill / prot. */
static void guard_item(const ectx *c, uint32_t j, uint32_t words, uint64_t *kill, uint64_t *prot)
{
    const cu_policy_set *set = c->set;
    if (j >= set->nslots) {
        const pguard *g = &set->guards[set->lone[j - set->nslots]];
        if (g->nest && nest_absent(c, j, g->nest)) {
            nested_absent(g->has_before, g->mention, words, prot);
            return;
        }
        int8_t *cv = c->gval ? &c->gval[set->lone[j - set->nslots]] : NULL;
        uint32_t hr = set->item_has_root[j];
        int r = cv && *cv != GV_UNKNOWN ? *cv
                : hr && c->roots_known ? guard_neg(g, !(c->absent >> (hr - 1) & 1)) /* `context has a`, a a root */
                                       : guard_eval(c, g);
        if (cv)
            *cv = (int8_t)r;
        or_into(r < 0 ? prot : kill, r < 0 ? g->mention : r ? g->need_false : g->need_true, words);
        return;
    }
    const pslot *sl = &set->slots[j];
    if (sl->nest && nest_absent(c, j, sl->nest)) {
        nested_absent(sl->has_before, sl->mention, words, prot);
        return;
    }
    const pval *v = slot_read(c, sl->var, sl->attr);
    if (!v) {
        or_into(prot, sl->mention, words);
        return;
    }
    if (sl->table) {
        uint32_t k = 0;
        if (v->kind == PV_STR) { /* the usual case, compared inline */
            uint32_t n = v->u.s.n;
            for (; k < sl->nlits; k++) {
                const pval *l = &sl->lits[k];
                if (l->kind == PV_STR && l->u.s.n == n && (n == 0 || l->u.s.p[0] == v->u.s.p[0]) &&
                    pol_bytes_eq(l->u.s.p, v->u.s.p, n))
                    break;
            }
        } else {
            while (k < sl->nlits && !pol_val_eq(&sl->lits[k], v))
                k++;
        }
        or_into(kill, sl->kill + (size_t)k * words, words);
    }
    if (sl->bkill) { /* only S and !S on it */
        if (v->kind == PV_BOOL)
            or_into(kill, sl->bkill + (v->u.b ? words : 0), words);
        else
            or_into(prot, sl->bmention, words);
        return;
    }
    for (uint32_t q = 0; q < sl->nother; q++) {
        const pguard *g = &set->guards[sl->other[q]];
        int r = guard_on(g, v);
        or_into(r < 0 ? prot : kill, r < 0 ? g->mention : r ? g->need_false : g->need_true, words);
    }
}

/* The items (slots and lone guards) the candidates' prefixes mention,
 * but not those in skip (decided by memos): over the items (an item is
 * read when a policy mentioning it is a candidate) or over the candidates,
 * whichever is fewer words to touch. */
static void guards_rel_all(const cu_policy_set *set, const uint64_t *cand, uint32_t ncand, uint32_t words,
                           const uint64_t *skip, uint64_t *rel)
{
    uint32_t items = set->nslots + set->nlone, iw = set->iwords;
    memset(rel, 0, sizeof(uint64_t) * iw);
    if ((uint64_t)items * words <= 3 * (uint64_t)ncand * iw) { /* a candidate costs about three times a word */
        for (uint32_t k = 0; k < iw; k++)
            for (uint64_t m = ~skip[k] & (k + 1 < iw || !(items & 63) ? ~UINT64_C(0) : (UINT64_C(1) << (items & 63)) - 1);
                 m; m &= m - 1) {
                uint32_t j = k * 64 + (uint32_t)__builtin_ctzll(m);
                const uint64_t *ip = set->item_pols + (size_t)j * words;
                uint64_t any = 0;
                for (uint32_t i = 0; i < words; i++)
                    any |= ip[i] & cand[i];
                if (any)
                    rel[k] |= UINT64_C(1) << (j & 63);
            }
        return;
    }
    for (uint32_t wi = 0; wi < words; wi++)
        for (uint64_t m = cand[wi]; m; m &= m - 1) {
            const uint64_t *pi = &set->pol_items[(size_t)(wi * 64 + (uint32_t)__builtin_ctzll(m)) * iw];
            for (uint32_t k = 0; k < iw; k++)
                rel[k] |= pi[k];
        }
    for (uint32_t k = 0; k < iw; k++)
        rel[k] &= ~skip[k];
}

/* Out of rel, the items read through a context.a the context lacks
 * (absent: a bit per set->nroot) whose candidates all test `context has a`
 * before them: reading one would only protect the others (nested_absent),
 * and there are none, so it adds nothing. */
static void rel_drop_absent(const cu_policy_set *set, const uint64_t *cand, uint32_t words, uint32_t absent,
                            uint64_t *rel)
{
    for (uint32_t k = 0; k < set->iwords; k++)
        for (uint64_t m = rel[k]; m; m &= m - 1) {
            uint32_t j = k * 64 + (uint32_t)__builtin_ctzll(m);
            uint32_t r = set->item_root[j];
            if (!r || !(absent >> (r - 1) & 1))
                continue;
            const uint64_t *mention, *hb;
            if (j >= set->nslots) {
                const pguard *g = &set->guards[set->lone[j - set->nslots]];
                mention = g->mention;
                hb = g->has_before;
            } else {
                mention = set->slots[j].mention;
                hb = set->slots[j].has_before;
            }
            uint64_t any = 0;
            for (uint32_t i = 0; i < words; i++)
                any |= mention[i] & ~hb[i] & cand[i];
            if (!any)
                rel[k] &= ~(UINT64_C(1) << (j & 63));
        }
}

static void guards_rel(const cu_policy_set *set, const uint64_t *cand, uint32_t ncand, uint32_t words,
                       const uint64_t *skip, uint32_t absent, uint64_t *rel)
{
    guards_rel_all(set, cand, ncand, words, skip, rel);
    if (absent)
        rel_drop_absent(set, cand, words, absent, rel);
}

/* guards_rel through a small cache per thread, for sets of at most 128
 * policies and 128 items: rel depends only on the set, the candidates and
 * which memos the request brought (skip is made from those) and which
 * context.a roots the context lacks (guards_rel), and a force's
 * requests have few distinct candidate sets (an action, the officer's role
 * and unit, the record's system and type), so most requests find theirs.
 * The key is the whole of that (a set's gen is never reused in a process);
 * an entry is overwritten by the next key that hashes to it. */
#define REL_CACHE 64
static _Thread_local struct rel_memo {
    uint64_t gen; /* 0: empty */
    uint64_t cand[2], rel[2];
    uint32_t memos;
} rel_cache[REL_CACHE];

static void guards_rel_cached(const cu_policy_set *set, const uint64_t *cand, uint32_t ncand, uint32_t words,
                              const uint64_t *skip, uint32_t memos, uint32_t absent, uint64_t *rel)
{
    if (words > 2 || set->iwords > 2) {
        guards_rel(set, cand, ncand, words, skip, absent, rel);
        return;
    }
    memos |= absent << 4; /* part of the key too */
    uint64_t c0 = words ? cand[0] : 0, c1 = words > 1 ? cand[1] : 0;
    uint64_t h = (c0 ^ (c1 * UINT64_C(0x9e3779b97f4a7c15)) ^ (set->gen << 3) ^ memos) * UINT64_C(0xff51afd7ed558ccd);
    struct rel_memo *m = &rel_cache[h >> 58]; /* 64 entries: the top 6 bits */
    if (m->gen == set->gen && m->memos == memos && m->cand[0] == c0 && m->cand[1] == c1) {
        memcpy(rel, m->rel, sizeof(uint64_t) * set->iwords);
        return;
    }
    guards_rel(set, cand, ncand, words, skip, absent, rel);
    m->gen = set->gen;
    m->memos = memos;
    m->cand[0] = c0;
    m->cand[1] = c1;
    m->rel[0] = m->rel[1] = 0;
    memcpy(m->rel, rel, sizeof(uint64_t) * set->iwords);
}

/* The guards of the items in rel, once each: kill gets the policies a
 * guard rules out, prot those mentioning a guard that errs (evaluated in
 * full, from the start).  reads: the split's mask of items reading its
 * attribute (NULL: none); pick 0 runs the others, 1 those.  only (NULL:
 * all): run only these items (a memo's). */
static void guards_run(const ectx *c, const uint64_t *rel, uint32_t words, const uint64_t *reads, int pick,
                       const uint64_t *only, uint64_t *kill, uint64_t *prot)
{
    const cu_policy_set *set = c->set;
    memset(kill, 0, sizeof(uint64_t) * words);
    memset(prot, 0, sizeof(uint64_t) * words);
    for (uint32_t k = 0; k < set->iwords; k++) {
        uint64_t m = rel[k];
        if (only)
            m &= only[k];
        if (reads)
            m &= pick ? reads[k] : ~reads[k];
        else if (pick)
            m = 0;
        for (; m; m &= m - 1)
            guard_item(c, k * 64 + (uint32_t)__builtin_ctzll(m), words, kill, prot);
    }
}

/* The resource's guards (set->item_resource) by the caller's class key
 * (cu_policy_request_resource_key): a small cache per thread, keyed by the
 * set (its gen, never reused in a process) and the key, for sets of at most
 * 128 policies; on a miss they are run (all of them, candidates or not, as
 * a memo's are) and kept.  The caller vouches that requests with the same
 * key have resources whose attributes those guards read are the same. */
#define RES_CACHE 1024
static _Thread_local struct res_memo {
    uint64_t gen; /* 0: empty */
    uint64_t dom, key;
    uint64_t kill[2], prot[2];
} res_cache[RES_CACHE];

static const struct res_memo *res_guards(const ectx *c, uint64_t dom, uint64_t key)
{
    const cu_policy_set *set = c->set;
    uint64_t h = (key ^ (dom * UINT64_C(0xc2b2ae3d27d4eb4f)) ^ (set->gen * UINT64_C(0x9e3779b97f4a7c15))) *
                 UINT64_C(0xff51afd7ed558ccd);
    struct res_memo *m = &res_cache[h >> 54]; /* 1024 entries: the top 10 bits */
    if (m->gen == set->gen && m->dom == dom && m->key == key)
        return m;
    uint64_t all[1024 / 64 + 1];
    memset(all, 0xff, sizeof all);
    m->gen = 0;
    memset(m->kill, 0, sizeof m->kill);
    memset(m->prot, 0, sizeof m->prot);
    guards_run(c, all, (set->n + 63) / 64, NULL, 0, set->item_resource, m->kill, m->prot);
    m->gen = set->gen;
    m->dom = dom;
    m->key = key;
    return m;
}

/* A population count without a call into libgcc (the build targets no
 * particular CPU, so the compiler does not use the instruction). */
static inline uint32_t pop64(uint64_t x)
{
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (uint32_t)((x * 0x0101010101010101ull) >> 56);
}

static bool bit(const uint64_t *b, uint32_t i) { return b[i >> 6] >> (i & 63) & 1; }

/* The index decided every scope but the type part of `is T in E`. */
static bool scopes_rest_ok_slow(ectx *c, const policy *p)
{
    return !((p->sc[0].kind == SC_IS_IN && !scope_type_ok(c, &p->sc[0], 0)) ||
             (p->sc[1].kind == SC_IS_IN && !scope_type_ok(c, &p->sc[1], 1)) ||
             (p->sc[2].kind == SC_IS_IN && !scope_type_ok(c, &p->sc[2], 2)));
}

/* The same, without touching the policy unless it has such a scope. */
static inline bool scopes_rest_ok(ectx *c, const policy *p)
{
    uint32_t i = (uint32_t)(p - c->set->pols);
    return !(c->set->is_in[i >> 6] >> (i & 63) & 1) || scopes_rest_ok_slow(c, p);
}

/* The near records of every permit in scope, in set order, for an
 * explanation: those evaluated (t's, in the same order) and those a guard
 * ruled out, whose record follows from the guard values: the steps passed
 * and the first that failed (guard.c, invariant 1).  Only on a deny that no
 * forbid decided. */
static bool nears_with_killed(ectx *c, const uint64_t *cand, const uint64_t *kill, uint32_t words, tally *t)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < words; i++)
        n += (uint32_t)pop64(cand[i]);
    near *all = cu_arena_alloc(c->scratch, sizeof *all * (n ? n : 1));
    if (!all)
        return false;
    uint32_t k = 0, m = 0;
    for (uint32_t wi = 0; wi < words; wi++) {
        uint64_t bits = cand[wi];
        while (bits) {
            uint32_t i = wi * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            const policy *p = &c->set->pols[i];
            if (!bit(kill, i)) {
                if (k < t->nn && t->nears[k].pol == i)
                    all[m++] = t->nears[k++];
                continue;
            }
            if (p->forbid || !scopes_rest_ok(c, p))
                continue;
            near *r = &all[m++];
            near_init(r);
            r->pol = i;
            for (uint32_t s = 0; s < p->npre; s++) {
                r->fail = p->pre[s].n;
                r->unless = p->pre[s].unless;
                if (guard_eval(c, &c->set->guards[p->pre[s].guard]) != p->pre[s].want)
                    break;
                r->progress++;
            }
        }
    }
    t->nears = all;
    t->nn = m;
    return true;
}

/* A comparison tc guard g (guard.c, invariant 5) with the context value x
 * and the principal's value p, both Longs: 1 or 0, after its negation. */
static int tc_value(const pguard *g, int64_t x, int64_t p)
{
    const node *n = g->cmp;
    bool ctx_left = n->kids[0]->kids[0]->var == VAR_CONTEXT;
    int64_t a = ctx_left ? x : p, b = ctx_left ? p : x;
    return guard_neg(g, n->op == N_LT ? a < b : n->op == N_LE ? a <= b : n->op == N_GT ? a > b : a >= b);
}

/* The interval of x among the sorted thresholds t[0..n): 2k for below t[k]
 * (2n: above them all), 2k + 1 for equal to t[k]. */
static uint32_t tc_interval(const int64_t *t, uint32_t n, int64_t x)
{
    uint32_t k = 0;
    while (k < n && t[k] < x)
        k++;
    return k < n && t[k] == x ? 2 * k + 1 : 2 * k;
}

/* The principal's memoised tc guards for this request: one read of the
 * context slot; when it is not a Long every tc guard errs (each needs both
 * sides Longs), so the policies mentioning them are protected, as reading
 * each would have done. */
static void tc_apply(const ectx *c, const struct cu_policy_entity *pe, uint32_t words, uint64_t *kill, uint64_t *prot)
{
    const pval *x = slot_read(c, VAR_CONTEXT, c->set->tc_ctx);
    if (!x || x->kind != PV_LONG) {
        or_into(prot, c->set->tc_mention, words);
        return;
    }
    or_into(kill, pe->memo_tc_kill + (size_t)tc_interval(pe->memo_tc, pe->memo_ntc, x->u.l) * words, words);
}

/* The memo's part for the tc guards (guard.c, invariant 5): a guard whose
 * principal side is not a Long errs whatever the context holds (into the
 * memo's prot); the others are decided for each interval, from one value
 * inside it (an empty interval's bitset is never used). */
static bool tc_memo(ectx *c, struct cu_policy_entity *ent, uint32_t words, uint64_t *prot, cu_arena *a)
{
    const cu_policy_set *set = c->set;
    uint32_t items = set->nslots + set->nlone, n = 0;
    int64_t t[64];
    const pguard *gv[64];
    int64_t pv[64];
    uint32_t ng = 0;
    for (uint32_t j = set->nslots; j < items; j++) {
        if (!(set->item_tc[j >> 6] >> (j & 63) & 1))
            continue;
        const pguard *g = &set->guards[set->lone[j - set->nslots]];
        const node *ps = g->cmp->kids[0]->kids[0]->var == VAR_PRINCIPAL ? g->cmp->kids[0] : g->cmp->kids[1];
        const pval *v = slot_read(c, VAR_PRINCIPAL, ps);
        if (!v || v->kind != PV_LONG) {
            or_into(prot, g->mention, words);
            continue;
        }
        if (ng == 64)
            return true; /* too many to memoise: read one by one as before */
        gv[ng] = g;
        pv[ng++] = v->u.l;
        uint32_t k = 0;
        while (k < n && t[k] < v->u.l)
            k++;
        if (k < n && t[k] == v->u.l)
            continue;
        memmove(&t[k + 1], &t[k], sizeof *t * (n - k));
        t[k] = v->u.l;
        n++;
    }
    int64_t *tt = cu_arena_alloc(a, sizeof *tt * (n ? n : 1));
    uint64_t *kill = cu_arena_alloc(a, sizeof(uint64_t) * words * (2 * n + 1));
    if (!tt || !kill)
        return false;
    memcpy(tt, t, sizeof *tt * n);
    memset(kill, 0, sizeof(uint64_t) * words * (2 * n + 1));
    for (uint32_t r = 0; r <= 2 * n; r++) {
        /* a value inside interval r (an empty one, between neighbours or
         * past INT64's ends, keeps its bitset empty: no value selects it) */
        int64_t x;
        if (r & 1)
            x = t[r / 2];
        else if (r / 2 < n && (r == 0 ? t[0] == INT64_MIN : t[r / 2 - 1] + 1 == t[r / 2]))
            continue;
        else if (r / 2 == n && n && t[n - 1] == INT64_MAX)
            continue;
        else
            x = r / 2 < n ? t[r / 2] - 1 : n ? t[n - 1] + 1 : 0;
        for (uint32_t q = 0; q < ng; q++)
            or_into(kill + (size_t)r * words, tc_value(gv[q], x, pv[q]) ? gv[q]->need_false : gv[q]->need_true,
                    words);
    }
    ent->memo_tc = tt;
    ent->memo_ntc = n;
    ent->memo_tc_kill = kill;
    return true;
}

/* One pass over the candidates; with a split, two tallies (the attribute
 * false, then true), otherwise one. */
/* The walk over the candidates left by the guards, in set order: one for
 * the first answer and, lazily, one for the second (tier 1).  The first
 * evaluates each candidate whose scope holds (both values of the split
 * attribute at once when eager) and, when lazy, remembers each outcome in
 * order/memo_r/memo_n (2: evaluate again); the second takes a remembered
 * outcome when it does not depend on the attribute and evaluates the rest.
 * prot: the policies a guard could not decide (evaluated from the start;
 * NULL: no guards ran, every policy from the start).  False: scratch full. */
typedef struct walk {
    const cu_policy_split *split;
    bool lazy;
    int nv;
    pfield *flip;
    const uint64_t *prot;
    tally *t;
    uint32_t *order, nord;
    int8_t *memo_r;
    near *memo_n;
} walk;

/* (inlined: each call's tier is a constant, so each gets the code of its
 * own walk, with the walk's fields in registers) */
static inline __attribute__((always_inline)) bool walk_candidates(ectx *c, walk *wk, const uint64_t *cand,
                                                                  const uint64_t *kill, uint32_t words, int tier)
{
    const cu_policy_set *set = c->set;
    const cu_policy_split *split = wk->split;
    tally *t = &wk->t[tier];
    uint32_t k = 0; /* tier 1: the position in the first walk's order */
    for (uint32_t wi = 0; wi < words; wi++) {
        uint64_t m = cand[wi] & ~kill[wi];
        while (m) {
            uint32_t i = wi * 64 + (uint32_t)__builtin_ctzll(m);
            m &= m - 1;
            const policy *p = &set->pols[i];
            if (tier) {
                while (k < wk->nord && wk->order[k] < i)
                    k++;
                if (k < wk->nord && wk->order[k] == i && wk->memo_r[k] != 2) {
                    tally_add(t, p, i, wk->memo_r[k], &wk->memo_n[k], wk->memo_n[k].err);
                    continue;
                }
            }
            if (!scopes_rest_ok(c, p))
                continue;
            bool twice = !tier && split && (split->reads[i >> 6] >> (i & 63) & 1);
            if (twice && !wk->lazy) {
                near *nr[2] = {&wk->t[0].nears[wk->t[0].nn], &wk->t[1].nears[wk->t[1].nn]};
                int res[2];
                nr[0]->pol = nr[1]->pol = i;
                eval_conds_split(c, p, split->cmask[i], &wk->flip->v, nr, res);
                if (c->oom)
                    return false;
                for (int v = 0; v < 2; v++)
                    tally_add(&wk->t[v], p, i, res[v], nr[v], nr[v]->err);
                continue;
            }
            if (!tier && wk->flip)
                wk->flip->v.u.b = false;
            near *nr = &t->nears[t->nn];
            nr->pol = i;
            int r = eval_conds(c, p, nr, wk->prot && !bit(wk->prot, i));
            if (c->oom)
                return false;
            if (tier) {
                tally_add(t, p, i, r, nr, nr->err);
            } else if (wk->lazy) {
                /* 2: evaluate again for the second answer, unless evaluation
                 * stopped (unsatisfied or an error) before any condition
                 * reading the attribute: then the second gives the same */
                bool again = twice && !(r <= 0 && nr->cond < 32 &&
                                        (split->cmask[i] & ((UINT64_C(2) << nr->cond) - 1)) == 0);
                wk->order[wk->nord] = i;
                wk->memo_r[wk->nord] = (int8_t)(again ? 2 : r);
                wk->memo_n[wk->nord++] = *nr;
                tally_add(t, p, i, r, nr, nr->err);
            } else {
                for (int v = 0; v < wk->nv; v++)
                    tally_add(&wk->t[v], p, i, r, nr, c->err);
            }
        }
    }
    return true;
}

static cu_rc authorise(const cu_policy_set *set, const cu_policy_split *split, const cu_policy_entities *entities,
                       const cu_policy_request *req, cu_arena *scratch, cu_policy_answer *ans, bool lazy)
{
    int nv = split ? 2 : 1;
    for (int v = 0; v < nv; v++)
        memset(&ans[v], 0, sizeof ans[v]);
    if (!set || !req || !scratch)
        return cu_err_set(CU_ERR_INVAL, "policy eval: missing argument");
    if (entities && !entities->finalized)
        return cu_err_set(CU_ERR_STATE, "policy eval: entities changed since finalize");
    if (split && split->set != set)
        return cu_err_set(CU_ERR_INVAL, "policy eval: the split was made for another policy set");
    struct nest_memo nest[2] = {{0}};
    ectx c = {.set = set, .ents = entities, .req = req, .scratch = scratch, .nest = nest};
    for (int w = 0; w < 3; w++) {
        c.var[w].kind = PV_ENTITY;
        c.var[w].u.e = req->uid[w];
        c.ent[w] = req->ent[w];
        if (!c.ent[w])
            c.ent[w] = local_find(req, req->uid[w]);
        if (!c.ent[w])
            c.ent[w] = pol_ent_find(entities, req->uid[w]);
    }
    c.var[3].kind = PV_RECORD;
    c.var[3].u.rec.f = req->ctx;
    c.var[3].u.rec.n = req->nctx;
    uint32_t words = (set->n + 63) / 64;
    /* the candidate bitsets and (split) the context's copy: one block */
    size_t bb = sizeof(uint64_t) * 8 * (words ? words : 1);
    char *blk = cu_arena_alloc(scratch, bb + (split ? sizeof(pfield) * (req->nctx ? req->nctx : 1) : 0));
    if (!blk)
        goto oom;
    uint64_t *bits = (uint64_t *)blk;
    pfield *flip = NULL;
    if (split) {
        /* a private copy of the context whose split attribute is flipped */
        pfield *ctx = (pfield *)(blk + bb);
        memcpy(ctx, req->ctx, sizeof *ctx * req->nctx);
        for (uint32_t i = 0; i < req->nctx && !flip; i++)
            if (pol_key_cmp(ctx[i].key, ctx[i].klen, split->key, split->klen) == 0)
                flip = &ctx[i];
        if (!flip)
            return cu_err_set(CU_ERR_INVAL, "policy eval: the context has no \"%s\"", split->key);
        flip->v.kind = PV_BOOL;
        flip->v.u.b = false;
        c.var[3].u.rec.f = ctx;
    }

    uint64_t *cand = bits, *tmp = bits + words, *kill = bits + 2 * words, *prot = bits + 3 * words;
    uint64_t *kn = bits + 4 * words, *pn = bits + 5 * words, *ks = bits + 6 * words, *ps = bits + 7 * words;
    uint64_t rel[1024 / 64 + 1]; /* the guard items the candidates mention (guard.c: at most 1024; set when guarded) */
    const uint64_t *reads = split ? split->gread : NULL;
    /* a principal memoised for this set (cu_policy_entity_memo) brings its
     * candidates and the outcome of its guards */
    const struct cu_policy_entity *pe = c.ent[0], *ae = c.ent[1];
    bool memo = pe && pe->memo_gen == set->gen && pe->memo_var == VAR_PRINCIPAL;
    /* and an action memoised for it (cu_policy_entity_memo_action) the same */
    bool amemo = ae && ae->memo_gen == set->gen && ae->memo_var == VAR_ACTION;
    /* its comparisons with the context's time slot too, unless the split
     * attribute is that slot (they are then run again for the second answer) */
    bool tcm = memo && pe->memo_tc_kill;
    /* the resource's own guards by the caller's class key (res_guards);
     * not with an unknown resource, nor for sets of more than 128 policies */
    bool rmemo = req->rdom && c.ent[2] && words <= 2;
    tcm = tcm && !(split && split->reads_tc);
    if (amemo) {
        memcpy(cand, ae->memo_cand, sizeof(uint64_t) * words);
    } else {
        memset(cand, 0, sizeof(uint64_t) * words);
        candidates(&c, 1, cand); /* action first: usually the most selective */
    }
    for (int w = 0; w < 3; w += 2) {
        if (w == 0 && memo) {
            for (uint32_t i = 0; i < words; i++)
                cand[i] &= pe->memo_cand[i];
            continue;
        }
        memset(tmp, 0, sizeof(uint64_t) * words);
        candidates(&c, w, tmp);
        for (uint32_t i = 0; i < words; i++)
            cand[i] &= tmp[i];
    }
    uint32_t ncand = 0;
    for (uint32_t i = 0; i < words; i++)
        ncand += (uint32_t)pop64(cand[i]);
    /* guards: in cu_policy_eval and the lazy split (the eager split
     * evaluates every candidate in full); by default only when the
     * candidates are many enough for a pass over the guards to pay */
    bool guarded = set->nguards && (!split || lazy) &&
                   (set->guards_mode == POL_GUARDS_ON ||
                    (set->guards_mode == POL_GUARDS_AUTO && ncand >= POL_GUARDS_MIN_CAND));
    memset(kill, 0, sizeof(uint64_t) * 6 * words);
    int8_t gval[1024]; /* guard.c: at most 1024 guards */
    if (guarded) {
        memset(gval, GV_UNKNOWN, set->nguards);
        c.gval = gval;
        /* the principal's guards from its memo when it has one for this set;
         * the guards reading the split attribute apart, to run again for the
         * second answer */
        uint64_t skip[1024 / 64 + 1];
        for (uint32_t k = 0; k < set->iwords; k++)
            skip[k] = (memo ? set->item_principal[k] : 0) | (amemo ? set->item_action[k] : 0) |
                      (rmemo ? set->item_resource[k] : 0) |
                      (tcm ? set->item_tc[k] : 0);
        /* the context.a roots the context lacks (their memo is kept for the
         * items read through the others) */
        uint32_t absent = 0;
        for (uint32_t r = 0; r < set->nnroot; r++)
            if (!nest_root(&c, set->nroot[r])->b)
                absent |= UINT32_C(1) << r;
        c.absent = absent;
        c.roots_known = true;
        guards_rel_cached(set, cand, ncand, words, skip,
                          (memo ? 1u : 0) | (amemo ? 2u : 0) | (tcm ? 4u : 0) | (rmemo ? 8u : 0), absent, rel);
        guards_run(&c, rel, words, reads, 0, NULL, kn, pn);
        if (rmemo) {
            const struct res_memo *rm = res_guards(&c, req->rdom, req->rkey);
            for (uint32_t i = 0; i < words; i++) {
                kn[i] |= rm->kill[i];
                pn[i] |= rm->prot[i];
            }
        }
        if (memo)
            for (uint32_t i = 0; i < words; i++) {
                kn[i] |= pe->memo_kill[i];
                pn[i] |= pe->memo_prot[i];
            }
        if (amemo)
            for (uint32_t i = 0; i < words; i++) {
                kn[i] |= ae->memo_kill[i];
                pn[i] |= ae->memo_prot[i];
            }
        if (tcm)
            tc_apply(&c, pe, words, kn, pn);
        if (reads)
            guards_run(&c, rel, words, reads, 1, NULL, ks, ps);
        for (uint32_t i = 0; i < words; i++) {
            prot[i] = pn[i] | ps[i];
            kill[i] = (kn[i] | ks[i]) & ~prot[i] & cand[i];
        }
    }
    /* the tallies and (lazy) the first walk's outcomes: one block.  Lazy:
     * the first answer alone, remembering the outcome of each policy that
     * does not read the attribute; the second only if still wanted */
    tally t[2];
    uint32_t *order = NULL;
    int8_t *memo_r = NULL;
    near *memo_n = NULL;
    uint32_t nl = ncand ? ncand : 1;
    size_t tb = tally_size(ncand), nb = (sizeof *memo_n * nl + 15) & ~(size_t)15,
           ob = (sizeof *order * nl + 15) & ~(size_t)15;
    char *tm = cu_arena_alloc(scratch, tb * (size_t)nv + (lazy ? nb + ob + nl : 0));
    if (!tm)
        goto oom;
    for (int v = 0; v < nv; v++)
        tally_place(tm + tb * (size_t)v, ncand, &t[v]);
    if (lazy) {
        char *m = tm + tb * (size_t)nv;
        memo_n = (near *)m;
        order = (uint32_t *)(m + nb);
        memo_r = (int8_t *)(m + nb + ob);
    }
    walk w0 = {.split = split, .lazy = lazy, .nv = nv, .flip = flip, .prot = guarded ? prot : NULL,
               .t = t, .order = order, .memo_r = memo_r, .memo_n = memo_n};
    if (!walk_candidates(&c, &w0, cand, kill, words, 0))
        goto oom;
    if (guarded && t[0].nf == 0 && t[0].np == 0 && !nears_with_killed(&c, cand, kill, words, &t[0]))
        goto oom;
    if (!tally_answer(&c, &t[0], &ans[0], true))
        goto oom;
    if (nv == 1)
        return CU_OK;
    if (lazy) {
        if (ans[0].allow && !ans[0].n_errors)
            return CU_OK; /* the second answer is not wanted: left empty */
        flip->v.u.b = true;
        /* the guards again, with the attribute true: a policy that does not
         * read it has the same guard values, so it is ruled out again or
         * remembered from the first pass (the values kept are forgotten:
         * those reading the attribute change) */
        if (guarded) {
            memset(gval, GV_UNKNOWN, set->nguards);
            guards_run(&c, rel, words, reads, 1, NULL, ks, ps);
            for (uint32_t i = 0; i < words; i++) {
                prot[i] = pn[i] | ps[i];
                kill[i] = (kn[i] | ks[i]) & ~prot[i] & cand[i];
            }
        }
        if (!walk_candidates(&c, &w0, cand, kill, words, 1))
            goto oom;
    }
    if (!tally_answer(&c, &t[1], &ans[1], !lazy))
        goto oom;
    return CU_OK;
oom:
    for (int v = 0; v < nv; v++)
        memset(&ans[v], 0, sizeof ans[v]);
    return cu_err_set(CU_ERR_NOMEM, "policy eval: scratch arena exhausted");
}

/* The memo of ent as variable w (VAR_PRINCIPAL or VAR_ACTION): its part of
 * the scope index and the guards reading it alone. */
static cu_rc memo_make(cu_policy_entity *ent, const cu_policy_set *set, int w, cu_arena *a)
{
    if (!ent || !ent->local || !ent->sealed || !set || !a)
        return cu_err_set(CU_ERR_INVAL, "entity memo: a sealed local entity, a set and an arena are needed");
    uint32_t words = (set->n + 63) / 64;
    ent->memo_gen = 0;
    ent->memo_tc = NULL;
    ent->memo_tc_kill = NULL;
    ent->memo_ntc = 0;
    if (!words)
        return CU_OK;
    uint64_t *b = cu_arena_alloc(a, sizeof(uint64_t) * 3 * words);
    if (!b)
        return cu_err_set(CU_ERR_NOMEM, "entity memo: out of memory");
    memset(b, 0, sizeof(uint64_t) * 3 * words);
    cu_policy_request req; /* the entity alone, for the evaluator's look-ups (G_PURE) */
    memset(&req, 0, sizeof req);
    req.uid[w] = &ent->uid;
    req.ent[w] = ent;
    ectx c = {.set = set, .scratch = a, .req = &req};
    c.var[w].kind = PV_ENTITY;
    c.var[w].u.e = &ent->uid;
    c.ent[w] = ent;
    /* only this variable's part of the scope index and its guards run:
     * nothing else of c is read */
    candidates(&c, w, b + 2 * words);
    if (set->nguards) {
        uint64_t all[1024 / 64 + 1];
        memset(all, 0xff, sizeof all);
        guards_run(&c, all, words, NULL, 0, w == VAR_PRINCIPAL ? set->item_principal : set->item_action, b, b + words);
        if (w == VAR_PRINCIPAL && set->tc_ctx && !tc_memo(&c, ent, words, b + words, a))
            return cu_err_set(CU_ERR_NOMEM, "entity memo: out of memory");
    }
    ent->memo_kill = b;
    ent->memo_prot = b + words;
    ent->memo_cand = b + 2 * words;
    ent->memo_var = (uint8_t)w;
    ent->memo_gen = set->gen;
    return CU_OK;
}

size_t cu_policy_set_resource_attrs(const cu_policy_set *set, const char **names, uint32_t *lens, size_t max)
{
    if (!set || !set->nguards)
        return 0;
    for (size_t i = 0; i < set->nrattr && i < max; i++) {
        names[i] = set->rattr[i];
        lens[i] = set->rattr_len[i];
    }
    return set->nrattr;
}

void cu_policy_request_resource_key(cu_policy_request *req, uint64_t domain, uint64_t key)
{
    if (req) {
        req->rdom = domain;
        req->rkey = key;
    }
}

void cu_policy_entity_prefetch_memo(const cu_policy_entity *ent)
{
    if (!ent || !ent->memo_gen)
        return;
    __builtin_prefetch(ent->memo_kill); /* kill, prot and cand: 3 * 8 bytes a word, one line for up to 128 policies */
    if (ent->memo_tc_kill) {
        __builtin_prefetch(ent->memo_tc);
        __builtin_prefetch(ent->memo_tc_kill);
        __builtin_prefetch((const char *)ent->memo_tc_kill + 64);
        __builtin_prefetch((const char *)ent->memo_tc_kill + 128);
    }
}

cu_rc cu_policy_entity_memo(cu_policy_entity *ent, const cu_policy_set *set, cu_arena *a)
{
    return memo_make(ent, set, VAR_PRINCIPAL, a);
}

cu_rc cu_policy_entity_memo_action(cu_policy_entity *ent, const cu_policy_set *set, cu_arena *a)
{
    return memo_make(ent, set, VAR_ACTION, a);
}

cu_rc cu_policy_eval(const cu_policy_set *set, const cu_policy_entities *entities, const cu_policy_request *req,
                     cu_arena *scratch, cu_policy_answer *ans)
{
    return authorise(set, NULL, entities, req, scratch, ans, false);
}

cu_rc cu_policy_eval_split(const cu_policy_set *set, const cu_policy_split *split, const cu_policy_entities *entities,
                           const cu_policy_request *req, cu_arena *scratch, unsigned flags, cu_policy_answer ans[2])
{
    if (!split)
        return cu_err_set(CU_ERR_INVAL, "policy eval: no split");
    return authorise(set, split, entities, req, scratch, ans, (flags & CU_POLICY_SPLIT_LAZY) != 0);
}

/* ------------------------------------------------------------ answers */

static cu_rc json_str(cu_buf *b, const char *s)
{
    if (!s)
        return cu_buf_appends(b, "null");
    cu_rc rc = cu_buf_append(b, "\"", 1);
    for (; *s && rc == CU_OK; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            rc = cu_buf_appendf(b, "\\%c", ch);
        else if (ch == '\n')
            rc = cu_buf_appends(b, "\\n");
        else if (ch < 0x20)
            rc = cu_buf_appendf(b, "\\u%04x", ch);
        else
            rc = cu_buf_append(b, s, 1);
    }
    return rc != CU_OK ? rc : cu_buf_append(b, "\"", 1);
}

cu_rc cu_policy_answer_json(const cu_policy_answer *a, cu_buf *out)
{
    cu_rc rc = cu_buf_appendf(out, "{\"decision\":\"%s\",\"reasons\":[", a->allow ? "allow" : "deny");
    for (size_t i = 0; i < a->n_reasons && rc == CU_OK; i++) {
        if (i)
            rc = cu_buf_append(out, ",", 1);
        if (rc == CU_OK)
            rc = json_str(out, a->reasons[i]);
    }
    if (rc == CU_OK)
        rc = cu_buf_appends(out, "],\"errors\":[");
    for (size_t i = 0; i < a->n_errors && rc == CU_OK; i++) {
        rc = cu_buf_appends(out, i ? ",{\"policy\":" : "{\"policy\":");
        if (rc == CU_OK)
            rc = json_str(out, a->errors[i].policy_id);
        if (rc == CU_OK)
            rc = cu_buf_appends(out, ",\"message\":");
        if (rc == CU_OK)
            rc = json_str(out, a->errors[i].message);
        if (rc == CU_OK)
            rc = cu_buf_appends(out, "}");
    }
    if (rc == CU_OK)
        rc = cu_buf_appends(out, "],\"explanation\":");
    if (rc == CU_OK && !a->explanation)
        rc = cu_buf_appends(out, "null");
    else if (rc == CU_OK) {
        rc = cu_buf_appends(out, "{\"policy\":");
        if (rc == CU_OK)
            rc = json_str(out, a->explain_policy);
        if (rc == CU_OK)
            rc = cu_buf_appends(out, ",\"condition\":");
        if (rc == CU_OK)
            rc = json_str(out, a->explain_condition);
        if (rc == CU_OK)
            rc = cu_buf_appends(out, ",\"text\":");
        if (rc == CU_OK)
            rc = json_str(out, a->explanation);
        if (rc == CU_OK)
            rc = cu_buf_appends(out, "}");
    }
    return rc != CU_OK ? rc : cu_buf_appends(out, "}");
}
