/* custosd: reading option values (main.c and the wiring files). */
#ifndef CUSTOSD_ARGS_H
#define CUSTOSD_ARGS_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/* A whole decimal number in [lo, hi] into *out; false (nothing written)
 * for anything else: empty, trailing characters, out of range. */
static inline bool cud_arg_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

#endif
