/*
 * export.c: the tenant's whole catalog as one SQLite file (the MetaFuse local
 * schema, libshared sqlite_catalog.h), out and back in.
 *
 * GET /api/v1/export/sqlite builds the file on a worker thread
 * (mf_req_run_blocking): a blocking connection in the caller's context (Row
 * Level Security applies as on every read) opens
 * one REPEATABLE READ READ ONLY transaction, reads each table through a
 * cursor in batches of EXPORT_BATCH rows and appends them to a private
 * temporary file, which is unlinked as soon as it is complete. The loop
 * thread then streams it (mf_respond_file: one chunk at a time, with
 * Content-Length so clients show progress); closing the descriptor frees it.
 *
 * POST /api/v1/import/sqlite takes such a file (or one of the original
 * MetaFuse tool) as the raw body. On a worker thread the file is validated
 * into an import plan (sqlite_catalog.c: the first problem is a 400 naming
 * table, row and column), then in one transaction: the report of what would
 * change is computed against the current catalog, and unless ?dry_run=true
 * the plan is applied: datasets, fields, tags and lineage as one ingest event
 * through mf_apply_event (the one write path), domains, owners, glossary
 * terms and links through the same SQL their REST routes use, plus a
 * catalog.import audit row. Any error rolls everything back.
 *
 * Roles: both need a tenant admin. The export is the whole catalog; an
 * import rewrites any dataset, term or domain at once, which an editor with
 * write access to the whole tenant could do piece by piece, but a bulk
 * change of that reach is an administrator's decision.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "api.h"
#include "mf/config.h"
#include "mf/json.h"
#include "mf/log.h"
#include "mf/sqlite_catalog.h"
#include "mf/util.h"

#define EXPORT_BATCH 20000
#define ERR_MAX 400

/* ---------------------------------------------------------------- SQL */

static const char set_context_sql[] =
    "SELECT set_config('mf.tenant_id', $1, true), set_config('mf.actor', $2, true), set_config('mf.request_id', "
    "$3, true), set_config('mf.client_addr', $4, true), set_config('mf.user_id', $5, true), set_config('mf.write_all', "
    "$6, true), set_config('mf.scope', $7, true)";

/*
 * The columns of each query are the writer's row kinds, in order
 * (sqlite_catalog.h), except that ids are uuids here: the first column of
 * datasets, edges and terms is replaced by the row's number in the file
 * (recorded in a map), and the uuids that other rows point to by the numbers of
 * their maps (refs: the map of each column, MAP_NONE for plain values).
 * Numbering in C keeps the queries free of joins between large sets, whose row
 * estimates under Row Level Security are poor enough to make Postgres choose
 * slow plans.
 */
enum { MAP_NONE, MAP_DATASETS, MAP_EDGES, MAP_TERMS, MAP__COUNT };
static const struct {
    mf_sqlite_kind_t kind;
    int defines;           /* MAP_NONE, or the map that numbers this query's own rows */
    unsigned char refs[8]; /* per column: the map its uuid is looked up in */
    const char *sql;
} export_queries[] = {
    {MF_SQLITE_DATASET,
     MAP_DATASETS,
     {0},
     "SELECT d.id::text, d.namespace, d.name, d.path, d.format, d.description, dm.name, o.name, mf_ts(d.created_at), "
     "mf_ts(d.updated_at), d.row_count, d.size_bytes, array_to_json(d.partition_keys)::text, d.placeholder::int, "
     "d.lifecycle, d.version, array_to_string(d.tags, ' ') "
     "FROM datasets d LEFT JOIN domains dm ON dm.id = d.domain_id "
     "LEFT JOIN owners o ON o.id = d.owner_id "
     "WHERE d.tenant_id = mf_current_tenant() "
     "ORDER BY d.namespace, d.name"},
    {MF_SQLITE_FIELD,
     MAP_NONE,
     {MAP_DATASETS},
     "SELECT dataset_id::text, ordinal, name, type, nullable::int, description, array_to_string(tags, ' "
     "') FROM fields WHERE tenant_id = mf_current_tenant()"},
    {MF_SQLITE_LINEAGE,
     MAP_EDGES,
     {MAP_NONE, MAP_DATASETS, MAP_DATASETS},
     "SELECT id::text, source_id::text, target_id::text, mf_ts(created_at) "
     "FROM lineage_edges WHERE tenant_id = mf_current_tenant()"},
    {MF_SQLITE_COLUMN,
     MAP_NONE,
     {MAP_EDGES},
     "SELECT edge_id::text, source_field, target_field, transformation, expression "
     "FROM column_lineage WHERE tenant_id = mf_current_tenant()"},
    {MF_SQLITE_TERM,
     MAP_TERMS,
     {0},
     "SELECT id::text, name, definition, status, mf_ts(created_at), mf_ts(updated_at) "
     "FROM glossary_terms WHERE tenant_id = mf_current_tenant() "
     "ORDER BY name"},
    {MF_SQLITE_LINK,
     MAP_NONE,
     {MAP_TERMS, MAP_DATASETS},
     "SELECT term_id::text, dataset_id::text, field_name FROM glossary_links WHERE tenant_id = mf_current_tenant()"},
    {MF_SQLITE_DOMAIN,
     MAP_NONE,
     {0},
     "SELECT name, description, mf_ts(created_at) "
     "FROM domains WHERE tenant_id = mf_current_tenant() "
     "ORDER BY name"},
    {MF_SQLITE_OWNER,
     MAP_NONE,
     {0},
     "SELECT name, email, team, mf_ts(created_at) "
     "FROM owners WHERE tenant_id = mf_current_tenant() "
     "ORDER BY name"},
};

