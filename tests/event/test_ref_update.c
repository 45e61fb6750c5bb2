/* event: updates of a sealed reference context (cu_ref_update_check and
 * cu_ref_update_apply, custosd's POST /v1/reference on the pipeline's side):
 * a checked line changes nothing until applied; an assignment in the past
 * takes effect at once, one in the future at its time; a new case opens at
 * its time; a replaced case's own officers leave it; a replaced record or
 * person is seen by the next look-up while the old object stays readable;
 * a new officer can be assigned; bad lines (unknown case, vetting) are
 * refused and change nothing. */
#include "harness.h"

#include "custos/event.h"

#include <stdio.h>
#include <string.h>

static const char *ref_text =
    "{\"kind\":\"officer\",\"id\":\"MP1\",\"start\":\"2015-09-01\",\"end\":null}\n"
    "{\"kind\":\"officer\",\"id\":\"MP2\",\"start\":\"2015-09-01\",\"end\":null}\n"
    "{\"kind\":\"person\",\"id\":\"P1\",\"flags\":[]}\n"
    "{\"kind\":\"record\",\"id\":\"R1\",\"type\":\"nominal\",\"system\":\"PNC\",\"subjects\":[\"P1\"],"
    "\"classification\":\"OFFICIAL\",\"caveats\":[]}\n"
    "{\"kind\":\"case\",\"id\":\"C1\",\"opened\":\"2024-01-05T09:00:00Z\",\"closed\":null,\"officers\":[\"MP1\"],"
    "\"subjects\":[\"P1\"],\"records\":[\"R1\"]}\n";

static int64_t T(const char *s)
{
    int64_t t = 0;
    if (cu_time_parse(s, strlen(s), &t))
        cu_test_fail(__FILE__, __LINE__, "bad time %s", s);
    return t;
}

static cu_rc upd(cu_ref *r, const char *line)
{
    cu_rc rc = cu_ref_update_check(r, line, strlen(line), 1);
    return rc ? rc : cu_ref_update_apply(r);
}

static bool open_ref(cu_names **n, cu_ref **r)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/ref_upd.jsonl", cu_test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return false;
    fputs(ref_text, f);
    fclose(f);
    CHECK_OK(cu_names_new(n));
    CHECK_OK(cu_ref_new(*n, r));
    CHECK_OK(cu_ref_load(*r, path));
    CHECK_OK(cu_ref_advance(*r, T("2024-02-01T00:00:00Z")));
    return *r != NULL;
}

TEST(assignments_past_and_future)
{
    cu_names *n = NULL;
    cu_ref *r = NULL;
    if (!open_ref(&n, &r))
        goto done;
    cu_id mp2 = cu_names_find(n, CU_K_OFFICER, "MP2", 3), c1 = cu_names_find(n, CU_K_CASE, "C1", 2);
    CHECK(!cu_ref_assigned(r, c1, mp2));
    /* checked, not applied: nothing changes */
    const char *past = "{\"kind\":\"assign\",\"ts\":\"2024-01-20T00:00:00Z\",\"case\":\"C1\",\"officer\":\"MP2\",\"op\":\"add\"}";
    CHECK_OK(cu_ref_update_check(r, past, strlen(past), 1));
    CHECK(!cu_ref_assigned(r, c1, mp2));
    CHECK_OK(cu_ref_update_apply(r));
    CHECK(cu_ref_assigned(r, c1, mp2)); /* in the past: at once */
    const cu_id *cases;
    CHECK_INT(cu_ref_officer_cases(r, mp2, &cases), 1);
    /* a removal to come: at its time, not before */
    CHECK_OK(upd(r, "{\"kind\":\"assign\",\"ts\":\"2024-02-10T00:00:00Z\",\"case\":\"C1\",\"officer\":\"MP2\",\"op\":\"remove\"}"));
    CHECK(cu_ref_assigned(r, c1, mp2));
    CHECK_OK(cu_ref_advance(r, T("2024-02-09T23:59:59Z")));
    CHECK(cu_ref_assigned(r, c1, mp2));
    CHECK_OK(cu_ref_advance(r, T("2024-02-10T00:00:00Z")));
    CHECK(!cu_ref_assigned(r, c1, mp2));
    /* an officer new since the seal can be assigned */
    CHECK_OK(upd(r, "{\"kind\":\"officer\",\"id\":\"MP9\",\"start\":\"2024-02-01\",\"end\":null}"));
    CHECK_OK(upd(r, "{\"kind\":\"assign\",\"ts\":\"2024-02-10T00:00:00Z\",\"case\":\"C1\",\"officer\":\"MP9\",\"op\":\"add\"}"));
    cu_id mp9 = cu_names_find(n, CU_K_OFFICER, "MP9", 3);
    CHECK(cu_ref_officer(r, mp9) != NULL);
    CHECK(cu_ref_assigned(r, c1, mp9));
    /* refused, nothing changes */
    CHECK_INT(upd(r, "{\"kind\":\"assign\",\"ts\":\"2024-01-20T00:00:00Z\",\"case\":\"NOPE\",\"officer\":\"MP1\",\"op\":\"add\"}"),
              CU_ERR_NOTFOUND);
    CHECK_INT(upd(r, "{\"kind\":\"vetting\",\"officer\":\"MP1\",\"level\":\"SC\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"}"),
              CU_ERR_INVAL);
    CHECK_OK(cu_ref_update_apply(r)); /* nothing held: a no-op */
    cu_ref_all all;
    cu_ref_get_all(r, &all);
    CHECK_INT(all.nassigns, 3);
done:
    cu_ref_free(r);
    cu_names_free(n);
}

