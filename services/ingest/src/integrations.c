/*
 * integrations.c: the import routes of mf-api on mf-ingest, for pipelines
 * (POST /api/v1/integrations/{dbt,great-expectations,iceberg,delta}): the
 * same decoding (libshared integrations.c), then the events are queued like
 * any emit (202 {"event_ids": [...], "accepted": N}) and the worker applies
 * each through the one write path. Like every ingest route, only credentials
 * that may write anywhere in the tenant post here; there is no dry run (ask
 * mf-api for one).
 */
#include "ingest.h"
#include "mf/config.h"
#include "mf/http.h"
#include "mf/ingest_queue.h"
#include "mf/integrations.h"
#include "mf/util.h"

static void on_events(mf_req_t *r, mf_integration_kind_t kind, json_t *events)
{
    mf_ingest_judge_and_enqueue(r, events, 0);
}

static void import(mf_req_t *r, mf_integration_kind_t kind, const char *route)
{
    if (mf_ingest_writer_or_respond(r, route) != 0)
        return;
    if (mf_req_query(r, "dry_run") != NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "mf-ingest queues imports; dry_run is answered by mf-api");
        return;
    }
    mf_integration_decode_request(r, kind, mf_config_str(MF_CFG_INTEGRATIONS_ROOT), on_events);
}

static void import_dbt(mf_req_t *r) { import(r, MF_INTEGRATION_DBT, "POST /api/v1/integrations/dbt"); }
static void import_ge(mf_req_t *r)
{
    import(r, MF_INTEGRATION_GREAT_EXPECTATIONS, "POST /api/v1/integrations/great-expectations");
}
static void import_iceberg(mf_req_t *r) { import(r, MF_INTEGRATION_ICEBERG, "POST /api/v1/integrations/iceberg"); }
static void import_delta(mf_req_t *r) { import(r, MF_INTEGRATION_DELTA, "POST /api/v1/integrations/delta"); }

static const mf_route_t routes[] = {
    {"POST", "/api/v1/integrations/dbt", MF_ROLE_EDITOR, import_dbt, MF_BODY_RAW},
    {"POST", "/api/v1/integrations/great-expectations", MF_ROLE_EDITOR, import_ge, MF_BODY_RAW},
    {"POST", "/api/v1/integrations/iceberg", MF_ROLE_EDITOR, import_iceberg, MF_BODY_RAW},
    {"POST", "/api/v1/integrations/delta", MF_ROLE_EDITOR, import_delta, MF_BODY_RAW},
};

void mf_ingest_register_integrations(void) { mf_http_add_routes(routes, MF_ARRAY_SIZE(routes)); }