/* What an import would change, counted against the current catalog ($1: the
 * plan). */
static const char import_report_sql[] =
    "WITH p AS (SELECT $1::jsonb AS plan), "
    "cs AS (SELECT c, d.id, d.placeholder, d.path, d.format, d.description, d.tags, d.row_count, d.size_bytes, "
    "d.partition_keys, dm.name AS domain, o.name AS owner "
    "FROM p CROSS JOIN LATERAL jsonb_array_elements(p.plan->'datasets') c "
    "LEFT JOIN datasets d ON d.tenant_id = mf_current_tenant() AND d.namespace = c->>'namespace' AND d.name "
    "= c->>'name' LEFT JOIN domains dm ON dm.id = d.domain_id "
    "LEFT JOIN owners o ON o.id = d.owner_id), "
    "ds AS (SELECT c, id, coalesce(tags, '{}') AS old_tags, "
    "CASE WHEN id IS NULL OR placeholder THEN 'create' "
    "WHEN (path, format, description) IS DISTINCT "
    "FROM (c->>'path', c->>'format', c->>'description') "
    "OR domain IS DISTINCT FROM c->>'domain' "
    "OR owner IS DISTINCT FROM c->>'owner' "
    "OR to_jsonb(tags) <> (SELECT coalesce(jsonb_agg(DISTINCT t "
    "ORDER BY t), '[]') FROM jsonb_array_elements_text(c->'tags') t) "
    "OR row_count IS DISTINCT FROM (c->'operational'->>'row_count')::bigint "
    "OR size_bytes IS DISTINCT "
    "FROM (c->'operational'->>'size_bytes')::bigint "
    "OR to_jsonb(partition_keys) <> coalesce(c->'operational'->'partition_keys', '[]') "
    "OR mf_fields_json(id) <> mf_normalize_fields(c->'fields') THEN 'update' ELSE 'unchanged' END AS action "
    "FROM cs), fl AS (SELECT f.name AS old_name, (f.type, f.nullable, f.description) IS DISTINCT "
    "FROM (nf->>'type', (nf->>'nullable')::boolean, nf->>'description') "
    "OR to_jsonb(f.tags) <> (SELECT coalesce(jsonb_agg(DISTINCT t "
    "ORDER BY t), '[]') FROM jsonb_array_elements_text(nf->'tags') t) AS changed, (SELECT count(DISTINCT "
    "t) FROM jsonb_array_elements_text(nf->'tags') t "
    "WHERE f.tags IS NULL OR NOT t = ANY (f.tags)) AS new_tags "
    "FROM ds CROSS JOIN LATERAL jsonb_array_elements(ds.c->'fields') nf "
    "LEFT JOIN fields f ON f.dataset_id = ds.id AND f.name = nf->>'name'), "
    "gone AS (SELECT count(*) AS n "
    "FROM ds JOIN fields f ON f.dataset_id = ds.id "
    "WHERE NOT EXISTS (SELECT 1 "
    "FROM jsonb_array_elements(ds.c->'fields') nf "
    "WHERE nf->>'name' = f.name)), "
    "ed AS (SELECT e, le.id AS eid "
    "FROM p CROSS JOIN LATERAL jsonb_array_elements(p.plan->'lineage') e "
    "LEFT JOIN datasets s ON s.tenant_id = mf_current_tenant() AND s.namespace = e->'source'->>'namespace' "
    "AND s.name = e->'source'->>'name' "
    "LEFT JOIN datasets t ON t.tenant_id = mf_current_tenant() AND t.namespace = e->'target'->>'namespace' "
    "AND t.name = e->'target'->>'name' "
    "LEFT JOIN lineage_edges le ON le.source_id = s.id AND le.target_id = t.id), "
    "cl AS (SELECT x.id AS old_id, (x.transformation, x.expression) IS DISTINCT "
    "FROM (c->>'transformation', c->>'expression') AS changed "
    "FROM ed CROSS JOIN LATERAL jsonb_array_elements(ed.e->'columns') c "
    "LEFT JOIN column_lineage x ON x.edge_id = ed.eid AND x.source_field = c->>'source_field' AND x.target_field "
    "= c->>'target_field'), tm AS (SELECT g.id, (g.definition, g.status) IS DISTINCT "
    "FROM (t->>'definition', t->>'status') AS changed "
    "FROM p CROSS JOIN LATERAL jsonb_array_elements(p.plan->'terms') t "
    "LEFT JOIN glossary_terms g ON g.tenant_id = mf_current_tenant() AND g.name = t->>'name'), "
    "lk AS (SELECT l FROM p CROSS JOIN LATERAL jsonb_array_elements(p.plan->'links') l "
    "WHERE NOT EXISTS (SELECT 1 "
    "FROM glossary_links gl JOIN glossary_terms g ON g.id = gl.term_id JOIN datasets d ON d.id = gl.dataset_id "
    "WHERE g.tenant_id = mf_current_tenant() AND g.name = l->>'term' AND d.namespace = l->>'namespace' "
    "AND d.name = l->>'dataset' AND gl.field_name = coalesce(l->>'field', ''))), "
    "dm AS (SELECT m.id, x->>'description' <> '' AND m.description IS DISTINCT "
    "FROM x->>'description' AS changed "
    "FROM p CROSS JOIN LATERAL jsonb_array_elements(p.plan->'domains') x "
    "LEFT JOIN domains m ON m.tenant_id = mf_current_tenant() AND m.name = x->>'name'), "
    "ow AS (SELECT o.id, (x->>'email' IS NOT NULL AND o.email IS DISTINCT "
    "FROM x->>'email') OR (x->>'team' IS NOT NULL AND o.team IS DISTINCT "
    "FROM x->>'team') AS changed "
    "FROM p CROSS JOIN LATERAL jsonb_array_elements(p.plan->'owners') x "
    "LEFT JOIN owners o ON o.tenant_id = mf_current_tenant() AND o.name = x->>'name') "
    "SELECT jsonb_build_object( "
    "'datasets', (SELECT jsonb_build_object('create', count(*) FILTER (WHERE action = 'create'), 'update', "
    "count(*) FILTER (WHERE action = 'update'), 'unchanged', count(*) FILTER (WHERE action = 'unchanged')) "
    "FROM ds), 'fields', (SELECT jsonb_build_object('create', count(*) FILTER (WHERE old_name IS NULL), "
    "'update', count(*) FILTER (WHERE old_name IS NOT NULL AND changed), "
    "'delete', (SELECT n FROM gone)) "
    "FROM fl), 'tags', jsonb_build_object('add', (SELECT coalesce(sum((SELECT count(DISTINCT t) "
    "FROM jsonb_array_elements_text(ds.c->'tags') t "
    "WHERE NOT t = ANY (ds.old_tags))), 0) "
    "FROM ds) + (SELECT coalesce(sum(new_tags), 0) "
    "FROM fl)), 'lineage_edges', (SELECT jsonb_build_object('create', count(*) FILTER (WHERE eid IS NULL)) "
    "FROM ed), 'column_lineage', (SELECT jsonb_build_object('create', count(*) FILTER (WHERE old_id IS "
    "NULL), 'update', count(*) FILTER (WHERE old_id IS NOT NULL AND changed)) "
    "FROM cl), 'glossary_terms', (SELECT jsonb_build_object('create', count(*) FILTER (WHERE id IS NULL), "
    "'update', count(*) FILTER (WHERE id IS NOT NULL AND changed)) "
    "FROM tm), 'glossary_links', jsonb_build_object('create', (SELECT count(*) "
    "FROM lk)), 'domains', (SELECT jsonb_build_object('create', count(*) FILTER (WHERE id IS NULL), 'update', "
    "count(*) FILTER (WHERE id IS NOT NULL AND changed)) "
    "FROM dm), 'owners', (SELECT jsonb_build_object('create', count(*) FILTER (WHERE id IS NULL), 'update', "
    "count(*) FILTER (WHERE id IS NOT NULL AND changed)) "
    "FROM ow), 'changed_datasets', (SELECT coalesce(jsonb_agg(jsonb_build_object('action', action, 'namespace', "
    "c->>'namespace', 'name', c->>'name') "
    "ORDER BY c->>'namespace', c->>'name'), '[]') "
    "FROM (SELECT * FROM ds WHERE action <> 'unchanged' "
    "ORDER BY c->>'namespace', c->>'name' LIMIT 1000) x))::text";

