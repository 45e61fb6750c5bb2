/* The gateway's routes on the server: cu_gateway_http_async with the
 * server's suspend/resume, so that a decision waiting for its ledger commit
 * holds no thread (docs/gateway.md, "Requests in flight without threads").
 *
 * Invariants:
 * 1. The request is suspended (hold) before its entry reaches the log, so
 *    the completion can never resume a request that is not suspended.
 * 2. After a deferred call the handler touches nothing of the request: the
 *    completion owns the response until cu_http_resume sends it.
 */
#include "custos/server.h"

#include <stdio.h>

static void *gw_hold(void *req) { return cu_http_suspend(req); }

static void gw_answer(void *held) { cu_http_resume(held); }

void cu_server_gateway_handle(void *gw, const cu_http_req *req, cu_http_resp *resp)
{
    const char *ct = "application/json";
    cu_gateway_defer df = {gw_hold, gw_answer, (void *)req};
    resp->status = 200;
    resp->content_type = ct;
    if (cu_gateway_http_async(gw, req->method, req->path, cu_http_header(req, "Authorization"), req->client_cert,
                              req->body,
                              req->body_len, cu_now(), &resp->status, &ct, &resp->body, &df))
        return; /* invariant 2 */
    resp->content_type = ct;
    if (resp->status == 401)
        snprintf(resp->extra_headers, sizeof resp->extra_headers, "WWW-Authenticate: Bearer realm=\"custos\"\r\n");
}
