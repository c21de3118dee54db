/*
 * Unit tests of libshared/src/openlineage.c, mf_ingest_from_openlineage:
 * one table of valid events (every mapped run, job and dataset facet,
 * unknown facets kept as they came, nested schema flattening, column lineage
 * transformations, RunEvent, JobEvent and DatasetEvent) with the part of the
 * ingest event each must produce; one table of invalid events (each required
 * field missing, wrong types, bad values) with the exact message; the
 * OpenLineage naming conventions passing through as namespaces; and the
 * limits (datasets, edges, name length, schema size and depth).
 *
 * Literals are written with ' for " (jq below) so the events stay readable.
 */
#include "../unit.h"
#include "mf/ingest.h"

static json_t *jq(const char *text) { return mf_t_jq(text); }

static json_t *decode(json_t *body, mf_json_err_t *err) { return mf_t_decode(mf_ingest_from_openlineage, body, err); }

#define RID "3b452093-782c-4ef2-9c0c-aafe2aa6f34d"
#define HEAD                                                                                                           \
    "'eventTime':'2024-05-01T10:00:00.123Z','producer':'https://github.com/OpenLineage/OpenLineage/tree/1.9.0/',"      \
    "'schemaURL':'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent'"
#define JOB "'job':{'namespace':'airflow','name':'etl.load_orders'}"
/* A COMPLETE RunEvent of job airflow/etl.load_orders; extra starts with a comma. */
#define RUN_EVENT(extra) "{" HEAD ",'eventType':'COMPLETE','run':{'runId':'" RID "'}," JOB extra "}"
/* A RunEvent with run facets. */
#define RUN_FACETS(facets) "{" HEAD ",'eventType':'FAIL','run':{'runId':'" RID "','facets':" facets "}," JOB "}"
/* A RunEvent with job facets. */
#define JOB_FACETS(facets)                                                                                             \
    "{" HEAD ",'run':{'runId':'" RID "'},'job':{'namespace':'airflow','name':'etl.load_orders','facets':" facets "}}"
/* A RunEvent with one output (warehouse/orders) carrying facets and outputFacets. */
#define OUT_FACETS(facets, outfacets)                                                                                  \
    RUN_EVENT(",'outputs':[{'namespace':'warehouse','name':'orders','facets':" facets ",'outputFacets':" outfacets "}" \
              "]")
/* A RunEvent with one input (warehouse/raw) carrying facets and inputFacets. */
#define IN_FACETS(facets, infacets)                                                                                    \
    RUN_EVENT(",'inputs':[{'namespace':'warehouse','name':'raw','facets':" facets ",'inputFacets':" infacets "}]")

#define W_JOBREF "{'namespace':'airflow','name':'etl.load_orders'}"
#define W_JOB "{'namespace':'airflow','name':'etl.load_orders','facets':{}}"
#define W_ORDERS "{'namespace':'warehouse','name':'orders'}"
#define W_RAW "{'namespace':'warehouse','name':'raw'}"

/* ---------- valid events ---------- */

typedef struct {
    const char *what;
    const char *event;
    const char *member; /* the member of the ingest event compared; NULL: the whole event */
    const char *want;   /* its JSON; "ABSENT": the member must be absent */
} good_row_t;

