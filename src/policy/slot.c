/*
 * A policy slot: the set in force, replaced atomically.  A load parses the
 * new text first and swaps only on success, so bad text never leaves the
 * gateway without policies.  Readers take a reference under the lock and
 * evaluate without it; the old set is freed when its last reader releases.
 */
#include "policy_int.h"

#include <pthread.h>

struct cu_policy_slot {
    pthread_mutex_t mu;
    cu_policy_set *cur;
};

cu_rc cu_policy_slot_new(cu_policy_slot **out)
{
    cu_policy_slot *s = cu_calloc(1, sizeof *s);
    if (!s)
        return cu_err_set(CU_ERR_NOMEM, "policy slot: out of memory");
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return CU_OK;
}

void cu_policy_slot_free(cu_policy_slot *s)
{
    if (!s)
        return;
    cu_policy_set_release(s->cur);
    pthread_mutex_destroy(&s->mu);
    cu_free(s);
}

cu_rc cu_policy_slot_load(cu_policy_slot *s, const char *text, size_t len, const char *name)
{
    cu_policy_set *next;
    cu_rc rc = cu_policy_set_parse(text, len, name, &next);
    if (rc != CU_OK)
        return rc; /* the previous set stays in force */
    pthread_mutex_lock(&s->mu);
    cu_policy_set *old = s->cur;
    s->cur = next;
    pthread_mutex_unlock(&s->mu);
    cu_policy_set_release(old);
    return CU_OK;
}

cu_policy_set *cu_policy_slot_acquire(cu_policy_slot *s)
{
    pthread_mutex_lock(&s->mu);
    cu_policy_set *r = cu_policy_set_ref(s->cur);
    pthread_mutex_unlock(&s->mu);
    return r;
}
