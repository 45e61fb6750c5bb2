/* A parallel reader of an events file: the same events, ids and errors as
 * cu_event_reader, with the parsing spread over worker threads.
 *
 * The file is cut into chunks of whole lines (about `block` bytes each,
 * ending at a line end).  A worker claims the next chunk (reading it from
 * the file in sequence, under the reader's mutex: this is the only part
 * done in order), then scans its lines (cu_event_scan: full validation, ids
 * as hashed spans, nothing interned) without any lock.  The caller's thread
 * takes the chunks in file order and interns their events one by one
 * (cu_event_intern), so ids are given out in order of first sight exactly
 * as the serial reader gives them; it also checks time order and numbers
 * lines (a chunk knows only its own line numbers; the caller adds the lines
 * of the chunks before it).
 *
 * Invariants:
 * 1. Chunks are handed to the caller in file order (sequence numbers; a
 *    ring of slots, each slot reused only after the caller released it).
 * 2. A chunk with a bad line holds the events before that line, then the
 *    error (relative line and message); the caller returns every one of
 *    those events before the error, so nothing before a bad line is lost,
 *    and the error reads "FILE:LINE: what" as the serial reader's does.
 * 3. Spans point into the chunk's bytes or its scratch blocks, which do
 *    not move while the chunk is out; arrays indexed by event may grow
 *    (they hold offsets, not pointers).
 * 4. Memory is bounded: slots * (block + max line + per-event arrays),
 *    grown to a high-water mark and reused; no allocation per event.
 */
#include "custos/event.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_BLOCK (8u << 20)
#define MAX_WORKERS 16
#define SCRATCH_BLOCK (1u << 20)
#define PREFETCH_AHEAD 4

enum { SLOT_FREE, SLOT_BUSY, SLOT_READY };

struct scratch_blk {
    char *p;
    size_t used;
};

struct item {
    cu_event_raw raw;   /* raw.subjects is set when taken (subj may move) */
    uint64_t line;      /* 1-based within the chunk */
    size_t soff;        /* first subject in the chunk's subj */
};

struct chunk {
    int state;
    uint64_t seq;
    char *buf;
    size_t len;
    bool last;       /* nothing follows (end of file, or reading stopped) */
    /* scanned events */
    struct item *ev;
    size_t nev, capev;
    cu_idspan *subj;
    size_t nsubj, capsubj;
    struct scratch_blk *blk;
    size_t nblk, capblk, curblk;
    uint64_t nlines;
    /* the error that ends the chunk (after its events) */
    cu_rc err;
    uint64_t err_line; /* 0: not at a line (a read error) */
    char msg[1024];
};

struct cu_event_preader {
    char *name;
    int fd;
    bool own_fd;
    cu_names *names;
    size_t block, max_line;
    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv_free, cv_ready;
    struct chunk *slots;
    unsigned nslots;
    uint64_t next_claim;
    bool eof, stop;
    char *carry;
    size_t carry_len;
    pthread_t th[MAX_WORKERS];
    unsigned nth;
    /* the caller's side */
    uint64_t next_take;
    struct chunk *cur;
    size_t pos;
    uint64_t base;    /* lines before the current chunk */
    uint64_t lineno;  /* line of the last event returned */
    int64_t last_ts;
    uint64_t last_line;
    bool any;
    cu_rc sticky;
    char sticky_msg[1200];
};

/* ------------------------------------------------------------ claiming */

static cu_rc read_some(cu_event_preader *r, struct chunk *c, size_t want)
{
    while (c->len < want && !r->eof) {
        ssize_t n = read(r->fd, c->buf + c->len, want - c->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cu_err_set(CU_ERR_IO, "%s: read error: %s", r->name, strerror(errno));
        }
        if (n == 0)
            r->eof = true;
        c->len += (size_t)n;
    }
    return CU_OK;
}

/* Fill c with the next whole lines of the file (under r->mu).  The bytes
 * after the last line end go to the carry for the next claim.  A line with
 * no end within max_line + 1 bytes is left in the chunk as it is (the scan
 * reports it as too long) and reading stops there. */
