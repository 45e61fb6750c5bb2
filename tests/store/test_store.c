/* store: the windowed key tables (schema 2) on their own.  Events are added
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
    CHECK_INT(cu_store_schema_version(s), 2);
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
     * the key table's primary key (no scan of a key table or of event) */
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
    CHECK_MSG(strstr(plan, "SEARCH event_subject USING PRIMARY KEY (win=? AND person=?)") && !strstr(plan, "SCAN"),
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
