/* libFuzzer target: the Cedar policy parser, and evaluation of whatever
 * parses against a small fixed entity store (so that the evaluator sees
 * arbitrary parsed forms too), plainly and split on a context attribute. */
#include "custos/policy.h"

#include <string.h>

static cu_policy_entities *ents;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ents) {
        static const char e[] = "[{\"uid\":{\"type\":\"User\",\"id\":\"a\"},\"attrs\":{\"n\":1,\"s\":\"x\"},"
                                "\"parents\":[{\"type\":\"Group\",\"id\":\"g\"}]}]";
        if (cu_policy_entities_parse_json(e, strlen(e), NULL, &ents) != CU_OK)
            return 0;
    }
    cu_policy_set *set = NULL;
    if (cu_policy_set_parse((const char *)data, size, "fuzz", &set) != CU_OK)
        return 0;
    cu_arena *a = cu_arena_new(16384, 1 << 22);
    cu_policy_request *r = a ? cu_policy_request_new(a, "User", "a", "Action", "view", "Doc", "d") : NULL;
    cu_policy_answer ans;
    if (r && cu_policy_request_ctx(r, "n", cu_policy_val_long(a, 7)) == CU_OK &&
        cu_policy_eval(set, ents, r, a, &ans) == CU_OK) {
        cu_buf b;
        cu_buf_init(&b, 1 << 20);
        if (cu_policy_answer_json(&ans, &b) != CU_OK)
            b.len = 0;
        cu_buf_free(&b);
        /* both values of context.n as a Bool in one pass, eager and lazy */
        cu_policy_split *sp = NULL;
        cu_policy_answer two[2];
        if (cu_policy_split_new(set, "n", &sp) == CU_OK) {
            (void)cu_policy_eval_split(set, sp, ents, r, a, 0, two);
            (void)cu_policy_eval_split(set, sp, ents, r, a, CU_POLICY_SPLIT_LAZY, two);
            cu_policy_split_free(sp);
        }
    }
    cu_arena_free(a);
    cu_policy_set_release(set);
    return 0;
}
