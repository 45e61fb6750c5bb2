/*
 * The console's views: the alert queue and triage, an alert's detail, an
 * officer's timeline against peers, who looked at a person, the network
 * graph, investigation cases, unmasking, and the audit list.
 *
 * Data: alerts, events and reference data come from the pipeline's store
 * (attached read-only as "st"; ids there are numbers, st.names maps them:
 * kind 0 officer, 1 person, 2 record, 3 case, 7 system, 8 purpose); triage
 * state, cases and unmask requests from console.db ("main").
 *
 * Invariants:
 * 1. No officer id leaves here unless that officer was unmasked by an
 *    approved request: officers are shown as "OF-" + 10 hex digits of
 *    HMAC-SHA-256(console key, id), also inside alert reasons.
 * 2. An officer named in a path or query is resolved from a pseudonym (or
 *    an unmasked id); a masked officer's real id is refused, so typing ids
 *    cannot be used to learn the mapping.
 * 3. An unmask request is approved or refused only by a supervisor who is
 *    not the one who asked, and only once.
 * 4. Every list is bounded (LIST_MAX rows).
 */
#include "console_int.h"

#include "custos/event.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ============================================================ pseudonyms */

void officer_pseudonym(const cu_console *c, const char *officer, char out[16])
{
    uint8_t mac[CU_SHA256_LEN];
    char hex[2 * CU_SHA256_LEN + 1];
    if (cu_hmac_sha256(c->key, sizeof c->key, officer, strlen(officer), mac)) {
        snprintf(out, 16, "OF-?");
        return;
    }
    cu_hex_encode(mac, 5, hex);
    memcpy(out, "OF-", 3);
    for (int i = 0; i < 10; i++)
        out[3 + i] = hex[i] >= 'a' && hex[i] <= 'f' ? (char)(hex[i] - 'a' + 'A') : hex[i];
    out[13] = '\0';
}

/* The approved unmask case for an officer, or 0. */
static int64_t unmasked_case(ctx *x, const char *officer)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(x->c->db, "SELECT case_id FROM unmask WHERE officer = ? AND state = 'approved' LIMIT 1", -1,
                           &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, officer, -1, SQLITE_STATIC);
    int64_t c = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return c;
}

void officer_display(ctx *x, const char *officer, char *out, size_t cap, bool *unmasked)
{
    bool u = unmasked_case(x, officer) != 0;
    if (u) {
        snprintf(out, cap, "%s", officer);
    } else {
        char p[16];
        officer_pseudonym(x->c, officer, p);
        snprintf(out, cap, "%s", p);
    }
    if (unmasked)
        *unmasked = u;
}

static json_t *officer_json(ctx *x, const char *officer)
{
    char label[80];
    bool u = false;
    officer_display(x, officer, label, sizeof label, &u);
    return json_pack("{s:s, s:b}", "id", label, "unmasked", u);
}

static int cmp_pseudo(const void *a, const void *b)
{
    return strcmp(((const struct pseudo *)a)->pseudo, ((const struct pseudo *)b)->pseudo);
}

/* (Re)build the pseudonym map when the store knows more officers than it
 * was built from. */
static bool pseudo_map(ctx *x)
{
    cu_console *c = x->c;
    sqlite3_stmt *st = cx_prep(x, "SELECT count(*) FROM st.names WHERE kind = 0");
    if (!st)
        return false;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (n == c->pseudo_officers && c->pseudos)
        return true;
    struct pseudo *m = cu_calloc((size_t)n + 1, sizeof *m);
    if (!m) {
        cx_error(x, 500, "out of memory");
        return false;
    }
    size_t k = 0;
    st = cx_prep(x, "SELECT name FROM st.names WHERE kind = 0");
    if (!st) {
        cu_free(m);
        return false;
    }
    while (k < (size_t)n && sqlite3_step(st) == SQLITE_ROW) {
        m[k].officer = cu_strdup(col_text(st, 0));
        if (!m[k].officer)
            break;
        officer_pseudonym(c, m[k].officer, m[k].pseudo);
        k++;
    }
    sqlite3_finalize(st);
    qsort(m, k, sizeof *m, cmp_pseudo);
    for (size_t i = 0; i < c->npseudos; i++)
        cu_free(c->pseudos[i].officer);
    cu_free(c->pseudos);
    c->pseudos = m;
    c->npseudos = k;
    c->pseudo_officers = n;
    return true;
}

/* The officer id behind name (a pseudonym, or an unmasked id) into out. */
static bool officer_resolve_into(ctx *x, const char *name, char *out, size_t cap)
{
    if (strncmp(name, "OF-", 3) == 0) {
        if (!pseudo_map(x))
            return false;
        struct pseudo key;
        snprintf(key.pseudo, sizeof key.pseudo, "%s", name);
        struct pseudo *hit = bsearch(&key, x->c->pseudos, x->c->npseudos, sizeof key, cmp_pseudo);
        if (hit && strcmp(hit->pseudo, name) == 0) {
            snprintf(out, cap, "%s", hit->officer);
            return true;
        }
        return false;
    }
    if (unmasked_case(x, name)) {
        snprintf(out, cap, "%s", name);
        return true;
    }
    return false;
}

/* Replace every occurrence of each officer id in text by its label. */
static json_t *mask_text(ctx *x, const char *text, json_t *officers_raw)
{
    cu_buf b;
    cu_buf_init(&b, 8192);
    const char *p = text;
    while (*p) {
        size_t best = 0;
        const char *bestid = NULL;
        size_t i;
        json_t *v;
        json_array_foreach(officers_raw, i, v)
        {
            const char *id = json_string_value(v);
            size_t n = id ? strlen(id) : 0;
            if (n && n > best && strncmp(p, id, n) == 0) {
                best = n;
                bestid = id;
            }
        }
        cu_rc rc;
        if (bestid) {
            char label[80];
            officer_display(x, bestid, label, sizeof label, NULL);
            rc = cu_buf_appends(&b, label);
            p += best;
        } else {
            rc = cu_buf_append(&b, p, 1);
            p++;
        }
        if (rc)
            break;
    }
    json_t *s = json_string(b.data ? b.data : "");
    cu_buf_free(&b);
    return s;
}

/* ============================================================ alerts */

static const char *const states[] = {"new", "assigned", "escalated", "dismissed"};

static bool state_ok(const char *s)
{
    for (size_t i = 0; i < 4; i++)
        if (strcmp(s, states[i]) == 0)
            return true;
    return false;
}

static void fmt_time(int64_t t, char out[21]) { cu_time_format(t, out); }

/* The alert JSON of the store, with officers masked.  Takes the raw JSON. */
static json_t *alert_public(ctx *x, const char *raw, bool full)
{
    json_t *a = json_loads(raw, 0, NULL);
    if (!a || !json_is_object(a)) {
        json_decref(a);
        return NULL;
    }
    json_t *offs = json_object_get(a, "officers");
    json_incref(offs);
    json_t *masked = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(offs, i, v) if (json_is_string(v)) json_array_append_new(masked, officer_json(x, json_string_value(v)));
    json_t *reasons = json_object_get(a, "reasons");
    json_t *mreasons = json_array();
    json_array_foreach(reasons, i, v) if (json_is_string(v)) json_array_append_new(mreasons, mask_text(x, json_string_value(v), offs));
    json_object_set_new(a, "officers", masked);
    json_object_set_new(a, "reasons", mreasons);
    json_t *evs = json_object_get(a, "events");
    json_object_set_new(a, "nevents", json_integer((json_int_t)json_array_size(evs)));
    if (!full)
        json_object_del(a, "events");
    json_decref(offs);
    return a;
}

static void add_state(json_t *a, sqlite3_stmt *st, int col)
{
    json_object_set_new(a, "state", json_string(sqlite3_column_type(st, col) == SQLITE_NULL ? "new" : col_text(st, col)));
    if (sqlite3_column_type(st, col + 1) != SQLITE_NULL)
        json_object_set_new(a, "assignee", json_string(col_text(st, col + 1)));
    if (sqlite3_column_type(st, col + 2) != SQLITE_NULL)
        json_object_set_new(a, "state_reason", json_string(col_text(st, col + 2)));
}

