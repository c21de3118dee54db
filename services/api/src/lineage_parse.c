/*
 * lineage_parse.c: POST /api/v1/lineage/parse, column lineage from SQL text
 * (libshared sqllineage.c), returned and, with "record": true, written.
 *
 * A request runs in up to four steps, never blocking the loop: the SQL is
 * parsed on a worker thread (a large statement takes tens of milliseconds);
 * the catalog's columns of every table it names are read in one statement
 * (under the caller's row-level security and scope, so a table the caller
 * may not see stays unknown); when some were known the SQL is parsed again
 * with them, which resolves `*` and unqualified columns; then the answer,
 * or the recording: the edges become one ingest event applied by
 * mf_apply_event, the write path every ingest takes (placeholders for
 * unknown datasets, version bumps, documents), and an audit row, in one
 * transaction.
 *
 * Tables are datasets by the name written in the SQL ("analytics.orders")
 * in the body's namespace; "target" names what a bare SELECT feeds (a dbt
 * model, a job's output). Viewers may parse; recording needs an editor whose
 * scope reaches the datasets written (the database's access guard checks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "mf/catalog.h"
#include "mf/config.h"
#include "mf/sqllineage.h"
#include "mf/util.h"

static mf_pg_stmt_t stmts[] = {
#define KNOWN 0
    {"lineage_parse_known",
     "SELECT coalesce(jsonb_object_agg(d.name, (SELECT coalesce(jsonb_agg(f.name ORDER BY f.ordinal), '[]') "
     "                                          FROM fields f WHERE f.dataset_id = d.id)), '{}')::text "
     "FROM datasets d "
     "WHERE d.tenant_id = mf_current_tenant() AND d.namespace = $1 "
     "  AND d.name IN (SELECT jsonb_array_elements_text($2::jsonb)) "
     "  AND EXISTS (SELECT 1 FROM fields f WHERE f.dataset_id = d.id)",
     -1},
#define RECORD 1
    {"lineage_parse_record",
     "SELECT s::text FROM mf_apply_event($1::jsonb) s, "
     "     LATERAL mf_audit_event(mf_current_tenant(), 'lineage.sql_recorded', $2, "
     "                            jsonb_build_object('summary', s, 'column_pairs', $3::int, 'warnings', $4::int))",
     -1},
    {NULL, NULL, -1},
};

/* The request's work; the worker thread touches only sql, known, result and msg. */
typedef struct {
    char *sql;
    size_t sql_len;
    json_t *target; /* {"namespace","name"} or NULL */
    char ns[MF_NAME_MAX + 1];
    int record;
    json_t *known;  /* {table: [column]} from the catalog, or NULL on the first parse */
    json_t *result; /* the parser's answer */
    char msg[sizeof(((mf_json_err_t *)0)->msg)];
} parse_job_t;

static void job_free(void *p)
{
    parse_job_t *job = p;
    free(job->sql);
    json_decref(job->target);
    json_decref(job->known);
    json_decref(job->result);
    free(job);
}

static void parse_work(void *arg)
{
    parse_job_t *job = arg;
    mf_json_err_t err = {{0}};
    mf_sqllineage_opts_t opts = {
        .default_target = job->target ? json_string_value(json_object_get(job->target, "name")) : NULL,
        .known_columns = job->known,
    };
    json_decref(job->result);
    job->result = mf_sqllineage_parse(job->sql, job->sql_len, &opts, &err);
    if (job->result == NULL)
        memcpy(job->msg, err.msg, sizeof(job->msg));
}

/* A table of the SQL as a dataset ref: the target keeps its own namespace, others take the body's. */
static json_t *table_ref(const parse_job_t *job, const char *table)
{
    if (job->target != NULL && strcmp(json_string_value(json_object_get(job->target, "name")), table) == 0)
        return json_incref(job->target);
    return json_pack("{s:s,s:s}", "namespace", job->ns, "name", table);
}

static json_t *refs_of(const parse_job_t *job, json_t *tables)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tables, i, t) json_array_append_new(out, table_ref(job, json_string_value(t)));
    return out;
}

