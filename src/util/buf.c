/* Bounded buffers and arenas. */
#include "custos/util.h"

#include <stdio.h>
#include <string.h>

void cu_buf_init(cu_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void cu_buf_free(cu_buf *b)
{
    cu_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void cu_buf_reset(cu_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

cu_rc cu_buf_reserve(cu_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return cu_err_set(CU_ERR_TOOBIG, "buffer limit of %zu bytes reached", b->max);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return CU_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = cu_realloc(b->data, cap);
    if (!p)
        return CU_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return CU_OK;
}

cu_rc cu_buf_append(cu_buf *b, const void *p, size_t n)
{
    cu_rc rc = cu_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return CU_OK;
}

cu_rc cu_buf_appends(cu_buf *b, const char *s) { return cu_buf_append(b, s, strlen(s)); }

cu_rc cu_buf_appendf(cu_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return CU_ERR_INVAL;
    }
    cu_rc rc = cu_buf_reserve(b, (size_t)n);
    if (rc) {
        va_end(ap2);
        return rc;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return CU_OK;
}

char *cu_buf_take(cu_buf *b, size_t *len_out)
{
    char *d = b->data;
    if (len_out)
        *len_out = b->len;
    if (!d)
        d = cu_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

/* ----------------------------------------------------------------- arenas */

struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char mem[];
};

struct cu_arena {
    struct block *head;  /* current block; older ones follow */
    size_t block_size;
    size_t max;
    size_t total;        /* bytes of blocks held */
    size_t used;
};

cu_arena *cu_arena_new(size_t block_size, size_t max)
{
    cu_arena *a = cu_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->block_size = block_size < 256 ? 256 : block_size;
    a->max = max;
    return a;
}

void cu_arena_free(cu_arena *a)
{
    if (!a)
        return;
    struct block *b = a->head;
    while (b) {
        struct block *n = b->next;
        cu_free(b);
        b = n;
    }
    cu_free(a);
}

void *cu_arena_alloc(cu_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    struct block *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t sz = n > a->block_size ? n : a->block_size;
        if (a->total + sz > a->max)
            return NULL;
        b = cu_malloc(sizeof *b + sz);
        if (!b)
            return NULL;
        b->size = sz;
        b->used = 0;
        b->next = a->head;
        a->head = b;
        a->total += sz;
    }
    void *p = b->mem + b->used;
    b->used += n;
    a->used += n;
    return p;
}

char *cu_arena_strndup(cu_arena *a, const char *s, size_t n)
{
    char *d = cu_arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void cu_arena_reset(cu_arena *a)
{
    struct block *b = a->head;
    if (!b)
        return;
    /* keep the oldest block (the last in the list), free the rest */
    while (b->next) {
        struct block *n = b->next;
        a->total -= b->size;
        cu_free(b);
        b = n;
    }
    b->used = 0;
    a->head = b;
    a->used = 0;
}

size_t cu_arena_used(const cu_arena *a) { return a->used; }
