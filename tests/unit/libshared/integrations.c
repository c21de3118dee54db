/*
 * Unit tests of libshared/src/integration_*.c and integrations.c: the four
 * import decoders on documents in the tools' own formats, with known answers
 * (a dbt project with a source, a seed, models, tests, an exposure, run
 * results and a catalog; a Great Expectations validation result; an Iceberg
 * v2 metadata.json with two schemas and three snapshots; a Delta log with a
 * schema change), the helpers (tags, derived UUIDs, nested types, times),
 * path mode under a root (links and ".." that lead out are refused), and one
 * table of hostile inputs with the message each must get.
 *
 * Literals are written with ' for " (jq below) so the documents stay readable.
 */
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../unit.h"
#include "mf/catalog.h"
#include "mf/integrations.h"
#include "mf/util.h"

typedef json_t *(*decoder_fn)(json_t *, const mf_integration_opts_t *, mf_json_err_t *);

static json_t *jq(const char *text) { return mf_t_jq(text); }

/* Run decoder on body (stolen) with opts; checks the input is left unchanged. */
static json_t *decode(decoder_fn decoder, json_t *body, const mf_integration_opts_t *opts, mf_json_err_t *err)
{
    strcpy(err->msg, "(untouched)");
    json_t *before = json_deep_copy(body);
    json_t *out = decoder(body, opts, err);
    MF_CHECK_JSON("the decoder must not change its input", body, before);
    json_decref(before);
    json_decref(body);
    return out;
}

static json_t *decode_ok(const char *label, decoder_fn decoder, json_t *body, const mf_integration_opts_t *opts)
{
    mf_json_err_t err;
    json_t *events = decode(decoder, body, opts, &err);
    if (events == NULL)
        MF_CHECK_STR(label, err.msg, "(accepted)");
    MF_CHECK_INT(label, (long long)json_array_size(events), 1);
    return events;
}

/* The change set of dataset `name` in event (the last one when revisions precede it). */
static json_t *dataset(json_t *event, const char *name)
{
    json_t *found = NULL;
    size_t i;
    json_t *cs;
    json_array_foreach(json_object_get(event, "datasets"), i, cs)
    {
        if (strcmp(json_string_value(json_object_get(cs, "name")), name) == 0)
            found = cs;
    }
    if (found == NULL) {
        print_error("no change set for %s\n", name);
        fail();
    }
    return found;
}

static void check_member(const char *label, json_t *obj, const char *key, const char *want_jq)
{
    json_t *want = jq(want_jq);
    MF_CHECK_JSON(label, json_object_get(obj, key), want);
    json_decref(want);
}

/* ---------- dbt ---------- */

#define MANIFEST_META "'metadata':{'dbt_schema_version':'https://schemas.getdbt.com/dbt/manifest/v12.json'," \
                      "'dbt_version':'1.8.2','project_name':'shop','invocation_id':'a3b1c2d4-0000-4000-8000-000000000001'}"

static const char dbt_project[] =
    "{'manifest':{" MANIFEST_META ","
    "'nodes':{"
    "'model.shop.stg_orders':{'resource_type':'model','name':'stg_orders','database':'analytics','schema':'staging',"
    "  'alias':'stg_orders','description':'Orders, cleaned','tags':['staging'],'config':{'materialized':'view','tags':[]},"
    "  'meta':{'owner':'data-eng'},'columns':{'id':{'name':'id','description':'order id','data_type':'bigint','tags':['pk']}},"
    "  'depends_on':{'nodes':['source.shop.raw.orders','macro.dbt.x']},'original_file_path':'models/stg_orders.sql'},"
    "'model.shop.orders':{'resource_type':'model','name':'orders','database':'analytics','schema':'marts',"
    "  'alias':'orders','description':'','tags':['finance','PII data'],'config':{'materialized':'incremental',"
    "  'meta':{'domain':'sales'}},'columns':{},"
    "  'depends_on':{'nodes':['model.shop.stg_orders','seed.shop.countries']}},"
    "'seed.shop.countries':{'resource_type':'seed','name':'countries','database':'analytics','schema':'seeds',"
    "  'alias':'countries','columns':{},'depends_on':{'nodes':[]}},"
    "'test.shop.unique_orders_id.1':{'resource_type':'test','name':'unique_orders_id','attached_node':'model.shop.orders',"
    "  'column_name':'id','test_metadata':{'name':'unique','kwargs':{'column_name':'id'}},'config':{'severity':'ERROR'},"
    "  'depends_on':{'nodes':['model.shop.orders']}},"
    "'test.shop.not_null_orders_amount.2':{'resource_type':'test','name':'not_null_orders_amount',"
    "  'test_metadata':{'name':'not_null','kwargs':{'column_name':'amount'}},"
    "  'depends_on':{'nodes':['model.shop.orders']}},"
    "'operation.shop.hook':{'resource_type':'operation','name':'hook'}},"
    "'sources':{'source.shop.raw.orders':{'resource_type':'source','name':'orders','source_name':'raw',"
    "  'database':'raw','schema':'shop','identifier':'orders_v2','description':'','source_description':'The shop',"
    "  'loader':'fivetran','columns':{}}},"
    "'exposures':{'exposure.shop.revenue':{'resource_type':'exposure','name':'revenue','type':'dashboard',"
    "  'owner':{'name':'Finance','email':'fin@example.com'},'url':'https://bi.example.com/1',"
    "  'depends_on':{'nodes':['model.shop.orders']}}}},"
    "'run_results':{'metadata':{'dbt_schema_version':'https://schemas.getdbt.com/dbt/run-results/v6.json',"
    "  'generated_at':'2026-11-20T10:00:00.5Z','invocation_id':'a3b1c2d4-0000-4000-8000-000000000002'},"
    "  'elapsed_time':12.5,'results':["
    "  {'unique_id':'model.shop.orders','status':'success','failures':null},"
    "  {'unique_id':'test.shop.unique_orders_id.1','status':'pass','failures':0},"
    "  {'unique_id':'test.shop.not_null_orders_amount.2','status':'fail','failures':3,'message':'Got 3 results'}]},"
    "'catalog':{'metadata':{'dbt_schema_version':'https://schemas.getdbt.com/dbt/catalog/v1.json'},"
    "  'nodes':{'model.shop.orders':{'metadata':{'type':'BASE TABLE','comment':'All orders'},"
    "    'columns':{'id':{'type':'bigint','index':1,'name':'id'},'amount':{'type':'numeric','index':2,'name':'amount'}},"
    "    'stats':{'row_count':{'value':1200,'include':true},'bytes':{'value':65536.0,'include':true}}}},"
    "  'sources':{}}}";

