/* Policy engine: guard prefixes (src/policy/guard.c) change nothing but the
 * speed.  Seeded random policy sets built from guard shapes (`!context.bg`,
 * `[..].contains(principal.role)`, `principal.unit like "X-*"`,
 * `context has purpose`, `action == ..`, `context.now >= principal.n`,
 * reads through `context.k` and `context.k.who.contains(principal)`,
 * `resource in context.k`) mixed with other conditions, over
 * random requests whose attributes are sometimes missing or of the wrong
 * type, answered with the guards on and off: decisions, reasons, errors (and
 * their messages) and explanations must be identical, through
 * cu_policy_eval and the lazy split the gateway uses.  Likewise with and
 * without resource class keys (cu_policy_request_resource_key) over sets
 * whose guards test the resource's own attributes. */
#include "harness.h"

#include "policy/policy_int.h"

#include <stdio.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *const ROLES[] = {"PC", "DC", "PS", "analyst", "staff"};
static const char *const UNITS[] = {"MIT-1", "PSD-2", "CTP-3", "TP-CW", "LIC-9"};
static const char *const PURPOSES[] = {"investigation", "intelligence", "training", "other"};

/* One conjunct: a guard most of the time, sometimes not. */
static cu_rc conjunct(cu_buf *b)
{
    switch (rnd(40)) {
    /* leaves that are other guards negated or turned round (their values
     * shared within a request): `context.k.n < context.now` and
     * `context.now < context.k.n` are guards of their own elsewhere */
    case 39: return cu_buf_appends(b, rnd(2) ? "(context.bg || context.k.n >= context.now)"
                                             : "(!context.bg && (context.now <= context.k.n || context.k.n > context.now))");
    /* &&, || and ! over guards (short-circuit: a later operand's error or
     * missing slot is not reached when an earlier one decides) */
    case 36: return cu_buf_appends(b, rnd(2) ? "(context.bg || !resource.live || (context has k && context.k.n <= context.now "
                                               "&& context.k.who.contains(principal) && resource in context.k))"
                                             : "(!context.bg && (context.k.flag || principal.n > context.now))");
    case 37: return cu_buf_appendf(b, rnd(2) ? "!(context.purpose == \"%s\" || !(context has k) || context.k.s == \"MIT-1\")"
                                             : "(resource.live && context.bg || [\"%s\", \"other\"].contains(context.purpose))",
                                   PURPOSES[rnd(4)]);
    case 38: return cu_buf_appends(b, rnd(3) == 0 ? "(context.bg || !(context has k && context.k.flag))"
                                    : rnd(2) ? "(context has k && (context.k.flag || context.k.n >= 2))"
                                             : "(principal.flag || principal.role == \"PC\") && (action == Action::\"view\" || context.bg)");
    /* expressions of the principal alone (the memo decides them whole),
     * some of them errors (a non-bool operand of ||, a missing attribute) */
    case 33: return cu_buf_appendf(b, rnd(2) ? "(principal.role == \"%s\" || principal.unit like \"M*\")"
                                             : "(principal.n > 1 || principal.role)", ROLES[rnd(5)]);
    case 34: return cu_buf_appends(b, rnd(2) ? "!(principal.flag && principal.n > 1)" : "(principal is User || principal.n == 2)");
    case 35: return cu_buf_appends(b, rnd(2) ? "(if principal has role then principal.role == \"DC\" else principal.n < 2)"
                                             : "[\"PC\", \"DC\"].containsAny([principal.role, \"x\"])");
    /* comparisons of principal attributes with context.now, either side
     * first (the memo decides them per interval of now), and the action */
    case 30: return cu_buf_appends(b, rnd(2) ? "principal.m <= context.now" : "principal.n > context.now");
    case 31: return cu_buf_appends(b, rnd(2) ? "context.now < principal.m" : "!(principal.m >= context.now)");
    case 32: return cu_buf_appends(b, rnd(2) ? "!(action == Action::\"edit\")" : "action != Action::\"view\"");
    /* reads through context.k (an entity, a record, missing, another
     * type), and a slot's set or entity against a variable */
    case 19: return cu_buf_appends(b, "context has k");
    case 20: return cu_buf_appends(b, rnd(2) ? "context.k.n < context.now" : "context.now >= context.k.n");
    case 21: return cu_buf_appendf(b, rnd(2) ? "context.k.s == \"%s\"" : "[\"%s\", \"MIT-1\"].contains(context.k.s)",
                                   UNITS[rnd(5)]);
    case 22: return cu_buf_appends(b, rnd(2) ? "context.k.flag" : "!context.k.flag");
    case 23: return cu_buf_appends(b, rnd(2) ? "context.k.who.contains(principal)" : "!context.k.who.contains(principal)");
    case 24: return cu_buf_appends(b, rnd(2) ? "resource in context.k" : "!(resource in context.k)");
    case 25: return cu_buf_appends(b, rnd(2) ? "principal in context.k" : "context.k.n > 2");
    case 26: return cu_buf_appends(b, rnd(2) ? "context has k && context.k.n >= 1" : "context has k && resource in context.k");
    case 27: return cu_buf_appends(b, rnd(2) ? "principal.friends.contains(resource)" : "context.purpose.contains(principal)");
    case 28: return cu_buf_appends(b, rnd(2) ? "context has k && !context.k.who.contains(principal)" : "context.j.n < 3");
    case 29: return cu_buf_appends(b, "context has k && context.now < context.k.n");
    case 16: return cu_buf_appendf(b, "!([\"%s\", \"%s\"].contains(principal.role))", ROLES[rnd(5)], ROLES[rnd(5)]);
    case 17: return cu_buf_appends(b, rnd(2) ? "!(context has purpose)" : "!(principal.unit like \"M*\")");
    case 18: return cu_buf_appends(b, rnd(2) ? "!(context.now >= principal.n)" : "!(!principal.flag)");
    case 0: return cu_buf_appends(b, "!context.bg");
    case 1: return cu_buf_appends(b, "context.bg");
    case 2: return cu_buf_appendf(b, "principal.role == \"%s\"", ROLES[rnd(5)]);
    case 3: return cu_buf_appendf(b, "[\"%s\", \"%s\"].contains(principal.role)", ROLES[rnd(5)], ROLES[rnd(5)]);
    case 4: return cu_buf_appendf(b, "principal.unit like \"%.3s*\"", UNITS[rnd(5)]);
    case 5: return cu_buf_appends(b, "context has purpose");
    case 6: return cu_buf_appendf(b, "context.purpose != \"%s\"", PURPOSES[rnd(4)]);
    case 7: return cu_buf_appendf(b, "[\"%s\", \"%s\"].contains(context.purpose)", PURPOSES[rnd(4)], PURPOSES[rnd(4)]);
    case 8: return cu_buf_appends(b, "principal.flag");
    case 9: return cu_buf_appends(b, "action == Action::\"view\"");
    case 10: return cu_buf_appends(b, "resource.live");
    case 11: return cu_buf_appends(b, "\"PC\" == principal.role");
    case 12: return cu_buf_appends(b, "context.now >= principal.n");
    case 13: return cu_buf_appends(b, rnd(2) ? "principal.n + 1 > 2" : rnd(2) ? "principal.n < 3" : "2 <= context.now");
    case 14: return cu_buf_appends(b, "resource has live && !resource.live");
    default: return cu_buf_appends(b, "principal.unit like \"*-9\"");
    }
}

