/* The SQLite store: names, reference data with history, the event index,
 * alerts.
 *
 * Invariants:
 * 1. Schema version in PRAGMA user_version.  Version 1 (post-hoc secondary
 *    indexes on event) is refused with a message saying how to rebuild;
 *    version 2 (key tables of one row per pair) is migrated in place at
 *    open (migrate_v2, one transaction); a newer one is refused.
 * 2. Events are written only inside a batch transaction that also records
 *    meta.indexed (the ledger size covered): the index is always at a batch
 *    boundary, never half a batch.
 * 3. names(kind, num) numbers equal the in-memory interned ids.
 *    cu_store_sync_names / _people commit names in their own transaction
 *    (durable for the caller's next ledger append when they return); the
 *    other names a batch's events use are written first in the batch's own
 *    transaction, so no stored row refers to a name not stored.
 * 4. Every statement used per event is prepared once at open.  A batch's
 *    event rows and postings go in with one INSERT ... SELECT each, from
 *    virtual tables that read the gathered buffers in place (no bound
 *    parameter per value).
 * 5. The event table has no secondary index.  The lookups by officer,
 *    record, case and person are postings tables (post_officer, ...):
 *    WITHOUT ROWID, primary key (win, key, lo), one row per key, window
 *    (idx >> CU_STORE_WIN_BITS) and written group, holding the offsets of
 *    its ledger indexes in the window, ascending, as a JSON array (lo is the
 *    first; a posting of one offset has it in lo alone, idxs NULL).  A group appends at the right edge of each tree (its pairs
 *    sorted by window, key, idx first), so the cost per row is that of an
 *    append, and nothing is built at the end.  Readers use the views
 *    event_officer, ... (win, key, idx: json_each over the postings), so
 *    a lookup by key seeks once per window (event_window lists them).
 * 6. Every window up to the last indexed event's is in event_window (in the
 *    same transaction as the pairs that use it).
 * 7. A batch (cu_store_begin .. cu_store_commit) is gathered in memory (event
 *    rows, key pairs, alerts, ingest time) and written as one transaction
 *    at commit.  The buffers grow to a high-water mark: nothing is allocated
 *    per event.
 * 8. Writer thread (cu_store_writer_start): commit hands the gathered batch
 *    to the store's own thread and returns; batches are written in commit
 *    order, GROUP at a time in one transaction (a ring of NTX buffers: up to
 *    NTX - 1 waiting, one being gathered), or as many as wait when a caller
 *    waits for the index (settle, cu_store_indexed) or at close.  The index
 *    is still always at a batch boundary (a group's last).  A names job runs before any batch still waiting
 *    and its caller waits for it; a reference job (put_reference) runs
 *    before the batches committed after it.  The connection is used by one
 *    thread at a time: every other call first waits until the writer is
 *    idle.  A failed write is kept and returned by every later call; the
 *    batches behind it are dropped (their entries are in the ledger: the
 *    next open re-indexes them).
 */
#include "custos/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_NAME, ST_META, ST_ALERT, ST_ALERT_OFF, ST_ALERT_SUBJ, ST_WINDOW, ST_INGEST_ADD, ST_INGEST_GET,
       ST_EVENTS, ST_K_OFFICER, ST_K_RECORD, ST_K_CASE, ST_K_PERSON, ST_COUNT_ };

/* the four key tables, in the order of ST_K_* */
enum { KT_OFFICER, KT_RECORD, KT_CASE, KT_PERSON, KT_COUNT_ };

/* batches gathered or waiting for the writer thread (each holds its event
 * rows and key pairs: some 13 MiB for 65536 events, once grown) */
#define NTX 12
/* batches the writer thread writes in one transaction (their postings
 * merged where they share a window); fewer when a caller waits for the
 * index or at close.  Windows are kept at 2^16 indexes, the size of
 * replay's batches, so a group merges little in replay: windows of 2^19
 * (a group of eight) cut the writer's CPU further but made each small
 * daemon batch, written alone, touch a window's worth of pages (5 times
 * its cost: docs/store.md) */
#define GROUP 8

#define WIN_MASK ((UINT64_C(1) << CU_STORE_WIN_BITS) - 1)

/* one (key, event) pair of a batch: k = window << 32 | key */
typedef struct kpair {
    uint64_t k;
    uint64_t idx;
} kpair;

typedef struct kbuf {
    kpair *v, *tmp;
    size_t n, cap;
} kbuf;

/* an event row of a batch; its id is in the batch's text */
typedef struct erow {
    uint64_t idx;
    int64_t ts;
    cu_id officer, system, record, purpose, case_id, terminal, area;
    uint32_t results;
    size_t id_off;
    uint8_t id_len, action, outcome, has_results;
} erow;

/* an alert of a batch: kind and JSON line in the text, ids in aid */
typedef struct arow {
    uint64_t num;
    int64_t raised_at, first, last;
    double score;
    size_t json_off, json_len, kind_off, kind_len, ids_off;
    uint32_t noff, nsubj;
} arow;

/* one posting being written: (window, key) in k, the first offset, and
 * its JSON array in the store's ptext */
typedef struct post {
    uint64_t k;
    uint32_t lo;
    bool many;       /* more than one offset (else idxs is NULL) */
    size_t off, len;
} post;

/* what a rows virtual table reads (see "rows handed to SQLite") */
typedef enum { SRC_EVENTS, SRC_POSTS, SRC_CELLS } src_kind;
struct rows_src {
    cu_store *s;
    src_kind kind;
};

/* A batch gathered between cu_store_begin and cu_store_commit. */
typedef struct txn {
    erow *ev;
    size_t nev, evcap;
    kbuf kb[KT_COUNT_];
    arow *al;
    size_t nal, alcap;
    cu_id *aid;
    size_t naid, aidcap;
    cu_buf text;
    bool ingest;
    uint64_t ilo, ihi;
    int64_t iat;
    uint64_t indexed;
    uint32_t used[CU_K_COUNT_]; /* 1 + the highest id of each kind used (0: none) */
} txn;

/* One value of a buffered row (mrows): an integer, a text (not copied:
 * it must live until the rows are flushed) or NULL. */
#define CELL_INT (-1)
#define CELL_NULL (-2)
typedef struct cell {
    int64_t v;
    const char *t;
    int len; /* CELL_INT, CELL_NULL or the text's length */
} cell;

/* Rows of one table buffered as cells and inserted rows at a time through
 * the cu_rows virtual table ("INSERT ... SELECT c0, .. FROM cu_rows"). */
#define MR_COLS_MAX 10
typedef struct mrows {
    sqlite3_stmt *st;
    cell *c; /* rows * cols */
    int cols, rows, n;
    const char *what;
} mrows;

/* The writer thread (invariant 8).  Everything below is under mu. */
struct writer {
    pthread_t th;
    bool on, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int head, pending; /* tx[head .. head + pending) wait, in commit order */
    int flush;         /* callers waiting for every batch to be written */
    const cu_ref *ref; /* a reference job (before any batch) */
    uint32_t ref_counts[CU_K_COUNT_];
    bool names_job, names_done;
    const cu_names *names;
    uint32_t counts[CU_K_COUNT_];
    cu_rc names_rc;
    cu_rc err; /* sticky: the first failed write */
    char detail[1024];
};

struct cu_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT_];
    txn tx[NTX];
    int fill;        /* tx[fill] is gathered by the caller */
    const cu_names *names; /* the names the batches' ids refer to (from the last sync) */
    uint32_t people_req;   /* caller's side: person names committed (or being) */
    int64_t max_win; /* the last window in event_window (-1: none) */
    uint32_t count[1 << 16]; /* radix sort counts (used by the writing thread) */
    post *post;              /* one key table's postings (the writing thread's) */
    size_t npost, postcap;
    cu_buf ptext;            /* their offsets as JSON arrays */
    const txn *src_tx;       /* the batch cu_batch_events reads */
    const mrows *src_m;      /* the rows cu_rows reads */
    kbuf gk;                 /* a group's pairs of one table (the writing thread's) */
    struct rows_src src_ev, src_post, src_cells;
    uint32_t stored[CU_K_COUNT_]; /* names stored per kind */
    uint64_t indexed;
    uint64_t next_alert;
    uint64_t ns_write; /* time spent writing batches and names */
    mrows names_m; /* names, MR_ROWS to a statement */
    bool in_tx;
    bool bulk;
    struct writer w;
};

#define STR_(x) #x
#define STR(x) STR_(x)
#define POST_TABLE(t, col)                                                                                          \
    "CREATE TABLE IF NOT EXISTS " t "(win INTEGER NOT NULL, " col " INTEGER NOT NULL, lo INTEGER NOT NULL,"            \
    "  idxs TEXT, PRIMARY KEY(win, " col ", lo)) WITHOUT ROWID;"
#define POST_VIEW(v, col, t)                                                                                        \
    "CREATE VIEW IF NOT EXISTS " v "(win, " col ", idx) AS SELECT k.win, k." col ", (k.win << " STR(CU_STORE_WIN_BITS) \
    ") + j.value FROM " t " k, json_each(coalesce(k.idxs, k.lo)) j;"

