"""mf-ingest's HTTP API against real processes: emit, batch, OpenLineage,
event status, failures, idempotency, auth, tenancy and limits.

Every test posts to the session's ``mf-ingest serve`` (fixture ``ingest``);
the session's ``mf-ingest work`` (``ingest_worker``) applies the events, and
the catalog is read back through mf-api. Tests that need a stream of their
own (an event that stays queued, a full queue, a worker with other settings)
start their own processes with ``spawn_ingest`` on a stream of their own.
"""

import concurrent.futures
import json
import threading
import time
import uuid

import pytest
import requests

from conftest import (
    IngestClient,
    UUID_RE,
    assert_error,
    assert_list_page,
    assert_ts,
    psql,
    q,
    redis_cli,
    unique,
)

MAX_BODY = 5 * 1024 * 1024
OL_PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.9.0/integration/spark"
OL_RUN_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


@pytest.fixture
def ing(tenant, ingest, ingest_worker):
    """The tenant's admin client at mf-ingest (the worker is running)."""
    return tenant.ingest(ingest)


def sup(infra, sql):
    """One value-per-line query as the Postgres superuser (outside RLS)."""
    return psql(infra["MF_PG_SUPER_URL"], sql)[1]


def applied_count(infra, tenant_id):
    return int(sup(infra, "SELECT count(*) FROM ingest_events WHERE tenant_id = '%s'" % tenant_id)[0])


def dataset(api, name, namespace=None):
    r = api.get_dataset(name, namespace)
    assert r.status_code == 200, "%s/%s: %d %s" % (namespace, name, r.status_code, r.text[:300])
    return r.json()


def sentinel(ing):
    """Queue a harmless event and wait until it is applied: everything the same
    client queued before it on the (single-worker) stream has been handled."""
    ing.wait_applied(ing.emit({"dataset": {"name": unique("sentinel")}}))


def check_applied_doc(doc, event_id, source):
    assert doc["event_id"] == event_id
    assert doc["status"] == "applied", doc
    assert doc["source"] == source, doc
    assert_ts(doc["received_at"])
    assert_ts(doc["applied_at"])
    assert doc["applied_at"] >= doc["received_at"], doc
    ch = doc["changes"]
    assert set(ch) >= {"datasets", "lineage_edges", "job", "run"}, doc
    for d in ch["datasets"]:
        assert set(d) >= {"namespace", "name", "version", "schema_version"}, d
    return ch


# --------------------------------------------------------------------------
# emit


def test_emit_creates_dataset(ing, api):
    body = {"dataset": {
        "name": "orders", "namespace": "sales", "path": "s3://lake/orders", "format": "parquet",
        "description": "All orders", "domain": "commerce", "owner": "alice@example.com",
        "tags": ["gold", "pii"],
        "fields": [{"name": "id", "type": "bigint", "nullable": False, "tags": ["key"]},
                   {"name": "amount", "type": "numeric", "description": "in cents"}],
        "upstream": ["raw_orders", {"namespace": "pg", "name": "public.orders"}],
        "operational": {"row_count": 10, "size_bytes": 2048, "partition_keys": ["day"]},
    }}
    eid = ing.emit(body)
    assert UUID_RE.match(eid), eid
    doc = ing.wait_applied(eid)
    ch = check_applied_doc(doc, eid, "emit")
    assert [(d["namespace"], d["name"]) for d in ch["datasets"]] == [("sales", "orders")]
    assert ch["datasets"][0]["schema_version"] == 1
    assert ch["job"] is None and ch["run"] is None, ch

    d = dataset(api, "orders", "sales")
    assert d["path"] == "s3://lake/orders" and d["format"] == "parquet"
    assert d["description"] == "All orders"
    assert d["domain"] == "commerce" and d["owner"] == "alice@example.com"
    assert d["tags"] == ["gold", "pii"]
    assert [(f["name"], f["type"], f["nullable"], f["ordinal"]) for f in d["fields"]] == [
        ("id", "bigint", False, 0), ("amount", "numeric", True, 1)]
    assert d["fields"][0]["tags"] == ["key"] and d["fields"][1]["description"] == "in cents"
    assert d["operational"] == {"row_count": 10, "size_bytes": 2048, "partition_keys": ["day"]}
    # a bare upstream name is in namespace "default", as in POST /api/v1/datasets
    assert d["upstream"] == [{"namespace": "default", "name": "raw_orders"},
                             {"namespace": "pg", "name": "public.orders"}], d["upstream"]
    assert dataset(api, "raw_orders")["placeholder"] is True
    assert d["placeholder"] is False
    assert d["schema_version"] == 1 and d["version"] >= 1


def test_emit_merges(ing, api):
    first = {"dataset": {"name": "m", "description": "kept", "tags": ["a"], "owner": "bob",
                         "fields": [{"name": "id", "type": "int"}],
                         "operational": {"row_count": 5}}}
    ing.wait_applied(ing.emit(first))
    d1 = dataset(api, "m")
    # only the format: everything else keeps its value
    doc = ing.wait_applied(ing.emit({"dataset": {"name": "m", "format": "csv"}}))
    d2 = dataset(api, "m")
    assert d2["format"] == "csv"
    for k in ("description", "tags", "owner", "fields", "upstream"):
        assert d2[k] == d1[k], (k, d1[k], d2[k])
    assert d2["operational"]["row_count"] == 5
    assert d2["version"] == d1["version"] + 1, (d1["version"], d2["version"])
    assert d2["schema_version"] == d1["schema_version"] == 1
    assert doc["changes"]["datasets"][0]["version"] == d2["version"]
    # operational merges member by member
    ing.wait_applied(ing.emit({"dataset": {"name": "m", "operational": {"size_bytes": 7}}}))
    d3 = dataset(api, "m")
    assert d3["operational"]["size_bytes"] == 7
    assert d3["operational"]["row_count"] == 5, d3["operational"]
    # an explicit empty list does replace
    ing.wait_applied(ing.emit({"dataset": {"name": "m", "tags": []}}))
    assert dataset(api, "m")["tags"] == []


def test_emit_schema_versions_and_breaking_changes(ing, api, migrated, tenant):
    v1 = [{"name": "id", "type": "bigint", "nullable": False}, {"name": "name", "type": "text"},
          {"name": "amount", "type": "int"}]
    # v2 adds a column (fine); v3 removes one, v4 changes a type, v5 makes one
    # not nullable (each breaking)
    v2 = v1 + [{"name": "email", "type": "text"}]
    v3 = [f for f in v2 if f["name"] != "name"]
    v4 = [dict(f, type="bigint") if f["name"] == "amount" else f for f in v3]
    v5 = [dict(f, nullable=False) if f["name"] == "email" else f for f in v4]
    versions = []
    for fields in (v1, v2, v2, v3, v4, v5):  # v2 twice: no new schema version
        doc = ing.wait_applied(ing.emit({"dataset": {"name": "evolving", "fields": fields}}))
        versions.append(doc["changes"]["datasets"][0]["schema_version"])
    assert versions == [1, 2, 2, 3, 4, 5], versions
    d = dataset(api, "evolving")
    assert d["schema_version"] == 5
    assert [(f["name"], f["type"], f["nullable"]) for f in d["fields"]] == [
        (f["name"], f["type"], f.get("nullable", True)) for f in v5]
    items = api.walk("/api/v1/datasets/evolving/versions")
    assert [(i["version"], i["breaking"]) for i in items] == [
        (5, True), (4, True), (3, True), (2, False), (1, False)], items
    diff = api.ok("GET", "/api/v1/datasets/evolving/schema/diff", 200,
                  params={"from": "2", "to": "3"}).json()
    assert diff["breaking"] is True and [f["name"] for f in diff["removed"]] == ["name"], diff
    # each breaking version is a catalog event for notifications
    rows = sup(migrated, "SELECT detail->>'to' FROM catalog_events e JOIN datasets d ON d.id = e.dataset_id "
                         "WHERE e.tenant_id = '%s' AND e.kind = 'schema.breaking_change' AND d.name = 'evolving' "
                         "ORDER BY e.id" % tenant.id)
    assert rows == ["3", "4", "5"], rows


