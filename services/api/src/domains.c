/*
 * domains.c: domains and owners, the two small directories datasets point
 * to. Both are also created on first use by the write path.
 */
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define DOMAIN_CREATE 0
    {"domain_create",
     "WITH ins AS (INSERT INTO domains (tenant_id, name, description) VALUES (mf_current_tenant(), $1, coalesce($2, '')) "
     "             ON CONFLICT DO NOTHING RETURNING *) "
     "SELECT jsonb_build_object('name', name, 'description', description, 'datasets', 0, "
     "                          'created_at', mf_ts(created_at))::text FROM ins",
     -1},
#define DOMAIN_LIST 1
    {"domain_list",
     "SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN jsonb_build_array((array_agg(name ORDER BY rn))[$1::int])::text END "
     "FROM (SELECT m.name, jsonb_build_object('name', m.name, 'description', m.description, "
     "             'datasets', (SELECT count(*) FROM datasets d WHERE d.domain_id = m.id), "
     "             'created_at', mf_ts(m.created_at)) doc, row_number() OVER (ORDER BY m.name) rn "
     "      FROM domains m WHERE m.tenant_id = mf_current_tenant() AND ($2::jsonb IS NULL OR m.name > $2::jsonb->>0) "
     "      ORDER BY m.name LIMIT $1::int + 1) s",
     -1},
#define DOMAIN_GET 2
    {"domain_get",
     "SELECT jsonb_build_object('name', m.name, 'description', m.description, "
     "       'datasets', (SELECT count(*) FROM datasets d WHERE d.domain_id = m.id), "
     "       'created_at', mf_ts(m.created_at))::text "
     "FROM domains m WHERE m.tenant_id = mf_current_tenant() AND m.name = $1",
     -1},
#define DOMAIN_DELETE 3
    {"domain_delete", "SELECT 1 WHERE mf_delete_domain($1)", -1},
#define OWNER_CREATE 4
    {"owner_create",
     "WITH ins AS (INSERT INTO owners (tenant_id, name, email, team) VALUES (mf_current_tenant(), $1, $2, $3) "
     "             ON CONFLICT DO NOTHING RETURNING *) "
     "SELECT jsonb_build_object('name', name, 'email', email, 'team', team, 'datasets', 0, "
     "                          'created_at', mf_ts(created_at))::text FROM ins",
     -1},
#define OWNER_LIST 5
    {"owner_list",
     "SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN jsonb_build_array((array_agg(name ORDER BY rn))[$1::int])::text END "
     "FROM (SELECT o.name, jsonb_build_object('name', o.name, 'email', o.email, 'team', o.team, "
     "             'datasets', (SELECT count(*) FROM datasets d WHERE d.owner_id = o.id), "
     "             'created_at', mf_ts(o.created_at)) doc, row_number() OVER (ORDER BY o.name) rn "
     "      FROM owners o WHERE o.tenant_id = mf_current_tenant() AND ($2::jsonb IS NULL OR o.name > $2::jsonb->>0) "
     "      ORDER BY o.name LIMIT $1::int + 1) s",
     -1},
#define OWNER_GET 6
    {"owner_get",
     "SELECT jsonb_build_object('name', o.name, 'email', o.email, 'team', o.team, "
     "       'datasets', (SELECT count(*) FROM datasets d WHERE d.owner_id = o.id), "
     "       'created_at', mf_ts(o.created_at))::text "
     "FROM owners o WHERE o.tenant_id = mf_current_tenant() AND o.name = $1",
     -1},
#define OWNER_DELETE 7
    {"owner_delete", "SELECT 1 WHERE mf_delete_owner($1)", -1},
    {NULL, NULL, -1},
};

static void on_created(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1) {
        mf_respond_error(r, MF_ECONFLICT, "a %s with this name already exists", (const char *)mf_req_data(r));
        return;
    }
    mf_respond_json(r, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static void create_domain(mf_req_t *r)
{
    static const char *const allowed[] = {"name", "description", NULL};
    const char *name, *desc;
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "name", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &name, &err) != 0 ||
        mf_json_string(b, "", "description", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX, &desc, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    mf_req_set_data(r, (void *)"domain", NULL);
    const char *params[] = {name, desc};
    if (mf_req_query_or_respond(r, &stmts[DOMAIN_CREATE], 2, params, on_created) != 0)
        return;
}

static void create_owner(mf_req_t *r)
{
    static const char *const allowed[] = {"name", "email", "team", NULL};
    const char *name, *email, *team;
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "name", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &name, &err) != 0 ||
        mf_json_string(b, "", "email", MF_JSON_NULLABLE, 3, 320, &email, &err) != 0 ||
        mf_json_string(b, "", "team", MF_JSON_NULLABLE, 1, MF_NAME_MAX, &team, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    if (email != NULL && strchr(email, '@') == NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "email must be an email address");
        return;
    }
    mf_req_set_data(r, (void *)"owner", NULL);
    const char *params[] = {name, email, team};
    if (mf_req_query_or_respond(r, &stmts[OWNER_CREATE], 3, params, on_created) != 0)
        return;
}

static void list(mf_req_t *r, int stmt)
{
    if (mf_list_query_or_respond(r, &stmts[stmt], 0, NULL, 1) != 0)
        return;
}

static void list_domains(mf_req_t *r) { list(r, DOMAIN_LIST); }
static void list_owners(mf_req_t *r) { list(r, OWNER_LIST); }

static void on_got(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "not found"); }

static void on_deleted(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1)
        mf_respond_error(r, MF_ENOT_FOUND, "not found");
    else
        mf_respond_empty(r, 204);
}

static void by_name(mf_req_t *r, int stmt, mf_req_pg_cb cb)
{
    const char *params[] = {mf_req_param(r, "name")};
    if (mf_req_query_or_respond(r, &stmts[stmt], 1, params, cb) != 0)
        return;
}

static void get_domain(mf_req_t *r) { by_name(r, DOMAIN_GET, on_got); }
static void delete_domain(mf_req_t *r) { by_name(r, DOMAIN_DELETE, on_deleted); }
static void get_owner(mf_req_t *r) { by_name(r, OWNER_GET, on_got); }
static void delete_owner(mf_req_t *r) { by_name(r, OWNER_DELETE, on_deleted); }

static const mf_route_t routes[] = {
    {"POST", "/api/v1/domains", MF_ROLE_EDITOR, create_domain, 1},
    {"GET", "/api/v1/domains", MF_ROLE_VIEWER, list_domains, 0},
    {"GET", "/api/v1/domains/{name}", MF_ROLE_VIEWER, get_domain, 0},
    {"DELETE", "/api/v1/domains/{name}", MF_ROLE_EDITOR, delete_domain, 0},
    {"POST", "/api/v1/owners", MF_ROLE_EDITOR, create_owner, 1},
    {"GET", "/api/v1/owners", MF_ROLE_VIEWER, list_owners, 0},
    {"GET", "/api/v1/owners/{name}", MF_ROLE_VIEWER, get_owner, 0},
    {"DELETE", "/api/v1/owners/{name}", MF_ROLE_EDITOR, delete_owner, 0},
};

void mf_api_register_domains(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
