/* libFuzzer target: open arbitrary bytes as a signed note against two
 * known verifier keys (one with its signer, so real signatures can occur in
 * the corpus), then parse the signed text as a checkpoint.  Checks: no
 * crash, an opened note's text is a prefix ending in '\n' before a blank
 * line, and at least one verifier is marked. */
#include "custos/ledger.h"

#include <stdlib.h>
#include <string.h>

static cu_note_verifier *vs[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vs[0]) {
        if (cu_note_verifier_parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &vs[0]) ||
            cu_note_verifier_parse("EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop", &vs[1]))
            abort();
    }
    bool verified[2];
    size_t tlen = 0;
    cu_rc rc = cu_note_open((const char *)data, size, vs, 2, &tlen, verified);
    if (rc == CU_OK) {
        if (tlen == 0 || tlen + 1 >= size || data[tlen - 1] != '\n' || data[tlen] != '\n')
            abort();
        if (!verified[0] && !verified[1])
            abort();
        cu_checkpoint c;
        (void)cu_checkpoint_parse((const char *)data, tlen, &c);
    } else if (tlen != 0 || verified[0] || verified[1]) {
        abort();
    }
    return 0;
}
