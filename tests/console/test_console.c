/* The console's security and views through cu_console_handle, with time
 * passed in and the audit sink in the test's hands: login, wrong password,
 * lock-out, CSRF and Origin, session expiry, roles and separation of duties,
 * every request audited, fail-closed audit, pseudonyms. */
#include "harness.h"

#include "custos/console.h"
#include "custos/ledger.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define T0 1710000000 /* 2024-03-09 */
#define ORIGIN "http://127.0.0.1:8340"
#define HOST "127.0.0.1:8340"

/* ------------------------------------------------------------ the audit sink */

struct sink {
    bool fail;
    uint64_t n;
    cu_buf last; /* the last entry */
};

static cu_rc sink_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    struct sink *s = ud;
    if (s->fail)
        return cu_err_set(CU_ERR_IO, "disk gone");
    cu_buf_reset(&s->last);
    cu_rc rc = cu_buf_append(&s->last, e, len);
    *index = s->n++;
    return rc;
}

/* ------------------------------------------------------------ fixture */

static char data[512];
static struct sink sink;

static const char *fixture(void)
{
    static bool made;
    if (!made) {
        snprintf(data, sizeof data, "%s/data", cu_test_tmpdir());
        const char *t = cu_test_tmpdir();
        int st = cu_test_run(NULL,
                             "bash tests/console/make_fixture.sh %s/fx && %s/custos replay --legacy --reference "
                             "%s/fx/reference.jsonl --events %s/fx/events.jsonl --alerts %s/alerts.jsonl --data %s "
                             ">/dev/null 2>&1",
                             t, cu_test_bindir(), t, t, t, data);
        CHECK_INT(st, 0);
        CHECK_OK(cu_console_account_add(data, "alice", "investigator", "alice-password", CU_KDF_MIN, T0));
        CHECK_OK(cu_console_account_add(data, "bob", "supervisor", "bob-password", CU_KDF_MIN, T0));
        CHECK_OK(cu_console_account_add(data, "carol", "supervisor", "carol-password", CU_KDF_MIN, T0));
        CHECK_OK(cu_console_account_add(data, "dave", "auditor", "dave-password", CU_KDF_MIN, T0));
        CHECK_OK(cu_console_account_add(data, "erin", "admin", "erin-password", CU_KDF_MIN, T0));
        CHECK_OK(cu_console_account_add_officer(data, "vera", "vetting", "FVU1", "vera-password", CU_KDF_MIN, T0));
        CHECK_OK(cu_console_account_add_officer(data, "val", "vetting", "MP9", "val-password", CU_KDF_MIN, T0));
        CHECK_OK(cu_console_account_add_officer(data, "ian", "investigator", "MP7", "ian-password", CU_KDF_MIN, T0));
        CHECK_OK(cu_console_account_add(data, "nell", "vetting", "nell-password", CU_KDF_MIN, T0));
        CHECK_RC(cu_console_account_add_officer(data, "olga", "vetting", "MP 1", "olga-password", CU_KDF_MIN, T0),
                 CU_ERR_INVAL);
        cu_buf_init(&sink.last, 1 << 20);
        made = true;
    }
    return data;
}

static cu_console *open_console(bool insecure)
{
    cu_console_opts o = {.data_dir = fixture(), .insecure_cookies = insecure, .audit = {sink_append, &sink}};
    cu_console *c = NULL;
    CHECK_OK(cu_console_open(&o, &c));
    return c;
}

/* A browser of one: keeps its cookie and CSRF token. */
struct client {
    char cookie[128];
    char csrf[64];
    int status;
    char headers[512];
    cu_buf body;
};

static json_t *req(cu_console *c, struct client *cl, int64_t now, const char *method, const char *path,
                   const char *query, const char *body, const char *origin, const char *csrf)
{
    cu_buf_reset(&cl->body);
    if (!cl->body.max)
        cu_buf_init(&cl->body, 16 << 20);
    char cookie[160];
    snprintf(cookie, sizeof cookie, "theme=dark; custos_session=%s", cl->cookie);
    cu_console_req r = {.method = method, .path = path, .query = query, .cookie = cl->cookie[0] ? cookie : NULL,
                        .origin = origin, .host = HOST, .csrf = csrf, .body = body, .body_len = body ? strlen(body) : 0};
    cu_console_resp resp = {.body = &cl->body};
    cu_console_handle(c, &r, now, &resp);
    cl->status = resp.status;
    snprintf(cl->headers, sizeof cl->headers, "%s", resp.headers);
    const char *sc = strstr(resp.headers, "custos_session=");
    if (sc) {
        sc += strlen("custos_session=");
        size_t n = strcspn(sc, ";\r");
        snprintf(cl->cookie, sizeof cl->cookie, "%.*s", (int)n, sc);
    }
    json_t *j = json_loadb(cl->body.data ? cl->body.data : "", cl->body.len, 0, NULL);
    CHECK_MSG(j != NULL, "%s %s: the answer is not JSON: %.200s", method, path, cl->body.data);
    return j;
}

