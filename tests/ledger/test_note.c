/* Signed notes, keys, checkpoints and tile names: the signed-note vectors
 * from outside (sign byte for byte, open with verifier lists, bad keys),
 * the C2SP rules one by one, round trips, and allocation failure. */
#include "harness.h"

#include "custos/ledger.h"

#include <jansson.h>
#include <stdlib.h>

static json_t *load_vectors(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/conformance/signed-note/vectors.json", cu_test_shared());
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    CHECK_MSG(j != NULL, "%s: %s", path, err.text);
    return j;
}

/* ======================================================= the vectors */

TEST(vectors_sign_byte_for_byte)
{
    json_t *j = load_vectors();
    if (!j)
        return;
    json_t *keys = json_object_get(j, "keys"), *sign = json_object_get(j, "sign");
    size_t i, ran = 0;
    json_t *v;
    json_array_foreach(sign, i, v) {
        const char *who = json_string_value(json_object_get(v, "signer"));
        const char *text = json_string_value(json_object_get(v, "text"));
        const char *want = json_string_value(json_object_get(v, "want"));
        const char *skey = json_string_value(json_object_get(json_object_get(keys, who), "signer"));
        const char *vkey = json_string_value(json_object_get(json_object_get(keys, who), "verifier"));
        CHECK(who && text && want && skey && vkey);
        if (!who || !text || !want || !skey || !vkey)
            continue;
        cu_note_signer *s = NULL;
        CHECK_OK(cu_note_signer_parse(skey, &s));
        if (!s)
            continue;
        CHECK_STR(cu_note_signer_name(s), who);
        char *vk = cu_note_signer_verifier_key(s);
        CHECK_STR(vk, vkey); /* the verifier key derived from the signer */
        cu_free(vk);
        char *note = NULL;
        size_t nlen = 0;
        CHECK_OK(cu_note_sign(text, strlen(text), s, &note, &nlen));
        CHECK_INT(nlen, strlen(want));
        CHECK_STR(note, want);
        cu_free(note);
        cu_note_signer_free(s);
        ran++;
    }
    CHECK(ran >= 1);
    json_decref(j);
}

TEST(vectors_open_with_verifier_lists)
{
    json_t *j = load_vectors();
    if (!j)
        return;
    json_t *keys = json_object_get(j, "keys"), *open = json_object_get(j, "open");
    size_t i, ran = 0, errs = 0;
    json_t *v;
    json_array_foreach(open, i, v) {
        const char *note = json_string_value(json_object_get(v, "note"));
        json_t *vnames = json_object_get(v, "verifiers");
        json_t *want_v = json_object_get(v, "want_verified");
        const char *want_err = json_string_value(json_object_get(v, "want_error"));
        CHECK(note && json_is_array(vnames) && (want_v || want_err));
        if (!note || !json_is_array(vnames))
            continue;
        size_t nv = json_array_size(vnames);
        cu_note_verifier *vs[8] = {0};
        bool verified[8];
        CHECK(nv <= 8);
        for (size_t k = 0; k < nv && k < 8; k++) {
            const char *name = json_string_value(json_array_get(vnames, k));
            const char *vkey = json_string_value(json_object_get(json_object_get(keys, name), "verifier"));
            CHECK_OK(cu_note_verifier_parse(vkey, &vs[k]));
            if (vs[k])
                CHECK_STR(cu_note_verifier_name(vs[k]), name);
        }
        size_t tlen = 99;
        cu_rc rc = cu_note_open(note, strlen(note), vs, nv, &tlen, verified);
        if (want_err) {
            errs++;
            if (strcmp(want_err, "malformed note") == 0) {
                CHECK_MSG(rc == CU_ERR_PARSE, "open %zu: got %s, want malformed note", i, cu_strerror(rc));
            } else {
                CHECK_MSG(rc == CU_ERR_VERIFY && strstr(cu_err_detail(), want_err) != NULL,
                          "open %zu: got %s (%s), want %s", i, cu_strerror(rc), cu_err_detail(), want_err);
            }
            CHECK_INT(tlen, 0);
        } else {
            CHECK_MSG(rc == CU_OK, "open %zu: %s (%s)", i, cu_strerror(rc), cu_err_detail());
            /* the text is the note up to the blank line */
            CHECK(tlen > 0 && tlen < strlen(note) && note[tlen - 1] == '\n' && note[tlen] == '\n');
            for (size_t k = 0; k < nv && k < 8; k++) {
                bool want = false;
                size_t m;
                json_t *w;
                json_array_foreach(want_v, m, w) {
                    if (strcmp(json_string_value(w), json_string_value(json_array_get(vnames, k))) == 0)
                        want = true;
                }
                CHECK_MSG(verified[k] == want, "open %zu: verifier %zu verified=%d", i, k, verified[k]);
            }
        }
        for (size_t k = 0; k < nv && k < 8; k++)
            cu_note_verifier_free(vs[k]);
        ran++;
    }
    CHECK_INT(ran, json_array_size(open));
    CHECK(ran >= 7 && errs >= 1);
    json_decref(j);
}

