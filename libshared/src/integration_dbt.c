/*
 * integration_dbt.c: a dbt project's target folder (manifest.json, and
 * optionally run_results.json and catalog.json) into one ingest event.
 *
 * Two passes over the manifest: the first maps every unique_id that is a
 * dataset (models, seeds, snapshots, sources, exposures) to its dataset
 * reference, so that the second can turn depends_on into upstream lists
 * whatever order the nodes come in. Tests are attached to the dataset they
 * test (attached_node, else their first dataset dependency); their
 * definitions go into the dataset's "dbt" facet, and with run_results their
 * outcomes into one quality result per dataset under the invocation's run.
 * catalog.json adds what the warehouse knows: column types and order, the
 * table comment, row counts and sizes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/catalog.h"
#include "mf/integrations.h"
#include "mf/util.h"

#define DBT_MIN_SCHEMA 7
#define DBT_MAX_SCHEMA 12
#define WHERE_MAX 600

typedef struct {
    const char *ns;
    json_t *refs;    /* unique_id -> {namespace, name} */
    json_t *tests;   /* unique_id of a dataset -> [test definition] */
    json_t *results; /* unique_id -> run_results entry */
    json_t *catalog; /* unique_id -> catalog.json node */
    mf_json_err_t *err;
} dbt_t;

static void where_of(char *out, const char *map, const char *id)
{
    snprintf(out, WHERE_MAX, "%s[\"%.400s\"]", map, id);
}

/* "https://schemas.getdbt.com/dbt/<kind>/v12.json" -> 12, or -1. */
static int schema_version(json_t *doc, const char *kind)
{
    json_t *meta = json_object_get(doc, "metadata");
    const char *url = mf_integration__str(meta, "dbt_schema_version", 300);
    char want[64];
    snprintf(want, sizeof(want), "/dbt/%s/v", kind);
    const char *p = url ? strstr(url, want) : NULL;
    long long v;
    if (p == NULL)
        return -1;
    p += strlen(want);
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > 3 || strcmp(p + n, ".json") != 0 || mf_parse_int(p, n, 0, 999, &v) != 0)
        return -1;
    return (int)v;
}

static int is_dataset_type(const char *t)
{
    return t != NULL && (strcmp(t, "model") == 0 || strcmp(t, "seed") == 0 || strcmp(t, "snapshot") == 0 ||
                         strcmp(t, "source") == 0);
}

/* The relation a node writes: database.schema.identifier (database left out when null). */
static json_t *relation_ref(dbt_t *d, json_t *node, const char *where)
{
    const char *db = mf_integration__str(node, "database", 200), *schema = mf_integration__str(node, "schema", 200);
    const char *table = mf_integration__str(node, "identifier", 200);
    if (table == NULL)
        table = mf_integration__str(node, "alias", 200);
    if (table == NULL)
        table = mf_integration__str(node, "name", 200);
    if (table == NULL) {
        mf_json_fail(d->err, "%s needs a name", where);
        return NULL;
    }
    char name[700];
    snprintf(name, sizeof(name), "%s%s%s%s%s", db ? db : "", db ? "." : "", schema ? schema : "", schema ? "." : "",
             table);
    if (!mf_catalog_name_ok(name)) {
        mf_json_fail(d->err, "%s: relation name \"%.100s\" is not a valid dataset name", where, name);
        return NULL;
    }
    return json_pack("{s:s,s:s}", "namespace", d->ns, "name", name);
}

static json_t *exposure_ref(dbt_t *d, const char *id) { return json_pack("{s:s,s:s}", "namespace", d->ns, "name", id); }

/* Pass one: every dataset's unique_id -> reference. */
static int map_refs(dbt_t *d, json_t *map, const char *map_name)
{
    const char *id;
    json_t *node;
    json_object_foreach(map, id, node)
    {
        char where[WHERE_MAX];
        where_of(where, map_name, id);
        if (!json_is_object(node))
            return mf_json_fail(d->err, "%s must be an object", where);
        const char *type = mf_integration__str(node, "resource_type", 64);
        json_t *ref = NULL;
        if (type != NULL && strcmp(type, "exposure") == 0)
            ref = exposure_ref(d, id);
        else if (is_dataset_type(type) && (ref = relation_ref(d, node, where)) == NULL)
            return MF_EINVALID_REQUEST;
        if (ref != NULL) {
            if (json_object_size(d->refs) >= MF_INTEGRATION_MAX_DATASETS) {
                json_decref(ref);
                return mf_json_fail(d->err, "an import writes at most %d datasets", MF_INTEGRATION_MAX_DATASETS);
            }
            json_object_set_new(d->refs, id, ref);
        }
    }
    return 0;
}

