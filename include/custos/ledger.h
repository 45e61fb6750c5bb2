/*
 * custos ledger: the append-only, tamper-evident Merkle log.
 *
 * Hashing is RFC 9162 (leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 ||
 * left || right)).  The on-disk log is a C2SP tlog-tiles tree; checkpoints
 * are C2SP tlog-checkpoint bodies signed as C2SP signed-notes with Ed25519.
 * See docs/ledger.md for the design, the formats and the invariants.
 *
 * This header has three parts:
 *   1. Merkle hashing and proofs (pure functions, no I/O).
 *   2. Signed notes, keys and checkpoints (pure functions, no I/O).
 *   3. The durable log (cu_ledger): storage, group commit, publishing.
 */
#ifndef CUSTOS_LEDGER_H
#define CUSTOS_LEDGER_H

#include "custos/util.h"

#define CU_HASH_LEN 32
typedef struct cu_hash {
    uint8_t b[CU_HASH_LEN];
} cu_hash;

/* ===================================================== 1. Merkle and proofs */

cu_rc cu_merkle_leaf_hash(const void *entry, size_t len, cu_hash *out) CU_NODISCARD;
cu_rc cu_merkle_node_hash(const cu_hash *left, const cu_hash *right, cu_hash *out) CU_NODISCARD;
/* The root of the empty tree: SHA-256 of the empty string. */
void cu_merkle_empty_root(cu_hash *out);

/* Longest proof for any tree of up to 2^64 leaves. */
#define CU_MERKLE_MAX_PROOF 64

/* Verify that leaf_hash is at index in the tree of `size` leaves with `root`.
 * CU_OK when it is; CU_ERR_RANGE when index >= size; CU_ERR_VERIFY for a
 * proof of the wrong length or one that does not lead to root. */
cu_rc cu_merkle_verify_inclusion(uint64_t index, uint64_t size, const cu_hash *leaf_hash,
                                 const cu_hash *proof, size_t proof_len, const cu_hash *root) CU_NODISCARD;

/* Verify that the tree of size1 with root1 is a prefix of the tree of size2
 * with root2 (RFC 9162 2.1.4.2).  size1 == 0 is always an error (CU_ERR_RANGE);
 * size1 > size2 is CU_ERR_RANGE; equal sizes need an empty proof and equal
 * roots. */
cu_rc cu_merkle_verify_consistency(uint64_t size1, uint64_t size2, const cu_hash *proof, size_t proof_len,
                                   const cu_hash *root1, const cu_hash *root2) CU_NODISCARD;

/* A source of node hashes for proof generation: the hash of the complete
 * subtree at (level, index), i.e. leaves [index << level, (index+1) << level).
 * Implemented by the in-memory tree below and by the stored log (tiles). */
typedef cu_rc (*cu_merkle_node_fn)(void *ctx, unsigned level, uint64_t index, cu_hash *out);

/* Build proofs.  `proof` must hold CU_MERKLE_MAX_PROOF hashes; *proof_len is
 * set.  Errors from `node` are passed through.  Consistency proofs need
 * size2 <= 2^63 (above that one could take 65 hashes): CU_ERR_RANGE. */
cu_rc cu_merkle_prove_inclusion(cu_merkle_node_fn node, void *ctx, uint64_t index, uint64_t size,
                                cu_hash *proof, size_t *proof_len) CU_NODISCARD;
cu_rc cu_merkle_prove_consistency(cu_merkle_node_fn node, void *ctx, uint64_t size1, uint64_t size2,
                                  cu_hash *proof, size_t *proof_len) CU_NODISCARD;
/* The root of the first `size` leaves from complete-subtree hashes. */
cu_rc cu_merkle_root(cu_merkle_node_fn node, void *ctx, uint64_t size, cu_hash *out) CU_NODISCARD;

/* An in-memory tree that keeps every level: for tests, tools and the writer's
 * recent-tile cache.  Appending allocates amortised O(1). */