static const good_row_t good_rows[] = {
    /* run and job */
    {"minimal RunEvent, whole ingest event", RUN_EVENT(""), NULL,
     "{'source':'openlineage','job':" W_JOB ",'run':{'run_id':'" RID "','state':'COMPLETE',"
     "'event_time':'2024-05-01T10:00:00.123Z','inputs':[],'outputs':[],'facets':{}}}"},
    {"eventType absent is OTHER", "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}," JOB "}", "run",
     "{'run_id':'" RID "','state':'OTHER','event_time':'2024-05-01T10:00:00Z','inputs':[],'outputs':[],'facets':{}}"},
    {"eventType null is OTHER",
     "{'eventType':null,'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}," JOB "}", "run",
     "{'run_id':'" RID "','state':'OTHER','event_time':'2024-05-01T10:00:00Z','inputs':[],'outputs':[],'facets':{}}"},
    {"START", "{'eventType':'START','eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}," JOB "}", "run",
     "{'run_id':'" RID "','state':'START','event_time':'2024-05-01T10:00:00Z','inputs':[],'outputs':[],'facets':{}}"},
    {"RUNNING", "{'eventType':'RUNNING','eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}," JOB "}", "run",
     "{'run_id':'" RID "','state':'RUNNING','event_time':'2024-05-01T10:00:00Z','inputs':[],'outputs':[],"
     "'facets':{}}"},
    {"ABORT", "{'eventType':'ABORT','eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}," JOB "}", "run",
     "{'run_id':'" RID "','state':'ABORT','event_time':'2024-05-01T10:00:00Z','inputs':[],'outputs':[],'facets':{}}"},
    {"FAIL", "{'eventType':'FAIL','eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}," JOB "}", "run",
     "{'run_id':'" RID "','state':'FAIL','event_time':'2024-05-01T10:00:00Z','inputs':[],'outputs':[],'facets':{}}"},
    {"OTHER", "{'eventType':'OTHER','eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}," JOB "}", "run",
     "{'run_id':'" RID "','state':'OTHER','event_time':'2024-05-01T10:00:00Z','inputs':[],'outputs':[],'facets':{}}"},
    {"runId in capitals is lowercased, offsets and fractions kept",
     "{'eventTime':'2024-02-29T23:59:60.123456789+05:30','run':{'runId':'3B452093-782C-4EF2-9C0C-AAFE2AA6F34D'}," JOB
     "}",
     "run",
     "{'run_id':'" RID "','state':'OTHER','event_time':'2024-02-29T23:59:60.123456789+05:30','inputs':[],"
     "'outputs':[],'facets':{}}"},
    {"UUID v7 run id",
     "{'eventTime':'2024-05-01T10:00:00-07:00','run':{'runId':'018f3a5e-7c1b-7d2e-9f00-1a2b3c4d5e6f'}," JOB "}", "run",
     "{'run_id':'018f3a5e-7c1b-7d2e-9f00-1a2b3c4d5e6f','state':'OTHER','event_time':'2024-05-01T10:00:00-07:00',"
     "'inputs':[],'outputs':[],'facets':{}}"},
    {"run facets: parent, nominalTime, errorMessage mapped; all kept raw, unknown too, null dropped",
     RUN_FACETS("{'parent':{'_producer':'p','run':{'runId':'AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee'},"
                "'job':{'namespace':'airflow','name':'etl'},'root':{'run':{'runId':'" RID "'}}},"
                "'nominalTime':{'nominalStartTime':'2024-05-01T00:00:00Z','nominalEndTime':'2024-05-02T00:00:00Z'},"
                "'errorMessage':{'message':'division by zero\\nat line 3','programmingLanguage':'python',"
                "'stackTrace':'Traceback...'},"
                "'spark_version':{'spark-version':'3.5.0'},'nothing':null}"),
     "run",
     "{'run_id':'" RID "','state':'FAIL','event_time':'2024-05-01T10:00:00.123Z','inputs':[],'outputs':[],"
     "'parent':{'run_id':'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee','job':{'namespace':'airflow','name':'etl'}},"
     "'nominal_start':'2024-05-01T00:00:00Z','nominal_end':'2024-05-02T00:00:00Z',"
     "'error_message':'division by zero\\nat line 3',"
     "'facets':{'parent':{'_producer':'p','run':{'runId':'AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee'},"
     "'job':{'namespace':'airflow','name':'etl'},'root':{'run':{'runId':'" RID "'}}},"
     "'nominalTime':{'nominalStartTime':'2024-05-01T00:00:00Z','nominalEndTime':'2024-05-02T00:00:00Z'},"
     "'errorMessage':{'message':'division by zero\\nat line 3','programmingLanguage':'python',"
     "'stackTrace':'Traceback...'},'spark_version':{'spark-version':'3.5.0'}}}"},
    {"nominalTime with a start only; errorMessage without message",
     RUN_FACETS("{'nominalTime':{'nominalStartTime':'2024-05-01T00:00:00Z'},'errorMessage':{'stackTrace':'x'}}"), "run",
     "{'run_id':'" RID "','state':'FAIL','event_time':'2024-05-01T10:00:00.123Z','inputs':[],'outputs':[],"
     "'nominal_start':'2024-05-01T00:00:00Z','facets':{'nominalTime':{'nominalStartTime':'2024-05-01T00:00:00Z'},"
     "'errorMessage':{'stackTrace':'x'}}}"},
    {"errorMessage control characters become spaces (ANSI colours in a Spark log)",
     RUN_FACETS("{'errorMessage':{'message':'\\u001b[31mboom\\u001b[0m\\tend'}}"), "run.error_message",
     "' [31mboom [0m\\tend'"},
    {"job facets: sql and documentation mapped, every facet kept raw",
     JOB_FACETS("{'sql':{'query':'SELECT *\\nFROM raw','dialect':'postgres'},"
                "'documentation':{'description':'Loads orders.','contentType':'text/markdown'},"
                "'jobType':{'processingType':'BATCH','integration':'AIRFLOW','jobType':'TASK'},'gone':null}"),
     "job",
     "{'namespace':'airflow','name':'etl.load_orders','description':'Loads orders.','sql':'SELECT *\\nFROM raw',"
     "'facets':{'sql':{'query':'SELECT *\\nFROM raw','dialect':'postgres'},"
     "'documentation':{'description':'Loads orders.','contentType':'text/markdown'},"
     "'jobType':{'processingType':'BATCH','integration':'AIRFLOW','jobType':'TASK'}}}"},
    {"job facets null", JOB_FACETS("null"), "job", W_JOB},

    /* inputs, outputs, dataset lineage */
    {"bare inputs and outputs: change sets hold only namespace and name",
     RUN_EVENT(",'inputs':[{'namespace':'warehouse','name':'raw'},{'namespace':'crm','name':'customers'}],"
               "'outputs':[{'namespace':'warehouse','name':'orders'},{'namespace':'warehouse','name':'orders_daily'}]"),
     "datasets",
     "[" W_RAW ",{'namespace':'crm','name':'customers'}," W_ORDERS ",{'namespace':'warehouse','name':'orders_daily'}]"},
    {"every input -> every output, through the job",
     RUN_EVENT(",'inputs':[{'namespace':'warehouse','name':'raw'},{'namespace':'crm','name':'customers'}],"
               "'outputs':[{'namespace':'warehouse','name':'orders'},{'namespace':'warehouse','name':'orders_daily'}]"),
     "lineage",
     "[{'source':" W_RAW ",'target':" W_ORDERS ",'job':" W_JOBREF ",'columns':[]},"
     "{'source':" W_RAW ",'target':{'namespace':'warehouse','name':'orders_daily'},'job':" W_JOBREF ",'columns':[]},"
     "{'source':{'namespace':'crm','name':'customers'},'target':" W_ORDERS ",'job':" W_JOBREF ",'columns':[]},"
     "{'source':{'namespace':'crm','name':'customers'},'target':{'namespace':'warehouse','name':'orders_daily'},"
     "'job':" W_JOBREF ",'columns':[]}]"},
    {"run inputs and outputs are refs",
     RUN_EVENT(",'inputs':[{'namespace':'warehouse','name':'raw','facets':{}}],"
               "'outputs':[{'namespace':'warehouse','name':'orders'}]"),
     "run",
     "{'run_id':'" RID "','state':'COMPLETE','event_time':'2024-05-01T10:00:00.123Z','inputs':[" W_RAW "],"
     "'outputs':[" W_ORDERS "],'facets':{}}"},
    {"inputs only: no lineage", RUN_EVENT(",'inputs':[{'namespace':'warehouse','name':'raw'}],'outputs':[]"), "lineage",
     "ABSENT"},
    {"inputs and outputs null", RUN_EVENT(",'inputs':null,'outputs':null"), "datasets", "ABSENT"},
    {"a dataset read and written: one change set, no edge to itself",
     RUN_EVENT(",'inputs':[{'namespace':'warehouse','name':'orders','facets':{'documentation':{'description':'in'}}},"
               "{'namespace':'warehouse','name':'raw'}],"
               "'outputs':[{'namespace':'warehouse','name':'orders','facets':{'schema':{'fields':[{'name':'id',"
               "'type':'int'}]}}}]"),
     NULL,
     "{'source':'openlineage','datasets':[{'namespace':'warehouse','name':'orders','description':'in',"
     "'fields':[{'name':'id','type':'int'}],'facets':{'documentation':{'description':'in'},"
     "'schema':{'fields':[{'name':'id','type':'int'}]}}}," W_RAW "],"
     "'lineage':[{'source':" W_RAW ",'target':" W_ORDERS ",'job':" W_JOBREF ",'columns':[]}],'job':" W_JOB ","
     "'run':{'run_id':'" RID "','state':'COMPLETE','event_time':'2024-05-01T10:00:00.123Z',"
     "'inputs':[" W_ORDERS "," W_RAW "],'outputs':[" W_ORDERS "],'facets':{}}}"},
    {"the same dataset twice: facets merge by name, later members win",
     RUN_EVENT(",'inputs':[{'namespace':'w','name':'a','facets':{'documentation':{'description':'one'},"
               "'x':{'v':1}}},{'namespace':'w','name':'a','facets':{'documentation':{'description':'two'},"
               "'y':{'v':2}}}]"),
     "datasets",
     "[{'namespace':'w','name':'a','description':'two','facets':{'documentation':{'description':'two'},"
     "'x':{'v':1},'y':{'v':2}}}]"},

    /* dataset facets */
    {"schema: fields with type and description; a missing type is empty",
     OUT_FACETS("{'schema':{'_producer':'p','_schemaURL':'u','fields':[{'name':'id','type':'BIGINT',"
                "'description':'key'},{'name':'note'},{'name':'amount','type':'decimal(10,2)','description':null}]}}",
                "{}"),
     "datasets[0].fields",
     "[{'name':'id','type':'BIGINT','description':'key'},{'name':'note','type':''},"
     "{'name':'amount','type':'decimal(10,2)'}]"},
    {"schema: nested fields flattened with dotted names, depth first",
     OUT_FACETS("{'schema':{'fields':[{'name':'id','type':'int'},{'name':'address','type':'struct','fields':["
                "{'name':'city','type':'string','description':'City'},{'name':'geo','type':'struct','fields':["
                "{'name':'lat','type':'double'},{'name':'lon','type':'double'}]}]},"
                "{'name':'tags','type':'array','fields':[]},{'name':'zip','type':'string'}]}}",
                "{}"),
     "datasets[0].fields",
     "[{'name':'id','type':'int'},{'name':'address','type':'struct'},"
     "{'name':'address.city','type':'string','description':'City'},{'name':'address.geo','type':'struct'},"
     "{'name':'address.geo.lat','type':'double'},{'name':'address.geo.lon','type':'double'},"
     "{'name':'tags','type':'array'},{'name':'zip','type':'string'}]"},
    {"schema without fields sets no fields", OUT_FACETS("{'schema':{}}", "{}"), "datasets[0].fields", "ABSENT"},
    {"schema with an empty field list sets an empty list", OUT_FACETS("{'schema':{'fields':[]}}", "{}"),
     "datasets[0].fields", "[]"},
    {"documentation, ownership (first owner), dataSource, storage",
     OUT_FACETS("{'documentation':{'description':'All orders.\\nOne row each.'},"
                "'ownership':{'owners':[{'name':'team:orders','type':'MAINTAINER'},{'name':'user:ann'}]},"
                "'dataSource':{'name':'pg','uri':'postgres://db.internal:5432/shop'},"
                "'storage':{'storageLayer':'iceberg','fileFormat':'parquet'}}",
                "{}"),
     "datasets",
     "[{'namespace':'warehouse','name':'orders','description':'All orders.\\nOne row each.','owner':'team:orders',"
     "'path':'postgres://db.internal:5432/shop','format':'parquet','facets':{"
     "'documentation':{'description':'All orders.\\nOne row each.'},"
     "'ownership':{'owners':[{'name':'team:orders','type':'MAINTAINER'},{'name':'user:ann'}]},"
     "'dataSource':{'name':'pg','uri':'postgres://db.internal:5432/shop'},"
     "'storage':{'storageLayer':'iceberg','fileFormat':'parquet'}}}]"},
    {"ownership with no owners sets no owner; dataSource without uri sets no path",
     OUT_FACETS("{'ownership':{'owners':[]},'dataSource':{'name':'pg'},'documentation':{}}", "{}"), "datasets",
     "[{'namespace':'warehouse','name':'orders','facets':{'ownership':{'owners':[]},'dataSource':{'name':'pg'},"
     "'documentation':{}}}]"},
    {"symlinks and unknown facets kept as they came; null facets dropped",
     IN_FACETS("{'symlinks':{'identifiers':[{'namespace':'hive://metastore:9083','name':'db.raw','type':'TABLE'}]},"
               "'myCompany_costCenter':{'_producer':'x','code':42,'nested':{'a':[1,2,{'b':null}]}},"
               "'weird':'a string facet','list':[1,2],'none':null}",
               "{'vendorInput':{'k':'v'}}"),
     "datasets",
     "[{'namespace':'warehouse','name':'raw','facets':{"
     "'symlinks':{'identifiers':[{'namespace':'hive://metastore:9083','name':'db.raw','type':'TABLE'}]},"
     "'myCompany_costCenter':{'_producer':'x','code':42,'nested':{'a':[1,2,{'b':null}]}},"
     "'weird':'a string facet','list':[1,2],'vendorInput':{'k':'v'}}}]"},
    {"lifecycleStateChange DROP", OUT_FACETS("{'lifecycleStateChange':{'lifecycleStateChange':'DROP'}}", "{}"),
     "lifecycle", "[{'dataset':" W_ORDERS ",'change':'DROP'}]"},
    {"lifecycleStateChange RENAME: previousIdentifier is the old name, this dataset the new",
     OUT_FACETS("{'lifecycleStateChange':{'lifecycleStateChange':'RENAME',"
                "'previousIdentifier':{'namespace':'warehouse','name':'orders_old'}}}",
                "{}"),
     "lifecycle",
     "[{'dataset':{'namespace':'warehouse','name':'orders_old'},'change':'RENAME','new_name':" W_ORDERS "}]"},
    {"lifecycleStateChange RENAME onto itself is no change",
     OUT_FACETS("{'lifecycleStateChange':{'lifecycleStateChange':'RENAME',"
                "'previousIdentifier':{'namespace':'warehouse','name':'orders'}}}",
                "{}"),
     "lifecycle", "ABSENT"},
    {"lifecycleStateChange CREATE, OVERWRITE (previousIdentifier ignored)",
     RUN_EVENT(",'outputs':[{'namespace':'w','name':'a','facets':{'lifecycleStateChange':"
               "{'lifecycleStateChange':'CREATE'}}},{'namespace':'w','name':'b','facets':{'lifecycleStateChange':"
               "{'lifecycleStateChange':'OVERWRITE','previousIdentifier':{'namespace':'w','name':'c'}}}}]"),
     "lifecycle",
     "[{'dataset':{'namespace':'w','name':'a'},'change':'CREATE'},"
     "{'dataset':{'namespace':'w','name':'b'},'change':'OVERWRITE'}]"},
    {"outputStatistics (outputFacets) -> operational",
     OUT_FACETS("{}", "{'outputStatistics':{'rowCount':1200,'size':65536,'fileCount':3}}"), "datasets",
     "[{'namespace':'warehouse','name':'orders','operational':{'row_count':1200,'size_bytes':65536},"
     "'facets':{'outputStatistics':{'rowCount':1200,'size':65536,'fileCount':3}}}]"},
    {"outputStatistics with a row count only", OUT_FACETS("{}", "{'outputStatistics':{'rowCount':0}}"),
     "datasets[0].operational", "{'row_count':0}"},
    {"outputStatistics in facets counts too", OUT_FACETS("{'outputStatistics':{'rowCount':5,'size':null}}", "{}"),
     "datasets[0].operational", "{'row_count':5}"},
    {"outputStatistics on an input is only kept raw", IN_FACETS("{}", "{'outputStatistics':{'rowCount':5}}"),
     "datasets", "[{'namespace':'warehouse','name':'raw','facets':{'outputStatistics':{'rowCount':5}}}]"},
    {"dataQualityMetrics and dataQualityAssertions (inputFacets) -> one quality entry",
     IN_FACETS("{}", "{'dataQualityMetrics':{'_producer':'ge','_schemaURL':'u','rowCount':10,'bytes':2048,"
                     "'columnMetrics':{'id':{'nullCount':0,'distinctCount':10,'quantiles':{'0.5':5}}}},"
                     "'dataQualityAssertions':{'assertions':[{'assertion':'not_null','success':true,'column':'id'},"
                     "{'assertion':'row_count_gt_0','success':false},{'assertion':'unique','success':true,"
                     "'column':''}]}}"),
     "quality",
     "[{'dataset':" W_RAW ",'metrics':{'rowCount':10,'bytes':2048,"
     "'columnMetrics':{'id':{'nullCount':0,'distinctCount':10,'quantiles':{'0.5':5}}}},"
     "'assertions':[{'assertion':'not_null','success':true,'column':'id'},"
     "{'assertion':'row_count_gt_0','success':false},{'assertion':'unique','success':true}]}]"},
    {"dataQualityAssertions on an output (in facets)",
     OUT_FACETS("{'dataQualityAssertions':{'assertions':[{'assertion':'fresh','success':true}]}}", "{}"), "quality",
     "[{'dataset':" W_ORDERS ",'assertions':[{'assertion':'fresh','success':true}]}]"},
    {"quality facets are kept raw too", IN_FACETS("{}", "{'dataQualityMetrics':{'rowCount':1}}"), "datasets",
     "[{'namespace':'warehouse','name':'raw','facets':{'dataQualityMetrics':{'rowCount':1}}}]"},

    /* column lineage */
    {"columnLineage: one entry per source dataset, TYPE/SUBTYPE, descriptions as the expression",
     RUN_EVENT(",'inputs':[{'namespace':'warehouse','name':'raw'},{'namespace':'crm','name':'customers'}],"
               "'outputs':[{'namespace':'warehouse','name':'orders','facets':{'columnLineage':{'fields':{"
               "'id':{'inputFields':[{'namespace':'warehouse','name':'raw','field':'order_id','transformations':"
               "[{'type':'DIRECT','subtype':'IDENTITY','description':'','masking':false}]}]},"
               "'total':{'inputFields':[{'namespace':'warehouse','name':'raw','field':'amount','transformations':"
               "[{'type':'DIRECT','subtype':'AGGREGATION','description':'sum(amount)'}]},"
               "{'namespace':'warehouse','name':'raw','field':'status','transformations':"
               "[{'type':'INDIRECT','subtype':'FILTER'}]}]},"
               "'customer':{'inputFields':[{'namespace':'crm','name':'customers','field':'email','transformations':"
               "[{'type':'DIRECT','subtype':'TRANSFORMATION','description':'sha256(email)','masking':true},"
               "{'type':'INDIRECT','subtype':'JOIN','description':'on customer_id'}]}]}}}}}]"),
     "lineage",
     "[{'source':" W_RAW ",'target':" W_ORDERS ",'job':" W_JOBREF ",'columns':["
     "{'source_field':'order_id','target_field':'id','transformation':'DIRECT/IDENTITY','expression':''},"
     "{'source_field':'amount','target_field':'total','transformation':'DIRECT/AGGREGATION',"
     "'expression':'sum(amount)'},"
     "{'source_field':'status','target_field':'total','transformation':'INDIRECT/FILTER','expression':''}]},"
     "{'source':{'namespace':'crm','name':'customers'},'target':" W_ORDERS ",'job':" W_JOBREF ",'columns':["
     "{'source_field':'email','target_field':'customer','transformation':'DIRECT/TRANSFORMATION, INDIRECT/JOIN',"
     "'expression':'sha256(email); on customer_id'}]}]"},
    {"columnLineage: TYPE without subtype, none at all, and the deprecated field-level members",
     OUT_FACETS("{'columnLineage':{'fields':{"
                "'a':{'inputFields':[{'namespace':'w','name':'src','field':'x','transformations':[{'type':'DIRECT'}]},"
                "{'namespace':'w','name':'src','field':'y'}]},"
                "'b':{'transformationType':'IDENTITY','transformationDescription':'identical',"
                "'inputFields':[{'namespace':'w','name':'src','field':'z','transformations':[]}]}}}}",
                "{}"),
     "lineage",
     "[{'source':{'namespace':'w','name':'src'},'target':" W_ORDERS ",'job':" W_JOBREF ",'columns':["
     "{'source_field':'x','target_field':'a','transformation':'DIRECT','expression':''},"
     "{'source_field':'y','target_field':'a','transformation':'','expression':''},"
     "{'source_field':'z','target_field':'b','transformation':'IDENTITY','expression':'identical'}]}]"},
    {"columnLineage: a source not among the inputs gets its own edge; the same pair twice merges",
     RUN_EVENT(
         ",'inputs':[{'namespace':'w','name':'in'}],'outputs':[{'namespace':'w','name':'out','facets':{"
         "'columnLineage':{'fields':{'c':{'inputFields':["
         "{'namespace':'w','name':'lookup','field':'k','transformations':[{'type':'DIRECT','subtype':'IDENTITY'}]},"
         "{'namespace':'w','name':'lookup','field':'k','transformations':[{'type':'INDIRECT','subtype':'SORT',"
         "'description':'order by k'}]},"
         "{'namespace':'w','name':'lookup','field':'k','transformations':[{'type':'DIRECT','subtype':'IDENTITY'}]}"
         "]}}}}}]"),
     "lineage",
     "[{'source':{'namespace':'w','name':'in'},'target':{'namespace':'w','name':'out'},'job':" W_JOBREF
     ",'columns':[]},"
     "{'source':{'namespace':'w','name':'lookup'},'target':{'namespace':'w','name':'out'},'job':" W_JOBREF
     ",'columns':[{'source_field':'k','target_field':'c','transformation':'DIRECT/IDENTITY, INDIRECT/SORT',"
     "'expression':'order by k'}]}]"},
    {"columnLineage: columns from the output itself are left out; dataset-level sources add edges",
     RUN_EVENT(",'outputs':[{'namespace':'w','name':'out','facets':{'columnLineage':{'fields':{"
               "'c':{'inputFields':[{'namespace':'w','name':'out','field':'a'}]}},"
               "'dataset':[{'namespace':'w','name':'filter_src','field':'flag','transformations':"
               "[{'type':'INDIRECT','subtype':'FILTER'}]},{'namespace':'w','name':'out','field':'x'}]}}}]"),
     "lineage",
     "[{'source':{'namespace':'w','name':'filter_src'},'target':{'namespace':'w','name':'out'},'job':" W_JOBREF
     ",'columns':[]}]"},
    {"columnLineage on an input is only kept raw",
     IN_FACETS("{'columnLineage':{'fields':{'c':{'inputFields':[{'namespace':'w','name':'x','field':'a'}]}}}}", "{}"),
     "lineage", "ABSENT"},
    {"columnLineage without fields", OUT_FACETS("{'columnLineage':{}}", "{}"), "lineage", "ABSENT"},

    /* DatasetEvent and JobEvent */
    {"DatasetEvent: the dataset's change set, no job, no run",
     "{'eventTime':'2024-05-01T10:00:00Z','producer':'p','schemaURL':'https://openlineage.io/spec/2-0-2/"
     "OpenLineage.json#/$defs/DatasetEvent','dataset':{'namespace':'s3://lake','name':'events/clicks',"
     "'facets':{'schema':{'fields':[{'name':'ts','type':'timestamp'}]},'documentation':{'description':'Clicks'}}}}",
     NULL,
     "{'source':'openlineage','datasets':[{'namespace':'s3://lake','name':'events/clicks','description':'Clicks',"
     "'fields':[{'name':'ts','type':'timestamp'}],'facets':{'schema':{'fields':[{'name':'ts','type':'timestamp'}]},"
     "'documentation':{'description':'Clicks'}}}]}"},
    {"DatasetEvent with column lineage and a lifecycle change: edges without a job",
     "{'eventTime':'2024-05-01T10:00:00Z','dataset':{'namespace':'w','name':'v','facets':{'columnLineage':{'fields':{"
     "'a':{'inputFields':[{'namespace':'w','name':'t','field':'a'}]}}},"
     "'lifecycleStateChange':{'lifecycleStateChange':'ALTER'}}}}",
     NULL,
     "{'source':'openlineage','datasets':[{'namespace':'w','name':'v','facets':{'columnLineage':{'fields':{"
     "'a':{'inputFields':[{'namespace':'w','name':'t','field':'a'}]}}},"
     "'lifecycleStateChange':{'lifecycleStateChange':'ALTER'}}}],"
     "'lineage':[{'source':{'namespace':'w','name':'t'},'target':{'namespace':'w','name':'v'},'job':null,"
     "'columns':[{'source_field':'a','target_field':'a','transformation':'','expression':''}]}],"
     "'lifecycle':[{'dataset':{'namespace':'w','name':'v'},'change':'ALTER'}]}"},
    {"JobEvent: job, datasets and lineage, no run",
     "{'eventTime':'2024-05-01T10:00:00Z','schemaURL':'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/"
     "JobEvent','job':{'namespace':'dbt://analytics','name':'model.orders','facets':{'sql':{'query':'select 1'}}},"
     "'inputs':[{'namespace':'snowflake://acme','name':'RAW.PUBLIC.ORDERS'}],"
     "'outputs':[{'namespace':'snowflake://acme','name':'ANALYTICS.PUBLIC.ORDERS'}]}",
     NULL,
     "{'source':'openlineage','datasets':[{'namespace':'snowflake://acme','name':'RAW.PUBLIC.ORDERS'},"
     "{'namespace':'snowflake://acme','name':'ANALYTICS.PUBLIC.ORDERS'}],"
     "'lineage':[{'source':{'namespace':'snowflake://acme','name':'RAW.PUBLIC.ORDERS'},"
     "'target':{'namespace':'snowflake://acme','name':'ANALYTICS.PUBLIC.ORDERS'},"
     "'job':{'namespace':'dbt://analytics','name':'model.orders'},'columns':[]}],"
     "'job':{'namespace':'dbt://analytics','name':'model.orders','sql':'select 1',"
     "'facets':{'sql':{'query':'select 1'}}}}"},
    {"a JobEvent with run null is a JobEvent",
     "{'eventTime':'2024-05-01T10:00:00Z','run':null,'job':{'namespace':'a','name':'b'}}", "run", "ABSENT"},
    {"unknown top-level members are ignored",
     "{'eventTime':'2024-05-01T10:00:00Z','job':{'namespace':'a','name':'b','extra':1},'vendor':{'x':1}}", NULL,
     "{'source':'openlineage','job':{'namespace':'a','name':'b','facets':{}}}"},
};

