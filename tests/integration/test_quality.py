"""Data quality through the real mf-api (and mf-ingest for OpenLineage): POST
/api/v1/datasets/{name}/quality and its validation, the score on known results
(the latest result of each check wins, weighted by severity), the summary and its
trend, the unhealthy list (worst first, pages, filters), quality.failed events,
audit, imports and OpenLineage facets feeding the same score, scoped callers and
other tenants."""

import datetime
import json
import uuid

import pytest

from conftest import Api, assert_error, assert_list_page, psql, q
from integrations_support import dbt_manifest, dbt_run_results, ge_result

QUALITY = "/api/v1/datasets/%s/quality"
SUMMARY = "/api/v1/datasets/%s/quality/summary"
UNHEALTHY = "/api/v1/quality/unhealthy"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.9.0/integration/spark"


def record(api, name, results, source="ci", status=201, **extra):
    body = {"source": source, "results": results}
    body.update(extra)
    r = api.post(QUALITY % q(name), body)
    assert r.status_code == status, "%d %s" % (r.status_code, r.text[:500])
    return r.json()


def result(check, passed, severity="error", **extra):
    out = {"check": check, "passed": passed, "severity": severity}
    out.update(extra)
    return out


def summary(api, name, **params):
    return api.ok("GET", SUMMARY % q(name), 200, params=params or None).json()


def unhealthy(api, **params):
    return api.walk(UNHEALTHY, params=params)


def names(items):
    return [i["dataset"]["name"] for i in items]


def days_ago(n):
    """(RFC 3339 time at 02:00 UTC n days ago, its date)."""
    day = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=n)
    return day.isoformat() + "T02:00:00+00:00", day.isoformat()


def sup(infra, sql):
    return psql(infra["MF_PG_SUPER_URL"], sql)[1]


def count(infra, tenant, table, where="true"):
    return int(sup(infra, "SELECT count(*) FROM %s WHERE tenant_id = '%s' AND %s" % (table, tenant.id, where))[0])


# ---------------------------------------------------------------- recording and reading


def test_post_records_a_batch_audited_with_quality_failed(tenant, api, migrated):
    api.create_dataset("orders")
    run = str(uuid.uuid4())
    out = record(api, "orders", [
        result("row_count", True, "warning", observed_value=1200, expected={"min": 1000}),
        result("not_null", False, "critical", column="id", observed_value="3 nulls", message="3 rows\nhad no id"),
    ], run_id=run)
    assert out["dataset"] == {"namespace": "default", "name": "orders"}
    assert (out["source"], out["run_id"], out["results"], out["failed"]) == ("ci", run, 2, 1)
    assert out["score"] == pytest.approx(20.0)  # warning 2 passing of 2 + 8

    batches = api.walk(QUALITY % "orders")
    assert len(batches) == 1 and batches[0]["source"] == "ci" and batches[0]["run"] is None
    assert batches[0]["assertions"] == [
        {"assertion": "row_count", "success": True, "severity": "warning", "observed_value": 1200,
         "expected": {"min": 1000}},
        {"assertion": "not_null", "success": False, "severity": "critical", "column": "id",
         "observed_value": "3 nulls", "message": "3 rows\nhad no id"}]
    assert [b["source"] for b in api.walk(QUALITY % "orders", params={"column": "id"})] == ["ci"]
    assert api.walk(QUALITY % "orders", params={"column": "other"}) == []

    # quality.failed like every other source, naming the failing result
    events = sup(migrated, "SELECT detail::text FROM catalog_events WHERE tenant_id = '%s' "
                           "AND kind = 'quality.failed'" % tenant.id)
    assert len(events) == 1
    detail = json.loads(events[0])
    assert detail["run_id"] == run and [f["assertion"] for f in detail["failed"]] == ["not_null"]

    audit = [e for e in api.walk("/api/v1/audit") if e["action"] == "quality.record"]
    assert len(audit) == 1 and audit[0]["target"] == "default/orders"
    assert audit[0]["after"]["results"] == 2 and audit[0]["after"]["failed"] == 1

    # a batch that passes raises nothing
    record(api, "orders", [result("not_null", True, "critical", column="id")])
    assert count(migrated, tenant, "catalog_events", "kind = 'quality.failed'") == 1


