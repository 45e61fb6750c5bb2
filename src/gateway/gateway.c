/*
 * The gateway's decisions: one Cedar evaluation (two on a deny, to see
 * whether the emergency tier would allow), then the decision is appended to
 * the audit log, then it is answered.
 *
 * Invariants (see include/custos/gateway.h for the whole list)
 * 1. Fail closed: no answer other than deny leaves this file unless the
 *    audit append for it returned CU_OK.
 * 2. Tiers: a break-glass allow needs a justification and every deciding
 *    policy in the emergency tier.
 * 3. No heap allocation per decision: the request, the context, the answer
 *    and the log entry live in this thread's scratch arena and entry buffer,
 *    made once per thread (the break-glass register grows only on a use).
 * 4. A decision holds the reference snapshot it started with until it ends.
 */
#include "gateway_int.h"

#include "custos/ledger.h"

#include <dirent.h>
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------- thread context */

struct tctx {
    cu_arena *scratch;
    cu_buf entry;   /* the decision as a ledger entry */
    gw_dm *dm;      /* the decision memo (memo.c) */
};

static pthread_key_t tkey;
static pthread_once_t tonce = PTHREAD_ONCE_INIT;

static void tctx_free(void *p)
{
    struct tctx *t = p;
    if (!t)
        return;
    cu_arena_free(t->scratch);
    cu_buf_free(&t->entry);
    gw_dm_free(t->dm);
    cu_free(t);
}

static void tkey_make(void) { (void)pthread_key_create(&tkey, tctx_free); }

static struct tctx *tctx_get(size_t scratch_size)
{
    pthread_once(&tonce, tkey_make);
    struct tctx *t = pthread_getspecific(tkey);
    if (t)
        return t;
    t = cu_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->scratch = cu_arena_new(scratch_size, scratch_size * 4);
    cu_buf_init(&t->entry, 64 * 1024 + 8 * CU_GATEWAY_MAX_JUSTIFICATION);
    t->dm = gw_dm_new(); /* NULL (memory): this thread decides without the memo */
    if (!t->scratch || cu_buf_reserve(&t->entry, 8192) || pthread_setspecific(tkey, t)) {
        tctx_free(t);
        return NULL;
    }
    return t;
}

gw_dm *gw_dm_thread(void)
{
    pthread_once(&tonce, tkey_make);
    struct tctx *t = pthread_getspecific(tkey);
    return t ? t->dm : NULL;
}

static const char *const ACTIONS[] = {"view", "update", "export", "print", "disclose", "search", "login", "logout"};
#define N_RECORD_ACTIONS 5

/* ------------------------------------------------------------- lifetime */

static void pack_locate(const char *dir);

void gw_pack_release(gw_pack *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    cu_policy_split_free(p->split);
    if (p->set)
        cu_policy_set_release(p->set);
    gw_map_free(&p->pol_index);
    cu_arena_free(p->arena);
    cu_free(p->emergency);
    cu_free(p->reason);
    cu_free(p);
}

/* Which record fields the pack's guards on the resource alone read
 * (cu_policy_set_resource_attrs): a record's class key is made of those
 * (build_request).  An attribute that is not one of them (caveats,
 * subjects, a name records do not have): no key. */
static void pack_rk(gw_pack *p)
{
    static const struct {
        const char *name;
        uint8_t bit;
    } fields[] = {{"classification", GW_RK_CLS}, {"type", GW_RK_TYPE}, {"system", GW_RK_SYSTEM},
                  {"area", GW_RK_AREA},          {"live", GW_RK_LIVE}, {"protected", GW_RK_PROT}};
    const char *names[16];
    uint32_t lens[16];
    size_t n = cu_policy_set_resource_attrs(p->set, names, lens, 16);
    p->rk_ok = n <= 16;
    p->rk_fields = 0;
    for (size_t i = 0; i < n && p->rk_ok; i++) {
        size_t f = 0;
        while (f < sizeof fields / sizeof *fields &&
               !(strlen(fields[f].name) == lens[i] && memcmp(fields[f].name, names[i], lens[i]) == 0))
            f++;
        if (f == sizeof fields / sizeof *fields)
            p->rk_ok = false;
        else
            p->rk_fields |= fields[f].bit;
    }
}

/* Parse a pack and derive what decisions need of it.  A bad pack (parse
 * error with its line and column, an unknown tier) is an error with the
 * detail set; nothing else changes. */
static cu_rc pack_new(const char *text, size_t len, const char *name, uint64_t version, gw_pack **out)
{
    *out = NULL;
    cu_rc rc;
    gw_pack *p = cu_calloc(1, sizeof *p);
    if (!p)
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    atomic_init(&p->refs, 1);
    p->version = version;
    if ((rc = cu_sha256(text, len, NULL, 0, NULL, 0, p->hash)))
        goto fail;
    if (!(p->arena = cu_arena_new(16 * 1024, 64u << 20))) {
        rc = cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
        goto fail;
    }
    if ((rc = cu_policy_set_parse(text, len, name ? name : "policies", &p->set))) {
        if (name)
            pack_locate(name);
        goto fail;
    }
    size_t n = cu_policy_set_count(p->set);
    p->emergency = cu_calloc(n ? n : 1, sizeof *p->emergency);
    p->reason = cu_calloc(n ? n : 1, sizeof *p->reason);
    if (!p->emergency || !p->reason) {
        rc = cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const char *tier = cu_policy_set_annotation(p->set, i, "tier");
        if (tier && strcmp(tier, "emergency") != 0) {
            rc = cu_err_set(CU_ERR_INVAL, "policy %s: unknown tier \"%s\"", cu_policy_set_id(p->set, i), tier);
            goto fail;
        }
        p->emergency[i] = tier != NULL;
        p->reason[i] = cu_policy_set_annotation(p->set, i, "reason");
        if ((rc = gw_map_put(&p->pol_index, p->arena, cu_policy_set_id(p->set, i), (uint32_t)i)))
            goto fail;
    }
    if ((rc = cu_policy_split_new(p->set, "break_glass", &p->split)))
        goto fail;
    pack_rk(p);
    p->dm_ok = gw_dm_pack_ok(p->set);
    for (size_t i = 0; i < sizeof ACTIONS / sizeof *ACTIONS; i++) {
        p->act_ent[i] = cu_policy_entity_make(p->arena, "Action", 6, ACTIONS[i], strlen(ACTIONS[i]), 0, 0);
        if (!p->act_ent[i] || (rc = cu_policy_entity_seal(p->act_ent[i], NULL, p->arena))) {
            rc = cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
            goto fail;
        }
        /* what the pack's scopes and guards on the action alone decide, once */
        if ((rc = cu_policy_entity_memo_action(p->act_ent[i], p->set, p->arena)))
            goto fail;
    }
    *out = p;
    return CU_OK;
fail:
    gw_pack_release(p);
    return rc;
}

cu_rc cu_gateway_new(const cu_gateway_opts *opts, cu_gateway **out)
{
    if (!opts || !opts->policy_text || !opts->audit.append)
        return cu_err_set(CU_ERR_INVAL, "gateway: policies and an audit log are required");
    cu_rc rc;
    cu_gateway *g = cu_calloc(1, sizeof *g);
    if (!g)
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    pthread_mutex_init(&g->lock, NULL);
    pthread_mutex_init(&g->update_lock, NULL);
    pthread_mutex_init(&g->apool_mu, NULL);
    g->audit = opts->audit;
    g->live = opts->live;
    g->live_ud = opts->live_ud;
    g->allow_on_error = opts->allow_on_error;
    g->scratch_size = opts->scratch_size ? opts->scratch_size : 256 * 1024;
    g->next_version = 1;
    if ((rc = pack_new(opts->policy_text, opts->policy_len, opts->policy_name, 1, &g->pack)))
        goto fail;
    if ((rc = gw_snap_empty(&g->snap)))
        goto fail;
    atomic_fetch_add(&g->pack->refs, 1);
    g->snap->pack = g->pack;
    *out = g;
    return CU_OK;
fail:
    cu_gateway_free(g);
    return rc;
}