static json_t *get(cu_console *c, struct client *cl, int64_t now, const char *path, const char *query)
{
    return req(c, cl, now, "GET", path, query, NULL, NULL, NULL);
}

static json_t *post(cu_console *c, struct client *cl, int64_t now, const char *path, const char *body)
{
    return req(c, cl, now, "POST", path, NULL, body, ORIGIN, cl->csrf);
}

static bool login(cu_console *c, struct client *cl, int64_t now, const char *user, const char *pw)
{
    char body[256];
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
    json_t *j = req(c, cl, now, "POST", "/v1/console/login", NULL, body, ORIGIN, NULL);
    const char *t = json_string_value(json_object_get(j, "csrf"));
    snprintf(cl->csrf, sizeof cl->csrf, "%s", t ? t : "");
    json_decref(j);
    return cl->status == 200;
}

static void client_free(struct client *cl) { cu_buf_free(&cl->body); }

static const char *err_of(json_t *j) { return json_string_value(json_object_get(j, "error")); }

/* ------------------------------------------------------------ tests */

TEST(login_sets_a_strict_cookie_and_keeps_only_its_hash)
{
    cu_console *c = open_console(false);
    struct client a = {0};
    CHECK(login(c, &a, T0, "alice", "alice-password"));
    CHECK(strstr(a.headers, "HttpOnly") != NULL);
    CHECK(strstr(a.headers, "SameSite=Strict") != NULL);
    CHECK(strstr(a.headers, "; Secure") != NULL);
    CHECK_INT(strlen(a.cookie), 43);
    CHECK_INT(strlen(a.csrf), 43);
    json_t *j = get(c, &a, T0 + 5, "/v1/console/session", NULL);
    CHECK_INT(a.status, 200);
    CHECK_STR(json_string_value(json_object_get(j, "user")), "alice");
    CHECK_STR(json_string_value(json_object_get(j, "role")), "investigator");
    json_decref(j);
    /* the database holds neither the session id nor the password */
    char path[600], *db = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/console.db", data);
    cu_console_close(c);
    CHECK_OK(cu_file_read(path, 64 << 20, &db, &len));
    CHECK(memmem(db, len, a.cookie, strlen(a.cookie)) == NULL);
    CHECK(memmem(db, len, "alice-password", 14) == NULL);
    CHECK(memmem(db, len, "$argon2id$", 10) != NULL);
    cu_free(db);
    client_free(&a);
}

TEST(insecure_cookies_leave_out_secure)
{
    cu_console *c = open_console(true);
    struct client a = {0};
    CHECK(login(c, &a, T0, "alice", "alice-password"));
    CHECK(strstr(a.headers, "Secure") == NULL);
    CHECK(strstr(a.headers, "HttpOnly") != NULL);
    cu_console_close(c);
    client_free(&a);
}

TEST(wrong_password_and_unknown_user_get_the_same_answer)
{
    cu_console *c = open_console(false);
    struct client a = {0}, b = {0};
    CHECK(!login(c, &a, T0, "bob", "not-bobs-password"));
    CHECK_INT(a.status, 401);
    CHECK(!login(c, &b, T0, "nobody", "whatever-password"));
    CHECK_INT(b.status, 401);
    CHECK_STR(a.body.data, b.body.data);
    CHECK(a.cookie[0] == '\0');
    json_t *j = get(c, &a, T0, "/v1/console/alerts", NULL);
    CHECK_INT(a.status, 401);
    json_decref(j);
    cu_console_close(c);
    client_free(&a);
    client_free(&b);
}

