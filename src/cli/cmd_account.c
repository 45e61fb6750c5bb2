/* custos account / custos console: console accounts and the console's audit
 * records, from the command line (wiring only; the logic is in src/console/). */
#include "cli.h"

#include "custos/console.h"
#include "custos/ledger.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cu_cmd_account(int argc, char **argv);
int cu_cmd_console(int argc, char **argv);

static int account_usage(void)
{
    fputs("usage: custos account add --data DIR --user USER --role ROLE [--officer ID] [--kdf-min] < password\n"
          "  ROLE: investigator, supervisor, auditor, admin or vetting\n"
          "  --officer ID  the officer id the account belongs to: governance actions in the console\n"
          "                are done as that person (needed to act; separation of duties)\n"
          "  the password is the first line of standard input (8 to 1024 bytes)\n"
          "  --kdf-min  minimal Argon2id cost, for tests only\n",
          stderr);
    return 2;
}

int cu_cmd_account(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "add") != 0)
        return account_usage();
    const char *data = NULL, *user = NULL, *role = NULL, *officer = NULL;
    cu_console_kdf kdf = CU_KDF_INTERACTIVE;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
            user = argv[++i];
        else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else if (strcmp(argv[i], "--officer") == 0 && i + 1 < argc)
            officer = argv[++i];
        else if (strcmp(argv[i], "--kdf-min") == 0)
            kdf = CU_KDF_MIN;
        else
            return account_usage();
    }
    if (!data || !user || !role)
        return account_usage();
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "password for %s: ", user);
    char pw[CU_CONSOLE_PASSWORD_MAX + 2];
    if (!fgets(pw, sizeof pw, stdin)) {
        fprintf(stderr, "custos: no password on standard input\n");
        return 1;
    }
    size_t n = strlen(pw);
    if (n && pw[n - 1] == '\n')
        pw[--n] = '\0';
    if (n && pw[n - 1] == '\r')
        pw[--n] = '\0';
    cu_rc rc = cu_console_account_add_officer(data, user, role, officer, pw, kdf, cu_now());
    sodium_memzero(pw, sizeof pw);
    if (rc)
        return cu_cli_fail(cu_strerror(rc));
    printf("account %s added (%s%s%s)\n", user, role, officer ? ", officer " : "", officer ? officer : "");
    return 0;
}

static int console_usage(void)
{
    fputs("usage: custos console audit --data DIR [--from N]\n"
          "  print the console's audit records in DIR/ledger as JSON lines\n",
          stderr);
    return 2;
}

int cu_cmd_console(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "audit") != 0)
        return console_usage();
    const char *data = NULL;
    unsigned long long from = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            from = strtoull(argv[++i], NULL, 10);
        else
            return console_usage();
    }
    if (!data)
        return console_usage();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ledger", data); /* the one ledger: other entries are skipped */
    cu_ledger_opts lo = {.read_only = true};
    cu_ledger *l = NULL;
    cu_rc rc = cu_ledger_open(dir, &lo, &l);
    if (rc)
        return cu_cli_fail(cu_strerror(rc));
    cu_buf e, line;
    cu_buf_init(&e, CU_LEDGER_ENTRY_MAX + 1);
    cu_buf_init(&line, 1 << 20);
    uint64_t n = cu_ledger_size(l);
    for (uint64_t i = from; i < n && !rc; i++) {
        cu_buf_reset(&e);
        cu_buf_reset(&line);
        rc = cu_ledger_read_entry(l, i, &e);
        if (rc)
            break;
        cu_rc f = cu_console_audit_format(e.data, e.len, i, &line);
        if (f == CU_ERR_TYPE)
            continue; /* only console records are expected; anything else is skipped */
        if (f) {
            rc = f;
            break;
        }
        fwrite(line.data, 1, line.len, stdout);
    }
    cu_buf_free(&e);
    cu_buf_free(&line);
    cu_ledger_close(l);
    if (rc)
        return cu_cli_fail(cu_strerror(rc));
    return 0;
}
