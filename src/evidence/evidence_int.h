/* Private to the evidence module: member names, the access-entry view that
 * export and verify share, the report document and the PDF writer. */
#ifndef CUSTOS_EVIDENCE_INT_H
#define CUSTOS_EVIDENCE_INT_H

#include "custos/evidence.h"
#include "custos/ledger.h"

#include <jansson.h>

#define EV_MANIFEST "MANIFEST"
#define EV_KEY "key.vkey"
#define EV_CP "checkpoint"
#define EV_CP_OLD "checkpoint.old"
#define EV_CONS "consistency.proof"
#define EV_ENTRIES "entries.jsonl"
#define EV_COMPLETE "completeness.json"
#define EV_PROV "provenance.json"
#define EV_DEFECTS "defects.jsonl"
#define EV_REPORT "report.pdf"
#define EV_NMEMBERS 10
extern const char *const cu_ev_members[EV_NMEMBERS]; /* in manifest order; MANIFEST first */

#define EV_FORMAT "custos-evidence/v1"

/* The fields of an access entry as the bundle shows them: machine fields
 * (written by the record system) apart from fields typed by a person. */
typedef struct ev_field_map {
    uint8_t tag;
    const char *key;
    bool typed;
} ev_field_map;
extern const ev_field_map cu_ev_fields[9];

typedef struct ev_access {
    int64_t ts;
    const uint8_t *str[10]; /* by tag 1..9 (NULL when absent) */
    size_t len[10];
    bool allow;
    uint32_t results;
    bool has_results;
    const uint8_t *subjects; /* n * 32 bytes */
    size_t nsubjects;
} ev_access;

/* Decode an access entry into a view (points into e's data). */
cu_rc cu_ev_access_view(const cu_ledger_entry *e, ev_access *a) CU_NODISCARD;
/* "machine" and "typed" objects for an entry (new references). */
cu_rc cu_ev_clear_json(const ev_access *a, json_t **machine, json_t **typed) CU_NODISCARD;

/* jansson: parse a buffer strictly (no duplicate keys) into an object. */
cu_rc cu_ev_json_obj(const char *what, const char *s, size_t n, json_t **out) CU_NODISCARD;
cu_rc cu_ev_b64_32(const char *s, uint8_t out[32]) CU_NODISCARD;
void cu_ev_b64_enc32(const uint8_t in[32], char out[45]);

/* ------------------------------------------------------------- report */

typedef enum ev_style { EV_TITLE, EV_H, EV_P, EV_MONO, EV_TYPED } ev_style;
typedef struct ev_doc ev_doc;
cu_rc cu_ev_doc_new(ev_doc **out) CU_NODISCARD;
void cu_ev_doc_free(ev_doc *d);
cu_rc cu_ev_doc_add(ev_doc *d, ev_style s, const char *fmt, ...) CU_PRINTF(3, 4) CU_NODISCARD;
/* Render as PDF (libharu) appended to out. */
cu_rc cu_ev_doc_pdf(const ev_doc *d, const char *title, int64_t now, cu_buf *out) CU_NODISCARD;

#endif
