/* libFuzzer target for the gen argument parser: the input is split at
 * newlines into argv (so seeds read as one argument per line) and given to
 * cu_gen_parse_args and cu_gen_config_check, which parses the scenario list.
 * Nothing is generated. */
#include "custos/gen.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[64];
    int argc = 0;
    argv[argc++] = "gen";
    for (char *p = buf; argc < 63;) {
        argv[argc++] = p;
        char *nl = memchr(p, '\n', (size_t)(buf + size - p));
        if (!nl)
            break;
        *nl = 0;
        p = nl + 1;
    }
    cu_gen_config c;
    cu_gen_config_default(&c);
    if (cu_gen_parse_args(argc, argv, &c) == CU_OK)
        (void)cu_gen_config_check(&c);
    free(buf);
    return 0;
}
