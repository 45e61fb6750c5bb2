/*
 * custos event: access events, reference entities and alerts in memory, and
 * their interchange JSON Lines form (../shared/spec/interchange.md).
 *
 * - Ids (officer, person, record, case, terminal, area, unit, system,
 *   purpose) are interned into dense integers (cu_id) per kind by a cu_names
 *   table, so detectors index arrays rather than hash strings.  Event ids are
 *   not interned (each is unique); they travel inline in cu_event.
 * - Every line read is bounded (CU_EVENT_MAX_LINE), every id is at most
 *   CU_ID_MAX_LEN bytes, lists have a maximum length; an error names the file
 *   and line through cu_err_detail() ("events.jsonl:17: ...").
 * - JSON parsing is a strict RFC 8259 parser of one line (json.c): it rejects
 *   malformed JSON, invalid UTF-8 and duplicate top-level keys, and accepts
 *   unknown extra fields (the project may add some).
 * - Reference data is valid in time (cu_ref): after cu_ref_advance(ref, t)
 *   the queries expose only what had begun by t and had not ended: cases
 *   opened by t and not closed, officers started and not ended, assignments
 *   with ts <= t.  Advancing is monotonic; nothing later is ever visible.
 *
 * Threads: a cu_names may be interned into by one thread while other threads
 * read (cu_names_str) ids they received from it through a synchronising
 * hand-off (a mutex); the storage of interned strings never moves.  Lookups
 * by string (cu_names_find, cu_names_intern) belong to the interning thread.
 */
#ifndef CUSTOS_EVENT_H
#define CUSTOS_EVENT_H

#include "custos/util.h"

/* ------------------------------------------------------------ limits */

#define CU_ID_MAX_LEN 64            /* bytes in any id */
#define CU_EVENT_MAX_LINE 65536     /* bytes in one JSON line (event or reference) */
#define CU_EVENT_MAX_SUBJECTS 256   /* people in one event (the ledger's limit too) */
#define CU_REF_MAX_LIST 4096        /* entries in one reference list (subjects, records, ...) */
#define CU_REF_MAX_LINES 50000000u  /* reference lines in one file */

/* ---------------------------------------------------------------- ids */

typedef uint32_t cu_id;
#define CU_ID_NONE UINT32_MAX

typedef enum cu_idkind {
    CU_K_OFFICER,
    CU_K_PERSON,
    CU_K_RECORD,
    CU_K_CASE,
    CU_K_TERMINAL,
    CU_K_AREA,
    CU_K_UNIT,
    CU_K_SYSTEM,
    CU_K_PURPOSE,
    CU_K_COUNT_
} cu_idkind;

const char *cu_idkind_name(cu_idkind k); /* "officer", "person", ... */

typedef struct cu_names cu_names;

cu_rc cu_names_new(cu_names **out) CU_NODISCARD;
void cu_names_free(cu_names *n);
/* The dense id of s (1..CU_ID_MAX_LEN bytes), adding it when new.  Ids of a
 * kind are 0, 1, 2, ... in order of first sight. */
cu_rc cu_names_intern(cu_names *n, cu_idkind k, const char *s, size_t len, cu_id *out) CU_NODISCARD;
/* The same with the hash of s given (cu_names_hash(s, len)), computed
 * ahead, e.g. on another thread: the table ends the same either way. */
cu_rc cu_names_intern_h(cu_names *n, cu_idkind k, const char *s, size_t len, uint32_t hash, cu_id *out) CU_NODISCARD;
/* The hash cu_names_intern_h takes: a pure function of the bytes. */
uint32_t cu_names_hash(const char *s, size_t len);
/* A hint: the slot of an id with this hash will be looked at soon. */
void cu_names_prefetch(const cu_names *n, cu_idkind k, uint32_t hash);
/* CU_ID_NONE when s was never interned. */
cu_id cu_names_find(const cu_names *n, cu_idkind k, const char *s, size_t len);
/* The string of an id (NUL-terminated, owned by n, valid until
 * cu_names_free), or NULL for CU_ID_NONE / an id never given out. */
const char *cu_names_str(const cu_names *n, cu_idkind k, cu_id id);
/* The same with its length (no strlen); *len 0 with NULL. */
const char *cu_names_str_len(const cu_names *n, cu_idkind k, cu_id id, size_t *len);
/* A hint: cu_names_str of this id will be asked for soon (its entry in the
 * id -> string table is fetched; the string itself is not: its address is
 * not known until that entry arrives).  Nothing for an id not given out. */