static void fill_chunk(cu_event_preader *r, struct chunk *c)
{
    c->len = r->carry_len;
    memcpy(c->buf, r->carry, r->carry_len);
    r->carry_len = 0;
    c->last = false;
    size_t want = r->block;
    size_t searched = 0;
    for (;;) {
        cu_rc rc = read_some(r, c, want);
        if (rc) {
            c->err = rc;
            c->err_line = 0;
            snprintf(c->msg, sizeof c->msg, "%s", cu_err_detail());
            /* keep the whole lines read; the error comes after them */
            const char *nl = c->len ? memrchr(c->buf, '\n', c->len) : NULL;
            c->len = nl ? (size_t)(nl - c->buf) + 1 : 0;
            r->stop = true;
            c->last = true;
            return;
        }
        const char *nl = c->len > searched ? memrchr(c->buf + searched, '\n', c->len - searched) : NULL;
        if (nl) {
            size_t keep = (size_t)(nl - c->buf) + 1;
            r->carry_len = c->len - keep;
            memcpy(r->carry, c->buf + keep, r->carry_len);
            c->len = keep;
            c->last = r->eof && r->carry_len == 0;
            if (c->last)
                r->stop = true;
            return;
        }
        if (r->eof) {
            /* the last line, without a line end */
            c->last = true;
            r->stop = true;
            return;
        }
        if (c->len > r->max_line + 1) {
            /* a line too long: the scan reports it; nothing after it is read */
            c->last = true;
            r->stop = true;
            return;
        }
        searched = c->len;
        want = c->len + 65536;
        if (want > r->block + r->max_line + 2)
            want = r->block + r->max_line + 2;
    }
}

/* ------------------------------------------------------------ scanning */

/* Scratch with room for one event's decoded ids (stable pointers). */
static char *scratch_room(struct chunk *c)
{
    if (c->nblk && SCRATCH_BLOCK - c->blk[c->curblk].used >= CU_EVENT_SCRATCH)
        return c->blk[c->curblk].p + c->blk[c->curblk].used;
    size_t next = c->nblk ? c->curblk + 1 : 0;
    if (next >= c->nblk) {
        if (cu_grow(&c->blk, &c->capblk, c->nblk + 1, sizeof *c->blk, 1024, false))
            return NULL;
        char *p = cu_malloc(SCRATCH_BLOCK);
        if (!p)
            return NULL;
        c->blk[c->nblk++] = (struct scratch_blk){p, 0};
    }
    c->curblk = next;
    c->blk[next].used = 0;
    return c->blk[next].p;
}

static void chunk_error(struct chunk *c, cu_rc rc, uint64_t line)
{
    c->err = rc;
    c->err_line = line;
    snprintf(c->msg, sizeof c->msg, "%s", cu_err_detail());
}

