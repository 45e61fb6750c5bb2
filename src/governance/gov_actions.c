/*
 * Governance actions: clearances, staff, entitlements, reviews, aftercare,
 * detection risk, recertification campaigns and the re-vetting draw.
 *
 * Each action checks its inputs and separation of duties before it takes
 * the action mutex, then runs in one frame (gov.c): its statements and
 * history rows, the ledger entry, COMMIT, cache refresh.  An error anywhere
 * rolls everything back and leaves the cache as it was.
 */
#include "governance/gov_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void J_STR(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v ? json_string(v) : json_null());
}
#define J_INT(o, k, v) json_object_set_new((o), (k), json_integer(v))

static bool one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

/* Run the frame's end: finish (ledger + commit) when the action's own
 * statements succeeded, refresh the cache for officer (NULL: everyone),
 * unlock. */
static cu_rc frame_end(cu_gov *g, cu_rc rc, const struct gov_act *a, const char *refresh)
{
    if (!rc && refresh)
        rc = gov_cache_reserve(g, refresh);
    if (!rc)
        rc = gov_finish(g, a);
    if (!rc) {
        if (refresh)
            (void)gov_cache_refresh(g, refresh);
        else
            (void)gov_cache_refresh_all(g);
    }
    gov_end(g, rc);
    return rc;
}

/* ------------------------------------------------------------ staff */

cu_rc cu_gov_set_staff(cu_gov *g, const char *actor, const cu_gov_staff *s, const char *reason, int64_t now)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)) || (rc = gov_check_id("officer", s->officer)) ||
        (rc = gov_check_id("unit", s->unit)) || (s->manager && *s->manager && (rc = gov_check_id("manager", s->manager))) ||
        (rc = gov_check_text("reason", reason, false)))
        return rc;
    if (s->manager && strcmp(s->manager, s->officer) == 0)
        return cu_err_set(CU_ERR_INVAL, "%s cannot be their own line manager", s->officer);
    if (s->end && s->start && s->end != INT64_MAX && s->end <= s->start)
        return cu_err_set(CU_ERR_INVAL, "service of %s ends before it starts", s->officer);
    if ((rc = gov_not_self(actor, s->officer, "staff record")))
        return rc;
    json_t *d = json_object();
    if (!d)
        return CU_ERR_NOMEM;
    J_STR(d, "unit", s->unit);
    J_STR(d, "manager", s->manager && *s->manager ? s->manager : NULL);
    json_object_set_new(d, "integrity_review", gov_json_time(s->integrity_due));
    json_object_set_new(d, "start", gov_json_time(s->start));
    json_object_set_new(d, "end", gov_json_time(s->end));
    struct gov_act a = {"staff.set", actor, s->officer, s->unit, reason, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    sqlite3_stmt *st;
    if (!(rc = gov_prep(g, &st, "INSERT OR REPLACE INTO gov_staff(officer, unit, manager, integrity_due, start, end_)"
                                " VALUES(?,?,?,?,?,?)"))) {
        gov_bind_text(st, 1, s->officer);
        sqlite3_bind_text(st, 2, s->unit, -1, SQLITE_TRANSIENT);
        gov_bind_text(st, 3, s->manager);
        gov_bind_time(st, 4, s->integrity_due);
        gov_bind_time(st, 5, s->start == INT64_MIN ? 0 : s->start);
        gov_bind_time(st, 6, s->end == INT64_MAX ? 0 : s->end);
        rc = gov_step_done(g, st, "staff");
    }
    rc = frame_end(g, rc, &a, s->officer);
    json_decref(d);
    return rc;
}

/* -------------------------------------------------------- clearances */

static cu_rc check_clearance(const cu_gov_clearance *c)
{
    cu_rc rc;
    if ((rc = gov_check_id("officer", c->officer)))
        return rc;
    if (c->level <= CU_GOV_NONE || c->level >= CU_GOV_LEVEL_COUNT_)
        return cu_err_set(CU_ERR_INVAL, "unknown vetting level (one of RV, MV, NPPV1, NPPV2, NPPV3, CTC, SC, eSC, DV)");
    if (c->expires <= c->granted)
        return cu_err_set(CU_ERR_INVAL, "dates out of order: %s clearance of %s expires before it is granted",
                          cu_gov_level_name(c->level), c->officer);
    if (c->review && (c->review < c->granted || c->review > c->expires))
        return cu_err_set(CU_ERR_INVAL, "dates out of order: the review date of %s's %s clearance is outside granted..expires",
                          c->officer, cu_gov_level_name(c->level));
    return CU_OK;
}

static json_t *clearance_json(const cu_gov_clearance *c, int status)
{
    json_t *d = json_object();
    if (!d)
        return NULL;
    J_STR(d, "level", cu_gov_level_name(c->level));
    json_object_set_new(d, "granted", gov_json_time(c->granted));
    json_object_set_new(d, "expires", gov_json_time(c->expires));
    json_object_set_new(d, "review", gov_json_time(c->review));
    J_STR(d, "status", cu_gov_status_name(status));
    return d;
}

/* Write one clearance row (insert or replace) inside a transaction, with its history row. */
static cu_rc put_clearance(cu_gov *g, const char *actor, const cu_gov_clearance *c, int status, const char *action,
                           const char *reason, int64_t now, bool history)
{
    sqlite3_stmt *st;
    cu_rc rc = gov_prep(g, &st, "INSERT OR REPLACE INTO gov_clearance(officer, level, granted, expires, review, status,"
                                " updated) VALUES(?,?,?,?,?,?,?)");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, c->officer, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, cu_gov_level_name(c->level), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, c->granted);
    sqlite3_bind_int64(st, 4, c->expires);
    gov_bind_time(st, 5, c->review);
    sqlite3_bind_text(st, 6, cu_gov_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, now);
    if ((rc = gov_step_done(g, st, "clearance")) || !history)
        return rc;
    json_t *d = clearance_json(c, status);
    if (!d)
        return CU_ERR_NOMEM;
    rc = gov_history(g, now, actor, c->officer, action, cu_gov_level_name(c->level), reason, d, NULL);
    json_decref(d);
    return rc;
}

