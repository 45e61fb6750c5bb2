/* The pipeline: ordering -> durable append -> store -> reference clock ->
 * detectors, one batch at a time.
 *
 * Invariants (numbered as docs/pipeline.md refers to them):
 * 1. Fail closed: nothing of a batch reaches the store or a detector before
 *    the sink's append_many for the whole batch has returned CU_OK.
 * 2. A batch is checked whole (time order within it and against the last
 *    event accepted) before anything is written; a refused batch changes
 *    nothing.
 * 3. People's names are stored before the entries that use them are
 *    appended, so every durable entry can be re-indexed after a crash (its
 *    people are resolved from their commitments against the stored names
 *    and the reference, which every start reads again).  Other names are
 *    strings in the entries: they are stored with the batch's index.
 * 4. The store commits each batch with the log size it reaches; at start
 *    the entries between the store's size and the log's are re-indexed and
 *    run through the detectors (recovery).
 * 5. After a failure of the log or the store the pipeline accepts nothing
 *    more: a later batch could otherwise be durable while an earlier one is
 *    not indexed.
 * 6. Steady state allocates nothing per event: entry bytes, pointer arrays
 *    and the commitment cache grow to their high-water mark and stay.
 * 7. Under pipelined submission (cu_pipeline_submit_async) the store writes
 *    on its own thread (cu_store_writer_start): a batch is gathered into
 *    the store only after its append returned (1), written in batch order,
 *    and its new people's names are committed before the append that needs
 *    them (3: cu_store_sync_people waits for them).  finish and close wait
 *    for the writer and return its failure.
 */
#include "custos/ledger.h"
#include "custos/pipeline.h"
#include "custos/ledger.h"

#include "pipeline/pipeline_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ batch */

/* A batch's ledger entries, encoded: one buffer, offsets, and the pointer
 * and length arrays append_many takes. */
struct enc {
    uint8_t *buf;
    size_t cap;
    size_t *off;
    const void **ptr;
    size_t *len;
    size_t n, ecap;
};

/* Commitments of people, by person id, each computed once (one HMAC per
 * person, not per event).  One per thread that encodes: the pipeline's
 * own, and each cu_batch_encoder's. */
struct commit_cache {
    uint8_t (*c)[32];
    uint8_t *ok;
    size_t n;
};

struct cu_batch {
    cu_event *ev;
    uint32_t n, cap;
    cu_id *subj;
    size_t subj_used, subj_cap;
    uint32_t counts[CU_K_COUNT_];
    bool sealed;
    /* the entries, when encoded ahead by cu_batch_encode (encoded: enc
     * holds exactly ev[0..n)) */
    struct enc enc;
    bool encoded;
};

static void enc_free(struct enc *e)
{
    cu_free(e->buf);
    cu_free(e->off);
    cu_free(e->ptr);
    cu_free(e->len);
}

cu_rc cu_batch_new(uint32_t max_events, cu_batch **out)
{
    if (max_events == 0)
        max_events = 16384;
    cu_batch *b = cu_calloc(1, sizeof *b);
    if (!b)
        return CU_ERR_NOMEM;
    b->cap = max_events;
    b->subj_cap = (size_t)max_events * 8 + CU_EVENT_MAX_SUBJECTS;
    b->ev = cu_calloc(max_events, sizeof *b->ev);
    b->subj = cu_malloc(b->subj_cap * sizeof *b->subj);
    if (!b->ev || !b->subj) {
        cu_batch_free(b);
        return CU_ERR_NOMEM;
    }
    *out = b;
    return CU_OK;
}

void cu_batch_free(cu_batch *b)
{
    if (!b)
        return;
    cu_free(b->ev);
    cu_free(b->subj);
    enc_free(&b->enc);
    cu_free(b);
}

void cu_batch_reset(cu_batch *b)
{
    b->n = 0;
    b->subj_used = 0;
    b->sealed = false;
    b->encoded = false;
}

cu_event *cu_batch_slot(cu_batch *b)
{
    if (b->n >= b->cap || b->subj_cap - b->subj_used < CU_EVENT_MAX_SUBJECTS)
        return NULL;
    cu_event *e = &b->ev[b->n];
    e->subjects = b->subj + b->subj_used;
    e->subjects_cap = CU_EVENT_MAX_SUBJECTS;
    e->nsubjects = 0;
    return e;
}

void cu_batch_push(cu_batch *b)
{
    b->subj_used += b->ev[b->n].nsubjects;
    b->n++;
}

uint32_t cu_batch_count(const cu_batch *b) { return b->n; }
const cu_event *cu_batch_get(const cu_batch *b, uint32_t i) { return i < b->n ? &b->ev[i] : NULL; }

void cu_batch_seal(cu_batch *b, const cu_names *n)
{
    for (int k = 0; k < CU_K_COUNT_; k++)
        b->counts[k] = cu_names_count(n, (cu_idkind)k);
    b->sealed = true;
}

/* --------------------------------------------------------- pipeline */

struct commit_map {
    uint64_t *key; /* first 8 bytes of the commitment; 0 = empty */
    cu_id *id;
    size_t mask;
    uint32_t persons; /* person names covered */
};

/* The appender thread: runs the sink's append_many for the batch in flight
 * while the pipeline thread indexes and detects the one before it.  It
 * reads only the encoded entries (never a batch), and nothing reads a
 * batch's result before `done` is seen under the mutex. */
struct appender {
    pthread_t th;
    bool started, job, done, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const cu_sink *sink;
    const struct enc *e;
    uint64_t first, ns;
    cu_rc rc;
    char detail[1024];
};

struct cu_pipeline {
    char *dir;
    cu_names *names;
    cu_sink sink;
    cu_store *store;
    cu_ref *ref;
    cu_detect *detect;
    cu_pipeline_cfg cfg;
    int64_t last_ts;
    bool failed, started, bulk;
    /* encoding: two sets, one for the batch being appended and one for
     * the batch being encoded next (pipelined submission) */
    struct enc enc[2];
    int ecur;
    /* pipelined submission: the batch whose append is in flight */
    struct appender ap;
    cu_batch *inflight;
    int64_t check_ts; /* the last time accepted for appending */
    /* commitment cache, by person id (the pipeline thread's) */
    struct commit_cache cc;
    struct commit_map cmap;
    cu_batch *rbatch; /* recovery / read-back */
    const void **pptr; /* cu_pipeline_submit_pairs: the interleaved entries */
    size_t *plen, pcap;
    cu_buf rbuf;
    cu_pipeline_stats st;
    cu_rc cb_rc;
};