void cu_names_prefetch_id(const cu_names *n, cu_idkind k, cu_id id);
uint32_t cu_names_count(const cu_names *n, cu_idkind k);

/* -------------------------------------------------------------- events */

typedef enum cu_action {
    CU_ACT_SEARCH, CU_ACT_VIEW, CU_ACT_UPDATE, CU_ACT_EXPORT, CU_ACT_PRINT,
    CU_ACT_DISCLOSE, CU_ACT_LOGIN, CU_ACT_LOGOUT, CU_ACT_COUNT_
} cu_action;
typedef enum cu_outcome { CU_OUT_ALLOW, CU_OUT_DENY } cu_outcome;

const char *cu_action_name(cu_action a);
/* CU_OK and *out set when s names an action. */
cu_rc cu_action_parse(const char *s, size_t len, cu_action *out) CU_NODISCARD;

/* One access event.  subjects points at storage the caller provides
 * (subjects_cap ids); cu_event_parse fills it. */
typedef struct cu_event {
    int64_t ts;
    cu_id officer, system, record, purpose, case_id, terminal, area; /* CU_ID_NONE: null/absent */
    uint8_t action;   /* cu_action */
    uint8_t outcome;  /* cu_outcome */
    uint8_t id_len;
    bool has_results;
    uint32_t results;
    uint32_t nsubjects;
    uint32_t subjects_cap;
    cu_id *subjects;
    char id[CU_ID_MAX_LEN + 1];
} cu_event;

/* Parse one access line.  Required: kind ("access"), id, ts, officer,
 * system, action, outcome.  Optional (absent or null): record, subjects,
 * purpose, case, terminal, area, results.  Unknown fields are ignored.
 * On error the detail says what is wrong (callers add file:line). */
cu_rc cu_event_parse(cu_names *n, const char *line, size_t len, cu_event *ev) CU_NODISCARD;

/* Two-phase parsing, for readers that parse on several threads and intern
 * on one: cu_event_scan checks a line completely (everything
 * cu_event_parse checks) and touches no cu_names: its ids stay spans, with
 * their hashes; cu_event_intern then interns them, in file order, into a
 * cu_event.  cu_event_parse is exactly scan then intern, so both ways give
 * the same events, ids and errors. */
typedef struct cu_idspan {
    const char *s;  /* the bytes: in the line, or decoded into the scratch */
    uint32_t hash;  /* cu_names_hash(s, len) */
    uint8_t len;    /* 0: null or absent */
} cu_idspan;

enum { CU_EVF_OFFICER, CU_EVF_SYSTEM, CU_EVF_RECORD, CU_EVF_PURPOSE, CU_EVF_CASE, CU_EVF_TERMINAL, CU_EVF_AREA,
       CU_EVF_COUNT_ };

typedef struct cu_event_raw {
    int64_t ts;
    uint8_t action, outcome, id_len;
    bool has_results;
    uint32_t results;
    uint32_t nsubjects;
    cu_idspan ids[CU_EVF_COUNT_];
    cu_idspan *subjects; /* the caller's storage: CU_EVENT_MAX_SUBJECTS spans */
    char id[CU_ID_MAX_LEN + 1];
} cu_event_raw;

/* Scratch a scan may need for ids written with escapes (decoded there). */
#define CU_EVENT_SCRATCH ((CU_EVENT_MAX_SUBJECTS + CU_EVF_COUNT_) * (CU_ID_MAX_LEN + 1))
/* Parse one line without interning.  scratch has CU_EVENT_SCRATCH bytes;
 * *scratch_used (may be NULL) gets how many the spans use (0 unless an id
 * had escapes).  The spans point into line and scratch. */
cu_rc cu_event_scan(const char *line, size_t len, cu_event_raw *raw, char *scratch, size_t *scratch_used) CU_NODISCARD;
/* Intern a scanned event into ev (ev->subjects as for cu_event_parse). */
cu_rc cu_event_intern(cu_names *n, const cu_event_raw *raw, cu_event *ev) CU_NODISCARD;

/* Append the event as one interchange JSON line (with '\n'). */
cu_rc cu_event_write(const cu_names *n, const cu_event *ev, cu_buf *out) CU_NODISCARD;

