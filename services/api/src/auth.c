/*
 * auth.c: single sign-on, sessions and "who am I".
 *
 *   GET  /auth/login?tenant=<id or name>[&return_to=/path]
 *        -> 302 to the tenant's OpenID provider (authorization code + PKCE S256,
 *           state and nonce); the state is also set in a short-lived cookie so
 *           the callback only completes in the browser that started it.
 *   GET  /auth/callback?code=..&state=..
 *        -> consumes the state once, exchanges the code, verifies the ID token
 *           (mf/oidc.h), provisions the member just in time, opens a session:
 *           302 to return_to with the session cookie.
 *   POST /auth/logout[?everywhere=true]   ends this session (or all of the user's)
 *   GET  /api/v1/me                        the caller: user or key, tenant, role, permissions
 *   GET|PUT|DELETE /api/v1/sso             the tenant's sign-in settings (admin)
 *
 * Provider calls block (libcurl), so they run through mf_req_run_blocking;
 * every refusal in the callback is a 401 with an audit row on the tenant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "api.h"
#include "mf/config.h"
#include "mf/json.h"
#include "mf/oidc.h"
#include "mf/util.h"

#define LOGIN_COOKIE "mf_login"
#define STATE_LEN MF_OIDC_B64URL_LEN(32)

static mf_pg_stmt_t stmts[] = {
#define BEGIN 0
    {"login_begin",
     "SELECT tenant_id::text, issuer, client_id, client_secret FROM mf_login_begin($1, $2, $3, $4, $5, $6)", -1},
#define TAKE 1
    {"login_take",
     "SELECT tenant_id::text, nonce, code_verifier, issuer, client_id, client_secret, return_to, problem "
     "FROM mf_login_take($1)",
     -1},
#define COMPLETE 2
    {"login_complete",
     "SELECT session_id::text, denied FROM mf_login_complete($1::uuid, $2, $3::boolean, $4, $5, $6, $7::int, $8)", -1},
#define LOGOUT 3
    {"session_logout",
     "UPDATE sessions SET revoked_at = now() WHERE tenant_id = mf_current_tenant() AND revoked_at IS NULL "
     "AND (id = $1::uuid OR ($2::boolean AND user_id = nullif(current_setting('mf.user_id', true), '')::uuid)) "
     "RETURNING id::text",
     -1},
#define ME 4
    {"me",
     "SELECT jsonb_build_object("
     "  'tenant', (SELECT jsonb_build_object('id', t.id, 'name', t.name, 'plan', t.plan, 'status', t.status) "
     "             FROM tenants t WHERE t.id = mf_current_tenant()), "
     "  'user', (SELECT jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name) FROM users u "
     "           WHERE u.id = nullif($1, '')::uuid), "
     "  'grants', (SELECT coalesce(jsonb_agg(jsonb_build_object('role', g.role, 'domain', d.name, "
     "                     'dataset', CASE WHEN s.id IS NOT NULL THEN mf_ref(s.namespace, s.name) END) "
     "                     ORDER BY g.created_at), '[]') "
     "             FROM role_grants g LEFT JOIN domains d ON d.id = g.domain_id "
     "             LEFT JOIN datasets s ON s.id = g.dataset_id WHERE g.user_id = nullif($1, '')::uuid), "
     "  'scope', CASE split_part($2, ':', 1) "
     "    WHEN 'domain' THEN (SELECT jsonb_build_object('domain', d.name) FROM domains d "
     "                        WHERE d.id = nullif(split_part($2, ':', 2), '')::uuid) "
     "    WHEN 'dataset' THEN (SELECT jsonb_build_object('dataset', mf_ref(s.namespace, s.name)) FROM datasets s "
     "                         WHERE s.id = nullif(split_part($2, ':', 2), '')::uuid) END"
     ")::text",
     -1},
#define SSO_GET 5
    {"sso_get",
     "SELECT jsonb_build_object('issuer', s.issuer, 'client_id', s.client_id, "
     "  'client_secret_set', s.client_secret IS NOT NULL, 'allowed_domains', to_jsonb(s.allowed_domains), "
     "  'default_role', s.default_role, 'updated_at', mf_ts(s.updated_at))::text "
     "FROM (SELECT 1) one LEFT JOIN sso_settings s ON s.tenant_id = mf_current_tenant()",
     -1},
#define SSO_PUT 6
    {"sso_put",
     "INSERT INTO sso_settings AS s (tenant_id, issuer, client_id, client_secret, allowed_domains, default_role) "
     "VALUES (mf_current_tenant(), $1, $2, $3, coalesce($4::text[], '{}'), coalesce($5, 'viewer')) "
     "ON CONFLICT (tenant_id) DO UPDATE SET issuer = $1, client_id = $2, "
     "  client_secret = CASE WHEN $1 IS NULL THEN NULL ELSE coalesce($3, s.client_secret) END, "
     "  allowed_domains = coalesce($4::text[], '{}'), default_role = coalesce($5, 'viewer'), updated_at = now() "
     "RETURNING jsonb_build_object('issuer', s.issuer, 'client_id', s.client_id, "
     "  'client_secret_set', s.client_secret IS NOT NULL, 'allowed_domains', to_jsonb(s.allowed_domains), "
     "  'default_role', s.default_role, 'updated_at', mf_ts(s.updated_at))::text",
     -1},
#define SSO_DELETE 7
    {"sso_delete", "DELETE FROM sso_settings WHERE tenant_id = mf_current_tenant() RETURNING 1", -1},
    {NULL, NULL, -1},
};

/* ---------- helpers ---------- */

