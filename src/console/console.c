/*
 * The console: opening its database, the route table, the request cycle
 * (session, Origin and CSRF checks, roles, handler, audit) and the static
 * pages of the web app.
 *
 * The request cycle, for every /v1/console/ request:
 *   lock; BEGIN IMMEDIATE on console.db; checks; handler (which may change
 *   console.db); encode the audit record (user, role, method, route, query,
 *   status, what changed); append it to the ledger (durable);
 *   on success: record it in console.db too and COMMIT;
 *   on failure: ROLLBACK and answer 503 -- nothing changed, nothing shown.
 * So no answer leaves and no change stays without its durable audit record
 * (the watchers are watched).  Static files carry no data and are not audited.
 */
#include "console_int.h"

#include "custos/ledger.h"
#include "custos/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ============================================================ routes */

enum { NEED_NONE = 0, NEED_SESSION = 1 };

struct croute {
    const char *method;
    const char *path;
    void (*fn)(ctx *x);
    int need;
    unsigned roles; /* 0: any role */
};

#define ROLES_ALL 0u
#define ROLES_SUP ROLE(CU_ROLE_SUPERVISOR)
#define ROLES_AUDIT (ROLE(CU_ROLE_AUDITOR) | ROLE(CU_ROLE_ADMIN) | ROLE(CU_ROLE_SUPERVISOR))
#define ROLES_VET ROLE(CU_ROLE_VETTING)
/* governance reports are counts by unit: every role that oversees */
#define ROLES_GOV_REPORT (ROLES_VET | ROLES_AUDIT)
/* a line manager confirms recertifications; the register checks it is theirs */
#define ROLES_GOV_CONFIRM (ROLES_VET | ROLE(CU_ROLE_SUPERVISOR))