/* A reader of an events file: streams lines, parses them, checks time
 * order.  Errors carry "file:line: ..." in cu_err_detail(); an out-of-order
 * event is CU_ERR_ORDER. */
typedef struct cu_event_reader cu_event_reader;
cu_rc cu_event_reader_open(const char *path, cu_names *n, cu_event_reader **out) CU_NODISCARD;
/* CU_OK with *ev filled, CU_ERR_NOTFOUND at the end, or an error. ev->subjects
 * must have room for CU_EVENT_MAX_SUBJECTS ids. */
cu_rc cu_event_reader_next(cu_event_reader *r, cu_event *ev) CU_NODISCARD;
uint64_t cu_event_reader_line(const cu_event_reader *r);
void cu_event_reader_close(cu_event_reader *r);

/* A parallel reader of an events file: worker threads cut the file into
 * blocks of whole lines and scan them (cu_event_scan); the calling thread
 * interns the events in file order.  cu_event_preader_next has the
 * contract of cu_event_reader_next and gives the same events, the same ids
 * (in the same order) and the same "file:line: ..." errors; on a bad line
 * every event before it is returned first.  workers 0: 2; block 0: 8 MiB
 * (the bytes a worker takes at a time; tests use small ones). */
typedef struct cu_event_preader cu_event_preader;
cu_rc cu_event_preader_open(const char *path, cu_names *n, unsigned workers, size_t block,
                            cu_event_preader **out) CU_NODISCARD;
cu_rc cu_event_preader_next(cu_event_preader *r, cu_event *ev) CU_NODISCARD;
uint64_t cu_event_preader_line(const cu_event_preader *r);
void cu_event_preader_close(cu_event_preader *r);

/* ---------------------------------------------------------- reference */

typedef enum cu_vetting {
    CU_VET_NONE, CU_VET_RV, CU_VET_MV, CU_VET_NPPV1, CU_VET_NPPV2, CU_VET_NPPV3,
    CU_VET_CTC, CU_VET_SC, CU_VET_ESC, CU_VET_DV
} cu_vetting;
typedef enum cu_shift { CU_SHIFT_NONE, CU_SHIFT_DAYS, CU_SHIFT_EARLIES, CU_SHIFT_LATES, CU_SHIFT_NIGHTS, CU_SHIFT_OFFICE } cu_shift;
typedef enum cu_classification { CU_CLASS_NONE, CU_CLASS_OFFICIAL, CU_CLASS_OFFICIAL_SENSITIVE, CU_CLASS_SECRET, CU_CLASS_TOP_SECRET } cu_classification;

/* person.flags bits; any bit set puts the person on the protected register. */
enum {
    CU_PF_PROTECTED = 1u << 0, CU_PF_VIP = 1u << 1, CU_PF_WITNESS = 1u << 2, CU_PF_INFORMANT = 1u << 3,
    CU_PF_ACTIVIST = 1u << 4, CU_PF_OFFICER = 1u << 5, CU_PF_DECEASED = 1u << 6, CU_PF_HIGH_PROFILE = 1u << 7,
    CU_PF_OTHER = 1u << 31 /* a flag this version does not know */
};
/* The name of the flag bit (one bit), e.g. "protected". */
const char *cu_person_flag_name(uint32_t bit);

#define CU_TIME_NEVER INT64_MAX  /* an end/closed that is null */

typedef struct cu_relation {
    cu_id person;
    char type[16]; /* self, family, ex-partner, partner, neighbour, associate (other text cut at 15) */
} cu_relation;

typedef struct cu_officer {
    cu_id id, unit, area;
    const char *role;                  /* owned by the cu_ref */
    uint8_t vetting, shift;            /* cu_vetting, cu_shift */
    int64_t vet_granted, vet_expires;  /* 0 / CU_TIME_NEVER when absent */
    int64_t start, end;                /* active from start until end (exclusive; CU_TIME_NEVER) */
    uint32_t nrelations;
    const cu_relation *relations;
    uint64_t line;                     /* reference line (1-based) */
    /* Later lines of the same officer with "valid_from" describe it from
     * that time (transfers, shift bands, vetting): versions chained in
     * valid_from order; cu_ref_officer returns the one in force. */
    int64_t valid_from;                /* INT64_MIN on the first line */
    const struct cu_officer *next;     /* the next version, or NULL */
    /* Optional extra fields (0 when absent): hashes of the officer's own
     * surname and address, compared with persons' (cu_ref_text_hash). */
    uint64_t surname_h, address_h;
} cu_officer;

