/* store: the key tables as postings (schema 3).  A pseudo-random stream of
 * events (officers, records, cases, up to three people with repeats) at
 * ledger indexes spread over several windows is indexed in batches of
 * varied sizes, with the writer thread (batches grouped) and without; the
 * pairs read back through the views (event_officer, event_record,
 * event_case, event_subject) must be exactly the pairs the events carry,
 * no more, no fewer, and each stored posting must be well formed (offsets
 * ascending, lo its first; one offset: lo alone, idxs NULL).  A writer killed with batches still queued
 * leaves the index at a batch boundary with exactly the pairs before it.
 * A version-2 store (one row per pair, windows of 2^16) is migrated in
 * place and answers as before. */
#include "harness.h"

#include "custos/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NEV 3000
#define STEP 877 /* ledger indexes between events: NEV events span many windows */

struct tev {
    uint64_t idx;
    int officer, record, case_, nsubj, subj[3];
};
static struct tev evs[NEV];

static void make_stream(void)
{
    uint64_t r = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < NEV; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        struct tev *e = &evs[i];
        e->idx = (uint64_t)i * STEP + r % 5;
        e->officer = (int)(r >> 8) % 7;
        e->record = (r >> 12) % 3 == 0 ? -1 : (int)((r >> 16) % 50);
        e->case_ = (r >> 24) % 2 ? -1 : (int)((r >> 28) % 5);
        e->nsubj = (int)((r >> 32) % 4);
        for (int j = 0; j < e->nsubj; j++)
            e->subj[j] = (int)((r >> (36 + 6 * j)) % 40);
        if (e->nsubj == 3 && (r >> 60) % 2)
            e->subj[2] = e->subj[0]; /* a person listed twice: one pair */
    }
}

static cu_names *names;
static cu_id subj[CU_EVENT_MAX_SUBJECTS];
static cu_event ev = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};

static void add_ev(cu_store *s, int i)
{
    const struct tev *e = &evs[i];
    char ts[21], rec[16] = "null", cas[16] = "null", sub[64] = "", line[512];
    cu_time_format(1704067200 + (int64_t)e->idx, ts);
    if (e->record >= 0)
        snprintf(rec, sizeof rec, "\"R%d\"", e->record);
    if (e->case_ >= 0)
        snprintf(cas, sizeof cas, "\"C%d\"", e->case_);
    for (int j = 0; j < e->nsubj; j++)
        snprintf(sub + strlen(sub), sizeof sub - strlen(sub), "%s\"P%d\"", j ? "," : "", e->subj[j]);
    snprintf(line, sizeof line,
             "{\"kind\":\"access\",\"id\":\"E%d\",\"ts\":\"%s\",\"officer\":\"O%d\",\"system\":\"PNC\","
             "\"action\":\"view\",\"record\":%s,\"subjects\":[%s],\"case\":%s,\"outcome\":\"allow\"}",
             i, ts, e->officer, rec, sub, cas);
    CHECK_OK(cu_event_parse(names, line, strlen(line), &ev));
    CHECK_OK(cu_store_add_event(s, e->idx, &ev));
}

/* batch boundaries: event numbers where a batch starts (varied sizes) */
static int bounds[NEV + 1], nb;

static void make_bounds(void)
{
    nb = 0;
    for (int i = 0; i < NEV; nb++) {
        bounds[nb] = i;
        i += 1 + (nb * 37) % 211;
    }
    bounds[nb] = NEV;
}

