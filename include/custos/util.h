/*
 * custos util: the bottom layer every other module stands on.
 *
 * - One result enum (cu_rc) for the whole library, with cu_strerror().
 * - A thread-local "last error detail" so that a parser can say *where* it
 *   failed ("events.jsonl:17: bad ts") without every function growing an
 *   out-parameter.  Functions that fail with a detail set it with cu_err_set();
 *   callers read it with cu_err_detail().  The detail is only meaningful right
 *   after a call returned something other than CU_OK.
 * - One allocation wrapper, so a test can make the Nth allocation fail
 *   (cu_alloc_fail_at) and check that every error path cleans up.
 * - Bounded buffers (cu_buf): every buffer has a maximum fixed when it is made.
 * - Arenas for per-request / per-batch memory.
 * - Base64 (standard alphabet, padded), hex, RFC 3339 time, SHA-256 through
 *   OpenSSL 3 (the digest is fetched once per process and contexts are
 *   reused per thread), bounded file reading.
 *
 * Time inside custos is int64 seconds since the Unix epoch (UTC), passed in
 * by callers, never read inside logic.
 */
#ifndef CUSTOS_UTIL_H
#define CUSTOS_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define CU_NODISCARD __attribute__((warn_unused_result))
#define CU_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CU_NODISCARD
#define CU_PRINTF(a, b)
#endif

/* ---------------------------------------------------------------- results */

typedef enum cu_rc {
    CU_OK = 0,
    CU_ERR_NOMEM,       /* allocation failed */
    CU_ERR_INVAL,       /* bad argument or bad input value */
    CU_ERR_PARSE,       /* malformed text or binary input */
    CU_ERR_TOOBIG,      /* input over its size limit */
    CU_ERR_IO,          /* read/write/fsync failed (EIO and friends) */
    CU_ERR_NOSPC,       /* disk full (ENOSPC, EDQUOT) */
    CU_ERR_NOTFOUND,    /* no such file, entry, key or id */
    CU_ERR_EXISTS,      /* already exists */
    CU_ERR_LOCKED,      /* another writer holds the lock */
    CU_ERR_VERIFY,      /* a signature, proof or hash did not verify */
    CU_ERR_CORRUPT,     /* stored data is damaged or inconsistent */
    CU_ERR_RANGE,       /* index or size out of range */
    CU_ERR_OVERFLOW,    /* arithmetic overflow */
    CU_ERR_TYPE,        /* value of the wrong type */
    CU_ERR_STATE,       /* operation not valid in the current state */
    CU_ERR_ORDER,       /* input out of time order */
    CU_ERR_DENIED,      /* not permitted (auth, separation of duties) */
    CU_ERR_CRYPTO,      /* the crypto library failed */
    CU_ERR_UNSUPPORTED, /* valid but not supported */
    CU_ERR_INTERNAL,    /* a bug: an invariant did not hold */
    CU_RC_COUNT_
} cu_rc;

/* Static English text for rc; never NULL. */
const char *cu_strerror(cu_rc rc);

/* Map an errno value to the closest cu_rc (ENOSPC -> CU_ERR_NOSPC, ...). */
cu_rc cu_rc_from_errno(int err);

/* Thread-local error detail.  cu_err_set() formats a message (truncated at
 * 1023 bytes) and returns rc so callers can write `return cu_err_set(...)`. */
cu_rc cu_err_set(cu_rc rc, const char *fmt, ...) CU_PRINTF(2, 3);
cu_rc cu_err_setv(cu_rc rc, const char *fmt, va_list ap);
/* Prefix the current detail with "prefix: " (for file:line context). */
void cu_err_prefix(const char *fmt, ...) CU_PRINTF(1, 2);
const char *cu_err_detail(void); /* "" when none */
void cu_err_clear(void);

/* ------------------------------------------------------------- allocation */

void *cu_malloc(size_t n);
void *cu_calloc(size_t count, size_t size);
void *cu_realloc(void *p, size_t n);
/* Room for need elements of elem bytes in the array *arr (arr: the address
 * of the array's pointer variable), whose capacity is *cap elements: the
 * capacity doubles, from first when it is 0, until it holds need; the new
 * elements are zeroed when zero is set.  On failure (CU_ERR_NOMEM, or
 * CU_ERR_OVERFLOW when the size would not fit in size_t) the array and
 * *cap are unchanged. */
cu_rc cu_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first, bool zero) CU_NODISCARD;
char *cu_strdup(const char *s);
char *cu_strndup(const char *s, size_t n);
void cu_free(void *p);

/* Fault injection for tests: the nth allocation from now on (1-based) and
 * every one after it fails while `sticky`, or only that one otherwise.
 * n == 0 disables.  Process-wide; not for use in threaded tests. */
