/*
 * The entity store: entities by uid (open addressing on the uid hash), their
 * attributes and parents, and the transitive ancestor sets that make `in`
 * a binary search.  Also Cedar's entity and request JSON, typed by a schema
 * when one is given.
 *
 * Invariants
 * 1. All memory of the store lives in its arena; handles never move.
 * 2. An entity's attributes are kept sorted by key (policy_int.h, inv. 2).
 * 3. After finalize, ent->anc holds the uids of every ancestor (parents that
 *    are not themselves in the store included, as in Cedar), sorted by
 *    hash; `finalized` is cleared by any change, and eval refuses a store
 *    that is not finalized, so it never sees stale ancestors.
 * 4. JSON values nest at most CU_POLICY_MAX_DEPTH deep.
 */
#include "policy_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the store */

cu_rc cu_policy_entities_new(cu_policy_entities **out)
{
    cu_policy_entities *e = cu_calloc(1, sizeof *e);
    if (!e)
        return cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
    e->arena = cu_arena_new(256 * 1024, (size_t)CU_POLICY_MAX_ENTITIES_JSON * 8);
    e->cap = 64;
    e->slots = cu_calloc(e->cap, sizeof *e->slots);
    if (!e->arena || !e->slots) {
        cu_policy_entities_free(e);
        return cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
    }
    e->finalized = true;
    *out = e;
    return CU_OK;
}

void cu_policy_entities_free(cu_policy_entities *e)
{
    if (!e)
        return;
    cu_arena_free(e->arena);
    cu_free(e->slots);
    cu_free(e->all);
    cu_free(e);
}

size_t cu_policy_entities_count(const cu_policy_entities *e) { return e ? e->count : 0; }

const struct cu_policy_entity *pol_ent_find(const cu_policy_entities *e, const puid *u)
{
    if (!e)
        return NULL;
    size_t mask = e->cap - 1;
    for (size_t i = u->hash & mask;; i = (i + 1) & mask) {
        const struct cu_policy_entity *s = e->slots[i];
        if (!s)
            return NULL;
        if (pol_uid_eq(&s->uid, u))
            return s;
    }
}

static cu_rc grow(cu_policy_entities *e)
{
    size_t ncap = e->cap * 2;
    struct cu_policy_entity **ns = cu_calloc(ncap, sizeof *ns);
    if (!ns)
        return cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
    for (size_t i = 0; i < e->cap; i++) {
        struct cu_policy_entity *s = e->slots[i];
        if (!s)
            continue;
        size_t k = s->uid.hash & (ncap - 1);
        while (ns[k])
            k = (k + 1) & (ncap - 1);
        ns[k] = s;
    }
    cu_free(e->slots);
    e->slots = ns;
    e->cap = ncap;
    return CU_OK;
}

cu_rc pol_ents_add_uid(cu_policy_entities *e, const puid *u, struct cu_policy_entity **out)
{
    struct cu_policy_entity *found = (struct cu_policy_entity *)pol_ent_find(e, u);
    if (found) {
        *out = found;
        return CU_OK;
    }
    if ((e->count + 1) * 2 > e->cap) {
        cu_rc rc = grow(e);
        if (rc != CU_OK)
            return rc;
    }
    cu_rc grc = cu_grow(&e->all, &e->capall, e->nall + 1, sizeof *e->all, 64, false);
    if (grc)
        return grc;
    struct cu_policy_entity *ent = cu_arena_alloc(e->arena, sizeof *ent);
    puid *cp = ent ? pol_uid_make(e->arena, u->type, u->tlen, u->id, u->ilen) : NULL;
    if (!cp)
        return cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
    memset(ent, 0, sizeof *ent);
    ent->uid = *cp;
    ent->index = (uint32_t)e->nall;
    e->all[e->nall++] = ent;
    size_t k = u->hash & (e->cap - 1);
    while (e->slots[k])
        k = (k + 1) & (e->cap - 1);
    e->slots[k] = ent;
    e->count++;
    e->finalized = false;
    *out = ent;
    return CU_OK;
}

cu_rc cu_policy_entities_add(cu_policy_entities *e, const char *type, const char *id, cu_policy_entity **out)
{
    if (!e || !type || !id)
        return cu_err_set(CU_ERR_INVAL, "entities: missing type or id");
    puid u = {type, id, (uint32_t)strlen(type), (uint32_t)strlen(id), 0};
    u.hash = pol_uid_hash(type, u.tlen, id, u.ilen);
    return pol_ents_add_uid(e, &u, out);
}