static void test_dbt_project(void **state)
{
    mf_integration_opts_t opts = {"warehouse", NULL};
    json_t *events = decode_ok("dbt", mf_integration_from_dbt, jq(dbt_project), &opts);
    json_t *ev = json_array_get(events, 0);
    MF_CHECK_STR("source", json_string_value(json_object_get(ev, "source")), "dbt");
    MF_CHECK_INT("models, seed, source and exposure are datasets; tests and operations are not",
                 (long long)json_array_size(json_object_get(ev, "datasets")), 5);

    json_t *stg = dataset(ev, "analytics.staging.stg_orders");
    check_member("namespace from the options", stg, "namespace", "'warehouse'");
    check_member("a model's materialization is its format", stg, "format", "'view'");
    check_member("meta.owner", stg, "owner", "'data-eng'");
    check_member("columns become fields", stg, "fields",
                 "[{'name':'id','type':'bigint','nullable':true,'description':'order id','tags':['pk']}]");
    check_member("depends_on: datasets only (macros left out)", stg, "upstream",
                 "[{'namespace':'warehouse','name':'raw.shop.orders_v2'}]");
    check_member("dbt facts", json_object_get(stg, "facets"), "dbt",
                 "{'unique_id':'model.shop.stg_orders','resource_type':'model','original_file_path':'models/stg_orders.sql',"
                 "'materialized':'view','meta':{'owner':'data-eng'}}");

    json_t *orders = dataset(ev, "analytics.marts.orders");
    check_member("tags made valid", orders, "tags", "['finance','PII-data']");
    check_member("config.meta.domain", orders, "domain", "'sales'");
    check_member("the warehouse's comment when dbt has none", orders, "description", "'All orders'");
    check_member("catalog columns fill in undocumented ones", orders, "fields",
                 "[{'name':'id','type':'bigint','nullable':true,'description':'','tags':[]},"
                 "{'name':'amount','type':'numeric','nullable':true,'description':'','tags':[]}]");
    check_member("catalog stats", orders, "operational", "{'row_count':1200,'size_bytes':65536}");
    check_member("two upstreams", orders, "upstream",
                 "[{'namespace':'warehouse','name':'analytics.staging.stg_orders'},"
                 "{'namespace':'warehouse','name':'analytics.seeds.countries'}]");
    check_member("test definitions on the tested model", json_object_get(json_object_get(orders, "facets"), "dbt"),
                 "tests",
                 "[{'unique_id':'test.shop.unique_orders_id.1','test':'unique','column':'id','severity':'ERROR'},"
                 "{'unique_id':'test.shop.not_null_orders_amount.2','test':'not_null','column':'amount'}]");

    json_t *src = dataset(ev, "raw.shop.orders_v2");
    check_member("a source's own description, else its source's", src, "description", "'The shop'");
    check_member("format of a source", src, "format", "'source'");
    json_t *exp = dataset(ev, "exposure.shop.revenue");
    check_member("exposure format", exp, "format", "'exposure:dashboard'");
    check_member("exposure owner", exp, "owner", "'fin@example.com'");
    check_member("exposure url", exp, "path", "'https://bi.example.com/1'");
    check_member("exposure lineage", exp, "upstream", "[{'namespace':'warehouse','name':'analytics.marts.orders'}]");

    check_member("the job", ev, "job", "{'namespace':'warehouse','name':'dbt:shop'}");
    check_member("the run: a failed test fails it", ev, "run",
                 "{'run_id':'a3b1c2d4-0000-4000-8000-000000000002','state':'FAIL','event_time':'2026-11-20T10:00:00.5Z',"
                 "'ended_at':'2026-11-20T10:00:00.5Z','inputs':[],"
                 "'outputs':[{'namespace':'warehouse','name':'analytics.marts.orders'}],"
                 "'facets':{'dbt_run':{'elapsed_time':12.5}}}");
    check_member("test outcomes are quality assertions", ev, "quality",
                 "[{'dataset':{'namespace':'warehouse','name':'analytics.marts.orders'},'assertions':["
                 "{'assertion':'unique','success':true,'status':'pass','unique_id':'test.shop.unique_orders_id.1',"
                 "'column':'id','failures':0},"
                 "{'assertion':'not_null','success':false,'status':'fail','unique_id':'test.shop.not_null_orders_amount.2',"
                 "'column':'amount','failures':3,'message':'Got 3 results'}]}]");
    json_decref(events);
}

