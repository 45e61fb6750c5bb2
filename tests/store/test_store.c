/* store: the windowed key tables (postings since schema 3) on their own.  Events are added
 * at ledger indexes chosen to span several windows (2^CU_STORE_WIN_BITS),
 * in big and in small (daemon-like) batches, a person listed twice, a batch
 * rolled back and added again, the index cleared and rebuilt; each lookup
 * (person, officer with a time range, record, case) must give exactly the
 * events of its key in ledger order, and its plan must seek per window.  An old (version 1) store is refused
 * with a message saying how to rebuild it.  With the writer thread: the
 * same contents, names committed on return, a batch handed over at close
 * still written, a failed write reported by the calls after it. */
#include "harness.h"

#include "custos/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define W ((uint64_t)1 << CU_STORE_WIN_BITS)

struct hits {
    int n;
    uint64_t idx[64];
    char ids[64][24];
};

static cu_rc collect(void *ud, const cu_store_access *a)
{
    struct hits *h = ud;
    if (h->n < 64) {
        h->idx[h->n] = a->idx;
        snprintf(h->ids[h->n], sizeof h->ids[0], "%s", a->event_id);
        h->n++;
    }
    return CU_OK;
}

static cu_names *names;
static cu_id subj[CU_EVENT_MAX_SUBJECTS];
static cu_event ev = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};

/* event number k at ts 1704067200 + idx, officer O<k%3>, person lists, record R<k%2>,
 * case C1 for even k */
static void add(cu_store *s, uint64_t idx, int k, const char *subjects)
{
    char line[512];
    snprintf(line, sizeof line,
             "{\"kind\":\"access\",\"id\":\"E%d\",\"ts\":%lld,\"officer\":\"O%d\",\"system\":\"PNC\","
             "\"action\":\"view\",\"record\":\"R%d\",\"subjects\":[%s],\"case\":%s,\"outcome\":\"allow\"}",
             k, 0LL, k % 3, k % 2, subjects, k % 2 == 0 ? "\"C1\"" : "null");
    /* ts as RFC 3339: the parser wants a string */
    char ts[21];
    cu_time_format(1704067200 + (int64_t)idx, ts);
    char *p = strstr(line, "\"ts\":0");
    char fixed[600];
    snprintf(fixed, sizeof fixed, "%.*s\"ts\":\"%s\"%s", (int)(p - line), line, ts, p + 6);
    CHECK_OK(cu_event_parse(names, fixed, strlen(fixed), &ev));
    CHECK_OK(cu_store_sync_names(s, names, NULL));
    CHECK_OK(cu_store_add_event(s, idx, &ev));
}

static struct hits q(cu_store *s, char what, const char *key)
{
    struct hits h = {0};
    cu_rc rc = what == 'p'   ? cu_store_person_accesses(s, key, collect, &h)
               : what == 'o' ? cu_store_officer_timeline(s, key, INT64_MIN, INT64_MAX, collect, &h)
               : what == 'r' ? cu_store_record_accesses(s, key, collect, &h)
                             : cu_store_case_accesses(s, key, collect, &h);
    CHECK_OK(rc);
    return h;
}

/* the indexes used, by event number k: idx[k] */
static const uint64_t idxs[] = {0, 1, 2, W - 2, W - 1, W, W + 1, 3 * W + 5, 3 * W + 6, 3 * W + 7};
#define NIDX (sizeof idxs / sizeof idxs[0])

static void fill(cu_store *s)
{
    /* one batch across windows 0 and 1, then small batches, window 2 skipped */
    CHECK_OK(cu_store_begin(s));
    for (int k = 0; k < 7; k++)
        add(s, idxs[k], k, k == 4 ? "\"P1\",\"P2\",\"P1\"" : k % 2 ? "\"P1\"" : "\"P2\"");
    CHECK_OK(cu_store_commit(s, idxs[6] + 1));
    for (int k = 7; k < (int)NIDX; k++) {
        CHECK_OK(cu_store_begin(s));
        add(s, idxs[k], k, "\"P1\"");
        CHECK_OK(cu_store_commit(s, idxs[k] + 1));
    }
}

