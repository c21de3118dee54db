/*
 * quality.c: data quality results, a dataset's quality score, and the
 * tenant's unhealthy datasets.
 *
 * POST /api/v1/datasets/{name}/quality records one batch of results from any
 * source (a CI job, a test framework, a script) in the same store as the dbt
 * and Great Expectations imports and OpenLineage quality facets
 * (dataset_quality), so every source feeds the same score, lists and
 * quality.failed events. This file validates the body strictly; the batch
 * is written, audited and scored by mf_quality_record
 * (migrations/0015_quality.sql), which also checks write access.
 *
 * GET /api/v1/datasets/{name}/quality lists the recorded batches, newest
 * first (?column= keeps those with a result on that column);
 * GET /api/v1/datasets/{name}/quality/summary answers the score, the latest
 * result of each check and the score's daily trend; GET
 * /api/v1/quality/unhealthy lists the datasets whose score is below
 * ?max_score or whose latest result of an error or critical check failed,
 * worst first. Reads run as the caller: Row Level Security keeps a scoped
 * caller to the datasets it may see.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/util.h"

#define MAX_RESULTS 1000
#define MAX_SOURCE_LEN 100
#define MAX_VALUE_LEN 1000    /* a string observed_value */
#define MAX_EXPECTED_LEN 2048 /* expected, serialized */
#define MAX_MESSAGE_LEN 2000
#define TREND_DAYS_MAX 90
#define TREND_DAYS_DEFAULT "30"
#define MAX_SCORE_DEFAULT "80"

static mf_pg_stmt_t stmts[] = {
#define BATCHES 0
    {"quality_batches",
     "SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN jsonb_build_array((array_agg(id ORDER BY rn))[$1::int])::text END "
     "FROM (SELECT q.id, row_number() OVER (ORDER BY q.id DESC) rn, "
     "             jsonb_build_object('at', mf_ts(q.at), 'observed_at', mf_ts(q.observed_at), "
     "               'source', q.source, 'metrics', q.metrics, "
     "               'assertions', q.assertions, "
     "               'run', (SELECT jsonb_build_object('run_id', r.run_id, 'state', r.state, "
     "                              'event_time', mf_ts(r.event_time), "
     "                              'job', jsonb_build_object('namespace', j.namespace, 'name', j.name)) "
     "                       FROM runs r JOIN jobs j ON j.id = r.job_id "
     "                       WHERE r.tenant_id = q.tenant_id AND r.run_id = q.run_id)) doc "
     "      FROM dataset_quality q WHERE q.tenant_id = mf_current_tenant() "
     "        AND q.dataset_id = mf_dataset_id($3, $4) "
     "        AND ($2::jsonb IS NULL OR q.id < (SELECT mf_cursor_bigint($2::jsonb))) "
     "        AND ($5::text IS NULL OR q.assertions @> jsonb_build_array(jsonb_build_object('column', $5::text))) "
     "      ORDER BY q.id DESC LIMIT $1::int + 1) s",
     -1},
#define RECORD 1
    {"quality_record", "SELECT mf_quality_record($1, $2, $3, $4::uuid, $5::jsonb)::text", -1},
#define SUMMARY 2
    {"quality_summary", "SELECT mf_quality_summary($1, $2, $3::int)::text", -1},
#define UNHEALTHY 3
    {"quality_unhealthy",
     "SELECT items::text, next_key::text FROM mf_quality_unhealthy($1::int, $2::jsonb, $3::numeric, $4, $5, $6)",
     -1},
    {NULL, NULL, -1},
};

static const char *const severities[] = {"info", "warning", "error", "critical", NULL};

static int is_severity(const char *s)
{
    for (const char *const *v = severities; *v != NULL; v++)
        if (strcmp(s, *v) == 0)
            return 1;
    return 0;
}

