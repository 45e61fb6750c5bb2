/* custos demo: the whole system on a synthetic force, for a newcomer.
 *
 *   1. gen       a force with labelled misuse (custos gen)
 *   2. replay    through the pipeline and the misuse detectors into DIR/data
 *                (one ledger, the store, alerts), the first day apart so the
 *                log has an earlier checkpoint to prove consistency from
 *   3. evidence  a sample court bundle for the most alerted officer, verified
 *   4. daemon    custosd on DIR/data with the console, an investigator and a
 *                supervisor account, and the access gateway (a caller token);
 *                the addresses, logins and where to look are printed once
 *                /healthz answers
 *
 * Wiring only: every step is a library call or the custosd program.  The
 * logins (random) are kept in DIR/logins.txt (0600) for later runs. */
#include "cli.h"

#include "custos/console.h"
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
#include <sodium.h>
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
    "                   [--defects FILE] [--policies DIR] [--exit-after-ready]\n"
    "  --dir DIR            where everything goes (default ./custos-demo; reused if it holds a demo)\n"
    "  --officers N         size of the force (default 2000)\n"
    "  --days D             days of activity (default 60)\n"
    "  --port P             daemon port (default 8340; 0 picks a free one)\n"
    "  --seed S             the generator's seed (default 2)\n"
    "  --defects FILE       software defect log for evidence (default docs/defects.jsonl)\n"
    "  --policies DIR       the gateway's Cedar policy pack (default policies; none there: no gateway)\n"
    "  --exit-after-ready   stop the daemon and exit once it answers /healthz\n";

static volatile sig_atomic_t g_stop;
static void on_signal(int s) { g_stop = s; }

static int say_fail(const char *step)
{
    fprintf(stderr, "custos demo: %s failed: %s\n", step, cu_err_detail());
    return 1;
}

/* Split events into two files: the first `first` lines, then the rest. */
static cu_rc split_events(const char *in, size_t days, const char *a, const char *b)
{
    FILE *f = fopen(in, "r"), *o1 = fopen(a, "w"), *o2 = fopen(b, "w");
    cu_rc rc = CU_OK;
    if (!f || !o1 || !o2) {
        rc = cu_err_set(CU_ERR_IO, "opening %s or its parts: %s", in, strerror(errno));
        goto out;
    }
    size_t lines = 0, at = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0)
        lines++;
    rewind(f);
    /* about the first day: the detectors restart cold at the cut, so it is
     * made early, where they have learnt little yet */
    size_t first = lines / (days ? days : 1);
    if (!first)
        first = 1;
    while (getline(&line, &cap, f) > 0)
        fputs(line, at++ < first ? o1 : o2);
    free(line);
out:
    if (f)
        fclose(f);
    if ((o1 && fclose(o1)) || (o2 && fclose(o2)))
        rc = cu_err_set(CU_ERR_IO, "writing the parts of %s", in);
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

/* ------------------------------------------------------ the queue */

/* The alerts as the console's queue shows them: the latest line of each id
 * (a detector re-emits an alert as it grows), by score, then newest. */
typedef struct queue {
    json_t *sorted;   /* array of alert objects */
    size_t ring_rank; /* 1-based rank of the ring alert naming most of the labelled ring; 0: none */
    size_t key_rank;  /* the first alert naming an officer of the labelled ring */
    size_t nrings;    /* ring alerts in all */
} queue;

static int cmp_alert(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    double sx = json_real_value(json_object_get(x, "score")), sy = json_real_value(json_object_get(y, "score"));
    if (sx != sy)
        return sx > sy ? -1 : 1;
    long nx = atol(json_string_value(json_object_get(x, "id")) + 1),
         ny = atol(json_string_value(json_object_get(y, "id")) + 1);
    return nx > ny ? -1 : nx < ny;
}

