/*
 * The durable log: a C2SP tlog-tiles tree on disk, written by a pipeline of
 * three threads, with a private journal as the commit point.
 *
 * Layout (docs/ledger.md): DIR/checkpoint and DIR/tile/... are public;
 * DIR/private/ (0700) holds lock, journal, secret (0600), signer.key (0600)
 * and tmp/ (scratch files renamed into place).
 *
 * The journal is "CUSTOSJ1" | base (u64) | the tree's right-edge hashes of
 * levels >= 1 at base | SHA-256 of the above, then commit records:
 * "CUJR" | count u32 | payload bytes u32 | first index u64 | payload (count
 * entries, each a big-endian u16 length and the bytes) | tree root after the
 * record.  base is a multiple of 256: the journal holds every entry from
 * base on, and every tile below base is durable.  The file goes on with
 * zeros after the last record (preallocated by the syncer, so that a commit
 * overwrites allocated blocks); zeros are not a torn tail.
 *
 * The pipeline (docs/ledger.md, "The commit protocol"):
 *   builder   takes queued appends as a group: leaf hashes, the in-memory
 *             right edge and bundle, one journal record appended to the open
 *             batch (memory only), full tiles and bundles handed to the tile
 *             writer.  While the syncer writes and syncs a batch it lets
 *             appends wait in the queue and builds them as one group when
 *             the fdatasync is done (one wake-up per commit, not one per
 *             append), overlapping the build with the acknowledgements.
 *   syncer    takes the open batch (every record built since its last turn),
 *             writes it to the journal with one pwrite, fdatasyncs it (the
 *             commit point), then acknowledges its requests.  While several
 *             callers wait, a commit starts no sooner than the commit period
 *             after the previous one began, so that a fast fdatasync does not
 *             commit a handful of entries at a time.
 *   tile      writes the full tiles and bundles it is handed (tmp + rename,
 *   writer    no fsync), off the commit path.
 *
 * NOTES ON THE DESIGN (the recovery invariants, numbered as in the docs):
 *  1. An entry is committed exactly when the record holding it is complete
 *     in the journal and fdatasync'd; only then is its append acknowledged.
 *     Batches are written and synced in the order they were built.
 *  2. A record is valid only if its header fits, it continues the tree at
 *     its first index, and the root recomputed from its entries equals its
 *     trailer.  Opening the log cuts the journal at the first invalid record
 *     (the torn tail) and deletes every full tile beyond the committed size
 *     (the tile writer may run ahead of the commit point).
 *  3. Opening rewrites every full tile and bundle at or after base from the
 *     journal, so a tile torn or never written before a crash is rebuilt.
 *     Tiles still appear under their names only whole (tmp + rename): a
 *     client may fetch a full tile as a fallback for a partial one, and a
 *     cache keeps tiles for long.
 *  4. Publishing waits until every built batch is synced and every tile is
 *     written, writes the partial tiles (tmp + rename: a checkpoint may
 *     already name them), makes the whole tree durable (syncfs), recomputes
 *     the root from the stored files, proves the previous checkpoint
 *     consistent with them, rewrites the journal with a new base, and only
 *     then signs and renames the new checkpoint into place.  A checkpoint
 *     never covers data that is not durable, and an inconsistent one is
 *     never signed.
 *  5. After any I/O error the log fails closed: no further append, publish
 *     or read until it is reopened, which recovers by 2 and 3.  A request
 *     in flight when a thread fails gets that failure's code; later ones
 *     CU_ERR_STATE.
 *  6. One writer: an exclusive flock on private/lock, held until close.
 *
 * Locks: qmu (request queue), smu (edge and bundle: held by the builder for
 * a group, by publish and by readers), pmu (batches, journal offset), tmu
 * (tile ring).  No thread holds two of qmu, pmu, tmu at once; smu may be
 * held while taking pmu or tmu, never the other way round.
 */
#include "ledger/ledger_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#define JMAGIC "CUSTOSJ1"
#define RMAGIC "CUJR"
#define RHDR 20
#define GROUP_BYTES_MAX (8u << 20) /* payload of one commit group */
#define JGROW ((off_t)4 << 20)  /* zeros the journal is extended by ahead of its records */
#define JSLACK ((off_t)2 << 20) /* extend when less than this is left */
#define JOURNAL_READ_MAX ((size_t)CU_LG_JOURNAL_TRIM + 2 * GROUP_BYTES_MAX + (size_t)JGROW + (1u << 20))
#define PATH_MAX_ 4096
#define BATCH_SLOTS 8192             /* request pieces one batch acknowledges */
#define GATHER_BYTES ((size_t)1 << 20) /* a batch this large is neither gathered nor waited out by the builder */
#define BATCH_BYTES (2 * (size_t)GROUP_BYTES_MAX + 4 * (size_t)CU_LEDGER_ENTRY_MAX + (1u << 20))
/* Tiles and bundles waiting for the tile writer (and at most TRING_BYTES
 * of them).  A 65536-entry group fills 513 (256 bundles, 256 level-0
 * tiles, a level-1 tile): with a ring shorter than that the builder waited
 * on file creation for most of every group, so the tile writer's file
 * system cost was on the commit path of bulk appends. */
#define TRING 2048
#define TRING_BYTES ((size_t)64 << 20)

typedef enum { REQ_APPEND, REQ_PUBLISH } req_kind;

/* A request lives on its caller's stack until done is set. */
typedef struct req {
    req_kind kind;
    const void *const *entries; /* NULL: the single entry in one/onelen */
    const size_t *lens;
    const void *one;
    size_t onelen;
    size_t n;
    size_t taken; /* entries put into groups (builder, under qmu) */
    size_t acct;  /* entries committed or failed (syncer only) */
    uint64_t first;
    bool first_set;
    cu_rc rc;
    char detail[512];
    cu_checkpoint *cp;
    _Atomic int done; /* futex word: 1 once the caller may return */
    struct req *next;
    cu_ledger_done_fn cb; /* asynchronous append: called instead of the futex wake */
    void *cb_ud;
} req;

/* k entries of r, the first of them at tree index first; rc set when the
 * builder failed them. */
typedef struct slot {
    req *r;
    size_t k;
    uint64_t first;
    cu_rc rc;
} slot;

/* What one pwrite + fdatasync commits: records of one or more groups. */
typedef struct batch {
    cu_buf j;
    slot *slots;
    size_t nslots;
    uint64_t end; /* tree size after its last record */
} batch;

/* A full tile (level >= 0) or bundle (level -1) for the tile writer; the
 * buffers stay with their ring position and are reused. */
typedef struct titem {
    int level;
    uint64_t index;
    uint8_t *buf;
    size_t len, cap;
} titem;

typedef char mkcache_t[CU_LG_LEVELS + 1][CU_TILE_PATH_MAX];

struct cu_ledger {
    char dir[PATH_MAX_], priv[PATH_MAX_];
    int lock_fd, jfd;
    off_t jend;   /* end of the records; under pmu while the syncer runs */
    off_t jalloc; /* file size: zeros from jend to here (syncer, or with it idle) */
    uint64_t jbase;
    bool read_only;
    cu_note_signer *signer;
    cu_note_verifier *verifier;
    char origin[256];
    uint8_t secret[CU_LEDGER_SECRET_LEN];
    cu_checkpoint last_cp;

    /* state, guarded by smu (the builder holds it for a whole group) */
    pthread_mutex_t smu;
    cu_lg_edge *edge;
    uint8_t *bundle; /* the current bundle: entries of [n & ~255, n) framed */
    size_t bundle_len, bundle_cap;
    _Atomic uint64_t committed;
    _Atomic int failed;         /* cu_rc, 0 while healthy */
    _Atomic int report_pending; /* failed by a thread no request was waiting on */
    char faildetail[512];
    pthread_mutex_t fmu; /* serialises fail_closed */
    mkcache_t mkcache; /* last directory made per level (builder, recovery) */

    /* queue, guarded by qmu */
    pthread_mutex_t qmu;
    pthread_cond_t qwork;
    req *head, *tail;
    bool stop;
    pthread_t thr;
    bool thr_started;
    unsigned group_max, group_wait_us;
    uint64_t period_ns; /* least time between two commits' starts under concurrency (0: none) */

    /* batches, guarded by pmu: the builder fills bt[cur] */
    pthread_mutex_t pmu;
    pthread_cond_t pwork, pdone;
    batch bt[2];
    int cur;
    bool building, syncing, pstop;
    _Atomic bool flushing; /* the syncer writes and syncs a batch, or gathers one: appends queue */
    bool draining; /* the builder waits for every built batch to be committed (drain) */
    _Atomic uint64_t enq_entries, taken_entries; /* appended entries queued / taken into groups */
    pthread_t sthr;
    bool sthr_started;
    _Atomic uint64_t syncs;

    /* tile ring, guarded by tmu */
    pthread_mutex_t tmu;
    pthread_cond_t twork, tdone;
    titem ring[TRING];
    unsigned rhead, rcount;
    size_t rbytes;
    bool tstop, tfailed;
    pthread_t tthr;
    bool tthr_started;
    mkcache_t tcache; /* the tile writer's */
};

/* ============================================================ small helpers */

static cu_rc pathf(char *out, const char *fmt, ...) CU_PRINTF(2, 3);
static cu_rc pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, PATH_MAX_, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX_)
        return cu_err_set(CU_ERR_TOOBIG, "path too long");
    return CU_OK;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The first failure wins.  Its detail is written before failed is set and
 * never again, so whoever sees failed set reads a complete detail. */
