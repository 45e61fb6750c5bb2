/* Reference data valid in time: officers, people, records, cases and
 * assignments, and a clock that exposes only what had begun by "now".
 *
 * Invariants:
 * 1. Entities are stored once (arena), indexed by their interned id.
 * 2. After sealing, the time line holds every change of assignment (a case
 *    opening assigns its listed officers; an assign line adds or removes one)
 *    sorted by time, stable in file order for equal times.  cu_ref_advance
 *    applies exactly the changes with ts <= now, in that order, and never
 *    goes back: the state after advancing to t depends only on data with
 *    time <= t.
 * 3. Visibility is checked at query time against now: a case from opened
 *    until closed (exclusive), an officer from start until end (an end given
 *    as a date includes that whole day).
 * 4. A later officer line with "valid_from" is a new version of the officer
 *    from that time (chained in valid_from order); queries return the
 *    version in force at now, never a later one.
 * 5. cspan[id] holds the opened/closed times of cas.v[id] (an empty span
 *    where there is no case): every vec_put on cas goes through case_put.
 *    cu_ref_case, called by the detectors for every case of an officer on
 *    every event, decides from this dense array alone and touches the case
 *    itself only when it is open: most cases an officer ever had are closed,
 *    and the pointer and the case are two cache misses each.
 */
#include "custos/event.h"

#include "event/event_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TL_OPEN, TL_ASSIGN };

struct tl {
    int64_t ts;
    uint32_t seq;   /* order of addition, for a stable sort */
    uint8_t type;
    uint32_t idx;   /* case id (TL_OPEN) or index into assigns (TL_ASSIGN) */
};

struct idlist {
    cu_id *v;
    uint32_t n, cap;
};

/* A growable array of pointers indexed by id. */
struct ptrvec {
    void **v;
    size_t cap;
};

struct cu_ref {
    cu_names *names;
    cu_arena *arena;
    struct ptrvec off, per, rec, cas;
    struct cspan { int64_t opened, closed; } *cspan; /* invariant 5 */
    size_t ncspan;
    /* definition order, for cu_ref_get_all */
    void **all[4];
    size_t nall[4], capall[4];
    /* where each id's object sits in all[k], made at the first update that
     * replaces one (a replacement then costs no search of the list) and
     * kept from then on; NULL before */
    uint32_t *allpos[4];
    size_t nallpos[4];
    cu_assign *assigns;
    size_t nassigns, capassigns;
    struct tl *tl;
    size_t ntl, tlpos;
    struct idlist *ocases; /* per officer: cases assigned now */
    size_t nocases;
    int64_t now;
    bool sealed;
    uint64_t lines, unknown_kinds;
    cu_vetting_rec *vets; /* vetting register lines, file order */
    size_t nvets, capvets;
    /* updates of a sealed context (cu_ref_update_check/apply): the line
     * checked, held until applied */
    bool updating;
    size_t captl;
    struct {
        int kind; /* -1 none, 0..3 officer, person, record, case; 4 assign */
        void *obj;
        cu_assign asg;
    } held;
    cu_ref_change last; /* what cu_ref_update_apply last changed */
};

cu_rc cu_ref_new(cu_names *n, cu_ref **out)
{
    cu_ref *r = cu_calloc(1, sizeof *r);
    if (!r)
        return CU_ERR_NOMEM;
    r->names = n;
    r->arena = cu_arena_new(1 << 20, (size_t)8 << 30);
    if (!r->arena) {
        cu_free(r);
        return CU_ERR_NOMEM;
    }
    r->now = INT64_MIN;
    r->held.kind = -1;
    r->last = (cu_ref_change){.kind = -1, .id = CU_ID_NONE};
    *out = r;
    return CU_OK;
}

void cu_ref_free(cu_ref *r)
{
    if (!r)
        return;
    cu_arena_free(r->arena);
    cu_free(r->off.v);
    cu_free(r->per.v);
    cu_free(r->rec.v);
    cu_free(r->cas.v);
    cu_free(r->cspan);
    for (int i = 0; i < 4; i++) {
        cu_free(r->all[i]);
        cu_free(r->allpos[i]);
    }
    cu_free(r->assigns);
    cu_free(r->vets);
    cu_free(r->tl);
    for (size_t i = 0; i < r->nocases; i++)
        cu_free(r->ocases[i].v);
    cu_free(r->ocases);
    cu_free(r);
}

cu_names *cu_ref_names(const cu_ref *r) { return r->names; }

static cu_rc vec_put(struct ptrvec *pv, cu_id id, void *p)
{
    cu_rc rc = cu_grow(&pv->v, &pv->cap, (size_t)id + 1, sizeof *pv->v, 1024, true);
    if (rc)
        return rc;
    pv->v[id] = p;
    return CU_OK;
}

static void *vec_get(const struct ptrvec *pv, cu_id id) { return id < pv->cap ? pv->v[id] : NULL; }

/* Put a case and its span (invariant 5): the span array is grown first,
 * new slots with an empty span, so it always covers every id put. */
static cu_rc case_put(cu_ref *r, cu_case *c)
{
    size_t was = r->ncspan;
    cu_rc rc = cu_grow(&r->cspan, &r->ncspan, (size_t)c->id + 1, sizeof *r->cspan, 1024, false);
    if (rc)
        return rc;
    for (size_t i = was; i < r->ncspan; i++)
        r->cspan[i] = (struct cspan){INT64_MAX, INT64_MIN};
    rc = vec_put(&r->cas, c->id, c);
    if (rc)
        return rc;
    r->cspan[c->id] = (struct cspan){c->opened, c->closed};
    return CU_OK;
}