/* The import itself, in order, each with the plan as $1 (the event as $1 for
 * mf_apply_event). */
static const char import_directories_sql[] =
    "WITH p AS (SELECT $1::jsonb AS plan), "
    "dom AS (INSERT INTO domains (tenant_id, name, description) SELECT mf_current_tenant(), x->>'name', "
    "x->>'description' FROM p CROSS JOIN LATERAL jsonb_array_elements(p.plan->'domains') x "
    "ON CONFLICT (tenant_id, name) DO UPDATE SET description = EXCLUDED.description "
    "WHERE EXCLUDED.description <> '' AND domains.description IS DISTINCT "
    "FROM EXCLUDED.description "
    "RETURNING 1), own AS (INSERT INTO owners (tenant_id, name, email, team) SELECT mf_current_tenant(), "
    "x->>'name', x->>'email', x->>'team' "
    "FROM p CROSS JOIN LATERAL jsonb_array_elements(p.plan->'owners') x "
    "ON CONFLICT (tenant_id, name) DO UPDATE SET email = coalesce(EXCLUDED.email, owners.email), team "
    "= coalesce(EXCLUDED.team, owners.team) "
    "WHERE (EXCLUDED.email IS NOT NULL AND owners.email IS DISTINCT "
    "FROM EXCLUDED.email) OR (EXCLUDED.team IS NOT NULL AND owners.team IS DISTINCT "
    "FROM EXCLUDED.team) RETURNING 1) SELECT (SELECT count(*) "
    "FROM dom), (SELECT count(*) "
    "FROM own)";

