/*
 * custos policy: a Cedar policy engine (parser, schema reader, entity store,
 * evaluator, authoriser and explanations).
 *
 * Objects and lifetimes
 * - cu_policy_set: an immutable, parsed policy set.  Made by
 *   cu_policy_set_parse; reference counted so that a cu_policy_slot can swap
 *   in a new set while requests still hold the old one.
 * - cu_policy_schema: the parts of a .cedarschema file that direct the
 *   parsing of JSON values (attribute and context types, action groups).
 * - cu_policy_entities: the entity store (uids, attributes, parents).  Built
 *   from Cedar's entity JSON or from C; cu_policy_entities_finalize computes
 *   ancestor sets and must run (again) after any change before evaluation.
 * - cu_policy_value: a Cedar value built in a caller's arena (for contexts
 *   and attributes built from C).
 * - cu_policy_request: principal, action, resource and context, living in a
 *   caller's arena.
 * - cu_policy_answer: the decision, the deciding policy ids, the erroring
 *   policies and, on a deny with no forbid, an explanation.  Everything it
 *   points to lives in the scratch arena given to cu_policy_eval and in the
 *   policy set; it is valid until the arena is reset or the set released.
 *
 * Evaluation allocates nothing from the heap: temporary values come from the
 * caller's scratch arena, which the caller resets per request.  A set, a
 * schema and a finalized entity store may be shared by threads for reading.
 */
#ifndef CUSTOS_POLICY_H
#define CUSTOS_POLICY_H

#include "custos/util.h"

/* Input limits (bytes / levels).  Larger inputs give CU_ERR_TOOBIG. */
#define CU_POLICY_MAX_TEXT (4u << 20)      /* policy text */
#define CU_POLICY_MAX_ENTITIES_JSON (64u << 20)
#define CU_POLICY_MAX_REQUEST_JSON (1u << 20)
#define CU_POLICY_MAX_SCHEMA (4u << 20)
#define CU_POLICY_MAX_DEPTH 64             /* value nesting (JSON, schema types) */
#define CU_POLICY_MAX_EXPR_DEPTH 512       /* expression nesting, operator chains included */
#define CU_POLICY_MAX_POLICIES 100000

typedef struct cu_policy_set cu_policy_set;
typedef struct cu_policy_schema cu_policy_schema;
typedef struct cu_policy_entities cu_policy_entities;
typedef struct cu_policy_entity cu_policy_entity;
typedef struct cu_policy_value cu_policy_value;
typedef struct cu_policy_request cu_policy_request;
typedef struct cu_policy_slot cu_policy_slot;

/* ------------------------------------------------------------ policy sets */

/* Parse policy text.  name is used in error details ("name:LINE:COL: ...").
 * On success *out holds a set with one reference (release it with
 * cu_policy_set_release); on failure *out is untouched and the detail says
 * where.  Ids come from @id("...") annotations, else "policy0", "policy1", ...
 * by position in the text. */
CU_NODISCARD cu_rc cu_policy_set_parse(const char *text, size_t len, const char *name,
                                       cu_policy_set **out);
cu_policy_set *cu_policy_set_ref(cu_policy_set *s);
void cu_policy_set_release(cu_policy_set *s);
size_t cu_policy_set_count(const cu_policy_set *s);
const char *cu_policy_set_id(const cu_policy_set *s, size_t i);
/* The value of annotation key on policy i, or NULL. */
const char *cu_policy_set_annotation(const cu_policy_set *s, size_t i, const char *key);

/* Guard prefixes: a request rules out, a word of policies at a time, those
 * whose leading tests of one request slot against literals
 * (`!context.break_glass`, `["PC", "DC"].contains(principal.role)`,
 * `context has case`, ...) already fail, and resumes the others after those
 * tests; answers, errors and explanations are unchanged.  By default a
 * request uses them when at least 16 policies are left after the scope
 * index.  on: always; off: never, every candidate evaluated in full (for
 * tests and benchmarks; call it before the set is shared). */
void cu_policy_set_guards(cu_policy_set *s, bool on);

/* A holder whose set is replaced atomically: a load that fails to parse
 * keeps the previous set in force.  Thread-safe. */
