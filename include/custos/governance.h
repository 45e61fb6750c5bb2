/*
 * custos governance: who is cleared for what, until when, and why.
 *
 * The vetting register (clearances with granted, expiry and review dates and
 * a status), aftercare reports and the reviews they open, entitlements
 * (systems and caveats held, with the scope and purpose they were granted
 * for), recertification campaigns, the randomised re-vetting draw, and the
 * reports.  State lives in SQLite tables (gov_*) in a database the caller
 * names: custos keeps them in DIR/governance.db beside the store (not in
 * store.db: the store holds its write transaction while the detectors run,
 * and a high risk opens a review from inside that callback).
 *
 * Invariants
 * 1. Fail closed: every action is appended to the audit log (the ledger,
 *    through cu_gov_audit) inside the database transaction that applies it;
 *    when the append fails the transaction is rolled back and the action
 *    returns the append's error: nothing of it is applied.
 * 2. Separation of duties: no one grants, changes, approves, reviews or
 *    recertifies their own clearance, entitlement or review, or reads their
 *    own audit trail (CU_ERR_DENIED, with the reason in cu_err_detail()).
 * 3. History is append-only: every change is a row of gov_history (who,
 *    when, why, what), and SQLite triggers refuse UPDATE and DELETE on it.
 * 4. Time is passed in.  A clearance is in force from granted until expires
 *    (exclusive): at expires it has lapsed, to the second.  An entitlement
 *    held in an open recertification campaign and not confirmed lapses at
 *    the campaign's deadline, whether or not the campaign was closed yet.
 * 5. cu_gov_effective reads an in-memory copy of the state that each action
 *    refreshes before it returns, so the next decision sees the change.  It
 *    takes a read lock and allocates nothing.
 *
 * Threads: a cu_gov may be used from any number of threads; actions are
 * serialised, cu_gov_effective runs concurrently with other readers.
 */
#ifndef CUSTOS_GOVERNANCE_H
#define CUSTOS_GOVERNANCE_H

#include "custos/ledger.h"
#include "custos/util.h"

#define CU_GOV_MAX_ID 64          /* officer, system, caveat ids */
#define CU_GOV_MAX_TEXT 1024      /* reasons, details, scopes */
#define CU_GOV_MAX_LINE 65536     /* one interchange line */
#define CU_GOV_MAX_HELD 32        /* systems or caveats in one effective answer */
#define CU_GOV_MAX_RESTRICT 8     /* restrictions in one effective answer */
#define CU_GOV_DRAW_MAX 100000    /* officers in one re-vetting draw */

typedef struct cu_gov cu_gov;

/* ------------------------------------------------------------- levels */

/* Force vetting (RV, MV, NPPV1-3) and national security vetting (CTC, SC,
 * eSC, DV).  The numbers match the event module's cu_vetting. */
typedef enum cu_gov_level {
    CU_GOV_NONE = 0, CU_GOV_RV, CU_GOV_MV, CU_GOV_NPPV1, CU_GOV_NPPV2, CU_GOV_NPPV3,
    CU_GOV_CTC, CU_GOV_SC, CU_GOV_ESC, CU_GOV_DV, CU_GOV_LEVEL_COUNT_
} cu_gov_level;

typedef enum cu_gov_status {
    CU_GOV_ACTIVE = 0, CU_GOV_SUSPENDED, CU_GOV_WITHDRAWN, CU_GOV_LAPSED, CU_GOV_STATUS_COUNT_
} cu_gov_status;

const char *cu_gov_level_name(int level);   /* "SC", ...; "NONE" */
const char *cu_gov_status_name(int status); /* "active", ... */
/* Exact names (case-sensitive: "eSC").  CU_ERR_INVAL with a detail naming the value. */
cu_rc cu_gov_level_parse(const char *s, int *out) CU_NODISCARD;
cu_rc cu_gov_status_parse(const char *s, int *out) CU_NODISCARD;
/* The rank of a level for "is it at least": NPPV1, CTC 1; RV, NPPV2 2;
 * MV, NPPV3, SC 3; eSC 4; DV 5; NONE 0. */
int cu_gov_level_rank(int level);

/* -------------------------------------------------------------- audit */

/* Where actions are made durable: append returns only when the entry is on
 * disk, with its index.  cu_gov_audit_ledger wraps a cu_ledger. */
typedef struct cu_gov_audit {
    cu_rc (*append)(void *ud, const void *entry, size_t len, uint64_t *index);
    void *ud;
} cu_gov_audit;

cu_gov_audit cu_gov_audit_ledger(cu_ledger *l);

/* Governance ledger entries (type CU_LEDGER_GOVERNANCE, ts = the action's
 * now) carry these tags; see docs/governance.md. */
