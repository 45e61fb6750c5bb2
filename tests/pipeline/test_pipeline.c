/* pipeline, store, detect: replay end to end on a small hand-made force,
 * causality (every alert reproduced from the events up to its raised_at),
 * store round trip and queries, the ledger encoding (also encoded ahead on
 * the reader's side), fail-closed with a
 * failing log, and a SIGKILL during replay losing nothing acknowledged. */
#include "harness.h"

#include "custos/ledger.h"
#include "custos/pipeline.h"
#include "pipeline/pipeline_int.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char ref_path[1024], ev_path[1024];

static void paths(void)
{
    const char *src = getenv("CU_SOURCE_DIR");
    snprintf(ref_path, sizeof ref_path, "%s/tests/pipeline/data/ref.jsonl", src ? src : ".");
    snprintf(ev_path, sizeof ev_path, "%s/tests/pipeline/data/events.jsonl", src ? src : ".");
}

/* Alerts file -> array of JSON objects (caller json_decref). */
static json_t *read_alerts(const char *path)
{
    json_t *arr = json_array();
    FILE *f = fopen(path, "r");
    if (!f)
        return arr;
    char line[65536];
    while (fgets(line, sizeof line, f)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        CHECK_MSG(j != NULL, "bad alert line: %s", line);
        if (j)
            json_array_append_new(arr, j);
    }
    fclose(f);
    return arr;
}

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* Open the pipeline of data again with new names and the small force's
 * reference data loaded (not started: the caller starts it). */
static cu_pipeline *reopen(const char *data, cu_names **n, cu_ref **ref)
{
    cu_pipeline *p = NULL;
    CHECK_OK(cu_names_new(n));
    CHECK_OK(cu_pipeline_open(data, *n, NULL, &p));
    CHECK_OK(cu_ref_new(*n, ref));
    CHECK_OK(cu_ref_load(*ref, ref_path));
    return p;
}

/* The store of data loses its index of events (the log keeps them). */
static void forget_index(const char *data)
{
    char db[1100];
    snprintf(db, sizeof db, "%s/store.db", data);
    cu_store *s = NULL;
    CHECK_OK(cu_store_open(db, &s));
    if (s) {
        CHECK_OK(cu_store_clear_events(s));
        cu_store_close(s);
    }
}

/* The small force replayed with a data directory DIR/data_TAG. */
static void replay_small(const char *tag, char *data, size_t cap)
{
    paths();
    char out[1024];
    snprintf(out, sizeof out, "%s/alerts_%s.jsonl", cu_test_tmpdir(), tag);
    snprintf(data, cap, "%s/data_%s", cu_test_tmpdir(), tag);
    cu_replay_opts o = {.reference = ref_path, .events = ev_path, .alerts = out, .data_dir = data};
    cu_replay_stats st;
    CHECK_OK(cu_replay_run(&o, &st));
}

TEST(replay_small_force)
{
    paths();
    char out[1024], data[1024];
    snprintf(out, sizeof out, "%s/alerts.jsonl", cu_test_tmpdir());
    snprintf(data, sizeof data, "%s/data1", cu_test_tmpdir());
    cu_replay_opts o = {.reference = ref_path, .events = ev_path, .alerts = out, .data_dir = data, .batch = 3};
    cu_replay_stats st;
    CHECK_OK(cu_replay_run(&o, &st));
    CHECK_INT(st.events, 10);
    CHECK_INT(st.alerts, 4);
    json_t *al = read_alerts(out);
    CHECK_INT(json_array_size(al), 4);
    /* E1: case not yet open; E4: assignment removed; E6: case not yet open;
     * E10: case closed.  E2, E3, E7 are explained, E5 is a search, E8 has no
     * protected person, E9 was denied. */
    static const char *want_ev[] = {"E1", "E4", "E6", "E10"};
    static const char *want_subj[] = {"P88121", "P88121", "P22222", "P22222"};
    for (size_t i = 0; i < 4 && i < json_array_size(al); i++) {
        json_t *a = json_array_get(al, i);
        char id[16];
        snprintf(id, sizeof id, "A%zu", i + 1);
        CHECK_STR(jstr(a, "id"), id);
        CHECK_STR(jstr(a, "kind"), "protected-person");
        json_t *evs = json_object_get(a, "events");
        CHECK_INT(json_array_size(evs), 1);
        CHECK_STR(json_string_value(json_array_get(evs, 0)), want_ev[i]);
        CHECK_STR(json_string_value(json_array_get(json_object_get(a, "subjects"), 0)), want_subj[i]);
        double s = json_number_value(json_object_get(a, "score"));
        CHECK(s > 0 && s <= 1);
        CHECK(json_array_size(json_object_get(a, "reasons")) >= 2);
        CHECK_STR(jstr(a, "raised_at"), jstr(a, "last_event"));
    }
    json_decref(al);

    /* the store answers "who looked at this person" and an officer's timeline */
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_pipeline *p;
    CHECK_OK(cu_pipeline_open(data, n, NULL, &p));
    cu_store *s = cu_pipeline_store(p);
    uint64_t cnt;
    CHECK_OK(cu_store_count(s, "event", &cnt));
    CHECK_INT(cnt, 10);
    CHECK_OK(cu_store_count(s, "alert", &cnt));
    CHECK_INT(cnt, 4);
    CHECK_INT(cu_store_indexed(s), 10);
    CHECK_INT(cu_store_next_alert(s), 5);
    cu_pipeline_stats ps;
    cu_pipeline_stats_get(p, &ps);
    CHECK_INT(ps.ledger_size, 10);
    CHECK_OK(cu_pipeline_close(p));
    cu_names_free(n);
}

