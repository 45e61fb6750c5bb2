/* SHA-256 and HMAC-SHA-256 through OpenSSL 3.
 *
 * The EVP_MD is fetched once per process (EVP_MD_fetch is costly and takes a
 * lock); each thread keeps one EVP_MD_CTX that it re-initialises per hash, so
 * the hot path (leaf and node hashing) allocates nothing. */
#include "custos/util.h"

#include <openssl/evp.h>
#include <pthread.h>

static EVP_MD *sha256_md;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;

static void ctx_destroy(void *p) { EVP_MD_CTX_free(p); }

static void md_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    pthread_key_create(&ctx_key, ctx_destroy);
}

static _Thread_local EVP_MD_CTX *tctx;

static EVP_MD_CTX *thread_ctx(void)
{
    pthread_once(&md_once, md_init);
    if (!tctx && sha256_md) {
        tctx = EVP_MD_CTX_new();
        if (tctx)
            pthread_setspecific(ctx_key, tctx);
    }
    return tctx;
}

cu_rc cu_sha256(const void *a, size_t alen, const void *b, size_t blen, const void *c, size_t clen,
                uint8_t out[CU_SHA256_LEN])
{
    EVP_MD_CTX *ctx = thread_ctx();
    unsigned int n = 0;
    if (!ctx || !EVP_DigestInit_ex2(ctx, sha256_md, NULL))
        return cu_err_set(CU_ERR_CRYPTO, "SHA-256 unavailable");
    if ((alen && !EVP_DigestUpdate(ctx, a, alen)) || (blen && !EVP_DigestUpdate(ctx, b, blen)) ||
        (clen && !EVP_DigestUpdate(ctx, c, clen)) || !EVP_DigestFinal_ex(ctx, out, &n) || n != 32)
        return cu_err_set(CU_ERR_CRYPTO, "SHA-256 failed");
    return CU_OK;
}

cu_rc cu_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t n, uint8_t out[CU_SHA256_LEN])
{
    /* HMAC by its definition over the shared digest context (RFC 2104). */
    uint8_t k[64] = {0}, ipad[64], opad[64], inner[32];
    cu_rc rc;
    if (keylen > 64) {
        if ((rc = cu_sha256(key, keylen, NULL, 0, NULL, 0, k)))
            return rc;
    } else if (keylen) {
        for (size_t i = 0; i < keylen; i++)
            k[i] = key[i];
    }
    for (int i = 0; i < 64; i++) {
        ipad[i] = k[i] ^ 0x36;
        opad[i] = k[i] ^ 0x5c;
    }
    rc = cu_sha256(ipad, 64, msg, n, NULL, 0, inner);
    if (!rc)
        rc = cu_sha256(opad, 64, inner, 32, NULL, 0, out);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
    OPENSSL_cleanse(inner, sizeof inner);
    return rc;
}
