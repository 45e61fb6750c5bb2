/* custos: the command line.  Subcommands are listed here; each lives in its
 * own cmd_*.c file and holds wiring only. */
#include "cli.h"

#include "custos/util.h"

#include <stdio.h>
#include <string.h>

int cu_cmd_version(int argc, char **argv);
int cu_cmd_key(int argc, char **argv);
int cu_cmd_ledger(int argc, char **argv);
int cu_cmd_policy(int argc, char **argv);
int cu_cmd_gen(int argc, char **argv);
int cu_cmd_replay(int argc, char **argv);
int cu_cmd_import(int argc, char **argv);
int cu_cmd_evidence(int argc, char **argv);
int cu_cmd_demo(int argc, char **argv);
int cu_cmd_account(int argc, char **argv);
int cu_cmd_console(int argc, char **argv);
int cu_cmd_gen(int argc, char **argv);
int cu_cmd_eval(int argc, char **argv);
int cu_cmd_vetting(int argc, char **argv);

static const struct cu_cli_cmd commands[] = {
    {"version", cu_cmd_version, "print the version"},
    {"key", cu_cmd_key, "generate signed-note key pairs (key generate NAME)"},
    {"ledger", cu_cmd_ledger, "the tamper-evident log: init, append, publish, prove, verify"},
    {"policy", cu_cmd_policy, "Cedar policies: test files, eval, check"},
    {"gen", cu_cmd_gen, "write a synthetic force: reference, events and labels"},
    {"replay", cu_cmd_replay, "replay reference and events files through the pipeline, write alerts"},
    {"eval", cu_cmd_eval, "score alerts against labelled misuse, with baselines"},
    {"import", cu_cmd_import, "convert CSV, syslog or CEF audit lines into interchange events"},
    {"evidence", cu_cmd_evidence, "court evidence bundles: export from a data directory, verify offline"},
    {"demo", cu_cmd_demo, "generate a force with misuse, replay it, start the daemon (custos demo --help)"},
    {"account", cu_cmd_account, "console accounts: account add --data DIR --user U --role R < password"},
    {"console", cu_cmd_console, "the console's audit records: console audit --data DIR"},
    {"vetting", cu_cmd_vetting, "vetting and access governance: clearances, entitlements, campaigns, reports"},
};

int cu_cli_fail(const char *what)
{
    const char *d = cu_err_detail();
    fprintf(stderr, "custos: %s%s%s\n", what, d[0] ? ": " : "", d);
    return 1;
}

int cu_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("custos %s\n", CUSTOS_VERSION);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: custos COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "custos: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
