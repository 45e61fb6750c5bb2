/* event: the JSON scanner against jansson, event and reference lines good
 * and bad (file:line, limits, required fields, order), interning, reference
 * validity in time, writing events and alerts back. */
#include "harness.h"

#include "custos/event.h"
#include "event/json_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static const char *good_ev =
    "{\"kind\":\"access\",\"id\":\"E000193\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"MP10432\","
    "\"system\":\"PNC\",\"action\":\"view\",\"record\":\"R55120\",\"subjects\":[\"P88121\"],"
    "\"purpose\":\"investigation\",\"case\":\"C2024-0117\",\"terminal\":\"T-CW-0031\",\"area\":\"CW\","
    "\"outcome\":\"allow\",\"results\":1}";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

/* ------------------------------------------------------------- JSON */

TEST(json_agrees_with_jansson)
{
    static const char *cases[] = {
        "{}", "{\"a\":1}", "{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false}", " {\"a\" : \"x\" } ",
        "{\"a\":\"\\u00e9\\ud83d\\ude00\\n\\\"\"}", "{\"a\":-0.5e+10}", "{\"a\":\"caf\xc3\xa9\"}",
        /* malformed */
        "", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}",
        "{\"a\":tru}", "{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\x01\"}", "{} x",
        "[1]", "{\"a\":[1,]}", "{\"a\":1 \"b\":2}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{'a':1}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *c = cases[i];
        cu_jmember m[CU_JSON_MAX_MEMBERS];
        size_t n;
        bool mine = cu_jscan_object(c, strlen(c), m, CU_JSON_MAX_MEMBERS, &n) == CU_OK;
        json_error_t err;
        json_t *j = json_loadb(c, strlen(c), JSON_DECODE_ANY, &err);
        bool theirs = j && json_is_object(j);
        json_decref(j);
        CHECK_MSG(mine == theirs, "case %zu (%s): mine %d, jansson %d", i, c, mine, theirs);
    }
}

TEST(json_depth_and_members_limited)
{
    char deep[200];
    size_t o = 0;
    o += (size_t)snprintf(deep, sizeof deep, "{\"a\":");
    for (int i = 0; i < 40; i++)
        deep[o++] = '[';
    for (int i = 0; i < 40; i++)
        deep[o++] = ']';
    deep[o++] = '}';
    deep[o] = '\0';
    cu_jmember m[CU_JSON_MAX_MEMBERS];
    size_t n;
    CHECK_RC(cu_jscan_object(deep, o, m, CU_JSON_MAX_MEMBERS, &n), CU_ERR_PARSE);
    cu_buf b;
    cu_buf_init(&b, 1 << 16);
    CHECK_OK(cu_buf_appends(&b, "{"));
    for (int i = 0; i < 70; i++)
        CHECK_OK(cu_buf_appendf(&b, "%s\"k%d\":1", i ? "," : "", i));
    CHECK_OK(cu_buf_appends(&b, "}"));
    CHECK_RC(cu_jscan_object(b.data, b.len, m, CU_JSON_MAX_MEMBERS, &n), CU_ERR_TOOBIG);
    cu_buf_free(&b);
}

/* ------------------------------------------------------------ names */

