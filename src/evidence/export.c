/*
 * Bundle export: select ledger entries through the store's event index,
 * read them from the public tiles, prove each into the latest signed
 * checkpoint, prove that checkpoint consistent with an earlier one, open
 * the commitments of the people concerned, state completeness, and sign a
 * manifest of it all with the log's key.
 *
 * Invariants:
 *   1. Read only: the ledger is opened read-only (no writer lock), the
 *      store only queried, so export runs beside a live daemon.  Entries
 *      after the latest checkpoint are left out (and counted): nothing goes
 *      in that cannot be proved.
 *   2. Every inclusion proof is checked against the checkpoint's root
 *      before it is written, so a damaged tile fails the export rather than
 *      producing a bundle that does not verify.
 *   3. Openings: with a person selection only that person's commitments are
 *      opened; otherwise every subject whose id the store knows.  The
 *      opening key of a person reveals nothing about the log's secret or
 *      anyone else (docs/ledger.md, "People looked up").
 *   4. Bounded: at most max_entries entries, CU_EVIDENCE_MAX_RANGE entries
 *      scanned for completeness, a 4 MiB defect log, 64 id series.
 */
#include "evidence/evidence_int.h"

#include "custos/store.h"

#include <dirent.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFECTS_MAX (4u << 20)
#define MAX_SERIES 64
#define MAX_SYSTEMS 64
#define MAX_GAPS_LISTED 100
#define BUNDLE_TILE_MAX ((size_t)CU_TILE_WIDTH * (CU_LEDGER_ENTRY_MAX + 2))

/* ------------------------------------------------------------ selection */

typedef struct sel {
    uint64_t *idx;
    size_t n, cap, max;
    int64_t from, to;
} sel;

static cu_rc sel_push(sel *s, uint64_t idx)
{
    if (s->n == s->max)
        return cu_err_set(CU_ERR_TOOBIG, "more than %zu entries selected (narrow the window with --from/--to)",
                          s->max);
    cu_rc rc = cu_grow(&s->idx, &s->cap, s->n + 1, sizeof *s->idx, 256, false);
    if (rc)
        return rc;
    s->idx[s->n++] = idx;
    return CU_OK;
}

static cu_rc on_access(void *ud, const cu_store_access *a)
{
    sel *s = ud;
    if (a->ts < s->from || a->ts > s->to)
        return CU_OK;
    return sel_push(s, a->idx);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------- entries from the tiles */

typedef struct reader {
    char dir[4096];
    uint64_t size; /* the checkpoint's size: tiles for it are on disk */
    cu_ledger *l;
    uint64_t cur;
    bool have;
    char *data;
    size_t len;
    size_t off[CU_TILE_WIDTH], elen[CU_TILE_WIDTH];
    unsigned count;
    cu_buf one;
} reader;

static cu_rc reader_load(reader *r, uint64_t b)
{
    char rel[CU_TILE_PATH_MAX], path[4300];
    cu_rc rc;
    cu_free(r->data);
    r->data = NULL;
    r->have = false;
    uint64_t left = r->size - b * CU_TILE_WIDTH;
    unsigned width = left >= CU_TILE_WIDTH ? CU_TILE_WIDTH : (unsigned)left;
    /* the full tile when it exists, else the partial one the checkpoint names */
    for (int attempt = 0; attempt < 2; attempt++) {
        unsigned w = attempt == 0 ? CU_TILE_WIDTH : width;
        if (attempt == 1 && w == CU_TILE_WIDTH)
            break;
        if ((rc = cu_tile_path(-1, b, w, rel, sizeof rel)))
            return rc;
        snprintf(path, sizeof path, "%s/%s", r->dir, rel);
        rc = cu_file_read(path, BUNDLE_TILE_MAX, &r->data, &r->len);
        if (rc == CU_ERR_NOTFOUND)
            continue;
        if (rc)
            return cu_err_set(rc, "entry bundle %s: %s", rel, cu_err_detail());
        size_t off = 0;
        const uint8_t *e;
        size_t el;
        r->count = 0;
        while (r->count < CU_TILE_WIDTH && (rc = cu_tile_bundle_next((const uint8_t *)r->data, r->len, &off, &e, &el)) == CU_OK) {
            r->off[r->count] = (size_t)(e - (const uint8_t *)r->data);
            r->elen[r->count++] = el;
        }
        if (rc != CU_OK && rc != CU_ERR_NOTFOUND)
            return cu_err_set(CU_ERR_CORRUPT, "entry bundle %s is damaged", rel);
        if (r->count < width)
            return cu_err_set(CU_ERR_CORRUPT, "entry bundle %s holds %u entries, want %u", rel, r->count, width);
        r->cur = b;
        r->have = true;
        return CU_OK;
    }
    return CU_ERR_NOTFOUND;
}

static cu_rc reader_get(reader *r, uint64_t idx, const uint8_t **e, size_t *el)
{
    cu_rc rc;
    uint64_t b = idx / CU_TILE_WIDTH;
    if (idx >= r->size)
        return cu_err_set(CU_ERR_RANGE, "entry %" PRIu64 " is beyond the checkpoint (%" PRIu64 ")", idx, r->size);
    if (!r->have || r->cur != b) {
        rc = reader_load(r, b);
        if (rc == CU_ERR_NOTFOUND) {
            /* not published as tiles yet (a log still being written): ask the log */
            cu_buf_reset(&r->one);
            if ((rc = cu_ledger_read_entry(r->l, idx, &r->one)))
                return rc;
            *e = (const uint8_t *)r->one.data;
            *el = r->one.len;
            return CU_OK;
        }
        if (rc)
            return rc;
    }
    unsigned k = (unsigned)(idx % CU_TILE_WIDTH);
    *e = (const uint8_t *)r->data + r->off[k];
    *el = r->elen[k];
    return CU_OK;
}

/* ------------------------------------------------------- people's openings */

typedef struct pmap {
    uint8_t (*commit)[CU_HASH_LEN];
    uint8_t (*key)[CU_HASH_LEN];
    const char **name;
    uint32_t *slot; /* open addressing over the commitments: index + 1, 0 empty */
    size_t n, mask;
} pmap;

static void pmap_free(pmap *m)
{
    if (m->key)
        sodium_memzero(m->key, m->n * CU_HASH_LEN);
    cu_free(m->commit);
    cu_free(m->key);
    cu_free(m->name);
    cu_free(m->slot);
    memset(m, 0, sizeof *m);
}

static cu_rc pmap_build(pmap *m, const uint8_t *secret, const char *const *names, size_t n)
{
    size_t ns = 16;
    while (ns < n * 2)
        ns *= 2;
    m->commit = cu_malloc((n ? n : 1) * CU_HASH_LEN);
    m->key = cu_malloc((n ? n : 1) * CU_HASH_LEN);
    m->name = cu_malloc((n ? n : 1) * sizeof *m->name);
    m->slot = cu_calloc(ns, sizeof *m->slot);
    if (!m->commit || !m->key || !m->name || !m->slot)
        return CU_ERR_NOMEM;
    m->mask = ns - 1;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        cu_rc rc;
        if ((rc = cu_ledger_commitment_key(secret, names[i], len, m->key[i])) ||
            (rc = cu_ledger_commitment_from_key(m->key[i], names[i], len, m->commit[i])))
            return rc;
        m->name[i] = names[i];
        m->n = i + 1;
        size_t s = cu_get_be64(m->commit[i]) & m->mask;
        while (m->slot[s])
            s = (s + 1) & m->mask;
        m->slot[s] = (uint32_t)i + 1;
    }
    return CU_OK;
}

