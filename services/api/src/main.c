/*
 * main.c: mf-api, the catalog REST service.
 *
 *   mf-api [serve]               run the HTTP API
 *   mf-api migrate               apply migrations (MF_PG_ADMIN_URL)
 *   mf-api create-platform-key [billing_admin]
 *                                print a new platform admin key (or billing admin key)
 *   mf-api purge                 erase tenants past their deletion grace period and audit rows past
 *                                their plan's retention; prints a JSON report (a CronJob)
 *   mf-api routes                print the registered routes
 *   mf-api config-doc            print the configuration table (markdown)
 *
 * Configuration comes only from MF_* environment variables (mf/config.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/config.h"
#include "mf/log.h"
#include "mf/store.h"

static void register_all(void)
{
    mf_api_register_auth();
    mf_api_register_tenants();
    mf_api_register_keys();
    mf_api_register_members();
    mf_api_register_datasets();
    mf_api_register_tags();
    mf_api_register_domains();
    mf_api_register_glossary();
    mf_api_register_lineage();
    mf_api_register_stats();
    mf_api_register_jobs();
    mf_api_register_graph();
    mf_api_register_search();
    mf_api_register_usage();
    mf_api_register_freshness();
    mf_api_register_health();
    mf_api_register_webhooks();
    mf_api_register_billing();
    mf_api_register_export();
    mf_api_register_lineage_parse();
    mf_api_register_integrations();
    mf_api_register_classification();
    mf_api_register_contracts();
    mf_api_register_quality();
}

static int usage(void)
{
    fprintf(stderr, "usage: mf-api [serve|migrate|create-platform-key [billing_admin]|purge|routes|config-doc]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "serve";
    char err[512];
    if (strcmp(cmd, "config-doc") == 0) {
        mf_config_print_doc(stdout);
        return 0;
    }
    if (mf_config_load(err, sizeof(err)) != 0) {
        fprintf(stderr, "mf-api: configuration error: %s\n", err);
        return 2;
    }
    mf_log_init("mf-api", mf_config_str(MF_CFG_LOG_LEVEL));
    if (strcmp(cmd, "routes") == 0) {
        register_all();
        mf_http_print_routes(stdout);
        return 0;
    }
    if (strcmp(cmd, "purge") == 0) {
        const char *url = mf_config_str(MF_CFG_PG_ADMIN_URL);
        if (url[0] == '\0') {
            fprintf(stderr, "mf-api: MF_PG_ADMIN_URL is required for purge\n");
            return 2;
        }
        char *report = NULL;
        int rc = mf_store_purge(url, &report, err, sizeof(err));
        if (report != NULL)
            printf("%s\n", report);
        free(report);
        if (rc != 0) {
            fprintf(stderr, "mf-api: purge: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (strcmp(cmd, "migrate") == 0 || strcmp(cmd, "create-platform-key") == 0) {
        const char *url = mf_config_str(MF_CFG_PG_ADMIN_URL);
        if (url[0] == '\0') {
            fprintf(stderr, "mf-api: MF_PG_ADMIN_URL is required for %s\n", cmd);
            return 2;
        }
        if (strcmp(cmd, "migrate") == 0) {
            if (mf_store_migrate(url, mf_config_str(MF_CFG_MIGRATIONS_DIR), err, sizeof(err)) != 0) {
                fprintf(stderr, "mf-api: migrate failed: %s\n", err);
                return 1;
            }
            return 0;
        }
        const char *role = argc > 2 ? argv[2] : "platform_admin";
        if (mf_role_parse(role) < MF_ROLE_BILLING_ADMIN) {
            fprintf(stderr, "mf-api: create-platform-key makes a platform_admin or billing_admin key, not \"%s\"\n",
                    role);
            return 2;
        }
        char key[128];
        if (mf_store_create_platform_key(url, mf_config_str(MF_CFG_KEY_ENV), role, key, err, sizeof(err)) != 0) {
            fprintf(stderr, "mf-api: %s\n", err);
            return 1;
        }
        printf("%s\n", key);
        return 0;
    }
    if (strcmp(cmd, "serve") != 0)
        return usage();
    if (mf_config_str(MF_CFG_PG_URL)[0] == '\0') {
        fprintf(stderr, "mf-api: MF_PG_URL is required to serve\n");
        return 2;
    }
    register_all();
    if (mf_config_str(MF_CFG_REDIS_URL)[0] != '\0')
        mf_http_enable_redis(); /* key revocations reach every replica at once */
    return mf_http_run("mf-api") == 0 ? 0 : 1;
}
