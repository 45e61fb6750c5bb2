/*
 * custos gateway: decides each look-up from Cedar policy, makes the decision
 * durable before answering, and keeps break-glass under review.
 *
 * Objects and lifetimes
 * - cu_gateway: the policy set (parsed once), the current reference
 *   snapshot, the callers' token hashes, the open break-glass uses and the
 *   metrics.  Thread-safe: any number of threads may decide at once.
 * - Reference snapshot: the interchange reference data turned into Cedar
 *   entities once per version (officers, people, cases, records, systems),
 *   immutable, reference counted.  An update builds a new snapshot and swaps
 *   it in under a lock; a decision holds the snapshot it started with, and
 *   every decision after the swap sees the new one (no decision runs on data
 *   older than a change that had completed when it started).
 *
 * Invariants (fail closed)
 * 1. A decision is appended to the audit log (the ledger) before it is
 *    returned; if the append fails the answer is deny, "audit unavailable".
 * 2. A decision whose evaluation had errors is denied unless the gateway was
 *    configured otherwise, and is flagged as such in the answer and the log.
 * 3. Break-glass is granted only by emergency-tier policies
 *    (@tier("emergency")) and only with a written justification; each use is
 *    logged, carries obligations and stays open until a reviewer closes it
 *    with a decision that is itself logged first.
 * 4. Evaluation allocates nothing per decision: each thread has a scratch
 *    arena and an entry buffer, reset per decision.
 */
#ifndef CUSTOS_GATEWAY_H
#define CUSTOS_GATEWAY_H

#include "custos/util.h"

#define CU_GATEWAY_MAX_ID 64            /* ids (officer, record, case, ...) */
#define CU_GATEWAY_MAX_JUSTIFICATION 1024
#define CU_GATEWAY_MAX_REFERENCE_LINE 65536
#define CU_GATEWAY_MAX_CONFIG (1u << 20)
#define CU_GATEWAY_BREAKGLASS_REVIEW_S (72 * 3600)

typedef struct cu_gateway cu_gateway;

struct cu_gateway_request;
struct cu_gateway_decision;

/* A decision about to be logged, for append_decision below: the request,
 * the decision (outcome, break_glass, ...), the system the look-up concerns
 * (the record's system when the request named a record) and the entry
 * bytes to append. */
typedef struct cu_gateway_logged {
    const struct cu_gateway_request *req;
    const struct cu_gateway_decision *d;
    const char *system;
    const void *entry;
    size_t len;
} cu_gateway_logged;

/* Where decisions are made durable.  append returns only when the entry is
 * on disk (cu_ledger_append); size gives the entries committed (may be NULL).
 * append_decision (may be NULL: append is used) is called instead of append
 * for each decision, so that the daemon can record an allowed look-up as an
 * access event too (docs/gateway.md, "Decisions feed detection"); it must
 * append lg->entry and return only when it is durable, with its index. */
struct cu_ledger;
struct cu_ledger_pending;
typedef void (*cu_gateway_audit_done)(void *done_ud, cu_rc rc, uint64_t index, const char *detail);
typedef struct cu_gateway_audit {
    cu_rc (*append)(void *ud, const void *entry, size_t len, uint64_t *index);
    uint64_t (*size)(void *ud);
    void *ud;
    cu_rc (*append_decision)(void *ud, const cu_gateway_logged *lg, uint64_t *index);
    /* Asynchronous append (may be NULL): queue the entry and return at once;
     * done runs exactly once, on any thread, when the entry is durable (rc
     * CU_OK, its index) or failed.  p and entry stay the caller's until then.
     * An error returned means done never runs.  cu_gateway_http_async uses
     * it when set and append_decision is not (cu_ledger_append_async). */
    cu_rc (*submit)(void *ud, struct cu_ledger_pending *p, const void *entry, size_t len,
                    cu_gateway_audit_done done, void *done_ud);
    /* Asynchronous append_decision (may be NULL): as submit, with the
     * decision (lg: lg->entry stays valid until done; lg->req, lg->d and
     * lg->system only during the call).  Used by cu_gateway_http_async in
     * preference to submit, so that the daemon can batch allowed look-ups
     * into the pipeline (docs/gateway.md, "Decisions feed detection"). */
    cu_rc (*submit_decision)(void *ud, const cu_gateway_logged *lg, struct cu_ledger_pending *p,
                             cu_gateway_audit_done done, void *done_ud);
} cu_gateway_audit;