static const struct croute api[] = {
    {"POST", "/v1/console/login", h_login, NEED_NONE, ROLES_ALL},
    {"POST", "/v1/console/logout", h_logout, NEED_SESSION, ROLES_ALL},
    {"GET", "/v1/console/session", h_session, NEED_SESSION, ROLES_ALL},
    {"GET", "/v1/console/alerts", h_alerts, NEED_SESSION, ROLES_READ},
    {"GET", "/v1/console/alerts/{id}", h_alert, NEED_SESSION, ROLES_READ},
    {"POST", "/v1/console/alerts/{id}/state", h_alert_state, NEED_SESSION, ROLES_TRIAGE},
    {"GET", "/v1/console/officers/{id}/timeline", h_officer_timeline, NEED_SESSION, ROLES_READ},
    {"GET", "/v1/console/persons/{id}/accesses", h_person_accesses, NEED_SESSION, ROLES_READ},
    {"GET", "/v1/console/graph", h_graph, NEED_SESSION, ROLES_READ},
    {"GET", "/v1/console/cases", h_cases, NEED_SESSION, ROLES_READ},
    {"POST", "/v1/console/cases", h_case_new, NEED_SESSION, ROLES_TRIAGE},
    {"GET", "/v1/console/cases/{id}", h_case, NEED_SESSION, ROLES_READ},
    {"POST", "/v1/console/cases/{id}/alerts", h_case_alert, NEED_SESSION, ROLES_TRIAGE},
    {"POST", "/v1/console/cases/{id}/notes", h_case_note, NEED_SESSION, ROLES_TRIAGE},
    {"POST", "/v1/console/cases/{id}/export", h_case_export, NEED_SESSION, ROLES_TRIAGE},
    {"POST", "/v1/console/cases/{id}/unmask", h_unmask_request, NEED_SESSION, ROLES_TRIAGE},
    {"GET", "/v1/console/unmask", h_unmask_list, NEED_SESSION, ROLES_READ},
    {"POST", "/v1/console/unmask/{id}/approve", h_unmask_decide, NEED_SESSION, ROLES_SUP},
    {"POST", "/v1/console/unmask/{id}/refuse", h_unmask_decide, NEED_SESSION, ROLES_SUP},
    {"GET", "/v1/console/audit", h_audit, NEED_SESSION, ROLES_AUDIT},
    {"GET", "/v1/console/accounts", h_accounts, NEED_SESSION, ROLE(CU_ROLE_ADMIN)},
    {"POST", "/v1/console/accounts", h_account_add, NEED_SESSION, ROLE(CU_ROLE_ADMIN)},
    {"GET", "/v1/console/governance/report", h_gov, NEED_SESSION, ROLES_GOV_REPORT},
    {"GET", "/v1/console/governance/officers/{id}", h_gov, NEED_SESSION, ROLES_VET},
    {"GET", "/v1/console/governance/officers/{id}/history", h_gov, NEED_SESSION, (ROLES_VET | ROLE(CU_ROLE_AUDITOR))},
    {"POST", "/v1/console/governance/staff", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/clearances", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/clearances/suspend", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/clearances/withdraw", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/clearances/reinstate", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/entitlements", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/entitlements/revoke", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/reviews", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/reviews/close", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/aftercare", h_gov, NEED_SESSION, ROLES_ALL},
    {"POST", "/v1/console/governance/campaigns", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/campaigns/confirm", h_gov, NEED_SESSION, ROLES_GOV_CONFIRM},
    {"POST", "/v1/console/governance/campaigns/close", h_gov, NEED_SESSION, ROLES_VET},
    {"POST", "/v1/console/governance/draw", h_gov, NEED_SESSION, ROLES_VET},
};
#define NAPI (sizeof api / sizeof api[0])

static const cu_console_route all_routes[] = {
    {"POST", "/v1/console/login"},
    {"POST", "/v1/console/logout"},
    {"GET", "/v1/console/session"},
    {"GET", "/v1/console/alerts"},
    {"GET", "/v1/console/alerts/{id}"},
    {"POST", "/v1/console/alerts/{id}/state"},
    {"GET", "/v1/console/officers/{id}/timeline"},
    {"GET", "/v1/console/persons/{id}/accesses"},
    {"GET", "/v1/console/graph"},
    {"GET", "/v1/console/cases"},
    {"POST", "/v1/console/cases"},
    {"GET", "/v1/console/cases/{id}"},
    {"POST", "/v1/console/cases/{id}/alerts"},
    {"POST", "/v1/console/cases/{id}/notes"},
    {"POST", "/v1/console/cases/{id}/export"},
    {"POST", "/v1/console/cases/{id}/unmask"},
    {"GET", "/v1/console/unmask"},
    {"POST", "/v1/console/unmask/{id}/approve"},
    {"POST", "/v1/console/unmask/{id}/refuse"},
    {"GET", "/v1/console/audit"},
    {"GET", "/v1/console/accounts"},
    {"POST", "/v1/console/accounts"},
    {"GET", "/v1/console/governance/report"},
    {"GET", "/v1/console/governance/officers/{id}"},
    {"GET", "/v1/console/governance/officers/{id}/history"},
    {"POST", "/v1/console/governance/staff"},
    {"POST", "/v1/console/governance/clearances"},
    {"POST", "/v1/console/governance/clearances/suspend"},
    {"POST", "/v1/console/governance/clearances/withdraw"},
    {"POST", "/v1/console/governance/clearances/reinstate"},
    {"POST", "/v1/console/governance/entitlements"},
    {"POST", "/v1/console/governance/entitlements/revoke"},
    {"POST", "/v1/console/governance/reviews"},
    {"POST", "/v1/console/governance/reviews/close"},
    {"POST", "/v1/console/governance/aftercare"},
    {"POST", "/v1/console/governance/campaigns"},
    {"POST", "/v1/console/governance/campaigns/confirm"},
    {"POST", "/v1/console/governance/campaigns/close"},
    {"POST", "/v1/console/governance/draw"},
    {"GET", "/"},
    {"GET", "/console/"},
    {"GET", "/console/assets/{file}"},
};

size_t cu_console_routes(const cu_console_route **out)
{
    _Static_assert(sizeof all_routes / sizeof all_routes[0] == NAPI + 3, "route tables agree");
    *out = all_routes;
    return sizeof all_routes / sizeof all_routes[0];
}

const char *cu_console_role_name(cu_console_role r)
{
    switch (r) {
    case CU_ROLE_INVESTIGATOR: return "investigator";
    case CU_ROLE_SUPERVISOR: return "supervisor";
    case CU_ROLE_AUDITOR: return "auditor";
    case CU_ROLE_ADMIN: return "admin";
    case CU_ROLE_VETTING: return "vetting";
    default: return "";
    }
}

cu_rc cu_console_role_parse(const char *s, cu_console_role *out)
{
    for (int r = CU_ROLE_INVESTIGATOR; r <= CU_ROLE_VETTING; r++)
        if (s && strcmp(s, cu_console_role_name((cu_console_role)r)) == 0) {
            *out = (cu_console_role)r;
            return CU_OK;
        }
    return cu_err_set(CU_ERR_INVAL, "unknown role '%s' (investigator, supervisor, auditor, admin, vetting)", s ? s : "");
}

/* ============================================================ opening */

static cu_rc read_or_make_key(const char *dir, uint8_t key[CONSOLE_KEY_LEN])
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/console.key", dir) >= (int)sizeof path)
        return cu_err_set(CU_ERR_TOOBIG, "data path too long");
    char *txt = NULL;
    size_t len = 0;
    cu_rc rc = cu_file_read(path, 256, &txt, &len);
    if (rc == CU_ERR_NOTFOUND) {
        uint8_t k[CONSOLE_KEY_LEN];
        char hex[2 * CONSOLE_KEY_LEN + 2];
        randombytes_buf(k, sizeof k);
        cu_hex_encode(k, sizeof k, hex);
        strcat(hex, "\n");
        rc = cu_file_write_atomic(path, hex, strlen(hex), 0600);
        sodium_memzero(k, sizeof k);
        sodium_memzero(hex, sizeof hex);
        if (rc)
            return rc;
        rc = cu_file_read(path, 256, &txt, &len);
    }
    if (rc)
        return rc;
    size_t n = 0;
    while (len && (txt[len - 1] == '\n' || txt[len - 1] == '\r'))
        len--;
    rc = len == 2 * CONSOLE_KEY_LEN ? cu_hex_decode(txt, len, key, &n) : CU_ERR_PARSE;
    sodium_memzero(txt, len);
    cu_free(txt);
    if (rc || n != CONSOLE_KEY_LEN)
        return cu_err_set(CU_ERR_CORRUPT, "%s: not 64 hex digits", path);
    return CU_OK;
}

static cu_rc attach_store(cu_console *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/store.db", c->data_dir);
    struct stat st;
    if (stat(path, &st) != 0) {
        /* No pipeline has run yet: make an empty store so the views have
         * their tables (the store module owns the schema). */
        cu_store *s = NULL;
        cu_rc rc = cu_store_open(path, &s);
        if (rc)
            return rc;
        cu_store_close(s);
    }
    char *sql = sqlite3_mprintf("ATTACH 'file:%q?mode=ro' AS st", path);
    if (!sql)
        return CU_ERR_NOMEM;
    int e = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    if (e != SQLITE_OK)
        return cu_err_set(CU_ERR_IO, "attach %s: %s", path, sqlite3_errmsg(c->db));
    c->have_store = true;
    return CU_OK;
}

cu_rc cu_console_open(const cu_console_opts *opts, cu_console **out)
{
    if (!opts || !opts->data_dir || !opts->audit.append)
        return cu_err_set(CU_ERR_INVAL, "console: data dir and audit sink required");
    cu_console *c = cu_calloc(1, sizeof *c);
    if (!c)
        return CU_ERR_NOMEM;
    cu_rc rc = CU_OK;
    c->o = *opts;
    pthread_mutex_init(&c->mu, NULL);
    c->data_dir = cu_strdup(opts->data_dir);
    c->assets_dir = opts->assets_dir ? cu_strdup(opts->assets_dir) : NULL;
    c->origin = opts->origin ? cu_strdup(opts->origin) : NULL;
    if (!c->data_dir || (opts->assets_dir && !c->assets_dir) || (opts->origin && !c->origin)) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    if (!c->o.session_idle)
        c->o.session_idle = 1800;
    if (!c->o.session_max)
        c->o.session_max = 12 * 3600;
    if (!c->o.lock_failures)
        c->o.lock_failures = 5;
    if (!c->o.lock_window)
        c->o.lock_window = 900;
    if (sodium_init() < 0) {
        rc = cu_err_set(CU_ERR_CRYPTO, "libsodium did not initialise");
        goto fail;
    }
    if (mkdir(c->data_dir, 0700) != 0 && errno != EEXIST) {
        rc = cu_err_set(cu_rc_from_errno(errno), "%s: %s", c->data_dir, strerror(errno));
        goto fail;
    }
    if ((rc = read_or_make_key(c->data_dir, c->key)))
        goto fail;
    char path[4096];
    snprintf(path, sizeof path, "%s/console.db", c->data_dir);
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = cu_err_set(CU_ERR_IO, "%s: %s", path, c->db ? sqlite3_errmsg(c->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, 5000);
    if ((rc = console_schema(c->db)) || (rc = attach_store(c)))
        goto fail;
    *out = c;
    return CU_OK;
fail:
    cu_console_close(c);
    return rc;
}

void cu_console_close(cu_console *c)
{
    if (!c)
        return;
    if (c->db)
        sqlite3_close(c->db);
    for (size_t i = 0; i < c->npseudos; i++)
        cu_free(c->pseudos[i].officer);
    cu_free(c->pseudos);
    sodium_memzero(c->key, sizeof c->key);
    pthread_mutex_destroy(&c->mu);
    cu_free(c->data_dir);
    cu_free(c->assets_dir);
    cu_free(c->origin);
    cu_free(c);
}

/* ============================================================ helpers */

static cu_rc dump_cb_append(cu_buf *b, const char *p, size_t n) { return cu_buf_append(b, p, n); }

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return dump_cb_append(data, buffer, size) == CU_OK ? 0 : -1;
}

void cx_error(ctx *x, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:s}", "error", msg);
    cx_json(x, status, j);
}

