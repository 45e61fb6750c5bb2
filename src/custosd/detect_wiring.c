/* custosd: the misuse detector's options and its routes.
 *
 * custosd's pipeline runs the misuse detector (main.c: --legacy and
 * --rules-only choose another, as for custos replay); --budget and
 * --threshold set its budget and threshold.  GET /v1/alerts and
 * GET /v1/officers/{id}/risk are served by the server module
 * (src/server/detect_api.c); this file only wires them.
 */
#include "detect_wiring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cud_detect_usage = "detection (with --data):\n"
                               "  --budget N        alerts per 1,000 officers per day, a ceiling (default 1)\n"
                               "  --threshold S     minimum score for an alert, 0..1 (default 0.7)\n";

static double budget = -1, threshold = -1;
static cu_detect_api *api;

int cud_detect_arg(int argc, char **argv, int i)
{
    const char *a = argv[i];
    bool is_budget = strcmp(a, "--budget") == 0;
    if (!is_budget && strcmp(a, "--threshold") != 0)
        return 0;
    if (i + 1 >= argc) {
        fprintf(stderr, "custosd: %s needs a value\n", a);
        exit(2);
    }
    const char *v = argv[i + 1];
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || !(is_budget ? (x > 0 && x <= 1e6) : (x > 0 && x <= 1))) {
        fprintf(stderr, "custosd: bad value for %s: %s\n", a, v);
        exit(2);
    }
    if (is_budget)
        budget = x;
    else
        threshold = x;
    return 1;
}

void cud_detect_cfg(cu_detect_cfg *c)
{
    if (budget > 0)
        c->budget = budget;
    if (threshold > 0)
        c->threshold = threshold;
}

static void stop(void)
{
    cu_detect_api_free(api);
    api = NULL;
}

cu_rc cud_detect_start(cu_server *srv, const char *data_dir, cu_events_api *events, cu_http_auth_fn auth,
                       void *auth_ud)
{
    if (data_dir && events && !api) {
        cu_rc rc = cu_detect_api_new(data_dir, events, auth, auth_ud, &api);
        if (rc)
            return rc;
        atexit(stop);
    }
    return cu_detect_api_register(srv, api);
}
