/*
 * members.c: a tenant's people (tenant admins only).
 *
 *   GET    /api/v1/members                               members, their roles and grants
 *   GET    /api/v1/members/{user_id}                     one member
 *   PUT    /api/v1/members/{user_id}                     {role}: change the tenant role
 *   DELETE /api/v1/members/{user_id}                     remove (sessions, grants, personal keys end)
 *   POST   /api/v1/members/{user_id}/grants              {role, domain} | {role, dataset:{namespace,name}}
 *   DELETE /api/v1/members/{user_id}/grants/{grant_id}
 *   POST   /api/v1/invitations                           {email, role, expires_at?}
 *   GET    /api/v1/invitations                           pending, accepted and expired ones
 *   DELETE /api/v1/invitations/{id}
 *
 * People join a tenant on their first sign-in, through an invitation or a
 * verified email domain the tenant admits (mf_login_complete, 0004); these
 * routes manage them afterwards. Everything runs under RLS in the caller's
 * tenant through the functions of migrations/0006_people.sql, which also
 * keep the tenant's last admin member (409) and write nothing the audit
 * triggers do not see. A change that can lower what someone holds (role,
 * grant, removal) drops every cached credential of the process and, over
 * Redis, of the other replicas, so it applies at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/json.h"
#include "mf/list.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define LIST 0
    {"member_list", "SELECT items, next_key FROM mf_member_list($1::int, $2::jsonb)", -1},
#define GET 1
    {"member_get",
     "SELECT mf_member_doc(m)::text FROM memberships m WHERE m.tenant_id = mf_current_tenant() AND m.user_id = $1::uuid",
     -1},
#define SET_ROLE 2
    {"member_set_role", "SELECT mf_member_set_role($1::uuid, $2)::text", -1},
#define REMOVE 3
    {"member_remove", "SELECT mf_member_remove($1::uuid)", -1},
#define GRANT_ADD 4
    {"grant_add", "SELECT mf_grant_add($1::uuid, $2, $3, $4, $5)::text", -1},
#define GRANT_DELETE 5
    {"grant_delete",
     "DELETE FROM role_grants WHERE tenant_id = mf_current_tenant() AND user_id = $1::uuid AND id = $2::uuid "
     "RETURNING id::text",
     -1},
#define INVITE 6
    {"invitation_create", "SELECT mf_invitation_create($1, $2, $3::timestamptz)::text", -1},
#define INVITE_LIST 7
    {"invitation_list", "SELECT items, next_key FROM mf_invitation_list($1::int, $2::jsonb)", -1},
#define INVITE_DELETE 8
    {"invitation_delete",
     "DELETE FROM invitations WHERE tenant_id = mf_current_tenant() AND id = $1::uuid RETURNING id::text", -1},
    {NULL, NULL, -1},
};

/* Path parameter `name` when it is a uuid; else answers 404 `what not found` and returns NULL. */
static const char *uuid_param_or_respond(mf_req_t *r, const char *name, const char *what)
{
    const char *v = mf_req_param(r, name);
    if (!mf_is_uuid(v, strlen(v))) {
        mf_respond_error(r, MF_ENOT_FOUND, "%s not found", what);
        return NULL;
    }
    return v;
}

/* A role member of the body: required, and one of the names in allowed (NULL-terminated). */
static int role_or_fail(json_t *b, const char *const *allowed, const char *msg, const char **role, mf_json_err_t *err)
{
    if (mf_json_string(b, "", "role", MF_JSON_REQUIRED, 1, 16, role, err) != 0)
        return MF_EINVALID_REQUEST;
    for (size_t i = 0; allowed[i] != NULL; i++)
        if (strcmp(allowed[i], *role) == 0)
            return 0;
    return mf_json_fail(err, "%s", msg);
}

static const char *const tenant_roles[] = {"viewer", "editor", "admin", NULL};
#define TENANT_ROLES_MSG "role must be viewer, editor or admin"

/* ---------- members ---------- */

static void list_members(mf_req_t *r)
{
    if (mf_list_query_or_respond(r, &stmts[LIST], 0, NULL, 1) != 0)
        return;
}

static void on_member(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "member not found"); }

static void get_member(mf_req_t *r)
{
    const char *user = uuid_param_or_respond(r, "user_id", "member");
    if (user == NULL)
        return;
    const char *params[] = {user};
    if (mf_req_query_or_respond(r, &stmts[GET], 1, params, on_member) != 0)
        return;
}

static void on_role_set(mf_req_t *r, PGresult *res)
{
    mf_http_forget_key(mf_req_param(r, "user_id")); /* flushes whole caches: sessions and personal keys too */
    mf_respond_row_or_404(r, res, 200, "member not found");
}

