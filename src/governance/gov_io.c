/*
 * Governance interchange (JSON Lines: vetting, staff, entitlement and
 * reference officer lines), import, export and the reports.
 *
 * Parsing is a pure function of one line (cu_gov_parse_line, fuzzed); the
 * import reads a file line by line (bounded), stops at the first bad line
 * naming file and line, and applies what came before it in one action.
 * Reports are computed from the current register at a time `at` passed in.
 */
#include "governance/gov_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- parse */

static cu_rc get_str(json_t *o, const char *k, bool required, char *dst, size_t cap, size_t max)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (required)
            return cu_err_set(CU_ERR_PARSE, "\"%s\" is required", k);
        dst[0] = '\0';
        return CU_OK;
    }
    if (!json_is_string(v))
        return cu_err_set(CU_ERR_TYPE, "\"%s\" must be a string", k);
    size_t n = json_string_length(v);
    if (n == 0 && required)
        return cu_err_set(CU_ERR_PARSE, "\"%s\" is empty", k);
    if (n > max || n >= cap)
        return cu_err_set(CU_ERR_TOOBIG, "\"%s\" is longer than %zu bytes", k, max);
    const char *s = json_string_value(v);
    if (strlen(s) != n)
        return cu_err_set(CU_ERR_PARSE, "\"%s\" holds a NUL character", k);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return cu_err_set(CU_ERR_PARSE, "\"%s\" holds a control character", k);
    memcpy(dst, s, n + 1);
    return CU_OK;
}

/* An "end" given as a date includes that whole day (as the event module
 * reads officers' service end): it ends at the next midnight. */
static cu_rc get_end(json_t *o, const char *k, int64_t *out);

static cu_rc get_time(json_t *o, const char *k, bool required, int64_t dflt, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (required)
            return cu_err_set(CU_ERR_PARSE, "\"%s\" is required", k);
        *out = dflt;
        return CU_OK;
    }
    if (!json_is_string(v))
        return cu_err_set(CU_ERR_TYPE, "\"%s\" must be a date (YYYY-MM-DD) or an RFC 3339 time", k);
    if (gov_parse_time(json_string_value(v), out))
        return cu_err_set(CU_ERR_PARSE, "\"%s\": bad date \"%.40s\" (YYYY-MM-DD or RFC 3339)", k, json_string_value(v));
    return CU_OK;
}

/* Set the detail to prefix + the current detail (cu_err_set may not read
 * the detail it writes). */
static cu_rc gov_err_again(cu_rc rc, const char *prefix)
{
    char old[1024];
    snprintf(old, sizeof old, "%s", cu_err_detail());
    return cu_err_set(rc, "%s%s", prefix, old);
}

static cu_rc get_end(json_t *o, const char *k, int64_t *out)
{
    cu_rc rc = get_time(o, k, false, INT64_MAX, out);
    json_t *v = json_object_get(o, k);
    if (!rc && json_is_string(v) && json_string_length(v) == 10)
        *out += 86400;
    return rc;
}

static cu_rc parse_vetting_obj(json_t *o, cu_gov_rec *rec, const char *prefix)
{
    char lv[16];
    cu_rc rc;
    if ((rc = get_str(o, "level", true, lv, sizeof lv, sizeof lv - 1)))
        return gov_err_again(rc, prefix);
    if ((rc = cu_gov_level_parse(lv, &rec->level)))
        return gov_err_again(CU_ERR_INVAL, prefix);
    if ((rc = get_time(o, "granted", true, 0, &rec->granted)) || (rc = get_time(o, "expires", true, 0, &rec->expires)) ||
        (rc = get_time(o, "review", false, 0, &rec->review)))
        return gov_err_again(rc, prefix);
    if (rec->expires <= rec->granted)
        return cu_err_set(CU_ERR_INVAL, "%sdates out of order: expires is not after granted", prefix);
    if (rec->review && (rec->review < rec->granted || rec->review > rec->expires))
        return cu_err_set(CU_ERR_INVAL, "%sdates out of order: review is outside granted..expires", prefix);
    return CU_OK;
}

