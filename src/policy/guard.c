/*
 * Guard prefixes: the cheap tests policies start with, found once per set so
 * that a request can rule out, a machine word at a time, the policies that
 * cannot be satisfied, without visiting them.
 *
 * A guard is a test of one slot of the request (`context.purpose`,
 * `principal.role`, `resource.live`, `action`, `context has case`, and
 * `context.case.opened`: an attribute of the entity or record a context
 * attribute holds) against
 * literals: `S`, `!S`, `S == L`, `S != L`, `[L, ...].contains(S)`,
 * `S like "p*"`, `var has a`, comparisons `S < T` of two slots (or a
 * slot and a Long literal), `S.contains(V)` and `V in S` of a slot and a
 * variable (`context.case.officers.contains(principal)`,
 * `resource in context.case`), and `!(...)` of any of these.  Once the slot is read, such a test either
 * gives a bool or (for `S`, `!S`, `like` and comparisons on the wrong
 * type, or a slot that is missing) an error; it has no other effect.  Two
 * more kinds are guards: any expression of the principal's own attributes
 * and literals (G_PURE: a principal's memo decides it), and &&, || and !
 * over guards (G_BOOL: evaluated with Cedar's short-circuit over its
 * leaves' values, an erring leaf an error once reached).  A policy's guard
 * prefix is the longest run of its top-level conjuncts, in Cedar's order of
 * evaluation (the `when` conjuncts left to right, an `unless` condition as
 * one step wanting false, conditions in order), that are guards.
 *
 * Invariants
 * 1. Cedar evaluates a policy's conditions in order and && short-circuits,
 *    so when every step of the prefix before step k gave the value it wants
 *    and step k gave the other bool, the policy is not satisfied and raises
 *    no error: the evaluator may skip it.  A request whose guard reads an
 *    error skips nothing that mentions that guard (eval.c evaluates those
 *    policies in full, with Cedar's own error).
 * 2. Guards with the same folded source text are one guard (the text of a
 *    pure test over one slot fixes its meaning), evaluated once a request.
 * 4. A guard reading context.a or context.a.b errs when the context has no a.  A policy
 *    whose prefix tests `context has a` (wanting true) before every step
 *    reading through a stops at that test when a is missing (it gives
 *    false, without error), so that error cannot reach it: has_before
 *    holds those policies, which the error does not protect (they are
 *    ruled out by the `has` guard).  Any other error protects as before.
 * 5. A lone comparison of a principal attribute with the context attribute
 *    of the set's time slot (tc_ctx) errs exactly when either side is not
 *    a Long, and otherwise depends only on where the context value lies
 *    among the principal's values: so a principal's memo can hold its
 *    outcome per interval, and a request reads the context value once.
 * 6. A G_BOOL leaf with the folded text of another guard has its value;
 *    one whose text is that guard's negated (`!T`, `!(T)`, or a
 *    comparison negated or turned round) has its value negated, errors
 *    kept (! of an error is an error; a comparison errs when either side
 *    is not a Long, in either order), so within one request (and one value
 *    of the split attribute) the two share one evaluation.
 * 3. Only sets of at most GUARD_MAX_POLICIES policies get guards, and at
 *    most GUARD_MAX of them (a prefix stops at a guard that would be one
 *    too many), which bounds the bitsets to 1.5 MiB.  Larger sets are
 *    evaluated as before.
 */
#include "policy_int.h"

#include <string.h>

#define GUARD_MAX_POLICIES 4096
#define GUARD_MAX 1024

char *pol_node_text(cu_arena *a, const char *src, const node *n)
{
    const char *s = src + n->start;
    size_t len = n->end > n->start ? n->end - n->start : 0;
    char *o = cu_arena_alloc(a, len + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    bool in_str = false, space = false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (in_str) {
            o[k++] = ch;
            if (ch == '\\' && i + 1 < len)
                o[k++] = s[++i];
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '/' && i + 1 < len && s[i + 1] == '/') {
            while (i < len && s[i] != '\n')
                i++;
            space = true;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            space = true;
            continue;
        }
        if (space && k > 0)
            o[k++] = ' ';
        space = false;
        o[k++] = ch;
        if (ch == '"')
            in_str = true;
    }
    o[k] = 0;
    return o;
}

/* var.a, or context.a.b (pol_slot_root) */
static bool is_slot(const node *x)
{
    if (x->op != N_ATTR)
        return false;
    const node *k = x->kids[0];
    return k->op == N_VAR || (k->op == N_ATTR && k->kids[0]->op == N_VAR && k->kids[0]->var == VAR_CONTEXT);
}

/* Does x read nothing but the principal's own attributes (one step:
 * `principal.a`, `principal has a`) and literals, through operators that
 * need neither the entity store nor another variable?  Its value (or its
 * error) is then the principal's alone.  reads: it reads the principal. */
