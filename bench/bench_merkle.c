/* Merkle benchmarks, run by hand (prints figures; no pass/fail):
 *
 *   - SHA-256 of 65-byte inputs through cu_sha256: the hashing limit, since
 *     every node hash is one such input (0x01 || left || right);
 *   - leaf appends per second into cu_merkle_tree (goal >= 1,000,000/s),
 *     from precomputed leaf hashes and with the leaf hashing included;
 *   - inclusion-proof build and verify time on a 1M-leaf tree (goal
 *     <= 10 us each), and the same for consistency proofs.
 *
 * Every figure is the median of REPS repetitions.  Usage:
 *   bench_merkle [leaves]      (default 1048576)
 */
#include "custos/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPS 7
#define HASHES_PER_REP 1000000
#define PROOFS_PER_REP 20000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, cu_rc rc)
{
    fprintf(stderr, "bench_merkle: %s: %s (%s)\n", what, cu_strerror(rc), cu_err_detail());
    exit(1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

int main(int argc, char **argv)
{
    uint64_t leaves = argc > 1 ? strtoull(argv[1], NULL, 10) : 1048576;
    double t[REPS];
    cu_rc rc;
    if (leaves < 2)
        leaves = 2;

    /* ---- the hashing limit: SHA-256 of 65 bytes */
    uint8_t in[65] = {1}, out[32];
    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = cu_mono_ns();
        for (int i = 0; i < HASHES_PER_REP; i++) {
            in[1] = (uint8_t)i;
            if ((rc = cu_sha256(in, sizeof in, NULL, 0, NULL, 0, out)))
                die("sha256", rc);
            in[2] ^= out[0];
        }
        t[r] = (double)(cu_mono_ns() - t0) / 1e9;
    }
    double hash_rate = HASHES_PER_REP / median(t, REPS);
    printf("sha256 (65-byte input):        %12.0f hashes/s  (%.0f ns each)\n", hash_rate, 1e9 / hash_rate);

    /* ---- leaf appends from precomputed leaf hashes */
    cu_hash *lh = malloc(leaves * sizeof *lh);
    if (!lh)
        return 1;
    for (uint64_t i = 0; i < leaves; i++)
        if ((rc = cu_merkle_leaf_hash(&i, sizeof i, &lh[i])))
            die("leaf hash", rc);
    cu_merkle_tree *tree = NULL;
    for (int r = 0; r < REPS; r++) {
        cu_merkle_tree *tr;
        if ((rc = cu_merkle_tree_new(&tr)))
            die("tree", rc);
        uint64_t t0 = cu_mono_ns();
        for (uint64_t i = 0; i < leaves; i++)
            if ((rc = cu_merkle_tree_append_hash(tr, &lh[i])))
                die("append", rc);
        t[r] = (double)(cu_mono_ns() - t0) / 1e9;
        if (r == REPS - 1)
            tree = tr;
        else
            cu_merkle_tree_free(tr);
    }
    double append_rate = (double)leaves / median(t, REPS);
    printf("tree append (leaf hash given): %12.0f leaves/s  (%.0f ns each, %.2f x the hash time)\n", append_rate,
           1e9 / append_rate, hash_rate / append_rate);

    /* ---- leaf appends including the leaf hash of a 200-byte entry */
    uint8_t entry[200];
    memset(entry, 'e', sizeof entry);
    for (int r = 0; r < REPS; r++) {
        cu_merkle_tree *tr;
        if ((rc = cu_merkle_tree_new(&tr)))
            die("tree", rc);
        uint64_t t0 = cu_mono_ns();
        for (uint64_t i = 0; i < leaves; i++) {
            cu_hash h;
            memcpy(entry, &i, sizeof i);
            if ((rc = cu_merkle_leaf_hash(entry, sizeof entry, &h)) || (rc = cu_merkle_tree_append_hash(tr, &h)))
                die("append", rc);
        }
        t[r] = (double)(cu_mono_ns() - t0) / 1e9;
        cu_merkle_tree_free(tr);
    }
    double full_rate = (double)leaves / median(t, REPS);
    printf("tree append (200-byte entry):  %12.0f leaves/s  (%.0f ns each)\n", full_rate, 1e9 / full_rate);

    /* ---- proofs on the tree of `leaves` leaves */
    uint64_t size = cu_merkle_tree_size(tree);
    cu_hash root;
    if ((rc = cu_merkle_tree_root(tree, &root)))
        die("root", rc);
    static cu_hash proofs[PROOFS_PER_REP][CU_MERKLE_MAX_PROOF];
    static size_t plens[PROOFS_PER_REP];
    static uint64_t idx[PROOFS_PER_REP];
    double tb[REPS], tv[REPS];
    for (int r = 0; r < REPS; r++) {
        for (int i = 0; i < PROOFS_PER_REP; i++)
            idx[i] = rnd() % size;
        uint64_t t0 = cu_mono_ns();
        for (int i = 0; i < PROOFS_PER_REP; i++)
            if ((rc = cu_merkle_prove_inclusion(cu_merkle_tree_node, tree, idx[i], size, proofs[i], &plens[i])))
                die("prove", rc);
        uint64_t t1 = cu_mono_ns();
        for (int i = 0; i < PROOFS_PER_REP; i++)
            if ((rc = cu_merkle_verify_inclusion(idx[i], size, &lh[idx[i]], proofs[i], plens[i], &root)))
                die("verify", rc);
        uint64_t t2 = cu_mono_ns();
        tb[r] = (double)(t1 - t0) / PROOFS_PER_REP / 1e3;
        tv[r] = (double)(t2 - t1) / PROOFS_PER_REP / 1e3;
    }
    printf("inclusion proof, %llu leaves:   build %.2f us, verify %.2f us  (proof of %zu hashes; verify = %.1f hash times)\n",
           (unsigned long long)size, median(tb, REPS), median(tv, REPS), plens[0],
           median(tv, REPS) * 1e3 / (1e9 / hash_rate));

    /* consistency proofs from a random earlier size */
    static uint64_t s1[PROOFS_PER_REP];
    static cu_hash r1[PROOFS_PER_REP];
    for (int r = 0; r < REPS; r++) {
        for (int i = 0; i < PROOFS_PER_REP; i++) {
            s1[i] = 1 + rnd() % size;
            if ((rc = cu_merkle_root(cu_merkle_tree_node, tree, s1[i], &r1[i])))
                die("root", rc);
        }
        uint64_t t0 = cu_mono_ns();
        for (int i = 0; i < PROOFS_PER_REP; i++)
            if ((rc = cu_merkle_prove_consistency(cu_merkle_tree_node, tree, s1[i], size, proofs[i], &plens[i])))
                die("prove consistency", rc);
        uint64_t t1 = cu_mono_ns();
        for (int i = 0; i < PROOFS_PER_REP; i++)
            if ((rc = cu_merkle_verify_consistency(s1[i], size, proofs[i], plens[i], &r1[i], &root)))
                die("verify consistency", rc);
        uint64_t t2 = cu_mono_ns();
        tb[r] = (double)(t1 - t0) / PROOFS_PER_REP / 1e3;
        tv[r] = (double)(t2 - t1) / PROOFS_PER_REP / 1e3;
    }
    printf("consistency proof, %llu leaves: build %.2f us, verify %.2f us\n", (unsigned long long)size,
           median(tb, REPS), median(tv, REPS));

    cu_merkle_tree_free(tree);
    free(lh);
    return 0;
}