static cu_rc condition(cu_buf *b)
{
    bool unless = rnd(4) == 0;
    cu_rc rc = cu_buf_appends(b, unless ? " unless { " : " when { ");
    uint32_t n = unless ? 1 : 1 + rnd(4);
    for (uint32_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = cu_buf_appends(b, " && ");
        if (!rc)
            rc = conjunct(b);
    }
    return rc ? rc : cu_buf_appends(b, " }");
}

static cu_policy_set *random_set(int npol)
{
    cu_buf b;
    cu_buf_init(&b, 1 << 20);
    for (int i = 0; i < npol; i++) {
        bool forbid = rnd(4) == 0;
        char pscope_text[48] = "";
        uint32_t ps = rnd(8);
        if (ps == 0)
            snprintf(pscope_text, sizeof pscope_text, " in Group::\"g%u\"", rnd(3));
        else if (ps == 1)
            snprintf(pscope_text, sizeof pscope_text, " == User::\"u%u\"", rnd(4));
        else if (ps == 2)
            snprintf(pscope_text, sizeof pscope_text, " is User");
        CHECK_OK(cu_buf_appendf(&b, "@id(\"p%d\")%s %s (principal%s, action%s, resource)", i,
                                rnd(3) == 0 ? " @reason(\"because {principal}\")" : "", forbid ? "forbid" : "permit",
                                pscope_text, rnd(3) == 0 ? " == Action::\"edit\"" : ""));
        uint32_t nc = forbid ? 1 + rnd(2) : rnd(3);
        for (uint32_t k = 0; k < nc; k++)
            CHECK_OK(condition(&b));
        CHECK_OK(cu_buf_appends(&b, ";\n"));
    }
    cu_policy_set *s = NULL;
    CHECK_OK(cu_policy_set_parse(b.data, b.len, "guard", &s));
    cu_buf_free(&b);
    return s;
}

