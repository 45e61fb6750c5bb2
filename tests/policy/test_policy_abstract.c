/* cu_policy_set_abstract_ok: which packs let a caller memoise decisions by
 * an abstraction of requests (ids seen only as equalities, the dates only
 * through their order): the police pack's kinds of conditions pass (the
 * gateway's test checks the pack itself); every way of seeing an id or a
 * date's value refuses. */
#include "harness.h"

#include "custos/policy.h"

#include <string.h>

static const char *const TYPES[] = {"Officer", "Record", "Case", "Person"};
static const cu_policy_attr_path DATES[] = {
    {CU_POLICY_VAR_CONTEXT, "now", NULL},           {CU_POLICY_VAR_PRINCIPAL, "vetting_granted", NULL},
    {CU_POLICY_VAR_PRINCIPAL, "vetting_expires", NULL}, {CU_POLICY_VAR_PRINCIPAL, "start", NULL},
    {CU_POLICY_VAR_PRINCIPAL, "end", NULL},         {CU_POLICY_VAR_CONTEXT, "case", "opened"},
    {CU_POLICY_VAR_CONTEXT, "case", "closed"}};

static int verdict(const char *text)
{
    cu_policy_set *set = NULL;
    CHECK_OK(cu_policy_set_parse(text, strlen(text), "t", &set));
    if (!set)
        return -1;
    int ok = cu_policy_set_abstract_ok(set, TYPES, 4, DATES, sizeof DATES / sizeof *DATES);
    cu_policy_set_release(set);
    return ok;
}

TEST(abstraction_accepts_and_refuses)
{
    static const struct {
        const char *text;
        int ok;
    } cases[] = {
        {"permit (principal, action, resource) when { context.now < principal.end };", 1},
        {"permit (principal, action, resource) when { context.case.opened <= context.now };", 1},
        {"permit (principal, action, resource is Record in System::\"PNC\") when { resource in context.case };", 1},
        {"permit (principal, action == Action::\"view\", resource) when { context.case.officers.contains(principal) };", 1},
        {"permit (principal, action, resource) when { principal.role == \"PC\" && context has case };", 1},
        /* ids named */
        {"permit (principal == Officer::\"PC1\", action, resource);", 0},
        {"permit (principal in Case::\"C1\", action, resource);", 0},
        {"permit (principal, action, resource == Record::\"R1\");", 0},
        {"permit (principal, action, resource) when { resource.subjects.contains(Person::\"P1\") };", 0},
        {"permit (principal, action, resource) when { [Person::\"P1\"].containsAny(resource.subjects) };", 0},
        {"permit (principal, action, resource) when { context.case == Case::\"C1\" };", 0},
        {"@reason(\"{resource} is yours\") permit (principal, action, resource);", 0},
        /* a date's value seen otherwise than against another date */
        {"permit (principal, action, resource) when { context.now < 1717243200 };", 0},
        {"permit (principal, action, resource) when { context.now - principal.start > 86400 };", 0},
        {"permit (principal, action, resource) when { (if true then principal.end else 0) > context.now };", 0},
        {"permit (principal, action, resource) when { [principal.end].contains(context.now) };", 0},
        {"permit (principal, action, resource) when { resource.end > context.now };", 0},
        {"permit (principal, action, resource) when { context == {\"now\": 1} };", 0},
        {"permit (principal, action, resource) when { context.case.closed.isEmpty() };", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int v = verdict(cases[i].text);
        if (v != cases[i].ok)
            fprintf(stderr, "case %zu: %s: got %d\n", i, cases[i].text, v);
        CHECK_INT(v, cases[i].ok);
    }
}

/* cu_policy_set_attr_tests: a string attribute read only in tests against
 * literals gets the tests' outcomes per value; read any other way, -1. */
TEST(attribute_tests_per_value)
{
    static const char pack[] =
        "permit (principal, action, resource) when { [\"PC\", \"DC\"].contains(principal.role) };\n"
        "forbid (principal, action, resource) when { principal.unit like \"PNCB-*\" && principal.role != \"DC\" };\n"
        "permit (principal, action, resource) when { principal.role == \"analyst\" || principal.unit == \"INT\" };\n";
    cu_policy_set *set = NULL;
    CHECK_OK(cu_policy_set_parse(pack, strlen(pack), "t", &set));
    if (!set)
        return;
    uint64_t pc[2], dc[2], zz[2], yy[2], an[2], p1[2], p2[2], db[2];
    CHECK_INT(cu_policy_set_attr_tests(set, CU_POLICY_VAR_PRINCIPAL, "role", "PC", 2, pc, 2), 3);
    CHECK_INT(cu_policy_set_attr_tests(set, CU_POLICY_VAR_PRINCIPAL, "role", "DC", 2, dc, 2), 3);
    CHECK_INT(cu_policy_set_attr_tests(set, CU_POLICY_VAR_PRINCIPAL, "role", "ZZ", 2, zz, 2), 3);
    CHECK_INT(cu_policy_set_attr_tests(set, CU_POLICY_VAR_PRINCIPAL, "role", "YY", 2, yy, 2), 3);
    CHECK_INT(cu_policy_set_attr_tests(set, CU_POLICY_VAR_PRINCIPAL, "role", "analyst", 7, an, 2), 3);
    CHECK_INT((long)pc[0], 1 | 2); /* contains, != "DC" */
    CHECK_INT((long)dc[0], 1);
    CHECK_INT((long)zz[0], 2);
    CHECK_INT((long)an[0], 2 | 4);
    CHECK(zz[0] == yy[0] && zz[1] == 0);
    CHECK_INT(cu_policy_set_attr_tests(set, CU_POLICY_VAR_PRINCIPAL, "unit", "PNCB-1", 6, p1, 2), 2);
    CHECK_INT(cu_policy_set_attr_tests(set, CU_POLICY_VAR_PRINCIPAL, "unit", "PNCB-22", 7, p2, 2), 2);
    CHECK_INT(cu_policy_set_attr_tests(set, CU_POLICY_VAR_PRINCIPAL, "unit", "DBS-1", 5, db, 2), 2);
    CHECK(p1[0] == p2[0] && p1[0] != db[0]);
    /* more tests than the words hold */
    CHECK_INT(cu_policy_set_attr_tests(set, CU_POLICY_VAR_PRINCIPAL, "role", "PC", 2, pc, 0), -1);
    cu_policy_set_release(set);
    static const char *const other[] = {
        "permit (principal, action, resource) when { principal.role == resource.role };",
        "permit (principal, action, resource) when { [principal.role].contains(\"PC\") };",
        "permit (principal, action, resource) when { (if true then principal else principal).role == \"PC\" };",
        "permit (principal, action, resource) when { context.role == \"PC\" && principal.role == \"PC\" };",
    };
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        set = NULL;
        CHECK_OK(cu_policy_set_parse(other[i], strlen(other[i]), "t", &set));
        if (set)
            CHECK_INT(cu_policy_set_attr_tests(set, CU_POLICY_VAR_PRINCIPAL, "role", "PC", 2, pc, 2), -1);
        cu_policy_set_release(set);
    }
}
