/*
 * ingest.h: decoders of what pipelines post, into one normalized ingest event.
 *
 * mf-ingest serve decodes a body with one of these functions, adds the
 * envelope (event_id, tenant_id, actor, request_id, received_at) and puts the
 * event on the Redis stream; mf-ingest work applies it through the catalog
 * write path (SQL mf_apply_event, which calls mf_apply_dataset per dataset).
 * Decoders only produce events; they never write.
 *
 * An ingest event is a JSON object; every member but "source" may be absent:
 *
 *   "source":   "emit" | "openlineage" | "dbt" | "great_expectations" | "iceberg" | "delta"
 *   "datasets": [changeset]          catalog.h change sets, applied in MERGE mode (omitted
 *                                    members keep their value). A change set may also carry
 *                                    "facets": {name: object}, raw facets stored on the dataset
 *                                    as they came (merged by name).
 *   "lineage":  [{"source": ref, "target": ref, "job": ref|null,
 *                 "columns": [{"source_field","target_field","transformation","expression"}]}]
 *               ref = {"namespace","name"}; unknown datasets become placeholders.
 *   "job":      {"namespace","name","description"?,"sql"?,"facets":{...}}
 *   "run":      {"run_id" (uuid text),"state" (START|RUNNING|COMPLETE|ABORT|FAIL|OTHER),
 *                "event_time" (RFC 3339),"started_at"?,"ended_at"?,"nominal_start"?,"nominal_end"?,
 *                "parent": {"run_id","job": ref}?, "error_message"?,
 *                "inputs": [ref], "outputs": [ref], "facets": {...}}
 *   "lifecycle": [{"dataset": ref, "change": "DROP"|"RENAME"|"CREATE"|"ALTER"|"OVERWRITE"|"TRUNCATE",
 *                  "new_name": ref?}]
 *   "quality":  [{"dataset": ref, "metrics": {...}?, "assertions": [...]?}]
 *   "profiles": [{"dataset": ref, "row_count"?, "columns": {field: {"null_count"?, "distinct_count"?,
 *                 "min"?, "max"?, "samples"?: [text]}}}]
 *               column profiles kept over time; samples are only classified, never stored
 *               (docs/classification.md)
 */
#ifndef MF_INGEST_H
#define MF_INGEST_H

#include <jansson.h>
#include "mf/json.h"

/* Largest accepted event (bytes of JSON) and batch size. */
#define MF_INGEST_MAX_EVENT (5 * 1024 * 1024)
#define MF_INGEST_MAX_BATCH 1000

/*
 * The MetaFuse emit format: {"dataset": <dataset body of POST /api/v1/datasets>,
 * "column_lineage": [{"source": name|{namespace,name}, "source_field", "target_field",
 * "transformation"?, "expression"?}], "run": {"run_id"?, "job"?: name|{namespace,name},
 * "state"?, "started_at"?, "ended_at"?, "error_message"?}, "profile"?: {"row_count"?, "columns":
 * {field: {"null_count"?, "distinct_count"?, "min"?, "max"?, "samples"?}}}}. New event or NULL with err.
 */
json_t *mf_ingest_from_emit(json_t *body, mf_json_err_t *err);

/*
 * An OpenLineage 2.x RunEvent, DatasetEvent or JobEvent (told apart by their
 * members: run+job, dataset, job without run). New event or NULL with err
 * naming the field ("run.runId is required"). Unknown facets are kept, never
 * rejected.
 */
json_t *mf_ingest_from_openlineage(json_t *event, mf_json_err_t *err);

#endif
