/*
 * Proof files and offline proof checks against signed checkpoints.
 *
 *   inclusion <index> <size>\n      or      consistency <size1> <size2>\n
 *   <standard base64 of a 32-byte hash>\n   (one per proof hash, in order)
 *
 * Invariants:
 *   1. parse accepts exactly what format writes: decimal numbers without
 *      leading zeros, one space, '\n' line ends, at most CU_MERKLE_MAX_PROOF
 *      hashes, canonical base64, nothing else (CU_ERR_PARSE naming the line).
 *   2. A check trusts a checkpoint only after its signature verifies, and a
 *      proof only for the sizes the checkpoints state.
 */
#include "custos/ledger.h"

#include <stdio.h>
#include <string.h>

cu_rc cu_ledger_proof_format(bool inclusion, uint64_t a, uint64_t b, const cu_hash *proof, size_t n, char **text,
                             size_t *len)
{
    cu_buf out;
    cu_rc rc;
    char b64[64];
    cu_buf_init(&out, CU_LEDGER_PROOF_MAX);
    if ((rc = cu_buf_appendf(&out, "%s %llu %llu\n", inclusion ? "inclusion" : "consistency", (unsigned long long)a,
                             (unsigned long long)b)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        cu_b64_encode(proof[i].b, CU_HASH_LEN, b64);
        if ((rc = cu_buf_appendf(&out, "%s\n", b64)))
            goto fail;
    }
    *text = cu_buf_take(&out, len);
    return *text ? CU_OK : CU_ERR_NOMEM;
fail:
    cu_buf_free(&out);
    return rc;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

cu_rc cu_ledger_proof_parse(const char *text, size_t len, bool *inclusion, uint64_t *a, uint64_t *b, cu_hash *proof,
                            size_t *n)
{
    size_t o = 0, line = 1;
    *n = 0;
    if (len > CU_LEDGER_PROOF_MAX)
        return cu_err_set(CU_ERR_TOOBIG, "proof of %zu bytes, at most %d", len, CU_LEDGER_PROOF_MAX);
    const char *nl = memchr(text, '\n', len);
    if (!nl)
        return cu_err_set(CU_ERR_PARSE, "proof line 1: no header line");
    size_t hl = (size_t)(nl - text);
    const char *sp1 = memchr(text, ' ', hl);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(nl - sp1 - 1)) : NULL;
    if (!sp1 || !sp2)
        return cu_err_set(CU_ERR_PARSE, "proof line 1: want \"inclusion INDEX SIZE\" or \"consistency SIZE1 SIZE2\"");
    size_t kl = (size_t)(sp1 - text);
    if (kl == 9 && memcmp(text, "inclusion", 9) == 0)
        *inclusion = true;
    else if (kl == 11 && memcmp(text, "consistency", 11) == 0)
        *inclusion = false;
    else
        return cu_err_set(CU_ERR_PARSE, "proof line 1: unknown proof kind");
    if (!parse_u64(sp1 + 1, (size_t)(sp2 - sp1 - 1), a) || !parse_u64(sp2 + 1, (size_t)(nl - sp2 - 1), b))
        return cu_err_set(CU_ERR_PARSE, "proof line 1: bad number");
    o = hl + 1;
    while (o < len) {
        line++;
        nl = memchr(text + o, '\n', len - o);
        if (!nl)
            return cu_err_set(CU_ERR_PARSE, "proof line %zu: no newline at the end", line);
        size_t ll = (size_t)(nl - (text + o)), got = 0;
        uint8_t h[48];
        if (*n == CU_MERKLE_MAX_PROOF)
            return cu_err_set(CU_ERR_PARSE, "proof line %zu: more than %d hashes", line, CU_MERKLE_MAX_PROOF);
        if (ll != 44 || cu_b64_decode(text + o, ll, h, &got) || got != CU_HASH_LEN)
            return cu_err_set(CU_ERR_PARSE, "proof line %zu: not a base64 hash of 32 bytes", line);
        memcpy(proof[(*n)++].b, h, CU_HASH_LEN);
        o += ll + 1;
    }
    return CU_OK;
}

static cu_rc open_checkpoint(const char *note, size_t len, const cu_note_verifier *v, const char *what,
                             cu_checkpoint *cp)
{
    size_t tl = 0;
    bool ok = false;
    cu_note_verifier *vv = (cu_note_verifier *)v;
    cu_rc rc = cu_note_open(note, len, &vv, 1, &tl, &ok);
    if (rc || !ok)
        return cu_err_set(rc ? rc : CU_ERR_VERIFY, "%s: %s", what, rc ? cu_err_detail() : "not signed by the key");
    if ((rc = cu_checkpoint_parse(note, tl, cp)))
        return cu_err_set(rc, "%s: %s", what, cu_err_detail());
    return CU_OK;
}

cu_rc cu_ledger_check_inclusion(const char *note, size_t note_len, const cu_note_verifier *v, const char *proof,
                                size_t proof_len, const cu_hash *leaf_hash)
{
    cu_checkpoint cp;
    cu_hash p[CU_MERKLE_MAX_PROOF];
    size_t n = 0;
    uint64_t index, size;
    bool incl;
    cu_rc rc;
    if ((rc = open_checkpoint(note, note_len, v, "checkpoint", &cp)))
        return rc;
    if ((rc = cu_ledger_proof_parse(proof, proof_len, &incl, &index, &size, p, &n)))
        return rc;
    if (!incl)
        return cu_err_set(CU_ERR_PARSE, "proof: a consistency proof where an inclusion proof is wanted");
    if (size != cp.size)
        return cu_err_set(CU_ERR_VERIFY, "proof is for a tree of %llu entries, the checkpoint has %llu",
                          (unsigned long long)size, (unsigned long long)cp.size);
    if ((rc = cu_merkle_verify_inclusion(index, size, leaf_hash, p, n, &cp.root)))
        return cu_err_set(rc, "entry %llu is not proven in the checkpoint's tree: %s", (unsigned long long)index,
                          cu_err_detail());
    return CU_OK;
}

cu_rc cu_ledger_check_consistency(const char *old_note, size_t old_len, const char *new_note, size_t new_len,
                                  const cu_note_verifier *v, const char *proof, size_t proof_len)
{
    cu_checkpoint a, b;
    cu_hash p[CU_MERKLE_MAX_PROOF];
    size_t n = 0;
    uint64_t s1, s2;
    bool incl;
    cu_rc rc;
    if ((rc = open_checkpoint(old_note, old_len, v, "old checkpoint", &a)) ||
        (rc = open_checkpoint(new_note, new_len, v, "checkpoint", &b)))
        return rc;
    if ((rc = cu_ledger_proof_parse(proof, proof_len, &incl, &s1, &s2, p, &n)))
        return rc;
    if (incl)
        return cu_err_set(CU_ERR_PARSE, "proof: an inclusion proof where a consistency proof is wanted");
    if (strcmp(a.origin, b.origin) != 0)
        return cu_err_set(CU_ERR_VERIFY, "the checkpoints are of different logs (\"%s\", \"%s\")", a.origin, b.origin);
    if (s1 != a.size || s2 != b.size)
        return cu_err_set(CU_ERR_VERIFY, "proof is for sizes %llu -> %llu, the checkpoints have %llu -> %llu",
                          (unsigned long long)s1, (unsigned long long)s2, (unsigned long long)a.size,
                          (unsigned long long)b.size);
    if ((rc = cu_merkle_verify_consistency(s1, s2, p, n, &a.root, &b.root)))
        return cu_err_set(rc, "the old checkpoint is not a prefix of the new one: %s", cu_err_detail());
    return CU_OK;
}