static bool pure_principal(const node *x, int depth, bool *reads)
{
    if (depth > 64)
        return false;
    switch (x->op) {
    case N_LIT:
        return true;
    case N_VAR:
        *reads = *reads || x->var == VAR_PRINCIPAL;
        return x->var == VAR_PRINCIPAL;
    case N_ATTR:
    case N_HAS:
        if (x->nkids != 1 || x->kids[0]->op != N_VAR || x->kids[0]->var != VAR_PRINCIPAL ||
            (x->op == N_HAS && x->npath != 1))
            return false;
        *reads = true;
        return true;
    case N_CALL:
        if (x->fn != FN_CONTAINS && x->fn != FN_CONTAINS_ALL && x->fn != FN_CONTAINS_ANY && x->fn != FN_IS_EMPTY)
            return false;
        break;
    case N_AND: case N_OR: case N_NOT: case N_NEG: case N_IF: case N_EQ: case N_NE: case N_LT: case N_LE:
    case N_GT: case N_GE: case N_ADD: case N_SUB: case N_MUL: case N_LIKE: case N_IS: case N_SET:
        break;
    default: /* in (ancestors, the store), records, extension calls: not attempted */
        return false;
    }
    if (x->op == N_SET && x->constant)
        return true;
    for (uint32_t i = 0; i < x->nkids; i++)
        if (!pure_principal(x->kids[i], depth + 1, reads))
            return false;
    return true;
}

static bool classify_shape(const node *x, pguard *g, cu_arena *arena);
static bool classify(const node *x, pguard *g, cu_arena *a);

#define BOOL_MAX_LEAVES 16

/* x as a G_BOOL: a leaf guard, or &&, || or ! over such trees, written
 * in prefix order into prog.  False when it is not, or is too large. */
static bool bool_compile(const node *x, pguard *leaf, uint32_t *nleaf, pbstep *prog, uint32_t *np, int depth)
{
    if (depth > 32 || *np == 2 * BOOL_MAX_LEAVES)
        return false;
    pguard g;
    if (classify(x, &g, NULL)) {
        if (*nleaf == BOOL_MAX_LEAVES)
            return false;
        prog[(*np)++] = (pbstep){.op = B_LEAF, .arg = *nleaf};
        leaf[(*nleaf)++] = g;
        return true;
    }
    if (x->op == N_NOT) {
        prog[(*np)++] = (pbstep){.op = B_NOT};
        return bool_compile(x->kids[0], leaf, nleaf, prog, np, depth + 1);
    }
    if (x->op != N_AND && x->op != N_OR)
        return false;
    uint32_t me = (*np)++;
    if (!bool_compile(x->kids[0], leaf, nleaf, prog, np, depth + 1))
        return false;
    prog[me] = (pbstep){.op = x->op == N_AND ? B_AND : B_OR, .arg = *np};
    return bool_compile(x->kids[1], leaf, nleaf, prog, np, depth + 1);
}

/* The leaves' nodes of a tree bool_compile took, in its order. */
static void bool_nodes(const node *x, const node **ln, uint32_t *n, int depth)
{
    pguard g;
    if (depth > 32)
        return;
    if (classify(x, &g, NULL)) {
        ln[(*n)++] = x;
        return;
    }
    if (x->op == N_NOT) {
        bool_nodes(x->kids[0], ln, n, depth + 1);
        return;
    }
    bool_nodes(x->kids[0], ln, n, depth + 1);
    bool_nodes(x->kids[1], ln, n, depth + 1);
}

/* The jumps of program step i (bentry, bnext): its leaves' next steps when
 * the subexpression is true (t) and false (f), each a leaf or BOOL_TRUE /
 * BOOL_FALSE; returns the leaf where the subexpression starts.  `!` swaps
 * t and f; `a && b` goes on to b when a is true, else to f; `a || b` to b
 * when a is false, else to t: Cedar's short-circuit, each leaf once. */
static uint8_t bool_jumps(const pbstep *prog, uint32_t i, uint8_t t, uint8_t f, uint8_t *next)
{
    const pbstep *b = &prog[i];
    if (b->op == B_LEAF) {
        next[2 * b->arg] = f;
        next[2 * b->arg + 1] = t;
        return (uint8_t)b->arg;
    }
    if (b->op == B_NOT)
        return bool_jumps(prog, i + 1, f, t, next);
    uint8_t right = bool_jumps(prog, b->arg, t, f, next);
    return b->op == B_AND ? bool_jumps(prog, i + 1, right, f, next) : bool_jumps(prog, i + 1, t, right, next);
}

/* What kind of guard x is (false: none): one of the shapes below, or else
 * an expression of the principal alone (G_PURE, which a principal's memo
 * decides once), or else (with an arena for its leaves) &&, || and ! over
 * such guards (G_BOOL). */
