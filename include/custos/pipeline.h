/*
 * custos pipeline: the one path every event takes, used by `custos replay`
 * and by custosd:
 *
 *   ordering check -> batch -> durable append (ledger, group commit)
 *                  -> store (index) -> reference clock -> detectors -> alerts
 *
 * Fail closed: the store and the detectors see an event only after the
 * durable append of its batch has returned.  A batch is checked whole
 * before anything of it is written (time order, against the last event
 * accepted): a bad batch changes nothing.
 *
 * The durable log is reached through a small sink interface (cu_sink) so the
 * ledger (or, in tests, anything else) slots in.  A data directory holds the
 * log and the store (store.db) side by side; opening it re-indexes any
 * durable entries the store had not indexed yet (crash recovery, see
 * docs/pipeline.md).
 *
 * Threads: a cu_pipeline is used by one thread at a time (custosd holds a
 * mutex around it).  cu_replay_run parses on a second thread while the
 * pipeline runs on the calling one.
 */
#ifndef CUSTOS_PIPELINE_H
#define CUSTOS_PIPELINE_H

#include "custos/detect.h"
#include "custos/event.h"
#include "custos/store.h"

/* ------------------------------------------------------------- sink */

/* The durable log.  append_many returns only when every entry is durable,
 * with the index of the first; entries are numbered 0, 1, 2, ... */
typedef struct cu_sink_ops {
    const char *name;
    cu_rc (*append_many)(void *ctx, const void *const *entries, const size_t *lens, size_t n, uint64_t *first_index);
    uint64_t (*size)(void *ctx);
    cu_rc (*read_entry)(void *ctx, uint64_t index, cu_buf *out);
    const uint8_t *(*commit_secret)(void *ctx); /* 32 bytes for the people commitments */
    void (*close)(void *ctx);
} cu_sink_ops;

typedef struct cu_sink {
    const cu_sink_ops *ops;
    void *ctx;
} cu_sink;

/* The default sink: the custos ledger in DIR/ledger (created with its own
 * signing key when missing; a checkpoint is published when it closes). */
cu_rc cu_sink_ledger_open(const char *dir, cu_sink *out) CU_NODISCARD;
/* One ledger per data directory, shared (custosd): open DIR/ledger for
 * writing, created with its own signing key when missing, with the given
 * commit period (cu_ledger_opts.commit_period_us; 0: the default); the caller closes
 * it (cu_ledger_close) after the pipeline.  The sink over it appends the
 * pipeline's access entries and, when the pipeline closes, publishes a
 * checkpoint but leaves the ledger open.  Other writers (gateway decisions,
 * console audit records) append entries of other types to the same ledger;
 * the pipeline's recovery skips them by type. */
struct cu_ledger;
cu_rc cu_pipeline_ledger_open(const char *dir, unsigned commit_period_us, struct cu_ledger **out) CU_NODISCARD;
void cu_sink_ledger_shared(struct cu_ledger *l, cu_sink *out);

/* ------------------------------------------------------------ batch */

/* A batch of parsed events with storage for their subjects. */
typedef struct cu_batch cu_batch;
cu_rc cu_batch_new(uint32_t max_events, cu_batch **out) CU_NODISCARD;
void cu_batch_free(cu_batch *b);
void cu_batch_reset(cu_batch *b);
/* A slot to parse the next event into (subjects storage set), or NULL when
 * the batch is full; cu_batch_push counts the slot in. */
cu_event *cu_batch_slot(cu_batch *b);
void cu_batch_push(cu_batch *b);
uint32_t cu_batch_count(const cu_batch *b);
const cu_event *cu_batch_get(const cu_batch *b, uint32_t i);
/* Record how many names of each kind existed when the batch was filled
 * (every id in it is below these): the store syncs names up to them. */
void cu_batch_seal(cu_batch *b, const cu_names *n);

/* Encoding ahead: the thread that fills the batches (the one that interns
 * their names) may encode each batch's ledger entries itself, after
 * cu_batch_seal, so that cu_pipeline_submit_async only appends them.  An
 * encoder has its own cache of people's commitments and is used by one
 * thread at a time; it reads the pipeline's names and the log's secret, so
 * it is made after cu_pipeline_open and freed before cu_pipeline_close.
 * The bytes are those the pipeline would encode (same function).  A batch
 * that fails to encode (or is changed after) is encoded by the pipeline
 * itself, which then reports the failure. */
