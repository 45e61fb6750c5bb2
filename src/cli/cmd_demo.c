/* custos demo: the whole system on a synthetic force, for a newcomer.
 *
 *   1. gen       a force with labelled misuse (custos gen)
 *   2. replay    through the pipeline into DIR/data (ledger + store + alerts), in
 *                two halves so the log has an earlier checkpoint to prove from
 *   3. evidence  a sample court bundle for the most alerted officer, verified
 *   4. daemon    custosd on DIR/data, its address printed once /healthz answers
 *
 * Steps that need a part not merged yet (the investigator console and its
 * accounts) are named as missing rather than faked.  Wiring only: every step
 * is a library call or the custosd program. */
#include "cli.h"

#include "custos/evidence.h"
#include "custos/gen.h"
#include "custos/ledger.h"
#include "custos/pipeline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define P 4200

static const char usage_text[] =
    "usage: custos demo [--dir DIR] [--officers N] [--days D] [--port P] [--seed S]\n"
    "                   [--defects FILE] [--exit-after-ready]\n"
    "  --dir DIR            where everything goes (default ./custos-demo; reused if it holds a demo)\n"
    "  --officers N         size of the force (default 2000)\n"
    "  --days D             days of activity (default 60)\n"
    "  --port P             daemon port (default 8340; 0 picks a free one)\n"
    "  --defects FILE       software defect log for evidence (default docs/defects.jsonl)\n"
    "  --exit-after-ready   stop the daemon and exit once it answers /healthz\n";

static volatile sig_atomic_t g_stop;
static void on_signal(int s) { g_stop = s; }

static int say_fail(const char *step)
{
    fprintf(stderr, "custos demo: %s failed: %s\n", step, cu_err_detail());
    return 1;
}

/* Split events into two files at half the lines; write the reference with
 * only the first line of each officer when `first_only` (the event module
 * reads one line per officer; gen also writes officer changes). */
static cu_rc split_events(const char *in, const char *a, const char *b)
{
    FILE *f = fopen(in, "r"), *o1 = fopen(a, "w"), *o2 = fopen(b, "w");
    cu_rc rc = CU_OK;
    if (!f || !o1 || !o2) {
        rc = cu_err_set(CU_ERR_IO, "opening %s or its halves: %s", in, strerror(errno));
        goto out;
    }
    size_t lines = 0, at = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0)
        lines++;
    rewind(f);
    while (getline(&line, &cap, f) > 0)
        fputs(line, at++ < lines / 2 ? o1 : o2);
    free(line);
out:
    if (f)
        fclose(f);
    if ((o1 && fclose(o1)) || (o2 && fclose(o2)))
        rc = cu_err_set(CU_ERR_IO, "writing the halves of %s", in);
    return rc;
}

static cu_rc first_lines_only(const char *in, const char *out)
{
    FILE *f = fopen(in, "r"), *o = fopen(out, "w");
    cu_rc rc = CU_OK;
    char *line = NULL;
    size_t cap = 0;
    if (!f || !o) {
        rc = cu_err_set(CU_ERR_IO, "%s: %s", in, strerror(errno));
        goto out;
    }
    while (getline(&line, &cap, f) > 0)
        if (!strstr(line, "\"valid_from\""))
            fputs(line, o);
out:
    free(line);
    if (f)
        fclose(f);
    if (o && fclose(o))
        rc = cu_err_set(CU_ERR_IO, "writing %s", out);
    return rc;
}

static cu_rc copy_file(const char *from, const char *to)
{
    char *d = NULL;
    size_t n = 0;
    cu_rc rc = cu_file_read(from, 16u << 20, &d, &n);
    if (!rc)
        rc = cu_file_write_atomic(to, d, n, 0644);
    cu_free(d);
    return rc;
}

