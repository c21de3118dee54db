/*
 * integration_iceberg.c: an Iceberg table's metadata.json (table spec format
 * versions 1 and 2) into one ingest event for one dataset.
 *
 * Every schema in "schemas" but the current one becomes one revised change
 * set, "iceberg:schema:<schema-id>", in schema-id order, so the table's schema
 * evolution becomes the dataset's schema versions; the last change set is the
 * current schema with everything else: properties comment
 * and owner, location, partition keys ("day(ts)"), the current snapshot's
 * total-records and total-files-size, and an "iceberg" facet with field ids,
 * partition specs and each snapshot's summary (added and deleted records).
 * Nested types are written the way Iceberg prints them: struct<a: int>,
 * list<string>, map<string, long>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/catalog.h"
#include "mf/integrations.h"
#include "mf/util.h"

#define MAX_SCHEMAS 1000
#define MAX_SNAPSHOTS 10000

static const mf_integration_types_t iceberg_types = {"list", "element", "key", "value"};

/* A schema's top-level fields as change-set fields; *ids gets {name: field id}. */
static json_t *schema_fields(json_t *schema, const char *where, json_t **ids, mf_json_err_t *err)
{
    json_t *list;
    if (mf_json_array(schema, where, "fields", MF_JSON_REQUIRED, MF_FIELDS_MAX, &list, err) != 0)
        return NULL;
    json_t *fields = json_array();
    *ids = json_object();
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        char w[200];
        snprintf(w, sizeof(w), "%s.fields[%zu]", where, i);
        const char *name = mf_integration__str(f, "name", MF_NAME_MAX), *doc = mf_integration__str(f, "doc", MF_TEXT_MAX);
        json_t *id = json_object_get(f, "id"), *required = json_object_get(f, "required");
        if (name == NULL || !json_is_integer(id) || !json_is_boolean(required)) {
            mf_json_fail(err, "%s needs id, name, required and type", w);
            goto bad;
        }
        json_t *type = mf_integration__type_text(json_object_get(f, "type"), &iceberg_types, w, err);
        if (type == NULL)
            goto bad;
        json_array_append_new(fields, json_pack("{s:s,s:o,s:b,s:s}", "name", name, "type", type, "nullable",
                                                !json_is_true(required), "description", doc ? doc : ""));
        json_object_set(*ids, name, id);
    }
    return fields;
bad:
    json_decref(fields);
    json_decref(*ids);
    *ids = NULL;
    return NULL;
}

static int by_schema_id(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "schema-id"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "schema-id"));
    return (x > y) - (x < y);
}

/* The source column's name of a partition field, by field id in the current schema's ids. */
static const char *column_by_id(json_t *ids, json_t *id)
{
    const char *name;
    json_t *v;
    json_object_foreach(ids, name, v)
    {
        if (json_equal(v, id))
            return name;
    }
    return NULL;
}

/* The default partition spec's fields: "day(ts)", or the column for identity. */
static json_t *partition_keys(json_t *md, json_t *ids, json_t **spec_out)
{
    json_t *spec = json_object_get(md, "partition-spec"); /* v1 */
    json_t *specs = json_object_get(md, "partition-specs"), *def = json_object_get(md, "default-spec-id");
    size_t i;
    json_t *s;
    json_array_foreach(specs, i, s)
    {
        if (json_equal(json_object_get(s, "spec-id"), def))
            spec = json_object_get(s, "fields");
    }
    json_t *keys = json_array();
    json_t *f;
    json_array_foreach(spec, i, f)
    {
        const char *transform = mf_integration__str(f, "transform", 64);
        const char *col = column_by_id(ids, json_object_get(f, "source-id"));
        char key[MF_NAME_MAX + 80];
        if (transform == NULL || col == NULL || json_array_size(keys) >= 64)
            continue;
        if (strcmp(transform, "identity") == 0)
            snprintf(key, sizeof(key), "%s", col);
        else
            snprintf(key, sizeof(key), "%s(%s)", transform, col);
        if (mf_catalog_name_ok(key))
            json_array_append_new(keys, json_string(key));
    }
    *spec_out = json_is_array(spec) ? json_incref(spec) : json_array();
    return keys;
}

/* A summary count ("added-records": "10") as a number, or -1. */
static long long summary_count(json_t *summary, const char *key)
{
    const char *v = mf_integration__str(summary, key, 24);
    long long n;
    return v != NULL && mf_parse_int(v, strlen(v), 0, INT64_MAX, &n) == 0 ? n : -1;
}

