/* custos gen: write a synthetic force (reference, events, labels) into a
 * directory.  Wiring only: the generator lives in the gen module. */
#include "cli.h"

#include "custos/gen.h"

#include <stdio.h>
#include <string.h>

int cu_cmd_gen(int argc, char **argv);

static void gen_usage(FILE *f)
{
    fprintf(f, "usage: custos gen --officers N --days D --start YYYY-MM-DD --seed S --out DIR\n"
               "                  [--scenarios LIST] [--intensity X]\n"
               "  LIST: all (default), none, or name[:n=K][:days=D][:rate=R][,...]; names:");
    for (unsigned k = 0; cu_gen_scenario_name(k); k++)
        fprintf(f, " %s", cu_gen_scenario_name(k));
    fprintf(f, "\n  (ring also takes :size=2..5)\n");
}

int cu_cmd_gen(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            gen_usage(stdout);
            return 0;
        }
    cu_gen_config cfg;
    cu_gen_config_default(&cfg);
    if (cu_gen_parse_args(argc, argv, &cfg) != CU_OK || cu_gen_config_check(&cfg) != CU_OK) {
        fprintf(stderr, "custos gen: %s\n", cu_err_detail());
        gen_usage(stderr);
        return 2;
    }
    cu_gen_stats st;
    if (cu_gen_run(&cfg, &st) != CU_OK)
        return cu_cli_fail("gen");
    fprintf(stderr,
            "custos gen: %llu officers, %llu persons, %llu records, %llu cases, %llu events, "
            "%llu scenario instances (%llu events), %llu benign lines\n",
            (unsigned long long)st.officers, (unsigned long long)st.persons, (unsigned long long)st.records,
            (unsigned long long)st.cases, (unsigned long long)st.events,
            (unsigned long long)st.scenario_instances, (unsigned long long)st.scenario_events,
            (unsigned long long)st.benign_lines);
    for (unsigned k = 0; cu_gen_scenario_name(k); k++)
        if (st.skipped[k])
            fprintf(stderr, "custos gen: warning: %u %s instance(s) could not be placed in this force\n",
                    st.skipped[k], cu_gen_scenario_name(k));
    return 0;
}
