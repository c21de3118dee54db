"""Documents in the tools' own formats for test_integrations.py, built the way
the tools write them (dbt manifest v12 / run_results v6 / catalog v1, a Great
Expectations 0.18 validation result, an Iceberg v2 metadata.json, a Delta
transaction log), small enough to read."""

import json

MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"
RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json"
CATALOG_SCHEMA = "https://schemas.getdbt.com/dbt/catalog/v1.json"


def _model(name, schema, deps, materialized="table", columns=None, meta=None, tags=None, description=""):
    return {
        "resource_type": "model", "name": name, "package_name": "shop", "unique_id": "model.shop." + name,
        "database": "analytics", "schema": schema, "alias": name, "description": description,
        "relation_name": '"analytics"."%s"."%s"' % (schema, name), "original_file_path": "models/%s.sql" % name,
        "tags": tags or [], "meta": meta or {},
        "config": {"enabled": True, "materialized": materialized, "tags": [], "meta": {}},
        "columns": columns or {}, "depends_on": {"macros": [], "nodes": deps},
    }


def _test(uid, kind, model, column):
    return {
        "resource_type": "test", "name": uid.split(".")[2], "package_name": "shop", "unique_id": uid,
        "attached_node": model, "column_name": column,
        "test_metadata": {"name": kind, "kwargs": {"column_name": column, "model": "{{ ref('x') }}"},
                          "namespace": None},
        "config": {"severity": "ERROR"}, "depends_on": {"macros": [], "nodes": [model]},
    }


def dbt_manifest(owner="data-eng", domain=None, extra_column=None):
    """sources, a seed, two models, two tests and an exposure."""
    meta = {"owner": owner}
    if domain:
        meta["domain"] = domain
    customer_cols = {"id": {"name": "id", "description": "customer id", "data_type": "bigint", "tags": ["pk"],
                            "meta": {}},
                     "email": {"name": "email", "description": "", "data_type": "text", "tags": ["pii"], "meta": {}}}
    if extra_column:
        customer_cols[extra_column] = {"name": extra_column, "description": "", "data_type": "text", "tags": [],
                                       "meta": {}}
    nodes = {
        "model.shop.stg_customers": _model("stg_customers", "staging", ["source.shop.raw.customers"],
                                           materialized="view", meta=meta, tags=["staging"],
                                           description="Customers, cleaned", columns=customer_cols),
        "model.shop.customers": _model("customers", "marts", ["model.shop.stg_customers", "seed.shop.countries"],
                                       materialized="incremental", meta=meta, tags=["core"],
                                       description="One row per customer"),
        "seed.shop.countries": {"resource_type": "seed", "name": "countries", "unique_id": "seed.shop.countries",
                                "database": "analytics", "schema": "seeds", "alias": "countries",
                                "config": {"materialized": "seed", "meta": meta}, "meta": meta, "columns": {},
                                "depends_on": {"nodes": []}, "original_file_path": "seeds/countries.csv"},
        "test.shop.unique_customers_id.1a": _test("test.shop.unique_customers_id.1a", "unique",
                                                  "model.shop.customers", "id"),
        "test.shop.not_null_customers_email.2b": _test("test.shop.not_null_customers_email.2b", "not_null",
                                                       "model.shop.customers", "email"),
    }
    return {
        "metadata": {"dbt_schema_version": MANIFEST_SCHEMA, "dbt_version": "1.8.2", "project_name": "shop",
                     "generated_at": "2026-11-20T10:00:00.000000Z", "adapter_type": "postgres",
                     "invocation_id": "6f1c0a52-6b0e-4a59-8b1e-5d7c2a0e9f01"},
        "nodes": nodes,
        "sources": {"source.shop.raw.customers": {
            "resource_type": "source", "name": "customers", "source_name": "raw", "unique_id":
            "source.shop.raw.customers", "database": "raw", "schema": "shop", "identifier": "customers",
            "description": "Customers as the app writes them", "loader": "fivetran", "meta": meta, "tags": [],
            "columns": {}}},
        "exposures": {"exposure.shop.churn": {
            "resource_type": "exposure", "name": "churn", "type": "dashboard", "maturity": "high",
            "url": "https://bi.example.com/churn", "description": "Churn dashboard",
            "owner": {"name": "Growth", "email": "growth@example.com"},
            "depends_on": {"macros": [], "nodes": ["model.shop.customers"]}}},
        "metrics": {}, "groups": {}, "selectors": {}, "disabled": {}, "parent_map": {}, "child_map": {},
        "semantic_models": {}, "saved_queries": {}, "unit_tests": {}, "macros": {}, "docs": {},
    }


