/*
 * Offline verification of a bundle with nothing but its bytes and the
 * log's verifier key.  Every check is reported by name, in a fixed order
 * (docs/evidence.md lists them); a check whose input already failed is
 * reported as failed ("skipped: ...") so that the first failure named is the
 * one that matters and the rest are still listed.
 *
 * Invariants:
 *   1. Nothing is trusted before it is checked: the key inside the bundle
 *      only has to equal the key given; the manifest's signature is checked
 *      with the given key; member hashes against the signed manifest;
 *      checkpoints' signatures with the given key; proofs against the
 *      signed roots; clear values recomputed from the proved entry bytes.
 *   2. Every read is bounded: the container (CU_EVIDENCE_MAX_BUNDLE, member
 *      and count limits), lines (CU_EVIDENCE_MAX_LINE), entries
 *      (CU_EVIDENCE_MAX_ENTRIES), notes (CU_NOTE_MAX), JSON via jansson on
 *      bounded buffers.
 *   3. No allocation grows with anything but the input, and all of it is
 *      released on every path (one exit).
 */
#include "evidence/evidence_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    C_CONTAINER, C_MEMBERS, C_PUBKEY, C_MANIFEST_SIG, C_MANIFEST, C_HASHES, C_CP, C_CP_OLD, C_CONS, C_ENTRIES,
    C_INCLUSION, C_OPENINGS, C_COMPLETE, C_PROV, C_DEFECTS, C_REPORT, C_COUNT
};
static const char *const check_names[C_COUNT] = {
    "container",  "members",      "pubkey",      "manifest-signature", "manifest", "member-hashes",
    "checkpoint", "checkpoint.old", "consistency", "entries",            "inclusion", "openings",
    "completeness", "provenance", "defects",     "report"};

typedef struct vctx {
    cu_evidence_check_fn fn;
    void *ud;
    cu_evidence_result *res;
} vctx;

static bool report(vctx *v, int check, cu_rc rc, const char *fmt, ...) CU_PRINTF(4, 5);
static bool report(vctx *v, int check, cu_rc rc, const char *fmt, ...)
{
    char detail[1024] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    v->res->checks++;
    if (rc) {
        v->res->failed++;
        if (v->res->rc == CU_OK) {
            v->res->rc = rc;
            snprintf(v->res->first_failed, sizeof v->res->first_failed, "%s", check_names[check]);
        }
    }
    if (v->fn)
        v->fn(v->ud, check_names[check], rc, detail);
    return rc == CU_OK;
}

static const cu_evidence_member *member(const cu_evidence_member *m, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0)
            return &m[i];
    return NULL;
}

/* The text of a signed note: up to the blank line before the last
 * signature block (for reading a manifest whose signature failed). */
static size_t note_text_len(const char *s, size_t n)
{
    for (size_t i = n; i >= 2; i--)
        if (s[i - 1] == '\n' && s[i - 2] == '\n' && i < n && (unsigned char)s[i] == 0xe2)
            return i - 1;
    return 0;
}

typedef struct manifest {
    char origin[256];
    uint64_t entries, cp_size, old_size;
    bool have_entries, have_cp, have_old;
    struct {
        char name[100];
        uint8_t hash[32];
        uint64_t size;
        bool seen;
    } file[EV_NMEMBERS];
    size_t nfiles;
} manifest;

