/* Importers: the mapping file, building interchange events from parsed
 * lines, and the driver over a whole file.
 *
 * Invariants:
 * 1. Every event written has been re-read by cu_event_parse (the same
 *    parser replay uses) and is not earlier than the event before it: the
 *    output is always a valid, replayable events file.
 * 2. A line is written whole or not at all; on any error what was written
 *    before is flushed (and fsynced when it is a file) before returning.
 * 3. Messages name the file and line (of the input, or of the map).
 */
#include "custos/import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { M_ID, M_TS, M_OFFICER, M_SYSTEM, M_ACTION, M_RECORD, M_SUBJECTS, M_PURPOSE, M_CASE, M_TERMINAL, M_AREA,
       M_OUTCOME, M_RESULTS, M_N };
static const char *const mfields[M_N] = {"id", "ts", "officer", "system", "action", "record", "subjects",
                                         "purpose", "case", "terminal", "area", "outcome", "results"};

enum { TS_RFC3339, TS_EPOCH, TS_EPOCH_MS, TS_STRPTIME };

struct src {
    bool set, constant;
    char *text;   /* constant text, column/field name */
    char *group;  /* syslog SD-ID when given as sd:ID:PARAM */
    int col;      /* CSV column index once bound (-1: not yet) */
};

struct vmap {
    int field;
    char *from, *to;
};

#define MAX_VMAP 1024

struct cu_import_map {
    struct src s[M_N];
    bool header;
    char delim;
    char sep;
    int tsfmt;
    char *strp;
    struct vmap vm[MAX_VMAP];
    size_t nvm;
};

void cu_import_map_free(cu_import_map *m)
{
    if (!m)
        return;
    for (int i = 0; i < M_N; i++) {
        cu_free(m->s[i].text);
        cu_free(m->s[i].group);
    }
    for (size_t i = 0; i < m->nvm; i++) {
        cu_free(m->vm[i].from);
        cu_free(m->vm[i].to);
    }
    cu_free(m->strp);
    cu_free(m);
}