def test_score_latest_result_of_each_check_wins(tenant, api, migrated):
    api.create_dataset("scored")
    s = summary(api, "scored")
    assert (s["score"], s["checks"], s["latest"], s["trend"]) == (None, 0, [], [])

    # weights info 1, warning 2, error 4, critical 8
    first = record(api, "scored", [
        result("fresh", True, "error"),
        result("volume", False, "warning"),
        result("not_null", True, "critical", column="id"),
        result("not_null", False, "info", column="note"),  # same check, other column: its own check
    ])
    assert first["score"] == pytest.approx(round(100 * 12 / 15, 2))
    # the newer batch replaces volume's result; the others keep their latest
    second = record(api, "scored", [result("volume", True, "warning"), result("fresh", False, "error")])
    assert second["score"] == pytest.approx(round(100 * 10 / 15, 2))

    s = summary(api, "scored")
    assert s["score"] == pytest.approx(66.67) and s["checks"] == 4 and s["failing"] == 2
    latest = {(c["check"], c["column"]): c for c in s["latest"]}
    assert {k: (c["passed"], c["severity"]) for k, c in latest.items()} == {
        ("fresh", None): (False, "error"), ("volume", None): (True, "warning"),
        ("not_null", "id"): (True, "critical"), ("not_null", "note"): (False, "info")}
    # failing first, worst first
    assert [(c["check"], c["column"]) for c in s["latest"]][:2] == [("fresh", None), ("not_null", "note")]
    assert [t["score"] for t in s["trend"]] == [pytest.approx(66.67)] and len(s["trend"][0]["day"]) == 10
    # the SQL function the contracts use answers the same
    sql = ("SELECT mf_quality_score(id) FROM datasets WHERE tenant_id = '%s' AND name = 'scored'" % tenant.id)
    assert float(sup(migrated, sql)[0]) == pytest.approx(66.67)
    assert summary(api, "scored", days=1)["trend"] == s["trend"]

    # a batch removed (as a re-imported run removes its earlier results): its checks fall back
    sup(migrated, "DELETE FROM dataset_quality WHERE id = %d" % second["id"])
    assert summary(api, "scored")["score"] == pytest.approx(80.0)
    # a deleted dataset takes its results along
    api.ok("DELETE", "/api/v1/datasets/scored", 204)
    assert count(migrated, tenant, "quality_latest") == 0 and count(migrated, tenant, "dataset_quality") == 0