/* An assign line at the end of the list (file order). */
static cu_rc assign_push(cu_ref *r, cu_assign a)
{
    cu_rc rc = cu_grow(&r->assigns, &r->capassigns, r->nassigns + 1, sizeof *r->assigns, 256, false);
    if (rc)
        return rc;
    r->assigns[r->nassigns++] = a;
    return CU_OK;
}

static cu_rc all_push(cu_ref *r, int which, void *p)
{
    cu_rc rc = cu_grow(&r->all[which], &r->capall[which], r->nall[which] + 1, sizeof *r->all[which], 256, false);
    if (rc)
        return rc;
    r->all[which][r->nall[which]++] = p;
    return CU_OK;
}

static void *arena_alloc(cu_ref *r, size_t n)
{
    void *p = cu_arena_alloc(r->arena, n ? n : 1);
    if (p)
        memset(p, 0, n ? n : 1);
    else
        cu_err_set(CU_ERR_NOMEM, "reference data over its memory limit");
    return p;
}

/* ------------------------------------------------------ member lookup */

typedef struct fields {
    cu_jmember m[CU_JSON_MAX_MEMBERS];
    size_t n;
} fields;

/* NULL when absent; a field given twice is an error (*rc).  Every member
 * is looked at (for the twice), so the key's length is taken once and a
 * plain key of another length is passed over without a call: this was
 * most of the reference load's instructions (a line's ten-odd fields, each
 * asked for, each against every member). */
static const cu_jval *get(const fields *f, const char *key, cu_rc *rc)
{
    const cu_jval *found = NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < f->n; i++) {
        const cu_jval *k = &f->m[i].key;
        if (!k->esc && (k->len != kl || memcmp(k->s, key, kl) != 0))
            continue;
        if (k->esc ? cu_jstr_eq(k, key) : k->type == CU_JT_STRING) {
            if (found) {
                *rc = cu_err_set(CU_ERR_PARSE, "field \"%s\" given twice", key);
                return NULL;
            }
            found = &f->m[i].val;
        }
    }
    return found;
}

static const cu_jval null_val = {.s = "null", .len = 4, .type = CU_JT_NULL};

#define GET(var, key, required)                                                        \
    const cu_jval *var = get(f, key, &rc);                                             \
    if (rc)                                                                            \
        return rc;                                                                     \
    if (!var) {                                                                        \
        if (required)                                                                  \
            return cu_err_set(CU_ERR_PARSE, "missing required field \"%s\"", key);      \
        var = &null_val;                                                               \
    }

static cu_rc arena_text(cu_ref *r, const cu_jval *v, const char *field, const char **out)
{
    if (v->type == CU_JT_NULL) {
        *out = NULL;
        return CU_OK;
    }
    char buf[256];
    const char *s = NULL;
    size_t len = 0;
    cu_rc rc = cu_ev_str(v, field, buf, sizeof buf, &s, &len);
    if (rc)
        return rc;
    char *d = cu_arena_strndup(r->arena, s, len);
    if (!d)
        return cu_err_set(CU_ERR_NOMEM, "reference data over its memory limit");
    *out = d;
    return CU_OK;
}

/* An id list stored in the arena (count may be 0). */
static cu_rc arena_idlist(cu_ref *r, cu_idkind k, const cu_jval *v, const char *field, const cu_id **out,
                          uint32_t *count)
{
    static __thread cu_id tmp[CU_REF_MAX_LIST];
    cu_rc rc = cu_ev_idlist(r->names, k, v, field, tmp, CU_REF_MAX_LIST, count);
    if (rc)
        return rc;
    cu_id *d = arena_alloc(r, *count * sizeof *d);
    if (!d)
        return CU_ERR_NOMEM;
    memcpy(d, tmp, *count * sizeof *d);
    *out = d;
    return CU_OK;
}

static cu_rc enum_of(const cu_jval *v, const char *field, const char *const *names, int count, int base, uint8_t *out)
{
    if (v->type == CU_JT_NULL) {
        *out = 0;
        return CU_OK;
    }
    for (int i = 0; i < count; i++)
        if (cu_jstr_eq(v, names[i])) {
            *out = (uint8_t)(i + base);
            return CU_OK;
        }
    return cu_err_set(CU_ERR_INVAL, "\"%s\" has an unknown value", field);
}

static const char *const vet_names[] = {"RV", "MV", "NPPV1", "NPPV2", "NPPV3", "CTC", "SC", "eSC", "DV"};
static const char *const shift_names[] = {"days", "earlies", "lates", "nights", "office"};
static const char *const class_names[] = {"OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET"};
static const char *const flag_names[] = {"protected", "vip", "witness", "informant",
                                         "activist", "officer", "deceased", "high-profile"};

const char *cu_person_flag_name(uint32_t bit)
{
    for (int i = 0; i < 8; i++)
        if (bit == (1u << i))
            return flag_names[i];
    return "flagged";
}

static cu_rc dup_error(cu_ref *r, const char *what, cu_idkind k, cu_id id, uint64_t first)
{
    return cu_err_set(CU_ERR_EXISTS, "%s \"%s\" defined twice (first at line %llu)", what,
                      cu_names_str(r->names, k, id), (unsigned long long)first);
}

/* Dates for start/end: a date "YYYY-MM-DD" or a full time. */
static cu_rc end_time(const cu_jval *v, const char *field, int64_t *out)
{
    cu_rc rc = cu_ev_time(v, field, true, true, out);
    if (rc == CU_OK && v->type == CU_JT_STRING && v->len == 10 && *out != CU_TIME_NEVER)
        *out += 86400; /* an end date includes that day */
    return rc;
}

uint64_t cu_ref_text_hash(const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        h = (h ^ c) * 0x100000001b3ULL;
    }
    return h ? h : 1;
}

