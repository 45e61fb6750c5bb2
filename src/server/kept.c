/* The reference updates kept in a data directory (DATA/reference-updates):
 * NNNNNNNN.jsonl, numbered from 1, each an update's lines, and beside an
 * update that took effect NNNNNNNN.at, the log position it took effect at
 * (the log's size then: the access events before it were detected on the
 * data before the update, those from it on the data after).  A .at file is
 * written only after its .jsonl was rewritten to hold exactly the lines
 * taken, so an update with a position is replayed line for line.
 *
 * Invariants:
 * 1. The updates are numbered 1..n without a gap (else CU_ERR_CORRUPT).
 * 2. Only a prefix of them is "positioned": from the first update without
 *    a .at on, none counts as positioned, so applying the positioned ones
 *    during the warm start and the rest after it keeps their order.
 * 3. Positions never go back (else the positioned prefix ends there).
 * 4. cu_kept_warm applies updates in order, each once; cu_kept_applied
 *    says how many it has applied (a prefix of 1..n). */
#include "custos/server.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct cu_kept {
    char *dir;
    cu_ref *ref;     /* the pipeline's reference data, for cu_kept_warm */
    size_t n;        /* updates 1..n */
    size_t npos;     /* updates 1..npos are positioned (invariant 2) */
    uint64_t *at;    /* at[k]: the position of update k + 1 (k < npos) */
    size_t applied;  /* updates 1..applied applied by cu_kept_warm */
    size_t refused;  /* lines cu_kept_warm could not apply */
};

/* Whether name is NNNNNNNN.jsonl; its number. */
static bool kept_name(const char *name, unsigned long *seq)
{
    if (strlen(name) != 14 || strcmp(name + 8, ".jsonl") != 0)
        return false;
    for (int i = 0; i < 8; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    *seq = strtoul(name, NULL, 10);
    return *seq > 0;
}

void cu_kept_path(const char *dir, size_t seq, const char *ext, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%08zu.%s", dir, seq, ext);
}

bool cu_kept_parse_at(const char *text, size_t len, uint64_t *at)
{
    /* decimal digits, then one newline or nothing; no sign, no spaces */
    size_t n = len && text[len - 1] == '\n' ? len - 1 : len;
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        unsigned d = (unsigned)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false; /* past 2^64 - 1 */
        v = v * 10 + d;
    }
    *at = v;
    return true;
}

/* The position in DIR/NNNNNNNN.at: false when there is none or it does not read. */
static bool read_at(const char *dir, size_t seq, uint64_t *at)
{
    char path[4200], *text = NULL;
    size_t len = 0;
    cu_kept_path(dir, seq, "at", path, sizeof path);
    struct stat sb;
    if (stat(path, &sb) != 0 || cu_file_read(path, 64, &text, &len) != CU_OK)
        return false;
    bool ok = cu_kept_parse_at(text, len, at);
    cu_free(text);
    return ok;
}

