/* POST /v1/events: a batch of interchange events (JSON Lines) into the
 * pipeline.
 *
 * Invariants:
 * 1. All or nothing for input faults: every line is parsed and the batch's
 *    time order checked (within it and against the last event accepted)
 *    before anything is appended; a bad line gives 400 naming its line and
 *    nothing of the batch is applied.
 * 2. 200 only once the whole batch is durable in the ledger (the pipeline
 *    returns after the group commit), with the ledger indices it got.
 * 3. After a storage failure the pipeline refuses further batches; the
 *    route answers 503 until the daemon is restarted (which recovers the
 *    index from the ledger).  A storage failure in the middle of a batch
 *    answers 500: some of that batch may be durable (the ledger may have
 *    committed some of its groups); a client retrying must expect that.
 * 4. One request at a time (a mutex): the pipeline and the names table
 *    have one writer.
 */
#include "custos/server.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct cu_events_api {
    cu_pipeline *p;
    cu_names *names;
    cu_batch *batch;
    pthread_mutex_t mu;
    cu_http_auth_fn auth;
    void *auth_ud;
};

cu_rc cu_events_api_new(cu_pipeline *p, cu_http_auth_fn auth, void *auth_ud, cu_events_api **out)
{
    cu_events_api *a = cu_calloc(1, sizeof *a);
    if (!a)
        return CU_ERR_NOMEM;
    cu_rc rc = cu_batch_new(CU_EVENTS_MAX_BATCH, &a->batch);
    if (rc) {
        cu_free(a);
        return rc;
    }
    a->p = p;
    a->auth = auth;
    a->auth_ud = auth_ud;
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return CU_OK;
}

void cu_events_api_free(cu_events_api *a)
{
    if (!a)
        return;
    cu_batch_free(a->batch);
    pthread_mutex_destroy(&a->mu);
    cu_free(a);
}

static void handle_locked(cu_events_api *a, const cu_http_req *req, cu_http_resp *resp)
{
    cu_batch *b = a->batch;
    cu_batch_reset(b);
    cu_names *names = cu_pipeline_names(a->p);
    const char *s = req->body, *end = req->body + req->body_len;
    uint64_t ln = 0;
    int64_t prev = cu_pipeline_last_ts(a->p);
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        const char *line = s;
        s += len + (nl ? 1 : 0);
        ln++;
        size_t l = len;
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            l--;
        if (l == 0)
            continue;
        if (len > CU_EVENT_MAX_LINE) {
            cu_http_error(resp, 400, "line %llu: longer than %d bytes", (unsigned long long)ln, CU_EVENT_MAX_LINE);
            return;
        }
        cu_event *ev = cu_batch_slot(b);
        if (!ev) {
            cu_http_error(resp, 413, "more than %d events in one batch", CU_EVENTS_MAX_BATCH);
            return;
        }
        cu_rc rc = cu_event_parse(names, line, len, ev);
        if (rc) {
            cu_http_error(resp, 400, "line %llu: %s", (unsigned long long)ln, cu_err_detail());
            return;
        }
        if (ev->ts < prev) {
            char t1[21], t2[21];
            cu_time_format(ev->ts, t1);
            cu_time_format(prev, t2);
            cu_http_error(resp, 400, "line %llu: event %s at %s is earlier than the event before it at %s",
                          (unsigned long long)ln, ev->id, t1, t2);
            return;
        }
        prev = ev->ts;
        cu_batch_push(b);
    }
    uint32_t n = cu_batch_count(b);
    if (n == 0) {
        cu_http_error(resp, 400, "no events in the body");
        return;
    }
    cu_pipeline_stats before, after;
    cu_pipeline_stats_get(a->p, &before);
    uint64_t first = 0;
    cu_rc rc = cu_pipeline_submit(a->p, b, &first);
    if (rc == CU_ERR_STATE) {
        cu_http_error(resp, 503, "ingest stopped after a storage failure: %s", cu_err_detail());
        return;
    }
    if (rc) {
        cu_http_error(resp, 500, "the batch could not be made durable: %s", cu_err_detail());
        return;
    }
    cu_pipeline_stats_get(a->p, &after);
    resp->status = 200;
    cu_buf_reset(&resp->body);
    if (cu_buf_appendf(&resp->body,
                       "{\"accepted\":%u,\"first_index\":%llu,\"last_index\":%llu,\"alerts\":%llu,\"ledger_size\":%llu}\n",
                       n, (unsigned long long)first, (unsigned long long)(first + n - 1),
                       (unsigned long long)(after.alerts - before.alerts), (unsigned long long)after.ledger_size))
        cu_http_error(resp, 500, "response too large");
}

void cu_events_api_handle(void *ud, const cu_http_req *req, cu_http_resp *resp)
{
    cu_events_api *a = ud;
    if (a->auth && !a->auth(a->auth_ud, req)) {
        cu_http_error(resp, 401, "not authorised");
        return;
    }
    if (req->body_len > CU_EVENTS_MAX_BODY) {
        cu_http_error(resp, 413, "body larger than %u bytes", CU_EVENTS_MAX_BODY);
        return;
    }
    pthread_mutex_lock(&a->mu);
    handle_locked(a, req, resp);
    pthread_mutex_unlock(&a->mu);
}