typedef struct cu_person {
    cu_id id, area;
    uint32_t flags;
    uint64_t line;
    /* Optional extra fields "surname", "address" and "family" as hashes
     * (cu_ref_text_hash; 0 when absent), for detectors that compare them. */
    uint64_t surname_h, address_h, family_h;
} cu_person;

typedef struct cu_record {
    cu_id id, system, area;
    const char *type;
    uint8_t classification;
    uint32_t nsubjects, ncaveats;
    const cu_id *subjects;
    const char *const *caveats;
    uint64_t line;
} cu_record;

typedef struct cu_case {
    cu_id id, area;
    int64_t opened, closed;          /* exists from opened until closed (exclusive) */
    uint32_t nofficers, nsubjects, nrecords;
    const cu_id *officers;           /* assigned at opening */
    const cu_id *subjects, *records; /* sorted ascending */
    uint64_t line;
} cu_case;

typedef struct cu_assign {
    int64_t ts;
    cu_id case_id, officer;
    bool add;
    uint64_t line;
} cu_assign;

/* A vetting register line (kind "vetting", docs/governance.md):
 * {"kind":"vetting","officer":"MP10432","level":"SC","granted":"2020-01-01",
 *  "expires":"2030-01-01","review":"2026-01-01","status":"active"}.
 * The register is authoritative: cu_ref_seal sets each named officer's
 * vetting from their lines (the active one expiring last; none active:
 * CU_VET_NONE), whatever the officer line said. */
typedef enum cu_vet_status { CU_VST_ACTIVE, CU_VST_SUSPENDED, CU_VST_WITHDRAWN, CU_VST_LAPSED } cu_vet_status;
typedef struct cu_vetting_rec {
    cu_id officer;
    uint8_t level;    /* cu_vetting */
    uint8_t status;   /* cu_vet_status */
    int64_t granted, expires, review; /* review 0 when absent */
    uint64_t line;
} cu_vetting_rec;

typedef struct cu_ref cu_ref;

/* A reference context over names (borrowed; must outlive it). */
cu_rc cu_ref_new(cu_names *n, cu_ref **out) CU_NODISCARD;
void cu_ref_free(cu_ref *r);
/* Add one reference line; `line` is its number for later messages. */
cu_rc cu_ref_add_line(cu_ref *r, const char *text, size_t len, uint64_t line) CU_NODISCARD;
/* Read a whole reference file (each line through cu_ref_add_line) and seal. */
cu_rc cu_ref_load(cu_ref *r, const char *path) CU_NODISCARD;
/* Finish loading: check cross references (an assign names a known case),
 * order the time line.  `name` is used in messages (the file).  After
 * sealing, no more lines may be added. */
cu_rc cu_ref_seal(cu_ref *r, const char *name) CU_NODISCARD;

/* Updates of a sealed context (custosd's POST /v1/reference): a line is
 * checked whole (nothing visible changes; a later object of the same kind
 * and id is taken as a replacement, an assign must name a known case,
 * vetting lines are refused), then applied with cu_ref_update_apply (the
 * line last checked OK; one at a time, under the context's one writer).
 * A change whose time is past takes effect at once, a later one joins the
 * time line.  `line` numbers the line for messages. */
cu_rc cu_ref_update_check(cu_ref *r, const char *text, size_t len, uint64_t line) CU_NODISCARD;
cu_rc cu_ref_update_apply(cu_ref *r) CU_NODISCARD;
/* What the line cu_ref_update_apply last applied changed, for copies of
 * the reference kept elsewhere (the store's tables): the kind of object
 * and its id (an assign: its place among cu_ref_get_all's assigns); kind
 * -1 when the last apply changed nothing. */
typedef enum cu_ref_kind {
    CU_REF_OFFICER, CU_REF_PERSON, CU_REF_RECORD, CU_REF_CASE, CU_REF_ASSIGN
} cu_ref_kind;
typedef struct cu_ref_change {
    int kind; /* a cu_ref_kind, or -1 */
    cu_id id;
} cu_ref_change;
void cu_ref_update_last(const cu_ref *r, cu_ref_change *out);
/* The object of that kind and id as cu_ref_get_all lists it (an officer:
 * its first version), or NULL: a cu_officer, cu_person, cu_record,
 * cu_case or cu_assign. */
