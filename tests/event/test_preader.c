/* The parallel events reader against the serial one: the same events, the
 * same interned ids in the same order, the same errors with the same file
 * and line, and every event before a bad line returned first, whatever the
 * block size (small blocks put line ends, escapes and errors at every
 * position of a block) and the number of workers. */
#include "harness.h"

#include "custos/event.h"

#include <stdio.h>
#include <string.h>

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len)
        cu_test_fail(__FILE__, __LINE__, "cannot write %s", path);
    if (f)
        fclose(f);
}

/* A varied file: escapes in ids, null and absent optional fields, blank
 * lines, CRLF, many subjects, unknown fields, ids shared across lines. */
static void build_events(cu_buf *b, int n)
{
    cu_buf_reset(b);
    for (int i = 0; i < n; i++) {
        char ts[21];
        cu_time_format(1704801600 + i / 3, ts);
        int kind = i % 9;
        if (kind == 4)
            CHECK_OK(cu_buf_appends(b, "\n"));
        if (kind == 7)
            CHECK_OK(cu_buf_appends(b, "   \t\r\n"));
        CHECK_OK(cu_buf_appendf(b, "{\"kind\":\"access\",\"id\":\"E%d\",\"ts\":\"%s\",\"officer\":\"MP%d\",", i, ts, i % 13));
        if (kind == 1)
            CHECK_OK(cu_buf_appendf(b, "\"system\":\"P\\u004eC\",\"action\":\"view\",\"record\":\"R\\\"%d\",", i % 50));
        else
            CHECK_OK(cu_buf_appendf(b, "\"system\":\"PNC\",\"action\":\"%s\",\"record\":%s,", kind == 2 ? "search" : "view",
                                 kind == 2 ? "null" : "\"R1\""));
        CHECK_OK(cu_buf_appends(b, "\"subjects\":["));
        int ns = kind == 5 ? 40 : kind == 2 ? 0 : 1 + i % 3;
        for (int s = 0; s < ns; s++)
            CHECK_OK(cu_buf_appendf(b, "%s\"P%d\"", s ? "," : "", (i * 7 + s * 31) % 500));
        CHECK_OK(cu_buf_appends(b, "],"));
        if (kind == 3)
            CHECK_OK(cu_buf_appends(b, "\"extra\":{\"nested\":[1,2,{\"x\":\"\\ud83d\\ude00\"}]},"));
        if (kind != 6)
            CHECK_OK(cu_buf_appendf(b, "\"purpose\":\"investigation\",\"case\":%s,\"terminal\":\"T-%d\",\"area\":\"CW\",",
                                 i % 4 ? "null" : "\"C2024-0117\"", i % 17));
        CHECK_OK(cu_buf_appendf(b, "\"outcome\":\"%s\",\"results\":%d}%s\n", i % 11 ? "allow" : "deny", i % 5,
                             kind == 8 ? "\r" : ""));
    }
}

static bool same_event(const cu_names *na, const cu_event *a, const cu_names *nb, const cu_event *b)
{
    if (a->ts != b->ts || a->officer != b->officer || a->system != b->system || a->record != b->record ||
        a->purpose != b->purpose || a->case_id != b->case_id || a->terminal != b->terminal || a->area != b->area ||
        a->action != b->action || a->outcome != b->outcome || a->has_results != b->has_results ||
        a->results != b->results || a->nsubjects != b->nsubjects || strcmp(a->id, b->id) != 0 ||
        a->id_len != b->id_len)
        return false;
    for (uint32_t i = 0; i < a->nsubjects; i++)
        if (a->subjects[i] != b->subjects[i] ||
            strcmp(cu_names_str(na, CU_K_PERSON, a->subjects[i]), cu_names_str(nb, CU_K_PERSON, b->subjects[i])))
            return false;
    const char *sa = cu_names_str(na, CU_K_SYSTEM, a->system), *sb = cu_names_str(nb, CU_K_SYSTEM, b->system);
    return sa && sb && strcmp(sa, sb) == 0;
}

struct outcome {
    uint64_t events;
    cu_rc rc;
    char detail[1200];
};