static cu_rc parse_manifest(const char *t, size_t n, manifest *m)
{
    memset(m, 0, sizeof *m);
    size_t lineno = 0;
    const char *end = t + n;
    while (t < end) {
        const char *nl = memchr(t, '\n', (size_t)(end - t));
        if (!nl)
            return cu_err_set(CU_ERR_PARSE, "line %zu: no newline", lineno + 1);
        size_t len = (size_t)(nl - t);
        char line[512];
        lineno++;
        if (len >= sizeof line)
            return cu_err_set(CU_ERR_PARSE, "line %zu: too long", lineno);
        memcpy(line, t, len);
        line[len] = '\0';
        t = nl + 1;
        if (lineno == 1) {
            if (strcmp(line, EV_FORMAT) != 0)
                return cu_err_set(CU_ERR_UNSUPPORTED, "line 1: format \"%.64s\", want \"%s\"", line, EV_FORMAT);
            continue;
        }
        char *sp = strchr(line, ' ');
        if (!sp)
            return cu_err_set(CU_ERR_PARSE, "line %zu: no value", lineno);
        *sp = '\0';
        const char *val = sp + 1;
        char *e;
        if (strcmp(line, "origin") == 0) {
            if (strlen(val) >= sizeof m->origin || m->origin[0])
                return cu_err_set(CU_ERR_PARSE, "line %zu: bad origin", lineno);
            snprintf(m->origin, sizeof m->origin, "%s", val);
        } else if (strcmp(line, "entries") == 0 || strcmp(line, "checkpoint") == 0 ||
                   strcmp(line, "checkpoint.old") == 0) {
            if (val[0] < '0' || val[0] > '9')
                return cu_err_set(CU_ERR_PARSE, "line %zu: bad number", lineno);
            unsigned long long v = strtoull(val, &e, 10);
            if (*e)
                return cu_err_set(CU_ERR_PARSE, "line %zu: bad number", lineno);
            bool *have = line[0] == 'e' ? &m->have_entries : line[10] ? &m->have_old : &m->have_cp;
            uint64_t *dst = line[0] == 'e' ? &m->entries : line[10] ? &m->old_size : &m->cp_size;
            if (*have)
                return cu_err_set(CU_ERR_PARSE, "line %zu: %s given twice", lineno, line);
            *have = true;
            *dst = v;
        } else if (strcmp(line, "file") == 0) {
            char hex[65], name[100];
            unsigned long long size;
            int used = 0;
            size_t hl = 0;
            if (sscanf(val, "%64[0-9a-f] %llu %99[A-Za-z0-9._-]%n", hex, &size, name, &used) != 3 ||
                (size_t)used != strlen(val) || strlen(hex) != 64)
                return cu_err_set(CU_ERR_PARSE, "line %zu: want \"file <sha256 hex> <size> <name>\"", lineno);
            if (m->nfiles == EV_NMEMBERS)
                return cu_err_set(CU_ERR_PARSE, "line %zu: too many files", lineno);
            for (size_t i = 0; i < m->nfiles; i++)
                if (strcmp(m->file[i].name, name) == 0)
                    return cu_err_set(CU_ERR_PARSE, "line %zu: %s listed twice", lineno, name);
            if (cu_hex_decode(hex, 64, m->file[m->nfiles].hash, &hl) || hl != 32)
                return cu_err_set(CU_ERR_PARSE, "line %zu: bad hash", lineno);
            snprintf(m->file[m->nfiles].name, sizeof m->file[0].name, "%s", name);
            m->file[m->nfiles].size = size;
            m->nfiles++;
        } else if (strcmp(line, "created") != 0 && strcmp(line, "selection") != 0 && strcmp(line, "window") != 0) {
            return cu_err_set(CU_ERR_PARSE, "line %zu: unknown key \"%.32s\"", lineno, line);
        }
    }
    if (lineno == 0)
        return cu_err_set(CU_ERR_PARSE, "empty");
    if (!m->origin[0] || !m->have_entries || !m->have_cp || !m->have_old)
        return cu_err_set(CU_ERR_PARSE, "origin, entries, checkpoint or checkpoint.old missing");
    return CU_OK;
}

static cu_rc open_cp(cu_note_verifier *v, const cu_evidence_member *mb, cu_checkpoint *cp)
{
    size_t tl = 0;
    bool ok = false;
    cu_note_verifier *vs[1] = {v};
    cu_rc rc = cu_note_open((const char *)mb->data, mb->len, vs, 1, &tl, &ok);
    if (rc == CU_OK)
        rc = cu_checkpoint_parse((const char *)mb->data, tl, cp);
    return rc;
}

/* One parsed line of entries.jsonl. */
typedef struct vent {
    uint64_t index;
    uint8_t *bytes;
    size_t len;
    cu_hash proof[CU_MERKLE_MAX_PROOF];
    size_t plen;
    json_t *subjects;
} vent;