enum {
    CU_GOV_F_ACTION = 1, /* "clearance.grant", ... */
    CU_GOV_F_ACTOR,      /* who did it */
    CU_GOV_F_OFFICER,    /* whose record it changed (absent for campaign-wide actions) */
    CU_GOV_F_OBJECT,     /* the clearance level, "entitlement:12", "campaign:3", ... */
    CU_GOV_F_REASON,     /* why */
    CU_GOV_F_DETAIL,     /* canonical JSON (sorted keys, compact) of the change */
    CU_GOV_F_SEQ,        /* u64 big-endian: the gov_history row */
};

/* ---------------------------------------------------------- open/close */

/* Open (creating the tables when missing) the governance tables in the
 * SQLite database at path.  audit is copied; its append is required. */
cu_rc cu_gov_open(const char *path, const cu_gov_audit *audit, cu_gov **out) CU_NODISCARD;
void cu_gov_close(cu_gov *g);

/* ------------------------------------------------------------ actions */

/* Every action takes the actor (who does it), a reason where it has one,
 * and now (the action's time).  CU_ERR_DENIED for separation of duties,
 * CU_ERR_INVAL for bad values, CU_ERR_NOTFOUND for unknown ids, CU_ERR_STATE
 * for an action the state does not allow, or the audit's error (nothing
 * applied). */

/* Staff: the person's unit, line manager (recertifies their entitlements),
 * annual integrity review due date (0: none) and service (start, end; 0 and
 * INT64_MAX when unknown).  Creates or replaces. */
typedef struct cu_gov_staff {
    const char *officer, *unit, *manager; /* manager may be NULL */
    int64_t integrity_due, start, end;
} cu_gov_staff;
cu_rc cu_gov_set_staff(cu_gov *g, const char *actor, const cu_gov_staff *s, const char *reason,
                       int64_t now) CU_NODISCARD;

/* Grant (or renew) a clearance: status active.  granted < expires and, when
 * review is set (non-zero), granted <= review <= expires. */
typedef struct cu_gov_clearance {
    const char *officer;
    int level;
    int64_t granted, expires, review;
} cu_gov_clearance;
cu_rc cu_gov_grant(cu_gov *g, const char *actor, const cu_gov_clearance *c, const char *reason,
                   int64_t now) CU_NODISCARD;
/* Change the status of the officer's clearance at level (CU_GOV_NONE: every
 * clearance the officer holds): suspend, withdraw, or reinstate (active; a
 * withdrawn clearance cannot be reinstated, only granted again). */
cu_rc cu_gov_set_status(cu_gov *g, const char *actor, const char *officer, int level, int status,
                        const char *reason, int64_t now) CU_NODISCARD;

/* Entitlements: a system (caveat NULL) or a handling caveat on a system,
 * for a scope of data and a purpose, optionally needing a clearance of at
 * least `requires` (rank).  Caveats are sensitive unless said otherwise:
 * a restricting review withholds sensitive ones. */
typedef struct cu_gov_entitlement {
    const char *officer, *system, *caveat, *scope, *purpose;
    int requires;   /* a cu_gov_level or CU_GOV_NONE */
    bool sensitive;
} cu_gov_entitlement;
cu_rc cu_gov_entitle(cu_gov *g, const char *actor, const cu_gov_entitlement *e, const char *reason, int64_t now,
                     int64_t *id) CU_NODISCARD;
cu_rc cu_gov_revoke(cu_gov *g, const char *actor, int64_t id, const char *reason, int64_t now) CU_NODISCARD;

/* Reviews.  kind: aftercare, integrity, revetting, detection, other.  A
 * restricting review withholds sensitive caveats until it is closed.
 * Closing needs an outcome (cleared, suspended, withdrawn, other):
 * suspended and withdrawn apply to every clearance of the officer; a cleared
 * integrity review sets the next one a year after the closing day. */
cu_rc cu_gov_review_open(cu_gov *g, const char *actor, const char *officer, const char *kind, int64_t due,
                         bool restrict_caveats, const char *reason, int64_t now, int64_t *id) CU_NODISCARD;
cu_rc cu_gov_review_close(cu_gov *g, const char *actor, int64_t id, const char *outcome, const char *note,
                          int64_t now) CU_NODISCARD;

/* Aftercare: a change of circumstance reported by the person or by someone
 * else.  kind: foreign-travel, foreign-contacts, financial-difficulty,
 * new-relationship, association, business-interest.  Opens an aftercare
 * review due at `due` (0: 30 days after now), restricting when asked. */
cu_rc cu_gov_aftercare(cu_gov *g, const char *reporter, const char *officer, const char *kind,
                       const char *detail, int64_t due, bool restrict_caveats, int64_t now,
                       int64_t *review_id) CU_NODISCARD;

