/*
 * custos server: the HTTP face of custosd, on libmicrohttpd.
 *
 * Routes are registered before start as (method, path) pairs; a path ending
 * in "*" matches any path with that prefix, and a "{name}" segment matches
 * any one non-empty path segment ("/v1/alerts/{id}").  The first registered
 * route whose path and method match wins.  Handlers run on the server's
 * worker threads and fill a response; they must not block for long except
 * on the ledger commit they need (fail closed).  Request bodies are capped
 * (default 64 KiB): a larger body gets 413 before the handler runs.  Errors
 * are JSON: {"error": "..."}.
 */
#ifndef CUSTOS_SERVER_H
#define CUSTOS_SERVER_H

#include "custos/util.h"

typedef struct cu_server cu_server;

typedef struct cu_http_req {
    const char *method;
    const char *path;      /* without the query string */
    const char *body;      /* NUL-terminated; "" when none */
    size_t body_len;
    /* The SHA-256 (64 hex digits) of the client certificate, when the
     * connection is TLS, the server was given client_ca_pem and the
     * certificate's chain verified against it; NULL otherwise.  Callers
     * are matched on it (the gateway's `cert` lines). */
    const char *client_cert;
    void *conn_;           /* private: for cu_http_header / cu_http_query */
    void *state_;          /* private: for cu_http_suspend */
} cu_http_req;

typedef struct cu_http_resp {
    int status;                 /* 200 unless set */
    const char *content_type;   /* "application/json" unless set; static */
    cu_buf body;                /* max 64 MiB */
    char extra_headers[512];    /* "Name: value\r\n" lines, e.g. Set-Cookie */
} cu_http_resp;

typedef void (*cu_http_handler)(void *ud, const cu_http_req *req, cu_http_resp *resp);

typedef struct cu_server_opts {
    const char *bind_addr;   /* default "127.0.0.1" */
    uint16_t port;           /* 0: pick a free port (see cu_server_port) */
    size_t max_body;         /* default 65536 */
    unsigned threads;        /* default 2 */
    /* TLS (HTTPS) when both are set: the server's certificate chain and
     * private key, PEM text (not paths). */
    const char *tls_cert_pem;
    const char *tls_key_pem;
    /* With TLS: the CA certificates (PEM) that sign callers' client
     * certificates.  A client certificate is then asked for (not
     * required: bearer tokens still work) and, when its chain verifies,
     * named in cu_http_req.client_cert. */
    const char *tls_client_ca_pem;
} cu_server_opts;

cu_rc cu_server_new(const cu_server_opts *opts, cu_server **out) CU_NODISCARD;
/* Register a route; method NULL matches any method. */
cu_rc cu_server_route(cu_server *s, const char *method, const char *path, cu_http_handler fn, void *ud) CU_NODISCARD;
/* The route table in registration order: fn(ud, method or NULL, path as
 * registered, templates kept, prefixes ending in "*").  For `custosd
 * --list-routes` and the test that holds docs/openapi.yaml to it. */
typedef void (*cu_server_route_fn)(void *ud, const char *method, const char *path);
void cu_server_routes(const cu_server *s, cu_server_route_fn fn, void *ud);
cu_rc cu_server_start(cu_server *s) CU_NODISCARD;
uint16_t cu_server_port(const cu_server *s);
/* The server's own lines for /metrics (OpenMetrics text, no "# EOF"):
 * connections accepted, client certificate chains verified, requests
 * suspended. */
cu_rc cu_server_metrics(cu_server *s, cu_buf *out) CU_NODISCARD;
void cu_server_stop(cu_server *s);
void cu_server_free(cu_server *s);

/* Asynchronous answers, so that a request waiting on something slow (the
 * ledger commit of a gateway decision) holds no thread.  A handler may call
 * cu_http_suspend (at most once, from within the handler, before it hands
 * the work on) and return without answering; the request then waits, and
 * exactly once, from any thread, its owner fills the cu_http_resp the
 * handler was given (valid until then) and calls cu_http_resume, which
 * sends it.  The request's other values (body, headers) are valid only
 * while the handler runs.  cu_server_stop waits for every suspended request
 * to be resumed.  NULL when the request cannot be suspended (then answer
 * at once). */
typedef struct cu_http_suspended cu_http_suspended;
cu_http_suspended *cu_http_suspend(const cu_http_req *req);
void cu_http_resume(cu_http_suspended *h);