static void test_dbt_bare_manifest(void **state)
{
    json_t *project = jq(dbt_project);
    json_t *manifest = json_incref(json_object_get(project, "manifest"));
    json_decref(project);
    json_t *events = decode_ok("bare manifest", mf_integration_from_dbt, manifest, NULL);
    json_t *ev = json_array_get(events, 0);
    MF_CHECK_INT("no run without run_results", json_object_get(ev, "run") == NULL, 1);
    MF_CHECK_INT("no quality without run_results", (long long)json_array_size(json_object_get(ev, "quality")), 0);
    check_member("default namespace", dataset(ev, "analytics.marts.orders"), "namespace", "'default'");
    check_member("no types without the catalog", dataset(ev, "analytics.staging.stg_orders"), "fields",
                 "[{'name':'id','type':'bigint','nullable':true,'description':'order id','tags':['pk']}]");
    json_decref(events);
}

/* ---------- Great Expectations ---------- */

static const char ge_result[] =
    "{'success':false,'results':["
    "{'success':true,'expectation_config':{'expectation_type':'expect_column_values_to_not_be_null',"
    "  'kwargs':{'column':'id','batch_id':'b1'}},'result':{'element_count':100,'unexpected_count':0,"
    "  'unexpected_percent':0.0,'partial_unexpected_list':[]},'exception_info':{'raised_exception':false}},"
    "{'success':false,'expectation_config':{'type':'expect_table_row_count_to_be_between','kwargs':{'min_value':1000}},"
    "  'result':{'observed_value':100},'exception_info':{'raised_exception':false}}],"
    "'statistics':{'evaluated_expectations':2,'successful_expectations':1,'unsuccessful_expectations':1,"
    "  'success_percent':50.0},"
    "'meta':{'great_expectations_version':'0.18.8','expectation_suite_name':'orders.warning',"
    "  'run_id':{'run_name':'nightly','run_time':'2026-11-20T02:00:00+00:00'},"
    "  'active_batch_definition':{'datasource_name':'pg','data_connector_name':'default',"
    "  'data_asset_name':'public.orders'},'validation_time':'20261120T020001.000000Z'}}";

static void test_ge_result(void **state)
{
    json_t *events = decode_ok("ge", mf_integration_from_ge, jq(ge_result), NULL);
    json_t *ev = json_array_get(events, 0);
    MF_CHECK_STR("source", json_string_value(json_object_get(ev, "source")), "great_expectations");
    MF_CHECK_INT("no change sets: quality names its dataset", (long long)json_array_size(json_object_get(ev, "datasets")), 0);
    check_member("one quality result for the asset", ev, "quality",
                 "[{'dataset':{'namespace':'default','name':'public.orders'},"
                 "'metrics':{'evaluated_expectations':2,'successful_expectations':1,'unsuccessful_expectations':1,"
                 "'success_percent':50.0,'success':false},'assertions':["
                 "{'assertion':'expect_column_values_to_not_be_null','success':true,'column':'id','element_count':100,"
                 "'unexpected_count':0,'unexpected_percent':0.0},"
                 "{'assertion':'expect_table_row_count_to_be_between','success':false,'observed_value':100}]}]");
    check_member("the job is the suite", ev, "job", "{'namespace':'default','name':'great_expectations:orders.warning'}");
    json_t *run = json_object_get(ev, "run");
    check_member("run time", run, "event_time", "'2026-11-20T02:00:00+00:00'");
    check_member("the validated asset is the run's input", run, "inputs", "[{'namespace':'default','name':'public.orders'}]");
    const char *run_id = json_string_value(json_object_get(run, "run_id"));
    MF_CHECK_INT("a UUID", mf_is_uuid(run_id, strlen(run_id)), 1);
    json_decref(events);
}