/* Each snapshot with its time, operation and record counts; *current gets the current one. */
static json_t *snapshots(json_t *md, json_t **current, mf_json_err_t *err)
{
    json_t *list = json_object_get(md, "snapshots"), *cur_id = json_object_get(md, "current-snapshot-id");
    json_t *out = json_array();
    *current = NULL;
    if (json_array_size(list) > MAX_SNAPSHOTS) {
        json_decref(out);
        mf_json_fail(err, "snapshots: at most %d", MAX_SNAPSHOTS);
        return NULL;
    }
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        json_t *id = json_object_get(s, "snapshot-id"), *ts = json_object_get(s, "timestamp-ms");
        json_t *summary = json_object_get(s, "summary");
        if (!json_is_integer(id) || !json_is_integer(ts)) {
            json_decref(out);
            mf_json_fail(err, "snapshots[%zu] needs snapshot-id and timestamp-ms", i);
            return NULL;
        }
        char at[32];
        mf_integration__ms_time(json_integer_value(ts), at);
        /* ids are 64-bit: kept as text, since JSON readers in browsers round large integers */
        char idtext[24];
        snprintf(idtext, sizeof(idtext), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        json_t *snap = json_pack("{s:s,s:s}", "snapshot_id", idtext, "at", at);
        const char *op = mf_integration__str(summary, "operation", 64);
        if (op != NULL)
            json_object_set_new(snap, "operation", json_string(op));
        static const char *const counts[] = {"added-records", "deleted-records", "total-records", "added-data-files",
                                             "deleted-data-files", "total-files-size", NULL};
        for (int k = 0; counts[k] != NULL; k++) {
            long long n = summary_count(summary, counts[k]);
            if (n >= 0)
                json_object_set_new(snap, counts[k], json_integer(n));
        }
        if (json_is_integer(json_object_get(s, "schema-id")))
            json_object_set(snap, "schema_id", json_object_get(s, "schema-id"));
        if (json_equal(id, cur_id))
            *current = s;
        json_array_append_new(out, snap);
    }
    return out;
}

/* The dataset's name: opts, else the location's last segment. */
static const char *table_name(json_t *md, const mf_integration_opts_t *opts, char *buf, size_t cap)
{
    if (opts != NULL && opts->name != NULL)
        return opts->name;
    const char *loc = mf_integration__str(md, "location", 4096);
    if (loc == NULL)
        return NULL;
    size_t n = strlen(loc);
    while (n > 0 && loc[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && loc[start - 1] != '/')
        start--;
    snprintf(buf, cap, "%.*s", (int)(n - start), loc + start);
    return buf[0] != '\0' && mf_catalog_name_ok(buf) ? buf : NULL;
}

/* The schemas (v2 list, or v1 single), sorted by id, into a new array. */
static json_t *sorted_schemas(json_t *md, mf_json_err_t *err)
{
    json_t *list = json_object_get(md, "schemas");
    if (list == NULL && json_is_object(json_object_get(md, "schema")))
        return json_pack("[O]", json_object_get(md, "schema"));
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > MAX_SCHEMAS) {
        mf_json_fail(err, "schemas must be a non-empty array of at most %d schemas", MAX_SCHEMAS);
        return NULL;
    }
    size_t n = json_array_size(list);
    json_t **items = mf_calloc(n, sizeof(*items));
    for (size_t i = 0; i < n; i++) {
        items[i] = json_array_get(list, i);
        if (!json_is_object(items[i]) || !json_is_integer(json_object_get(items[i], "schema-id"))) {
            free(items);
            mf_json_fail(err, "schemas[%zu] must be a schema with a schema-id", i);
            return NULL;
        }
    }
    qsort(items, n, sizeof(*items), by_schema_id);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, items[i]);
    free(items);
    return out;
}

static json_t *current_schema(json_t *schemas, json_t *current_id)
{
    size_t i;
    json_t *s;
    json_array_foreach(schemas, i, s)
    {
        if (current_id == NULL || json_equal(json_object_get(s, "schema-id"), current_id))
            return s;
    }
    return json_array_get(schemas, json_array_size(schemas) - 1);
}

