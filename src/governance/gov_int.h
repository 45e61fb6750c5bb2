/* Private parts of the governance module: the handle, the in-memory copy
 * that cu_gov_effective_get reads, and the action frame every change goes
 * through (transaction, history row, ledger append, commit). */
#ifndef CUSTOS_GOV_INT_H
#define CUSTOS_GOV_INT_H

#include "custos/governance.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>

#define GOV_DAY 86400
#define GOV_ACTOR_DETECT "custos-detect"

struct gclr {
    uint8_t level, status;
    int64_t granted, expires, review;
};

struct gent {
    int64_t id;
    char system[CU_GOV_MAX_ID + 1], caveat[CU_GOV_MAX_ID + 1];
    uint8_t requires;
    bool sensitive;
    int64_t lapse_at; /* deadline of an open campaign holding it unconfirmed, or INT64_MAX */
};

struct grev {
    int64_t id;
    char kind[24];
};

/* One person's state as cu_gov_effective_get needs it. */
struct goff {
    char id[CU_GOV_MAX_ID + 1];
    bool stale; /* a refresh failed after a change: treat as no access */
    bool managed; /* holds entitlement rows of any status */
    bool placeholder; /* reserved before a commit, not loaded yet: reads as unknown */
    uint32_t nclr, nent, nrev;
    struct gclr *clr;
    struct gent *ent;
    struct grev *rev; /* open restricting reviews */
};

struct cu_gov {
    sqlite3 *db;
    cu_gov_audit audit;
    pthread_mutex_t mu;     /* actions: one at a time on the connection */
    pthread_rwlock_t lock;  /* the cache */
    struct goff **tab;      /* open addressing by officer id */
    size_t cap, count;
    cu_buf entry;           /* ledger entry scratch */
};

/* An action: what the ledger entry and the main history row say. */
struct gov_act {
    const char *action, *actor, *officer, *object, *reason;
    json_t *detail; /* owned by the caller; may be NULL */
    int64_t now;
};

/* db helpers (gov.c) */
cu_rc gov_sqlerr(cu_gov *g, const char *what);
cu_rc gov_exec(cu_gov *g, const char *sql);
cu_rc gov_prep(cu_gov *g, sqlite3_stmt **st, const char *sql);
void gov_bind_text(sqlite3_stmt *st, int i, const char *s);   /* NULL or "" -> NULL */
void gov_bind_time(sqlite3_stmt *st, int i, int64_t t);       /* 0 -> NULL */
int64_t gov_col_time(sqlite3_stmt *st, int i, int64_t dflt);  /* NULL -> dflt */
const char *gov_col_text(sqlite3_stmt *st, int i);            /* NULL -> "" */
cu_rc gov_step_done(cu_gov *g, sqlite3_stmt *st, const char *what);

/* the action frame (gov.c) */
cu_rc gov_begin(cu_gov *g);
/* A history row inside the current transaction. */
cu_rc gov_history(cu_gov *g, int64_t now, const char *actor, const char *officer, const char *action,
                  const char *object, const char *reason, const json_t *detail, int64_t *seq);
/* Main history row, ledger append, commit.  On error the caller calls gov_end(g, rc). */
cu_rc gov_finish(cu_gov *g, const struct gov_act *a);
/* Rolls back when rc != CU_OK (after gov_finish's commit it is a no-op), unlocks. */
void gov_end(cu_gov *g, cu_rc rc);

/* checks (gov.c) */
cu_rc gov_check_id(const char *what, const char *s);
cu_rc gov_check_text(const char *what, const char *s, bool required);
cu_rc gov_not_self(const char *actor, const char *officer, const char *what);

/* cache (gov_cache.c); called with g->mu held */
cu_rc gov_cache_refresh(cu_gov *g, const char *officer);
/* Make sure officer has an entry (a placeholder reading as unknown), so that
 * a refresh after the commit can always at least mark it stale.  Called
 * before the commit: failing, the action fails. */
cu_rc gov_cache_reserve(cu_gov *g, const char *officer);
cu_rc gov_cache_refresh_all(cu_gov *g);
void gov_cache_free(cu_gov *g);

/* time text for JSON: "YYYY-MM-DD" when midnight, RFC 3339 otherwise */
void gov_time_text(int64_t t, char out[21]);
json_t *gov_json_time(int64_t t); /* 0 / INT64_MAX -> null */
/* Parse a date or RFC 3339 time. */
cu_rc gov_parse_time(const char *s, int64_t *out) CU_NODISCARD;

#endif