/* Append v (borrowed) to arr unless it is there already or arr holds max items. */
static void append_once(json_t *arr, json_t *v, size_t max)
{
    size_t k;
    json_t *w;
    json_array_foreach(arr, k, w)
    {
        if (json_equal(w, v))
            return;
    }
    if (json_array_size(arr) < max)
        json_array_append(arr, v);
}

static void add_tags(json_t *out, json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        json_t *tag = json_is_string(v) ? mf_integration__tag(json_string_value(v)) : NULL;
        if (tag != NULL)
            append_once(out, tag, MF_TAGS_MAX);
        json_decref(tag);
    }
}

/* The columns of a node (documented ones in their order, then the warehouse's own) as fields. */
static int columns(dbt_t *d, json_t *node, json_t *cat, const char *where, json_t **out)
{
    json_t *cols = json_object_get(node, "columns"), *cat_cols = json_object_get(cat, "columns");
    char w[WHERE_MAX + 20];
    snprintf(w, sizeof(w), "%s.columns", where);
    if (cols != NULL && !json_is_object(cols))
        return mf_json_fail(d->err, "%s must be an object", w);
    if (json_object_size(cols) == 0 && !json_is_object(cat_cols)) { /* nothing known: keep what the catalog has */
        *out = NULL;
        return 0;
    }
    json_t *fields = json_array();
    const char *key;
    json_t *c;
    json_object_foreach(cols, key, c)
    {
        if (!json_is_object(c)) {
            json_decref(fields);
            return mf_json_fail(d->err, "%s[\"%.200s\"] must be an object", w, key);
        }
        const char *name = mf_integration__str(c, "name", MF_NAME_MAX);
        json_t *cc = json_object_get(cat_cols, name ? name : key);
        const char *type = mf_integration__str(cc, "type", MF_NAME_MAX);
        if (type == NULL)
            type = mf_integration__str(c, "data_type", MF_NAME_MAX);
        const char *desc = mf_integration__str(c, "description", MF_TEXT_MAX);
        json_t *tags = json_array();
        add_tags(tags, json_object_get(c, "tags"));
        json_array_append_new(fields, json_pack("{s:s,s:s,s:s,s:o}", "name", name ? name : key, "type",
                                                type ? type : "unknown", "description", desc ? desc : "", "tags",
                                                tags));
    }
    /* warehouse columns nobody documented, in the warehouse's order */
    size_t documented = json_array_size(fields);
    json_object_foreach(cat_cols, key, c)
    {
        const char *type = mf_integration__str(c, "type", MF_NAME_MAX);
        int seen = 0;
        for (size_t i = 0; i < documented && !seen; i++)
            seen = strcmp(json_string_value(json_object_get(json_array_get(fields, i), "name")), key) == 0;
        if (!seen)
            json_array_append_new(fields, json_pack("{s:s,s:s}", "name", key, "type", type ? type : "unknown"));
    }
    *out = fields;
    return 0;
}

/* The ref of each dataset in a depends_on.nodes list (unknown and non-dataset ids skipped). */
static json_t *upstream_of(dbt_t *d, json_t *node, const char *self)
{
    json_t *ups = json_array(), *list = json_object_get(json_object_get(node, "depends_on"), "nodes");
    json_t *me = json_object_get(d->refs, self);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        json_t *ref = json_is_string(v) ? json_object_get(d->refs, json_string_value(v)) : NULL;
        if (ref != NULL && !json_equal(ref, me))
            append_once(ups, ref, MF_UPSTREAM_MAX);
    }
    return ups;
}