typedef struct cu_merkle_tree cu_merkle_tree;
cu_rc cu_merkle_tree_new(cu_merkle_tree **out) CU_NODISCARD;
void cu_merkle_tree_free(cu_merkle_tree *t);
cu_rc cu_merkle_tree_append_hash(cu_merkle_tree *t, const cu_hash *leaf_hash) CU_NODISCARD;
uint64_t cu_merkle_tree_size(const cu_merkle_tree *t);
/* A cu_merkle_node_fn over a cu_merkle_tree (ctx is the tree). */
cu_rc cu_merkle_tree_node(void *tree, unsigned level, uint64_t index, cu_hash *out);
/* The root of the whole tree (the empty root when it has no leaves). */
cu_rc cu_merkle_tree_root(const cu_merkle_tree *t, cu_hash *out) CU_NODISCARD;

/* ========================================== 2. Signed notes and checkpoints */

/* Keys in the signed-note text formats:
 *   signer:   PRIVATE+KEY+<name>+<hash8hex>+<base64(0x01 || 32-byte seed)>
 *   verifier: <name>+<hash8hex>+<base64(0x01 || 32-byte public key)>
 * where hash = first 4 bytes of SHA-256(name || "\n" || 0x01 || pubkey). */
typedef struct cu_note_signer cu_note_signer;
typedef struct cu_note_verifier cu_note_verifier;

#define CU_NOTE_MAX 65536        /* largest note accepted */
#define CU_NOTE_MAX_SIGS 16      /* most signature lines read */

/* Generate a key pair; both strings are freed by the caller with cu_free
 * (the signer key after sodium_memzero/OPENSSL_cleanse).  The parsers
 * forgive one trailing '\n' (key files end in one) and nothing else:
 * CU_ERR_PARSE for bad syntax, CU_ERR_UNSUPPORTED for an algorithm byte
 * other than 0x01 (Ed25519), CU_ERR_VERIFY when the key hash does not
 * match the key. */
cu_rc cu_note_keygen(const char *name, char **signer_key, char **verifier_key) CU_NODISCARD;
cu_rc cu_note_signer_parse(const char *text, cu_note_signer **out) CU_NODISCARD;
cu_rc cu_note_verifier_parse(const char *text, cu_note_verifier **out) CU_NODISCARD;
void cu_note_signer_free(cu_note_signer *s);    /* wipes the secret */
void cu_note_verifier_free(cu_note_verifier *v);
const char *cu_note_signer_name(const cu_note_signer *s);
const char *cu_note_verifier_name(const cu_note_verifier *v);
/* The verifier key text that matches a signer; freed by the caller. */
char *cu_note_signer_verifier_key(const cu_note_signer *s);

/* Sign `text` (which must end in '\n' and be valid UTF-8 without control
 * characters other than '\n') with one signer.  *note is the whole signed
 * note; the caller frees it. */
cu_rc cu_note_sign(const char *text, size_t len, const cu_note_signer *s, char **note, size_t *note_len) CU_NODISCARD;

/* Open a note against verifiers.  On CU_OK *text_len is the length of the
 * signed text (a prefix of note) and verified[i] says whether verifiers[i]
 * signed it (at least one did).  Errors: CU_ERR_PARSE "malformed note",
 * CU_ERR_VERIFY "no verifiable signatures" or a bad signature by a known
 * key, CU_ERR_TOOBIG. */
cu_rc cu_note_open(const char *note, size_t len, cu_note_verifier *const *verifiers, size_t nverifiers,
                   size_t *text_len, bool *verified) CU_NODISCARD;

/* tlog-checkpoint bodies: "<origin>\n<size>\n<base64 root>\n[extension lines]". */
typedef struct cu_checkpoint {
    char origin[256];
    uint64_t size;
    cu_hash root;
} cu_checkpoint;

/* Text of the body; the caller frees it. */
cu_rc cu_checkpoint_format(const cu_checkpoint *c, char **text, size_t *len) CU_NODISCARD;
/* Parse a body (the signed text of a note, extension lines allowed). */
cu_rc cu_checkpoint_parse(const char *text, size_t len, cu_checkpoint *out) CU_NODISCARD;

/* ================================================================ 3. Tiles */

#define CU_TILE_HEIGHT 8
#define CU_TILE_WIDTH 256