/* The member at path ("datasets[0].fields", "run.error_message") of v, borrowed, NULL when absent. */
static json_t *member_at(json_t *v, const char *path)
{
    char part[64];
    while (v != NULL && *path) {
        size_t n = strcspn(path, ".[");
        if (n > 0) {
            snprintf(part, sizeof(part), "%.*s", (int)n, path);
            v = json_object_get(v, part);
            path += n;
        }
        if (*path == '[') {
            v = json_array_get(v, strtoul(path + 1, NULL, 10));
            path = strchr(path, ']') + 1;
        }
        if (*path == '.')
            path++;
    }
    return v;
}

static void test_good(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(good_rows); i++) {
        const good_row_t *r = &good_rows[i];
        char label[160];
        mf_json_err_t err;
        snprintf(label, sizeof(label), "row %zu, %s", i, r->what);
        json_t *out = decode(jq(r->event), &err);
        if (out == NULL)
            MF_CHECK_STR(label, err.msg, "(decoded)");
        MF_CHECK_STR(label, json_string_value(json_object_get(out, "source")), "openlineage");
        json_t *got = r->member ? member_at(out, r->member) : out;
        if (strcmp(r->want, "ABSENT") == 0) {
            if (got != NULL)
                MF_CHECK_JSON(label, got, NULL);
        } else {
            json_t *want = jq(r->want);
            MF_CHECK_JSON(label, got, want);
            json_decref(want);
        }
        json_decref(out);
    }
}

