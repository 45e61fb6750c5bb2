/*
 * Governance: the handle, the tables and the action frame.
 *
 * Every change goes through one frame (gov_begin .. gov_finish .. gov_end):
 *   1. lock the action mutex, BEGIN IMMEDIATE;
 *   2. the action's own statements, and a gov_history row per change;
 *   3. the main history row, then the ledger entry (type governance) naming
 *      that row, appended through the audit interface (durable on return);
 *   4. the history row -> ledger index link, COMMIT, refresh the cache.
 * A failed append rolls the whole transaction back: the action is not
 * applied (fail closed).  The one window left is a COMMIT that fails after
 * the append succeeded: the ledger then records an attempt the database
 * does not hold (the entry names its history row, which is missing, so the
 * two can be reconciled); the reverse, an applied action with no entry,
 * cannot happen.
 *
 * gov_history and gov_history_ledger refuse UPDATE and DELETE (triggers).
 */
#include "governance/gov_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ names */

static const char *const LEVELS[CU_GOV_LEVEL_COUNT_] = {"NONE", "RV",  "MV", "NPPV1", "NPPV2",
                                                        "NPPV3", "CTC", "SC", "eSC",   "DV"};
static const int RANK[CU_GOV_LEVEL_COUNT_] = {0, 2, 3, 1, 2, 3, 1, 3, 4, 5};
static const char *const STATUSES[CU_GOV_STATUS_COUNT_] = {"active", "suspended", "withdrawn", "lapsed"};

const char *cu_gov_level_name(int level)
{
    return level >= 0 && level < CU_GOV_LEVEL_COUNT_ ? LEVELS[level] : "NONE";
}

const char *cu_gov_status_name(int status)
{
    return status >= 0 && status < CU_GOV_STATUS_COUNT_ ? STATUSES[status] : "unknown";
}

int cu_gov_level_rank(int level)
{
    return level >= 0 && level < CU_GOV_LEVEL_COUNT_ ? RANK[level] : 0;
}

cu_rc cu_gov_level_parse(const char *s, int *out)
{
    if (s)
        for (int i = 1; i < CU_GOV_LEVEL_COUNT_; i++)
            if (strcmp(s, LEVELS[i]) == 0) {
                *out = i;
                return CU_OK;
            }
    return cu_err_set(CU_ERR_INVAL, "unknown vetting level \"%.64s\" (one of RV, MV, NPPV1, NPPV2, NPPV3, CTC, SC, eSC, DV)",
                      s ? s : "");
}

cu_rc cu_gov_status_parse(const char *s, int *out)
{
    if (s)
        for (int i = 0; i < CU_GOV_STATUS_COUNT_; i++)
            if (strcmp(s, STATUSES[i]) == 0) {
                *out = i;
                return CU_OK;
            }
    return cu_err_set(CU_ERR_INVAL, "unknown vetting status \"%.64s\" (one of active, suspended, withdrawn, lapsed)",
                      s ? s : "");
}

const char *cu_gov_state_name(int st)
{
    static const char *const n[] = {"unknown", "in-force", "none", "not-yet-granted", "expired", "suspended",
                                    "withdrawn"};
    return st >= 0 && st < (int)(sizeof n / sizeof n[0]) ? n[st] : "unknown";
}

/* ------------------------------------------------------------ audit */

static cu_rc ledger_append(void *ud, const void *entry, size_t len, uint64_t *index)
{
    return cu_ledger_append(ud, entry, len, index);
}

cu_gov_audit cu_gov_audit_ledger(cu_ledger *l)
{
    return (cu_gov_audit){.append = ledger_append, .ud = l};
}

/* ------------------------------------------------------------- time */

void gov_time_text(int64_t t, char out[21])
{
    if (t % GOV_DAY == 0)
        cu_date_format(t, out);
    else
        cu_time_format(t, out);
}

json_t *gov_json_time(int64_t t)
{
    if (t == 0 || t == INT64_MAX || t == INT64_MIN)
        return json_null();
    char b[21];
    gov_time_text(t, b);
    return json_string(b);
}

cu_rc gov_parse_time(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 10)
        return cu_date_parse(s, n, out);
    return cu_time_parse(s, n, out);
}

/* ----------------------------------------------------------- checks */