/* Request helpers: values live as long as the request. */
const char *cu_http_header(const cu_http_req *req, const char *name);
const char *cu_http_query(const cu_http_req *req, const char *name);
/* The query arguments re-encoded as "a=1&b=x%20y" (percent-encoding all but
 * unreserved characters), appended to out. */
cu_rc cu_http_query_string(const cu_http_req *req, cu_buf *out) CU_NODISCARD;

/* Response helpers. */
void cu_http_error(cu_http_resp *resp, int status, const char *fmt, ...) CU_PRINTF(3, 4);
void cu_http_text(cu_http_resp *resp, int status, const char *content_type, const char *text);



/* ------------------------------------------------------ POST /v1/events */
/* (pipeline module's route; see docs/pipeline.md "Daemon ingest") */
#include "custos/pipeline.h"

#define CU_EVENTS_MAX_BATCH 20000        /* events in one POST */
#define CU_EVENTS_MAX_BODY (16u << 20)   /* bytes in one POST */

typedef struct cu_events_api cu_events_api;
/* Authorisation hook for the route (the gateway brings real auth later):
 * return true to let the request through; NULL: every request passes. */
typedef bool (*cu_http_auth_fn)(void *ud, const cu_http_req *req);

/* The ingest route over a started pipeline (borrowed).  The api serialises
 * requests on one mutex: the pipeline has one writer. */
cu_rc cu_events_api_new(cu_pipeline *p, cu_http_auth_fn auth, void *auth_ud, cu_events_api **out) CU_NODISCARD;
void cu_events_api_free(cu_events_api *a);
/* The handler: register with cu_server_route(s, "POST", "/v1/events", cu_events_api_handle, api). */
void cu_events_api_handle(void *ud, const cu_http_req *req, cu_http_resp *resp);

/* ------------------------------------- gateway decisions into the stream */
/* custosd with --data: one ledger (ledger, the pipeline's shared log) for
 * the pipeline, the gateway and the console.  Fills *out, the gateway's
 * audit hooks: an allowed look-up is appended as its decision entry and an
 * access event "GW-<n>" (record subjects from ref, the pipeline's reference
 * context, read under the ingest mutex) in one durable append, then indexed
 * and detected; anything else is appended to the ledger alone.  Fail
 * closed: the hooks return only when the entries are durable
 * (docs/gateway.md, "Decisions feed detection"). */
#include "custos/gateway.h"
struct cu_ledger;

/* The gateway's routes (ud: the cu_gateway): cu_gateway_http_async over
 * cu_http_suspend/cu_http_resume, so that POST /v1/authorize waits for its
 * ledger commit without holding a server thread when the audit hooks can
 * submit asynchronously (cu_gateway_audit_ledger); otherwise as
 * cu_gateway_http.  A 401 carries WWW-Authenticate. */
void cu_server_gateway_handle(void *gw, const cu_http_req *req, cu_http_resp *resp);

cu_rc cu_events_api_gateway_audit(cu_events_api *a, struct cu_ledger *ledger, cu_ref *ref,
                                  cu_gateway_audit *out) CU_NODISCARD;

/* custosd --data: one reference, one order.  After cu_events_api_gateway_audit
 * and cu_gateway_new, gw's POST /v1/reference also updates the pipeline's
 * reference data (ref, read by the detectors) and the store's copy, taking
 * exactly the same lines (cu_gateway_ref_peer).  Register the gateway's
 * routes with cu_events_api_gateway_handle (ud: the api): an update then
 * waits until every decision made so far is queued, writes the queued
 * look-ups with the data they were decided on, and applies the lines to
 * both under the ingest lock; later decisions and events see the new
 * version (docs/gateway.md, "One reference, one order"). */
cu_rc cu_events_api_set_gateway(cu_events_api *a, cu_gateway *gw) CU_NODISCARD;
void cu_events_api_gateway_handle(void *api, const cu_http_req *req, cu_http_resp *resp);
/* The reference updates kept in DATA_DIR/reference-updates (see
 * cu_events_api_reference_log): NNNNNNNN.jsonl numbered from 1 and, for
 * an update that took effect, NNNNNNNN.at: the log's size when it did.
 * cu_kept_open lists them (a gap in the numbering is CU_ERR_CORRUPT) and
 * reads the positions: the updates from the first without one on count as
 * unpositioned.  cu_kept_warm is the pipeline's warm_ref hook
 * (cu_pipeline_cfg): it applies the positioned updates due before log
 * entry `entry` to ref (the pipeline's reference data), in order, so the
 * warm start sees each update where the live stream saw it. */
