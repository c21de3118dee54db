/*
 * integration_delta.c: a Delta Lake table's transaction log (the JSON commit
 * files of _delta_log, from version 0) into one ingest event for one dataset.
 *
 * The log is replayed the way a reader reconstructs a snapshot: metaData
 * actions replace the table's metadata (the last one wins), add and remove
 * actions keep the set of live files by path, commitInfo actions make the
 * history. Each metaData whose schemaString differs from the one before is a
 * schema change; every schema but the latest becomes one revised change set,
 * "delta:schema:<version>", so the table's schema changes become the
 * dataset's schema versions. The last change set carries the latest schema,
 * partition columns, the live files' total size and (when every live file
 * has stats) record count, and a "delta" facet with the table id, protocol,
 * configuration and the last commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/catalog.h"
#include "mf/integrations.h"
#include "mf/util.h"

#define HISTORY_KEPT 100
#define MAX_ACTIONS 5000000
#define MAX_SCHEMA_STRING (4 * 1024 * 1024)

static const mf_integration_types_t delta_types = {"array", "elementType", "keyType", "valueType"};

typedef struct {
    json_t *metadata;  /* the last metaData action (borrowed from the commits) */
    json_t *schemas;   /* [{"version", "fields", "field_ids"}] at each schema change */
    json_t *live;      /* path -> {"size", "records"} */
    json_t *history;   /* the last HISTORY_KEPT commits' commitInfo */
    json_t *protocol;  /* the last protocol action */
    long long version; /* the latest commit's version */
    size_t actions;
    mf_json_err_t *err;
} log_t;

/* A schemaString into fields and {name: column mapping id}; new arrays, or NULL with err. */
static json_t *schema_fields(const char *schema_string, const char *where, json_t **ids, mf_json_err_t *err)
{
    json_t *schema = mf_json_parse_object(schema_string, strlen(schema_string), err), *list;
    *ids = NULL;
    if (schema == NULL) {
        mf_json_fail(err, "%s.schemaString is not a JSON object", where);
        return NULL;
    }
    if (mf_json_array(schema, where, "fields", MF_JSON_REQUIRED, MF_FIELDS_MAX, &list, err) != 0) {
        json_decref(schema);
        return NULL;
    }
    json_t *fields = json_array();
    *ids = json_object();
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        char w[200];
        snprintf(w, sizeof(w), "%s.schemaString.fields[%zu]", where, i);
        const char *name = mf_integration__str(f, "name", MF_NAME_MAX);
        json_t *meta = json_object_get(f, "metadata");
        json_t *type = name ? mf_integration__type_text(json_object_get(f, "type"), &delta_types, w, err) : NULL;
        if (type == NULL) {
            if (name == NULL)
                mf_json_fail(err, "%s needs a name and a type", w);
            json_decref(fields);
            json_decref(*ids);
            json_decref(schema);
            *ids = NULL;
            return NULL;
        }
        const char *comment = mf_integration__str(meta, "comment", MF_TEXT_MAX);
        json_array_append_new(fields, json_pack("{s:s,s:o,s:b,s:s}", "name", name, "type", type, "nullable",
                                                !json_is_false(json_object_get(f, "nullable")), "description",
                                                comment ? comment : ""));
        json_t *id = json_object_get(meta, "delta.columnMapping.id");
        if (json_is_integer(id))
            json_object_set(*ids, name, id);
    }
    json_decref(schema);
    return fields;
}

static int on_metadata(log_t *lg, json_t *md, const char *where)
{
    const char *schema_string = mf_integration__str(md, "schemaString", MAX_SCHEMA_STRING);
    if (schema_string == NULL)
        return mf_json_fail(lg->err, "%s.schemaString is required", where);
    json_t *prev = json_array_get(lg->schemas, json_array_size(lg->schemas) - 1), *ids;
    json_t *fields = schema_fields(schema_string, where, &ids, lg->err);
    if (fields == NULL)
        return MF_EINVALID_REQUEST;
    lg->metadata = md;
    if (prev != NULL && json_equal(json_object_get(prev, "fields"), fields)) {
        json_decref(fields);
        json_decref(ids);
        return 0;
    }
    json_array_append_new(lg->schemas, json_pack("{s:I,s:o,s:o}", "version", (json_int_t)lg->version, "fields",
                                                 fields, "field_ids", ids));
    return 0;
}