/* ------------------------------------------------------------ store */

struct hits {
    int n;
    char ids[32][16];
};

static cu_rc collect(void *ud, const cu_store_access *a)
{
    struct hits *h = ud;
    if (h->n < 32)
        snprintf(h->ids[h->n++], 16, "%s", a->event_id);
    return CU_OK;
}

static cu_rc collect_name(void *ud, const char *name)
{
    struct hits *h = ud;
    if (h->n < 32)
        snprintf(h->ids[h->n++], 16, "%s", name);
    return CU_OK;
}

TEST(store_round_trip_and_queries)
{
    char data[1024];
    replay_small("2", data, sizeof data);
    char db[1100];
    snprintf(db, sizeof db, "%s/store.db", data);
    cu_store *s;
    CHECK_OK(cu_store_open(db, &s));
    CHECK_INT(cu_store_schema_version(s), CU_STORE_SCHEMA_VERSION);
    struct hits h = {0};
    CHECK_OK(cu_store_person_accesses(s, "P88121", collect, &h));
    /* E1 E2 E3 E4 E5 (search lists P88121) E9 */
    CHECK_INT(h.n, 6);
    CHECK_STR(h.ids[0], "E1");
    CHECK_STR(h.ids[4], "E5");
    CHECK_STR(h.ids[5], "E9");
    memset(&h, 0, sizeof h);
    int64_t from = 0, to = 0;
    CHECK_OK(cu_time_parse("2024-01-10T00:00:00Z", 20, &from));
    CHECK_OK(cu_time_parse("2024-01-31T00:00:00Z", 20, &to));
    CHECK_OK(cu_store_officer_timeline(s, "MP10432", from, to, collect, &h));
    CHECK_INT(h.n, 2); /* E8, E9 */
    CHECK_STR(h.ids[0], "E8");
    memset(&h, 0, sizeof h);
    CHECK_OK(cu_store_record_accesses(s, "R60000", collect, &h));
    CHECK_INT(h.n, 3);
    memset(&h, 0, sizeof h);
    CHECK_OK(cu_store_case_accesses(s, "C2024-0117", collect, &h));
    CHECK_INT(h.n, 4); /* E2 E3 E4 E9 */
    memset(&h, 0, sizeof h);
    CHECK_OK(cu_store_person_accesses(s, "nobody", collect, &h));
    CHECK_INT(h.n, 0);
    /* the assignment history */
    int64_t t;
    memset(&h, 0, sizeof h);
    CHECK_OK(cu_time_parse("2024-01-10T00:00:00Z", 20, &t));
    CHECK_OK(cu_store_officer_cases_at(s, "MP20011", t, collect_name, &h));
    CHECK_INT(h.n, 1);
    CHECK_STR(h.ids[0], "C2024-0117");
    memset(&h, 0, sizeof h);
    CHECK_OK(cu_time_parse("2024-01-12T00:00:00Z", 20, &t));
    CHECK_OK(cu_store_officer_cases_at(s, "MP20011", t, collect_name, &h));
    CHECK_INT(h.n, 0);
    memset(&h, 0, sizeof h);
    CHECK_OK(cu_store_alerts_for(s, CU_K_PERSON, "P22222", collect_name, &h));
    CHECK_INT(h.n, 2);
    cu_store_close(s);
}