/* The audit hooks over a ledger (append, size, submit), ud = the ledger. */
cu_gateway_audit cu_gateway_audit_ledger(struct cu_ledger *l);

/* Log entries: the canonical ledger encoding (ledger.h), type 2
 * (CU_LEDGER_DECISION), the decision or review time, and typed fields with
 * the CU_GW_F_* tags (docs/gateway.md). */

/* Live officer state from the vetting register (the governance module),
 * asked on every decision and passed to the policies as context.governance
 * (policies/05-register.cedar): a suspension, an expiry, a lapse or a
 * restriction takes effect on the next decision.  The register only takes
 * away: what it grants still has to be in the reference data.  The hook
 * fills out; known false (the register holds nothing on the officer) leaves
 * context.governance out.  It must not block and should not allocate. */
#define CU_GATEWAY_LIVE_CAVEATS 32
typedef struct cu_gateway_live {
    bool known;
    char state[24];    /* "in-force", "expired", "suspended", "withdrawn", "not-yet-granted", "none" */
    char level[16];    /* the level in force, or "NONE" */
    int64_t expires;   /* its expiry (0 when none) */
    bool managed;      /* the register manages the officer's entitlements ... */
    bool entitled;     /* ... and entitles them to the system of this request now */
    bool restricted;   /* a review withholds sensitive caveats */
    size_t ncaveats;   /* caveats the register gives now */
    char caveats[CU_GATEWAY_LIVE_CAVEATS][CU_GATEWAY_MAX_ID + 1];
} cu_gateway_live;
typedef void (*cu_gateway_live_fn)(void *ud, const char *officer, const char *system, int64_t now,
                                   cu_gateway_live *out);

typedef struct cu_gateway_opts {
    const char *policy_text;   /* the Cedar policy set (all files of the pack) */
    size_t policy_len;
    const char *policy_name;   /* for error details */
    cu_gateway_audit audit;    /* required */
    bool allow_on_error;       /* default false: evaluation errors deny */
    size_t scratch_size;       /* per-thread evaluation arena (0: 256 KiB) */
    cu_gateway_live_fn live;   /* the vetting register, or NULL */
    void *live_ud;
} cu_gateway_opts;

/* Make a gateway with an empty reference snapshot (version 0). */
CU_NODISCARD cu_rc cu_gateway_new(const cu_gateway_opts *opts, cu_gateway **out);
void cu_gateway_free(cu_gateway *g);

/* Read the policy pack: path is a .cedar file, or a directory whose *.cedar
 * files are concatenated in name order.  *text is freed with cu_free. */
CU_NODISCARD cu_rc cu_gateway_read_pack(const char *path, char **text, size_t *len);

/* --------------------------------------------------------- reference data */

/* Replace the reference data with an interchange JSON Lines file.  A bad
 * line fails the load with "FILE:LINE: ..." and keeps the current data. */
CU_NODISCARD cu_rc cu_gateway_reference_load(cu_gateway *g, const char *path);
/* Apply JSON Lines on top of the current data (later lines replace earlier
 * objects with the same kind and id; assign lines change case officers) and
 * swap in the new version.  Bad lines are skipped and reported, one line
 * each "NAME:LINE: message\n", into report (may be NULL); *applied counts
 * the lines taken.  Returns CU_ERR_PARSE when no line could be taken. */
CU_NODISCARD cu_rc cu_gateway_reference_update(cu_gateway *g, const char *text, size_t len,
                                               const char *name, cu_buf *report,
                                               size_t *applied, uint64_t *version);
uint64_t cu_gateway_reference_version(cu_gateway *g);
/* A second holder of the reference data that must take exactly the lines
 * the gateway takes (custosd --data: the pipeline's, read by the detectors
 * and the store).  For each line: check (non-OK refuses the line, with its
 * detail, and nothing changes anywhere), then the gateway's own check, then
 * apply (the line takes effect there).  apply failing stops the update
 * before anything is published (the error is returned). */