/* The public base URL: MF_PUBLIC_URL, else http://<Host> of the request. */
static void public_base(mf_req_t *r, char *out, size_t cap)
{
    const char *base = mf_config_str(MF_CFG_PUBLIC_URL);
    if (base[0] != '\0') {
        snprintf(out, cap, "%s", base);
    } else {
        const char *host = mf_req_host(r);
        snprintf(out, cap, "http://%s", host ? host : "127.0.0.1");
    }
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] == '/')
        out[n - 1] = '\0';
}

static int public_is_https(void) { return strncmp(mf_config_str(MF_CFG_PUBLIC_URL), "https://", 8) == 0; }

/* Set-Cookie for name=value (value "" with max_age 0 clears it). */
static void set_cookie(mf_req_t *r, const char *name, const char *value, const char *path, long long max_age)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s=%s; Path=%s; Max-Age=%lld; HttpOnly; SameSite=Lax%s", name, value, path, max_age,
             public_is_https() ? "; Secure" : "");
    mf_req_add_header(r, "set-cookie", buf);
}

/* ---------- login ---------- */

typedef struct {
    char state[STATE_LEN + 1], nonce[STATE_LEN + 1], verifier[44], challenge[44];
    char state_hash[65];
    char tenant_id[40];
    char issuer[MF_OIDC_URL_MAX], client_id[256], client_secret[512];
    char return_to[513];
    char redirect_uri[MF_OIDC_URL_MAX];
    char *code;
    char user_agent[257];
    mf_oidc_meta_t meta;
    mf_oidc_claims_t claims;
    int err;
    char errmsg[384];
    char token[MF_SESSION_TOKEN_LEN + 1], token_hash[65], csrf[STATE_LEN + 1];
} login_t;

static void login_free(void *p)
{
    login_t *l = p;
    if (l == NULL)
        return;
    free(l->code);
    OPENSSL_cleanse(l, sizeof(*l)); /* client secret, tokens */
    free(l);
}

/* Fill client_id/secret from the platform default when the tenant names none. */
static void take_client(login_t *l, PGresult *res, int id_col)
{
    if (PQgetisnull(res, 0, id_col)) {
        snprintf(l->client_id, sizeof(l->client_id), "%s", mf_config_str(MF_CFG_OIDC_CLIENT_ID));
        snprintf(l->client_secret, sizeof(l->client_secret), "%s", mf_config_str(MF_CFG_OIDC_CLIENT_SECRET));
    } else {
        snprintf(l->client_id, sizeof(l->client_id), "%s", PQgetvalue(res, 0, id_col));
        snprintf(l->client_secret, sizeof(l->client_secret), "%s", PQgetvalue(res, 0, id_col + 1));
    }
}

static void discover(void *arg)
{
    login_t *l = arg;
    l->err = mf_oidc_provider_get(l->issuer, &l->meta, l->errmsg, sizeof(l->errmsg));
}