TEST(names_are_dense_and_stable)
{
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_id a, b, c, d;
    CHECK_OK(cu_names_intern(n, CU_K_PERSON, "P1", 2, &a));
    CHECK_OK(cu_names_intern(n, CU_K_PERSON, "P2", 2, &b));
    CHECK_OK(cu_names_intern(n, CU_K_PERSON, "P1", 2, &c));
    CHECK_OK(cu_names_intern(n, CU_K_OFFICER, "P1", 2, &d));
    CHECK_INT(a, 0);
    CHECK_INT(b, 1);
    CHECK_INT(c, 0);
    CHECK_INT(d, 0); /* kinds are separate */
    const char *p0 = cu_names_str(n, CU_K_PERSON, 0);
    char id[16];
    for (int i = 0; i < 200000; i++) { /* grows every table several times */
        int l = snprintf(id, sizeof id, "X%d", i);
        cu_id x;
        CHECK_OK(cu_names_intern(n, CU_K_RECORD, id, (size_t)l, &x));
        if (x != (cu_id)i) {
            CHECK_INT(x, i);
            break;
        }
    }
    CHECK(cu_names_str(n, CU_K_PERSON, 0) == p0); /* never moves */
    CHECK_STR(cu_names_str(n, CU_K_RECORD, 123456), "X123456");
    CHECK_INT(cu_names_find(n, CU_K_RECORD, "X199999", 7), 199999);
    CHECK_INT(cu_names_find(n, CU_K_RECORD, "nope", 4), CU_ID_NONE);
    CHECK(cu_names_str(n, CU_K_CASE, 0) == NULL);
    /* a prefetch hint reads the id's table entry only for ids given out (no
     * chunk exists beyond them: ASan would see the read) */
    cu_names_prefetch_id(n, CU_K_RECORD, 199999);
    cu_names_prefetch_id(n, CU_K_RECORD, 200000);
    cu_names_prefetch_id(n, CU_K_RECORD, 0x7fffffffu);
    cu_names_prefetch_id(n, CU_K_CASE, 0);
    cu_names_prefetch_id(n, CU_K_CASE, CU_ID_NONE);
    cu_names_prefetch_id(n, (cu_idkind)CU_K_COUNT_, 0);
    CHECK_INT(cu_names_count(n, CU_K_RECORD), 200000);
    CHECK_STR(cu_names_str(n, CU_K_RECORD, 199999), "X199999");
    char longid[70];
    memset(longid, 'x', sizeof longid);
    CHECK_RC(cu_names_intern(n, CU_K_CASE, longid, 65, &a), CU_ERR_TOOBIG);
    CHECK_OK(cu_names_intern(n, CU_K_CASE, longid, 64, &a));
    CHECK_RC(cu_names_intern(n, CU_K_CASE, "", 0, &a), CU_ERR_INVAL);
    cu_names_free(n);
}

/* ------------------------------------------------------------ events */

