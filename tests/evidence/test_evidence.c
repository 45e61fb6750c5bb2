/* Evidence bundles: a small synthetic force replayed in two halves (so the
 * log has two checkpoints), bundles exported by officer, person and index,
 * verified offline; then bytes changed in every kind of member, with and
 * without a re-signed manifest (an attacker holding the operator's key),
 * and the verifier must name the right check each time. */
#include "harness.h"

#include "custos/evidence.h"
#include "custos/gen.h"
#include "custos/ledger.h"
#include "custos/pipeline.h"
#include "evidence/evidence_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>

static char g_data[4400], g_defects[4400], g_vkey[256];
static char g_officer[80], g_person[80];
static bool g_ready;
static int64_t g_t0, g_t1; /* wall-clock bounds of the replays (ingest times fall inside) */

static int64_t test_clock(void *ud)
{
    (void)ud;
    return cu_now();
}

/* ---------------------------------------------------------------- fixture */

static bool filter_file(const char *in, const char *out1, const char *out2, size_t split)
{
    /* reference: drop officer lines with valid_from (the event module keeps one line per
     * officer); events: split at line `split` into two files */
    char *d = NULL;
    size_t n = 0;
    if (cu_file_read(in, 64u << 20, &d, &n))
        return false;
    FILE *a = fopen(out1, "w"), *b = out2 ? fopen(out2, "w") : NULL;
    size_t line = 0;
    for (char *p = d; *p;) {
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) + 1 : strlen(p);
        FILE *f = (!out2 || line < split) ? a : b;
        if (out2 || !memmem(p, l, "\"valid_from\"", 12))
            fwrite(p, 1, l, f);
        line++;
        p += l;
    }
    fclose(a);
    if (b)
        fclose(b);
    cu_free(d);
    return true;
}

static void fixture(void)
{
    if (g_ready)
        return;
    const char *t = cu_test_tmpdir();
    char gdir[4400], ref[4400], ev[4400], e1[4400], e2[4400], al[4400];
    snprintf(gdir, sizeof gdir, "%s/gen", t);
    cu_gen_config c;
    cu_gen_config_default(&c);
    c.officers = 60;
    c.days = 3;
    c.seed = 7;
    c.out_dir = gdir;
    if (cu_gen_run(&c, NULL) != CU_OK) {
        CHECK_MSG(0, "gen: %s", cu_err_detail());
        return;
    }
    snprintf(ref, sizeof ref, "%s/ref.jsonl", t);
    snprintf(ev, sizeof ev, "%s/gen/events.jsonl", t);
    snprintf(e1, sizeof e1, "%s/e1.jsonl", t);
    snprintf(e2, sizeof e2, "%s/e2.jsonl", t);
    snprintf(al, sizeof al, "%s/alerts.jsonl", t);
    snprintf(gdir + strlen(gdir), sizeof gdir - strlen(gdir), "/reference.jsonl");
    CHECK(filter_file(gdir, ref, NULL, 0));
    CHECK(filter_file(ev, e1, e2, 1000));
    snprintf(g_data, sizeof g_data, "%s/data", t);
    g_t0 = cu_now();
    for (int half = 0; half < 2; half++) {
        cu_replay_opts o = {.reference = ref, .events = half ? e2 : e1, .alerts = al, .data_dir = g_data,
                            .ingest_clock = test_clock};
        cu_replay_stats st;
        if (cu_replay_run(&o, &st) != CU_OK) {
            CHECK_MSG(0, "replay: %s", cu_err_detail());
            return;
        }
    }
    g_t1 = cu_now();
    snprintf(g_defects, sizeof g_defects, "%s/defects.jsonl", t);
    FILE *f = fopen(g_defects, "w");
    fputs("{\"id\":\"D-1\",\"introduced\":\"2020-01-01\",\"fixed\":null,\"summary\":\"open defect\"}\n"
          "{\"id\":\"D-2\",\"introduced\":\"2020-01-01\",\"fixed\":\"2021-01-01\",\"summary\":\"fixed long before\"}\n",
          f);
    fclose(f);
    /* the verifier key, from the log's signer (out of band in real life) */
    char ldir[4500], *sk = NULL;
    cu_note_signer *s = NULL;
    snprintf(ldir, sizeof ldir, "%s/ledger", g_data);
    CHECK_OK(cu_ledger_read_signer(ldir, &sk));
    CHECK_OK(cu_note_signer_parse(sk, &s));
    char *vk = cu_note_signer_verifier_key(s);
    snprintf(g_vkey, sizeof g_vkey, "%s", vk);
    cu_free(vk);
    cu_note_signer_free(s);
    cu_free(sk);
    /* an officer and a person from the first alert */
    char *a = NULL;
    size_t n;
    CHECK_OK(cu_file_read(al, 64u << 20, &a, &n));
    json_t *j = json_loadb(a, strcspn(a, "\n"), 0, NULL);
    CHECK(j != NULL);
    snprintf(g_officer, sizeof g_officer, "%s", json_string_value(json_array_get(json_object_get(j, "officers"), 0)));
    snprintf(g_person, sizeof g_person, "%s", json_string_value(json_array_get(json_object_get(j, "subjects"), 0)));
    json_decref(j);
    cu_free(a);
    g_ready = true;
}

