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

#include <stdalign.h>

#include <errno.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>
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
    cu_ref *ref;
    cu_batch *gw_batch;
    uint64_t gw_next; /* the number of the next "GW-" event id */
    /* allowed look-ups waiting for the live writer (invariant 8) */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct gw_item *qhead, *qtail;
    bool writer_started, writer_stop;
    pthread_t writer;
    const void **gw_pre;
    size_t *gw_prelen;
    struct gw_item **gw_items, **gw_bad; /* the chunk being written */
    bool *gw_done;                       /* gw_items[k] answered */
    uint32_t gw_nitems;
    uint64_t gw_lookups, gw_appends;     /* written by the live writer, in so many appends */
    /* the gateway whose reference data follows the pipeline's (invariant 9) */
    cu_gateway *gw;
    pthread_rwlock_t gate;
    bool ref_changed;
    /* what the update being applied changed (the store rewrites only that);
     * changes_lost: the list could not grow, so the store is rewritten whole */
    cu_ref_change *changes;
    size_t nchanges, capchanges;
    bool changes_lost;
    /* DIR/reference-updates (cu_events_api_reference_log): NULL: not kept */
    char *upd_dir;
    unsigned long upd_seq;
    /* the update being applied: the line last checked, the lines taken */
    const char *chk_line;
    size_t chk_len;
    cu_buf taken;
    bool taken_lost; /* a taken line could not be recorded */
    cu_buf refbuf;
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
    pthread_mutex_init(&a->qmu, NULL);
    pthread_cond_init(&a->qcv, NULL);
    /* writers first: a reference update must not wait behind a stream of decisions */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&a->gate, &ra);
    pthread_rwlockattr_destroy(&ra);
    cu_buf_init(&a->refbuf, CU_EVENTS_MAX_BODY);
    cu_buf_init(&a->taken, CU_EVENTS_MAX_BODY + 1);
    *out = a;
    return CU_OK;
}

static void writer_stop(cu_events_api *a);

void cu_events_api_free(cu_events_api *a)
{
    if (!a)
        return;
    writer_stop(a);
    cu_batch_free(a->batch);
    cu_batch_free(a->gw_batch);
    cu_free(a->gw_pre);
    cu_free(a->gw_prelen);
    cu_free(a->gw_items);
    cu_free(a->gw_done);
    cu_free(a->gw_bad);
    cu_buf_free(&a->refbuf);
    cu_buf_free(&a->taken);
    cu_free(a->upd_dir);
    cu_free(a->changes);
    pthread_rwlock_destroy(&a->gate);
    pthread_cond_destroy(&a->qcv);
    pthread_mutex_destroy(&a->qmu);
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
 *    by one access entry (the event "GW-<n>"), and then indexed and run
 *    through the detectors like any ingested event; the gateway answers
 *    only after that append returned.  Other decisions and break-glass
 *    reviews are appended to the ledger alone (no mutex: the ledger's group
 *    commit serves them).
 * 6. "GW-" numbers count up by one per gateway access event, continuing
 *    after restarts from the newest one indexed, so the series has no gaps
 *    that an evidence bundle's completeness statement would report.
 * 7. The access event's time is the decision's, or the last accepted
 *    event's when that is later (an ingest source's clock ahead of ours):
 *    the stream stays in time order; the decision entry keeps its own time.
 * 8. Allowed look-ups are batched: each is queued (in the gateway's own
 *    pending storage, no allocation) and the live writer thread takes every
 *    look-up queued so far, under the ingest mutex, as one pipeline append
 *    (decision, access, decision, access, ...: each pair adjacent, one
 *    group commit) and one store transaction.  Each is answered with its
 *    index as soon as that append returned (durable), while the batch is
 *    indexed and detected; never before.  A failed append answers every
 *    look-up of the batch with the error (the gateway answers deny, "audit
 *    unavailable").  Look-ups that arrive while a batch is being written
 *    form the next batch.
 * 9. A reference update (POST /v1/reference through
 *    cu_events_api_gateway_handle) waits until no decision is between its
 *    evaluation and its queueing (a read-write gate), writes every queued
 *    look-up with the reference data it was decided on, then applies each
 *    line to the pipeline's reference data as the gateway takes it (the
 *    same lines in both), publishes the gateway's new version and rewrites
 *    the store's copy, all under the ingest mutex: every look-up decided on
 *    version v is detected on version v, and every later one on the next.
 * 10. With cu_events_api_reference_log, every update body is written
 *    durably (DIR/reference-updates/NNNNNNNN.jsonl) before it is applied,
 *    and replayed in order at the next start, so no restart brings back
 *    data an update had removed.
 */