CU_NODISCARD cu_rc cu_policy_slot_new(cu_policy_slot **out);
void cu_policy_slot_free(cu_policy_slot *slot);
CU_NODISCARD cu_rc cu_policy_slot_load(cu_policy_slot *slot, const char *text, size_t len,
                                       const char *name);
/* The current set with a reference taken (NULL when none was loaded yet). */
cu_policy_set *cu_policy_slot_acquire(cu_policy_slot *slot);

/* ----------------------------------------------------------------- schema */

/* Parse Cedar's human-readable schema (.cedarschema).  Only what types JSON
 * values needs is kept; the schema is not used to validate policies. */
CU_NODISCARD cu_rc cu_policy_schema_parse(const char *text, size_t len, const char *name,
                                          cu_policy_schema **out);
void cu_policy_schema_free(cu_policy_schema *s);

/* ---------------------------------------------------------------- values */

/* Values are immutable once built; they live in the arena given. */
const cu_policy_value *cu_policy_val_bool(cu_arena *a, bool b);
const cu_policy_value *cu_policy_val_long(cu_arena *a, int64_t v);
const cu_policy_value *cu_policy_val_string(cu_arena *a, const char *s, size_t n);
const cu_policy_value *cu_policy_val_entity(cu_arena *a, const char *type, const char *id);
/* Views that do not copy the bytes (they must outlive every use of the
 * value): for values built per request from data the caller keeps. */
const cu_policy_value *cu_policy_val_string_ref(cu_arena *a, const char *s, size_t n);
const cu_policy_value *cu_policy_val_entity_ref(cu_arena *a, const char *type, size_t tlen, const char *id,
                                                size_t ilen);
/* Parse "1.2345" / "10.0.0.0/8"; NULL on bad text (detail set) or no memory. */
const cu_policy_value *cu_policy_val_decimal(cu_arena *a, const char *text);
const cu_policy_value *cu_policy_val_ip(cu_arena *a, const char *text);
const cu_policy_value *cu_policy_val_set(cu_arena *a, const cu_policy_value *const *items, size_t n);
const cu_policy_value *cu_policy_val_record(cu_arena *a, const char *const *keys,
                                            const cu_policy_value *const *vals, size_t n);

/* --------------------------------------------------------------- entities */

CU_NODISCARD cu_rc cu_policy_entities_new(cu_policy_entities **out);
void cu_policy_entities_free(cu_policy_entities *e);
/* Cedar entity JSON (an array of {uid, attrs, parents}); schema may be NULL.
 * With a schema, attribute values are typed by it (a string becomes a
 * decimal or ip where the schema says so, {"type","id"} an entity) and the
 * schema's actions are added with their groups.  The store is finalized. */
CU_NODISCARD cu_rc cu_policy_entities_parse_json(const char *text, size_t len,
                                                 const cu_policy_schema *schema,
                                                 cu_policy_entities **out);
/* Add (or find) an entity.  The returned handle stays valid for the life of
 * the store. */
CU_NODISCARD cu_rc cu_policy_entities_add(cu_policy_entities *e, const char *type, const char *id,
                                          cu_policy_entity **out);
/* Set an attribute (the value is copied into the store). */
CU_NODISCARD cu_rc cu_policy_entity_set_attr(cu_policy_entities *e, cu_policy_entity *ent,
                                             const char *name, const cu_policy_value *v);
/* Set a tag (Cedar's entity tags, read by hasTag/getTag; value copied). */
CU_NODISCARD cu_rc cu_policy_entity_set_tag(cu_policy_entities *e, cu_policy_entity *ent,
                                            const char *key, const cu_policy_value *v);
CU_NODISCARD cu_rc cu_policy_entity_add_parent(cu_policy_entities *e, cu_policy_entity *ent,
                                               const char *type, const char *id);
/* Compute ancestor sets.  Needed after changes, before cu_policy_eval. */
CU_NODISCARD cu_rc cu_policy_entities_finalize(cu_policy_entities *e);
size_t cu_policy_entities_count(const cu_policy_entities *e);

/* ------------------------------------------------- request-local entities */