void cx_json(ctx *x, int status, json_t *j)
{
    cu_console_resp *r = x->resp;
    cu_buf_reset(r->body);
    r->content_type = "application/json";
    r->status = status;
    if (!j || json_dump_callback(j, dump_cb, r->body, JSON_COMPACT | JSON_REAL_PRECISION(6)) != 0 || cu_buf_append(r->body, "\n", 1)) {
        cu_buf_reset(r->body);
        r->status = 500;
        if (cu_buf_appends(r->body, "{\"error\":\"response could not be built\"}\n")) {
            /* the buffer cannot take even this: the status says it */
        }
    }
    json_decref(j);
}

const char *cx_query(const ctx *x, const char *name)
{
    for (size_t i = 0; i < x->nq; i++)
        if (strcmp(x->q[i].key, name) == 0)
            return x->q[i].value;
    return NULL;
}

bool cx_query_int(ctx *x, const char *name, int64_t lo, int64_t hi, int64_t def, int64_t *out)
{
    const char *v = cx_query(x, name);
    if (!v || !*v) {
        *out = def;
        return true;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < lo || n > hi) {
        cx_error(x, 400, "query argument %s must be an integer in [%lld, %lld]", name, (long long)lo, (long long)hi);
        return false;
    }
    *out = n;
    return true;
}

