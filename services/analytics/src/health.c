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
#include "analytics.h"
#include "mf/config.h"
#include "mf/worker.h"

/* Tenants per transaction (each one a grouped scan of its catalog). */
#define SNAPSHOT_BATCH 20

void mf_analytics_health_loop(void)
{
    mf_worker_batches_every("SELECT mf_health_snapshot($1::int, $2::int)",
                            mf_config_int(MF_CFG_HEALTH_SNAPSHOT_INTERVAL), SNAPSHOT_BATCH, "health snapshot");
}
