/* custosd: the investigator console's wiring (options, the ledger the
 * console's audit records go to, routes, and --list-routes).  Wiring only:
 * the console is src/console/, the HTTP server src/server/. */
#include "console_wiring.h"

#include "custos/console.h"
#include "custos/ledger.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef CUSTOS_WEB_DIR
#define CUSTOS_WEB_DIR NULL
#endif

static struct {
    const char *data, *assets, *origin;
    bool insecure, list_routes;
    int64_t idle;
    cu_ledger *ledger;  /* the log the audit records go to */
    bool own_ledger;    /* opened here (else the daemon's, not ours to close) */
    cu_console *console;
} cw = {.assets = CUSTOS_WEB_DIR};

const char *cud_console_usage =
    "console (--data turns it on; DATA/console.db, DATA/console-ledger):\n"
    "  --assets DIR        the console's web build (default: the build tree's web/)\n"
    "  --origin URL        the allowed Origin of state-changing requests (default: the Host asked for)\n"
    "  --insecure-cookies  no Secure cookie attribute: plain-HTTP loopback demos only\n"
    "  --session-idle S    seconds of inactivity that end a session (default 1800)\n"
    "  --list-routes       print every route served (METHOD PATH) and exit\n";

int cud_console_arg(int argc, char **argv, int i)
{
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (strcmp(a, "--assets") == 0 && has)
        cw.assets = argv[i + 1];
    else if (strcmp(a, "--origin") == 0 && has)
        cw.origin = argv[i + 1];
    else if (strcmp(a, "--session-idle") == 0 && has) {
        char *end;
        long long v = strtoll(argv[i + 1], &end, 10);
        if (*end || v < 1 || v > 86400)
            return -1;
        cw.idle = v;
    } else if (strcmp(a, "--insecure-cookies") == 0) {
        cw.insecure = true;
        return 1;
    } else if (strcmp(a, "--list-routes") == 0) {
        cw.list_routes = true;
        return 1;
    } else
        return 0;
    return 2;
}

static cu_rc ledger_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    return cu_ledger_append(ud, e, len, index);
}

/* DATA/console-ledger, made with a new signer key when missing. */
static cu_rc open_ledger(const char *data, cu_ledger **out)
{
    char dir[4096], ck[4200];
    snprintf(dir, sizeof dir, "%s/console-ledger", data);
    snprintf(ck, sizeof ck, "%s/checkpoint", dir);
    struct stat st;
    cu_rc rc;
    if (stat(ck, &st) != 0) {
        char *signer = NULL, *verifier = NULL;
        if ((rc = cu_note_keygen("custos-console", &signer, &verifier)))
            return rc;
        rc = cu_ledger_init(dir, "custos-console", signer);
        sodium_memzero(signer, strlen(signer));
        cu_free(signer);
        cu_free(verifier);
        if (rc)
            return rc;
    }
    char *key = NULL;
    if ((rc = cu_ledger_read_signer(dir, &key)))
        return rc;
    cu_ledger_opts lo = {.signer_key = key};
    rc = cu_ledger_open(dir, &lo, out);
    sodium_memzero(key, strlen(key));
    cu_free(key);
    return rc;
}

static void bridge(void *ud, const cu_http_req *req, cu_http_resp *resp)
{
    cu_buf q;
    cu_buf_init(&q, 16384);
    if (cu_http_query_string(req, &q)) {
        cu_buf_free(&q);
        cu_http_error(resp, 414, "query string too long");
        return;
    }
    cu_console_req cr = {
        .method = req->method,
        .path = req->path,
        .query = q.len ? q.data : NULL,
        .cookie = cu_http_header(req, "Cookie"),
        .origin = cu_http_header(req, "Origin"),
        .host = cu_http_header(req, "Host"),
        .csrf = cu_http_header(req, "X-CSRF-Token"),
        .body = req->body,
        .body_len = req->body_len,
    };
    cu_console_resp out = {.body = &resp->body};
    cu_console_handle(ud, &cr, cu_now(), &out);
    resp->status = out.status;
    resp->content_type = out.content_type;
    snprintf(resp->extra_headers, sizeof resp->extra_headers, "%s", out.headers);
    cu_buf_free(&q);
}

cu_rc cud_console_start(cu_server *srv, const char *data_dir)
{
    cw.data = data_dir;
    if (!cw.data && !cw.list_routes)
        return CU_OK;
    cu_rc rc = CU_OK;
    if (!cw.list_routes) {
        if (mkdir(cw.data, 0700) != 0 && errno != EEXIST)
            return cu_err_set(cu_rc_from_errno(errno), "%s: %s", cw.data, strerror(errno));
        if ((rc = open_ledger(cw.data, &cw.ledger)))
            return rc;
        cw.own_ledger = true;
        struct stat st;
        const char *assets = cw.assets && stat(cw.assets, &st) == 0 ? cw.assets : NULL;
        if (!assets)
            cu_log(CU_LOG_WARN, "custosd: no console web assets (%s): the API is served, the pages are not",
                   cw.assets ? cw.assets : "none given");
        cu_console_opts co = {
            .data_dir = cw.data,
            .assets_dir = assets,
            .insecure_cookies = cw.insecure,
            .session_idle = cw.idle,
            .origin = cw.origin,
            .audit = {ledger_append, cw.ledger},
        };
        if ((rc = cu_console_open(&co, &cw.console)))
            return rc;
    }
    const cu_console_route *r;
    size_t n = cu_console_routes(&r);
    for (size_t i = 0; i < n && !rc; i++)
        rc = cu_server_route(srv, r[i].method, r[i].path, bridge, cw.console);
    return rc;
}

static void print_route(void *ud, const char *method, const char *path)
{
    (void)ud;
    printf("%s %s\n", method ? method : "*", path);
}

bool cud_listing_routes(void) { return cw.list_routes; }

bool cud_list_routes(const cu_server *srv)
{
    if (!cw.list_routes)
        return false;
    cu_server_routes(srv, print_route, NULL);
    return true;
}

void cud_console_stop(void)
{
    cu_console_close(cw.console);
    cw.console = NULL;
    if (cw.own_ledger)
        cu_ledger_close(cw.ledger);
    cw.ledger = NULL;
    cw.own_ledger = false;
}
