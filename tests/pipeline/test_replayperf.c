/* The fast replay path: a temporary data directory (no store) gives the
 * same alerts as a data directory, whatever the batch size and the number
 * of parser threads; pipelined submission stays fail closed; a bad line in
 * the middle of a block loses nothing before it (durable, indexed,
 * detected, alerts written) and names its file and line. */
#include "harness.h"

#include "custos/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char ref_path[1024];

static void paths(void)
{
    const char *src = getenv("CU_SOURCE_DIR");
    snprintf(ref_path, sizeof ref_path, "%s/tests/pipeline/data/ref.jsonl", src ? src : ".");
}

/* n events over the small force, many of them raising alerts (protected
 * people viewed with and without a case); `bad` > 0 puts a bad line there. */
static void write_events(const char *path, int n, int bad)
{
    static const char *officers[] = {"MP10432", "MP20011", "MP30077"};
    static const char *records[] = {"R55120", "R60000", "R70000"};
    static const char *subjects[] = {"[\"P88121\"]", "[\"P11111\",\"P22222\"]", "[\"P11111\"]"};
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    for (int i = 1; i <= n; i++) {
        if (i == bad) {
            fprintf(f, "{\"kind\":\"access\",\"id\":\"BAD\",\"ts\":\"2024-01-09T12:00:00Z\"}\n");
            continue;
        }
        char ts[21];
        cu_time_format(1704067200 + (int64_t)i * 97, ts); /* from 2024-01-01 */
        int k = (i * 7) % 3;
        fprintf(f,
                "{\"kind\":\"access\",\"id\":\"E%d\",\"ts\":\"%s\",\"officer\":\"%s\",\"system\":\"PNC\","
                "\"action\":\"%s\",\"record\":\"%s\",\"subjects\":%s,\"purpose\":\"investigation\",\"case\":%s,"
                "\"terminal\":\"T-%d\",\"area\":\"CW\",\"outcome\":\"allow\",\"results\":1}\n",
                i, ts, officers[i % 3], i % 5 == 0 ? "export" : "view", records[k], subjects[k],
                i % 4 == 0 ? "\"C2024-0117\"" : "null", i % 50);
    }
    fclose(f);
}

static char *slurp(const char *path, size_t *len)
{
    char *s = NULL;
    if (cu_file_read(path, 1 << 28, &s, len))
        return NULL;
    return s;
}

/* `custos replay` starts again asking for huge pages only where the kernel
 * gives them on request, and never over a GLIBC_TUNABLES of the user's
 * (nor its own: the second start sees it set, so it cannot loop). */
TEST(replay_asks_for_huge_pages_only_where_useful)
{
    CHECK(cu_replay_thp_rerun("always [madvise] never\n", NULL));
    CHECK(!cu_replay_thp_rerun("[always] madvise never\n", NULL));
    CHECK(!cu_replay_thp_rerun("always madvise [never]\n", NULL));
    CHECK(!cu_replay_thp_rerun("always [madvise] never\n", ""));
    CHECK(!cu_replay_thp_rerun("always [madvise] never\n", "glibc.malloc.arena_max=2"));
    CHECK(!cu_replay_thp_rerun("always [madvise] never\n", CU_REPLAY_THP_TUNABLE));
    CHECK(!cu_replay_thp_rerun(NULL, NULL));
}

