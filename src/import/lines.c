/* Line parsers for the importers: CSV, RFC 5424 syslog, CEF.
 *
 * Each takes one line (no newline) and fills a cu_import_rec with decoded,
 * NUL-terminated names and values in the record's own buffer; no I/O, no
 * allocation.  Invariants: nothing is read past len; the record buffer is
 * sized for the worst case of a line of CU_IMPORT_MAX_LINE bytes (every
 * byte a field: value + NUL + name), so adding a field cannot overflow it
 * once the line length is checked; at most CU_IMPORT_MAX_FIELDS fields.
 */
#include "custos/import.h"

#include <stdio.h>
#include <string.h>

static void rec_reset(cu_import_rec *r)
{
    r->n = 0;
    r->used = 0;
}

/* Start a value in the buffer; bytes are appended with put(), closed with end(). */
static char *put_start(cu_import_rec *r) { return r->buf + r->used; }
static void put(cu_import_rec *r, char c) { r->buf[r->used++] = c; }
static const char *put_end(cu_import_rec *r, char *start)
{
    r->buf[r->used++] = '\0';
    return start;
}

static const char *put_str(cu_import_rec *r, const char *s, size_t n)
{
    char *st = put_start(r);
    memcpy(st, s, n);
    r->used += n;
    return put_end(r, st);
}

static cu_rc add(cu_import_rec *r, const char *group, const char *name, const char *value)
{
    if (r->n >= CU_IMPORT_MAX_FIELDS)
        return cu_err_set(CU_ERR_TOOBIG, "more than %d fields", CU_IMPORT_MAX_FIELDS);
    r->f[r->n].group = group;
    r->f[r->n].name = name;
    r->f[r->n].value = value;
    r->n++;
    return CU_OK;
}

static cu_rc check_len(size_t len)
{
    if (len > CU_IMPORT_MAX_LINE)
        return cu_err_set(CU_ERR_TOOBIG, "line longer than %d bytes", CU_IMPORT_MAX_LINE);
    return CU_OK;
}

/* ------------------------------------------------------------------ CSV */

cu_rc cu_import_csv_line(const char *line, size_t len, char delim, cu_import_rec *r)
{
    rec_reset(r);
    cu_rc rc = check_len(len);
    if (rc)
        return rc;
    if (len && line[len - 1] == '\r')
        len--;
    size_t i = 0;
    unsigned col = 0;
    for (;;) {
        /* checked before writing: an empty column costs 1 input byte but ~9 buffer bytes */
        if (r->n >= CU_IMPORT_MAX_FIELDS)
            return cu_err_set(CU_ERR_TOOBIG, "more than %d columns", CU_IMPORT_MAX_FIELDS);
        char *v = put_start(r);
        if (i < len && line[i] == '"') {
            i++;
            for (;;) {
                if (i >= len)
                    return cu_err_set(CU_ERR_PARSE, "column %u: unterminated quoted field", col + 1);
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"') {
                        put(r, '"');
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                put(r, line[i++]);
            }
            if (i < len && line[i] != delim)
                return cu_err_set(CU_ERR_PARSE, "column %u: text after a closing quote", col + 1);
        } else {
            while (i < len && line[i] != delim) {
                if (line[i] == '"')
                    return cu_err_set(CU_ERR_PARSE, "column %u: quote inside an unquoted field", col + 1);
                put(r, line[i++]);
            }
        }
        const char *value = put_end(r, v);
        char nm[16];
        int nl = snprintf(nm, sizeof nm, "#%u", col + 1);
        if ((rc = add(r, "", put_str(r, nm, (size_t)nl), value)))
            return rc;
        col++;
        if (i >= len)
            break;
        i++; /* the delimiter */
    }
    return CU_OK;
}

/* --------------------------------------------------------------- syslog */

static bool printusascii(char c) { return c >= 33 && c <= 126; }

