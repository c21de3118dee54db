/*
 * ingest_emit.c: the MetaFuse emit format into an ingest event (ingest.h).
 * The dataset member is the very body POST /api/v1/datasets takes, decoded by
 * the catalog's own decoder, so both paths accept and reject the same input.
 */
#include <stdio.h>
#include <string.h>
#include "mf/catalog.h"
#include "mf/ingest.h"
#include "mf/util.h"

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

json_t *mf_ingest_from_emit(json_t *body, mf_json_err_t *err)
{
    static const char *const allowed[] = {"dataset", "column_lineage", "run", NULL};
    json_t *ds_body, *cols, *run;
    if (mf_json_only_fields(body, "", allowed, err) != 0 ||
        mf_json_object(body, "", "dataset", MF_JSON_REQUIRED, &ds_body, err) != 0 ||
        mf_json_array(body, "", "column_lineage", MF_JSON_NULLABLE, 10000, &cols, err) != 0 ||
        mf_json_object(body, "", "run", MF_JSON_NULLABLE, &run, err) != 0)
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
