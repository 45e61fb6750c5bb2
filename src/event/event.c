/* Access events: parsing one interchange line, writing it back, reading a
 * file of them in time order.
 *
 * Invariants:
 * 1. A parsed event holds only interned ids, an inline event id and
 *    subjects in the caller's storage: parsing allocates nothing except when
 *    a new id is interned.
 * 2. Required fields are present with the right type; a field given twice is
 *    an error (a second value could hide the first from one reader and not
 *    another); unknown fields are ignored.
 * 3. The reader never returns an event earlier than the one before it.
 */
#include "custos/event.h"

#include "event/event_int.h"
#include "event/json_int.h"

#include <stdio.h>
#include <string.h>

static const char *const action_names[CU_ACT_COUNT_] = {"search", "view", "update", "export",
                                                        "print", "disclose", "login", "logout"};

const char *cu_action_name(cu_action a) { return (unsigned)a < CU_ACT_COUNT_ ? action_names[a] : "?"; }

cu_rc cu_action_parse(const char *s, size_t len, cu_action *out)
{
    for (int i = 0; i < CU_ACT_COUNT_; i++)
        if (strlen(action_names[i]) == len && memcmp(action_names[i], s, len) == 0) {
            *out = (cu_action)i;
            return CU_OK;
        }
    return cu_err_set(CU_ERR_INVAL, "unknown action \"%.*s\"", (int)(len > 32 ? 32 : len), s);
}

/* ------------------------------------------------------- field helpers */

/* The text of a string value: the raw span when it has no escapes, else
 * decoded into buf.  Errors name the field. */
cu_rc cu_ev_str(const cu_jval *v, const char *field, char *buf, size_t cap, const char **s, size_t *len)
{
    if (v->type != CU_JT_STRING)
        return cu_err_set(CU_ERR_TYPE, "\"%s\" must be a string", field);
    if (!v->esc) {
        if (v->len >= cap)
            return cu_err_set(CU_ERR_TOOBIG, "\"%s\" longer than %zu bytes", field, cap - 1);
        *s = v->s;
        *len = v->len;
        return CU_OK;
    }
    if (cu_jstr_decode(v, buf, cap, len)) {
        cu_rc rc = cu_err_set(CU_ERR_TOOBIG, "\"%s\" longer than %zu bytes or holds a NUL", field, cap - 1);
        return rc;
    }
    *s = buf;
    return CU_OK;
}

cu_rc cu_ev_id(cu_names *n, cu_idkind k, const cu_jval *v, const char *field, bool nullable, cu_id *out)
{
    if (v->type == CU_JT_NULL && nullable) {
        *out = CU_ID_NONE;
        return CU_OK;
    }
    if (v->type != CU_JT_STRING)
        return cu_err_set(CU_ERR_TYPE, "\"%s\" must be a string%s", field, nullable ? " or null" : "");
    char buf[CU_ID_MAX_LEN + 1];
    const char *s = NULL;
    size_t len = 0;
    if (v->len > 6 * (CU_ID_MAX_LEN + 1) ||
        cu_ev_str(v, field, buf, sizeof buf, &s, &len))
        return cu_err_set(CU_ERR_TOOBIG, "\"%s\" id longer than %d bytes", field, CU_ID_MAX_LEN);
    if (len == 0)
        return cu_err_set(CU_ERR_INVAL, "\"%s\" is empty", field);
    cu_rc rc = cu_names_intern(n, k, s, len, out);
    if (rc)
        cu_err_prefix("\"%s\"", field);
    return rc;
}

cu_rc cu_ev_time(const cu_jval *v, const char *field, bool date_ok, bool nullable, int64_t *out)
{
    if (v->type == CU_JT_NULL && nullable) {
        *out = CU_TIME_NEVER;
        return CU_OK;
    }
    char buf[64];
    const char *s = NULL;
    size_t len = 0;
    cu_rc rc = cu_ev_str(v, field, buf, sizeof buf, &s, &len);
    if (rc)
        return rc;
    if (date_ok && len == 10)
        rc = cu_date_parse(s, len, out);
    else
        rc = cu_time_parse(s, len, out);
    if (rc)
        return cu_err_set(CU_ERR_PARSE, "\"%s\" is not an RFC 3339 %s: \"%.*s\"", field,
                          date_ok ? "date or time" : "time", (int)len, s);
    return CU_OK;
}

