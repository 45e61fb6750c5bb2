/* custos policy: run Cedar test files, answer one request, check a policy
 * file.  Wiring only: the work is in the policy module. */
#include "cli.h"

#include "custos/policy.h"

#include <stdio.h>
#include <string.h>

int cu_cmd_policy(int argc, char **argv);

static int usage(void)
{
    fprintf(stderr, "usage: custos policy test FILE...\n"
                    "       custos policy eval --policies P --entities E --request R [--schema S]\n"
                    "       custos policy check P\n");
    return 2;
}

static int cmd_test(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    size_t passed = 0, failed = 0;
    for (int i = 0; i < argc; i++) {
        cu_buf report;
        cu_buf_init(&report, 64u << 20);
        size_t before = passed + failed;
        cu_rc rc = cu_policy_testfile_run(argv[i], NULL, &report, &passed, &failed);
        if (report.len)
            fputs(report.data, stdout);
        if (rc != CU_OK) {
            printf("%s: %s: %s\n", argv[i], cu_strerror(rc), cu_err_detail());
            if (passed + failed == before) /* not read: the file counts as one */
                failed++;
        }
        cu_buf_free(&report);
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}

static int cmd_eval(int argc, char **argv)
{
    const char *pp = NULL, *ep = NULL, *rp = NULL, *sp = NULL;
    for (int i = 0; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--policies") == 0 ? &pp
                          : strcmp(argv[i], "--entities") == 0 ? &ep
                          : strcmp(argv[i], "--request") == 0  ? &rp
                          : strcmp(argv[i], "--schema") == 0   ? &sp : NULL;
        if (!slot || i + 1 >= argc)
            return usage();
        *slot = argv[++i];
    }
    if (!pp || !ep || !rp)
        return usage();
    int status = 1;
    char *pt = NULL, *et = NULL, *rt = NULL, *st = NULL;
    size_t pl, el, rl, sl;
    cu_policy_set *set = NULL;
    cu_policy_schema *schema = NULL;
    cu_policy_entities *ents = NULL;
    cu_arena *scratch = NULL;
    cu_policy_request *req;
    cu_policy_answer ans;
    cu_buf out;
    cu_buf_init(&out, 16u << 20);
    if (cu_file_read(pp, CU_POLICY_MAX_TEXT, &pt, &pl) != CU_OK ||
        cu_policy_set_parse(pt, pl, pp, &set) != CU_OK) {
        cu_cli_fail("policies");
        goto fail;
    }
    if (sp && (cu_file_read(sp, CU_POLICY_MAX_SCHEMA, &st, &sl) != CU_OK ||
               cu_policy_schema_parse(st, sl, sp, &schema) != CU_OK)) {
        cu_cli_fail("schema");
        goto fail;
    }
    if (cu_file_read(ep, CU_POLICY_MAX_ENTITIES_JSON, &et, &el) != CU_OK ||
        cu_policy_entities_parse_json(et, el, schema, &ents) != CU_OK) {
        cu_cli_fail("entities");
        goto fail;
    }
    scratch = cu_arena_new(64 * 1024, 64u << 20);
    if (!scratch || cu_file_read(rp, CU_POLICY_MAX_REQUEST_JSON, &rt, &rl) != CU_OK ||
        cu_policy_request_parse_json(rt, rl, schema, scratch, &req) != CU_OK) {
        cu_cli_fail("request");
        goto fail;
    }
    if (cu_policy_eval(set, ents, req, scratch, &ans) != CU_OK || cu_policy_answer_json(&ans, &out) != CU_OK) {
        cu_cli_fail("eval");
        goto fail;
    }
    printf("%s\n", out.data);
    status = 0;
fail:
    cu_buf_free(&out);
    cu_arena_free(scratch);
    cu_policy_entities_free(ents);
    cu_policy_schema_free(schema);
    cu_policy_set_release(set);
    cu_free(pt);
    cu_free(et);
    cu_free(rt);
    cu_free(st);
    return status;
}

static int cmd_check(int argc, char **argv)
{
    if (argc != 1)
        return usage();
    char *t = NULL;
    size_t l;
    cu_policy_set *set = NULL;
    if (cu_file_read(argv[0], CU_POLICY_MAX_TEXT, &t, &l) != CU_OK) {
        cu_cli_fail(argv[0]);
        return 1;
    }
    cu_rc rc = cu_policy_set_parse(t, l, argv[0], &set);
    cu_free(t);
    if (rc != CU_OK) {
        fprintf(stderr, "%s\n", cu_err_detail());
        return 1;
    }
    printf("%s: ok, %zu policies\n", argv[0], cu_policy_set_count(set));
    cu_policy_set_release(set);
    return 0;
}

int cu_cmd_policy(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "test") == 0)
        return cmd_test(argc - 2, argv + 2);
    if (strcmp(argv[1], "eval") == 0)
        return cmd_eval(argc - 2, argv + 2);
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    return usage();
}