TEST(temporary_replay_matches_data_replay)
{
    paths();
    char ev[1024], a1[1024], a2[1024], data[1024];
    snprintf(ev, sizeof ev, "%s/rp_events.jsonl", cu_test_tmpdir());
    snprintf(a1, sizeof a1, "%s/rp_a1.jsonl", cu_test_tmpdir());
    snprintf(a2, sizeof a2, "%s/rp_a2.jsonl", cu_test_tmpdir());
    write_events(ev, 6000, 0);
    snprintf(data, sizeof data, "%s/rp_data1", cu_test_tmpdir());
    cu_replay_opts o = {.reference = ref_path, .events = ev, .alerts = a1, .data_dir = data, .batch = 777,
                        .parse_workers = 1};
    cu_replay_stats st;
    CHECK_OK(cu_replay_run(&o, &st));
    CHECK_INT(st.events, 6000);
    CHECK(st.alerts > 100);
    size_t l1, l2;
    char *s1 = slurp(a1, &l1);
    CHECK(s1 != NULL);
    /* no data directory: no store, same alerts, byte for byte */
    static const uint32_t batches[] = {41, 500, 0};
    static const unsigned workers[] = {3, 2, 0};
    for (int i = 0; i < 3; i++) {
        cu_replay_opts t = {.reference = ref_path, .events = ev, .alerts = a2, .batch = batches[i],
                            .parse_workers = workers[i]};
        cu_replay_stats st2;
        CHECK_OK(cu_replay_run(&t, &st2));
        CHECK_INT(st2.events, 6000);
        CHECK_INT(st2.alerts, st.alerts);
        char *s2 = slurp(a2, &l2);
        CHECK(s2 != NULL);
        CHECK_INT(l2, l1);
        if (s1 && s2 && l1 == l2)
            CHECK_MSG(memcmp(s1, s2, l1) == 0, "alerts differ (batch %u)", batches[i]);
        cu_free(s2);
    }
    cu_free(s1);
    /* the data directory holds the log and an index of every event */
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_pipeline *p;
    CHECK_OK(cu_pipeline_open(data, n, NULL, &p));
    uint64_t cnt;
    CHECK_OK(cu_store_count(cu_pipeline_store(p), "event", &cnt));
    CHECK_INT(cnt, 6000);
    CHECK_OK(cu_store_count(cu_pipeline_store(p), "alert", &cnt));
    CHECK_INT(cnt, st.alerts);
    cu_pipeline_stats ps;
    cu_pipeline_stats_get(p, &ps);
    CHECK_INT(ps.ledger_size, 6000);
    CHECK_OK(cu_pipeline_close(p));
    cu_names_free(n);
}

TEST(bad_line_in_a_block_loses_nothing_before_it)
{
    paths();
    char ev[1024], good[1024], a1[1024], a2[1024], data[1024];
    snprintf(ev, sizeof ev, "%s/rp_bad.jsonl", cu_test_tmpdir());
    snprintf(good, sizeof good, "%s/rp_good.jsonl", cu_test_tmpdir());
    snprintf(a1, sizeof a1, "%s/rp_bad_a.jsonl", cu_test_tmpdir());
    snprintf(a2, sizeof a2, "%s/rp_good_a.jsonl", cu_test_tmpdir());
    snprintf(data, sizeof data, "%s/rp_data2", cu_test_tmpdir());
    write_events(ev, 5000, 2345);
    write_events(good, 2344, 0);
    cu_replay_opts o = {.reference = ref_path, .events = ev, .alerts = a1, .data_dir = data, .batch = 1000};
    cu_replay_stats st;
    CHECK_RC(cu_replay_run(&o, &st), CU_ERR_PARSE);
    char want[1200];
    snprintf(want, sizeof want, "%s:2345: missing required field", ev);
    CHECK_MSG(strncmp(cu_err_detail(), want, strlen(want)) == 0, "detail: %s", cu_err_detail());
    CHECK_INT(st.events, 2344);
    /* the alerts of the events before the bad line, as a replay of just those gives */
    cu_replay_opts g = {.reference = ref_path, .events = good, .alerts = a2};
    cu_replay_stats gs;
    CHECK_OK(cu_replay_run(&g, &gs));
    size_t l1, l2;
    char *s1 = slurp(a1, &l1), *s2 = slurp(a2, &l2);
    CHECK(s1 && s2 && gs.alerts > 0);
    CHECK_INT(l1, l2);
    if (s1 && s2 && l1 == l2)
        CHECK(memcmp(s1, s2, l1) == 0);
    cu_free(s1);
    cu_free(s2);
    /* and they are durable and indexed */
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_pipeline *p;
    CHECK_OK(cu_pipeline_open(data, n, NULL, &p));
    cu_pipeline_stats ps;
    cu_pipeline_stats_get(p, &ps);
    CHECK_INT(ps.ledger_size, 2344);
    CHECK_INT(cu_store_indexed(cu_pipeline_store(p)), 2344);
    CHECK_OK(cu_pipeline_close(p));
    cu_names_free(n);
}

/* ------------------------------------------- pipelined submission */

struct flaky_sink {
    int appends, fail_at;
    uint64_t size;
    uint8_t secret[32];
};

