/*
 * The console's governance routes: /v1/console/governance/... is the
 * governance API (docs/governance.md) done as the logged-in person.
 *
 * Invariants:
 * 1. The actor is the session's account's officer id, never the request's:
 *    cu_gov_http is given that person and refuses a body naming anyone else,
 *    so separation of duties ("no one acts on their own record") rests on
 *    the login, not on what the caller asserts.
 * 2. An account not linked to an officer may read reports (counts by unit)
 *    but not act or read a person's trail (403).
 * 3. The route table (console.c) decides the roles; the request cycle has
 *    already checked the session, Origin and CSRF token, and audits the
 *    request in the ledger.  A governance action appends its own ledger
 *    entry (durable) before the console's record: if the console's append
 *    then fails the answer is 503 but the action stands, with its entry.
 */
#include "console_int.h"

#include <stdio.h>
#include <string.h>

static const char *gov_query(void *ud, const char *name)
{
    return cx_query(ud, name);
}

/* GET .../report?format=csv: the report as the CLI's CSV, as a download. */
static void report_csv(ctx *x)
{
    const char *at = cx_query(x, "at");
    int64_t t = x->now;
    char tmp[40];
    if (at && *at) {
        /* a date is its first second (UTC), as the CLI takes it */
        size_t n = strlen(at);
        int w = snprintf(tmp, sizeof tmp, n == 10 ? "%sT00:00:00Z" : "%s", at);
        if (w < 0 || (size_t)w >= sizeof tmp || cu_time_parse(tmp, strlen(tmp), &t)) {
            cx_error(x, 400, "\"at\": bad date (YYYY-MM-DD or RFC 3339)");
            return;
        }
    }
    cu_gov_report r;
    cu_rc rc = cu_gov_report_make(x->c->o.gov, t, &r);
    if (rc) {
        cx_error(x, 503, "report: %s", cu_err_detail());
        return;
    }
    cu_buf_reset(x->resp->body);
    rc = cu_gov_report_csv(&r, x->resp->body);
    cu_gov_report_free(&r);
    if (rc) {
        cx_error(x, 500, "report: %s", cu_err_detail());
        return;
    }
    char day[21];
    cu_time_format(t, day);
    day[10] = '\0';
    x->resp->status = 200;
    x->resp->content_type = "text/csv; charset=utf-8";
    size_t used = strlen(x->resp->headers);
    snprintf(x->resp->headers + used, sizeof x->resp->headers - used,
             "Content-Disposition: attachment; filename=\"vetting-report-%s.csv\"\r\n", day);
    snprintf(x->action, sizeof x->action, "governance report at %s (CSV)", day);
}

void h_gov(ctx *x)
{
    static const char CPREFIX[] = "/v1/console/governance/";
    if (!x->c->o.gov) {
        cx_error(x, 501, "no vetting register: custosd serves it with --data");
        return;
    }
    const char *what = x->req->path + sizeof CPREFIX - 1;
    bool get = strcmp(x->req->method, "GET") == 0;
    if (get && strcmp(what, "report") == 0) {
        const char *fmt = cx_query(x, "format");
        if (fmt && strcmp(fmt, "csv") == 0) {
            report_csv(x);
            return;
        }
        if (fmt && *fmt && strcmp(fmt, "json") != 0) {
            cx_error(x, 400, "\"format\": json or csv");
            return;
        }
    } else if (!x->s.officer[0]) {
        cx_error(x, 403, "account %s is not linked to an officer id: it may read reports only"
                         " (custos account add --officer ID)", x->s.user);
        return;
    }
    char path[256];
    if (snprintf(path, sizeof path, "/v1/governance/%s", what) >= (int)sizeof path) {
        cx_error(x, 404, "no such governance route");
        return;
    }
    int status = 500;
    cu_buf_reset(x->resp->body);
    cu_gov_http(x->c->o.gov, x->s.officer[0] ? x->s.officer : NULL, x->req->method, path, gov_query, x,
                x->req->body, x->req->body ? x->req->body_len : 0, x->now, &status, x->resp->body);
    x->resp->status = status;
    x->resp->content_type = "application/json";
    if (!get)
        snprintf(x->action, sizeof x->action, "governance %s as %s: %d", what, x->s.officer, status);
}
