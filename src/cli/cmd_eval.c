/* custos eval: wiring for cu_eval_run. */
#include "cli.h"

#include "custos/detect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cu_cmd_eval(int argc, char **argv);

static int usage(void)
{
    fprintf(stderr, "usage: custos eval --labels LABELS.jsonl --alerts ALERTS.jsonl --reference REF.jsonl\n"
                    "                   [--events EV.jsonl] [--no-baselines] [--budget N]\n"
                    "  with --events: the share of legitimate accesses explained, and the baselines\n"
                    "  (random audit of one access in ten; rules only at the same budget, default 1)\n");
    return 2;
}

int cu_cmd_eval(int argc, char **argv)
{
    cu_eval_opts o = {.baselines = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--no-baselines") == 0) {
            o.baselines = false;
            continue;
        }
        if (i + 1 >= argc)
            return usage();
        if (strcmp(a, "--labels") == 0)
            o.labels = argv[++i];
        else if (strcmp(a, "--alerts") == 0)
            o.alerts = argv[++i];
        else if (strcmp(a, "--reference") == 0)
            o.reference = argv[++i];
        else if (strcmp(a, "--events") == 0)
            o.events = argv[++i];
        else if (strcmp(a, "--budget") == 0) {
            char *end;
            o.budget = strtod(argv[++i], &end);
            if (*end || !(o.budget > 0 && o.budget <= 1000))
                return usage();
        } else
            return usage();
    }
    if (!o.labels || !o.alerts || !o.reference)
        return usage();
    cu_buf out;
    cu_buf_init(&out, 1 << 20);
    cu_rc rc = cu_eval_run(&o, &out);
    if (rc) {
        cu_buf_free(&out);
        return cu_cli_fail(cu_strerror(rc));
    }
    fwrite(out.data, 1, out.len, stdout);
    cu_buf_free(&out);
    return 0;
}