/* An entity outside any store, made whole in arena a (a scratch arena for
 * one request, or a longer-lived one for entities the caller keeps built):
 * room for max_attrs attributes and max_parents parents.  type and id are
 * referenced, not copied; so are attribute keys and values and parent
 * uids: all must outlive the entity.  NULL when a is full.
 * Put attributes (keys in (length, bytes) order is the fast path), add
 * parents, then seal: that computes the ancestors (the parents and, for a
 * parent in store, its ancestors; store may be NULL) in a.  A sealed local
 * entity is read only; attach it to requests (cu_policy_request_of,
 * cu_policy_request_entity), where it is found before the store. */
cu_policy_entity *cu_policy_entity_make(cu_arena *a, const char *type, size_t tlen, const char *id,
                                        size_t ilen, uint32_t max_attrs, uint32_t max_parents);
CU_NODISCARD cu_rc cu_policy_entity_put(cu_policy_entity *ent, const char *key, const cu_policy_value *v);
/* All the attributes at once, for entities built per request: n keys of
 * klens bytes, in (length, bytes) order and distinct (CU_ERR_INVAL
 * otherwise), replacing any put before; CU_ERR_TOOBIG over max_attrs. */
CU_NODISCARD cu_rc cu_policy_entity_put_all(cu_policy_entity *ent, const char *const *keys, const uint32_t *klens,
                                            const cu_policy_value *const *vals, size_t n);
CU_NODISCARD cu_rc cu_policy_entity_put_parent(cu_policy_entity *ent, const cu_policy_value *parent);
CU_NODISCARD cu_rc cu_policy_entity_seal(cu_policy_entity *ent, const cu_policy_entities *store, cu_arena *a);
/* Memoise, in a sealed local entity that will be a principal under set,
 * what depends on the principal alone: the principal's part of the set's
 * scope index, and what the set's guards on the principal decide (its
 * attributes against literals: `principal.role == "PC"`,
 * `principal.unit like "MIT-*"`, ...).  Requests with it as principal then
 * take those from the entity.  The memo is the entity's: one made for
 * another set is ignored, and a put, a new parent or a new seal drops it, so
 * an entity rebuilt from new reference data answers from its new data.
 * It also decides the set's comparisons of principal attributes with one
 * context attribute (`context.now >= principal.end`) for every interval of
 * the context value between the principal's values, so a request reads
 * that context value once.  Answers are the same with or without it.
 * Three bitsets per entity in a (one word per 64 policies each), and per
 * such interval one more. */
CU_NODISCARD cu_rc cu_policy_entity_memo(cu_policy_entity *ent, const cu_policy_set *set, cu_arena *a);
/* The same for an entity that will be the action (`action == Action::"x"`,
 * the action's part of the scope index); it replaces a principal memo of
 * the entity (and vice versa). */
CU_NODISCARD cu_rc cu_policy_entity_memo_action(cu_policy_entity *ent, const cu_policy_set *set, cu_arena *a);
/* A hint: start reading what a request will read of ent's memo (its
 * bitsets, which live apart from the entity), once ent itself is in cache. */
void cu_policy_entity_prefetch_memo(const cu_policy_entity *ent);
/* The names of the resource attributes that the set's guards read of the
 * resource alone (`resource.classification == "SECRET"`, `resource.live`,
 * `resource has a`): into names and lens, at most max of them; returns how
 * many there are (0 without guards).  Pointers into the set. */
size_t cu_policy_set_resource_attrs(const cu_policy_set *set, const char **names, uint32_t *lens, size_t max);
/* A class key for the request's resource (domain 0: none): the caller
 * vouches that every request it evaluates against one set with the same
 * nonzero domain and the same key has a resource whose attributes named by
 * cu_policy_set_resource_attrs are the same (the same values, or absent
 * alike); a domain is never reused for another meaning of the keys (e.g.
 * one per version of the caller's reference data).  What the guards on
 * those attributes decide is then computed once per (set, domain, key) and
 * thread and reused (a small cache per thread; sets of at most 128
 * policies).  Answers are the same with or without a key that keeps that
 * promise; a key that breaks it gives wrong answers. */
void cu_policy_request_resource_key(cu_policy_request *req, uint64_t domain, uint64_t key);
/* An attribute path from a request variable: var.a, or var.a.b when b is
 * not NULL (var: CU_POLICY_VAR_*). */