typedef struct cu_gateway_ref_peer {
    cu_rc (*check)(void *ud, const char *line, size_t len, uint64_t lineno);
    cu_rc (*apply)(void *ud);
    void *ud;
} cu_gateway_ref_peer;
/* The peer POST /v1/reference feeds (cu_gateway_http); NULL: none.  The
 * caller serialises updates with whatever else reads the peer. */
void cu_gateway_set_reference_peer(cu_gateway *g, const cu_gateway_ref_peer *peer);
/* cu_gateway_reference_update with a peer (may be NULL). */
CU_NODISCARD cu_rc cu_gateway_reference_update_with(cu_gateway *g, const char *text, size_t len, const char *name,
                                                    const cu_gateway_ref_peer *peer, cu_buf *report,
                                                    size_t *applied, uint64_t *version);

/* Several updates as one (the kept updates replayed at start): begin takes
 * the update lock and a copy of the current data; each add reads one
 * update's lines in turn, exactly as cu_gateway_reference_update_with
 * would one after another with that peer (NULL: the gateway's data only;
 * the same lines taken, the same refused: CU_ERR_PARSE when none could be
 * taken, and the batch goes on); commit
 * makes one new snapshot and advances the version by one per update that
 * took a line, as if each had been published; abort drops them all.
 * Either ends the batch (b is freed, the lock released). */
typedef struct cu_gateway_ref_batch cu_gateway_ref_batch;
CU_NODISCARD cu_rc cu_gateway_reference_begin(cu_gateway *g, cu_gateway_ref_batch **b);
CU_NODISCARD cu_rc cu_gateway_reference_add(cu_gateway_ref_batch *b, const char *text, size_t len,
                                            const char *name, const cu_gateway_ref_peer *peer, cu_buf *report,
                                            size_t *applied);
CU_NODISCARD cu_rc cu_gateway_reference_commit(cu_gateway_ref_batch *b, uint64_t *version);
void cu_gateway_reference_abort(cu_gateway_ref_batch *b);

/* ----------------------------------------------------------------- callers */

/* Read the callers' config (format in docs/gateway.md):
 *   token NAME sha256:HEX [reviewer]
 *   cert NAME sha256:HEX [reviewer]     (HEX: SHA-256 of a client certificate)
 *   allow_on_error true|false
 * Tokens are stored as SHA-256 hashes and compared in constant time. */
CU_NODISCARD cu_rc cu_gateway_config_load(cu_gateway *g, const char *path);
CU_NODISCARD cu_rc cu_gateway_config_parse(cu_gateway *g, const char *text, size_t len, const char *name);
/* Identify a caller: by client_cert (the hex SHA-256 of a client
 * certificate the TLS layer verified, cu_http_req.client_cert; NULL: none)
 * against the `cert` lines, else by an Authorization header ("Bearer
 * TOKEN") against the `token` lines.  On success copies the caller's name
 * into name (CU_GATEWAY_MAX_ID + 1 bytes) and says whether it may review
 * break-glass; otherwise CU_ERR_DENIED. */
CU_NODISCARD cu_rc cu_gateway_authenticate(cu_gateway *g, const char *authorization, const char *client_cert,
                                           char *name, bool *reviewer);

/* --------------------------------------------------------------- decisions */

typedef enum cu_gateway_outcome {
    CU_GW_DENY = 0,
    CU_GW_ALLOW,
    CU_GW_BREAK_GLASS_AVAILABLE,  /* denied, but the emergency tier would allow */
} cu_gateway_outcome;

typedef struct cu_gateway_request {
    const char *caller;           /* authenticated system name */
    const char *officer;
    const char *action;           /* search, view, update, export, print, disclose, login, logout */
    const char *record;           /* NULL for search, login, logout */
    const char *system;           /* the system searched / logged into (for record: optional) */
    const char *purpose;
    const char *case_id;          /* NULL when none stated */
    const char *justification;    /* break-glass justification, NULL when none */
    int64_t now;
} cu_gateway_request;

#define CU_GATEWAY_MAX_ITEMS 16

