/* The ledger behind the pipeline's sink interface.
 *
 * DIR/ledger is a custos ledger (tlog-tiles, group commit).  A new data
 * directory gets a fresh log with its own signing key (kept by the ledger in
 * its private state); opening an existing one reads that key back.  At
 * close the log publishes a signed checkpoint covering every entry.
 *
 * A daemon shares one ledger between the pipeline, the gateway and the
 * console (cu_pipeline_ledger_open, cu_sink_ledger_shared): the pipeline
 * appends access entries, the others entries of their own types, which the
 * pipeline's recovery skips by type.
 *
 * Entries are access entries in the ledger's canonical encoding.  The
 * pipeline builds them with cu_ledger_entry_encode and the same fields, in
 * the same order, as cu_ledger_entry_encode_access, so that the commitment
 * of each person is computed once per person rather than once per event
 * (tests check the bytes are identical).
 */
#include "custos/ledger.h"
#include "custos/pipeline.h"

#include "pipeline/pipeline_int.h"

#include <errno.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define ORIGIN "custos.local/log"

static cu_rc l_append(void *ctx, const void *const *entries, const size_t *lens, size_t n, uint64_t *first)
{
    return cu_ledger_append_many(ctx, entries, lens, n, first);
}

static uint64_t l_size(void *ctx) { return cu_ledger_size(ctx); }

static cu_rc l_read(void *ctx, uint64_t index, cu_buf *out)
{
    cu_buf_reset(out);
    return cu_ledger_read_entry(ctx, index, out);
}

static const uint8_t *l_secret(void *ctx) { return cu_ledger_commit_secret(ctx); }

static void l_close(void *ctx)
{
    cu_ledger *l = ctx;
    if (!l)
        return;
    if (cu_ledger_size(l) != cu_ledger_published_size(l) && cu_ledger_publish(l, NULL))
        cu_log(CU_LOG_WARN, "ledger: publishing the final checkpoint failed: %s", cu_err_detail());
    cu_ledger_close(l);
}

static const cu_sink_ops ledger_ops = {
    .name = "ledger", .append_many = l_append, .size = l_size, .read_entry = l_read,
    .commit_secret = l_secret, .close = l_close,
};

/* A shared ledger: the daemon owns it (the gateway and the console append
 * to it too) and closes it after the pipeline. */
static void l_close_shared(void *ctx)
{
    cu_ledger *l = ctx;
    if (l && cu_ledger_size(l) != cu_ledger_published_size(l) && cu_ledger_publish(l, NULL))
        cu_log(CU_LOG_WARN, "ledger: publishing a checkpoint failed: %s", cu_err_detail());
}

static const cu_sink_ops shared_ops = {
    .name = "ledger (shared)", .append_many = l_append, .size = l_size, .read_entry = l_read,
    .commit_secret = l_secret, .close = l_close_shared,
};

void cu_sink_ledger_shared(cu_ledger *l, cu_sink *out)
{
    out->ops = &shared_ops;
    out->ctx = l;
}

cu_rc cu_sink_ledger_open(const char *dir, cu_sink *out)
{
    cu_ledger *l = NULL;
    cu_rc rc = cu_pipeline_ledger_open(dir, 0, &l);
    if (rc)
        return rc;
    out->ops = &ledger_ops;
    out->ctx = l;
    return CU_OK;
}

cu_rc cu_pipeline_ledger_open(const char *dir, unsigned commit_period_us, cu_ledger **out)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/ledger", dir) >= (int)sizeof path)
        return cu_err_set(CU_ERR_TOOBIG, "path too long");
    /* the data directory itself (and its parents) may not exist yet */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int e = mkdir(path, 0700) == 0 ? 0 : errno;
        *p = '/';
        if (e && e != EEXIST)
            return cu_err_set(cu_rc_from_errno(e), "mkdir %s: %s", dir, strerror(e));
    }
    return cu_pipeline_ledger_open_dir(path, ORIGIN, commit_period_us, out);
}

cu_rc cu_pipeline_ledger_open_dir(const char *path, const char *origin, unsigned commit_period_us, cu_ledger **out)
{
    char ck[4200];
    if (snprintf(ck, sizeof ck, "%s/checkpoint", path) >= (int)sizeof ck)
        return cu_err_set(CU_ERR_TOOBIG, "path too long");
    struct stat st;
    cu_rc rc;
    if (stat(ck, &st) != 0) {
        if (errno != ENOENT)
            return cu_err_set(cu_rc_from_errno(errno), "%s: %s", ck, strerror(errno));
        char *signer = NULL, *verifier = NULL;
        if ((rc = cu_note_keygen(origin, &signer, &verifier)))
            return rc;
        rc = cu_ledger_init(path, origin, signer);
        sodium_memzero(signer, strlen(signer));
        cu_free(signer);
        cu_free(verifier);
        if (rc)
            return rc;
    }
    char *key = NULL;
    if ((rc = cu_ledger_read_signer(path, &key)))
        return rc;
    cu_ledger_opts o = {.signer_key = key, .commit_period_us = commit_period_us};
    rc = cu_ledger_open(path, &o, out);
    sodium_memzero(key, strlen(key));
    cu_free(key);
    return rc;
}

/* ----------------------------------------------------------- entries */