static void fail_closed(cu_ledger *l, cu_rc rc)
{
    pthread_mutex_lock(&l->fmu);
    if (!atomic_load(&l->failed)) {
        snprintf(l->faildetail, sizeof l->faildetail, "%s", cu_err_detail());
        atomic_store(&l->failed, (int)rc);
        cu_log(CU_LOG_ERROR, "ledger %s failed closed: %s: %s", l->dir, cu_strerror(rc), l->faildetail);
    }
    pthread_mutex_unlock(&l->fmu);
}

static cu_rc check_healthy(cu_ledger *l)
{
    int f = atomic_load(&l->failed);
    if (f)
        return cu_err_set(CU_ERR_STATE, "the log failed closed after an error (%s: %s); close and reopen it",
                          cu_strerror((cu_rc)f), l->faildetail);
    return CU_OK;
}

/* Like check_healthy, but the first caller after a failure that no request
 * saw (a tile write, a builder error) gets that failure's own code. */
static cu_rc check_healthy_report(cu_ledger *l)
{
    int f = atomic_load(&l->failed);
    if (f && atomic_exchange(&l->report_pending, 0))
        return cu_err_set((cu_rc)f, "%s", l->faildetail);
    return check_healthy(l);
}

/* Make the directories above rel (a tile path), remembering the last one
 * made per level in cache. */
static cu_rc ensure_dir(cu_ledger *l, mkcache_t cache, int level, const char *rel)
{
    char dirpart[CU_TILE_PATH_MAX];
    const char *slash = strrchr(rel, '/');
    size_t dl = slash ? (size_t)(slash - rel) : 0;
    cu_rc rc;
    memcpy(dirpart, rel, dl);
    dirpart[dl] = '\0';
    char *c = cache[level + 1];
    if (strcmp(c, dirpart) != 0) {
        if ((rc = cu_lg_mkdirs_for(l->dir, rel)))
            return rc;
        memcpy(c, dirpart, dl + 1);
    }
    return CU_OK;
}

/* Write a partial tile (relative path under dir) through private/tmp. */
static cu_rc write_public(cu_ledger *l, int level, const char *rel, const void *p, size_t n, bool sync)
{
    char path[PATH_MAX_], tmp[PATH_MAX_];
    cu_rc rc;
    if ((rc = ensure_dir(l, l->mkcache, level, rel)))
        return rc;
    if ((rc = pathf(path, "%s/%s", l->dir, rel)) || (rc = pathf(tmp, "%s/tmp/tile", l->priv)))
        return rc;
    return cu_lg_write_file(tmp, path, p, n, 0644, sync);
}

/* Write a full tile or bundle through a scratch file (tmp, one per
 * thread) renamed onto its name.  Not straight to the name: the spec lets a
 * client fetch a full tile as a fallback for a partial one, and tiles are
 * served as immutable (cached for long), so a half-written one must never
 * be visible.  No fsync: publish makes tiles durable (syncfs), and
 * recovery rebuilds any at or after the journal's base (invariant 3). */
static cu_rc write_full_file(cu_ledger *l, mkcache_t cache, const char *tmpname, int level, uint64_t index,
                             const void *p, size_t n)
{
    char rel[CU_TILE_PATH_MAX], path[PATH_MAX_], tmp[PATH_MAX_];
    cu_rc rc;
    if ((rc = cu_tile_path(level, index, CU_TILE_WIDTH, rel, sizeof rel)) ||
        (rc = ensure_dir(l, cache, level, rel)) || (rc = pathf(path, "%s/%s", l->dir, rel)) ||
        (rc = pathf(tmp, "%s/tmp/%s", l->priv, tmpname)))
        return rc;
    return cu_lg_write_file(tmp, path, p, n, 0644, false);
}

/* Remove the partial tiles tile/<L>/<N>.p/ once the full tile exists and
 * is durable (only after a publish: invariant 4). */
static void remove_partials(cu_ledger *l, int level, uint64_t index)
{
    char rel[CU_TILE_PATH_MAX], path[PATH_MAX_];
    if (cu_tile_path(level, index, CU_TILE_WIDTH, rel, sizeof rel) || pathf(path, "%s/%s.p", l->dir, rel))
        return;
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
    rmdir(path);
}

/* ============================================================ tile writer */

/* Hand a full tile or bundle to the tile writer (builder, under smu).  With
 * swap, the bundle buffer itself moves into the ring and the ring's old
 * buffer becomes the new (empty) bundle: no copy. */
static cu_rc tile_put(cu_ledger *l, int level, uint64_t index, const void *p, size_t n, bool swap)
{
    cu_rc rc = CU_OK;
    pthread_mutex_lock(&l->tmu);
    while ((l->rcount == TRING || (l->rcount && l->rbytes + n > TRING_BYTES)) && !l->tfailed)
        pthread_cond_wait(&l->tdone, &l->tmu);
    if (l->tfailed) {
        rc = cu_err_set((cu_rc)atomic_load(&l->failed), "%s", l->faildetail);
        goto out;
    }
    titem *it = &l->ring[(l->rhead + l->rcount) % TRING];
    if (swap) {
        uint8_t *b = it->buf;
        size_t cap = it->cap;
        it->buf = l->bundle;
        it->cap = l->bundle_cap;
        l->bundle = b;
        l->bundle_cap = cap;
    } else {
        if (it->cap < n) {
            uint8_t *b = cu_realloc(it->buf, n);
            if (!b) {
                rc = cu_err_set(CU_ERR_NOMEM, "tile buffer of %zu bytes", n);
                goto out;
            }
            it->buf = b;
            it->cap = n;
        }
        memcpy(it->buf, p, n);
    }
    it->level = level;
    it->index = index;
    it->len = n;
    l->rcount++;
    l->rbytes += n;
    pthread_cond_signal(&l->twork);
out:
    pthread_mutex_unlock(&l->tmu);
    return rc;
}

/* Wait until every tile handed over so far is written (or the writer
 * failed).  Readers and publish call it before reading tile files. */
static void tiles_drain(cu_ledger *l)
{
    pthread_mutex_lock(&l->tmu);
    while (l->rcount && !l->tfailed)
        pthread_cond_wait(&l->tdone, &l->tmu);
    pthread_mutex_unlock(&l->tmu);
}

static void *tile_writer(void *arg)
{
    cu_ledger *l = arg;
    pthread_setname_np(pthread_self(), "cu-lg-tiles"); /* per-thread CPU in profiles and benchmarks */
    pthread_mutex_lock(&l->tmu);
    for (;;) {
        while (!l->rcount && !l->tstop)
            pthread_cond_wait(&l->twork, &l->tmu);
        if (!l->rcount)
            break;
        titem *it = &l->ring[l->rhead];
        bool failed = l->tfailed;
        pthread_mutex_unlock(&l->tmu);
        /* the item stays in the ring (and its buffer unchanged) until popped */
        cu_rc rc = failed ? CU_OK : write_full_file(l, l->tcache, "tilew", it->level, it->index, it->buf, it->len);
        if (rc) {
            /* pending first: whoever sees the failure must also see that
             * no request has been told yet */
            atomic_store(&l->report_pending, 1);
            fail_closed(l, rc);
        }
        pthread_mutex_lock(&l->tmu);
        if (rc)
            l->tfailed = true;
        l->rhead = (l->rhead + 1) % TRING;
        l->rcount--;
        l->rbytes -= it->len;
        pthread_cond_broadcast(&l->tdone);
    }
    pthread_mutex_unlock(&l->tmu);
    return NULL;
}

/* ================================================================ the tree */

typedef enum { PUSH_MEM, PUSH_WRITE, PUSH_QUEUE } push_mode;

/* Full-tile callbacks: recovery writes the tile itself, the builder hands
 * it to the tile writer. */
static cu_rc full_tile_write(void *ctx, unsigned level, uint64_t index, const cu_hash *hashes)
{
    cu_ledger *l = ctx;
    return write_full_file(l, l->mkcache, "tile", (int)level, index, hashes, (size_t)CU_TILE_WIDTH * CU_HASH_LEN);
}

static cu_rc full_tile_queue(void *ctx, unsigned level, uint64_t index, const cu_hash *hashes)
{
    return tile_put(ctx, (int)level, index, hashes, (size_t)CU_TILE_WIDTH * CU_HASH_LEN, false);
}

static cu_rc bundle_add(cu_ledger *l, const void *p, size_t n)
{
    cu_rc rc = cu_grow(&l->bundle, &l->bundle_cap, l->bundle_len + n + 2, 1, 65536, false);
    if (rc) {
        cu_err_prefix("entry bundle");
        return rc;
    }
    cu_put_be16(l->bundle + l->bundle_len, (uint16_t)n);
    memcpy(l->bundle + l->bundle_len + 2, p, n);
    l->bundle_len += n + 2;
    return CU_OK;
}

/* Push one entry into the tree: leaf hash, edge, bundle; full tiles and
 * bundles are written (recovery), queued (builder) or dropped (read-only). */
static cu_rc push_entry(cu_ledger *l, const void *p, size_t n, push_mode mode)
{
    static const cu_lg_full_fn fns[] = {NULL, full_tile_write, full_tile_queue};
    cu_hash leaf;
    cu_rc rc;
    if ((rc = cu_merkle_leaf_hash(p, n, &leaf)) || (rc = cu_lg_edge_push(l->edge, &leaf, fns[mode], l)) ||
        (rc = bundle_add(l, p, n)))
        return rc;
    if (l->edge->n % CU_TILE_WIDTH == 0) {
        uint64_t b = l->edge->n / CU_TILE_WIDTH - 1;
        if (mode == PUSH_WRITE && (rc = write_full_file(l, l->mkcache, "tile", -1, b, l->bundle, l->bundle_len)))
            return rc;
        if (mode == PUSH_QUEUE && (rc = tile_put(l, -1, b, l->bundle, l->bundle_len, true)))
            return rc;
        l->bundle_len = 0;
    }
    return CU_OK;
}

