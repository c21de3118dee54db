/*
 * openlineage.c: OpenLineage 2.x events into one ingest event (ingest.h).
 *
 * The kind of event is told from its members: run + job is a RunEvent, job
 * without run a JobEvent, dataset (and neither) a DatasetEvent. Every
 * dataset named by the event (inputs, outputs, the DatasetEvent's dataset)
 * becomes one change set holding only what the event says about it, so a
 * bare input reference never blanks what the catalog already knows; the
 * same dataset named twice gives one change set (later members win, facets
 * merge by name). Facets are mapped by name through one table per owner
 * (dataset, run, job); every facet, known or not, is also kept as it came
 * under "facets". Then every input becomes an upstream of every output
 * through the job, and each output's columnLineage adds its column pairs to
 * the edge from each source dataset it names.
 *
 * What is validated: members that identify something (names, run ids, the
 * lifecycle change, an assertion's result) are required; descriptive members
 * may be absent; any member given with the wrong type, out of bounds or
 * with control characters is an error whose message names it
 * ("outputs[1].facets.schema.fields must be an array"). Members this module
 * does not read are not looked at (OpenLineage objects are open).
 *
 * Interpretations worth knowing:
 *  - lifecycleStateChange RENAME: the event's dataset is the new identity and
 *    previousIdentifier the old one, so the entry is {"dataset": previous,
 *    "change": "RENAME", "new_name": this dataset}; a rename onto itself is
 *    no change. Other changes name the dataset itself.
 *  - schema: nested "fields" are flattened depth first with dotted names
 *    (address, address.city); a field without a type gets type "".
 *  - columnLineage (outputs and a DatasetEvent's dataset): one lineage entry
 *    per source dataset; a column's transformation is "TYPE/SUBTYPE" (or
 *    TYPE), several joined with ", ", their descriptions joined with "; " as
 *    the expression; the deprecated field-level transformationType and
 *    transformationDescription serve when an input field has none. The
 *    facet's "dataset" list (whole-dataset influence) adds edges without
 *    columns. Lineage from a dataset to itself cannot be an edge and is
 *    left out (it stays in the raw facet).
 *  - the job's sql facet: an output without a columnLineage facet takes
 *    its column lineage from the query (sqllineage.h), with the event's
 *    schema facets as the known columns; a table of the SQL is the input or
 *    output whose name is it or ends in "." and it (db.schema.table for
 *    schema.table), and a bare SELECT feeds the only such output. What the
 *    SQL does not resolve, and SQL that does not parse or is longer than
 *    MF_SQL_LINEAGE_MAX_BYTES, is logged and never fails the event.
 *  - dataQualityMetrics: besides the raw metrics (the quality entry), rowCount
 *    and each columnMetrics entry's nullCount, distinctCount, min and max
 *    become the dataset's "profiles" entry, the shape of the emit's profile
 *    (the same dataset named twice keeps the later facet's).
 *  - errorMessage.message is kept even when it holds control characters
 *    (they become spaces) or is longer than MF_TEXT_MAX (cut): a failed
 *    run's state matters more than its message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/catalog.h"
#include "mf/config.h"
#include "mf/ingest.h"
#include "mf/log.h"
#include "mf/sqllineage.h"
#include "mf/util.h"

#define OL_PATH 640                     /* a location in the document, for messages */
#define OL_MAX_DATASETS MF_UPSTREAM_MAX /* inputs, and outputs, per event */
#define OL_MAX_DEPTH 16                 /* nesting of schema fields */
#define OL_MAX_EDGES 10000              /* lineage entries per event */
#define OL_MAX_COLUMNS 100000           /* column pairs per event */
#define OL_MAX_TRANSFORMS 16            /* transformations per input field */
#define OL_MAX_LIST 10000               /* owners, assertions, column metrics */
#define OL_PATH_MAX 4096                /* dataSource.uri, as the catalog's path */
#define OL_FORMAT_MAX 128               /* storage.fileFormat, as the catalog's format */
#define OL_TIME_MAX 64

typedef enum { ROLE_INPUT, ROLE_OUTPUT, ROLE_DATASET } ol_role_t;

/* The event being built. Every json_t here is owned. */
typedef struct {
    json_t *datasets;   /* [change set] */
    json_t *ds_index;   /* dataset key -> index in datasets */
    json_t *lineage;    /* [{"source","target","job","columns"}] */
    json_t *edge_index; /* edge key -> index in lineage */
    json_t *col_index;  /* column key -> index in its entry's columns */
    json_t *lifecycle;  /* [{"dataset","change","new_name"?}] */
    json_t *quality;    /* [{"dataset","metrics"?,"assertions"?}] */
    json_t *q_index;    /* dataset key -> index in quality */
    json_t *pending;    /* [[target ref, columnLineage facet, path]]: applied once every edge exists */
    json_t *job;        /* job ref for lineage entries; NULL in a DatasetEvent */
    size_t n_columns;
    mf_json_err_t *err;
} ol_t;

/* ---------- small helpers ---------- */

static void path_key(char *out, const char *path, const char *key) { mf_json_path_key(out, OL_PATH, path, key); }
static void path_index(char *out, const char *path, size_t i) { mf_json_path_index(out, OL_PATH, path, i); }

/* A name member (dataset, namespace, job, field): 1..MF_NAME_MAX bytes of clean UTF-8. */
static int name_member(json_t *obj, const char *path, const char *key, int flags, const char **out, mf_json_err_t *err)
{
    int rc = mf_json_string(obj, path, key, flags, 1, MF_NAME_MAX, out, err);
    if (rc == 0 && *out != NULL && !mf_catalog_name_ok(*out)) {
        char where[OL_PATH];
        path_key(where, path, key);
        return mf_json_fail(err, "%s must be a name of 1-%d printable characters", where, MF_NAME_MAX);
    }
    return rc;
}

static json_t *ref_new(const char *ns, const char *name)
{
    return json_pack("{s:s,s:s}", "namespace", ns, "name", name);
}

static const char *ref_ns(json_t *ref) { return json_string_value(json_object_get(ref, "namespace")); }
static const char *ref_name(json_t *ref) { return json_string_value(json_object_get(ref, "name")); }

static int ref_same(json_t *a, json_t *b)
{
    return strcmp(ref_ns(a), ref_ns(b)) == 0 && strcmp(ref_name(a), ref_name(b)) == 0;
}

/* Names never hold control characters, so '\n' separates the parts of a key unambiguously. */
static void ref_key(char *out, size_t cap, json_t *ref) { snprintf(out, cap, "%s\n%s", ref_ns(ref), ref_name(ref)); }

#define OL_KEY (4 * (MF_NAME_MAX + 1) + 32)

/* A namespace+name member pair of obj as a new ref, or NULL with err. */
static json_t *ref_member(json_t *obj, const char *path, mf_json_err_t *err)
{
    const char *ns, *name;
    if (name_member(obj, path, "namespace", MF_JSON_REQUIRED, &ns, err) != 0 ||
        name_member(obj, path, "name", MF_JSON_REQUIRED, &name, err) != 0)
        return NULL;
    return ref_new(ns, name);
}