/* cu_ref_case answers from the span of the case now in force (ref.c
 * invariant 5): a replacement that closes, reopens or moves a case is seen
 * by the next look-up, and ids never defined (even far beyond the last one)
 * are no case. */
TEST(case_span_follows_replacement)
{
    cu_names *n = NULL;
    cu_ref *r = NULL;
    if (!open_ref(&n, &r))
        goto done;
    cu_id c1 = cu_names_find(n, CU_K_CASE, "C1", 2);
    CHECK(cu_ref_case(r, c1) != NULL);
    CHECK(cu_ref_case(r, c1 + 1) == NULL);
    CHECK(cu_ref_case(r, 1u << 30) == NULL);
    /* closed before now: gone at once */
    CHECK_OK(upd(r, "{\"kind\":\"case\",\"id\":\"C1\",\"opened\":\"2024-01-05T09:00:00Z\","
                    "\"closed\":\"2024-01-20T00:00:00Z\",\"officers\":[\"MP1\"],\"subjects\":[],\"records\":[]}"));
    CHECK(cu_ref_case(r, c1) == NULL);
    /* reopened, closing later: back, then gone when the clock passes the close */
    CHECK_OK(upd(r, "{\"kind\":\"case\",\"id\":\"C1\",\"opened\":\"2024-01-05T09:00:00Z\","
                    "\"closed\":\"2024-02-03T00:00:00Z\",\"officers\":[\"MP1\"],\"subjects\":[],\"records\":[]}"));
    const cu_case *c = cu_ref_case(r, c1);
    CHECK(c != NULL);
    CHECK(c && c->closed == T("2024-02-03T00:00:00Z"));
    CHECK_OK(cu_ref_advance(r, T("2024-02-02T23:59:59Z")));
    CHECK(cu_ref_case(r, c1) != NULL);
    CHECK_OK(cu_ref_advance(r, T("2024-02-03T00:00:00Z")));
    CHECK(cu_ref_case(r, c1) == NULL);
    /* moved to open in the future: not a case until then */
    CHECK_OK(upd(r, "{\"kind\":\"case\",\"id\":\"C1\",\"opened\":\"2024-02-10T00:00:00Z\","
                    "\"closed\":null,\"officers\":[\"MP1\"],\"subjects\":[],\"records\":[]}"));
    CHECK(cu_ref_case(r, c1) == NULL);
    CHECK_OK(cu_ref_advance(r, T("2024-02-10T00:00:00Z")));
    CHECK(cu_ref_case(r, c1) != NULL);
done:
    cu_ref_free(r);
    cu_names_free(n);
}