void h_alerts(ctx *x)
{
    const char *state = cx_query(x, "state");
    const char *kind = cx_query(x, "kind");
    const char *sort = cx_query(x, "sort");
    const char *order = cx_query(x, "order");
    const char *officer = cx_query(x, "officer");
    int64_t limit, offset;
    if (!cx_query_int(x, "limit", 1, LIST_MAX, 100, &limit) || !cx_query_int(x, "offset", 0, INT32_MAX, 0, &offset))
        return;
    if (state && *state && strcmp(state, "open") != 0 && strcmp(state, "all") != 0 && !state_ok(state)) {
        cx_error(x, 400, "state must be new, assigned, escalated, dismissed, open or all");
        return;
    }
    const char *by = "a.score DESC, a.num DESC";
    bool asc = order && strcmp(order, "asc") == 0;
    if (order && *order && !asc && strcmp(order, "desc") != 0) {
        cx_error(x, 400, "order must be asc or desc");
        return;
    }
    if (!sort || !*sort || strcmp(sort, "score") == 0)
        by = asc ? "a.score ASC, a.num ASC" : "a.score DESC, a.num DESC";
    else if (strcmp(sort, "raised_at") == 0)
        by = asc ? "a.raised_at ASC, a.num ASC" : "a.raised_at DESC, a.num DESC";
    else if (strcmp(sort, "kind") == 0)
        by = asc ? "a.kind ASC, a.score DESC" : "a.kind DESC, a.score DESC";
    else {
        cx_error(x, 400, "sort must be score, raised_at or kind");
        return;
    }
    char oid[128] = "";
    if (officer && *officer && !officer_resolve_into(x, officer, oid, sizeof oid)) {
        if (x->resp->status == 200)
            cx_error(x, 404, "no officer %s (officers are named by pseudonym until unmasked)", officer);
        return;
    }
    const char *st_filter = !state || !*state || strcmp(state, "all") == 0 ? NULL : state;
    const char *where =
        " FROM st.alert a LEFT JOIN main.alert_state s ON s.alert = 'A' || a.num"
        " WHERE (?1 IS NULL OR (?1 = 'open' AND coalesce(s.state, 'new') <> 'dismissed') OR coalesce(s.state, 'new') = ?1)"
        " AND (?2 IS NULL OR a.kind = ?2)"
        " AND (?3 IS NULL OR a.num IN (SELECT x.num FROM st.alert_officer x JOIN st.names n ON n.kind = 0 AND"
        " n.num = x.officer WHERE n.name = ?3))";
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT a.json, s.state, s.assignee, s.reason%s ORDER BY %s LIMIT ?4 OFFSET ?5", where, by);
    sqlite3_stmt *st = cx_prep(x, sql);
    if (!st)
        return;
    sqlite3_bind_text(st, 1, st_filter, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind && *kind ? kind : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, oid[0] ? oid : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, limit);
    sqlite3_bind_int64(st, 5, offset);
    json_t *arr = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *a = alert_public(x, col_text(st, 0), false);
        if (!a)
            continue;
        add_state(a, st, 1);
        json_array_append_new(arr, a);
    }
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql, "SELECT count(*)%s", where);
    json_int_t total = 0;
    if ((st = cx_prep(x, sql))) {
        sqlite3_bind_text(st, 1, st_filter, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, kind && *kind ? kind : NULL, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, oid[0] ? oid : NULL, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            total = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    json_t *counts = json_pack("{s:i, s:i, s:i, s:i}", "new", 0, "assigned", 0, "escalated", 0, "dismissed", 0);
    if ((st = cx_prep(x, "SELECT coalesce(s.state, 'new'), count(*) FROM st.alert a LEFT JOIN main.alert_state s"
                         " ON s.alert = 'A' || a.num GROUP BY 1"))) {
        while (sqlite3_step(st) == SQLITE_ROW)
            json_object_set_new(counts, col_text(st, 0), json_integer(sqlite3_column_int64(st, 1)));
        sqlite3_finalize(st);
    }
    json_t *kinds = json_array();
    if ((st = cx_prep(x, "SELECT DISTINCT kind FROM st.alert ORDER BY kind"))) {
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(kinds, json_string(col_text(st, 0)));
        sqlite3_finalize(st);
    }
    cx_json(x, 200, json_pack("{s:o, s:I, s:o, s:o}", "alerts", arr, "total", total, "counts", counts, "kinds", kinds));
}

/* "A17" -> 17; 0 when not an alert id. */
static int64_t alert_num(const char *id)
{
    if (id[0] != 'A' || !id[1] || strlen(id) > 19)
        return 0;
    int64_t n = 0;
    for (const char *p = id + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        n = n * 10 + (*p - '0');
    }
    return n;
}

/* The raw alert JSON and state row, or a 404 sent. */
static sqlite3_stmt *alert_row(ctx *x, const char *id)
{
    int64_t num = alert_num(id);
    sqlite3_stmt *st = cx_prep(x, "SELECT a.json, s.state, s.assignee, s.reason FROM st.alert a"
                                  " LEFT JOIN main.alert_state s ON s.alert = ?2 WHERE a.num = ?1");
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, num);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        cx_error(x, 404, "no alert %s", id);
        return NULL;
    }
    return st;
}

static json_t *event_json(ctx *x, sqlite3_stmt *st, int c0)
{
    /* columns from c0: ts, eid, officer name, action, outcome, record, case, system, purpose, results */
    char when[21];
    fmt_time(sqlite3_column_int64(st, c0), when);
    json_t *e = json_pack("{s:s, s:s, s:o, s:s, s:s}", "ts", when, "id", col_text(st, c0 + 1), "officer",
                          officer_json(x, col_text(st, c0 + 2)), "action",
                          cu_action_name((cu_action)sqlite3_column_int(st, c0 + 3)), "outcome",
                          sqlite3_column_int(st, c0 + 4) == CU_OUT_DENY ? "deny" : "allow");
    static const char *const names[] = {"record", "case", "system", "purpose"};
    for (int i = 0; i < 4; i++)
        json_object_set_new(e, names[i], sqlite3_column_type(st, c0 + 5 + i) == SQLITE_NULL
                                             ? json_null()
                                             : json_string(col_text(st, c0 + 5 + i)));
    if (sqlite3_column_type(st, c0 + 9) != SQLITE_NULL)
        json_object_set_new(e, "results", json_integer(sqlite3_column_int64(st, c0 + 9)));
    return e;
}

#define EVENT_COLS                                                                                        \
    "e.ts, e.eid, o.name, e.action, e.outcome, r.name, c.name, sy.name, pu.name, e.results"
/* The store's key tables (event_officer, event_subject, ...) are ordered by
 * (win, key, idx): a lookup by key seeks once per window (docs/store.md). */
#define IN_WINDOWS "win IN (SELECT win FROM st.event_window) "
#define OFFICER_IDX(key) "(SELECT idx FROM st.event_officer WHERE " IN_WINDOWS "AND officer = " key ")"

#define EVENT_JOINS                                                                                       \
    " JOIN st.names o ON o.kind = 0 AND o.num = e.officer"                                                \
    " LEFT JOIN st.names r ON r.kind = 2 AND r.num = e.record"                                            \
    " LEFT JOIN st.names c ON c.kind = 3 AND c.num = e.case_"                                             \
    " LEFT JOIN st.names sy ON sy.kind = 7 AND sy.num = e.system"                                         \
    " LEFT JOIN st.names pu ON pu.kind = 8 AND pu.num = e.purpose"

