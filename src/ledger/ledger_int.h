/*
 * Private to the durable log (src/ledger/log*.c) and its tests.
 *
 * 1. The I/O layer: every call that changes the disk (open for writing,
 *    write, fsync, rename, truncate, mkdir, syncfs) goes through one table
 *    of function pointers, so that a test can count fsyncs or make the Nth
 *    call fail with ENOSPC or EIO and check that the log fails closed and
 *    recovers.  The table is process-wide; tests that swap it run one log
 *    at a time.
 * 2. The right edge of the tree ("edge"): for each tile level the hashes of
 *    the rightmost, not yet full tile.  Pushing a leaf hash fills level 0;
 *    a full tile is handed to a callback and its 8-level root goes one level
 *    up.  The writer, recovery and the offline verifier all build tiles with
 *    this one code path, so the tiles they write or expect are the same.
 */
#ifndef CUSTOS_LEDGER_INT_H
#define CUSTOS_LEDGER_INT_H

#include "custos/ledger.h"

#include <sys/types.h>

/* ----------------------------------------------------------- the I/O layer */

typedef struct cu_ledger_io {
    int (*open)(const char *path, int flags, unsigned mode);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    int (*fsync)(int fd);     /* files and directories */
    int (*fdatasync)(int fd); /* the journal, once per commit group */
    int (*rename)(const char *from, const char *to);
    int (*ftruncate)(int fd, off_t len);
    int (*mkdir)(const char *path, unsigned mode);
    int (*syncfs)(int fd); /* makes every tile durable before a checkpoint */
} cu_ledger_io;

/* Install a table (NULL: the real system calls).  Returns the previous one. */
const cu_ledger_io *cu_ledger_set_io(const cu_ledger_io *io);
/* The real system calls, for wrappers to call through. */
extern const cu_ledger_io cu_ledger_io_real;
/* The current table. */
const cu_ledger_io *cu_ledger_io_get(void);

/* Helpers over the table: full writes with EINTR handled, errno mapped to
 * cu_rc (ENOSPC/EDQUOT -> CU_ERR_NOSPC, others -> CU_ERR_IO) and the detail
 * naming the operation and the path. */
cu_rc cu_lg_write_all(int fd, const void *p, size_t n, off_t off, const char *what) CU_NODISCARD;
cu_rc cu_lg_sync(int fd, bool data_only, const char *what) CU_NODISCARD;
cu_rc cu_lg_sync_dir(const char *dir) CU_NODISCARD;
/* Write a whole file through tmp (a scratch path on the same file system):
 * open, write, optional fsync, close, rename onto path. */
cu_rc cu_lg_write_file(const char *tmp, const char *path, const void *p, size_t n, unsigned mode,
                       bool sync) CU_NODISCARD;
/* mkdir -p for the directories above a relative path `rel` under root. */
cu_rc cu_lg_mkdirs_for(const char *root, const char *rel) CU_NODISCARD;
/* Map errno after a failed call. */
cu_rc cu_lg_errno(int err, const char *op, const char *what);

/* ------------------------------------------------------------- the edge */

#define CU_LG_LEVELS 8 /* 256^8 = 2^64 leaves */

typedef struct cu_lg_edge {
    uint64_t n;                   /* leaves pushed */
    unsigned cnt[CU_LG_LEVELS];   /* hashes in the rightmost tile of each level */
    cu_hash h[CU_LG_LEVELS][CU_TILE_WIDTH];
    /* the frontier: fr[k], for each bit k set in n, is the root of the
     * perfect subtree of 2^k leaves in n's binary decomposition; pushing a
     * leaf merges like a binary counter (one node hash per leaf, amortised)
     * and a tile's root is the merge value as it passes a multiple of 8. */
    cu_hash fr[64];
} cu_lg_edge;

/* Called for every tile that becomes full: level, tile index, 256 hashes. */
typedef cu_rc (*cu_lg_full_fn)(void *ctx, unsigned level, uint64_t index, const cu_hash *hashes);