/* A principal whose attributes are sometimes missing or of another type. */
static cu_policy_request *random_request(cu_arena *a, const cu_policy_set *memo_for, const cu_policy_set *act_memo_for)
{
    char *pid = cu_arena_alloc(a, 16), *rid = cu_arena_alloc(a, 16);
    snprintf(pid, 16, "u%u", rnd(8));
    snprintf(rid, 16, "r%u", rnd(100));
    cu_policy_entity *u = cu_policy_entity_make(a, "User", 4, pid, strlen(pid), 6, 1);
    cu_policy_entity *r = cu_policy_entity_make(a, "Doc", 3, rid, strlen(rid), 1, 1);
    static const char *const acts[] = {"view", "edit"};
    const char *act = acts[rnd(2)];
    cu_policy_entity *ac = cu_policy_entity_make(a, "Action", 6, act, strlen(act), 0, 0);
    if (!u || !r || !ac)
        return NULL;
    /* keys in (length, bytes) order: n, flag, role, unit */
    if (rnd(8))
        CHECK_OK(cu_policy_entity_put(u, "n", rnd(10) ? cu_policy_val_long(a, (int64_t)rnd(5))
                                                       : cu_policy_val_string_ref(a, "3", 1)));
    if (rnd(8))
        CHECK_OK(cu_policy_entity_put(u, "m", cu_policy_val_long(a, (int64_t)rnd(6) - 1)));
    if (rnd(6))
        CHECK_OK(cu_policy_entity_put(u, "flag", rnd(5) ? cu_policy_val_bool(a, rnd(2)) : cu_policy_val_long(a, 1)));
    if (rnd(8)) {
        const char *role = ROLES[rnd(5)];
        CHECK_OK(cu_policy_entity_put(u, "role", rnd(6) ? cu_policy_val_string_ref(a, role, strlen(role))
                                                         : cu_policy_val_long(a, 3)));
    }
    if (rnd(8)) {
        const char *unit = UNITS[rnd(5)];
        CHECK_OK(cu_policy_entity_put(u, "unit", rnd(6) ? cu_policy_val_string_ref(a, unit, strlen(unit))
                                                         : cu_policy_val_bool(a, true)));
    }
    if (rnd(4))
        CHECK_OK(cu_policy_entity_put(r, "live", rnd(6) ? cu_policy_val_bool(a, rnd(2)) : cu_policy_val_long(a, 0)));
    if (rnd(2))
        CHECK_OK(cu_policy_entity_put_parent(r, cu_policy_val_entity_ref(a, "Thing", 5, "k1", 2)));
    if (rnd(3)) {
        const cu_policy_value *fr = cu_policy_val_entity_ref(a, "Doc", 3, rid, strlen(rid));
        CHECK_OK(cu_policy_entity_put(u, "friends", rnd(2) ? cu_policy_val_set(a, &fr, 1) : cu_policy_val_set(a, &fr, 0)));
    }
    if (rnd(2)) {
        char *gid = cu_arena_alloc(a, 8);
        snprintf(gid, 8, "g%u", rnd(3));
        CHECK_OK(cu_policy_entity_put_parent(u, cu_policy_val_entity_ref(a, "Group", 5, gid, strlen(gid))));
    }
    CHECK_OK(cu_policy_entity_seal(u, NULL, a));
    if (memo_for)
        CHECK_OK(cu_policy_entity_memo(u, memo_for, a));
    CHECK_OK(cu_policy_entity_seal(r, NULL, a));
    CHECK_OK(cu_policy_entity_seal(ac, NULL, a));
    if (act_memo_for)
        CHECK_OK(cu_policy_entity_memo_action(ac, act_memo_for, a));
    cu_policy_request *q = cu_policy_request_of(a, u, ac, r);
    if (!q)
        return NULL;
    CHECK_OK(cu_policy_request_ctx(q, "bg", rnd(7) ? cu_policy_val_bool(a, rnd(2)) : cu_policy_val_long(a, 1)));
    /* now: a Long (sometimes equal to a principal's value), rarely a String or missing */
    if (rnd(12))
        CHECK_OK(cu_policy_request_ctx(q, "now", cu_policy_val_long(a, (int64_t)rnd(5))));
    else if (rnd(2))
        CHECK_OK(cu_policy_request_ctx(q, "now", cu_policy_val_string_ref(a, "2", 1)));
    if (rnd(5)) {
        const char *pp = PURPOSES[rnd(4)];
        CHECK_OK(cu_policy_request_ctx(q, "purpose", cu_policy_val_string_ref(a, pp, strlen(pp))));
    }
    /* context.k: an entity attached to the request (attributes sometimes
     * missing or of another type), one not attached (it does not exist),
     * the resource itself, a record, a Long, or nothing */
    uint32_t kk = rnd(9);
    if (kk <= 3) {
        cu_policy_entity *t = cu_policy_entity_make(a, "Thing", 5, "k1", 2, 4, 0);
        CHECK(t != NULL);
        if (!t)
            return NULL;
        if (rnd(6))
            CHECK_OK(cu_policy_entity_put(t, "n", rnd(6) ? cu_policy_val_long(a, (int64_t)rnd(5))
                                                          : cu_policy_val_string_ref(a, "x", 1)));
        if (rnd(6)) {
            const char *unit = UNITS[rnd(5)];
            CHECK_OK(cu_policy_entity_put(t, "s", cu_policy_val_string_ref(a, unit, strlen(unit))));
        }
        if (rnd(6))
            CHECK_OK(cu_policy_entity_put(t, "flag", rnd(6) ? cu_policy_val_bool(a, rnd(2)) : cu_policy_val_long(a, 1)));
        if (rnd(6)) {
            const cu_policy_value *who[2] = {cu_policy_entity_value(a, u),
                                             cu_policy_val_entity_ref(a, "User", 4, "u9", 2)};
            uint32_t from = rnd(2);
            CHECK_OK(cu_policy_entity_put(t, "who", rnd(6) ? cu_policy_val_set(a, who + from, 2 - from - rnd(2) * (1 - from))
                                                           : cu_policy_val_long(a, 2)));
        }
        CHECK_OK(cu_policy_entity_seal(t, NULL, a));
        if (kk <= 2)
            CHECK_OK(cu_policy_request_entity(q, t));
        CHECK_OK(cu_policy_request_ctx(q, "k", cu_policy_entity_value(a, t)));
    } else if (kk == 4) {
        CHECK_OK(cu_policy_request_ctx(q, "k", cu_policy_entity_value(a, r)));
    } else if (kk == 5) {
        static const char *const keys[] = {"n", "s"};
        const cu_policy_value *vals[] = {cu_policy_val_long(a, (int64_t)rnd(5)), cu_policy_val_string_ref(a, "MIT-1", 5)};
        CHECK_OK(cu_policy_request_ctx(q, "k", cu_policy_val_record(a, keys, vals, 1 + rnd(2))));
    } else if (kk == 6) {
        CHECK_OK(cu_policy_request_ctx(q, "k", cu_policy_val_long(a, 1)));
    }
    return q;
}

static bool same_str(const char *x, const char *y) { return (!x && !y) || (x && y && strcmp(x, y) == 0); }

static bool same_answer(const cu_policy_answer *x, const cu_policy_answer *y)
{
    if (x->allow != y->allow || x->n_reasons != y->n_reasons || x->n_errors != y->n_errors)
        return false;
    for (size_t i = 0; i < x->n_reasons; i++)
        if (strcmp(x->reasons[i], y->reasons[i]) != 0)
            return false;
    for (size_t i = 0; i < x->n_errors; i++)
        if (strcmp(x->errors[i].policy_id, y->errors[i].policy_id) != 0 ||
            !same_str(x->errors[i].message, y->errors[i].message))
            return false;
    return same_str(x->explain_policy, y->explain_policy) && same_str(x->explain_condition, y->explain_condition) &&
           same_str(x->explanation, y->explanation);
}

static void dump(const char *what, const cu_policy_answer *x)
{
    cu_buf b;
    cu_buf_init(&b, 1 << 16);
    if (cu_policy_answer_json(x, &b) == CU_OK && cu_buf_appends(&b, "") == CU_OK)
        fprintf(stderr, "  %s: %.*s\n", what, (int)b.len, b.data);
    cu_buf_free(&b);
}

