/* Stopping a worker thread: the one way the ledger's, the pipeline's, the
 * store's, the live writer's and replay's workers are told to finish.  The
 * flag is set under the worker's mutex so that a worker between its check
 * and its wait cannot miss the wake-up. */
#include "custos/util.h"

void cu_thread_stop(pthread_mutex_t *mu, pthread_cond_t *cv, bool *stop, pthread_t th)
{
    pthread_mutex_lock(mu);
    *stop = true;
    pthread_cond_broadcast(cv);
    pthread_mutex_unlock(mu);
    pthread_join(th, NULL);
}