TEST(store_refuses_newer_schema)
{
    char db[1024];
    snprintf(db, sizeof db, "%s/new.db", cu_test_tmpdir());
    cu_store *s;
    CHECK_OK(cu_store_open(db, &s));
    cu_store_close(s);
    char *out = NULL;
    int rc = cu_test_run(&out, "sqlite3 '%s' 'PRAGMA user_version=99'", db);
    cu_free(out);
    if (rc != 0)
        return; /* no sqlite3 shell: nothing to check */
    CHECK_RC(cu_store_open(db, &s), CU_ERR_UNSUPPORTED);
}

/* ------------------------------------------------------------ causality */

TEST(replay_is_causal)
{
    paths();
    char out[1024];
    snprintf(out, sizeof out, "%s/full.jsonl", cu_test_tmpdir());
    cu_replay_opts o = {.reference = ref_path, .events = ev_path, .alerts = out};
    cu_replay_stats st;
    CHECK_OK(cu_replay_run(&o, &st));
    json_t *full = read_alerts(out);
    /* event id -> time, from the events file */
    char *text;
    size_t len;
    CHECK_OK(cu_file_read(ev_path, 1 << 20, &text, &len));
    for (size_t i = 0; i < json_array_size(full); i++) {
        json_t *a = json_array_get(full, i);
        int64_t raised;
        const char *r = jstr(a, "raised_at");
        CHECK_OK(cu_time_parse(r, strlen(r), &raised));
        /* every event it uses is no later than raised_at */
        json_t *evs = json_object_get(a, "events");
        for (size_t k = 0; k < json_array_size(evs); k++) {
            const char *eid = json_string_value(json_array_get(evs, k));
            char needle[128];
            snprintf(needle, sizeof needle, "\"id\":\"%s\",\"ts\":\"", eid);
            const char *at = strstr(text, needle);
            CHECK(at != NULL);
            if (!at)
                continue;
            int64_t ets;
            CHECK_OK(cu_time_parse(at + strlen(needle), 20, &ets));
            CHECK_MSG(ets <= raised, "alert %s uses %s after its raised_at", jstr(a, "id"), eid);
        }
        /* the events file cut after raised_at reproduces this alert */
        char cut[1024], out2[1024];
        snprintf(cut, sizeof cut, "%s/cut.jsonl", cu_test_tmpdir());
        snprintf(out2, sizeof out2, "%s/cut_alerts.jsonl", cu_test_tmpdir());
        FILE *f = fopen(cut, "w");
        const char *line = text;
        while (line && *line) {
            const char *nl = strchr(line, '\n');
            size_t l = nl ? (size_t)(nl - line) : strlen(line);
            const char *ts = strstr(line, "\"ts\":\"");
            int64_t t = INT64_MAX;
            if (ts && ts < line + l)
                CHECK_OK(cu_time_parse(ts + 6, 20, &t));
            if (t <= raised)
                fwrite(line, 1, l + (nl ? 1 : 0), f);
            line = nl ? nl + 1 : NULL;
        }
        fclose(f);
        cu_replay_opts o2 = {.reference = ref_path, .events = cut, .alerts = out2};
        CHECK_OK(cu_replay_run(&o2, &st));
        json_t *part = read_alerts(out2);
        bool found = false;
        for (size_t k = 0; k < json_array_size(part); k++)
            if (json_equal(json_array_get(part, k), a))
                found = true;
        CHECK_MSG(found, "alert %s not reproduced from the events up to its raised_at", jstr(a, "id"));
        json_decref(part);
    }
    cu_free(text);
    json_decref(full);
}

/* ----------------------------------------------------- ledger encoding */

static cu_rc commit(void *ud, cu_id person, uint8_t out[32])
{
    uint8_t secret[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)(i * 7);
    const char *s = cu_names_str(ud, CU_K_PERSON, person);
    return cu_ledger_commitment(secret, s, strlen(s), out);
}


