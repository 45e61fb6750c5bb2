/* custosd: the custos daemon.  Argument parsing and wiring only.
 *
 * With --data DIR there is one ledger, DIR/ledger, opened once here and
 * shared: the pipeline appends access events (POST /v1/events, and the
 * gateway's allowed look-ups), the gateway its decisions, the console its
 * audit records.  Closing order: HTTP first (no request in flight), then
 * the gateway and the console, the pipeline (which publishes a checkpoint),
 * and the ledger last. */
#include "custos/gateway.h"
#include "custos/governance.h"
#include "custos/ledger.h"
#include "custos/server.h"
#include "console_wiring.h"

#include "detect_wiring.h"
#include "args.h"
#include "gov_wiring.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static void healthz(void *ud, const cu_http_req *req, cu_http_resp *resp)
{
    (void)ud;
    (void)req;
    cu_http_text(resp, 200, "application/json", "{\"status\":\"ok\",\"version\":\"" CUSTOS_VERSION "\"}\n");
}

/* ------------------------------------------------------------ gateway */

static cu_rc ledger_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    return cu_ledger_append(ud, e, len, index);
}

/* --------------------------------------------------------- governance */

/* Governance actions go to the data directory's one ledger. */
static const char *http_query(void *ud, const char *name)
{
    return cu_http_query(ud, name);
}

/* --gov-person NAME=OFFICER: the gateway token NAME acts as that person.
 * Tokens name systems; only an explicit line here lets one act as a person
 * (docs/governance.md).  Everything else reads only. */
#define GOV_PERSONS_MAX 64
struct gov_person {
    const char *token, *officer;
};

struct gov_route_ctx {
    cu_gov *gov;
    cu_gateway *gw; /* when set, callers need one of its bearer tokens */
    struct gov_person persons[GOV_PERSONS_MAX];
    size_t npersons;
};

static void governance_route(void *ud, const cu_http_req *req, cu_http_resp *resp)
{
    struct gov_route_ctx *c = ud;
    const char *person = NULL; /* a system caller unless its token is mapped */
    if (c->gw) {
        char name[CU_GATEWAY_MAX_ID + 1];
        bool reviewer = false;
        if (cu_gateway_authenticate(c->gw, cu_http_header(req, "Authorization"), req->client_cert, name, &reviewer)) {
            cu_http_error(resp, 401, "a bearer token is required");
            snprintf(resp->extra_headers, sizeof resp->extra_headers, "WWW-Authenticate: Bearer realm=\"custos\"\r\n");
            return;
        }
        for (size_t i = 0; i < c->npersons && !person; i++)
            if (strcmp(c->persons[i].token, name) == 0)
                person = c->persons[i].officer;
    }
    int status = 200;
    cu_gov_http(c->gov, person, req->method, req->path, http_query, (void *)req, req->body, req->body_len, cu_now(), &status,
                &resp->body);
    resp->status = status;
    resp->content_type = "application/json";
}

/* Who may call the data routes (POST /v1/events, GET /v1/alerts, GET
 * /v1/officers/{id}/risk): with --config, only callers holding one of the
 * gateway's bearer tokens; without it no callers are configured and the
 * routes are open (loopback development; see docs/gateway.md).  The gateway
 * is made after the events API, so the hook reads it from here. */
static cu_gateway *api_auth_gw;

static bool api_authenticate(void *ud, const cu_http_req *req)
{
    (void)ud;
    if (!api_auth_gw)
        return true;
    char name[CU_GATEWAY_MAX_ID + 1];
    bool reviewer = false;
    return cu_gateway_authenticate(api_auth_gw, cu_http_header(req, "Authorization"), req->client_cert, name,
                                   &reviewer) == CU_OK;
}

