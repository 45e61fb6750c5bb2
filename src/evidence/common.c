/*
 * What export and verify share: the member list, the mapping of access
 * entry fields to the bundle's clear values (which fields a person typed
 * and which the system wrote), and small JSON / base64 helpers.
 *
 * Invariant: export writes the clear values with cu_ev_clear_json and
 * verify recomputes them with the same function from the entry bytes, so
 * the two can never disagree about the mapping.
 */
#include "evidence/evidence_int.h"

#include <string.h>

const char *const cu_ev_members[EV_NMEMBERS] = {EV_MANIFEST, EV_KEY,      EV_CP,   EV_CP_OLD,  EV_CONS,
                                                EV_ENTRIES,  EV_COMPLETE, EV_PROV, EV_DEFECTS, EV_REPORT};

/* purpose and case are chosen by the officer at the terminal: the record
 * system does not check them, so the bundle marks them as typed. */
const ev_field_map cu_ev_fields[9] = {
    {CU_LEDGER_F_ID, "id", false},           {CU_LEDGER_F_OFFICER, "officer", false},
    {CU_LEDGER_F_SYSTEM, "system", false},   {CU_LEDGER_F_ACTION, "action", false},
    {CU_LEDGER_F_RECORD, "record", false},   {CU_LEDGER_F_PURPOSE, "purpose", true},
    {CU_LEDGER_F_CASE, "case", true},        {CU_LEDGER_F_TERMINAL, "terminal", false},
    {CU_LEDGER_F_AREA, "area", false},
};

cu_rc cu_ev_access_view(const cu_ledger_entry *e, ev_access *a)
{
    memset(a, 0, sizeof *a);
    if (e->type != CU_LEDGER_ACCESS)
        return cu_err_set(CU_ERR_UNSUPPORTED, "entry of type %u (only access entries are bundled)", e->type);
    a->ts = e->ts;
    for (size_t i = 0; i < e->nfields; i++) {
        const cu_ledger_field *f = &e->fields[i];
        if (f->tag >= CU_LEDGER_F_ID && f->tag <= CU_LEDGER_F_AREA) {
            a->str[f->tag] = f->data;
            a->len[f->tag] = f->len;
        } else if (f->tag == CU_LEDGER_F_OUTCOME) {
            a->allow = ((const uint8_t *)f->data)[0] == 1;
        } else if (f->tag == CU_LEDGER_F_RESULTS) {
            a->results = cu_get_be32(f->data);
            a->has_results = true;
        } else if (f->tag == CU_LEDGER_F_SUBJECTS) {
            a->subjects = f->data;
            a->nsubjects = f->len / CU_HASH_LEN;
        }
    }
    return CU_OK;
}

cu_rc cu_ev_clear_json(const ev_access *a, json_t **machine, json_t **typed)
{
    char ts[21];
    json_t *m = json_object(), *t = json_object();
    *machine = *typed = NULL;
    if (!m || !t)
        goto nomem;
    cu_time_format(a->ts, ts);
    if (json_object_set_new(m, "ts", json_string(ts)))
        goto nomem;
    for (size_t i = 0; i < 9; i++) {
        const ev_field_map *f = &cu_ev_fields[i];
        if (!a->str[f->tag])
            continue;
        json_t *s = json_stringn((const char *)a->str[f->tag], a->len[f->tag]);
        if (!s) {
            json_decref(m);
            json_decref(t);
            return cu_err_set(CU_ERR_PARSE, "entry field %s is not valid UTF-8", f->key);
        }
        if (json_object_set_new(f->typed ? t : m, f->key, s))
            goto nomem;
    }
    if (json_object_set_new(m, "outcome", json_string(a->allow ? "allow" : "deny")))
        goto nomem;
    if (a->has_results && json_object_set_new(m, "results", json_integer(a->results)))
        goto nomem;
    *machine = m;
    *typed = t;
    return CU_OK;
nomem:
    json_decref(m);
    json_decref(t);
    return CU_ERR_NOMEM;
}

cu_rc cu_ev_json_obj(const char *what, const char *s, size_t n, json_t **out)
{
    json_error_t err;
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err);
    *out = NULL;
    if (!j)
        return cu_err_set(CU_ERR_PARSE, "%s: %s (column %d)", what, err.text, err.column);
    if (!json_is_object(j)) {
        json_decref(j);
        return cu_err_set(CU_ERR_PARSE, "%s: not a JSON object", what);
    }
    *out = j;
    return CU_OK;
}

cu_rc cu_ev_b64_32(const char *s, uint8_t out[32])
{
    uint8_t tmp[33];
    size_t n = 0;
    if (!s || strlen(s) != 44 || cu_b64_decode(s, 44, tmp, &n) || n != 32)
        return cu_err_set(CU_ERR_PARSE, "not a base64 32-byte value");
    memcpy(out, tmp, 32);
    return CU_OK;
}

void cu_ev_b64_enc32(const uint8_t in[32], char out[45]) { cu_b64_encode(in, 32, out); }