static void test_ge_run_id_is_stable(void **state)
{
    json_t *a = decode_ok("a", mf_integration_from_ge, jq(ge_result), NULL);
    json_t *b = decode_ok("b", mf_integration_from_ge, jq(ge_result), NULL);
    mf_integration_opts_t named = {NULL, "orders"};
    json_t *c = decode_ok("named", mf_integration_from_ge, jq(ge_result), &named);
    json_t *ra = json_object_get(json_object_get(json_array_get(a, 0), "run"), "run_id");
    json_t *rb = json_object_get(json_object_get(json_array_get(b, 0), "run"), "run_id");
    json_t *rc = json_object_get(json_object_get(json_array_get(c, 0), "run"), "run_id");
    MF_CHECK_JSON("same result, same run", ra, rb);
    MF_CHECK_INT("another dataset, another run", json_equal(ra, rc), 0);
    check_member("?name= wins", json_array_get(json_object_get(json_array_get(c, 0), "quality"), 0), "dataset",
                 "{'namespace':'default','name':'orders'}");
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* ---------- Iceberg ---------- */

static const char iceberg_metadata[] =
    "{'format-version':2,'table-uuid':'9c12d441-03fe-4693-9a96-a0705ddf69c1','location':'s3://lake/db/events/',"
    "'last-sequence-number':3,'last-updated-ms':1700000300000,'last-column-id':4,'current-schema-id':1,"
    "'schemas':["
    "{'type':'struct','schema-id':1,'identifier-field-ids':[1],'fields':["
    "  {'id':1,'name':'id','required':true,'type':'long','doc':'event id'},"
    "  {'id':2,'name':'ts','required':true,'type':'timestamptz'},"
    "  {'id':3,'name':'payload','required':false,'type':{'type':'struct','fields':["
    "     {'id':5,'name':'k','required':true,'type':'string'},"
    "     {'id':6,'name':'v','required':false,'type':{'type':'list','element-id':7,'element':'int','element-required':false}}]}},"
    "  {'id':4,'name':'attrs','required':false,'type':{'type':'map','key-id':8,'key':'string','value-id':9,"
    "     'value':'double','value-required':false}}]},"
    "{'type':'struct','schema-id':0,'fields':["
    "  {'id':1,'name':'id','required':true,'type':'long'},{'id':2,'name':'ts','required':true,'type':'timestamptz'}]}],"
    "'default-spec-id':0,'partition-specs':[{'spec-id':0,'fields':["
    "  {'source-id':2,'field-id':1000,'name':'ts_day','transform':'day'},"
    "  {'source-id':1,'field-id':1001,'name':'id_bucket','transform':'bucket[16]'}]}],"
    "'last-partition-id':1001,'properties':{'comment':'Click events','owner':'analytics'},"
    "'current-snapshot-id':3,'snapshots':["
    "{'sequence-number':1,'snapshot-id':1,'timestamp-ms':1700000000000,'schema-id':0,'manifest-list':'s3://m/1.avro',"
    "  'summary':{'operation':'append','added-records':'10','total-records':'10','total-files-size':'1000'}},"
    "{'sequence-number':2,'snapshot-id':2,'parent-snapshot-id':1,'timestamp-ms':1700000100000,'schema-id':1,"
    "  'manifest-list':'s3://m/2.avro','summary':{'operation':'append','added-records':'5','total-records':'15',"
    "  'total-files-size':'1500'}},"
    "{'sequence-number':3,'snapshot-id':3,'parent-snapshot-id':2,'timestamp-ms':1700000200000,'schema-id':1,"
    "  'manifest-list':'s3://m/3.avro','summary':{'operation':'delete','deleted-records':'3','total-records':'12',"
    "  'total-files-size':'1300'}}],"
    "'snapshot-log':[],'metadata-log':[]}";

static void test_iceberg_metadata(void **state)
{
    json_t *events = decode_ok("iceberg", mf_integration_from_iceberg, jq(iceberg_metadata), NULL);
    json_t *ev = json_array_get(events, 0), *list = json_object_get(ev, "datasets");
    MF_CHECK_INT("one past schema, then the current state", (long long)json_array_size(list), 2);
    json_t *past = json_array_get(list, 0), *cur = json_array_get(list, 1);
    check_member("the past schema is a revision", past, "revision", "'iceberg:schema:0'");
    check_member("past fields", past, "fields",
                 "[{'name':'id','type':'long','nullable':false,'description':'','tags':[]},"
                 "{'name':'ts','type':'timestamptz','nullable':false,'description':'','tags':[]}]");
    MF_CHECK_INT("the current state carries no revision", json_object_get(cur, "revision") == NULL, 1);
    check_member("name from the location", cur, "name", "'events'");
    check_member("current fields, nested types printed", cur, "fields",
                 "[{'name':'id','type':'long','nullable':false,'description':'event id','tags':[]},"
                 "{'name':'ts','type':'timestamptz','nullable':false,'description':'','tags':[]},"
                 "{'name':'payload','type':'struct<k: string, v: list<int>>','nullable':true,'description':'','tags':[]},"
                 "{'name':'attrs','type':'map<string, double>','nullable':true,'description':'','tags':[]}]");
    check_member("current snapshot totals and partitioning", cur, "operational",
                 "{'partition_keys':['day(ts)','bucket[16](id)'],'row_count':12,'size_bytes':1300}");
    check_member("properties", cur, "description", "'Click events'");
    check_member("owner", cur, "owner", "'analytics'");
    check_member("format", cur, "format", "'iceberg'");
    json_t *fact = json_object_get(json_object_get(cur, "facets"), "iceberg");
    check_member("field ids", fact, "field_ids", "{'id':1,'ts':2,'payload':3,'attrs':4}");
    check_member("snapshots with their summaries", fact, "snapshots",
                 "[{'snapshot_id':'1','at':'2023-11-14T22:13:20.000Z','operation':'append','added-records':10,"
                 "'total-records':10,'total-files-size':1000,'schema_id':0},"
                 "{'snapshot_id':'2','at':'2023-11-14T22:15:00.000Z','operation':'append','added-records':5,"
                 "'total-records':15,'total-files-size':1500,'schema_id':1},"
                 "{'snapshot_id':'3','at':'2023-11-14T22:16:40.000Z','operation':'delete','deleted-records':3,"
                 "'total-records':12,'total-files-size':1300,'schema_id':1}]");
    json_decref(events);
}

static void test_iceberg_v1(void **state)
{
    mf_integration_opts_t opts = {"lake", "db.legacy"};
    json_t *events = decode_ok("v1", mf_integration_from_iceberg,
                               jq("{'format-version':1,'location':'hdfs://x/legacy','schema':{'type':'struct',"
                                  "'fields':[{'id':1,'name':'a','required':false,'type':'decimal(9,2)'}]},"
                                  "'partition-spec':[{'source-id':1,'field-id':1000,'name':'a','transform':'identity'}]}"),
                               &opts);
    json_t *ev = json_array_get(events, 0);
    MF_CHECK_INT("one change set", (long long)json_array_size(json_object_get(ev, "datasets")), 1);
    json_t *cs = dataset(ev, "db.legacy");
    check_member("namespace", cs, "namespace", "'lake'");
    check_member("identity partition", cs, "operational", "{'partition_keys':['a']}");
    json_decref(events);
}

/* ---------- Delta ---------- */

/* A metaData action whose schemaString is the schema literal (jq quotes). */
static json_t *delta_metadata(const char *schema)
{
    json_t *s = jq(schema);
    char *text = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    json_t *a = json_pack("{s:{s:s,s:s,s:s,s:{s:s},s:[s],s:{}}}", "metaData", "id", "tbl-1", "name", "sales.orders",
                          "schemaString", text, "format", "provider", "parquet", "partitionColumns", "day",
                          "configuration");
    free(text);
    return a;
}

static json_t *delta_log(void)
{
    json_t *c0 = jq("{'version':0,'actions':[{'protocol':{'minReaderVersion':1,'minWriterVersion':2}},"
                    "{'commitInfo':{'timestamp':1700000000000,'operation':'CREATE TABLE'}},"
                    "{'add':{'path':'day=1/a.parquet','size':100,'dataChange':true,"
                    "'stats':'{\\\"numRecords\\\":10}'}}]}");
    json_array_insert_new(json_object_get(c0, "actions"), 1,
                          delta_metadata("{'type':'struct','fields':[{'name':'id','type':'long','nullable':false,"
                                         "'metadata':{'comment':'order id'}},{'name':'day','type':'date','nullable':true,"
                                         "'metadata':{}}]}"));
    json_t *c1 = jq("{'version':1,'content':'{\\\"commitInfo\\\":{\\\"timestamp\\\":1700000100000,"
                    "\\\"operation\\\":\\\"WRITE\\\",\\\"operationMetrics\\\":{\\\"numOutputRows\\\":\\\"5\\\"}}}\\n"
                    "{\\\"add\\\":{\\\"path\\\":\\\"day=2/b.parquet\\\",\\\"size\\\":50,\\\"dataChange\\\":true,"
                    "\\\"stats\\\":\\\"{\\\\\\\"numRecords\\\\\\\":5}\\\"}}\\n'}");
    json_t *c2 = jq("{'version':2,'actions':[{'commitInfo':{'timestamp':1700000200000,'operation':'ADD COLUMNS'}},"
                    "{'remove':{'path':'day=1/a.parquet','deletionTimestamp':1700000200000,'dataChange':true}},"
                    "{'add':{'path':'day=1/c.parquet','size':120,'dataChange':true,'stats':'{\\\"numRecords\\\":9}'}},"
                    "{'txn':{'appId':'x','version':1}}]}");
    json_array_insert_new(json_object_get(c2, "actions"), 1,
                          delta_metadata("{'type':'struct','fields':[{'name':'id','type':'long','nullable':false,"
                                         "'metadata':{'comment':'order id','delta.columnMapping.id':1}},"
                                         "{'name':'day','type':'date','nullable':true,'metadata':{}},"
                                         "{'name':'tags','type':{'type':'array','elementType':'string','containsNull':true},"
                                         "'nullable':true,'metadata':{}}]}"));
    return json_pack("[o,o,o]", c0, c1, c2);
}

static void test_delta_log(void **state)
{
    json_t *events = decode_ok("delta", mf_integration_from_delta, delta_log(), NULL);
    json_t *ev = json_array_get(events, 0), *list = json_object_get(ev, "datasets");
    MF_CHECK_INT("the first schema as a revision, then the latest state", (long long)json_array_size(list), 2);
    json_t *past = json_array_get(list, 0), *cur = json_array_get(list, 1);
    check_member("revision names the commit", past, "revision", "'delta:schema:0'");
    check_member("past fields", past, "fields",
                 "[{'name':'id','type':'long','nullable':false,'description':'order id','tags':[]},"
                 "{'name':'day','type':'date','nullable':true,'description':'','tags':[]}]");
    check_member("name from metaData", cur, "name", "'sales.orders'");
    check_member("latest fields", cur, "fields",
                 "[{'name':'id','type':'long','nullable':false,'description':'order id','tags':[]},"
                 "{'name':'day','type':'date','nullable':true,'description':'','tags':[]},"
                 "{'name':'tags','type':'array<string>','nullable':true,'description':'','tags':[]}]");
    check_member("live files only: b and c", cur, "operational",
                 "{'partition_keys':['day'],'size_bytes':170,'row_count':14}");
    json_t *fact = json_object_get(json_object_get(cur, "facets"), "delta");
    check_member("latest version", fact, "version", "2");
    check_member("live file count", fact, "files", "2");
    check_member("schema changes", fact, "schema_changes", "[0,2]");
    check_member("column mapping ids", fact, "field_ids", "{'id':1}");
    check_member("history", fact, "history",
                 "[{'version':0,'at':'2023-11-14T22:13:20.000Z','operation':'CREATE TABLE'},"
                 "{'version':1,'at':'2023-11-14T22:15:00.000Z','operation':'WRITE','metrics':{'numOutputRows':'5'}},"
                 "{'version':2,'at':'2023-11-14T22:16:40.000Z','operation':'ADD COLUMNS'}]");
    json_decref(events);
}

/* ---------- helpers ---------- */

static void test_helpers(void **state)
{
    static const struct {
        const char *in, *want;
    } tags[] = {{"pii", "pii"}, {"PII data", "PII-data"}, {"a/b:c.d_e-f", "a/b:c.d_e-f"}, {"caf\xc3\xa9", "caf--"}, {"", NULL}};
    for (size_t i = 0; i < MF_T_ROWS(tags); i++) {
        json_t *t = mf_integration__tag(tags[i].in);
        MF_CHECK_STR(tags[i].in, t ? json_string_value(t) : NULL, tags[i].want);
        json_decref(t);
    }
    char *long_text = mf_t_repeat('x', 300);
    json_t *t = mf_integration__tag(long_text);
    MF_CHECK_INT("a tag is cut to its limit", (long long)json_string_length(t), MF_TAG_MAX);
    MF_CHECK_INT("and valid", mf_catalog_tag_ok(json_string_value(t)), 1);
    json_decref(t);
    free(long_text);
    char a[37], b[37], c[37];
    mf_integration__uuid("x", a);
    mf_integration__uuid("x", b);
    mf_integration__uuid("y", c);
    MF_CHECK_STR("stable", a, b);
    MF_CHECK_INT("distinct", strcmp(a, c) != 0, 1);
    MF_CHECK_INT("a UUID", mf_is_uuid(a, strlen(a)), 1);
    MF_CHECK_INT("version 5", a[14], '5');
    char at[32];
    mf_integration__ms_time(1700000000123LL, at);
    MF_CHECK_STR("ms time", at, "2023-11-14T22:13:20.123Z");
    mf_integration__ms_time(-5, at);
    MF_CHECK_STR("out of range is the epoch", at, "1970-01-01T00:00:00.000Z");
}

/* ---------- path mode ---------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_read_path(void **state)
{
    char root[] = "/tmp/mf-integrations-XXXXXX", p[PATH_MAX];
    assert_non_null(mkdtemp(root));
    const char *tenant = "11111111-2222-3333-4444-555555555555";
    snprintf(p, sizeof(p), "%s/%s", root, tenant);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/%s/tbl", root, tenant);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/%s/tbl/metadata", root, tenant);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/%s/tbl/metadata/00001-a.metadata.json", root, tenant);
    write_file(p, "{\"format-version\":2,\"n\":1}");
    snprintf(p, sizeof(p), "%s/%s/tbl/metadata/00002-b.metadata.json", root, tenant);
    write_file(p, "{\"format-version\":2,\"n\":2}");
    snprintf(p, sizeof(p), "%s/secret.json", root);
    write_file(p, "{\"secret\":true}");
    snprintf(p, sizeof(p), "%s/%s/leak", root, tenant);
    assert_int_equal(symlink("../secret.json", p), 0);
    snprintf(p, sizeof(p), "%s/%s/d/_delta_log", root, tenant);
    char d[PATH_MAX];
    snprintf(d, sizeof(d), "%s/%s/d", root, tenant);
    assert_int_equal(mkdir(d, 0755), 0);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/%s/d/_delta_log/00000000000000000001.json", root, tenant);
    write_file(p, "{\"add\":{}}\n");
    snprintf(p, sizeof(p), "%s/%s/d/_delta_log/00000000000000000000.json", root, tenant);
    write_file(p, "{\"protocol\":{}}\n");
    snprintf(p, sizeof(p), "%s/%s/d/_delta_log/00000000000000000000.checkpoint.parquet", root, tenant);
    write_file(p, "PAR1");

    mf_json_err_t err;
    json_t *doc;
    assert_int_equal(mf_integration_read_path(MF_INTEGRATION_ICEBERG, root, tenant, "tbl", &doc, &err), 0);
    check_member("the newest metadata file", doc, "n", "2");
    json_decref(doc);
    assert_int_equal(mf_integration_read_path(MF_INTEGRATION_DELTA, root, tenant, "d", &doc, &err), 0);
    json_t *want = jq("[{'version':0,'content':'{\\\"protocol\\\":{}}\\n'},{'version':1,'content':'{\\\"add\\\":{}}\\n'}]");
    MF_CHECK_JSON("commits in order, checkpoints left out", doc, want);
    json_decref(want);
    json_decref(doc);
    static const struct {
        const char *rel, *msg;
    } refused[] = {
        {"../secret.json", "leads outside your tenant's integrations folder"},
        {"leak", "leads outside your tenant's integrations folder"},
        {"/etc/passwd", "path must be relative"},
        {"nothing/here", "does not exist"},
    };
    for (size_t i = 0; i < MF_T_ROWS(refused); i++) {
        assert_int_not_equal(mf_integration_read_path(MF_INTEGRATION_ICEBERG, root, tenant, refused[i].rel, &doc, &err), 0);
        MF_CHECK_CONTAINS(refused[i].rel, err.msg, refused[i].msg);
        assert_null(doc);
    }
    assert_int_not_equal(mf_integration_read_path(MF_INTEGRATION_ICEBERG, root, "99999999-2222-3333-4444-555555555555",
                                                  "tbl", &doc, &err),
                         0);
    MF_CHECK_CONTAINS("another tenant's folder", err.msg, "no integrations folder");
    assert_int_not_equal(mf_integration_read_path(MF_INTEGRATION_ICEBERG, root, "", tenant, &doc, &err), 0);
    MF_CHECK_CONTAINS("no tenant: not the root itself", err.msg, "only a tenant's credentials");
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* ---------- hostile inputs ---------- */

typedef struct {
    const char *what;
    decoder_fn decoder;
    const char *body;
    const char *msg; /* a part of the message */
} bad_row_t;

#define M12 "'metadata':{'dbt_schema_version':'https://schemas.getdbt.com/dbt/manifest/v12.json'}"

static const bad_row_t bad_rows[] = {
    {"dbt: no schema version", mf_integration_from_dbt, "{'nodes':{}}", "dbt_schema_version must name a dbt manifest"},
    {"dbt: a run-results document as manifest", mf_integration_from_dbt,
     "{'metadata':{'dbt_schema_version':'https://schemas.getdbt.com/dbt/run-results/v6.json'},'nodes':{}}",
     "must name a dbt manifest"},
    {"dbt: too old", mf_integration_from_dbt,
     "{'metadata':{'dbt_schema_version':'https://schemas.getdbt.com/dbt/manifest/v4.json'},'nodes':{}}",
     "v4 is not supported"},
    {"dbt: nodes not an object", mf_integration_from_dbt, "{" M12 ",'nodes':[]}", "nodes must be an object"},
    {"dbt: a node not an object", mf_integration_from_dbt, "{" M12 ",'nodes':{'model.a.b':7}}",
     "manifest.nodes[\"model.a.b\"] must be an object"},
    {"dbt: columns not an object", mf_integration_from_dbt,
     "{" M12 ",'nodes':{'model.a.b':{'resource_type':'model','name':'b','columns':[1]}}}",
     "manifest.nodes[\"model.a.b\"].columns must be an object"},
    {"dbt: a column not an object", mf_integration_from_dbt,
     "{" M12 ",'nodes':{'model.a.b':{'resource_type':'model','name':'b','columns':{'x':1}}}}",
     "columns[\"x\"] must be an object"},
    {"dbt: a model without a name", mf_integration_from_dbt, "{" M12 ",'nodes':{'model.a.b':{'resource_type':'model'}}}",
     "needs a name"},
    {"dbt: unknown member of the wrapper", mf_integration_from_dbt, "{'manifest':{},'sql':'x'}", "unknown field"},
    {"dbt: run_results without results", mf_integration_from_dbt,
     "{'manifest':{" M12 ",'nodes':{}},'run_results':{'metadata':{'dbt_schema_version':"
     "'https://schemas.getdbt.com/dbt/run-results/v6.json'}}}",
     "results is required"},
    {"dbt: a result without status", mf_integration_from_dbt,
     "{'manifest':{" M12 ",'nodes':{}},'run_results':{'metadata':{'dbt_schema_version':"
     "'https://schemas.getdbt.com/dbt/run-results/v6.json'},'results':[{'unique_id':'x'}]}}",
     "results[0] needs unique_id and status"},
    {"dbt: duplicate field names", mf_integration_from_dbt,
     "{" M12 ",'nodes':{'model.a.b':{'resource_type':'model','name':'b','columns':{'x':{'name':'y'},'y':{}}}}}",
     "is a duplicate"},
    {"ge: not a validation result", mf_integration_from_ge, "{'results':[]}", "success must be a boolean"},
    {"ge: no asset", mf_integration_from_ge, "{'success':true,'results':[]}", "give the dataset as ?name="},
    {"ge: results not an array", mf_integration_from_ge, "{'success':true,'results':{}}", "results must be an array"},
    {"ge: an expectation without type", mf_integration_from_ge,
     "{'success':true,'results':[{'success':true,'expectation_config':{}}],'meta':{'active_batch_definition':"
     "{'data_asset_name':'t'}}}",
     "results[0] needs expectation_config.expectation_type"},
    {"iceberg: no format version", mf_integration_from_iceberg, "{'location':'s3://x/t'}", "format-version must be"},
    {"iceberg: no location", mf_integration_from_iceberg, "{'format-version':2,'schemas':[]}", "location must be"},
    {"iceberg: no schemas", mf_integration_from_iceberg, "{'format-version':2,'location':'s3://x/t','schemas':[]}",
     "schemas must be a non-empty array"},
    {"iceberg: a field without id", mf_integration_from_iceberg,
     "{'format-version':2,'location':'s3://x/t','schemas':[{'schema-id':0,'fields':[{'name':'a','required':true,"
     "'type':'int'}]}]}",
     "fields[0] needs id, name, required and type"},
    {"iceberg: unknown nested type", mf_integration_from_iceberg,
     "{'format-version':2,'location':'s3://x/t','schemas':[{'schema-id':0,'fields':[{'id':1,'name':'a','required':true,"
     "'type':{'type':'tuple'}}]}]}",
     "unknown type \"tuple\""},
    {"iceberg: a snapshot without id", mf_integration_from_iceberg,
     "{'format-version':2,'location':'s3://x/t','schemas':[{'schema-id':0,'fields':[]}],'snapshots':[{}]}",
     "snapshots[0] needs snapshot-id"},
    {"delta: empty", mf_integration_from_delta, "[]", "commits must be a non-empty array"},
    {"delta: a gap", mf_integration_from_delta, "[{'version':1,'actions':[]}]", "without gaps"},
    {"delta: no metaData", mf_integration_from_delta, "[{'version':0,'actions':[{'protocol':{}}]}]", "no metaData"},
    {"delta: an action not an object", mf_integration_from_delta, "[{'version':0,'actions':[1]}]",
     "commits[0].actions[0] must be an object"},
    {"delta: bad content line", mf_integration_from_delta, "[{'version':0,'content':'{}\\nnot json'}]",
     "commits[0].content line 2"},
    {"delta: neither actions nor content", mf_integration_from_delta, "[{'version':0}]", "needs actions"},
    {"delta: schemaString not JSON", mf_integration_from_delta,
     "[{'version':0,'actions':[{'metaData':{'schemaString':'nope','name':'t'}}]}]", "schemaString is not a JSON object"},
    {"delta: no name", mf_integration_from_delta,
     "[{'version':0,'actions':[{'metaData':{'schemaString':'{\\\"fields\\\":[]}'}}]}]", "give the dataset as ?name="},
};

static void test_hostile_inputs(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(bad_rows); i++) {
        mf_json_err_t err;
        json_t *out = decode(bad_rows[i].decoder, jq(bad_rows[i].body), NULL, &err);
        if (out != NULL) {
            char *text = json_dumps(out, JSON_COMPACT);
            MF_CHECK_STR(bad_rows[i].what, text, "(refused)");
        }
        MF_CHECK_CONTAINS(bad_rows[i].what, err.msg, bad_rows[i].msg);
    }
}