TEST(entries_match_the_ledger_encoding)
{
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    uint8_t secret[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)(i * 7);
    cu_id subj[CU_EVENT_MAX_SUBJECTS];
    cu_event ev = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    const char *line = "{\"kind\":\"access\",\"id\":\"E1\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"MP1\",\"system\":\"PNC\","
                       "\"action\":\"export\",\"record\":\"R1\",\"subjects\":[\"P1\",\"P2\"],\"purpose\":\"investigation\","
                       "\"case\":null,\"terminal\":\"T1\",\"area\":\"CW\",\"outcome\":\"deny\",\"results\":2}";
    CHECK_OK(cu_event_parse(n, line, strlen(line), &ev));
    uint8_t a[CU_ENTRY_MAX], b[CU_ENTRY_MAX];
    size_t la, lb;
    /* the pipeline's path, commitments from a function */
    CHECK_OK(cu_entry_encode(n, &ev, commit, n, a, sizeof a, &la));
    const char *subs[2] = {"P1", "P2"};
    cu_ledger_access acc = {.ts = ev.ts, .id = "E1", .officer = "MP1", .system = "PNC", .action = "export",
                            .record = "R1", .purpose = "investigation", .case_id = NULL, .terminal = "T1",
                            .area = "CW", .allow = false, .results = 2, .subjects = subs, .nsubjects = 2};
    CHECK_OK(cu_ledger_entry_encode_access(&acc, secret, b, sizeof b, &lb));
    CHECK_INT(la, lb);
    CHECK(la == lb && memcmp(a, b, la) == 0);
    cu_entry_view v;
    CHECK_OK(cu_entry_decode(a, la, &v));
    CHECK_INT(v.ts, ev.ts);
    CHECK_INT(v.nsubjects, 2);
    CHECK_INT(v.action, CU_ACT_EXPORT);
    CHECK_INT(v.outcome, CU_OUT_DENY);
    cu_names_free(n);
}

/* A log in memory: keeps every entry appended, with the test's secret. */
struct mem_sink {
    uint8_t secret[32];
    uint8_t data[1 << 16];
    size_t used, off[256], len[256], n;
};

static cu_rc mem_append(void *ctx, const void *const *e, const size_t *l, size_t n, uint64_t *first)
{
    struct mem_sink *m = ctx;
    *first = m->n;
    for (size_t i = 0; i < n; i++) {
        if (m->n == 256 || sizeof m->data - m->used < l[i])
            return cu_err_set(CU_ERR_NOSPC, "memory log full (test)");
        memcpy(m->data + m->used, e[i], l[i]);
        m->off[m->n] = m->used;
        m->len[m->n++] = l[i];
        m->used += l[i];
    }
    return CU_OK;
}
static uint64_t mem_size(void *ctx) { return ((struct mem_sink *)ctx)->n; }
static cu_rc mem_read(void *ctx, uint64_t i, cu_buf *out)
{
    struct mem_sink *m = ctx;
    if (i >= m->n)
        return CU_ERR_RANGE;
    cu_buf_reset(out);
    return cu_buf_append(out, m->data + m->off[i], m->len[i]);
}
static const uint8_t *mem_secret(void *ctx) { return ((struct mem_sink *)ctx)->secret; }

/* Entries encoded ahead on the reader's side (cu_batch_encode) are the
 * bytes the pipeline encodes itself; a batch changed after its encoding is
 * encoded again by the pipeline; the order check still comes first. */
