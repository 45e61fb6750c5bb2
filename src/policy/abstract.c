/*
 * What a set's answers can depend on: the check behind a caller's memo of
 * whole decisions (cu_policy_set_abstract_ok).
 *
 * Cedar has no way to read an entity's id except by comparing the entity
 * with another value (==, in, contains, containsAll, containsAny) or by
 * naming it in a literal.  So if no scope or condition names an entity of
 * the listed types, two requests whose entities of those types differ only
 * by their ids, with the same equalities among them, the same attributes
 * and the same parents, are evaluated the same way step for step: same
 * answer, same deciding policies, same explanation, except that ids show in
 * error messages and in @reason placeholders ({principal}, {resource}),
 * which is why a pack with placeholders is refused here and why callers
 * memoise answers without errors only.  Likewise a Long attribute that is
 * only ever an operand of a comparison whose other operand is also one of
 * the listed Long attributes is seen only through the order of those
 * values.  The check is syntactic and conservative: any other use (an
 * attribute read through an `if`, arithmetic, the context or a listed
 * record read whole, an entity literal inside a constant set) refuses.
 * cu_policy_set_attr_tests asks the same of one string attribute: read only
 * in tests against literals, a value is seen only through those tests'
 * outcomes, so values with the same outcomes are alike.
 */
#include "policy_int.h"

#include <string.h>

typedef struct actx {
    const char *const *types;
    size_t ntypes;
    const cu_policy_attr_path *longs;
    size_t nlongs;
} actx;

static bool type_listed(const actx *x, const char *t, size_t tl)
{
    for (size_t i = 0; i < x->ntypes; i++)
        if (strlen(x->types[i]) == tl && memcmp(x->types[i], t, tl) == 0)
            return true;
    return false;
}

static bool uid_ok(const actx *x, const puid *u) { return !u || !type_listed(x, u->type, u->tlen); }

static bool val_ok(const actx *x, const pval *v)
{
    if (v->kind == PV_ENTITY)
        return uid_ok(x, v->u.e);
    if (v->kind == PV_SET) {
        for (uint32_t i = 0; i < v->u.set.n; i++)
            if (!val_ok(x, &v->u.set.v[i]))
                return false;
    } else if (v->kind == PV_RECORD) {
        for (uint32_t i = 0; i < v->u.rec.n; i++)
            if (!val_ok(x, &v->u.rec.f[i].v))
                return false;
    }
    return true;
}

static bool name_is(const node *n, const char *s) { return n->name && strlen(s) == n->nlen && memcmp(n->name, s, n->nlen) == 0; }

/* Is n exactly one of the listed Long paths (var.a or var.a.b)? */
static bool long_path(const actx *x, const node *n)
{
    for (size_t i = 0; i < x->nlongs; i++) {
        const cu_policy_attr_path *p = &x->longs[i];
        const node *m = n;
        bool ok = true;
        for (int d = p->b ? 1 : 0; d >= 0 && ok; d--) {
            const char *nm = d ? p->b : p->a;
            ok = m->op == N_ATTR && m->nkids == 1 && name_is(m, nm);
            m = ok ? m->kids[0] : m;
        }
        if (ok && m->op == N_VAR && m->var == p->var)
            return true;
    }
    return false;
}

/* Does a read of attribute name (an N_ATTR) name a listed Long? */
static bool names_long(const actx *x, const node *n)
{
    for (size_t i = 0; i < x->nlongs; i++)
        if (name_is(n, x->longs[i].b ? x->longs[i].b : x->longs[i].a))
            return true;
    return false;
}

static bool is_cmp(int op) { return op == N_LT || op == N_LE || op == N_GT || op == N_GE || op == N_EQ || op == N_NE; }

/* parent: the node above n (NULL at a condition's root). */
static bool node_ok(const actx *x, const node *n, const node *parent)
{
    switch (n->op) {
    case N_LIT:
        return val_ok(x, &n->lit);
    case N_VAR:
        /* the context (a record) read whole would show every Long in it */
        if (n->var == VAR_CONTEXT && !(parent && (parent->op == N_ATTR || parent->op == N_HAS)))
            return false;
        return true;
    case N_ATTR:
        if (names_long(x, n)) {
            /* a listed Long: only as an operand of a comparison with another */
            if (!long_path(x, n) || !parent || !is_cmp(parent->op) || parent->nkids != 2)
                return false;
            const node *other = parent->kids[0] == n ? parent->kids[1] : parent->kids[0];
            if (!long_path(x, other))
                return false;
            return true; /* its base is a variable and its middle an attribute: nothing else to see */
        }
        break;
    case N_SET:
    case N_RECORD:
        if (n->constant && !val_ok(x, &n->lit))
            return false;
        break;
    default:
        break;
    }
    for (uint32_t i = 0; i < n->nkids; i++)
        if (n->kids[i] && !node_ok(x, n->kids[i], n))
            return false;
    return true;
}

static bool scope_ok(const actx *x, const pscope *sc)
{
    if (!uid_ok(x, sc->uid))
        return false;
    for (uint32_t i = 0; i < sc->nuids; i++)
        if (!uid_ok(x, sc->uids[i]))
            return false;
    return true;
}