TEST(event_parse_good_and_write_back)
{
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_id subj[CU_EVENT_MAX_SUBJECTS];
    cu_event ev = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    CHECK_OK(cu_event_parse(n, good_ev, strlen(good_ev), &ev));
    CHECK_STR(ev.id, "E000193");
    CHECK_INT(ev.ts, 1704809253);
    CHECK_STR(cu_names_str(n, CU_K_OFFICER, ev.officer), "MP10432");
    CHECK_STR(cu_names_str(n, CU_K_RECORD, ev.record), "R55120");
    CHECK_STR(cu_names_str(n, CU_K_CASE, ev.case_id), "C2024-0117");
    CHECK_STR(cu_names_str(n, CU_K_TERMINAL, ev.terminal), "T-CW-0031");
    CHECK_STR(cu_names_str(n, CU_K_AREA, ev.area), "CW");
    CHECK_STR(cu_names_str(n, CU_K_PURPOSE, ev.purpose), "investigation");
    CHECK_INT(ev.action, CU_ACT_VIEW);
    CHECK_INT(ev.outcome, CU_OUT_ALLOW);
    CHECK_INT(ev.nsubjects, 1);
    CHECK(ev.has_results && ev.results == 1);
    /* write back and parse again: the same event */
    cu_buf b;
    cu_buf_init(&b, 1 << 16);
    CHECK_OK(cu_event_write(n, &ev, &b));
    cu_id subj2[CU_EVENT_MAX_SUBJECTS];
    cu_event ev2 = {.subjects = subj2, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    CHECK_OK(cu_event_parse(n, b.data, b.len - 1, &ev2));
    CHECK_STR(ev2.id, ev.id);
    CHECK_INT(ev2.ts, ev.ts);
    CHECK_INT(ev2.officer, ev.officer);
    CHECK_INT(ev2.record, ev.record);
    CHECK_INT(ev2.subjects[0], ev.subjects[0]);
    /* a search: record null, optional fields absent, unknown fields accepted */
    const char *search = "{\"kind\":\"access\",\"id\":\"E2\",\"ts\":\"2024-01-09T14:07:34Z\",\"officer\":\"MP1\","
                         "\"system\":\"PND\",\"action\":\"search\",\"record\":null,\"outcome\":\"deny\","
                         "\"future\":{\"x\":[1,2,3]},\"more\":null}";
    CHECK_OK(cu_event_parse(n, search, strlen(search), &ev));
    CHECK_INT(ev.record, CU_ID_NONE);
    CHECK_INT(ev.case_id, CU_ID_NONE);
    CHECK_INT(ev.nsubjects, 0);
    CHECK(!ev.has_results);
    CHECK_INT(ev.outcome, CU_OUT_DENY);
    /* escapes in ids are decoded */
    const char *esc = "{\"kind\":\"access\",\"id\":\"E\\u0033\",\"ts\":\"2024-01-09T14:07:34Z\",\"officer\":\"M\\/P\","
                      "\"system\":\"PND\",\"action\":\"view\",\"outcome\":\"allow\"}";
    CHECK_OK(cu_event_parse(n, esc, strlen(esc), &ev));
    CHECK_STR(ev.id, "E3");
    CHECK_STR(cu_names_str(n, CU_K_OFFICER, ev.officer), "M/P");
    cu_buf_free(&b);
    cu_names_free(n);
}

/* Fields are looked up at their usual place first (field_of's hint); any
 * other order, and keys of the same length as the one expected there,
 * must parse to the same event. */
TEST(event_fields_in_any_order)
{
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_id s1[CU_EVENT_MAX_SUBJECTS], s2[CU_EVENT_MAX_SUBJECTS];
    cu_event a = {.subjects = s1, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    cu_event b = {.subjects = s2, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    CHECK_OK(cu_event_parse(n, good_ev, strlen(good_ev), &a));
    /* good_ev's fields backwards: "system" (6 bytes) comes where "action"
     * (6 bytes) is expected */
    const char *rev = "{\"results\":1,\"outcome\":\"allow\",\"area\":\"CW\",\"terminal\":\"T-CW-0031\","
                      "\"case\":\"C2024-0117\",\"system\":\"PNC\",\"purpose\":\"investigation\","
                      "\"subjects\":[\"P88121\"],\"record\":\"R55120\",\"action\":\"view\",\"officer\":\"MP10432\","
                      "\"ts\":\"2024-01-09T14:07:33Z\",\"id\":\"E000193\",\"kind\":\"access\"}";
    CHECK_OK(cu_event_parse(n, rev, strlen(rev), &b));
    CHECK_STR(b.id, a.id);
    CHECK_INT(b.ts, a.ts);
    CHECK_INT(b.officer, a.officer);
    CHECK_INT(b.system, a.system);
    CHECK_INT(b.action, a.action);
    CHECK_INT(b.record, a.record);
    CHECK_INT(b.purpose, a.purpose);
    CHECK_INT(b.case_id, a.case_id);
    CHECK_INT(b.terminal, a.terminal);
    CHECK_INT(b.area, a.area);
    CHECK_INT(b.outcome, a.outcome);
    CHECK_INT(b.nsubjects, 1);
    CHECK_INT(b.subjects[0], a.subjects[0]);
    CHECK(b.has_results && b.results == a.results);
    /* a field given twice is found twice whether or not it sits at its place */
    const char *twice = "{\"kind\":\"access\",\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\","
                        "\"officer\":\"a\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}";
    CHECK_RC(cu_event_parse(n, twice, strlen(twice), &b), CU_ERR_PARSE);
    CHECK(strstr(cu_err_detail(), "twice") != NULL);
    cu_names_free(n);
}

static void expect_bad(cu_names *n, const char *line, cu_rc want, const char *needle)
{
    cu_id subj[CU_EVENT_MAX_SUBJECTS];
    cu_event ev = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    cu_rc rc = cu_event_parse(n, line, strlen(line), &ev);
    CHECK_MSG(rc == want, "%s: got %s (%s), want %s", line, cu_strerror(rc), cu_err_detail(), cu_strerror(want));
    if (needle)
        CHECK_MSG(strstr(cu_err_detail(), needle) != NULL, "detail \"%s\" lacks \"%s\"", cu_err_detail(), needle);
}

TEST(event_parse_bad)
{
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    expect_bad(n, "{\"kind\":\"access\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"a\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}",
               CU_ERR_PARSE, "\"id\"");
    expect_bad(n, "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}",
               CU_ERR_PARSE, "\"officer\"");
    expect_bad(n, "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"yesterday\",\"officer\":\"a\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}",
               CU_ERR_PARSE, "RFC 3339");
    expect_bad(n, "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"a\",\"system\":\"b\",\"action\":\"peek\",\"outcome\":\"allow\"}",
               CU_ERR_INVAL, "action");
    expect_bad(n, "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"a\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"maybe\"}",
               CU_ERR_INVAL, "outcome");
    expect_bad(n, "{\"kind\":\"record\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"a\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}",
               CU_ERR_INVAL, "kind");
    expect_bad(n, "{\"kind\":\"access\",\"id\":\"E\",\"id\":\"F\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"a\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}",
               CU_ERR_PARSE, "twice");
    expect_bad(n, "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":7,\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}",
               CU_ERR_TYPE, "officer");
    expect_bad(n, "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"a\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\",\"results\":-1}",
               CU_ERR_INVAL, "results");
    expect_bad(n, "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"a\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\",\"subjects\":\"P1\"}",
               CU_ERR_TYPE, "subjects");
    expect_bad(n, "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}",
               CU_ERR_INVAL, "officer");
    expect_bad(n, "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"a\\u0000b\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}",
               CU_ERR_TOOBIG, "officer");
    /* an id of 65 bytes */
    char line[512];
    snprintf(line, sizeof line,
             "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"%065d\",\"system\":\"b\","
             "\"action\":\"view\",\"outcome\":\"allow\"}", 1);
    expect_bad(n, line, CU_ERR_TOOBIG, "64");
    snprintf(line, sizeof line,
             "{\"kind\":\"access\",\"id\":\"%065d\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"a\",\"system\":\"b\","
             "\"action\":\"view\",\"outcome\":\"allow\"}", 1);
    expect_bad(n, line, CU_ERR_TOOBIG, "64");
    expect_bad(n, "{\"kind\":\"access\",", CU_ERR_PARSE, "malformed");
    /* too many subjects */
    cu_buf b;
    cu_buf_init(&b, 1 << 20);
    CHECK_OK(cu_buf_appends(&b, "{\"kind\":\"access\",\"id\":\"E\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"a\","
                                "\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\",\"subjects\":["));
    for (int i = 0; i <= CU_EVENT_MAX_SUBJECTS; i++)
        CHECK_OK(cu_buf_appendf(&b, "%s\"P%d\"", i ? "," : "", i));
    CHECK_OK(cu_buf_appends(&b, "]}"));
    expect_bad(n, b.data, CU_ERR_TOOBIG, "subjects");
    cu_buf_free(&b);
    cu_names_free(n);
}

