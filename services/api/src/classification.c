/*
 * classification.c: column profiles and PII / sensitivity classification
 * (docs/classification.md).
 *
 * Profiles arrive with emits and OpenLineage events (mf-ingest); these routes
 * read them: the latest statistics of each column and their history. The
 * classification of a dataset's fields (class, sensitivity, where it came
 * from, whether a person verified or rejected it) is computed in SQL
 * (migrations/0017_profiles_classification.sql) on every write that brings
 * fields or samples and whenever the tenant's rules change; here a person
 * verifies or rejects a class, and a tenant admin edits the rules (regular
 * expressions and validators checked in SQL, a bad one is a 400 naming it).
 * This file checks shapes and types; SQL checks meanings, access and scope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/util.h"

#define RULE_NAME_MAX 64
#define RULE_PATTERN_MAX 512
#define CLASS_MAX 64
#define DESCRIPTION_MAX 1000
#define NOTE_MAX 2000

static mf_pg_stmt_t stmts[] = {
#define PROFILE 0
    {"classification_profile", "SELECT mf_profile_doc($1, $2)::text", -1},
#define PROFILE_HISTORY 1
    {"classification_profile_history",
     "SELECT items::text, next_key::text FROM mf_profile_history($1::int, $2::jsonb, $3, $4, $5)", -1},
#define DATASET 2
    {"classification_dataset", "SELECT mf_classification_doc($1, $2)::text", -1},
#define DECIDE 3
    {"classification_decide", "SELECT mf_classification_decide($1, $2, $3, $4, $5, $6, $7)::text", -1},
#define FIELDS 4
    {"classification_fields",
     "SELECT items::text, next_key::text FROM mf_classification_fields($1::int, $2::jsonb, $3, $4, $5, $6)", -1},
#define RULES 5
    {"classification_rules", "SELECT items::text, next_key::text FROM mf_classification_rules($1::int, $2::jsonb, $3)",
     -1},
#define RULE_PUT 6
    {"classification_rule_put", "SELECT mf_classification_rule_put($1::uuid, $2::jsonb)::text", -1},
#define RULE_DELETE 7
    {"classification_rule_delete", "SELECT mf_classification_rule_delete($1::uuid)", -1},
    {NULL, NULL, -1},
};

static void on_document(mf_req_t *r, PGresult *res)
{
    mf_respond_json(r, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static void on_created(mf_req_t *r, PGresult *res)
{
    mf_respond_json(r, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static void on_deleted(mf_req_t *r, PGresult *res) { mf_respond_empty(r, 204); }

/* A document about dataset {name} (?namespace=) from statement stmt($1 namespace, $2 name). */
static void dataset_document(mf_req_t *r, int stmt)
{
    const char *ns = mf_api_namespace_or_respond(r);
    if (ns == NULL)
        return;
    const char *params[] = {ns, mf_req_param(r, "name")};
    if (mf_req_query_or_respond(r, &stmts[stmt], 2, params, on_document) != 0)
        return;
}

static void get_profile(mf_req_t *r) { dataset_document(r, PROFILE); }
static void get_classification(mf_req_t *r) { dataset_document(r, DATASET); }

static void profile_history(mf_req_t *r)
{
    const char *ns = mf_api_namespace_or_respond(r), *column;
    if (ns == NULL || mf_api_query_name_or_respond(r, "column", 0, &column) != 0)
        return;
    const char *extra[] = {ns, mf_req_param(r, "name"), column};
    if (mf_list_query_or_respond(r, &stmts[PROFILE_HISTORY], 3, extra, 1) != 0)
        return;
}