static cu_rc mkdir_p(const char *dir)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return cu_err_set(CU_ERR_TOOBIG, "path too long");
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return cu_err_set(cu_rc_from_errno(errno), "%s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return cu_err_set(cu_rc_from_errno(errno), "%s: %s", tmp, strerror(errno));
    return CU_OK;
}

cu_rc cu_pipeline_open(const char *dir, cu_names *names, const cu_sink *sink, cu_pipeline **out)
{
    return cu_pipeline_open_with(dir, names, sink, NULL, out);
}

cu_rc cu_pipeline_open_with(const char *dir, cu_names *names, const cu_sink *sink, const cu_pipeline_opts *opts,
                            cu_pipeline **out)
{
    cu_pipeline *p = cu_calloc(1, sizeof *p);
    if (!p)
        return CU_ERR_NOMEM;
    p->names = names;
    p->last_ts = INT64_MIN;
    cu_buf_init(&p->rbuf, CU_ENTRY_MAX + 1);
    cu_rc rc;
    char path[4096];
    p->dir = cu_strdup(dir);
    if (!p->dir) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    if ((rc = mkdir_p(dir)))
        goto fail;
    if (sink)
        p->sink = *sink;
    else if ((rc = cu_sink_ledger_open(dir, &p->sink)))
        goto fail;
    if (!opts || !opts->no_store) {
        snprintf(path, sizeof path, "%s/store.db", dir);
        if ((rc = cu_store_open(path, &p->store)) || (rc = cu_store_load_names(p->store, names)))
            goto fail;
    }
    *out = p;
    return CU_OK;
fail:
    cu_pipeline_close(p);
    return rc;
}

/* --------------------------------------------------- commitments */

static cu_rc cache_commit(struct commit_cache *cc, const cu_names *names, const uint8_t *secret, cu_id person,
                          uint8_t out[32])
{
    if (person >= cc->n) {
        /* the two arrays grow alike; cc->n moves once both have */
        size_t nc = cc->n, nok = cc->n;
        cu_rc rc = cu_grow(&cc->c, &nc, (size_t)person + 1, sizeof *cc->c, 4096, false);
        if (!rc)
            rc = cu_grow(&cc->ok, &nok, (size_t)person + 1, 1, 4096, true);
        if (rc)
            return rc;
        cc->n = nc;
    }
    if (!cc->ok[person]) {
        const char *s = cu_names_str(names, CU_K_PERSON, person);
        if (!s)
            return cu_err_set(CU_ERR_INTERNAL, "person id %u has no name", person);
        /* the ledger's commitment scheme (openable per person for evidence) */
        cu_rc rc = cu_ledger_commitment(secret, s, strlen(s), cc->c[person]);
        if (rc)
            return rc;
        cc->ok[person] = 1;
    }
    memcpy(out, cc->c[person], 32);
    return CU_OK;
}

static void cache_free(struct commit_cache *cc)
{
    cu_free(cc->c);
    cu_free(cc->ok);
    cc->c = NULL;
    cc->ok = NULL;
    cc->n = 0;
}

static cu_rc commit_of(void *ud, cu_id person, uint8_t out[32])
{
    cu_pipeline *p = ud;
    return cache_commit(&p->cc, p->names, p->sink.ops->commit_secret(p->sink.ctx), person, out);
}

/* Who encodes: the names, the commitment cache and the secret (the
 * pipeline thread's, or a cu_batch_encoder's on the reader thread). */
struct encoder {
    const cu_names *names;
    struct commit_cache *cc;
    const uint8_t *secret;
};

static cu_rc encoder_commit(void *ud, cu_id person, uint8_t out[32])
{
    const struct encoder *x = ud;
    return cache_commit(x->cc, x->names, x->secret, person, out);
}

/* Encoding an event reads seven names and a commitment per person, each a
 * cache miss somewhere in tables of hundreds of megabytes, one after the
 * other; the events of a batch are independent, so their lines are asked
 * for ahead, in two stages: ENC_FAR events on, each name's entry in the
 * id -> string table (its address is known from the id alone); ENC_AHEAD
 * events on, that entry (arrived by then) is read and the string it points
 * to is asked for, with the people's commitments.  (Reading the entry at
 * ENC_AHEAD without the first stage waited for it there: for records and
 * cases, tables of megabytes, that was a miss per name in the prefetch.) */
#define ENC_AHEAD 6
#define ENC_FAR 16

static const cu_idkind enc_kinds[7] = {CU_K_OFFICER, CU_K_SYSTEM, CU_K_RECORD, CU_K_PURPOSE,
                                       CU_K_CASE,    CU_K_TERMINAL, CU_K_AREA};

static void enc_ids(const cu_event *ev, cu_id ids[7])
{
    ids[0] = ev->officer;
    ids[1] = ev->system;
    ids[2] = ev->record;
    ids[3] = ev->purpose;
    ids[4] = ev->case_id;
    ids[5] = ev->terminal;
    ids[6] = ev->area;
}

static void encode_prefetch_far(const struct encoder *x, const cu_event *ev)
{
    cu_id ids[7];
    enc_ids(ev, ids);
    for (int i = 0; i < 7; i++)
        cu_names_prefetch_id(x->names, enc_kinds[i], ids[i]);
}

static void encode_prefetch(const struct encoder *x, const cu_event *ev)
{
    cu_id ids[7];
    enc_ids(ev, ids);
    for (int i = 0; i < 7; i++) {
        const char *s = cu_names_str(x->names, enc_kinds[i], ids[i]);
        if (s)
            __builtin_prefetch(s - 1);
    }
    for (uint32_t i = 0; i < ev->nsubjects; i++)
        if (ev->subjects[i] < x->cc->n)
            __builtin_prefetch(x->cc->c[ev->subjects[i]]);
}