TEST(guards_change_no_answer)
{
    cu_arena *a = cu_arena_new(64 * 1024, 16u << 20);
    int differ = 0, used = 0, allows = 0, errors = 0, explained = 0;
    for (int round = 0; round < 40 && !differ; round++) {
        cu_policy_set *s = random_set(4 + rnd(round < 20 ? 12 : round < 30 ? 60 : 124)); /* over 64: two words */
        cu_policy_set *other = random_set(8);
        if (!s || !other)
            break;
        used += s->nguards > 0;
        cu_policy_split *sp = NULL;
        CHECK_OK(cu_policy_split_new(s, "bg", &sp));
        for (int q = 0; q < 150 && !differ; q++) {
            cu_arena_reset(a);
            /* the principal memoised for this set, for another set (ignored), or not */
            cu_policy_request *r = random_request(a, q % 3 == 0 ? s : q % 3 == 1 ? other : NULL,
                                                  q % 4 == 0 ? s : q % 4 == 1 ? other : NULL);
            CHECK(r != NULL);
            if (!r)
                break;
            cu_policy_answer on, off, son[2], soff[2];
            /* "off": no guards and no memo (its scope candidates too) */
            struct cu_policy_entity *pe = (struct cu_policy_entity *)r->ent[0];
            struct cu_policy_entity *ae = (struct cu_policy_entity *)r->ent[1];
            uint64_t gen = pe->memo_gen, agen = ae->memo_gen;
            cu_policy_set_guards(s, true);
            CHECK_OK(cu_policy_eval(s, NULL, r, a, &on));
            cu_policy_set_guards(s, false);
            pe->memo_gen = ae->memo_gen = 0;
            CHECK_OK(cu_policy_eval(s, NULL, r, a, &off));
            pe->memo_gen = gen;
            ae->memo_gen = agen;
            if (!same_answer(&on, &off)) {
                differ++;
                fprintf(stderr, "round %d request %d: cu_policy_eval differs\n", round, q);
                dump("guards on ", &on);
                dump("guards off", &off);
            }
            allows += on.allow;
            errors += on.n_errors > 0;
            explained += on.explain_policy != NULL;
            /* the lazy split the gateway uses, where the context has bg as a bool */
            bool has_bool_bg = false;
            for (uint32_t i = 0; i < r->nctx; i++)
                has_bool_bg |= r->ctx[i].klen == 2 && memcmp(r->ctx[i].key, "bg", 2) == 0;
            if (!has_bool_bg)
                continue;
            cu_policy_set_guards(s, true);
            CHECK_OK(cu_policy_eval_split(s, sp, NULL, r, a, CU_POLICY_SPLIT_LAZY, son));
            cu_policy_set_guards(s, false);
            pe->memo_gen = ae->memo_gen = 0;
            CHECK_OK(cu_policy_eval_split(s, sp, NULL, r, a, CU_POLICY_SPLIT_LAZY, soff));
            pe->memo_gen = gen;
            ae->memo_gen = agen;
            for (int v = 0; v < 2; v++)
                if (!same_answer(&son[v], &soff[v])) {
                    differ++;
                    fprintf(stderr, "round %d request %d: split answer %d differs\n", round, q, v);
                    dump("guards on ", &son[v]);
                    dump("guards off", &soff[v]);
                }
            /* and the lazy split against two plain evaluations (bg false, true):
             * the second answer, made only after no error-free allow, has no
             * explanation */
            for (int v = 0; v < 2; v++) {
                cu_policy_answer one;
                CHECK_OK(cu_policy_request_ctx(r, "bg", cu_policy_val_bool(a, v == 1)));
                cu_policy_set_guards(s, v == 0);
                pe->memo_gen = v == 0 ? gen : 0;
                ae->memo_gen = v == 0 ? agen : 0;
                CHECK_OK(cu_policy_eval(s, NULL, r, a, &one));
                pe->memo_gen = gen;
                ae->memo_gen = agen;
                if (v == 1) {
                    if (son[0].allow && !son[0].n_errors)
                        continue;
                    one.explanation = one.explain_policy = one.explain_condition = NULL;
                }
                if (!same_answer(&son[v], &one)) {
                    differ++;
                    fprintf(stderr, "round %d request %d: lazy answer %d differs from eval\n", round, q, v);
                    dump("lazy", &son[v]);
                    dump("eval", &one);
                }
            }
        }
        cu_policy_split_free(sp);
        cu_policy_set_release(s);
        cu_policy_set_release(other);
    }
    CHECK_INT(differ, 0);
    /* the generator reaches every kind of answer */
    CHECK(used >= 39);
    CHECK(allows > 100);
    CHECK(errors > 100);
    fprintf(stderr, "used %d allows %d errors %d explained %d\n", used, allows, errors, explained);
    CHECK(explained > 100);
    cu_arena_free(a);
}

/* The prefix found for a known policy, and its resume point. */
TEST(guard_prefix_of_a_policy)
{
    static const char text[] =
        "@id(\"a\") permit (principal, action, resource)\n"
        "  when { !context.bg && [\"PC\", \"DC\"].contains(principal.role) && principal.n + 1 > context.now "
        "&& principal.unit like \"MIT-*\" };\n"
        "@id(\"b\") forbid (principal, action, resource) unless { context has case } when { resource.live };\n"
        "@id(\"c\") permit (principal, action, resource) when { !context.bg && principal.role == \"PC\" };\n"
        "@id(\"d\") forbid (principal, action, resource)\n"
        "  when { context has case && context.now >= context.case.closed } unless { context.bg };\n"
        "@id(\"e\") forbid (principal, action, resource)\n"
        "  when { context has case && !context.case.officers.contains(principal) && !(resource in context.case) "
        "&& context.case.a.b == 1 };\n";
    cu_policy_set *s = NULL;
    CHECK_OK(cu_policy_set_parse(text, sizeof text - 1, "t", &s));
    if (!s)
        return;
    CHECK_INT(s->pols[0].npre, 2); /* stops at the comparison of two slots */
    CHECK_INT(s->pols[0].pre_cond, 0);
    CHECK_INT(s->pols[0].pre_conj, 2);
    CHECK_INT(s->pols[1].npre, 2); /* the unless as one step wanting false, then the when */
    CHECK(!s->pols[1].pre[0].want);
    CHECK(s->pols[1].pre[1].want);
    CHECK_INT(s->pols[1].pre_cond, 2);
    /* `!context.bg` is one guard for a and c (same text) */
    CHECK_INT(s->pols[0].pre[0].guard, s->pols[2].pre[0].guard);
    /* reads through context.case are guards (one step further, no deeper),
     * and so are a slot's set or entity against a variable */
    CHECK_INT(s->pols[3].npre, 3);
    CHECK_INT(s->pols[4].npre, 3);
    CHECK_INT(s->pols[4].pre_conj, 3);
    /* d and e test `context has case` before their reads through it */
    int nested = 0;
    const char *case_name = NULL;
    for (uint32_t q = 0; q < s->nlone; q++) {
        const pguard *g = &s->guards[s->lone[q]];
        if (!g->nest)
            continue;
        nested++;
        CHECK(g->has_before != NULL);
        if (g->has_before)
            CHECK(g->has_before[0] == g->mention[0] && (g->mention[0] & ~UINT64_C(0x18)) == 0);
        /* the parser keeps one copy of each attribute name: every read
         * through context.case names it with the same pointer (eval.c's
         * nest_root tests it before the bytes) */
        CHECK(g->nest->nlen == 4 && memcmp(g->nest->name, "case", 4) == 0);
        if (!case_name)
            case_name = g->nest->name;
        CHECK(g->nest->name == case_name);
    }
    CHECK_INT(nested, 3);
    /* and different names stay different: d's closed, e's officers */
    const node *closed = s->guards[s->pols[3].pre[1].guard].cmp->kids[1];
    CHECK(closed->op == N_ATTR && closed->nlen == 6 && memcmp(closed->name, "closed", 6) == 0);
    CHECK(closed->kids[0]->name == case_name);
    cu_policy_set_release(s);
}

