/* custos ledger: the durable log from the command line (wiring only; the
 * logic is in src/ledger/).  Every failure prints one line and exits 1;
 * bad usage exits 2.  See docs/ledger.md for the formats. */
#include "cli.h"

#include "custos/ledger.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cu_cmd_ledger(int argc, char **argv);

#define INPUT_MAX ((size_t)1 << 30) /* one input file of `append` */
#define CHUNK 4096                  /* entries per append_many call */

static const char usage_text[] =
    "usage: custos ledger COMMAND ...\n"
    "  init DIR --origin ORIGIN --key KEY       create a log (KEY: signer key file or text)\n"
    "  append DIR [--lines] [--progress] FILE... append each file (or each line) as an entry, publish\n"
    "  publish DIR                              recover and sign a checkpoint of every entry\n"
    "  prove DIR --index I [--size N]           print an inclusion proof\n"
    "  consistency DIR --from A --to B          print a consistency proof\n"
    "  cat DIR [--from A] [--to B]              print entries A..B-1, each followed by a newline\n"
    "  verify DIR --pubkey VKEY                 re-derive every tile, check the checkpoint\n"
    "  vkey DIR                                 print the verifier key of the log's signer (DIR/private)\n"
    "  verify-proof --checkpoint FILE --pubkey VKEY --proof FILE\n"
    "               (--entry FILE | --leaf-hash B64 | --old-checkpoint FILE)\n";

static int usage(void)
{
    fputs(usage_text, stderr);
    return 2;
}

static int fail1(const char *fmt, const char *a)
{
    fprintf(stderr, "custos: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    return 1;
}

/* A key given as text (contains '+') that is not an existing file, or a file. */
static cu_rc key_text(const char *arg, char **out)
{
    struct stat st;
    size_t len;
    if (stat(arg, &st) == 0)
        return cu_file_read(arg, 4096, out, &len);
    if (!strchr(arg, '+'))
        return cu_err_set(CU_ERR_NOTFOUND, "%s: no such key file", arg);
    *out = cu_strdup(arg);
    return *out ? CU_OK : CU_ERR_NOMEM;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno)
        return false;
    *out = v;
    return true;
}

static void wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        cu_free(s);
    }
}

static int open_writer(const char *dir, cu_ledger **l)
{
    char *key = NULL;
    if (cu_ledger_read_signer(dir, &key))
        return cu_cli_fail(dir);
    cu_ledger_opts o = {.signer_key = key};
    cu_rc rc = cu_ledger_open(dir, &o, l);
    wipe_free(key);
    if (rc)
        return cu_cli_fail(dir);
    return 0;
}

static int cmd_init(int argc, char **argv)
{
    const char *dir = NULL, *origin = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--origin") == 0 && i + 1 < argc)
            origin = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            return usage();
    }
    if (!dir || !origin || !key)
        return usage();
    char *kt = NULL;
    if (key_text(key, &kt))
        return cu_cli_fail("key");
    cu_rc rc = cu_ledger_init(dir, origin, kt);
    wipe_free(kt);
    if (rc)
        return cu_cli_fail("ledger init");
    printf("initialised %s (origin %s)\n", dir, origin);
    return 0;
}

typedef struct input {
    char **files;
    size_t nfiles;
    const void **ents;
    size_t *lens;
    size_t n, cap;
} input;

static int add_entry(input *in, const void *p, size_t len)
{
    /* the two arrays grow alike; in->cap moves once both have */
    size_t ce = in->cap, cl = in->cap;
    if (cu_grow(&in->ents, &ce, in->n + 1, sizeof *in->ents, 1024, false) ||
        cu_grow(&in->lens, &cl, in->n + 1, sizeof *in->lens, 1024, false))
        return 1;
    in->cap = ce;
    in->ents[in->n] = p;
    in->lens[in->n++] = len;
    return 0;
}

