/*
 * The in-memory copy of what decisions need, and cu_gov_effective_get.
 *
 * Invariants
 * 1. An entry holds, for one person, every clearance, the active
 *    entitlements (with the deadline at which an unconfirmed campaign item
 *    lapses them) and the open restricting reviews, as committed.  Each
 *    action refreshes the people it touched (or everyone) before it returns,
 *    under the action mutex, so the copy is never behind a returned action.
 * 2. A refresh builds the new arrays first and swaps them in under the
 *    write lock; readers never see a half-built entry.  If a refresh fails
 *    (memory), the entry is marked stale and reads as no access at all
 *    (fail closed) until a later refresh succeeds.  So that there is always
 *    an entry to mark, actions reserve one (a placeholder, read as unknown)
 *    for each person they change before they commit.
 * 3. cu_gov_effective_get takes the read lock, does arithmetic on `now` and
 *    copies into the caller's struct: no allocation, no database access.
 */
#include "governance/gov_int.h"

#include <stdio.h>
#include <string.h>

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct goff *find(const cu_gov *g, const char *id)
{
    if (!g->cap)
        return NULL;
    for (size_t i = hash_id(id) & (g->cap - 1);; i = (i + 1) & (g->cap - 1)) {
        struct goff *o = g->tab[i];
        if (!o)
            return NULL;
        if (strcmp(o->id, id) == 0)
            return o;
    }
}

/* Insert (write lock held).  The table stays at most half full. */
static cu_rc insert(cu_gov *g, struct goff *o)
{
    if ((g->count + 1) * 2 > g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 256;
        struct goff **t = cu_calloc(nc, sizeof *t);
        if (!t)
            return CU_ERR_NOMEM;
        for (size_t i = 0; i < g->cap; i++)
            if (g->tab[i]) {
                size_t j = hash_id(g->tab[i]->id) & (nc - 1);
                while (t[j])
                    j = (j + 1) & (nc - 1);
                t[j] = g->tab[i];
            }
        cu_free(g->tab);
        g->tab = t;
        g->cap = nc;
    }
    size_t j = hash_id(o->id) & (g->cap - 1);
    while (g->tab[j])
        j = (j + 1) & (g->cap - 1);
    g->tab[j] = o;
    g->count++;
    return CU_OK;
}

static void goff_arrays_free(struct goff *o)
{
    cu_free(o->clr);
    cu_free(o->ent);
    cu_free(o->rev);
    o->clr = NULL;
    o->ent = NULL;
    o->rev = NULL;
    o->nclr = o->nent = o->nrev = 0;
}

void gov_cache_free(cu_gov *g)
{
    for (size_t i = 0; i < g->cap; i++)
        if (g->tab[i]) {
            goff_arrays_free(g->tab[i]);
            cu_free(g->tab[i]);
        }
    cu_free(g->tab);
    g->tab = NULL;
    g->cap = g->count = 0;
}

/* Grow-by-doubling append of one element. */
static void *push(void *arr, uint32_t n, uint32_t *cap, size_t size)
{
    if (n < *cap)
        return arr;
    uint32_t nc = *cap ? *cap * 2 : 4;
    void *p = cu_realloc(arr, (size_t)nc * size);
    if (p)
        *cap = nc;
    return p;
}