TEST(batches_encoded_ahead_append_the_same_entries)
{
    paths();
    static const cu_sink_ops ops = {.name = "mem", .append_many = mem_append, .size = mem_size,
                                    .read_entry = mem_read, .commit_secret = mem_secret};
    static struct mem_sink ms;
    memset(&ms, 0, sizeof ms);
    for (int i = 0; i < 32; i++)
        ms.secret[i] = (uint8_t)(i * 7);
    cu_sink sink = {.ops = &ops, .ctx = &ms};
    char data[1024];
    snprintf(data, sizeof data, "%s/data_enc", cu_test_tmpdir());
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_pipeline *p;
    cu_pipeline_opts po = {.no_store = true};
    CHECK_OK(cu_pipeline_open_with(data, n, &sink, &po, &p));
    cu_ref *ref;
    CHECK_OK(cu_ref_new(n, &ref));
    CHECK_OK(cu_ref_load(ref, ref_path));
    CHECK_OK(cu_pipeline_start(p, ref, NULL));
    cu_batch_encoder *x;
    CHECK_OK(cu_batch_encoder_new(p, &x));
    cu_batch *b[4];
    for (int i = 0; i < 4; i++)
        CHECK_OK(cu_batch_new(8, &b[i]));
    cu_event_reader *r;
    CHECK_OK(cu_event_reader_open(ev_path, n, &r));
    /* b0 encoded ahead; b1 encoded ahead, then given one more event (so
     * its encoding no longer holds); b2 not encoded */
    static const int count[3] = {3, 3, 2};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < count[k]; i++) {
            cu_event *ev = cu_batch_slot(b[k]);
            CHECK_OK(cu_event_reader_next(r, ev));
            cu_batch_push(b[k]);
        }
        cu_batch_seal(b[k], n);
        if (k < 2)
            CHECK_OK(cu_batch_encode(b[k], x));
        if (k == 1) {
            cu_event *ev = cu_batch_slot(b[k]);
            CHECK_OK(cu_event_reader_next(r, ev));
            cu_batch_push(b[k]);
            cu_batch_seal(b[k], n);
        }
    }
    cu_batch *done;
    uint64_t first;
    CHECK_OK(cu_pipeline_submit_async(p, b[0], &done, &first));
    CHECK_OK(cu_pipeline_submit_async(p, b[1], &done, &first));
    CHECK(done == b[0]);
    /* encoded ahead but out of order (b2's events, the later first):
     * refused before anything is written */
    for (uint32_t i = 0; i < 2; i++) {
        cu_event *ev = cu_batch_slot(b[3]);
        cu_id *subj = ev->subjects;
        *ev = *cu_batch_get(b[2], 1 - i);
        ev->subjects = subj;
        memcpy(subj, cu_batch_get(b[2], 1 - i)->subjects, ev->nsubjects * sizeof *subj);
        cu_batch_push(b[3]);
    }
    cu_batch_seal(b[3], n);
    CHECK_OK(cu_batch_encode(b[3], x));
    CHECK(cu_batch_get(b[3], 0)->ts > cu_batch_get(b[3], 1)->ts);
    CHECK_RC(cu_pipeline_submit_async(p, b[3], &done, &first), CU_ERR_ORDER);
    CHECK_OK(cu_pipeline_submit_async(p, b[2], &done, &first));
    CHECK(done == b[1]);
    CHECK_OK(cu_pipeline_drain(p, &done, &first));
    CHECK(done == b[2]);
    CHECK_INT(ms.n, 9);
    /* every entry is what cu_entry_encode makes of its event, in order */
    uint32_t idx = 0;
    for (int k = 0; k < 3; k++)
        for (uint32_t i = 0; i < cu_batch_count(b[k]); i++, idx++) {
            uint8_t e[CU_ENTRY_MAX];
            size_t le;
            CHECK_OK(cu_entry_encode(n, cu_batch_get(b[k], i), commit, n, e, sizeof e, &le));
            CHECK_MSG(idx < ms.n && ms.len[idx] == le && memcmp(ms.data + ms.off[idx], e, le) == 0,
                      "entry %u differs", idx);
        }
    cu_event_reader_close(r);
    for (int i = 0; i < 4; i++)
        cu_batch_free(b[i]);
    cu_batch_encoder_free(x);
    CHECK_OK(cu_pipeline_close(p));
    cu_ref_free(ref);
    cu_names_free(n);
}

/* ------------------------------------------------------ fail closed */

struct bad_sink {
    int appends;
    uint8_t secret[32];
};

static cu_rc bad_append(void *ctx, const void *const *e, const size_t *l, size_t n, uint64_t *first)
{
    (void)e;
    (void)l;
    (void)n;
    (void)first;
    ((struct bad_sink *)ctx)->appends++;
    return cu_err_set(CU_ERR_NOSPC, "disk full (test)");
}
static uint64_t bad_size(void *ctx) { (void)ctx; return 0; }
static cu_rc bad_read(void *ctx, uint64_t i, cu_buf *out) { (void)ctx; (void)i; (void)out; return CU_ERR_RANGE; }
static const uint8_t *bad_secret(void *ctx) { return ((struct bad_sink *)ctx)->secret; }

static int alerts_seen;
static cu_rc count_alert(void *ud, const cu_alert *a)
{
    (void)ud;
    (void)a;
    alerts_seen++;
    return CU_OK;
}