/* meta.<key> from the node or its config, when a name. */
static const char *meta_name(json_t *node, const char *key)
{
    const char *v = mf_integration__str(json_object_get(node, "meta"), key, MF_NAME_MAX);
    if (v == NULL)
        v = mf_integration__str(json_object_get(json_object_get(node, "config"), "meta"), key, MF_NAME_MAX);
    return v != NULL && mf_catalog_name_ok(v) ? v : NULL;
}

static long long catalog_stat(json_t *cat, const char *key)
{
    json_t *v = json_object_get(json_object_get(json_object_get(cat, "stats"), key), "value");
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9e18)
        return (long long)json_real_value(v);
    return -1;
}

/* One model, seed, snapshot, source or exposure into a change set. */
static int node_dataset(dbt_t *d, json_t *event, const char *id, json_t *node, const char *where)
{
    const char *type = mf_integration__str(node, "resource_type", 64);
    int exposure = strcmp(type, "exposure") == 0;
    json_t *ref = json_object_get(d->refs, id), *config = json_object_get(node, "config");
    json_t *cat = json_object_get(d->catalog, id);
    json_t *body = json_pack("{s:O,s:O}", "namespace", json_object_get(ref, "namespace"), "name",
                             json_object_get(ref, "name"));
    const char *desc = mf_integration__str(node, "description", MF_TEXT_MAX);
    if (desc == NULL)
        desc = mf_integration__str(node, "source_description", MF_TEXT_MAX);
    if (desc == NULL)
        desc = mf_integration__str(json_object_get(cat, "metadata"), "comment", MF_TEXT_MAX);
    if (desc != NULL)
        json_object_set_new(body, "description", json_string(desc));
    const char *materialized = mf_integration__str(config, "materialized", 64);
    char format[80];
    const char *exposure_type = mf_integration__str(node, "type", 60);
    if (exposure)
        snprintf(format, sizeof(format), "exposure:%s", exposure_type ? exposure_type : "other");
    else
        snprintf(format, sizeof(format), "%s", strcmp(type, "model") == 0 && materialized ? materialized : type);
    json_object_set_new(body, "format", json_string(format));
    const char *path = exposure ? mf_integration__str(node, "url", 4096) : mf_integration__str(node, "original_file_path", 4096);
    if (path != NULL)
        json_object_set_new(body, "path", json_string(path));
    json_t *tags = json_array();
    add_tags(tags, json_object_get(node, "tags"));
    add_tags(tags, json_object_get(config, "tags"));
    json_object_set_new(body, "tags", tags);
    const char *owner = meta_name(node, "owner"), *domain = meta_name(node, "domain");
    json_t *own = json_object_get(node, "owner");
    if (owner == NULL && exposure) {
        owner = mf_integration__str(own, "email", MF_NAME_MAX);
        if (owner == NULL)
            owner = mf_integration__str(own, "name", MF_NAME_MAX);
    }
    if (owner != NULL && mf_catalog_name_ok(owner))
        json_object_set_new(body, "owner", json_string(owner));
    if (domain != NULL)
        json_object_set_new(body, "domain", json_string(domain));
    json_t *fields = NULL;
    if (columns(d, node, cat, where, &fields) != 0) {
        json_decref(body);
        return MF_EINVALID_REQUEST;
    }
    if (fields != NULL)
        json_object_set_new(body, "fields", fields);
    json_t *ups = upstream_of(d, node, id);
    if (json_array_size(ups) > 0)
        json_object_set_new(body, "upstream", ups);
    else
        json_decref(ups);
    long long rows = catalog_stat(cat, "row_count"), bytes = catalog_stat(cat, "bytes");
    if (rows >= 0 || bytes >= 0) {
        json_t *op = json_object();
        if (rows >= 0)
            json_object_set_new(op, "row_count", json_integer(rows));
        if (bytes >= 0)
            json_object_set_new(op, "size_bytes", json_integer(bytes));
        json_object_set_new(body, "operational", op);
    }
    json_t *fact = json_pack("{s:s,s:s}", "unique_id", id, "resource_type", type);
    static const char *const copied[] = {"package_name", "original_file_path", "loader", "source_name",
                                         "maturity", "loaded_at_field", NULL};
    for (int i = 0; copied[i] != NULL; i++) {
        const char *v = mf_integration__str(node, copied[i], 1024);
        if (v != NULL)
            json_object_set_new(fact, copied[i], json_string(v));
    }
    if (materialized != NULL)
        json_object_set_new(fact, "materialized", json_string(materialized));
    if (json_is_object(json_object_get(node, "meta")) && json_object_size(json_object_get(node, "meta")) > 0)
        json_object_set(fact, "meta", json_object_get(node, "meta"));
    json_t *tests = json_object_get(d->tests, id);
    if (tests != NULL)
        json_object_set(fact, "tests", tests);
    json_t *facets = json_pack("{s:o}", "dbt", fact);
    int rc = mf_integration__add_dataset(event, body, facets, NULL, where, d->err);
    json_decref(facets);
    json_decref(body);
    return rc;
}

