"""dbt, Great Expectations, Iceberg and Delta imports through the real mf-api
and mf-ingest: what each import writes (datasets, fields, owners, tags,
lineage, schema versions, quality results over time), that importing again
changes nothing it should not, dry runs, path mode under the operator's root,
access (roles, scoped keys), audit, and hostile inputs answered 4xx with
nothing written. The documents come from integrations_support.py, in the
tools' own formats."""

import json
import os
import shutil
import uuid

import pytest

from conftest import IngestClient, assert_error, psql, q, unique
from integrations_support import (
    dbt_catalog,
    dbt_manifest,
    dbt_run_results,
    delta_commits,
    delta_log_files,
    ge_result,
    iceberg_metadata,
)

INVOCATION = "6f1c0a52-6b0e-4a59-8b1e-5d7c2a0e9f02"
CUSTOMERS = "analytics.marts.customers"


def imp(api, kind, body, status=200, **params):
    r = api.post("/api/v1/integrations/" + kind, body, params=params or None)
    assert r.status_code == status, "%s: %d %s" % (kind, r.status_code, r.text[:800])
    return r.json()


def ds(api, name, namespace=None):
    r = api.get("/api/v1/datasets/" + q(name), params={"namespace": namespace} if namespace else None)
    assert r.status_code == 200, "%s: %d %s" % (name, r.status_code, r.text[:300])
    return r.json()


def versions(api, name, namespace=None):
    params = {"namespace": namespace} if namespace else None
    return api.walk("/api/v1/datasets/%s/versions" % q(name), params=params)


def quality(api, name, **params):
    return api.walk("/api/v1/datasets/%s/quality" % q(name), params=params)


def dataset_names(api):
    return sorted(d["name"] for d in api.walk("/api/v1/datasets"))


def sup(infra, sql):
    return psql(infra["MF_PG_SUPER_URL"], sql)[1]


def project(**kw):
    return {"manifest": dbt_manifest(**kw), "run_results": dbt_run_results(INVOCATION), "catalog": dbt_catalog()}


# ---------------------------------------------------------------- dbt


def test_dbt_project_becomes_datasets_lineage_and_quality(api):
    summary = imp(api, "dbt", project())
    assert summary["dry_run"] is False
    assert summary["datasets_created"] == 5, summary  # 2 models, a seed, a source, an exposure
    assert summary["placeholders_created"] == 0, summary
    assert summary["lineage_edges"] == 4, summary
    assert summary["quality_results"] == 1, summary
    assert {d["name"] for d in summary["datasets"]} == {
        CUSTOMERS, "analytics.staging.stg_customers", "analytics.seeds.countries", "raw.shop.customers",
        "exposure.shop.churn"}

    stg = ds(api, "analytics.staging.stg_customers")
    assert stg["description"] == "Customers, cleaned"
    assert stg["owner"] == "data-eng" and stg["tags"] == ["staging"] and stg["format"] == "view"
    assert [(f["name"], f["type"], f["tags"]) for f in stg["fields"]] == [
        ("id", "bigint", ["pk"]), ("email", "text", ["pii"])]
    assert stg["upstream"] == [{"namespace": "default", "name": "raw.shop.customers"}]
    assert stg["facets"]["dbt"]["materialized"] == "view"

    cust = ds(api, CUSTOMERS)
    assert cust["format"] == "incremental"
    assert cust["operational"]["row_count"] == 4200  # from catalog.json
    assert [f["name"] for f in cust["fields"]] == ["id", "email"]
    assert sorted(u["name"] for u in cust["upstream"]) == ["analytics.seeds.countries",
                                                          "analytics.staging.stg_customers"]
    assert cust["downstream"] == [{"namespace": "default", "name": "exposure.shop.churn"}]
    assert {t["test"] for t in cust["facets"]["dbt"]["tests"]} == {"unique", "not_null"}
    exposure = ds(api, "exposure.shop.churn")
    assert exposure["format"] == "exposure:dashboard" and exposure["owner"] == "growth@example.com"

    results = quality(api, CUSTOMERS)
    assert len(results) == 1
    res = results[0]
    assert res["run"]["run_id"] == INVOCATION and res["run"]["state"] == "FAIL"
    assert res["run"]["job"] == {"namespace": "default", "name": "dbt:shop"}
    by_test = {a["assertion"]: a for a in res["assertions"]}
    assert by_test["unique"]["success"] is True and by_test["unique"]["column"] == "id"
    assert by_test["not_null"]["success"] is False and by_test["not_null"]["failures"] == 3
    assert [r["assertions"][0]["column"] for r in quality(api, CUSTOMERS, column="email")] == ["id"]
    assert quality(api, CUSTOMERS, column="nope") == []

    # the dbt run is a job run like any other
    runs = api.walk("/api/v1/jobs/default/%s/runs" % q("dbt:shop"))
    assert [r["run_id"] for r in runs] == [INVOCATION]