/* An optional text field as a hash (0 when absent, null or empty). */
static cu_rc text_hash(const cu_jval *v, const char *field, uint64_t *out)
{
    *out = 0;
    if (v->type == CU_JT_NULL)
        return CU_OK;
    char buf[256];
    const char *s = NULL;
    size_t len = 0;
    cu_rc rc = cu_ev_str(v, field, buf, sizeof buf, &s, &len);
    if (rc)
        return rc;
    if (len)
        *out = cu_ref_text_hash(s, len);
    return CU_OK;
}

/* --------------------------------------------------------- one kind */

/* Update mode: the checked object waits for cu_ref_update_apply. */
static cu_rc hold(cu_ref *r, int kind, void *obj)
{
    r->held.kind = kind;
    r->held.obj = obj;
    return CU_OK;
}

static cu_rc add_officer(cu_ref *r, const fields *f, uint64_t line)
{
    cu_rc rc = CU_OK;
    GET(id, "id", true);
    GET(role, "role", false);
    GET(unit, "unit", false);
    GET(area, "area", false);
    GET(vet, "vetting", false);
    GET(shift, "shift", false);
    GET(start, "start", false);
    GET(end, "end", false);
    GET(rel, "relations", false);
    GET(vfrom, "valid_from", false);
    GET(osur, "surname", false);
    GET(oaddr, "address", false);
    cu_officer *o = arena_alloc(r, sizeof *o);
    if (!o)
        return CU_ERR_NOMEM;
    o->line = line;
    if ((rc = cu_ev_id(r->names, CU_K_OFFICER, id, "id", false, &o->id)) ||
        (rc = cu_ev_id(r->names, CU_K_UNIT, unit, "unit", true, &o->unit)) ||
        (rc = cu_ev_id(r->names, CU_K_AREA, area, "area", true, &o->area)) ||
        (rc = arena_text(r, role, "role", &o->role)) ||
        (rc = enum_of(shift, "shift", shift_names, 5, 1, &o->shift)))
        return rc;
    cu_officer *prev = vec_get(&r->off, o->id);
    o->valid_from = INT64_MIN;
    if (vfrom->type != CU_JT_NULL && (rc = cu_ev_time(vfrom, "valid_from", true, false, &o->valid_from)))
        return rc;
    if (prev && vfrom->type == CU_JT_NULL && !r->updating)
        return dup_error(r, "officer", CU_K_OFFICER, o->id, prev->line);
    if ((rc = text_hash(osur, "surname", &o->surname_h)) || (rc = text_hash(oaddr, "address", &o->address_h)))
        return rc;
    o->start = INT64_MIN;
    if (start->type != CU_JT_NULL && (rc = cu_ev_time(start, "start", true, false, &o->start)))
        return rc;
    if ((rc = end_time(end, "end", &o->end)))
        return rc;
    o->vet_expires = CU_TIME_NEVER;
    if (vet->type == CU_JT_OBJECT) {
        size_t pos = 0;
        cu_jval k, v;
        while (cu_jobject_next(vet, &pos, &k, &v)) {
            if (cu_jstr_eq(&k, "level")) {
                if ((rc = enum_of(&v, "vetting.level", vet_names, 9, 1, &o->vetting)))
                    return rc;
            } else if (cu_jstr_eq(&k, "granted")) {
                if (v.type != CU_JT_NULL && (rc = cu_ev_time(&v, "vetting.granted", true, false, &o->vet_granted)))
                    return rc;
            } else if (cu_jstr_eq(&k, "expires")) {
                if ((rc = end_time(&v, "vetting.expires", &o->vet_expires)))
                    return rc;
            }
        }
    } else if (vet->type != CU_JT_NULL) {
        return cu_err_set(CU_ERR_TYPE, "\"vetting\" must be an object");
    }
    if (rel->type == CU_JT_ARRAY) {
        size_t pos = 0, cnt = 0;
        cu_jval el;
        while (cu_jarray_next(rel, &pos, &el))
            cnt++;
        if (cnt > CU_REF_MAX_LIST)
            return cu_err_set(CU_ERR_TOOBIG, "\"relations\" has more than %d entries", CU_REF_MAX_LIST);
        cu_relation *rv = arena_alloc(r, cnt * sizeof *rv);
        if (!rv)
            return CU_ERR_NOMEM;
        pos = 0;
        while (cu_jarray_next(rel, &pos, &el)) {
            if (el.type != CU_JT_OBJECT)
                return cu_err_set(CU_ERR_TYPE, "\"relations\" entries must be objects");
            cu_relation *x = &rv[o->nrelations];
            x->person = CU_ID_NONE;
            size_t p2 = 0;
            cu_jval k, v;
            while (cu_jobject_next(&el, &p2, &k, &v)) {
                if (cu_jstr_eq(&k, "person")) {
                    if ((rc = cu_ev_id(r->names, CU_K_PERSON, &v, "relations.person", false, &x->person)))
                        return rc;
                } else if (cu_jstr_eq(&k, "type") && v.type == CU_JT_STRING) {
                    size_t l;
                    char tb[256];
                    if (cu_jstr_decode(&v, tb, sizeof tb, &l) == CU_OK) {
                        size_t c = l < sizeof x->type - 1 ? l : sizeof x->type - 1;
                        memcpy(x->type, tb, c);
                        x->type[c] = '\0';
                    }
                }
            }
            if (x->person == CU_ID_NONE)
                return cu_err_set(CU_ERR_PARSE, "a relation without \"person\"");
            o->nrelations++;
        }
        o->relations = rv;
    } else if (rel->type != CU_JT_NULL) {
        return cu_err_set(CU_ERR_TYPE, "\"relations\" must be an array");
    }
    if (prev && o->valid_from != INT64_MIN && o->valid_from < prev->valid_from)
        return cu_err_set(CU_ERR_INVAL, "officer \"%s\": valid_from before the first line's",
                          cu_names_str(r->names, CU_K_OFFICER, o->id));
    if (r->updating)
        return hold(r, 0, o);
    if (prev) {
        /* a later version: chain it in valid_from order (stable for equal times) */
        cu_officer *at = prev;
        while (at->next && at->next->valid_from <= o->valid_from)
            at = (cu_officer *)at->next;
        o->next = at->next;
        at->next = o;
        return CU_OK;
    }
    if ((rc = vec_put(&r->off, o->id, o)) || (rc = all_push(r, 0, o)))
        return rc;
    return CU_OK;
}