/* obj[key] as an object, required or not; the message names it. */
static int object_member(json_t *obj, const char *path, const char *key, int flags, json_t **out, mf_json_err_t *err)
{
    return mf_json_object(obj, path, key, flags | MF_JSON_NULLABLE, out, err);
}

/* obj[key] as an RFC 3339 time (borrowed), NULL when absent. */
static int time_member(json_t *obj, const char *path, const char *key, int flags, const char **out, mf_json_err_t *err)
{
    int rc = mf_json_string(obj, path, key, flags, 1, OL_TIME_MAX, out, err);
    if (rc == 0 && *out != NULL && !mf_time_is_rfc3339(*out)) {
        char where[OL_PATH];
        path_key(where, path, key);
        return mf_json_fail(err, "%s must be an RFC 3339 date-time with an offset (2024-05-01T10:00:00Z)", where);
    }
    return rc;
}

/* obj[key] as a UUID (new lowercase string), NULL when absent. */
static int uuid_member(json_t *obj, const char *path, const char *key, int flags, json_t **out, mf_json_err_t *err)
{
    const char *s;
    *out = NULL;
    int rc = mf_json_string(obj, path, key, flags, 0, (size_t)-1, &s, err);
    if (rc != 0 || s == NULL)
        return rc;
    if (!mf_is_uuid(s, strlen(s))) {
        char where[OL_PATH];
        path_key(where, path, key);
        return mf_json_fail(err, "%s must be a UUID", where);
    }
    char low[37];
    for (size_t i = 0; i < 36; i++)
        low[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
    low[36] = '\0';
    *out = json_string(low);
    return 0;
}

/*
 * A facet map (obj[key]): NULL when absent, else the object with every facet
 * name checked. Facets are never rejected for what they hold.
 */
static int facet_map(json_t *obj, const char *path, const char *key, json_t **out, mf_json_err_t *err)
{
    if (object_member(obj, path, key, 0, out, err) != 0)
        return MF_EINVALID_REQUEST;
    const char *name;
    json_t *v;
    json_object_foreach(*out, name, v)
    {
        if (!mf_catalog_name_ok(name)) {
            char where[OL_PATH];
            path_key(where, path, key);
            return mf_json_fail(err, "%s has a facet name that is not 1-%d printable characters", where, MF_NAME_MAX);
        }
    }
    return 0;
}

/* Keep every non-null facet of map in raw (by name). */
static void keep_raw(json_t *raw, json_t *map)
{
    const char *name;
    json_t *v;
    json_object_foreach(map, name, v)
    {
        if (!json_is_null(v))
            json_object_set(raw, name, v);
    }
}

/*
 * A string that must be kept whatever it holds: control characters other
 * than newlines and tabs become spaces, and it is cut to max bytes on a
 * character boundary. New string, or NULL when it is not UTF-8.
 */
static json_t *lenient_text(json_t *v, size_t max)
{
    size_t len = json_string_length(v);
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)json_string_value(v)[len] & 0xc0) == 0x80)
            len--;
    }
    char *s = mf_malloc(len + 1);
    memcpy(s, json_string_value(v), len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f)
            s[i] = ' ';
    }
    json_t *out = json_stringn(s, len);
    free(s);
    return out;
}

/* A growing string. */
typedef struct {
    char *s;
    size_t len;
} ol_buf_t;

static void buf_add(ol_buf_t *b, const char *sep, const char *part)
{
    size_t sl = b->len ? strlen(sep) : 0, pl = strlen(part);
    b->s = mf_realloc(b->s, b->len + sl + pl + 1);
    memcpy(b->s + b->len, sep, sl);
    memcpy(b->s + b->len + sl, part, pl);
    b->len += sl + pl;
    b->s[b->len] = '\0';
}

/* 1 when item is one of the sep-separated elements of list. */
static int list_has(const char *list, const char *sep, const char *item)
{
    size_t n = strlen(item), sl = strlen(sep);
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strstr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, item, n) == 0)
            return 1;
        p = end ? end + sl : NULL;
    }
    return 0;
}

/* ---------- the event's lists ---------- */

/* Merge cs (stolen) into the change set of the same dataset, or append it. */
static void dataset_add(ol_t *ol, json_t *cs)
{
    char key[OL_KEY];
    ref_key(key, sizeof(key), cs);
    json_t *idx = json_object_get(ol->ds_index, key);
    if (idx == NULL) {
        json_object_set_new(ol->ds_index, key, json_integer((json_int_t)json_array_size(ol->datasets)));
        json_array_append_new(ol->datasets, cs);
        return;
    }
    json_t *have = json_array_get(ol->datasets, (size_t)json_integer_value(idx));
    const char *k;
    json_t *v;
    json_object_foreach(cs, k, v)
    {
        json_t *old = json_object_get(have, k);
        if ((strcmp(k, "facets") == 0 || strcmp(k, "operational") == 0) && json_is_object(old))
            json_object_update(old, v);
        else
            json_object_set(have, k, v);
    }
    json_decref(cs);
}

/* The lineage entry source -> target (borrowed), created when missing; NULL with err past the limit. */
static json_t *edge_get(ol_t *ol, json_t *source, json_t *target, size_t *index)
{
    char key[OL_KEY];
    snprintf(key, sizeof(key), "%s\n%s\n%s\n%s", ref_ns(source), ref_name(source), ref_ns(target), ref_name(target));
    json_t *idx = json_object_get(ol->edge_index, key);
    if (idx != NULL) {
        *index = (size_t)json_integer_value(idx);
        return json_array_get(ol->lineage, *index);
    }
    if (json_array_size(ol->lineage) >= OL_MAX_EDGES) {
        mf_json_fail(ol->err,
                     "the event has too many lineage edges (at most %d: inputs x outputs and column lineage "
                     "sources)",
                     OL_MAX_EDGES);
        return NULL;
    }
    *index = json_array_size(ol->lineage);
    json_t *e = json_pack("{s:O,s:O,s:O,s:[]}", "source", source, "target", target, "job",
                          ol->job ? ol->job : json_null(), "columns");
    json_object_set_new(ol->edge_index, key, json_integer((json_int_t)*index));
    json_array_append_new(ol->lineage, e);
    return e;
}

