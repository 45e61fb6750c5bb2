/* Merkle hashing and proofs: the RFC 6962/9162 vectors from outside (every
 * inclusion and consistency JSON file, the tree-hash constants), property
 * tests against a naive recursive RFC implementation written here, bit-flip
 * rejection, and allocation failure in the in-memory tree. */
#include "harness.h"

#include "custos/ledger.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ============================================================== helpers */

static char *shared_path(const char *rel)
{
    size_t n = strlen(cu_test_shared()) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", cu_test_shared(), rel);
    return p;
}

/* Decode a standard base64 string into a 32-byte hash; false when it is
 * not exactly 32 bytes (the verifier takes fixed-size hashes, so a leaf hash
 * or proof element of another length is refused at this boundary). */
static bool b64_hash(const char *s, cu_hash *out)
{
    uint8_t buf[256];
    size_t n = 0, len = strlen(s);
    if (len / 4 * 3 > sizeof buf || cu_b64_decode(s, len, buf, &n) != CU_OK || n != CU_HASH_LEN)
        return false;
    memcpy(out->b, buf, CU_HASH_LEN);
    return true;
}

/* A root from a vector.  Some vectors carry placeholder roots of other
 * lengths ("don't care") that only ever meet each other (equal sizes: the
 * roots must be equal).  A 32-byte root is used as is; any other byte
 * string maps to SHA-256("not a root" || bytes), which keeps equal strings
 * equal and different ones different and can never be a computed root.
 * false only for text that is not base64 at all. */
static bool b64_root(const char *s, cu_hash *out)
{
    uint8_t buf[256];
    size_t n = 0, len = strlen(s);
    if (len / 4 * 3 > sizeof buf || cu_b64_decode(s, len, buf, &n) != CU_OK)
        return false;
    if (n == CU_HASH_LEN) {
        memcpy(out->b, buf, CU_HASH_LEN);
        return true;
    }
    return cu_sha256("not a root", 10, buf, n, NULL, 0, out->b) == CU_OK;
}

/* Load a vector file.  The vectors hold uint64 values above INT64_MAX
 * (a size minus one from zero), which jansson cannot hold as integers: any
 * bare run of 19 or more digits is quoted first and read back with
 * json_u64(). */
static json_t *load_vector(const char *path, json_error_t *err)
{
    char *text = NULL;
    size_t len = 0;
    if (cu_file_read(path, 1 << 20, &text, &len) != CU_OK) {
        snprintf(err->text, sizeof err->text, "cannot read");
        return NULL;
    }
    char *q = malloc(len * 2 + 1);
    size_t o = 0;
    bool in_str = false;
    for (size_t i = 0; i < len;) {
        char c = text[i];
        if (in_str) {
            q[o++] = c;
            if (c == '\\' && i + 1 < len)
                q[o++] = text[++i];
            else if (c == '"')
                in_str = false;
            i++;
        } else if (c >= '0' && c <= '9') {
            size_t e = i;
            while (e < len && text[e] >= '0' && text[e] <= '9')
                e++;
            bool big = e - i >= 19;
            if (big)
                q[o++] = '"';
            memcpy(q + o, text + i, e - i);
            o += e - i;
            if (big)
                q[o++] = '"';
            i = e;
        } else {
            in_str = c == '"';
            q[o++] = c;
            i++;
        }
    }
    json_t *j = json_loadb(q, o, 0, err);
    free(q);
    cu_free(text);
    return j;
}

static bool json_u64(json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return false;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return false;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *out = x;
    return true;
}

static bool hex_hash(const char *s, size_t len, cu_hash *out)
{
    size_t n = 0;
    return len == 64 && cu_hex_decode(s, len, out->b, &n) == CU_OK && n == CU_HASH_LEN;
}

/* xorshift64*: a seeded generator so every run sees the same trees. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}
static uint64_t rnd_below(uint64_t n) { return rnd() % n; }

/* The root of the first `size` leaves of an in-memory tree. */
static cu_rc root_at(cu_merkle_tree *t, uint64_t size, cu_hash *out)
{
    return cu_merkle_root(cu_merkle_tree_node, t, size, out);
}

/* ================================== the naive RFC 9162 reference (tests) */

static void h_node(const cu_hash *l, const cu_hash *r, cu_hash *out)
{
    uint8_t buf[65];
    buf[0] = 1;
    memcpy(buf + 1, l->b, 32);
    memcpy(buf + 33, r->b, 32);
    CHECK_OK(cu_sha256(buf, sizeof buf, NULL, 0, NULL, 0, out->b));
}

static uint64_t split_point(uint64_t n) /* largest power of two < n (n >= 2) */
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