/* observed_value: a number, a string of at most MAX_VALUE_LEN bytes, or null. */
static int check_observed(json_t *result, const char *where, mf_json_err_t *err)
{
    json_t *v = json_object_get(result, "observed_value");
    char at[128];
    mf_json_path_key(at, sizeof(at), where, "observed_value");
    if (v == NULL || json_is_null(v) || json_is_number(v))
        return 0;
    if (json_is_string(v))
        return mf_json_check_text(v, at, 0, MAX_VALUE_LEN, MF_JSON_MULTILINE, err);
    return mf_json_fail(err, "%s must be a number, a string or null", at);
}

/* expected: any JSON value of at most MAX_EXPECTED_LEN bytes serialized. */
static int check_expected(json_t *result, const char *where, mf_json_err_t *err)
{
    json_t *v = json_object_get(result, "expected");
    if (v == NULL)
        return 0;
    size_t len;
    char *text = mf_json_dump(v, &len);
    free(text);
    if (len <= MAX_EXPECTED_LEN)
        return 0;
    char at[128];
    mf_json_path_key(at, sizeof(at), where, "expected");
    return mf_json_fail(err, "%s is too large (at most %d bytes of JSON)", at, MAX_EXPECTED_LEN);
}

/* One result of the body; seen collects "check\ncolumn" so a batch names each check once. */
static int check_result(json_t *result, const char *where, json_t *seen, mf_json_err_t *err)
{
    static const char *const allowed[] = {"check",  "column",   "passed",  "observed_value",
                                          "expected", "severity", "message", NULL};
    const char *check, *column, *severity, *message;
    int passed;
    if (!json_is_object(result))
        return mf_json_fail(err, "%s must be an object", where);
    if (mf_json_only_fields(result, where, allowed, err) != 0 ||
        mf_json_string(result, where, "check", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &check, err) != 0 ||
        mf_json_string(result, where, "column", MF_JSON_NULLABLE, 1, MF_NAME_MAX, &column, err) != 0 ||
        mf_json_bool(result, where, "passed", MF_JSON_REQUIRED, &passed, err) != 0 ||
        mf_json_string(result, where, "severity", MF_JSON_REQUIRED, 1, 16, &severity, err) != 0 ||
        mf_json_string(result, where, "message", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MAX_MESSAGE_LEN, &message,
                       err) != 0 ||
        check_observed(result, where, err) != 0 || check_expected(result, where, err) != 0)
        return MF_EINVALID_REQUEST;
    if (!is_severity(severity))
        return mf_json_fail(err, "%s.severity must be info, warning, error or critical", where);
    char key[2 * MF_NAME_MAX + 2];
    snprintf(key, sizeof(key), "%s\n%s", check, column ? column : "");
    int repeated = json_object_get(seen, key) != NULL;
    json_object_set_new(seen, key, json_true());
    if (repeated)
        return mf_json_fail(err, "%s repeats check \"%.100s\"%s%.100s in this batch", where, check,
                            column ? " on column " : "", column ? column : "");
    return 0;
}

static int check_results(json_t *results, mf_json_err_t *err)
{
    json_t *seen = json_object(), *result;
    size_t i;
    int rc = 0;
    json_array_foreach(results, i, result)
    {
        char where[32];
        mf_json_path_index(where, sizeof(where), "results", i);
        if ((rc = check_result(result, where, seen, err)) != 0)
            break;
    }
    json_decref(seen);
    return rc;
}

static void on_recorded(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 201, "dataset not found"); }