static void check_all(cu_store *s)
{
    /* P1: k odd among 0..6, k == 4 (listed twice: once), and 7, 8, 9 */
    struct hits h = q(s, 'p', "P1");
    static const int p1[] = {1, 3, 4, 5, 7, 8, 9};
    CHECK_INT(h.n, 7);
    for (int i = 0; i < h.n && i < 7; i++)
        CHECK_INT(h.idx[i], idxs[p1[i]]);
    h = q(s, 'p', "P2");
    CHECK_INT(h.n, 4); /* 0 2 4 6 */
    CHECK_INT(h.idx[3], idxs[6]);
    /* O1: k = 1, 4, 7 */
    h = q(s, 'o', "O1");
    CHECK_INT(h.n, 3);
    CHECK_STR(h.ids[0], "E1");
    CHECK_STR(h.ids[1], "E4");
    CHECK_STR(h.ids[2], "E7");
    /* the time range cuts by event time (ts = base + idx) */
    struct hits r = {0};
    CHECK_OK(cu_store_officer_timeline(s, "O1", 1704067200 + (int64_t)W, 1704067200 + (int64_t)(3 * W + 5), collect,
                                       &r));
    CHECK_INT(r.n, 1);
    CHECK_STR(r.ids[0], "E7");
    h = q(s, 'r', "R0");
    CHECK_INT(h.n, 5); /* 0 2 4 6 8 */
    CHECK_INT(h.idx[4], idxs[8]);
    h = q(s, 'c', "C1");
    CHECK_INT(h.n, 5);
    h = q(s, 'o', "O9");
    CHECK_INT(h.n, 0);
    uint64_t cnt;
    CHECK_OK(cu_store_count(s, "event", &cnt));
    CHECK_INT(cnt, NIDX);
    CHECK_OK(cu_store_count(s, "event_subject", &cnt));
    CHECK_INT(cnt, 11); /* one per event, two for k == 4 */
}

TEST(key_tables_across_windows)
{
    char db[1024];
    snprintf(db, sizeof db, "%s/keys.db", cu_test_tmpdir());
    remove(db);
    cu_store *s;
    CHECK_OK(cu_names_new(&names));
    CHECK_OK(cu_store_open(db, &s));
    CHECK_INT(cu_store_schema_version(s), CU_STORE_SCHEMA_VERSION);
    fill(s);
    check_all(s);
    /* a batch rolled back leaves no key and no window behind */
    CHECK_OK(cu_store_begin(s));
    add(s, 6 * W, 10, "\"P1\"");
    add(s, 6 * W + 1, 13, "\"P1\"");
    cu_store_rollback(s);
    check_all(s);
    CHECK_INT(cu_store_indexed(s), 3 * W + 8);
    /* the same indexes again, committed: no conflict with the discarded pairs */
    CHECK_OK(cu_store_begin(s));
    add(s, 6 * W, 10, "\"P1\"");
    CHECK_OK(cu_store_commit(s, 6 * W + 1));
    struct hits h = q(s, 'p', "P1");
    CHECK_INT(h.n, 8);
    CHECK_INT(h.idx[7], 6 * W);
    cu_store_close(s);
    /* reopened: the windows are read back */
    CHECK_OK(cu_store_open(db, &s));
    h = q(s, 'o', "O1");
    CHECK_INT(h.n, 4);
    CHECK_STR(h.ids[3], "E10");
    /* cleared and rebuilt (what recovery does when the ledger was replaced) */
    CHECK_OK(cu_store_clear_events(s));
    h = q(s, 'p', "P1");
    CHECK_INT(h.n, 0);
    fill(s);
    check_all(s);
    cu_store_close(s);
    cu_names_free(names);
    /* the lookup form the store and the console use seeks per window on
     * the postings' primary key (no scan of a postings table or of event;
     * the one scan is json_each's, over one posting's offsets) */
    sqlite3 *d;
    CHECK(sqlite3_open(db, &d) == SQLITE_OK);
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(d,
                             "EXPLAIN QUERY PLAN SELECT e.ts FROM event e WHERE e.idx IN (SELECT idx FROM event_subject"
                             " WHERE win IN (SELECT win FROM event_window) AND person = ?1) ORDER BY e.idx",
                             -1, &st, NULL) == SQLITE_OK);
    char plan[2048] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        strncat(plan, (const char *)sqlite3_column_text(st, 3), sizeof plan - strlen(plan) - 2);
        strcat(plan, ";");
    }
    sqlite3_finalize(st);
    sqlite3_close(d);
    const char *scan = strstr(plan, "SCAN");
    CHECK_MSG(strstr(plan, "SEARCH k USING PRIMARY KEY (win=? AND person=?)") && scan &&
                  strncmp(scan, "SCAN j VIRTUAL TABLE", 20) == 0 && !strstr(scan + 4, "SCAN"),
              "plan: %s", plan);
}