static long pmap_find(const pmap *m, const uint8_t *c)
{
    if (!m->slot)
        return -1;
    for (size_t s = cu_get_be64(c) & m->mask; m->slot[s]; s = (s + 1) & m->mask)
        if (memcmp(m->commit[m->slot[s] - 1], c, CU_HASH_LEN) == 0)
            return (long)m->slot[s] - 1;
    return -1;
}

/* ------------------------------------------------------------ completeness */

typedef struct series {
    char prefix[65];
    uint64_t *num;
    size_t n, cap;
} series;

typedef struct complete {
    series s[MAX_SERIES];
    size_t ns;
    uint64_t unsequenced, other_series;
    char sys[MAX_SYSTEMS][65];
    uint64_t sysn[MAX_SYSTEMS];
    size_t nsys;
    uint64_t other_systems, non_access;
} complete;

static void complete_free(complete *c)
{
    for (size_t i = 0; i < c->ns; i++)
        cu_free(c->s[i].num);
}

static cu_rc complete_add(complete *c, const ev_access *a)
{
    const char *id = (const char *)a->str[CU_LEDGER_F_ID];
    size_t n = a->len[CU_LEDGER_F_ID], d = n;
    while (d > 0 && id[d - 1] >= '0' && id[d - 1] <= '9')
        d--;
    const char *sy = (const char *)a->str[CU_LEDGER_F_SYSTEM];
    size_t syl = a->len[CU_LEDGER_F_SYSTEM];
    size_t k;
    for (k = 0; k < c->nsys; k++)
        if (strlen(c->sys[k]) == syl && memcmp(c->sys[k], sy, syl) == 0)
            break;
    if (k == c->nsys && c->nsys < MAX_SYSTEMS && syl <= 64) {
        memcpy(c->sys[k], sy, syl);
        c->sys[k][syl] = '\0';
        c->nsys++;
    }
    if (k < c->nsys)
        c->sysn[k]++;
    else
        c->other_systems++;
    if (d == n || n - d > 18 || d > 64) {
        c->unsequenced++;
        return CU_OK;
    }
    uint64_t v = 0;
    for (size_t i = d; i < n; i++)
        v = v * 10 + (uint64_t)(id[i] - '0');
    for (k = 0; k < c->ns; k++)
        if (strlen(c->s[k].prefix) == d && memcmp(c->s[k].prefix, id, d) == 0)
            break;
    if (k == c->ns) {
        if (c->ns == MAX_SERIES) {
            c->other_series++;
            return CU_OK;
        }
        memcpy(c->s[k].prefix, id, d);
        c->s[k].prefix[d] = '\0';
        c->ns++;
    }
    series *s = &c->s[k];
    cu_rc rc = cu_grow(&s->num, &s->cap, s->n + 1, sizeof *s->num, 1024, false);
    if (rc)
        return rc;
    s->num[s->n++] = v;
    return CU_OK;
}

/* ------------------------------------------------------------------ export */

typedef struct ex {
    const cu_evidence_export_opts *o;
    cu_evidence_export_stats st;
    char ldir[4096];
    cu_store *store;
    cu_names *names;
    cu_ledger *l;
    char *signer_text, *vkey, *cp_note, *old_note, *cons_text, *defects_raw;
    size_t cp_len, old_len, cons_len, defects_len;
    cu_note_signer *signer;
    cu_note_verifier *verifier;
    cu_checkpoint cp, old;
    sel s;
    reader rd;
    pmap pm;
    complete cm;
    cu_buf entries, completeness, provenance, defects, pdf, manifest, bundle;
    char *manifest_note;
    size_t manifest_len;
    ev_doc *doc;
    int64_t t_first, t_last;
} ex;

static const char *by_name(cu_evidence_by b)
{
    switch (b) {
    case CU_EVIDENCE_BY_OFFICER: return "officer";
    case CU_EVIDENCE_BY_PERSON: return "person";
    case CU_EVIDENCE_BY_RECORD: return "record";
    case CU_EVIDENCE_BY_CASE: return "case";
    case CU_EVIDENCE_BY_INDEXES: return "indexes";
    }
    return "?";
}

static cu_rc open_note(const cu_note_verifier *v, const char *note, size_t len, const char *what, cu_checkpoint *cp)
{
    size_t tl = 0;
    bool ok = false;
    cu_note_verifier *vs[1] = {(cu_note_verifier *)v};
    cu_rc rc = cu_note_open(note, len, vs, 1, &tl, &ok);
    if (rc == CU_OK)
        rc = cu_checkpoint_parse(note, tl, cp);
    if (rc)
        return cu_err_set(rc, "%s: %s", what, cu_err_detail());
    return CU_OK;
}