/* The tlog-tiles path of a tile: "tile/<L>/<N>[.p/<W>]" (level L >= 0) or,
 * with level -1, the entry bundle "tile/entries/<N>[.p/<W>]"; N in the
 * x001/x234/067 encoding; width W < 256 makes a partial tile. */
cu_rc cu_tile_path(int level, uint64_t index, unsigned width, char *out, size_t outlen) CU_NODISCARD;
/* Longest tile path with its NUL ("tile/entries/x018/.../615.p/255"). */
#define CU_TILE_PATH_MAX 64
/* Parse a tile path (exactly the canonical form cu_tile_path writes):
 * level -1 for entry bundles, width 256 for a full tile.  CU_ERR_PARSE. */
cu_rc cu_tile_path_parse(const char *path, size_t len, int *level, uint64_t *index, unsigned *width) CU_NODISCARD;
/* Entry bundles are sequences of big-endian uint16 length-prefixed entries.
 * Iterate with *off starting at 0: CU_OK with *entry (pointing into data)
 * and *entry_len set, CU_ERR_NOTFOUND at the end, CU_ERR_CORRUPT when an
 * entry runs past the end of the data. */
cu_rc cu_tile_bundle_next(const uint8_t *data, size_t len, size_t *off, const uint8_t **entry,
                          size_t *entry_len) CU_NODISCARD;
/* A hash tile of `width` hashes is exactly width * 32 bytes; *hashes points
 * into data.  CU_ERR_CORRUPT for any other length. */
cu_rc cu_tile_hashes(const uint8_t *data, size_t len, unsigned width, const cu_hash **hashes) CU_NODISCARD;

/* ===================================================== 4. The durable log */

/* A log directory DIR is a C2SP tlog-tiles tree (DIR/checkpoint, DIR/tile/)
 * that a static web server can publish, with the writer's private state in
 * DIR/private/ (lock, journal, commitment secret, signer key; never to be
 * published).  See docs/ledger.md for the layout, the commit protocol and
 * the recovery invariants. */
typedef struct cu_ledger cu_ledger;
typedef struct cu_ledger_opts {
    const char *signer_key;   /* signer key text (PRIVATE+KEY+...), or NULL: read-only use, no publishing */
    unsigned group_max;       /* most entries in one commit group (0: default 65536) */
    unsigned group_wait_us;   /* how long a commit may wait for the callers the previous one
                                 acknowledged to come back with their next appends (0: no wait, the
                                 default and, measured, the faster) */
    unsigned commit_period_us; /* least time from one commit's start to the next while more than
                                 one caller waits, so that a fast fdatasync does not commit a handful
                                 of entries at a time (0: CU_LEDGER_COMMIT_PERIOD_US; 1: no period,
                                 commit whatever is built as soon as the previous commit is done) */
    bool read_only;           /* open without the writer lock; append/publish refused */
} cu_ledger_opts;

/* The default commit period (cu_ledger_opts.commit_period_us; docs/ledger.md, Performance). */
#define CU_LEDGER_COMMIT_PERIOD_US 500u

/* Largest entry (the uint16 length prefix of entry bundles). */
#define CU_LEDGER_ENTRY_MAX 65535u
#define CU_LEDGER_SECRET_LEN 32

/* Create an empty log in dir (which must not hold one): tile tree, private state, an HMAC
 * commitment secret (32 random bytes, private), and a signed checkpoint of size 0.  The signer
 * key is kept in DIR/private/signer.key (mode 0600) for cu_ledger_read_signer.  On failure
 * nothing is left behind but directories that existed before. */
cu_rc cu_ledger_init(const char *dir, const char *origin, const char *signer_key) CU_NODISCARD;
/* Open: takes the writer lock (CU_ERR_LOCKED if another writer holds it), cuts a torn tail back
 * to the last committed entry, starts the committer thread.  A read-only open takes no lock,
 * replays the journal in memory only and starts no thread. */
