/*
 * Merkle hashing and proofs (RFC 9162 section 2.1), with no I/O.
 *
 * Hashes: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left ||
 * right), and the root of the empty tree is SHA-256 of the empty string.
 *
 * Everything here works over a "node source": a function that returns the
 * hash of the complete subtree at (level, index), i.e. of the leaves
 * [index << level, (index + 1) << level).  Any tree of n leaves is the
 * right-leaning fold of the complete subtrees given by the set bits of n,
 * largest first; that is exactly RFC 9162's MTH (split at the largest power
 * of two below n).  The same decomposition gives the proofs without
 * recursion:
 *
 *   inclusion of leaf i in a tree of n leaves: let inner = bit length of
 *   i ^ (n - 1).  Below level `inner` the path has a sibling at every level
 *   (the highest one may be an incomplete, "ephemeral" subtree that ends at
 *   n and is folded from complete ones); above it, a sibling exists only
 *   where i has a 1 bit (a complete subtree to the left).
 *
 *   consistency of m with n: the inclusion path of the complete node that
 *   ends at leaf m (level = trailing zeros of m), preceded by that node
 *   unless m is a power of two (then the verifier already knows it: it is
 *   the old root).
 *
 * Invariants:
 *   1. Proof generation and verification allocate nothing; proofs hold at
 *      most CU_MERKLE_MAX_PROOF (64) hashes.
 *   2. Verification follows RFC 9162 2.1.3.2 and 2.1.4.2 step by step, and
 *      also insists that the proof has exactly the expected length (no
 *      trailing or missing hashes) and that consistency starts at size >= 1.
 *   3. The in-memory tree keeps every level: level l holds the size >> l
 *      complete nodes, so every node lookup is O(1) and every append costs
 *      one leaf store plus amortised one node hash.
 */
#include "custos/ledger.h"

#include <string.h>

/* ================================================================ hashing */

cu_rc cu_merkle_leaf_hash(const void *entry, size_t len, cu_hash *out)
{
    static const uint8_t prefix = 0x00;
    return cu_sha256(&prefix, 1, entry, len, NULL, 0, out->b);
}

cu_rc cu_merkle_node_hash(const cu_hash *left, const cu_hash *right, cu_hash *out)
{
    static const uint8_t prefix = 0x01;
    /* left/right may alias out: cu_sha256 reads all input before writing. */
    return cu_sha256(&prefix, 1, left->b, CU_HASH_LEN, right->b, CU_HASH_LEN, out->b);
}