static cu_rc add_person(cu_ref *r, const fields *f, uint64_t line)
{
    cu_rc rc = CU_OK;
    GET(id, "id", true);
    GET(area, "area", false);
    GET(flags, "flags", false);
    GET(psur, "surname", false);
    GET(paddr, "address", false);
    GET(pfam, "family", false);
    cu_person *p = arena_alloc(r, sizeof *p);
    if (!p)
        return CU_ERR_NOMEM;
    p->line = line;
    if ((rc = cu_ev_id(r->names, CU_K_PERSON, id, "id", false, &p->id)) ||
        (rc = cu_ev_id(r->names, CU_K_AREA, area, "area", true, &p->area)))
        return rc;
    const cu_person *prev = vec_get(&r->per, p->id);
    if (prev && !r->updating)
        return dup_error(r, "person", CU_K_PERSON, p->id, prev->line);
    if ((rc = text_hash(psur, "surname", &p->surname_h)) || (rc = text_hash(paddr, "address", &p->address_h)) ||
        (rc = text_hash(pfam, "family", &p->family_h)))
        return rc;
    if (flags->type == CU_JT_ARRAY) {
        size_t pos = 0;
        cu_jval el;
        while (cu_jarray_next(flags, &pos, &el)) {
            if (el.type != CU_JT_STRING)
                return cu_err_set(CU_ERR_TYPE, "\"flags\" entries must be strings");
            uint32_t bit = CU_PF_OTHER;
            for (int i = 0; i < 8; i++)
                if (cu_jstr_eq(&el, flag_names[i]))
                    bit = 1u << i;
            p->flags |= bit;
        }
    } else if (flags->type != CU_JT_NULL) {
        return cu_err_set(CU_ERR_TYPE, "\"flags\" must be an array");
    }
    if (r->updating)
        return hold(r, 1, p);
    if ((rc = vec_put(&r->per, p->id, p)) || (rc = all_push(r, 1, p)))
        return rc;
    return CU_OK;
}

static int cmp_id(const void *a, const void *b)
{
    cu_id x = *(const cu_id *)a, y = *(const cu_id *)b;
    return x < y ? -1 : x > y;
}

static cu_rc add_record(cu_ref *r, const fields *f, uint64_t line)
{
    cu_rc rc = CU_OK;
    GET(id, "id", true);
    GET(type, "type", false);
    GET(system, "system", false);
    GET(subjects, "subjects", false);
    GET(area, "area", false);
    GET(cls, "classification", false);
    GET(caveats, "caveats", false);
    cu_record *x = arena_alloc(r, sizeof *x);
    if (!x)
        return CU_ERR_NOMEM;
    x->line = line;
    if ((rc = cu_ev_id(r->names, CU_K_RECORD, id, "id", false, &x->id)) ||
        (rc = cu_ev_id(r->names, CU_K_SYSTEM, system, "system", true, &x->system)) ||
        (rc = cu_ev_id(r->names, CU_K_AREA, area, "area", true, &x->area)) ||
        (rc = arena_text(r, type, "type", &x->type)) ||
        (rc = enum_of(cls, "classification", class_names, 4, 1, &x->classification)) ||
        (rc = arena_idlist(r, CU_K_PERSON, subjects, "subjects", &x->subjects, &x->nsubjects)))
        return rc;
    const cu_record *prev = vec_get(&r->rec, x->id);
    if (prev && !r->updating)
        return dup_error(r, "record", CU_K_RECORD, x->id, prev->line);
    if (caveats->type == CU_JT_ARRAY) {
        size_t pos = 0, cnt = 0;
        cu_jval el;
        while (cu_jarray_next(caveats, &pos, &el))
            cnt++;
        if (cnt > CU_REF_MAX_LIST)
            return cu_err_set(CU_ERR_TOOBIG, "\"caveats\" has more than %d entries", CU_REF_MAX_LIST);
        const char **cv = arena_alloc(r, cnt * sizeof *cv);
        if (!cv)
            return CU_ERR_NOMEM;
        pos = 0;
        while (cu_jarray_next(caveats, &pos, &el))
            if ((rc = arena_text(r, &el, "caveats", &cv[x->ncaveats++])))
                return rc;
        x->caveats = cv;
    } else if (caveats->type != CU_JT_NULL) {
        return cu_err_set(CU_ERR_TYPE, "\"caveats\" must be an array");
    }
    if (r->updating)
        return hold(r, 2, x);
    if ((rc = vec_put(&r->rec, x->id, x)) || (rc = all_push(r, 2, x)))
        return rc;
    return CU_OK;
}

