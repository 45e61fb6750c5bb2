/*
 * Gateway reference data: interchange JSON Lines into the resident store
 * (store.c); docs/policy-pack.md has the mapping to Cedar entities.
 *
 * Invariants
 * 1. A line is either taken whole or not at all: it is checked completely
 *    before it changes the store (only interned strings may stay behind).
 * 2. A later line replaces the earlier object of the same kind and id; an
 *    assign line needs its case on an earlier line, and takes effect at its
 *    ts whatever its place in the file (snap.c folds them by time).
 * 3. Times are seconds since the epoch; "never" is 253402300799.
 */
#include "gateway_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define NEVER INT64_C(253402300799)

/* ------------------------------------------------------------------- map */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static cu_rc map_grow(gw_map *m)
{
    size_t nc = m->cap ? m->cap * 2 : 64;
    const char **nk = cu_calloc(nc, sizeof *nk);
    uint32_t *nv = cu_calloc(nc, sizeof *nv);
    if (!nk || !nv) {
        cu_free(nk);
        cu_free(nv);
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = hash_str(m->keys[i]) & (nc - 1);
        while (nk[j])
            j = (j + 1) & (nc - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    cu_free(m->keys);
    cu_free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = nc;
    return CU_OK;
}

cu_rc gw_map_put(gw_map *m, cu_arena *a, const char *key, uint32_t val)
{
    if ((m->count + 1) * 4 > m->cap * 3) {
        cu_rc rc = map_grow(m);
        if (rc)
            return rc;
    }
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) {
            m->vals[j] = val;
            return CU_OK;
        }
        j = (j + 1) & (m->cap - 1);
    }
    char *k = cu_arena_strndup(a, key, strlen(key));
    if (!k)
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    m->keys[j] = k;
    m->vals[j] = val;
    m->count++;
    return CU_OK;
}

bool gw_map_get(const gw_map *m, const char *key, uint32_t *val)
{
    if (!m->cap)
        return false;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) {
            if (val)
                *val = m->vals[j];
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}