/* MTH(D[n]) over leaf hashes d[0..n). */
static void naive_mth(const cu_hash *d, uint64_t n, cu_hash *out)
{
    if (n == 0) {
        CHECK_OK(cu_sha256(NULL, 0, NULL, 0, NULL, 0, out->b));
        return;
    }
    if (n == 1) {
        *out = d[0];
        return;
    }
    uint64_t k = split_point(n);
    cu_hash l, r;
    naive_mth(d, k, &l);
    naive_mth(d + k, n - k, &r);
    h_node(&l, &r, out);
}

/* PATH(m, D[n]), leaf-most first. */
static void naive_path(uint64_t m, const cu_hash *d, uint64_t n, cu_hash *p, size_t *len)
{
    if (n <= 1)
        return;
    uint64_t k = split_point(n);
    if (m < k) {
        naive_path(m, d, k, p, len);
        naive_mth(d + k, n - k, &p[(*len)++]);
    } else {
        naive_path(m - k, d + k, n - k, p, len);
        naive_mth(d, k, &p[(*len)++]);
    }
}

/* SUBPROOF(m, D[n], b). */
static void naive_subproof(uint64_t m, const cu_hash *d, uint64_t n, bool b, cu_hash *p, size_t *len)
{
    if (m == n) {
        if (!b)
            naive_mth(d, n, &p[(*len)++]);
        return;
    }
    uint64_t k = split_point(n);
    if (m <= k) {
        naive_subproof(m, d, k, b, p, len);
        naive_mth(d + k, n - k, &p[(*len)++]);
    } else {
        naive_subproof(m - k, d + k, n - k, false, p, len);
        naive_mth(d, k, &p[(*len)++]);
    }
}

/* =================================================== tree-hash constants */

/* The hd("...") strings of one Go function body in constants.go.txt, in
 * order; a "}, {" between them starts a new level (returned in levels). */
static size_t go_hd_strings(const char *text, const char *func, cu_hash *hashes, size_t max, char **raw,
                            size_t *levels)
{
    const char *p = strstr(text, func);
    size_t n = 0;
    CHECK_MSG(p != NULL, "constants: no %s", func);
    if (!p)
        return 0;
    const char *end = strstr(p, "\n}\n");
    if (!end)
        end = p + strlen(p);
    if (levels)
        levels[0] = 0;
    size_t lv = 0;
    while (p < end) {
        const char *q = strstr(p, "hd(\"");
        const char *brk = strstr(p, "}, {");
        if (levels && brk && brk < end && (!q || brk < q)) {
            levels[++lv] = n;
            p = brk + 4;
            continue;
        }
        if (!q || q >= end)
            break;
        q += 4;
        const char *e = strchr(q, '"');
        if (!e)
            break;
        CHECK(n < max);
        if (n >= max)
            break;
        if (raw) {
            raw[n] = strndup(q, (size_t)(e - q));
        } else {
            CHECK_MSG(hex_hash(q, (size_t)(e - q), &hashes[n]), "constants: bad hash in %s", func);
        }
        n++;
        p = e + 1;
    }
    if (levels)
        levels[lv + 1] = n, levels[lv + 2] = (size_t)-1;
    return n;
}

static char *read_shared(const char *rel, size_t *len)
{
    char *path = shared_path(rel), *text = NULL;
    CHECK_OK(cu_file_read(path, 1 << 20, &text, len));
    free(path);
    return text;
}

/* The eight leaf inputs and the tree they make (filled by the constants
 * test and reused for the vectors' happy paths). */
static uint8_t leaf_in[8][16];
static size_t leaf_in_len[8];
static bool have_constants;

static void load_leaf_inputs(void)
{
    if (have_constants)
        return;
    size_t len;
    char *text = read_shared("conformance/merkle/constants.go.txt", &len);
    if (!text)
        return;
    char *raw[16] = {0};
    size_t n = go_hd_strings(text, "func LeafInputs", NULL, 16, raw, NULL);
    CHECK_INT(n, 8);
    for (size_t i = 0; i < n && i < 8; i++) {
        CHECK_OK(cu_hex_decode(raw[i], strlen(raw[i]), leaf_in[i], &leaf_in_len[i]));
        free(raw[i]);
    }
    cu_free(text);
    have_constants = n == 8;
}