bool cu_policy_set_abstract_ok(const cu_policy_set *set, const char *const *types, size_t ntypes,
                               const cu_policy_attr_path *longs, size_t nlongs)
{
    if (!set)
        return false;
    actx x = {.types = types, .ntypes = ntypes, .longs = longs, .nlongs = nlongs};
    for (uint32_t i = 0; i < set->n; i++) {
        const policy *p = &set->pols[i];
        if (p->reason && strchr(p->reason, '{'))
            return false;
        for (int w = 0; w < 3; w++)
            if (!scope_ok(&x, &p->sc[w]))
                return false;
        for (uint32_t c = 0; c < p->nconds; c++)
            if (!node_ok(&x, p->conds[c].expr, NULL))
                return false;
    }
    return true;
}

/* ------------------------------------------------ string attribute tests */

/* The tests of one attribute, found once per set: each a read of var.a
 * and the test above it, in set order. */
typedef struct atest {
    const node *read, *test;
} atest;

struct cu_policy_attr_tests {
    atest *t;
    size_t n, cap;
};

typedef struct twalk {
    uint8_t var;
    const char *a;
    cu_policy_attr_tests *t;
    bool ok;
} twalk;

static bool is_var_attr(const twalk *x, const node *n)
{
    return n->op == N_ATTR && n->nkids == 1 && name_is(n, x->a) && n->kids[0]->op == N_VAR && n->kids[0]->var == x->var;
}

static const pval *const_set(const node *n)
{
    if (n->op == N_LIT && n->lit.kind == PV_SET)
        return &n->lit;
    if (n->op == N_SET && n->constant && n->lit.kind == PV_SET)
        return &n->lit;
    return NULL;
}

static bool str_is(const pval *l, const char *v, size_t vn)
{
    return l->kind == PV_STR && l->u.s.n == vn && (vn == 0 || pol_bytes_eq(l->u.s.p, v, (uint32_t)vn));
}

/* Is parent (above the read n) a test against literals? */
static bool is_test(const node *n, const node *parent)
{
    if (!parent)
        return false;
    if ((parent->op == N_EQ || parent->op == N_NE) && parent->nkids == 2)
        return (parent->kids[0] == n ? parent->kids[1] : parent->kids[0])->op == N_LIT;
    if (parent->op == N_LIKE)
        return parent->nkids == 1 && parent->kids[0] == n && parent->pat;
    return parent->op == N_CALL && parent->fn == FN_CONTAINS && parent->nkids == 2 && parent->kids[1] == n &&
           const_set(parent->kids[0]);
}

/* The outcome of the test for the value v. */
static bool test_outcome(const node *n, const node *parent, const char *v, size_t vn)
{
    if (parent->op == N_EQ || parent->op == N_NE) {
        const node *other = parent->kids[0] == n ? parent->kids[1] : parent->kids[0];
        bool eq = str_is(&other->lit, v, vn);
        return parent->op == N_EQ ? eq : !eq;
    }
    if (parent->op == N_LIKE)
        return pol_like(v, vn, parent->pat);
    const pval *set = const_set(parent->kids[0]);
    for (uint32_t i = 0; i < set->u.set.n; i++)
        if (str_is(&set->u.set.v[i], v, vn))
            return true;
    return false;
}

static void tests_walk(twalk *x, const node *n, const node *parent)
{
    if (!x->ok)
        return;
    if (n->op == N_ATTR && name_is(n, x->a)) {
        cu_policy_attr_tests *t = x->t;
        if (!is_var_attr(x, n) || !is_test(n, parent) || cu_grow(&t->t, &t->cap, t->n + 1, sizeof *t->t, 16, false)) {
            x->ok = false;
            return;
        }
        t->t[t->n++] = (atest){n, parent};
        return;
    }
    if (n->op == N_VAR && n->var == x->var && x->var == VAR_CONTEXT &&
        !(parent && (parent->op == N_ATTR || parent->op == N_HAS)))
        x->ok = false; /* the context read whole */
    for (uint32_t i = 0; i < n->nkids; i++)
        if (n->kids[i])
            tests_walk(x, n->kids[i], n);
}

cu_policy_attr_tests *cu_policy_attr_tests_new(const cu_policy_set *set, uint8_t var, const char *a)
{
    if (!set || !a)
        return NULL;
    cu_policy_attr_tests *t = cu_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    twalk x = {.var = var, .a = a, .t = t, .ok = true};
    for (uint32_t i = 0; i < set->n && x.ok; i++)
        for (uint32_t c = 0; c < set->pols[i].nconds && x.ok; c++)
            tests_walk(&x, set->pols[i].conds[c].expr, NULL);
    if (!x.ok) {
        cu_policy_attr_tests_free(t);
        return NULL;
    }
    return t;
}

long cu_policy_attr_tests_run(const cu_policy_attr_tests *t, const char *v, size_t vn, uint64_t *out, size_t words)
{
    if (!t || !v || !out || t->n > 64 * words)
        return -1;
    memset(out, 0, words * sizeof *out);
    for (size_t i = 0; i < t->n; i++)
        if (test_outcome(t->t[i].read, t->t[i].test, v, vn))
            out[i / 64] |= UINT64_C(1) << (i % 64);
    return (long)t->n;
}

void cu_policy_attr_tests_free(cu_policy_attr_tests *t)
{
    if (!t)
        return;
    cu_free(t->t);
    cu_free(t);
}

long cu_policy_set_attr_tests(const cu_policy_set *set, uint8_t var, const char *a, const char *v, size_t vn,
                              uint64_t *out, size_t words)
{
    cu_policy_attr_tests *t = cu_policy_attr_tests_new(set, var, a);
    long n = cu_policy_attr_tests_run(t, v, vn, out, words);
    cu_policy_attr_tests_free(t);
    return n;
}