cu_rc cu_gov_parse_line(const char *text, size_t len, cu_gov_rec *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->end = INT64_MAX;
    if (len > CU_GOV_MAX_LINE)
        return cu_err_set(CU_ERR_TOOBIG, "line longer than %d bytes", CU_GOV_MAX_LINE);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return cu_err_set(CU_ERR_PARSE, "bad JSON at column %d: %s", je.column, je.text);
    cu_rc rc = CU_OK;
    char kind[24], st[16], req[16];
    if (!json_is_object(o)) {
        rc = cu_err_set(CU_ERR_PARSE, "a line must be a JSON object");
        goto fail;
    }
    if ((rc = get_str(o, "kind", true, kind, sizeof kind, sizeof kind - 1)))
        goto fail;
    if (strcmp(kind, "vetting") == 0) {
        rec->kind = CU_GOV_REC_VETTING;
        if ((rc = get_str(o, "officer", true, rec->officer, sizeof rec->officer, CU_GOV_MAX_ID)) ||
            (rc = parse_vetting_obj(o, rec, "")) || (rc = get_str(o, "status", false, st, sizeof st, sizeof st - 1)))
            goto fail;
        rec->status = CU_GOV_ACTIVE;
        if (st[0] && (rc = cu_gov_status_parse(st, &rec->status)))
            goto fail;
    } else if (strcmp(kind, "staff") == 0) {
        rec->kind = CU_GOV_REC_STAFF;
        if ((rc = get_str(o, "officer", true, rec->officer, sizeof rec->officer, CU_GOV_MAX_ID)) ||
            (rc = get_str(o, "unit", true, rec->unit, sizeof rec->unit, CU_GOV_MAX_ID)) ||
            (rc = get_str(o, "manager", false, rec->manager, sizeof rec->manager, CU_GOV_MAX_ID)) ||
            (rc = get_time(o, "integrity_review", false, 0, &rec->integrity_due)) ||
            (rc = get_time(o, "start", false, 0, &rec->start)) ||
            (rc = get_end(o, "end", &rec->end)))
            goto fail;
    } else if (strcmp(kind, "officer") == 0) {
        rec->kind = CU_GOV_REC_OFFICER;
        if ((rc = get_str(o, "id", true, rec->officer, sizeof rec->officer, CU_GOV_MAX_ID)) ||
            (rc = get_str(o, "unit", false, rec->unit, sizeof rec->unit, CU_GOV_MAX_ID)) ||
            (rc = get_str(o, "manager", false, rec->manager, sizeof rec->manager, CU_GOV_MAX_ID)) ||
            (rc = get_time(o, "integrity_review", false, 0, &rec->integrity_due)) ||
            (rc = get_time(o, "start", false, 0, &rec->start)) ||
            (rc = get_end(o, "end", &rec->end)))
            goto fail;
        json_t *v = json_object_get(o, "vetting");
        if (v && !json_is_null(v)) {
            if (!json_is_object(v)) {
                rc = cu_err_set(CU_ERR_TYPE, "\"vetting\" must be an object");
                goto fail;
            }
            if ((rc = parse_vetting_obj(v, rec, "vetting.")))
                goto fail;
            rec->has_vetting = true;
            rec->status = CU_GOV_ACTIVE;
        }
    } else if (strcmp(kind, "entitlement") == 0) {
        rec->kind = CU_GOV_REC_ENTITLEMENT;
        if ((rc = get_str(o, "officer", true, rec->officer, sizeof rec->officer, CU_GOV_MAX_ID)) ||
            (rc = get_str(o, "system", true, rec->system, sizeof rec->system, CU_GOV_MAX_ID)) ||
            (rc = get_str(o, "caveat", false, rec->caveat, sizeof rec->caveat, CU_GOV_MAX_ID)) ||
            (rc = get_str(o, "scope", true, rec->scope, sizeof rec->scope, CU_GOV_MAX_TEXT)) ||
            (rc = get_str(o, "purpose", true, rec->purpose, sizeof rec->purpose, CU_GOV_MAX_ID)) ||
            (rc = get_str(o, "requires", false, req, sizeof req, sizeof req - 1)))
            goto fail;
        if (req[0] && (rc = cu_gov_level_parse(req, &rec->requires)))
            goto fail;
        json_t *s = json_object_get(o, "sensitive");
        if (s && !json_is_boolean(s)) {
            rc = cu_err_set(CU_ERR_TYPE, "\"sensitive\" must be true or false");
            goto fail;
        }
        rec->sensitive = s ? json_is_true(s) : rec->caveat[0] != '\0';
    } else {
        rec->kind = CU_GOV_REC_SKIP; /* other reference kinds */
    }
    if (rec->start && rec->end != INT64_MAX && rec->end <= rec->start)
        rc = cu_err_set(CU_ERR_INVAL, "dates out of order: end is not after start");
fail:
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------- import */

static cu_rc apply_rec(cu_gov *g, const char *actor, const cu_gov_rec *r, int64_t now)
{
    sqlite3_stmt *st;
    cu_rc rc = CU_OK;
    if (r->kind == CU_GOV_REC_STAFF || r->kind == CU_GOV_REC_OFFICER) {
        if ((rc = gov_prep(g, &st, "INSERT INTO gov_staff(officer, unit, manager, integrity_due, start, end_)"
                                   " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(officer) DO UPDATE SET unit=?2,"
                                   " manager=COALESCE(?3, manager), integrity_due=COALESCE(?4, integrity_due),"
                                   " start=COALESCE(?5, start), end_=COALESCE(?6, end_)")))
            return rc;
        sqlite3_bind_text(st, 1, r->officer, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, r->unit, -1, SQLITE_TRANSIENT);
        gov_bind_text(st, 3, r->manager);
        gov_bind_time(st, 4, r->integrity_due);
        gov_bind_time(st, 5, r->start);
        gov_bind_time(st, 6, r->end == INT64_MAX ? 0 : r->end);
        if ((rc = gov_step_done(g, st, "staff")) ||
            (rc = gov_history(g, now, actor, r->officer, "import.staff", r->unit, NULL, NULL, NULL)))
            return rc;
    }
    if (r->kind == CU_GOV_REC_VETTING || (r->kind == CU_GOV_REC_OFFICER && r->has_vetting)) {
        if ((rc = gov_prep(g, &st, "INSERT OR REPLACE INTO gov_clearance(officer, level, granted, expires, review,"
                                   " status, updated) VALUES(?,?,?,?,?,?,?)")))
            return rc;
        sqlite3_bind_text(st, 1, r->officer, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, cu_gov_level_name(r->level), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r->granted);
        sqlite3_bind_int64(st, 4, r->expires);
        gov_bind_time(st, 5, r->review);
        sqlite3_bind_text(st, 6, cu_gov_status_name(r->status), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, now);
        json_t *d = json_object();
        if (!d) {
            sqlite3_finalize(st);
            return CU_ERR_NOMEM;
        }
        json_object_set_new(d, "granted", gov_json_time(r->granted));
        json_object_set_new(d, "expires", gov_json_time(r->expires));
        json_object_set_new(d, "review", gov_json_time(r->review));
        json_object_set_new(d, "status", json_string(cu_gov_status_name(r->status)));
        if (!(rc = gov_step_done(g, st, "clearance")))
            rc = gov_history(g, now, actor, r->officer, "import.vetting", cu_gov_level_name(r->level), NULL, d, NULL);
        json_decref(d);
        if (rc)
            return rc;
    }
    if (r->kind == CU_GOV_REC_ENTITLEMENT) {
        if ((rc = gov_prep(g, &st, "INSERT INTO gov_entitlement(officer, system, caveat, scope, purpose, requires,"
                                   " sensitive, status, granted_by, granted_at, reason)"
                                   " VALUES(?,?,?,?,?,?,?,'active',?,?,'import')")))
            return rc;
        sqlite3_bind_text(st, 1, r->officer, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, r->system, -1, SQLITE_TRANSIENT);
        gov_bind_text(st, 3, r->caveat);
        sqlite3_bind_text(st, 4, r->scope, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, r->purpose, -1, SQLITE_TRANSIENT);
        gov_bind_text(st, 6, r->requires ? cu_gov_level_name(r->requires) : NULL);
        sqlite3_bind_int(st, 7, r->sensitive);
        sqlite3_bind_text(st, 8, actor, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 9, now);
        char obj[48];
        if (!(rc = gov_step_done(g, st, "entitlement"))) {
            snprintf(obj, sizeof obj, "entitlement:%lld", (long long)sqlite3_last_insert_rowid(g->db));
            rc = gov_history(g, now, actor, r->officer, "import.entitlement", obj, NULL, NULL, NULL);
        }
    }
    return rc;
}

cu_rc cu_gov_import(cu_gov *g, const char *actor, const char *path, int64_t now, size_t *applied)
{
    cu_rc rc, bad = CU_OK;
    char baddetail[1024] = "";
    if (applied)
        *applied = 0;
    if ((rc = gov_check_id("actor", actor)))
        return rc;
    cu_lines *lr = NULL;
    if ((rc = cu_lines_open(path, CU_GOV_MAX_LINE, &lr)))
        return rc;
    cu_gov_rec *rec = cu_malloc(sizeof *rec);
    /* the digest covers the lines applied, each with its '\n', so a verifier
     * can recompute it from the file's first `lines` lines */
    cu_buf all;
    cu_buf_init(&all, (size_t)1 << 31);
    json_t *d = json_object();
    size_t n = 0, lines = 0, skipped = 0;
    uint64_t badline = 0;
    if (!rec || !d) {
        rc = CU_ERR_NOMEM;
        goto out;
    }
    if ((rc = gov_begin(g)))
        goto out;
    const char *line;
    size_t len;
    for (;;) {
        cu_rc r = cu_lines_next(lr, &line, &len);
        if (r == CU_ERR_NOTFOUND)
            break;
        uint64_t ln = cu_lines_lineno(lr);
        if (r) {
            bad = r;
            badline = ln;
            snprintf(baddetail, sizeof baddetail, "%s:%llu: %s", cu_lines_name(lr), (unsigned long long)ln,
                     r == CU_ERR_TOOBIG ? "line too long" : cu_err_detail());
            break;
        }
        size_t l2 = len;
        if (l2 && line[l2 - 1] == '\r')
            l2--;
        bool blank = true;
        for (size_t i = 0; i < l2; i++)
            if (line[i] != ' ' && line[i] != '\t')
                blank = false;
        if (!blank) {
            r = cu_gov_parse_line(line, l2, rec);
            if (!r && rec->kind != CU_GOV_REC_SKIP && strcmp(rec->officer, actor) == 0)
                r = cu_err_set(CU_ERR_DENIED, "separation of duties: %s may not import their own record", actor);
            if (!r && rec->kind != CU_GOV_REC_SKIP && !(r = apply_rec(g, actor, rec, now)))
                r = gov_cache_reserve(g, rec->officer);
            if (r) {
                bad = r;
                badline = ln;
                snprintf(baddetail, sizeof baddetail, "%s:%llu: %s", cu_lines_name(lr), (unsigned long long)ln,
                         cu_err_detail());
                break;
            }
            if (rec->kind == CU_GOV_REC_SKIP)
                skipped++;
            else
                n++;
        }
        lines++;
        if ((rc = cu_buf_append(&all, line, len)) || (rc = cu_buf_append(&all, "\n", 1)))
            break;
    }
    if (!rc) {
        uint8_t h[CU_SHA256_LEN];
        char hex[2 * CU_SHA256_LEN + 1];
        rc = cu_sha256(all.data, all.len, NULL, 0, NULL, 0, h);
        cu_hex_encode(h, sizeof h, hex);
        json_object_set_new(d, "file", json_string(cu_lines_name(lr)));
        json_object_set_new(d, "lines", json_integer((json_int_t)lines));
        json_object_set_new(d, "sha256", json_string(hex));
        json_object_set_new(d, "records", json_integer((json_int_t)n));
        json_object_set_new(d, "skipped", json_integer((json_int_t)skipped));
        if (bad)
            json_object_set_new(d, "stopped_at_line", json_integer((json_int_t)badline));
    }
    struct gov_act a = {"import", actor, NULL, "register", NULL, d, now};
    if (!rc)
        rc = gov_finish(g, &a);
    if (!rc)
        (void)gov_cache_refresh_all(g);
    gov_end(g, rc);
    if (!rc && applied)
        *applied = n;
out:
    cu_buf_free(&all);
    json_decref(d);
    cu_free(rec);
    cu_lines_close(lr);
    if (!rc && bad)
        return cu_err_set(bad, "%s", baddetail);
    return rc;
}

/* ------------------------------------------------------------- export */

static cu_rc put_line(json_t *o, cu_buf *out)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return CU_ERR_NOMEM;
    cu_rc rc = cu_buf_appends(out, s);
    if (!rc)
        rc = cu_buf_append(out, "\n", 1);
    free(s);
    return rc;
}