static cu_rc compare_clear(json_t *line, const ev_access *a)
{
    json_t *m = NULL, *t = NULL;
    cu_rc rc = cu_ev_clear_json(a, &m, &t);
    if (rc)
        return rc;
    if (!json_equal(m, json_object_get(line, "machine")))
        rc = cu_err_set(CU_ERR_VERIFY, "machine fields differ from the entry bytes");
    else if (!json_equal(t, json_object_get(line, "typed")))
        rc = cu_err_set(CU_ERR_VERIFY, "typed fields differ from the entry bytes");
    json_decref(m);
    json_decref(t);
    return rc;
}

static cu_rc parse_entry_line(const char *s, size_t n, uint64_t prev, bool first, uint64_t cp_size, vent *e)
{
    json_t *j = NULL;
    cu_rc rc = cu_ev_json_obj("entry", s, n, &j);
    if (rc)
        return rc;
    json_t *ix = json_object_get(j, "index"), *en = json_object_get(j, "entry"), *pr = json_object_get(j, "inclusion");
    e->subjects = json_object_get(j, "subjects");
    if (!json_is_integer(ix) || json_integer_value(ix) < 0 || !json_is_string(en) || !json_is_array(pr) ||
        !json_is_array(e->subjects) || json_object_size(j) != 6) {
        rc = cu_err_set(CU_ERR_PARSE, "want exactly index, entry, inclusion, machine, typed and subjects");
        goto out;
    }
    e->index = (uint64_t)json_integer_value(ix);
    if (!first && e->index <= prev) {
        rc = cu_err_set(CU_ERR_PARSE, "index %" PRIu64 " after %" PRIu64 " (indexes must increase)", e->index, prev);
        goto out;
    }
    if (e->index >= cp_size && cp_size) {
        rc = cu_err_set(CU_ERR_VERIFY, "index %" PRIu64 " is beyond the checkpoint (%" PRIu64 ")", e->index, cp_size);
        goto out;
    }
    size_t bl = json_string_length(en);
    if (bl > cu_b64_enc_len(CU_LEDGER_ENTRY_MAX) || bl % 4) {
        rc = cu_err_set(CU_ERR_PARSE, "entry bytes too long or not base64");
        goto out;
    }
    if (!(e->bytes = cu_malloc(bl / 4 * 3 + 1))) {
        rc = CU_ERR_NOMEM;
        goto out;
    }
    if (cu_b64_decode(json_string_value(en), bl, e->bytes, &e->len)) {
        rc = cu_err_set(CU_ERR_PARSE, "entry bytes are not base64");
        goto out;
    }
    if (json_array_size(pr) > CU_MERKLE_MAX_PROOF) {
        rc = cu_err_set(CU_ERR_PARSE, "inclusion proof of %zu hashes", json_array_size(pr));
        goto out;
    }
    e->plen = json_array_size(pr);
    for (size_t i = 0; i < e->plen; i++)
        if (cu_ev_b64_32(json_string_value(json_array_get(pr, i)), e->proof[i].b)) {
            rc = cu_err_set(CU_ERR_PARSE, "inclusion proof hash %zu is not base64 of 32 bytes", i);
            goto out;
        }
    cu_ledger_entry de;
    ev_access a;
    if ((rc = cu_ledger_entry_decode(e->bytes, e->len, &de)) || (rc = cu_ev_access_view(&de, &a)) ||
        (rc = compare_clear(j, &a)))
        goto out;
    if (json_array_size(e->subjects) != a.nsubjects) {
        rc = cu_err_set(CU_ERR_VERIFY, "%zu subjects listed, the entry has %zu", json_array_size(e->subjects),
                        a.nsubjects);
        goto out;
    }
out:
    if (rc == CU_OK)
        json_incref(e->subjects);
    else
        e->subjects = NULL;
    json_decref(j);
    return rc;
}

