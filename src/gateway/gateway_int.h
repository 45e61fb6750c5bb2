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

/* One version of the reference data, as Cedar entities. */
typedef struct gw_snap {
    atomic_uint refs;
    uint64_t version;
    cu_policy_entities *ents;
    cu_arena *arena;          /* map keys, system names */
    gw_map officers;          /* id -> 0 */
    gw_map records;           /* id -> index into systems */
    gw_map cases;             /* id -> 0 */
    const char **systems;     /* distinct system names */
    uint32_t nsystems, capsystems;
    char *text;               /* the accepted JSON Lines this version was built from */
    size_t text_len;
} gw_snap;

/* Build a snapshot from JSON Lines text.  Bad lines: with report NULL the
 * build fails on the first one ("NAME:LINE: ..."); otherwise each is
 * reported and skipped.  *out has one reference. */
cu_rc gw_snap_build(const char *text, size_t len, const char *name, cu_buf *report, size_t *accepted,
                    gw_snap **out) CU_NODISCARD;
/* An empty snapshot (version 0). */
cu_rc gw_snap_empty(gw_snap **out) CU_NODISCARD;
void gw_snap_release(gw_snap *s);

/* For the benchmark: a snapshot around an entity store built elsewhere
 * (takes ownership of ents); officers, records and cases maps filled by the
 * caller through gw_snap_note_* . */
cu_rc gw_snap_wrap(cu_policy_entities *ents, gw_snap **out) CU_NODISCARD;
cu_rc gw_snap_note(gw_snap *s, int kind, const char *id, const char *system) CU_NODISCARD;
enum { GW_OFFICER, GW_RECORD, GW_CASE };

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
    uint8_t hash[CU_SHA256_LEN];
    bool reviewer;
};

#define GW_LAT_BUCKETS 14

struct cu_gateway {
    cu_policy_set *set;
    gw_map pol_index;         /* policy id -> index in set */
    cu_arena *arena;          /* pol_index keys */
    bool *emergency;          /* per policy: @tier("emergency") */
    const char **reason;      /* per policy: @reason or NULL */
    cu_gateway_audit audit;
    cu_gateway_live_fn live;
    void *live_ud;
    bool allow_on_error;
    size_t scratch_size;

    pthread_mutex_t lock;     /* snap, tokens, bg */
    gw_snap *snap;
    uint64_t next_version;
    pthread_mutex_t update_lock; /* one reference update at a time */

    struct gw_token *tokens;
    size_t ntokens;

    struct gw_bg *bg;
    size_t nbg, capbg;

    /* metrics */
    atomic_ullong n_allow, n_deny, n_bga, n_breakglass, n_flagged, n_audit_fail;
    atomic_ullong n_http_400, n_http_401, n_http_404, n_http_413, n_http_other;
    atomic_ullong n_ref_updates, n_reviews;
    atomic_ullong lat[GW_LAT_BUCKETS + 1];
    atomic_ullong lat_sum_ns, lat_count;
};

gw_snap *gw_acquire(cu_gateway *g);

/* JSON string escaping into a bounded buffer (no allocation beyond b). */
cu_rc gw_json_str(cu_buf *b, const char *s) CU_NODISCARD;

#endif
