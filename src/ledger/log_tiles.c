/*
 * Tiles of the durable log: the right edge of the tree, a node source over
 * the stored tiles, and the offline verifier of a whole log directory.
 *
 * Invariants:
 *   1. A tile is emitted (handed to the full-tile callback) exactly when its
 *      256th hash arrives, and its 8-level root then becomes the next hash
 *      of the level above: level-L tiles hold MTH of 256^L leaves each
 *      (C2SP tlog-tiles), and a partial tile is never hashed upwards.
 *   2. The edge's root equals the RFC 9162 root of its n leaves: every
 *      perfect subtree of the size's binary decomposition lies inside the
 *      rightmost tile of one level.
 *   3. cu_lg_node never returns a hash for a subtree that is not complete
 *      within the size it was set up for (CU_ERR_RANGE).
 *   4. The verifier trusts nothing but the verifier key: the checkpoint's
 *      signature first, then every tile is re-derived from the entry
 *      bundles and compared byte for byte, then the root.
 */
#include "ledger/ledger_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ the edge */

static cu_rc node_hash(const cu_hash *l, const cu_hash *r, cu_hash *out)
{
    uint8_t buf[1 + 2 * CU_HASH_LEN];
    buf[0] = 0x01;
    memcpy(buf + 1, l->b, CU_HASH_LEN);
    memcpy(buf + 1 + CU_HASH_LEN, r->b, CU_HASH_LEN);
    return cu_sha256(buf, sizeof buf, NULL, 0, NULL, 0, out->b);
}

void cu_lg_edge_reset(cu_lg_edge *e)
{
    e->n = 0;
    memset(e->cnt, 0, sizeof e->cnt);
}

cu_rc cu_lg_edge_load(cu_lg_edge *e, uint64_t n, const cu_hash *hashes, size_t nhashes, size_t *used)
{
    cu_hash scratch[CU_TILE_WIDTH / 2];
    size_t k = 0;
    cu_rc rc;
    if (n % CU_TILE_WIDTH)
        return cu_err_set(CU_ERR_INTERNAL, "edge load at size %llu, not a multiple of 256", (unsigned long long)n);
    cu_lg_edge_reset(e);
    e->n = n;
    for (unsigned L = 1; L < CU_LG_LEVELS; L++) {
        unsigned c = (unsigned)((n >> (8 * L)) & 255);
        if (k + c > nhashes)
            return cu_err_set(CU_ERR_CORRUPT, "edge for size %llu needs more hashes than stored",
                              (unsigned long long)n);
        memcpy(e->h[L], hashes + k, c * sizeof(cu_hash));
        e->cnt[L] = c;
        k += c;
        /* the frontier entries of this level: bits 8L..8L+7 of n, the
         * largest subtree first from the left of the tile */
        unsigned start = 0;
        for (int b = 7; b >= 0; b--) {
            if (!(c & (1u << b)))
                continue;
            if ((rc = cu_lg_perfect_root(&e->h[L][start], 1u << b, scratch, &e->fr[8 * L + (unsigned)b])))
                return rc;
            start += 1u << b;
        }
    }
    *used = k;
    return CU_OK;
}

size_t cu_lg_edge_upper(const cu_lg_edge *e, cu_hash *out)
{
    size_t k = 0;
    for (unsigned L = 1; L < CU_LG_LEVELS; L++) {
        memcpy(out + k, e->h[L], e->cnt[L] * sizeof(cu_hash));
        k += e->cnt[L];
    }
    return k;
}

cu_rc cu_lg_perfect_root(const cu_hash *h, unsigned k, cu_hash *scratch, cu_hash *out)
{
    cu_rc rc;
    if (k == 1) {
        *out = h[0];
        return CU_OK;
    }
    /* first round reads from h, later rounds work in place in scratch */
    for (unsigned i = 0; i < k / 2; i++)
        if ((rc = node_hash(&h[2 * i], &h[2 * i + 1], &scratch[i])))
            return rc;
    for (unsigned w = k / 2; w > 1; w /= 2)
        for (unsigned i = 0; i < w / 2; i++)
            if ((rc = node_hash(&scratch[2 * i], &scratch[2 * i + 1], &scratch[i])))
                return rc;
    *out = scratch[0];
    return CU_OK;
}

