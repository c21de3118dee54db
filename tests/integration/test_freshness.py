"""Freshness: policies on datasets (PUT/GET/DELETE /api/v1/datasets/{name}/freshness),
the status computed from the last emit or update, mf-analytics recording late and
stale violations and their resolution when data arrives again (through mf-ingest and
through the REST API), the dataset.stale / dataset.fresh_again outbox rows written
exactly once with several analytics replicas, scoping and bad input."""

import json
import time
import uuid

import pytest

from conftest import Api, assert_error, assert_list_page, assert_ts, q
from freshness_support import events_of, owner_sql, policy_status, put_policy, violations, wait_for

FRESHNESS = "/api/v1/datasets/%s/freshness"


@pytest.fixture
def tenant(tenant_factory):
    """A tenant whose plan allows these tests' request rate (bursts of bad input, polling)."""
    return tenant_factory("enterprise")


def test_policy_create_read_replace_delete(tenant, api):
    api.create_dataset("fr_orders", description="orders")
    created = api.put(FRESHNESS % "fr_orders", {"expected_interval_secs": 3600, "grace_period_secs": 600})
    assert created.status_code == 201, created.text
    doc = created.json()
    assert doc["dataset"] == {"namespace": "default", "name": "fr_orders"}
    assert (doc["expected_interval_secs"], doc["grace_period_secs"]) == (3600, 600)
    assert doc["cron_schedule"] is None and doc["timezone"] == "UTC"
    assert doc["status"] == "fresh"
    for k in ("last_update_at", "due_at", "stale_at", "created_at", "updated_at"):
        assert_ts(doc[k])
    assert doc["due_at"] < doc["stale_at"]

    # replace: a cron schedule in a time zone moves the deadline to the schedule's next tick
    replaced = put_policy(api, "fr_orders", status=(200,), expected_interval_secs=60,
                          cron_schedule="30 6 * * mon-fri", timezone="Europe/Paris")
    assert replaced["cron_schedule"] == "30 6 * * mon-fri" and replaced["timezone"] == "Europe/Paris"
    assert replaced["grace_period_secs"] == 0
    # 06:30 in Paris is 05:30 UTC (winter time)
    assert replaced["due_at"][11:19] == "05:30:00", replaced
    assert api.ok("GET", FRESHNESS % "fr_orders", 200).json()["due_at"] == replaced["due_at"]

    audit = api.walk("/api/v1/audit", params={"target": "default/fr_orders"})
    actions = [a["action"] for a in audit if a["action"].startswith("freshness_policy.")]
    assert actions == ["freshness_policy.update", "freshness_policy.create"], actions
    assert audit[0]["after"]["expected_interval_secs"] == 60 and audit[0]["before"]["expected_interval_secs"] == 3600

    api.ok("DELETE", FRESHNESS % "fr_orders", 204)
    assert_error(api.get(FRESHNESS % "fr_orders"), 404, "not_found", "no freshness policy")
    assert_error(api.delete(FRESHNESS % "fr_orders"), 404, "not_found")
    assert any(a["action"] == "freshness_policy.delete" for a in api.walk("/api/v1/audit",
                                                                          params={"target": "default/fr_orders"}))


