/* Field helpers shared by the event and reference parsers (private). */
#ifndef CU_EVENT_INT_H
#define CU_EVENT_INT_H

#include "custos/event.h"
#include "event/json_int.h"

cu_rc cu_ev_str(const cu_jval *v, const char *field, char *buf, size_t cap, const char **s, size_t *len) CU_NODISCARD;
cu_rc cu_ev_id(cu_names *n, cu_idkind k, const cu_jval *v, const char *field, bool nullable, cu_id *out) CU_NODISCARD;
cu_rc cu_ev_time(const cu_jval *v, const char *field, bool date_ok, bool nullable, int64_t *out) CU_NODISCARD;
cu_rc cu_ev_idlist(cu_names *n, cu_idkind k, const cu_jval *v, const char *field, cu_id *out, uint32_t cap,
                   uint32_t *count) CU_NODISCARD;

#endif