cu_rc cu_gov_grant(cu_gov *g, const char *actor, const cu_gov_clearance *c, const char *reason, int64_t now)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)) || (rc = check_clearance(c)) ||
        (rc = gov_check_text("reason", reason, false)) || (rc = gov_not_self(actor, c->officer, "clearance")))
        return rc;
    json_t *d = clearance_json(c, CU_GOV_ACTIVE);
    if (!d)
        return CU_ERR_NOMEM;
    struct gov_act a = {"clearance.grant", actor, c->officer, cu_gov_level_name(c->level), reason, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    rc = put_clearance(g, actor, c, CU_GOV_ACTIVE, NULL, reason, now, false);
    rc = frame_end(g, rc, &a, c->officer);
    json_decref(d);
    return rc;
}

cu_rc cu_gov_set_status(cu_gov *g, const char *actor, const char *officer, int level, int status, const char *reason,
                        int64_t now)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)) || (rc = gov_check_id("officer", officer)) ||
        (rc = gov_check_text("reason", reason, true)))
        return rc;
    if (level < CU_GOV_NONE || level >= CU_GOV_LEVEL_COUNT_ || status < 0 || status >= CU_GOV_STATUS_COUNT_ ||
        status == CU_GOV_LAPSED)
        return cu_err_set(CU_ERR_INVAL, "bad level or status (suspended, withdrawn or active)");
    if ((rc = gov_not_self(actor, officer, "clearance")))
        return rc;
    static const char *const ACTION[] = {"clearance.reinstate", "clearance.suspend", "clearance.withdraw", ""};
    json_t *d = json_object(), *changed = json_array();
    if (!d || !changed) {
        json_decref(d);
        json_decref(changed);
        return CU_ERR_NOMEM;
    }
    json_object_set_new(d, "levels", changed);
    J_STR(d, "status", cu_gov_status_name(status));
    struct gov_act a = {ACTION[status], actor, officer, level ? cu_gov_level_name(level) : "all", reason, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    if ((rc = gov_prep(g, &st, "SELECT level, granted, expires, review, status FROM gov_clearance WHERE officer=?"
                               " AND (?2 IS NULL OR level=?2) ORDER BY level")))
        goto fail;
    sqlite3_bind_text(st, 1, officer, -1, SQLITE_TRANSIENT);
    gov_bind_text(st, 2, level ? cu_gov_level_name(level) : NULL);
    /* collect first: the updates below reuse the connection */
    cu_gov_clearance rows[CU_GOV_LEVEL_COUNT_];
    int from[CU_GOV_LEVEL_COUNT_];
    size_t n = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW && n < CU_GOV_LEVEL_COUNT_) {
        cu_gov_clearance c = {.officer = officer};
        int s = 0;
        if (cu_gov_level_parse(gov_col_text(st, 0), &c.level) || cu_gov_status_parse(gov_col_text(st, 4), &s)) {
            rc = CU_ERR_CORRUPT;
            cu_err_prefix("governance: stored clearance of %s", officer);
            goto fail;
        }
        c.granted = sqlite3_column_int64(st, 1);
        c.expires = sqlite3_column_int64(st, 2);
        c.review = gov_col_time(st, 3, 0);
        from[n] = s;
        rows[n++] = c;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (n == 0) {
        rc = cu_err_set(CU_ERR_NOTFOUND, "%s holds no %s clearance", officer, level ? cu_gov_level_name(level) : "");
        goto fail;
    }
    size_t changes = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = status == CU_GOV_SUSPENDED   ? from[i] == CU_GOV_ACTIVE
                  : status == CU_GOV_WITHDRAWN ? from[i] == CU_GOV_ACTIVE || from[i] == CU_GOV_SUSPENDED
                                               : from[i] == CU_GOV_SUSPENDED;
        if (!ok) {
            if (level) {
                rc = cu_err_set(CU_ERR_STATE, "%s's %s clearance is %s: it cannot become %s", officer,
                                cu_gov_level_name(rows[i].level), cu_gov_status_name(from[i]), cu_gov_status_name(status));
                goto fail;
            }
            continue;
        }
        if ((rc = put_clearance(g, actor, &rows[i], status, a.action, reason, now, false)))
            goto fail;
        json_array_append_new(changed, json_string(cu_gov_level_name(rows[i].level)));
        changes++;
    }
    if (!changes) {
        rc = cu_err_set(CU_ERR_STATE, "none of %s's clearances can become %s", officer, cu_gov_status_name(status));
        goto fail;
    }
fail:
    sqlite3_finalize(st);
    rc = frame_end(g, rc, &a, officer);
    json_decref(d);
    return rc;
}

/* ----------------------------------------------------- entitlements */