typedef struct cu_batch_encoder cu_batch_encoder;
typedef struct cu_pipeline cu_pipeline;
cu_rc cu_batch_encoder_new(cu_pipeline *p, cu_batch_encoder **out) CU_NODISCARD;
void cu_batch_encoder_free(cu_batch_encoder *x);
cu_rc cu_batch_encode(cu_batch *b, cu_batch_encoder *x) CU_NODISCARD;

/* --------------------------------------------------------- pipeline */

typedef struct cu_pipeline_cfg {
    cu_alert_fn on_alert;  /* each alert, after it is numbered (may be NULL) */
    void *ud;
    bool bulk;             /* replay: load the store in bulk (indexes built at close) */
    const cu_detect_cfg *detect; /* the detectors (NULL: cu_detect_new's default) */
    /* The wall clock (seconds), read once per batch right after its durable
     * append returned and stored as the batch's ingest time (evidence
     * provenance).  Programs pass their clock; NULL: none recorded. */
    int64_t (*ingest_clock)(void *clock_ud);
    void *clock_ud;
    /* Detector state after a restart (docs/pipeline.md, "Warm start"): at
     * start, before recovery, the access events the store has already
     * indexed are read back from the log: those among the newest warm_max
     * log entries (0: no warm-up, the detectors start cold) within
     * warm_seconds of the newest (0: no time bound; the window's start is
     * found by bisection, access times never going back), read bundle by
     * bundle (cu_ledger_read_range), and run through the detectors again with
     * their alerts suppressed (they are persisted already); nothing is
     * appended or stored.  When that reaches back to the log's first event,
     * the detectors restart from alert number 1 and come out exactly as
     * they were (checked: the next alert number must equal the store's,
     * else they start cold, with a warning). */
    uint64_t warm_max;
    int64_t warm_seconds;
    /* Reference updates at their place in the log (custosd: the kept
     * updates with their positions, cu_kept_warm): called before the
     * warm-up runs log entry i through the detectors, warm_ref(ud, i,
     * &changed) applies to the reference data the updates that took effect
     * at or before entry i, setting changed when it applied any (the
     * detectors then remake their indexes of it); and once after the
     * warm-up (or in its place) with the first entry recovery runs (the
     * store's indexed size; 0 when its index is rebuilt).  NULL: the
     * warm-up runs on the reference data as it was given.  Recovery (the
     * log's entries the store had not indexed) calls it too, before each
     * entry, and so that an update is never applied with events before its
     * place still waiting in a batch, asks warm_ref_next(ud): the entry
     * the next update not yet applied takes effect at (UINT64_MAX: none
     * positioned left; NULL: recovery then takes one entry a batch). */
    cu_rc (*warm_ref)(void *ud, uint64_t entry, bool *changed);
    uint64_t (*warm_ref_next)(void *ud);
    void *warm_ref_ud;
} cu_pipeline_cfg;

typedef struct cu_pipeline_stats {
    uint64_t events;       /* accepted (durable) by this pipeline */
    uint64_t alerts;
    uint64_t recovered;    /* entries re-indexed at start */
    uint64_t skipped;      /* entries of other types passed over at start */
    uint64_t ledger_size;
    uint64_t dropped_alerts;
    /* time spent per stage (monotonic ns; for benchmarks, not logic) */
    uint64_t ns_encode, ns_append, ns_store, ns_detect, ns_close;
    /* pipelined submission: ns_append is the time the pipeline thread
     * waited for the log; ns_ledger the time the log took (overlapped) */
    uint64_t ns_ledger;
    /* warm start: events replayed into the detectors, their alerts
     * suppressed, and whether the replay began at the log's first event */
    uint64_t warmed, warm_suppressed;
    bool warm_exact;
    /* the store's time writing (on its writer thread under pipelined
     * submission, overlapped; ns_store is then the pipeline thread's share:
     * gathering the batch) */
    uint64_t ns_store_write;
} cu_pipeline_stats;

