/* GET /v1/alerts and GET /v1/officers/{id}/risk: what the misuse detector
 * found, for investigators' tools.
 *
 * Invariants:
 * 1. Read-only.  Alerts come from the store (the latest state of each alert
 *    id, as the pipeline wrote it) through a connection of the api's own,
 *    used under the api's lock; risk comes from the pipeline's live
 *    detector, read under the ingest api's lock (the pipeline has one
 *    writer, and reading its detector while a batch runs would race).
 * 2. Every query argument is bounded and checked before use; a bad one is
 *    400 naming it.  Nothing from the request reaches SQL except as a bound
 *    parameter.
 * 3. Risk is as of the last event ingested (event time), never the wall
 *    clock: the detector's evidence decays in event time.
 */
#include "custos/server.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KIND 64

struct cu_detect_api {
    cu_store *store;
    cu_events_api *events;
    cu_http_auth_fn auth;
    void *auth_ud;
    pthread_mutex_t mu;
};

cu_rc cu_detect_api_new(const char *data_dir, cu_events_api *events, cu_http_auth_fn auth, void *auth_ud,
                        cu_detect_api **out)
{
    cu_detect_api *a = cu_calloc(1, sizeof *a);
    if (!a)
        return CU_ERR_NOMEM;
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/store.db", data_dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        cu_free(a);
        return cu_err_set(CU_ERR_RANGE, "data directory path too long");
    }
    cu_rc rc = cu_store_open(path, &a->store);
    if (rc) {
        cu_free(a);
        return rc;
    }
    a->events = events;
    a->auth = auth;
    a->auth_ud = auth_ud;
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return CU_OK;
}

void cu_detect_api_free(cu_detect_api *a)
{
    if (!a)
        return;
    cu_store_close(a->store);
    pthread_mutex_destroy(&a->mu);
    cu_free(a);
}

/* ---------------------------------------------------------------- alerts */

typedef struct alist_ctx {
    cu_buf *out;
    size_t n;
} alist_ctx;

static cu_rc put_alert(void *ud, const char *json)
{
    alist_ctx *c = ud;
    size_t len = strlen(json);
    while (len && (json[len - 1] == '\n' || json[len - 1] == '\r'))
        len--;
    cu_rc rc = c->n ? cu_buf_appends(c->out, ",") : CU_OK;
    if (!rc)
        rc = cu_buf_append(c->out, json, len);
    c->n++;
    return rc;
}

static bool id_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (!n || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return false;
    return true;
}

static void alerts_handle(void *ud, const cu_http_req *req, cu_http_resp *resp)
{
    cu_detect_api *a = ud;
    if (!a) {
        cu_http_error(resp, 503, "no data directory: custosd runs without --data");
        return;
    }
    if (a->auth && !a->auth(a->auth_ud, req)) {
        cu_http_error(resp, 401, "not authorised");
        return;
    }
    cu_store_alert_query q = {.since = INT64_MIN};
    const char *v;
    if ((v = cu_http_query(req, "since"))) {
        if (cu_time_parse(v, strlen(v), &q.since)) {
            cu_http_error(resp, 400, "since: not an RFC 3339 time");
            return;
        }
    }
    if ((v = cu_http_query(req, "min_score"))) {
        char *end;
        double s = strtod(v, &end);
        if (!*v || *end || !(s >= 0 && s <= 1)) {
            cu_http_error(resp, 400, "min_score: a number in [0, 1]");
            return;
        }
        q.min_score = s;
    }
    if ((v = cu_http_query(req, "kind"))) {
        if (!id_ok(v, MAX_KIND)) {
            cu_http_error(resp, 400, "kind: 1 to %d printable bytes", MAX_KIND);
            return;
        }
        q.kind = v;
    }
    if ((v = cu_http_query(req, "officer"))) {
        if (!id_ok(v, CU_ID_MAX_LEN)) {
            cu_http_error(resp, 400, "officer: 1 to %d printable bytes", CU_ID_MAX_LEN);
            return;
        }
        q.officer = v;
    }
    q.limit = 100;
    if ((v = cu_http_query(req, "limit"))) {
        char *end;
        long l = strtol(v, &end, 10);
        if (!*v || *end || l < 1 || l > CU_DETECT_API_MAX_LIMIT) {
            cu_http_error(resp, 400, "limit: 1 to %d", CU_DETECT_API_MAX_LIMIT);
            return;
        }
        q.limit = (uint32_t)l;
    }
    cu_buf_reset(&resp->body);
    alist_ctx c = {.out = &resp->body};
    cu_rc rc = cu_buf_appends(&resp->body, "{\"alerts\":[");
    pthread_mutex_lock(&a->mu);
    if (!rc)
        rc = cu_store_alerts_query(a->store, &q, put_alert, &c);
    pthread_mutex_unlock(&a->mu);
    if (!rc)
        rc = cu_buf_appendf(&resp->body, "],\"count\":%zu}\n", c.n);
    if (rc) {
        cu_http_error(resp, 500, "alerts: %s", cu_err_detail());
        return;
    }
    resp->status = 200;
}

/* ------------------------------------------------------------------ risk */

