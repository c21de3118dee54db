/*
 * contracts.c: data contracts and their violations.
 *
 *   POST   /api/v1/contracts                    {name, dataset_pattern, on_violation, ...} -> 201
 *   GET    /api/v1/contracts                    the tenant's contracts by name
 *   GET    /api/v1/contracts/{name}             with its ETag (the contract's version)
 *   PUT    /api/v1/contracts/{name}             replace (If-Match: a stale version is 412)
 *   DELETE /api/v1/contracts/{name}             (its violations go with it)
 *   GET    /api/v1/contracts/{name}/violations  ?dataset=&namespace=&resolved=&kind=, newest first
 *
 * A contract can refuse every write of the tenant's pipelines (on_violation
 * block), so managing contracts needs a tenant admin (and an unscoped
 * credential: SQL refuses scoped ones); every member reads them. The body is
 * checked strictly here (unknown members, types, sizes, the pattern's
 * syntax) and normalized; the rules, their evaluation on every write and the
 * violations live in SQL (migrations/0016_contracts.sql). Violations are read
 * under the caller's scope: a scoped caller sees those of its datasets. The
 * audit trigger on contracts records every change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/json.h"
#include "mf/list.h"
#include "mf/util.h"

#define CONTRACT_NAME_MAX 128
#define DESCRIPTION_MAX 2000
#define COLUMNS_MAX 500
#define TYPE_MAX 128
#define MAX_AGE_SECS 31536000 /* a year */

static mf_pg_stmt_t stmts[] = {
#define PUT 0
    {"contract_put", "SELECT doc, version FROM mf_contract_put($1, $2::jsonb, $3::boolean, $4)", -1},
#define LIST 1
    {"contract_list", "SELECT items, next_key FROM mf_contract_list($1::int, $2::jsonb)", -1},
#define GET 2
    {"contract_get",
     "SELECT mf_contract_doc(c)::text, c.version FROM contracts c "
     "WHERE c.tenant_id = mf_current_tenant() AND c.name = $1",
     -1},
#define DELETE 3
    {"contract_delete", "SELECT mf_contract_delete($1)", -1},
#define VIOLATIONS 4
    {"contract_violations",
     "SELECT items, next_key FROM mf_contract_violations($1::int, $2::jsonb, $3, $4, $5, $6::boolean, $7)", -1},
    {NULL, NULL, -1},
};

/* Contract names go in URLs: letters, digits and _.- only. */
static int contract_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= CONTRACT_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* required_columns: distinct names, optional type and nullability; a new normalized array into *out. */
static int parse_columns(json_t *b, json_t **out, mf_json_err_t *err)
{
    static const char *const allowed[] = {"name", "type", "nullable", NULL};
    json_t *arr, *col;
    size_t i;
    *out = json_array();
    if (mf_json_array(b, "", "required_columns", 0, COLUMNS_MAX, &arr, err) != 0)
        return MF_EINVALID_REQUEST;
    json_array_foreach(arr, i, col)
    {
        char where[48];
        const char *name = NULL, *type = NULL;
        int nullable = -1;
        mf_json_path_index(where, sizeof(where), "required_columns", i);
        if (!json_is_object(col))
            return mf_json_fail(err, "%s must be an object {name, type?, nullable?}", where);
        if (mf_json_only_fields(col, where, allowed, err) != 0 ||
            mf_json_string(col, where, "name", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &name, err) != 0 ||
            mf_json_string(col, where, "type", MF_JSON_NULLABLE, 1, TYPE_MAX, &type, err) != 0 ||
            mf_json_bool(col, where, "nullable", MF_JSON_NULLABLE, &nullable, err) != 0)
            return MF_EINVALID_REQUEST;
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_object_get(json_array_get(*out, j), "name")), name) == 0)
                return mf_json_fail(err, "%s.name repeats column %s", where, name);
        json_t *norm = json_pack("{s:s}", "name", name);
        if (type != NULL)
            json_object_set_new(norm, "type", json_string(type));
        if (nullable != -1)
            json_object_set_new(norm, "nullable", json_boolean(nullable));
        json_array_append_new(*out, norm);
    }
    return 0;
}

/* dataset_pattern: a name with * and ? wildcards; [ ] and \ are reserved. */
static int parse_pattern(json_t *b, const char **out, mf_json_err_t *err)
{
    if (mf_json_string(b, "", "dataset_pattern", MF_JSON_REQUIRED, 1, MF_NAME_MAX, out, err) != 0)
        return MF_EINVALID_REQUEST;
    if (strpbrk(*out, "[]\\") != NULL)
        return mf_json_fail(err, "dataset_pattern may use * (any characters) and ? (one character); "
                                 "[, ] and \\ are reserved");
    return 0;
}