cu_rc gov_check_id(const char *what, const char *s)
{
    if (!s || !*s)
        return cu_err_set(CU_ERR_INVAL, "%s is required", what);
    size_t n = strlen(s);
    if (n > CU_GOV_MAX_ID)
        return cu_err_set(CU_ERR_INVAL, "%s is longer than %d bytes", what, CU_GOV_MAX_ID);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return cu_err_set(CU_ERR_INVAL, "%s holds a control character", what);
    return CU_OK;
}

cu_rc gov_check_text(const char *what, const char *s, bool required)
{
    if (!s || !*s)
        return required ? cu_err_set(CU_ERR_INVAL, "%s is required", what) : CU_OK;
    if (strlen(s) > CU_GOV_MAX_TEXT)
        return cu_err_set(CU_ERR_INVAL, "%s is longer than %d bytes", what, CU_GOV_MAX_TEXT);
    return CU_OK;
}

cu_rc gov_not_self(const char *actor, const char *officer, const char *what)
{
    if (actor && officer && strcmp(actor, officer) == 0)
        return cu_err_set(CU_ERR_DENIED, "separation of duties: %s may not %s their own %s", actor,
                          strstr(what, "audit") ? "read" : "act on", what);
    return CU_OK;
}

/* --------------------------------------------------------------- db */

cu_rc gov_sqlerr(cu_gov *g, const char *what)
{
    int e = sqlite3_extended_errcode(g->db);
    cu_rc rc = (e & 0xff) == SQLITE_FULL ? CU_ERR_NOSPC
               : (e & 0xff) == SQLITE_BUSY || (e & 0xff) == SQLITE_LOCKED ? CU_ERR_LOCKED
               : (e & 0xff) == SQLITE_NOMEM ? CU_ERR_NOMEM
               : (e & 0xff) == SQLITE_CORRUPT ? CU_ERR_CORRUPT
                                              : CU_ERR_IO;
    return cu_err_set(rc, "governance: %s: %s", what, sqlite3_errmsg(g->db));
}

