/* custosd wiring of the vetting register (governance): the gateway's live
 * officer hook, and the detectors' alerts opening vetting reviews.
 * Header-only so that the governance tests drive the same adapters the
 * daemon runs.  governance, gateway, detect and pipeline are all layer 3 and
 * may not include each other; only the programs join them. */
#ifndef CUSTOS_GOV_WIRING_H
#define CUSTOS_GOV_WIRING_H

#include "custos/event.h"
#include "custos/gateway.h"
#include "custos/governance.h"

#include <stdio.h>
#include <string.h>

/* cu_gateway_live_fn over a cu_gov (ud).  Reads the register at `now`
 * (no allocation), maps state, level, expiry, entitlement to `system`,
 * caveats and restriction. */
static inline void cu_gov_gateway_live(void *ud, const char *officer, const char *system, int64_t now,
                                       cu_gateway_live *out)
{
    cu_gov_effective e;
    cu_gov_effective_get((cu_gov *)ud, officer, now, &e);
    out->known = e.state != CU_GOV_ST_UNKNOWN;
    if (!out->known)
        return;
    snprintf(out->state, sizeof out->state, "%s", cu_gov_state_name(e.state));
    snprintf(out->level, sizeof out->level, "%s", e.state == CU_GOV_ST_IN_FORCE ? cu_gov_level_name(e.level) : "NONE");
    out->expires = e.expires;
    out->managed = e.managed;
    out->restricted = e.withheld;
    out->entitled = false;
    for (size_t i = 0; system && i < e.nsystems; i++)
        if (strcmp(e.systems[i], system) == 0)
            out->entitled = true;
    out->ncaveats = 0;
    for (size_t i = 0; i < e.ncaveats && i < CU_GATEWAY_LIVE_CAVEATS; i++)
        snprintf(out->caveats[out->ncaveats++], sizeof out->caveats[0], "%s", e.caveats[i]);
}

/* An alert's officers, at or above the threshold, get a restricting
 * "detection" review (one open at a time).  The ingest goes on whatever
 * happens here: a failure is logged, not returned. */
typedef struct cu_gov_risk_hook {
    cu_gov *gov;
    const cu_names *names;
    double threshold;
} cu_gov_risk_hook;

static inline cu_rc cu_gov_on_alert(void *ud, const cu_alert *a)
{
    cu_gov_risk_hook *h = ud;
    char src[48];
    snprintf(src, sizeof src, "alert A%llu (%s)", (unsigned long long)a->num, a->kind);
    for (uint32_t i = 0; i < a->nofficers; i++) {
        const char *who = cu_names_str(h->names, CU_K_OFFICER, a->officers[i]);
        bool opened = false;
        if (who && cu_gov_risk(h->gov, who, a->score, h->threshold, src, a->nreasons ? a->reasons[0] : a->kind,
                               a->raised_at, &opened))
            cu_log(CU_LOG_ERROR, "governance: %s: could not open a vetting review: %s", who, cu_err_detail());
        else if (opened)
            cu_log(CU_LOG_INFO, "governance: %s: vetting review opened on %s", who, src);
    }
    return CU_OK;
}

#endif