static bool classify(const node *x, pguard *g, cu_arena *a)
{
    if (classify_shape(x, g, a))
        return true;
    bool reads = false;
    if (pure_principal(x, 0, &reads) && reads) {
        memset(g, 0, sizeof *g);
        g->kind = G_PURE;
        g->var = VAR_PRINCIPAL;
        g->cmp = x;
        g->principal = true;
        return true;
    }
    if (!a || (x->op != N_AND && x->op != N_OR))
        return false;
    pguard leaf[BOOL_MAX_LEAVES];
    pbstep prog[2 * BOOL_MAX_LEAVES];
    uint32_t n = 0, np = 0;
    if (!bool_compile(x, leaf, &n, prog, &np, 0))
        return false;
    pguard *lv = cu_arena_alloc(a, sizeof *lv * n);
    const node **lnv = cu_arena_alloc(a, sizeof *lnv * n);
    uint8_t *jn = cu_arena_alloc(a, 2 * n);
    if (!lv || !lnv || !jn)
        return false; /* (no memory: simply not a guard) */
    uint8_t entry = bool_jumps(prog, 0, BOOL_TRUE, BOOL_FALSE, jn);
    uint32_t nn = 0;
    bool_nodes(x, lnv, &nn, 0); /* the leaves' nodes, in the order bool_compile found them */
    memcpy(lv, leaf, sizeof *lv * n);
    memset(g, 0, sizeof *g);
    g->kind = G_BOOL;
    g->cmp = x;
    g->leaf = lv;
    g->bentry = entry;
    g->bnext = jn;
    g->leaf_n = lnv;
    g->nleaf = n;
    g->principal = g->action = true;
    for (uint32_t i = 0; i < n; i++) {
        g->principal = g->principal && leaf[i].principal;
        g->action = g->action && leaf[i].action;
    }
    g->var = g->principal ? VAR_PRINCIPAL : g->action ? VAR_ACTION : VAR_CONTEXT;
    /* Invariant 4 for a read through context.a (a leaf on context.a.b) that
     * no `context has a` inside the expression guards: the guard's nest, so
     * that a policy testing `context has a` in an earlier step is ruled out
     * by that test when a is missing, not protected by this guard's error.
     * With such a `has` inside, the expression decides itself, exactly. */
    for (uint32_t i = 0; i < n && !g->nest; i++) {
        const node *sl = leaf[i].kind == G_CMP ? NULL : leaf[i].slot;
        if (!sl || sl->kids[0]->op != N_ATTR || !leaf[i].nest)
            continue;
        const node *root = leaf[i].nest;
        bool has_inside = false;
        for (uint32_t k = 0; k < n; k++)
            has_inside = has_inside || (leaf[k].kind == G_HAS && leaf[k].var == VAR_CONTEXT &&
                                        leaf[k].nlen == root->nlen && pol_bytes_eq(leaf[k].name, root->name, root->nlen));
        if (!has_inside)
            g->nest = root;
    }
    return true;
}

/* The shapes.  Fills kind, var, slot, lit, pat, name. */
static bool classify_shape(const node *x, pguard *g, cu_arena *arena)
{
    memset(g, 0, sizeof *g);
    switch (x->op) {
    case N_ATTR:
        if (!is_slot(x))
            return false;
        g->kind = G_TRUTH;
        g->slot = x;
        break;
    case N_NOT:
        if (!is_slot(x->kids[0])) { /* !(guard): the same test, negated (an error stays one) */
            if (!classify(x->kids[0], g, arena))
                return false;
            g->neg = !g->neg;
            return true;
        }
        g->kind = G_NOT;
        g->slot = x->kids[0];
        break;
    case N_EQ:
    case N_NE: {
        const node *a = x->kids[0], *b = x->kids[1];
        if (a->op == N_LIT) {
            const node *t = a;
            a = b;
            b = t;
        }
        if (b->op != N_LIT)
            return false;
        g->kind = x->op == N_EQ ? G_EQ : G_NE;
        g->lit = &b->lit;
        if (is_slot(a))
            g->slot = a;
        else if (a->op == N_VAR)
            g->var = a->var; /* the variable itself */
        else
            return false;
        break;
    }
    case N_IN:
        if (x->kids[0]->op != N_VAR || !is_slot(x->kids[1]))
            return false;
        g->kind = G_INV;
        g->var2 = x->kids[0]->var;
        g->slot = x->kids[1];
        break;
    case N_CALL:
        if (x->fn == FN_CONTAINS && x->nkids == 2 && is_slot(x->kids[0]) && x->kids[1]->op == N_VAR) {
            g->kind = G_SETHAS;
            g->slot = x->kids[0];
            g->var2 = x->kids[1]->var;
            break;
        }
        if (x->fn != FN_CONTAINS || x->nkids != 2 || x->kids[0]->op != N_LIT || x->kids[0]->lit.kind != PV_SET ||
            !is_slot(x->kids[1]))
            return false;
        g->kind = G_IN;
        g->lit = &x->kids[0]->lit;
        g->slot = x->kids[1];
        break;
    case N_LIKE:
        if (!is_slot(x->kids[0]) || !x->pat)
            return false;
        g->kind = G_LIKE;
        g->slot = x->kids[0];
        g->pat = x->pat;
        break;
    case N_LT:
    case N_LE:
    case N_GT:
    case N_GE: {
        const node *l = x->kids[0], *r = x->kids[1];
        bool lok = is_slot(l) || (l->op == N_LIT && l->lit.kind == PV_LONG);
        bool rok = is_slot(r) || (r->op == N_LIT && r->lit.kind == PV_LONG);
        if (!lok || !rok || (l->op == N_LIT && r->op == N_LIT))
            return false;
        g->kind = G_CMP;
        g->cmp = x;
        /* the side read through context.a (a nested one first) */
        for (int pass = 0; pass < 2 && !g->nest; pass++)
            for (int k = 0; k < 2 && !g->nest; k++) {
                const node *side = x->kids[k];
                if (side->op == N_ATTR && (pass || side->kids[0]->op == N_ATTR) &&
                    pol_slot_root(side)->kids[0]->var == VAR_CONTEXT)
                    g->nest = pol_slot_root(side);
            }
        g->principal = (l->op == N_LIT || pol_slot_root(l)->kids[0]->var == VAR_PRINCIPAL) &&
                       (r->op == N_LIT || pol_slot_root(r)->kids[0]->var == VAR_PRINCIPAL);
        g->action = (l->op == N_LIT || pol_slot_root(l)->kids[0]->var == VAR_ACTION) &&
                    (r->op == N_LIT || pol_slot_root(r)->kids[0]->var == VAR_ACTION);
        return true;
    }
    case N_HAS:
        if (x->npath != 1 || x->kids[0]->op != N_VAR)
            return false;
        g->kind = G_HAS;
        g->var = x->kids[0]->var;
        g->name = x->path[0];
        g->nlen = x->plens[0];
        break;
    default:
        return false;
    }
    if (g->slot) {
        g->var = pol_slot_root(g->slot)->kids[0]->var;
        if (g->var == VAR_CONTEXT)
            g->nest = pol_slot_root(g->slot);
    }
    g->principal = g->var == VAR_PRINCIPAL && (g->kind != G_SETHAS && g->kind != G_INV);
    g->action = g->var == VAR_ACTION && (g->kind != G_SETHAS && g->kind != G_INV);
    return true;
}