void cu_gateway_free(cu_gateway *g)
{
    if (!g)
        return;
    gw_snap_release(g->snap);
    gw_pack_release(g->pack);
    while (g->retired) {
        gw_pack *p = g->retired;
        g->retired = p->retired;
        gw_pack_release(p);
    }
    if (g->tokens)
        memset(g->tokens, 0, g->ntokens * sizeof *g->tokens);
    cu_free(g->tokens);
    for (size_t i = 0; i < g->nbg; i++)
        cu_free(g->bg[i].justification);
    cu_free(g->bg);
    gw_async_pool_free(g);
    pthread_mutex_destroy(&g->apool_mu);
    pthread_mutex_destroy(&g->lock);
    pthread_mutex_destroy(&g->update_lock);
    cu_free(g);
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cu_free(names[i]);
    cu_free(names);
}

/* The .cedar files of directory dir, in name order (the order of the
 * pack), into *names (names_free them). */
static cu_rc pack_files(const char *dir, char ***out, size_t *nout)
{
    cu_rc rc = CU_OK;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    *out = NULL;
    *nout = 0;
    DIR *d = opendir(dir);
    if (!d)
        return cu_err_set(CU_ERR_IO, "policies: cannot open directory %s", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 7 || strcmp(de->d_name + n - 6, ".cedar") != 0 || de->d_name[0] == '.')
            continue;
        if ((rc = cu_grow(&names, &cap, nn + 1, sizeof *names, 16, false))) {
            cu_err_prefix("policies");
            break;
        }
        if (!(names[nn] = cu_strdup(de->d_name))) {
            rc = cu_err_set(CU_ERR_NOMEM, "policies: out of memory");
            break;
        }
        nn++;
    }
    closedir(d);
    if (!rc && !nn)
        rc = cu_err_set(CU_ERR_NOTFOUND, "policies: no .cedar file in %s", dir);
    if (rc) {
        names_free(names, nn);
        return rc;
    }
    qsort(names, nn, sizeof *names, name_cmp);
    *out = names;
    *nout = nn;
    return CU_OK;
}

cu_rc cu_gateway_read_pack(const char *path, char **text, size_t *len)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cu_err_set(CU_ERR_NOTFOUND, "policies: cannot read %s", path);
    if (!S_ISDIR(st.st_mode))
        return cu_file_read(path, 16u << 20, text, len);
    char **names = NULL;
    size_t nn = 0;
    cu_rc rc = pack_files(path, &names, &nn);
    if (rc)
        return rc;
    cu_buf all;
    cu_buf_init(&all, 16u << 20);
    for (size_t i = 0; i < nn && !rc; i++) {
        char p[4096];
        char *t = NULL;
        size_t tl = 0;
        snprintf(p, sizeof p, "%s/%s", path, names[i]);
        if ((rc = cu_file_read(p, 16u << 20, &t, &tl)))
            break;
        rc = cu_buf_append(&all, t, tl);
        if (!rc)
            rc = cu_buf_append(&all, "\n", 1);
        cu_free(t);
        if (rc)
            cu_err_set(rc, "policies: the pack is larger than 16 MiB");
    }
    if (!rc)
        *text = cu_buf_take(&all, len);
    names_free(names, nn);
    cu_buf_free(&all);
    return rc;
}

/* A parse error of a directory's pack says "DIR:LINE:COL: ..." with LINE
 * counted in the files joined as cu_gateway_read_pack joins them (name
 * order, a newline after each): say the file and its own line instead.
 * The detail is left as it is when it does not have that shape or the
 * files cannot be read again. */
static void pack_locate(const char *dir)
{
    struct stat sb;
    size_t dl = strlen(dir);
    const char *det = cu_err_detail();
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || strncmp(det, dir, dl) != 0 || det[dl] != ':')
        return;
    char *end = NULL;
    unsigned long long line = strtoull(det + dl + 1, &end, 10);
    if (!end || *end != ':' || line == 0)
        return;
    char rest[1024];
    snprintf(rest, sizeof rest, "%s", end); /* ":COL: message" */
    char **names = NULL;
    size_t nn = 0;
    if (pack_files(dir, &names, &nn) != CU_OK)
        nn = 0;
    /* the file whose span of the joined lines holds the line */
    char p[4096] = "";
    unsigned long long start = 1, at = 0;
    for (size_t i = 0; i < nn && !at; i++) {
        char *text = NULL;
        size_t len = 0;
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (cu_file_read(p, 16u << 20, &text, &len) != CU_OK)
            break;
        unsigned long long nl = 1; /* the newline the join adds */
        for (size_t k = 0; k < len; k++)
            nl += text[k] == '\n';
        cu_free(text);
        if (line < start + nl)
            at = line - start + 1;
        start += nl;
    }
    names_free(names, nn);
    /* (a listing or a read that failed has set its own detail: the parse
     * error is the one to tell, where it was found or as it was) */
    if (at)
        cu_err_set(CU_ERR_PARSE, "%s:%llu%s", p, at, rest);
    else
        cu_err_set(CU_ERR_PARSE, "%s:%llu%s", dir, line, rest);
}

/* ------------------------------------------------------------ snapshots */

gw_snap *gw_acquire(cu_gateway *g)
{
    pthread_mutex_lock(&g->lock);
    gw_snap *s = g->snap;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&g->lock);
    return s;
}

void gw_publish(cu_gateway *g, gw_snap *s)
{
    gw_publish_n(g, s, 1);
}

void gw_publish_n(cu_gateway *g, gw_snap *s, uint64_t steps)
{
    /* the pack in force (callers hold the update lock), unless s has one */
    if (!s->pack) {
        atomic_fetch_add(&g->pack->refs, 1);
        s->pack = g->pack;
    }
    /* Each officer's entity memoises what the pack's guards on the
     * principal alone decide (cu_policy_entity_memo): made here, once per
     * snapshot, before anyone reads it, so new reference data (a new
     * snapshot, new entities) never meets an old memo.  One that cannot be
     * made (memory) leaves the entity without: decisions are the same. */
    for (size_t i = 0; i < s->st->nofficers; i++)
        if (s->off_ent[i] && cu_policy_entity_memo(s->off_ent[i], s->pack->set, s->arena) != CU_OK)
            break;
    /* and the officers' classes for the decision memo, likewise */
    if (s->pack->dm_ok)
        gw_dm_classes(s);
    pthread_mutex_lock(&g->lock);
    g->next_version += steps;
    s->version = g->next_version - 1;
    gw_snap *old = g->snap;
    g->snap = s;
    pthread_mutex_unlock(&g->lock);
    gw_snap_release(old);
}

/* ------------------------------------------------------------- policies */

/* The log entry of a pack put in force (type CU_LEDGER_POLICY; tags in
 * docs/gateway.md, "Changing the policies"). */
static cu_rc pack_log(cu_gateway *g, const gw_pack *p, const char *name, int64_t now)
{
    uint8_t ver[8], cnt[4], e[1024 + 128];
    for (int i = 0; i < 8; i++)
        ver[i] = (uint8_t)(p->version >> (56 - 8 * i));
    uint32_t n = (uint32_t)cu_policy_set_count(p->set);
    for (int i = 0; i < 4; i++)
        cnt[i] = (uint8_t)(n >> (24 - 8 * i));
    size_t nlen = name ? strlen(name) : 0;
    if (nlen > 1024)
        nlen = 1024;
    cu_ledger_field f[] = {
        {1, ver, 8},
        {2, p->hash, CU_SHA256_LEN},
        {3, name, nlen},
        {4, cnt, 4},
    };
    size_t len = 0;
    uint64_t index = 0;
    cu_rc rc = cu_ledger_entry_encode(CU_LEDGER_POLICY, now, f, sizeof f / sizeof *f, e, sizeof e, &len);
    if (!rc)
        rc = g->audit.append(g->audit.ud, e, len, &index);
    return rc;
}

cu_rc cu_gateway_policies_log(cu_gateway *g, const char *name, int64_t now)
{
    pthread_mutex_lock(&g->update_lock);
    cu_rc rc = pack_log(g, g->pack, name, now);
    pthread_mutex_unlock(&g->update_lock);
    return rc;
}

