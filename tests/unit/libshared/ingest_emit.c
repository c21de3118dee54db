/*
 * Unit tests of libshared/src/ingest_emit.c, mf_ingest_from_emit (the decoder
 * behind POST /api/v1/emit): one table of valid bodies with the whole ingest
 * event each must produce (a dataset alone, column lineage grouped into one
 * entry per source dataset, a run with its job given as a name, as an object
 * or defaulting to the dataset, its state, times, inputs and the job handed
 * to the lineage entries); the run members the decoder makes up (a random
 * run_id, event_time now); one table of invalid bodies with the exact
 * message (top-level members, the dataset's own errors prefixed "dataset.",
 * column_lineage items, run members); and the length limits.
 *
 * Literals are written with ' for " (jq below) so the bodies stay readable.
 */
#include "../unit.h"
#include "mf/catalog.h"
#include "mf/ingest.h"
#include "mf/util.h"

static json_t *jq(const char *text) { return mf_t_jq(text); }

static json_t *decode(json_t *body, mf_json_err_t *err) { return mf_t_decode(mf_ingest_from_emit, body, err); }

/* Decode a jq literal; a refusal fails the test with the message. */
static json_t *decode_ok(const char *label, const char *text)
{
    mf_json_err_t err;
    json_t *ev = decode(jq(text), &err);
    if (ev == NULL)
        MF_CHECK_STR(label, err.msg, "(accepted)");
    return ev;
}

#define RID "3b452093-782c-4ef2-9c0c-aafe2aa6f34d"
#define T_ORDERS "{'namespace':'sales','name':'orders'}"
#define D_ORDERS "{'namespace':'default','name':'orders'}"
#define D_RAW "{'namespace':'default','name':'raw'}"
#define FX_RATES "{'namespace':'fx','name':'rates'}"
#define J_AIRFLOW "{'namespace':'airflow','name':'dag.load'}"
/* one column of a lineage entry as the decoder writes it */
#define COL(sf, tf) "{'source_field':'" sf "','target_field':'" tf "','transformation':'','expression':''}"

/* ---------- valid bodies ---------- */

typedef struct {
    const char *what;
    const char *body;
    const char *want; /* the whole ingest event */
} good_row_t;