TEST(cases_and_objects_replaced)
{
    cu_names *n = NULL;
    cu_ref *r = NULL;
    if (!open_ref(&n, &r))
        goto done;
    cu_id mp1 = cu_names_find(n, CU_K_OFFICER, "MP1", 3), mp2 = cu_names_find(n, CU_K_OFFICER, "MP2", 3);
    cu_id c1 = cu_names_find(n, CU_K_CASE, "C1", 2), r1 = cu_names_find(n, CU_K_RECORD, "R1", 2);
    CHECK(cu_ref_assigned(r, c1, mp1));
    /* C1 again with MP2 as its officer: MP1 leaves, MP2 joins, now */
    CHECK_OK(upd(r, "{\"kind\":\"case\",\"id\":\"C1\",\"opened\":\"2024-01-05T09:00:00Z\",\"closed\":null,"
                    "\"officers\":[\"MP2\"],\"subjects\":[\"P1\"],\"records\":[\"R1\"]}"));
    CHECK(!cu_ref_assigned(r, c1, mp1));
    CHECK(cu_ref_assigned(r, c1, mp2));
    /* a new case opening later: invisible until then */
    CHECK_OK(upd(r, "{\"kind\":\"case\",\"id\":\"C2\",\"opened\":\"2024-03-01T00:00:00Z\",\"closed\":null,"
                    "\"officers\":[\"MP1\"],\"subjects\":[],\"records\":[\"R1\"]}"));
    cu_id c2 = cu_names_find(n, CU_K_CASE, "C2", 2);
    CHECK(cu_ref_case(r, c2) == NULL);
    CHECK(!cu_ref_assigned(r, c2, mp1));
    CHECK_OK(cu_ref_advance(r, T("2024-03-01T00:00:00Z")));
    CHECK(cu_ref_case(r, c2) != NULL);
    CHECK(cu_ref_assigned(r, c2, mp1));
    CHECK(cu_case_links_record(cu_ref_case(r, c2), r1));
    /* a record replaced: the next look-up sees the new one, the old stays readable */
    const cu_record *old = cu_ref_record(r, r1);
    CHECK_OK(upd(r, "{\"kind\":\"record\",\"id\":\"R1\",\"type\":\"nominal\",\"system\":\"PND\",\"subjects\":[],"
                    "\"classification\":\"SECRET\",\"caveats\":[]}"));
    const cu_record *now = cu_ref_record(r, r1);
    CHECK(now != old);
    CHECK_INT(now->classification, CU_CLASS_SECRET);
    CHECK_INT(now->nsubjects, 0);
    CHECK_INT(old->nsubjects, 1);
    /* one record in the list of all, the new one */
    cu_ref_all all;
    cu_ref_get_all(r, &all);
    CHECK_INT(all.nrecords, 1);
    CHECK(all.nrecords == 1 && all.records[0] == now);
    CHECK_INT(all.ncases, 2);
done:
    cu_ref_free(r);
    cu_names_free(n);
}

/* cu_ref_get_all after updates: each object once, a replaced one in its
 * first place (the store writes rows in this order), new ones at the end;
 * many replacements of one record keep one entry (found by its place, not
 * by a search of the list). */
TEST(all_lists_keep_places)
{
    cu_names *n = NULL;
    cu_ref *r = NULL;
    if (!open_ref(&n, &r))
        return;
    CHECK_OK(upd(r, "{\"kind\":\"person\",\"id\":\"P2\",\"flags\":[]}"));
    for (int i = 0; i < 50; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"kind\":\"record\",\"id\":\"R1\",\"type\":\"nominal\",\"system\":\"PNC\",\"subjects\":[\"%s\"],"
                 "\"classification\":\"OFFICIAL\",\"caveats\":[]}",
                 i % 2 ? "P1" : "P2");
        CHECK_OK(upd(r, line));
    }
    CHECK_OK(upd(r, "{\"kind\":\"record\",\"id\":\"R2\",\"type\":\"nominal\",\"system\":\"PNC\",\"subjects\":[],"
                    "\"classification\":\"OFFICIAL\",\"caveats\":[]}"));
    CHECK_OK(upd(r, "{\"kind\":\"person\",\"id\":\"P1\",\"flags\":[\"vip\"]}"));
    cu_ref_all all;
    cu_ref_get_all(r, &all);
    CHECK(all.nrecords == 2 && all.npersons == 2);
    cu_id r1, r2, p1, p2;
    CHECK_OK(cu_names_intern(n, CU_K_RECORD, "R1", 2, &r1));
    CHECK_OK(cu_names_intern(n, CU_K_RECORD, "R2", 2, &r2));
    CHECK_OK(cu_names_intern(n, CU_K_PERSON, "P1", 2, &p1));
    CHECK_OK(cu_names_intern(n, CU_K_PERSON, "P2", 2, &p2));
    if (all.nrecords == 2 && all.npersons == 2) {
        CHECK(all.records[0]->id == r1 && all.records[1]->id == r2);
        CHECK(all.records[0]->nsubjects == 1 && all.records[0]->subjects[0] == p1); /* the last of the 50 */
        CHECK(all.persons[0]->id == p1 && all.persons[0]->flags != 0 && all.persons[1]->id == p2);
        CHECK(cu_ref_all_get(r, CU_REF_RECORD, r1) == all.records[0]);
    }
    cu_ref_free(r);
    cu_names_free(n);
}