TEST(constants_leaves_nodes_roots)
{
    size_t len;
    char *text = read_shared("conformance/merkle/constants.go.txt", &len);
    if (!text)
        return;
    load_leaf_inputs();
    CHECK(have_constants);

    cu_hash nodes[32], roots[16], empty;
    size_t lv[8];
    size_t nn = go_hd_strings(text, "func NodeHashes", nodes, 32, NULL, lv);
    CHECK_INT(nn, 15); /* 8 + 4 + 2 + 1 */
    size_t nr = go_hd_strings(text, "func RootHashes", roots, 16, NULL, NULL);
    CHECK_INT(nr, 8); /* sizes 1..8; size 0 is EmptyRootHash() */
    CHECK_INT(go_hd_strings(text, "func EmptyRootHash", &empty, 1, NULL, NULL), 1);
    cu_free(text);

    cu_hash e;
    cu_merkle_empty_root(&e);
    CHECK_MEM(e.b, empty.b, 32);

    cu_merkle_tree *t = NULL;
    CHECK_OK(cu_merkle_tree_new(&t));
    cu_hash r;
    CHECK_OK(cu_merkle_tree_root(t, &r));
    CHECK_MEM(r.b, empty.b, 32);
    for (size_t i = 0; i < 8; i++) {
        cu_hash lh;
        CHECK_OK(cu_merkle_leaf_hash(leaf_in[i], leaf_in_len[i], &lh));
        CHECK_MEM(lh.b, nodes[lv[0] + i].b, 32);
        CHECK_OK(cu_merkle_tree_append_hash(t, &lh));
        CHECK_OK(cu_merkle_tree_root(t, &r));
        CHECK_MSG(memcmp(r.b, roots[i].b, 32) == 0, "root of size %zu differs", i + 1);
    }
    /* every complete node of the 8-leaf tree, level by level */
    for (unsigned l = 0; l < 4; l++) {
        CHECK_INT(lv[l + 1] - lv[l], 8u >> l);
        for (size_t i = 0; i < (8u >> l); i++) {
            cu_hash h;
            CHECK_OK(cu_merkle_tree_node(t, l, i, &h));
            CHECK_MSG(memcmp(h.b, nodes[lv[l] + i].b, 32) == 0, "node (%u,%zu) differs", l, i);
        }
    }
    /* node_hash on its own matches the constants too */
    cu_hash h;
    CHECK_OK(cu_merkle_node_hash(&nodes[0], &nodes[1], &h));
    CHECK_MEM(h.b, nodes[lv[1]].b, 32);
    CHECK_RC(cu_merkle_tree_node(t, 0, 8, &h), CU_ERR_RANGE);
    CHECK_RC(cu_merkle_tree_node(t, 4, 0, &h), CU_ERR_RANGE);
    CHECK_RC(cu_merkle_tree_node(t, 64, 0, &h), CU_ERR_RANGE);
    cu_merkle_tree_free(t);
}

/* ======================================================= the JSON vectors */

typedef struct vec_stats {
    size_t files, ran, want_err, want_ok, happy_checked;
} vec_stats;

static void walk_json(const char *dir, void (*fn)(const char *path, json_t *j, vec_stats *st), vec_stats *st)
{
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open %s", dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        size_t n = strlen(dir) + strlen(de->d_name) + 2;
        char *p = malloc(n);
        snprintf(p, n, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            walk_json(p, fn, st);
        } else if (strlen(de->d_name) > 5 && strcmp(de->d_name + strlen(de->d_name) - 5, ".json") == 0) {
            json_error_t err;
            json_t *j = load_vector(p, &err);
            CHECK_MSG(j != NULL, "%s: %s", p, err.text);
            st->files++;
            if (j) {
                fn(p, j, st);
                json_decref(j);
            }
        }
        free(p);
    }
    closedir(d);
}

/* The proof array; false when an element is not a 32-byte hash. */
static bool json_proof(json_t *arr, cu_hash *proof, size_t *len, bool *too_long)
{
    *len = 0;
    *too_long = false;
    if (json_is_null(arr))
        return true;
    if (!json_is_array(arr))
        return false;
    bool ok = true;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (*len >= CU_MERKLE_MAX_PROOF) {
            *too_long = true;
            return false;
        }
        if (!s || !b64_hash(s, &proof[*len]))
            ok = false;
        (*len)++;
    }
    return ok;
}

/* The tree of the constants' leaf inputs, for checking happy paths. */
static cu_merkle_tree *const_tree(void)
{
    load_leaf_inputs();
    cu_merkle_tree *t = NULL;
    CHECK_OK(cu_merkle_tree_new(&t));
    for (size_t i = 0; have_constants && i < 8; i++) {
        cu_hash lh;
        CHECK_OK(cu_merkle_leaf_hash(leaf_in[i], leaf_in_len[i], &lh));
        CHECK_OK(cu_merkle_tree_append_hash(t, &lh));
    }
    return t;
}

