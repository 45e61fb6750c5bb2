/* custos evidence: export a court evidence bundle from a data directory,
 * and verify one offline.  Wiring only; the logic is in src/evidence/. */
#include "cli.h"

#include "custos/evidence.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
    "usage:\n"
    "  custos evidence export --data DIR SELECTION --out PATH [options]\n"
    "      SELECTION: --officer ID | --person ID | --record ID | --case ID (police case)\n"
    "                 | --indexes I,J,K (ledger indexes, e.g. the events of an investigation)\n"
    "      --from T --to T        event-time window (RFC 3339), inclusive\n"
    "      --defects FILE         defect log (default DIR/defects.jsonl)\n"
    "      --old-checkpoint FILE  an earlier signed checkpoint to prove consistency from\n"
    "      --label TEXT           the investigation's name, for the report\n"
    "      --max-entries N        refuse selections larger than N (default 200000)\n"
    "  custos evidence verify PATH --pubkey VKEY   (VKEY: verifier key file or text)\n";

static int usage(void)
{
    fputs(usage_text, stderr);
    return 2;
}

static cu_rc parse_indexes(const char *s, uint64_t **out, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    if (cap > CU_EVIDENCE_MAX_ENTRIES)
        return cu_err_set(CU_ERR_TOOBIG, "--indexes: more than %u", CU_EVIDENCE_MAX_ENTRIES);
    uint64_t *v = cu_calloc(cap, sizeof *v);
    if (!v)
        return CU_ERR_NOMEM;
    *n = 0;
    while (*s) {
        char *end;
        if (*s < '0' || *s > '9') {
            cu_free(v);
            return cu_err_set(CU_ERR_INVAL, "--indexes: want numbers separated by commas");
        }
        v[(*n)++] = strtoull(s, &end, 10);
        s = end;
        if (*s == ',')
            s++;
        else if (*s) {
            cu_free(v);
            return cu_err_set(CU_ERR_INVAL, "--indexes: want numbers separated by commas");
        }
    }
    *out = v;
    return CU_OK;
}

static int cmd_export(int argc, char **argv)
{
    cu_evidence_export_opts o = {.from = INT64_MIN, .to = INT64_MAX};
    uint64_t *idx = NULL;
    int nsel = 0, ret = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            return usage();
        i++;
        if (strcmp(a, "--data") == 0)
            o.data_dir = val;
        else if (strcmp(a, "--out") == 0)
            o.out_path = val;
        else if (strcmp(a, "--officer") == 0 || strcmp(a, "--person") == 0 || strcmp(a, "--record") == 0 ||
                 strcmp(a, "--case") == 0) {
            o.by = a[2] == 'o' ? CU_EVIDENCE_BY_OFFICER
                   : a[2] == 'p' ? CU_EVIDENCE_BY_PERSON
                   : a[2] == 'r' ? CU_EVIDENCE_BY_RECORD
                                 : CU_EVIDENCE_BY_CASE;
            o.id = val;
            nsel++;
        } else if (strcmp(a, "--indexes") == 0) {
            if (parse_indexes(val, &idx, &o.nindexes)) {
                cu_free(idx);
                return cu_cli_fail("evidence export");
            }
            o.by = CU_EVIDENCE_BY_INDEXES;
            o.indexes = idx;
            nsel++;
        } else if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) {
            int64_t t;
            if (cu_time_parse(val, strlen(val), &t)) {
                fprintf(stderr, "custos: %s: not an RFC 3339 time: %s\n", a, val);
                cu_free(idx);
                return 2;
            }
            *(a[2] == 'f' ? &o.from : &o.to) = t;
        } else if (strcmp(a, "--defects") == 0)
            o.defects_path = val;
        else if (strcmp(a, "--old-checkpoint") == 0)
            o.old_checkpoint = val;
        else if (strcmp(a, "--label") == 0)
            o.label = val;
        else if (strcmp(a, "--max-entries") == 0)
            o.max_entries = (size_t)strtoull(val, NULL, 10);
        else {
            cu_free(idx);
            return usage();
        }
    }
    if (!o.data_dir || !o.out_path || nsel != 1) {
        cu_free(idx);
        fprintf(stderr, "custos: evidence export needs --data, --out and exactly one selection\n");
        return usage();
    }
    o.now = cu_now();
    cu_evidence_export_stats st;
    cu_rc rc = cu_evidence_export(&o, &st);
    if (rc) {
        ret = cu_cli_fail(cu_strerror(rc));
    } else {
        printf("custos: wrote %s: %" PRIu64 " entries (ledger %" PRIu64 "..%" PRIu64 "), %" PRIu64
               " people opened, %" PRIu64 " sealed, checkpoints %" PRIu64 " -> %" PRIu64 ", %" PRIu64
               " ids missing in the period, %zu bytes\n",
               o.out_path, st.entries, st.range_lo, st.range_hi, st.opened, st.sealed, st.old_size, st.new_size,
               st.missing_ids, st.bytes);
        if (st.unpublished)
            printf("custos: %" PRIu64 " selected entries are after the latest checkpoint and were left out\n",
                   st.unpublished);
        ret = 0;
    }
    cu_free(idx);
    return ret;
}

static void print_check(void *ud, const char *check, cu_rc rc, const char *detail)
{
    (void)ud;
    if (rc)
        printf("FAIL  %-18s %s (%s)\n", check, detail, cu_strerror(rc));
    else
        printf("ok    %-18s %s\n", check, detail);
}

static int cmd_verify(int argc, char **argv)
{
    const char *path = NULL, *pk = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pubkey") == 0 && i + 1 < argc)
            pk = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            return usage();
    }
    if (!path || !pk)
        return usage();
    char *key = NULL;
    size_t kl;
    struct stat sb;
    if (stat(pk, &sb) == 0) {
        if (cu_file_read(pk, 4096, &key, &kl))
            return cu_cli_fail("pubkey");
    } else if (!(key = cu_strdup(pk))) {
        return cu_cli_fail("pubkey");
    }
    cu_evidence_result res;
    cu_rc rc = cu_evidence_verify_file(path, key, print_check, NULL, &res);
    cu_free(key);
    if (rc) {
        printf("custos: %s does NOT verify: first failed check: %s (%u of %u checks failed)\n", path,
               res.first_failed, res.failed, res.checks);
        return 1;
    }
    printf("custos: %s verifies: %" PRIu64 " entries, %" PRIu64 " people opened, checkpoints %" PRIu64 " -> %" PRIu64
           ", %u checks passed\n",
           path, res.entries, res.opened, res.old_size, res.new_size, res.checks);
    return 0;
}

int cu_cmd_evidence(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "export") == 0)
        return cmd_export(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    return usage();
}
