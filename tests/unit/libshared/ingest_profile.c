/*
 * Unit tests of the profile part of the decoders (ingest.h "profiles"): the
 * emit member "profile" (libshared/src/ingest_emit.c) and the OpenLineage
 * dataQualityMetrics facet (libshared/src/openlineage.c) map to the same
 * entry {"dataset","row_count"?,"columns":{field:{"null_count"?,
 * "distinct_count"?,"min"?,"max"?,"samples"?}}}; one table of valid bodies
 * with the whole entry, one of invalid bodies with the exact message, and the
 * sample limits (count and bytes) at and past their bounds.
 *
 * Literals are written with ' for " (jq) so the bodies stay readable.
 */
#include <stdio.h>
#include "../unit.h"
#include "mf/ingest.h"

static json_t *profiles_of(json_t *(*decoder)(json_t *, mf_json_err_t *), const char *label, const char *text)
{
    mf_json_err_t err;
    json_t *ev = mf_t_decode(decoder, mf_t_jq(text), &err);
    if (ev == NULL) {
        MF_CHECK_STR(label, err.msg, "(accepted)");
        return NULL;
    }
    json_t *p = json_incref(json_object_get(ev, "profiles"));
    json_decref(ev);
    return p;
}

typedef struct {
    const char *what;
    const char *body;
    const char *want; /* the event's "profiles", or null when it has none */
} good_row_t;

#define DS_FIELDS "'dataset':{'name':'users','fields':[{'name':'email','type':'text'},{'name':'age','type':'int'}]}"
#define USERS "{'namespace':'default','name':'users'}"

static const good_row_t emit_good[] = {
    {"no profile: no profiles", "{" DS_FIELDS "}", "null"},
    {"null profile: none", "{" DS_FIELDS ",'profile':null}", "null"},
    {"statistics and samples of the schema's columns",
     "{" DS_FIELDS ",'profile':{'row_count':10,'columns':{'email':{'null_count':1,'distinct_count':9,'min':'a@x.io',"
     "'max':'z@x.io','samples':['a@x.io','b@x.io']},'age':{'min':0,'max':99.5}}}}",
     "[{'dataset':" USERS ",'row_count':10,'columns':{'email':{'null_count':1,'distinct_count':9,'min':'a@x.io',"
     "'max':'z@x.io','samples':['a@x.io','b@x.io']},'age':{'min':0,'max':99.5}}}]"},
    {"null members are absent; booleans are bounds too",
     "{" DS_FIELDS ",'profile':{'row_count':null,'columns':{'age':{'null_count':null,'min':false,'max':true,"
     "'samples':null}}}}",
     "[{'dataset':" USERS ",'columns':{'age':{'min':false,'max':true}}}]"},
    {"without a schema in the emit any column name is taken",
     "{'dataset':{'name':'users'},'profile':{'columns':{'anything':{'distinct_count':0}}}}",
     "[{'dataset':" USERS ",'columns':{'anything':{'distinct_count':0}}}]"},
    {"an empty column list still records a row count",
     "{'dataset':{'name':'users'},'profile':{'row_count':0,'columns':{}}}",
     "[{'dataset':" USERS ",'row_count':0,'columns':{}}]"},
};

#define OL(metrics)                                                                                                    \
    "{'eventType':'COMPLETE','eventTime':'2026-01-01T00:00:00Z','run':{'runId':'3b452093-782c-4ef2-9c0c-aafe2aa6f34d'},"  \
    "'job':{'namespace':'default','name':'j'},'inputs':[],'outputs':[{'namespace':'default','name':'users',"          \
    "'facets':{'dataQualityMetrics':" metrics "}}]}"

