/* libFuzzer target: one governance interchange line through
 * cu_gov_parse_line.  Checks: no crash; an accepted record keeps the
 * invariants the importer relies on (a known kind, NUL-terminated ids within
 * their limits, a known level and status, dates in order). */
#include "custos/governance.h"

#include <stdlib.h>
#include <string.h>

static cu_gov_rec rec;

static void bounded(const char *s, size_t cap, size_t max)
{
    size_t n = strnlen(s, cap);
    if (n == cap || n > max)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (cu_gov_parse_line((const char *)data, size, &rec) != CU_OK)
        return 0;
    if (rec.kind < CU_GOV_REC_SKIP || rec.kind > CU_GOV_REC_OFFICER)
        abort();
    bounded(rec.officer, sizeof rec.officer, CU_GOV_MAX_ID);
    bounded(rec.unit, sizeof rec.unit, CU_GOV_MAX_ID);
    bounded(rec.manager, sizeof rec.manager, CU_GOV_MAX_ID);
    bounded(rec.system, sizeof rec.system, CU_GOV_MAX_ID);
    bounded(rec.caveat, sizeof rec.caveat, CU_GOV_MAX_ID);
    bounded(rec.scope, sizeof rec.scope, CU_GOV_MAX_TEXT);
    bounded(rec.purpose, sizeof rec.purpose, CU_GOV_MAX_ID);
    if (rec.kind == CU_GOV_REC_SKIP)
        return 0;
    if (!rec.officer[0])
        abort();
    bool vet = rec.kind == CU_GOV_REC_VETTING || (rec.kind == CU_GOV_REC_OFFICER && rec.has_vetting);
    if (vet) {
        if (rec.level <= CU_GOV_NONE || rec.level >= CU_GOV_LEVEL_COUNT_ || rec.expires <= rec.granted)
            abort();
        if (rec.review && (rec.review < rec.granted || rec.review > rec.expires))
            abort();
        if (rec.status < 0 || rec.status >= CU_GOV_STATUS_COUNT_)
            abort();
    }
    if (rec.kind == CU_GOV_REC_ENTITLEMENT && (!rec.system[0] || !rec.scope[0] || !rec.purpose[0]))
        abort();
    return 0;
}