cu_rc cu_gov_entitle(cu_gov *g, const char *actor, const cu_gov_entitlement *e, const char *reason, int64_t now,
                     int64_t *id)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)) || (rc = gov_check_id("officer", e->officer)) ||
        (rc = gov_check_id("system", e->system)) || (e->caveat && *e->caveat && (rc = gov_check_id("caveat", e->caveat))) ||
        (rc = gov_check_text("scope", e->scope, true)) || (rc = gov_check_id("purpose", e->purpose)) ||
        (rc = gov_check_text("reason", reason, false)))
        return rc;
    if (e->requires < CU_GOV_NONE || e->requires >= CU_GOV_LEVEL_COUNT_)
        return cu_err_set(CU_ERR_INVAL, "unknown vetting level required");
    if ((rc = gov_not_self(actor, e->officer, "entitlement")))
        return rc;
    json_t *d = json_object();
    if (!d)
        return CU_ERR_NOMEM;
    J_STR(d, "system", e->system);
    J_STR(d, "caveat", e->caveat && *e->caveat ? e->caveat : NULL);
    J_STR(d, "scope", e->scope);
    J_STR(d, "purpose", e->purpose);
    J_STR(d, "requires", e->requires ? cu_gov_level_name(e->requires) : NULL);
    json_object_set_new(d, "sensitive", json_boolean(e->sensitive));
    char obj[48] = "entitlement";
    struct gov_act a = {"entitlement.grant", actor, e->officer, obj, reason, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    sqlite3_stmt *st;
    if (!(rc = gov_prep(g, &st, "INSERT INTO gov_entitlement(officer, system, caveat, scope, purpose, requires,"
                                " sensitive, status, granted_by, granted_at, reason) VALUES(?,?,?,?,?,?,?,'active',?,?,?)"))) {
        sqlite3_bind_text(st, 1, e->officer, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, e->system, -1, SQLITE_TRANSIENT);
        gov_bind_text(st, 3, e->caveat);
        sqlite3_bind_text(st, 4, e->scope, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, e->purpose, -1, SQLITE_TRANSIENT);
        gov_bind_text(st, 6, e->requires ? cu_gov_level_name(e->requires) : NULL);
        sqlite3_bind_int(st, 7, e->sensitive);
        sqlite3_bind_text(st, 8, actor, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 9, now);
        gov_bind_text(st, 10, reason);
        rc = gov_step_done(g, st, "entitlement");
    }
    int64_t nid = sqlite3_last_insert_rowid(g->db);
    snprintf(obj, sizeof obj, "entitlement:%lld", (long long)nid);
    rc = frame_end(g, rc, &a, e->officer);
    json_decref(d);
    if (!rc && id)
        *id = nid;
    return rc;
}

/* The holder and status of an entitlement (inside the frame). */
static cu_rc entitlement_holder(cu_gov *g, int64_t id, char officer[CU_GOV_MAX_ID + 1], char status[16])
{
    sqlite3_stmt *st;
    cu_rc rc = gov_prep(g, &st, "SELECT officer, status FROM gov_entitlement WHERE id=?");
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(officer, CU_GOV_MAX_ID + 1, "%s", gov_col_text(st, 0));
        snprintf(status, 16, "%s", gov_col_text(st, 1));
    } else {
        rc = cu_err_set(CU_ERR_NOTFOUND, "no entitlement %lld", (long long)id);
    }
    sqlite3_finalize(st);
    return rc;
}

cu_rc cu_gov_revoke(cu_gov *g, const char *actor, int64_t id, const char *reason, int64_t now)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)) || (rc = gov_check_text("reason", reason, true)))
        return rc;
    char officer[CU_GOV_MAX_ID + 1] = "", status[16] = "", obj[48];
    snprintf(obj, sizeof obj, "entitlement:%lld", (long long)id);
    struct gov_act a = {"entitlement.revoke", actor, officer, obj, reason, NULL, now};
    if ((rc = gov_begin(g)))
        return rc;
    if ((rc = entitlement_holder(g, id, officer, status)))
        goto fail;
    if ((rc = gov_not_self(actor, officer, "entitlement")))
        goto fail;
    if (strcmp(status, "active") != 0) {
        rc = cu_err_set(CU_ERR_STATE, "entitlement %lld is %s", (long long)id, status);
        goto fail;
    }
    sqlite3_stmt *st;
    if (!(rc = gov_prep(g, &st, "UPDATE gov_entitlement SET status='revoked', reviewed_by=?, reviewed_at=? WHERE id=?"))) {
        sqlite3_bind_text(st, 1, actor, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, id);
        rc = gov_step_done(g, st, "revoke");
    }
fail:
    return frame_end(g, rc, &a, officer);
}

/* ---------------------------------------------------------- reviews */

static const char *const REVIEW_KINDS[] = {"aftercare", "integrity", "revetting", "detection", "other"};
static const char *const OUTCOMES[] = {"cleared", "suspended", "withdrawn", "other"};
static const char *const AFTERCARE_KINDS[] = {"foreign-travel",   "foreign-contacts", "financial-difficulty",
                                              "new-relationship", "association",      "business-interest"};

/* Insert a review row inside the frame. */
static cu_rc put_review(cu_gov *g, const char *actor, const char *officer, const char *kind, int64_t due,
                        bool restrict_caveats, const char *reason, int64_t now, int64_t *id)
{
    sqlite3_stmt *st;
    cu_rc rc = gov_prep(g, &st, "INSERT INTO gov_review(officer, kind, opened, due, restrict_caveats, status,"
                                " opened_by, reason) VALUES(?,?,?,?,?,'open',?,?)");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, officer, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, due);
    sqlite3_bind_int(st, 5, restrict_caveats);
    sqlite3_bind_text(st, 6, actor, -1, SQLITE_TRANSIENT);
    gov_bind_text(st, 7, reason);
    if ((rc = gov_step_done(g, st, "review")))
        return rc;
    *id = sqlite3_last_insert_rowid(g->db);
    return CU_OK;
}

static json_t *review_json(const char *kind, int64_t due, bool restrict_caveats)
{
    json_t *d = json_object();
    if (!d)
        return NULL;
    J_STR(d, "kind", kind);
    json_object_set_new(d, "due", gov_json_time(due));
    json_object_set_new(d, "restrict_caveats", json_boolean(restrict_caveats));
    return d;
}