static void scan_chunk(cu_event_preader *r, struct chunk *c)
{
    const char *p = c->buf, *end = c->buf + c->len;
    uint64_t rel = 0;
    c->nev = c->nsubj = 0;
    c->curblk = 0;
    for (size_t i = 0; i < c->nblk; i++)
        c->blk[i].used = 0;
    /* a read error met while filling comes after the lines read */
    cu_rc read_err = c->err;
    char read_msg[sizeof c->msg];
    if (read_err)
        memcpy(read_msg, c->msg, sizeof read_msg);
    c->err = CU_OK;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t n = (size_t)(le - p);
        rel++;
        if (n > r->max_line) {
            chunk_error(c, cu_err_set(CU_ERR_TOOBIG, "line longer than %zu bytes", r->max_line), rel);
            break;
        }
        size_t l = n;
        while (l && (p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        if (l) {
            char *scr = scratch_room(c);
            if (!scr || cu_grow(&c->ev, &c->capev, c->nev + 1, sizeof *c->ev, 1024, false) ||
                cu_grow(&c->subj, &c->capsubj, c->nsubj + CU_EVENT_MAX_SUBJECTS, sizeof *c->subj, 1024, false)) {
                chunk_error(c, cu_err_set(CU_ERR_NOMEM, "out of memory"), rel);
                break;
            }
            struct item *it = &c->ev[c->nev];
            it->raw.subjects = c->subj + c->nsubj;
            size_t used = 0;
            cu_rc rc = cu_event_scan(p, n, &it->raw, scr, &used);
            if (rc) {
                chunk_error(c, rc, rel);
                break;
            }
            it->raw.subjects = NULL;
            it->line = rel;
            it->soff = c->nsubj;
            c->nsubj += it->raw.nsubjects;
            c->blk[c->curblk].used += used;
            c->nev++;
        }
        p = nl ? nl + 1 : end;
    }
    c->nlines = rel;
    if (!c->err && read_err) {
        c->err = read_err;
        c->err_line = 0;
        memcpy(c->msg, read_msg, sizeof c->msg);
    }
    if (c->err)
        c->last = true;
}

static void *worker(void *arg)
{
    cu_event_preader *r = arg;
    pthread_setname_np(pthread_self(), "cu-parse");
    pthread_mutex_lock(&r->mu);
    for (;;) {
        struct chunk *c = NULL;
        while (!r->stop) {
            c = &r->slots[r->next_claim % r->nslots];
            if (c->state == SLOT_FREE)
                break;
            c = NULL;
            pthread_cond_wait(&r->cv_free, &r->mu);
        }
        if (!c)
            break;
        c->state = SLOT_BUSY;
        c->seq = r->next_claim++;
        c->err = CU_OK;
        fill_chunk(r, c);
        pthread_mutex_unlock(&r->mu);
        scan_chunk(r, c);
        pthread_mutex_lock(&r->mu);
        if (c->err)
            r->stop = true; /* nothing after a bad line is wanted */
        c->state = SLOT_READY;
        pthread_cond_broadcast(&r->cv_ready);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* -------------------------------------------------------------- public */

static void chunk_free(struct chunk *c)
{
    cu_free(c->buf);
    cu_free(c->ev);
    cu_free(c->subj);
    for (size_t i = 0; i < c->nblk; i++)
        cu_free(c->blk[i].p);
    cu_free(c->blk);
}

cu_rc cu_event_preader_open(const char *path, cu_names *n, unsigned workers, size_t block, cu_event_preader **out)
{
    if (workers == 0)
        workers = 2;
    if (workers > MAX_WORKERS)
        workers = MAX_WORKERS;
    if (block == 0)
        block = DEFAULT_BLOCK;
    cu_event_preader *r = cu_calloc(1, sizeof *r);
    if (!r)
        return CU_ERR_NOMEM;
    cu_rc rc;
    r->fd = -1;
    r->names = n;
    r->block = block;
    r->max_line = CU_EVENT_MAX_LINE;
    r->nslots = workers + 2;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv_free, NULL);
    pthread_cond_init(&r->cv_ready, NULL);
    r->name = cu_strdup(path);
    r->slots = cu_calloc(r->nslots, sizeof *r->slots);
    r->carry = cu_malloc(block + r->max_line + 2);
    if (!r->name || !r->slots || !r->carry) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < r->nslots; i++)
        if (!(r->slots[i].buf = cu_malloc(block + r->max_line + 2))) {
            rc = CU_ERR_NOMEM;
            goto fail;
        }
    r->fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = cu_err_set(cu_rc_from_errno(errno), "%s: %s", path, strerror(errno));
        goto fail;
    }
    r->own_fd = true;
    for (unsigned i = 0; i < workers; i++) {
        if (pthread_create(&r->th[i], NULL, worker, r) != 0) {
            rc = cu_err_set(CU_ERR_INTERNAL, "cannot start a parser thread");
            goto fail;
        }
        r->nth++;
    }
    *out = r;
    return CU_OK;
fail:
    cu_event_preader_close(r);
    return rc;
}

/* Take the next chunk in file order (waiting for it). */
static struct chunk *take(cu_event_preader *r)
{
    struct chunk *c = &r->slots[r->next_take % r->nslots];
    pthread_mutex_lock(&r->mu);
    while (!(c->state == SLOT_READY && c->seq == r->next_take))
        pthread_cond_wait(&r->cv_ready, &r->mu);
    pthread_mutex_unlock(&r->mu);
    return c;
}

