/*
 * The governance HTTP API (docs/governance.md), independent of the
 * transport: custosd's route handler passes method, path, a query lookup,
 * the body and the request's time.  Bodies are JSON objects (at most
 * CU_GOV_MAX_LINE bytes); answers are JSON; every error is {"error": "..."}
 * with a status from the result code (400 bad input, 403 separation of
 * duties, 404 unknown, 409 state, 503 the ledger or the database failed).
 * The acting person is never taken from the request: it is the
 * authenticated person the transport passes in (a console account's
 * officer, or a bearer token mapped to a person).  A body naming another
 * actor is refused, not silently rewritten, so a forged request shows up as
 * a 403 in the caller's audit; a system caller (no person) only reads.
 */
#include "governance/gov_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int status_of(cu_rc rc)
{
    switch (rc) {
    case CU_OK: return 200;
    case CU_ERR_INVAL: case CU_ERR_PARSE: case CU_ERR_TYPE: case CU_ERR_TOOBIG: case CU_ERR_RANGE: return 400;
    case CU_ERR_DENIED: return 403;
    case CU_ERR_NOTFOUND: return 404;
    case CU_ERR_STATE: case CU_ERR_EXISTS: return 409;
    default: return 503;
    }
}

static void error_json(int *status, cu_buf *out, int st, const char *msg)
{
    *status = st;
    json_t *o = json_pack("{s:s}", "error", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    cu_buf_reset(out);
    if (!s || cu_buf_appends(out, s))
        cu_buf_reset(out);
    free(s);
    json_decref(o);
}

static void fail_rc(int *status, cu_buf *out, cu_rc rc)
{
    char msg[1200];
    const char *d = cu_err_detail();
    snprintf(msg, sizeof msg, "%s%s%s", cu_strerror(rc), d[0] ? ": " : "", d);
    error_json(status, out, status_of(rc), msg);
}

/* Body fields.  A wrong type is a 400 with the field named. */
static cu_rc want_str(json_t *b, const char *k, bool required, const char **out)
{
    json_t *v = json_object_get(b, k);
    *out = NULL;
    if (!v || json_is_null(v))
        return required ? cu_err_set(CU_ERR_INVAL, "\"%s\" is required", k) : CU_OK;
    if (!json_is_string(v))
        return cu_err_set(CU_ERR_TYPE, "\"%s\" must be a string", k);
    *out = json_string_value(v);
    return CU_OK;
}

static cu_rc want_time(json_t *b, const char *k, bool required, int64_t *out)
{
    const char *s;
    cu_rc rc = want_str(b, k, required, &s);
    *out = 0;
    if (rc || !s)
        return rc;
    if (gov_parse_time(s, out))
        return cu_err_set(CU_ERR_INVAL, "\"%s\": bad date \"%.40s\" (YYYY-MM-DD or RFC 3339)", k, s);
    return CU_OK;
}

static cu_rc want_int(json_t *b, const char *k, bool required, int64_t *out)
{
    json_t *v = json_object_get(b, k);
    *out = 0;
    if (!v || json_is_null(v))
        return required ? cu_err_set(CU_ERR_INVAL, "\"%s\" is required", k) : CU_OK;
    if (!json_is_integer(v))
        return cu_err_set(CU_ERR_TYPE, "\"%s\" must be an integer", k);
    *out = json_integer_value(v);
    return CU_OK;
}

static cu_rc want_level(json_t *b, const char *k, bool required, int *out)
{
    const char *s;
    cu_rc rc = want_str(b, k, required, &s);
    *out = CU_GOV_NONE;
    if (rc || !s)
        return rc;
    return cu_gov_level_parse(s, out);
}

static void ok_obj(int *status, cu_buf *out, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!s || cu_buf_appends(out, s)) {
        free(s);
        error_json(status, out, 500, "out of memory");
        return;
    }
    free(s);
    *status = 200;
}

/* The body may repeat the authenticated person in "actor", "reporter" or
 * "manager" (older clients did); naming anyone else is refused. */
static cu_rc same_person(json_t *b, const char *person)
{
    static const char *const keys[] = {"actor", "reporter", "manager"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(b, keys[i]);
        if (v && !json_is_null(v) && (!json_is_string(v) || strcmp(json_string_value(v), person) != 0))
            return cu_err_set(CU_ERR_DENIED,
                              "\"%s\" in the body is not the authenticated person (%s): the actor is who is logged in",
                              keys[i], person);
    }
    return CU_OK;
}