static const good_row_t ol_good[] = {
    {"no dataQualityMetrics: no profiles",
     "{'eventType':'COMPLETE','eventTime':'2026-01-01T00:00:00Z','run':{'runId':'3b452093-782c-4ef2-9c0c-aafe2aa6f34d'},"
     "'job':{'namespace':'default','name':'j'},'inputs':[],'outputs':[{'namespace':'default','name':'users'}]}",
     "null"},
    {"rowCount and columnMetrics in the profile's names; sum, count and quantiles are not profile facts",
     OL("{'rowCount':5,'bytes':10,'columnMetrics':{'age':{'nullCount':1,'distinctCount':4,'min':18,'max':90.5,"
        "'sum':200,'count':4,'quantiles':{'0.5':40}}}}"),
     "[{'dataset':" USERS ",'row_count':5,'columns':{'age':{'null_count':1,'distinct_count':4,'min':18,'max':90.5}}}]"},
    {"a facet without rowCount", OL("{'columnMetrics':{'email':{'nullCount':0}}}"),
     "[{'dataset':" USERS ",'columns':{'email':{'null_count':0}}}]"},
    {"a facet with neither rowCount nor columns: no profile", OL("{'bytes':10}"), "null"},
};

static void check_good(json_t *(*decoder)(json_t *, mf_json_err_t *), const good_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *got = profiles_of(decoder, rows[i].what, rows[i].body);
        json_t *want = mf_t_jq(rows[i].want);
        MF_CHECK_JSON(rows[i].what, got ? got : json_null(), want);
        json_decref(got);
        json_decref(want);
    }
}

static void test_emit_profiles(void **state) { check_good(mf_ingest_from_emit, emit_good, MF_T_ROWS(emit_good)); }
static void test_openlineage_profiles(void **state) { check_good(mf_ingest_from_openlineage, ol_good, MF_T_ROWS(ol_good)); }

typedef struct {
    json_t *(*decoder)(json_t *, mf_json_err_t *);
    const char *body;
    const char *message;
} bad_row_t;

#define EMIT(profile) "{" DS_FIELDS ",'profile':" profile "}"
#define COLS(c) EMIT("{'columns':{" c "}}")

static const bad_row_t bad_rows[] = {
    {mf_ingest_from_emit, EMIT("5"), "profile must be an object"},
    {mf_ingest_from_emit, EMIT("{}"), "profile.columns is required"},
    {mf_ingest_from_emit, EMIT("{'columns':[]}"), "profile.columns must be an object"},
    {mf_ingest_from_emit, EMIT("{'columns':{},'rows':1}"), "unknown field \"rows\" in profile"},
    {mf_ingest_from_emit, EMIT("{'row_count':-1,'columns':{}}"),
     "profile.row_count must be between 0 and 9223372036854775807"},
    {mf_ingest_from_emit, EMIT("{'row_count':'1','columns':{}}"), "profile.row_count must be an integer"},
    {mf_ingest_from_emit, COLS("'phone':{}"), "profile.columns.phone is not a field of dataset.fields"},
    {mf_ingest_from_emit, COLS("'email':5"), "profile.columns.email must be an object"},
    {mf_ingest_from_emit, COLS("'email':{'nulls':1}"), "unknown field \"nulls\" in profile.columns.email"},
    {mf_ingest_from_emit, COLS("'email':{'null_count':1.5}"), "profile.columns.email.null_count must be an integer"},
    {mf_ingest_from_emit, EMIT("{'row_count':2,'columns':{'email':{'distinct_count':3}}}"),
     "profile.columns.email.distinct_count (3) is larger than profile.row_count (2)"},
    {mf_ingest_from_emit, COLS("'email':{'min':[1]}"),
     "profile.columns.email.min must be a number, a boolean or a string of at most 256 bytes"},
    {mf_ingest_from_emit, COLS("'email':{'samples':'a'}"), "profile.columns.email.samples must be an array"},
    {mf_ingest_from_emit, COLS("'email':{'samples':['a',null]}"),
     "profile.columns.email.samples[1] must be a string of at most 256 bytes"},
    {mf_ingest_from_openlineage, OL("{'columnMetrics':{'age':{'nullCount':'1'}}}"),
     "outputs[0].facets.dataQualityMetrics.columnMetrics.age.nullCount must be an integer"},
    {mf_ingest_from_openlineage, OL("{'columnMetrics':{'age':{'distinctCount':-2}}}"),
     "outputs[0].facets.dataQualityMetrics.columnMetrics.age.distinctCount must be between 0 and "
     "9223372036854775807"},
    {mf_ingest_from_openlineage, OL("{'columnMetrics':{'age':{'max':'old'}}}"),
     "outputs[0].facets.dataQualityMetrics.columnMetrics.age.max must be a number"},
};

