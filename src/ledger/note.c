/*
 * Signed notes (C2SP signed-note) with Ed25519 keys (libsodium).
 *
 * A note is text ending in '\n', a blank line, then one or more signature
 * lines "— <name> <base64(key id || signature)>\n".  The key id is the first
 * four bytes (big-endian) of SHA-256(name || "\n" || 0x01 || public key).
 *
 * Invariants:
 *   1. The whole note is valid UTF-8 with no ASCII control character other
 *      than '\n', and at most CU_NOTE_MAX bytes; sign refuses to make a note
 *      that open would refuse.
 *   2. The signed text is everything up to and including the '\n' before
 *      the LAST blank line (the text itself may hold blank lines).
 *   3. Open skips signatures whose (name, key id) matches no verifier, but a
 *      signature that does match one must verify, or the whole note is
 *      refused; at least one must verify.
 *   4. Key texts are parsed strictly: the key id must match the key, the
 *      algorithm byte must be 0x01, keys are exactly 32 bytes.  Secrets are
 *      wiped (sodium_memzero) on every path that held them.
 */
#include "custos/ledger.h"
#include "ledger/note_int.h"

#include <sodium.h>
#include <string.h>

#define ALG_ED25519 0x01
#define SIG_PREFIX "\xe2\x80\x94 " /* em dash U+2014, space */
#define SIG_PREFIX_LEN 4
#define KEY_TEXT_MAX 1024          /* longest key text read */
#define SIG_B64_MAX 8192           /* longest decoded signature (PQ ones reach ~5 kB) */

struct cu_note_signer {
    uint32_t id;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    char name[]; /* NUL-terminated */
};

struct cu_note_verifier {
    uint32_t id;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    char name[];
};

/* ============================================================ text rules */

bool cu_note_text_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        if (u[i] < 0x80) { /* fast path for ASCII */
            if (u[i] < 0x20 && u[i] != '\n')
                return false;
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = cu_utf8_decode(u + i, len - i, &cp);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

/* Unicode White_Space (what Go's unicode.IsSpace reports). */
static bool is_unicode_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

bool cu_note_name_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    if (len == 0 || len > CU_NOTE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = cu_utf8_decode(u + i, len - i, &cp);
        if (!n || cp < 0x20 || cp == 0x7f || cp == '+' || is_unicode_space(cp))
            return false;
        i += n;
    }
    return true;
}

/* ==================================================================== keys */

static cu_rc sodium_ready(void)
{
    if (sodium_init() < 0)
        return cu_err_set(CU_ERR_CRYPTO, "libsodium failed to initialise");
    return CU_OK;
}

static cu_rc key_id(const char *name, size_t nlen, const uint8_t pk[32], uint32_t *id)
{
    static const uint8_t sep[2] = {'\n', ALG_ED25519};
    uint8_t h[CU_SHA256_LEN];
    cu_rc rc = cu_sha256(name, nlen, sep, 2, pk, 32, h);
    if (rc)
        return rc;
    *id = cu_get_be32(h);
    return CU_OK;
}

/* "<name>+<hash8hex>+<base64(0x01 || 32 bytes)>" as used by both key kinds.
 * key32 gets the 32 key bytes (seed or public key); the id is returned
 * unchecked (it covers the public key, which the caller derives). */