static cu_rc add_case(cu_ref *r, const fields *f, uint64_t line)
{
    cu_rc rc = CU_OK;
    GET(id, "id", true);
    GET(opened, "opened", true);
    GET(closed, "closed", false);
    GET(area, "area", false);
    GET(officers, "officers", false);
    GET(subjects, "subjects", false);
    GET(records, "records", false);
    cu_case *c = arena_alloc(r, sizeof *c);
    if (!c)
        return CU_ERR_NOMEM;
    c->line = line;
    if ((rc = cu_ev_id(r->names, CU_K_CASE, id, "id", false, &c->id)) ||
        (rc = cu_ev_id(r->names, CU_K_AREA, area, "area", true, &c->area)) ||
        (rc = cu_ev_time(opened, "opened", true, false, &c->opened)) ||
        (rc = cu_ev_time(closed, "closed", true, true, &c->closed)) ||
        (rc = arena_idlist(r, CU_K_OFFICER, officers, "officers", &c->officers, &c->nofficers)) ||
        (rc = arena_idlist(r, CU_K_PERSON, subjects, "subjects", &c->subjects, &c->nsubjects)) ||
        (rc = arena_idlist(r, CU_K_RECORD, records, "records", &c->records, &c->nrecords)))
        return rc;
    const cu_case *prev = vec_get(&r->cas, c->id);
    if (prev && !r->updating)
        return dup_error(r, "case", CU_K_CASE, c->id, prev->line);
    if (c->closed != CU_TIME_NEVER && c->closed < c->opened)
        return cu_err_set(CU_ERR_INVAL, "case closed before it was opened");
    qsort((void *)c->subjects, c->nsubjects, sizeof(cu_id), cmp_id);
    qsort((void *)c->records, c->nrecords, sizeof(cu_id), cmp_id);
    if (r->updating)
        return hold(r, 3, c);
    if ((rc = case_put(r, c)) || (rc = all_push(r, 3, c)))
        return rc;
    return CU_OK;
}

static cu_rc add_assign(cu_ref *r, const fields *f, uint64_t line)
{
    cu_rc rc = CU_OK;
    GET(ts, "ts", true);
    GET(cs, "case", true);
    GET(off, "officer", true);
    GET(op, "op", true);
    cu_assign a = {.line = line};
    if ((rc = cu_ev_time(ts, "ts", false, false, &a.ts)) ||
        (rc = cu_ev_id(r->names, CU_K_CASE, cs, "case", false, &a.case_id)) ||
        (rc = cu_ev_id(r->names, CU_K_OFFICER, off, "officer", false, &a.officer)))
        return rc;
    if (cu_jstr_eq(op, "add"))
        a.add = true;
    else if (cu_jstr_eq(op, "remove"))
        a.add = false;
    else
        return cu_err_set(CU_ERR_INVAL, "\"op\" must be \"add\" or \"remove\"");
    if (r->updating) {
        if (!vec_get(&r->cas, a.case_id))
            return cu_err_set(CU_ERR_NOTFOUND, "assign names case \"%s\", which is not defined",
                              cu_names_str(r->names, CU_K_CASE, a.case_id));
        r->held.asg = a;
        return hold(r, 4, NULL);
    }
    return assign_push(r, a);
}

static const char *const vst_names[] = {"active", "suspended", "withdrawn", "lapsed"};

/* A vetting register line: validated here (level, dates in order), applied
 * to its officer at seal. */
static cu_rc add_vetting(cu_ref *r, const fields *f, uint64_t line)
{
    cu_rc rc = CU_OK;
    GET(officer, "officer", true);
    GET(level, "level", true);
    GET(granted, "granted", true);
    GET(expires, "expires", true);
    GET(review, "review", false);
    GET(status, "status", false);
    if (r->updating)
        return cu_err_set(CU_ERR_INVAL, "vetting lines are not taken as updates (the vetting register is governance's)");
    cu_vetting_rec v = {.line = line};
    if ((rc = cu_ev_id(r->names, CU_K_OFFICER, officer, "officer", false, &v.officer)))
        return rc;
    if (level->type == CU_JT_NULL || enum_of(level, "level", vet_names, 9, 1, &v.level))
        return cu_err_set(CU_ERR_INVAL, "unknown vetting level (one of RV, MV, NPPV1, NPPV2, NPPV3, CTC, SC, eSC, DV)");
    if (enum_of(status, "status", vst_names, 4, 0, &v.status))
        return cu_err_set(CU_ERR_INVAL, "unknown vetting status (one of active, suspended, withdrawn, lapsed)");
    if ((rc = cu_ev_time(granted, "granted", true, false, &v.granted)) ||
        (rc = cu_ev_time(expires, "expires", true, false, &v.expires)))
        return rc;
    if (review->type != CU_JT_NULL && (rc = cu_ev_time(review, "review", true, false, &v.review)))
        return rc;
    if (v.expires <= v.granted)
        return cu_err_set(CU_ERR_INVAL, "dates out of order: expires is not after granted");
    if (v.review && (v.review < v.granted || v.review > v.expires))
        return cu_err_set(CU_ERR_INVAL, "dates out of order: review is outside granted..expires");
    if ((rc = cu_grow(&r->vets, &r->capvets, r->nvets + 1, sizeof *r->vets, 256, false)))
        return rc;
    r->vets[r->nvets++] = v;
    return CU_OK;
}

/* The register's word on each officer it names (at seal, every officer read). */
static cu_rc apply_vetting(cu_ref *r, const char *name)
{
    for (size_t i = 0; i < r->nvets; i++) {
        const cu_vetting_rec *v = &r->vets[i];
        cu_officer *o = vec_get(&r->off, v->officer);
        if (!o)
            return cu_err_set(CU_ERR_NOTFOUND, "%s:%llu: vetting names officer \"%s\", which is not defined", name,
                              (unsigned long long)v->line, cu_names_str(r->names, CU_K_OFFICER, v->officer));
        /* first line for this officer: the register replaces the officer line's vetting */
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = r->vets[j].officer != v->officer;
        if (first) {
            o->vetting = CU_VET_NONE;
            o->vet_granted = 0;
            o->vet_expires = 0;
        }
        if (v->status == CU_VST_ACTIVE && (o->vetting == CU_VET_NONE || v->expires > o->vet_expires)) {
            o->vetting = v->level;
            o->vet_granted = v->granted;
            o->vet_expires = v->expires;
        }
    }
    return CU_OK;
}

