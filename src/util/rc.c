/* Result codes, the thread-local error detail, and logging. */
#include "custos/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const rc_text[CU_RC_COUNT_] = {
    [CU_OK] = "ok",
    [CU_ERR_NOMEM] = "out of memory",
    [CU_ERR_INVAL] = "invalid argument",
    [CU_ERR_PARSE] = "malformed input",
    [CU_ERR_TOOBIG] = "input too large",
    [CU_ERR_IO] = "input/output error",
    [CU_ERR_NOSPC] = "no space left on device",
    [CU_ERR_NOTFOUND] = "not found",
    [CU_ERR_EXISTS] = "already exists",
    [CU_ERR_LOCKED] = "locked by another writer",
    [CU_ERR_VERIFY] = "verification failed",
    [CU_ERR_CORRUPT] = "stored data is corrupt",
    [CU_ERR_RANGE] = "out of range",
    [CU_ERR_OVERFLOW] = "arithmetic overflow",
    [CU_ERR_TYPE] = "type error",
    [CU_ERR_STATE] = "invalid state",
    [CU_ERR_ORDER] = "out of order",
    [CU_ERR_DENIED] = "not permitted",
    [CU_ERR_CRYPTO] = "cryptographic library failure",
    [CU_ERR_UNSUPPORTED] = "not supported",
    [CU_ERR_INTERNAL] = "internal error",
};

const char *cu_strerror(cu_rc rc)
{
    if ((int)rc < 0 || rc >= CU_RC_COUNT_ || !rc_text[rc])
        return "unknown error";
    return rc_text[rc];
}

cu_rc cu_rc_from_errno(int err)
{
    switch (err) {
    case 0: return CU_OK;
    case ENOMEM: return CU_ERR_NOMEM;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return CU_ERR_NOSPC;
    case ENOENT: return CU_ERR_NOTFOUND;
    case EEXIST: return CU_ERR_EXISTS;
    case EACCES:
    case EPERM: return CU_ERR_DENIED;
    case EWOULDBLOCK: return CU_ERR_LOCKED;
    case EFBIG: return CU_ERR_TOOBIG;
    case EINVAL: return CU_ERR_INVAL;
    default: return CU_ERR_IO;
    }
}

#define DETAIL_MAX 1024
static _Thread_local char detail[DETAIL_MAX];

cu_rc cu_err_setv(cu_rc rc, const char *fmt, va_list ap)
{
    /* through a copy: callers pass cu_err_detail() itself as an argument
     * ("what: %s", cu_err_detail()), which must not be overwritten while
     * it is read */
    char tmp[DETAIL_MAX];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    memcpy(detail, tmp, sizeof detail);
    return rc;
}

cu_rc cu_err_set(cu_rc rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cu_err_setv(rc, fmt, ap);
    va_end(ap);
    return rc;
}

void cu_err_prefix(const char *fmt, ...)
{
    char pre[DETAIL_MAX];
    char old[DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, detail, sizeof old);
    cu_buf b;
    cu_buf_init(&b, DETAIL_MAX - 1);
    /* a cut message is still better than none: ignore TOOBIG */
    if (cu_buf_appends(&b, pre) == CU_OK && old[0] && cu_buf_appends(&b, ": ") == CU_OK &&
        cu_buf_appends(&b, old)) {
    }
    snprintf(detail, sizeof detail, "%s", b.data ? b.data : pre);
    cu_buf_free(&b);
}

const char *cu_err_detail(void) { return detail; }
void cu_err_clear(void) { detail[0] = '\0'; }

/* ---------------------------------------------------------------- logging */

static cu_log_level log_level = CU_LOG_INFO;

void cu_log_set_level(cu_log_level lvl) { log_level = lvl; }

void cu_log(cu_log_level lvl, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (lvl < log_level)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char ts[21];
    cu_time_format(cu_now(), ts);
    fprintf(stderr, "%s %s %s\n", ts, names[lvl], line);
}