static cu_rc fields_put(cu_policy_entities *e, pfield **fields, uint32_t *nf, uint32_t *capf, const char *k, size_t kn,
                        const pval *v)
{
    pval cp;
    char *key = cu_arena_strndup(e->arena, k, kn);
    if (!key || !pol_val_copy(e->arena, v, &cp))
        return cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
    /* binary search for the slot (invariant 2) */
    uint32_t lo = 0, hi = (*nf);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = pol_key_cmp((*fields)[mid].key, (*fields)[mid].klen, key, (uint32_t)kn);
        if (c == 0) {
            (*fields)[mid].v = cp;
            e->finalized = false;
            return CU_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if ((*nf) == (*capf)) {
        uint32_t nc = (*capf) ? (*capf) * 2 : 4;
        pfield *nfl = cu_arena_alloc(e->arena, sizeof(pfield) * nc);
        if (!nfl)
            return cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
        if ((*nf))
            memcpy(nfl, *fields, sizeof(pfield) * (*nf));
        *fields = nfl;
        (*capf) = nc;
    }
    memmove(&(*fields)[lo + 1], &(*fields)[lo], sizeof(pfield) * ((*nf) - lo));
    (*fields)[lo].key = key;
    (*fields)[lo].klen = (uint32_t)kn;
    (*fields)[lo].v = cp;
    (*nf)++;
    e->finalized = false;
    return CU_OK;
}

cu_rc pol_ent_set_attr(cu_policy_entities *e, struct cu_policy_entity *ent, const char *k, size_t kn,
                       const pval *v)
{
    return fields_put(e, &ent->attrs, &ent->nattrs, &ent->capattrs, k, kn, v);
}

cu_rc pol_ent_set_tag(cu_policy_entities *e, struct cu_policy_entity *ent, const char *k, size_t kn,
                      const pval *v)
{
    return fields_put(e, &ent->tags, &ent->ntags, &ent->captags, k, kn, v);
}

cu_rc cu_policy_entity_set_tag(cu_policy_entities *e, cu_policy_entity *ent, const char *key,
                               const cu_policy_value *v)
{
    if (!e || !ent || !key || !v)
        return cu_err_set(CU_ERR_INVAL, "entities: missing tag name or value");
    return pol_ent_set_tag(e, ent, key, strlen(key), &v->v);
}

cu_rc cu_policy_entity_set_attr(cu_policy_entities *e, cu_policy_entity *ent, const char *name,
                                const cu_policy_value *v)
{
    if (!e || !ent || !name || !v)
        return cu_err_set(CU_ERR_INVAL, "entities: missing attribute name or value");
    return pol_ent_set_attr(e, ent, name, strlen(name), &v->v);
}

cu_rc pol_ent_add_parent(cu_policy_entities *e, struct cu_policy_entity *ent, const puid *p)
{
    for (uint32_t i = 0; i < ent->nparents; i++)
        if (pol_uid_eq(ent->parents[i], p))
            return CU_OK;
    if (ent->nparents == ent->capparents) {
        uint32_t nc = ent->capparents ? ent->capparents * 2 : 4;
        puid **np = cu_arena_alloc(e->arena, sizeof *np * nc);
        if (!np)
            return cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
        if (ent->nparents)
            memcpy(np, ent->parents, sizeof *np * ent->nparents);
        ent->parents = np;
        ent->capparents = nc;
    }
    puid *cp = pol_uid_make(e->arena, p->type, p->tlen, p->id, p->ilen);
    if (!cp)
        return cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
    ent->parents[ent->nparents++] = cp;
    e->finalized = false;
    return CU_OK;
}

cu_rc cu_policy_entity_add_parent(cu_policy_entities *e, cu_policy_entity *ent, const char *type, const char *id)
{
    if (!e || !ent || !type || !id)
        return cu_err_set(CU_ERR_INVAL, "entities: missing parent type or id");
    puid u = {type, id, (uint32_t)strlen(type), (uint32_t)strlen(id), 0};
    u.hash = pol_uid_hash(type, u.tlen, id, u.ilen);
    return pol_ent_add_parent(e, ent, &u);
}

static int anc_cmp(const void *a, const void *b)
{
    const puid *x = *(const puid *const *)a, *y = *(const puid *const *)b;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

bool pol_anc_has(const struct cu_policy_entity *ent, const puid *u)
{
    uint32_t lo = 0, hi = ent->nanc;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ent->anc[mid]->hash < u->hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < ent->nanc && ent->anc[lo]->hash == u->hash; lo++)
        if (pol_uid_eq(ent->anc[lo], u))
            return true;
    return false;
}

cu_rc cu_policy_entities_finalize(cu_policy_entities *e)
{
    if (!e)
        return cu_err_set(CU_ERR_INVAL, "entities: none");
    if (e->finalized)
        return CU_OK;
    cu_rc rc = CU_ERR_NOMEM;
    /* visited marks per pass: the pass number of the last visit */
    uint32_t *mark = cu_calloc(e->nall ? e->nall : 1, sizeof *mark);
    const puid **acc = cu_malloc(sizeof *acc * (e->nall + 1) * 2 + 64);
    size_t accap = (e->nall + 1) * 2 + 8;
    const struct cu_policy_entity **stack = cu_malloc(sizeof *stack * (e->nall + 1));
    if (!mark || !acc || !stack) {
        cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < e->nall; i++) {
        struct cu_policy_entity *ent = e->all[i];
        uint32_t pass = (uint32_t)i + 1;
        size_t nacc = 0, sp = 0;
        mark[i] = pass;
        stack[sp++] = ent;
        while (sp) {
            const struct cu_policy_entity *cur = stack[--sp];
            for (uint32_t k = 0; k < cur->nparents; k++) {
                const puid *pu = cur->parents[k];
                const struct cu_policy_entity *pe = pol_ent_find(e, pu);
                if (pe) {
                    if (mark[pe->index] == pass)
                        continue;
                    mark[pe->index] = pass;
                    stack[sp++] = pe;
                    pu = &pe->uid;
                } else {
                    bool seen = false;
                    for (size_t q = 0; q < nacc && !seen; q++)
                        seen = pol_uid_eq(acc[q], pu);
                    if (seen)
                        continue;
                }
                if (nacc == accap) {
                    const puid **na = cu_realloc(acc, sizeof *na * accap * 2);
                    if (!na) {
                        cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
                        goto fail;
                    }
                    acc = na;
                    accap *= 2;
                }
                acc[nacc++] = pu;
            }
        }
        const puid **anc = cu_arena_alloc(e->arena, sizeof *anc * (nacc ? nacc : 1));
        if (!anc) {
            cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
            goto fail;
        }
        memcpy(anc, acc, sizeof *anc * nacc);
        qsort(anc, nacc, sizeof *anc, anc_cmp);
        ent->anc = anc;
        ent->nanc = (uint32_t)nacc;
    }
    e->finalized = true;
    rc = CU_OK;
fail:
    cu_free(mark);
    cu_free(acc);
    cu_free(stack);
    return rc;
}

/* --------------------------------------------------------------- JSON */

static cu_rc jerr(const char *what)
{
    return cu_err_set(CU_ERR_PARSE, "%s", what);
}

static cu_rc uid_from_string(cu_arena *a, const char *s, size_t n, puid **out)
{
    /* Type::"id" with the id's quotes and \" escapes */
    const char *q = NULL;
    for (size_t i = 0; i + 2 < n; i++)
        if (s[i] == ':' && s[i + 1] == ':' && s[i + 2] == '"') {
            q = s + i;
            break;
        }
    if (!q || n < 2 || s[n - 1] != '"' || (size_t)(q - s) + 3 > n - 1)
        return cu_err_set(CU_ERR_PARSE, "bad entity uid \"%.*s\"", (int)(n > 60 ? 60 : n), s);
    const char *id = q + 3;
    size_t il = (size_t)(s + n - 1 - id);
    char *buf = cu_arena_alloc(a, il + 1);
    if (!buf)
        return cu_err_set(CU_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < il; i++) {
        if (id[i] == '\\' && i + 1 < il)
            i++;
        buf[k++] = id[i];
    }
    *out = pol_uid_make(a, s, (size_t)(q - s), buf, k);
    return *out ? CU_OK : cu_err_set(CU_ERR_NOMEM, "out of memory");
}

cu_rc pol_json_uid(cu_arena *a, const json_t *j, puid **out)
{
    if (json_is_string(j))
        return uid_from_string(a, json_string_value(j), json_string_length(j), out);
    if (!json_is_object(j))
        return jerr("an entity uid must be an object {\"type\",\"id\"}");
    const json_t *esc = json_object_get(j, "__entity");
    if (esc)
        j = esc;
    const json_t *t = json_object_get(j, "type"), *id = json_object_get(j, "id");
    if (!json_is_string(t) || !json_is_string(id) || json_object_size(j) != 2)
        return jerr("an entity uid needs exactly a string \"type\" and a string \"id\"");
    *out = pol_uid_make(a, json_string_value(t), json_string_length(t), json_string_value(id),
                        json_string_length(id));
    return *out ? CU_OK : cu_err_set(CU_ERR_NOMEM, "out of memory");
}

/* The declared type of a record's field k (keys may hold NUL). */
static const stype *schema_field(const stype *t, const char *k, size_t kn)
{
    for (uint32_t q = 0; q < t->nkeys; q++)
        if (strlen(t->keys[q]) == kn && memcmp(t->keys[q], k, kn) == 0)
            return t->types[q];
    return NULL;
}

static cu_rc ext_value(const char *fn, const char *arg, size_t an, pval *out)
{
    if (strcmp(fn, "decimal") == 0) {
        out->kind = PV_DECIMAL;
        if (!pol_decimal_parse(arg, an, &out->u.l))
            return cu_err_set(CU_ERR_PARSE, "bad decimal \"%.*s\"", (int)(an > 60 ? 60 : an), arg);
        return CU_OK;
    }
    if (strcmp(fn, "ip") == 0 || strcmp(fn, "ipaddr") == 0) {
        out->kind = PV_IP;
        if (!pol_ip_parse(arg, an, &out->u.ip))
            return cu_err_set(CU_ERR_PARSE, "bad ip address \"%.*s\"", (int)(an > 60 ? 60 : an), arg);
        return CU_OK;
    }
    if (strcmp(fn, "datetime") == 0 || strcmp(fn, "duration") == 0) {
        bool dt = fn[1] == 'a';
        out->kind = dt ? PV_DATETIME : PV_DURATION;
        if (!(dt ? pol_datetime_parse(arg, an, &out->u.l) : pol_duration_parse(arg, an, &out->u.l)))
            return cu_err_set(CU_ERR_PARSE, "bad %s \"%.*s\"", fn, (int)(an > 60 ? 60 : an), arg);
        return CU_OK;
    }
    return cu_err_set(CU_ERR_UNSUPPORTED, "unknown extension function \"%s\"", fn);
}

/* {"fn": F, "args": [v, ...]}: the values, then F applied to them (a
 * constructor of one string, or a datetime method that yields a value). */
static cu_rc ext_call(cu_arena *a, const char *fn, const json_t *args, int depth, pval *out)
{
    static const struct {
        const char *name;
        int fn, nargs;
    } methods[] = {{"offset", FN_OFFSET, 2},        {"durationSince", FN_DURATION_SINCE, 2},
                   {"toDate", FN_TO_DATE, 1},       {"toTime", FN_TO_TIME, 1}};
    size_t n = json_array_size(args);
    pval v[2];
    if (n == 1 && json_is_string(json_array_get(args, 0))) {
        const json_t *s = json_array_get(args, 0);
        return ext_value(fn, json_string_value(s), json_string_length(s), out);
    }
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        if (strcmp(fn, methods[m].name) != 0)
            continue;
        if (n != (size_t)methods[m].nargs)
            return cu_err_set(CU_ERR_PARSE, "__extn \"%s\" takes %d arguments", fn, methods[m].nargs);
        for (size_t i = 0; i < n; i++) {
            cu_rc rc = pol_json_value(a, json_array_get(args, i), NULL, depth + 1, &v[i]);
            if (rc != CU_OK)
                return rc;
        }
        const pval *bad = NULL;
        const char *e = pol_datetime_op(methods[m].fn, &v[0], n > 1 ? &v[1] : &v[0], out, &bad);
        if (e)
            return cu_err_set(CU_ERR_PARSE, bad ? "__extn \"%s\": %s expected" : "__extn \"%s\": %s", fn, e);
        return CU_OK;
    }
    return cu_err_set(CU_ERR_UNSUPPORTED, "unknown extension function \"%s\"", fn);
}