/* Read and check every input before appending anything. */
static int load_inputs(input *in, char **paths, size_t np, bool lines)
{
    for (size_t f = 0; f < np; f++) {
        size_t len;
        if (cu_file_read(paths[f], INPUT_MAX, &in->files[f], &len))
            return cu_cli_fail(paths[f]);
        in->nfiles++;
        const char *d = in->files[f];
        if (!lines) {
            if (len < 1 || len > CU_LEDGER_ENTRY_MAX) {
                fprintf(stderr, "custos: %s: %zu bytes; an entry is 1..%u bytes\n", paths[f], len,
                        CU_LEDGER_ENTRY_MAX);
                return 1;
            }
            if (add_entry(in, d, len))
                return fail1("%s: out of memory", paths[f]);
            continue;
        }
        size_t o = 0, lineno = 0;
        while (o < len) {
            lineno++;
            const char *nl = memchr(d + o, '\n', len - o);
            size_t ll = nl ? (size_t)(nl - (d + o)) : len - o;
            if (ll == 0 || ll > CU_LEDGER_ENTRY_MAX) {
                fprintf(stderr, "custos: %s:%zu: line of %zu bytes; an entry is 1..%u bytes\n", paths[f], lineno, ll,
                        CU_LEDGER_ENTRY_MAX);
                return 1;
            }
            if (add_entry(in, d + o, ll))
                return fail1("%s: out of memory", paths[f]);
            o += ll + (nl ? 1 : 0);
        }
    }
    return 0;
}

static int cmd_append(int argc, char **argv)
{
    const char *dir = NULL;
    bool lines = false, progress = false;
    char **paths = cu_calloc((size_t)argc, sizeof *paths);
    size_t np = 0;
    int ret = 1;
    input in = {0};
    cu_ledger *l = NULL;
    if (!paths)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--lines") == 0)
            lines = true;
        else if (strcmp(argv[i], "--progress") == 0)
            progress = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            cu_free(paths);
            return usage();
        } else if (!dir)
            dir = argv[i];
        else
            paths[np++] = argv[i];
    }
    if (!dir || np == 0) {
        cu_free(paths);
        return usage();
    }
    if (!(in.files = cu_calloc(np, sizeof *in.files)))
        goto out;
    if ((ret = load_inputs(&in, paths, np, lines)))
        goto out;
    ret = 1;
    if (open_writer(dir, &l))
        goto out;
    uint64_t first = cu_ledger_size(l);
    /* with --progress, smaller calls so that acknowledgements come often */
    size_t chunk = progress ? 256 : CHUNK;
    for (size_t o = 0; o < in.n; o += chunk) {
        size_t k = in.n - o < chunk ? in.n - o : chunk;
        uint64_t f;
        if (cu_ledger_append_many(l, in.ents + o, in.lens + o, k, &f)) {
            cu_cli_fail("ledger append");
            goto out;
        }
        if (o == 0)
            first = f;
        if (progress) {
            printf("acked %llu\n", (unsigned long long)(f + k - 1));
            fflush(stdout);
        }
    }
    cu_checkpoint cp;
    if (cu_ledger_publish(l, &cp)) {
        cu_cli_fail("ledger publish");
        goto out;
    }
    if (in.n)
        printf("appended %llu-%llu (%zu entries); checkpoint size %llu\n", (unsigned long long)first,
               (unsigned long long)(first + in.n - 1), in.n, (unsigned long long)cp.size);
    else
        printf("appended nothing; checkpoint size %llu\n", (unsigned long long)cp.size);
    ret = 0;
out:
    cu_ledger_close(l);
    for (size_t i = 0; i < in.nfiles; i++)
        cu_free(in.files[i]);
    cu_free(in.files);
    cu_free(in.ents);
    cu_free(in.lens);
    cu_free(paths);
    return ret;
}

static int cmd_publish(int argc, char **argv)
{
    cu_ledger *l = NULL;
    cu_checkpoint cp;
    if (argc != 2)
        return usage();
    if (open_writer(argv[1], &l))
        return 1;
    if (cu_ledger_publish(l, &cp)) {
        cu_ledger_close(l);
        return cu_cli_fail("ledger publish");
    }
    cu_ledger_close(l);
    printf("checkpoint size %llu\n", (unsigned long long)cp.size);
    return 0;
}

