/*
 * health.c: GET /api/v1/analytics/health, the catalog's health: datasets
 * without owner or description, stale, unused, with a breaking schema change
 * in the last 7 days or failing quality checks, and documentation coverage;
 * for the whole catalog, by domain and by owner, and as a daily trend over
 * the last 30 days.
 *
 * Today's figures are computed live in one statement (mf_health_report in
 * migrations/0011_freshness_health.sql) under the caller's Row Level
 * Security, so a scoped caller counts only the datasets it sees; the earlier
 * days come from the snapshots mf-analytics stores (services/analytics/src/health.c).
 */
#include "api.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define REPORT 0
    {"health_report", "SELECT mf_health_report()::text", -1},
    {NULL, NULL, -1},
};

static void on_report(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "no health report"); }

static void get_health(mf_req_t *r)
{
    if (mf_req_query_or_respond(r, &stmts[REPORT], 0, NULL, on_report) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/analytics/health", MF_ROLE_VIEWER, get_health, MF_BODY_NONE},
};

void mf_api_register_health(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