static cu_rc export_to(const char *out, cu_evidence_by by, const char *id, cu_evidence_export_stats *st)
{
    cu_evidence_export_opts o = {.data_dir = g_data, .by = by, .id = id, .from = INT64_MIN, .to = INT64_MAX,
                                 .out_path = out, .defects_path = g_defects, .now = 1700000000};
    return cu_evidence_export(&o, st);
}

static char *slurp(const char *path, size_t *n)
{
    char *d = NULL;
    if (cu_file_read(path, CU_EVIDENCE_MAX_BUNDLE, &d, n))
        return NULL;
    return d;
}

/* ----------------------------------------------------------------- tests */

TEST(export_and_verify_by_officer_person_indexes)
{
    fixture();
    char out[4500];
    cu_evidence_export_stats st;
    cu_evidence_result r;
    snprintf(out, sizeof out, "%s/officer.tar", cu_test_tmpdir());
    CHECK_OK(export_to(out, CU_EVIDENCE_BY_OFFICER, g_officer, &st));
    CHECK(st.entries > 0);
    CHECK(st.old_size > 0 && st.old_size <= st.new_size);
    CHECK_OK(cu_evidence_verify_file(out, g_vkey, NULL, NULL, &r));
    CHECK_INT(r.entries, st.entries);
    CHECK_INT(r.opened, st.opened);
    CHECK_INT(r.failed, 0);
    CHECK_INT(r.checks, 16);

    /* a person selection opens only that person's commitments */
    snprintf(out, sizeof out, "%s/person.tar", cu_test_tmpdir());
    CHECK_OK(export_to(out, CU_EVIDENCE_BY_PERSON, g_person, &st));
    CHECK(st.opened >= st.entries); /* a search may list a person twice */
    CHECK_OK(cu_evidence_verify_file(out, g_vkey, NULL, NULL, &r));
    size_t n;
    char *b = slurp(out, &n);
    cu_evidence_member m[CU_EVIDENCE_MAX_MEMBERS];
    size_t nm;
    CHECK_OK(cu_evidence_tar_parse(b, n, m, CU_EVIDENCE_MAX_MEMBERS, &nm));
    for (size_t i = 0; i < nm; i++)
        if (strcmp(m[i].name, EV_ENTRIES) == 0)
            for (const char *p = (const char *)m[i].data; (p = strstr(p, "\"person\":\"")); p += 10)
                CHECK(strncmp(p + 10, g_person, strlen(g_person)) == 0 && p[10 + strlen(g_person)] == '"');
    cu_free(b);

    /* explicit indexes (the console's path), duplicates ignored */
    uint64_t idx[] = {5, 3, 5, 17};
    cu_evidence_export_opts o = {.data_dir = g_data, .by = CU_EVIDENCE_BY_INDEXES, .indexes = idx, .nindexes = 4,
                                 .from = INT64_MIN, .to = INT64_MAX, .out_path = out, .defects_path = g_defects,
                                 .now = 1700000000, .label = "Operation Test"};
    CHECK_OK(cu_evidence_export(&o, &st));
    CHECK_INT(st.entries, 3);
    CHECK_INT(st.range_lo, 3);
    CHECK_INT(st.range_hi, 17);
    CHECK_OK(cu_evidence_verify_file(out, g_vkey, NULL, NULL, &r));
    CHECK_INT(r.entries, 3);
}

