/* Gateway unit tests: decisions with the real police pack over a small
 * reference file (tests/gateway/data/force.jsonl), the fail-closed audit
 * rule, break-glass and its review, reference updates, callers' tokens,
 * the transport-free HTTP layer, and decisions with and without the
 * records' class keys.  The daemon end to end is t_gateway.sh. */
#include "harness.h"

#include "custos/gateway.h"
#include "custos/ledger.h"
#include "gateway/gateway_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 2024-06-01T12:00:00Z */
#define NOW INT64_C(1717243200)
#define REF "tests/gateway/data/force.jsonl"

/* An audit log in memory that can be told to fail; it keeps the last entry. */
struct memlog {
    uint64_t n;
    bool fail;
    uint8_t last[CU_LEDGER_ENTRY_MAX];
    size_t last_len;
};

static cu_rc mem_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    struct memlog *m = ud;
    if (m->fail)
        return cu_err_set(CU_ERR_IO, "test: log refuses");
    size_t k = len < sizeof m->last ? len : sizeof m->last;
    memcpy(m->last, e, k);
    m->last_len = k;
    *index = m->n++;
    return CU_OK;
}

/* The last entry decodes as a gateway entry, and field tag holds exactly
 * want (len bytes; len 0: the field is absent). */
static bool field_is(const struct memlog *m, uint8_t tag, const void *want, size_t len)
{
    cu_ledger_entry e;
    if (cu_ledger_entry_decode(m->last, m->last_len, &e) != CU_OK || e.type != CU_LEDGER_DECISION)
        return false;
    const cu_ledger_field *f = cu_ledger_entry_field(&e, tag);
    if (!len)
        return f == NULL;
    return f && f->len == len && memcmp(f->data, want, len) == 0;
}

static bool field_str(const struct memlog *m, uint8_t tag, const char *want)
{
    return field_is(m, tag, want, strlen(want));
}

/* Field tag contains part (for '\n'-joined lists and long text). */
static bool field_has(const struct memlog *m, uint8_t tag, const char *part)
{
    cu_ledger_entry e;
    if (cu_ledger_entry_decode(m->last, m->last_len, &e) != CU_OK)
        return false;
    const cu_ledger_field *f = cu_ledger_entry_field(&e, tag);
    return f && memmem(f->data, f->len, part, strlen(part)) != NULL;
}

static uint64_t mem_size(void *ud) { return ((struct memlog *)ud)->n; }

static cu_gateway *make(struct memlog *log)
{
    char *pack = NULL;
    size_t len = 0;
    cu_gateway *g = NULL;
    CHECK_OK(cu_gateway_read_pack("policies", &pack, &len));
    if (!pack)
        return NULL;
    cu_gateway_opts o = {.policy_text = pack, .policy_len = len, .policy_name = "policies",
                         .audit = {.append = mem_append, .size = mem_size, .ud = log}};
    CHECK_OK(cu_gateway_new(&o, &g));
    cu_free(pack);
    if (g)
        CHECK_OK(cu_gateway_reference_load(g, REF));
    return g;
}

/* The update upd applied to g: true when want lines were taken. */
static bool update_ok(cu_gateway *g, const char *upd, size_t want)
{
    size_t applied = 0;
    uint64_t v = 0;
    if (cu_gateway_reference_update(g, upd, strlen(upd), "upd", NULL, &applied, &v) != CU_OK) {
        fprintf(stderr, "reference update refused: %s\n", cu_err_detail());
        CHECK(!"reference update refused");
        applied = SIZE_MAX;
    }
    CHECK_INT(applied, want);
    return applied == want;
}

/* make, then the update upd applied (want lines taken); NULL on failure. */
static cu_gateway *make_updated(struct memlog *log, const char *upd, size_t want)
{
    cu_gateway *g = make(log);
    if (g && !update_ok(g, upd, want)) {
        cu_gateway_free(g);
        g = NULL;
    }
    return g;
}

static bool has_policy(const cu_gateway_decision *d, const char *id)
{
    for (size_t i = 0; i < d->n_policies; i++)
        if (strcmp(d->policies[i], id) == 0)
            return true;
    return false;
}

static bool has_reason(const cu_gateway_decision *d, const char *part)
{
    for (size_t i = 0; i < d->n_reasons; i++)
        if (strstr(d->reasons[i], part))
            return true;
    return false;
}

static cu_gateway_request req(const char *officer, const char *action, const char *record, const char *kase)
{
    return (cu_gateway_request){.caller = "PNC", .officer = officer, .action = action, .record = record,
                                .purpose = "investigation", .case_id = kase, .now = NOW};
}

TEST(allow_with_case_link_and_deny_without)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    cu_gateway_decision d;
    cu_gateway_request r = req("PC1", "view", "R1", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    CHECK(has_policy(&d, "pnc-view-sworn"));
    CHECK(d.audited);
    CHECK_INT(d.index, 0);
    CHECK_INT(d.ref_version, 1);
    /* the ledger entry: the ledger's encoding, type decision, every field */
    uint8_t allow = 1, ver[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    cu_ledger_entry le;
    CHECK_OK(cu_ledger_entry_decode(log.last, log.last_len, &le));
    CHECK_INT(le.type, CU_LEDGER_DECISION);
    CHECK_INT(le.ts, NOW);
    CHECK(field_str(&log, CU_GW_F_CALLER, "PNC"));
    CHECK(field_str(&log, CU_GW_F_OFFICER, "PC1"));
    CHECK(field_str(&log, CU_GW_F_ACTION, "view"));
    CHECK(field_str(&log, CU_GW_F_RECORD, "R1"));
    CHECK(field_str(&log, CU_GW_F_SYSTEM, "PNC"));
    CHECK(field_str(&log, CU_GW_F_PURPOSE, "investigation"));
    CHECK(field_str(&log, CU_GW_F_CASE, "C1"));
    CHECK(field_is(&log, CU_GW_F_DECISION, &allow, 1));
    CHECK(field_is(&log, CU_GW_F_FLAGS, NULL, 0)); /* neither break-glass nor flagged */
    CHECK(field_is(&log, CU_GW_F_REF_VERSION, ver, 8));
    CHECK(field_is(&log, CU_GW_F_JUSTIFICATION, NULL, 0));
    CHECK(field_str(&log, CU_GW_F_POLICIES, "pnc-view-sworn"));

    r = req("PC1", "view", "R1", NULL);
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_BREAK_GLASS_AVAILABLE); /* the emergency tier would allow */
    CHECK(has_policy(&d, "need-to-know"));
    CHECK(has_reason(&d, "Need to know"));
    CHECK_INT(d.index, 1);

    /* the case does not link R3: a plain deny naming the failed condition */
    r = req("PC1", "view", "R3", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK(d.outcome != CU_GW_ALLOW);
    CHECK(has_policy(&d, "case-not-linked"));
    CHECK(has_reason(&d, "does not link this record"));

    /* a stated case the gateway does not know */
    r = req("PC1", "view", "R1", "C404");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK(d.outcome != CU_GW_ALLOW);
    CHECK(has_reason(&d, "not in the reference data"));

    /* unknown officer and record: denied and logged */
    uint64_t before = log.n;
    r = req("NOBODY", "view", "R1", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);
    CHECK(has_reason(&d, "Unknown officer"));
    r = req("PC1", "view", "R404", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK(has_reason(&d, "Unknown record"));
    CHECK_INT(log.n, before + 2);

    /* malformed requests are refused without a decision */
    r = req("PC1", "peek", "R1", "C1");
    CHECK_RC(cu_gateway_decide(g, &r, &d), CU_ERR_INVAL);
    r = req("PC1", "view", NULL, "C1");
    CHECK_RC(cu_gateway_decide(g, &r, &d), CU_ERR_INVAL);
    cu_gateway_free(g);
}

/* The request's lengths are measured once and reused for the checks and
 * the ledger entry: ids at their limit pass, one byte more is refused,
 * and the entry holds each string whole. */
TEST(request_lengths_at_the_limits)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    char id[CU_GATEWAY_MAX_ID + 2], just[CU_GATEWAY_MAX_JUSTIFICATION + 2];
    memset(id, 'X', sizeof id - 1);
    id[sizeof id - 1] = 0;
    memset(just, 'j', sizeof just - 1);
    just[sizeof just - 1] = 0;
    const char *id_max = id + 1, *id_over = id; /* 64 and 65 bytes */
    const char *just_max = just + 1, *just_over = just;
    /* each string in turn: at its limit (logged whole), one over, empty */
    static const struct {
        uint8_t tag;
        bool just;
    } F[] = {{CU_GW_F_OFFICER, false}, {CU_GW_F_RECORD, false}, {CU_GW_F_CASE, false}, {CU_GW_F_PURPOSE, false},
             {CU_GW_F_SYSTEM, false}, {CU_GW_F_JUSTIFICATION, true}};
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        cu_gateway_request r = req("PC1", F[i].tag == CU_GW_F_SYSTEM ? "logout" : "view",
                                   F[i].tag == CU_GW_F_SYSTEM ? NULL : "R1", "C1");
        const char **slot = F[i].tag == CU_GW_F_OFFICER   ? &r.officer
                            : F[i].tag == CU_GW_F_RECORD  ? &r.record
                            : F[i].tag == CU_GW_F_CASE    ? &r.case_id
                            : F[i].tag == CU_GW_F_PURPOSE ? &r.purpose
                            : F[i].tag == CU_GW_F_SYSTEM  ? &r.system
                                                          : &r.justification;
        const char *at = F[i].just ? just_max : id_max, *over = F[i].just ? just_over : id_over;
        cu_gateway_decision d;
        *slot = at;
        CHECK_OK(cu_gateway_decide(g, &r, &d));
        CHECK(field_str(&log, F[i].tag, at));
        CHECK(field_str(&log, CU_GW_F_CALLER, "PNC"));
        CHECK(field_str(&log, CU_GW_F_ACTION, r.action));
        *slot = over;
        CHECK_RC(cu_gateway_decide(g, &r, &d), CU_ERR_INVAL);
        *slot = "";
        CHECK_RC(cu_gateway_decide(g, &r, &d), CU_ERR_INVAL);
    }
    /* a record named with an action that takes none is not checked, and
     * is logged whole */
    cu_gateway_request r = req("PC1", "logout", just_max, NULL);
    r.system = "PNC";
    cu_gateway_decision d;
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK(field_str(&log, CU_GW_F_RECORD, just_max));
    cu_gateway_free(g);
}