static int field_index(const char *s, size_t n)
{
    for (int i = 0; i < M_N; i++)
        if (strlen(mfields[i]) == n && memcmp(mfields[i], s, n) == 0)
            return i;
    return -1;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

cu_rc cu_import_map_parse(const char *text, size_t len, const char *name, cu_import_map **out)
{
    if (len > CU_IMPORT_MAX_MAP)
        return cu_err_set(CU_ERR_TOOBIG, "%s: mapping file larger than %d bytes", name, CU_IMPORT_MAX_MAP);
    cu_import_map *m = cu_calloc(1, sizeof *m);
    if (!m)
        return CU_ERR_NOMEM;
    m->delim = ',';
    m->sep = ';';
    m->header = true;
    for (int i = 0; i < M_N; i++)
        m->s[i].col = -1;
    cu_rc rc = CU_OK;
    size_t pos = 0;
    unsigned ln = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        ln++;
        trim(&line, &n);
        if (n == 0 || line[0] == '#')
            continue;
        const char *eq = memchr(line, '=', n);
        if (!eq) {
            rc = cu_err_set(CU_ERR_PARSE, "%s:%u: expected KEY = VALUE", name, ln);
            goto fail;
        }
        const char *k = line, *v = eq + 1;
        size_t kn = (size_t)(eq - line), vn = n - kn - 1;
        trim(&k, &kn);
        trim(&v, &vn);
        bool quoted = vn >= 2 && v[0] == '"' && v[vn - 1] == '"';
        if (quoted) {
            v++;
            vn -= 2;
        }
        if (memchr(v, '\0', vn)) {
            rc = cu_err_set(CU_ERR_PARSE, "%s:%u: NUL byte", name, ln);
            goto fail;
        }
        int f;
        if (kn == 6 && memcmp(k, "header", 6) == 0) {
            if (vn == 3 && memcmp(v, "yes", 3) == 0)
                m->header = true;
            else if (vn == 2 && memcmp(v, "no", 2) == 0)
                m->header = false;
            else {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: header must be yes or no", name, ln);
                goto fail;
            }
        } else if (kn == 9 && memcmp(k, "delimiter", 9) == 0) {
            if (vn == 3 && memcmp(v, "tab", 3) == 0)
                m->delim = '\t';
            else if (vn == 1 && v[0] != '"' && v[0] != '\r' && v[0] != '\n')
                m->delim = v[0];
            else {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: delimiter must be one character or tab", name, ln);
                goto fail;
            }
        } else if (kn == 12 && memcmp(k, "subjects.sep", 12) == 0) {
            if (vn != 1) {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: subjects.sep must be one character", name, ln);
                goto fail;
            }
            m->sep = v[0];
        } else if (kn == 9 && memcmp(k, "ts.format", 9) == 0) {
            if (vn == 7 && memcmp(v, "rfc3339", 7) == 0)
                m->tsfmt = TS_RFC3339;
            else if (vn == 5 && memcmp(v, "epoch", 5) == 0)
                m->tsfmt = TS_EPOCH;
            else if (vn == 8 && memcmp(v, "epoch_ms", 8) == 0)
                m->tsfmt = TS_EPOCH_MS;
            else if (vn > 9 && memcmp(v, "strptime:", 9) == 0) {
                m->tsfmt = TS_STRPTIME;
                cu_free(m->strp);
                if (!(m->strp = cu_strndup(v + 9, vn - 9))) {
                    rc = CU_ERR_NOMEM;
                    goto fail;
                }
            } else {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: ts.format must be rfc3339, epoch, epoch_ms or strptime:FORMAT",
                                name, ln);
                goto fail;
            }
        } else if (kn > 4 && memcmp(k, "map.", 4) == 0) {
            const char *dot = memchr(k + 4, '.', kn - 4);
            int fi = dot ? field_index(k + 4, (size_t)(dot - k - 4)) : -1;
            if (fi < 0 || (size_t)(dot - k) + 1 >= kn) {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: expected map.FIELD.FROM = TO", name, ln);
                goto fail;
            }
            if (m->nvm >= MAX_VMAP) {
                rc = cu_err_set(CU_ERR_TOOBIG, "%s:%u: more than %d value maps", name, ln, MAX_VMAP);
                goto fail;
            }
            struct vmap *x = &m->vm[m->nvm];
            x->field = fi;
            x->from = cu_strndup(dot + 1, kn - (size_t)(dot - k) - 1);
            x->to = cu_strndup(v, vn);
            m->nvm++;
            if (!x->from || !x->to) {
                rc = CU_ERR_NOMEM;
                goto fail;
            }
        } else if ((f = field_index(k, kn)) >= 0) {
            struct src *s = &m->s[f];
            if (s->set) {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: %s mapped twice", name, ln, mfields[f]);
                goto fail;
            }
            if (vn == 0) {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: empty source for %s", name, ln, mfields[f]);
                goto fail;
            }
            s->set = true;
            s->constant = quoted;
            if (!quoted && vn > 3 && memcmp(v, "sd:", 3) == 0) {
                const char *c2 = memchr(v + 3, ':', vn - 3);
                if (!c2 || c2 == v + 3 || (size_t)(c2 - v) + 1 >= vn) {
                    rc = cu_err_set(CU_ERR_PARSE, "%s:%u: expected sd:SD-ID:PARAM", name, ln);
                    goto fail;
                }
                s->group = cu_strndup(v + 3, (size_t)(c2 - v - 3));
                s->text = cu_strndup(c2 + 1, vn - (size_t)(c2 - v) - 1);
                if (!s->group) {
                    rc = CU_ERR_NOMEM;
                    goto fail;
                }
            } else {
                s->text = cu_strndup(v, vn);
            }
            if (!s->text) {
                rc = CU_ERR_NOMEM;
                goto fail;
            }
            if (!quoted && s->text[0] == '#') {
                char *end;
                long c = strtol(s->text + 1, &end, 10);
                if (*end || c < 1 || c > CU_IMPORT_MAX_FIELDS) {
                    rc = cu_err_set(CU_ERR_PARSE, "%s:%u: bad column number %s", name, ln, s->text);
                    goto fail;
                }
                s->col = (int)c - 1;
            }
        } else {
            rc = cu_err_set(CU_ERR_PARSE, "%s:%u: unknown key \"%.*s\"", name, ln, (int)(kn > 40 ? 40 : kn), k);
            goto fail;
        }
    }
    static const int required[] = {M_ID, M_TS, M_OFFICER, M_SYSTEM, M_ACTION, M_OUTCOME};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!m->s[required[i]].set) {
            rc = cu_err_set(CU_ERR_PARSE, "%s: no source for the required field %s (a constant may be given as \"text\")",
                            name, mfields[required[i]]);
            goto fail;
        }
    *out = m;
    return CU_OK;
