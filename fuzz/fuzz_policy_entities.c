/* libFuzzer target: Cedar entity JSON, with and without a schema that types
 * attributes (decimal, ipaddr, entity, set, record). */
#include "custos/policy.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cu_policy_schema *schema;
    if (!schema) {
        static const char s[] = "entity G; entity User in [G] = { d: decimal, i: ipaddr, b: User, s: Set<User>,"
                                " r: { x: Long, y: Set<decimal> } }; action view in [read]; action read;";
        if (cu_policy_schema_parse(s, strlen(s), "fuzz", &schema) != CU_OK)
            return 0;
    }
    for (int typed = 0; typed < 2; typed++) {
        cu_policy_entities *e = NULL;
        if (cu_policy_entities_parse_json((const char *)data, size, typed ? schema : NULL, &e) == CU_OK)
            cu_policy_entities_free(e);
    }
    return 0;
}
