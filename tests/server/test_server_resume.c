/* Suspended requests handed back through the server's workers
 * (src/server/server.c, invariants 5 and 6), on a real server with two
 * worker threads and no ledger: handlers that suspend, and answers given
 * from the handler's own thread or from another.
 *  - a request resumed inside its handler (the worker is not armed, so no
 *    wake-up is written: it must see the answer on its list before it
 *    blocks) is answered, 40 times;
 *  - 64 requests held at once and resumed in one burst from a test thread
 *    are all answered with their own bodies; the workers, blocked in
 *    epoll, were woken (at least once, at most once per answer) and the
 *    /metrics counters say 64 resumed, none suspended;
 *  - cu_server_stop while 10 requests are held waits for their answers,
 *    which reach the clients before the server closes;
 *  - a start that fails once its workers are made frees them.
 * Every socket has a receive timeout, so a lost wake-up fails (status 0)
 * instead of hanging. */
#include "harness.h"

#include "custos/server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HELD_MAX 64

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static cu_http_suspended *g_held[HELD_MAX];
static cu_http_resp *g_resp[HELD_MAX];
static int g_nheld;

/* POST /hold: suspend and leave the request to the test */
static void on_hold(void *ud, const cu_http_req *req, cu_http_resp *resp)
{
    (void)ud;
    cu_http_suspended *h = cu_http_suspend(req);
    if (!h) {
        cu_http_error(resp, 500, "cannot suspend");
        return;
    }
    pthread_mutex_lock(&g_mu);
    if (g_nheld < HELD_MAX) {
        g_resp[g_nheld] = resp;
        g_held[g_nheld++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&g_mu);
    if (h) { /* (more than the test holds: answer at once) */
        cu_http_error(resp, 503, "too many held");
        cu_http_resume(h);
    }
}

/* POST /now: suspend, then answer from the handler itself */
static void on_now(void *ud, const cu_http_req *req, cu_http_resp *resp)
{
    (void)ud;
    cu_http_suspended *h = cu_http_suspend(req);
    cu_http_text(resp, 200, "text/plain", "now\n");
    if (h)
        cu_http_resume(h);
}

static int held_count(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_nheld;
    pthread_mutex_unlock(&g_mu);
    return n;
}

/* answer every held request with "held I", from this thread */
static void resume_all(void)
{
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nheld; i++) {
        char t[32];
        snprintf(t, sizeof t, "held %d\n", i);
        cu_http_text(g_resp[i], 200, "text/plain", t);
        cu_http_resume(g_held[i]);
    }
    g_nheld = 0;
    pthread_mutex_unlock(&g_mu);
}

