/*
 * custos console: the investigator console's accounts, sessions and JSON API.
 *
 * The console is served by custosd but knows nothing of HTTP libraries: the
 * daemon hands each request over as a cu_console_req (method, path, raw query,
 * the few headers it needs, body) and copies the cu_console_resp back.  So the
 * whole security surface (login, lock-out, sessions, CSRF, roles, the audit of
 * every request) is reachable from C tests with time passed in.
 *
 * State lives in DATA/console.db (its own small SQLite file: accounts,
 * sessions, login failures, alert triage states, investigation cases, notes,
 * unmask requests, and a copy of the audit records with their ledger index).
 * The alerts, events and reference data are read from DATA/store.db (the
 * pipeline's store), attached read-only.  The pseudonym key is DATA/console.key
 * (32 random bytes, mode 0600).
 *
 * Invariants:
 * 1. Every request to the JSON API is appended to the ledger (through the
 *    audit interface) before its answer leaves; if the append fails, any
 *    change the request made is rolled back and the answer is 503.
 * 2. Passwords are stored only as Argon2id strings (libsodium); session ids
 *    only as SHA-256 hashes; the CSRF token is per session.
 * 3. Every state-changing request (POST) needs a matching Origin; every one
 *    but login also needs the session's CSRF token in X-CSRF-Token.
 * 4. Officers appear as pseudonyms (HMAC-SHA-256 of the id under the console
 *    key) unless an unmask request for them was approved by a second person.
 * 5. Time is passed in (now); nothing here reads the clock.
 * One cu_console may be used from several threads (a mutex serialises them).
 */
#ifndef CUSTOS_CONSOLE_H
#define CUSTOS_CONSOLE_H

#include "custos/governance.h"
#include "custos/util.h"

typedef struct cu_console cu_console;

typedef enum cu_console_role {
    CU_ROLE_NONE = 0,
    CU_ROLE_INVESTIGATOR,
    CU_ROLE_SUPERVISOR,
    CU_ROLE_AUDITOR,
    CU_ROLE_ADMIN,
    CU_ROLE_VETTING, /* the force vetting unit: governance actions (docs/console.md) */
} cu_console_role;

const char *cu_console_role_name(cu_console_role r); /* "investigator", ...; "" for none */
cu_rc cu_console_role_parse(const char *s, cu_console_role *out) CU_NODISCARD;

/* Where audit records go: the ledger in custosd (cu_ledger_append), anything
 * in tests.  append returns only when the record is durable. */
typedef struct cu_console_audit {
    cu_rc (*append)(void *ud, const void *entry, size_t len, uint64_t *index);
    void *ud;
} cu_console_audit;

/* The evidence export hook: writes a bundle of the ledger entries `indexes`
 * (n of them, ascending: the events the case's alerts name, found in the
 * store) and sets *where (a path or description the console frees with
 * cu_free).  custosd calls cu_evidence_export (CU_EVIDENCE_BY_INDEXES).
 * NULL in opts: the export route answers 501 saying export is not
 * available.  Called with the console's lock held: it must not call back
 * into the console. */
typedef cu_rc (*cu_console_export_fn)(void *ud, const char *case_id, const uint64_t *indexes, size_t n, int64_t now,
                                      char **where);

/* Password hashing cost: interactive (libsodium's interactive limits) in
 * use; minimal only for tests. */
typedef enum cu_console_kdf { CU_KDF_INTERACTIVE = 0, CU_KDF_MIN } cu_console_kdf;

typedef struct cu_console_opts {
    const char *data_dir;       /* required */
    const char *assets_dir;     /* the web build output; NULL: no static pages */
    bool insecure_cookies;      /* leave out the Secure attribute (plain-HTTP loopback demo only) */
    int64_t session_idle;       /* seconds without a request before a session ends (default 1800) */
    int64_t session_max;        /* seconds a session lives at most (default 43200) */
    unsigned lock_failures;     /* failed logins that lock an account ... (default 5) */
    int64_t lock_window;        /* ... within this many seconds (default 900) */
    const char *origin;         /* the allowed Origin, e.g. "https://custos.example"; NULL: the Host header's */
    cu_console_audit audit;     /* required */
    cu_console_export_fn export_fn;
    void *export_ud;
    cu_gov *gov;                /* the vetting register (borrowed); NULL: governance routes answer 501 */
} cu_console_opts;

