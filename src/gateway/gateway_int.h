/*
 * Internal types of the gateway module, shared by the files of src/gateway/ (and by the
 * benchmark, which builds snapshots without JSON).
 *
 * Invariants
 * 1. A snapshot is immutable once published; readers hold a reference taken
 *    under g->lock and release it when their decision is done.
 * 2. Every id in a snapshot's maps points into the snapshot's arena.
 */
#ifndef CU_GATEWAY_INT_H
#define CU_GATEWAY_INT_H

#include "custos/gateway.h"
#include "custos/policy.h"

#include <pthread.h>
#include <stdatomic.h>

/* A string -> uint32 map with open addressing; keys live in an arena. */
typedef struct gw_map {
    const char **keys;
    uint32_t *vals;
    size_t cap, count;
} gw_map;

cu_rc gw_map_put(gw_map *m, cu_arena *a, const char *key, uint32_t val) CU_NODISCARD;
bool gw_map_get(const gw_map *m, const char *key, uint32_t *val);
void gw_map_free(gw_map *m);

/* ------------------------------------------------ the reference store */

#define GW_MAX_ATOMS 65535     /* distinct attribute values (16 bits in a record) */
#define GW_MAX_SET 64          /* strings in one caveat or flag set */
#define GW_MAX_LIST 4096       /* people, officers or records in one list */
#define GW_LIST_ONE 0x80000000u

typedef uint32_t gw_list;      /* store.c, note 3 */

typedef struct gw_tab {
    uint32_t *slots;           /* item index + 1 and a hash tag (store.c, tab_find_h); 0 empty */
    size_t cap, count;
} gw_tab;

/* Each struct starts with the pool offset of its id (the hash key). */
typedef struct gw_setatom {
    uint32_t key;
    gw_list members;           /* atoms, sorted */
} gw_setatom;

typedef struct gw_officer {
    uint32_t id;
    uint32_t role, unit, area, vetting;   /* atoms; vetting "NONE" when absent */
    uint32_t caveats;                     /* set atom */
    gw_list relations;                    /* persons */
    bool defined;
    int64_t granted, expires, start, end;
} gw_officer;

typedef struct gw_person {
    uint32_t id;
    uint32_t area;             /* atom */
    uint32_t flags;            /* set atom */
    bool defined;
} gw_person;

typedef struct gw_case {
    uint32_t id;
    uint32_t area;             /* atom */
    gw_list officers;          /* assigned from the start (the case line) */
    gw_list subjects;          /* persons */
    gw_list records;
    bool defined;
    int64_t opened, closed;
} gw_case;

typedef struct gw_record {
    uint32_t id;
    uint16_t type, system, area, cls;     /* atoms */
    uint32_t caveats;                     /* set atom */
    gw_list subjects;                     /* persons */
    uint8_t defined, live;
} gw_record;

typedef struct gw_assign {     /* an assign line, folded by time in snap.c */
    uint32_t case_idx, officer, seq;
    bool add;
    int64_t ts;
} gw_assign;

typedef struct gw_store {
    bool is_clone;             /* made by gw_store_clone (an update): snap.c's huge pages */
    char *pool;                /* store.c, note 1 */
    size_t pool_len, pool_cap;
    uint32_t *atoms;           /* atom -> pool offset */
    size_t natoms, capatoms;
    gw_setatom *sets;
    size_t nsets, capsets;
    uint32_t *lists;
    size_t lists_len, caplists;
    gw_officer *officers;
    size_t nofficers, capofficers;
    gw_person *persons;
    size_t npersons, cappersons;
    gw_case *cases;
    size_t ncases, capcases;
    gw_record *records;
    size_t nrecords, caprecords;
    gw_assign *assigns;
    size_t nassigns, capassigns;
    gw_tab atom_tab, set_tab, officer_tab, person_tab, case_tab, record_tab;
} gw_store;

enum { GW_OFFICER, GW_RECORD, GW_CASE, GW_PERSON };

