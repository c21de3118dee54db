/*
 * health.c: catalog-health snapshots for the 30-day trend, every
 * MF_HEALTH_SNAPSHOT_INTERVAL seconds.
 *
 * mf_health_snapshot (migrations/0011_freshness_health.sql) stores today's
 * figures of each tenant whose snapshot of today is older than the interval,
 * by domain and owner, a few tenants per transaction. It claims a tenant's
 * day with an advisory lock (a tenant another replica is taking is skipped)
 * and an upsert re-checked under the row lock, so replicas never take the
 * same snapshot twice. The last snapshot of a day stands for that day; the
 * API computes today's figures live.
 */
#include <stdio.h>
#include <stdlib.h>
#include "analytics.h"
#include "mf/config.h"
#include "mf/log.h"
#include "mf/worker.h"

/* Tenants per transaction (each one a grouped scan of its catalog). */
#define SNAPSHOT_BATCH 20

/* Snapshot one batch of tenants; how many were taken, or -1 on error. */
static int snapshot_batch(PGconn *pg, const char *every_secs)
{
    char batch[16];
    snprintf(batch, sizeof(batch), "%d", SNAPSHOT_BATCH);
    const char *params[] = {every_secs, batch};
    return (int)mf_worker_count(pg, "SELECT mf_health_snapshot($1::int, $2::int)", 2, params, "health snapshot");
}

void mf_analytics_health_loop(void)
{
    PGconn *pg = NULL;
    long long every = mf_config_int(MF_CFG_HEALTH_SNAPSHOT_INTERVAL);
    char every_secs[24];
    snprintf(every_secs, sizeof(every_secs), "%lld", every);
    while (mf_worker_pg(&pg) != NULL) {
        int n, total = 0;
        /* a batch of tenants that were all taken means there may be more */
        while ((n = snapshot_batch(pg, every_secs)) == SNAPSHOT_BATCH && !mf_worker_stopping())
            total += n;
        total += n > 0 ? n : 0;
        if (total > 0)
            MF_LOG_INFO_(NULL, "health: %d tenant snapshots taken", total);
        mf_worker_sleep_ms((int)(every * 1000));
    }
    PQfinish(pg);
}
