/* import: the CSV, syslog and CEF line parsers on good and broken lines,
 * the mapping file, and building events. */
#include "harness.h"

#include "custos/import.h"

#include <stdio.h>
#include <stdlib.h>

static cu_import_rec rec;

static const char *get(const cu_import_rec *r, const char *name)
{
    for (uint32_t i = 0; i < r->n; i++)
        if (strcmp(r->f[i].name, name) == 0)
            return r->f[i].value;
    return NULL;
}

TEST(csv_lines)
{
    const char *l = "a,\"b,c\",\"say \"\"hi\"\"\",,e\r";
    CHECK_OK(cu_import_csv_line(l, strlen(l), ',', &rec));
    CHECK_INT(rec.n, 5);
    CHECK_STR(get(&rec, "#1"), "a");
    CHECK_STR(get(&rec, "#2"), "b,c");
    CHECK_STR(get(&rec, "#3"), "say \"hi\"");
    CHECK_STR(get(&rec, "#4"), "");
    CHECK_STR(get(&rec, "#5"), "e");
    CHECK_OK(cu_import_csv_line("x\ty", 3, '\t', &rec));
    CHECK_INT(rec.n, 2);
    CHECK_RC(cu_import_csv_line("a,\"b", 4, ',', &rec), CU_ERR_PARSE);
    CHECK_RC(cu_import_csv_line("a,\"b\"c", 6, ',', &rec), CU_ERR_PARSE);
    CHECK_RC(cu_import_csv_line("a,b\"c", 5, ',', &rec), CU_ERR_PARSE);
    /* too many columns: refused before the buffer could overflow */
    static char many[CU_IMPORT_MAX_LINE];
    memset(many, ',', sizeof many);
    CHECK_RC(cu_import_csv_line(many, sizeof many, ',', &rec), CU_ERR_TOOBIG);
}

