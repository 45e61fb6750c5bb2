/* ledger: cu_ledger_read_range, the sequential reader (the pipeline's warm
 * start): every entry of a range across full bundles and the bundle being
 * filled, in order, byte for byte what cu_ledger_read_entry gives; a range
 * past the committed size is refused; a callback's error stops the read
 * and is returned. */
#include "harness.h"

#include "custos/ledger.h"

#include <stdio.h>
#include <string.h>

#define NENT 700 /* two full bundles of 256 and part of a third */

struct seen {
    cu_ledger *l;
    uint64_t next, count, stop_at;
    int bad;
    cu_buf b;
};

static cu_rc on_entry(void *ud, uint64_t index, const void *e, size_t len)
{
    struct seen *s = ud;
    if (index == s->stop_at)
        return cu_err_set(CU_ERR_INVAL, "stop at %llu", (unsigned long long)index);
    cu_buf_reset(&s->b);
    if (index != s->next || cu_ledger_read_entry(s->l, index, &s->b) || s->b.len != len || memcmp(s->b.data, e, len))
        s->bad++;
    s->next = index + 1;
    s->count++;
    return CU_OK;
}

TEST(read_range_matches_read_entry)
{
    char dir[1024], *sk = NULL, *vk = NULL;
    snprintf(dir, sizeof dir, "%s/range", cu_test_tmpdir());
    CHECK_OK(cu_note_keygen("test.example/log", &sk, &vk));
    CHECK_OK(cu_ledger_init(dir, "test.example/log", sk));
    cu_ledger_opts o = {.signer_key = sk};
    cu_ledger *l = NULL;
    CHECK_OK(cu_ledger_open(dir, &o, &l));
    cu_free(sk);
    cu_free(vk);
    if (!l)
        return;
    static char data[NENT][48];
    const void *ptr[NENT];
    size_t len[NENT];
    for (int i = 0; i < NENT; i++) {
        len[i] = (size_t)snprintf(data[i], sizeof data[i], "entry %d %.*s", i, i % 30, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        ptr[i] = data[i];
    }
    uint64_t first = 0;
    CHECK_OK(cu_ledger_append_many(l, ptr, len, NENT, &first));
    struct seen s = {.l = l, .stop_at = UINT64_MAX};
    cu_buf_init(&s.b, CU_LEDGER_ENTRY_MAX + 1);
    /* across bundles 0..2, the last one being filled */
    s.next = 250;
    CHECK_OK(cu_ledger_read_range(l, 250, NENT - 250, on_entry, &s));
    CHECK_INT(s.count, NENT - 250);
    CHECK_INT(s.bad, 0);
    /* all of it, and an empty range */
    s.next = 0;
    s.count = 0;
    CHECK_OK(cu_ledger_read_range(l, 0, NENT, on_entry, &s));
    CHECK_INT(s.count, NENT);
    CHECK_INT(s.bad, 0);
    CHECK_OK(cu_ledger_read_range(l, 5, 0, on_entry, &s));
    CHECK_INT(s.count, NENT);
    /* past the end: refused */
    CHECK_RC(cu_ledger_read_range(l, NENT - 1, 2, on_entry, &s), CU_ERR_RANGE);
    /* the callback stops it */
    s.next = 0;
    s.count = 0;
    s.stop_at = 300;
    CHECK_RC(cu_ledger_read_range(l, 0, NENT, on_entry, &s), CU_ERR_INVAL);
    CHECK_INT(s.count, 300);
    cu_buf_free(&s.b);
    cu_ledger_close(l);
}