void h_alert(ctx *x)
{
    const char *id = x->params[0];
    sqlite3_stmt *row = alert_row(x, id);
    if (!row)
        return;
    json_t *raw = json_loads(col_text(row, 0), 0, NULL);
    json_t *a = alert_public(x, col_text(row, 0), true);
    if (!a || !raw) {
        sqlite3_finalize(row);
        json_decref(raw);
        json_decref(a);
        cx_error(x, 500, "stored alert %s is not JSON", id);
        return;
    }
    add_state(a, row, 1);
    sqlite3_finalize(row);
    /* the events: the alert's officers' events between its first and last
     * event, those the alert lists (found through the officer index) */
    int64_t t0 = 0, t1 = 0;
    const char *f = json_string_value(json_object_get(raw, "first_event"));
    const char *l = json_string_value(json_object_get(raw, "last_event"));
    json_t *evs = json_array();
    json_t *ids = json_object_get(raw, "events");
    if (f && l && !cu_time_parse(f, strlen(f), &t0) && !cu_time_parse(l, strlen(l), &t1)) {
        sqlite3_stmt *st = cx_prep(x, "SELECT " EVENT_COLS ", e.idx FROM st.event e" EVENT_JOINS
                                      " WHERE e.idx IN " OFFICER_IDX("(SELECT num FROM st.names WHERE kind = 0 AND name = ?1)")
                                      " AND e.ts BETWEEN ?2 AND ?3 ORDER BY e.idx LIMIT 20000");
        size_t i;
        json_t *v, *o;
        json_array_foreach(json_object_get(raw, "officers"), i, o)
        {
            if (!st)
                break;
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, json_string_value(o), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, t0);
            sqlite3_bind_int64(st, 3, t1);
            while (sqlite3_step(st) == SQLITE_ROW && json_array_size(evs) < LIST_MAX) {
                const char *eid = col_text(st, 1);
                bool listed = false;
                size_t k;
                json_array_foreach(ids, k, v) if (json_is_string(v) && strcmp(json_string_value(v), eid) == 0) listed = true;
                if (listed)
                    json_array_append_new(evs, event_json(x, st, 0));
            }
        }
        if (st)
            sqlite3_finalize(st);
    }
    json_object_set_new(a, "event_details", evs);
    /* the people with their protected-register flags (activist, witness,
     * ...): what makes a look-up sensitive, in words */
    json_t *people = json_array();
    sqlite3_stmt *ps = cx_prep(x, "SELECT p.flags FROM st.ref_person p JOIN st.names n ON n.kind = 1 AND"
                                  " n.num = p.id WHERE n.name = ?");
    size_t pi;
    json_t *pv;
    json_array_foreach(json_object_get(raw, "subjects"), pi, pv)
    {
        json_t *flags = json_array();
        if (ps && json_is_string(pv)) {
            sqlite3_reset(ps);
            sqlite3_bind_text(ps, 1, json_string_value(pv), -1, SQLITE_TRANSIENT);
            if (sqlite3_step(ps) == SQLITE_ROW) {
                uint32_t fl = (uint32_t)sqlite3_column_int64(ps, 0);
                for (int b = 0; b < 32; b++)
                    if (fl & (1u << b) && cu_person_flag_name(1u << b))
                        json_array_append_new(flags, json_string(cu_person_flag_name(1u << b)));
            }
        }
        json_array_append_new(people, json_pack("{s:O, s:o}", "id", pv, "flags", flags));
    }
    if (ps)
        sqlite3_finalize(ps);
    json_object_set_new(a, "people", people);
    json_decref(raw);
    /* triage history and cases */
    json_t *hist = json_array();
    sqlite3_stmt *st = cx_prep(x, "SELECT ts, user, from_state, to_state, assignee, reason FROM alert_history"
                                  " WHERE alert = ? ORDER BY ts, rowid");
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            char when[21];
            fmt_time(sqlite3_column_int64(st, 0), when);
            json_array_append_new(hist, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?}", "ts", when, "user",
                                                  col_text(st, 1), "from", col_text(st, 2), "to", col_text(st, 3),
                                                  "assignee", (const char *)sqlite3_column_text(st, 4), "reason",
                                                  (const char *)sqlite3_column_text(st, 5)));
        }
        sqlite3_finalize(st);
    }
    json_object_set_new(a, "history", hist);
    json_t *cases = json_array();
    if ((st = cx_prep(x, "SELECT c.id, c.title FROM case_alert ca JOIN inv_case c ON c.id = ca.case_id"
                         " WHERE ca.alert = ? ORDER BY c.id"))) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(cases, json_pack("{s:I, s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                                                   "title", col_text(st, 1)));
        sqlite3_finalize(st);
    }
    json_object_set_new(a, "cases", cases);
    cx_json(x, 200, a);
}

void h_alert_state(ctx *x)
{
    const char *id = x->params[0];
    const char *to = cx_body_str(x, "state", 16, true);
    if (!to)
        return;
    const char *reason = cx_body_str(x, "reason", 1024, false);
    if (x->resp->status != 200)
        return;
    const char *assignee = cx_body_str(x, "assignee", CU_CONSOLE_USER_MAX, false);
    if (x->resp->status != 200)
        return;
    if (!state_ok(to)) {
        cx_error(x, 400, "state must be new, assigned, escalated or dismissed");
        return;
    }
    if (strcmp(to, "dismissed") == 0 && (!reason || strlen(reason) < 3)) {
        cx_error(x, 400, "dismissing an alert needs a reason");
        return;
    }
    if (strcmp(to, "assigned") == 0 && (!assignee || !*assignee))
        assignee = x->s.user;
    if (strcmp(to, "assigned") != 0 && strcmp(to, "escalated") != 0)
        assignee = NULL;
    sqlite3_stmt *row = alert_row(x, id);
    if (!row)
        return;
    char from[16];
    snprintf(from, sizeof from, "%s", sqlite3_column_type(row, 1) == SQLITE_NULL ? "new" : col_text(row, 1));
    sqlite3_finalize(row);
    sqlite3_stmt *st = cx_prep(x, "INSERT INTO alert_state(alert, state, assignee, reason, updated, updated_by)"
                                  " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(alert) DO UPDATE SET state = ?2,"
                                  " assignee = ?3, reason = ?4, updated = ?5, updated_by = ?6");
    if (!st)
        return;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, assignee, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, x->now);
    sqlite3_bind_text(st, 6, x->s.user, -1, SQLITE_STATIC);
    if (!cx_done(x, st))
        return;
    st = cx_prep(x, "INSERT INTO alert_history(alert, ts, user, from_state, to_state, assignee, reason)"
                    " VALUES(?,?,?,?,?,?,?)");
    if (!st)
        return;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, x->now);
    sqlite3_bind_text(st, 3, x->s.user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, assignee, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, reason, -1, SQLITE_STATIC);
    if (!cx_done(x, st))
        return;
    snprintf(x->action, sizeof x->action, "alert %s %s->%s%s%s%s%s", id, from, to, assignee ? " to " : "",
             assignee ? assignee : "", reason ? ": " : "", reason ? reason : "");
    cx_json(x, 200, json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "id", id, "from", from, "state", to, "assignee", assignee,
                              "reason", reason));
}

/* ============================================================ timeline */

#define PEERS_MAX 50
#define DAYS_MAX 366

struct series {
    double hours[24], wdays[7];
    double *days;
};

