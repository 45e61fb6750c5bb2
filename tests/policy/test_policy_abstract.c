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