#define SLOT_MAX_LITS 256

static bool same_slot(const pslot *sl, const pguard *g)
{
    if (sl->var != g->var || !sl->attr != !g->slot)
        return false;
    if (!sl->attr)
        return true;
    /* the same path: var.a, or context.a.b with the same a */
    const node *x = sl->attr, *y = g->slot;
    for (int depth = 0; depth < 2; depth++) {
        if (x->nlen != y->nlen || !pol_bytes_eq(x->name, y->name, y->nlen))
            return false;
        x = x->kids[0];
        y = y->kids[0];
        if (x->op != y->op)
            return false;
        if (x->op == N_VAR)
            return true;
    }
    return false;
}

static bool table_kind(int k) { return k == G_EQ || k == G_NE || k == G_IN; }

/* A table guard's value when the slot's value equals lit (NULL: none of
 * the literals): equality is an equivalence, so equal values give equal
 * results. */
static bool table_value_raw(const pguard *g, const pval *lit)
{
    if (g->kind == G_IN) {
        if (!lit)
            return false;
        for (uint32_t i = 0; i < g->lit->u.set.n; i++)
            if (pol_val_eq(&g->lit->u.set.v[i], lit))
                return true;
        return false;
    }
    bool eq = lit && pol_val_eq(g->lit, lit);
    return g->kind == G_EQ ? eq : !eq;
}

static bool table_value(const pguard *g, const pval *lit) { return table_value_raw(g, lit) != g->neg; }

static bool add_lit(pslot *sl, const pval *v)
{
    for (uint32_t i = 0; i < sl->nlits; i++)
        if (pol_val_eq(&sl->lits[i], v))
            return true;
    if (sl->nlits == SLOT_MAX_LITS)
        return false;
    sl->lits[sl->nlits++] = *v;
    return true;
}

/* Does step t of p need `context has a` true, a being root's name? */
static bool step_needs_has(const pguard *gs, const pstep *t, const node *root)
{
    const pguard *h = &gs[t->guard];
    return h->kind == G_HAS && h->var == VAR_CONTEXT && t->want != h->neg && h->nlen == root->nlen &&
           pol_bytes_eq(h->name, root->name, root->nlen);
}

/* Invariant 4: for each item reading context.a (context.a itself or through
 * it), the policies whose every step on it comes after a step needing
 * `context has a`.  An item with none is read as before (nest cleared). */
static bool has_before_build(cu_policy_set *set, const pguard *gs, const uint32_t *item_of)
{
    cu_arena *a = set->arena;
    uint32_t words = (set->n + 63) / 64, items = set->nslots + set->nlone;
    for (uint32_t j = 0; j < items; j++) {
        pguard *lone = j >= set->nslots ? &set->guards[set->lone[j - set->nslots]] : NULL;
        const node *root = lone ? lone->nest : set->slots[j].nest;
        if (!root)
            continue;
        uint64_t *hb = cu_arena_alloc(a, sizeof(uint64_t) * words);
        if (!hb)
            return false;
        memset(hb, 0, sizeof(uint64_t) * words);
        for (uint32_t pi = 0; pi < set->n; pi++) {
            const policy *p = &set->pols[pi];
            bool seen = false, ok = false, bad = false;
            for (uint32_t st = 0; st < p->npre; st++) {
                if (item_of[p->pre[st].guard] == j) {
                    ok = ok || seen;
                    bad = bad || !seen;
                }
                seen = seen || step_needs_has(gs, &p->pre[st], root);
            }
            if (ok && !bad)
                hb[pi >> 6] |= UINT64_C(1) << (pi & 63);
        }
        bool any = false;
        for (uint32_t i = 0; i < words; i++)
            any = any || hb[i];
        /* none: the item is read as any other (no check of a first) */
        if (lone) {
            lone->has_before = any ? hb : NULL;
            lone->nest = any ? lone->nest : NULL;
        } else {
            set->slots[j].has_before = any ? hb : NULL;
            set->slots[j].nest = any ? set->slots[j].nest : NULL;
        }
    }
    return true;
}

