/*
 * main.c: mf-ingest, where pipelines post what they did.
 *
 *   mf-ingest [serve]   HTTP intake: validate, normalise, enqueue on the Redis stream (202)
 *   mf-ingest work      the worker: stream -> Postgres through the one write path
 *   mf-ingest routes    print the registered routes
 *
 * Configuration comes only from MF_* environment variables (docs/configuration.md).
 * mf-ingest raises the default body limit to 5 MB (MF_HTTP_MAX_BODY still wins when set).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ingest.h"
#include "mf/config.h"
#include "mf/http.h"
#include "mf/ingest.h"
#include "mf/log.h"
#include "mf/quota.h"

static void register_all(void)
{
    mf_ingest_register_emit();
    mf_ingest_register_lineage();
    mf_ingest_register_events();
    mf_ingest_register_integrations();
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "serve";
    char err[512];
    if (getenv("MF_HTTP_MAX_BODY") == NULL && mf_config_set(MF_CFG_HTTP_MAX_BODY, "5242880", err, sizeof(err)) != 0)
        return 2;
    if (mf_config_load(err, sizeof(err)) != 0) {
        fprintf(stderr, "mf-ingest: configuration error: %s\n", err);
        return 2;
    }
    mf_log_init("mf-ingest", mf_config_str(MF_CFG_LOG_LEVEL));
    if (strcmp(cmd, "routes") == 0) {
        register_all();
        mf_http_print_routes(stdout);
        return 0;
    }
    if (mf_config_str(MF_CFG_PG_URL)[0] == '\0' || mf_config_str(MF_CFG_REDIS_URL)[0] == '\0') {
        fprintf(stderr, "mf-ingest: MF_PG_URL and MF_REDIS_URL are required\n");
        return 2;
    }
    if (strcmp(cmd, "work") == 0) {
        mf_log_init("mf-ingest-work", mf_config_str(MF_CFG_LOG_LEVEL));
        return mf_ingest_work();
    }
    if (strcmp(cmd, "serve") != 0) {
        fprintf(stderr, "usage: mf-ingest [serve|work|routes]\n");
        return 2;
    }
    register_all();
    mf_quota_count_calls(0); /* posts are metered as emit events (ingest_queue.c), not API calls */
    mf_http_enable_redis();
    return mf_http_run("mf-ingest") == 0 ? 0 : 1;
}
