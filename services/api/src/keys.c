/*
 * keys.c: API keys of people and services.
 *
 *   POST   /api/v1/api-keys       {name, role, expires_at?, scope?, type?} -> 201, the secret shown once
 *   GET    /api/v1/api-keys       a tenant admin: every key; anyone else: their own personal keys
 *   DELETE /api/v1/api-keys/{id}  a tenant admin: any key; anyone else: their own personal keys
 *
 * Every member may hold keys (the routes need viewer); what a caller may
 * create, see or revoke is decided in SQL (migrations/0006_people.sql) from
 * the caller's role, passed as a parameter, and the per-transaction settings
 * mf.user_id and mf.scope: a personal key acts for its user and never exceeds
 * what the user holds, a service key acts for the tenant and only a tenant
 * admin manages those, and no key gets a higher role or a wider scope than
 * its creator. The key itself is made here; the database sees only its
 * prefix and SHA-256, and the secret goes back once in the 201 answer.
 * Revocation drops the key from every cache of every replica.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "api.h"
#include "mf/config.h"
#include "mf/json.h"
#include "mf/list.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define CREATE 0
    {"api_key_create",
     "SELECT mf_api_key_create($1, $2, $3, $4, $5, $6, $7::timestamptz, $8, $9, $10)::text", -1},
#define LIST 1
    {"api_key_list", "SELECT items, next_key FROM mf_api_key_list($1::int, $2::jsonb, $3)", -1},
#define REVOKE 2
    {"api_key_revoke", "SELECT id::text FROM mf_api_key_revoke($1::uuid, $2) id", -1},
    {NULL, NULL, -1},
};

/* The new key between the handler and the answer; wiped when the request ends. */
typedef struct {
    char key[MF_KEY_MAX_LEN];
} new_key_t;

static void new_key_free(void *p)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, sizeof(new_key_t));
    free(p);
}

static void on_created(mf_req_t *r, PGresult *res)
{
    const new_key_t *nk = mf_req_data(r);
    json_t *doc = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        mf_respond_error(r, MF_EINTERNAL, NULL);
        return;
    }
    json_object_set_new(doc, "key", json_string(nk->key));
    mf_req_add_header(r, "cache-control", "no-store");
    mf_respond_jsonv(r, 201, doc);
    json_decref(doc);
}

/*
 * scope: null | {"domain": name} | {"dataset": {"namespace"?: ns, "name": name}}. Fills the
 * names (borrowed from the body; NULL when absent). MF_EINVALID_REQUEST with err on bad input.
 */
static int parse_scope(json_t *b, const char **domain, const char **ns, const char **dataset, mf_json_err_t *err)
{
    static const char *const scope_fields[] = {"domain", "dataset", NULL};
    static const char *const ref_fields[] = {"namespace", "name", NULL};
    json_t *scope = NULL, *ref = NULL;
    *domain = *ns = *dataset = NULL;
    if (mf_json_object(b, "", "scope", MF_JSON_NULLABLE, &scope, err) != 0)
        return MF_EINVALID_REQUEST;
    if (scope == NULL)
        return 0;
    if (mf_json_only_fields(scope, "scope", scope_fields, err) != 0)
        return MF_EINVALID_REQUEST;
    if (json_object_size(scope) != 1)
        return mf_json_fail(err, "scope must be {\"domain\": name} or {\"dataset\": {\"namespace\", \"name\"}}, "
                                 "or null for the whole tenant");
    if (mf_json_string(scope, "scope", "domain", 0, 1, 512, domain, err) != 0 ||
        mf_json_object(scope, "scope", "dataset", 0, &ref, err) != 0)
        return MF_EINVALID_REQUEST;
    if (ref != NULL && (mf_json_only_fields(ref, "scope.dataset", ref_fields, err) != 0 ||
                        mf_json_string(ref, "scope.dataset", "namespace", MF_JSON_NULLABLE, 1, 512, ns, err) != 0 ||
                        mf_json_string(ref, "scope.dataset", "name", MF_JSON_REQUIRED, 1, 512, dataset, err) != 0))
        return MF_EINVALID_REQUEST;
    return 0;
}

static void create_key(mf_req_t *r)
{
    static const char *const allowed[] = {"name", "role", "expires_at", "scope", "type", NULL};
    const char *name, *role, *expires, *type, *domain, *ns, *dataset;
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "name", MF_JSON_REQUIRED, 1, 128, &name, &err) != 0 ||
        mf_json_string(b, "", "role", MF_JSON_REQUIRED, 1, 16, &role, &err) != 0 ||
        mf_json_string(b, "", "expires_at", MF_JSON_NULLABLE, 10, 40, &expires, &err) != 0 ||
        mf_json_string(b, "", "type", MF_JSON_NULLABLE, 1, 16, &type, &err) != 0 ||
        parse_scope(b, &domain, &ns, &dataset, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    mf_role_t rl = mf_role_parse(role);
    if (rl < MF_ROLE_VIEWER || rl > MF_ROLE_ADMIN) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "role must be viewer, editor or admin");
        return;
    }
    if (type != NULL && strcmp(type, "personal") != 0 && strcmp(type, "service") != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "type must be personal or service");
        return;
    }
    if (expires != NULL && !mf_time_is_rfc3339(expires)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "expires_at must be an RFC 3339 timestamp");
        return;
    }
    new_key_t *nk = mf_calloc(1, sizeof(*nk));
    char prefix[MF_KEY_PREFIX_LEN + 1], hash[65];
    mf_auth_key_new(mf_config_str(MF_CFG_KEY_ENV), nk->key, prefix, hash);
    mf_req_set_data(r, nk, new_key_free);
    const char *params[] = {name,    role,   type, domain, ns, dataset, expires, prefix, hash,
                            mf_role_name(mf_req_identity(r)->role)};
    if (mf_req_query_or_respond(r, &stmts[CREATE], 10, params, on_created) != 0)
        return;
}

static void list_keys(mf_req_t *r)
{
    const char *extra[] = {mf_role_name(mf_req_identity(r)->role)};
    if (mf_list_query_or_respond(r, &stmts[LIST], 1, extra, 1) != 0)
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
    const char *params[] = {id, mf_role_name(mf_req_identity(r)->role)};
    if (mf_req_query_or_respond(r, &stmts[REVOKE], 2, params, on_revoked) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/api-keys", MF_ROLE_VIEWER, create_key, 1},
    {"GET", "/api/v1/api-keys", MF_ROLE_VIEWER, list_keys, 0},
    {"DELETE", "/api/v1/api-keys/{id}", MF_ROLE_VIEWER, revoke_key, 0},
};

void mf_api_register_keys(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