/* Add a column pair to entry edge (index ei); a pair seen before merges its transformation and expression. */
static int column_add(ol_t *ol, json_t *edge, size_t ei, const char *sf, const char *tf, const char *tr, const char *ex)
{
    char key[OL_KEY];
    snprintf(key, sizeof(key), "%zu\n%s\n%s", ei, sf, tf);
    json_t *cols = json_object_get(edge, "columns");
    json_t *idx = json_object_get(ol->col_index, key);
    if (idx == NULL) {
        if (ol->n_columns >= OL_MAX_COLUMNS)
            return mf_json_fail(ol->err, "the event has too many column lineage pairs (at most %d)", OL_MAX_COLUMNS);
        ol->n_columns++;
        json_object_set_new(ol->col_index, key, json_integer((json_int_t)json_array_size(cols)));
        json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:s}", "source_field", sf, "target_field", tf,
                                              "transformation", tr, "expression", ex));
        return 0;
    }
    json_t *c = json_array_get(cols, (size_t)json_integer_value(idx));
    static const char *const members[] = {"transformation", "expression"};
    const char *const add[] = {tr, ex}, *const seps[] = {", ", "; "};
    for (int m = 0; m < 2; m++) {
        ol_buf_t b = {NULL, 0};
        buf_add(&b, "", json_string_value(json_object_get(c, members[m])));
        size_t before = b.len, sl = strlen(seps[m]);
        for (const char *p = add[m]; *p != '\0';) {
            const char *end = strstr(p, seps[m]);
            size_t n = end ? (size_t)(end - p) : strlen(p);
            char *item = mf_strndup(p, n);
            if (n > 0 && !list_has(b.s, seps[m], item))
                buf_add(&b, seps[m], item);
            free(item);
            p += n + (end ? sl : 0);
        }
        if (b.len != before)
            json_object_set_new(c, members[m], json_string(b.s));
        free(b.s);
    }
    return 0;
}

/* The quality entry of dataset ref (borrowed), created when missing. */
static json_t *quality_get(ol_t *ol, json_t *ref)
{
    char key[OL_KEY];
    ref_key(key, sizeof(key), ref);
    json_t *idx = json_object_get(ol->q_index, key);
    if (idx != NULL)
        return json_array_get(ol->quality, (size_t)json_integer_value(idx));
    json_t *q = json_pack("{s:O}", "dataset", ref);
    json_object_set_new(ol->q_index, key, json_integer((json_int_t)json_array_size(ol->quality)));
    json_array_append_new(ol->quality, q);
    return q;
}

/* ---------- dataset facets ---------- */

typedef int (*ds_facet_fn)(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role);

/* Flatten schema fields (depth first, dotted names) into out; seen holds the names so far. */
static int flatten_fields(ol_t *ol, json_t *arr, const char *path, const char *prefix, int depth, json_t *out,
                          json_t *seen)
{
    size_t i;
    json_t *f;
    json_array_foreach(arr, i, f)
    {
        char where[OL_PATH], full[2 * MF_NAME_MAX + 2];
        const char *name, *type, *desc;
        json_t *sub;
        path_index(where, path, i);
        if (!json_is_object(f))
            return mf_json_fail(ol->err, "%s must be an object", where);
        if (name_member(f, where, "name", MF_JSON_REQUIRED, &name, ol->err) != 0 ||
            mf_json_string(f, where, "type", MF_JSON_NULLABLE, 0, MF_NAME_MAX, &type, ol->err) != 0 ||
            mf_json_string(f, where, "description", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX, &desc,
                           ol->err) != 0 ||
            mf_json_array(f, where, "fields", MF_JSON_NULLABLE, MF_FIELDS_MAX, &sub, ol->err) != 0)
            return MF_EINVALID_REQUEST;
        if (prefix != NULL)
            snprintf(full, sizeof(full), "%s.%s", prefix, name);
        else
            snprintf(full, sizeof(full), "%s", name);
        if (strlen(full) > MF_NAME_MAX)
            return mf_json_fail(ol->err, "%s.name makes the dotted field name longer than %d characters", where,
                                MF_NAME_MAX);
        if (json_object_get(seen, full) != NULL)
            return mf_json_fail(ol->err, "%s.name \"%.100s\" is a duplicate", where, full);
        if (json_array_size(out) >= MF_FIELDS_MAX)
            return mf_json_fail(ol->err, "%s: the schema has too many fields (at most %d, nested ones included)", where,
                                MF_FIELDS_MAX);
        json_object_set_new(seen, full, json_true());
        json_t *row = json_pack("{s:s,s:s}", "name", full, "type", type ? type : "");
        if (desc != NULL)
            json_object_set_new(row, "description", json_string(desc));
        json_array_append_new(out, row);
        if (sub != NULL && json_array_size(sub) > 0) {
            char sub_path[OL_PATH];
            path_key(sub_path, where, "fields");
            if (depth >= OL_MAX_DEPTH)
                return mf_json_fail(ol->err, "%s is nested deeper than %d levels", sub_path, OL_MAX_DEPTH);
            if (flatten_fields(ol, sub, sub_path, full, depth + 1, out, seen) != 0)
                return MF_EINVALID_REQUEST;
        }
    }
    return 0;
}