TEST(fail_closed_when_the_log_fails)
{
    paths();
    static const cu_sink_ops ops = {.name = "bad", .append_many = bad_append, .size = bad_size,
                                    .read_entry = bad_read, .commit_secret = bad_secret};
    struct bad_sink bs = {0};
    cu_sink sink = {.ops = &ops, .ctx = &bs};
    char data[1024];
    snprintf(data, sizeof data, "%s/data3", cu_test_tmpdir());
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_pipeline *p;
    CHECK_OK(cu_pipeline_open(data, n, &sink, &p));
    cu_ref *ref;
    CHECK_OK(cu_ref_new(n, &ref));
    CHECK_OK(cu_ref_load(ref, ref_path));
    cu_pipeline_cfg cfg = {.on_alert = count_alert};
    CHECK_OK(cu_pipeline_start(p, ref, &cfg));
    cu_batch *b;
    CHECK_OK(cu_batch_new(16, &b));
    cu_event_reader *r;
    CHECK_OK(cu_event_reader_open(ev_path, n, &r));
    cu_event *ev = cu_batch_slot(b);
    CHECK_OK(cu_event_reader_next(r, ev)); /* E1: raises an alert when it gets through */
    cu_batch_push(b);
    alerts_seen = 0;
    CHECK_RC(cu_pipeline_submit(p, b, NULL), CU_ERR_NOSPC);
    CHECK_INT(alerts_seen, 0); /* the detector never saw it */
    uint64_t cnt;
    CHECK_OK(cu_store_count(cu_pipeline_store(p), "event", &cnt));
    CHECK_INT(cnt, 0); /* nor the store */
    CHECK_RC(cu_pipeline_submit(p, b, NULL), CU_ERR_STATE); /* and it stays stopped */
    CHECK_INT(bs.appends, 1);
    cu_event_reader_close(r);
    cu_batch_free(b);
    CHECK_OK(cu_pipeline_close(p));
    cu_ref_free(ref);
    cu_names_free(n);
}

TEST(order_checked_before_anything_is_written)
{
    paths();
    char data[1024];
    snprintf(data, sizeof data, "%s/data4", cu_test_tmpdir());
    cu_names *n;
    cu_ref *ref;
    cu_pipeline *p = reopen(data, &n, &ref);
    CHECK_OK(cu_pipeline_start(p, ref, NULL));
    cu_batch *b;
    CHECK_OK(cu_batch_new(16, &b));
    cu_event_reader *r;
    CHECK_OK(cu_event_reader_open(ev_path, n, &r));
    cu_event *e1 = cu_batch_slot(b);
    CHECK_OK(cu_event_reader_next(r, e1));
    cu_event first = *e1;
    cu_batch_push(b);
    cu_event *e2 = cu_batch_slot(b);
    CHECK_OK(cu_event_reader_next(r, e2));
    cu_batch_push(b);
    uint64_t idx;
    CHECK_OK(cu_pipeline_submit(p, b, &idx));
    CHECK_INT(idx, 0);
    /* now a batch whose second event goes back before what was accepted */
    cu_batch_reset(b);
    e1 = cu_batch_slot(b);
    CHECK_OK(cu_event_reader_next(r, e1));
    cu_batch_push(b);
    e2 = cu_batch_slot(b);
    cu_id keep[CU_EVENT_MAX_SUBJECTS];
    cu_id *subj = e2->subjects;
    *e2 = first;
    e2->subjects = subj;
    memcpy(keep, first.subjects, first.nsubjects * sizeof(cu_id));
    memcpy(e2->subjects, keep, first.nsubjects * sizeof(cu_id));
    cu_batch_push(b);
    CHECK_RC(cu_pipeline_submit(p, b, NULL), CU_ERR_ORDER);
    cu_pipeline_stats ps;
    cu_pipeline_stats_get(p, &ps);
    CHECK_INT(ps.ledger_size, 2); /* nothing of the refused batch */
    /* and the pipeline goes on */
    cu_batch_reset(b);
    e1 = cu_batch_slot(b);
    CHECK_OK(cu_event_reader_next(r, e1));
    cu_batch_push(b);
    CHECK_OK(cu_pipeline_submit(p, b, &idx));
    CHECK_INT(idx, 2);
    cu_event_reader_close(r);
    cu_batch_free(b);
    CHECK_OK(cu_pipeline_close(p));
    cu_ref_free(ref);
    cu_names_free(n);
}

/* -------------------------------------------------------------- crash */

static int ack_fd = -1;
static void on_durable(void *ud, uint64_t size)
{
    (void)ud;
    /* after the batch is durable: tell the parent, through a pipe */
    ssize_t w = write(ack_fd, &size, sizeof size);
    (void)w;
}