static const good_row_t good_rows[] = {
    /* the dataset */
    {"dataset only: the change set, nothing else",
     "{'dataset':{'name':'orders','namespace':'sales','tags':['pii'],'fields':[{'name':'id','type':'bigint'}]}}",
     "{'source':'emit','datasets':[{'namespace':'sales','name':'orders','tags':['pii'],"
     "'fields':[{'name':'id','type':'bigint','nullable':true,'description':'','tags':[]}]}]}"},
    {"namespace defaults; column_lineage and run null are not given",
     "{'dataset':{'name':'orders'},'column_lineage':null,'run':null}",
     "{'source':'emit','datasets':[" D_ORDERS "]}"},
    {"dataset members pass through as the catalog decodes them",
     "{'dataset':{'name':'orders','namespace':'sales','path':'s3://lake/orders','format':'parquet',"
     "'description':'Orders.\\nOne row per line.','domain':null,'owner':'team-orders','upstream':['raw'],"
     "'operational':{'row_count':10,'partition_keys':['dt']}}}",
     "{'source':'emit','datasets':[{'namespace':'sales','name':'orders','path':'s3://lake/orders',"
     "'format':'parquet','description':'Orders.\\nOne row per line.','domain':null,'owner':'team-orders',"
     "'upstream':[" D_RAW "],'operational':{'row_count':10,'partition_keys':['dt']}}]}"},
    /* column lineage */
    {"empty column_lineage: an empty lineage list", "{'dataset':{'name':'orders'},'column_lineage':[]}",
     "{'source':'emit','datasets':[" D_ORDERS "],'lineage':[]}"},
    {"column lineage grouped by source dataset, in order of first appearance, without a job",
     "{'dataset':{'name':'orders','namespace':'sales'},'column_lineage':["
     "{'source':'raw','source_field':'id','target_field':'order_id'},"
     "{'source':{'namespace':'crm','name':'customers'},'source_field':'name','target_field':'customer_name',"
     "'transformation':'IDENTITY','expression':'upper(name)'},"
     "{'source':{'name':'raw'},'source_field':'amt','target_field':'amount','transformation':null,"
     "'expression':null},"
     "{'source':{'namespace':'sales','name':'raw'},'source_field':'x','target_field':'y'},"
     "{'source':'orders','source_field':'a','target_field':'b'},"
     "{'source':{'namespace':'crm','name':'customers'},'source_field':'id','target_field':'customer_id'}]}",
     "{'source':'emit','datasets':[" T_ORDERS "],'lineage':["
     "{'source':" D_RAW ",'target':" T_ORDERS ",'job':null,'columns':[" COL("id", "order_id") "," COL(
         "amt", "amount") "]},"
     "{'source':{'namespace':'crm','name':'customers'},'target':" T_ORDERS ",'job':null,'columns':["
     "{'source_field':'name','target_field':'customer_name','transformation':'IDENTITY','expression':'upper(name)'},"
     COL("id", "customer_id") "]},"
     "{'source':{'namespace':'sales','name':'raw'},'target':" T_ORDERS ",'job':null,'columns':[" COL("x", "y") "]},"
     "{'source':" D_ORDERS ",'target':" T_ORDERS ",'job':null,'columns':[" COL("a", "b") "]}]}"},
    {"multi-line expression, UTF-8 field names",
     "{'dataset':{'name':'orders'},'column_lineage':[{'source':'raw','source_field':'pr\\u00eds',"
     "'target_field':'price','transformation':'','expression':'CASE\\n  WHEN x\\tTHEN 1\\r\\nEND'}]}",
     "{'source':'emit','datasets':[" D_ORDERS "],'lineage':[{'source':" D_RAW ",'target':" D_ORDERS ",'job':null,"
     "'columns':[{'source_field':'pr\\u00eds','target_field':'price','transformation':'',"
     "'expression':'CASE\\n  WHEN x\\tTHEN 1\\r\\nEND'}]}]}"},
    /* run */
    {"run: job as a name, times carried, event_time is ended_at, inputs are the upstream",
     "{'dataset':{'name':'orders','namespace':'sales','upstream':['raw',{'namespace':'crm','name':'customers'}]},"
     "'run':{'run_id':'" RID "','job':'nightly','state':'COMPLETE','started_at':'2026-11-27T01:00:00Z',"
     "'ended_at':'2026-11-27T02:05:00.5+01:00'}}",
     "{'source':'emit','datasets':[{'namespace':'sales','name':'orders','upstream':[" D_RAW ","
     "{'namespace':'crm','name':'customers'}]}],'job':{'namespace':'default','name':'nightly'},"
     "'run':{'run_id':'" RID "','state':'COMPLETE','event_time':'2026-11-27T02:05:00.5+01:00',"
     "'started_at':'2026-11-27T01:00:00Z','ended_at':'2026-11-27T02:05:00.5+01:00',"
     "'inputs':[" D_RAW ",{'namespace':'crm','name':'customers'}],'outputs':[" T_ORDERS "],'facets':{}}}"},
    {"run: job as an object; lineage entries get the job; inputs are upstream then lineage sources, once each",
     "{'dataset':{'name':'orders','namespace':'sales','upstream':['raw']},'column_lineage':["
     "{'source':'raw','source_field':'id','target_field':'id'},"
     "{'source':" FX_RATES ",'source_field':'rate','target_field':'rate'},"
     "{'source':" D_RAW ",'source_field':'amt','target_field':'amount'},"
     "{'source':" FX_RATES ",'source_field':'ccy','target_field':'currency'}],"
     "'run':{'run_id':'" RID "','job':" J_AIRFLOW ",'state':'RUNNING','started_at':'2026-11-27T01:00:00Z'}}",
     "{'source':'emit','datasets':[{'namespace':'sales','name':'orders','upstream':[" D_RAW "]}],'lineage':["
     "{'source':" D_RAW ",'target':" T_ORDERS ",'job':" J_AIRFLOW ",'columns':[" COL("id", "id") "," COL(
         "amt", "amount") "]},"
     "{'source':" FX_RATES ",'target':" T_ORDERS ",'job':" J_AIRFLOW ",'columns':[" COL("rate", "rate") "," COL(
         "ccy", "currency") "]}],"
     "'job':" J_AIRFLOW ",'run':{'run_id':'" RID "','state':'RUNNING','event_time':'2026-11-27T01:00:00Z',"
     "'started_at':'2026-11-27T01:00:00Z','inputs':[" D_RAW "," FX_RATES "],'outputs':[" T_ORDERS "],"
     "'facets':{}}}"},
    {"run: lineage sources alone make the inputs",
     "{'dataset':{'name':'orders'},'column_lineage':[{'source':" FX_RATES ",'source_field':'r','target_field':'r'},"
     "{'source':'raw','source_field':'id','target_field':'id'}],'run':{'run_id':'" RID "','job':'j',"
     "'started_at':'2026-11-27T01:00:00Z'}}",
     "{'source':'emit','datasets':[" D_ORDERS "],'lineage':["
     "{'source':" FX_RATES ",'target':" D_ORDERS ",'job':{'namespace':'default','name':'j'},'columns':[" COL(
         "r", "r") "]},"
     "{'source':" D_RAW ",'target':" D_ORDERS ",'job':{'namespace':'default','name':'j'},'columns':[" COL(
         "id", "id") "]}],"
     "'job':{'namespace':'default','name':'j'},'run':{'run_id':'" RID "','state':'OTHER',"
     "'event_time':'2026-11-27T01:00:00Z','started_at':'2026-11-27T01:00:00Z','inputs':[" FX_RATES "," D_RAW "],"
     "'outputs':[" D_ORDERS "],'facets':{}}}"},
    {"run: job object without namespace is in default; no state and no end is OTHER at started_at",
     "{'dataset':{'name':'orders'},'run':{'run_id':'" RID "','job':{'name':'j'},"
     "'started_at':'2026-11-27T01:00:00Z'}}",
     "{'source':'emit','datasets':[" D_ORDERS "],'job':{'namespace':'default','name':'j'},"
     "'run':{'run_id':'" RID "','state':'OTHER','event_time':'2026-11-27T01:00:00Z',"
     "'started_at':'2026-11-27T01:00:00Z','inputs':[],'outputs':[" D_ORDERS "],'facets':{}}}"},
    {"run: default job is the dataset; an end without a state is COMPLETE; error_message kept",
     "{'dataset':{'name':'orders','namespace':'sales'},'run':{'run_id':'" RID "','ended_at':'2026-11-27T01:05:00Z',"
     "'error_message':'line 1\\nline 2\\ttab'}}",
     "{'source':'emit','datasets':[" T_ORDERS "],'job':" T_ORDERS ","
     "'run':{'run_id':'" RID "','state':'COMPLETE','event_time':'2026-11-27T01:05:00Z',"
     "'ended_at':'2026-11-27T01:05:00Z','error_message':'line 1\\nline 2\\ttab','inputs':[],"
     "'outputs':[" T_ORDERS "],'facets':{}}}"},
    {"run: a given state wins over the end",
     "{'dataset':{'name':'orders'},'run':{'run_id':'" RID "','state':'FAIL','started_at':'2026-11-27T01:00:00Z',"
     "'ended_at':'2026-11-27T01:05:00Z','error_message':'disk full'}}",
     "{'source':'emit','datasets':[" D_ORDERS "],'job':" D_ORDERS ","
     "'run':{'run_id':'" RID "','state':'FAIL','event_time':'2026-11-27T01:05:00Z',"
     "'started_at':'2026-11-27T01:00:00Z','ended_at':'2026-11-27T01:05:00Z','error_message':'disk full',"
     "'inputs':[],'outputs':[" D_ORDERS "],'facets':{}}}"},
    {"run: null members are not given",
     "{'dataset':{'name':'orders'},'run':{'run_id':'" RID "','state':null,'started_at':'2026-11-27T01:00:00Z',"
     "'ended_at':null,'error_message':null}}",
     "{'source':'emit','datasets':[" D_ORDERS "],'job':" D_ORDERS ","
     "'run':{'run_id':'" RID "','state':'OTHER','event_time':'2026-11-27T01:00:00Z',"
     "'started_at':'2026-11-27T01:00:00Z','inputs':[],'outputs':[" D_ORDERS "],'facets':{}}}"},
    {"run: run_id in capitals kept as given; lower-case t and z, leap day, second 60",
     "{'dataset':{'name':'orders'},'run':{'run_id':'3B452093-782C-4EF2-9C0C-AAFE2AA6F34D',"
     "'started_at':'2024-02-29t23:59:60z','ended_at':'2024-03-01T00:00:00.000000001-00:00'}}",
     "{'source':'emit','datasets':[" D_ORDERS "],'job':" D_ORDERS ","
     "'run':{'run_id':'3B452093-782C-4EF2-9C0C-AAFE2AA6F34D','state':'COMPLETE',"
     "'event_time':'2024-03-01T00:00:00.000000001-00:00','started_at':'2024-02-29t23:59:60z',"
     "'ended_at':'2024-03-01T00:00:00.000000001-00:00','inputs':[],'outputs':[" D_ORDERS "],'facets':{}}}"},
};