static void set_role(mf_req_t *r)
{
    static const char *const allowed[] = {"role", NULL};
    const char *user = uuid_param_or_respond(r, "user_id", "member"), *role;
    if (user == NULL)
        return;
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        role_or_fail(b, tenant_roles, TENANT_ROLES_MSG, &role, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    const char *params[] = {user, role};
    if (mf_req_query_or_respond(r, &stmts[SET_ROLE], 2, params, on_role_set) != 0)
        return;
}

static void on_removed(mf_req_t *r, PGresult *res)
{
    mf_http_forget_key(mf_req_param(r, "user_id"));
    mf_respond_empty(r, 204);
}

static void remove_member(mf_req_t *r)
{
    const char *user = uuid_param_or_respond(r, "user_id", "member");
    if (user == NULL)
        return;
    const char *params[] = {user};
    if (mf_req_query_or_respond(r, &stmts[REMOVE], 1, params, on_removed) != 0)
        return;
}

/* ---------- grants ---------- */

static void on_granted(mf_req_t *r, PGresult *res)
{
    mf_http_forget_key(mf_req_param(r, "user_id")); /* a session's role is the best of its grants */
    mf_respond_row_or_404(r, res, 201, "member not found");
}

static void add_grant(mf_req_t *r)
{
    static const char *const allowed[] = {"role", "domain", "dataset", NULL};
    static const char *const ref_fields[] = {"namespace", "name", NULL};
    static const char *const grant_roles[] = {"viewer", "editor", NULL};
    const char *user = uuid_param_or_respond(r, "user_id", "member"), *role, *domain, *ns = NULL, *dataset = NULL;
    if (user == NULL)
        return;
    mf_json_err_t err;
    json_t *b = mf_req_body(r), *ref;
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        role_or_fail(b, grant_roles, "a grant's role must be viewer or editor (make the member admin for more)", &role,
                     &err) != 0 ||
        mf_json_string(b, "", "domain", 0, 1, 512, &domain, &err) != 0 ||
        mf_json_object(b, "", "dataset", 0, &ref, &err) != 0 ||
        (ref != NULL && (mf_json_only_fields(ref, "dataset", ref_fields, &err) != 0 ||
                         mf_json_string(ref, "dataset", "namespace", MF_JSON_NULLABLE, 1, 512, &ns, &err) != 0 ||
                         mf_json_string(ref, "dataset", "name", MF_JSON_REQUIRED, 1, 512, &dataset, &err) != 0))) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    if ((domain == NULL) == (ref == NULL)) {
        mf_respond_error(r, MF_EINVALID_REQUEST,
                         "give exactly one of domain (a name) or dataset ({\"namespace\", \"name\"})");
        return;
    }
    const char *params[] = {user, role, domain, ns, dataset};
    if (mf_req_query_or_respond(r, &stmts[GRANT_ADD], 5, params, on_granted) != 0)
        return;
}

static void on_grant_deleted(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1) {
        mf_respond_error(r, MF_ENOT_FOUND, "grant not found");
        return;
    }
    mf_http_forget_key(mf_req_param(r, "user_id"));
    mf_respond_empty(r, 204);
}

static void delete_grant(mf_req_t *r)
{
    const char *user = uuid_param_or_respond(r, "user_id", "member");
    const char *grant = user ? uuid_param_or_respond(r, "grant_id", "grant") : NULL;
    if (grant == NULL)
        return;
    const char *params[] = {user, grant};
    if (mf_req_query_or_respond(r, &stmts[GRANT_DELETE], 2, params, on_grant_deleted) != 0)
        return;
}

/* ---------- invitations ---------- */

static void on_invited(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 201, "invitation not found"); }

static void invite(mf_req_t *r)
{
    static const char *const allowed[] = {"email", "role", "expires_at", NULL};
    const char *email, *role, *expires;
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "email", MF_JSON_REQUIRED, 3, 320, &email, &err) != 0 ||
        role_or_fail(b, tenant_roles, TENANT_ROLES_MSG, &role, &err) != 0 ||
        mf_json_string(b, "", "expires_at", MF_JSON_NULLABLE, 10, 40, &expires, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    if (expires != NULL && !mf_time_is_rfc3339(expires)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "expires_at must be an RFC 3339 timestamp");
        return;
    }
    const char *params[] = {email, role, expires};
    if (mf_req_query_or_respond(r, &stmts[INVITE], 3, params, on_invited) != 0)
        return;
}

static void list_invitations(mf_req_t *r)
{
    if (mf_list_query_or_respond(r, &stmts[INVITE_LIST], 0, NULL, 1) != 0)
        return;
}

static void on_invitation_deleted(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1) {
        mf_respond_error(r, MF_ENOT_FOUND, "invitation not found");
        return;
    }
    mf_respond_empty(r, 204);
}

static void delete_invitation(mf_req_t *r)
{
    const char *id = uuid_param_or_respond(r, "id", "invitation");
    if (id == NULL)
        return;
    const char *params[] = {id};
    if (mf_req_query_or_respond(r, &stmts[INVITE_DELETE], 1, params, on_invitation_deleted) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/members", MF_ROLE_ADMIN, list_members, 0},
    {"GET", "/api/v1/members/{user_id}", MF_ROLE_ADMIN, get_member, 0},
    {"PUT", "/api/v1/members/{user_id}", MF_ROLE_ADMIN, set_role, 1},
    {"DELETE", "/api/v1/members/{user_id}", MF_ROLE_ADMIN, remove_member, 0},
    {"POST", "/api/v1/members/{user_id}/grants", MF_ROLE_ADMIN, add_grant, 1},
    {"DELETE", "/api/v1/members/{user_id}/grants/{grant_id}", MF_ROLE_ADMIN, delete_grant, 0},
    {"POST", "/api/v1/invitations", MF_ROLE_ADMIN, invite, 1},
    {"GET", "/api/v1/invitations", MF_ROLE_ADMIN, list_invitations, 0},
    {"DELETE", "/api/v1/invitations/{id}", MF_ROLE_ADMIN, delete_invitation, 0},
};

void mf_api_register_members(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
