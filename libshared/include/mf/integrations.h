/*
 * integrations.h: what data teams already have (dbt projects, Great
 * Expectations validation results, Iceberg and Delta Lake table metadata)
 * decoded into ingest events (ingest.h) for the one write path.
 *
 * Each decoder takes the tool's own document and returns a new JSON array of
 * ingest events whose "source" is "dbt", "great_expectations", "iceberg" or
 * "delta". They never write: mf-api applies the events in one transaction
 * (SQL mf_integration_apply), mf-ingest queues them for its worker. Besides
 * ingest.h's members, a change set in "datasets" may carry "revision": a
 * string naming one past state of the table in its own history
 * ("iceberg:schema:3", "delta:schema:12"). The write path applies a revised
 * change set once per dataset (migrations/0014_integrations.sql): a revision
 * applied before is skipped, so importing the same table again adds no schema
 * version, while each schema the table gained in between becomes one; onto a
 * dataset that existed before without revisions (written by other sources),
 * past states are only recorded, since history cannot be inserted behind the
 * versions it already has. The last change set of a table, its current state,
 * carries no revision and is applied every time.
 *
 * Errors name the place in the input ("nodes[\"model.shop.orders\"].columns
 * must be an object"). Every decoder bounds what it accepts
 * (MF_INTEGRATION_MAX_DATASETS, MF_FIELDS_MAX, nesting depth) so a hostile
 * document is refused rather than expanded.
 */
#ifndef MF_INTEGRATIONS_H
#define MF_INTEGRATIONS_H

#include <jansson.h>
#include "mf/http.h"
#include "mf/json.h"

/* The most datasets one import writes, and the most quality assertions per dataset. */
#define MF_INTEGRATION_MAX_DATASETS 20000
#define MF_INTEGRATION_MAX_ASSERTIONS 10000
/* The most bytes read from the server's files for one import (path mode). */
#define MF_INTEGRATION_MAX_READ (64 * 1024 * 1024)

typedef enum {
    MF_INTEGRATION_DBT,
    MF_INTEGRATION_GREAT_EXPECTATIONS,
    MF_INTEGRATION_ICEBERG,
    MF_INTEGRATION_DELTA,
} mf_integration_kind_t;

/* Where the imported datasets go. Borrowed strings; NULL members take the defaults. */
typedef struct {
    const char *ns;   /* namespace of every dataset ("default") */
    const char *name; /* the table's dataset name (Iceberg, Delta, Great Expectations); NULL: from the document */
} mf_integration_opts_t;

/*
 * dbt: {"manifest": {...}, "run_results"?: {...}, "catalog"?: {...}}, or a
 * bare manifest.json (schema v7-v12). Models, seeds, snapshots and sources
 * become datasets (relation database.schema.alias as the name; columns,
 * descriptions, tags, meta.owner, meta.domain, materialization and dbt facts
 * in facets "dbt"), exposures become datasets of format "exposure:<type>",
 * depends_on becomes upstream lineage, and with run_results each test's
 * outcome becomes a quality assertion of its model (and column) under one
 * run of job "dbt:<project>". New array of events, or NULL with err.
 */
json_t *mf_integration_from_dbt(json_t *body, const mf_integration_opts_t *opts, mf_json_err_t *err);

/*
 * A Great Expectations validation result (ExpectationSuiteValidationResult,
 * 0.15-1.x): one quality result for the validated asset with its statistics as
 * metrics and one assertion per expectation (column when it has one), under a
 * run of job "great_expectations:<suite>" at the validation's run time. The
 * dataset is opts->name, else the batch's data_asset_name. New array or NULL.
 */
json_t *mf_integration_from_ge(json_t *body, const mf_integration_opts_t *opts, mf_json_err_t *err);

/*
 * An Iceberg table's metadata.json (format version 1 or 2): the current
 * schema as fields (field ids, partition spec, snapshots with their summaries
 * and the table's properties in facets "iceberg"), every schema as one
 * revision in schema-id order (all but the current one), the current snapshot's totals as row count and
 * size. The dataset is opts->name, else the last segment of the location.
 */
json_t *mf_integration_from_iceberg(json_t *metadata, const mf_integration_opts_t *opts, mf_json_err_t *err);

/*
 * A Delta Lake table's _delta_log as an array of commits, each
 * {"version": N, "actions": [action, ...]} or {"version": N, "content": "<the
 * commit file's NDJSON>"}, from version 0 on (checkpoints are not read). The
 * latest schema as fields, partition columns, live files' record counts and
 * sizes, the commit history in facets "delta", every schema change as one
 * revision (all but the latest). The dataset is opts->name, else metaData.name.
 */
