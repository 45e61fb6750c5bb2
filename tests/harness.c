#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
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

int cu_test_http_post(uint16_t port, const char *path, const char *token, const char *body)
{
    size_t cap = strlen(path) + strlen(token) + strlen(body) + 256;
    char *req = malloc(cap);
    if (!req)
        return -1;
    int n = snprintf(req, cap,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                     path, token, strlen(body), body);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (n < 0 || (size_t)n >= cap || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(fd, req, (size_t)n) != n) {
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    free(req);
    return fd;
}

int cu_test_http_answer(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t k;
    while (len + 1 < cap && (k = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)k;
    buf[len] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return 0;
    return status;
}