static const char *schema =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS names(kind INTEGER NOT NULL, num INTEGER NOT NULL, name TEXT NOT NULL,"
    "  PRIMARY KEY(kind, num)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX IF NOT EXISTS names_name ON names(kind, name);"
    "CREATE TABLE IF NOT EXISTS ref_officer(id INTEGER PRIMARY KEY, unit INTEGER, area INTEGER, role TEXT,"
    "  vetting INTEGER, vet_granted INTEGER, vet_expires INTEGER, shift INTEGER, start INTEGER, end_ INTEGER);"
    "CREATE TABLE IF NOT EXISTS ref_relation(officer INTEGER NOT NULL, person INTEGER NOT NULL, type TEXT);"
    "CREATE TABLE IF NOT EXISTS ref_person(id INTEGER PRIMARY KEY, area INTEGER, flags INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ref_record(id INTEGER PRIMARY KEY, system INTEGER, area INTEGER, type TEXT,"
    "  classification INTEGER);"
    "CREATE TABLE IF NOT EXISTS ref_record_subject(record INTEGER NOT NULL, person INTEGER NOT NULL,"
    "  PRIMARY KEY(record, person)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS ref_case(id INTEGER PRIMARY KEY, area INTEGER, opened INTEGER NOT NULL,"
    "  closed INTEGER);"
    "CREATE TABLE IF NOT EXISTS ref_case_link(case_ INTEGER NOT NULL, kind INTEGER NOT NULL,"
    "  target INTEGER NOT NULL, PRIMARY KEY(case_, kind, target)) WITHOUT ROWID;"
    /* every change of assignment: a case opening (source 0) or an assign line (1) */
    "CREATE TABLE IF NOT EXISTS ref_assignment(seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    "  case_ INTEGER NOT NULL, officer INTEGER NOT NULL, op INTEGER NOT NULL, source INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ref_assignment_officer ON ref_assignment(officer, ts);"
    "CREATE TABLE IF NOT EXISTS event(idx INTEGER PRIMARY KEY, ts INTEGER NOT NULL, eid TEXT NOT NULL,"
    "  officer INTEGER NOT NULL, action INTEGER NOT NULL, outcome INTEGER NOT NULL, record INTEGER,"
    "  case_ INTEGER, system INTEGER, purpose INTEGER, terminal INTEGER, area INTEGER, results INTEGER);"
    /* the key tables as postings: one row per key, window and batch, its
     * ledger indexes (offsets in the window, ascending) as a JSON array;
     * a posting of one offset has it in lo alone (idxs NULL: a row as
     * narrow as a pair's, which small batches are mostly made of) */
    POST_TABLE("post_officer", "officer") POST_TABLE("post_record", "record") POST_TABLE("post_case", "case_")
    POST_TABLE("post_subject", "person")
    /* ... read through views of the version-2 shape (win, key, idx) */
    POST_VIEW("event_officer", "officer", "post_officer") POST_VIEW("event_record", "record", "post_record")
    POST_VIEW("event_case", "case_", "post_case") POST_VIEW("event_subject", "person", "post_subject")
    "CREATE TABLE IF NOT EXISTS event_window(win INTEGER PRIMARY KEY);"
    "CREATE TABLE IF NOT EXISTS alert(num INTEGER PRIMARY KEY, raised_at INTEGER NOT NULL, kind TEXT NOT NULL,"
    "  score REAL NOT NULL, first_event INTEGER NOT NULL, last_event INTEGER NOT NULL, json TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alert_officer(officer INTEGER NOT NULL, num INTEGER NOT NULL,"
    "  PRIMARY KEY(officer, num)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS alert_subject(person INTEGER NOT NULL, num INTEGER NOT NULL,"
    "  PRIMARY KEY(person, num)) WITHOUT ROWID;"
    /* Ingest times: the wall-clock second each batch [lo, hi] became durable
     * (as the program's clock said).  Additive: created on open when missing,
     * so a version-2 store gains it without a rebuild; batches indexed
     * before it (or re-indexed by recovery) have no row. */
    "CREATE TABLE IF NOT EXISTS ingest(lo INTEGER PRIMARY KEY, hi INTEGER NOT NULL, at INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta VALUES('indexed', 0);";

static const char *stmt_sql[ST_COUNT_] = {
    [ST_NAME] = "INSERT INTO names VALUES(?,?,?)",
    [ST_META] = "UPDATE meta SET value=? WHERE key=?",
    [ST_ALERT] = "INSERT OR REPLACE INTO alert VALUES(?,?,?,?,?,?,?)" /* an update re-emits the same num */,
    [ST_ALERT_OFF] = "INSERT OR IGNORE INTO alert_officer VALUES(?,?)",
    [ST_ALERT_SUBJ] = "INSERT OR IGNORE INTO alert_subject VALUES(?,?)",
    [ST_WINDOW] = "INSERT OR IGNORE INTO event_window VALUES(?)",
    /* a batch's (or group's) rows, read in place (invariant 4) */
    [ST_EVENTS] = "INSERT INTO event SELECT * FROM cu_batch_events",
    /* one posting per key and group (an event listing a person twice is
     * one entry: make_posts drops the repeat) */
    [ST_K_OFFICER] = "INSERT INTO post_officer SELECT * FROM cu_batch_posts",
    [ST_K_RECORD] = "INSERT INTO post_record SELECT * FROM cu_batch_posts",
    [ST_K_CASE] = "INSERT INTO post_case SELECT * FROM cu_batch_posts",
    [ST_K_PERSON] = "INSERT INTO post_subject SELECT * FROM cu_batch_posts",
    [ST_INGEST_ADD] = "INSERT OR REPLACE INTO ingest VALUES(?,?,?)",
    [ST_INGEST_GET] = "SELECT hi, at FROM ingest WHERE lo <= ? ORDER BY lo DESC LIMIT 1",
};

static cu_rc dberr(cu_store *s, const char *what)
{
    int code = sqlite3_errcode(s->db);
    cu_rc rc = code == SQLITE_FULL ? CU_ERR_NOSPC : code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? CU_ERR_CORRUPT
             : code == SQLITE_BUSY || code == SQLITE_LOCKED ? CU_ERR_LOCKED : CU_ERR_IO;
    return cu_err_set(rc, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static cu_rc step_reset(cu_store *s, sqlite3_stmt *st, const char *what)
{
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    return r == SQLITE_DONE ? CU_OK : dberr(s, what);
}

static cu_rc exec(cu_store *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        cu_rc rc = dberr(s, msg ? msg : sql);
        sqlite3_free(msg);
        return rc;
    }
    return CU_OK;
}

static cu_rc query_int(cu_store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(s, sql);
    int r = sqlite3_step(st);
    *out = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? CU_OK : dberr(s, sql);
}

/* Version 2 -> 3: each key table (win, key, idx) of windows of 2^16 indexes,
 * one row per pair, becomes its postings table, one posting per key and old
 * window (placed in the new, larger window holding it: a key may have
 * several postings in one window, told apart by lo), the view of the old
 * name taking its place; event_window lists the new windows.  Inside the
 * caller's transaction.  The pairs are read in primary-key order (the GROUP
 * BY follows it, no sorting), so each posting's offsets come ascending. */
#define V2_WIN_BITS 16
static cu_rc migrate_v2(cu_store *s)
{
    static const char *const kt[KT_COUNT_][3] = {
        {"event_officer", "officer", "post_officer"},
        {"event_record", "record", "post_record"},
        {"event_case", "case_", "post_case"},
        {"event_subject", "person", "post_subject"},
    };
    cu_rc rc = CU_OK;
    for (int t = 0; t < KT_COUNT_ && !rc; t++) {
        char *q = sqlite3_mprintf(
            "CREATE TABLE %s(win INTEGER NOT NULL, %s INTEGER NOT NULL, lo INTEGER NOT NULL, idxs TEXT,"
            "  PRIMARY KEY(win, %s, lo)) WITHOUT ROWID;"
            "INSERT INTO %s SELECT win >> %d, %s, min(idx) & %llu,"
            "  CASE count(*) WHEN 1 THEN NULL ELSE json_group_array(idx & %llu) END FROM %s"
            "  GROUP BY win, %s;"
            "DROP TABLE %s;",
            kt[t][2], kt[t][1], kt[t][1], kt[t][2], CU_STORE_WIN_BITS - V2_WIN_BITS, kt[t][1],
            (unsigned long long)WIN_MASK, (unsigned long long)WIN_MASK, kt[t][0], kt[t][1], kt[t][0]);
        if (!q)
            return CU_ERR_NOMEM;
        rc = exec(s, q);
        sqlite3_free(q);
    }
    if (!rc)
        rc = exec(s, "DELETE FROM event_window;"
                     "INSERT INTO event_window WITH RECURSIVE w(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM w"
                     "  WHERE x < (SELECT max(idx) >> " STR(CU_STORE_WIN_BITS) " FROM event))"
                     "  SELECT x FROM w WHERE EXISTS (SELECT 1 FROM event);");
    return rc;
}

static cu_rc settle(cu_store *s);
static const sqlite3_module rows_module;
#define MR_ROWS 1024 /* rows per statement of the buffered inserts */
static cu_rc mr_open(cu_store *s, mrows *m, const char *head, int cols, int rows, const char *what);
static void mr_close(mrows *m);

/* SQLite's memory statistics take a global mutex around every allocation
 * (and Debian's build has no lookaside, so a row insert allocates several
 * times); nothing here reads them.  Only possible before SQLite is
 * initialised: later the call is refused and changes nothing. */
static void sqlite_setup(void) { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

cu_rc cu_store_open(const char *path, cu_store **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    cu_store *s = cu_calloc(1, sizeof *s);
    if (!s)
        return CU_ERR_NOMEM;
    for (int i = 0; i < NTX; i++)
        cu_buf_init(&s->tx[i].text, (size_t)1 << 31);
    cu_buf_init(&s->ptext, (size_t)1 << 34);
    cu_rc rc;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = cu_err_set(CU_ERR_IO, "store: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "no memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* The ledger is the durable record and the store can be rebuilt from it,
     * so NORMAL (no fsync per commit in WAL mode) is enough.  A new store
     * gets 16 KiB pages (fewer pages, cells and tree levels per row than
     * 4 KiB; an existing store keeps its size); checkpoints every 64 MiB
     * of WAL. */
    if ((rc = exec(s, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                      "PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;")))
        goto fail;
    int64_t psize;
    if ((rc = query_int(s, "PRAGMA page_size", &psize)))
        goto fail;
    {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint=%lld", (long long)((64 << 20) / (psize > 0 ? psize : 4096)));
        if ((rc = exec(s, sql)))
            goto fail;
    }
    int64_t ver;
    if ((rc = query_int(s, "PRAGMA user_version", &ver)))
        goto fail;
    if (ver > CU_STORE_SCHEMA_VERSION) {
        rc = cu_err_set(CU_ERR_UNSUPPORTED, "store: %s has schema version %lld, newer than this program's %d", path,
                        (long long)ver, CU_STORE_SCHEMA_VERSION);
        goto fail;
    }
    if (ver == 1) {
        /* version 1 indexed events with secondary indexes on event; its
         * queries differ.  The store is an index of the ledger: rebuilding
         * it is the migration. */
        rc = cu_err_set(CU_ERR_UNSUPPORTED,
                        "store: %s has schema version %lld, older than this program's %d; it is an index of the "
                        "ledger: move it aside (with its -wal and -shm files) and start again, the store is then "
                        "rebuilt from the ledger",
                        path, (long long)ver, CU_STORE_SCHEMA_VERSION);
        goto fail;
    }
    /* version 2 (one row per key and event) is converted in place, in the
     * same transaction as the schema: all or nothing */
    if ((rc = exec(s, "BEGIN")) || (ver == 2 && (rc = migrate_v2(s))) || (rc = exec(s, schema)) ||
        (rc = exec(s, "PRAGMA user_version=" STR(CU_STORE_SCHEMA_VERSION))) || (rc = exec(s, "COMMIT"))) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    s->src_ev = (struct rows_src){s, SRC_EVENTS};
    s->src_post = (struct rows_src){s, SRC_POSTS};
    s->src_cells = (struct rows_src){s, SRC_CELLS};
    if (sqlite3_create_module(s->db, "cu_batch_events", &rows_module, &s->src_ev) != SQLITE_OK ||
        sqlite3_create_module(s->db, "cu_batch_posts", &rows_module, &s->src_post) != SQLITE_OK ||
        sqlite3_create_module(s->db, "cu_rows", &rows_module, &s->src_cells) != SQLITE_OK) {
        rc = dberr(s, "register the batch tables");
        goto fail;
    }
    for (int i = 0; i < ST_COUNT_; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
            rc = dberr(s, stmt_sql[i]);
            goto fail;
        }
    }
    if ((rc = mr_open(s, &s->names_m, "INSERT INTO names", 3, MR_ROWS, "insert names")))
        goto fail;
    int64_t v;
    if ((rc = query_int(s, "SELECT value FROM meta WHERE key='indexed'", &v)))
        goto fail;
    s->indexed = (uint64_t)v;
    if ((rc = query_int(s, "SELECT coalesce(max(num),0)+1 FROM alert", &v)))
        goto fail;
    s->next_alert = (uint64_t)v;
    if ((rc = query_int(s, "SELECT coalesce(max(win),-1) FROM event_window", &s->max_win)))
        goto fail;
    for (int k = 0; k < CU_K_COUNT_; k++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM names WHERE kind=%d", k);
        if ((rc = query_int(s, sql, &v)))
            goto fail;
        s->stored[k] = (uint32_t)v;
    }
    s->people_req = s->stored[CU_K_PERSON];
    *out = s;
    return CU_OK;
fail:
    cu_store_close(s);
    return rc;
}

static void writer_stop(cu_store *s);

void cu_store_close(cu_store *s)
{
    if (!s)
        return;
    /* a batch handed to the writer is written before the thread ends */
    writer_stop(s);
    for (int i = 0; i < ST_COUNT_; i++)
        sqlite3_finalize(s->st[i]);
    mr_close(&s->names_m);
    sqlite3_close(s->db);
    cu_free(s->post);
    cu_buf_free(&s->ptext);
    cu_free(s->gk.v);
    cu_free(s->gk.tmp);
    for (int i = 0; i < NTX; i++) {
        txn *t = &s->tx[i];
        for (int k = 0; k < KT_COUNT_; k++) {
            cu_free(t->kb[k].v);
            cu_free(t->kb[k].tmp);
        }
        cu_free(t->ev);
        cu_free(t->al);
        cu_free(t->aid);
        cu_buf_free(&t->text);
    }
    cu_free(s);
}

int cu_store_schema_version(cu_store *s)
{
    int64_t v = 0;
    if (settle(s) || query_int(s, "PRAGMA user_version", &v))
        return -1;
    return (int)v;
}

/* ------------------------------------------------------------ names */

cu_rc cu_store_load_names(cu_store *s, cu_names *n)
{
    sqlite3_stmt *st;
    cu_rc src = settle(s);
    if (src)
        return src;
    const char *sql = "SELECT kind, num, name FROM names ORDER BY kind, num";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(s, sql);
    cu_rc rc = CU_OK;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int k = sqlite3_column_int(st, 0);
        int64_t num = sqlite3_column_int64(st, 1);
        const char *name = (const char *)sqlite3_column_text(st, 2);
        cu_id id;
        if (k < 0 || k >= CU_K_COUNT_ || !name) {
            rc = cu_err_set(CU_ERR_CORRUPT, "store: bad names row");
            break;
        }
        if ((rc = cu_names_intern(n, (cu_idkind)k, name, strlen(name), &id)))
            break;
        if (id != (cu_id)num) {
            rc = cu_err_set(CU_ERR_CORRUPT, "store: %s \"%s\" is number %lld in the store but %u in memory",
                            cu_idkind_name((cu_idkind)k), name, (long long)num, id);
            break;
        }
    }
    if (!rc && r != SQLITE_DONE)
        rc = dberr(s, sql);
    sqlite3_finalize(st);
    return rc;
}

/* Multi-row inserts of any length: rows are buffered as cells and
 * inserted `rows` at a time (and the rest at the end) by one statement
 * "INSERT ... SELECT c0, .., cN FROM cu_rows", which reads the buffer in
 * place: no bound parameter per value (each bind first releases the old
 * value) and no VALUES row per row (the reference is ~8 M rows). */

static cu_rc mr_open(cu_store *s, mrows *m, const char *head, int cols, int rows, const char *what)
{
    char q[512], *e = q + sizeof q;
    int n = snprintf(q, sizeof q, "%s SELECT", head);
    *m = (mrows){.cols = cols, .rows = rows, .what = what};
    if (cols < 1 || cols > MR_COLS_MAX || n < 0)
        return cu_err_set(CU_ERR_INTERNAL, "store: %s: %d columns", what, cols);
    for (int c = 0; c < cols && n > 0 && q + n < e; c++)
        n += snprintf(q + n, (size_t)(e - q - n), "%sc%d", c ? ", " : " ", c);
    if (n < 0 || q + n + 16 > e)
        return cu_err_set(CU_ERR_INTERNAL, "store: %s: statement too long", what);
    snprintf(q + n, (size_t)(e - q - n), " FROM cu_rows");
    if (!(m->c = cu_malloc((size_t)rows * (size_t)cols * sizeof *m->c)))
        return CU_ERR_NOMEM;
    return sqlite3_prepare_v2(s->db, q, -1, &m->st, NULL) == SQLITE_OK ? CU_OK : dberr(s, what);
}

/* the cells of the row being filled */
static cell *mr_row(const mrows *m) { return m->c + (size_t)m->n * (size_t)m->cols; }

static cu_rc mr_flush(cu_store *s, mrows *m)
{
    if (!m->n)
        return CU_OK;
    s->src_m = m;
    cu_rc rc = step_reset(s, m->st, m->what);
    s->src_m = NULL;
    m->n = 0;
    return rc;
}

/* the row is filled */
static cu_rc mr_next(cu_store *s, mrows *m)
{
    return ++m->n == m->rows ? mr_flush(s, m) : CU_OK;
}

static void mr_close(mrows *m)
{
    sqlite3_finalize(m->st);
    cu_free(m->c);
    m->st = NULL;
    m->c = NULL;
}

static void cell_int(cell *c, int64_t v) { *c = (cell){.v = v, .len = CELL_INT}; }

/* text that lives until the rows are flushed, or NULL */
static void cell_text(cell *c, const char *t, size_t len)
{
    *c = t ? (cell){.t = t, .len = (int)len} : (cell){.len = CELL_NULL};
}

static void cell_str(cell *c, const char *t) { cell_text(c, t, t ? strlen(t) : 0); }

static void cell_id(cell *c, cu_id id)
{
    if (id == CU_ID_NONE)
        *c = (cell){.len = CELL_NULL};
    else
        cell_int(c, id);
}

static void cell_time(cell *c, int64_t t)
{
    if (t == CU_TIME_NEVER || t == INT64_MIN)
        *c = (cell){.len = CELL_NULL};
    else
        cell_int(c, t);
}

/* Insert names [stored[k], upto[k]) (inside the caller's transaction;
 * stored[] is the caller's to advance once it commits). */
static cu_rc names_put(cu_store *s, const cu_names *n, const uint32_t *upto)
{
    mrows *m = &s->names_m;
    cu_rc rc = CU_OK;
    for (int k = 0; k < CU_K_COUNT_ && !rc; k++) {
        for (uint32_t id = s->stored[k]; id < upto[k] && !rc; id++) {
            size_t len;
            const char *name = cu_names_str_len(n, (cu_idkind)k, id, &len);
            if (!name)
                return cu_err_set(CU_ERR_INTERNAL, "store: %s %u has no name", cu_idkind_name((cu_idkind)k), id);
            cell *c = mr_row(m);
            cell_int(&c[0], k);
            cell_int(&c[1], id);
            cell_text(&c[2], name, len);
            rc = mr_next(s, m);
        }
    }
    if (!rc)
        rc = mr_flush(s, m);
    m->n = 0;
    return rc;
}

static void names_stored(cu_store *s, const uint32_t *upto)
{
    for (int k = 0; k < CU_K_COUNT_; k++)
        if (upto[k] > s->stored[k])
            s->stored[k] = upto[k];
}

/* Store names [stored[k], upto[k]) in their own transaction. */
static cu_rc names_write(cu_store *s, const cu_names *n, const uint32_t *upto)
{
    uint64_t t0 = cu_mono_ns();
    bool any = false;
    for (int k = 0; k < CU_K_COUNT_; k++)
        any |= upto[k] > s->stored[k];
    if (!any)
        return CU_OK;
    cu_rc rc;
    if ((rc = exec(s, "BEGIN")))
        return rc;
    if ((rc = names_put(s, n, upto)) || (rc = exec(s, "COMMIT"))) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    /* counted as stored only once committed */
    names_stored(s, upto);
    s->ns_write += cu_mono_ns() - t0;
    return CU_OK;
}

static cu_rc writer_err(cu_store *s);

/* Run upto as a names job: on the writer (ahead of any batch still
 * waiting), committed when this returns; or here when there is none. */
static cu_rc names_job(cu_store *s, const cu_names *n, const uint32_t *upto)
{
    struct writer *w = &s->w;
    if (!w->on)
        return names_write(s, n, upto);
    pthread_mutex_lock(&w->mu);
    cu_rc rc = w->err;
    if (!rc) {
        w->names = n;
        memcpy(w->counts, upto, sizeof w->counts);
        w->names_done = false;
        w->names_job = true;
        pthread_cond_broadcast(&w->cv);
        while (!w->names_done)
            pthread_cond_wait(&w->cv, &w->mu);
        rc = w->names_rc;
    }
    if (rc)
        cu_err_set(rc, "%s", w->detail);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

cu_rc cu_store_sync_names(cu_store *s, const cu_names *n, const uint32_t *counts)
{
    uint32_t upto[CU_K_COUNT_];
    for (int k = 0; k < CU_K_COUNT_; k++)
        upto[k] = counts ? counts[k] : cu_names_count(n, (cu_idkind)k);
    if (s->names != n)
        s->names = n;
    cu_rc rc = names_job(s, n, upto);
    if (!rc && upto[CU_K_PERSON] > s->people_req)
        s->people_req = upto[CU_K_PERSON];
    return rc;
}

cu_rc cu_store_sync_people(cu_store *s, const cu_names *n, const uint32_t *counts)
{
    if (s->names != n)
        s->names = n;
    uint32_t upto[CU_K_COUNT_] = {0};
    upto[CU_K_PERSON] = counts ? counts[CU_K_PERSON] : cu_names_count(n, CU_K_PERSON);
    if (upto[CU_K_PERSON] <= s->people_req)
        return writer_err(s);
    cu_rc rc = names_job(s, n, upto);
    if (!rc)
        s->people_req = upto[CU_K_PERSON];
    return rc;
}

/* -------------------------------------------------------- reference */

static void bind_id(sqlite3_stmt *st, int i, cu_id id)
{
    if (id == CU_ID_NONE)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, id);
}

static cu_rc run(cu_store *s, sqlite3_stmt *st, const char *what)
{
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return r == SQLITE_DONE ? CU_OK : dberr(s, what);
}

/* The reference tables' inserts, many rows a statement. */
enum { R_OFF, R_REL, R_PER, R_REC, R_RSUB, R_CASE, R_LINK, R_ASG, R_N_ };
static const struct {
    const char *head;
    int cols;
} ref_tab[R_N_] = {
    [R_OFF] = {"INSERT INTO ref_officer", 10},
    [R_REL] = {"INSERT INTO ref_relation", 3},
    [R_PER] = {"INSERT INTO ref_person", 3},
    [R_REC] = {"INSERT INTO ref_record", 5},
    [R_RSUB] = {"INSERT OR IGNORE INTO ref_record_subject", 2},
    [R_CASE] = {"INSERT INTO ref_case", 4},
    [R_LINK] = {"INSERT OR IGNORE INTO ref_case_link", 3},
    [R_ASG] = {"INSERT INTO ref_assignment(ts, case_, officer, op, source)", 5},
};

static cu_rc ref_open(cu_store *s, mrows *m)
{
    cu_rc rc = CU_OK;
    for (int i = 0; i < R_N_ && !rc; i++)
        rc = mr_open(s, &m[i], ref_tab[i].head, ref_tab[i].cols, MR_ROWS, ref_tab[i].head);
    return rc;
}

static cu_rc ref_flush(cu_store *s, mrows *m)
{
    cu_rc rc = CU_OK;
    for (int i = 0; i < R_N_ && !rc; i++)
        rc = mr_flush(s, &m[i]);
    return rc;
}

static void ref_close(mrows *m)
{
    for (int i = 0; i < R_N_; i++)
        mr_close(&m[i]);
}

/* The end of a reference transaction begun with BEGIN and ref_open: the
 * rows flushed and committed when rc is CU_OK, else everything rolled back. */
static cu_rc ref_end(cu_store *s, mrows *m, cu_rc rc, uint64_t t0)
{
    if (!rc)
        rc = ref_flush(s, m);
    ref_close(m);
    if (!rc && !(rc = exec(s, "COMMIT"))) {
        s->ns_write += cu_mono_ns() - t0;
        return CU_OK;
    }
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* One object's rows, for the whole rewrite and the changes alike. */
static cu_rc put_officer(cu_store *s, mrows *m, const cu_officer *o)
{
    cell *c = mr_row(&m[R_OFF]);
    cell_id(&c[0], o->id);
    cell_id(&c[1], o->unit);
    cell_id(&c[2], o->area);
    cell_str(&c[3], o->role);
    cell_int(&c[4], o->vetting);
    cell_time(&c[5], o->vet_granted);
    cell_time(&c[6], o->vet_expires);
    cell_int(&c[7], o->shift);
    cell_time(&c[8], o->start);
    cell_time(&c[9], o->end);
    cu_rc rc = mr_next(s, &m[R_OFF]);
    for (uint32_t j = 0; j < o->nrelations && !rc; j++) {
        c = mr_row(&m[R_REL]);
        cell_id(&c[0], o->id);
        cell_id(&c[1], o->relations[j].person);
        cell_str(&c[2], o->relations[j].type);
        rc = mr_next(s, &m[R_REL]);
    }
    return rc;
}

static cu_rc put_person(cu_store *s, mrows *m, const cu_person *p)
{
    cell *c = mr_row(&m[R_PER]);
    cell_id(&c[0], p->id);
    cell_id(&c[1], p->area);
    cell_int(&c[2], p->flags);
    return mr_next(s, &m[R_PER]);
}

/* Rows (id, [kind,] v[j]) of a link table: kind < 0 for none. */
static cu_rc put_links(cu_store *s, mrows *m, cu_id id, int kind, const cu_id *v, uint32_t n)
{
    cu_rc rc = CU_OK;
    for (uint32_t j = 0; j < n && !rc; j++) {
        cell *c = mr_row(m);
        cell_id(c++, id);
        if (kind >= 0)
            cell_int(c++, kind);
        cell_id(c, v[j]);
        rc = mr_next(s, m);
    }
    return rc;
}

static cu_rc put_record(cu_store *s, mrows *m, const cu_record *r)
{
    cell *c = mr_row(&m[R_REC]);
    cell_id(&c[0], r->id);
    cell_id(&c[1], r->system);
    cell_id(&c[2], r->area);
    cell_str(&c[3], r->type);
    cell_int(&c[4], r->classification);
    cu_rc rc = mr_next(s, &m[R_REC]);
    return rc ? rc : put_links(s, &m[R_RSUB], r->id, -1, r->subjects, r->nsubjects);
}

/* The case and its links (its openings: put_openings). */
static cu_rc put_case(cu_store *s, mrows *m, const cu_case *cs)
{
    cell *c = mr_row(&m[R_CASE]);
    cell_id(&c[0], cs->id);
    cell_id(&c[1], cs->area);
    cell_int(&c[2], cs->opened);
    cell_time(&c[3], cs->closed);
    cu_rc rc = mr_next(s, &m[R_CASE]);
    if (!rc)
        rc = put_links(s, &m[R_LINK], cs->id, 1, cs->subjects, cs->nsubjects);
    if (!rc)
        rc = put_links(s, &m[R_LINK], cs->id, 2, cs->records, cs->nrecords);
    return rc;
}

static cu_rc put_assignment(cu_store *s, mrows *m, int64_t ts, cu_id case_id, cu_id officer, bool add, int source)
{
    cell *c = mr_row(&m[R_ASG]);
    cell_int(&c[0], ts);
    cell_id(&c[1], case_id);
    cell_id(&c[2], officer);
    cell_int(&c[3], add ? 1 : 0);
    cell_int(&c[4], source);
    return mr_next(s, &m[R_ASG]);
}

/* A case's opening assigns its own officers (source 0). */
static cu_rc put_openings(cu_store *s, mrows *m, const cu_case *c)
{
    cu_rc rc = CU_OK;
    for (uint32_t j = 0; j < c->nofficers && !rc; j++)
        rc = put_assignment(s, m, c->opened, c->id, c->officers[j], true, 0);
    return rc;
}

/* The reference tables, replaced in one transaction.  Reads only what
 * cu_ref_advance leaves alone (the officers', people's, records' and cases'
 * own fields and the assign lines), so the writer thread may run it while
 * the pipeline advances the reference clock. */
static cu_rc ref_write(cu_store *s, const cu_ref *ref)
{
    uint64_t t0 = cu_mono_ns();
    cu_ref_all all;
    cu_ref_get_all(ref, &all);
    cu_rc rc;
    if ((rc = exec(s, "BEGIN")))
        return rc;
    mrows m[R_N_] = {0};
    if ((rc = exec(s, "DELETE FROM ref_officer; DELETE FROM ref_relation; DELETE FROM ref_person;"
                      "DELETE FROM ref_record; DELETE FROM ref_record_subject; DELETE FROM ref_case;"
                      "DELETE FROM ref_case_link; DELETE FROM ref_assignment;")) ||
        (rc = ref_open(s, m)))
        return ref_end(s, m, rc, t0);
    for (size_t i = 0; i < all.nofficers && !rc; i++)
        rc = put_officer(s, m, all.officers[i]);
    for (size_t i = 0; i < all.npersons && !rc; i++)
        rc = put_person(s, m, all.persons[i]);
    for (size_t i = 0; i < all.nrecords && !rc; i++)
        rc = put_record(s, m, all.records[i]);
    for (size_t i = 0; i < all.ncases && !rc; i++)
        rc = put_case(s, m, all.cases[i]);
    /* the assignment history: openings, then assign lines in file order
     * (seq, the rowid, numbers them in insertion order; readers order a
     * time's changes by source, then seq, so openings come first however
     * they were written: ref_update re-writes a replaced case's) */
    for (size_t i = 0; i < all.ncases && !rc; i++)
        rc = put_openings(s, m, all.cases[i]);
    for (size_t i = 0; i < all.nassigns && !rc; i++)
        rc = put_assignment(s, m, all.assigns[i].ts, all.assigns[i].case_id, all.assigns[i].officer,
                            all.assigns[i].add, 1);
    return ref_end(s, m, rc, t0);
}

/* Run one DELETE of the rows of id (bound to ?1). */
static cu_rc del_id(cu_store *s, const char *sql, cu_id id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(s, sql);
    bind_id(st, 1, id);
    cu_rc rc = sqlite3_step(st) == SQLITE_DONE ? CU_OK : dberr(s, sql);
    sqlite3_finalize(st);
    return rc;
}

/* The reference tables brought up to ref by rewriting only the objects
 * the changes name, in one transaction: the same rows as ref_write (a
 * test compares them), written in time proportional to the change. */
static cu_rc ref_update(cu_store *s, const cu_ref *ref, const cu_ref_change *ch, size_t n)
{
    static const char *const del[][3] = {
        [CU_REF_OFFICER] = {"DELETE FROM ref_officer WHERE id=?1", "DELETE FROM ref_relation WHERE officer=?1", NULL},
        [CU_REF_PERSON] = {"DELETE FROM ref_person WHERE id=?1", NULL, NULL},
        [CU_REF_RECORD] = {"DELETE FROM ref_record WHERE id=?1", "DELETE FROM ref_record_subject WHERE record=?1", NULL},
        [CU_REF_CASE] = {"DELETE FROM ref_case WHERE id=?1", "DELETE FROM ref_case_link WHERE case_=?1",
                         "DELETE FROM ref_assignment WHERE case_=?1 AND source=0"},
    };
    uint64_t t0 = cu_mono_ns();
    cu_rc rc;
    if ((rc = exec(s, "BEGIN")))
        return rc;
    mrows m[R_N_] = {0};
    if ((rc = ref_open(s, m)))
        return ref_end(s, m, rc, t0);
    for (size_t i = 0; i < n && !rc; i++) {
        int k = ch[i].kind;
        bool seen = false; /* an object changed twice is written once */
        for (size_t j = 0; j < i && !seen; j++)
            seen = ch[j].kind == k && ch[j].id == ch[i].id;
        if (seen || k < 0 || k > CU_REF_ASSIGN)
            continue;
        const void *obj = cu_ref_all_get(ref, (cu_ref_kind)k, ch[i].id);
        if (k == CU_REF_ASSIGN) {
            const cu_assign *a = obj;
            if (a)
                rc = put_assignment(s, m, a->ts, a->case_id, a->officer, a->add, 1);
            continue;
        }
        for (int d = 0; d < 3 && del[k][d] && !rc; d++)
            rc = del_id(s, del[k][d], ch[i].id);
        if (rc || !obj)
            continue;
        switch (k) {
        case CU_REF_OFFICER: rc = put_officer(s, m, obj); break;
        case CU_REF_PERSON: rc = put_person(s, m, obj); break;
        case CU_REF_RECORD: rc = put_record(s, m, obj); break;
        default:
            if (!(rc = put_case(s, m, obj)))
                rc = put_openings(s, m, obj);
        }
    }
    return ref_end(s, m, rc, t0);
}

/* The reference tables brought up to ref: rewritten whole, or (whole
 * false, the writer thread off) only the objects the changes name; the
 * new names first either way. */
static cu_rc put_reference(cu_store *s, const cu_ref *ref, const cu_ref_change *ch, size_t nch, bool whole)
{
    if (s->in_tx)
        return cu_err_set(CU_ERR_STATE, "store: a batch is open");
    cu_rc rc = settle(s);
    if (rc)
        return rc;
    const cu_names *n = cu_ref_names(ref);
    uint32_t upto[CU_K_COUNT_];
    for (int k = 0; k < CU_K_COUNT_; k++)
        upto[k] = cu_names_count(n, (cu_idkind)k);
    s->names = n;
    struct writer *w = &s->w;
    if (w->on) {
        /* the writer's next job: names, then the tables (whole: its job is
         * the whole rewrite).  The batches do not wait for it: the
         * reference's people need not be committed before the ledger append
         * (invariant 3 of docs/pipeline.md), as every start reads the
         * reference again and interns them before recovery resolves
         * commitments. */
        pthread_mutex_lock(&w->mu);
        w->ref = ref;
        memcpy(w->ref_counts, upto, sizeof upto);
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    } else if ((rc = names_write(s, n, upto)) || (rc = whole ? ref_write(s, ref) : ref_update(s, ref, ch, nch))) {
        return rc;
    }
    if (upto[CU_K_PERSON] > s->people_req)
        s->people_req = upto[CU_K_PERSON];
    return CU_OK;
}

cu_rc cu_store_put_reference(cu_store *s, const cu_ref *ref) { return put_reference(s, ref, NULL, 0, true); }

cu_rc cu_store_put_reference_changes(cu_store *s, const cu_ref *ref, const cu_ref_change *ch, size_t n)
{
    return put_reference(s, ref, ch, n, false);
}

/* ---------------------------------------------------------- batches */

static void txn_reset(txn *t)
{
    memset(t->used, 0, sizeof t->used);
    t->nev = t->nal = t->naid = 0;
    for (int k = 0; k < KT_COUNT_; k++)
        t->kb[k].n = 0;
    cu_buf_reset(&t->text);
    t->ingest = false;
}

/* The writer's sticky error, if any (with its detail). */
static cu_rc writer_err(cu_store *s)
{
    struct writer *w = &s->w;
    if (!w->on)
        return CU_OK;
    pthread_mutex_lock(&w->mu);
    cu_rc rc = w->err;
    if (rc)
        cu_err_set(rc, "%s", w->detail);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

cu_rc cu_store_begin(cu_store *s)
{
    if (s->in_tx)
        return cu_err_set(CU_ERR_STATE, "store: a transaction is already open");
    cu_rc rc = writer_err(s);
    if (rc)
        return rc;
    txn_reset(&s->tx[s->fill]);
    s->in_tx = true;
    return CU_OK;
}

/* Room for `need` pairs in b (and its sort's second buffer). */
static cu_rc kb_reserve(kbuf *b, size_t need)
{
    if (need <= b->cap)
        return CU_OK;
    if (need > (size_t)1 << 31)
        return cu_err_set(CU_ERR_TOOBIG, "store: more than 2^31 keys of one kind in one batch");
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    kpair *v = cu_realloc(b->v, cap * sizeof *v);
    if (!v)
        return CU_ERR_NOMEM;
    b->v = v;
    kpair *t = cu_realloc(b->tmp, cap * sizeof *t);
    if (!t)
        return CU_ERR_NOMEM;
    b->tmp = t;
    b->cap = cap;
    return CU_OK;
}

static cu_rc kb_push(kbuf *b, uint64_t idx, cu_id key)
{
    cu_rc rc = kb_reserve(b, b->n + 1);
    if (rc)
        return rc;
    b->v[b->n].k = (idx >> CU_STORE_WIN_BITS) << 32 | key;
    b->v[b->n].idx = idx;
    b->n++;
    return CU_OK;
}

/* Stable LSD radix sort of b->v by k, 16 bits a pass, skipping the digits
 * that are equal in every pair (usually the window and the key's top half).
 * Stability keeps the pairs of one key in the order they were added, which
 * is idx order. */
static void kb_sort(kbuf *b, uint32_t *count)
{
    if (b->n < 2)
        return;
    uint64_t all_or = 0, all_and = ~(uint64_t)0;
    for (size_t i = 0; i < b->n; i++) {
        all_or |= b->v[i].k;
        all_and &= b->v[i].k;
    }
    uint64_t varying = all_or ^ all_and;
    for (int shift = 0; shift < 64; shift += 16) {
        if (!((varying >> shift) & 0xffff))
            continue;
        memset(count, 0, sizeof(uint32_t) << 16);
        for (size_t i = 0; i < b->n; i++)
            count[(b->v[i].k >> shift) & 0xffff]++;
        uint32_t sum = 0;
        for (size_t d = 0; d < (1u << 16); d++) {
            uint32_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < b->n; i++)
            b->tmp[count[(b->v[i].k >> shift) & 0xffff]++] = b->v[i];
        kpair *t = b->v;
        b->v = b->tmp;
        b->tmp = t;
    }
}

static void use(txn *t, cu_idkind k, cu_id id)
{
    if (id != CU_ID_NONE && id >= t->used[k])
        t->used[k] = id + 1;
}

cu_rc cu_store_add_event(cu_store *s, uint64_t idx, const cu_event *ev)
{
    if (!s->in_tx)
        return cu_err_set(CU_ERR_STATE, "store: no transaction open");
    txn *t = &s->tx[s->fill];
    cu_rc rc;
    if ((rc = cu_grow(&t->ev, &t->evcap, t->nev + 1, sizeof *t->ev, 1024, false)))
        return rc;
    erow *e = &t->ev[t->nev];
    *e = (erow){.idx = idx, .ts = ev->ts, .officer = ev->officer, .system = ev->system, .record = ev->record,
                .purpose = ev->purpose, .case_id = ev->case_id, .terminal = ev->terminal, .area = ev->area,
                .results = ev->results, .id_off = t->text.len, .id_len = ev->id_len, .action = ev->action,
                .outcome = ev->outcome, .has_results = ev->has_results};
    if ((rc = cu_buf_append(&t->text, ev->id, ev->id_len)))
        return rc;
    /* the names the batch uses are written with it */
    static const struct {
        cu_idkind k;
        size_t off;
    } ids[] = {
        {CU_K_OFFICER, offsetof(cu_event, officer)}, {CU_K_SYSTEM, offsetof(cu_event, system)},
        {CU_K_RECORD, offsetof(cu_event, record)},   {CU_K_PURPOSE, offsetof(cu_event, purpose)},
        {CU_K_CASE, offsetof(cu_event, case_id)},    {CU_K_TERMINAL, offsetof(cu_event, terminal)},
        {CU_K_AREA, offsetof(cu_event, area)},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        use(t, ids[i].k, *(const cu_id *)((const char *)ev + ids[i].off));
    for (uint32_t i = 0; i < ev->nsubjects; i++)
        use(t, CU_K_PERSON, ev->subjects[i]);
    /* the key pairs wait for the commit, where they are sorted and appended */
    if ((rc = kb_push(&t->kb[KT_OFFICER], idx, ev->officer)))
        return rc;
    if (ev->record != CU_ID_NONE && (rc = kb_push(&t->kb[KT_RECORD], idx, ev->record)))
        return rc;
    if (ev->case_id != CU_ID_NONE && (rc = kb_push(&t->kb[KT_CASE], idx, ev->case_id)))
        return rc;
    for (uint32_t i = 0; i < ev->nsubjects; i++)
        if ((rc = kb_push(&t->kb[KT_PERSON], idx, ev->subjects[i])))
            return rc;
    t->nev++;
    return CU_OK;
}

/* ------------------------------------------- rows handed to SQLite
 *
 * A batch's event rows and postings reach SQLite through two eponymous
 * virtual tables of this connection, cu_batch_events and cu_batch_posts,
 * which read the gathered buffers in place: "INSERT INTO event SELECT *
 * FROM cu_batch_events" is one statement execution per batch, with one
 * xColumn call per value instead of a bound parameter per value and a
 * VALUES row per row (binding costs a call that unbinds the old value
 * first; 13 of them per event were a large part of the writer's time).
 * The source (s->src_tx or s->post) is set by the writing thread just
 * before the statement runs; the tables are not meant for other SQL. */

typedef struct rows_vtab {
    sqlite3_vtab base;
    cu_store *s;
    src_kind kind;
} rows_vtab;

static cu_store *rows_store(sqlite3_vtab_cursor *c) { return ((rows_vtab *)c->pVtab)->s; }

typedef struct rows_cur {
    sqlite3_vtab_cursor base;
    size_t i;
} rows_cur;

static int rows_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err)
{
    (void)argc;
    (void)argv;
    (void)err;
    const struct rows_src *src = aux;
    static const char *const decl[] = {
        [SRC_EVENTS] = ("CREATE TABLE x(idx, ts, eid, officer, action, outcome, record, case_, system, purpose,"
                        " terminal, area, results)"),
        [SRC_POSTS] = "CREATE TABLE x(win, key, lo, idxs)",
        [SRC_CELLS] = "CREATE TABLE x(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9)",
    };
    _Static_assert(MR_COLS_MAX == 10, "cu_rows declares ten columns");
    int r = sqlite3_declare_vtab(db, decl[src->kind]);
    if (r != SQLITE_OK)
        return r;
    rows_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->s = src->s;
    v->kind = src->kind;
    *out = &v->base;
    return SQLITE_OK;
}

static int rows_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

static int rows_best(sqlite3_vtab *v, sqlite3_index_info *info)
{
    (void)v;
    info->estimatedCost = 1e6;
    return SQLITE_OK;
}

static int rows_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    (void)v;
    rows_cur *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static int rows_close(sqlite3_vtab_cursor *c)
{
    sqlite3_free(c);
    return SQLITE_OK;
}

static int rows_filter(sqlite3_vtab_cursor *c, int num, const char *str, int argc, sqlite3_value **argv)
{
    (void)num;
    (void)str;
    (void)argc;
    (void)argv;
    ((rows_cur *)c)->i = 0;
    return SQLITE_OK;
}

static int rows_next(sqlite3_vtab_cursor *c)
{
    ((rows_cur *)c)->i++;
    return SQLITE_OK;
}

static int rows_eof(sqlite3_vtab_cursor *c)
{
    const rows_vtab *v = (const rows_vtab *)c->pVtab;
    cu_store *s = rows_store(c);
    size_t n = v->kind == SRC_POSTS ? s->npost
             : v->kind == SRC_CELLS ? (s->src_m ? (size_t)s->src_m->n : 0)
             : s->src_tx ? s->src_tx->nev : 0;
    return ((rows_cur *)c)->i >= n;
}

static void result_id(sqlite3_context *ctx, cu_id id)
{
    if (id != CU_ID_NONE)
        sqlite3_result_int64(ctx, id);
}

static int rows_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int col)
{
    const rows_vtab *v = (const rows_vtab *)c->pVtab;
    cu_store *s = rows_store(c);
    size_t i = ((rows_cur *)c)->i;
    if (v->kind == SRC_CELLS) {
        const mrows *m = s->src_m;
        if (col >= m->cols)
            return SQLITE_OK;
        const cell *x = &m->c[i * (size_t)m->cols + (size_t)col];
        if (x->len == CELL_INT)
            sqlite3_result_int64(ctx, x->v);
        else if (x->len >= 0)
            sqlite3_result_text(ctx, x->t, x->len, SQLITE_STATIC);
        return SQLITE_OK;
    }
    if (v->kind == SRC_POSTS) {
        const post *p = &s->post[i];
        switch (col) {
        case 0: sqlite3_result_int64(ctx, (sqlite3_int64)(p->k >> 32)); break;
        case 1: sqlite3_result_int64(ctx, (sqlite3_int64)(p->k & 0xffffffffu)); break;
        case 2: sqlite3_result_int64(ctx, p->lo); break;
        default:
            if (p->many)
                sqlite3_result_text(ctx, s->ptext.data + p->off, (int)p->len, SQLITE_STATIC);
        }
        return SQLITE_OK;
    }
    const txn *t = s->src_tx;
    const erow *e = &t->ev[i];
    switch (col) {
    case 0: sqlite3_result_int64(ctx, (sqlite3_int64)e->idx); break;
    case 1: sqlite3_result_int64(ctx, e->ts); break;
    case 2: sqlite3_result_text(ctx, t->text.data + e->id_off, e->id_len, SQLITE_STATIC); break;
    case 3: sqlite3_result_int64(ctx, e->officer); break;
    case 4: sqlite3_result_int(ctx, e->action); break;
    case 5: sqlite3_result_int(ctx, e->outcome); break;
    case 6: result_id(ctx, e->record); break;
    case 7: result_id(ctx, e->case_id); break;
    case 8: result_id(ctx, e->system); break;
    case 9: result_id(ctx, e->purpose); break;
    case 10: result_id(ctx, e->terminal); break;
    case 11: result_id(ctx, e->area); break;
    default:
        if (e->has_results)
            sqlite3_result_int64(ctx, e->results);
    }
    return SQLITE_OK;
}

static int rows_rowid(sqlite3_vtab_cursor *c, sqlite3_int64 *out)
{
    *out = (sqlite3_int64)((rows_cur *)c)->i;
    return SQLITE_OK;
}

static const sqlite3_module rows_module = {
    .iVersion = 0,
    .xConnect = rows_connect,
    .xBestIndex = rows_best,
    .xDisconnect = rows_disconnect,
    .xOpen = rows_open,
    .xClose = rows_close,
    .xFilter = rows_filter,
    .xNext = rows_next,
    .xEof = rows_eof,
    .xColumn = rows_column,
    .xRowid = rows_rowid,
};

static cu_rc put_events(cu_store *s, const txn *t)
{
    s->src_tx = t;
    cu_rc rc = t->nev ? step_reset(s, s->st[ST_EVENTS], "insert events") : CU_OK;
    s->src_tx = NULL;
    return rc;
}

/* Close posting p, whose text runs from p->off to len in d: a JSON array
 * when it has several offsets, nothing (idxs NULL, the offset in lo) when
 * one.  The new end of the text. */
static size_t post_end(post *p, char *d, size_t len)
{
    if (!p->many) {
        p->len = 0;
        return p->off;
    }
    d[len++] = ']';
    p->len = len - p->off;
    return len;
}

/* Group a sorted key buffer into postings: one per (window, key), its
 * offsets "[o1,o2,...]" ascending in s->ptext (an index listed twice by one
 * event, adjacent after the stable sort, is written once). */
static cu_rc make_posts(cu_store *s, const kbuf *b)
{
    s->npost = 0;
    cu_buf_reset(&s->ptext);
    /* at most 6 digits (offsets below 2^19) and a separator per pair, and
     * a bracket per posting */
    cu_rc rc = cu_buf_reserve(&s->ptext, b->n * ((CU_STORE_WIN_BITS + 2) / 3 + 2) + 1);
    if (rc || (rc = cu_grow(&s->post, &s->postcap, b->n, sizeof *s->post, 1024, false)))
        return rc;
    char *d = s->ptext.data;
    size_t len = 0;
    post *p = NULL;
    for (size_t i = 0; i < b->n; i++) {
        const kpair *kp = &b->v[i];
        uint32_t off = (uint32_t)(kp->idx & WIN_MASK);
        if (p && kp->k == p->k) {
            if (kp->idx == b->v[i - 1].idx)
                continue;
            d[len++] = ',';
            p->many = true;
        } else {
            if (p)
                len = post_end(p, d, len);
            p = &s->post[s->npost++];
            *p = (post){.k = kp->k, .lo = off, .off = len};
            d[len++] = '[';
        }
        len += cu_u64_dec(d + len, off);
    }
    if (p)
        len = post_end(p, d, len);
    d[len] = '\0';
    s->ptext.len = len;
    return CU_OK;
}

/* Write the key pairs of a group of batches as postings, and the windows
 * they reach.  A group's pairs of one table are sorted together (copied
 * one batch after the other into s->gk: the stable sort then keeps each
 * key's indexes in ledger order), so a key has one posting per window. */
static cu_rc flush_keys(cu_store *s, txn *const *g, int ng)
{
    int64_t top = -1;
    cu_rc rc;
    for (int t = 0; t < KT_COUNT_; t++) {
        kbuf *b = &g[0]->kb[t];
        if (ng > 1) {
            size_t total = 0;
            for (int j = 0; j < ng; j++)
                total += g[j]->kb[t].n;
            if ((rc = kb_reserve(&s->gk, total)))
                return rc;
            b = &s->gk;
            b->n = 0;
            for (int j = 0; j < ng; j++) {
                if (!g[j]->kb[t].n) /* its buffer may never have been allocated */
                    continue;
                memcpy(b->v + b->n, g[j]->kb[t].v, g[j]->kb[t].n * sizeof *b->v);
                b->n += g[j]->kb[t].n;
            }
        }
        kb_sort(b, s->count);
        if (b->n && (int64_t)(b->v[b->n - 1].k >> 32) > top)
            top = (int64_t)(b->v[b->n - 1].k >> 32);
        if ((rc = make_posts(s, b)))
            return rc;
        if (s->npost && (rc = step_reset(s, s->st[ST_K_OFFICER + t], "insert postings")))
            return rc;
    }
    for (int64_t w = s->max_win + 1; w <= top; w++) {
        sqlite3_bind_int64(s->st[ST_WINDOW], 1, w);
        if ((rc = run(s, s->st[ST_WINDOW], "insert window")))
            return rc;
    }
    if (top > s->max_win)
        s->max_win = top;
    return CU_OK;
}

cu_rc cu_store_add_alert(cu_store *s, const cu_names *n, const cu_alert *a)
{
    if (!s->in_tx)
        return cu_err_set(CU_ERR_STATE, "store: no transaction open");
    txn *t = &s->tx[s->fill];
    cu_rc rc;
    if ((rc = cu_grow(&t->al, &t->alcap, t->nal + 1, sizeof *t->al, 1024, false)) ||
        (rc = cu_grow(&t->aid, &t->aidcap, t->naid + a->nofficers + a->nsubjects, sizeof *t->aid, 1024, false)))
        return rc;
    arow *r = &t->al[t->nal];
    *r = (arow){.num = a->num, .raised_at = a->raised_at, .first = a->first_event, .last = a->last_event,
                .score = a->score, .json_off = t->text.len, .ids_off = t->naid, .noff = a->nofficers,
                .nsubj = a->nsubjects};
    /* the JSON line as written, without its newline */
    if ((rc = cu_alert_write(n, a, &t->text)))
        return rc;
    r->json_len = t->text.len - r->json_off - 1;
    r->kind_off = t->text.len;
    r->kind_len = strnlen(a->kind, sizeof a->kind);
    if ((rc = cu_buf_append(&t->text, a->kind, r->kind_len)))
        return rc;
    for (uint32_t i = 0; i < a->nofficers; i++)
        use(t, CU_K_OFFICER, a->officers[i]);
    for (uint32_t i = 0; i < a->nsubjects; i++)
        use(t, CU_K_PERSON, a->subjects[i]);
    memcpy(t->aid + t->naid, a->officers, a->nofficers * sizeof *t->aid);
    memcpy(t->aid + t->naid + a->nofficers, a->subjects, a->nsubjects * sizeof *t->aid);
    t->naid += a->nofficers + a->nsubjects;
    t->nal++;
    if (a->num >= s->next_alert)
        s->next_alert = a->num + 1;
    return CU_OK;
}

static cu_rc put_alert(cu_store *s, const txn *t, const arow *a)
{
    sqlite3_stmt *st = s->st[ST_ALERT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)a->num);
    sqlite3_bind_int64(st, 2, a->raised_at);
    sqlite3_bind_text(st, 3, t->text.data + a->kind_off, (int)a->kind_len, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, a->score);
    sqlite3_bind_int64(st, 5, a->first);
    sqlite3_bind_int64(st, 6, a->last);
    sqlite3_bind_text(st, 7, t->text.data + a->json_off, (int)a->json_len, SQLITE_STATIC);
    cu_rc rc;
    if ((rc = run(s, st, "insert alert")))
        return rc;
    for (uint32_t i = 0; i < a->noff + a->nsubj; i++) {
        sqlite3_stmt *x = s->st[i < a->noff ? ST_ALERT_OFF : ST_ALERT_SUBJ];
        sqlite3_bind_int64(x, 1, t->aid[a->ids_off + i]);
        sqlite3_bind_int64(x, 2, (sqlite3_int64)a->num);
        if ((rc = run(s, x, i < a->noff ? "insert alert officer" : "insert alert subject")))
            return rc;
    }
    return CU_OK;
}

/* Write a group of gathered batches (tx[head], tx[head + 1], ... in
 * commit order, ng of them) as one transaction (on the writer thread, or
 * one batch on the caller's when there is none); the buffers are emptied
 * either way.  The index then reaches the last one's `indexed`. */
static cu_rc group_write(cu_store *s, int head, int ng)
{
    uint64_t t0 = cu_mono_ns();
    txn *g[NTX];
    uint32_t used[CU_K_COUNT_] = {0};
    for (int j = 0; j < ng; j++) {
        g[j] = &s->tx[(head + j) % NTX];
        for (int k = 0; k < CU_K_COUNT_; k++)
            if (g[j]->used[k] > used[k])
                used[k] = g[j]->used[k];
    }
    cu_rc rc = exec(s, "BEGIN");
    if (rc)
        goto out;
    /* names first used by these batches (ids below the counts their reader
     * sealed: safe to read while the reader interns more) */
    bool names = false;
    for (int k = 0; k < CU_K_COUNT_; k++)
        names |= used[k] > s->stored[k];
    if (names && !s->names) {
        rc = cu_err_set(CU_ERR_STATE, "store: events use names never synced");
        goto fail;
    }
    if (names && (rc = names_put(s, s->names, used)))
        goto fail;
    for (int j = 0; j < ng; j++) {
        txn *t = g[j];
        if (t->ingest) {
            sqlite3_stmt *st = s->st[ST_INGEST_ADD];
            sqlite3_bind_int64(st, 1, (sqlite3_int64)t->ilo);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)t->ihi);
            sqlite3_bind_int64(st, 3, t->iat);
            if ((rc = run(s, st, "insert ingest")))
                goto fail;
        }
        if ((rc = put_events(s, t)))
            goto fail;
        for (size_t i = 0; i < t->nal; i++)
            if ((rc = put_alert(s, t, &t->al[i])))
                goto fail;
    }
    if ((rc = flush_keys(s, g, ng)))
        goto fail;
    sqlite3_stmt *st = s->st[ST_META];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)g[ng - 1]->indexed);
    sqlite3_bind_text(st, 2, "indexed", -1, SQLITE_STATIC);
    if ((rc = run(s, st, "update meta")) || (rc = exec(s, "COMMIT")))
        goto fail;
    s->indexed = g[ng - 1]->indexed;
    if (names)
        names_stored(s, used);
    goto out;
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    {
        /* windows counted as stored may have been rolled back */
        int64_t v;
        if (query_int(s, "SELECT coalesce(max(win),-1) FROM event_window", &v) == CU_OK)
            s->max_win = v;
    }