/* A header field: NILVALUE "-" or 1..max printable ASCII characters. */
static cu_rc header_field(const char *line, size_t len, size_t *i, size_t max, const char *what, cu_import_rec *r,
                          bool keep)
{
    size_t s = *i;
    while (*i < len && printusascii(line[*i]))
        (*i)++;
    size_t n = *i - s;
    if (n == 0 || n > max)
        return cu_err_set(CU_ERR_PARSE, "syslog %s missing or longer than %zu", what, max);
    if (*i >= len || line[*i] != ' ')
        return cu_err_set(CU_ERR_PARSE, "syslog: expected a space after %s", what);
    (*i)++;
    if (keep && !(n == 1 && line[s] == '-'))
        return add(r, "", what, put_str(r, line + s, n));
    return CU_OK;
}

static bool sd_name_char(char c) { return printusascii(c) && c != '=' && c != ']' && c != '"'; }

cu_rc cu_import_syslog_line(const char *line, size_t len, cu_import_rec *r)
{
    rec_reset(r);
    cu_rc rc = check_len(len);
    if (rc)
        return rc;
    if (len && line[len - 1] == '\r')
        len--;
    size_t i = 0;
    if (i >= len || line[i] != '<')
        return cu_err_set(CU_ERR_PARSE, "syslog: missing <PRI>");
    i++;
    unsigned pri = 0, nd = 0;
    while (i < len && line[i] >= '0' && line[i] <= '9' && nd < 4) {
        pri = pri * 10 + (unsigned)(line[i++] - '0');
        nd++;
    }
    if (nd == 0 || nd > 3 || pri > 191 || (nd > 1 && line[i - nd] == '0') || i >= len || line[i] != '>')
        return cu_err_set(CU_ERR_PARSE, "syslog: bad <PRI>");
    i++;
    if (i >= len || line[i] < '1' || line[i] > '9')
        return cu_err_set(CU_ERR_PARSE, "syslog: bad VERSION (RFC 5424 needed)");
    i++;
    if (i < len && line[i] >= '0' && line[i] <= '9')
        i++;
    if (i >= len || line[i] != ' ')
        return cu_err_set(CU_ERR_PARSE, "syslog: expected a space after VERSION");
    i++;
    if ((rc = header_field(line, len, &i, 64, "TIMESTAMP", r, true)) ||
        (rc = header_field(line, len, &i, 255, "HOSTNAME", r, true)) ||
        (rc = header_field(line, len, &i, 48, "APP-NAME", r, true)) ||
        (rc = header_field(line, len, &i, 128, "PROCID", r, true)) ||
        (rc = header_field(line, len, &i, 32, "MSGID", r, true)))
        return rc;
    /* STRUCTURED-DATA */
    if (i < len && line[i] == '-') {
        i++;
    } else {
        if (i >= len || line[i] != '[')
            return cu_err_set(CU_ERR_PARSE, "syslog: expected STRUCTURED-DATA ('-' or '[')");
        while (i < len && line[i] == '[') {
            i++;
            size_t s = i;
            while (i < len && sd_name_char(line[i]) && line[i] != ' ')
                i++;
            if (i == s || i - s > 32)
                return cu_err_set(CU_ERR_PARSE, "syslog: bad SD-ID");
            const char *sdid = put_str(r, line + s, i - s);
            for (;;) {
                if (i >= len)
                    return cu_err_set(CU_ERR_PARSE, "syslog: unterminated SD-ELEMENT");
                if (line[i] == ']') {
                    i++;
                    break;
                }
                if (line[i] != ' ')
                    return cu_err_set(CU_ERR_PARSE, "syslog: expected a space or ] in SD-ELEMENT");
                i++;
                if (r->n >= CU_IMPORT_MAX_FIELDS)
                    return cu_err_set(CU_ERR_TOOBIG, "more than %d fields", CU_IMPORT_MAX_FIELDS);
                s = i;
                while (i < len && sd_name_char(line[i]) && line[i] != ' ')
                    i++;
                if (i == s || i - s > 32)
                    return cu_err_set(CU_ERR_PARSE, "syslog: bad PARAM-NAME");
                const char *pname = put_str(r, line + s, i - s);
                if (i + 1 >= len || line[i] != '=' || line[i + 1] != '"')
                    return cu_err_set(CU_ERR_PARSE, "syslog: expected =\" after PARAM-NAME");
                i += 2;
                char *v = put_start(r);
                for (;;) {
                    if (i >= len)
                        return cu_err_set(CU_ERR_PARSE, "syslog: unterminated PARAM-VALUE");
                    char c = line[i];
                    if (c == '"')
                        break;
                    if (c == ']')
                        return cu_err_set(CU_ERR_PARSE, "syslog: unescaped ] in PARAM-VALUE");
                    if (c == '\\' && i + 1 < len && (line[i + 1] == '"' || line[i + 1] == '\\' || line[i + 1] == ']')) {
                        put(r, line[i + 1]);
                        i += 2;
                        continue;
                    }
                    put(r, c);
                    i++;
                }
                i++; /* closing quote */
                if ((rc = add(r, sdid, pname, put_end(r, v))))
                    return rc;
            }
        }
    }
    if (i < len) {
        if (line[i] != ' ')
            return cu_err_set(CU_ERR_PARSE, "syslog: expected a space before MSG");
        i++;
        if (len - i >= 3 && (unsigned char)line[i] == 0xEF && (unsigned char)line[i + 1] == 0xBB &&
            (unsigned char)line[i + 2] == 0xBF)
            i += 3;
        if ((rc = add(r, "", "MSG", put_str(r, line + i, len - i))))
            return rc;
    }
    return CU_OK;
}