static cu_rc add_line(cu_ref *r, const char *text, size_t len, uint64_t line);

cu_rc cu_ref_add_line(cu_ref *r, const char *text, size_t len, uint64_t line)
{
    if (r->sealed)
        return cu_err_set(CU_ERR_STATE, "reference data already sealed");
    return add_line(r, text, len, line);
}

static cu_rc add_line(cu_ref *r, const char *text, size_t len, uint64_t line)
{
    if (++r->lines > CU_REF_MAX_LINES)
        return cu_err_set(CU_ERR_TOOBIG, "more than %u reference lines", CU_REF_MAX_LINES);
    if (len > CU_EVENT_MAX_LINE)
        return cu_err_set(CU_ERR_TOOBIG, "line longer than %d bytes", CU_EVENT_MAX_LINE);
    static __thread fields fbuf;
    fields *f = &fbuf;
    cu_rc rc = cu_jscan_object(text, len, f->m, CU_JSON_MAX_MEMBERS, &f->n);
    if (rc)
        return rc;
    GET(kind, "kind", true);
    if (cu_jstr_eq(kind, "officer"))
        return add_officer(r, f, line);
    if (cu_jstr_eq(kind, "person"))
        return add_person(r, f, line);
    if (cu_jstr_eq(kind, "record"))
        return add_record(r, f, line);
    if (cu_jstr_eq(kind, "case"))
        return add_case(r, f, line);
    if (cu_jstr_eq(kind, "assign"))
        return add_assign(r, f, line);
    if (cu_jstr_eq(kind, "vetting"))
        return add_vetting(r, f, line);
    if (kind->type != CU_JT_STRING)
        return cu_err_set(CU_ERR_TYPE, "\"kind\" must be a string");
    /* A kind this version does not know: the format may grow; skip it. */
    r->unknown_kinds++;
    return CU_OK;
}

/* ------------------------------------------------------- seal, clock */

static int cmp_tl(const void *a, const void *b)
{
    const struct tl *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

cu_rc cu_ref_seal(cu_ref *r, const char *name)
{
    if (r->sealed)
        return CU_OK;
    size_t n = r->nall[3] + r->nassigns;
    r->tl = cu_malloc((n ? n : 1) * sizeof *r->tl);
    r->captl = n ? n : 1;
    if (!r->tl)
        return CU_ERR_NOMEM;
    uint32_t seq = 0;
    for (size_t i = 0; i < r->nall[3]; i++) {
        const cu_case *c = r->all[3][i];
        r->tl[r->ntl++] = (struct tl){.ts = c->opened, .seq = seq++, .type = TL_OPEN, .idx = c->id};
    }
    for (size_t i = 0; i < r->nassigns; i++) {
        const cu_assign *a = &r->assigns[i];
        if (!vec_get(&r->cas, a->case_id))
            return cu_err_set(CU_ERR_NOTFOUND, "%s:%llu: assign names case \"%s\", which is not defined", name,
                              (unsigned long long)a->line, cu_names_str(r->names, CU_K_CASE, a->case_id));
        r->tl[r->ntl++] = (struct tl){.ts = a->ts, .seq = seq++, .type = TL_ASSIGN, .idx = (uint32_t)i};
    }
    qsort(r->tl, r->ntl, sizeof *r->tl, cmp_tl);
    cu_rc vrc = apply_vetting(r, name);
    if (vrc)
        return vrc;
    /* assigns in time order for cu_ref_get_all */
    r->nocases = cu_names_count(r->names, CU_K_OFFICER);
    r->ocases = cu_calloc(r->nocases ? r->nocases : 1, sizeof *r->ocases);
    if (!r->ocases)
        return CU_ERR_NOMEM;
    r->sealed = true;
    return CU_OK;
}

cu_rc cu_ref_load(cu_ref *r, const char *path)
{
    cu_lines *lr;
    cu_rc rc = cu_lines_open(path, CU_EVENT_MAX_LINE, &lr);
    if (rc)
        return rc;
    for (;;) {
        const char *line;
        size_t len;
        rc = cu_lines_next(lr, &line, &len);
        if (rc == CU_ERR_NOTFOUND) {
            rc = CU_OK;
            break;
        }
        if (rc)
            break; /* TOOBIG / IO details already name file:line */
        size_t l = len;
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            l--;
        if (l == 0)
            continue;
        rc = cu_ref_add_line(r, line, len, cu_lines_lineno(lr));
        if (rc) {
            cu_err_prefix("%s:%llu", path, (unsigned long long)cu_lines_lineno(lr));
            break;
        }
    }
    cu_lines_close(lr);
    if (rc)
        return rc;
    return cu_ref_seal(r, path);
}

static cu_rc assign(cu_ref *r, cu_id officer, cu_id case_id, bool add)
{
    if (officer >= r->nocases)
        return CU_OK; /* cannot happen after seal: every officer id was interned by then */
    struct idlist *l = &r->ocases[officer];
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->v[i] == case_id) {
            if (!add)
                l->v[i] = l->v[--l->n];
            return CU_OK;
        }
    }
    if (!add)
        return CU_OK;
    if (l->n == l->cap) {
        uint32_t nc = l->cap ? l->cap * 2 : 4;
        cu_id *nv = cu_realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return CU_ERR_NOMEM;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = case_id;
    return CU_OK;
}