cu_rc cu_kept_open(const char *data_dir, cu_ref *ref, cu_kept **out)
{
    *out = NULL;
    cu_rc rc = CU_OK;
    cu_kept *k = cu_calloc(1, sizeof *k);
    if (!k)
        return CU_ERR_NOMEM;
    k->ref = ref;
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/reference-updates", data_dir) >= (int)sizeof dir) {
        rc = cu_err_set(CU_ERR_TOOBIG, "path too long");
        goto fail;
    }
    if (!(k->dir = cu_strdup(dir))) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = cu_err_set(cu_rc_from_errno(errno), "%s: %s", dir, strerror(errno));
        goto fail;
    }
    DIR *d = opendir(dir);
    if (!d) {
        rc = cu_err_set(cu_rc_from_errno(errno), "%s: %s", dir, strerror(errno));
        goto fail;
    }
    /* invariant 1: count them and find the highest; 1..n must all be there */
    struct dirent *de;
    unsigned long seq, max = 0;
    size_t count = 0;
    while ((de = readdir(d)))
        if (kept_name(de->d_name, &seq)) {
            count++;
            if (seq > max)
                max = seq;
        }
    closedir(d);
    if (max != count) {
        /* the first missing number, for the message */
        size_t miss = 1;
        char path[4200];
        struct stat sb;
        for (; miss <= max; miss++) {
            cu_kept_path(dir, miss, "jsonl", path, sizeof path);
            if (stat(path, &sb) != 0)
                break;
        }
        rc = cu_err_set(CU_ERR_CORRUPT, "%s: reference update %zu is missing", path, miss);
        goto fail;
    }
    k->n = count;
    if (count && !(k->at = cu_calloc(count, sizeof *k->at))) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    /* invariants 2 and 3: the positioned prefix */
    for (size_t i = 0; i < count; i++) {
        uint64_t at;
        if (!read_at(dir, i + 1, &at) || (i && at < k->at[i - 1]))
            break;
        k->at[i] = at;
        k->npos = i + 1;
    }
    *out = k;
    return CU_OK;
fail:
    cu_kept_free(k);
    return rc;
}

void cu_kept_free(cu_kept *k)
{
    if (!k)
        return;
    cu_free(k->dir);
    cu_free(k->at);
    cu_free(k);
}

const char *cu_kept_dir(const cu_kept *k) { return k->dir; }
size_t cu_kept_count(const cu_kept *k) { return k->n; }
size_t cu_kept_positioned(const cu_kept *k) { return k->npos; }
size_t cu_kept_applied(const cu_kept *k) { return k->applied; }
size_t cu_kept_refused(const cu_kept *k) { return k->refused; }

cu_rc cu_kept_read(const cu_kept *k, size_t seq, char **text, size_t *len, char *path, size_t cap)
{
    cu_kept_path(k->dir, seq, "jsonl", path, cap);
    return cu_file_read(path, CU_EVENTS_MAX_BODY, text, len);
}

/* Apply update number seq's lines to the reference data, each as the
 * gateway handed it to its peer (a trailing '\r' off, blank lines
 * skipped; a kept file holds only lines taken, so neither is expected). */
static cu_rc apply_one(cu_kept *k, size_t seq)
{
    char path[4200];
    cu_kept_path(k->dir, seq, "jsonl", path, sizeof path);
    cu_lines *lr = NULL;
    cu_rc rc = cu_lines_open(path, CU_EVENT_MAX_LINE, &lr);
    const char *line;
    size_t n;
    while (!rc) {
        cu_rc lc = cu_lines_next(lr, &line, &n);
        if (lc == CU_ERR_NOTFOUND)
            break;
        if (lc == CU_OK && n && line[n - 1] == '\r')
            n--;
        if (lc == CU_OK && !n)
            continue;
        if (lc == CU_ERR_IO) {
            rc = lc;
        } else if (lc || cu_ref_update_check(k->ref, line, n, cu_lines_lineno(lr)) != CU_OK) {
            /* taken when it was posted, refused now: the data before it differ */
            cu_log(CU_LOG_WARN, "reference update %s:%llu no longer applies: %s", path,
                   (unsigned long long)cu_lines_lineno(lr), cu_err_detail());
            k->refused++;
        } else {
            rc = cu_ref_update_apply(k->ref);
        }
    }
    cu_lines_close(lr);
    return rc;
}

uint64_t cu_kept_next(void *ud)
{
    const cu_kept *k = ud;
    return k->applied < k->npos ? k->at[k->applied] : UINT64_MAX;
}

cu_rc cu_kept_warm(void *ud, uint64_t entry, bool *changed)
{
    cu_kept *k = ud;
    cu_rc rc = CU_OK;
    while (!rc && k->applied < k->npos && k->at[k->applied] <= entry) {
        rc = apply_one(k, k->applied + 1);
        if (!rc) {
            k->applied++;
            *changed = true;
        }
    }
    return rc;
}