static int open_reader(const char *dir, cu_ledger **l)
{
    cu_ledger_opts o = {.read_only = true};
    if (cu_ledger_open(dir, &o, l))
        return cu_cli_fail(dir);
    return 0;
}

static int cmd_prove(int argc, char **argv, bool inclusion)
{
    const char *dir = NULL, *sa = NULL, *sb = NULL;
    for (int i = 1; i < argc; i++) {
        if (inclusion && strcmp(argv[i], "--index") == 0 && i + 1 < argc)
            sa = argv[++i];
        else if (inclusion && strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            sb = argv[++i];
        else if (!inclusion && strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            sa = argv[++i];
        else if (!inclusion && strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            sb = argv[++i];
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            return usage();
    }
    uint64_t a = 0, b = 0;
    if (!dir || !parse_u64(sa, &a) || (sb && !parse_u64(sb, &b)) || (!inclusion && !sb))
        return usage();
    cu_ledger *l = NULL;
    if (open_reader(dir, &l))
        return 1;
    if (!sb)
        b = cu_ledger_published_size(l);
    cu_hash proof[CU_MERKLE_MAX_PROOF];
    size_t n = 0, tl = 0;
    char *text = NULL;
    cu_rc rc = inclusion ? cu_ledger_prove_inclusion(l, a, b, proof, &n) : cu_ledger_prove_consistency(l, a, b, proof, &n);
    if (!rc)
        rc = cu_ledger_proof_format(inclusion, a, b, proof, n, &text, &tl);
    cu_ledger_close(l);
    if (rc)
        return cu_cli_fail(inclusion ? "ledger prove" : "ledger consistency");
    fwrite(text, 1, tl, stdout);
    cu_free(text);
    return 0;
}

static int cmd_cat(int argc, char **argv)
{
    const char *dir = NULL, *sa = NULL, *sb = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            sa = argv[++i];
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            sb = argv[++i];
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            return usage();
    }
    uint64_t a = 0, b = 0;
    if (!dir || (sa && !parse_u64(sa, &a)) || (sb && !parse_u64(sb, &b)))
        return usage();
    cu_ledger *l = NULL;
    if (open_reader(dir, &l))
        return 1;
    if (!sb)
        b = cu_ledger_size(l);
    cu_buf e;
    cu_buf_init(&e, CU_LEDGER_ENTRY_MAX + 1);
    int ret = 0;
    for (uint64_t i = a; i < b; i++) {
        cu_buf_reset(&e);
        if (cu_ledger_read_entry(l, i, &e)) {
            ret = cu_cli_fail("ledger cat");
            break;
        }
        fwrite(e.data, 1, e.len, stdout);
        fputc('\n', stdout);
    }
    cu_buf_free(&e);
    cu_ledger_close(l);
    return ret;
}

static int load_verifier(const char *arg, cu_note_verifier **v)
{
    char *t = NULL;
    if (key_text(arg, &t))
        return cu_cli_fail("pubkey");
    cu_rc rc = cu_note_verifier_parse(t, v);
    cu_free(t);
    if (rc)
        return cu_cli_fail("pubkey");
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    const char *dir = NULL, *pk = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pubkey") == 0 && i + 1 < argc)
            pk = argv[++i];
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            return usage();
    }
    if (!dir || !pk)
        return usage();
    cu_note_verifier *v = NULL;
    if (load_verifier(pk, &v))
        return 1;
    cu_rc rc = cu_ledger_verify_dir(dir, v);
    cu_note_verifier_free(v);
    if (rc)
        return cu_cli_fail("ledger verify");
    printf("ok: %s verifies\n", dir);
    return 0;
}

static int cmd_verify_proof(int argc, char **argv)
{
    const char *cpf = NULL, *pk = NULL, *pf = NULL, *ef = NULL, *lh = NULL, *ocf = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            return usage();
        if (strcmp(o, "--checkpoint") == 0)
            cpf = val;
        else if (strcmp(o, "--pubkey") == 0)
            pk = val;
        else if (strcmp(o, "--proof") == 0)
            pf = val;
        else if (strcmp(o, "--entry") == 0)
            ef = val;
        else if (strcmp(o, "--leaf-hash") == 0)
            lh = val;
        else if (strcmp(o, "--old-checkpoint") == 0)
            ocf = val;
        else
            return usage();
    }
    if (!cpf || !pk || !pf || ((ef != NULL) + (lh != NULL) + (ocf != NULL)) != 1)
        return usage();
    cu_note_verifier *v = NULL;
    char *cp = NULL, *proof = NULL, *other = NULL;
    size_t cl = 0, pl = 0, ol = 0;
    int ret = 1;
    cu_rc rc;
    if (load_verifier(pk, &v))
        return 1;
    if (cu_file_read(cpf, CU_NOTE_MAX, &cp, &cl)) {
        cu_cli_fail("checkpoint");
        goto out;
    }
    if (cu_file_read(pf, CU_LEDGER_PROOF_MAX, &proof, &pl)) {
        cu_cli_fail("proof");
        goto out;
    }
    if (ocf) {
        if (cu_file_read(ocf, CU_NOTE_MAX, &other, &ol)) {
            cu_cli_fail("old checkpoint");
            goto out;
        }
        rc = cu_ledger_check_consistency(other, ol, cp, cl, v, proof, pl);
    } else {
        cu_hash leaf;
        if (ef) {
            if (cu_file_read(ef, CU_LEDGER_ENTRY_MAX, &other, &ol)) {
                cu_cli_fail("entry");
                goto out;
            }
            if (cu_merkle_leaf_hash(other, ol, &leaf)) {
                cu_cli_fail("entry");
                goto out;
            }
        } else {
            uint8_t h[48];
            size_t got = 0;
            if (strlen(lh) != 44 || cu_b64_decode(lh, 44, h, &got) || got != CU_HASH_LEN) {
                fprintf(stderr, "custos: --leaf-hash: not a base64 hash of 32 bytes\n");
                goto out;
            }
            memcpy(leaf.b, h, CU_HASH_LEN);
        }
        rc = cu_ledger_check_inclusion(cp, cl, v, proof, pl, &leaf);
    }
    if (rc) {
        cu_cli_fail("ledger verify-proof");
        goto out;
    }
    printf("ok: proof verifies\n");
    ret = 0;
out:
    cu_note_verifier_free(v);
    cu_free(cp);
    cu_free(proof);
    cu_free(other);
    return ret;
}