const void *cu_ref_all_get(const cu_ref *r, cu_ref_kind kind, cu_id id);

/* Move the context's clock to t (t < the current time is CU_ERR_ORDER and
 * changes nothing).  The start time is INT64_MIN: nothing is visible. */
cu_rc cu_ref_advance(cu_ref *r, int64_t t) CU_NODISCARD;
int64_t cu_ref_now(const cu_ref *r);

/* Queries at the current time.  Persons and records have no time: they are
 * visible whenever defined.  Officers and cases only while they exist. */
const cu_person *cu_ref_person(const cu_ref *r, cu_id id);
const cu_record *cu_ref_record(const cu_ref *r, cu_id id);
const cu_officer *cu_ref_officer(const cu_ref *r, cu_id id); /* NULL unless active now */
const cu_case *cu_ref_case(const cu_ref *r, cu_id id);        /* NULL unless open now */
/* Whether officer is assigned to case now (the case may be closed or not yet
 * open: combine with cu_ref_case). */
bool cu_ref_assigned(const cu_ref *r, cu_id case_id, cu_id officer);
/* The cases the officer is assigned to now (open or not); *cases is valid
 * until the next cu_ref_advance. */
size_t cu_ref_officer_cases(const cu_ref *r, cu_id officer, const cu_id **cases);
bool cu_case_links_person(const cu_case *c, cu_id person);
bool cu_case_links_record(const cu_case *c, cu_id record);

/* Everything loaded, regardless of time (for the store and tools). */
typedef struct cu_ref_all {
    size_t nofficers, npersons, nrecords, ncases, nassigns;
    const cu_officer *const *officers;
    const cu_person *const *persons;
    const cu_record *const *records;
    const cu_case *const *cases;
    const cu_assign *assigns; /* in file order */
    size_t nvettings;
    const cu_vetting_rec *vettings; /* in file order */
} cu_ref_all;
void cu_ref_get_all(const cu_ref *r, cu_ref_all *out);
cu_names *cu_ref_names(const cu_ref *r);
/* A 64-bit hash of text for equality tests, case-insensitive for ASCII and
 * blind to leading/trailing spaces; never 0 (0 means absent). */
uint64_t cu_ref_text_hash(const char *s, size_t len);

/* ------------------------------------------------------------- alerts */

#define CU_ALERT_MAX_OFFICERS 16
#define CU_ALERT_MAX_SUBJECTS 64
#define CU_ALERT_MAX_EVENTS 64
#define CU_ALERT_MAX_REASONS 8
#define CU_ALERT_REASON_LEN 256
#define CU_ALERT_KIND_LEN 32

typedef struct cu_alert {
    uint64_t num;               /* the id is "A<num>"; set by the scorer */
    int64_t raised_at;          /* event time of the last event read */
    int64_t first_event, last_event;
    double score;               /* [0, 1] */
    char kind[CU_ALERT_KIND_LEN];
    uint32_t nofficers, nsubjects, nevents, nreasons;
    cu_id officers[CU_ALERT_MAX_OFFICERS];
    cu_id subjects[CU_ALERT_MAX_SUBJECTS];
    char events[CU_ALERT_MAX_EVENTS][CU_ID_MAX_LEN + 1];
    char reasons[CU_ALERT_MAX_REASONS][CU_ALERT_REASON_LEN];
} cu_alert;

void cu_alert_clear(cu_alert *a);
/* Builders that keep the limits (a list full: the item is dropped, which
 * the alert says in its last reason). */
void cu_alert_add_officer(cu_alert *a, cu_id officer);
void cu_alert_add_subject(cu_alert *a, cu_id person);
void cu_alert_add_event(cu_alert *a, const char *event_id, int64_t ts);
void cu_alert_add_reason(cu_alert *a, const char *fmt, ...) CU_PRINTF(2, 3);
/* Append the alert as one interchange JSON line (with '\n'). */
cu_rc cu_alert_write(const cu_names *n, const cu_alert *a, cu_buf *out) CU_NODISCARD;

/* ------------------------------------------------------- JSON writing */

/* Append s as a JSON string (quotes and escapes) to out. */
cu_rc cu_json_put_str(cu_buf *out, const char *s, size_t len) CU_NODISCARD;

#endif /* CUSTOS_EVENT_H */