static void run_inclusion(const char *path, json_t *j, vec_stats *st)
{
    json_t *jwant = json_object_get(j, "wantErr");
    const char *sroot = json_string_value(json_object_get(j, "root"));
    const char *sleaf = json_string_value(json_object_get(j, "leafHash"));
    uint64_t idx = 0, size = 0;
    bool shape = json_u64(json_object_get(j, "leafIdx"), &idx) && json_u64(json_object_get(j, "treeSize"), &size) &&
                 json_is_boolean(jwant) && sroot && sleaf;
    CHECK_MSG(shape, "%s: unexpected shape", path);
    if (!shape)
        return;
    bool want_err = json_is_true(jwant);
    cu_hash root, leaf, proof[CU_MERKLE_MAX_PROOF];
    size_t plen;
    bool too_long;
    bool ok_root = b64_root(sroot, &root);
    bool ok_leaf = b64_hash(sleaf, &leaf);
    bool ok_inputs = ok_root && ok_leaf;
    bool ok_proof = json_proof(json_object_get(j, "proof"), proof, &plen, &too_long);
    ok_inputs = ok_inputs && ok_proof;
    bool got_err = true;
    if (ok_inputs) {
        cu_rc rc = cu_merkle_verify_inclusion(idx, size, &leaf, proof, plen, &root);
        CHECK_MSG(rc == CU_OK || rc == CU_ERR_VERIFY || rc == CU_ERR_RANGE, "%s: rc %s", path, cu_strerror(rc));
        got_err = rc != CU_OK;
        if (!want_err) {
            /* A happy path over the constants' tree: our generated proof
             * must be the vector's proof, byte for byte. */
            cu_merkle_tree *t = const_tree();
            cu_hash r, gen[CU_MERKLE_MAX_PROOF];
            size_t glen = 0;
            if (size <= cu_merkle_tree_size(t) && root_at(t, size, &r) == CU_OK &&
                memcmp(r.b, root.b, 32) == 0) {
                CHECK_OK(cu_merkle_prove_inclusion(cu_merkle_tree_node, t, idx, size, gen, &glen));
                CHECK_INT(glen, plen);
                CHECK_MSG(glen == plen && memcmp(gen, proof, plen * sizeof(cu_hash)) == 0,
                          "%s: generated proof differs", path);
                st->happy_checked++;
            }
            cu_merkle_tree_free(t);
        }
    }
    CHECK_MSG(got_err == want_err, "%s: wantErr %d, got error %d (%s)", path, want_err, got_err,
              cu_err_detail());
    st->ran++;
    if (want_err)
        st->want_err++;
    else
        st->want_ok++;
}

static void run_consistency(const char *path, json_t *j, vec_stats *st)
{
    json_t *jwant = json_object_get(j, "wantErr");
    const char *sr1 = json_string_value(json_object_get(j, "root1"));
    const char *sr2 = json_string_value(json_object_get(j, "root2"));
    uint64_t s1 = 0, s2 = 0;
    bool shape = json_u64(json_object_get(j, "size1"), &s1) && json_u64(json_object_get(j, "size2"), &s2) &&
                 json_is_boolean(jwant) && sr1 && sr2;
    CHECK_MSG(shape, "%s: unexpected shape", path);
    if (!shape)
        return;
    bool want_err = json_is_true(jwant);
    cu_hash r1, r2, proof[CU_MERKLE_MAX_PROOF];
    size_t plen;
    bool too_long;
    bool ok_r1 = b64_root(sr1, &r1);
    bool ok_r2 = b64_root(sr2, &r2);
    bool ok_inputs = ok_r1 && ok_r2;
    bool ok_proof = json_proof(json_object_get(j, "proof"), proof, &plen, &too_long);
    ok_inputs = ok_inputs && ok_proof;
    bool got_err = true;
    if (ok_inputs) {
        cu_rc rc = cu_merkle_verify_consistency(s1, s2, proof, plen, &r1, &r2);
        CHECK_MSG(rc == CU_OK || rc == CU_ERR_VERIFY || rc == CU_ERR_RANGE, "%s: rc %s", path, cu_strerror(rc));
        got_err = rc != CU_OK;
        if (!want_err && s1 >= 1) {
            cu_merkle_tree *t = const_tree();
            cu_hash a, b, gen[CU_MERKLE_MAX_PROOF];
            size_t glen = 0;
            if (s2 <= cu_merkle_tree_size(t) && root_at(t, s1, &a) == CU_OK &&
                root_at(t, s2, &b) == CU_OK && memcmp(a.b, r1.b, 32) == 0 &&
                memcmp(b.b, r2.b, 32) == 0) {
                CHECK_OK(cu_merkle_prove_consistency(cu_merkle_tree_node, t, s1, s2, gen, &glen));
                CHECK_MSG(glen == plen && memcmp(gen, proof, plen * sizeof(cu_hash)) == 0,
                          "%s: generated proof differs", path);
                st->happy_checked++;
            }
            cu_merkle_tree_free(t);
        }
    }
    CHECK_MSG(got_err == want_err, "%s: wantErr %d, got error %d (%s)", path, want_err, got_err,
              cu_err_detail());
    st->ran++;
    if (want_err)
        st->want_err++;
    else
        st->want_ok++;
}

