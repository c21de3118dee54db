/*
 * ingest_emit.c: the MetaFuse emit format into an ingest event (ingest.h).
 * The dataset member is the very body POST /api/v1/datasets takes, decoded by
 * the catalog's own decoder, so both paths accept and reject the same input.
 * The profile member (column statistics and value samples for the classifier,
 * docs/classification.md) becomes the event's "profiles" entry for the
 * dataset; its columns must be fields of the emitted schema when it has one.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "mf/catalog.h"
#include "mf/ingest.h"
#include "mf/util.h"

#define PROFILE_SAMPLES_MAX 100   /* samples per column */
#define PROFILE_SAMPLES_TOTAL 10000 /* samples per profile: bounds the classifier's work per event */
#define PROFILE_SAMPLE_BYTES 256  /* bytes per sample, and per string min or max */
#define PROFILE_PATH 600

static const char *const run_states[] = {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER", NULL};

static json_t *column_lineage(json_t *arr, json_t *target, mf_json_err_t *err)
{
    static const char *const extra[] = {"source", NULL};
    json_t *edges = json_array(); /* one lineage entry per source dataset */
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        char where[64];
        mf_json_path_index(where, sizeof(where), "column_lineage", i);
        json_t *col = mf_catalog_column_from_json(c, where, extra, err);
        if (col == NULL)
            goto bad;
        json_decref(col); /* appended below, once the source is known */
        json_t *src_v = json_object_get(c, "source");
        if (src_v == NULL) {
            mf_json_fail(err, "%s.source is required", where);
            goto bad;
        }
        char sw[80];
        snprintf(sw, sizeof(sw), "%s.source", where);
        json_t *src = mf_catalog_ref_from_json(src_v, sw, err);
        if (src == NULL)
            goto bad;
        if (json_equal(src, target)) {
            json_decref(src);
            mf_json_fail(err, "%s.source must not be the emitted dataset itself", where);
            goto bad;
        }
        json_t *edge = NULL;
        size_t j;
        json_t *e;
        json_array_foreach(edges, j, e)
        {
            if (json_equal(json_object_get(e, "source"), src)) {
                edge = e;
                break;
            }
        }
        if (edge == NULL) {
            edge = json_pack("{s:O,s:O,s:n,s:[]}", "source", src, "target", target, "job", "columns");
            json_array_append_new(edges, edge);
        }
        json_decref(src);
        json_array_append_new(json_object_get(edge, "columns"), mf_catalog_column_from_json(c, where, extra, err));
    }
    return edges;
bad:
    json_decref(edges);
    return NULL;
}

static int run_member(json_t *run, json_t *event, json_t *target, mf_json_err_t *err)
{
    static const char *const allowed[] = {"run_id", "job", "state", "started_at", "ended_at", "error_message", NULL};
    const char *run_id, *state, *started, *ended, *msg;
    if (mf_json_only_fields(run, "run", allowed, err) != 0 ||
        mf_json_string(run, "run", "run_id", MF_JSON_NULLABLE, 36, 36, &run_id, err) != 0 ||
        mf_json_string(run, "run", "state", MF_JSON_NULLABLE, 1, 16, &state, err) != 0 ||
        mf_json_string(run, "run", "started_at", MF_JSON_NULLABLE, 10, 40, &started, err) != 0 ||
        mf_json_string(run, "run", "ended_at", MF_JSON_NULLABLE, 10, 40, &ended, err) != 0 ||
        mf_json_string(run, "run", "error_message", MF_JSON_NULLABLE | MF_JSON_MULTILINE, 0, MF_TEXT_MAX, &msg, err) != 0)
        return MF_EINVALID_REQUEST;
    if (run_id != NULL && !mf_is_uuid(run_id, strlen(run_id)))
        return mf_json_fail(err, "run.run_id must be a UUID");
    int ok = state == NULL;
    for (int i = 0; !ok && run_states[i] != NULL; i++)
        ok = strcmp(state, run_states[i]) == 0;
    if (!ok)
        return mf_json_fail(err, "run.state must be one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER");
    if ((started && !mf_time_is_rfc3339(started)) || (ended && !mf_time_is_rfc3339(ended)))
        return mf_json_fail(err, "run.started_at and run.ended_at must be RFC 3339 timestamps");
    json_t *job_v = json_object_get(run, "job");
    json_t *job = job_v ? mf_catalog_ref_from_json(job_v, "run.job", err)
                        : json_pack("{s:O,s:O}", "namespace", json_object_get(target, "namespace"), "name",
                                    json_object_get(target, "name"));
    if (job == NULL)
        return MF_EINVALID_REQUEST;
    char uuid[37];
    if (run_id == NULL)
        mf_uuid_v4(uuid);
    const char *final_state = state ? state : (ended ? "COMPLETE" : "OTHER");
    const char *when = ended ? ended : started;
    char now[32];
    if (when == NULL) {
        mf_time_rfc3339(now);
        when = now;
    }
    json_t *r = json_pack("{s:s,s:s,s:s,s:[],s:[O],s:{}}", "run_id", run_id ? run_id : uuid, "state", final_state,
                          "event_time", when, "inputs", "outputs", target, "facets");
    if (msg != NULL)
        json_object_set_new(r, "error_message", json_string(msg));
    if (started != NULL)
        json_object_set_new(r, "started_at", json_string(started));
    if (ended != NULL)
        json_object_set_new(r, "ended_at", json_string(ended));
    /* what the run read: the dataset's upstream and the column lineage's sources */
    json_t *inputs = json_object_get(r, "inputs"), *ds = json_array_get(json_object_get(event, "datasets"), 0);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ds, "upstream"), i, v)
    {
        int seen = 0;
        size_t k;
        json_t *w;
        json_array_foreach(inputs, k, w) seen |= json_equal(w, v);
        if (!seen)
            json_array_append(inputs, v);
    }
    json_array_foreach(json_object_get(event, "lineage"), i, v)
    {
        json_t *src = json_object_get(v, "source");
        int seen = 0;
        size_t k;
        json_t *w;
        json_array_foreach(inputs, k, w) seen |= json_equal(w, src);
        if (!seen)
            json_array_append(inputs, src);
        json_object_set(v, "job", job); /* the run's job produced this lineage */
    }
    json_object_set_new(event, "job", job);
    json_object_set_new(event, "run", r);
    return 0;
}