typedef struct cu_kept cu_kept;
cu_rc cu_kept_open(const char *data_dir, cu_ref *ref, cu_kept **out) CU_NODISCARD;
void cu_kept_free(cu_kept *k);
cu_rc cu_kept_warm(void *kept, uint64_t entry, bool *changed) CU_NODISCARD;
/* The pipeline's warm_ref_next hook: the position of the next positioned
 * update cu_kept_warm has not applied, UINT64_MAX when none is left. */
uint64_t cu_kept_next(void *kept);
size_t cu_kept_count(const cu_kept *k);      /* updates kept */
size_t cu_kept_positioned(const cu_kept *k); /* the first so many have a position */
size_t cu_kept_applied(const cu_kept *k);    /* the first so many applied by cu_kept_warm */
size_t cu_kept_refused(const cu_kept *k);    /* their lines that no longer applied */
const char *cu_kept_dir(const cu_kept *k);
/* Update number seq's text (cu_free it) and its path (into path). */
cu_rc cu_kept_read(const cu_kept *k, size_t seq, char **text, size_t *len, char *path, size_t cap) CU_NODISCARD;
/* The text of a .at file (decimal digits, an optional newline; at most
 * 2^64 - 1): true and *at, or false when it is anything else. */
bool cu_kept_parse_at(const char *text, size_t len, uint64_t *at);
/* The path of update number seq's file with extension ext ("jsonl": its
 * lines, "at": its position) in dir (cu_kept_dir). */
void cu_kept_path(const char *dir, size_t seq, const char *ext, char *path, size_t cap);

/* Keep reference updates across restarts: each POST /v1/reference body is
 * written durably to DATA_DIR/reference-updates/NNNNNNNN.jsonl (numbered
 * from 1) before it is applied (a body of which no line was taken is
 * removed again); once applied, the file is rewritten to hold the lines
 * taken and NNNNNNNN.at records the log's size at that moment.  At start,
 * after the --reference file and cu_events_api_set_gateway, the kept
 * updates (k, from cu_kept_open on the same data directory and the
 * pipeline's reference data) are replayed in order: the gateway takes
 * them all (the same lines, the same version numbers); the pipeline's
 * reference data those cu_kept_warm has not applied during the warm start.
 * *replayed: the updates replayed. */
cu_rc cu_events_api_reference_log(cu_events_api *a, cu_kept *k, size_t *replayed) CU_NODISCARD;

/* Run fn on the pipeline under the api's lock (the pipeline's one writer):
 * for readers of live detector state. */
cu_rc cu_events_api_with(cu_events_api *a, cu_rc (*fn)(cu_pipeline *p, void *ud), void *ud) CU_NODISCARD;

/* -------------------------------------- GET /v1/alerts, officers' risk */
/* (detect module's routes; see docs/detect.md "API")
 *
 * GET /v1/alerts?since=RFC3339&officer=ID&kind=K&min_score=S&limit=N
 *   the alerts in the store (latest state of each id), latest raised first.
 * GET /v1/officers/{id}/risk
 *   the live misuse detector's risk for the officer as of the last event
 *   ingested, with the changes of risk and the reasons that raised them.
 * Both are read-only; each request opens nothing (the api holds its own
 * read connection to the store, serialised by its own lock). */
typedef struct cu_detect_api cu_detect_api;
/* data_dir: the pipeline's (DIR/store.db); events: the ingest api whose
 * lock guards the pipeline (may be NULL: no risk route data). */
cu_rc cu_detect_api_new(const char *data_dir, cu_events_api *events, cu_http_auth_fn auth, void *auth_ud,
                        cu_detect_api **out) CU_NODISCARD;
void cu_detect_api_free(cu_detect_api *a);
/* Register both routes on s (api may be NULL when only listing routes). */
cu_rc cu_detect_api_register(cu_server *s, cu_detect_api *api) CU_NODISCARD;
#define CU_DETECT_API_MAX_LIMIT 1000

#endif