/* add: a live file with its size and, from its stats, its record count (-1 unknown). */
static void on_add(log_t *lg, json_t *add)
{
    const char *path = mf_integration__str(add, "path", 65536);
    json_t *size = json_object_get(add, "size");
    if (path == NULL)
        return;
    long long records = -1;
    const char *stats = mf_integration__str(add, "stats", 1 << 20);
    if (stats != NULL) {
        json_t *s = json_loads(stats, 0, NULL);
        json_t *n = json_object_get(s, "numRecords");
        if (json_is_integer(n) && json_integer_value(n) >= 0)
            records = json_integer_value(n);
        json_decref(s);
    }
    json_object_set_new(lg->live, path,
                        json_pack("{s:I,s:I}", "size",
                                  (json_int_t)(json_is_integer(size) && json_integer_value(size) > 0
                                                   ? json_integer_value(size)
                                                   : 0),
                                  "records", (json_int_t)records));
}

static void on_commit_info(log_t *lg, json_t *info)
{
    json_t *h = json_pack("{s:I}", "version", (json_int_t)lg->version);
    json_t *ts = json_object_get(info, "timestamp");
    if (json_is_integer(ts)) {
        char at[32];
        mf_integration__ms_time(json_integer_value(ts), at);
        json_object_set_new(h, "at", json_string(at));
    }
    const char *op = mf_integration__str(info, "operation", 128);
    if (op != NULL)
        json_object_set_new(h, "operation", json_string(op));
    json_t *metrics = json_object_get(info, "operationMetrics");
    if (json_is_object(metrics) && json_object_size(metrics) <= 64)
        json_object_set(h, "metrics", metrics);
    if (json_array_size(lg->history) >= HISTORY_KEPT)
        json_array_remove(lg->history, 0);
    json_array_append_new(lg->history, h);
}

static int on_action(log_t *lg, json_t *action, const char *where)
{
    if (!json_is_object(action))
        return mf_json_fail(lg->err, "%s must be an object", where);
    if (++lg->actions > MAX_ACTIONS)
        return mf_json_fail(lg->err, "the log has more than %d actions", MAX_ACTIONS);
    json_t *v;
    if ((v = json_object_get(action, "metaData")) != NULL)
        return json_is_object(v) ? on_metadata(lg, v, where) : mf_json_fail(lg->err, "%s.metaData must be an object", where);
    if ((v = json_object_get(action, "add")) != NULL && json_is_object(v))
        on_add(lg, v);
    else if ((v = json_object_get(action, "remove")) != NULL && json_is_string(json_object_get(v, "path")))
        json_object_del(lg->live, json_string_value(json_object_get(v, "path")));
    else if ((v = json_object_get(action, "commitInfo")) != NULL && json_is_object(v))
        on_commit_info(lg, v);
    else if ((v = json_object_get(action, "protocol")) != NULL && json_is_object(v))
        lg->protocol = v;
    return 0; /* txn, cdc, domainMetadata and actions of later protocols change nothing we keep */
}

/* A commit's actions: its "actions" array, or its "content" (the commit file's NDJSON) parsed. */
static json_t *commit_actions(json_t *commit, const char *where, mf_json_err_t *err)
{
    json_t *actions = json_object_get(commit, "actions");
    if (json_is_array(actions))
        return json_incref(actions);
    json_t *content = json_object_get(commit, "content");
    if (!json_is_string(content)) {
        mf_json_fail(err, "%s needs actions (an array) or content (the commit file's text)", where);
        return NULL;
    }
    char w[96];
    snprintf(w, sizeof(w), "%s.content", where);
    return mf_integration__ndjson(json_string_value(content), json_string_length(content), w, err);
}

static int replay(log_t *lg, json_t *commits)
{
    if (!json_is_array(commits) || json_array_size(commits) == 0)
        return mf_json_fail(lg->err, "commits must be a non-empty array");
    size_t i;
    json_t *c;
    json_array_foreach(commits, i, c)
    {
        char where[64];
        snprintf(where, sizeof(where), "commits[%zu]", i);
        json_t *version = json_object_get(c, "version");
        if (!json_is_object(c) || !json_is_integer(version))
            return mf_json_fail(lg->err, "%s must be {\"version\": N, \"actions\" or \"content\"}", where);
        if (json_integer_value(version) != (json_int_t)i)
            return mf_json_fail(lg->err, "%s has version %" JSON_INTEGER_FORMAT " where %zu was expected: the "
                                         "commits must run from version 0 without gaps (checkpoints are not read)",
                                where, json_integer_value(version), i);
        lg->version = (long long)i;
        json_t *actions = commit_actions(c, where, lg->err);
        if (actions == NULL)
            return MF_EINVALID_REQUEST;
        size_t k;
        json_t *a;
        json_array_foreach(actions, k, a)
        {
            char w[96];
            snprintf(w, sizeof(w), "%s.actions[%zu]", where, k);
            if (on_action(lg, a, w) != 0) {
                json_decref(actions);
                return MF_EINVALID_REQUEST;
            }
        }
        /* metaData and protocol are borrowed from the actions: parsed ones stay with their commit */
        if (json_object_get(c, "actions") == NULL)
            json_object_set(c, "actions", actions);
        json_decref(actions);
    }
    if (lg->metadata == NULL)
        return mf_json_fail(lg->err, "the log has no metaData action: it does not define a table");
    return 0;
}