/* Check the subjects of one entry: commitments equal the entry's, openings open. */
static cu_rc check_openings(const vent *e, uint64_t *opened, uint64_t *sealed)
{
    cu_ledger_entry de;
    ev_access a;
    cu_rc rc;
    if ((rc = cu_ledger_entry_decode(e->bytes, e->len, &de)) || (rc = cu_ev_access_view(&de, &a)))
        return rc;
    for (size_t i = 0; i < a.nsubjects; i++) {
        json_t *s = json_array_get(e->subjects, i);
        uint8_t c[32], k[32];
        json_t *p = json_object_get(s, "person"), *key = json_object_get(s, "key");
        if (!json_is_object(s) || cu_ev_b64_32(json_string_value(json_object_get(s, "commitment")), c))
            return cu_err_set(CU_ERR_PARSE, "subject %zu: no commitment", i);
        if (!cu_ct_equal(c, a.subjects + i * CU_HASH_LEN, CU_HASH_LEN))
            return cu_err_set(CU_ERR_VERIFY, "subject %zu: commitment differs from the entry's", i);
        if (!p && !key && json_object_size(s) == 1) {
            (*sealed)++;
            continue;
        }
        if (!json_is_string(p) || json_object_size(s) != 3 || cu_ev_b64_32(json_string_value(key), k))
            return cu_err_set(CU_ERR_PARSE, "subject %zu: an opening needs person and key", i);
        if (!cu_ledger_commitment_open(k, json_string_value(p), json_string_length(p), c))
            return cu_err_set(CU_ERR_VERIFY, "subject %zu: the key does not open the commitment to \"%.64s\"", i,
                              json_string_value(p));
        (*opened)++;
    }
    return CU_OK;
}

/* Iterate the lines of a member: CU_OK with a line, NOTFOUND at the end. */
/* provenance.ingested: one {index, at} per entry, in order, at an RFC 3339
 * time or null (not recorded).  It is the exporter's attestation, like the
 * completeness statement: the signed manifest binds it, nothing in the log
 * proves it, so only presence and form are checked. */
static cu_rc check_ingested(const json_t *a, const vent *ents, size_t nents)
{
    if (!json_is_array(a))
        return cu_err_set(CU_ERR_PARSE, "ingest times: want an array ingested");
    if (json_array_size(a) != nents)
        return cu_err_set(CU_ERR_VERIFY, "ingest times: %zu, for %zu entries", json_array_size(a), nents);
    for (size_t i = 0; i < nents; i++) {
        const json_t *o = json_array_get(a, i), *ix = json_object_get(o, "index"), *at = json_object_get(o, "at");
        if (!json_is_object(o) || json_object_size(o) != 2 || !json_is_integer(ix) || !at)
            return cu_err_set(CU_ERR_PARSE, "ingest times: item %zu wants index and at", i);
        if ((uint64_t)json_integer_value(ix) != ents[i].index || json_integer_value(ix) < 0)
            return cu_err_set(CU_ERR_VERIFY, "ingest times: item %zu names index %lld, the entry is %" PRIu64, i,
                              (long long)json_integer_value(ix), ents[i].index);
        int64_t t;
        if (!json_is_null(at) && (!json_is_string(at) ||
                                  cu_time_parse(json_string_value(at), json_string_length(at), &t) != CU_OK))
            return cu_err_set(CU_ERR_PARSE, "ingest times: entry %" PRIu64 ": at is not an RFC 3339 time or null",
                              ents[i].index);
    }
    return CU_OK;
}

static cu_rc next_line(const cu_evidence_member *m, size_t *off, const char **s, size_t *n, size_t *lineno)
{
    if (*off >= m->len)
        return CU_ERR_NOTFOUND;
    const char *b = (const char *)m->data + *off;
    const char *nl = memchr(b, '\n', m->len - *off);
    if (!nl)
        return cu_err_set(CU_ERR_PARSE, "line %zu: no final newline", *lineno + 1);
    *n = (size_t)(nl - b);
    *s = b;
    *off += *n + 1;
    (*lineno)++;
    if (*n > CU_EVIDENCE_MAX_LINE)
        return cu_err_set(CU_ERR_TOOBIG, "line %zu: over %u bytes", *lineno, CU_EVIDENCE_MAX_LINE);
    return CU_OK;
}