/* A list of ids: an array of strings (or null when nullable: empty). */
cu_rc cu_ev_idlist(cu_names *n, cu_idkind k, const cu_jval *v, const char *field, cu_id *out, uint32_t cap,
                   uint32_t *count)
{
    *count = 0;
    if (v->type == CU_JT_NULL)
        return CU_OK;
    if (v->type != CU_JT_ARRAY)
        return cu_err_set(CU_ERR_TYPE, "\"%s\" must be an array of strings", field);
    size_t pos = 0;
    cu_jval el;
    while (cu_jarray_next(v, &pos, &el)) {
        if (*count >= cap)
            return cu_err_set(CU_ERR_TOOBIG, "\"%s\" has more than %u entries", field, cap);
        cu_rc rc = cu_ev_id(n, k, &el, field, false, &out[*count]);
        if (rc)
            return rc;
        (*count)++;
    }
    return CU_OK;
}

/* ----------------------------------------------------------- parsing */

enum {
    F_KIND, F_ID, F_TS, F_OFFICER, F_SYSTEM, F_ACTION, F_RECORD, F_SUBJECTS, F_PURPOSE,
    F_CASE, F_TERMINAL, F_AREA, F_OUTCOME, F_RESULTS, F_NFIELDS
};
static const char *const fnames[F_NFIELDS] = {"kind", "id", "ts", "officer", "system", "action", "record",
                                              "subjects", "purpose", "case", "terminal", "area", "outcome",
                                              "results"};

static const uint8_t flens[F_NFIELDS] = {4, 2, 2, 7, 6, 6, 6, 8, 7, 4, 8, 4, 7, 7};

/* The field named by key k, or -1.  hint: the field expected there (the
 * member's position): writers (custos gen, the exporters) put the fields
 * in the order of fnames, so the first comparison nearly always decides
 * and the other thirteen are not made. */
static int field_of(const cu_jval *k, size_t hint)
{
    if (k->esc) {
        for (int f = 0; f < F_NFIELDS; f++)
            if (cu_jstr_eq(k, fnames[f]))
                return f;
        return -1;
    }
    if (hint < F_NFIELDS && flens[hint] == k->len && memcmp(k->s, fnames[hint], flens[hint]) == 0)
        return (int)hint;
    /* keys are short; compare by length first */
    for (int f = 0; f < F_NFIELDS; f++)
        if (flens[f] == k->len && memcmp(k->s, fnames[f], flens[f]) == 0)
            return f;
    return -1;
}

/* An id field as a span (scan side of cu_ev_id: the same checks and
 * messages, no interning).  Escaped ids are decoded into scratch. */
static cu_rc span_id(const cu_jval *v, const char *field, bool nullable, char *scratch, size_t *used,
                     cu_idspan *out)
{
    if (v->type == CU_JT_NULL && nullable) {
        out->s = NULL;
        out->len = 0;
        out->hash = 0;
        return CU_OK;
    }
    if (v->type != CU_JT_STRING)
        return cu_err_set(CU_ERR_TYPE, "\"%s\" must be a string%s", field, nullable ? " or null" : "");
    const char *s;
    size_t len;
    if (!v->esc) {
        if (v->len > CU_ID_MAX_LEN)
            return cu_err_set(CU_ERR_TOOBIG, "\"%s\" id longer than %d bytes", field, CU_ID_MAX_LEN);
        s = v->s;
        len = v->len;
    } else {
        char *dst = scratch + *used;
        if (v->len > 6 * (CU_ID_MAX_LEN + 1) || cu_jstr_decode(v, dst, CU_ID_MAX_LEN + 1, &len))
            return cu_err_set(CU_ERR_TOOBIG, "\"%s\" id longer than %d bytes", field, CU_ID_MAX_LEN);
        s = dst;
        *used += len;
    }
    if (len == 0)
        return cu_err_set(CU_ERR_INVAL, "\"%s\" is empty", field);
    out->s = s;
    out->len = (uint8_t)len;
    out->hash = cu_names_hash(s, len);
    return CU_OK;
}