/* index batches [from, to) of the stream */
static void index_batches(cu_store *s, int from, int to)
{
    for (int b = from; b < to; b++) {
        CHECK_OK(cu_store_begin(s));
        for (int i = bounds[b]; i < bounds[b + 1]; i++)
            add_ev(s, i);
        CHECK_OK(cu_store_sync_people(s, names, NULL));
        CHECK_OK(cu_store_commit(s, evs[bounds[b + 1] - 1].idx + 1));
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The pairs of one key table as (key number << 32 | position of idx in
 * evs), sorted: expected from the stream (events before `upto`), and read
 * back through the table's view. */
static size_t expected(int t, int upto, uint64_t *out)
{
    size_t n = 0;
    for (int i = 0; i < upto; i++) {
        const struct tev *e = &evs[i];
        int keys[3], nk = 0;
        char name[16];
        cu_idkind k = t == 0 ? CU_K_OFFICER : t == 1 ? CU_K_RECORD : t == 2 ? CU_K_CASE : CU_K_PERSON;
        if (t == 0)
            keys[nk++] = e->officer;
        else if (t == 1 && e->record >= 0)
            keys[nk++] = e->record;
        else if (t == 2 && e->case_ >= 0)
            keys[nk++] = e->case_;
        else if (t == 3)
            for (int j = 0; j < e->nsubj; j++) {
                bool seen = false; /* a person listed twice is one pair */
                for (int m = 0; m < j; m++)
                    seen |= e->subj[m] == e->subj[j];
                if (!seen)
                    keys[nk++] = e->subj[j];
            }
        for (int j = 0; j < nk; j++) {
            snprintf(name, sizeof name, "%c%d", "ORCP"[t], keys[j]);
            cu_id id;
            CHECK_OK(cu_names_intern(names, k, name, strlen(name), &id));
            out[n++] = (uint64_t)id << 32 | (uint64_t)i;
        }
    }
    qsort(out, n, sizeof *out, cmp_u64);
    return n;
}

static int pos_of(uint64_t idx)
{
    for (int lo = 0, hi = NEV - 1; lo <= hi;) {
        int m = (lo + hi) / 2;
        if (evs[m].idx == idx)
            return m;
        if (evs[m].idx < idx)
            lo = m + 1;
        else
            hi = m - 1;
    }
    return -1;
}

static const char *const views[4][2] = {
    {"event_officer", "officer"}, {"event_record", "record"}, {"event_case", "case_"}, {"event_subject", "person"}};
static const char *const posts[4] = {"post_officer", "post_record", "post_case", "post_subject"};

static int64_t one_int(sqlite3 *d, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        CHECK_MSG(0, "%s: %s", sql, sqlite3_errmsg(d));
    sqlite3_finalize(st);
    return v;
}

/* Everything read back through the views equals the stream's pairs before
 * `upto`; every posting is well formed.  Returns the posting rows. */
static int64_t check_store(const char *db, int upto)
{
    static uint64_t want[NEV * 4], got[NEV * 4];
    sqlite3 *d;
    CHECK(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    int64_t rows = 0;
    for (int t = 0; t < 4; t++) {
        size_t nw = expected(t, upto, want), ng = 0;
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT %s, idx FROM %s WHERE win IN (SELECT win FROM event_window)", views[t][1],
                 views[t][0]);
        sqlite3_stmt *st;
        CHECK(sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW && ng < NEV * 4) {
            int p = pos_of((uint64_t)sqlite3_column_int64(st, 1));
            CHECK_MSG(p >= 0, "%s: idx %lld is no event's", views[t][0], (long long)sqlite3_column_int64(st, 1));
            got[ng++] = (uint64_t)sqlite3_column_int64(st, 0) << 32 | (uint64_t)(p < 0 ? 0 : p);
        }
        sqlite3_finalize(st);
        qsort(got, ng, sizeof *got, cmp_u64);
        CHECK_MSG(ng == nw, "%s: %zu pairs stored, %zu carried by the events", views[t][0], ng, nw);
        size_t bad = 0;
        for (size_t i = 0; i < ng && i < nw; i++)
            bad += got[i] != want[i];
        CHECK_MSG(bad == 0, "%s: %zu pairs differ", views[t][0], bad);
        /* each posting: offsets strictly ascending, inside the window, lo
         * the first; an array only for two or more */
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM %s k, json_each(k.idxs) a, json_each(k.idxs) b WHERE b.key = a.key + 1 AND"
                 " b.value <= a.value",
                 posts[t]);
        CHECK_INT(one_int(d, sql), 0);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM %s k WHERE k.lo <> json_extract(k.idxs, '$[0]') OR json_type(k.idxs) <> 'array'"
                 " OR json_array_length(k.idxs) < 2 OR (SELECT max(value) FROM json_each(coalesce(k.idxs, k.lo))) >= %llu",
                 posts[t], (unsigned long long)1 << CU_STORE_WIN_BITS);
        CHECK_INT(one_int(d, sql), 0);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", posts[t]);
        rows += one_int(d, sql);
    }
    sqlite3_close(d);
    return rows;
}