static cu_rc flaky_append(void *ctx, const void *const *e, const size_t *l, size_t n, uint64_t *first)
{
    (void)e;
    (void)l;
    struct flaky_sink *s = ctx;
    if (++s->appends == s->fail_at)
        return cu_err_set(CU_ERR_NOSPC, "disk full (test)");
    *first = s->size;
    s->size += n;
    return CU_OK;
}
static uint64_t flaky_size(void *ctx) { return ((struct flaky_sink *)ctx)->size; }
static cu_rc flaky_read(void *ctx, uint64_t i, cu_buf *out) { (void)ctx; (void)i; (void)out; return CU_ERR_RANGE; }
static const uint8_t *flaky_secret(void *ctx) { return ((struct flaky_sink *)ctx)->secret; }

static int detected;
static cu_rc count_alert(void *ud, const cu_alert *a)
{
    (void)ud;
    (void)a;
    detected++;
    return CU_OK;
}

TEST(pipelined_submission_is_fail_closed)
{
    paths();
    static const cu_sink_ops ops = {.name = "flaky", .append_many = flaky_append, .size = flaky_size,
                                    .read_entry = flaky_read, .commit_secret = flaky_secret};
    struct flaky_sink fs = {.fail_at = 3};
    cu_sink sink = {.ops = &ops, .ctx = &fs};
    char data[1024], ev[1024];
    snprintf(data, sizeof data, "%s/rp_data3", cu_test_tmpdir());
    snprintf(ev, sizeof ev, "%s/rp_flaky.jsonl", cu_test_tmpdir());
    write_events(ev, 40, 0);
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_pipeline *p;
    cu_pipeline_opts po = {.no_store = true};
    CHECK_OK(cu_pipeline_open_with(data, n, &sink, &po, &p));
    CHECK(cu_pipeline_store(p) == NULL);
    cu_ref *ref;
    CHECK_OK(cu_ref_new(n, &ref));
    CHECK_OK(cu_ref_load(ref, ref_path));
    cu_pipeline_cfg cfg = {.on_alert = count_alert};
    CHECK_OK(cu_pipeline_start(p, ref, &cfg));
    cu_event_reader *r;
    CHECK_OK(cu_event_reader_open(ev, n, &r));
    cu_batch *b[4];
    for (int i = 0; i < 4; i++) {
        CHECK_OK(cu_batch_new(10, &b[i]));
        cu_event *e;
        while ((e = cu_batch_slot(b[i])) && cu_event_reader_next(r, e) == CU_OK)
            cu_batch_push(b[i]);
        cu_batch_seal(b[i], n);
    }
    detected = 0;
    cu_batch *back;
    uint64_t first;
    /* batch 0 starts appending; nothing is detected yet */
    CHECK_OK(cu_pipeline_submit_async(p, b[0], &back, &first));
    CHECK(back == NULL);
    CHECK_INT(detected, 0);
    cu_pipeline_stats ps;
    cu_pipeline_stats_get(p, &ps);
    CHECK_INT(ps.events, 0);
    /* an out-of-order batch changes nothing and batch 0 goes on */
    CHECK_RC(cu_pipeline_submit_async(p, b[0], &back, &first), CU_ERR_ORDER);
    /* batch 1 appends; batch 0 (durable) comes back detected */
    CHECK_OK(cu_pipeline_submit_async(p, b[1], &back, &first));
    CHECK(back == b[0]);
    CHECK_INT(first, 0);
    int after0 = detected;
    CHECK(after0 > 0);
    /* batch 2's append (the third) fails; batch 1, durable, is detected
     * now, and the failure is seen when batch 3 waits for batch 2 */
    CHECK_OK(cu_pipeline_submit_async(p, b[2], &back, &first));
    CHECK(back == b[1]);
    CHECK_INT(first, 10);
    int after1 = detected;
    CHECK_RC(cu_pipeline_submit_async(p, b[3], &back, &first), CU_ERR_NOSPC);
    CHECK(back == NULL);
    CHECK_INT(detected, after1); /* batch 2 never reached the detectors */
    cu_pipeline_stats_get(p, &ps);
    CHECK_INT(ps.events, 20);
    CHECK_INT(fs.appends, 3); /* batch 3 never went to the log */
    CHECK_RC(cu_pipeline_submit_async(p, b[3], &back, &first), CU_ERR_STATE);
    CHECK_RC(cu_pipeline_finish(p), CU_ERR_STATE);
    cu_event_reader_close(r);
    CHECK_OK(cu_pipeline_close(p));
    for (int i = 0; i < 4; i++)
        cu_batch_free(b[i]);
    cu_ref_free(ref);
    cu_names_free(n);
}