/* Read path both ways; check event by event; report how it ended. */
static void compare(const char *path, unsigned workers, size_t block, struct outcome *out)
{
    cu_names *ns, *np;
    CHECK_OK(cu_names_new(&ns));
    CHECK_OK(cu_names_new(&np));
    cu_event_reader *sr;
    cu_event_preader *pr;
    CHECK_OK(cu_event_reader_open(path, ns, &sr));
    CHECK_OK(cu_event_preader_open(path, np, workers, block, &pr));
    cu_id s1[CU_EVENT_MAX_SUBJECTS], s2[CU_EVENT_MAX_SUBJECTS];
    cu_event a = {.subjects = s1, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    cu_event b = {.subjects = s2, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    uint64_t n = 0;
    for (;;) {
        cu_rc ra = cu_event_reader_next(sr, &a);
        char da[1200];
        snprintf(da, sizeof da, "%s", ra ? cu_err_detail() : "");
        cu_rc rb = cu_event_preader_next(pr, &b);
        CHECK_MSG(ra == rb, "event %llu (workers %u, block %zu): serial %s, parallel %s (%s)", (unsigned long long)n,
                  workers, block, cu_strerror(ra), cu_strerror(rb), rb ? cu_err_detail() : "");
        if (ra != rb)
            break;
        if (ra) {
            if (ra != CU_ERR_NOTFOUND)
                CHECK_STR(cu_err_detail(), da);
            out->rc = ra;
            snprintf(out->detail, sizeof out->detail, "%s", da);
            break;
        }
        CHECK_MSG(same_event(ns, &a, np, &b), "event %llu differs (workers %u, block %zu): %s vs %s",
                  (unsigned long long)n, workers, block, a.id, b.id);
        CHECK_INT(cu_event_preader_line(pr), cu_event_reader_line(sr));
        n++;
    }
    /* the names tables are built in the same order */
    for (int k = 0; k < CU_K_COUNT_; k++) {
        CHECK_INT(cu_names_count(np, (cu_idkind)k), cu_names_count(ns, (cu_idkind)k));
        for (uint32_t i = 0; i < cu_names_count(ns, (cu_idkind)k); i++)
            CHECK_STR(cu_names_str(np, (cu_idkind)k, i), cu_names_str(ns, (cu_idkind)k, i));
    }
    out->events = n;
    cu_event_reader_close(sr);
    cu_event_preader_close(pr);
    cu_names_free(ns);
    cu_names_free(np);
}

static const size_t blocks[] = {1, 97, 256, 1000, 4096, 65536, 0};
static const unsigned workers[] = {1, 2, 3};

TEST(parallel_reader_matches_serial)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/pr_good.jsonl", cu_test_tmpdir());
    cu_buf b;
    cu_buf_init(&b, 16 << 20);
    build_events(&b, 3000);
    write_file(path, b.data, b.len);
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        for (size_t w = 0; w < sizeof workers / sizeof workers[0]; w++) {
            struct outcome o = {0};
            compare(path, workers[w], blocks[i], &o);
            CHECK_INT(o.events, 3000);
            CHECK_RC(o.rc, CU_ERR_NOTFOUND);
        }
    /* no line end after the last line; an empty file; only blank lines */
    write_file(path, b.data, b.len - 1);
    struct outcome o = {0};
    compare(path, 2, 333, &o);
    CHECK_INT(o.events, 3000);
    write_file(path, "", 0);
    compare(path, 2, 0, &o);
    CHECK_INT(o.events, 0);
    write_file(path, "\n\n  \n\r\n", 6);
    compare(path, 2, 2, &o);
    CHECK_INT(o.events, 0);
    CHECK_RC(o.rc, CU_ERR_NOTFOUND);
    cu_buf_free(&b);
}

/* A bad line at line `at` (1-based, counting blank lines) of the file. */
static void check_bad(const char *path, const cu_buf *good, int at, const char *bad, cu_rc want, const char *want_in)
{
    cu_buf f;
    cu_buf_init(&f, 32 << 20);
    const char *p = good->data, *end = good->data + good->len;
    int line = 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (line == at)
            CHECK_OK(cu_buf_appendf(&f, "%s\n", bad));
        CHECK_OK(cu_buf_append(&f, p, (size_t)(nl - p) + 1));
        p = nl + 1;
        line++;
    }
    write_file(path, f.data, f.len);
    /* the events before the bad line (non-blank lines before it) */
    uint64_t before = 0;
    p = f.data;
    for (int l = 1; l < at; l++) {
        const char *nl = memchr(p, '\n', (size_t)(f.data + f.len - p));
        size_t n = (size_t)(nl - p);
        while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n)
            before++;
        p = nl + 1;
    }
    char want_prefix[1200];
    snprintf(want_prefix, sizeof want_prefix, "%s:%d:", path, at);
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        struct outcome o = {0};
        compare(path, 2, blocks[i], &o);
        CHECK_RC(o.rc, want);
        CHECK_INT(o.events, before);
        CHECK_MSG(strncmp(o.detail, want_prefix, strlen(want_prefix)) == 0, "detail %s, want %s...", o.detail,
                  want_prefix);
        CHECK_MSG(strstr(o.detail, want_in) != NULL, "detail %s lacks %s", o.detail, want_in);
    }
    cu_buf_free(&f);
}

TEST(parallel_reader_errors_match_serial)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/pr_bad.jsonl", cu_test_tmpdir());
    cu_buf good;
    cu_buf_init(&good, 16 << 20);
    build_events(&good, 400);
    /* bad lines at the start, in the middle of blocks, at the end */
    check_bad(path, &good, 1, "{\"kind\":\"access\"", CU_ERR_PARSE, "malformed JSON");
    check_bad(path, &good, 37, "{\"kind\":\"access\",\"id\":\"BAD\"}", CU_ERR_PARSE, "missing required field");
    check_bad(path, &good, 211, "{\"kind\":\"access\",\"id\":\"X\",\"ts\":\"2024-01-09T12:00:00Z\",\"officer\":\"\","
                               "\"system\":\"S\",\"action\":\"view\",\"outcome\":\"allow\"}",
              CU_ERR_INVAL, "\"officer\" is empty");
    check_bad(path, &good, 300, "{\"kind\":\"access\",\"id\":\"X\",\"ts\":\"2024-01-09T12:00:00Z\",\"officer\":\"o\","
                               "\"system\":\"S\",\"action\":\"peek\",\"outcome\":\"allow\"}",
              CU_ERR_INVAL, "unknown action");
    /* an event earlier than the one before it (the file starts at 12:00) */
    check_bad(path, &good, 120, "{\"kind\":\"access\",\"id\":\"OLD\",\"ts\":\"2020-01-01T00:00:00Z\",\"officer\":\"o\","
                               "\"system\":\"S\",\"action\":\"view\",\"outcome\":\"allow\"}",
              CU_ERR_ORDER, "event OLD");
    /* a line over the limit, in the middle */
    char *longline = cu_malloc(CU_EVENT_MAX_LINE + 20);
    memset(longline, ' ', CU_EVENT_MAX_LINE + 10);
    longline[0] = '{';
    longline[CU_EVENT_MAX_LINE + 10] = '\0';
    check_bad(path, &good, 250, longline, CU_ERR_TOOBIG, "line longer than");
    cu_free(longline);
    cu_buf_free(&good);
}
