/* Private to the pipeline: access entries in the ledger's encoding. */
#ifndef CU_PIPELINE_INT_H
#define CU_PIPELINE_INT_H

#include "custos/pipeline.h"

#define CU_ENTRY_MAX 65535

/* Commitments of the people looked up: HMAC-SHA-256(secret, person id). */
typedef cu_rc (*cu_commit_fn)(void *ud, cu_id person, uint8_t out[32]);

/* Encode ev into out (cap >= CU_ENTRY_MAX); *len set. */
cu_rc cu_entry_encode(const cu_names *n, const cu_event *ev, cu_commit_fn commit, void *ud, uint8_t *out, size_t cap,
                      size_t *len) CU_NODISCARD;

/* A decoded access entry: strings point into the entry bytes (not NUL
 * terminated: lengths given), commitments likewise. */
typedef struct cu_entry_view {
    int64_t ts;
    uint8_t action, outcome;
    bool has_results;
    uint32_t results;
    const char *str[9]; /* id, officer, system, record, purpose, case, terminal, area, (unused) */
    uint8_t len[9];
    uint32_t nsubjects;
    const uint8_t *subjects; /* nsubjects * 32 bytes */
} cu_entry_view;
enum { EV_ID, EV_OFFICER, EV_SYSTEM, EV_RECORD, EV_PURPOSE, EV_CASE, EV_TERMINAL, EV_AREA };

cu_rc cu_entry_decode(const uint8_t *p, size_t len, cu_entry_view *out) CU_NODISCARD;

/* Entries [first, first + n) of a ledger sink in order, each bundle read
 * once (cu_ledger_read_range); false (nothing read) for other sinks, which
 * are read entry by entry. */
bool cu_sink_read_range(const cu_sink *s, uint64_t first, uint64_t n,
                        cu_rc (*fn)(void *ud, uint64_t index, const void *entry, size_t len), void *ud, cu_rc *rc);

#endif
