/* libFuzzer target: the .cedarschema reader. */
#include "custos/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cu_policy_schema *s = NULL;
    if (cu_policy_schema_parse((const char *)data, size, "fuzz", &s) == CU_OK)
        cu_policy_schema_free(s);
    return 0;
}
