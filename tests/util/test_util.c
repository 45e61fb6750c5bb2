#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

TEST(b64_round_trip_and_strictness)
{
    const uint8_t in[] = "any carnal pleasure.";
    for (size_t n = 0; n <= 20; n++) {
        char enc[64];
        uint8_t dec[64];
        size_t dlen = 0;
        size_t elen = cu_b64_encode(in, n, enc);
        CHECK_INT(elen, cu_b64_enc_len(n));
        CHECK_OK(cu_b64_decode(enc, elen, dec, &dlen));
        CHECK_INT(dlen, n);
        CHECK_MEM(dec, in, n);
    }
    char enc[16];
    cu_b64_encode((const uint8_t *)"f", 1, enc);
    CHECK_STR(enc, "Zg==");
    uint8_t out[16];
    size_t ol;
    CHECK_RC(cu_b64_decode("Zg=", 3, out, &ol), CU_ERR_PARSE);   /* length */
    CHECK_RC(cu_b64_decode("Zh==", 4, out, &ol), CU_ERR_PARSE);  /* non-canonical bits */
    CHECK_RC(cu_b64_decode("Z===", 4, out, &ol), CU_ERR_PARSE);  /* too much padding */
    CHECK_RC(cu_b64_decode("Zg=a", 4, out, &ol), CU_ERR_PARSE);  /* data after pad */
    CHECK_RC(cu_b64_decode("Zg\n=", 4, out, &ol), CU_ERR_PARSE); /* whitespace */
}

TEST(hex)
{
    uint8_t b[4] = {0xde, 0xad, 0x00, 0x7f}, d[4];
    char h[9];
    size_t n;
    cu_hex_encode(b, 4, h);
    CHECK_STR(h, "dead007f");
    CHECK_OK(cu_hex_decode("DEAD007F", 8, d, &n));
    CHECK_INT(n, 4);
    CHECK_MEM(d, b, 4);
    CHECK_RC(cu_hex_decode("abc", 3, d, &n), CU_ERR_PARSE);
    CHECK_RC(cu_hex_decode("zz", 2, d, &n), CU_ERR_PARSE);
}

TEST(time_parse_and_format)
{
    int64_t t;
    CHECK_OK(cu_time_parse("1970-01-01T00:00:00Z", 20, &t));
    CHECK_INT(t, 0);
    CHECK_OK(cu_time_parse("2024-03-05T14:07:33Z", 20, &t));
    CHECK_INT(t, 1709647653);
    char out[21];
    cu_time_format(t, out);
    CHECK_STR(out, "2024-03-05T14:07:33Z");
    CHECK_OK(cu_time_parse("2024-03-05T14:07:33.123Z", 24, &t));
    CHECK_INT(t, 1709647653);
    CHECK_OK(cu_time_parse("2024-03-05T15:07:33+01:00", 25, &t));
    CHECK_INT(t, 1709647653);
    CHECK_OK(cu_time_parse("2024-02-29T00:00:00Z", 20, &t));
    CHECK_RC(cu_time_parse("2023-02-29T00:00:00Z", 20, &t), CU_ERR_PARSE);
    CHECK_RC(cu_time_parse("2024-13-01T00:00:00Z", 20, &t), CU_ERR_PARSE);
    CHECK_RC(cu_time_parse("2024-03-05 14:07:33Z", 20, &t), CU_ERR_PARSE);
    CHECK_RC(cu_time_parse("2024-03-05T14:07:33", 19, &t), CU_ERR_PARSE);
    CHECK_RC(cu_time_parse("2024-03-05T24:00:00Z", 20, &t), CU_ERR_PARSE);
    CHECK_RC(cu_time_parse("2024-03-05T14:07:33Zx", 21, &t), CU_ERR_PARSE);
    CHECK_OK(cu_date_parse("2029-04-01", 10, &t));
    char d[11];
    cu_date_format(t, d);
    CHECK_STR(d, "2029-04-01");
    CHECK_RC(cu_date_parse("2029-4-01", 9, &t), CU_ERR_PARSE);
    /* civil conversions agree over a wide range */
    for (int64_t z = -800000; z < 800000; z += 997) {
        int64_t y;
        unsigned m, dd;
        cu_civil_from_days(z, &y, &m, &dd);
        CHECK_INT(cu_days_from_civil(y, m, dd), z);
    }
}

