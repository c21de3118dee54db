/*
 * glossary.c: glossary terms (draft, approved, deprecated) and their links to
 * datasets and fields.
 */
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define CREATE 0
    {"term_create",
     "WITH ins AS (INSERT INTO glossary_terms (tenant_id, name, definition, status) "
     "             VALUES (mf_current_tenant(), $1, coalesce($2, ''), coalesce($3, 'draft')) "
     "             ON CONFLICT DO NOTHING RETURNING *) "
     "SELECT mf_term_doc(ins)::text FROM ins",
     -1},
#define LIST 1
    {"term_list",
     "SELECT coalesce(jsonb_agg(mf_term_doc(t) ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN jsonb_build_array((array_agg((t).name ORDER BY rn))[$1::int])::text END "
     "FROM (SELECT t, row_number() OVER (ORDER BY t.name) rn FROM glossary_terms t "
     "      WHERE t.tenant_id = mf_current_tenant() AND ($2::jsonb IS NULL OR t.name > $2::jsonb->>0) "
     "        AND ($3::text IS NULL OR t.status = $3) ORDER BY t.name LIMIT $1::int + 1) s",
     -1},
#define GET 2
    {"term_get",
     "SELECT mf_term_doc(t)::text FROM glossary_terms t WHERE t.tenant_id = mf_current_tenant() AND t.name = $1", -1},
#define UPDATE 3
    {"term_update",
     "UPDATE glossary_terms t SET definition = coalesce($2, t.definition), status = coalesce($3, t.status), "
     "       updated_at = now() "
     "WHERE t.tenant_id = mf_current_tenant() AND t.name = $1 RETURNING mf_term_doc(t)::text",
     -1},
#define DELETE 4
    {"term_delete",
     "DELETE FROM glossary_terms WHERE tenant_id = mf_current_tenant() AND name = $1 RETURNING 'null'", -1},
#define LINK 5
    {"term_link", "SELECT mf_link_term($1, $2, $3, $4, $5::boolean)::text", -1},
    {NULL, NULL, -1},
};

static int status_ok(const char *s)
{
    return s == NULL || strcmp(s, "draft") == 0 || strcmp(s, "approved") == 0 || strcmp(s, "deprecated") == 0;
}

static void on_created(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1)
        mf_respond_error(r, MF_ECONFLICT, "a glossary term with this name already exists");
    else
        mf_respond_json(r, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

/* Decode {name, definition, status}; name required on create, must match the URL on update. */
static int term_body_or_respond(mf_req_t *r, const char *url_name, const char **name, const char **def,
                                const char **status)
{
    static const char *const allowed[] = {"name", "definition", "status", NULL};
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "name", url_name ? 0 : MF_JSON_REQUIRED, 1, MF_NAME_MAX, name, &err) != 0 ||
        mf_json_string(b, "", "definition", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX, def, &err) != 0 ||
        mf_json_string(b, "", "status", MF_JSON_NULLABLE, 1, 16, status, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return MF_EINVALID_REQUEST;
    }
    if (!status_ok(*status)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "status must be draft, approved or deprecated");
        return MF_EINVALID_REQUEST;
    }
    if (url_name != NULL && *name != NULL && strcmp(*name, url_name) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "name in the body does not match the URL (terms cannot be renamed)");
        return MF_EINVALID_REQUEST;
    }
    return 0;
}

static void create_term(mf_req_t *r)
{
    const char *name, *def, *status;
    if (term_body_or_respond(r, NULL, &name, &def, &status) != 0)
        return;
    const char *params[] = {name, def, status};
    if (mf_req_query_or_respond(r, &stmts[CREATE], 3, params, on_created) != 0)
        return;
}

static void on_term(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "glossary term not found"); }

static void update_term(mf_req_t *r)
{
    const char *name, *def, *status;
    if (term_body_or_respond(r, mf_req_param(r, "name"), &name, &def, &status) != 0)
        return;
    const char *params[] = {mf_req_param(r, "name"), def, status};
    if (mf_req_query_or_respond(r, &stmts[UPDATE], 3, params, on_term) != 0)
        return;
}

static void get_term(mf_req_t *r)
{
    const char *params[] = {mf_req_param(r, "name")};
    if (mf_req_query_or_respond(r, &stmts[GET], 1, params, on_term) != 0)
        return;
}

static void on_deleted(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1)
        mf_respond_error(r, MF_ENOT_FOUND, "glossary term not found");
    else
        mf_respond_empty(r, 204);
}

static void delete_term(mf_req_t *r)
{
    const char *params[] = {mf_req_param(r, "name")};
    if (mf_req_query_or_respond(r, &stmts[DELETE], 1, params, on_deleted) != 0)
        return;
}

static void list_terms(mf_req_t *r)
{
    const char *status = mf_req_query(r, "status");
    if (status != NULL && status[0] == '\0')
        status = NULL;
    if (!status_ok(status)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "status must be draft, approved or deprecated");
        return;
    }
    const char *extra[] = {status};
    if (mf_list_query_or_respond(r, &stmts[LIST], 1, extra, 1) != 0)
        return;
}

static void add_link(mf_req_t *r)
{
    static const char *const allowed[] = {"dataset", "namespace", "field", NULL};
    const char *dataset, *ns, *field;
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "dataset", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &dataset, &err) != 0 ||
        mf_json_string(b, "", "namespace", MF_JSON_NULLABLE, 1, MF_NAME_MAX, &ns, &err) != 0 ||
        mf_json_string(b, "", "field", MF_JSON_NULLABLE, 1, MF_NAME_MAX, &field, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    const char *params[] = {mf_req_param(r, "name"), ns ? ns : "default", dataset, field, "true"};
    if (mf_req_query_or_respond(r, &stmts[LINK], 5, params, on_term) != 0)
        return;
}

static void remove_link(mf_req_t *r)
{
    const char *dataset, *ns, *field;
    if (mf_api_query_name_or_respond(r, "dataset", 1, &dataset) != 0 ||
        mf_api_query_name_or_respond(r, "namespace", 0, &ns) != 0 ||
        mf_api_query_name_or_respond(r, "field", 0, &field) != 0)
        return;
    const char *params[] = {mf_req_param(r, "name"), ns ? ns : "default", dataset, field, "false"};
    if (mf_req_query_or_respond(r, &stmts[LINK], 5, params, on_term) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/glossary/terms", MF_ROLE_EDITOR, create_term, 1},
    {"GET", "/api/v1/glossary/terms", MF_ROLE_VIEWER, list_terms, 0},
    {"GET", "/api/v1/glossary/terms/{name}", MF_ROLE_VIEWER, get_term, 0},
    {"PUT", "/api/v1/glossary/terms/{name}", MF_ROLE_EDITOR, update_term, 1},
    {"DELETE", "/api/v1/glossary/terms/{name}", MF_ROLE_EDITOR, delete_term, 0},
    {"POST", "/api/v1/glossary/terms/{name}/links", MF_ROLE_EDITOR, add_link, 1},
    {"DELETE", "/api/v1/glossary/terms/{name}/links", MF_ROLE_EDITOR, remove_link, 0},
};

void mf_api_register_glossary(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