TEST(vectors_inclusion_and_consistency)
{
    vec_stats inc = {0}, con = {0};
    char *d1 = shared_path("conformance/merkle/testdata/inclusion");
    char *d2 = shared_path("conformance/merkle/testdata/consistency");
    walk_json(d1, run_inclusion, &inc);
    walk_json(d2, run_consistency, &con);
    free(d1);
    free(d2);
    printf("merkle vectors: inclusion %zu (%zu ok, %zu err), consistency %zu (%zu ok, %zu err), "
           "%zu happy paths regenerated\n",
           inc.ran, inc.want_ok, inc.want_err, con.ran, con.want_ok, con.want_err,
           inc.happy_checked + con.happy_checked);
    /* every file found was run; none skipped */
    CHECK_INT(inc.ran, inc.files);
    CHECK_INT(con.ran, con.files);
    CHECK(inc.ran + con.ran >= 190);
    CHECK(inc.want_ok > 0 && inc.want_err > 0 && con.want_ok > 0 && con.want_err > 0);
    CHECK(inc.happy_checked + con.happy_checked >= 6);
}

/* ====================================================== property tests */

/* A tree of n random leaves, with the leaf hashes kept for the naive side. */
static cu_merkle_tree *random_tree(uint64_t n, cu_hash **leaves)
{
    cu_merkle_tree *t = NULL;
    CHECK_OK(cu_merkle_tree_new(&t));
    *leaves = malloc((size_t)(n ? n : 1) * sizeof(cu_hash));
    for (uint64_t i = 0; i < n; i++) {
        uint64_t x[2] = {rnd(), i};
        CHECK_OK(cu_merkle_leaf_hash(x, sizeof x, &(*leaves)[i]));
        CHECK_OK(cu_merkle_tree_append_hash(t, &(*leaves)[i]));
    }
    return t;
}

static void flip_bit(cu_hash *h) { h->b[rnd_below(32)] ^= (uint8_t)(1u << rnd_below(8)); }

/* Check one inclusion proof: equal to the naive path (when compare), valid,
 * and refused after any single change. */
static void check_inclusion(cu_merkle_tree *t, const cu_hash *leaves, uint64_t idx, uint64_t size,
                            const cu_hash *root, bool compare)
{
    cu_hash p[CU_MERKLE_MAX_PROOF], q[CU_MERKLE_MAX_PROOF];
    size_t plen = 0, qlen = 0;
    CHECK_OK(cu_merkle_prove_inclusion(cu_merkle_tree_node, t, idx, size, p, &plen));
    if (compare) {
        naive_path(idx, leaves, size, q, &qlen);
        CHECK_MSG(plen == qlen && memcmp(p, q, plen * sizeof(cu_hash)) == 0,
                  "inclusion proof (%" PRIu64 ", %" PRIu64 ") differs from RFC PATH", idx, size);
    }
    CHECK_OK(cu_merkle_verify_inclusion(idx, size, &leaves[idx], p, plen, root));

    cu_hash x = leaves[idx];
    flip_bit(&x);
    CHECK_RC(cu_merkle_verify_inclusion(idx, size, &x, p, plen, root), CU_ERR_VERIFY);
    x = *root;
    flip_bit(&x);
    CHECK_RC(cu_merkle_verify_inclusion(idx, size, &leaves[idx], p, plen, &x), CU_ERR_VERIFY);
    if (plen) {
        size_t k = rnd_below(plen);
        cu_hash saved = p[k];
        flip_bit(&p[k]);
        CHECK_RC(cu_merkle_verify_inclusion(idx, size, &leaves[idx], p, plen, root), CU_ERR_VERIFY);
        p[k] = saved;
        /* a missing or an extra hash */
        CHECK_RC(cu_merkle_verify_inclusion(idx, size, &leaves[idx], p, plen - 1, root), CU_ERR_VERIFY);
    }
    if (plen < CU_MERKLE_MAX_PROOF) {
        p[plen] = *root;
        CHECK_RC(cu_merkle_verify_inclusion(idx, size, &leaves[idx], p, plen + 1, root), CU_ERR_VERIFY);
    }
    /* another index in the same tree */
    if (size > 1) {
        uint64_t j = (idx + 1 + rnd_below(size - 1)) % size;
        CHECK_RC(cu_merkle_verify_inclusion(j, size, &leaves[idx], p, plen, root), CU_ERR_VERIFY);
    }
    CHECK_RC(cu_merkle_verify_inclusion(size, size, &leaves[idx], p, plen, root), CU_ERR_RANGE);
    /* another size, with that size's true root: only a proof that happens
     * to be identical may pass (the root does not commit to the size). */
    uint64_t s2 = idx + 1 + rnd_below(cu_merkle_tree_size(t) - idx);
    if (s2 != size) {
        cu_hash r2;
        CHECK_OK(root_at(t, s2, &r2));
        CHECK_OK(cu_merkle_prove_inclusion(cu_merkle_tree_node, t, idx, s2, q, &qlen));
        bool same = qlen == plen && memcmp(p, q, plen * sizeof(cu_hash)) == 0;
        cu_rc rc = cu_merkle_verify_inclusion(idx, s2, &leaves[idx], p, plen, &r2);
        CHECK_MSG(same ? rc == CU_OK : rc == CU_ERR_VERIFY, "inclusion (%" PRIu64 ") at size %" PRIu64
                  " verified as size %" PRIu64, idx, size, s2);
    }
}

