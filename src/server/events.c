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

#include "custos/ledger.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cu_events_api {
    cu_pipeline *p;
    cu_batch *batch;
    pthread_mutex_t mu;
    cu_http_auth_fn auth;
    void *auth_ud;
    /* gateway decisions (cu_events_api_gateway_audit) */
    cu_ledger *ledger;
    const cu_ref *ref;
    cu_batch *gw_batch;
    uint64_t gw_next; /* the number of the next "GW-" event id */
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
    cu_batch_free(a->gw_batch);
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

/* ------------------------------------------------- gateway decisions
 *
 * Invariants:
 * 5. An allowed look-up is appended as its decision entry followed at once
 *    by one access entry (the event "GW-<n>"), in one durable append under
 *    the ingest mutex, and then indexed and run through the detectors like
 *    any ingested event; the gateway answers only after that append
 *    returned.  Other decisions and break-glass reviews are appended to the
 *    ledger alone (no mutex: the ledger's group commit serves them).
 * 6. "GW-" numbers count up by one per gateway access event, continuing
 *    after restarts from the newest one indexed, so the series has no gaps
 *    that an evidence bundle's completeness statement would report.
 * 7. The access event's time is the decision's, or the last accepted
 *    event's when that is later (an ingest source's clock ahead of ours):
 *    the stream stays in time order; the decision entry keeps its own time.
 */

static cu_rc gw_append(void *ud, const void *entry, size_t len, uint64_t *index)
{
    cu_events_api *a = ud;
    return cu_ledger_append(a->ledger, entry, len, index);
}

static uint64_t gw_size(void *ud)
{
    cu_events_api *a = ud;
    return cu_ledger_size(a->ledger);
}

static cu_rc intern_opt(cu_names *n, cu_idkind k, const char *s, cu_id *out)
{
    *out = CU_ID_NONE;
    if (!s || !*s)
        return CU_OK;
    return cu_names_intern(n, k, s, strlen(s), out);
}

/* The access event of an allowed look-up, into ev. */
static cu_rc gw_event(cu_events_api *a, const cu_gateway_logged *lg, cu_event *ev)
{
    const cu_gateway_request *r = lg->req;
    cu_names *n = cu_pipeline_names(a->p);
    cu_action act;
    cu_rc rc;
    if ((rc = cu_action_parse(r->action, strlen(r->action), &act)))
        return rc;
    int64_t last = cu_pipeline_last_ts(a->p);
    ev->ts = r->now < last ? last : r->now;
    int k = snprintf(ev->id, sizeof ev->id, "GW-%" PRIu64, a->gw_next);
    ev->id_len = (uint8_t)k;
    ev->action = (uint8_t)act;
    ev->outcome = CU_OUT_ALLOW;
    ev->has_results = false;
    ev->results = 0;
    ev->nsubjects = 0;
    /* the system: the record's, or the one named, or the calling system */
    const char *system = lg->system && *lg->system ? lg->system : r->caller;
    if ((rc = intern_opt(n, CU_K_OFFICER, r->officer, &ev->officer)) ||
        (rc = intern_opt(n, CU_K_SYSTEM, system, &ev->system)) ||
        (rc = intern_opt(n, CU_K_RECORD, r->record, &ev->record)) ||
        (rc = intern_opt(n, CU_K_PURPOSE, r->purpose, &ev->purpose)) ||
        (rc = intern_opt(n, CU_K_CASE, r->case_id, &ev->case_id)))
        return rc;
    ev->terminal = CU_ID_NONE;
    ev->area = CU_ID_NONE;
    if (ev->officer == CU_ID_NONE || ev->system == CU_ID_NONE)
        return cu_err_set(CU_ERR_INVAL, "a gateway decision without officer or system");
    /* the people the record concerns, from the reference data */
    const cu_record *rec = ev->record == CU_ID_NONE ? NULL : cu_ref_record(a->ref, ev->record);
    for (uint32_t i = 0; rec && i < rec->nsubjects && ev->nsubjects < ev->subjects_cap; i++)
        ev->subjects[ev->nsubjects++] = rec->subjects[i];
    return CU_OK;
}

static cu_rc gw_decision(void *ud, const cu_gateway_logged *lg, uint64_t *index)
{
    cu_events_api *a = ud;
    if (lg->d->outcome != CU_GW_ALLOW)
        return cu_ledger_append(a->ledger, lg->entry, lg->len, index);
    pthread_mutex_lock(&a->mu);
    cu_batch_reset(a->gw_batch);
    cu_event *ev = cu_batch_slot(a->gw_batch);
    cu_rc rc = ev ? gw_event(a, lg, ev) : cu_err_set(CU_ERR_INTERNAL, "gateway batch full");
    uint64_t pre = UINT64_MAX;
    if (!rc) {
        cu_batch_push(a->gw_batch);
        rc = cu_pipeline_submit_after(a->p, lg->entry, lg->len, a->gw_batch, &pre);
    }
    if (pre != UINT64_MAX) {
        /* durable: the number is used whatever happened after the append */
        a->gw_next++;
        *index = pre;
        if (rc)
            cu_log(CU_LOG_ERROR, "gateway decision %" PRIu64 " is durable but was not indexed: %s: %s", pre,
                   cu_strerror(rc), cu_err_detail());
        rc = CU_OK;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

cu_rc cu_events_api_gateway_audit(cu_events_api *a, cu_ledger *ledger, const cu_ref *ref, cu_gateway_audit *out)
{
    if (!ledger || !ref)
        return cu_err_set(CU_ERR_INVAL, "the gateway's live stream needs the ledger and the reference data");
    cu_rc rc;
    if (!a->gw_batch && (rc = cu_batch_new(1, &a->gw_batch)))
        return rc;
    char last[CU_ID_MAX_LEN + 1];
    pthread_mutex_lock(&a->mu);
    rc = cu_store_last_eid_with_prefix(cu_pipeline_store(a->p), "GW-", last, sizeof last);
    a->gw_next = 1;
    if (rc == CU_OK) {
        char *end;
        unsigned long long v = strtoull(last + 3, &end, 10);
        if (*end == '\0' && end != last + 3)
            a->gw_next = (uint64_t)v + 1;
    }
    pthread_mutex_unlock(&a->mu);
    if (rc && rc != CU_ERR_NOTFOUND)
        return rc;
    a->ledger = ledger;
    a->ref = ref;
    *out = (cu_gateway_audit){.append = gw_append, .size = gw_size, .ud = a, .append_decision = gw_decision};
    return CU_OK;
}

cu_rc cu_events_api_with(cu_events_api *a, cu_rc (*fn)(cu_pipeline *p, void *ud), void *ud)
{
    pthread_mutex_lock(&a->mu);
    cu_rc rc = fn(a->p, ud);
    pthread_mutex_unlock(&a->mu);
    return rc;
}