cu_rc pol_json_value(cu_arena *a, const json_t *j, const stype *t, int depth, pval *out)
{
    cu_rc rc;
    memset(out, 0, sizeof *out);
    if (depth > CU_POLICY_MAX_DEPTH)
        return cu_err_set(CU_ERR_TOOBIG, "value nested deeper than %d levels", CU_POLICY_MAX_DEPTH);
    if (t && t->kind == ST_ANY)
        t = NULL;
    switch (json_typeof(j)) {
    case JSON_TRUE:
    case JSON_FALSE:
        out->kind = PV_BOOL;
        out->u.b = json_is_true(j);
        return CU_OK;
    case JSON_INTEGER:
        out->kind = PV_LONG;
        out->u.l = (int64_t)json_integer_value(j);
        return CU_OK;
    case JSON_REAL:
        return jerr("numbers must be integers (Cedar has no floating point)");
    case JSON_NULL:
        return jerr("null is not a Cedar value");
    case JSON_STRING: {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j);
        if (t && t->kind == ST_DECIMAL)
            return ext_value("decimal", s, n, out);
        if (t && t->kind == ST_IP)
            return ext_value("ip", s, n, out);
        if (t && (t->kind == ST_DATETIME || t->kind == ST_DURATION))
            return ext_value(t->kind == ST_DATETIME ? "datetime" : "duration", s, n, out);
        if (t && t->kind == ST_ENTITY) {
            puid *u;
            rc = uid_from_string(a, s, n, &u);
            if (rc != CU_OK)
                return rc;
            out->kind = PV_ENTITY;
            out->u.e = u;
            return CU_OK;
        }
        char *c = cu_arena_strndup(a, s, n);
        if (!c)
            return cu_err_set(CU_ERR_NOMEM, "out of memory");
        out->kind = PV_STR;
        out->u.s.p = c;
        out->u.s.n = (uint32_t)n;
        return CU_OK;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        pval *v = cu_arena_alloc(a, sizeof *v * (n ? n : 1));
        if (!v)
            return cu_err_set(CU_ERR_NOMEM, "out of memory");
        const stype *et = t && t->kind == ST_SET ? t->elem : NULL;
        for (size_t i = 0; i < n; i++) {
            rc = pol_json_value(a, json_array_get(j, i), et, depth + 1, &v[i]);
            if (rc != CU_OK)
                return rc;
        }
        out->kind = PV_SET;
        out->u.set.v = v;
        out->u.set.n = (uint32_t)n;
        return CU_OK;
    }
    case JSON_OBJECT: {
        const json_t *esc = json_object_get(j, "__entity");
        if (esc || (t && t->kind == ST_ENTITY)) {
            puid *u;
            rc = pol_json_uid(a, j, &u);
            if (rc != CU_OK)
                return rc;
            out->kind = PV_ENTITY;
            out->u.e = u;
            return CU_OK;
        }
        const json_t *ext = json_object_get(j, "__extn");
        bool typed_ext = t && (t->kind == ST_DECIMAL || t->kind == ST_IP || t->kind == ST_DATETIME ||
                               t->kind == ST_DURATION);
        if (ext || (typed_ext && json_object_get(j, "fn"))) {
            const json_t *x = ext ? ext : j;
            const json_t *fn = json_object_get(x, "fn"), *arg = json_object_get(x, "arg");
            const json_t *args = arg ? NULL : json_object_get(x, "args");
            if (json_is_string(fn) && json_is_array(args))
                return ext_call(a, json_string_value(fn), args, depth, out);
            if (!json_is_string(fn) || !json_is_string(arg))
                return jerr("__extn needs a string \"fn\" and a string \"arg\" or an array \"args\"");
            return ext_value(json_string_value(fn), json_string_value(arg), json_string_length(arg), out);
        }
        size_t n = json_object_size(j);
        pfield *f = cu_arena_alloc(a, sizeof *f * (n ? n : 1));
        if (!f)
            return cu_err_set(CU_ERR_NOMEM, "out of memory");
        const char *k;
        size_t kn;
        json_t *v;
        size_t i = 0;
        json_object_keylen_foreach((json_t *)j, k, kn, v)
        {
            const stype *ft = NULL;
            if (t && t->kind == ST_RECORD)
                ft = schema_field(t, k, kn);
            f[i].klen = (uint32_t)kn;
            f[i].key = cu_arena_strndup(a, k, f[i].klen);
            if (!f[i].key)
                return cu_err_set(CU_ERR_NOMEM, "out of memory");
            rc = pol_json_value(a, v, ft, depth + 1, &f[i].v);
            if (rc != CU_OK) {
                cu_err_prefix("attribute \"%s\"", k);
                return rc;
            }
            i++;
        }
        if (!pol_rec_sort(f, (uint32_t)n))
            return jerr("duplicate key in record");
        out->kind = PV_RECORD;
        out->u.rec.f = f;
        out->u.rec.n = (uint32_t)n;
        return CU_OK;
    }
    }
    return jerr("unknown JSON value");
}