cu_rc cu_lg_edge_push(cu_lg_edge *e, const cu_hash *leaf, cu_lg_full_fn full, void *ctx)
{
    uint64_t old = e->n;
    cu_hash h = *leaf;
    unsigned k = 0;
    cu_rc rc;
    if (old == UINT64_MAX)
        return cu_err_set(CU_ERR_OVERFLOW, "tree size overflow");
    e->h[0][e->cnt[0]++] = h;
    while (old & ((uint64_t)1 << k)) {
        if ((rc = node_hash(&e->fr[k], &h, &h)))
            return rc;
        k++;
        if (k % 8 == 0) {
            /* h is now the root of the tile of level k/8 - 1 that just filled */
            unsigned L = k / 8 - 1;
            uint64_t idx = (((old + 1) >> (8 * L)) >> 8) - 1;
            if (e->cnt[L] != CU_TILE_WIDTH)
                return cu_err_set(CU_ERR_INTERNAL, "edge level %u has %u hashes at a tile boundary", L, e->cnt[L]);
            if (full && (rc = full(ctx, L, idx, e->h[L])))
                return rc;
            e->cnt[L] = 0;
            if (L + 1 < CU_LG_LEVELS)
                e->h[L + 1][e->cnt[L + 1]++] = h;
        }
    }
    e->fr[k] = h;
    e->n = old + 1;
    return CU_OK;
}

cu_rc cu_lg_edge_root(const cu_lg_edge *e, cu_hash *out)
{
    cu_hash acc;
    bool have = false;
    cu_rc rc;
    if (e->n == 0) {
        cu_merkle_empty_root(out);
        return CU_OK;
    }
    /* smallest subtree first, each larger one to its left */
    for (unsigned k = 0; k < 64; k++) {
        if (!(e->n & ((uint64_t)1 << k)))
            continue;
        if (have) {
            if ((rc = node_hash(&e->fr[k], &acc, &acc)))
                return rc;
        } else {
            acc = e->fr[k];
            have = true;
        }
    }
    *out = acc;
    return CU_OK;
}

/* ========================================================= tile files */

cu_rc cu_lg_read_tile(const char *root, int level, uint64_t index, unsigned width, size_t max, char **data,
                      size_t *len)
{
    char rel[CU_TILE_PATH_MAX], path[4096];
    cu_rc rc = cu_tile_path(level, index, width, rel, sizeof rel);
    if (rc)
        return rc;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", root, rel) >= sizeof path)
        return cu_err_set(CU_ERR_TOOBIG, "path too long under %s", root);
    return cu_file_read(path, max, data, len);
}

void cu_lg_nodes_init(cu_lg_nodes *s, const char *root, uint64_t size, const cu_lg_edge *edge)
{
    s->root = root;
    s->size = size;
    s->edge = edge;
    for (unsigned i = 0; i < CU_LG_LEVELS; i++)
        s->cache[i].valid = false;
}