struct acc {
    int n;
    uint64_t last;
    bool ordered;
};

static cu_rc cb_count(void *ud, const cu_store_access *a)
{
    struct acc *h = ud;
    if (h->n && a->idx <= h->last)
        h->ordered = false;
    h->last = a->idx;
    h->n++;
    return CU_OK;
}

static void store_path(char *db, size_t cap, const char *name)
{
    snprintf(db, cap, "%s/%s", cu_test_tmpdir(), name);
    remove(db);
    char x[1100];
    snprintf(x, sizeof x, "%s-wal", db);
    remove(x);
    snprintf(x, sizeof x, "%s-shm", db);
    remove(x);
}

TEST(postings_hold_exactly_the_pairs)
{
    make_stream();
    make_bounds();
    CHECK_OK(cu_names_new(&names));
    char db[1024];
    int64_t rows[2];
    for (int writer = 0; writer < 2; writer++) {
        store_path(db, sizeof db, writer ? "post_w.db" : "post.db");
        cu_store *s;
        CHECK_OK(cu_store_open(db, &s));
        if (writer)
            CHECK_OK(cu_store_writer_start(s));
        index_batches(s, 0, nb);
        CHECK_INT(cu_store_indexed(s), evs[NEV - 1].idx + 1);
        /* the store's own queries read the postings too */
        struct acc h = {0, 0, true};
        CHECK_OK(cu_store_person_accesses(s, "P7", cb_count, &h));
        uint64_t want[NEV * 4];
        size_t nw = expected(3, NEV, want), np7 = 0;
        cu_id p7;
        CHECK_OK(cu_names_intern(names, CU_K_PERSON, "P7", 2, &p7));
        for (size_t i = 0; i < nw; i++)
            np7 += want[i] >> 32 == p7;
        CHECK_INT(h.n, np7);
        CHECK(h.ordered);
        cu_store_close(s);
        rows[writer] = check_store(db, NEV);
    }
    /* postings group pairs: fewer rows than pairs, fewer still when the
     * writer merges batches */
    uint64_t all[NEV * 4];
    size_t pairs = 0;
    for (int t = 0; t < 4; t++)
        pairs += expected(t, NEV, all);
    CHECK_MSG(rows[0] < (int64_t)pairs && rows[1] < rows[0], "rows %lld / %lld for %zu pairs", (long long)rows[0],
              (long long)rows[1], pairs);
    cu_names_free(names);
}

/* A process whose writer still holds batches (fewer than a group, or a
 * group being written) dies: the store reopens at a batch boundary with
 * exactly the pairs of the events before it, and indexing the rest (what
 * recovery does from the ledger) completes it. */
TEST(killed_writer_leaves_a_batch_boundary)
{
    make_stream();
    make_bounds();
    char db[1024];
    store_path(db, sizeof db, "post_kill.db");
    for (int round = 0; round < 2; round++) {
        CHECK_OK(cu_names_new(&names));
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            cu_store *s;
            if (cu_store_open(db, &s) || cu_store_writer_start(s))
                _exit(2);
            index_batches(s, 0, round ? nb : 12);
            _exit(0); /* no close: what is queued is lost */
        }
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        cu_store *s;
        CHECK_OK(cu_store_open(db, &s));
        CHECK_OK(cu_store_load_names(s, names));
        uint64_t ix = cu_store_indexed(s);
        int b = 0;
        while (b < nb && evs[bounds[b + 1] - 1].idx + 1 <= ix)
            b++;
        CHECK_MSG(ix == 0 || evs[bounds[b] - 1].idx + 1 == ix, "indexed %llu is no batch boundary",
                  (unsigned long long)ix);
        cu_store_close(s);
        check_store(db, bounds[b]);
        /* recovery: the batches after the boundary indexed again */
        CHECK_OK(cu_store_open(db, &s));
        CHECK_OK(cu_store_writer_start(s));
        index_batches(s, b, nb);
        cu_store_close(s);
        check_store(db, NEV);
        cu_names_free(names);
        store_path(db, sizeof db, "post_kill.db");
    }
}