static cu_rc add_schema_actions(cu_policy_entities *e, const cu_policy_schema *s)
{
    for (size_t i = 0; i < s->nacts; i++) {
        const sentity *ac = &s->acts[i];
        struct cu_policy_entity *ent;
        puid u = {ac->name, ac->action_id, (uint32_t)strlen(ac->name), (uint32_t)strlen(ac->action_id), 0};
        u.hash = pol_uid_hash(u.type, u.tlen, u.id, u.ilen);
        cu_rc rc = pol_ents_add_uid(e, &u, &ent);
        if (rc != CU_OK)
            return rc;
        for (uint32_t k = 0; k < ac->nparents; k++) {
            puid pu = {ac->parent_types[k], ac->parent_ids[k], (uint32_t)strlen(ac->parent_types[k]),
                       (uint32_t)strlen(ac->parent_ids[k]), 0};
            pu.hash = pol_uid_hash(pu.type, pu.tlen, pu.id, pu.ilen);
            rc = pol_ent_add_parent(e, ent, &pu);
            if (rc != CU_OK)
                return rc;
        }
    }
    return CU_OK;
}

cu_rc cu_policy_entities_parse_json(const char *text, size_t len, const cu_policy_schema *schema,
                                    cu_policy_entities **out)
{
    cu_policy_entities *e = NULL;
    json_t *root = NULL;
    cu_rc rc;
    if (len > CU_POLICY_MAX_ENTITIES_JSON)
        return cu_err_set(CU_ERR_TOOBIG, "entities: %zu bytes is over the limit of %u", len,
                          CU_POLICY_MAX_ENTITIES_JSON);
    json_error_t jerror;
    root = pol_json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerror);
    if (!root) {
        rc = cu_err_set(CU_ERR_PARSE, "entities: line %d column %d: %s", jerror.line, jerror.column,
                        jerror.text);
        goto fail;
    }
    if (!json_is_array(root)) {
        rc = cu_err_set(CU_ERR_PARSE, "entities: the top level must be an array");
        goto fail;
    }
    rc = cu_policy_entities_new(&e);
    if (rc != CU_OK)
        goto fail;
    /* a scratch arena for parsed values before they are copied in */
    size_t i;
    json_t *item;
    json_array_foreach(root, i, item)
    {
        cu_arena *tmp = cu_arena_new(16 * 1024, (size_t)CU_POLICY_MAX_ENTITIES_JSON * 4);
        if (!tmp) {
            rc = cu_err_set(CU_ERR_NOMEM, "entities: out of memory");
            goto fail;
        }
        puid *u = NULL;
        struct cu_policy_entity *ent = NULL;
        const json_t *ju = json_is_object(item) ? json_object_get(item, "uid") : NULL;
        rc = ju ? pol_json_uid(tmp, ju, &u) : jerr("an entity needs a \"uid\"");
        if (rc == CU_OK && pol_ent_find(e, u)) {
            rc = cu_err_set(CU_ERR_PARSE, "duplicate entity %s::\"%s\"", u->type, u->id);
        }
        if (rc == CU_OK)
            rc = pol_ents_add_uid(e, u, &ent);
        const json_t *attrs = rc == CU_OK ? json_object_get(item, "attrs") : NULL;
        if (rc == CU_OK && attrs && !json_is_object(attrs))
            rc = jerr("\"attrs\" must be an object");
        const stype *at = (rc == CU_OK && schema) ? pol_schema_attrs(schema, u->type, u->tlen) : NULL;
        if (rc == CU_OK && attrs) {
            const char *k;
            size_t kn;
            json_t *v;
            json_object_keylen_foreach((json_t *)attrs, k, kn, v)
            {
                const stype *ft = at ? schema_field(at, k, kn) : NULL;
                pval pv;
                rc = pol_json_value(tmp, v, ft, 1, &pv);
                if (rc != CU_OK) {
                    cu_err_prefix("attribute \"%s\"", k);
                    break;
                }
                rc = pol_ent_set_attr(e, ent, k, kn, &pv);
                if (rc != CU_OK)
                    break;
            }
        }
        const json_t *tags = rc == CU_OK ? json_object_get(item, "tags") : NULL;
        if (rc == CU_OK && tags && !json_is_object(tags))
            rc = jerr("\"tags\" must be an object");
        if (rc == CU_OK && tags) {
            const stype *tt = schema ? pol_schema_tags(schema, u->type, u->tlen) : NULL;
            const char *k;
            size_t kn;
            json_t *v;
            json_object_keylen_foreach((json_t *)tags, k, kn, v)
            {
                pval pv;
                rc = pol_json_value(tmp, v, tt, 1, &pv);
                if (rc != CU_OK) {
                    cu_err_prefix("tag \"%s\"", k);
                    break;
                }
                rc = pol_ent_set_tag(e, ent, k, kn, &pv);
                if (rc != CU_OK)
                    break;
            }
        }
        const json_t *parents = rc == CU_OK ? json_object_get(item, "parents") : NULL;
        if (rc == CU_OK && parents && !json_is_array(parents))
            rc = jerr("\"parents\" must be an array");
        if (rc == CU_OK && parents) {
            size_t pi;
            json_t *pj;
            json_array_foreach(parents, pi, pj)
            {
                puid *pu;
                rc = pol_json_uid(tmp, pj, &pu);
                if (rc == CU_OK)
                    rc = pol_ent_add_parent(e, ent, pu);
                if (rc != CU_OK)
                    break;
            }
        }
        cu_arena_free(tmp);
        if (rc != CU_OK) {
            cu_err_prefix("entities: entity %zu", i);
            goto fail;
        }
    }
    if (schema) {
        rc = add_schema_actions(e, schema);
        if (rc != CU_OK)
            goto fail;
    }
    rc = cu_policy_entities_finalize(e);
    if (rc != CU_OK)
        goto fail;
    json_decref(root);
    *out = e;
    return CU_OK;