/* A record's parents are its cases; the stated case's uid is shared with
 * the record's parent of the same case (built once).  A record linked to
 * another case than the one stated must still be not linked to it. */
TEST(record_linked_to_another_case)
{
    struct memlog log = {0};
    cu_gateway *g = make_updated(&log,
                                 "{\"kind\":\"case\",\"id\":\"C2\",\"opened\":\"2024-05-01T09:00:00Z\",\"closed\":null,"
                                 "\"area\":\"CW\",\"officers\":[\"PC1\"],\"subjects\":[\"P2\"],\"records\":[\"R3\"]}\n",
                                 1);
    if (!g)
        return;
    /* record, stated case, allowed: R3 is C2's, not C1's; R1 is C1's, not C2's */
    static const struct {
        const char *rec, *kase;
        bool allow;
    } Q[] = {{"R3", "C1", false}, {"R3", "C2", true}, {"R1", "C2", false}, {"R1", "C1", true}};
    for (size_t i = 0; i < sizeof Q / sizeof Q[0]; i++) {
        cu_gateway_decision d;
        cu_gateway_request r = req("PC1", "view", Q[i].rec, Q[i].kase);
        CHECK_OK(cu_gateway_decide(g, &r, &d));
        CHECK_INT(d.outcome == CU_GW_ALLOW, Q[i].allow);
        CHECK_INT(has_policy(&d, "case-not-linked"), !Q[i].allow);
    }
    cu_gateway_free(g);
}

/* The id tables' slots carry a tag from the id's hash, made again when a
 * table grows (store.c, tab_find_h): thousands of records added by an
 * update are each found, and ids that are not there are not. */
TEST(many_ids_found_after_the_tables_grow)
{
    enum { N = 3000 };
    cu_buf upd;
    cu_buf_init(&upd, 1 << 20);
    for (int i = 0; i < N; i++)
        CHECK_OK(cu_buf_appendf(&upd,
                                "{\"kind\":\"record\",\"id\":\"RX%d\",\"type\":\"crime\",\"system\":\"RMS\","
                                "\"subjects\":[\"P2\"],\"area\":\"CW\",\"classification\":\"OFFICIAL\",\"caveats\":[]}\n",
                                i));
    struct memlog log = {0};
    cu_gateway *g = make_updated(&log, upd.data, N);
    cu_buf_free(&upd);
    if (!g)
        return;
    int unknown = 0, found_absent = 0;
    char id[32];
    for (int i = 0; i < N + 100; i++) {
        snprintf(id, sizeof id, i < N ? "RX%d" : "RY%d", i);
        cu_gateway_decision d;
        cu_gateway_request r = req("PC1", "view", id, NULL);
        CHECK_OK(cu_gateway_decide(g, &r, &d));
        bool absent = has_reason(&d, "Unknown record");
        unknown += i < N && absent;
        found_absent += i >= N && !absent;
    }
    CHECK_INT(unknown, 0);
    CHECK_INT(found_absent, 0);
    cu_gateway_free(g);
}

TEST(protected_person_and_relations)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    cu_gateway_decision d;
    cu_gateway_request r = req("PC1", "view", "RP", "CP");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    r = req("PC1", "view", "RP", "C1"); /* links the record but does not name the person */
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK(d.outcome != CU_GW_ALLOW);
    CHECK(has_policy(&d, "protected-person"));
    r = req("PC1", "view", "REX", "C1"); /* declared ex-partner */
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);
    CHECK(has_policy(&d, "declared-relation"));
    cu_gateway_free(g);
}

TEST(vetting_expires_at_the_minute)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    cu_gateway_decision d;
    cu_gateway_request r = req("EXP", "view", "R1", "C1");
    r.now = NOW + 59;
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    r.now = NOW + 60;
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);
    CHECK(has_policy(&d, "vetting-expired"));
    r = req("LEFT", "view", "R2", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);
    CHECK(has_policy(&d, "leaver"));
    cu_gateway_free(g);
}

TEST(break_glass_flow_and_review)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    cu_gateway_decision d;
    cu_gateway_request r = req("PC2", "view", "RP", NULL);
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_BREAK_GLASS_AVAILABLE);
    CHECK_INT(cu_gateway_breakglass_open(g), 0);

    r.justification = "Missing person at risk: threat to life, address check";
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    CHECK(d.break_glass);
    CHECK(has_policy(&d, "bg-view-operational"));
    CHECK_INT(d.n_obligations, 2);
    uint8_t bgflag = 1;
    CHECK(field_is(&log, CU_GW_F_FLAGS, &bgflag, 1));
    CHECK(field_has(&log, CU_GW_F_JUSTIFICATION, "threat to life"));
    CHECK(field_str(&log, CU_GW_F_POLICIES, "bg-view-operational"));
    uint64_t id = d.index;
    CHECK_INT(cu_gateway_breakglass_open(g), 1);

    cu_buf b;
    cu_buf_init(&b, 1 << 20);
    CHECK_OK(cu_gateway_breakglass_json(g, NOW + 73 * 3600, &b));
    CHECK(strstr(b.data, "\"officer\":\"PC2\"") != NULL);
    CHECK(strstr(b.data, "\"overdue\":true") != NULL);
    cu_buf_free(&b);

    /* break-glass does not print, whatever the justification */
    cu_gateway_request p = req("PC2", "print", "RP", NULL);
    p.justification = "need a copy";
    CHECK_OK(cu_gateway_decide(g, &p, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);

    uint64_t idx;
    CHECK_RC(cu_gateway_breakglass_review(g, id, "PC2", "justified", NULL, NOW, &idx), CU_ERR_DENIED);
    CHECK_RC(cu_gateway_breakglass_review(g, id, "SUP1", "maybe", NULL, NOW, &idx), CU_ERR_INVAL);
    CHECK_RC(cu_gateway_breakglass_review(g, id + 100, "SUP1", "justified", NULL, NOW, &idx), CU_ERR_NOTFOUND);
    log.fail = true; /* the review must be logged before it closes anything */
    CHECK_RC(cu_gateway_breakglass_review(g, id, "SUP1", "justified", "ok", NOW, &idx), CU_ERR_IO);
    CHECK_INT(cu_gateway_breakglass_open(g), 1);
    log.fail = false;
    CHECK_OK(cu_gateway_breakglass_review(g, id, "SUP1", "justified", "call log confirms risk", NOW, &idx));
    CHECK_INT(idx, log.n - 1);
    uint8_t reviewed[8], justified = 1;
    for (int k = 0; k < 8; k++)
        reviewed[k] = (uint8_t)(id >> (56 - 8 * k));
    CHECK(field_is(&log, CU_GW_F_REVIEWED, reviewed, 8));
    CHECK(field_str(&log, CU_GW_F_REVIEWER, "SUP1"));
    CHECK(field_str(&log, CU_GW_F_OFFICER, "PC2"));
    CHECK(field_is(&log, CU_GW_F_REVIEW_OUTCOME, &justified, 1));
    CHECK(field_str(&log, CU_GW_F_NOTE, "call log confirms risk"));
    CHECK(field_is(&log, CU_GW_F_DECISION, NULL, 0));
    CHECK_INT(cu_gateway_breakglass_open(g), 0);
    cu_gateway_free(g);
}

TEST(audit_unavailable_denies)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    log.fail = true;
    cu_gateway_decision d;
    cu_gateway_request r = req("PC1", "view", "R1", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);
    CHECK(!d.audited);
    CHECK(has_reason(&d, "audit unavailable"));
    CHECK_INT(d.n_policies, 0);
    log.fail = false;
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    cu_gateway_free(g);
}

/* A new pack: a bad one refused (its line named) with the old in force; a
 * log that refuses the change refuses the pack (fail closed); a good one
 * decides the next decision, on the same reference data, and says so in
 * the answer and the log; the answers made before it keep their strings. */
TEST(policies_replaced_refused_and_logged)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    char *pack = NULL;
    size_t len = 0;
    CHECK_OK(cu_gateway_read_pack("policies", &pack, &len));
    if (!pack) {
        cu_gateway_free(g);
        return;
    }
    cu_gateway_decision d0, d;
    cu_gateway_request r = req("PC1", "view", "R1", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d0));
    CHECK_INT(d0.outcome, CU_GW_ALLOW);
    CHECK_INT((long long)d0.policy_version, 1);
    uint8_t pv[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    CHECK(field_is(&log, CU_GW_F_POLICY_VERSION, pv, 8));
    const char *allowed_by = d0.policies[0];
    uint64_t ref = cu_gateway_reference_version(g);

    /* a bad pack: refused with its line and column, pack 1 in force, nothing logged */
    static const char bad[] = "permit (principal, action, resource)\n  when { principal. };\n";
    uint64_t v = 0, n0 = log.n;
    CHECK_RC(cu_gateway_policies_replace(g, bad, sizeof bad - 1, "bad.cedar", NOW, &v), CU_ERR_PARSE);
    CHECK(strstr(cu_err_detail(), "bad.cedar:2:") != NULL);
    CHECK_INT((long long)cu_gateway_policies_version(g, NULL), 1);
    CHECK_INT((long long)log.n, (long long)n0);

    /* the pack with a forbid on R1 */
    static const char forbid[] = "\n@id(\"t-r1\") @reason(\"R1 closed.\")\n"
                                 "forbid (principal, action, resource is Record) when { resource == Record::\"R1\" };\n";
    size_t n2 = len + sizeof forbid - 1;
    char *pack2 = cu_malloc(n2);
    if (!pack2) {
        cu_free(pack);
        cu_gateway_free(g);
        return;
    }
    memcpy(pack2, pack, len);
    memcpy(pack2 + len, forbid, sizeof forbid - 1);
    /* a log that refuses the change: refused, pack 1 stays */
    log.fail = true;
    CHECK_RC(cu_gateway_policies_replace(g, pack2, n2, "pack2", NOW, &v), CU_ERR_IO);
    log.fail = false;
    CHECK_INT((long long)cu_gateway_policies_version(g, NULL), 1);
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    /* in force: logged first (type, version, hash of the text, name, count) */
    CHECK_OK(cu_gateway_policies_replace(g, pack2, n2, "pack2", NOW, &v));
    CHECK_INT((long long)v, 2);
    cu_ledger_entry e;
    uint8_t h[CU_SHA256_LEN], hv[CU_SHA256_LEN];
    CHECK_OK(cu_sha256(pack2, n2, NULL, 0, NULL, 0, h));
    CHECK_INT((long long)cu_gateway_policies_version(g, hv), 2);
    CHECK_MEM(h, hv, CU_SHA256_LEN);
    CHECK_OK(cu_ledger_entry_decode(log.last, log.last_len, &e));
    CHECK_INT(e.type, CU_LEDGER_POLICY);
    const cu_ledger_field *f1 = cu_ledger_entry_field(&e, 1), *f2 = cu_ledger_entry_field(&e, 2),
                          *f3 = cu_ledger_entry_field(&e, 3);
    CHECK(f1 && f1->len == 8 && ((const uint8_t *)f1->data)[7] == 2);
    CHECK(f2 && f2->len == CU_SHA256_LEN && memcmp(f2->data, h, CU_SHA256_LEN) == 0);
    CHECK(f3 && f3->len == 5 && memcmp(f3->data, "pack2", 5) == 0);
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);
    CHECK(has_policy(&d, "t-r1"));
    CHECK(has_reason(&d, "R1 closed."));
    CHECK_INT((long long)d.policy_version, 2);
    CHECK_INT((long long)cu_gateway_reference_version(g), (long long)ref); /* the same data */
    pv[7] = 2;
    CHECK(field_is(&log, CU_GW_F_POLICY_VERSION, pv, 8));
    /* the answer made under pack 1 still reads (packs out of force are kept) */
    CHECK(allowed_by && strlen(allowed_by) > 0);
    /* and back: pack 3, allowed again */
    CHECK_OK(cu_gateway_policies_replace(g, pack, len, "pack3", NOW, &v));
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    CHECK_INT((long long)d.policy_version, 3);
    cu_free(pack2);
    cu_free(pack);
    cu_gateway_free(g);
}