/* One of the allowed values of string member key of b (NULL when absent or null). */
static int choice_member(json_t *b, const char *key, int flags, const char *const *values, const char **out,
                         mf_json_err_t *err)
{
    if (mf_json_string(b, "", key, flags, 1, 32, out, err) != 0)
        return MF_EINVALID_REQUEST;
    if (*out == NULL)
        return 0;
    for (const char *const *v = values; *v != NULL; v++)
        if (strcmp(*out, *v) == 0)
            return 0;
    char list[200];
    size_t used = 0;
    for (size_t i = 0; values[i] != NULL && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                 i == 0 ? "" : values[i + 1] != NULL ? ", " : " or ", values[i]);
    return mf_json_fail(err, "%s must be %s", key, list);
}

static const char *const sensitivities[] = {"public", "internal", "confidential", "restricted", NULL};

static void decide(mf_req_t *r)
{
    static const char *const allowed[] = {"class", "status", "note", "sensitivity", NULL};
    static const char *const statuses[] = {"verified", "rejected", NULL};
    const char *ns = mf_api_namespace_or_respond(r), *cls, *status, *note, *sensitivity;
    json_t *b = mf_req_body(r);
    mf_json_err_t err;
    if (ns == NULL)
        return;
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "class", MF_JSON_REQUIRED, 1, CLASS_MAX, &cls, &err) != 0 ||
        choice_member(b, "status", MF_JSON_REQUIRED, statuses, &status, &err) != 0 ||
        mf_json_string(b, "", "note", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, NOTE_MAX, &note, &err) != 0 ||
        choice_member(b, "sensitivity", MF_JSON_NULLABLE, sensitivities, &sensitivity, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    const char *field = mf_req_param(r, "field");
    if (!mf_catalog_name_ok(field)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "field must be a name of 1-%d printable characters", MF_NAME_MAX);
        return;
    }
    const char *params[] = {ns, mf_req_param(r, "name"), field, cls, status, note, sensitivity};
    if (mf_req_query_or_respond(r, &stmts[DECIDE], 7, params, on_document) != 0)
        return;
}

static void list_fields(mf_req_t *r)
{
    const char *cls, *sensitivity, *status, *source;
    if (mf_api_query_tag_or_respond(r, "class", &cls) != 0 ||
        mf_api_query_tag_or_respond(r, "sensitivity", &sensitivity) != 0 ||
        mf_api_query_tag_or_respond(r, "status", &status) != 0 ||
        mf_api_query_tag_or_respond(r, "source", &source) != 0)
        return;
    const char *extra[] = {cls, sensitivity, status, source};
    if (mf_list_query_or_respond(r, &stmts[FIELDS], 4, extra, 1) != 0)
        return;
}

static void list_rules(mf_req_t *r)
{
    const char *kind;
    if (mf_api_query_tag_or_respond(r, "kind", &kind) != 0)
        return;
    const char *extra[] = {kind};
    if (mf_list_query_or_respond(r, &stmts[RULES], 1, extra, 1) != 0)
        return;
}

/* Whether a regular expression refers back to a group (\1 .. \9): the one feature of PostgreSQL's
 * engine whose matching time can grow exponentially with the text. */
static int has_back_reference(const char *pattern)
{
    for (const char *p = pattern; *p != '\0'; p++) {
        if (*p != '\\')
            continue;
        if (p[1] >= '1' && p[1] <= '9')
            return 1;
        if (p[1] != '\0')
            p++; /* an escaped character, \\ included */
    }
    return 0;
}

