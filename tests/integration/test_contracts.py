"""Data contracts: the routes of mf-api, block / warn / alert through every write path
(REST datasets, imports, mf-ingest's emit, batch and OpenLineage intake, the worker),
quality thresholds, freshness bounds in mf-analytics, notifications to a real webhook
receiver, scoped readers and foreign tenants."""

import json
import re
import time

import pytest

from conftest import Api, assert_error, assert_list_page, assert_ts, q
from contracts_support import (ORDERS_COLUMNS, contract_body, create_contract, emit_body, ol_event,
                               violations, wait_violations)
from integrations_support import dbt_manifest, iceberg_metadata
from test_webhooks import create_webhook, loopback_api_base, receiver  # noqa: F401 (fixtures)

CONTRACTS = "/api/v1/contracts"


def dataset_version(api, name):
    r = api.get_dataset(name)
    return r.json()["version"] if r.status_code == 200 else None


# ---------------------------------------------------------------- the routes


def test_create_read_replace_delete_and_audit(api):
    r = api.ok("POST", CONTRACTS, 201, json_body=contract_body("orders_v1", description="orders feed"))
    doc = r.json()
    assert r.headers["ETag"] == '"1"'
    assert doc["name"] == "orders_v1" and doc["dataset_pattern"] == "orders_*" and doc["dataset_namespace"] is None
    assert doc["required_columns"] == ORDERS_COLUMNS and doc["allow_extra_columns"] is True
    assert doc["on_violation"] == "block" and doc["version"] == 1 and doc["open_violations"] == 0
    assert doc["min_quality_score"] is None and doc["max_age_secs"] is None
    assert_ts(doc["created_at"])
    assert_error(api.post(CONTRACTS, contract_body("orders_v1")), 409, "conflict", 'contract "orders_v1"')

    got = api.ok("GET", CONTRACTS + "/orders_v1", 200)
    assert got.json() == doc and got.headers["ETag"] == '"1"'
    # replace: a stale If-Match is 412 and changes nothing; the current one passes
    new = contract_body("orders_v1", on_violation="warn", allow_extra_columns=False, max_age_secs=3600,
                        min_quality_score=92.5, dataset_namespace="default")
    assert_error(api.put(CONTRACTS + "/orders_v1", new, headers={"If-Match": '"7"'}), 412, "precondition_failed")
    assert api.get(CONTRACTS + "/orders_v1").json()["on_violation"] == "block"
    r = api.ok("PUT", CONTRACTS + "/orders_v1", 200, json_body=new, headers={"If-Match": '"1"'})
    assert r.headers["ETag"] == '"2"'
    assert r.json()["on_violation"] == "warn" and r.json()["max_age_secs"] == 3600
    assert r.json()["min_quality_score"] == 92.5 and r.json()["dataset_namespace"] == "default"
    assert_error(api.put(CONTRACTS + "/nope", dict(new, name="nope")), 404, "not_found")
    assert_error(api.put(CONTRACTS + "/orders_v1", dict(new, name="other")), 400, "invalid_request", "name")

    # the list, by name, a page at a time
    for n in ("c_b", "c_a", "c_c"):
        create_contract(api, n, on_violation="alert")
    first = assert_list_page(api.ok("GET", CONTRACTS, 200, params={"limit": "2"}).json())
    assert [c["name"] for c in first["items"]] == ["c_a", "c_b"] and first["next_cursor"]
    assert [c["name"] for c in api.walk(CONTRACTS, limit=2)] == ["c_a", "c_b", "c_c", "orders_v1"]
    assert_error(api.get(CONTRACTS, params={"cursor": "bogus"}), 400, "invalid_request")
    assert_error(api.get(CONTRACTS, params={"limit": "0"}), 400, "invalid_request")

    api.ok("DELETE", CONTRACTS + "/c_b", 204)
    assert_error(api.get(CONTRACTS + "/c_b"), 404, "not_found")
    assert_error(api.delete(CONTRACTS + "/c_b"), 404, "not_found")

    audit = api.walk("/api/v1/audit", params={"target": "orders_v1"})
    actions = [a["action"] for a in audit]
    assert "contract.create" in actions and "contract.update" in actions, actions
    update = [a for a in audit if a["action"] == "contract.update"][0]
    assert update["before"]["on_violation"] == "block" and update["after"]["on_violation"] == "warn"
    assert any(a["action"] == "contract.delete" for a in api.walk("/api/v1/audit", params={"target": "c_b"}))


