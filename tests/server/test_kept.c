/* The kept reference updates (src/server/kept.c): the numbering without a
 * gap, the positioned prefix (an update without a position, or with one
 * that goes back, ends it), the position files' text, and cu_kept_warm
 * applying the positioned updates in order, each once, when the log
 * reaches them. */
#include "harness.h"

#include "custos/server.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define REF "tests/gateway/data/force.jsonl"

static void put(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/reference-updates/%s", dir, name);
    CHECK_OK(cu_file_write_atomic(p, text, strlen(text), 0600));
}

/* dir with reference-updates/ made; the path into buf. */
static const char *data_dir(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", cu_test_tmpdir(), name);
    mkdir(buf, 0700);
    char u[1100];
    snprintf(u, sizeof u, "%s/reference-updates", buf);
    mkdir(u, 0700);
    return buf;
}

TEST(position_text)
{
    uint64_t at = 7;
    CHECK(cu_kept_parse_at("0\n", 2, &at) && at == 0);
    CHECK(cu_kept_parse_at("4096", 4, &at) && at == 4096);
    CHECK(cu_kept_parse_at("18446744073709551615\n", 21, &at) && at == UINT64_MAX);
    at = 7;
    CHECK(!cu_kept_parse_at("18446744073709551616", 20, &at));
    CHECK(!cu_kept_parse_at("", 0, &at));
    CHECK(!cu_kept_parse_at("\n", 1, &at));
    CHECK(!cu_kept_parse_at(" 12", 3, &at));
    CHECK(!cu_kept_parse_at("12\n\n", 4, &at));
    CHECK(!cu_kept_parse_at("-1", 2, &at));
    CHECK_INT((long long)at, 7);
}

TEST(gap_is_corrupt)
{
    char d[1024];
    data_dir("gap", d, sizeof d);
    put(d, "00000001.jsonl", "\n");
    put(d, "00000003.jsonl", "\n");
    cu_kept *k = NULL;
    CHECK_RC(cu_kept_open(d, NULL, &k), CU_ERR_CORRUPT);
    CHECK(strstr(cu_err_detail(), "00000002.jsonl") != NULL);
    CHECK(k == NULL);
}

TEST(positioned_prefix_and_warm_in_order)
{
    char d[1024];
    data_dir("prefix", d, sizeof d);
    /* 1 at 5, 2 at 9, 3 without a position, 4 at 20: the prefix is 1-2 */
    put(d, "00000001.jsonl", "{\"kind\":\"assign\",\"ts\":\"2024-05-01T10:00:00Z\",\"case\":\"CP\",\"officer\":\"PC2\",\"op\":\"add\"}\n");
    put(d, "00000001.at", "5\n");
    put(d, "00000002.jsonl",
        "{\"kind\":\"assign\",\"ts\":\"2024-05-01T11:00:00Z\",\"case\":\"CP\",\"officer\":\"PC2\",\"op\":\"remove\"}\n");
    put(d, "00000002.at", "9\n");
    put(d, "00000003.jsonl", "\n");
    put(d, "00000004.jsonl", "\n");
    put(d, "00000004.at", "20\n");
    cu_names *n = NULL;
    cu_ref *ref = NULL;
    CHECK_OK(cu_names_new(&n));
    CHECK_OK(cu_ref_new(n, &ref));
    if (!ref) {
        cu_names_free(n);
        return;
    }
    CHECK_OK(cu_ref_load(ref, REF));
    cu_kept *k = NULL;
    CHECK_OK(cu_kept_open(d, ref, &k));
    if (!k) {
        cu_ref_free(ref);
        cu_names_free(n);
        return;
    }
    CHECK_INT((long long)cu_kept_count(k), 4);
    CHECK_INT((long long)cu_kept_positioned(k), 2);
    bool changed = false;
    CHECK_INT((long long)cu_kept_next(k), 5); /* recovery's batches stop there */
    /* before entry 5: nothing due */
    CHECK_OK(cu_kept_warm(k, 4, &changed));
    CHECK(!changed);
    CHECK_INT((long long)cu_kept_applied(k), 0);
    /* entry 5: update 1 (PC2 onto CP) */
    CHECK_OK(cu_kept_warm(k, 5, &changed));
    CHECK(changed);
    CHECK_INT((long long)cu_kept_applied(k), 1);
    CHECK_INT((long long)cu_kept_next(k), 9);
    /* again at 5..8: nothing more; at 100: update 2, not 3 or 4 (unpositioned from 3 on) */
    changed = false;
    CHECK_OK(cu_kept_warm(k, 8, &changed));
    CHECK(!changed);
    CHECK_OK(cu_kept_warm(k, 100, &changed));
    CHECK(changed);
    CHECK_INT((long long)cu_kept_applied(k), 2);
    CHECK(cu_kept_next(k) == UINT64_MAX); /* 3 and 4 are not positioned */
    CHECK_INT((long long)cu_kept_refused(k), 0);
    cu_kept_free(k);

    /* positions that go back end the prefix there */
    data_dir("back", d, sizeof d);
    put(d, "00000001.jsonl", "\n");
    put(d, "00000001.at", "9\n");
    put(d, "00000002.jsonl", "\n");
    put(d, "00000002.at", "5\n");
    CHECK_OK(cu_kept_open(d, ref, &k));
    if (k)
        CHECK_INT((long long)cu_kept_positioned(k), 1);
    cu_kept_free(k);
    cu_ref_free(ref);
    cu_names_free(n);
}
