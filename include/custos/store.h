/*
 * custos store: the SQLite database beside the ledger (WAL mode).  It holds
 * the interned names, the reference data with its history (assignments over
 * time), an index of events by officer, person, record, case and time, and
 * the alerts.
 *
 * The ledger is the record; the store is an index of it.  Each batch of
 * events is written in one transaction together with the ledger size it
 * brings the index to (cu_store_indexed), so after a crash the store is at
 * a batch boundary and the pipeline re-indexes the ledger entries after it
 * (see docs/store.md).  Stored name numbers equal the in-memory interned ids
 * (cu_store_load_names interns them first, in order), so the event tables
 * hold plain integers.
 *
 * Event index order: ledger index order is time order (the pipeline only
 * appends events in time order), so "by time" is "by ledger index".
 *
 * One caller: a cu_store is used by one thread at a time.  That thread may
 * hand the writing of batches to the store's own writer thread
 * (cu_store_writer_start); the store then serialises its use of the
 * database itself.
 */
#ifndef CUSTOS_STORE_H
#define CUSTOS_STORE_H

#include "custos/event.h"

#define CU_STORE_SCHEMA_VERSION 3
/* Events are grouped in windows of 2^CU_STORE_WIN_BITS ledger indexes; the
 * key tables are postings (post_officer, post_record, post_case,
 * post_subject: one row per key, window and written group, its indexes as
 * a JSON array of offsets in the window, or a single offset in lo alone),
 * ordered by (window, key, first)
 * so that indexing appends, and read through the views event_officer,
 * event_record, event_case, event_subject (win, key, idx)
 * (docs/store.md).  Schema 3; a version-2 store is migrated at open. */
#define CU_STORE_WIN_BITS 16

typedef struct cu_store cu_store;

/* Open or create the database at path.  A database with another schema
 * version is refused (CU_ERR_UNSUPPORTED); the message says how to rebuild
 * an older one from the ledger. */
cu_rc cu_store_open(const char *path, cu_store **out) CU_NODISCARD;
void cu_store_close(cu_store *s);
int cu_store_schema_version(cu_store *s);

/* Intern every stored name into n, in stored order, so that ids agree.  n
 * must be empty (or already agree): a disagreement is CU_ERR_CORRUPT. */
cu_rc cu_store_load_names(cu_store *s, cu_names *n) CU_NODISCARD;
/* Store the names of n not yet stored, up to counts[k] per kind (NULL: all),
 * in their own transaction: committed when this returns. */
cu_rc cu_store_sync_names(cu_store *s, const cu_names *n, const uint32_t *counts) CU_NODISCARD;

/* Commit the person names of n not yet stored, up to counts[CU_K_PERSON]
 * (NULL: all), and remember n: the other names a batch's events use are
 * written in the batch's own transaction (their strings are in the ledger
 * entries; people are only commitments there, so theirs must be stored
 * before the append, see docs/pipeline.md).  Quick when there are none. */
cu_rc cu_store_sync_people(cu_store *s, const cu_names *n, const uint32_t *counts) CU_NODISCARD;

/* Replace the stored reference data with ref's (one transaction).  With
 * the writer thread on, this is the writer's next job and returns at once
 * (ref must stay alive and sealed until cu_store_wait or close). */
cu_rc cu_store_put_reference(cu_store *s, const cu_ref *ref) CU_NODISCARD;
/* Bring the stored reference data up to ref after updates (custosd's POST
 * /v1/reference): only the objects the changes name (cu_ref_update_last
 * after each applied line) are rewritten, in one transaction, giving the
 * rows cu_store_put_reference would.  With the writer thread on, the
 * whole rewrite instead. */
cu_rc cu_store_put_reference_changes(cu_store *s, const cu_ref *ref, const cu_ref_change *ch, size_t n) CU_NODISCARD;

/* Batches: begin, add events (idx = ledger index), commit with the ledger
 * size the index now reaches.  A failed batch is rolled back whole.  A
 * batch is gathered in memory and written at commit (one transaction,
 * multi-row inserts); add_* copy what they need, so the caller's events
 * and alerts may be reused as soon as they return. */
cu_rc cu_store_begin(cu_store *s) CU_NODISCARD;
cu_rc cu_store_add_event(cu_store *s, uint64_t idx, const cu_event *ev) CU_NODISCARD;
cu_rc cu_store_add_alert(cu_store *s, const cu_names *n, const cu_alert *a) CU_NODISCARD;
cu_rc cu_store_commit(cu_store *s, uint64_t indexed) CU_NODISCARD;
void cu_store_rollback(cu_store *s);

/* Writer thread: from now on cu_store_commit hands the batch to the
 * store's own thread and returns at once (it waits only while the batch
 * before is still being written); batches are written in commit order.
 * The writer writes batches several at a time (one transaction: the index
 * advances by whole groups).
 * cu_store_sync_names still returns only once the names are committed
 * (they are written before any batch still waiting).  Every other call
 * first waits until the writer is idle.  A failed write is returned by
 * every later call (cu_store_commit, cu_store_wait, queries...); its batch
 * is not indexed and the next start re-indexes it from the ledger.
 * cu_store_close writes what was handed over, then stops the thread. */
