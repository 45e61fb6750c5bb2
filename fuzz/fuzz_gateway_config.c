/* libFuzzer target: the gateway's callers' config (token lines with
 * SHA-256 hashes and flags, allow_on_error), then an Authorization header
 * checked against whatever was loaded. */
#include "custos/gateway.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cu_rc no_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    (void)ud;
    (void)e;
    (void)len;
    *index = 0;
    return CU_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cu_gateway *g;
    if (!g) {
        static const char pol[] = "@id(\"all\") permit (principal, action, resource);";
        cu_gateway_opts o = {.policy_text = pol, .policy_len = sizeof pol - 1, .audit = {.append = no_append}};
        if (cu_gateway_new(&o, &g) != CU_OK)
            return 0;
    }
    if (cu_gateway_config_parse(g, (const char *)data, size, "fuzz") == CU_OK) {
        char name[CU_GATEWAY_MAX_ID + 1];
        bool reviewer;
        (void)cu_gateway_authenticate(g, "Bearer test", NULL, name, &reviewer);
    }
    return 0;
}