/* min_quality_score: null or a number from 0 to 100. */
static int parse_score(json_t *b, json_t **out, mf_json_err_t *err)
{
    json_t *v = json_object_get(b, "min_quality_score");
    *out = json_null();
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 100)
        return mf_json_fail(err, "min_quality_score must be a number from 0 to 100, or null");
    *out = json_real(json_number_value(v));
    return 0;
}

/*
 * Check a contract body and build its normalized form (new, into *out); the
 * name comes from the path for PUT (a body name must agree).
 */
static int parse_contract(json_t *b, const char *path_name, json_t **out, mf_json_err_t *err)
{
    static const char *const allowed[] = {"name",          "description",  "dataset_pattern", "dataset_namespace",
                                          "required_columns", "allow_extra_columns", "min_quality_score",
                                          "max_age_secs",  "on_violation", NULL};
    const char *name = NULL, *description = NULL, *pattern = NULL, *ns = NULL, *action = NULL;
    int allow_extra = 1, age_given = 0;
    long long max_age = 0;
    json_t *columns = NULL, *score = NULL;
    *out = NULL;
    if (mf_json_only_fields(b, "", allowed, err) != 0 ||
        mf_json_string(b, "", "name", path_name ? 0 : MF_JSON_REQUIRED, 1, CONTRACT_NAME_MAX, &name, err) != 0 ||
        mf_json_string(b, "", "description", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, DESCRIPTION_MAX, &description,
                       err) != 0 ||
        parse_pattern(b, &pattern, err) != 0 ||
        mf_json_string(b, "", "dataset_namespace", MF_JSON_NULLABLE, 1, MF_NAME_MAX, &ns, err) != 0 ||
        mf_json_bool(b, "", "allow_extra_columns", 0, &allow_extra, err) != 0 ||
        mf_json_int(b, "", "max_age_secs", MF_JSON_NULLABLE, 1, MAX_AGE_SECS, &max_age, &age_given, err) != 0 ||
        mf_json_string(b, "", "on_violation", MF_JSON_REQUIRED, 1, 16, &action, err) != 0)
        return MF_EINVALID_REQUEST;
    if (name != NULL && !contract_name_ok(name))
        return mf_json_fail(err, "name must be 1-%d letters, digits, _, . or -", CONTRACT_NAME_MAX);
    if (path_name != NULL && name != NULL && strcmp(name, path_name) != 0)
        return mf_json_fail(err, "name must match the contract in the path (a contract is not renamed)");
    if (strcmp(action, "block") != 0 && strcmp(action, "warn") != 0 && strcmp(action, "alert") != 0)
        return mf_json_fail(err, "on_violation must be block, warn or alert");
    if (ns != NULL && !mf_catalog_name_ok(ns))
        return mf_json_fail(err, "dataset_namespace must be 1-%d printable characters", MF_NAME_MAX);
    if (parse_columns(b, &columns, err) != 0 || parse_score(b, &score, err) != 0) {
        json_decref(columns);
        return MF_EINVALID_REQUEST;
    }
    if (json_array_size(columns) == 0 && allow_extra && json_is_null(score) && !age_given) {
        json_decref(columns);
        return mf_json_fail(err, "a contract needs a rule: required_columns, allow_extra_columns false, "
                                 "min_quality_score or max_age_secs");
    }
    *out = json_pack("{s:s,s:s,s:s?,s:o,s:b,s:o,s:o,s:s}", "description", description ? description : "",
                     "dataset_pattern", pattern, "dataset_namespace", ns, "required_columns", columns,
                     "allow_extra_columns", allow_extra, "min_quality_score", score, "max_age_secs",
                     age_given ? json_integer(max_age) : json_null(), "on_violation", action);
    json_object_set_new(*out, "name", json_string(path_name ? path_name : name));
    return 0;
}