void gw_map_free(gw_map *m)
{
    cu_free(m->keys);
    cu_free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------ line validation */

static const char *const VETTING[] = {"RV", "MV", "NPPV1", "NPPV2", "NPPV3", "CTC", "SC", "eSC", "DV"};

static bool one_of(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool good_id(const json_t *j)
{
    if (!json_is_string(j))
        return false;
    size_t n = json_string_length(j);
    return n > 0 && n <= CU_GATEWAY_MAX_ID && strlen(json_string_value(j)) == n;
}

static cu_rc need_id(const json_t *o, const char *k)
{
    if (!good_id(json_object_get(o, k)))
        return cu_err_set(CU_ERR_PARSE, "\"%s\" must be an id (a string of 1-%d bytes)", k, CU_GATEWAY_MAX_ID);
    return CU_OK;
}

static cu_rc need_str(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_string(v) || json_string_length(v) > 256)
        return cu_err_set(CU_ERR_PARSE, "\"%s\" must be a string", k);
    return CU_OK;
}

static cu_rc need_ids(const json_t *o, const char *k, bool required)
{
    const json_t *v = json_object_get(o, k);
    if (!v && !required)
        return CU_OK;
    if (!json_is_array(v))
        return cu_err_set(CU_ERR_PARSE, "\"%s\" must be an array of ids", k);
    size_t i;
    const json_t *x;
    json_array_foreach(v, i, x) if (!good_id(x)) return cu_err_set(CU_ERR_PARSE, "\"%s\"[%zu] is not an id", k, i);
    return CU_OK;
}

/* A time: RFC 3339 or a plain date; null gives dflt when nullable. */
static cu_rc get_time(const json_t *o, const char *k, bool nullable, int64_t dflt, int64_t *out)
{
    const json_t *v = json_object_get(o, k);
    if ((!v || json_is_null(v)) && nullable) {
        *out = dflt;
        return CU_OK;
    }
    if (!json_is_string(v))
        return cu_err_set(CU_ERR_PARSE, "\"%s\" must be a date or time", k);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (cu_date_parse(s, n, out) == CU_OK || cu_time_parse(s, n, out) == CU_OK)
        return CU_OK;
    return cu_err_set(CU_ERR_PARSE, "\"%s\": bad date or time \"%.40s\"", k, s);
}

static cu_rc check_line(json_t *o)
{
    cu_rc rc;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    if (!kind)
        return cu_err_set(CU_ERR_PARSE, "no \"kind\"");
    int64_t t;
    if (strcmp(kind, "officer") == 0) {
        if ((rc = need_id(o, "id")) || (rc = need_str(o, "role")) || (rc = need_str(o, "unit")) ||
            (rc = need_str(o, "area")) || (rc = get_time(o, "start", true, 0, &t)) ||
            (rc = get_time(o, "end", true, NEVER, &t)))
            return rc;
        const json_t *vet = json_object_get(o, "vetting");
        if (vet && !json_is_null(vet)) {
            const json_t *lvl = json_object_get(vet, "level");
            if (!json_is_object(vet) || !json_is_string(lvl) ||
                !one_of(json_string_value(lvl), VETTING, sizeof VETTING / sizeof *VETTING))
                return cu_err_set(CU_ERR_PARSE, "\"vetting.level\" must be one of RV, MV, NPPV1-3, CTC, SC, eSC, DV");
            if ((rc = get_time(vet, "granted", true, 0, &t)) || (rc = get_time(vet, "expires", false, 0, &t)))
                return cu_err_set(rc, "vetting: %s", cu_err_detail());
        }
        const json_t *rel = json_object_get(o, "relations");
        if (rel && !json_is_array(rel))
            return cu_err_set(CU_ERR_PARSE, "\"relations\" must be an array");
        size_t i;
        const json_t *x;
        json_array_foreach(rel, i, x) if (!good_id(json_object_get(x, "person"))) return cu_err_set(
            CU_ERR_PARSE, "\"relations\"[%zu] has no person id", i);
        return need_ids(o, "caveats", false); /* caveat names are short strings too */
    }
    if (strcmp(kind, "person") == 0) {
        if ((rc = need_id(o, "id")) || (rc = need_ids(o, "flags", false)))
            return rc;
        const json_t *a = json_object_get(o, "area");
        if (a && !json_is_string(a) && !json_is_null(a))
            return cu_err_set(CU_ERR_PARSE, "\"area\" must be a string");
        return CU_OK;
    }
    if (strcmp(kind, "record") == 0) {
        if ((rc = need_id(o, "id")) || (rc = need_str(o, "type")) || (rc = need_id(o, "system")) ||
            (rc = need_str(o, "area")) || (rc = need_ids(o, "subjects", true)) || (rc = need_ids(o, "caveats", false)))
            return rc;
        const json_t *c = json_object_get(o, "classification");
        if (!json_is_string(c))
            return cu_err_set(CU_ERR_PARSE, "\"classification\" must be a string");
        const json_t *live = json_object_get(o, "live");
        if (live && !json_is_boolean(live))
            return cu_err_set(CU_ERR_PARSE, "\"live\" must be true or false");
        return CU_OK;
    }
    if (strcmp(kind, "case") == 0) {
        if ((rc = need_id(o, "id")) || (rc = get_time(o, "opened", false, 0, &t)) ||
            (rc = get_time(o, "closed", true, NEVER, &t)) || (rc = need_ids(o, "officers", true)) ||
            (rc = need_ids(o, "subjects", false)) || (rc = need_ids(o, "records", false)))
            return rc;
        const json_t *a = json_object_get(o, "area");
        if (a && !json_is_string(a) && !json_is_null(a))
            return cu_err_set(CU_ERR_PARSE, "\"area\" must be a string");
        return CU_OK;
    }
    if (strcmp(kind, "assign") == 0) {
        if ((rc = need_id(o, "case")) || (rc = need_id(o, "officer")) || (rc = get_time(o, "ts", false, 0, &t)))
            return rc;
        const char *op = json_string_value(json_object_get(o, "op"));
        if (!op || (strcmp(op, "add") && strcmp(op, "remove")))
            return cu_err_set(CU_ERR_PARSE, "\"op\" must be add or remove");
        return CU_OK;
    }
    return cu_err_set(CU_ERR_PARSE, "unknown kind \"%.32s\"", kind);
}

/* ------------------------------------------------------------ intake */

static const char *sval(const json_t *o, const char *k, const char *dflt, size_t *n)
{
    const json_t *v = json_object_get(o, k);
    if (json_is_string(v)) {
        *n = json_string_length(v);
        return json_string_value(v);
    }
    *n = strlen(dflt);
    return dflt;
}

static cu_rc atom_of(gw_store *s, const json_t *o, const char *k, const char *dflt, uint32_t *out)
{
    size_t n;
    const char *v = sval(o, k, dflt, &n);
    return gw_atom(s, v, n, out);
}

static int64_t tget(const json_t *o, const char *k, int64_t dflt)
{
    int64_t t = dflt;
    if (get_time(o, k, true, dflt, &t))
        return dflt;
    return t;
}

/* A set atom from an array of strings (absent: the empty set). */
static cu_rc set_of(gw_store *s, const json_t *arr, uint32_t *out)
{
    const char *items[GW_MAX_SET];
    size_t lens[GW_MAX_SET];
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (n > GW_MAX_SET)
        return cu_err_set(CU_ERR_TOOBIG, "more than %d strings in a set", GW_MAX_SET);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(arr, i);
        items[i] = json_string_value(x);
        lens[i] = json_string_length(x);
    }
    return gw_set_atom(s, items, lens, n, out);
}