typedef struct risk_ctx {
    const char *officer;
    cu_risk risk;
    int64_t as_of;
    bool found;
} risk_ctx;

static cu_rc read_risk(cu_pipeline *p, void *ud)
{
    risk_ctx *r = ud;
    const cu_detect *d = cu_pipeline_detect(p);
    if (!d)
        return cu_err_set(CU_ERR_STATE, "the pipeline has not started");
    cu_id o = cu_names_find(cu_pipeline_names(p), CU_K_OFFICER, r->officer, strlen(r->officer));
    r->as_of = cu_pipeline_last_ts(p);
    if (o == CU_ID_NONE)
        return CU_OK;
    cu_rc rc = cu_detect_risk(d, o, r->as_of == INT64_MIN ? 0 : r->as_of, &r->risk);
    if (rc == CU_ERR_NOTFOUND)
        return CU_OK;
    if (!rc)
        r->found = true;
    return rc;
}

static json_t *jtime(int64_t t)
{
    char s[21];
    cu_time_format(t, s);
    return json_string(s);
}

static json_t *risk_json(const risk_ctx *r)
{
    json_t *j = json_object(), *h = json_array();
    if (!j || !h) {
        json_decref(j);
        json_decref(h);
        return NULL;
    }
    char num[32];
    snprintf(num, sizeof num, "A%llu", (unsigned long long)r->risk.alert_num);
    json_object_set_new(j, "officer", json_string(r->officer));
    json_object_set_new(j, "as_of", r->as_of == INT64_MIN ? json_null() : jtime(r->as_of));
    json_object_set_new(j, "score", json_real(round(r->risk.score * 10000) / 10000));
    json_object_set_new(j, "learning", json_boolean(r->risk.learning));
    json_object_set_new(j, "alert", r->risk.alert_num ? json_string(num) : json_null());
    json_t *g = json_array();
    for (uint32_t i = 0; g && i < r->risk.ngroups && i < 4; i++) {
        snprintf(num, sizeof num, "A%llu", (unsigned long long)r->risk.groups[i]);
        json_array_append_new(g, json_string(num));
    }
    json_object_set_new(j, "group_alerts", g ? g : json_array());
    for (uint32_t i = 0; i < r->risk.nhistory && i < CU_RISK_HISTORY; i++) {
        json_t *e = json_object();
        if (!e)
            break;
        json_object_set_new(e, "ts", jtime(r->risk.history[i].ts));
        json_object_set_new(e, "score", json_real(round(r->risk.history[i].score * 10000) / 10000));
        json_object_set_new(e, "reason", json_string(r->risk.history[i].reason));
        json_array_append_new(h, e);
    }
    json_object_set_new(j, "history", h);
    return j;
}

/* the {id} of /v1/officers/{id}/risk */
static bool officer_of_path(const char *path, char *out, size_t cap)
{
    static const char pre[] = "/v1/officers/", post[] = "/risk";
    size_t n = strlen(path);
    if (n <= sizeof pre - 1 + sizeof post - 1 || strncmp(path, pre, sizeof pre - 1) != 0 ||
        strcmp(path + n - (sizeof post - 1), post) != 0)
        return false;
    size_t len = n - (sizeof pre - 1) - (sizeof post - 1);
    if (len == 0 || len >= cap)
        return false;
    memcpy(out, path + sizeof pre - 1, len);
    out[len] = 0;
    return strchr(out, '/') == NULL && id_ok(out, CU_ID_MAX_LEN);
}

static void risk_handle(void *ud, const cu_http_req *req, cu_http_resp *resp)
{
    cu_detect_api *a = ud;
    if (!a || !a->events) {
        cu_http_error(resp, 503, "no live pipeline: custosd runs without --data");
        return;
    }
    if (a->auth && !a->auth(a->auth_ud, req)) {
        cu_http_error(resp, 401, "not authorised");
        return;
    }
    char officer[CU_ID_MAX_LEN + 1];
    if (!officer_of_path(req->path, officer, sizeof officer)) {
        cu_http_error(resp, 400, "officer id: 1 to %d printable bytes", CU_ID_MAX_LEN);
        return;
    }
    risk_ctx r = {.officer = officer};
    cu_rc rc = cu_events_api_with(a->events, read_risk, &r);
    if (rc) {
        cu_http_error(resp, rc == CU_ERR_STATE ? 503 : 500, "risk: %s", cu_err_detail());
        return;
    }
    if (!r.found) {
        cu_http_error(resp, 404, "officer %s is unknown to the detector", officer);
        return;
    }
    json_t *j = risk_json(&r);
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!txt) {
        cu_http_error(resp, 500, "out of memory");
        return;
    }
    cu_buf_reset(&resp->body);
    if (cu_buf_appends(&resp->body, txt) || cu_buf_appends(&resp->body, "\n"))
        cu_http_error(resp, 500, "response too large");
    else
        resp->status = 200;
    free(txt);
}

cu_rc cu_detect_api_register(cu_server *s, cu_detect_api *api)
{
    cu_rc rc = cu_server_route(s, "GET", "/v1/alerts", alerts_handle, api);
    if (!rc)
        rc = cu_server_route(s, "GET", "/v1/officers/{id}/risk", risk_handle, api);
    return rc;
}