static void on_discovered(mf_req_t *r)
{
    login_t *l = mf_req_data(r);
    if (l->err != 0) {
        mf_respond_error(r, MF_EUNAVAILABLE, "the identity provider is unreachable: %s", l->errmsg);
        return;
    }
    char *client = mf_oidc_form_encode(l->client_id), *redirect = mf_oidc_form_encode(l->redirect_uri);
    size_t cap = strlen(l->meta.authorization_endpoint) + strlen(client) + strlen(redirect) + 512;
    char *url = mf_malloc(cap);
    snprintf(url, cap,
             "%s%cresponse_type=code&client_id=%s&redirect_uri=%s&scope=openid%%20email%%20profile&state=%s"
             "&nonce=%s&code_challenge=%s&code_challenge_method=S256",
             l->meta.authorization_endpoint, strchr(l->meta.authorization_endpoint, '?') ? '&' : '?', client,
             redirect, l->state, l->nonce, l->challenge);
    free(client);
    free(redirect);
    set_cookie(r, LOGIN_COOKIE, l->state, "/auth", 600);
    mf_req_add_header(r, "location", url);
    mf_req_add_header(r, "cache-control", "no-store");
    free(url);
    mf_respond_empty(r, 302);
}

static void on_login_begun(mf_req_t *r, PGresult *res)
{
    login_t *l = mf_req_data(r);
    snprintf(l->tenant_id, sizeof(l->tenant_id), "%s", PQgetvalue(res, 0, 0));
    snprintf(l->issuer, sizeof(l->issuer), "%s", PQgetvalue(res, 0, 1));
    take_client(l, res, 2);
    if (l->client_id[0] == '\0') {
        mf_respond_error(r, MF_EUNAVAILABLE, "single sign-on has no client id for this provider");
        return;
    }
    mf_req_run_blocking(r, discover, l, on_discovered);
}

static void login(mf_req_t *r)
{
    const char *tenant = mf_req_query(r, "tenant"), *return_to = mf_req_query(r, "return_to");
    if (tenant == NULL || tenant[0] == '\0' || strlen(tenant) > 128) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter tenant (the tenant's id or name) is required");
        return;
    }
    /* only a path on this site: an absolute or scheme-relative URL would make us an open redirect, and
     * browsers drop tabs and newlines from URLs ("/\t/evil" becomes "//evil"), so no whitespace at all */
    if (return_to != NULL && (return_to[0] != '/' || return_to[1] == '/' || return_to[1] == '\\' ||
                              strlen(return_to) > 512 || strpbrk(return_to, " \t\r\n\v\f") != NULL ||
                              !mf_text_is_clean(return_to, strlen(return_to), 0))) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "return_to must be a path on this site, such as /datasets");
        return;
    }
    login_t *l = mf_calloc(1, sizeof(*l));
    mf_req_set_data(r, l, login_free);
    mf_oidc_random_b64url(32, l->state);
    mf_oidc_random_b64url(32, l->nonce);
    mf_oidc_pkce(l->verifier, l->challenge);
    mf_sha256_hex(l->state, strlen(l->state), l->state_hash);
    char base[512];
    public_base(r, base, sizeof(base));
    snprintf(l->redirect_uri, sizeof(l->redirect_uri), "%s/auth/callback", base);
    const char *params[] = {tenant,   l->state_hash, l->nonce, l->verifier, mf_config_str(MF_CFG_OIDC_ISSUER),
                            return_to ? return_to : "/"};
    if (mf_req_query_untenanted_or_respond(r, &stmts[BEGIN], 6, params, on_login_begun) != 0)
        return;
}

/* ---------- callback ---------- */

/* Refuse a sign-in: a login.failed row (on the tenant when known), then 401. */
static void refuse_login(mf_req_t *r, const char *tenant_id, const char *why)
{
    json_t *detail = json_pack("{s:s}", "reason", why);
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    set_cookie(r, LOGIN_COOKIE, "", "/auth", 0);
    mf_req_count_auth_failure(r); /* forged callbacks count like wrong keys */
    mf_req_audit_and_respond_error(r, tenant_id, "login.failed", "sso", text ? text : "{}", MF_EUNAUTHORIZED,
                                   "sign-in failed: %s", why);
    free(text);
    json_decref(detail);
}

static void on_login_completed(mf_req_t *r, PGresult *res)
{
    login_t *l = mf_req_data(r);
    if (PQntuples(res) != 1) {
        refuse_login(r, l->tenant_id, "the sign-in could not be completed");
        return;
    }
    if (!PQgetisnull(res, 0, 1)) {
        set_cookie(r, LOGIN_COOKIE, "", "/auth", 0);
        mf_respond_error(r, MF_EFORBIDDEN, "you may not join this tenant: %s", PQgetvalue(res, 0, 1));
        return;
    }
    set_cookie(r, LOGIN_COOKIE, "", "/auth", 0);
    set_cookie(r, MF_SESSION_COOKIE, l->token, "/", mf_config_int(MF_CFG_SESSION_MAX_AGE));
    mf_req_add_header(r, "location", l->return_to);
    mf_req_add_header(r, "cache-control", "no-store");
    mf_respond_empty(r, 302);
}