uint64_t cu_gateway_policies_version(cu_gateway *g, uint8_t hash[CU_SHA256_LEN])
{
    gw_snap *s = gw_acquire(g);
    uint64_t v = s->pack->version;
    if (hash)
        memcpy(hash, s->pack->hash, CU_SHA256_LEN);
    gw_snap_release(s);
    return v;
}

cu_rc cu_gateway_policies_replace(cu_gateway *g, const char *text, size_t len, const char *name, int64_t now,
                                  uint64_t *version)
{
    gw_pack *p = NULL;
    gw_store *st = NULL;
    gw_snap *s = NULL;
    /* parsed before anything is locked or logged: a bad pack changes
     * nothing, and reference updates do not wait for the parse; the
     * version is the one after the pack in force, under the lock */
    cu_rc rc = pack_new(text, len, name, 0, &p);
    pthread_mutex_lock(&g->update_lock);
    if (rc)
        goto fail;
    p->version = g->pack->version + 1;
    gw_snap *cur = gw_acquire(g);
    rc = gw_store_clone(cur->st, &st);
    gw_snap_release(cur);
    if (!rc) {
        rc = gw_snap_make(st, &s);
        st = NULL; /* taken over, even on failure */
    }
    if (rc)
        goto fail;
    /* logged before it is in force (fail closed) */
    if ((rc = pack_log(g, p, name, now)))
        goto fail;
    gw_pack *old = g->pack;
    old->retired = g->retired; /* its strings may be in answers still being written */
    g->retired = old;
    g->pack = p;
    atomic_fetch_add(&p->refs, 1);
    s->pack = p;
    p = NULL;
    gw_publish_n(g, s, 0); /* the same reference data, the new policies */
    s = NULL;
    atomic_fetch_add(&g->n_pack_changes, 1);
    if (version)
        *version = g->pack->version;
fail:
    if (rc)
        atomic_fetch_add(&g->n_pack_refused, 1);
    pthread_mutex_unlock(&g->update_lock);
    gw_snap_release(s);
    gw_store_free(st);
    gw_pack_release(p);
    return rc;
}

uint64_t cu_gateway_reference_version(cu_gateway *g)
{
    gw_snap *s = gw_acquire(g);
    uint64_t v = s->version;
    gw_snap_release(s);
    return v;
}

cu_rc cu_gateway_reference_load(cu_gateway *g, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    cu_rc rc = cu_file_read(path, (size_t)16 << 30, &text, &len);
    if (rc)
        return rc;
    gw_store *st = NULL;
    gw_snap *s = NULL;
    pthread_mutex_lock(&g->update_lock);
    if (!(rc = gw_store_new(&st)) && !(rc = gw_store_read(st, text, len, path, NULL, NULL))) {
        rc = gw_snap_make(st, &s);
        st = NULL; /* taken over */
        if (!rc)
            gw_publish(g, s);
    }
    pthread_mutex_unlock(&g->update_lock);
    gw_store_free(st);
    cu_free(text);
    return rc;
}

cu_rc cu_gateway_reference_update(cu_gateway *g, const char *text, size_t len, const char *name,
                                  cu_buf *report, size_t *applied, uint64_t *version)
{
    return cu_gateway_reference_update_with(g, text, len, name, NULL, report, applied, version);
}

void cu_gateway_set_reference_peer(cu_gateway *g, const cu_gateway_ref_peer *peer)
{
    pthread_mutex_lock(&g->update_lock);
    g->ref_peer = peer ? *peer : (cu_gateway_ref_peer){0};
    pthread_mutex_unlock(&g->update_lock);
}

/* Updates read one after another into one copy of the store; one new
 * snapshot at the end (invariant: the update lock is held from begin to
 * commit or abort, so no two updates start from the same version). */
struct cu_gateway_ref_batch {
    cu_gateway *g;
    gw_store *st;
    uint64_t steps; /* updates that took a line: the versions they stand for */
};

cu_rc cu_gateway_reference_begin(cu_gateway *g, cu_gateway_ref_batch **out)
{
    *out = NULL;
    cu_gateway_ref_batch *b = cu_calloc(1, sizeof *b);
    if (!b)
        return CU_ERR_NOMEM;
    b->g = g;
    pthread_mutex_lock(&g->update_lock);
    gw_snap *cur = gw_acquire(g);
    cu_rc rc = gw_store_clone(cur->st, &b->st);
    gw_snap_release(cur);
    if (rc) {
        cu_gateway_reference_abort(b);
        return rc;
    }
    *out = b;
    return CU_OK;
}

cu_rc cu_gateway_reference_add(cu_gateway_ref_batch *b, const char *text, size_t len, const char *name,
                               const cu_gateway_ref_peer *peer, cu_buf *report, size_t *applied)
{
    size_t taken = 0;
    if (applied)
        *applied = 0;
    cu_rc rc = gw_store_read_peer(b->st, text, len, name, peer, report, &taken);
    if (rc)
        return rc;
    if (applied)
        *applied = taken;
    if (taken == 0 && len > 0)
        return cu_err_set(CU_ERR_PARSE, "%s: no line could be taken", name);
    if (taken)
        b->steps++;
    return CU_OK;
}

cu_rc cu_gateway_reference_commit(cu_gateway_ref_batch *b, uint64_t *version)
{
    cu_gateway *g = b->g;
    cu_rc rc = CU_OK;
    if (b->steps) {
        gw_snap *s = NULL;
        rc = gw_snap_make(b->st, &s);
        b->st = NULL; /* taken over, even on failure */
        if (!rc)
            gw_publish_n(g, s, b->steps);
    }
    if (version && !rc)
        *version = cu_gateway_reference_version(g);
    cu_gateway_reference_abort(b);
    return rc;
}

void cu_gateway_reference_abort(cu_gateway_ref_batch *b)
{
    if (!b)
        return;
    pthread_mutex_unlock(&b->g->update_lock);
    gw_store_free(b->st);
    cu_free(b);
}

cu_rc cu_gateway_reference_update_with(cu_gateway *g, const char *text, size_t len, const char *name,
                                       const cu_gateway_ref_peer *peer, cu_buf *report, size_t *applied,
                                       uint64_t *version)
{
    cu_gateway_ref_batch *b;
    cu_rc rc = cu_gateway_reference_begin(g, &b);
    if (rc)
        return rc;
    if ((rc = cu_gateway_reference_add(b, text, len, name, peer, report, applied))) {
        cu_gateway_reference_abort(b);
        return rc;
    }
    return cu_gateway_reference_commit(b, version);
}

/* ------------------------------------------------------------ decisions */


static bool id_ok(const char *s) { return s && s[0] && strlen(s) <= CU_GATEWAY_MAX_ID; }

/* The request's strings' lengths, each measured once per decision (0:
 * absent); an id's is measured only up to one past its limit. */
typedef struct rq_len {
    size_t caller, officer, action, record, system, purpose, case_id, just;
} rq_len;

static size_t id_len(const char *s) { return s ? strnlen(s, CU_GATEWAY_MAX_ID + 1) : 0; }
static bool len_ok(const char *s, size_t n) { return s && n > 0 && n <= CU_GATEWAY_MAX_ID; }

/* JSON string with escapes; bounded by b's maximum. */
cu_rc gw_json_str(cu_buf *b, const char *s)
{
    if (!s)
        return cu_buf_appends(b, "null");
    cu_rc rc = cu_buf_append(b, "\"", 1);
    const char *run = s;
    for (; !rc && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = cu_buf_append(b, run, (size_t)(s - run));
        if (!rc)
            rc = c == '"' ? cu_buf_append(b, "\\\"", 2)
               : c == '\\' ? cu_buf_append(b, "\\\\", 2)
               : c == '\n' ? cu_buf_append(b, "\\n", 2)
                           : cu_buf_appendf(b, "\\u%04x", c);
        run = s + 1;
    }
    if (!rc)
        rc = cu_buf_append(b, run, (size_t)(s - run));
    if (!rc)
        rc = cu_buf_append(b, "\"", 1);
    return rc;
}

/* v in decimal (the answers' numbers: no printf per decision). */
static cu_rc append_u64(cu_buf *b, uint64_t v)
{
    char t[20];
    return cu_buf_append(b, t, cu_u64_dec(t, v));
}