static void post(cu_gov *g, const char *actor, const char *what, json_t *b, int64_t now, int *status, cu_buf *out)
{
    cu_rc rc = CU_OK;
    const char *officer = NULL, *reason = NULL;
    if ((rc = same_person(b, actor))) {
        fail_rc(status, out, rc);
        return;
    }
    json_t *ans = NULL;
    if (strcmp(what, "staff") == 0) {
        cu_gov_staff s = {0};
        if (!(rc = want_str(b, "officer", true, &s.officer)) && !(rc = want_str(b, "unit", true, &s.unit)) &&
            !(rc = want_str(b, "manager", false, &s.manager)) &&
            !(rc = want_time(b, "integrity_review", false, &s.integrity_due)) &&
            !(rc = want_time(b, "start", false, &s.start)) && !(rc = want_time(b, "end", false, &s.end)) &&
            !(rc = want_str(b, "reason", false, &reason)))
            rc = cu_gov_set_staff(g, actor, &s, reason, now);
    } else if (strcmp(what, "clearances") == 0) {
        cu_gov_clearance c = {0};
        if (!(rc = want_str(b, "officer", true, &c.officer)) && !(rc = want_level(b, "level", true, &c.level)) &&
            !(rc = want_time(b, "granted", true, &c.granted)) && !(rc = want_time(b, "expires", true, &c.expires)) &&
            !(rc = want_time(b, "review", false, &c.review)) && !(rc = want_str(b, "reason", false, &reason)))
            rc = cu_gov_grant(g, actor, &c, reason, now);
    } else if (strcmp(what, "clearances/suspend") == 0 || strcmp(what, "clearances/withdraw") == 0 ||
               strcmp(what, "clearances/reinstate") == 0) {
        int level = 0;
        int st = what[11] == 's' ? CU_GOV_SUSPENDED : what[11] == 'w' ? CU_GOV_WITHDRAWN : CU_GOV_ACTIVE;
        if (!(rc = want_str(b, "officer", true, &officer)) && !(rc = want_level(b, "level", false, &level)) &&
            !(rc = want_str(b, "reason", true, &reason)))
            rc = cu_gov_set_status(g, actor, officer, level, st, reason, now);
    } else if (strcmp(what, "entitlements") == 0) {
        cu_gov_entitlement e = {0};
        json_t *sens = json_object_get(b, "sensitive");
        int64_t id = 0;
        if (!(rc = want_str(b, "officer", true, &e.officer)) && !(rc = want_str(b, "system", true, &e.system)) &&
            !(rc = want_str(b, "caveat", false, &e.caveat)) && !(rc = want_str(b, "scope", true, &e.scope)) &&
            !(rc = want_str(b, "purpose", true, &e.purpose)) && !(rc = want_level(b, "requires", false, &e.requires)) &&
            !(rc = want_str(b, "reason", false, &reason))) {
            if (sens && !json_is_boolean(sens))
                rc = cu_err_set(CU_ERR_TYPE, "\"sensitive\" must be true or false");
            e.sensitive = sens ? json_is_true(sens) : (e.caveat && *e.caveat);
            if (!rc && !(rc = cu_gov_entitle(g, actor, &e, reason, now, &id)))
                ans = json_pack("{s:I}", "id", (json_int_t)id);
        }
    } else if (strcmp(what, "entitlements/revoke") == 0) {
        int64_t id;
        if (!(rc = want_int(b, "id", true, &id)) && !(rc = want_str(b, "reason", true, &reason)))
            rc = cu_gov_revoke(g, actor, id, reason, now);
    } else if (strcmp(what, "reviews") == 0) {
        const char *kind;
        int64_t due, id = 0;
        json_t *r = json_object_get(b, "restrict");
        if (!(rc = want_str(b, "officer", true, &officer)) && !(rc = want_str(b, "kind", true, &kind)) &&
            !(rc = want_time(b, "due", true, &due)) && !(rc = want_str(b, "reason", false, &reason)) &&
            !(rc = cu_gov_review_open(g, actor, officer, kind, due, json_is_true(r), reason, now, &id)))
            ans = json_pack("{s:I}", "id", (json_int_t)id);
    } else if (strcmp(what, "reviews/close") == 0) {
        const char *outcome, *note;
        int64_t id;
        if (!(rc = want_int(b, "id", true, &id)) && !(rc = want_str(b, "outcome", true, &outcome)) &&
            !(rc = want_str(b, "note", false, &note)))
            rc = cu_gov_review_close(g, actor, id, outcome, note, now);
    } else if (strcmp(what, "aftercare") == 0) {
        const char *kind, *detail, *reporter = actor;
        int64_t due, id = 0;
        if (!(rc = want_str(b, "officer", true, &officer)) &&
            !(rc = want_str(b, "kind", true, &kind)) && !(rc = want_str(b, "detail", false, &detail)) &&
            !(rc = want_time(b, "due", false, &due)) &&
            !(rc = cu_gov_aftercare(g, reporter, officer, kind, detail, due, json_is_true(json_object_get(b, "restrict")),
                                    now, &id)))
            ans = json_pack("{s:I}", "review", (json_int_t)id);
    } else if (strcmp(what, "campaigns") == 0) {
        const char *name;
        int64_t deadline, id = 0;
        size_t items = 0;
        if (!(rc = want_str(b, "name", true, &name)) && !(rc = want_time(b, "deadline", true, &deadline)) &&
            !(rc = cu_gov_campaign_start(g, actor, name, deadline, now, &id, &items)))
            ans = json_pack("{s:I,s:I}", "id", (json_int_t)id, "items", (json_int_t)items);
    } else if (strcmp(what, "campaigns/confirm") == 0) {
        const char *manager = actor;
        int64_t campaign, ent;
        size_t n = 0;
        if (!(rc = want_int(b, "campaign", true, &campaign)) &&
            !(rc = want_int(b, "entitlement", false, &ent)) && !(rc = want_str(b, "officer", false, &officer)) &&
            !(rc = cu_gov_campaign_confirm(g, manager, campaign, ent, officer, now, &n)))
            ans = json_pack("{s:I}", "confirmed", (json_int_t)n);
    } else if (strcmp(what, "campaigns/close") == 0) {
        int64_t campaign;
        size_t n = 0;
        if (!(rc = want_int(b, "campaign", true, &campaign)) &&
            !(rc = cu_gov_campaign_close(g, actor, campaign, now, &n)))
            ans = json_pack("{s:I}", "lapsed", (json_int_t)n);
    } else if (strcmp(what, "draw") == 0) {
        const char *seedtxt;
        int64_t count, due, id = 0;
        if (!(rc = want_str(b, "seed", true, &seedtxt)) && !(rc = want_int(b, "count", true, &count)) &&
            !(rc = want_time(b, "due", true, &due))) {
            char *end;
            unsigned long long seed = strtoull(seedtxt, &end, 10);
            if (!*seedtxt || *end || seedtxt[0] == '-')
                rc = cu_err_set(CU_ERR_INVAL, "\"seed\" must be a decimal unsigned 64-bit number in a string");
            else if (count <= 0)
                rc = cu_err_set(CU_ERR_INVAL, "\"count\" must be positive");
            cu_buf sel;
            cu_buf_init(&sel, (size_t)CU_GOV_DRAW_MAX * (CU_GOV_MAX_ID + 1));
            if (!rc && !(rc = cu_gov_draw(g, actor, seed, (size_t)count, due, now, &id, &sel)))
                ans = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "seed", seedtxt, "selection",
                                sel.data ? sel.data : "");
            cu_buf_free(&sel);
        }
    } else {
        error_json(status, out, 404, "no such governance route");
        return;
    }
    if (rc) {
        fail_rc(status, out, rc);
        json_decref(ans);
        return;
    }
    ok_obj(status, out, ans ? ans : json_pack("{s:b}", "ok", 1));
}