def test_imports_and_openlineage_feed_the_same_score(tenant, api, ingest, ingest_worker):
    # Great Expectations: id passes, amount fails (both errors) -> 50
    (older, older_day), (newer, newer_day) = days_ago(2), days_ago(1)
    r = api.post("/api/v1/integrations/great-expectations", ge_result(unexpected=4, run_time=newer))
    assert r.status_code == 200, r.text
    assert summary(api, "public.orders")["score"] == pytest.approx(50.0)
    # an older run imported later does not replace the newer results
    r = api.post("/api/v1/integrations/great-expectations", ge_result(run_time=older))
    assert r.status_code == 200, r.text
    s = summary(api, "public.orders")
    assert s["score"] == pytest.approx(50.0) and s["checks"] == 2
    assert [t["day"] for t in s["trend"]] == [older_day, newer_day]
    assert [t["score"] for t in s["trend"]] == [pytest.approx(100.0), pytest.approx(50.0)]
    # a result posted now for the same check wins
    amount = [c for c in s["latest"] if c["column"] == "amount"][0]
    record(api, "public.orders", [result(amount["check"], True, column="amount")], source="manual-recheck")
    assert summary(api, "public.orders")["score"] == pytest.approx(100.0)

    # dbt: unique(id) passes, not_null(email) fails -> 50, and listed as unhealthy
    r = api.post("/api/v1/integrations/dbt", {"manifest": dbt_manifest(),
                                               "run_results": dbt_run_results(str(uuid.uuid4()))})
    assert r.status_code == 200, r.text
    assert summary(api, "analytics.marts.customers")["score"] == pytest.approx(50.0)

    # OpenLineage dataQualityAssertions through mf-ingest
    api.create_dataset("ol_checked")
    facet = {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/X.json",
             "assertions": [{"assertion": "not_null", "success": True, "column": "id"},
                            {"assertion": "unique", "success": False, "column": "id"},
                            {"assertion": "fresh", "success": True}, {"assertion": "rows", "success": True}]}
    ing = tenant.ingest(ingest)
    ing.wait_all_applied([ing.lineage({
        "eventType": "COMPLETE", "eventTime": "2026-11-27T01:00:00Z", "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": "default", "name": "checks", "facets": {}},
        "inputs": [{"namespace": "default", "name": "ol_checked",
                    "inputFacets": {"dataQualityAssertions": facet}}], "outputs": []})])
    assert summary(api, "ol_checked")["score"] == pytest.approx(75.0)

    assert names(unhealthy(api)) == ["analytics.marts.customers", "ol_checked"]


# ---------------------------------------------------------------- unhealthy


def test_unhealthy_worst_first_paginated_and_filtered(tenant, api):
    layout = {  # name: (domain, owner, results)
        "u_critical": ("sales", "alice", [result("a", False, "critical"), result("b", True, "info")]),
        "u_zero": ("sales", "bob", [result("a", False, "error")]),
        "u_half": ("ops", "alice", [result("a", False, "error"), result("b", True, "error")]),
        "u_warn_low": ("ops", "bob", [result("a", False, "warning"), result("b", True, "info")]),
        "u_warn_high": ("ops", None, [result("a", False, "warning"), result("b", True, "critical")]),
        "u_info": ("sales", None, [result("a", False, "info"), result("b", True, "critical")]),
        "u_ok": ("sales", "alice", [result("a", True, "critical")]),
    }
    for name, (domain, owner, results) in layout.items():
        fields = {"domain": domain}
        if owner:
            fields["owner"] = owner
        api.create_dataset(name, **fields)
        record(api, name, results)
    api.create_dataset("u_none", domain="sales")

    # scores: critical 1/9 -> 11.11, zero 0, half 50, warn_low 1/3 -> 33.33, warn_high 8/10 -> 80,
    # info 8/9 -> 88.89 (neither below 80 nor an error failing: healthy), ok 100
    items = unhealthy(api)
    assert names(items) == ["u_zero", "u_critical", "u_warn_low", "u_half"]
    first = items[0]
    assert first["score"] == 0 and first["checks"] == 1 and first["failing"] == 1
    assert first["worst_severity"] == "error" and first["domain"] == "sales" and first["owner"] == "bob"
    assert first["failing_checks"] == [{"check": "a", "column": None, "severity": "error",
                                        "at": first["last_result_at"]}]

    # pages of 1 walk the same order
    page = api.ok("GET", UNHEALTHY, 200, params={"limit": 1}).json()
    assert_list_page(page)
    assert names(page["items"]) == ["u_zero"] and page["next_cursor"]
    assert names(unhealthy(api, limit=1)) == names(items)
    assert names(unhealthy(api, limit=3)) == names(items)

    assert names(unhealthy(api, max_score=90)) == ["u_zero", "u_critical", "u_warn_low", "u_half",
                                                   "u_warn_high", "u_info"]
    assert names(unhealthy(api, max_score=0)) == ["u_zero", "u_critical", "u_half"]  # error failures only
    assert names(unhealthy(api, severity="critical")) == ["u_critical"]
    assert names(unhealthy(api, max_score=100, severity="warning")) == [
        "u_zero", "u_critical", "u_warn_low", "u_half", "u_warn_high"]
    assert names(unhealthy(api, domain="ops")) == ["u_warn_low", "u_half"]
    assert names(unhealthy(api, owner="alice")) == ["u_critical", "u_half"]
    assert names(unhealthy(api, domain="ops", owner="alice")) == ["u_half"]
    assert unhealthy(api, domain="nowhere") == []

    # fixing a check takes a dataset off the list
    record(api, "u_zero", [result("a", True, "error")])
    assert "u_zero" not in names(unhealthy(api))