/* The attribute name n (nlen bytes) into set->rattr once. */
static void rattr_add(cu_policy_set *set, const char *n, uint32_t nlen)
{
    for (uint32_t i = 0; i < set->nrattr; i++)
        if (set->rattr_len[i] == nlen && memcmp(set->rattr[i], n, nlen) == 0)
            return;
    set->rattr[set->nrattr] = n;
    set->rattr_len[set->nrattr++] = nlen;
}

/* The items that read the resource's own attributes and nothing else: its
 * slots `resource.a` (not the variable itself: that is its uid) and the
 * lone `resource has a`; their values follow from those attributes alone
 * (their values or their absence), so a caller's resource class key
 * (cu_policy_request_resource_key) can stand for them. */
static bool resource_items(cu_policy_set *set, const pguard *gs)
{
    cu_arena *a = set->arena;
    uint32_t ns = set->nslots, items = ns + set->nlone, iw = set->iwords;
    set->item_resource = cu_arena_alloc(a, sizeof(uint64_t) * iw + 8);
    set->rattr = cu_arena_alloc(a, sizeof *set->rattr * (items ? items : 1));
    set->rattr_len = cu_arena_alloc(a, sizeof *set->rattr_len * (items ? items : 1));
    if (!set->item_resource || !set->rattr || !set->rattr_len)
        return false;
    memset(set->item_resource, 0, sizeof(uint64_t) * iw);
    set->nrattr = 0;
    for (uint32_t j = 0; j < ns; j++)
        if (set->slots[j].var == VAR_RESOURCE && set->slots[j].attr) {
            set->item_resource[j >> 6] |= UINT64_C(1) << (j & 63);
            rattr_add(set, set->slots[j].attr->name, set->slots[j].attr->nlen);
        }
    for (uint32_t q = 0; q < set->nlone; q++) {
        const pguard *g = &gs[set->lone[q]];
        if (g->kind == G_HAS && g->var == VAR_RESOURCE) {
            set->item_resource[(ns + q) >> 6] |= UINT64_C(1) << ((ns + q) & 63);
            rattr_add(set, g->name, g->nlen);
        }
    }
    return true;
}

/* Each item's context.a root (after has_before_build, which keeps a root
 * only where a `has` test comes first), the same attribute name being one
 * root; items past the first POL_MAX_NROOT roots get none (read as any). */
static bool nest_build(cu_policy_set *set)
{
    uint32_t items = set->nslots + set->nlone;
    set->item_root = cu_arena_alloc(set->arena, items ? items : 1);
    set->item_has_root = cu_arena_alloc(set->arena, items ? items : 1);
    if (!set->item_root || !set->item_has_root)
        return false;
    memset(set->item_root, 0, items ? items : 1);
    memset(set->item_has_root, 0, items ? items : 1);
    set->nnroot = 0;
    for (uint32_t j = 0; j < items; j++) {
        const node *root = j >= set->nslots ? set->guards[set->lone[j - set->nslots]].nest : set->slots[j].nest;
        if (!root)
            continue;
        uint32_t r = 0;
        while (r < set->nnroot &&
               !(set->nroot[r]->nlen == root->nlen && memcmp(set->nroot[r]->name, root->name, root->nlen) == 0))
            r++;
        if (r == set->nnroot) {
            if (r == POL_MAX_NROOT)
                continue;
            set->nroot[set->nnroot++] = root;
        }
        set->item_root[j] = (uint8_t)(r + 1);
    }
    for (uint32_t q = 0; q < set->nlone; q++) {
        const pguard *g = &set->guards[set->lone[q]];
        if (g->kind != G_HAS || g->var != VAR_CONTEXT)
            continue;
        for (uint32_t r = 0; r < set->nnroot; r++)
            if (set->nroot[r]->nlen == g->nlen && memcmp(set->nroot[r]->name, g->name, g->nlen) == 0)
                set->item_has_root[set->nslots + q] = (uint8_t)(r + 1);
    }
    return true;
}

/* principal.a (k == VAR_PRINCIPAL) or context.a (VAR_CONTEXT), one step */
static bool one_step(const node *x, int var)
{
    return x->op == N_ATTR && x->kids[0]->op == N_VAR && x->kids[0]->var == var;
}

/* The context side of a comparison of a principal attribute with a context
 * attribute, in either order (NULL: not such a comparison). */
static const node *tc_side(const pguard *g)
{
    if (g->kind != G_CMP || g->nest)
        return NULL; /* invariant 4: a `has` before it makes the context's side special; left alone */
    const node *l = g->cmp->kids[0], *r = g->cmp->kids[1];
    if (one_step(l, VAR_CONTEXT) && one_step(r, VAR_PRINCIPAL))
        return l;
    if (one_step(l, VAR_PRINCIPAL) && one_step(r, VAR_CONTEXT))
        return r;
    return NULL;
}

/* Invariant 5: the lone comparisons of a principal attribute with one
 * context attribute (the first such guard's; usually `context.now`) are
 * marked for the memo, which decides them for each interval of the context
 * value between the principal's thresholds (eval.c, memo_tc). */
