/* libFuzzer target: request JSON (uids, context typed by a schema), then
 * evaluation of the parsed request against a fixed policy set. */
#include "custos/policy.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cu_policy_schema *schema;
    static cu_policy_set *set;
    static cu_policy_entities *ents;
    if (!set) {
        static const char s[] = "action view appliesTo { context: { d: decimal, i: ipaddr, n: Long } };";
        static const char p[] = "permit(principal, action, resource) when { context.d.lessThan(decimal(\"1.0\")) };"
                                "forbid(principal in Group::\"g\", action, resource) unless { context.i.isLoopback() };"
                                "permit(principal, action, resource) when { context.n + 1 > 2 && context has x };";
        static const char e[] = "[{\"uid\":{\"type\":\"User\",\"id\":\"a\"},\"attrs\":{},"
                                "\"parents\":[{\"type\":\"Group\",\"id\":\"g\"}]}]";
        if (cu_policy_schema_parse(s, strlen(s), "fuzz", &schema) != CU_OK ||
            cu_policy_set_parse(p, strlen(p), "fuzz", &set) != CU_OK ||
            cu_policy_entities_parse_json(e, strlen(e), schema, &ents) != CU_OK)
            return 0;
    }
    cu_arena *a = cu_arena_new(16384, 1 << 24);
    if (!a)
        return 0;
    for (int typed = 0; typed < 2; typed++) {
        cu_arena_reset(a);
        cu_policy_request *r = NULL;
        cu_policy_answer ans;
        if (cu_policy_request_parse_json((const char *)data, size, typed ? schema : NULL, a, &r) == CU_OK &&
            cu_policy_eval(set, ents, r, a, &ans) != CU_OK)
            continue;
    }
    cu_arena_free(a);
    return 0;
}