/* The entries of b into e. */
static cu_rc encode_into(const struct encoder *x, const cu_batch *b, struct enc *e)
{
    if (b->n + 1 > e->ecap) { /* + 1: room for cu_pipeline_submit_after's entry */
        size_t nc = b->n + 1;
        size_t *off = cu_realloc(e->off, nc * sizeof *off);
        if (off)
            e->off = off;
        const void **ptr = cu_realloc(e->ptr, nc * sizeof *ptr);
        if (ptr)
            e->ptr = ptr;
        size_t *len = cu_realloc(e->len, nc * sizeof *len);
        if (len)
            e->len = len;
        if (!off || !ptr || !len)
            return CU_ERR_NOMEM;
        e->ecap = nc;
    }
    size_t used = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        cu_rc grc = cu_grow(&e->buf, &e->cap, used + CU_ENTRY_MAX, 1, (size_t)4 << 20, false);
        if (grc)
            return grc;
        if (i + ENC_FAR < b->n)
            encode_prefetch_far(x, &b->ev[i + ENC_FAR]);
        if (i + ENC_AHEAD < b->n)
            encode_prefetch(x, &b->ev[i + ENC_AHEAD]);
        size_t len;
        cu_rc rc = cu_entry_encode(x->names, &b->ev[i], encoder_commit, (void *)x, e->buf + used, e->cap - used, &len);
        if (rc)
            return rc;
        e->off[i] = used;
        e->len[i] = len;
        used += len;
    }
    for (uint32_t i = 0; i < b->n; i++)
        e->ptr[i] = e->buf + e->off[i];
    e->n = b->n;
    return CU_OK;
}

static cu_rc encode_batch(cu_pipeline *p, const cu_batch *b, struct enc *e)
{
    struct encoder x = {p->names, &p->cc, p->sink.ops->commit_secret(p->sink.ctx)};
    return encode_into(&x, b, e);
}

/* -------------------------------------------- encoding ahead (replay) */

struct cu_batch_encoder {
    const cu_names *names;
    const uint8_t *secret;
    struct commit_cache cc;
};

cu_rc cu_batch_encoder_new(cu_pipeline *p, cu_batch_encoder **out)
{
    if (!p->sink.ops)
        return cu_err_set(CU_ERR_STATE, "pipeline has no log");
    cu_batch_encoder *x = cu_calloc(1, sizeof *x);
    if (!x)
        return CU_ERR_NOMEM;
    x->names = p->names;
    x->secret = p->sink.ops->commit_secret(p->sink.ctx);
    *out = x;
    return CU_OK;
}

void cu_batch_encoder_free(cu_batch_encoder *x)
{
    if (!x)
        return;
    cache_free(&x->cc);
    cu_free(x);
}

cu_rc cu_batch_encode(cu_batch *b, cu_batch_encoder *x)
{
    b->encoded = false;
    struct encoder e = {x->names, &x->cc, x->secret};
    cu_rc rc = encode_into(&e, b, &b->enc);
    if (rc)
        return rc;
    b->encoded = true;
    return CU_OK;
}

/* The reverse map commitment -> person, over every person name known. */
static cu_rc cmap_update(cu_pipeline *p)
{
    uint32_t np = cu_names_count(p->names, CU_K_PERSON);
    if (np == p->cmap.persons && p->cmap.key)
        return CU_OK;
    size_t need = 1024;
    while (need < (size_t)np * 2)
        need *= 2;
    if (need - 1 != p->cmap.mask || !p->cmap.key) {
        cu_free(p->cmap.key);
        cu_free(p->cmap.id);
        p->cmap.key = cu_calloc(need, sizeof *p->cmap.key);
        p->cmap.id = cu_calloc(need, sizeof *p->cmap.id);
        if (!p->cmap.key || !p->cmap.id)
            return CU_ERR_NOMEM;
        p->cmap.mask = need - 1;
        p->cmap.persons = 0;
    }
    for (uint32_t id = p->cmap.persons; id < np; id++) {
        uint8_t c[32];
        cu_rc rc = commit_of(p, id, c);
        if (rc)
            return rc;
        uint64_t k = cu_get_be64(c) | 1; /* never 0 */
        size_t i = k & p->cmap.mask;
        while (p->cmap.key[i])
            i = (i + 1) & p->cmap.mask;
        p->cmap.key[i] = k;
        p->cmap.id[i] = id;
    }
    p->cmap.persons = np;
    return CU_OK;
}

static cu_id cmap_find(cu_pipeline *p, const uint8_t *c)
{
    uint64_t k = cu_get_be64(c) | 1;
    for (size_t i = k & p->cmap.mask; p->cmap.key[i]; i = (i + 1) & p->cmap.mask) {
        if (p->cmap.key[i] != k)
            continue;
        uint8_t full[32];
        if (commit_of(p, p->cmap.id[i], full) == CU_OK && memcmp(full, c, 32) == 0)
            return p->cmap.id[i];
    }
    return CU_ID_NONE;
}

/* ------------------------------------------------------ index + detect */

static cu_rc on_alert(void *ud, const cu_alert *a)
{
    cu_pipeline *p = ud;
    cu_rc rc = p->store ? cu_store_add_alert(p->store, p->names, a) : CU_OK;
    if (rc)
        return rc;
    p->st.alerts++;
    if (p->cfg.on_alert)
        return p->cfg.on_alert(p->cfg.ud, a);
    return CU_OK;
}

/* The batch is durable at [first, first + n): index it and detect.  fresh:
 * its append has just returned, so the program's clock (when given) is its
 * ingest time; recovery re-indexes entries made durable at an unknown
 * earlier time and records none. */
static cu_rc index_and_detect_at(cu_pipeline *p, const cu_batch *b, uint64_t first, uint64_t stride, bool fresh);

static cu_rc index_and_detect(cu_pipeline *p, const cu_batch *b, uint64_t first, bool fresh)
{
    return index_and_detect_at(p, b, first, 1, fresh);
}

/* As index_and_detect, event i being at first + i * stride (gateway
 * look-ups: each event right after its decision entry, stride 2). */