BAD_BODIES = [
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "block", "required_columns": [{"name": "a"}],
      "extra": 1}, "extra"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "stop", "required_columns": [{"name": "a"}]},
     "on_violation"),
    ({"name": "x", "dataset_pattern": "a[0-9]", "on_violation": "warn", "required_columns": [{"name": "a"}]},
     "dataset_pattern"),
    ({"name": "x", "dataset_pattern": "", "on_violation": "warn", "required_columns": [{"name": "a"}]},
     "dataset_pattern"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn"}, "a contract needs a rule"),
    ({"name": "bad name!", "dataset_pattern": "a*", "on_violation": "warn", "max_age_secs": 5}, "name"),
    ({"name": "x" * 129, "dataset_pattern": "a*", "on_violation": "warn", "max_age_secs": 5}, "name"),
    ({"dataset_pattern": "a*", "on_violation": "warn", "max_age_secs": 5}, "name"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn", "max_age_secs": 0}, "max_age_secs"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn", "max_age_secs": "60"}, "max_age_secs"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn", "min_quality_score": 101}, "min_quality_score"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn", "min_quality_score": "90"},
     "min_quality_score"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn",
      "required_columns": [{"name": "a"}, {"name": "a"}]}, "repeats"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn", "required_columns": [{"name": "a", "len": 3}]},
     "len"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn", "required_columns": ["a"]},
     "required_columns[0]"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn",
      "required_columns": [{"name": "a", "nullable": "no"}]}, "nullable"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn", "allow_extra_columns": "no",
      "max_age_secs": 5}, "allow_extra_columns"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn", "max_age_secs": 5,
      "description": "d" * 2001}, "description"),
    ({"name": "x", "dataset_pattern": "a*", "on_violation": "warn",
      "required_columns": [{"name": "c%d" % i} for i in range(501)]}, "required_columns"),
]


@pytest.mark.parametrize("body,msg", BAD_BODIES)
def test_bad_bodies_are_400_and_write_nothing(api, body, msg):
    assert_error(api.post(CONTRACTS, body), 400, "invalid_request", msg)
    assert api.walk(CONTRACTS) == []


