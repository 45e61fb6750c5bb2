/*
 * The gateway's HTTP API, transport-free: method, path, Authorization and
 * body in; status, content type and body out.  custosd's server routes hand
 * requests here (docs/gateway.md, docs/openapi.yaml).
 *
 * Invariants
 * 1. Every route is authenticated first; an unknown caller gets 401 and
 *    nothing else happens.
 * 2. Every error is JSON {"error": "..."} with a message a person can act on;
 *    a malformed body gets 400 and the daemon goes on serving.
 * 3. An authorize answer is sent only after its decision is in the log
 *    (gw_decide_timed); when the log failed, the answer is a deny.
 */
#include "gateway_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void err(cu_buf *out, int *status, int code, const char *fmt, ...) CU_PRINTF(4, 5);

static void err(cu_buf *out, int *status, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *status = code;
    cu_buf_reset(out);
    if (cu_buf_appends(out, "{\"error\":") || gw_json_str(out, msg) || cu_buf_appends(out, "}\n")) {
        /* bounded buffer: the message is cut */
    }
}

void cu_gateway_count_http_error(cu_gateway *g, int status)
{
    atomic_ullong *c = status == 400 ? &g->n_http_400 : status == 401 ? &g->n_http_401
                     : status == 404 ? &g->n_http_404 : status == 413 ? &g->n_http_413 : &g->n_http_other;
    atomic_fetch_add(c, 1);
}