cu_rc cu_evidence_verify(const void *bundle, size_t len, const char *pubkey, cu_evidence_check_fn fn, void *ud,
                         cu_evidence_result *res)
{
    cu_evidence_member mem[CU_EVIDENCE_MAX_MEMBERS];
    size_t nm = 0;
    vctx v = {fn, ud, res};
    cu_note_verifier *key = NULL;
    manifest man;
    bool ok_container, ok_members, ok_key = false, ok_man = false, ok_cp = false, ok_old = false, ok_entries = false;
    cu_checkpoint cp, old;
    vent *ents = NULL;
    size_t nents = 0;
    cu_rc rc;
    const cu_evidence_member *mb[EV_NMEMBERS] = {0};
    memset(res, 0, sizeof *res);
    memset(&man, 0, sizeof man);
    memset(&cp, 0, sizeof cp);
    memset(&old, 0, sizeof old);

    /* container, members */
    rc = cu_evidence_tar_parse(bundle, len, mem, CU_EVIDENCE_MAX_MEMBERS, &nm);
    ok_container = report(&v, C_CONTAINER, rc, "%s", rc ? cu_err_detail() : "");
    ok_members = ok_container;
    if (ok_container) {
        for (size_t i = 0; i < EV_NMEMBERS; i++)
            mb[i] = member(mem, nm, cu_ev_members[i]);
        for (size_t i = 0; i < EV_NMEMBERS && ok_members; i++)
            if (!mb[i])
                ok_members = report(&v, C_MEMBERS, CU_ERR_NOTFOUND, "%s is missing", cu_ev_members[i]);
        if (ok_members && nm != EV_NMEMBERS) {
            for (size_t i = 0; i < nm; i++) {
                bool known = false;
                for (size_t k = 0; k < EV_NMEMBERS; k++)
                    known |= strcmp(mem[i].name, cu_ev_members[k]) == 0;
                if (!known) {
                    ok_members = report(&v, C_MEMBERS, CU_ERR_VERIFY, "unexpected member %s", mem[i].name);
                    break;
                }
            }
        }
        if (ok_members)
            report(&v, C_MEMBERS, CU_OK, "%d members", EV_NMEMBERS);
    } else {
        report(&v, C_MEMBERS, CU_ERR_PARSE, "skipped: no container");
    }
    /* the key: given out of band; the bundle's copy must be the same key */
    rc = cu_note_verifier_parse(pubkey ? pubkey : "", &key);
    if (rc) {
        report(&v, C_PUBKEY, rc, "the key given: %s", cu_err_detail());
    } else if (!mb[1]) {
        report(&v, C_PUBKEY, CU_ERR_NOTFOUND, "skipped: no key in the bundle");
    } else {
        size_t kl = strlen(pubkey), bl = mb[1]->len;
        while (kl && (pubkey[kl - 1] == '\n' || pubkey[kl - 1] == '\r'))
            kl--;
        while (bl && mb[1]->data[bl - 1] == '\n')
            bl--;
        ok_key = report(&v, C_PUBKEY, kl == bl && memcmp(pubkey, mb[1]->data, kl) == 0 ? CU_OK : CU_ERR_VERIFY,
                        "%s", kl == bl && memcmp(pubkey, mb[1]->data, kl) == 0
                                  ? cu_note_verifier_name(key)
                                  : "the bundle's key.vkey is not the key given");
    }
    /* manifest: signature, content, member hashes */
    if (mb[0] && key) {
        size_t tl = 0;
        bool vok = false;
        rc = cu_note_open((const char *)mb[0]->data, mb[0]->len, &key, 1, &tl, &vok);
        report(&v, C_MANIFEST_SIG, rc, "%s", rc ? cu_err_detail() : "signed by the key given");
        if (rc)
            tl = note_text_len((const char *)mb[0]->data, mb[0]->len);
        rc = tl ? parse_manifest((const char *)mb[0]->data, tl, &man) : cu_err_set(CU_ERR_PARSE, "no text");
        ok_man = report(&v, C_MANIFEST, rc, "%s", rc ? cu_err_detail() : man.origin) && res->rc == CU_OK;
    } else {
        report(&v, C_MANIFEST_SIG, CU_ERR_VERIFY, "skipped: no manifest or no key");
        report(&v, C_MANIFEST, CU_ERR_PARSE, "skipped: no manifest or no key");
    }
    if (man.nfiles) {
        rc = CU_OK;
        char why[200] = "";
        for (size_t i = 1; i < EV_NMEMBERS && rc == CU_OK; i++) {
            size_t k;
            for (k = 0; k < man.nfiles; k++)
                if (strcmp(man.file[k].name, cu_ev_members[i]) == 0)
                    break;
            uint8_t h[32];
            if (k == man.nfiles) {
                rc = CU_ERR_VERIFY;
                snprintf(why, sizeof why, "%s is not in the manifest", cu_ev_members[i]);
            } else if (!mb[i]) {
                rc = CU_ERR_NOTFOUND;
                snprintf(why, sizeof why, "%s is missing", cu_ev_members[i]);
            } else if (mb[i]->len != man.file[k].size || cu_sha256(mb[i]->data, mb[i]->len, NULL, 0, NULL, 0, h) ||
                       !cu_ct_equal(h, man.file[k].hash, 32)) {
                rc = CU_ERR_VERIFY;
                snprintf(why, sizeof why, "%s: size or SHA-256 differs from the manifest", cu_ev_members[i]);
            }
        }
        if (rc == CU_OK && man.nfiles != EV_NMEMBERS - 1) {
            rc = CU_ERR_VERIFY;
            snprintf(why, sizeof why, "the manifest lists %zu files, want %d", man.nfiles, EV_NMEMBERS - 1);
        }
        report(&v, C_HASHES, rc, "%s", rc ? why : "every member matches the manifest");
    } else {
        report(&v, C_HASHES, CU_ERR_VERIFY, "skipped: no manifest");
    }
    /* checkpoints and consistency */
    if (mb[2] && key) {
        rc = open_cp(key, mb[2], &cp);
        if (rc == CU_OK && man.origin[0] && strcmp(cp.origin, man.origin) != 0)
            rc = cu_err_set(CU_ERR_VERIFY, "origin \"%s\", the manifest says \"%s\"", cp.origin, man.origin);
        if (rc == CU_OK && man.have_cp && cp.size != man.cp_size)
            rc = cu_err_set(CU_ERR_VERIFY, "size %" PRIu64 ", the manifest says %" PRIu64, cp.size, man.cp_size);
        ok_cp = report(&v, C_CP, rc, "%s", rc ? cu_err_detail() : cp.origin);
        if (ok_cp)
            res->new_size = cp.size;
    } else {
        report(&v, C_CP, CU_ERR_VERIFY, "skipped: no checkpoint or no key");
    }
    if (mb[3] && key) {
        rc = open_cp(key, mb[3], &old);
        if (rc == CU_OK && ok_cp && (strcmp(old.origin, cp.origin) != 0 || old.size > cp.size || old.size == 0))
            rc = cu_err_set(CU_ERR_VERIFY, "not an earlier checkpoint of the same log (size %" PRIu64 ")", old.size);
        if (rc == CU_OK && man.have_old && old.size != man.old_size)
            rc = cu_err_set(CU_ERR_VERIFY, "size %" PRIu64 ", the manifest says %" PRIu64, old.size, man.old_size);
        ok_old = report(&v, C_CP_OLD, rc, "%s", rc ? cu_err_detail() : "");
        if (ok_old)
            res->old_size = old.size;
    } else {
        report(&v, C_CP_OLD, CU_ERR_VERIFY, "skipped: no old checkpoint or no key");
    }
    if (ok_cp && ok_old && mb[4]) {
        rc = cu_ledger_check_consistency((const char *)mb[3]->data, mb[3]->len, (const char *)mb[2]->data, mb[2]->len,
                                         key, (const char *)mb[4]->data, mb[4]->len);
        report(&v, C_CONS, rc, "%s", rc ? cu_err_detail() : "");
    } else {
        report(&v, C_CONS, CU_ERR_VERIFY, "skipped: a checkpoint did not verify");
    }
    /* entries: parse, decode, clear values */
    if (mb[5]) {
        size_t off = 0, lineno = 0, cap = 0;
        const char *s = NULL;
        size_t n = 0;
        rc = CU_OK;
        while ((rc = next_line(mb[5], &off, &s, &n, &lineno)) == CU_OK) {
            if (nents == CU_EVIDENCE_MAX_ENTRIES) {
                rc = cu_err_set(CU_ERR_TOOBIG, "more than %u entries", CU_EVIDENCE_MAX_ENTRIES);
                break;
            }
            if ((rc = cu_grow(&ents, &cap, nents + 1, sizeof *ents, 64, false)))
                break;
            memset(&ents[nents], 0, sizeof ents[nents]);
            rc = parse_entry_line(s, n, nents ? ents[nents - 1].index : 0, nents == 0, ok_cp ? cp.size : 0,
                                  &ents[nents]);
            nents++;
            if (rc) {
                cu_err_prefix("line %zu", lineno);
                break;
            }
        }
        if (rc == CU_ERR_NOTFOUND)
            rc = nents ? CU_OK : cu_err_set(CU_ERR_PARSE, "no entries");
        if (rc == CU_OK && ok_man && man.entries != nents)
            rc = cu_err_set(CU_ERR_VERIFY, "%zu entries, the manifest says %" PRIu64, nents, man.entries);
        char msg[64];
        snprintf(msg, sizeof msg, "%zu entries", nents);
        ok_entries = report(&v, C_ENTRIES, rc, "%s", rc ? cu_err_detail() : msg);
        if (ok_entries)
            res->entries = nents;
    } else {
        report(&v, C_ENTRIES, CU_ERR_NOTFOUND, "skipped: no entries");
    }
    if (ok_entries && ok_cp) {
        rc = CU_OK;
        for (size_t i = 0; i < nents && rc == CU_OK; i++) {
            cu_hash leaf;
            if ((rc = cu_merkle_leaf_hash(ents[i].bytes, ents[i].len, &leaf)) == CU_OK &&
                (rc = cu_merkle_verify_inclusion(ents[i].index, cp.size, &leaf, ents[i].proof, ents[i].plen, &cp.root)))
                cu_err_prefix("entry %" PRIu64, ents[i].index);
        }
        report(&v, C_INCLUSION, rc, "%s", rc ? cu_err_detail() : "every entry is in the checkpoint's tree");
    } else {
        report(&v, C_INCLUSION, CU_ERR_VERIFY, "skipped: entries or checkpoint did not verify");
    }
    if (ok_entries) {
        rc = CU_OK;
        for (size_t i = 0; i < nents && rc == CU_OK; i++)
            if ((rc = check_openings(&ents[i], &res->opened, &res->sealed)))
                cu_err_prefix("entry %" PRIu64, ents[i].index);
        char msg[80];
        snprintf(msg, sizeof msg, "%" PRIu64 " opened, %" PRIu64 " sealed", res->opened, res->sealed);
        report(&v, C_OPENINGS, rc, "%s", rc ? cu_err_detail() : msg);
    } else {
        report(&v, C_OPENINGS, CU_ERR_VERIFY, "skipped: entries did not parse");
    }
    /* completeness: the statement covers the entries */
    if (mb[6]) {
        json_t *j = NULL;
        rc = cu_ev_json_obj("completeness", (const char *)mb[6]->data, mb[6]->len, &j);
        if (rc == CU_OK) {
            json_t *r = json_object_get(j, "ledger_range");
            json_int_t lo = json_integer_value(json_array_get(r, 0)), hi = json_integer_value(json_array_get(r, 1));
            if (!json_is_array(r) || json_array_size(r) != 2 || !json_is_integer(json_array_get(r, 0)) ||
                !json_is_integer(json_array_get(r, 1)) || lo < 0 || hi < lo || !json_is_array(json_object_get(j, "series")) ||
                !json_is_string(json_object_get(j, "statement")))
                rc = cu_err_set(CU_ERR_PARSE, "want ledger_range [lo, hi], series and statement");
            else if (ok_cp && (uint64_t)hi >= cp.size)
                rc = cu_err_set(CU_ERR_VERIFY, "range ends at %lld, beyond the checkpoint", (long long)hi);
            else if (ok_entries && (ents[0].index != (uint64_t)lo || ents[nents - 1].index != (uint64_t)hi))
                rc = cu_err_set(CU_ERR_VERIFY, "range [%lld, %lld] is not the entries' [%" PRIu64 ", %" PRIu64 "]",
                                (long long)lo, (long long)hi, ents[0].index, ents[nents - 1].index);
        }
        report(&v, C_COMPLETE, rc, "%s", rc ? cu_err_detail() : "");
        json_decref(j);
    } else {
        report(&v, C_COMPLETE, CU_ERR_NOTFOUND, "skipped: missing");
    }
    if (mb[7]) {
        json_t *j = NULL;
        rc = cu_ev_json_obj("provenance", (const char *)mb[7]->data, mb[7]->len, &j);
        if (rc == CU_OK && (!json_is_array(json_object_get(j, "source_systems")) ||
                            !json_is_string(json_object_get(j, "collector")) ||
                            !json_is_string(json_object_get(j, "software"))))
            rc = cu_err_set(CU_ERR_PARSE, "want source_systems, collector and software");
        json_t *lo = json_object_get(j, "log_origin");
        if (rc == CU_OK && man.origin[0] && (!json_is_string(lo) || strcmp(json_string_value(lo), man.origin) != 0))
            rc = cu_err_set(CU_ERR_VERIFY, "log_origin differs from the manifest's origin");
        if (rc == CU_OK)
            rc = check_ingested(json_object_get(j, "ingested"), ents, nents);
        report(&v, C_PROV, rc, "%s", rc ? cu_err_detail() : "");
        json_decref(j);
    } else {
        report(&v, C_PROV, CU_ERR_NOTFOUND, "skipped: missing");
    }
    if (mb[8]) {
        size_t off = 0, lineno = 0, nd = 0;
        const char *s = NULL;
        size_t n = 0;
        while ((rc = next_line(mb[8], &off, &s, &n, &lineno)) == CU_OK) {
            json_t *j = NULL;
            if ((rc = cu_ev_json_obj("defect", s, n, &j)) == CU_OK &&
                (!json_is_string(json_object_get(j, "id")) || !json_is_string(json_object_get(j, "summary"))))
                rc = cu_err_set(CU_ERR_PARSE, "a defect needs id and summary");
            json_decref(j);
            if (rc) {
                cu_err_prefix("line %zu", lineno);
                break;
            }
            nd++;
        }
        if (rc == CU_ERR_NOTFOUND)
            rc = CU_OK;
        char msg[64];
        snprintf(msg, sizeof msg, "%zu defects in the period", nd);
        report(&v, C_DEFECTS, rc, "%s", rc ? cu_err_detail() : msg);
    } else {
        report(&v, C_DEFECTS, CU_ERR_NOTFOUND, "skipped: missing");
    }
    if (mb[9]) {
        const uint8_t *p = mb[9]->data;
        size_t n = mb[9]->len, t = n;
        while (t && (p[t - 1] == '\n' || p[t - 1] == '\r'))
            t--;
        rc = n >= 16 && memcmp(p, "%PDF-", 5) == 0 && t >= 5 && memcmp(p + t - 5, "%%EOF", 5) == 0
                 ? CU_OK
                 : cu_err_set(CU_ERR_PARSE, "not a whole PDF file");
        char msg[64];
        snprintf(msg, sizeof msg, "%zu bytes, covered by the manifest", n);
        report(&v, C_REPORT, rc, "%s", rc ? cu_err_detail() : msg);
    } else {
        report(&v, C_REPORT, CU_ERR_NOTFOUND, "skipped: missing");
    }
    (void)ok_key;
    for (size_t i = 0; i < nents; i++) {
        cu_free(ents[i].bytes);
        json_decref(ents[i].subjects);
    }
    cu_free(ents);
    cu_note_verifier_free(key);
    return res->rc;
}

cu_rc cu_evidence_verify_file(const char *path, const char *pubkey, cu_evidence_check_fn fn, void *ud,
                              cu_evidence_result *res)
{
    char *data = NULL;
    size_t len = 0;
    cu_rc rc = cu_file_read(path, CU_EVIDENCE_MAX_BUNDLE, &data, &len);
    if (rc) {
        memset(res, 0, sizeof *res);
        res->rc = rc;
        snprintf(res->first_failed, sizeof res->first_failed, "container");
        if (fn)
            fn(ud, "container", rc, cu_err_detail());
        return cu_err_set(rc, "%s: %s", path, cu_err_detail());
    }
    rc = cu_evidence_verify(data, len, pubkey, fn, ud, res);
    cu_free(data);
    return rc;
}