static void test_valid_bodies(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(good_rows); i++) {
        const good_row_t *r = &good_rows[i];
        char label[160];
        snprintf(label, sizeof(label), "row %zu, %s", i, r->what);
        json_t *ev = decode_ok(label, r->body);
        json_t *want = jq(r->want);
        MF_CHECK_JSON(label, ev, want);
        json_decref(want);
        json_decref(ev);
    }
}

/* Every run state is accepted and kept as given. */
static void test_run_states(void **state)
{
    static const char *const states[] = {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"};
    for (size_t i = 0; i < MF_T_ROWS(states); i++) {
        char body[256], label[64];
        snprintf(body, sizeof(body),
                 "{'dataset':{'name':'orders'},'run':{'run_id':'" RID "','state':'%s',"
                 "'ended_at':'2026-11-27T01:05:00Z'}}",
                 states[i]);
        snprintf(label, sizeof(label), "state %s", states[i]);
        json_t *ev = decode_ok(label, body);
        MF_CHECK_STR(label, json_string_value(json_object_get(json_object_get(ev, "run"), "state")), states[i]);
        json_decref(ev);
    }
}

/* Without run_id and times the decoder makes them up: a fresh UUID v4, event_time now. */
static void test_run_defaults(void **state)
{
    static const struct {
        const char *what;
        const char *body;
        const char *want; /* the event without run.run_id and run.event_time */
    } rows[] = {
        {"empty run", "{'dataset':{'name':'orders','namespace':'sales'},'run':{}}",
         "{'source':'emit','datasets':[" T_ORDERS "],'job':" T_ORDERS ","
         "'run':{'state':'OTHER','inputs':[],'outputs':[" T_ORDERS "],'facets':{}}}"},
        {"run of nulls", "{'dataset':{'name':'orders'},'run':{'run_id':null,'state':null,'started_at':null,"
                         "'ended_at':null,'error_message':null}}",
         "{'source':'emit','datasets':[" D_ORDERS "],'job':" D_ORDERS ","
         "'run':{'state':'OTHER','inputs':[],'outputs':[" D_ORDERS "],'facets':{}}}"},
        {"state without times", "{'dataset':{'name':'orders'},'run':{'state':'START','job':'j'}}",
         "{'source':'emit','datasets':[" D_ORDERS "],'job':{'namespace':'default','name':'j'},"
         "'run':{'state':'START','inputs':[],'outputs':[" D_ORDERS "],'facets':{}}}"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char label[96], now[32];
        snprintf(label, sizeof(label), "row %zu, %s", i, rows[i].what);
        mf_time_rfc3339(now);
        json_t *ev = decode_ok(label, rows[i].body), *run = json_object_get(ev, "run");
        const char *id = json_string_value(json_object_get(run, "run_id"));
        const char *when = json_string_value(json_object_get(run, "event_time"));
        MF_CHECK_INT(label, id != NULL && mf_is_uuid(id, strlen(id)), 1);
        MF_CHECK_INT(label, id != NULL && id[14] == '4', 1); /* version 4 */
        MF_CHECK_INT(label, when != NULL && mf_time_is_rfc3339(when), 1);
        /* same date and hour as just before (allowing for the hour turning) */
        if (when != NULL && strncmp(when, now, 13) != 0) {
            char later[32];
            mf_time_rfc3339(later);
            MF_CHECK_STR(label, when, later);
        }
        json_object_del(run, "run_id");
        json_object_del(run, "event_time");
        json_t *want = jq(rows[i].want);
        MF_CHECK_JSON(label, ev, want);
        json_decref(want);
        json_decref(ev);
    }
    /* two decodings, two runs */
    json_t *a = decode_ok("first", "{'dataset':{'name':'orders'},'run':{}}");
    json_t *b = decode_ok("second", "{'dataset':{'name':'orders'},'run':{}}");
    const char *ia = json_string_value(json_object_get(json_object_get(a, "run"), "run_id"));
    const char *ib = json_string_value(json_object_get(json_object_get(b, "run"), "run_id"));
    MF_CHECK_INT("two bodies without run_id get different run ids", ia && ib && strcmp(ia, ib) != 0, 1);
    json_decref(a);
    json_decref(b);
}

/* The run's inputs name each dataset once, however often the body names it. */
static void test_run_inputs_without_duplicates(void **state)
{
    static const struct {
        const char *what;
        const char *body;
        const char *want; /* run.inputs */
    } rows[] = {
        {"upstream and lineage source name the same dataset",
         "{'dataset':{'name':'orders','upstream':['raw',{'namespace':'fx','name':'rates'}]},'column_lineage':["
         "{'source':" FX_RATES ",'source_field':'a','target_field':'a'},"
         "{'source':{'name':'raw'},'source_field':'b','target_field':'b'}],'run':{'run_id':'" RID "'}}",
         "[" D_RAW "," FX_RATES "]"},
        {"upstream repeated as name and object",
         "{'dataset':{'name':'orders','upstream':['raw',{'name':'raw'},{'namespace':'default','name':'raw'}]},"
         "'run':{'run_id':'" RID "'}}",
         "[" D_RAW "]"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char label[96];
        snprintf(label, sizeof(label), "row %zu, %s", i, rows[i].what);
        /* compared as text after freeing, so that a failure leaks nothing under the sanitizers */
        char got[512] = "(none)", want[512];
        json_t *ev = decode_ok(label, rows[i].body), *w = jq(rows[i].want);
        json_t *inputs = json_object_get(json_object_get(ev, "run"), "inputs");
        size_t n = inputs ? json_dumpb(inputs, got, sizeof(got) - 1, JSON_COMPACT | JSON_SORT_KEYS) : 6;
        got[n < sizeof(got) ? n : sizeof(got) - 1] = '\0';
        n = json_dumpb(w, want, sizeof(want) - 1, JSON_COMPACT | JSON_SORT_KEYS);
        want[n < sizeof(want) ? n : sizeof(want) - 1] = '\0';
        json_decref(w);
        json_decref(ev);
        MF_CHECK_STR(label, got, want);
    }
}

/* ---------- invalid bodies ---------- */

typedef struct {
    const char *body;
    const char *message;
} bad_row_t;

#define REF_MSG(where) where " must be a dataset name or {\"namespace\",\"name\"}"
#define NAME_MSG(where) where " must be a name of 1-512 printable characters"
#define DATES_MSG "run.started_at and run.ended_at must be RFC 3339 timestamps"
#define STATE_MSG "run.state must be one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER"
#define DS "'dataset':{'name':'orders'}"
/* a body with the dataset orders and one column_lineage item */
#define CL(item) "{" DS ",'column_lineage':[" item "]}"
/* a body with the dataset orders and this run */
#define RUN(members) "{" DS ",'run':{" members "}}"

static const bad_row_t bad_rows[] = {
    /* top level */
    {"{}", "dataset is required"},
    {"{'dataset':null}", "dataset is required"},
    {"{'dataset':'orders'}", "dataset must be an object"},
    {"{'dataset':[]}", "dataset must be an object"},
    {"{'dataset':5}", "dataset must be an object"},
    {"{" DS ",'colour':'red'}", "unknown field \"colour\""},
    {"{'colour':'red'}", "unknown field \"colour\""},
    {"{'Dataset':{'name':'orders'}}", "unknown field \"Dataset\""},
    {"{" DS ",'lineage':[]}", "unknown field \"lineage\""},
    {"{" DS ",'job':'j'}", "unknown field \"job\""},
    {"{" DS ",'column_lineage':{}}", "column_lineage must be an array"},
    {"{" DS ",'column_lineage':'raw'}", "column_lineage must be an array"},
    {"{" DS ",'run':'r'}", "run must be an object"},
    {"{" DS ",'run':[]}", "run must be an object"},
    {"{" DS ",'run':true}", "run must be an object"},
    /* inside the dataset: the catalog's messages, prefixed */
    {"{'dataset':{}}", "dataset.name is required"},
    {"{'dataset':{'name':''}}", "dataset.name must not be empty"},
    {"{'dataset':{'name':5}}", "dataset.name must be a string"},
    {"{'dataset':{'name':'orders','namespace':''}}", "dataset.namespace must not be empty"},
    {"{'dataset':{'name':'orders','colour':'red'}}", "unknown field \"colour\" in dataset"},
    {"{'dataset':{'name':'orders','fields':[{'name':'a'}]}}", "dataset.fields[0].type is required"},
    {"{'dataset':{'name':'orders','fields':[{'name':'a','type':5}]}}", "dataset.fields[0].type must be a string"},
    {"{'dataset':{'name':'orders','fields':[{'name':'id','type':'t'},{'name':'id','type':'t'}]}}",
     "dataset.fields[1].name \"id\" is a duplicate"},
    {"{'dataset':{'name':'orders','tags':['ok','not ok']}}",
     "dataset.tags[1] must be a tag: 1-128 characters of letters, digits and _.:/-"},
    {"{'dataset':{'name':'orders','upstream':['orders']}}", "dataset.upstream[0] must not be the dataset itself"},
    {"{'dataset':{'name':'orders','upstream':[5]}}", REF_MSG("dataset.upstream[0]")},
    {"{'dataset':{'name':'orders','operational':{'row_count':-1}}}",
     "dataset.operational.row_count must be between 0 and 9223372036854775807"},
    {"{'dataset':{'name':'orders','description':'a\\u0001'}}",
     "dataset.description contains control characters or invalid UTF-8"},
    /* the whole body is checked at the top before the dataset is decoded */
    {"{'dataset':{},'run':5}", "run must be an object"},
    /* column_lineage items */
    {CL("1"), "column_lineage[0] must be an object"},
    {CL("null"), "column_lineage[0] must be an object"},
    {CL("['raw']"), "column_lineage[0] must be an object"},
    {CL("{'source':'raw','source_field':'a','target_field':'b'},'raw'"), "column_lineage[1] must be an object"},
    {CL("{'source':'raw','source_field':'a','target_field':'b','target':'orders'}"),
     "unknown field \"target\" in column_lineage[0]"},
    {CL("{'source':'raw','target_field':'b'}"), "column_lineage[0].source_field is required"},
    {CL("{'source':'raw','source_field':null,'target_field':'b'}"), "column_lineage[0].source_field is required"},
    {CL("{'source':'raw','source_field':'','target_field':'b'}"), "column_lineage[0].source_field must not be empty"},
    {CL("{'source':'raw','source_field':5,'target_field':'b'}"), "column_lineage[0].source_field must be a string"},
    {CL("{'source':'raw','source_field':'a\\nb','target_field':'b'}"),
     "column_lineage[0].source_field contains control characters or invalid UTF-8"},
    {CL("{'source':'raw','source_field':'a'}"), "column_lineage[0].target_field is required"},
    {CL("{'source':'raw','source_field':'a','target_field':''}"), "column_lineage[0].target_field must not be empty"},
    {CL("{'source':'raw','source_field':'a','target_field':['b']}"),
     "column_lineage[0].target_field must be a string"},
    {CL("{'source_field':'a','target_field':'b'}"), "column_lineage[0].source is required"},
    {CL("{'source':'raw','source_field':'a','target_field':'b'},{'source_field':'a','target_field':'b'}"),
     "column_lineage[1].source is required"},
    {CL("{'source':null,'source_field':'a','target_field':'b'}"), REF_MSG("column_lineage[0].source")},
    {CL("{'source':5,'source_field':'a','target_field':'b'}"), REF_MSG("column_lineage[0].source")},
    {CL("{'source':['raw'],'source_field':'a','target_field':'b'}"), REF_MSG("column_lineage[0].source")},
    {CL("{'source':'','source_field':'a','target_field':'b'}"), NAME_MSG("column_lineage[0].source")},
    {CL("{'source':'r\\u0001','source_field':'a','target_field':'b'}"), NAME_MSG("column_lineage[0].source")},
    {CL("{'source':{'namespace':'x'},'source_field':'a','target_field':'b'}"),
     "column_lineage[0].source.name is required"},
    {CL("{'source':{'name':''},'source_field':'a','target_field':'b'}"),
     "column_lineage[0].source.name must not be empty"},
    {CL("{'source':{'name':'raw','namespace':''},'source_field':'a','target_field':'b'}"),
     "column_lineage[0].source.namespace must not be empty"},
    {CL("{'source':{'name':'raw','db':'x'},'source_field':'a','target_field':'b'}"),
     "unknown field \"db\" in column_lineage[0].source"},
    {CL("{'source':'raw','source_field':'a','target_field':'b','transformation':1}"),
     "column_lineage[0].transformation must be a string"},
    {CL("{'source':'raw','source_field':'a','target_field':'b','transformation':'a\\nb'}"),
     "column_lineage[0].transformation contains control characters or invalid UTF-8"},
    {CL("{'source':'raw','source_field':'a','target_field':'b','expression':{}}"),
     "column_lineage[0].expression must be a string"},
    {CL("{'source':'raw','source_field':'a','target_field':'b','expression':'x\\u0001'}"),
     "column_lineage[0].expression contains control characters or invalid UTF-8"},
    /* the field checks come before the source */
    {CL("{'source':5}"), "column_lineage[0].source_field is required"},
    /* self reference */
    {CL("{'source':'orders','source_field':'a','target_field':'b'}"),
     "column_lineage[0].source must not be the emitted dataset itself"},
    {"{'dataset':{'name':'orders','namespace':'sales'},'column_lineage':["
     "{'source':'orders','source_field':'a','target_field':'b'},"
     "{'source':{'namespace':'sales','name':'orders'},'source_field':'a','target_field':'b'}]}",
     "column_lineage[1].source must not be the emitted dataset itself"},
    {CL("{'source':{'name':'orders'},'source_field':'a','target_field':'a'}"),
     "column_lineage[0].source must not be the emitted dataset itself"},
    /* run: unknown members */
    {RUN("'colour':1"), "unknown field \"colour\" in run"},
    {RUN("'runId':'" RID "'"), "unknown field \"runId\" in run"},
    {RUN("'inputs':[]"), "unknown field \"inputs\" in run"},
    /* run_id */
    {RUN("'run_id':'not-a-uuid'"), "run.run_id is too short"},
    {RUN("'run_id':''"), "run.run_id is too short"},
    {RUN("'run_id':'3b452093782c4ef29c0caafe2aa6f34d'"), "run.run_id is too short"},
    {RUN("'run_id':'{" RID "}'"), "run.run_id is too long (at most 36 characters)"},
    {RUN("'run_id':'" RID "0'"), "run.run_id is too long (at most 36 characters)"},
    {RUN("'run_id':'3b452093-782c-4ef2-9c0c-aafe2aa6f34g'"), "run.run_id must be a UUID"},
    {RUN("'run_id':'3b452093+782c+4ef2+9c0c+aafe2aa6f34d'"), "run.run_id must be a UUID"},
    {RUN("'run_id':'3b452093-782c-4ef2-9c0c-aafe2aa6f34 '"), "run.run_id must be a UUID"},
    {RUN("'run_id':'------------------------------------'"), "run.run_id must be a UUID"},
    {RUN("'run_id':5"), "run.run_id must be a string"},
    /* state */
    {RUN("'state':'DONE'"), STATE_MSG},
    {RUN("'state':'complete'"), STATE_MSG},
    {RUN("'state':'COMPLETE '"), STATE_MSG},
    {RUN("'state':'STARTED'"), STATE_MSG},
    {RUN("'state':''"), "run.state must not be empty"},
    {RUN("'state':1"), "run.state must be a string"},
    {RUN("'state':'COMPLETED_SUCCESSFULLY'"), "run.state is too long (at most 16 characters)"},
    /* dates */
    {RUN("'started_at':'2026-02-30T00:00:00Z'"), DATES_MSG},
    {RUN("'ended_at':'2026-02-30T00:00:00Z'"), DATES_MSG},
    {RUN("'started_at':'2026-02-29T00:00:00Z'"), DATES_MSG},
    {RUN("'started_at':'2026-04-31T00:00:00Z'"), DATES_MSG},
    {RUN("'started_at':'2026-13-01T00:00:00Z'"), DATES_MSG},
    {RUN("'started_at':'2026-11-27T24:00:00Z'"), DATES_MSG},
    {RUN("'started_at':'2026-11-27T01:60:00Z'"), DATES_MSG},
    {RUN("'started_at':'2026-11-27T01:00:00'"), DATES_MSG},
    {RUN("'started_at':'2026-11-27'"), DATES_MSG},
    {RUN("'started_at':'2026-11-27 01:00:00+0100'"), DATES_MSG},
    {RUN("'started_at':'2026-11-27T01:00:00Z','ended_at':'tomorrow at 9'"), DATES_MSG},
    {RUN("'started_at':'yesterday'"), "run.started_at is too short"},
    {RUN("'ended_at':''"), "run.ended_at is too short"},
    {RUN("'started_at':5"), "run.started_at must be a string"},
    {RUN("'ended_at':1764205200"), "run.ended_at must be a string"},
    {RUN("'started_at':'2026-11-27T01:00:00.0000000000000000000001Z'"),
     "run.started_at is too long (at most 40 characters)"},
    /* job */
    {RUN("'job':5"), REF_MSG("run.job")},
    {RUN("'job':null"), REF_MSG("run.job")},
    {RUN("'job':['j']"), REF_MSG("run.job")},
    {RUN("'job':''"), NAME_MSG("run.job")},
    {RUN("'job':{'namespace':'airflow'}"), "run.job.name is required"},
    {RUN("'job':{'name':'j','namespace':null}"), "run.job.namespace must not be null"},
    {RUN("'job':{'name':'j','owner':'x'}"), "unknown field \"owner\" in run.job"},
    /* error_message */
    {RUN("'error_message':5"), "run.error_message must be a string"},
    {RUN("'error_message':'a\\u0007'"), "run.error_message contains control characters or invalid UTF-8"},
    /* column lineage is decoded before the run */
    {"{" DS ",'column_lineage':[1],'run':{'state':'DONE'}}", "column_lineage[0] must be an object"},
};

static void test_invalid_bodies(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(bad_rows); i++) {
        const bad_row_t *r = &bad_rows[i];
        mf_json_err_t err;
        char label[400], shown[300];
        snprintf(label, sizeof(label), "row %zu: body %s", i,
                 mf_t_show(shown, sizeof(shown), r->body, strlen(r->body)));
        json_t *ev = decode(jq(r->body), &err);
        if (ev != NULL) {
            json_decref(ev);
            MF_CHECK_STR(label, "(accepted)", r->message);
        }
        MF_CHECK_STR(label, err.msg, r->message);
    }
}

/*
 * An unknown member deeper in the dataset is named by its path from the top,
 * like every other error inside the dataset ("dataset.fields[0].type ...").
 */
static void test_unknown_field_inside_dataset(void **state)
{
    static const bad_row_t rows[] = {
        {"{'dataset':{'name':'orders','fields':[{'name':'a','type':'t','extra':1}]}}",
         "unknown field \"extra\" in dataset.fields[0]"},
        {"{'dataset':{'name':'orders','operational':{'rows':1}}}", "unknown field \"rows\" in dataset.operational"},
        {"{'dataset':{'name':'orders','upstream':['raw',{'name':'b','db':'x'}]}}",
         "unknown field \"db\" in dataset.upstream[1]"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        mf_json_err_t err;
        char label[300], shown[200];
        snprintf(label, sizeof(label), "row %zu: body %s", i,
                 mf_t_show(shown, sizeof(shown), rows[i].body, strlen(rows[i].body)));
        json_t *ev = decode(jq(rows[i].body), &err);
        if (ev != NULL) {
            json_decref(ev);
            MF_CHECK_STR(label, "(accepted)", rows[i].message);
        }
        MF_CHECK_STR(label, err.msg, rows[i].message);
    }
}

/* ---------- limits ---------- */

/* {"dataset":{"name":"orders"},"column_lineage":[item]} with item[key] = n copies of 'x'. */
static json_t *lineage_with(const char *key, size_t n)
{
    json_t *body = jq(CL("{'source':'raw','source_field':'a','target_field':'b'}"));
    char *s = mf_t_repeat('x', n);
    json_object_set_new(json_array_get(json_object_get(body, "column_lineage"), 0), key, json_string(s));
    free(s);
    return body;
}

/* {"dataset":{"name":"orders"},"run":{key: n copies of 'x'}}. */
static json_t *run_with(const char *key, size_t n)
{
    json_t *body = jq(RUN(""));
    char *s = mf_t_repeat('x', n);
    json_object_set_new(json_object_get(body, "run"), key, json_string(s));
    free(s);
    return body;
}

static void test_length_bounds(void **state)
{
    static const struct {
        const char *key;
        int in_run; /* 0: a column_lineage item member */
        size_t max;
        const char *message; /* for max + 1 */
    } rows[] = {
        {"source_field", 0, 512, "column_lineage[0].source_field is too long (at most 512 characters)"},
        {"target_field", 0, 512, "column_lineage[0].target_field is too long (at most 512 characters)"},
        {"transformation", 0, 128, "column_lineage[0].transformation is too long (at most 128 characters)"},
        {"expression", 0, 65536, "column_lineage[0].expression is too long (at most 65536 characters)"},
        {"source", 0, 512, NAME_MSG("column_lineage[0].source")},
        {"job", 1, 512, NAME_MSG("run.job")},
        {"error_message", 1, 65536, "run.error_message is too long (at most 65536 characters)"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        mf_json_err_t err;
        char label[96];
        snprintf(label, sizeof(label), "%s of %zu bytes", rows[i].key, rows[i].max);
        json_t *ev = decode(rows[i].in_run ? run_with(rows[i].key, rows[i].max)
                                           : lineage_with(rows[i].key, rows[i].max),
                            &err);
        if (ev == NULL)
            MF_CHECK_STR(label, err.msg, "(accepted)");
        json_decref(ev);
        snprintf(label, sizeof(label), "%s of %zu bytes", rows[i].key, rows[i].max + 1);
        ev = decode(rows[i].in_run ? run_with(rows[i].key, rows[i].max + 1)
                                   : lineage_with(rows[i].key, rows[i].max + 1),
                    &err);
        if (ev != NULL) {
            json_decref(ev);
            MF_CHECK_STR(label, "(accepted)", rows[i].message);
        }
        MF_CHECK_STR(label, err.msg, rows[i].message);
    }
}

/* At most 10000 column_lineage items; 10000 from one source make one entry of 10000 columns. */
static void test_column_lineage_count(void **state)
{
    for (size_t n = 10000; n <= 10001; n++) {
        json_t *body = jq("{" DS ",'column_lineage':[]}"), *arr = json_object_get(body, "column_lineage");
        for (size_t i = 0; i < n; i++) {
            char f[24];
            snprintf(f, sizeof(f), "c%zu", i);
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "source", "raw", "source_field", f, "target_field",
                                                 f));
        }
        mf_json_err_t err;
        char label[64];
        snprintf(label, sizeof(label), "%zu column_lineage items", n);
        json_t *ev = decode(body, &err);
        if (n == 10000) {
            if (ev == NULL)
                MF_CHECK_STR(label, err.msg, "(accepted)");
            json_t *lineage = json_object_get(ev, "lineage");
            MF_CHECK_INT(label, json_array_size(lineage), 1);
            MF_CHECK_INT(label, json_array_size(json_object_get(json_array_get(lineage, 0), "columns")), 10000);
        } else {
            if (ev != NULL)
                MF_CHECK_STR(label, "(accepted)", "column_lineage has too many elements (at most 10000)");
            MF_CHECK_STR(label, err.msg, "column_lineage has too many elements (at most 10000)");
        }
        json_decref(ev);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_bodies),
        cmocka_unit_test(test_run_states),
        cmocka_unit_test(test_run_defaults),
        cmocka_unit_test(test_run_inputs_without_duplicates),
        cmocka_unit_test(test_invalid_bodies),
        cmocka_unit_test(test_unknown_field_inside_dataset),
        cmocka_unit_test(test_length_bounds),
        cmocka_unit_test(test_column_lineage_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