/* A high risk from detection (score in [0,1] at or above threshold) opens a
 * restricting "detection" review for the officer, unless one is open
 * already; the actor is "custos-detect".  *opened says whether it did. */
cu_rc cu_gov_risk(cu_gov *g, const char *officer, double score, double threshold, const char *source,
                  const char *reason, int64_t now, bool *opened) CU_NODISCARD;

/* Recertification: a campaign lists every active entitlement, each for the
 * holder's line manager to confirm before the deadline (no manager: the
 * campaign's owner).  Confirming after the deadline is CU_ERR_STATE.
 * Closing (at or after the deadline) lapses what was not confirmed. */
cu_rc cu_gov_campaign_start(cu_gov *g, const char *actor, const char *name, int64_t deadline, int64_t now,
                            int64_t *id, size_t *items) CU_NODISCARD;
/* Confirm one entitlement (entitlement > 0) or, with entitlement 0, every
 * item of the campaign the manager holds for officer (officer NULL: the
 * manager's whole team).  *confirmed counts them. */
cu_rc cu_gov_campaign_confirm(cu_gov *g, const char *manager, int64_t campaign, int64_t entitlement,
                              const char *officer, int64_t now, size_t *confirmed) CU_NODISCARD;
cu_rc cu_gov_campaign_close(cu_gov *g, const char *actor, int64_t campaign, int64_t now,
                            size_t *lapsed) CU_NODISCARD;

/* The randomised re-vetting draw: from every officer holding a clearance in
 * force at now (sorted by id), choose `count` by a seeded generator
 * (xoshiro256** seeded by splitmix64 of seed; a partial Fisher-Yates
 * shuffle), open a "revetting" review for each, due at `due`.  The seed,
 * the population's size and SHA-256 and the selection are recorded; the
 * same seed over the same population always selects the same officers.
 * selection (may be NULL) gets the ids, comma-separated, in draw order. */
cu_rc cu_gov_draw(cu_gov *g, const char *actor, uint64_t seed, size_t count, int64_t due, int64_t now,
                  int64_t *draw_id, cu_buf *selection) CU_NODISCARD;
/* The pure selection, for checking a recorded draw: over a population of n
 * sorted ids, idx (room for n) gets a permutation whose first k entries are
 * the indices chosen, in draw order.  CU_ERR_RANGE when k > n. */
cu_rc cu_gov_draw_select(uint64_t seed, size_t n, size_t k, size_t *idx) CU_NODISCARD;

/* ---------------------------------------------------------- effective */

typedef enum cu_gov_state {
    CU_GOV_ST_UNKNOWN = 0,  /* governance holds nothing on this person */
    CU_GOV_ST_IN_FORCE,     /* a clearance is in force */
    CU_GOV_ST_NONE,         /* known, but no clearance at all */
    CU_GOV_ST_NOT_YET,      /* granted in the future */
    CU_GOV_ST_EXPIRED,      /* the newest active clearance has expired (lapsed) */
    CU_GOV_ST_SUSPENDED,
    CU_GOV_ST_WITHDRAWN,
} cu_gov_state;
const char *cu_gov_state_name(int st);

typedef struct cu_gov_effective {
    int state;                 /* cu_gov_state */
    int level;                 /* the level in force; when none: the expired or future one (state says
                                  which), CU_GOV_NONE for suspended, withdrawn or no clearance */
    int64_t granted, expires;  /* of that level; 0 when none */
    int64_t review;            /* its review date (0: none) */
    bool managed;              /* the register holds entitlements (of any status) for this person: what is
                                  not in systems/caveats is not entitled */
    bool withheld;             /* an open review withholds sensitive caveats */
    size_t nsystems, ncaveats, nrestrictions;
    char systems[CU_GOV_MAX_HELD][CU_GOV_MAX_ID + 1];
    char caveats[CU_GOV_MAX_HELD][CU_GOV_MAX_ID + 1];
    char restrictions[CU_GOV_MAX_RESTRICT][256]; /* sentences: what is withheld and why */
} cu_gov_effective;

/* The officer's effective vetting at now: level, expiry, status, the
 * systems and caveats held (entitlements active, not lapsed at a campaign
 * deadline, whose required clearance is in force; sensitive caveats not
 * withheld by an open restricting review), and the restrictions.  Never
 * fails for an unknown officer: state CU_GOV_ST_UNKNOWN. */
void cu_gov_effective_get(cu_gov *g, const char *officer, int64_t now, cu_gov_effective *out);
/* As JSON (an object; the /v1/governance/officers/ID answer). */
cu_rc cu_gov_effective_json(const cu_gov_effective *e, const char *officer, cu_buf *out) CU_NODISCARD;

/* -------------------------------------------------- history, reports */

/* The officer's history as a JSON array (oldest first).  The actor may not
 * read their own trail (CU_ERR_DENIED). */