static int weekday(int64_t t) /* 0 = Monday */
{
    int64_t d = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    return (int)(((d % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
}

void h_officer_timeline(ctx *x)
{
    char oid[128];
    if (!officer_resolve_into(x, x->params[0], oid, sizeof oid)) {
        if (x->resp->status == 200)
            cx_error(x, 404, "no officer %s (officers are named by pseudonym until unmasked)", x->params[0]);
        return;
    }
    int64_t ndays;
    if (!cx_query_int(x, "days", 1, DAYS_MAX, 28, &ndays))
        return;
    sqlite3_stmt *st = cx_prep(x, "SELECT o.num, u.name, o2.role, ar.name, o2.shift FROM st.names o"
                                  " LEFT JOIN st.ref_officer o2 ON o2.id = o.num"
                                  " LEFT JOIN st.names u ON u.kind = 6 AND u.num = o2.unit"
                                  " LEFT JOIN st.names ar ON ar.kind = 5 AND ar.num = o2.area"
                                  " WHERE o.kind = 0 AND o.name = ?");
    if (!st)
        return;
    sqlite3_bind_text(st, 1, oid, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        cx_error(x, 404, "no officer %s", x->params[0]);
        return;
    }
    int64_t onum = sqlite3_column_int64(st, 0);
    char unit[128], role[64], area[64];
    snprintf(unit, sizeof unit, "%s", col_text(st, 1));
    snprintf(role, sizeof role, "%s", col_text(st, 2));
    snprintf(area, sizeof area, "%s", col_text(st, 3));
    static const char *const shifts[] = {"", "days", "earlies", "lates", "nights", "office"};
    int shift = sqlite3_column_int(st, 4);
    sqlite3_finalize(st);
    /* the window: ndays ending at the officer's last event */
    int64_t to = 0, first = 0;
    if (!(st = cx_prep(x, "SELECT min(ts), max(ts) FROM st.event WHERE idx IN " OFFICER_IDX("?1"))))
        return;
    sqlite3_bind_int64(st, 1, onum);
    if (sqlite3_step(st) == SQLITE_ROW) {
        first = sqlite3_column_int64(st, 0);
        to = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    int64_t day1 = (to / 86400 + 1) * 86400; /* end of the last day */
    int64_t from = day1 - ndays * 86400;
    if (from < first / 86400 * 86400) { /* no empty days before the officer's first event */
        from = first / 86400 * 86400;
        ndays = (day1 - from) / 86400;
    }
    /* peers: same unit, else same role and area */
    int64_t peers[PEERS_MAX];
    size_t npeers = 0;
    const char *basis = unit[0] ? "unit" : "role and area";
    if (!(st = cx_prep(x, unit[0] ? "SELECT p.id FROM st.ref_officer p, st.ref_officer me WHERE me.id = ?1"
                                    " AND p.unit = me.unit AND p.id <> ?1 ORDER BY p.id LIMIT 50"
                                  : "SELECT p.id FROM st.ref_officer p, st.ref_officer me WHERE me.id = ?1"
                                    " AND p.role = me.role AND p.area = me.area AND p.id <> ?1 ORDER BY p.id LIMIT 50")))
        return;
    sqlite3_bind_int64(st, 1, onum);
    while (npeers < PEERS_MAX && sqlite3_step(st) == SQLITE_ROW)
        peers[npeers++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    /* counts: me, and per peer */
    struct series *s = cu_calloc(npeers + 1, sizeof *s);
    double *daybuf = cu_calloc((npeers + 1) * (size_t)ndays, sizeof(double));
    json_t *events = json_array();
    if (!s || !daybuf) {
        cu_free(s);
        cu_free(daybuf);
        json_decref(events);
        cx_error(x, 500, "out of memory");
        return;
    }
    for (size_t k = 0; k <= npeers; k++)
        s[k].days = daybuf + k * (size_t)ndays;
    st = cx_prep(x, "SELECT " EVENT_COLS " FROM st.event e" EVENT_JOINS " WHERE e.idx IN " OFFICER_IDX("?1")
                    " AND e.ts >= ?2 AND e.ts < ?3 ORDER BY e.idx");
    for (size_t k = 0; st && k <= npeers; k++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, k == 0 ? onum : peers[k - 1]);
        sqlite3_bind_int64(st, 2, from);
        sqlite3_bind_int64(st, 3, day1);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int64_t t = sqlite3_column_int64(st, 0);
            s[k].hours[(t % 86400) / 3600] += 1;
            s[k].wdays[weekday(t)] += 1;
            s[k].days[(t - from) / 86400] += 1;
            if (k == 0)
                json_array_append_new(events, event_json(x, st, 0));
        }
    }
    if (st)
        sqlite3_finalize(st);
    /* while the officer's event list is long, keep its newest LIST_MAX */
    while (json_array_size(events) > LIST_MAX)
        json_array_remove(events, 0);
    /* mean and standard deviation of peers; anomalous = above mean + 3 sd
     * (sd at least 1) and at least 3 events */
    json_t *hours = json_array(), *wdays = json_array(), *days = json_array();
    for (int pass = 0; pass < 3; pass++) {
        size_t n = pass == 0 ? 24 : pass == 1 ? 7 : (size_t)ndays;
        for (size_t i = 0; i < n; i++) {
            double me = pass == 0 ? s[0].hours[i] : pass == 1 ? s[0].wdays[i] : s[0].days[i];
            double sum = 0, sq = 0;
            for (size_t k = 1; k <= npeers; k++) {
                double v = pass == 0 ? s[k].hours[i] : pass == 1 ? s[k].wdays[i] : s[k].days[i];
                sum += v;
                sq += v * v;
            }
            double mean = npeers ? sum / (double)npeers : 0;
            double var = npeers ? sq / (double)npeers - mean * mean : 0;
            double sd = var > 0 ? sqrt(var) : 0;
            bool anom = npeers > 0 && me >= 3 && me > mean + 3 * (sd < 1 ? 1 : sd);
            json_t *o = json_pack("{s:f, s:f, s:f, s:b}", "officer", me, "peer_mean", round(mean * 100) / 100,
                                  "peer_sd", round(sd * 100) / 100, "anomalous", anom);
            if (pass == 0) {
                json_object_set_new(o, "hour", json_integer((json_int_t)i));
                json_array_append_new(hours, o);
            } else if (pass == 1) {
                static const char *const wd[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
                json_object_set_new(o, "day", json_string(wd[i]));
                json_array_append_new(wdays, o);
            } else {
                char d[11];
                cu_date_format(from + (int64_t)i * 86400, d);
                json_object_set_new(o, "date", json_string(d));
                json_array_append_new(days, o);
            }
        }
    }
    cu_free(daybuf);
    cu_free(s);
    /* this officer's alerts */
    json_t *alerts = json_array();
    if ((st = cx_prep(x, "SELECT a.num, a.kind, a.score, a.raised_at, coalesce(s.state, 'new') FROM st.alert_officer x"
                         " JOIN st.alert a ON a.num = x.num LEFT JOIN main.alert_state s ON s.alert = 'A' || a.num"
                         " WHERE x.officer = ? ORDER BY a.raised_at LIMIT 500"))) {
        sqlite3_bind_int64(st, 1, onum);
        while (sqlite3_step(st) == SQLITE_ROW) {
            char aid[32], when[21];
            snprintf(aid, sizeof aid, "A%lld", (long long)sqlite3_column_int64(st, 0));
            fmt_time(sqlite3_column_int64(st, 3), when);
            json_array_append_new(alerts, json_pack("{s:s, s:s, s:f, s:s, s:s}", "id", aid, "kind", col_text(st, 1),
                                                    "score", sqlite3_column_double(st, 2), "raised_at", when, "state",
                                                    col_text(st, 4)));
        }
        sqlite3_finalize(st);
    }
    char f1[21], f2[21];
    fmt_time(from, f1);
    fmt_time(day1, f2);
    json_t *me = officer_json(x, oid);
    json_object_set_new(me, "unit", json_string(unit));
    json_object_set_new(me, "role", json_string(role));
    json_object_set_new(me, "area", json_string(area));
    json_object_set_new(me, "shift", json_string(shift >= 0 && shift < 6 ? shifts[shift] : ""));
    cx_json(x, 200,
            json_pack("{s:o, s:{s:s, s:s, s:I}, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "officer", me, "peer_group",
                      "basis", basis, "value", unit[0] ? unit : role, "size", (json_int_t)npeers, "from", f1, "to", f2,
                      "hours", hours, "weekdays", wdays, "days", days, "alerts", alerts, "events", events));
}

/* ============================================================ who looked at a person */

void h_person_accesses(ctx *x)
{
    const char *pid = x->params[0];
    sqlite3_stmt *st = cx_prep(x, "SELECT n.num, p.flags, ar.name FROM st.names n LEFT JOIN st.ref_person p ON"
                                  " p.id = n.num LEFT JOIN st.names ar ON ar.kind = 5 AND ar.num = p.area"
                                  " WHERE n.kind = 1 AND n.name = ?");
    if (!st)
        return;
    sqlite3_bind_text(st, 1, pid, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        cx_error(x, 404, "no person %s in the store", pid);
        return;
    }
    int64_t pnum = sqlite3_column_int64(st, 0);
    uint32_t flags = (uint32_t)sqlite3_column_int64(st, 1);
    json_t *person = json_pack("{s:s, s:s, s:o}", "id", pid, "area", col_text(st, 2), "flags", json_array());
    sqlite3_finalize(st);
    for (unsigned b = 0; b < 32; b++)
        if (flags & (1u << b))
            json_array_append_new(json_object_get(person, "flags"), json_string(cu_person_flag_name(1u << b)));
    /* declared relations */
    json_t *rel = json_array();
    if ((st = cx_prep(x, "SELECT o.name, r.type FROM st.ref_relation r JOIN st.names o ON o.kind = 0 AND o.num ="
                         " r.officer WHERE r.person = ? LIMIT 100"))) {
        sqlite3_bind_int64(st, 1, pnum);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(rel, json_pack("{s:o, s:s}", "officer", officer_json(x, col_text(st, 0)), "type",
                                                 col_text(st, 1)));
        sqlite3_finalize(st);
    }
    json_object_set_new(person, "declared_relations", rel);
    /* every access, newest first, with whether it is explained by a case */
    json_t *acc = json_array();
    json_int_t unexplained = 0, total = 0;
    if (!(st = cx_prep(x, "SELECT " EVENT_COLS ","
                          " e.case_ IS NOT NULL AND EXISTS(SELECT 1 FROM st.ref_case_link l WHERE l.case_ = e.case_"
                          "   AND l.kind = 1 AND l.target = ?1),"
                          " e.case_ IS NOT NULL AND (SELECT op FROM st.ref_assignment g WHERE g.case_ = e.case_ AND"
                          "   g.officer = e.officer AND g.ts <= e.ts ORDER BY g.ts DESC, g.source DESC, g.seq DESC LIMIT 1) = 1,"
                          " EXISTS(SELECT 1 FROM st.ref_relation rr WHERE rr.officer = e.officer AND rr.person = ?1)"
                          " FROM st.event_subject es JOIN st.event e ON e.idx = es.idx" EVENT_JOINS
                          " WHERE es." IN_WINDOWS "AND es.person = ?1 ORDER BY es.idx DESC"))) {
        json_decref(person);
        json_decref(acc);
        return;
    }
    sqlite3_bind_int64(st, 1, pnum);
    while (sqlite3_step(st) == SQLITE_ROW) {
        total++;
        bool linked = sqlite3_column_int(st, 10), assigned = sqlite3_column_int(st, 11);
        bool related = sqlite3_column_int(st, 12);
        bool has_case = sqlite3_column_type(st, 6) != SQLITE_NULL;
        bool explained = linked && assigned;
        const char *why = explained ? "cites a case that links this person, and the officer was assigned to it"
                          : linked  ? "cites a case that links this person, but the officer was not assigned to it"
                          : has_case ? "cites a case that does not link this person"
                                     : "no case cited";
        if (!explained)
            unexplained++;
        if (json_array_size(acc) >= LIST_MAX)
            continue;
        json_t *e = event_json(x, st, 0);
        json_object_set_new(e, "explained", json_boolean(explained));
        json_object_set_new(e, "explanation", json_string(why));
        if (related)
            json_object_set_new(e, "declared_relation", json_true());
        json_array_append_new(acc, e);
    }
    sqlite3_finalize(st);
    /* console users who opened this person */
    json_t *views = json_array();
    if ((st = cx_prep(x, "SELECT ts, user, role, route FROM audit WHERE route = ? ORDER BY ledger_index DESC LIMIT 200"))) {
        char route[512];
        snprintf(route, sizeof route, "/v1/console/persons/%s/accesses", pid);
        sqlite3_bind_text(st, 1, route, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW) {
            char when[21];
            fmt_time(sqlite3_column_int64(st, 0), when);
            json_array_append_new(views, json_pack("{s:s, s:s, s:s}", "ts", when, "user", col_text(st, 1), "role",
                                                   col_text(st, 2)));
        }
        sqlite3_finalize(st);
    }
    cx_json(x, 200, json_pack("{s:o, s:I, s:I, s:o, s:o}", "person", person, "total", total, "unexplained", unexplained,
                              "accesses", acc, "console_views", views));
}

/* ============================================================ network graph */

#define GRAPH_NODES_MAX 400

struct gnode {
    char name[80];
    bool officer, alerted, ring;
    int degree;
};
struct gedge {
    int a, b; /* officer, person */
    int weight;
    bool in_alert, ring;
};
struct graph {
    struct gnode *n;
    size_t nn;
    struct gedge *e;
    size_t ne;
};

static int gnode(struct graph *g, const char *name, bool officer)
{
    for (size_t i = 0; i < g->nn; i++)
        if (g->n[i].officer == officer && strcmp(g->n[i].name, name) == 0)
            return (int)i;
    if (g->nn >= GRAPH_NODES_MAX)
        return -1;
    struct gnode *n = &g->n[g->nn];
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->officer = officer;
    return (int)g->nn++;
}

static struct gedge *gedge(struct graph *g, int a, int b)
{
    for (size_t i = 0; i < g->ne; i++)
        if (g->e[i].a == a && g->e[i].b == b)
            return &g->e[i];
    if (g->ne >= GRAPH_NODES_MAX * 4)
        return NULL;
    struct gedge *e = &g->e[g->ne++];
    memset(e, 0, sizeof *e);
    e->a = a;
    e->b = b;
    return e;
}

void h_graph(ctx *x)
{
    const char *officer = cx_query(x, "officer");
    const char *alert = cx_query(x, "alert");
    int64_t anum = alert && *alert ? alert_num(alert) : 0;
    if (alert && *alert && !anum) {
        cx_error(x, 400, "alert must be an alert id such as A17");
        return;
    }
    int64_t nalerts;
    if (!cx_query_int(x, "alerts", 1, 500, 100, &nalerts))
        return;
    char oid[128] = "";
    if (officer && *officer && !officer_resolve_into(x, officer, oid, sizeof oid)) {
        if (x->resp->status == 200)
            cx_error(x, 404, "no officer %s", officer);
        return;
    }
    struct graph g = {0};
    g.n = cu_calloc(GRAPH_NODES_MAX, sizeof *g.n);
    g.e = cu_calloc(GRAPH_NODES_MAX * 4, sizeof *g.e);
    if (!g.n || !g.e) {
        cu_free(g.n);
        cu_free(g.e);
        cx_error(x, 500, "out of memory");
        return;
    }
    /* 1. the alerts (most urgent first, not dismissed): officer-person pairs */
    sqlite3_stmt *st = cx_prep(
        x, "SELECT a.json, a.kind FROM st.alert a LEFT JOIN main.alert_state s ON s.alert = 'A' || a.num"
           " WHERE coalesce(s.state, 'new') <> 'dismissed' AND (?1 IS NULL OR a.num IN (SELECT y.num FROM"
           " st.alert_officer y JOIN st.names n ON n.kind = 0 AND n.num = y.officer WHERE n.name = ?1))"
           " AND (?3 IS NULL OR a.num = ?3)"
           " ORDER BY a.score DESC, a.num DESC LIMIT ?2");
    json_t *rings = json_array();
    if (st) {
        sqlite3_bind_text(st, 1, oid[0] ? oid : NULL, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, nalerts);
        if (anum)
            sqlite3_bind_int64(st, 3, anum);
        else
            sqlite3_bind_null(st, 3);
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_t *a = json_loads(col_text(st, 0), 0, NULL);
            bool ring = strstr(col_text(st, 1), "ring") || strstr(col_text(st, 1), "collu");
            size_t i, j;
            json_t *o, *p;
            json_array_foreach(json_object_get(a, "officers"), i, o)
            {
                int oi = gnode(&g, json_string_value(o) ? json_string_value(o) : "?", true);
                if (oi < 0)
                    continue;
                g.n[oi].alerted = true;
                g.n[oi].ring |= ring;
                json_array_foreach(json_object_get(a, "subjects"), j, p)
                {
                    int pi = gnode(&g, json_string_value(p) ? json_string_value(p) : "?", false);
                    if (pi < 0)
                        continue;
                    g.n[pi].alerted = true;
                    g.n[pi].ring |= ring;
                    struct gedge *e = gedge(&g, oi, pi);
                    if (e) {
                        e->in_alert = true;
                        e->ring |= ring;
                    }
                }
            }
            if (ring)
                json_array_append_new(rings, json_string(json_string_value(json_object_get(a, "id"))));
            json_decref(a);
        }
        sqlite3_finalize(st);
    }
    /* 2. everyone else who accessed those people, with access counts */
    size_t persons = g.nn;
    st = cx_prep(x, "SELECT o.name, count(*) FROM st.event_subject es JOIN st.event e ON e.idx = es.idx"
                    " JOIN st.names o ON o.kind = 0 AND o.num = e.officer WHERE es." IN_WINDOWS "AND es.person ="
                    " (SELECT num FROM st.names WHERE kind = 1 AND name = ?) GROUP BY e.officer"
                    " ORDER BY count(*) DESC LIMIT 25");
    for (size_t i = 0; st && i < persons; i++) {
        if (g.n[i].officer)
            continue;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, g.n[i].name, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int oi = gnode(&g, col_text(st, 0), true);
            if (oi < 0)
                break;
            struct gedge *e = gedge(&g, oi, (int)i);
            if (e)
                e->weight = sqlite3_column_int(st, 1);
        }
    }
    if (st)
        sqlite3_finalize(st);
    /* 3. structural rings: a person that two or more alerted officers
     * accessed ties those officers together */
    for (size_t i = 0; i < g.nn; i++) {
        if (g.n[i].officer)
            continue;
        int alerted = 0;
        for (size_t k = 0; k < g.ne; k++)
            if (g.e[k].b == (int)i && g.n[g.e[k].a].alerted && g.e[k].in_alert)
                alerted++;
        if (alerted >= 2) {
            g.n[i].ring = true;
            for (size_t k = 0; k < g.ne; k++)
                if (g.e[k].b == (int)i && g.n[g.e[k].a].alerted && g.e[k].in_alert) {
                    g.e[k].ring = true;
                    g.n[g.e[k].a].ring = true;
                }
        }
    }
    json_t *nodes = json_array(), *edges = json_array();
    for (size_t k = 0; k < g.ne; k++) {
        g.n[g.e[k].a].degree++;
        g.n[g.e[k].b].degree++;
    }
    for (size_t i = 0; i < g.nn; i++) {
        char label[80];
        bool u = false;
        if (g.n[i].officer)
            officer_display(x, g.n[i].name, label, sizeof label, &u);
        else
            snprintf(label, sizeof label, "%s", g.n[i].name);
        char nid[96];
        snprintf(nid, sizeof nid, "%s:%s", g.n[i].officer ? "o" : "p", label);
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:s, s:b, s:b, s:i}", "id", nid, "label", label, "type",
                                               g.n[i].officer ? "officer" : "person", "alerted", g.n[i].alerted, "ring",
                                               g.n[i].ring, "degree", g.n[i].degree));
    }
    for (size_t k = 0; k < g.ne; k++) {
        json_t *a = json_array_get(nodes, (size_t)g.e[k].a), *b = json_array_get(nodes, (size_t)g.e[k].b);
        json_array_append_new(edges, json_pack("{s:s, s:s, s:i, s:b, s:b}", "source",
                                               json_string_value(json_object_get(a, "id")), "target",
                                               json_string_value(json_object_get(b, "id")), "weight", g.e[k].weight,
                                               "in_alert", g.e[k].in_alert, "ring", g.e[k].ring));
    }
    cu_free(g.n);
    cu_free(g.e);
    cx_json(x, 200, json_pack("{s:o, s:o, s:o}", "nodes", nodes, "edges", edges, "ring_alerts", rings));
}