/* A stand-in for custosd's kept reference updates (cu_kept_warm,
 * cu_kept_next): updates positioned at log entries 3 and 7; each records
 * how many entries the store had indexed when it was applied. */
struct placed {
    cu_pipeline *p;
    uint64_t at[2];
    uint64_t seen[2]; /* the store's indexed size when update k was applied */
    size_t applied;
};

static cu_rc placed_warm(void *ud, uint64_t entry, bool *changed)
{
    struct placed *u = ud;
    while (u->applied < 2 && u->at[u->applied] <= entry) {
        u->seen[u->applied++] = cu_store_indexed(cu_pipeline_store(u->p));
        *changed = true;
    }
    return CU_OK;
}

static uint64_t placed_next(void *ud)
{
    const struct placed *u = ud;
    return u->applied < 2 ? u->at[u->applied] : UINT64_MAX;
}

TEST(recovery_applies_updates_at_their_place)
{
    char data[1024];
    replay_small("placed", data, sizeof data);
    /* the store lost its index: the next start runs the whole log through
     * recovery, and each update must take effect exactly at its entry (the
     * events before it detected on the data before it), not before the
     * recovery nor after it */
    forget_index(data);
    cu_names *n;
    cu_ref *ref;
    cu_pipeline *p = reopen(data, &n, &ref);
    struct placed u = {.p = p, .at = {3, 7}};
    cu_pipeline_cfg cfg = {.warm_ref = placed_warm, .warm_ref_next = placed_next, .warm_ref_ud = &u};
    CHECK_OK(cu_pipeline_start(p, ref, &cfg));
    cu_pipeline_stats ps;
    cu_pipeline_stats_get(p, &ps);
    CHECK_INT(ps.recovered, 10);
    CHECK_INT(u.applied, 2);
    CHECK_INT(u.seen[0], 3);
    CHECK_INT(u.seen[1], 7);
    CHECK_OK(cu_pipeline_close(p));
    cu_ref_free(ref);
    cu_names_free(n);
}