/* Packs changing under decisions: two threads decide PC1's view of R1
 * while the main thread puts in force, in turn, the pack with a forbid on
 * R1 (even versions) and the pack without (odd): every decision's outcome
 * matches the version it reports (deny with the forbid, allow without), so
 * no decision used the set of one pack and the memos or tiers of another. */
static atomic_ullong g_entries;
static cu_rc count_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    (void)ud;
    (void)e;
    (void)len;
    *index = atomic_fetch_add(&g_entries, 1);
    return CU_OK;
}
static uint64_t count_size(void *ud)
{
    (void)ud;
    return atomic_load(&g_entries);
}

struct pack_race {
    cu_gateway *g;
    atomic_bool stop;
    atomic_int bad, n;
};

static void *race_decide(void *p)
{
    struct pack_race *pr = p;
    cu_gateway_request r = req("PC1", "view", "R1", "C1");
    while (!atomic_load(&pr->stop)) {
        cu_gateway_decision d;
        if (cu_gateway_decide(pr->g, &r, &d) != CU_OK) {
            atomic_fetch_add(&pr->bad, 1);
            continue;
        }
        bool forbid = d.policy_version % 2 == 0;
        bool ok = forbid ? d.outcome == CU_GW_DENY && has_policy(&d, "t-r1") && has_reason(&d, "R1 closed.")
                         : d.outcome == CU_GW_ALLOW && !has_policy(&d, "t-r1");
        if (!ok)
            atomic_fetch_add(&pr->bad, 1);
        atomic_fetch_add(&pr->n, 1);
    }
    return NULL;
}

TEST(packs_changing_under_decisions)
{
    char *pack = NULL;
    size_t len = 0;
    CHECK_OK(cu_gateway_read_pack("policies", &pack, &len));
    if (!pack)
        return;
    static const char forbid[] = "\n@id(\"t-r1\") @reason(\"R1 closed.\")\n"
                                 "forbid (principal, action, resource is Record) when { resource == Record::\"R1\" };\n";
    size_t n2 = len + sizeof forbid - 1;
    char *pack2 = cu_malloc(n2);
    cu_gateway *g = NULL;
    cu_gateway_opts o = {.policy_text = pack, .policy_len = len, .policy_name = "policies",
                         .audit = {.append = count_append, .size = count_size, .ud = NULL}};
    CHECK_OK(cu_gateway_new(&o, &g));
    if (!pack2 || !g) {
        cu_free(pack2);
        cu_free(pack);
        cu_gateway_free(g);
        return;
    }
    memcpy(pack2, pack, len);
    memcpy(pack2 + len, forbid, sizeof forbid - 1);
    CHECK_OK(cu_gateway_reference_load(g, REF));
    struct pack_race pr = {.g = g};
    pthread_t th[2];
    int started = 0;
    for (int i = 0; i < 2; i++)
        started += pthread_create(&th[i], NULL, race_decide, &pr) == 0;
    /* the threads deciding before the first replacement (on a loaded
     * machine they could start after the last) */
    for (int w = 0; w < 5000 && started && atomic_load(&pr.n) == 0; w++)
        usleep(1000);
    uint64_t v = 0;
    for (int k = 0; k < 24; k++) {
        /* version k + 2: even with the forbid, odd without */
        bool with = (k + 2) % 2 == 0;
        CHECK_OK(cu_gateway_policies_replace(g, with ? pack2 : pack, with ? n2 : len, "race", NOW, &v));
        CHECK_INT((long long)v, k + 2);
    }
    atomic_store(&pr.stop, true);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(started, 2);
    CHECK(atomic_load(&pr.n) > 0);
    CHECK_INT(atomic_load(&pr.bad), 0);
    cu_free(pack2);
    cu_free(pack);
    cu_gateway_free(g);
}

TEST(reference_update_takes_effect_on_next_decision)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    cu_gateway_decision d;
    cu_gateway_request r = req("DC1", "view", "R2", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    CHECK_INT(d.ref_version, 1);

    const char *upd = "{\"kind\":\"assign\",\"ts\":\"2024-06-01T11:00:00Z\",\"case\":\"C1\",\"officer\":\"DC1\",\"op\":\"remove\"}\n"
                      "{\"kind\":\"record\",\"id\":\"R9\"}\n"
                      "not json\n";
    cu_buf rep;
    cu_buf_init(&rep, 4096);
    size_t applied = 0;
    uint64_t v = 0;
    CHECK_OK(cu_gateway_reference_update(g, upd, strlen(upd), "upd", &rep, &applied, &v));
    CHECK_INT(applied, 1);
    CHECK_INT(v, 2);
    CHECK(strstr(rep.data, "upd:2:") != NULL);
    CHECK(strstr(rep.data, "upd:3: malformed JSON") != NULL);
    cu_buf_free(&rep);

    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK(d.outcome != CU_GW_ALLOW); /* break-glass-available: a DC may break glass on RMS */
    CHECK_INT(d.ref_version, 2);
    CHECK(has_policy(&d, "case-not-assigned"));
    /* other data survived the update */
    r = req("PC1", "view", "R1", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);

    /* nothing usable: refused, version unchanged */
    CHECK_RC(cu_gateway_reference_update(g, "{}\n", 3, "bad", NULL, &applied, &v), CU_ERR_PARSE);
    CHECK_INT(cu_gateway_reference_version(g), 2);

    /* a bad file fails the load with file:line and keeps the data */
    char full[512];
    snprintf(full, sizeof full, "%s/bad.jsonl", cu_test_tmpdir());
    const char *bad = "{\"kind\":\"person\",\"id\":\"P7\",\"flags\":[]}\n{\"kind\":\"officer\"}\n";
    CHECK_OK(cu_file_write_atomic(full, bad, strlen(bad), 0644));
    CHECK_RC(cu_gateway_reference_load(g, full), CU_ERR_PARSE);
    CHECK(strstr(cu_err_detail(), "bad.jsonl:2:") != NULL);
    CHECK_INT(cu_gateway_reference_version(g), 2);
    cu_gateway_free(g);
}

/* The officers' entities memoise what the pack's guards on the principal
 * alone decide (role, unit, vetting level): a reference update that changes
 * those attributes must change the decision on the next request, both ways. */
TEST(reference_update_changes_memoised_principal_guards)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    cu_gateway_decision d;
    cu_gateway_request r = req("DC1", "view", "R2", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    CHECK(has_policy(&d, "rms-view-sworn"));

    /* a role no permit names: no permit applies any more (the explanation names one) */
    const char *role = "{\"kind\":\"officer\",\"id\":\"DC1\",\"role\":\"cleaner\",\"unit\":\"CID-CW\",\"area\":\"CW\","
                       "\"vetting\":{\"level\":\"MV\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"},"
                       "\"shift\":\"office\",\"start\":\"2012-01-01\",\"end\":null,\"relations\":[]}\n";
    size_t applied = 0;
    uint64_t v = 0;
    CHECK_OK(cu_gateway_reference_update(g, role, strlen(role), "upd", NULL, &applied, &v));
    CHECK_INT(applied, 1);
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);
    CHECK_INT(d.n_policies, 0);
    CHECK(d.explain_policy != NULL);

    /* vetting withdrawn (no vetting: level NONE): the vetting-none guardrail decides */
    const char *none = "{\"kind\":\"officer\",\"id\":\"DC1\",\"role\":\"DC\",\"unit\":\"CID-CW\",\"area\":\"CW\","
                       "\"shift\":\"office\",\"start\":\"2012-01-01\",\"end\":null,\"relations\":[]}\n";
    CHECK_OK(cu_gateway_reference_update(g, none, strlen(none), "upd", NULL, &applied, &v));
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);
    CHECK(has_policy(&d, "vetting-none"));

    /* and back: the sworn role and a valid level allow again */
    const char *back = "{\"kind\":\"officer\",\"id\":\"DC1\",\"role\":\"DC\",\"unit\":\"CID-CW\",\"area\":\"CW\","
                       "\"vetting\":{\"level\":\"MV\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"},"
                       "\"shift\":\"office\",\"start\":\"2012-01-01\",\"end\":null,\"relations\":[]}\n";
    CHECK_OK(cu_gateway_reference_update(g, back, strlen(back), "upd", NULL, &applied, &v));
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    CHECK(has_policy(&d, "rms-view-sworn"));
    cu_gateway_free(g);
}

/* The memo also decides the pack's comparisons of context.now with the
 * officer's dates (vetting granted and expires, service start and end) for
 * every interval of now: a reference update that moves those dates must
 * change the next decision, both ways. */
