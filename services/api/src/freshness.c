/*
 * freshness.c: a dataset's freshness policy (how old its data may get:
 * expected interval, grace period, optional cron schedule in a time zone),
 * its status now (fresh, late, stale), and the tenant's violation history.
 *
 * The rules live in SQL (migrations/0011_freshness_health.sql): the status is
 * computed from the dataset's last update by the same functions mf-analytics
 * uses when it records transitions, and the schedule and time zone are checked
 * there (a bad one is a 400 naming it). Writes need write access to the
 * dataset (SQL checks a scoped or granted caller); every change is audited.
 */
#include <stdio.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/list.h"
#include "mf/util.h"

/* A year: policies for data that may be older than that are not freshness policies. */
#define MAX_INTERVAL_SECS 31536000
#define MAX_CRON_LEN 128
#define MAX_TIMEZONE_LEN 64

static mf_pg_stmt_t stmts[] = {
#define PUT 0
    {"freshness_put",
     "SELECT doc::text, created FROM mf_freshness_put($1, $2, $3::integer, $4::integer, $5, $6)", -1},
#define GET 1
    /* 404 from SQL without such a dataset; a NULL document: no policy */
    {"freshness_get",
     "SELECT CASE WHEN p.id IS NOT NULL THEN mf_freshness_doc(p)::text END "
     "FROM (SELECT mf_dataset_id($1, $2) id) d "
     "LEFT JOIN freshness_policies p ON p.dataset_id = d.id",
     -1},
#define DELETE 2
    {"freshness_delete", "SELECT mf_freshness_delete($1, $2)", -1},
#define VIOLATIONS 3
    {"freshness_violations",
     "SELECT coalesce(jsonb_agg(doc ORDER BY rn) FILTER (WHERE rn <= $1::int), '[]')::text, "
     "       CASE WHEN count(*) > $1::int THEN jsonb_build_array((array_agg(id ORDER BY rn))[$1::int])::text END "
     "FROM (SELECT v.id, mf_freshness_violation_doc(v) doc, row_number() OVER (ORDER BY v.id DESC) rn "
     "      FROM freshness_violations v JOIN datasets d ON d.id = v.dataset_id "
     "      WHERE v.tenant_id = mf_current_tenant() "
     "        AND ($2::jsonb IS NULL OR v.id < (SELECT mf_cursor_bigint($2::jsonb))) "
     "        AND ($3::text IS NULL OR v.status = $3) "
     "        AND ($4::boolean IS NULL OR (v.resolved_at IS NULL) = $4::boolean) "
     "        AND ($5::text IS NULL OR d.namespace = $5) "
     "        AND ($6::text IS NULL OR d.name = $6) "
     "      ORDER BY v.id DESC LIMIT $1::int + 1) s",
     -1},
    {NULL, NULL, -1},
};

static void on_put(mf_req_t *r, PGresult *res)
{
    int created = PQgetvalue(res, 0, 1)[0] == 't';
    mf_respond_json(r, created ? 201 : 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

static void put_policy(mf_req_t *r)
{
    static const char *const allowed[] = {"expected_interval_secs", "grace_period_secs", "cron_schedule", "timezone",
                                          NULL};
    const char *ns = mf_api_namespace_or_respond(r), *cron, *tz;
    long long interval = 0, grace = 0;
    int present;
    mf_json_err_t err;
    json_t *b = mf_req_body(r);
    if (ns == NULL)
        return;
    if (mf_json_only_fields(b, "", allowed, &err) != 0 ||
        mf_json_int(b, "", "expected_interval_secs", MF_JSON_REQUIRED, 1, MAX_INTERVAL_SECS, &interval, &present,
                    &err) != 0 ||
        mf_json_int(b, "", "grace_period_secs", MF_JSON_NULLABLE, 0, MAX_INTERVAL_SECS, &grace, &present, &err) != 0 ||
        mf_json_string(b, "", "cron_schedule", MF_JSON_NULLABLE, 1, MAX_CRON_LEN, &cron, &err) != 0 ||
        mf_json_string(b, "", "timezone", MF_JSON_NULLABLE, 1, MAX_TIMEZONE_LEN, &tz, &err) != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    char interval_text[24], grace_text[24];
    snprintf(interval_text, sizeof(interval_text), "%lld", interval);
    snprintf(grace_text, sizeof(grace_text), "%lld", grace);
    const char *params[] = {ns, mf_req_param(r, "name"), interval_text, grace_text, cron, tz};
    if (mf_req_query_or_respond(r, &stmts[PUT], 6, params, on_put) != 0)
        return;
}

static void on_get(mf_req_t *r, PGresult *res)
{
    mf_respond_row_or_404(r, res, 200, "this dataset has no freshness policy");
}

static void on_deleted(mf_req_t *r, PGresult *res) { mf_respond_empty(r, 204); }

static void by_dataset(mf_req_t *r, int stmt, mf_req_pg_cb cb)
{
    const char *ns = mf_api_namespace_or_respond(r);
    if (ns == NULL)
        return;
    const char *params[] = {ns, mf_req_param(r, "name")};
    if (mf_req_query_or_respond(r, &stmts[stmt], 2, params, cb) != 0)
        return;
}

static void get_policy(mf_req_t *r) { by_dataset(r, GET, on_get); }
static void delete_policy(mf_req_t *r) { by_dataset(r, DELETE, on_deleted); }

/* One of the allowed values of query parameter key (NULL when absent or empty); answers 400 itself. */
static int MF_MUST_CHECK choice_or_respond(mf_req_t *r, const char *key, const char *const *values, const char **out)
{
    const char *v = mf_req_query(r, key);
    *out = NULL;
    if (v == NULL || v[0] == '\0')
        return 0;
    for (const char *const *c = values; *c != NULL; c++)
        if (strcmp(v, *c) == 0) {
            *out = *c;
            return 0;
        }
    mf_respond_error(r, MF_EINVALID_REQUEST, "%s must be %s or %s", key, values[0], values[1]);
    return MF_EINVALID_REQUEST;
}

static void list_violations(mf_req_t *r)
{
    static const char *const statuses[] = {"late", "stale", NULL};
    static const char *const booleans[] = {"true", "false", NULL};
    const char *status, *open, *ns, *dataset;
    if (choice_or_respond(r, "status", statuses, &status) != 0 || choice_or_respond(r, "open", booleans, &open) != 0 ||
        mf_api_query_name_or_respond(r, "namespace", 0, &ns) != 0 ||
        mf_api_query_name_or_respond(r, "dataset", 0, &dataset) != 0)
        return;
    if (dataset != NULL && ns == NULL)
        ns = "default";
    const char *extra[] = {status, open, ns, dataset};
    if (mf_list_query_or_respond(r, &stmts[VIOLATIONS], 4, extra, 1) != 0)
        return;
}

static const mf_route_t routes[] = {
    {"PUT", "/api/v1/datasets/{name}/freshness", MF_ROLE_EDITOR, put_policy, MF_BODY_JSON},
    {"GET", "/api/v1/datasets/{name}/freshness", MF_ROLE_VIEWER, get_policy, MF_BODY_NONE},
    {"DELETE", "/api/v1/datasets/{name}/freshness", MF_ROLE_EDITOR, delete_policy, MF_BODY_NONE},
    {"GET", "/api/v1/freshness/violations", MF_ROLE_VIEWER, list_violations, MF_BODY_NONE},
};

void mf_api_register_freshness(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