static bool tc_build(cu_policy_set *set)
{
    uint32_t words = (set->n + 63) / 64, iw = set->iwords;
    for (uint32_t q = 0; q < set->nlone; q++) {
        const pguard *g = &set->guards[set->lone[q]];
        const node *side = tc_side(g);
        if (!side)
            continue;
        if (!set->tc_ctx) {
            set->tc_ctx = side;
            set->item_tc = cu_arena_alloc(set->arena, sizeof(uint64_t) * iw);
            set->tc_mention = cu_arena_alloc(set->arena, sizeof(uint64_t) * words);
            if (!set->item_tc || !set->tc_mention)
                return false;
            memset(set->item_tc, 0, sizeof(uint64_t) * iw);
            memset(set->tc_mention, 0, sizeof(uint64_t) * words);
        } else if (side->nlen != set->tc_ctx->nlen || !pol_bytes_eq(side->name, set->tc_ctx->name, side->nlen)) {
            continue;
        }
        uint32_t j = set->nslots + q;
        set->item_tc[j >> 6] |= UINT64_C(1) << (j & 63);
        for (uint32_t i = 0; i < words; i++)
            set->tc_mention[i] |= g->mention[i];
    }
    return true;
}

/* Group the guards by slot and fill the class tables. */
static bool build_slots(cu_policy_set *set, pguard *gs, uint32_t ng)
{
    cu_arena *a = set->arena;
    uint32_t words = (set->n + 63) / 64;
    pslot *sl = cu_arena_alloc(a, sizeof *sl * (ng ? ng : 1));
    uint32_t *slot_of = cu_arena_alloc(a, sizeof *slot_of * (ng ? ng : 1));
    set->lone = cu_arena_alloc(a, sizeof *set->lone * (ng ? ng : 1));
    if (!sl || !slot_of || !set->lone)
        return false;
    uint32_t ns = 0;
    for (uint32_t k = 0; k < ng; k++) {
        if (pol_guard_lone(gs[k].kind)) {
            set->lone[set->nlone++] = k;
            continue;
        }
        uint32_t j = 0;
        while (j < ns && !same_slot(&sl[j], &gs[k]))
            j++;
        if (j == ns) {
            memset(&sl[ns], 0, sizeof sl[ns]);
            sl[ns].var = gs[k].var;
            sl[ns].attr = gs[k].slot;
            sl[ns].principal = gs[k].var == VAR_PRINCIPAL;
            sl[ns].nest = gs[k].nest;
            ns++;
        }
        slot_of[k] = j;
    }
    for (uint32_t j = 0; j < ns; j++) {
        pslot *x = &sl[j];
        uint32_t nguard = 0;
        x->lits = cu_arena_alloc(a, sizeof *x->lits * SLOT_MAX_LITS);
        x->mention = cu_arena_alloc(a, sizeof(uint64_t) * words);
        if (!x->lits || !x->mention)
            return false;
        memset(x->mention, 0, sizeof(uint64_t) * words);
        x->table = true;
        for (uint32_t k = 0; k < ng; k++) {
            if (pol_guard_lone(gs[k].kind) || slot_of[k] != j)
                continue;
            nguard++;
            for (uint32_t i = 0; i < words; i++)
                x->mention[i] |= gs[k].mention[i];
            if (gs[k].kind == G_IN) {
                for (uint32_t i = 0; i < gs[k].lit->u.set.n && x->table; i++)
                    x->table = add_lit(x, &gs[k].lit->u.set.v[i]);
            } else if (table_kind(gs[k].kind)) {
                x->table = add_lit(x, gs[k].lit);
            }
        }
        x->other = cu_arena_alloc(a, sizeof *x->other * nguard);
        if (!x->other)
            return false;
        if (x->table) {
            x->kill = cu_arena_alloc(a, sizeof(uint64_t) * words * (x->nlits + 1));
            if (!x->kill)
                return false;
            memset(x->kill, 0, sizeof(uint64_t) * words * (x->nlits + 1));
        } else {
            x->nlits = 0;
        }
        for (uint32_t k = 0; k < ng; k++) {
            if (pol_guard_lone(gs[k].kind) || slot_of[k] != j)
                continue;
            if (!x->table || !table_kind(gs[k].kind)) {
                x->other[x->nother++] = k;
                continue;
            }
            for (uint32_t c = 0; c <= x->nlits; c++) {
                bool v = table_value(&gs[k], c < x->nlits ? &x->lits[c] : NULL);
                const uint64_t *b = v ? gs[k].need_false : gs[k].need_true;
                for (uint32_t i = 0; i < words; i++)
                    x->kill[c * words + i] |= b[i];
            }
        }
        /* S and !S only: decided by the value's truth (or all err) at once */
        bool truth = x->nother > 0;
        for (uint32_t q = 0; q < x->nother; q++)
            truth = truth && (gs[x->other[q]].kind == G_TRUTH || gs[x->other[q]].kind == G_NOT);
        if (truth) {
            x->bkill = cu_arena_alloc(a, sizeof(uint64_t) * 3 * words);
            if (!x->bkill)
                return false;
            memset(x->bkill, 0, sizeof(uint64_t) * 3 * words);
            x->bmention = x->bkill + 2 * words;
            for (uint32_t q = 0; q < x->nother; q++) {
                const pguard *g = &gs[x->other[q]];
                for (int b = 0; b < 2; b++) {
                    /* the guard's value on the bool b, after its negation */
                    bool v = (g->kind == G_TRUTH ? b == 1 : b == 0) != g->neg;
                    const uint64_t *kb = v ? g->need_false : g->need_true;
                    for (uint32_t i = 0; i < words; i++)
                        x->bkill[b * words + i] |= kb[i];
                }
                for (uint32_t i = 0; i < words; i++)
                    x->bmention[i] |= g->mention[i];
            }
        }
    }
    set->slots = sl;
    set->nslots = ns;
    /* which items each policy's prefix mentions */
    uint32_t items = ns + set->nlone, iw = (items + 63) / 64;
    set->iwords = iw;
    set->pol_items = cu_arena_alloc(a, sizeof(uint64_t) * iw * set->n + 8);
    set->item_principal = cu_arena_alloc(a, sizeof(uint64_t) * iw + 8);
    set->item_action = cu_arena_alloc(a, sizeof(uint64_t) * iw + 8);
    uint32_t *item_of = cu_arena_alloc(a, sizeof *item_of * (ng ? ng : 1));
    if (!set->pol_items || !set->item_principal || !set->item_action || !item_of)
        return false;
    memset(set->pol_items, 0, sizeof(uint64_t) * iw * set->n);
    memset(set->item_principal, 0, sizeof(uint64_t) * iw);
    memset(set->item_action, 0, sizeof(uint64_t) * iw);
    for (uint32_t k = 0; k < ng; k++)
        item_of[k] = slot_of[k];
    for (uint32_t q = 0; q < set->nlone; q++)
        item_of[set->lone[q]] = ns + q;
    for (uint32_t j = 0; j < ns; j++)
        if (sl[j].principal)
            set->item_principal[j >> 6] |= UINT64_C(1) << (j & 63);
    for (uint32_t q = 0; q < set->nlone; q++)
        if (gs[set->lone[q]].principal)
            set->item_principal[(ns + q) >> 6] |= UINT64_C(1) << ((ns + q) & 63);
    for (uint32_t j = 0; j < ns; j++)
        if (sl[j].var == VAR_ACTION)
            set->item_action[j >> 6] |= UINT64_C(1) << (j & 63);
    for (uint32_t q = 0; q < set->nlone; q++)
        if (gs[set->lone[q]].action)
            set->item_action[(ns + q) >> 6] |= UINT64_C(1) << ((ns + q) & 63);
    if (!resource_items(set, gs))
        return false;
    set->item_pols = cu_arena_alloc(a, sizeof(uint64_t) * words * (items ? items : 1));
    if (!set->item_pols)
        return false;
    memset(set->item_pols, 0, sizeof(uint64_t) * words * (items ? items : 1));
    for (uint32_t pi = 0; pi < set->n; pi++) {
        const policy *p = &set->pols[pi];
        for (uint32_t st = 0; st < p->npre; st++) {
            uint32_t it = item_of[p->pre[st].guard];
            set->pol_items[(size_t)pi * iw + (it >> 6)] |= UINT64_C(1) << (it & 63);
            set->item_pols[(size_t)it * words + (pi >> 6)] |= UINT64_C(1) << (pi & 63);
        }
    }
    return has_before_build(set, gs, item_of) && tc_build(set) && nest_build(set);
}

