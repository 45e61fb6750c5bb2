/* bench_parse: events parsed per second from an events file, by the serial
 * reader and by the parallel reader with 1, 2 and 3 workers (the interning
 * is on the calling thread in both).  Prints wall time, CPU time and
 * events/s.  usage: bench_parse EVENTS.jsonl [MAX_EVENTS] */
#include "custos/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_parse EVENTS.jsonl [MAX_EVENTS]\n");
        return 2;
    }
    uint64_t max = argc > 2 ? strtoull(argv[2], NULL, 10) : UINT64_MAX;
    cu_id subj[CU_EVENT_MAX_SUBJECTS];
    cu_event ev = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    for (int w = 0; w <= 3; w++) {
        cu_names *n;
        if (cu_names_new(&n))
            return 1;
        cu_event_reader *sr = NULL;
        cu_event_preader *pr = NULL;
        cu_rc rc = w == 0 ? cu_event_reader_open(argv[1], n, &sr) : cu_event_preader_open(argv[1], n, (unsigned)w, 0, &pr);
        if (rc) {
            fprintf(stderr, "%s\n", cu_err_detail());
            return 1;
        }
        double c0 = cpu_s();
        uint64_t t0 = cu_mono_ns(), k = 0;
        while (k < max && (rc = w == 0 ? cu_event_reader_next(sr, &ev) : cu_event_preader_next(pr, &ev)) == CU_OK)
            k++;
        if (rc && rc != CU_ERR_NOTFOUND)
            fprintf(stderr, "%s\n", cu_err_detail());
        double secs = (double)(cu_mono_ns() - t0) / 1e9, cpu = cpu_s() - c0;
        printf("%-18s %llu events in %.2f s (cpu %.2f s, %.2f us/event): %.0f events/s\n",
               w == 0 ? "serial" : w == 1 ? "parallel, 1 worker" : w == 2 ? "parallel, 2 workers" : "parallel, 3 workers",
               (unsigned long long)k, secs, cpu, cpu * 1e6 / (double)(k ? k : 1), (double)k / secs);
        cu_event_reader_close(sr);
        cu_event_preader_close(pr);
        cu_names_free(n);
    }
    return 0;
}