TEST(syslog_lines)
{
    const char *l = "<134>1 2024-01-09T14:07:33Z host app 42 ACCESS [a@1 id=\"E1\" v=\"x \\\"q\\\" \\] \\\\ \\n\"][b@2 id=\"E2\"] the msg";
    CHECK_OK(cu_import_syslog_line(l, strlen(l), &rec));
    CHECK_STR(get(&rec, "TIMESTAMP"), "2024-01-09T14:07:33Z");
    CHECK_STR(get(&rec, "HOSTNAME"), "host");
    CHECK_STR(get(&rec, "APP-NAME"), "app");
    CHECK_STR(get(&rec, "MSGID"), "ACCESS");
    CHECK_STR(get(&rec, "v"), "x \"q\" ] \\ \\n");
    CHECK_STR(get(&rec, "MSG"), "the msg");
    int ids = 0;
    for (uint32_t i = 0; i < rec.n; i++)
        if (strcmp(rec.f[i].name, "id") == 0) {
            CHECK_STR(rec.f[i].group, ids == 0 ? "a@1" : "b@2");
            ids++;
        }
    CHECK_INT(ids, 2);
    const char *nil = "<0>1 - - - - - -";
    CHECK_OK(cu_import_syslog_line(nil, strlen(nil), &rec));
    CHECK_INT(rec.n, 0);
    static const char *bad[] = {
        "134>1 - - - - - -", "<192>1 - - - - - -", "<13>0 - - - - - -", "<13> - - - - - -",
        "<13>1 - - - - -", "<13>1 - - - - - [", "<13>1 - - - - - [a b=\"c]", "<13>1 - - - - - [a b=c]",
        "<13>1 - - - - - [a b=\"c\"", "<13>1 - - - - - [a b=\"c]\"]", "<013>1 - - - - - -",
        "Jan 9 14:07:33 host app: BSD format",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(cu_import_syslog_line(bad[i], strlen(bad[i]), &rec) == CU_ERR_PARSE, "accepted: %s", bad[i]);
}

TEST(cef_lines)
{
    const char *l = "Jan  9 14:07:33 gw CEF:0|Ven\\|dor|Prod|1.0|100|Name|5|suser=MP1 msg=hello world a\\=b cs1=E1 x=";
    CHECK_OK(cu_import_cef_line(l, strlen(l), &rec));
    CHECK_STR(get(&rec, "cef.vendor"), "Ven|dor");
    CHECK_STR(get(&rec, "cef.severity"), "5");
    CHECK_STR(get(&rec, "suser"), "MP1");
    CHECK_STR(get(&rec, "msg"), "hello world a=b");
    CHECK_STR(get(&rec, "cs1"), "E1");
    CHECK_STR(get(&rec, "x"), "");
    static const char *bad[] = {"no header here", "CEF:0|a|b|c|d|e", "CEF:0|a|b|c|d|e|f|=x", "CEF:0|a|b|c|d|e|f|k=a=b",
                                "CEF:0|a|b|c|d|e|f|k=\\q"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(cu_import_cef_line(bad[i], strlen(bad[i]), &rec) == CU_ERR_PARSE, "accepted: %s", bad[i]);
}

TEST(map_and_build)
{
    const char *map = "# test\nheader = no\nid = #1\nts = #2\nts.format = epoch\nofficer = #3\nsystem = \"PNC\"\n"
                      "action = #4\nmap.action.V = view\noutcome = \"allow\"\nsubjects = #5\nsubjects.sep = |\n";
    cu_import_map *m;
    CHECK_OK(cu_import_map_parse(map, strlen(map), "m", &m));
    CHECK(!cu_import_map_has_header(m));
    const char *l = "E1,1704809253,MP1,V, P1 || P2 ";
    CHECK_OK(cu_import_csv_line(l, strlen(l), ',', &rec));
    cu_buf b;
    cu_buf_init(&b, 1 << 16);
    CHECK_OK(cu_import_build(m, &rec, &b));
    CHECK_STR(b.data, "{\"kind\":\"access\",\"id\":\"E1\",\"ts\":\"2024-01-09T14:07:33Z\",\"officer\":\"MP1\",\"system\":\"PNC\","
                      "\"action\":\"view\",\"record\":null,\"purpose\":null,\"case\":null,\"terminal\":null,\"area\":null,"
                      "\"outcome\":\"allow\",\"subjects\":[\"P1\",\"P2\"]}\n");
    const char *missing = "E1,1704809253,,V,";
    CHECK_OK(cu_import_csv_line(missing, strlen(missing), ',', &rec));
    CHECK_RC(cu_import_build(m, &rec, &b), CU_ERR_PARSE);
    CHECK_MSG(strstr(cu_err_detail(), "officer") != NULL, "detail: %s", cu_err_detail());
    const char *badts = "E1,yesterday,MP1,V,";
    CHECK_OK(cu_import_csv_line(badts, strlen(badts), ',', &rec));
    CHECK_RC(cu_import_build(m, &rec, &b), CU_ERR_PARSE);
    cu_buf_free(&b);
    cu_import_map_free(m);
    /* bad maps name their line */
    const char *bad1 = "id = #1\nwhat = x\n";
    CHECK_RC(cu_import_map_parse(bad1, strlen(bad1), "m", &m), CU_ERR_PARSE);
    CHECK_MSG(strstr(cu_err_detail(), "m:2:") != NULL, "detail: %s", cu_err_detail());
    const char *bad2 = "id = #1\nts = #2\n";
    CHECK_RC(cu_import_map_parse(bad2, strlen(bad2), "m", &m), CU_ERR_PARSE);
    CHECK_MSG(strstr(cu_err_detail(), "officer") != NULL, "detail: %s", cu_err_detail());
    const char *bad3 = "id = #0\n";
    CHECK_RC(cu_import_map_parse(bad3, strlen(bad3), "m", &m), CU_ERR_PARSE);
}
