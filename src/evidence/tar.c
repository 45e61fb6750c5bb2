/*
 * The bundle container: a POSIX ustar archive, so that anyone can open a
 * bundle with `tar -xf` and look at its members with ordinary tools.
 *
 * Invariants:
 *   1. The parser reads only inside [data, data + len), never trusts a size
 *      before checking it against what is left and the member limit, and
 *      accepts only regular files with plain names (no '/', no "..", no
 *      links, no pax or GNU extensions), valid header checksums, no
 *      duplicate names, then the end marker (two zero blocks) and nothing
 *      after it but zero blocks.
 *   2. The writer produces exactly what the parser accepts: a header per
 *      member (mode 0644, uid/gid 0, the given mtime), the data padded to
 *      512 bytes, then two zero blocks.
 */
#include "evidence/evidence_int.h"

#include <stdio.h>
#include <string.h>

#define BLK 512

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 99 || (n <= 2 && s[0] == '.' && (n == 1 || s[1] == '.')))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

static void octal(char *field, size_t width, uint64_t v)
{
    /* width-1 digits and a NUL, as GNU and BSD tar write them */
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0;) {
        field[i] = (char)('0' + (v & 7));
        v >>= 3;
    }
}

static unsigned checksum(const uint8_t *h)
{
    unsigned s = 0;
    for (size_t i = 0; i < BLK; i++)
        s += (i >= 148 && i < 156) ? ' ' : h[i];
    return s;
}

cu_rc cu_evidence_tar_write(const cu_evidence_member *m, size_t n, int64_t mtime, cu_buf *out)
{
    static const uint8_t zero[2 * BLK];
    cu_rc rc;
    if (n > CU_EVIDENCE_MAX_MEMBERS)
        return cu_err_set(CU_ERR_TOOBIG, "%zu members, at most %d", n, CU_EVIDENCE_MAX_MEMBERS);
    for (size_t i = 0; i < n; i++) {
        uint8_t h[BLK];
        size_t nl = strnlen(m[i].name, sizeof m[i].name);
        if (!name_ok(m[i].name, nl))
            return cu_err_set(CU_ERR_INVAL, "member name \"%.99s\" is not allowed", m[i].name);
        if (m[i].len > CU_EVIDENCE_MAX_MEMBER)
            return cu_err_set(CU_ERR_TOOBIG, "member %s of %zu bytes", m[i].name, m[i].len);
        memset(h, 0, sizeof h);
        memcpy(h, m[i].name, nl);
        octal((char *)h + 100, 8, 0644);
        octal((char *)h + 108, 8, 0);
        octal((char *)h + 116, 8, 0);
        octal((char *)h + 124, 12, m[i].len);
        octal((char *)h + 136, 12, mtime < 0 ? 0 : (uint64_t)mtime);
        h[156] = '0';
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memcpy(h + 265, "custos", 6);
        memcpy(h + 297, "custos", 6);
        char ck[8];
        snprintf(ck, sizeof ck, "%06o", checksum(h) & 0777777u);
        memcpy(h + 148, ck, 6);
        h[154] = '\0';
        h[155] = ' ';
        if ((rc = cu_buf_append(out, h, BLK)) || (m[i].len && (rc = cu_buf_append(out, m[i].data, m[i].len))) ||
            (m[i].len % BLK && (rc = cu_buf_append(out, zero, BLK - m[i].len % BLK))))
            return rc;
    }
    return cu_buf_append(out, zero, sizeof zero);
}

/* An octal field: optional leading spaces, digits, then NUL or space to the end. */
static bool parse_octal(const uint8_t *f, size_t width, uint64_t max, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    bool any = false;
    while (i < width && f[i] == ' ')
        i++;
    for (; i < width && f[i] >= '0' && f[i] <= '7'; i++) {
        v = v * 8 + (uint64_t)(f[i] - '0');
        if (v > max)
            return false;
        any = true;
    }
    for (; i < width; i++)
        if (f[i] != '\0' && f[i] != ' ')
            return false;
    *out = v;
    return any;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

cu_rc cu_evidence_tar_parse(const void *data, size_t len, cu_evidence_member *out, size_t max, size_t *n)
{
    const uint8_t *p = data;
    size_t off = 0;
    *n = 0;
    if (len > CU_EVIDENCE_MAX_BUNDLE)
        return cu_err_set(CU_ERR_TOOBIG, "bundle of %zu bytes, at most %u", len, CU_EVIDENCE_MAX_BUNDLE);
    if (len % BLK)
        return cu_err_set(CU_ERR_PARSE, "bundle of %zu bytes is not a whole number of 512-byte blocks", len);
    for (;;) {
        if (len - off < BLK)
            return cu_err_set(CU_ERR_PARSE, "offset %zu: archive ends without its end marker", off);
        const uint8_t *h = p + off;
        if (all_zero(h, BLK)) {
            if (len - off < 2 * BLK || !all_zero(h + BLK, BLK))
                return cu_err_set(CU_ERR_PARSE, "offset %zu: end marker is one zero block, not two", off);
            if (!all_zero(h, len - off))
                return cu_err_set(CU_ERR_PARSE, "offset %zu: data after the end marker", off);
            return CU_OK;
        }
        uint64_t ck, size;
        if (!parse_octal(h + 148, 8, 0777777, &ck) || ck != checksum(h))
            return cu_err_set(CU_ERR_PARSE, "offset %zu: bad header checksum", off);
        if (memcmp(h + 257, "ustar", 6) != 0 || memcmp(h + 263, "00", 2) != 0)
            return cu_err_set(CU_ERR_PARSE, "offset %zu: not a ustar header", off);
        if (h[156] != '0' && h[156] != '\0')
            return cu_err_set(CU_ERR_PARSE, "offset %zu: member of type '%c' (only regular files)", off,
                              h[156] >= 32 && h[156] < 127 ? h[156] : '?');
        if (!all_zero(h + 157, 100) || !all_zero(h + 345, 155))
            return cu_err_set(CU_ERR_PARSE, "offset %zu: link name or prefix set", off);
        size_t nl = strnlen((const char *)h, 100);
        if (nl == 100 || !name_ok((const char *)h, nl) || !all_zero(h + nl, 100 - nl))
            return cu_err_set(CU_ERR_PARSE, "offset %zu: bad member name", off);
        if (!parse_octal(h + 124, 12, CU_EVIDENCE_MAX_MEMBER, &size))
            return cu_err_set(CU_ERR_TOOBIG, "offset %zu: bad size or member over %u bytes", off,
                              CU_EVIDENCE_MAX_MEMBER);
        size_t padded = (size_t)((size + BLK - 1) / BLK * BLK);
        if (padded > len - off - BLK)
            return cu_err_set(CU_ERR_PARSE, "offset %zu: member %.*s of %llu bytes runs past the end", off, (int)nl,
                              (const char *)h, (unsigned long long)size);
        for (size_t i = 0; i < *n; i++)
            if (strncmp(out[i].name, (const char *)h, 100) == 0)
                return cu_err_set(CU_ERR_PARSE, "offset %zu: member %.*s appears twice", off, (int)nl,
                                  (const char *)h);
        if (*n == max)
            return cu_err_set(CU_ERR_TOOBIG, "more than %zu members", max);
        cu_evidence_member *m = &out[(*n)++];
        memcpy(m->name, h, nl);
        m->name[nl] = '\0';
        m->data = h + BLK;
        m->len = (size_t)size;
        off += BLK + padded;
    }
}