static void test_invalid_bodies(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(bad_rows); i++) {
        mf_json_err_t err;
        json_t *ev = mf_t_decode(bad_rows[i].decoder, mf_t_jq(bad_rows[i].body), &err);
        if (ev != NULL)
            MF_CHECK_STR(bad_rows[i].body, "(accepted)", bad_rows[i].message);
        else
            MF_CHECK_STR(bad_rows[i].body, err.msg, bad_rows[i].message);
        json_decref(ev);
    }
}

/* 100 columns of 100 samples (10000) are taken; one more sample in another column is not. */
static void test_sample_total(void **state)
{
    for (int extra = 0; extra <= 1; extra++) {
        json_t *cols = json_object();
        for (int i = 0; i < 100 + extra; i++) {
            char name[16];
            snprintf(name, sizeof(name), "c%d", i);
            json_t *samples = json_array();
            for (int k = 0; k < (i < 100 ? 100 : 1); k++)
                json_array_append_new(samples, json_string("x"));
            json_object_set_new(cols, name, json_pack("{s:o}", "samples", samples));
        }
        json_t *body = json_pack("{s:{s:s},s:{s:o}}", "dataset", "name", "users", "profile", "columns", cols);
        mf_json_err_t err;
        json_t *ev = mf_t_decode(mf_ingest_from_emit, body, &err);
        MF_CHECK_STR(extra ? "10001 samples" : "10000 samples", ev != NULL ? "(accepted)" : err.msg,
                     extra ? "profile has too many samples (10001; at most 10000 in all its columns)" : "(accepted)");
        json_decref(ev);
    }
}

/* 100 samples of 256 bytes are taken; one more sample, or one more byte, is not. */
static void test_sample_bounds(void **state)
{
    static const struct {
        size_t count, bytes;
        const char *message; /* NULL: accepted */
    } rows[] = {
        {100, 256, NULL},
        {101, 1, "profile.columns.email.samples has too many elements (at most 100)"},
        {1, 257, "profile.columns.email.samples[0] must be a string of at most 256 bytes"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char label[64];
        snprintf(label, sizeof(label), "%zu samples of %zu bytes", rows[i].count, rows[i].bytes);
        char *sample = mf_t_repeat('s', rows[i].bytes);
        json_t *samples = json_array();
        for (size_t k = 0; k < rows[i].count; k++)
            json_array_append_new(samples, json_string(sample));
        free(sample);
        json_t *body = mf_t_jq("{'dataset':{'name':'users'},'profile':{'columns':{'email':{}}}}");
        json_object_set_new(json_object_get(json_object_get(json_object_get(body, "profile"), "columns"), "email"),
                            "samples", samples);
        mf_json_err_t err;
        json_t *ev = mf_t_decode(mf_ingest_from_emit, body, &err);
        MF_CHECK_STR(label, ev != NULL ? "(accepted)" : err.msg, rows[i].message ? rows[i].message : "(accepted)");
        json_decref(ev);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emit_profiles),
        cmocka_unit_test(test_openlineage_profiles),
        cmocka_unit_test(test_invalid_bodies),
        cmocka_unit_test(test_sample_bounds),
        cmocka_unit_test(test_sample_total),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