def test_dbt_import_again_changes_nothing_twice(api, infra, tenant):
    imp(api, "dbt", project())
    before = {d: ds(api, d)["schema_version"] for d in (CUSTOMERS, "analytics.staging.stg_customers")}
    again = imp(api, "dbt", project())
    assert again["datasets_created"] == 0 and again["datasets_updated"] == 5, again
    assert again["lineage_edges"] == 0 and again["schema_versions"] == 0, again
    assert again["quality_results"] == 1, again  # the same run's result replaced, not doubled
    assert {d: ds(api, d)["schema_version"] for d in before} == before
    assert len(quality(api, CUSTOMERS)) == 1
    # a later run adds a result; a new column is a new schema version
    later = {"manifest": dbt_manifest(extra_column="segment"),
             "run_results": dbt_run_results(str(uuid.uuid4()), email_status="pass", at="2026-11-21T10:05:00Z")}
    summary = imp(api, "dbt", later)
    assert summary["schema_versions"] == 1, summary
    assert [f["name"] for f in ds(api, "analytics.staging.stg_customers")["fields"]][-1] == "segment"
    results = quality(api, CUSTOMERS)
    assert [r["run"]["state"] for r in results] == ["COMPLETE", "FAIL"]  # newest first
    assert int(sup(infra, "SELECT count(*) FROM dataset_quality WHERE tenant_id = '%s'" % tenant.id)[0]) == 2


def test_dbt_bare_manifest_and_dry_run(api, tenant):
    dry = imp(api, "dbt", dbt_manifest(), dry_run="true")
    assert dry["dry_run"] is True and dry["datasets_created"] == 5 and dry["lineage_edges"] == 4, dry
    assert dry["quality_results"] == 0
    assert dataset_names(api) == []  # nothing was written
    assert not [e for e in api.walk("/api/v1/audit") if e["action"] == "integration.import"]
    real = imp(api, "dbt", dbt_manifest(), dry_run="false")
    assert {k: real[k] for k in ("datasets_created", "lineage_edges")} == {
        k: dry[k] for k in ("datasets_created", "lineage_edges")}
    assert len(dataset_names(api)) == 5
    audit = [e for e in api.walk("/api/v1/audit") if e["action"] == "integration.import"]
    assert len(audit) == 1 and audit[0]["target"] == "dbt"
    # the datasets' own rows are audited too, by the same request
    assert any(e["action"].startswith("dataset") for e in api.walk("/api/v1/audit"))


# ---------------------------------------------------------------- Great Expectations


def test_great_expectations_results_over_time(api):
    s1 = imp(api, "great-expectations", ge_result())
    assert s1["quality_results"] == 1 and s1["placeholders_created"] == 1, s1
    imp(api, "great-expectations", ge_result(run_time="2026-11-21T02:00:00+00:00", unexpected=4))
    imp(api, "great-expectations", ge_result())  # the first result again: replaced
    results = quality(api, "public.orders")
    assert len(results) == 2, results
    assert sorted(r["run"]["event_time"] for r in results) == ["2026-11-20T02:00:00.000Z",
                                                               "2026-11-21T02:00:00.000Z"]
    failed = [r for r in results if r["metrics"]["success"] is False]
    assert len(failed) == 1
    amount = [a for a in failed[0]["assertions"] if a.get("column") == "amount"][0]
    assert amount["success"] is False and amount["unexpected_count"] == 4
    assert failed[0]["run"]["job"]["name"] == "great_expectations:orders.critical"
    assert len(quality(api, "public.orders", column="amount")) == 2
    # the dataset named by ?name= and ?namespace=
    imp(api, "great-expectations", ge_result(), name="orders", namespace="pg")
    assert len(quality(api, "orders", namespace="pg")) == 1


# ---------------------------------------------------------------- Iceberg


