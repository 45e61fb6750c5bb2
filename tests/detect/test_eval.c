/* Tests of `custos eval`: the arithmetic on hand-made labels and alerts
 * (figures computed by hand below), bad input named by file and line, and
 * an end-to-end run on a small generated force with recall and precision
 * floors well below the measured figures (docs/detect.md) but far above
 * chance. */
#include "custos/detect.h"
#include "custos/gen.h"

#include "../harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

static char *tmp(const char *name)
{
    static char buf[8][1024];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", cu_test_tmpdir(), name);
    return b;
}

TEST(eval_arithmetic)
{
    const char *ref = tmp("ref.jsonl"), *lab = tmp("labels.jsonl"), *al = tmp("alerts.jsonl");
    write_file(ref, "{\"kind\":\"officer\",\"id\":\"X1\"}\n{\"kind\":\"officer\",\"id\":\"X2\"}\n"
                    "{\"kind\":\"officer\",\"id\":\"X3\"}\n{\"kind\":\"officer\",\"id\":\"X4\"}\n");
    write_file(lab,
               "{\"kind\":\"scenario\",\"id\":\"S1\",\"scenario\":\"a\",\"officers\":[\"X1\"],\"events\":[\"E1\"],"
               "\"first_event\":\"2024-01-02T00:00:00Z\",\"ring\":false}\n"
               "{\"kind\":\"scenario\",\"id\":\"S2\",\"scenario\":\"b\",\"officers\":[\"X2\",\"X3\"],\"events\":[\"E2\"],"
               "\"first_event\":\"2024-01-03T00:00:00Z\",\"ring\":true}\n"
               "{\"kind\":\"scenario\",\"id\":\"S3\",\"scenario\":\"a\",\"officers\":[\"X4\"],\"events\":[\"E3\"],"
               "\"first_event\":\"2024-01-02T00:00:00Z\",\"ring\":false}\n"
               "{\"kind\":\"benign\",\"id\":\"B1\",\"activity\":\"x\",\"officers\":[\"X1\"],\"events\":[]}\n");
    /* A1: X1 six hours after S1 began.  A2: X2 at +12 h, then updated with
     * X3 (the ring whole, one id).  A3: an officer with no label.  A4: X4
     * before S3 began (does not count).  Span: Jan 1 12:00 .. Jan 4 00:00,
     * 2.5 days -> 3. */
    write_file(al, "{\"id\":\"A4\",\"raised_at\":\"2024-01-01T12:00:00Z\",\"officers\":[\"X4\"]}\n"
                   "{\"id\":\"A1\",\"raised_at\":\"2024-01-02T06:00:00Z\",\"officers\":[\"X1\"]}\n"
                   "{\"id\":\"A3\",\"raised_at\":\"2024-01-02T07:00:00Z\",\"officers\":[\"Z9\"]}\n"
                   "{\"id\":\"A2\",\"raised_at\":\"2024-01-03T12:00:00Z\",\"officers\":[\"X2\"]}\n"
                   "{\"id\":\"A2\",\"raised_at\":\"2024-01-04T00:00:00Z\",\"officers\":[\"X2\",\"X3\"]}\n");
    cu_eval_result r;
    cu_buf out;
    cu_buf_init(&out, 1 << 20);
    cu_eval_opts o = {.labels = lab, .alerts = al, .reference = ref, .result = &r};
    CHECK_OK(cu_eval_run(&o, &out));
    CHECK_INT(r.instances, 3);
    CHECK_INT(r.caught, 2);
    CHECK(fabs(r.recall - 2.0 / 3.0) < 1e-9);
    CHECK_INT(r.alerts, 4);
    CHECK_INT(r.tp_alerts, 2);
    CHECK(fabs(r.precision - 0.5) < 1e-9);
    CHECK(fabs(r.ttd_median_h - 9.0) < 1e-9);   /* 6 h and 12 h */
    CHECK(fabs(r.ttd_p90_h - 11.4) < 1e-9);     /* 6 + 0.9 * 6 */
    CHECK(fabs(r.days - 3) < 1e-9);
    CHECK(fabs(r.per_k_day - 4.0 / (4.0 / 1000.0) / 3.0) < 1e-6);
    CHECK_INT(r.rings, 1);
    CHECK_INT(r.rings_whole, 1);
    CHECK(strstr(out.data, "ALL") != NULL);
    cu_buf_free(&out);

    /* a bad alert line is named by file and line */
    write_file(al, "{\"id\":\"A1\",\"raised_at\":\"2024-01-02T06:00:00Z\",\"officers\":[\"X1\"]}\n{\"id\":3}\n");
    cu_buf_init(&out, 1 << 20);
    CHECK_RC(cu_eval_run(&o, &out), CU_ERR_PARSE);
    CHECK(strstr(cu_err_detail(), "alerts.jsonl:2") != NULL);
    cu_buf_free(&out);
}

/* The line parsers alone: good lines kept, benign lines skipped, bad ones
 * refused with a reason. */