static cu_rc index_and_detect_at(cu_pipeline *p, const cu_batch *b, uint64_t first, uint64_t stride, bool fresh)
{
    uint64_t t0 = cu_mono_ns();
    cu_rc rc = p->store ? cu_store_begin(p->store) : CU_OK;
    if (rc)
        return rc;
    if (p->store && fresh && b->n && p->cfg.ingest_clock &&
        (rc = cu_store_add_ingest(p->store, first, first + (b->n - 1) * stride, p->cfg.ingest_clock(p->cfg.clock_ud))))
        goto fail;
    for (uint32_t i = 0; p->store && i < b->n; i++)
        if ((rc = cu_store_add_event(p->store, first + i * stride, &b->ev[i])))
            goto fail;
    uint64_t t1 = cu_mono_ns();
    for (uint32_t i = 0; i < b->n; i++) {
        const cu_event *ev = &b->ev[i];
        if ((rc = cu_ref_advance(p->ref, ev->ts)) || (rc = cu_detect_event(p->detect, ev, ev->ts, on_alert, p)))
            goto fail;
    }
    uint64_t t2 = cu_mono_ns();
    if (p->store && (rc = cu_store_commit(p->store, b->n ? first + (b->n - 1) * stride + 1 : first)))
        return rc;
    p->st.ns_store += (t1 - t0) + (cu_mono_ns() - t2);
    p->st.ns_detect += t2 - t1;
    if (b->n)
        p->last_ts = b->ev[b->n - 1].ts;
    return CU_OK;
fail:
    if (p->store)
        cu_store_rollback(p->store);
    return rc;
}

/* Decode entry bytes into ev (interning its names). */
static cu_rc event_from_entry(cu_pipeline *p, const uint8_t *data, size_t len, cu_event *ev, uint64_t *unknown)
{
    cu_entry_view v;
    cu_rc rc = cu_entry_decode(data, len, &v);
    if (rc)
        return rc;
    ev->ts = v.ts;
    memcpy(ev->id, v.str[EV_ID], v.len[EV_ID]);
    ev->id[v.len[EV_ID]] = '\0';
    ev->id_len = v.len[EV_ID];
    static const struct {
        int f;
        cu_idkind k;
        size_t off;
    } map[] = {
        {EV_OFFICER, CU_K_OFFICER, offsetof(cu_event, officer)}, {EV_SYSTEM, CU_K_SYSTEM, offsetof(cu_event, system)},
        {EV_RECORD, CU_K_RECORD, offsetof(cu_event, record)},    {EV_PURPOSE, CU_K_PURPOSE, offsetof(cu_event, purpose)},
        {EV_CASE, CU_K_CASE, offsetof(cu_event, case_id)},       {EV_TERMINAL, CU_K_TERMINAL, offsetof(cu_event, terminal)},
        {EV_AREA, CU_K_AREA, offsetof(cu_event, area)},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        cu_id *dst = (cu_id *)((char *)ev + map[i].off);
        *dst = CU_ID_NONE;
        if (v.str[map[i].f] && (rc = cu_names_intern(p->names, map[i].k, v.str[map[i].f], v.len[map[i].f], dst)))
            return rc;
    }
    ev->action = v.action;
    ev->outcome = v.outcome;
    ev->has_results = v.has_results;
    ev->results = v.results;
    ev->nsubjects = 0;
    if ((rc = cmap_update(p)))
        return rc;
    for (uint32_t i = 0; i < v.nsubjects && ev->nsubjects < ev->subjects_cap; i++) {
        cu_id id = cmap_find(p, v.subjects + (size_t)i * 32);
        if (id == CU_ID_NONE)
            (*unknown)++;
        else
            ev->subjects[ev->nsubjects++] = id;
    }
    return CU_OK;
}

cu_rc cu_pipeline_read_event(cu_pipeline *p, uint64_t index, cu_event *ev)
{
    cu_rc rc = p->sink.ops->read_entry(p->sink.ctx, index, &p->rbuf);
    if (rc)
        return rc;
    uint64_t unknown = 0;
    rc = event_from_entry(p, (const uint8_t *)p->rbuf.data, p->rbuf.len, ev, &unknown);
    if (rc)
        cu_err_prefix("log entry %llu", (unsigned long long)index);
    return rc;
}

/* Whether the entry in rbuf is an access event.  The log also holds other
 * modules' entries (governance actions, type CU_LEDGER_GOVERNANCE), which
 * the event index skips. */
static bool is_access(const cu_pipeline *p)
{
    return p->rbuf.len >= 2 && (uint8_t)p->rbuf.data[1] == CU_LEDGER_ACCESS;
}

/* The order check continues from the last durable event: the newest access
 * entry below size (other entries skipped). */
static cu_rc last_event_ts(cu_pipeline *p, uint64_t size)
{
    cu_event ev = {0};
    cu_id subj[CU_EVENT_MAX_SUBJECTS];
    ev.subjects = subj;
    ev.subjects_cap = CU_EVENT_MAX_SUBJECTS;
    for (uint64_t i = size; i-- > 0;) {
        cu_rc rc = p->sink.ops->read_entry(p->sink.ctx, i, &p->rbuf);
        if (rc)
            return rc;
        if (!is_access(p))
            continue;
        if ((rc = cu_pipeline_read_event(p, i, &ev)))
            return rc;
        p->last_ts = ev.ts;
        break;
    }
    return CU_OK;
}

static cu_rc warm_ref_due(cu_pipeline *p, uint64_t index);

/* The first log entry recovery runs through the detectors: the store's
 * indexed size, or 0 when the store claims more than the log holds (its
 * index is then rebuilt). */
static uint64_t recover_from(cu_pipeline *p)
{
    uint64_t size = p->sink.ops->size(p->sink.ctx), idx = cu_store_indexed(p->store);
    return idx > size ? 0 : idx;
}