TEST(reference_update_changes_memoised_dates)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    cu_gateway_decision d;
    cu_gateway_request r = req("DC1", "view", "R2", "C1");
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    static const struct {
        const char *vetting, *start, *end, *policy;
    } cases[] = {
        {"\"granted\":\"2020-01-01\",\"expires\":\"2021-01-01\"", "2012-01-01", "null", "vetting-expired"},
        {"\"granted\":\"2029-01-01\",\"expires\":\"2030-01-01\"", "2012-01-01", "null", "vetting-not-yet-granted"},
        {"\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"", "2029-01-01", "null", "not-yet-started"},
        {"\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"", "2012-01-01", "\"2021-01-01\"", "leaver"},
        {"\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"", "2012-01-01", "null", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[512];
        snprintf(line, sizeof line,
                 "{\"kind\":\"officer\",\"id\":\"DC1\",\"role\":\"DC\",\"unit\":\"CID-CW\",\"area\":\"CW\","
                 "\"vetting\":{\"level\":\"MV\",%s},\"shift\":\"office\",\"start\":\"%s\",\"end\":%s,"
                 "\"relations\":[]}\n",
                 cases[i].vetting, cases[i].start, cases[i].end);
        size_t applied = 0;
        uint64_t v = 0;
        CHECK_OK(cu_gateway_reference_update(g, line, strlen(line), "upd", NULL, &applied, &v));
        CHECK_INT(applied, 1);
        CHECK_OK(cu_gateway_decide(g, &r, &d));
        if (cases[i].policy) {
            CHECK_INT(d.outcome, CU_GW_DENY);
            CHECK(has_policy(&d, cases[i].policy));
        } else {
            CHECK_INT(d.outcome, CU_GW_ALLOW);
        }
    }
    cu_gateway_free(g);
}

/* Assignments take effect at their ts, whatever their order in the file. */
TEST(assignments_follow_their_time)
{
    /* PC2 joins C1 at noon + 1 h and leaves at noon + 3 h; the remove line
     * comes first in the update, and a later add for DC1 (already on the
     * case from the case line) is a no-op; DC1 leaves at noon - 1 h and is
     * added again at noon + 2 h. */
    struct memlog log = {0};
    cu_gateway *g = make_updated(
        &log,
        "{\"kind\":\"assign\",\"ts\":\"2024-06-01T15:00:00Z\",\"case\":\"C1\",\"officer\":\"PC2\",\"op\":\"remove\"}\n"
        "{\"kind\":\"assign\",\"ts\":\"2024-06-01T13:00:00Z\",\"case\":\"C1\",\"officer\":\"PC2\",\"op\":\"add\"}\n"
        "{\"kind\":\"assign\",\"ts\":\"2024-06-01T14:00:00Z\",\"case\":\"C1\",\"officer\":\"DC1\",\"op\":\"add\"}\n"
        "{\"kind\":\"assign\",\"ts\":\"2024-06-01T11:00:00Z\",\"case\":\"C1\",\"officer\":\"DC1\",\"op\":\"remove\"}\n",
        4);
    if (!g)
        return;
    static const struct {
        const char *officer;
        int64_t at;
        bool allow;
    } cases[] = {
        {"PC2", NOW, false},           {"PC2", NOW + 3599, false},   {"PC2", NOW + 3600, true},
        {"PC2", NOW + 3 * 3600 - 1, true}, {"PC2", NOW + 3 * 3600, false}, {"DC1", NOW - 3601, true},
        {"DC1", NOW - 3600, false},     {"DC1", NOW + 2 * 3600 - 1, false}, {"DC1", NOW + 2 * 3600, true},
        {"PC1", NOW + 30 * 86400, true}, /* untouched: on the case from the case line */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cu_gateway_decision d;
        cu_gateway_request r = req(cases[i].officer, "view", "R1", "C1");
        r.now = cases[i].at;
        CHECK_OK(cu_gateway_decide(g, &r, &d));
        if ((d.outcome == CU_GW_ALLOW) != cases[i].allow)
            fprintf(stderr, "  case %zu: %s at %+lld s: outcome %d\n", i, cases[i].officer,
                    (long long)(cases[i].at - NOW), (int)d.outcome);
        CHECK_INT(d.outcome == CU_GW_ALLOW, cases[i].allow);
        if (!cases[i].allow)
            CHECK(has_policy(&d, "case-not-assigned"));
    }
    /* the force file's own assign line (EXP added on 2024-05-02) holds */
    cu_gateway_decision d;
    cu_gateway_request r = req("EXP", "view", "R2", "C1");
    r.now = INT64_C(1714557600); /* 2024-05-01T10:00:00Z: before it */
    CHECK_OK(cu_gateway_decide(g, &r, &d));
    CHECK(has_policy(&d, "case-not-assigned"));
    cu_gateway_free(g);
}

TEST(tokens_hashed_and_checked)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    /* sha256("pnc-secret") and sha256("psd-secret") */
    uint8_t h1[32], h2[32];
    char x1[65], x2[65];
    CHECK_OK(cu_sha256("pnc-secret", 10, NULL, 0, NULL, 0, h1));
    CHECK_OK(cu_sha256("psd-secret", 10, NULL, 0, NULL, 0, h2));
    cu_hex_encode(h1, 32, x1);
    cu_hex_encode(h2, 32, x2);
    char cfg[512];
    snprintf(cfg, sizeof cfg, "# callers\ntoken PNC sha256:%s\ntoken PSD-REVIEW sha256:%s reviewer  # reviews\n\nallow_on_error false\n", x1, x2);
    CHECK_OK(cu_gateway_config_parse(g, cfg, strlen(cfg), "cfg"));
    char name[CU_GATEWAY_MAX_ID + 1];
    bool rev = true;
    CHECK_OK(cu_gateway_authenticate(g, "Bearer pnc-secret", NULL, name, &rev));
    CHECK_STR(name, "PNC");
    CHECK(!rev);
    CHECK_OK(cu_gateway_authenticate(g, "Bearer psd-secret", NULL, name, &rev));
    CHECK_STR(name, "PSD-REVIEW");
    CHECK(rev);
    CHECK_RC(cu_gateway_authenticate(g, "Bearer pnc-secreT", NULL, name, &rev), CU_ERR_DENIED);
    CHECK_RC(cu_gateway_authenticate(g, "Basic cG5j", NULL, name, &rev), CU_ERR_DENIED);
    CHECK_RC(cu_gateway_authenticate(g, NULL, NULL, name, &rev), CU_ERR_DENIED);

    /* client certificates: a cert line names the caller without a token; a
     * certificate whose hash is a token's hash is not that token's caller
     * (a certificate's hash is public), nor a token a cert line's caller */
    const char *certx = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char cfg2[768];
    snprintf(cfg2, sizeof cfg2, "token PNC sha256:%s\ncert ANPR sha256:%s\ncert PSD-CERT sha256:%s reviewer\n", x1,
             certx, x2);
    CHECK_OK(cu_gateway_config_parse(g, cfg2, strlen(cfg2), "cfg2"));
    CHECK_OK(cu_gateway_authenticate(g, NULL, certx, name, &rev));
    CHECK_STR(name, "ANPR");
    CHECK(!rev);
    CHECK_OK(cu_gateway_authenticate(g, NULL, x2, name, &rev));
    CHECK_STR(name, "PSD-CERT");
    CHECK(rev);
    CHECK_RC(cu_gateway_authenticate(g, NULL, x1, name, &rev), CU_ERR_DENIED);        /* token's hash as a cert */
    CHECK_RC(cu_gateway_authenticate(g, "Bearer psd-secret", NULL, name, &rev), CU_ERR_DENIED); /* cert's as a token */
    CHECK_OK(cu_gateway_authenticate(g, "Bearer pnc-secret", x1, name, &rev));       /* unknown cert, good token */
    CHECK_STR(name, "PNC");
    CHECK_RC(cu_gateway_authenticate(g, NULL, "zz", name, &rev), CU_ERR_DENIED);
    CHECK_RC(cu_gateway_config_parse(g, "cert X sha256:12\n", 17, "c4"), CU_ERR_PARSE);
    CHECK(strstr(cu_err_detail(), "certificate") != NULL);
    CHECK_OK(cu_gateway_config_parse(g, cfg, strlen(cfg), "cfg"));

    /* bad configs say where and change nothing */
    CHECK_RC(cu_gateway_config_parse(g, "token PNC sha256:abcd\n", 22, "c2"), CU_ERR_PARSE);
    CHECK(strstr(cu_err_detail(), "c2:1:") != NULL);
    CHECK_RC(cu_gateway_config_parse(g, "\nfrobnicate yes\n", 16, "c3"), CU_ERR_PARSE);
    CHECK(strstr(cu_err_detail(), "c3:2:") != NULL);
    CHECK_OK(cu_gateway_authenticate(g, "Bearer pnc-secret", NULL, name, &rev));
    cu_gateway_free(g);
}

static int http(cu_gateway *g, const char *method, const char *path, const char *auth, const char *body, cu_buf *out)
{
    int status = 0;
    const char *ct = NULL;
    cu_buf_reset(out);
    cu_gateway_http(g, method, path, auth, NULL, body, strlen(body), NOW, &status, &ct, out);
    return status;
}

