/*
 * custos evidence: court evidence bundles that anyone can verify offline.
 *
 * A bundle is one POSIX ustar file (readable with `tar -xf`) of a fixed set
 * of members (docs/evidence.md has the format and every check):
 *
 *   MANIFEST           a signed note (the log's key): what the bundle is and
 *                      the SHA-256 and size of every other member
 *   key.vkey           the log's verifier key (must equal the one the
 *                      verifier is given out of band)
 *   checkpoint         the signed checkpoint the inclusion proofs lead to
 *   checkpoint.old     a checkpoint published earlier
 *   consistency.proof  old -> new consistency proof (ledger proof text)
 *   entries.jsonl      one ledger entry a line: its bytes, inclusion proof,
 *                      clear values (machine fields apart from fields typed
 *                      by a person) and per-person openings of commitments
 *   completeness.json  ledger index range and event-id sequence gaps
 *   provenance.json    source systems, collector, software, times
 *   defects.jsonl      the software defect log for the period
 *   report.pdf         the timeline and how to verify, for people
 *
 * Export reads a data directory (DATA/ledger, DATA/store.db) without taking
 * the writer's lock, so the daemon can keep running.  Verification needs
 * nothing but the bundle bytes and the verifier key; every read has a size
 * limit.
 */
#ifndef CUSTOS_EVIDENCE_H
#define CUSTOS_EVIDENCE_H

#include "custos/util.h"

#define CU_EVIDENCE_MAX_BUNDLE (512u << 20)   /* whole bundle */
#define CU_EVIDENCE_MAX_MEMBER (256u << 20)   /* one member */
#define CU_EVIDENCE_MAX_MEMBERS 32
#define CU_EVIDENCE_MAX_ENTRIES 200000u       /* entries in one bundle */
#define CU_EVIDENCE_MAX_LINE (1u << 20)       /* one line of a .jsonl member */
#define CU_EVIDENCE_MAX_RANGE 100000000ull    /* ledger entries read for completeness */

/* ------------------------------------------------------------ container */

/* A member of the ustar container: name (1..99 bytes of [A-Za-z0-9._-],
 * no path), data. */
typedef struct cu_evidence_member {
    char name[100];
    const uint8_t *data;
    size_t len;
} cu_evidence_member;

/* Write members as a ustar archive (regular files, mode 0644, given mtime,
 * two zero blocks at the end) appended to out. */
cu_rc cu_evidence_tar_write(const cu_evidence_member *m, size_t n, int64_t mtime, cu_buf *out) CU_NODISCARD;
/* Strict parse: only regular files with valid names, checksums and sizes,
 * no duplicates, at most max members, the end marker present, nothing but
 * zero blocks after it.  Members point into data.  CU_ERR_PARSE / TOOBIG
 * with a detail naming the offset. */
cu_rc cu_evidence_tar_parse(const void *data, size_t len, cu_evidence_member *out, size_t max,
                            size_t *n) CU_NODISCARD;

/* --------------------------------------------------------------- export */

typedef enum cu_evidence_by {
    CU_EVIDENCE_BY_OFFICER = 1, /* every access by an officer (store: officer timeline) */
    CU_EVIDENCE_BY_PERSON,      /* every access listing a person (only that person is opened) */
    CU_EVIDENCE_BY_RECORD,      /* every access to a record */
    CU_EVIDENCE_BY_CASE,        /* every access citing a police case */
    CU_EVIDENCE_BY_INDEXES,     /* explicit ledger indexes (the console: case -> alerts -> events) */
} cu_evidence_by;

typedef struct cu_evidence_export_opts {
    const char *data_dir;        /* DATA with DATA/ledger and DATA/store.db */
    cu_evidence_by by;
    const char *id;              /* officer/person/record/case id (not for BY_INDEXES) */
    const uint64_t *indexes;     /* BY_INDEXES: ledger indexes (any order, duplicates ignored) */
    size_t nindexes;
    const char *label;           /* the investigation's name for the report (NULL: the selection) */
    int64_t from, to;            /* inclusive event-time window; INT64_MIN / INT64_MAX for none */
    const char *out_path;        /* the bundle file (written atomically) */
    const char *defects_path;    /* defect log (NULL: DATA/defects.jsonl) */
    const char *old_checkpoint;  /* file with an earlier signed checkpoint (NULL: the archive) */
    const char *collector;       /* provenance (NULL: "custos pipeline") */
    size_t max_entries;          /* 0: CU_EVIDENCE_MAX_ENTRIES */
    int64_t now;                 /* export time */
} cu_evidence_export_opts;

typedef struct cu_evidence_export_stats {
    uint64_t entries;            /* in the bundle */
    uint64_t unpublished;        /* selected but after the latest checkpoint: left out */
    uint64_t opened, sealed;     /* subject commitments opened / left sealed */
    uint64_t old_size, new_size; /* checkpoint sizes */
    uint64_t range_lo, range_hi; /* ledger indexes read for completeness */
    uint64_t missing_ids;        /* event ids missing from the sequences */
    uint64_t ingest_recorded;    /* entries whose ingest time the store recorded */
    size_t bytes;                /* bundle size */
} cu_evidence_export_stats;

/* Make a bundle.  Needs the log's signer key (DATA/ledger/private) to sign
 * the manifest.  CU_ERR_NOTFOUND when nothing is selected (or nothing is
 * covered by a checkpoint), CU_ERR_TOOBIG over max_entries. */
cu_rc cu_evidence_export(const cu_evidence_export_opts *o, cu_evidence_export_stats *st) CU_NODISCARD;

/* --------------------------------------------------------------- verify */

/* Called once per check, in order, with CU_OK or the failure and a detail.
 * Checks (docs/evidence.md): container, members, pubkey, manifest,
 * manifest-signature, member-hashes, checkpoint, checkpoint.old,
 * consistency, entries, inclusion, openings, completeness, provenance,
 * defects, report. */
typedef void (*cu_evidence_check_fn)(void *ud, const char *check, cu_rc rc, const char *detail);

typedef struct cu_evidence_result {
    cu_rc rc;                  /* first failure, CU_OK when all passed */
    char first_failed[32];     /* its check name, "" when none */
    unsigned checks, failed;
    uint64_t entries, opened, sealed;
    uint64_t old_size, new_size;
} cu_evidence_result;

/* Run every check that can run (a check whose input failed is reported as
 * failed with "skipped: ..." ).  Returns res->rc.  pubkey is verifier key
 * text.  fn may be NULL. */
cu_rc cu_evidence_verify(const void *bundle, size_t len, const char *pubkey, cu_evidence_check_fn fn, void *ud,
                         cu_evidence_result *res) CU_NODISCARD;
/* The same on a file (at most CU_EVIDENCE_MAX_BUNDLE bytes). */
cu_rc cu_evidence_verify_file(const char *path, const char *pubkey, cu_evidence_check_fn fn, void *ud,
                              cu_evidence_result *res) CU_NODISCARD;

#endif /* CUSTOS_EVIDENCE_H */