static const char *outcome_name(const cu_gateway_decision *d)
{
    return d->outcome == CU_GW_ALLOW ? "allow" : d->outcome == CU_GW_DENY ? "deny" : "break-glass-available";
}

static void deny_with(cu_gateway_decision *d, const char *reason)
{
    d->outcome = CU_GW_DENY;
    d->break_glass = false;
    d->n_policies = 0;
    d->n_obligations = 0;
    d->explanation = d->explain_policy = d->explain_condition = NULL;
    d->n_reasons = 1;
    d->reasons[0] = reason;
}

/* context.governance from the vetting register's live answer (scratch arena). */
static const cu_policy_value *live_value(const cu_gateway_live *lv, cu_arena *a)
{
    static const char *const keys[] = {"state", "level", "expires", "managed", "entitled", "restricted", "caveats"};
    const cu_policy_value *cav[CU_GATEWAY_LIVE_CAVEATS];
    size_t n = lv->ncaveats < CU_GATEWAY_LIVE_CAVEATS ? lv->ncaveats : CU_GATEWAY_LIVE_CAVEATS;
    for (size_t i = 0; i < n; i++)
        if (!(cav[i] = cu_policy_val_string(a, lv->caveats[i], strnlen(lv->caveats[i], CU_GATEWAY_MAX_ID))))
            return NULL;
    const cu_policy_value *vals[] = {
        cu_policy_val_string(a, lv->state, strnlen(lv->state, sizeof lv->state)),
        cu_policy_val_string(a, lv->level, strnlen(lv->level, sizeof lv->level)),
        cu_policy_val_long(a, lv->expires),
        cu_policy_val_bool(a, lv->managed),
        cu_policy_val_bool(a, lv->entitled),
        cu_policy_val_bool(a, lv->restricted),
        cu_policy_val_set(a, cav, n),
    };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        if (!vals[i])
            return NULL;
    return cu_policy_val_record(a, keys, vals, sizeof keys / sizeof keys[0]);
}

/* Build the request: the officer's entity is prebuilt in the snapshot; the
 * record's (or the system's) and the stated case's are built here in the
 * scratch arena.  The context's break_glass is left for the split. */
static cu_rc build_request(gw_snap *s, const cu_gateway_request *r, const rq_len *L, size_t ai,
                           uint32_t oi, uint32_t ri, bool case_known, uint32_t ci, const cu_policy_value *gov,
                           bool rk, cu_arena *a, cu_policy_request **out)
{
    /* the stated case first: the record's parents take its uid */
    cu_policy_entity *ce = NULL;
    const cu_policy_value *cv = NULL;
    if (case_known && (!(ce = gw_case_entity(s, ci, r->now, a)) || !(cv = cu_policy_entity_value(a, ce))))
        return cu_err_set(CU_ERR_NOMEM, "gateway: scratch arena full");
    const cu_policy_entity *res;
    bool prot = false;
    if (ai < N_RECORD_ACTIONS) {
        res = gw_record_entity(s, ri, case_known ? ci : UINT32_MAX, cv, a, &prot);
    } else {
        cu_policy_entity *sys = cu_policy_entity_make(a, "System", 6, r->system, L->system, 0, 0);
        res = sys && !cu_policy_entity_seal(sys, NULL, a) ? sys : NULL;
    }
    cu_policy_request *pr = res ? cu_policy_request_of(a, s->off_ent[oi], s->pack->act_ent[ai], res) : NULL;
    if (pr && rk && s->pack->rk_ok) {
        /* the record's class as the pack's resource guards see it: the
         * fields they read, in a domain of this snapshot (atoms are numbered
         * per store); a system has no attributes: a class of its own */
        uint8_t f = s->pack->rk_fields;
        uint64_t key = 0, dom = s->serial << 3;
        if (ai < N_RECORD_ACTIONS) {
            const gw_record *rec = &s->st->records[ri];
            key = (f & GW_RK_CLS ? (uint64_t)rec->cls : 0) | (f & GW_RK_TYPE ? (uint64_t)rec->type << 16 : 0) |
                  (f & GW_RK_SYSTEM ? (uint64_t)rec->system << 32 : 0) |
                  (f & GW_RK_AREA ? (uint64_t)rec->area << 48 : 0);
            dom |= (f & GW_RK_LIVE && rec->live ? 2u : 0) | (f & GW_RK_PROT && prot ? 1u : 0);
        } else {
            dom |= 4;
        }
        cu_policy_request_resource_key(pr, dom, key);
    }
    const cu_policy_value *purpose = cu_policy_val_string_ref(a, r->purpose, L->purpose);
    const cu_policy_value *now = cu_policy_val_long(a, r->now);
    const cu_policy_value *bgv = s->bool_val[0];
    if (!pr || !purpose || !now || !bgv)
        return cu_err_set(CU_ERR_NOMEM, "gateway: scratch arena full");
    /* the context in one call: keys in (length, bytes) order */
    const char *keys[5];
    uint32_t klens[5];
    const cu_policy_value *vals[5];
    size_t n = 0;
#define CTX(k, v) (keys[n] = (k), klens[n] = (uint32_t)sizeof(k) - 1, vals[n++] = (v))
    CTX("now", now);
    if (case_known) {
        cu_rc rc = cu_policy_request_entity(pr, ce);
        if (rc)
            return rc;
        CTX("case", cv);
    }
    CTX("purpose", purpose);
    if (gov)
        CTX("governance", gov);
    CTX("break_glass", bgv);
#undef CTX
    *out = pr;
    return cu_policy_request_ctx_all(pr, keys, klens, vals, n);
}

static bool all_emergency(const gw_pack *g, const cu_policy_answer *a)
{
    if (!a->n_reasons)
        return false;
    for (size_t i = 0; i < a->n_reasons; i++) {
        uint32_t k = a->reason_index ? a->reason_index[i] : UINT32_MAX; /* the map: answers made otherwise */
        if ((k == UINT32_MAX && !gw_map_get(&g->pol_index, a->reasons[i], &k)) || !g->emergency[k])
            return false;
    }
    return true;
}

static void take_answer(const gw_pack *g, const cu_policy_answer *a, cu_gateway_decision *d, cu_arena *ar)
{
    d->n_policies = d->n_reasons = 0;
    for (size_t i = 0; i < a->n_reasons && d->n_policies < CU_GATEWAY_MAX_ITEMS; i++) {
        d->policies[d->n_policies++] = a->reasons[i];
        uint32_t k = a->reason_index ? a->reason_index[i] : UINT32_MAX; /* the map: answers made otherwise */
        if ((k != UINT32_MAX || gw_map_get(&g->pol_index, a->reasons[i], &k)) && g->reason[k])
            d->reasons[d->n_reasons++] = g->reason[k];
    }
    d->n_errors = 0;
    for (size_t i = 0; i < a->n_errors && d->n_errors < CU_GATEWAY_MAX_ITEMS; i++) {
        const char *pid = a->errors[i].policy_id ? a->errors[i].policy_id : "?";
        const char *msg = a->errors[i].message ? a->errors[i].message : "error";
        size_t n = strlen(pid) + strlen(msg) + 3;
        char *e = cu_arena_alloc(ar, n);
        if (!e)
            break;
        snprintf(e, n, "%s: %s", pid, msg);
        d->errors[d->n_errors++] = e;
    }
    d->explanation = a->explanation;
    d->explain_policy = a->explain_policy;
    d->explain_condition = a->explain_condition;
}

static cu_rc str_field(cu_buf *b, const char *k, const char *v)
{
    cu_rc rc = cu_buf_appendf(b, ",\"%s\":", k);
    return rc ? rc : gw_json_str(b, v);
}

static size_t slen(const char *s) { return s ? strlen(s) : 0; }

/* The decision's ledger entry is written in place, field after field, in
 * the ledger's entry encoding (cu_ledger_entry_encode's bytes exactly:
 * u8 version | u8 type | be64 time | (u8 tag, be16 length, value) in
 * increasing tag order, empty fields left out), without gathering the
 * fields or joining the lists in buffers first.  A cursor over the entry
 * buffer; ok false once a field did not fit (CU_ERR_TOOBIG). */
