/*
 * analytics.h: the worker loops of mf-analytics, one file each. Every loop
 * runs on its own thread (mf/worker.h), owns its Postgres and Redis
 * connections, and returns when mf_worker_stopping() says so. Work that
 * several replicas could pick up at once is claimed in Postgres (SKIP LOCKED
 * or advisory locks) or through a Redis consumer group, never by assuming
 * one replica.
 */
#ifndef MF_ANALYTICS_H
#define MF_ANALYTICS_H

/* usage.c: mf:usage stream -> daily usage per dataset and user. */
void mf_analytics_usage_loop(void);
/* freshness.c: evaluate freshness policies; stale / fresh-again events. */
void mf_analytics_freshness_loop(void);
/* health.c: daily catalog-health snapshots for the 30-day trend. */
void mf_analytics_health_loop(void);
/* metering.c: fold Redis metering counters into monthly usage per tenant. */
void mf_analytics_metering_loop(void);
/* webhooks.c: catalog events -> webhook deliveries, with retries. */
void mf_analytics_webhooks_loop(void);
/* contracts.c: data contracts' freshness bounds; contract.violation events. */
void mf_analytics_contracts_loop(void);

#endif