static const char import_event_sql[] = "SELECT mf_apply_event($1::jsonb)";

static const char import_terms_sql[] =
    "INSERT INTO glossary_terms (tenant_id, name, definition, status) SELECT mf_current_tenant(), t->>'name', "
    "t->>'definition', t->>'status' "
    "FROM jsonb_array_elements($1::jsonb->'terms') t "
    "ON CONFLICT (tenant_id, name) DO UPDATE SET definition = EXCLUDED.definition, status = EXCLUDED.status, "
    "updated_at = now() WHERE (glossary_terms.definition, glossary_terms.status) IS DISTINCT "
    "FROM (EXCLUDED.definition, EXCLUDED.status)";

static const char import_links_sql[] =
    "SELECT count(mf_link_term(l->>'term', l->>'namespace', l->>'dataset', l->>'field', true)) "
    "FROM jsonb_array_elements($1::jsonb->'links') l "
    "WHERE NOT EXISTS (SELECT 1 "
    "FROM glossary_links gl JOIN glossary_terms g ON g.id = gl.term_id JOIN datasets d ON d.id = gl.dataset_id "
    "WHERE g.tenant_id = mf_current_tenant() AND g.name = l->>'term' AND d.namespace = l->>'namespace' "
    "AND d.name = l->>'dataset' AND gl.field_name = coalesce(l->>'field', ''))";

static const char import_audit_sql[] =
    "SELECT mf_audit_event(mf_current_tenant(), 'catalog.import', 'sqlite', $1::jsonb)";