fail:
    cu_import_map_free(m);
    return rc;
}

cu_rc cu_import_map_load(const char *path, cu_import_map **out)
{
    char *text;
    size_t len;
    cu_rc rc = cu_file_read(path, CU_IMPORT_MAX_MAP, &text, &len);
    if (rc)
        return rc;
    rc = cu_import_map_parse(text, len, path, out);
    cu_free(text);
    return rc;
}

bool cu_import_map_has_header(const cu_import_map *m) { return m->header; }
char cu_import_map_delim(const cu_import_map *m) { return m->delim; }

cu_rc cu_import_map_bind_header(cu_import_map *m, const cu_import_rec *h)
{
    for (int f = 0; f < M_N; f++) {
        struct src *s = &m->s[f];
        if (!s->set || s->constant || s->col >= 0)
            continue;
        for (uint32_t i = 0; i < h->n; i++)
            if (strcmp(h->f[i].value, s->text) == 0) {
                s->col = (int)i;
                break;
            }
        if (s->col < 0)
            return cu_err_set(CU_ERR_NOTFOUND, "the header has no column \"%s\" (for %s)", s->text, mfields[f]);
    }
    return CU_OK;
}

/* The value for field f, or NULL when missing or empty. */
static const char *value_of(const cu_import_map *m, const cu_import_rec *r, int f)
{
    const struct src *s = &m->s[f];
    const char *v = NULL;
    if (!s->set)
        return NULL;
    if (s->constant) {
        v = s->text;
    } else if (s->col >= 0) {
        v = (uint32_t)s->col < r->n ? r->f[s->col].value : NULL;
    } else {
        for (uint32_t i = 0; i < r->n; i++)
            if (strcmp(r->f[i].name, s->text) == 0 && (!s->group || strcmp(r->f[i].group, s->group) == 0)) {
                v = r->f[i].value;
                break;
            }
    }
    if (v)
        for (size_t i = 0; i < m->nvm; i++)
            if (m->vm[i].field == f && strcmp(m->vm[i].from, v) == 0) {
                v = m->vm[i].to;
                break;
            }
    return v && *v ? v : NULL;
}

static cu_rc conv_time(const cu_import_map *m, const char *v, int64_t *t)
{
    char *end;
    switch (m->tsfmt) {
    case TS_EPOCH:
    case TS_EPOCH_MS: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || *end || end == v)
            return cu_err_set(CU_ERR_PARSE, "ts \"%.40s\" is not a whole number", v);
        *t = m->tsfmt == TS_EPOCH ? x : x / 1000;
        return CU_OK;
    }
    case TS_STRPTIME: {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        end = strptime(v, m->strp, &tm);
        if (!end || *end)
            return cu_err_set(CU_ERR_PARSE, "ts \"%.40s\" does not match \"%s\"", v, m->strp);
        *t = (int64_t)timegm(&tm);
        return CU_OK;
    }
    default:
        if (cu_time_parse(v, strlen(v), t))
            return cu_err_set(CU_ERR_PARSE, "ts \"%.40s\" is not RFC 3339", v);
        return CU_OK;
    }
}

