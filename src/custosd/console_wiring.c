/* custosd: the investigator console's wiring (options, the shared ledger
 * its audit records go to, the evidence export hook, routes, and
 * --list-routes).  Wiring only: the console is src/console/, the HTTP
 * server src/server/, bundles src/evidence/. */
#include "console_wiring.h"
#include "args.h"

#include "custos/console.h"
#include "custos/evidence.h"
#include "custos/ledger.h"

#include <errno.h>
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
    cu_ledger *ledger;  /* the daemon's one ledger (DATA/ledger), not ours to close */
    cu_console *console;
} cw = {.assets = CUSTOS_WEB_DIR};

const char *cud_console_usage =
    "console (--data turns it on; DATA/console.db, audit records in DATA/ledger):\n"
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
        long v;
        if (!cud_arg_long(argv[i + 1], 1, 86400, &v))
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

/* The export hook: a checkpoint over everything appended so far (so the
 * newest events can be proved), then DATA/exports/case-ID-TIME.tar. */
static cu_rc export_case(void *ud, const char *case_id, const uint64_t *idx, size_t n, int64_t now, char **where)
{
    (void)ud;
    cu_rc rc;
    if (cu_ledger_size(cw.ledger) != cu_ledger_published_size(cw.ledger) && (rc = cu_ledger_publish(cw.ledger, NULL)))
        return rc;
    char dir[4096], path[4300], ts[21], label[128];
    snprintf(dir, sizeof dir, "%s/exports", cw.data);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return cu_err_set(cu_rc_from_errno(errno), "%s: %s", dir, strerror(errno));
    cu_time_format(now, ts);
    for (char *p = ts; *p; p++) /* no ':' in file names */
        if (*p == ':')
            *p = '.';
    snprintf(path, sizeof path, "%s/case-%s-%s.tar", dir, case_id, ts);
    snprintf(label, sizeof label, "investigation case %s", case_id);
    cu_evidence_export_opts eo = {.data_dir = cw.data, .by = CU_EVIDENCE_BY_INDEXES, .indexes = idx, .nindexes = n,
                                  .label = label, .from = INT64_MIN, .to = INT64_MAX, .out_path = path, .now = now,
                                  .collector = "custosd"};
    cu_evidence_export_stats st;
    if ((rc = cu_evidence_export(&eo, &st)))
        return rc;
    *where = cu_strdup(path);
    return *where ? CU_OK : CU_ERR_NOMEM;
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

cu_rc cud_console_start(cu_server *srv, const char *data_dir, cu_ledger *ledger, struct cu_gov *gov)
{
    cw.data = data_dir;
    if (!cw.data && !cw.list_routes)
        return CU_OK;
    cu_rc rc = CU_OK;
    if (!cw.list_routes) {
        if (!ledger)
            return cu_err_set(CU_ERR_INVAL, "the console needs the data directory's ledger");
        cw.ledger = ledger;
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
            .export_fn = export_case,
            .gov = gov,
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
    cw.ledger = NULL;
}