void cu_merkle_empty_root(cu_hash *out)
{
    /* SHA-256(""), fixed so that this cannot fail. */
    static const uint8_t e[CU_HASH_LEN] = {
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
        0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
        0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    memcpy(out->b, e, CU_HASH_LEN);
}

/* ============================================================ bit helpers */

static unsigned bit_len(uint64_t x) { return x ? 64u - (unsigned)__builtin_clzll(x) : 0u; }
static unsigned ctz64(uint64_t x) { return x ? (unsigned)__builtin_ctzll(x) : 64u; }
static unsigned popcount64(uint64_t x) { return (unsigned)__builtin_popcountll(x); }

/* ========================================================= roots of ranges */

/* The root of leaves [begin, end) where begin is a multiple of a power of
 * two 2^k >= end - begin (so the range is the left part of one aligned
 * subtree, the shape RFC 9162's MTH gives every right-hand subtree).  The
 * complete pieces are the set bits of end - begin, largest first. */
static cu_rc range_root(cu_merkle_node_fn node, void *ctx, uint64_t begin, uint64_t end, cu_hash *out)
{
    uint64_t n = end - begin;
    cu_rc rc;
    if (n == 0) {
        cu_merkle_empty_root(out);
        return CU_OK;
    }
    /* The pieces are the set bits of n, largest first from begin; the piece
     * of 2^lvl starts after all larger ones, at begin + (n - 2^lvl) while n
     * holds only the bits >= lvl.  Fold from the smallest (rightmost). */
    bool first = true;
    while (n) {
        unsigned lvl = ctz64(n);
        uint64_t pos = begin + (n - ((uint64_t)1 << lvl));
        cu_hash left;
        if ((rc = node(ctx, lvl, pos >> lvl, first ? out : &left)))
            return rc;
        if (!first && (rc = cu_merkle_node_hash(&left, out, out)))
            return rc;
        first = false;
        n &= n - 1;
    }
    return CU_OK;
}

cu_rc cu_merkle_root(cu_merkle_node_fn node, void *ctx, uint64_t size, cu_hash *out)
{
    return range_root(node, ctx, 0, size, out);
}

/* ======================================================= proof generation */

/* A consistency proof is the node ending at size1 plus its inclusion path,
 * at most 1 + bit_len(size2 - 1) hashes: 64 while size2 <= 2^63. */
#define CONSISTENCY_MAX_SIZE ((uint64_t)1 << 63)

/* The inclusion path of the node (level, index) in the tree of `size`
 * leaves, appended to proof[*len].  The node must lie inside the tree. */
static cu_rc node_path(cu_merkle_node_fn node, void *ctx, unsigned level, uint64_t index, uint64_t size,
                       cu_hash *proof, size_t *len)
{
    uint64_t last = (size - 1) >> level; /* index of the node holding leaf size-1 */
    unsigned inner = bit_len(index ^ last);
    cu_rc rc;
    for (unsigned i = 0; i < inner; i++) {
        unsigned l = level + i;
        uint64_t sib = (index >> i) ^ 1;
        if (*len >= CU_MERKLE_MAX_PROOF)
            return cu_err_set(CU_ERR_INTERNAL, "merkle proof longer than %d", CU_MERKLE_MAX_PROOF);
        if (i + 1 == inner && sib > (index >> i)) {
            /* The right sibling at the top of the inner part holds leaf
             * size-1 and may be incomplete: fold it from complete pieces. */
            uint64_t begin = sib << l;
            uint64_t span_end = begin + ((uint64_t)1 << l);
            uint64_t end = span_end > size || span_end < begin ? size : span_end;
            rc = range_root(node, ctx, begin, end, &proof[*len]);
        } else {
            rc = node(ctx, l, sib, &proof[*len]);
        }
        if (rc)
            return rc;
        (*len)++;
    }
    for (unsigned i = inner; i < 64 - level; i++) {
        if (((index >> i) & 1) == 0)
            continue;
        if (*len >= CU_MERKLE_MAX_PROOF)
            return cu_err_set(CU_ERR_INTERNAL, "merkle proof longer than %d", CU_MERKLE_MAX_PROOF);
        if ((rc = node(ctx, level + i, (index >> i) ^ 1, &proof[*len])))
            return rc;
        (*len)++;
    }
    return CU_OK;
}

cu_rc cu_merkle_prove_inclusion(cu_merkle_node_fn node, void *ctx, uint64_t index, uint64_t size,
                                cu_hash *proof, size_t *proof_len)
{
    *proof_len = 0;
    if (index >= size)
        return cu_err_set(CU_ERR_RANGE, "leaf index %llu is not below tree size %llu",
                          (unsigned long long)index, (unsigned long long)size);
    return node_path(node, ctx, 0, index, size, proof, proof_len);
}

cu_rc cu_merkle_prove_consistency(cu_merkle_node_fn node, void *ctx, uint64_t size1, uint64_t size2,
                                  cu_hash *proof, size_t *proof_len)
{
    *proof_len = 0;
    if (size1 == 0)
        return cu_err_set(CU_ERR_RANGE, "no consistency proof from the empty tree");
    if (size1 > size2)
        return cu_err_set(CU_ERR_RANGE, "consistency size1 %llu is above size2 %llu",
                          (unsigned long long)size1, (unsigned long long)size2);
    if (size1 == size2)
        return CU_OK;
    if (size2 > CONSISTENCY_MAX_SIZE)
        return cu_err_set(CU_ERR_RANGE, "consistency proofs stop at tree size 2^63");
    unsigned level = ctz64(size1);
    uint64_t index = (size1 - 1) >> level;
    cu_rc rc;
    if (index != 0) { /* size1 is not a power of two: the verifier needs the node */
        if ((rc = node(ctx, level, index, &proof[0])))
            return rc;
        *proof_len = 1;
    }
    if ((rc = node_path(node, ctx, level, index, size2, proof, proof_len)))
        *proof_len = 0;
    return rc;
}

/* ========================================================== verification */

/* Expected proof lengths, so that a proof of the wrong length is refused
 * before any hashing (RFC 9162 rejects them too, through sn != 0 or an
 * exhausted path; checking first is cheaper and clearer). */
static size_t inclusion_len(uint64_t index, uint64_t size)
{
    unsigned inner = bit_len(index ^ (size - 1));
    return inner + popcount64(inner >= 64 ? 0 : index >> inner);
}

cu_rc cu_merkle_verify_inclusion(uint64_t index, uint64_t size, const cu_hash *leaf_hash, const cu_hash *proof,
                                 size_t proof_len, const cu_hash *root)
{
    if (index >= size)
        return cu_err_set(CU_ERR_RANGE, "leaf index %llu is not below tree size %llu",
                          (unsigned long long)index, (unsigned long long)size);
    size_t want = inclusion_len(index, size);
    if (proof_len != want)
        return cu_err_set(CU_ERR_VERIFY, "inclusion proof has %zu hashes, want %zu", proof_len, want);
    /* RFC 9162 2.1.3.2 */
    uint64_t fn = index, sn = size - 1;
    cu_hash r = *leaf_hash;
    cu_rc rc;
    for (size_t i = 0; i < proof_len; i++) {
        if (sn == 0)
            return cu_err_set(CU_ERR_VERIFY, "inclusion proof too long");
        if ((fn & 1) || fn == sn) {
            if ((rc = cu_merkle_node_hash(&proof[i], &r, &r)))
                return rc;
            if (!(fn & 1))
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else if ((rc = cu_merkle_node_hash(&r, &proof[i], &r))) {
            return rc;
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return cu_err_set(CU_ERR_VERIFY, "inclusion proof too short");
    if (!cu_ct_equal(r.b, root->b, CU_HASH_LEN))
        return cu_err_set(CU_ERR_VERIFY, "inclusion proof does not lead to the root");
    return CU_OK;
}

cu_rc cu_merkle_verify_consistency(uint64_t size1, uint64_t size2, const cu_hash *proof, size_t proof_len,
                                   const cu_hash *root1, const cu_hash *root2)
{
    if (size1 == 0)
        return cu_err_set(CU_ERR_RANGE, "no consistency proof from the empty tree");
    if (size1 > size2)
        return cu_err_set(CU_ERR_RANGE, "consistency size1 %llu is above size2 %llu",
                          (unsigned long long)size1, (unsigned long long)size2);
    if (size1 == size2) {
        if (proof_len != 0)
            return cu_err_set(CU_ERR_VERIFY, "equal sizes need an empty consistency proof");
        if (!cu_ct_equal(root1->b, root2->b, CU_HASH_LEN))
            return cu_err_set(CU_ERR_VERIFY, "equal sizes with different roots");
        return CU_OK;
    }
    if (size2 > CONSISTENCY_MAX_SIZE)
        return cu_err_set(CU_ERR_RANGE, "consistency proofs stop at tree size 2^63");
    /* RFC 9162 2.1.4.2, step 1 */
    if (proof_len == 0)
        return cu_err_set(CU_ERR_VERIFY, "empty consistency proof");
    unsigned level = ctz64(size1);
    uint64_t index = (size1 - 1) >> level;
    bool pow2 = index == 0;
    size_t want = (pow2 ? 0 : 1);
    {
        unsigned inner = bit_len(index ^ ((size2 - 1) >> level));
        want += inner + popcount64(inner >= 64 ? 0 : index >> inner);
    }
    if (proof_len != want)
        return cu_err_set(CU_ERR_VERIFY, "consistency proof has %zu hashes, want %zu", proof_len, want);

    /* Step 2: when size1 is a power of two the path starts with root1; the
     * prepended element is virtual (p(k) below) so nothing is copied. */
    size_t total = proof_len + (pow2 ? 1 : 0);
#define P(k) (pow2 ? ((k) == 0 ? root1 : &proof[(k) - 1]) : &proof[(k)])
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) { /* step 4 */
        fn >>= 1;
        sn >>= 1;
    }
    cu_hash fr = *P(0), sr = *P(0); /* step 5 */
    cu_rc rc;
    for (size_t k = 1; k < total; k++) { /* step 6 */
        const cu_hash *c = P(k);
        if (sn == 0)
            return cu_err_set(CU_ERR_VERIFY, "consistency proof too long");
        if ((fn & 1) || fn == sn) {
            if ((rc = cu_merkle_node_hash(c, &fr, &fr)) || (rc = cu_merkle_node_hash(c, &sr, &sr)))
                return rc;
            if (!(fn & 1))
                while (fn != 0 && !(fn & 1)) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else if ((rc = cu_merkle_node_hash(&sr, c, &sr))) {
            return rc;
        }
        fn >>= 1;
        sn >>= 1;
    }
#undef P
    /* step 7 */
    if (sn != 0)
        return cu_err_set(CU_ERR_VERIFY, "consistency proof too short");
    if (!cu_ct_equal(fr.b, root1->b, CU_HASH_LEN))
        return cu_err_set(CU_ERR_VERIFY, "consistency proof does not lead to root1");
    if (!cu_ct_equal(sr.b, root2->b, CU_HASH_LEN))
        return cu_err_set(CU_ERR_VERIFY, "consistency proof does not lead to root2");
    return CU_OK;
}

/* ======================================================= in-memory tree */

struct cu_merkle_tree {
    uint64_t size;
    cu_hash *lv[64];        /* lv[l]: the size >> l complete nodes of level l */
    uint64_t cap[64];
};

cu_rc cu_merkle_tree_new(cu_merkle_tree **out)
{
    *out = cu_calloc(1, sizeof **out);
    if (!*out)
        return cu_err_set(CU_ERR_NOMEM, "merkle tree");
    return CU_OK;
}

void cu_merkle_tree_free(cu_merkle_tree *t)
{
    if (!t)
        return;
    for (unsigned l = 0; l < 64; l++)
        cu_free(t->lv[l]);
    cu_free(t);
}

uint64_t cu_merkle_tree_size(const cu_merkle_tree *t) { return t->size; }

/* Make room for one more node at level l. */
static cu_rc level_reserve(cu_merkle_tree *t, unsigned l, uint64_t count)
{
    if (count < t->cap[l])
        return CU_OK;
    uint64_t ncap = t->cap[l] ? t->cap[l] * 2 : (uint64_t)(l == 0 ? 1024 : 512 >> (l < 9 ? l : 9));
    if (ncap < 4)
        ncap = 4;
    if (ncap > SIZE_MAX / sizeof(cu_hash))
        return cu_err_set(CU_ERR_OVERFLOW, "merkle tree too large");
    cu_hash *p = cu_realloc(t->lv[l], (size_t)ncap * sizeof(cu_hash));
    if (!p)
        return cu_err_set(CU_ERR_NOMEM, "merkle tree level %u", l);
    t->lv[l] = p;
    t->cap[l] = ncap;
    return CU_OK;
}

cu_rc cu_merkle_tree_append_hash(cu_merkle_tree *t, const cu_hash *leaf_hash)
{
    uint64_t n = t->size + 1; /* size after the append */
    cu_rc rc;
    if (n == 0)
        return cu_err_set(CU_ERR_OVERFLOW, "merkle tree full");
    /* Reserve every level this append touches first, so that a failed
     * allocation leaves the tree exactly as it was. */
    unsigned top = ctz64(n); /* new complete nodes appear at levels 0..top */
    for (unsigned l = 0; l <= top; l++)
        if ((rc = level_reserve(t, l, (n >> l) - 1)))
            return rc;
    t->lv[0][n - 1] = *leaf_hash;
    for (unsigned l = 1; l <= top; l++) {
        uint64_t i = (n >> l) - 1;
        if ((rc = cu_merkle_node_hash(&t->lv[l - 1][2 * i], &t->lv[l - 1][2 * i + 1], &t->lv[l][i])))
            return rc; /* only OpenSSL failing; the tree is unchanged (size not bumped) */
    }
    t->size = n;
    return CU_OK;
}

cu_rc cu_merkle_tree_node(void *tree, unsigned level, uint64_t index, cu_hash *out)
{
    cu_merkle_tree *t = tree;
    if (level >= 64 || index >= (t->size >> level))
        return cu_err_set(CU_ERR_RANGE, "no complete node (%u, %llu) in a tree of %llu", level,
                          (unsigned long long)index, (unsigned long long)t->size);
    *out = t->lv[level][index];
    return CU_OK;
}

cu_rc cu_merkle_tree_root(const cu_merkle_tree *t, cu_hash *out)
{
    return cu_merkle_root(cu_merkle_tree_node, (void *)t, t->size, out);
}
