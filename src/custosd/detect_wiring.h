/* custosd: the misuse detector's options and routes (see detect_wiring.c). */
#ifndef CUSTOSD_DETECT_WIRING_H
#define CUSTOSD_DETECT_WIRING_H

#include "custos/server.h"

extern const char *cud_detect_usage;
/* Consume argv[i] and its value when it is a detector option (--budget,
 * --threshold): returns 1 (the value is argv[i + 1]), 0 when not ours; a
 * bad or missing value exits with status 2 and a message. */
int cud_detect_arg(int argc, char **argv, int i);
/* Apply the options given to the pipeline's detector configuration. */
void cud_detect_cfg(cu_detect_cfg *c);
/* Register GET /v1/alerts and GET /v1/officers/{id}/risk over the data
 * directory and the ingest api (both may be NULL: the routes answer 503,
 * and --list-routes still lists them).  Resources are released at exit. */
cu_rc cud_detect_start(cu_server *srv, const char *data_dir, cu_events_api *events, cu_http_auth_fn auth,
                       void *auth_ud) CU_NODISCARD;

#endif