typedef struct cu_gateway_decision {
    cu_gateway_outcome outcome;
    bool break_glass;             /* allowed through the emergency tier */
    bool flagged;                 /* evaluation errors: denied (or allowed) by configuration */
    bool audited;                 /* the decision is in the log at index */
    uint64_t index;               /* ledger index */
    uint64_t ref_version;         /* reference data version used */
    uint64_t policy_version;      /* policy pack used (1: the one the gateway was made with) */
    size_t n_policies;
    const char *policies[CU_GATEWAY_MAX_ITEMS];   /* deciding policy ids */
    size_t n_reasons;
    const char *reasons[CU_GATEWAY_MAX_ITEMS];    /* sentences for the officer */
    size_t n_errors;
    const char *errors[CU_GATEWAY_MAX_ITEMS];     /* "policy: message" */
    const char *explanation;      /* default deny: the failed condition, or NULL */
    const char *explain_policy;
    const char *explain_condition;
    size_t n_obligations;
    const char *obligations[4];
} cu_gateway_decision;

/* Decide one request and log it.  The strings the decision points to live
 * in this thread's scratch arena until the thread's next decision.  Returns
 * CU_OK with a decision (a deny included), CU_ERR_INVAL for a request that
 * is not well formed (nothing logged).  It reads no clock: the decision
 * latency histogram of /metrics holds the decisions made through
 * cu_gateway_http; an in-process caller times its own. */
CU_NODISCARD cu_rc cu_gateway_decide(cu_gateway *g, const cu_gateway_request *req,
                                     cu_gateway_decision *d);

/* Ledger entries: the ledger's entry encoding (include/custos/ledger.h,
 * cu_ledger_entry_encode), type CU_LEDGER_DECISION, time = the decision's
 * (or review's) now.  A decision carries tags 1-13, a break-glass review
 * tags 2 and 14-17 (docs/gateway.md, "Ledger entries").  Strings are UTF-8
 * without NUL; lists are joined by '\n'; absent or empty fields are left out. */
enum {
    CU_GW_F_CALLER = 1,      /* the authenticated calling system */
    CU_GW_F_OFFICER,         /* 2 */
    CU_GW_F_ACTION,          /* 3 */
    CU_GW_F_RECORD,          /* 4 */
    CU_GW_F_SYSTEM,          /* 5: the system searched, or the record's system */
    CU_GW_F_PURPOSE,         /* 6 */
    CU_GW_F_CASE,            /* 7 */
    CU_GW_F_DECISION,        /* 8: 1 byte: 1 allow, 2 deny, 3 break-glass-available */
    CU_GW_F_FLAGS,           /* 9: 1 byte: bit 0 break-glass used, bit 1 flagged (absent: 0) */
    CU_GW_F_REF_VERSION,     /* 10: u64 big-endian */
    CU_GW_F_JUSTIFICATION,   /* 11 */
    CU_GW_F_POLICIES,        /* 12: deciding policy ids, '\n'-joined */
    CU_GW_F_ERRORS,          /* 13: "policy: message" lines */
    CU_GW_F_REVIEWED,        /* 14: u64 big-endian: ledger index of the decision reviewed */
    CU_GW_F_REVIEWER,        /* 15 */
    CU_GW_F_REVIEW_OUTCOME,  /* 16: 1 byte: 1 justified, 2 unjustified */
    CU_GW_F_NOTE,            /* 17 */
    CU_GW_F_POLICY_VERSION,  /* 18: u64 big-endian: the policy pack that decided (1: the first) */
};

/* Append the decision as JSON (the /v1/authorize answer). */
CU_NODISCARD cu_rc cu_gateway_decision_json(const cu_gateway_decision *d, cu_buf *out);

/* ----------------------------------------------------------- break-glass */

/* The open break-glass uses as a JSON array. */
CU_NODISCARD cu_rc cu_gateway_breakglass_json(cu_gateway *g, int64_t now, cu_buf *out);
/* Close break-glass use id with a reviewer's decision (outcome "justified"
 * or "unjustified"), logged before it takes effect.  CU_ERR_NOTFOUND for no
 * such open use, CU_ERR_DENIED when the reviewer is the officer who used it,
 * CU_ERR_IO when the log refused the entry (nothing changed). */
