/*
 * main.c: mf-analytics, the work done off the request path: usage, freshness,
 * catalog health, metering and notifications.
 *
 *   mf-analytics [run]   every worker loop, until SIGTERM (health and metrics
 *                        on MF_WORKER_HTTP_PORT when set)
 *
 * Configuration comes only from MF_* environment variables (docs/configuration.md).
 * Replicas may run side by side: each loop splits its work safely (analytics.h).
 */
#include <stdio.h>
#include <string.h>
#include "analytics.h"
#include "mf/config.h"
#include "mf/log.h"
#include "mf/worker.h"

static const mf_worker_t workers[] = {
    {"usage", mf_analytics_usage_loop},
    {"freshness", mf_analytics_freshness_loop},
    {"health", mf_analytics_health_loop},
    {"metering", mf_analytics_metering_loop},
    {"webhooks", mf_analytics_webhooks_loop},
    {"contracts", mf_analytics_contracts_loop},
};

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "run";
    char err[512];
    if (mf_config_load(err, sizeof(err)) != 0) {
        fprintf(stderr, "mf-analytics: configuration error: %s\n", err);
        return 2;
    }
    mf_log_init("mf-analytics", mf_config_str(MF_CFG_LOG_LEVEL));
    if (strcmp(cmd, "run") != 0) {
        fprintf(stderr, "usage: mf-analytics [run]\n");
        return 2;
    }
    if (mf_config_str(MF_CFG_PG_URL)[0] == '\0' || mf_config_str(MF_CFG_REDIS_URL)[0] == '\0') {
        fprintf(stderr, "mf-analytics: MF_PG_URL and MF_REDIS_URL are required\n");
        return 2;
    }
    return mf_worker_run("mf-analytics", workers, sizeof(workers) / sizeof(workers[0]));
}
