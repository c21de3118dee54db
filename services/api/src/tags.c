/*
 * tags.c: tags on datasets and their fields (add, remove) and the tenant's
 * tag list with usage counts. Each change bumps the dataset's version.
 */
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define TAG 0
    {"tag_set",
     "SELECT mf_access_dataset_doc(d)::text, d->>'version' FROM mf_tag_dataset($1, $2, $3, $4, $5::boolean) AS d", -1},
#define LIST 1
    {"tag_list",
     "SELECT coalesce(jsonb_agg(jsonb_build_object('tag', tag, 'datasets', ds, 'fields', fs) ORDER BY tag) "
     "                FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN jsonb_build_array((array_agg(tag ORDER BY tag))[$1::int])::text END "
     "FROM (SELECT tag, sum(ds) ds, sum(fs) fs, row_number() OVER (ORDER BY tag) rn FROM ( "
     "        SELECT unnest(tags) tag, 1 ds, 0 fs FROM datasets WHERE tenant_id = mf_current_tenant() "
     "        UNION ALL SELECT unnest(tags), 0, 1 FROM fields WHERE tenant_id = mf_current_tenant()) x "
     "      WHERE $2::jsonb IS NULL OR tag > $2::jsonb->>0 "
     "      GROUP BY tag ORDER BY tag LIMIT $1::int + 1) s",
     -1},
    {NULL, NULL, -1},
};

static void on_tagged(mf_req_t *r, PGresult *res) { mf_api_respond_dataset(r, res, 200); }

/* field: NULL for the dataset itself; tag from the body (add) or the path (remove). */
static void change_tag(mf_req_t *r, const char *field, int add)
{
    const char *ns = mf_api_namespace_or_respond(r), *tag;
    if (ns == NULL)
        return;
    if (add) {
        static const char *const allowed[] = {"tag", NULL};
        mf_json_err_t err;
        if (mf_json_only_fields(mf_req_body(r), "", allowed, &err) != 0 ||
            mf_json_string(mf_req_body(r), "", "tag", MF_JSON_REQUIRED, 1, MF_TAG_MAX, &tag, &err) != 0) {
            mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
            return;
        }
    } else {
        tag = mf_req_param(r, "tag");
    }
    if (!mf_catalog_tag_ok(tag)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "tag must be 1-128 characters of letters, digits and _.:/-");
        return;
    }
    const char *params[] = {ns, mf_req_param(r, "name"), field, tag, add ? "true" : "false"};
    if (mf_req_query_or_respond(r, &stmts[TAG], 5, params, on_tagged) != 0)
        return;
}

static void add_dataset_tag(mf_req_t *r) { change_tag(r, NULL, 1); }
static void remove_dataset_tag(mf_req_t *r) { change_tag(r, NULL, 0); }
static void add_field_tag(mf_req_t *r) { change_tag(r, mf_req_param(r, "field"), 1); }
static void remove_field_tag(mf_req_t *r) { change_tag(r, mf_req_param(r, "field"), 0); }

static void list_tags(mf_req_t *r)
{
    if (mf_list_query_or_respond(r, &stmts[LIST], 0, NULL, 1) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/datasets/{name}/tags", MF_ROLE_EDITOR, add_dataset_tag, 1},
    {"DELETE", "/api/v1/datasets/{name}/tags/{tag}", MF_ROLE_EDITOR, remove_dataset_tag, 0},
    {"POST", "/api/v1/datasets/{name}/fields/{field}/tags", MF_ROLE_EDITOR, add_field_tag, 1},
    {"DELETE", "/api/v1/datasets/{name}/fields/{field}/tags/{tag}", MF_ROLE_EDITOR, remove_field_tag, 0},
    {"GET", "/api/v1/tags", MF_ROLE_VIEWER, list_tags, 0},
};

void mf_api_register_tags(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
