/* custosd: the misuse detector on the live pipeline, and its routes.
 *
 * The pipeline of custosd runs the misuse detector (docs/detect.md) with
 * the default budget and threshold, or, with --detector legacy, the first
 * protected-person detector (one alert per access, for tools written for
 * it).  GET /v1/alerts and GET /v1/officers/{id}/risk are served by the
 * server module (src/server/detect_api.c); this file only wires them.
 */
#include "detect_wiring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cud_detect_usage = "detection (with --data):\n"
                               "  --detector KIND   misuse (default) or legacy (protected-person, one alert per access)\n"
                               "  --budget N        alerts per 1,000 officers per day (default 1)\n"
                               "  --threshold S     minimum score for an alert (default 0.7)\n";

static cu_detect_cfg dcfg;
static cu_pipeline_cfg pcfg;
static bool dcfg_set;
static cu_detect_api *api;

static void cfg_init(void)
{
    if (!dcfg_set) {
        cu_detect_cfg_default(&dcfg);
        dcfg_set = true;
    }
}

int cud_detect_arg(int argc, char **argv, int i)
{
    cfg_init();
    const char *a = argv[i];
    bool takes = strcmp(a, "--detector") == 0 || strcmp(a, "--budget") == 0 || strcmp(a, "--threshold") == 0;
    if (!takes)
        return 0;
    if (i + 1 >= argc) {
        fprintf(stderr, "custosd: %s needs a value\n", a);
        exit(2);
    }
    const char *v = argv[i + 1];
    if (strcmp(a, "--detector") == 0) {
        if (strcmp(v, "misuse") == 0)
            dcfg.legacy = false;
        else if (strcmp(v, "legacy") == 0)
            dcfg.legacy = true;
        else {
            fprintf(stderr, "custosd: --detector is misuse or legacy, not %s\n", v);
            exit(2);
        }
        return 1;
    }
    char *end;
    double x = strtod(v, &end);
    bool ok = *v && !*end && (strcmp(a, "--budget") == 0 ? (x > 0 && x <= 1e6) : (x > 0 && x <= 1));
    if (!ok) {
        fprintf(stderr, "custosd: bad value for %s: %s\n", a, v);
        exit(2);
    }
    if (strcmp(a, "--budget") == 0)
        dcfg.budget = x;
    else
        dcfg.threshold = x;
    return 1;
}

const cu_pipeline_cfg *cud_detect_pipeline_cfg(void)
{
    cfg_init();
    pcfg.detect = &dcfg;
    return &pcfg;
}

static void stop(void)
{
    cu_detect_api_free(api);
    api = NULL;
}

cu_rc cud_detect_start(cu_server *srv, const char *data_dir, cu_events_api *events)
{
    if (data_dir && events && !api) {
        cu_rc rc = cu_detect_api_new(data_dir, events, NULL, NULL, &api);
        if (rc)
            return rc;
        atexit(stop);
    }
    return cu_detect_api_register(srv, api);
}