TEST(sha256_known_answers)
{
    uint8_t h[32];
    char hex[65];
    CHECK_OK(cu_sha256(NULL, 0, NULL, 0, NULL, 0, h));
    cu_hex_encode(h, 32, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_OK(cu_sha256("a", 1, "b", 1, "c", 1, h));
    cu_hex_encode(h, 32, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231 test case 2 */
    CHECK_OK(cu_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, h));
    cu_hex_encode(h, 32, hex);
    CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 6: a key longer than the block */
    uint8_t key[131];
    memset(key, 0xaa, sizeof key);
    CHECK_OK(cu_hmac_sha256(key, sizeof key, "Test Using Larger Than Block-Size Key - Hash Key First", 54, h));
    cu_hex_encode(h, 32, hex);
    CHECK_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(buf_limits)
{
    cu_buf b;
    cu_buf_init(&b, 10);
    CHECK_OK(cu_buf_appends(&b, "0123456789"));
    CHECK_RC(cu_buf_appends(&b, "x"), CU_ERR_TOOBIG);
    CHECK_INT(b.len, 10);
    CHECK_STR(b.data, "0123456789");
    cu_buf_reset(&b);
    CHECK_OK(cu_buf_appendf(&b, "%d-%s", 42, "ok"));
    CHECK_STR(b.data, "42-ok");
    CHECK_RC(cu_buf_appendf(&b, "%s", "toolong"), CU_ERR_TOOBIG);
    cu_buf_free(&b);
}

TEST(arena)
{
    cu_arena *a = cu_arena_new(1024, 4096);
    CHECK(a != NULL);
    char *p = cu_arena_alloc(a, 100);
    CHECK(p && ((uintptr_t)p & 15) == 0);
    CHECK(cu_arena_alloc(a, 5000) == NULL); /* over max */
    for (int i = 0; i < 20; i++)
        CHECK(cu_arena_alloc(a, 100) != NULL);
    CHECK_STR(cu_arena_strndup(a, "hello world", 5), "hello");
    cu_arena_reset(a);
    CHECK_INT(cu_arena_used(a), 0);
    CHECK(cu_arena_alloc(a, 3000) != NULL);
    cu_arena_free(a);
}

TEST(alloc_fault_injection)
{
    cu_alloc_fail_at(2, false);
    void *a = cu_malloc(8);
    void *b = cu_malloc(8);
    void *c = cu_malloc(8);
    CHECK(a != NULL);
    CHECK(b == NULL);
    CHECK(c != NULL);
    cu_free(a);
    cu_free(c);
    cu_alloc_fail_at(1, true);
    CHECK(cu_malloc(1) == NULL);
    CHECK(cu_strdup("x") == NULL);
    cu_alloc_fail_at(0, false);
    char *s = cu_strdup("x");
    CHECK(s != NULL);
    cu_free(s);
}

TEST(err_detail)
{
    CHECK_RC(cu_err_set(CU_ERR_PARSE, "bad ts"), CU_ERR_PARSE);
    cu_err_prefix("%s:%d", "events.jsonl", 17);
    CHECK_STR(cu_err_detail(), "events.jsonl:17: bad ts");
    CHECK_STR(cu_strerror(CU_ERR_NOSPC), "no space left on device");
    CHECK_STR(cu_strerror((cu_rc)9999), "unknown error");
}

TEST(files_and_lines)
{
    char path[600];
    snprintf(path, sizeof path, "%s/lines.txt", cu_test_tmpdir());
    const char text[] = "one\ntwo\n" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nfour";
    CHECK_OK(cu_file_write_atomic(path, text, sizeof text - 1, 0600));
    char *data;
    size_t n;
    CHECK_OK(cu_file_read(path, 1000, &data, &n));
    CHECK_INT(n, sizeof text - 1);
    cu_free(data);
    CHECK_RC(cu_file_read(path, 10, &data, &n), CU_ERR_TOOBIG);
    cu_lines *r;
    CHECK_OK(cu_lines_open(path, 16, &r));
    const char *line;
    size_t len;
    CHECK_OK(cu_lines_next(r, &line, &len));
    CHECK_STR(line, "one");
    CHECK_OK(cu_lines_next(r, &line, &len));
    CHECK_STR(line, "two");
    CHECK_RC(cu_lines_next(r, &line, &len), CU_ERR_TOOBIG);
    CHECK_INT(cu_lines_lineno(r), 3);
    CHECK_OK(cu_lines_next(r, &line, &len));
    CHECK_STR(line, "four");
    CHECK_INT(cu_lines_lineno(r), 4);
    CHECK_RC(cu_lines_next(r, &line, &len), CU_ERR_NOTFOUND);
    cu_lines_close(r);
    CHECK_RC(cu_file_read("/nonexistent/x", 10, &data, &n), CU_ERR_NOTFOUND);
}

TEST(utf8_and_hex_digit)
{
    uint32_t cp = 0;
    const unsigned char ok[][5] = {{'A'}, {0xc3, 0xa9}, {0xe2, 0x82, 0xac}, {0xf0, 0x9f, 0x98, 0x80}};
    const size_t oklen[] = {1, 2, 3, 4};
    const uint32_t okcp[] = {'A', 0xe9, 0x20ac, 0x1f600};
    for (int i = 0; i < 4; i++) {
        CHECK_INT(cu_utf8_decode(ok[i], oklen[i], &cp), oklen[i]);
        CHECK_INT(cp, okcp[i]);
        char out[4];
        CHECK_INT(cu_utf8_encode(okcp[i], out), oklen[i]);
        CHECK_MEM(out, ok[i], oklen[i]);
    }
    const unsigned char overlong[] = {0xc0, 0xaf}, surrogate[] = {0xed, 0xa0, 0x80},
                        too_high[] = {0xf4, 0x90, 0x80, 0x80}, cont[] = {0x80}, bad_cont[] = {0xc3, 0x28};
    CHECK_INT(cu_utf8_decode(overlong, 2, &cp), 0);
    CHECK_INT(cu_utf8_decode(surrogate, 3, &cp), 0);
    CHECK_INT(cu_utf8_decode(too_high, 4, &cp), 0);
    CHECK_INT(cu_utf8_decode(cont, 1, &cp), 0);
    CHECK_INT(cu_utf8_decode(bad_cont, 2, &cp), 0);
    CHECK_INT(cu_utf8_decode(ok[2], 2, &cp), 0); /* truncated */
    CHECK_INT(cu_hex_digit('0'), 0);
    CHECK_INT(cu_hex_digit('f'), 15);
    CHECK_INT(cu_hex_digit('F'), 15);
    CHECK_INT(cu_hex_digit('g'), -1);
    CHECK_INT(cu_hex_digit('/'), -1);
}

/* cu_hash64: every length 0-40 (the word loop, the overlapping tail, the
 * 4- and 1-byte tails) gives a value that depends on every byte, its
 * length and the seed; a change in the last byte reaches the low bits that
 * tables use. */
TEST(hash64_reads_every_byte)
{
    char buf[41], alt[41];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)('a' + i % 26);
    for (size_t n = 0; n <= 40; n++) {
        uint64_t h = cu_hash64(buf, n, 0);
        CHECK(h == cu_hash64(buf, n, 0));
        CHECK(h != cu_hash64(buf, n, 1));
        if (n)
            CHECK(h != cu_hash64(buf, n - 1, 0));
        for (size_t k = 0; k < n; k++) {
            memcpy(alt, buf, n);
            alt[k] ^= 1;
            CHECK_MSG(cu_hash64(alt, n, 0) != h, "byte %zu of %zu not read", k, n);
        }
        if (n) {
            memcpy(alt, buf, n);
            alt[n - 1] ^= 0x40;
            CHECK_MSG(((cu_hash64(alt, n, 0) ^ h) & 0xffff) != 0, "last byte of %zu misses the low bits", n);
        }
    }
}

TEST(grow_doubles_zeroes_and_keeps_on_failure)
{
    uint32_t *v = NULL;
    size_t cap = 0;
    CHECK_OK(cu_grow(&v, &cap, 1, sizeof *v, 4, true));
    CHECK_INT((long long)cap, 4);
    for (size_t i = 0; i < cap; i++)
        CHECK_INT(v[i], 0);
    v[3] = 7;
    CHECK_OK(cu_grow(&v, &cap, 4, sizeof *v, 4, true)); /* fits: nothing moves */
    CHECK_INT((long long)cap, 4);
    CHECK_OK(cu_grow(&v, &cap, 9, sizeof *v, 4, true)); /* 4 -> 8 -> 16 */
    CHECK_INT((long long)cap, 16);
    CHECK_INT(v[3], 7);
    int zero = 0;
    for (size_t i = 4; i < cap; i++)
        zero += v[i] == 0;
    CHECK_INT(zero, 12);
    /* a failed allocation leaves the array and its capacity as they were */
    uint32_t *before = v;
    cu_alloc_fail_at(1, false);
    CHECK_RC(cu_grow(&v, &cap, 17, sizeof *v, 4, true), CU_ERR_NOMEM);
    cu_alloc_fail_at(0, false);
    CHECK(v == before);
    CHECK_INT((long long)cap, 16);
    CHECK_INT(v[3], 7);
    /* a size past size_t: refused before any allocation */
    uint64_t n0 = cu_alloc_count();
    CHECK_RC(cu_grow(&v, &cap, SIZE_MAX / 2, sizeof *v, 4, false), CU_ERR_OVERFLOW);
    CHECK_INT((long long)(cu_alloc_count() - n0), 0);
    CHECK_INT((long long)cap, 16);
    cu_free(v);
}