def test_bad_input_changes_nothing(tenant, api):
    api.create_dataset("fr_bad")
    put_policy(api, "fr_bad", expected_interval_secs=120, grace_period_secs=30)
    cases = [
        ({"expected_interval_secs": 0}, "expected_interval_secs"),
        ({"expected_interval_secs": -5}, "expected_interval_secs"),
        ({"expected_interval_secs": 10 ** 9}, "expected_interval_secs"),
        ({"expected_interval_secs": "60"}, "expected_interval_secs"),
        ({"grace_period_secs": 60}, "expected_interval_secs"),
        ({"expected_interval_secs": 60, "grace_period_secs": -1}, "grace_period_secs"),
        ({"expected_interval_secs": 60, "grace_period_secs": 1.5}, "grace_period_secs"),
        ({"expected_interval_secs": 60, "interval": 5}, "interval"),
        ({"expected_interval_secs": 60, "cron_schedule": "* * * *"}, "5 fields"),
        ({"expected_interval_secs": 60, "cron_schedule": "61 * * * *"}, "minute"),
        ({"expected_interval_secs": 60, "cron_schedule": "0 25 * * *"}, "hour"),
        ({"expected_interval_secs": 60, "cron_schedule": "0 0 * 13 *"}, "month"),
        ({"expected_interval_secs": 60, "cron_schedule": "*/0 * * * *"}, "minute"),
        ({"expected_interval_secs": 60, "cron_schedule": "0 0 * * funday"}, "day-of-week"),
        ({"expected_interval_secs": 60, "cron_schedule": "0 0 31 2 *"}, "never fires"),
        ({"expected_interval_secs": 60, "cron_schedule": 5}, "cron_schedule"),
        ({"expected_interval_secs": 60, "timezone": "Mars/Olympus_Mons"}, "IANA"),
        ({"expected_interval_secs": 60, "timezone": "europe/paris"}, "IANA"),
        ({"expected_interval_secs": 60, "timezone": ""}, "timezone"),
    ]
    for body, needle in cases:
        assert_error(api.put(FRESHNESS % "fr_bad", body), 400, "invalid_request", needle)
    assert_error(api.req("PUT", FRESHNESS % "fr_bad", data=b'{"expected_interval_secs": 6'), 400, "invalid_json")
    assert_error(api.req("PUT", FRESHNESS % "fr_bad", data=b"[]"), 400)
    assert_error(api.put(FRESHNESS % "fr_bad", {"expected_interval_secs": 60}, params={"namespace": "\x01"}), 400)
    assert_error(api.put(FRESHNESS % "fr_missing", {"expected_interval_secs": 60}), 404, "not_found")
    assert_error(api.get(FRESHNESS % "fr_missing"), 404, "not_found", "dataset default/fr_missing not found")
    doc = api.ok("GET", FRESHNESS % "fr_bad", 200).json()
    assert (doc["expected_interval_secs"], doc["grace_period_secs"], doc["cron_schedule"]) == (120, 30, None)

    for params in ({"status": "rotten"}, {"open": "maybe"}, {"limit": "0"}, {"limit": "x"},
                   {"cursor": "!!"}, {"dataset": "\x01"}):
        assert_error(api.get("/api/v1/freshness/violations", params=params), 400, "invalid_request")


def test_roles_scopes_and_tenants(tenant, tenant_factory, api):
    api.create_dataset("fr_sales", domain="sales")
    api.create_dataset("fr_ops", domain="ops")
    put_policy(api, "fr_ops", expected_interval_secs=60)
    viewer = tenant.client("viewer")
    assert viewer.ok("GET", FRESHNESS % "fr_ops", 200).json()["status"] == "fresh"
    assert_error(viewer.put(FRESHNESS % "fr_ops", {"expected_interval_secs": 5}), 403, "forbidden")
    assert_error(viewer.delete(FRESHNESS % "fr_ops"), 403, "forbidden")

    # a key scoped to the sales domain: writes there, sees nothing of ops
    scoped = Api(api.base, tenant.make_key("editor", scope={"domain": "sales"})["key"])
    assert put_policy(scoped, "fr_sales", expected_interval_secs=60)["status"] == "fresh"
    assert_error(scoped.get(FRESHNESS % "fr_ops"), 404, "not_found")
    assert_error(scoped.put(FRESHNESS % "fr_ops", {"expected_interval_secs": 5}), 404, "not_found")
    assert_error(scoped.delete(FRESHNESS % "fr_ops"), 404, "not_found")
    assert api.ok("GET", FRESHNESS % "fr_ops", 200).json()["expected_interval_secs"] == 60

    other = tenant_factory("enterprise").api
    other.create_dataset("fr_ops")
    assert_error(other.get(FRESHNESS % "fr_ops"), 404, "not_found", "no freshness policy")
    assert_error(other.delete(FRESHNESS % "fr_ops"), 404, "not_found")
    assert violations(other) == []


def _open_violation(api, name, status):
    items = violations(api, dataset=name, open="true")
    return items[0] if items and items[0]["status"] == status else None


def _resolved(api, name, count):
    items = [v for v in violations(api, dataset=name, open="false")]
    return items if len(items) >= count else None