TEST(vectors_bad_verifier_keys)
{
    json_t *j = load_vectors();
    if (!j)
        return;
    json_t *bad = json_object_get(j, "bad_verifier_keys");
    size_t i, ran = 0;
    json_t *v;
    json_array_foreach(bad, i, v) {
        cu_note_verifier *vk = (cu_note_verifier *)1;
        cu_rc rc = cu_note_verifier_parse(json_string_value(v), &vk);
        CHECK_MSG(rc != CU_OK, "bad key %zu accepted: %s", i, json_string_value(v));
        CHECK(vk == NULL);
        ran++;
    }
    CHECK(ran >= 4);
    json_decref(j);
}

/* ================================================ keys and their rules */

TEST(keygen_sign_open_round_trip)
{
    char *sk = NULL, *vk = NULL, *sk2 = NULL, *vk2 = NULL;
    CHECK_OK(cu_note_keygen("custos.example/log", &sk, &vk));
    CHECK_OK(cu_note_keygen("custos.example/log", &sk2, &vk2));
    CHECK(sk && vk && strncmp(sk, "PRIVATE+KEY+custos.example/log+", 31) == 0);
    CHECK(strncmp(vk, "custos.example/log+", 19) == 0);
    CHECK(strcmp(sk, sk2) != 0); /* fresh randomness */
    cu_note_signer *s = NULL;
    cu_note_verifier *v = NULL, *v2 = NULL;
    CHECK_OK(cu_note_signer_parse(sk, &s));
    CHECK_OK(cu_note_verifier_parse(vk, &v));
    CHECK_OK(cu_note_verifier_parse(vk2, &v2));
    char *derived = cu_note_signer_verifier_key(s);
    CHECK_STR(derived, vk);
    cu_free(derived);

    const char *text = "custos.example/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    char *note = NULL;
    size_t nlen, tlen;
    bool ver[2];
    CHECK_OK(cu_note_sign(text, strlen(text), s, &note, &nlen));
    cu_note_verifier *both[2] = {v2, v};
    CHECK_OK(cu_note_open(note, nlen, both, 2, &tlen, ver));
    CHECK_INT(tlen, strlen(text));
    CHECK(!ver[0] && ver[1]);
    /* only the other key (same name, other id): unknown, so unverifiable */
    CHECK_RC(cu_note_open(note, nlen, &v2, 1, &tlen, ver), CU_ERR_VERIFY);
    CHECK(strstr(cu_err_detail(), "no verifiable signatures") != NULL);

    /* any flipped bit in the text or the signature is refused */
    for (size_t i = 0; i < nlen; i += 7) {
        char *m = malloc(nlen);
        memcpy(m, note, nlen);
        m[i] ^= 0x01;
        cu_rc rc = cu_note_open(m, nlen, &v, 1, &tlen, ver);
        CHECK_MSG(rc != CU_OK, "note with byte %zu changed opened", i);
        free(m);
    }

    /* a second signature by an unknown key is skipped; by a known key that
     * fails, the note is refused */
    cu_note_signer *s2 = NULL;
    CHECK_OK(cu_note_signer_parse(sk2, &s2));
    char *note2 = NULL;
    size_t n2;
    CHECK_OK(cu_note_sign(text, strlen(text), s2, &note2, &n2));
    size_t sig2 = strlen(text) + 1;
    char both_sigs[1024];
    int bl = snprintf(both_sigs, sizeof both_sigs, "%s%s", note, note2 + sig2);
    CHECK_OK(cu_note_open(both_sigs, (size_t)bl, both, 2, &tlen, ver));
    CHECK(ver[0] && ver[1]);
    CHECK_OK(cu_note_open(both_sigs, (size_t)bl, &v, 1, &tlen, ver));
    /* the second signature line, but with the first key's id and name: a
     * known key whose signature fails */
    char forged[1024];
    const char *line1 = note + sig2, *line2 = note2 + sig2;
    size_t name_and_id = strlen("\xe2\x80\x94 custos.example/log ") + 6; /* up to the 4-byte id in base64 */
    int fl = snprintf(forged, sizeof forged, "%s%.*s%s", note, (int)name_and_id, line1, line2 + name_and_id);
    cu_rc rc = cu_note_open(forged, (size_t)fl, both, 2, &tlen, ver);
    CHECK_RC(rc, CU_ERR_VERIFY);
    CHECK(!ver[0] && !ver[1]);

    cu_free(note);
    cu_free(note2);
    cu_note_signer_free(s);
    cu_note_signer_free(s2);
    cu_note_verifier_free(v);
    cu_note_verifier_free(v2);
    cu_free(sk);
    cu_free(vk);
    cu_free(sk2);
    cu_free(vk2);
}