static cu_rc pick_old(ex *x, uint64_t need)
{
    const cu_evidence_export_opts *o = x->o;
    char path[4300];
    cu_rc rc;
    if (o->old_checkpoint) {
        if ((rc = cu_file_read(o->old_checkpoint, CU_NOTE_MAX, &x->old_note, &x->old_len)))
            return cu_err_set(rc, "old checkpoint %s: %s", o->old_checkpoint, cu_err_detail());
        if ((rc = open_note(x->verifier, x->old_note, x->old_len, "old checkpoint", &x->old)))
            return rc;
        if (x->old.size == 0 || x->old.size > x->cp.size || strcmp(x->old.origin, x->cp.origin) != 0)
            return cu_err_set(CU_ERR_INVAL, "old checkpoint (size %" PRIu64 ") is not an earlier checkpoint of this log",
                              x->old.size);
        return CU_OK;
    }
    /* the archive: the earliest checkpoint that covers every selected entry */
    uint64_t best = x->cp.size;
    snprintf(path, sizeof path, "%s/checkpoints", x->ldir);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            char *end;
            if (de->d_name[0] < '1' || de->d_name[0] > '9')
                continue;
            unsigned long long v = strtoull(de->d_name, &end, 10);
            if (*end || v < need || v >= best)
                continue;
            best = v;
        }
        closedir(d);
    }
    if (best == x->cp.size) {
        if (!(x->old_note = cu_malloc(x->cp_len + 1)))
            return CU_ERR_NOMEM;
        memcpy(x->old_note, x->cp_note, x->cp_len);
        x->old_note[x->cp_len] = '\0';
        x->old_len = x->cp_len;
        x->old = x->cp;
        return CU_OK;
    }
    snprintf(path, sizeof path, "%s/checkpoints/%" PRIu64, x->ldir, best);
    if ((rc = cu_file_read(path, CU_NOTE_MAX, &x->old_note, &x->old_len)))
        return cu_err_set(rc, "archived checkpoint %" PRIu64 ": %s", best, cu_err_detail());
    if ((rc = open_note(x->verifier, x->old_note, x->old_len, "archived checkpoint", &x->old)))
        return rc;
    if (x->old.size != best)
        return cu_err_set(CU_ERR_CORRUPT, "archived checkpoint %" PRIu64 " says size %" PRIu64, best, x->old.size);
    return CU_OK;
}

static cu_rc select_entries(ex *x)
{
    const cu_evidence_export_opts *o = x->o;
    cu_rc rc = CU_OK;
    x->s.max = o->max_entries ? o->max_entries : CU_EVIDENCE_MAX_ENTRIES;
    x->s.from = o->from;
    x->s.to = o->to;
    switch (o->by) {
    case CU_EVIDENCE_BY_OFFICER:
        rc = cu_store_officer_timeline(x->store, o->id, o->from, o->to, on_access, &x->s);
        break;
    case CU_EVIDENCE_BY_PERSON: rc = cu_store_person_accesses(x->store, o->id, on_access, &x->s); break;
    case CU_EVIDENCE_BY_RECORD: rc = cu_store_record_accesses(x->store, o->id, on_access, &x->s); break;
    case CU_EVIDENCE_BY_CASE: rc = cu_store_case_accesses(x->store, o->id, on_access, &x->s); break;
    case CU_EVIDENCE_BY_INDEXES:
        for (size_t i = 0; i < o->nindexes && rc == CU_OK; i++)
            rc = sel_push(&x->s, o->indexes[i]);
        break;
    }
    if (rc)
        return rc;
    if (x->s.n)
        qsort(x->s.idx, x->s.n, sizeof *x->s.idx, cmp_u64);
    size_t w = 0;
    for (size_t i = 0; i < x->s.n; i++)
        if (w == 0 || x->s.idx[w - 1] != x->s.idx[i])
            x->s.idx[w++] = x->s.idx[i];
    x->s.n = w;
    /* only what the checkpoint covers can be proved */
    while (x->s.n && x->s.idx[x->s.n - 1] >= x->cp.size) {
        x->s.n--;
        x->st.unpublished++;
    }
    if (x->s.n == 0)
        return cu_err_set(CU_ERR_NOTFOUND, "no entries for %s %s%s", by_name(o->by), o->id ? o->id : "",
                          x->st.unpublished ? " covered by the latest checkpoint (publish one first)" : "");
    return CU_OK;
}

static cu_rc json_line(cu_buf *out, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!s)
        return CU_ERR_NOMEM;
    cu_rc rc = cu_buf_appends(out, s);
    free(s);
    if (rc == CU_OK)
        rc = cu_buf_append(out, "\n", 1);
    return rc;
}

