/* custos replay: a reference file and an events file through the pipeline,
 * alerts out as JSON Lines.
 *
 * Threads: parser workers scan blocks of the events file (cu_event_preader);
 * the reader thread takes them in file order, interns, fills batches and
 * encodes their ledger entries (cu_batch_encode); the
 * calling thread runs the pipeline with pipelined submission (the log
 * appends batch N+1 on the pipeline's appender thread while batch N is
 * indexed and detected).  A fixed ring of batches bounds memory whatever
 * the file size.  The reader is the only thread that interns; the pipeline
 * thread reads only names below the counts sealed into each batch (event.h
 * explains why that is safe).
 *
 * Without --data the data directory is temporary and removed at the end:
 * the pipeline then runs without a store (no index that nobody could read,
 * no recovery of a directory that will not exist); the ledger is written
 * all the same (every event is made durable before it is detected).
 *
 * Invariants:
 * 1. Events reach the pipeline in file order; the reader refuses an event
 *    earlier than the one before it (CU_ERR_ORDER, file:line).
 * 2. On a bad line, every event before it is still made durable, indexed
 *    and run through the detectors (nothing accepted is lost), then the
 *    error is returned with its file and line.
 * 3. A temporary data directory is removed on every exit path.
 */
#include "custos/pipeline.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBATCH 4
#define DEFAULT_BATCH 65536

struct ring {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cu_batch *freeq[NBATCH];
    int nfree;
    cu_batch *fullq[NBATCH];
    int nfull;
    bool done, stop;
    cu_rc err;
    char msg[1024];
    cu_event_preader *reader;
    cu_names *names;
    cu_batch_encoder *enc; /* the reader encodes each batch's entries */
    uint64_t ns_busy;
};

static void *reader_main(void *arg)
{
    struct ring *q = arg;
    pthread_setname_np(pthread_self(), "cu-reader");
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->nfree && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->stop) {
            pthread_mutex_unlock(&q->mu);
            break;
        }
        cu_batch *b = q->freeq[--q->nfree];
        pthread_mutex_unlock(&q->mu);

        uint64_t t0 = cu_mono_ns();
        cu_batch_reset(b);
        cu_rc rc = CU_OK;
        cu_event *ev;
        while ((ev = cu_batch_slot(b))) {
            rc = cu_event_preader_next(q->reader, ev);
            if (rc)
                break;
            cu_batch_push(b);
        }
        cu_batch_seal(b, q->names);
        /* the entries too, off the pipeline thread (which would otherwise
         * encode them before each append: name look-ups and commitments,
         * about a microsecond an event); a failure here leaves the batch
         * to the pipeline, which encodes it and reports the error */
        if (cu_batch_count(b) && cu_batch_encode(b, q->enc) != CU_OK)
            cu_log(CU_LOG_DEBUG, "reader: batch left to the pipeline to encode: %s", cu_err_detail());
        q->ns_busy += cu_mono_ns() - t0;
        pthread_mutex_lock(&q->mu);
        q->fullq[q->nfull++] = b;
        if (rc) {
            q->done = true;
            if (rc != CU_ERR_NOTFOUND) {
                q->err = rc;
                snprintf(q->msg, sizeof q->msg, "%s", cu_err_detail());
            }
        }
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
        if (rc)
            break;
    }
    return NULL;
}

struct out {
    FILE *f;
    cu_buf line;
    const cu_names *names;
    const char *path;
};