/* ============================================================ cases */

static bool case_id(ctx *x, int64_t *out)
{
    const char *s = x->params[0];
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v <= 0) {
        cx_error(x, 404, "no case %s", s);
        return false;
    }
    sqlite3_stmt *st = cx_prep(x, "SELECT 1 FROM inv_case WHERE id = ?");
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, v);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!found) {
        cx_error(x, 404, "no case %s", s);
        return false;
    }
    *out = v;
    return true;
}

void h_cases(ctx *x)
{
    sqlite3_stmt *st = cx_prep(x, "SELECT c.id, c.title, c.created, c.created_by,"
                                  " (SELECT count(*) FROM case_alert a WHERE a.case_id = c.id),"
                                  " (SELECT count(*) FROM case_note n WHERE n.case_id = c.id),"
                                  " (SELECT count(*) FROM unmask u WHERE u.case_id = c.id AND u.state = 'pending')"
                                  " FROM inv_case c ORDER BY c.id DESC LIMIT 500");
    if (!st)
        return;
    json_t *arr = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        char when[21];
        fmt_time(sqlite3_column_int64(st, 2), when);
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I}", "id",
                                             (json_int_t)sqlite3_column_int64(st, 0), "title", col_text(st, 1),
                                             "created", when, "created_by", col_text(st, 3), "alerts",
                                             (json_int_t)sqlite3_column_int64(st, 4), "notes",
                                             (json_int_t)sqlite3_column_int64(st, 5), "pending_unmask",
                                             (json_int_t)sqlite3_column_int64(st, 6)));
    }
    sqlite3_finalize(st);
    cx_json(x, 200, json_pack("{s:o}", "cases", arr));
}

