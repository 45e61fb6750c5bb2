/*
 * Console accounts and sessions: the console.db schema, Argon2id passwords,
 * login with lock-out, session cookies, the CSRF token and the Origin check.
 *
 * Invariants:
 * 1. A password is kept only as an Argon2id string (crypto_pwhash_str); a
 *    login for an unknown user verifies against a dummy hash so that both
 *    answers take the same time and say the same words.
 * 2. A session id is 32 random bytes sent once in the cookie; the database
 *    keeps only its SHA-256.  A session ends after session_idle seconds
 *    without a request or session_max seconds in all, whichever comes first.
 * 3. lock_failures failed logins within lock_window seconds lock the account
 *    name (known or not): further logins are refused, right password or not,
 *    until the oldest failure leaves the window.  A success clears the count.
 * 4. Every POST needs an Origin equal to the configured one (or to the Host
 *    the request came to); every POST but login needs X-CSRF-Token equal to
 *    the session's token (compared in constant time).
 */
#include "console_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char *schema =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS account(user TEXT PRIMARY KEY, role TEXT NOT NULL, pwhash TEXT NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS login_failure(user TEXT NOT NULL, ts INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS login_failure_user ON login_failure(user, ts);"
    "CREATE TABLE IF NOT EXISTS session(idhash BLOB PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,"
    "  created INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alert_state(alert TEXT PRIMARY KEY, state TEXT NOT NULL, assignee TEXT,"
    "  reason TEXT, updated INTEGER NOT NULL, updated_by TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alert_history(alert TEXT NOT NULL, ts INTEGER NOT NULL, user TEXT NOT NULL,"
    "  from_state TEXT NOT NULL, to_state TEXT NOT NULL, assignee TEXT, reason TEXT);"
    "CREATE INDEX IF NOT EXISTS alert_history_alert ON alert_history(alert, ts);"
    "CREATE TABLE IF NOT EXISTS inv_case(id INTEGER PRIMARY KEY, title TEXT NOT NULL, created INTEGER NOT NULL,"
    "  created_by TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS case_alert(case_id INTEGER NOT NULL, alert TEXT NOT NULL, added INTEGER NOT NULL,"
    "  added_by TEXT NOT NULL, PRIMARY KEY(case_id, alert));"
    "CREATE TABLE IF NOT EXISTS case_note(id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, ts INTEGER NOT NULL,"
    "  user TEXT NOT NULL, text TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS case_export(id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, ts INTEGER NOT NULL,"
    "  user TEXT NOT NULL, location TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS unmask(id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, officer TEXT NOT NULL,"
    "  reason TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at INTEGER NOT NULL, state TEXT NOT NULL,"
    "  decided_by TEXT, decided_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS audit(ledger_index INTEGER PRIMARY KEY, ts INTEGER NOT NULL, user TEXT,"
    "  role TEXT, method TEXT NOT NULL, route TEXT NOT NULL, query TEXT, status INTEGER NOT NULL, action TEXT);";

cu_rc console_schema(sqlite3 *db)
{
    char *err = NULL;
    if (sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK) {
        cu_rc rc = cu_err_set(CU_ERR_IO, "console.db schema: %s", err ? err : "?");
        sqlite3_free(err);
        return rc;
    }
    /* The officer an account belongs to (governance acts as that person);
     * added to databases made before it existed. */
    sqlite3_stmt *st = NULL;
    bool have = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('account') WHERE name = 'officer'", -1, &st, NULL) ==
        SQLITE_OK)
        have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!have && sqlite3_exec(db, "ALTER TABLE account ADD COLUMN officer TEXT", NULL, NULL, &err) != SQLITE_OK) {
        cu_rc rc = cu_err_set(CU_ERR_IO, "console.db schema (account.officer): %s", err ? err : "?");
        sqlite3_free(err);
        return rc;
    }
    return CU_OK;
}

/* An officer id as the register takes it: 1..CU_GOV_MAX_ID printable
 * bytes, no spaces. */
static bool officer_ok(const char *o)
{
    size_t n = strlen(o);
    if (n == 0 || n > CU_GOV_MAX_ID)
        return false;
    for (const char *p = o; *p; p++)
        if (*p <= ' ' || *p > '~')
            return false;
    return true;
}