def test_late_stale_and_fresh_again(tenant, api, analytics, ingest, ingest_worker, migrated):
    """Emit, go late then stale, emit again (fresh again), stale again, update through
    the API (fresh again), stale again, relax the policy (resolved, no event)."""
    ing = tenant.ingest(ingest)
    ing.wait_applied(ing.emit({"dataset": {"name": "fr_events", "description": "clickstream"}}))
    put_policy(api, "fr_events", expected_interval_secs=2, grace_period_secs=2)
    wait_for("late", lambda: policy_status(api, "fr_events") == "late", 10)
    first = wait_for("a late violation", lambda: _open_violation(api, "fr_events", "late"), 10)
    assert first["open"] and first["stale_at"] is None and first["resolved_at"] is None
    wait_for("stale", lambda: _open_violation(api, "fr_events", "stale"), 10)
    assert events_of(migrated, tenant.id, "dataset.stale") == {"fr_events": 1}
    assert events_of(migrated, tenant.id, "dataset.fresh_again") == {}

    ing.wait_applied(ing.emit({"dataset": {"name": "fr_events"}}))
    assert policy_status(api, "fr_events") == "fresh"
    done = wait_for("resolution", lambda: _resolved(api, "fr_events", 1), 10)[0]
    assert done["id"] == first["id"] and done["status"] == "stale" and not done["open"]
    assert done["resolution"] == "data_arrived"
    for k in ("due_at", "opened_at", "stale_at", "resolved_at", "resolved_by_update_at", "last_update_at"):
        assert_ts(done[k])
    assert done["resolved_by_update_at"] > done["last_update_at"]
    assert events_of(migrated, tenant.id, "dataset.fresh_again") == {"fr_events": 1}
    detail = json.loads(owner_sql(migrated, "SELECT detail FROM catalog_events WHERE tenant_id = '%s' AND "
                                            "kind = 'dataset.fresh_again'" % tenant.id)[0])
    assert detail["namespace"] == "default" and detail["name"] == "fr_events"
    assert detail["status"] == "fresh" and detail["previous_status"] == "stale"
    assert detail["expected_interval_secs"] == 2 and detail["violation_id"] == first["id"]

    # stale again; this time a REST update brings it back
    wait_for("stale again", lambda: _open_violation(api, "fr_events", "stale"), 10)
    api.ok("PUT", "/api/v1/datasets/fr_events", 200, json_body={"description": "clickstream, daily"})
    second = wait_for("second resolution", lambda: _resolved(api, "fr_events", 2), 10)[0]
    assert second["resolution"] == "data_arrived" and second["id"] != first["id"]
    assert events_of(migrated, tenant.id, "dataset.stale") == {"fr_events": 2}
    assert events_of(migrated, tenant.id, "dataset.fresh_again") == {"fr_events": 2}

    # a relaxed policy resolves the violation without claiming data arrived
    wait_for("stale a third time", lambda: _open_violation(api, "fr_events", "stale"), 10)
    put_policy(api, "fr_events", expected_interval_secs=3600)
    third = wait_for("third resolution", lambda: _resolved(api, "fr_events", 3), 10)[0]
    assert third["resolution"] == "policy_changed" and third["resolved_by_update_at"] is None
    assert events_of(migrated, tenant.id, "dataset.fresh_again") == {"fr_events": 2}

    # filters and pagination over the history
    assert [v["id"] for v in violations(api, status="late")] == []
    assert len(violations(api, status="stale", dataset="fr_events")) == 3
    assert violations(api, open="true") == []
    assert violations(api, dataset="fr_events", namespace="elsewhere") == []
    walked = api.walk("/api/v1/freshness/violations", limit=1)
    assert [v["id"] for v in walked] == sorted((v["id"] for v in walked), reverse=True) and len(walked) == 3
    assert_list_page(api.ok("GET", "/api/v1/freshness/violations", 200).json())