def test_emit_column_lineage(ing, api):
    body = {"dataset": {"name": "daily", "fields": [{"name": "day", "type": "date"},
                                                    {"name": "total", "type": "numeric"}]},
            "column_lineage": [
                {"source": "orders", "source_field": "amount", "target_field": "total",
                 "transformation": "SUM", "expression": "sum(amount)"},
                {"source": "orders", "source_field": "ts", "target_field": "day"},
                {"source": {"namespace": "pg", "name": "public.fx"}, "source_field": "rate",
                 "target_field": "total", "transformation": "MULTIPLY"},
            ]}
    doc = ing.wait_applied(ing.emit(body))
    assert doc["changes"]["lineage_edges"] == 2, doc
    edges = api.walk("/api/v1/lineage/edges", params={"dataset": "daily", "direction": "up"})
    by_src = {(e["source"]["namespace"], e["source"]["name"]): e for e in edges}
    assert set(by_src) == {("default", "orders"), ("pg", "public.fx")}, edges
    cols = sorted((c["source_field"], c["target_field"], c["transformation"], c["expression"])
                  for c in by_src[("default", "orders")]["columns"])
    assert cols == [("amount", "total", "SUM", "sum(amount)"), ("ts", "day", "", "")], cols
    cols = [(c["source_field"], c["target_field"], c["transformation"])
            for c in by_src[("pg", "public.fx")]["columns"]]
    assert cols == [("rate", "total", "MULTIPLY")], cols
    for e in edges:
        assert e["target"] == {"namespace": "default", "name": "daily"}
    # the sources nobody described are placeholders
    assert dataset(api, "orders")["placeholder"] is True
    assert dataset(api, "public.fx", "pg")["placeholder"] is True
    stats = api.ok("GET", "/api/v1/stats", 200).json()
    assert stats["column_lineage_edges"] == 3, stats


def test_emit_change_summary_is_the_resulting_version(ing, api):
    """changes.datasets[].version is what the dataset is at once the event is applied."""
    doc = ing.wait_applied(ing.emit({"dataset": {"name": "summ"}, "column_lineage": [
        {"source": "summ_src", "source_field": "a", "target_field": "a"}]}))
    got = doc["changes"]["datasets"][0]
    d = dataset(api, "summ")
    assert (got["version"], got["schema_version"]) == (d["version"], d["schema_version"]), (got, d)


def test_emit_run_and_job(ing, api):
    run_id = str(uuid.uuid4())
    body = {"dataset": {"name": "out", "upstream": ["in1"]},
            "column_lineage": [{"source": "in2", "source_field": "x", "target_field": "x"}],
            "run": {"run_id": run_id, "job": {"namespace": "airflow", "name": "dag.load_out"},
                    "state": "COMPLETE", "started_at": "2026-01-02T03:04:05Z",
                    "ended_at": "2026-01-02T03:05:06.500Z"}}
    doc = ing.wait_applied(ing.emit(body))
    assert doc["changes"]["job"] == {"namespace": "airflow", "name": "dag.load_out"}, doc
    assert doc["changes"]["run"] == {"run_id": run_id, "state": "COMPLETE"}, doc

    jobs = api.walk("/api/v1/jobs")
    assert [(j["namespace"], j["name"]) for j in jobs] == [("airflow", "dag.load_out")], jobs
    j = jobs[0]
    assert j["latest_run"]["run_id"] == run_id and j["latest_run"]["state"] == "COMPLETE", j
    assert j["latest_run"]["started_at"] == "2026-01-02T03:04:05.000Z", j
    assert j["latest_run"]["ended_at"] == "2026-01-02T03:05:06.500Z", j
    assert_ts(j["created_at"])
    assert api.walk("/api/v1/jobs", params={"namespace": "airflow"}) == jobs
    assert api.walk("/api/v1/jobs", params={"namespace": "nope"}) == []

    job = api.ok("GET", "/api/v1/jobs/airflow/dag.load_out", 200).json()
    assert {"namespace": "default", "name": "out"} in job["outputs"], job
    assert {"namespace": "default", "name": "in2"} in job["inputs"], job

    runs = api.walk("/api/v1/jobs/airflow/dag.load_out/runs")
    assert len(runs) == 1, runs
    r = runs[0]
    assert r["run_id"] == run_id and r["state"] == "COMPLETE"
    assert r["started_at"] == "2026-01-02T03:04:05.000Z"
    assert r["ended_at"] == "2026-01-02T03:05:06.500Z"
    assert r["duration_ms"] == 61500, r
    assert {"namespace": "default", "name": "out"} in r["outputs"], r
    ins = {(i["namespace"], i["name"]) for i in r["inputs"]}
    assert ins == {("default", "in1"), ("default", "in2")}, r
    assert_list_page(api.get("/api/v1/jobs/airflow/dag.load_out/runs").json())
    assert_error(api.get("/api/v1/jobs/airflow/nope"), 404, "not_found")
    assert_error(api.get("/api/v1/jobs/airflow/nope/runs"), 404, "not_found")


def test_emit_failed_run_default_job(ing, api):
    doc = ing.wait_applied(ing.emit({"dataset": {"name": "flaky"},
                                     "run": {"state": "FAIL", "error_message": "disk full"}}))
    run = doc["changes"]["run"]
    assert UUID_RE.match(run["run_id"]) and run["state"] == "FAIL", doc
    # without run.job the job is named after the dataset
    assert doc["changes"]["job"] == {"namespace": "default", "name": "flaky"}, doc
    runs = api.walk("/api/v1/jobs/default/flaky/runs")
    assert [(r["run_id"], r["state"], r["error_message"]) for r in runs] == [
        (run["run_id"], "FAIL", "disk full")], runs


@pytest.mark.parametrize("body,message", [
    ({}, "dataset is required"),
    ({"dataset": {}}, "dataset.name is required"),
    ({"dataset": {"name": "x"}, "colour": "red"}, 'unknown field "colour"'),
    ({"dataset": {"name": "x", "colour": "red"}}, 'unknown field "colour"'),
    ({"dataset": {"name": "x", "fields": [{"name": "a"}]}}, "dataset.fields[0].type"),
    ({"dataset": {"name": "x", "fields": [{"name": "a", "type": 5}]}}, "dataset.fields[0].type"),
    ({"dataset": "x"}, "dataset"),
    ({"dataset": {"name": "x"}, "column_lineage": [{"source": "y", "target_field": "b"}]},
     "column_lineage[0].source_field"),
    ({"dataset": {"name": "x"}, "column_lineage": [{"source_field": "a", "target_field": "b"}]},
     "column_lineage[0].source"),
    ({"dataset": {"name": "x"}, "run": {"run_id": "not-a-uuid"}}, "run.run_id"),
    ({"dataset": {"name": "x"}, "run": {"state": "DONE"}}, "run.state"),
    ({"dataset": {"name": "x"}, "run": {"started_at": "yesterday"}}, "run.started_at"),
    ({"dataset": {"name": "x"}, "run": {"colour": 1}}, 'unknown field "colour"'),
])
def test_emit_bad_input_names_the_field(ing, body, message):
    r = ing.post("/api/v1/emit", body)
    assert_error(r, 400, "invalid_request", message_contains=message)


@pytest.mark.parametrize("what,body", [
    ("column lineage from the dataset to itself",
     {"dataset": {"name": "selfish"},
      "column_lineage": [{"source": "selfish", "source_field": "a", "target_field": "b"}]}),
    ("a date that does not exist",
     {"dataset": {"name": "baddate"}, "run": {"started_at": "2026-13-45T00:00:00Z"}}),
    ("upstream naming the dataset itself",
     {"dataset": {"name": "selfup", "upstream": ["selfup"]}}),
])
def test_emit_input_that_cannot_apply_is_400_at_intake(ing, what, body):
    """Bad input gets 400 naming the field at intake (DESIGN: data flow 1), not a
    202 for an event the worker can never apply."""
    _assert_400_at_intake(ing, "/api/v1/emit", what, body)


def _assert_400_at_intake(ing, path, what, body):
    r = ing.post(path, body)
    assert r.status_code == 400, "%s: expected 400 at intake, got %d %s%s" % (
        what, r.status_code, r.text[:300],
        "; the worker says: %s" % ing.wait_event(r.json()["event_id"]) if r.status_code == 202 else "")
    assert_error(r, 400, "invalid_request")