static cu_rc split_key(const char *what, const char *s, size_t len, const char **name, size_t *nlen,
                       uint32_t *id, uint8_t key32[32])
{
    const char *p1 = memchr(s, '+', len);
    if (!p1)
        return cu_err_set(CU_ERR_PARSE, "%s key: no '+' after the name", what);
    const char *rest = p1 + 1;
    size_t rlen = len - (size_t)(rest - s);
    const char *p2 = memchr(rest, '+', rlen);
    if (!p2)
        return cu_err_set(CU_ERR_PARSE, "%s key: no '+' after the key hash", what);
    *name = s;
    *nlen = (size_t)(p1 - s);
    if (!cu_note_name_valid(s, *nlen))
        return cu_err_set(CU_ERR_PARSE, "%s key: bad key name", what);
    uint8_t idb[4];
    size_t n = 0;
    if (p2 - rest != 8 || cu_hex_decode(rest, 8, idb, &n) != CU_OK || n != 4)
        return cu_err_set(CU_ERR_PARSE, "%s key: key hash is not 8 hex digits", what);
    *id = cu_get_be32(idb);
    const char *b64 = p2 + 1;
    size_t blen = len - (size_t)(b64 - s);
    uint8_t raw[48];
    if (blen == 0 || blen > 64 || cu_b64_decode(b64, blen, raw, &n) != CU_OK) {
        sodium_memzero(raw, sizeof raw);
        return cu_err_set(CU_ERR_PARSE, "%s key: key is not base64", what);
    }
    cu_rc rc = CU_OK;
    if (n == 0)
        rc = cu_err_set(CU_ERR_PARSE, "%s key: empty key", what);
    else if (raw[0] != ALG_ED25519)
        rc = cu_err_set(CU_ERR_UNSUPPORTED, "%s key: algorithm 0x%02x is not Ed25519 (0x01)", what, raw[0]);
    else if (n != 33)
        rc = cu_err_set(CU_ERR_PARSE, "%s key: an Ed25519 key has 32 bytes, not %zu", what, n - 1);
    else
        memcpy(key32, raw + 1, 32);
    sodium_memzero(raw, sizeof raw);
    return rc;
}

/* Length of key text: at most KEY_TEXT_MAX, one trailing '\n' forgiven
 * (key files end in a newline). */
static cu_rc key_text_len(const char *what, const char *text, size_t *len)
{
    if (!text)
        return cu_err_set(CU_ERR_INVAL, "%s key: none given", what);
    size_t n = strnlen(text, KEY_TEXT_MAX + 2);
    if (n > KEY_TEXT_MAX)
        return cu_err_set(CU_ERR_TOOBIG, "%s key: longer than %d bytes", what, KEY_TEXT_MAX);
    if (n && text[n - 1] == '\n')
        n--;
    *len = n;
    return CU_OK;
}

cu_rc cu_note_verifier_parse(const char *text, cu_note_verifier **out)
{
    size_t len = 0, nlen = 0;
    const char *name;
    uint32_t id, want;
    uint8_t pk[32];
    cu_rc rc;
    *out = NULL;
    if ((rc = key_text_len("verifier", text, &len)) || (rc = split_key("verifier", text, len, &name, &nlen, &id, pk)))
        return rc;
    if ((rc = key_id(name, nlen, pk, &want)))
        return rc;
    if (want != id)
        return cu_err_set(CU_ERR_VERIFY, "verifier key: key hash %08x does not match the key (%08x)", id, want);
    cu_note_verifier *v = cu_malloc(sizeof *v + nlen + 1);
    if (!v)
        return cu_err_set(CU_ERR_NOMEM, "verifier key");
    v->id = id;
    memcpy(v->pk, pk, 32);
    memcpy(v->name, name, nlen);
    v->name[nlen] = '\0';
    *out = v;
    return CU_OK;
}

cu_rc cu_note_signer_parse(const char *text, cu_note_signer **out)
{
    static const char prefix[] = "PRIVATE+KEY+";
    size_t len = 0, nlen = 0;
    const char *name;
    uint32_t id, want;
    uint8_t seed[32], pk[32], sk[64];
    cu_note_signer *s = NULL;
    cu_rc rc;
    *out = NULL;
    if ((rc = key_text_len("signer", text, &len)) || (rc = sodium_ready()))
        return rc;
    if (len < sizeof prefix - 1 || memcmp(text, prefix, sizeof prefix - 1) != 0)
        return cu_err_set(CU_ERR_PARSE, "signer key: does not start with PRIVATE+KEY+");
    if ((rc = split_key("signer", text + sizeof prefix - 1, len - (sizeof prefix - 1), &name, &nlen, &id, seed)))
        goto fail;
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
        rc = cu_err_set(CU_ERR_CRYPTO, "signer key: Ed25519 key derivation failed");
        goto fail;
    }
    if ((rc = key_id(name, nlen, pk, &want)))
        goto fail;
    if (want != id) {
        rc = cu_err_set(CU_ERR_VERIFY, "signer key: key hash %08x does not match the key (%08x)", id, want);
        goto fail;
    }
    if (!(s = cu_malloc(sizeof *s + nlen + 1))) {
        rc = cu_err_set(CU_ERR_NOMEM, "signer key");
        goto fail;
    }
    s->id = id;
    memcpy(s->pk, pk, 32);
    memcpy(s->sk, sk, 64);
    memcpy(s->name, name, nlen);
    s->name[nlen] = '\0';
    *out = s;