TEST(event_reader_names_file_and_line)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/ev.jsonl", cu_test_tmpdir());
    char text[4096];
    snprintf(text, sizeof text, "%s\n\n%s\n{\"kind\":\"access\",\"id\":\"E9\"}\n", good_ev, good_ev);
    write_file(path, text);
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_event_reader *r;
    CHECK_OK(cu_event_reader_open(path, n, &r));
    cu_id subj[CU_EVENT_MAX_SUBJECTS];
    cu_event ev = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    CHECK_OK(cu_event_reader_next(r, &ev));
    CHECK_OK(cu_event_reader_next(r, &ev)); /* the blank line is skipped; equal times are in order */
    CHECK_RC(cu_event_reader_next(r, &ev), CU_ERR_PARSE);
    char want[1100];
    snprintf(want, sizeof want, "%s:4: ", path);
    CHECK_MSG(strncmp(cu_err_detail(), want, strlen(want)) == 0, "detail: %s", cu_err_detail());
    cu_event_reader_close(r);

    /* out of order: CU_ERR_ORDER naming both lines */
    const char *late = "{\"kind\":\"access\",\"id\":\"E1\",\"ts\":\"2024-01-09T15:00:00Z\",\"officer\":\"a\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}";
    const char *early = "{\"kind\":\"access\",\"id\":\"E2\",\"ts\":\"2024-01-09T14:00:00Z\",\"officer\":\"a\",\"system\":\"b\",\"action\":\"view\",\"outcome\":\"allow\"}";
    snprintf(text, sizeof text, "%s\n%s\n", late, early);
    write_file(path, text);
    CHECK_OK(cu_event_reader_open(path, n, &r));
    CHECK_OK(cu_event_reader_next(r, &ev));
    CHECK_RC(cu_event_reader_next(r, &ev), CU_ERR_ORDER);
    snprintf(want, sizeof want, "%s:2: event E2", path);
    CHECK_MSG(strncmp(cu_err_detail(), want, strlen(want)) == 0, "detail: %s", cu_err_detail());
    CHECK_MSG(strstr(cu_err_detail(), "line 1") != NULL, "detail: %s", cu_err_detail());
    cu_event_reader_close(r);

    /* an over-long line is reported with its number */
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n", good_ev);
    for (int i = 0; i < CU_EVENT_MAX_LINE + 10; i++)
        fputc(' ', f);
    fprintf(f, "\n");
    fclose(f);
    CHECK_OK(cu_event_reader_open(path, n, &r));
    CHECK_OK(cu_event_reader_next(r, &ev));
    CHECK_RC(cu_event_reader_next(r, &ev), CU_ERR_TOOBIG);
    snprintf(want, sizeof want, "%s:2:", path);
    CHECK_MSG(strncmp(cu_err_detail(), want, strlen(want)) == 0, "detail: %s", cu_err_detail());
    cu_event_reader_close(r);
    cu_names_free(n);
}