/* ---------------------------------------------------------------- a job off
 * the loop */

/* Everything the worker thread needs, copied from the request (which it must
 * not touch). */
typedef struct {
    char tenant[40], actor[128], request_id[72], client[64], user_id[40], write_all[4], scope[48];
    int err; /* 0 or an MF_E* with msg */
    char msg[ERR_MAX];
    /* export */
    int fd;
    size_t size;
    char tenant_name[160];
    /* import */
    char *body;
    size_t body_len;
    int dry_run;
    char *report; /* the answer */
} job_t;

static void job_free(void *p)
{
    job_t *job = p;
    if (job->fd >= 0)
        close(job->fd);
    free(job->body);
    free(job->report);
    free(job);
}

static job_t *job_new(mf_req_t *r)
{
    const mf_identity_t *id = mf_req_identity(r);
    job_t *job = mf_calloc(1, sizeof(*job));
    job->fd = -1;
    snprintf(job->tenant, sizeof(job->tenant), "%s", id->tenant_id);
    snprintf(job->actor, sizeof(job->actor), "%s", id->actor);
    snprintf(job->request_id, sizeof(job->request_id), "%s", mf_req_id(r));
    snprintf(job->client, sizeof(job->client), "%s", mf_req_client(r));
    snprintf(job->user_id, sizeof(job->user_id), "%s", id->user_id);
    snprintf(job->write_all, sizeof(job->write_all), "%s", id->write_all ? "on" : "");
    snprintf(job->scope, sizeof(job->scope), "%s", id->scope);
    mf_req_set_data(r, job, job_free);
    return job;
}

static int job_fail(job_t *job, int err, const char *msg)
{
    job->err = err;
    snprintf(job->msg, sizeof(job->msg), "%s", msg);
    return err;
}

/* A failed statement becomes the job's error (an MFnnn SQLSTATE keeps its
 * status and message). */
static int pg_ok(job_t *job, PGresult *res, ExecStatusType want)
{
    if (res != NULL && PQresultStatus(res) == want)
        return 1;
    char msg[ERR_MAX];
    int err = res ? mf_pg_result_error(res, msg, sizeof(msg)) : MF_EUNAVAILABLE;
    if (err == MF_EINTERNAL)
        MF_LOG_ERROR_(NULL, "export/import statement failed: %s", res ? PQresultErrorMessage(res) : "no result");
    job_fail(job, err, err == MF_EINTERNAL ? "the database failed; retry later" : msg);
    return 0;
}

static int exec_ok(job_t *job, PGconn *pg, const char *sql, int nparams, const char *const *params, ExecStatusType want,
                   PGresult **out)
{
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    int ok = pg_ok(job, res, want);
    if (ok && out != NULL)
        *out = res;
    else
        PQclear(res);
    return ok;
}

/* A blocking connection inside a transaction in the caller's context, or NULL
 * with job->err. */