/* A version-2 store: key tables of one row per pair in windows of 2^16. */
TEST(version_2_store_is_migrated)
{
    make_stream();
    char db[1024];
    store_path(db, sizeof db, "v2.db");
    CHECK_OK(cu_names_new(&names));
    sqlite3 *d;
    CHECK(sqlite3_open(db, &d) == SQLITE_OK);
    CHECK(sqlite3_exec(d,
                       "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                       "CREATE TABLE names(kind INTEGER NOT NULL, num INTEGER NOT NULL, name TEXT NOT NULL,"
                       "  PRIMARY KEY(kind, num)) WITHOUT ROWID;"
                       "CREATE UNIQUE INDEX names_name ON names(kind, name);"
                       "CREATE TABLE event(idx INTEGER PRIMARY KEY, ts INTEGER NOT NULL, eid TEXT NOT NULL,"
                       "  officer INTEGER NOT NULL, action INTEGER NOT NULL, outcome INTEGER NOT NULL, record INTEGER,"
                       "  case_ INTEGER, system INTEGER, purpose INTEGER, terminal INTEGER, area INTEGER, results INTEGER);"
                       "CREATE TABLE event_officer(win INTEGER NOT NULL, officer INTEGER NOT NULL, idx INTEGER NOT NULL,"
                       "  PRIMARY KEY(win, officer, idx)) WITHOUT ROWID;"
                       "CREATE TABLE event_record(win INTEGER NOT NULL, record INTEGER NOT NULL, idx INTEGER NOT NULL,"
                       "  PRIMARY KEY(win, record, idx)) WITHOUT ROWID;"
                       "CREATE TABLE event_case(win INTEGER NOT NULL, case_ INTEGER NOT NULL, idx INTEGER NOT NULL,"
                       "  PRIMARY KEY(win, case_, idx)) WITHOUT ROWID;"
                       "CREATE TABLE event_subject(win INTEGER NOT NULL, person INTEGER NOT NULL, idx INTEGER NOT NULL,"
                       "  PRIMARY KEY(win, person, idx)) WITHOUT ROWID;"
                       "CREATE TABLE event_window(win INTEGER PRIMARY KEY);"
                       "PRAGMA user_version=2;",
                       NULL, NULL, NULL) == SQLITE_OK);
    /* the stream's events and pairs as version 2 wrote them */
    sqlite3_stmt *ins[6];
    static const char *const sql[6] = {
        ("INSERT INTO event(idx, ts, eid, officer, action, outcome, record, case_, system) VALUES(?1, ?1, 'E' || ?2, ?3,"
         " 1, 0, ?4, ?5, 0)"),
        "INSERT OR IGNORE INTO event_officer VALUES(?1 >> 16, ?2, ?1)",
        "INSERT OR IGNORE INTO event_record VALUES(?1 >> 16, ?2, ?1)",
        "INSERT OR IGNORE INTO event_case VALUES(?1 >> 16, ?2, ?1)",
        "INSERT OR IGNORE INTO event_subject VALUES(?1 >> 16, ?2, ?1)",
        "INSERT OR IGNORE INTO names VALUES(?1, ?2, ?3)",
    };
    for (int i = 0; i < 6; i++)
        CHECK(sqlite3_prepare_v2(d, sql[i], -1, &ins[i], NULL) == SQLITE_OK);
    CHECK(sqlite3_exec(d, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    cu_id pnc;
    CHECK_OK(cu_names_intern(names, CU_K_SYSTEM, "PNC", 3, &pnc));
    for (int i = 0; i < NEV; i++) {
        const struct tev *e = &evs[i];
        int keys[4][4], nk[4] = {0};
        keys[0][nk[0]++] = e->officer;
        if (e->record >= 0)
            keys[1][nk[1]++] = e->record;
        if (e->case_ >= 0)
            keys[2][nk[2]++] = e->case_;
        for (int j = 0; j < e->nsubj; j++)
            keys[3][nk[3]++] = e->subj[j];
        cu_id ids[4][4];
        for (int t = 0; t < 4; t++)
            for (int j = 0; j < nk[t]; j++) {
                char name[16];
                snprintf(name, sizeof name, "%c%d", "ORCP"[t], keys[t][j]);
                cu_idkind k = t == 0 ? CU_K_OFFICER : t == 1 ? CU_K_RECORD : t == 2 ? CU_K_CASE : CU_K_PERSON;
                CHECK_OK(cu_names_intern(names, k, name, strlen(name), &ids[t][j]));
                sqlite3_bind_int(ins[5], 1, k);
                sqlite3_bind_int64(ins[5], 2, ids[t][j]);
                sqlite3_bind_text(ins[5], 3, name, -1, SQLITE_TRANSIENT);
                CHECK(sqlite3_step(ins[5]) == SQLITE_DONE);
                sqlite3_reset(ins[5]);
                sqlite3_bind_int64(ins[1 + t], 1, (sqlite3_int64)e->idx);
                sqlite3_bind_int64(ins[1 + t], 2, ids[t][j]);
                CHECK(sqlite3_step(ins[1 + t]) == SQLITE_DONE);
                sqlite3_reset(ins[1 + t]);
            }
        sqlite3_bind_int64(ins[0], 1, (sqlite3_int64)e->idx);
        sqlite3_bind_int(ins[0], 2, i);
        sqlite3_bind_int64(ins[0], 3, ids[0][0]);
        if (nk[1])
            sqlite3_bind_int64(ins[0], 4, ids[1][0]);
        else
            sqlite3_bind_null(ins[0], 4);
        if (nk[2])
            sqlite3_bind_int64(ins[0], 5, ids[2][0]);
        else
            sqlite3_bind_null(ins[0], 5);
        CHECK(sqlite3_step(ins[0]) == SQLITE_DONE);
        sqlite3_reset(ins[0]);
    }
    char q[256];
    snprintf(q, sizeof q,
             "INSERT INTO names VALUES(%d, %u, 'PNC');"
             "INSERT INTO event_window WITH RECURSIVE w(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM w WHERE x < %llu)"
             " SELECT x FROM w; INSERT INTO meta VALUES('indexed', %llu); COMMIT;",
             CU_K_SYSTEM, pnc, (unsigned long long)(evs[NEV - 1].idx >> 16), (unsigned long long)evs[NEV - 1].idx + 1);
    CHECK(sqlite3_exec(d, q, NULL, NULL, NULL) == SQLITE_OK);
    for (int i = 0; i < 6; i++)
        sqlite3_finalize(ins[i]);
    sqlite3_close(d);
    cu_names_free(names);
    /* opened: migrated, with the same pairs and the same answers */
    CHECK_OK(cu_names_new(&names));
    cu_store *s;
    CHECK_OK(cu_store_open(db, &s));
    CHECK_INT(cu_store_schema_version(s), CU_STORE_SCHEMA_VERSION);
    CHECK_OK(cu_store_load_names(s, names));
    CHECK_INT(cu_store_indexed(s), evs[NEV - 1].idx + 1);
    struct acc h = {0, 0, true};
    CHECK_OK(cu_store_officer_timeline(s, "O3", INT64_MIN, INT64_MAX, cb_count, &h));
    int n3 = 0;
    for (int i = 0; i < NEV; i++)
        n3 += evs[i].officer == 3;
    CHECK_INT(h.n, n3);
    CHECK(h.ordered);
    /* and it goes on indexing in the new layout */
    CHECK_OK(cu_store_begin(s));
    CHECK_OK(cu_store_commit(s, evs[NEV - 1].idx + 1));
    cu_store_close(s);
    check_store(db, NEV);
    sqlite3 *d2;
    CHECK(sqlite3_open_v2(db, &d2, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    CHECK_INT(one_int(d2, "SELECT count(*) FROM event_window"), (evs[NEV - 1].idx >> CU_STORE_WIN_BITS) + 1);
    CHECK_INT(one_int(d2, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'event_subject'"), 0);
    sqlite3_close(d2);
    cu_names_free(names);
}
