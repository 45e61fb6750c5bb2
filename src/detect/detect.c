/* The detector engine and the scorer.
 *
 * Invariants:
 * 1. Detectors run in the order added, each on every event.
 * 2. The scorer numbers alerts in the order raised (A<first_num>, ...),
 *    sets raised_at to `now`, clamps the score into [0, 1] (NaN becomes 0)
 *    and refuses an alert that uses an event later than now.
 * 3. Alert slots are owned by the engine and reused: nothing is allocated
 *    per event.
 * 4. An alert a detector numbered itself (cu_alerts_number) keeps its
 *    number: re-emitting it is an update of the same alert.
 */
#include "custos/detect.h"

#include "detect/detect_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_DETECTORS 64

struct cu_detect {
    const cu_ref *ref;
    const cu_detector_ops *ops[MAX_DETECTORS];
    void *state[MAX_DETECTORS];
    int n;
    uint64_t next_num;
    uint64_t dropped;
    cu_alert slots[CU_DETECT_MAX_ALERTS];
};

cu_alert *cu_alerts_add(cu_alerts *out)
{
    if (out->n >= out->cap) {
        out->dropped++;
        return NULL;
    }
    cu_alert *a = &out->v[out->n++];
    cu_alert_clear(a);
    return a;
}

uint64_t cu_alerts_number(cu_alerts *out, cu_alert *a)
{
    if (!a->num && out->next_num)
        a->num = (*out->next_num)++;
    return a->num;
}

void cu_detect_cfg_default(cu_detect_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->budget = 1.0;
    c->threshold = 0.7;
}

cu_rc cu_detect_new_empty(const cu_ref *ref, uint64_t first_num, cu_detect **out)
{
    cu_detect *d = cu_calloc(1, sizeof *d);
    if (!d)
        return CU_ERR_NOMEM;
    d->ref = ref;
    d->next_num = first_num ? first_num : 1;
    *out = d;
    return CU_OK;
}

cu_rc cu_detect_add(cu_detect *d, const cu_detector_ops *ops) { return cu_detect_add_cfg(d, ops, NULL); }

cu_rc cu_detect_add_cfg(cu_detect *d, const cu_detector_ops *ops, const cu_detect_cfg *cfg)
{
    if (d->n >= MAX_DETECTORS)
        return cu_err_set(CU_ERR_RANGE, "too many detectors");
    void *st = NULL;
    cu_detect_cfg def;
    if (!cfg) {
        cu_detect_cfg_default(&def);
        cfg = &def;
    }
    if (ops->init_cfg) {
        cu_rc rc = ops->init_cfg(d->ref, cfg, &st);
        if (rc)
            return rc;
    } else if (ops->init) {
        cu_rc rc = ops->init(d->ref, &st);
        if (rc)
            return rc;
    }
    d->ops[d->n] = ops;
    d->state[d->n] = st;
    d->n++;
    return CU_OK;
}

cu_rc cu_detect_new(const cu_ref *ref, uint64_t first_num, cu_detect **out)
{
    cu_detect *d;
    cu_rc rc = cu_detect_new_empty(ref, first_num, &d);
    if (rc)
        return rc;
    if ((rc = cu_detect_add(d, &cu_detector_protected))) {
        cu_detect_free(d);
        return rc;
    }
    *out = d;
    return CU_OK;
}

cu_rc cu_detect_new_cfg(const cu_ref *ref, uint64_t first_num, const cu_detect_cfg *cfg, cu_detect **out)
{
    if (!cfg)
        return cu_detect_new(ref, first_num, out);
    cu_detect *d;
    cu_rc rc = cu_detect_new_empty(ref, first_num, &d);
    if (rc)
        return rc;
    rc = cfg->legacy ? cu_detect_add(d, &cu_detector_protected) : cu_detect_add_cfg(d, &cu_detector_misuse, cfg);
    if (rc) {
        cu_detect_free(d);
        return rc;
    }
    *out = d;
    return CU_OK;
}

static void *misuse_state(const cu_detect *d)
{
    for (int i = 0; i < d->n; i++)
        if (d->ops[i] == &cu_detector_misuse)
            return d->state[i];
    return NULL;
}

cu_rc cu_detect_risk(const cu_detect *d, cu_id officer, int64_t now, cu_risk *out)
{
    void *st = misuse_state(d);
    if (!st)
        return cu_err_set(CU_ERR_NOTFOUND, "no misuse detector in this engine");
    return cu_misuse_risk(st, officer, now, out);
}

void cu_detect_stats_get(const cu_detect *d, cu_detect_stats *out)
{
    memset(out, 0, sizeof *out);
    void *st = misuse_state(d);
    if (st)
        cu_misuse_stats(st, out);
}

void cu_detect_free(cu_detect *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n; i++)
        if (d->ops[i]->free)
            d->ops[i]->free(d->state[i]);
    cu_free(d);
}

static cu_rc score_and_emit(cu_detect *d, const char *who, cu_alerts *al, int64_t now, cu_alert_fn fn, void *ud)
{
    d->dropped += al->dropped;
    for (uint32_t i = 0; i < al->n; i++) {
        cu_alert *a = &al->v[i];
        if (a->nevents && (a->last_event > now || a->first_event > a->last_event))
            return cu_err_set(CU_ERR_INTERNAL, "detector %s raised an alert that uses an event after its time", who);
        if (!a->kind[0])
            snprintf(a->kind, sizeof a->kind, "%s", who);
        if (isnan(a->score) || a->score < 0)
            a->score = 0;
        else if (a->score > 1)
            a->score = 1;
        a->raised_at = now;
        if (!a->nevents)
            a->first_event = a->last_event = now;
        if (!a->num)
            a->num = d->next_num++;
        cu_rc rc = fn ? fn(ud, a) : CU_OK;
        if (rc)
            return rc;
    }
    return CU_OK;
}

cu_rc cu_detect_event(cu_detect *d, const cu_event *ev, int64_t now, cu_alert_fn fn, void *ud)
{
    for (int i = 0; i < d->n; i++) {
        cu_alerts al = {.v = d->slots, .cap = CU_DETECT_MAX_ALERTS, .next_num = &d->next_num};
        cu_rc rc = d->ops[i]->on_event(d->state[i], ev, d->ref, now, &al);
        if (rc)
            return rc;
        if (al.n || al.dropped) {
            if ((rc = score_and_emit(d, d->ops[i]->name, &al, now, fn, ud)))
                return rc;
        }
    }
    return CU_OK;
}

cu_rc cu_detect_flush(cu_detect *d, int64_t now, cu_alert_fn fn, void *ud)
{
    for (int i = 0; i < d->n; i++) {
        if (!d->ops[i]->flush)
            continue;
        cu_alerts al = {.v = d->slots, .cap = CU_DETECT_MAX_ALERTS, .next_num = &d->next_num};
        cu_rc rc = d->ops[i]->flush(d->state[i], d->ref, now, &al);
        if (rc)
            return rc;
        if ((rc = score_and_emit(d, d->ops[i]->name, &al, now, fn, ud)))
            return rc;
    }
    return CU_OK;
}

cu_rc cu_detect_ref_changed(cu_detect *d)
{
    cu_rc rc = CU_OK;
    for (int i = 0; i < d->n && !rc; i++)
        if (d->ops[i]->ref_changed)
            rc = d->ops[i]->ref_changed(d->state[i], d->ref);
    return rc;
}

uint64_t cu_detect_next_num(const cu_detect *d) { return d->next_num; }
uint64_t cu_detect_dropped(const cu_detect *d) { return d->dropped; }