/* ------------------------------------------------------------ reference */

static const char *ref_text =
    "{\"kind\":\"officer\",\"id\":\"MP1\",\"role\":\"PC\",\"unit\":\"U1\",\"area\":\"CW\",\"vetting\":{\"level\":\"RV\",\"granted\":\"2019-04-01\",\"expires\":\"2029-04-01\"},\"shift\":\"days\",\"start\":\"2015-09-01\",\"end\":\"2024-01-20\",\"relations\":[{\"person\":\"P1\",\"type\":\"ex-partner\"}]}\n"
    "{\"kind\":\"officer\",\"id\":\"MP2\",\"start\":\"2024-01-10\",\"end\":null}\n"
    "{\"kind\":\"person\",\"id\":\"P1\",\"area\":\"HK\",\"flags\":[\"protected\",\"vip\"]}\n"
    "{\"kind\":\"person\",\"id\":\"P2\",\"flags\":[]}\n"
    "{\"kind\":\"record\",\"id\":\"R1\",\"type\":\"nominal\",\"system\":\"PNC\",\"subjects\":[\"P1\"],\"area\":\"HK\",\"classification\":\"SECRET\",\"caveats\":[\"x\"]}\n"
    "{\"kind\":\"case\",\"id\":\"C1\",\"opened\":\"2024-01-05T09:00:00Z\",\"closed\":\"2024-02-01T00:00:00Z\",\"area\":\"CW\",\"officers\":[\"MP1\"],\"subjects\":[\"P1\"],\"records\":[\"R1\"]}\n"
    "{\"kind\":\"case\",\"id\":\"C2\",\"opened\":\"2024-03-01T00:00:00Z\",\"closed\":null,\"officers\":[\"MP2\"],\"subjects\":[\"P2\"],\"records\":[]}\n"
    "{\"kind\":\"assign\",\"ts\":\"2024-01-09T10:00:00Z\",\"case\":\"C1\",\"officer\":\"MP2\",\"op\":\"add\"}\n"
    "{\"kind\":\"assign\",\"ts\":\"2024-01-11T10:00:00Z\",\"case\":\"C1\",\"officer\":\"MP2\",\"op\":\"remove\"}\n"
    "{\"kind\":\"future-kind\",\"id\":\"Z\"}\n";

static int64_t T(const char *s)
{
    int64_t t = 0;
    if (cu_time_parse(s, strlen(s), &t))
        cu_test_fail(__FILE__, __LINE__, "bad time %s", s);
    return t;
}

