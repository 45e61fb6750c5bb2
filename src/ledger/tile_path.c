/*
 * Tile and entry-bundle names and entry-bundle framing (C2SP tlog-tiles).
 *
 *   tile/<L>/<N>[.p/<W>]        hash tiles, level L in 0..63
 *   tile/entries/<N>[.p/<W>]    entry bundles
 *
 * N is written in groups of three digits, every group but the last with an
 * 'x' in front (1234067 -> x001/x234/067), so that a directory never holds
 * more than 1000 files and a file never shares a name with a directory.
 * W (1..255) only appears on partial tiles.
 *
 * Invariants:
 *   1. cu_tile_path() and cu_tile_path_parse() are inverse: parse accepts
 *      exactly the canonical names that cu_tile_path writes (no leading
 *      zero groups, no leading zeros in L or W, nothing after the name).
 *   2. Bundle framing never reads past the buffer: a length prefix that
 *      runs over the end is CU_ERR_CORRUPT.
 */
#include "custos/ledger.h"

#include <stdio.h>
#include <string.h>

cu_rc cu_tile_path(int level, uint64_t index, unsigned width, char *out, size_t outlen)
{
    char tmp[CU_TILE_PATH_MAX];
    size_t o = 0;
    if (level < -1 || level > 63)
        return cu_err_set(CU_ERR_INVAL, "tile level %d is outside -1..63", level);
    if (width < 1 || width > CU_TILE_WIDTH)
        return cu_err_set(CU_ERR_INVAL, "tile width %u is outside 1..%d", width, CU_TILE_WIDTH);
    if (level < 0)
        o += (size_t)snprintf(tmp, sizeof tmp, "tile/entries/");
    else
        o += (size_t)snprintf(tmp, sizeof tmp, "tile/%d/", level);
    /* the groups of three digits, most significant first */
    unsigned groups[7], ng = 0;
    uint64_t n = index;
    do {
        groups[ng++] = (unsigned)(n % 1000);
        n /= 1000;
    } while (n);
    while (ng-- > 1)
        o += (size_t)snprintf(tmp + o, sizeof tmp - o, "x%03u/", groups[ng]);
    o += (size_t)snprintf(tmp + o, sizeof tmp - o, "%03u", groups[0]);
    if (width < CU_TILE_WIDTH)
        o += (size_t)snprintf(tmp + o, sizeof tmp - o, ".p/%u", width);
    if (o + 1 > outlen)
        return cu_err_set(CU_ERR_TOOBIG, "tile path needs %zu bytes, the buffer has %zu", o + 1, outlen);
    memcpy(out, tmp, o + 1);
    return CU_OK;
}

/* A decimal in s[*i..len) without leading zeros, at most `max`. */
static bool parse_small(const char *s, size_t len, size_t *i, unsigned max, unsigned *out)
{
    size_t start = *i;
    unsigned v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (unsigned)(s[*i] - '0');
        if (v > max)
            return false;
        (*i)++;
    }
    if (*i == start || (*i - start > 1 && s[start] == '0'))
        return false;
    *out = v;
    return true;
}

static bool three_digits(const char *s, size_t len, size_t i, unsigned *out)
{
    if (len - i < 3)
        return false;
    for (size_t k = 0; k < 3; k++)
        if (s[i + k] < '0' || s[i + k] > '9')
            return false;
    *out = (unsigned)(s[i] - '0') * 100 + (unsigned)(s[i + 1] - '0') * 10 + (unsigned)(s[i + 2] - '0');
    return true;
}

cu_rc cu_tile_path_parse(const char *path, size_t len, int *level, uint64_t *index, unsigned *width)
{
    size_t i = 0;
    unsigned l = 0, g, w = CU_TILE_WIDTH;
    uint64_t n = 0;
    int lv;
    if (len > CU_TILE_PATH_MAX)
        return cu_err_set(CU_ERR_TOOBIG, "tile path longer than %d bytes", CU_TILE_PATH_MAX);
    if (len < 5 || memcmp(path, "tile/", 5) != 0)
        goto bad;
    i = 5;
    if (len - i >= 8 && memcmp(path + i, "entries/", 8) == 0) {
        lv = -1;
        i += 8;
    } else {
        if (!parse_small(path, len, &i, 63, &l) || i >= len || path[i] != '/')
            goto bad;
        lv = (int)l;
        i++;
    }
    /* x-prefixed groups, then the last group */
    bool first = true;
    for (;;) {
        bool x = i < len && path[i] == 'x';
        if (x)
            i++;
        if (!three_digits(path, len, i, &g))
            goto bad;
        i += 3;
        if (x && first && g == 0)
            goto bad; /* a leading zero group is not canonical */
        if (n > (UINT64_MAX - g) / 1000)
            goto bad;
        n = n * 1000 + g;
        first = false;
        if (!x)
            break;
        if (i >= len || path[i] != '/')
            goto bad;
        i++;
    }
    if (i < len) {
        if (len - i < 3 || memcmp(path + i, ".p/", 3) != 0)
            goto bad;
        i += 3;
        if (!parse_small(path, len, &i, CU_TILE_WIDTH - 1, &w) || w == 0)
            goto bad;
    }
    if (i != len)
        goto bad;
    *level = lv;
    *index = n;
    *width = w;
    return CU_OK;
bad:
    return cu_err_set(CU_ERR_PARSE, "not a tile path: \"%.*s\"", (int)(len > 80 ? 80 : len), path);
}

cu_rc cu_tile_bundle_next(const uint8_t *data, size_t len, size_t *off, const uint8_t **entry,
                          size_t *entry_len)
{
    size_t o = *off;
    if (o >= len)
        return CU_ERR_NOTFOUND;
    if (len - o < 2)
        return cu_err_set(CU_ERR_CORRUPT, "entry bundle: truncated length at byte %zu", o);
    size_t n = cu_get_be16(data + o);
    if (len - o - 2 < n)
        return cu_err_set(CU_ERR_CORRUPT, "entry bundle: entry of %zu bytes at byte %zu runs past the end", n, o);
    *entry = data + o + 2;
    *entry_len = n;
    *off = o + 2 + n;
    return CU_OK;
}

cu_rc cu_tile_hashes(const uint8_t *data, size_t len, unsigned width, const cu_hash **hashes)
{
    if (width < 1 || width > CU_TILE_WIDTH)
        return cu_err_set(CU_ERR_INVAL, "tile width %u is outside 1..%d", width, CU_TILE_WIDTH);
    if (len != (size_t)width * CU_HASH_LEN)
        return cu_err_set(CU_ERR_CORRUPT, "hash tile of width %u has %zu bytes, want %zu", width, len,
                          (size_t)width * CU_HASH_LEN);
    *hashes = (const cu_hash *)(const void *)data;
    return CU_OK;
}