typedef cu_rc (*id_fn)(gw_store *, const char *, size_t, uint32_t *);

/* A list of ids (or of objects' key member) as a gw_list. */
static cu_rc list_of(gw_store *s, const json_t *arr, const char *key, id_fn fn, gw_list *out)
{
    uint32_t items[GW_MAX_LIST];
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (n > GW_MAX_LIST)
        return cu_err_set(CU_ERR_TOOBIG, "more than %d ids in a list", GW_MAX_LIST);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(arr, i);
        if (key)
            x = json_object_get(x, key);
        cu_rc rc = fn(s, json_string_value(x), json_string_length(x), &items[i]);
        if (rc)
            return rc;
    }
    return gw_list_make(s, items, n, out);
}

static cu_rc check_lists(const json_t *o, const char *const *keys, size_t nk)
{
    for (size_t i = 0; i < nk; i++) {
        const json_t *v = json_object_get(o, keys[i]);
        if (json_is_array(v) && json_array_size(v) > GW_MAX_LIST)
            return cu_err_set(CU_ERR_TOOBIG, "\"%s\": more than %d ids", keys[i], GW_MAX_LIST);
    }
    return CU_OK;
}

static cu_rc check_sets(const json_t *o, const char *const *keys, size_t nk)
{
    for (size_t i = 0; i < nk; i++) {
        const json_t *v = json_object_get(o, keys[i]);
        if (json_is_array(v) && json_array_size(v) > GW_MAX_SET)
            return cu_err_set(CU_ERR_TOOBIG, "\"%s\": more than %d strings", keys[i], GW_MAX_SET);
        size_t k;
        const json_t *x;
        json_array_foreach(v, k, x) if (!json_is_string(x) || json_string_length(x) > 256 ||
                                        strlen(json_string_value(x)) != json_string_length(x)) return cu_err_set(
            CU_ERR_PARSE, "\"%s\"[%zu] must be a string", keys[i], k);
    }
    return CU_OK;
}

static cu_rc take(gw_store *s, const json_t *o)
{
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const json_t *jid = json_object_get(o, "id");
    const char *id = json_string_value(jid);
    size_t idn = json_string_length(jid);
    uint32_t idx;
    cu_rc rc;
    if (strcmp(kind, "officer") == 0) {
        static const char *const sets[] = {"caveats"}, *const lists[] = {"relations"};
        if ((rc = check_sets(o, sets, 1)) || (rc = check_lists(o, lists, 1)))
            return rc;
        gw_officer f = {0};
        const json_t *vet = json_object_get(o, "vetting");
        bool has_vet = json_is_object(vet);
        if ((rc = gw_officer_id(s, id, idn, &idx)) || (rc = atom_of(s, o, "role", "", &f.role)) ||
            (rc = atom_of(s, o, "unit", "", &f.unit)) || (rc = atom_of(s, o, "area", "", &f.area)) ||
            (rc = atom_of(s, has_vet ? vet : o, has_vet ? "level" : "\x01", "NONE", &f.vetting)) ||
            (rc = set_of(s, json_object_get(o, "caveats"), &f.caveats)) ||
            (rc = list_of(s, json_object_get(o, "relations"), "person", gw_person_id, &f.relations)))
            return rc;
        f.id = s->officers[idx].id;
        f.granted = has_vet ? tget(vet, "granted", 0) : 0;
        f.expires = has_vet ? tget(vet, "expires", 0) : 0;
        f.start = tget(o, "start", 0);
        f.end = tget(o, "end", NEVER);
        f.defined = true;
        s->officers[idx] = f;
        return CU_OK;
    }
    if (strcmp(kind, "person") == 0) {
        static const char *const sets[] = {"flags"};
        if ((rc = check_sets(o, sets, 1)))
            return rc;
        gw_person p = {0};
        if ((rc = gw_person_id(s, id, idn, &idx)) || (rc = atom_of(s, o, "area", "", &p.area)) ||
            (rc = set_of(s, json_object_get(o, "flags"), &p.flags)))
            return rc;
        p.id = s->persons[idx].id;
        p.defined = true;
        s->persons[idx] = p;
        return CU_OK;
    }
    if (strcmp(kind, "record") == 0) {
        static const char *const sets[] = {"caveats"}, *const lists[] = {"subjects"};
        if ((rc = check_sets(o, sets, 1)) || (rc = check_lists(o, lists, 1)))
            return rc;
        gw_record r = {0};
        uint32_t t, sy, ar, cl;
        if ((rc = gw_record_id(s, id, idn, &idx)) || (rc = atom_of(s, o, "type", "", &t)) ||
            (rc = atom_of(s, o, "system", "", &sy)) || (rc = atom_of(s, o, "area", "", &ar)) ||
            (rc = atom_of(s, o, "classification", "", &cl)) ||
            (rc = set_of(s, json_object_get(o, "caveats"), &r.caveats)) ||
            (rc = list_of(s, json_object_get(o, "subjects"), NULL, gw_person_id, &r.subjects)))
            return rc;
        const json_t *live = json_object_get(o, "live");
        r.id = s->records[idx].id;
        r.type = (uint16_t)t;
        r.system = (uint16_t)sy;
        r.area = (uint16_t)ar;
        r.cls = (uint16_t)cl;
        r.live = live ? json_is_true(live) : true;
        r.defined = true;
        s->records[idx] = r;
        return CU_OK;
    }
    if (strcmp(kind, "case") == 0) {
        static const char *const lists[] = {"officers", "subjects", "records"};
        if ((rc = check_lists(o, lists, 3)))
            return rc;
        gw_case c = {0};
        if ((rc = gw_case_id(s, id, idn, &idx)) || (rc = atom_of(s, o, "area", "", &c.area)) ||
            (rc = list_of(s, json_object_get(o, "officers"), NULL, gw_officer_id, &c.officers)) ||
            (rc = list_of(s, json_object_get(o, "subjects"), NULL, gw_person_id, &c.subjects)) ||
            (rc = list_of(s, json_object_get(o, "records"), NULL, gw_record_id, &c.records)))
            return rc;
        c.id = s->cases[idx].id;
        c.opened = tget(o, "opened", 0);
        c.closed = tget(o, "closed", NEVER);
        c.defined = true;
        s->cases[idx] = c;
        return CU_OK;
    }
    /* assign (check_line let nothing else through) */
    const json_t *jc = json_object_get(o, "case"), *jo = json_object_get(o, "officer");
    uint32_t ci, oi;
    if (!gw_find(s, GW_CASE, json_string_value(jc), json_string_length(jc), &ci))
        return cu_err_set(CU_ERR_NOTFOUND, "assign: no case \"%s\" before this line", json_string_value(jc));
    if ((rc = gw_officer_id(s, json_string_value(jo), json_string_length(jo), &oi)))
        return rc;
    return gw_put_assign(s, ci, oi, tget(o, "ts", 0), strcmp(json_string_value(json_object_get(o, "op")), "add") == 0);
}

