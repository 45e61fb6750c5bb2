/* Policy engine: request-local entities (built per request outside any
 * store) and split evaluation (one pass answering a request as if a Bool
 * context attribute were false and true), each checked against the plain
 * evaluator over the same data. */
#include "harness.h"

#include "policy/policy_int.h"

#include <stdio.h>
#include <string.h>

static const char POLICIES[] =
    "@id(\"p-normal\") permit (principal is User, action == Action::\"read\", resource in Folder::\"f1\")\n"
    "  when { !context.bg && principal.level >= resource.level };\n"
    "@id(\"p-emergency\") permit (principal is User, action == Action::\"read\", resource)\n"
    "  when { context.bg && [\"ops\", \"sec\"].contains(principal.team) };\n"
    "@id(\"f-level\") forbid (principal, action, resource is Doc)\n"
    "  when { principal.level < resource.level } unless { context.bg };\n"
    "@id(\"f-locked\") forbid (principal, action, resource) when { resource has locked && resource.locked };\n"
    "@id(\"f-whole\") forbid (principal, action, resource) when { context == {\"bg\": true, \"n\": 7} };\n"
    "@id(\"p-err\") permit (principal, action == Action::\"read\", resource) when { context.bg && principal.nope };\n"
    "@id(\"p-team\") permit (principal, action, resource) when { principal.team == \"audit\" && context.n > 0 };\n";

static cu_policy_set *parse_set(void)
{
    cu_policy_set *s = NULL;
    CHECK_OK(cu_policy_set_parse(POLICIES, sizeof POLICIES - 1, "t", &s));
    return s;
}

/* A user and a doc as local entities; the doc's folder f1 sits in the store
 * inside the root folder, so `in` must see the store's ancestors. */
static cu_policy_entity *user(cu_arena *a, const char *id, const char *team, int64_t level)
{
    cu_policy_entity *u = cu_policy_entity_make(a, "User", 4, id, strlen(id), 2, 0);
    if (!u)
        return NULL;
    if (cu_policy_entity_put(u, "team", cu_policy_val_string_ref(a, team, strlen(team))) ||
        cu_policy_entity_put(u, "level", cu_policy_val_long(a, level)) || cu_policy_entity_seal(u, NULL, a))
        return NULL;
    return u;
}

static cu_policy_entity *doc(cu_arena *a, const cu_policy_entities *store, const char *id, int64_t level,
                             bool locked, const char *folder)
{
    cu_policy_entity *d = cu_policy_entity_make(a, "Doc", 3, id, strlen(id), 2, 1);
    if (!d)
        return NULL;
    if (cu_policy_entity_put(d, "level", cu_policy_val_long(a, level)) ||
        (locked && cu_policy_entity_put(d, "locked", cu_policy_val_bool(a, true))))
        return NULL;
    if (folder && cu_policy_entity_put_parent(d, cu_policy_val_entity_ref(a, "Folder", 6, folder, strlen(folder))))
        return NULL;
    return cu_policy_entity_seal(d, store, a) ? NULL : d;
}

static void same_answer(const cu_policy_answer *x, const cu_policy_answer *y, const char *what)
{
    CHECK_MSG(x->allow == y->allow, "%s: decision differs", what);
    CHECK_MSG(x->n_reasons == y->n_reasons, "%s: %zu reasons vs %zu", what, x->n_reasons, y->n_reasons);
    for (size_t i = 0; i < x->n_reasons && i < y->n_reasons; i++)
        CHECK_MSG(strcmp(x->reasons[i], y->reasons[i]) == 0, "%s: reason %s vs %s", what, x->reasons[i], y->reasons[i]);
    CHECK_MSG(x->n_errors == y->n_errors, "%s: %zu errors vs %zu", what, x->n_errors, y->n_errors);
    for (size_t i = 0; i < x->n_errors && i < y->n_errors; i++) {
        CHECK(strcmp(x->errors[i].policy_id, y->errors[i].policy_id) == 0);
        CHECK(strcmp(x->errors[i].message, y->errors[i].message) == 0);
    }
    CHECK_MSG((x->explanation == NULL) == (y->explanation == NULL), "%s: explanation", what);
    if (x->explanation && y->explanation)
        CHECK_STR(x->explanation, y->explanation);
}

