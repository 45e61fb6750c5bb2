/*
 * Gateway callers: per-system bearer tokens or client certificates, from a
 * config file.
 *
 * Format (one directive a line, '#' starts a comment):
 *   token NAME sha256:HEX [reviewer]   a caller; HEX is SHA-256 of its token
 *   cert NAME sha256:HEX [reviewer]    a caller; HEX is SHA-256 of its client
 *                                      certificate (DER), as custosd's TLS
 *                                      layer verified it (--tls-client-ca)
 *   allow_on_error true|false          evaluation errors allow (default false)
 *
 * Invariants
 * 1. Only hashes are held; a presented token is hashed and compared with
 *    every stored hash in constant time (cu_ct_equal), with no early exit,
 *    so the time taken says nothing about which hash came close.
 * 2. A config that does not parse changes nothing (all or nothing).
 * 3. A token never matches a cert line nor a certificate a token line: a
 *    certificate's hash is public, so knowing it must not make a token.
 */
#include "gateway_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_TOKENS 1024

static bool name_ok(const char *s, size_t n)
{
    if (!n || n > CU_GATEWAY_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* Split the next whitespace-separated word of [*p, end). */
static bool word(const char **p, const char *end, const char **w, size_t *n)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s == end)
        return false;
    const char *e = s;
    while (e < end && *e != ' ' && *e != '\t')
        e++;
    *w = s;
    *n = (size_t)(e - s);
    *p = e;
    return true;
}

cu_rc cu_gateway_config_parse(cu_gateway *g, const char *text, size_t len, const char *name)
{
    if (len > CU_GATEWAY_MAX_CONFIG)
        return cu_err_set(CU_ERR_TOOBIG, "%s: larger than %u bytes", name, CU_GATEWAY_MAX_CONFIG);
    struct gw_token *toks = cu_calloc(MAX_TOKENS, sizeof *toks);
    if (!toks)
        return cu_err_set(CU_ERR_NOMEM, "gateway: out of memory");
    size_t nt = 0;
    bool allow_on_error = g->allow_on_error;
    cu_rc rc = CU_OK;
    unsigned lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        const char *hash = memchr(line, '#', n);
        const char *end = hash ? hash : line + n;
        while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            end--;
        const char *p = line, *w;
        size_t wn;
        if (!word(&p, end, &w, &wn))
            continue;
        bool is_cert = wn == 4 && memcmp(w, "cert", 4) == 0;
        if ((wn == 5 && memcmp(w, "token", 5) == 0) || is_cert) {
            const char *nm, *h, *flag = NULL;
            size_t nmn, hn, fn = 0;
            if (!word(&p, end, &nm, &nmn) || !word(&p, end, &h, &hn)) {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: want \"%s NAME sha256:HEX [reviewer]\"", name, lineno,
                                is_cert ? "cert" : "token");
                goto fail;
            }
            if (word(&p, end, &flag, &fn) && !(fn == 8 && memcmp(flag, "reviewer", 8) == 0)) {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: unknown token flag \"%.*s\"", name, lineno, (int)fn, flag);
                goto fail;
            }
            if (word(&p, end, &w, &wn)) {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: too many words", name, lineno);
                goto fail;
            }
            if (!name_ok(nm, nmn)) {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: caller name must be 1-%d of A-Z a-z 0-9 - _ .", name, lineno,
                                CU_GATEWAY_MAX_ID);
                goto fail;
            }
            size_t out = 0;
            if (hn != 7 + 2 * CU_SHA256_LEN || memcmp(h, "sha256:", 7) != 0 ||
                cu_hex_decode(h + 7, hn - 7, toks[nt].hash, &out) != CU_OK || out != CU_SHA256_LEN) {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: want sha256: and 64 hex digits (the SHA-256 of the %s)",
                                name, lineno, is_cert ? "certificate" : "token");
                goto fail;
            }
            if (nt + 1 >= MAX_TOKENS) {
                rc = cu_err_set(CU_ERR_TOOBIG, "%s:%u: more than %d tokens", name, lineno, MAX_TOKENS - 1);
                goto fail;
            }
            memcpy(toks[nt].name, nm, nmn);
            toks[nt].name[nmn] = '\0';
            toks[nt].reviewer = flag != NULL;
            toks[nt].cert = is_cert;
            nt++;
        } else if (wn == 14 && memcmp(w, "allow_on_error", 14) == 0) {
            const char *v;
            size_t vn;
            if (!word(&p, end, &v, &vn) || !((vn == 4 && !memcmp(v, "true", 4)) || (vn == 5 && !memcmp(v, "false", 5)))) {
                rc = cu_err_set(CU_ERR_PARSE, "%s:%u: allow_on_error takes true or false", name, lineno);
                goto fail;
            }
            allow_on_error = vn == 4;
        } else {
            rc = cu_err_set(CU_ERR_PARSE, "%s:%u: unknown directive \"%.*s\"", name, lineno, (int)wn, w);
            goto fail;
        }
    }
    pthread_mutex_lock(&g->lock);
    struct gw_token *old = g->tokens;
    size_t oldn = g->ntokens;
    g->tokens = toks;
    g->ntokens = nt;
    g->allow_on_error = allow_on_error;
    pthread_mutex_unlock(&g->lock);
    toks = old;
    nt = oldn;
