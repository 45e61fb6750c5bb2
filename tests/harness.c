#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 1024
static struct {
    const char *name;
    cu_test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static int cur_failures;
static char tmpdir[512];

void cu_test_register(const char *name, cu_test_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

void cu_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cur_failures++;
}

const char *cu_test_shared(void)
{
    const char *s = getenv("CU_SHARED");
    return s && *s ? s : "../shared";
}

const char *cu_test_bindir(void)
{
    const char *s = getenv("CU_BIN_DIR");
    return s && *s ? s : "build";
}

static void rm_tmp(void)
{
    if (tmpdir[0] && !getenv("CU_KEEP_TMP")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

const char *cu_test_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/custos-test-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(rm_tmp);
    }
    return tmpdir;
}

int cu_test_run(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    cu_buf b;
    cu_buf_init(&b, 1 << 20);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, p)) > 0)
        if (cu_buf_append(&b, tmp, n))
            break;
    int st = pclose(p);
    if (out)
        *out = cu_buf_take(&b, NULL);
    else
        cu_buf_free(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1) {
            bool want = false;
            for (int a = 1; a < argc; a++)
                if (strcmp(argv[a], tests[i].name) == 0)
                    want = true;
            if (!want)
                continue;
        }
        cur_failures = 0;
        cu_err_clear();
        uint64_t t0 = cu_mono_ns();
        tests[i].fn();
        double ms = (double)(cu_mono_ns() - t0) / 1e6;
        if (cur_failures) {
            failed++;
            fprintf(stderr, "not ok %s (%d failures)\n", tests[i].name, cur_failures);
        } else {
            passed++;
            fprintf(stderr, "ok %s (%.0f ms)\n", tests[i].name, ms);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
