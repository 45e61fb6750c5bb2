/*
 * Log entries: the canonical binary encoding of what the ledger records.
 *
 *   u8  version (1)
 *   u8  type (1 access, 2 gateway decision, 3 governance, 4 console audit,
 *            5 policy pack put in force)
 *   i64 event time, big-endian two's complement, seconds since the epoch
 *   then fields, each: u8 tag | u16 big-endian length (>= 1) | value
 *
 * Invariants (canonical = exactly one encoding per value):
 *   1. Tags are strictly increasing; a tag appears at most once; tag 0 is
 *      not used.  Absent fields are omitted, never encoded empty.
 *   2. Nothing follows the last field; the whole entry is at most
 *      CU_LEDGER_ENTRY_MAX bytes (the uint16 of tlog-tiles entry bundles).
 *   3. Access entries carry the people looked up only as keyed commitments
 *      (below), so a published entry says nothing about who was looked at to
 *      anyone without the log's secret or that person's opening key.
 *   4. The decoder reads only inside [data, data + len) and checks the
 *      type-specific rules of access entries (required fields, outcome 1|2,
 *      results 4 bytes, subjects a multiple of 32 bytes).
 */
#include "custos/ledger.h"

#include <openssl/crypto.h>
#include <string.h>

#define HDR 10

cu_rc cu_ledger_entry_encode(uint8_t type, int64_t ts, const cu_ledger_field *fields, size_t nfields, uint8_t *out,
                             size_t cap, size_t *len)
{
    size_t o = HDR;
    int last = 0;
    *len = 0;
    if (type == 0)
        return cu_err_set(CU_ERR_INVAL, "entry type 0 is not used");
    if (cap < HDR)
        return cu_err_set(CU_ERR_TOOBIG, "entry buffer of %zu bytes", cap);
    out[0] = CU_LEDGER_ENTRY_VERSION;
    out[1] = type;
    cu_put_be64(out + 2, (uint64_t)ts);
    for (size_t i = 0; i < nfields; i++) {
        const cu_ledger_field *f = &fields[i];
        if (f->len == 0)
            continue;
        if (f->tag <= last)
            return cu_err_set(CU_ERR_INVAL, "entry field tags must be non-zero and increasing (tag %u after %d)",
                              f->tag, last);
        if (f->len > 0xffff)
            return cu_err_set(CU_ERR_TOOBIG, "entry field %u of %zu bytes", f->tag, f->len);
        if (o + 3 + f->len > cap || o + 3 + f->len > CU_LEDGER_ENTRY_MAX)
            return cu_err_set(CU_ERR_TOOBIG, "entry over %zu bytes", cap < CU_LEDGER_ENTRY_MAX ? cap : (size_t)CU_LEDGER_ENTRY_MAX);
        out[o] = f->tag;
        cu_put_be16(out + o + 1, (uint16_t)f->len);
        memcpy(out + o + 3, f->data, f->len);
        o += 3 + f->len;
        last = f->tag;
    }
    *len = o;
    return CU_OK;
}

/* Commitments (docs/ledger.md, "People looked up"):
 *   key        = HMAC-SHA-256(secret, "custos/subject-key/v2" 0x00 || id)
 *   commitment = SHA-256("custos/subject/v2" 0x00 || key || id)
 * The key is the opening: it lets anyone check the commitment to this one
 * person with no secret, and tells nothing about the secret or any other
 * person (HMAC is a PRF).  A commitment is the same for a person in every
 * entry, so opening it reveals exactly "these entries concern this person",
 * which the equal commitments already tell anyone holding the opening. */
static const char KEY_TAG[] = "custos/subject-key/v2";  /* sizeof includes the 0x00 */
static const char COMMIT_TAG[] = "custos/subject/v2";

cu_rc cu_ledger_commitment_key(const uint8_t secret[CU_LEDGER_SECRET_LEN], const char *id, size_t len,
                               uint8_t key[CU_HASH_LEN])
{
    uint8_t msg[sizeof KEY_TAG + CU_LEDGER_STR_MAX];
    if (len == 0 || len > CU_LEDGER_STR_MAX)
        return cu_err_set(CU_ERR_INVAL, "person id of %zu bytes (1..%d)", len, CU_LEDGER_STR_MAX);
    memcpy(msg, KEY_TAG, sizeof KEY_TAG);
    memcpy(msg + sizeof KEY_TAG, id, len);
    cu_rc rc = cu_hmac_sha256(secret, CU_LEDGER_SECRET_LEN, msg, sizeof KEY_TAG + len, key);
    OPENSSL_cleanse(msg, sizeof msg);
    return rc;
}