# ---------------------------------------------------------------- bad input


def test_bad_input_is_refused_and_changes_nothing(tenant, api, migrated):
    api.create_dataset("strict")
    ok = result("c", True)
    cases = [  # (body, status, code, message fragment)
        ({"results": [ok]}, 400, "invalid_request", "source"),
        ({"source": 7, "results": [ok]}, 400, "invalid_request", "source"),
        ({"source": "", "results": [ok]}, 400, "invalid_request", "source"),
        ({"source": "x" * 101, "results": [ok]}, 400, "invalid_request", "source"),
        ({"source": "ci"}, 400, "invalid_request", "results"),
        ({"source": "ci", "results": {}}, 400, "invalid_request", "results"),
        ({"source": "ci", "results": []}, 400, "invalid_request", "results"),
        ({"source": "ci", "results": [ok], "extra": 1}, 400, "invalid_request", "extra"),
        ({"source": "ci", "results": [ok], "run_id": "not-a-uuid"}, 400, "invalid_request", "run_id"),
        ({"source": "ci", "results": [ok], "run_id": 5}, 400, "invalid_request", "run_id"),
        ({"source": "ci", "results": [ok, "x"]}, 400, "invalid_request", "results[1]"),
        ({"source": "ci", "results": [dict(ok, colour="red")]}, 400, "invalid_request", "colour"),
        ({"source": "ci", "results": [{"passed": True, "severity": "info"}]}, 400, "invalid_request",
         "results[0].check"),
        ({"source": "ci", "results": [dict(ok, check="")]}, 400, "invalid_request", "results[0].check"),
        ({"source": "ci", "results": [dict(ok, check="c" * 513)]}, 400, "invalid_request", "results[0].check"),
        ({"source": "ci", "results": [dict(ok, column="")]}, 400, "invalid_request", "results[0].column"),
        ({"source": "ci", "results": [dict(ok, passed="yes")]}, 400, "invalid_request", "results[0].passed"),
        ({"source": "ci", "results": [{"check": "c", "severity": "info"}]}, 400, "invalid_request",
         "results[0].passed"),
        ({"source": "ci", "results": [dict(ok, severity="fatal")]}, 400, "invalid_request", "results[0].severity"),
        ({"source": "ci", "results": [{"check": "c", "passed": True}]}, 400, "invalid_request",
         "results[0].severity"),
        ({"source": "ci", "results": [dict(ok, observed_value={"n": 1})]}, 400, "invalid_request",
         "results[0].observed_value"),
        ({"source": "ci", "results": [dict(ok, observed_value=[1])]}, 400, "invalid_request",
         "results[0].observed_value"),
        ({"source": "ci", "results": [dict(ok, observed_value="v" * 1001)]}, 400, "invalid_request",
         "results[0].observed_value"),
        ({"source": "ci", "results": [dict(ok, expected=["e" * 100] * 30)]}, 400, "invalid_request",
         "results[0].expected"),
        ({"source": "ci", "results": [dict(ok, message=7)]}, 400, "invalid_request", "results[0].message"),
        ({"source": "ci", "results": [dict(ok, message="m" * 2001)]}, 400, "invalid_request",
         "results[0].message"),
        ({"source": "ci", "results": [ok, dict(ok, passed=False)]}, 400, "invalid_request", "results[1]"),
        ({"source": "ci", "results": [result("c%d" % i, True) for i in range(1001)]}, 413, "payload_too_large",
         "results"),
    ]
    for body, status, code, fragment in cases:
        assert_error(api.post(QUALITY % "strict", body), status, code, fragment)

    assert_error(api.req("POST", QUALITY % "strict", data=b'{"source": "ci", "results": [',
                         headers={"Content-Type": "application/json"}), 400, "invalid_json")
    assert_error(api.req("POST", QUALITY % "strict", data=b'[1]', headers={"Content-Type": "application/json"}),
                 400)
    huge = json.dumps({"source": "ci", "results": [dict(ok, message="m" * 1500)] * 800}).encode()
    assert_error(api.req("POST", QUALITY % "strict", data=huge, headers={"Content-Type": "application/json"}),
                 413, "payload_too_large")
    assert_error(api.post(QUALITY % "nope", {"source": "ci", "results": [ok]}), 404, "not_found")
    assert_error(api.post(QUALITY % "strict", {"source": "ci", "results": [ok]}, params={"namespace": "bad ns\n"}),
                 400)

    for params in ({"days": "0"}, {"days": "91"}, {"days": "x"}):
        assert_error(api.get(SUMMARY % "strict", params=params), 400, "invalid_request", "days")
    assert_error(api.get(SUMMARY % "nope"), 404, "not_found")
    for params, fragment in (({"max_score": "101"}, "max_score"), ({"max_score": "-1"}, "max_score"),
                             ({"max_score": "8.5"}, "max_score"), ({"severity": "fatal"}, "severity"),
                             ({"limit": "0"}, "limit"), ({"cursor": "!!"}, "cursor")):
        assert_error(api.get(UNHEALTHY, params=params), 400, "invalid_request", fragment)
    forged = "WzEsMiwzXQ"  # base64url of [1,2,3]: a cursor this list never gave
    assert_error(api.get(UNHEALTHY, params={"cursor": forged}), 400, "invalid_request", "cursor")

    assert count(migrated, tenant, "dataset_quality") == 0
    assert count(migrated, tenant, "audit_log", "action = 'quality.record'") == 0