static int facet_schema(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role)
{
    json_t *arr;
    if (mf_json_array(facet, where, "fields", MF_JSON_NULLABLE, MF_FIELDS_MAX, &arr, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    if (arr == NULL)
        return 0;
    char path[OL_PATH];
    path_key(path, where, "fields");
    json_t *out = json_array(), *seen = json_object();
    int rc = flatten_fields(ol, arr, path, NULL, 1, out, seen);
    json_decref(seen);
    if (rc != 0) {
        json_decref(out);
        return rc;
    }
    json_object_set_new(cs, "fields", out);
    return 0;
}

static int facet_documentation(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role)
{
    const char *desc;
    if (mf_json_string(facet, where, "description", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX, &desc,
                       ol->err) != 0)
        return MF_EINVALID_REQUEST;
    if (desc != NULL)
        json_object_set_new(cs, "description", json_string(desc));
    return 0;
}

static int facet_ownership(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role)
{
    json_t *owners;
    if (mf_json_array(facet, where, "owners", MF_JSON_NULLABLE, OL_MAX_LIST, &owners, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    char path[OL_PATH];
    path_key(path, where, "owners");
    size_t i;
    json_t *o;
    json_array_foreach(owners, i, o)
    {
        char at[OL_PATH];
        const char *name, *type;
        path_index(at, path, i);
        if (!json_is_object(o))
            return mf_json_fail(ol->err, "%s must be an object", at);
        if (name_member(o, at, "name", MF_JSON_REQUIRED, &name, ol->err) != 0 ||
            mf_json_string(o, at, "type", MF_JSON_NULLABLE, 0, MF_NAME_MAX, &type, ol->err) != 0)
            return MF_EINVALID_REQUEST;
        if (i == 0)
            json_object_set_new(cs, "owner", json_string(name));
    }
    return 0;
}

static int facet_datasource(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role)
{
    const char *uri, *name;
    if (mf_json_string(facet, where, "name", MF_JSON_NULLABLE, 0, MF_NAME_MAX, &name, ol->err) != 0 ||
        mf_json_string(facet, where, "uri", MF_JSON_NULLABLE, 0, OL_PATH_MAX, &uri, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    if (uri != NULL)
        json_object_set_new(cs, "path", json_string(uri));
    return 0;
}

static int facet_storage(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role)
{
    const char *layer, *format;
    if (mf_json_string(facet, where, "storageLayer", MF_JSON_NULLABLE, 0, MF_NAME_MAX, &layer, ol->err) != 0 ||
        mf_json_string(facet, where, "fileFormat", MF_JSON_NULLABLE, 0, OL_FORMAT_MAX, &format, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    if (format != NULL)
        json_object_set_new(cs, "format", json_string(format));
    return 0;
}

static int facet_lifecycle(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role)
{
    static const char *const changes[] = {"ALTER", "CREATE", "DROP", "OVERWRITE", "RENAME", "TRUNCATE", NULL};
    const char *change;
    json_t *prev_v;
    if (mf_json_string(facet, where, "lifecycleStateChange", MF_JSON_REQUIRED, 1, 32, &change, ol->err) != 0 ||
        object_member(facet, where, "previousIdentifier", 0, &prev_v, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    int ok = 0;
    for (size_t i = 0; changes[i] != NULL && !ok; i++)
        ok = strcmp(change, changes[i]) == 0;
    if (!ok)
        return mf_json_fail(ol->err,
                            "%s.lifecycleStateChange must be one of ALTER, CREATE, DROP, OVERWRITE, RENAME, "
                            "TRUNCATE",
                            where);
    if (strcmp(change, "RENAME") != 0) {
        json_array_append_new(ol->lifecycle, json_pack("{s:O,s:s}", "dataset", ref, "change", change));
        return 0;
    }
    char path[OL_PATH];
    path_key(path, where, "previousIdentifier");
    if (prev_v == NULL)
        return mf_json_fail(ol->err, "%s is required for RENAME", path);
    json_t *prev = ref_member(prev_v, path, ol->err);
    if (prev == NULL)
        return MF_EINVALID_REQUEST;
    if (!ref_same(prev, ref))
        json_array_append_new(ol->lifecycle,
                              json_pack("{s:O,s:s,s:O}", "dataset", prev, "change", "RENAME", "new_name", ref));
    json_decref(prev);
    return 0;
}

static int facet_column_lineage(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role)
{
    if (role == ROLE_INPUT)
        return 0; /* the spec defines it on outputs; on an input it is only kept raw */
    json_array_append_new(ol->pending, json_pack("[O,O,s]", ref, facet, where));
    return 0;
}

static int facet_output_statistics(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role)
{
    long long rows = 0, size = 0, files = 0;
    int has_rows, has_size, has_files;
    if (mf_json_int(facet, where, "rowCount", MF_JSON_NULLABLE, 0, INT64_MAX, &rows, &has_rows, ol->err) != 0 ||
        mf_json_int(facet, where, "size", MF_JSON_NULLABLE, 0, INT64_MAX, &size, &has_size, ol->err) != 0 ||
        mf_json_int(facet, where, "fileCount", MF_JSON_NULLABLE, 0, INT64_MAX, &files, &has_files, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    if (role != ROLE_OUTPUT || (!has_rows && !has_size))
        return 0;
    json_t *op = json_object();
    if (has_rows)
        json_object_set_new(op, "row_count", json_integer(rows));
    if (has_size)
        json_object_set_new(op, "size_bytes", json_integer(size));
    json_t *old = json_object_get(cs, "operational");
    if (old != NULL) {
        json_object_update(old, op);
        json_decref(op);
    } else {
        json_object_set_new(cs, "operational", op);
    }
    return 0;
}

/* A columnMetrics entry as profile statistics (ingest.h "profiles"): new object, or NULL with the error. */
static json_t *column_profile(ol_t *ol, json_t *m, const char *at)
{
    static const struct {
        const char *ol, *mf;
    } counts[] = {{"nullCount", "null_count"}, {"distinctCount", "distinct_count"}}, bounds[] = {{"min", "min"},
                                                                                                  {"max", "max"}};
    json_t *out = json_object();
    for (size_t i = 0; i < MF_ARRAY_SIZE(counts); i++) {
        long long n;
        int present;
        if (mf_json_int(m, at, counts[i].ol, MF_JSON_NULLABLE, 0, INT64_MAX, &n, &present, ol->err) != 0) {
            json_decref(out);
            return NULL;
        }
        if (present)
            json_object_set_new(out, counts[i].mf, json_integer(n));
    }
    for (size_t i = 0; i < MF_ARRAY_SIZE(bounds); i++) {
        json_t *b = json_object_get(m, bounds[i].ol);
        if (b == NULL || json_is_null(b))
            continue;
        if (!json_is_number(b)) {
            json_decref(out);
            mf_json_fail(ol->err, "%s.%s must be a number", at, bounds[i].ol);
            return NULL;
        }
        json_object_set(out, bounds[i].mf, b);
    }
    return out;
}

static int facet_dq_metrics(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role)
{
    static const char *const counts[] = {"rowCount", "bytes", "fileCount", NULL};
    long long v;
    int present;
    json_t *cm;
    for (size_t i = 0; counts[i] != NULL; i++)
        if (mf_json_int(facet, where, counts[i], MF_JSON_NULLABLE, 0, INT64_MAX, &v, &present, ol->err) != 0)
            return MF_EINVALID_REQUEST;
    if (object_member(facet, where, "columnMetrics", 0, &cm, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    if (json_object_size(cm) > OL_MAX_LIST)
        return mf_json_fail(ol->err, "%s.columnMetrics has too many columns (at most %d)", where, OL_MAX_LIST);
    char path[OL_PATH];
    path_key(path, where, "columnMetrics");
    json_t *profile = json_pack("{s:O,s:{}}", "dataset", ref, "columns");
    int has_rows = mf_json_int(facet, where, "rowCount", MF_JSON_NULLABLE, 0, INT64_MAX, &v, &present, ol->err) == 0 &&
                   present;
    if (has_rows)
        json_object_set_new(profile, "row_count", json_integer(v));
    const char *col;
    json_t *m;
    json_object_foreach(cm, col, m)
    {
        json_t *stats;
        if (!mf_catalog_name_ok(col)) {
            json_decref(profile);
            return mf_json_fail(ol->err, "%s has a column name that is not 1-%d printable characters", path,
                                MF_NAME_MAX);
        }
        if (!json_is_object(m)) {
            json_decref(profile);
            return mf_json_fail(ol->err, "%s.%.100s must be an object", path, col);
        }
        char at[OL_PATH];
        path_key(at, path, col);
        if ((stats = column_profile(ol, m, at)) == NULL) {
            json_decref(profile);
            return MF_EINVALID_REQUEST;
        }
        json_object_set_new(json_object_get(profile, "columns"), col, stats);
    }
    /* the profile rides on the dataset's quality entry (one per dataset) until the event is assembled */
    if (has_rows || json_object_size(cm) > 0)
        json_object_set_new(quality_get(ol, ref), "profile", profile);
    else
        json_decref(profile);
    /* the metrics without the facet's own bookkeeping (_producer, _schemaURL) */
    json_t *metrics = json_object();
    const char *k;
    json_object_foreach(facet, k, m)
    {
        if (k[0] != '_')
            json_object_set(metrics, k, m);
    }
    json_object_set_new(quality_get(ol, ref), "metrics", metrics);
    return 0;
}

static int facet_dq_assertions(ol_t *ol, json_t *cs, json_t *ref, json_t *facet, const char *where, ol_role_t role)
{
    json_t *arr;
    if (mf_json_array(facet, where, "assertions", MF_JSON_NULLABLE, OL_MAX_LIST, &arr, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    if (arr == NULL)
        return 0;
    char path[OL_PATH];
    path_key(path, where, "assertions");
    json_t *out = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a)
    {
        char at[OL_PATH];
        const char *assertion, *column;
        int success = 0;
        path_index(at, path, i);
        if (!json_is_object(a)) {
            json_decref(out);
            return mf_json_fail(ol->err, "%s must be an object", at);
        }
        if (mf_json_string(a, at, "assertion", MF_JSON_REQUIRED, 1, MF_NAME_MAX, &assertion, ol->err) != 0 ||
            mf_json_bool(a, at, "success", MF_JSON_REQUIRED, &success, ol->err) != 0 ||
            mf_json_string(a, at, "column", MF_JSON_NULLABLE, 0, MF_NAME_MAX, &column, ol->err) != 0) {
            json_decref(out);
            return MF_EINVALID_REQUEST;
        }
        json_t *row = json_pack("{s:s,s:b}", "assertion", assertion, "success", success);
        if (column != NULL && column[0] != '\0')
            json_object_set_new(row, "column", json_string(column));
        json_array_append_new(out, row);
    }
    json_object_set_new(quality_get(ol, ref), "assertions", out);
    return 0;
}

static const struct {
    const char *name;
    ds_facet_fn fn;
} ds_facets[] = {
    {"schema", facet_schema},
    {"documentation", facet_documentation},
    {"ownership", facet_ownership},
    {"dataSource", facet_datasource},
    {"storage", facet_storage},
    {"lifecycleStateChange", facet_lifecycle},
    {"columnLineage", facet_column_lineage},
    {"outputStatistics", facet_output_statistics},
    {"dataQualityMetrics", facet_dq_metrics},
    {"dataQualityAssertions", facet_dq_assertions},
};

/* Map the known facets of map (at path) into cs. */
static int dataset_facets(ol_t *ol, json_t *cs, json_t *ref, json_t *map, const char *path, ol_role_t role)
{
    for (size_t i = 0; i < MF_ARRAY_SIZE(ds_facets); i++) {
        json_t *facet;
        char where[OL_PATH];
        if (object_member(map, path, ds_facets[i].name, 0, &facet, ol->err) != 0)
            return MF_EINVALID_REQUEST;
        if (facet == NULL)
            continue;
        path_key(where, path, ds_facets[i].name);
        if (ds_facets[i].fn(ol, cs, ref, facet, where, role) != 0)
            return MF_EINVALID_REQUEST;
    }
    return 0;
}

/* One dataset of the event (at path) into its change set; *ref_out a new ref. */
static int dataset_decode(ol_t *ol, json_t *ds, const char *path, ol_role_t role, json_t **ref_out)
{
    *ref_out = NULL;
    if (!json_is_object(ds))
        return mf_json_fail(ol->err, "%s must be an object", path);
    json_t *ref = ref_member(ds, path, ol->err);
    if (ref == NULL)
        return MF_EINVALID_REQUEST;
    const char *io = role == ROLE_INPUT ? "inputFacets" : role == ROLE_OUTPUT ? "outputFacets" : NULL;
    json_t *facets, *io_facets = NULL;
    if (facet_map(ds, path, "facets", &facets, ol->err) != 0 ||
        (io != NULL && facet_map(ds, path, io, &io_facets, ol->err) != 0)) {
        json_decref(ref);
        return MF_EINVALID_REQUEST;
    }
    json_t *cs = json_copy(ref), *raw = json_object();
    char where[OL_PATH];
    path_key(where, path, "facets");
    if (facets != NULL && dataset_facets(ol, cs, ref, facets, where, role) != 0)
        goto bad;
    if (io_facets != NULL) {
        path_key(where, path, io);
        if (dataset_facets(ol, cs, ref, io_facets, where, role) != 0)
            goto bad;
    }
    keep_raw(raw, facets);
    keep_raw(raw, io_facets);
    if (json_object_size(raw) > 0)
        json_object_set(cs, "facets", raw);
    json_decref(raw);
    dataset_add(ol, cs);
    *ref_out = ref;
    return 0;
bad:
    json_decref(raw);
    json_decref(cs);
    json_decref(ref);
    return MF_EINVALID_REQUEST;
}

/* inputs or outputs: every dataset decoded, refs appended to refs. */
static int dataset_list(ol_t *ol, json_t *event, const char *key, ol_role_t role, json_t *refs)
{
    json_t *arr;
    if (mf_json_array(event, "", key, MF_JSON_NULLABLE, OL_MAX_DATASETS, &arr, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    size_t i;
    json_t *ds;
    json_array_foreach(arr, i, ds)
    {
        char path[OL_PATH];
        json_t *ref;
        path_index(path, key, i);
        if (dataset_decode(ol, ds, path, role, &ref) != 0)
            return MF_EINVALID_REQUEST;
        json_array_append_new(refs, ref);
    }
    return 0;
}

/* ---------- column lineage ---------- */

/* The transformation ("TYPE/SUBTYPE, ...") and expression of one input field into tr and ex. */
static int transformations(ol_t *ol, json_t *in, const char *at, const char *legacy_type, const char *legacy_desc,
                           ol_buf_t *tr, ol_buf_t *ex)
{
    json_t *arr;
    if (mf_json_array(in, at, "transformations", MF_JSON_NULLABLE, OL_MAX_TRANSFORMS, &arr, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    if (arr == NULL || json_array_size(arr) == 0) {
        if (legacy_type != NULL && legacy_type[0] != '\0')
            buf_add(tr, ", ", legacy_type);
        if (legacy_desc != NULL && legacy_desc[0] != '\0')
            buf_add(ex, "; ", legacy_desc);
        return 0;
    }
    char path[OL_PATH];
    path_key(path, at, "transformations");
    size_t i;
    json_t *t;
    json_array_foreach(arr, i, t)
    {
        char w[OL_PATH], one[2 * MF_TAG_MAX + 2];
        const char *type, *subtype, *desc;
        int masking = 0;
        path_index(w, path, i);
        if (!json_is_object(t))
            return mf_json_fail(ol->err, "%s must be an object", w);
        if (mf_json_string(t, w, "type", MF_JSON_REQUIRED, 1, MF_TAG_MAX, &type, ol->err) != 0 ||
            mf_json_string(t, w, "subtype", MF_JSON_NULLABLE, 0, MF_TAG_MAX, &subtype, ol->err) != 0 ||
            mf_json_string(t, w, "description", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX, &desc, ol->err) !=
                0 ||
            mf_json_bool(t, w, "masking", MF_JSON_NULLABLE, &masking, ol->err) != 0)
            return MF_EINVALID_REQUEST;
        if (!mf_catalog_tag_ok(type))
            return mf_json_fail(ol->err, "%s.type must be a word of letters, digits and _.:/- (DIRECT, INDIRECT)", w);
        if (subtype != NULL && subtype[0] != '\0' && !mf_catalog_tag_ok(subtype))
            return mf_json_fail(ol->err,
                                "%s.subtype must be a word of letters, digits and _.:/- (IDENTITY, "
                                "AGGREGATION)",
                                w);
        if (subtype != NULL && subtype[0] != '\0')
            snprintf(one, sizeof(one), "%s/%s", type, subtype);
        else
            snprintf(one, sizeof(one), "%s", type);
        buf_add(tr, ", ", one);
        if (desc != NULL && desc[0] != '\0')
            buf_add(ex, "; ", desc);
    }
    return 0;
}

/* A columnLineage facet of target (at where): column pairs on the edges from each source dataset. */
static int column_lineage(ol_t *ol, json_t *target, json_t *facet, const char *where)
{
    json_t *fields, *dataset;
    if (object_member(facet, where, "fields", 0, &fields, ol->err) != 0 ||
        mf_json_array(facet, where, "dataset", MF_JSON_NULLABLE, OL_MAX_LIST, &dataset, ol->err) != 0)
        return MF_EINVALID_REQUEST;
    char fpath[OL_PATH];
    path_key(fpath, where, "fields");
    if (json_object_size(fields) > MF_FIELDS_MAX)
        return mf_json_fail(ol->err, "%s has too many fields (at most %d)", fpath, MF_FIELDS_MAX);
    const char *tf;
    json_t *spec;
    json_object_foreach(fields, tf, spec)
    {
        char fw[OL_PATH];
        const char *ltype, *ldesc;
        json_t *inputs;
        if (!mf_catalog_name_ok(tf))
            return mf_json_fail(ol->err, "%s has a field name that is not 1-%d printable characters", fpath,
                                MF_NAME_MAX);
        path_key(fw, fpath, tf);
        if (!json_is_object(spec))
            return mf_json_fail(ol->err, "%s must be an object", fw);
        if (mf_json_array(spec, fw, "inputFields", MF_JSON_NULLABLE, OL_MAX_LIST, &inputs, ol->err) != 0 ||
            mf_json_string(spec, fw, "transformationType", MF_JSON_NULLABLE, 0, MF_TAG_MAX, &ltype, ol->err) != 0 ||
            mf_json_string(spec, fw, "transformationDescription", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX,
                           &ldesc, ol->err) != 0)
            return MF_EINVALID_REQUEST;
        char ipath[OL_PATH];
        path_key(ipath, fw, "inputFields");
        size_t j;
        json_t *in;
        json_array_foreach(inputs, j, in)
        {
            char at[OL_PATH];
            const char *sf;
            path_index(at, ipath, j);
            if (!json_is_object(in))
                return mf_json_fail(ol->err, "%s must be an object", at);
            json_t *src = ref_member(in, at, ol->err);
            if (src == NULL)
                return MF_EINVALID_REQUEST;
            ol_buf_t tr = {NULL, 0}, ex = {NULL, 0};
            int rc = name_member(in, at, "field", MF_JSON_REQUIRED, &sf, ol->err);
            if (rc == 0)
                rc = transformations(ol, in, at, ltype, ldesc, &tr, &ex);
            if (rc == 0 && !ref_same(src, target)) {
                size_t ei;
                json_t *edge = edge_get(ol, src, target, &ei);
                rc = edge ? column_add(ol, edge, ei, sf, tf, tr.s ? tr.s : "", ex.s ? ex.s : "") : MF_EINVALID_REQUEST;
            }
            free(tr.s);
            free(ex.s);
            json_decref(src);
            if (rc != 0)
                return rc;
        }
    }
    char dpath[OL_PATH];
    path_key(dpath, where, "dataset");
    size_t i;
    json_t *d;
    json_array_foreach(dataset, i, d)
    {
        char at[OL_PATH];
        path_index(at, dpath, i);
        if (!json_is_object(d))
            return mf_json_fail(ol->err, "%s must be an object", at);
        json_t *src = ref_member(d, at, ol->err);
        if (src == NULL)
            return MF_EINVALID_REQUEST;
        size_t ei;
        int ok = ref_same(src, target) || edge_get(ol, src, target, &ei) != NULL;
        json_decref(src);
        if (!ok)
            return MF_EINVALID_REQUEST;
    }
    return 0;
}

/* Every input -> every output, then the column lineage waiting in ol->pending. */
static int lineage_build(ol_t *ol, json_t *inputs, json_t *outputs)
{
    size_t i, j, ei;
    json_t *in, *out;
    json_array_foreach(inputs, i, in)
    {
        json_array_foreach(outputs, j, out)
        {
            if (!ref_same(in, out) && edge_get(ol, in, out, &ei) == NULL)
                return MF_EINVALID_REQUEST;
        }
    }
    json_t *p;
    json_array_foreach(ol->pending, i, p)
    {
        if (column_lineage(ol, json_array_get(p, 0), json_array_get(p, 1), json_string_value(json_array_get(p, 2))) !=
            0)
            return MF_EINVALID_REQUEST;
    }
    return 0;
}

/* The one ref of refs named table or "<prefix>.table"; NULL when none or several. */
static json_t *ref_for_table(json_t *refs, const char *table)
{
    size_t i, tl = strlen(table);
    json_t *r, *found = NULL;
    json_array_foreach(refs, i, r)
    {
        const char *name = ref_name(r);
        size_t nl = strlen(name);
        if (strcmp(name, table) == 0)
            return r;
        if (nl > tl && name[nl - tl - 1] == '.' && strcmp(name + nl - tl, table) == 0) {
            if (found != NULL)
                return NULL;
            found = r;
        }
    }
    return found;
}

/* {dataset name: [field]} from the schema facets of the event's datasets. */
static json_t *known_columns(ol_t *ol)
{
    json_t *known = json_object();
    size_t i, j;
    json_t *cs, *f;
    json_array_foreach(ol->datasets, i, cs)
    {
        json_t *fields = json_object_get(cs, "fields");
        if (fields == NULL)
            continue;
        json_t *names = json_array();
        json_array_foreach(fields, j, f) json_array_append(names, json_object_get(f, "name"));
        json_object_set_new(known, ref_name(cs), names);
    }
    return known;
}

/* Outputs with no columnLineage facet (new array of borrowed refs). */
static json_t *outputs_without_column_lineage(ol_t *ol, json_t *outputs)
{
    json_t *out = json_array();
    size_t i, j;
    json_t *o, *p;
    json_array_foreach(outputs, i, o)
    {
        int has = 0;
        json_array_foreach(ol->pending, j, p) has |= ref_same(json_array_get(p, 0), o);
        if (!has)
            json_array_append(out, o);
    }
    return out;
}

/* Column pairs of res (sqllineage.h) on the edges from inputs to targets; the count added. */
static size_t sql_pairs_add(ol_t *ol, json_t *res, json_t *inputs, json_t *targets)
{
    size_t i, added = 0;
    json_t *e;
    json_array_foreach(json_object_get(res, "edges"), i, e)
    {
        json_t *tgt = ref_for_table(targets, json_string_value(json_object_get(e, "target")));
        json_t *src = ref_for_table(inputs, json_string_value(json_object_get(e, "source")));
        size_t ei;
        if (tgt == NULL || src == NULL || ref_same(src, tgt))
            continue;
        json_t *edge = edge_get(ol, src, tgt, &ei);
        if (edge == NULL ||
            column_add(ol, edge, ei, json_string_value(json_object_get(e, "source_field")),
                       json_string_value(json_object_get(e, "target_field")),
                       json_string_value(json_object_get(e, "transformation")), "") != 0)
            break; /* a limit: what was added stands */
        added++;
    }
    return added;
}

/* The job's sql facet as column lineage of the outputs that have none; never fails the event. */
static void sql_column_lineage(ol_t *ol, const char *query, json_t *inputs, json_t *outputs)
{
    json_t *targets = outputs_without_column_lineage(ol, outputs);
    size_t len = query ? strlen(query) : 0;
    if (len == 0 || json_array_size(targets) == 0 || json_array_size(inputs) == 0) {
        json_decref(targets);
        return;
    }
    const char *job = json_string_value(json_object_get(ol->job, "name"));
    if (len > (size_t)mf_config_int(MF_CFG_SQL_LINEAGE_MAX_BYTES)) {
        MF_LOG_INFO_(NULL, "job %s: the sql facet is %zu bytes, over MF_SQL_LINEAGE_MAX_BYTES: no column lineage from it",
                     job, len);
        json_decref(targets);
        return;
    }
    json_t *known = known_columns(ol);
    mf_sqllineage_opts_t opts = {
        .default_target = json_array_size(targets) == 1 ? ref_name(json_array_get(targets, 0)) : NULL,
        .known_columns = known,
    };
    mf_json_err_t err = {{0}};
    json_t *res = mf_sqllineage_parse(query, len, &opts, &err);
    if (res == NULL) {
        MF_LOG_INFO_(NULL, "job %s: no column lineage from the sql facet: %s", job, err.msg);
    } else {
        size_t added = sql_pairs_add(ol, res, inputs, targets);
        json_t *warnings = json_object_get(res, "warnings");
        if (json_array_size(warnings) > 0 || added < json_array_size(json_object_get(res, "edges")))
            MF_LOG_INFO_(NULL, "job %s: %zu of %zu column pairs of the sql facet match the event's datasets; %zu "
                         "warnings (first: %s)",
                         job, added, json_array_size(json_object_get(res, "edges")), json_array_size(warnings),
                         json_array_size(warnings) ? json_string_value(json_array_get(warnings, 0)) : "none");
    }
    json_decref(res);
    json_decref(known);
    json_decref(targets);
}

/* ---------- run and job ---------- */

static int run_parent(json_t *r, json_t *facet, const char *where, mf_json_err_t *err)
{
    json_t *prun, *pjob, *run_id = NULL;
    char rpath[OL_PATH], jpath[OL_PATH];
    path_key(rpath, where, "run");
    path_key(jpath, where, "job");
    if (object_member(facet, where, "run", MF_JSON_REQUIRED, &prun, err) != 0 ||
        uuid_member(prun, rpath, "runId", MF_JSON_REQUIRED, &run_id, err) != 0)
        return MF_EINVALID_REQUEST;
    json_t *job = NULL;
    if (object_member(facet, where, "job", MF_JSON_REQUIRED, &pjob, err) != 0 ||
        (job = ref_member(pjob, jpath, err)) == NULL) {
        json_decref(run_id);
        return MF_EINVALID_REQUEST;
    }
    json_object_set_new(r, "parent", json_pack("{s:o,s:o}", "run_id", run_id, "job", job));
    return 0;
}

static int run_nominal(json_t *r, json_t *facet, const char *where, mf_json_err_t *err)
{
    const char *start, *end;
    if (time_member(facet, where, "nominalStartTime", MF_JSON_NULLABLE, &start, err) != 0 ||
        time_member(facet, where, "nominalEndTime", MF_JSON_NULLABLE, &end, err) != 0)
        return MF_EINVALID_REQUEST;
    if (start != NULL)
        json_object_set_new(r, "nominal_start", json_string(start));
    if (end != NULL)
        json_object_set_new(r, "nominal_end", json_string(end));
    return 0;
}

static int run_error(json_t *r, json_t *facet, const char *where, mf_json_err_t *err)
{
    json_t *msg = json_object_get(facet, "message");
    if (msg == NULL || json_is_null(msg))
        return 0;
    char at[OL_PATH];
    path_key(at, where, "message");
    if (!json_is_string(msg))
        return mf_json_fail(err, "%s must be a string", at);
    json_t *text = lenient_text(msg, MF_TEXT_MAX);
    if (text == NULL)
        return mf_json_fail(err, "%s must be valid UTF-8", at);
    json_object_set_new(r, "error_message", text);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(json_t *r, json_t *facet, const char *where, mf_json_err_t *err);
} run_facets[] = {
    {"parent", run_parent},
    {"nominalTime", run_nominal},
    {"errorMessage", run_error},
};

static json_t *run_decode(json_t *event, const char *event_time, mf_json_err_t *err)
{
    static const char *const states[] = {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER", NULL};
    const char *state;
    json_t *run, *facets, *run_id;
    if (mf_json_string(event, "", "eventType", MF_JSON_NULLABLE, 1, 32, &state, err) != 0)
        return NULL;
    int ok = state == NULL;
    for (size_t i = 0; states[i] != NULL && !ok; i++)
        ok = strcmp(state, states[i]) == 0;
    if (!ok) {
        mf_json_fail(err, "eventType must be one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER");
        return NULL;
    }
    if (object_member(event, "", "run", MF_JSON_REQUIRED, &run, err) != 0 ||
        uuid_member(run, "run", "runId", MF_JSON_REQUIRED, &run_id, err) != 0)
        return NULL;
    json_t *r =
        json_pack("{s:o,s:s,s:s}", "run_id", run_id, "state", state ? state : "OTHER", "event_time", event_time);
    if (facet_map(run, "run", "facets", &facets, err) != 0)
        goto bad;
    for (size_t i = 0; i < MF_ARRAY_SIZE(run_facets); i++) {
        json_t *facet;
        char where[OL_PATH];
        if (object_member(facets, "run.facets", run_facets[i].name, 0, &facet, err) != 0)
            goto bad;
        if (facet == NULL)
            continue;
        path_key(where, "run.facets", run_facets[i].name);
        if (run_facets[i].fn(r, facet, where, err) != 0)
            goto bad;
    }
    json_t *raw = json_object();
    keep_raw(raw, facets);
    json_object_set_new(r, "facets", raw);
    return r;
bad:
    json_decref(r);
    return NULL;
}

static json_t *job_decode(json_t *event, mf_json_err_t *err)
{
    json_t *job, *facets, *sql = NULL, *doc = NULL;
    const char *ns, *name, *query = NULL, *desc = NULL;
    if (object_member(event, "", "job", MF_JSON_REQUIRED, &job, err) != 0 ||
        name_member(job, "job", "namespace", MF_JSON_REQUIRED, &ns, err) != 0 ||
        name_member(job, "job", "name", MF_JSON_REQUIRED, &name, err) != 0 ||
        facet_map(job, "job", "facets", &facets, err) != 0 ||
        object_member(facets, "job.facets", "sql", 0, &sql, err) != 0 ||
        object_member(facets, "job.facets", "documentation", 0, &doc, err) != 0 ||
        (sql != NULL && mf_json_string(sql, "job.facets.sql", "query", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0,
                                       MF_INGEST_MAX_EVENT, &query, err) != 0) ||
        (doc != NULL && mf_json_string(doc, "job.facets.documentation", "description",
                                       MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX, &desc, err) != 0))
        return NULL;
    json_t *raw = json_object();
    keep_raw(raw, facets);
    json_t *j = json_pack("{s:s,s:s}", "namespace", ns, "name", name);
    if (desc != NULL)
        json_object_set_new(j, "description", json_string(desc));
    if (query != NULL)
        json_object_set_new(j, "sql", json_string(query));
    json_object_set_new(j, "facets", raw);
    return j;
}

/* ---------- the event ---------- */

/*
 * Messages quote the event's own text (names, paths) cut to a byte count, and
 * a cut can split a character; the HTTP layer cannot send a message that is
 * not UTF-8, so broken bytes become '?'.
 */
static void message_fix_utf8(mf_json_err_t *err)
{
    unsigned char *p = (unsigned char *)err->msg;
    size_t len = strnlen(err->msg, sizeof(err->msg) - 1), i = 0;
    p[len] = '\0';
    while (i < len) {
        size_t n = p[i] < 0x80             ? 1
                   : (p[i] & 0xe0) == 0xc0 ? 2
                   : (p[i] & 0xf0) == 0xe0 ? 3
                   : (p[i] & 0xf8) == 0xf0 ? 4
                                           : 0;
        if (n > 0 && i + n <= len && mf_text_is_clean((const char *)p + i, n, 1))
            i += n;
        else
            p[i++] = '?';
    }
}

/* Move the profiles parked on quality entries into the event's "profiles". */
static void profiles_take(json_t *quality, json_t *event)
{
    json_t *profiles = json_array();
    size_t i;
    json_t *q;
    json_array_foreach(quality, i, q)
    {
        json_t *p = json_object_get(q, "profile");
        if (p != NULL) {
            json_array_append(profiles, p);
            json_object_del(q, "profile");
        }
    }
    if (json_array_size(profiles) > 0)
        json_object_set(event, "profiles", profiles);
    json_decref(profiles);
}

json_t *mf_ingest_from_openlineage(json_t *event, mf_json_err_t *err)
{
    if (!json_is_object(event)) {
        mf_json_fail(err, "the event must be a JSON object");
        return NULL;
    }
    json_t *has_run = json_object_get(event, "run"), *has_job = json_object_get(event, "job");
    int is_run = has_run != NULL && !json_is_null(has_run);
    int is_job = !is_run && has_job != NULL && !json_is_null(has_job);
    int is_dataset = !is_run && !is_job && json_object_get(event, "dataset") != NULL;
    if (!is_run && !is_job && !is_dataset) {
        mf_json_fail(err, "the event must have run and job (RunEvent), job (JobEvent) or dataset (DatasetEvent)");
        return NULL;
    }
    const char *event_time;
    if (time_member(event, "", "eventTime", MF_JSON_REQUIRED, &event_time, err) != 0)
        return NULL;

    ol_t ol = {
        .datasets = json_array(),
        .ds_index = json_object(),
        .lineage = json_array(),
        .edge_index = json_object(),
        .col_index = json_object(),
        .lifecycle = json_array(),
        .quality = json_array(),
        .q_index = json_object(),
        .pending = json_array(),
        .err = err,
    };
    json_t *out = json_pack("{s:s}", "source", "openlineage");
    json_t *run = NULL, *job = NULL, *inputs = json_array(), *outputs = json_array();
    if (is_run && (run = run_decode(event, event_time, err)) == NULL)
        goto bad;
    if (!is_dataset) {
        if ((job = job_decode(event, err)) == NULL)
            goto bad;
        ol.job = json_pack("{s:O,s:O}", "namespace", json_object_get(job, "namespace"), "name",
                           json_object_get(job, "name"));
        if (dataset_list(&ol, event, "inputs", ROLE_INPUT, inputs) != 0 ||
            dataset_list(&ol, event, "outputs", ROLE_OUTPUT, outputs) != 0)
            goto bad;
    } else {
        json_t *ds, *ref;
        if (object_member(event, "", "dataset", MF_JSON_REQUIRED, &ds, err) != 0 ||
            dataset_decode(&ol, ds, "dataset", ROLE_DATASET, &ref) != 0)
            goto bad;
        json_decref(ref);
    }
    if (lineage_build(&ol, inputs, outputs) != 0)
        goto bad;
    if (job != NULL)
        sql_column_lineage(&ol, json_string_value(json_object_get(job, "sql")), inputs, outputs);

    if (json_array_size(ol.datasets) > 0)
        json_object_set(out, "datasets", ol.datasets);
    if (json_array_size(ol.lineage) > 0)
        json_object_set(out, "lineage", ol.lineage);
    if (job != NULL)
        json_object_set(out, "job", job);
    if (run != NULL) {
        json_object_set(run, "inputs", inputs);
        json_object_set(run, "outputs", outputs);
        json_object_set(out, "run", run);
    }
    if (json_array_size(ol.lifecycle) > 0)
        json_object_set(out, "lifecycle", ol.lifecycle);
    profiles_take(ol.quality, out);
    if (json_array_size(ol.quality) > 0)
        json_object_set(out, "quality", ol.quality);
    goto done;
bad:
    json_decref(out);
    out = NULL;
    message_fix_utf8(err);
done:
    json_decref(run);
    json_decref(job);
    json_decref(inputs);
    json_decref(outputs);
    json_decref(ol.job);
    json_decref(ol.datasets);
    json_decref(ol.ds_index);
    json_decref(ol.lineage);
    json_decref(ol.edge_index);
    json_decref(ol.col_index);
    json_decref(ol.lifecycle);
    json_decref(ol.quality);
    json_decref(ol.q_index);
    json_decref(ol.pending);
    return out;
}
