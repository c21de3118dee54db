/*
 * datasets.c: /api/v1/datasets: create, list, read, replace, delete, and the
 * schema history (versions, diff). Writes go through mf_catalog_apply, the one
 * write path; reads are one statement each, the JSON built in SQL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/usage.h"
#include "mf/util.h"

/* The page pattern of every list: rows numbered in sort order, one more than asked to know if more exist. */
static mf_pg_stmt_t stmts[] = {
#define LIST 0
    {"ds_list",
     "SELECT coalesce(jsonb_agg(mf_dataset_summary(d) ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN (array_agg(jsonb_build_array((d).namespace, (d).name) ORDER BY rn))[$1::int]::text END "
     "FROM (SELECT d, row_number() OVER (ORDER BY d.namespace, d.name) rn FROM datasets d "
     "      WHERE d.tenant_id = mf_current_tenant() "
     "        AND ($2::jsonb IS NULL OR (d.namespace, d.name) > ($2::jsonb->>0, $2::jsonb->>1)) "
     "        AND ($3::text IS NULL OR d.namespace = $3) "
     "        AND ($4::text IS NULL OR d.domain_id = (SELECT id FROM domains WHERE tenant_id = mf_current_tenant() AND name = $4)) "
     "        AND ($5::text IS NULL OR d.owner_id = (SELECT id FROM owners WHERE tenant_id = mf_current_tenant() AND name = $5)) "
     "        AND ($6::text IS NULL OR d.tags @> ARRAY[$6::text]) "
     "        AND ($7::text IS NULL OR d.format = $7) "
     "        AND ($8::timestamptz IS NULL OR d.updated_at >= $8::timestamptz) "
     "      ORDER BY d.namespace, d.name LIMIT $1::int + 1) s",
     -1},
#define GET 1
    {"ds_get",
     "SELECT d.doc::text, d.version FROM datasets d "
     "WHERE d.tenant_id = mf_current_tenant() AND d.namespace = $1 AND d.name = $2",
     -1},
#define DELETE 2
    {"ds_delete", "SELECT mf_delete_dataset($1, $2, $3::integer)", -1},
#define VERSIONS 3
    {"ds_versions",
     "SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN jsonb_build_array((array_agg(version ORDER BY rn))[$1::int])::text END "
     "FROM (SELECT v.version, jsonb_build_object('version', v.version, 'created_at', mf_ts(v.created_at), "
     "             'field_count', jsonb_array_length(v.fields), 'breaking', v.breaking) doc, "
     "             row_number() OVER (ORDER BY v.version DESC) rn "
     "      FROM dataset_versions v WHERE v.tenant_id = mf_current_tenant() "
     "        AND v.dataset_id = mf_dataset_id($3, $4) "
     "        AND ($2::jsonb IS NULL OR v.version < ($2::jsonb->>0)::int) "
     "      ORDER BY v.version DESC LIMIT $1::int + 1) s",
     -1},
#define VERSION 4
    {"ds_version",
     "SELECT jsonb_build_object('version', v.version, 'created_at', mf_ts(v.created_at), 'breaking', v.breaking, "
     "       'fields', v.fields)::text "
     "FROM dataset_versions v WHERE v.tenant_id = mf_current_tenant() "
     "  AND v.dataset_id = mf_dataset_id($1, $2) AND v.version = $3::int",
     -1},
#define DIFF 5
    {"ds_diff",
     "SELECT (jsonb_build_object('from', a.version, 'to', b.version) || mf_schema_diff(a.fields, b.fields))::text "
     "FROM dataset_versions a, dataset_versions b "
     "WHERE a.tenant_id = mf_current_tenant() AND b.tenant_id = mf_current_tenant() "
     "  AND a.dataset_id = mf_dataset_id($1, $2) AND b.dataset_id = a.dataset_id "
     "  AND a.version = $3::int AND b.version = $4::int",
     -1},
#define GET_SCOPED 6
    /* a scoped caller: the document's neighbour lists without what it may not see */
    {"ds_get_scoped",
     "SELECT mf_access_dataset_doc(d.doc)::text, d.version FROM datasets d "
     "WHERE d.tenant_id = mf_current_tenant() AND d.namespace = $1 AND d.name = $2",
     -1},
    {NULL, NULL, -1},
};

static void on_created(mf_req_t *r, PGresult *res) { mf_api_respond_dataset(r, res, 201); }
static void on_replaced(mf_req_t *r, PGresult *res) { mf_api_respond_dataset(r, res, 200); }

/* If-Match: "<version>" (quotes optional, "*" means any). -1 when absent or "*". */
static int if_match_or_respond(mf_req_t *r, long long *out)
{
    const char *h = mf_req_header(r, "if-match");
    *out = -1;
    if (h == NULL || strcmp(h, "*") == 0)
        return 0;
    size_t n = strlen(h);
    if (n >= 2 && h[0] == 'W' && h[1] == '/') {
        h += 2;
        n -= 2;
    }
    if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
        h++;
        n -= 2;
    }
    if (mf_parse_int(h, n, 1, 2147483647, out) != 0) {
        mf_respond_error(r, MF_EPRECONDITION_FAILED, "If-Match must be an ETag returned by this API");
        return MF_EPRECONDITION_FAILED;
    }
    return 0;
}