static void exchange_and_verify(void *arg)
{
    login_t *l = arg;
    char *id_token = NULL;
    l->err = mf_oidc_provider_get(l->issuer, &l->meta, l->errmsg, sizeof(l->errmsg));
    if (l->err == 0)
        l->err = mf_oidc_exchange_code(&l->meta, l->client_id, l->client_secret, l->code, l->redirect_uri,
                                       l->verifier, &id_token, l->errmsg, sizeof(l->errmsg));
    if (l->err == 0) {
        mf_oidc_expect_t expect = {l->issuer, l->client_id, l->nonce, -1};
        l->err = mf_oidc_verify_id_token(&expect, id_token, &l->claims, l->errmsg, sizeof(l->errmsg));
    }
    free(id_token);
}

static void on_verified(mf_req_t *r)
{
    login_t *l = mf_req_data(r);
    if (l->err == MF_EUNAVAILABLE || l->err == MF_EINVALID_REQUEST) {
        mf_req_audit_and_respond_error(r, l->tenant_id, "login.failed", "sso",
                                       "{\"reason\":\"identity provider unavailable\"}", MF_EUNAVAILABLE,
                                       "the identity provider could not complete the sign-in: %s", l->errmsg);
        return;
    }
    if (l->err != 0) {
        refuse_login(r, l->tenant_id, l->errmsg);
        return;
    }
    mf_auth_session_new(l->token, l->token_hash);
    mf_oidc_random_b64url(32, l->csrf);
    char max_age[24];
    snprintf(max_age, sizeof(max_age), "%lld", mf_config_int(MF_CFG_SESSION_MAX_AGE));
    const char *params[] = {l->tenant_id, l->claims.email, l->claims.email_verified ? "true" : "false",
                            l->claims.name, l->token_hash, l->csrf, max_age, l->user_agent};
    if (mf_req_query_untenanted_or_respond(r, &stmts[COMPLETE], 8, params, on_login_completed) != 0)
        return;
}

static void on_state_taken(mf_req_t *r, PGresult *res)
{
    login_t *l = mf_req_data(r);
    if (PQntuples(res) != 1) {
        refuse_login(r, NULL, "the sign-in state is unknown; start again");
        return;
    }
    if (!PQgetisnull(res, 0, 7)) { /* a known state, used or expired: on the tenant's record */
        char why[128];
        snprintf(why, sizeof(why), "the sign-in state was %s; start again", PQgetvalue(res, 0, 7));
        refuse_login(r, PQgetvalue(res, 0, 0), why);
        return;
    }
    snprintf(l->tenant_id, sizeof(l->tenant_id), "%s", PQgetvalue(res, 0, 0));
    snprintf(l->nonce, sizeof(l->nonce), "%s", PQgetvalue(res, 0, 1));
    snprintf(l->verifier, sizeof(l->verifier), "%s", PQgetvalue(res, 0, 2));
    snprintf(l->issuer, sizeof(l->issuer), "%s", PQgetvalue(res, 0, 3));
    take_client(l, res, 4);
    snprintf(l->return_to, sizeof(l->return_to), "%s", PQgetvalue(res, 0, 6));
    mf_req_run_blocking(r, exchange_and_verify, l, on_verified);
}

static void callback_unblocked(mf_req_t *r);

/* Addresses that keep failing sign-ins are refused before any work. */
static void callback(mf_req_t *r) { mf_req_unless_auth_blocked(r, callback_unblocked); }