TEST(http_layer)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    uint8_t h[32];
    char x[65], cfg[256];
    CHECK_OK(cu_sha256("t0k", 3, NULL, 0, NULL, 0, h));
    cu_hex_encode(h, 32, x);
    snprintf(cfg, sizeof cfg, "token PNC sha256:%s reviewer\n", x);
    CHECK_OK(cu_gateway_config_parse(g, cfg, strlen(cfg), "cfg"));
    cu_buf out;
    cu_buf_init(&out, 1 << 20);
    const char *ok = "Bearer t0k";
    CHECK_INT(http(g, "POST", "/v1/authorize", NULL, "{}", &out), 401);
    CHECK_INT(http(g, "POST", "/v1/authorize", "Bearer nope", "{}", &out), 401);
    CHECK_INT(http(g, "POST", "/v1/authorize", ok, "{\"officer\":", &out), 400);
    CHECK(strstr(out.data, "malformed JSON") != NULL);
    CHECK_INT(http(g, "POST", "/v1/authorize", ok, "[1]", &out), 400);
    CHECK_INT(http(g, "POST", "/v1/authorize", ok, "{\"officer\":7,\"action\":\"view\",\"purpose\":\"x\"}", &out), 400);
    CHECK_INT(http(g, "POST", "/v1/authorize", ok, "{\"officer\":\"PC1\",\"action\":\"view\"}", &out), 400);
    CHECK_INT(http(g, "POST", "/v1/authorize", ok,
                   "{\"officer\":\"PC1\",\"action\":\"view\",\"record\":\"R1\",\"purpose\":\"investigation\","
                   "\"break_glass\":{\"justification\":\"  \"}}", &out), 400);
    CHECK_INT(http(g, "POST", "/v1/authorize", ok,
                   "{\"officer\":\"PC1\",\"action\":\"view\",\"record\":\"R1\",\"purpose\":\"investigation\",\"case\":\"C1\"}",
                   &out), 200);
    CHECK(strstr(out.data, "\"decision\":\"allow\"") != NULL);
    CHECK(strstr(out.data, "\"ledger_index\":0") != NULL);
    CHECK_INT(http(g, "GET", "/v1/authorize", ok, "", &out), 405);
    CHECK_INT(http(g, "GET", "/v1/nothing", ok, "", &out), 404);
    CHECK_INT(http(g, "POST", "/v1/breakglass/abc/review", ok, "{}", &out), 404);
    CHECK_INT(http(g, "POST", "/v1/breakglass/5/review", ok, "{\"reviewer\":\"SUP1\",\"outcome\":\"justified\"}", &out), 404);
    CHECK_INT(http(g, "GET", "/v1/breakglass", ok, "", &out), 200);
    CHECK_STR(out.data, "{\"open\":[]}\n");
    CHECK_INT(http(g, "GET", "/v1/reference", ok, "", &out), 200);
    CHECK_STR(out.data, "{\"version\":1}\n");
    log.fail = true;
    CHECK_INT(http(g, "POST", "/v1/authorize", ok,
                   "{\"officer\":\"PC1\",\"action\":\"view\",\"record\":\"R1\",\"purpose\":\"investigation\",\"case\":\"C1\"}",
                   &out), 503);
    CHECK(strstr(out.data, "\"decision\":\"deny\"") != NULL);
    CHECK(strstr(out.data, "audit unavailable") != NULL);
    log.fail = false;
    CHECK_INT(http(g, "GET", "/metrics", ok, "", &out), 200);
    CHECK(strstr(out.data, "custos_gateway_decisions_total{outcome=\"allow\"} 1\n") != NULL);
    CHECK(strstr(out.data, "custos_gateway_audit_failures_total 1\n") != NULL);
    CHECK(strstr(out.data, "custos_gateway_http_errors_total{status=\"401\"} 2\n") != NULL);
    CHECK(strstr(out.data, "# EOF\n") != NULL);
    /* the latency histogram holds the two decisions made over HTTP (the
     * allow and the audit failure); one made in process adds nothing */
    CHECK(strstr(out.data, "custos_gateway_decision_seconds_count 2\n") != NULL);
    cu_gateway_decision d;
    cu_gateway_request rq = req("PC1", "view", "R1", "C1");
    CHECK_OK(cu_gateway_decide(g, &rq, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    CHECK_INT(http(g, "GET", "/metrics", ok, "", &out), 200);
    CHECK(strstr(out.data, "custos_gateway_decisions_total{outcome=\"allow\"} 2\n") != NULL);
    CHECK(strstr(out.data, "custos_gateway_decision_seconds_count 2\n") != NULL);
    cu_buf_free(&out);
    cu_gateway_free(g);
}

TEST(no_allocation_per_decision)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    cu_gateway_decision d;
    cu_gateway_request rs[3] = {req("PC1", "view", "R1", "C1"), req("PC1", "view", "R1", NULL),
                                req("EXP", "view", "RP", "C1")};
    for (int i = 0; i < 3; i++) /* warm up: this thread's scratch arena and entry buffer */
        CHECK_OK(cu_gateway_decide(g, &rs[i], &d));
    uint64_t before = cu_alloc_count();
    for (int i = 0; i < 300; i++)
        CHECK_OK(cu_gateway_decide(g, &rs[i % 3], &d));
    CHECK_INT(cu_alloc_count() - before, 0);
    cu_gateway_free(g);
}

/* ------------------------------------------- resource class keys */

static bool same_s(const char *x, const char *y) { return (!x && !y) || (x && y && strcmp(x, y) == 0); }

static bool same_list(const char *const *x, size_t nx, const char *const *y, size_t ny)
{
    if (nx != ny)
        return false;
    for (size_t i = 0; i < nx; i++)
        if (!same_s(x[i], y[i]))
            return false;
    return true;
}

static bool same_decision(const cu_gateway_decision *x, const cu_gateway_decision *y)
{
    return x->outcome == y->outcome && x->break_glass == y->break_glass && x->flagged == y->flagged &&
           x->ref_version == y->ref_version && x->policy_version == y->policy_version &&
           same_list(x->policies, x->n_policies, y->policies, y->n_policies) &&
           same_list(x->reasons, x->n_reasons, y->reasons, y->n_reasons) &&
           same_list(x->errors, x->n_errors, y->errors, y->n_errors) &&
           same_list(x->obligations, x->n_obligations, y->obligations, y->n_obligations) &&
           same_s(x->explanation, y->explanation) && same_s(x->explain_policy, y->explain_policy) &&
           same_s(x->explain_condition, y->explain_condition);
}

/* *p copied into w (room bytes left), *p then pointing at the copy. */
static void keep_str(const char **p, char **w, size_t *room)
{
    if (!*p)
        return;
    size_t n = strlen(*p) + 1;
    CHECK(n <= *room);
    if (n > *room)
        return;
    memcpy(*w, *p, n);
    *p = *w;
    *w += n;
    *room -= n;
}

/* Random requests decided with the records' class keys (the engine's
 * cache of the pack's guards on the record alone) and without (every
 * guard read per request): the same decisions, explanations and policy
 * ids; over the test force with records of every classification, a record
 * not live, and after the reference data is loaded again with two markings
 * swapped (atoms numbered as before, two of them naming other markings: a
 * key of the old snapshot would mean another record class). */
TEST(resource_keys_change_no_decision)
{
    static const char upd[] =
        "{\"kind\":\"record\",\"id\":\"RS\",\"type\":\"intelligence\",\"system\":\"PND\",\"subjects\":[\"P2\"],"
        "\"area\":\"CW\",\"classification\":\"SECRET\",\"caveats\":[]}\n"
        "{\"kind\":\"record\",\"id\":\"RT\",\"type\":\"intelligence\",\"system\":\"PNC\",\"subjects\":[\"P1\"],"
        "\"area\":\"CW\",\"classification\":\"TOP-SECRET\",\"caveats\":[]}\n"
        "{\"kind\":\"record\",\"id\":\"RU\",\"type\":\"crime\",\"system\":\"RMS\",\"subjects\":[\"P1\"],"
        "\"area\":\"CW\",\"classification\":\"RESTRICTED\",\"caveats\":[]}\n"
        "{\"kind\":\"record\",\"id\":\"RL\",\"type\":\"crime\",\"system\":\"TRAIN\",\"subjects\":[\"P2\"],"
        "\"area\":\"CW\",\"classification\":\"OFFICIAL\",\"caveats\":[],\"live\":false}\n";
    struct memlog log = {0};
    cu_gateway *g = make_updated(&log, upd, 4);
    if (!g)
        return;
    CHECK(g->pack->rk_ok);
    CHECK_INT(g->pack->rk_fields, GW_RK_CLS | GW_RK_TYPE | GW_RK_SYSTEM | GW_RK_LIVE | GW_RK_PROT);
    static const char *const officers[] = {"PC1", "PC2", "DC1", "EXP", "LEFT", "SUP1"};
    static const char *const actions[] = {"view", "update", "export", "print", "disclose", "search"};
    static const char *const records[] = {"R1", "R2", "R3", "RP", "REX", "RS", "RT", "RU", "RL"};
    static const char *const cases[] = {NULL, "C1", "CP"};
    static const char *const purposes[] = {"investigation", "intelligence", "training", "other", "custody"};
    static const char *const systems[] = {"PNC", "TRAIN", "PND"};
    uint64_t x = 0x2545f4914f6cdd1dull;
    int differ = 0, allowed = 0, denied = 0;
    char *outcome = cu_malloc(4000);
    CHECK(outcome != NULL);
    for (int phase = 0; phase < 2 && outcome; phase++) {
        if (phase == 1) {
            /* the same lines in the same order with "OFFICIAL" and
             * "TOP-SECRET" swapped: the new store numbers its atoms as the
             * old did, each of the two now naming the other marking, so a
             * class key that outlived its snapshot would stand for the
             * wrong records */
            char path[512];
            snprintf(path, sizeof path, "%s/force.jsonl", cu_test_tmpdir());
            FILE *f = fopen(path, "w");
            CHECK(f != NULL);
            char *ref = NULL;
            size_t rlen = 0;
            CHECK_OK(cu_file_read(REF, 1 << 20, &ref, &rlen));
            if (!f || !ref) {
                if (f)
                    fclose(f);
                cu_free(ref);
                break;
            }
            for (int part = 0; part < 2; part++) {
                const char *t = part ? upd : ref, *end = t + (part ? sizeof upd - 1 : rlen);
                while (t < end) {
                    if ((size_t)(end - t) >= 10 && memcmp(t, "\"OFFICIAL\"", 10) == 0) {
                        fputs("\"TOP-SECRET\"", f);
                        t += 10;
                    } else if ((size_t)(end - t) >= 12 && memcmp(t, "\"TOP-SECRET\"", 12) == 0) {
                        fputs("\"OFFICIAL\"", f);
                        t += 12;
                    } else {
                        fputc(*t++, f);
                    }
                }
            }
            cu_free(ref);
            fclose(f);
            CHECK_OK(cu_gateway_reference_load(g, path));
        }
        for (int i = 0; i < 1000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t ai = (x >> 3) % 6;
            cu_gateway_request r = req(officers[(x >> 8) % 6], actions[ai], ai == 5 ? NULL : records[(x >> 12) % 9],
                                       cases[(x >> 20) % 3]);
            r.purpose = purposes[(x >> 24) % 5];
            r.system = ai == 5 ? systems[(x >> 28) % 3] : NULL;
            r.justification = (x >> 32) % 3 == 0 ? "urgent: risk to life" : NULL;
            cu_gateway_decision with, without;
            g->rk_off = false;
            CHECK_OK(cu_gateway_decide(g, &r, &with));
            /* the decision's strings live until the thread's next decision:
             * compare against a copy of the first */
            cu_gateway_decision keep = with;
            char *w = outcome;
            size_t room = 4000;
            for (size_t k = 0; k < keep.n_policies; k++)
                keep_str(&keep.policies[k], &w, &room);
            for (size_t k = 0; k < keep.n_reasons; k++)
                keep_str(&keep.reasons[k], &w, &room);
            for (size_t k = 0; k < keep.n_errors; k++)
                keep_str(&keep.errors[k], &w, &room);
            for (size_t k = 0; k < keep.n_obligations; k++)
                keep_str(&keep.obligations[k], &w, &room);
            keep_str(&keep.explanation, &w, &room);
            keep_str(&keep.explain_policy, &w, &room);
            keep_str(&keep.explain_condition, &w, &room);
            g->rk_off = true;
            CHECK_OK(cu_gateway_decide(g, &r, &without));
            if (!same_decision(&keep, &without)) {
                differ++;
                fprintf(stderr, "phase %d request %d (%s %s %s): decisions differ with the class key\n", phase, i,
                        r.officer, r.action, r.record ? r.record : r.system);
            }
            allowed += without.outcome == CU_GW_ALLOW;
            denied += without.outcome != CU_GW_ALLOW;
        }
    }
    g->rk_off = false;
    CHECK_INT(differ, 0);
    CHECK(allowed > 50);
    CHECK(denied > 500);
    cu_free(outcome);
    cu_gateway_free(g);
}