cu_rc gw_store_line(gw_store *s, const char *line, size_t n)
{
    if (n > CU_GATEWAY_MAX_REFERENCE_LINE)
        return cu_err_set(CU_ERR_TOOBIG, "line longer than %d bytes", CU_GATEWAY_MAX_REFERENCE_LINE);
    json_error_t jerr;
    json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
    cu_rc rc;
    if (!o)
        rc = cu_err_set(CU_ERR_PARSE, "malformed JSON: %s", jerr.text);
    else if (!json_is_object(o))
        rc = cu_err_set(CU_ERR_PARSE, "not a JSON object");
    else if ((rc = check_line(o)) == CU_OK)
        rc = take(s, o);
    json_decref(o);
    return rc;
}

cu_rc gw_store_read(gw_store *st, const char *text, size_t len, const char *name, cu_buf *report, size_t *accepted)
{
    return gw_store_read_peer(st, text, len, name, NULL, report, accepted);
}

cu_rc gw_store_read_peer(gw_store *st, const char *text, size_t len, const char *name, const cu_gateway_ref_peer *peer,
                         cu_buf *report, size_t *accepted)
{
    size_t taken = 0;
    uint64_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        size_t body = n;
        if (body && line[body - 1] == '\r')
            body--;
        size_t k = 0;
        while (k < body && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == body)
            continue; /* blank line */
        /* the peer judges first (nothing changes there until apply), then
         * the gateway (a refused line changes nothing), then the peer applies */
        cu_rc rc = peer ? peer->check(peer->ud, line, body, lineno) : CU_OK;
        if (!rc)
            rc = gw_store_line(st, line, body);
        if (!rc && peer && (rc = peer->apply(peer->ud)) != CU_OK)
            return rc; /* the gateway took a line its peer could not: stop, nothing is published */
        if (rc == CU_ERR_NOMEM)
            return rc;
        if (rc) {
            cu_err_prefix("%s:%" PRIu64, name, lineno);
            if (!report)
                return rc;
            if (cu_buf_appendf(report, "%s\n", cu_err_detail())) {
                /* the report is bounded: later lines go unreported */
            }
            continue;
        }
        taken++;
    }
    if (accepted)
        *accepted = taken;
    return CU_OK;
}