fail:
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

void cu_note_signer_free(cu_note_signer *s)
{
    if (!s)
        return;
    sodium_memzero(s->sk, sizeof s->sk);
    cu_free(s);
}

void cu_note_verifier_free(cu_note_verifier *v) { cu_free(v); }

const char *cu_note_signer_name(const cu_note_signer *s) { return s->name; }
const char *cu_note_verifier_name(const cu_note_verifier *v) { return v->name; }

/* "<prefix><name>+<hash>+<base64(0x01 || key)>" into a new string. */
static char *key_text(const char *prefix, const char *name, uint32_t id, const uint8_t key[32])
{
    uint8_t raw[33];
    char b64[48];
    raw[0] = ALG_ED25519;
    memcpy(raw + 1, key, 32);
    cu_b64_encode(raw, sizeof raw, b64);
    size_t n = strlen(prefix) + strlen(name) + 1 + 8 + 1 + strlen(b64) + 1;
    char *out = cu_malloc(n);
    if (out)
        snprintf(out, n, "%s%s+%08x+%s", prefix, name, id, b64);
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(b64, sizeof b64);
    return out;
}

char *cu_note_signer_verifier_key(const cu_note_signer *s)
{
    char *k = key_text("", s->name, s->id, s->pk);
    if (!k)
        cu_err_set(CU_ERR_NOMEM, "verifier key");
    return k;
}

cu_rc cu_note_keygen(const char *name, char **signer_key, char **verifier_key)
{
    uint8_t seed[32], pk[32], sk[64];
    uint32_t id;
    cu_rc rc;
    *signer_key = *verifier_key = NULL;
    if (!name || !cu_note_name_valid(name, strnlen(name, CU_NOTE_NAME_MAX + 1)))
        return cu_err_set(CU_ERR_INVAL, "key name must be 1..%d bytes of UTF-8 without spaces or '+'",
                          CU_NOTE_NAME_MAX);
    if ((rc = sodium_ready()))
        return rc;
    randombytes_buf(seed, sizeof seed);
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
        rc = cu_err_set(CU_ERR_CRYPTO, "Ed25519 key generation failed");
        goto fail;
    }
    if ((rc = key_id(name, strlen(name), pk, &id)))
        goto fail;
    *signer_key = key_text("PRIVATE+KEY+", name, id, seed);
    *verifier_key = key_text("", name, id, pk);
    if (!*signer_key || !*verifier_key) {
        rc = cu_err_set(CU_ERR_NOMEM, "key text");
        if (*signer_key)
            sodium_memzero(*signer_key, strlen(*signer_key));
        cu_free(*signer_key);
        cu_free(*verifier_key);
        *signer_key = *verifier_key = NULL;
    }
fail:
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

/* ================================================================== sign */

cu_rc cu_note_sign(const char *text, size_t len, const cu_note_signer *s, char **note, size_t *note_len)
{
    uint8_t sig[4 + crypto_sign_BYTES];
    char b64[128];
    cu_buf b;
    cu_rc rc;
    *note = NULL;
    *note_len = 0;
    if (len == 0 || text[len - 1] != '\n')
        return cu_err_set(CU_ERR_INVAL, "note text must end in a newline");
    if (!cu_note_text_valid(text, len))
        return cu_err_set(CU_ERR_INVAL, "note text must be UTF-8 without control characters but newline");
    cu_put_be32(sig, s->id);
    if (crypto_sign_detached(sig + 4, NULL, (const unsigned char *)text, len, s->sk) != 0)
        return cu_err_set(CU_ERR_CRYPTO, "Ed25519 signing failed");
    cu_b64_encode(sig, sizeof sig, b64);
    cu_buf_init(&b, CU_NOTE_MAX);
    if ((rc = cu_buf_append(&b, text, len)) || (rc = cu_buf_appends(&b, "\n" SIG_PREFIX)) ||
        (rc = cu_buf_appends(&b, s->name)) || (rc = cu_buf_appendf(&b, " %s\n", b64))) {
        cu_buf_free(&b);
        if (rc == CU_ERR_TOOBIG)
            return cu_err_set(rc, "signed note would exceed %d bytes", CU_NOTE_MAX);
        return rc;
    }
    *note = cu_buf_take(&b, note_len);
    return CU_OK;
}

