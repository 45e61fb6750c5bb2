/* custos vetting: wiring for the governance module (docs/governance.md).
 * The register is in DIR/governance.db; actions are appended to the ledger in
 * DIR/ledger (which the daemon holds while it runs: use the API then).
 * Reading commands (report, show, history, export) do not open the ledger. */
#include "cli.h"

#include "custos/governance.h"
#include "custos/pipeline.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cu_cmd_vetting(int argc, char **argv);

static int usage(void)
{
    fprintf(stderr,
            "usage: custos vetting COMMAND --data DIR [--actor WHO] [--now TIME] [options]\n"
            "  grant --officer ID --level L --granted DATE --expires DATE [--review DATE] [--reason TEXT]\n"
            "  suspend|withdraw|reinstate --officer ID [--level L] --reason TEXT\n"
            "  staff --officer ID --unit U [--manager ID] [--integrity-review DATE] [--start DATE] [--end DATE]\n"
            "  review open --officer ID --kind K --due DATE [--restrict] [--reason TEXT]\n"
            "  review close --id N --outcome cleared|suspended|withdrawn|other [--note TEXT]\n"
            "  aftercare report --officer ID --kind K [--detail TEXT] [--due DATE] [--restrict]\n"
            "  entitle --officer ID --system S [--caveat C] --scope TEXT --purpose P [--requires L] [--not-sensitive]\n"
            "  revoke --id N --reason TEXT\n"
            "  campaign start --name TEXT --deadline DATE\n"
            "  campaign confirm --campaign N [--entitlement N] [--officer ID]\n"
            "  campaign close --campaign N\n"
            "  draw --count N --due DATE [--seed N]\n"
            "  report --at DATE [--csv]\n"
            "  show --officer ID [--at TIME]\n"
            "  history --officer ID\n"
            "  import FILE\n"
            "  export [--out FILE]\n"
            "LEVEL: RV MV NPPV1 NPPV2 NPPV3 CTC SC eSC DV.  DATE: YYYY-MM-DD or RFC 3339.\n"
            "The actor is who acts (required for changes); --now defaults to the clock.\n");
    return 2;
}

/* ---------------------------------------------------------- options */

struct opts {
    const char *data, *actor, *now, *officer, *level, *granted, *expires, *review, *reason, *unit, *manager,
        *integrity, *start, *end, *kind, *due, *id, *outcome, *note, *detail, *system, *caveat, *scope, *purpose,
        *requires, *name, *deadline, *campaign, *entitlement, *count, *seed, *at, *out, *file;
    bool restrict_caveats, csv, not_sensitive;
};

static int parse(int argc, char **argv, int i, struct opts *o)
{
    static const struct {
        const char *flag;
        size_t off;
    } map[] = {
#define M(f, m) {f, offsetof(struct opts, m)}
        M("--data", data), M("--actor", actor), M("--now", now), M("--officer", officer), M("--level", level),
        M("--granted", granted), M("--expires", expires), M("--review", review), M("--reason", reason),
        M("--unit", unit), M("--manager", manager), M("--integrity-review", integrity), M("--start", start),
        M("--end", end), M("--kind", kind), M("--due", due), M("--id", id), M("--outcome", outcome),
        M("--note", note), M("--detail", detail), M("--system", system), M("--caveat", caveat), M("--scope", scope),
        M("--purpose", purpose), M("--requires", requires), M("--name", name), M("--deadline", deadline),
        M("--campaign", campaign), M("--entitlement", entitlement), M("--count", count), M("--seed", seed),
        M("--at", at), M("--out", out),
#undef M
    };
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--restrict") == 0) {
            o->restrict_caveats = true;
            continue;
        }
        if (strcmp(a, "--csv") == 0) {
            o->csv = true;
            continue;
        }
        if (strcmp(a, "--not-sensitive") == 0) {
            o->not_sensitive = true;
            continue;
        }
        if (a[0] != '-' && !o->file) {
            o->file = a;
            continue;
        }
        size_t k = 0;
        while (k < sizeof map / sizeof map[0] && strcmp(map[k].flag, a) != 0)
            k++;
        if (k == sizeof map / sizeof map[0] || i + 1 >= argc) {
            fprintf(stderr, "custos vetting: unknown or incomplete option %s\n", a);
            return -1;
        }
        *(const char **)((char *)o + map[k].off) = argv[++i];
    }
    return 0;
}