/* ---------- invalid events ---------- */

typedef struct {
    const char *what;
    const char *event;
    const char *message; /* exact */
} bad_row_t;

static const bad_row_t bad_rows[] = {
    /* the kind of event and its required members */
    {"empty object", "{}", "the event must have run and job (RunEvent), job (JobEvent) or dataset (DatasetEvent)"},
    {"only eventTime", "{'eventTime':'2024-05-01T10:00:00Z'}",
     "the event must have run and job (RunEvent), job (JobEvent) or dataset (DatasetEvent)"},
    {"eventTime missing", "{'run':{'runId':'" RID "'}," JOB "}", "eventTime is required"},
    {"eventTime null", "{'eventTime':null,'run':{'runId':'" RID "'}," JOB "}", "eventTime is required"},
    {"eventTime a number", "{'eventTime':1714557600,'run':{'runId':'" RID "'}," JOB "}", "eventTime must be a string"},
    {"eventTime not a date", "{'eventTime':'yesterday at noon','run':{'runId':'" RID "'}," JOB "}",
     "eventTime must be an RFC 3339 date-time with an offset (2024-05-01T10:00:00Z)"},
    {"eventTime without an offset", "{'eventTime':'2024-05-01T10:00:00','run':{'runId':'" RID "'}," JOB "}",
     "eventTime must be an RFC 3339 date-time with an offset (2024-05-01T10:00:00Z)"},
    {"eventTime on February 30", "{'eventTime':'2023-02-29T10:00:00Z','run':{'runId':'" RID "'}," JOB "}",
     "eventTime must be an RFC 3339 date-time with an offset (2024-05-01T10:00:00Z)"},
    {"eventTime hour 24", "{'eventTime':'2024-05-01T24:00:00Z','run':{'runId':'" RID "'}," JOB "}",
     "eventTime must be an RFC 3339 date-time with an offset (2024-05-01T10:00:00Z)"},
    {"eventTime empty fraction", "{'eventTime':'2024-05-01T10:00:00.Z','run':{'runId':'" RID "'}," JOB "}",
     "eventTime must be an RFC 3339 date-time with an offset (2024-05-01T10:00:00Z)"},
    {"eventTime bad offset", "{'eventTime':'2024-05-01T10:00:00+0200','run':{'runId':'" RID "'}," JOB "}",
     "eventTime must be an RFC 3339 date-time with an offset (2024-05-01T10:00:00Z)"},
    {"eventType unknown", "{'eventType':'DONE','eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}," JOB "}",
     "eventType must be one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER"},
    {"eventType lowercase",
     "{'eventType':'complete','eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}," JOB "}",
     "eventType must be one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER"},
    {"eventType a number", "{'eventType':3,'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}," JOB "}",
     "eventType must be a string"},
    {"run not an object", "{'eventTime':'2024-05-01T10:00:00Z','run':'" RID "'," JOB "}", "run must be an object"},
    {"run.runId missing", "{'eventTime':'2024-05-01T10:00:00Z','run':{}," JOB "}", "run.runId is required"},
    {"run.runId null", "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':null}," JOB "}", "run.runId is required"},
    {"run.runId not a UUID", "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'run-42'}," JOB "}",
     "run.runId must be a UUID"},
    {"run.runId empty", "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':''}," JOB "}", "run.runId must be a UUID"},
    {"run.runId without dashes",
     "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'3b452093782c4ef29c0caafe2aa6f34d'}," JOB "}",
     "run.runId must be a UUID"},
    {"run.runId a number", "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':42}," JOB "}",
     "run.runId must be a string"},
    {"RunEvent without job", "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'}}", "job is required"},
    {"job not an object", "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'},'job':'etl'}",
     "job must be an object"},
    {"job.namespace missing", "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'},'job':{'name':'etl'}}",
     "job.namespace is required"},
    {"job.name missing", "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'},'job':{'namespace':'a'}}",
     "job.name is required"},
    {"job.name empty",
     "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'},'job':{'namespace':'a','name':''}}",
     "job.name must not be empty"},
    {"job.name with a newline",
     "{'eventTime':'2024-05-01T10:00:00Z','run':{'runId':'" RID "'},'job':{'namespace':'a','name':'x\\ny'}}",
     "job.name contains control characters or invalid UTF-8"},
    {"job.namespace a number", "{'eventTime':'2024-05-01T10:00:00Z','job':{'namespace':7,'name':'x'}}",
     "job.namespace must be a string"},
    {"DatasetEvent dataset null", "{'eventTime':'2024-05-01T10:00:00Z','dataset':null}", "dataset is required"},
    {"DatasetEvent dataset not an object", "{'eventTime':'2024-05-01T10:00:00Z','dataset':[]}",
     "dataset must be an object"},
    {"DatasetEvent dataset.name missing", "{'eventTime':'2024-05-01T10:00:00Z','dataset':{'namespace':'w'}}",
     "dataset.name is required"},
    {"DatasetEvent dataset.namespace missing", "{'eventTime':'2024-05-01T10:00:00Z','dataset':{'name':'w'}}",
     "dataset.namespace is required"},

    /* inputs and outputs */
    {"inputs not an array", RUN_EVENT(",'inputs':{'namespace':'a','name':'b'}"), "inputs must be an array"},
    {"outputs not an array", RUN_EVENT(",'outputs':'x'"), "outputs must be an array"},
    {"inputs[0] not an object", RUN_EVENT(",'inputs':['warehouse.raw']"), "inputs[0] must be an object"},
    {"inputs[0].name missing", RUN_EVENT(",'inputs':[{'namespace':'warehouse'}]"), "inputs[0].name is required"},
    {"inputs[1].namespace missing", RUN_EVENT(",'inputs':[{'namespace':'a','name':'b'},{'name':'c'}]"),
     "inputs[1].namespace is required"},
    {"outputs[0].name a number", RUN_EVENT(",'outputs':[{'namespace':'a','name':5}]"),
     "outputs[0].name must be a string"},
    {"outputs[0].name empty", RUN_EVENT(",'outputs':[{'namespace':'a','name':''}]"),
     "outputs[0].name must not be empty"},
    {"outputs[0].facets not an object", RUN_EVENT(",'outputs':[{'namespace':'a','name':'b','facets':[]}]"),
     "outputs[0].facets must be an object"},
    {"inputs[0].inputFacets not an object", RUN_EVENT(",'inputs':[{'namespace':'a','name':'b','inputFacets':1}]"),
     "inputs[0].inputFacets must be an object"},
    {"outputs[0].outputFacets not an object", RUN_EVENT(",'outputs':[{'namespace':'a','name':'b','outputFacets':'x'}]"),
     "outputs[0].outputFacets must be an object"},
    {"an empty facet name", RUN_EVENT(",'inputs':[{'namespace':'a','name':'b','facets':{'':{}}}]"),
     "inputs[0].facets has a facet name that is not 1-512 printable characters"},
    {"a facet name with a control character",
     RUN_EVENT(",'inputs':[{'namespace':'a','name':'b','facets':{'a\\u0001':{}}}]"),
     "inputs[0].facets has a facet name that is not 1-512 printable characters"},

    /* schema */
    {"schema not an object", OUT_FACETS("{'schema':'id int'}", "{}"), "outputs[0].facets.schema must be an object"},
    {"outputs[1].facets.schema.fields not an array",
     RUN_EVENT(",'outputs':[{'namespace':'a','name':'b'},{'namespace':'a','name':'c','facets':{'schema':{'fields':"
               "{'id':'int'}}}}]"),
     "outputs[1].facets.schema.fields must be an array"},
    {"schema field not an object", OUT_FACETS("{'schema':{'fields':['id']}}", "{}"),
     "outputs[0].facets.schema.fields[0] must be an object"},
    {"schema field name missing", OUT_FACETS("{'schema':{'fields':[{'name':'a'},{'type':'int'}]}}", "{}"),
     "outputs[0].facets.schema.fields[1].name is required"},
    {"schema field type a number", OUT_FACETS("{'schema':{'fields':[{'name':'a','type':4}]}}", "{}"),
     "outputs[0].facets.schema.fields[0].type must be a string"},
    {"schema field description an object", OUT_FACETS("{'schema':{'fields':[{'name':'a','description':{}}]}}", "{}"),
     "outputs[0].facets.schema.fields[0].description must be a string"},
    {"nested fields not an array", OUT_FACETS("{'schema':{'fields':[{'name':'a','fields':{}}]}}", "{}"),
     "outputs[0].facets.schema.fields[0].fields must be an array"},
    {"nested field name missing", OUT_FACETS("{'schema':{'fields':[{'name':'a','fields':[{'type':'int'}]}]}}", "{}"),
     "outputs[0].facets.schema.fields[0].fields[0].name is required"},
    {"duplicate field", OUT_FACETS("{'schema':{'fields':[{'name':'a'},{'name':'a'}]}}", "{}"),
     "outputs[0].facets.schema.fields[1].name \"a\" is a duplicate"},
    {"dotted name colliding with a nested one",
     OUT_FACETS("{'schema':{'fields':[{'name':'a.b'},{'name':'a','fields':[{'name':'b'}]}]}}", "{}"),
     "outputs[0].facets.schema.fields[1].fields[0].name \"a.b\" is a duplicate"},

    /* other dataset facets */
    {"documentation.description a number", OUT_FACETS("{'documentation':{'description':1}}", "{}"),
     "outputs[0].facets.documentation.description must be a string"},
    {"ownership.owners not an array", OUT_FACETS("{'ownership':{'owners':'team'}}", "{}"),
     "outputs[0].facets.ownership.owners must be an array"},
    {"ownership owner without a name", OUT_FACETS("{'ownership':{'owners':[{'type':'MAINTAINER'}]}}", "{}"),
     "outputs[0].facets.ownership.owners[0].name is required"},
    {"ownership owner not an object", OUT_FACETS("{'ownership':{'owners':['ann']}}", "{}"),
     "outputs[0].facets.ownership.owners[0] must be an object"},
    {"dataSource.uri a number", OUT_FACETS("{'dataSource':{'uri':5432}}", "{}"),
     "outputs[0].facets.dataSource.uri must be a string"},
    {"storage.fileFormat a list", OUT_FACETS("{'storage':{'fileFormat':['parquet']}}", "{}"),
     "outputs[0].facets.storage.fileFormat must be a string"},
    {"lifecycleStateChange unknown", OUT_FACETS("{'lifecycleStateChange':{'lifecycleStateChange':'DELETE'}}", "{}"),
     "outputs[0].facets.lifecycleStateChange.lifecycleStateChange must be one of ALTER, CREATE, DROP, OVERWRITE, "
     "RENAME, TRUNCATE"},
    {"lifecycleStateChange missing its change", OUT_FACETS("{'lifecycleStateChange':{}}", "{}"),
     "outputs[0].facets.lifecycleStateChange.lifecycleStateChange is required"},
    {"RENAME without previousIdentifier",
     OUT_FACETS("{'lifecycleStateChange':{'lifecycleStateChange':'RENAME'}}", "{}"),
     "outputs[0].facets.lifecycleStateChange.previousIdentifier is required for RENAME"},
    {"RENAME previousIdentifier without a name",
     OUT_FACETS("{'lifecycleStateChange':{'lifecycleStateChange':'RENAME','previousIdentifier':{'namespace':'w'}}}",
                "{}"),
     "outputs[0].facets.lifecycleStateChange.previousIdentifier.name is required"},
    {"previousIdentifier not an object",
     OUT_FACETS("{'lifecycleStateChange':{'lifecycleStateChange':'DROP','previousIdentifier':'w.a'}}", "{}"),
     "outputs[0].facets.lifecycleStateChange.previousIdentifier must be an object"},
    {"outputStatistics.rowCount negative", OUT_FACETS("{}", "{'outputStatistics':{'rowCount':-1}}"),
     "outputs[0].outputFacets.outputStatistics.rowCount must be between 0 and 9223372036854775807"},
    {"outputStatistics.rowCount a string", OUT_FACETS("{}", "{'outputStatistics':{'rowCount':'10'}}"),
     "outputs[0].outputFacets.outputStatistics.rowCount must be an integer"},
    {"outputStatistics.size a real", OUT_FACETS("{}", "{'outputStatistics':{'rowCount':1,'size':1.5}}"),
     "outputs[0].outputFacets.outputStatistics.size must be an integer"},
    {"outputStatistics not an object", OUT_FACETS("{}", "{'outputStatistics':12}"),
     "outputs[0].outputFacets.outputStatistics must be an object"},
    {"dataQualityMetrics.rowCount a string", IN_FACETS("{}", "{'dataQualityMetrics':{'rowCount':'many'}}"),
     "inputs[0].inputFacets.dataQualityMetrics.rowCount must be an integer"},
    {"dataQualityMetrics.columnMetrics not an object", IN_FACETS("{}", "{'dataQualityMetrics':{'columnMetrics':[]}}"),
     "inputs[0].inputFacets.dataQualityMetrics.columnMetrics must be an object"},
    {"dataQualityMetrics column metrics not an object",
     IN_FACETS("{}", "{'dataQualityMetrics':{'columnMetrics':{'id':5}}}"),
     "inputs[0].inputFacets.dataQualityMetrics.columnMetrics.id must be an object"},
    {"dataQualityAssertions.assertions not an array", IN_FACETS("{}", "{'dataQualityAssertions':{'assertions':{}}}"),
     "inputs[0].inputFacets.dataQualityAssertions.assertions must be an array"},
    {"assertion without success",
     IN_FACETS("{}", "{'dataQualityAssertions':{'assertions':[{'assertion':'not_null'}]}}"),
     "inputs[0].inputFacets.dataQualityAssertions.assertions[0].success is required"},
    {"assertion success a string",
     IN_FACETS("{}", "{'dataQualityAssertions':{'assertions':[{'assertion':'x','success':'yes'}]}}"),
     "inputs[0].inputFacets.dataQualityAssertions.assertions[0].success must be a boolean"},
    {"assertion without its name", IN_FACETS("{}", "{'dataQualityAssertions':{'assertions':[{'success':true}]}}"),
     "inputs[0].inputFacets.dataQualityAssertions.assertions[0].assertion is required"},

    /* column lineage */
    {"columnLineage.fields not an object", OUT_FACETS("{'columnLineage':{'fields':[]}}", "{}"),
     "outputs[0].facets.columnLineage.fields must be an object"},
    {"columnLineage field not an object", OUT_FACETS("{'columnLineage':{'fields':{'a':[]}}}", "{}"),
     "outputs[0].facets.columnLineage.fields.a must be an object"},
    {"inputFields not an array", OUT_FACETS("{'columnLineage':{'fields':{'a':{'inputFields':{}}}}}", "{}"),
     "outputs[0].facets.columnLineage.fields.a.inputFields must be an array"},
    {"input field without field",
     OUT_FACETS("{'columnLineage':{'fields':{'a':{'inputFields':[{'namespace':'w','name':'t'}]}}}}", "{}"),
     "outputs[0].facets.columnLineage.fields.a.inputFields[0].field is required"},
    {"input field without name",
     OUT_FACETS("{'columnLineage':{'fields':{'a':{'inputFields':[{'namespace':'w','field':'x'}]}}}}", "{}"),
     "outputs[0].facets.columnLineage.fields.a.inputFields[0].name is required"},
    {"transformations not an array",
     OUT_FACETS("{'columnLineage':{'fields':{'a':{'inputFields':[{'namespace':'w','name':'t','field':'x',"
                "'transformations':'DIRECT'}]}}}}",
                "{}"),
     "outputs[0].facets.columnLineage.fields.a.inputFields[0].transformations must be an array"},
    {"transformation without type",
     OUT_FACETS("{'columnLineage':{'fields':{'a':{'inputFields':[{'namespace':'w','name':'t','field':'x',"
                "'transformations':[{'subtype':'IDENTITY'}]}]}}}}",
                "{}"),
     "outputs[0].facets.columnLineage.fields.a.inputFields[0].transformations[0].type is required"},
    {"transformation type with a space",
     OUT_FACETS("{'columnLineage':{'fields':{'a':{'inputFields':[{'namespace':'w','name':'t','field':'x',"
                "'transformations':[{'type':'DIRECT COPY'}]}]}}}}",
                "{}"),
     "outputs[0].facets.columnLineage.fields.a.inputFields[0].transformations[0].type must be a word of letters, "
     "digits and _.:/- (DIRECT, INDIRECT)"},
    {"transformation subtype with a space",
     OUT_FACETS("{'columnLineage':{'fields':{'a':{'inputFields':[{'namespace':'w','name':'t','field':'x',"
                "'transformations':[{'type':'DIRECT','subtype':'GROUP BY'}]}]}}}}",
                "{}"),
     "outputs[0].facets.columnLineage.fields.a.inputFields[0].transformations[0].subtype must be a word of letters, "
     "digits and _.:/- (IDENTITY, AGGREGATION)"},
    {"transformation masking a string",
     OUT_FACETS("{'columnLineage':{'fields':{'a':{'inputFields':[{'namespace':'w','name':'t','field':'x',"
                "'transformations':[{'type':'DIRECT','masking':'yes'}]}]}}}}",
                "{}"),
     "outputs[0].facets.columnLineage.fields.a.inputFields[0].transformations[0].masking must be a boolean"},
    {"columnLineage.dataset not an array", OUT_FACETS("{'columnLineage':{'dataset':{}}}", "{}"),
     "outputs[0].facets.columnLineage.dataset must be an array"},
    {"columnLineage.dataset entry without namespace",
     OUT_FACETS("{'columnLineage':{'dataset':[{'name':'t','field':'x'}]}}", "{}"),
     "outputs[0].facets.columnLineage.dataset[0].namespace is required"},

    /* run and job facets */
    {"run.facets not an object", RUN_FACETS("[]"), "run.facets must be an object"},
    {"parent not an object", RUN_FACETS("{'parent':'x'}"), "run.facets.parent must be an object"},
    {"parent without run", RUN_FACETS("{'parent':{'job':{'namespace':'a','name':'b'}}}"),
     "run.facets.parent.run is required"},
    {"parent run.runId not a UUID", RUN_FACETS("{'parent':{'run':{'runId':'x'},'job':{'namespace':'a','name':'b'}}}"),
     "run.facets.parent.run.runId must be a UUID"},
    {"parent without job", RUN_FACETS("{'parent':{'run':{'runId':'" RID "'}}}"), "run.facets.parent.job is required"},
    {"parent job without name", RUN_FACETS("{'parent':{'run':{'runId':'" RID "'},'job':{'namespace':'a'}}}"),
     "run.facets.parent.job.name is required"},
    {"nominalStartTime not a time", RUN_FACETS("{'nominalTime':{'nominalStartTime':'today'}}"),
     "run.facets.nominalTime.nominalStartTime must be an RFC 3339 date-time with an offset (2024-05-01T10:00:00Z)"},
    {"nominalEndTime a number",
     RUN_FACETS("{'nominalTime':{'nominalStartTime':'2024-05-01T00:00:00Z','nominalEndTime':1}}"),
     "run.facets.nominalTime.nominalEndTime must be a string"},
    {"errorMessage.message a number", RUN_FACETS("{'errorMessage':{'message':500}}"),
     "run.facets.errorMessage.message must be a string"},
    {"job.facets not an object", JOB_FACETS("'sql'"), "job.facets must be an object"},
    {"job sql facet not an object", JOB_FACETS("{'sql':'select 1'}"), "job.facets.sql must be an object"},
    {"job sql query a number", JOB_FACETS("{'sql':{'query':1}}"), "job.facets.sql.query must be a string"},
    {"job documentation description a list", JOB_FACETS("{'documentation':{'description':['a']}}"),
     "job.facets.documentation.description must be a string"},
};