cu_rc cu_import_build(const cu_import_map *m, const cu_import_rec *r, cu_buf *out)
{
    const char *v[M_N];
    for (int f = 0; f < M_N; f++)
        v[f] = value_of(m, r, f);
    static const int required[] = {M_ID, M_TS, M_OFFICER, M_SYSTEM, M_ACTION, M_OUTCOME};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!v[required[i]])
            return cu_err_set(CU_ERR_PARSE, "no value for %s (from %s)", mfields[required[i]],
                              m->s[required[i]].text);
    int64_t t;
    cu_rc rc = conv_time(m, v[M_TS], &t);
    if (rc)
        return rc;
    char ts[21];
    cu_time_format(t, ts);
    cu_buf_reset(out);
    if ((rc = cu_buf_appends(out, "{\"kind\":\"access\",\"id\":")) || (rc = cu_json_put_str(out, v[M_ID], strlen(v[M_ID]))) ||
        (rc = cu_buf_appendf(out, ",\"ts\":\"%s\"", ts)))
        return rc;
    static const int strs[] = {M_OFFICER, M_SYSTEM, M_ACTION, M_RECORD, M_PURPOSE, M_CASE, M_TERMINAL, M_AREA, M_OUTCOME};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        int f = strs[i];
        if ((rc = cu_buf_appendf(out, ",\"%s\":", mfields[f])))
            return rc;
        rc = v[f] ? cu_json_put_str(out, v[f], strlen(v[f])) : cu_buf_appends(out, "null");
        if (rc)
            return rc;
    }
    if ((rc = cu_buf_appends(out, ",\"subjects\":[")))
        return rc;
    if (v[M_SUBJECTS]) {
        const char *p = v[M_SUBJECTS];
        bool first = true;
        while (*p) {
            const char *e = strchr(p, m->sep);
            size_t n = e ? (size_t)(e - p) : strlen(p);
            const char *s = p;
            trim(&s, &n);
            if (n) {
                if ((!first && (rc = cu_buf_append(out, ",", 1))) || (rc = cu_json_put_str(out, s, n)))
                    return rc;
                first = false;
            }
            if (!e)
                break;
            p = e + 1;
        }
    }
    if ((rc = cu_buf_appends(out, "]")))
        return rc;
    if (v[M_RESULTS]) {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(v[M_RESULTS], &end, 10);
        if (errno || *end || v[M_RESULTS][0] == '-' || x > UINT32_MAX)
            return cu_err_set(CU_ERR_PARSE, "results \"%.20s\" is not a whole number", v[M_RESULTS]);
        if ((rc = cu_buf_appendf(out, ",\"results\":%llu", x)))
            return rc;
    }
    return cu_buf_appends(out, "}\n");
}

cu_rc cu_import_format_parse(const char *s, cu_import_format *out)
{
    if (strcmp(s, "csv") == 0)
        *out = CU_IMPORT_CSV;
    else if (strcmp(s, "syslog") == 0)
        *out = CU_IMPORT_SYSLOG;
    else if (strcmp(s, "cef") == 0)
        *out = CU_IMPORT_CEF;
    else
        return cu_err_set(CU_ERR_INVAL, "unknown format \"%s\" (csv, syslog or cef)", s);
    return CU_OK;
}

/* ---------------------------------------------------------------- run */

static cu_rc flush_out(FILE *f, bool is_file, const char *name)
{
    if (fflush(f) != 0)
        return cu_err_set(CU_ERR_IO, "%s: write failed: %s", name, strerror(errno));
    if (is_file && fsync(fileno(f)) != 0)
        return cu_err_set(CU_ERR_IO, "%s: fsync failed: %s", name, strerror(errno));
    return CU_OK;
}