static cu_rc write_alert(void *ud, const cu_alert *a)
{
    struct out *o = ud;
    cu_buf_reset(&o->line);
    cu_rc rc = cu_alert_write(o->names, a, &o->line);
    if (rc)
        return rc;
    if (fwrite(o->line.data, 1, o->line.len, o->f) != o->line.len)
        return cu_err_set(CU_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
    return CU_OK;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

cu_rc cu_rmtree(const char *path)
{
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return cu_err_set(CU_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return CU_OK;
}

static void recycle(struct ring *q, cu_batch *b)
{
    pthread_mutex_lock(&q->mu);
    q->freeq[q->nfree++] = b;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* A batch back from the pipeline: durable, indexed and detected. */
static cu_rc give_back(struct ring *q, const cu_replay_opts *o, cu_replay_stats *stats, cu_batch *b, uint64_t first,
                       cu_rc rc)
{
    if (b) {
        stats->batches++;
        stats->events += cu_batch_count(b);
        if (o->on_durable)
            o->on_durable(o->ud, first + cu_batch_count(b));
        recycle(q, b);
    }
    if (rc) {
        pthread_mutex_lock(&q->mu);
        q->stop = true;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
    }
    return rc;
}

cu_rc cu_replay_run(const cu_replay_opts *o, cu_replay_stats *stats)
{
    cu_names *names = NULL;
    cu_ref *ref = NULL;
    cu_pipeline *p = NULL;
    cu_event_preader *reader = NULL;
    cu_batch *all[NBATCH] = {0};
    struct ring q = {.nfree = 0};
    struct out out = {.path = o->alerts};
    cu_buf_init(&out.line, 1 << 20);
    char tmpdir[4096] = "";
    const char *dir = o->data_dir;
    bool thread_started = false;
    pthread_t th;
    cu_rc rc;
    memset(stats, 0, sizeof *stats);
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.cv, NULL);

    uint64_t t_start = cu_mono_ns();
    if (!dir) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/custos-replay-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            rc = cu_err_set(CU_ERR_IO, "cannot make a temporary directory: %s", strerror(errno));
            tmpdir[0] = '\0';
            goto done;
        }
        dir = tmpdir;
    }
    cu_pipeline_opts popts = {.no_store = tmpdir[0] != '\0'};
    /* the parser threads start scanning (they intern nothing) while the
     * reference is read and stored */
    if ((rc = cu_names_new(&names)) || (rc = cu_event_preader_open(o->events, names, o->parse_workers, 0, &reader)))
        goto done;
    if ((rc = cu_pipeline_open_with(dir, names, NULL, &popts, &p)) || (rc = cu_ref_new(names, &ref)) ||
        (rc = cu_ref_load(ref, o->reference)))
        goto done;
    out.names = names;
    out.f = strcmp(o->alerts, "-") == 0 ? stdout : fopen(o->alerts, "w");
    if (!out.f) {
        rc = cu_err_set(cu_rc_from_errno(errno), "%s: %s", o->alerts, strerror(errno));
        goto done;
    }
    cu_pipeline_cfg cfg = {.on_alert = write_alert, .ud = &out, .bulk = true, .detect = o->detect,
                           .ingest_clock = o->ingest_clock, .clock_ud = o->clock_ud};
    if ((rc = cu_pipeline_start(p, ref, &cfg)))
        goto done;
    stats->ns_start = cu_mono_ns() - t_start;

    for (int i = 0; i < NBATCH; i++) {
        if ((rc = cu_batch_new(o->batch ? o->batch : DEFAULT_BATCH, &all[i])))
            goto done;
        q.freeq[q.nfree++] = all[i];
    }
    q.reader = reader;
    q.names = names;
    if ((rc = cu_batch_encoder_new(p, &q.enc)))
        goto done;
    if (pthread_create(&th, NULL, reader_main, &q) != 0) {
        rc = cu_err_set(CU_ERR_INTERNAL, "cannot start the reader thread");
        goto done;
    }
    thread_started = true;
    for (;;) {
        pthread_mutex_lock(&q.mu);
        while (!q.nfull && !q.done)
            pthread_cond_wait(&q.cv, &q.mu);
        if (!q.nfull) {
            pthread_mutex_unlock(&q.mu);
            break;
        }
        cu_batch *b = q.fullq[0];
        memmove(q.fullq, q.fullq + 1, (size_t)(q.nfull - 1) * sizeof *q.fullq);
        q.nfull--;
        pthread_mutex_unlock(&q.mu);

        /* b goes into the log; the batch before it comes back indexed */
        cu_batch *back = NULL;
        uint64_t first = 0;
        rc = cu_pipeline_submit_async(p, b, &back, &first);
        if ((rc = give_back(&q, o, stats, back, first, rc)))
            goto done;
        if (!cu_batch_count(b))
            recycle(&q, b); /* an empty batch is not kept by the pipeline */
    }
    {
        cu_batch *back = NULL;
        uint64_t first = 0;
        rc = cu_pipeline_drain(p, &back, &first);
        if ((rc = give_back(&q, o, stats, back, first, rc)))
            goto done;
    }
    if (q.err) {
        rc = cu_err_set(q.err, "%s", q.msg);
        goto done;
    }
    if ((rc = cu_pipeline_finish(p)))
        goto done;
    cu_pipeline_stats st;
    cu_pipeline_stats_get(p, &st);
    stats->alerts = st.alerts;
    stats->pipeline = st;
    if (st.dropped_alerts)
        cu_log(CU_LOG_WARN, "%llu alerts were dropped (too many at one event)", (unsigned long long)st.dropped_alerts);

done:
    if (thread_started) {
        cu_thread_stop(&q.mu, &q.cv, &q.stop, th);
    }
    if (out.f) {
        /* keep what was written, even on error */
        if (fflush(out.f) != 0 && !rc)
            rc = cu_err_set(CU_ERR_IO, "%s: write failed: %s", o->alerts, strerror(errno));
        if (out.f != stdout && fclose(out.f) != 0 && !rc)
            rc = cu_err_set(CU_ERR_IO, "%s: close failed", o->alerts);
    }
    stats->ns_parse = q.ns_busy;
    if (p) {
        uint64_t tc = cu_mono_ns();
        cu_rc crc = cu_pipeline_close(p);
        stats->pipeline.ns_close = cu_mono_ns() - tc;
        if (crc && !rc)
            rc = crc;
    }
    cu_event_preader_close(reader);
    cu_batch_encoder_free(q.enc);
    /* after the pipeline is closed: no batch is in flight any more */
    for (int i = 0; i < NBATCH; i++)
        cu_batch_free(all[i]);
    cu_ref_free(ref);
    cu_names_free(names);
    cu_buf_free(&out.line);
    pthread_mutex_destroy(&q.mu);
    pthread_cond_destroy(&q.cv);
    if (tmpdir[0]) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", cu_err_detail());
        if (cu_rmtree(tmpdir) && !rc)
            rc = cu_err_set(CU_ERR_IO, "cannot remove %s", tmpdir);
        else if (rc)
            cu_err_set(rc, "%s", keep);
    }
    return rc;
}

bool cu_replay_thp_rerun(const char *thp_enabled, const char *tunables)
{
    /* "always": every mapping gets them anyway; "never": asking is useless */
    return thp_enabled && strstr(thp_enabled, "[madvise]") && !tunables;
}