out:
    for (int j = 0; j < ng; j++)
        txn_reset(g[j]);
    s->ns_write += cu_mono_ns() - t0;
    return rc;
}

cu_rc cu_store_commit(cu_store *s, uint64_t indexed)
{
    if (!s->in_tx)
        return cu_err_set(CU_ERR_STATE, "store: no transaction open");
    s->in_tx = false;
    txn *t = &s->tx[s->fill];
    t->indexed = indexed;
    struct writer *w = &s->w;
    if (!w->on)
        return group_write(s, s->fill, 1);
    /* queued behind the batches before it; waits only when every buffer
     * is taken (the writer is NTX - 1 batches behind) */
    pthread_mutex_lock(&w->mu);
    w->pending++;
    s->fill = (s->fill + 1) % NTX;
    pthread_cond_broadcast(&w->cv);
    while (w->pending == NTX && !w->err)
        pthread_cond_wait(&w->cv, &w->mu);
    cu_rc rc = w->err;
    if (rc)
        cu_err_set(rc, "%s", w->detail);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void cu_store_rollback(cu_store *s)
{
    /* nothing of a batch reaches SQLite before its commit */
    if (s->in_tx) {
        txn_reset(&s->tx[s->fill]);
        s->in_tx = false;
    }
}

cu_rc cu_store_add_ingest(cu_store *s, uint64_t lo, uint64_t hi, int64_t at)
{
    if (!s->in_tx)
        return cu_err_set(CU_ERR_STATE, "store: no transaction open");
    if (hi < lo)
        return cu_err_set(CU_ERR_INVAL, "store: ingest range [%" PRIu64 ", %" PRIu64 "] is empty", lo, hi);
    txn *t = &s->tx[s->fill];
    t->ingest = true;
    t->ilo = lo;
    t->ihi = hi;
    t->iat = at;
    return CU_OK;
}

/* ------------------------------------------------------------ writer */

static void *writer_main(void *arg)
{
    cu_store *s = arg;
    struct writer *w = &s->w;
    pthread_setname_np(pthread_self(), "cu-store");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->names_job) {
            pthread_mutex_unlock(&w->mu);
            cu_rc rc = names_write(s, w->names, w->counts);
            pthread_mutex_lock(&w->mu);
            w->names_rc = rc;
            if (rc && !w->err) {
                w->err = rc;
                snprintf(w->detail, sizeof w->detail, "%s", cu_err_detail());
            }
            w->names_job = false;
            w->names_done = true;
            pthread_cond_broadcast(&w->cv);
            continue;
        }
        if (w->ref) {
            const cu_ref *ref = w->ref;
            pthread_mutex_unlock(&w->mu);
            cu_rc rc = names_write(s, cu_ref_names(ref), w->ref_counts);
            if (!rc)
                rc = ref_write(s, ref);
            pthread_mutex_lock(&w->mu);
            if (rc && !w->err) {
                w->err = rc;
                snprintf(w->detail, sizeof w->detail, "%s", cu_err_detail());
            }
            w->ref = NULL;
            pthread_cond_broadcast(&w->cv);
            continue;
        }
        /* batches are written GROUP at a time (their postings merged), or
         * as many as wait when someone waits for them or at the end */
        if (w->pending && (w->pending >= GROUP || w->flush || w->stop)) {
            int head = w->head, ng = w->pending < GROUP ? w->pending : GROUP;
            pthread_mutex_unlock(&w->mu);
            /* after a failure the rest are not written (the index stays at
             * the batch boundary before the group) */
            cu_rc rc = w->err;
            if (rc) {
                for (int j = 0; j < ng; j++)
                    txn_reset(&s->tx[(head + j) % NTX]);
            } else {
                rc = group_write(s, head, ng);
            }
            pthread_mutex_lock(&w->mu);
            if (rc && !w->err) {
                w->err = rc;
                snprintf(w->detail, sizeof w->detail, "%s", cu_err_detail());
            }
            w->head = (w->head + ng) % NTX;
            w->pending -= ng;
            pthread_cond_broadcast(&w->cv);
            continue;
        }
        if (w->stop)
            break;
        pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

cu_rc cu_store_writer_start(cu_store *s)
{
    struct writer *w = &s->w;
    if (w->on)
        return CU_OK;
    if (s->in_tx)
        return cu_err_set(CU_ERR_STATE, "store: a batch is open");
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->stop = false;
    w->err = CU_OK;
    w->head = s->fill;
    w->pending = 0;
    w->flush = 0;
    w->ref = NULL;
    if (pthread_create(&w->th, NULL, writer_main, s) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        return cu_err_set(CU_ERR_INTERNAL, "store: cannot start the writer thread");
    }
    w->on = true;
    return CU_OK;
}

/* Wait until the writer has nothing queued; its sticky error. */
static cu_rc settle(cu_store *s)
{
    struct writer *w = &s->w;
    if (!w->on)
        return CU_OK;
    pthread_mutex_lock(&w->mu);
    w->flush++;
    pthread_cond_broadcast(&w->cv);
    while (w->pending || w->names_job || w->ref)
        pthread_cond_wait(&w->cv, &w->mu);
    w->flush--;
    cu_rc rc = w->err;
    if (rc)
        cu_err_set(rc, "%s", w->detail);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

cu_rc cu_store_wait(cu_store *s) { return settle(s); }

static void writer_stop(cu_store *s)
{
    struct writer *w = &s->w;
    if (!w->on)
        return;
    cu_thread_stop(&w->mu, &w->cv, &w->stop, w->th);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    w->on = false;
}

uint64_t cu_store_write_ns(cu_store *s)
{
    (void)settle(s); /* a failure is reported by the next call that writes */
    return s->ns_write;
}

cu_rc cu_store_ingested_at(cu_store *s, uint64_t idx, int64_t *at)
{
    cu_rc src_ = settle(s);
    if (src_)
        return src_;
    sqlite3_stmt *st = s->st[ST_INGEST_GET];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
    int r = sqlite3_step(st);
    cu_rc rc = CU_ERR_NOTFOUND;
    if (r == SQLITE_ROW) {
        if ((uint64_t)sqlite3_column_int64(st, 0) >= idx) {
            *at = sqlite3_column_int64(st, 1);
            rc = CU_OK;
        }
    } else if (r != SQLITE_DONE) {
        rc = dberr(s, "ingest time");
    }
    sqlite3_reset(st);
    return rc;
}

uint64_t cu_store_indexed(cu_store *s)
{
    /* after the batches handed over (not a reference job: it leaves
     * indexed alone); a failed write leaves indexed where it was */
    struct writer *w = &s->w;
    if (!w->on)
        return s->indexed;
    pthread_mutex_lock(&w->mu);
    w->flush++;
    pthread_cond_broadcast(&w->cv);
    while (w->pending)
        pthread_cond_wait(&w->cv, &w->mu);
    w->flush--;
    uint64_t v = s->indexed;
    pthread_mutex_unlock(&w->mu);
    return v;
}
uint64_t cu_store_next_alert(cu_store *s) { return s->next_alert; }

cu_rc cu_store_clear_events(cu_store *s)
{
    cu_rc src_ = s->in_tx ? cu_err_set(CU_ERR_STATE, "store: a batch is open") : settle(s);
    if (src_)
        return src_;
    cu_rc rc = exec(s, "BEGIN; DELETE FROM event; DELETE FROM post_officer; DELETE FROM post_record;"
                       "DELETE FROM post_case; DELETE FROM post_subject; DELETE FROM event_window; DELETE FROM alert;"
                       "DELETE FROM alert_officer; DELETE FROM alert_subject; DELETE FROM ingest;"
                       "UPDATE meta SET value=0 WHERE key='indexed'; COMMIT;");
    if (rc) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    s->indexed = 0;
    s->next_alert = 1;
    s->max_win = -1;
    return CU_OK;
}

/* Version 1 dropped and rebuilt secondary indexes around a bulk load; the
 * key tables need nothing of the kind, so these only record the mode. */
cu_rc cu_store_bulk_begin(cu_store *s)
{
    s->bulk = true;
    return CU_OK;
}

cu_rc cu_store_bulk_end(cu_store *s)
{
    s->bulk = false;
    return CU_OK;
}

/* ----------------------------------------------------------- queries */

static const char *access_cols =
    "SELECT e.idx, e.ts, e.eid, o.name, e.action, r.name, c.name, sy.name, pu.name, e.outcome FROM event e"
    " LEFT JOIN names o ON o.kind=0 AND o.num=e.officer"
    " LEFT JOIN names r ON r.kind=2 AND r.num=e.record"
    " LEFT JOIN names c ON c.kind=3 AND c.num=e.case_"
    " LEFT JOIN names sy ON sy.kind=7 AND sy.num=e.system"
    " LEFT JOIN names pu ON pu.kind=8 AND pu.num=e.purpose ";

static cu_rc run_access(cu_store *s, const char *where, const char *key, int kind, bool range, int64_t from,
                        int64_t to, cu_store_access_fn fn, void *ud)
{
    cu_rc src_ = settle(s);
    if (src_)
        return src_;
    char sql[1024];
    snprintf(sql, sizeof sql, "%s %s", access_cols, where);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(s, "prepare query");
    sqlite3_bind_int(st, 1, kind);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (range) {
        sqlite3_bind_int64(st, 3, from);
        sqlite3_bind_int64(st, 4, to);
    }
    cu_rc rc = CU_OK;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int act = sqlite3_column_int(st, 4);
        cu_store_access a = {
            .idx = (uint64_t)sqlite3_column_int64(st, 0),
            .ts = sqlite3_column_int64(st, 1),
            .event_id = (const char *)sqlite3_column_text(st, 2),
            .officer = (const char *)sqlite3_column_text(st, 3),
            .action = cu_action_name((cu_action)act),
            .record = (const char *)sqlite3_column_text(st, 5),
            .case_id = (const char *)sqlite3_column_text(st, 6),
            .system = (const char *)sqlite3_column_text(st, 7),
            .purpose = (const char *)sqlite3_column_text(st, 8),
            .allowed = sqlite3_column_int(st, 9) == CU_OUT_ALLOW,
        };
        if ((rc = fn(ud, &a)))
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = dberr(s, "query");
    sqlite3_finalize(st);
    return rc;
}

#define NUM_OF "(SELECT num FROM names WHERE kind=?1 AND name=?2)"
/* the events of one key: one seek per window (docs/store.md) */
#define IDX_OF(table, col) \
    "(SELECT idx FROM " table " WHERE win IN (SELECT win FROM event_window) AND " col "=" NUM_OF ")"

cu_rc cu_store_person_accesses(cu_store *s, const char *person, cu_store_access_fn fn, void *ud)
{
    return run_access(s, "WHERE e.idx IN " IDX_OF("event_subject", "person") " ORDER BY e.idx", person, CU_K_PERSON,
                      false, 0, 0, fn, ud);
}

cu_rc cu_store_officer_timeline(cu_store *s, const char *officer, int64_t from, int64_t to, cu_store_access_fn fn,
                                void *ud)
{
    return run_access(s, "WHERE e.idx IN " IDX_OF("event_officer", "officer") " AND e.ts>=?3 AND e.ts<=?4 ORDER BY e.idx",
                      officer, CU_K_OFFICER, true, from, to, fn, ud);
}

cu_rc cu_store_record_accesses(cu_store *s, const char *record, cu_store_access_fn fn, void *ud)
{
    return run_access(s, "WHERE e.idx IN " IDX_OF("event_record", "record") " ORDER BY e.idx", record, CU_K_RECORD,
                      false, 0, 0, fn, ud);
}

cu_rc cu_store_case_accesses(cu_store *s, const char *case_id, cu_store_access_fn fn, void *ud)
{
    return run_access(s, "WHERE e.idx IN " IDX_OF("event_case", "case_") " ORDER BY e.idx", case_id, CU_K_CASE, false,
                      0, 0, fn, ud);
}

static cu_rc run_names(cu_store *s, const char *sql, int kind, const char *key, bool with_t, int64_t t,
                       cu_store_name_fn fn, void *ud)
{
    cu_rc src_ = settle(s);
    if (src_)
        return src_;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(s, "prepare query");
    sqlite3_bind_int(st, 1, kind);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (with_t)
        sqlite3_bind_int64(st, 3, t);
    cu_rc rc = CU_OK;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fn(ud, (const char *)sqlite3_column_text(st, 0))))
            break;
    if (!rc && r != SQLITE_DONE)
        rc = dberr(s, "query");
    sqlite3_finalize(st);
    return rc;
}

