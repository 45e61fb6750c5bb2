/* The vetting register driving the gateway live, through the adapter custosd
 * runs (src/custosd/gov_wiring.h): the real police pack, the gateway's
 * fixture force, decisions made with `now` passed in.  A suspension denies
 * the next decision; an expiry in the register denies at the second it
 * passes although the reference data still shows the clearance; break-glass
 * does not lift either; an entitlement the register withdraws denies the
 * system; a high-scored alert opens a restricting review. */
#include "harness.h"

#include "custos/gateway.h"
#include "custos/governance.h"
#include "custos/ledger.h"

#include "custosd/gov_wiring.h"

#include <stdlib.h>
#include <string.h>

#define NOW INT64_C(1717243200) /* 2024-06-01T12:00:00Z */
#define REF "tests/gateway/data/force.jsonl"

static uint64_t nlog;
static cu_rc mem_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    (void)ud;
    (void)e;
    (void)len;
    *index = nlog++;
    return CU_OK;
}
static uint64_t mem_size(void *ud)
{
    (void)ud;
    return nlog;
}

struct rig {
    cu_ledger *l;
    cu_gov *gov;
    cu_gateway *gw;
};

static bool rig_open(struct rig *r)
{
    memset(r, 0, sizeof *r);
    char ldir[600], db[600], *sk = NULL, *vk = NULL;
    snprintf(ldir, sizeof ldir, "%s/ledger", cu_test_tmpdir());
    snprintf(db, sizeof db, "%s/governance.db", cu_test_tmpdir());
    CHECK_OK(cu_note_keygen("test.example/gov", &sk, &vk));
    CHECK_OK(cu_ledger_init(ldir, "test.example/gov", sk));
    cu_ledger_opts lo = {.signer_key = sk};
    CHECK_OK(cu_ledger_open(ldir, &lo, &r->l));
    cu_free(sk);
    cu_free(vk);
    cu_gov_audit a = cu_gov_audit_ledger(r->l);
    CHECK_OK(cu_gov_open(db, &a, &r->gov));
    char *pack = NULL;
    size_t len = 0;
    CHECK_OK(cu_gateway_read_pack("policies", &pack, &len));
    if (!pack || !r->gov)
        return false;
    cu_gateway_opts o = {.policy_text = pack, .policy_len = len, .policy_name = "policies",
                         .audit = {.append = mem_append, .size = mem_size}, .live = cu_gov_gateway_live, .live_ud = r->gov};
    CHECK_OK(cu_gateway_new(&o, &r->gw));
    cu_free(pack);
    if (!r->gw)
        return false;
    CHECK_OK(cu_gateway_reference_load(r->gw, REF));
    return true;
}

static void rig_close(struct rig *r)
{
    cu_gateway_free(r->gw);
    cu_gov_close(r->gov);
    cu_ledger_close(r->l);
}

static bool has_policy(const cu_gateway_decision *d, const char *id)
{
    for (size_t i = 0; i < d->n_policies; i++)
        if (strcmp(d->policies[i], id) == 0)
            return true;
    return false;
}

static cu_gateway_decision decide(cu_gateway *gw, const char *officer, const char *record, int64_t now,
                                  const char *justification)
{
    cu_gateway_request r = {.caller = "PNC", .officer = officer, .action = "view", .record = record,
                            .purpose = "investigation", .case_id = "C1", .justification = justification, .now = now};
    cu_gateway_decision d;
    CHECK_OK(cu_gateway_decide(gw, &r, &d));
    return d;
}