TEST(split_matches_two_evaluations)
{
    cu_policy_set *set = parse_set();
    cu_policy_entities *store = NULL;
    CHECK_OK(cu_policy_entities_new(&store));
    cu_policy_entity *f1 = NULL;
    CHECK_OK(cu_policy_entities_add(store, "Folder", "f1", &f1));
    CHECK_OK(cu_policy_entity_add_parent(store, f1, "Folder", "root"));
    CHECK_OK(cu_policy_entities_finalize(store));
    cu_policy_split *split = NULL;
    CHECK_OK(cu_policy_split_new(set, "bg", &split));
    if (!set || !split)
        return;
    /* which policies read bg: every one that names context.bg or the whole context */
    static const bool reads[] = {true, true, true, false, true, true, false};
    for (size_t i = 0; i < cu_policy_set_count(set); i++)
        CHECK_MSG(cu_policy_split_reads(split, i) == reads[i], "policy %zu", i);

    cu_arena *a = cu_arena_new(64 * 1024, 1 << 24);
    const char *teams[] = {"ops", "audit", "dev"};
    const char *folders[] = {"f1", "f2", NULL};
    size_t n = 0;
    for (int t = 0; t < 3; t++)
        for (int64_t ul = 0; ul < 3; ul++)
            for (int64_t dl = 0; dl < 3; dl++)
                for (int f = 0; f < 3; f++)
                    for (int lk = 0; lk < 2; lk++)
                        for (int64_t cn = 0; cn < 8; cn += 7)
                            for (int act = 0; act < 2; act++) {
                                cu_arena_reset(a);
                                cu_policy_entity *u = user(a, "u", teams[t], ul);
                                cu_policy_entity *d = doc(a, store, "d", dl, lk, folders[f]);
                                const char *an = act ? "write" : "read";
                                cu_policy_entity *ac = cu_policy_entity_make(a, "Action", 6, an, strlen(an), 0, 0);
                                CHECK(u && d && ac && !cu_policy_entity_seal(ac, NULL, a));
                                cu_policy_request *r = cu_policy_request_of(a, u, ac, d);
                                CHECK(r != NULL);
                                if (!r)
                                    return;
                                CHECK_OK(cu_policy_request_ctx(r, "n", cu_policy_val_long(a, cn)));
                                CHECK_OK(cu_policy_request_ctx(r, "bg", cu_policy_val_bool(a, true)));
                                cu_policy_answer two[2], one[2], lazy[2];
                                CHECK_OK(cu_policy_eval_split(set, split, store, r, a, 0, two));
                                CHECK_OK(cu_policy_eval_split(set, split, store, r, a, CU_POLICY_SPLIT_LAZY, lazy));
                                for (int v = 0; v < 2; v++) {
                                    CHECK_OK(cu_policy_request_ctx(r, "bg", cu_policy_val_bool(a, v == 1)));
                                    CHECK_OK(cu_policy_eval(set, store, r, a, &one[v]));
                                    char what[96];
                                    snprintf(what, sizeof what, "t%d u%lld d%lld f%d l%d n%lld a%d bg%d", t,
                                             (long long)ul, (long long)dl, f, lk, (long long)cn, act, v);
                                    same_answer(&two[v], &one[v], what);
                                }
                                /* lazy: the first answer whole; the second only after no
                                 * error-free allow, and without its explanation */
                                same_answer(&lazy[0], &one[0], "lazy first");
                                if (one[0].allow && !one[0].n_errors) {
                                    CHECK(!lazy[1].allow && lazy[1].n_reasons == 0 && lazy[1].n_errors == 0);
                                } else {
                                    CHECK(lazy[1].explanation == NULL);
                                    lazy[1].explanation = one[1].explanation;
                                    same_answer(&lazy[1], &one[1], "lazy second");
                                }
                                n++;
                            }
    CHECK_INT(n, 3 * 3 * 3 * 3 * 2 * 2 * 2);
    /* an entity not sealed cannot make a request */
    cu_arena_reset(a);
    cu_policy_entity *u = user(a, "u", "ops", 1), *d = doc(a, store, "d", 1, false, "f1");
    cu_policy_entity *ac = cu_policy_entity_make(a, "Action", 6, "read", 4, 0, 0);
    CHECK(cu_policy_request_of(a, u, ac, d) == NULL);
    /* a context without the split's attribute is refused */
    CHECK_OK(cu_policy_entity_seal(ac, NULL, a));
    cu_policy_request *r = cu_policy_request_of(a, u, ac, d);
    CHECK_OK(cu_policy_request_ctx(r, "n", cu_policy_val_long(a, 1)));
    cu_policy_answer two[2];
    CHECK_RC(cu_policy_eval_split(set, split, store, r, a, 0, two), CU_ERR_INVAL);
    /* nor may a split serve another set */
    cu_policy_set *other = parse_set();
    CHECK_OK(cu_policy_request_ctx(r, "bg", cu_policy_val_bool(a, false)));
    CHECK_RC(cu_policy_eval_split(other, split, store, r, a, 0, two), CU_ERR_INVAL);
    cu_policy_set_release(other);
    cu_arena_free(a);
    cu_policy_split_free(split);
    cu_policy_entities_free(store);
    cu_policy_set_release(set);
}