cu_rc cu_ledger_open(const char *dir, const cu_ledger_opts *opts, cu_ledger **out) CU_NODISCARD;
/* Waits for queued appends, stops the committer, releases the lock.  NULL is a no-op. */
void cu_ledger_close(cu_ledger *l);
/* Durable append, thread-safe: returns only when the entry is on disk (fsync); concurrent callers
 * share one fsync (group commit). Entries are 1..65535 bytes.  After a disk error (CU_ERR_NOSPC,
 * CU_ERR_IO) the log fails closed: every later call but cu_ledger_size and cu_ledger_close gives
 * CU_ERR_STATE until the log is closed and reopened.  A failed append's entries may or may not
 * be present after reopening; an acknowledged one always is. */
cu_rc cu_ledger_append(cu_ledger *l, const void *entry, size_t len, uint64_t *index) CU_NODISCARD;
/* Append n entries in order as part of commit groups; durable on return; *first_index set. */
cu_rc cu_ledger_append_many(cu_ledger *l, const void *const *entries, const size_t *lens, size_t n,
                            uint64_t *first_index) CU_NODISCARD;
/* Asynchronous append, for callers that must not hold a thread per waiting append (the gateway
 * over HTTP): the request is queued and the call returns at once; done(ud, rc, first_index,
 * detail) is called exactly once, on the ledger's commit thread, when the entries are durable
 * (rc CU_OK, first_index set) or failed (rc and detail as cu_ledger_append would give; detail
 * lives only during the call).  The entries join the same commit groups as synchronous appends.
 * p (caller's storage: no allocation) and, when n > 1, entries and lens must stay untouched until
 * done runs; the entry bytes always must.  done must be short and must not wait on this ledger
 * (no synchronous append or publish from it: the commit thread is the one that would answer);
 * it may free or reuse p.  An error returned here (bad entry, failed or closing log) means done
 * is never called.  cu_ledger_close runs every pending done before it returns. */
#define CU_LEDGER_PENDING_SIZE 1024
typedef struct cu_ledger_pending {
    _Alignas(16) unsigned char opaque_[CU_LEDGER_PENDING_SIZE];
} cu_ledger_pending;
typedef void (*cu_ledger_done_fn)(void *ud, cu_rc rc, uint64_t first_index, const char *detail);
cu_rc cu_ledger_append_async(cu_ledger *l, cu_ledger_pending *p, const void *const *entries, const size_t *lens,
                             size_t n, cu_ledger_done_fn done, void *ud) CU_NODISCARD;
/* Recompute the root from storage, check consistency with the last published checkpoint, sign
 * and write a checkpoint covering every committed entry; *out (may be NULL) gets it.
 * CU_ERR_VERIFY (and nothing signed) when the previous checkpoint is not consistent with the
 * stored tree; CU_ERR_STATE without a signer key. */
cu_rc cu_ledger_publish(cu_ledger *l, cu_checkpoint *out) CU_NODISCARD;
uint64_t cu_ledger_size(cu_ledger *l);                  /* committed entries */
/* The commit period in force, in microseconds (0: none; cu_ledger_opts.commit_period_us). */
unsigned cu_ledger_commit_period_us(const cu_ledger *l);
/* Appends the entry's bytes to out. */
cu_rc cu_ledger_read_entry(cu_ledger *l, uint64_t index, cu_buf *out) CU_NODISCARD;
/* Entries [first, first + n) in order, each bundle of 256 read once: fn(ud, index, bytes, len)
 * (bytes valid during the call); a non-OK from fn stops and is returned.  For sequential readers
 * (the pipeline's warm start), where cu_ledger_read_entry would read a bundle per entry. */
typedef cu_rc (*cu_ledger_entry_fn)(void *ud, uint64_t index, const void *entry, size_t len);
cu_rc cu_ledger_read_range(cu_ledger *l, uint64_t first, uint64_t n, cu_ledger_entry_fn fn, void *ud) CU_NODISCARD;
/* proof holds CU_MERKLE_MAX_PROOF hashes.  size <= cu_ledger_size(l). */
cu_rc cu_ledger_prove_inclusion(cu_ledger *l, uint64_t index, uint64_t size, cu_hash *proof,
                                size_t *proof_len) CU_NODISCARD;
