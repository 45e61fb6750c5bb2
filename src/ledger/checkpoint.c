/*
 * Checkpoint bodies (C2SP tlog-checkpoint): the text a log signs.
 *
 *   <origin>\n<tree size>\n<base64 root hash>\n[<extension line>\n]...
 *
 * Invariants:
 *   1. format() writes exactly three lines and no extensions; parse() of its
 *      output gives back the same checkpoint.
 *   2. parse() is strict: every line ends in '\n' and is non-empty; the
 *      origin is 1..255 bytes; the size is ASCII decimal without sign or
 *      leading zeros (only "0" may start with 0) and fits in uint64; the
 *      root is canonical padded base64 of exactly 32 bytes; the whole body
 *      is UTF-8 without control characters (the signed-note rule), at most
 *      CU_NOTE_MAX bytes.  Extension lines are accepted and ignored.
 */
#include "custos/ledger.h"
#include "ledger/note_int.h"

#include <string.h>

#define ROOT_B64_LEN 44 /* base64 of 32 bytes */

cu_rc cu_checkpoint_format(const cu_checkpoint *c, char **text, size_t *len)
{
    size_t olen = strnlen(c->origin, sizeof c->origin);
    char root[ROOT_B64_LEN + 1];
    cu_buf b;
    cu_rc rc;
    *text = NULL;
    *len = 0;
    if (olen == 0 || olen >= sizeof c->origin || !cu_note_text_valid(c->origin, olen) ||
        memchr(c->origin, '\n', olen))
        return cu_err_set(CU_ERR_INVAL, "checkpoint origin must be 1..255 bytes of UTF-8 on one line");
    cu_b64_encode(c->root.b, CU_HASH_LEN, root);
    cu_buf_init(&b, CU_NOTE_MAX);
    if ((rc = cu_buf_append(&b, c->origin, olen)) ||
        (rc = cu_buf_appendf(&b, "\n%llu\n%s\n", (unsigned long long)c->size, root))) {
        cu_buf_free(&b);
        return rc;
    }
    *text = cu_buf_take(&b, len);
    return CU_OK;
}

/* The next line of text[*pos..len) without its '\n'; false if there is no
 * '\n' left. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *llen)
{
    if (*pos >= len)
        return false;
    const char *nl = memchr(text + *pos, '\n', len - *pos);
    if (!nl)
        return false;
    *line = text + *pos;
    *llen = (size_t)(nl - *line);
    *pos += *llen + 1;
    return true;
}

cu_rc cu_checkpoint_parse(const char *text, size_t len, cu_checkpoint *out)
{
    const char *line;
    size_t llen, pos = 0, n = 0;
    cu_checkpoint c;
    memset(&c, 0, sizeof c);
    if (len > CU_NOTE_MAX)
        return cu_err_set(CU_ERR_TOOBIG, "checkpoint of %zu bytes is over the %d limit", len, CU_NOTE_MAX);
    if (len == 0 || text[len - 1] != '\n')
        return cu_err_set(CU_ERR_PARSE, "checkpoint: must end in a newline");
    if (!cu_note_text_valid(text, len))
        return cu_err_set(CU_ERR_PARSE, "checkpoint: not UTF-8, or a control character");

    if (!next_line(text, len, &pos, &line, &llen) || llen == 0)
        return cu_err_set(CU_ERR_PARSE, "checkpoint line 1: empty origin");
    if (llen >= sizeof c.origin)
        return cu_err_set(CU_ERR_PARSE, "checkpoint line 1: origin longer than %zu bytes", sizeof c.origin - 1);
    memcpy(c.origin, line, llen);

    if (!next_line(text, len, &pos, &line, &llen) || llen == 0)
        return cu_err_set(CU_ERR_PARSE, "checkpoint line 2: no tree size");
    if (llen > 1 && line[0] == '0')
        return cu_err_set(CU_ERR_PARSE, "checkpoint line 2: tree size with a leading zero");
    for (size_t i = 0; i < llen; i++) {
        unsigned d = (unsigned)(line[i] - '0');
        if (line[i] < '0' || line[i] > '9')
            return cu_err_set(CU_ERR_PARSE, "checkpoint line 2: tree size is not a decimal number");
        if (n > (UINT64_MAX - d) / 10)
            return cu_err_set(CU_ERR_PARSE, "checkpoint line 2: tree size over 2^64 - 1");
        n = n * 10 + d;
    }
    c.size = n;

    if (!next_line(text, len, &pos, &line, &llen) || llen == 0)
        return cu_err_set(CU_ERR_PARSE, "checkpoint line 3: no root hash");
    uint8_t root[ROOT_B64_LEN];
    size_t rlen = 0;
    if (llen != ROOT_B64_LEN || cu_b64_decode(line, llen, root, &rlen) != CU_OK || rlen != CU_HASH_LEN)
        return cu_err_set(CU_ERR_PARSE, "checkpoint line 3: root is not base64 of 32 bytes");
    memcpy(c.root.b, root, CU_HASH_LEN);

    for (unsigned ln = 4; pos < len; ln++)
        if (!next_line(text, len, &pos, &line, &llen) || llen == 0)
            return cu_err_set(CU_ERR_PARSE, "checkpoint line %u: empty extension line", ln);
    *out = c;
    return CU_OK;
}