/* The answer's edges with refs for tables. */
static json_t *edges_with_refs(const parse_job_t *job)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(job->result, "edges"), i, e)
    {
        json_array_append_new(out, json_pack("{s:o,s:O,s:o,s:O,s:O}", "source",
                                             table_ref(job, json_string_value(json_object_get(e, "source"))),
                                             "source_field", json_object_get(e, "source_field"), "target",
                                             table_ref(job, json_string_value(json_object_get(e, "target"))),
                                             "target_field", json_object_get(e, "target_field"), "transformation",
                                             json_object_get(e, "transformation")));
    }
    return out;
}

/* The ingest event of the edges: one lineage entry per (source, target) pair of datasets. */
static json_t *lineage_event(json_t *edges)
{
    json_t *lineage = json_array(), *index = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(edges, i, e)
    {
        json_t *src = json_object_get(e, "source"), *tgt = json_object_get(e, "target");
        json_t *pair = json_pack("[O,O]", src, tgt), *entry;
        size_t len;
        char *key = mf_json_dump(pair, &len);
        json_decref(pair);
        json_t *idx = json_object_get(index, key);
        if (idx == NULL) {
            entry = json_pack("{s:O,s:O,s:n,s:[]}", "source", src, "target", tgt, "job", "columns");
            json_object_set_new(index, key, json_integer((json_int_t)json_array_size(lineage)));
            json_array_append_new(lineage, entry);
        } else {
            entry = json_array_get(lineage, (size_t)json_integer_value(idx));
        }
        free(key);
        json_array_append_new(json_object_get(entry, "columns"),
                              json_pack("{s:O,s:O,s:O,s:s}", "source_field", json_object_get(e, "source_field"),
                                        "target_field", json_object_get(e, "target_field"), "transformation",
                                        json_object_get(e, "transformation"), "expression", ""));
    }
    json_decref(index);
    return json_pack("{s:s,s:o}", "source", "sql", "lineage", lineage);
}

static void respond(mf_req_t *r, json_t *recorded)
{
    parse_job_t *job = mf_req_data(r);
    json_t *res = job->result;
    json_t *body = json_pack("{s:O,s:o,s:o,s:o,s:O,s:o}", "statements", json_object_get(res, "statements"), "edges",
                             edges_with_refs(job), "sources", refs_of(job, json_object_get(res, "sources")), "targets",
                             refs_of(job, json_object_get(res, "targets")), "warnings",
                             json_object_get(res, "warnings"), "recorded", recorded ? recorded : json_null());
    mf_respond_jsonv(r, 200, body);
    json_decref(body);
}

static void on_recorded(mf_req_t *r, PGresult *res)
{
    json_t *summary = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    respond(r, json_pack("{s:O}", "lineage_edges", json_object_get(summary, "lineage_edges")));
    json_decref(summary);
}

static void finish(mf_req_t *r)
{
    parse_job_t *job = mf_req_data(r);
    json_t *edges = json_object_get(job->result, "edges");
    if (!job->record) {
        respond(r, NULL);
        return;
    }
    if (json_array_size(edges) == 0) {
        respond(r, json_pack("{s:i}", "lineage_edges", 0));
        return;
    }
    json_t *with_refs = edges_with_refs(job), *event = lineage_event(with_refs);
    size_t len;
    char *text = mf_json_dump(event, &len), pairs[24], warnings[24];
    const char *target = job->target ? json_string_value(json_object_get(job->target, "name"))
                                     : json_string_value(json_array_get(json_object_get(job->result, "targets"), 0));
    snprintf(pairs, sizeof(pairs), "%zu", json_array_size(edges));
    snprintf(warnings, sizeof(warnings), "%zu", json_array_size(json_object_get(job->result, "warnings")));
    const char *params[] = {text, target ? target : "", pairs, warnings};
    int rc = mf_req_query_or_respond(r, &stmts[RECORD], 4, params, on_recorded);
    free(text);
    json_decref(event);
    json_decref(with_refs);
    if (rc != 0)
        return;
}

static void on_parsed(mf_req_t *r)
{
    parse_job_t *job = mf_req_data(r);
    if (job->result == NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", job->msg);
        return;
    }
    finish(r);
}

static void on_known(mf_req_t *r, PGresult *res)
{
    parse_job_t *job = mf_req_data(r);
    json_t *known = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (json_object_size(known) == 0) { /* nothing more to resolve with: the first parse stands */
        json_decref(known);
        finish(r);
        return;
    }
    job->known = known;
    mf_req_run_blocking(r, parse_work, job, on_parsed);
}

