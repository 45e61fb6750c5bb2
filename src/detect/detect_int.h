/* detect internals shared between the engine (detect.c), the misuse
 * detector (misuse.c) and evaluation (eval.c). */
#ifndef CU_DETECT_INT_H
#define CU_DETECT_INT_H

#include "custos/detect.h"

cu_rc cu_misuse_risk(const void *state, cu_id officer, int64_t now, cu_risk *out) CU_NODISCARD;
void cu_misuse_stats(const void *state, cu_detect_stats *out);

#endif