static void queue_load(const char *const *files, size_t nfiles, const char *ring_officers, queue *q)
{
    json_t *byid = json_object();
    memset(q, 0, sizeof *q);
    for (size_t f = 0; f < nfiles; f++) {
        FILE *in = fopen(files[f], "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while (in && (n = getline(&line, &cap, in)) > 0) {
            json_t *j = json_loadb(line, (size_t)n, 0, NULL);
            const char *id = json_string_value(json_object_get(j, "id"));
            if (id && json_is_number(json_object_get(j, "score")))
                json_object_set(byid, id, j);
            json_decref(j);
        }
        free(line);
        if (in)
            fclose(in);
    }
    size_t n = json_object_size(byid), k = 0;
    json_t **v = calloc(n ? n : 1, sizeof *v), *a;
    const char *key;
    json_object_foreach(byid, key, a) if (v) v[k++] = a;
    if (v && k)
        qsort(v, k, sizeof *v, cmp_alert);
    q->sorted = json_array();
    size_t best = 0;
    for (size_t i = 0; i < k; i++) {
        json_array_append(q->sorted, v[i]);
        bool is_ring = strcmp(json_string_value(json_object_get(v[i], "kind")), "ring") == 0;
        size_t x, named = 0;
        json_t *o;
        json_array_foreach(json_object_get(v[i], "officers"), x, o) if (ring_officers[0] &&
                                                                        strstr(ring_officers, json_string_value(o)))
            named++;
        if (named && !q->key_rank)
            q->key_rank = i + 1;
        q->nrings += is_ring;
        if (is_ring && named > best) {
            best = named;
            q->ring_rank = i + 1;
        }
    }
    free(v);
    json_decref(byid);
}

static void print_alert(const queue *q, size_t rank, const char *indent)
{
    json_t *a = json_array_get(q->sorted, rank - 1);
    const char *r0 = json_string_value(json_array_get(json_object_get(a, "reasons"), 0));
    /* the score as the console shows it (0-100) */
    printf("%s#%zu  %-5s %-18s score %3.0f  %s\n", indent, rank, json_string_value(json_object_get(a, "id")),
           json_string_value(json_object_get(a, "kind")), 100 * json_real_value(json_object_get(a, "score")),
           r0 ? r0 : "");
}

/* ------------------------------------------------------ logins */

/* A password a person can type: 3 groups of 4 from an alphabet without
 * look-alikes (about 62 bits). */
static void make_secret(char out[15])
{
    static const char al[] = "abcdefghjkmnpqrstuvwxyz23456789";
    for (int i = 0; i < 14; i++)
        out[i] = (i == 4 || i == 9) ? '-' : al[randombytes_uniform(sizeof al - 1)];
    out[14] = '\0';
}

typedef struct logins {
    char inv[32], sup[32], token[80];
} logins;

/* DIR/logins.txt: made with the accounts on the first run, read later. */
static cu_rc demo_logins(const char *dir, const char *data, logins *lg)
{
    char path[P], *t = NULL;
    size_t tl;
    snprintf(path, sizeof path, "%.1100s/logins.txt", dir);
    memset(lg, 0, sizeof *lg);
    if (cu_file_read(path, 4096, &t, &tl) == CU_OK) {
        int n = sscanf(t, "investigator %31s supervisor %31s token %79s", lg->inv, lg->sup, lg->token);
        cu_free(t);
        if (n == 3)
            return CU_OK;
        return cu_err_set(CU_ERR_PARSE, "%s: not what the demo wrote (remove it and the data directory)", path);
    }
    char p1[15], p2[15], tok[15];
    make_secret(p1);
    make_secret(p2);
    make_secret(tok);
    snprintf(lg->inv, sizeof lg->inv, "%s", p1);
    snprintf(lg->sup, sizeof lg->sup, "%s", p2);
    snprintf(lg->token, sizeof lg->token, "demo-%s", tok);
    int64_t now = cu_now();
    cu_rc rc = cu_console_account_add(data, "investigator", "investigator", lg->inv, CU_KDF_INTERACTIVE, now);
    if (!rc)
        rc = cu_console_account_add(data, "supervisor", "supervisor", lg->sup, CU_KDF_INTERACTIVE, now);
    if (rc)
        return rc;
    char txt[256];
    int n = snprintf(txt, sizeof txt, "investigator %s\nsupervisor %s\ntoken %s\n", lg->inv, lg->sup, lg->token);
    return cu_file_write_atomic(path, txt, (size_t)n, 0600);
}

