/* The daemon's live stream on one ledger: gateway decisions feed the
 * pipeline (an allowed look-up is its decision entry plus one access event,
 * adjacent, indexed and detected; anything else is the decision entry
 * alone), console-type records share the log, a mixed log recovers (other
 * types skipped by type, "GW-" numbering continues), the access event keeps
 * time order when ingest is ahead, and a failed pipeline fails the gateway
 * closed.  The same wiring custosd does, through the library. */
#include "harness.h"

#include "rig.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* 2024-06-01T12:00:00Z */
#define NOW INT64_C(1717243200)

/* What custosd --data --config does (legacy detector: one alert per access). */
static bool live_open(cu_rig *L, const char *dir)
{
    cu_rig_opts o = {.legacy = true};
    cu_rig_fail(false);
    return cu_rig_open(L, dir, &o);
}

static cu_gateway_request req(const char *officer, const char *record, const char *kase, const char *just,
                              int64_t now)
{
    return (cu_gateway_request){.caller = "PNC", .officer = officer, .action = "view", .record = record,
                                .purpose = "investigation", .case_id = kase, .justification = just, .now = now};
}

/* Entry i of the ledger decoded; its bytes stay in b. */
static uint8_t entry_type(cu_ledger *l, uint64_t i, cu_buf *b, cu_ledger_entry *e)
{
    cu_buf_reset(b);
    CHECK_OK(cu_ledger_read_entry(l, i, b));
    CHECK_OK(cu_ledger_entry_decode(b->data, b->len, e));
    return e->type;
}

static bool field_is(const cu_ledger_entry *e, uint8_t tag, const char *want)
{
    const cu_ledger_field *f = cu_ledger_entry_field(e, tag);
    return f && f->len == strlen(want) && memcmp(f->data, want, f->len) == 0;
}

struct tl {
    int n;
    uint64_t idx[8];
    char id[8][16];
    int64_t ts[8];
};
static cu_rc on_access(void *ud, const cu_store_access *a)
{
    struct tl *t = ud;
    if (t->n < 8) {
        t->idx[t->n] = a->idx;
        t->ts[t->n] = a->ts;
        snprintf(t->id[t->n], sizeof t->id[0], "%s", a->event_id);
    }
    t->n++;
    return CU_OK;
}

static char dir1[1024];