static void callback_unblocked(mf_req_t *r)
{
    const char *state = mf_req_query(r, "state"), *code = mf_req_query(r, "code"), *error = mf_req_query(r, "error");
    if (state == NULL || strlen(state) != STATE_LEN) {
        mf_respond_error(r, MF_EUNAUTHORIZED, "sign-in failed: the state parameter is missing or malformed");
        return;
    }
    const char *bound = mf_req_cookie(r, LOGIN_COOKIE);
    if (bound == NULL || strlen(bound) != STATE_LEN || !mf_ct_equal(bound, state, STATE_LEN)) {
        refuse_login(r, NULL, "this sign-in was not started in this browser");
        return;
    }
    login_t *l = mf_calloc(1, sizeof(*l));
    mf_req_set_data(r, l, login_free);
    mf_sha256_hex(state, STATE_LEN, l->state_hash);
    if (error != NULL) {
        char why[256];
        snprintf(why, sizeof(why), "the identity provider answered %.100s", error);
        refuse_login(r, NULL, why);
        return;
    }
    if (code == NULL || code[0] == '\0' || strlen(code) > 4096) {
        refuse_login(r, NULL, "the code parameter is missing or too long");
        return;
    }
    l->code = mf_strdup(code);
    const char *ua = mf_req_header(r, "user-agent");
    snprintf(l->user_agent, sizeof(l->user_agent), "%s", ua ? ua : "");
    mf_text_make_utf8(l->user_agent);
    char base[512];
    public_base(r, base, sizeof(base));
    snprintf(l->redirect_uri, sizeof(l->redirect_uri), "%s/auth/callback", base);
    const char *params[] = {l->state_hash};
    if (mf_req_query_untenanted_or_respond(r, &stmts[TAKE], 1, params, on_state_taken) != 0)
        return;
}

/* ---------- logout ---------- */

static void on_logged_out(mf_req_t *r, PGresult *res)
{
    for (int i = 0; i < PQntuples(res); i++)
        mf_http_forget_key(PQgetvalue(res, i, 0));
    mf_req_audit_event(r, mf_req_identity(r)->tenant_id, "logout", mf_req_identity(r)->actor, "{}");
    set_cookie(r, MF_SESSION_COOKIE, "", "/", 0);
    mf_respond_empty(r, 204);
}

static void logout(mf_req_t *r)
{
    const mf_identity_t *id = mf_req_identity(r);
    if (id->kind != MF_CRED_SESSION) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "logout ends browser sessions; revoke an API key with DELETE /api/v1/api-keys/{id}");
        return;
    }
    const char *everywhere = mf_req_query(r, "everywhere");
    if (everywhere != NULL && strcmp(everywhere, "true") != 0 && strcmp(everywhere, "false") != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "everywhere must be true or false");
        return;
    }
    const char *params[] = {id->cred_id, everywhere && strcmp(everywhere, "true") == 0 ? "true" : "false"};
    if (mf_req_query_or_respond(r, &stmts[LOGOUT], 2, params, on_logged_out) != 0)
        return;
}

/* ---------- me ---------- */

/* What each role may do, named for clients (the route table enforces it). */
static const struct {
    const char *name;
    mf_role_t role;
} permissions[] = {
    {"catalog:read", MF_ROLE_VIEWER},  {"catalog:write", MF_ROLE_EDITOR}, {"ingest:write", MF_ROLE_EDITOR},
    {"api_keys:own", MF_ROLE_VIEWER},  {"api_keys:manage", MF_ROLE_ADMIN}, {"members:manage", MF_ROLE_ADMIN},
    {"sso:manage", MF_ROLE_ADMIN},     {"audit:read", MF_ROLE_ADMIN},
};

static json_t *identity_doc(const mf_identity_t *id)
{
    json_t *perms = json_array();
    if (id->role == MF_ROLE_PLATFORM_ADMIN)
        json_array_append_new(perms, json_string("platform:admin"));
    else
        for (size_t i = 0; i < MF_ARRAY_SIZE(permissions); i++)
            if (id->role >= permissions[i].role)
                json_array_append_new(perms, json_string(permissions[i].name));
    json_t *doc = json_pack("{s:s,s:s,s:o,s:b}", "kind", id->kind == MF_CRED_SESSION ? "user" : "key", "role",
                            mf_role_name(id->role), "permissions", perms, "write_anywhere", id->write_all);
    if (id->kind == MF_CRED_SESSION)
        json_object_set_new(doc, "csrf_token", json_string(id->csrf_token));
    json_object_set_new(doc, "actor", json_string(id->actor));
    return doc;
}

static void on_me(mf_req_t *r, PGresult *res)
{
    const mf_identity_t *id = mf_req_identity(r);
    json_t *doc = identity_doc(id);
    json_t *extra = PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
    if (extra != NULL)
        json_object_update(doc, extra);
    json_decref(extra);
    mf_respond_jsonv(r, 200, doc);
    json_decref(doc);
}

static void me(mf_req_t *r)
{
    const mf_identity_t *id = mf_req_identity(r);
    const char *params[] = {id->user_id, id->scope};
    if (mf_req_query_or_respond(r, &stmts[ME], 2, params, on_me) != 0)
        return;
}

