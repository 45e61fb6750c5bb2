/* The custos command line: one function per subcommand, wiring only. */
#ifndef CUSTOS_CLI_H
#define CUSTOS_CLI_H

/* Each returns the process exit status: 0 success, 1 failure, 2 usage. */
typedef int (*cu_cli_fn)(int argc, char **argv);

struct cu_cli_cmd {
    const char *name;
    cu_cli_fn fn;
    const char *summary;
};

/* Print "custos: <rc text>: <detail>" to stderr and return 1. */
int cu_cli_fail(const char *what);

#endif