static void check_consistency(cu_merkle_tree *t, const cu_hash *leaves, uint64_t s1, uint64_t s2,
                              const cu_hash *r1, const cu_hash *r2, bool compare)
{
    cu_hash p[CU_MERKLE_MAX_PROOF], q[CU_MERKLE_MAX_PROOF];
    size_t plen = 0, qlen = 0;
    CHECK_OK(cu_merkle_prove_consistency(cu_merkle_tree_node, t, s1, s2, p, &plen));
    if (compare) {
        naive_subproof(s1, leaves, s2, true, q, &qlen);
        CHECK_MSG(plen == qlen && memcmp(p, q, plen * sizeof(cu_hash)) == 0,
                  "consistency proof (%" PRIu64 ", %" PRIu64 ") differs from RFC PROOF", s1, s2);
    }
    CHECK_OK(cu_merkle_verify_consistency(s1, s2, p, plen, r1, r2));
    cu_hash x = *r1;
    flip_bit(&x);
    CHECK_RC(cu_merkle_verify_consistency(s1, s2, p, plen, &x, r2), CU_ERR_VERIFY);
    x = *r2;
    flip_bit(&x);
    CHECK_RC(cu_merkle_verify_consistency(s1, s2, p, plen, r1, &x), CU_ERR_VERIFY);
    if (plen) {
        size_t k = rnd_below(plen);
        cu_hash saved = p[k];
        flip_bit(&p[k]);
        CHECK_RC(cu_merkle_verify_consistency(s1, s2, p, plen, r1, r2), CU_ERR_VERIFY);
        p[k] = saved;
        CHECK_RC(cu_merkle_verify_consistency(s1, s2, p, plen - 1, r1, r2), CU_ERR_VERIFY);
    }
    if (plen < CU_MERKLE_MAX_PROOF) {
        p[plen] = *r2;
        CHECK_RC(cu_merkle_verify_consistency(s1, s2, p, plen + 1, r1, r2), CU_ERR_VERIFY);
    }
    /* other sizes with their true roots */
    uint64_t n = cu_merkle_tree_size(t);
    uint64_t a = 1 + rnd_below(s2), b = s1 + rnd_below(n - s1 + 1);
    cu_hash ra, rb;
    CHECK_OK(root_at(t, a, &ra));
    CHECK_OK(root_at(t, b, &rb));
    if (a != s1) {
        CHECK_OK(cu_merkle_prove_consistency(cu_merkle_tree_node, t, a, s2, q, &qlen));
        bool same = qlen == plen && memcmp(p, q, plen * sizeof(cu_hash)) == 0;
        cu_rc rc = cu_merkle_verify_consistency(a, s2, p, plen, &ra, r2);
        CHECK_MSG(same ? rc == CU_OK : rc == CU_ERR_VERIFY, "consistency %" PRIu64 "->%" PRIu64
                  " verified from %" PRIu64, s1, s2, a);
    }
    if (b != s2) {
        CHECK_OK(cu_merkle_prove_consistency(cu_merkle_tree_node, t, s1, b, q, &qlen));
        bool same = qlen == plen && memcmp(p, q, plen * sizeof(cu_hash)) == 0;
        cu_rc rc = cu_merkle_verify_consistency(s1, b, p, plen, r1, &rb);
        CHECK_MSG(same ? rc == CU_OK : rc == CU_ERR_VERIFY, "consistency %" PRIu64 "->%" PRIu64
                  " verified to %" PRIu64, s1, s2, b);
    }
    CHECK_RC(cu_merkle_verify_consistency(s2 + 1, s2, p, plen, r1, r2), CU_ERR_RANGE);
    CHECK_RC(cu_merkle_verify_consistency(0, s2, p, plen, r1, r2), CU_ERR_RANGE);
}