/* ------------------------------------------------------------------ CEF */

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-' || c == '[' || c == ']';
}

/* Does an extension key start at p (key chars then '=')? */
static size_t key_at(const char *line, size_t i, size_t len)
{
    size_t s = i;
    while (i < len && key_char(line[i]))
        i++;
    return i > s && i < len && line[i] == '=' ? i - s : 0;
}

cu_rc cu_import_cef_line(const char *line, size_t len, cu_import_rec *r)
{
    rec_reset(r);
    cu_rc rc = check_len(len);
    if (rc)
        return rc;
    if (len && line[len - 1] == '\r')
        len--;
    const char *cef = NULL;
    for (size_t k = 0; k + 4 <= len; k++)
        if (memcmp(line + k, "CEF:", 4) == 0) {
            cef = line + k;
            break;
        }
    if (!cef)
        return cu_err_set(CU_ERR_PARSE, "CEF: no \"CEF:\" header");
    size_t i = (size_t)(cef - line) + 4;
    static const char *const hdr[7] = {"cef.version", "cef.vendor", "cef.product", "cef.device_version",
                                       "cef.signature", "cef.name", "cef.severity"};
    for (int h = 0; h < 7; h++) {
        char *v = put_start(r);
        for (;;) {
            if (i >= len)
                return cu_err_set(CU_ERR_PARSE, "CEF: header has %d fields, 7 needed", h + 1);
            char c = line[i];
            if (c == '|')
                break;
            if (c == '\\' && i + 1 < len && (line[i + 1] == '|' || line[i + 1] == '\\')) {
                put(r, line[i + 1]);
                i += 2;
                continue;
            }
            put(r, c);
            i++;
        }
        i++; /* the pipe */
        if ((rc = add(r, "", hdr[h], put_end(r, v))))
            return rc;
    }
    /* extension: key=value, values run until the next " key=" */
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        if (i >= len)
            break;
        size_t kl = key_at(line, i, len);
        if (!kl)
            return cu_err_set(CU_ERR_PARSE, "CEF: expected key=value in the extension at byte %zu", i + 1);
        const char *key = put_str(r, line + i, kl);
        i += kl + 1;
        char *v = put_start(r);
        while (i < len) {
            char c = line[i];
            if (c == ' ' && key_at(line, i + 1, len))
                break;
            if (c == '=')
                return cu_err_set(CU_ERR_PARSE, "CEF: unescaped = in the value of %s", key);
            if (c == '\\' && i + 1 < len) {
                char e = line[i + 1];
                if (e == '=' || e == '\\')
                    put(r, e);
                else if (e == 'n')
                    put(r, '\n');
                else if (e == 'r')
                    put(r, '\r');
                else
                    return cu_err_set(CU_ERR_PARSE, "CEF: bad escape \\%c in the value of %s", e, key);
                i += 2;
                continue;
            }
            put(r, c);
            i++;
        }
        /* trailing spaces belong to the separator */
        while (r->used > (size_t)(v - r->buf) && r->buf[r->used - 1] == ' ')
            r->used--;
        if ((rc = add(r, "", key, put_end(r, v))))
            return rc;
    }
    return CU_OK;
}
