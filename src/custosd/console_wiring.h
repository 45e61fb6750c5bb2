/* custosd: the console's wiring (see console_wiring.c). */
#ifndef CUSTOSD_CONSOLE_WIRING_H
#define CUSTOSD_CONSOLE_WIRING_H

#include "custos/server.h"

extern const char *cud_console_usage;
/* Consume argv[i] (and its value) when it is a console option: returns the
 * number of arguments used (1 or 2), 0 when not ours, -1 for a bad value. */
int cud_console_arg(int argc, char **argv, int i);
/* Open the console on data_dir (custosd --data; NULL: no console) and
 * register its routes.  Its audit records go to ledger, the data
 * directory's one ledger (borrowed: the daemon closes it after
 * cud_console_stop), beside the pipeline's events and the gateway's
 * decisions; the pipeline's recovery skips them by type.  The export route
 * writes evidence bundles to DATA/exports/.  gov (borrowed, may be NULL):
 * the vetting register the console's governance pages act on. */
struct cu_ledger;
struct cu_gov;
cu_rc cud_console_start(cu_server *srv, const char *data_dir, struct cu_ledger *ledger, struct cu_gov *gov) CU_NODISCARD;
/* --list-routes was given: every route is registered (whatever is
 * configured) and listed, and the daemon does not start. */
bool cud_listing_routes(void);
/* With --list-routes: print the route table and return true. */
bool cud_list_routes(const cu_server *srv);
void cud_console_stop(void);

#endif