TEST(small_trees_every_proof)
{
    rng_state = 0x9e3779b97f4a7c15ULL;
    cu_hash *leaves;
    cu_merkle_tree *t = random_tree(40, &leaves);
    cu_hash roots[41];
    for (uint64_t n = 0; n <= 40; n++) {
        naive_mth(leaves, n, &roots[n]);
        cu_hash r;
        CHECK_OK(root_at(t, n, &r));
        CHECK_MSG(memcmp(r.b, roots[n].b, 32) == 0, "root of size %" PRIu64 " differs", n);
    }
    for (uint64_t n = 1; n <= 40; n++) {
        for (uint64_t i = 0; i < n; i++)
            check_inclusion(t, leaves, i, n, &roots[n], true);
        for (uint64_t m = 1; m <= n; m++)
            check_consistency(t, leaves, m, n, &roots[m], &roots[n], true);
    }
    /* proofs and roots allocate nothing */
    {
        cu_hash p[CU_MERKLE_MAX_PROOF], r;
        size_t plen;
        uint64_t before = cu_alloc_count();
        CHECK_OK(cu_merkle_prove_inclusion(cu_merkle_tree_node, t, 17, 39, p, &plen));
        CHECK_OK(cu_merkle_verify_inclusion(17, 39, &leaves[17], p, plen, &roots[39]));
        CHECK_OK(cu_merkle_prove_consistency(cu_merkle_tree_node, t, 13, 39, p, &plen));
        CHECK_OK(cu_merkle_verify_consistency(13, 39, p, plen, &roots[13], &roots[39]));
        CHECK_OK(cu_merkle_root(cu_merkle_tree_node, t, 29, &r));
        CHECK_INT(cu_alloc_count(), before);
    }
    /* the empty tree: no inclusion, no consistency from it */
    cu_hash p[CU_MERKLE_MAX_PROOF];
    size_t plen = 99;
    CHECK_RC(cu_merkle_prove_inclusion(cu_merkle_tree_node, t, 0, 0, p, &plen), CU_ERR_RANGE);
    CHECK_INT(plen, 0);
    CHECK_RC(cu_merkle_prove_consistency(cu_merkle_tree_node, t, 0, 5, p, &plen), CU_ERR_RANGE);
    CHECK_RC(cu_merkle_prove_consistency(cu_merkle_tree_node, t, 0, 0, p, &plen), CU_ERR_RANGE);
    CHECK_RC(cu_merkle_prove_consistency(cu_merkle_tree_node, t, 6, 5, p, &plen), CU_ERR_RANGE);
    CHECK_RC(cu_merkle_verify_consistency(0, 0, p, 0, &roots[0], &roots[0]), CU_ERR_RANGE);
    CHECK_RC(cu_merkle_verify_inclusion(0, 0, &leaves[0], p, 0, &roots[0]), CU_ERR_RANGE);
    /* nodes the source does not have are passed through as errors */
    CHECK_RC(cu_merkle_prove_inclusion(cu_merkle_tree_node, t, 0, 41, p, &plen), CU_ERR_RANGE);
    CHECK_RC(cu_merkle_prove_consistency(cu_merkle_tree_node, t, 3, 41, p, &plen), CU_ERR_RANGE);
    CHECK_RC(cu_merkle_root(cu_merkle_tree_node, t, 41, &roots[0]), CU_ERR_RANGE);
    cu_merkle_tree_free(t);
    free(leaves);
}

TEST(random_large_trees_sampled)
{
    rng_state = 0x243f6a8885a308d3ULL;
    static const uint64_t sizes[] = {10000, 8192, 8193, 4097, 9999};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        uint64_t n = sizes[s];
        cu_hash *leaves;
        cu_merkle_tree *t = random_tree(n, &leaves);
        /* a few sizes, each with its root computed by the naive recursion */
        for (int k = 0; k < 6; k++) {
            uint64_t size = k == 0 ? n : 1 + rnd_below(n);
            cu_hash root, r;
            naive_mth(leaves, size, &root);
            CHECK_OK(root_at(t, size, &r));
            CHECK_MSG(memcmp(r.b, root.b, 32) == 0, "root of size %" PRIu64 " differs", size);
            for (int i = 0; i < 25; i++) {
                uint64_t idx = i == 0 ? size - 1 : i == 1 ? 0 : rnd_below(size);
                check_inclusion(t, leaves, idx, size, &root, i < 3);
            }
            for (int i = 0; i < 8; i++) {
                uint64_t s1 = i == 0 ? size : 1 + rnd_below(size);
                cu_hash r1;
                naive_mth(leaves, s1, &r1);
                check_consistency(t, leaves, s1, size, &r1, &root, i < 2);
            }
        }
        cu_merkle_tree_free(t);
        free(leaves);
    }
}

/* A node source for a huge tree (up to 2^64 - 1 leaves) in which every
 * leaf is the same hash, so that every complete subtree of level l has the
 * same hash z[l] and the source is consistent and O(1).  Ragged trees fold
 * different z's, so the shape of roots and proofs near the top of the
 * uint64 range is still exercised. */