cu_rc cu_event_scan(const char *line, size_t len, cu_event_raw *ev, char *scratch, size_t *scratch_used)
{
    cu_jmember m[CU_JSON_MAX_MEMBERS];
    size_t nm, used = 0;
    if (scratch_used)
        *scratch_used = 0;
    cu_rc rc = cu_jscan_object(line, len, m, CU_JSON_MAX_MEMBERS, &nm);
    if (rc)
        return rc;
    const cu_jval *f[F_NFIELDS] = {0};
    for (size_t i = 0; i < nm; i++) {
        int k = field_of(&m[i].key, i);
        if (k < 0)
            continue;
        if (f[k])
            return cu_err_set(CU_ERR_PARSE, "field \"%s\" given twice", fnames[k]);
        f[k] = &m[i].val;
    }
    static const int required[] = {F_KIND, F_ID, F_TS, F_OFFICER, F_SYSTEM, F_ACTION, F_OUTCOME};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!f[required[i]])
            return cu_err_set(CU_ERR_PARSE, "missing required field \"%s\"", fnames[required[i]]);
    if (!cu_jstr_eq(f[F_KIND], "access"))
        return cu_err_set(CU_ERR_INVAL, "\"kind\" must be \"access\"");

    char buf[CU_ID_MAX_LEN + 1];
    const char *s = NULL;
    size_t sl;
    if (f[F_ID]->len > 6 * (CU_ID_MAX_LEN + 1) || cu_ev_str(f[F_ID], "id", buf, sizeof buf, &s, &sl))
        return cu_err_set(CU_ERR_TOOBIG, "\"id\" longer than %d bytes or not a string", CU_ID_MAX_LEN);
    if (sl == 0 || memchr(s, '\0', sl))
        return cu_err_set(CU_ERR_INVAL, "\"id\" is empty");
    memcpy(ev->id, s, sl);
    ev->id[sl] = '\0';
    ev->id_len = (uint8_t)sl;

    if ((rc = cu_ev_time(f[F_TS], "ts", false, false, &ev->ts)))
        return rc;
    if ((rc = span_id(f[F_OFFICER], "officer", false, scratch, &used, &ev->ids[CU_EVF_OFFICER])) ||
        (rc = span_id(f[F_SYSTEM], "system", false, scratch, &used, &ev->ids[CU_EVF_SYSTEM])))
        return rc;

    char abuf[32];
    if ((rc = cu_ev_str(f[F_ACTION], "action", abuf, sizeof abuf, &s, &sl)))
        return rc;
    cu_action act = CU_ACT_VIEW; /* set by cu_action_parse on success; the initialiser quiets -O3 */
    if ((rc = cu_action_parse(s, sl, &act)))
        return rc;
    ev->action = (uint8_t)act;
    if (cu_jstr_eq(f[F_OUTCOME], "allow"))
        ev->outcome = CU_OUT_ALLOW;
    else if (cu_jstr_eq(f[F_OUTCOME], "deny"))
        ev->outcome = CU_OUT_DENY;
    else
        return cu_err_set(CU_ERR_INVAL, "\"outcome\" must be \"allow\" or \"deny\"");

    static const cu_jval null_val = {.s = "null", .len = 4, .type = CU_JT_NULL};
#define OPT(x) ((x) ? (x) : &null_val)
    if ((rc = span_id(OPT(f[F_RECORD]), "record", true, scratch, &used, &ev->ids[CU_EVF_RECORD])) ||
        (rc = span_id(OPT(f[F_PURPOSE]), "purpose", true, scratch, &used, &ev->ids[CU_EVF_PURPOSE])) ||
        (rc = span_id(OPT(f[F_CASE]), "case", true, scratch, &used, &ev->ids[CU_EVF_CASE])) ||
        (rc = span_id(OPT(f[F_TERMINAL]), "terminal", true, scratch, &used, &ev->ids[CU_EVF_TERMINAL])) ||
        (rc = span_id(OPT(f[F_AREA]), "area", true, scratch, &used, &ev->ids[CU_EVF_AREA])))
        return rc;
    const cu_jval *sv = OPT(f[F_SUBJECTS]);
#undef OPT
    ev->nsubjects = 0;
    if (sv->type != CU_JT_NULL) {
        if (sv->type != CU_JT_ARRAY)
            return cu_err_set(CU_ERR_TYPE, "\"subjects\" must be an array of strings");
        size_t pos = 0;
        cu_jval el;
        while (cu_jarray_next(sv, &pos, &el)) {
            if (ev->nsubjects >= CU_EVENT_MAX_SUBJECTS)
                return cu_err_set(CU_ERR_TOOBIG, "\"subjects\" has more than %u entries", CU_EVENT_MAX_SUBJECTS);
            if ((rc = span_id(&el, "subjects", false, scratch, &used, &ev->subjects[ev->nsubjects])))
                return rc;
            ev->nsubjects++;
        }
    }
    ev->has_results = false;
    ev->results = 0;
    if (f[F_RESULTS] && f[F_RESULTS]->type != CU_JT_NULL) {
        const cu_jval *r = f[F_RESULTS];
        uint64_t v = 0;
        bool ok = r->type == CU_JT_NUMBER && r->len > 0 && r->len <= 10;
        for (uint32_t i = 0; ok && i < r->len; i++) {
            if (r->s[i] < '0' || r->s[i] > '9')
                ok = false;
            else
                v = v * 10 + (uint64_t)(r->s[i] - '0');
        }
        if (!ok || v > UINT32_MAX)
            return cu_err_set(CU_ERR_INVAL, "\"results\" must be a whole number from 0 to %u", UINT32_MAX);
        ev->has_results = true;
        ev->results = (uint32_t)v;
    }
    if (scratch_used)
        *scratch_used = used;
    return CU_OK;
}

