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
    uint64_t *next_num; /* the engine's alert counter (cu_alerts_number) */
} cu_alerts;
/* A cleared alert slot, or NULL when the call's slots are used up (the
 * engine counts the drop). */
cu_alert *cu_alerts_add(cu_alerts *out);
/* Give a new alert its number now, so that the detector can later re-emit
 * the same alert (same num, later raised_at) as its evidence grows.  An
 * alert whose num is already set when the call returns keeps it: that is
 * an update of an alert emitted before.  An alert left at num 0 is
 * numbered by the engine. */
uint64_t cu_alerts_number(cu_alerts *out, cu_alert *a);

struct cu_detect_cfg;
typedef struct cu_detect cu_detect;

typedef struct cu_detector_ops {
    const char *name;
    cu_rc (*init)(const cu_ref *ref, void **state);
    cu_rc (*on_event)(void *state, const cu_event *ev, const cu_ref *ref, int64_t now, cu_alerts *out);
    cu_rc (*flush)(void *state, const cu_ref *ref, int64_t now, cu_alerts *out); /* may be NULL */
    void (*free)(void *state);                                                   /* may be NULL */
    /* Instead of init when set: init with the engine's configuration. */
    cu_rc (*init_cfg)(const cu_ref *ref, const struct cu_detect_cfg *cfg, void **state);
    /* The reference context was updated in place (custosd's POST
     * /v1/reference): remake whatever init indexed from it.  May be NULL.
     * An error leaves the detector working on what it had. */
    cu_rc (*ref_changed)(void *state, const cu_ref *ref);
} cu_detector_ops;

/* Protected-person access without a case link: an officer viewed (view,
 * update, export, print, disclose; allowed) a person on the protected-person
 * register (any flag), or a record whose subjects include one, and no case
 * open at that moment both has the officer assigned and links the record or
 * the person. */
extern const cu_detector_ops cu_detector_protected;

/* ------------------------------------------------- misuse detection
 *
 * The misuse detector (misuse.c, docs/detect.md): every access is first
 * explained from context at that moment (explain.c: case assignment, a case
 * the event cites, a case of the officer's unit, the officer's own explained
 * search, continuing work, same household as a case subject, templates
 * mined from the data), then signals (declared relations, same address or
 * surname, protected register, sensitive records, people on other teams'
 * live cases, repeats, exfiltration after unexplained views, off-shift,
 * out-of-area, first days of new access, bulk export, trawling, a
 * colleague's login, curiosity bursts, rings) add evidence to one file per
 * officer or group; files become alerts through a daily budget. */

/* Bits of an access's explanations (cu_detect_cfg.on_explain). */
enum {
    CU_X_CASE = 1u << 0,      /* assigned to an open case linking the record or person */
    CU_X_CITED = 1u << 1,     /* the event cites an open case linking them */
    CU_X_TEAM = 1u << 2,      /* an open case of the officer's unit links them */
    CU_X_SEARCH = 1u << 3,    /* the officer's own explained search returned the person */
    CU_X_REPEAT = 1u << 4,    /* continuing work: explained for this officer in the last 30 days */
    CU_X_HOUSEHOLD = 1u << 5, /* same address as a subject of the officer's open case */
    CU_X_TEMPLATE = 1u << 6,  /* a routine of the officer's unit mined from the data */
    CU_X_TEST = 1u << 7,      /* training: no real person involved (no subject or record) */
};
#define CU_X_STRONG (CU_X_CASE | CU_X_CITED | CU_X_TEAM | CU_X_SEARCH | CU_X_REPEAT | CU_X_HOUSEHOLD)

typedef struct cu_detect_cfg {
    double budget;      /* alerts per 1,000 officers per day (default 1.0) */
    double threshold;   /* minimum score for the queue (default 0.7) */
    bool rules_only;    /* no baselines, no mined templates, no graph, no bursts */
    bool legacy;        /* the protected-person detector alone, unbudgeted (old engine) */
    /* Called for every access (not login/logout) with its explanation bits
     * (0: unexplained); for evaluation.  May be NULL. */
    void (*on_explain)(void *ud, const cu_event *ev, uint32_t bits);
    void *ud;
} cu_detect_cfg;

void cu_detect_cfg_default(cu_detect_cfg *c);

/* The misuse detector (uses init_cfg). */
extern const cu_detector_ops cu_detector_misuse;