static bool user_name_ok(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > CU_CONSOLE_USER_MAX)
        return false;
    for (const char *p = u; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '-' || *p == '_' || *p == '@'))
            return false;
    return true;
}

static cu_rc hash_password(const char *password, cu_console_kdf kdf, char out[crypto_pwhash_STRBYTES])
{
    unsigned long long ops = kdf == CU_KDF_MIN ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    size_t mem = kdf == CU_KDF_MIN ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (crypto_pwhash_str_alg(out, password, strlen(password), ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return cu_err_set(CU_ERR_NOMEM, "password hashing ran out of memory");
    return CU_OK;
}

static cu_rc check_new_account(const char *user, const char *role, const char *password, cu_console_role *r)
{
    if (!user || !user_name_ok(user))
        return cu_err_set(CU_ERR_INVAL, "user names are 1-%d characters of letters, digits and . - _ @",
                          CU_CONSOLE_USER_MAX);
    cu_rc rc = cu_console_role_parse(role, r);
    if (rc)
        return rc;
    size_t n = password ? strlen(password) : 0;
    if (n < CU_CONSOLE_PASSWORD_MIN || n > CU_CONSOLE_PASSWORD_MAX)
        return cu_err_set(CU_ERR_INVAL, "passwords are %d to %d bytes", CU_CONSOLE_PASSWORD_MIN,
                          CU_CONSOLE_PASSWORD_MAX);
    return CU_OK;
}

static cu_rc insert_account(sqlite3 *db, const char *user, cu_console_role role, const char *officer,
                            const char *hash, int64_t now)
{
    sqlite3_stmt *st = NULL;
    if (officer && !officer_ok(officer))
        return cu_err_set(CU_ERR_INVAL, "officer ids are 1-%d printable characters without spaces", CU_GOV_MAX_ID);
    if (sqlite3_prepare_v2(db, "INSERT INTO account(user, role, pwhash, created, officer) VALUES(?,?,?,?,?)", -1, &st,
                           NULL))
        return cu_err_set(CU_ERR_IO, "%s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cu_console_role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    if (officer)
        sqlite3_bind_text(st, 5, officer, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    int e = sqlite3_step(st);
    sqlite3_finalize(st);
    if (e == SQLITE_CONSTRAINT)
        return cu_err_set(CU_ERR_EXISTS, "account %s exists", user);
    if (e != SQLITE_DONE)
        return cu_err_set(CU_ERR_IO, "%s", sqlite3_errmsg(db));
    return CU_OK;
}

cu_rc cu_console_account_add(const char *data_dir, const char *user, const char *role, const char *password,
                             cu_console_kdf kdf, int64_t now)
{
    return cu_console_account_add_officer(data_dir, user, role, NULL, password, kdf, now);
}

cu_rc cu_console_account_add_officer(const char *data_dir, const char *user, const char *role, const char *officer,
                                     const char *password, cu_console_kdf kdf, int64_t now)
{
    cu_console_role r;
    cu_rc rc = check_new_account(user, role, password, &r);
    if (rc)
        return rc;
    if (officer && !officer_ok(officer))
        return cu_err_set(CU_ERR_INVAL, "officer ids are 1-%d printable characters without spaces", CU_GOV_MAX_ID);
    if (sodium_init() < 0)
        return cu_err_set(CU_ERR_CRYPTO, "libsodium did not initialise");
    char hash[crypto_pwhash_STRBYTES];
    if ((rc = hash_password(password, kdf, hash)))
        return rc;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/console.db", data_dir) >= (int)sizeof path)
        return cu_err_set(CU_ERR_TOOBIG, "data path too long");
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        rc = cu_err_set(CU_ERR_IO, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(db, 5000);
    if (!(rc = console_schema(db)))
        rc = insert_account(db, user, r, officer, hash, now);
out:
    sqlite3_close(db);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

/* ------------------------------------------------------------ tokens */

static void b64url(const uint8_t *in, size_t n, char *out)
{
    char tmp[128];
    size_t len = cu_b64_encode(in, n, tmp);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = tmp[i];
        if (ch == '=')
            break;
        out[o++] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
    }
    out[o] = '\0';
    sodium_memzero(tmp, sizeof tmp);
}

static void set_cookie(ctx *x, const char *value, bool clear)
{
    size_t used = strlen(x->resp->headers);
    snprintf(x->resp->headers + used, sizeof x->resp->headers - used,
             "Set-Cookie: " SESSION_COOKIE "=%s; Path=/; %sHttpOnly; SameSite=Strict%s\r\n", clear ? "" : value,
             clear ? "Max-Age=0; " : "", x->c->o.insecure_cookies ? "" : "; Secure");
}

/* ------------------------------------------------------------ sessions */

void auth_load_session(ctx *x)
{
    memset(&x->s, 0, sizeof x->s);
    char id[128];
    if (!x->req->cookie || cu_console_cookie(x->req->cookie, SESSION_COOKIE, id, sizeof id) || strlen(id) != 43)
        return;
    if (cu_sha256(id, strlen(id), NULL, 0, NULL, 0, x->s.idhash))
        return;
    sodium_memzero(id, sizeof id);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(x->c->db,
                           "SELECT s.user, s.csrf, s.created, s.last_seen, a.role, a.officer FROM session s"
                           " JOIN account a ON a.user = s.user WHERE s.idhash = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_blob(st, 1, x->s.idhash, 32, SQLITE_STATIC);
    bool found = false, expired = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = true;
        int64_t created = sqlite3_column_int64(st, 2), last = sqlite3_column_int64(st, 3);
        expired = x->now - last >= x->c->o.session_idle || x->now - created >= x->c->o.session_max || x->now < created;
        snprintf(x->s.user, sizeof x->s.user, "%s", col_text(st, 0));
        snprintf(x->s.csrf, sizeof x->s.csrf, "%s", col_text(st, 1));
        snprintf(x->s.officer, sizeof x->s.officer, "%s", col_text(st, 5));
        x->s.valid = !expired && cu_console_role_parse(col_text(st, 4), &x->s.role) == CU_OK;
    }
    sqlite3_finalize(st);
    if (!found)
        return;
    const char *sql = expired ? "DELETE FROM session WHERE idhash = ?" : "UPDATE session SET last_seen = ? WHERE idhash = ?";
    if (sqlite3_prepare_v2(x->c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        x->s.valid = false;
        return;
    }
    if (expired) {
        sqlite3_bind_blob(st, 1, x->s.idhash, 32, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 1, x->now);
        sqlite3_bind_blob(st, 2, x->s.idhash, 32, SQLITE_STATIC);
    }
    if (sqlite3_step(st) != SQLITE_DONE)
        x->s.valid = false;
    sqlite3_finalize(st);
    if (expired) {
        snprintf(x->action, sizeof x->action, "session of %s ended (expired)", x->s.user);
        memset(x->s.csrf, 0, sizeof x->s.csrf);
    }
}

bool csrf_ok(ctx *x)
{
    const char *t = x->req->csrf;
    size_t n = strlen(x->s.csrf);
    if (!t || strlen(t) != n || n == 0 || !cu_ct_equal(t, x->s.csrf, n)) {
        cx_error(x, 403, "missing or wrong CSRF token (X-CSRF-Token)");
        return false;
    }
    return true;
}

bool origin_ok(ctx *x)
{
    const char *o = x->req->origin;
    if (!o || !*o) {
        cx_error(x, 403, "a state-changing request needs an Origin header");
        return false;
    }
    bool ok;
    if (x->c->origin) {
        ok = strcmp(o, x->c->origin) == 0;
    } else {
        const char *h = x->req->host;
        const char *rest = strncmp(o, "http://", 7) == 0 ? o + 7 : strncmp(o, "https://", 8) == 0 ? o + 8 : NULL;
        ok = h && rest && strcmp(rest, h) == 0;
    }
    if (!ok) {
        cx_error(x, 403, "cross-origin request refused (Origin %.200s)", o);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ login */

static int64_t count_failures(ctx *x, const char *user, int64_t *oldest)
{
    sqlite3_stmt *st = cx_prep(x, "SELECT count(*), min(ts) FROM login_failure WHERE user = ? AND ts > ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, x->now - x->c->o.lock_window);
    int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
        *oldest = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return n;
}

/* A fixed Argon2id string at interactive cost, made once per process from
 * a random password: verifying an unknown user's password against it costs
 * what a real verification costs. */
static char dummy[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    uint8_t r[16];
    char pw[40];
    randombytes_buf(r, sizeof r);
    cu_hex_encode(r, sizeof r, pw);
    if (hash_password(pw, CU_KDF_INTERACTIVE, dummy))
        dummy[0] = '\0';
}

void h_login(ctx *x)
{
    const char *user = cx_body_str(x, "user", CU_CONSOLE_USER_MAX, true);
    if (!user)
        return;
    const char *pw = cx_body_str(x, "password", CU_CONSOLE_PASSWORD_MAX, true);
    if (!pw)
        return;
    if (!user_name_ok(user)) {
        cx_error(x, 401, "wrong user name or password");
        snprintf(x->action, sizeof x->action, "login refused: malformed user name");
        return;
    }
    snprintf(x->audit_user, sizeof x->audit_user, "%s", user);
    int64_t oldest = 0;
    int64_t fails = count_failures(x, user, &oldest);
    if (fails < 0)
        return;
    if (fails >= (int64_t)x->c->o.lock_failures) {
        int64_t wait = oldest + x->c->o.lock_window - x->now;
        cx_error(x, 429, "account locked after %lld failed logins; try again in %lld minutes", (long long)fails,
                 (long long)(wait + 59) / 60);
        snprintf(x->action, sizeof x->action, "login refused: account locked");
        return;
    }
    sqlite3_stmt *st = cx_prep(x, "SELECT pwhash, role, officer FROM account WHERE user = ?");
    if (!st)
        return;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    char hash[crypto_pwhash_STRBYTES] = "";
    cu_console_role role = CU_ROLE_NONE;
    bool known = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(hash, sizeof hash, "%s", col_text(st, 0));
        known = cu_console_role_parse(col_text(st, 1), &role) == CU_OK;
        snprintf(x->s.officer, sizeof x->s.officer, "%s", col_text(st, 2));
    }
    sqlite3_finalize(st);
    if (!known) {
        pthread_once(&dummy_once, make_dummy);
        snprintf(hash, sizeof hash, "%s", dummy);
    }
    bool good = hash[0] && crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0 && known;
    sodium_memzero(hash, sizeof hash);
    if (!good) {
        st = cx_prep(x, "INSERT INTO login_failure(user, ts) VALUES(?, ?)");
        if (!st)
            return;
        sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, x->now);
        if (!cx_done(x, st))
            return;
        snprintf(x->action, sizeof x->action, "login failed (%lld of %u before lock-out)", (long long)fails + 1,
                 x->c->o.lock_failures);
        cx_error(x, 401, "wrong user name or password");
        return;
    }
    /* success: clear failures and old sessions, make a new session */
    st = cx_prep(x, "DELETE FROM login_failure WHERE user = ? OR ts <= ?");
    if (!st)
        return;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, x->now - x->c->o.lock_window);
    if (!cx_done(x, st))
        return;
    st = cx_prep(x, "DELETE FROM session WHERE last_seen <= ? OR created <= ?");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, x->now - x->c->o.session_idle);
    sqlite3_bind_int64(st, 2, x->now - x->c->o.session_max);
    if (!cx_done(x, st))
        return;
    uint8_t raw[32], idhash[32], craw[32];
    char id[64], csrf[64];
    randombytes_buf(raw, sizeof raw);
    randombytes_buf(craw, sizeof craw);
    b64url(raw, sizeof raw, id);
    b64url(craw, sizeof craw, csrf);
    sodium_memzero(raw, sizeof raw);
    if (cu_sha256(id, strlen(id), NULL, 0, NULL, 0, idhash)) {
        cx_error(x, 500, "hashing failed");
        return;
    }
    st = cx_prep(x, "INSERT INTO session(idhash, user, csrf, created, last_seen) VALUES(?,?,?,?,?)");
    if (!st)
        return;
    sqlite3_bind_blob(st, 1, idhash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, csrf, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, x->now);
    sqlite3_bind_int64(st, 5, x->now);
    if (!cx_done(x, st))
        return;
    x->s.valid = true;
    snprintf(x->s.user, sizeof x->s.user, "%s", user);
    x->s.role = role;
    snprintf(x->action, sizeof x->action, "login");
    set_cookie(x, id, false);
    sodium_memzero(id, sizeof id);
    cx_json(x, 200,
            json_pack("{s:s, s:s, s:s, s:I, s:s?}", "user", user, "role", cu_console_role_name(role), "csrf", csrf,
                      "idle_timeout", (json_int_t)x->c->o.session_idle, "officer",
                      x->s.officer[0] ? x->s.officer : NULL));
}

void h_logout(ctx *x)
{
    sqlite3_stmt *st = cx_prep(x, "DELETE FROM session WHERE idhash = ?");
    if (!st)
        return;
    sqlite3_bind_blob(st, 1, x->s.idhash, 32, SQLITE_STATIC);
    if (!cx_done(x, st))
        return;
    snprintf(x->action, sizeof x->action, "logout");
    set_cookie(x, "", true);
    cx_json(x, 200, json_pack("{s:b}", "logged_out", 1));
}

void h_session(ctx *x)
{
    cx_json(x, 200,
            json_pack("{s:s, s:s, s:s, s:I, s:s?}", "user", x->s.user, "role", cu_console_role_name(x->s.role), "csrf",
                      x->s.csrf, "idle_timeout", (json_int_t)x->c->o.session_idle, "officer",
                      x->s.officer[0] ? x->s.officer : NULL));
}

/* ------------------------------------------------------------ accounts (admin) */

void h_accounts(ctx *x)
{
    sqlite3_stmt *st = cx_prep(x, "SELECT a.user, a.role, a.created,"
                                  " (SELECT count(*) FROM login_failure f WHERE f.user = a.user AND f.ts > ?),"
                                  " a.officer FROM account a ORDER BY a.user");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, x->now - x->c->o.lock_window);
    json_t *arr = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        char when[21];
        cu_time_format(sqlite3_column_int64(st, 2), when);
        int64_t f = sqlite3_column_int64(st, 3);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:b, s:s?}", "user", col_text(st, 0), "role",
                                             col_text(st, 1), "created", when, "recent_failures", (json_int_t)f,
                                             "locked", f >= (int64_t)x->c->o.lock_failures, "officer",
                                             sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL : col_text(st, 4)));
    }
    sqlite3_finalize(st);
    cx_json(x, 200, json_pack("{s:o}", "accounts", arr));
}