static const cu_idkind evf_kind[CU_EVF_COUNT_] = {CU_K_OFFICER, CU_K_SYSTEM, CU_K_RECORD, CU_K_PURPOSE,
                                                  CU_K_CASE, CU_K_TERMINAL, CU_K_AREA};
static const char *const evf_name[CU_EVF_COUNT_] = {"officer", "system", "record", "purpose",
                                                    "case", "terminal", "area"};

cu_rc cu_event_intern(cu_names *n, const cu_event_raw *raw, cu_event *ev)
{
    cu_id *dst[CU_EVF_COUNT_] = {&ev->officer, &ev->system, &ev->record, &ev->purpose,
                                 &ev->case_id, &ev->terminal, &ev->area};
    if (raw->nsubjects > ev->subjects_cap)
        return cu_err_set(CU_ERR_TOOBIG, "\"subjects\" has more than %u entries", ev->subjects_cap);
    cu_rc rc;
    for (int i = 0; i < CU_EVF_COUNT_; i++) {
        const cu_idspan *sp = &raw->ids[i];
        if (!sp->len) {
            *dst[i] = CU_ID_NONE;
            continue;
        }
        if ((rc = cu_names_intern_h(n, evf_kind[i], sp->s, sp->len, sp->hash, dst[i]))) {
            cu_err_prefix("\"%s\"", evf_name[i]);
            return rc;
        }
    }
    for (uint32_t i = 0; i < raw->nsubjects; i++) {
        const cu_idspan *sp = &raw->subjects[i];
        if ((rc = cu_names_intern_h(n, CU_K_PERSON, sp->s, sp->len, sp->hash, &ev->subjects[i]))) {
            cu_err_prefix("\"subjects\"");
            return rc;
        }
    }
    ev->nsubjects = raw->nsubjects;
    ev->ts = raw->ts;
    ev->action = raw->action;
    ev->outcome = raw->outcome;
    ev->has_results = raw->has_results;
    ev->results = raw->results;
    ev->id_len = raw->id_len;
    memcpy(ev->id, raw->id, (size_t)raw->id_len + 1);
    return CU_OK;
}

cu_rc cu_event_parse(cu_names *n, const char *line, size_t len, cu_event *ev)
{
    /* scan then intern: the one path, shared with the parallel reader */
    cu_idspan subj[CU_EVENT_MAX_SUBJECTS];
    char scratch[CU_EVENT_SCRATCH];
    cu_event_raw raw;
    raw.subjects = subj;
    cu_rc rc = cu_event_scan(line, len, &raw, scratch, NULL);
    if (rc)
        return rc;
    return cu_event_intern(n, &raw, ev);
}

/* ----------------------------------------------------------- writing */

cu_rc cu_json_put_str(cu_buf *out, const char *s, size_t len)
{
    cu_rc rc = cu_buf_reserve(out, len + 2);
    if (rc)
        return rc;
    out->data[out->len++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if ((rc = cu_buf_append(out, s + run, i - run)))
            return rc;
        run = i + 1;
        char e[8];
        switch (c) {
        case '"': rc = cu_buf_append(out, "\\\"", 2); break;
        case '\\': rc = cu_buf_append(out, "\\\\", 2); break;
        case '\n': rc = cu_buf_append(out, "\\n", 2); break;
        case '\t': rc = cu_buf_append(out, "\\t", 2); break;
        case '\r': rc = cu_buf_append(out, "\\r", 2); break;
        default:
            snprintf(e, sizeof e, "\\u%04x", c);
            rc = cu_buf_append(out, e, 6);
        }
        if (rc)
            return rc;
    }
    if ((rc = cu_buf_append(out, s + run, len - run)))
        return rc;
    return cu_buf_append(out, "\"", 1);
}