# --------------------------------------------------------------------------
# batch


def test_batch_json_array(ing, api):
    items = [{"dataset": {"name": "b%d" % i, "description": "item %d" % i}} for i in range(5)]
    ids = ing.emit_batch(items)
    assert len(set(ids)) == 5 and all(UUID_RE.match(i) for i in ids), ids
    docs = ing.wait_all_applied(ids)
    for i, eid in enumerate(ids):
        assert docs[eid]["changes"]["datasets"][0]["name"] == "b%d" % i
        assert dataset(api, "b%d" % i)["description"] == "item %d" % i


def test_batch_ndjson(ing, api):
    items = [{"dataset": {"name": "n%d" % i}} for i in range(3)]
    ids = ing.emit_batch(items, ndjson=True)
    ing.wait_all_applied(ids)
    for i in range(3):
        dataset(api, "n%d" % i)
    # blank lines and CRLF line ends are fine
    data = b'\r\n{"dataset":{"name":"crlf1"}}\r\n\r\n{"dataset":{"name":"crlf2"}}'
    r = ing.req("POST", "/api/v1/emit/batch", data=data,
                headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 2
    ing.wait_all_applied(r.json()["event_ids"])
    dataset(api, "crlf1"), dataset(api, "crlf2")


def _assert_nothing_queued(ing, api, migrated, tenant, names, applied_before):
    sentinel(ing)
    for n in names:
        assert_error(api.get_dataset(n), 404, "not_found")
    # only the sentinel was applied
    assert applied_count(migrated, tenant.id) == applied_before + 1


@pytest.mark.parametrize("ndjson", [False, True], ids=["array", "ndjson"])
def test_batch_bad_item_rejects_whole_batch(ing, api, migrated, tenant, ndjson):
    names = [unique("whole") for _ in range(3)]
    items = [{"dataset": {"name": names[0]}}, {"dataset": {"name": names[1]}},
             {"dataset": {"name": names[2], "fields": [{"name": "f"}]}},
             {"dataset": {"name": unique("after")}}]
    before = applied_count(migrated, tenant.id)
    if ndjson:
        data = "".join(json.dumps(i) + "\n" for i in items).encode()
        r = ing.req("POST", "/api/v1/emit/batch", data=data,
                    headers={"Content-Type": "application/x-ndjson"})
    else:
        r = ing.post("/api/v1/emit/batch", items)
    body = assert_error(r, 400, "invalid_request", message_contains="events[2]")
    assert "fields[0].type" in body["error"]["message"], body
    _assert_nothing_queued(ing, api, migrated, tenant, names, before)


@pytest.mark.parametrize("ctype,data,status,code,message", [
    ("application/json", b'[{"dataset":{"name":"a"}}, 5]', 400, "invalid_request", "events[1]"),
    ("application/json", b'{"dataset":{"name":"a"}}', 400, "invalid_json", None),
    ("application/json", b'[{"dataset":{"name":"a"}', 400, "invalid_json", None),
    ("application/json", b'[]', 400, "invalid_request", None),
    ("application/json", b'', 400, None, None),
    ("application/x-ndjson", b'{"dataset":{"name":"a"}}\n{"dataset":\n', 400, "invalid_json", None),
    ("application/x-ndjson", b'{"dataset":{"name":"a"}}\n[1]\n', 400, "invalid_request", "events[1]"),
    ("application/x-ndjson", b'\n\n', 400, "invalid_request", None),
])
def test_batch_malformed(ing, api, migrated, tenant, ctype, data, status, code, message):
    before = applied_count(migrated, tenant.id)
    r = ing.req("POST", "/api/v1/emit/batch", data=data, headers={"Content-Type": ctype})
    assert_error(r, status, code, message_contains=message)
    _assert_nothing_queued(ing, api, migrated, tenant, ["a"], before)


def test_batch_at_most_1000(ing, api, migrated, tenant):
    before = applied_count(migrated, tenant.id)
    items = [{"dataset": {"name": "many%d" % i}} for i in range(1001)]
    assert_error(ing.post("/api/v1/emit/batch", items), 400, "invalid_request")
    data = "".join(json.dumps(i) + "\n" for i in items).encode()
    assert_error(ing.req("POST", "/api/v1/emit/batch", data=data,
                         headers={"Content-Type": "application/x-ndjson"}), 400, "invalid_request")
    _assert_nothing_queued(ing, api, migrated, tenant, ["many0", "many1000"], before)
    ids = ing.emit_batch(items[:1000])
    assert len(set(ids)) == 1000
    ing.wait_all_applied(ids[-1:])
    assert dataset(api, "many999")["placeholder"] is False


# --------------------------------------------------------------------------
# OpenLineage


def ol_run_event(event_type, event_time, run_id, job=("spark", "etl.orders"), inputs=(), outputs=(),
                 run_facets=None, job_facets=None):
    return {
        "eventType": event_type, "eventTime": event_time, "producer": OL_PRODUCER,
        "schemaURL": OL_RUN_SCHEMA,
        "run": {"runId": run_id, "facets": run_facets or {}},
        "job": {"namespace": job[0], "name": job[1], "facets": job_facets or {}},
        "inputs": list(inputs), "outputs": list(outputs),
    }


def ol_facet(**kw):
    d = {"_producer": OL_PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/X.json"}
    d.update(kw)
    return d


RAW_IN = {"namespace": "postgres://db.example:5432", "name": "shop.public.raw_orders",
          "facets": {"schema": ol_facet(fields=[{"name": "id", "type": "int"},
                                                {"name": "amt", "type": "numeric"}])}}
FX_IN = {"namespace": "kafka://broker.example:9092", "name": "fx.rates"}
ORDERS_OUT = {
    "namespace": "s3://lake", "name": "warehouse/orders",
    "facets": {
        "schema": ol_facet(fields=[
            {"name": "id", "type": "bigint", "description": "order id"},
            {"name": "total", "type": "decimal(10,2)"},
            {"name": "address", "type": "struct", "fields": [
                {"name": "city", "type": "string"},
                {"name": "geo", "type": "struct", "fields": [{"name": "lat", "type": "double"}]}]},
        ]),
        "documentation": ol_facet(description="Orders, cleaned"),
        "ownership": ol_facet(owners=[{"name": "team:data-eng", "type": "TEAM"},
                                      {"name": "user:alice"}]),
        "dataSource": ol_facet(name="lake", uri="s3://lake"),
        "columnLineage": ol_facet(fields={
            "total": {"inputFields": [
                {"namespace": "postgres://db.example:5432", "name": "shop.public.raw_orders",
                 "field": "amt", "transformations": [
                     {"type": "DIRECT", "subtype": "AGGREGATION", "description": "sum(amt)"}]},
                {"namespace": "kafka://broker.example:9092", "name": "fx.rates", "field": "rate",
                 "transformations": [{"type": "INDIRECT", "subtype": "JOIN"}]}]},
            "id": {"inputFields": [
                {"namespace": "postgres://db.example:5432", "name": "shop.public.raw_orders",
                 "field": "id", "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}]},
        }),
        "acmeLineageHints": {"_producer": "acme", "_schemaURL": "https://acme.example/hints.json",
                             "hints": [1, {"deep": ["x"]}], "weight": 0.5},
    },
    "outputFacets": {"outputStatistics": ol_facet(rowCount=1234, size=56789, fileCount=3)},
}


def test_openlineage_run_event_facets(ing, api, migrated, tenant):
    run_id = str(uuid.uuid4())
    parent = str(uuid.uuid4())
    ev = ol_run_event(
        "COMPLETE", "2026-11-01T10:05:00.250Z", run_id, job=("spark://cluster", "etl.orders"),
        inputs=[RAW_IN, FX_IN], outputs=[ORDERS_OUT],
        run_facets={
            "nominalTime": ol_facet(nominalStartTime="2026-11-01T00:00:00Z",
                                    nominalEndTime="2026-11-02T00:00:00Z"),
            "parent": ol_facet(run={"runId": parent}, job={"namespace": "airflow", "name": "dag"}),
            "spark_version": ol_facet(spark="3.5.0"),
        },
        job_facets={"sql": ol_facet(query="INSERT INTO orders SELECT ..."),
                    "documentation": ol_facet(description="Builds orders"),
                    "jobType": ol_facet(processingType="BATCH", integration="SPARK", jobType="JOB"),
                    "acmeOwner": {"team": "x"}})
    eid = ing.lineage(ev)
    doc = ing.wait_applied(eid)
    ch = check_applied_doc(doc, eid, "openlineage")
    assert {(d["namespace"], d["name"]) for d in ch["datasets"]} == {
        ("postgres://db.example:5432", "shop.public.raw_orders"),
        ("kafka://broker.example:9092", "fx.rates"), ("s3://lake", "warehouse/orders")}, ch
    assert ch["job"] == {"namespace": "spark://cluster", "name": "etl.orders"}, ch
    assert ch["run"] == {"run_id": run_id, "state": "COMPLETE"}, ch

    out = dataset(api, "warehouse/orders", "s3://lake")
    # schema facet -> fields, nested ones flattened with dotted names
    assert [(f["name"], f["type"]) for f in out["fields"]] == [
        ("id", "bigint"), ("total", "decimal(10,2)"), ("address", "struct"),
        ("address.city", "string"), ("address.geo", "struct"), ("address.geo.lat", "double")], out
    assert out["fields"][0]["description"] == "order id"
    assert out["schema_version"] == 1
    # documentation, ownership, dataSource, outputStatistics
    assert out["description"] == "Orders, cleaned"
    assert out["owner"] == "team:data-eng"
    assert out["path"] == "s3://lake"
    assert out["operational"]["row_count"] == 1234 and out["operational"]["size_bytes"] == 56789
    assert out["placeholder"] is False
    raw = dataset(api, "shop.public.raw_orders", "postgres://db.example:5432")
    assert [(f["name"], f["type"]) for f in raw["fields"]] == [("id", "int"), ("amt", "numeric")]
    # every input is upstream of every output, through the job
    ups = sorted((u["namespace"], u["name"]) for u in out["upstream"])
    assert ups == [("kafka://broker.example:9092", "fx.rates"),
                   ("postgres://db.example:5432", "shop.public.raw_orders")], ups
    # columnLineage -> column lineage with TYPE/SUBTYPE
    edges = api.walk("/api/v1/lineage/edges", params={"dataset": "warehouse/orders",
                                                      "namespace": "s3://lake", "direction": "up"})
    cols = sorted((e["source"]["name"], c["source_field"], c["target_field"], c["transformation"],
                   c["expression"]) for e in edges for c in e["columns"])
    assert cols == [("fx.rates", "rate", "total", "INDIRECT/JOIN", ""),
                    ("shop.public.raw_orders", "amt", "total", "DIRECT/AGGREGATION", "sum(amt)"),
                    ("shop.public.raw_orders", "id", "id", "DIRECT/IDENTITY", "")], cols

    # the job: sql and documentation mapped, every facet kept (unknown ones too)
    job = api.ok("GET", "/api/v1/jobs/%s/%s" % (q("spark://cluster"), q("etl.orders")), 200).json()
    assert job["sql"] == "INSERT INTO orders SELECT ..." and job["description"] == "Builds orders"
    assert job["facets"]["acmeOwner"] == {"team": "x"}, job["facets"]
    assert job["facets"]["jobType"]["processingType"] == "BATCH"
    assert {"namespace": "s3://lake", "name": "warehouse/orders"} in job["outputs"], job
    assert {"namespace": "kafka://broker.example:9092", "name": "fx.rates"} in job["inputs"], job
    runs = api.walk("/api/v1/jobs/%s/%s/runs" % (q("spark://cluster"), q("etl.orders")))
    assert len(runs) == 1
    r = runs[0]
    assert r["run_id"] == run_id and r["state"] == "COMPLETE"
    assert r["event_time"] == "2026-11-01T10:05:00.250Z"
    assert r["ended_at"] == "2026-11-01T10:05:00.250Z"
    assert r["nominal_start"] == "2026-11-01T00:00:00.000Z"
    assert r["nominal_end"] == "2026-11-02T00:00:00.000Z"
    assert r["parent_run_id"] == parent
    assert r["facets"]["spark_version"]["spark"] == "3.5.0", r["facets"]
    assert {(i["namespace"], i["name"]) for i in r["inputs"]} == {
        ("postgres://db.example:5432", "shop.public.raw_orders"),
        ("kafka://broker.example:9092", "fx.rates")}, r
    assert r["outputs"] == [{"namespace": "s3://lake", "name": "warehouse/orders"}], r

    # unknown dataset facets are stored as they came (no API shows dataset facets: read the row)
    stored = sup(migrated, "SELECT facets->'acmeLineageHints' FROM datasets WHERE tenant_id = '%s' "
                           "AND namespace = 's3://lake' AND name = 'warehouse/orders'" % tenant.id)
    assert json.loads(stored[0]) == ORDERS_OUT["facets"]["acmeLineageHints"], stored


def test_openlineage_start_then_complete_is_one_run(ing, api):
    run_id = str(uuid.uuid4())
    out = {"namespace": "s3://lake", "name": "events"}
    ing.wait_applied(ing.lineage(ol_run_event("START", "2026-11-01T10:00:00Z", run_id,
                                              job=("airflow", "dag.task"), outputs=[out])))
    runs = api.walk("/api/v1/jobs/airflow/dag.task/runs")
    assert [(r["run_id"], r["state"], r["ended_at"]) for r in runs] == [(run_id, "START", None)], runs
    assert runs[0]["started_at"] == "2026-11-01T10:00:00.000Z"
    doc = ing.wait_applied(ing.lineage(ol_run_event("COMPLETE", "2026-11-01T10:02:30Z", run_id,
                                                    job=("airflow", "dag.task"), outputs=[out])))
    assert doc["changes"]["run"] == {"run_id": run_id, "state": "COMPLETE"}
    runs = api.walk("/api/v1/jobs/airflow/dag.task/runs")
    assert len(runs) == 1, runs
    r = runs[0]
    assert (r["run_id"], r["state"]) == (run_id, "COMPLETE")
    assert r["started_at"] == "2026-11-01T10:00:00.000Z"
    assert r["ended_at"] == "2026-11-01T10:02:30.000Z"
    assert r["duration_ms"] == 150000
    job = api.ok("GET", "/api/v1/jobs/airflow/dag.task", 200).json()
    assert job["latest_run"]["state"] == "COMPLETE" and job["latest_run"]["run_id"] == run_id


def test_openlineage_complete_before_start_keeps_the_final_state(ing, api):
    run_id = str(uuid.uuid4())
    job = ("airflow", unique("late"))
    ing.wait_applied(ing.lineage(ol_run_event("FAIL", "2026-11-01T10:02:00Z", run_id, job=job,
                                              run_facets={"errorMessage": ol_facet(
                                                  message="boom", programmingLanguage="python")})))
    ing.wait_applied(ing.lineage(ol_run_event("START", "2026-11-01T10:00:00Z", run_id, job=job)))
    runs = api.walk("/api/v1/jobs/%s/%s/runs" % job)
    assert len(runs) == 1, runs
    r = runs[0]
    assert r["state"] == "FAIL", r
    assert r["started_at"] == "2026-11-01T10:00:00.000Z" and r["ended_at"] == "2026-11-01T10:02:00.000Z"
    assert r["error_message"] == "boom"


def test_openlineage_dataset_event(ing, api):
    ev = {"eventTime": "2026-11-01T10:00:00Z", "producer": OL_PRODUCER,
          "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
          "dataset": {"namespace": "bigquery", "name": "proj.ds.customers", "facets": {
              "schema": ol_facet(fields=[{"name": "id", "type": "INT64"}]),
              "documentation": ol_facet(description="Customers"),
              "symlinks": ol_facet(identifiers=[{"namespace": "hive://m", "name": "db.cust",
                                                 "type": "TABLE"}]),
              "somethingNew": {"v": 2}}}}
    doc = ing.wait_applied(ing.lineage(ev))
    ch = check_applied_doc(doc, doc["event_id"], "openlineage")
    assert ch["job"] is None and ch["run"] is None, ch
    d = dataset(api, "proj.ds.customers", "bigquery")
    assert d["description"] == "Customers" and [f["name"] for f in d["fields"]] == ["id"]
    assert api.walk("/api/v1/jobs") == []


def test_openlineage_job_event(ing, api):
    ev = {"eventTime": "2026-11-01T10:00:00Z", "producer": OL_PRODUCER,
          "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
          "job": {"namespace": "dbt://analytics", "name": "model.orders",
                  "facets": {"sql": ol_facet(query="select 1"), "weird": {"a": [1]}}},
          "inputs": [{"namespace": "bigquery", "name": "proj.raw.orders"}],
          "outputs": [{"namespace": "bigquery", "name": "proj.mart.orders"}]}
    doc = ing.wait_applied(ing.lineage(ev))
    assert doc["changes"]["job"] == {"namespace": "dbt://analytics", "name": "model.orders"}
    assert doc["changes"]["run"] is None
    path = "/api/v1/jobs/%s/%s" % (q("dbt://analytics"), q("model.orders"))
    job = api.ok("GET", path, 200).json()
    assert job["sql"] == "select 1" and job["latest_run"] is None
    assert job["facets"]["weird"] == {"a": [1]}
    assert job["inputs"] == [{"namespace": "bigquery", "name": "proj.raw.orders"}]
    assert job["outputs"] == [{"namespace": "bigquery", "name": "proj.mart.orders"}]
    assert api.walk(path + "/runs") == []
    mart = dataset(api, "proj.mart.orders", "bigquery")
    assert mart["upstream"] == [{"namespace": "bigquery", "name": "proj.raw.orders"}]


def _ol_base():
    return ol_run_event("START", "2026-11-01T10:00:00Z", str(uuid.uuid4()), job=("ns", "job"),
                        inputs=[{"namespace": "a", "name": "in"}],
                        outputs=[{"namespace": "a", "name": "out"}])


def _drop(path):
    def f(e):
        cur = e
        for k in path[:-1]:
            cur = cur[k]
        del cur[path[-1]]
    return f


def _set(path, value):
    def f(e):
        cur = e
        for k in path[:-1]:
            cur = cur.setdefault(k, {}) if isinstance(cur, dict) else cur[k]
        cur[path[-1]] = value
    return f


@pytest.mark.parametrize("mutate,message", [
    (_drop(["run", "runId"]), "run.runId is required"),
    (_drop(["eventTime"]), "eventTime is required"),
    (_drop(["job", "name"]), "job.name is required"),
    (_drop(["job", "namespace"]), "job.namespace is required"),
    (_drop(["inputs", 0, "name"]), "inputs[0].name is required"),
    (_drop(["outputs", 0, "namespace"]), "outputs[0].namespace is required"),
    (_set(["run", "runId"], "run-1"), "run.runId"),
    (_set(["run", "runId"], 17), "run.runId"),
    (_set(["eventTime"], "yesterday"), "eventTime"),
    (_set(["eventType"], "FINISHED"), "eventType"),
    (_set(["run"], "r"), "run"),
    (_set(["inputs"], {"namespace": "a"}), "inputs"),
    (_set(["outputs", 0, "facets", "schema"], ol_facet(fields="id int")),
     "outputs[0].facets.schema.fields"),
    (_set(["outputs", 0, "facets", "schema"],
          ol_facet(fields=[{"type": "int"}])), "outputs[0].facets.schema.fields[0].name"),
    (_set(["run", "facets", "parent"], ol_facet(job={"namespace": "a", "name": "b"})),
     "run.facets.parent.run"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_openlineage_bad_event_names_the_field(ing, mutate, message):
    ev = _ol_base()
    mutate(ev)
    assert_error(ing.post("/api/v1/lineage", ev), 400, "invalid_request", message_contains=message)


def test_openlineage_dataset_event_required_fields(ing):
    ev = {"eventTime": "2026-11-01T10:00:00Z", "producer": OL_PRODUCER,
          "dataset": {"name": "x"}}
    assert_error(ing.post("/api/v1/lineage", ev), 400, "invalid_request",
                 message_contains="dataset.namespace is required")
    assert_error(ing.post("/api/v1/lineage", {"producer": OL_PRODUCER}), 400, "invalid_request")
    ev = {"producer": OL_PRODUCER, "dataset": {"namespace": "a", "name": "x"}}
    assert_error(ing.post("/api/v1/lineage", ev), 400, "invalid_request",
                 message_contains="eventTime is required")


def test_openlineage_placeholder_and_unknown_input(ing, api):
    """An input named only by reference is an unknown upstream: a placeholder."""
    run_id = str(uuid.uuid4())
    ing.wait_applied(ing.lineage(ol_run_event(
        "COMPLETE", "2026-11-01T10:00:00Z", run_id, job=("ns", "j"),
        inputs=[{"namespace": "postgres://h:5432", "name": "db.s.never_described"}],
        outputs=[{"namespace": "s3://b", "name": "written"}])))
    src = dataset(api, "db.s.never_described", "postgres://h:5432")
    assert src["downstream"] == [{"namespace": "s3://b", "name": "written"}]
    assert src["placeholder"] is True, src


@pytest.mark.parametrize("what,mutate", [
    ("eventTime in year 0", _set(["eventTime"], "0000-01-01T00:00:00Z")),
    ("nominalStartTime in year 0", _set(["run", "facets", "nominalTime"],
                                        ol_facet(nominalStartTime="0000-06-01T00:00:00Z"))),
    ("eventTime on 30 February", _set(["eventTime"], "2026-02-30T00:00:00Z")),
    ("eventTime at 24:00", _set(["eventTime"], "2026-02-03T24:00:00Z")),
], ids=lambda v: v if isinstance(v, str) else "")
def test_openlineage_input_that_cannot_apply_is_400_at_intake(ing, what, mutate):
    ev = _ol_base()
    mutate(ev)
    _assert_400_at_intake(ing, "/api/v1/lineage", what, ev)


# --------------------------------------------------------------------------
# placeholders


def test_placeholder_upstreams(ing, api):
    ing.wait_applied(ing.emit({"dataset": {"name": "mart", "upstream": [
        "stage", {"namespace": "pg", "name": "public.src"}]}}))
    for ns, name in (("default", "stage"), ("pg", "public.src")):
        p = dataset(api, name, ns)
        assert p["placeholder"] is True, p
        assert p["downstream"] == [{"namespace": "default", "name": "mart"}], p
    listed = {d["name"]: d for d in api.walk("/api/v1/datasets")}
    assert listed["stage"]["placeholder"] is True and listed["mart"]["placeholder"] is False
    # describing it later fills the placeholder in and keeps the lineage
    ing.wait_applied(ing.emit({"dataset": {"name": "stage", "format": "delta",
                                           "fields": [{"name": "k", "type": "int"}]}}))
    s = dataset(api, "stage")
    assert s["placeholder"] is False and s["format"] == "delta"
    assert s["downstream"] == [{"namespace": "default", "name": "mart"}]


# --------------------------------------------------------------------------
# event status, failures


def test_event_status_queued_then_applied(tenant, spawn_ingest):
    stream = "mf:test:" + uuid.uuid4().hex
    srv = spawn_ingest(unique("q"), "serve", {"MF_INGEST_STREAM": stream})
    ing = tenant.ingest(srv)
    eid = ing.emit({"dataset": {"name": "waiting"}})
    r = ing.event(eid)
    assert r.status_code == 200, r.text
    assert r.json() == {"event_id": eid, "status": "queued"}
    # nothing applies it while no worker reads the stream
    assert_error(tenant.api.get_dataset("waiting"), 404, "not_found")
    viewer = tenant.ingest(srv, "viewer")
    assert viewer.event(eid).json()["status"] == "queued"
    w = spawn_ingest(unique("qw"), "work", {"MF_INGEST_STREAM": stream})
    doc = ing.wait_applied(eid)
    assert doc["changes"]["datasets"][0]["name"] == "waiting"
    assert tenant.api.get_dataset("waiting").status_code == 200
    w.stop_and_check()
    srv.stop_and_check()


def test_event_status_unknown(ing):
    assert_error(ing.event(str(uuid.uuid4())), 404, "not_found")
    assert_error(ing.event("not-a-uuid"), 404, "not_found")


def test_event_status_right_after_acceptance(tenant, spawn_ingest, migrated):
    """An acknowledged event is never unknown: GET right after the 202 says
    queued (or applied), never 404, also for large batches. (No worker reads
    this stream, so the events stay queued and cost nothing to apply.)"""
    stream = "mf:test:" + uuid.uuid4().hex
    srv = spawn_ingest(unique("race"), "serve", {"MF_INGEST_STREAM": stream})
    try:
        other = IngestClient(srv.base, tenant.key)
        missing = []
        checked = 0
        for round_ in range(20):
            # a new connection per round: the post and the GET land on the same
            # loop thread or on different ones (SO_REUSEPORT), both cases are tried
            ing = IngestClient(srv.base, tenant.key)
            ids = ing.emit_batch([{"dataset": {"name": "race%d" % (i % 20)}} for i in range(1000)])
            to_check = [ids[-1], ids[0]]
            for eid in to_check:
                r = other.event(eid)
                checked += 1
                if r.status_code != 200 or r.json()["status"] not in ("queued", "applied"):
                    missing.append((round_, eid, r.status_code, r.text[:120]))
            eid = ing.emit({"dataset": {"name": "race-single"}})
            ids.append(eid)
            r = other.event(eid)
            checked += 1
            if r.status_code != 200 or r.json()["status"] not in ("queued", "applied"):
                missing.append((round_, eid, r.status_code, r.text[:120]))
        assert not missing, "%d of %d acknowledged events answered as unknown right after " \
                            "the 202, e.g. %r" % (len(missing), checked, missing[:3])
        # and once the status records are written, every event is known
        for eid in ids:
            assert other.event(eid).status_code == 200
    finally:
        redis_cli(migrated["MF_REDIS_URL"], "DEL", stream)
        srv.stop_and_check()


@pytest.fixture
def poison(migrated):
    """A test-only trigger that makes writing datasets named poison-<tag>-* fail in SQL:
    an event that passes intake validation but can never be applied."""
    tag = uuid.uuid4().hex[:10]
    fn = "mf_test_poison_%s" % tag
    sup(migrated, "CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                  "IF NEW.name LIKE 'poison-%s-%%' THEN RAISE EXCEPTION 'poisoned by the test (%s)'; "
                  "END IF; RETURN NEW; END $$" % (fn, tag, tag))
    sup(migrated, "CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON datasets FOR EACH ROW "
                  "EXECUTE FUNCTION %s()" % (fn, fn))
    yield "poison-%s-" % tag
    sup(migrated, "DROP TRIGGER %s ON datasets" % fn)
    sup(migrated, "DROP FUNCTION %s()" % fn)


def _check_failed(doc, eid, attempts):
    assert doc["event_id"] == eid and doc["status"] == "failed", doc
    assert doc["source"] == "emit"
    assert_ts(doc["received_at"])
    assert_ts(doc["failed_at"])
    assert doc["attempts"] == attempts, doc
    assert "poisoned by the test" in doc["reason"], doc


def test_failed_event_and_failures_list(ing, tenant, tenant_factory, ingest, migrated, poison):
    name = poison + "a"
    body = {"dataset": {"name": name, "description": "never"}}
    eid = ing.emit(body)
    ok = ing.emit({"dataset": {"name": unique("fine")}})
    doc = ing.wait_event(eid)
    _check_failed(doc, eid, 3)  # MF_INGEST_MAX_TRIES default
    assert ing.wait_applied(ok)["status"] == "applied"  # one bad event does not hold up others
    assert_error(tenant.api.get_dataset(name), 404, "not_found")

    fails = ing.walk("/api/v1/ingest/failures")
    assert [f["event_id"] for f in fails] == [eid], fails
    f = fails[0]
    assert set(f) >= {"event_id", "source", "received_at", "failed_at", "attempts", "reason", "event"}
    assert f["attempts"] == 3 and f["reason"] == doc["reason"]
    assert f["event"]["datasets"][0]["name"] == name, f["event"]
    # a viewer reads them too
    viewer = tenant.ingest(ingest, "viewer")
    assert viewer.event(eid).json()["status"] == "failed"
    assert [x["event_id"] for x in viewer.walk("/api/v1/ingest/failures")] == [eid]
    # the dead-letter stream holds a copy
    dead = redis_cli(migrated["MF_REDIS_URL"], "XRANGE", "mf:ingest:dead", "-", "+")
    assert eid in dead, "event %s not on mf:ingest:dead" % eid

    # a second failure: newest first, pagination
    eid2 = ing.emit({"dataset": {"name": poison + "b"}})
    _check_failed(ing.wait_event(eid2), eid2, 3)
    page = ing.ok("GET", "/api/v1/ingest/failures", 200, params={"limit": "1"}).json()
    assert [x["event_id"] for x in page["items"]] == [eid2] and page["next_cursor"], page
    assert [x["event_id"] for x in ing.walk("/api/v1/ingest/failures", limit=1)] == [eid2, eid]

    # another tenant sees neither the status nor the failure
    b = tenant_factory().ingest(ingest)
    assert_error(b.event(eid), 404, "not_found")
    assert_error(b.event(ok), 404, "not_found")
    assert b.walk("/api/v1/ingest/failures") == []


def test_failed_event_max_tries_setting(tenant, spawn_ingest, poison):
    stream = "mf:test:" + uuid.uuid4().hex
    srv = spawn_ingest(unique("mt"), "serve", {"MF_INGEST_STREAM": stream})
    w = spawn_ingest(unique("mtw"), "work", {"MF_INGEST_STREAM": stream, "MF_INGEST_MAX_TRIES": "1"})
    ing = tenant.ingest(srv)
    eid = ing.emit({"dataset": {"name": poison + "once"}})
    _check_failed(ing.wait_event(eid), eid, 1)
    w.stop_and_check()
    srv.stop_and_check()


def test_failed_event_keeps_no_profile_samples(tenant, spawn_ingest, poison, migrated):
    """A column profile's samples are classified, never stored: not in ingest_failures, not on the
    dead-letter stream (docs/classification.md)."""
    stream = "mf:test:" + uuid.uuid4().hex
    srv = spawn_ingest(unique("smp"), "serve", {"MF_INGEST_STREAM": stream})
    w = spawn_ingest(unique("smpw"), "work", {"MF_INGEST_STREAM": stream, "MF_INGEST_MAX_TRIES": "1"})
    ing = tenant.ingest(srv)
    marker = "sample%s@example.com" % uuid.uuid4().hex[:10]
    eid = ing.emit({"dataset": {"name": poison + "samples", "fields": [{"name": "email", "type": "text"}]},
                    "profile": {"row_count": 3, "columns": {"email": {"null_count": 0, "samples": [marker]}}}})
    _check_failed(ing.wait_event(eid), eid, 1)
    failure = ing.walk("/api/v1/ingest/failures")[0]
    assert failure["event_id"] == eid and marker not in json.dumps(failure), failure
    assert failure["event"]["profiles"][0]["columns"]["email"]["null_count"] == 0, failure["event"]
    dead = redis_cli(migrated["MF_REDIS_URL"], "XRANGE", stream + ":dead", "-", "+")
    assert eid in dead and "null_count" in dead, dead
    assert marker not in dead, "the dead-letter stream kept a sample: %s" % dead
    w.stop_and_check()
    srv.stop_and_check()


def test_cross_tenant_event_status(ing, tenant_factory, ingest):
    eid = ing.emit({"dataset": {"name": "secret"}})
    ing.wait_applied(eid)
    b = tenant_factory()
    bing = b.ingest(ingest)
    assert_error(bing.event(eid), 404, "not_found")
    # B's own dataset of the same name is B's
    beid = bing.emit({"dataset": {"name": "secret", "description": "B's"}})
    bdoc = bing.wait_applied(beid)
    assert bdoc["changes"]["datasets"][0]["version"] == 1
    assert_error(ing.event(beid), 404, "not_found")
    assert b.api.get_dataset("secret").json()["description"] == "B's"


# --------------------------------------------------------------------------
# idempotency


def test_idempotency_key_replay(ing, api, migrated, tenant):
    key = "retry-" + uuid.uuid4().hex
    body = {"dataset": {"name": "idem"}}
    r1 = ing.post("/api/v1/emit", body, headers={"Idempotency-Key": key})
    assert r1.status_code == 202, r1.text
    assert r1.headers.get("Idempotent-Replayed") is None
    r2 = ing.post("/api/v1/emit", body, headers={"Idempotency-Key": key})
    assert r2.status_code == 202, r2.text
    assert r2.json() == r1.json()
    assert r2.headers.get("Idempotent-Replayed") == "true"
    eid = r1.json()["event_id"]
    ing.wait_applied(eid)
    r3 = ing.post("/api/v1/emit", body, headers={"Idempotency-Key": key})
    assert r3.json() == r1.json() and r3.headers.get("Idempotent-Replayed") == "true"
    sentinel(ing)
    assert applied_count(migrated, tenant.id) == 2  # the event and the sentinel
    assert dataset(api, "idem")["version"] == 1

    # batch and lineage too
    items = [{"dataset": {"name": "ib1"}}, {"dataset": {"name": "ib2"}}]
    bk = "batch-" + uuid.uuid4().hex
    b1 = ing.post("/api/v1/emit/batch", items, headers={"Idempotency-Key": bk})
    b2 = ing.post("/api/v1/emit/batch", items, headers={"Idempotency-Key": bk})
    assert b1.status_code == b2.status_code == 202
    assert b2.json() == b1.json() and b2.headers.get("Idempotent-Replayed") == "true"
    ev = ol_run_event("START", "2026-11-01T10:00:00Z", str(uuid.uuid4()), job=("ns", "idem"))
    lk = "ol-" + uuid.uuid4().hex
    l1 = ing.post("/api/v1/lineage", ev, headers={"Idempotency-Key": lk})
    l2 = ing.post("/api/v1/lineage", ev, headers={"Idempotency-Key": lk})
    assert l1.status_code == l2.status_code == 202
    assert l2.json() == l1.json() and l2.headers.get("Idempotent-Replayed") == "true"
    ing.wait_all_applied(b1.json()["event_ids"] + [l1.json()["event_id"]])
    sentinel(ing)
    assert applied_count(migrated, tenant.id) == 2 + 2 + 1 + 1


def test_idempotency_key_is_per_tenant(ing, tenant_factory, ingest):
    key = "shared-" + uuid.uuid4().hex
    r1 = ing.post("/api/v1/emit", {"dataset": {"name": "a"}}, headers={"Idempotency-Key": key})
    b = tenant_factory().ingest(ingest)
    r2 = b.post("/api/v1/emit", {"dataset": {"name": "a"}}, headers={"Idempotency-Key": key})
    assert r1.status_code == r2.status_code == 202
    assert r1.json()["event_id"] != r2.json()["event_id"]
    assert r2.headers.get("Idempotent-Replayed") is None
    b.wait_applied(r2.json()["event_id"])


@pytest.mark.parametrize("value", ["", "x" * 256])
def test_idempotency_key_bad(ing, value):
    r = ing.post("/api/v1/emit", {"dataset": {"name": "a"}}, headers={"Idempotency-Key": value})
    assert_error(r, 400, "invalid_request", message_contains="Idempotency-Key")


def test_idempotency_key_concurrent_retries(ing, migrated, tenant, api):
    """Retries that overlap (a client timed out and retried while the first post
    was still in flight) still queue one event: every answer carries the first id."""
    rounds = []
    for _ in range(5):
        key = "conc-" + uuid.uuid4().hex
        name = unique("conc")

        def one(_):
            c = IngestClient(ing.base, ing.key)
            r = c.post("/api/v1/emit", {"dataset": {"name": name}}, headers={"Idempotency-Key": key})
            assert r.status_code == 202, r.text
            return r.json()["event_id"]

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            ids = list(ex.map(one, range(8)))
        rounds.append((name, sorted(set(ids))))
    for name, ids in rounds:
        ing.wait_all_applied(ids)
    bad = [(name, len(ids), dataset(api, name)["version"]) for name, ids in rounds if len(ids) != 1]
    assert not bad, "one Idempotency-Key, several events queued and applied " \
                    "(dataset, distinct event ids, resulting version): %r" % bad


# --------------------------------------------------------------------------
# auth


POST_ROUTES = [("/api/v1/emit", {"dataset": {"name": "authz"}}),
               ("/api/v1/emit/batch", [{"dataset": {"name": "authz"}}]),
               ("/api/v1/lineage", {"eventTime": "2026-11-01T10:00:00Z", "producer": "p",
                                    "dataset": {"namespace": "a", "name": "authz"}})]


def test_ingest_auth(tenant, ingest, ingest_worker, platform_key, migrated):
    anon = IngestClient(ingest.base, None)
    some = "/api/v1/ingest/events/" + str(uuid.uuid4())
    for path, body in POST_ROUTES:
        assert_error(anon.post(path, body), 401, "unauthorized")
        assert_error(anon.post(path, body, key="mf_live_000000000000_" + "0" * 64), 401, "unauthorized")
        assert_error(anon.post(path, body, key="not-a-key"), 401, "unauthorized")
    for path in (some, "/api/v1/ingest/failures"):
        assert_error(anon.get(path), 401, "unauthorized")

    viewer = tenant.ingest(ingest, "viewer")
    editor = tenant.ingest(ingest, "editor")
    platform = IngestClient(ingest.base, platform_key)
    before = applied_count(migrated, tenant.id)
    for path, body in POST_ROUTES:
        assert_error(viewer.post(path, body), 403, "forbidden")
        assert_error(platform.post(path, body), 403, "forbidden")
    # viewers read statuses and failures; the platform key reads nothing of a tenant
    assert_error(viewer.get(some), 404, "not_found")
    assert viewer.walk("/api/v1/ingest/failures") == []
    assert_error(platform.get(some), 403, "forbidden")
    assert_error(platform.get("/api/v1/ingest/failures"), 403, "forbidden")
    # nothing the refused posts carried was queued
    sentinel(editor)
    assert applied_count(migrated, tenant.id) == before + 1
    assert_error(tenant.api.get_dataset("authz"), 404, "not_found")
    # editors and admins may post
    ids = [editor.emit(POST_ROUTES[0][1])] + editor.emit_batch(POST_ROUTES[1][1]) + \
        [editor.lineage(POST_ROUTES[2][1])]
    admin = tenant.ingest(ingest)
    ids.append(admin.emit({"dataset": {"name": "by-admin"}}))
    editor.wait_all_applied(ids)
    # a revoked key stops working (within the cache TTL of 1 s in tests)
    k = tenant.make_key("editor")
    c = IngestClient(ingest.base, k["key"])
    assert c.post(*POST_ROUTES[0]).status_code == 202
    tenant.api.ok("DELETE", "/api/v1/api-keys/" + k["id"], 204)
    deadline = time.monotonic() + 10
    while True:
        r = c.post(*POST_ROUTES[0])
        if r.status_code == 401:
            break
        assert time.monotonic() < deadline, "revoked key still accepted: %d %s" % (r.status_code, r.text)
        time.sleep(0.1)


# --------------------------------------------------------------------------
# bodies and limits


def test_body_limit_5mb(ing, api):
    big = b'{"dataset":{"name":"big","description":"' + b"x" * MAX_BODY + b'"}}'
    for path in ("/api/v1/emit", "/api/v1/emit/batch", "/api/v1/lineage"):
        r = ing.req("POST", path, data=big, headers={"Content-Type": "application/json"})
        assert_error(r, 413, "payload_too_large")
    r = ing.req("POST", "/api/v1/emit/batch", data=big,
                headers={"Content-Type": "application/x-ndjson"})
    assert_error(r, 413, "payload_too_large")
    # just under 5 MB is taken: an OpenLineage event with a long SQL facet ...
    query = "SELECT 1 -- " + "q" * (MAX_BODY - 4096)
    ev = ol_run_event("COMPLETE", "2026-11-01T10:00:00Z", str(uuid.uuid4()), job=("ns", "bigsql"),
                      job_facets={"sql": {"query": query}})
    data = json.dumps(ev).encode()
    assert MAX_BODY - 8192 < len(data) <= MAX_BODY, len(data)
    r = ing.req("POST", "/api/v1/lineage", data=data, headers={"Content-Type": "application/json"})
    assert r.status_code == 202, r.text[:300]
    ing.wait_applied(r.json()["event_id"])
    job = api.ok("GET", "/api/v1/jobs/ns/bigsql", 200).json()
    assert job["sql"] == query
    # ... and a batch of 1000 events of 5 KB
    desc = "d" * 5000
    items = [{"dataset": {"name": "w%d" % i, "description": desc}} for i in range(1000)]
    data = json.dumps(items).encode()
    assert MAX_BODY - 300000 < len(data) <= MAX_BODY, len(data)
    ids = ing.emit_batch(items)
    ing.wait_all_applied(ids[-1:])
    assert dataset(api, "w999")["description"] == desc


@pytest.mark.parametrize("path", ["/api/v1/emit", "/api/v1/emit/batch", "/api/v1/lineage"])
@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_unsupported_media_type(ing, path, ctype):
    r = ing.req("POST", path, data=b'{"dataset":{"name":"x"}}', headers={"Content-Type": ctype})
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize("path", ["/api/v1/emit", "/api/v1/lineage"])
@pytest.mark.parametrize("data", [b"{bad", b'{"dataset":', b"", b"[1,2]", b'"text"', b"null",
                                  b'{"dataset":{"name":"a"},"dataset":{"name":"b"}}',
                                  b'\xff\xfe{"dataset":1}'],
                         ids=["bad", "truncated", "empty", "array", "string", "null",
                              "duplicate-keys", "not-utf8"])
def test_malformed_json(ing, path, data):
    r = ing.req("POST", path, data=data, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


def test_queue_full_is_503(tenant, spawn_ingest, migrated):
    stream = "mf:test:" + uuid.uuid4().hex
    srv = spawn_ingest(unique("full"), "serve", {"MF_INGEST_STREAM": stream, "MF_INGEST_QUEUE_MAX": "3"})
    ing = tenant.ingest(srv)
    for i in range(3):
        ing.emit({"dataset": {"name": "f%d" % i}})
    r = ing.post("/api/v1/emit", {"dataset": {"name": "f3"}})
    assert_error(r, 503, "unavailable")
    assert r.headers.get("Retry-After", "").isdigit(), r.headers
    r = ing.post("/api/v1/emit/batch", [{"dataset": {"name": "g%d" % i}} for i in range(2)])
    assert_error(r, 503, "unavailable")
    assert redis_cli(migrated["MF_REDIS_URL"], "XLEN", stream) == "3"
    # a worker drains it and posts are taken again
    w = spawn_ingest(unique("fullw"), "work", {"MF_INGEST_STREAM": stream})
    deadline = time.monotonic() + 60
    while redis_cli(migrated["MF_REDIS_URL"], "XLEN", stream) != "0":
        assert time.monotonic() < deadline, "the stream was not drained"
        time.sleep(0.1)
    ing.wait_applied(ing.emit({"dataset": {"name": "f4"}}))
    w.stop_and_check()
    srv.stop_and_check()


def _metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def _post_together(clients, bodies, headers=None):
    """Post bodies[i] through clients[i], all threads released at once; the responses."""
    barrier = threading.Barrier(len(clients))

    def one(i):
        barrier.wait(30)
        return clients[i].post("/api/v1/emit", bodies[i], headers=(headers or [None] * len(bodies))[i])

    with concurrent.futures.ThreadPoolExecutor(len(clients)) as ex:
        return list(ex.map(one, range(len(clients))))


def test_grouped_posts_each_judged_alone(tenant_factory, admin_api, spawn_ingest, migrated):
    """A loop thread queues the posts of one turn with one Redis command; inside a
    group each post is still judged alone and in order: the monthly quota or the
    queue bound running out mid-group refuses exactly the posts past it, and two
    posts with one Idempotency-Key in a group queue one event."""
    stream = "mf:test:" + uuid.uuid4().hex
    srv = spawn_ingest(unique("group"), "serve", {"MF_INGEST_STREAM": stream, "MF_INGEST_QUEUE_MAX": "60",
                                                  "MF_HTTP_THREADS": "1"})
    n = 48
    # the monthly quota runs out mid-group
    small = tenant_factory()
    admin_api.ok("PUT", "/api/v1/admin/tenants/" + small.id, 200,
                 json_body={"quotas": {"emit_events_per_month": 30, "requests_per_second": 100000,
                                       "key_requests_per_second": 100000}})
    clients = [IngestClient(srv.base, small.key) for _ in range(n)]
    for c in clients:  # a connection each, open before the posts
        assert c.get("/api/v1/ingest/failures").status_code == 200
    rs = _post_together(clients, [{"dataset": {"name": "q%d" % i}} for i in range(n)])
    codes = sorted(r.status_code for r in rs)
    assert codes == [202] * 30 + [403] * 18, codes
    for r in rs:
        if r.status_code == 403:
            assert_error(r, 403, "quota_exceeded", "emit events")
    accepted = [r.json()["event_id"] for r in rs if r.status_code == 202]
    assert len(set(accepted)) == 30
    assert redis_cli(migrated["MF_REDIS_URL"], "XLEN", stream) == "30"
    status = IngestClient(srv.base, small.key).get("/api/v1/ingest/events/" + accepted[-1])
    assert status.status_code == 200 and status.json()["status"] == "queued", status.text

    # the queue bound (60) runs out mid-group; some pairs of posts share an Idempotency-Key
    big = tenant_factory()
    clients = [IngestClient(srv.base, big.key) for _ in range(n)]
    for c in clients:
        assert c.get("/api/v1/ingest/failures").status_code == 200
    # 8 pairs, then 32 keys of their own: 40 distinct posts for room for 30
    key_of = [i // 2 if i < 16 else i - 8 for i in range(n)]
    keys = [{"Idempotency-Key": "post-%d-%s" % (k, stream)} for k in key_of]
    rs = _post_together(clients, [{"dataset": {"name": "b%d" % k}} for k in key_of], keys)
    ok = [r for r in rs if r.status_code == 202]
    full = [r for r in rs if r.status_code == 503]
    assert len(ok) + len(full) == n, sorted(r.status_code for r in rs)
    for r in full:
        assert_error(r, 503, "unavailable")
    queued = {r.json()["event_id"] for r in ok}
    replayed = [r for r in ok if r.headers.get("Idempotent-Replayed") == "true"]
    # each key queued at most one event, and its replays carry that event's id
    assert len(queued) == len(ok) - len(replayed), (len(queued), len(ok), len(replayed))
    assert len(queued) == 30, "the queue had room for 30 more events: %d queued" % len(queued)
    assert redis_cli(migrated["MF_REDIS_URL"], "XLEN", stream) == "60"
    by_key = {}
    for i, r in enumerate(rs):
        if r.status_code == 202:
            by_key.setdefault(keys[i]["Idempotency-Key"], set()).add(r.json()["event_id"])
    assert all(len(ids) == 1 for ids in by_key.values()), by_key

    # and the posts were grouped: fewer Redis commands than posts
    metrics = requests.get(srv.base + "/metrics", timeout=10).text
    posts, commands = _metric(metrics, "mf_ingest_queue_posts_total"), _metric(metrics, "mf_ingest_queue_commands_total")
    assert posts >= 2 * n - 18 and 0 < commands < posts, (posts, commands)
    # Redis forgot the script (a restart, SCRIPT FLUSH): the group is sent again with the script itself
    redis_cli(migrated["MF_REDIS_URL"], "DEL", stream)
    redis_cli(migrated["MF_REDIS_URL"], "SCRIPT", "FLUSH")
    event_id = IngestClient(srv.base, big.key).emit({"dataset": {"name": "after-flush"}})
    assert redis_cli(migrated["MF_REDIS_URL"], "XLEN", stream) == "1"
    assert event_id in redis_cli(migrated["MF_REDIS_URL"], "XRANGE", stream, "-", "+")
    srv.stop_and_check()
