/*
 * integrations.c: POST /api/v1/integrations/{dbt,great-expectations,iceberg,delta}:
 * a dbt project, a Great Expectations validation result, an Iceberg or a
 * Delta table imported into the catalog. libshared decodes the upload (or
 * the files it names under MF_INTEGRATIONS_ROOT) into ingest events; one
 * statement applies them all in the request's transaction with the caller's
 * access (mf_integration_apply, migrations/0014_integrations.sql): all or
 * nothing, audited, answered with what changed. ?dry_run=true does the same
 * work, rolls it back and answers what would have changed.
 *
 * The quality results an import records are read back through quality.c.
 */
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/config.h"
#include "mf/integrations.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define APPLY 0
    {"integration_apply", "SELECT mf_integration_apply($1::jsonb, $2, $3::boolean)::text", -1},
    {NULL, NULL, -1},
};

static void on_applied(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "nothing was imported"); }

/* ?dry_run: 1 for true or 1, 0 for false, 0, empty or absent, -1 for anything else. */
static int dry_run(mf_req_t *r)
{
    const char *v = mf_req_query(r, "dry_run");
    if (v == NULL || v[0] == '\0' || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        return 0;
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ? 1 : -1;
}

static void on_events(mf_req_t *r, mf_integration_kind_t kind, json_t *events)
{
    size_t len;
    char *text = mf_json_dump(events, &len);
    json_decref(events);
    const char *params[] = {text, mf_integration_source(kind), dry_run(r) == 1 ? "true" : "false"};
    int rc = mf_req_query_or_respond(r, &stmts[APPLY], 3, params, on_applied);
    free(text);
    (void)rc; /* answered either way */
}

static void import(mf_req_t *r, mf_integration_kind_t kind)
{
    if (dry_run(r) < 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "dry_run must be true or false");
        return;
    }
    mf_integration_decode_request(r, kind, mf_config_str(MF_CFG_INTEGRATIONS_ROOT), on_events);
}

static void import_dbt(mf_req_t *r) { import(r, MF_INTEGRATION_DBT); }
static void import_ge(mf_req_t *r) { import(r, MF_INTEGRATION_GREAT_EXPECTATIONS); }
static void import_iceberg(mf_req_t *r) { import(r, MF_INTEGRATION_ICEBERG); }
static void import_delta(mf_req_t *r) { import(r, MF_INTEGRATION_DELTA); }

static const mf_route_t routes[] = {
    {"POST", "/api/v1/integrations/dbt", MF_ROLE_EDITOR, import_dbt, MF_BODY_RAW},
    {"POST", "/api/v1/integrations/great-expectations", MF_ROLE_EDITOR, import_ge, MF_BODY_RAW},
    {"POST", "/api/v1/integrations/iceberg", MF_ROLE_EDITOR, import_iceberg, MF_BODY_RAW},
    {"POST", "/api/v1/integrations/delta", MF_ROLE_EDITOR, import_delta, MF_BODY_RAW},
};

void mf_api_register_integrations(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