typedef struct ent_w {
    uint8_t *o;
    size_t n, cap;
    bool ok;
} ent_w;

static inline __attribute__((always_inline)) void ent_field(ent_w *w, uint8_t tag, const void *v, size_t len)
{
    if (!len || !w->ok)
        return;
    if (len > 0xffff || w->n + 3 + len > w->cap) {
        w->ok = false;
        return;
    }
    w->o[w->n] = tag;
    cu_put_be16(w->o + w->n + 1, (uint16_t)len);
    memcpy(w->o + w->n + 3, v, len);
    w->n += 3 + len;
}

/* Strings joined by '\n' as one field, at most max bytes: items are taken
 * while they fit (an item and its separator), as a bounded join would. */
static void ent_join(ent_w *w, uint8_t tag, const char *const *items, size_t n, size_t max)
{
    if (!n || !w->ok)
        return;
    size_t at = w->n + 3, k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(items[i]);
        if (k + l + 1 > max)
            break;
        if (at + k + (i ? 1 : 0) + l > w->cap) {
            w->ok = false;
            return;
        }
        if (i)
            w->o[at + k++] = '\n';
        memcpy(w->o + at + k, items[i], l);
        k += l;
    }
    if (!k)
        return;
    w->o[w->n] = tag;
    cu_put_be16(w->o + w->n + 1, (uint16_t)k);
    w->n = at + k;
}

/* The log entry of a decision: the ledger's entry encoding, type
 * CU_LEDGER_DECISION, tags in docs/gateway.md ("Ledger entries"). */
static cu_rc decision_entry(const cu_gateway_request *r, const rq_len *L, const cu_gateway_decision *d,
                            const char *system, cu_buf *b)
{
    uint8_t outcome = d->outcome == CU_GW_ALLOW ? 1 : d->outcome == CU_GW_DENY ? 2 : 3;
    uint8_t flags = (uint8_t)((d->break_glass ? 1 : 0) | (d->flagged ? 2 : 0));
    uint8_t ver[8], pver[8];
    cu_put_be64(ver, d->ref_version);
    cu_put_be64(pver, d->policy_version);
    cu_buf_reset(b);
    cu_rc rc = cu_buf_reserve(b, CU_LEDGER_ENTRY_MAX);
    if (rc)
        return rc;
    ent_w w = {.o = (uint8_t *)b->data, .n = 10, .cap = CU_LEDGER_ENTRY_MAX, .ok = true};
    w.o[0] = CU_LEDGER_ENTRY_VERSION;
    w.o[1] = CU_LEDGER_DECISION;
    cu_put_be64(w.o + 2, (uint64_t)r->now);
    ent_field(&w, CU_GW_F_CALLER, r->caller, L->caller);
    ent_field(&w, CU_GW_F_OFFICER, r->officer, L->officer);
    ent_field(&w, CU_GW_F_ACTION, r->action, L->action);
    ent_field(&w, CU_GW_F_RECORD, r->record, L->record);
    ent_field(&w, CU_GW_F_SYSTEM, system, system == r->system ? L->system : slen(system));
    ent_field(&w, CU_GW_F_PURPOSE, r->purpose, L->purpose);
    ent_field(&w, CU_GW_F_CASE, r->case_id, L->case_id);
    ent_field(&w, CU_GW_F_DECISION, &outcome, 1);
    ent_field(&w, CU_GW_F_FLAGS, &flags, flags ? 1 : 0);
    ent_field(&w, CU_GW_F_REF_VERSION, ver, 8);
    ent_field(&w, CU_GW_F_JUSTIFICATION, r->justification, L->just);
    ent_join(&w, CU_GW_F_POLICIES, d->policies, d->n_policies, 4096);
    ent_join(&w, CU_GW_F_ERRORS, d->errors, d->n_errors, 8192);
    ent_field(&w, CU_GW_F_POLICY_VERSION, pver, 8);
    if (!w.ok)
        return cu_err_set(CU_ERR_TOOBIG, "entry over %u bytes", CU_LEDGER_ENTRY_MAX);
    b->len = w.n;
    return CU_OK;
}

static void observe_latency(cu_gateway *g, uint64_t ns)
{
    static const uint64_t bounds_us[GW_LAT_BUCKETS] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000};
    uint64_t us = ns / 1000;
    size_t i = 0;
    while (i < GW_LAT_BUCKETS && us >= bounds_us[i])
        i++;
    atomic_fetch_add_explicit(&g->lat[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g->lat_sum_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&g->lat_count, 1, memory_order_relaxed);
}

static cu_rc bg_register(cu_gateway *g, const cu_gateway_request *r, const char *system, uint64_t index);

/* Validate, evaluate and encode the entry (into the thread's entry buffer,
 * *tout): everything but the log.  *snap_out is held (the system name may
 * point into it) and released by the caller, also on an error. */
static cu_rc decide_eval(cu_gateway *g, const cu_gateway_request *r, cu_gateway_decision *d, const char **sys_out,
                         struct tctx **tout, gw_snap **snap_out)
{
    *snap_out = NULL;
    memset(d, 0, sizeof *d);
    size_t nact = sizeof ACTIONS / sizeof *ACTIONS, ai = 0;
    while (ai < nact && !(r->action && strcmp(r->action, ACTIONS[ai]) == 0))
        ai++;
    if (ai == nact)
        return cu_err_set(CU_ERR_INVAL, "action must be one of view, update, export, print, disclose, search, login, logout");
    bool record_action = ai < N_RECORD_ACTIONS;
    rq_len L = {.caller = slen(r->caller), .officer = id_len(r->officer), .action = strlen(ACTIONS[ai]),
                .record = record_action ? id_len(r->record) : slen(r->record), /* (checked only then) */
                .system = id_len(r->system), .purpose = id_len(r->purpose),
                .case_id = id_len(r->case_id),
                .just = r->justification ? strnlen(r->justification, CU_GATEWAY_MAX_JUSTIFICATION + 1) : 0};
    if (!len_ok(r->officer, L.officer))
        return cu_err_set(CU_ERR_INVAL, "officer must be an id of 1-%d bytes", CU_GATEWAY_MAX_ID);
    if (!len_ok(r->purpose, L.purpose))
        return cu_err_set(CU_ERR_INVAL, "purpose is required");
    if (record_action && !len_ok(r->record, L.record))
        return cu_err_set(CU_ERR_INVAL, "%s needs a record id", r->action);
    if (!record_action && !len_ok(r->system, L.system))
        return cu_err_set(CU_ERR_INVAL, "%s needs a system", r->action);
    if (r->case_id && !len_ok(r->case_id, L.case_id))
        return cu_err_set(CU_ERR_INVAL, "case must be an id of 1-%d bytes", CU_GATEWAY_MAX_ID);
    if (r->system && !len_ok(r->system, L.system))
        return cu_err_set(CU_ERR_INVAL, "system must be an id of 1-%d bytes", CU_GATEWAY_MAX_ID);
    if (r->justification && (L.just == 0 || L.just > CU_GATEWAY_MAX_JUSTIFICATION))
        return cu_err_set(CU_ERR_INVAL, "break-glass needs a justification of 1-%d bytes", CU_GATEWAY_MAX_JUSTIFICATION);

    struct tctx *t = tctx_get(g->scratch_size);
    if (!t)
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    cu_arena_reset(t->scratch);
    *tout = t;
    gw_snap *s = gw_acquire(g);
    *snap_out = s;
    const gw_store *st = s->st;
    d->ref_version = s->version;
    d->policy_version = s->pack->version;
    const char *system = r->system;
    uint32_t oi = 0, ri = 0, ci = 0;
    /* the three look-ups' first memory reads started together */
    size_t on = L.officer, rn = record_action ? L.record : 0, cn = L.case_id;
    uint64_t oh = gw_id_hash(r->officer, on), rh = rn ? gw_id_hash(r->record, rn) : 0,
             ch = cn ? gw_id_hash(r->case_id, cn) : 0;
    gw_prefetch_id(st, GW_OFFICER, oh);
    if (rn)
        gw_prefetch_id(st, GW_RECORD, rh);
    if (cn)
        gw_prefetch_id(st, GW_CASE, ch);
    bool officer_known = gw_find_h(st, GW_OFFICER, r->officer, on, oh, &oi);
    bool record_known = record_action && gw_find_h(st, GW_RECORD, r->record, rn, rh, &ri);
    if (record_known)
        system = gw_str(st, st->atoms[st->records[ri].system]);
    bool case_known = cn && gw_find_h(st, GW_CASE, r->case_id, cn, ch, &ci);
    bool memo_on = t->dm && !g->dm_off && s->pack->dm_ok && record_action; /* (and no register context: below) */
    if (officer_known)
        gw_prefetch_decision(s, oi, record_known, ri, case_known, ci, !memo_on);
    cu_rc rc = CU_OK;