void h_account_add(ctx *x)
{
    const char *user = cx_body_str(x, "user", CU_CONSOLE_USER_MAX, true);
    const char *role = user ? cx_body_str(x, "role", 32, true) : NULL;
    const char *pw = role ? cx_body_str(x, "password", CU_CONSOLE_PASSWORD_MAX, true) : NULL;
    if (!pw)
        return;
    json_t *jo = json_object_get(x->body, "officer");
    if (jo && !json_is_null(jo) && !json_is_string(jo)) {
        cx_error(x, 400, "\"officer\" must be a string");
        return;
    }
    const char *officer = json_is_string(jo) ? json_string_value(jo) : NULL;
    cu_console_role r;
    char hash[crypto_pwhash_STRBYTES];
    cu_rc rc = check_new_account(user, role, pw, &r);
    if (!rc)
        rc = hash_password(pw, CU_KDF_INTERACTIVE, hash);
    if (!rc) {
        rc = insert_account(x->c->db, user, r, officer, hash, x->now);
        sodium_memzero(hash, sizeof hash);
    }
    if (rc) {
        cx_error(x, rc == CU_ERR_EXISTS ? 409 : 400, "%s", cu_err_detail());
        return;
    }
    snprintf(x->action, sizeof x->action, "account %s added with role %s%s%s", user, role, officer ? ", officer " : "",
             officer ? officer : "");
    cx_json(x, 201, json_pack("{s:s, s:s, s:s?}", "user", user, "role", role, "officer", officer));
}