static cu_rc put_id(cu_buf *out, const cu_names *n, cu_idkind k, cu_id id)
{
    const char *s = cu_names_str(n, k, id);
    if (!s)
        return cu_buf_append(out, "null", 4);
    return cu_json_put_str(out, s, strlen(s));
}

cu_rc cu_event_write(const cu_names *n, const cu_event *ev, cu_buf *out)
{
    char ts[21];
    cu_time_format(ev->ts, ts);
    cu_rc rc;
    if ((rc = cu_buf_appends(out, "{\"kind\":\"access\",\"id\":")) || (rc = cu_json_put_str(out, ev->id, ev->id_len)) ||
        (rc = cu_buf_appendf(out, ",\"ts\":\"%s\",\"officer\":", ts)) ||
        (rc = put_id(out, n, CU_K_OFFICER, ev->officer)) || (rc = cu_buf_appends(out, ",\"system\":")) ||
        (rc = put_id(out, n, CU_K_SYSTEM, ev->system)) ||
        (rc = cu_buf_appendf(out, ",\"action\":\"%s\",\"record\":", cu_action_name((cu_action)ev->action))) ||
        (rc = put_id(out, n, CU_K_RECORD, ev->record)) || (rc = cu_buf_appends(out, ",\"subjects\":[")))
        return rc;
    for (uint32_t i = 0; i < ev->nsubjects; i++) {
        if (i && (rc = cu_buf_append(out, ",", 1)))
            return rc;
        if ((rc = put_id(out, n, CU_K_PERSON, ev->subjects[i])))
            return rc;
    }
    if ((rc = cu_buf_appends(out, "],\"purpose\":")) || (rc = put_id(out, n, CU_K_PURPOSE, ev->purpose)) ||
        (rc = cu_buf_appends(out, ",\"case\":")) || (rc = put_id(out, n, CU_K_CASE, ev->case_id)) ||
        (rc = cu_buf_appends(out, ",\"terminal\":")) || (rc = put_id(out, n, CU_K_TERMINAL, ev->terminal)) ||
        (rc = cu_buf_appends(out, ",\"area\":")) || (rc = put_id(out, n, CU_K_AREA, ev->area)) ||
        (rc = cu_buf_appendf(out, ",\"outcome\":\"%s\"", ev->outcome == CU_OUT_DENY ? "deny" : "allow")))
        return rc;
    if (ev->has_results && (rc = cu_buf_appendf(out, ",\"results\":%u", ev->results)))
        return rc;
    return cu_buf_appends(out, "}\n");
}

/* ------------------------------------------------------------ reader */

struct cu_event_reader {
    cu_lines *lines;
    cu_names *names;
    int64_t last_ts;
    uint64_t last_line;
    bool any;
};

cu_rc cu_event_reader_open(const char *path, cu_names *n, cu_event_reader **out)
{
    cu_event_reader *r = cu_calloc(1, sizeof *r);
    if (!r)
        return CU_ERR_NOMEM;
    cu_rc rc = cu_lines_open(path, CU_EVENT_MAX_LINE, &r->lines);
    if (rc) {
        cu_free(r);
        return rc;
    }
    r->names = n;
    *out = r;
    return CU_OK;
}

cu_rc cu_event_reader_next(cu_event_reader *r, cu_event *ev)
{
    for (;;) {
        const char *line;
        size_t len;
        cu_rc rc = cu_lines_next(r->lines, &line, &len);
        if (rc)
            return rc; /* NOTFOUND at the end; TOOBIG/IO carry file:line already */
        uint64_t ln = cu_lines_lineno(r->lines);
        /* blank lines (and a trailing CR) are allowed between events */
        size_t l = len;
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            l--;
        if (l == 0)
            continue;
        rc = cu_event_parse(r->names, line, len, ev);
        if (rc) {
            cu_err_prefix("%s:%llu", cu_lines_name(r->lines), (unsigned long long)ln);
            return rc;
        }
        if (r->any && ev->ts < r->last_ts) {
            char a[21], b[21];
            cu_time_format(ev->ts, a);
            cu_time_format(r->last_ts, b);
            return cu_err_set(CU_ERR_ORDER, "%s:%llu: event %s at %s is earlier than the event before it at %s (line %llu)",
                              cu_lines_name(r->lines), (unsigned long long)ln, ev->id, a, b,
                              (unsigned long long)r->last_line);
        }
        r->any = true;
        r->last_ts = ev->ts;
        r->last_line = ln;
        return CU_OK;
    }
}