static bool add_alert_to_case(ctx *x, int64_t cid, const char *alert)
{
    sqlite3_stmt *row = alert_row(x, alert);
    if (!row)
        return false;
    sqlite3_finalize(row);
    sqlite3_stmt *st = cx_prep(x, "INSERT OR IGNORE INTO case_alert(case_id, alert, added, added_by) VALUES(?,?,?,?)");
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, cid);
    sqlite3_bind_text(st, 2, alert, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, x->now);
    sqlite3_bind_text(st, 4, x->s.user, -1, SQLITE_STATIC);
    return cx_done(x, st);
}

void h_case_new(ctx *x)
{
    const char *title = cx_body_str(x, "title", 200, true);
    if (!title)
        return;
    const char *alert = cx_body_str(x, "alert", 32, false);
    if (x->resp->status != 200)
        return;
    if (strlen(title) < 3) {
        cx_error(x, 400, "a case title needs at least 3 characters");
        return;
    }
    sqlite3_stmt *st = cx_prep(x, "INSERT INTO inv_case(title, created, created_by) VALUES(?,?,?)");
    if (!st)
        return;
    sqlite3_bind_text(st, 1, title, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, x->now);
    sqlite3_bind_text(st, 3, x->s.user, -1, SQLITE_STATIC);
    if (!cx_done(x, st))
        return;
    int64_t cid = sqlite3_last_insert_rowid(x->c->db);
    if (alert && !add_alert_to_case(x, cid, alert))
        return;
    snprintf(x->action, sizeof x->action, "case %lld opened: %s%s%s", (long long)cid, title, alert ? " with " : "",
             alert ? alert : "");
    cx_json(x, 201, json_pack("{s:I, s:s}", "id", (json_int_t)cid, "title", title));
}