TEST(key_names_and_key_syntax)
{
    char *sk, *vk;
    const char *bad_names[] = {"", "a+b", "a b", "tab\there", "nbsp\xc2\xa0x", "em\xe2\x80\x83space",
                               "bad\xff", "ctl\x01"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        CHECK_RC(cu_note_keygen(bad_names[i], &sk, &vk), CU_ERR_INVAL);
        CHECK(sk == NULL && vk == NULL);
    }
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_RC(cu_note_keygen(longname, &sk, &vk), CU_ERR_INVAL);
    CHECK_OK(cu_note_keygen("unicode-ok-\xc3\xa9", &sk, &vk));
    cu_note_verifier *v = NULL;
    cu_note_signer *s = NULL;
    CHECK_OK(cu_note_verifier_parse(vk, &v));
    cu_note_verifier_free(v);

    /* one trailing newline is forgiven, nothing more */
    char buf[512];
    snprintf(buf, sizeof buf, "%s\n", vk);
    CHECK_OK(cu_note_verifier_parse(buf, &v));
    cu_note_verifier_free(v);
    snprintf(buf, sizeof buf, "%s\n\n", vk);
    CHECK_RC(cu_note_verifier_parse(buf, &v), CU_ERR_PARSE);
    snprintf(buf, sizeof buf, "%s ", vk);
    CHECK_RC(cu_note_verifier_parse(buf, &v), CU_ERR_PARSE);
    /* a signer key is not a verifier key and the other way round */
    CHECK(cu_note_verifier_parse(sk, &v) != CU_OK);
    CHECK_RC(cu_note_signer_parse(vk, &s), CU_ERR_PARSE);
    /* hash of the wrong key */
    char *p = strchr(vk, '+');
    p[1] = p[1] == '0' ? '1' : '0';
    CHECK_RC(cu_note_verifier_parse(vk, &v), CU_ERR_VERIFY);
    /* signer key: a changed hash digit */
    p = strchr(sk + strlen("PRIVATE+KEY+"), '+');
    p[1] = p[1] == '0' ? '1' : '0';
    CHECK_RC(cu_note_signer_parse(sk, &s), CU_ERR_VERIFY);
    CHECK(s == NULL);
    /* algorithm byte other than 0x01 */
    CHECK_RC(cu_note_verifier_parse("x+00000000+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &v),
             CU_ERR_UNSUPPORTED);
    CHECK_RC(cu_note_verifier_parse("x+0000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &v), CU_ERR_PARSE);
    CHECK_RC(cu_note_verifier_parse("x+0000000g+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &v), CU_ERR_PARSE);
    CHECK_RC(cu_note_verifier_parse("x+00000000+", &v), CU_ERR_PARSE);
    CHECK_RC(cu_note_verifier_parse("x+00000000", &v), CU_ERR_PARSE);
    CHECK_RC(cu_note_verifier_parse(NULL, &v), CU_ERR_INVAL);
    cu_free(sk);
    cu_free(vk);
}

TEST(sign_refuses_bad_text)
{
    char *sk, *vk;
    CHECK_OK(cu_note_keygen("k", &sk, &vk));
    cu_note_signer *s = NULL;
    CHECK_OK(cu_note_signer_parse(sk, &s));
    char *note = (char *)1;
    size_t n;
    CHECK_RC(cu_note_sign("no newline", 10, s, &note, &n), CU_ERR_INVAL);
    CHECK(note == NULL);
    CHECK_RC(cu_note_sign("", 0, s, &note, &n), CU_ERR_INVAL);
    CHECK_RC(cu_note_sign("tab\there\n", 10, s, &note, &n), CU_ERR_INVAL);
    CHECK_RC(cu_note_sign("bad \xc0\xaf utf8\n", 13, s, &note, &n), CU_ERR_INVAL);
    CHECK_RC(cu_note_sign("cr\r\n", 4, s, &note, &n), CU_ERR_INVAL);
    /* too big for a note */
    size_t big = CU_NOTE_MAX;
    char *t = malloc(big);
    memset(t, 'a', big);
    t[big - 1] = '\n';
    CHECK_RC(cu_note_sign(t, big, s, &note, &n), CU_ERR_TOOBIG);
    /* the biggest that fits opens again */
    cu_note_verifier *v = NULL;
    CHECK_OK(cu_note_verifier_parse(vk, &v));
    size_t fit = CU_NOTE_MAX - (1 + 4 + 1 + 1 + 92 + 1); /* blank, dash+sp, name "k", sp, sig, nl */
    t[fit - 1] = '\n';
    CHECK_OK(cu_note_sign(t, fit, s, &note, &n));
    CHECK_INT(n, CU_NOTE_MAX);
    size_t tl;
    CHECK_OK(cu_note_open(note, n, &v, 1, &tl, NULL));
    CHECK_INT(tl, fit);
    cu_free(note);
    t[fit] = '\n';
    CHECK_RC(cu_note_sign(t, fit + 1, s, &note, &n), CU_ERR_TOOBIG);
    free(t);
    cu_note_verifier_free(v);
    cu_note_signer_free(s);
    cu_free(sk);
    cu_free(vk);
}

TEST(open_malformed_notes)
{
    char *sk, *vk;
    CHECK_OK(cu_note_keygen("k.example", &sk, &vk));
    cu_note_signer *s = NULL;
    cu_note_verifier *v = NULL;
    CHECK_OK(cu_note_signer_parse(sk, &s));
    CHECK_OK(cu_note_verifier_parse(vk, &v));
    const char *text = "a\n\nb with a blank line above\n";
    char *note;
    size_t n, tl;
    CHECK_OK(cu_note_sign(text, strlen(text), s, &note, &n));
    /* a text with blank lines: split at the last one */
    CHECK_OK(cu_note_open(note, n, &v, 1, &tl, NULL));
    CHECK_INT(tl, strlen(text));
    /* without the final newline */
    CHECK_RC(cu_note_open(note, n - 1, &v, 1, &tl, NULL), CU_ERR_PARSE);
    /* a control character anywhere */
    char buf[1024];
    memcpy(buf, note, n);
    buf[1] = '\r';
    CHECK_RC(cu_note_open(buf, n, &v, 1, &tl, NULL), CU_ERR_PARSE);
    /* a second blank line after the signatures */
    snprintf(buf, sizeof buf, "%s\n", note);
    CHECK_RC(cu_note_open(buf, n + 1, &v, 1, &tl, NULL), CU_ERR_PARSE);
    /* a good signature line followed by a malformed one: refused, and the
     * verifier of the good line is not left marked */
    bool ver1[1] = {true};
    snprintf(buf, sizeof buf, "%s\xe2\x80\x94 k.example not-base64!\n", note);
    CHECK_RC(cu_note_open(buf, strlen(buf), &v, 1, &tl, ver1), CU_ERR_PARSE);
    CHECK(!ver1[0]);
    CHECK_INT(tl, 0);
    /* a hyphen instead of the em dash */
    size_t sigpos = strlen(text) + 1;
    snprintf(buf, sizeof buf, "%.*s- %s", (int)sigpos, note, note + sigpos + 4);
    CHECK_RC(cu_note_open(buf, strlen(buf), &v, 1, &tl, NULL), CU_ERR_PARSE);
    /* a signature of fewer than 5 bytes */
    snprintf(buf, sizeof buf, "%.*s\xe2\x80\x94 k.example AAAA\n", (int)sigpos, note);
    CHECK_RC(cu_note_open(buf, strlen(buf), &v, 1, &tl, NULL), CU_ERR_PARSE);
    /* an unknown signer's long signature is skipped (and the known one counts) */
    char big[12000];
    memset(big, 'A', 6000); /* 4500 bytes: a post-quantum sized signature */
    big[6000] = '\0';
    char *longsig = malloc(16384);
    snprintf(longsig, 16384, "%s\xe2\x80\x94 other.example %s\n", note, big);
    CHECK_OK(cu_note_open(longsig, strlen(longsig), &v, 1, &tl, NULL));
    /* past the 8 KiB decoded limit: refused as malformed */
    memset(big, 'A', 11000);
    big[11000] = '\0';
    snprintf(longsig, 16384, "%s\xe2\x80\x94 other.example %s\n", note, big);
    CHECK_RC(cu_note_open(longsig, strlen(longsig), &v, 1, &tl, NULL), CU_ERR_PARSE);
    free(longsig);
    /* a known key with a signature of the wrong length fails */
    char *kid = NULL;
    {
        /* reuse the real key id: the first 6 base64 chars cover the 4 id bytes */
        const char *sp = strchr(note + sigpos + 4, ' ');
        kid = strndup(sp + 1, 6);
    }
    snprintf(buf, sizeof buf, "%s%.*s\xe2\x80\x94 k.example %sAA\n", text, 1, "\n", kid);
    CHECK_RC(cu_note_open(buf, strlen(buf), &v, 1, &tl, NULL), CU_ERR_VERIFY);
    free(kid);
    /* more than CU_NOTE_MAX_SIGS signature lines */
    size_t o = (size_t)snprintf(buf, sizeof buf, "%s", note);
    for (int i = 0; i < CU_NOTE_MAX_SIGS; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "\xe2\x80\x94 o%d AAAAAAAA\n", i);
    CHECK_RC(cu_note_open(buf, o, &v, 1, &tl, NULL), CU_ERR_TOOBIG);
    /* exactly CU_NOTE_MAX_SIGS is fine */
    o = (size_t)snprintf(buf, sizeof buf, "%s", note);
    for (int i = 0; i < CU_NOTE_MAX_SIGS - 1; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "\xe2\x80\x94 o%d AAAAAAAA\n", i);
    CHECK_OK(cu_note_open(buf, o, &v, 1, &tl, NULL));
    /* over the size limit */
    char *huge = malloc(CU_NOTE_MAX + 1);
    memset(huge, 'a', CU_NOTE_MAX + 1);
    CHECK_RC(cu_note_open(huge, CU_NOTE_MAX + 1, &v, 1, &tl, NULL), CU_ERR_TOOBIG);
    free(huge);
    cu_free(note);
    cu_note_signer_free(s);
    cu_note_verifier_free(v);
    cu_free(sk);
    cu_free(vk);
}

/* ========================================================= checkpoints */

TEST(checkpoint_format_parse)
{
    cu_checkpoint c = {0}, d;
    snprintf(c.origin, sizeof c.origin, "example.com/behind-the-sofa");
    c.size = 20852163;
    size_t n = 0;
    CHECK_OK(cu_b64_decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", 44, c.root.b, &n));
    char *text;
    size_t len;
    CHECK_OK(cu_checkpoint_format(&c, &text, &len));
    /* the example from the C2SP tlog-checkpoint text */
    CHECK_STR(text, "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
    CHECK_OK(cu_checkpoint_parse(text, len, &d));
    CHECK_STR(d.origin, c.origin);
    CHECK_INT(d.size, c.size);
    CHECK_MEM(d.root.b, c.root.b, 32);
    cu_free(text);

    const char *root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    struct {
        const char *body;
        cu_rc want;
        uint64_t size;
    } cases[] = {
        {"o\n0\n%s\n", CU_OK, 0},
        {"o\n18446744073709551615\n%s\n", CU_OK, UINT64_MAX},
        {"o\n18446744073709551616\n%s\n", CU_ERR_PARSE, 0},
        {"o\n5\n%s\next one\next two\n", CU_OK, 5},
        {"o\n5\n%s\n\n", CU_ERR_PARSE, 0},       /* empty extension line */
        {"o\n5\n%s", CU_ERR_PARSE, 0},           /* no final newline */
        {"o\n05\n%s\n", CU_ERR_PARSE, 0},        /* leading zero */
        {"o\n00\n%s\n", CU_ERR_PARSE, 0},
        {"o\n+5\n%s\n", CU_ERR_PARSE, 0},
        {"o\n-5\n%s\n", CU_ERR_PARSE, 0},
        {"o\n 5\n%s\n", CU_ERR_PARSE, 0},
        {"o\n5 \n%s\n", CU_ERR_PARSE, 0},
        {"o\n\n%s\n", CU_ERR_PARSE, 0},
        {"\n5\n%s\n", CU_ERR_PARSE, 0},          /* empty origin */
        {"o\n5\n", CU_ERR_PARSE, 0},             /* no root */
        {"o\n5\n%s\r\n", CU_ERR_PARSE, 0},
        {"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", CU_ERR_PARSE, 0},
        {"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n", CU_ERR_PARSE, 0}, /* non-canonical bits */
        {"o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=AAAA\n", CU_ERR_PARSE, 0},
        {"o\xff\n5\n%s\n", CU_ERR_PARSE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char body[512];
        snprintf(body, sizeof body, cases[i].body, root);
        memset(&d, 0, sizeof d);
        cu_rc rc = cu_checkpoint_parse(body, strlen(body), &d);
        CHECK_MSG(rc == cases[i].want, "case %zu: %s (%s)", i, cu_strerror(rc), cu_err_detail());
        if (rc == CU_OK) {
            CHECK_INT(d.size, cases[i].size);
            CHECK_STR(d.origin, "o");
            CHECK_MEM(d.root.b, c.root.b, 32);
        }
    }
    /* origin length: 255 bytes fit, 256 do not */
    char body[1024];
    memset(body, 'o', 256);
    snprintf(body + 255, sizeof body - 255, "\n1\n%s\n", root);
    CHECK_OK(cu_checkpoint_parse(body, strlen(body), &d));
    CHECK_INT(strlen(d.origin), 255);
    memset(body, 'o', 256);
    snprintf(body + 256, sizeof body - 256, "\n1\n%s\n", root);
    CHECK_RC(cu_checkpoint_parse(body, strlen(body), &d), CU_ERR_PARSE);
    /* format refuses origins that cannot round-trip */
    cu_checkpoint bad = c;
    bad.origin[0] = '\0';
    CHECK_RC(cu_checkpoint_format(&bad, &text, &len), CU_ERR_INVAL);
    snprintf(bad.origin, sizeof bad.origin, "two\nlines");
    CHECK_RC(cu_checkpoint_format(&bad, &text, &len), CU_ERR_INVAL);
    memset(bad.origin, 'a', sizeof bad.origin); /* not NUL-terminated */
    CHECK_RC(cu_checkpoint_format(&bad, &text, &len), CU_ERR_INVAL);
}

TEST(checkpoint_signed_note_round_trip)
{
    char *sk, *vk;
    CHECK_OK(cu_note_keygen("custos.example/ledger", &sk, &vk));
    cu_note_signer *s = NULL;
    cu_note_verifier *v = NULL;
    CHECK_OK(cu_note_signer_parse(sk, &s));
    CHECK_OK(cu_note_verifier_parse(vk, &v));
    cu_checkpoint c = {0}, d;
    snprintf(c.origin, sizeof c.origin, "%s", cu_note_signer_name(s));
    c.size = 1234567;
    CHECK_OK(cu_merkle_leaf_hash("x", 1, &c.root));
    char *text, *note;
    size_t len, nlen, tl;
    CHECK_OK(cu_checkpoint_format(&c, &text, &len));
    CHECK_OK(cu_note_sign(text, len, s, &note, &nlen));
    CHECK_OK(cu_note_open(note, nlen, &v, 1, &tl, NULL));
    CHECK_OK(cu_checkpoint_parse(note, tl, &d));
    CHECK_STR(d.origin, c.origin);
    CHECK_INT(d.size, c.size);
    CHECK_MEM(d.root.b, c.root.b, 32);
    cu_free(text);
    cu_free(note);
    cu_note_signer_free(s);
    cu_note_verifier_free(v);
    cu_free(sk);
    cu_free(vk);
}

/* ================================================================ tiles */

TEST(tile_paths)
{
    struct {
        int level;
        uint64_t index;
        unsigned width;
        const char *want;
    } cases[] = {
        {0, 0, 256, "tile/0/000"},
        {0, 1234067, 256, "tile/0/x001/x234/067"},
        {1, 999, 17, "tile/1/999.p/17"},
        {2, 1000, 1, "tile/2/x001/000.p/1"},
        {63, 5, 255, "tile/63/005.p/255"},
        {-1, 0, 112, "tile/entries/000.p/112"},
        {-1, 1234067, 256, "tile/entries/x001/x234/067"},
        {-1, UINT64_MAX, 255, "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[CU_TILE_PATH_MAX];
        CHECK_OK(cu_tile_path(cases[i].level, cases[i].index, cases[i].width, out, sizeof out));
        CHECK_STR(out, cases[i].want);
        int l;
        uint64_t n;
        unsigned w;
        CHECK_OK(cu_tile_path_parse(out, strlen(out), &l, &n, &w));
        CHECK_INT(l, cases[i].level);
        CHECK(n == cases[i].index);
        CHECK_INT(w, cases[i].width);
        /* a buffer one byte short */
        CHECK_RC(cu_tile_path(cases[i].level, cases[i].index, cases[i].width, out, strlen(cases[i].want)),
                 CU_ERR_TOOBIG);
    }
    char out[CU_TILE_PATH_MAX];
    CHECK_RC(cu_tile_path(64, 0, 256, out, sizeof out), CU_ERR_INVAL);
    CHECK_RC(cu_tile_path(-2, 0, 256, out, sizeof out), CU_ERR_INVAL);
    CHECK_RC(cu_tile_path(0, 0, 0, out, sizeof out), CU_ERR_INVAL);
    CHECK_RC(cu_tile_path(0, 0, 257, out, sizeof out), CU_ERR_INVAL);
    const char *bad[] = {"tile/0/1", "tile/0/0001", "tile/00/000", "tile/64/000", "tile/0/x000/001",
                         "tile/0/001/002", "tile/0/x001", "tile/0/000.p/0", "tile/0/000.p/256",
                         "tile/0/000.p/01", "tile/0/000.p/", "tile/0/000/", "tile/entries/abc",
                         "tiles/0/000", "tile/0/000.p/5x", "tile/-1/000",
                         "tile/entries/x018/x446/x744/x073/x709/x551/616", "tile/0/x1000/000", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int l;
        uint64_t n;
        unsigned w;
        CHECK_MSG(cu_tile_path_parse(bad[i], strlen(bad[i]), &l, &n, &w) == CU_ERR_PARSE, "accepted \"%s\"",
                  bad[i]);
    }
}

TEST(tile_bundles_and_hashes)
{
    const uint8_t b[] = {0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'z'};
    size_t off = 0, n;
    const uint8_t *e;
    CHECK_OK(cu_tile_bundle_next(b, sizeof b, &off, &e, &n));
    CHECK_INT(n, 3);
    CHECK(memcmp(e, "abc", 3) == 0);
    CHECK_OK(cu_tile_bundle_next(b, sizeof b, &off, &e, &n));
    CHECK_INT(n, 0);
    CHECK_OK(cu_tile_bundle_next(b, sizeof b, &off, &e, &n));
    CHECK_INT(n, 1);
    CHECK(e[0] == 'z');
    CHECK_RC(cu_tile_bundle_next(b, sizeof b, &off, &e, &n), CU_ERR_NOTFOUND);
    off = 0;
    CHECK_RC(cu_tile_bundle_next(b, 4, &off, &e, &n), CU_ERR_CORRUPT); /* entry runs past the end */
    off = 5;
    CHECK_RC(cu_tile_bundle_next(b, 6, &off, &e, &n), CU_ERR_CORRUPT); /* half a length */

    uint8_t tile[3 * 32];
    for (size_t i = 0; i < sizeof tile; i++)
        tile[i] = (uint8_t)i;
    const cu_hash *h;
    CHECK_OK(cu_tile_hashes(tile, sizeof tile, 3, &h));
    CHECK(h[2].b[0] == 64);
    CHECK_RC(cu_tile_hashes(tile, sizeof tile - 1, 3, &h), CU_ERR_CORRUPT);
    CHECK_RC(cu_tile_hashes(tile, sizeof tile, 2, &h), CU_ERR_CORRUPT);
    CHECK_RC(cu_tile_hashes(tile, 0, 0, &h), CU_ERR_INVAL);
}

/* ================================================== allocation failure */

TEST(allocation_failure_every_step)
{
    char *sk = NULL, *vk = NULL;
    CHECK_OK(cu_note_keygen("alloc.example", &sk, &vk));
    /* every allocation of keygen, key parsing, signing and formatting fails
     * in turn: an error comes back, nothing leaks (ASan), and outputs are
     * NULL; past the last allocation, the call succeeds. */
    for (uint64_t k = 1; k < 64; k++) {
        char *a = NULL, *b = NULL, *note = NULL, *text = NULL;
        cu_note_signer *s = NULL;
        cu_note_verifier *v = NULL;
        size_t n;
        bool all_ok = true;
        cu_rc rc;

        cu_alloc_fail_at(k, false);
        rc = cu_note_keygen("alloc.example", &a, &b);
        cu_alloc_fail_at(0, false);
        if (rc) {
            CHECK_RC(rc, CU_ERR_NOMEM);
            CHECK(a == NULL && b == NULL);
            all_ok = false;
        }
        cu_free(a);
        cu_free(b);

        cu_alloc_fail_at(k, false);
        rc = cu_note_signer_parse(sk, &s);
        cu_alloc_fail_at(0, false);
        if (rc) {
            CHECK_RC(rc, CU_ERR_NOMEM);
            CHECK(s == NULL);
            all_ok = false;
        }
        cu_alloc_fail_at(k, false);
        rc = cu_note_verifier_parse(vk, &v);
        cu_alloc_fail_at(0, false);
        if (rc) {
            CHECK_RC(rc, CU_ERR_NOMEM);
            CHECK(v == NULL);
            all_ok = false;
        }
        if (s) {
            cu_alloc_fail_at(k, false);
            rc = cu_note_sign("t\n", 2, s, &note, &n);
            cu_alloc_fail_at(0, false);
            if (rc) {
                CHECK_RC(rc, CU_ERR_NOMEM);
                CHECK(note == NULL);
                all_ok = false;
            }
            cu_alloc_fail_at(k, false);
            char *x = cu_note_signer_verifier_key(s);
            cu_alloc_fail_at(0, false);
            if (!x)
                all_ok = false;
            cu_free(x);
        }
        cu_checkpoint c = {.size = 1};
        size_t tn;
        snprintf(c.origin, sizeof c.origin, "o");
        cu_alloc_fail_at(k, false);
        rc = cu_checkpoint_format(&c, &text, &tn);
        cu_alloc_fail_at(0, false);
        if (rc) {
            CHECK_RC(rc, CU_ERR_NOMEM);
            CHECK(text == NULL);
            all_ok = false;
        }
        if (note && v) {
            size_t tl;
            uint64_t before = cu_alloc_count();
            CHECK_OK(cu_note_open(note, n, &v, 1, &tl, NULL));
            CHECK_INT(cu_alloc_count(), before); /* open allocates nothing */
        }
        cu_free(note);
        cu_free(text);
        cu_note_signer_free(s);
        cu_note_verifier_free(v);
        if (all_ok && k > 2)
            break;
    }
    cu_free(sk);
    cu_free(vk);
}