TEST(export_refuses_bad_selections)
{
    fixture();
    char out[4500];
    cu_evidence_export_stats st;
    snprintf(out, sizeof out, "%s/none.tar", cu_test_tmpdir());
    CHECK_RC(export_to(out, CU_EVIDENCE_BY_OFFICER, "NOBODY", &st), CU_ERR_NOTFOUND);
    CHECK_RC(export_to(out, CU_EVIDENCE_BY_OFFICER, NULL, &st), CU_ERR_INVAL);
    struct stat sb;
    CHECK(stat(out, &sb) != 0);
    cu_evidence_export_opts o = {.data_dir = g_data, .by = CU_EVIDENCE_BY_OFFICER, .id = g_officer,
                                 .from = INT64_MIN, .to = INT64_MAX, .out_path = out, .defects_path = g_defects,
                                 .now = 1700000000, .max_entries = 1};
    CHECK_RC(cu_evidence_export(&o, &st), CU_ERR_TOOBIG);
    o.max_entries = 0;
    o.defects_path = "/nonexistent/defects.jsonl";
    CHECK_RC(cu_evidence_export(&o, &st), CU_ERR_NOTFOUND);
}

/* A bundle taken apart: members copied so they can be changed. */
typedef struct parts {
    char name[EV_NMEMBERS][100];
    cu_buf data[EV_NMEMBERS];
    size_t n;
} parts;

static bool split(const char *bundle, size_t len, parts *p)
{
    cu_evidence_member m[CU_EVIDENCE_MAX_MEMBERS];
    size_t nm;
    if (cu_evidence_tar_parse(bundle, len, m, CU_EVIDENCE_MAX_MEMBERS, &nm) || nm != EV_NMEMBERS)
        return false;
    p->n = nm;
    for (size_t i = 0; i < nm; i++) {
        memcpy(p->name[i], m[i].name, sizeof p->name[i]);
        cu_buf_init(&p->data[i], CU_EVIDENCE_MAX_MEMBER);
        if (cu_buf_append(&p->data[i], m[i].data, m[i].len))
            return false;
    }
    return true;
}

static void parts_free(parts *p)
{
    for (size_t i = 0; i < p->n; i++)
        cu_buf_free(&p->data[i]);
}

static cu_buf *part(parts *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->name[i], name) == 0)
            return &p->data[i];
    return NULL;
}

/* Re-sign the manifest over the current members with the log's own key
 * (the strongest forger: one who holds the operator's signing key). */
static void resign(parts *p)
{
    char ldir[4500], *sk = NULL, *note = NULL;
    size_t nl;
    cu_note_signer *s = NULL;
    cu_buf *man = part(p, EV_MANIFEST);
    snprintf(ldir, sizeof ldir, "%s/ledger", g_data);
    CHECK_OK(cu_ledger_read_signer(ldir, &sk));
    CHECK_OK(cu_note_signer_parse(sk, &s));
    /* keep the header lines, rewrite the file lines */
    cu_buf text;
    cu_buf_init(&text, 1 << 16);
    for (const char *q = man->data; *q && !(q[0] == '\n');) {
        const char *e = strchr(q, '\n');
        if (strncmp(q, "file ", 5) != 0)
            CHECK_OK(cu_buf_append(&text, q, (size_t)(e - q) + 1));
        q = e + 1;
    }
    for (size_t i = 1; i < p->n; i++) {
        uint8_t h[32];
        char hex[65];
        CHECK_OK(cu_sha256(p->data[i].data, p->data[i].len, NULL, 0, NULL, 0, h));
        cu_hex_encode(h, 32, hex);
        CHECK_OK(cu_buf_appendf(&text, "file %s %zu %s\n", hex, p->data[i].len, p->name[i]));
    }
    CHECK_OK(cu_note_sign(text.data, text.len, s, &note, &nl));
    cu_buf_reset(man);
    CHECK_OK(cu_buf_append(man, note, nl));
    cu_free(note);
    cu_buf_free(&text);
    cu_note_signer_free(s);
    cu_free(sk);
}

static cu_evidence_result verify_parts(parts *p)
{
    cu_evidence_member m[EV_NMEMBERS];
    cu_buf out;
    cu_evidence_result r;
    cu_buf_init(&out, CU_EVIDENCE_MAX_BUNDLE);
    for (size_t i = 0; i < p->n; i++) {
        snprintf(m[i].name, sizeof m[i].name, "%s", p->name[i]);
        m[i].data = (const uint8_t *)p->data[i].data;
        m[i].len = p->data[i].len;
    }
    CHECK_OK(cu_evidence_tar_write(m, p->n, 0, &out));
    cu_rc rc = cu_evidence_verify(out.data, out.len, g_vkey, NULL, NULL, &r);
    CHECK_INT(rc, r.rc);
    cu_buf_free(&out);
    return r;
}