static void release(cu_event_preader *r, struct chunk *c)
{
    pthread_mutex_lock(&r->mu);
    c->state = SLOT_FREE;
    r->next_take++;
    pthread_cond_broadcast(&r->cv_free);
    pthread_mutex_unlock(&r->mu);
}

static void prefetch(cu_event_preader *r, const struct chunk *c, size_t i)
{
    static const cu_idkind kind[CU_EVF_COUNT_] = {CU_K_OFFICER, CU_K_SYSTEM, CU_K_RECORD, CU_K_PURPOSE,
                                                  CU_K_CASE, CU_K_TERMINAL, CU_K_AREA};
    const struct item *it = &c->ev[i];
    for (int f = 0; f < CU_EVF_COUNT_; f++)
        if (it->raw.ids[f].len)
            cu_names_prefetch(r->names, kind[f], it->raw.ids[f].hash);
    for (uint32_t s = 0; s < it->raw.nsubjects; s++)
        cu_names_prefetch(r->names, CU_K_PERSON, c->subj[it->soff + s].hash);
}

static cu_rc fail_sticky(cu_event_preader *r, cu_rc rc)
{
    r->sticky = rc;
    snprintf(r->sticky_msg, sizeof r->sticky_msg, "%s", cu_err_detail());
    return rc;
}

cu_rc cu_event_preader_next(cu_event_preader *r, cu_event *ev)
{
    if (r->sticky)
        return cu_err_set(r->sticky, "%s", r->sticky_msg);
    for (;;) {
        if (!r->cur) {
            r->cur = take(r);
            r->pos = 0;
        }
        struct chunk *c = r->cur;
        if (r->pos < c->nev) {
            if (r->pos + PREFETCH_AHEAD < c->nev)
                prefetch(r, c, r->pos + PREFETCH_AHEAD);
            struct item *it = &c->ev[r->pos];
            it->raw.subjects = c->subj + it->soff;
            uint64_t ln = r->base + it->line;
            cu_rc rc = cu_event_intern(r->names, &it->raw, ev);
            if (rc) {
                cu_err_prefix("%s:%llu", r->name, (unsigned long long)ln);
                return fail_sticky(r, rc);
            }
            if (r->any && ev->ts < r->last_ts) {
                char a[21], b[21];
                cu_time_format(ev->ts, a);
                cu_time_format(r->last_ts, b);
                rc = cu_err_set(CU_ERR_ORDER, "%s:%llu: event %s at %s is earlier than the event before it at %s (line %llu)",
                                r->name, (unsigned long long)ln, ev->id, a, b, (unsigned long long)r->last_line);
                return fail_sticky(r, rc);
            }
            r->pos++;
            r->any = true;
            r->last_ts = ev->ts;
            r->last_line = ln;
            r->lineno = ln;
            return CU_OK;
        }
        if (c->err) {
            cu_rc rc;
            if (c->err_line) {
                r->lineno = r->base + c->err_line;
                rc = cu_err_set(c->err, "%s", c->msg);
                cu_err_prefix("%s:%llu", r->name, (unsigned long long)r->lineno);
            } else {
                rc = cu_err_set(c->err, "%s", c->msg);
            }
            return fail_sticky(r, rc);
        }
        if (c->last) {
            r->sticky = CU_ERR_NOTFOUND;
            r->sticky_msg[0] = '\0';
            return CU_ERR_NOTFOUND;
        }
        r->base += c->nlines;
        r->cur = NULL;
        release(r, c);
    }
}

uint64_t cu_event_preader_line(const cu_event_preader *r) { return r->lineno; }

void cu_event_preader_close(cu_event_preader *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv_free);
    pthread_mutex_unlock(&r->mu);
    for (unsigned i = 0; i < r->nth; i++)
        pthread_join(r->th[i], NULL);
    if (r->own_fd)
        close(r->fd);
    if (r->slots)
        for (unsigned i = 0; i < r->nslots; i++)
            chunk_free(&r->slots[i]);
    cu_free(r->slots);
    cu_free(r->carry);
    cu_free(r->name);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv_free);
    pthread_cond_destroy(&r->cv_ready);
    cu_free(r);
}