static void record_results(mf_req_t *r)
{
    static const char *const allowed[] = {"source", "run_id", "results", NULL};
    const char *ns = mf_api_namespace_or_respond(r), *source, *run_id;
    json_t *b = mf_req_body(r), *results;
    mf_json_err_t err;
    if (ns == NULL)
        return;
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_string(b, "", "source", MF_JSON_REQUIRED, 1, MAX_SOURCE_LEN, &source, &err) != 0 ||
        mf_json_string(b, "", "run_id", MF_JSON_NULLABLE, 1, 64, &run_id, &err) != 0 ||
        mf_json_array(b, "", "results", MF_JSON_REQUIRED, SIZE_MAX, &results, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    if (run_id != NULL && !mf_is_uuid(run_id, strlen(run_id))) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "run_id must be a UUID");
        return;
    }
    if (json_array_size(results) == 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "results must hold at least one result");
        return;
    }
    if (json_array_size(results) > MAX_RESULTS) {
        mf_respond_error(r, MF_EPAYLOAD_TOO_LARGE, "results holds %zu results; at most %d per request",
                         json_array_size(results), MAX_RESULTS);
        return;
    }
    if (check_results(results, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    size_t len;
    char *text = mf_json_dump(results, &len);
    const char *params[] = {ns, mf_req_param(r, "name"), source, run_id, text};
    int rc = mf_req_query_or_respond(r, &stmts[RECORD], 5, params, on_recorded);
    free(text);
    (void)rc; /* answered either way */
}

static void list_batches(mf_req_t *r)
{
    const char *ns = mf_api_namespace_or_respond(r), *column;
    if (ns == NULL || mf_api_query_name_or_respond(r, "column", 0, &column) != 0)
        return;
    const char *extra[] = {ns, mf_req_param(r, "name"), column};
    if (mf_list_query_or_respond(r, &stmts[BATCHES], 3, extra, 1) != 0)
        return;
}

/* An integer query parameter within [min, max] (def when absent or empty); answers 400 itself. */
static const char *int_query_or_respond(mf_req_t *r, const char *key, const char *def, long long min, long long max)
{
    const char *v = mf_req_query(r, key);
    long long n;
    if (v == NULL || v[0] == '\0')
        return def;
    if (mf_parse_int(v, strlen(v), min, max, &n) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter %s must be an integer from %lld to %lld", key, min,
                         max);
        return NULL;
    }
    return v;
}

static void on_summary(mf_req_t *r, PGresult *res) { mf_respond_row_or_404(r, res, 200, "dataset not found"); }

static void summary(mf_req_t *r)
{
    const char *ns = mf_api_namespace_or_respond(r), *days;
    if (ns == NULL || (days = int_query_or_respond(r, "days", TREND_DAYS_DEFAULT, 1, TREND_DAYS_MAX)) == NULL)
        return;
    const char *params[] = {ns, mf_req_param(r, "name"), days};
    if (mf_req_query_or_respond(r, &stmts[SUMMARY], 3, params, on_summary) != 0)
        return;
}

static void unhealthy(mf_req_t *r)
{
    const char *max_score = int_query_or_respond(r, "max_score", MAX_SCORE_DEFAULT, 0, 100), *severity, *domain,
               *owner;
    if (max_score == NULL)
        return;
    severity = mf_req_query(r, "severity");
    if (severity != NULL && severity[0] == '\0')
        severity = NULL;
    if (severity != NULL && !is_severity(severity)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "query parameter severity must be info, warning, error or critical");
        return;
    }
    if (mf_api_query_name_or_respond(r, "domain", 0, &domain) != 0 ||
        mf_api_query_name_or_respond(r, "owner", 0, &owner) != 0)
        return;
    const char *extra[] = {max_score, severity, domain, owner};
    if (mf_list_query_or_respond(r, &stmts[UNHEALTHY], 4, extra, 1) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/datasets/{name}/quality", MF_ROLE_VIEWER, list_batches, MF_BODY_NONE},
    {"POST", "/api/v1/datasets/{name}/quality", MF_ROLE_EDITOR, record_results, MF_BODY_JSON},
    {"GET", "/api/v1/datasets/{name}/quality/summary", MF_ROLE_VIEWER, summary, MF_BODY_NONE},
    {"GET", "/api/v1/quality/unhealthy", MF_ROLE_VIEWER, unhealthy, MF_BODY_NONE},
};

void mf_api_register_quality(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
