/*
 * contracts.c: judges the freshness bounds of data contracts every
 * MF_FRESHNESS_INTERVAL seconds (the same cadence as freshness policies).
 *
 * One round calls mf_contract_freshness_evaluate
 * (migrations/0016_contracts.sql) in batches until a batch comes back short:
 * it resolves the open freshness violations of datasets written since, and
 * opens (and announces as contract.violation) one for each governed dataset
 * not written for longer than its contract allows. The unique index on open
 * violations lets only one replica open a given violation, so replicas may
 * run side by side.
 */
#include "analytics.h"
#include "mf/config.h"
#include "mf/worker.h"

/* Violations resolved or opened per transaction. */
#define EVALUATE_BATCH 500

void mf_analytics_contracts_loop(void)
{
    mf_worker_batches_every("SELECT mf_contract_freshness_evaluate($1::int, $2::int)",
                            mf_config_int(MF_CFG_FRESHNESS_INTERVAL), EVALUATE_BATCH, "contract freshness evaluation");
}
