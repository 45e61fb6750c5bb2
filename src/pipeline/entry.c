/* The binary encoding of an access entry in the durable log.
 *
 * Temporary: the ledger module owns the canonical encoding
 * (cu_ledger_entry_encode_access); until it is merged the pipeline writes
 * this one, which carries the same fields:
 *   u8 type (1 = access), u8 version (1), i64 BE event time,
 *   8 strings as [u8 length][bytes] (length 0 = null): event id, officer,
 *   system, record, purpose, case, terminal, area,
 *   u8 action, u8 outcome, u8 has_results, u32 BE results,
 *   u16 BE count, then count 32-byte commitments of the people looked up
 *   (HMAC-SHA-256 under the log's secret: the log never holds who was
 *   looked up in the clear).
 * Decoding checks every length against the entry size.
 */
#include "pipeline/pipeline_int.h"

#include <string.h>

static size_t put_str(uint8_t *o, const char *s)
{
    size_t l = s ? strlen(s) : 0;
    o[0] = (uint8_t)l;
    if (l)
        memcpy(o + 1, s, l);
    return 1 + l;
}

cu_rc cu_entry_encode(const cu_names *n, const cu_event *ev, cu_commit_fn commit, void *ud, uint8_t *out, size_t cap,
                      size_t *len)
{
    if (cap < CU_ENTRY_MAX)
        return cu_err_set(CU_ERR_INVAL, "entry buffer too small");
    if ((size_t)ev->nsubjects * 32 + 2 + 10 + 9 * (CU_ID_MAX_LEN + 1) + 7 > CU_ENTRY_MAX)
        return cu_err_set(CU_ERR_TOOBIG, "event %s has too many people for one entry", ev->id);
    size_t o = 0;
    out[o++] = 1;
    out[o++] = 1;
    cu_put_be64(out + o, (uint64_t)ev->ts);
    o += 8;
    o += put_str(out + o, ev->id);
    o += put_str(out + o, cu_names_str(n, CU_K_OFFICER, ev->officer));
    o += put_str(out + o, cu_names_str(n, CU_K_SYSTEM, ev->system));
    o += put_str(out + o, cu_names_str(n, CU_K_RECORD, ev->record));
    o += put_str(out + o, cu_names_str(n, CU_K_PURPOSE, ev->purpose));
    o += put_str(out + o, cu_names_str(n, CU_K_CASE, ev->case_id));
    o += put_str(out + o, cu_names_str(n, CU_K_TERMINAL, ev->terminal));
    o += put_str(out + o, cu_names_str(n, CU_K_AREA, ev->area));
    out[o++] = ev->action;
    out[o++] = ev->outcome;
    out[o++] = ev->has_results;
    cu_put_be32(out + o, ev->results);
    o += 4;
    cu_put_be16(out + o, (uint16_t)ev->nsubjects);
    o += 2;
    for (uint32_t i = 0; i < ev->nsubjects; i++) {
        cu_rc rc = commit(ud, ev->subjects[i], out + o);
        if (rc)
            return rc;
        o += 32;
    }
    *len = o;
    return CU_OK;
}

cu_rc cu_entry_decode(const uint8_t *p, size_t len, cu_entry_view *v)
{
    memset(v, 0, sizeof *v);
    size_t o = 0;
#define NEED(k)                                                                    \
    do {                                                                           \
        if (len - o < (size_t)(k))                                                 \
            return cu_err_set(CU_ERR_CORRUPT, "access entry truncated");           \
    } while (0)
    NEED(10);
    if (p[0] != 1 || p[1] != 1)
        return cu_err_set(CU_ERR_UNSUPPORTED, "not an access entry of version 1");
    v->ts = (int64_t)cu_get_be64(p + 2);
    o = 10;
    for (int i = 0; i < 8; i++) {
        NEED(1);
        uint8_t l = p[o++];
        NEED(l);
        if (l > CU_ID_MAX_LEN)
            return cu_err_set(CU_ERR_CORRUPT, "access entry: id too long");
        v->str[i] = l ? (const char *)p + o : NULL;
        v->len[i] = l;
        o += l;
    }
    NEED(9);
    v->action = p[o];
    v->outcome = p[o + 1];
    v->has_results = p[o + 2] != 0;
    v->results = cu_get_be32(p + o + 3);
    v->nsubjects = cu_get_be16(p + o + 7);
    o += 9;
    if (v->action >= CU_ACT_COUNT_ || v->outcome > CU_OUT_DENY || !v->str[EV_ID] || !v->str[EV_OFFICER] ||
        !v->str[EV_SYSTEM])
        return cu_err_set(CU_ERR_CORRUPT, "access entry: bad field");
    NEED((size_t)v->nsubjects * 32);
    v->subjects = p + o;
    o += (size_t)v->nsubjects * 32;
    if (o != len)
        return cu_err_set(CU_ERR_CORRUPT, "access entry: trailing bytes");
#undef NEED
    return CU_OK;
}