void cu_alloc_fail_at(uint64_t n, bool sticky);
uint64_t cu_alloc_count(void); /* allocations attempted since start */

/* ---------------------------------------------------------------- buffers */

/* A growable byte buffer with a hard maximum.  data is always NUL-terminated
 * (the terminator is not counted in len), so text can be used as a C string. */
typedef struct cu_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} cu_buf;

void cu_buf_init(cu_buf *b, size_t max);
void cu_buf_free(cu_buf *b);
void cu_buf_reset(cu_buf *b);
cu_rc cu_buf_append(cu_buf *b, const void *p, size_t n) CU_NODISCARD;
cu_rc cu_buf_appends(cu_buf *b, const char *s) CU_NODISCARD;
cu_rc cu_buf_appendf(cu_buf *b, const char *fmt, ...) CU_PRINTF(2, 3) CU_NODISCARD;
cu_rc cu_buf_reserve(cu_buf *b, size_t extra) CU_NODISCARD;
/* Hand the data to the caller (who frees it with cu_free); b is reset. */
char *cu_buf_take(cu_buf *b, size_t *len_out);

/* ----------------------------------------------------------------- arenas */

typedef struct cu_arena cu_arena;

/* An arena of blocks of block_size bytes, at most max bytes in all. */
cu_arena *cu_arena_new(size_t block_size, size_t max);
void cu_arena_free(cu_arena *a);
/* 16-byte aligned; NULL when the arena would exceed its maximum. */
void *cu_arena_alloc(cu_arena *a, size_t n);
char *cu_arena_strndup(cu_arena *a, const char *s, size_t n);
/* Forget every allocation, keep the first block for reuse. */
void cu_arena_reset(cu_arena *a);
size_t cu_arena_used(const cu_arena *a);

/* ------------------------------------------------------ base64, hex, bytes */

/* Standard alphabet with padding.  out must hold cu_b64_enc_len(n)+1 bytes;
 * it is NUL-terminated.  Returns the length written. */
size_t cu_b64_enc_len(size_t n);
size_t cu_b64_encode(const uint8_t *in, size_t n, char *out);
/* Strict decode (padding required, no whitespace, canonical trailing bits).
 * out must hold at least (len/4)*3 bytes. */
cu_rc cu_b64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len) CU_NODISCARD;

void cu_hex_encode(const uint8_t *in, size_t n, char *out); /* out: 2n+1 */
/* The value of one hex digit (either case), or -1. */
int cu_hex_digit(char c);
cu_rc cu_hex_decode(const char *in, size_t len, uint8_t *out, size_t *out_len) CU_NODISCARD;

/* A fast 64-bit hash of n bytes for this process's own hash tables (never
 * stored, never compared across processes): a word at a time, each 8 bytes
 * xored in and multiplied with the high half folded down (tables use the
 * low bits); the tail read as one word (overlapping the last full one, or
 * from 4-, 2- and 1-byte reads), the length and seed mixed in, and a full
 * finishing mix so that the last bytes (an id's last characters) reach the
 * low bits.  Inline: ids are short and it is on look-up paths. */