def test_bad_requests_roles_and_tenants(api, tenant, tenant_factory):
    r = api.req("POST", CONTRACTS, data=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")
    create_contract(api, "mine", on_violation="warn")
    assert_error(api.get(CONTRACTS + "/mine/violations", params={"resolved": "maybe"}), 400, "invalid_request")
    assert_error(api.get(CONTRACTS + "/mine/violations", params={"kind": "size"}), 400, "invalid_request")
    assert_error(api.get(CONTRACTS + "/" + q("bad name")), 404, "not_found")
    # viewers read, editors and viewers may not write (a contract can block every pipeline)
    viewer = tenant.client("viewer")
    assert [c["name"] for c in viewer.walk(CONTRACTS)] == ["mine"]
    assert viewer.ok("GET", CONTRACTS + "/mine/violations", 200).json()["items"] == []
    editor = tenant.client("editor")
    assert_error(editor.post(CONTRACTS, contract_body("theirs")), 403, "forbidden")
    assert_error(editor.delete(CONTRACTS + "/mine"), 403, "forbidden")
    # another tenant sees none of it, and its names are its own
    other = tenant_factory().api
    assert other.walk(CONTRACTS) == []
    assert_error(other.get(CONTRACTS + "/mine"), 404, "not_found")
    assert_error(other.get(CONTRACTS + "/mine/violations"), 404, "not_found")
    assert_error(other.delete(CONTRACTS + "/mine"), 404, "not_found")
    assert_error(other.put(CONTRACTS + "/mine", contract_body("mine")), 404, "not_found")
    create_contract(other, "mine", on_violation="block")
    assert api.get(CONTRACTS + "/mine").json()["on_violation"] == "warn"


# ---------------------------------------------------------------- block


def test_block_through_the_api(api):
    create_contract(api, "orders_v1")
    r = api.post("/api/v1/datasets", {"name": "orders_eu", "fields": [{"name": "amount", "type": "string"}]})
    body = assert_error(r, 409, "contract_violation")
    msg = body["error"]["message"]
    assert msg.startswith("contract orders_v1: column customer_id is required; "
                          "column amount has type string, expected decimal"), msg
    assert "default/orders_eu" in msg
    assert_error(api.get_dataset("orders_eu"), 404, "not_found")
    # a dataset the pattern does not govern is not judged
    api.create_dataset("customers", fields=[{"name": "amount", "type": "string"}])
    # a compliant one (types with parameters meet a bare type), then a replace that breaks it
    good = [{"name": "customer_id", "type": "BIGINT", "nullable": False}, {"name": "amount", "type": "DECIMAL(10,2)"}]
    api.create_dataset("orders_eu", fields=good)
    version = dataset_version(api, "orders_eu")
    r = api.put("/api/v1/datasets/orders_eu", {"fields": [{"name": "customer_id", "type": "bigint"},
                                                          {"name": "amount", "type": "decimal"}]})
    assert_error(r, 409, "contract_violation", "column customer_id is nullable, expected not null")
    assert dataset_version(api, "orders_eu") == version
    assert [f["name"] for f in api.get_dataset("orders_eu").json()["fields"]] == ["customer_id", "amount"]
    # two block contracts: each is named
    create_contract(api, "no_extras", dataset_pattern="orders_??", required_columns=[], allow_extra_columns=False,
                    dataset_namespace="default")
    r = api.put("/api/v1/datasets/orders_eu", {"fields": [{"name": "customer_id", "type": "bigint"},
                                                          {"name": "note", "type": "text"}]})
    msg = assert_error(r, 409, "contract_violation")["error"]["message"]
    assert msg == ("contract no_extras: column customer_id is not in the contract (extra columns are not allowed); "
                   "column note is not in the contract (extra columns are not allowed) (dataset default/orders_eu). "
                   "contract orders_v1: column customer_id is nullable, expected not null; column amount is required "
                   "(dataset default/orders_eu)"), msg
    assert dataset_version(api, "orders_eu") == version
    # nothing was recorded for refused writes
    assert violations(api, "orders_v1") == [] and violations(api, "no_extras") == []


def test_block_through_an_import(api, tenant, ingest):
    create_contract(api, "staging", dataset_pattern="analytics.staging.*",
                    required_columns=[{"name": "customer_id"}])
    r = api.post("/api/v1/integrations/dbt", dbt_manifest())
    assert_error(r, 409, "contract_violation",
                 "contract staging: column customer_id is required (dataset default/analytics.staging.stg_customers)")
    assert api.walk("/api/v1/datasets") == []
    # the same import posted to mf-ingest is refused at intake
    r = tenant.ingest(ingest).post("/api/v1/integrations/dbt", dbt_manifest())
    assert_error(r, 409, "contract_violation", "contract staging: column customer_id is required")


def test_table_history_is_not_judged(api, tenant, ingest, ingest_worker):
    """An Iceberg import replays the table's past schemas: only the current one is judged. Schema 0
    of the test table has no "kind"; schema 1, the current one, has it."""
    create_contract(api, "events_v1", dataset_pattern="events", required_columns=[{"name": "kind"}])
    r = api.post("/api/v1/integrations/iceberg?namespace=lake", iceberg_metadata(schemas=1))
    assert_error(r, 409, "contract_violation", "contract events_v1: column kind is required (dataset lake/events)")
    assert api.walk("/api/v1/datasets") == []
    r = tenant.ingest(ingest).post("/api/v1/integrations/iceberg?namespace=lake", iceberg_metadata(schemas=1))
    assert_error(r, 409, "contract_violation", "column kind is required")
    r = api.post("/api/v1/integrations/iceberg?namespace=lake", iceberg_metadata(schemas=2))
    assert r.status_code == 200, r.text
    assert r.json()["schema_versions"] == 2, r.json()  # the past schema was applied, not judged
    ing = tenant.ingest(ingest)
    r = ing.post("/api/v1/integrations/iceberg?namespace=lake2", iceberg_metadata(schemas=2))
    assert r.status_code == 202, r.text
    ing.wait_all_applied(r.json()["event_ids"])
    got = api.ok("GET", "/api/v1/datasets/events", 200, params={"namespace": "lake2"}).json()
    assert [f["name"] for f in got["fields"]] == ["id", "ts", "kind"] and got["schema_version"] == 2, got
    assert violations(api, "events_v1") == []


def test_block_at_ingest_intake(tenant, api, ingest, ingest_worker):
    ing = tenant.ingest(ingest)
    create_contract(api, "orders_v1")
    r = ing.post("/api/v1/emit", emit_body("orders_1", [{"name": "amount", "type": "string"}]))
    assert_error(r, 409, "contract_violation",
                 "contract orders_v1: column customer_id is required; column amount has type string, expected decimal")
    # a batch is refused whole; the message names the bad item only
    good = emit_body("orders_2", [{"name": "customer_id", "type": "bigint", "nullable": False},
                                  {"name": "amount", "type": "decimal"}])
    bad = emit_body("orders_3", [{"name": "customer_id", "type": "bigint", "nullable": False}])
    r = ing.post("/api/v1/emit/batch", [good, bad])
    msg = assert_error(r, 409, "contract_violation")["error"]["message"]
    assert msg.startswith("events[1]: contract orders_v1: column amount is required"), msg
    assert "events[0]" not in msg and "orders_2" not in msg, msg
    data = "".join(json.dumps(i) + "\n" for i in (bad, good)).encode()
    r = ing.req("POST", "/api/v1/emit/batch", data=data, headers={"Content-Type": "application/x-ndjson"})
    assert_error(r, 409, "contract_violation", "events[0]: contract orders_v1")
    # OpenLineage: the output's schema facet is judged
    r = ing.post("/api/v1/lineage", ol_event("orders_4", [{"name": "amount", "type": "decimal"}]))
    assert_error(r, 409, "contract_violation", "column customer_id is required (dataset default/orders_4)")
    # nothing was queued: the good item of the refused batch never arrives
    eid = ing.emit(good)
    ing.wait_applied(eid)
    names = [d["name"] for d in api.walk("/api/v1/datasets")]
    assert names == ["orders_2"], names


def test_batch_refusal_says_how_many_it_does_not_name(tenant, api, ingest):
    """A batch whose refused events do not all fit in the error message names whole events while they
    fit, then how many more were refused; nothing of the batch is queued."""
    ing = tenant.ingest(ingest)
    create_contract(api, "orders_v1")
    good = emit_body("orders_ok", [{"name": "customer_id", "type": "bigint", "nullable": False},
                                   {"name": "amount", "type": "decimal"}])
    bad = [emit_body("orders_refused_%02d" % i, [{"name": "note", "type": "string"}]) for i in range(40)]
    r = ing.post("/api/v1/emit/batch", [good] + bad)
    msg = assert_error(r, 409, "contract_violation")["error"]["message"]
    named = re.findall(r"events\[(\d+)\]: contract orders_v1", msg)
    assert named and named == [str(i) for i in range(1, len(named) + 1)], msg
    assert msg.endswith(". %d more refused events not listed" % (40 - len(named))), msg
    assert len(msg) <= 599 and "orders_refused_%02d)" % (len(named) - 1) in msg, msg
    # every refused event fits: no count
    r = ing.post("/api/v1/emit/batch", [good] + bad[:2])
    msg = assert_error(r, 409, "contract_violation")["error"]["message"]
    assert re.findall(r"events\[(\d+)\]", msg) == ["1", "2"] and "not listed" not in msg, msg
    # one refused event whose own message is longer than the error message: cut, and the rest counted
    wide = [{"name": "required_column_%02d" % i, "type": "bigint"} for i in range(30)]
    create_contract(api, "wide_v1", dataset_pattern="wide_*", required_columns=wide)
    r = ing.post("/api/v1/emit/batch", [emit_body("wide_%d" % i, [{"name": "id", "type": "int"}]) for i in range(3)])
    msg = assert_error(r, 409, "contract_violation")["error"]["message"]
    assert msg.startswith("events[0]: contract wide_v1: column required_column_00 is required"), msg
    assert msg.endswith(". 2 more refused events not listed"), msg
    assert len(msg) <= 599 and "events[1]" not in msg, msg
    assert api.walk("/api/v1/datasets") == []


def test_worker_judges_again_at_apply_time(tenant, api, spawn_ingest, ingest_worker):
    """A contract created after intake judged the tenant (a long cache here): the event is
    accepted at intake and fails in the worker with the contract's message, writing nothing."""
    serve = spawn_ingest("contracts-cache", "serve", extra_env={"MF_CONTRACT_CACHE_SECS": "3600",
                                                                "MF_HTTP_THREADS": "1"})
    ing = tenant.ingest(serve)
    before = ing.emit(emit_body("orders_1", [{"name": "customer_id", "type": "bigint"}]))
    ing.wait_applied(before)
    create_contract(api, "orders_v1")
    eid = ing.emit(emit_body("orders_1", [{"name": "amount", "type": "text"}]))
    doc = ing.wait_event(eid)
    assert doc["status"] == "failed", doc
    assert doc["reason"].startswith("contract orders_v1: column customer_id is required"), doc
    fields = api.get_dataset("orders_1").json()["fields"]
    assert [f["name"] for f in fields] == ["customer_id"], fields
    fails = ing.walk("/api/v1/ingest/failures")
    assert [f["event_id"] for f in fails] == [eid] and "contract orders_v1" in fails[0]["reason"]


# ---------------------------------------------------------------- warn and alert


def test_warn_and_alert_through_api_and_ingest_notify(loopback_api_base, tenant, analytics, receiver, ingest,
                                                      ingest_worker):
    lapi = Api(loopback_api_base, tenant.key)
    rcv, slack = receiver(), receiver()
    hook = create_webhook(lapi, rcv.url, ["contract.violation"])
    create_webhook(lapi, slack.url, ["contract.violation"], format="slack")
    create_contract(lapi, "w_contract", dataset_pattern="w_*", on_violation="warn")
    create_contract(lapi, "a_contract", dataset_pattern="a_*", on_violation="alert")
    bad_fields = [{"name": "amount", "type": "text"}]
    # warn: written, and the writer is told
    doc = lapi.create_dataset("w_orders", fields=bad_fields)
    assert doc["contract_warnings"] == [{"contract": "w_contract", "violations": [
        "column customer_id is required", "column amount has type text, expected decimal"]}], doc
    assert "contract_warnings" not in lapi.get_dataset("w_orders").json()
    # alert: written, the writer is not told
    doc = lapi.create_dataset("a_orders", fields=bad_fields)
    assert "contract_warnings" not in doc and doc["version"] == 1
    # through mf-ingest: accepted and applied, recorded the same way
    ing = tenant.ingest(ingest)
    ing.wait_applied(ing.emit(emit_body("w_events", bad_fields)))
    ing.wait_applied(ing.emit(emit_body("a_events", bad_fields)))

    warned = wait_violations(lapi, "w_contract", 2)
    assert sorted(v["dataset"]["name"] for v in warned) == ["w_events", "w_orders"]
    for v in warned:
        assert v["kind"] == "schema" and v["action"] == "warned" and v["open"] and v["occurrences"] == 1
        assert v["violations"] == ["column customer_id is required", "column amount has type text, expected decimal"]
        assert_ts(v["at"])
        assert v["resolved_at"] is None
    alerted = wait_violations(lapi, "a_contract", 2)
    assert {v["action"] for v in alerted} == {"alerted"}
    assert lapi.get(CONTRACTS + "/w_contract").json()["open_violations"] == 2

    # each opened violation is one notification, delivered signed to the receiver
    reqs = rcv.wait_for(4)
    time.sleep(0.3)
    assert len(rcv.requests) == 4 and all(r["signed"] for r in reqs)
    bodies = rcv.bodies()
    assert {b["event"] for b in bodies} == {"contract.violation"}
    by_name = {b["dataset"]["name"]: b for b in bodies}
    assert set(by_name) == {"w_orders", "w_events", "a_orders", "a_events"}
    d = by_name["w_orders"]["detail"]
    assert d["contract"] == "w_contract" and d["on_violation"] == "warn" and d["action"] == "warned"
    assert d["kind"] == "schema" and d["violations"][0] == "column customer_id is required"
    assert by_name["a_events"]["detail"]["action"] == "alerted"
    slack.wait_for(4)
    texts = sorted(b["text"] for b in slack.bodies())
    assert texts[-1] == ("[MetaFuse %s] contract.violation on default/w_orders: contract w_contract: "
                         "column customer_id is required" % tenant.name), texts

    # a repeat is counted, not announced again; a compliant write resolves
    lapi.ok("PUT", "/api/v1/datasets/w_orders", 200, json_body={"fields": bad_fields})
    v = violations(lapi, "w_contract", dataset="w_orders")[0]
    assert v["occurrences"] == 2 and v["open"]
    fixed = lapi.ok("PUT", "/api/v1/datasets/w_orders", 200, json_body={"fields": [
        {"name": "customer_id", "type": "bigint", "nullable": False}, {"name": "amount", "type": "decimal"}]}).json()
    assert "contract_warnings" not in fixed
    v = violations(lapi, "w_contract", dataset="w_orders")[0]
    assert not v["open"] and v["resolution"] == "fixed"
    assert_ts(v["resolved_at"])
    assert [x["dataset"]["name"] for x in violations(lapi, "w_contract", resolved="false")] == ["w_events"]
    assert [x["dataset"]["name"] for x in violations(lapi, "w_contract", resolved="true")] == ["w_orders"]
    time.sleep(0.3)
    assert len(rcv.requests) == 4
    deliveries = lapi.walk("/api/v1/webhooks/%s/deliveries" % hook["id"])
    assert len(deliveries) == 4 and {x["event"] for x in deliveries} == {"contract.violation"}
    # pagination of violations
    page = assert_list_page(lapi.ok("GET", CONTRACTS + "/a_contract/violations", 200,
                                    params={"limit": "1"}).json())
    assert len(page["items"]) == 1 and page["next_cursor"]
    assert len(lapi.walk(CONTRACTS + "/a_contract/violations", limit=1)) == 2


# ---------------------------------------------------------------- quality and freshness


def test_quality_threshold_records_but_never_refuses(api):
    create_contract(api, "q_contract", dataset_pattern="q_*", required_columns=[], min_quality_score=75)
    api.create_dataset("q_orders", fields=[{"name": "id", "type": "bigint"}])
    failing = {"source": "ci", "results": [
        {"check": "not_null", "column": "id", "passed": False, "severity": "error"},
        {"check": "row_count", "passed": True, "severity": "error"}]}
    # under a block contract the result is still recorded: it is a fact about written data
    api.ok("POST", "/api/v1/datasets/q_orders/quality", 201, json_body=failing)
    v = violations(api, "q_contract")
    assert len(v) == 1, v
    v = v[0]
    assert v["kind"] == "quality" and v["action"] == "reported" and v["open"]
    assert v["violations"] == ["quality score 50.00 is below the minimum 75.00"], v
    assert float(v["details"]["quality_score"]) == 50.0
    # the dataset's writes are not refused by a quality threshold
    api.ok("PUT", "/api/v1/datasets/q_orders", 200, json_body={"fields": [{"name": "id", "type": "bigint"}]})
    passing = {"source": "ci", "results": [{"check": "not_null", "column": "id", "passed": True, "severity": "error"}]}
    api.ok("POST", "/api/v1/datasets/q_orders/quality", 201, json_body=passing)
    v = violations(api, "q_contract")[0]
    assert not v["open"] and v["resolution"] == "fixed"
    assert violations(api, "q_contract", kind="schema") == []


def test_freshness_bound_in_analytics(api, analytics):
    create_contract(api, "f_contract", dataset_pattern="f_*", required_columns=[], max_age_secs=1,
                    on_violation="alert")
    api.create_dataset("f_orders", fields=[{"name": "id", "type": "bigint"}])
    api.create_dataset("g_orders", fields=[{"name": "id", "type": "bigint"}])
    v = wait_violations(api, "f_contract", 1, seconds=20)[0]
    assert v["kind"] == "freshness" and v["action"] == "alerted" and v["dataset"]["name"] == "f_orders"
    assert v["violations"][0].startswith("last written ") and v["details"]["max_age_secs"] == 1
    # written again: resolved at the time of that write
    api.ok("PUT", "/api/v1/datasets/f_orders", 200, json_body={"fields": [{"name": "id", "type": "bigint"}]})
    deadline = time.monotonic() + 20
    while violations(api, "f_contract", resolved="true") == [] and time.monotonic() < deadline:
        time.sleep(0.2)
    done = violations(api, "f_contract", resolved="true")
    assert done and done[-1]["resolution"] == "written", done


# ---------------------------------------------------------------- scoped callers


def test_scoped_viewer_sees_its_domain_only(tenant, api):
    create_contract(api, "s_contract", dataset_pattern="s_*", on_violation="warn")
    bad = [{"name": "amount", "type": "text"}]
    api.create_dataset("s_sales", domain="sales", fields=bad)
    api.create_dataset("s_ops", domain="ops", fields=bad)
    assert len(violations(api, "s_contract")) == 2
    assert api.get(CONTRACTS + "/s_contract").json()["open_violations"] == 2
    scoped = Api(api.base, tenant.make_key("viewer", scope={"domain": "sales"})["key"])
    seen = violations(scoped, "s_contract")
    assert [v["dataset"]["name"] for v in seen] == ["s_sales"], seen
    assert violations(scoped, "s_contract", dataset="s_ops") == []
    assert scoped.get(CONTRACTS + "/s_contract").json()["open_violations"] == 1
    assert [c["open_violations"] for c in scoped.walk(CONTRACTS)] == [1]
    # a scoped editor writes its domain's datasets under the contract, and manages no contract
    editor = Api(api.base, tenant.make_key("editor", scope={"domain": "sales"})["key"])
    doc = editor.ok("PUT", "/api/v1/datasets/s_sales", 200, json_body={"domain": "sales", "fields": bad}).json()
    assert doc["contract_warnings"][0]["contract"] == "s_contract"
    assert_error(editor.post(CONTRACTS, contract_body("mine")), 403, "forbidden")