/* A memo is the entity's and the set's: another set ignores it, and a put
 * (new attributes) drops it. */
TEST(principal_memo_follows_the_entity)
{
    static const char text[] =
        "@id(\"pc\") permit (principal, action, resource) when { principal.role == \"PC\" };\n"
        "@id(\"no-x\") forbid (principal, action, resource) when { principal.unit like \"X-*\" };\n";
    cu_policy_set *s = NULL, *s2 = NULL;
    CHECK_OK(cu_policy_set_parse(text, sizeof text - 1, "t", &s));
    CHECK_OK(cu_policy_set_parse(text, sizeof text - 1, "t", &s2));
    cu_arena *a = cu_arena_new(64 * 1024, 1 << 20);
    if (!s || !s2 || !a)
        return;
    CHECK(s->gen != s2->gen);
    cu_policy_entity *u = cu_policy_entity_make(a, "User", 4, "u", 1, 2, 0);
    cu_policy_entity *ac = cu_policy_entity_make(a, "Action", 6, "view", 4, 0, 0);
    cu_policy_entity *d = cu_policy_entity_make(a, "Doc", 3, "d", 1, 0, 0);
    CHECK_OK(cu_policy_entity_put(u, "role", cu_policy_val_string(a, "PC", 2)));
    CHECK_OK(cu_policy_entity_put(u, "unit", cu_policy_val_string(a, "A-1", 3)));
    CHECK_RC(cu_policy_entity_memo(u, s, a), CU_ERR_INVAL); /* not sealed yet */
    CHECK_OK(cu_policy_entity_seal(u, NULL, a));
    CHECK_OK(cu_policy_entity_seal(ac, NULL, a));
    CHECK_OK(cu_policy_entity_seal(d, NULL, a));
    CHECK_OK(cu_policy_entity_memo(u, s, a));
    CHECK_INT(u->memo_gen, s->gen);
    cu_policy_request *r = cu_policy_request_of(a, u, ac, d);
    cu_policy_answer ans;
    CHECK_OK(cu_policy_eval(s, NULL, r, a, &ans));
    CHECK(ans.allow);
    CHECK_OK(cu_policy_eval(s2, NULL, r, a, &ans)); /* another set: its own guards */
    CHECK(ans.allow);
    /* new attributes drop the memo: the answers follow them */
    CHECK_OK(cu_policy_entity_put(u, "unit", cu_policy_val_string(a, "X-9", 3)));
    CHECK_INT(u->memo_gen, 0);
    CHECK_OK(cu_policy_eval(s, NULL, r, a, &ans));
    CHECK(!ans.allow);
    CHECK(ans.n_reasons == 1 && strcmp(ans.reasons[0], "no-x") == 0);
    /* memoised again, still the new answer; and a stale memo of another set
     * on the entity is not taken for this one */
    CHECK_OK(cu_policy_entity_memo(u, s2, a));
    CHECK_OK(cu_policy_eval(s, NULL, r, a, &ans));
    CHECK(!ans.allow);
    CHECK_OK(cu_policy_entity_memo(u, s, a));
    CHECK_OK(cu_policy_eval(s, NULL, r, a, &ans));
    CHECK(!ans.allow);
    cu_arena_free(a);
    cu_policy_set_release(s);
    cu_policy_set_release(s2);
}

/* The memo also holds the principal's part of the scope index: new
 * parents (put_parent, seal) drop it, and the answer follows them. */
TEST(principal_memo_holds_scope_candidates)
{
    static const char text[] = "@id(\"g\") permit (principal in Group::\"g\", action, resource);\n"
                               "@id(\"u\") permit (principal == User::\"v\", action, resource);\n";
    cu_policy_set *s = NULL;
    CHECK_OK(cu_policy_set_parse(text, sizeof text - 1, "t", &s));
    cu_arena *a = cu_arena_new(64 * 1024, 1 << 20);
    if (!s || !a)
        return;
    cu_policy_entity *u = cu_policy_entity_make(a, "User", 4, "u", 1, 0, 1);
    cu_policy_entity *ac = cu_policy_entity_make(a, "Action", 6, "view", 4, 0, 0);
    cu_policy_entity *d = cu_policy_entity_make(a, "Doc", 3, "d", 1, 0, 0);
    CHECK_OK(cu_policy_entity_seal(u, NULL, a));
    CHECK_OK(cu_policy_entity_seal(ac, NULL, a));
    CHECK_OK(cu_policy_entity_seal(d, NULL, a));
    CHECK_OK(cu_policy_entity_memo(u, s, a));
    cu_policy_request *r = cu_policy_request_of(a, u, ac, d);
    cu_policy_answer ans;
    CHECK_OK(cu_policy_eval(s, NULL, r, a, &ans));
    CHECK(!ans.allow); /* u is in no group */
    CHECK_OK(cu_policy_entity_put_parent(u, cu_policy_val_entity(a, "Group", "g")));
    CHECK_INT(u->memo_gen, 0);
    CHECK_OK(cu_policy_entity_seal(u, NULL, a));
    CHECK_OK(cu_policy_eval(s, NULL, r, a, &ans));
    CHECK(ans.allow && ans.n_reasons == 1 && strcmp(ans.reasons[0], "g") == 0);
    CHECK_OK(cu_policy_entity_memo(u, s, a));
    CHECK_OK(cu_policy_eval(s, NULL, r, a, &ans));
    CHECK(ans.allow && ans.n_reasons == 1 && strcmp(ans.reasons[0], "g") == 0);
    cu_policy_set_release(s);
    cu_arena_free(a);
}

