/*
 * tenants.c: the platform operator's tenant routes. They use the privileged
 * path (SECURITY DEFINER functions) because a tenant being created has no
 * tenant context yet and listing spans every tenant; the route table admits
 * only the platform key.
 *
 * A tenant is active, suspended or deleting (migrations/0005_tenant_admin.sql).
 * Suspend, reactivate and delete go through one function that changes the
 * status, writes the tenant.<action> audit row and returns the tenant's live
 * key ids; the handler drops those keys from every key cache (this process's
 * threads and, over Redis, the other replicas) so the change applies at once
 * rather than after MF_KEY_CACHE_TTL. `mf-api purge` erases deleting tenants
 * once their purge_after has passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/config.h"
#include "mf/list.h"
#include "mf/quota.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define CREATE 0
    {"tenant_create", "SELECT mf_admin_create_tenant($1, $2, $3, $4)::text", -1},
#define LIST 1
    {"tenant_list", "SELECT items, next_key FROM mf_admin_list_tenants($1::int, $2::jsonb)", -1},
#define GET 2
    {"tenant_get", "SELECT mf_admin_get_tenant($1::uuid)::text", -1},
#define UPDATE 3
    {"tenant_update", "SELECT mf_admin_update_tenant_limits($1::uuid, $2, $3, $4::jsonb)::text", -1},
#define TRANSITION 4
    {"tenant_transition", "SELECT doc, key_ids FROM mf_admin_tenant_transition($1::uuid, $2, $3::int)", -1},
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

/* The {id} of the path; answers 404 itself when it cannot be a tenant id. */
static const char *tenant_id_or_respond(mf_req_t *r)
{
    const char *id = mf_req_param(r, "id");
    if (!mf_is_uuid(id, strlen(id))) {
        mf_respond_error(r, MF_ENOT_FOUND, "tenant not found");
        return NULL;
    }
    return id;
}

static void get_tenant(mf_req_t *r)
{
    const char *id = tenant_id_or_respond(r);
    if (id == NULL)
        return;
    const char *params[] = {id};
    if (mf_req_query_untenanted_or_respond(r, &stmts[GET], 1, params, on_tenant) != 0)
        return;
}

/* quotas: per-tenant overrides of the plan's limits (mf_quota_check_limits; null drops one). */
static void update_tenant(mf_req_t *r)
{
    static const char *const allowed[] = {"name", "plan", "quotas", NULL};
    const char *id = tenant_id_or_respond(r), *name = NULL, *plan = NULL;
    if (id == NULL)
        return;
    mf_json_err_t err;
    json_t *b = mf_req_body(r), *quotas = NULL;
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "name", 0, 1, 128, &name, &err) != 0 ||
        mf_json_string(b, "", "plan", 0, 1, 32, &plan, &err) != 0 ||
        mf_json_object(b, "", "quotas", 0, &quotas, &err) != 0 ||
        (quotas != NULL && mf_quota_check_limits(quotas, "quotas", 1, &err) != 0)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    if (name == NULL && plan == NULL && quotas == NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "give name or plan (or quotas) to change");
        return;
    }
    size_t n;
    char *quotas_json = quotas != NULL ? mf_json_dump(quotas, &n) : NULL;
    const char *params[] = {id, name, plan, quotas_json};
    if (mf_req_query_untenanted_or_respond(r, &stmts[UPDATE], 4, params, on_tenant) != 0) {
        /* answered 503 */
    }
    free(quotas_json);
}

/* Row 0 of a transition: the tenant document. Every cached key and session is
 * dropped on every replica, so the new status holds from the next request. */
static void respond_transition(mf_req_t *r, PGresult *res, int status)
{
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        mf_respond_error(r, MF_ENOT_FOUND, "tenant not found");
        return;
    }
    mf_http_forget_key(mf_req_param(r, "id"));
    mf_respond_json(r, status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static void on_transition_ok(mf_req_t *r, PGresult *res) { respond_transition(r, res, 200); }
static void on_transition_accepted(mf_req_t *r, PGresult *res) { respond_transition(r, res, 202); }

static void transition(mf_req_t *r, const char *action, mf_req_pg_cb cb)
{
    const char *id = tenant_id_or_respond(r);
    if (id == NULL)
        return;
    char grace[24];
    snprintf(grace, sizeof(grace), "%lld", mf_config_int(MF_CFG_TENANT_DELETE_GRACE_DAYS));
    const char *params[] = {id, action, grace};
    if (mf_req_query_untenanted_or_respond(r, &stmts[TRANSITION], 3, params, cb) != 0)
        return;
}

static void suspend_tenant(mf_req_t *r) { transition(r, "suspend", on_transition_ok); }
static void reactivate_tenant(mf_req_t *r) { transition(r, "reactivate", on_transition_ok); }
static void delete_tenant(mf_req_t *r) { transition(r, "delete", on_transition_accepted); }

static const mf_route_t routes[] = {
    {"POST", "/api/v1/admin/tenants", MF_ROLE_PLATFORM_ADMIN, create_tenant, 1},
    {"GET", "/api/v1/admin/tenants", MF_ROLE_BILLING_ADMIN, list_tenants, 0},
    {"GET", "/api/v1/admin/tenants/{id}", MF_ROLE_BILLING_ADMIN, get_tenant, 0},
    {"PUT", "/api/v1/admin/tenants/{id}", MF_ROLE_PLATFORM_ADMIN, update_tenant, 1},
    {"DELETE", "/api/v1/admin/tenants/{id}", MF_ROLE_PLATFORM_ADMIN, delete_tenant, 0},
    {"POST", "/api/v1/admin/tenants/{id}/suspend", MF_ROLE_PLATFORM_ADMIN, suspend_tenant, 0},
    {"POST", "/api/v1/admin/tenants/{id}/reactivate", MF_ROLE_PLATFORM_ADMIN, reactivate_tenant, 0},
};

void mf_api_register_tenants(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