static inline uint64_t cu_hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t h = (seed ^ 1469598103934665603ull) + n * 0x9e3779b97f4a7c15ull, w;
    size_t len = n;
    while (n > 8) {
        memcpy(&w, b, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        b += 8;
        n -= 8;
    }
    if (len >= 8) {
        memcpy(&w, b + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, b, 4);
        memcpy(&y, b + n - 4, 4);
        w = (uint64_t)x << 32 | y;
    } else {
        w = n ? (uint64_t)b[0] << 16 | (uint64_t)b[n / 2] << 8 | b[n - 1] : 0;
    }
    h ^= w;
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* The decimal digits of v at out (at most 20, no terminator); their count.
 * For writers that put many numbers (no printf per number). */
static inline size_t cu_u64_dec(char *out, uint64_t v)
{
    size_t n = 1;
    for (uint64_t x = v; x >= 10; x /= 10)
        n++;
    for (size_t i = n; i-- > 0; v /= 10) /* from the last digit back: no reversal */
        out[i] = (char)('0' + v % 10);
    return n;
}

static inline void cu_put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void cu_put_be32(uint8_t *p, uint32_t v) { for (int i = 3; i >= 0; i--) { p[i] = (uint8_t)v; v >>= 8; } }
static inline void cu_put_be64(uint8_t *p, uint64_t v) { for (int i = 7; i >= 0; i--) { p[i] = (uint8_t)v; v >>= 8; } }
static inline uint16_t cu_get_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t cu_get_be32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static inline uint64_t cu_get_be64(const uint8_t *p) { return ((uint64_t)cu_get_be32(p) << 32) | cu_get_be32(p + 4); }

/* UTF-8 (RFC 3629).  cu_utf8_decode reads one sequence at s (len >= 1
 * bytes available): its length, with *cp set, or 0 when it is not valid
 * UTF-8 (bad lead or continuation, truncated, overlong, a surrogate, above
 * U+10FFFF).  cu_utf8_encode writes cp (<= U+10FFFF) to out (4 bytes of
 * room) and returns the length. */
size_t cu_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
size_t cu_utf8_encode(uint32_t cp, char *out);

/* Constant-time comparison. */
bool cu_ct_equal(const void *a, const void *b, size_t n);

/* ------------------------------------------------------------------- time */

/* Parse RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" (fractional seconds accepted and
 * truncated; numeric offsets accepted and applied).  Strict field ranges. */
cu_rc cu_time_parse(const char *s, size_t len, int64_t *out) CU_NODISCARD;
/* Parse a date "YYYY-MM-DD" as midnight UTC. */
cu_rc cu_date_parse(const char *s, size_t len, int64_t *out) CU_NODISCARD;
/* Format as "YYYY-MM-DDTHH:MM:SSZ"; out must hold 21 bytes. */
void cu_time_format(int64_t t, char out[21]);
/* Format as "YYYY-MM-DD"; out must hold 11 bytes. */
void cu_date_format(int64_t t, char out[11]);
/* Days since epoch <-> civil date (proleptic Gregorian). */
int64_t cu_days_from_civil(int64_t y, unsigned m, unsigned d);
void cu_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* Wall clock, for programs and the daemon only (logic takes `now`). */
int64_t cu_now(void);
/* Monotonic nanoseconds, for benchmarks and timeouts. */
uint64_t cu_mono_ns(void);

/* ---------------------------------------------------------------- SHA-256 */

#define CU_SHA256_LEN 32

/* One-shot SHA-256 of the concatenation of up to three parts (any may be
 * NULL with length 0).  Uses a per-thread EVP context and a digest fetched
 * once per process.  Returns CU_ERR_CRYPTO only if OpenSSL fails. */
cu_rc cu_sha256(const void *a, size_t alen, const void *b, size_t blen,
                const void *c, size_t clen, uint8_t out[CU_SHA256_LEN]) CU_NODISCARD;

/* HMAC-SHA-256 (key up to 64 bytes used as is; longer keys are hashed). */
cu_rc cu_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t n,
                     uint8_t out[CU_SHA256_LEN]) CU_NODISCARD;

/* -------------------------------------------------------------------- I/O */

/* Read a whole file of at most max bytes.  *out is NUL-terminated and freed
 * by the caller with cu_free.  Larger files give CU_ERR_TOOBIG. */
cu_rc cu_file_read(const char *path, size_t max, char **out, size_t *len) CU_NODISCARD;
/* Write a file atomically: temp file in the same directory, fsync, rename,
 * fsync of the directory.  mode as for open(2). */
cu_rc cu_file_write_atomic(const char *path, const void *data, size_t n, unsigned mode) CU_NODISCARD;

/* A line reader over a FILE-like source with a maximum line length.  Lines
 * are returned without their '\n' (a trailing '\r' is kept: callers decide).
 * cu_lines_next returns CU_OK with *line set, CU_ERR_NOTFOUND at end of
 * input, CU_ERR_TOOBIG for an over-long line (the line is skipped and
 * reading can go on), CU_ERR_IO on a read error. */
typedef struct cu_lines cu_lines;
cu_rc cu_lines_open(const char *path, size_t max_line, cu_lines **out) CU_NODISCARD;
cu_rc cu_lines_from_fd(int fd, const char *name, size_t max_line, cu_lines **out) CU_NODISCARD;
cu_rc cu_lines_next(cu_lines *r, const char **line, size_t *len);
uint64_t cu_lines_lineno(const cu_lines *r); /* 1-based number of the last line returned */
const char *cu_lines_name(const cu_lines *r);
void cu_lines_close(cu_lines *r);

/* ---------------------------------------------------------------- logging */

typedef enum { CU_LOG_DEBUG, CU_LOG_INFO, CU_LOG_WARN, CU_LOG_ERROR } cu_log_level;
void cu_log_set_level(cu_log_level lvl);
void cu_log(cu_log_level lvl, const char *fmt, ...) CU_PRINTF(2, 3);

/* ---------------------------------------------------------------- threads */
/* Stops a worker: sets *stop under mu, wakes every waiter on cv and joins th.
 * The worker reads *stop under mu after each wait and finishes what it was
 * handed before it returns. */
void cu_thread_stop(pthread_mutex_t *mu, pthread_cond_t *cv, bool *stop, pthread_t th);

#endif /* CUSTOS_UTIL_H */
