/*
 * The checkpoint archive: every checkpoint the log publishes is also kept as
 * DIR/checkpoints/<size> (the signed note, byte for byte), public like the
 * tiles.  Evidence bundles prove a later checkpoint consistent with one
 * published earlier; a reader who saw that earlier one (a court, a witness,
 * a newspaper) can then tell the log was not rewritten in between.
 *
 * Invariant: the archive copy is written (atomically) before the checkpoint
 * itself is renamed into place, so every checkpoint ever in DIR/checkpoint
 * is in the archive.  Equal sizes give identical notes (Ed25519 signatures
 * are deterministic), so rewriting one is harmless.
 */
#include "ledger/ledger_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

cu_rc cu_lg_archive_checkpoint(const char *dir, uint64_t size, const char *note, size_t len)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/checkpoints", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return cu_err_set(CU_ERR_TOOBIG, "path too long: %s/checkpoints", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return cu_err_set(cu_rc_from_errno(errno), "mkdir %s", path);
    n = snprintf(path, sizeof path, "%s/checkpoints/%" PRIu64, dir, size);
    if (n < 0 || (size_t)n >= sizeof path)
        return cu_err_set(CU_ERR_TOOBIG, "path too long: %s/checkpoints", dir);
    cu_rc rc = cu_file_write_atomic(path, note, len, 0644);
    if (rc)
        cu_err_prefix("checkpoint archive");
    return rc;
}