cu_rc cu_entry_encode(const cu_names *n, const cu_event *ev, cu_commit_fn commit, void *ud, uint8_t *out, size_t cap,
                      size_t *len)
{
    static const char *const actions[CU_ACT_COUNT_] = {"search", "view", "update", "export",
                                                       "print", "disclose", "login", "logout"};
    if (ev->nsubjects > CU_LEDGER_MAX_SUBJECTS)
        return cu_err_set(CU_ERR_TOOBIG, "event %s: %u people, the log takes at most %d", ev->id, ev->nsubjects,
                          CU_LEDGER_MAX_SUBJECTS);
    uint8_t subj[CU_LEDGER_MAX_SUBJECTS * CU_HASH_LEN];
    for (uint32_t i = 0; i < ev->nsubjects; i++) {
        cu_rc rc = commit(ud, ev->subjects[i], subj + (size_t)i * CU_HASH_LEN);
        if (rc)
            return rc;
    }
    const char *act = actions[ev->action < CU_ACT_COUNT_ ? ev->action : 0];
    cu_ledger_field f[12];
    /* lengths from the names table (no strlen on the hot path) */
    f[0] = (cu_ledger_field){CU_LEDGER_F_ID, ev->id, ev->id_len};
    f[3] = (cu_ledger_field){(uint8_t)(CU_LEDGER_F_ID + 3), act, strlen(act)};
    static const struct {
        int slot;
        cu_idkind k;
        size_t off;
    } ids[7] = {
        {1, CU_K_OFFICER, offsetof(cu_event, officer)}, {2, CU_K_SYSTEM, offsetof(cu_event, system)},
        {4, CU_K_RECORD, offsetof(cu_event, record)},   {5, CU_K_PURPOSE, offsetof(cu_event, purpose)},
        {6, CU_K_CASE, offsetof(cu_event, case_id)},    {7, CU_K_TERMINAL, offsetof(cu_event, terminal)},
        {8, CU_K_AREA, offsetof(cu_event, area)},
    };
    for (int i = 0; i < 7; i++) {
        size_t sl;
        const char *s = cu_names_str_len(n, ids[i].k, *(const cu_id *)((const char *)ev + ids[i].off), &sl);
        f[ids[i].slot] = (cu_ledger_field){(uint8_t)(CU_LEDGER_F_ID + ids[i].slot), s, sl};
    }
    uint8_t outcome = ev->outcome == CU_OUT_DENY ? 2 : 1, results[4];
    cu_put_be32(results, ev->has_results ? ev->results : 0);
    f[9] = (cu_ledger_field){CU_LEDGER_F_OUTCOME, &outcome, 1};
    f[10] = (cu_ledger_field){CU_LEDGER_F_RESULTS, results, 4};
    f[11] = (cu_ledger_field){CU_LEDGER_F_SUBJECTS, subj, (size_t)ev->nsubjects * CU_HASH_LEN};
    return cu_ledger_entry_encode(CU_LEDGER_ACCESS, ev->ts, f, 12, out, cap, len);
}

cu_rc cu_entry_decode(const uint8_t *p, size_t len, cu_entry_view *v)
{
    memset(v, 0, sizeof *v);
    cu_ledger_entry e;
    cu_rc rc = cu_ledger_entry_decode(p, len, &e);
    if (rc)
        return rc;
    if (e.type != CU_LEDGER_ACCESS)
        return cu_err_set(CU_ERR_TYPE, "log entry of type %u is not an access", e.type);
    v->ts = e.ts;
    static const uint8_t tags[8] = {CU_LEDGER_F_ID, CU_LEDGER_F_OFFICER, CU_LEDGER_F_SYSTEM, CU_LEDGER_F_RECORD,
                                    CU_LEDGER_F_PURPOSE, CU_LEDGER_F_CASE, CU_LEDGER_F_TERMINAL, CU_LEDGER_F_AREA};
    for (int i = 0; i < 8; i++) {
        const cu_ledger_field *f = cu_ledger_entry_field(&e, tags[i]);
        if (f && f->len > CU_ID_MAX_LEN)
            return cu_err_set(CU_ERR_CORRUPT, "log entry: id longer than %d bytes", CU_ID_MAX_LEN);
        v->str[i] = f ? f->data : NULL;
        v->len[i] = f ? (uint8_t)f->len : 0;
    }
    const cu_ledger_field *act = cu_ledger_entry_field(&e, CU_LEDGER_F_ACTION);
    cu_action a;
    if (!act || cu_action_parse(act->data, act->len, &a))
        return cu_err_set(CU_ERR_CORRUPT, "log entry: unknown action");
    v->action = (uint8_t)a;
    const cu_ledger_field *oc = cu_ledger_entry_field(&e, CU_LEDGER_F_OUTCOME);
    v->outcome = oc && ((const uint8_t *)oc->data)[0] == 2 ? CU_OUT_DENY : CU_OUT_ALLOW;
    const cu_ledger_field *rs = cu_ledger_entry_field(&e, CU_LEDGER_F_RESULTS);
    if (rs) {
        v->has_results = true;
        v->results = cu_get_be32(rs->data);
    }
    const cu_ledger_field *sj = cu_ledger_entry_field(&e, CU_LEDGER_F_SUBJECTS);
    if (sj) {
        v->nsubjects = (uint32_t)(sj->len / CU_HASH_LEN);
        v->subjects = sj->data;
    }
    return CU_OK;
}

bool cu_sink_read_range(const cu_sink *s, uint64_t first, uint64_t n,
                        cu_rc (*fn)(void *ud, uint64_t index, const void *entry, size_t len), void *ud, cu_rc *rc)
{
    if (s->ops != &ledger_ops && s->ops != &shared_ops)
        return false;
    *rc = cu_ledger_read_range(s->ctx, first, n, fn, ud);
    return true;
}