TEST(sigkill_during_replay_loses_nothing_acknowledged)
{
    paths();
    /* a force file of a few thousand events built from the small one */
    char evs[1024], data[1024], out[1024];
    snprintf(evs, sizeof evs, "%s/many.jsonl", cu_test_tmpdir());
    snprintf(data, sizeof data, "%s/data5", cu_test_tmpdir());
    snprintf(out, sizeof out, "%s/crash_alerts.jsonl", cu_test_tmpdir());
    FILE *f = fopen(evs, "w");
    const int N = 40000;
    for (int i = 0; i < N; i++) {
        char ts[21];
        cu_time_format(1704801600 + i, ts); /* from 2024-01-09T12:00:00Z */
        fprintf(f, "{\"kind\":\"access\",\"id\":\"K%d\",\"ts\":\"%s\",\"officer\":\"MP%d\",\"system\":\"PNC\","
                   "\"action\":\"view\",\"record\":\"R55120\",\"subjects\":[\"P88121\",\"Q%d\"],\"outcome\":\"allow\"}\n",
                i, ts, i % 7 == 0 ? 10432 : 20011, i);
    }
    fclose(f);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        ack_fd = fds[1];
        cu_replay_opts o = {.reference = ref_path, .events = evs, .alerts = out, .data_dir = data, .batch = 500,
                            .on_durable = on_durable};
        cu_replay_stats st;
        cu_rc rc = cu_replay_run(&o, &st);
        _exit(rc ? 1 : 0);
    }
    close(fds[1]);
    /* wait for a few acknowledgements, then kill it in the middle */
    uint64_t acked = 0, v;
    int seen = 0;
    while (seen < 5 && read(fds[0], &v, sizeof v) == (ssize_t)sizeof v) {
        acked = v;
        seen++;
    }
    kill(pid, SIGKILL);
    /* acknowledgements already in the pipe were made before the kill */
    while (read(fds[0], &v, sizeof v) == (ssize_t)sizeof v)
        acked = v;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK(acked > 0);

    /* reopen: everything acknowledged is in the log, in order, and the
     * store is consistent with it (re-indexed where it lagged; as replay
     * does, with the store's writer thread on) */
    cu_names *n;
    cu_ref *ref;
    cu_pipeline *p = reopen(data, &n, &ref);
    cu_pipeline_cfg bulk = {.bulk = true};
    CHECK_OK(cu_pipeline_start(p, ref, &bulk));
    cu_pipeline_stats ps;
    cu_pipeline_stats_get(p, &ps);
    CHECK_MSG(ps.ledger_size >= acked, "log holds %llu, %llu were acknowledged", (unsigned long long)ps.ledger_size,
              (unsigned long long)acked);
    CHECK(ps.ledger_size <= (uint64_t)N);
    fprintf(stderr, "  killed after %llu acknowledged; the log holds %llu, %llu re-indexed at start\n",
            (unsigned long long)acked, (unsigned long long)ps.ledger_size, (unsigned long long)ps.recovered);
    CHECK_INT(cu_store_indexed(cu_pipeline_store(p)), ps.ledger_size);
    uint64_t cnt;
    CHECK_OK(cu_store_count(cu_pipeline_store(p), "event", &cnt));
    CHECK_INT(cnt, ps.ledger_size);
    CHECK_OK(cu_store_count(cu_pipeline_store(p), "event_subject", &cnt));
    CHECK_INT(cnt, 2 * ps.ledger_size); /* both people resolved from their commitments */
    cu_id subj[CU_EVENT_MAX_SUBJECTS];
    cu_event ev = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    for (uint64_t i = 0; i < ps.ledger_size; i += ps.ledger_size / 50 + 1) {
        CHECK_OK(cu_pipeline_read_event(p, i, &ev));
        char want[32];
        snprintf(want, sizeof want, "K%llu", (unsigned long long)i);
        CHECK_STR(ev.id, want);
        CHECK_INT(ev.nsubjects, 2);
        snprintf(want, sizeof want, "Q%llu", (unsigned long long)i);
        CHECK_STR(cu_names_str(n, CU_K_PERSON, ev.subjects[1]), want);
    }
    uint64_t size = ps.ledger_size;
    CHECK_OK(cu_pipeline_close(p));
    cu_ref_free(ref);
    cu_names_free(n);

    /* the store lost everything (or lagged): the next start rebuilds it
     * from the log, people included */
    forget_index(data);
    char db[1100];
    snprintf(db, sizeof db, "%s/store.db", data);
    p = reopen(data, &n, &ref);
    CHECK_OK(cu_pipeline_start(p, ref, NULL));
    cu_pipeline_stats_get(p, &ps);
    CHECK_INT(ps.recovered, size);
    CHECK_INT(cu_store_indexed(cu_pipeline_store(p)), size);
    CHECK_OK(cu_store_count(cu_pipeline_store(p), "event_subject", &cnt));
    CHECK_INT(cnt, 2 * size);
    struct hits h = {0};
    CHECK_OK(cu_store_person_accesses(cu_pipeline_store(p), "Q3", collect, &h));
    CHECK_INT(h.n, size > 3 ? 1 : 0);
    CHECK_OK(cu_pipeline_close(p));
    cu_ref_free(ref);
    cu_names_free(n);

    /* the store deleted outright: rebuilt from the log and the reference;
     * the people of the reference are resolved again, those in no
     * reference (Q...) cannot be: the log has only their commitments
     * (docs/store.md, "Can the store be rebuilt from the ledger?") */
    for (int i = 0; i < 3; i++) {
        char gone[1200];
        snprintf(gone, sizeof gone, "%s%s", db, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
        remove(gone);
    }
    p = reopen(data, &n, &ref);
    CHECK_OK(cu_pipeline_start(p, ref, NULL));
    cu_pipeline_stats_get(p, &ps);
    CHECK_INT(ps.recovered, size);
    CHECK_OK(cu_store_count(cu_pipeline_store(p), "event", &cnt));
    CHECK_INT(cnt, size);
    CHECK_OK(cu_store_count(cu_pipeline_store(p), "event_subject", &cnt));
    CHECK_INT(cnt, size); /* P88121 only */
    memset(&h, 0, sizeof h);
    CHECK_OK(cu_store_person_accesses(cu_pipeline_store(p), "P88121", collect, &h));
    CHECK_INT(h.n, size < 32 ? (int)size : 32);
    memset(&h, 0, sizeof h);
    CHECK_OK(cu_store_person_accesses(cu_pipeline_store(p), "Q3", collect, &h));
    CHECK_INT(h.n, 0);
    CHECK_OK(cu_pipeline_close(p));
    cu_ref_free(ref);
    cu_names_free(n);
}