cu_rc cu_gov_review_open(cu_gov *g, const char *actor, const char *officer, const char *kind, int64_t due,
                         bool restrict_caveats, const char *reason, int64_t now, int64_t *id)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)) || (rc = gov_check_id("officer", officer)) ||
        (rc = gov_check_text("reason", reason, false)))
        return rc;
    if (!one_of(kind, REVIEW_KINDS, 5))
        return cu_err_set(CU_ERR_INVAL, "unknown review kind \"%.32s\" (aftercare, integrity, revetting, detection, other)",
                          kind ? kind : "");
    if (due == 0)
        return cu_err_set(CU_ERR_INVAL, "a review needs a due date");
    if ((rc = gov_not_self(actor, officer, "review")))
        return rc;
    json_t *d = review_json(kind, due, restrict_caveats);
    if (!d)
        return CU_ERR_NOMEM;
    char obj[48] = "review";
    struct gov_act a = {"review.open", actor, officer, obj, reason, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    int64_t rid = 0;
    rc = put_review(g, actor, officer, kind, due, restrict_caveats, reason, now, &rid);
    snprintf(obj, sizeof obj, "review:%lld", (long long)rid);
    rc = frame_end(g, rc, &a, officer);
    json_decref(d);
    if (!rc && id)
        *id = rid;
    return rc;
}

/* Set every clearance of officer that can take status (inside the frame). */
static cu_rc status_all(cu_gov *g, const char *actor, const char *officer, int status, const char *reason, int64_t now)
{
    sqlite3_stmt *st;
    cu_rc rc = gov_prep(g, &st, status == CU_GOV_SUSPENDED
                                    ? "UPDATE gov_clearance SET status='suspended', updated=?2 WHERE officer=?1 AND status='active'"
                                    : "UPDATE gov_clearance SET status='withdrawn', updated=?2 WHERE officer=?1"
                                      " AND status IN ('active','suspended')");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, officer, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    if ((rc = gov_step_done(g, st, "status")))
        return rc;
    return gov_history(g, now, actor, officer, status == CU_GOV_SUSPENDED ? "clearance.suspend" : "clearance.withdraw",
                       "all", reason, NULL, NULL);
}

cu_rc cu_gov_review_close(cu_gov *g, const char *actor, int64_t id, const char *outcome, const char *note, int64_t now)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)) || (rc = gov_check_text("note", note, false)))
        return rc;
    if (!one_of(outcome, OUTCOMES, 4))
        return cu_err_set(CU_ERR_INVAL, "unknown review outcome \"%.32s\" (cleared, suspended, withdrawn, other)",
                          outcome ? outcome : "");
    char officer[CU_GOV_MAX_ID + 1] = "", obj[48];
    snprintf(obj, sizeof obj, "review:%lld", (long long)id);
    json_t *d = json_object();
    if (!d)
        return CU_ERR_NOMEM;
    J_STR(d, "outcome", outcome);
    struct gov_act a = {"review.close", actor, officer, obj, note, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    sqlite3_stmt *st;
    if ((rc = gov_prep(g, &st, "SELECT officer, status, kind FROM gov_review WHERE id=?")))
        goto fail;
    sqlite3_bind_int64(st, 1, id);
    bool open = false, found = false, integrity = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = true;
        snprintf(officer, sizeof officer, "%s", gov_col_text(st, 0));
        open = strcmp(gov_col_text(st, 1), "open") == 0;
        integrity = strcmp(gov_col_text(st, 2), "integrity") == 0;
    }
    sqlite3_finalize(st);
    if (!found) {
        rc = cu_err_set(CU_ERR_NOTFOUND, "no review %lld", (long long)id);
        goto fail;
    }
    if ((rc = gov_not_self(actor, officer, "review")))
        goto fail;
    if (!open) {
        rc = cu_err_set(CU_ERR_STATE, "review %lld is already closed", (long long)id);
        goto fail;
    }
    if ((rc = gov_prep(g, &st, "UPDATE gov_review SET status='closed', closed_by=?, closed_at=?, outcome=?, note=?"
                               " WHERE id=?")))
        goto fail;
    sqlite3_bind_text(st, 1, actor, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_text(st, 3, outcome, -1, SQLITE_TRANSIENT);
    gov_bind_text(st, 4, note);
    sqlite3_bind_int64(st, 5, id);
    if ((rc = gov_step_done(g, st, "review close")))
        goto fail;
    /* the outcome takes effect with the closing; a cleared annual integrity
     * review sets the next one a year on */
    if (integrity && strcmp(outcome, "cleared") == 0) {
        if ((rc = gov_prep(g, &st, "UPDATE gov_staff SET integrity_due=? WHERE officer=?")))
            goto fail;
        sqlite3_bind_int64(st, 1, now - now % GOV_DAY + 365 * GOV_DAY);
        sqlite3_bind_text(st, 2, officer, -1, SQLITE_TRANSIENT);
        if ((rc = gov_step_done(g, st, "integrity due")))
            goto fail;
        json_object_set_new(d, "next_integrity_review", gov_json_time(now - now % GOV_DAY + 365 * GOV_DAY));
    }
    if (strcmp(outcome, "suspended") == 0)
        rc = status_all(g, actor, officer, CU_GOV_SUSPENDED, note, now);
    else if (strcmp(outcome, "withdrawn") == 0)
        rc = status_all(g, actor, officer, CU_GOV_WITHDRAWN, note, now);
fail:
    rc = frame_end(g, rc, &a, officer);
    json_decref(d);
    return rc;
}