cu_rc cu_ledger_prove_consistency(cu_ledger *l, uint64_t size1, uint64_t size2, cu_hash *proof,
                                  size_t *proof_len) CU_NODISCARD;
/* The root of the first `size` committed entries. */
cu_rc cu_ledger_root(cu_ledger *l, uint64_t size, cu_hash *out) CU_NODISCARD;
/* The 32-byte secret for keyed commitments (HMAC-SHA-256) of people looked up. */
const uint8_t *cu_ledger_commit_secret(const cu_ledger *l);
/* The log's origin line. */
const char *cu_ledger_origin(const cu_ledger *l);
/* The size of the last published checkpoint (as of open or the last publish). */
uint64_t cu_ledger_published_size(const cu_ledger *l);
/* Full offline check of a log directory: re-derive every tile from the entry bundles, check the
 * checkpoint's signature and root. CU_OK or an error whose detail names the first fault. */
cu_rc cu_ledger_verify_dir(const char *dir, const cu_note_verifier *v) CU_NODISCARD;
/* The signer key stored by cu_ledger_init; the caller wipes (sodium_memzero) and frees it. */
cu_rc cu_ledger_read_signer(const char *dir, char **key) CU_NODISCARD;

/* Proof files (text): a header line, then one standard base64 hash per line.
 *   "inclusion <index> <size>\n"      for an inclusion proof
 *   "consistency <size1> <size2>\n"   for a consistency proof
 * Formatted text is freed by the caller. */
#define CU_LEDGER_PROOF_MAX 8192
cu_rc cu_ledger_proof_format(bool inclusion, uint64_t a, uint64_t b, const cu_hash *proof, size_t n,
                             char **text, size_t *len) CU_NODISCARD;
cu_rc cu_ledger_proof_parse(const char *text, size_t len, bool *inclusion, uint64_t *a, uint64_t *b,
                            cu_hash *proof, size_t *n) CU_NODISCARD;
/* Offline checks against signed checkpoints (note text) and a verifier key:
 * the leaf is at the proof's index in the checkpoint's tree (the proof's size
 * must be the checkpoint's); the old checkpoint's tree is a prefix of the new
 * one's.  CU_OK, or CU_ERR_VERIFY / CU_ERR_PARSE with a detail. */
cu_rc cu_ledger_check_inclusion(const char *note, size_t note_len, const cu_note_verifier *v,
                                const char *proof, size_t proof_len, const cu_hash *leaf_hash) CU_NODISCARD;
cu_rc cu_ledger_check_consistency(const char *old_note, size_t old_len, const char *new_note, size_t new_len,
                                  const cu_note_verifier *v, const char *proof, size_t proof_len) CU_NODISCARD;

/* ------------------------------------------------------------ log entries */

/* The canonical binary entry (docs/ledger.md, "Entry encoding"):
 *   u8 version (1) | u8 type | i64 event time (big-endian seconds) |
 *   fields: u8 tag | u16 length (1..) | value, tags strictly increasing.
 * One encoding per value: absent fields are omitted, empty values are not
 * allowed, no trailing bytes. */
#define CU_LEDGER_ENTRY_VERSION 1
#define CU_LEDGER_MAX_FIELDS 32
#define CU_LEDGER_MAX_SUBJECTS 256
#define CU_LEDGER_STR_MAX 1024   /* longest string field */

typedef enum cu_ledger_entry_type {
    CU_LEDGER_ACCESS = 1,      /* an access to a record system */
    CU_LEDGER_DECISION = 2,    /* a gateway policy decision */
    CU_LEDGER_GOVERNANCE = 3,  /* a governance action */
    CU_LEDGER_CONSOLE = 4,     /* an investigator console audit record */
    CU_LEDGER_POLICY = 5,      /* a policy pack put in force by the gateway */
} cu_ledger_entry_type;

/* Access entry tags. */
enum {
    CU_LEDGER_F_ID = 1, CU_LEDGER_F_OFFICER, CU_LEDGER_F_SYSTEM, CU_LEDGER_F_ACTION, CU_LEDGER_F_RECORD,
    CU_LEDGER_F_PURPOSE, CU_LEDGER_F_CASE, CU_LEDGER_F_TERMINAL, CU_LEDGER_F_AREA,
    CU_LEDGER_F_OUTCOME,  /* 1 byte: 1 allow, 2 deny */
    CU_LEDGER_F_RESULTS,  /* u32 big-endian */
    CU_LEDGER_F_SUBJECTS, /* n * 32-byte commitments, in the event's order */
};

