/* custos replay: wiring for cu_replay_run. */
#include "cli.h"

#include "custos/pipeline.h"

#include <stdio.h>
#include <string.h>

int cu_cmd_replay(int argc, char **argv);

static int usage(void)
{
    fprintf(stderr, "usage: custos replay --reference REF.jsonl --events EV.jsonl --alerts OUT.jsonl [--data DIR]\n");
    return 2;
}

int cu_cmd_replay(int argc, char **argv)
{
    cu_replay_opts o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            return usage();
        if (strcmp(a, "--reference") == 0)
            o.reference = argv[++i];
        else if (strcmp(a, "--events") == 0)
            o.events = argv[++i];
        else if (strcmp(a, "--alerts") == 0)
            o.alerts = argv[++i];
        else if (strcmp(a, "--data") == 0)
            o.data_dir = argv[++i];
        else
            return usage();
    }
    if (!o.reference || !o.events || !o.alerts)
        return usage();
    cu_replay_stats st;
    cu_rc rc = cu_replay_run(&o, &st);
    if (rc)
        return cu_cli_fail(cu_strerror(rc));
    fprintf(stderr, "custos: replayed %llu events, %llu alerts\n", (unsigned long long)st.events,
            (unsigned long long)st.alerts);
    return 0;
}
