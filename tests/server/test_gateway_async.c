/* The gateway over HTTP without a thread per waiting decision: custosd's
 * gateway-only wiring (cu_gateway_audit_ledger, cu_server_gateway_handle)
 * on a real ledger with two server threads.  200 requests are sent at once
 * on 200 connections: every one is answered 200 with its own ledger index
 * and every decision is in the ledger (so they waited suspended, not on a
 * thread each).  Then the ledger's fdatasync is held while 200 requests are
 * submitted and fails with EIO: every suspended request is answered 503,
 * deny "audit unavailable", and nothing is answered before the failure. */
#include "harness.h"
#include "ledger/ledger_int.h"

#include "rig.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define N 200
#define BODY "{\"officer\":\"PC1\",\"action\":\"view\",\"record\":\"R1\",\"purpose\":\"investigation\",\"case\":\"C1\"}"

/* ------------------------------------------- a fdatasync held, then EIO */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static bool g_release;
static atomic_int g_synced; /* fdatasync calls reached */

static int held_fdatasync(int fd)
{
    (void)fd;
    atomic_fetch_add(&g_synced, 1);
    pthread_mutex_lock(&g_mu);
    while (!g_release)
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    errno = EIO;
    return -1;
}

TEST(concurrent_requests_all_answered_and_logged)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/async1", cu_test_tmpdir());
    cu_rig R;
    cu_rig_reset_counts();
    if (!cu_rig_open_gateway(&R, dir)) {
        cu_rig_close(&R);
        return;
    }
    int fds[N];
    static char buf[8192];
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    int ok = 0;
    if (cu_rig_send_all(cu_server_port(R.srv), "/v1/authorize", BODY, fds, N)) {
        for (int i = 0; i < N; i++) {
            int st = cu_test_http_answer(fds[i], buf, sizeof buf);
            const char *li = strstr(buf, "\"ledger_index\":");
            unsigned long long idx = N;
            if (st == 200 && li && sscanf(li, "\"ledger_index\":%llu", &idx) == 1 && idx < N && !seen[idx]) {
                seen[idx] = true;
                ok++;
            } else {
                fprintf(stderr, "  answer %d: status %d: %.300s\n", i, st, buf);
            }
        }
    }
    CHECK_INT(ok, N);
    CHECK_INT(cu_rig_submits(), N); /* every one went the asynchronous way */
    CHECK_INT((long long)cu_ledger_size(R.ledger), N);
    /* and each entry is that request's decision */
    cu_buf e;
    cu_buf_init(&e, 1 << 16);
    int officers = 0;
    for (uint64_t i = 0; i < N; i++) {
        cu_buf_reset(&e);
        CHECK_OK(cu_ledger_read_entry(R.ledger, i, &e));
        officers += e.len && memmem(e.data, e.len, "PC1", 3) != NULL;
    }
    CHECK_INT(officers, N);
    cu_buf_free(&e);
    cu_rig_close(&R);
}

TEST(ledger_failure_answers_503_to_suspended_requests)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/async2", cu_test_tmpdir());
    cu_rig R;
    cu_rig_reset_counts();
    atomic_store(&g_synced, 0);
    g_release = false;
    if (!cu_rig_open_gateway(&R, dir)) {
        cu_rig_close(&R);
        return;
    }
    static cu_ledger_io held;
    held = cu_ledger_io_real;
    held.fdatasync = held_fdatasync;
    (void)cu_ledger_set_io(&held);
    int fds[N];
    static char buf[8192];
    int n503 = 0;
    bool sent = cu_rig_send_all(cu_server_port(R.srv), "/v1/authorize", BODY, fds, N);
    /* wait until every request is decided and waiting on the log (the
     * first commit is held in its fdatasync) */
    while (sent && (cu_rig_submits() < N || atomic_load(&g_synced) < 1))
        usleep(1000);
    CHECK_INT((long long)cu_ledger_size(R.ledger), 0); /* nothing committed, nothing answered */
    pthread_mutex_lock(&g_mu);
    g_release = true;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    for (int i = 0; sent && i < N; i++) {
        int st = cu_test_http_answer(fds[i], buf, sizeof buf);
        if (st == 503 && strstr(buf, "\"decision\":\"deny\"") && strstr(buf, "audit unavailable") &&
            strstr(buf, "\"ledger_index\":null"))
            n503++;
        else
            fprintf(stderr, "  answer %d: status %d: %.300s\n", i, st, buf);
    }
    CHECK_INT(n503, N);
    cu_rig_close(&R);
    (void)cu_ledger_set_io(NULL);
}

