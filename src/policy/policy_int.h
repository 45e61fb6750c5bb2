/*
 * Internal types of the policy module: values, entity uids, the entity store,
 * the parsed policy form and the schema.  Shared by the files of src/policy/.
 *
 * Invariants
 * 1. A value never owns memory: strings, set items and record fields point
 *    into an arena (the set's, the store's or the caller's scratch) that
 *    outlives the value.
 * 2. Record fields are sorted by (key length, key bytes) and unique, so that
 *    lookup is a binary search and equality a walk in step.
 * 3. Every uid carries its hash; uid equality is hash, lengths, bytes.
 * 4. Value and expression nesting never exceeds CU_POLICY_MAX_DEPTH: parsers
 *    refuse deeper input, so recursion in the evaluator is bounded.
 */
#ifndef CU_POLICY_INT_H
#define CU_POLICY_INT_H

#include "custos/policy.h"

#include <jansson.h>
#include <string.h>
#include <stdatomic.h>

/* ---------------------------------------------------------------- values */

enum pv_kind { PV_BOOL, PV_LONG, PV_STR, PV_ENTITY, PV_SET, PV_RECORD, PV_DECIMAL, PV_IP, PV_DATETIME, PV_DURATION };

typedef struct puid {
    const char *type;
    const char *id;
    uint32_t tlen, ilen;
    uint64_t hash;
} puid;

typedef struct pip {
    uint8_t v6;     /* 0: IPv4 (addr[12..15]), 1: IPv6 */
    uint8_t prefix; /* prefix length */
    uint8_t addr[16];
} pip;

struct pfield;

typedef struct pval {
    uint8_t kind;
    union {
        bool b;
        int64_t l; /* PV_LONG, PV_DECIMAL (scaled by 10^4), PV_DATETIME (ms since
                      1970-01-01T00:00:00Z, leap seconds not counted), PV_DURATION (ms) */
        struct {
            const char *p;
            uint32_t n;
        } s;
        const puid *e;
        struct {
            const struct pval *v;
            uint32_t n;
        } set;
        struct {
            const struct pfield *f;
            uint32_t n;
        } rec;
        pip ip;
    } u;
} pval;

typedef struct pfield {
    const char *key;
    uint32_t klen;
    pval v;
} pfield;

/* The public opaque value is the internal one. */
struct cu_policy_value {
    pval v;
};

uint64_t pol_hash(const void *p, size_t n, uint64_t seed);
uint64_t pol_uid_hash(const char *t, size_t tl, const char *id, size_t il);
bool pol_uid_eq(const puid *a, const puid *b);
puid *pol_uid_make(cu_arena *a, const char *t, size_t tl, const char *id, size_t il);
/* Keys and strings in policies are short: an inline byte loop beats a call
 * to memcmp on the hot path.  Unsigned byte order, like memcmp. */