cu_rc cu_store_writer_start(cu_store *s) CU_NODISCARD;
/* Wait until everything handed to the writer is written; its result. */
cu_rc cu_store_wait(cu_store *s) CU_NODISCARD;
/* Time spent writing batches and names (ns, for benchmarks). */
uint64_t cu_store_write_ns(cu_store *s);

/* Inside a batch's transaction: entries [lo, hi] (inclusive) became durable
 * at wall-clock second `at` (the program's clock; the store reads none). */
cu_rc cu_store_add_ingest(cu_store *s, uint64_t lo, uint64_t hi, int64_t at) CU_NODISCARD;
/* When entry idx was ingested; CU_ERR_NOTFOUND when no time was recorded
 * (indexed before ingest times were kept, or re-indexed by recovery). */
cu_rc cu_store_ingested_at(cu_store *s, uint64_t idx, int64_t *at) CU_NODISCARD;

/* Ledger entries [0, indexed) are in the index. */
uint64_t cu_store_indexed(cu_store *s);
/* The number the next alert gets (1 for a new store). */
uint64_t cu_store_next_alert(cu_store *s);
/* Drop every indexed event and alert (to rebuild from the ledger). */
cu_rc cu_store_clear_events(cu_store *s) CU_NODISCARD;

/* Bulk loading (replay).  Since schema version 2 the key tables are
 * appended batch by batch and nothing is rebuilt at the end, so these only
 * mark the mode (kept so callers need not change). */
cu_rc cu_store_bulk_begin(cu_store *s) CU_NODISCARD;
cu_rc cu_store_bulk_end(cu_store *s) CU_NODISCARD;

/* ------------------------------------------------------------ queries */

typedef struct cu_store_access {
    uint64_t idx;
    int64_t ts;
    const char *event_id, *officer, *action, *record, *case_id, *system, *purpose; /* NULL when none */
    bool allowed;
} cu_store_access;
typedef cu_rc (*cu_store_access_fn)(void *ud, const cu_store_access *a);

/* Who looked at this person: every indexed event listing them, in time
 * order.  An unknown person yields nothing. */
cu_rc cu_store_person_accesses(cu_store *s, const char *person, cu_store_access_fn fn, void *ud) CU_NODISCARD;
/* An officer's timeline between from and to (inclusive), in time order. */
cu_rc cu_store_officer_timeline(cu_store *s, const char *officer, int64_t from, int64_t to, cu_store_access_fn fn,
                                void *ud) CU_NODISCARD;
/* Events on a record / citing a case, in time order. */
cu_rc cu_store_record_accesses(cu_store *s, const char *record, cu_store_access_fn fn, void *ud) CU_NODISCARD;
cu_rc cu_store_case_accesses(cu_store *s, const char *case_id, cu_store_access_fn fn, void *ud) CU_NODISCARD;

/* Cases the officer was assigned to at time t, from the assignment history
 * (whether or not open). fn gets each case id. */
typedef cu_rc (*cu_store_name_fn)(void *ud, const char *name);
cu_rc cu_store_officer_cases_at(cu_store *s, const char *officer, int64_t t, cu_store_name_fn fn, void *ud) CU_NODISCARD;

/* Alerts naming this officer or person (as stored JSON lines). */
cu_rc cu_store_alerts_for(cu_store *s, cu_idkind k, const char *id, cu_store_name_fn fn, void *ud) CU_NODISCARD;

/* The id of the newest indexed event whose id starts with prefix (into out,
 * cap bytes); CU_ERR_NOTFOUND when none.  Found newest first: quick when
 * such events are recent, a scan of the index when there is none. */
cu_rc cu_store_last_eid_with_prefix(cu_store *s, const char *prefix, char *out, size_t cap) CU_NODISCARD;

/* Alerts by filter (GET /v1/alerts): raised at or after `since`, score at
 * least `min_score`, of `kind` and naming `officer` when those are set;
 * the latest raised first, at most `limit` (0: 100).  fn gets each stored
 * JSON line (the latest state of each alert id). */
typedef struct cu_store_alert_query {
    int64_t since;       /* INT64_MIN: any time */
    double min_score;    /* 0: any */
    const char *kind;    /* NULL: any */
    const char *officer; /* NULL: any */
    uint32_t limit;
} cu_store_alert_query;
cu_rc cu_store_alerts_query(cu_store *s, const cu_store_alert_query *q, cu_store_name_fn fn, void *ud) CU_NODISCARD;

/* Counts for checks and tools: table is "event", "event_subject", "alert". */
cu_rc cu_store_count(cu_store *s, const char *table, uint64_t *out) CU_NODISCARD;

#endif /* CUSTOS_STORE_H */