TEST(five_failures_lock_the_account_for_the_window)
{
    cu_console *c = open_console(false);
    struct client a = {0};
    for (int i = 0; i < 5; i++) {
        CHECK(!login(c, &a, T0 + 100 + i, "carol", "wrong-password"));
        CHECK_INT(a.status, 401);
    }
    /* the right password is refused while locked */
    CHECK(!login(c, &a, T0 + 200, "carol", "carol-password"));
    CHECK_INT(a.status, 429);
    CHECK(strstr(a.body.data, "locked") != NULL);
    /* once the first failures leave the 15-minute window it opens again */
    CHECK(login(c, &a, T0 + 100 + 901, "carol", "carol-password"));
    /* and a success clears the count */
    for (int i = 0; i < 4; i++)
        CHECK(!login(c, &a, T0 + 2000 + i, "carol", "wrong-password"));
    CHECK(login(c, &a, T0 + 2010, "carol", "carol-password"));
    cu_console_close(c);
    client_free(&a);
}

TEST(state_changes_need_origin_and_csrf_token)
{
    cu_console *c = open_console(false);
    struct client a = {0};
    CHECK(login(c, &a, T0, "alice", "alice-password"));
    const char *body = "{\"state\":\"assigned\"}";
    json_t *j = req(c, &a, T0 + 1, "POST", "/v1/console/alerts/A3/state", NULL, body, ORIGIN, NULL);
    CHECK_INT(a.status, 403);
    CHECK(strstr(err_of(j), "CSRF") != NULL);
    json_decref(j);
    j = req(c, &a, T0 + 1, "POST", "/v1/console/alerts/A3/state", NULL, body, ORIGIN, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    CHECK_INT(a.status, 403);
    json_decref(j);
    j = req(c, &a, T0 + 1, "POST", "/v1/console/alerts/A3/state", NULL, body, NULL, a.csrf);
    CHECK_INT(a.status, 403);
    CHECK(strstr(err_of(j), "Origin") != NULL);
    json_decref(j);
    j = req(c, &a, T0 + 1, "POST", "/v1/console/alerts/A3/state", NULL, body, "https://evil.example", a.csrf);
    CHECK_INT(a.status, 403);
    json_decref(j);
    /* a login from another origin is refused too */
    j = req(c, &a, T0 + 1, "POST", "/v1/console/login", NULL, "{\"user\":\"alice\",\"password\":\"alice-password\"}",
            "https://evil.example", NULL);
    CHECK_INT(a.status, 403);
    json_decref(j);
    /* nothing changed so far */
    j = get(c, &a, T0 + 2, "/v1/console/alerts/A3", NULL);
    CHECK_STR(json_string_value(json_object_get(j, "state")), "new");
    json_decref(j);
    j = post(c, &a, T0 + 3, "/v1/console/alerts/A3/state", body);
    CHECK_INT(a.status, 200);
    CHECK_STR(json_string_value(json_object_get(j, "assignee")), "alice");
    json_decref(j);
    j = get(c, &a, T0 + 4, "/v1/console/alerts/A3", NULL);
    CHECK_STR(json_string_value(json_object_get(j, "state")), "assigned");
    CHECK_INT(json_array_size(json_object_get(j, "history")), 1);
    json_decref(j);
    cu_console_close(c);
    client_free(&a);
}

TEST(sessions_end_when_idle_and_at_their_maximum)
{
    cu_console *c = open_console(false);
    struct client a = {0};
    CHECK(login(c, &a, T0, "alice", "alice-password"));
    json_t *j = get(c, &a, T0 + 1799, "/v1/console/session", NULL);
    CHECK_INT(a.status, 200);
    json_decref(j);
    j = get(c, &a, T0 + 1799 + 1800, "/v1/console/session", NULL);
    CHECK_INT(a.status, 401);
    CHECK(strstr(a.headers, "Max-Age=0") != NULL);
    json_decref(j);
    /* gone for good, even if asked earlier again */
    j = get(c, &a, T0 + 1800, "/v1/console/session", NULL);
    CHECK_INT(a.status, 401);
    json_decref(j);
    /* kept busy, a session still ends after 12 hours */
    struct client b = {0};
    CHECK(login(c, &b, T0, "alice", "alice-password"));
    int64_t t = T0;
    for (; t < T0 + 12 * 3600 - 1000; t += 1000) {
        j = get(c, &b, t, "/v1/console/session", NULL);
        CHECK_INT(b.status, 200);
        json_decref(j);
    }
    j = get(c, &b, T0 + 12 * 3600, "/v1/console/session", NULL);
    CHECK_INT(b.status, 401);
    json_decref(j);
    /* logout ends a session at once */
    struct client d = {0};
    CHECK(login(c, &d, T0, "alice", "alice-password"));
    j = post(c, &d, T0 + 1, "/v1/console/logout", "{}");
    CHECK_INT(d.status, 200);
    json_decref(j);
    j = get(c, &d, T0 + 2, "/v1/console/session", NULL);
    CHECK_INT(d.status, 401);
    json_decref(j);
    cu_console_close(c);
    client_free(&a);
    client_free(&b);
    client_free(&d);
}

TEST(roles_and_separation_of_duties_for_unmasking)
{
    cu_console *c = open_console(false);
    struct client a = {0}, b = {0}, k = {0}, d = {0}, e = {0};
    CHECK(login(c, &a, T0, "alice", "alice-password"));
    CHECK(login(c, &b, T0, "bob", "bob-password"));
    CHECK(login(c, &k, T0, "carol", "carol-password"));
    CHECK(login(c, &d, T0, "dave", "dave-password"));
    CHECK(login(c, &e, T0, "erin", "erin-password"));
    /* an auditor reads but does not change; an admin manages accounts only */
    json_t *j = get(c, &d, T0 + 1, "/v1/console/alerts", NULL);
    CHECK_INT(d.status, 200);
    json_decref(j);
    j = post(c, &d, T0 + 1, "/v1/console/alerts/A4/state", "{\"state\":\"escalated\"}");
    CHECK_INT(d.status, 403);
    json_decref(j);
    j = get(c, &e, T0 + 1, "/v1/console/alerts", NULL);
    CHECK_INT(e.status, 403);
    json_decref(j);
    j = get(c, &e, T0 + 1, "/v1/console/accounts", NULL);
    CHECK_INT(e.status, 200);
    json_decref(j);
    j = get(c, &a, T0 + 1, "/v1/console/accounts", NULL);
    CHECK_INT(a.status, 403);
    json_decref(j);
    /* a case with A4; its officer by pseudonym */
    j = post(c, &a, T0 + 2, "/v1/console/cases", "{\"title\":\"night look-ups\",\"alert\":\"A4\"}");
    CHECK_INT(a.status, 201);
    json_int_t cid = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    j = get(c, &a, T0 + 3, "/v1/console/alerts/A4", NULL);
    char pseudo[32];
    snprintf(pseudo, sizeof pseudo, "%s",
             json_string_value(json_object_get(json_array_get(json_object_get(j, "officers"), 0), "id")));
    json_decref(j);
    CHECK(strncmp(pseudo, "OF-", 3) == 0);
    char path[128], body[256];
    snprintf(path, sizeof path, "/v1/console/cases/%lld/unmask", (long long)cid);
    snprintf(body, sizeof body, "{\"officer\":\"%s\",\"reason\":\"night look-ups need an interview\"}", pseudo);
    /* an officer not in the case's alerts cannot be asked for */
    j = post(c, &a, T0 + 4, path, "{\"officer\":\"OF-0000000000\",\"reason\":\"just curious about them\"}");
    CHECK_INT(a.status, 404);
    json_decref(j);
    j = post(c, &b, T0 + 4, path, body); /* bob (a supervisor) asks */
    CHECK_INT(b.status, 201);
    json_int_t rid = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    snprintf(path, sizeof path, "/v1/console/unmask/%lld/approve", (long long)rid);
    j = post(c, &a, T0 + 5, path, "{}"); /* an investigator may not approve */
    CHECK_INT(a.status, 403);
    json_decref(j);
    j = post(c, &b, T0 + 5, path, "{}"); /* nobody approves their own request */
    CHECK_INT(b.status, 403);
    CHECK(strstr(err_of(j), "own") != NULL);
    json_decref(j);
    /* still masked */
    j = get(c, &a, T0 + 6, "/v1/console/alerts/A4", NULL);
    CHECK(strstr(a.body.data, "MP10007") == NULL);
    json_decref(j);
    j = post(c, &k, T0 + 7, path, "{}"); /* carol, another supervisor, approves */
    CHECK_INT(k.status, 200);
    CHECK_STR(json_string_value(json_object_get(j, "officer")), "MP10007");
    json_decref(j);
    j = post(c, &k, T0 + 8, path, "{}");
    CHECK_INT(k.status, 409);
    json_decref(j);
    /* now shown by id, also inside reasons; the id resolves */
    j = get(c, &k, T0 + 9, "/v1/console/alerts/A4", NULL);
    CHECK(strstr(k.body.data, "\"id\":\"MP10007\",\"unmasked\":true") != NULL);
    CHECK(strstr(k.body.data, "MP10007 viewed P9001") != NULL);
    json_decref(j);
    j = get(c, &k, T0 + 10, "/v1/console/officers/MP10007/timeline", NULL);
    CHECK_INT(k.status, 200);
    json_decref(j);
    cu_console_close(c);
    client_free(&a);
    client_free(&b);
    client_free(&k);
    client_free(&d);
    client_free(&e);
}

TEST(officers_stay_pseudonymous_until_unmasked)
{
    cu_console *c = open_console(false);
    struct client a = {0};
    CHECK(login(c, &a, T0, "alice", "alice-password"));
    json_t *j = get(c, &a, T0 + 1, "/v1/console/alerts", "state=all&limit=50");
    CHECK_INT(a.status, 200);
    CHECK_INT(json_array_size(json_object_get(j, "alerts")), 9);
    /* MP10007 may be unmasked by the test above; the detectives are not */
    CHECK(strstr(a.body.data, "MP2000") == NULL);
    json_decref(j);
    j = get(c, &a, T0 + 2, "/v1/console/officers/MP20001/timeline", NULL);
    CHECK_INT(a.status, 404);
    json_decref(j);
    j = get(c, &a, T0 + 3, "/v1/console/persons/P9001/accesses", NULL);
    CHECK_INT(a.status, 200);
    CHECK_INT(json_integer_value(json_object_get(j, "total")), 9);
    CHECK_INT(json_integer_value(json_object_get(j, "unexplained")), 9);
    CHECK(strstr(a.body.data, "MP2000") == NULL);
    json_decref(j);
    j = get(c, &a, T0 + 4, "/v1/console/graph", NULL);
    CHECK_INT(a.status, 200);
    CHECK(strstr(a.body.data, "MP2000") == NULL);
    json_decref(j);
    /* a normal day-shift officer's access is explained by their case */
    j = get(c, &a, T0 + 5, "/v1/console/persons/P1003/accesses", NULL);
    CHECK_INT(a.status, 200);
    CHECK(json_integer_value(json_object_get(j, "total")) > json_integer_value(json_object_get(j, "unexplained")));
    json_decref(j);
    cu_console_close(c);
    client_free(&a);
}

TEST(every_request_is_audited_and_a_dead_audit_fails_closed)
{
    cu_console *c = open_console(false);
    struct client a = {0};
    uint64_t n0 = sink.n;
    CHECK(login(c, &a, T0, "alice", "alice-password"));
    CHECK_INT(sink.n, n0 + 1);
    json_t *j = get(c, &a, T0 + 1, "/v1/console/alerts", "kind=protected-person&sort=raised_at");
    json_decref(j);
    CHECK_INT(sink.n, n0 + 2);
    /* the record: user, role, route, query, status */
    cu_ledger_entry e;
    CHECK_OK(cu_ledger_entry_decode(sink.last.data, sink.last.len, &e));
    CHECK_INT(e.type, CU_LEDGER_CONSOLE);
    CHECK_INT(e.ts, T0 + 1);
    const cu_ledger_field *f = cu_ledger_entry_field(&e, CU_CONSOLE_F_USER);
    CHECK(f && f->len == 5 && memcmp(f->data, "alice", 5) == 0);
    f = cu_ledger_entry_field(&e, CU_CONSOLE_F_ROUTE);
    CHECK(f && f->len == strlen("/v1/console/alerts"));
    f = cu_ledger_entry_field(&e, CU_CONSOLE_F_QUERY);
    CHECK(f && f->len == strlen("kind=protected-person&sort=raised_at"));
    cu_buf line;
    cu_buf_init(&line, 1 << 16);
    CHECK_OK(cu_console_audit_format(sink.last.data, sink.last.len, 7, &line));
    CHECK(strstr(line.data, "\"status\":200") != NULL);
    CHECK(strstr(line.data, "\"role\":\"investigator\"") != NULL);
    cu_buf_free(&line);
    /* refused and unknown requests are audited too */
    j = get(c, &a, T0 + 2, "/v1/console/accounts", NULL);
    json_decref(j);
    j = get(c, &a, T0 + 2, "/v1/console/nothing-here", NULL);
    CHECK_INT(a.status, 404);
    json_decref(j);
    CHECK_INT(sink.n, n0 + 4);
    /* the audit fails: the change is undone and nothing is shown */
    sink.fail = true;
    j = post(c, &a, T0 + 3, "/v1/console/alerts/A5/state", "{\"state\":\"dismissed\",\"reason\":\"duplicate\"}");
    CHECK_INT(a.status, 503);
    json_decref(j);
    j = get(c, &a, T0 + 3, "/v1/console/alerts/A5", NULL);
    CHECK_INT(a.status, 503);
    CHECK(strstr(a.body.data, "P9002") == NULL);
    json_decref(j);
    sink.fail = false;
    j = get(c, &a, T0 + 4, "/v1/console/alerts/A5", NULL);
    CHECK_INT(a.status, 200);
    CHECK_STR(json_string_value(json_object_get(j, "state")), "new");
    json_decref(j);
    /* the auditor's list agrees with the sink */
    struct client d = {0};
    CHECK(login(c, &d, T0 + 5, "dave", "dave-password"));
    j = get(c, &d, T0 + 6, "/v1/console/audit", "limit=2");
    json_t *first = json_array_get(json_object_get(j, "audit"), 0);
    CHECK_STR(json_string_value(json_object_get(first, "action")), "login");
    CHECK_INT(json_integer_value(json_object_get(first, "ledger_index")), sink.n - 2);
    json_decref(j);
    cu_console_close(c);
    client_free(&a);
    client_free(&d);
}

TEST(bad_input_is_refused_with_json_errors)
{
    cu_console *c = open_console(false);
    struct client a = {0};
    CHECK(login(c, &a, T0, "alice", "alice-password"));
    json_t *j = req(c, &a, T0, "POST", "/v1/console/cases", NULL, "{not json", ORIGIN, a.csrf);
    CHECK_INT(a.status, 400);
    CHECK(err_of(j) != NULL);
    json_decref(j);
    j = get(c, &a, T0, "/v1/console/alerts", "limit=100000");
    CHECK_INT(a.status, 400);
    json_decref(j);
    j = get(c, &a, T0, "/v1/console/alerts", "state=%zz");
    CHECK_INT(a.status, 400);
    json_decref(j);
    j = get(c, &a, T0, "/v1/console/alerts/A999", NULL);
    CHECK_INT(a.status, 404);
    json_decref(j);
    j = req(c, &a, T0, "DELETE", "/v1/console/alerts", NULL, NULL, ORIGIN, a.csrf);
    CHECK_INT(a.status, 405);
    json_decref(j);
    j = post(c, &a, T0, "/v1/console/alerts/A6/state", "{\"state\":\"dismissed\"}");
    CHECK_INT(a.status, 400);
    CHECK(strstr(err_of(j), "reason") != NULL);
    json_decref(j);
    cu_console_close(c);
    client_free(&a);
}

static cu_rc collect(void *ud, const char *k, const char *v)
{
    cu_buf *b = ud;
    return cu_buf_appendf(b, "[%s=%s]", k, v);
}

TEST(query_and_cookie_parsers)
{
    cu_buf b;
    cu_buf_init(&b, 4096);
    const char *q = "a=1&b=x%20y+z&&c&d=%2F";
    CHECK_OK(cu_console_query_parse(q, strlen(q), collect, &b));
    CHECK_STR(b.data, "[a=1][b=x y z][c=][d=/]");
    CHECK_RC(cu_console_query_parse("a=%2", 4, collect, &b), CU_ERR_PARSE);
    CHECK_RC(cu_console_query_parse("a=%zz", 5, collect, &b), CU_ERR_PARSE);
    CHECK_RC(cu_console_query_parse("a=%00", 5, collect, &b), CU_ERR_PARSE);
    cu_buf_free(&b);
    char v[64];
    CHECK_OK(cu_console_cookie("a=1; custos_session=abc; b=2", "custos_session", v, sizeof v));
    CHECK_STR(v, "abc");
    CHECK_RC(cu_console_cookie("xcustos_session=abc", "custos_session", v, sizeof v), CU_ERR_NOTFOUND);
    CHECK_RC(cu_console_cookie("custos_session=0123456789", "custos_session", v, 5), CU_ERR_TOOBIG);
    cu_console_role r;
    CHECK_RC(cu_console_role_parse("root", &r), CU_ERR_INVAL);
    CHECK_RC(cu_console_account_add(fixture(), "alice", "investigator", "another-password", CU_KDF_MIN, T0),
             CU_ERR_EXISTS);
    CHECK_RC(cu_console_account_add(fixture(), "bad name", "investigator", "another-password", CU_KDF_MIN, T0),
             CU_ERR_INVAL);
    CHECK_RC(cu_console_account_add(fixture(), "frank", "investigator", "short", CU_KDF_MIN, T0), CU_ERR_INVAL);
}

/* ------------------------------------------------------------ governance */

static struct sink gsink; /* the register's own ledger entries */

TEST(governance_acts_as_the_logged_in_person)
{
    const char *d = fixture();
    char gpath[600];
    snprintf(gpath, sizeof gpath, "%s/governance.db", d);
    if (!gsink.last.max)
        cu_buf_init(&gsink.last, 1 << 20);
    cu_gov_audit ga = {sink_append, &gsink};
    cu_gov *g = NULL;
    CHECK_OK(cu_gov_open(gpath, &ga, &g));
    cu_console_opts o = {.data_dir = d, .audit = {sink_append, &sink}, .gov = g};
    cu_console *c = NULL;
    CHECK_OK(cu_console_open(&o, &c));
    struct client v = {0}, self = {0}, inv = {0}, nolink = {0}, aud = {0};
    CHECK(login(c, &v, T0, "vera", "vera-password"));
    CHECK(login(c, &self, T0, "val", "val-password"));
    CHECK(login(c, &inv, T0, "ian", "ian-password"));
    CHECK(login(c, &nolink, T0, "nell", "nell-password"));
    CHECK(login(c, &aud, T0, "dave", "dave-password"));
    const char *grant = "{\"officer\":\"MP9\",\"level\":\"SC\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"}";

    /* the vetting unit grants: done as FVU1, the account's officer */
    json_t *j = post(c, &v, T0 + 1, "/v1/console/governance/clearances", grant);
    CHECK_INT(v.status, 200);
    json_decref(j);
    cu_buf trail;
    cu_buf_init(&trail, 1 << 20);
    CHECK_OK(cu_gov_history_json(g, "PSD1", "MP9", &trail));
    CHECK(strstr(trail.data, "\"actor\":\"FVU1\"") != NULL);
    /* the console's audit record names the account and what it did */
    cu_buf line;
    cu_buf_init(&line, 1 << 16);
    CHECK_OK(cu_console_audit_format(sink.last.data, sink.last.len, 0, &line));
    CHECK(strstr(line.data, "\"user\":\"vera\"") && strstr(line.data, "governance clearances as FVU1: 200"));

    /* MP9, logged in, may not act on their own clearance */
    j = post(c, &self, T0 + 2, "/v1/console/governance/clearances/suspend",
             "{\"officer\":\"MP9\",\"reason\":\"to dodge the review\"}");
    CHECK_INT(self.status, 403);
    CHECK(strstr(err_of(j), "separation of duties") != NULL);
    json_decref(j);
    /* naming someone else as the actor does not help: refused */
    j = post(c, &self, T0 + 3, "/v1/console/governance/clearances/suspend",
             "{\"actor\":\"FVU1\",\"officer\":\"MP9\",\"reason\":\"forged\"}");
    CHECK_INT(self.status, 403);
    CHECK(strstr(err_of(j), "not the authenticated person") != NULL);
    json_decref(j);
    /* nor reading their own trail */
    j = get(c, &self, T0 + 3, "/v1/console/governance/officers/MP9/history", NULL);
    CHECK_INT(self.status, 403);
    json_decref(j);
    cu_gov_effective e;
    cu_gov_effective_get(g, "MP9", T0 + 4, &e);
    CHECK_INT(e.state, CU_GOV_ST_IN_FORCE);

    /* CSRF: without the token nothing happens */
    j = req(c, &v, T0 + 5, "POST", "/v1/console/governance/clearances/suspend", NULL,
            "{\"officer\":\"MP9\",\"reason\":\"inquiry\"}", ORIGIN, NULL);
    CHECK_INT(v.status, 403);
    json_decref(j);
    j = req(c, &v, T0 + 5, "POST", "/v1/console/governance/clearances/suspend", NULL,
            "{\"officer\":\"MP9\",\"reason\":\"inquiry\"}", "https://evil.example", v.csrf);
    CHECK_INT(v.status, 403);
    json_decref(j);
    cu_gov_effective_get(g, "MP9", T0 + 6, &e);
    CHECK_INT(e.state, CU_GOV_ST_IN_FORCE);

    /* roles: an investigator may not grant; an unlinked account may not act */
    j = post(c, &inv, T0 + 7, "/v1/console/governance/clearances",
             "{\"officer\":\"MP8\",\"level\":\"SC\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"}");
    CHECK_INT(inv.status, 403);
    json_decref(j);
    j = post(c, &nolink, T0 + 7, "/v1/console/governance/clearances",
             "{\"officer\":\"MP8\",\"level\":\"SC\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"}");
    CHECK_INT(nolink.status, 403);
    CHECK(strstr(err_of(j), "not linked to an officer") != NULL);
    json_decref(j);
    cu_gov_effective_get(g, "MP8", T0 + 8, &e);
    CHECK_INT(e.state, CU_GOV_ST_UNKNOWN);
    /* anyone linked may report their own change of circumstance */
    j = post(c, &inv, T0 + 8, "/v1/console/governance/aftercare", "{\"officer\":\"MP7\",\"kind\":\"foreign-travel\"}");
    CHECK_INT(inv.status, 200);
    json_decref(j);
    /* the vetting unit suspends: applied */
    j = post(c, &v, T0 + 9, "/v1/console/governance/clearances/suspend", "{\"officer\":\"MP9\",\"reason\":\"inquiry\"}");
    CHECK_INT(v.status, 200);
    json_decref(j);
    cu_gov_effective_get(g, "MP9", T0 + 10, &e);
    CHECK_INT(e.state, CU_GOV_ST_SUSPENDED);

    /* reports: auditors and unlinked vetting accounts read them; investigators do not */
    j = post(c, &v, T0 + 11, "/v1/console/governance/staff", "{\"officer\":\"MP9\",\"unit\":\"U1\"}");
    CHECK_INT(v.status, 200);
    json_decref(j);
    j = get(c, &inv, T0 + 12, "/v1/console/governance/report", NULL);
    CHECK_INT(inv.status, 403);
    json_decref(j);
    j = get(c, &nolink, T0 + 12, "/v1/console/governance/report", "at=2025-01-01");
    CHECK_INT(nolink.status, 200);
    json_t *tot = json_object_get(j, "total");
    CHECK_INT(json_integer_value(json_object_get(tot, "workforce")), 1);
    CHECK_INT(json_integer_value(json_object_get(tot, "in_date")), 0);
    json_decref(j);
    cu_console_req r = {.method = "GET", .path = "/v1/console/governance/report", .query = "at=2025-01-01&format=csv",
                        .host = HOST};
    char cookie[160];
    snprintf(cookie, sizeof cookie, "custos_session=%s", aud.cookie);
    r.cookie = cookie;
    cu_buf csv;
    cu_buf_init(&csv, 1 << 20);
    cu_console_resp resp = {.body = &csv};
    cu_console_handle(c, &r, T0 + 13, &resp);
    CHECK_INT(resp.status, 200);
    CHECK_STR(resp.content_type, "text/csv; charset=utf-8");
    CHECK(strstr(resp.headers, "attachment; filename=\"vetting-report-2025-01-01.csv\"") != NULL);
    CHECK(csv.data && strncmp(csv.data, "unit,workforce,in_date,in_date_pct,", 35) == 0);
    CHECK(strstr(csv.data, "\nU1,1,0,0.0,0,") != NULL);
    r.query = "at=someday&format=csv";
    cu_console_handle(c, &r, T0 + 14, &resp);
    CHECK_INT(resp.status, 400);

    cu_buf_free(&csv);
    cu_buf_free(&line);
    cu_buf_free(&trail);
    cu_console_close(c);
    cu_gov_close(g);
    client_free(&v);
    client_free(&self);
    client_free(&inv);
    client_free(&nolink);
    client_free(&aud);
}
