/*
 * lineage.c: dataset lineage edges with optional column lineage. Missing
 * endpoints become placeholder datasets so no lineage is dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define ADD 0
    {"edge_add", "SELECT doc::text, created FROM mf_add_edge($1::jsonb, $2::jsonb, $3::jsonb)", -1},
#define LIST 1
    {"edge_list",
     "SELECT coalesce(jsonb_agg(mf_edge_doc(e) ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN jsonb_build_array((array_agg((e).id::text ORDER BY rn))[$1::int])::text END "
     "FROM (SELECT e, row_number() OVER (ORDER BY e.id) rn FROM lineage_edges e "
     "      WHERE e.tenant_id = mf_current_tenant() AND ($2::jsonb IS NULL OR e.id > ($2::jsonb->>0)::uuid) "
     "        AND ($3::text IS NULL "
     "             OR ($5 IN ('up', 'both') AND e.target_id = (SELECT id FROM datasets WHERE tenant_id = mf_current_tenant() AND namespace = $4 AND name = $3)) "
     "             OR ($5 IN ('down', 'both') AND e.source_id = (SELECT id FROM datasets WHERE tenant_id = mf_current_tenant() AND namespace = $4 AND name = $3))) "
     "      ORDER BY e.id LIMIT $1::int + 1) s",
     -1},
#define DELETE 2
    {"edge_delete", "SELECT 1 WHERE mf_delete_edge($1::uuid)", -1},
    {NULL, NULL, -1},
};

static void on_added(mf_req_t *r, PGresult *res)
{
    int created = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    mf_respond_json(r, created ? 201 : 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static json_t *columns_or_null(json_t *cols, mf_json_err_t *err)
{
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        char where[64];
        mf_json_path_index(where, sizeof(where), "columns", i);
        json_t *col = mf_catalog_column_from_json(c, where, NULL, err);
        if (col == NULL) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, col);
    }
    return out;
}

static void add_edge(mf_req_t *r)
{
    static const char *const allowed[] = {"source", "target", "columns", NULL};
    json_t *b = mf_req_body(r), *cols, *src = NULL, *tgt = NULL, *cols_out = NULL;
    mf_json_err_t err;
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_array(b, "", "columns", MF_JSON_NULLABLE, 10000, &cols, &err) != 0)
        goto bad;
    if (json_object_get(b, "source") == NULL || json_object_get(b, "target") == NULL) {
        snprintf(err.msg, sizeof(err.msg), "%s is required", json_object_get(b, "source") ? "target" : "source");
        goto bad;
    }
    if ((src = mf_catalog_ref_from_json(json_object_get(b, "source"), "source", &err)) == NULL ||
        (tgt = mf_catalog_ref_from_json(json_object_get(b, "target"), "target", &err)) == NULL ||
        (cols_out = cols ? columns_or_null(cols, &err) : json_array()) == NULL)
        goto bad;
    size_t l1, l2, l3;
    char *s1 = mf_json_dump(src, &l1), *s2 = mf_json_dump(tgt, &l2), *s3 = mf_json_dump(cols_out, &l3);
    const char *params[] = {s1, s2, s3};
    int rc = mf_req_query_or_respond(r, &stmts[ADD], 3, params, on_added);
    (void)rc;
    free(s1);
    free(s2);
    free(s3);
    json_decref(src);
    json_decref(tgt);
    json_decref(cols_out);
    return;
bad:
    json_decref(src);
    json_decref(tgt);
    mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
}

static void list_edges(mf_req_t *r)
{
    const char *dataset, *ns, *dir = mf_req_query(r, "direction");
    if (mf_api_query_name_or_respond(r, "dataset", 0, &dataset) != 0 ||
        mf_api_query_name_or_respond(r, "namespace", 0, &ns) != 0)
        return;
    if (dir == NULL || dir[0] == '\0')
        dir = "both";
    if (strcmp(dir, "up") != 0 && strcmp(dir, "down") != 0 && strcmp(dir, "both") != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "direction must be up, down or both");
        return;
    }
    const char *extra[] = {dataset, ns ? ns : "default", dir};
    if (mf_list_query_or_respond(r, &stmts[LIST], 3, extra, 1) != 0)
        return;
}

static void on_deleted(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) < 1)
        mf_respond_error(r, MF_ENOT_FOUND, "lineage edge not found");
    else
        mf_respond_empty(r, 204);
}

static void delete_edge(mf_req_t *r)
{
    const char *id = mf_req_param(r, "id");
    if (!mf_is_uuid(id, strlen(id))) {
        mf_respond_error(r, MF_ENOT_FOUND, "lineage edge not found");
        return;
    }
    const char *params[] = {id};
    if (mf_req_query_or_respond(r, &stmts[DELETE], 1, params, on_deleted) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/lineage/edges", MF_ROLE_EDITOR, add_edge, 1},
    {"GET", "/api/v1/lineage/edges", MF_ROLE_VIEWER, list_edges, 0},
    {"DELETE", "/api/v1/lineage/edges/{id}", MF_ROLE_EDITOR, delete_edge, 0},
};

void mf_api_register_lineage(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
