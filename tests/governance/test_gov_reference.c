/* Vetting register lines in a reference file (the event module's reader,
 * as `custos replay` reads it): accepted, applied to the officer (the
 * register wins over the officer line), and bad ones refused with file and
 * line. */
#include "harness.h"

#include "custos/event.h"

#include <stdio.h>
#include <string.h>

static const char *write_ref(const char *name, const char *text)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", cu_test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static int64_t D(const char *s)
{
    int64_t t = 0;
    if (cu_date_parse(s, strlen(s), &t))
        fprintf(stderr, "bad test date %s\n", s);
    return t;
}

#define OFF(id, lvl) "{\"kind\":\"officer\",\"id\":\"" id "\",\"role\":\"PC\",\"unit\":\"U1\",\"area\":\"CW\"," \
    "\"vetting\":{\"level\":\"" lvl "\",\"granted\":\"2019-01-01\",\"expires\":\"2029-01-01\"},\"start\":\"2010-01-01\",\"end\":null}\n"

TEST(vetting_lines_apply_to_officers)
{
    const char *p = write_ref("ref.jsonl",
        OFF("MP1", "NPPV2") OFF("MP2", "SC") OFF("MP3", "RV")
        "{\"kind\":\"vetting\",\"officer\":\"MP1\",\"level\":\"SC\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\",\"review\":\"2026-01-01\",\"status\":\"active\"}\n"
        "{\"kind\":\"vetting\",\"officer\":\"MP1\",\"level\":\"NPPV3\",\"granted\":\"2021-01-01\",\"expires\":\"2031-01-01\"}\n"
        "{\"kind\":\"vetting\",\"officer\":\"MP2\",\"level\":\"SC\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\",\"status\":\"suspended\"}\n");
    cu_names *n = NULL;
    cu_ref *r = NULL;
    CHECK_OK(cu_names_new(&n));
    CHECK_OK(cu_ref_new(n, &r));
    CHECK_OK(cu_ref_load(r, p));
    CHECK_OK(cu_ref_advance(r, D("2025-01-01")));
    const cu_officer *o1 = cu_ref_officer(r, cu_names_find(n, CU_K_OFFICER, "MP1", 3));
    const cu_officer *o2 = cu_ref_officer(r, cu_names_find(n, CU_K_OFFICER, "MP2", 3));
    const cu_officer *o3 = cu_ref_officer(r, cu_names_find(n, CU_K_OFFICER, "MP3", 3));
    CHECK(o1 && o2 && o3);
    if (o1 && o2 && o3) {
        /* the active line expiring last */
        CHECK_INT(o1->vetting, CU_VET_NPPV3);
        CHECK_INT(o1->vet_expires, D("2031-01-01"));
        CHECK_INT(o2->vetting, CU_VET_NONE); /* suspended in the register */
        CHECK_INT(o3->vetting, CU_VET_RV);   /* not in the register: the officer line */
    }
    cu_ref_all all;
    cu_ref_get_all(r, &all);
    CHECK_INT(all.nvettings, 3);
    CHECK_INT(all.vettings[0].review, D("2026-01-01"));
    CHECK_INT(all.vettings[2].status, CU_VST_SUSPENDED);
    cu_ref_free(r);
    cu_names_free(n);
}

static void bad(const char *text, const char *want)
{
    const char *p = write_ref("bad.jsonl", text);
    cu_names *n = NULL;
    cu_ref *r = NULL;
    CHECK_OK(cu_names_new(&n));
    CHECK_OK(cu_ref_new(n, &r));
    cu_rc rc = cu_ref_load(r, p);
    CHECK(rc != CU_OK);
    char w[800];
    snprintf(w, sizeof w, "%s:%s", p, want);
    CHECK_MSG(strstr(cu_err_detail(), w) != NULL, "detail \"%s\", want \"%s\"", cu_err_detail(), w);
    cu_ref_free(r);
    cu_names_free(n);
}

TEST(bad_vetting_lines_name_file_and_line)
{
    bad(OFF("MP1", "RV") "{\"kind\":\"vetting\",\"officer\":\"MP1\",\"level\":\"TS\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"}\n",
        "2: unknown vetting level");
    bad(OFF("MP1", "RV") OFF("MP2", "RV")
        "{\"kind\":\"vetting\",\"officer\":\"MP1\",\"level\":\"SC\",\"granted\":\"2030-01-01\",\"expires\":\"2020-01-01\"}\n",
        "3: dates out of order");
    bad(OFF("MP1", "RV") "{\"kind\":\"vetting\",\"officer\":\"MP9\",\"level\":\"SC\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"}\n",
        "2: vetting names officer \"MP9\", which is not defined");
    bad(OFF("MP1", "RV") "{\"kind\":\"vetting\",\"officer\":\"MP1\",\"level\":\"SC\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\",\"status\":\"paused\"}\n",
        "2: unknown vetting status");
    bad(OFF("MP1", "RV") "{\"kind\":\"vetting\",\"officer\":\"MP1\",\"level\":\"SC\",\"expires\":\"2030-01-01\"}\n",
        "2: missing required field \"granted\"");
}