def test_replicas_record_each_transition_once(tenant, api, spawn_analytics, migrated):
    names = ["fr_many_%02d" % i for i in range(24)]
    for n in names:
        api.create_dataset(n)
    replicas = [spawn_analytics("fresh-%d" % i) for i in range(2)]
    for n in names:
        put_policy(api, n, expected_interval_secs=1)
    wait_for("every dataset stale", lambda: len(violations(api, open="true", status="stale")) == len(names), 15)
    for n in names:
        api.ok("POST", "/api/v1/datasets/%s/tags" % q(n), 200, json_body={"tag": "refreshed"})
    wait_for("every dataset fresh again", lambda: len(
        [v for v in violations(api, open="false") if v["resolution"] == "data_arrived"]) >= len(names), 15)
    for p in replicas:
        p.stop_and_check()

    # one statement, so events and violations are read at the same instant
    rows = owner_sql(migrated, """
        WITH ev AS (SELECT kind, (detail->>'violation_id')::bigint vid FROM catalog_events
                    WHERE tenant_id = '%(t)s' AND kind IN ('dataset.stale', 'dataset.fresh_again'))
        SELECT (SELECT count(*) FROM (SELECT kind, vid FROM ev GROUP BY 1, 2 HAVING count(*) > 1) d) || '|' ||
               (SELECT count(*) FROM ev WHERE kind = 'dataset.stale') || '|' ||
               (SELECT count(*) FROM freshness_violations WHERE tenant_id = '%(t)s' AND stale_at IS NOT NULL) || '|' ||
               (SELECT count(*) FROM ev WHERE kind = 'dataset.fresh_again') || '|' ||
               (SELECT count(*) FROM freshness_violations WHERE tenant_id = '%(t)s' AND resolution = 'data_arrived')
        """ % {"t": tenant.id})
    dup, stale_events, stale_violations, fresh_events, resolved = (int(x) for x in rows[0].split("|"))
    assert dup == 0, "a transition was announced twice"
    assert stale_events == stale_violations >= len(names)
    assert fresh_events == resolved >= len(names)


CRON_CASES = [
    # expression, zone, from (UTC), next time (UTC)
    ("0 6 * * *", "UTC", "2026-11-27 07:00", "2026-11-28 06:00"),
    ("0 6 * * *", "UTC", "2026-11-27 06:00", "2026-11-27 06:00"),
    ("*/15 * * * *", "UTC", "2026-11-27 07:01", "2026-11-27 07:15"),
    ("0 9 * * mon-fri", "America/New_York", "2026-11-27 15:00", "2026-11-30 14:00"),
    ("0 0 1 * sun", "UTC", "2026-11-27 15:00", "2026-11-29 00:00"),  # either day field
    ("0 0 29 feb *", "UTC", "2026-11-27 15:00", "2028-02-29 00:00"),
    ("30 2 * * *", "Europe/Paris", "2026-03-28 12:00", "2026-03-29 01:30"),  # no 02:30 that night
    ("0 12 * * 7", "Asia/Tokyo", "2026-11-27 00:00", "2026-11-29 03:00"),
    ("5,35 1-3/2 * * *", "UTC", "2026-11-27 01:06", "2026-11-27 01:35"),
]


def test_cron_schedule_next_times(migrated):
    """mf_cron_next, which due times of scheduled policies come from, against known answers."""
    for expr, tz, start, want in CRON_CASES:
        got = owner_sql(migrated, "SELECT to_char(mf_cron_next('%s', '%s', '%s+00') AT TIME ZONE 'UTC', "
                                  "'YYYY-MM-DD HH24:MI')" % (expr, tz, start))
        assert got == [want], (expr, tz, start, got)


def _drop_event(name):
    """An OpenLineage event whose output is dropped (lifecycleStateChange DROP)."""
    producer = "https://github.com/OpenLineage/OpenLineage/tree/1.9.0/integration/spark"
    facet = {"_producer": producer, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/"
             "LifecycleStateChangeDatasetFacet.json", "lifecycleStateChange": "DROP"}
    return {"eventType": "COMPLETE", "eventTime": "2026-11-27T01:00:00Z", "producer": producer,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4()), "facets": {}},
            "job": {"namespace": "default", "name": "drop_" + name, "facets": {}},
            "inputs": [], "outputs": [{"namespace": "default", "name": name, "facets": {"lifecycleStateChange": facet}}]}


def test_dropped_dataset_closes_its_violation_and_stays_quiet(tenant, api, analytics, ingest, ingest_worker,
                                                              migrated):
    ing = tenant.ingest(ingest)
    ing.wait_applied(ing.emit({"dataset": {"name": "fr_dropped"}}))
    put_policy(api, "fr_dropped", expected_interval_secs=1, grace_period_secs=1)
    wait_for("stale", lambda: _open_violation(api, "fr_dropped", "stale"), 10)
    ing.wait_applied(ing.lineage(_drop_event("fr_dropped")))
    done = wait_for("resolution", lambda: _resolved(api, "fr_dropped", 1), 10)[0]
    assert done["resolution"] == "dataset_dropped", done
    # a dropped dataset is not expected to get data: no new violation, no event
    time.sleep(3)
    assert violations(api, open="true", dataset="fr_dropped") == []
    assert events_of(migrated, tenant.id, "dataset.stale") == {"fr_dropped": 1}
    assert events_of(migrated, tenant.id, "dataset.fresh_again") == {}