/* The hashes of tile (TL, tile) holding at least `need` hashes. */
static cu_rc tile_hashes(cu_lg_nodes *s, unsigned TL, uint64_t tile, unsigned need, const cu_hash **out)
{
    uint64_t logsize = s->edge ? s->edge->n : s->size;
    if (s->edge && tile == ((s->edge->n >> (8 * TL)) >> 8)) {
        if (s->edge->cnt[TL] < need)
            return cu_err_set(CU_ERR_INTERNAL, "edge tile too short");
        *out = s->edge->h[TL];
        return CU_OK;
    }
    if (s->cache[TL].valid && s->cache[TL].index == tile && s->cache[TL].width >= need) {
        *out = s->cache[TL].h;
        return CU_OK;
    }
    uint64_t full_tiles = (logsize >> (8 * TL)) >> 8;
    unsigned width = tile < full_tiles ? CU_TILE_WIDTH : (unsigned)((logsize >> (8 * TL)) & 255);
    if (width < need)
        return cu_err_set(CU_ERR_RANGE, "tile %u/%llu has %u hashes, %u needed", TL, (unsigned long long)tile, width,
                          need);
    char *data = NULL;
    size_t len = 0;
    const cu_hash *h = NULL;
    cu_rc rc = cu_lg_read_tile(s->root, (int)TL, tile, width, (size_t)CU_TILE_WIDTH * CU_HASH_LEN, &data, &len);
    if (rc == CU_ERR_NOTFOUND)
        rc = cu_err_set(CU_ERR_CORRUPT, "tile %u/%llu (width %u) is missing", TL, (unsigned long long)tile, width);
    if (rc)
        return rc;
    if ((rc = cu_tile_hashes((const uint8_t *)data, len, width, &h))) {
        cu_free(data);
        return cu_err_set(CU_ERR_CORRUPT, "tile %u/%llu (width %u) has %zu bytes", TL, (unsigned long long)tile,
                          width, len);
    }
    memcpy(s->cache[TL].h, h, width * sizeof(cu_hash));
    cu_free(data);
    s->cache[TL].valid = true;
    s->cache[TL].index = tile;
    s->cache[TL].width = width;
    *out = s->cache[TL].h;
    return CU_OK;
}

cu_rc cu_lg_node(void *ctx, unsigned level, uint64_t index, cu_hash *out)
{
    cu_lg_nodes *s = ctx;
    unsigned TL = level / 8, k = level % 8;
    cu_hash scratch[CU_TILE_WIDTH / 2];
    const cu_hash *h = NULL;
    cu_rc rc;
    if (level >= 64 || TL >= CU_LG_LEVELS || index >= (s->size >> level))
        return cu_err_set(CU_ERR_RANGE, "node %u/%llu is not complete in a tree of %llu", level,
                          (unsigned long long)index, (unsigned long long)s->size);
    uint64_t first = index << k;
    uint64_t tile = first >> 8;
    unsigned pos = (unsigned)(first & 255), count = 1u << k;
    if ((rc = tile_hashes(s, TL, tile, pos + count, &h)))
        return rc;
    return cu_lg_perfect_root(h + pos, count, scratch, out);
}

/* ========================================================== verification */

typedef struct vctx {
    const char *dir;
} vctx;

static cu_rc compare_tile(const char *dir, unsigned L, uint64_t idx, unsigned width, const cu_hash *hashes)
{
    char rel[CU_TILE_PATH_MAX], *data = NULL;
    size_t len = 0;
    cu_rc rc = cu_tile_path((int)L, idx, width, rel, sizeof rel);
    if (rc)
        return rc;
    rc = cu_lg_read_tile(dir, (int)L, idx, width, (size_t)CU_TILE_WIDTH * CU_HASH_LEN + 1, &data, &len);
    if (rc == CU_ERR_NOTFOUND)
        return cu_err_set(CU_ERR_CORRUPT, "%s: missing", rel);
    if (rc)
        return cu_err_set(rc, "%s: %s", rel, cu_err_detail());
    if (len != (size_t)width * CU_HASH_LEN || memcmp(data, hashes, len) != 0)
        rc = cu_err_set(CU_ERR_CORRUPT, "%s: differs from the tile derived from the entry bundles", rel);
    cu_free(data);
    return rc;
}

static cu_rc verify_full(void *ctx, unsigned level, uint64_t index, const cu_hash *hashes)
{
    vctx *v = ctx;
    return compare_tile(v->dir, level, index, CU_TILE_WIDTH, hashes);
}