cu_rc cu_store_officer_cases_at(cu_store *s, const char *officer, int64_t t, cu_store_name_fn fn, void *ud)
{
    /* the last change at or before t for each case decides */
    static const char *sql =
        "SELECT n.name FROM (SELECT case_, op FROM ref_assignment a WHERE officer=" NUM_OF " AND ts<=?3"
        " AND seq=(SELECT seq FROM ref_assignment b WHERE b.officer=a.officer AND b.case_=a.case_"
        " AND b.ts=(SELECT max(ts) FROM ref_assignment c WHERE c.officer=a.officer AND c.case_=a.case_"
        " AND c.ts<=?3) ORDER BY b.source DESC, b.seq DESC LIMIT 1)) x JOIN names n ON n.kind=3 AND n.num=x.case_ WHERE x.op=1 ORDER BY n.name";
    return run_names(s, sql, CU_K_OFFICER, officer, true, t, fn, ud);
}

cu_rc cu_store_alerts_for(cu_store *s, cu_idkind k, const char *id, cu_store_name_fn fn, void *ud)
{
    const char *sql = k == CU_K_OFFICER
        ? "SELECT a.json FROM alert a JOIN alert_officer x ON x.num=a.num WHERE x.officer=" NUM_OF " ORDER BY a.num"
        : "SELECT a.json FROM alert a JOIN alert_subject x ON x.num=a.num WHERE x.person=" NUM_OF " ORDER BY a.num";
    if (k != CU_K_OFFICER && k != CU_K_PERSON)
        return cu_err_set(CU_ERR_INVAL, "alerts are indexed by officer and person only");
    return run_names(s, sql, k, id, false, 0, fn, ud);
}