/* ------------------------------------------------------ decision memo */

static uint64_t xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* RFC 3339 text of NOW + days * 86400 + secs. */
static void day(char *out, size_t cap, int64_t days, int64_t secs)
{
    time_t t = (time_t)(NOW + days * 86400 + secs);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The same in quotes, into a buffer of 48 bytes. */
static void quoted_day(char *out, int64_t days)
{
    char t[40];
    day(t, sizeof t, days, 0);
    snprintf(out, 48, "\"%.40s\"", t);
}

/* A random force as interchange lines in path: 40 officers of many roles,
 * units, vetting levels and dates (some equal to NOW), caveats and
 * relations; 12 people (some protected); 30 records of every marking and
 * system, some not live, with one to three subjects; 8 cases (some closed
 * or not yet open) with assign lines around NOW.  swap: "OFFICIAL" and
 * "TOP-SECRET" exchanged (the atoms keep their numbers, not their meaning). */
static bool write_force(const char *path, uint64_t seed, bool swap)
{
    static const char *const roles[] = {"PC", "DC", "PS", "DS", "analyst", "staff", "SPC", "PCSO", "DI", "Insp"};
    static const char *const units[] = {"TP-CW-RESP", "PNCB-1", "DBS-2", "CID-CW", "INT-1", "PNCB-7", "TP-HK"};
    static const char *const vet[] = {"RV", "MV", "NPPV1", "NPPV2", "NPPV3", "CTC", "SC", "DV"};
    static const char *const types[] = {"nominal", "crime", "intelligence"};
    static const char *const systems[] = {"PNC", "PND", "RMS", "TRAIN"};
    const char *marks[] = {"OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP-SECRET", "RESTRICTED"};
    if (swap) {
        marks[0] = "TOP-SECRET";
        marks[3] = "OFFICIAL";
    }
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    uint64_t x = seed;
    char a[40], b[40], c[40];
    for (int p = 0; p < 12; p++)
        fprintf(f, "{\"kind\":\"person\",\"id\":\"P%d\",\"area\":\"CW\",\"flags\":[%s]}\n", p,
                xs(&x) % 4 == 0 ? "\"protected\"" : "");
    /* most officers alike but for role, unit and vetting (so that the
     * memo answers one officer from another's decision), a few not */
    /* officer 2k + 1 is officer 2k but for its role, unit or vetting (k % 3),
     * both on case k below */
    char line[1024];
    int role = 0, unit = 0, vl = 0;
    for (int o = 0; o < 40; o++) {
        if (o % 2 == 0) {
            int gr = (int)(xs(&x) % 10), e = (int)(xs(&x) % 10);
            day(a, sizeof a, gr == 0 ? 1 : gr == 1 ? 0 : -400, 0); /* granted: later, exactly NOW, long ago */
            day(b, sizeof b, e == 0 ? -3 : e == 1 ? 0 : 300, 0);   /* expires: past, exactly NOW, future */
            day(c, sizeof c, -2000 + (xs(&x) % 10 == 0 ? 2001 : 0), 0);
            int end = (int)(xs(&x) % 10);
            char en[48] = "null";
            if (end == 0)
                quoted_day(en, -1);
            if (end == 1)
                strcpy(en, "\"2024-06-01T12:00:00Z\"");
            role = (int)(xs(&x) % 10);
            unit = (int)(xs(&x) % 7);
            vl = (int)(xs(&x) % 8);
            int n = snprintf(line, sizeof line,
                             "\"area\":\"CW\",\"shift\":\"days\",\"start\":\"%s\",\"end\":%s,\"caveats\":[%s],"
                             "\"relations\":[",
                             c, en, xs(&x) % 6 == 0 ? "\"UKEYES\"" : "");
            /* relations with the people of the officer's case (o / 2) now and then */
            int nrel = (int)(xs(&x) % 8 == 0 ? 1 + xs(&x) % 2 : 0);
            for (int k = 0; k < nrel && n > 0 && (size_t)n < sizeof line - 64; k++)
                n += snprintf(line + n, sizeof line - (size_t)n, "%s{\"person\":\"P%d\",\"type\":\"friend\"}",
                              k ? "," : "", (o / 2 + (int)(xs(&x) % 3)) % 12);
        } else if (o / 2 % 3 == 0) {
            role = (role + 1 + (int)(xs(&x) % 9)) % 10;
        } else if (o / 2 % 3 == 1) {
            unit = (unit + 1 + (int)(xs(&x) % 6)) % 7;
        } else {
            vl = (vl + 1 + (int)(xs(&x) % 7)) % 8;
        }
        fprintf(f,
                "{\"kind\":\"officer\",\"id\":\"O%d\",\"role\":\"%s\",\"unit\":\"%s\","
                "\"vetting\":{\"level\":\"%s\",\"granted\":\"%s\",\"expires\":\"%s\"},%s]}\n",
                o, roles[role], units[unit], vet[vl], a, b, line);
    }
    /* the three records of a case alike but for their people, mostly (so
     * that the memo answers one from another's decision) */
    int ty = 0, sy = 0, mk = 0, cv = 0, lv = 0;
    for (int r = 0; r < 30; r++) {
        if (r % 3 == 0 || xs(&x) % 4 == 0) {
            ty = (int)(xs(&x) % 3);
            sy = (int)(xs(&x) % 4);
            mk = (int)(xs(&x) % 8 % 5);
            cv = xs(&x) % 4 == 0 ? 1 + (int)(xs(&x) % 2) : 0;
            lv = xs(&x) % 6 == 0;
        }
        fprintf(f, "{\"kind\":\"record\",\"id\":\"R%d\",\"type\":\"%s\",\"system\":\"%s\",\"subjects\":[", r,
                types[ty], systems[sy]);
        /* one to three people, near those of its case (r / 3), so that the
         * case names them all, some or none */
        int ns = 1 + (int)(xs(&x) % 3);
        for (int k = 0; k < ns; k++)
            fprintf(f, "%s\"P%d\"", k ? "," : "", (r / 3 + (int)(xs(&x) % 3)) % 12);
        fprintf(f, "],\"area\":\"CW\",\"classification\":\"%s\",\"caveats\":[%s]%s}\n", marks[mk],
                cv == 0 ? "" : cv == 1 ? "\"UKEYES\"" : "\"RELTRAIN\"", lv ? ",\"live\":false" : "");
    }
    for (int k = 0; k < 8; k++) {
        int op = (int)(xs(&x) % 6), cl = (int)(xs(&x) % 8);
        day(a, sizeof a, op == 0 ? 2 : op == 1 ? 0 : -30, 0);
        char cs[48] = "null";
        if (cl == 0)
            quoted_day(cs, -1);
        if (cl == 1)
            strcpy(cs, "\"2024-06-01T12:00:00Z\"");
        fprintf(f, "{\"kind\":\"case\",\"id\":\"C%d\",\"opened\":\"%s\",\"closed\":%s,\"area\":\"CW\",\"officers\":[", k,
                a, cs);
        /* officers O(2k), O(2k+1) and records R(3k)..R(3k+2) always (memo_request's
         * linked requests), others at random */
        fprintf(f, "\"O%d\",\"O%d\"", 2 * k, 2 * k + 1);
        int no = (int)(xs(&x) % 3);
        for (int q = 0; q < no; q++)
            fprintf(f, ",\"O%d\"", (int)(xs(&x) % 40));
        fprintf(f, "],\"subjects\":[");
        int ns = (int)(xs(&x) % 4);
        for (int q = 0; q < ns; q++)
            fprintf(f, "%s\"P%d\"", q ? "," : "", (k + (int)(xs(&x) % 3)) % 12);
        fprintf(f, "],\"records\":[");
        fprintf(f, "\"R%d\",\"R%d\",\"R%d\"", 3 * k, 3 * k + 1, 3 * k + 2);
        int nr = (int)(xs(&x) % 4);
        for (int q = 0; q < nr; q++)
            fprintf(f, ",\"R%d\"", (int)(xs(&x) % 30));
        fprintf(f, "]}\n");
    }
    for (int k = 0; k < 10; k++) {
        day(a, sizeof a, 0, (int64_t)(xs(&x) % 5) * 1800 - 3600);
        fprintf(f, "{\"kind\":\"assign\",\"ts\":\"%s\",\"case\":\"C%d\",\"officer\":\"O%d\",\"op\":\"%s\"}\n", a,
                (int)(xs(&x) % 8), (int)(xs(&x) % 40), xs(&x) % 3 ? "add" : "remove");
    }
    return fclose(f) == 0;
}

/* One random request over write_force's force (unknown ids now and then,
 * every action, purposes in and out of the pack's list, a justification
 * one time in three, and a time among NOW and its neighbours). */
static cu_gateway_request memo_request(uint64_t *x, char *off, char *rec, char *kase)
{
    static const char *const actions[] = {"view", "update", "export", "print", "disclose", "search"};
    static const char *const purposes[] = {"investigation", "intelligence", "training", "other", "custody",
                                           "licensing", "bogus", "investigation", "investigation", "investigation"};
    static const char *const systems[] = {"PNC", "TRAIN", "PND"};
    static const int64_t dt[] = {0, 0, 0, -1, 1, 3600, -86400, 1800};
    size_t ai = xs(x) % 8 % 6; /* views twice as often */
    int c = (int)(xs(x) % 8), k = (int)(xs(x) % 10);
    if (xs(x) % 2) { /* an officer and a record of case c */
        snprintf(off, 16, "O%d", 2 * c + (int)(xs(x) % 2));
        snprintf(rec, 16, "R%d", 3 * c + (int)(xs(x) % 3));
    } else {
        snprintf(off, 16, xs(x) % 40 ? "O%d" : "NOPE%d", (int)(xs(x) % 40));
        snprintf(rec, 16, xs(x) % 40 ? "R%d" : "RX%d", (int)(xs(x) % 30));
    }
    snprintf(kase, 16, k == 9 ? "CX%d" : "C%d", k == 8 ? (int)(xs(x) % 8) : c);
    cu_gateway_request r = req(off, actions[ai], ai == 5 ? NULL : rec, k < 3 ? NULL : kase);
    r.purpose = purposes[xs(x) % 10];
    r.system = ai == 5 ? systems[xs(x) % 3] : NULL;
    r.justification = xs(x) % 3 == 0 ? "urgent: risk to life" : NULL;
    r.now = NOW + dt[xs(x) % 8];
    return r;
}

/* The decision d's strings copied into w (room bytes), d pointing at them. */
static void keep_decision(cu_gateway_decision *d, char *w, size_t room)
{
    for (size_t k = 0; k < d->n_policies; k++)
        keep_str(&d->policies[k], &w, &room);
    for (size_t k = 0; k < d->n_reasons; k++)
        keep_str(&d->reasons[k], &w, &room);
    for (size_t k = 0; k < d->n_errors; k++)
        keep_str(&d->errors[k], &w, &room);
    for (size_t k = 0; k < d->n_obligations; k++)
        keep_str(&d->obligations[k], &w, &room);
    keep_str(&d->explanation, &w, &room);
    keep_str(&d->explain_policy, &w, &room);
    keep_str(&d->explain_condition, &w, &room);
}

/* The last entry is in the ledger's canonical encoding: decoded and
 * encoded again by cu_ledger_entry_encode, the same bytes. */
static bool entry_canonical(const struct memlog *m, uint8_t *again)
{
    cu_ledger_entry e;
    size_t len = 0;
    return cu_ledger_entry_decode(m->last, m->last_len, &e) == CU_OK &&
           cu_ledger_entry_encode(e.type, e.ts, e.fields, e.nfields, again, CU_LEDGER_ENTRY_MAX, &len) == CU_OK &&
           len == m->last_len && memcmp(again, m->last, len) == 0;
}

/* Random requests decided with the decision memo and without it (the
 * general path: entities built, both tiers evaluated), in both orders
 * (the memo's answer first, then the general one, and the other way
 * round): the same decisions field by field and the same ledger entries
 * byte for byte, over a random force, after a reference update, after the
 * force is loaded again with two markings swapped (a memo entry that
 * outlived its snapshot would answer for the wrong records), and after two
 * pack replacements (one adding a forbid, one the pack again).  The memo
 * must have answered most of them. */
TEST(decision_memo_decides_as_the_general_path)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    char path[512], *pack = NULL, *pack2 = NULL;
    size_t plen = 0;
    snprintf(path, sizeof path, "%s/memo_force.jsonl", cu_test_tmpdir());
    char *outcome = cu_malloc(8000);
    uint8_t *first = cu_malloc(CU_LEDGER_ENTRY_MAX), *again = cu_malloc(CU_LEDGER_ENTRY_MAX);
    CHECK_OK(cu_gateway_read_pack("policies", &pack, &plen));
    if (!g || !outcome || !first || !again || !pack) {
        CHECK(!"setup");
        goto done;
    }
    static const char extra[] = "\n@id(\"no-custody-secret\")\n@reason(\"test: custody work stays below SECRET.\")\n"
                                "forbid (principal, action, resource is Record)\n"
                                "when { context.purpose == \"custody\" && resource.classification == \"SECRET\" };\n";
    pack2 = cu_malloc(plen + sizeof extra);
    if (!pack2)
        goto done;
    memcpy(pack2, pack, plen);
    memcpy(pack2 + plen, extra, sizeof extra);
    CHECK(g->pack->dm_ok);
    uint64_t x = 0x9e3779b97f4a7c15ull, h0, m0, h1, m1;
    int differ = 0, noncanon = 0, allowed = 0, bga = 0, denied = 0;
    gw_dm_counts(gw_dm_thread(), &h0, &m0);
    for (int phase = 0; phase < 5; phase++) {
        if (phase == 0 || phase == 2) {
            CHECK(write_force(path, 0x1234567ull, phase == 2));
            CHECK_OK(cu_gateway_reference_load(g, path));
        } else if (phase == 1) {
            static const char upd[] =
                "{\"kind\":\"officer\",\"id\":\"O3\",\"role\":\"analyst\",\"unit\":\"PNCB-1\",\"area\":\"CW\","
                "\"vetting\":{\"level\":\"SC\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"},"
                "\"shift\":\"days\",\"start\":\"2010-01-01\",\"end\":null,\"relations\":[{\"person\":\"P1\","
                "\"type\":\"sibling\"}]}\n"
                "{\"kind\":\"record\",\"id\":\"R4\",\"type\":\"intelligence\",\"system\":\"PND\",\"subjects\":"
                "[\"P1\",\"P2\"],\"area\":\"CW\",\"classification\":\"SECRET\",\"caveats\":[]}\n"
                "{\"kind\":\"case\",\"id\":\"C2\",\"opened\":\"2024-05-01T09:00:00Z\",\"closed\":null,"
                "\"area\":\"CW\",\"officers\":[\"O3\",\"O5\"],\"subjects\":[\"P1\"],\"records\":[\"R4\",\"R5\"]}\n";
            CHECK(update_ok(g, upd, 3));
        } else {
            uint64_t v = 0;
            CHECK_OK(cu_gateway_policies_replace(g, phase == 3 ? pack2 : pack, phase == 3 ? plen + sizeof extra - 1 : plen,
                                                 "policies", NOW, &v));
            CHECK(g->pack->dm_ok);
        }
        for (int i = 0; i < 1500; i++) {
            char off[16], rec[16], kase[16];
            cu_gateway_request r = memo_request(&x, off, rec, kase);
            bool memo_first = i & 1;
            cu_gateway_decision d1, d2;
            g->dm_off = !memo_first;
            CHECK_OK(cu_gateway_decide(g, &r, &d1));
            keep_decision(&d1, outcome, 8000);
            size_t l1 = log.last_len;
            memcpy(first, log.last, l1);
            g->dm_off = memo_first;
            CHECK_OK(cu_gateway_decide(g, &r, &d2));
            /* a third decision with the memo, now surely warm for this request */
            cu_gateway_decision d3;
            g->dm_off = false;
            CHECK_OK(cu_gateway_decide(g, &r, &d3));
            if (!entry_canonical(&log, again)) {
                if (noncanon++ < 5)
                    fprintf(stderr, "phase %d request %d: the entry is not in the canonical encoding\n", phase, i);
            }
            if (!same_decision(&d1, &d2) || !same_decision(&d2, &d3) || l1 != log.last_len ||
                memcmp(first, log.last, l1) != 0) {
                if (differ++ < 5)
                    fprintf(stderr, "phase %d request %d (%s %s %s case %s purpose %s): the memo decides otherwise\n",
                            phase, i, r.officer, r.action, r.record ? r.record : r.system,
                            r.case_id ? r.case_id : "-", r.purpose);
            }
            allowed += d2.outcome == CU_GW_ALLOW;
            bga += d2.outcome == CU_GW_BREAK_GLASS_AVAILABLE;
            denied += d2.outcome == CU_GW_DENY;
        }
    }
    gw_dm_counts(gw_dm_thread(), &h1, &m1);
    g->dm_off = false;
    /* the officers' classes: units of one kind alike, of two kinds apart */
    gw_snap *s = gw_acquire(g);
    uint32_t o1, o2, o3;
    CHECK(s->off_class != NULL);
    CHECK(update_ok(g,
                    "{\"kind\":\"officer\",\"id\":\"Q1\",\"role\":\"PC\",\"unit\":\"PNCB-1\",\"area\":\"CW\","
                    "\"vetting\":{\"level\":\"RV\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"},"
                    "\"shift\":\"days\",\"start\":\"2010-01-01\",\"end\":null,\"relations\":[]}\n"
                    "{\"kind\":\"officer\",\"id\":\"Q2\",\"role\":\"PC\",\"unit\":\"PNCB-77\",\"area\":\"CW\","
                    "\"vetting\":{\"level\":\"RV\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"},"
                    "\"shift\":\"days\",\"start\":\"2010-01-01\",\"end\":null,\"relations\":[]}\n"
                    "{\"kind\":\"officer\",\"id\":\"Q3\",\"role\":\"PC\",\"unit\":\"DBS-77\",\"area\":\"CW\","
                    "\"vetting\":{\"level\":\"RV\",\"granted\":\"2020-01-01\",\"expires\":\"2030-01-01\"},"
                    "\"shift\":\"days\",\"start\":\"2010-01-01\",\"end\":null,\"relations\":[]}\n",
                    3));
    gw_snap_release(s);
    s = gw_acquire(g);
    if (s->off_class && gw_find(s->st, GW_OFFICER, "Q1", 2, &o1) && gw_find(s->st, GW_OFFICER, "Q2", 2, &o2) &&
        gw_find(s->st, GW_OFFICER, "Q3", 2, &o3)) {
        CHECK_INT(s->off_class[o1], s->off_class[o2]);
        CHECK(s->off_class[o1] != s->off_class[o3]);
    } else {
        CHECK(!"officers Q1-Q3 and their classes");
    }
    gw_snap_release(s);
    fprintf(stderr, "memo: %d allowed, %d break-glass-available, %d denied; %llu hits, %llu misses\n", allowed, bga,
            denied, (unsigned long long)(h1 - h0), (unsigned long long)(m1 - m0));
    CHECK_INT(differ, 0);
    CHECK_INT(noncanon, 0);
    CHECK(allowed > 100);
    CHECK(bga > 30);
    CHECK(denied > 1000);
    /* most record requests were answered by the memo, not all */
    CHECK(h1 - h0 > 3000);
    CHECK(m1 - m0 > 500);
