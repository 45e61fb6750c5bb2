/* custos import: wiring for cu_import_run. */
#include "cli.h"

#include "custos/import.h"

#include <stdio.h>
#include <string.h>

int cu_cmd_import(int argc, char **argv);

static int usage(void)
{
    fprintf(stderr, "usage: custos import --format csv|syslog|cef --map MAP [--out FILE] [--on-error stop|skip] FILE\n");
    return 2;
}

static void print_skip(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "custos: skipped %s\n", msg);
}

int cu_cmd_import(int argc, char **argv)
{
    cu_import_opts o = {.on_skip = print_skip};
    const char *fmt = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--format") == 0 && has)
            fmt = argv[++i];
        else if (strcmp(a, "--map") == 0 && has)
            o.map = argv[++i];
        else if (strcmp(a, "--out") == 0 && has)
            o.output = argv[++i];
        else if (strcmp(a, "--on-error") == 0 && has) {
            const char *v = argv[++i];
            if (strcmp(v, "skip") == 0)
                o.skip_errors = true;
            else if (strcmp(v, "stop") != 0)
                return usage();
        } else if (a[0] == '-' && a[1] == '-')
            return usage();
        else if (!o.input)
            o.input = a;
        else
            return usage();
    }
    if (!fmt || !o.map || !o.input)
        return usage();
    if (cu_import_format_parse(fmt, &o.format))
        return cu_cli_fail("bad --format");
    cu_import_stats st;
    cu_rc rc = cu_import_run(&o, &st);
    if (rc)
        return cu_cli_fail(cu_strerror(rc));
    fprintf(stderr, "custos: imported %llu events from %llu lines, %llu skipped\n", (unsigned long long)st.accepted,
            (unsigned long long)st.lines, (unsigned long long)st.skipped);
    return 0;
}