# ---------------------------------------------------------------- access


def test_roles_scopes_and_tenants(tenant, tenant_factory, api):
    api.create_dataset("q_sales", domain="sales")
    api.create_dataset("q_ops", domain="ops")
    record(api, "q_ops", [result("a", False, "critical")])
    record(api, "q_sales", [result("a", False, "error")])

    viewer = tenant.client("viewer")
    assert summary(viewer, "q_ops")["score"] == 0
    assert_error(viewer.post(QUALITY % "q_ops", {"source": "ci", "results": [result("a", True)]}), 403, "forbidden")

    scoped_viewer = Api(api.base, tenant.make_key("viewer", scope={"domain": "sales"})["key"])
    assert names(unhealthy(scoped_viewer)) == ["q_sales"]
    assert names(unhealthy(scoped_viewer, max_score=100)) == ["q_sales"]
    assert_error(scoped_viewer.get(SUMMARY % "q_ops"), 404, "not_found")
    assert_error(scoped_viewer.get(QUALITY % "q_ops"), 404, "not_found")

    scoped_editor = Api(api.base, tenant.make_key("editor", scope={"domain": "sales"})["key"])
    assert record(scoped_editor, "q_sales", [result("a", True)])["score"] == 100
    assert_error(scoped_editor.post(QUALITY % "q_ops", {"source": "ci", "results": [result("a", True)]}), 404,
                 "not_found")
    assert summary(api, "q_ops")["score"] == 0  # unchanged

    other = tenant_factory()
    assert_error(other.api.get(SUMMARY % "q_ops"), 404, "not_found")
    assert_error(other.api.post(QUALITY % "q_ops", {"source": "ci", "results": [result("a", True)]}), 404,
                 "not_found")
    assert unhealthy(other.api) == []
    assert names(unhealthy(api)) == ["q_ops"]
