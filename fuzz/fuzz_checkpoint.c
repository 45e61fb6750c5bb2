/* libFuzzer target: parse arbitrary bytes as a checkpoint body.  A body
 * that parses must format and parse back to the same checkpoint, and the
 * formatted text must be a prefix of the input (extension lines aside). */
#include "custos/ledger.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cu_checkpoint c, d;
    if (cu_checkpoint_parse((const char *)data, size, &c) != CU_OK)
        return 0;
    char *text = NULL;
    size_t len = 0;
    if (cu_checkpoint_format(&c, &text, &len) != CU_OK)
        abort();
    if (len > size || memcmp(text, data, len) != 0)
        abort();
    if (cu_checkpoint_parse(text, len, &d) != CU_OK || strcmp(c.origin, d.origin) != 0 || c.size != d.size ||
        memcmp(c.root.b, d.root.b, CU_HASH_LEN) != 0)
        abort();
    cu_free(text);
    return 0;
}