json_t *mf_integration_from_delta(json_t *commits, const mf_integration_opts_t *opts, mf_json_err_t *err);

/*
 * Read what the path member of an import names, under root/<tenant_id>/
 * (both realpath-resolved: nothing outside that folder is read, links
 * included): an Iceberg metadata file or table folder (the newest
 * metadata/NNN.metadata.json, or what version-hint.text names), a Delta table
 * folder (its _delta_log/NNN.json commits), a dbt target folder
 * (manifest.json, and run_results.json and catalog.json when present), or a
 * JSON file. *out gets the document the matching decoder takes (new).
 * Blocking: call from a worker thread. 0, or MF_EINVALID_REQUEST /
 * MF_ENOT_FOUND with err.
 */
int mf_integration_read_path(mf_integration_kind_t kind, const char *root, const char *tenant_id, const char *rel,
                             json_t **out, mf_json_err_t *err) MF_MUST_CHECK;

/*
 * The same reading of a local path, without the tenant folder (the metafuse
 * CLI, which uploads what it reads). 0, or MF_EINVALID_REQUEST with err.
 */
int mf_integration_read_local(mf_integration_kind_t kind, const char *path, json_t **out,
                              mf_json_err_t *err) MF_MUST_CHECK;

/*
 * The handler part every service shares: read the request's options
 * (?namespace=, ?name=), its body (a JSON document of the kind, for Delta also
 * a JSON array or NDJSON of commits, or {"path": ...} when root is non-empty,
 * read on a worker thread) and decode it; then call done(r, kind, events)
 * on the loop thread (events new, owned by done; skipped when the client
 * left) or answer 400 / 404 / 415 itself.
 */
typedef void (*mf_integration_done_fn)(mf_req_t *r, mf_integration_kind_t kind, json_t *events);
void mf_integration_decode_request(mf_req_t *r, mf_integration_kind_t kind, const char *root,
                                   mf_integration_done_fn done);

/* The "source" of the kind's events ("dbt", "great_expectations", "iceberg", "delta"). */
const char *mf_integration_source(mf_integration_kind_t kind);

/* ---- for the decoders (integrations.c) ---- */

/* A new empty event {"source", "datasets": [], "lineage": [], "quality": []}. */
json_t *mf_integration__event(const char *source);
/* Validate body as a catalog change set (catalog.h) and append it to event's datasets with the
 * extra members facets/revision (borrowed, may be NULL); the message names `where`. 0 or error. */
int mf_integration__add_dataset(json_t *event, json_t *body, json_t *facets, const char *revision, const char *where,
                                mf_json_err_t *err) MF_MUST_CHECK;
/* text made into a tag (invalid characters become '-', at most MF_TAG_MAX bytes), or NULL when
 * nothing is left. New string. */
json_t *mf_integration__tag(const char *text);
/* A UUID derived from text (SHA-256 based, stable: the same text gives the same id) into out. */
void mf_integration__uuid(const char *text, char out[37]);
/* A JSON string member of obj when it is a non-empty clean string of at most max bytes, else NULL. */
const char *mf_integration__str(json_t *obj, const char *key, size_t max);
/* len bytes of NDJSON (one JSON object per line; blank lines skipped) into a new array, or NULL
 * with err "<where> line N: ...". */
json_t *mf_integration__ndjson(const char *p, size_t len, const char *where, mf_json_err_t *err);
/* How a format spells its nested types: {"type": "struct", "fields": [{"name", "type"}]},
 * {"type": <list>, <element>: T}, {"type": "map", <key>: T, <value>: T}. */
typedef struct {
    const char *list, *element, *key, *value;
} mf_integration_types_t;
/* A field type (a name, or a nested type object at most 16 deep) printed as the formats print it
 * ("struct<a: int, b: list<string>>", "map<string, long>") as a new JSON string of at most
 * MF_NAME_MAX bytes, or NULL with err naming where. */
json_t *mf_integration__type_text(json_t *type, const mf_integration_types_t *names, const char *where,
                                  mf_json_err_t *err);
/* Milliseconds since the epoch as RFC 3339 UTC into out (>= 32 bytes). */
void mf_integration__ms_time(long long ms, char out[32]);
/* The namespace of opts ("default"). */
const char *mf_integration__ns(const mf_integration_opts_t *opts);

#endif