cu_rc gw_store_new(gw_store **out) CU_NODISCARD;
cu_rc gw_store_clone(const gw_store *src, gw_store **out) CU_NODISCARD;
void gw_store_free(gw_store *s);
size_t gw_store_bytes(const gw_store *s);
/* Give back the room kept for growth (a snapshot's store grows no more). */
void gw_store_trim(gw_store *s);
size_t gw_str_len(const gw_store *s, uint32_t off);
static inline const char *gw_str(const gw_store *s, uint32_t off) { return s->pool + off; }
cu_rc gw_atom(gw_store *s, const char *str, size_t n, uint32_t *out) CU_NODISCARD;
cu_rc gw_set_atom(gw_store *s, const char *const *items, const size_t *lens, size_t n, uint32_t *out) CU_NODISCARD;
cu_rc gw_list_make(gw_store *s, const uint32_t *items, size_t n, gw_list *out) CU_NODISCARD;
/* The items of l: *items points into the store (or at *one). */
size_t gw_list_items(const gw_store *s, gw_list l, const uint32_t **items, uint32_t *one);
/* Find or add an id (added undefined). */
cu_rc gw_officer_id(gw_store *s, const char *id, size_t n, uint32_t *out) CU_NODISCARD;
cu_rc gw_person_id(gw_store *s, const char *id, size_t n, uint32_t *out) CU_NODISCARD;
cu_rc gw_case_id(gw_store *s, const char *id, size_t n, uint32_t *out) CU_NODISCARD;
cu_rc gw_record_id(gw_store *s, const char *id, size_t n, uint32_t *out) CU_NODISCARD;
/* A defined object of kind (GW_PERSON: any mentioned person). */
bool gw_find(const gw_store *s, int kind, const char *id, size_t n, uint32_t *idx);
/* The same in steps, so that a decision can start the memory reads of its
 * three look-ups at once: the id's hash, a prefetch of its table slot, and
 * the look-up with the hash. */
uint64_t gw_id_hash(const char *id, size_t n);
void gw_prefetch_id(const gw_store *s, int kind, uint64_t h);
bool gw_find_h(const gw_store *s, int kind, const char *id, size_t n, uint64_t h, uint32_t *idx);
cu_rc gw_put_assign(gw_store *s, uint32_t case_idx, uint32_t officer, int64_t ts, bool add) CU_NODISCARD;

/* Take one reference line (JSON text) into the store: checked whole before
 * anything changes (a bad line changes nothing but, possibly, interned
 * strings).  CU_ERR_PARSE and friends with a detail. */
cu_rc gw_store_line(gw_store *s, const char *line, size_t n) CU_NODISCARD;

/* ------------------------------------------------------------ snapshots */

typedef struct gw_interval {   /* an officer assigned to a case over [from, until) */
    uint32_t officer;
    int64_t from, until;
} gw_interval;

/* One version of the reference data: the store (owned, immutable from
 * now on) and what decisions need prebuilt. */
/* A policy pack in force: the parsed set and what the gateway derives
 * from it once.  Immutable once made; shared (counted) by the snapshots
 * made while it is in force, so a decision reads the set, the officers'
 * memos of it and its tiers from one snapshot and never mixes two packs. */
typedef struct gw_pack {
    atomic_uint refs;
    uint64_t version;              /* 1: the pack the gateway was made with */
    uint8_t hash[CU_SHA256_LEN];   /* SHA-256 of the pack's text */
    cu_policy_set *set;
    cu_policy_split *split;        /* break_glass: both tiers in one pass */
    cu_policy_entity *act_ent[8];  /* the actions, as sealed local entities */
    struct gw_pack *retired;       /* (the gateway's list of packs put out of force) */
    gw_map pol_index;              /* policy id -> index in set */
    cu_arena *arena;               /* pol_index keys, the actions */
    bool *emergency;               /* per policy: @tier("emergency") */
    const char **reason;           /* per policy: @reason or NULL */
    /* The record fields that the pack's guards on the resource alone read
     * (GW_RK_*), when they read no other attribute: requests then carry a
     * resource class key made of those (cu_policy_request_resource_key);
     * rk_ok false: no key. */
    uint8_t rk_fields;
    bool rk_ok;
    bool dm_ok;                    /* its decisions may be memoised (memo.c, gw_dm_pack_ok) */
} gw_pack;

enum { GW_RK_CLS = 1, GW_RK_TYPE = 2, GW_RK_SYSTEM = 4, GW_RK_AREA = 8, GW_RK_LIVE = 16, GW_RK_PROT = 32 };

void gw_pack_release(gw_pack *p);