/* A string member: absent or null gives NULL; another type is an error. */
static bool opt_str(json_t *o, const char *k, const char **out, cu_buf *b, int *status)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        *out = NULL;
        return true;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        err(b, status, 400, "\"%s\" must be a string", k);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static json_t *parse_body(const char *body, size_t len, cu_buf *out, int *status)
{
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        err(out, status, 400, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        err(out, status, 400, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* Returns true when the answer was deferred (df: cu_gateway_http_async). */
static bool authorize(cu_gateway *g, const char *caller, const char *body, size_t len, int64_t now, int *status,
                      cu_buf *out, const cu_gateway_defer *df)
{
    bool deferred = false;
    json_t *j = parse_body(body, len, out, status);
    if (!j)
        return false;
    cu_gateway_request r = {.caller = caller, .now = now};
    json_t *bg = json_object_get(j, "break_glass");
    if (!opt_str(j, "officer", &r.officer, out, status) || !opt_str(j, "action", &r.action, out, status) ||
        !opt_str(j, "record", &r.record, out, status) || !opt_str(j, "system", &r.system, out, status) ||
        !opt_str(j, "purpose", &r.purpose, out, status) || !opt_str(j, "case", &r.case_id, out, status))
        goto done;
    if (bg && !json_is_null(bg)) {
        if (!json_is_object(bg) || !opt_str(bg, "justification", &r.justification, out, status) || !r.justification) {
            if (*status != 400)
                err(out, status, 400, "break_glass must be {\"justification\": \"...\"}");
            goto done;
        }
        size_t k = 0;
        while (r.justification[k] == ' ')
            k++;
        if (!r.justification[k]) {
            err(out, status, 400, "break-glass needs a justification");
            goto done;
        }
    }
    if (!r.officer || !r.action || !r.purpose) {
        err(out, status, 400, "officer, action and purpose are required");
        goto done;
    }
    cu_gateway_decision d;
    cu_rc rc;
    if (df) {
        /* answered by the log's completion (deferred) or in place (OK) */
        if ((rc = gw_decide_async(g, &r, status, out, df, &deferred)) == CU_OK)
            goto done;
    } else {
        rc = gw_decide_timed(g, &r, &d);
    }
    if (rc == CU_ERR_INVAL) {
        err(out, status, 400, "%s", cu_err_detail());
    } else if (rc) {
        err(out, status, 503, "decision failed: %s: %s", cu_strerror(rc), cu_err_detail());
    } else {
        *status = d.audited ? 200 : 503;
        if (cu_gateway_decision_json(&d, out))
            err(out, status, 500, "answer too large");
    }
done:
    json_decref(j);
    return deferred;
}

static void review(cu_gateway *g, const char *path_id, const char *body, size_t len, int64_t now, int *status,
                   cu_buf *out)
{
    char *end;
    unsigned long long id = strtoull(path_id, &end, 10);
    if (!*path_id || strcmp(end, "/review") != 0) {
        err(out, status, 404, "no such route");
        return;
    }
    json_t *j = parse_body(body, len, out, status);
    if (!j)
        return;
    const char *reviewer, *outcome, *note;
    if (opt_str(j, "reviewer", &reviewer, out, status) && opt_str(j, "outcome", &outcome, out, status) &&
        opt_str(j, "note", &note, out, status)) {
        uint64_t idx = 0;
        cu_rc rc = cu_gateway_breakglass_review(g, id, reviewer, outcome, note, now, &idx);
        if (rc == CU_OK) {
            *status = 200;
            if (cu_buf_appendf(out, "{\"closed\":%llu,\"ledger_index\":%" PRIu64 "}\n", id, idx))
                err(out, status, 500, "answer too large");
        } else {
            int code = rc == CU_ERR_NOTFOUND ? 404 : rc == CU_ERR_DENIED ? 403 : rc == CU_ERR_INVAL ? 400 : 503;
            err(out, status, code, "%s", cu_err_detail());
        }
    }
    json_decref(j);
}

static void reference(cu_gateway *g, const char *body, size_t len, int *status, cu_buf *out)
{
    cu_buf report;
    cu_buf_init(&report, 16 * 1024);
    size_t applied = 0;
    uint64_t version = 0;
    cu_rc rc = cu_gateway_reference_update_with(g, body, len, "body", g->ref_peer.check ? &g->ref_peer : NULL, &report,
                                                &applied, &version);
    if (rc == CU_OK) {
        atomic_fetch_add(&g->n_ref_updates, 1);
        *status = 200;
        rc = cu_buf_appendf(out, "{\"version\":%" PRIu64 ",\"applied\":%zu,\"rejected\":[", version, applied);
    } else if (rc == CU_ERR_PARSE) {
        *status = 400;
        rc = cu_buf_appends(out, "{\"error\":\"no line could be taken\",\"rejected\":[");
    } else {
        err(out, status, 503, "reference update failed: %s: %s", cu_strerror(rc), cu_err_detail());
        cu_buf_free(&report);
        return;
    }
    bool first = true;
    for (char *p = report.data; !rc && p && *p;) {
        char *e = strchr(p, '\n');
        if (e)
            *e = '\0';
        if (!first)
            rc = cu_buf_append(out, ",", 1);
        if (!rc)
            rc = gw_json_str(out, p);
        first = false;
        p = e ? e + 1 : NULL;
    }
    if (!rc)
        rc = cu_buf_appends(out, "]}\n");
    if (rc)
        err(out, status, 500, "answer too large");
    cu_buf_free(&report);
}

static bool http(cu_gateway *g, const char *method, const char *path, const char *authorization,
                 const char *client_cert, const char *body,
                 size_t body_len, int64_t now, int *status, const char **ctype, cu_buf *out,
                 const cu_gateway_defer *df)
{
    bool deferred = false;
    char caller[CU_GATEWAY_MAX_ID + 1];
    bool reviewer = false;
    *ctype = "application/json";
    *status = 200;
    if (cu_gateway_authenticate(g, authorization, client_cert, caller, &reviewer)) {
        err(out, status, 401, "unauthorised: %s", cu_err_detail());
    } else if (strcmp(path, "/metrics") == 0) {
        if (strcmp(method, "GET"))
            err(out, status, 405, "use GET");
        else if (cu_gateway_metrics(g, out))
            err(out, status, 500, "metrics too large");
        else
            *ctype = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    } else if (strcmp(path, "/v1/authorize") == 0) {
        if (strcmp(method, "POST"))
            err(out, status, 405, "use POST");
        else
            deferred = authorize(g, caller, body, body_len, now, status, out, df);
    } else if (strcmp(path, "/v1/breakglass") == 0) {
        if (strcmp(method, "GET"))
            err(out, status, 405, "use GET");
        else if (cu_gateway_breakglass_json(g, now, out))
            err(out, status, 500, "answer too large");
    } else if (strncmp(path, "/v1/breakglass/", 15) == 0) {
        if (strcmp(method, "POST"))
            err(out, status, 405, "use POST");
        else if (!reviewer)
            err(out, status, 403, "caller %s may not review break-glass (not a reviewer)", caller);
        else
            review(g, path + 15, body, body_len, now, status, out);
    } else if (strcmp(path, "/v1/reference") == 0) {
        if (strcmp(method, "POST") == 0)
            reference(g, body, body_len, status, out);
        else if (strcmp(method, "GET") == 0) {
            if (cu_buf_appendf(out, "{\"version\":%" PRIu64 "}\n", cu_gateway_reference_version(g)))
                err(out, status, 500, "answer too large");
        } else
            err(out, status, 405, "use GET or POST");
    } else {
        err(out, status, 404, "no such route: %s", path);
    }
    if (deferred)
        return true; /* counted by the completion */
    if (*status >= 400)
        cu_gateway_count_http_error(g, *status);
    return false;
}

void cu_gateway_http(cu_gateway *g, const char *method, const char *path, const char *authorization,
                     const char *client_cert, const char *body, size_t body_len, int64_t now, int *status, const char **ctype, cu_buf *out)
{
    (void)http(g, method, path, authorization, client_cert, body, body_len, now, status, ctype, out, NULL);
}

bool cu_gateway_http_async(cu_gateway *g, const char *method, const char *path, const char *authorization,
                           const char *client_cert, const char *body, size_t body_len, int64_t now, int *status, const char **ctype,
                           cu_buf *out, const cu_gateway_defer *df)
{
    bool can = df && (g->audit.submit_decision || (g->audit.submit && !g->audit.append_decision));
    return http(g, method, path, authorization, client_cert, body, body_len, now, status, ctype, out, can ? df : NULL);
}

/* ---------------------------------------------------------------- metrics */

cu_rc cu_gateway_metrics(cu_gateway *g, cu_buf *b)
{
    static const char *const le[GW_LAT_BUCKETS] = {"0.000001", "0.000002", "0.000005", "0.00001", "0.000025",
                                                   "0.00005",  "0.0001",   "0.00025",  "0.0005",  "0.001",
                                                   "0.0025",   "0.005",    "0.01",     "0.05"};
    cu_rc rc = cu_buf_appendf(
        b,
        "# TYPE custos_gateway_decisions counter\n"
        "# HELP custos_gateway_decisions Decisions answered, by outcome.\n"
        "custos_gateway_decisions_total{outcome=\"allow\"} %llu\n"
        "custos_gateway_decisions_total{outcome=\"deny\"} %llu\n"
        "custos_gateway_decisions_total{outcome=\"break-glass-available\"} %llu\n"
        "# TYPE custos_gateway_break_glass counter\n"
        "# HELP custos_gateway_break_glass Decisions allowed through the emergency tier.\n"
        "custos_gateway_break_glass_total %llu\n"
        "# TYPE custos_gateway_flagged counter\n"
        "# HELP custos_gateway_flagged Decisions whose evaluation had errors.\n"
        "custos_gateway_flagged_total %llu\n"
        "# TYPE custos_gateway_audit_failures counter\n"
        "# HELP custos_gateway_audit_failures Log appends that failed (each answered deny).\n"
        "custos_gateway_audit_failures_total %llu\n"
        "# TYPE custos_gateway_http_errors counter\n"
        "# HELP custos_gateway_http_errors Requests refused, by status.\n"
        "custos_gateway_http_errors_total{status=\"400\"} %llu\n"
        "custos_gateway_http_errors_total{status=\"401\"} %llu\n"
        "custos_gateway_http_errors_total{status=\"404\"} %llu\n"
        "custos_gateway_http_errors_total{status=\"413\"} %llu\n"
        "custos_gateway_http_errors_total{status=\"other\"} %llu\n"
        "# TYPE custos_gateway_policy_version gauge\n"
        "# HELP custos_gateway_policy_version The policy pack in force (1: the one loaded at start).\n"
        "custos_gateway_policy_version %llu\n"
        "# TYPE custos_gateway_policy_changes counter\n"
        "# HELP custos_gateway_policy_changes Policy packs put in force, and refused (the pack in force stayed).\n"
        "custos_gateway_policy_changes_total{result=\"in_force\"} %llu\n"
        "custos_gateway_policy_changes_total{result=\"refused\"} %llu\n"
        "# TYPE custos_gateway_reference_updates counter\n"
        "custos_gateway_reference_updates_total %llu\n"
        "# TYPE custos_gateway_reference_version gauge\n"
        "custos_gateway_reference_version %llu\n"
        "# TYPE custos_gateway_break_glass_open gauge\n"
        "custos_gateway_break_glass_open %zu\n"
        "# TYPE custos_gateway_ledger_entries gauge\n"
        "# HELP custos_gateway_ledger_entries Entries committed to the ledger.\n"
        "custos_gateway_ledger_entries %llu\n"
        "# TYPE custos_gateway_decision_seconds histogram\n"
        "# HELP custos_gateway_decision_seconds Time to decide and log, seconds.\n",
        (unsigned long long)g->n_allow, (unsigned long long)g->n_deny, (unsigned long long)g->n_bga,
        (unsigned long long)g->n_breakglass, (unsigned long long)g->n_flagged,
        (unsigned long long)g->n_audit_fail, (unsigned long long)g->n_http_400,
        (unsigned long long)g->n_http_401, (unsigned long long)g->n_http_404, (unsigned long long)g->n_http_413,
        (unsigned long long)g->n_http_other, (unsigned long long)cu_gateway_policies_version(g, NULL),
        (unsigned long long)g->n_pack_changes, (unsigned long long)g->n_pack_refused,
        (unsigned long long)g->n_ref_updates,
        (unsigned long long)cu_gateway_reference_version(g), cu_gateway_breakglass_open(g),
        (unsigned long long)(g->audit.size ? g->audit.size(g->audit.ud) : 0));
    unsigned long long cum = 0;
    for (int i = 0; !rc && i < GW_LAT_BUCKETS; i++) {
        cum += g->lat[i];
        rc = cu_buf_appendf(b, "custos_gateway_decision_seconds_bucket{le=\"%s\"} %llu\n", le[i], cum);
    }
    cum += g->lat[GW_LAT_BUCKETS];
    if (!rc)
        rc = cu_buf_appendf(b,
                            "custos_gateway_decision_seconds_bucket{le=\"+Inf\"} %llu\n"
                            "custos_gateway_decision_seconds_sum %.9f\n"
                            "custos_gateway_decision_seconds_count %llu\n",
                            cum, (double)g->lat_sum_ns / 1e9, (unsigned long long)g->lat_count);
    if (!rc && g->metrics_more)
        rc = g->metrics_more(g->metrics_more_ud, b);
    if (!rc)
        rc = cu_buf_appends(b, "# EOF\n");
    return rc;
}

void cu_gateway_set_metrics_more(cu_gateway *g, cu_gateway_metrics_fn fn, void *ud)
{
    g->metrics_more = fn;
    g->metrics_more_ud = ud;
}
