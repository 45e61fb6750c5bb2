/* Detector: protected-person access without a case link.
 *
 * Fires when an officer views (view, update, export, print, disclose; the
 * access allowed) a person on the protected-person register (any flag) or a
 * record whose subjects include one, and no case open at that moment both
 * has the officer assigned and links the record or that person.  One alert
 * per such event, naming the unexplained people.  A search is not a view:
 * the people a search returns are not counted.
 *
 * Causal by construction: it reads the event and the reference context as
 * of the event's time, and keeps no state between events.
 */
#include "custos/detect.h"

#include <stdio.h>
#include <string.h>

#define MAX_PROTECTED 64

static cu_rc prot_init(const cu_ref *ref, void **state)
{
    (void)ref;
    *state = NULL;
    return CU_OK;
}

static bool is_view(const cu_event *ev)
{
    switch (ev->action) {
    case CU_ACT_VIEW:
    case CU_ACT_UPDATE:
    case CU_ACT_EXPORT:
    case CU_ACT_PRINT:
    case CU_ACT_DISCLOSE:
        return true;
    default:
        return false;
    }
}

/* Urgency by the most sensitive flag. */
static double flag_score(uint32_t flags)
{
    if (flags & (CU_PF_PROTECTED | CU_PF_INFORMANT | CU_PF_WITNESS))
        return 0.9;
    if (flags & (CU_PF_VIP | CU_PF_HIGH_PROFILE))
        return 0.8;
    if (flags & (CU_PF_ACTIVIST | CU_PF_OFFICER))
        return 0.75;
    return 0.6; /* deceased or a flag this version does not know */
}

static void flag_text(uint32_t flags, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < 32; i++) {
        uint32_t bit = 1u << i;
        if (!(flags & bit))
            continue;
        const char *nm = cu_person_flag_name(bit);
        size_t l = strlen(nm);
        if (o + l + 3 >= cap)
            break;
        if (o) {
            out[o++] = ',';
            out[o++] = ' ';
        }
        memcpy(out + o, nm, l);
        o += l;
        out[o] = '\0';
    }
}

/* Whether some open case assigned to the officer links the record or p. */
static bool explained(const cu_ref *ref, const cu_event *ev, cu_id p)
{
    const cu_id *cases;
    size_t n = cu_ref_officer_cases(ref, ev->officer, &cases);
    for (size_t i = 0; i < n; i++) {
        const cu_case *c = cu_ref_case(ref, cases[i]);
        if (!c)
            continue;
        if ((ev->record != CU_ID_NONE && cu_case_links_record(c, ev->record)) || cu_case_links_person(c, p))
            return true;
    }
    return false;
}

static void add_unique(cu_id *v, uint32_t *n, cu_id x)
{
    for (uint32_t i = 0; i < *n; i++)
        if (v[i] == x)
            return;
    if (*n < MAX_PROTECTED)
        v[(*n)++] = x;
}

static cu_rc prot_event(void *state, const cu_event *ev, const cu_ref *ref, int64_t now, cu_alerts *out)
{
    (void)state;
    (void)now;
    if (!is_view(ev) || ev->outcome != CU_OUT_ALLOW)
        return CU_OK;
    cu_id prot[MAX_PROTECTED];
    uint32_t np = 0;
    for (uint32_t i = 0; i < ev->nsubjects; i++) {
        const cu_person *p = cu_ref_person(ref, ev->subjects[i]);
        if (p && p->flags)
            add_unique(prot, &np, p->id);
    }
    const cu_record *rec = ev->record != CU_ID_NONE ? cu_ref_record(ref, ev->record) : NULL;
    if (rec) {
        for (uint32_t i = 0; i < rec->nsubjects; i++) {
            const cu_person *p = cu_ref_person(ref, rec->subjects[i]);
            if (p && p->flags)
                add_unique(prot, &np, p->id);
        }
    }
    if (!np)
        return CU_OK;
    cu_id bad[MAX_PROTECTED];
    uint32_t nb = 0;
    uint32_t allflags = 0;
    double score = 0;
    for (uint32_t i = 0; i < np; i++) {
        if (explained(ref, ev, prot[i]))
            continue;
        bad[nb++] = prot[i];
        uint32_t fl = cu_ref_person(ref, prot[i])->flags;
        allflags |= fl;
        double s = flag_score(fl);
        if (s > score)
            score = s;
    }
    if (!nb)
        return CU_OK;
    cu_alert *a = cu_alerts_add(out);
    if (!a)
        return CU_OK;
    const cu_names *nm = cu_ref_names(ref);
    snprintf(a->kind, sizeof a->kind, "protected-person");
    cu_alert_add_officer(a, ev->officer);
    for (uint32_t i = 0; i < nb; i++)
        cu_alert_add_subject(a, bad[i]);
    cu_alert_add_event(a, ev->id, ev->ts);
    if (ev->action == CU_ACT_EXPORT || ev->action == CU_ACT_PRINT || ev->action == CU_ACT_DISCLOSE)
        score += 0.05;
    if (ev->case_id == CU_ID_NONE)
        score += 0.03;
    a->score = score > 1 ? 1 : score;

    const char *off = cu_names_str(nm, CU_K_OFFICER, ev->officer);
    static const char *const past[CU_ACT_COUNT_] = {"searched", "viewed", "updated", "exported",
                                                    "printed", "disclosed", "logged in to", "logged out of"};
    const char *act = cu_action_name((cu_action)ev->action);
    const char *did = past[ev->action < CU_ACT_COUNT_ ? ev->action : 0];
    char flags[128];
    flag_text(allflags, flags, sizeof flags);
    if (nb == 1)
        cu_alert_add_reason(a, "%s %s %s, who is on the protected-person register (%s)", off, did,
                            cu_names_str(nm, CU_K_PERSON, bad[0]), flags);
    else
        cu_alert_add_reason(a, "%s %s %u people on the protected-person register (%s)", off, did, nb, flags);
    if (rec && ev->record != CU_ID_NONE)
        cu_alert_add_reason(a, "no case open at %s with %s assigned links record %s or the %s", "that time", off,
                            cu_names_str(nm, CU_K_RECORD, ev->record), nb == 1 ? "person" : "people");
    else
        cu_alert_add_reason(a, "no case open at that time with %s assigned links the %s", off,
                            nb == 1 ? "person" : "people");
    if (ev->case_id != CU_ID_NONE) {
        const char *cs = cu_names_str(nm, CU_K_CASE, ev->case_id);
        const cu_case *c = cu_ref_case(ref, ev->case_id);
        if (!c)
            cu_alert_add_reason(a, "the access cites case %s, which was not open at that time", cs);
        else if (!cu_ref_assigned(ref, ev->case_id, ev->officer))
            cu_alert_add_reason(a, "the access cites case %s, to which %s was not assigned", cs, off);
        else
            cu_alert_add_reason(a, "the access cites case %s, which does not link the record or the person", cs);
    } else {
        cu_alert_add_reason(a, "the access cites no case");
    }
    if (ev->action == CU_ACT_EXPORT || ev->action == CU_ACT_PRINT || ev->action == CU_ACT_DISCLOSE)
        cu_alert_add_reason(a, "the data left the system (%s)", act);
    return CU_OK;
}

const cu_detector_ops cu_detector_protected = {
    .name = "protected-person",
    .init = prot_init,
    .on_event = prot_event,
    .flush = NULL,
    .free = NULL,
};