typedef struct gw_snap {
    atomic_uint refs;
    uint64_t version;
    uint64_t serial;                     /* unique in the process (from 1): the resource keys' domain */
    gw_pack *pack;                       /* the policies its memos were made for (a reference) */
    gw_store *st;
    cu_arena *arena;                     /* everything below */
    const cu_policy_value **atom_val;    /* per atom: a String value */
    const cu_policy_value **set_val;     /* per set atom: a Set<String> value */
    const cu_policy_value **sys_val;     /* per atom: System::"<atom>" (a record's parent) */
    const cu_policy_value *bool_val[2];  /* false, true */
    bool *set_nonempty;
    cu_policy_entity **off_ent;          /* per officer: sealed local entity (NULL: undefined) */
    const cu_policy_value **off_val;     /* per officer: its uid as a value (a case's officers) */
    uint32_t *rec_case_start;            /* per record: its cases are rec_cases[start[r]..start[r+1]) */
    uint32_t *rec_cases;
    uint32_t *case_iv_start;             /* per case: ivs[start[c]..start[c+1]) */
    gw_interval *ivs;
    uint32_t *off_class;                 /* per officer: its class for the decision memo (memo.c; NULL: none) */
    size_t bytes;                        /* what the derived parts take */
} gw_snap;

/* Make a snapshot of store st (taken over, freed with the snapshot even on
 * failure).  *out has one reference. */
cu_rc gw_snap_make(gw_store *st, gw_snap **out) CU_NODISCARD;
/* An empty snapshot (version 0). */
cu_rc gw_snap_empty(gw_snap **out) CU_NODISCARD;
void gw_snap_release(gw_snap *s);
/* Read JSON Lines into st.  Bad lines: with report NULL the read fails on
 * the first ("NAME:LINE: ..."); otherwise each is reported, one a line, and
 * skipped.  *accepted counts the lines taken. */
cu_rc gw_store_read(gw_store *st, const char *text, size_t len, const char *name, cu_buf *report,
                    size_t *accepted) CU_NODISCARD;
/* As gw_store_read, each line also judged and applied by peer (may be NULL). */
cu_rc gw_store_read_peer(gw_store *st, const char *text, size_t len, const char *name,
                         const cu_gateway_ref_peer *peer, cu_buf *report, size_t *accepted) CU_NODISCARD;

/* Per decision, in the scratch arena: the record's entity (parents: the
 * cases that link it) and a case's entity as of now (officers: those
 * assigned at now).  NULL when the arena is full.  kc, kcv: a case already
 * built for this decision and its uid value (the stated case, usually one
 * of the record's parents: its uid is not made again); UINT32_MAX, NULL:
 * none.  *protected_out: the record's `protected` (a person of it on the
 * protected-person register). */
cu_policy_entity *gw_record_entity(const gw_snap *s, uint32_t r, uint32_t kc, const cu_policy_value *kcv,
                                   cu_arena *a, bool *protected_out);
cu_policy_entity *gw_case_entity(const gw_snap *s, uint32_t c, int64_t now, cu_arena *a);

/* Start the memory reads a decision will make (officer entity, the
 * record's cases and people, the case's assignments) so that their cache
 * misses overlap instead of following one another.  Only a hint. */
void gw_prefetch_decision(const gw_snap *s, uint32_t oi, bool rec, uint32_t ri, bool cs, uint32_t ci, bool ent);
/* The officer's entity and memo: what gw_prefetch_decision leaves out
 * without ent (a decision the memo may answer reads neither, nor the
 * people's ids), for when the memo missed. */
void gw_prefetch_officer(const gw_snap *s, uint32_t oi);

/* The decision memo (memo.c): per thread, the engine's two answers for a
 * record request's abstraction (its key: GW_DM_WORDS words), valid under
 * one snapshot.  gw_dm_key_make is false for a request it cannot key (more
 * than 16 distinct people in a list, 63 purposes seen);
 * cstate: 0 no case stated, 1 stated but unknown, 2 known (ci).  gw_dm_get
 * fills ans (arrays in a) on a hit; gw_dm_put keeps answers without errors. */
#define GW_DM_WORDS 6
typedef struct gw_dm gw_dm;
gw_dm *gw_dm_new(void);
void gw_dm_free(gw_dm *m);
bool gw_dm_pack_ok(const cu_policy_set *set);
bool gw_dm_key_make(gw_dm *m, const gw_snap *s, size_t ai, const char *purpose, size_t plen, int64_t now,
                    uint32_t oi, uint32_t ri, int cstate, uint32_t ci, uint64_t k[GW_DM_WORDS]);