/* The dataset a test tests (its unique_id), or NULL. */
static const char *tested_node(dbt_t *d, json_t *test)
{
    const char *attached = mf_integration__str(test, "attached_node", 1024);
    if (attached != NULL && json_object_get(d->refs, attached) != NULL)
        return attached;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(test, "depends_on"), "nodes"), i, v)
    {
        if (json_is_string(v) && json_object_get(d->refs, json_string_value(v)) != NULL)
            return json_string_value(v);
    }
    return NULL;
}

static const char *test_column(json_t *test)
{
    const char *col = mf_integration__str(test, "column_name", MF_NAME_MAX);
    if (col == NULL)
        col = mf_integration__str(json_object_get(json_object_get(test, "test_metadata"), "kwargs"), "column_name",
                                  MF_NAME_MAX);
    return col;
}

/* Every test's definition onto the dataset it tests. */
static void collect_tests(dbt_t *d, json_t *nodes)
{
    const char *id;
    json_t *node;
    json_object_foreach(nodes, id, node)
    {
        const char *type = mf_integration__str(node, "resource_type", 64), *target = tested_node(d, node);
        if (type == NULL || strcmp(type, "test") != 0 || target == NULL)
            continue;
        const char *kind = mf_integration__str(json_object_get(node, "test_metadata"), "name", MF_NAME_MAX);
        const char *name = mf_integration__str(node, "name", MF_NAME_MAX);
        const char *col = test_column(node);
        const char *severity = mf_integration__str(json_object_get(node, "config"), "severity", 16);
        json_t *def = json_pack("{s:s,s:s}", "unique_id", id, "test", kind ? kind : name ? name : id);
        if (col != NULL)
            json_object_set_new(def, "column", json_string(col));
        if (severity != NULL)
            json_object_set_new(def, "severity", json_string(severity));
        json_t *list = json_object_get(d->tests, target);
        if (list == NULL) {
            list = json_array();
            json_object_set_new(d->tests, target, list);
        }
        if (json_array_size(list) < MF_INTEGRATION_MAX_ASSERTIONS)
            json_array_append_new(list, def);
        else
            json_decref(def);
    }
}