/* Check a rule body's shape (creating: the members a rule needs are required); answers 400 itself. */
static int rule_body_or_respond(mf_req_t *r, int creating)
{
    static const char *const allowed[] = {"name",  "kind",      "pattern", "validator",   "class",
                                          "sensitivity", "threshold", "enabled", "description", NULL};
    static const char *const kinds[] = {"name", "value", NULL};
    static const char *const validators[] = {"luhn", "us_ssn", "ipv6", "phone", NULL};
    int need = creating ? MF_JSON_REQUIRED : 0, enabled;
    const char *s;
    json_t *b = mf_req_body(r), *threshold = json_object_get(b, "threshold");
    mf_json_err_t err;
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "name", need, 1, RULE_NAME_MAX, &s, &err) != 0 ||
        choice_member(b, "kind", need, kinds, &s, &err) != 0 ||
        mf_json_string(b, "", "pattern", need, 1, RULE_PATTERN_MAX, &s, &err) != 0 ||
        choice_member(b, "validator", MF_JSON_NULLABLE, validators, &s, &err) != 0 ||
        mf_json_string(b, "", "class", need, 1, CLASS_MAX, &s, &err) != 0 ||
        choice_member(b, "sensitivity", need, sensitivities, &s, &err) != 0 ||
        mf_json_bool(b, "", "enabled", 0, &enabled, &err) != 0 ||
        mf_json_string(b, "", "description", MF_JSON_MULTILINE, 0, DESCRIPTION_MAX, &s, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return MF_EINVALID_REQUEST;
    }
    if (threshold != NULL && !json_is_null(threshold) && !json_is_number(threshold)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "threshold must be a number");
        return MF_EINVALID_REQUEST;
    }
    const char *pattern = json_string_value(json_object_get(b, "pattern"));
    if (pattern != NULL && has_back_reference(pattern)) {
        mf_respond_error(r, MF_EINVALID_REQUEST,
                         "pattern must not use back-references (\\1 to \\9): they can make matching take "
                         "exponential time, and every write of the tenant runs the rules");
        return MF_EINVALID_REQUEST;
    }
    return 0;
}

/* id NULL: create. */
static void put_rule(mf_req_t *r, const char *id, mf_req_pg_cb cb)
{
    if (rule_body_or_respond(r, id == NULL) != 0)
        return;
    size_t len;
    char *body = mf_json_dump(mf_req_body(r), &len);
    const char *params[] = {id, body}; /* copied by the query */
    if (mf_req_query_or_respond(r, &stmts[RULE_PUT], 2, params, cb) != 0) {
        /* answered 503 */
    }
    free(body);
}

/* The {id} of a rule route, or NULL after a 404 (an id that is no UUID names no rule). */
static const char *rule_id_or_respond(mf_req_t *r)
{
    const char *id = mf_req_param(r, "id");
    if (!mf_is_uuid(id, strlen(id))) {
        mf_respond_error(r, MF_ENOT_FOUND, "classification rule not found");
        return NULL;
    }
    return id;
}

static void create_rule(mf_req_t *r) { put_rule(r, NULL, on_created); }

static void update_rule(mf_req_t *r)
{
    const char *id = rule_id_or_respond(r);
    if (id != NULL)
        put_rule(r, id, on_document);
}

static void delete_rule(mf_req_t *r)
{
    const char *id = rule_id_or_respond(r);
    if (id == NULL)
        return;
    const char *params[] = {id};
    if (mf_req_query_or_respond(r, &stmts[RULE_DELETE], 1, params, on_deleted) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/datasets/{name}/profile", MF_ROLE_VIEWER, get_profile, MF_BODY_NONE},
    {"GET", "/api/v1/datasets/{name}/profile/history", MF_ROLE_VIEWER, profile_history, MF_BODY_NONE},
    {"GET", "/api/v1/datasets/{name}/classification", MF_ROLE_VIEWER, get_classification, MF_BODY_NONE},
    {"PUT", "/api/v1/datasets/{name}/fields/{field}/classification", MF_ROLE_EDITOR, decide, MF_BODY_JSON},
    {"GET", "/api/v1/classification/fields", MF_ROLE_VIEWER, list_fields, MF_BODY_NONE},
    {"GET", "/api/v1/classification/rules", MF_ROLE_VIEWER, list_rules, MF_BODY_NONE},
    {"POST", "/api/v1/classification/rules", MF_ROLE_ADMIN, create_rule, MF_BODY_JSON},
    {"PUT", "/api/v1/classification/rules/{id}", MF_ROLE_ADMIN, update_rule, MF_BODY_JSON},
    {"DELETE", "/api/v1/classification/rules/{id}", MF_ROLE_ADMIN, delete_rule, MF_BODY_NONE},
};

void mf_api_register_classification(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