/* The guard items a request reads are kept per thread by its candidates
 * and the memos it brings (eval.c, guards_rel_cached): requests whose
 * candidates differ only in the second word, or that bring a memo or not,
 * must not share them.  Policies 0-63 are for another action, so the
 * candidates of a view are in the second word only. */
TEST(guard_items_kept_by_candidates_and_memos)
{
    cu_buf b;
    cu_buf_init(&b, 1 << 16);
    for (int i = 0; i < 64; i++)
        CHECK_OK(cu_buf_appendf(&b, "@id(\"f%d\") permit (principal, action == Action::\"noop\", resource);\n", i));
    CHECK_OK(cu_buf_appends(&b, "@id(\"a\") permit (principal == User::\"a\", action == Action::\"view\", resource)\n"
                                "  when { context.k == \"y\" };\n"
                                "@id(\"b\") permit (principal == User::\"b\", action == Action::\"view\", resource)\n"
                                "  when { context.j == \"y\" };\n"
                                "@id(\"c\") permit (principal == User::\"c\", action == Action::\"view\", resource)\n"
                                "  when { principal.role == \"PC\" };\n"));
    cu_policy_set *s = NULL;
    CHECK_OK(cu_policy_set_parse(b.data, b.len, "t", &s));
    cu_buf_free(&b);
    cu_arena *a = cu_arena_new(64 * 1024, 1 << 20);
    if (!s || !a)
        return;
    cu_policy_set_guards(s, true);
    cu_policy_entity *ac = cu_policy_entity_make(a, "Action", 6, "view", 4, 0, 0);
    cu_policy_entity *d = cu_policy_entity_make(a, "Doc", 3, "d", 1, 0, 0);
    CHECK_OK(cu_policy_entity_seal(ac, NULL, a));
    CHECK_OK(cu_policy_entity_seal(d, NULL, a));
    /* user, context k and j, whether its memo is used, allowed */
    static const struct {
        const char *user, *k, *j;
        bool memo, allow;
    } Q[] = {{"a", "y", "n", false, true}, {"b", "y", "n", false, false}, {"b", "n", "y", false, true},
             {"c", "y", "y", true, false}, {"c", "y", "y", false, false}, {"c", "y", "y", true, false}};
    for (size_t i = 0; i < sizeof Q / sizeof Q[0]; i++) {
        cu_policy_entity *u = cu_policy_entity_make(a, "User", 4, Q[i].user, 1, 1, 0);
        CHECK_OK(cu_policy_entity_put(u, "role", cu_policy_val_string(a, "DC", 2)));
        CHECK_OK(cu_policy_entity_seal(u, NULL, a));
        if (Q[i].memo)
            CHECK_OK(cu_policy_entity_memo(u, s, a));
        cu_policy_request *r = cu_policy_request_of(a, u, ac, d);
        CHECK(r != NULL);
        if (!r)
            break;
        CHECK_OK(cu_policy_request_ctx(r, "k", cu_policy_val_string(a, Q[i].k, 1)));
        CHECK_OK(cu_policy_request_ctx(r, "j", cu_policy_val_string(a, Q[i].j, 1)));
        cu_policy_answer ans;
        CHECK_OK(cu_policy_eval(s, NULL, r, a, &ans));
        CHECK_INT(ans.allow, Q[i].allow);
    }
    cu_arena_free(a);
    cu_policy_set_release(s);
}

/* cu_policy_entity_put_all: keys in (length, bytes) order, distinct, within
 * the room made; it replaces what was put before and drops a memo. */
TEST(entity_put_all_checks_order_and_room)
{
    cu_arena *a = cu_arena_new(4096, 1 << 20);
    cu_policy_entity *u = cu_policy_entity_make(a, "User", 4, "u", 1, 3, 0);
    if (!a || !u)
        return;
    const cu_policy_value *v[] = {cu_policy_val_long(a, 1), cu_policy_val_long(a, 2), cu_policy_val_long(a, 3),
                                  cu_policy_val_long(a, 4)};
    static const char *const good[] = {"b", "c", "aa", "ab"};
    static const uint32_t glen[] = {1, 1, 2, 2};
    static const char *const bad[] = {"aa", "b"};
    static const uint32_t blen[] = {2, 1};
    static const char *const dup[] = {"b", "b"};
    static const uint32_t dlen[] = {1, 1};
    CHECK_RC(cu_policy_entity_put_all(u, good, glen, v, 4), CU_ERR_TOOBIG);
    CHECK_RC(cu_policy_entity_put_all(u, bad, blen, v, 2), CU_ERR_INVAL);
    CHECK_RC(cu_policy_entity_put_all(u, dup, dlen, v, 2), CU_ERR_INVAL);
    CHECK_OK(cu_policy_entity_put(u, "zz", v[3]));
    CHECK_OK(cu_policy_entity_put_all(u, good, glen, v, 3));
    CHECK_OK(cu_policy_entity_seal(u, NULL, a));
    static const char text[] = "@id(\"p\") permit (principal, action, resource) when { principal.aa == 3 && "
                               "principal.b == 1 && !(principal has zz) };";
    cu_policy_set *s = NULL;
    CHECK_OK(cu_policy_set_parse(text, sizeof text - 1, "t", &s));
    cu_policy_entity *ac = cu_policy_entity_make(a, "Action", 6, "view", 4, 0, 0);
    cu_policy_entity *d = cu_policy_entity_make(a, "Doc", 3, "d", 1, 0, 0);
    CHECK_OK(cu_policy_entity_seal(ac, NULL, a));
    CHECK_OK(cu_policy_entity_seal(d, NULL, a));
    CHECK_OK(cu_policy_entity_memo(u, s, a));
    cu_policy_answer ans;
    CHECK_OK(cu_policy_eval(s, NULL, cu_policy_request_of(a, u, ac, d), a, &ans));
    CHECK(ans.allow);
    CHECK(ans.reason_index && ans.reason_index[0] == 0);
    CHECK_OK(cu_policy_entity_put_all(u, good + 1, glen + 1, v, 1)); /* only c = 1 now */
    CHECK_INT(u->memo_gen, 0);
    CHECK_OK(cu_policy_eval(s, NULL, cu_policy_request_of(a, u, ac, d), a, &ans));
    CHECK(!ans.allow);
    CHECK_INT(ans.n_errors, 1); /* principal.aa is gone */
    cu_policy_set_release(s);
    cu_arena_free(a);
}

