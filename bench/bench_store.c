/* bench_store: the store's cost of indexing events, alone.
 *
 * Reads an events file (for instance `custos gen` output) in batches of
 * 65536 events, as `custos replay` does, and writes each batch into a new
 * store in a temporary directory on this thread (no writer thread), timing
 * only the store's calls (begin, add_event, sync_people, commit): parsing
 * is not counted.  Prints the store's CPU time (this thread's), its wall
 * time, microseconds per event, and the rows of the key tables, with the
 * size of the database.  Use it to compare layouts: the figures do not
 * depend on the other threads of a replay.
 *
 * With --ref REF the reference is loaded and stored first, untimed (as the
 * replay's reference job does: the names it interns are then stored before
 * the batches, which write only the names they are first to use).
 *
 * With --writer the batches go to the store's writer thread (as in
 * `custos replay`, which writes them GROUP at a time): the store's CPU is
 * then the process's CPU time less what this thread spent parsing.
 *
 * --batch N sets the events per batch (the daemon's batches are small and
 * written on the caller's thread, one transaction each).
 *
 * usage: bench_store EVENTS.jsonl [MAX_EVENTS] [--ref REF] [--keep DIR] [--writer] [--batch N]
 */
#include "custos/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 65536

static double cpu_clock(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
static double thread_cpu(void) { return cpu_clock(CLOCK_THREAD_CPUTIME_ID); }

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store EVENTS.jsonl [MAX_EVENTS] [--ref REF] [--keep DIR]\n");
        return 2;
    }
    uint64_t max = argc > 2 && argv[2][0] != '-' ? strtoull(argv[2], NULL, 10) : UINT64_MAX;
    const char *keep = NULL, *refpath = NULL;
    bool writer = false;
    size_t batch = BATCH;
    for (int i = 2; i < argc; i++)
        writer |= strcmp(argv[i], "--writer") == 0;
    for (int i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--keep") == 0)
            keep = argv[i + 1];
        if (strcmp(argv[i], "--ref") == 0)
            refpath = argv[i + 1];
        if (strcmp(argv[i], "--batch") == 0)
            batch = (size_t)strtoull(argv[i + 1], NULL, 10);
    }
    if (batch == 0 || batch > BATCH)
        batch = BATCH;
    char dir[] = "/tmp/bench_store.XXXXXX";
    if (!keep && !mkdtemp(dir))
        return 1;
    char db[4200];
    snprintf(db, sizeof db, "%s/store.db", keep ? keep : dir);
    if (keep)
        mkdir(keep, 0755);
    cu_names *n = NULL;
    cu_event_reader *r = NULL;
    cu_store *s = NULL;
    cu_ref *ref = NULL;
    cu_event *evs = cu_calloc(BATCH, sizeof *evs);
    cu_id *subj = cu_calloc((size_t)BATCH * CU_EVENT_MAX_SUBJECTS, sizeof *subj);
    cu_rc rc = !evs || !subj ? CU_ERR_NOMEM : CU_OK;
    if (rc || (rc = cu_names_new(&n)) || (rc = cu_event_reader_open(argv[1], n, &r)) || (rc = cu_store_open(db, &s)))
        goto fail;
    double refcpu = 0;
    if (refpath) {
        if ((rc = cu_ref_new(n, &ref)) || (rc = cu_ref_load(ref, refpath)) || (rc = cu_ref_seal(ref, refpath)))
            goto fail;
        double c0 = thread_cpu();
        if ((rc = cu_store_put_reference(s, ref)))
            goto fail;
        refcpu = thread_cpu() - c0;
    }
    if (writer && (rc = cu_store_writer_start(s)))
        goto fail;
    double cpu = 0, wall = 0, parse = 0, p0 = cpu_clock(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t wall0 = cu_mono_ns();
    uint64_t idx = 0;
    for (bool end = false; !end && idx < max;) {
        size_t k = 0;
        double r0 = thread_cpu();
        while (k < batch && idx + k < max) {
            cu_event *e = &evs[k];
            e->subjects = subj + k * CU_EVENT_MAX_SUBJECTS;
            e->subjects_cap = CU_EVENT_MAX_SUBJECTS;
            rc = cu_event_reader_next(r, e);
            if (rc == CU_ERR_NOTFOUND) {
                end = true;
                rc = CU_OK;
                break;
            }
            if (rc)
                goto fail;
            k++;
        }
        parse += thread_cpu() - r0;
        if (!k)
            break;
        double c0 = thread_cpu();
        uint64_t w0 = cu_mono_ns();
        if ((rc = cu_store_sync_people(s, n, NULL)) || (rc = cu_store_begin(s)))
            goto fail;
        for (size_t i = 0; i < k; i++)
            if ((rc = cu_store_add_event(s, idx + i, &evs[i])))
                goto fail;
        if ((rc = cu_store_commit(s, idx + k)))
            goto fail;
        cpu += thread_cpu() - c0;
        wall += (double)(cu_mono_ns() - w0) / 1e9;
        idx += k;
    }
    if ((rc = cu_store_wait(s)))
        goto fail;
    if (writer) {
        cpu = cpu_clock(CLOCK_PROCESS_CPUTIME_ID) - p0 - parse;
        wall = (double)(cu_mono_ns() - wall0) / 1e9;
    }
    uint64_t subjects = 0;
    if ((rc = cu_store_count(s, "event_subject", &subjects)))
        goto fail;
    cu_store_close(s);
    s = NULL;
    struct stat st;
    double mb = stat(db, &st) == 0 ? (double)st.st_size / 1e6 : 0;
    if (refpath)
        printf("reference (names and tables, before the events): cpu %.2f s\n", refcpu);
    printf("store: %llu events, %llu person entries: cpu %.2f s (%.3f us/event), wall %.2f s; store.db %.0f MB\n",
           (unsigned long long)idx, (unsigned long long)subjects, cpu, idx ? cpu * 1e6 / (double)idx : 0, wall, mb);
fail:
    if (rc)
        fprintf(stderr, "bench_store: %s: %s\n", cu_strerror(rc), cu_err_detail());
    cu_store_close(s);
    cu_event_reader_close(r);
    cu_ref_free(ref);
    cu_names_free(n);
    cu_free(evs);
    cu_free(subj);
    if (!keep) {
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return rc ? 1 : 0;
}