/* One entries.jsonl line and its timeline lines in the report. */
static cu_rc one_entry(ex *x, uint64_t idx, const char *only_person)
{
    const uint8_t *eb = NULL;
    size_t el = 0;
    cu_ledger_entry e;
    ev_access a;
    cu_hash leaf, proof[CU_MERKLE_MAX_PROOF];
    size_t plen = 0;
    json_t *line = NULL, *machine = NULL, *typed = NULL, *arr = NULL, *subj = NULL;
    cu_rc rc;
    char b64[45];
    if ((rc = reader_get(&x->rd, idx, &eb, &el)))
        return rc;
    if ((rc = cu_ledger_entry_decode(eb, el, &e)) || (rc = cu_ev_access_view(&e, &a)))
        return cu_err_set(rc, "entry %" PRIu64 ": %s", idx, cu_err_detail());
    if ((rc = cu_merkle_leaf_hash(eb, el, &leaf)) ||
        (rc = cu_ledger_prove_inclusion(x->l, idx, x->cp.size, proof, &plen)))
        return rc;
    if ((rc = cu_merkle_verify_inclusion(idx, x->cp.size, &leaf, proof, plen, &x->cp.root)))
        return cu_err_set(CU_ERR_CORRUPT, "entry %" PRIu64 " does not prove into the checkpoint: %s", idx,
                          cu_err_detail());
    if (x->st.entries == 0)
        x->t_first = a.ts;
    x->t_last = a.ts;
    size_t b64len = cu_b64_enc_len(el);
    char *eb64 = cu_malloc(b64len + 1);
    if (!eb64)
        return CU_ERR_NOMEM;
    cu_b64_encode(eb, el, eb64);
    line = json_object();
    arr = json_array();
    subj = json_array();
    if (!line || !arr || !subj || json_object_set_new(line, "index", json_integer((json_int_t)idx)) ||
        json_object_set_new(line, "entry", json_string(eb64))) {
        rc = CU_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < plen; i++) {
        cu_ev_b64_enc32(proof[i].b, b64);
        if (json_array_append_new(arr, json_string(b64))) {
            rc = CU_ERR_NOMEM;
            goto out;
        }
    }
    if ((rc = cu_ev_clear_json(&a, &machine, &typed)))
        goto out;
    char people[1024] = "";
    size_t pl = 0;
    uint64_t sealed = 0;
    for (size_t i = 0; i < a.nsubjects; i++) {
        const uint8_t *c = a.subjects + i * CU_HASH_LEN;
        long k = pmap_find(&x->pm, c);
        if (k >= 0 && only_person && strcmp(x->pm.name[k], only_person) != 0)
            k = -1;
        json_t *so = json_object();
        cu_ev_b64_enc32(c, b64);
        if (!so || json_array_append_new(subj, so) || json_object_set_new(so, "commitment", json_string(b64))) {
            rc = CU_ERR_NOMEM;
            goto out;
        }
        if (k >= 0) {
            cu_ev_b64_enc32(x->pm.key[k], b64);
            if (json_object_set_new(so, "person", json_string(x->pm.name[k])) ||
                json_object_set_new(so, "key", json_string(b64))) {
                rc = CU_ERR_NOMEM;
                goto out;
            }
            x->st.opened++;
            if (pl < sizeof people - 80)
                pl += (size_t)snprintf(people + pl, sizeof people - pl, "%s%s", pl ? ", " : "", x->pm.name[k]);
        } else {
            x->st.sealed++;
            sealed++;
        }
    }
    if (sealed && pl < sizeof people - 40)
        snprintf(people + pl, sizeof people - pl, "%s%" PRIu64 " sealed", pl ? "; " : "", sealed);
    if (json_object_set_new(line, "inclusion", arr) || json_object_set_new(line, "machine", machine) ||
        json_object_set_new(line, "typed", typed) || json_object_set_new(line, "subjects", subj)) {
        arr = machine = typed = subj = NULL;
        rc = CU_ERR_NOMEM;
        goto out;
    }
    arr = machine = typed = subj = NULL;
    if ((rc = json_line(&x->entries, line)))
        goto out;
    {
        char ts[21];
        cu_time_format(a.ts, ts);
#define S(t) (a.str[t] ? (int)a.len[t] : 1), (a.str[t] ? (const char *)a.str[t] : "-")
        if ((rc = cu_ev_doc_add(x->doc, EV_MONO, "#%-9" PRIu64 " %s  %.*s  %.*s %.*s  record %.*s  %s results %u",
                                idx, ts, S(CU_LEDGER_F_OFFICER), S(CU_LEDGER_F_ACTION), S(CU_LEDGER_F_SYSTEM),
                                S(CU_LEDGER_F_RECORD), a.allow ? "allow" : "DENY", a.results)) ||
            (rc = cu_ev_doc_add(x->doc, EV_MONO, "            id %.*s  terminal %.*s  area %.*s  people: %s",
                                S(CU_LEDGER_F_ID), S(CU_LEDGER_F_TERMINAL), S(CU_LEDGER_F_AREA),
                                a.nsubjects ? people : "none")) ||
            (rc = cu_ev_doc_add(x->doc, EV_TYPED, "[typed by the officer] purpose: %.*s   case: %.*s",
                                S(CU_LEDGER_F_PURPOSE), S(CU_LEDGER_F_CASE))))
            goto out;
#undef S
    }
    x->st.entries++;
out:
    cu_free(eb64);
    json_decref(line);
    json_decref(arr);
    json_decref(subj);
    json_decref(machine);
    json_decref(typed);
    return rc;
}

static cu_rc scan_range(ex *x, uint64_t lo, uint64_t hi)
{
    if (hi - lo + 1 > CU_EVIDENCE_MAX_RANGE)
        return cu_err_set(CU_ERR_TOOBIG, "the selection spans %" PRIu64 " ledger entries, at most %llu are scanned",
                          hi - lo + 1, CU_EVIDENCE_MAX_RANGE);
    for (uint64_t i = lo; i <= hi; i++) {
        const uint8_t *eb = NULL;
        size_t el = 0;
        cu_ledger_entry e;
        ev_access a;
        cu_rc rc;
        if ((rc = reader_get(&x->rd, i, &eb, &el)) || (rc = cu_ledger_entry_decode(eb, el, &e)))
            return cu_err_set(rc, "entry %" PRIu64 ": %s", i, cu_err_detail());
        if (e.type != CU_LEDGER_ACCESS) {
            x->cm.non_access++;
            continue;
        }
        if ((rc = cu_ev_access_view(&e, &a)) || (rc = complete_add(&x->cm, &a)))
            return rc;
    }
    return CU_OK;
}

