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
/* (storage, group commit, publishing: declared below by the storage part) */

#endif /* CUSTOS_LEDGER_H */
