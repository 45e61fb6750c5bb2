/* libFuzzer target: tile names, entry bundles and hash tiles from
 * arbitrary bytes.  A name that parses must be written back identically;
 * bundle iteration must stay inside the buffer and account for every byte
 * or stop with CU_ERR_CORRUPT. */
#include "custos/ledger.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int level;
    uint64_t index;
    unsigned width;
    if (cu_tile_path_parse((const char *)data, size, &level, &index, &width) == CU_OK) {
        char out[CU_TILE_PATH_MAX];
        if (cu_tile_path(level, index, width, out, sizeof out) != CU_OK || strlen(out) != size ||
            memcmp(out, data, size) != 0)
            abort();
    }
    size_t off = 0, total = 0, n;
    const uint8_t *e;
    cu_rc rc;
    while ((rc = cu_tile_bundle_next(data, size, &off, &e, &n)) == CU_OK) {
        if (e < data || e + n > data + size || off > size)
            abort();
        total += 2 + n;
    }
    if (rc == CU_ERR_NOTFOUND && total != size)
        abort();
    if (rc != CU_ERR_NOTFOUND && rc != CU_ERR_CORRUPT)
        abort();
    const cu_hash *h;
    unsigned w = size ? data[0] : 0;
    if (cu_tile_hashes(data, size, w ? w : 256, &h) == CU_OK && size != (size_t)(w ? w : 256) * CU_HASH_LEN)
        abort();
    return 0;
}
