/* libFuzzer target: parse arbitrary bytes as signer and verifier key text.
 * A signer that parses must give a verifier key that parses back to the
 * same name, and a note it signs must open with that verifier. */
#include "custos/ledger.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2048)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    cu_note_verifier *v = NULL;
    cu_note_signer *s = NULL;
    if (cu_note_verifier_parse(text, &v) == CU_OK) {
        if (!v || !cu_note_verifier_name(v)[0])
            abort();
        cu_note_verifier_free(v);
        v = NULL;
    }
    if (cu_note_signer_parse(text, &s) == CU_OK) {
        char *vk = cu_note_signer_verifier_key(s);
        char *note = NULL;
        size_t nlen = 0, tlen = 0;
        if (!vk || cu_note_verifier_parse(vk, &v) != CU_OK ||
            strcmp(cu_note_verifier_name(v), cu_note_signer_name(s)) != 0)
            abort();
        if (cu_note_sign("fuzz\n", 5, s, &note, &nlen) != CU_OK ||
            cu_note_open(note, nlen, &v, 1, &tlen, NULL) != CU_OK || tlen != 5)
            abort();
        cu_free(note);
        cu_free(vk);
        cu_note_verifier_free(v);
        cu_note_signer_free(s);
    }
    free(text);
    return 0;
}