def dbt_run_results(invocation_id, email_status="fail", at="2026-11-20T10:05:00.000000Z"):
    def result(uid, status, failures=None):
        return {"unique_id": uid, "status": status, "thread_id": "Thread-1", "execution_time": 0.2,
                "timing": [], "adapter_response": {}, "message": None, "failures": failures,
                "compiled": True, "relation_name": None}
    return {
        "metadata": {"dbt_schema_version": RUN_RESULTS_SCHEMA, "dbt_version": "1.8.2", "generated_at": at,
                     "invocation_id": invocation_id},
        "elapsed_time": 4.2, "args": {"which": "build"},
        "results": [result("model.shop.customers", "success"),
                    result("test.shop.unique_customers_id.1a", "pass", 0),
                    result("test.shop.not_null_customers_email.2b", email_status,
                           3 if email_status == "fail" else 0)],
    }


def dbt_catalog():
    return {
        "metadata": {"dbt_schema_version": CATALOG_SCHEMA, "dbt_version": "1.8.2"},
        "nodes": {"model.shop.customers": {
            "unique_id": "model.shop.customers",
            "metadata": {"type": "BASE TABLE", "schema": "marts", "name": "customers", "database": "analytics",
                         "comment": None, "owner": "postgres"},
            "columns": {"id": {"type": "bigint", "index": 1, "name": "id", "comment": None},
                        "email": {"type": "text", "index": 2, "name": "email", "comment": None}},
            "stats": {"row_count": {"id": "row_count", "label": "Row Count", "value": 4200, "include": True}}}},
        "sources": {}, "errors": None,
    }


def ge_result(asset="public.orders", run_time="2026-11-20T02:00:00+00:00", unexpected=0):
    ok = unexpected == 0
    return {
        "success": ok,
        "results": [
            {"success": True, "expectation_config": {"expectation_type": "expect_column_values_to_not_be_null",
                                                     "kwargs": {"column": "id", "batch_id": "b"}, "meta": {}},
             "result": {"element_count": 100, "unexpected_count": 0, "unexpected_percent": 0.0,
                        "partial_unexpected_list": []},
             "exception_info": {"raised_exception": False, "exception_traceback": None,
                                "exception_message": None}, "meta": {}},
            {"success": ok, "expectation_config": {"expectation_type": "expect_column_values_to_be_between",
                                                   "kwargs": {"column": "amount", "min_value": 0}, "meta": {}},
             "result": {"element_count": 100, "unexpected_count": unexpected,
                        "unexpected_percent": float(unexpected)},
             "exception_info": {"raised_exception": False}, "meta": {}},
        ],
        "evaluation_parameters": {},
        "statistics": {"evaluated_expectations": 2, "successful_expectations": 2 if ok else 1,
                       "unsuccessful_expectations": 0 if ok else 1, "success_percent": 100.0 if ok else 50.0},
        "meta": {"great_expectations_version": "0.18.8", "expectation_suite_name": "orders.critical",
                 "run_id": {"run_name": "nightly", "run_time": run_time},
                 "batch_spec": {"data_asset_name": asset},
                 "active_batch_definition": {"datasource_name": "pg", "data_connector_name": "default",
                                             "data_asset_name": asset, "batch_identifiers": {}},
                 "validation_time": "20261120T020000.000000Z", "checkpoint_name": "nightly"},
    }


def _iceberg_field(fid, name, typ, required=False, doc=None):
    f = {"id": fid, "name": name, "required": required, "type": typ}
    if doc:
        f["doc"] = doc
    return f


ICEBERG_SCHEMAS = [
    {"type": "struct", "schema-id": 0, "fields": [
        _iceberg_field(1, "id", "long", True, "event id"), _iceberg_field(2, "ts", "timestamptz", True)]},
    {"type": "struct", "schema-id": 1, "identifier-field-ids": [1], "fields": [
        _iceberg_field(1, "id", "long", True, "event id"), _iceberg_field(2, "ts", "timestamptz", True),
        _iceberg_field(3, "kind", "string")]},
    {"type": "struct", "schema-id": 2, "fields": [
        _iceberg_field(1, "id", "long", True, "event id"), _iceberg_field(2, "ts", "timestamptz", True),
        _iceberg_field(3, "kind", "string"),
        _iceberg_field(4, "props", {"type": "map", "key-id": 5, "key": "string", "value-id": 6, "value": "string",
                                    "value-required": False})]},
]


