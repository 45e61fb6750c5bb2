/* libFuzzer target: the gateway's reference-line reader (interchange JSON
 * Lines into the resident store, bad lines reported and skipped), then a
 * snapshot made from what was taken (assignments folded by time, records
 * inverted to their cases) and the per-decision entities of a few records
 * and cases built from it, as a decision would. */
#include "gateway/gateway_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_store *st = NULL;
    if (gw_store_new(&st) != CU_OK)
        return 0;
    cu_buf report;
    cu_buf_init(&report, 64 * 1024);
    size_t taken = 0;
    if (gw_store_read(st, (const char *)data, size, "fuzz", &report, &taken) != CU_OK) {
        gw_store_free(st);
        cu_buf_free(&report);
        return 0;
    }
    cu_buf_free(&report);
    gw_snap *s = NULL;
    if (gw_snap_make(st, &s) != CU_OK) /* takes st */
        return 0;
    cu_arena *a = cu_arena_new(64 * 1024, 16u << 20);
    for (uint32_t r = 0; a && r < s->st->nrecords && r < 8; r++)
        if (s->st->records[r].defined) {
            bool prot;
            (void)gw_record_entity(s, r, UINT32_MAX, NULL, a, &prot); /* no stated case */
        }
    for (uint32_t c = 0; a && c < s->st->ncases && c < 8; c++)
        if (s->st->cases[c].defined)
            (void)gw_case_entity(s, c, INT64_C(1717243200), a);
    cu_arena_free(a);
    gw_snap_release(s);
    return 0;
}