/* =============================================================== journal */

/* The journal header for base (the edge must be at a size >= base with the
 * same levels >= 1, i.e. base == edge->n & ~255). */
static cu_rc journal_header(cu_ledger *l, uint64_t base, cu_buf *b)
{
    cu_hash *up = cu_malloc(CU_LG_LEVELS * 255 * sizeof(cu_hash));
    uint8_t digest[CU_SHA256_LEN], u64[8];
    cu_rc rc;
    if (!up)
        return CU_ERR_NOMEM;
    size_t k = cu_lg_edge_upper(l->edge, up);
    cu_put_be64(u64, base);
    if ((rc = cu_buf_append(b, JMAGIC, 8)) || (rc = cu_buf_append(b, u64, 8)) ||
        (rc = cu_buf_append(b, up, k * sizeof(cu_hash))) ||
        (rc = cu_sha256(b->data, b->len, NULL, 0, NULL, 0, digest)) || (rc = cu_buf_append(b, digest, sizeof digest)))
        goto out;
out:
    cu_free(up);
    return rc;
}

/* Rewrite the journal with base = committed & ~255 after making every tile
 * durable (invariant 4: nothing below the new base lives only here). */
static cu_rc journal_rewrite(cu_ledger *l, bool tiles_synced)
{
    const cu_ledger_io *io = cu_ledger_io_get();
    uint64_t n = l->edge->n, base = n & ~(uint64_t)255;
    char jpath[PATH_MAX_], tmp[PATH_MAX_];
    cu_buf b;
    cu_rc rc;
    int fd = -1;
    cu_buf_init(&b, JOURNAL_READ_MAX);
    if ((rc = pathf(jpath, "%s/journal", l->priv)) || (rc = pathf(tmp, "%s/tmp/journal", l->priv)))
        goto fail;
    if (!tiles_synced) {
        int dfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
            rc = cu_lg_errno(errno, "open", l->dir);
            goto fail;
        }
        int r = io->syncfs(dfd);
        int e = errno;
        close(dfd);
        if (r != 0) {
            rc = cu_lg_errno(e, "syncfs", l->dir);
            goto fail;
        }
    }
    if ((rc = journal_header(l, base, &b)))
        goto fail;
    if (n > base) {
        /* the header's edge is at base; the record's root is at n */
        uint8_t h[RHDR];
        cu_hash root;
        memcpy(h, RMAGIC, 4);
        cu_put_be32(h + 4, (uint32_t)(n - base));
        cu_put_be32(h + 8, (uint32_t)l->bundle_len);
        cu_put_be64(h + 12, base);
        if ((rc = cu_lg_edge_root(l->edge, &root)) || (rc = cu_buf_append(&b, h, RHDR)) ||
            (rc = cu_buf_append(&b, l->bundle, l->bundle_len)) || (rc = cu_buf_append(&b, root.b, CU_HASH_LEN)))
            goto fail;
    }
    if ((rc = cu_lg_write_file(tmp, jpath, b.data, b.len, 0600, true)) || (rc = cu_lg_sync_dir(l->priv)))
        goto fail;
    fd = io->open(jpath, O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = cu_lg_errno(errno, "open", jpath);
        goto fail;
    }
    if (l->jfd >= 0)
        close(l->jfd);
    l->jfd = fd;
    l->jend = l->jalloc = (off_t)b.len;
    l->jbase = base;
    cu_buf_free(&b);
    return CU_OK;
fail:
    cu_buf_free(&b);
    return rc;
}

/* ============================================================ commit group */

static const void *req_entry(const req *r, size_t i, size_t *len)
{
    if (!r->entries) {
        *len = r->onelen;
        return r->one;
    }
    *len = r->lens[i];
    return r->entries[i];
}

/* Build one group (builder, under smu): its slots are b->slots[s0..], its
 * record is appended to b->j.  Nothing touches the disk here; on an error
 * the record is taken back out of the batch. */
static cu_rc build_group(cu_ledger *l, batch *b, size_t s0)
{
    size_t jstart = b->j.len;
    uint64_t first = l->edge->n;
    uint32_t count = 0;
    cu_rc rc;
    uint8_t h[RHDR] = {0}; /* header placeholder, patched below */
    if ((rc = cu_buf_append(&b->j, h, RHDR)))
        goto fail;
    for (size_t s = s0; s < b->nslots; s++) {
        req *r = b->slots[s].r;
        size_t off = b->slots[s].first; /* the builder parks the request offset here */
        b->slots[s].first = l->edge->n;
        for (size_t i = off; i < off + b->slots[s].k; i++) {
            size_t len;
            const void *p = req_entry(r, i, &len);
            uint8_t pre[2];
            cu_put_be16(pre, (uint16_t)len);
            if ((rc = cu_buf_append(&b->j, pre, 2)) || (rc = cu_buf_append(&b->j, p, len)) ||
                (rc = push_entry(l, p, len, PUSH_QUEUE)))
                goto fail;
            count++;
        }
    }
    cu_hash root;
    if ((rc = cu_lg_edge_root(l->edge, &root)) || (rc = cu_buf_append(&b->j, root.b, CU_HASH_LEN)))
        goto fail;
    uint8_t *hp = (uint8_t *)b->j.data + jstart;
    memcpy(hp, RMAGIC, 4);
    cu_put_be32(hp + 4, count);
    cu_put_be32(hp + 8, (uint32_t)(b->j.len - jstart - RHDR - CU_HASH_LEN));
    cu_put_be64(hp + 12, first);
    b->end = l->edge->n;
    return CU_OK;
fail:
    b->j.len = jstart;
    return rc;
}

/* ================================================================ publish */

static cu_rc write_partials(cu_ledger *l, uint64_t n)
{
    char rel[CU_TILE_PATH_MAX];
    cu_rc rc;
    if (n % CU_TILE_WIDTH) {
        if ((rc = cu_tile_path(-1, n >> 8, (unsigned)(n & 255), rel, sizeof rel)) ||
            (rc = write_public(l, -1, rel, l->bundle, l->bundle_len, false)))
            return rc;
    }
    for (unsigned L = 0; L < CU_LG_LEVELS; L++) {
        unsigned c = l->edge->cnt[L];
        if (!c)
            continue;
        if ((rc = cu_tile_path((int)L, (n >> (8 * L)) >> 8, c, rel, sizeof rel)) ||
            (rc = write_public(l, (int)L, rel, l->edge->h[L], c * sizeof(cu_hash), false)))
            return rc;
    }
    return CU_OK;
}

static cu_rc do_publish(cu_ledger *l, cu_checkpoint *out)
{
    const cu_ledger_io *io = cu_ledger_io_get();
    uint64_t n = l->edge->n;
    cu_hash mroot, sroot, proof[CU_MERKLE_MAX_PROOF];
    size_t plen = 0;
    cu_checkpoint prev, cp;
    char *text = NULL, *note = NULL, cpath[PATH_MAX_], tmp[PATH_MAX_];
    size_t tlen = 0, nlen = 0;
    cu_lg_nodes *nodes = NULL;
    cu_rc rc;
    bool fatal = true;
    if ((rc = check_healthy(l)))
        return rc;
    if (!l->signer)
        return cu_err_set(CU_ERR_STATE, "the log was opened without a signer key: cannot publish");
    if ((rc = write_partials(l, n)))
        goto fail;
    /* make every tile durable before anything refers to it */
    int dfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = cu_lg_errno(errno, "open", l->dir);
        goto fail;
    }
    int r = io->syncfs(dfd), e = errno;
    close(dfd);
    if (r != 0) {
        rc = cu_lg_errno(e, "syncfs", l->dir);
        goto fail;
    }
    /* the root from storage must be the root we computed (invariant 4) */
    if (!(nodes = cu_malloc(sizeof *nodes))) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    cu_lg_nodes_init(nodes, l->dir, n, NULL);
    if ((rc = cu_lg_edge_root(l->edge, &mroot)))
        goto fail;
    if (n == 0)
        cu_merkle_empty_root(&sroot);
    else if ((rc = cu_merkle_root(cu_lg_node, nodes, n, &sroot)))
        goto fail;
    if (!cu_ct_equal(mroot.b, sroot.b, CU_HASH_LEN)) {
        rc = cu_err_set(CU_ERR_CORRUPT, "the root recomputed from the stored tiles differs from the log's root");
        goto fail;
    }
    /* the previous checkpoint, as it is on disk, must be a prefix */
    fatal = false;
    if ((rc = cu_lg_read_checkpoint(l->dir, l->verifier, &prev, NULL, NULL)))
        goto fail;
    if (strcmp(prev.origin, l->origin) != 0) {
        rc = cu_err_set(CU_ERR_VERIFY, "previous checkpoint has origin \"%s\", the log \"%s\"", prev.origin, l->origin);
        goto fail;
    }
    if (prev.size > n) {
        rc = cu_err_set(CU_ERR_VERIFY, "previous checkpoint covers %llu entries, the log has %llu: not signing",
                        (unsigned long long)prev.size, (unsigned long long)n);
        goto fail;
    }
    if (prev.size == 0 || prev.size == n) {
        cu_hash want;
        if (prev.size == 0)
            cu_merkle_empty_root(&want);
        else
            want = sroot;
        if (!cu_ct_equal(prev.root.b, want.b, CU_HASH_LEN)) {
            rc = cu_err_set(CU_ERR_VERIFY, "previous checkpoint (size %llu) has a different root: not signing",
                            (unsigned long long)prev.size);
            goto fail;
        }
    } else {
        if ((rc = cu_merkle_prove_consistency(cu_lg_node, nodes, prev.size, n, proof, &plen))) {
            fatal = true;
            goto fail;
        }
        if ((rc = cu_merkle_verify_consistency(prev.size, n, proof, plen, &prev.root, &sroot))) {
            rc = cu_err_set(CU_ERR_VERIFY, "previous checkpoint (size %llu) is not consistent with the log: not signing",
                            (unsigned long long)prev.size);
            goto fail;
        }
    }
    fatal = true;
    /* nothing below the new base needs the journal any more */
    if ((rc = journal_rewrite(l, true)))
        goto fail;
    memset(&cp, 0, sizeof cp);
    snprintf(cp.origin, sizeof cp.origin, "%s", l->origin);
    cp.size = n;
    cp.root = sroot;
    if ((rc = cu_checkpoint_format(&cp, &text, &tlen)) || (rc = cu_note_sign(text, tlen, l->signer, &note, &nlen)) ||
        (rc = cu_lg_archive_checkpoint(l->dir, n, note, nlen)) || (rc = pathf(cpath, "%s/checkpoint", l->dir)) || (rc = pathf(tmp, "%s/tmp/checkpoint", l->priv)) ||
        (rc = cu_lg_write_file(tmp, cpath, note, nlen, 0644, true)) || (rc = cu_lg_sync_dir(l->dir)))
        goto fail;
    l->last_cp = cp;
    if (out)
        *out = cp;
    /* The partial tiles of the previous checkpoint whose full tile now
     * exists (committed and durable) are no longer needed; earlier
     * checkpoints' partials went at earlier publishes.  Best effort. */
    for (int L = -1; L < CU_LG_LEVELS; L++) {
        unsigned sh = L < 0 ? 0 : 8 * (unsigned)L;
        uint64_t t = (prev.size >> sh) >> 8;
        if (((prev.size >> sh) & 255) && ((n >> sh) >> 8) > t)
            remove_partials(l, L, t);
    }
    cu_free(text);
    cu_free(note);
    cu_free(nodes);
    return CU_OK;