typedef struct cu_pipeline_opts {
    /* No store: the log and the detectors only (no index, no recovery of
     * an index; alerts go only to on_alert).  For a data directory that is
     * removed at the end, where an index would never be read. */
    bool no_store;
} cu_pipeline_opts;

/* Open DIR (created when missing): the durable log and the store; names
 * (empty, borrowed) get the stored names.  sink NULL: the default log. */
cu_rc cu_pipeline_open(const char *dir, cu_names *names, const cu_sink *sink, cu_pipeline **out) CU_NODISCARD;
cu_rc cu_pipeline_open_with(const char *dir, cu_names *names, const cu_sink *sink, const cu_pipeline_opts *opts,
                            cu_pipeline **out) CU_NODISCARD;
/* Attach the reference context (sealed; borrowed, advanced by the
 * pipeline), store it, start the detectors, and re-index (and detect on)
 * whatever the log holds beyond the store. */
cu_rc cu_pipeline_start(cu_pipeline *p, cu_ref *ref, const cu_pipeline_cfg *cfg) CU_NODISCARD;
/* Check the whole batch, then append, store and detect.  On CU_OK the
 * batch is durable; *first_index (may be NULL) is its first ledger index.
 * CU_ERR_ORDER (detail names the event) when it is out of time order: then
 * nothing of it was applied.  After a failure of the log or the store the
 * pipeline refuses further batches (CU_ERR_STATE). */
cu_rc cu_pipeline_submit(cu_pipeline *p, cu_batch *b, uint64_t *first_index) CU_NODISCARD;
/* As cu_pipeline_submit, with one entry of another type (pre, pre_len
 * bytes: a gateway decision) appended just before the batch's entries in
 * the same durable append, so the two are adjacent in the log and durable
 * together.  *pre_index is set as soon as the append returned, even when
 * indexing then failed (the entries are durable; the pipeline stops). */
cu_rc cu_pipeline_submit_after(cu_pipeline *p, const void *pre, size_t pre_len, cu_batch *b,
                               uint64_t *pre_index) CU_NODISCARD;
/* As cu_pipeline_submit_after for a batch of gateway look-ups: pre[i]
 * (pre_len[i] bytes, another type's entry: event i's decision) is appended
 * just before event i, all 2n entries in one durable append, so each pair
 * is adjacent in the log; *pre_first (may be NULL) gets pre[0]'s index:
 * pre[i] is at *pre_first + 2i, event i at *pre_first + 2i + 1.  Set as
 * soon as the append returned, even when indexing then failed (the entries
 * are durable; the pipeline stops).  The batch is one store transaction.
 * on_durable (may be NULL) is called with that index as soon as the append
 * returned, before the batch is indexed and detected (the gateway answers
 * then: the look-ups are durable). */
cu_rc cu_pipeline_submit_pairs(cu_pipeline *p, const void *const *pre, const size_t *pre_len, cu_batch *b,
                               uint64_t *pre_first, void (*on_durable)(void *ud, uint64_t pre_first),
                               void *ud) CU_NODISCARD;
/* Pipelined submission, for bulk sources (replay): b is checked whole and
 * encoded, its names stored, and its append started on the pipeline's
 * appender thread; then the batch submitted before it, whose append has
 * returned (durable), is indexed and run through the detectors while b is
 * being appended, and comes back in *done (NULL on the first call) with
 * its first ledger index.  The caller keeps b untouched until it comes
 * back (here or from cu_pipeline_drain) or the pipeline is closed.
 * Invariants 1, 2, 3 and 5 hold as for cu_pipeline_submit: CU_ERR_ORDER
 * changes nothing (the batch in flight goes on); a failure of the log or
 * the store stops the pipeline.  An empty b is not kept. */
cu_rc cu_pipeline_submit_async(cu_pipeline *p, cu_batch *b, cu_batch **done, uint64_t *done_first) CU_NODISCARD;
/* Wait for the batch in flight, index and detect it; *done gets it (NULL
 * when none was in flight). */
