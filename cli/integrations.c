/*
 * integrations.c: dbt, great-expectations, iceberg and delta, the imports of
 * docs/integrations.md from local files.
 *
 * PATH is read here the way mf-api reads a path of its integrations folder
 * (libshared mf_integration_read_local: a dbt target folder, a Great
 * Expectations validation result, an Iceberg metadata file or table folder,
 * a Delta table folder's _delta_log commits), so a missing or broken file is
 * named before anything is sent. The document then goes in one request to
 * POST /api/v1/integrations/<kind>, applied by mf-api in one transaction; the
 * import's counts and changed datasets are printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "mf/integrations.h"

static void print_import_summary(const json_t *summary)
{
    static const char *const headers[] = {"WHAT", "COUNT"};
    static const char *const counts[] = {"datasets_created", "datasets_updated", "placeholders_created",
                                         "schema_versions",  "lineage_edges",    "quality_results",
                                         "runs",             NULL};
    cli_table_t *t = cli_table_new(2, headers);
    for (const char *const *k = counts; *k != NULL; k++) {
        char buf[32];
        const char *row[] = {*k, cli_cell(json_object_get(summary, *k), buf, sizeof(buf))};
        cli_table_row(t, row);
    }
    cli_table_print(t);
    cli_print_changed_datasets(json_object_get(summary, "datasets"), json_object_get(summary, "dry_run"));
}

/* "?namespace=..&name=..&dry_run=true" from the options (empty when none); new string. */
static char *import_query(const cli_t *c)
{
    const char *keys[] = {"namespace", "name"};
    const char *values[] = {c->namespace_, c->name};
    size_t cap = 32;
    char *escaped[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++)
        if (values[i] != NULL) {
            escaped[i] = cli_escape(values[i]);
            cap += strlen(keys[i]) + strlen(escaped[i]) + 2;
        }
    char *q = calloc(1, cap);
    for (int i = 0; i < 2; i++)
        if (escaped[i] != NULL) {
            snprintf(q + strlen(q), cap - strlen(q), "%c%s=%s", q[0] ? '&' : '?', keys[i], escaped[i]);
            free(escaped[i]);
        }
    if (c->dry_run)
        snprintf(q + strlen(q), cap - strlen(q), "%cdry_run=true", q[0] ? '&' : '?');
    return q;
}

static int import_path(cli_t *c, mf_integration_kind_t kind, const char *route, const char *what)
{
    if (c->nargs != 1)
        return cli_error(CLI_EUSAGE, "usage: metafuse %s PATH [--namespace NS] [--name NAME] [--dry-run] (PATH: %s)",
                         route, what);
    json_t *doc;
    mf_json_err_t err = {{0}};
    if (mf_integration_read_local(kind, c->args[0], &doc, &err) != 0)
        return cli_error(CLI_EUSAGE, "%s: %s", c->args[0], err.msg);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    char *query = import_query(c);
    char path[1200];
    snprintf(path, sizeof(path), "/api/v1/integrations/%s%s", route, query);
    free(query);
    cli_response_t resp;
    int rc = cli_request(c, "POST", c->api_url, path, "application/json", text, strlen(text), &resp);
    free(text);
    if (rc != CLI_OK)
        return rc;
    return cli_print_answer(c, &resp, print_import_summary);
}

int cli_dbt(cli_t *c)
{
    return import_path(c, MF_INTEGRATION_DBT, "dbt", "a dbt target folder, or its manifest.json");
}

int cli_great_expectations(cli_t *c)
{
    return import_path(c, MF_INTEGRATION_GREAT_EXPECTATIONS, "great-expectations", "a validation result file");
}

int cli_iceberg(cli_t *c)
{
    return import_path(c, MF_INTEGRATION_ICEBERG, "iceberg", "an Iceberg metadata file or table folder");
}

int cli_delta(cli_t *c)
{
    return import_path(c, MF_INTEGRATION_DELTA, "delta", "a Delta table folder");
}