/* ================================================================== open */

static cu_rc malformed(const char *why) { return cu_err_set(CU_ERR_PARSE, "malformed note: %s", why); }

cu_rc cu_note_open(const char *note, size_t len, cu_note_verifier *const *verifiers, size_t nverifiers,
                   size_t *text_len, bool *verified)
{
    uint8_t sig[SIG_B64_MAX];
    size_t nsigs = 0, nok = 0;
    cu_rc rc;
    *text_len = 0;
    if (verified)
        for (size_t i = 0; i < nverifiers; i++)
            verified[i] = false;
    if (len > CU_NOTE_MAX)
        return cu_err_set(CU_ERR_TOOBIG, "note of %zu bytes is over the %d limit", len, CU_NOTE_MAX);
    if (!cu_note_text_valid(note, len))
        return malformed("not UTF-8, or a control character");
    /* the last blank line separates the text from the signatures */
    size_t split = len;
    for (size_t i = len; i-- > 1;)
        if (note[i] == '\n' && note[i - 1] == '\n') {
            split = i - 1;
            break;
        }
    if (split == len)
        return malformed("no blank line before the signatures");
    size_t tlen = split + 1, pos = split + 2;
    if (pos >= len || note[len - 1] != '\n')
        return malformed("no signature lines, or no final newline");
    while (pos < len) {
        const char *line = note + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = (size_t)(nl - line);
        pos += llen + 1;
        if (++nsigs > CU_NOTE_MAX_SIGS) {
            rc = cu_err_set(CU_ERR_TOOBIG, "note has more than %d signatures", CU_NOTE_MAX_SIGS);
            goto fail;
        }
        if (llen < SIG_PREFIX_LEN || memcmp(line, SIG_PREFIX, SIG_PREFIX_LEN) != 0) {
            rc = malformed("a signature line does not start with an em dash");
            goto fail;
        }
        const char *name = line + SIG_PREFIX_LEN;
        size_t rest = llen - SIG_PREFIX_LEN;
        const char *sp = memchr(name, ' ', rest);
        if (!sp) {
            rc = malformed("a signature line has no signature");
            goto fail;
        }
        size_t nlen = (size_t)(sp - name), blen = rest - nlen - 1;
        size_t slen = 0;
        if (!cu_note_name_valid(name, nlen)) {
            rc = malformed("bad key name in a signature line");
            goto fail;
        }
        if (blen == 0 || blen / 4 * 3 > sizeof sig || cu_b64_decode(sp + 1, blen, sig, &slen) != CU_OK ||
            slen < 5) {
            rc = malformed("bad signature encoding");
            goto fail;
        }
        uint32_t id = cu_get_be32(sig);
        for (size_t i = 0; i < nverifiers; i++) {
            const cu_note_verifier *v = verifiers[i];
            if (v->id != id || strlen(v->name) != nlen || memcmp(v->name, name, nlen) != 0)
                continue; /* not this key: unknown signatures are skipped */
            if (slen != 4 + crypto_sign_BYTES ||
                crypto_sign_verify_detached(sig + 4, (const unsigned char *)note, tlen, v->pk) != 0) {
                rc = cu_err_set(CU_ERR_VERIFY, "invalid signature by %s", v->name);
                goto fail;
            }
            if (verified)
                verified[i] = true;
            nok++;
        }
    }
    if (nok == 0)
        return cu_err_set(CU_ERR_VERIFY, "no verifiable signatures");
    *text_len = tlen;
    return CU_OK;
fail:
    /* a failed open marks nobody, even those whose lines came before */
    if (verified)
        for (size_t i = 0; i < nverifiers; i++)
            verified[i] = false;
    return rc;
}