/* Answer a (document, version) row with the contract's ETag, or 404. */
static void respond_contract(mf_req_t *r, PGresult *res, int status)
{
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        mf_respond_error(r, MF_ENOT_FOUND, "contract \"%s\" not found", mf_req_param(r, "name"));
        return;
    }
    char etag[32];
    snprintf(etag, sizeof(etag), "\"%s\"", PQgetvalue(res, 0, 1));
    mf_req_add_header(r, "etag", etag);
    mf_respond_json(r, status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static void on_created(mf_req_t *r, PGresult *res) { respond_contract(r, res, 201); }
static void on_found(mf_req_t *r, PGresult *res) { respond_contract(r, res, 200); }

/* Validate the body and run the create or the replace. */
static void put_contract(mf_req_t *r, const char *path_name, mf_req_pg_cb cb)
{
    mf_json_err_t err;
    json_t *c;
    if (parse_contract(mf_req_body(r), path_name, &c, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    size_t len;
    char *body = mf_json_dump(c, &len);
    const char *params[] = {json_string_value(json_object_get(c, "name")), body, path_name ? "false" : "true",
                            mf_req_header(r, "if-match")};
    if (mf_req_query_or_respond(r, &stmts[PUT], 4, params, cb) != 0) {
        /* answered 503 */
    }
    free(body);
    json_decref(c);
}

static void create_contract(mf_req_t *r) { put_contract(r, NULL, on_created); }

/* The {name} of the path when it could be a contract's; else answers 404 and returns NULL. */
static const char *contract_name_or_respond(mf_req_t *r)
{
    const char *name = mf_req_param(r, "name");
    if (!contract_name_ok(name)) {
        mf_respond_error(r, MF_ENOT_FOUND, "contract not found");
        return NULL;
    }
    return name;
}

static void replace_contract(mf_req_t *r)
{
    const char *name = contract_name_or_respond(r);
    if (name != NULL)
        put_contract(r, name, on_found);
}

static void list_contracts(mf_req_t *r)
{
    if (mf_list_query_or_respond(r, &stmts[LIST], 0, NULL, 1) != 0)
        return;
}

static void get_contract(mf_req_t *r)
{
    const char *name = contract_name_or_respond(r);
    if (name == NULL || mf_req_query_or_respond(r, &stmts[GET], 1, &name, on_found) != 0)
        return;
}

static void on_deleted(mf_req_t *r, PGresult *res)
{
    (void)res; /* a missing contract raised 404 in SQL */
    mf_respond_empty(r, 204);
}

static void delete_contract(mf_req_t *r)
{
    const char *name = contract_name_or_respond(r);
    if (name == NULL || mf_req_query_or_respond(r, &stmts[DELETE], 1, &name, on_deleted) != 0)
        return;
}

/* The violation list's choice filters: each query value must be one of its values. */
static const struct {
    const char *key, *values[4];
} choice_filters[] = {{"resolved", {"true", "false"}}, {"kind", {"schema", "quality", "freshness"}}};

/* The value of each choice filter into out (NULL when absent or empty); answers 400 itself. */
static int MF_MUST_CHECK choices_or_respond(mf_req_t *r, const char *out[MF_ARRAY_SIZE(choice_filters)])
{
    for (size_t f = 0; f < MF_ARRAY_SIZE(choice_filters); f++) {
        const char *v = mf_req_query(r, choice_filters[f].key);
        out[f] = NULL;
        for (const char *const *c = choice_filters[f].values; v != NULL && v[0] != '\0' && out[f] == NULL; c++) {
            if (*c == NULL) {
                mf_respond_error(r, MF_EINVALID_REQUEST, "%s must be one of: %s, %s%s%s", choice_filters[f].key,
                                 choice_filters[f].values[0], choice_filters[f].values[1],
                                 choice_filters[f].values[2] ? ", " : "",
                                 choice_filters[f].values[2] ? choice_filters[f].values[2] : "");
                return MF_EINVALID_REQUEST;
            }
            if (strcmp(v, *c) == 0)
                out[f] = *c;
        }
    }
    return 0;
}

static void list_violations(mf_req_t *r)
{
    const char *name = contract_name_or_respond(r), *ns, *dataset, *choice[MF_ARRAY_SIZE(choice_filters)];
    if (name == NULL || mf_api_query_name_or_respond(r, "namespace", 0, &ns) != 0 ||
        mf_api_query_name_or_respond(r, "dataset", 0, &dataset) != 0 || choices_or_respond(r, choice) != 0)
        return;
    if (dataset != NULL && ns == NULL)
        ns = "default";
    /* the SQL filter is on being open: resolved=true is open=false */
    const char *open = choice[0] == NULL ? NULL : strcmp(choice[0], "true") == 0 ? "false" : "true";
    const char *extra[] = {name, ns, dataset, open, choice[1]};
    if (mf_list_query_or_respond(r, &stmts[VIOLATIONS], 5, extra, 1) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/contracts", MF_ROLE_ADMIN, create_contract, MF_BODY_JSON},
    {"GET", "/api/v1/contracts", MF_ROLE_VIEWER, list_contracts, 0},
    {"GET", "/api/v1/contracts/{name}", MF_ROLE_VIEWER, get_contract, 0},
    {"PUT", "/api/v1/contracts/{name}", MF_ROLE_ADMIN, replace_contract, MF_BODY_JSON},
    {"DELETE", "/api/v1/contracts/{name}", MF_ROLE_ADMIN, delete_contract, 0},
    {"GET", "/api/v1/contracts/{name}/violations", MF_ROLE_VIEWER, list_violations, 0},
};

void mf_api_register_contracts(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
