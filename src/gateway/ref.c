/*
 * Gateway reference data: interchange JSON Lines -> a snapshot of Cedar
 * entities (docs/policy-pack.md has the mapping).
 *
 * A snapshot is built in two passes.  Pass 1 reads every line into a model
 * keyed by kind and id (a later line replaces an earlier object of the same
 * kind and id; an assign line edits the case's officers).  Pass 2 turns the
 * final model into entities: officers, people, cases, records (whose parents
 * are the cases that list them), and a System entity per system named.
 *
 * Invariants
 * 1. A line is either taken whole or not at all: it is checked completely
 *    before it changes the model.
 * 2. The text kept in a snapshot is exactly the lines taken, so a later
 *    update rebuilds from it and gets the same model plus the new lines.
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

/* -------------------------------------------------------------- snapshot */

cu_rc gw_snap_wrap(cu_policy_entities *ents, gw_snap **out)
{
    gw_snap *s = cu_calloc(1, sizeof *s);
    if (!s)
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    s->arena = cu_arena_new(64 * 1024, (size_t)8 << 30);
    if (!s->arena) {
        cu_free(s);
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    }
    atomic_init(&s->refs, 1);
    s->ents = ents;
    *out = s;
    return CU_OK;
}

cu_rc gw_snap_empty(gw_snap **out)
{
    cu_policy_entities *e = NULL;
    cu_rc rc = cu_policy_entities_new(&e);
    if (rc)
        return rc;
    rc = cu_policy_entities_finalize(e);
    if (!rc)
        rc = gw_snap_wrap(e, out);
    if (rc)
        cu_policy_entities_free(e);
    return rc;
}

void gw_snap_release(gw_snap *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    cu_policy_entities_free(s->ents);
    gw_map_free(&s->officers);
    gw_map_free(&s->records);
    gw_map_free(&s->cases);
    cu_free(s->systems);
    cu_arena_free(s->arena);
    cu_free(s->text);
    cu_free(s);
}

static cu_rc snap_system(gw_snap *s, const char *name, uint32_t *idx)
{
    for (uint32_t i = 0; i < s->nsystems; i++)
        if (strcmp(s->systems[i], name) == 0) {
            *idx = i;
            return CU_OK;
        }
    if (s->nsystems == s->capsystems) {
        uint32_t nc = s->capsystems ? s->capsystems * 2 : 16;
        const char **n = cu_realloc(s->systems, nc * sizeof *n);
        if (!n)
            return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
        s->systems = n;
        s->capsystems = nc;
    }
    char *c = cu_arena_strndup(s->arena, name, strlen(name));
    if (!c)
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    s->systems[s->nsystems] = c;
    *idx = s->nsystems++;
    return CU_OK;
}

cu_rc gw_snap_note(gw_snap *s, int kind, const char *id, const char *system)
{
    uint32_t v = 0;
    if (kind == GW_RECORD && system) {
        cu_rc rc = snap_system(s, system, &v);
        if (rc)
            return rc;
    }
    gw_map *m = kind == GW_OFFICER ? &s->officers : kind == GW_RECORD ? &s->records : &s->cases;
    return gw_map_put(m, s->arena, id, v);
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

/* ----------------------------------------------------------------- model */

struct model {
    json_t *by_kind[4]; /* officer, person, record, case: id -> object */
};

static int kind_index(const char *k)
{
    static const char *const names[] = {"officer", "person", "record", "case"};
    for (int i = 0; i < 4; i++)
        if (strcmp(k, names[i]) == 0)
            return i;
    return -1;
}

/* Take one checked line into the model. */
static cu_rc model_take(struct model *m, json_t *o)
{
    const char *kind = json_string_value(json_object_get(o, "kind"));
    if (strcmp(kind, "assign") == 0) {
        json_t *c = json_object_get(m->by_kind[3], json_string_value(json_object_get(o, "case")));
        if (!c)
            return cu_err_set(CU_ERR_NOTFOUND, "assign: no case \"%s\" before this line",
                              json_string_value(json_object_get(o, "case")));
        json_t *offs = json_object_get(c, "officers");
        const char *who = json_string_value(json_object_get(o, "officer"));
        bool add = strcmp(json_string_value(json_object_get(o, "op")), "add") == 0;
        size_t i;
        json_t *x;
        json_array_foreach(offs, i, x) if (strcmp(json_string_value(x), who) == 0)
        {
            if (add)
                return CU_OK;
            json_array_remove(offs, i);
            return CU_OK;
        }
        if (add && json_array_append_new(offs, json_string(who)))
            return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
        return CU_OK;
    }
    int ki = kind_index(kind);
    if (json_object_set(m->by_kind[ki], json_string_value(json_object_get(o, "id")), o))
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    return CU_OK;
}

/* ---------------------------------------------------------- entity build */

#define RC(x)                                                                                        \
    do {                                                                                             \
        if ((rc = (x)) != CU_OK)                                                                     \
            goto fail;                                                                               \
    } while (0)

static const cu_policy_value *vstr(cu_arena *a, const json_t *j, const char *dflt)
{
    const char *s = json_is_string(j) ? json_string_value(j) : dflt;
    return cu_policy_val_string(a, s, strlen(s));
}

/* A set of strings, or of entities of type etype, from a JSON array (of
 * strings, or of objects with member key when key is given). */
static const cu_policy_value *vset(cu_arena *a, const json_t *arr, const char *etype, const char *key)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    const cu_policy_value **items = n ? cu_arena_alloc(a, n * sizeof *items) : NULL;
    if (n && !items)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(arr, i);
        if (key)
            x = json_object_get(x, key);
        const char *s = json_string_value(x);
        items[i] = etype ? cu_policy_val_entity(a, etype, s) : cu_policy_val_string(a, s, strlen(s));
        if (!items[i])
            return NULL;
    }
    return cu_policy_val_set(a, items, n);
}

