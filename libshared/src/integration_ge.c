/*
 * integration_ge.c: a Great Expectations validation result into one ingest
 * event: a run of job "great_expectations:<suite>" at the validation's run
 * time (its id derived from suite, run name and run time, so the same result
 * imported twice is the same run and replaces its quality result rather than
 * adding one), and one quality result for the validated asset with the
 * statistics as metrics and one assertion per expectation.
 *
 * Both shapes are read: 0.x (expectation_config.expectation_type,
 * meta.expectation_suite_name) and 1.x (expectation_config.type, suite_name).
 */
#include <stdio.h>
#include <string.h>
#include "mf/catalog.h"
#include "mf/integrations.h"
#include "mf/util.h"

/* The validated asset's name from the batch the result describes. */
static const char *asset_name(json_t *meta)
{
    static const char *const holders[] = {"active_batch_definition", "batch_spec", "batch_markers", NULL};
    static const char *const keys[] = {"data_asset_name", "table_name", "table", NULL};
    for (int h = 0; holders[h] != NULL; h++) {
        for (int k = 0; keys[k] != NULL; k++) {
            const char *v = mf_integration__str(json_object_get(meta, holders[h]), keys[k], MF_NAME_MAX);
            if (v != NULL && mf_catalog_name_ok(v))
                return v;
        }
    }
    return NULL;
}

/* The run time: meta.run_id.run_time, else meta.validation_time, else now. */
static void run_time(json_t *meta, char out[48])
{
    const char *t = mf_integration__str(json_object_get(meta, "run_id"), "run_time", 40);
    if (t != NULL && mf_time_is_rfc3339(t)) {
        snprintf(out, 48, "%s", t);
        return;
    }
    /* validation_time is "20240101T120000.000000Z" */
    const char *v = mf_integration__str(meta, "validation_time", 40);
    if (v != NULL && strlen(v) >= 16 && v[8] == 'T') {
        snprintf(out, 48, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", v, v + 4, v + 6, v + 9, v + 11, v + 13);
        if (mf_time_is_rfc3339(out))
            return;
    }
    mf_time_rfc3339(out);
}

/* Copy the scalar members of GE's per-expectation result that say how it went. */
static void copy_observations(json_t *a, json_t *result)
{
    static const char *const keys[] = {"element_count", "unexpected_count", "unexpected_percent", "missing_count",
                                       "observed_value", NULL};
    for (int i = 0; keys[i] != NULL; i++) {
        json_t *v = json_object_get(result, keys[i]);
        if (json_is_number(v) || json_is_boolean(v) || (json_is_string(v) && json_string_length(v) <= 200))
            json_object_set(a, keys[i], v);
    }
}

static json_t *assertions(json_t *results, mf_json_err_t *err)
{
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        char where[64];
        snprintf(where, sizeof(where), "results[%zu]", i);
        json_t *config = json_object_get(r, "expectation_config"), *success = json_object_get(r, "success");
        const char *type = mf_integration__str(config, "expectation_type", MF_NAME_MAX);
        if (type == NULL)
            type = mf_integration__str(config, "type", MF_NAME_MAX);
        if (!json_is_object(r) || type == NULL || !json_is_boolean(success)) {
            json_decref(out);
            mf_json_fail(err, "%s needs expectation_config.expectation_type (or .type) and success", where);
            return NULL;
        }
        json_t *a = json_pack("{s:s,s:O}", "assertion", type, "success", success);
        const char *column = mf_integration__str(json_object_get(config, "kwargs"), "column", MF_NAME_MAX);
        if (column != NULL)
            json_object_set_new(a, "column", json_string(column));
        copy_observations(a, json_object_get(r, "result"));
        json_t *exc = json_object_get(r, "exception_info");
        if (json_is_true(json_object_get(exc, "raised_exception")))
            json_object_set_new(a, "error", json_string(mf_integration__str(exc, "exception_message", 2000)
                                                            ? mf_integration__str(exc, "exception_message", 2000)
                                                            : "the expectation raised an exception"));
        json_array_append_new(out, a);
    }
    return out;
}

json_t *mf_integration_from_ge(json_t *body, const mf_integration_opts_t *opts, mf_json_err_t *err)
{
    json_t *results, *meta, *stats;
    if (mf_json_array(body, "", "results", MF_JSON_REQUIRED, MF_INTEGRATION_MAX_ASSERTIONS, &results, err) != 0 ||
        mf_json_object(body, "", "meta", MF_JSON_NULLABLE, &meta, err) != 0 ||
        mf_json_object(body, "", "statistics", MF_JSON_NULLABLE, &stats, err) != 0)
        return NULL;
    if (!json_is_boolean(json_object_get(body, "success"))) {
        mf_json_fail(err, "success must be a boolean (is this a validation result?)");
        return NULL;
    }
    const char *name = opts != NULL && opts->name != NULL ? opts->name : asset_name(meta);
    if (name == NULL) {
        mf_json_fail(err, "the result names no data asset: give the dataset as ?name=");
        return NULL;
    }
    const char *suite = mf_integration__str(meta, "expectation_suite_name", MF_NAME_MAX);
    if (suite == NULL)
        suite = mf_integration__str(body, "suite_name", MF_NAME_MAX);
    if (suite == NULL)
        suite = "default";
    json_t *list = assertions(results, err);
    if (list == NULL)
        return NULL;
    const char *ns = mf_integration__ns(opts);
    char at[48], job[MF_NAME_MAX + 32], run_id[37], seed[2 * MF_NAME_MAX + 200];
    run_time(meta, at);
    const char *run_name = mf_integration__str(json_object_get(meta, "run_id"), "run_name", 200);
    snprintf(job, sizeof(job), "great_expectations:%s", suite);
    snprintf(seed, sizeof(seed), "ge\n%s\n%s\n%s\n%s\n%s", ns, name, suite, run_name ? run_name : "", at);
    mf_integration__uuid(seed, run_id);
    json_t *ref = json_pack("{s:s,s:s}", "namespace", ns, "name", name);
    json_t *event = mf_integration__event("great_expectations");
    json_t *metrics = json_object();
    static const char *const stat_keys[] = {"evaluated_expectations", "successful_expectations",
                                            "unsuccessful_expectations", "success_percent", NULL};
    for (int i = 0; stat_keys[i] != NULL; i++) {
        json_t *v = json_object_get(stats, stat_keys[i]);
        if (json_is_number(v))
            json_object_set(metrics, stat_keys[i], v);
    }
    json_object_set(metrics, "success", json_object_get(body, "success"));
    json_array_append_new(json_object_get(event, "quality"),
                          json_pack("{s:O,s:o,s:o}", "dataset", ref, "metrics", metrics, "assertions", list));
    json_object_set_new(event, "job", json_pack("{s:s,s:s}", "namespace", ns, "name", job));
    json_t *facets = json_object();
    const char *version = mf_integration__str(meta, "great_expectations_version", 64);
    const char *checkpoint = mf_integration__str(meta, "checkpoint_name", MF_NAME_MAX);
    if (version != NULL || checkpoint != NULL || run_name != NULL)
        json_object_set_new(facets, "great_expectations",
                            json_pack("{s:s?,s:s?,s:s?}", "version", version, "checkpoint", checkpoint, "run_name",
                                      run_name));
    json_object_set_new(event, "run", json_pack("{s:s,s:s,s:s,s:s,s:[O],s:[],s:o}", "run_id", run_id, "state",
                                                "COMPLETE", "event_time", at, "ended_at", at, "inputs", ref,
                                                "outputs", "facets", facets));
    json_decref(ref);
    return json_pack("[o]", event);
}
