/*
 * graph.c: lineage graphs. GET /api/v1/lineage/graph walks up, down or both
 * from a dataset, a column (datasetField) or a job; GET /api/v1/lineage/impact
 * lists everything downstream with distances, one path each and counts; GET
 * /api/v1/lineage answers the same walk in Marquez's shape (so Marquez
 * clients read it unchanged; mf-ingest serves POST on the same path).
 *
 * This file only checks the query parameters: each endpoint is one
 * statement calling a SQL function of migrations/0009_lineage_graph.sql (its
 * walk made faster by 0019_search_lineage_speed.sql) that
 * parses the node id (400 naming the problem), resolves it for the caller
 * (404 when unseen), walks the edges breadth-first under the caller's Row
 * Level Security and returns the whole JSON document.
 */
#include <stdio.h>
#include <string.h>
#include "api.h"
#include "mf/usage.h"
#include "mf/util.h"

/* Deepest walk, and most nodes one answer holds (then "truncated": true). The default node limit
 * keeps an answer a size a person or a tool can use (about 350 KB from a hub); what an answer costs
 * grows with its nodes (docs/api.md "Lineage", bench/README.md). */
#define GRAPH_DEPTH_MAX 10
#define GRAPH_NODES_MAX 2000
#define GRAPH_NODES_DEFAULT 500
#define GRAPH_NODE_ID_MAX 2048

static mf_pg_stmt_t stmts[] = {
#define GRAPH 0
    {"lineage_graph", "SELECT mf_lineage_graph($1, $2::int, $3, $4::int)::text", -1},
#define IMPACT 1
    {"lineage_impact", "SELECT mf_lineage_impact($1, $2::int, $3::int)::text", -1},
#define MARQUEZ 2
    {"lineage_marquez", "SELECT mf_lineage_marquez($1, $2::int, $3::int)::text", -1},
    {NULL, NULL, -1},
};

/* The node id in query parameter `key` (required; clean UTF-8, bounded); answers 400 itself. */
static const char *node_or_respond(mf_req_t *r, const char *key)
{
    const char *v = mf_req_query(r, key);
    if (v == NULL || v[0] == '\0') {
        mf_respond_error(r, MF_EINVALID_REQUEST,
                         "query parameter %s is required (dataset:<namespace>:<name>, "
                         "datasetField:<namespace>:<name>:<field> or job:<namespace>:<name>)",
                         key);
        return NULL;
    }
    size_t n = strlen(v);
    if (n > GRAPH_NODE_ID_MAX || !mf_text_is_clean(v, n, 0)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter %s must be 1-%d bytes of printable UTF-8", key,
                         GRAPH_NODE_ID_MAX);
        return NULL;
    }
    return v;
}

/* An optional integer query parameter in [min, max] (def when absent); answers 400 itself.
 * clamp: values above max become max instead of a 400. */
static int int_or_respond(mf_req_t *r, const char *key, long long min, long long max, long long def, int clamp,
                          char *out, size_t cap)
{
    const char *v = mf_req_query(r, key);
    long long x = def;
    if (v != NULL && v[0] != '\0') {
        if (clamp && mf_parse_int(v, strlen(v), min, 1000000000LL, &x) == 0 && x > max)
            x = max;
        else if (mf_parse_int(v, strlen(v), min, max, &x) != 0) {
            mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter %s must be an integer from %lld to %lld", key,
                             min, max);
            return MF_EINVALID_REQUEST;
        }
    }
    snprintf(out, cap, "%lld", x);
    return 0;
}

/* Answer the walk's document and record the lineage query about the node in query parameter node_key. */
static void respond_walk(mf_req_t *r, PGresult *res, const char *node_key)
{
    mf_respond_row_or_404(r, res, 200, "node not found");
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        mf_usage_lineage(r, mf_req_query(r, node_key));
}

static void on_document(mf_req_t *r, PGresult *res) { respond_walk(r, res, "node"); }
static void on_marquez(mf_req_t *r, PGresult *res) { respond_walk(r, res, "nodeId"); }

static void get_graph(mf_req_t *r)
{
    char depth[24], limit[24];
    const char *node = node_or_respond(r, "node"), *dir;
    if (node == NULL ||
        int_or_respond(r, "depth", 0, GRAPH_DEPTH_MAX, 3, 0, depth, sizeof(depth)) != 0 ||
        int_or_respond(r, "limit", 1, GRAPH_NODES_MAX, GRAPH_NODES_DEFAULT, 0, limit, sizeof(limit)) != 0)
        return;
    dir = mf_req_query(r, "direction");
    if (dir == NULL || dir[0] == '\0')
        dir = "both";
    if (strcmp(dir, "up") != 0 && strcmp(dir, "down") != 0 && strcmp(dir, "both") != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter direction must be up, down or both");
        return;
    }
    const char *params[] = {node, depth, dir, limit};
    if (mf_req_query_or_respond(r, &stmts[GRAPH], 4, params, on_document) != 0)
        return;
}

static void get_impact(mf_req_t *r)
{
    char depth[24], limit[24];
    const char *node = node_or_respond(r, "node");
    if (node == NULL ||
        int_or_respond(r, "depth", 1, GRAPH_DEPTH_MAX, GRAPH_DEPTH_MAX, 0, depth, sizeof(depth)) != 0 ||
        int_or_respond(r, "limit", 1, GRAPH_NODES_MAX, GRAPH_NODES_DEFAULT, 0, limit, sizeof(limit)) != 0)
        return;
    const char *params[] = {node, depth, limit};
    if (mf_req_query_or_respond(r, &stmts[IMPACT], 3, params, on_document) != 0)
        return;
}

/* Marquez clients ask for depth 20 by default: deeper than the maximum is read as the maximum. */
static void get_marquez(mf_req_t *r)
{
    char depth[24], limit[24];
    const char *node = node_or_respond(r, "nodeId");
    if (node == NULL ||
        int_or_respond(r, "depth", 0, GRAPH_DEPTH_MAX, GRAPH_DEPTH_MAX, 1, depth, sizeof(depth)) != 0 ||
        int_or_respond(r, "limit", 1, GRAPH_NODES_MAX, GRAPH_NODES_DEFAULT, 0, limit, sizeof(limit)) != 0)
        return;
    const char *params[] = {node, depth, limit};
    if (mf_req_query_or_respond(r, &stmts[MARQUEZ], 3, params, on_marquez) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/lineage/graph", MF_ROLE_VIEWER, get_graph, 0},
    {"GET", "/api/v1/lineage/impact", MF_ROLE_VIEWER, get_impact, 0},
    {"GET", "/api/v1/lineage", MF_ROLE_VIEWER, get_marquez, 0},
};

void mf_api_register_graph(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
