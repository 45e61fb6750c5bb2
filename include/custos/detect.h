/*
 * custos detect: detectors over the stream of access events, and the scorer
 * that turns what they raise into numbered alerts.
 *
 * A detector is a table of functions (cu_detector_ops).  The engine calls
 * init once over the reference context, on_event for every event in time
 * order after the context has been advanced to the event's time, and flush
 * once at the end of the stream.  Each call may add alerts to `out`.
 *
 * Causality: a detector sees an event only after it is durable, sees events
 * in time order, and reads the reference context only as of the event's
 * time.  An alert may use only events already read; the scorer sets
 * raised_at to `now` (the time of the last event read) and refuses an alert
 * whose last_event is later (CU_ERR_INTERNAL: a detector bug).
 *
 * Hot path: detectors allocate nothing per event; alerts are written into
 * slots the engine owns and reuses.
 */
#ifndef CUSTOS_DETECT_H
#define CUSTOS_DETECT_H

#include "custos/event.h"

#define CU_DETECT_MAX_ALERTS 16  /* alerts one detector may raise per call */

/* Where a detector puts its alerts during one call. */
typedef struct cu_alerts {
    cu_alert *v;
    uint32_t n, cap;
    uint64_t dropped;
} cu_alerts;
/* A cleared alert slot, or NULL when the call's slots are used up (the
 * engine counts the drop). */
cu_alert *cu_alerts_add(cu_alerts *out);

typedef struct cu_detector_ops {
    const char *name;
    cu_rc (*init)(const cu_ref *ref, void **state);
    cu_rc (*on_event)(void *state, const cu_event *ev, const cu_ref *ref, int64_t now, cu_alerts *out);
    cu_rc (*flush)(void *state, const cu_ref *ref, int64_t now, cu_alerts *out); /* may be NULL */
    void (*free)(void *state);                                                   /* may be NULL */
} cu_detector_ops;

/* Protected-person access without a case link: an officer viewed (view,
 * update, export, print, disclose; allowed) a person on the protected-person
 * register (any flag), or a record whose subjects include one, and no case
 * open at that moment both has the officer assigned and links the record or
 * the person. */
extern const cu_detector_ops cu_detector_protected;

/* Receives each alert, numbered and scored.  A non-OK result stops the
 * stream (the caller's error). */
typedef cu_rc (*cu_alert_fn)(void *ud, const cu_alert *a);

typedef struct cu_detect cu_detect;

/* An engine over ref (borrowed) with the default detectors; alert numbers
 * start at first_num (>= 1). */
cu_rc cu_detect_new(const cu_ref *ref, uint64_t first_num, cu_detect **out) CU_NODISCARD;
/* An engine with no detectors (tests add their own). */
cu_rc cu_detect_new_empty(const cu_ref *ref, uint64_t first_num, cu_detect **out) CU_NODISCARD;
cu_rc cu_detect_add(cu_detect *d, const cu_detector_ops *ops) CU_NODISCARD;
void cu_detect_free(cu_detect *d);

/* Run every detector on ev (the reference context must be at ev->ts). */
cu_rc cu_detect_event(cu_detect *d, const cu_event *ev, int64_t now, cu_alert_fn fn, void *ud) CU_NODISCARD;
/* End of stream. */
cu_rc cu_detect_flush(cu_detect *d, int64_t now, cu_alert_fn fn, void *ud) CU_NODISCARD;

uint64_t cu_detect_next_num(const cu_detect *d);
uint64_t cu_detect_dropped(const cu_detect *d);

#endif /* CUSTOS_DETECT_H */