    if (!officer_known) {
        deny_with(d, "Unknown officer: not in the reference data.");
    } else if (record_action && !record_known) {
        deny_with(d, "Unknown record: not in the reference data.");
    } else {
        const cu_policy_value *gov = NULL;
        if (g->live) {
            /* the register's state at the decision's time, read per decision */
            cu_gateway_live lv;
            memset(&lv, 0, offsetof(cu_gateway_live, caveats));
            g->live(g->live_ud, r->officer, system, r->now, &lv);
            if (lv.known && !(gov = live_value(&lv, t->scratch))) {
                rc = cu_err_set(CU_ERR_NOMEM, "gateway: scratch arena full");
                goto fail;
            }
        }
        /* Both tiers in one pass: ans[0] as asked (break_glass false),
         * ans[1] as the emergency tier would answer (break_glass true). */
        cu_policy_request *pr = NULL;
        cu_policy_answer ans[2];
        /* a record request like one this thread decided under this
         * snapshot: its answers from the memo (memo.c says why they are
         * the same), else evaluated and kept */
        uint64_t key[GW_DM_WORDS];
        bool keyed = memo_on && !gov &&
                     gw_dm_key_make(t->dm, s, ai, r->purpose, L.purpose, r->now, oi, ri,
                                    case_known ? 2 : r->case_id ? 1 : 0, ci, key);
        if (!keyed || !gw_dm_get(t->dm, s, key, t->scratch, ans)) {
            if (memo_on)
                gw_prefetch_officer(s, oi);
            if ((rc = build_request(s, r, &L, ai, oi, ri, case_known, ci, gov, !g->rk_off, t->scratch, &pr)) ||
                (rc = cu_policy_eval_split(s->pack->set, s->pack->split, NULL, pr, t->scratch,
                                           CU_POLICY_SPLIT_LAZY, ans)))
                goto fail;
            if (keyed)
                gw_dm_put(t->dm, s, key, ans);
        }
        const cu_policy_answer *a1 = &ans[0], *a2 = &ans[1];
        take_answer(s->pack, a1, d, t->scratch);
        if (a1->n_errors) {
            d->flagged = true;
        }
        if (a1->allow && (!a1->n_errors || g->allow_on_error)) {
            d->outcome = CU_GW_ALLOW;
        } else if (a1->allow) {
            d->outcome = CU_GW_DENY;
            d->n_reasons = 0;
            d->reasons[d->n_reasons++] = "Policy evaluation had errors: denied until the policy or data is fixed.";
        } else {
            d->outcome = CU_GW_DENY;
            if (r->case_id && !case_known && d->n_reasons < CU_GATEWAY_MAX_ITEMS)
                d->reasons[d->n_reasons++] = "The case you stated is not in the reference data.";
            /* Would the emergency tier allow it? */
            if (a2->allow && !a2->n_errors && all_emergency(s->pack, a2)) {
                if (r->justification) {
                    take_answer(s->pack, a2, d, t->scratch);
                    d->outcome = CU_GW_ALLOW;
                    d->break_glass = true;
                    d->obligations[0] = "review within 72 hours";
                    d->obligations[1] = "supervisor notified";
                    d->n_obligations = 2;
                } else {
                    d->outcome = CU_GW_BREAK_GLASS_AVAILABLE;
                }
            }
        }
    }

    rc = decision_entry(r, &L, d, system, &t->entry);
fail:
    *sys_out = system;
    return rc;
}

/* A decision answered in place.  timed: its time goes into the latency
 * histogram of /metrics (the HTTP layer's decisions; an in-process caller
 * times its own, so cu_gateway_decide reads no clock). */
static cu_rc decide_sync(cu_gateway *g, const cu_gateway_request *r, cu_gateway_decision *d, bool timed)
{
    uint64_t t0 = timed ? cu_mono_ns() : 0;
    const char *system = NULL;
    struct tctx *t = NULL;
    gw_snap *s = NULL;
    cu_rc rc = decide_eval(g, r, d, &system, &t, &s);
    if (rc)
        goto fail;
    /* Invariant 1: log, then answer. */
    if (g->audit.append_decision) {
        cu_gateway_logged lg = {.req = r, .d = d, .system = system, .entry = t->entry.data,
                                .len = t->entry.len};
        rc = g->audit.append_decision(g->audit.ud, &lg, &d->index);
    } else {
        rc = g->audit.append(g->audit.ud, t->entry.data, t->entry.len, &d->index);
    }
    if (rc) {
        atomic_fetch_add(&g->n_audit_fail, 1);
        cu_log(CU_LOG_ERROR, "gateway: audit unavailable: %s: %s", cu_strerror(rc), cu_err_detail());
        deny_with(d, "audit unavailable");
        d->audited = false;
        rc = CU_OK;
    } else {
        d->audited = true;
        if (d->break_glass && bg_register(g, r, system, d->index)) {
            /* The use is logged (the log is the record of truth); only the
             * open-uses list missed it.  Say so loudly. */
            cu_log(CU_LOG_ERROR, "gateway: break-glass %" PRIu64 " logged but not listed: out of memory", d->index);
        }
    }
    atomic_fetch_add_explicit(d->outcome == CU_GW_ALLOW  ? &g->n_allow
                              : d->outcome == CU_GW_DENY ? &g->n_deny
                                                         : &g->n_bga,
                              1, memory_order_relaxed);
    if (d->break_glass)
        atomic_fetch_add(&g->n_breakglass, 1);
    if (d->flagged)
        atomic_fetch_add(&g->n_flagged, 1);
    if (timed)
        observe_latency(g, cu_mono_ns() - t0);
fail:
    if (s)
        gw_snap_release(s);
    return rc;
}

cu_rc cu_gateway_decide(cu_gateway *g, const cu_gateway_request *r, cu_gateway_decision *d)
{
    return decide_sync(g, r, d, false);
}

cu_rc gw_decide_timed(cu_gateway *g, const cu_gateway_request *r, cu_gateway_decision *d)
{
    return decide_sync(g, r, d, true);
}

/* ------------------------------------------- asynchronous decisions */

static cu_rc decision_json_head(const cu_gateway_decision *d, cu_buf *b);

/* A decision waiting for its ledger commit without a thread: the entry
 * bytes, the answer's head (rendered before the wait: the decision's
 * strings live in the deciding thread's arena), and what the completion
 * needs for the counters and the break-glass list.  Reused through a free
 * list (no allocation per decision once warm). */
struct gw_async {
    cu_ledger_pending pend;
    cu_gateway *g;
    cu_buf entry;
    cu_buf *out;
    int *status;
    cu_gateway_defer defer;
    void *held; /* what defer.hold returned: the answer's handle (NULL: answered in place) */
    uint64_t t0, ref_version;
    cu_gateway_outcome outcome;
    bool break_glass, flagged;
    int64_t now;
    char officer[CU_GATEWAY_MAX_ID + 1], record[CU_GATEWAY_MAX_ID + 1], system[CU_GATEWAY_MAX_ID + 1],
        caller[CU_GATEWAY_MAX_ID + 1];
    char *justification; /* break-glass only */
    struct gw_async *next;
};

static struct gw_async *async_get(cu_gateway *g)
{
    pthread_mutex_lock(&g->apool_mu);
    struct gw_async *a = g->apool;
    if (a)
        g->apool = a->next;
    pthread_mutex_unlock(&g->apool_mu);
    if (!a) {
        a = cu_calloc(1, sizeof *a);
        if (!a)
            return NULL;
        cu_buf_init(&a->entry, CU_LEDGER_ENTRY_MAX);
    }
    a->g = g;
    return a;
}