/* In the order the header comment gives: nothing appends once the ledger closes. */
static void shutdown_all(cu_server *srv, cu_gateway *gw, cu_gov *gov, cu_events_api *api, cu_pipeline *pipe,
                         cu_ref *ref, cu_names *names, cu_ledger *ledger)
{
    cu_server_free(srv);
    cu_gateway_free(gw);
    cud_console_stop();
    cu_events_api_free(api);
    cu_gov_close(gov);
    if (pipe && cu_pipeline_close(pipe))
        cu_log(CU_LOG_ERROR, "custosd: closing the pipeline: %s", cu_err_detail());
    cu_ref_free(ref);
    cu_names_free(names);
    if (ledger && cu_ledger_size(ledger) != cu_ledger_published_size(ledger) && cu_ledger_publish(ledger, NULL))
        cu_log(CU_LOG_WARN, "custosd: publishing the last checkpoint failed: %s", cu_err_detail());
    cu_ledger_close(ledger);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: custosd [--listen ADDR] [--port N] [--port-file FILE]\n"
               "  --listen ADDR     address to bind (default 127.0.0.1)\n"
               "  --port N          TCP port (default 8340; 0 picks a free one)\n"
               "  --port-file FILE  write the port actually bound to FILE\n"
               "  --tls-cert FILE   serve HTTPS: the server's certificate chain (PEM); with --tls-key\n"
               "  --tls-key FILE    its private key (PEM)\n"
               "  --tls-client-ca FILE  CA certificates (PEM) of callers' client certificates: a caller\n"
               "                    whose certificate verifies and is named by a `cert` line of --config\n"
               "                    needs no bearer token (docs/gateway.md)\n"
               "  --threads N       HTTP worker threads, 1-1024 (default 2; with the gateway one per core,\n"
               "                    at least 2: its requests wait for the ledger suspended, holding no thread)\n"
               "data (POST /v1/events, the console, the gateway's log):\n"
               "  --data DIR        DIR/ledger (the one ledger: events, decisions, console audit) and DIR/store.db\n"
               "  --rules-only      detectors without baselines, templates, graph or bursts (as custos replay)\n"
               "  --legacy          the protected-person detector alone, one alert per access (as custos replay)\n"
               "  --warm-events N   at start, replay the indexed events among the newest N log entries through\n"
               "                    the detectors (alerts suppressed) to rebuild their state; 0: cold (default 5000000)\n"
               "  --warm-days D     ... only events within D days of the newest; 0: no time bound (default 90)\n"
               "gateway (--config turns it on; its log is DIR/ledger with --data, else --ledger):\n"
               "  --config FILE     callers' bearer tokens (docs/gateway.md)\n"
               "  --ledger DIR      gateway-only mode without --data: the durable log of decisions\n"
               "  --commit-period-us N  its least time between two commits' starts while several\n"
               "                    appends wait (default 500; 1: none; docs/ledger.md; with --data too)\n"
               "  --policies PATH   Cedar policy file or directory (default policies); SIGHUP reads it again:\n"
               "                    a pack that does not parse is refused and the one in force stays\n"
               "  --reference FILE  reference data, interchange JSON Lines (gateway and detectors)\n"
               "governance (with --data: the vetting register in DIR/governance.db, /v1/governance/...):\n"
               "  --risk-threshold X  an alert scored X (0..1) or more opens a restricting vetting review\n"
               "                      of its officers (default: off; 0.8 is a sensible value)\n"
               "  --gov-person NAME=OFFICER  the --config token NAME acts as the person OFFICER on\n"
               "                      /v1/governance/ (repeatable); other tokens only read reports\n");
    fputs(cud_console_usage, f);
    fputs(cud_detect_usage, f);
}

static struct gov_route_ctx gov_ctx; /* the governance routes' ud: lives as long as the server */

/* The wall clock for ingest times: programs read the clock, logic does not. */
static int64_t wall_clock(void *ud)
{
    (void)ud;
    return cu_now();
}

/* SIGHUP: the policy pack read again and put in force, or refused with
 * its error (the pack in force stays). */