cu_rc cu_gov_export(cu_gov *g, cu_buf *out)
{
    cu_rc rc = CU_OK;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&g->mu);
    if ((rc = gov_prep(g, &st, "SELECT officer, unit, manager, integrity_due, start, end_ FROM gov_staff ORDER BY officer")))
        goto fail;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_object();
        if (!o) {
            rc = CU_ERR_NOMEM;
            break;
        }
        json_object_set_new(o, "kind", json_string("staff"));
        json_object_set_new(o, "officer", json_string(gov_col_text(st, 0)));
        json_object_set_new(o, "unit", json_string(gov_col_text(st, 1)));
        if (*gov_col_text(st, 2))
            json_object_set_new(o, "manager", json_string(gov_col_text(st, 2)));
        json_object_set_new(o, "integrity_review", gov_json_time(gov_col_time(st, 3, 0)));
        json_object_set_new(o, "start", gov_json_time(gov_col_time(st, 4, 0)));
        int64_t end = gov_col_time(st, 5, 0);
        /* a date names the last day of service (see get_end) */
        json_object_set_new(o, "end", gov_json_time(end && end % GOV_DAY == 0 ? end - GOV_DAY : end));
        rc = put_line(o, out);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc || (rc = gov_prep(g, &st, "SELECT officer, level, granted, expires, review, status FROM gov_clearance"
                                     " ORDER BY officer, level")))
        goto fail;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_object();
        if (!o) {
            rc = CU_ERR_NOMEM;
            break;
        }
        json_object_set_new(o, "kind", json_string("vetting"));
        json_object_set_new(o, "officer", json_string(gov_col_text(st, 0)));
        json_object_set_new(o, "level", json_string(gov_col_text(st, 1)));
        json_object_set_new(o, "granted", gov_json_time(sqlite3_column_int64(st, 2)));
        json_object_set_new(o, "expires", gov_json_time(sqlite3_column_int64(st, 3)));
        json_object_set_new(o, "review", gov_json_time(gov_col_time(st, 4, 0)));
        json_object_set_new(o, "status", json_string(gov_col_text(st, 5)));
        rc = put_line(o, out);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc || (rc = gov_prep(g, &st, "SELECT officer, system, caveat, scope, purpose, requires, sensitive"
                                     " FROM gov_entitlement WHERE status='active' ORDER BY id")))
        goto fail;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_object();
        if (!o) {
            rc = CU_ERR_NOMEM;
            break;
        }
        json_object_set_new(o, "kind", json_string("entitlement"));
        json_object_set_new(o, "officer", json_string(gov_col_text(st, 0)));
        json_object_set_new(o, "system", json_string(gov_col_text(st, 1)));
        if (*gov_col_text(st, 2))
            json_object_set_new(o, "caveat", json_string(gov_col_text(st, 2)));
        json_object_set_new(o, "scope", json_string(gov_col_text(st, 3)));
        json_object_set_new(o, "purpose", json_string(gov_col_text(st, 4)));
        if (*gov_col_text(st, 5))
            json_object_set_new(o, "requires", json_string(gov_col_text(st, 5)));
        json_object_set_new(o, "sensitive", json_boolean(sqlite3_column_int(st, 6)));
        rc = put_line(o, out);
    }