cu_rc cu_gov_history_json(cu_gov *g, const char *actor, const char *officer, cu_buf *out) CU_NODISCARD;

/* Per unit at time `at`: workforce (staff in service), in-date vetting
 * (a clearance in force), its share, expiries in (at, at + 90 days] of the
 * clearance in force, people with an overdue review (an open review past
 * due, a clearance review date or integrity review passed), and overdue
 * recertifications (unconfirmed items of campaigns whose deadline passed).
 * A last row "ALL" sums them. */
typedef struct cu_gov_report_row {
    char unit[CU_GOV_MAX_ID + 1];
    uint64_t workforce, in_date, expiring_90d, overdue_reviews, overdue_recerts;
} cu_gov_report_row;
typedef struct cu_gov_report {
    int64_t at;
    size_t nrows;          /* units, sorted, then "ALL" */
    cu_gov_report_row *rows;
} cu_gov_report;
cu_rc cu_gov_report_make(cu_gov *g, int64_t at, cu_gov_report *out) CU_NODISCARD;
void cu_gov_report_free(cu_gov_report *r);
/* CSV with a header line; share as a percentage with one decimal. */
cu_rc cu_gov_report_csv(const cu_gov_report *r, cu_buf *out) CU_NODISCARD;
cu_rc cu_gov_report_json(const cu_gov_report *r, cu_buf *out) CU_NODISCARD;

/* ------------------------------------------------------- interchange */

/* One interchange line (docs/governance.md): kinds vetting, staff,
 * entitlement, and officer (a reference line: unit, service, vetting).
 * Other reference kinds (person, record, case, assign) are skipped.
 * Values are copied into rec's own storage. */
typedef enum cu_gov_rec_kind { CU_GOV_REC_SKIP = 0, CU_GOV_REC_VETTING, CU_GOV_REC_STAFF, CU_GOV_REC_ENTITLEMENT,
                               CU_GOV_REC_OFFICER } cu_gov_rec_kind;
typedef struct cu_gov_rec {
    int kind;
    char officer[CU_GOV_MAX_ID + 1], unit[CU_GOV_MAX_ID + 1], manager[CU_GOV_MAX_ID + 1];
    char system[CU_GOV_MAX_ID + 1], caveat[CU_GOV_MAX_ID + 1];
    char scope[CU_GOV_MAX_TEXT + 1], purpose[CU_GOV_MAX_ID + 1];
    int level, status, requires;
    bool sensitive, has_vetting;
    int64_t granted, expires, review, integrity_due, start, end;
} cu_gov_rec;
/* Parse one line (no file context: callers prefix "FILE:LINE: ").
 * CU_ERR_PARSE / CU_ERR_INVAL / CU_ERR_TOOBIG with a detail. */
cu_rc cu_gov_parse_line(const char *text, size_t len, cu_gov_rec *rec) CU_NODISCARD;

/* Import a file of interchange lines as one action of actor's (one ledger
 * entry holding the file's SHA-256 and the counts).  Stops at the first bad
 * line with "FILE:LINE: ..." and applies the lines before it (their ledger
 * entry says so), or nothing when the log refuses.  *applied counts lines. */
cu_rc cu_gov_import(cu_gov *g, const char *actor, const char *path, int64_t now, size_t *applied) CU_NODISCARD;
/* Export the register as interchange lines: staff, vetting, entitlement. */
cu_rc cu_gov_export(cu_gov *g, cu_buf *out) CU_NODISCARD;

/* -------------------------------------------------------------- HTTP */

/* Serve one request of the governance API (docs/governance.md) without
 * knowing the transport.  path starts "/v1/governance/"; query gives a
 * query parameter (may return NULL); now is the request's time.  Sets
 * *status and appends JSON to out; errors are JSON {"error": "..."}.
 * person is the authenticated person the caller is (a console account's
 * officer id, or a bearer token the daemon's config maps to one), or NULL
 * for a system caller.  Every action and history read is done as person:
 * an "actor", "reporter" or "manager" in the body (or ?actor=) naming
 * someone else is refused (403); a system caller (NULL) may read reports
 * and effective states only (403 for actions and histories). */
typedef const char *(*cu_gov_query_fn)(void *ud, const char *name);
/* The routes cu_gov_http serves ("{id}" marks an officer id segment), for
 * the server's route table and docs/openapi.yaml. */
typedef struct cu_gov_route {
    const char *method, *path;
} cu_gov_route;
size_t cu_gov_routes(const cu_gov_route **out);
void cu_gov_http(cu_gov *g, const char *person, const char *method, const char *path, cu_gov_query_fn query,
                 void *qud, const char *body, size_t body_len, int64_t now, int *status, cu_buf *out);

#endif /* CUSTOS_GOVERNANCE_H */