const char *cx_body_str(ctx *x, const char *name, size_t max, bool required)
{
    json_t *v = x->body ? json_object_get(x->body, name) : NULL;
    if (!v || json_is_null(v)) {
        if (required)
            cx_error(x, 400, "the body needs a string member \"%s\"", name);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
        cx_error(x, 400, "\"%s\" must be a string of at most %zu bytes", name, max);
        return NULL;
    }
    return json_string_value(v);
}

bool cx_need_role(ctx *x, unsigned roles)
{
    if (roles && !(roles & ROLE(x->s.role))) {
        cx_error(x, 403, "the %s role may not do this", cu_console_role_name(x->s.role));
        return false;
    }
    return true;
}

sqlite3_stmt *cx_prep(ctx *x, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(x->c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        cu_log(CU_LOG_ERROR, "console: %s: %s", sqlite3_errmsg(x->c->db), sql);
        cx_error(x, 500, "database error");
        return NULL;
    }
    return st;
}

bool cx_done(ctx *x, sqlite3_stmt *st)
{
    int e = sqlite3_step(st);
    sqlite3_finalize(st);
    if (e != SQLITE_DONE && e != SQLITE_ROW) {
        cu_log(CU_LOG_ERROR, "console: %s", sqlite3_errmsg(x->c->db));
        cx_error(x, 500, "database error");
        return false;
    }
    return true;
}

