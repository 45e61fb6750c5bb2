/*
 * Cedar integration-test files: a JSON object naming a policy file, an
 * entity file and a schema, with requests and the answers Cedar gives
 * (decision, the deciding policies and the erroring policies).  Used by
 * `custos policy test` and by the conformance and differential tests.
 *
 * Both spellings found upstream are accepted: "requests" or "queries",
 * "reason" or "reasons"; errors may be policy ids or objects with one.
 * Reasons and errors compare as sets of policy ids (Cedar's messages are
 * not compared).  A schema this reader cannot parse is reported with each
 * failing request and the file runs untyped.
 */
#include "policy_int.h"

#include <stdio.h>
#include <string.h>

#define TESTFILE_MAX (16u << 20)

static cu_rc read_rel(const char *base, const char *rel, size_t max, char **out, size_t *len)
{
    char path[4096];
    if (base && base[0] && rel[0] != '/')
        snprintf(path, sizeof path, "%s/%s", base, rel);
    else
        snprintf(path, sizeof path, "%s", rel);
    cu_rc rc = cu_file_read(path, max, out, len);
    if (rc != CU_OK)
        cu_err_prefix("%s", path);
    return rc;
}

static const char *err_id(const json_t *e)
{
    if (json_is_string(e))
        return json_string_value(e);
    if (json_is_object(e)) {
        static const char *keys[] = {"policyId", "policy_id", "id", "policy"};
        for (size_t i = 0; i < 4; i++) {
            const json_t *v = json_object_get(e, keys[i]);
            if (json_is_string(v))
                return json_string_value(v);
        }
    }
    return NULL;
}

/* Does the JSON list of ids equal the set of ids? */
static bool same_ids(const json_t *want, const char *const *got, size_t ngot, bool errors,
                     const cu_policy_error *gerr)
{
    size_t nw = json_is_array(want) ? json_array_size(want) : 0;
    for (size_t i = 0; i < nw; i++) {
        const char *w = err_id(json_array_get(want, i));
        bool found = false;
        for (size_t k = 0; k < ngot && !found; k++)
            found = w && strcmp(w, errors ? gerr[k].policy_id : got[k]) == 0;
        if (!found)
            return false;
    }
    for (size_t k = 0; k < ngot; k++) {
        bool found = false;
        const char *g = errors ? gerr[k].policy_id : got[k];
        for (size_t i = 0; i < nw && !found; i++) {
            const char *w = err_id(json_array_get(want, i));
            found = w && strcmp(w, g) == 0;
        }
        if (!found)
            return false;
    }
    return true;
}

static cu_rc list_json(cu_buf *b, const json_t *want)
{
    cu_rc rc = cu_buf_appends(b, "[");
    for (size_t i = 0; json_is_array(want) && i < json_array_size(want) && rc == CU_OK; i++) {
        const char *w = err_id(json_array_get(want, i));
        rc = cu_buf_appendf(b, "%s%s", i ? " " : "", w ? w : "?");
    }
    return rc != CU_OK ? rc : cu_buf_appends(b, "]");
}