static void test_bad(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(bad_rows); i++) {
        const bad_row_t *r = &bad_rows[i];
        char label[160];
        mf_json_err_t err;
        snprintf(label, sizeof(label), "row %zu, %s", i, r->what);
        json_t *out = decode(jq(r->event), &err);
        if (out != NULL) {
            MF_CHECK_JSON(label, out, NULL);
            json_decref(out);
        }
        MF_CHECK_STR(label, err.msg, r->message);
    }
}

static void test_not_an_object(void **state)
{
    mf_json_err_t err;
    json_t *arr = json_array();
    MF_CHECK_INT("array", mf_ingest_from_openlineage(arr, &err) == NULL, 1);
    MF_CHECK_STR("array", err.msg, "the event must be a JSON object");
    MF_CHECK_INT("NULL", mf_ingest_from_openlineage(NULL, &err) == NULL, 1);
    MF_CHECK_STR("NULL", err.msg, "the event must be a JSON object");
    json_decref(arr);
}

/* ---------- naming conventions ---------- */

typedef struct {
    const char *ns;
    const char *name;
} naming_row_t;

/* From the OpenLineage naming specification: namespaces and names pass through unchanged. */
static const naming_row_t naming_rows[] = {
    {"postgres://db.example.com:5432", "shop.public.orders"},
    {"mysql://db.example.com:3306", "shop.orders"},
    {"redshift://examplecluster.abc123.us-west-2:5439", "dev.public.users"},
    {"s3://my-bucket", "warehouse/orders/2024"},
    {"gs://my-bucket", "path/to/file.parquet"},
    {"abfss://container@account.dfs.core.windows.net", "path/to/data"},
    {"hdfs://namenode:8020", "/user/hive/warehouse/orders"},
    {"file", "/data/exports/orders.csv"},
    {"bigquery", "my-project.analytics.orders"},
    {"kafka://broker-1.example.com:9092", "orders-topic"},
    {"snowflake://acme-eu_west", "ANALYTICS.PUBLIC.ORDERS"},
    {"trino://trino.example.com:8080", "hive.default.orders"},
    {"hive://metastore.example.com:9083", "default.orders"},
    {"sqlserver://db.example.com:1433", "shop.dbo.orders"},
    {"awsathena://athena.us-east-1.amazonaws.com", "AwsDataCatalog.db.orders"},
    {"azurecosmos://account.documents.azure.com/dbs/shop", "colls/orders"},
    {"dbfs", "/mnt/lake/orders"},
};