static void async_put(cu_gateway *g, struct gw_async *a)
{
    cu_free(a->justification);
    a->justification = NULL;
    pthread_mutex_lock(&g->apool_mu);
    a->next = g->apool;
    g->apool = a;
    pthread_mutex_unlock(&g->apool_mu);
}

void gw_async_pool_free(cu_gateway *g)
{
    struct gw_async *a = g->apool;
    while (a) {
        struct gw_async *n = a->next;
        cu_buf_free(&a->entry);
        cu_free(a->justification);
        cu_free(a);
        a = n;
    }
    g->apool = NULL;
}

/* The ledger's completion (on its commit thread, or on the deciding thread
 * when the submit was refused): finish the answer, count, hand it back.
 * Invariant 1: only an OK from the log lets the prepared answer out. */
static void async_done(void *ud, cu_rc rc, uint64_t index, const char *detail)
{
    struct gw_async *a = ud;
    cu_gateway *g = a->g;
    cu_gateway_outcome outcome = a->outcome;
    cu_rc wr;
    if (rc) {
        atomic_fetch_add(&g->n_audit_fail, 1);
        cu_log(CU_LOG_ERROR, "gateway: audit unavailable: %s: %s", cu_strerror(rc), detail ? detail : "");
        cu_gateway_decision d;
        memset(&d, 0, sizeof d);
        deny_with(&d, "audit unavailable");
        d.flagged = a->flagged;
        d.ref_version = a->ref_version;
        outcome = CU_GW_DENY;
        cu_buf_reset(a->out);
        *a->status = 503;
        wr = cu_gateway_decision_json(&d, a->out);
        cu_gateway_count_http_error(g, 503);
    } else {
        *a->status = 200;
        wr = append_u64(a->out, index);
        if (!wr)
            wr = cu_buf_appends(a->out, "}\n");
        if (a->break_glass) {
            cu_gateway_request r = {.caller = a->caller, .officer = a->officer, .record = a->record,
                                    .justification = a->justification, .now = a->now};
            if (bg_register(g, &r, a->system, index))
                cu_log(CU_LOG_ERROR, "gateway: break-glass %" PRIu64 " logged but not listed: out of memory", index);
            atomic_fetch_add(&g->n_breakglass, 1);
        }
    }
    if (wr) {
        /* cannot happen within the 64 MiB answer bound; still no allow escapes */
        cu_buf_reset(a->out);
        *a->status = rc ? 503 : 500;
        if (cu_buf_appends(a->out, "{\"error\":\"answer too large\"}\n")) {
            /* (the body stays empty: the status still says it) */
        }
    }
    atomic_fetch_add_explicit(outcome == CU_GW_ALLOW  ? &g->n_allow
                              : outcome == CU_GW_DENY ? &g->n_deny
                                                      : &g->n_bga,
                              1, memory_order_relaxed);
    if (a->flagged)
        atomic_fetch_add(&g->n_flagged, 1);
    observe_latency(g, cu_mono_ns() - a->t0);
    cu_gateway_defer df = a->defer;
    void *held = a->held;
    async_put(g, a);
    if (held)
        df.answer(held);
}

static void copy_id(char *dst, const char *src);

cu_rc gw_decide_async(cu_gateway *g, const cu_gateway_request *r, int *status, cu_buf *out,
                      const cu_gateway_defer *df, bool *deferred)
{
    *deferred = false;
    uint64_t t0 = cu_mono_ns();
    cu_gateway_decision d;
    const char *system = NULL;
    struct tctx *t = NULL;
    gw_snap *s = NULL;
    struct gw_async *a = NULL;
    cu_rc rc = decide_eval(g, r, &d, &system, &t, &s);
    if (rc)
        goto fail;
    if (!(a = async_get(g))) {
        rc = cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
        goto fail;
    }
    cu_buf_reset(&a->entry);
    if ((rc = cu_buf_append(&a->entry, t->entry.data, t->entry.len)))
        goto fail;
    a->out = out;
    a->status = status;
    a->defer = *df;
    a->t0 = t0;
    a->ref_version = d.ref_version;
    a->outcome = d.outcome;
    a->break_glass = d.break_glass;
    a->flagged = d.flagged;
    a->now = r->now;
    copy_id(a->system, system); /* the snapshot that system points into is released below */
    if (d.break_glass) {
        copy_id(a->officer, r->officer);
        copy_id(a->record, r->record);
        copy_id(a->caller, r->caller);
        if (!(a->justification = cu_strdup(r->justification))) {
            rc = cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
            goto fail;
        }
    }
    /* the answer as it will be, but for its ledger index */
    cu_buf_reset(out);
    if ((rc = decision_json_head(&d, out)))
        goto fail;
    /* the snapshot (and the pack whose strings d points to) is held until
     * the log has taken the decision (lg.d is read during the call) */
    char detail[512];
    cu_gateway_logged lg = {.req = r, .d = &d, .system = a->system[0] ? a->system : NULL,
                            .entry = a->entry.data, .len = a->entry.len};
    if (!(a->held = df->hold(df->ud))) {
        /* the transport cannot hold the request: wait for the log here */
        uint64_t idx = 0;
        rc = g->audit.append_decision ? g->audit.append_decision(g->audit.ud, &lg, &idx)
                                      : g->audit.append(g->audit.ud, a->entry.data, a->entry.len, &idx);
        snprintf(detail, sizeof detail, "%s", rc ? cu_err_detail() : "");
        gw_snap_release(s);
        async_done(a, rc, idx, detail);
        return CU_OK;
    }
    *deferred = true;
    rc = g->audit.submit_decision
             ? g->audit.submit_decision(g->audit.ud, &lg, &a->pend, async_done, a)
             : g->audit.submit(g->audit.ud, &a->pend, a->entry.data, a->entry.len, async_done, a);
    gw_snap_release(s);
    if (rc) {
        snprintf(detail, sizeof detail, "%s", cu_err_detail());
        async_done(a, rc, 0, detail);
    }
    return CU_OK;
fail:
    if (a)
        async_put(g, a);
    if (s)
        gw_snap_release(s);
    return rc;
}

/* The answer up to and with "ledger_index": (what follows is the index or
 * null and the closing brace). */
static cu_rc decision_json_head(const cu_gateway_decision *d, cu_buf *b)
{
    cu_rc rc = cu_buf_appends(b, "{\"decision\":");
    if (!rc) rc = gw_json_str(b, outcome_name(d));
    if (!rc) rc = cu_buf_appends(b, ",\"policies\":[");
    for (size_t i = 0; !rc && i < d->n_policies; i++) {
        if (i) rc = cu_buf_append(b, ",", 1);
        if (!rc) rc = gw_json_str(b, d->policies[i]);
    }
    if (!rc) rc = cu_buf_appends(b, "],\"reasons\":[");
    for (size_t i = 0; !rc && i < d->n_reasons; i++) {
        if (i) rc = cu_buf_append(b, ",", 1);
        if (!rc) rc = gw_json_str(b, d->reasons[i]);
    }
    if (!rc) rc = cu_buf_appends(b, "],\"errors\":[");
    for (size_t i = 0; !rc && i < d->n_errors; i++) {
        if (i) rc = cu_buf_append(b, ",", 1);
        if (!rc) rc = gw_json_str(b, d->errors[i]);
    }
    if (!rc) rc = cu_buf_appends(b, "],\"explanation\":");
    if (!rc && d->explanation) {
        rc = cu_buf_appends(b, "{\"policy\":");
        if (!rc) rc = gw_json_str(b, d->explain_policy);
        if (!rc) rc = cu_buf_appends(b, ",\"condition\":");
        if (!rc) rc = gw_json_str(b, d->explain_condition);
        if (!rc) rc = cu_buf_appends(b, ",\"text\":");
        if (!rc) rc = gw_json_str(b, d->explanation);
        if (!rc) rc = cu_buf_appends(b, "}");
    } else if (!rc) {
        rc = cu_buf_appends(b, "null");
    }
    if (!rc) rc = cu_buf_appends(b, ",\"obligations\":[");
    for (size_t i = 0; !rc && i < d->n_obligations; i++) {
        if (i) rc = cu_buf_append(b, ",", 1);
        if (!rc) rc = gw_json_str(b, d->obligations[i]);
    }
    if (!rc) rc = cu_buf_appends(b, d->break_glass ? "],\"break_glass\":true" : "],\"break_glass\":false");
    if (!rc) rc = cu_buf_appends(b, d->flagged ? ",\"flagged\":true,\"ref_version\":" : ",\"flagged\":false,\"ref_version\":");
    if (!rc) rc = append_u64(b, d->ref_version);
    if (!rc) rc = cu_buf_appends(b, ",\"policy_version\":");
    if (!rc) rc = append_u64(b, d->policy_version);
    if (!rc) rc = cu_buf_appends(b, ",\"ledger_index\":");
    return rc;
}

