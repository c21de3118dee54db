/*
 * tenants.c: the platform operator's tenant routes. They use the privileged
 * path (SECURITY DEFINER functions) because a tenant being created has no
 * tenant context yet and listing spans every tenant; the route table admits
 * only the platform key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/config.h"
#include "mf/list.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define CREATE 0
    {"tenant_create", "SELECT mf_admin_create_tenant($1, $2, $3, $4)::text", -1},
#define LIST 1
    {"tenant_list", "SELECT items, next_key FROM mf_admin_list_tenants($1::int, $2::jsonb)", -1},
#define GET 2
    {"tenant_get", "SELECT mf_admin_get_tenant($1::uuid)::text", -1},
    {NULL, NULL, -1},
};

static void on_created(mf_req_t *r, PGresult *res) { mf_api_respond_with_key(r, res, "tenant"); }

static void create_tenant(mf_req_t *r)
{
    static const char *const allowed[] = {"name", "plan", NULL};
    const char *name, *plan;
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "name", MF_JSON_REQUIRED, 1, 128, &name, &err) != 0 ||
        mf_json_string(b, "", "plan", MF_JSON_NULLABLE, 1, 32, &plan, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    char *key = mf_malloc(MF_KEY_MAX_LEN), prefix[MF_KEY_PREFIX_LEN + 1], hash[65];
    mf_auth_key_new(mf_config_str(MF_CFG_KEY_ENV), key, prefix, hash);
    mf_req_set_data(r, key, free);
    const char *params[] = {name, plan ? plan : "free", prefix, hash};
    if (mf_req_query_untenanted_or_respond(r, &stmts[CREATE], 4, params, on_created) != 0)
        return;
}

static void list_tenants(mf_req_t *r)
{
    if (mf_list_query_or_respond(r, &stmts[LIST], 0, NULL, 0) != 0)
        return;
}

static void on_tenant(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "tenant not found"); }

static void get_tenant(mf_req_t *r)
{
    const char *id = mf_req_param(r, "id");
    if (!mf_is_uuid(id, strlen(id))) {
        mf_respond_error(r, MF_ENOT_FOUND, "tenant not found");
        return;
    }
    const char *params[] = {id};
    if (mf_req_query_untenanted_or_respond(r, &stmts[GET], 1, params, on_tenant) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/admin/tenants", MF_ROLE_PLATFORM_ADMIN, create_tenant, 1},
    {"GET", "/api/v1/admin/tenants", MF_ROLE_PLATFORM_ADMIN, list_tenants, 0},
    {"GET", "/api/v1/admin/tenants/{id}", MF_ROLE_PLATFORM_ADMIN, get_tenant, 0},
};

void mf_api_register_tenants(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
