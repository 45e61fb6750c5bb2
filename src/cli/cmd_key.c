/* custos key: signed-note key pairs for the ledger (wiring only).
 *   custos key generate NAME [--out PREFIX]
 * writes PREFIX.key (the signer key, mode 0600, created exclusively) and
 * PREFIX.pub (the verifier key); PREFIX defaults to NAME. */
#include "cli.h"

#include "custos/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cu_cmd_key(int argc, char **argv);

static int write_new(const char *path, const char *text, unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "custos: %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    if (close(fd) != 0)
        ok = false;
    if (!ok) {
        fprintf(stderr, "custos: %s: write failed: %s\n", path, strerror(errno));
        unlink(path);
        return 1;
    }
    return 0;
}

int cu_cmd_key(int argc, char **argv)
{
    const char *name = NULL, *prefix = NULL;
    if (argc < 2 || strcmp(argv[1], "generate") != 0) {
        fprintf(stderr, "usage: custos key generate NAME [--out PREFIX]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            prefix = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            fprintf(stderr, "custos key generate: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!name) {
        fprintf(stderr, "usage: custos key generate NAME [--out PREFIX]\n");
        return 2;
    }
    if (!prefix)
        prefix = name;
    char kpath[4096], ppath[4096], *sk = NULL, *vk = NULL;
    if (snprintf(kpath, sizeof kpath, "%s.key", prefix) >= (int)sizeof kpath ||
        snprintf(ppath, sizeof ppath, "%s.pub", prefix) >= (int)sizeof ppath) {
        fprintf(stderr, "custos: key path too long\n");
        return 1;
    }
    if (cu_note_keygen(name, &sk, &vk))
        return cu_cli_fail("key generate");
    int rc = write_new(kpath, sk, 0600);
    if (!rc && (rc = write_new(ppath, vk, 0644)))
        unlink(kpath);
    if (!rc)
        printf("%s\n", vk);
    sodium_memzero(sk, strlen(sk));
    cu_free(sk);
    cu_free(vk);
    return rc;
}