fail:
    json_decref(root);
    cu_policy_entities_free(e);
    return rc;
}

/* ----------------------------------------------------------- requests */

cu_policy_request *cu_policy_request_new(cu_arena *a, const char *ptype, const char *pid, const char *atype,
                                         const char *aid, const char *rtype, const char *rid)
{
    cu_policy_request *r = cu_arena_alloc(a, sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->arena = a;
    const char *t[3] = {ptype, atype, rtype}, *id[3] = {pid, aid, rid};
    for (int w = 0; w < 3; w++) {
        if (!t[w] || !id[w])
            return NULL;
        r->uid[w] = pol_uid_make(a, t[w], strlen(t[w]), id[w], strlen(id[w]));
        if (!r->uid[w])
            return NULL;
    }
    return r;
}

static cu_rc ctx_put(cu_policy_request *r, const char *k, uint32_t kn, const pval *v)
{
    uint32_t lo = 0, hi = r->nctx;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = pol_key_cmp(r->ctx[mid].key, r->ctx[mid].klen, k, kn);
        if (c == 0) {
            r->ctx[mid].v = *v;
            return CU_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (r->nctx == r->capctx) {
        uint32_t nc = r->capctx ? r->capctx * 2 : 8;
        pfield *nf = cu_arena_alloc(r->arena, sizeof *nf * nc);
        if (!nf)
            return cu_err_set(CU_ERR_NOMEM, "request: out of memory");
        if (r->nctx)
            memcpy(nf, r->ctx, sizeof *nf * r->nctx);
        r->ctx = nf;
        r->capctx = nc;
    }
    memmove(&r->ctx[lo + 1], &r->ctx[lo], sizeof(pfield) * (r->nctx - lo));
    r->ctx[lo].key = k;
    r->ctx[lo].klen = kn;
    r->ctx[lo].v = *v;
    r->nctx++;
    return CU_OK;
}

cu_rc cu_policy_request_ctx(cu_policy_request *r, const char *key, const cu_policy_value *v)
{
    if (!r || !key || !v)
        return cu_err_set(CU_ERR_INVAL, "request: missing context key or value");
    return ctx_put(r, key, (uint32_t)strlen(key), &v->v);
}

cu_rc cu_policy_request_ctx_all(cu_policy_request *r, const char *const *keys, const uint32_t *klens,
                                const cu_policy_value *const *vals, size_t n)
{
    if (!r || (n && (!keys || !klens || !vals)) || n > UINT32_MAX / 2)
        return cu_err_set(CU_ERR_INVAL, "request: context keys and values are needed");
    uint32_t cap = n < 4 ? 8 : (uint32_t)n * 2; /* room for a few puts after */
    pfield *f = cu_arena_alloc(r->arena, sizeof *f * cap);
    if (!f)
        return cu_err_set(CU_ERR_NOMEM, "request: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] || !vals[i] || (i && pol_key_cmp(keys[i - 1], klens[i - 1], keys[i], klens[i]) >= 0))
            return cu_err_set(CU_ERR_INVAL, "request: context keys must be distinct, in (length, bytes) order");
        f[i].key = keys[i];
        f[i].klen = klens[i];
        f[i].v = vals[i]->v;
    }
    r->ctx = f;
    r->nctx = (uint32_t)n;
    r->capctx = cap;
    return CU_OK;
}

cu_rc pol_request_from_json(const json_t *j, const cu_policy_schema *schema, cu_arena *a, cu_policy_request **out)
{
    static const char *names[3] = {"principal", "action", "resource"};
    if (!json_is_object(j))
        return jerr("request: must be an object");
    cu_policy_request *r = cu_arena_alloc(a, sizeof *r);
    if (!r)
        return cu_err_set(CU_ERR_NOMEM, "request: out of memory");
    memset(r, 0, sizeof *r);
    r->arena = a;
    for (int w = 0; w < 3; w++) {
        const json_t *u = json_object_get(j, names[w]);
        puid *pu;
        cu_rc rc = u ? pol_json_uid(a, u, &pu) : cu_err_set(CU_ERR_PARSE, "missing \"%s\"", names[w]);
        if (rc != CU_OK) {
            cu_err_prefix("request: %s", names[w]);
            return rc;
        }
        r->uid[w] = pu;
    }
    const json_t *ctx = json_object_get(j, "context");
    if (ctx && !json_is_null(ctx)) {
        if (!json_is_object(ctx))
            return jerr("request: \"context\" must be an object");
        const stype *ct = schema ? pol_schema_context(schema, r->uid[1]) : NULL;
        pval v;
        cu_rc rc = pol_json_value(a, ctx, ct, 1, &v);
        if (rc != CU_OK) {
            cu_err_prefix("request: context");
            return rc;
        }
        r->ctx = (pfield *)v.u.rec.f;
        r->nctx = r->capctx = v.u.rec.n;
    }
    *out = r;
    return CU_OK;
}

cu_rc cu_policy_request_parse_json(const char *text, size_t len, const cu_policy_schema *schema, cu_arena *a,
                                   cu_policy_request **out)
{
    if (len > CU_POLICY_MAX_REQUEST_JSON)
        return cu_err_set(CU_ERR_TOOBIG, "request: %zu bytes is over the limit of %u", len,
                          CU_POLICY_MAX_REQUEST_JSON);
    json_error_t jerror;
    json_t *root = pol_json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerror);
    if (!root)
        return cu_err_set(CU_ERR_PARSE, "request: line %d column %d: %s", jerror.line, jerror.column, jerror.text);
    cu_rc rc = pol_request_from_json(root, schema, a, out);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------- request-local entities */

/* A local entity is made whole in one arena with fixed room for its
 * attributes and parents, so building one per request is a handful of
 * stores and no search of any table.  Values are referenced, not copied. */
cu_policy_entity *cu_policy_entity_make(cu_arena *a, const char *type, size_t tlen, const char *id, size_t ilen,
                                        uint32_t max_attrs, uint32_t max_parents)
{
    if (!a || !type || !id || tlen > UINT32_MAX || ilen > UINT32_MAX)
        return NULL;
    /* one block: the entity, its attributes, its parents */
    size_t eb = (sizeof(struct cu_policy_entity) + 15) & ~(size_t)15;
    size_t fb = (sizeof(pfield) * (max_attrs ? max_attrs : 1) + 15) & ~(size_t)15;
    char *m = cu_arena_alloc(a, eb + fb + sizeof(puid *) * (max_parents ? max_parents : 1));
    if (!m)
        return NULL;
    struct cu_policy_entity *ent = (struct cu_policy_entity *)m;
    pfield *f = (pfield *)(m + eb);
    puid **p = (puid **)(m + eb + fb);
    memset(ent, 0, sizeof *ent);
    ent->uid.type = type;
    ent->uid.id = id;
    ent->uid.tlen = (uint32_t)tlen;
    ent->uid.ilen = (uint32_t)ilen;
    ent->uid.hash = pol_uid_hash(type, tlen, id, ilen);
    ent->attrs = f;
    ent->capattrs = max_attrs;
    ent->parents = p;
    ent->capparents = max_parents;
    ent->index = UINT32_MAX;
    ent->local = true;
    return ent;
}

cu_rc cu_policy_entity_put(cu_policy_entity *ent, const char *key, const cu_policy_value *v)
{
    if (!ent || !ent->local || !key || !v)
        return cu_err_set(CU_ERR_INVAL, "entity put: a local entity, a key and a value are needed");
    uint32_t kn = (uint32_t)strlen(key);
    ent->memo_gen = 0; /* a memo describes the attributes it was made from */
    /* callers usually put keys in order: look from the end */
    uint32_t at = ent->nattrs;
    while (at > 0) {
        int c = pol_key_cmp(ent->attrs[at - 1].key, ent->attrs[at - 1].klen, key, kn);
        if (c == 0) {
            ent->attrs[at - 1].v = v->v;
            return CU_OK;
        }
        if (c < 0)
            break;
        at--;
    }
    if (ent->nattrs == ent->capattrs)
        return cu_err_set(CU_ERR_TOOBIG, "entity put: more than %u attributes", ent->capattrs);
    memmove(&ent->attrs[at + 1], &ent->attrs[at], sizeof(pfield) * (ent->nattrs - at));
    ent->attrs[at].key = key;
    ent->attrs[at].klen = kn;
    ent->attrs[at].v = v->v;
    ent->nattrs++;
    return CU_OK;
}

cu_rc cu_policy_entity_put_all(cu_policy_entity *ent, const char *const *keys, const uint32_t *klens,
                               const cu_policy_value *const *vals, size_t n)
{
    if (!ent || !ent->local || (n && (!keys || !klens || !vals)))
        return cu_err_set(CU_ERR_INVAL, "entity put: a local entity, keys and values are needed");
    if (n > ent->capattrs)
        return cu_err_set(CU_ERR_TOOBIG, "entity put: more than %u attributes", ent->capattrs);
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] || !vals[i] || (i && pol_key_cmp(keys[i - 1], klens[i - 1], keys[i], klens[i]) >= 0))
            return cu_err_set(CU_ERR_INVAL, "entity put: keys must be distinct, in (length, bytes) order");
        ent->attrs[i].key = keys[i];
        ent->attrs[i].klen = klens[i];
        ent->attrs[i].v = vals[i]->v;
    }
    ent->nattrs = (uint32_t)n;
    ent->memo_gen = 0;
    return CU_OK;
}