const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* ============================================================ query, cookies */

static cu_rc pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            if (i + 2 >= n)
                return cu_err_set(CU_ERR_PARSE, "truncated %% escape");
            int a = cu_hex_digit(s[i + 1]), b = cu_hex_digit(s[i + 2]);
            if (a < 0 || b < 0)
                return cu_err_set(CU_ERR_PARSE, "bad %% escape");
            ch = (char)(a * 16 + b);
            i += 2;
            if (ch == '\0')
                return cu_err_set(CU_ERR_PARSE, "NUL byte in query");
        }
        if (o + 1 >= cap)
            return cu_err_set(CU_ERR_PARSE, "query argument too long");
        out[o++] = ch;
    }
    out[o] = '\0';
    return CU_OK;
}

cu_rc cu_console_query_parse(const char *q, size_t len, cu_console_pair_fn fn, void *ud)
{
    char k[4097], v[4097];
    size_t i = 0, pairs = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j > i) {
            if (++pairs > 64)
                return cu_err_set(CU_ERR_PARSE, "more than 64 query arguments");
            size_t eq = i;
            while (eq < j && q[eq] != '=')
                eq++;
            cu_rc rc = pct_decode(q + i, eq - i, k, sizeof k);
            if (!rc)
                rc = eq < j ? pct_decode(q + eq + 1, j - eq - 1, v, sizeof v) : pct_decode("", 0, v, sizeof v);
            if (rc)
                return rc;
            if (memchr(q + i, '\0', j - i))
                return cu_err_set(CU_ERR_PARSE, "NUL byte in query");
            if ((rc = fn(ud, k, v)))
                return rc;
        }
        i = j + 1;
    }
    return CU_OK;
}

cu_rc cu_console_cookie(const char *h, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = h;
    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = len - nl - 1;
            while (vl && p[nl + 1 + vl - 1] == ' ')
                vl--;
            if (vl + 1 > cap)
                return cu_err_set(CU_ERR_TOOBIG, "cookie %s too long", name);
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return CU_OK;
        }
        p = end;
    }
    return CU_ERR_NOTFOUND;
}

static cu_rc add_qpair(void *ud, const char *k, const char *v)
{
    ctx *x = ud;
    if (x->nq >= MAX_QUERY)
        return cu_err_set(CU_ERR_PARSE, "more than %d query arguments", MAX_QUERY);
    x->q[x->nq].key = cu_strdup(k);
    x->q[x->nq].value = cu_strdup(v);
    if (!x->q[x->nq].key || !x->q[x->nq].value) {
        cu_free(x->q[x->nq].key);
        cu_free(x->q[x->nq].value);
        return CU_ERR_NOMEM;
    }
    x->nq++;
    return CU_OK;
}