bool gw_dm_get(gw_dm *m, const gw_snap *s, const uint64_t k[GW_DM_WORDS], cu_arena *a, cu_policy_answer ans[2]);
void gw_dm_put(gw_dm *m, const gw_snap *s, const uint64_t k[GW_DM_WORDS], const cu_policy_answer ans[2]);
void gw_dm_counts(const gw_dm *m, uint64_t *hits, uint64_t *misses);
/* s->off_class for s's pack (when a snapshot is published; none when out
 * of memory: the memo then keys on the officers' own attributes). */
void gw_dm_classes(gw_snap *s);
/* This thread's memo (NULL before its first decision). */
gw_dm *gw_dm_thread(void);

/* Publish snapshot s as the gateway's current one (takes the reference). */
void gw_publish(cu_gateway *g, gw_snap *s);
/* Publish s as the version steps updates after the current one (the
 * updates of a batch, published together). */
void gw_publish_n(cu_gateway *g, gw_snap *s, uint64_t steps);

struct gw_bg {               /* an open break-glass use */
    uint64_t id;             /* the ledger index of the decision */
    int64_t ts, due;
    char officer[CU_GATEWAY_MAX_ID + 1];
    char record[CU_GATEWAY_MAX_ID + 1];
    char system[CU_GATEWAY_MAX_ID + 1];
    char caller[CU_GATEWAY_MAX_ID + 1];
    char *justification;
};

struct gw_token {
    char name[CU_GATEWAY_MAX_ID + 1];
    uint8_t hash[CU_SHA256_LEN]; /* of the token, or of the certificate (cert) */
    bool reviewer;
    bool cert; /* a `cert` line: matched on a verified client certificate */
};

#define GW_LAT_BUCKETS 14

struct cu_gateway {
    gw_pack *pack;            /* the pack in force (new snapshots take it); under update_lock */
    gw_pack *retired;         /* packs put out of force, kept until the gateway is freed */
    cu_gateway_audit audit;
    cu_gateway_ref_peer ref_peer; /* POST /v1/reference also feeds it (check NULL: none) */
    cu_gateway_live_fn live;
    void *live_ud;
    bool allow_on_error;
    bool rk_off;              /* tests: no resource class keys (the general path) */
    bool dm_off;              /* tests and benchmarks: no decision memo (memo.c) */
    size_t scratch_size;

    pthread_mutex_t lock;     /* snap, tokens, bg */
    gw_snap *snap;
    uint64_t next_version;
    pthread_mutex_t update_lock; /* one reference update at a time */

    struct gw_token *tokens;
    size_t ntokens;

    struct gw_bg *bg;
    size_t nbg, capbg;

    pthread_mutex_t apool_mu;  /* free list of asynchronous decision contexts */
    struct gw_async *apool;

    /* metrics */
    atomic_ullong n_allow, n_deny, n_bga, n_breakglass, n_flagged, n_audit_fail;
    atomic_ullong n_http_400, n_http_401, n_http_404, n_http_413, n_http_other;
    atomic_ullong n_ref_updates, n_reviews;
    atomic_ullong n_pack_changes, n_pack_refused;
    cu_gateway_metrics_fn metrics_more; /* more /metrics lines (the HTTP server's), or NULL */
    void *metrics_more_ud;
    atomic_ullong lat[GW_LAT_BUCKETS + 1];
    atomic_ullong lat_sum_ns, lat_count;
};

gw_snap *gw_acquire(cu_gateway *g);

/* The asynchronous decision (gateway.c): decide, render the answer's head
 * into out, call df->hold, submit the entry; the ledger's completion
 * finishes out and *status and calls df->answer.  *deferred says whether
 * hold was called (then the answer comes through df->answer, even on a
 * refused submit).  An error (CU_ERR_INVAL for a bad request) comes back
 * before hold, with nothing logged. */
struct cu_gateway_defer;
cu_rc gw_decide_async(cu_gateway *g, const cu_gateway_request *r, int *status, cu_buf *out,
                      const struct cu_gateway_defer *df, bool *deferred) CU_NODISCARD;
void gw_async_pool_free(cu_gateway *g);

/* cu_gateway_decide with the decision's time put into the latency
 * histogram of /metrics (the HTTP layer's synchronous decisions; the
 * asynchronous ones are timed to their ledger commit).  cu_gateway_decide
 * itself reads no clock: an in-process caller times its own. */
cu_rc gw_decide_timed(cu_gateway *g, const cu_gateway_request *r, cu_gateway_decision *d) CU_NODISCARD;

/* JSON string escaping into a bounded buffer (no allocation beyond b). */
cu_rc gw_json_str(cu_buf *b, const char *s) CU_NODISCARD;

#endif