static int post(uint16_t port, const char *path)
{
    int fd = cu_test_http_post(port, path, "t", "{}");
    if (fd >= 0) {
        struct timeval tv = {.tv_sec = 10};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    return fd;
}

static unsigned long long metric(cu_server *s, const char *name)
{
    cu_buf b;
    cu_buf_init(&b, 1 << 16);
    unsigned long long v = ~0ull;
    if (cu_server_metrics(s, &b) == CU_OK && b.data) {
        const char *p = strstr(b.data, name);
        while (p && p > b.data && p[-1] != '\n') /* the sample line, not a HELP line */
            p = strstr(p + 1, name);
        if (p && sscanf(p + strlen(name), " %llu", &v) != 1)
            v = ~0ull;
    }
    cu_buf_free(&b);
    return v;
}

/* A started server with the two routes; NULL (a failed check) when not. */
static cu_server *start(void)
{
    cu_server_opts o = {.threads = 2};
    cu_server *s = NULL;
    if (cu_server_new(&o, &s))
        s = NULL;
    else if (cu_server_route(s, "POST", "/hold", on_hold, NULL) || cu_server_route(s, "POST", "/now", on_now, NULL) ||
             cu_server_start(s)) {
        cu_server_free(s);
        s = NULL;
    }
    CHECK(s != NULL);
    return s;
}

/* k requests to /hold, each on its own connection, until all are held */
static void hold(cu_server *s, int *fds, int k)
{
    for (int i = 0; i < k; i++)
        CHECK((fds[i] = post(cu_server_port(s), "/hold")) >= 0);
    for (int t = 0; t < 10000 && held_count() < k; t++)
        usleep(1000);
    CHECK_INT(held_count(), k);
}

TEST(resume_inside_the_handler_is_answered)
{
    cu_server *s = start();
    if (!s)
        return;
    char buf[2048];
    int ok = 0;
    for (int i = 0; i < 40; i++) {
        int fd = post(cu_server_port(s), "/now");
        if (fd >= 0 && cu_test_http_answer(fd, buf, sizeof buf) == 200 && strstr(buf, "\r\n\r\nnow\n"))
            ok++;
    }
    CHECK_INT(ok, 40);
    CHECK_INT((long long)metric(s, "custos_http_requests_resumed_total"), 40);
    cu_server_free(s);
}

TEST(burst_resumed_from_another_thread_all_answered)
{
    cu_server *s = start();
    if (!s)
        return;
    int fds[HELD_MAX];
    hold(s, fds, HELD_MAX);
    CHECK_INT((long long)metric(s, "custos_http_requests_suspended"), HELD_MAX);
    resume_all(); /* each its own body, "held I" in the order the handlers ran */
    static char buf[2048];
    int ok = 0;
    bool seen[HELD_MAX] = {false};
    for (int i = 0; i < HELD_MAX; i++) {
        int k = -1;
        const char *b = NULL;
        if (fds[i] >= 0 && cu_test_http_answer(fds[i], buf, sizeof buf) == 200 && (b = strstr(buf, "\r\n\r\nheld ")) &&
            sscanf(b + 9, "%d", &k) == 1 && k >= 0 && k < HELD_MAX && !seen[k]) {
            seen[k] = true;
            ok++;
        }
    }
    CHECK_INT(ok, HELD_MAX);
    CHECK_INT((long long)metric(s, "custos_http_requests_resumed_total"), HELD_MAX);
    CHECK_INT((long long)metric(s, "custos_http_requests_suspended"), 0);
    unsigned long long wakes = metric(s, "custos_http_resume_wakeups_total");
    CHECK(wakes >= 1 && wakes <= HELD_MAX);
    cu_server_free(s);
}

static void *resume_later(void *arg)
{
    (void)arg;
    usleep(50000);
    resume_all();
    return NULL;
}

TEST(stop_waits_for_held_answers)
{
    cu_server *s = start();
    if (!s)
        return;
    enum { K = 10 };
    int fds[K];
    hold(s, fds, K);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, resume_later, NULL) == 0);
    cu_server_stop(s); /* returns once every held request is answered */
    CHECK_INT(held_count(), 0);
    pthread_join(th, NULL);
    static char buf[2048];
    int ok = 0;
    for (int i = 0; i < K; i++)
        ok += fds[i] >= 0 && cu_test_http_answer(fds[i], buf, sizeof buf) == 200 && strstr(buf, "\r\n\r\nheld ");
    CHECK_INT(ok, K);
    cu_server_free(s);
}



/* A start that fails after its workers were made (every worker's daemon
 * refuses a certificate that is not PEM) leaves nothing behind: the same
 * error again on a second try (not "already started"), then a stop and a
 * free with nothing to do (ASan: no leak, no double close). */
TEST(failed_start_frees_its_workers)
{
    cu_server_opts o = {.threads = 3, .tls_cert_pem = "not a certificate", .tls_key_pem = "not a key"};
    cu_server *s = NULL;
    CHECK_OK(cu_server_new(&o, &s));
    if (!s)
        return;
    for (int round = 0; round < 2; round++) {
        CHECK_INT(cu_server_start(s), CU_ERR_IO);
        CHECK(strstr(cu_err_detail(), "not valid PEM") != NULL);
    }
    cu_server_stop(s);
    cu_server_free(s);
}
