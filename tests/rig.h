/* The daemon's wiring for tests that drive the gateway and the live
 * pipeline through the library, as custosd does: a ledger, the pipeline
 * on it (its sink wrapped so that a test can hold the first append or fail
 * every append), the reference, the events API, the gateway with the
 * policy pack and one caller (PNC, bearer token "t0k"), and, when asked,
 * an HTTP server on loopback.  Also the gateway-only wiring (a ledger of
 * its own and the gateway's audit hooks on it).
 *
 * One rig at a time per process: the sink's hold/fail switches and the
 * counters are the process's (tests run one after another). */
#ifndef CU_TEST_RIG_H
#define CU_TEST_RIG_H

#include "custos/gateway.h"
#include "custos/ledger.h"
#include "custos/pipeline.h"
#include "custos/server.h"

#include <stdbool.h>

#define CU_RIG_REF "tests/gateway/data/force.jsonl"
#define CU_RIG_TOKEN "t0k"

typedef struct cu_rig {
    cu_ledger *ledger;
    cu_names *names;       /* NULL in the gateway-only wiring */
    cu_ref *ref;
    cu_pipeline *pipe;
    cu_events_api *api;
    cu_gateway *gw;
    cu_server *srv;        /* when opened with serve */
    cu_pipeline_stats start; /* the pipeline's stats right after it started */
} cu_rig;

typedef struct cu_rig_opts {
    bool legacy; /* the legacy detector (one alert per access) */
    bool serve;  /* an HTTP server (2 threads) with POST /v1/authorize and /v1/reference */
} cu_rig_opts;

/* custosd --data --config's wiring in dir.  False (and a failed check)
 * when a piece could not be made; cu_rig_close is safe either way. */
bool cu_rig_open(cu_rig *R, const char *dir, const cu_rig_opts *o);
/* custosd --ledger's wiring (gateway only) in dir, serving /v1/authorize. */
bool cu_rig_open_gateway(cu_rig *R, const char *dir);
void cu_rig_close(cu_rig *R);

/* The pipeline's sink: hold keeps the first append waiting until released;
 * fail makes every append fail ("the disk is gone"). */
void cu_rig_hold(bool hold);
void cu_rig_release(void);
void cu_rig_fail(bool fail);
/* Reset the counters: appends reaching the sink, decisions submitted to
 * the audit hooks (asynchronously). */
void cu_rig_reset_counts(void);
int cu_rig_appends(void);
int cu_rig_submits(void);
/* Wait (up to 20 s) until at least submits and appends are counted. */
void cu_rig_wait(int submits, int appends);

/* n POSTs of body to path on n new connections (Connection: close), with
 * the rig's token; false when one could not be sent. */
bool cu_rig_send_all(uint16_t port, const char *path, const char *body, int *fds, int n);

#endif