void cu_lg_edge_reset(cu_lg_edge *e);
/* Set the edge for size n where n is a multiple of 256: level-0 empty,
 * levels >= 1 from hashes (sum over L>=1 of ((n >> 8L) & 255) hashes, level
 * 1 first).  Returns the number of hashes consumed in *used. */
cu_rc cu_lg_edge_load(cu_lg_edge *e, uint64_t n, const cu_hash *hashes, size_t nhashes, size_t *used) CU_NODISCARD;
/* The hashes of levels >= 1 (what cu_lg_edge_load takes); out holds
 * CU_LG_LEVELS * 255 hashes; returns the count. */
size_t cu_lg_edge_upper(const cu_lg_edge *e, cu_hash *out);
cu_rc cu_lg_edge_push(cu_lg_edge *e, const cu_hash *leaf, cu_lg_full_fn full, void *ctx) CU_NODISCARD;
/* The root of the first e->n leaves (the empty root for 0). */
cu_rc cu_lg_edge_root(const cu_lg_edge *e, cu_hash *out) CU_NODISCARD;
/* The root of k consecutive hashes, k a power of two <= 256 (in place in
 * scratch, which holds k hashes). */
cu_rc cu_lg_perfect_root(const cu_hash *h, unsigned k, cu_hash *scratch, cu_hash *out) CU_NODISCARD;

/* ------------------------------------------------------ a node source */

/* Hashes of complete subtrees for proofs and roots, from the tile files
 * under root (and, when edge is not NULL, from the edge for the rightmost
 * tiles).  Without an edge the rightmost tile of each level is read from
 * its partial file for `size`.  Caches the last tile read per level. */
typedef struct cu_lg_nodes {
    const char *root;      /* the public tree */
    uint64_t size;         /* tree size the nodes are for */
    const cu_lg_edge *edge; /* NULL: files only */
    struct {
        bool valid;
        uint64_t index;
        unsigned width;
        cu_hash h[CU_TILE_WIDTH];
    } cache[CU_LG_LEVELS];
} cu_lg_nodes;

void cu_lg_nodes_init(cu_lg_nodes *s, const char *root, uint64_t size, const cu_lg_edge *edge);
cu_rc cu_lg_node(void *ctx, unsigned level, uint64_t index, cu_hash *out);

/* Read the tile file for (level, index, width) under root (level -1: an
 * entry bundle, up to max bytes).  CU_ERR_NOTFOUND when absent. */
cu_rc cu_lg_read_tile(const char *root, int level, uint64_t index, unsigned width, size_t max, char **data,
                      size_t *len) CU_NODISCARD;

/* Read DIR/checkpoint, check its signature by v, parse it.  *note_out (may
 * be NULL) gets the whole note, freed by the caller. */
cu_rc cu_lg_read_checkpoint(const char *dir, const cu_note_verifier *v, cu_checkpoint *cp, char **note_out,
                            size_t *note_len) CU_NODISCARD;

/* ------------------------------------------------------------ limits */

#define CU_LG_BUNDLE_MAX ((size_t)CU_TILE_WIDTH * (2 + CU_LEDGER_ENTRY_MAX))
/* Rewrite the journal when it grows past this.  Each rewrite first drains
 * the tile writer and syncfs()es the file system, and the builder builds
 * nothing meanwhile, so in a bulk append (custos replay: a 65536-entry
 * group is ~9 MiB of journal) every rewrite stalls the appends: 256 MiB is
 * ~6 rewrites per 10^7 access entries instead of ~22 at 64 MiB.  The price:
 * a log opened after a crash may replay (and hold in memory) this much. */
#define CU_LG_JOURNAL_TRIM (256u << 20)

/* Test hook: number of commit groups written since the process started. */
uint64_t cu_ledger_groups_committed(const cu_ledger *l);

/* Keep a published checkpoint note as DIR/checkpoints/<size> (archive.c). */
cu_rc cu_lg_archive_checkpoint(const char *dir, uint64_t size, const char *note, size_t len) CU_NODISCARD;

#endif