cu_rc cu_gov_aftercare(cu_gov *g, const char *reporter, const char *officer, const char *kind, const char *detail,
                       int64_t due, bool restrict_caveats, int64_t now, int64_t *review_id)
{
    cu_rc rc;
    if ((rc = gov_check_id("reporter", reporter)) || (rc = gov_check_id("officer", officer)) ||
        (rc = gov_check_text("detail", detail, false)))
        return rc;
    if (!one_of(kind, AFTERCARE_KINDS, 6))
        return cu_err_set(CU_ERR_INVAL,
                          "unknown change of circumstance \"%.32s\" (foreign-travel, foreign-contacts, "
                          "financial-difficulty, new-relationship, association, business-interest)",
                          kind ? kind : "");
    if (due == 0)
        due = now + 30 * GOV_DAY;
    /* a person may report their own change of circumstance: that is the point of aftercare */
    json_t *d = review_json("aftercare", due, restrict_caveats);
    if (!d)
        return CU_ERR_NOMEM;
    J_STR(d, "circumstance", kind);
    json_object_set_new(d, "self_report", json_boolean(strcmp(reporter, officer) == 0));
    char obj[48] = "aftercare";
    struct gov_act a = {"aftercare.report", reporter, officer, obj, detail, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    int64_t rid = 0;
    sqlite3_stmt *st;
    if ((rc = put_review(g, reporter, officer, "aftercare", due, restrict_caveats, kind, now, &rid)))
        goto fail;
    if ((rc = gov_prep(g, &st, "INSERT INTO gov_aftercare(officer, kind, reporter, reported_at, detail, review)"
                               " VALUES(?,?,?,?,?,?)")))
        goto fail;
    sqlite3_bind_text(st, 1, officer, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, reporter, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, now);
    gov_bind_text(st, 5, detail);
    sqlite3_bind_int64(st, 6, rid);
    rc = gov_step_done(g, st, "aftercare");
    snprintf(obj, sizeof obj, "review:%lld", (long long)rid);
    J_INT(d, "review", rid);
fail:
    rc = frame_end(g, rc, &a, officer);
    json_decref(d);
    if (!rc && review_id)
        *review_id = rid;
    return rc;
}

cu_rc cu_gov_risk(cu_gov *g, const char *officer, double score, double threshold, const char *source,
                  const char *reason, int64_t now, bool *opened)
{
    *opened = false;
    cu_rc rc;
    if ((rc = gov_check_id("officer", officer)) || (rc = gov_check_text("source", source, false)) ||
        (rc = gov_check_text("reason", reason, false)))
        return rc;
    if (!(score >= 0 && score <= 1))
        return cu_err_set(CU_ERR_INVAL, "risk score %g is outside [0, 1]", score);
    if (score < threshold)
        return CU_OK;
    if (strcmp(officer, GOV_ACTOR_DETECT) == 0)
        return cu_err_set(CU_ERR_DENIED, "separation of duties: %s cannot open a review of itself", GOV_ACTOR_DETECT);
    json_t *d = review_json("detection", now + 14 * GOV_DAY, true);
    if (!d)
        return CU_ERR_NOMEM;
    json_object_set_new(d, "score", json_real(score));
    J_STR(d, "source", source);
    char obj[48] = "review";
    struct gov_act a = {"review.open", GOV_ACTOR_DETECT, officer, obj, reason, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    sqlite3_stmt *st;
    bool already = false;
    if (!(rc = gov_prep(g, &st, "SELECT 1 FROM gov_review WHERE officer=? AND kind='detection' AND status='open'"))) {
        sqlite3_bind_text(st, 1, officer, -1, SQLITE_TRANSIENT);
        already = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    if (!rc && already) {
        gov_end(g, CU_ERR_EXISTS); /* nothing written: roll back the empty transaction */
        json_decref(d);
        cu_err_clear();
        return CU_OK;
    }
    int64_t rid = 0;
    if (!rc)
        rc = put_review(g, GOV_ACTOR_DETECT, officer, "detection", now + 14 * GOV_DAY, true, reason, now, &rid);
    snprintf(obj, sizeof obj, "review:%lld", (long long)rid);
    rc = frame_end(g, rc, &a, officer);
    json_decref(d);
    if (!rc)
        *opened = true;
    return rc;
}

/* -------------------------------------------------------- campaigns */

cu_rc cu_gov_campaign_start(cu_gov *g, const char *actor, const char *name, int64_t deadline, int64_t now, int64_t *id,
                            size_t *items)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)) || (rc = gov_check_text("campaign name", name, true)))
        return rc;
    if (deadline <= now)
        return cu_err_set(CU_ERR_INVAL, "dates out of order: the campaign's deadline is not after its start");
    json_t *d = json_object();
    if (!d)
        return CU_ERR_NOMEM;
    J_STR(d, "name", name);
    json_object_set_new(d, "deadline", gov_json_time(deadline));
    char obj[48] = "campaign";
    struct gov_act a = {"campaign.start", actor, NULL, obj, name, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    sqlite3_stmt *st;
    int64_t cid = 0;
    if ((rc = gov_prep(g, &st, "INSERT INTO gov_campaign(name, owner, started, deadline, status) VALUES(?,?,?,?,'open')")))
        goto fail;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, actor, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, deadline);
    if ((rc = gov_step_done(g, st, "campaign")))
        goto fail;
    cid = sqlite3_last_insert_rowid(g->db);
    snprintf(obj, sizeof obj, "campaign:%lld", (long long)cid);
    /* each item goes to the holder's line manager; with none (or the holder
     * themselves) to the campaign's owner; never to the holder */
    if ((rc = gov_prep(g, &st, "INSERT INTO gov_campaign_item(campaign, entitlement, officer, manager, status)"
                               " SELECT ?1, e.id, e.officer,"
                               "  CASE WHEN s.manager IS NOT NULL AND s.manager != e.officer THEN s.manager ELSE ?2 END,"
                               "  'pending'"
                               " FROM gov_entitlement e LEFT JOIN gov_staff s ON s.officer = e.officer"
                               " WHERE e.status = 'active' AND e.officer != ?2 OR"
                               "  (e.status = 'active' AND e.officer = ?2 AND s.manager IS NOT NULL AND s.manager != ?2)")))
        goto fail;
    sqlite3_bind_int64(st, 1, cid);
    sqlite3_bind_text(st, 2, actor, -1, SQLITE_TRANSIENT);
    if ((rc = gov_step_done(g, st, "campaign items")))
        goto fail;
    size_t n = (size_t)sqlite3_changes(g->db);
    J_INT(d, "items", (json_int_t)n);
    if (items)
        *items = n;