static int64_t tget(const json_t *o, const char *k, int64_t dflt)
{
    int64_t t = dflt;
    if (get_time(o, k, true, dflt, &t))
        return dflt;
    return t;
}

static cu_rc set_attr(cu_policy_entities *e, cu_policy_entity *ent, const char *k, const cu_policy_value *v)
{
    if (!v)
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory building entities");
    return cu_policy_entity_set_attr(e, ent, k, v);
}

static cu_rc build_entities(struct model *m, gw_snap *s)
{
    cu_rc rc = CU_OK;
    cu_policy_entities *e = s->ents;
    cu_arena *a = cu_arena_new(64 * 1024, (size_t)1 << 30);
    if (!a)
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    const char *id;
    json_t *o;
    cu_policy_entity *ent;

    json_object_foreach(m->by_kind[1], id, o)
    {
        cu_arena_reset(a);
        const json_t *flags = json_object_get(o, "flags");
        RC(cu_policy_entities_add(e, "Person", id, &ent));
        RC(set_attr(e, ent, "area", vstr(a, json_object_get(o, "area"), "")));
        RC(set_attr(e, ent, "flags", vset(a, flags, NULL, NULL)));
        RC(set_attr(e, ent, "protected", cu_policy_val_bool(a, json_array_size(flags) > 0)));
    }
    json_object_foreach(m->by_kind[0], id, o)
    {
        cu_arena_reset(a);
        const json_t *vet = json_object_get(o, "vetting");
        bool has_vet = json_is_object(vet);
        RC(cu_policy_entities_add(e, "Officer", id, &ent));
        RC(set_attr(e, ent, "role", vstr(a, json_object_get(o, "role"), "")));
        RC(set_attr(e, ent, "unit", vstr(a, json_object_get(o, "unit"), "")));
        RC(set_attr(e, ent, "area", vstr(a, json_object_get(o, "area"), "")));
        RC(set_attr(e, ent, "vetting", vstr(a, has_vet ? json_object_get(vet, "level") : NULL, "NONE")));
        RC(set_attr(e, ent, "vetting_granted", cu_policy_val_long(a, has_vet ? tget(vet, "granted", 0) : 0)));
        RC(set_attr(e, ent, "vetting_expires", cu_policy_val_long(a, has_vet ? tget(vet, "expires", 0) : 0)));
        RC(set_attr(e, ent, "start", cu_policy_val_long(a, tget(o, "start", 0))));
        RC(set_attr(e, ent, "end", cu_policy_val_long(a, tget(o, "end", NEVER))));
        RC(set_attr(e, ent, "caveats", vset(a, json_object_get(o, "caveats"), NULL, NULL)));
        RC(set_attr(e, ent, "relations", vset(a, json_object_get(o, "relations"), "Person", "person")));
        RC(gw_snap_note(s, GW_OFFICER, id, NULL));
    }
    json_object_foreach(m->by_kind[3], id, o)
    {
        cu_arena_reset(a);
        RC(cu_policy_entities_add(e, "Case", id, &ent));
        RC(set_attr(e, ent, "area", vstr(a, json_object_get(o, "area"), "")));
        RC(set_attr(e, ent, "opened", cu_policy_val_long(a, tget(o, "opened", 0))));
        RC(set_attr(e, ent, "closed", cu_policy_val_long(a, tget(o, "closed", NEVER))));
        RC(set_attr(e, ent, "officers", vset(a, json_object_get(o, "officers"), "Officer", NULL)));
        RC(set_attr(e, ent, "subjects", vset(a, json_object_get(o, "subjects"), "Person", NULL)));
        RC(gw_snap_note(s, GW_CASE, id, NULL));
    }
    json_object_foreach(m->by_kind[2], id, o)
    {
        cu_arena_reset(a);
        const json_t *subj = json_object_get(o, "subjects");
        bool prot = false;
        size_t i;
        const json_t *x;
        json_array_foreach(subj, i, x)
        {
            const json_t *p = json_object_get(m->by_kind[1], json_string_value(x));
            if (p && json_array_size(json_object_get(p, "flags")) > 0)
                prot = true;
        }
        const json_t *live = json_object_get(o, "live");
        const char *sys = json_string_value(json_object_get(o, "system"));
        RC(cu_policy_entities_add(e, "Record", id, &ent));
        RC(set_attr(e, ent, "type", vstr(a, json_object_get(o, "type"), "")));
        RC(set_attr(e, ent, "system", vstr(a, json_object_get(o, "system"), "")));
        RC(set_attr(e, ent, "area", vstr(a, json_object_get(o, "area"), "")));
        RC(set_attr(e, ent, "classification", vstr(a, json_object_get(o, "classification"), "")));
        RC(set_attr(e, ent, "caveats", vset(a, json_object_get(o, "caveats"), NULL, NULL)));
        RC(set_attr(e, ent, "subjects", vset(a, subj, "Person", NULL)));
        RC(set_attr(e, ent, "protected", cu_policy_val_bool(a, prot)));
        RC(set_attr(e, ent, "live", cu_policy_val_bool(a, live ? json_is_true(live) : true)));
        RC(gw_snap_note(s, GW_RECORD, id, sys));
    }
    /* Parents: each case's records.  A record a case names but that is not
     * in the reference data gets no entity (the link has nothing to open). */
    json_object_foreach(m->by_kind[3], id, o)
    {
        size_t i;
        const json_t *x;
        json_array_foreach(json_object_get(o, "records"), i, x)
        {
            const char *rid = json_string_value(x);
            if (!json_object_get(m->by_kind[2], rid))
                continue;
            RC(cu_policy_entities_add(e, "Record", rid, &ent));
            RC(cu_policy_entity_add_parent(e, ent, "Case", id));
        }
    }
    for (uint32_t i = 0; i < s->nsystems; i++)
        RC(cu_policy_entities_add(e, "System", s->systems[i], &ent));
    RC(cu_policy_entities_finalize(e));
fail:
    cu_arena_free(a);
    return rc;
}