cu_rc cu_policy_testfile_run(const char *path, const char *base_dir, cu_buf *report, size_t *passed,
                             size_t *failed)
{
    char *text = NULL, *ptext = NULL, *etext = NULL, *stext = NULL;
    size_t tlen, plen, elen, slen;
    json_t *root = NULL;
    cu_policy_set *set = NULL;
    cu_policy_schema *schema = NULL;
    cu_policy_entities *ents = NULL;
    cu_arena *scratch = NULL;
    char schema_note[300] = "";
    cu_rc rc = cu_file_read(path, TESTFILE_MAX, &text, &tlen);
    if (rc != CU_OK) {
        cu_err_prefix("%s", path);
        goto fail;
    }
    json_error_t je;
    root = pol_json_loadb(text, tlen, 0, &je);
    if (!root || !json_is_object(root)) {
        rc = cu_err_set(CU_ERR_PARSE, "%s:%d:%d: %s", path, je.line, je.column,
                        root ? "not a JSON object" : je.text);
        goto fail;
    }
    const json_t *jp = json_object_get(root, "policies"), *je_ = json_object_get(root, "entities");
    const json_t *js = json_object_get(root, "schema");
    const json_t *reqs = json_object_get(root, "requests");
    if (!reqs)
        reqs = json_object_get(root, "queries");
    if (!json_is_string(jp) || !json_is_string(je_) || !json_is_array(reqs)) {
        rc = cu_err_set(CU_ERR_PARSE, "%s: needs \"policies\", \"entities\" and \"requests\"", path);
        goto fail;
    }
    rc = read_rel(base_dir, json_string_value(jp), CU_POLICY_MAX_TEXT, &ptext, &plen);
    if (rc == CU_OK)
        rc = cu_policy_set_parse(ptext, plen, json_string_value(jp), &set);
    if (rc != CU_OK) {
        cu_err_prefix("%s", path);
        goto unusable;
    }
    if (json_is_string(js)) {
        rc = read_rel(base_dir, json_string_value(js), CU_POLICY_MAX_SCHEMA, &stext, &slen);
        if (rc == CU_OK)
            rc = cu_policy_schema_parse(stext, slen, json_string_value(js), &schema);
        if (rc != CU_OK) {
            snprintf(schema_note, sizeof schema_note, " (schema not used: %s)", cu_err_detail());
            schema = NULL;
        }
    }
    rc = read_rel(base_dir, json_string_value(je_), CU_POLICY_MAX_ENTITIES_JSON, &etext, &elen);
    if (rc == CU_OK)
        rc = cu_policy_entities_parse_json(etext, elen, schema, &ents);
    if (rc != CU_OK) {
        cu_err_prefix("%s", path);
        goto unusable;
    }
    scratch = cu_arena_new(64 * 1024, 64u << 20);
    if (!scratch) {
        rc = cu_err_set(CU_ERR_NOMEM, "out of memory");
        goto fail;
    }
    size_t i;
    json_t *rq;
    json_array_foreach(reqs, i, rq)
    {
        cu_arena_reset(scratch);
        const json_t *desc = json_object_get(rq, "description");
        const char *d = json_is_string(desc) ? json_string_value(desc) : "";
        const json_t *wd = json_object_get(rq, "decision");
        const json_t *wr = json_object_get(rq, "reason");
        if (!wr)
            wr = json_object_get(rq, "reasons");
        const json_t *we = json_object_get(rq, "errors");
        cu_policy_request *req;
        cu_policy_answer ans;
        cu_rc r2 = pol_request_from_json(rq, schema, scratch, &req);
        if (r2 == CU_OK)
            r2 = cu_policy_eval(set, ents, req, scratch, &ans);
        if (r2 != CU_OK) {
            (*failed)++;
            rc = cu_buf_appendf(report, "%s: request %zu (%s): %s%s\n", path, i, d, cu_err_detail(), schema_note);
            if (rc != CU_OK)
                goto fail;
            continue;
        }
        bool want_allow = json_is_string(wd) && strcmp(json_string_value(wd), "allow") == 0;
        bool ok = json_is_string(wd) && want_allow == ans.allow &&
                  same_ids(wr, ans.reasons, ans.n_reasons, false, NULL) &&
                  same_ids(we, NULL, ans.n_errors, true, ans.errors);
        if (ok) {
            (*passed)++;
            continue;
        }
        (*failed)++;
        rc = cu_buf_appendf(report, "%s: request %zu (%s): want %s ", path, i, d,
                            json_is_string(wd) ? json_string_value(wd) : "?");
        if (rc == CU_OK)
            rc = list_json(report, wr);
        if (rc == CU_OK)
            rc = cu_buf_appends(report, " errors ");
        if (rc == CU_OK)
            rc = list_json(report, we);
        if (rc == CU_OK)
            rc = cu_buf_appendf(report, ", got %s [", ans.allow ? "allow" : "deny");
        for (size_t k = 0; k < ans.n_reasons && rc == CU_OK; k++)
            rc = cu_buf_appendf(report, "%s%s", k ? " " : "", ans.reasons[k]);
        if (rc == CU_OK)
            rc = cu_buf_appends(report, "] errors [");
        for (size_t k = 0; k < ans.n_errors && rc == CU_OK; k++)
            rc = cu_buf_appendf(report, "%s%s: %s", k ? "; " : "", ans.errors[k].policy_id, ans.errors[k].message);
        if (rc == CU_OK)
            rc = cu_buf_appendf(report, "]%s\n", schema_note);
        if (rc != CU_OK)
            goto fail;
    }
    rc = CU_OK;
    goto fail;
unusable:
    /* the policies or entities could not be read: every request of the
     * file has failed (the caller counts a file it could not read at all) */
    *failed += json_array_size(reqs);
fail:
    cu_arena_free(scratch);
    cu_policy_entities_free(ents);
    cu_policy_schema_free(schema);
    cu_policy_set_release(set);
    json_decref(root);
    cu_free(text);
    cu_free(ptext);
    cu_free(etext);
    cu_free(stext);
    return rc;
}