void h_case(ctx *x)
{
    int64_t cid;
    if (!case_id(x, &cid))
        return;
    sqlite3_stmt *st = cx_prep(x, "SELECT title, created, created_by FROM inv_case WHERE id = ?");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, cid);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        cx_error(x, 404, "no case");
        return;
    }
    char when[21];
    fmt_time(sqlite3_column_int64(st, 1), when);
    json_t *c = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)cid, "title", col_text(st, 0), "created", when,
                          "created_by", col_text(st, 2));
    sqlite3_finalize(st);
    json_t *alerts = json_array();
    if ((st = cx_prep(x, "SELECT a.json, s.state, s.assignee, s.reason FROM case_alert ca JOIN st.alert a ON"
                         " 'A' || a.num = ca.alert LEFT JOIN main.alert_state s ON s.alert = ca.alert"
                         " WHERE ca.case_id = ? ORDER BY a.score DESC"))) {
        sqlite3_bind_int64(st, 1, cid);
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_t *a = alert_public(x, col_text(st, 0), false);
            if (a) {
                add_state(a, st, 1);
                json_array_append_new(alerts, a);
            }
        }
        sqlite3_finalize(st);
    }
    json_object_set_new(c, "alerts", alerts);
    json_t *notes = json_array();
    if ((st = cx_prep(x, "SELECT ts, user, text FROM case_note WHERE case_id = ? ORDER BY id"))) {
        sqlite3_bind_int64(st, 1, cid);
        while (sqlite3_step(st) == SQLITE_ROW) {
            fmt_time(sqlite3_column_int64(st, 0), when);
            json_array_append_new(notes, json_pack("{s:s, s:s, s:s}", "ts", when, "user", col_text(st, 1), "text",
                                                   col_text(st, 2)));
        }
        sqlite3_finalize(st);
    }
    json_object_set_new(c, "notes", notes);
    json_t *exports = json_array();
    if ((st = cx_prep(x, "SELECT ts, user, location FROM case_export WHERE case_id = ? ORDER BY id"))) {
        sqlite3_bind_int64(st, 1, cid);
        while (sqlite3_step(st) == SQLITE_ROW) {
            fmt_time(sqlite3_column_int64(st, 0), when);
            json_array_append_new(exports, json_pack("{s:s, s:s, s:s}", "ts", when, "user", col_text(st, 1),
                                                     "location", col_text(st, 2)));
        }
        sqlite3_finalize(st);
    }
    json_object_set_new(c, "exports", exports);
    json_object_set_new(c, "export_available", json_boolean(x->c->o.export_fn != NULL));
    json_t *um = json_array();
    if ((st = cx_prep(x, "SELECT id, officer, reason, requested_by, requested_at, state, decided_by FROM unmask"
                         " WHERE case_id = ? ORDER BY id"))) {
        sqlite3_bind_int64(st, 1, cid);
        while (sqlite3_step(st) == SQLITE_ROW) {
            fmt_time(sqlite3_column_int64(st, 4), when);
            json_array_append_new(um, json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s?}", "id",
                                                (json_int_t)sqlite3_column_int64(st, 0), "officer",
                                                officer_json(x, col_text(st, 1)), "reason", col_text(st, 2),
                                                "requested_by", col_text(st, 3), "requested_at", when, "state",
                                                col_text(st, 5), "decided_by", (const char *)sqlite3_column_text(st, 6)));
        }
        sqlite3_finalize(st);
    }
    json_object_set_new(c, "unmask_requests", um);
    /* officers named in the case's alerts, for the unmask form */
    json_t *offs = json_array();
    if ((st = cx_prep(x, "SELECT DISTINCT n.name FROM case_alert ca JOIN st.alert_officer o ON 'A' || o.num ="
                         " ca.alert JOIN st.names n ON n.kind = 0 AND n.num = o.officer WHERE ca.case_id = ?"
                         " ORDER BY n.name"))) {
        sqlite3_bind_int64(st, 1, cid);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(offs, officer_json(x, col_text(st, 0)));
        sqlite3_finalize(st);
    }
    json_object_set_new(c, "officers", offs);
    cx_json(x, 200, c);
}

void h_case_alert(ctx *x)
{
    int64_t cid;
    if (!case_id(x, &cid))
        return;
    const char *alert = cx_body_str(x, "alert", 32, true);
    if (!alert || !add_alert_to_case(x, cid, alert))
        return;
    snprintf(x->action, sizeof x->action, "alert %s added to case %lld", alert, (long long)cid);
    cx_json(x, 200, json_pack("{s:I, s:s}", "case", (json_int_t)cid, "alert", alert));
}

void h_case_note(ctx *x)
{
    int64_t cid;
    if (!case_id(x, &cid))
        return;
    const char *text = cx_body_str(x, "text", 8192, true);
    if (!text)
        return;
    if (!*text) {
        cx_error(x, 400, "an empty note");
        return;
    }
    sqlite3_stmt *st = cx_prep(x, "INSERT INTO case_note(case_id, ts, user, text) VALUES(?,?,?,?)");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, cid);
    sqlite3_bind_int64(st, 2, x->now);
    sqlite3_bind_text(st, 3, x->s.user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    if (!cx_done(x, st))
        return;
    snprintf(x->action, sizeof x->action, "note added to case %lld", (long long)cid);
    cx_json(x, 201, json_pack("{s:I}", "case", (json_int_t)cid));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The ledger indexes of the events the case's alerts name, ascending and
 * without duplicates: case -> alerts (console.db) -> each alert's officers,
 * time span and event ids (the store's alert JSON) -> the officer index of
 * the store's events.  false: an error answer was sent. */
static bool case_indexes(ctx *x, int64_t cid, uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    bool ok = false;
    sqlite3_stmt *al = cx_prep(x, "SELECT a.json FROM case_alert ca JOIN st.alert a ON 'A' || a.num = ca.alert"
                                  " WHERE ca.case_id = ? ORDER BY a.num");
    sqlite3_stmt *ev = al ? cx_prep(x, "SELECT e.idx, e.eid FROM st.event e WHERE e.idx IN "
                                       OFFICER_IDX("(SELECT num FROM st.names WHERE kind = 0 AND name = ?1)")
                                       " AND e.ts BETWEEN ?2 AND ?3 ORDER BY e.idx")
                          : NULL;
    if (!al || !ev)
        goto out;
    sqlite3_bind_int64(al, 1, cid);
    while (sqlite3_step(al) == SQLITE_ROW) {
        json_t *raw = json_loads(col_text(al, 0), 0, NULL);
        const char *f = json_string_value(json_object_get(raw, "first_event"));
        const char *l = json_string_value(json_object_get(raw, "last_event"));
        json_t *ids = json_object_get(raw, "events"), *o, *v;
        int64_t t0, t1;
        size_t i, k;
        if (!f || !l || cu_time_parse(f, strlen(f), &t0) || cu_time_parse(l, strlen(l), &t1)) {
            json_decref(raw);
            continue;
        }
        json_array_foreach(json_object_get(raw, "officers"), i, o)
        {
            sqlite3_reset(ev);
            sqlite3_bind_text(ev, 1, json_string_value(o), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ev, 2, t0);
            sqlite3_bind_int64(ev, 3, t1);
            while (sqlite3_step(ev) == SQLITE_ROW) {
                const char *eid = col_text(ev, 1);
                bool listed = false;
                json_array_foreach(ids, k, v) if (json_is_string(v) && strcmp(json_string_value(v), eid) == 0) listed = true;
                if (!listed)
                    continue;
                if (cu_grow(out, &cap, *n + 1, sizeof **out, 64, false)) {
                    json_decref(raw);
                    cx_error(x, 500, "out of memory");
                    goto out;
                }
                (*out)[(*n)++] = (uint64_t)sqlite3_column_int64(ev, 0);
            }
        }
        json_decref(raw);
    }
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_u64);
    size_t w = 0;
    for (size_t i = 0; i < *n; i++)
        if (!w || (*out)[w - 1] != (*out)[i])
            (*out)[w++] = (*out)[i];
    *n = w;
    ok = true;
out:
    if (al)
        sqlite3_finalize(al);
    if (ev)
        sqlite3_finalize(ev);
    if (!ok) {
        cu_free(*out);
        *out = NULL;
        *n = 0;
    }
    return ok;
}

void h_case_export(ctx *x)
{
    int64_t cid;
    if (!case_id(x, &cid))
        return;
    if (!x->c->o.export_fn) {
        snprintf(x->action, sizeof x->action, "evidence export of case %lld asked for: not available", (long long)cid);
        cx_error(x, 501, "evidence export is not available in this build: the `custos evidence export` logic is not "
                         "part of it yet");
        return;
    }
    char cs[32];
    snprintf(cs, sizeof cs, "%lld", (long long)cid);
    uint64_t *idx = NULL;
    size_t n = 0;
    if (!case_indexes(x, cid, &idx, &n))
        return;
    if (n == 0) {
        cu_free(idx);
        snprintf(x->action, sizeof x->action, "evidence export of case %lld asked for: no events", (long long)cid);
        cx_error(x, 409, "case %lld has no alert whose events are indexed: add alerts to the case first",
                 (long long)cid);
        return;
    }
    char *where = NULL;
    cu_rc rc = x->c->o.export_fn(x->c->o.export_ud, cs, idx, n, x->now, &where);
    cu_free(idx);
    if (rc) {
        snprintf(x->action, sizeof x->action, "evidence export of case %lld failed", (long long)cid);
        cx_error(x, 500, "evidence export failed: %s", cu_err_detail());
        return;
    }
    sqlite3_stmt *st = cx_prep(x, "INSERT INTO case_export(case_id, ts, user, location) VALUES(?,?,?,?)");
    if (st) {
        sqlite3_bind_int64(st, 1, cid);
        sqlite3_bind_int64(st, 2, x->now);
        sqlite3_bind_text(st, 3, x->s.user, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, where ? where : "", -1, SQLITE_STATIC);
        if (cx_done(x, st)) {
            snprintf(x->action, sizeof x->action, "evidence of case %lld exported to %s", (long long)cid,
                     where ? where : "");
            cx_json(x, 201, json_pack("{s:I, s:s}", "case", (json_int_t)cid, "location", where ? where : ""));
        }
    }
    cu_free(where);
}

/* ============================================================ unmasking */

void h_unmask_request(ctx *x)
{
    int64_t cid;
    if (!case_id(x, &cid))
        return;
    const char *name = cx_body_str(x, "officer", 64, true);
    if (!name)
        return;
    const char *reason = cx_body_str(x, "reason", 1024, true);
    if (!reason)
        return;
    if (strlen(reason) < 10) {
        cx_error(x, 400, "an unmask request needs a reason of at least 10 characters");
        return;
    }
    char oid[128];
    if (!officer_resolve_into(x, name, oid, sizeof oid)) {
        if (x->resp->status == 200)
            cx_error(x, 404, "no officer %s", name);
        return;
    }
    /* only an officer named in one of the case's alerts */
    sqlite3_stmt *st = cx_prep(x, "SELECT 1 FROM case_alert ca JOIN st.alert_officer o ON 'A' || o.num = ca.alert"
                                  " JOIN st.names n ON n.kind = 0 AND n.num = o.officer WHERE ca.case_id = ? AND"
                                  " n.name = ? LIMIT 1");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, cid);
    sqlite3_bind_text(st, 2, oid, -1, SQLITE_STATIC);
    bool named = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!named) {
        cx_error(x, 409, "officer %s is not named in any alert of case %lld", name, (long long)cid);
        return;
    }
    if (!(st = cx_prep(x, "INSERT INTO unmask(case_id, officer, reason, requested_by, requested_at, state)"
                          " VALUES(?,?,?,?,?,'pending')")))
        return;
    sqlite3_bind_int64(st, 1, cid);
    sqlite3_bind_text(st, 2, oid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, x->s.user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, x->now);
    if (!cx_done(x, st))
        return;
    int64_t rid = sqlite3_last_insert_rowid(x->c->db);
    char label[16];
    officer_pseudonym(x->c, oid, label);
    snprintf(x->action, sizeof x->action, "unmask request %lld: officer %s for case %lld: %s", (long long)rid, label,
             (long long)cid, reason);
    cx_json(x, 201, json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)rid, "case", (json_int_t)cid, "officer", label,
                              "state", "pending"));
}