/* ------------------------------------------------------------------ build */

cu_rc gw_snap_build(const char *text, size_t len, const char *name, cu_buf *report, size_t *accepted,
                    gw_snap **out)
{
    cu_rc rc = CU_OK;
    gw_snap *s = NULL;
    cu_policy_entities *ents = NULL;
    struct model m = {{0}};
    cu_buf kept;
    cu_buf_init(&kept, (size_t)4 << 30);
    size_t taken = 0;
    for (int i = 0; i < 4; i++)
        if (!(m.by_kind[i] = json_object())) {
            rc = cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
            goto fail;
        }

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
        cu_rc lrc;
        json_t *o = NULL;
        if (body > CU_GATEWAY_MAX_REFERENCE_LINE) {
            lrc = cu_err_set(CU_ERR_TOOBIG, "line longer than %d bytes", CU_GATEWAY_MAX_REFERENCE_LINE);
        } else {
            json_error_t jerr;
            o = json_loadb(line, body, JSON_REJECT_DUPLICATES, &jerr);
            if (!o)
                lrc = cu_err_set(CU_ERR_PARSE, "malformed JSON: %s", jerr.text);
            else if (!json_is_object(o))
                lrc = cu_err_set(CU_ERR_PARSE, "not a JSON object");
            else if ((lrc = check_line(o)) == CU_OK)
                lrc = model_take(&m, o);
        }
        json_decref(o);
        if (lrc == CU_ERR_NOMEM) {
            rc = lrc;
            goto fail;
        }
        if (lrc) {
            cu_err_prefix("%s:%" PRIu64, name, lineno);
            if (!report) {
                rc = lrc;
                goto fail;
            }
            if (cu_buf_appendf(report, "%s\n", cu_err_detail())) {
                /* the report is bounded: later lines go unreported */
            }
            continue;
        }
        taken++;
        if ((rc = cu_buf_append(&kept, line, n)) || (rc = cu_buf_append(&kept, "\n", 1)))
            goto fail;
    }

    if ((rc = cu_policy_entities_new(&ents)))
        goto fail;
    if ((rc = gw_snap_wrap(ents, &s))) {
        cu_policy_entities_free(ents);
        goto fail;
    }
    if ((rc = build_entities(&m, s)))
        goto fail;
    s->text = cu_buf_take(&kept, &s->text_len);
    if (accepted)
        *accepted = taken;
    *out = s;
    s = NULL;
fail:
    gw_snap_release(s);
    cu_buf_free(&kept);
    for (int i = 0; i < 4; i++)
        json_decref(m.by_kind[i]);
    return rc;
}