#define GW_BATCH_MAX 4096

/* An allowed look-up waiting for the live writer.  It lives in the
 * gateway's cu_ledger_pending storage (the caller's until done runs). */
struct gw_item {
    struct gw_item *next;
    const void *entry;
    size_t len;
    cu_gateway_audit_done done;
    void *done_ud;
    int64_t now;
    cu_rc rc;
    bool after_index; /* answered only once indexed and detected (cu_gateway_decide) */
    char officer[CU_GATEWAY_MAX_ID + 1], system[CU_GATEWAY_MAX_ID + 1], record[CU_GATEWAY_MAX_ID + 1],
        purpose[CU_GATEWAY_MAX_ID + 1], case_id[CU_GATEWAY_MAX_ID + 1], action[16];
    char detail[256];
};
_Static_assert(sizeof(struct gw_item) <= sizeof(cu_ledger_pending), "a queued look-up must fit the pending storage");
_Static_assert(alignof(struct gw_item) <= 16, "pending storage alignment");

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

/* The access event of an allowed look-up, into ev, at time >= floor. */
static cu_rc gw_event(cu_events_api *a, const struct gw_item *it, int64_t floor, uint64_t num, cu_event *ev)
{
    cu_names *n = cu_pipeline_names(a->p);
    cu_action act;
    cu_rc rc;
    if ((rc = cu_action_parse(it->action, strlen(it->action), &act)))
        return rc;
    ev->ts = it->now < floor ? floor : it->now;
    int k = snprintf(ev->id, sizeof ev->id, "GW-%" PRIu64, num);
    ev->id_len = (uint8_t)k;
    ev->action = (uint8_t)act;
    ev->outcome = CU_OUT_ALLOW;
    ev->has_results = false;
    ev->results = 0;
    ev->nsubjects = 0;
    if ((rc = intern_opt(n, CU_K_OFFICER, it->officer, &ev->officer)) ||
        (rc = intern_opt(n, CU_K_SYSTEM, it->system, &ev->system)) ||
        (rc = intern_opt(n, CU_K_RECORD, it->record, &ev->record)) ||
        (rc = intern_opt(n, CU_K_PURPOSE, it->purpose, &ev->purpose)) ||
        (rc = intern_opt(n, CU_K_CASE, it->case_id, &ev->case_id)))
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

static void item_fail(struct gw_item *it, cu_rc rc, const char *detail)
{
    it->rc = rc;
    snprintf(it->detail, sizeof it->detail, "%s", detail);
}

/* Answer look-ups [0, n) of a->gw_items: the index of each (its decision
 * entry) from the first, or the failure. */
static void answer_items(cu_events_api *a, uint32_t n, uint64_t pre_first, cu_rc rc, const char *detail,
                         bool durable_only)
{
    for (uint32_t k = 0; k < n; k++) {
        struct gw_item *it = a->gw_items[k];
        if (a->gw_done[k] || (durable_only && it->after_index))
            continue;
        a->gw_done[k] = true; /* done may reuse the item's storage: never read it again */
        it->done(it->done_ud, rc, rc ? 0 : pre_first + 2 * (uint64_t)k, rc ? detail : NULL);
    }
}

/* The pipeline's append returned: the look-ups are durable; answer those
 * that need not wait for the index while the batch is being indexed
 * (invariant 8). */
static void chunk_durable(void *ud, uint64_t pre_first)
{
    cu_events_api *a = ud;
    answer_items(a, a->gw_nitems, pre_first, CU_OK, NULL, true);
}

/* Write up to GW_BATCH_MAX queued look-ups from *list (advanced past
 * them) as one pipeline append, and answer each; under a->mu.  Every item
 * of the chunk is collected before any is answered (an answered item's
 * storage is the gateway's again). */
static void write_chunk(cu_events_api *a, struct gw_item **list)
{
    cu_batch *b = a->gw_batch;
    cu_batch_reset(b);
    struct gw_item *it = *list;
    uint32_t n = 0, nbad = 0;
    int64_t floor = cu_pipeline_last_ts(a->p);
    for (; it && n + nbad < GW_BATCH_MAX; it = it->next) {
        cu_event *ev = cu_batch_slot(b);
        if (!ev)
            break; /* the batch's room for people is used up: the rest in the next chunk */
        cu_rc rc = gw_event(a, it, floor, a->gw_next + n, ev);
        if (rc) {
            item_fail(it, rc, cu_err_detail());
            a->gw_bad[nbad++] = it;
            continue;
        }
        floor = ev->ts;
        a->gw_pre[n] = it->entry;
        a->gw_prelen[n] = it->len;
        a->gw_items[n] = it;
        a->gw_done[n] = false;
        cu_batch_push(b);
        n++;
    }
    *list = it;
    for (uint32_t k = 0; k < nbad; k++) {
        struct gw_item *x = a->gw_bad[k];
        x->done(x->done_ud, x->rc, 0, x->detail);
    }
    if (n == 0)
        return;
    uint64_t pre = UINT64_MAX;
    a->gw_nitems = n;
    cu_rc rc = cu_pipeline_submit_pairs(a->p, a->gw_pre, a->gw_prelen, b, &pre, chunk_durable, a);
    a->gw_appends++;
    a->gw_lookups += n;
    char detail[256];
    snprintf(detail, sizeof detail, "%s", rc ? cu_err_detail() : "");
    if (pre != UINT64_MAX) {
        /* durable: the numbers are used whatever happened after the append */
        a->gw_next += n;
        if (rc)
            cu_log(CU_LOG_ERROR, "gateway decisions %" PRIu64 "..%" PRIu64 " are durable but were not indexed: %s: %s",
                   pre, pre + 2 * (uint64_t)n - 1, cu_strerror(rc), detail);
    }
    if (pre != UINT64_MAX)
        answer_items(a, n, pre, CU_OK, NULL, false); /* durable (indexed or not: logged above) */
    else
        answer_items(a, n, 0, rc ? rc : cu_err_set(CU_ERR_INTERNAL, "no index"), detail, false);
}

/* Take the queue (FIFO); under a->mu, so that nothing taken is written
 * after a reference update that came later. */
static struct gw_item *take_queue(cu_events_api *a)
{
    pthread_mutex_lock(&a->qmu);
    struct gw_item *l = a->qhead;
    a->qhead = a->qtail = NULL;
    pthread_mutex_unlock(&a->qmu);
    return l;
}

/* Write and answer every look-up of list. */
static void write_all(cu_events_api *a, struct gw_item *list)
{
    while (list)
        write_chunk(a, &list);
}

static void *writer_main(void *arg)
{
    cu_events_api *a = arg;
    pthread_setname_np(pthread_self(), "cu-live");
    for (;;) {
        pthread_mutex_lock(&a->qmu);
        while (!a->qhead && !a->writer_stop)
            pthread_cond_wait(&a->qcv, &a->qmu);
        bool stop = !a->qhead;
        pthread_mutex_unlock(&a->qmu);
        if (stop)
            break;
        pthread_mutex_lock(&a->mu);
        write_all(a, take_queue(a));
        pthread_mutex_unlock(&a->mu);
    }
    return NULL;
}

static void writer_stop(cu_events_api *a)
{
    if (!a->writer_started)
        return;
    cu_thread_stop(&a->qmu, &a->qcv, &a->writer_stop, a->writer); /* it writes what is queued first */
    a->writer_started = false;
    if (a->gw_appends)
        cu_log(CU_LOG_INFO, "live writer: %llu allowed look-ups in %llu pipeline appends (%.1f a batch)",
               (unsigned long long)a->gw_lookups, (unsigned long long)a->gw_appends,
               (double)a->gw_lookups / (double)a->gw_appends);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static cu_rc submit_item(cu_events_api *a, const cu_gateway_logged *lg, struct cu_ledger_pending *p,
                         cu_gateway_audit_done done, void *done_ud, bool after_index);

static cu_rc gw_submit_decision(void *ud, const cu_gateway_logged *lg, struct cu_ledger_pending *p,
                                cu_gateway_audit_done done, void *done_ud)
{
    return submit_item(ud, lg, p, done, done_ud, false);
}

static cu_rc submit_item(cu_events_api *a, const cu_gateway_logged *lg, struct cu_ledger_pending *p,
                         cu_gateway_audit_done done, void *done_ud, bool after_index)
{
    if (lg->d->outcome != CU_GW_ALLOW)
        return cu_ledger_append_async(a->ledger, p, &lg->entry, &lg->len, 1, done, done_ud);
    const cu_gateway_request *r = lg->req;
    if (strlen(r->action) >= sizeof ((struct gw_item *)0)->action)
        return cu_err_set(CU_ERR_INVAL, "unknown action");
    struct gw_item *it = (struct gw_item *)(void *)p;
    memset(it, 0, offsetof(struct gw_item, officer));
    it->entry = lg->entry;
    it->len = lg->len;
    it->done = done;
    it->done_ud = done_ud;
    it->now = r->now;
    it->after_index = after_index;
    /* the system: the record's, or the one named, or the calling system */
    const char *system = lg->system && *lg->system ? lg->system : r->system && *r->system ? r->system : r->caller;
    copy_str(it->officer, sizeof it->officer, r->officer);
    copy_str(it->system, sizeof it->system, system);
    copy_str(it->record, sizeof it->record, r->record);
    copy_str(it->purpose, sizeof it->purpose, r->purpose);
    copy_str(it->case_id, sizeof it->case_id, r->case_id);
    copy_str(it->action, sizeof it->action, r->action);
    pthread_mutex_lock(&a->qmu);
    if (!a->writer_started || a->writer_stop) {
        pthread_mutex_unlock(&a->qmu);
        return cu_err_set(CU_ERR_STATE, "the live writer is not running");
    }
    if (a->qtail)
        a->qtail->next = it;
    else
        a->qhead = it;
    a->qtail = it;
    pthread_cond_signal(&a->qcv);
    pthread_mutex_unlock(&a->qmu);
    return CU_OK;
}

/* The synchronous hook (cu_gateway_decide): the same queue, waited for. */
struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    cu_rc rc;
    uint64_t index;
    char detail[256];
};

static void sync_done(void *ud, cu_rc rc, uint64_t index, const char *detail)
{
    struct sync_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->index = index;
    snprintf(w->detail, sizeof w->detail, "%s", detail ? detail : "");
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static cu_rc gw_decision(void *ud, const cu_gateway_logged *lg, uint64_t *index)
{
    cu_ledger_pending pend;
    struct sync_wait w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    cu_rc rc = submit_item(ud, lg, &pend, sync_done, &w, true);
    if (!rc) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.rc ? cu_err_set(w.rc, "%s", w.detail) : CU_OK;
        *index = w.index;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

cu_rc cu_events_api_gateway_audit(cu_events_api *a, cu_ledger *ledger, cu_ref *ref, cu_gateway_audit *out)
{
    if (!ledger || !ref)
        return cu_err_set(CU_ERR_INVAL, "the gateway's live stream needs the ledger and the reference data");
    cu_rc rc;
    if (!a->gw_batch && (rc = cu_batch_new(GW_BATCH_MAX, &a->gw_batch)))
        return rc;
    if (!a->gw_pre && (!(a->gw_pre = cu_calloc(GW_BATCH_MAX, sizeof *a->gw_pre)) ||
                       !(a->gw_prelen = cu_calloc(GW_BATCH_MAX, sizeof *a->gw_prelen)) ||
                       !(a->gw_items = cu_calloc(GW_BATCH_MAX, sizeof *a->gw_items)) ||
                       !(a->gw_bad = cu_calloc(GW_BATCH_MAX, sizeof *a->gw_bad)) ||
                       !(a->gw_done = cu_calloc(GW_BATCH_MAX, sizeof *a->gw_done))))
        return CU_ERR_NOMEM;
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
    if (!a->writer_started) {
        a->writer_stop = false;
        if (pthread_create(&a->writer, NULL, writer_main, a) != 0)
            return cu_err_set(CU_ERR_INTERNAL, "cannot start the live writer thread");
        a->writer_started = true;
    }
    *out = (cu_gateway_audit){.append = gw_append,
                              .size = gw_size,
                              .ud = a,
                              .append_decision = gw_decision,
                              .submit_decision = gw_submit_decision};
    return CU_OK;
}

/* ------------------------------------------- one reference, one order */

static cu_rc peer_check(void *ud, const char *line, size_t len, uint64_t lineno)
{
    cu_events_api *a = ud;
    a->chk_line = line;
    a->chk_len = len;
    return cu_ref_update_check(a->ref, line, len, lineno);
}

static cu_rc peer_apply(void *ud)
{
    cu_events_api *a = ud;
    a->ref_changed = true;
    cu_rc rc = cu_ref_update_apply(a->ref);
    if (rc)
        return rc;
    /* the line taken, for the kept copy (a line too long for the buffer
     * cannot be: the body is no longer) */
    if (!a->chk_line || cu_buf_append(&a->taken, a->chk_line, a->chk_len) || cu_buf_append(&a->taken, "\n", 1))
        a->taken_lost = true;
    if (cu_grow(&a->changes, &a->capchanges, a->nchanges + 1, sizeof *a->changes, 64, false)) {
        a->changes_lost = true;
        return CU_OK;
    }
    cu_ref_update_last(a->ref, &a->changes[a->nchanges++]);
    return CU_OK;
}

cu_rc cu_events_api_set_gateway(cu_events_api *a, cu_gateway *gw)
{
    if (!a->ref || !a->writer_started)
        return cu_err_set(CU_ERR_STATE, "cu_events_api_gateway_audit first");
    a->gw = gw;
    cu_gateway_ref_peer peer = {peer_check, peer_apply, a};
    cu_gateway_set_reference_peer(gw, &peer);
    return CU_OK;
}

/* Invariant 11: the kept copy of an update that took effect becomes the
 * lines taken (rewritten whole), then NNNNNNNN.at records the log's size
 * when it took effect; the warm start replays it there (cu_kept_warm).
 * Failing either leaves the update unpositioned: replayed after the warm
 * start, as before positions were kept. */
static void keep_taken(cu_events_api *a, const char *path, uint64_t at)
{
    char atpath[4096], txt[32];
    cu_kept_path(a->upd_dir, a->upd_seq, "at", atpath, sizeof atpath);
    if (a->taken_lost || a->taken.len == 0) {
        cu_log(CU_LOG_WARN, "reference update %s: the lines taken were not recorded: a restart replays it after "
                            "the warm start", path);
        return;
    }
    int k = snprintf(txt, sizeof txt, "%llu\n", (unsigned long long)at);
    if (cu_file_write_atomic(path, a->taken.data, a->taken.len, 0600) ||
        cu_file_write_atomic(atpath, txt, (size_t)k, 0600))
        cu_log(CU_LOG_WARN, "reference update %s: its place in the log not recorded (%s): a restart replays it "
                            "after the warm start",
               path, cu_err_detail());
}

void cu_events_api_gateway_handle(void *ud, const cu_http_req *req, cu_http_resp *resp)
{
    cu_events_api *a = ud;
    char name[CU_GATEWAY_MAX_ID + 1];
    bool reviewer;
    bool update = strcmp(req->method, "POST") == 0 && strcmp(req->path, "/v1/reference") == 0 &&
                  cu_gateway_authenticate(a->gw, cu_http_header(req, "Authorization"), req->client_cert, name, &reviewer) == CU_OK;
    if (!update) {
        /* invariant 9: a decision is queued before the gate opens to an update */
        pthread_rwlock_rdlock(&a->gate);
        cu_server_gateway_handle(a->gw, req, resp);
        pthread_rwlock_unlock(&a->gate);
        return;
    }
    pthread_rwlock_wrlock(&a->gate);
    pthread_mutex_lock(&a->mu);
    /* the look-ups decided on the version before: written with it */
    write_all(a, take_queue(a));
    a->ref_changed = false;
    a->nchanges = 0;
    a->changes_lost = false;
    cu_buf_reset(&a->taken);
    a->chk_line = NULL;
    a->taken_lost = false;
    /* the log's size now: access events before it were detected on the
     * data before this update (write_all has written the queued look-ups) */
    uint64_t at = cu_ledger_size(a->ledger);
    /* invariant 10: recorded before it is applied */
    char path[4096] = "";
    if (a->upd_dir) {
        cu_kept_path(a->upd_dir, a->upd_seq + 1, "jsonl", path, sizeof path);
        if (cu_file_write_atomic(path, req->body, req->body_len, 0600)) {
            cu_http_error(resp, 503, "reference update not recorded: %s", cu_err_detail());
            pthread_mutex_unlock(&a->mu);
            pthread_rwlock_unlock(&a->gate);
            return;
        }
        a->upd_seq++;
    }
    cu_server_gateway_handle(a->gw, req, resp);
    if (path[0] && resp->status != 200 && unlink(path) == 0)
        a->upd_seq--; /* nothing taken: nothing to replay */
    else if (path[0] && resp->status == 200)
        keep_taken(a, path, at);
    if (a->ref_changed && cu_pipeline_ref_changed(a->p))
        cu_log(CU_LOG_ERROR, "reference update: the detectors keep their indexes of the version before: %s",
               cu_err_detail());
    cu_store *st = cu_pipeline_store(a->p);
    if (a->ref_changed && st &&
        (a->changes_lost ? cu_store_put_reference(st, a->ref)
                         : cu_store_put_reference_changes(st, a->ref, a->changes, a->nchanges)))
        cu_log(CU_LOG_ERROR, "reference update: the store's copy was not brought up to date: %s", cu_err_detail());
    pthread_mutex_unlock(&a->mu);
    pthread_rwlock_unlock(&a->gate);
}

cu_rc cu_events_api_reference_log(cu_events_api *a, cu_kept *k, size_t *replayed)
{
    cu_rc rc = CU_OK;
    char *text = NULL;
    cu_buf report;
    cu_buf_init(&report, 64 * 1024);
    *replayed = 0;
    if (!a->gw)
        return cu_err_set(CU_ERR_STATE, "cu_events_api_set_gateway first");
    size_t n = cu_kept_count(k), warm = cu_kept_applied(k);
    cu_gateway_ref_peer peer = {peer_check, peer_apply, a};
    cu_gateway_ref_batch *batch = NULL;
    pthread_mutex_lock(&a->mu);
    /* the pipeline's reference data took the first `warm` during the warm
     * start, each at its place in the log */
    a->ref_changed = warm > 0;
    /* all kept updates read into one copy of the gateway's data and
     * published once, as their number of versions: one snapshot, not one
     * per update (each is a copy of the whole store) */
    if (n)
        rc = cu_gateway_reference_begin(a->gw, &batch);
    for (size_t i = 0; i < n && !rc; i++) {
        char path[4200];
        size_t len = 0;
        if ((rc = cu_kept_read(k, i + 1, &text, &len, path, sizeof path)))
            break;
        /* as when it was posted: the same lines taken, the same refused */
        cu_buf_reset(&report);
        size_t applied = 0;
        rc = cu_gateway_reference_add(batch, text, len, path, i < warm ? NULL : &peer, &report, &applied);
        if (rc == CU_ERR_PARSE)
            rc = CU_OK;
        cu_free(text);
        text = NULL;
        if (!rc)
            (*replayed)++;
    }
    if (batch && !rc)
        rc = cu_gateway_reference_commit(batch, NULL);
    else
        cu_gateway_reference_abort(batch);
    cu_store *st = cu_pipeline_store(a->p);
    if (!rc && a->ref_changed)
        rc = cu_pipeline_ref_changed(a->p);
    if (!rc && a->ref_changed && st)
        rc = cu_store_put_reference(st, a->ref);
    pthread_mutex_unlock(&a->mu);
    if (!rc) {
        a->upd_seq = n;
        if (!(a->upd_dir = cu_strdup(cu_kept_dir(k))))
            rc = CU_ERR_NOMEM;
    }
    cu_free(text);
    cu_buf_free(&report);
    return rc;
}

cu_rc cu_events_api_with(cu_events_api *a, cu_rc (*fn)(cu_pipeline *p, void *ud), void *ud)
{
    pthread_mutex_lock(&a->mu);
    cu_rc rc = fn(a->p, ud);
    pthread_mutex_unlock(&a->mu);
    return rc;
}
