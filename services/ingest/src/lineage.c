/*
 * lineage.c: POST /api/v1/lineage, the OpenLineage HTTP transport's endpoint
 * (RunEvent, DatasetEvent, JobEvent), so Airflow, Spark, dbt-ol and Flink
 * integrations post to MetaFuse unchanged.
 */
#include "ingest.h"
#include "mf/http.h"
#include "mf/ingest.h"
#include "mf/ingest_queue.h"
#include "mf/util.h"

static void post_lineage(mf_req_t *r)
{
    if (mf_ingest_writer_or_respond(r, "POST /api/v1/lineage") != 0)
        return;
    mf_ingest_judge_decoded(r, mf_ingest_from_openlineage);
}

static const mf_route_t routes[] = {
    {"POST", "/api/v1/lineage", MF_ROLE_EDITOR, post_lineage, MF_BODY_JSON},
};

void mf_ingest_register_lineage(void) { mf_http_add_routes(routes, MF_ARRAY_SIZE(routes)); }