static void test_naming(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(naming_rows); i++) {
        const naming_row_t *r = &naming_rows[i];
        char label[160];
        mf_json_err_t err;
        snprintf(label, sizeof(label), "row %zu, %s", i, r->ns);
        json_t *ev = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s},s:[{s:s,s:s}],s:[{s:s,s:s}]}", "eventType", "COMPLETE",
                               "eventTime", "2024-05-01T10:00:00Z", "run", "runId", RID, "job", "namespace", r->ns,
                               "name", "job.name", "inputs", "namespace", r->ns, "name", r->name, "outputs",
                               "namespace", "bigquery", "name", "proj.ds.target");
        json_t *out = decode(ev, &err);
        if (out == NULL)
            MF_CHECK_STR(label, err.msg, "(decoded)");
        json_t *want = json_pack("{s:s,s:s}", "namespace", r->ns, "name", r->name);
        MF_CHECK_JSON(label, member_at(out, "datasets[0]"), want);
        MF_CHECK_JSON(label, member_at(out, "lineage[0].source"), want);
        MF_CHECK_JSON(label, member_at(out, "run.inputs[0]"), want);
        MF_CHECK_STR(label, json_string_value(member_at(out, "job.namespace")), r->ns);
        MF_CHECK_STR(label, json_string_value(member_at(out, "lineage[0].job.namespace")), r->ns);
        json_decref(want);
        json_decref(out);
    }
}

