/* The test rig of rig.h: the daemon's wiring through the library.  The
 * wrapped sink and the counted audit hooks keep their state in this file
 * (one rig at a time). */
#include "rig.h"

#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static bool g_hold, g_fail;
static atomic_int g_appends, g_submits;
static cu_sink g_inner;
static cu_gateway_audit g_real;

static cu_rc f_append(void *ctx, const void *const *e, const size_t *l, size_t n, uint64_t *first)
{
    int k = atomic_fetch_add(&g_appends, 1);
    pthread_mutex_lock(&g_mu);
    while (k == 0 && g_hold)
        pthread_cond_wait(&g_cv, &g_mu);
    bool fail = g_fail;
    pthread_mutex_unlock(&g_mu);
    if (fail)
        return cu_err_set(CU_ERR_IO, "test: the disk is gone");
    return g_inner.ops->append_many(ctx, e, l, n, first);
}
static uint64_t f_size(void *ctx) { return g_inner.ops->size(ctx); }
static cu_rc f_read(void *ctx, uint64_t i, cu_buf *out) { return g_inner.ops->read_entry(ctx, i, out); }
static const uint8_t *f_secret(void *ctx) { return g_inner.ops->commit_secret(ctx); }
static void f_close(void *ctx) { g_inner.ops->close(ctx); }
static const cu_sink_ops rig_ops = {"rig", f_append, f_size, f_read, f_secret, f_close};

static cu_rc counted_submit_decision(void *ud, const cu_gateway_logged *lg, struct cu_ledger_pending *p,
                                     cu_gateway_audit_done done, void *done_ud)
{
    atomic_fetch_add(&g_submits, 1);
    return g_real.submit_decision(ud, lg, p, done, done_ud);
}

static cu_rc counted_submit(void *ud, struct cu_ledger_pending *p, const void *e, size_t len,
                            cu_gateway_audit_done done, void *done_ud)
{
    atomic_fetch_add(&g_submits, 1);
    return g_real.submit(ud, p, e, len, done, done_ud);
}