/* Nesting past the limit is refused, not recursed into. */
static void test_deep_type(void **state)
{
    char type[2000] = "'int'";
    for (int i = 0; i < 40; i++) {
        char next[2000];
        snprintf(next, sizeof(next), "{'type':'list','element':%s}", type);
        snprintf(type, sizeof(type), "%s", next);
    }
    char body[3000];
    snprintf(body, sizeof(body),
             "{'format-version':2,'location':'s3://x/t','schemas':[{'schema-id':0,'fields':[{'id':1,'name':'a',"
             "'required':true,'type':%s}]}]}",
             type);
    mf_json_err_t err;
    assert_null(decode(mf_integration_from_iceberg, jq(body), NULL, &err));
    MF_CHECK_CONTAINS("deep type", err.msg, "at most 16 deep");
}

/* More datasets than an import may write. */
static void test_too_many_datasets(void **state)
{
    json_t *m = jq("{" M12 ",'nodes':{}}"), *nodes = json_object_get(m, "nodes");
    for (int i = 0; i <= MF_INTEGRATION_MAX_DATASETS; i++) {
        char id[64], name[32];
        snprintf(id, sizeof(id), "model.p.m%d", i);
        snprintf(name, sizeof(name), "m%d", i);
        json_object_set_new(nodes, id, json_pack("{s:s,s:s}", "resource_type", "model", "name", name));
    }
    mf_json_err_t err;
    assert_null(decode(mf_integration_from_dbt, m, NULL, &err));
    MF_CHECK_CONTAINS("too many", err.msg, "at most 20000 datasets");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dbt_project),       cmocka_unit_test(test_dbt_bare_manifest),
        cmocka_unit_test(test_ge_result),         cmocka_unit_test(test_ge_run_id_is_stable),
        cmocka_unit_test(test_iceberg_metadata),  cmocka_unit_test(test_iceberg_v1),
        cmocka_unit_test(test_delta_log),         cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_read_path),         cmocka_unit_test(test_hostile_inputs),
        cmocka_unit_test(test_deep_type),         cmocka_unit_test(test_too_many_datasets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