fail:
    if (fatal && rc != CU_ERR_NOMEM)
        fail_closed(l, rc);
    cu_free(text);
    cu_free(note);
    cu_free(nodes);
    return rc;
}

/* ============================================================= committer */

/* Completion: the caller waits on r->done with a futex of its own, so one
 * commit wakes exactly the requests it finished (no broadcast to every
 * waiting thread).  After the store the caller may return at once; a wake
 * that then lands on its reused stack is a spurious wake-up, which every
 * futex user re-checks for. */
static void req_wake(req *r)
{
    if (r->cb) {
        /* asynchronous: the request lives in the caller's cu_ledger_pending,
         * which the callback may reuse or free, so r is not touched after */
        r->cb(r->cb_ud, r->rc, r->rc ? 0 : r->first, r->rc ? r->detail : "");
        return;
    }
    atomic_store_explicit(&r->done, 1, memory_order_release);
    syscall(SYS_futex, (int *)&r->done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void req_wait(req *r)
{
    while (!atomic_load_explicit(&r->done, memory_order_acquire))
        syscall(SYS_futex, (int *)&r->done, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

static void finish(req *r, cu_rc rc)
{
    r->rc = rc;
    if (rc)
        snprintf(r->detail, sizeof r->detail, "%s", cu_err_detail());
    req_wake(r);
}

/* Wait until every built batch is committed and every tile written
 * (builder only: it is not building, so nothing new arrives meanwhile). */
static void drain(cu_ledger *l)
{
    pthread_mutex_lock(&l->pmu);
    l->draining = true;
    pthread_cond_signal(&l->pwork); /* a gathering syncer stops waiting for the builder */
    while (l->bt[l->cur].nslots || l->syncing)
        pthread_cond_wait(&l->pdone, &l->pmu);
    l->draining = false;
    pthread_mutex_unlock(&l->pmu);
    tiles_drain(l);
}

/* Extend the journal with zeros (written and fsync'd) ahead of its
 * records, so that a commit overwrites allocated, initialised blocks and
 * its fdatasync need not write the inode too (measured: about half the
 * latency on ext4).  Recovery takes zeros after the last record for this
 * preallocation.  A failure fails the log closed, told to the next call
 * (nobody waits on this).  Syncer only, between batches. */
static void journal_extend(cu_ledger *l, int fd)
{
    static const uint8_t zeros[1u << 20];
    /* never below jend: zeros must not touch a record */
    off_t at = l->jalloc > l->jend ? l->jalloc : l->jend, end = l->jend + JGROW;
    cu_rc rc = CU_OK;
    for (off_t o = at; o < end && !rc; o += (off_t)sizeof zeros) {
        size_t n = end - o < (off_t)sizeof zeros ? (size_t)(end - o) : sizeof zeros;
        rc = cu_lg_write_all(fd, zeros, n, o, "journal");
    }
    if (!rc)
        rc = cu_lg_sync(fd, false, "journal");
    if (rc) {
        atomic_store(&l->report_pending, 1);
        fail_closed(l, rc);
        return;
    }
    pthread_mutex_lock(&l->pmu);
    l->jalloc = end;
    pthread_mutex_unlock(&l->pmu);
}

/* End of a flush or gather (syncer, under pmu, which it lets go of
 * briefly): wake the builder, which waits either for the flush to end or,
 * with an empty queue, for an append.  Appenders do not wake it while a
 * flush is in flight (enqueue), so this is its one wake-up per commit.
 * enqueue reads flushing under qmu and this signals under qmu after
 * clearing it, so an append is never left unbuilt: either the appender saw
 * the flag clear and signalled, or this signal comes after its append. */
static void flush_over(cu_ledger *l)
{
    atomic_store(&l->flushing, false);
    pthread_cond_broadcast(&l->pdone);
    pthread_mutex_unlock(&l->pmu);
    pthread_mutex_lock(&l->qmu);
    pthread_cond_signal(&l->qwork);
    pthread_mutex_unlock(&l->qmu);
    pthread_mutex_lock(&l->pmu);
}

/* Let appends gather in the queue until the commit period since the
 * previous commit's start is over, then have the builder build them into
 * the open batch (syncer, under pmu, when the previous batch acknowledged
 * more than one request).  Committing at once made a batch of whatever
 * arrived during one fdatasync: on a disk whose fdatasync takes 0.1-0.2 ms,
 * 40 HTTP connections gave 6-10 entries a commit (docs/ledger.md,
 * Performance).  A slow disk is not waited on twice: once its fdatasync
 * took the period, the next batch goes at once. */
static void gather(cu_ledger *l, uint64_t last_start)
{
    uint64_t until = last_start + l->period_ns;
    if (cu_mono_ns() >= until || l->bt[l->cur].j.len >= GATHER_BYTES)
        return;
    struct timespec ts = {.tv_sec = (time_t)(until / 1000000000u), .tv_nsec = (long)(until % 1000000000u)};
    l->flushing = true;
    while (!l->pstop && pthread_cond_timedwait(&l->pwork, &l->pmu, &ts) != ETIMEDOUT)
        ;
    flush_over(l);
    /* the appends queued by now go into this batch (unless it fills up) */
    uint64_t want = atomic_load(&l->enq_entries);
    while ((l->building || atomic_load(&l->taken_entries) < want) && !l->pstop && !l->draining &&
           l->bt[l->cur].nslots < BATCH_SLOTS && l->bt[l->cur].j.len < GROUP_BYTES_MAX)
        pthread_cond_wait(&l->pwork, &l->pmu);
}

/* The syncer: commit the open batch whenever the builder is between
 * groups, one pwrite + one fdatasync for all its records, then acknowledge
 * (invariant 1). */
static void *syncer(void *arg)
{
    cu_ledger *l = arg;
    pthread_setname_np(pthread_self(), "cu-lg-sync"); /* per-thread CPU in profiles and benchmarks */
    char detail[512];
    size_t acked = 0;
    uint64_t last_start = 0; /* when the previous commit began (cu_mono_ns) */
    pthread_mutex_lock(&l->pmu);
    for (;;) {
        while ((l->building || !l->bt[l->cur].nslots) && !(l->pstop && !l->building && !l->bt[l->cur].nslots))
            pthread_cond_wait(&l->pwork, &l->pmu);
        if (!l->bt[l->cur].nslots)
            break;
        if (l->group_wait_us && acked > l->bt[l->cur].nslots && !l->pstop) {
            /* Optional: wait (a little) for the callers just acknowledged,
             * so that the batch holds every append in flight.  Off by
             * default: measured, it loses to committing at once, because
             * batches that alternate overlap the callers' round trips with
             * the fdatasync (docs/ledger.md, Performance). */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += (long)l->group_wait_us * 1000;
            while (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            while ((l->building || acked > l->bt[l->cur].nslots) && !l->pstop)
                if (pthread_cond_timedwait(&l->pwork, &l->pmu, &ts) == ETIMEDOUT)
                    break;
            while (l->building)
                pthread_cond_wait(&l->pwork, &l->pmu);
        }
        if (l->period_ns && acked > 1 && !l->pstop)
            gather(l, last_start);
        last_start = cu_mono_ns();
        batch *b = &l->bt[l->cur];
        l->cur ^= 1;
        l->syncing = true;
        /* small batches only: bulk appends (a 65536-entry group is ~9 MiB)
         * keep building the next group during the fdatasync, which is
         * then as long as the build, and have no wake-ups to save */
        l->flushing = b->j.len < GATHER_BYTES;
        int fd = l->jfd;
        off_t at = l->jend;
        pthread_mutex_unlock(&l->pmu);

        const cu_ledger_io *io = cu_ledger_io_get();
        cu_rc rc = CU_OK;
        detail[0] = '\0';
        if (atomic_load(&l->failed)) {
            /* built before the builder saw the failure: not written */
            rc = check_healthy_report(l);
        } else if (b->j.len) {
            if ((rc = cu_lg_write_all(fd, b->j.data, b->j.len, at, "journal")) ||
                (rc = cu_lg_sync(fd, true, "journal"))) {
                fail_closed(l, rc);
                /* best effort: take the records back so a reopen does not find them */
                if (io->ftruncate(fd, at) == 0)
                    (void)io->fdatasync(fd);
            }
        }
        if (rc)
            snprintf(detail, sizeof detail, "%s", cu_err_detail());
        pthread_mutex_lock(&l->pmu);
        /* the builder may build the next batch while this one's callers are told */
        flush_over(l);
        if (!rc && b->j.len) {
            l->jend = at + (off_t)b->j.len;
            if (l->jalloc < l->jend)
                l->jalloc = l->jend; /* the batch did not fit: it extended the file */
            atomic_store(&l->committed, b->end);
            atomic_fetch_add(&l->syncs, 1);
        }
        pthread_mutex_unlock(&l->pmu);
        for (size_t s = 0; s < b->nslots; s++) {
            slot *sl = &b->slots[s];
            req *q = sl->r;
            cu_rc e = sl->rc ? sl->rc : rc;
            if (e) {
                if (!q->rc) {
                    q->rc = e;
                    snprintf(q->detail, sizeof q->detail, "%s", sl->rc ? l->faildetail : detail);
                }
            } else if (!q->first_set) {
                q->first = sl->first;
                q->first_set = true;
            }
            q->acct += sl->k;
            if (q->acct == q->n)
                req_wake(q);
        }
        acked = b->nslots;
        /* zeros ahead only after a batch smaller than they are: one that
         * outgrew them (bulk appends: a 65536-entry group is ~9 MiB) is
         * followed by more of its kind, which would overwrite the zeros
         * and extend the file all the same, so they would only double the
         * journal's writes and add an fsync to every commit */
        bool extend = b->j.len < (size_t)JGROW;
        cu_buf_reset(&b->j);
        b->nslots = 0;
        if (!rc && extend && !atomic_load(&l->failed) && l->jalloc - l->jend < JSLACK)
            journal_extend(l, fd);
        pthread_mutex_lock(&l->pmu);
        l->syncing = false;
        pthread_cond_broadcast(&l->pdone);
    }
    pthread_mutex_unlock(&l->pmu);
    return NULL;
}

/* The builder: publish requests in queue order (after a drain), appends
 * in groups built into the open batch. */
static void *committer(void *arg)
{
    cu_ledger *l = arg;
    pthread_setname_np(pthread_self(), "cu-lg-build"); /* per-thread CPU in profiles and benchmarks */
    for (;;) {
        /* while a commit is in flight the appends wait in the queue (below,
         * "room"); waiting for its end here rather than for the queue keeps
         * appenders from waking this thread just to make it wait again */
        pthread_mutex_lock(&l->pmu);
        while (l->flushing)
            pthread_cond_wait(&l->pdone, &l->pmu);
        pthread_mutex_unlock(&l->pmu);
        pthread_mutex_lock(&l->qmu);
        while (!l->head && !l->stop)
            pthread_cond_wait(&l->qwork, &l->qmu);
        req *r = l->head;
        if (!r) {
            pthread_mutex_unlock(&l->qmu);
            break;
        }
        if (r->kind == REQ_PUBLISH) {
            l->head = r->next;
            if (!l->head)
                l->tail = NULL;
            pthread_mutex_unlock(&l->qmu);
            drain(l);
            pthread_mutex_lock(&l->smu);
            cu_rc rc = check_healthy_report(l);
            if (!rc)
                rc = do_publish(l, r->cp);
            pthread_mutex_unlock(&l->smu);
            finish(r, rc);
            continue;
        }
        pthread_mutex_unlock(&l->qmu);

        /* room in the open batch (the syncer empties the other one).  And
         * while the syncer writes and syncs a batch, appends wait in the
         * queue, to be built as one group when it is done: building each
         * as it came meant a wake-up of this thread by every appender (a
         * futex wake from each HTTP request, 9% of the server threads'
         * time) and of the syncer by every group, where now there is one
         * of each per commit.  The build is no longer overlapped with the
         * fdatasync, but with the acknowledgements that follow it. */
        pthread_mutex_lock(&l->pmu);
        while (l->bt[l->cur].nslots >= BATCH_SLOTS || l->bt[l->cur].j.len >= GROUP_BYTES_MAX || l->flushing)
            pthread_cond_wait(&l->pdone, &l->pmu);
        l->building = true;
        batch *b = &l->bt[l->cur];
        pthread_mutex_unlock(&l->pmu);

        /* form a group from the appends at the head of the queue; the
         * request offset of each piece is parked in its slot's first */
        size_t s0 = b->nslots, total = 0, bytes = 0;
        pthread_mutex_lock(&l->qmu);
        for (req *q = l->head; q && q->kind == REQ_APPEND && total < l->group_max && bytes < GROUP_BYTES_MAX &&
                               b->nslots < BATCH_SLOTS;
             q = q->next) {
            size_t k = 0;
            while (q->taken + k < q->n && total + k < l->group_max && bytes < GROUP_BYTES_MAX) {
                size_t len;
                (void)req_entry(q, q->taken + k, &len);
                bytes += len + 2;
                k++;
            }
            b->slots[b->nslots++] = (slot){q, k, q->taken, CU_OK};
            q->taken += k;
            total += k;
            atomic_fetch_add(&l->taken_entries, k);
            if (q->taken < q->n)
                break;
        }
        while (l->head && l->head->kind == REQ_APPEND && l->head->taken == l->head->n) {
            l->head = l->head->next;
            if (!l->head)
                l->tail = NULL;
        }
        pthread_mutex_unlock(&l->qmu);

        pthread_mutex_lock(&l->smu);
        cu_rc rc = CU_OK;
        if (!atomic_load(&l->failed) && (rc = build_group(l, b, s0))) {
            fail_closed(l, rc);
            for (size_t s = s0; s < b->nslots; s++)
                b->slots[s].rc = rc;
        }
        pthread_mutex_unlock(&l->smu);
        /* (a failed log adds slots with no record: the syncer fails them) */
        pthread_mutex_lock(&l->pmu);
        l->building = false;
        bool trim = !rc && l->jend + (off_t)b->j.len > (off_t)CU_LG_JOURNAL_TRIM;
        pthread_cond_signal(&l->pwork);
        pthread_mutex_unlock(&l->pmu);
        if (trim) {
            /* a long journal is rewritten once everything in it is durable */
            drain(l);
            pthread_mutex_lock(&l->smu);
            cu_rc trc;
            if (!atomic_load(&l->failed) && (trc = journal_rewrite(l, false))) {
                atomic_store(&l->report_pending, 1);
                fail_closed(l, trc);
            }
            pthread_mutex_unlock(&l->smu);
        }
    }
    return NULL;
}

static cu_rc enqueue(cu_ledger *l, req *r)
{
    cu_rc rc;
    if (l->read_only)
        return cu_err_set(CU_ERR_STATE, "the log is open read-only");
    if ((rc = check_healthy_report(l)))
        return rc;
    pthread_mutex_lock(&l->qmu);
    if (l->stop) {
        pthread_mutex_unlock(&l->qmu);
        return cu_err_set(CU_ERR_STATE, "the log is closing");
    }
    r->next = NULL;
    if (r->kind == REQ_APPEND)
        atomic_fetch_add(&l->enq_entries, r->n);
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    if (!atomic_load(&l->flushing) || r->kind != REQ_APPEND)
        pthread_cond_signal(&l->qwork); /* else the end of the flush wakes the builder (flush_over) */
    pthread_mutex_unlock(&l->qmu);
    return CU_OK;
}

static cu_rc submit(cu_ledger *l, req *r)
{
    cu_rc rc = enqueue(l, r);
    if (rc)
        return rc;
    req_wait(r);
    if (r->rc)
        return cu_err_set(r->rc, "%s", r->detail);
    return CU_OK;
}

cu_rc cu_ledger_append(cu_ledger *l, const void *entry, size_t len, uint64_t *index)
{
    if (len < 1 || len > CU_LEDGER_ENTRY_MAX)
        return cu_err_set(CU_ERR_INVAL, "entry of %zu bytes: entries are 1..%u bytes", len, CU_LEDGER_ENTRY_MAX);
    req r = {.kind = REQ_APPEND, .one = entry, .onelen = len, .n = 1};
    cu_rc rc = submit(l, &r);
    if (!rc && index)
        *index = r.first;
    return rc;
}

cu_rc cu_ledger_append_many(cu_ledger *l, const void *const *entries, const size_t *lens, size_t n,
                            uint64_t *first_index)
{
    for (size_t i = 0; i < n; i++)
        if (lens[i] < 1 || lens[i] > CU_LEDGER_ENTRY_MAX)
            return cu_err_set(CU_ERR_INVAL, "entry %zu of %zu bytes: entries are 1..%u bytes", i, lens[i],
                              CU_LEDGER_ENTRY_MAX);
    if (n == 0) {
        if (first_index)
            *first_index = cu_ledger_size(l);
        return CU_OK;
    }
    req r = {.kind = REQ_APPEND, .entries = entries, .lens = lens, .n = n};
    cu_rc rc = submit(l, &r);
    if (!rc && first_index)
        *first_index = r.first;
    return rc;
}

_Static_assert(sizeof(req) <= sizeof(cu_ledger_pending), "cu_ledger_pending too small for a request");
_Static_assert(_Alignof(req) <= _Alignof(cu_ledger_pending), "cu_ledger_pending under-aligned");

cu_rc cu_ledger_append_async(cu_ledger *l, cu_ledger_pending *p, const void *const *entries, const size_t *lens,
                             size_t n, cu_ledger_done_fn done, void *ud)
{
    if (!done || n == 0)
        return cu_err_set(CU_ERR_INVAL, "an asynchronous append needs entries and a completion");
    for (size_t i = 0; i < n; i++)
        if (lens[i] < 1 || lens[i] > CU_LEDGER_ENTRY_MAX)
            return cu_err_set(CU_ERR_INVAL, "entry %zu of %zu bytes: entries are 1..%u bytes", i, lens[i],
                              CU_LEDGER_ENTRY_MAX);
    req *r = (req *)(void *)p->opaque_;
    memset(r, 0, sizeof *r);
    r->kind = REQ_APPEND;
    r->n = n;
    if (n == 1) {
        /* one entry: the caller's array need not outlive the call */
        r->one = entries[0];
        r->onelen = lens[0];
    } else {
        r->entries = entries;
        r->lens = lens;
    }
    r->cb = done;
    r->cb_ud = ud;
    return enqueue(l, r);
}

cu_rc cu_ledger_publish(cu_ledger *l, cu_checkpoint *out)
{
    req r = {.kind = REQ_PUBLISH, .cp = out};
    return submit(l, &r);
}

/* ================================================================ readers */

uint64_t cu_ledger_size(cu_ledger *l) { return atomic_load(&l->committed); }
const uint8_t *cu_ledger_commit_secret(const cu_ledger *l) { return l->secret; }
const char *cu_ledger_origin(const cu_ledger *l) { return l->origin; }
uint64_t cu_ledger_published_size(const cu_ledger *l) { return l->last_cp.size; }
uint64_t cu_ledger_groups_committed(const cu_ledger *l) { return atomic_load(&((cu_ledger *)l)->syncs); }

cu_rc cu_ledger_read_entry(cu_ledger *l, uint64_t index, cu_buf *out)
{
    cu_rc rc;
    char *data = NULL;
    size_t len = 0, off = 0;
    const uint8_t *ent = NULL, *base;
    size_t elen = 0;
    if ((rc = check_healthy(l)))
        return rc;
    pthread_mutex_lock(&l->smu);
    uint64_t n = atomic_load(&l->committed);
    if (index >= n) {
        rc = cu_err_set(CU_ERR_RANGE, "entry %llu: the log has %llu entries", (unsigned long long)index,
                        (unsigned long long)n);
        goto out;
    }
    uint64_t b = index >> 8;
    if (b == (l->edge->n >> 8)) {
        base = l->bundle;
        len = l->bundle_len;
    } else {
        tiles_drain(l); /* the bundle may still be with the tile writer */
        if ((rc = cu_lg_read_tile(l->dir, -1, b, CU_TILE_WIDTH, CU_LG_BUNDLE_MAX, &data, &len))) {
            rc = cu_err_set(rc == CU_ERR_NOTFOUND ? CU_ERR_CORRUPT : rc, "entry bundle %llu: %s",
                            (unsigned long long)b, cu_err_detail());
            goto out;
        }
        base = (const uint8_t *)data;
    }
    for (unsigned i = 0; i <= (unsigned)(index & 255); i++)
        if ((rc = cu_tile_bundle_next(base, len, &off, &ent, &elen))) {
            rc = cu_err_set(CU_ERR_CORRUPT, "entry bundle %llu is short", (unsigned long long)b);
            goto out;
        }
    rc = cu_buf_append(out, ent, elen);
out:
    pthread_mutex_unlock(&l->smu);
    cu_free(data);
    return rc;
}

cu_rc cu_ledger_read_range(cu_ledger *l, uint64_t first, uint64_t n, cu_ledger_entry_fn fn, void *ud)
{
    cu_rc rc = CU_OK;
    char *data = NULL;
    uint64_t end = first + n;
    if (end < first || end > atomic_load(&l->committed))
        return cu_err_set(CU_ERR_RANGE, "entries %llu + %llu: the log has %llu entries", (unsigned long long)first,
                          (unsigned long long)n, (unsigned long long)atomic_load(&l->committed));
    for (uint64_t b = first >> 8; !rc && n && b <= (end - 1) >> 8; b++) {
        size_t len = 0, off = 0;
        if ((rc = check_healthy(l)))
            break;
        /* one bundle: read (or copied, the one being filled) under the lock, walked without it */
        pthread_mutex_lock(&l->smu);
        uint64_t committed = atomic_load(&l->committed);
        if (end > committed) {
            pthread_mutex_unlock(&l->smu);
            rc = cu_err_set(CU_ERR_RANGE, "entry %llu: the log has %llu entries", (unsigned long long)end - 1,
                            (unsigned long long)committed);
            break;
        }
        if (b == (l->edge->n >> 8)) {
            len = l->bundle_len;
            if (!(data = cu_malloc(len ? len : 1)))
                rc = CU_ERR_NOMEM;
            else
                memcpy(data, l->bundle, len);
        } else {
            tiles_drain(l);
            if ((rc = cu_lg_read_tile(l->dir, -1, b, CU_TILE_WIDTH, CU_LG_BUNDLE_MAX, &data, &len)))
                rc = cu_err_set(rc == CU_ERR_NOTFOUND ? CU_ERR_CORRUPT : rc, "entry bundle %llu: %s",
                                (unsigned long long)b, cu_err_detail());
        }
        pthread_mutex_unlock(&l->smu);
        for (uint64_t i = b << 8; !rc && i < ((b + 1) << 8) && i < end; i++) {
            const uint8_t *ent = NULL;
            size_t elen = 0;
            if (cu_tile_bundle_next((const uint8_t *)data, len, &off, &ent, &elen)) {
                rc = cu_err_set(CU_ERR_CORRUPT, "entry bundle %llu is short", (unsigned long long)b);
                break;
            }
            if (i >= first)
                rc = fn(ud, i, ent, elen);
        }
        cu_free(data);
        data = NULL;
    }
    return rc;
}

static cu_rc with_nodes(cu_ledger *l, uint64_t size, cu_lg_nodes **out)
{
    cu_rc rc;
    if ((rc = check_healthy(l)))
        return rc;
    if (size > atomic_load(&l->committed))
        return cu_err_set(CU_ERR_RANGE, "size %llu: the log has %llu entries", (unsigned long long)size,
                          (unsigned long long)atomic_load(&l->committed));
    if (!(*out = cu_malloc(sizeof **out)))
        return CU_ERR_NOMEM;
    tiles_drain(l); /* full tiles are read from their files */
    cu_lg_nodes_init(*out, l->dir, size, l->edge);
    return CU_OK;
}

cu_rc cu_ledger_prove_inclusion(cu_ledger *l, uint64_t index, uint64_t size, cu_hash *proof, size_t *proof_len)
{
    cu_lg_nodes *s = NULL;
    pthread_mutex_lock(&l->smu);
    cu_rc rc = with_nodes(l, size, &s);
    if (!rc && index >= size)
        rc = cu_err_set(CU_ERR_RANGE, "index %llu is not below size %llu", (unsigned long long)index,
                        (unsigned long long)size);
    if (!rc)
        rc = cu_merkle_prove_inclusion(cu_lg_node, s, index, size, proof, proof_len);
    pthread_mutex_unlock(&l->smu);
    cu_free(s);
    return rc;
}

cu_rc cu_ledger_prove_consistency(cu_ledger *l, uint64_t size1, uint64_t size2, cu_hash *proof, size_t *proof_len)
{
    cu_lg_nodes *s = NULL;
    pthread_mutex_lock(&l->smu);
    cu_rc rc = with_nodes(l, size2, &s);
    if (!rc && (size1 == 0 || size1 > size2))
        rc = cu_err_set(CU_ERR_RANGE, "consistency needs 0 < size1 <= size2 (%llu, %llu)", (unsigned long long)size1,
                        (unsigned long long)size2);
    if (!rc)
        rc = cu_merkle_prove_consistency(cu_lg_node, s, size1, size2, proof, proof_len);
    pthread_mutex_unlock(&l->smu);
    cu_free(s);
    return rc;
}

cu_rc cu_ledger_root(cu_ledger *l, uint64_t size, cu_hash *out)
{
    cu_lg_nodes *s = NULL;
    pthread_mutex_lock(&l->smu);
    cu_rc rc = with_nodes(l, size, &s);
    if (!rc) {
        if (size == 0)
            cu_merkle_empty_root(out);
        else
            rc = cu_merkle_root(cu_lg_node, s, size, out);
    }
    pthread_mutex_unlock(&l->smu);
    cu_free(s);
    return rc;
}

/* ============================================================ open / init */

static cu_rc read_checkpoint_unverified(const char *dir, cu_checkpoint *cp)
{
    char path[PATH_MAX_], *note = NULL;
    size_t len = 0;
    cu_rc rc;
    if ((rc = pathf(path, "%s/checkpoint", dir)) || (rc = cu_file_read(path, CU_NOTE_MAX, &note, &len)))
        return cu_err_set(rc, "checkpoint: %s", cu_err_detail());
    const char *sep = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            sep = note + i + 1;
            break;
        }
    if (!sep)
        rc = cu_err_set(CU_ERR_PARSE, "checkpoint: not a signed note");
    else if ((rc = cu_checkpoint_parse(note, (size_t)(sep - note), cp)))
        rc = cu_err_set(rc, "checkpoint: %s", cu_err_detail());
    cu_free(note);
    return rc;
}

/* Delete tiles at or beyond the committed size (written by a group whose
 * record never became durable: invariant 2). */
static cu_rc delete_beyond(cu_ledger *l, uint64_t n)
{
    for (int L = -1; L < CU_LG_LEVELS; L++) {
        unsigned sh = L < 0 ? 0 : 8 * (unsigned)L;
        for (uint64_t t = (n >> sh) >> 8;; t++) {
            char rel[CU_TILE_PATH_MAX], path[PATH_MAX_];
            cu_rc rc;
            if ((rc = cu_tile_path(L, t, CU_TILE_WIDTH, rel, sizeof rel)) ||
                (rc = pathf(path, "%s/%s", l->dir, rel)))
                return rc;
            if (!exists(path))
                break;
            if (unlink(path) != 0)
                return cu_lg_errno(errno, "unlink", path);
            cu_log(CU_LOG_WARN, "ledger %s: removed %s beyond the committed size", l->dir, rel);
        }
    }
    return CU_OK;
}

/* Recovery (invariants 2 and 3): validate the journal's records on a copy
 * of the edge, cut the torn tail, then replay the valid ones writing tiles. */
static cu_rc recover(cu_ledger *l)
{
    const cu_ledger_io *io = cu_ledger_io_get();
    char jpath[PATH_MAX_], *j = NULL;
    size_t jlen = 0, off, good;
    cu_lg_edge *scratch = NULL;
    uint8_t digest[CU_SHA256_LEN];
    cu_rc rc;
    if ((rc = pathf(jpath, "%s/journal", l->priv)))
        return rc;
    if ((rc = cu_file_read(jpath, JOURNAL_READ_MAX, &j, &jlen)))
        return cu_err_set(rc, "journal: %s", cu_err_detail());
    if (jlen < 16 + CU_SHA256_LEN || memcmp(j, JMAGIC, 8) != 0) {
        rc = cu_err_set(CU_ERR_CORRUPT, "journal: bad header");
        goto out;
    }
    uint64_t base = cu_get_be64((const uint8_t *)j + 8);
    if (base % CU_TILE_WIDTH) {
        rc = cu_err_set(CU_ERR_CORRUPT, "journal: base %llu is not a multiple of 256", (unsigned long long)base);
        goto out;
    }
    size_t nh = 0;
    for (unsigned L = 1; L < CU_LG_LEVELS; L++)
        nh += (size_t)((base >> (8 * L)) & 255);
    size_t hlen = 16 + nh * CU_HASH_LEN;
    if (jlen < hlen + CU_SHA256_LEN) {
        rc = cu_err_set(CU_ERR_CORRUPT, "journal: header cut short");
        goto out;
    }
    if ((rc = cu_sha256(j, hlen, NULL, 0, NULL, 0, digest)))
        goto out;
    if (memcmp(digest, j + hlen, CU_SHA256_LEN) != 0) {
        rc = cu_err_set(CU_ERR_CORRUPT, "journal: header checksum does not match");
        goto out;
    }
    size_t used;
    if ((rc = cu_lg_edge_load(l->edge, base, (const cu_hash *)(const void *)(j + 16), nh, &used)))
        goto out;
    if (!(scratch = cu_malloc(sizeof *scratch))) {
        rc = CU_ERR_NOMEM;
        goto out;
    }
    memcpy(scratch, l->edge, sizeof *scratch);
    /* pass 1: find the last valid record */
    off = good = hlen + CU_SHA256_LEN;
    while (off + RHDR + CU_HASH_LEN <= jlen) {
        const uint8_t *p = (const uint8_t *)j + off;
        uint32_t count = cu_get_be32(p + 4), plen = cu_get_be32(p + 8);
        uint64_t first = cu_get_be64(p + 12);
        if (memcmp(p, RMAGIC, 4) != 0 || count == 0 || first != scratch->n || plen > jlen - off - RHDR - CU_HASH_LEN)
            break;
        size_t eoff = 0;
        uint32_t i;
        for (i = 0; i < count; i++) {
            const uint8_t *ent;
            size_t elen;
            cu_hash leaf;
            if (cu_tile_bundle_next(p + RHDR, plen, &eoff, &ent, &elen) || elen == 0)
                break;
            if ((rc = cu_merkle_leaf_hash(ent, elen, &leaf)) || (rc = cu_lg_edge_push(scratch, &leaf, NULL, NULL)))
                goto out;
        }
        cu_hash root;
        if (i != count || eoff != plen)
            break;
        if ((rc = cu_lg_edge_root(scratch, &root)))
            goto out;
        if (memcmp(root.b, p + RHDR + plen, CU_HASH_LEN) != 0)
            break;
        off += RHDR + plen + CU_HASH_LEN;
        good = off;
    }
    /* zeros after the last record are the syncer's preallocation, not a tail */
    bool zeros = true;
    for (size_t i = good; i < jlen && zeros; i++)
        zeros = j[i] == 0;
    if (!zeros)
        cu_log(CU_LOG_WARN, "ledger %s: journal torn at byte %zu of %zu; cutting back to %llu entries", l->dir, good,
               jlen, (unsigned long long)scratch->n);
    /* pass 2: replay, rewriting tiles from base on */
    off = hlen + CU_SHA256_LEN;
    while (off < good) {
        const uint8_t *p = (const uint8_t *)j + off;
        uint32_t count = cu_get_be32(p + 4), plen = cu_get_be32(p + 8);
        size_t eoff = 0;
        for (uint32_t i = 0; i < count; i++) {
            const uint8_t *ent;
            size_t elen;
            if ((rc = cu_tile_bundle_next(p + RHDR, plen, &eoff, &ent, &elen)) ||
                (rc = push_entry(l, ent, elen, l->read_only ? PUSH_MEM : PUSH_WRITE)))
                goto out;
        }
        off += RHDR + plen + CU_HASH_LEN;
    }
    if (!l->read_only) {
        int fd = io->open(jpath, O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = cu_lg_errno(errno, "open", jpath);
            goto out;
        }
        l->jfd = fd;
        if (!zeros) {
            if (io->ftruncate(fd, (off_t)good) != 0) {
                rc = cu_lg_errno(errno, "truncate", jpath);
                goto out;
            }
            if ((rc = cu_lg_sync(fd, true, jpath)))
                goto out;
        }
        if ((rc = delete_beyond(l, l->edge->n)))
            goto out;
    }
    l->jend = (off_t)good;
    l->jalloc = zeros ? (off_t)jlen : (off_t)good;
    l->jbase = base;
    atomic_store(&l->committed, l->edge->n);
out:
    cu_free(scratch);
    cu_free(j);
    return rc;
}

cu_rc cu_ledger_read_signer(const char *dir, char **key)
{
    char path[PATH_MAX_];
    size_t len;
    cu_rc rc;
    if ((rc = pathf(path, "%s/private/signer.key", dir)))
        return rc;
    if ((rc = cu_file_read(path, 4096, key, &len)))
        return cu_err_set(rc, "signer key: %s", cu_err_detail());
    return CU_OK;
}

static cu_rc load_signer(cu_ledger *l, const char *text)
{
    cu_rc rc;
    char *vk = NULL;
    if ((rc = cu_note_signer_parse(text, &l->signer)))
        return cu_err_set(rc, "signer key: %s", cu_err_detail());
    if (!(vk = cu_note_signer_verifier_key(l->signer)))
        return CU_ERR_NOMEM;
    rc = cu_note_verifier_parse(vk, &l->verifier);
    cu_free(vk);
    return rc;
}

void cu_ledger_close(cu_ledger *l)
{
    if (!l)
        return;
    if (l->thr_started) {
        cu_thread_stop(&l->qmu, &l->qwork, &l->stop, l->thr);
    }
    /* the builder has gone: the syncer commits what it built, the tile
     * writer writes what it was handed, then they stop */
    if (l->sthr_started) {
        cu_thread_stop(&l->pmu, &l->pwork, &l->pstop, l->sthr);
    }
    if (l->tthr_started) {
        cu_thread_stop(&l->tmu, &l->twork, &l->tstop, l->tthr);
    }
    if (l->jfd >= 0)
        close(l->jfd);
    if (l->lock_fd >= 0)
        close(l->lock_fd); /* releases the flock */
    cu_note_signer_free(l->signer);
    cu_note_verifier_free(l->verifier);
    sodium_memzero(l->secret, sizeof l->secret);
    pthread_mutex_destroy(&l->smu);
    pthread_mutex_destroy(&l->fmu);
    pthread_mutex_destroy(&l->qmu);
    pthread_cond_destroy(&l->qwork);
    pthread_mutex_destroy(&l->pmu);
    pthread_cond_destroy(&l->pwork);
    pthread_cond_destroy(&l->pdone);
    pthread_mutex_destroy(&l->tmu);
    pthread_cond_destroy(&l->twork);
    pthread_cond_destroy(&l->tdone);
    for (int i = 0; i < 2; i++) {
        cu_buf_free(&l->bt[i].j);
        cu_free(l->bt[i].slots);
    }
    for (unsigned i = 0; i < TRING; i++)
        cu_free(l->ring[i].buf);
    cu_free(l->bundle);
    cu_free(l->edge);
    cu_free(l);
}

cu_rc cu_ledger_open(const char *dir, const cu_ledger_opts *opts, cu_ledger **out)
{
    const cu_ledger_io *io = cu_ledger_io_get();
    cu_ledger_opts dflt = {0};
    char path[PATH_MAX_], *sec = NULL;
    size_t slen = 0;
    cu_rc rc;
    if (!opts)
        opts = &dflt;
    *out = NULL;
    cu_ledger *l = cu_calloc(1, sizeof *l);
    if (!l)
        return CU_ERR_NOMEM;
    l->lock_fd = l->jfd = -1;
    pthread_mutex_init(&l->smu, NULL);
    pthread_mutex_init(&l->fmu, NULL);
    pthread_mutex_init(&l->qmu, NULL);
    pthread_cond_init(&l->qwork, NULL);
    pthread_mutex_init(&l->pmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->pwork, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&l->pdone, NULL);
    pthread_mutex_init(&l->tmu, NULL);
    pthread_cond_init(&l->twork, NULL);
    pthread_cond_init(&l->tdone, NULL);
    for (int i = 0; i < 2; i++)
        cu_buf_init(&l->bt[i].j, BATCH_BYTES);
    l->read_only = opts->read_only;
    l->group_max = opts->group_max ? opts->group_max : 65536;
    l->group_wait_us = opts->group_wait_us;
    l->period_ns = (uint64_t)(opts->commit_period_us ? opts->commit_period_us : CU_LEDGER_COMMIT_PERIOD_US) * 1000u;
    if (opts->commit_period_us == 1)
        l->period_ns = 0;
    if ((rc = pathf(l->dir, "%s", dir)) || (rc = pathf(l->priv, "%s/private", dir)))
        goto fail;
    if (!exists(l->priv)) {
        rc = cu_err_set(CU_ERR_NOTFOUND, "%s: not a ledger directory (no private/)", dir);
        goto fail;
    }
    if (!(l->edge = cu_malloc(sizeof *l->edge)) ||
        (!l->read_only && (!(l->bt[0].slots = cu_calloc(BATCH_SLOTS, sizeof(slot))) ||
                           !(l->bt[1].slots = cu_calloc(BATCH_SLOTS, sizeof(slot)))))) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    cu_lg_edge_reset(l->edge);
    if (!l->read_only) {
        if ((rc = pathf(path, "%s/lock", l->priv)))
            goto fail;
        l->lock_fd = io->open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (l->lock_fd < 0) {
            rc = cu_lg_errno(errno, "open", path);
            goto fail;
        }
        if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            rc = errno == EWOULDBLOCK ? cu_err_set(CU_ERR_LOCKED, "%s: another writer has the log open", dir)
                                      : cu_lg_errno(errno, "lock", path);
            goto fail;
        }
    }
    if ((rc = pathf(path, "%s/secret", l->priv)) || (rc = cu_file_read(path, 64, &sec, &slen)))
        goto fail;
    if (slen != CU_LEDGER_SECRET_LEN) {
        rc = cu_err_set(CU_ERR_CORRUPT, "%s: %zu bytes, want %d", path, slen, CU_LEDGER_SECRET_LEN);
        goto fail;
    }
    memcpy(l->secret, sec, slen);
    if (opts->signer_key) {
        if ((rc = load_signer(l, opts->signer_key)))
            goto fail;
        if ((rc = cu_lg_read_checkpoint(dir, l->verifier, &l->last_cp, NULL, NULL)))
            goto fail;
    } else if ((rc = read_checkpoint_unverified(dir, &l->last_cp))) {
        goto fail;
    }
    snprintf(l->origin, sizeof l->origin, "%s", l->last_cp.origin);
    if ((rc = recover(l)))
        goto fail;
    if (l->last_cp.size > l->edge->n) {
        rc = cu_err_set(CU_ERR_CORRUPT, "the checkpoint covers %llu entries but the log holds %llu",
                        (unsigned long long)l->last_cp.size, (unsigned long long)l->edge->n);
        goto fail;
    }
    if (!l->read_only) {
        if (pthread_create(&l->tthr, NULL, tile_writer, l) != 0) {
            rc = cu_err_set(CU_ERR_INTERNAL, "cannot start the tile writer thread");
            goto fail;
        }
        l->tthr_started = true;
        if (pthread_create(&l->sthr, NULL, syncer, l) != 0) {
            rc = cu_err_set(CU_ERR_INTERNAL, "cannot start the syncer thread");
            goto fail;
        }
        l->sthr_started = true;
        if (pthread_create(&l->thr, NULL, committer, l) != 0) {
            rc = cu_err_set(CU_ERR_INTERNAL, "cannot start the committer thread");
            goto fail;
        }
        l->thr_started = true;
    }
    if (sec)
        sodium_memzero(sec, slen);
    cu_free(sec);
    *out = l;
    return CU_OK;
fail:
    if (sec)
        sodium_memzero(sec, slen);
    cu_free(sec);
    cu_ledger_close(l);
    return rc;
}

/* ------------------------------------------------------------------ init */

static void rm_created(const char *dir, bool made_dir)
{
    static const char *const files[] = {"checkpoint",        "private/tmp/checkpoint", "private/tmp/journal",
                                        "private/tmp/secret", "private/tmp/key",        "private/journal",
                                        "private/secret",     "private/signer.key",     "private/lock"};
    static const char *const dirs[] = {"private/tmp", "private", "tile"};
    char p[PATH_MAX_];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (!pathf(p, "%s/%s", dir, files[i]))
            unlink(p);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (!pathf(p, "%s/%s", dir, dirs[i]))
            rmdir(p);
    if (made_dir)
        rmdir(dir);
}

cu_rc cu_ledger_init(const char *dir, const char *origin, const char *signer_key)
{
    const cu_ledger_io *io = cu_ledger_io_get();
    cu_ledger *l = NULL;
    char p[PATH_MAX_], tmp[PATH_MAX_], *text = NULL, *note = NULL;
    size_t tlen = 0, nlen = 0;
    uint8_t secret[CU_LEDGER_SECRET_LEN];
    bool made_dir = false, created = false;
    cu_buf b;
    cu_rc rc;
    cu_checkpoint cp;
    cu_buf_init(&b, 1024);
    memset(&cp, 0, sizeof cp);
    if (!origin || strlen(origin) == 0 || strlen(origin) >= sizeof cp.origin)
        return cu_err_set(CU_ERR_INVAL, "origin must be 1..255 bytes");
    snprintf(cp.origin, sizeof cp.origin, "%s", origin);
    cu_merkle_empty_root(&cp.root);
    if (!(l = cu_calloc(1, sizeof *l)) || !(l->edge = cu_malloc(sizeof *l->edge))) {
        rc = CU_ERR_NOMEM;
        goto fail;
    }
    cu_lg_edge_reset(l->edge);
    l->lock_fd = l->jfd = -1;
    /* check every input before creating anything */
    if ((rc = load_signer(l, signer_key)) || (rc = cu_checkpoint_format(&cp, &text, &tlen)) ||
        (rc = cu_note_sign(text, tlen, l->signer, &note, &nlen)))
        goto fail;
    if ((rc = pathf(l->dir, "%s", dir)) || (rc = pathf(l->priv, "%s/private", dir)))
        goto fail;
    if ((rc = pathf(p, "%s/checkpoint", dir)))
        goto fail;
    if (exists(p) || exists(l->priv)) {
        rc = cu_err_set(CU_ERR_EXISTS, "%s already holds a log", dir);
        goto fail;
    }
    created = true;
    if (io->mkdir(dir, 0755) == 0)
        made_dir = true;
    else if (errno != EEXIST) {
        rc = cu_lg_errno(errno, "mkdir", dir);
        goto fail;
    }
    if (io->mkdir(l->priv, 0700) != 0) {
        rc = cu_lg_errno(errno, "mkdir", l->priv);
        goto fail;
    }
    if ((rc = pathf(p, "%s/tmp", l->priv)))
        goto fail;
    if (io->mkdir(p, 0700) != 0) {
        rc = cu_lg_errno(errno, "mkdir", p);
        goto fail;
    }
    if ((rc = pathf(p, "%s/tile", dir)))
        goto fail;
    if (io->mkdir(p, 0755) != 0 && errno != EEXIST) {
        rc = cu_lg_errno(errno, "mkdir", p);
        goto fail;
    }
    if (RAND_bytes(secret, sizeof secret) != 1) {
        rc = cu_err_set(CU_ERR_CRYPTO, "no random bytes for the commitment secret");
        goto fail;
    }
    if ((rc = pathf(p, "%s/secret", l->priv)) || (rc = pathf(tmp, "%s/tmp/secret", l->priv)) ||
        (rc = cu_lg_write_file(tmp, p, secret, sizeof secret, 0600, true)))
        goto fail;
    if ((rc = pathf(p, "%s/signer.key", l->priv)) || (rc = pathf(tmp, "%s/tmp/key", l->priv)) ||
        (rc = cu_lg_write_file(tmp, p, signer_key, strlen(signer_key), 0600, true)))
        goto fail;
    if ((rc = journal_header(l, 0, &b)) || (rc = pathf(p, "%s/journal", l->priv)) ||
        (rc = pathf(tmp, "%s/tmp/journal", l->priv)) || (rc = cu_lg_write_file(tmp, p, b.data, b.len, 0600, true)) ||
        (rc = cu_lg_sync_dir(l->priv)))
        goto fail;
    /* the checkpoint last: its presence marks a complete log */
    if ((rc = pathf(p, "%s/checkpoint", dir)) || (rc = pathf(tmp, "%s/tmp/checkpoint", l->priv)) ||
        (rc = cu_lg_write_file(tmp, p, note, nlen, 0644, true)) || (rc = cu_lg_sync_dir(dir)))
        goto fail;
    sodium_memzero(secret, sizeof secret);
    cu_buf_free(&b);
    cu_free(text);
    cu_free(note);
    cu_note_signer_free(l->signer);
    cu_note_verifier_free(l->verifier);
    cu_free(l->edge);
    cu_free(l);
    return CU_OK;
fail:
    sodium_memzero(secret, sizeof secret);
    if (created) {
        cu_rc keep = rc;
        char detail[1024];
        snprintf(detail, sizeof detail, "%s", cu_err_detail());
        rm_created(dir, made_dir);
        rc = cu_err_set(keep, "%s", detail);
    }
    cu_buf_free(&b);
    cu_free(text);
    cu_free(note);
    if (l) {
        cu_note_signer_free(l->signer);
        cu_note_verifier_free(l->verifier);
        cu_free(l->edge);
        cu_free(l);
    }
    return rc;
}