/* run_results.json: one run of job dbt:<project>, each tested dataset's outcomes as a quality result. */
static int add_run(dbt_t *d, json_t *event, json_t *manifest, json_t *run_results)
{
    json_t *meta = json_object_get(run_results, "metadata");
    const char *invocation = mf_integration__str(meta, "invocation_id", 64);
    const char *at = mf_integration__str(meta, "generated_at", 40);
    const char *project = mf_integration__str(json_object_get(manifest, "metadata"), "project_name", 200);
    char run_id[37], now[32], job[260];
    if (invocation != NULL && mf_is_uuid(invocation, strlen(invocation)))
        snprintf(run_id, sizeof(run_id), "%s", invocation);
    else
        mf_integration__uuid(at ? at : "dbt run", run_id);
    if (at == NULL || !mf_time_is_rfc3339(at)) {
        mf_time_rfc3339(now);
        at = now;
    }
    snprintf(job, sizeof(job), "dbt:%s", project ? project : "project");
    json_t *quality = json_object(), *outputs = json_array(), *nodes = json_object_get(manifest, "nodes");
    int failed = 0;
    const char *id;
    json_t *res;
    json_object_foreach(d->results, id, res)
    {
        const char *status = mf_integration__str(res, "status", 32);
        json_t *node = json_object_get(nodes, id);
        const char *type = mf_integration__str(node, "resource_type", 64);
        if (status == NULL || type == NULL)
            continue;
        failed |= strcmp(status, "error") == 0 || strcmp(status, "fail") == 0;
        const char *target = strcmp(type, "test") == 0 ? tested_node(d, node) : NULL;
        json_t *ref = json_object_get(d->refs, target ? target : id);
        if (ref == NULL || strcmp(status, "skipped") == 0)
            continue;
        append_once(outputs, ref, MF_INTEGRATION_MAX_DATASETS);
        if (target == NULL)
            continue;
        json_t *list = json_object_get(quality, target);
        if (list == NULL) {
            list = json_array();
            json_object_set_new(quality, target, list);
        }
        if (json_array_size(list) >= MF_INTEGRATION_MAX_ASSERTIONS)
            continue;
        const char *kind = mf_integration__str(json_object_get(node, "test_metadata"), "name", MF_NAME_MAX);
        const char *name = mf_integration__str(node, "name", MF_NAME_MAX), *col = test_column(node);
        json_t *a = json_pack("{s:s,s:b,s:s,s:s}", "assertion", kind ? kind : name ? name : id, "success",
                              strcmp(status, "pass") == 0 || strcmp(status, "success") == 0, "status", status,
                              "unique_id", id);
        if (col != NULL)
            json_object_set_new(a, "column", json_string(col));
        json_t *failures = json_object_get(res, "failures");
        if (json_is_integer(failures))
            json_object_set(a, "failures", failures);
        const char *msg = mf_integration__str(res, "message", 2000);
        if (msg != NULL)
            json_object_set_new(a, "message", json_string(msg));
        json_array_append_new(list, a);
    }
    json_t *q = json_object_get(event, "quality");
    json_object_foreach(quality, id, res)
    {
        json_array_append_new(q, json_pack("{s:O,s:O}", "dataset", json_object_get(d->refs, id), "assertions", res));
    }
    json_decref(quality);
    json_object_set_new(event, "job", json_pack("{s:s,s:s}", "namespace", d->ns, "name", job));
    json_t *facets = json_object();
    json_t *elapsed = json_object_get(run_results, "elapsed_time");
    if (json_is_number(elapsed))
        json_object_set_new(facets, "dbt_run", json_pack("{s:O}", "elapsed_time", elapsed));
    json_object_set_new(event, "run", json_pack("{s:s,s:s,s:s,s:s,s:[],s:o,s:o}", "run_id", run_id, "state",
                                                failed ? "FAIL" : "COMPLETE", "event_time", at, "ended_at", at,
                                                "inputs", "outputs", outputs, "facets", facets));
    return 0;
}

/* run_results.json's results keyed by unique_id. */
static int index_results(dbt_t *d, json_t *run_results)
{
    json_t *arr;
    if (schema_version(run_results, "run-results") < 1)
        return mf_json_fail(d->err, "run_results.metadata.dbt_schema_version must name a dbt run-results schema");
    if (mf_json_array(run_results, "run_results", "results", MF_JSON_REQUIRED, 1000000, &arr, d->err) != 0)
        return MF_EINVALID_REQUEST;
    size_t i;
    json_t *res;
    json_array_foreach(arr, i, res)
    {
        const char *id = mf_integration__str(res, "unique_id", 1024);
        if (!json_is_object(res) || id == NULL || mf_integration__str(res, "status", 32) == NULL)
            return mf_json_fail(d->err, "run_results.results[%zu] needs unique_id and status", i);
        json_object_set(d->results, id, res);
    }
    return 0;
}