static void create_dataset(mf_req_t *r)
{
    mf_json_err_t err;
    json_t *cs = mf_catalog_changeset_from_json(mf_req_body(r), NULL, NULL, &err);
    if (cs == NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    if (mf_catalog_apply(r, cs, MF_APPLY_CREATE, -1, on_created) != 0) {
        json_decref(cs);
        return;
    }
    json_decref(cs);
}

static void replace_dataset(mf_req_t *r)
{
    const char *ns = mf_api_namespace_or_respond(r);
    long long if_match;
    if (ns == NULL || if_match_or_respond(r, &if_match) != 0)
        return;
    mf_json_err_t err;
    json_t *cs = mf_catalog_changeset_from_json(mf_req_body(r), mf_req_param(r, "name"), ns, &err);
    if (cs == NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    int rc = mf_catalog_apply(r, cs, MF_APPLY_REPLACE, if_match, on_replaced);
    json_decref(cs);
    (void)rc; /* answered either way */
}

static void on_get(mf_req_t *r, PGresult *res)
{
    mf_api_respond_dataset(r, res, 200);
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) /* the namespace was checked before the query */
        mf_usage_dataset(r, MF_USAGE_READ, mf_api_namespace_or_respond(r), mf_req_param(r, "name"));
}

static void get_dataset(mf_req_t *r)
{
    const char *ns = mf_api_namespace_or_respond(r);
    if (ns == NULL)
        return;
    const char *params[] = {ns, mf_req_param(r, "name")};
    /* the stored document as it is for callers who see the whole tenant: the hot path pays no filter */
    const mf_pg_stmt_t *stmt = mf_req_identity(r)->scope[0] == '\0' ? &stmts[GET] : &stmts[GET_SCOPED];
    if (mf_req_query_or_respond(r, stmt, 2, params, on_get) != 0)
        return;
}

static void on_deleted(mf_req_t *r, PGresult *res) { mf_respond_empty(r, 204); }

static void delete_dataset(mf_req_t *r)
{
    const char *ns = mf_api_namespace_or_respond(r);
    long long if_match;
    if (ns == NULL || if_match_or_respond(r, &if_match) != 0)
        return;
    char ifm[24];
    snprintf(ifm, sizeof(ifm), "%lld", if_match);
    const char *params[] = {ns, mf_req_param(r, "name"), if_match >= 0 ? ifm : NULL};
    if (mf_req_query_or_respond(r, &stmts[DELETE], 3, params, on_deleted) != 0)
        return;
}

static void list_datasets(mf_req_t *r)
{
    const char *ns, *domain, *owner, *format, *tag, *since = mf_req_query(r, "updated_since");
    if (mf_api_query_name_or_respond(r, "namespace", 0, &ns) != 0 ||
        mf_api_query_name_or_respond(r, "domain", 0, &domain) != 0 ||
        mf_api_query_name_or_respond(r, "owner", 0, &owner) != 0 ||
        mf_api_query_name_or_respond(r, "format", 0, &format) != 0 ||
        mf_api_query_tag_or_respond(r, "tag", &tag) != 0)
        return;
    if (since != NULL && since[0] == '\0')
        since = NULL;
    if (since != NULL && !mf_time_is_rfc3339(since)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "updated_since must be an RFC 3339 timestamp");
        return;
    }
    const char *extra[] = {ns, domain, owner, tag, format, since};
    if (mf_list_query_or_respond(r, &stmts[LIST], 6, extra, 1) != 0)
        return;
}

static void list_versions(mf_req_t *r)
{
    const char *ns = mf_api_namespace_or_respond(r);
    if (ns == NULL)
        return;
    const char *extra[] = {ns, mf_req_param(r, "name")};
    if (mf_list_query_or_respond(r, &stmts[VERSIONS], 2, extra, 1) != 0)
        return;
}

static void on_version(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "schema version not found"); }

static void get_version(mf_req_t *r)
{
    const char *ns = mf_api_namespace_or_respond(r), *v = mf_req_param(r, "v");
    long long ver;
    if (ns == NULL)
        return;
    if (mf_parse_int(v, strlen(v), -2147483647, 2147483647, &ver) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "version must be an integer");
        return;
    }
    const char *params[] = {ns, mf_req_param(r, "name"), v};
    if (mf_req_query_or_respond(r, &stmts[VERSION], 3, params, on_version) != 0)
        return;
}

static void on_diff(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "schema version not found"); }

static void diff_versions(mf_req_t *r)
{
    const char *ns = mf_api_namespace_or_respond(r), *from = mf_req_query(r, "from"), *to = mf_req_query(r, "to");
    long long a, b;
    if (ns == NULL)
        return;
    if (from == NULL || to == NULL || mf_parse_int(from, strlen(from), 1, 2147483647, &a) != 0 ||
        mf_parse_int(to, strlen(to), 1, 2147483647, &b) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "from and to are required and must be schema versions (positive integers)");
        return;
    }
    const char *params[] = {ns, mf_req_param(r, "name"), from, to};
    if (mf_req_query_or_respond(r, &stmts[DIFF], 4, params, on_diff) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/datasets", MF_ROLE_EDITOR, create_dataset, 1},
    {"GET", "/api/v1/datasets", MF_ROLE_VIEWER, list_datasets, 0},
    {"GET", "/api/v1/datasets/{name}", MF_ROLE_VIEWER, get_dataset, 0},
    {"PUT", "/api/v1/datasets/{name}", MF_ROLE_EDITOR, replace_dataset, 1},
    {"DELETE", "/api/v1/datasets/{name}", MF_ROLE_EDITOR, delete_dataset, 0},
    {"GET", "/api/v1/datasets/{name}/versions", MF_ROLE_VIEWER, list_versions, 0},
    {"GET", "/api/v1/datasets/{name}/versions/{v}", MF_ROLE_VIEWER, get_version, 0},
    {"GET", "/api/v1/datasets/{name}/schema/diff", MF_ROLE_VIEWER, diff_versions, 0},
};

void mf_api_register_datasets(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