#define CU_POLICY_VAR_PRINCIPAL 0
#define CU_POLICY_VAR_ACTION 1
#define CU_POLICY_VAR_RESOURCE 2
#define CU_POLICY_VAR_CONTEXT 3
typedef struct cu_policy_attr_path {
    uint8_t var;
    const char *a, *b;
} cu_policy_attr_path;
/* May a caller memoise the set's answers by an abstraction of requests?
 * True when no scope or condition names an entity of one of the types
 * (so ids are seen only as equalities between entities), no @reason has
 * a placeholder, the context is never read whole, and every read of an
 * attribute named like one of the longs is exactly one of those paths and
 * an operand of a comparison (<, <=, >, >=, ==, !=) whose other operand is
 * one of them too (so those values are seen only through their order).
 * Then two requests that differ only by the ids of such entities (with the
 * same equalities among them, the same attributes and parents) and by
 * those Longs (in the same order) get the same answer, apart from the text
 * of evaluation errors: memoise only answers without errors.  Syntactic
 * and conservative: any other use gives false. */
bool cu_policy_set_abstract_ok(const cu_policy_set *set, const char *const *types, size_t ntypes,
                               const cu_policy_attr_path *longs, size_t nlongs);
/* How the set sees a string attribute var.a: when every read of an
 * attribute of that name in its conditions is var.a itself as the operand
 * of a test against literals (`== "PC"`, `!= "PC"`, `like "PNCB-*"`,
 * `["PC", "DC"].contains(var.a)`), the outcomes of those tests for the
 * value v (vn bytes) as bits in out (words words, bit i: the i-th test in
 * set order) and the number of tests; -1 otherwise or beyond 64 * words
 * tests.  Two values with the same bits are alike to every answer of the
 * set (a caller may key a memo on them instead of the value). */
long cu_policy_set_attr_tests(const cu_policy_set *set, uint8_t var, const char *a, const char *v, size_t vn,
                              uint64_t *out, size_t words);
/* The same with the tests found once, for many values: NULL when the set
 * reads var.a otherwise (or out of memory); run gives the bits of a value
 * (-1 beyond 64 * words tests).  Freed with _free, before the set. */
typedef struct cu_policy_attr_tests cu_policy_attr_tests;
cu_policy_attr_tests *cu_policy_attr_tests_new(const cu_policy_set *set, uint8_t var, const char *a);
long cu_policy_attr_tests_run(const cu_policy_attr_tests *t, const char *v, size_t vn, uint64_t *out, size_t words);
void cu_policy_attr_tests_free(cu_policy_attr_tests *t);
/* The entity's uid as a value (allocated in a; it points into ent). */
const cu_policy_value *cu_policy_entity_value(cu_arena *a, const cu_policy_entity *ent);
const char *cu_policy_entity_id(const cu_policy_entity *ent);

/* --------------------------------------------------------------- requests */

/* A request built in arena a (a scratch arena works). */
cu_policy_request *cu_policy_request_new(cu_arena *a, const char *ptype, const char *pid,
                                         const char *atype, const char *aid,
                                         const char *rtype, const char *rid);
/* A request whose principal, action and resource are the entities given
 * (sealed local entities, or entities of the store the request will be
 * evaluated with); nothing is copied or looked up.  NULL when a is full or
 * a local entity is not sealed. */
cu_policy_request *cu_policy_request_of(cu_arena *a, const cu_policy_entity *principal,
                                        const cu_policy_entity *action, const cu_policy_entity *resource);
/* Attach a sealed local entity (at most 8 a request), e.g. the case named
 * in the context: it is found before the store. */
CU_NODISCARD cu_rc cu_policy_request_entity(cu_policy_request *r, const cu_policy_entity *ent);
/* Add a context field (the value is referenced, not copied). */
CU_NODISCARD cu_rc cu_policy_request_ctx(cu_policy_request *r, const char *key,
                                         const cu_policy_value *v);
/* The whole context at once, for requests built per decision: n keys of
 * klens bytes in (length, bytes) order and distinct (CU_ERR_INVAL
 * otherwise), replacing any context set before; later puts may follow. */
CU_NODISCARD cu_rc cu_policy_request_ctx_all(cu_policy_request *r, const char *const *keys, const uint32_t *klens,
                                             const cu_policy_value *const *vals, size_t n);