cu_rc cu_store_alerts_query(cu_store *s, const cu_store_alert_query *q, cu_store_name_fn fn, void *ud)
{
    cu_rc src_ = settle(s);
    if (src_)
        return src_;
    /* every filter is a bound parameter; an absent one matches all */
    static const char *sql =
        "SELECT a.json FROM alert a WHERE a.raised_at>=?1 AND a.score>=?2 AND (?3 IS NULL OR a.kind=?3)"
        " AND (?4 IS NULL OR a.num IN (SELECT x.num FROM alert_officer x WHERE x.officer="
        "(SELECT num FROM names WHERE kind=?5 AND name=?4)))"
        " ORDER BY a.raised_at DESC, a.num DESC LIMIT ?6";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(s, "prepare alerts query");
    sqlite3_bind_int64(st, 1, q->since);
    sqlite3_bind_double(st, 2, q->min_score);
    if (q->kind)
        sqlite3_bind_text(st, 3, q->kind, -1, SQLITE_STATIC);
    if (q->officer)
        sqlite3_bind_text(st, 4, q->officer, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, CU_K_OFFICER);
    sqlite3_bind_int64(st, 6, q->limit ? q->limit : 100);
    cu_rc rc = CU_OK;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = fn(ud, (const char *)sqlite3_column_text(st, 0))))
            break;
    if (!rc && r != SQLITE_DONE)
        rc = dberr(s, "alerts query");
    sqlite3_finalize(st);
    return rc;
}