static cu_rc recover(cu_pipeline *p)
{
    uint64_t size = p->sink.ops->size(p->sink.ctx);
    /* without a store there is no index to bring up to date: only the
     * order check continues from the last durable event */
    uint64_t idx = p->store ? cu_store_indexed(p->store) : size;
    cu_rc rc;
    if (idx > size) {
        cu_log(CU_LOG_WARN, "store indexes %llu entries but the log holds %llu: rebuilding the index",
               (unsigned long long)idx, (unsigned long long)size);
        if ((rc = cu_store_clear_events(p->store)))
            return rc;
        idx = 0;
    }
    if (idx == size)
        return last_event_ts(p, size);
    cu_log(CU_LOG_INFO, "re-indexing log entries %llu..%llu", (unsigned long long)idx, (unsigned long long)size - 1);
    if (!p->rbatch && (rc = cu_batch_new(4096, &p->rbatch)))
        return rc;
    uint64_t unknown = 0;
    while (idx < size) {
        /* the reference updates that took effect before entry idx, then a
         * batch that stops where the next one takes effect: each event is
         * detected on the reference data the live stream saw it with */
        if ((rc = warm_ref_due(p, idx)))
            return rc;
        uint64_t stop = !p->cfg.warm_ref        ? UINT64_MAX
                        : p->cfg.warm_ref_next ? p->cfg.warm_ref_next(p->cfg.warm_ref_ud)
                                               : idx + 1; /* no way to ask: one entry a batch */
        if (stop <= idx)
            stop = idx + 1;
        cu_batch_reset(p->rbatch);
        uint64_t first = idx;
        cu_event *ev;
        while (idx < size && idx < stop && (ev = cu_batch_slot(p->rbatch))) {
            if ((rc = p->sink.ops->read_entry(p->sink.ctx, idx, &p->rbuf))) {
                cu_err_prefix("recovery: log entry %llu", (unsigned long long)idx);
                return rc;
            }
            if (!is_access(p)) {
                /* another module's entry (a governance action, a gateway
                 * decision, a console audit record): not an event; the
                 * batch so far keeps its consecutive indexes */
                if (cu_batch_count(p->rbatch))
                    break;
                first = ++idx;
                p->st.skipped++;
                continue;
            }
            if ((rc = event_from_entry(p, (const uint8_t *)p->rbuf.data, p->rbuf.len, ev, &unknown))) {
                cu_err_prefix("recovery: log entry %llu", (unsigned long long)idx);
                return rc;
            }
            cu_batch_push(p->rbatch);
            idx++;
        }
        if ((rc = cu_store_sync_names(p->store, p->names, NULL)) || (rc = index_and_detect(p, p->rbatch, first, false)))
            return rc;
        p->st.recovered += cu_batch_count(p->rbatch);
    }
    if (unknown)
        cu_log(CU_LOG_WARN, "recovery: %llu people looked up could not be resolved from their commitments",
               (unsigned long long)unknown);
    return p->last_ts == INT64_MIN ? last_event_ts(p, size) : CU_OK;
}

/* ------------------------------------------------------- warm start
 *
 * Invariants: the warm-up reads the log only (nothing appended, nothing
 * stored, no alert passed on); it covers entries the store has indexed (the
 * rest is recovery's, after it, with alerts raised as usual); detectors
 * restarted from alert number 1 are kept only if they come out at the
 * store's next number (they then hold exactly the alerts the store holds). */

static cu_rc warm_alert(void *ud, const cu_alert *a)
{
    (void)a;
    cu_pipeline *p = ud;
    p->st.warm_suppressed++;
    return CU_OK;
}

/* The first access entry at or after i and below end: its index (end when
 * none) and time. */
static cu_rc access_at_or_after(cu_pipeline *p, uint64_t i, uint64_t end, uint64_t *at, int64_t *ts)
{
    cu_entry_view v;
    cu_rc rc;
    for (; i < end; i++) {
        if ((rc = p->sink.ops->read_entry(p->sink.ctx, i, &p->rbuf)))
            return rc;
        if (!is_access(p))
            continue;
        if ((rc = cu_entry_decode((const uint8_t *)p->rbuf.data, p->rbuf.len, &v)))
            return cu_err_prefix("warm start: log entry %llu", (unsigned long long)i), rc;
        *at = i;
        *ts = v.ts;
        return CU_OK;
    }
    *at = end;
    return CU_OK;
}

/* The reference updates due before log entry index (cfg.warm_ref). */
static cu_rc warm_ref_due(cu_pipeline *p, uint64_t index)
{
    bool changed = false;
    cu_rc rc = p->cfg.warm_ref ? p->cfg.warm_ref(p->cfg.warm_ref_ud, index, &changed) : CU_OK;
    if (!rc && changed)
        rc = cu_pipeline_ref_changed(p);
    return rc;
}

/* One entry of the warm-up, in log order. */
static cu_rc warm_entry(void *ud, uint64_t index, const void *entry, size_t len)
{
    cu_pipeline *p = ud;
    const uint8_t *e = entry;
    if (len < 2 || e[1] != CU_LEDGER_ACCESS)
        return CU_OK;
    cu_rc rc;
    if ((rc = warm_ref_due(p, index)))
        return rc;
    uint64_t unknown = 0;
    cu_batch_reset(p->rbatch);
    cu_event *ev = cu_batch_slot(p->rbatch);
    if ((rc = event_from_entry(p, e, len, ev, &unknown)) || (rc = cu_ref_advance(p->ref, ev->ts)) ||
        (rc = cu_detect_event(p->detect, ev, ev->ts, warm_alert, p))) {
        cu_err_prefix("warm start: log entry %llu", (unsigned long long)index);
        return rc;
    }
    p->last_ts = ev->ts;
    p->st.warmed++;
    return CU_OK;
}