static const cu_gov_route ROUTES[] = {
    {"GET", "/v1/governance/report"},
    {"GET", "/v1/governance/officers/{id}"},
    {"GET", "/v1/governance/officers/{id}/history"},
    {"POST", "/v1/governance/staff"},
    {"POST", "/v1/governance/clearances"},
    {"POST", "/v1/governance/clearances/suspend"},
    {"POST", "/v1/governance/clearances/withdraw"},
    {"POST", "/v1/governance/clearances/reinstate"},
    {"POST", "/v1/governance/entitlements"},
    {"POST", "/v1/governance/entitlements/revoke"},
    {"POST", "/v1/governance/reviews"},
    {"POST", "/v1/governance/reviews/close"},
    {"POST", "/v1/governance/aftercare"},
    {"POST", "/v1/governance/campaigns"},
    {"POST", "/v1/governance/campaigns/confirm"},
    {"POST", "/v1/governance/campaigns/close"},
    {"POST", "/v1/governance/draw"},
};

size_t cu_gov_routes(const cu_gov_route **out)
{
    *out = ROUTES;
    return sizeof ROUTES / sizeof ROUTES[0];
}

static const char SYSTEM_REFUSED[] =
    "a system caller may not act as, or read the audit trail of, a person: log in to the console, or map "
    "the token to a person (custosd --gov-person NAME=OFFICER)";