cu_rc cu_ref_advance(cu_ref *r, int64_t t)
{
    if (!r->sealed)
        return cu_err_set(CU_ERR_STATE, "reference data not sealed");
    if (t < r->now)
        return cu_err_set(CU_ERR_ORDER, "the reference clock cannot go back");
    while (r->tlpos < r->ntl && r->tl[r->tlpos].ts <= t) {
        const struct tl *e = &r->tl[r->tlpos];
        cu_rc rc = CU_OK;
        if (e->type == TL_OPEN) {
            const cu_case *c = r->cas.v[e->idx];
            for (uint32_t i = 0; i < c->nofficers && !rc; i++)
                rc = assign(r, c->officers[i], c->id, true);
        } else {
            const cu_assign *a = &r->assigns[e->idx];
            rc = assign(r, a->officer, a->case_id, a->add);
        }
        if (rc)
            return rc;
        r->tlpos++;
    }
    r->now = t;
    return CU_OK;
}

int64_t cu_ref_now(const cu_ref *r) { return r->now; }

const cu_person *cu_ref_person(const cu_ref *r, cu_id id) { return vec_get(&r->per, id); }
const cu_record *cu_ref_record(const cu_ref *r, cu_id id) { return vec_get(&r->rec, id); }

const cu_officer *cu_ref_officer(const cu_ref *r, cu_id id)
{
    const cu_officer *o = vec_get(&r->off, id);
    while (o && o->next && o->next->valid_from <= r->now)
        o = o->next;
    if (!o || r->now < o->start || r->now >= o->end)
        return NULL;
    return o;
}

const cu_case *cu_ref_case(const cu_ref *r, cu_id id)
{
    if (id >= r->ncspan)
        return NULL;
    const struct cspan *sp = &r->cspan[id]; /* invariant 5 */
    if (r->now < sp->opened || r->now >= sp->closed)
        return NULL;
    return r->cas.v[id];
}

bool cu_ref_assigned(const cu_ref *r, cu_id case_id, cu_id officer)
{
    if (officer >= r->nocases)
        return false;
    const struct idlist *l = &r->ocases[officer];
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i] == case_id)
            return true;
    return false;
}

size_t cu_ref_officer_cases(const cu_ref *r, cu_id officer, const cu_id **cases)
{
    if (officer >= r->nocases) {
        *cases = NULL;
        return 0;
    }
    *cases = r->ocases[officer].v;
    return r->ocases[officer].n;
}

static bool in_sorted(const cu_id *v, uint32_t n, cu_id x)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == x;
}

bool cu_case_links_person(const cu_case *c, cu_id person) { return in_sorted(c->subjects, c->nsubjects, person); }
bool cu_case_links_record(const cu_case *c, cu_id record) { return in_sorted(c->records, c->nrecords, record); }

void cu_ref_get_all(const cu_ref *r, cu_ref_all *out)
{
    out->nofficers = r->nall[0];
    out->npersons = r->nall[1];
    out->nrecords = r->nall[2];
    out->ncases = r->nall[3];
    out->officers = (const cu_officer *const *)r->all[0];
    out->persons = (const cu_person *const *)r->all[1];
    out->records = (const cu_record *const *)r->all[2];
    out->cases = (const cu_case *const *)r->all[3];
    out->nassigns = r->nassigns;
    out->assigns = r->assigns;
    out->nvettings = r->nvets;
    out->vettings = r->vets;
}

/* ------------------------------------------------- updates when sealed
 *
 * custosd's POST /v1/reference reaches the pipeline's context too
 * (docs/pipeline.md, "One reference, one order").  A line is checked whole
 * first (cu_ref_update_check: parsed and validated, nothing visible
 * changes but interned names), then applied (cu_ref_update_apply), so that
 * the caller can apply exactly the lines another reader (the gateway) also
 * took.  Applying keeps invariant 2's promise for what has not happened
 * yet (a change with ts > now joins the time line in order) and applies at
 * once a change already in the past (an assignment from last week takes
 * effect now, as if it had been known).  A replaced object stays in the
 * arena: pointers detectors hold stay valid (they see the old values until
 * they look it up again).
 */

static cu_rc tl_insert(cu_ref *r, struct tl e)
{
    cu_rc rc = cu_grow(&r->tl, &r->captl, r->ntl + 1, sizeof *r->tl, 64, false);
    if (rc)
        return rc;
    size_t at = r->ntl;
    while (at > r->tlpos && r->tl[at - 1].ts > e.ts)
        at--;
    memmove(r->tl + at + 1, r->tl + at, (r->ntl - at) * sizeof *r->tl);
    r->tl[at] = e;
    r->ntl++;
    return CU_OK;
}

/* Officers interned since the seal get their (empty) list of cases. */
static cu_rc ocases_grow(cu_ref *r)
{
    size_t n = cu_names_count(r->names, CU_K_OFFICER);
    if (n <= r->nocases)
        return CU_OK;
    struct idlist *nv = cu_realloc(r->ocases, n * sizeof *nv);
    if (!nv)
        return CU_ERR_NOMEM;
    memset(nv + r->nocases, 0, (n - r->nocases) * sizeof *nv);
    r->ocases = nv;
    r->nocases = n;
    return CU_OK;
}

/* The id of an object of all[which]. */
static cu_id all_id(int which, const void *p)
{
    switch (which) {
    case 0: return ((const cu_officer *)p)->id;
    case 1: return ((const cu_person *)p)->id;
    case 2: return ((const cu_record *)p)->id;
    default: return ((const cu_case *)p)->id;
    }
}

/* allpos[which][id] = i, growing it (false: out of memory). */
static bool allpos_set(cu_ref *r, int which, cu_id id, size_t i)
{
    size_t was = r->nallpos[which];
    if (cu_grow(&r->allpos[which], &r->nallpos[which], (size_t)id + 1, sizeof *r->allpos[which], 1024, false))
        return false;
    memset(r->allpos[which] + was, 0xff, (r->nallpos[which] - was) * sizeof *r->allpos[which]);
    r->allpos[which][id] = (uint32_t)i;
    return true;
}