cu_rc cu_gateway_decision_json(const cu_gateway_decision *d, cu_buf *b)
{
    cu_rc rc = decision_json_head(d, b);
    if (!rc && d->audited) rc = append_u64(b, d->index);
    if (!rc) rc = cu_buf_appends(b, d->audited ? "}\n" : "null}\n");
    return rc;
}

/* ----------------------------------------------------------- break-glass */

static void copy_id(char *dst, const char *src)
{
    snprintf(dst, CU_GATEWAY_MAX_ID + 1, "%s", src ? src : "");
}

static cu_rc bg_register(cu_gateway *g, const cu_gateway_request *r, const char *system, uint64_t index)
{
    char *just = cu_strdup(r->justification);
    if (!just)
        return CU_ERR_NOMEM;
    pthread_mutex_lock(&g->lock);
    cu_rc rc = cu_grow(&g->bg, &g->capbg, g->nbg + 1, sizeof *g->bg, 16, false);
    if (rc) {
        pthread_mutex_unlock(&g->lock);
        cu_free(just);
        return rc;
    }
    struct gw_bg *b = &g->bg[g->nbg++];
    memset(b, 0, sizeof *b);
    b->id = index;
    b->ts = r->now;
    b->due = r->now + CU_GATEWAY_BREAKGLASS_REVIEW_S;
    copy_id(b->officer, r->officer);
    copy_id(b->record, r->record);
    copy_id(b->system, system);
    copy_id(b->caller, r->caller);
    b->justification = just;
    pthread_mutex_unlock(&g->lock);
    return CU_OK;
}

size_t cu_gateway_breakglass_open(cu_gateway *g)
{
    pthread_mutex_lock(&g->lock);
    size_t n = g->nbg;
    pthread_mutex_unlock(&g->lock);
    return n;
}

cu_rc cu_gateway_breakglass_json(cu_gateway *g, int64_t now, cu_buf *b)
{
    cu_rc rc = cu_buf_appends(b, "{\"open\":[");
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; !rc && i < g->nbg; i++) {
        const struct gw_bg *x = &g->bg[i];
        char ts[21], due[21];
        cu_time_format(x->ts, ts);
        cu_time_format(x->due, due);
        rc = cu_buf_appendf(b, "%s{\"id\":%" PRIu64 ",\"ts\":\"%s\",\"review_due\":\"%s\",\"overdue\":%s", i ? "," : "",
                            x->id, ts, due, now >= x->due ? "true" : "false");
        if (!rc) rc = str_field(b, "officer", x->officer);
        if (!rc) rc = str_field(b, "record", x->record[0] ? x->record : NULL);
        if (!rc) rc = str_field(b, "system", x->system[0] ? x->system : NULL);
        if (!rc) rc = str_field(b, "caller", x->caller);
        if (!rc) rc = str_field(b, "justification", x->justification);
        if (!rc) rc = cu_buf_appends(b, "}");
    }
    pthread_mutex_unlock(&g->lock);
    if (!rc)
        rc = cu_buf_appends(b, "]}\n");
    return rc;
}

cu_rc cu_gateway_breakglass_review(cu_gateway *g, uint64_t id, const char *reviewer, const char *outcome,
                                   const char *note, int64_t now, uint64_t *index)
{
    if (!id_ok(reviewer))
        return cu_err_set(CU_ERR_INVAL, "reviewer must be an id of 1-%d bytes", CU_GATEWAY_MAX_ID);
    if (!outcome || (strcmp(outcome, "justified") && strcmp(outcome, "unjustified")))
        return cu_err_set(CU_ERR_INVAL, "outcome must be justified or unjustified");
    if (note && strlen(note) > CU_GATEWAY_MAX_JUSTIFICATION)
        return cu_err_set(CU_ERR_INVAL, "note longer than %d bytes", CU_GATEWAY_MAX_JUSTIFICATION);
    char officer[CU_GATEWAY_MAX_ID + 1];
    pthread_mutex_lock(&g->lock);
    size_t i = 0;
    while (i < g->nbg && g->bg[i].id != id)
        i++;
    bool found = i < g->nbg;
    if (found)
        memcpy(officer, g->bg[i].officer, sizeof officer);
    pthread_mutex_unlock(&g->lock);
    if (!found)
        return cu_err_set(CU_ERR_NOTFOUND, "no open break-glass use %" PRIu64, id);
    if (strcmp(officer, reviewer) == 0)
        return cu_err_set(CU_ERR_DENIED, "an officer may not review their own break-glass use");

    uint8_t reviewed[8], oc = strcmp(outcome, "justified") == 0 ? 1 : 2;
    for (int k = 0; k < 8; k++)
        reviewed[k] = (uint8_t)(id >> (56 - 8 * k));
    cu_ledger_field f[] = {
        {CU_GW_F_OFFICER, officer, strlen(officer)},
        {CU_GW_F_REVIEWED, reviewed, 8},
        {CU_GW_F_REVIEWER, reviewer, strlen(reviewer)},
        {CU_GW_F_REVIEW_OUTCOME, &oc, 1},
        {CU_GW_F_NOTE, note, slen(note)},
    };
    cu_buf e;
    cu_buf_init(&e, CU_LEDGER_ENTRY_MAX);
    size_t elen = 0;
    cu_rc rc = cu_buf_reserve(&e, CU_LEDGER_ENTRY_MAX);
    if (!rc)
        rc = cu_ledger_entry_encode(CU_LEDGER_DECISION, now, f, sizeof f / sizeof *f, (uint8_t *)e.data, e.cap, &elen);
    if (!rc)
        e.len = elen;
    uint64_t idx = 0;
    if (!rc) {
        rc = g->audit.append(g->audit.ud, e.data, e.len, &idx);
        if (rc) {
            atomic_fetch_add(&g->n_audit_fail, 1);
            rc = cu_err_set(CU_ERR_IO, "audit unavailable: the review was not recorded");
        }
    }
    cu_buf_free(&e);
    if (rc)
        return rc;
    /* Logged: now close it (it may have been closed meanwhile by another
     * reviewer; both reviews are in the log). */
    pthread_mutex_lock(&g->lock);
    for (i = 0; i < g->nbg; i++)
        if (g->bg[i].id == id) {
            cu_free(g->bg[i].justification);
            g->bg[i] = g->bg[--g->nbg];
            break;
        }
    pthread_mutex_unlock(&g->lock);
    atomic_fetch_add(&g->n_reviews, 1);
    if (index)
        *index = idx;
    return CU_OK;
}

/* ------------------------------------------------- audit over a ledger */

static cu_rc al_append(void *ud, const void *e, size_t len, uint64_t *index)
{
    return cu_ledger_append(ud, e, len, index);
}

static uint64_t al_size(void *ud) { return cu_ledger_size(ud); }

static cu_rc al_submit(void *ud, cu_ledger_pending *p, const void *entry, size_t len, cu_gateway_audit_done done,
                       void *done_ud)
{
    return cu_ledger_append_async(ud, p, &entry, &len, 1, done, done_ud);
}

cu_gateway_audit cu_gateway_audit_ledger(cu_ledger *l)
{
    return (cu_gateway_audit){.append = al_append, .size = al_size, .ud = l, .submit = al_submit};
}