static cu_rc load(cu_gov *g, const char *officer, struct goff *fresh, bool *known)
{
    sqlite3_stmt *st = NULL;
    uint32_t cap = 0;
    cu_rc rc;
    *known = false;
    if ((rc = gov_prep(g, &st, "SELECT 1 FROM gov_staff WHERE officer=?")))
        return rc;
    sqlite3_bind_text(st, 1, officer, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        *known = true;
    sqlite3_finalize(st);

    if ((rc = gov_prep(g, &st, "SELECT COUNT(*) FROM gov_entitlement WHERE officer=?")))
        return rc;
    sqlite3_bind_text(st, 1, officer, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
        *known = fresh->managed = true;
    sqlite3_finalize(st);

    if ((rc = gov_prep(g, &st, "SELECT level, status, granted, expires, review FROM gov_clearance WHERE officer=?")))
        return rc;
    sqlite3_bind_text(st, 1, officer, -1, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct gclr c = {0};
        int lv = 0, stt = 0;
        if (cu_gov_level_parse(gov_col_text(st, 0), &lv) || cu_gov_status_parse(gov_col_text(st, 1), &stt)) {
            rc = CU_ERR_CORRUPT;
            cu_err_prefix("governance: clearance of %s", officer);
            goto fail;
        }
        c.level = (uint8_t)lv;
        c.status = (uint8_t)stt;
        c.granted = sqlite3_column_int64(st, 2);
        c.expires = sqlite3_column_int64(st, 3);
        c.review = gov_col_time(st, 4, 0);
        struct gclr *p = push(fresh->clr, fresh->nclr, &cap, sizeof *p);
        if (!p) {
            rc = CU_ERR_NOMEM;
            goto fail;
        }
        fresh->clr = p;
        fresh->clr[fresh->nclr++] = c;
        *known = true;
    }
    if (r != SQLITE_DONE) {
        rc = gov_sqlerr(g, "clearances");
        goto fail;
    }
    sqlite3_finalize(st);

    cap = 0;
    if ((rc = gov_prep(g, &st,
                       "SELECT e.id, e.system, e.caveat, e.requires, e.sensitive,"
                       " (SELECT MIN(c.deadline) FROM gov_campaign_item i JOIN gov_campaign c ON c.id = i.campaign"
                       "   WHERE i.entitlement = e.id AND i.status = 'pending' AND c.status = 'open')"
                       " FROM gov_entitlement e WHERE e.officer=? AND e.status='active' ORDER BY e.id")))
        return rc;
    sqlite3_bind_text(st, 1, officer, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct gent e = {0};
        e.id = sqlite3_column_int64(st, 0);
        snprintf(e.system, sizeof e.system, "%s", gov_col_text(st, 1));
        snprintf(e.caveat, sizeof e.caveat, "%s", gov_col_text(st, 2));
        int lv = 0;
        if (*gov_col_text(st, 3) && cu_gov_level_parse(gov_col_text(st, 3), &lv)) {
            rc = CU_ERR_CORRUPT;
            cu_err_prefix("governance: entitlement %lld", (long long)e.id);
            goto fail;
        }
        e.requires = (uint8_t)lv;
        e.sensitive = sqlite3_column_int(st, 4) != 0;
        e.lapse_at = gov_col_time(st, 5, INT64_MAX);
        struct gent *p = push(fresh->ent, fresh->nent, &cap, sizeof *p);
        if (!p) {
            rc = CU_ERR_NOMEM;
            goto fail;
        }
        fresh->ent = p;
        fresh->ent[fresh->nent++] = e;
        *known = true;
    }
    if (r != SQLITE_DONE) {
        rc = gov_sqlerr(g, "entitlements");
        goto fail;
    }
    sqlite3_finalize(st);

    cap = 0;
    if ((rc = gov_prep(g, &st, "SELECT id, kind FROM gov_review WHERE officer=? AND status='open'"
                               " AND restrict_caveats=1 ORDER BY id")))
        return rc;
    sqlite3_bind_text(st, 1, officer, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct grev v = {0};
        v.id = sqlite3_column_int64(st, 0);
        snprintf(v.kind, sizeof v.kind, "%s", gov_col_text(st, 1));
        struct grev *p = push(fresh->rev, fresh->nrev, &cap, sizeof *p);
        if (!p) {
            rc = CU_ERR_NOMEM;
            goto fail;
        }
        fresh->rev = p;
        fresh->rev[fresh->nrev++] = v;
        *known = true;
    }
    if (r != SQLITE_DONE) {
        rc = gov_sqlerr(g, "reviews");
        goto fail;
    }
    rc = CU_OK;
fail:
    sqlite3_finalize(st);
    return rc;
}

cu_rc gov_cache_reserve(cu_gov *g, const char *officer)
{
    if (!officer || !*officer || strlen(officer) > CU_GOV_MAX_ID)
        return CU_OK;
    cu_rc rc = CU_OK;
    pthread_rwlock_wrlock(&g->lock);
    if (!find(g, officer)) {
        struct goff *nw = cu_calloc(1, sizeof *nw);
        if (nw) {
            snprintf(nw->id, sizeof nw->id, "%s", officer);
            nw->placeholder = true;
        }
        if (!nw || insert(g, nw)) {
            cu_free(nw);
            rc = cu_err_set(CU_ERR_NOMEM, "governance: out of memory");
        }
    }
    pthread_rwlock_unlock(&g->lock);
    return rc;
}

cu_rc gov_cache_refresh(cu_gov *g, const char *officer)
{
    if (!officer || !*officer || strlen(officer) > CU_GOV_MAX_ID)
        return CU_OK;
    struct goff fresh = {0};
    bool known = false;
    cu_rc rc = load(g, officer, &fresh, &known);
    struct goff *nw = NULL;
    pthread_rwlock_wrlock(&g->lock);
    struct goff *o = find(g, officer);
    if (!rc && !o && known) {
        nw = cu_calloc(1, sizeof *nw);
        if (nw)
            snprintf(nw->id, sizeof nw->id, "%s", officer);
        if (!nw || insert(g, nw)) {
            cu_free(nw);
            nw = NULL;
            rc = CU_ERR_NOMEM;
        } else {
            o = nw;
        }
    }
    if (o) {
        goff_arrays_free(o);
        if (rc) {
            o->stale = true;
        } else if (known) {
            o->stale = false;
            o->placeholder = false;
            o->managed = fresh.managed;
            o->clr = fresh.clr;
            o->ent = fresh.ent;
            o->rev = fresh.rev;
            o->nclr = fresh.nclr;
            o->nent = fresh.nent;
            o->nrev = fresh.nrev;
            fresh = (struct goff){0};
        }
    }
    pthread_rwlock_unlock(&g->lock);
    goff_arrays_free(&fresh);
    if (rc)
        cu_log(CU_LOG_ERROR, "governance: refreshing %s failed (%s): treated as no access", officer,
               cu_err_detail());
    return rc;
}

cu_rc gov_cache_refresh_all(cu_gov *g)
{
    sqlite3_stmt *st;
    cu_rc rc = gov_prep(g, &st, "SELECT officer FROM gov_staff UNION SELECT officer FROM gov_clearance"
                                " UNION SELECT officer FROM gov_entitlement UNION SELECT officer FROM gov_review");
    if (rc)
        return rc;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        cu_rc one = gov_cache_refresh(g, gov_col_text(st, 0));
        if (one && !rc)
            rc = one;
    }
    if (r != SQLITE_DONE && !rc)
        rc = gov_sqlerr(g, "people");
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------- effective */

static bool in_force(const struct gclr *c, int64_t now)
{
    return c->status == CU_GOV_ACTIVE && c->granted <= now && now < c->expires;
}

static void add_name(char (*list)[CU_GOV_MAX_ID + 1], size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(list[i], s) == 0)
            return;
    if (*n < CU_GOV_MAX_HELD)
        snprintf(list[(*n)++], CU_GOV_MAX_ID + 1, "%s", s);
}

#define RESTRICT(...)                                                                                  \
    do {                                                                                               \
        if (out->nrestrictions < CU_GOV_MAX_RESTRICT)                                                 \
            snprintf(out->restrictions[out->nrestrictions++], sizeof out->restrictions[0], __VA_ARGS__); \
    } while (0)

void cu_gov_effective_get(cu_gov *g, const char *officer, int64_t now, cu_gov_effective *out)
{
    memset(out, 0, offsetof(cu_gov_effective, systems));
    if (!officer)
        return;
    pthread_rwlock_rdlock(&g->lock);
    const struct goff *o = find(g, officer);
    if (!o || (o->placeholder && !o->stale))
        goto done;
    if (o->stale) {
        out->state = CU_GOV_ST_SUSPENDED;
        out->managed = true; /* nothing entitled */
        RESTRICT("governance state could not be refreshed: no access until it is");
        goto done;
    }
    const struct gclr *best = NULL;
    int best_rank = 0;
    for (uint32_t i = 0; i < o->nclr; i++) {
        const struct gclr *c = &o->clr[i];
        if (!in_force(c, now))
            continue;
        int rk = cu_gov_level_rank(c->level);
        if (!best || rk > best_rank || (rk == best_rank && c->expires > best->expires)) {
            best = c;
            best_rank = rk;
        }
    }
    if (best) {
        out->state = CU_GOV_ST_IN_FORCE;
        out->level = best->level;
        out->granted = best->granted;
        out->expires = best->expires;
        out->review = best->review;
    } else {
        /* Why nothing is in force: suspended before expired before not yet before withdrawn. */
        const struct gclr *why = NULL;
        int why_st = o->nclr ? CU_GOV_ST_WITHDRAWN : CU_GOV_ST_NONE;
        for (uint32_t i = 0; i < o->nclr; i++) {
            const struct gclr *c = &o->clr[i];
            int s = c->status == CU_GOV_SUSPENDED                              ? CU_GOV_ST_SUSPENDED
                    : c->status == CU_GOV_LAPSED                               ? CU_GOV_ST_EXPIRED
                    : c->status == CU_GOV_ACTIVE && now >= c->expires          ? CU_GOV_ST_EXPIRED
                    : c->status == CU_GOV_ACTIVE && now < c->granted           ? CU_GOV_ST_NOT_YET
                                                                               : CU_GOV_ST_WITHDRAWN;
            static const int prio[] = {[CU_GOV_ST_SUSPENDED] = 4, [CU_GOV_ST_EXPIRED] = 3, [CU_GOV_ST_NOT_YET] = 2,
                                       [CU_GOV_ST_WITHDRAWN] = 1};
            if (!why || prio[s] > prio[why_st] || (s == why_st && c->expires > why->expires)) {
                why = c;
                why_st = s;
            }
        }
        out->state = why_st;
        if (why && (why_st == CU_GOV_ST_EXPIRED || why_st == CU_GOV_ST_NOT_YET)) {
            out->level = why->level;
            out->granted = why->granted;
            out->expires = why->expires;
            out->review = why->review;
        }
        if (why_st == CU_GOV_ST_SUSPENDED)
            RESTRICT("vetting clearance %s is suspended: no access that needs vetting", cu_gov_level_name(why->level));
        else if (why_st == CU_GOV_ST_WITHDRAWN)
            RESTRICT("vetting clearance withdrawn: no access that needs vetting");
        else if (why_st == CU_GOV_ST_EXPIRED)
            RESTRICT("vetting clearance %s has expired: no access that needs vetting", cu_gov_level_name(why->level));
    }
    out->managed = o->managed;
    out->withheld = o->nrev > 0;
    for (uint32_t i = 0; i < o->nrev; i++)
        RESTRICT("review %lld (%s) is open: sensitive caveats withheld pending its outcome", (long long)o->rev[i].id,
                 o->rev[i].kind);
    for (uint32_t i = 0; i < o->nent; i++) {
        const struct gent *e = &o->ent[i];
        if (now >= e->lapse_at) {
            RESTRICT("entitlement %lld (%s%s%s) lapsed at its recertification deadline", (long long)e->id, e->system,
                     e->caveat[0] ? "/" : "", e->caveat);
            continue;
        }
        if (e->requires && (!best || best_rank < cu_gov_level_rank(e->requires))) {
            RESTRICT("entitlement %lld (%s%s%s) needs %s vetting in force", (long long)e->id, e->system,
                     e->caveat[0] ? "/" : "", e->caveat, cu_gov_level_name(e->requires));
            continue;
        }
        if (e->caveat[0]) {
            if (e->sensitive && o->nrev)
                continue; /* withheld: said once per review above */
            add_name(out->caveats, &out->ncaveats, e->caveat);
        } else {
            add_name(out->systems, &out->nsystems, e->system);
        }
    }
done:
    pthread_rwlock_unlock(&g->lock);
}

cu_rc cu_gov_effective_json(const cu_gov_effective *e, const char *officer, cu_buf *out)
{
    json_t *o = json_object(), *sys = json_array(), *cav = json_array(), *res = json_array();
    cu_rc rc = CU_ERR_NOMEM;
    if (!o || !sys || !cav || !res)
        goto fail;
    for (size_t i = 0; i < e->nsystems; i++)
        json_array_append_new(sys, json_string(e->systems[i]));
    for (size_t i = 0; i < e->ncaveats; i++)
        json_array_append_new(cav, json_string(e->caveats[i]));
    for (size_t i = 0; i < e->nrestrictions; i++)
        json_array_append_new(res, json_string(e->restrictions[i]));
    json_object_set_new(o, "officer", json_string(officer));
    json_object_set_new(o, "state", json_string(cu_gov_state_name(e->state)));
    json_object_set_new(o, "level", json_string(cu_gov_level_name(e->level)));
    json_object_set_new(o, "granted", gov_json_time(e->granted));
    json_object_set_new(o, "expires", gov_json_time(e->expires));
    json_object_set_new(o, "review", gov_json_time(e->review));
    json_object_set_new(o, "entitlements_managed", json_boolean(e->managed));
    json_object_set_new(o, "caveats_withheld", json_boolean(e->withheld));
    json_object_set_new(o, "systems", sys);
    json_object_set_new(o, "caveats", cav);
    json_object_set_new(o, "restrictions", res);
    sys = cav = res = NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    if (!s)
        goto fail;
    rc = cu_buf_appends(out, s);
    free(s);
fail:
    json_decref(o);
    json_decref(sys);
    json_decref(cav);
    json_decref(res);
    return rc;
}