/* cu_policy_request_ctx_all: the whole context at once, keys in (length,
 * bytes) order and distinct; it replaces what was set before, and a later
 * put goes to its sorted place. */
TEST(request_ctx_all_checks_order_and_replaces)
{
    cu_arena *a = cu_arena_new(4096, 1 << 20);
    if (!a)
        return;
    cu_policy_request *r = cu_policy_request_new(a, "User", "u", "Action", "view", "Doc", "d");
    CHECK(r != NULL);
    if (!r)
        return;
    const cu_policy_value *v[] = {cu_policy_val_long(a, 1), cu_policy_val_long(a, 2), cu_policy_val_long(a, 3)};
    static const char *const good[] = {"b", "aa", "ab"}, *const bad[] = {"aa", "b", "ab"}, *const dup[] = {"b", "b"};
    static const uint32_t glen[] = {1, 2, 2}, blen[] = {2, 1, 2}, dlen[] = {1, 1};
    CHECK_RC(cu_policy_request_ctx_all(r, bad, blen, v, 3), CU_ERR_INVAL);
    CHECK_RC(cu_policy_request_ctx_all(r, dup, dlen, v, 2), CU_ERR_INVAL);
    CHECK_OK(cu_policy_request_ctx(r, "zz", v[0]));
    CHECK_OK(cu_policy_request_ctx_all(r, good, glen, v, 3)); /* replaces zz */
    CHECK_OK(cu_policy_request_ctx(r, "a", v[2]));           /* before every other key */
    static const char text[] = "@id(\"p\") permit (principal, action, resource) when { context.b == 1 && "
                               "context.aa == 2 && context.ab == 3 && context.a == 3 && !(context has zz) };";
    cu_policy_set *s = NULL;
    CHECK_OK(cu_policy_set_parse(text, sizeof text - 1, "t", &s));
    if (!s)
        return;
    cu_policy_answer ans;
    CHECK_OK(cu_policy_eval(s, NULL, r, a, &ans));
    CHECK(ans.allow);
    CHECK_INT(ans.n_errors, 0);
    cu_policy_set_release(s);
    cu_arena_free(a);
}

/* &&, || and ! over guards make one guard (G_BOOL): the pack's need-to-know
 * shape is guarded whole; an operand that is no guard leaves it a plain
 * condition; a read through context.k with no `context has k` inside takes
 * the earlier `has` step into account (nest). */
TEST(bool_guards_of_a_policy)
{
    static const char text[] =
        "@id(\"ntk\") forbid (principal, action, resource) unless { context.bg || !resource.live || "
        "(context has k && context.k.n <= context.now && context.k.who.contains(principal) && resource in context.k) };\n"
        "@id(\"no\") forbid (principal, action, resource) when { context.bg || principal.n + 1 > context.now };\n"
        "@id(\"gov\") forbid (principal, action, resource) when { context has k && (resource.live && !context.k.flag) };\n";
    cu_policy_set *s = NULL;
    CHECK_OK(cu_policy_set_parse(text, sizeof text - 1, "t", &s));
    if (!s)
        return;
    CHECK_INT(s->pols[0].npre, 1);
    CHECK_INT(s->guards[s->pols[0].pre[0].guard].kind, G_BOOL);
    CHECK_INT(s->guards[s->pols[0].pre[0].guard].nleaf, 6);
    CHECK(s->guards[s->pols[0].pre[0].guard].nest == NULL); /* its own `has` decides */
    CHECK_INT(s->pols[1].npre, 0);
    CHECK_INT(s->pols[2].npre, 2);
    const pguard *g = &s->guards[s->pols[2].pre[1].guard];
    CHECK_INT(g->kind, G_BOOL);
    CHECK(g->nest != NULL && g->has_before != NULL); /* ruled out by the `has` step when k is missing */
    cu_policy_set_release(s);
}

/* ---------------------------------------------- resource class keys */

static const char *const CLS[] = {"OFFICIAL", "SECRET", "TOP-SECRET", "OTHER"};

/* A conjunct on the resource's own attributes (the guards a class key
 * stands for), or on its uid, or one of the general shapes. */
static cu_rc rconjunct(cu_buf *b)
{
    switch (rnd(12)) {
    case 0: return cu_buf_appendf(b, "resource.cls == \"%s\"", CLS[rnd(4)]);
    case 1: return cu_buf_appendf(b, "[\"%s\", \"%s\"].contains(resource.cls)", CLS[rnd(4)], CLS[rnd(4)]);
    case 2: return cu_buf_appendf(b, "resource.cls != \"%s\"", CLS[rnd(4)]);
    case 3: return cu_buf_appends(b, rnd(2) ? "resource.cls like \"*SECRET\"" : "!(resource.cls like \"O*\")");
    case 4: return cu_buf_appends(b, rnd(2) ? "resource.live" : "!resource.live");
    case 5: return cu_buf_appends(b, rnd(2) ? "resource has cls" : "!(resource has live)");
    case 6: return cu_buf_appends(b, rnd(2) ? "resource == Doc::\"r1\"" : "resource.live && context.bg");
    case 7: return cu_buf_appends(b, "(resource.cls == \"SECRET\" || principal.role == \"DC\")");
    default: return conjunct(b);
    }
}