fail:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&g->mu);
    return rc;
}

/* ------------------------------------------------------------ reports */

struct rep_person {
    char officer[CU_GOV_MAX_ID + 1], unit[CU_GOV_MAX_ID + 1];
    int64_t integrity_due;
    bool in_date, overdue;
    int64_t last_expiry; /* latest expiry of a clearance in force */
    uint64_t recerts;
};

static int cmp_person(const void *a, const void *b)
{
    return strcmp(((const struct rep_person *)a)->officer, ((const struct rep_person *)b)->officer);
}

static int cmp_unit(const void *a, const void *b)
{
    const struct rep_person *x = *(const struct rep_person *const *)a, *y = *(const struct rep_person *const *)b;
    return strcmp(x->unit, y->unit);
}

static struct rep_person *rep_find(struct rep_person *p, size_t n, const char *officer)
{
    struct rep_person key;
    snprintf(key.officer, sizeof key.officer, "%s", officer);
    return bsearch(&key, p, n, sizeof *p, cmp_person);
}

cu_rc cu_gov_report_make(cu_gov *g, int64_t at, cu_gov_report *out)
{
    memset(out, 0, sizeof *out);
    out->at = at;
    struct rep_person *p = NULL, **order = NULL;
    size_t n = 0, cap = 0;
    cu_rc rc = CU_OK;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&g->mu);
    /* the workforce: staff in service at `at` */
    if ((rc = gov_prep(g, &st, "SELECT officer, unit, integrity_due FROM gov_staff WHERE (start IS NULL OR start <= ?1)"
                               " AND (end_ IS NULL OR ?1 < end_) ORDER BY officer")))
        goto fail;
    sqlite3_bind_int64(st, 1, at);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((rc = cu_grow(&p, &cap, n + 1, sizeof *p, 256, false)))
            goto fail;
        struct rep_person *r = &p[n++];
        memset(r, 0, sizeof *r);
        snprintf(r->officer, sizeof r->officer, "%s", gov_col_text(st, 0));
        snprintf(r->unit, sizeof r->unit, "%s", gov_col_text(st, 1));
        r->integrity_due = gov_col_time(st, 2, 0);
        if (r->integrity_due && r->integrity_due < at)
            r->overdue = true;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* SQLite's ORDER BY uses memcmp order for TEXT: the same as strcmp */
    if ((rc = gov_prep(g, &st, "SELECT officer, granted, expires, review FROM gov_clearance WHERE status='active'")))
        goto fail;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct rep_person *r = rep_find(p, n, gov_col_text(st, 0));
        int64_t granted = sqlite3_column_int64(st, 1), expires = sqlite3_column_int64(st, 2),
                review = gov_col_time(st, 3, 0);
        if (!r || !(granted <= at && at < expires))
            continue;
        r->in_date = true;
        if (expires > r->last_expiry)
            r->last_expiry = expires;
        if (review && review < at)
            r->overdue = true;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = gov_prep(g, &st, "SELECT officer FROM gov_review WHERE status='open' AND opened <= ?1 AND due < ?1")))
        goto fail;
    sqlite3_bind_int64(st, 1, at);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct rep_person *r = rep_find(p, n, gov_col_text(st, 0));
        if (r)
            r->overdue = true;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = gov_prep(g, &st, "SELECT i.officer FROM gov_campaign_item i JOIN gov_campaign c ON c.id = i.campaign"
                               " WHERE i.status='pending' AND c.deadline <= ?1")))
        goto fail;
    sqlite3_bind_int64(st, 1, at);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct rep_person *r = rep_find(p, n, gov_col_text(st, 0));
        if (r)
            r->recerts++;
    }
    sqlite3_finalize(st);
    st = NULL;
    pthread_mutex_unlock(&g->mu);

    order = cu_malloc((n ? n : 1) * sizeof *order);
    out->rows = cu_calloc(n + 1, sizeof *out->rows);
    if (!order || !out->rows) {
        rc = CU_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = &p[i];
    qsort(order, n, sizeof *order, cmp_unit);
    cu_gov_report_row all = {.unit = "ALL"};
    for (size_t i = 0; i < n; i++) {
        const struct rep_person *r = order[i];
        if (out->nrows == 0 || strcmp(out->rows[out->nrows - 1].unit, r->unit) != 0) {
            cu_gov_report_row *nr = &out->rows[out->nrows++];
            snprintf(nr->unit, sizeof nr->unit, "%s", r->unit);
        }
        cu_gov_report_row *row = &out->rows[out->nrows - 1];
        uint64_t v[5] = {1, r->in_date, r->in_date && r->last_expiry <= at + 90 * (int64_t)GOV_DAY, r->overdue,
                         r->recerts};
        row->workforce += v[0], all.workforce += v[0];
        row->in_date += v[1], all.in_date += v[1];
        row->expiring_90d += v[2], all.expiring_90d += v[2];
        row->overdue_reviews += v[3], all.overdue_reviews += v[3];
        row->overdue_recerts += v[4], all.overdue_recerts += v[4];
    }
    out->rows[out->nrows++] = all;
    goto done;
fail:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&g->mu);
done:
    cu_free(order);
    cu_free(p);
    if (rc)
        cu_gov_report_free(out);
    return rc;
}