cu_rc cu_pipeline_drain(cu_pipeline *p, cu_batch **done, uint64_t *done_first) CU_NODISCARD;
/* Time of the last event accepted (INT64_MIN before any). */
int64_t cu_pipeline_last_ts(const cu_pipeline *p);
/* End of stream: detectors flush. */
cu_rc cu_pipeline_finish(cu_pipeline *p) CU_NODISCARD;
void cu_pipeline_stats_get(const cu_pipeline *p, cu_pipeline_stats *out);
cu_store *cu_pipeline_store(cu_pipeline *p); /* NULL when opened with no_store */
/* The live detectors (NULL before start); used under the pipeline's one
 * writer's lock (per-officer risk for the API). */
const cu_detect *cu_pipeline_detect(const cu_pipeline *p);
cu_names *cu_pipeline_names(cu_pipeline *p);
/* The pipeline's reference context was updated in place (cu_ref_update_apply,
 * custosd's POST /v1/reference): the detectors remake what they indexed from
 * it at start.  Between batches, by the one thread that ingests. */
cu_rc cu_pipeline_ref_changed(cu_pipeline *p) CU_NODISCARD;
/* For a data directory about to be removed: close will not rebuild the
 * store's indexes after a bulk load (nobody will query them). */
void cu_pipeline_discard_indexes(cu_pipeline *p);
/* Close: ends a bulk load (rebuilds indexes), closes store and log. */
cu_rc cu_pipeline_close(cu_pipeline *p);

/* Read back entry i of the log as an event (subjects resolved through the
 * stored names' commitments).  For recovery, checks and tools. */
cu_rc cu_pipeline_read_event(cu_pipeline *p, uint64_t index, cu_event *ev) CU_NODISCARD;

/* ------------------------------------------------------------ replay */

typedef struct cu_replay_opts {
    const char *reference;   /* REF.jsonl */
    const char *events;      /* EV.jsonl */
    const char *alerts;      /* OUT.jsonl ("-": stdout) */
    const char *data_dir;    /* NULL: a temporary directory removed at the end */
    uint32_t batch;          /* events per batch (0: 65536) */
    unsigned parse_workers;  /* parser threads (0: 2) */
    /* progress: called after each durable batch with the ledger size */
    void (*on_durable)(void *ud, uint64_t ledger_size);
    void *ud;
    const cu_detect_cfg *detect; /* the detectors (NULL: cu_detect_new's default) */
    int64_t (*ingest_clock)(void *clock_ud); /* see cu_pipeline_cfg (NULL: none recorded) */
    void *clock_ud;
} cu_replay_opts;

typedef struct cu_replay_stats {
    uint64_t events, alerts, batches;
    uint64_t ns_start;          /* reading the reference, opening, storing it, recovery */
    uint64_t ns_parse;          /* reader thread busy time (interning; the scan is on parser threads) */
    cu_pipeline_stats pipeline; /* stage times of the pipeline thread */
} cu_replay_stats;

/* The whole of `custos replay`.  Errors name the file and line. */
cu_rc cu_replay_run(const cu_replay_opts *o, cu_replay_stats *stats) CU_NODISCARD;

/* Huge pages for a replay's heap.  A replay holds ~1.5 GB of tables read
 * at random (the reference, the names, the detectors' state, per event);
 * with 4 KiB pages nearly every such read also misses the TLB.  Where the
 * kernel gives transparent huge pages only to memory that asks for them
 * ("[madvise]" in /sys/kernel/mm/transparent_hugepage/enabled), glibc's
 * allocator asks for all of its memory when run with CU_REPLAY_THP_TUNABLE
 * in GLIBC_TUNABLES, which it reads only when the program starts: so
 * `custos replay` starts itself again with it (docs/pipeline.md, round 6).
 * True when that is wanted: thp_enabled (that file's text) says madvise
 * and tunables (the environment's GLIBC_TUNABLES, NULL when unset) is
 * unset; a GLIBC_TUNABLES of the user's, even empty, is left as it is. */
#define CU_REPLAY_THP_TUNABLE "glibc.malloc.hugetlb=1"
bool cu_replay_thp_rerun(const char *thp_enabled, const char *tunables);

/* Remove a directory tree (for temporary data directories). */
cu_rc cu_rmtree(const char *path) CU_NODISCARD;

#endif /* CUSTOS_PIPELINE_H */