cu_rc gov_exec(cu_gov *g, const char *sql)
{
    if (sqlite3_exec(g->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return gov_sqlerr(g, "exec");
    return CU_OK;
}

cu_rc gov_prep(cu_gov *g, sqlite3_stmt **st, const char *sql)
{
    if (sqlite3_prepare_v2(g->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return gov_sqlerr(g, "prepare");
    }
    return CU_OK;
}

void gov_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

void gov_bind_time(sqlite3_stmt *st, int i, int64_t t)
{
    if (t == 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, t);
}

int64_t gov_col_time(sqlite3_stmt *st, int i, int64_t dflt)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? dflt : sqlite3_column_int64(st, i);
}

const char *gov_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

cu_rc gov_step_done(cu_gov *g, sqlite3_stmt *st, const char *what)
{
    int r = sqlite3_step(st);
    cu_rc rc = r == SQLITE_DONE || r == SQLITE_ROW ? CU_OK : gov_sqlerr(g, what);
    sqlite3_finalize(st);
    return rc;
}

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS gov_staff(officer TEXT PRIMARY KEY, unit TEXT NOT NULL DEFAULT '',"
    "  manager TEXT, integrity_due INTEGER, start INTEGER, end_ INTEGER);"
    "CREATE TABLE IF NOT EXISTS gov_clearance(officer TEXT NOT NULL, level TEXT NOT NULL,"
    "  granted INTEGER NOT NULL, expires INTEGER NOT NULL, review INTEGER, status TEXT NOT NULL,"
    "  updated INTEGER NOT NULL, PRIMARY KEY(officer, level));"
    "CREATE TABLE IF NOT EXISTS gov_entitlement(id INTEGER PRIMARY KEY, officer TEXT NOT NULL,"
    "  system TEXT NOT NULL, caveat TEXT, scope TEXT NOT NULL, purpose TEXT NOT NULL, requires TEXT,"
    "  sensitive INTEGER NOT NULL, status TEXT NOT NULL, granted_by TEXT NOT NULL, granted_at INTEGER NOT NULL,"
    "  reviewed_by TEXT, reviewed_at INTEGER, reason TEXT);"
    "CREATE INDEX IF NOT EXISTS gov_entitlement_officer ON gov_entitlement(officer);"
    "CREATE TABLE IF NOT EXISTS gov_review(id INTEGER PRIMARY KEY, officer TEXT NOT NULL, kind TEXT NOT NULL,"
    "  opened INTEGER NOT NULL, due INTEGER NOT NULL, restrict_caveats INTEGER NOT NULL, status TEXT NOT NULL,"
    "  opened_by TEXT NOT NULL, reason TEXT, closed_by TEXT, closed_at INTEGER, outcome TEXT, note TEXT);"
    "CREATE INDEX IF NOT EXISTS gov_review_officer ON gov_review(officer);"
    "CREATE TABLE IF NOT EXISTS gov_aftercare(id INTEGER PRIMARY KEY, officer TEXT NOT NULL, kind TEXT NOT NULL,"
    "  reporter TEXT NOT NULL, reported_at INTEGER NOT NULL, detail TEXT, review INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS gov_campaign(id INTEGER PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL,"
    "  started INTEGER NOT NULL, deadline INTEGER NOT NULL, status TEXT NOT NULL, closed_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS gov_campaign_item(campaign INTEGER NOT NULL, entitlement INTEGER NOT NULL,"
    "  officer TEXT NOT NULL, manager TEXT NOT NULL, status TEXT NOT NULL, confirmed_by TEXT, confirmed_at INTEGER,"
    "  PRIMARY KEY(campaign, entitlement));"
    "CREATE INDEX IF NOT EXISTS gov_campaign_item_ent ON gov_campaign_item(entitlement);"
    "CREATE TABLE IF NOT EXISTS gov_draw(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
    "  seed TEXT NOT NULL, population INTEGER NOT NULL, population_sha256 TEXT NOT NULL, count INTEGER NOT NULL,"
    "  selection TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS gov_history(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL,"
    "  officer TEXT, action TEXT NOT NULL, object TEXT, reason TEXT, detail TEXT);"
    "CREATE INDEX IF NOT EXISTS gov_history_officer ON gov_history(officer);"
    "CREATE TABLE IF NOT EXISTS gov_history_ledger(seq INTEGER PRIMARY KEY, ledger_index INTEGER NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS gov_history_no_update BEFORE UPDATE ON gov_history"
    "  BEGIN SELECT RAISE(ABORT, 'gov_history is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS gov_history_no_delete BEFORE DELETE ON gov_history"
    "  BEGIN SELECT RAISE(ABORT, 'gov_history is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS gov_history_ledger_no_update BEFORE UPDATE ON gov_history_ledger"
    "  BEGIN SELECT RAISE(ABORT, 'gov_history_ledger is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS gov_history_ledger_no_delete BEFORE DELETE ON gov_history_ledger"
    "  BEGIN SELECT RAISE(ABORT, 'gov_history_ledger is append-only'); END;";

cu_rc cu_gov_open(const char *path, const cu_gov_audit *audit, cu_gov **out)
{
    *out = NULL;
    if (!audit || !audit->append)
        return cu_err_set(CU_ERR_INVAL, "governance: an audit log is required");
    cu_gov *g = cu_calloc(1, sizeof *g);
    if (!g)
        return CU_ERR_NOMEM;
    g->audit = *audit;
    pthread_mutex_init(&g->mu, NULL);
    pthread_rwlock_init(&g->lock, NULL);
    cu_buf_init(&g->entry, CU_LEDGER_ENTRY_MAX);
    cu_rc rc;
    if (sqlite3_open_v2(path, &g->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        rc = cu_err_set(CU_ERR_IO, "governance: %s: %s", path, g->db ? sqlite3_errmsg(g->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(g->db, 5000);
    if ((rc = gov_exec(g, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")) ||
        (rc = gov_exec(g, SCHEMA)))
        goto fail;
    pthread_mutex_lock(&g->mu);
    rc = gov_cache_refresh_all(g);
    pthread_mutex_unlock(&g->mu);
    if (rc)
        goto fail;
    *out = g;
    return CU_OK;
fail:
    cu_gov_close(g);
    return rc;
}

void cu_gov_close(cu_gov *g)
{
    if (!g)
        return;
    gov_cache_free(g);
    if (g->db)
        sqlite3_close(g->db);
    cu_buf_free(&g->entry);
    pthread_mutex_destroy(&g->mu);
    pthread_rwlock_destroy(&g->lock);
    cu_free(g);
}

/* ----------------------------------------------------- action frame */

cu_rc gov_begin(cu_gov *g)
{
    pthread_mutex_lock(&g->mu);
    cu_rc rc = gov_exec(g, "BEGIN IMMEDIATE");
    if (rc)
        pthread_mutex_unlock(&g->mu);
    return rc;
}

cu_rc gov_history(cu_gov *g, int64_t now, const char *actor, const char *officer, const char *action,
                  const char *object, const char *reason, const json_t *detail, int64_t *seq)
{
    sqlite3_stmt *st;
    cu_rc rc = gov_prep(g, &st, "INSERT INTO gov_history(ts, actor, officer, action, object, reason, detail)"
                                " VALUES(?,?,?,?,?,?,?)");
    if (rc)
        return rc;
    char *d = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    sqlite3_bind_int64(st, 1, now);
    gov_bind_text(st, 2, actor);
    gov_bind_text(st, 3, officer);
    gov_bind_text(st, 4, action);
    gov_bind_text(st, 5, object);
    gov_bind_text(st, 6, reason);
    gov_bind_text(st, 7, d);
    rc = gov_step_done(g, st, "history");
    free(d);
    if (!rc && seq)
        *seq = sqlite3_last_insert_rowid(g->db);
    return rc;
}

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

cu_rc gov_finish(cu_gov *g, const struct gov_act *a)
{
    int64_t seq = 0;
    cu_rc rc = gov_history(g, a->now, a->actor, a->officer, a->action, a->object, a->reason, a->detail, &seq);
    if (rc)
        return rc;
    char *d = a->detail ? json_dumps(a->detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    uint8_t seqb[8];
    cu_put_be64(seqb, (uint64_t)seq);
    /* long free text is cut to what the ledger takes; the full text is in the history row */
    size_t rlen = slen(a->reason) > CU_LEDGER_STR_MAX ? CU_LEDGER_STR_MAX : slen(a->reason);
    cu_ledger_field f[] = {
        {CU_GOV_F_ACTION, a->action, slen(a->action)}, {CU_GOV_F_ACTOR, a->actor, slen(a->actor)},
        {CU_GOV_F_OFFICER, a->officer, slen(a->officer)}, {CU_GOV_F_OBJECT, a->object, slen(a->object)},
        {CU_GOV_F_REASON, a->reason, rlen},            {CU_GOV_F_DETAIL, d, slen(d)},
        {CU_GOV_F_SEQ, seqb, 8},
    };
    size_t len = 0;
    if ((rc = cu_buf_reserve(&g->entry, CU_LEDGER_ENTRY_MAX)))
        goto fail;
    rc = cu_ledger_entry_encode(CU_LEDGER_GOVERNANCE, a->now, f, sizeof f / sizeof f[0], (uint8_t *)g->entry.data,
                                CU_LEDGER_ENTRY_MAX, &len);
    if (rc) {
        cu_err_prefix("governance: the action's ledger entry");
        goto fail;
    }
    uint64_t index = 0;
    if ((rc = g->audit.append(g->audit.ud, g->entry.data, len, &index))) {
        cu_err_prefix("governance: the ledger refused the entry, %s not applied", a->action);
        goto fail;
    }
    sqlite3_stmt *st;
    if ((rc = gov_prep(g, &st, "INSERT INTO gov_history_ledger(seq, ledger_index) VALUES(?,?)")))
        goto fail;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, (int64_t)index);
    if ((rc = gov_step_done(g, st, "history link")) || (rc = gov_exec(g, "COMMIT")))
        goto fail;
fail:
    free(d);
    return rc;
}

void gov_end(cu_gov *g, cu_rc rc)
{
    if (rc && !sqlite3_get_autocommit(g->db)) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", cu_err_detail());
        if (sqlite3_exec(g->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
            cu_log(CU_LOG_ERROR, "governance: rollback failed: %s", sqlite3_errmsg(g->db));
        cu_err_set(rc, "%s", keep);
    }
    pthread_mutex_unlock(&g->mu);
}