cu_rc cu_policy_entity_put_parent(cu_policy_entity *ent, const cu_policy_value *parent)
{
    if (!ent || !ent->local || !parent || parent->v.kind != PV_ENTITY)
        return cu_err_set(CU_ERR_INVAL, "entity parent: a local entity and an entity value are needed");
    if (ent->nparents == ent->capparents)
        return cu_err_set(CU_ERR_TOOBIG, "entity parent: more than %u parents", ent->capparents);
    ent->parents[ent->nparents++] = (puid *)parent->v.u.e;
    ent->sealed = false;
    ent->memo_gen = 0;
    return CU_OK;
}

static bool anc_push(const puid **anc, uint32_t *n, uint32_t cap, const puid *u)
{
    for (uint32_t i = 0; i < *n; i++)
        if (pol_uid_eq(anc[i], u))
            return true;
    if (*n == cap)
        return false;
    anc[(*n)++] = u;
    return true;
}

cu_rc cu_policy_entity_seal(cu_policy_entity *ent, const cu_policy_entities *store, cu_arena *a)
{
    if (!ent || !ent->local || !a)
        return cu_err_set(CU_ERR_INVAL, "entity seal: a local entity and an arena are needed");
    if (store && !store->finalized)
        return cu_err_set(CU_ERR_STATE, "entity seal: the store is not finalized");
    uint32_t cap = ent->nparents;
    for (uint32_t i = 0; store && i < ent->nparents; i++) {
        const struct cu_policy_entity *pe = pol_ent_find(store, ent->parents[i]);
        if (pe)
            cap += pe->nanc;
    }
    const puid **anc = cu_arena_alloc(a, sizeof *anc * (cap ? cap : 1));
    if (!anc)
        return cu_err_set(CU_ERR_NOMEM, "entity seal: out of memory");
    uint32_t n = 0;
    for (uint32_t i = 0; i < ent->nparents; i++) {
        (void)anc_push(anc, &n, cap, ent->parents[i]);
        const struct cu_policy_entity *pe = store ? pol_ent_find(store, ent->parents[i]) : NULL;
        for (uint32_t k = 0; pe && k < pe->nanc; k++)
            (void)anc_push(anc, &n, cap, pe->anc[k]);
    }
    /* insertion sort by hash: parents are few */
    for (uint32_t i = 1; i < n; i++) {
        const puid *t = anc[i];
        uint32_t j = i;
        while (j > 0 && anc[j - 1]->hash > t->hash) {
            anc[j] = anc[j - 1];
            j--;
        }
        anc[j] = t;
    }
    ent->anc = anc;
    ent->nanc = n;
    ent->sealed = true;
    ent->memo_gen = 0; /* a memo names the ancestors it was made with */
    return CU_OK;
}