cu_rc cu_console_open(const cu_console_opts *opts, cu_console **out) CU_NODISCARD;
void cu_console_close(cu_console *c);

/* ------------------------------------------------------------ accounts */

#define CU_CONSOLE_USER_MAX 64
#define CU_CONSOLE_PASSWORD_MIN 8
#define CU_CONSOLE_PASSWORD_MAX 1024

/* Create an account in DATA/console.db (made if missing).  CU_ERR_EXISTS
 * when the user exists, CU_ERR_INVAL for a bad name, role or password. */
cu_rc cu_console_account_add(const char *data_dir, const char *user, const char *role, const char *password,
                             cu_console_kdf kdf, int64_t now) CU_NODISCARD;
/* The same, linking the account to the officer id it belongs to (NULL:
 * none).  Governance actions through the console are done as that officer,
 * so separation of duties recognises the person's own record; an account
 * with no officer may read governance reports but not act. */
cu_rc cu_console_account_add_officer(const char *data_dir, const char *user, const char *role, const char *officer,
                                     const char *password, cu_console_kdf kdf, int64_t now) CU_NODISCARD;

/* ------------------------------------------------------------ requests */

typedef struct cu_console_req {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* without the query */
    const char *query;         /* "a=1&b=2" (percent-encoded) or NULL */
    const char *cookie;        /* the Cookie header or NULL */
    const char *origin;        /* the Origin header or NULL */
    const char *host;          /* the Host header or NULL */
    const char *csrf;          /* the X-CSRF-Token header or NULL */
    const char *body;          /* NUL-terminated; may be NULL */
    size_t body_len;
} cu_console_req;

typedef struct cu_console_resp {
    int status;
    const char *content_type;  /* static */
    cu_buf *body;              /* the caller's buffer */
    char headers[512];         /* "Name: value\r\n" lines (Set-Cookie, Location, ...) */
} cu_console_resp;

/* Answer one request (API or static page).  resp->body must be initialised
 * by the caller; status, content_type and headers are set here. */
void cu_console_handle(cu_console *c, const cu_console_req *req, int64_t now, cu_console_resp *resp);

/* The routes the console serves, "{name}" for a path segment. */
typedef struct cu_console_route {
    const char *method;
    const char *path;
} cu_console_route;
size_t cu_console_routes(const cu_console_route **out);

/* ------------------------------------------------------------ audit records */

/* Ledger entry type CU_LEDGER_CONSOLE (4); fields (docs/console.md): */
enum {
    CU_CONSOLE_F_USER = 1,   /* account name, absent before login */
    CU_CONSOLE_F_ROLE,       /* role name */
    CU_CONSOLE_F_METHOD,     /* HTTP method */
    CU_CONSOLE_F_ROUTE,      /* the path asked for */
    CU_CONSOLE_F_QUERY,      /* the query string, absent when none */
    CU_CONSOLE_F_STATUS,     /* u16 big-endian: the status answered */
    CU_CONSOLE_F_ACTION,     /* what changed, e.g. "alert A7 new->dismissed: duplicate" */
};

/* One console audit record (a ledger entry of type CU_LEDGER_CONSOLE) as a
 * JSON line appended to out: {"index":..,"ts":..,"user":..,"role":..,
 * "method":..,"route":..,"query":..,"status":..,"action":..}.
 * CU_ERR_TYPE for an entry of another type, CU_ERR_PARSE for a bad one. */
cu_rc cu_console_audit_format(const void *entry, size_t len, uint64_t index, cu_buf *out) CU_NODISCARD;

/* Parse a query string ("a=1&b=x%20y"): calls fn for each pair with decoded
 * key and value (value "" when absent).  CU_ERR_PARSE on a bad escape, a
 * NUL byte or a pair longer than 4096 bytes; at most 64 pairs. */
typedef cu_rc (*cu_console_pair_fn)(void *ud, const char *key, const char *value);
cu_rc cu_console_query_parse(const char *q, size_t len, cu_console_pair_fn fn, void *ud) CU_NODISCARD;

/* Find a cookie's value in a Cookie header; CU_ERR_NOTFOUND when absent,
 * CU_ERR_TOOBIG when longer than cap-1. */
cu_rc cu_console_cookie(const char *header, const char *name, char *out, size_t cap) CU_NODISCARD;

#endif /* CUSTOS_CONSOLE_H */
