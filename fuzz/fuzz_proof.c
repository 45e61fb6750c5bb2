/* libFuzzer target: Merkle proof verification from arbitrary bytes, and
 * generated proofs under mutation.
 *
 * Layout: byte 0 selects the mode; then little-endian u64 a and b; then
 * 32-byte hashes.
 *   mode even: raw verification.  Inclusion (index a, size b, leaf, root,
 *     proof = the rest) or consistency (sizes a, b, root1, root2, proof);
 *     must not crash and must return OK, VERIFY or RANGE.
 *   mode odd: a tree of (a % 300) + 1 leaves; an inclusion proof of leaf
 *     b % size and a consistency proof from (b >> 16) % size + 1 must verify;
 *     then byte 9.. flips one bit of the proof (if the remaining input says
 *     so) and the proof must then fail. */
#include "custos/ledger.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static cu_merkle_tree *tree;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 17)
        return 0;
    uint8_t mode = data[0];
    uint64_t a = le64(data + 1), b = le64(data + 9);
    const uint8_t *rest = data + 17;
    size_t rlen = size - 17;
    cu_hash h[2 + CU_MERKLE_MAX_PROOF + 1];
    size_t nh = rlen / CU_HASH_LEN;
    if (nh > sizeof h / sizeof *h)
        nh = sizeof h / sizeof *h;
    memcpy(h, rest, nh * CU_HASH_LEN);

    if ((mode & 1) == 0) {
        if (nh < 2)
            return 0;
        cu_rc rc = (mode & 2) ? cu_merkle_verify_consistency(a, b, h + 2, nh - 2, &h[0], &h[1])
                              : cu_merkle_verify_inclusion(a, b, &h[0], h + 2, nh - 2, &h[1]);
        if (rc != CU_OK && rc != CU_ERR_VERIFY && rc != CU_ERR_RANGE)
            abort();
        return 0;
    }

    if (!tree) {
        if (cu_merkle_tree_new(&tree))
            abort();
        for (uint32_t i = 0; i < 300; i++) {
            cu_hash leaf;
            if (cu_merkle_leaf_hash(&i, sizeof i, &leaf) || cu_merkle_tree_append_hash(tree, &leaf))
                abort();
        }
    }
    uint64_t n = a % 300 + 1, idx = b % n, s1 = (b >> 16) % n + 1;
    cu_hash root, r1, leaf, p[CU_MERKLE_MAX_PROOF];
    size_t plen;
    if (cu_merkle_root(cu_merkle_tree_node, tree, n, &root) || cu_merkle_root(cu_merkle_tree_node, tree, s1, &r1) ||
        cu_merkle_tree_node(tree, 0, idx, &leaf))
        abort();
    if (cu_merkle_prove_inclusion(cu_merkle_tree_node, tree, idx, n, p, &plen) ||
        cu_merkle_verify_inclusion(idx, n, &leaf, p, plen, &root))
        abort();
    if (rlen >= 2 && plen > 0) {
        p[rest[0] % plen].b[rest[1] % 32] ^= (uint8_t)(1u << (rest[1] >> 5));
        if (cu_merkle_verify_inclusion(idx, n, &leaf, p, plen, &root) != CU_ERR_VERIFY)
            abort();
    }
    if (cu_merkle_prove_consistency(cu_merkle_tree_node, tree, s1, n, p, &plen) ||
        cu_merkle_verify_consistency(s1, n, p, plen, &r1, &root))
        abort();
    if (rlen >= 2 && plen > 0) {
        p[rest[0] % plen].b[rest[1] % 32] ^= (uint8_t)(1u << (rest[1] >> 5));
        if (cu_merkle_verify_consistency(s1, n, p, plen, &r1, &root) != CU_ERR_VERIFY)
            abort();
    }
    return 0;
}