TEST(allowed_lookups_become_access_events_on_one_ledger)
{
    snprintf(dir1, sizeof dir1, "%s/live1", cu_test_tmpdir());
    cu_rig L;
    if (!live_open(&L, dir1))
        return;
    cu_buf b;
    cu_buf_init(&b, CU_LEDGER_ENTRY_MAX + 1);
    cu_ledger_entry e;
    cu_gateway_decision d;

    /* allowed: the decision entry, then the access event right after it */
    cu_gateway_request r = req("PC1", "R1", "C1", NULL, NOW);
    CHECK_OK(cu_gateway_decide(L.gw, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    CHECK(d.audited);
    uint64_t i0 = d.index;
    CHECK_INT(cu_ledger_size(L.ledger), i0 + 2);
    CHECK_INT(entry_type(L.ledger, i0, &b, &e), CU_LEDGER_DECISION);
    const cu_ledger_field *dec = cu_ledger_entry_field(&e, CU_GW_F_DECISION);
    CHECK(dec && dec->len == 1 && ((const uint8_t *)dec->data)[0] == 1); /* 1: allow */
    CHECK(field_is(&e, CU_GW_F_OFFICER, "PC1"));
    CHECK_INT(entry_type(L.ledger, i0 + 1, &b, &e), CU_LEDGER_ACCESS);
    CHECK(field_is(&e, CU_LEDGER_F_ID, "GW-1"));
    CHECK(field_is(&e, CU_LEDGER_F_OFFICER, "PC1"));
    CHECK(field_is(&e, CU_LEDGER_F_RECORD, "R1"));
    CHECK(field_is(&e, CU_LEDGER_F_SYSTEM, "PNC"));
    CHECK(field_is(&e, CU_LEDGER_F_CASE, "C1"));
    CHECK(field_is(&e, CU_LEDGER_F_PURPOSE, "investigation"));
    CHECK_INT(e.ts, NOW);
    const cu_ledger_field *sj = cu_ledger_entry_field(&e, CU_LEDGER_F_SUBJECTS);
    CHECK(sj && sj->len == CU_HASH_LEN); /* R1 concerns P1 */
    uint8_t c[CU_HASH_LEN];
    CHECK_OK(cu_ledger_commitment(cu_ledger_commit_secret(L.ledger), "P1", 2, c));
    CHECK(sj && memcmp(sj->data, c, CU_HASH_LEN) == 0);
    /* indexed in the store, at its ledger index */
    struct tl t = {0};
    CHECK_OK(cu_store_officer_timeline(cu_pipeline_store(L.pipe), "PC1", INT64_MIN, INT64_MAX, on_access, &t));
    CHECK_INT(t.n, 1);
    CHECK_INT(t.idx[0], i0 + 1);
    CHECK_STR(t.id[0], "GW-1");
    t.n = 0;
    CHECK_OK(cu_store_person_accesses(cu_pipeline_store(L.pipe), "P1", on_access, &t));
    CHECK_INT(t.n, 1);

    /* denied: the decision entry alone, nothing indexed */
    r = req("PC1", "R3", "C1", NULL, NOW + 10);
    CHECK_OK(cu_gateway_decide(L.gw, &r, &d));
    CHECK(d.outcome != CU_GW_ALLOW);
    CHECK_INT(d.index, i0 + 2);
    CHECK_INT(cu_ledger_size(L.ledger), i0 + 3);
    uint64_t n_ev;
    CHECK_OK(cu_store_count(cu_pipeline_store(L.pipe), "event", &n_ev));
    CHECK_INT(n_ev, 1);

    /* break-glass on a protected person with no case: allowed, and the
     * detectors raise the protected-person alert on it */
    r = req("PC2", "RP", NULL, "threat to life", NOW + 60);
    CHECK_OK(cu_gateway_decide(L.gw, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    CHECK(d.break_glass);
    CHECK_INT(entry_type(L.ledger, d.index + 1, &b, &e), CU_LEDGER_ACCESS);
    CHECK(field_is(&e, CU_LEDGER_F_ID, "GW-2"));
    cu_pipeline_stats st;
    cu_pipeline_stats_get(L.pipe, &st);
    CHECK_INT(st.alerts, 1);
    CHECK_INT(st.events, 2);
    /* the break-glass id is the decision's index, as before */
    cu_buf bg;
    cu_buf_init(&bg, 1 << 16);
    CHECK_OK(cu_gateway_breakglass_json(L.gw, NOW + 61, &bg));
    char want[64];
    snprintf(want, sizeof want, "\"id\":%llu", (unsigned long long)d.index);
    CHECK(strstr(bg.data, want) != NULL);
    cu_buf_free(&bg);

    /* a console audit record in the same log */
    uint8_t ce[64];
    size_t cl;
    cu_ledger_field cf = {1, "alice", 5};
    CHECK_OK(cu_ledger_entry_encode(CU_LEDGER_CONSOLE, NOW + 70, &cf, 1, ce, sizeof ce, &cl));
    uint64_t ci;
    CHECK_OK(cu_ledger_append(L.ledger, ce, cl, &ci));

    /* ingest ahead of the clock: the next gateway access event takes the
     * last event's time (the stream stays in order); its decision keeps
     * its own */
    cu_batch *bt;
    CHECK_OK(cu_batch_new(4, &bt));
    cu_event *ev = cu_batch_slot(bt);
    const char *line = "{\"kind\":\"access\",\"id\":\"E1\",\"ts\":\"2024-06-01T13:00:00Z\",\"officer\":\"DC1\","
                       "\"system\":\"RMS\",\"action\":\"view\",\"record\":\"R2\",\"subjects\":[\"P1\"],"
                       "\"purpose\":\"investigation\",\"case\":\"C1\",\"outcome\":\"allow\"}";
    CHECK_OK(cu_event_parse(cu_pipeline_names(L.pipe), line, strlen(line), ev));
    cu_batch_push(bt);
    CHECK_OK(cu_pipeline_submit(L.pipe, bt, NULL));
    cu_batch_free(bt);
    r = req("DC1", "R1", "C1", NULL, NOW + 120);
    CHECK_OK(cu_gateway_decide(L.gw, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    CHECK_INT(entry_type(L.ledger, d.index, &b, &e), CU_LEDGER_DECISION);
    CHECK_INT(e.ts, NOW + 120);
    CHECK_INT(entry_type(L.ledger, d.index + 1, &b, &e), CU_LEDGER_ACCESS);
    CHECK(field_is(&e, CU_LEDGER_F_ID, "GW-3"));
    CHECK_INT(e.ts, NOW + 3600);
    /* allowed decisions 3 (+3 access), one deny, one console record, one ingested event */
    CHECK_INT(cu_ledger_size(L.ledger), 3 * 2 + 1 + 1 + 1);
    cu_buf_free(&b);
    cu_rig_close(&L);
}

TEST(a_mixed_ledger_recovers)
{
    /* the store thrown away: rebuilt from the one ledger, entries of other
     * types skipped by their type */
    char p[1100];
    snprintf(p, sizeof p, "%s/store.db", dir1);
    unlink(p);
    snprintf(p, sizeof p, "%s/store.db-wal", dir1);
    unlink(p);
    snprintf(p, sizeof p, "%s/store.db-shm", dir1);
    unlink(p);
    cu_rig L;
    if (!live_open(&L, dir1))
        return;
    CHECK_INT(L.start.recovered, 4); /* GW-1, GW-2, E1, GW-3 */
    CHECK_INT(L.start.skipped, 5);   /* 4 decisions, 1 console record */
    CHECK_INT(L.start.alerts, 1);    /* the break-glass look-up's alert, raised again */
    cu_store *s = cu_pipeline_store(L.pipe);
    CHECK_INT(cu_store_indexed(s), cu_ledger_size(L.ledger));
    struct tl t = {0};
    CHECK_OK(cu_store_officer_timeline(s, "PC1", INT64_MIN, INT64_MAX, on_access, &t));
    CHECK_INT(t.n, 1);
    CHECK_STR(t.id[0], "GW-1");
    CHECK_INT(t.idx[0], 1); /* after its decision at 0 */
    t.n = 0;
    CHECK_OK(cu_store_person_accesses(s, "PPROT", on_access, &t));
    CHECK_INT(t.n, 1);
    CHECK_STR(t.id[0], "GW-2");
    /* the numbering continues after a restart */
    cu_gateway_decision d;
    cu_gateway_request r = req("PC1", "R2", "C1", NULL, NOW + 4000);
    CHECK_OK(cu_gateway_decide(L.gw, &r, &d));
    CHECK_INT(d.outcome, CU_GW_ALLOW);
    cu_buf b;
    cu_buf_init(&b, CU_LEDGER_ENTRY_MAX + 1);
    cu_ledger_entry e;
    CHECK_INT(entry_type(L.ledger, d.index + 1, &b, &e), CU_LEDGER_ACCESS);
    CHECK(field_is(&e, CU_LEDGER_F_ID, "GW-4"));
    cu_buf_free(&b);
    cu_rig_close(&L);

    /* a clean restart (store level with the ledger, which ends in a decision):
     * the order check continues from the last event, known from the store */
    if (!live_open(&L, dir1))
        return;
    CHECK_INT(L.start.recovered, 0);
    CHECK_INT(cu_pipeline_last_ts(L.pipe), NOW + 4000);
    cu_rig_close(&L);
}

TEST(a_failed_pipeline_fails_the_gateway_closed)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/live2", cu_test_tmpdir());
    cu_rig L;
    if (!live_open(&L, dir))
        return;
    cu_rig_fail(true);
    cu_gateway_decision d;
    cu_gateway_request r = req("PC1", "R1", "C1", NULL, NOW);
    CHECK_OK(cu_gateway_decide(L.gw, &r, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);
    CHECK(!d.audited);
    CHECK(d.n_reasons == 1 && strcmp(d.reasons[0], "audit unavailable") == 0);
    CHECK_INT(cu_ledger_size(L.ledger), 0);
    /* the pipeline stays stopped: allowed look-ups keep failing closed, even
     * once the disk is back, until a restart */
    cu_rig_fail(false);
    CHECK_OK(cu_gateway_decide(L.gw, &r, &d));
    CHECK_INT(d.outcome, CU_GW_DENY);
    CHECK(!d.audited);
    /* a deny still reaches the ledger (it needs no index) */
    r = req("PC1", "R3", "C1", NULL, NOW);
    CHECK_OK(cu_gateway_decide(L.gw, &r, &d));
    CHECK(d.audited);
    CHECK_INT(cu_ledger_size(L.ledger), 1);
    cu_rig_close(&L);
}