/* ---------- sso settings ---------- */

static void on_sso(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "no sign-in settings"); }

static void get_sso(mf_req_t *r)
{
    if (mf_req_query_or_respond(r, &stmts[SSO_GET], 0, NULL, on_sso) != 0)
        return;
}

/* allowed_domains as a Postgres text[] literal into a new string; NULL with *msg on bad input. */
static char *domains_literal(json_t *arr, const char **msg)
{
    if (arr == NULL || json_is_null(arr))
        return NULL;
    if (!json_is_array(arr) || json_array_size(arr) > 50) {
        *msg = "allowed_domains must be an array of at most 50 domain names";
        return NULL;
    }
    size_t cap = 3 + json_array_size(arr) * 260, n = 0;
    char *out = mf_malloc(cap);
    out[n++] = '{';
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *d = json_string_value(v);
        size_t len = d ? strlen(d) : 0;
        int ok = len >= 3 && len <= 253 && strchr(d, '.') != NULL && d[0] != '.' && d[0] != '-';
        for (size_t k = 0; ok && k < len; k++)
            ok = (d[k] >= 'a' && d[k] <= 'z') || (d[k] >= '0' && d[k] <= '9') || d[k] == '.' || d[k] == '-';
        if (!ok) {
            free(out);
            *msg = "allowed_domains entries must be lowercase domain names such as example.com";
            return NULL;
        }
        if (i > 0)
            out[n++] = ',';
        memcpy(out + n, d, len);
        n += len;
    }
    out[n++] = '}';
    out[n] = '\0';
    return out;
}

static void put_sso(mf_req_t *r)
{
    static const char *const allowed[] = {"issuer", "client_id", "client_secret", "allowed_domains", "default_role",
                                          NULL};
    const char *issuer, *client_id, *secret, *role, *msg = NULL;
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "issuer", MF_JSON_NULLABLE, 8, 512, &issuer, &err) != 0 ||
        mf_json_string(b, "", "client_id", MF_JSON_NULLABLE, 1, 255, &client_id, &err) != 0 ||
        mf_json_string(b, "", "client_secret", MF_JSON_NULLABLE, 1, 512, &secret, &err) != 0 ||
        mf_json_string(b, "", "default_role", MF_JSON_NULLABLE, 1, 16, &role, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    if (issuer != NULL && strncmp(issuer, "https://", 8) != 0 && strncmp(issuer, "http://", 7) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "issuer must be an http(s) URL");
        return;
    }
    if ((issuer == NULL) != (client_id == NULL)) {
        mf_respond_error(r, MF_EINVALID_REQUEST,
                         "issuer and client_id go together (leave both out to use the platform's provider)");
        return;
    }
    if (role != NULL && strcmp(role, "viewer") != 0 && strcmp(role, "editor") != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "default_role must be viewer or editor");
        return;
    }
    char *domains = domains_literal(json_object_get(b, "allowed_domains"), &msg);
    if (msg != NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", msg);
        return;
    }
    mf_req_set_data(r, domains, free);
    const char *params[] = {issuer, client_id, secret, domains, role};
    if (mf_req_query_or_respond(r, &stmts[SSO_PUT], 5, params, on_sso) != 0)
        return;
}

static void on_sso_deleted(mf_req_t *r, PGresult *res)
{
    if (PQntuples(res) != 1) {
        mf_respond_error(r, MF_ENOT_FOUND, "no sign-in settings");
        return;
    }
    mf_respond_empty(r, 204);
}

static void delete_sso(mf_req_t *r)
{
    if (mf_req_query_or_respond(r, &stmts[SSO_DELETE], 0, NULL, on_sso_deleted) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/auth/login", MF_ROLE_PUBLIC, login, 0},
    {"GET", "/auth/callback", MF_ROLE_PUBLIC, callback, 0},
    {"POST", "/auth/logout", MF_ROLE_VIEWER, logout, 0},
    {"GET", "/api/v1/me", MF_ROLE_VIEWER, me, 0},
    {"GET", "/api/v1/sso", MF_ROLE_ADMIN, get_sso, 0},
    {"PUT", "/api/v1/sso", MF_ROLE_ADMIN, put_sso, 1},
    {"DELETE", "/api/v1/sso", MF_ROLE_ADMIN, delete_sso, 0},
};

void mf_api_register_auth(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