/* ---------- limits ---------- */

/* A RunEvent with n_in inputs and n_out outputs named i<k> and o<k>. */
static json_t *many_datasets(size_t n_in, size_t n_out)
{
    json_t *ev = jq(RUN_EVENT(""));
    json_t *in = json_array(), *out = json_array();
    for (size_t i = 0; i < n_in; i++) {
        char name[32];
        snprintf(name, sizeof(name), "i%zu", i);
        json_array_append_new(in, json_pack("{s:s,s:s}", "namespace", "w", "name", name));
    }
    for (size_t i = 0; i < n_out; i++) {
        char name[32];
        snprintf(name, sizeof(name), "o%zu", i);
        json_array_append_new(out, json_pack("{s:s,s:s}", "namespace", "w", "name", name));
    }
    json_object_set_new(ev, "inputs", in);
    json_object_set_new(ev, "outputs", out);
    return ev;
}

static void test_limit_datasets(void **state)
{
    mf_json_err_t err;
    json_t *out = decode(many_datasets(1000, 1), &err);
    if (out == NULL)
        MF_CHECK_STR("1000 inputs", err.msg, "(decoded)");
    MF_CHECK_INT("1000 inputs", json_array_size(json_object_get(out, "datasets")), 1001);
    MF_CHECK_INT("1000 inputs", json_array_size(json_object_get(out, "lineage")), 1000);
    json_decref(out);

    out = decode(many_datasets(1001, 0), &err);
    MF_CHECK_INT("1001 inputs", out == NULL, 1);
    MF_CHECK_STR("1001 inputs", err.msg, "inputs has too many elements (at most 1000)");
    out = decode(many_datasets(0, 1001), &err);
    MF_CHECK_INT("1001 outputs", out == NULL, 1);
    MF_CHECK_STR("1001 outputs", err.msg, "outputs has too many elements (at most 1000)");

    out = decode(many_datasets(100, 100), &err);
    if (out == NULL)
        MF_CHECK_STR("100 x 100", err.msg, "(decoded)");
    MF_CHECK_INT("100 x 100", json_array_size(json_object_get(out, "lineage")), 10000);
    json_decref(out);
    out = decode(many_datasets(101, 100), &err);
    MF_CHECK_INT("101 x 100", out == NULL, 1);
    MF_CHECK_STR("101 x 100", err.msg,
                 "the event has too many lineage edges (at most 10000: inputs x outputs and column lineage sources)");
}