/* Change the first line of entries.jsonl through a JSON edit. */
typedef void (*line_edit)(json_t *line);

static void edit_first_entry(parts *p, line_edit fn)
{
    cu_buf *e = part(p, EV_ENTRIES);
    size_t l1 = strcspn(e->data, "\n");
    json_t *j = json_loadb(e->data, l1, 0, NULL);
    fn(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cu_buf nb;
    cu_buf_init(&nb, CU_EVIDENCE_MAX_MEMBER);
    CHECK_OK(cu_buf_appends(&nb, s));
    CHECK_OK(cu_buf_append(&nb, e->data + l1, e->len - l1));
    cu_buf_free(e);
    *e = nb;
    free(s);
    json_decref(j);
}

static void ed_officer(json_t *j) { json_object_set_new(json_object_get(j, "machine"), "officer", json_string("MP00000")); }
static void ed_purpose(json_t *j) { json_object_set_new(json_object_get(j, "typed"), "purpose", json_string("training")); }
static void ed_proof(json_t *j)
{
    json_t *a = json_object_get(j, "inclusion");
    char s[45];
    snprintf(s, sizeof s, "%s", json_string_value(json_array_get(a, 0)));
    s[0] = s[0] == 'A' ? 'B' : 'A';
    json_array_set_new(a, 0, json_string(s));
}
static void ed_index(json_t *j) { json_object_set_new(j, "index", json_integer(json_integer_value(json_object_get(j, "index")) + 1)); }
/* change the results count in the entry bytes and in the clear values alike:
 * a self-consistent entry that the log never held */
static void ed_entry_bytes(json_t *j)
{
    const char *b = json_string_value(json_object_get(j, "entry"));
    uint8_t raw[CU_LEDGER_ENTRY_MAX];
    size_t n = 0;
    CHECK_OK(cu_b64_decode(b, strlen(b), raw, &n));
    cu_ledger_entry e;
    CHECK_OK(cu_ledger_entry_decode(raw, n, &e));
    const cu_ledger_field *f = cu_ledger_entry_field(&e, CU_LEDGER_F_RESULTS);
    CHECK(f != NULL);
    uint8_t *r = raw + ((const uint8_t *)f->data - raw);
    uint32_t v = cu_get_be32(r) + 1;
    cu_put_be32(r, v);
    char *enc = cu_malloc(cu_b64_enc_len(n) + 1);
    cu_b64_encode(raw, n, enc);
    json_object_set_new(j, "entry", json_string(enc));
    json_object_set_new(json_object_get(j, "machine"), "results", json_integer(v));
    cu_free(enc);
}
static json_t *first_opened(json_t *j)
{
    json_t *s = json_object_get(j, "subjects");
    for (size_t i = 0; i < json_array_size(s); i++)
        if (json_object_get(json_array_get(s, i), "person"))
            return json_array_get(s, i);
    return NULL;
}
static void ed_person(json_t *j) { json_object_set_new(first_opened(j), "person", json_string("P9999999")); }
static void ed_key(json_t *j)
{
    json_t *o = first_opened(j);
    char s[45];
    snprintf(s, sizeof s, "%s", json_string_value(json_object_get(o, "key")));
    s[3] = s[3] == 'A' ? 'B' : 'A';
    json_object_set_new(o, "key", json_string(s));
}

static void flip(cu_buf *b, size_t off) { b->data[off] ^= 0x01; }

TEST(tampering_is_named)
{
    fixture();
    char out[4500];
    cu_evidence_export_stats st;
    snprintf(out, sizeof out, "%s/t.tar", cu_test_tmpdir());
    /* a person selection: subjects opened on the first line; the old
     * checkpoint from the archive (the first half's), as a reader holds it */
    char old[4500];
    snprintf(old, sizeof old, "%s/ledger/checkpoints/1000", g_data);
    cu_evidence_export_opts o = {.data_dir = g_data, .by = CU_EVIDENCE_BY_PERSON, .id = g_person, .from = INT64_MIN,
                                 .to = INT64_MAX, .out_path = out, .defects_path = g_defects, .now = 1700000000,
                                 .old_checkpoint = old};
    CHECK_OK(cu_evidence_export(&o, &st));
    CHECK_INT(st.old_size, 1000);
    CHECK(st.old_size < st.new_size); /* a real consistency proof */
    size_t n;
    char *orig = slurp(out, &n);
    CHECK(orig != NULL);
    cu_evidence_result r;

    /* the untouched bundle, and one re-signed with nothing changed, verify */
    {
        parts p;
        CHECK(split(orig, n, &p));
        r = verify_parts(&p);
        CHECK_INT(r.rc, CU_OK);
        resign(&p);
        r = verify_parts(&p);
        CHECK_INT(r.rc, CU_OK);
        parts_free(&p);
    }

    struct {
        const char *what, *member;
        int how; /* 0: flip byte at off (from the end when negative); 1: JSON edit; 2: replace */
        long off;
        line_edit ed;
        bool resign;
        const char *want;
    } cases[] = {
        {"PDF byte", EV_REPORT, 0, 200, NULL, false, "member-hashes"},
        {"entries byte", EV_ENTRIES, 0, 30, NULL, false, "member-hashes"},
        {"manifest text", EV_MANIFEST, 0, 25, NULL, false, "manifest-signature"},
        {"manifest signature", EV_MANIFEST, 0, -5, NULL, false, "manifest-signature"},
        {"checkpoint root", EV_CP, 0, 30, NULL, true, "checkpoint"},
        {"checkpoint signature", EV_CP, 0, -5, NULL, true, "checkpoint"},
        {"old checkpoint signature", EV_CP_OLD, 0, -5, NULL, true, "checkpoint.old"},
        {"consistency proof hash", EV_CONS, 0, -10, NULL, true, "consistency"},
        {"machine field", EV_ENTRIES, 1, 0, ed_officer, true, "entries"},
        {"typed field", EV_ENTRIES, 1, 0, ed_purpose, true, "entries"},
        {"entry bytes", EV_ENTRIES, 1, 0, ed_entry_bytes, true, "inclusion"},
        {"inclusion proof", EV_ENTRIES, 1, 0, ed_proof, true, "inclusion"},
        {"entry index", EV_ENTRIES, 1, 0, ed_index, true, "inclusion"},
        {"opened person", EV_ENTRIES, 1, 0, ed_person, true, "openings"},
        {"opening key", EV_ENTRIES, 1, 0, ed_key, true, "openings"},
        {"PDF replaced", EV_REPORT, 2, 0, NULL, true, "report"},
        {"completeness range", EV_COMPLETE, 2, 1, NULL, true, "completeness"},
        {"defect line", EV_DEFECTS, 2, 2, NULL, true, "defects"},
        {"another key", EV_KEY, 2, 3, NULL, true, "pubkey"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        parts p;
        CHECK(split(orig, n, &p));
        cu_buf *b = part(&p, cases[c].member);
        if (cases[c].how == 0) {
            flip(b, cases[c].off >= 0 ? (size_t)cases[c].off : b->len + (size_t)cases[c].off);
        } else if (cases[c].how == 1) {
            edit_first_entry(&p, cases[c].ed);
        } else {
            cu_buf_reset(b);
            if (cases[c].off == 0)
                CHECK_OK(cu_buf_appends(b, "not a pdf at all, just text\n"));
            else if (cases[c].off == 1)
                CHECK_OK(cu_buf_appends(b, "{\"ledger_range\":[0,1],\"series\":[],\"statement\":\"x\"}"));
            else if (cases[c].off == 2)
                CHECK_OK(cu_buf_appends(b, "{\"id\":\"D-9\"}\n"));
            else {
                char *sk = NULL, *vk = NULL;
                CHECK_OK(cu_note_keygen("custos.local/log", &sk, &vk));
                CHECK_OK(cu_buf_appends(b, vk));
                cu_free(sk);
                cu_free(vk);
            }
        }
        if (cases[c].resign)
            resign(&p);
        r = verify_parts(&p);
        CHECK_MSG(r.rc != CU_OK && strcmp(r.first_failed, cases[c].want) == 0, "%s: first failed \"%s\", want \"%s\"",
                  cases[c].what, r.first_failed, cases[c].want);
        parts_free(&p);
    }

    /* container damage */
    r = (cu_evidence_result){0};
    CHECK(cu_evidence_verify(orig, n - 512, g_vkey, NULL, NULL, &r) != CU_OK);
    CHECK_STR(r.first_failed, "container");
    CHECK(cu_evidence_verify(orig, 100, g_vkey, NULL, NULL, &r) != CU_OK);
    CHECK_STR(r.first_failed, "container");
    char *copy = cu_malloc(n);
    memcpy(copy, orig, n);
    copy[148] ^= 1; /* header checksum */
    CHECK(cu_evidence_verify(copy, n, g_vkey, NULL, NULL, &r) != CU_OK);
    CHECK_STR(r.first_failed, "container");
    cu_free(copy);
    /* the wrong key */
    char *sk = NULL, *vk = NULL;
    CHECK_OK(cu_note_keygen("custos.local/log", &sk, &vk));
    CHECK(cu_evidence_verify(orig, n, vk, NULL, NULL, &r) != CU_OK);
    CHECK_STR(r.first_failed, "pubkey");
    CHECK(r.failed >= 4); /* and every signature after it */
    cu_free(sk);
    cu_free(vk);
    cu_free(orig);
}

/* Provenance carries each entry's ingest time, inside the replays' wall-clock
 * bounds; a changed, mis-indexed, missing or absent one fails `provenance`
 * even with the manifest re-signed. */
static void prov_edit(parts *p, int how)
{
    cu_buf *b = part(p, EV_PROV);
    json_t *j = json_loadb(b->data, b->len, 0, NULL);
    CHECK(j != NULL);
    json_t *a = json_object_get(j, "ingested");
    json_t *o = json_array_get(a, json_array_size(a) / 2);
    if (how == 0)
        json_object_set_new(o, "at", json_string("yesterday afternoon"));
    else if (how == 1)
        json_object_set_new(o, "index", json_integer(json_integer_value(json_object_get(o, "index")) + 1));
    else if (how == 2)
        json_array_remove(a, json_array_size(a) - 1);
    else if (how == 3)
        json_object_del(j, "ingested");
    else
        json_object_del(o, "at");
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cu_buf_reset(b);
    CHECK_OK(cu_buf_appends(b, s));
    free(s);
    json_decref(j);
}

TEST(ingest_times_in_provenance)
{
    fixture();
    char out[4500];
    cu_evidence_export_stats st;
    snprintf(out, sizeof out, "%s/ingest.tar", cu_test_tmpdir());
    CHECK_OK(export_to(out, CU_EVIDENCE_BY_OFFICER, g_officer, &st));
    CHECK(st.entries > 0);
    CHECK_INT(st.ingest_recorded, st.entries);
    size_t n;
    char *orig = slurp(out, &n);
    CHECK(orig != NULL);
    parts p;
    CHECK(split(orig, n, &p));
    /* every entry's index, in order, with a time inside [t0, t1] */
    cu_buf *eb = part(&p, EV_ENTRIES), *pb = part(&p, EV_PROV);
    json_t *pj = json_loadb(pb->data, pb->len, 0, NULL);
    json_t *a = json_object_get(pj, "ingested");
    CHECK_INT(json_array_size(a), st.entries);
    size_t i = 0;
    for (const char *q = eb->data; q < eb->data + eb->len && i < json_array_size(a); i++) {
        size_t l = strcspn(q, "\n");
        json_t *e = json_loadb(q, l, 0, NULL);
        json_t *o = json_array_get(a, i), *at = json_object_get(o, "at");
        CHECK_INT(json_integer_value(json_object_get(o, "index")), json_integer_value(json_object_get(e, "index")));
        int64_t t = 0;
        CHECK(json_is_string(at));
        CHECK_OK(cu_time_parse(json_string_value(at), json_string_length(at), &t));
        CHECK_MSG(t >= g_t0 && t <= g_t1, "entry %zu ingested at %lld, outside [%lld, %lld]", i, (long long)t,
                  (long long)g_t0, (long long)g_t1);
        json_decref(e);
        q += l + 1;
    }
    CHECK_INT(i, st.entries);
    json_decref(pj);
    parts_free(&p);
    static const char *what[] = {"time not RFC 3339", "index changed", "one missing", "ingested removed", "at removed"};
    for (int how = 0; how < 5; how++) {
        CHECK(split(orig, n, &p));
        prov_edit(&p, how);
        resign(&p);
        cu_evidence_result r = verify_parts(&p);
        CHECK_MSG(r.rc != CU_OK && strcmp(r.first_failed, "provenance") == 0, "%s: first failed \"%s\"", what[how],
                  r.first_failed);
        parts_free(&p);
    }
    cu_free(orig);
}

static unsigned g_lines;
static void count_line(void *ud, const char *check, cu_rc rc, const char *detail)
{
    (void)ud;
    (void)check;
    (void)rc;
    (void)detail;
    g_lines++;
}

TEST(every_check_reported_even_after_a_failure)
{
    fixture();
    char out[4500];
    cu_evidence_export_stats st;
    cu_evidence_result r;
    snprintf(out, sizeof out, "%s/c.tar", cu_test_tmpdir());
    CHECK_OK(export_to(out, CU_EVIDENCE_BY_OFFICER, g_officer, &st));
    g_lines = 0;
    CHECK_OK(cu_evidence_verify_file(out, g_vkey, count_line, NULL, &r));
    CHECK_INT(g_lines, 16);
    g_lines = 0;
    CHECK(cu_evidence_verify("garbage", 7, g_vkey, count_line, NULL, &r) != CU_OK);
    CHECK_INT(g_lines, 16);
    CHECK_STR(r.first_failed, "container");
}

TEST(tar_round_trip_and_strictness)
{
    cu_evidence_member m[2] = {{"a.txt", (const uint8_t *)"hello", 5}, {"b", (const uint8_t *)"", 0}};
    cu_buf b;
    cu_buf_init(&b, 1 << 20);
    CHECK_OK(cu_evidence_tar_write(m, 2, 1700000000, &b));
    CHECK_INT(b.len, 512 * 5);
    cu_evidence_member o[4];
    size_t n;
    CHECK_OK(cu_evidence_tar_parse(b.data, b.len, o, 4, &n));
    CHECK_INT(n, 2);
    CHECK_STR(o[0].name, "a.txt");
    CHECK_INT(o[0].len, 5);
    CHECK_MEM(o[0].data, "hello", 5);
    CHECK_RC(cu_evidence_tar_parse(b.data, b.len, o, 1, &n), CU_ERR_TOOBIG);
    /* a name with a path, a duplicate, a link type: refused */
    cu_evidence_member bad = {"../x", (const uint8_t *)"", 0};
    cu_buf c;
    cu_buf_init(&c, 1 << 20);
    CHECK_RC(cu_evidence_tar_write(&bad, 1, 0, &c), CU_ERR_INVAL);
    cu_evidence_member dup[2] = {{"x", (const uint8_t *)"1", 1}, {"x", (const uint8_t *)"2", 1}};
    CHECK_OK(cu_evidence_tar_write(dup, 2, 0, &c));
    CHECK_RC(cu_evidence_tar_parse(c.data, c.len, o, 4, &n), CU_ERR_PARSE);
    b.data[156] = '2'; /* symlink; fix the checksum so only the type is wrong */
    unsigned s = 0;
    for (int i = 0; i < 512; i++)
        s += (i >= 148 && i < 156) ? ' ' : (uint8_t)b.data[i];
    snprintf(b.data + 148, 8, "%06o", s);
    b.data[155] = ' ';
    CHECK_RC(cu_evidence_tar_parse(b.data, b.len, o, 4, &n), CU_ERR_PARSE);
    /* trailing garbage after the end marker */
    cu_buf_reset(&c);
    CHECK_OK(cu_evidence_tar_write(m, 1, 0, &c));
    char blk[512] = {1};
    CHECK_OK(cu_buf_append(&c, blk, 512));
    CHECK_RC(cu_evidence_tar_parse(c.data, c.len, o, 4, &n), CU_ERR_PARSE);
    cu_buf_free(&b);
    cu_buf_free(&c);
}

TEST(commitment_opens_per_person_without_the_secret)
{
    uint8_t secret[32], key[32], c[32], c2[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)i;
    CHECK_OK(cu_ledger_commitment(secret, "P88121", 6, c));
    CHECK_OK(cu_ledger_commitment_key(secret, "P88121", 6, key));
    CHECK(cu_ledger_commitment_open(key, "P88121", 6, c));
    CHECK(!cu_ledger_commitment_open(key, "P88122", 6, c));
    CHECK_OK(cu_ledger_commitment(secret, "P88122", 6, c2));
    CHECK(!cu_ledger_commitment_open(key, "P88122", 6, c2)); /* one person's key opens nobody else */
    CHECK(cu_ledger_commitment_check(secret, "P88121", 6, c));
    CHECK(memcmp(key, c, 32) != 0);
}