/* Every schema but the current one as a revised change set of fields only. */
static int history(json_t *event, json_t *schemas, json_t *current_id, json_t *ref, mf_json_err_t *err)
{
    json_t *current = current_schema(schemas, current_id);
    size_t i;
    json_t *s;
    json_array_foreach(schemas, i, s)
    {
        json_t *id = json_object_get(s, "schema-id"), *ids;
        char where[64], rev[64];
        snprintf(where, sizeof(where), "schemas[%zu]", i);
        json_t *fields = schema_fields(s, where, &ids, err);
        if (fields == NULL)
            return MF_EINVALID_REQUEST;
        json_decref(ids);
        snprintf(rev, sizeof(rev), "iceberg:schema:%" JSON_INTEGER_FORMAT, json_integer_value(id));
        json_t *body = json_pack("{s:O,s:O,s:o}", "namespace", json_object_get(ref, "namespace"), "name",
                                 json_object_get(ref, "name"), "fields", fields);
        int rc = s == current ? 0 : mf_integration__add_dataset(event, body, NULL, rev, where, err);
        json_decref(body);
        if (rc != 0)
            return rc;
    }
    return 0;
}

json_t *mf_integration_from_iceberg(json_t *md, const mf_integration_opts_t *opts, mf_json_err_t *err)
{
    json_t *fv = json_object_get(md, "format-version");
    if (!json_is_integer(fv) || json_integer_value(fv) < 1 || json_integer_value(fv) > 3) {
        mf_json_fail(err, "format-version must be 1, 2 or 3 (is this an Iceberg metadata.json?)");
        return NULL;
    }
    char name_buf[MF_NAME_MAX + 1];
    const char *name = table_name(md, opts, name_buf, sizeof(name_buf));
    if (name == NULL) {
        mf_json_fail(err, "location must be the table's location (or give the dataset as ?name=)");
        return NULL;
    }
    json_t *schemas = sorted_schemas(md, err);
    if (schemas == NULL)
        return NULL;
    json_t *current_id = json_object_get(md, "current-schema-id"), *ids = NULL, *spec = NULL, *snap_list = NULL;
    json_t *cur_snap, *event = mf_integration__event("iceberg");
    json_t *ref = json_pack("{s:s,s:s}", "namespace", mf_integration__ns(opts), "name", name);
    json_t *fields = schema_fields(current_schema(schemas, current_id), "current schema", &ids, err);
    if (fields == NULL || history(event, schemas, current_id, ref, err) != 0 ||
        (snap_list = snapshots(md, &cur_snap, err)) == NULL)
        goto bad;
    json_t *body = json_pack("{s:O,s:O,s:s,s:O}", "namespace", json_object_get(ref, "namespace"), "name",
                             json_object_get(ref, "name"), "format", "iceberg", "fields", fields);
    json_t *props = json_object_get(md, "properties");
    const char *loc = mf_integration__str(md, "location", 4096), *comment = mf_integration__str(props, "comment", MF_TEXT_MAX);
    const char *owner = mf_integration__str(props, "owner", MF_NAME_MAX);
    if (loc != NULL)
        json_object_set_new(body, "path", json_string(loc));
    if (comment != NULL)
        json_object_set_new(body, "description", json_string(comment));
    if (owner != NULL && mf_catalog_name_ok(owner))
        json_object_set_new(body, "owner", json_string(owner));
    json_t *op = json_pack("{s:o}", "partition_keys", partition_keys(md, ids, &spec));
    json_t *summary = json_object_get(cur_snap, "summary");
    if (summary_count(summary, "total-records") >= 0)
        json_object_set_new(op, "row_count", json_integer(summary_count(summary, "total-records")));
    if (summary_count(summary, "total-files-size") >= 0)
        json_object_set_new(op, "size_bytes", json_integer(summary_count(summary, "total-files-size")));
    json_object_set_new(body, "operational", op);
    json_t *fact = json_pack("{s:O,s:o,s:o,s:o}", "format_version", fv, "field_ids", ids, "partition_spec", spec,
                             "snapshots", snap_list);
    ids = NULL;
    static const char *const copied[] = {"table-uuid", "current-schema-id", "current-snapshot-id", "last-updated-ms",
                                         NULL};
    for (int i = 0; copied[i] != NULL; i++) {
        json_t *v = json_object_get(md, copied[i]);
        if (json_is_string(v) || json_is_integer(v))
            json_object_set(fact, copied[i], v);
    }
    if (json_is_object(props) && json_object_size(props) <= 200)
        json_object_set(fact, "properties", props);
    json_t *facets = json_pack("{s:o}", "iceberg", fact);
    int rc = mf_integration__add_dataset(event, body, facets, NULL, "metadata", err);
    json_decref(facets);
    json_decref(body);
    if (rc != 0)
        goto bad;
    json_decref(fields);
    json_decref(schemas);
    json_decref(ref);
    return json_pack("[o]", event);
bad:
    json_decref(fields);
    json_decref(ids);
    json_decref(schemas);
    json_decref(ref);
    json_decref(event);
    return NULL;
}
