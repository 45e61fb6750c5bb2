/* libFuzzer target: the position file of a kept reference update
 * (DATA/reference-updates/NNNNNNNN.at, cu_kept_parse_at).  Checks: no
 * crash; an accepted text is digits with at most one trailing newline, and
 * printing the value back gives those digits without their leading zeros. */
#include "custos/server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64) /* the reader's limit */
        return 0;
    uint64_t at = 0;
    if (!cu_kept_parse_at((const char *)data, size, &at))
        return 0;
    size_t n = size && data[size - 1] == '\n' ? size - 1 : size;
    size_t z = 0;
    while (z + 1 < n && data[z] == '0')
        z++;
    char back[32];
    int k = snprintf(back, sizeof back, "%" PRIu64, at);
    if (k < 0 || (size_t)k != n - z || memcmp(back, data + z, n - z) != 0)
        abort();
    return 0;
}