const cu_policy_value *cu_policy_entity_value(cu_arena *a, const cu_policy_entity *ent)
{
    if (!ent)
        return NULL;
    cu_policy_value *v = cu_arena_alloc(a, sizeof *v);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    v->v.kind = PV_ENTITY;
    v->v.u.e = &ent->uid;
    return v;
}

const char *cu_policy_entity_id(const cu_policy_entity *ent) { return ent ? ent->uid.id : NULL; }

cu_policy_request *cu_policy_request_of(cu_arena *a, const cu_policy_entity *principal,
                                        const cu_policy_entity *action, const cu_policy_entity *resource)
{
    const cu_policy_entity *e[3] = {principal, action, resource};
    for (int w = 0; w < 3; w++)
        if (!e[w] || (e[w]->local && !e[w]->sealed))
            return NULL;
    cu_policy_request *r = cu_arena_alloc(a, sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->arena = a;
    for (int w = 0; w < 3; w++) {
        r->uid[w] = &e[w]->uid;
        r->ent[w] = e[w];
    }
    return r;
}

cu_rc cu_policy_request_entity(cu_policy_request *r, const cu_policy_entity *ent)
{
    if (!r || !ent || !ent->local || !ent->sealed)
        return cu_err_set(CU_ERR_INVAL, "request entity: a sealed local entity is needed");
    if (r->nlocal == POL_MAX_LOCAL)
        return cu_err_set(CU_ERR_TOOBIG, "request entity: more than %d local entities", POL_MAX_LOCAL);
    r->local[r->nlocal++] = ent;
    return CU_OK;
}