TEST(local_entities_and_no_allocation)
{
    cu_policy_set *set = parse_set();
    cu_policy_entities *store = NULL;
    CHECK_OK(cu_policy_entities_new(&store));
    cu_policy_entity *f1 = NULL;
    CHECK_OK(cu_policy_entities_add(store, "Folder", "f1", &f1));
    CHECK_OK(cu_policy_entity_add_parent(store, f1, "Folder", "root"));
    CHECK_OK(cu_policy_entities_finalize(store));
    cu_policy_split *split = NULL;
    CHECK_OK(cu_policy_split_new(set, "bg", &split));
    if (!set || !split)
        return;
    cu_arena *a = cu_arena_new(64 * 1024, 1 << 24);
    /* ancestors through the store: d in f1 in root */
    cu_policy_entity *d = doc(a, store, "d", 1, false, "f1");
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_INT(d->nanc, 2);
    CHECK(pol_anc_has(d, &f1->uid));
    CHECK_STR(cu_policy_entity_id(d), "d");
    /* room is fixed when made */
    cu_policy_entity *tiny = cu_policy_entity_make(a, "Doc", 3, "t", 1, 1, 0);
    CHECK_OK(cu_policy_entity_put(tiny, "a", cu_policy_val_long(a, 1)));
    CHECK_OK(cu_policy_entity_put(tiny, "a", cu_policy_val_long(a, 2))); /* replaces */
    CHECK_RC(cu_policy_entity_put(tiny, "b", cu_policy_val_long(a, 1)), CU_ERR_TOOBIG);
    CHECK_RC(cu_policy_entity_put_parent(tiny, cu_policy_val_entity_ref(a, "F", 1, "x", 1)), CU_ERR_TOOBIG);
    /* a stored entity is not a local one */
    CHECK_RC(cu_policy_entity_put(f1, "a", cu_policy_val_long(a, 1)), CU_ERR_INVAL);

    /* an attached entity is found by uid (here: the value of a context attribute) */
    cu_policy_set *s2 = NULL;
    static const char p2[] = "@id(\"x\") permit (principal, action, resource) when { context.boss.team == \"ops\" };";
    CHECK_OK(cu_policy_set_parse(p2, sizeof p2 - 1, "t2", &s2));
    cu_policy_entity *boss = user(a, "boss", "ops", 9), *u = user(a, "u", "dev", 1);
    cu_policy_entity *ac = cu_policy_entity_make(a, "Action", 6, "read", 4, 0, 0);
    CHECK(boss && u && ac && !cu_policy_entity_seal(ac, NULL, a));
    cu_policy_request *r = cu_policy_request_of(a, u, ac, d);
    CHECK_OK(cu_policy_request_ctx(r, "boss", cu_policy_val_entity_ref(a, "User", 4, "boss", 4)));
    cu_policy_answer ans;
    CHECK_OK(cu_policy_eval(s2, NULL, r, a, &ans));
    CHECK(!ans.allow);
    CHECK_INT(ans.n_errors, 1); /* boss does not exist yet */
    CHECK_OK(cu_policy_request_entity(r, boss));
    CHECK_OK(cu_policy_eval(s2, NULL, r, a, &ans));
    CHECK(ans.allow);
    cu_policy_set_release(s2);

    /* per request: build, attach, evaluate both tiers: no heap */
    uint64_t before = cu_alloc_count();
    for (int i = 0; i < 200; i++) {
        cu_arena_reset(a);
        cu_policy_entity *uu = user(a, "u", i % 2 ? "ops" : "dev", i % 3);
        cu_policy_entity *dd = doc(a, store, "d", i % 4, i % 5 == 0, "f1");
        cu_policy_entity *aa = cu_policy_entity_make(a, "Action", 6, "read", 4, 0, 0);
        CHECK(uu && dd && aa && !cu_policy_entity_seal(aa, NULL, a));
        cu_policy_request *rr = cu_policy_request_of(a, uu, aa, dd);
        CHECK(rr != NULL);
        if (!rr)
            break;
        CHECK_OK(cu_policy_request_ctx(rr, "bg", cu_policy_val_bool(a, false)));
        CHECK_OK(cu_policy_request_ctx(rr, "n", cu_policy_val_long(a, 1)));
        cu_policy_answer two[2];
        CHECK_OK(cu_policy_eval_split(set, split, store, rr, a, i % 2 ? CU_POLICY_SPLIT_LAZY : 0, two));
    }
    CHECK_INT(cu_alloc_count() - before, 0);
    cu_arena_free(a);
    cu_policy_split_free(split);
    cu_policy_entities_free(store);
    cu_policy_set_release(set);
}
