/*
 * jobs.c: jobs and their runs, as pipelines reported them through mf-ingest
 * (emit runs and OpenLineage events).
 */
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/util.h"

#define RUN_DOC(x)                                                                                                  \
    "jsonb_build_object('run_id', " x ".run_id, 'state', " x ".state, 'event_time', mf_ts(" x ".event_time), "    \
    "'started_at', mf_ts(" x ".started_at), 'ended_at', mf_ts(" x ".ended_at), "                                   \
    "'duration_ms', (extract(epoch FROM " x ".ended_at - " x ".started_at) * 1000)::bigint, "                      \
    "'nominal_start', mf_ts(" x ".nominal_start), 'nominal_end', mf_ts(" x ".nominal_end), "                       \
    "'parent_run_id', " x ".parent_run_id, 'error_message', " x ".error_message, "                                 \
    "'inputs', " x ".inputs, 'outputs', " x ".outputs, 'facets', " x ".facets)"

#define JOB_SUMMARY(j)                                                                                              \
    "jsonb_build_object('namespace', " j ".namespace, 'name', " j ".name, 'description', " j ".description, "     \
    "'sql', " j ".sql, 'created_at', mf_ts(" j ".created_at), 'updated_at', mf_ts(" j ".updated_at), "            \
    "'latest_run', (SELECT jsonb_build_object('run_id', x.run_id, 'state', x.state, "                              \
    "               'started_at', mf_ts(x.started_at), 'ended_at', mf_ts(x.ended_at)) "                            \
    "               FROM runs x WHERE x.job_id = " j ".id ORDER BY x.event_time DESC LIMIT 1))"

static mf_pg_stmt_t stmts[] = {
#define LIST 0
    {"job_list",
     "SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN (array_agg(key ORDER BY rn))[$1::int]::text END "
     "FROM (SELECT " JOB_SUMMARY("j") " doc, jsonb_build_array(j.namespace, j.name) key, "
     "             row_number() OVER (ORDER BY j.namespace, j.name) rn "
     "      FROM jobs j WHERE j.tenant_id = mf_current_tenant() "
     "        AND ($2::jsonb IS NULL OR (j.namespace, j.name) > ($2::jsonb->>0, $2::jsonb->>1)) "
     "        AND ($3::text IS NULL OR j.namespace = $3) "
     "      ORDER BY j.namespace, j.name LIMIT $1::int + 1) s",
     -1},
#define GET 1
    {"job_get",
     "SELECT (" JOB_SUMMARY("j") " || jsonb_build_object('facets', j.facets, "
     "   'inputs', (SELECT coalesce(jsonb_agg(DISTINCT mf_ref(s.namespace, s.name)), '[]') FROM lineage_edges e "
     "              JOIN datasets s ON s.id = e.source_id WHERE e.job_id = j.id), "
     "   'outputs', (SELECT coalesce(jsonb_agg(DISTINCT mf_ref(t.namespace, t.name)), '[]') FROM lineage_edges e "
     "              JOIN datasets t ON t.id = e.target_id WHERE e.job_id = j.id)))::text "
     "FROM jobs j WHERE j.tenant_id = mf_current_tenant() AND j.namespace = $1 AND j.name = $2",
     -1},
#define RUNS 2
    {"job_runs",
     "SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN (array_agg(key ORDER BY rn))[$1::int]::text END "
     "FROM (SELECT " RUN_DOC("r") " doc, jsonb_build_array(r.event_time::text, r.run_id::text) key, "
     "             row_number() OVER (ORDER BY r.event_time DESC, r.run_id DESC) rn "
     "      FROM runs r JOIN jobs j ON j.id = r.job_id "
     "      WHERE r.tenant_id = mf_current_tenant() AND j.namespace = $3 AND j.name = $4 "
     "        AND ($2::jsonb IS NULL OR (r.event_time, r.run_id) < (($2::jsonb->>0)::timestamptz, ($2::jsonb->>1)::uuid)) "
     "      ORDER BY r.event_time DESC, r.run_id DESC LIMIT $1::int + 1) s",
     -1},
#define EXISTS 3
    {"job_exists",
     "SELECT 1 FROM jobs WHERE tenant_id = mf_current_tenant() AND namespace = $1 AND name = $2", -1},
    {NULL, NULL, -1},
};

static void list_jobs(mf_req_t *r)
{
    const char *ns;
    if (mf_api_query_name_or_respond(r, "namespace", 0, &ns) != 0)
        return;
    const char *extra[] = {ns};
    if (mf_list_query_or_respond(r, &stmts[LIST], 1, extra, 1) != 0)
        return;
}

static void on_job(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "job not found"); }

static void get_job(mf_req_t *r)
{
    const char *params[] = {mf_req_param(r, "namespace"), mf_req_param(r, "name")};
    if (mf_req_query_or_respond(r, &stmts[GET], 2, params, on_job) != 0)
        return;
}

static void on_exists(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1) {
        mf_respond_error(r, MF_ENOT_FOUND, "job not found");
        return;
    }
    const char *extra[] = {mf_req_param(r, "namespace"), mf_req_param(r, "name")};
    if (mf_list_query_or_respond(r, &stmts[RUNS], 2, extra, 1) != 0)
        return;
}

static void list_runs(mf_req_t *r)
{
    const char *params[] = {mf_req_param(r, "namespace"), mf_req_param(r, "name")};
    if (mf_req_query_or_respond(r, &stmts[EXISTS], 2, params, on_exists) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/jobs", MF_ROLE_VIEWER, list_jobs, 0},
    {"GET", "/api/v1/jobs/{namespace}/{name}", MF_ROLE_VIEWER, get_job, 0},
    {"GET", "/api/v1/jobs/{namespace}/{name}/runs", MF_ROLE_VIEWER, list_runs, 0},
};

void mf_api_register_jobs(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