cu_rc cu_lg_read_checkpoint(const char *dir, const cu_note_verifier *v, cu_checkpoint *cp, char **note_out,
                            size_t *note_len)
{
    char path[4096], *note = NULL;
    size_t len = 0, text_len = 0;
    bool ok = false;
    cu_rc rc;
    if ((size_t)snprintf(path, sizeof path, "%s/checkpoint", dir) >= sizeof path)
        return cu_err_set(CU_ERR_TOOBIG, "path too long: %s", dir);
    if ((rc = cu_file_read(path, CU_NOTE_MAX, &note, &len)))
        return cu_err_set(rc, "checkpoint: %s", cu_err_detail());
    cu_note_verifier *vv = (cu_note_verifier *)v;
    if ((rc = cu_note_open(note, len, &vv, 1, &text_len, &ok)) || !ok) {
        rc = cu_err_set(rc ? rc : CU_ERR_VERIFY, "checkpoint: signature does not verify: %s", cu_err_detail());
        goto fail;
    }
    if ((rc = cu_checkpoint_parse(note, text_len, cp))) {
        rc = cu_err_set(rc, "checkpoint: %s", cu_err_detail());
        goto fail;
    }
    if (note_out) {
        *note_out = note;
        *note_len = len;
        return CU_OK;
    }
    cu_free(note);
    return CU_OK;
fail:
    cu_free(note);
    return rc;
}

cu_rc cu_ledger_verify_dir(const char *dir, const cu_note_verifier *v)
{
    cu_checkpoint cp;
    cu_lg_edge *e = NULL;
    char *data = NULL;
    vctx vc = {dir};
    cu_hash root;
    cu_rc rc;
    if ((rc = cu_lg_read_checkpoint(dir, v, &cp, NULL, NULL)))
        return rc;
    if (!(e = cu_malloc(sizeof *e)))
        return CU_ERR_NOMEM;
    cu_lg_edge_reset(e);
    uint64_t nb = (cp.size + CU_TILE_WIDTH - 1) / CU_TILE_WIDTH;
    for (uint64_t b = 0; b < nb; b++) {
        uint64_t left = cp.size - b * CU_TILE_WIDTH;
        unsigned width = left >= CU_TILE_WIDTH ? CU_TILE_WIDTH : (unsigned)left;
        char rel[CU_TILE_PATH_MAX];
        size_t len = 0, off = 0;
        if ((rc = cu_tile_path(-1, b, width, rel, sizeof rel)))
            goto fail;
        rc = cu_lg_read_tile(dir, -1, b, width, CU_LG_BUNDLE_MAX, &data, &len);
        if (rc == CU_ERR_NOTFOUND) {
            rc = cu_err_set(CU_ERR_CORRUPT, "%s: missing", rel);
            goto fail;
        }
        if (rc) {
            rc = cu_err_set(rc, "%s: %s", rel, cu_err_detail());
            goto fail;
        }
        for (unsigned i = 0; i < width; i++) {
            const uint8_t *ent;
            size_t elen;
            cu_hash leaf;
            if ((rc = cu_tile_bundle_next((const uint8_t *)data, len, &off, &ent, &elen))) {
                rc = cu_err_set(CU_ERR_CORRUPT, "%s: entry %u of %u is missing or cut", rel, i, width);
                goto fail;
            }
            if ((rc = cu_merkle_leaf_hash(ent, elen, &leaf)) || (rc = cu_lg_edge_push(e, &leaf, verify_full, &vc)))
                goto fail;
        }
        if (off != len) {
            rc = cu_err_set(CU_ERR_CORRUPT, "%s: %zu bytes after its %u entries", rel, len - off, width);
            goto fail;
        }
        cu_free(data);
        data = NULL;
    }
    /* the partial tiles the checkpoint's size needs */
    for (unsigned L = 0; L < CU_LG_LEVELS; L++)
        if (e->cnt[L] && (rc = compare_tile(dir, L, (cp.size >> (8 * L)) >> 8, e->cnt[L], e->h[L])))
            goto fail;
    if ((rc = cu_lg_edge_root(e, &root)))
        goto fail;
    if (!cu_ct_equal(root.b, cp.root.b, CU_HASH_LEN)) {
        rc = cu_err_set(CU_ERR_VERIFY, "checkpoint: root hash does not match the tree of its %llu entries",
                        (unsigned long long)cp.size);
        goto fail;
    }
    cu_free(e);
    return CU_OK;
fail:
    cu_free(data);
    cu_free(e);
    return rc;
}