/* DIR/gateway.conf: one calling system (PNC) with the token's hash. */
static cu_rc gateway_conf(const char *path, const char *token)
{
    uint8_t h[32];
    char hex[65], txt[256];
    cu_rc rc = cu_sha256(token, strlen(token), NULL, 0, NULL, 0, h);
    if (rc)
        return rc;
    cu_hex_encode(h, 32, hex);
    int n = snprintf(txt, sizeof txt, "# custos demo: the record system allowed to ask /v1/authorize\ntoken PNC sha256:%s\n",
                     hex);
    return cu_file_write_atomic(path, txt, (size_t)n, 0600);
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

/* The wall clock for ingest times: programs read the clock, logic does not. */
static int64_t wall_clock(void *ud)
{
    (void)ud;
    return cu_now();
}

int cu_cmd_demo(int argc, char **argv)
{
    const char *dir = "custos-demo", *defects = NULL, *policies = "policies";
    unsigned officers = 2000, days = 60, port = 8340;
    /* seed 2: a force whose planted ring the detectors alert as one ring
     * (with seed 1 they catch its officers one by one) */
    uint64_t seed = 2;
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
        else if (strcmp(a, "--policies") == 0)
            policies = v;
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
    char force[P], data[P], ref[P], ev[P], e1[P], e2[P], al1[P], al2[P], path[P], labels[P], gwconf[P];
    snprintf(force, sizeof force, "%.1100s/force", dir);
    snprintf(data, sizeof data, "%.1100s/data", dir);
    snprintf(ev, sizeof ev, "%.1100s/events.jsonl", force);
    snprintf(ref, sizeof ref, "%.1100s/reference.jsonl", force);
    snprintf(labels, sizeof labels, "%.1100s/labels.jsonl", force);
    snprintf(e1, sizeof e1, "%.1100s/events-1.jsonl", dir);
    snprintf(e2, sizeof e2, "%.1100s/events-2.jsonl", dir);
    snprintf(al1, sizeof al1, "%.1100s/alerts-1.jsonl", dir);
    snprintf(al2, sizeof al2, "%.1100s/alerts-2.jsonl", dir);
    snprintf(gwconf, sizeof gwconf, "%.1100s/gateway.conf", dir);
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
    if (have_data) {
        printf("[1/4] gen, [2/4] replay: %s already holds a demo; reusing it (remove it to start afresh)\n", dir);
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
        /* 2. replay in two parts: two signed checkpoints */
        printf("[2/4] replay through the pipeline (ledger, store, misuse detectors) into %s...\n", data);
        fflush(stdout);
        if (split_events(ev, days, e1, e2))
            return say_fail("splitting the events");
        cu_detect_cfg dc;
        cu_detect_cfg_default(&dc);
        for (int part = 0; part < 2; part++) {
            cu_replay_opts ro = {.reference = ref, .events = part ? e2 : e1, .alerts = part ? al2 : al1,
                                 .data_dir = data, .detect = &dc, .ingest_clock = wall_clock};
            cu_replay_stats rs;
            if (cu_replay_run(&ro, &rs))
                return say_fail("replay");
            printf("      %s: %" PRIu64 " events, %" PRIu64 " alert lines\n", part ? "the rest" : "day one",
                   rs.events, rs.alerts);
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
            if (sk)
                sodium_memzero(sk, strlen(sk));
            cu_free(sk);
            cu_note_signer_free(s);
            return say_fail("writing the log's verifier key");
        }
        cu_free(vk);
        cu_note_signer_free(s);
        sodium_memzero(sk, strlen(sk));
        cu_free(sk);
    }
    printf("[3/4] evidence: %" PRIu64 " alert lines; a court bundle for the most alerted officer (%s)\n", total,
           top[0] ? top : "none");
    if (top[0] && stat(bundle, &sb) != 0) {
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
        }
    } else if (top[0]) {
        printf("      %s (made by an earlier run)\n", bundle);
    }
    /* 4. the daemon, with the console's accounts and the gateway */
    logins lg;
    if (demo_logins(dir, data, &lg))
        return say_fail("making the console accounts");
    bool gateway = stat(policies, &sb) == 0;
    if (gateway && gateway_conf(gwconf, lg.token))
        return say_fail("writing the gateway's callers");
    char custosd[P], portfile[P], portarg[16];
    sibling(custosd, sizeof custosd, "custosd");
    snprintf(portfile, sizeof portfile, "%.1100s/custosd.port", dir);
    snprintf(portarg, sizeof portarg, "%u", port);
    unlink(portfile);
    printf("[4/4] daemon: %s on %s (console%s)\n", custosd, data, gateway ? ", access gateway" : "");
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
        /* --insecure-cookies: the console is served over plain HTTP on loopback */
        if (gateway)
            execl(custosd, custosd, "--data", data, "--reference", ref, "--port", portarg, "--port-file", portfile,
                  "--insecure-cookies", "--config", gwconf, "--policies", policies, (char *)NULL);
        else
            execl(custosd, custosd, "--data", data, "--reference", ref, "--port", portarg, "--port-file", portfile,
                  "--insecure-cookies", (char *)NULL);
        fprintf(stderr, "custos demo: cannot run %s: %s\n", custosd, strerror(errno));
        _exit(127);
    }
    /* wait for the port file and /healthz (reopening the data directory can take a while) */
    unsigned bound = 0;
    int status = 0;
    for (int tries = 0; tries < 3000 && !g_stop; tries++) {
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
        if (tries == 2999)
            bound = 0;
    }
    if (!bound || g_stop) {
        fprintf(stderr, "custos demo: custosd did not answer /healthz\n");
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
        return 1;
    }
    const char *files[2] = {al1, al2};
    queue q;
    queue_load(files, 2, ring, &q);
    size_t nq = json_array_size(q.sorted);
    printf("\ncustos demo is ready.\n\n");
    printf("  console:  http://127.0.0.1:%u/console/\n", bound);
    printf("  log in:   investigator / %s     (triage, cases, asks to unmask)\n", lg.inv);
    printf("            supervisor   / %s     (approves unmasking; use a second browser or a private window)\n",
           lg.sup);
    printf("  address:  http://127.0.0.1:%u/   (GET /healthz answers; the API is docs/openapi.yaml)\n\n", bound);
    if (nq) {
        printf("  Where to look: the alert queue (%zu alerts, most urgent first) opens with\n", nq);
        for (size_t r = 1; r <= nq && r <= 3; r++)
            print_alert(&q, r, "    ");
    }
    if (q.ring_rank) {
        const char *rid = json_string_value(json_object_get(json_array_get(q.sorted, q.ring_rank - 1), "id"));
        printf("\n  The ring of officers collecting on activists (the generator planted it) is alert %s,\n"
               "  #%zu in the queue:  http://127.0.0.1:%u/console/#/alerts/%s\n", rid, q.ring_rank, bound, rid);
        print_alert(&q, q.ring_rank, "    ");
        printf("  Log in, open that link, then \"Show this alert in the network graph\": the officers (squares)\n"
               "  and the people they looked up (activists), the ring in red. The queue's Kind filter \"ring\"\n"
               "  lists all %zu ring alerts: the detectors also raise rings the labels do not call misuse.\n"
               "  Officers are pseudonyms (OF-...) until a supervisor approves an unmask request made from a\n"
               "  case (\"Open a case with this alert\", then ask to unmask on the case page).\n",
               q.nrings);
    } else if (ring[0]) {
        printf("\n  The planted ring (%s) was not alerted as a ring in this run", ring);
        if (q.key_rank)
            printf("; the first alert naming one of them is #%zu, %s", q.key_rank,
                   json_string_value(json_object_get(json_array_get(q.sorted, q.key_rank - 1), "id")));
        printf(".\n");
    }
    if (ring[0])
        printf("  Answer key (the generator's labels, %s/labels.jsonl): the ring is %s\n", force, ring);
    json_decref(q.sorted);
    printf("\n  evidence: \"Export evidence bundle\" on a case writes %s/exports/case-N-TIME.tar;\n"
           "            check any bundle offline: custos evidence verify FILE --pubkey %s\n",
           data, vkey);
    if (gateway)
        printf("  gateway:  curl -H 'Authorization: Bearer %s' -d '{\"officer\":\"OFFICER\",\"action\":\"view\","
               "\"record\":\"RECORD\",\"purpose\":\"investigation\"}' http://127.0.0.1:%u/v1/authorize\n"
               "            (an allowed look-up is logged and becomes an access event the detectors read)\n",
               lg.token, bound);
    printf("  the log:  custos ledger verify %s/ledger --pubkey %s\n", data, vkey);
    printf("  logins are kept in %s/logins.txt\n", dir);
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