CU_NODISCARD cu_rc cu_gateway_breakglass_review(cu_gateway *g, uint64_t id, const char *reviewer,
                                                const char *outcome, const char *note, int64_t now,
                                                uint64_t *index);
size_t cu_gateway_breakglass_open(cu_gateway *g);

/* ------------------------------------------------------------------- HTTP */

/* Serve one HTTP request of the gateway's API (docs/gateway.md,
 * docs/openapi.yaml) without knowing the transport: the server module's
 * handler passes method, path, Authorization header, verified client
 * certificate (cu_gateway_authenticate) and body, and sends
 * back *status with the JSON (or OpenMetrics text) appended to out; ctype
 * gets a static content type.  Never fails: errors are JSON answers. */
void cu_gateway_http(cu_gateway *g, const char *method, const char *path, const char *authorization,
                     const char *client_cert, const char *body, size_t body_len, int64_t now, int *status, const char **ctype,
                     cu_buf *out);

/* The same for a server that can hold a request without a thread (the
 * server module's cu_http_suspend): POST /v1/authorize, when the audit hooks
 * have submit and no append_decision, is decided at once, then df->hold(ud)
 * is called and the decision entry is submitted to the log; the log's
 * completion writes *status and the answer into out (both must stay valid)
 * and calls df->answer(held) (held: what hold returned), exactly once, from any thread (perhaps before
 * this returns).  Fail closed as before: the answer leaves only once the
 * entry is durable, else it is a deny, "audit unavailable" (503).  Returns
 * true when deferred (hold was called), false when answered now, as by
 * cu_gateway_http (every other route, and every error). */
typedef struct cu_gateway_defer {
    void *(*hold)(void *ud);    /* what answer gets; NULL: cannot hold (the log is then waited for here) */
    void (*answer)(void *held);
    void *ud;
} cu_gateway_defer;
bool cu_gateway_http_async(cu_gateway *g, const char *method, const char *path, const char *authorization,
                           const char *client_cert, const char *body, size_t body_len, int64_t now, int *status, const char **ctype,
                           cu_buf *out, const cu_gateway_defer *df);

/* Count a request refused before it reached the gateway (413 and friends). */
void cu_gateway_count_http_error(cu_gateway *g, int status);

/* ------------------------------------------------------------ policies */

/* Put a new policy pack in force (custosd: on SIGHUP, the --policies path
 * read again).  The text is parsed whole first: a bad pack (a parse error,
 * with its file, line and column; an unknown tier) is refused with that
 * detail and the pack in force stays.  Then the change is logged (a
 * CU_LEDGER_POLICY entry: the pack's version, SHA-256, name and policy
 * count, at time now) before it takes effect: if the log refuses it, so is
 * the pack.  The new pack decides every decision that starts after this
 * returns, with the same reference data (a new snapshot whose officers'
 * memos are the new pack's); decisions carry the pack's version
 * (policy_version, in the answer and the log).  Packs put out of force are
 * kept until the gateway is freed (answers may still point into them).
 * *version: the new pack's. */
CU_NODISCARD cu_rc cu_gateway_policies_replace(cu_gateway *g, const char *text, size_t len, const char *name,
                                               int64_t now, uint64_t *version);
/* Log the pack in force (a CU_LEDGER_POLICY entry), as custosd does at
 * start, so every decision's policy_version is named in the log before it. */
CU_NODISCARD cu_rc cu_gateway_policies_log(cu_gateway *g, const char *name, int64_t now);
/* The pack in force: its version and SHA-256 (hash may be NULL). */
uint64_t cu_gateway_policies_version(cu_gateway *g, uint8_t hash[CU_SHA256_LEN]);

/* The OpenMetrics text of /metrics. */
CU_NODISCARD cu_rc cu_gateway_metrics(cu_gateway *g, cu_buf *out);
/* Lines from a layer above (the HTTP server's) that /metrics adds before
 * its "# EOF".  Set before the gateway serves; fn NULL removes them. */
typedef cu_rc (*cu_gateway_metrics_fn)(void *ud, cu_buf *out);
void cu_gateway_set_metrics_more(cu_gateway *g, cu_gateway_metrics_fn fn, void *ud);

#endif /* CUSTOS_GATEWAY_H */
