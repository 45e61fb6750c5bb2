/* libFuzzer target: the log-entry decoder.  Whatever it accepts must be
 * canonical: re-encoding the decoded fields gives back the same bytes. */
#include "custos/ledger.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[CU_LEDGER_ENTRY_MAX];
    cu_ledger_entry e;
    size_t len = 0;
    if (cu_ledger_entry_decode(data, size, &e) != CU_OK)
        return 0;
    for (size_t i = 0; i < e.nfields; i++) {
        const uint8_t *p = e.fields[i].data;
        if (p < data || p + e.fields[i].len > data + size)
            abort();
    }
    if (cu_ledger_entry_encode(e.type, e.ts, e.fields, e.nfields, out, sizeof out, &len) != CU_OK || len != size ||
        memcmp(out, data, size) != 0)
        abort();
    return 0;
}