done:
    cu_free(pack);
    cu_free(pack2);
    cu_free(first);
    cu_free(again);
    cu_free(outcome);
    cu_gateway_free(g);
}

/* The entry written in place keeps the bounded join of the deciding
 * policies' ids (4096 bytes: ids are taken while they fit) and the
 * canonical encoding: 16 forbids of 300-byte ids, 13 of them fit. */
TEST(decision_entry_in_place)
{
    char *pack = cu_malloc(16 * 400), *want = cu_malloc(4096);
    uint8_t *again = cu_malloc(CU_LEDGER_ENTRY_MAX);
    struct memlog log = {0};
    cu_gateway *g = NULL;
    if (!pack || !want || !again)
        goto done;
    size_t n = 0, wn = 0;
    for (int i = 0; i < 16; i++) {
        char id[301];
        memset(id, 'a' + i, 297);
        snprintf(id + 297, 4, "%03d", i);
        n += (size_t)snprintf(pack + n, 400, "@id(\"%s\") forbid (principal, action, resource);\n", id);
        if (i < 13)
            wn += (size_t)snprintf(want + wn, 4096 - wn, "%s%s", i ? "\n" : "", id);
    }
    cu_gateway_opts o = {.policy_text = pack, .policy_len = n,
                         .audit = {.append = mem_append, .size = mem_size, .ud = &log}};
    CHECK_OK(cu_gateway_new(&o, &g));
    if (!g)
        goto done;
    CHECK_OK(cu_gateway_reference_load(g, REF));
    for (int memo = 0; memo < 3; memo++) {
        g->dm_off = memo == 0;
        cu_gateway_request r = req("PC1", "view", "R1", "C1");
        r.justification = memo == 2 ? "urgent" : NULL;
        cu_gateway_decision d;
        CHECK_OK(cu_gateway_decide(g, &r, &d));
        CHECK_INT(d.outcome, CU_GW_DENY);
        CHECK_INT(d.n_policies, 16);
        CHECK(field_is(&log, CU_GW_F_POLICIES, want, wn));
        CHECK_INT(wn, 13 * 300 + 12);
        CHECK(field_str(&log, CU_GW_F_OFFICER, "PC1"));
        CHECK(field_str(&log, CU_GW_F_SYSTEM, "PNC"));
        CHECK(memo < 2 ? field_is(&log, CU_GW_F_JUSTIFICATION, NULL, 0) : field_str(&log, CU_GW_F_JUSTIFICATION, "urgent"));
        CHECK(entry_canonical(&log, again));
    }
done:
    cu_gateway_free(g);
    cu_free(pack);
    cu_free(want);
    cu_free(again);
}