/* The first parse: refused SQL answers 400, else the catalog's columns of its tables are read. */
static void on_first_parse(mf_req_t *r)
{
    parse_job_t *job = mf_req_data(r);
    if (job->result == NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", job->msg);
        return;
    }
    json_t *tables = json_array();
    json_array_extend(tables, json_object_get(job->result, "sources"));
    json_array_extend(tables, json_object_get(job->result, "targets"));
    if (job->target != NULL)
        json_array_append(tables, json_object_get(job->target, "name"));
    size_t len;
    char *text = mf_json_dump(tables, &len);
    const char *params[] = {job->ns, text};
    int rc = mf_req_query_or_respond(r, &stmts[KNOWN], 2, params, on_known);
    free(text);
    json_decref(tables);
    if (rc != 0)
        return;
}

/* The body's members into job; answers 400 (or 403) itself and returns an error. */
static int read_body_or_respond(mf_req_t *r, parse_job_t *job)
{
    static const char *const allowed[] = {"sql", "target", "namespace", "dialect", "record", NULL};
    json_t *body = mf_req_body(r), *target_v = json_object_get(body, "target");
    const char *sql, *ns, *dialect;
    mf_json_err_t err;
    long long max = mf_config_int(MF_CFG_SQL_LINEAGE_MAX_BYTES);
    if (mf_json_only_fields(body, "", allowed, &err) != 0 ||
        mf_json_string(body, "", "sql", MF_JSON_REQUIRED | MF_JSON_MULTILINE, 1, (size_t)-1, &sql, &err) != 0 ||
        mf_json_string(body, "", "namespace", MF_JSON_NULLABLE, 1, MF_NAME_MAX, &ns, &err) != 0 ||
        mf_json_string(body, "", "dialect", MF_JSON_NULLABLE, 1, 32, &dialect, &err) != 0 ||
        mf_json_bool(body, "", "record", MF_JSON_NULLABLE, &job->record, &err) != 0 ||
        (target_v != NULL && !json_is_null(target_v) &&
         (job->target = mf_catalog_ref_from_json(target_v, "target", &err)) == NULL)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return MF_EINVALID_REQUEST;
    }
    if (json_string_length(json_object_get(body, "sql")) > (size_t)max) {
        mf_respond_error(r, MF_EPAYLOAD_TOO_LARGE, "sql is %zu bytes, more than the %lld this service parses",
                         json_string_length(json_object_get(body, "sql")), max);
        return MF_EPAYLOAD_TOO_LARGE;
    }
    if (dialect != NULL && strcmp(dialect, "postgres") != 0 && strcmp(dialect, "postgresql") != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "dialect must be postgres (the SQL is read by PostgreSQL's parser)");
        return MF_EINVALID_REQUEST;
    }
    if (ns != NULL && !mf_catalog_name_ok(ns)) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "namespace must be a name of 1-%d printable characters", MF_NAME_MAX);
        return MF_EINVALID_REQUEST;
    }
    snprintf(job->ns, sizeof(job->ns), "%s", ns ? ns : "default");
    if (json_is_string(target_v)) /* a bare name lives in the body's namespace */
        json_object_set_new(job->target, "namespace", json_string(job->ns));
    job->sql_len = json_string_length(json_object_get(body, "sql"));
    job->sql = mf_strndup(sql, job->sql_len);
    return 0;
}

static void parse_lineage(mf_req_t *r)
{
    parse_job_t *job = mf_calloc(1, sizeof(*job));
    mf_req_set_data(r, job, job_free);
    if (read_body_or_respond(r, job) != 0)
        return;
    const mf_identity_t *id = mf_req_identity(r);
    if (job->record && !mf_role_allows(id->role, MF_ROLE_EDITOR)) {
        mf_req_audit_and_respond_error(r, id->tenant_id, "permission.denied", id->actor,
                                       "{\"route\":\"POST /api/v1/lineage/parse\",\"reason\":\"record needs editor\"}",
                                       MF_EFORBIDDEN, "recording lineage needs the editor role (parse without record)");
        return;
    }
    mf_req_run_blocking(r, parse_work, job, on_first_parse);
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/lineage/parse", MF_ROLE_VIEWER, parse_lineage, MF_BODY_JSON},
};

void mf_api_register_lineage_parse(void)
{
    mf_api_register_statements(stmts);
    mf_http_add_routes(routes, MF_ARRAY_SIZE(routes));
}
