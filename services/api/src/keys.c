/*
 * keys.c: a tenant admin's API keys: create (the secret is shown once),
 * list, revoke. Only the prefix and the SHA-256 of the key are stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/config.h"
#include "mf/list.h"
#include "mf/util.h"

#define KEY_DOC(k)                                                                                                 \
    "jsonb_build_object('id', " k ".id, 'name', " k ".name, 'prefix', " k ".prefix, 'role', " k ".role, "          \
    "'created_at', mf_ts(" k ".created_at), 'expires_at', mf_ts(" k ".expires_at), "                               \
    "'revoked_at', mf_ts(" k ".revoked_at), 'last_used_at', mf_ts(" k ".last_used_at))"

static mf_pg_stmt_t stmts[] = {
#define CREATE 0
    {"key_create",
     "INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, role, created_by, expires_at) "
     "SELECT mf_current_tenant(), $1, $2, $3, $4, current_setting('mf.actor', true), $5::timestamptz "
     "WHERE CASE WHEN $5::timestamptz <= now() THEN mf_raise('400', 'expires_at must be in the future') IS NULL "
     "           ELSE true END "
     "RETURNING " KEY_DOC("api_keys") "::text",
     -1},
#define LIST 1
    {"key_list",
     "SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN (array_agg(key ORDER BY rn))[$1::int]::text END "
     "FROM (SELECT " KEY_DOC("k") " doc, jsonb_build_array(k.created_at::text, k.id::text) key, "
     "             row_number() OVER (ORDER BY k.created_at, k.id) rn "
     "      FROM api_keys k WHERE k.tenant_id = mf_current_tenant() "
     "        AND ($2::jsonb IS NULL OR (k.created_at, k.id) > (($2::jsonb->>0)::timestamptz, ($2::jsonb->>1)::uuid)) "
     "      ORDER BY k.created_at, k.id LIMIT $1::int + 1) s",
     -1},
#define REVOKE 2
    {"key_revoke",
     "UPDATE api_keys SET revoked_at = now() WHERE tenant_id = mf_current_tenant() AND id = $1::uuid "
     "AND revoked_at IS NULL RETURNING id::text",
     -1},
    {NULL, NULL, -1},
};

static void on_created(mf_req_t *r, PGresult *res) { mf_api_respond_with_key(r, res, "key"); }

static void create_key(mf_req_t *r)
{
    static const char *const allowed[] = {"name", "role", "expires_at", NULL};
    const char *name, *role, *expires;
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "name", MF_JSON_REQUIRED, 1, 128, &name, &err) != 0 ||
        mf_json_string(b, "", "role", MF_JSON_REQUIRED, 1, 16, &role, &err) != 0 ||
        mf_json_string(b, "", "expires_at", MF_JSON_NULLABLE, 10, 40, &expires, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    mf_role_t rl = mf_role_parse(role);
    if (rl < MF_ROLE_VIEWER || rl > MF_ROLE_ADMIN) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "role must be viewer, editor or admin");
        return;
    }
    if (expires != NULL && !mf_time_is_rfc3339(expires)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "expires_at must be an RFC 3339 timestamp");
        return;
    }
    char *key = mf_malloc(MF_KEY_MAX_LEN), prefix[MF_KEY_PREFIX_LEN + 1], hash[65];
    mf_auth_key_new(mf_config_str(MF_CFG_KEY_ENV), key, prefix, hash);
    mf_req_set_data(r, key, free);
    const char *params[] = {name, prefix, hash, role, expires};
    if (mf_req_query_or_respond(r, &stmts[CREATE], 5, params, on_created) != 0)
        return;
}

static void list_keys(mf_req_t *r)
{
    if (mf_list_query_or_respond(r, &stmts[LIST], 0, NULL, 1) != 0)
        return;
}

static void on_revoked(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1) {
        mf_respond_error(r, MF_ENOT_FOUND, "API key not found or already revoked");
        return;
    }
    mf_http_forget_key(PQgetvalue(res, 0, 0));
    mf_respond_empty(r, 204);
}

static void revoke_key(mf_req_t *r)
{
    const char *id = mf_req_param(r, "id");
    if (!mf_is_uuid(id, strlen(id))) {
        mf_respond_error(r, MF_ENOT_FOUND, "API key not found");
        return;
    }
    const char *params[] = {id};
    if (mf_req_query_or_respond(r, &stmts[REVOKE], 1, params, on_revoked) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/keys", MF_ROLE_ADMIN, create_key, 1},
    {"GET", "/api/v1/keys", MF_ROLE_ADMIN, list_keys, 0},
    {"DELETE", "/api/v1/keys/{id}", MF_ROLE_ADMIN, revoke_key, 0},
};

void mf_api_register_keys(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