static inline bool pol_bytes_eq(const char *a, const char *b, uint32_t n)
{
    if (a == b)
        return true;
    uint64_t x, y;
    uint32_t p, q;
    if (n <= 16) {
        if (n >= 8) { /* first and last 8 bytes (they may overlap) */
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            if (x != y)
                return false;
            memcpy(&x, a + n - 8, 8);
            memcpy(&y, b + n - 8, 8);
            return x == y;
        }
        if (n >= 4) {
            memcpy(&p, a, 4);
            memcpy(&q, b, 4);
            if (p != q)
                return false;
            memcpy(&p, a + n - 4, 4);
            memcpy(&q, b + n - 4, 4);
            return p == q;
        }
        for (uint32_t i = 0; i < n; i++)
            if (a[i] != b[i])
                return false;
        return true;
    }
    while (n >= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return false;
        a += 8;
        b += 8;
        n -= 8;
    }
    for (uint32_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}
static inline int pol_key_cmp(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    if (an != bn)
        return an < bn ? -1 : 1;
    for (uint32_t i = 0; i < an; i++)
        if (a[i] != b[i])
            return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
    return 0;
}
const pval *pol_rec_get(const pval *rec, const char *k, uint32_t kn);
bool pol_val_eq(const pval *a, const pval *b);
/* Deep copy into arena; NULL on no memory. */
bool pol_val_copy(cu_arena *a, const pval *src, pval *dst);
/* Sort fields and reject duplicates (returns false on a duplicate key). */
bool pol_rec_sort(pfield *f, uint32_t n);
/* Extension parsing: false on bad text. */
bool pol_decimal_parse(const char *s, size_t n, int64_t *out);
bool pol_ip_parse(const char *s, size_t n, pip *out);
/* Cedar's datetime extension: datetime("YYYY-MM-DD[Thh:mm:ss[.SSS](Z|+hhmm|-hhmm)]")
 * and duration("[-]1d2h3m4s5ms"), both in milliseconds; false when the text
 * is not of the form or the value does not fit in 64 bits. */
bool pol_datetime_parse(const char *s, size_t n, int64_t *ms);
bool pol_duration_parse(const char *s, size_t n, int64_t *ms);
/* The datetime extension's methods fn (FN_OFFSET .. FN_TO_DAYS) on
 * receiver a and argument b: NULL and *out, or the error: with *bad set,
 * the type *bad should have been; otherwise the text of an overflow. */
const char *pol_datetime_op(int fn, const struct pval *a, const struct pval *b, struct pval *out,
                            const struct pval **bad);
bool pol_ip_in_range(const pip *a, const pip *range);

const char *pol_kind_name(int kind);

/* --------------------------------------------------------------- entities */

struct cu_policy_entity {
    puid uid;
    pfield *attrs;
    uint32_t nattrs, capattrs;
    pfield *tags; /* sorted like attrs */
    uint32_t ntags, captags;
    puid **parents;
    uint32_t nparents, capparents;
    /* Filled by finalize: the uids of all ancestors, sorted by hash. */
    const puid **anc;
    uint32_t nanc;
    uint32_t index;       /* position in the store; UINT32_MAX for a local entity */
    /* cu_policy_entity_memo: the policies the guards on this principal alone
     * rule out (kill) or must evaluate in full (prot) under the set whose
     * gen is memo_gen (0: none; a put clears it). */
    uint64_t memo_gen;
    const uint64_t *memo_kill, *memo_prot;
    const uint64_t *memo_cand; /* the scope index's candidates for it as principal */
    /* ... and the set's comparisons of one of its attributes with the
     * context's time slot (set->tc_ctx: `context.now >= principal.end`),
     * decided per interval of that slot's value: memo_tc holds the distinct
     * thresholds (its Long attributes), sorted, memo_tc_kill the policies
     * ruled out in each of the 2 * memo_ntc + 1 intervals (below the first,
     * equal to it, between it and the next, ...); NULL: none memoised */
    const int64_t *memo_tc;
    const uint64_t *memo_tc_kill;
    uint32_t memo_ntc;
    uint8_t memo_var;     /* the memo is for this entity as VAR_PRINCIPAL or VAR_ACTION */
    bool attrs_sorted;
    bool local;           /* built with cu_policy_entity_make: not in any store */
    bool sealed;          /* local: ancestors computed */
};

struct cu_policy_entities {
    cu_arena *arena;
    struct cu_policy_entity **slots; /* open addressing by uid hash */
    size_t cap, count;
    struct cu_policy_entity **all; /* insertion order */
    size_t nall, capall;
    bool finalized;
};

/* NULL store: nothing found. */
const struct cu_policy_entity *pol_ent_find(const cu_policy_entities *e, const puid *u);
/* Is u among the ancestors of ent? (binary search on the hash) */
bool pol_anc_has(const struct cu_policy_entity *ent, const puid *u);

/* ---------------------------------------------------------------- schema */

enum st_kind { ST_ANY, ST_BOOL, ST_LONG, ST_STRING, ST_DECIMAL, ST_IP, ST_ENTITY, ST_SET, ST_RECORD, ST_DATETIME, ST_DURATION };

typedef struct stype {
    uint8_t kind;
    const char *name; /* ST_ENTITY: fully qualified type name */
    const struct stype *elem; /* ST_SET */
    const char **keys; /* ST_RECORD */
    const struct stype **types;
    uint32_t nkeys;
} stype;

/* What the schema says of one entity type or action. */
typedef struct sentity {
    const char *name;            /* qualified entity type, or action uid type */
    const char *action_id;       /* actions: the id */
    const stype *attrs;          /* ST_RECORD or NULL */
    const stype *tags;           /* the type of tag values, or NULL */
    const stype *context;        /* actions: context type */
    const char **parent_types;   /* actions: parent uids (type, id) pairs */
    const char **parent_ids;
    uint32_t nparents;
} sentity;

struct cu_policy_schema {
    cu_arena *arena;
    sentity *ents;
    size_t nents;
    sentity *acts;
    size_t nacts;
};

const stype *pol_schema_attrs(const cu_policy_schema *s, const char *type, size_t tl);
const stype *pol_schema_tags(const cu_policy_schema *s, const char *type, size_t tl);
const stype *pol_schema_context(const cu_policy_schema *s, const puid *action);

/* json.c: json_loadb that keeps NUL in strings and object keys. */
json_t *pol_json_loadb(const char *text, size_t len, size_t flags, json_error_t *err);
/* JSON to value, typed by t (NULL: untyped).  depth counts nesting. */
cu_rc pol_json_value(cu_arena *a, const json_t *j, const stype *t, int depth, pval *out) CU_NODISCARD;
cu_rc pol_json_uid(cu_arena *a, const json_t *j, puid **out) CU_NODISCARD;
cu_rc pol_request_from_json(const json_t *j, const cu_policy_schema *schema, cu_arena *a,
                            cu_policy_request **out) CU_NODISCARD;

/* ----------------------------------------------------------- policy form */

enum node_op {
    N_LIT, N_VAR, N_AND, N_OR, N_NOT, N_NEG, N_IF, N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE,
    N_ADD, N_SUB, N_MUL, N_IN, N_HAS, N_LIKE, N_IS, N_ATTR, N_SET, N_RECORD, N_CALL
};

enum var_id { VAR_PRINCIPAL, VAR_ACTION, VAR_RESOURCE, VAR_CONTEXT };

enum fn_id {
    FN_IP, FN_DECIMAL, FN_CONTAINS, FN_CONTAINS_ALL, FN_CONTAINS_ANY, FN_IS_EMPTY,
    FN_IS_IPV4, FN_IS_IPV6, FN_IS_LOOPBACK, FN_IS_MULTICAST, FN_IS_IN_RANGE,
    FN_LT, FN_LE, FN_GT, FN_GE, FN_HAS_TAG, FN_GET_TAG,
    FN_DATETIME, FN_DURATION, FN_OFFSET, FN_DURATION_SINCE, FN_TO_DATE, FN_TO_TIME,
    FN_TO_MILLISECONDS, FN_TO_SECONDS, FN_TO_MINUTES, FN_TO_HOURS, FN_TO_DAYS,
    FN_ARITY /* an extension function called with the wrong number of
                arguments: an error when evaluated, as in Cedar */
};

/* A like pattern: literal segments between stars. */
typedef struct ppat {
    const char **seg;
    uint32_t *seglen;
    uint32_t nseg; /* nseg segments separated by nseg-1 stars */
} ppat;

typedef struct node {
    uint8_t op;
    uint8_t var; /* N_VAR */
    uint8_t fn;  /* N_CALL */
    uint32_t nkids;
    uint32_t start, end; /* source offsets, for explanations */
    struct node **kids;
    pval lit;             /* N_LIT; N_SET/N_RECORD when constant */
    const char *name;     /* N_ATTR / N_HAS attribute, N_IS type */
    uint32_t nlen;
    const char **keys;    /* N_RECORD */
    uint32_t *klens;
    const ppat *pat;      /* N_LIKE */
    const char **path;    /* N_HAS with a path a.b.c: nkids==1, path of npath names */
    uint32_t *plens;
    uint32_t npath;
    bool constant;        /* N_SET / N_RECORD folded into lit */
    const char *text;     /* a permit's top-level conjunct (or unless condition): its folded
                           * source text, made with the set (explanations); else NULL */
    /* N_ATTR: where the attribute was found last time (a hint for entities
     * and contexts of the same shape; checked before use, so a stale or
     * racing value costs only a search).  Relaxed atomics: shared by threads. */
    _Atomic uint8_t hint;
} node;

enum scope_kind { SC_ANY, SC_EQ, SC_IN, SC_IS, SC_IS_IN, SC_IN_SET };

typedef struct pscope {
    uint8_t kind;
    const puid *uid;        /* SC_EQ, SC_IN, SC_IS_IN */
    const puid **uids;      /* SC_IN_SET */
    uint32_t nuids;
    const char *type;       /* SC_IS, SC_IS_IN */
    uint32_t tlen;
} pscope;

typedef struct pcond {
    bool unless;
    node *expr;
    node **conj; /* top-level && operands (for explanations) */
    uint32_t nconj;
} pcond;

/* A guard (guard.c): a test of one slot of the request against literals,
 * with no error once the slot is read.  Kinds: */
enum guard_kind {
    G_TRUTH, /* S            (an error when S is not a bool) */
    G_NOT,   /* !S           (likewise) */
    G_EQ,    /* S == L, L == S */
    G_NE,    /* S != L, L != S */
    G_IN,    /* [L, ...].contains(S) */
    G_LIKE,  /* S like "p*"  (an error when S is not a string) */
    G_HAS,   /* var has a    (never an error) */
    G_CMP,   /* S < T, S <= T, S > T, S >= T, each side a slot or a Long literal
              * (an error when a side is not a Long) */
    G_SETHAS, /* S.contains(V), V a variable (an error when S is not a set) */
    G_PURE,  /* any expression of the principal's own attributes and literals
              * (`principal.role == "analyst" || principal.unit like "INT-*"`):
              * evaluated whole; an error, or a value not a bool, reads as an error */
    G_BOOL,  /* &&, || and ! over guards of the kinds above (`context.bg ||
              * !resource.live || (context has case && ...)`): Cedar's
              * short-circuit over the leaves' values, an erring leaf that is
              * reached an error */
    G_INV    /* V in S, V a variable (an error unless both are entities; S a
              * set of entities is left to the evaluator: read as an error) */
};

/* Guards read on their own, not through a slot's table. */
static inline bool pol_guard_lone(int kind)
{
    return kind == G_HAS || kind == G_CMP || kind == G_SETHAS || kind == G_INV || kind == G_PURE || kind == G_BOOL;
}

/* A guard's slot is var.a, or context.a.b: an attribute of the entity (or
 * record) that context.a holds, read through one more step.  Its root is the
 * var.a node. */
/* s (n bytes) matches the like pattern pt (eval.c). */
bool pol_like(const char *s, size_t n, const ppat *pt);

static inline const node *pol_slot_root(const node *x) { return x->kids[0]->op == N_VAR ? x : x->kids[0]; }

/* A G_BOOL guard's expression, in prefix order: a leaf (arg: its index),
 * ! of the next step, or && / || of the next step and step arg. */
enum { B_LEAF, B_NOT, B_AND, B_OR };
enum { BOOL_FALSE = 0xfe, BOOL_TRUE = 0xff };
typedef struct pbstep {
    uint8_t op;
    uint32_t arg;
} pbstep;

/* S is var.attr (attr != NULL) or the variable itself (G_EQ / G_NE on an
 * entity variable: `action == Action::"logout"`). */
typedef struct pguard {
    uint8_t kind;
    uint8_t var;
    uint8_t var2;        /* G_SETHAS, G_INV: the variable V */
    const node *slot;    /* the N_ATTR node read (its position hint is used), or NULL */
    const char *name;    /* G_HAS: the attribute */
    uint32_t nlen;
    const pval *lit;     /* G_EQ / G_NE: the literal; G_IN: the set */
    const ppat *pat;     /* G_LIKE */
    const node *cmp;     /* G_CMP: the comparison node (kids: the two sides); G_PURE, G_BOOL: the expression */
    const struct pguard *leaf; /* G_BOOL: its leaves (guards of the other kinds) */
    uint32_t nleaf;
    /* G_BOOL, the expression over the leaves as jumps (compiled from its
     * prefix program, guard.c bool_jumps): evaluation starts at leaf bentry; after
     * leaf l, the next leaf is bnext[2 l + v] for its value v (0 false, 1
     * true), or the guard's value when that is BOOL_FALSE / BOOL_TRUE */
    uint8_t bentry;
    uint8_t *bnext;
    const node **leaf_n;       /* the leaves' nodes */
    /* per leaf: a guard of the set with the same value (its own text) or the
     * negated value (`!T`, a comparison turned round), whose value a request
     * computes once for both (-1: none) */
    int32_t *leaf_g;
    uint8_t *leaf_neg;
    const char *text;    /* folded source text: guards with the same text are one */
    uint64_t *need_true; /* policies whose guard prefix needs it true (killed when false) */
    uint64_t *need_false;
    uint64_t *mention;   /* either */
    bool principal;      /* reads the principal only (cu_policy_entity_memo) */
    bool action;         /* reads the action only (cu_policy_entity_memo_action) */
    bool neg;            /* !(test): the value negated (an error stays an error) */
    /* a guard reading context.a or context.a.b (a side of it, for
     * comparisons), when some policy's prefix tests `context has a` before
     * every step on it: the context.a node, and (lone guards) those
     * policies (guard.c, invariant 4); else NULL */
    const node *nest;
    uint64_t *has_before;
} pguard;

/* The guards on one slot, read once a request.  Those comparing it with
 * literals (==, !=, contains) depend only on which literal the value
 * equals (or none): kill[class] holds the policies they rule out for each
 * class, so a slot costs one read, one classification and one OR. */
typedef struct pslot {
    uint8_t var;
    const node *attr;    /* the N_ATTR node (name, hint), or NULL: the variable itself */
    pval *lits;          /* the literals; class nlits: equal to none */
    uint32_t nlits;
    bool table;          /* kill holds (nlits + 1) bitsets */
    uint64_t *kill;
    uint64_t *mention;   /* policies mentioning any guard on the slot */
    uint32_t *other;     /* guards on the slot evaluated one by one (S, !S, like) */
    uint32_t nother;
    /* when every one of those is S or !S: what they rule out for a false and
     * a true value (2 bitsets), and the policies they protect otherwise (the
     * value not a bool: each of them errs); NULL when not */
    uint64_t *bkill;
    uint64_t *bmention;
    bool principal;      /* an attribute of the principal */
    const node *nest;    /* context.a(.b): the context.a node, as pguard's (else NULL) */
    uint64_t *has_before; /* as pguard's, for every step on the slot */
} pslot;

/* One step of a policy's guard prefix. */
typedef struct pstep {
    uint32_t guard;
    bool want;           /* the value that lets the policy go on */
    bool unless;         /* the step is a whole unless condition */
    const node *n;       /* the conjunct (or the unless expression) */
} pstep;

typedef struct policy {
    const char *id;
    bool forbid;
    pscope sc[3]; /* principal, action, resource */
    pcond *conds;
    uint32_t nconds;
    const char **ann_keys, **ann_vals;
    uint32_t nann;
    const char *reason; /* @reason */
    uint32_t line, col;
    /* The guard prefix (guard.c): the first npre top-level conjuncts (an
     * unless condition counts as one) are guards; evaluation that finds
     * them all passed resumes at condition pre_cond, conjunct pre_conj. */
    pstep *pre;
    uint32_t npre, pre_cond, pre_conj;
} policy;

/* A scope index: key (uid or type) -> policy indices. */
typedef struct pidx_ent {
    uint64_t hash;
    const puid *uid;     /* uid key, or NULL for a type key */
    const char *type;
    uint32_t tlen;
    uint32_t *pols;
    uint32_t n, cap;
    uint64_t *bits;      /* the same policies as a bitset, when there are many */
    uint64_t *abits;     /* and then those of them reached through an ancestor (not `==`) */
} pidx_ent;

typedef struct pidx {
    pidx_ent *slots;
    size_t cap, count;
    uint32_t *any; /* policies with no constraint on this part */
    uint32_t nany, capany;
    uint64_t *anybits; /* any as a bitset (NULL when empty) */
} pidx;

#define POL_MAX_NROOT 16

struct cu_policy_set {
    atomic_int refs;
    uint64_t gen;       /* unique among the sets of this process (never 0): names it in memos */
    uint64_t *is_in;    /* the policies with an `is T in E` scope (whose type part the index leaves) */
    cu_arena *arena;
    char *src;
    size_t srclen;
    policy *pols;
    uint32_t n;
    pidx idx[3];
    pguard *guards;     /* guard.c; none when the set is too large for it */
    uint32_t nguards;
    pslot *slots;
    uint32_t nslots;
    uint32_t *lone;     /* the guards read on their own (`has`, comparisons) */
    uint32_t nlone;
    /* Items: the slots, then the lone guards (nslots + nlone <= 1024).
     * pol_items: per policy, iwords words: the items its prefix mentions;
     * item_principal: the items reading the principal alone. */
    uint32_t iwords;
    uint64_t *pol_items;
    uint64_t *item_pols;  /* per item, (n + 63) / 64 words: the policies whose prefix mentions it */
    uint64_t *item_principal;
    uint64_t *item_action;  /* the items reading the action alone */
    /* the items reading the resource's own attributes alone (its slots
     * `resource.a` and `resource has a`), and the names of those
     * attributes (cu_policy_set_resource_attrs) */
    uint64_t *item_resource;
    const char **rattr;
    uint32_t *rattr_len;
    uint32_t nrattr;
    uint8_t guards_mode; /* POL_GUARDS_*: cu_policy_set_guards */
    /* Lone comparisons of a principal attribute with one context attribute
     * (`context.now >= principal.end`, `principal.start <= context.now`),
     * the same context attribute for all (guard.c, tc_build): the memo
     * decides them per interval of its value (cu_policy_entity_memo), so a
     * request reads the context slot once instead of each comparison's two
     * slots.  tc_ctx: that context.a node (NULL: none); item_tc (iwords):
     * those items; tc_mention: the policies mentioning any of them. */
    const node *tc_ctx;
    uint64_t *item_tc;
    uint64_t *tc_mention;
    /* The distinct context.a nodes that items read through (guard.c,
     * nest_build; the first POL_MAX_NROOT of them): item_root gives each
     * item its root's index + 1 (0: none).  When the context has no a, an
     * item on it whose mentioning candidates all test `context has a` first
     * adds nothing (it would only protect the others: nested_absent), so a
     * request leaves it unread (eval.c, guards_rel). */
    const node *nroot[POL_MAX_NROOT];
    uint32_t nnroot;
    uint8_t *item_root;
    /* per item: for a lone `context has a` whose a is one of those roots,
     * its index + 1 (0: none): the request's mask of roots answers it */
    uint8_t *item_has_root;
};

/* When a request uses the guards: by default (AUTO) when its candidates
 * after the scope index are at least POL_GUARDS_MIN_CAND (below that,
 * evaluating them costs less than a pass over the guards). */
enum { POL_GUARDS_AUTO, POL_GUARDS_ON, POL_GUARDS_OFF };
#define POL_GUARDS_MIN_CAND 16

/* Find the guard prefixes of a parsed set and index them (guard.c).
 * False only when out of memory. */
bool pol_guards_build(cu_policy_set *set);
/* Source text of a node, whitespace runs and comments folded, into a. */
char *pol_node_text(cu_arena *a, const char *src, const node *n);

/* Entity store functions reused by JSON parsing. */
cu_rc pol_ents_add_uid(cu_policy_entities *e, const puid *u, struct cu_policy_entity **out) CU_NODISCARD;
cu_rc pol_ent_set_attr(cu_policy_entities *e, struct cu_policy_entity *ent, const char *k,
                       size_t kn, const pval *v) CU_NODISCARD;
cu_rc pol_ent_set_tag(cu_policy_entities *e, struct cu_policy_entity *ent, const char *k,
                      size_t kn, const pval *v) CU_NODISCARD;
cu_rc pol_ent_add_parent(cu_policy_entities *e, struct cu_policy_entity *ent, const puid *p) CU_NODISCARD;

#define POL_MAX_LOCAL 8

struct cu_policy_request {
    cu_arena *arena;
    const puid *uid[3];
    const struct cu_policy_entity *ent[3];          /* set by cu_policy_request_of */
    const struct cu_policy_entity *local[POL_MAX_LOCAL]; /* looked up before the store */
    uint32_t nlocal;
    pfield *ctx;
    uint32_t nctx, capctx;
    bool ctx_sorted;
    uint64_t rdom, rkey; /* cu_policy_request_resource_key (rdom 0: none) */
};

#endif
