/* libFuzzer target: one csv line through cu_import_csv_line.  Checks: no
 * crash, every field's value (and copied name) lies inside the record's buffer
 * and is NUL-terminated there, at most CU_IMPORT_MAX_FIELDS fields. */
#include "custos/import.h"

#include <stdlib.h>
#include <string.h>

static cu_import_rec rec;

static void inside(const char *s)
{
    if (s < rec.buf || s >= rec.buf + sizeof rec.buf)
        abort();
    if (!memchr(s, '\0', (size_t)(rec.buf + sizeof rec.buf - s)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (cu_import_csv_line((const char *)data, size, size ? (char)data[0] : ',', &rec) != CU_OK)
        return 0;
    if (rec.n > CU_IMPORT_MAX_FIELDS || rec.used > sizeof rec.buf)
        abort();
    for (uint32_t i = 0; i < rec.n; i++) {
        /* header field names are the parser's own constants; the rest are copies */
        if (!(rec.f[i].name >= rec.buf && rec.f[i].name < rec.buf + sizeof rec.buf) && strlen(rec.f[i].name) > 32)
            abort();
        inside(rec.f[i].value);
        if (rec.f[i].group[0])
            inside(rec.f[i].group);
    }
    return 0;
}