TEST(register_drives_the_gateway_live)
{
    struct rig r;
    if (!rig_open(&r)) {
        rig_close(&r);
        return;
    }
    /* the register knows nothing yet: the reference data decides */
    cu_gateway_decision d = decide(r.gw, "PC1", "R1", NOW, NULL);
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    /* the reference file is the register's starting point */
    size_t n = 0;
    CHECK_OK(cu_gov_import(r.gov, "FVU1", REF, NOW - 86400, &n));
    CHECK_INT(n, 6); /* six officers */
    d = decide(r.gw, "PC1", "R1", NOW + 1, NULL);
    CHECK_INT(d.outcome, CU_GW_ALLOW);

    /* suspension: the very next decision is denied, break-glass included */
    CHECK_OK(cu_gov_set_status(r.gov, "FVU1", "PC1", CU_GOV_RV, CU_GOV_SUSPENDED, "under investigation", NOW + 10));
    d = decide(r.gw, "PC1", "R1", NOW + 11, NULL);
    CHECK(d.outcome != CU_GW_ALLOW);
    CHECK(has_policy(&d, "register-vetting-not-in-force"));
    d = decide(r.gw, "PC1", "R1", NOW + 12, "pursuit in progress");
    CHECK(d.outcome != CU_GW_ALLOW && !d.break_glass);
    CHECK_OK(cu_gov_set_status(r.gov, "FVU1", "PC1", CU_GOV_RV, CU_GOV_ACTIVE, "cleared", NOW + 20));
    d = decide(r.gw, "PC1", "R1", NOW + 21, NULL);
    CHECK_INT(d.outcome, CU_GW_ALLOW);

    /* the register shortens the clearance: denied at the second it passes,
     * though the reference data still says 2029 */
    cu_gov_clearance c = {.officer = "PC1", .level = CU_GOV_RV, .granted = NOW - 86400, .expires = NOW + 3600};
    CHECK_OK(cu_gov_grant(r.gov, "FVU1", &c, "renewed for an hour", NOW + 30));
    d = decide(r.gw, "PC1", "R1", NOW + 3599, NULL);
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    d = decide(r.gw, "PC1", "R1", NOW + 3600, NULL);
    CHECK(d.outcome != CU_GW_ALLOW);
    CHECK(has_policy(&d, "register-vetting-not-in-force"));

    /* entitlements: once the register manages them, only what it gives */
    cu_gov_entitlement e = {.officer = "DC1", .system = "RMS", .scope = "force crime records", .purpose = "investigation"};
    int64_t eid = 0;
    CHECK_OK(cu_gov_entitle(r.gov, "DI9", &e, NULL, NOW + 40, &eid));
    d = decide(r.gw, "DC1", "R2", NOW + 41, NULL); /* RMS */
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    d = decide(r.gw, "DC1", "R1", NOW + 42, NULL); /* PNC: not entitled */
    CHECK(d.outcome != CU_GW_ALLOW);
    CHECK(has_policy(&d, "register-not-entitled"));
    CHECK_OK(cu_gov_revoke(r.gov, "DI9", eid, "moved to custody", NOW + 50));
    d = decide(r.gw, "DC1", "R2", NOW + 51, NULL);
    CHECK(has_policy(&d, "register-not-entitled"));

    /* a high score from detection opens a restricting review */
    cu_names *names = NULL;
    CHECK_OK(cu_names_new(&names));
    cu_alert al;
    cu_alert_clear(&al);
    al.num = 17;
    al.score = 0.93;
    al.raised_at = NOW + 60;
    snprintf(al.kind, sizeof al.kind, "protected-person");
    cu_id id = 0;
    CHECK_OK(cu_names_intern(names, CU_K_OFFICER, "PC2", 3, &id));
    cu_alert_add_officer(&al, id);
    cu_alert_add_reason(&al, "viewed a protected person with no case link");
    cu_gov_risk_hook hook = {.gov = r.gov, .names = names, .threshold = 0.8};
    CHECK_OK(cu_gov_on_alert(&hook, &al));
    cu_gov_effective ef;
    cu_gov_effective_get(r.gov, "PC2", NOW + 61, &ef);
    CHECK(ef.withheld);
    CHECK(ef.nrestrictions >= 1 && strstr(ef.restrictions[0], "detection"));
    cu_names_free(names);

    /* the live hook keeps decisions free of heap allocation */
    for (int i = 0; i < 3; i++)
        (void)decide(r.gw, i ? "DC1" : "PC1", i == 2 ? "R2" : "R1", NOW + 100, NULL);
    uint64_t before = cu_alloc_count();
    for (int i = 0; i < 300; i++)
        (void)decide(r.gw, i % 3 ? "DC1" : "PC1", i % 3 == 2 ? "R2" : "R1", NOW + 100 + i, NULL);
    CHECK_INT(cu_alloc_count() - before, 0);
    rig_close(&r);
}