def test_iceberg_schemas_become_versions_once(api):
    summary = imp(api, "iceberg", iceberg_metadata(schemas=2), namespace="lake")
    assert summary["datasets_created"] == 1 and summary["schema_versions"] == 2, summary
    d = ds(api, "events", "lake")
    assert d["format"] == "iceberg" and d["path"] == "s3://lake/warehouse/web/events"
    assert d["description"] == "Web events" and d["owner"] == "web-team"
    assert [(f["name"], f["nullable"]) for f in d["fields"]] == [("id", False), ("ts", False), ("kind", True)]
    assert d["operational"] == {"row_count": 130, "size_bytes": 26000, "partition_keys": ["day(ts)"]}
    fact = d["facets"]["iceberg"]
    assert fact["field_ids"] == {"id": 1, "ts": 2, "kind": 3}
    assert [s.get("deleted-records") for s in fact["snapshots"]] == [None, None, 20]
    assert [s["snapshot_id"] for s in fact["snapshots"]][0] == "3051729675574597004"
    assert [v["field_count"] for v in versions(api, "events", "lake")] == [3, 2]
    # the same metadata again: no new version
    again = imp(api, "iceberg", iceberg_metadata(schemas=2), namespace="lake")
    assert again["schema_versions"] == 0 and again["datasets_updated"] == 1, again
    # the table evolved: one new version, the old ones untouched
    evolved = imp(api, "iceberg", iceberg_metadata(schemas=3), namespace="lake")
    assert evolved["schema_versions"] == 1, evolved
    assert [v["field_count"] for v in versions(api, "events", "lake")] == [4, 3, 2]
    assert ds(api, "events", "lake")["fields"][3]["type"] == "map<string, string>"


def test_iceberg_onto_a_dataset_with_history_of_its_own(api):
    """Past schemas are not replayed behind versions the dataset already has."""
    api.ok("POST", "/api/v1/datasets", 201, json_body={
        "name": "events", "fields": [{"name": "id", "type": "long"}, {"name": "ts", "type": "timestamptz"},
                                     {"name": "kind", "type": "string"}]})
    summary = imp(api, "iceberg", iceberg_metadata(schemas=2))
    assert summary["schema_versions"] == 1, summary  # the current schema (nullability changed), not schema 0
    assert len(versions(api, "events")) == 2


# ---------------------------------------------------------------- Delta


