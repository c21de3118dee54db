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
#include "analytics.h"
#include "mf/config.h"
#include "mf/worker.h"

/* Policies per transaction: short row locks, bounded work per statement. */
#define EVALUATE_BATCH 500

void mf_analytics_freshness_loop(void)
{
    mf_worker_batches_every("SELECT mf_freshness_evaluate($1::int, $2::int)", mf_config_int(MF_CFG_FRESHNESS_INTERVAL),
                            EVALUATE_BATCH, "freshness evaluation");
}