void cu_gov_http(cu_gov *g, const char *person, const char *method, const char *path, cu_gov_query_fn query,
                 void *qud, const char *body, size_t body_len, int64_t now, int *status, cu_buf *out)
{
    if (person && !*person)
        person = NULL;
    static const char PREFIX[] = "/v1/governance/";
    cu_err_clear();
    if (strncmp(path, PREFIX, sizeof PREFIX - 1) != 0) {
        error_json(status, out, 404, "no such governance route");
        return;
    }
    const char *what = path + sizeof PREFIX - 1;
    if (strcmp(method, "GET") == 0) {
        const char *at = query ? query(qud, "at") : NULL;
        int64_t t = now;
        if (at && *at && gov_parse_time(at, &t)) {
            error_json(status, out, 400, "\"at\": bad date (YYYY-MM-DD or RFC 3339)");
            return;
        }
        if (strcmp(what, "report") == 0) {
            cu_gov_report r;
            cu_rc rc = cu_gov_report_make(g, t, &r);
            if (!rc) {
                rc = cu_gov_report_json(&r, out);
                cu_gov_report_free(&r);
            }
            if (rc)
                fail_rc(status, out, rc);
            else
                *status = 200;
            return;
        }
        if (strncmp(what, "officers/", 9) == 0) {
            char id[CU_GOV_MAX_ID + 1];
            const char *rest = what + 9, *slash = strchr(rest, '/');
            size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
            if (n == 0 || n > CU_GOV_MAX_ID) {
                error_json(status, out, 400, "bad officer id in the path");
                return;
            }
            memcpy(id, rest, n);
            id[n] = '\0';
            cu_rc rc;
            if (!slash) {
                cu_gov_effective e;
                cu_gov_effective_get(g, id, t, &e);
                rc = cu_gov_effective_json(&e, id, out);
            } else if (strcmp(slash, "/history") == 0) {
                const char *qa = query ? query(qud, "actor") : NULL;
                if (!person) {
                    error_json(status, out, 403, SYSTEM_REFUSED);
                    return;
                }
                if (qa && *qa && strcmp(qa, person) != 0) {
                    error_json(status, out, 403, "\"actor\" in the query is not the authenticated person");
                    return;
                }
                rc = cu_gov_history_json(g, person, id, out);
            } else {
                error_json(status, out, 404, "no such governance route");
                return;
            }
            if (rc)
                fail_rc(status, out, rc);
            else
                *status = 200;
            return;
        }
        error_json(status, out, 404, "no such governance route");
        return;
    }
    if (strcmp(method, "POST") != 0) {
        error_json(status, out, 405, "method not allowed");
        return;
    }
    if (body_len > CU_GOV_MAX_LINE) {
        error_json(status, out, 413, "body too large");
        return;
    }
    json_error_t je;
    json_t *b = json_loadb(body ? body : "", body_len, JSON_REJECT_DUPLICATES, &je);
    if (!b || !json_is_object(b)) {
        char msg[256];
        snprintf(msg, sizeof msg, "the body must be a JSON object%s%s", b ? "" : ": ", b ? "" : je.text);
        json_decref(b);
        error_json(status, out, 400, msg);
        return;
    }
    bool known = false;
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++)
        known = known || (strcmp(ROUTES[i].method, "POST") == 0 && strcmp(ROUTES[i].path, path) == 0);
    if (!known) {
        json_decref(b);
        error_json(status, out, 404, "no such governance route");
        return;
    }
    if (!person) {
        json_decref(b);
        error_json(status, out, 403, SYSTEM_REFUSED);
        return;
    }
    post(g, person, what, b, now, status, out);
    json_decref(b);
}