static cu_policy_set *rkey_set(int npol)
{
    cu_buf b;
    cu_buf_init(&b, 1 << 20);
    for (int i = 0; i < npol; i++) {
        bool forbid = rnd(4) == 0;
        CHECK_OK(cu_buf_appendf(&b, "@id(\"p%d\") %s (principal, action%s, resource)", i, forbid ? "forbid" : "permit",
                                rnd(3) == 0 ? " == Action::\"edit\"" : ""));
        uint32_t nc = forbid ? 1 + rnd(2) : rnd(3);
        for (uint32_t k = 0; k < nc; k++) {
            bool unless = rnd(4) == 0;
            CHECK_OK(cu_buf_appends(&b, unless ? " unless { " : " when { "));
            uint32_t n = unless ? 1 : 1 + rnd(4);
            for (uint32_t j = 0; j < n; j++) {
                if (j)
                    CHECK_OK(cu_buf_appends(&b, " && "));
                CHECK_OK(rconjunct(&b));
            }
            CHECK_OK(cu_buf_appends(&b, " }"));
        }
        CHECK_OK(cu_buf_appends(&b, ";\n"));
    }
    cu_policy_set *s = NULL;
    CHECK_OK(cu_policy_set_parse(b.data, b.len, "rkey", &s));
    cu_buf_free(&b);
    return s;
}

/* A key per class: what the resource's attributes live and cls are (each
 * missing, of another type, or one of its values); *broken: a key that
 * forgets cls (to show that the comparison sees a wrong key). */
static cu_policy_entity *rkey_resource(cu_arena *a, uint64_t *key, uint64_t *broken)
{
    char *rid = cu_arena_alloc(a, 8);
    snprintf(rid, 8, "r%u", rnd(3));
    cu_policy_entity *r = cu_policy_entity_make(a, "Doc", 3, rid, strlen(rid), 2, 1);
    if (!r)
        return NULL;
    uint32_t c = rnd(6), l = rnd(4); /* cls: 0-3 a value, 4 a Long, 5 missing; live: false, true, a Long, missing */
    if (c < 4)
        CHECK_OK(cu_policy_entity_put(r, "cls", cu_policy_val_string_ref(a, CLS[c], strlen(CLS[c]))));
    else if (c == 4)
        CHECK_OK(cu_policy_entity_put(r, "cls", cu_policy_val_long(a, 7)));
    if (l < 2)
        CHECK_OK(cu_policy_entity_put(r, "live", cu_policy_val_bool(a, l == 1)));
    else if (l == 2)
        CHECK_OK(cu_policy_entity_put(r, "live", cu_policy_val_long(a, 0)));
    if (rnd(2))
        CHECK_OK(cu_policy_entity_put_parent(r, cu_policy_val_entity_ref(a, "Thing", 5, "k1", 2)));
    CHECK_OK(cu_policy_entity_seal(r, NULL, a));
    *key = c * 4 + l;
    *broken = l;
    return r;
}

TEST(resource_key_changes_no_answer)
{
    cu_arena *a = cu_arena_new(64 * 1024, 16u << 20);
    int differ = 0, broken_differ = 0, keyed = 0;
    uint64_t dom = 1;
    for (int round = 0; round < 24; round++) {
        cu_policy_set *s = rkey_set(8 + rnd(round < 12 ? 40 : 110)); /* over 64: two words */
        if (!s)
            break;
        const char *names[8];
        uint32_t lens[8];
        size_t na = cu_policy_set_resource_attrs(s, names, lens, 8);
        CHECK(na <= 2); /* cls and live, never the uid */
        for (size_t i = 0; i < na && i < 8; i++)
            CHECK((lens[i] == 3 && memcmp(names[i], "cls", 3) == 0) || (lens[i] == 4 && memcmp(names[i], "live", 4) == 0));
        keyed += na > 0;
        cu_policy_split *sp = NULL;
        CHECK_OK(cu_policy_split_new(s, "bg", &sp));
        uint64_t good = dom++, bad = dom++; /* domains: one for the true keys, one for the broken */
        for (int q = 0; q < 200; q++) {
            cu_arena_reset(a);
            cu_policy_request *r = random_request(a, q % 2 ? s : NULL, q % 3 ? s : NULL);
            uint64_t key = 0, broken = 0;
            cu_policy_entity *res = r ? rkey_resource(a, &key, &broken) : NULL;
            CHECK(res != NULL);
            if (!res)
                break;
            r->uid[2] = &res->uid;
            r->ent[2] = res;
            cu_policy_answer with[2], without[2], wrong[2];
            bool split = false;
            for (uint32_t i = 0; i < r->nctx; i++)
                split |= r->ctx[i].klen == 2 && memcmp(r->ctx[i].key, "bg", 2) == 0 && r->ctx[i].v.kind == PV_BOOL;
            for (int way = 0; way < 3; way++) {
                cu_policy_answer *ans = way == 0 ? with : way == 1 ? without : wrong;
                cu_policy_request_resource_key(r, way == 0 ? good : way == 1 ? 0 : bad, way == 2 ? broken : key);
                if (split)
                    CHECK_OK(cu_policy_eval_split(s, sp, NULL, r, a, CU_POLICY_SPLIT_LAZY, ans));
                else
                    CHECK_OK(cu_policy_eval(s, NULL, r, a, ans));
            }
            for (int v = 0; v < (split ? 2 : 1); v++) {
                if (!same_answer(&with[v], &without[v])) {
                    differ++;
                    fprintf(stderr, "round %d request %d: answer %d differs with the resource key\n", round, q, v);
                    dump("key   ", &with[v]);
                    dump("no key", &without[v]);
                }
                broken_differ += !same_answer(&wrong[v], &without[v]);
            }
        }
        cu_policy_split_free(sp);
        cu_policy_set_release(s);
    }
    CHECK_INT(differ, 0);
    CHECK(keyed >= 20);
    /* a key that leaves cls out gives other answers: the comparison sees them */
    CHECK(broken_differ > 0);
    fprintf(stderr, "resource keys: %d sets with resource guards, %d answers changed by a broken key\n", keyed,
            broken_differ);
    cu_arena_free(a);
}