/* Match path against a template; fills x->params.  Path parameters are
 * percent-decoded and must be 1..128 bytes. */
static bool route_match(ctx *x, const char *t, const char *path)
{
    int np = 0;
    for (int i = 0; i < MAX_PARAMS; i++)
        x->params[i] = NULL;
    while (*t && *path) {
        if (*t == '{') {
            t = strchr(t, '}') + 1;
            const char *s = path;
            while (*path && *path != '/')
                path++;
            size_t n = (size_t)(path - s);
            if (n == 0 || n > 128 || np >= MAX_PARAMS)
                return false;
            char tmp[256];
            if (pct_decode(s, n, tmp, sizeof tmp) || !tmp[0])
                return false;
            cu_free(x->param_buf[np]);
            x->param_buf[np] = cu_strdup(tmp);
            if (!x->param_buf[np])
                return false;
            x->params[np] = x->param_buf[np];
            np++;
            continue;
        }
        if (*t != *path)
            return false;
        t++;
        path++;
    }
    return !*t && !*path;
}

/* ============================================================ static pages */

static const char *mime_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    static const struct { const char *ext, *type; } m[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},  {".svg", "image/svg+xml"},
        {".png", "image/png"},                {".map", "application/json"},
        {".woff2", "font/woff2"},             {".ico", "image/x-icon"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(dot, m[i].ext) == 0)
            return m[i].type;
    return "application/octet-stream";
}

#define SECURITY_HEADERS                                                                                   \
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " \
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n"                   \
    "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"

static void serve_static(cu_console *c, const char *path, cu_console_resp *resp)
{
    char body[256];
    const char *name = NULL;
    resp->content_type = "application/json";
    if (strcmp(path, "/") == 0) {
        resp->status = 302;
        snprintf(resp->headers, sizeof resp->headers, "Location: /console/\r\n");
        cu_buf_reset(resp->body);
        if (cu_buf_appends(resp->body, "{\"location\":\"/console/\"}\n")) {
            /* tiny; cannot fail within the body maximum */
        }
        return;
    }
    if (strcmp(path, "/console/") == 0)
        name = "index.html";
    else if (strncmp(path, "/console/assets/", 16) == 0)
        name = path + 16;
    bool ok = name && *name && name[0] != '.' && strlen(name) < 128;
    for (const char *p = name; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
             *p == '-' || *p == '_';
    if (ok && strstr(name, ".."))
        ok = false;
    if (!ok || !c->assets_dir) {
        resp->status = 404;
        snprintf(body, sizeof body, "{\"error\":\"%s\"}\n",
                 c->assets_dir ? "no such page" : "the console's web assets were not built (npm, esbuild)");
        cu_buf_reset(resp->body);
        if (cu_buf_appends(resp->body, body)) {
            /* small */
        }
        return;
    }
    char fpath[4096];
    snprintf(fpath, sizeof fpath, "%s/%s", c->assets_dir, name);
    char *data = NULL;
    size_t len = 0;
    cu_rc rc = cu_file_read(fpath, 32u << 20, &data, &len);
    cu_buf_reset(resp->body);
    if (rc) {
        resp->status = rc == CU_ERR_NOTFOUND ? 404 : 500;
        snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", rc == CU_ERR_NOTFOUND ? "no such page" : "cannot read page");
        if (cu_buf_appends(resp->body, body)) {
            /* small */
        }
        return;
    }
    if (cu_buf_append(resp->body, data, len)) {
        resp->status = 500;
    } else {
        resp->status = 200;
        resp->content_type = mime_of(name);
        snprintf(resp->headers, sizeof resp->headers, SECURITY_HEADERS);
    }
    cu_free(data);
}

/* ============================================================ the request cycle */

static bool db_exec(cu_console *c, const char *sql)
{
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        cu_log(CU_LOG_ERROR, "console: %s: %s", sql, sqlite3_errmsg(c->db));
        return false;
    }
    return true;
}

