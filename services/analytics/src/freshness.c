/*
 * freshness.c: evaluates freshness policies every MF_FRESHNESS_INTERVAL
 * seconds.
 *
 * One round calls mf_freshness_evaluate (migrations/0011_freshness_health.sql)
 * in batches until no due policy is left. That SECURITY DEFINER function
 * claims due policies of every tenant with FOR UPDATE SKIP LOCKED and decides
 * each transition against the status stored on the policy row, so replicas
 * split the work and never record a transition (a violation opened, escalated
 * or resolved; a dataset.stale or dataset.fresh_again catalog event) twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include "analytics.h"
#include "mf/config.h"
#include "mf/log.h"
#include "mf/worker.h"

/* Policies per transaction: short row locks, bounded work per statement. */
#define EVALUATE_BATCH 500

/* Evaluate one batch; the number of policies evaluated, or -1 on error. */
static int evaluate_batch(PGconn *pg, const char *every_secs)
{
    char batch[16];
    snprintf(batch, sizeof(batch), "%d", EVALUATE_BATCH);
    const char *params[] = {every_secs, batch};
    return (int)mf_worker_count(pg, "SELECT mf_freshness_evaluate($1::int, $2::int)", 2, params, "freshness evaluation");
}

void mf_analytics_freshness_loop(void)
{
    PGconn *pg = NULL;
    long long every = mf_config_int(MF_CFG_FRESHNESS_INTERVAL);
    char every_secs[24];
    snprintf(every_secs, sizeof(every_secs), "%lld", every);
    while (mf_worker_pg(&pg) != NULL) {
        int n, total = 0;
        while ((n = evaluate_batch(pg, every_secs)) > 0 && !mf_worker_stopping()) {
            total += n;
            if (n < EVALUATE_BATCH)
                break;
        }
        if (total > 0)
            MF_LOG_DEBUG_(NULL, "freshness: %d policies evaluated", total);
        mf_worker_sleep_ms((int)(every * 1000));
    }
    PQfinish(pg);
}