static PGconn *begin(job_t *job, const char *begin_sql)
{
    char err[256];
    PGconn *pg = mf_pg_connect_blocking(mf_config_str(MF_CFG_PG_URL), err, sizeof(err));
    if (pg == NULL) {
        MF_LOG_ERROR_(NULL, "export/import: cannot connect: %s", err);
        job_fail(job, MF_EUNAVAILABLE, "the database is unreachable; retry shortly");
        return NULL;
    }
    const char *ctx[] = {job->tenant,  job->actor,     job->request_id, job->client,
                         job->user_id, job->write_all, job->scope};
    if (!exec_ok(job, pg, begin_sql, 0, NULL, PGRES_COMMAND_OK, NULL) ||
        !exec_ok(job, pg, set_context_sql, 7, ctx, PGRES_TUPLES_OK, NULL)) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* ---------------------------------------------------------------- export */

/* uuid -> number in the file, per map, for one export. */
typedef struct {
    json_t *maps[MAP__COUNT];
    long long counter;
} numbering_t;

/* Replace the uuids of one row by numbers (in bufs); 0 when a reference is
 * unknown (the row is left out: what it points to is not visible to the
 * caller). */
static int number_row(numbering_t *nb, size_t q, int ncols, const char **values, char bufs[][24])
{
    int defines = export_queries[q].defines;
    if (defines != MAP_NONE) {
        snprintf(bufs[0], sizeof(bufs[0]), "%lld", ++nb->counter);
        json_object_set_new(nb->maps[defines], values[0], json_integer(nb->counter));
        values[0] = bufs[0];
    }
    for (int c = 0; c < ncols && c < (int)sizeof(export_queries[q].refs); c++) {
        int map = export_queries[q].refs[c];
        if (map == MAP_NONE || values[c] == NULL)
            continue;
        json_t *n = json_object_get(nb->maps[map], values[c]);
        if (n == NULL)
            return 0;
        snprintf(bufs[c], sizeof(bufs[c]), "%lld", (long long)json_integer_value(n));
        values[c] = bufs[c];
    }
    return 1;
}

/* Ask for the next batch without waiting: Postgres produces it while this thread writes the last. */
static int send_fetch(job_t *job, PGconn *pg)
{
    char fetch[64];
    snprintf(fetch, sizeof(fetch), "FETCH FORWARD %d FROM mf_export", EXPORT_BATCH);
    if (PQsendQuery(pg, fetch) == 1)
        return 1;
    MF_LOG_ERROR_(NULL, "export: %s", PQerrorMessage(pg));
    job_fail(job, MF_EUNAVAILABLE, "the database connection failed; retry shortly");
    return 0;
}

/* The batch asked for last, or NULL with job->err. */
static PGresult *fetched(job_t *job, PGconn *pg)
{
    PGresult *res = PQgetResult(pg), *extra;
    while ((extra = PQgetResult(pg)) != NULL)
        PQclear(extra);
    if (pg_ok(job, res, PGRES_TUPLES_OK))
        return res;
    PQclear(res);
    return NULL;
}

/* One query through a cursor into the writer, the next batch in flight while one is written. */
static int copy_rows(job_t *job, PGconn *pg, mf_sqlite_writer_t *w, numbering_t *nb, size_t q)
{
    const char *query = export_queries[q].sql;
    mf_sqlite_kind_t kind = export_queries[q].kind;
    size_t len = strlen(query) + 64;
    char *declare = mf_malloc(len);
    snprintf(declare, len, "DECLARE mf_export NO SCROLL CURSOR FOR %s", query);
    int ok = exec_ok(job, pg, declare, 0, NULL, PGRES_COMMAND_OK, NULL) && send_fetch(job, pg);
    free(declare);
    int ncols = mf_sqlite_kind_columns(kind);
    const char *values[32];
    char bufs[32][24];
    MF_ASSERT(ncols <= (int)MF_ARRAY_SIZE(values));
    nb->counter = 0;
    for (int rows = 1; ok && rows > 0;) {
        PGresult *res = fetched(job, pg);
        if (res == NULL)
            return 0;
        MF_ASSERT(PQnfields(res) == ncols);
        rows = PQntuples(res);
        ok = rows == 0 || send_fetch(job, pg);
        for (int i = 0; ok && i < rows; i++) {
            for (int c = 0; c < ncols; c++)
                values[c] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
            if (!number_row(nb, q, ncols, values, bufs))
                continue;
            mf_sqlite_err_t serr;
            if (mf_sqlite_writer_row(w, kind, values, &serr) != 0) {
                MF_LOG_ERROR_(NULL, "export: %s", serr.msg);
                ok = !job_fail(job, MF_EINTERNAL, "writing the export file failed");
                PQclear(fetched(job, pg)); /* the batch in flight */
            }
        }
        PQclear(res);
    }
    return ok && exec_ok(job, pg, "CLOSE mf_export", 0, NULL, PGRES_COMMAND_OK, NULL);
}

static int tenant_name(job_t *job, PGconn *pg)
{
    PGresult *res;
    if (!exec_ok(job, pg, "SELECT name FROM tenants WHERE id = mf_current_tenant()", 0, NULL, PGRES_TUPLES_OK, &res))
        return 0;
    snprintf(job->tenant_name, sizeof(job->tenant_name), "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return 1;
}

/* CPU seconds of the calling thread: with the wall time, where an export spends
 * its time. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write the catalog to path; 1 on success. */
static int write_export(job_t *job, PGconn *pg, const char *path)
{
    if (!tenant_name(job, pg))
        return 0;
    mf_sqlite_err_t serr;
    mf_sqlite_writer_t *w = mf_sqlite_writer_open(path, job->tenant_name, &serr);
    if (w == NULL) {
        MF_LOG_ERROR_(NULL, "export: %s", serr.msg);
        return !job_fail(job, MF_EINTERNAL, "creating the export file failed");
    }
    numbering_t nb = {{NULL, json_object(), json_object(), json_object()}, 0};
    int ok = 1;
    for (size_t q = 0; ok && q < MF_ARRAY_SIZE(export_queries); q++) {
        double started = mf_now_s(), cpu = thread_cpu_s();
        ok = copy_rows(job, pg, w, &nb, q);
        MF_LOG_DEBUG_(NULL, "export: query %zu in %.0f ms (%.0f ms on this thread)", q, (mf_now_s() - started) * 1000.0,
                      (thread_cpu_s() - cpu) * 1000.0);
    }
    for (int m = 0; m < MAP__COUNT; m++)
        json_decref(nb.maps[m]);
    if (!ok) {
        mf_sqlite_writer_abort(w);
        return 0;
    }
    double started = mf_now_s(), cpu = thread_cpu_s();
    int finished = mf_sqlite_writer_finish(w, &serr);
    MF_LOG_DEBUG_(NULL, "export: indexes in %.0f ms (%.0f ms on this thread)", (mf_now_s() - started) * 1000.0,
                  (thread_cpu_s() - cpu) * 1000.0);
    if (finished != 0) {
        MF_LOG_ERROR_(NULL, "export: %s", serr.msg);
        return !job_fail(job, MF_EINTERNAL, "finishing the export file failed");
    }
    return 1;
}

static void export_work(void *arg)
{
    job_t *job = arg;
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/mf-export-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path); /* 0600, private; SQLite writes it through its own descriptor */
    if (fd < 0) {
        MF_LOG_ERROR_(NULL, "export: cannot create a temporary file: %s", strerror(errno));
        job_fail(job, MF_EINTERNAL, "cannot create the export file");
        return;
    }
    PGconn *pg = begin(job, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    int ok = pg != NULL && write_export(job, pg, path);
    if (pg != NULL) {
        PQclear(PQexec(pg, ok ? "COMMIT" : "ROLLBACK"));
        PQfinish(pg);
    }
    struct stat st;
    if (ok && fstat(fd, &st) == 0) {
        job->fd = fd;
        job->size = (size_t)st.st_size;
    } else {
        if (ok)
            job_fail(job, MF_EINTERNAL, "reading the export file failed");
        close(fd);
    }
    unlink(path); /* the descriptor keeps the file until the answer is sent */
}

static void export_done(mf_req_t *r)
{
    job_t *job = mf_req_data(r);
    if (job->err != 0) {
        mf_respond_error(r, job->err, "%s", job->msg);
        return;
    }
    char date[32], disposition[256], detail[96];
    mf_time_rfc3339(date);
    date[10] = '\0';
    /* the tenant's name is 1-128 characters of anything: keep a safe subset for
     * the file name */
    char safe[64];
    size_t n = 0;
    for (const char *p = job->tenant_name; *p && n < sizeof(safe) - 1; p++)
        safe[n++] = (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", *p)) ? *p : '_';
    safe[n] = '\0';
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"metafuse-%s-%s.sqlite\"", n ? safe : "catalog",
             date);
    snprintf(detail, sizeof(detail), "{\"bytes\":%zu}", job->size);
    mf_req_audit_event(r, job->tenant, "catalog.export", "sqlite", detail);
    mf_req_add_header(r, "content-disposition", disposition);
    mf_req_add_header(r, "cache-control", "no-store");
    int fd = job->fd;
    job->fd = -1; /* mf_respond_file owns it now */
    mf_respond_file(r, 200, "application/vnd.sqlite3", fd, job->size);
}

static void export_sqlite(mf_req_t *r)
{
    job_t *job = job_new(r);
    mf_req_run_blocking(r, export_work, job, export_done);
}

/* ---------------------------------------------------------------- import */

/* The plan's datasets, lineage and drops as one ingest event for
 * mf_apply_event. New string. */
static char *plan_event(json_t *plan)
{
    json_t *lifecycle = json_array(), *d;
    size_t i;
    json_array_foreach(json_object_get(plan, "dropped"), i, d)
        json_array_append_new(lifecycle, json_pack("{s:s,s:O}", "change", "DROP", "dataset", d));
    json_t *ev = json_pack("{s:s,s:O,s:O,s:o}", "source", "import", "datasets", json_object_get(plan, "datasets"),
                           "lineage", json_object_get(plan, "lineage"), "lifecycle", lifecycle);
    size_t len;
    char *text = mf_json_dump(ev, &len);
    json_decref(ev);
    return text;
}

static int apply_plan(job_t *job, PGconn *pg, json_t *plan, const char *plan_text)
{
    char *event = plan_event(plan);
    const char *p_plan[] = {plan_text}, *p_event[] = {event}, *p_report[] = {job->report};
    int ok = exec_ok(job, pg, import_directories_sql, 1, p_plan, PGRES_TUPLES_OK, NULL) &&
             exec_ok(job, pg, import_event_sql, 1, p_event, PGRES_TUPLES_OK, NULL) &&
             exec_ok(job, pg, import_terms_sql, 1, p_plan, PGRES_COMMAND_OK, NULL) &&
             exec_ok(job, pg, import_links_sql, 1, p_plan, PGRES_TUPLES_OK, NULL) &&
             exec_ok(job, pg, import_audit_sql, 1, p_report, PGRES_TUPLES_OK, NULL);
    free(event);
    return ok;
}

static void import_work(void *arg)
{
    job_t *job = arg;
    mf_sqlite_err_t serr;
    int status_err;
    json_t *plan = mf_sqlite_catalog_from_bytes(job->body, job->body_len, &status_err, &serr);
    free(job->body);
    job->body = NULL;
    if (plan == NULL) {
        if (status_err == MF_EINTERNAL)
            MF_LOG_ERROR_(NULL, "import: %s", serr.msg);
        job_fail(job, status_err, status_err == MF_EINTERNAL ? "cannot store the upload" : serr.msg);
        return;
    }
    size_t len;
    char *plan_text = mf_json_dump(plan, &len);
    PGconn *pg = begin(job, "BEGIN");
    PGresult *res = NULL;
    const char *params[] = {plan_text};
    int ok = pg != NULL && exec_ok(job, pg, import_report_sql, 1, params, PGRES_TUPLES_OK, &res);
    if (ok) {
        json_t *report = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
        json_object_set_new(report, "dry_run", json_boolean(job->dry_run));
        job->report = mf_json_dump(report, &len);
        json_decref(report);
        PQclear(res);
        if (!job->dry_run)
            ok = apply_plan(job, pg, plan, plan_text);
    }
    if (pg != NULL) {
        PGresult *end = PQexec(pg, ok && !job->dry_run ? "COMMIT" : "ROLLBACK");
        if (ok && !job->dry_run)
            ok = pg_ok(job, end, PGRES_COMMAND_OK);
        PQclear(end);
        PQfinish(pg);
    }
    free(plan_text);
    json_decref(plan);
}

static void import_done(mf_req_t *r)
{
    job_t *job = mf_req_data(r);
    if (job->err != 0)
        mf_respond_error(r, job->err, "%s", job->msg);
    else
        mf_respond_json(r, 200, job->report, strlen(job->report));
}

static void import_sqlite(mf_req_t *r)
{
    const char *dry = mf_req_query(r, "dry_run");
    if (dry != NULL && strcmp(dry, "") != 0 && strcmp(dry, "true") != 0 && strcmp(dry, "false") != 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "dry_run must be true or false");
        return;
    }
    size_t len;
    const char *ctype;
    const char *body = mf_req_raw_body(r, &len, &ctype);
    if (len == 0) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "the body must be a SQLite file");
        return;
    }
    job_t *job = job_new(r);
    job->dry_run = dry != NULL && strcmp(dry, "true") == 0;
    /* the worker must not read h2o's buffer: the client may leave and free it */
    job->body = mf_malloc(len);
    memcpy(job->body, body, len);
    job->body_len = len;
    mf_req_run_blocking(r, import_work, job, import_done);
}

static const mf_route_t routes[] = {
    {"GET", "/api/v1/export/sqlite", MF_ROLE_ADMIN, export_sqlite, MF_BODY_NONE},
    {"POST", "/api/v1/import/sqlite", MF_ROLE_ADMIN, import_sqlite, MF_BODY_FILE},
};

void mf_api_register_export(void) { mf_http_add_routes(routes, MF_ARRAY_SIZE(routes)); }