static cu_rc warm_up(cu_pipeline *p, uint64_t indexed)
{
    cu_rc rc;
    /* the window: the newest warm_max entries, from the first access event
     * within warm_seconds of the newest (access times never go back, so
     * that first one is found by bisection: a few reads, not a scan) */
    uint64_t lo = indexed > p->cfg.warm_max ? indexed - p->cfg.warm_max : 0, start, first_access;
    int64_t ts = 0, newest = INT64_MIN;
    for (uint64_t i = indexed; i-- > lo && newest == INT64_MIN;) {
        uint64_t at;
        if ((rc = access_at_or_after(p, i, i + 1, &at, &ts)))
            return rc;
        if (at == i)
            newest = ts;
    }
    if (newest == INT64_MIN)
        return CU_OK; /* no event in the window */
    uint64_t a = lo, b = indexed; /* the answer is in [a, b] */
    if (p->cfg.warm_seconds > 0) {
        int64_t cutoff = newest - p->cfg.warm_seconds;
        while (a < b) {
            uint64_t mid = a + (b - a) / 2, at;
            if ((rc = access_at_or_after(p, mid, indexed, &at, &ts)))
                return rc;
            if (at < indexed && ts >= cutoff)
                b = mid;
            else
                a = mid + 1;
        }
    }
    start = a;
    if ((rc = access_at_or_after(p, 0, indexed, &first_access, &ts)))
        return rc;
    bool from_first = first_access >= start;
    uint64_t store_next = cu_store_next_alert(p->store);
    if (from_first) {
        /* the whole history: number from 1, as the first run did */
        cu_detect_free(p->detect);
        p->detect = NULL;
        if ((rc = cu_detect_new_cfg(p->ref, 1, p->cfg.detect, &p->detect)))
            return rc;
    }
    if (!p->rbatch && (rc = cu_batch_new(4096, &p->rbatch)))
        return rc;
    uint64_t t0 = cu_mono_ns();
    if (!cu_sink_read_range(&p->sink, start, indexed - start, warm_entry, p, &rc)) {
        rc = CU_OK;
        for (uint64_t i = start; !rc && i < indexed; i++)
            if (!(rc = p->sink.ops->read_entry(p->sink.ctx, i, &p->rbuf)))
                rc = warm_entry(p, i, p->rbuf.data, p->rbuf.len);
    }
    if (rc)
        return rc;
    cu_log(CU_LOG_INFO, "warm start: %llu events (log entries %llu..%llu) through the detectors in %.1f s%s",
           (unsigned long long)p->st.warmed, (unsigned long long)start, (unsigned long long)indexed - 1,
           (double)(cu_mono_ns() - t0) / 1e9, from_first ? ", from the first" : "");
    p->st.warm_exact = from_first;
    uint64_t next = cu_detect_next_num(p->detect);
    if (from_first && next != store_next) {
        cu_log(CU_LOG_WARN,
               "warm start: the detectors came out at alert %llu, the store holds up to %llu (reference data "
               "changed?): starting them cold",
               (unsigned long long)next, (unsigned long long)store_next - 1);
        cu_detect_free(p->detect);
        p->detect = NULL;
        p->st.warm_exact = false;
        return cu_detect_new_cfg(p->ref, store_next, p->cfg.detect, &p->detect);
    }
    return CU_OK;
}

cu_rc cu_pipeline_start(cu_pipeline *p, cu_ref *ref, const cu_pipeline_cfg *cfg)
{
    if (p->started)
        return cu_err_set(CU_ERR_STATE, "pipeline already started");
    p->ref = ref;
    if (cfg)
        p->cfg = *cfg;
    cu_rc rc;
    /* replay: the store writes on its own thread from the start (the
     * reference tables while the first batches go through) */
    if (p->cfg.bulk && p->store && (rc = cu_store_writer_start(p->store)))
        return rc;
    if (p->store && (rc = cu_store_put_reference(p->store, ref)))
        return rc;
    if ((rc = cu_detect_new_cfg(ref, p->store ? cu_store_next_alert(p->store) : 1, p->cfg.detect, &p->detect)))
        return rc;
    if (p->cfg.bulk && p->store) {
        if ((rc = cu_store_bulk_begin(p->store)))
            return rc;
        p->bulk = true;
    }
    p->started = true;
    if (p->store && p->cfg.warm_max && cu_store_indexed(p->store) <= p->sink.ops->size(p->sink.ctx) &&
        (rc = warm_up(p, cu_store_indexed(p->store)))) {
        p->failed = true;
        return rc;
    }
    /* the updates that took effect after the last event warmed and
     * before the first entry recovery runs (recovery applies the rest at
     * their places) */
    if (p->store && (rc = warm_ref_due(p, recover_from(p)))) {
        p->failed = true;
        return rc;
    }
    if ((rc = recover(p))) {
        p->failed = true;
        return rc;
    }
    return CU_OK;
}

/* 2: the whole batch in time order, after `prev` */
static cu_rc check_order(const cu_batch *b, int64_t prev)
{
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->ev[i].ts < prev) {
            char a[21], c[21];
            cu_time_format(b->ev[i].ts, a);
            cu_time_format(prev, c);
            return cu_err_set(CU_ERR_ORDER, "event %s at %s is earlier than the event before it at %s", b->ev[i].id, a,
                              c);
        }
        prev = b->ev[i].ts;
    }
    return CU_OK;
}

/* --------------------------------------------------------- appender */

static void *appender_main(void *arg)
{
    struct appender *a = arg;
    pthread_setname_np(pthread_self(), "cu-append");
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->job && !a->stop)
            pthread_cond_wait(&a->cv, &a->mu);
        if (!a->job)
            break;
        const struct enc *e = a->e;
        pthread_mutex_unlock(&a->mu);
        uint64_t t0 = cu_mono_ns(), first = 0;
        cu_rc rc = a->sink->ops->append_many(a->sink->ctx, e->ptr, e->len, e->n, &first);
        uint64_t ns = cu_mono_ns() - t0;
        pthread_mutex_lock(&a->mu);
        a->rc = rc;
        if (rc)
            snprintf(a->detail, sizeof a->detail, "%s", cu_err_detail());
        a->first = first;
        a->ns += ns;
        a->job = false;
        a->done = true;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static cu_rc appender_start(cu_pipeline *p, const struct enc *e)
{
    struct appender *a = &p->ap;
    if (!a->started) {
        pthread_mutex_init(&a->mu, NULL);
        pthread_cond_init(&a->cv, NULL);
        a->sink = &p->sink;
        if (pthread_create(&a->th, NULL, appender_main, a) != 0) {
            pthread_mutex_destroy(&a->mu);
            pthread_cond_destroy(&a->cv);
            return cu_err_set(CU_ERR_INTERNAL, "cannot start the appender thread");
        }
        a->started = true;
    }
    pthread_mutex_lock(&a->mu);
    a->e = e;
    a->done = false;
    a->job = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return CU_OK;
}