def iceberg_metadata(schemas=2, location="s3://lake/warehouse/web/events"):
    """Format v2 with the first `schemas` schemas (the last current) and three snapshots."""
    snaps = [
        {"sequence-number": 1, "snapshot-id": 3051729675574597004, "timestamp-ms": 1763600000000, "schema-id": 0,
         "manifest-list": location + "/metadata/snap-1.avro",
         "summary": {"operation": "append", "added-data-files": "2", "added-records": "100",
                     "total-records": "100", "total-files-size": "20000"}},
        {"sequence-number": 2, "snapshot-id": 3051729675574597005, "parent-snapshot-id": 3051729675574597004,
         "timestamp-ms": 1763603600000, "schema-id": schemas - 1, "manifest-list": location + "/metadata/snap-2.avro",
         "summary": {"operation": "append", "added-data-files": "1", "added-records": "50",
                     "total-records": "150", "total-files-size": "30000"}},
        {"sequence-number": 3, "snapshot-id": 3051729675574597006, "parent-snapshot-id": 3051729675574597005,
         "timestamp-ms": 1763607200000, "schema-id": schemas - 1, "manifest-list": location + "/metadata/snap-3.avro",
         "summary": {"operation": "delete", "deleted-data-files": "1", "deleted-records": "20",
                     "total-records": "130", "total-files-size": "26000"}},
    ]
    return {
        "format-version": 2, "table-uuid": "fb072c92-a02b-11e9-ae9c-1bb7bc9eca94", "location": location,
        "last-sequence-number": 3, "last-updated-ms": 1763607200000, "last-column-id": 6,
        "current-schema-id": schemas - 1, "schemas": ICEBERG_SCHEMAS[:schemas],
        "default-spec-id": 0, "partition-specs": [{"spec-id": 0, "fields": [
            {"source-id": 2, "field-id": 1000, "name": "ts_day", "transform": "day"}]}],
        "last-partition-id": 1000, "default-sort-order-id": 0, "sort-orders": [{"order-id": 0, "fields": []}],
        "properties": {"comment": "Web events", "owner": "web-team", "write.format.default": "parquet"},
        "current-snapshot-id": 3051729675574597006,
        "refs": {"main": {"snapshot-id": 3051729675574597006, "type": "branch"}},
        "snapshots": snaps,
        "snapshot-log": [{"snapshot-id": s["snapshot-id"], "timestamp-ms": s["timestamp-ms"]} for s in snaps],
        "metadata-log": [],
    }


def _delta_schema(extra=False):
    fields = [{"name": "id", "type": "long", "nullable": False, "metadata": {"comment": "order id"}},
              {"name": "amount", "type": "decimal(10,2)", "nullable": True, "metadata": {}},
              {"name": "day", "type": "date", "nullable": True, "metadata": {}}]
    if extra:
        fields.append({"name": "coupon", "type": "string", "nullable": True, "metadata": {}})
    return json.dumps({"type": "struct", "fields": fields})


def _add(path, size, records):
    return {"add": {"path": path, "partitionValues": {"day": path[4:14]}, "size": size,
                    "modificationTime": 1763600000000, "dataChange": True,
                    "stats": json.dumps({"numRecords": records, "minValues": {}, "maxValues": {},
                                         "nullCount": {}})}}


def delta_log_files():
    """The commit files of a table with a schema change at version 2: {version: NDJSON text}."""
    meta = {"id": "5d1b7f2a-0000-4000-8000-00000000d317", "name": "orders", "description": "Orders",
            "format": {"provider": "parquet", "options": {}}, "partitionColumns": ["day"],
            "configuration": {"delta.appendOnly": "false"}, "createdTime": 1763600000000}
    commits = [
        [{"commitInfo": {"timestamp": 1763600000000, "operation": "CREATE TABLE", "operationParameters": {}}},
         {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
         {"metaData": dict(meta, schemaString=_delta_schema())}],
        [{"commitInfo": {"timestamp": 1763603600000, "operation": "WRITE",
                         "operationMetrics": {"numFiles": "2", "numOutputRows": "30"}}},
         _add("day=2026-11-19/part-0.parquet", 1000, 10), _add("day=2026-11-20/part-1.parquet", 2000, 20)],
        [{"commitInfo": {"timestamp": 1763607200000, "operation": "ADD COLUMNS"}},
         {"metaData": dict(meta, schemaString=_delta_schema(extra=True))}],
        [{"commitInfo": {"timestamp": 1763610800000, "operation": "DELETE"}},
         {"remove": {"path": "day=2026-11-19/part-0.parquet", "deletionTimestamp": 1763610800000,
                     "dataChange": True}},
         _add("day=2026-11-19/part-2.parquet", 900, 7)],
    ]
    return {v: "".join(json.dumps(a) + "\n" for a in actions) for v, actions in enumerate(commits)}


def delta_commits(files):
    return [{"version": v, "content": text} for v, text in sorted(files.items())]