cu_rc cu_ledger_commitment_from_key(const uint8_t key[CU_HASH_LEN], const char *id, size_t len,
                                    uint8_t out[CU_HASH_LEN])
{
    uint8_t pre[sizeof COMMIT_TAG + CU_HASH_LEN];
    if (len == 0 || len > CU_LEDGER_STR_MAX)
        return cu_err_set(CU_ERR_INVAL, "person id of %zu bytes (1..%d)", len, CU_LEDGER_STR_MAX);
    memcpy(pre, COMMIT_TAG, sizeof COMMIT_TAG);
    memcpy(pre + sizeof COMMIT_TAG, key, CU_HASH_LEN);
    cu_rc rc = cu_sha256(pre, sizeof pre, id, len, NULL, 0, out);
    OPENSSL_cleanse(pre, sizeof pre);
    return rc;
}

cu_rc cu_ledger_commitment(const uint8_t secret[CU_LEDGER_SECRET_LEN], const char *id, size_t len,
                           uint8_t out[CU_HASH_LEN])
{
    uint8_t key[CU_HASH_LEN];
    cu_rc rc = cu_ledger_commitment_key(secret, id, len, key);
    if (rc == CU_OK)
        rc = cu_ledger_commitment_from_key(key, id, len, out);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

bool cu_ledger_commitment_check(const uint8_t secret[CU_LEDGER_SECRET_LEN], const char *id, size_t len,
                                const uint8_t commitment[CU_HASH_LEN])
{
    uint8_t c[CU_HASH_LEN];
    if (cu_ledger_commitment(secret, id, len, c))
        return false;
    return cu_ct_equal(c, commitment, CU_HASH_LEN);
}

bool cu_ledger_commitment_open(const uint8_t key[CU_HASH_LEN], const char *id, size_t len,
                               const uint8_t commitment[CU_HASH_LEN])
{
    uint8_t c[CU_HASH_LEN];
    if (cu_ledger_commitment_from_key(key, id, len, c))
        return false;
    return cu_ct_equal(c, commitment, CU_HASH_LEN);
}

static size_t opt_len(const char *s) { return s ? strnlen(s, CU_LEDGER_STR_MAX + 1) : 0; }

cu_rc cu_ledger_entry_encode_access(const cu_ledger_access *a, const uint8_t secret[CU_LEDGER_SECRET_LEN],
                                    uint8_t *out, size_t cap, size_t *len)
{
    const char *strs[9] = {a->id, a->officer, a->system, a->action, a->record, a->purpose, a->case_id, a->terminal,
                           a->area};
    cu_ledger_field f[12];
    uint8_t outcome = a->allow ? 1 : 2, results[4];
    uint8_t subj[CU_LEDGER_MAX_SUBJECTS * CU_HASH_LEN];
    cu_rc rc;
    *len = 0;
    for (int i = 0; i < 9; i++) {
        f[i] = (cu_ledger_field){(uint8_t)(CU_LEDGER_F_ID + i), strs[i], opt_len(strs[i])};
        if (f[i].len > CU_LEDGER_STR_MAX)
            return cu_err_set(CU_ERR_TOOBIG, "access entry: field %d over %d bytes", i + 1, CU_LEDGER_STR_MAX);
    }
    if (!f[0].len || !f[1].len || !f[2].len || !f[3].len)
        return cu_err_set(CU_ERR_INVAL, "access entry needs id, officer, system and action");
    if (a->nsubjects > CU_LEDGER_MAX_SUBJECTS)
        return cu_err_set(CU_ERR_TOOBIG, "access entry: %zu subjects, at most %d", a->nsubjects,
                          CU_LEDGER_MAX_SUBJECTS);
    for (size_t i = 0; i < a->nsubjects; i++) {
        size_t sl = opt_len(a->subjects[i]);
        if (sl == 0 || sl > CU_LEDGER_STR_MAX)
            return cu_err_set(CU_ERR_INVAL, "access entry: subject %zu is empty or too long", i);
        if ((rc = cu_ledger_commitment(secret, a->subjects[i], sl, subj + i * CU_HASH_LEN)))
            return rc;
    }
    cu_put_be32(results, a->results);
    f[9] = (cu_ledger_field){CU_LEDGER_F_OUTCOME, &outcome, 1};
    f[10] = (cu_ledger_field){CU_LEDGER_F_RESULTS, results, 4};
    f[11] = (cu_ledger_field){CU_LEDGER_F_SUBJECTS, subj, a->nsubjects * CU_HASH_LEN};
    return cu_ledger_entry_encode(CU_LEDGER_ACCESS, a->ts, f, 12, out, cap, len);
}

const cu_ledger_field *cu_ledger_entry_field(const cu_ledger_entry *e, uint8_t tag)
{
    for (size_t i = 0; i < e->nfields; i++)
        if (e->fields[i].tag == tag)
            return &e->fields[i];
    return NULL;
}

static cu_rc check_access(const cu_ledger_entry *e)
{
    for (uint8_t t = CU_LEDGER_F_ID; t <= CU_LEDGER_F_ACTION; t++)
        if (!cu_ledger_entry_field(e, t))
            return cu_err_set(CU_ERR_PARSE, "access entry: required field %u is missing", t);
    for (size_t i = 0; i < e->nfields; i++) {
        const cu_ledger_field *f = &e->fields[i];
        if (f->tag > CU_LEDGER_F_SUBJECTS)
            return cu_err_set(CU_ERR_PARSE, "access entry: unknown field %u", f->tag);
        if (f->tag <= CU_LEDGER_F_AREA && f->len > CU_LEDGER_STR_MAX)
            return cu_err_set(CU_ERR_PARSE, "access entry: field %u over %d bytes", f->tag, CU_LEDGER_STR_MAX);
        if (f->tag == CU_LEDGER_F_OUTCOME &&
            (f->len != 1 || (((const uint8_t *)f->data)[0] != 1 && ((const uint8_t *)f->data)[0] != 2)))
            return cu_err_set(CU_ERR_PARSE, "access entry: outcome must be one byte, 1 or 2");
        if (f->tag == CU_LEDGER_F_RESULTS && f->len != 4)
            return cu_err_set(CU_ERR_PARSE, "access entry: results must be 4 bytes");
        if (f->tag == CU_LEDGER_F_SUBJECTS &&
            (f->len % CU_HASH_LEN || f->len / CU_HASH_LEN > CU_LEDGER_MAX_SUBJECTS))
            return cu_err_set(CU_ERR_PARSE, "access entry: subjects must be up to %d 32-byte commitments",
                              CU_LEDGER_MAX_SUBJECTS);
    }
    if (!cu_ledger_entry_field(e, CU_LEDGER_F_OUTCOME))
        return cu_err_set(CU_ERR_PARSE, "access entry: required field %u is missing", CU_LEDGER_F_OUTCOME);
    return CU_OK;
}

cu_rc cu_ledger_entry_decode(const void *data, size_t len, cu_ledger_entry *out)
{
    const uint8_t *p = data;
    size_t o = HDR;
    int last = 0;
    memset(out, 0, sizeof *out);
    if (len > CU_LEDGER_ENTRY_MAX)
        return cu_err_set(CU_ERR_TOOBIG, "entry of %zu bytes, at most %u", len, CU_LEDGER_ENTRY_MAX);
    if (len < HDR)
        return cu_err_set(CU_ERR_PARSE, "entry of %zu bytes is shorter than its header", len);
    if (p[0] != CU_LEDGER_ENTRY_VERSION)
        return cu_err_set(CU_ERR_UNSUPPORTED, "entry version %u", p[0]);
    if (p[1] == 0)
        return cu_err_set(CU_ERR_PARSE, "entry type 0");
    out->type = p[1];
    out->ts = (int64_t)cu_get_be64(p + 2);
    while (o < len) {
        if (len - o < 3)
            return cu_err_set(CU_ERR_PARSE, "byte %zu: field header cut short", o);
        uint8_t tag = p[o];
        size_t fl = cu_get_be16(p + o + 1);
        if (tag <= last)
            return cu_err_set(CU_ERR_PARSE, "byte %zu: field tag %u after %d (tags must increase)", o, tag, last);
        if (fl == 0)
            return cu_err_set(CU_ERR_PARSE, "byte %zu: empty field %u (absent fields are omitted)", o, tag);
        if (fl > len - o - 3)
            return cu_err_set(CU_ERR_PARSE, "byte %zu: field %u of %zu bytes runs past the end", o, tag, fl);
        if (out->nfields == CU_LEDGER_MAX_FIELDS)
            return cu_err_set(CU_ERR_PARSE, "byte %zu: more than %d fields", o, CU_LEDGER_MAX_FIELDS);
        out->fields[out->nfields++] = (cu_ledger_field){tag, p + o + 3, fl};
        last = tag;
        o += 3 + fl;
    }
    if (out->type == CU_LEDGER_ACCESS)
        return check_access(out);
    return CU_OK;
}