cu_rc cu_import_run(const cu_import_opts *o, cu_import_stats *st)
{
    memset(st, 0, sizeof *st);
    cu_import_map *m = NULL;
    cu_lines *in = NULL;
    cu_names *names = NULL;
    cu_import_rec *rec = NULL;
    FILE *out = NULL;
    bool is_file = o->output && strcmp(o->output, "-") != 0;
    const char *oname = is_file ? o->output : "stdout";
    cu_buf line;
    cu_buf_init(&line, CU_EVENT_MAX_LINE + 2);
    cu_id subj[CU_EVENT_MAX_SUBJECTS];
    cu_event ev = {.subjects = subj, .subjects_cap = CU_EVENT_MAX_SUBJECTS};
    int64_t last = INT64_MIN;
    uint64_t last_line = 0;
    bool header_pending;
    cu_rc rc;
    if ((rc = cu_import_map_load(o->map, &m)) || (rc = cu_names_new(&names)) ||
        (rc = cu_lines_open(o->input, CU_IMPORT_MAX_LINE, &in)))
        goto done;
    if (!(rec = cu_malloc(sizeof *rec))) {
        rc = CU_ERR_NOMEM;
        goto done;
    }
    out = is_file ? fopen(o->output, "w") : stdout;
    if (!out) {
        rc = cu_err_set(cu_rc_from_errno(errno), "%s: %s", o->output, strerror(errno));
        goto done;
    }
    header_pending = o->format == CU_IMPORT_CSV && cu_import_map_has_header(m);
    for (;;) {
        const char *text;
        size_t len;
        rc = cu_lines_next(in, &text, &len);
        if (rc == CU_ERR_NOTFOUND) {
            rc = CU_OK;
            break;
        }
        uint64_t ln = cu_lines_lineno(in);
        if (rc == CU_ERR_IO)
            goto done;
        if (rc == CU_OK) {
            size_t l = len;
            while (l && (text[l - 1] == '\r' || text[l - 1] == ' ' || text[l - 1] == '\t'))
                l--;
            if (l == 0)
                continue;
            st->lines++;
            switch (o->format) {
            case CU_IMPORT_CSV: rc = cu_import_csv_line(text, len, cu_import_map_delim(m), rec); break;
            case CU_IMPORT_SYSLOG: rc = cu_import_syslog_line(text, len, rec); break;
            default: rc = cu_import_cef_line(text, len, rec); break;
            }
            if (!rc && header_pending) {
                /* a bad header is fatal whatever --on-error says: no line could be mapped */
                rc = cu_import_map_bind_header(m, rec);
                if (rc) {
                    cu_err_prefix("%s:%llu", o->input, (unsigned long long)ln);
                    goto done;
                }
                header_pending = false;
                st->lines--;
                continue;
            }
            if (!rc)
                rc = cu_import_build(m, rec, &line);
            if (!rc)
                rc = cu_event_parse(names, line.data, line.len - 1, &ev);
            if (!rc && ev.ts < last) {
                char a[21], b[21];
                cu_time_format(ev.ts, a);
                cu_time_format(last, b);
                rc = cu_err_set(CU_ERR_ORDER, "event %s at %s is earlier than the event before it at %s (line %llu)",
                                ev.id, a, b, (unsigned long long)last_line);
            }
            if (!rc) {
                if (fwrite(line.data, 1, line.len, out) != line.len) {
                    rc = cu_err_set(CU_ERR_IO, "%s: write failed: %s", oname, strerror(errno));
                    goto done;
                }
                last = ev.ts;
                last_line = ln;
                st->accepted++;
                continue;
            }
            cu_err_prefix("%s:%llu", o->input, (unsigned long long)ln);
        }
        /* a bad line (TOOBIG from the reader already names file:line) */
        if (!o->skip_errors)
            goto done;
        st->skipped++;
        if (o->on_skip)
            o->on_skip(o->ud, cu_err_detail());
        rc = CU_OK;
    }
done:
    if (out) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", cu_err_detail());
        cu_rc frc = flush_out(out, is_file, oname);
        if (frc && !rc)
            rc = frc;
        else if (rc)
            cu_err_set(rc, "%s", keep);
        if (is_file)
            fclose(out);
    }
    cu_buf_free(&line);
    cu_free(rec);
    cu_lines_close(in);
    cu_names_free(names);
    cu_import_map_free(m);
    return rc;
}
