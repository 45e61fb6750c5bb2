/* The one allocation wrapper.  Every allocation in custos goes through here,
 * so tests can make the Nth allocation fail and check each error path. */
#include "custos/util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t alloc_count;
static _Atomic uint64_t fail_at;   /* absolute count at which to fail; 0 = never */
static _Atomic bool fail_sticky;

void cu_alloc_fail_at(uint64_t n, bool sticky)
{
    fail_sticky = sticky;
    fail_at = n ? atomic_load(&alloc_count) + n : 0;
}

uint64_t cu_alloc_count(void) { return atomic_load(&alloc_count); }

static bool should_fail(void)
{
    uint64_t c = atomic_fetch_add(&alloc_count, 1) + 1;
    uint64_t f = atomic_load(&fail_at);
    if (!f)
        return false;
    return c == f || (fail_sticky && c > f);
}

void *cu_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *cu_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *cu_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

cu_rc cu_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first, bool zero)
{
    if (need <= *cap)
        return CU_OK;
    size_t nc = *cap ? *cap : (first ? first : 1);
    while (nc < need)
        nc = nc > SIZE_MAX / 2 ? need : nc * 2;
    if (elem && nc > SIZE_MAX / elem)
        return cu_err_set(CU_ERR_OVERFLOW, "array of %zu elements of %zu bytes", nc, elem);
    void *old; /* the caller's pointer variable, whatever its type (all object pointers alike here) */
    memcpy(&old, arr, sizeof old);
    char *p = cu_realloc(old, nc * elem);
    if (!p)
        return cu_err_set(CU_ERR_NOMEM, "array of %zu elements of %zu bytes", nc, elem);
    if (zero)
        memset(p + *cap * elem, 0, (nc - *cap) * elem);
    memcpy(arr, &p, sizeof p);
    *cap = nc;
    return CU_OK;
}

char *cu_strndup(const char *s, size_t n)
{
    char *d = cu_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *cu_strdup(const char *s) { return cu_strndup(s, strlen(s)); }

void cu_free(void *p) { free(p); }