/* A column's min or max into out when given: a number, a boolean or a short string. */
static int profile_bound(json_t *col, const char *where, const char *key, json_t *out, mf_json_err_t *err)
{
    json_t *v = json_object_get(col, key);
    if (v == NULL || json_is_null(v))
        return 0;
    int ok = json_is_number(v) || json_is_boolean(v) ||
             (json_is_string(v) && json_string_length(v) <= PROFILE_SAMPLE_BYTES);
    if (!ok)
        return mf_json_fail(err, "%s.%s must be a number, a boolean or a string of at most %d bytes", where, key,
                            PROFILE_SAMPLE_BYTES);
    json_object_set(out, key, v);
    return 0;
}

/* One column's statistics (at where) into a new object, or NULL with err. */
static json_t *profile_column(json_t *c, const char *where, long long rows, int has_rows, mf_json_err_t *err)
{
    static const char *const allowed[] = {"null_count", "distinct_count", "min", "max", "samples", NULL};
    static const char *const counts[] = {"null_count", "distinct_count"};
    json_t *samples;
    if (!json_is_object(c)) {
        mf_json_fail(err, "%s must be an object", where);
        return NULL;
    }
    if (mf_json_only_fields(c, where, allowed, err) != 0 ||
        mf_json_array(c, where, "samples", MF_JSON_NULLABLE, PROFILE_SAMPLES_MAX, &samples, err) != 0)
        return NULL;
    json_t *out = json_object();
    for (size_t k = 0; k < MF_ARRAY_SIZE(counts); k++) {
        long long n;
        int present;
        if (mf_json_int(c, where, counts[k], MF_JSON_NULLABLE, 0, INT64_MAX, &n, &present, err) != 0)
            goto bad;
        if (present && has_rows && n > rows) {
            mf_json_fail(err, "%s.%s (%lld) is larger than profile.row_count (%lld)", where, counts[k], n, rows);
            goto bad;
        }
        if (present)
            json_object_set_new(out, counts[k], json_integer(n));
    }
    if (profile_bound(c, where, "min", out, err) != 0 || profile_bound(c, where, "max", out, err) != 0)
        goto bad;
    if (samples != NULL) {
        size_t i;
        json_t *v;
        json_array_foreach(samples, i, v)
        {
            if (!json_is_string(v) || json_string_length(v) > PROFILE_SAMPLE_BYTES) {
                mf_json_fail(err, "%s.samples[%zu] must be a string of at most %d bytes", where, i,
                             PROFILE_SAMPLE_BYTES);
                goto bad;
            }
        }
        json_object_set(out, "samples", samples);
    }
    return out;
bad:
    json_decref(out);
    return NULL;
}

/* Is name one of the change set's fields (or has the change set no fields to check against)? */
static int profile_field_known(json_t *cs, const char *name)
{
    json_t *fields = json_object_get(cs, "fields");
    if (json_array_size(fields) == 0)
        return 1;
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return 1;
    }
    return 0;
}

