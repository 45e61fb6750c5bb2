/* The console's private parts shared by its files: the console struct, the
 * per-request context and the helpers every handler uses. */
#ifndef CUSTOS_CONSOLE_INT_H
#define CUSTOS_CONSOLE_INT_H

#include "custos/console.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>

#define CONSOLE_KEY_LEN 32
#define SESSION_COOKIE "custos_session"
#define MAX_PARAMS 4
#define MAX_QUERY 32
#define LIST_MAX 500 /* most rows any list answers */

struct cu_console {
    cu_console_opts o;
    char *data_dir, *assets_dir, *origin;
    sqlite3 *db;          /* console.db, store.db attached as "st" */
    bool have_store;
    pthread_mutex_t mu;
    uint8_t key[CONSOLE_KEY_LEN]; /* pseudonym key */
    /* pseudonym -> officer id, rebuilt when the store has new officers */
    struct pseudo { char pseudo[16]; char *officer; } *pseudos;
    size_t npseudos;
    int64_t pseudo_officers; /* officer names count the map was built from */
};

struct session {
    bool valid;
    char user[CU_CONSOLE_USER_MAX + 1];
    cu_console_role role;
    char officer[CU_GOV_MAX_ID + 1]; /* the account's officer id, "" when not linked */
    char csrf[48];
    uint8_t idhash[32];
};

struct qpair {
    char *key, *value;
};

typedef struct ctx {
    cu_console *c;
    const cu_console_req *req;
    cu_console_resp *resp;
    int64_t now;
    struct session s;
    const char *params[MAX_PARAMS]; /* path segments matched by "{...}" */
    char *param_buf[MAX_PARAMS];
    struct qpair q[MAX_QUERY];
    size_t nq;
    json_t *body;        /* parsed JSON body of a POST, or NULL */
    char action[512];    /* what the request changed, for the audit record */
    char audit_user[CU_CONSOLE_USER_MAX + 1]; /* a login names its user before a session exists */
} ctx;

/* ---- responses (console.c) */
void cx_error(ctx *x, int status, const char *fmt, ...) CU_PRINTF(3, 4);
/* Send j (stolen) as the 200 answer, or status. */
void cx_json(ctx *x, int status, json_t *j);
const char *cx_query(const ctx *x, const char *name); /* NULL when absent */
/* Integer query argument in [lo, hi], def when absent; false (and a 400 sent) when bad. */
bool cx_query_int(ctx *x, const char *name, int64_t lo, int64_t hi, int64_t def, int64_t *out);
/* A string member of the JSON body of at most max bytes; NULL when absent
 * or not a string (required: a 400 is sent). */
const char *cx_body_str(ctx *x, const char *name, size_t max, bool required);
bool cx_need_role(ctx *x, unsigned roles_mask); /* false (and 403 sent) when the role is not in it */
#define ROLE(r) (1u << (r))
#define ROLES_READ (ROLE(CU_ROLE_INVESTIGATOR) | ROLE(CU_ROLE_SUPERVISOR) | ROLE(CU_ROLE_AUDITOR))
#define ROLES_TRIAGE (ROLE(CU_ROLE_INVESTIGATOR) | ROLE(CU_ROLE_SUPERVISOR))

/* ---- sqlite helpers (console.c) */
sqlite3_stmt *cx_prep(ctx *x, const char *sql); /* NULL: 500 sent */
/* Step to done; false (500 sent) on error. */
bool cx_done(ctx *x, sqlite3_stmt *st);
const char *col_text(sqlite3_stmt *st, int i); /* "" for NULL */

/* ---- auth (console_auth.c) */
cu_rc console_schema(sqlite3 *db);
void auth_load_session(ctx *x);           /* fills x->s from the cookie (valid or not) */
void h_login(ctx *x);
void h_logout(ctx *x);
void h_session(ctx *x);
void h_accounts(ctx *x);
void h_account_add(ctx *x);
bool csrf_ok(ctx *x);                     /* false: 403 sent */
bool origin_ok(ctx *x);                   /* false: 403 sent */

/* ---- pseudonyms (console_views.c) */
/* The display name of an officer: the pseudonym, or the id when unmasked. */
void officer_display(ctx *x, const char *officer, char *out, size_t cap, bool *unmasked);
void officer_pseudonym(const cu_console *c, const char *officer, char out[16]);

/* ---- views (console_views.c) */
void h_alerts(ctx *x);
void h_alert(ctx *x);
void h_alert_state(ctx *x);
void h_officer_timeline(ctx *x);
void h_person_accesses(ctx *x);
void h_graph(ctx *x);
void h_cases(ctx *x);
void h_case_new(ctx *x);
void h_case(ctx *x);
void h_case_alert(ctx *x);
void h_case_note(ctx *x);
void h_case_export(ctx *x);
void h_unmask_request(ctx *x);
void h_unmask_list(ctx *x);
void h_unmask_decide(ctx *x);
void h_audit(ctx *x);

/* ---- governance (console_gov.c) */
void h_gov(ctx *x);

#endif
