/* Log entries: the canonical encoding round-trips, every non-canonical or
 * malformed form is refused, access entries reveal no person id, and the
 * keyed commitments open only with the right secret and id. */
#include "harness.h"

#include "custos/ledger.h"

static const uint8_t secret[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static const char *const subjects[] = {"P88121", "P00007"};

static cu_ledger_access sample(void)
{
    cu_ledger_access a = {
        .ts = 1704809253, /* 2024-01-09T14:07:33Z */
        .id = "E000193",
        .officer = "MP10432",
        .system = "PNC",
        .action = "view",
        .record = "R55120",
        .purpose = "investigation",
        .case_id = "C2024-0117",
        .terminal = "T-CW-0031",
        .area = "CW",
        .allow = true,
        .results = 1,
        .subjects = subjects,
        .nsubjects = 2,
    };
    return a;
}

static bool field_is(const cu_ledger_entry *e, uint8_t tag, const char *s)
{
    const cu_ledger_field *f = cu_ledger_entry_field(e, tag);
    return f && f->len == strlen(s) && memcmp(f->data, s, f->len) == 0;
}

TEST(access_round_trip)
{
    cu_ledger_access a = sample();
    uint8_t buf[2048];
    size_t len = 0;
    cu_ledger_entry e;
    CHECK_OK(cu_ledger_entry_encode_access(&a, secret, buf, sizeof buf, &len));
    CHECK_OK(cu_ledger_entry_decode(buf, len, &e));
    CHECK_INT(e.type, CU_LEDGER_ACCESS);
    CHECK_INT(e.ts, 1704809253);
    CHECK(field_is(&e, CU_LEDGER_F_ID, "E000193"));
    CHECK(field_is(&e, CU_LEDGER_F_OFFICER, "MP10432"));
    CHECK(field_is(&e, CU_LEDGER_F_CASE, "C2024-0117"));
    const cu_ledger_field *o = cu_ledger_entry_field(&e, CU_LEDGER_F_OUTCOME);
    CHECK(o && o->len == 1 && ((const uint8_t *)o->data)[0] == 1);
    const cu_ledger_field *r = cu_ledger_entry_field(&e, CU_LEDGER_F_RESULTS);
    CHECK(r && r->len == 4 && cu_get_be32(r->data) == 1);
    const cu_ledger_field *s = cu_ledger_entry_field(&e, CU_LEDGER_F_SUBJECTS);
    CHECK(s && s->len == 64);
    if (s && s->len == 64) {
        const uint8_t *c = s->data;
        CHECK(cu_ledger_commitment_check(secret, "P88121", 6, c));
        CHECK(cu_ledger_commitment_check(secret, "P00007", 6, c + 32));
        CHECK(!cu_ledger_commitment_check(secret, "P00007", 6, c));
        CHECK(!cu_ledger_commitment_check(secret, "P8812", 5, c));
        uint8_t other[32];
        memcpy(other, secret, 32);
        other[0] ^= 1;
        CHECK(!cu_ledger_commitment_check(other, "P88121", 6, c));
        /* the commitment is SHA-256("custos/subject/v2" 0x00 || key || id) with
         * key = HMAC-SHA-256(secret, "custos/subject-key/v2" 0x00 || id) */
        uint8_t want[32], key[32], msg[64];
        memcpy(msg, "custos/subject-key/v2", 22); /* with its 0x00 */
        memcpy(msg + 22, "P88121", 6);
        CHECK_OK(cu_hmac_sha256(secret, 32, msg, 28, key));
        memcpy(msg, "custos/subject/v2", 18);
        memcpy(msg + 18, key, 32);
        CHECK_OK(cu_sha256(msg, 50, "P88121", 6, NULL, 0, want));
        CHECK_MEM(c, want, 32);
        CHECK(cu_ledger_commitment_open(key, "P88121", 6, c));
    }
    /* the published bytes say nothing about who was looked at */
    CHECK(memmem(buf, len, "P88121", 6) == NULL);
    CHECK(memmem(buf, len, "P00007", 6) == NULL);
    /* the exact layout: version, type, big-endian time, first field */
    CHECK_INT(buf[0], 1);
    CHECK_INT(buf[1], CU_LEDGER_ACCESS);
    CHECK_INT((int64_t)cu_get_be64(buf + 2), 1704809253);
    CHECK_INT(buf[10], CU_LEDGER_F_ID);
    CHECK_INT(cu_get_be16(buf + 11), 7);
    CHECK(memcmp(buf + 13, "E000193", 7) == 0);
    /* deterministic: one encoding per value */
    uint8_t again[2048];
    size_t l2 = 0;
    CHECK_OK(cu_ledger_entry_encode_access(&a, secret, again, sizeof again, &l2));
    CHECK(l2 == len && memcmp(again, buf, len) == 0);
}

TEST(optional_fields_are_omitted)
{
    cu_ledger_access a = sample();
    a.record = NULL;
    a.case_id = "";
    a.allow = false;
    a.nsubjects = 0;
    a.ts = -5; /* before the epoch: two's complement */
    uint8_t buf[2048];
    size_t len = 0;
    cu_ledger_entry e;
    CHECK_OK(cu_ledger_entry_encode_access(&a, secret, buf, sizeof buf, &len));
    CHECK_OK(cu_ledger_entry_decode(buf, len, &e));
    CHECK(cu_ledger_entry_field(&e, CU_LEDGER_F_RECORD) == NULL);
    CHECK(cu_ledger_entry_field(&e, CU_LEDGER_F_CASE) == NULL);
    CHECK(cu_ledger_entry_field(&e, CU_LEDGER_F_SUBJECTS) == NULL);
    CHECK_INT(e.ts, -5);
    const cu_ledger_field *o = cu_ledger_entry_field(&e, CU_LEDGER_F_OUTCOME);
    CHECK(o && ((const uint8_t *)o->data)[0] == 2);
    /* required fields */
    a.officer = NULL;
    CHECK_RC(cu_ledger_entry_encode_access(&a, secret, buf, sizeof buf, &len), CU_ERR_INVAL);
    a = sample();
    a.nsubjects = CU_LEDGER_MAX_SUBJECTS + 1;
    CHECK_RC(cu_ledger_entry_encode_access(&a, secret, buf, sizeof buf, &len), CU_ERR_TOOBIG);
    /* a buffer too small */
    a = sample();
    CHECK_RC(cu_ledger_entry_encode_access(&a, secret, buf, 40, &len), CU_ERR_TOOBIG);
}

TEST(generic_entries)
{
    uint8_t buf[256];
    size_t len = 0;
    cu_ledger_entry e;
    cu_ledger_field f[] = {{1, "permit", 6}, {2, NULL, 0}, {7, "policy-3", 8}};
    CHECK_OK(cu_ledger_entry_encode(CU_LEDGER_DECISION, 100, f, 3, buf, sizeof buf, &len));
    CHECK_INT(len, 10 + 3 + 6 + 3 + 8);
    CHECK_OK(cu_ledger_entry_decode(buf, len, &e));
    CHECK_INT(e.nfields, 2);
    CHECK_INT(e.type, CU_LEDGER_DECISION);
    CHECK(field_is(&e, 7, "policy-3"));
    cu_ledger_field bad[] = {{3, "a", 1}, {3, "b", 1}};
    CHECK_RC(cu_ledger_entry_encode(CU_LEDGER_DECISION, 0, bad, 2, buf, sizeof buf, &len), CU_ERR_INVAL);
    cu_ledger_field zero[] = {{0, "a", 1}};
    CHECK_RC(cu_ledger_entry_encode(CU_LEDGER_DECISION, 0, zero, 1, buf, sizeof buf, &len), CU_ERR_INVAL);
    CHECK_RC(cu_ledger_entry_encode(0, 0, NULL, 0, buf, sizeof buf, &len), CU_ERR_INVAL);
}

TEST(decoder_refuses_non_canonical_and_malformed)
{
    uint8_t buf[64];
    size_t len = 0;
    cu_ledger_entry e;
    cu_ledger_field f[] = {{1, "ab", 2}, {2, "cd", 2}};
    CHECK_OK(cu_ledger_entry_encode(CU_LEDGER_GOVERNANCE, 1, f, 2, buf, sizeof buf, &len));
    CHECK_OK(cu_ledger_entry_decode(buf, len, &e));
    /* every truncation but at a field boundary (10, 15) is refused */
    for (size_t n = 0; n < len; n++)
        CHECK_MSG(n == 10 || n == 15 || cu_ledger_entry_decode(buf, n, &e) != CU_OK, "truncated to %zu accepted", n);
    /* trailing byte */
    uint8_t t[65];
    memcpy(t, buf, len);
    t[len] = 0;
    CHECK_RC(cu_ledger_entry_decode(t, len + 1, &e), CU_ERR_PARSE);
    /* tags out of order / repeated */
    memcpy(t, buf, len);
    t[15] = 1;
    CHECK_RC(cu_ledger_entry_decode(t, len, &e), CU_ERR_PARSE);
    /* empty field */
    uint8_t z[] = {1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
    CHECK_RC(cu_ledger_entry_decode(z, sizeof z, &e), CU_ERR_PARSE);
    /* a length running past the end */
    memcpy(t, buf, len);
    t[12] = 9;
    CHECK_RC(cu_ledger_entry_decode(t, len, &e), CU_ERR_PARSE);
    /* another version, type 0 */
    memcpy(t, buf, len);
    t[0] = 2;
    CHECK_RC(cu_ledger_entry_decode(t, len, &e), CU_ERR_UNSUPPORTED);
    memcpy(t, buf, len);
    t[1] = 0;
    CHECK_RC(cu_ledger_entry_decode(t, len, &e), CU_ERR_PARSE);
    /* an access entry without its required fields, or with a bad outcome */
    memcpy(t, buf, len);
    t[1] = CU_LEDGER_ACCESS;
    CHECK_RC(cu_ledger_entry_decode(t, len, &e), CU_ERR_PARSE);
    cu_ledger_access a = sample();
    uint8_t ab[1024];
    size_t al = 0;
    CHECK_OK(cu_ledger_entry_encode_access(&a, secret, ab, sizeof ab, &al));
    /* find the outcome field by walking the fields */
    size_t o = 10;
    while (o < al && ab[o] != CU_LEDGER_F_OUTCOME)
        o += 3 + cu_get_be16(ab + o + 1);
    CHECK(o < al);
    if (o < al) {
        ab[o + 3] = 3;
        CHECK_RC(cu_ledger_entry_decode(ab, al, &e), CU_ERR_PARSE);
    }
    /* too many fields */
    uint8_t many[10 + 4 * 40];
    size_t ml = 10;
    memset(many, 0, 10);
    many[0] = 1;
    many[1] = CU_LEDGER_CONSOLE;
    for (int i = 1; i <= 40; i++) {
        many[ml] = (uint8_t)i;
        cu_put_be16(many + ml + 1, 1);
        many[ml + 3] = 'x';
        ml += 4;
    }
    CHECK_RC(cu_ledger_entry_decode(many, ml, &e), CU_ERR_PARSE);
    CHECK_OK(cu_ledger_entry_decode(many, 10 + 4 * 32, &e));
}
