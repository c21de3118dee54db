/*
 * usage.c: what is used. GET /api/v1/datasets/{name}/usage (one dataset's
 * reads, unique users, search appearances and lineage queries over a period,
 * day by day), GET /api/v1/analytics/popular (the most read datasets) and
 * GET /api/v1/analytics/unused (datasets nobody read in N days).
 *
 * The counts are folded by mf-analytics from the access events this service
 * records (libshared usage.h); each route is one SQL function of
 * migrations/0010_usage.sql running as the caller, so Row Level Security
 * keeps a scoped caller to the datasets it may see. This file only checks
 * the query string.
 */
#include <string.h>
#include "api.h"
#include "mf/list.h"
#include "mf/usage.h"
#include "mf/util.h"

#define UNUSED_DAYS_MAX 365
#define UNUSED_DAYS_DEFAULT "30"

static mf_pg_stmt_t stmts[] = {
#define DATASET 0
    {"usage_dataset", "SELECT mf_usage_dataset($1, $2, $3::int)::text", -1},
#define POPULAR 1
    {"usage_popular", "SELECT items::text, next_key::text FROM mf_usage_popular($3::int, $1::int, $2::jsonb)", -1},
#define UNUSED 2
    {"usage_unused", "SELECT items::text, next_key::text FROM mf_usage_unused($3::int, $1::int, $2::jsonb)", -1},
    {NULL, NULL, -1},
};

/* ?period=1d|7d|30d (default 7d) as a number of days; answers 400 itself. */
static const char *period_days_or_respond(mf_req_t *r)
{
    static const char *const periods[][2] = {{"1d", "1"}, {"7d", "7"}, {"30d", "30"}};
    const char *p = mf_req_query(r, "period");
    if (p == NULL || p[0] == '\0')
        return "7";
    for (size_t i = 0; i < MF_ARRAY_SIZE(periods); i++)
        if (strcmp(p, periods[i][0]) == 0)
            return periods[i][1];
    mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter period must be 1d, 7d or 30d");
    return NULL;
}

static void on_dataset_usage(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "dataset not found"); }

static void dataset_usage(mf_req_t *r)
{
    const char *ns = mf_api_namespace_or_respond(r), *days;
    if (ns == NULL || (days = period_days_or_respond(r)) == NULL)
        return;
    const char *params[] = {ns, mf_req_param(r, "name"), days};
    if (mf_req_query_or_respond(r, &stmts[DATASET], 3, params, on_dataset_usage) != 0)
        return;
}

static void popular(mf_req_t *r)
{
    const char *days = period_days_or_respond(r);
    if (days == NULL || mf_list_query_or_respond(r, &stmts[POPULAR], 1, &days, 1) != 0)
        return;
}

static void unused(mf_req_t *r)
{
    const char *days = mf_req_query(r, "days");
    long long n;
    if (days == NULL || days[0] == '\0')
        days = UNUSED_DAYS_DEFAULT;
    else if (mf_parse_int(days, strlen(days), 1, UNUSED_DAYS_MAX, &n) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter days must be an integer from 1 to %d",
                         UNUSED_DAYS_MAX);
        return;
    }
    if (mf_list_query_or_respond(r, &stmts[UNUSED], 1, &days, 1) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/datasets/{name}/usage", MF_ROLE_VIEWER, dataset_usage, 0},
    {"GET", "/api/v1/analytics/popular", MF_ROLE_VIEWER, popular, 0},
    {"GET", "/api/v1/analytics/unused", MF_ROLE_VIEWER, unused, 0},
};

void mf_api_register_usage(void)
{
    mf_usage_init();
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