TEST(reference_valid_in_time)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/ref.jsonl", cu_test_tmpdir());
    write_file(path, ref_text);
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_ref *r;
    CHECK_OK(cu_ref_new(n, &r));
    CHECK_OK(cu_ref_load(r, path));
    cu_id mp1 = cu_names_find(n, CU_K_OFFICER, "MP1", 3), mp2 = cu_names_find(n, CU_K_OFFICER, "MP2", 3);
    cu_id c1 = cu_names_find(n, CU_K_CASE, "C1", 2), c2 = cu_names_find(n, CU_K_CASE, "C2", 2);
    cu_id p1 = cu_names_find(n, CU_K_PERSON, "P1", 2), r1 = cu_names_find(n, CU_K_RECORD, "R1", 2);

    /* before anything: nothing visible but people and records */
    CHECK(cu_ref_case(r, c1) == NULL);
    CHECK(cu_ref_officer(r, mp1) == NULL);
    CHECK(cu_ref_person(r, p1) != NULL);
    CHECK_INT(cu_ref_person(r, p1)->flags, CU_PF_PROTECTED | CU_PF_VIP);
    CHECK_INT(cu_ref_record(r, r1)->classification, CU_CLASS_SECRET);

    CHECK_OK(cu_ref_advance(r, T("2024-01-05T08:59:59Z")));
    CHECK(cu_ref_case(r, c1) == NULL); /* a case opened later is invisible */
    CHECK(!cu_ref_assigned(r, c1, mp1));
    CHECK(cu_ref_officer(r, mp1) != NULL);
    CHECK(cu_ref_officer(r, mp2) == NULL); /* starts on the 10th */

    CHECK_OK(cu_ref_advance(r, T("2024-01-05T09:00:00Z")));
    const cu_case *c = cu_ref_case(r, c1);
    CHECK(c != NULL);
    CHECK(cu_ref_assigned(r, c1, mp1));
    CHECK(c && cu_case_links_person(c, p1) && cu_case_links_record(c, r1));
    CHECK(!cu_ref_assigned(r, c1, mp2));

    CHECK_OK(cu_ref_advance(r, T("2024-01-10T00:00:00Z")));
    CHECK(cu_ref_assigned(r, c1, mp2)); /* added on the 9th */
    CHECK(cu_ref_officer(r, mp2) != NULL);
    const cu_id *cs;
    CHECK_INT(cu_ref_officer_cases(r, mp2, &cs), 1);

    CHECK_OK(cu_ref_advance(r, T("2024-01-11T10:00:00Z")));
    CHECK(!cu_ref_assigned(r, c1, mp2)); /* removed at exactly this time */
    CHECK_INT(cu_ref_officer_cases(r, mp2, &cs), 0);

    CHECK_OK(cu_ref_advance(r, T("2024-01-20T23:59:59Z")));
    CHECK(cu_ref_officer(r, mp1) != NULL); /* the end date includes that day */
    CHECK_OK(cu_ref_advance(r, T("2024-01-21T00:00:00Z")));
    CHECK(cu_ref_officer(r, mp1) == NULL);

    CHECK_OK(cu_ref_advance(r, T("2024-02-01T00:00:00Z")));
    CHECK(cu_ref_case(r, c1) == NULL); /* closed */
    CHECK(cu_ref_case(r, c2) == NULL); /* not yet */
    CHECK_OK(cu_ref_advance(r, T("2024-03-01T00:00:00Z")));
    CHECK(cu_ref_case(r, c2) != NULL);
    CHECK(cu_ref_assigned(r, c2, mp2));

    /* the clock never goes back */
    CHECK_RC(cu_ref_advance(r, T("2024-01-01T00:00:00Z")), CU_ERR_ORDER);
    CHECK(cu_ref_case(r, c2) != NULL);

    cu_ref_all all;
    cu_ref_get_all(r, &all);
    CHECK_INT(all.nofficers, 2);
    CHECK_INT(all.npersons, 2);
    CHECK_INT(all.nrecords, 1);
    CHECK_INT(all.ncases, 2);
    CHECK_INT(all.nassigns, 2);
    CHECK_INT(all.officers[0]->nrelations, 1);
    CHECK_STR(all.officers[0]->relations[0].type, "ex-partner");
    cu_ref_free(r);
    cu_names_free(n);
}

static void expect_ref_bad(const char *text, cu_rc want, const char *needle)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/bad.jsonl", cu_test_tmpdir());
    write_file(path, text);
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_ref *r;
    CHECK_OK(cu_ref_new(n, &r));
    cu_rc rc = cu_ref_load(r, path);
    CHECK_MSG(rc == want, "got %s (%s), want %s", cu_strerror(rc), cu_err_detail(), cu_strerror(want));
    char where[1100];
    snprintf(where, sizeof where, "%s:%s", path, needle);
    CHECK_MSG(strstr(cu_err_detail(), where) != NULL, "detail \"%s\" lacks \"%s\"", cu_err_detail(), where);
    cu_ref_free(r);
    cu_names_free(n);
}