uint64_t cu_event_reader_line(const cu_event_reader *r) { return cu_lines_lineno(r->lines); }

void cu_event_reader_close(cu_event_reader *r)
{
    if (!r)
        return;
    cu_lines_close(r->lines);
    cu_free(r);
}

/* ------------------------------------------------------------ alerts */

void cu_alert_clear(cu_alert *a)
{
    a->num = 0;
    a->raised_at = a->first_event = a->last_event = 0;
    a->score = 0;
    a->kind[0] = '\0';
    a->nofficers = a->nsubjects = a->nevents = a->nreasons = 0;
}

static void note_dropped(cu_alert *a, const char *what)
{
    if (a->nreasons == CU_ALERT_MAX_REASONS)
        snprintf(a->reasons[CU_ALERT_MAX_REASONS - 1], CU_ALERT_REASON_LEN,
                 "(more %s than an alert lists were involved)", what);
}

void cu_alert_add_officer(cu_alert *a, cu_id officer)
{
    for (uint32_t i = 0; i < a->nofficers; i++)
        if (a->officers[i] == officer)
            return;
    if (a->nofficers < CU_ALERT_MAX_OFFICERS)
        a->officers[a->nofficers++] = officer;
    else
        note_dropped(a, "officers");
}

void cu_alert_add_subject(cu_alert *a, cu_id person)
{
    for (uint32_t i = 0; i < a->nsubjects; i++)
        if (a->subjects[i] == person)
            return;
    if (a->nsubjects < CU_ALERT_MAX_SUBJECTS)
        a->subjects[a->nsubjects++] = person;
    else
        note_dropped(a, "people");
}

void cu_alert_add_event(cu_alert *a, const char *event_id, int64_t ts)
{
    if (a->nevents == 0 || ts < a->first_event)
        a->first_event = ts;
    if (a->nevents == 0 || ts > a->last_event)
        a->last_event = ts;
    if (a->nevents < CU_ALERT_MAX_EVENTS)
        snprintf(a->events[a->nevents++], CU_ID_MAX_LEN + 1, "%s", event_id);
    else
        note_dropped(a, "events");
}

void cu_alert_add_reason(cu_alert *a, const char *fmt, ...)
{
    if (a->nreasons >= CU_ALERT_MAX_REASONS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->reasons[a->nreasons++], CU_ALERT_REASON_LEN, fmt, ap);
    va_end(ap);
}

cu_rc cu_alert_write(const cu_names *n, const cu_alert *a, cu_buf *out)
{
    char t1[21], t2[21], t3[21];
    cu_time_format(a->raised_at, t1);
    cu_time_format(a->first_event, t2);
    cu_time_format(a->last_event, t3);
    double score = a->score < 0 ? 0 : a->score > 1 ? 1 : a->score;
    cu_rc rc;
    if ((rc = cu_buf_appendf(out, "{\"id\":\"A%llu\",\"raised_at\":\"%s\",\"kind\":", (unsigned long long)a->num, t1)) ||
        (rc = cu_json_put_str(out, a->kind, strlen(a->kind))) || (rc = cu_buf_appends(out, ",\"officers\":[")))
        return rc;
    for (uint32_t i = 0; i < a->nofficers; i++)
        if ((i && (rc = cu_buf_append(out, ",", 1))) || (rc = put_id(out, n, CU_K_OFFICER, a->officers[i])))
            return rc;
    if ((rc = cu_buf_appends(out, "],\"subjects\":[")))
        return rc;
    for (uint32_t i = 0; i < a->nsubjects; i++)
        if ((i && (rc = cu_buf_append(out, ",", 1))) || (rc = put_id(out, n, CU_K_PERSON, a->subjects[i])))
            return rc;
    if ((rc = cu_buf_appendf(out, "],\"score\":%.4g,\"first_event\":\"%s\",\"last_event\":\"%s\",\"events\":[", score,
                             t2, t3)))
        return rc;
    for (uint32_t i = 0; i < a->nevents; i++)
        if ((i && (rc = cu_buf_append(out, ",", 1))) || (rc = cu_json_put_str(out, a->events[i], strlen(a->events[i]))))
            return rc;
    if ((rc = cu_buf_appends(out, "],\"reasons\":[")))
        return rc;
    for (uint32_t i = 0; i < a->nreasons; i++)
        if ((i && (rc = cu_buf_append(out, ",", 1))) || (rc = cu_json_put_str(out, a->reasons[i], strlen(a->reasons[i]))))
            return rc;
    return cu_buf_appends(out, "]}\n");
}