TEST(eval_line_parsers)
{
    cu_eval_lines *c;
    CHECK_OK(cu_eval_lines_new(&c));
    const char *ok1 = "{\"kind\":\"scenario\",\"scenario\":\"ring\",\"officers\":[\"X1\",\"X2\"],\"events\":[\"E1\"],"
                      "\"first_event\":\"2024-01-02T00:00:00Z\",\"ring\":true}";
    const char *ben = "{\"kind\":\"benign\",\"officers\":[\"X1\"]}";
    CHECK_OK(cu_eval_label_line(c, ok1, strlen(ok1)));
    CHECK_OK(cu_eval_label_line(c, ben, strlen(ben)));
    const char *bad[] = {
        "[1,2]",
        "{\"kind\":\"scenario\",\"officers\":[\"X1\"],\"first_event\":\"2024-01-02T00:00:00Z\"}",
        "{\"kind\":\"scenario\",\"scenario\":\"a\",\"officers\":[\"X1\"],\"first_event\":\"yesterday\"}",
        "{\"kind\":\"scenario\",\"scenario\":\"a\",\"officers\":\"X1\",\"first_event\":\"2024-01-02T00:00:00Z\"}",
        "{\"kind\":\"scenario\",\"scenario\":\"a\",\"officers\":[\"\"],\"first_event\":\"2024-01-02T00:00:00Z\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(cu_eval_label_line(c, bad[i], strlen(bad[i])), CU_ERR_PARSE);
        CHECK(cu_err_detail()[0] != 0);
    }
    const char *a1 = "{\"id\":\"A1\",\"raised_at\":\"2024-01-02T06:00:00Z\",\"officers\":[\"X1\"]}";
    CHECK_OK(cu_eval_alert_line(c, a1, strlen(a1)));
    const char *abad[] = {"{\"id\":\"A1\",\"officers\":[\"X1\"]}", "{\"raised_at\":\"2024-01-02T06:00:00Z\",\"officers\":[]}",
                          "{\"id\":\"\",\"raised_at\":\"2024-01-02T06:00:00Z\",\"officers\":[]}", "not json"};
    for (size_t i = 0; i < sizeof abad / sizeof abad[0]; i++)
        CHECK_RC(cu_eval_alert_line(c, abad[i], strlen(abad[i])), CU_ERR_PARSE);
    size_t na = 0;
    CHECK_INT(cu_eval_lines_counts(c, &na), 1);
    CHECK_INT(na, 1);
    cu_eval_lines_free(c);
}

/* A small generated force through the detectors, then eval. */
static cu_rc write_alert(void *ud, const cu_alert *a)
{
    void **u = ud;
    cu_buf b;
    cu_buf_init(&b, 1 << 16);
    cu_rc rc = cu_alert_write(u[1], a, &b);
    if (!rc)
        fwrite(b.data, 1, b.len, u[0]);
    cu_buf_free(&b);
    return rc;
}

TEST(end_to_end_generated_force)
{
    const char *dir = tmp("force");
    cu_gen_config g;
    cu_gen_config_default(&g);
    g.officers = 600;
    g.days = 28;
    g.seed = 5; /* a tuning seed (docs/detect.md) */
    g.intensity = 3;
    g.out_dir = dir;
    CHECK_OK(cu_gen_run(&g, NULL));
    char ref[1200], ev[1200], lab[1200], al[1200];
    snprintf(ref, sizeof ref, "%s/reference.jsonl", dir);
    snprintf(ev, sizeof ev, "%s/events.jsonl", dir);
    snprintf(lab, sizeof lab, "%s/labels.jsonl", dir);
    snprintf(al, sizeof al, "%s/alerts.jsonl", dir);

    cu_names *n;
    cu_ref *r;
    cu_detect *d;
    cu_event_reader *rd;
    CHECK_OK(cu_names_new(&n));
    CHECK_OK(cu_ref_new(n, &r));
    CHECK_OK(cu_ref_load(r, ref));
    CHECK_OK(cu_event_reader_open(ev, n, &rd));
    cu_detect_cfg cfg;
    cu_detect_cfg_default(&cfg);
    CHECK_OK(cu_detect_new_cfg(r, 1, &cfg, &d));
    FILE *f = fopen(al, "w");
    void *u[2] = {f, n};
    static cu_id subj[CU_EVENT_MAX_SUBJECTS];
    cu_event e = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    int64_t last = 0;
    cu_rc rc;
    while ((rc = cu_event_reader_next(rd, &e)) == CU_OK) {
        CHECK_OK(cu_ref_advance(r, e.ts));
        CHECK_OK(cu_detect_event(d, &e, e.ts, write_alert, u));
        last = e.ts;
    }
    CHECK_RC(rc, CU_ERR_NOTFOUND);
    CHECK_OK(cu_detect_flush(d, last, write_alert, u));
    fclose(f);
    cu_event_reader_close(rd);
    cu_detect_free(d);
    cu_ref_free(r);
    cu_names_free(n);

    cu_eval_result res;
    cu_buf out;
    cu_buf_init(&out, 1 << 20);
    cu_eval_opts o = {.labels = lab, .alerts = al, .reference = ref, .events = ev, .baselines = false, .result = &res};
    CHECK_OK(cu_eval_run(&o, &out));
    printf("%s", out.data);
    CHECK(res.instances >= 10);
    /* floors: see docs/detect.md for the measured figures */
    /* measured: recall 0.733, precision 0.875, 0.952 alerts per 1,000
     * officers per day, median time to detect 149 h (the budget binds at
     * this intensity: candidates queue for tokens), 98.25% explained */
    CHECK_MSG(res.recall >= 0.6, "recall %.3f", res.recall);
    CHECK_MSG(res.precision >= 0.7, "precision %.3f", res.precision);
    CHECK_MSG(res.per_k_day <= 1.0, "alerts per 1000 officers per day %.3f (the budget is 1: a ceiling)", res.per_k_day);
    CHECK_MSG(res.ttd_median_h <= 200, "median time to detect %.1f h", res.ttd_median_h);
    CHECK_MSG(res.explained >= 0.97, "explained %.4f", res.explained);
    cu_buf_free(&out);
}