cu_rc cu_store_count(cu_store *s, const char *table, uint64_t *out)
{
    cu_rc src_ = settle(s);
    if (src_)
        return src_;
    const char *sql = strcmp(table, "event") == 0           ? "SELECT count(*) FROM event"
                      : strcmp(table, "event_subject") == 0 ? "SELECT count(*) FROM event_subject"
                      : strcmp(table, "alert") == 0         ? "SELECT count(*) FROM alert"
                                                            : NULL;
    if (!sql)
        return cu_err_set(CU_ERR_INVAL, "no such table %s", table);
    int64_t v;
    cu_rc rc = query_int(s, sql, &v);
    *out = (uint64_t)v;
    return rc;
}

/* ------------------------------------------------- the daemon's live stream */

cu_rc cu_store_last_eid_with_prefix(cu_store *s, const char *prefix, char *out, size_t cap)
{
    cu_rc src_ = settle(s);
    if (src_)
        return src_;
    /* newest first along the primary key: stops at the first match, so a
     * recent one is found at once (a full scan only when there is none) */
    sqlite3_stmt *st;
    const char *sql = "SELECT eid FROM event WHERE substr(eid, 1, length(?1)) = ?1 ORDER BY idx DESC LIMIT 1";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(s, sql);
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    cu_rc rc = CU_OK;
    if (r == SQLITE_ROW) {
        const char *e = (const char *)sqlite3_column_text(st, 0);
        if (!e || strlen(e) >= cap)
            rc = cu_err_set(CU_ERR_TOOBIG, "event id longer than %zu bytes", cap - 1);
        else
            memcpy(out, e, strlen(e) + 1);
    } else if (r == SQLITE_DONE) {
        rc = cu_err_set(CU_ERR_NOTFOUND, "no event id starts with %s", prefix);
    } else {
        rc = dberr(s, sql);
    }
    sqlite3_finalize(st);
    return rc;
}