static int check_manifest(json_t *manifest, mf_json_err_t *err)
{
    int v = schema_version(manifest, "manifest");
    json_t *x;
    if (v < 0)
        return mf_json_fail(err, "manifest.metadata.dbt_schema_version must name a dbt manifest schema "
                                 "(https://schemas.getdbt.com/dbt/manifest/vN.json)");
    if (v < DBT_MIN_SCHEMA || v > DBT_MAX_SCHEMA)
        return mf_json_fail(err, "dbt manifest schema v%d is not supported (v%d to v%d are)", v, DBT_MIN_SCHEMA,
                            DBT_MAX_SCHEMA);
    if (mf_json_object(manifest, "manifest", "nodes", MF_JSON_REQUIRED, &x, err) != 0 ||
        mf_json_object(manifest, "manifest", "sources", MF_JSON_NULLABLE, &x, err) != 0 ||
        mf_json_object(manifest, "manifest", "exposures", MF_JSON_NULLABLE, &x, err) != 0)
        return MF_EINVALID_REQUEST;
    return 0;
}

static int build(dbt_t *d, json_t *event, json_t *manifest, json_t *run_results)
{
    static const char *const maps[] = {"nodes", "sources", "exposures"};
    if (check_manifest(manifest, d->err) != 0)
        return MF_EINVALID_REQUEST;
    for (size_t m = 0; m < MF_ARRAY_SIZE(maps); m++) {
        char name[32];
        snprintf(name, sizeof(name), "manifest.%s", maps[m]);
        if (map_refs(d, json_object_get(manifest, maps[m]), name) != 0)
            return MF_EINVALID_REQUEST;
    }
    collect_tests(d, json_object_get(manifest, "nodes"));
    for (size_t m = 0; m < MF_ARRAY_SIZE(maps); m++) {
        const char *id;
        json_t *node;
        json_object_foreach(json_object_get(manifest, maps[m]), id, node)
        {
            char where[WHERE_MAX], name[32];
            snprintf(name, sizeof(name), "manifest.%s", maps[m]);
            where_of(where, name, id);
            if (json_object_get(d->refs, id) != NULL && node_dataset(d, event, id, node, where) != 0)
                return MF_EINVALID_REQUEST;
        }
    }
    return run_results != NULL ? add_run(d, event, manifest, run_results) : 0;
}

/* catalog.json's nodes and sources keyed by unique_id. */
static int index_catalog(dbt_t *d, json_t *catalog)
{
    static const char *const maps[] = {"nodes", "sources"};
    if (schema_version(catalog, "catalog") < 1)
        return mf_json_fail(d->err, "catalog.metadata.dbt_schema_version must name a dbt catalog schema");
    for (size_t m = 0; m < MF_ARRAY_SIZE(maps); m++) {
        json_t *map;
        if (mf_json_object(catalog, "catalog", maps[m], MF_JSON_NULLABLE, &map, d->err) != 0)
            return MF_EINVALID_REQUEST;
        const char *id;
        json_t *node;
        json_object_foreach(map, id, node)
        {
            if (!json_is_object(node))
                return mf_json_fail(d->err, "catalog.%s[\"%.200s\"] must be an object", maps[m], id);
            json_object_set(d->catalog, id, node);
        }
    }
    return 0;
}

json_t *mf_integration_from_dbt(json_t *body, const mf_integration_opts_t *opts, mf_json_err_t *err)
{
    json_t *manifest = body, *run_results = NULL, *catalog = NULL;
    if (json_object_get(body, "manifest") != NULL) {
        static const char *const allowed[] = {"manifest", "run_results", "catalog", NULL};
        if (mf_json_only_fields(body, "", allowed, err) != 0 ||
            mf_json_object(body, "", "manifest", MF_JSON_REQUIRED, &manifest, err) != 0 ||
            mf_json_object(body, "", "run_results", MF_JSON_NULLABLE, &run_results, err) != 0 ||
            mf_json_object(body, "", "catalog", MF_JSON_NULLABLE, &catalog, err) != 0)
            return NULL;
    }
    dbt_t d = {mf_integration__ns(opts), json_object(), json_object(), json_object(), json_object(), err};
    json_t *event = mf_integration__event("dbt");
    int rc = (run_results != NULL ? index_results(&d, run_results) : 0) ||
             (catalog != NULL ? index_catalog(&d, catalog) : 0) || build(&d, event, manifest, run_results);
    json_decref(d.refs);
    json_decref(d.tests);
    json_decref(d.results);
    json_decref(d.catalog);
    if (rc != 0) {
        json_decref(event);
        return NULL;
    }
    return json_pack("[o]", event);
}