TEST(old_schema_refused_with_how_to_rebuild)
{
    char db[1024];
    snprintf(db, sizeof db, "%s/v1.db", cu_test_tmpdir());
    remove(db);
    sqlite3 *d;
    CHECK(sqlite3_open(db, &d) == SQLITE_OK);
    CHECK(sqlite3_exec(d, "CREATE TABLE event(idx INTEGER PRIMARY KEY); PRAGMA user_version=1", NULL, NULL, NULL) ==
          SQLITE_OK);
    sqlite3_close(d);
    cu_store *s = NULL;
    CHECK_RC(cu_store_open(db, &s), CU_ERR_UNSUPPORTED);
    CHECK(s == NULL);
    CHECK_MSG(strstr(cu_err_detail(), "version 1") && strstr(cu_err_detail(), "rebuilt from the ledger"),
              "detail: %s", cu_err_detail());
}

static int count_rows(const char *db, const char *sql)
{
    /* another connection: sees only what is committed */
    sqlite3 *d;
    int n = -1;
    if (sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(d);
    return n;
}

static cu_rc first_json(void *ud, const char *json)
{
    char *out = ud;
    if (!out[0])
        snprintf(out, 512, "%s", json);
    return CU_OK;
}

/* The writer thread: the same contents as writing on the caller's thread,
 * names committed when cu_store_sync_names returns, batches handed over
 * but not yet written are written at close, and a failed write is returned
 * by every later call and leaves nothing of its batch. */
TEST(writer_thread_orders_and_reports)
{
    char db[1024];
    snprintf(db, sizeof db, "%s/writer.db", cu_test_tmpdir());
    remove(db);
    cu_store *s;
    CHECK_OK(cu_names_new(&names));
    CHECK_OK(cu_store_open(db, &s));
    CHECK_OK(cu_store_writer_start(s));
    fill(s);
    check_all(s); /* queries wait for the writer */
    CHECK_INT(cu_store_indexed(s), 3 * W + 8);

    /* names: committed (seen by another connection) on return */
    cu_id id;
    CHECK_OK(cu_names_intern(names, CU_K_PERSON, "P-new", 5, &id));
    CHECK_OK(cu_store_sync_names(s, names, NULL));
    CHECK_INT(count_rows(db, "SELECT count(*) FROM names WHERE name = 'P-new'"), 1);

    /* an alert and an ingest time travel with their batch */
    static cu_alert a;
    cu_alert_clear(&a);
    a.num = 1;
    a.raised_at = 1704067200;
    snprintf(a.kind, sizeof a.kind, "protected-person");
    a.score = 0.9;
    cu_alert_add_officer(&a, cu_names_find(names, CU_K_OFFICER, "O1", 2));
    cu_alert_add_subject(&a, cu_names_find(names, CU_K_PERSON, "P1", 2));
    cu_alert_add_event(&a, "E20", 1704067200);
    cu_alert_add_reason(&a, "a reason");
    CHECK_OK(cu_store_begin(s));
    add(s, 4 * W, 20, "\"P1\"");
    CHECK_OK(cu_store_add_alert(s, names, &a));
    CHECK_OK(cu_store_add_ingest(s, 4 * W, 4 * W, 1800000000));
    CHECK_OK(cu_store_commit(s, 4 * W + 1));
    char json[512] = "";
    CHECK_OK(cu_store_alerts_for(s, CU_K_OFFICER, "O1", first_json, json));
    CHECK_MSG(strstr(json, "\"A1\"") && strstr(json, "a reason"), "alert: %s", json);
    int64_t at = 0;
    CHECK_OK(cu_store_ingested_at(s, 4 * W, &at));
    CHECK_INT(at, 1800000000);
    CHECK_INT(cu_store_next_alert(s), 2);

    /* rolled back: nothing of it */
    CHECK_OK(cu_store_begin(s));
    add(s, 5 * W, 21, "\"P1\"");
    cu_store_rollback(s);
    struct hits h = q(s, 'p', "P1");
    CHECK_INT(h.n, 8);
    CHECK_INT(h.idx[7], 4 * W);

    /* only people synced before: the officer and record the batch
     * introduces are written with it */
    static const char late[] =
        "{\"kind\":\"access\",\"id\":\"E50\",\"ts\":\"2024-03-01T00:00:00Z\",\"officer\":\"O5\","
        "\"system\":\"PNC\",\"action\":\"view\",\"record\":\"R-late\",\"subjects\":[\"P9\"],\"outcome\":\"allow\"}";
    CHECK_OK(cu_event_parse(names, late, strlen(late), &ev));
    CHECK_OK(cu_store_begin(s));
    CHECK_OK(cu_store_sync_people(s, names, NULL));
    CHECK_INT(count_rows(db, "SELECT count(*) FROM names WHERE name = 'P9'"), 1);
    CHECK_INT(count_rows(db, "SELECT count(*) FROM names WHERE name = 'O5'"), 0);
    CHECK_OK(cu_store_add_event(s, 6 * W, &ev));
    CHECK_OK(cu_store_commit(s, 6 * W + 1));
    h = q(s, 'o', "O5");
    CHECK_INT(h.n, 1);
    CHECK_STR(h.ids[0], "E50");
    h = q(s, 'r', "R-late");
    CHECK_INT(h.n, 1);
    CHECK_INT(count_rows(db, "SELECT count(*) FROM names WHERE name = 'O5'"), 1);

    /* handed over, then closed at once: written before the thread ends */
    CHECK_OK(cu_store_begin(s));
    add(s, 7 * W, 22, "\"P1\"");
    CHECK_OK(cu_store_commit(s, 7 * W + 1));
    cu_store_close(s);
    CHECK_OK(cu_store_open(db, &s));
    CHECK_INT(cu_store_indexed(s), 7 * W + 1);
    h = q(s, 'p', "P1");
    CHECK_INT(h.n, 9);
    CHECK_INT(h.idx[8], 7 * W);


    /* a failed write (an index already taken): returned by the next calls,
     * its batch left out whole, the index where it was */
    CHECK_OK(cu_store_writer_start(s));
    CHECK_OK(cu_store_begin(s));
    add(s, 8 * W, 23, "\"P2\"");
    add(s, 0, 24, "\"P2\"");
    CHECK_OK(cu_store_commit(s, 8 * W + 1)); /* handed over */
    CHECK(cu_store_wait(s) != CU_OK);
    CHECK(cu_store_begin(s) != CU_OK);
    uint64_t cnt;
    CHECK(cu_store_count(s, "event", &cnt) != CU_OK);
    cu_store_close(s);
    CHECK_OK(cu_store_open(db, &s));
    CHECK_INT(cu_store_indexed(s), 7 * W + 1);
    h = q(s, 'p', "P2");
    CHECK_INT(h.n, 4);
    CHECK_OK(cu_store_count(s, "event", &cnt));
    CHECK_INT(cnt, NIDX + 3);
    cu_store_close(s);
    cu_names_free(names);
}

/* ------------------------------------------ reference updates, in part */

static const char *upd_ref =
    "{\"kind\":\"officer\",\"id\":\"MP1\",\"role\":\"PC\",\"unit\":\"U1\",\"area\":\"A1\",\"start\":\"2015-09-01\","
    "\"end\":null,\"relations\":[{\"person\":\"P1\",\"type\":\"ex-partner\"}]}\n"
    "{\"kind\":\"officer\",\"id\":\"MP2\",\"role\":\"DC\",\"unit\":\"U2\",\"area\":\"A1\",\"start\":\"2015-09-01\","
    "\"end\":null}\n"
    "{\"kind\":\"officer\",\"id\":\"MP3\",\"role\":\"PC\",\"unit\":\"U1\",\"area\":\"A2\",\"start\":\"2015-09-01\","
    "\"end\":null}\n"
    "{\"kind\":\"person\",\"id\":\"P1\",\"area\":\"A1\",\"flags\":[]}\n"
    "{\"kind\":\"person\",\"id\":\"P2\",\"area\":\"A2\",\"flags\":[\"protected\"]}\n"
    "{\"kind\":\"record\",\"id\":\"R1\",\"type\":\"nominal\",\"system\":\"PNC\",\"subjects\":[\"P1\"],"
    "\"classification\":\"OFFICIAL\",\"caveats\":[]}\n"
    "{\"kind\":\"record\",\"id\":\"R2\",\"type\":\"nominal\",\"system\":\"PND\",\"subjects\":[\"P1\",\"P2\"],"
    "\"classification\":\"SECRET\",\"caveats\":[]}\n"
    "{\"kind\":\"case\",\"id\":\"C1\",\"opened\":\"2024-01-05T09:00:00Z\",\"closed\":null,\"officers\":[\"MP1\"],"
    "\"subjects\":[\"P1\"],\"records\":[\"R1\"]}\n"
    "{\"kind\":\"case\",\"id\":\"C2\",\"opened\":\"2024-01-10T09:00:00Z\",\"closed\":\"2024-03-01T00:00:00Z\","
    "\"officers\":[\"MP2\",\"MP3\"],\"subjects\":[\"P2\"],\"records\":[\"R2\"]}\n"
    "{\"kind\":\"assign\",\"ts\":\"2024-01-12T10:00:00Z\",\"case\":\"C1\",\"officer\":\"MP2\",\"op\":\"add\"}\n";

/* Each batch is one POST /v1/reference: every kind replaced and added,
 * assignments past and future, one object changed twice in a batch, and
 * an assign at the very time of a case's opening (readers order openings
 * before assign lines at a time, however they were written). */
static const char *const upd_batches[][4] = {
    {"{\"kind\":\"officer\",\"id\":\"MP1\",\"role\":\"PS\",\"unit\":\"U2\",\"area\":\"A1\",\"start\":\"2015-09-01\","
     "\"end\":null,\"relations\":[{\"person\":\"P2\",\"type\":\"family\"}]}",
     "{\"kind\":\"person\",\"id\":\"P1\",\"area\":\"A2\",\"flags\":[\"vip\"]}",
     "{\"kind\":\"assign\",\"ts\":\"2024-01-20T10:00:00Z\",\"case\":\"C2\",\"officer\":\"MP1\",\"op\":\"add\"}", NULL},
    {"{\"kind\":\"record\",\"id\":\"R1\",\"type\":\"vehicle\",\"system\":\"PNC\",\"subjects\":[\"P2\",\"P3\"],"
     "\"classification\":\"OFFICIAL-SENSITIVE\",\"caveats\":[]}",
     "{\"kind\":\"person\",\"id\":\"P3\",\"area\":\"A1\",\"flags\":[]}",
     "{\"kind\":\"case\",\"id\":\"C1\",\"opened\":\"2024-01-05T09:00:00Z\",\"closed\":null,\"officers\":[\"MP3\"],"
     "\"subjects\":[\"P1\",\"P3\"],\"records\":[\"R1\",\"R2\"]}", NULL},
    {"{\"kind\":\"case\",\"id\":\"C3\",\"opened\":\"2024-05-01T09:00:00Z\",\"closed\":null,\"officers\":[\"MP4\"],"
     "\"subjects\":[],\"records\":[\"R3\"]}",
     "{\"kind\":\"officer\",\"id\":\"MP4\",\"role\":\"analyst\",\"unit\":\"U3\",\"area\":\"A2\",\"start\":\"2020-01-01\","
     "\"end\":null}",
     "{\"kind\":\"record\",\"id\":\"R3\",\"type\":\"nominal\",\"system\":\"FRS\",\"subjects\":[],"
     "\"classification\":\"OFFICIAL\",\"caveats\":[]}",
     "{\"kind\":\"assign\",\"ts\":\"2024-05-01T09:00:00Z\",\"case\":\"C3\",\"officer\":\"MP4\",\"op\":\"remove\"}"},
    {"{\"kind\":\"person\",\"id\":\"P2\",\"area\":\"A2\",\"flags\":[]}",
     "{\"kind\":\"person\",\"id\":\"P2\",\"area\":\"A1\",\"flags\":[\"witness\"]}",
     "{\"kind\":\"assign\",\"ts\":\"2024-01-25T10:00:00Z\",\"case\":\"C1\",\"officer\":\"MP2\",\"op\":\"remove\"}",
     /* C3 again: its opening is written after the assign at the same time */
     "{\"kind\":\"case\",\"id\":\"C3\",\"opened\":\"2024-05-01T09:00:00Z\",\"closed\":null,\"officers\":[\"MP4\"],"
     "\"subjects\":[\"P2\"],\"records\":[\"R3\"]}"},
};

struct dump {
    cu_buf b;
};

static cu_rc dump_name(void *ud, const char *name)
{
    struct dump *d = ud;
    return cu_buf_appendf(&d->b, " %s", name);
}

/* Every reference row (the assignment history without its numbering) and
 * each officer's cases at several times, as text. */
static void dump_ref(const char *db, cu_store *s, cu_buf *out)
{
    static const char *const q[] = {
        "SELECT * FROM ref_officer ORDER BY 1", "SELECT * FROM ref_relation ORDER BY 1, 2, 3",
        "SELECT * FROM ref_person ORDER BY 1", "SELECT * FROM ref_record ORDER BY 1",
        "SELECT * FROM ref_record_subject ORDER BY 1, 2", "SELECT * FROM ref_case ORDER BY 1",
        "SELECT * FROM ref_case_link ORDER BY 1, 2, 3",
        "SELECT ts, case_, officer, op, source FROM ref_assignment ORDER BY 1, 2, 3, 4, 5",
        "SELECT kind, num, name FROM names ORDER BY 1, 2"};
    sqlite3 *d;
    CHECK(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        sqlite3_stmt *st;
        CHECK(sqlite3_prepare_v2(d, q[i], -1, &st, NULL) == SQLITE_OK);
        CHECK_OK(cu_buf_appendf(out, "%s\n", q[i]));
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const unsigned char *t = sqlite3_column_text(st, c);
                CHECK_OK(cu_buf_appendf(out, "%s|", t ? (const char *)t : "NULL"));
            }
            CHECK_OK(cu_buf_appends(out, "\n"));
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(d);
    static const char *const who[] = {"MP1", "MP2", "MP3", "MP4"};
    static const int64_t when[] = {1704445200, 1705053600, 1706181000, 1706184000, 1714554000, 1714557600};
    for (size_t w = 0; w < 4; w++)
        for (size_t t = 0; t < 6; t++) {
            struct dump x;
            cu_buf_init(&x.b, 4096);
            cu_rc rc = cu_store_officer_cases_at(s, who[w], when[t], dump_name, &x);
            CHECK(rc == CU_OK || rc == CU_ERR_NOTFOUND);
            CHECK_OK(cu_buf_appendf(out, "%s@%lld:%s\n", who[w], (long long)when[t], x.b.data ? x.b.data : ""));
            cu_buf_free(&x.b);
        }
}

/* Rewriting only what an update changed gives the tables a whole rewrite
 * gives, batch after batch. */
TEST(reference_changes_match_a_whole_rewrite)
{
    char path[1024], dba[1024], dbb[1024];
    snprintf(path, sizeof path, "%s/upd_ref.jsonl", cu_test_tmpdir());
    snprintf(dba, sizeof dba, "%s/upd_a.db", cu_test_tmpdir());
    snprintf(dbb, sizeof dbb, "%s/upd_b.db", cu_test_tmpdir());
    remove(dba);
    remove(dbb);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(upd_ref, f);
    fclose(f);
    cu_names *n = NULL;
    cu_ref *r = NULL;
    cu_store *a = NULL, *b = NULL;
    CHECK_OK(cu_names_new(&n));
    CHECK_OK(cu_ref_new(n, &r));
    CHECK_OK(cu_ref_load(r, path));
    CHECK_OK(cu_ref_advance(r, 1705000000)); /* 2024-01-11: some assignments still to come */
    CHECK_OK(cu_store_open(dba, &a));
    CHECK_OK(cu_store_open(dbb, &b));
    if (!a || !b)
        goto out;
    CHECK_OK(cu_store_put_reference(a, r));
    CHECK_OK(cu_store_put_reference(b, r));
    size_t before_total = 0;
    for (size_t k = 0; k < sizeof upd_batches / sizeof upd_batches[0]; k++) {
        cu_ref_change ch[4];
        size_t nch = 0;
        for (size_t i = 0; i < 4 && upd_batches[k][i]; i++) {
            const char *line = upd_batches[k][i];
            CHECK_OK(cu_ref_update_check(r, line, strlen(line), i + 1));
            CHECK_OK(cu_ref_update_apply(r));
            cu_ref_update_last(r, &ch[nch]);
            CHECK(ch[nch].kind >= 0);
            nch++;
        }
        CHECK_OK(cu_store_put_reference_changes(a, r, ch, nch));
        CHECK_OK(cu_store_put_reference(b, r));
        cu_buf da, dbuf;
        cu_buf_init(&da, 1 << 20);
        cu_buf_init(&dbuf, 1 << 20);
        dump_ref(dba, a, &da);
        dump_ref(dbb, b, &dbuf);
        CHECK(da.len > 0 && da.len == dbuf.len && memcmp(da.data, dbuf.data, da.len) == 0);
        if (da.len != dbuf.len || memcmp(da.data, dbuf.data, da.len) != 0)
            fprintf(stderr, "batch %zu:\n--- changes only\n%s--- whole rewrite\n%s", k, da.data, dbuf.data);
        /* the updates are seen: the dump changes from batch to batch */
        CHECK(da.len != before_total || k == 0);
        before_total = da.len;
        cu_buf_free(&da);
        cu_buf_free(&dbuf);
    }
out:
    cu_store_close(a);
    cu_store_close(b);
    cu_ref_free(r);
    cu_names_free(n);
}

/* the kinds of names as the store numbers them, for SQL text */
#define STR_KIND_PERSON "1"
#define STR_KIND_AREA "5"
_Static_assert(CU_K_PERSON == 1 && CU_K_AREA == 5, "the kinds' numbers in SQL text");

static int64_t q_int(sqlite3 *d, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    CHECK(sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The reference's rows go in through buffered cells, many rows to a
 * statement: a reference of more rows than one statement takes arrives
 * whole, each row with its own values, NULLs as NULL and texts intact,
 * and written again (the whole rewrite) it stays the same. */
TEST(reference_rows_span_many_statements)
{
    enum { NP = 2600 }; /* more than twice the rows of one statement */
    char path[1024], db[1024];
    snprintf(path, sizeof path, "%s/many_ref.jsonl", cu_test_tmpdir());
    snprintf(db, sizeof db, "%s/many_ref.db", cu_test_tmpdir());
    remove(db);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    for (int i = 0; i < NP; i++)
        fprintf(f, "{\"kind\":\"person\",\"id\":\"P%d\",\"area\":\"A%d\",\"flags\":[%s]}\n", i, i % 7,
                i % 3 ? "" : "\"witness\"");
    fputs("{\"kind\":\"officer\",\"id\":\"MP1\",\"role\":\"DC\",\"unit\":\"U1\",\"area\":\"A1\",\"vetting\":"
          "{\"level\":\"NPPV2\",\"granted\":\"2020-01-01\",\"expires\":\"2027-01-01\"},\"shift\":\"days\","
          "\"start\":\"2010-01-01\",\"end\":null,\"relations\":[{\"person\":\"P5\",\"type\":\"partner\"}]}\n",
          f);
    fclose(f);
    cu_names *n = NULL;
    cu_ref *r = NULL;
    cu_store *s = NULL;
    sqlite3 *d = NULL;
    CHECK_OK(cu_names_new(&n));
    CHECK_OK(cu_ref_new(n, &r));
    CHECK_OK(cu_ref_load(r, path));
    CHECK_OK(cu_store_open(db, &s));
    if (!s)
        goto out;
    for (int round = 0; round < 2; round++) {
        CHECK_OK(cu_store_put_reference(s, r));
        CHECK(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        CHECK(q_int(d, "SELECT count(*) FROM ref_person") == NP);
        CHECK(q_int(d, "SELECT count(DISTINCT id) FROM ref_person") == NP);
        /* each person's area is its own: the name of its area number */
        CHECK(q_int(d, "SELECT count(*) FROM ref_person p JOIN names a ON a.kind=" STR_KIND_AREA
                       " AND a.num=p.area JOIN names n ON n.kind=" STR_KIND_PERSON " AND n.num=p.id"
                       " WHERE a.name = 'A' || (CAST(substr(n.name, 2) AS INTEGER) % 7)") == NP);
        CHECK(q_int(d, "SELECT count(*) FROM ref_person WHERE flags != 0") == (NP + 2) / 3);
        CHECK(q_int(d, "SELECT count(*) FROM names WHERE kind=" STR_KIND_PERSON) == NP);
        CHECK(q_int(d, "SELECT end_ FROM ref_officer") == -2);
        CHECK(q_int(d, "SELECT start FROM ref_officer") == 1262304000);
        CHECK(q_int(d, "SELECT count(*) FROM ref_officer WHERE role='DC'") == 1);
        CHECK(q_int(d, "SELECT count(*) FROM ref_relation r JOIN names n ON n.kind=" STR_KIND_PERSON
                       " AND n.num=r.person WHERE n.name='P5' AND r.type='partner'") == 1);
        sqlite3_close(d);
        d = NULL;
    }
out:
    cu_store_close(s);
    cu_ref_free(r);
    cu_names_free(n);
}