static cu_rc build_completeness(ex *x, uint64_t lo, uint64_t hi)
{
    json_t *j = json_object(), *ser = json_array(), *sys = json_object(), *t;
    char a[21], b[21];
    cu_rc rc = CU_ERR_NOMEM;
    cu_time_format(x->t_first, a);
    cu_time_format(x->t_last, b);
    if (!j || !ser || !sys)
        goto out;
    if (json_object_set_new(j, "ledger_range", json_pack("[II]", (json_int_t)lo, (json_int_t)hi)) ||
        json_object_set_new(j, "period", json_pack("{ssss}", "from", a, "to", b)) ||
        json_object_set_new(j, "checkpoint_size", json_integer((json_int_t)x->cp.size)) ||
        json_object_set_new(j, "entries_scanned", json_integer((json_int_t)(hi - lo + 1))) ||
        json_object_set_new(j, "selected_after_checkpoint", json_integer((json_int_t)x->st.unpublished)))
        goto out;
    for (size_t i = 0; i < x->cm.ns; i++) {
        series *s = &x->cm.s[i];
        qsort(s->num, s->n, sizeof *s->num, cmp_u64);
        uint64_t missing = 0, dups = 0;
        json_t *gaps = json_array(), *so;
        if (!gaps)
            goto out;
        for (size_t k = 1; k < s->n; k++) {
            if (s->num[k] == s->num[k - 1]) {
                dups++;
            } else if (s->num[k] > s->num[k - 1] + 1) {
                missing += s->num[k] - s->num[k - 1] - 1;
                if (json_array_size(gaps) < MAX_GAPS_LISTED &&
                    json_array_append_new(gaps, json_pack("[II]", (json_int_t)(s->num[k - 1] + 1),
                                                          (json_int_t)(s->num[k] - 1)))) {
                    json_decref(gaps);
                    goto out;
                }
            }
        }
        x->st.missing_ids += missing;
        so = json_pack("{sssIsIsIsIsIso}", "prefix", s->prefix, "first", (json_int_t)(s->n ? s->num[0] : 0), "last",
                       (json_int_t)(s->n ? s->num[s->n - 1] : 0), "count", (json_int_t)s->n, "missing",
                       (json_int_t)missing, "duplicates", (json_int_t)dups, "gaps", gaps);
        if (!so || json_array_append_new(ser, so))
            goto out;
        if ((rc = cu_ev_doc_add(x->doc, EV_MONO,
                                "id series \"%s\": %" PRIu64 "..%" PRIu64 ", %zu ids, %" PRIu64 " missing, %" PRIu64
                                " duplicated",
                                s->prefix, s->n ? s->num[0] : 0, s->n ? s->num[s->n - 1] : 0, s->n, missing, dups)))
            goto out;
        rc = CU_ERR_NOMEM;
    }
    for (size_t i = 0; i < x->cm.nsys; i++)
        if (json_object_set_new(sys, x->cm.sys[i], json_integer((json_int_t)x->cm.sysn[i])))
            goto out;
    t = json_pack("{sIsIsIsI}", "ids_without_sequence_number", (json_int_t)x->cm.unsequenced,
                  "ids_in_unlisted_series", (json_int_t)x->cm.other_series, "entries_of_unlisted_systems",
                  (json_int_t)x->cm.other_systems, "non_access_entries", (json_int_t)x->cm.non_access);
    if (!t || json_object_set_new(j, "series", ser) || json_object_set_new(j, "systems", sys) ||
        json_object_set_new(j, "other", t)) {
        ser = sys = NULL;
        goto out;
    }
    ser = sys = NULL;
    if (json_object_set_new(j, "statement",
                            json_string("The ledger is one Merkle tree: its index range has no holes by construction. "
                                        "Event ids are split into series by their non-numeric prefix; within the "
                                        "period every number between a series' first and last id that no ledger "
                                        "entry carries is listed as missing. This is a statement by the exporter "
                                        "over the range scanned; the bundle holds only the selected entries.")))
        goto out;
    rc = json_line(&x->completeness, j);
out:
    json_decref(j);
    json_decref(ser);
    json_decref(sys);
    return rc;
}

/* The defect log lines whose life overlaps [from, now]. */
static cu_rc build_defects(ex *x)
{
    const cu_evidence_export_opts *o = x->o;
    char path[4300];
    const char *p = o->defects_path;
    cu_rc rc;
    if (!p) {
        snprintf(path, sizeof path, "%s/defects.jsonl", o->data_dir);
        p = path;
    }
    if ((rc = cu_file_read(p, DEFECTS_MAX, &x->defects_raw, &x->defects_len)))
        return cu_err_set(rc, "defect log %s: %s (pass --defects FILE)", p, cu_err_detail());
    size_t lineno = 0;
    unsigned kept = 0;
    for (char *s = x->defects_raw; *s;) {
        char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        lineno++;
        if (n > 0) {
            json_t *j = NULL;
            int64_t intro = 0, fixed = INT64_MAX;
            json_t *fi, *ff;
            if ((rc = cu_ev_json_obj("defect", s, n, &j)))
                return cu_err_set(rc, "%s:%zu: %s", p, lineno, cu_err_detail());
            fi = json_object_get(j, "introduced");
            ff = json_object_get(j, "fixed");
            if (!json_is_string(json_object_get(j, "id")) || !json_is_string(json_object_get(j, "summary")) ||
                !json_is_string(fi) || cu_date_parse(json_string_value(fi), json_string_length(fi), &intro) ||
                !(json_is_null(ff) || (json_is_string(ff) &&
                                       !cu_date_parse(json_string_value(ff), json_string_length(ff), &fixed)))) {
                json_decref(j);
                return cu_err_set(CU_ERR_PARSE, "%s:%zu: a defect needs id, summary, introduced (date) and fixed "
                                                "(date or null)", p, lineno);
            }
            if (intro <= o->now && fixed >= x->t_first - 86400) {
                rc = json_line(&x->defects, j);
                if (rc == CU_OK) {
                    rc = cu_ev_doc_add(x->doc, EV_P, "%s (%s, fixed %s): %s", json_string_value(json_object_get(j, "id")),
                                       json_string_value(fi), json_is_string(ff) ? json_string_value(ff) : "not yet",
                                       json_string_value(json_object_get(j, "summary")));
                }
                kept++;
            }
            json_decref(j);
            if (rc)
                return rc;
        }
        s += n + (nl ? 1 : 0);
    }
    if (kept == 0)
        return cu_ev_doc_add(x->doc, EV_P, "No known defect of the software was open during the period.");
    return CU_OK;
}