fail:
    rc = frame_end(g, rc, &a, NULL);
    json_decref(d);
    if (!rc && id)
        *id = cid;
    return rc;
}

static cu_rc campaign_get(cu_gov *g, int64_t id, int64_t *deadline, bool *open)
{
    sqlite3_stmt *st;
    cu_rc rc = gov_prep(g, &st, "SELECT deadline, status FROM gov_campaign WHERE id=?");
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *deadline = sqlite3_column_int64(st, 0);
        *open = strcmp(gov_col_text(st, 1), "open") == 0;
    } else {
        rc = cu_err_set(CU_ERR_NOTFOUND, "no campaign %lld", (long long)id);
    }
    sqlite3_finalize(st);
    return rc;
}

cu_rc cu_gov_campaign_confirm(cu_gov *g, const char *manager, int64_t campaign, int64_t entitlement,
                              const char *officer, int64_t now, size_t *confirmed)
{
    cu_rc rc;
    if ((rc = gov_check_id("manager", manager)) || (officer && *officer && (rc = gov_check_id("officer", officer))))
        return rc;
    if (confirmed)
        *confirmed = 0;
    char obj[48];
    snprintf(obj, sizeof obj, "campaign:%lld", (long long)campaign);
    json_t *d = json_object(), *ids = json_array();
    if (!d || !ids) {
        json_decref(d);
        json_decref(ids);
        return CU_ERR_NOMEM;
    }
    json_object_set_new(d, "entitlements", ids);
    struct gov_act a = {"campaign.confirm", manager, officer && *officer ? officer : NULL, obj, NULL, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    int64_t deadline = 0;
    bool open = false;
    sqlite3_stmt *st = NULL;
    if ((rc = campaign_get(g, campaign, &deadline, &open)))
        goto fail;
    if (!open || now >= deadline) {
        char t[21];
        gov_time_text(deadline, t);
        rc = cu_err_set(CU_ERR_STATE, "campaign %lld %s: its deadline was %s", (long long)campaign,
                        open ? "is past its deadline" : "is closed", t);
        goto fail;
    }
    if (entitlement > 0) {
        if ((rc = gov_prep(g, &st, "SELECT officer, manager, status FROM gov_campaign_item WHERE campaign=? AND entitlement=?")))
            goto fail;
        sqlite3_bind_int64(st, 1, campaign);
        sqlite3_bind_int64(st, 2, entitlement);
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = cu_err_set(CU_ERR_NOTFOUND, "entitlement %lld is not in campaign %lld", (long long)entitlement,
                            (long long)campaign);
            goto fail;
        }
        if ((rc = gov_not_self(manager, gov_col_text(st, 0), "entitlement")))
            goto fail;
        if (strcmp(gov_col_text(st, 1), manager) != 0) {
            rc = cu_err_set(CU_ERR_DENIED, "%s is not the manager who recertifies entitlement %lld (%s is)", manager,
                            (long long)entitlement, gov_col_text(st, 1));
            goto fail;
        }
        if (strcmp(gov_col_text(st, 2), "pending") != 0) {
            rc = cu_err_set(CU_ERR_STATE, "entitlement %lld is already %s", (long long)entitlement, gov_col_text(st, 2));
            goto fail;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if ((rc = gov_prep(g, &st, "SELECT entitlement, officer FROM gov_campaign_item WHERE campaign=?1 AND manager=?2"
                               " AND status='pending' AND officer != ?2 AND (?3 = 0 OR entitlement=?3)"
                               " AND (?4 IS NULL OR officer=?4) ORDER BY entitlement")))
        goto fail;
    sqlite3_bind_int64(st, 1, campaign);
    sqlite3_bind_text(st, 2, manager, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, entitlement > 0 ? entitlement : 0);
    gov_bind_text(st, 4, officer);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(ids, json_integer(sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    st = NULL;
    if (json_array_size(ids) == 0) {
        rc = cu_err_set(CU_ERR_NOTFOUND, "%s has nothing pending to confirm in campaign %lld%s%s", manager,
                        (long long)campaign, officer && *officer ? " for " : "", officer && *officer ? officer : "");
        goto fail;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        int64_t eid = json_integer_value(v);
        if ((rc = gov_prep(g, &st, "UPDATE gov_campaign_item SET status='confirmed', confirmed_by=?, confirmed_at=?"
                                   " WHERE campaign=? AND entitlement=?")))
            goto fail;
        sqlite3_bind_text(st, 1, manager, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, campaign);
        sqlite3_bind_int64(st, 4, eid);
        rc = gov_step_done(g, st, "confirm");
        st = NULL;
        if (rc || (rc = gov_prep(g, &st, "UPDATE gov_entitlement SET reviewed_by=?, reviewed_at=? WHERE id=?")))
            goto fail;
        sqlite3_bind_text(st, 1, manager, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, eid);
        rc = gov_step_done(g, st, "reviewed");
        st = NULL;
        if (rc)
            goto fail;
    }
    if (confirmed)
        *confirmed = json_array_size(ids);
fail:
    sqlite3_finalize(st);
    rc = frame_end(g, rc, &a, NULL);
    json_decref(d);
    if (rc && confirmed)
        *confirmed = 0;
    return rc;
}

cu_rc cu_gov_campaign_close(cu_gov *g, const char *actor, int64_t campaign, int64_t now, size_t *lapsed)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)))
        return rc;
    char obj[48];
    snprintf(obj, sizeof obj, "campaign:%lld", (long long)campaign);
    json_t *d = json_object(), *ids = json_array();
    if (!d || !ids) {
        json_decref(d);
        json_decref(ids);
        return CU_ERR_NOMEM;
    }
    json_object_set_new(d, "lapsed", ids);
    struct gov_act a = {"campaign.close", actor, NULL, obj, NULL, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    int64_t deadline = 0;
    bool open = false;
    sqlite3_stmt *st = NULL;
    if ((rc = campaign_get(g, campaign, &deadline, &open)))
        goto fail;
    if (!open) {
        rc = cu_err_set(CU_ERR_STATE, "campaign %lld is already closed", (long long)campaign);
        goto fail;
    }
    if (now < deadline) {
        char t[21];
        gov_time_text(deadline, t);
        rc = cu_err_set(CU_ERR_STATE, "campaign %lld runs until %s: it cannot close before its deadline",
                        (long long)campaign, t);
        goto fail;
    }
    if ((rc = gov_prep(g, &st, "SELECT entitlement, officer FROM gov_campaign_item WHERE campaign=? AND status='pending'"
                               " ORDER BY entitlement")))
        goto fail;
    sqlite3_bind_int64(st, 1, campaign);
    json_t *holders = json_array();
    if (!holders) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_array_append_new(ids, json_integer(sqlite3_column_int64(st, 0)));
        json_array_append_new(holders, json_string(gov_col_text(st, 1)));
    }
    sqlite3_finalize(st);
    st = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        int64_t eid = json_integer_value(v);
        char eo[48];
        snprintf(eo, sizeof eo, "entitlement:%lld", (long long)eid);
        /* the lapse takes effect at the deadline, whenever the close is run */
        if ((rc = gov_prep(g, &st, "UPDATE gov_entitlement SET status='lapsed' WHERE id=? AND status='active'")))
            break;
        sqlite3_bind_int64(st, 1, eid);
        rc = gov_step_done(g, st, "lapse");
        st = NULL;
        if (rc || (rc = gov_history(g, deadline, actor, json_string_value(json_array_get(holders, i)),
                                    "entitlement.lapse", eo, "not recertified by the campaign's deadline", NULL, NULL)))
            break;
    }
    json_decref(holders);
    if (rc)
        goto fail;
    if ((rc = gov_prep(g, &st, "UPDATE gov_campaign_item SET status='lapsed' WHERE campaign=? AND status='pending'")))
        goto fail;
    sqlite3_bind_int64(st, 1, campaign);
    rc = gov_step_done(g, st, "items lapse");
    st = NULL;
    if (rc || (rc = gov_prep(g, &st, "UPDATE gov_campaign SET status='closed', closed_at=? WHERE id=?")))
        goto fail;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, campaign);
    rc = gov_step_done(g, st, "close");
    st = NULL;
    if (!rc && lapsed)
        *lapsed = json_array_size(ids);