void cu_gov_report_free(cu_gov_report *r)
{
    cu_free(r->rows);
    r->rows = NULL;
    r->nrows = 0;
}

static void share(uint64_t a, uint64_t b, char out[48])
{
    if (!b) {
        snprintf(out, 48, "0.0");
        return;
    }
    /* rounded half up at one decimal, in integers so the text is exact */
    uint64_t t = (a * 2000 / b + 1) / 2;
    snprintf(out, 48, "%llu.%llu", (unsigned long long)(t / 10), (unsigned long long)(t % 10));
}

cu_rc cu_gov_report_csv(const cu_gov_report *r, cu_buf *out)
{
    cu_rc rc = cu_buf_appends(out, "unit,workforce,in_date,in_date_pct,expiring_90d,overdue_reviews,"
                                   "overdue_recertifications\n");
    for (size_t i = 0; !rc && i < r->nrows; i++) {
        const cu_gov_report_row *w = &r->rows[i];
        char pct[48];
        share(w->in_date, w->workforce, pct);
        /* unit ids are plain tokens; quote anyway when one holds a comma or quote */
        bool q = strpbrk(w->unit, ",\"\n") != NULL;
        if (q) {
            rc = cu_buf_append(out, "\"", 1);
            for (const char *s = w->unit; !rc && *s; s++)
                rc = *s == '"' ? cu_buf_append(out, "\"\"", 2) : cu_buf_append(out, s, 1);
            if (!rc)
                rc = cu_buf_append(out, "\"", 1);
        } else {
            rc = cu_buf_appends(out, w->unit);
        }
        if (!rc)
            rc = cu_buf_appendf(out, ",%llu,%llu,%s,%llu,%llu,%llu\n", (unsigned long long)w->workforce,
                                (unsigned long long)w->in_date, pct, (unsigned long long)w->expiring_90d,
                                (unsigned long long)w->overdue_reviews, (unsigned long long)w->overdue_recerts);
    }
    return rc;
}