TEST(reference_bad_lines)
{
    expect_ref_bad("{\"kind\":\"person\",\"id\":\"P1\"}\n{\"kind\":\"person\"}\n", CU_ERR_PARSE, "2: missing");
    expect_ref_bad("{\"kind\":\"person\",\"id\":\"P1\"}\n{\"kind\":\"person\",\"id\":\"P1\"}\n", CU_ERR_EXISTS,
                   "2: person \"P1\" defined twice (first at line 1)");
    expect_ref_bad("{\"kind\":\"case\",\"id\":\"C1\"}\n", CU_ERR_PARSE, "1: missing required field \"opened\"");
    expect_ref_bad("\n{\"kind\":\"case\",\"id\":\"C1\",\"opened\":\"2024-02-01T00:00:00Z\",\"closed\":\"2024-01-01T00:00:00Z\"}\n",
                   CU_ERR_INVAL, "2: case closed");
    expect_ref_bad("{\"kind\":\"assign\",\"ts\":\"2024-01-01T00:00:00Z\",\"case\":\"C9\",\"officer\":\"MP1\",\"op\":\"add\"}\n",
                   CU_ERR_NOTFOUND, "1: assign names case \"C9\"");
    expect_ref_bad("{\"kind\":\"officer\",\"id\":\"MP1\",\"vetting\":{\"level\":\"XX\"}}\n", CU_ERR_INVAL, "1:");
    expect_ref_bad("{\"kind\":\"record\",\"id\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}\n",
                   CU_ERR_TOOBIG, "1:");
    expect_ref_bad("{\"kind\":\"person\",\"id\":\"P1\"}\n{\"kind\":\"person\",\"id\":\"P2\",\n", CU_ERR_PARSE, "2: malformed");
    expect_ref_bad("{\"kind\":\"assign\",\"ts\":\"2024-01-01T00:00:00Z\",\"case\":\"C9\",\"officer\":\"MP1\",\"op\":\"swap\"}\n",
                   CU_ERR_INVAL, "1: \"op\"");
    /* a field given twice, plainly or once escaped ("\u0069d" is "id") */
    expect_ref_bad("{\"kind\":\"person\",\"id\":\"P1\",\"id\":\"P2\"}\n", CU_ERR_PARSE, "1: field \"id\" given twice");
    expect_ref_bad("{\"kind\":\"person\",\"id\":\"P1\",\"\\u0069d\":\"P2\"}\n", CU_ERR_PARSE,
                   "1: field \"id\" given twice");
    /* an escaped key names its field */
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_ref *r;
    CHECK_OK(cu_ref_new(n, &r));
    const char *esc = "{\"kind\":\"person\",\"\\u0069d\":\"P7\"}";
    CHECK_OK(cu_ref_add_line(r, esc, strlen(esc), 1));
    CHECK(cu_names_find(n, CU_K_PERSON, "P7", 2) != CU_ID_NONE);
    cu_ref_free(r);
    cu_names_free(n);
}

/* ------------------------------------------------------------- alerts */

TEST(alert_write)
{
    cu_names *n;
    CHECK_OK(cu_names_new(&n));
    cu_id o, p;
    CHECK_OK(cu_names_intern(n, CU_K_OFFICER, "MP10432", 7, &o));
    CHECK_OK(cu_names_intern(n, CU_K_PERSON, "P88121", 6, &p));
    cu_alert *a = cu_calloc(1, sizeof *a);
    cu_alert_clear(a);
    a->num = 17;
    a->raised_at = T("2024-01-12T02:10:00Z");
    snprintf(a->kind, sizeof a->kind, "protected-person");
    cu_alert_add_officer(a, o);
    cu_alert_add_officer(a, o);
    cu_alert_add_subject(a, p);
    cu_alert_add_event(a, "E000193", T("2024-01-09T14:07:33Z"));
    cu_alert_add_event(a, "E004471", T("2024-01-12T02:09:51Z"));
    a->score = 0.93;
    cu_alert_add_reason(a, "viewed a \"protected\" person with no case link");
    cu_buf b;
    cu_buf_init(&b, 1 << 16);
    CHECK_OK(cu_alert_write(n, a, &b));
    CHECK_STR(b.data, "{\"id\":\"A17\",\"raised_at\":\"2024-01-12T02:10:00Z\",\"kind\":\"protected-person\","
                      "\"officers\":[\"MP10432\"],\"subjects\":[\"P88121\"],\"score\":0.93,"
                      "\"first_event\":\"2024-01-09T14:07:33Z\",\"last_event\":\"2024-01-12T02:09:51Z\","
                      "\"events\":[\"E000193\",\"E004471\"],"
                      "\"reasons\":[\"viewed a \\\"protected\\\" person with no case link\"]}\n");
    json_error_t err;
    json_t *j = json_loadb(b.data, b.len, 0, &err);
    CHECK(j != NULL);
    json_decref(j);
    cu_buf_free(&b);
    cu_free(a);
    cu_names_free(n);
}