/* A pack the memo cannot be exact for is decided without it: a @reason
 * placeholder (the officer's id in the answer), an officer named. */
TEST(decision_memo_refused_by_packs_that_see_ids)
{
    static const char *const packs[] = {
        "@id(\"p\") @reason(\"{principal} may view\") permit (principal, action, resource);",
        "@id(\"p\") permit (principal == Officer::\"PC1\", action, resource);",
        "@id(\"p\") permit (principal, action, resource) when { context.case.officers.contains(Officer::\"PC1\") };",
    };
    for (size_t i = 0; i < sizeof packs / sizeof *packs; i++) {
        struct memlog log = {0};
        cu_gateway *g = NULL;
        cu_gateway_opts o = {.policy_text = packs[i], .policy_len = strlen(packs[i]),
                             .audit = {.append = mem_append, .size = mem_size, .ud = &log}};
        CHECK_OK(cu_gateway_new(&o, &g));
        if (!g)
            continue;
        CHECK(!g->pack->dm_ok);
        CHECK_OK(cu_gateway_reference_load(g, REF));
        uint64_t h0, m0, h1, m1;
        gw_dm_counts(gw_dm_thread(), &h0, &m0);
        cu_gateway_decision d;
        for (int k = 0; k < 3; k++) {
            cu_gateway_request r = req(k == 2 ? "PC2" : "PC1", "view", "R1", "C1");
            CHECK_OK(cu_gateway_decide(g, &r, &d));
            CHECK_INT(d.outcome, i == 1 && k == 2 ? CU_GW_DENY : CU_GW_ALLOW);
        }
        gw_dm_counts(gw_dm_thread(), &h1, &m1);
        CHECK_INT(h1 - h0, 0);
        CHECK_INT(m1 - m0, 0);
        cu_gateway_free(g);
    }
}

struct failing_decide {
    cu_gateway *g;
    uint64_t n;
    cu_rc rc;
    cu_gateway_decision d;
};

static void *decide_failing(void *p)
{
    struct failing_decide *f = p;
    cu_gateway_request r = req("PC1", "view", "R1", "C1");
    cu_alloc_fail_at(f->n, false);
    f->rc = cu_gateway_decide(f->g, &r, &f->d);
    cu_alloc_fail_at(0, false);
    if (f->rc == CU_OK) /* the thread's memo now made (or not): a second decision */
        f->rc = cu_gateway_decide(f->g, &r, &f->d);
    return NULL;
}

/* Allocation failures around the memo: a thread whose memo cannot be made
 * (its first decision's nth allocation fails) decides without it, and a
 * snapshot whose officer classes cannot be made keys officers by their
 * attributes; the decisions are the general path's either way. */
TEST(decision_memo_under_allocation_failures)
{
    struct memlog log = {0};
    cu_gateway *g = make(&log);
    if (!g)
        return;
    cu_gateway_request r = req("PC1", "view", "R1", "C1");
    cu_gateway_decision want;
    g->dm_off = true;
    CHECK_OK(cu_gateway_decide(g, &r, &want));
    g->dm_off = false;
    CHECK_INT(want.outcome, CU_GW_ALLOW);
    int ok = 0;
    for (uint64_t n = 1; n <= 8; n++) {
        struct failing_decide f = {.g = g, .n = n};
        pthread_t th;
        if (pthread_create(&th, NULL, decide_failing, &f) != 0)
            continue;
        pthread_join(th, NULL);
        CHECK(f.rc == CU_OK || f.rc == CU_ERR_NOMEM);
        if (f.rc == CU_OK) {
            ok++;
            CHECK_INT(f.d.outcome, want.outcome);
            CHECK_INT(f.d.n_policies, want.n_policies);
        }
    }
    CHECK(ok >= 3); /* the memo's three allocations, at least, fail without failing the decision */
    /* a reference update whose nth allocation fails: refused, or published
     * (perhaps without officer classes) and deciding as before */
    static const char upd[] = "{\"kind\":\"person\",\"id\":\"PNEW\",\"area\":\"CW\",\"flags\":[]}\n";
    int published = 0;
    for (uint64_t n = 1; n <= 400; n += 7) {
        size_t applied = 0;
        uint64_t v = 0;
        cu_alloc_fail_at(n, false);
        cu_rc rc = cu_gateway_reference_update(g, upd, strlen(upd), "upd", NULL, &applied, &v);
        cu_alloc_fail_at(0, false);
        if (rc != CU_OK)
            continue;
        published++;
        cu_gateway_decision d;
        CHECK_OK(cu_gateway_decide(g, &r, &d));
        CHECK_INT(d.outcome, want.outcome);
        CHECK_INT(d.n_policies, want.n_policies);
    }
    CHECK(published > 0);
    cu_gateway_free(g);
}

/* The memo tells people and links apart: records alike but for their
 * subjects, one naming a person the officer declared a link to
 * (declared-relation), one protected record naming someone its case does
 * not (protected-person), and one the case does not link
 * (case-not-linked), each decided after its twin has filled the memo: as
 * the general path decides, and not as the twin (so a key without the
 * people's regions or the link fails here). */
TEST(decision_memo_tells_people_apart)
{
    /* an OFFICIAL crime record on RMS naming the people given */
#define RMS_RECORD(id, people)                                                                          \
    "{\"kind\":\"record\",\"id\":\"" id "\",\"type\":\"crime\",\"system\":\"RMS\",\"subjects\":[" people \
    "],\"area\":\"CW\",\"classification\":\"OFFICIAL\",\"caveats\":[]}\n"
    static const char upd[] =
        RMS_RECORD("RA", "\"P1\"") RMS_RECORD("RB", "\"PEX\"") RMS_RECORD("RE", "\"PPROT\"")
        RMS_RECORD("RF", "\"PPROT\",\"P2\"") RMS_RECORD("RG", "\"P1\"")
        "{\"kind\":\"case\",\"id\":\"CQ\",\"opened\":\"2024-05-01T09:00:00Z\",\"closed\":null,\"area\":\"CW\","
        "\"officers\":[\"PC1\"],\"subjects\":[\"P1\",\"PEX\",\"PPROT\"],\"records\":[\"RA\",\"RB\",\"RE\",\"RF\"]}\n";
    struct memlog log = {0};
#undef RMS_RECORD
    cu_gateway *g = make_updated(&log, upd, 6);
    if (!g)
        return;
    /* and a record the case does not link (case-not-linked) */
    static const char *const pairs[][2] = {{"RA", "RB"}, {"RE", "RF"}, {"RA", "RG"}};
    static const char *const deciding[] = {"declared-relation", "protected-person", "case-not-linked"};
    for (int p = 0; p < 3; p++) {
        cu_gateway_decision twin, memo, general;
        cu_gateway_request a = req("PC1", "view", pairs[p][0], "CQ"), b = req("PC1", "view", pairs[p][1], "CQ");
        g->dm_off = false;
        CHECK_OK(cu_gateway_decide(g, &a, &twin));
        int twin_outcome = twin.outcome;
        CHECK_OK(cu_gateway_decide(g, &b, &memo));
        cu_gateway_decision keep = memo;
        char buf[2000];
        keep_decision(&keep, buf, sizeof buf);
        g->dm_off = true;
        CHECK_OK(cu_gateway_decide(g, &b, &general));
        g->dm_off = false;
        CHECK(same_decision(&keep, &general));
        CHECK_INT(twin_outcome, CU_GW_ALLOW);
        CHECK(general.outcome != CU_GW_ALLOW);
        CHECK(has_policy(&general, deciding[p]));
    }
    cu_gateway_free(g);
}