static void test_limit_names(void **state)
{
    mf_json_err_t err;
    char *n512 = mf_t_repeat('n', 512), *n513 = mf_t_repeat('n', 513);
    json_t *ev = jq(RUN_EVENT(""));
    json_object_set_new(ev, "inputs", json_pack("[{s:s,s:s}]", "namespace", n512, "name", n512));
    json_t *out = decode(ev, &err);
    if (out == NULL)
        MF_CHECK_STR("512-byte names", err.msg, "(decoded)");
    MF_CHECK_STR("512-byte names", json_string_value(member_at(out, "datasets[0].name")), n512);
    json_decref(out);

    ev = jq(RUN_EVENT(""));
    json_object_set_new(ev, "inputs", json_pack("[{s:s,s:s}]", "namespace", "w", "name", n513));
    MF_CHECK_INT("513-byte name", decode(ev, &err) == NULL, 1);
    MF_CHECK_STR("513-byte name", err.msg, "inputs[0].name is too long (at most 512 characters)");

    ev = jq(RUN_EVENT(""));
    json_object_set_new(json_object_get(ev, "job"), "namespace", json_string(n513));
    MF_CHECK_INT("513-byte job namespace", decode(ev, &err) == NULL, 1);
    MF_CHECK_STR("513-byte job namespace", err.msg, "job.namespace is too long (at most 512 characters)");

    /* a dotted name longer than a name may be */
    char *n300 = mf_t_repeat('f', 300);
    ev = jq(OUT_FACETS("{'schema':{'fields':[]}}", "{}"));
    json_array_append_new(member_at(ev, "outputs[0].facets.schema.fields"),
                          json_pack("{s:s,s:[{s:s}]}", "name", n300, "fields", "name", n300));
    MF_CHECK_INT("dotted name too long", decode(ev, &err) == NULL, 1);
    MF_CHECK_STR("dotted name too long", err.msg,
                 "outputs[0].facets.schema.fields[0].fields[0].name makes the dotted field name longer than 512 "
                 "characters");
    free(n300);
    free(n512);
    free(n513);
}

/* A schema facet nested depth levels deep (one field per level). */
static json_t *nested_event(int depth)
{
    json_t *ev = jq(OUT_FACETS("{'schema':{}}", "{}"));
    json_t *fields = json_array(), *level = fields;
    for (int d = 0; d < depth; d++) {
        char name[16];
        snprintf(name, sizeof(name), "l%d", d);
        json_t *sub = json_array();
        json_t *f = json_pack("{s:s,s:s}", "name", name, "type", "struct");
        if (d + 1 < depth)
            json_object_set(f, "fields", sub);
        json_array_append_new(level, f);
        json_decref(sub);
        level = sub;
    }
    json_object_set_new(member_at(ev, "outputs[0].facets.schema"), "fields", fields);
    return ev;
}

static void test_limit_schema(void **state)
{
    mf_json_err_t err;
    json_t *out = decode(nested_event(16), &err);
    if (out == NULL)
        MF_CHECK_STR("16 levels", err.msg, "(decoded)");
    json_t *fields = member_at(out, "datasets[0].fields");
    MF_CHECK_INT("16 levels", json_array_size(fields), 16);
    MF_CHECK_STR("16 levels", json_string_value(member_at(fields, "[15].name")),
                 "l0.l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11.l12.l13.l14.l15");
    json_decref(out);

    out = decode(nested_event(17), &err);
    MF_CHECK_INT("17 levels", out == NULL, 1);
    MF_CHECK_CONTAINS("17 levels", err.msg, "is nested deeper than 16 levels");
    MF_CHECK_CONTAINS("17 levels", err.msg, "outputs[0].facets.schema.fields[0].fields[0].");

    /* MF_FIELDS_MAX counts the flattened fields */
    json_t *ev = jq(OUT_FACETS("{'schema':{}}", "{}"));
    json_t *top = json_array();
    for (int p = 0; p < 2; p++) {
        json_t *kids = json_array();
        for (int k = 0; k < 5000; k++) {
            char name[16];
            snprintf(name, sizeof(name), "c%d", k);
            json_array_append_new(kids, json_pack("{s:s}", "name", name));
        }
        json_array_append_new(top, json_pack("{s:s,s:o}", "name", p ? "b" : "a", "fields", kids));
    }
    json_object_set_new(member_at(ev, "outputs[0].facets.schema"), "fields", top);
    MF_CHECK_INT("10002 flattened fields", decode(ev, &err) == NULL, 1);
    MF_CHECK_STR("10002 flattened fields", err.msg,
                 "outputs[0].facets.schema.fields[1].fields[4998]: the schema has too many fields (at most 10000, "
                 "nested ones included)");
}

static void test_long_error_message(void **state)
{
    mf_json_err_t err;
    /* a 70,000-byte message of 3-byte characters is cut on a character boundary */
    size_t n = 70000 / 3;
    char *msg = malloc(n * 3 + 1);
    assert_non_null(msg);
    for (size_t i = 0; i < n; i++)
        memcpy(msg + 3 * i, "\xe2\x82\xac", 3);
    msg[n * 3] = '\0';
    json_t *ev = jq(RUN_FACETS("{'errorMessage':{}}"));
    json_object_set_new(member_at(ev, "run.facets.errorMessage"), "message", json_string(msg));
    json_t *out = decode(ev, &err);
    if (out == NULL)
        MF_CHECK_STR("long message", err.msg, "(decoded)");
    json_t *got = member_at(out, "run.error_message");
    MF_CHECK_INT("long message", json_string_length(got), 65535);
    MF_CHECK_MEM("long message", json_string_value(got), 65535, msg, 65535);
    MF_CHECK_INT("long message kept raw", json_string_length(member_at(out, "run.facets.errorMessage.message")), n * 3);
    json_decref(out);
    free(msg);
}

/* A message quoting the event's text cut short never splits a character. */
static void test_message_utf8(void **state)
{
    mf_json_err_t err;
    char name[121];
    for (int i = 0; i < 40; i++)
        memcpy(name + 3 * i, "\xe2\x82\xac", 3);
    name[120] = '\0';
    json_t *ev = jq(OUT_FACETS("{'schema':{'fields':[]}}", "{}"));
    json_t *fields = member_at(ev, "outputs[0].facets.schema.fields");
    json_array_append_new(fields, json_pack("{s:s}", "name", name));
    json_array_append_new(fields, json_pack("{s:s}", "name", name));
    MF_CHECK_INT("duplicate long name", decode(ev, &err) == NULL, 1);
    char want[300];
    snprintf(want, sizeof(want), "outputs[0].facets.schema.fields[1].name \"%.99s?\" is a duplicate", name);
    MF_CHECK_STR("duplicate long name", err.msg, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_naming),
        cmocka_unit_test(test_limit_datasets),
        cmocka_unit_test(test_limit_names),
        cmocka_unit_test(test_limit_schema),
        cmocka_unit_test(test_long_error_message),
        cmocka_unit_test(test_message_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
