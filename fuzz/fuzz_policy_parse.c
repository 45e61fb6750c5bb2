/* libFuzzer target: the Cedar policy parser, and evaluation of whatever
 * parses against a small fixed entity store (so that the evaluator sees
 * arbitrary parsed forms too), plainly and split on a context attribute;
 * with the guard prefixes forced on and off (and with a resource class
 * key, cu_policy_request_resource_key), whose answers must be the
 * same (a difference traps); and a set cu_policy_set_abstract_ok accepts
 * must not see the value of context.n beyond its order.  The context holds a Long `n`, an entity `c`
 * and a record `r`. */
#include "custos/policy.h"

#include <string.h>

static cu_policy_entities *ents;

static bool same_str(const char *x, const char *y) { return (!x && !y) || (x && y && strcmp(x, y) == 0); }

static bool same(const cu_policy_answer *x, const cu_policy_answer *y)
{
    if (x->allow != y->allow || x->n_reasons != y->n_reasons || x->n_errors != y->n_errors)
        return false;
    for (size_t i = 0; i < x->n_reasons; i++)
        if (strcmp(x->reasons[i], y->reasons[i]) != 0)
            return false;
    for (size_t i = 0; i < x->n_errors; i++)
        if (!same_str(x->errors[i].policy_id, y->errors[i].policy_id) ||
            !same_str(x->errors[i].message, y->errors[i].message))
            return false;
    return same_str(x->explain_policy, y->explain_policy) && same_str(x->explain_condition, y->explain_condition) &&
           same_str(x->explanation, y->explanation);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ents) {
        /* the resource has attributes too, so that guards on them
         * (`resource.classification == "SECRET"`, `resource has live`) are
         * decided through the class key below */
        static const char e[] = "[{\"uid\":{\"type\":\"User\",\"id\":\"a\"},\"attrs\":{\"n\":1,\"s\":\"x\"},"
                                "\"parents\":[{\"type\":\"Group\",\"id\":\"g\"}]},"
                                "{\"uid\":{\"type\":\"Doc\",\"id\":\"d\"},\"attrs\":{\"classification\":\"SECRET\","
                                "\"live\":true,\"n\":2},\"parents\":[]}]";
        if (cu_policy_entities_parse_json(e, strlen(e), NULL, &ents) != CU_OK)
            return 0;
    }
    cu_policy_set *set = NULL;
    if (cu_policy_set_parse((const char *)data, size, "fuzz", &set) != CU_OK)
        return 0;
    cu_arena *a = cu_arena_new(16384, 1 << 22);
    cu_policy_request *r = a ? cu_policy_request_new(a, "User", "a", "Action", "view", "Doc", "d") : NULL;
    cu_policy_answer ans;
    /* context.c names the store's entity and context.r is a record, so that
     * reads through the context (`context.c.n`, `principal in context.c`,
     * `context.r.s`) are guards too */
    static const char *const rk[] = {"n", "s"};
    const cu_policy_value *rv[] = {a ? cu_policy_val_long(a, 1) : NULL, a ? cu_policy_val_string(a, "x", 1) : NULL};
    if (r && cu_policy_request_ctx(r, "n", cu_policy_val_long(a, 7)) == CU_OK &&
        cu_policy_request_ctx(r, "c", cu_policy_val_entity(a, "User", "a")) == CU_OK &&
        cu_policy_request_ctx(r, "r", cu_policy_val_record(a, rk, rv, 2)) == CU_OK &&
        cu_policy_eval(set, ents, r, a, &ans) == CU_OK) {
        cu_buf b;
        cu_buf_init(&b, 1 << 20);
        if (cu_policy_answer_json(&ans, &b) != CU_OK)
            b.len = 0;
        cu_buf_free(&b);
        /* the guards change no answer */
        cu_policy_answer on, off;
        cu_policy_set_guards(set, true);
        cu_rc r1 = cu_policy_eval(set, ents, r, a, &on);
        cu_policy_set_guards(set, false);
        cu_rc r2 = cu_policy_eval(set, ents, r, a, &off);
        if (r1 == CU_OK && r2 == CU_OK && !same(&on, &off)) /* (scratch exhaustion may differ) */
            __builtin_trap();
        /* nor does a resource class key: computed once (the first
         * evaluation) and taken from the thread's cache (the second); a
         * new domain per input, since a freed set's address comes back */
        static uint64_t domain;
        cu_policy_request_resource_key(r, ++domain, 1);
        cu_policy_set_guards(set, true);
        cu_policy_answer k1, k2;
        cu_rc q1 = cu_policy_eval(set, ents, r, a, &k1);
        cu_rc q2 = cu_policy_eval(set, ents, r, a, &k2);
        if (r2 == CU_OK && ((q1 == CU_OK && !same(&k1, &off)) || (q2 == CU_OK && !same(&k2, &off))))
            __builtin_trap();
        cu_policy_request_resource_key(r, 0, 0);
        /* both values of context.n as a Bool in one pass, eager and lazy */
        cu_policy_split *sp = NULL;
        cu_policy_answer two[2];
        if (cu_policy_split_new(set, "n", &sp) == CU_OK) {
            (void)cu_policy_eval_split(set, sp, ents, r, a, 0, two);
            cu_policy_answer lz[2];
            cu_policy_set_guards(set, true);
            cu_rc l1 = cu_policy_eval_split(set, sp, ents, r, a, CU_POLICY_SPLIT_LAZY, two);
            cu_policy_set_guards(set, false);
            cu_rc l2 = cu_policy_eval_split(set, sp, ents, r, a, CU_POLICY_SPLIT_LAZY, lz);
            if (l1 == CU_OK && l2 == CU_OK && (!same(&two[0], &lz[0]) || !same(&two[1], &lz[1])))
                __builtin_trap();
            cu_policy_split_free(sp);
        }
        /* a set that cu_policy_set_abstract_ok lets a caller memoise by the
         * order of the listed Longs answers the same with context.n 7 and 9
         * (both above principal.n 1 and resource.n 2) when neither has
         * errors */
        static const char *const types[] = {"User", "Doc"};
        static const cu_policy_attr_path longs[] = {{CU_POLICY_VAR_CONTEXT, "n", NULL},
                                                    {CU_POLICY_VAR_PRINCIPAL, "n", NULL},
                                                    {CU_POLICY_VAR_RESOURCE, "n", NULL}};
        cu_policy_request *r9 = cu_policy_request_new(a, "User", "a", "Action", "view", "Doc", "d");
        cu_policy_answer x7, x9;
        if (cu_policy_set_abstract_ok(set, types, 2, longs, 3) && r9 &&
            cu_policy_request_ctx(r9, "n", cu_policy_val_long(a, 9)) == CU_OK &&
            cu_policy_request_ctx(r9, "c", cu_policy_val_entity(a, "User", "a")) == CU_OK &&
            cu_policy_request_ctx(r9, "r", cu_policy_val_record(a, rk, rv, 2)) == CU_OK &&
            cu_policy_eval(set, ents, r, a, &x7) == CU_OK && cu_policy_eval(set, ents, r9, a, &x9) == CU_OK &&
            !x7.n_errors && !x9.n_errors && !same(&x7, &x9))
            __builtin_trap();
    }
    cu_arena_free(a);
    cu_policy_set_release(set);
    return 0;
}