static uint64_t text_hash(const char *s) { return pol_hash(s, strlen(s), 0x2545f4914f6cdd1dull); }

static int32_t guard_by_text(const pguard *gs, uint32_t ng, const char *t)
{
    for (uint32_t k = 0; k < ng; k++)
        if (strcmp(gs[k].text, t) == 0)
            return (int32_t)k;
    return -1;
}

/* Invariant 6: a G_BOOL leaf whose value is a guard's of the set (the same
 * folded text) or that value negated (`!T` against T, `!(T)`, a comparison
 * negated or turned round: `a <= b` against `b < a`), errors included (a
 * guard's -1 stays -1 under !, and a comparison errs when either side is not
 * a Long, whichever way round), shares its value within a request. */
static bool bool_share(cu_policy_set *set, pguard *gs, uint32_t ng)
{
    cu_arena *a = set->arena;
    static const char *const ops[] = {"<", "<=", ">", ">="};
    for (uint32_t k = 0; k < ng; k++) {
        pguard *g = &gs[k];
        if (g->kind != G_BOOL)
            continue;
        g->leaf_g = cu_arena_alloc(a, sizeof *g->leaf_g * g->nleaf);
        g->leaf_neg = cu_arena_alloc(a, g->nleaf);
        if (!g->leaf_g || !g->leaf_neg)
            return false;
        for (uint32_t i = 0; i < g->nleaf; i++) {
            const node *x = g->leaf_n[i];
            char *t = pol_node_text(a, set->src, x);
            if (!t)
                return false;
            size_t tl = strlen(t);
            char *alt = cu_arena_alloc(a, 2 * tl + 16);
            if (!alt)
                return false;
            int32_t f = guard_by_text(gs, ng, t);
            bool neg = false;
            if (f < 0) {
                snprintf(alt, 2 * tl + 16, "!%s", t);
                f = guard_by_text(gs, ng, alt);
                neg = f >= 0;
            }
            if (f < 0) {
                snprintf(alt, 2 * tl + 16, "!(%s)", t);
                f = guard_by_text(gs, ng, alt);
                neg = f >= 0;
            }
            if (f < 0 && t[0] == '!') {
                size_t skip = t[1] == '(' && t[tl - 1] == ')' ? 2 : 1;
                snprintf(alt, 2 * tl + 16, "%.*s", (int)(tl - skip - (skip == 2)), t + skip);
                f = guard_by_text(gs, ng, alt);
                neg = f >= 0;
            }
            if (f < 0 && x->op >= N_LT && x->op <= N_GE) {
                /* N_LT, N_LE, N_GT, N_GE in that order: the same test turned
                 * round, or negated either way round */
                int o = x->op - N_LT, swap[] = {2, 3, 0, 1}, not[] = {3, 2, 1, 0};
                char *l = pol_node_text(a, set->src, x->kids[0]), *r = pol_node_text(a, set->src, x->kids[1]);
                if (!l || !r)
                    return false;
                const char *form[3][3] = {{r, ops[swap[o]], l}, {l, ops[not[o]], r}, {r, ops[swap[not[o]]], l}};
                for (int q = 0; q < 3 && f < 0; q++) {
                    snprintf(alt, 2 * tl + 16, "%s %s %s", form[q][0], form[q][1], form[q][2]);
                    f = guard_by_text(gs, ng, alt);
                    neg = f >= 0 && q > 0;
                }
            }
            g->leaf_g[i] = f;
            g->leaf_neg[i] = neg;
        }
    }
    return true;
}