/* The dataset change set of the table's latest state. */
static json_t *latest_body(log_t *lg, const char *ns, const char *name)
{
    json_t *md = lg->metadata, *last = json_array_get(lg->schemas, json_array_size(lg->schemas) - 1);
    json_t *body = json_pack("{s:s,s:s,s:s,s:O}", "namespace", ns, "name", name, "format", "delta", "fields",
                             json_object_get(last, "fields"));
    const char *desc = mf_integration__str(md, "description", MF_TEXT_MAX);
    if (desc != NULL)
        json_object_set_new(body, "description", json_string(desc));
    json_t *keys = json_array(), *op;
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(md, "partitionColumns"), i, k)
    {
        if (json_is_string(k) && mf_catalog_name_ok(json_string_value(k)) && json_array_size(keys) < 64)
            json_array_append(keys, k);
    }
    long long size = 0, records = 0;
    const char *path;
    json_t *f;
    json_object_foreach(lg->live, path, f)
    {
        long long r = json_integer_value(json_object_get(f, "records"));
        size += json_integer_value(json_object_get(f, "size"));
        records = records < 0 || r < 0 ? -1 : records + r;
    }
    op = json_pack("{s:o,s:I}", "partition_keys", keys, "size_bytes", (json_int_t)size);
    if (records >= 0)
        json_object_set_new(op, "row_count", json_integer(records));
    json_object_set_new(body, "operational", op);
    return body;
}

static json_t *delta_facet(log_t *lg)
{
    json_t *md = lg->metadata, *last = json_array_get(lg->schemas, json_array_size(lg->schemas) - 1);
    json_t *fact = json_pack("{s:I,s:I,s:O,s:O}", "version", (json_int_t)lg->version, "files",
                             (json_int_t)json_object_size(lg->live), "history", lg->history, "field_ids",
                             json_object_get(last, "field_ids"));
    const char *id = mf_integration__str(md, "id", 128);
    if (id != NULL)
        json_object_set_new(fact, "table_id", json_string(id));
    json_t *conf = json_object_get(md, "configuration");
    if (json_is_object(conf) && json_object_size(conf) <= 200)
        json_object_set(fact, "configuration", conf);
    if (lg->protocol != NULL)
        json_object_set(fact, "protocol", lg->protocol);
    json_t *changes = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(lg->schemas, i, s) json_array_append(changes, json_object_get(s, "version"));
    json_object_set_new(fact, "schema_changes", changes);
    return json_pack("{s:o}", "delta", fact);
}

json_t *mf_integration_from_delta(json_t *commits, const mf_integration_opts_t *opts, mf_json_err_t *err)
{
    log_t lg = {NULL, json_array(), json_object(), json_array(), NULL, 0, 0, err};
    json_t *event = NULL;
    /* a copy: replay pins parsed actions on the commits */
    json_t *own = json_deep_copy(commits);
    if (replay(&lg, own) != 0)
        goto done;
    const char *name = opts != NULL && opts->name != NULL ? opts->name : mf_integration__str(lg.metadata, "name", MF_NAME_MAX);
    if (name == NULL || !mf_catalog_name_ok(name)) {
        mf_json_fail(err, "the table's metaData has no name: give the dataset as ?name=");
        goto done;
    }
    const char *ns = mf_integration__ns(opts);
    event = mf_integration__event("delta");
    size_t i;
    json_t *s;
    json_array_foreach(lg.schemas, i, s)
    {
        if (i + 1 == json_array_size(lg.schemas))
            break;
        char rev[64], where[64];
        snprintf(rev, sizeof(rev), "delta:schema:%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(s, "version")));
        snprintf(where, sizeof(where), "commits[%" JSON_INTEGER_FORMAT "]", json_integer_value(json_object_get(s, "version")));
        json_t *body = json_pack("{s:s,s:s,s:O}", "namespace", ns, "name", name, "fields", json_object_get(s, "fields"));
        int rc = mf_integration__add_dataset(event, body, NULL, rev, where, err);
        json_decref(body);
        if (rc != 0)
            goto fail;
    }
    json_t *body = latest_body(&lg, ns, name), *facets = delta_facet(&lg);
    int rc = mf_integration__add_dataset(event, body, facets, NULL, "metaData", err);
    json_decref(body);
    json_decref(facets);
    if (rc != 0)
        goto fail;
    event = json_pack("[o]", event);
    goto done;
fail:
    json_decref(event);
    event = NULL;
done:
    json_decref(own);
    json_decref(lg.schemas);
    json_decref(lg.live);
    json_decref(lg.history);
    return event;
}
