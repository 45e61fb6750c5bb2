/* libFuzzer target: reference lines.  The input is split at newlines and
 * each line added to a reference context, which is then sealed and its
 * clock advanced through a few times.  Checks: no crash, no leak; after
 * sealing, every visible case is open at the clock's time. */
#include "custos/event.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    const char *p = (const char *)data, *end = p + size;
    uint64_t ln = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (cu_ref_add_line(r, p, len, ++ln))
            break;
        p += len + 1;
    }
    if (cu_ref_seal(r, "fuzz") == CU_OK) {
        static const int64_t times[] = {INT64_MIN + 1, 0, 1704067200, 1735689600, INT64_MAX - 1};
        for (size_t t = 0; t < sizeof times / sizeof times[0]; t++) {
            if (cu_ref_advance(r, times[t]))
                abort();
            uint32_t nc = cu_names_count(n, CU_K_CASE);
            for (cu_id c = 0; c < nc; c++) {
                const cu_case *cs = cu_ref_case(r, c);
                if (cs && (times[t] < cs->opened || times[t] >= cs->closed))
                    abort();
            }
        }
    }
    cu_ref_free(r);
    cu_names_free(n);
    return 0;
}
