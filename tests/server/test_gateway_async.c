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

#include "custos/gateway.h"
#include "custos/ledger.h"
#include "custos/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define N 200
#define REF "tests/gateway/data/force.jsonl"
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

/* ------------------------------------------------ counted submissions */
static cu_gateway_audit g_real;
static atomic_int g_submits;

static cu_rc counted_submit(void *ud, struct cu_ledger_pending *p, const void *e, size_t len,
                            cu_gateway_audit_done done, void *done_ud)
{
    atomic_fetch_add(&g_submits, 1);
    return g_real.submit(ud, p, e, len, done, done_ud);
}

typedef struct rig {
    cu_ledger *ledger;
    cu_gateway *gw;
    cu_server *srv;
} rig;

static bool rig_open(rig *R, const char *dir)
{
    memset(R, 0, sizeof *R);
    char *sk = NULL, *vk = NULL, *pack = NULL;
    size_t plen = 0;
    CHECK_OK(cu_note_keygen("async.example/log", &sk, &vk));
    CHECK_OK(cu_ledger_init(dir, "async.example/log", sk));
    cu_ledger_opts lo = {.signer_key = sk};
    CHECK_OK(cu_ledger_open(dir, &lo, &R->ledger));
    cu_free(sk);
    cu_free(vk);
    if (!R->ledger)
        return false;
    g_real = cu_gateway_audit_ledger(R->ledger);
    cu_gateway_audit a = g_real;
    a.submit = counted_submit;
    CHECK_OK(cu_gateway_read_pack("policies", &pack, &plen));
    cu_gateway_opts go = {.policy_text = pack, .policy_len = plen, .policy_name = "policies", .audit = a};
    CHECK_OK(cu_gateway_new(&go, &R->gw));
    cu_free(pack);
    if (!R->gw)
        return false;
    CHECK_OK(cu_gateway_reference_load(R->gw, REF));
    /* sha256("t0k") */
    uint8_t h[32];
    char x[65], cfg[128];
    CHECK_OK(cu_sha256("t0k", 3, NULL, 0, NULL, 0, h));
    cu_hex_encode(h, 32, x);
    snprintf(cfg, sizeof cfg, "token PNC sha256:%s\n", x);
    CHECK_OK(cu_gateway_config_parse(R->gw, cfg, strlen(cfg), "cfg"));
    cu_server_opts so = {.threads = 2};
    CHECK_OK(cu_server_new(&so, &R->srv));
    if (!R->srv)
        return false;
    CHECK_OK(cu_server_route(R->srv, "POST", "/v1/authorize", cu_server_gateway_handle, R->gw));
    CHECK_OK(cu_server_start(R->srv));
    return cu_server_port(R->srv) != 0;
}

static void rig_close(rig *R)
{
    cu_server_free(R->srv); /* waits for the suspended requests */
    cu_gateway_free(R->gw);
    cu_ledger_close(R->ledger);
}

/* Open N connections and send a request on each (Connection: close). */
static bool send_all(uint16_t port, int *fds)
{
    for (int i = 0; i < N; i++)
        if ((fds[i] = cu_test_http_post(port, "/v1/authorize", "t0k", BODY)) < 0) {
            CHECK(!"connect and send");
            return false;
        }
    return true;
}


TEST(concurrent_requests_all_answered_and_logged)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/async1", cu_test_tmpdir());
    rig R;
    atomic_store(&g_submits, 0);
    if (!rig_open(&R, dir)) {
        rig_close(&R);
        return;
    }
    int fds[N];
    static char buf[8192];
    static bool seen[N];
    memset(seen, 0, sizeof seen);
    int ok = 0;
    if (send_all(cu_server_port(R.srv), fds)) {
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
    CHECK_INT(atomic_load(&g_submits), N); /* every one went the asynchronous way */
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
    rig_close(&R);
}

TEST(ledger_failure_answers_503_to_suspended_requests)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/async2", cu_test_tmpdir());
    rig R;
    atomic_store(&g_submits, 0);
    atomic_store(&g_synced, 0);
    g_release = false;
    if (!rig_open(&R, dir)) {
        rig_close(&R);
        return;
    }
    static cu_ledger_io held;
    held = cu_ledger_io_real;
    held.fdatasync = held_fdatasync;
    (void)cu_ledger_set_io(&held);
    int fds[N];
    static char buf[8192];
    int n503 = 0;
    bool sent = send_all(cu_server_port(R.srv), fds);
    /* wait until every request is decided and waiting on the log (the
     * first commit is held in its fdatasync) */
    while (sent && (atomic_load(&g_submits) < N || atomic_load(&g_synced) < 1))
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
    rig_close(&R);
    (void)cu_ledger_set_io(NULL);
}