fail:
    sqlite3_finalize(st);
    rc = frame_end(g, rc, &a, NULL);
    json_decref(d);
    return rc;
}

/* -------------------------------------------------------------- draw */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, n) without modulo bias (rejection). */
static uint64_t below(uint64_t s[4], uint64_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t r = xoshiro(s);
        if (r < lim)
            return r % n;
    }
}

cu_rc cu_gov_draw_select(uint64_t seed, size_t n, size_t k, size_t *idx)
{
    if (k > n)
        return cu_err_set(CU_ERR_RANGE, "cannot draw %zu of %zu", k, n);
    uint64_t s[4], x = seed;
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&x);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)below(s, n - i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    return CU_OK;
}

cu_rc cu_gov_draw(cu_gov *g, const char *actor, uint64_t seed, size_t count, int64_t due, int64_t now,
                  int64_t *draw_id, cu_buf *selection)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)))
        return rc;
    if (count == 0 || count > CU_GOV_DRAW_MAX)
        return cu_err_set(CU_ERR_INVAL, "draw count must be 1..%d", CU_GOV_DRAW_MAX);
    if (due <= now)
        return cu_err_set(CU_ERR_INVAL, "dates out of order: the re-vetting reviews' due date is not after the draw");
    char seedtxt[24], obj[48] = "draw";
    snprintf(seedtxt, sizeof seedtxt, "%llu", (unsigned long long)seed);
    json_t *d = json_object(), *sel = json_array();
    char **pop = NULL;
    size_t npop = 0, cap = 0, *idx = NULL;
    if (!d || !sel) {
        json_decref(d);
        json_decref(sel);
        return CU_ERR_NOMEM;
    }
    json_object_set_new(d, "selection", sel);
    J_STR(d, "seed", seedtxt);
    struct gov_act a = {"revetting.draw", actor, NULL, obj, NULL, d, now};
    if ((rc = gov_begin(g))) {
        json_decref(d);
        return rc;
    }
    /* the population: everyone with a clearance in force now, but the actor
     * (who opens the reviews and may not open their own), sorted by id */
    sqlite3_stmt *st = NULL;
    if ((rc = gov_prep(g, &st, "SELECT DISTINCT officer FROM gov_clearance WHERE status='active' AND granted<=?1"
                               " AND ?1<expires AND officer != ?2 ORDER BY officer")))
        goto fail;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, actor, -1, SQLITE_TRANSIENT);
    cu_buf popbuf;
    cu_buf_init(&popbuf, (size_t)CU_GOV_DRAW_MAX * (CU_GOV_MAX_ID + 1));
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (npop == CU_GOV_DRAW_MAX) {
            rc = cu_err_set(CU_ERR_TOOBIG, "more than %d people to draw from", CU_GOV_DRAW_MAX);
            break;
        }
        if ((rc = cu_grow(&pop, &cap, npop + 1, sizeof *pop, 256, false)))
            break;
        if (!(pop[npop] = cu_strdup(gov_col_text(st, 0)))) {
            rc = CU_ERR_NOMEM;
            break;
        }
        if ((rc = cu_buf_appends(&popbuf, pop[npop])) || (rc = cu_buf_append(&popbuf, "\n", 1))) {
            npop++;
            break;
        }
        npop++;
    }
    sqlite3_finalize(st);
    st = NULL;
    uint8_t h[CU_SHA256_LEN];
    char hex[2 * CU_SHA256_LEN + 1];
    if (!rc)
        rc = cu_sha256(popbuf.data, popbuf.len, NULL, 0, NULL, 0, h);
    cu_buf_free(&popbuf);
    if (rc)
        goto fail;
    cu_hex_encode(h, sizeof h, hex);
    if (count > npop)
        count = npop;
    if (count == 0) {
        rc = cu_err_set(CU_ERR_STATE, "nobody holds a clearance in force to draw from");
        goto fail;
    }
    if (!(idx = cu_malloc(npop * sizeof *idx))) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    if ((rc = cu_gov_draw_select(seed, npop, count, idx)))
        goto fail;
    J_INT(d, "population", (json_int_t)npop);
    J_STR(d, "population_sha256", hex);
    json_object_set_new(d, "due", gov_json_time(due));
    for (size_t i = 0; i < count; i++) {
        const char *who = pop[idx[i]];
        int64_t rid = 0;
        json_array_append_new(sel, json_string(who));
        if ((rc = put_review(g, actor, who, "revetting", due, false, "randomised re-vetting draw", now, &rid)) ||
            (rc = gov_history(g, now, actor, who, "review.open", "revetting", "randomised re-vetting draw", NULL, NULL)))
            goto fail;
        if (selection && ((rc = cu_buf_appends(selection, i ? "," : "")) || (rc = cu_buf_appends(selection, who))))
            goto fail;
    }
    char *seltxt = json_dumps(sel, JSON_COMPACT);
    if (!seltxt) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    if (!(rc = gov_prep(g, &st, "INSERT INTO gov_draw(ts, actor, seed, population, population_sha256, count, selection)"
                                " VALUES(?,?,?,?,?,?,?)"))) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, actor, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, seedtxt, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, (int64_t)npop);
        sqlite3_bind_text(st, 5, hex, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, (int64_t)count);
        sqlite3_bind_text(st, 7, seltxt, -1, SQLITE_TRANSIENT);
        rc = gov_step_done(g, st, "draw");
        st = NULL;
    }
    free(seltxt);
    int64_t did = sqlite3_last_insert_rowid(g->db);
    snprintf(obj, sizeof obj, "draw:%lld", (long long)did);
    if (!rc && draw_id)
        *draw_id = did;