static int need(const char *v, const char *flag)
{
    if (v)
        return 0;
    fprintf(stderr, "custos vetting: %s is required\n", flag);
    return -1;
}

static int time_arg(const char *v, const char *flag, int64_t *out)
{
    *out = 0;
    if (!v)
        return 0;
    size_t n = strlen(v);
    if ((n == 10 ? cu_date_parse(v, n, out) : cu_time_parse(v, n, out)) != CU_OK) {
        fprintf(stderr, "custos vetting: %s: bad date \"%s\" (YYYY-MM-DD or RFC 3339)\n", flag, v);
        return -1;
    }
    return 0;
}

static int int_arg(const char *v, const char *flag, int64_t *out)
{
    *out = 0;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !*v || *end || x < 0) {
        fprintf(stderr, "custos vetting: %s: not a number: %s\n", flag, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int level_arg(const char *v, int *out)
{
    *out = CU_GOV_NONE;
    if (!v)
        return 0;
    if (cu_gov_level_parse(v, out)) {
        fprintf(stderr, "custos vetting: %s\n", cu_err_detail());
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ audit */

static cu_rc sink_append(void *ud, const void *entry, size_t len, uint64_t *index)
{
    cu_sink *s = ud;
    const void *e[1] = {entry};
    return s->ops->append_many(s->ctx, e, &len, 1, index);
}

static cu_rc read_only(void *ud, const void *entry, size_t len, uint64_t *index)
{
    (void)ud;
    (void)entry;
    (void)len;
    (void)index;
    return cu_err_set(CU_ERR_STATE, "opened for reading: no changes");
}

/* ------------------------------------------------------------- main */

static int write_out(const char *path, const cu_buf *b)
{
    if (!path || strcmp(path, "-") == 0) {
        if (fwrite(b->data, 1, b->len, stdout) != b->len)
            return cu_cli_fail("writing");
        return 0;
    }
    cu_rc rc = cu_file_write_atomic(path, b->data, b->len, 0644);
    return rc ? cu_cli_fail(cu_strerror(rc)) : 0;
}

int cu_cmd_vetting(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *cmd = argv[1], *sub = NULL;
    int first = 2;
    if ((strcmp(cmd, "review") == 0 || strcmp(cmd, "aftercare") == 0 || strcmp(cmd, "campaign") == 0)) {
        if (argc < 3)
            return usage();
        sub = argv[2];
        first = 3;
    }
    struct opts o = {0};
    if (parse(argc, argv, first, &o) || need(o.data, "--data"))
        return usage();
    static const char *const READERS[] = {"report", "show", "history", "export"};
    bool reader = false;
    for (size_t i = 0; i < sizeof READERS / sizeof READERS[0]; i++)
        reader |= strcmp(cmd, READERS[i]) == 0;
    if (!reader && need(o.actor, "--actor"))
        return 2;
    int64_t now = cu_now();
    if (o.now && time_arg(o.now, "--now", &now))
        return 2;

    if (mkdir(o.data, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "custos vetting: %s: %s\n", o.data, strerror(errno));
        return 1;
    }
    char db[4096];
    if (snprintf(db, sizeof db, "%s/governance.db", o.data) >= (int)sizeof db)
        return usage();
    cu_sink sink = {0};
    cu_gov_audit audit = {read_only, NULL};
    cu_rc rc;
    if (!reader) {
        if ((rc = cu_sink_ledger_open(o.data, &sink)))
            return cu_cli_fail(rc == CU_ERR_LOCKED ? "the ledger is held by a running custosd: use its API" : "ledger");
        audit = (cu_gov_audit){sink_append, &sink};
    }
    cu_gov *g = NULL;
    if ((rc = cu_gov_open(db, &audit, &g))) {
        if (sink.ops)
            sink.ops->close(sink.ctx);
        return cu_cli_fail("governance");
    }
    int status = 0;
    cu_buf out;
    cu_buf_init(&out, (size_t)1 << 30);
    int64_t t1, t2, t3, n1, n2;
    int lv;
    size_t cnt = 0;
    rc = CU_OK;

    if (strcmp(cmd, "grant") == 0) {
        if (need(o.officer, "--officer") || need(o.level, "--level") || need(o.granted, "--granted") ||
            need(o.expires, "--expires") || level_arg(o.level, &lv) || time_arg(o.granted, "--granted", &t1) ||
            time_arg(o.expires, "--expires", &t2) || time_arg(o.review, "--review", &t3)) {
            status = 2;
        } else {
            cu_gov_clearance c = {.officer = o.officer, .level = lv, .granted = t1, .expires = t2, .review = t3};
            rc = cu_gov_grant(g, o.actor, &c, o.reason, now);
        }
    } else if (strcmp(cmd, "suspend") == 0 || strcmp(cmd, "withdraw") == 0 || strcmp(cmd, "reinstate") == 0) {
        int st = cmd[0] == 's' ? CU_GOV_SUSPENDED : cmd[0] == 'w' ? CU_GOV_WITHDRAWN : CU_GOV_ACTIVE;
        if (need(o.officer, "--officer") || need(o.reason, "--reason") || level_arg(o.level, &lv))
            status = 2;
        else
            rc = cu_gov_set_status(g, o.actor, o.officer, lv, st, o.reason, now);
    } else if (strcmp(cmd, "staff") == 0) {
        if (need(o.officer, "--officer") || need(o.unit, "--unit") || time_arg(o.integrity, "--integrity-review", &t1) ||
            time_arg(o.start, "--start", &t2) || time_arg(o.end, "--end", &t3)) {
            status = 2;
        } else {
            cu_gov_staff s = {.officer = o.officer, .unit = o.unit, .manager = o.manager, .integrity_due = t1,
                              .start = t2, .end = t3};
            rc = cu_gov_set_staff(g, o.actor, &s, o.reason, now);
        }
    } else if (strcmp(cmd, "review") == 0 && strcmp(sub, "open") == 0) {
        if (need(o.officer, "--officer") || need(o.kind, "--kind") || need(o.due, "--due") || time_arg(o.due, "--due", &t1)) {
            status = 2;
        } else {
            rc = cu_gov_review_open(g, o.actor, o.officer, o.kind, t1, o.restrict_caveats, o.reason, now, &n1);
            if (!rc)
                printf("review %lld opened\n", (long long)n1);
        }
    } else if (strcmp(cmd, "review") == 0 && strcmp(sub, "close") == 0) {
        if (need(o.id, "--id") || need(o.outcome, "--outcome") || int_arg(o.id, "--id", &n1))
            status = 2;
        else
            rc = cu_gov_review_close(g, o.actor, n1, o.outcome, o.note, now);
    } else if (strcmp(cmd, "aftercare") == 0 && strcmp(sub, "report") == 0) {
        if (need(o.officer, "--officer") || need(o.kind, "--kind") || time_arg(o.due, "--due", &t1)) {
            status = 2;
        } else {
            rc = cu_gov_aftercare(g, o.actor, o.officer, o.kind, o.detail, t1, o.restrict_caveats, now, &n1);
            if (!rc)
                printf("review %lld opened\n", (long long)n1);
        }
    } else if (strcmp(cmd, "entitle") == 0) {
        if (need(o.officer, "--officer") || need(o.system, "--system") || need(o.scope, "--scope") ||
            need(o.purpose, "--purpose") || level_arg(o.requires, &lv)) {
            status = 2;
        } else {
            cu_gov_entitlement e = {.officer = o.officer, .system = o.system, .caveat = o.caveat, .scope = o.scope,
                                    .purpose = o.purpose, .requires = lv, .sensitive = o.caveat && !o.not_sensitive};
            rc = cu_gov_entitle(g, o.actor, &e, o.reason, now, &n1);
            if (!rc)
                printf("entitlement %lld granted\n", (long long)n1);
        }
    } else if (strcmp(cmd, "revoke") == 0) {
        if (need(o.id, "--id") || need(o.reason, "--reason") || int_arg(o.id, "--id", &n1))
            status = 2;
        else
            rc = cu_gov_revoke(g, o.actor, n1, o.reason, now);
    } else if (strcmp(cmd, "campaign") == 0 && strcmp(sub, "start") == 0) {
        if (need(o.name, "--name") || need(o.deadline, "--deadline") || time_arg(o.deadline, "--deadline", &t1)) {
            status = 2;
        } else {
            rc = cu_gov_campaign_start(g, o.actor, o.name, t1, now, &n1, &cnt);
            if (!rc)
                printf("campaign %lld started: %zu entitlements to recertify\n", (long long)n1, cnt);
        }
    } else if (strcmp(cmd, "campaign") == 0 && strcmp(sub, "confirm") == 0) {
        if (need(o.campaign, "--campaign") || int_arg(o.campaign, "--campaign", &n1) ||
            int_arg(o.entitlement, "--entitlement", &n2)) {
            status = 2;
        } else {
            rc = cu_gov_campaign_confirm(g, o.actor, n1, n2, o.officer, now, &cnt);
            if (!rc)
                printf("%zu confirmed\n", cnt);
        }
    } else if (strcmp(cmd, "campaign") == 0 && strcmp(sub, "close") == 0) {
        if (need(o.campaign, "--campaign") || int_arg(o.campaign, "--campaign", &n1)) {
            status = 2;
        } else {
            rc = cu_gov_campaign_close(g, o.actor, n1, now, &cnt);
            if (!rc)
                printf("campaign %lld closed: %zu entitlements lapsed\n", (long long)n1, cnt);
        }
    } else if (strcmp(cmd, "draw") == 0) {
        uint64_t seed = 0;
        if (need(o.count, "--count") || need(o.due, "--due") || int_arg(o.count, "--count", &n1) ||
            time_arg(o.due, "--due", &t1)) {
            status = 2;
        } else {
            if (o.seed) {
                char *end;
                errno = 0;
                seed = strtoull(o.seed, &end, 10);
                if (errno || *end || o.seed[0] == '-') {
                    fprintf(stderr, "custos vetting: --seed: not a number: %s\n", o.seed);
                    status = 2;
                }
            } else {
                /* a fresh seed, recorded with the draw so it can be repeated */
                randombytes_buf(&seed, sizeof seed);
            }
            if (!status) {
                rc = cu_gov_draw(g, o.actor, seed, (size_t)n1, t1, now, &n2, &out);
                if (!rc)
                    printf("draw %lld: seed %llu: %s\n", (long long)n2, (unsigned long long)seed, out.data);
            }
        }
    } else if (strcmp(cmd, "report") == 0) {
        if (need(o.at, "--at") || time_arg(o.at, "--at", &t1)) {
            status = 2;
        } else {
            cu_gov_report r;
            if (!(rc = cu_gov_report_make(g, t1, &r))) {
                rc = o.csv ? cu_gov_report_csv(&r, &out) : cu_gov_report_json(&r, &out);
                if (!rc && !o.csv)
                    rc = cu_buf_append(&out, "\n", 1);
                cu_gov_report_free(&r);
            }
            if (!rc)
                status = write_out(o.out, &out);
        }
    } else if (strcmp(cmd, "show") == 0) {
        if (need(o.officer, "--officer") || time_arg(o.at, "--at", &t1)) {
            status = 2;
        } else {
            cu_gov_effective e;
            cu_gov_effective_get(g, o.officer, o.at ? t1 : now, &e);
            if (!(rc = cu_gov_effective_json(&e, o.officer, &out)) && !(rc = cu_buf_append(&out, "\n", 1)))
                status = write_out(NULL, &out);
        }
    } else if (strcmp(cmd, "history") == 0) {
        if (need(o.officer, "--officer") || need(o.actor, "--actor")) {
            status = 2;
        } else if (!(rc = cu_gov_history_json(g, o.actor, o.officer, &out)) && !(rc = cu_buf_append(&out, "\n", 1))) {
            status = write_out(NULL, &out);
        }
    } else if (strcmp(cmd, "import") == 0) {
        if (need(o.file, "FILE")) {
            status = 2;
        } else {
            rc = cu_gov_import(g, o.actor, o.file, now, &cnt);
            if (!rc)
                printf("imported %zu records\n", cnt);
        }
    } else if (strcmp(cmd, "export") == 0) {
        if (!(rc = cu_gov_export(g, &out)))
            status = write_out(o.out, &out);
    } else {
        status = usage();
    }
    if (rc)
        status = cu_cli_fail(cu_strerror(rc));
    cu_buf_free(&out);
    cu_gov_close(g);
    if (sink.ops)
        sink.ops->close(sink.ctx);
    return status;
}