static json_t *row_json(const cu_gov_report_row *w)
{
    char pct[48];
    share(w->in_date, w->workforce, pct);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "unit", json_string(w->unit));
    json_object_set_new(o, "workforce", json_integer((json_int_t)w->workforce));
    json_object_set_new(o, "in_date", json_integer((json_int_t)w->in_date));
    json_object_set_new(o, "in_date_pct", json_real(strtod(pct, NULL)));
    json_object_set_new(o, "expiring_90d", json_integer((json_int_t)w->expiring_90d));
    json_object_set_new(o, "overdue_reviews", json_integer((json_int_t)w->overdue_reviews));
    json_object_set_new(o, "overdue_recertifications", json_integer((json_int_t)w->overdue_recerts));
    return o;
}

cu_rc cu_gov_report_json(const cu_gov_report *r, cu_buf *out)
{
    json_t *o = json_object(), *units = json_array();
    cu_rc rc = CU_ERR_NOMEM;
    if (!o || !units) {
        json_decref(units);
        goto fail;
    }
    char t[21];
    cu_time_format(r->at, t);
    json_object_set_new(o, "at", json_string(t));
    json_object_set_new(o, "units", units);
    for (size_t i = 0; i + 1 < r->nrows; i++)
        json_array_append_new(units, row_json(&r->rows[i]));
    if (r->nrows)
        json_object_set_new(o, "total", row_json(&r->rows[r->nrows - 1]));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s) {
        rc = cu_buf_appends(out, s);
        free(s);
    }
fail:
    json_decref(o);
    return rc;
}