/* The verifier key matching the signer key kept in DIR/private: what an
 * operator hands out (through a trusted channel) for `evidence verify`. */
static int cmd_vkey(int argc, char **argv)
{
    if (argc != 2)
        return usage();
    char *sk = NULL, *vk = NULL;
    cu_note_signer *s = NULL;
    int ret = 0;
    if (cu_ledger_read_signer(argv[1], &sk) || cu_note_signer_parse(sk, &s) || !(vk = cu_note_signer_verifier_key(s)))
        ret = cu_cli_fail("ledger vkey");
    else
        printf("%s\n", vk);
    if (sk) {
        sodium_memzero(sk, strlen(sk));
        cu_free(sk);
    }
    cu_note_signer_free(s);
    cu_free(vk);
    return ret;
}

int cu_cmd_ledger(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *c = argv[1];
    argc--;
    argv++;
    if (strcmp(c, "init") == 0)
        return cmd_init(argc, argv);
    if (strcmp(c, "append") == 0)
        return cmd_append(argc, argv);
    if (strcmp(c, "publish") == 0)
        return cmd_publish(argc, argv);
    if (strcmp(c, "prove") == 0)
        return cmd_prove(argc, argv, true);
    if (strcmp(c, "consistency") == 0)
        return cmd_prove(argc, argv, false);
    if (strcmp(c, "cat") == 0)
        return cmd_cat(argc, argv);
    if (strcmp(c, "verify") == 0)
        return cmd_verify(argc, argv);
    if (strcmp(c, "verify-proof") == 0)
        return cmd_verify_proof(argc, argv);
    if (strcmp(c, "vkey") == 0)
        return cmd_vkey(argc, argv);
    fprintf(stderr, "custos ledger: unknown command '%s'\n", c);
    return usage();
}