/* Encode and append the audit record; on success, keep a copy in console.db. */
static cu_rc audit(ctx *x)
{
    const char *user = x->s.valid ? x->s.user : x->audit_user;
    const char *role = x->s.valid ? cu_console_role_name(x->s.role) : "";
    const char *q = x->req->query ? x->req->query : "";
    uint8_t status[2];
    cu_put_be16(status, (uint16_t)x->resp->status);
    size_t qlen = strlen(q), plen = strlen(x->req->path);
    if (qlen > CU_LEDGER_STR_MAX)
        qlen = CU_LEDGER_STR_MAX; /* the record keeps the first 1 KiB of a long query */
    if (plen > CU_LEDGER_STR_MAX)
        plen = CU_LEDGER_STR_MAX;
    cu_ledger_field f[] = {
        {CU_CONSOLE_F_USER, user, strlen(user)},
        {CU_CONSOLE_F_ROLE, role, strlen(role)},
        {CU_CONSOLE_F_METHOD, x->req->method, strlen(x->req->method)},
        {CU_CONSOLE_F_ROUTE, x->req->path, plen},
        {CU_CONSOLE_F_QUERY, q, qlen},
        {CU_CONSOLE_F_STATUS, status, 2},
        {CU_CONSOLE_F_ACTION, x->action, strlen(x->action)},
    };
    uint8_t entry[4096];
    size_t len = 0;
    cu_rc rc = cu_ledger_entry_encode(CU_LEDGER_CONSOLE, x->now, f, sizeof f / sizeof f[0], entry, sizeof entry, &len);
    uint64_t index = 0;
    if (!rc)
        rc = x->c->o.audit.append(x->c->o.audit.ud, entry, len, &index);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(x->c->db,
                           "INSERT INTO audit(ledger_index, ts, user, role, method, route, query, status, action)"
                           " VALUES(?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return cu_err_set(CU_ERR_IO, "audit copy: %s", sqlite3_errmsg(x->c->db));
    sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
    sqlite3_bind_int64(st, 2, x->now);
    sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, x->req->method, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, x->req->path, (int)plen, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, q, (int)qlen, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, x->resp->status);
    sqlite3_bind_text(st, 9, x->action, -1, SQLITE_STATIC);
    int e = sqlite3_step(st);
    sqlite3_finalize(st);
    /* The ledger holds the record whatever happens to this copy. */
    if (e != SQLITE_DONE)
        cu_log(CU_LOG_WARN, "console: audit copy not kept: %s", sqlite3_errmsg(x->c->db));
    return CU_OK;
}

cu_rc cu_console_audit_format(const void *entry, size_t len, uint64_t index, cu_buf *out)
{
    cu_ledger_entry e;
    cu_rc rc = cu_ledger_entry_decode(entry, len, &e);
    if (rc)
        return rc;
    if (e.type != CU_LEDGER_CONSOLE)
        return cu_err_set(CU_ERR_TYPE, "entry %llu is not a console record (type %u)", (unsigned long long)index,
                          e.type);
    char when[21];
    cu_time_format(e.ts, when);
    json_t *j = json_pack("{s:I, s:s}", "index", (json_int_t)index, "ts", when);
    static const char *const names[] = {NULL, "user", "role", "method", "route", "query", "status", "action"};
    for (size_t i = 0; j && i < e.nfields; i++) {
        const cu_ledger_field *f = &e.fields[i];
        if (f->tag == CU_CONSOLE_F_STATUS && f->len == 2)
            json_object_set_new(j, "status", json_integer(cu_get_be16(f->data)));
        else if (f->tag >= CU_CONSOLE_F_USER && f->tag <= CU_CONSOLE_F_ACTION && f->tag != CU_CONSOLE_F_STATUS)
            json_object_set_new(j, names[f->tag], json_stringn_nocheck(f->data, f->len));
    }
    if (!j)
        return CU_ERR_NOMEM;
    rc = json_dump_callback(j, dump_cb, out, JSON_COMPACT | JSON_ENSURE_ASCII) == 0 ? cu_buf_append(out, "\n", 1)
                                                                                     : CU_ERR_TOOBIG;
    json_decref(j);
    return rc;
}