/* Parse a request JSON object {"principal","action","resource","context"}
 * (uids as {"type","id"} or "Type::\"id\"").  schema may be NULL. */
CU_NODISCARD cu_rc cu_policy_request_parse_json(const char *text, size_t len,
                                                const cu_policy_schema *schema, cu_arena *a,
                                                cu_policy_request **out);

/* ------------------------------------------------------------- evaluation */

typedef struct cu_policy_error {
    const char *policy_id;
    const char *message;
} cu_policy_error;

typedef struct cu_policy_answer {
    bool allow;
    size_t n_reasons;
    const char *const *reasons;      /* ids of the deciding policies, in set order */
    const uint32_t *reason_index;    /* and their positions in the set (cu_policy_set_id) */
    size_t n_errors;
    const cu_policy_error *errors;   /* policies skipped because evaluation failed */
    /* On a deny with no satisfied forbid: the nearest permit and the first
     * condition it failed (NULLs when there is none to name). */
    const char *explain_policy;
    const char *explain_condition;   /* source text of the failing condition */
    const char *explanation;         /* a sentence for a person */
} cu_policy_answer;

/* Authorise one request.  entities must be finalized (NULL: no store, only
 * the request's local entities).  Temporary values and
 * everything the answer points to come from scratch.  Returns CU_OK with a
 * decision, or CU_ERR_NOMEM when the scratch arena is too small,
 * CU_ERR_STATE when the store is not finalized. */
CU_NODISCARD cu_rc cu_policy_eval(const cu_policy_set *set, const cu_policy_entities *entities,
                                  const cu_policy_request *req, cu_arena *scratch,
                                  cu_policy_answer *answer);

/* Two answers in one pass.  A split names a Bool context attribute (e.g. a
 * break-glass flag); cu_policy_eval_split authorises the request as if that
 * attribute were false (ans[0]) and true (ans[1]).  A policy whose
 * conditions never read the attribute (nor the context as a whole) is
 * evaluated once and counts for both; the others are evaluated twice.
 * The answers are exactly those of two cu_policy_eval calls.  The request's
 * context must hold the attribute (its value is ignored): CU_ERR_INVAL
 * otherwise, or when split was made for another set.  A split is immutable
 * and may be shared by threads. */
typedef struct cu_policy_split cu_policy_split;
CU_NODISCARD cu_rc cu_policy_split_new(const cu_policy_set *set, const char *key, cu_policy_split **out);
void cu_policy_split_free(cu_policy_split *s);
/* Does policy i read the split's attribute? */
bool cu_policy_split_reads(const cu_policy_split *s, size_t i);
/* flags: CU_POLICY_SPLIT_LAZY (what a tiered authoriser wants): the second
 * answer only when the first is not an allow without errors (else ans[1]
 * is left empty: a deny with nothing), and without an explanation; the
 * policies that do not read the attribute are still evaluated once. */
#define CU_POLICY_SPLIT_LAZY 1u
CU_NODISCARD cu_rc cu_policy_eval_split(const cu_policy_set *set, const cu_policy_split *split,
                                        const cu_policy_entities *entities, const cu_policy_request *req,
                                        cu_arena *scratch, unsigned flags, cu_policy_answer ans[2]);

/* Append the answer as one JSON object:
 * {"decision":"allow"|"deny","reasons":[..],"errors":[{"policy":..,"message":..}],
 *  "explanation":null|{"policy":..,"condition":..,"text":..}} */
CU_NODISCARD cu_rc cu_policy_answer_json(const cu_policy_answer *a, cu_buf *out);

/* --------------------------------------------------- Cedar test files */

/* Run a Cedar integration-test file (JSON with policies, entities, schema
 * and requests with the expected decision, reasons and errors).  Paths in
 * it are relative to base_dir (NULL: the current directory).  One line per
 * failing request is appended to report.  Counts are added to *passed and
 * *failed.  Returns an error when the file cannot be used: if it was read
 * but its policies or entities were not, its requests are counted failed;
 * if it could not be read at all, nothing is counted (the caller counts
 * the file). */
CU_NODISCARD cu_rc cu_policy_testfile_run(const char *path, const char *base_dir, cu_buf *report,
                                          size_t *passed, size_t *failed);

#endif /* CUSTOS_POLICY_H */