static cu_hash zlevel[64];

static cu_rc uniform_node(void *ctx, unsigned level, uint64_t index, cu_hash *out)
{
    uint64_t size = *(const uint64_t *)ctx;
    if (level >= 64 || index >= (size >> level))
        return cu_err_set(CU_ERR_RANGE, "no such node");
    *out = zlevel[level];
    return CU_OK;
}

TEST(huge_uniform_tree)
{
    CHECK_OK(cu_merkle_leaf_hash("x", 1, &zlevel[0]));
    for (unsigned l = 1; l < 64; l++)
        CHECK_OK(cu_merkle_node_hash(&zlevel[l - 1], &zlevel[l - 1], &zlevel[l]));
    uint64_t sizes[] = {((uint64_t)1 << 63) + 5, UINT64_MAX, ((uint64_t)1 << 40) + 12345, (uint64_t)1 << 63};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        uint64_t size = sizes[s];
        cu_hash root, p[CU_MERKLE_MAX_PROOF];
        size_t plen;
        CHECK_OK(cu_merkle_root(uniform_node, &size, size, &root));
        uint64_t idxs[] = {0, size - 1, size / 2, size / 3, size - 2};
        for (size_t i = 0; i < sizeof idxs / sizeof *idxs; i++) {
            CHECK_OK(cu_merkle_prove_inclusion(uniform_node, &size, idxs[i], size, p, &plen));
            CHECK(plen <= CU_MERKLE_MAX_PROOF);
            CHECK_OK(cu_merkle_verify_inclusion(idxs[i], size, &zlevel[0], p, plen, &root));
            cu_hash bad = root;
            flip_bit(&bad);
            CHECK_RC(cu_merkle_verify_inclusion(idxs[i], size, &zlevel[0], p, plen, &bad), CU_ERR_VERIFY);
            /* consistency from size idxs[i] + 1 */
            uint64_t s1 = idxs[i] + 1, s1n = s1;
            cu_hash r1;
            CHECK_OK(cu_merkle_root(uniform_node, &s1n, s1, &r1));
            if (size > ((uint64_t)1 << 63) && s1 < size) {
                /* could need 65 hashes: refused */
                CHECK_RC(cu_merkle_prove_consistency(uniform_node, &size, s1, size, p, &plen), CU_ERR_RANGE);
                CHECK_RC(cu_merkle_verify_consistency(s1, size, p, 1, &r1, &root), CU_ERR_RANGE);
                continue;
            }
            CHECK_OK(cu_merkle_prove_consistency(uniform_node, &size, s1, size, p, &plen));
            CHECK(plen <= CU_MERKLE_MAX_PROOF);
            CHECK_OK(cu_merkle_verify_consistency(s1, size, p, plen, &r1, &root));
            CHECK_RC(cu_merkle_verify_consistency(s1, size, p, plen, &r1, &bad), CU_ERR_VERIFY);
        }
    }
}

/* ================================================== allocation failure */

TEST(tree_allocation_failure)
{
    rng_state = 7;
    /* cu_merkle_tree_new */
    cu_merkle_tree *t = NULL;
    cu_alloc_fail_at(1, false);
    CHECK_RC(cu_merkle_tree_new(&t), CU_ERR_NOMEM);
    cu_alloc_fail_at(0, false);
    CHECK(t == NULL);

    /* appends: fail the k-th allocation during 5000 appends, for several k;
     * the failing append leaves the tree as it was, and the tree ends up
     * the same as one built without failures. */
    cu_hash *leaves;
    cu_merkle_tree *ref = random_tree(5000, &leaves);
    cu_hash want;
    CHECK_OK(cu_merkle_tree_root(ref, &want));
    for (uint64_t k = 1; k <= 24; k++) {
        CHECK_OK(cu_merkle_tree_new(&t));
        cu_alloc_fail_at(k, false);
        size_t failures = 0;
        for (uint64_t i = 0; i < 5000;) {
            uint64_t before = cu_merkle_tree_size(t);
            cu_rc rc = cu_merkle_tree_append_hash(t, &leaves[i]);
            if (rc == CU_OK) {
                i++;
                continue;
            }
            CHECK_RC(rc, CU_ERR_NOMEM);
            CHECK_INT(cu_merkle_tree_size(t), before);
            failures++;
            if (failures > 1)
                break;
        }
        cu_alloc_fail_at(0, false);
        CHECK_INT(failures, 1); /* there are more than 24 allocations in 5000 appends */
        cu_hash got;
        CHECK_OK(cu_merkle_tree_root(t, &got));
        CHECK_MEM(got.b, want.b, 32);
        cu_merkle_tree_free(t);
    }
    cu_merkle_tree_free(ref);
    free(leaves);
}