static void run_api(ctx *x, const struct croute *r)
{
    const cu_console_req *req = x->req;
    if (req->query && cu_console_query_parse(req->query, strlen(req->query), add_qpair, x)) {
        cx_error(x, 400, "bad query: %s", cu_err_detail());
        return;
    }
    bool post = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;
    if (post && !origin_ok(x))
        return;
    if (r->need == NEED_SESSION) {
        auth_load_session(x);
        if (!x->s.valid) {
            /* an expired or unknown cookie is cleared */
            snprintf(x->resp->headers, sizeof x->resp->headers,
                     "Set-Cookie: " SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s\r\n",
                     x->c->o.insecure_cookies ? "" : "; Secure");
            cx_error(x, 401, "not logged in, or the session has ended");
            return;
        }
        if (post && !csrf_ok(x))
            return;
        if (!cx_need_role(x, r->roles))
            return;
    }
    if (post) {
        json_error_t je;
        const char *b = req->body ? req->body : "";
        size_t n = req->body ? req->body_len : 0;
        if (n) {
            x->body = json_loadb(b, n, JSON_REJECT_DUPLICATES, &je);
            if (!x->body || !json_is_object(x->body)) {
                cx_error(x, 400, "the body must be a JSON object%s%s", x->body ? "" : ": ", x->body ? "" : je.text);
                return;
            }
        }
    }
    r->fn(x);
}

void cu_console_handle(cu_console *c, const cu_console_req *req, int64_t now, cu_console_resp *resp)
{
    resp->status = 200;
    resp->content_type = "application/json";
    resp->headers[0] = '\0';
    if (strncmp(req->path, "/v1/console/", 12) != 0) {
        serve_static(c, req->path, resp);
        return;
    }
    ctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.req = req;
    x.resp = resp;
    x.now = now;
    const struct croute *r = NULL;
    bool path_known = false;
    for (size_t i = 0; i < NAPI && !r; i++) {
        if (!route_match(&x, api[i].path, req->path))
            continue;
        path_known = true;
        if (strcmp(api[i].method, req->method) == 0)
            r = &api[i];
    }
    pthread_mutex_lock(&c->mu);
    if (!db_exec(c, "BEGIN IMMEDIATE")) {
        cx_error(&x, 503, "the console database is busy");
        pthread_mutex_unlock(&c->mu);
        goto out;
    }
    if (r)
        run_api(&x, r);
    else if (path_known)
        cx_error(&x, 405, "method %s not allowed on %s", req->method, req->path);
    else
        cx_error(&x, 404, "no such route: %s", req->path);
    if (audit(&x)) {
        cu_log(CU_LOG_ERROR, "console: audit record not durable (%s): refusing %s %s", cu_err_detail(), req->method,
               req->path);
        db_exec(c, "ROLLBACK");
        resp->headers[0] = '\0';
        cx_error(&x, 503, "the audit log is unavailable: nothing was done or shown");
    } else if (!db_exec(c, "COMMIT")) {
        db_exec(c, "ROLLBACK");
        resp->headers[0] = '\0';
        cx_error(&x, 500, "the change could not be saved");
    }
    pthread_mutex_unlock(&c->mu);
out:
    for (size_t i = 0; i < x.nq; i++) {
        cu_free(x.q[i].key);
        cu_free(x.q[i].value);
    }
    for (int i = 0; i < MAX_PARAMS; i++)
        cu_free(x.param_buf[i]);
    json_decref(x.body);
}