/* Wait for the append in flight; its result. */
static cu_rc appender_wait(cu_pipeline *p, uint64_t *first)
{
    struct appender *a = &p->ap;
    pthread_mutex_lock(&a->mu);
    while (!a->done)
        pthread_cond_wait(&a->cv, &a->mu);
    cu_rc rc = a->rc;
    *first = a->first;
    if (rc)
        cu_err_set(rc, "%s", a->detail);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static void appender_stop(cu_pipeline *p)
{
    struct appender *a = &p->ap;
    if (!a->started)
        return;
    cu_thread_stop(&a->mu, &a->cv, &a->stop, a->th);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    a->started = false;
}

cu_rc cu_pipeline_drain(cu_pipeline *p, cu_batch **done, uint64_t *done_first)
{
    if (done)
        *done = NULL;
    cu_batch *b = p->inflight;
    if (!b)
        return CU_OK;
    uint64_t t0 = cu_mono_ns(), first;
    cu_rc rc = appender_wait(p, &first);
    p->st.ns_append += cu_mono_ns() - t0;
    p->inflight = NULL;
    if (rc) {
        p->failed = true;
        return rc;
    }
    /* 1: durable; now the store and the detectors */
    p->st.events += b->n;
    if ((rc = index_and_detect(p, b, first, true))) {
        p->failed = true;
        return rc;
    }
    if (done)
        *done = b;
    if (done_first)
        *done_first = first;
    return CU_OK;
}

cu_rc cu_pipeline_submit_async(cu_pipeline *p, cu_batch *b, cu_batch **done, uint64_t *done_first)
{
    if (done)
        *done = NULL;
    if (!p->started)
        return cu_err_set(CU_ERR_STATE, "pipeline not started");
    if (p->failed)
        return cu_err_set(CU_ERR_STATE, "pipeline stopped after an earlier failure");
    if (b->n == 0)
        return CU_OK;
    cu_rc rc = check_order(b, p->inflight ? p->check_ts : p->last_ts);
    if (rc)
        return rc; /* nothing of b written; the batch in flight goes on */
    /* the store writes on its own thread from here on (its commit returns
     * at once; names are still committed before the append that needs
     * them): indexing overlaps encoding, detection and the log */
    if (p->store && (rc = cu_store_writer_start(p->store)))
        return rc;
    uint64_t t0 = cu_mono_ns();
    /* encoded ahead (cu_batch_encode, on the reader thread): the entries
     * travel with the batch, which stays here until indexed; otherwise the
     * other set of the pipeline's own (the first is in flight) */
    bool own = !(b->encoded && b->enc.n == b->n);
    struct enc *e = own ? &p->enc[p->ecur ^ 1] : &b->enc;
    if (own && (rc = encode_batch(p, b, e)))
        return rc;
    uint64_t t1 = cu_mono_ns();
    p->st.ns_encode += t1 - t0;
    /* 3: people's names first, so that a durable entry can always be
     * re-indexed (the other names are written with the batch's index:
     * their strings are in the entries) */
    if (p->store && (rc = cu_store_sync_people(p->store, p->names, b->sealed ? b->counts : NULL))) {
        p->failed = true;
        return rc;
    }
    p->st.ns_store += cu_mono_ns() - t1;
    /* the batch before: its append must be over before this one starts
     * (entries stay in order), and it is indexed while this one appends */
    cu_batch *prev = p->inflight;
    uint64_t prev_first = 0;
    if (prev) {
        uint64_t t2 = cu_mono_ns();
        rc = appender_wait(p, &prev_first);
        p->st.ns_append += cu_mono_ns() - t2;
        p->inflight = NULL;
        if (rc) {
            p->failed = true;
            return rc;
        }
    }
    if ((rc = appender_start(p, e))) {
        p->failed = true;
        return rc;
    }
    if (own)
        p->ecur ^= 1;
    p->inflight = b;
    p->check_ts = b->ev[b->n - 1].ts;
    if (prev) {
        p->st.events += prev->n;
        if ((rc = index_and_detect(p, prev, prev_first, true))) {
            p->failed = true;
            return rc;
        }
        if (done)
            *done = prev;
        if (done_first)
            *done_first = prev_first;
    }
    return CU_OK;
}

struct durable_cb {
    void (*fn)(void *ud, uint64_t pre_first);
    void *ud;
};
static cu_rc submit(cu_pipeline *p, const void *const *pre, const size_t *pre_len, bool pairs, cu_batch *b,
                    uint64_t *pre_index, uint64_t *first_index, const struct durable_cb *cb);

cu_rc cu_pipeline_submit(cu_pipeline *p, cu_batch *b, uint64_t *first_index)
{
    return submit(p, NULL, NULL, false, b, NULL, first_index, NULL);
}

cu_rc cu_pipeline_submit_after(cu_pipeline *p, const void *pre, size_t pre_len, cu_batch *b, uint64_t *pre_index)
{
    if (!pre || !pre_len)
        return cu_err_set(CU_ERR_INVAL, "no entry to append before the batch");
    return submit(p, &pre, &pre_len, false, b, pre_index, NULL, NULL);
}

cu_rc cu_pipeline_submit_pairs(cu_pipeline *p, const void *const *pre, const size_t *pre_len, cu_batch *b,
                               uint64_t *pre_first, void (*on_durable)(void *ud, uint64_t pre_first), void *ud)
{
    for (uint32_t i = 0; i < b->n; i++)
        if (!pre[i] || !pre_len[i])
            return cu_err_set(CU_ERR_INVAL, "no entry to append before event %u", i);
    struct durable_cb cb = {on_durable, ud};
    return submit(p, pre, pre_len, true, b, pre_first, NULL, on_durable ? &cb : NULL);
}

/* The entry pointers of a pairs append (each event after its entry). */
static cu_rc pairs_layout(cu_pipeline *p, const struct enc *e, const void *const *pre, const size_t *pre_len,
                          uint32_t n)
{
    if ((size_t)n * 2 > p->pcap) {
        size_t nc = (size_t)n * 2;
        const void **ptr = cu_realloc(p->pptr, nc * sizeof *ptr);
        if (ptr)
            p->pptr = ptr;
        size_t *len = cu_realloc(p->plen, nc * sizeof *len);
        if (len)
            p->plen = len;
        if (!ptr || !len)
            return CU_ERR_NOMEM;
        p->pcap = nc;
    }
    for (uint32_t i = 0; i < n; i++) {
        p->pptr[2 * i] = pre[i];
        p->plen[2 * i] = pre_len[i];
        p->pptr[2 * i + 1] = e->ptr[i];
        p->plen[2 * i + 1] = e->len[i];
    }
    return CU_OK;
}

static cu_rc submit(cu_pipeline *p, const void *const *pre, const size_t *pre_len, bool pairs, cu_batch *b,
                    uint64_t *pre_index, uint64_t *first_index, const struct durable_cb *cb)
{
    if (!p->started)
        return cu_err_set(CU_ERR_STATE, "pipeline not started");
    if (p->failed)
        return cu_err_set(CU_ERR_STATE, "pipeline stopped after an earlier failure");
    cu_rc rc;
    if (p->inflight && (rc = cu_pipeline_drain(p, NULL, NULL)))
        return rc;
    if (b->n == 0 && pre)
        return cu_err_set(CU_ERR_INVAL, "an entry before an empty batch");
    if (b->n == 0) {
        if (first_index)
            *first_index = p->sink.ops->size(p->sink.ctx);
        return CU_OK;
    }
    /* 2: check the whole batch first */
    if ((rc = check_order(b, p->last_ts)))
        return rc;
    uint64_t t0 = cu_mono_ns();
    struct enc *e = &p->enc[p->ecur];
    if ((rc = encode_batch(p, b, e)))
        return rc; /* nothing written yet */
    uint64_t t1 = cu_mono_ns();
    p->st.ns_encode += t1 - t0;
    /* 3: people's names first, so that a durable entry can always be
     * re-indexed (the other names are written with the batch's index:
     * their strings are in the entries) */
    if (p->store && (rc = cu_store_sync_people(p->store, p->names, b->sealed ? b->counts : NULL))) {
        p->failed = true;
        return rc;
    }
    uint64_t first;
    const void *const *ptrs = e->ptr;
    const size_t *lens = e->len;
    size_t n = b->n;
    if (pairs) {
        /* each decision entry just before its event, all in one durable append */
        if ((rc = pairs_layout(p, e, pre, pre_len, b->n)))
            return rc; /* nothing appended: nothing to stop for */
        ptrs = p->pptr;
        lens = p->plen;
        n = (size_t)b->n * 2;
    } else if (pre) {
        /* the entry first, then the batch's, in one durable append */
        for (uint32_t i = b->n; i > 0; i--) {
            e->ptr[i] = e->ptr[i - 1];
            e->len[i] = e->len[i - 1];
        }
        e->ptr[0] = pre[0];
        e->len[0] = pre_len[0];
        n++;
    }
    if ((rc = p->sink.ops->append_many(p->sink.ctx, ptrs, lens, n, &first))) {
        p->failed = true;
        return rc;
    }
    if (pre) {
        if (pre_index)
            *pre_index = first;
        if (cb)
            cb->fn(cb->ud, first); /* durable: the caller may answer now */
        first++;
    }
    p->st.ns_append += cu_mono_ns() - t1;
    /* 1: durable; now the store and the detectors */
    p->st.events += b->n;
    if ((rc = index_and_detect_at(p, b, first, pairs ? 2 : 1, true))) {
        p->failed = true;
        return rc;
    }
    if (first_index)
        *first_index = first;
    return CU_OK;
}

int64_t cu_pipeline_last_ts(const cu_pipeline *p) { return p->last_ts; }

cu_rc cu_pipeline_finish(cu_pipeline *p)
{
    if (!p->started || p->failed)
        return cu_err_set(CU_ERR_STATE, "pipeline not running");
    cu_rc rc;
    if (p->inflight && (rc = cu_pipeline_drain(p, NULL, NULL)))
        return rc;
    if (!p->store)
        return cu_detect_flush(p->detect, p->last_ts, on_alert, p);
    if ((rc = cu_store_begin(p->store)))
        return rc;
    if ((rc = cu_detect_flush(p->detect, p->last_ts, on_alert, p))) {
        cu_store_rollback(p->store);
        return rc;
    }
    /* cu_store_indexed waits for the store's writer: every batch handed
     * to it is written (or its failure is returned here) */
    if ((rc = cu_store_commit(p->store, cu_store_indexed(p->store))) || (rc = cu_store_wait(p->store)))
        p->failed = true;
    return rc;
}

void cu_pipeline_stats_get(const cu_pipeline *p, cu_pipeline_stats *out)
{
    *out = p->st;
    out->ns_ledger = p->ap.ns;
    out->ns_store_write = p->store ? cu_store_write_ns(p->store) : 0;
    out->ledger_size = p->sink.ops ? p->sink.ops->size(p->sink.ctx) : 0;
    out->dropped_alerts = p->detect ? cu_detect_dropped(p->detect) : 0;
}

cu_store *cu_pipeline_store(cu_pipeline *p) { return p->store; }
cu_names *cu_pipeline_names(cu_pipeline *p) { return p->names; }
const cu_detect *cu_pipeline_detect(const cu_pipeline *p) { return p->detect; }

void cu_pipeline_discard_indexes(cu_pipeline *p) { p->bulk = false; }

cu_rc cu_pipeline_close(cu_pipeline *p)
{
    if (!p)
        return CU_OK;
    cu_rc rc = CU_OK;
    /* an append in flight finishes (durable, not indexed: the next open
     * re-indexes it) before the log closes */
    appender_stop(p);
    if (p->bulk && p->store)
        rc = cu_store_bulk_end(p->store);
    /* batches handed to the store's writer are written before it closes;
     * a failure among them is reported here (their entries are in the log:
     * the next start re-indexes them) */
    if (p->store && !rc)
        rc = cu_store_wait(p->store);

    cu_store_close(p->store);
    if (p->sink.ops && p->sink.ops->close)
        p->sink.ops->close(p->sink.ctx);
    cu_detect_free(p->detect);
    cu_batch_free(p->rbatch);
    cu_buf_free(&p->rbuf);
    for (int i = 0; i < 2; i++)
        enc_free(&p->enc[i]);
    cu_free(p->pptr);
    cu_free(p->plen);
    cache_free(&p->cc);
    cu_free(p->cmap.key);
    cu_free(p->cmap.id);
    cu_free(p->dir);
    cu_free(p);
    return rc;
}

cu_rc cu_pipeline_ref_changed(cu_pipeline *p)
{
    return p->detect ? cu_detect_ref_changed(p->detect) : CU_OK;
}