fail:
    if (toks)
        memset(toks, 0, MAX_TOKENS * sizeof *toks);
    cu_free(toks);
    return rc;
}

cu_rc cu_gateway_config_load(cu_gateway *g, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    cu_rc rc = cu_file_read(path, CU_GATEWAY_MAX_CONFIG, &text, &len);
    if (rc)
        return rc;
    rc = cu_gateway_config_parse(g, text, len, path);
    cu_free(text);
    return rc;
}

/* Whether a caller of the given kind has hash h; its name and reviewer flag
 * then.  Every stored hash is compared (invariant 1). */
static bool match(cu_gateway *g, const uint8_t *h, bool cert, char *name, bool *reviewer)
{
    int found = -1;
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->ntokens; i++) {
        bool eq = cu_ct_equal(h, g->tokens[i].hash, CU_SHA256_LEN) & (g->tokens[i].cert == cert);
        found = eq && found < 0 ? (int)i : found;
    }
    if (found >= 0) {
        memcpy(name, g->tokens[found].name, CU_GATEWAY_MAX_ID + 1);
        if (reviewer)
            *reviewer = g->tokens[found].reviewer;
    }
    pthread_mutex_unlock(&g->lock);
    return found >= 0;
}

cu_rc cu_gateway_authenticate(cu_gateway *g, const char *authorization, const char *client_cert, char *name,
                              bool *reviewer)
{
    uint8_t h[CU_SHA256_LEN];
    /* a verified client certificate first: a caller holding one needs no token */
    size_t out = 0;
    if (client_cert && cu_hex_decode(client_cert, strlen(client_cert), h, &out) == CU_OK && out == CU_SHA256_LEN &&
        match(g, h, true, name, reviewer))
        return CU_OK;
    if (!authorization || strncmp(authorization, "Bearer ", 7) != 0)
        return cu_err_set(CU_ERR_DENIED, client_cert ? "unknown client certificate and no bearer token"
                                                     : "a bearer token is required");
    const char *tok = authorization + 7;
    size_t n = strlen(tok);
    if (!n || n > 1024)
        return cu_err_set(CU_ERR_DENIED, "bad bearer token");
    if (cu_sha256(tok, n, NULL, 0, NULL, 0, h))
        return cu_err_set(CU_ERR_DENIED, "cannot check the token");
    return match(g, h, false, name, reviewer) ? CU_OK : cu_err_set(CU_ERR_DENIED, "unknown caller");
}
