/* libFuzzer target: proof files ("inclusion I N" / "consistency A B" and
 * base64 hashes).  What parses must format back to the same text. */
#include "custos/ledger.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cu_hash proof[CU_MERKLE_MAX_PROOF];
    size_t n = 0, tl = 0;
    uint64_t a, b;
    bool incl;
    char *text = NULL;
    if (cu_ledger_proof_parse((const char *)data, size, &incl, &a, &b, proof, &n) != CU_OK)
        return 0;
    if (n > CU_MERKLE_MAX_PROOF)
        abort();
    if (cu_ledger_proof_format(incl, a, b, proof, n, &text, &tl) != CU_OK || tl != size ||
        memcmp(text, data, size) != 0)
        abort();
    cu_free(text);
    return 0;
}