fail:
    sqlite3_finalize(st);
    /* only the people drawn changed: refresh them, not the whole register */
    if (!rc)
        rc = gov_finish(g, &a);
    for (size_t i = 0; !rc && idx && i < count; i++)
        (void)gov_cache_refresh(g, pop[idx[i]]);
    gov_end(g, rc);
    json_decref(d);
    for (size_t i = 0; i < npop; i++)
        cu_free(pop[i]);
    cu_free(pop);
    cu_free(idx);
    return rc;
}

/* ---------------------------------------------------------- history */

cu_rc cu_gov_history_json(cu_gov *g, const char *actor, const char *officer, cu_buf *out)
{
    cu_rc rc;
    if ((rc = gov_check_id("actor", actor)) || (rc = gov_check_id("officer", officer)) ||
        (rc = gov_not_self(actor, officer, "audit trail")))
        return rc;
    json_t *arr = json_array();
    if (!arr)
        return CU_ERR_NOMEM;
    pthread_mutex_lock(&g->mu);
    sqlite3_stmt *st;
    if (!(rc = gov_prep(g, &st, "SELECT h.seq, h.ts, h.actor, h.action, h.object, h.reason, h.detail, l.ledger_index"
                                " FROM gov_history h LEFT JOIN gov_history_ledger l ON l.seq = h.seq"
                                " WHERE h.officer=? ORDER BY h.seq"))) {
        sqlite3_bind_text(st, 1, officer, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_t *o = json_object();
            if (!o) {
                rc = CU_ERR_NOMEM;
                break;
            }
            char t[21];
            cu_time_format(sqlite3_column_int64(st, 1), t);
            J_INT(o, "seq", sqlite3_column_int64(st, 0));
            J_STR(o, "ts", t);
            J_STR(o, "actor", gov_col_text(st, 2));
            J_STR(o, "action", gov_col_text(st, 3));
            J_STR(o, "object", *gov_col_text(st, 4) ? gov_col_text(st, 4) : NULL);
            J_STR(o, "reason", *gov_col_text(st, 5) ? gov_col_text(st, 5) : NULL);
            json_t *det = *gov_col_text(st, 6) ? json_loads(gov_col_text(st, 6), 0, NULL) : NULL;
            json_object_set_new(o, "detail", det ? det : json_null());
            json_object_set_new(o, "ledger_index", sqlite3_column_type(st, 7) == SQLITE_NULL
                                                        ? json_null()
                                                        : json_integer(sqlite3_column_int64(st, 7)));
            json_array_append_new(arr, o);
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&g->mu);
    if (!rc) {
        char *s = json_dumps(arr, JSON_COMPACT);
        rc = s ? cu_buf_appends(out, s) : CU_ERR_NOMEM;
        free(s);
    }
    json_decref(arr);
    return rc;
}