bool pol_guards_build(cu_policy_set *set)
{
    if (set->n == 0 || set->n > GUARD_MAX_POLICIES)
        return true;
    cu_arena *a = set->arena;
    pguard *gs = cu_arena_alloc(a, sizeof *gs * GUARD_MAX);
    int32_t tab[2 * GUARD_MAX]; /* open addressing on the text hash: guard index, -1 empty */
    if (!gs)
        return false;
    for (size_t i = 0; i < 2 * GUARD_MAX; i++)
        tab[i] = -1;
    uint32_t ng = 0;
    for (uint32_t pi = 0; pi < set->n; pi++) {
        policy *p = &set->pols[pi];
        uint32_t units = 0;
        for (uint32_t ci = 0; ci < p->nconds; ci++)
            units += p->conds[ci].unless ? 1 : p->conds[ci].nconj;
        if (!units)
            continue;
        pstep *steps = cu_arena_alloc(a, sizeof *steps * units);
        if (!steps)
            return false;
        uint32_t ns = 0, ci = 0, kj = 0;
        bool stop = false;
        for (ci = 0; ci < p->nconds && !stop; ci++) {
            const pcond *cd = &p->conds[ci];
            node *const *u = cd->unless ? &cd->expr : cd->conj;
            uint32_t nu = cd->unless ? 1 : cd->nconj;
            for (kj = 0; kj < nu; kj++) {
                pguard g;
                if (!classify(u[kj], &g, a)) {
                    stop = true;
                    break;
                }
                char *text = pol_node_text(a, set->src, u[kj]);
                if (!text)
                    return false;
                uint64_t h = text_hash(text);
                size_t slot = h & (2 * GUARD_MAX - 1);
                while (tab[slot] >= 0 && strcmp(gs[tab[slot]].text, text) != 0)
                    slot = (slot + 1) & (2 * GUARD_MAX - 1);
                if (tab[slot] < 0) {
                    if (ng == GUARD_MAX) {
                        stop = true;
                        break;
                    }
                    g.text = text;
                    gs[ng] = g;
                    tab[slot] = (int32_t)ng++;
                }
                steps[ns++] = (pstep){.guard = (uint32_t)tab[slot], .want = !cd->unless, .unless = cd->unless,
                                      .n = u[kj]};
            }
            if (stop)
                break;
        }
        p->pre = steps;
        p->npre = ns;
        p->pre_cond = ci;
        p->pre_conj = stop ? kj : 0;
    }
    uint32_t words = (set->n + 63) / 64;
    for (uint32_t k = 0; k < ng; k++) {
        uint64_t *b = cu_arena_alloc(a, sizeof(uint64_t) * 3 * words);
        if (!b)
            return false;
        memset(b, 0, sizeof(uint64_t) * 3 * words);
        gs[k].need_true = b;
        gs[k].need_false = b + words;
        gs[k].mention = b + 2 * words;
    }
    for (uint32_t pi = 0; pi < set->n; pi++) {
        const policy *p = &set->pols[pi];
        for (uint32_t s = 0; s < p->npre; s++) {
            pguard *g = &gs[p->pre[s].guard];
            uint64_t bit = UINT64_C(1) << (pi & 63);
            (p->pre[s].want ? g->need_true : g->need_false)[pi >> 6] |= bit;
            g->mention[pi >> 6] |= bit;
        }
    }
    set->guards = gs;
    set->nguards = ng;
    if (!bool_share(set, gs, ng))
        return false;
    return build_slots(set, gs, ng);
}

void cu_policy_set_guards(cu_policy_set *s, bool on)
{
    if (s)
        s->guards_mode = on ? POL_GUARDS_ON : POL_GUARDS_OFF;
}