/* Replace old (the object of id, if any) by p in all[which], else append. */
static cu_rc all_replace(cu_ref *r, int which, cu_id id, const void *old, void *p)
{
    if (!r->allpos[which]) /* first use: every object's place */
        for (size_t i = 0; i < r->nall[which]; i++)
            if (!allpos_set(r, which, all_id(which, r->all[which][i]), i))
                return CU_ERR_NOMEM;
    if (old && id < r->nallpos[which] && r->allpos[which][id] < r->nall[which] &&
        r->all[which][r->allpos[which][id]] == old) {
        r->all[which][r->allpos[which][id]] = p;
        return CU_OK;
    }
    cu_rc rc = all_push(r, which, p);
    if (!rc && !allpos_set(r, which, id, r->nall[which] - 1))
        rc = CU_ERR_NOMEM;
    return rc;
}

/* A line that replaces (or first defines) the object of its id in pv. */
static cu_rc put_replacing(cu_ref *r, struct ptrvec *pv, int which, cu_id id, void *obj)
{
    void *prev = vec_get(pv, id);
    cu_rc rc = vec_put(pv, id, obj);
    return rc ? rc : all_replace(r, which, id, prev, obj);
}

cu_rc cu_ref_update_check(cu_ref *r, const char *text, size_t len, uint64_t line)
{
    if (!r->sealed)
        return cu_err_set(CU_ERR_STATE, "reference data not sealed");
    r->held.kind = -1;
    r->updating = true;
    cu_rc rc = add_line(r, text, len, line);
    r->updating = false;
    if (rc)
        r->held.kind = -1;
    return rc;
}

/* The id of the object a held line is about (kinds 0-3). */
static cu_id held_id(const cu_ref *r, int kind)
{
    switch (kind) {
    case 0: return ((const cu_officer *)r->held.obj)->id;
    case 1: return ((const cu_person *)r->held.obj)->id;
    case 2: return ((const cu_record *)r->held.obj)->id;
    default: return ((const cu_case *)r->held.obj)->id;
    }
}

void cu_ref_update_last(const cu_ref *r, cu_ref_change *out) { *out = r->last; }

const void *cu_ref_all_get(const cu_ref *r, cu_ref_kind kind, cu_id id)
{
    switch (kind) {
    case CU_REF_OFFICER: return vec_get(&r->off, id);
    case CU_REF_PERSON: return vec_get(&r->per, id);
    case CU_REF_RECORD: return vec_get(&r->rec, id);
    case CU_REF_CASE: return vec_get(&r->cas, id);
    case CU_REF_ASSIGN: return id < r->nassigns ? &r->assigns[id] : NULL;
    }
    return NULL;
}

cu_rc cu_ref_update_apply(cu_ref *r)
{
    int kind = r->held.kind;
    r->held.kind = -1;
    r->last = (cu_ref_change){.kind = -1, .id = CU_ID_NONE};
    cu_rc rc = ocases_grow(r);
    if (rc || kind < 0)
        return rc;
    /* an assign is numbered by its place among the assign lines */
    r->last = (cu_ref_change){.kind = kind, .id = kind == CU_REF_ASSIGN ? (cu_id)r->nassigns : held_id(r, kind)};
    switch (kind) {
    case 0: {
        cu_officer *o = r->held.obj, *prev = vec_get(&r->off, o->id);
        if (prev && o->valid_from != INT64_MIN) {
            cu_officer *at = prev;
            while (at->next && at->next->valid_from <= o->valid_from)
                at = (cu_officer *)at->next;
            o->next = at->next;
            at->next = o;
            return CU_OK;
        }
        return put_replacing(r, &r->off, 0, o->id, o);
    }
    case 1:
        return put_replacing(r, &r->per, 1, ((cu_person *)r->held.obj)->id, r->held.obj);
    case 2:
        return put_replacing(r, &r->rec, 2, ((cu_record *)r->held.obj)->id, r->held.obj);
    case 3: {
        cu_case *c = r->held.obj;
        const cu_case *prev = vec_get(&r->cas, c->id);
        if (prev) {
            /* the replaced line's own officers leave the case (assign
             * lines keep their effect); its opening, if still to come, goes */
            if (prev->opened <= r->now)
                for (uint32_t i = 0; i < prev->nofficers && !rc; i++)
                    rc = assign(r, prev->officers[i], c->id, false);
            for (size_t i = r->tlpos; i < r->ntl;)
                if (r->tl[i].type == TL_OPEN && r->tl[i].idx == c->id) {
                    memmove(r->tl + i, r->tl + i + 1, (r->ntl - i - 1) * sizeof *r->tl);
                    r->ntl--;
                } else {
                    i++;
                }
        }
        if (rc || (rc = case_put(r, c)) || (rc = all_replace(r, 3, c->id, prev, c)))
            return rc;
        if (c->opened <= r->now) {
            for (uint32_t i = 0; i < c->nofficers && !rc; i++)
                rc = assign(r, c->officers[i], c->id, true);
            return rc;
        }
        return tl_insert(r, (struct tl){.ts = c->opened, .type = TL_OPEN, .idx = c->id});
    }
    default: {
        cu_assign a = r->held.asg;
        if ((rc = assign_push(r, a)))
            return rc;
        if (a.ts <= r->now)
            return assign(r, a.officer, a.case_id, a.add);
        return tl_insert(r, (struct tl){.ts = a.ts, .type = TL_ASSIGN, .idx = (uint32_t)(r->nassigns - 1)});
    }
    }
}
