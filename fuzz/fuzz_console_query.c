/* libFuzzer target for the console's request parsers: the query-string
 * parser (percent-decoding, pair limits) and the Cookie header scanner.
 * The first byte picks the parser; the rest is the input. */
#include "custos/console.h"

#include <stdint.h>
#include <string.h>

static cu_rc count_pair(void *ud, const char *k, const char *v)
{
    size_t *n = ud;
    *n += strlen(k) + strlen(v);
    return CU_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    char *s = cu_malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] & 1) {
        size_t n = 0;
        if (cu_console_query_parse(s, size - 1, count_pair, &n) == CU_OK && n > 2 * size)
            __builtin_trap(); /* decoding never grows the text */
    } else {
        char v[128];
        if (cu_console_cookie(s, "custos_session", v, sizeof v) == CU_OK && strlen(v) >= sizeof v)
            __builtin_trap();
    }
    cu_free(s);
    return 0;
}