static cu_rc build_provenance(ex *x)
{
    const cu_evidence_export_opts *o = x->o;
    char now[21], a[21], b[21];
    cu_time_format(o->now, now);
    cu_time_format(x->t_first, a);
    cu_time_format(x->t_last, b);
    json_t *sys = json_array();
    if (!sys)
        return CU_ERR_NOMEM;
    for (size_t i = 0; i < x->cm.nsys; i++)
        json_array_append_new(sys, json_string(x->cm.sys[i]));
    json_t *j = json_pack(
        "{so" "ssssssssss" "sIsIsI" "s{ssss}" "ss}", "source_systems", sys, "collector",
        o->collector ? o->collector : "custos pipeline (ledger append before index)", "software", "custos " CUSTOS_VERSION,
        "log_origin", x->cp.origin, "exported_at", now, "label", o->label ? o->label : "", "ledger_size_at_export",
        (json_int_t)cu_ledger_size(x->l), "store_indexed", (json_int_t)cu_store_indexed(x->store), "checkpoint_size",
        (json_int_t)x->cp.size, "period", "from", a, "to", b, "ingest_times",
        "per entry in ingested: the wall-clock time the collector recorded when the entry's batch became durable "
        "in the ledger (an attestation of the exporter, like completeness; null: not recorded, e.g. indexed "
        "before ingest times were kept or re-indexed after a crash); every entry was durable no later than the "
        "publication of checkpoint.old");
    if (!j)
        return CU_ERR_NOMEM;
    /* one {index, at} per exported entry, in entries.jsonl order */
    cu_rc rc = CU_OK;
    json_t *ing = json_array();
    if (!ing || json_object_set_new(j, "ingested", ing)) {
        json_decref(j);
        return CU_ERR_NOMEM;
    }
    for (size_t i = 0; i < x->s.n && rc == CU_OK; i++) {
        int64_t at;
        char ts[21];
        json_t *v;
        rc = cu_store_ingested_at(x->store, x->s.idx[i], &at);
        if (rc == CU_OK) {
            cu_time_format(at, ts);
            v = json_string(ts);
            x->st.ingest_recorded++;
        } else if (rc == CU_ERR_NOTFOUND) {
            v = json_null();
            rc = CU_OK;
        } else {
            break;
        }
        if (json_array_append_new(ing, json_pack("{sIso}", "index", (json_int_t)x->s.idx[i], "at", v)))
            rc = CU_ERR_NOMEM;
    }
    if (rc == CU_OK)
        rc = json_line(&x->provenance, j);
    json_decref(j);
    return rc;
}

static cu_rc build_report_head(ex *x)
{
    const cu_evidence_export_opts *o = x->o;
    char now[21], r1[45], r0[45];
    cu_rc rc;
    cu_time_format(o->now, now);
    cu_ev_b64_enc32(x->cp.root.b, r1);
    cu_ev_b64_enc32(x->old.root.b, r0);
    char what[300];
    if (o->by == CU_EVIDENCE_BY_INDEXES)
        snprintf(what, sizeof what, "%zu ledger entries chosen by index", o->nindexes);
    else
        snprintf(what, sizeof what, "every access by/about %s %.200s", by_name(o->by), o->id);
    if ((rc = cu_ev_doc_add(x->doc, EV_TITLE, "custos evidence bundle%s%.200s", o->label ? ": " : "",
                            o->label ? o->label : "")) ||
        (rc = cu_ev_doc_add(x->doc, EV_P, "Selection: %s.", what)) ||
        (rc = cu_ev_doc_add(x->doc, EV_P, "Exported %s by custos %s from the log \"%s\".", now, CUSTOS_VERSION,
                            x->cp.origin)) ||
        (rc = cu_ev_doc_add(x->doc, EV_P, "Signed checkpoint: %" PRIu64 " entries, root %s.", x->cp.size, r1)) ||
        (rc = cu_ev_doc_add(x->doc, EV_P, "Earlier checkpoint: %" PRIu64 " entries, root %s.", x->old.size, r0)) ||
        (rc = cu_ev_doc_add(x->doc, EV_P, "Log key: %s", x->vkey)) ||
        (rc = cu_ev_doc_add(x->doc, EV_H, "How to verify")) ||
        (rc = cu_ev_doc_add(x->doc, EV_P,
                            "Obtain the log's verifier key from its operator through a channel you trust (not from "
                            "this bundle), then run: custos evidence verify BUNDLE --pubkey KEYFILE. It prints one line "
                            "per check and exits non-zero if any fails.")) ||
        (rc = cu_ev_doc_add(x->doc, EV_P,
                            "By hand: tar -xf BUNDLE; MANIFEST is a C2SP signed note (Ed25519) over a text listing the "
                            "SHA-256 and size of every other file; checkpoint and checkpoint.old are C2SP "
                            "tlog-checkpoint signed notes; consistency.proof is an RFC 9162 consistency proof between "
                            "them; each line of entries.jsonl holds an entry (base64), its RFC 9162 inclusion proof to "
                            "checkpoint (leaf hash SHA-256(0x00 || entry)), its clear values, and for each person "
                            "opened the key K such that the entry's commitment equals SHA-256(\"custos/subject/v2\" "
                            "0x00 || K || person id).")) ||
        (rc = cu_ev_doc_add(x->doc, EV_P,
                            "If you hold a checkpoint of this log that you obtained earlier, ask for a consistency "
                            "proof from it (custos ledger prove) to check that the log was not rewritten since.")) ||
        (rc = cu_ev_doc_add(x->doc, EV_H, "Timeline")) ||
        (rc = cu_ev_doc_add(x->doc, EV_P,
                            "Lines in roman type were written by the record system. Lines in italics marked [typed "
                            "by the officer] are what the officer entered at the terminal: no system checks them. "
                            "People are shown where their commitment is opened; others stay sealed.")))
        return rc;
    return CU_OK;
}