/* An engine with the detectors cfg selects (NULL: cu_detect_new). */
cu_rc cu_detect_new_cfg(const cu_ref *ref, uint64_t first_num, const cu_detect_cfg *cfg,
                        cu_detect **out) CU_NODISCARD;
cu_rc cu_detect_add_cfg(cu_detect *d, const cu_detector_ops *ops, const cu_detect_cfg *cfg) CU_NODISCARD;

/* An officer's risk now, as the misuse detector sees it. */
#define CU_RISK_HISTORY 16
typedef struct cu_risk {
    double score;               /* [0, 1], the officer's own evidence now (decayed) */
    bool learning;              /* too little history for personal baselines */
    uint64_t alert_num;         /* 0: no alert yet */
    uint32_t ngroups;           /* ring and curiosity alerts naming the officer (emitted) */
    uint64_t groups[4];
    uint32_t nhistory;          /* changes of risk, oldest first */
    struct {
        int64_t ts;
        double score;
        char reason[CU_ALERT_REASON_LEN];
    } history[CU_RISK_HISTORY];
} cu_risk;
/* CU_ERR_NOTFOUND when the engine has no misuse detector or the officer is
 * unknown to it. */
cu_rc cu_detect_risk(const cu_detect *d, cu_id officer, int64_t now, cu_risk *out) CU_NODISCARD;

typedef struct cu_detect_stats {
    uint64_t accesses, explained, strong;   /* accesses seen, with any / strong explanation */
    uint64_t by_bit[8];                     /* accesses per explanation bit */
    uint64_t candidates, emitted, updates;  /* files over threshold, alerts emitted, re-emissions */
    uint64_t over_budget;                   /* candidates the budget held back (at the end) */
    uint64_t templates;                     /* templates mined (active) */
} cu_detect_stats;
void cu_detect_stats_get(const cu_detect *d, cu_detect_stats *out);

/* -------------------------------------------------------- evaluation
 *
 * `custos eval` (eval.c): alerts against the generator's labels.  See
 * docs/detect.md for the definitions. */
typedef struct cu_eval_result {
    double recall, precision, per_k_day;  /* overall, for the alerts file */
    double ttd_median_h, ttd_p90_h;       /* hours; NaN when nothing was caught */
    double explained;                     /* legitimate accesses explained (NaN without events) */
    size_t instances, caught, alerts, tp_alerts, rings, rings_whole;
    double days, officers;
} cu_eval_result;

typedef struct cu_eval_opts {
    const char *labels, *alerts, *reference, *events; /* events may be NULL */
    double budget;                                     /* for the rules-only baseline run */
    bool baselines;                                    /* run the baselines (needs events) */
    cu_eval_result *result;                            /* filled when not NULL */
} cu_eval_opts;

/* Write the report (text) to out.  Errors name the file and line. */
cu_rc cu_eval_run(const cu_eval_opts *o, cu_buf *out) CU_NODISCARD;

/* The line parsers of `custos eval`, one line at a time (tests, fuzzing):
 * CU_OK for a good line (a labels line that is not a scenario is skipped),
 * CU_ERR_PARSE with the reason in cu_err_detail() for a bad one,
 * CU_ERR_RANGE for a line over the limit. */
typedef struct cu_eval_lines cu_eval_lines;
cu_rc cu_eval_lines_new(cu_eval_lines **out) CU_NODISCARD;
cu_rc cu_eval_label_line(cu_eval_lines *c, const char *line, size_t len) CU_NODISCARD;
cu_rc cu_eval_alert_line(cu_eval_lines *c, const char *line, size_t len) CU_NODISCARD;
/* Scenario instances kept; *alerts (may be NULL) gets the alert lines kept. */
size_t cu_eval_lines_counts(const cu_eval_lines *c, size_t *alerts);
void cu_eval_lines_free(cu_eval_lines *c);

/* Receives each alert, numbered and scored.  A non-OK result stops the
 * stream (the caller's error). */
typedef cu_rc (*cu_alert_fn)(void *ud, const cu_alert *a);

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
/* The reference context was updated in place: each detector's ref_changed. */
cu_rc cu_detect_ref_changed(cu_detect *d) CU_NODISCARD;

uint64_t cu_detect_next_num(const cu_detect *d);
uint64_t cu_detect_dropped(const cu_detect *d);

#endif /* CUSTOS_DETECT_H */