/* The profile member into the event's profiles list (one entry, for the emitted dataset). */
static int profile_member(json_t *profile, json_t *event, json_t *cs, json_t *target, mf_json_err_t *err)
{
    static const char *const allowed[] = {"row_count", "columns", NULL};
    long long rows = 0;
    int has_rows;
    json_t *cols;
    if (mf_json_only_fields(profile, "profile", allowed, err) != 0 ||
        mf_json_int(profile, "profile", "row_count", MF_JSON_NULLABLE, 0, INT64_MAX, &rows, &has_rows, err) != 0 ||
        mf_json_object(profile, "profile", "columns", MF_JSON_REQUIRED, &cols, err) != 0)
        return MF_EINVALID_REQUEST;
    if (json_object_size(cols) > MF_FIELDS_MAX)
        return mf_json_fail(err, "profile.columns has too many columns (at most %d)", MF_FIELDS_MAX);
    size_t samples = 0;
    const char *name;
    json_t *c;
    json_object_foreach(cols, name, c) samples += json_array_size(json_object_get(c, "samples"));
    if (samples > PROFILE_SAMPLES_TOTAL)
        return mf_json_fail(err, "profile has too many samples (%zu; at most %d in all its columns)", samples,
                            PROFILE_SAMPLES_TOTAL);
    json_t *entry = json_pack("{s:O,s:{}}", "dataset", target, "columns");
    if (has_rows)
        json_object_set_new(entry, "row_count", json_integer(rows));
    json_object_foreach(cols, name, c)
    {
        char where[PROFILE_PATH];
        mf_json_path_key(where, sizeof(where), "profile.columns", name);
        if (!mf_catalog_name_ok(name)) {
            json_decref(entry);
            return mf_json_fail(err, "profile.columns has a column name that is not 1-%d printable characters",
                                MF_NAME_MAX);
        }
        if (!profile_field_known(cs, name)) {
            json_decref(entry);
            return mf_json_fail(err, "%.250s is not a field of dataset.fields", where);
        }
        json_t *col = profile_column(c, where, rows, has_rows, err);
        if (col == NULL) {
            json_decref(entry);
            return MF_EINVALID_REQUEST;
        }
        json_object_set_new(json_object_get(entry, "columns"), name, col);
    }
    json_object_set_new(event, "profiles", json_pack("[o]", entry));
    return 0;
}

json_t *mf_ingest_from_emit(json_t *body, mf_json_err_t *err)
{
    static const char *const allowed[] = {"dataset", "column_lineage", "run", "profile", NULL};
    json_t *ds_body, *cols, *run, *profile;
    if (mf_json_only_fields(body, "", allowed, err) != 0 ||
        mf_json_object(body, "", "dataset", MF_JSON_REQUIRED, &ds_body, err) != 0 ||
        mf_json_array(body, "", "column_lineage", MF_JSON_NULLABLE, 10000, &cols, err) != 0 ||
        mf_json_object(body, "", "run", MF_JSON_NULLABLE, &run, err) != 0 ||
        mf_json_object(body, "", "profile", MF_JSON_NULLABLE, &profile, err) != 0)
        return NULL;
    json_t *cs = mf_catalog_changeset_from_json(ds_body, NULL, NULL, err);
    if (cs == NULL) {
        /* name the nesting: "dataset.fields[0].type ..." */
        char inner[200];
        snprintf(inner, sizeof(inner), "%.199s", err->msg);
        const char *in = strstr(inner, "\" in ");
        if (strncmp(inner, "unknown field", 13) == 0 && in != NULL) /* unknown field "x" in fields[0] */
            mf_json_fail(err, "%.*s in dataset.%s", (int)(in - inner + 1), inner, in + 5);
        else if (strncmp(inner, "unknown field", 13) == 0)
            mf_json_fail(err, "%s in dataset", inner);
        else
            mf_json_fail(err, "dataset.%s", inner);
        return NULL;
    }
    json_t *event = json_pack("{s:s,s:[O]}", "source", "emit", "datasets", cs);
    json_t *target = json_pack("{s:O,s:O}", "namespace", json_object_get(cs, "namespace"), "name",
                               json_object_get(cs, "name"));
    if (profile != NULL && profile_member(profile, event, cs, target, err) != 0) {
        json_decref(cs);
        goto bad;
    }
    json_decref(cs);
    if (cols != NULL) {
        json_t *lineage = column_lineage(cols, target, err);
        if (lineage == NULL)
            goto bad;
        json_object_set_new(event, "lineage", lineage);
    }
    if (run != NULL && run_member(run, event, target, err) != 0)
        goto bad;
    json_decref(target);
    return event;
bad:
    json_decref(target);
    json_decref(event);
    return NULL;
}