static cu_rc build_manifest(ex *x, const cu_evidence_member *m, size_t n)
{
    const cu_evidence_export_opts *o = x->o;
    char now[21], fr[21] = "-", to[21] = "-";
    cu_rc rc;
    cu_time_format(o->now, now);
    if (o->from != INT64_MIN)
        cu_time_format(o->from, fr);
    if (o->to != INT64_MAX)
        cu_time_format(o->to, to);
    if ((rc = cu_buf_appendf(&x->manifest, "%s\norigin %s\ncreated %s\n", EV_FORMAT, x->cp.origin, now)))
        return rc;
    if (o->by == CU_EVIDENCE_BY_INDEXES)
        rc = cu_buf_appendf(&x->manifest, "selection indexes %zu\n", o->nindexes);
    else
        rc = cu_buf_appendf(&x->manifest, "selection %s %s\n", by_name(o->by), o->id);
    if (rc || (rc = cu_buf_appendf(&x->manifest, "window %s %s\nentries %" PRIu64 "\ncheckpoint %" PRIu64
                                                 "\ncheckpoint.old %" PRIu64 "\n",
                                   fr, to, x->st.entries, x->cp.size, x->old.size)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        uint8_t h[CU_SHA256_LEN];
        char hex[65];
        if ((rc = cu_sha256(m[i].data, m[i].len, NULL, 0, NULL, 0, h)))
            return rc;
        cu_hex_encode(h, sizeof h, hex);
        if ((rc = cu_buf_appendf(&x->manifest, "file %s %zu %s\n", hex, m[i].len, m[i].name)))
            return rc;
    }
    if ((rc = cu_note_sign(x->manifest.data, x->manifest.len, x->signer, &x->manifest_note, &x->manifest_len)))
        return cu_err_set(rc, "signing the manifest: %s", cu_err_detail());
    return CU_OK;
}

static void ex_free(ex *x)
{
    cu_ledger_close(x->l);
    cu_store_close(x->store);
    cu_names_free(x->names);
    if (x->signer_text) {
        sodium_memzero(x->signer_text, strlen(x->signer_text));
        cu_free(x->signer_text);
    }
    cu_note_signer_free(x->signer);
    cu_note_verifier_free(x->verifier);
    cu_free(x->vkey);
    cu_free(x->cp_note);
    cu_free(x->old_note);
    cu_free(x->cons_text);
    cu_free(x->defects_raw);
    cu_free(x->s.idx);
    cu_free(x->rd.data);
    cu_buf_free(&x->rd.one);
    pmap_free(&x->pm);
    complete_free(&x->cm);
    cu_buf *bufs[] = {&x->entries, &x->completeness, &x->provenance, &x->defects,
                      &x->pdf,     &x->manifest,     &x->bundle};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        cu_buf_free(bufs[i]);
    cu_free(x->manifest_note);
    cu_ev_doc_free(x->doc);
}

cu_rc cu_evidence_export(const cu_evidence_export_opts *o, cu_evidence_export_stats *st)
{
    ex *x = cu_calloc(1, sizeof *x);
    char path[4300];
    cu_rc rc;
    if (!x)
        return CU_ERR_NOMEM;
    x->o = o;
    cu_buf_init(&x->entries, CU_EVIDENCE_MAX_MEMBER);
    cu_buf_init(&x->completeness, 1u << 20);
    cu_buf_init(&x->provenance, 1u << 16);
    cu_buf_init(&x->defects, DEFECTS_MAX);
    cu_buf_init(&x->pdf, CU_EVIDENCE_MAX_MEMBER);
    cu_buf_init(&x->manifest, CU_NOTE_MAX / 2);
    cu_buf_init(&x->bundle, CU_EVIDENCE_MAX_BUNDLE);
    cu_buf_init(&x->rd.one, CU_LEDGER_ENTRY_MAX + 1);
    if (!o->data_dir || !o->out_path || (o->by != CU_EVIDENCE_BY_INDEXES && (!o->id || !o->id[0])) ||
        o->by < CU_EVIDENCE_BY_OFFICER || o->by > CU_EVIDENCE_BY_INDEXES || o->from > o->to) {
        rc = cu_err_set(CU_ERR_INVAL, "evidence export needs a data directory, an output path and a selection");
        goto fail;
    }
    if (o->id && strlen(o->id) > 64) {
        rc = cu_err_set(CU_ERR_INVAL, "selection id over 64 bytes");
        goto fail;
    }
    /* the log: read only; its key to sign the manifest */
    if (snprintf(x->ldir, sizeof x->ldir, "%s/ledger", o->data_dir) >= (int)sizeof x->ldir) {
        rc = cu_err_set(CU_ERR_TOOBIG, "data directory path too long");
        goto fail;
    }
    cu_ledger_opts lo = {.read_only = true};
    if ((rc = cu_ledger_open(x->ldir, &lo, &x->l)))
        goto fail;
    if ((rc = cu_ledger_read_signer(x->ldir, &x->signer_text)) ||
        (rc = cu_note_signer_parse(x->signer_text, &x->signer))) {
        rc = cu_err_set(rc, "the log's signer key: %s", cu_err_detail());
        goto fail;
    }
    if (!(x->vkey = cu_note_signer_verifier_key(x->signer))) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    if ((rc = cu_note_verifier_parse(x->vkey, &x->verifier)))
        goto fail;
    snprintf(path, sizeof path, "%s/checkpoint", x->ldir);
    if ((rc = cu_file_read(path, CU_NOTE_MAX, &x->cp_note, &x->cp_len)) ||
        (rc = open_note(x->verifier, x->cp_note, x->cp_len, "checkpoint", &x->cp)))
        goto fail;
    snprintf(x->rd.dir, sizeof x->rd.dir, "%s", x->ldir);
    x->rd.size = x->cp.size;
    x->rd.l = x->l;
    /* the store: selection, names */
    snprintf(path, sizeof path, "%s/store.db", o->data_dir);
    if ((rc = cu_store_open(path, &x->store)) || (rc = cu_names_new(&x->names)) ||
        (rc = cu_store_load_names(x->store, x->names)))
        goto fail;
    if ((rc = select_entries(x)))
        goto fail;
    uint64_t lo_idx = x->s.idx[0], hi_idx = x->s.idx[x->s.n - 1];
    if ((rc = pick_old(x, hi_idx + 1)))
        goto fail;
    {
        cu_hash proof[CU_MERKLE_MAX_PROOF];
        size_t plen = 0;
        if (x->old.size < x->cp.size &&
            (rc = cu_ledger_prove_consistency(x->l, x->old.size, x->cp.size, proof, &plen)))
            goto fail;
        if ((rc = cu_ledger_proof_format(false, x->old.size, x->cp.size, proof, plen, &x->cons_text, &x->cons_len)))
            goto fail;
    }
    /* openings */
    {
        const uint8_t *secret = cu_ledger_commit_secret(x->l);
        if (o->by == CU_EVIDENCE_BY_PERSON) {
            const char *one[1] = {o->id};
            rc = pmap_build(&x->pm, secret, one, 1);
        } else {
            uint32_t np = cu_names_count(x->names, CU_K_PERSON);
            const char **nm = cu_malloc((np ? np : 1) * sizeof *nm);
            if (!nm) {
                rc = CU_ERR_NOMEM;
                goto fail;
            }
            for (uint32_t i = 0; i < np; i++)
                nm[i] = cu_names_str(x->names, CU_K_PERSON, i);
            rc = pmap_build(&x->pm, secret, nm, np);
            cu_free(nm);
        }
        if (rc)
            goto fail;
    }
    if ((rc = cu_ev_doc_new(&x->doc)) || (rc = build_report_head(x)))
        goto fail;
    for (size_t i = 0; i < x->s.n; i++)
        if ((rc = one_entry(x, x->s.idx[i], o->by == CU_EVIDENCE_BY_PERSON ? o->id : NULL)))
            goto fail;
    if ((rc = scan_range(x, lo_idx, hi_idx)) || (rc = cu_ev_doc_add(x->doc, EV_H, "Completeness")) ||
        (rc = cu_ev_doc_add(x->doc, EV_P,
                            "Ledger entries %" PRIu64 " to %" PRIu64 " (the period of the selection) were read; the "
                            "ledger has no holes by construction. Event id sequences in that range:",
                            lo_idx, hi_idx)) ||
        (rc = build_completeness(x, lo_idx, hi_idx)))
        goto fail;
    if (x->st.unpublished &&
        (rc = cu_ev_doc_add(x->doc, EV_P,
                            "%" PRIu64 " selected entries are newer than the latest checkpoint and are not in this "
                            "bundle.", x->st.unpublished)))
        goto fail;
    if ((rc = build_provenance(x)) || (rc = cu_ev_doc_add(x->doc, EV_H, "Provenance")) ||
        (rc = cu_ev_doc_add(x->doc, EV_P,
                            "Source systems and the collector are in provenance.json, with the time each entry's "
                            "batch became durable in the log as the collector's clock recorded it (%" PRIu64
                            " of %zu entries; an attestation of the operator, like the completeness statement). "
                            "Every entry here was in the log when the earlier checkpoint (%" PRIu64
                            " entries) was signed.", x->st.ingest_recorded, x->s.n, x->old.size)) ||
        (rc = cu_ev_doc_add(x->doc, EV_H, "Software defects in the period")) || (rc = build_defects(x)))
        goto fail;
    if ((rc = cu_ev_doc_add(x->doc, EV_H, "What this bundle proves, and what it does not")) ||
        (rc = cu_ev_doc_add(x->doc, EV_P,
                            "It proves that each entry shown is, byte for byte, in the log whose key signed the "
                            "checkpoints, at the index shown; that the log at the earlier checkpoint is a prefix of "
                            "the log now; that each opened person is the one the entry committed to; and that the "
                            "holder of the log key signed this selection, statement and report.")) ||
        (rc = cu_ev_doc_add(x->doc, EV_P,
                            "It does not prove that the record systems reported every access or reported it "
                            "truthfully, that the officer was the one at the terminal, that what an officer typed is "
                            "true, or that the selection and completeness statement are complete beyond the ranges "
                            "stated.")))
        goto fail;
    {
        char title[200];
        snprintf(title, sizeof title, "custos evidence %s %.64s", by_name(o->by), o->id ? o->id : "");
        if ((rc = cu_ev_doc_pdf(x->doc, o->label ? o->label : title, o->now, &x->pdf)))
            goto fail;
    }
    cu_evidence_member m[EV_NMEMBERS];
    const struct {
        const char *name;
        const void *d;
        size_t n;
    } parts[EV_NMEMBERS - 1] = {
        {EV_KEY, x->vkey, strlen(x->vkey)},
        {EV_CP, x->cp_note, x->cp_len},
        {EV_CP_OLD, x->old_note, x->old_len},
        {EV_CONS, x->cons_text, x->cons_len},
        {EV_ENTRIES, x->entries.data, x->entries.len},
        {EV_COMPLETE, x->completeness.data, x->completeness.len},
        {EV_PROV, x->provenance.data, x->provenance.len},
        {EV_DEFECTS, x->defects.data ? x->defects.data : "", x->defects.len},
        {EV_REPORT, x->pdf.data, x->pdf.len},
    };
    for (size_t i = 0; i < EV_NMEMBERS - 1; i++) {
        snprintf(m[i + 1].name, sizeof m[i + 1].name, "%s", parts[i].name);
        m[i + 1].data = parts[i].d;
        m[i + 1].len = parts[i].n;
    }
    if ((rc = build_manifest(x, m + 1, EV_NMEMBERS - 1)))
        goto fail;
    snprintf(m[0].name, sizeof m[0].name, "%s", EV_MANIFEST);
    m[0].data = (const uint8_t *)x->manifest_note;
    m[0].len = x->manifest_len;
    if ((rc = cu_evidence_tar_write(m, EV_NMEMBERS, o->now, &x->bundle)) ||
        (rc = cu_file_write_atomic(o->out_path, x->bundle.data, x->bundle.len, 0644)))
        goto fail;
    x->st.old_size = x->old.size;
    x->st.new_size = x->cp.size;
    x->st.range_lo = lo_idx;
    x->st.range_hi = hi_idx;
    x->st.bytes = x->bundle.len;
    if (st)
        *st = x->st;
    ex_free(x);
    cu_free(x);
    return CU_OK;
fail:
    ex_free(x);
    cu_free(x);
    return rc;
}