void cu_rig_hold(bool hold)
{
    pthread_mutex_lock(&g_mu);
    g_hold = hold;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

void cu_rig_release(void) { cu_rig_hold(false); }

void cu_rig_fail(bool fail)
{
    pthread_mutex_lock(&g_mu);
    g_fail = fail;
    pthread_mutex_unlock(&g_mu);
}

void cu_rig_reset_counts(void)
{
    atomic_store(&g_appends, 0);
    atomic_store(&g_submits, 0);
}

int cu_rig_appends(void) { return atomic_load(&g_appends); }
int cu_rig_submits(void) { return atomic_load(&g_submits); }

void cu_rig_wait(int submits, int appends)
{
    for (int w = 0; w < 20000 && (cu_rig_submits() < submits || cu_rig_appends() < appends); w++)
        usleep(1000);
}

/* The pack, the reference and the caller PNC (token t0k) on a new gateway
 * whose audit hooks are a's. */
static bool gateway_open(cu_rig *R, cu_gateway_audit a)
{
    char *pack = NULL;
    size_t plen = 0;
    CHECK_OK(cu_gateway_read_pack("policies", &pack, &plen));
    cu_gateway_opts go = {.policy_text = pack, .policy_len = plen, .policy_name = "policies", .audit = a};
    CHECK_OK(cu_gateway_new(&go, &R->gw));
    cu_free(pack);
    if (!R->gw)
        return false;
    CHECK_OK(cu_gateway_reference_load(R->gw, CU_RIG_REF));
    uint8_t h[CU_SHA256_LEN];
    char x[2 * CU_SHA256_LEN + 1], cfg[128];
    CHECK_OK(cu_sha256(CU_RIG_TOKEN, strlen(CU_RIG_TOKEN), NULL, 0, NULL, 0, h));
    cu_hex_encode(h, sizeof h, x);
    snprintf(cfg, sizeof cfg, "token PNC sha256:%s\n", x);
    CHECK_OK(cu_gateway_config_parse(R->gw, cfg, strlen(cfg), "cfg"));
    return true;
}

/* A server on a free loopback port with the given routes to fn(ud). */
static bool serve(cu_rig *R, cu_http_handler fn, void *ud, bool reference)
{
    cu_server_opts so = {.threads = 2};
    CHECK_OK(cu_server_new(&so, &R->srv));
    if (!R->srv)
        return false;
    CHECK_OK(cu_server_route(R->srv, "POST", "/v1/authorize", fn, ud));
    if (reference)
        CHECK_OK(cu_server_route(R->srv, "POST", "/v1/reference", fn, ud));
    CHECK_OK(cu_server_start(R->srv));
    return cu_server_port(R->srv) != 0;
}

bool cu_rig_open(cu_rig *R, const char *dir, const cu_rig_opts *o)
{
    memset(R, 0, sizeof *R);
    cu_detect_cfg dc;
    cu_detect_cfg_default(&dc);
    dc.legacy = o && o->legacy;
    cu_pipeline_cfg pc = {.detect = &dc};
    cu_sink sink;
    CHECK_OK(cu_pipeline_ledger_open(dir, 0, &R->ledger));
    if (!R->ledger)
        return false;
    cu_sink_ledger_shared(R->ledger, &sink);
    g_inner = sink;
    sink.ops = &rig_ops;
    CHECK_OK(cu_names_new(&R->names));
    CHECK_OK(cu_pipeline_open(dir, R->names, &sink, &R->pipe));
    CHECK_OK(cu_ref_new(R->names, &R->ref));
    if (!R->pipe || !R->ref)
        return false;
    CHECK_OK(cu_ref_load(R->ref, CU_RIG_REF));
    CHECK_OK(cu_pipeline_start(R->pipe, R->ref, &pc));
    cu_pipeline_stats_get(R->pipe, &R->start);
    CHECK_OK(cu_events_api_new(R->pipe, NULL, NULL, &R->api));
    if (!R->api)
        return false;
    CHECK_OK(cu_events_api_gateway_audit(R->api, R->ledger, R->ref, &g_real));
    cu_gateway_audit a = g_real;
    a.submit_decision = counted_submit_decision;
    if (!gateway_open(R, a))
        return false;
    CHECK_OK(cu_events_api_set_gateway(R->api, R->gw));
    return !(o && o->serve) || serve(R, cu_events_api_gateway_handle, R->api, true);
}

bool cu_rig_open_gateway(cu_rig *R, const char *dir)
{
    memset(R, 0, sizeof *R);
    char *sk = NULL, *vk = NULL;
    CHECK_OK(cu_note_keygen("rig.example/log", &sk, &vk));
    CHECK_OK(cu_ledger_init(dir, "rig.example/log", sk));
    cu_ledger_opts lo = {.signer_key = sk};
    CHECK_OK(cu_ledger_open(dir, &lo, &R->ledger));
    cu_free(sk);
    cu_free(vk);
    if (!R->ledger)
        return false;
    g_real = cu_gateway_audit_ledger(R->ledger);
    cu_gateway_audit a = g_real;
    a.submit = counted_submit;
    return gateway_open(R, a) && serve(R, cu_server_gateway_handle, R->gw, false);
}

void cu_rig_close(cu_rig *R)
{
    cu_server_free(R->srv); /* waits for the suspended requests */
    cu_gateway_free(R->gw);
    cu_events_api_free(R->api);
    if (R->pipe)
        CHECK_OK(cu_pipeline_close(R->pipe));
    cu_ref_free(R->ref);
    cu_names_free(R->names);
    cu_ledger_close(R->ledger);
    memset(R, 0, sizeof *R);
}

bool cu_rig_send_all(uint16_t port, const char *path, const char *body, int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if ((fds[i] = cu_test_http_post(port, path, CU_RIG_TOKEN, body)) < 0) {
            CHECK(!"connect and send");
            return false;
        }
    return true;
}
