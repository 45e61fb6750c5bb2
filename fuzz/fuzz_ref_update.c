/* libFuzzer target: updates of a sealed reference context (custosd's POST
 * /v1/reference on the pipeline's side).  A small fixed reference is loaded
 * and its clock set; the input is split at newlines and each line checked
 * and, when it passes, applied (cu_ref_update_check/apply), with the clock
 * advanced between lines.  Checks: no crash, no leak; every visible case is
 * open at the clock's time; an officer's cases are cases that exist. */
#include "custos/event.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const base[] = {
    "{\"kind\":\"officer\",\"id\":\"MP1\",\"start\":\"2015-09-01\",\"end\":null}",
    "{\"kind\":\"person\",\"id\":\"P1\",\"flags\":[\"protected\"]}",
    "{\"kind\":\"record\",\"id\":\"R1\",\"type\":\"nominal\",\"system\":\"PNC\",\"subjects\":[\"P1\"],"
    "\"classification\":\"OFFICIAL\",\"caveats\":[]}",
    "{\"kind\":\"case\",\"id\":\"C1\",\"opened\":\"2024-01-05T09:00:00Z\",\"closed\":null,\"officers\":[\"MP1\"],"
    "\"subjects\":[\"P1\"],\"records\":[\"R1\"]}",
    "{\"kind\":\"case\",\"id\":\"C2\",\"opened\":\"2025-01-05T09:00:00Z\",\"closed\":null,\"officers\":[\"MP1\"],"
    "\"subjects\":[],\"records\":[]}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cu_names *n;
    cu_ref *r;
    if (cu_names_new(&n))
        return 0;
    if (cu_ref_new(n, &r)) {
        cu_names_free(n);
        return 0;
    }
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (cu_ref_add_line(r, base[i], strlen(base[i]), i + 1))
            abort();
    if (cu_ref_seal(r, "base") || cu_ref_advance(r, 1704067200))
        abort();
    const char *p = (const char *)data, *end = p + size;
    uint64_t ln = 0;
    int64_t t = 1704067200;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (cu_ref_update_check(r, p, len, ++ln) == CU_OK && cu_ref_update_apply(r) != CU_OK)
            break;
        p += len + 1;
        t += 86400 * 30;
        if (cu_ref_advance(r, t))
            abort();
        uint32_t nc = cu_names_count(n, CU_K_CASE), no = cu_names_count(n, CU_K_OFFICER);
        for (cu_id c = 0; c < nc; c++) {
            const cu_case *cs = cu_ref_case(r, c);
            if (cs && (t < cs->opened || t >= cs->closed))
                abort();
        }
        for (cu_id o = 0; o < no; o++) {
            const cu_id *cases;
            size_t k = cu_ref_officer_cases(r, o, &cases);
            for (size_t i = 0; i < k; i++)
                if (cases[i] >= nc)
                    abort();
        }
    }
    cu_ref_free(r);
    cu_names_free(n);
    return 0;
}