static void reload_policies(cu_gateway *gw, const char *path)
{
    char *pack = NULL;
    size_t len = 0;
    uint64_t v = 0;
    cu_rc rc = cu_gateway_read_pack(path, &pack, &len);
    if (!rc)
        rc = cu_gateway_policies_replace(gw, pack, len, path, cu_now(), &v);
    cu_free(pack);
    if (rc)
        cu_log(CU_LOG_ERROR, "custosd: policies %s refused, pack %llu stays in force: %s", path,
               (unsigned long long)cu_gateway_policies_version(gw, NULL), cu_err_detail());
    else
        cu_log(CU_LOG_INFO, "custosd: policies %s in force as pack %llu", path, (unsigned long long)v);
}

/* /metrics: the HTTP server's lines after the gateway's. */
static cu_rc server_metrics(void *ud, cu_buf *out) { return cu_server_metrics(ud, out); }

int main(int argc, char **argv)
{
    const char *tls_path[3] = {NULL, NULL, NULL}; /* --tls-cert, --tls-key, --tls-client-ca */
    cu_server_opts opts = {.bind_addr = "127.0.0.1", .port = 8340};
    const char *port_file = NULL, *data_dir = NULL;
    const char *config = NULL, *ledger_dir = NULL, *policies = "policies", *reference = NULL;
    bool legacy = false, rules_only = false;
    /* warm start: the detectors' longest memory is the evidence half-life (21 days) and the 30
     * days of continuing work; 90 days brings decayed evidence down to a twentieth */
    uint64_t warm_events = 5000000;
    int64_t warm_days = 90;
    double risk_threshold = -1; /* off unless asked */
    unsigned commit_period_us = 0; /* the ledger's default */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            opts.bind_addr = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            long p;
            if (!cud_arg_long(argv[++i], 0, 65535, &p)) {
                fprintf(stderr, "custosd: bad port %s\n", argv[i]);
                return 2;
            }
            opts.port = (uint16_t)p;
        } else if (strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc) {
            tls_path[0] = argv[++i];
        } else if (strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc) {
            tls_path[1] = argv[++i];
        } else if (strcmp(argv[i], "--tls-client-ca") == 0 && i + 1 < argc) {
            tls_path[2] = argv[++i];
        } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else if (cud_console_arg(argc, argv, i) != 0) {
            int used = cud_console_arg(argc, argv, i);
            if (used < 0) {
                fprintf(stderr, "custosd: bad value for %s\n", argv[i]);
                return 2;
            }
            i += used - 1;
        } else if (cud_detect_arg(argc, argv, i)) {
            i++;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            long t;
            if (!cud_arg_long(argv[++i], 1, 1024, &t)) {
                fprintf(stderr, "custosd: bad thread count %s\n", argv[i]);
                return 2;
            }
            opts.threads = (unsigned)t;
        } else if (strcmp(argv[i], "--commit-period-us") == 0 && i + 1 < argc) {
            long t;
            if (!cud_arg_long(argv[++i], 1, 100000, &t)) {
                fprintf(stderr, "custosd: bad commit period %s (1-100000 us)\n", argv[i]);
                return 2;
            }
            commit_period_us = (unsigned)t;
        } else if (strcmp(argv[i], "--gov-person") == 0 && i + 1 < argc) {
            char *eq = strchr(argv[++i], '=');
            if (!eq || eq == argv[i] || !eq[1] || gov_ctx.npersons >= GOV_PERSONS_MAX) {
                fprintf(stderr, "custosd: bad --gov-person %s (NAME=OFFICER, at most %d)\n", argv[i], GOV_PERSONS_MAX);
                return 2;
            }
            *eq = '\0';
            gov_ctx.persons[gov_ctx.npersons++] = (struct gov_person){argv[i], eq + 1};
        } else if (strcmp(argv[i], "--risk-threshold") == 0 && i + 1 < argc) {
            char *end;
            risk_threshold = strtod(argv[++i], &end);
            if (*end || !(risk_threshold >= 0 && risk_threshold <= 1)) {
                fprintf(stderr, "custosd: bad risk threshold %s (0..1)\n", argv[i]);
                return 2;
            }
        } else if ((strcmp(argv[i], "--warm-events") == 0 || strcmp(argv[i], "--warm-days") == 0) && i + 1 < argc) {
            bool days = strcmp(argv[i], "--warm-days") == 0;
            long v;
            if (!cud_arg_long(argv[i + 1], 0, days ? 36500 : LONG_MAX, &v)) {
                fprintf(stderr, "custosd: bad value for %s: %s\n", argv[i], argv[i + 1]);
                return 2;
            }
            if (days)
                warm_days = v;
            else
                warm_events = (uint64_t)v;
            i++;
        } else if (strcmp(argv[i], "--legacy") == 0) {
            legacy = true;
        } else if (strcmp(argv[i], "--rules-only") == 0) {
            rules_only = true;
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            data_dir = argv[++i];
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--ledger") == 0 && i + 1 < argc) {
            ledger_dir = argv[++i];
        } else if (strcmp(argv[i], "--policies") == 0 && i + 1 < argc) {
            policies = argv[++i];
        } else if (strcmp(argv[i], "--reference") == 0 && i + 1 < argc) {
            reference = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "custosd: unknown argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    /* Block the signals we wait for before any thread starts, so that only
     * sigwait() below sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (data_dir && ledger_dir) {
        fprintf(stderr, "custosd: --ledger is for the gateway without --data; with --data its log is %s/ledger\n",
                data_dir);
        return 2;
    }
    if (config && !data_dir && !ledger_dir) {
        fprintf(stderr, "custosd: the gateway needs --data DIR (or --ledger DIR without --data)\n");
        return 2;
    }
    if (ledger_dir && !config) {
        fprintf(stderr, "custosd: --ledger needs --config (the gateway)\n");
        return 2;
    }
    cu_server *srv = NULL;
    cu_ledger *ledger = NULL;
    cu_gateway *gw = NULL;
    cu_names *names = NULL;
    cu_ref *ref = NULL;
    cu_kept *kept = NULL;
    cu_pipeline *pipe = NULL;
    cu_events_api *api = NULL;
    cu_rc rc = CU_OK;
    cu_gateway_audit audit = {0};
    cu_gov *gov = NULL;
    cu_gov_risk_hook risk = {0};
    if (data_dir) {
        /* ingest: the one ledger + store in DIR, the detectors over the
         * reference data (the misuse detector, as custos replay runs it) */
        cu_sink sink;
        cu_detect_cfg dc;
        cu_detect_cfg_default(&dc);
        dc.legacy = legacy;
        dc.rules_only = rules_only;
        cud_detect_cfg(&dc);
        opts.max_body = CU_EVENTS_MAX_BODY;
        char gdb[4096];
        snprintf(gdb, sizeof gdb, "%s/governance.db", data_dir);
        if (!(rc = cu_pipeline_ledger_open(data_dir, commit_period_us, &ledger))) {
            cu_sink_ledger_shared(ledger, &sink);
            rc = cu_names_new(&names);
        }
        if (!rc && !(rc = cu_pipeline_open(data_dir, names, &sink, &pipe)) && !(rc = cu_ref_new(names, &ref)))
            rc = reference ? cu_ref_load(ref, reference) : cu_ref_seal(ref, "(none)");
        /* the vetting register: its actions go to the same ledger */
        if (!rc) {
            cu_gov_audit ga = {ledger_append, ledger};
            rc = cu_gov_open(gdb, &ga, &gov);
        }
        risk = (cu_gov_risk_hook){.gov = gov, .names = names, .threshold = risk_threshold};
        cu_pipeline_cfg pc = {.on_alert = risk_threshold >= 0 ? cu_gov_on_alert : NULL, .ud = &risk, .detect = &dc,
                              .ingest_clock = wall_clock, .warm_max = warm_events, .warm_seconds = warm_days * 86400};
        /* the reference updates kept by the gateway (--config): the warm
         * start applies each where the live stream met it */
        if (!rc && config && !(rc = cu_kept_open(data_dir, ref, &kept))) {
            pc.warm_ref = cu_kept_warm;
            pc.warm_ref_next = cu_kept_next;
            pc.warm_ref_ud = kept;
        }
        if (!rc)
            rc = cu_pipeline_start(pipe, ref, &pc);
        /* callers need a gateway bearer token when --config names them */
        if (!rc)
            rc = cu_events_api_new(pipe, api_authenticate, NULL, &api);
        /* the gateway's decisions go into the same stream */
        if (!rc && config)
            rc = cu_events_api_gateway_audit(api, ledger, ref, &audit);
    } else if (config) {
        rc = cu_pipeline_ledger_open_dir(ledger_dir, "custos-gateway", commit_period_us, &ledger);
        audit = cu_gateway_audit_ledger(ledger);
    }
    /* the period the ledger has in force (--commit-period-us or its default), as
     * tests/server/t_commit_period.sh checks in both modes */
    if (!rc && ledger)
        cu_log(CU_LOG_INFO, "custosd: ledger commit period %u us%s", cu_ledger_commit_period_us(ledger),
               cu_ledger_commit_period_us(ledger) ? "" : " (none)");
    if (!rc && config) {
        char *pack = NULL;
        size_t plen = 0;
        rc = cu_gateway_read_pack(policies, &pack, &plen);
        if (!rc) {
            cu_gateway_opts go = {.policy_text = pack, .policy_len = plen, .policy_name = policies, .audit = audit};
            /* the vetting register, read live on every decision */
            go.live = gov ? cu_gov_gateway_live : NULL;
            go.live_ud = gov;
            rc = cu_gateway_new(&go, &gw);
        }
        cu_free(pack);
        if (!rc)
            rc = cu_gateway_config_load(gw, config);
        /* the pack in force, in the log before any decision it makes */
        if (!rc)
            rc = cu_gateway_policies_log(gw, policies, cu_now());
        if (!rc && reference)
            rc = cu_gateway_reference_load(gw, reference);
        /* with --data, one reference for the gateway, the detectors and the store */
        if (!rc && api)
            rc = cu_events_api_set_gateway(api, gw);
        /* and the updates posted before this start, kept in the data directory */
        size_t replayed = 0;
        if (!rc && api && kept && !(rc = cu_events_api_reference_log(api, kept, &replayed)) && replayed)
            cu_log(CU_LOG_INFO, "reference: %zu update(s) replayed, version %llu (%zu in the warm start, at their "
                                "place in the log; %zu line(s) of them no longer applied)",
                   replayed, (unsigned long long)cu_gateway_reference_version(gw), cu_kept_applied(kept),
                   cu_kept_refused(kept));
    }
    cu_kept_free(kept);
    kept = NULL;
    /* A decision waits for its commit suspended, holding no thread
     * (cu_server_gateway_handle): a few threads serve every request in
     * flight.  With --data the allowed look-ups waiting at once share one
     * pipeline append (cu_events_api_gateway_audit).  One thread per core
     * (at least 2): more only add context switches between the server's
     * threads and the ledger's (measured on 2 cores, 2 threads against 4:
     * 19.6-23.5 against 22.5-25.8 us of CPU per decision; docs/gateway.md). */
    if (gw && !opts.threads) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        opts.threads = cores > 2 ? (unsigned)(cores < 1024 ? cores : 1024) : 2;
    }
    /* TLS: the PEM texts are read here and copied by the server; the key's
     * copy here is wiped before it is freed */
    char *pem[3] = {NULL, NULL, NULL};
    size_t pem_len[3] = {0, 0, 0};
    for (int k = 0; k < 3 && !rc; k++)
        if (tls_path[k] && (rc = cu_file_read(tls_path[k], 256 * 1024, &pem[k], &pem_len[k])))
            cu_err_prefix("%s", tls_path[k]);
    opts.tls_cert_pem = pem[0];
    opts.tls_key_pem = pem[1];
    opts.tls_client_ca_pem = pem[2];
    if (!rc && (!pem[0] != !pem[1] || (pem[2] && !pem[0])))
        rc = cu_err_set(CU_ERR_INVAL, "--tls-cert and --tls-key go together, and --tls-client-ca needs both");
    if (!rc)
        rc = cu_server_new(&opts, &srv);
    if (!rc && gw)
        cu_gateway_set_metrics_more(gw, server_metrics, srv);
    for (int k = 0; k < 3; k++) {
        if (pem[k])
            explicit_bzero(pem[k], pem_len[k]);
        cu_free(pem[k]);
    }
    opts.tls_cert_pem = opts.tls_key_pem = opts.tls_client_ca_pem = NULL;
    if (!rc)
        rc = cu_server_route(srv, "GET", "/healthz", healthz, NULL);
    if (!rc && (api || cud_listing_routes()))
        rc = cu_server_route(srv, "POST", "/v1/events", cu_events_api_handle, api);
    gov_ctx.gov = gov;
    gov_ctx.gw = gw;
    api_auth_gw = gw;
    {
        const cu_gov_route *gr;
        size_t ngr = cu_gov_routes(&gr);
        for (size_t k = 0; (gov || cud_listing_routes()) && !rc && k < ngr; k++)
            rc = cu_server_route(srv, gr[k].method, gr[k].path, governance_route, &gov_ctx);
    }
    if (!rc)
        rc = cud_detect_start(srv, data_dir, api, api_authenticate, NULL);
    if (!rc)
        rc = cud_console_start(srv, data_dir, data_dir ? ledger : NULL, gov);
    /* the gateway's routes one by one, so the route table (--list-routes)
     * is exactly what docs/openapi.yaml describes */
    static const char *const gw_routes[][2] = {
        {"POST", "/v1/authorize"},  {"GET", "/v1/breakglass"}, {"POST", "/v1/breakglass/{id}/review"},
        {"GET", "/v1/reference"},   {"POST", "/v1/reference"}, {"GET", "/metrics"},
    };
    for (size_t k = 0; (gw || cud_listing_routes()) && !rc && k < sizeof gw_routes / sizeof gw_routes[0]; k++)
        rc = cu_server_route(srv, gw_routes[k][0], gw_routes[k][1],
                             api ? cu_events_api_gateway_handle : cu_server_gateway_handle, api ? (void *)api : gw);
    if (!rc && cud_list_routes(srv)) {
        shutdown_all(srv, gw, gov, api, pipe, ref, names, ledger);
        return 0;
    }
    if (!rc)
        rc = cu_server_start(srv);
    if (rc) {
        fprintf(stderr, "custosd: %s: %s\n", cu_strerror(rc), cu_err_detail());
        shutdown_all(srv, gw, gov, api, pipe, ref, names, ledger);
        return 1;
    }
    unsigned port = cu_server_port(srv);
    if (port_file) {
        char txt[16];
        int n = snprintf(txt, sizeof txt, "%u\n", port);
        if (cu_file_write_atomic(port_file, txt, (size_t)n, 0644)) {
            fprintf(stderr, "custosd: %s\n", cu_err_detail());
            shutdown_all(srv, gw, gov, api, pipe, ref, names, ledger);
            return 1;
        }
    }
    cu_log(CU_LOG_INFO, "custosd %s listening on %s:%u%s", CUSTOS_VERSION, opts.bind_addr, port,
           tls_path[0] ? (tls_path[2] ? " (HTTPS, client certificates)" : " (HTTPS)") : "");

    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
        if (gw)
            reload_policies(gw, policies);
        else
            cu_log(CU_LOG_INFO, "custosd: SIGHUP: no gateway (--config), nothing to read again");
    }
    cu_log(CU_LOG_INFO, "custosd: signal %d, stopping", sig);
    shutdown_all(srv, gw, gov, api, pipe, ref, names, ledger);
    cu_log(CU_LOG_INFO, "custosd: stopped");
    return 0;
}
