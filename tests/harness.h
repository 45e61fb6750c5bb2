/* A small test harness: TEST() registers a function, CHECK*() record a failure
 * with file and line and go on, main() runs everything (or the tests named
 * on the command line) and ends with "N passed, N failed". */
#ifndef CU_TEST_HARNESS_H
#define CU_TEST_HARNESS_H

#include "custos/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef void (*cu_test_fn)(void);
void cu_test_register(const char *name, cu_test_fn fn);
void cu_test_fail(const char *file, int line, const char *fmt, ...) CU_PRINTF(3, 4);

/* $CU_SHARED or ../shared: the spec and the conformance data. */
const char *cu_test_shared(void);
/* A fresh temporary directory for this test (removed at exit unless
 * CU_KEEP_TMP is set).  Returns a static path. */
const char *cu_test_tmpdir(void);
/* The build directory (programs live there), from $CU_BIN_DIR or "build". */
const char *cu_test_bindir(void);
/* Run a shell command, capture its stdout (up to 1 MiB) into *out (caller
 * frees with cu_free; may be NULL), return its exit status. */
int cu_test_run(char **out, const char *fmt, ...) CU_PRINTF(2, 3);
/* Connect to 127.0.0.1:port and send one POST of a JSON body to path with a
 * bearer token (Connection: close).  Returns the socket, or -1. */
int cu_test_http_post(uint16_t port, const char *path, const char *token, const char *body);
/* Read an answer to EOF into buf (NUL-terminated) and close fd.  Returns its
 * HTTP status, or 0 if there is none. */
int cu_test_http_answer(int fd, char *buf, size_t cap);

#define TEST(name)                                                                 \
    static void name(void);                                                        \
    __attribute__((constructor)) static void reg_##name(void)                      \
    {                                                                              \
        cu_test_register(#name, name);                                             \
    }                                                                              \
    static void name(void)

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c))                                                                  \
            cu_test_fail(__FILE__, __LINE__, "CHECK(%s)", #c);                     \
    } while (0)

#define CHECK_MSG(c, ...)                                                          \
    do {                                                                           \
        if (!(c))                                                                  \
            cu_test_fail(__FILE__, __LINE__, __VA_ARGS__);                         \
    } while (0)

#define CHECK_INT(a, b)                                                            \
    do {                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                        \
        if (a_ != b_)                                                              \
            cu_test_fail(__FILE__, __LINE__, "%s == %lld, want %s == %lld", #a, a_, #b, b_); \
    } while (0)

#define CHECK_RC(expr, want)                                                       \
    do {                                                                           \
        cu_rc got_ = (expr);                                                       \
        if (got_ != (want))                                                        \
            cu_test_fail(__FILE__, __LINE__, "%s gave %s (%s), want %s", #expr,    \
                         cu_strerror(got_), cu_err_detail(), cu_strerror(want));   \
    } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, CU_OK)

#define CHECK_STR(a, b)                                                            \
    do {                                                                           \
        const char *a_ = (a), *b_ = (b);                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                     \
            cu_test_fail(__FILE__, __LINE__, "%s == \"%s\", want \"%s\"", #a,      \
                         a_ ? a_ : "(null)", b_ ? b_ : "(null)");                  \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK_MSG(memcmp((a), (b), (n)) == 0, "%s differs from %s", #a, #b)

#endif