/* The officer named in most alerts (the first in the file on ties). */
static cu_rc top_officer(const char *alerts, char *out, size_t outlen, unsigned *count, uint64_t *total)
{
    FILE *f = fopen(alerts, "r");
    char *line = NULL;
    size_t cap = 0;
    json_t *counts = json_object();
    *count = 0;
    *total = 0;
    out[0] = '\0';
    if (!f || !counts) {
        json_decref(counts);
        if (f)
            fclose(f);
        return cu_err_set(CU_ERR_IO, "%s: %s", alerts, strerror(errno));
    }
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)n, 0, NULL);
        json_t *o = json_object_get(j, "officers"), *v;
        size_t i;
        (*total)++;
        json_array_foreach(o, i, v)
        {
            const char *id = json_string_value(v);
            if (!id)
                continue;
            json_int_t c = json_integer_value(json_object_get(counts, id)) + 1;
            json_object_set_new(counts, id, json_integer(c));
            if ((unsigned)c > *count) {
                *count = (unsigned)c;
                snprintf(out, outlen, "%s", id);
            }
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    json_decref(counts);
    return CU_OK;
}

/* The ring scenario's officers from the generator's labels (the answer key). */
static void ring_answer(const char *labels, char *out, size_t outlen)
{
    FILE *f = fopen(labels, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    out[0] = '\0';
    if (!f)
        return;
    while (!out[0] && (n = getline(&line, &cap, f)) > 0) {
        if (!strstr(line, "\"scenario\":\"ring\""))
            continue;
        json_t *j = json_loadb(line, (size_t)n, 0, NULL), *v;
        size_t i, o = 0;
        json_array_foreach(json_object_get(j, "officers"), i, v)
        {
            if (o < outlen - 16)
                o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? ", " : "", json_string_value(v));
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
}

static bool healthz(uint16_t port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    struct timeval tv = {2, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
        const char req[] = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        char buf[512];
        if (write(s, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
            ssize_t n = read(s, buf, sizeof buf - 1);
            if (n > 12) {
                buf[n] = '\0';
                ok = strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0;
            }
        }
    }
    close(s);
    return ok;
}

static void sibling(char *out, size_t n, const char *prog)
{
    char self[P];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    if (l <= 0) {
        snprintf(out, n, "%s", prog);
        return;
    }
    self[l] = '\0';
    char *sl = strrchr(self, '/');
    if (sl)
        *sl = '\0';
    snprintf(out, n, "%.3000s/%s", self, prog);
}

int cu_cmd_demo(int argc, char **argv)
{
    const char *dir = "custos-demo", *defects = NULL;
    unsigned officers = 2000, days = 60, port = 8340;
    uint64_t seed = 1;
    bool exit_ready = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--exit-after-ready") == 0) {
            exit_ready = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (!v) {
            fputs(usage_text, stderr);
            return 2;
        }
        i++;
        char *end;
        unsigned long long n = strtoull(v, &end, 10);
        bool num = *v && !*end;
        if (strcmp(a, "--dir") == 0)
            dir = v;
        else if (strcmp(a, "--defects") == 0)
            defects = v;
        else if (strcmp(a, "--officers") == 0 && num && n >= 1 && n <= CU_GEN_MAX_OFFICERS)
            officers = (unsigned)n;
        else if (strcmp(a, "--days") == 0 && num && n >= 1 && n <= CU_GEN_MAX_DAYS)
            days = (unsigned)n;
        else if (strcmp(a, "--port") == 0 && num && n <= 65535)
            port = (unsigned)n;
        else if (strcmp(a, "--seed") == 0 && num)
            seed = n;
        else {
            fprintf(stderr, "custos demo: bad argument %s %s\n", a, v);
            fputs(usage_text, stderr);
            return 2;
        }
    }
    char force[P], data[P], ref[P], ref1[P], ev[P], e1[P], e2[P], al1[P], al2[P], path[P], labels[P];
    snprintf(force, sizeof force, "%.1100s/force", dir);
    snprintf(data, sizeof data, "%.1100s/data", dir);
    snprintf(ev, sizeof ev, "%.1100s/events.jsonl", force);
    snprintf(ref, sizeof ref, "%.1100s/reference.jsonl", force);
    snprintf(labels, sizeof labels, "%.1100s/labels.jsonl", force);
    snprintf(ref1, sizeof ref1, "%.1100s/reference-first-lines.jsonl", dir);
    snprintf(e1, sizeof e1, "%.1100s/events-1.jsonl", dir);
    snprintf(e2, sizeof e2, "%.1100s/events-2.jsonl", dir);
    snprintf(al1, sizeof al1, "%.1100s/alerts-1.jsonl", dir);
    snprintf(al2, sizeof al2, "%.1100s/alerts-2.jsonl", dir);
    if (strlen(dir) > 1000) {
        fprintf(stderr, "custos demo: --dir path over 1000 bytes\n");
        return 2;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "custos demo: mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%.1100s/ledger/checkpoint", data);
    struct stat sb;
    bool have_data = stat(path, &sb) == 0;
    const char *reference = ref;
    if (have_data) {
        printf("[1/4] gen, [2/4] replay: %s already holds a demo; reusing it (remove it to start afresh)\n", dir);
        if (stat(ref1, &sb) == 0)
            reference = ref1;
    } else {
        /* 1. the force */
        cu_gen_config gc;
        cu_gen_config_default(&gc);
        gc.officers = officers;
        gc.days = days;
        gc.seed = seed;
        gc.out_dir = force;
        cu_gen_stats gs;
        printf("[1/4] gen: a force of %u officers over %u days, with misuse scenarios...\n", officers, days);
        fflush(stdout);
        if (cu_gen_run(&gc, &gs))
            return say_fail("gen");
        printf("      %" PRIu64 " officers, %" PRIu64 " persons, %" PRIu64 " records, %" PRIu64 " events, %" PRIu64
               " misuse instances\n",
               gs.officers, gs.persons, gs.records, gs.events, gs.scenario_instances);
        /* 2. replay in two halves: two signed checkpoints */
        printf("[2/4] replay through the pipeline (ledger, store, detectors) into %s...\n", data);
        fflush(stdout);
        if (split_events(ev, e1, e2))
            return say_fail("splitting the events");
        for (int half = 0; half < 2; half++) {
            cu_replay_opts ro = {.reference = reference, .events = half ? e2 : e1, .alerts = half ? al2 : al1,
                                 .data_dir = data};
            cu_replay_stats rs;
            cu_rc rc = cu_replay_run(&ro, &rs);
            if (rc == CU_ERR_EXISTS && half == 0 && reference == ref) {
                /* gen writes officer changes as later officer lines; the event module
                 * keeps one line per officer today */
                printf("      note: the event module refuses gen's officer-change lines (\"valid_from\"): "
                       "replaying with each officer's first line only\n");
                if (first_lines_only(ref, ref1))
                    return say_fail("filtering the reference");
                reference = ref1;
                char ldir[P + 16];
                snprintf(ldir, sizeof ldir, "%s", data);
                if (cu_rmtree(ldir))
                    return say_fail("cleaning the data directory");
                half--;
                continue;
            }
            if (rc)
                return say_fail("replay");
            printf("      half %d: %" PRIu64 " events, %" PRIu64 " alerts\n", half + 1, rs.events, rs.alerts);
        }
        unlink(e1);
        unlink(e2);
    }
    /* the defect log travels with the data for evidence bundles */
    snprintf(path, sizeof path, "%.1100s/defects.jsonl", data);
    if (stat(path, &sb) != 0) {
        const char *src = defects ? defects : "docs/defects.jsonl";
        if (copy_file(src, path))
            printf("      note: no defect log at %s (pass --defects FILE): evidence export will ask for one\n", src);
    }
    /* 3. evidence: a sample bundle for the most alerted officer */
    char top[128], ring[1024], bundle[P], vkey[P];
    unsigned nal = 0;
    uint64_t total = 0, t2 = 0;
    unsigned n2 = 0;
    char top2[128];
    if (top_officer(al1, top, sizeof top, &nal, &total) || top_officer(al2, top2, sizeof top2, &n2, &t2))
        top[0] = '\0';
    total += t2;
    if (n2 > nal)
        snprintf(top, sizeof top, "%s", top2);
    ring_answer(labels, ring, sizeof ring);
    snprintf(bundle, sizeof bundle, "%.1100s/evidence-%s.tar", dir, top[0] ? top : "none");
    snprintf(vkey, sizeof vkey, "%.1100s/log.vkey", dir);
    {
        char ldir[P + 16], *sk = NULL, *vk = NULL;
        cu_note_signer *s = NULL;
        snprintf(ldir, sizeof ldir, "%.1100s/ledger", data);
        if (cu_ledger_read_signer(ldir, &sk) || cu_note_signer_parse(sk, &s) ||
            !(vk = cu_note_signer_verifier_key(s)) || cu_file_write_atomic(vkey, vk, strlen(vk), 0644)) {
            cu_free(sk);
            cu_note_signer_free(s);
            return say_fail("writing the log's verifier key");
        }
        cu_free(vk);
        cu_note_signer_free(s);
        cu_free(sk);
    }
    printf("[3/4] evidence: %" PRIu64 " alerts raised; a court bundle for the most alerted officer (%s)\n", total,
           top[0] ? top : "none");
    if (top[0]) {
        cu_evidence_export_opts eo = {.data_dir = data, .by = CU_EVIDENCE_BY_OFFICER, .id = top, .from = INT64_MIN,
                                      .to = INT64_MAX, .out_path = bundle, .now = cu_now(),
                                      .label = "demo: most alerted officer"};
        cu_evidence_export_stats es;
        cu_evidence_result er;
        if (cu_evidence_export(&eo, &es))
            printf("      evidence export: %s\n", cu_err_detail());
        else {
            char *k = NULL;
            size_t kl;
            cu_rc rc = cu_file_read(vkey, 4096, &k, &kl);
            if (!rc)
                rc = cu_evidence_verify_file(bundle, k, NULL, NULL, &er);
            cu_free(k);
            printf("      %s: %" PRIu64 " entries, checkpoints %" PRIu64 " -> %" PRIu64 ", %s\n", bundle, es.entries,
                   es.old_size, es.new_size, rc ? "does NOT verify" : "verifies offline");
            printf("      check it yourself: custos evidence verify %s --pubkey %s\n", bundle, vkey);
        }
    }
    /* 4. the daemon */
    char custosd[P], portfile[P], portarg[16];
    sibling(custosd, sizeof custosd, "custosd");
    snprintf(portfile, sizeof portfile, "%.1100s/custosd.port", dir);
    snprintf(portarg, sizeof portarg, "%u", port);
    unlink(portfile);
    printf("[4/4] daemon: %s on %s\n", custosd, data);
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "custos demo: fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        execl(custosd, custosd, "--data", data, "--reference", reference, "--port", portarg, "--port-file", portfile,
              (char *)NULL);
        fprintf(stderr, "custos demo: cannot run %s: %s\n", custosd, strerror(errno));
        _exit(127);
    }
    /* wait for the port file and /healthz (reopening the data directory can take a while) */
    unsigned bound = 0;
    int status = 0;
    for (int tries = 0; tries < 1200 && !g_stop; tries++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "custos demo: custosd exited (status %d) before it was ready\n",
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            return 1;
        }
        char *t = NULL;
        size_t tl;
        if (!bound && cu_file_read(portfile, 64, &t, &tl) == CU_OK)
            bound = (unsigned)strtoul(t, NULL, 10);
        cu_free(t);
        if (bound && healthz((uint16_t)bound))
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (tries == 1199)
            bound = 0;
    }
    if (!bound || g_stop) {
        fprintf(stderr, "custos demo: custosd did not answer /healthz\n");
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
        return 1;
    }
    printf("\ncustos demo is ready.\n");
    printf("  address:  http://127.0.0.1:%u/   (GET /healthz answers)\n", bound);
    printf("  missing:  the investigator console and its accounts (investigator, supervisor for unmasking) are not\n"
           "            merged yet: no console pages and no login. Alerts are in %s/alerts-1.jsonl and -2.jsonl\n"
           "            and in the store; evidence bundles with: custos evidence export --data %s --officer ID "
           "--out FILE\n",
           dir, data);
    if (ring[0])
        printf("  answer key (from gen's labels): the ring collecting on activists is %s\n", ring);
    printf("  verify the log: custos ledger verify %s/ledger --pubkey %s\n", data, vkey);
    fflush(stdout);
    if (exit_ready) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
        return 0;
    }
    printf("  (Ctrl-C stops the daemon)\n");
    fflush(stdout);
    while (!g_stop) {
        pid_t w = waitpid(pid, &status, 0);
        if (w == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        if (w < 0 && errno != EINTR)
            break;
    }
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    return 0;
}