typedef struct cu_ledger_field {
    uint8_t tag;
    const void *data;
    size_t len; /* 0: the field is absent */
} cu_ledger_field;

/* Generic encoder: fields in strictly increasing tag order (absent ones,
 * len 0, skipped).  Writes into out (cap bytes); *len set.  CU_ERR_INVAL for
 * bad tags or types, CU_ERR_TOOBIG over cap or CU_LEDGER_ENTRY_MAX. */
cu_rc cu_ledger_entry_encode(uint8_t type, int64_t ts, const cu_ledger_field *fields, size_t nfields, uint8_t *out,
                             size_t cap, size_t *len) CU_NODISCARD;

/* An access event as the ledger records it (strings NUL-terminated; NULL
 * or "" for absent optional ones; subjects are person ids, committed with
 * the log's secret when encoded). */
typedef struct cu_ledger_access {
    int64_t ts;
    const char *id, *officer, *system, *action, *record, *purpose, *case_id, *terminal, *area;
    bool allow;
    uint32_t results;
    const char *const *subjects;
    size_t nsubjects;
} cu_ledger_access;

cu_rc cu_ledger_entry_encode_access(const cu_ledger_access *a, const uint8_t secret[CU_LEDGER_SECRET_LEN],
                                    uint8_t *out, size_t cap, size_t *len) CU_NODISCARD;

/* A decoded entry: views into the decoded bytes. */
typedef struct cu_ledger_entry {
    uint8_t type;
    int64_t ts;
    size_t nfields;
    cu_ledger_field fields[CU_LEDGER_MAX_FIELDS];
} cu_ledger_entry;

/* Strict decoder (CU_ERR_PARSE with the byte offset; CU_ERR_UNSUPPORTED for
 * another version).  Access entries are checked further: required fields
 * present, outcome/results/subjects well formed, strings within limits. */
cu_rc cu_ledger_entry_decode(const void *data, size_t len, cu_ledger_entry *out) CU_NODISCARD;
/* The field with tag, or NULL. */
const cu_ledger_field *cu_ledger_entry_field(const cu_ledger_entry *e, uint8_t tag);

/* Commitments to the people looked up, openable one person at a time
 * without the secret (docs/ledger.md, "People looked up"):
 *   key        = HMAC-SHA-256(secret, "custos/subject-key/v2" 0x00 || id)
 *   commitment = SHA-256("custos/subject/v2" 0x00 || key || id)
 * ids are 1..CU_LEDGER_STR_MAX bytes (CU_ERR_INVAL otherwise). */
cu_rc cu_ledger_commitment_key(const uint8_t secret[CU_LEDGER_SECRET_LEN], const char *id, size_t len,
                               uint8_t key[CU_HASH_LEN]) CU_NODISCARD;
cu_rc cu_ledger_commitment_from_key(const uint8_t key[CU_HASH_LEN], const char *id, size_t len,
                                    uint8_t out[CU_HASH_LEN]) CU_NODISCARD;
/* true when commitment commits to id under the disclosed key (no secret needed). */
bool cu_ledger_commitment_open(const uint8_t key[CU_HASH_LEN], const char *id, size_t len,
                               const uint8_t commitment[CU_HASH_LEN]);
/* The commitment to a person id (key then commitment, as above). */
cu_rc cu_ledger_commitment(const uint8_t secret[CU_LEDGER_SECRET_LEN], const char *id, size_t len,
                           uint8_t out[CU_HASH_LEN]) CU_NODISCARD;
/* true when commitment is the commitment to id (constant-time compare). */
bool cu_ledger_commitment_check(const uint8_t secret[CU_LEDGER_SECRET_LEN], const char *id, size_t len,
                                const uint8_t commitment[CU_HASH_LEN]);

#endif /* CUSTOS_LEDGER_H */