def test_delta_log_json_and_ndjson(api):
    files = delta_log_files()
    summary = imp(api, "delta", delta_commits(files))
    assert summary["datasets_created"] == 1 and summary["schema_versions"] == 2, summary
    d = ds(api, "orders")
    assert d["format"] == "delta" and d["description"] == "Orders"
    assert [f["name"] for f in d["fields"]] == ["id", "amount", "day", "coupon"]
    assert d["fields"][0]["description"] == "order id"
    assert d["operational"] == {"row_count": 27, "size_bytes": 2900, "partition_keys": ["day"]}
    fact = d["facets"]["delta"]
    assert fact["version"] == 3 and fact["files"] == 2 and fact["schema_changes"] == [0, 2]
    assert [h["operation"] for h in fact["history"]] == ["CREATE TABLE", "WRITE", "ADD COLUMNS", "DELETE"]
    assert [v["field_count"] for v in versions(api, "orders")] == [4, 3]
    # NDJSON of the same commits, into another dataset; {"commits": [...]} too
    nd = "".join(json.dumps(c) + "\n" for c in delta_commits(files)).encode()
    r = api.req("POST", "/api/v1/integrations/delta", data=nd, params={"name": "orders_copy"},
                headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.json()["schema_versions"] == 2
    again = imp(api, "delta", {"commits": delta_commits(files)})
    assert again["schema_versions"] == 0 and again["datasets_created"] == 0, again


# ---------------------------------------------------------------- path mode


@pytest.fixture
def rooted(spawn_server, tmp_path, tenant):
    """An mf-api with MF_INTEGRATIONS_ROOT set, the tenant's folder holding an Iceberg and a Delta table."""
    root = tmp_path / "integrations"
    mine = root / tenant.id
    (mine / "web" / "events" / "metadata").mkdir(parents=True)
    for n in (1, 2):
        (mine / "web" / "events" / "metadata" / ("v%d.metadata.json" % n)).write_text(
            json.dumps(iceberg_metadata(schemas=n)))
    (mine / "web" / "events" / "metadata" / "version-hint.text").write_text("2\n")
    log = mine / "orders" / "_delta_log"
    log.mkdir(parents=True)
    for v, text in delta_log_files().items():
        (log / ("%020d.json" % v)).write_text(text)
    target = mine / "shop" / "target"
    target.mkdir(parents=True)
    (target / "manifest.json").write_text(json.dumps(dbt_manifest()))
    (target / "run_results.json").write_text(json.dumps(dbt_run_results(INVOCATION)))
    (root / "secret.json").write_text(json.dumps(iceberg_metadata()))
    (mine / "escape").symlink_to(root / "secret.json")
    srv = spawn_server(unique("integrations-root"), extra_env={"MF_INTEGRATIONS_ROOT": str(root)})
    yield srv, tenant
    shutil.rmtree(root, ignore_errors=True)


def test_path_mode_reads_under_the_tenants_folder(rooted):
    srv, tenant = rooted
    api = tenant.api.__class__(srv.base, tenant.key)
    s = imp(api, "iceberg", {"path": "web/events"})
    assert s["schema_versions"] == 2, s  # version-hint.text names v2: two schemas
    assert ds(api, "events")["operational"]["row_count"] == 130
    s = imp(api, "delta", {"path": "orders"})
    assert s["schema_versions"] == 2 and ds(api, "orders")["operational"]["row_count"] == 27
    s = imp(api, "dbt", {"path": "shop/target"})  # the target folder: manifest and run results
    assert s["datasets_created"] == 5 and s["quality_results"] == 1 and s["runs"] == 1, s
    for bad, status, msg in (
            ({"path": "../secret.json"}, 404, "outside your tenant's integrations folder"),
            ({"path": "escape"}, 404, "outside your tenant's integrations folder"),
            ({"path": "/etc/passwd"}, 404, "relative"),
            ({"path": "nope"}, 404, "does not exist"),
            ({"path": "orders", "extra": 1}, 400, "nothing else"),
            ({"path": "shop/target/manifest.json"}, 400, "format-version")):  # read, then refused
        r = api.post("/api/v1/integrations/iceberg", bad)
        assert_error(r, status, message_contains=msg)
    assert len(dataset_names(api)) == 7


def test_path_mode_off_by_default(api):
    r = api.post("/api/v1/integrations/delta", {"path": "orders"})
    assert_error(r, 400, "invalid_request", "MF_INTEGRATIONS_ROOT is not set")


# ---------------------------------------------------------------- access


def test_roles_and_scoped_keys(tenant):
    viewer = tenant.client("viewer")
    r = viewer.post("/api/v1/integrations/dbt", dbt_manifest())
    assert_error(r, 403, "forbidden")
    tenant.api.ok("POST", "/api/v1/domains", 201, json_body={"name": "sales"})
    scoped_key = tenant.make_key("editor", scope={"domain": "sales"})["key"]
    scoped = tenant.api.with_key(scoped_key)
    # the manifest's datasets are in no domain: outside the key's scope, all refused
    r = scoped.post("/api/v1/integrations/dbt", dbt_manifest())
    assert_error(r, 403)
    assert dataset_names(tenant.api) == []
    # a table inside the scope is fine
    r = scoped.post("/api/v1/integrations/great-expectations", ge_result())
    assert_error(r, 403)  # would create a placeholder outside the scope
    tenant.api.ok("POST", "/api/v1/datasets", 201, json_body={"name": "public.orders", "domain": "sales"})
    r = scoped.post("/api/v1/integrations/great-expectations", ge_result())
    assert r.status_code == 200, r.text
    assert r.json()["runs"] == 0  # jobs and runs belong to the whole tenant
    assert len(quality(tenant.api, "public.orders")) == 1


def test_platform_key_imports_nothing(admin_api):
    r = admin_api.post("/api/v1/integrations/iceberg", iceberg_metadata())
    assert_error(r, 403)


def test_tenants_are_isolated(tenant_factory):
    a, b = tenant_factory(), tenant_factory()
    imp(a.api, "iceberg", iceberg_metadata())
    assert dataset_names(b.api) == []
    r = b.api.get("/api/v1/datasets/events/quality")
    assert_error(r, 404)


# ---------------------------------------------------------------- hostile inputs


HOSTILE = [
    ("dbt", b"{not json", "application/json", 400, "invalid_json", "not valid JSON"),
    ("dbt", b"[1,2]", "application/json", 400, "invalid_request", "must be a JSON object"),
    ("dbt", json.dumps({"nodes": {}}).encode(), "application/json", 400, "invalid_request", "dbt_schema_version"),
    ("dbt", json.dumps({"manifest": dbt_manifest(), "extra": 1}).encode(), "application/json", 400,
     "invalid_request", "unknown field"),
    ("dbt", b"{}\n", "application/x-ndjson", 415, "unsupported_media_type", "NDJSON is for Delta"),
    ("dbt", b"", "application/json", 400, "invalid_json", "required"),
    ("dbt", b"{}", "text/plain", 415, "unsupported_media_type", None),
    ("great-expectations", json.dumps({"results": []}).encode(), "application/json", 400, "invalid_request",
     "success must be a boolean"),
    ("iceberg", json.dumps({"format-version": 9}).encode(), "application/json", 400, "invalid_request",
     "format-version"),
    ("delta", json.dumps([{"version": 3, "actions": []}]).encode(), "application/json", 400, "invalid_request",
     "without gaps"),
    ("delta", b'{"version":0,"actions":[]}\nnot json\n', "application/x-ndjson", 400, "invalid_request", "line 2"),
]


@pytest.mark.parametrize("kind,body,ctype,status,code,msg", HOSTILE)
def test_hostile_inputs_change_nothing(api, kind, body, ctype, status, code, msg):
    r = api.req("POST", "/api/v1/integrations/" + kind, data=body, headers={"Content-Type": ctype})
    assert_error(r, status, code, msg)
    assert dataset_names(api) == []


def test_malformed_manifest_writes_nothing(api):
    m = dbt_manifest()
    m["nodes"]["model.shop.customers"]["columns"] = {"id": {"name": "id"}, "x": 5}
    r = api.post("/api/v1/integrations/dbt", m)
    assert_error(r, 400, "invalid_request", 'manifest.nodes["model.shop.customers"].columns["x"] must be an object')
    bad_field = iceberg_metadata()
    bad_field["schemas"][1]["fields"].append({"id": 9, "name": "id", "required": True, "type": "int"})
    assert_error(api.post("/api/v1/integrations/iceberg", bad_field), 400, "invalid_request", "duplicate")
    assert dataset_names(api) == []


def test_bad_query_parameters(api):
    assert_error(api.post("/api/v1/integrations/dbt", dbt_manifest(), params={"dry_run": "maybe"}), 400,
                 "invalid_request", "dry_run")
    assert_error(api.post("/api/v1/integrations/iceberg", iceberg_metadata(), params={"namespace": "x" * 600}), 400,
                 "invalid_request", "namespace")
    assert_error(api.get("/api/v1/datasets/nope/quality"), 404)
    assert dataset_names(api) == []


def test_huge_files_are_refused(api):
    m = dbt_manifest()
    m["docs"] = {"doc.x": {"block_contents": "x" * (2 * 1024 * 1024)}}
    r = api.post("/api/v1/integrations/dbt", m)
    assert_error(r, 413, "payload_too_large")
    # many nodes within the byte limit still bounded by the decoder's own limits
    t = "int"
    for _ in range(40):
        t = {"type": "list", "element-id": 1, "element": t, "element-required": False}
    meta = iceberg_metadata()
    meta["schemas"][1]["fields"].append({"id": 7, "name": "deep", "required": False, "type": t})
    assert_error(api.post("/api/v1/integrations/iceberg", meta), 400, "invalid_request", "deep")
    assert dataset_names(api) == []


# ---------------------------------------------------------------- mf-ingest


@pytest.fixture
def ing(tenant, ingest, ingest_worker):
    return tenant.ingest(ingest)


def test_ingest_queues_imports_for_the_worker(tenant, ing):
    r = ing.post("/api/v1/integrations/dbt", project())
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 1 and len(body["event_ids"]) == 1
    doc = ing.wait_applied(body["event_ids"][0])
    assert doc["status"] == "applied"
    assert len(dataset_names(tenant.api)) == 5
    assert len(quality(tenant.api, CUSTOMERS)) == 1
    nd = "".join(json.dumps(c) + "\n" for c in delta_commits(delta_log_files())).encode()
    r = ing.req("POST", "/api/v1/integrations/delta", data=nd, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 202, r.text
    ing.wait_applied(r.json()["event_ids"][0])
    assert [v["field_count"] for v in versions(tenant.api, "orders")] == [4, 3]
    # the same log again through the worker: no new version
    r = ing.req("POST", "/api/v1/integrations/delta", data=nd, headers={"Content-Type": "application/x-ndjson"})
    ing.wait_applied(r.json()["event_ids"][0])
    assert len(versions(tenant.api, "orders")) == 2


def test_ingest_refusals(tenant, ingest, ing):
    assert_error(ing.post("/api/v1/integrations/dbt", dbt_manifest(), params={"dry_run": "true"}), 400,
                 "invalid_request", "dry_run")
    assert_error(ing.post("/api/v1/integrations/iceberg", {"format-version": 2}), 400, "invalid_request",
                 "location")
    tenant.api.ok("POST", "/api/v1/domains", 201, json_body={"name": "sales"})
    scoped = IngestClient(ingest.base, tenant.make_key("editor", scope={"domain": "sales"})["key"])
    assert_error(scoped.post("/api/v1/integrations/dbt", dbt_manifest()), 403, "forbidden")
    viewer = tenant.ingest(ingest, role="viewer")
    assert_error(viewer.post("/api/v1/integrations/dbt", dbt_manifest()), 403, "forbidden")
    assert dataset_names(tenant.api) == []
