/* libFuzzer target: the evidence bundle verifier (ustar container, signed
 * manifest, checkpoints, proofs, entries.jsonl, openings, completeness,
 * provenance, defects, report).  The key is the seed bundle's, so mutated
 * seeds get past the signature checks' parsing into the later checks, which
 * run whatever the earlier ones found. */
#include "custos/evidence.h"

#include <stddef.h>
#include <stdint.h>

static const char KEY[] = "custos.local/log+3cc2298a+Ad1N4PLFk0MDgtR/PE/AgCk7KRiTaAWFTBPTJExPsQtV";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cu_evidence_result r;
    cu_rc rc = cu_evidence_verify(data, size, KEY, NULL, NULL, &r);
    return rc == r.rc ? 0 : -1;
}