void h_unmask_list(ctx *x)
{
    const char *state = cx_query(x, "state");
    sqlite3_stmt *st = cx_prep(x, "SELECT u.id, u.case_id, c.title, u.officer, u.reason, u.requested_by,"
                                  " u.requested_at, u.state, u.decided_by, u.decided_at FROM unmask u"
                                  " JOIN inv_case c ON c.id = u.case_id WHERE ?1 IS NULL OR u.state = ?1"
                                  " ORDER BY u.id DESC LIMIT 500");
    if (!st)
        return;
    sqlite3_bind_text(st, 1, state && *state ? state : NULL, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        char when[21], dec[21] = "";
        fmt_time(sqlite3_column_int64(st, 6), when);
        if (sqlite3_column_type(st, 9) != SQLITE_NULL)
            fmt_time(sqlite3_column_int64(st, 9), dec);
        json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:o, s:s, s:s, s:s, s:s, s:s?, s:s?}", "id",
                                             (json_int_t)sqlite3_column_int64(st, 0), "case",
                                             (json_int_t)sqlite3_column_int64(st, 1), "case_title", col_text(st, 2),
                                             "officer", officer_json(x, col_text(st, 3)), "reason", col_text(st, 4),
                                             "requested_by", col_text(st, 5), "requested_at", when, "state",
                                             col_text(st, 7), "decided_by", (const char *)sqlite3_column_text(st, 8),
                                             "decided_at", dec[0] ? dec : NULL));
    }
    sqlite3_finalize(st);
    cx_json(x, 200, json_pack("{s:o, s:b}", "requests", arr, "can_decide", x->s.role == CU_ROLE_SUPERVISOR));
}

void h_unmask_decide(ctx *x)
{
    bool approve = strstr(x->req->path, "/approve") != NULL;
    char *end;
    long long rid = strtoll(x->params[0], &end, 10);
    if (*end || rid <= 0) {
        cx_error(x, 404, "no unmask request %s", x->params[0]);
        return;
    }
    sqlite3_stmt *st = cx_prep(x, "SELECT officer, requested_by, state, case_id FROM unmask WHERE id = ?");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, rid);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        cx_error(x, 404, "no unmask request %lld", rid);
        return;
    }
    char officer[128], by[CU_CONSOLE_USER_MAX + 1], state[16];
    snprintf(officer, sizeof officer, "%s", col_text(st, 0));
    snprintf(by, sizeof by, "%s", col_text(st, 1));
    snprintf(state, sizeof state, "%s", col_text(st, 2));
    int64_t cid = sqlite3_column_int64(st, 3);
    sqlite3_finalize(st);
    if (strcmp(by, x->s.user) == 0) {
        snprintf(x->action, sizeof x->action, "unmask request %lld: own request, refused to decide", rid);
        cx_error(x, 403, "nobody decides their own unmask request: another supervisor must");
        return;
    }
    if (strcmp(state, "pending") != 0) {
        cx_error(x, 409, "unmask request %lld is already %s", rid, state);
        return;
    }
    if (!(st = cx_prep(x, "UPDATE unmask SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?")))
        return;
    sqlite3_bind_text(st, 1, approve ? "approved" : "refused", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, x->s.user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, x->now);
    sqlite3_bind_int64(st, 4, rid);
    if (!cx_done(x, st))
        return;
    char label[16];
    officer_pseudonym(x->c, officer, label);
    snprintf(x->action, sizeof x->action, "unmask request %lld %s: %s is %s for case %lld (asked by %s)", rid,
             approve ? "approved" : "refused", label, approve ? officer : "still masked", (long long)cid, by);
    cx_json(x, 200, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)rid, "state", approve ? "approved" : "refused",
                              "pseudonym", label, "officer", approve ? officer : label));
}

/* ============================================================ audit */

void h_audit(ctx *x)
{
    const char *user = cx_query(x, "user");
    int64_t limit, offset;
    if (!cx_query_int(x, "limit", 1, LIST_MAX, 200, &limit) || !cx_query_int(x, "offset", 0, INT32_MAX, 0, &offset))
        return;
    sqlite3_stmt *st = cx_prep(x, "SELECT ledger_index, ts, user, role, method, route, query, status, action FROM audit"
                                  " WHERE ?1 IS NULL OR user = ?1 ORDER BY ledger_index DESC LIMIT ?2 OFFSET ?3");
    if (!st)
        return;
    sqlite3_bind_text(st, 1, user && *user ? user : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, offset);
    json_t *arr = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        char when[21];
        fmt_time(sqlite3_column_int64(st, 1), when);
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "ledger_index",
                                             (json_int_t)sqlite3_column_int64(st, 0), "ts", when, "user",
                                             col_text(st, 2), "role", col_text(st, 3), "method", col_text(st, 4),
                                             "route", col_text(st, 5), "query", col_text(st, 6), "status",
                                             sqlite3_column_int(st, 7), "action", col_text(st, 8)));
    }
    sqlite3_finalize(st);
    cx_json(x, 200, json_pack("{s:o}", "audit", arr));
}
