"""Catalog health (GET /api/v1/analytics/health): counts from a known catalog built
through the real write paths (REST, OpenLineage quality facts through mf-ingest, a
freshness policy evaluated by mf-analytics), the breakdown by domain and owner, the
daily snapshots mf-analytics stores for the 30-day trend, and what scoped callers and
other tenants see."""

import uuid

import pytest

from conftest import Api, assert_error
from freshness_support import owner_sql, put_policy, wait_for

HEALTH = "/api/v1/analytics/health"


@pytest.fixture
def tenant(tenant_factory):
    """A tenant whose plan allows these tests' request rate (bursts of bad input, polling)."""
    return tenant_factory("enterprise")
FIGURES = {"datasets", "without_owner", "without_description", "stale", "unused", "breaking_changes_7d",
           "failing_quality", "documentation_coverage", "field_documentation_coverage"}
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.9.0/integration/spark"


def quality_event(name, success):
    facet = {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/X.json",
             "assertions": [{"assertion": "not_null", "success": True, "column": "id"},
                            {"assertion": "unique", "success": success, "column": "id"}]}
    return {"eventType": "COMPLETE", "eventTime": "2026-11-27T01:00:00Z", "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4()), "facets": {}},
            "job": {"namespace": "default", "name": "checks_" + name, "facets": {}},
            "inputs": [{"namespace": "default", "name": name, "inputFacets": {"dataQualityAssertions": facet}}],
            "outputs": []}


def build_catalog(tenant, api, ingest, migrated):
    """hc_a: sales/alice, documented, read today; hc_b: sales, no owner or description;
    hc_c: ops/bob with a breaking change; hc_d: bob, no domain or description, failing
    quality; hc_e: ops/alice, passing quality, stale (policy of 1 s)."""
    api.create_dataset("hc_a", domain="sales", owner="alice", description="orders",
                       fields=[{"name": "id", "type": "int", "description": "key"}])
    api.create_dataset("hc_b", domain="sales")
    api.create_dataset("hc_c", domain="ops", owner="bob", description="costs",
                       fields=[{"name": "id", "type": "int"}, {"name": "amount", "type": "int"}])
    api.ok("PUT", "/api/v1/datasets/hc_c", 200, json_body={
        "domain": "ops", "owner": "bob", "description": "costs", "fields": [{"name": "id", "type": "int"}]})
    api.create_dataset("hc_d", owner="bob")
    api.create_dataset("hc_e", domain="ops", owner="alice", description="events")
    ing = tenant.ingest(ingest)
    ing.wait_all_applied([ing.lineage(quality_event("hc_d", False)), ing.lineage(quality_event("hc_e", True))])
    put_policy(api, "hc_e", expected_interval_secs=1)
    owner_sql(migrated, "INSERT INTO dataset_usage_daily (tenant_id, dataset_id, day, reads) "
                        "SELECT tenant_id, id, (now() AT TIME ZONE 'UTC')::date, 3 FROM datasets "
                        "WHERE tenant_id = '%s' AND name = 'hc_a'" % tenant.id)
    wait_for("hc_e stale", lambda: api.ok("GET", HEALTH, 200).json()["summary"]["stale"] == 1, 15)


def by(items, key):
    return {i[key]: i for i in items}


def test_counts_and_breakdown(tenant, api, analytics, ingest, ingest_worker, migrated):
    build_catalog(tenant, api, ingest, migrated)
    report = api.ok("GET", HEALTH, 200).json()
    assert set(report) == {"as_of", "summary", "by_domain", "by_owner", "trend"}
    s = report["summary"]
    assert set(s) == FIGURES
    assert {k: s[k] for k in FIGURES} == {
        "datasets": 5, "without_owner": 1, "without_description": 2, "stale": 1, "unused": 4,
        "breaking_changes_7d": 1, "failing_quality": 1, "documentation_coverage": 0.6,
        "field_documentation_coverage": 0.5}

    domains = by(report["by_domain"], "domain")
    assert set(domains) == {"sales", "ops", None}
    assert (domains["sales"]["datasets"], domains["sales"]["without_owner"], domains["sales"]["unused"]) == (2, 1, 1)
    assert (domains["ops"]["datasets"], domains["ops"]["breaking_changes_7d"], domains["ops"]["stale"]) == (2, 1, 1)
    assert (domains[None]["datasets"], domains[None]["failing_quality"]) == (1, 1)
    assert domains["sales"]["documentation_coverage"] == 0.5 and domains["ops"]["documentation_coverage"] == 1

    owners = by(report["by_owner"], "owner")
    assert set(owners) == {"alice", "bob", None}
    assert (owners["alice"]["datasets"], owners["alice"]["stale"], owners["alice"]["unused"]) == (2, 1, 1)
    assert (owners["bob"]["datasets"], owners["bob"]["failing_quality"], owners["bob"]["breaking_changes_7d"]) == (2, 1, 1)
    assert (owners[None]["datasets"], owners[None]["without_owner"]) == (1, 1)

    # today is the last point of the trend, and equals the live figures
    assert report["trend"][-1]["day"] == report["as_of"][:10]
    assert {k: report["trend"][-1][k] for k in FIGURES} == s

    # a newer, passing quality result clears the failure
    ing = tenant.ingest(ingest)
    ing.wait_applied(ing.lineage(quality_event("hc_d", True)))
    assert api.ok("GET", HEALTH, 200).json()["summary"]["failing_quality"] == 0


def test_failing_quality_is_what_the_quality_summary_shows(api):
    """A dataset fails when the latest result of one of its checks failed, as its quality summary
    says (0026): a newer batch that reports other checks only does not clear it; a passing result
    of that check does."""
    api.create_dataset("fq_a", owner="carol")

    def record(*results):
        api.ok("POST", "/api/v1/datasets/fq_a/quality", 201,
               json_body={"source": "ci",
                          "results": [{"check": c, "passed": p, "severity": "error"} for c, p in results]})

    def figures():
        failing = api.ok("GET", "/api/v1/datasets/fq_a/quality/summary", 200).json()["failing"]
        return failing, api.ok("GET", HEALTH, 200).json()["summary"]["failing_quality"]

    record(("unique_id", False), ("row_count", True))
    assert figures() == (1, 1)
    record(("row_count", True))
    assert figures() == (1, 1)
    record(("unique_id", True))
    assert figures() == (0, 0)
    record(("freshness", False))
    assert figures() == (1, 1)


def test_scoped_callers_and_other_tenants(tenant, tenant_factory, api, analytics, ingest, ingest_worker, migrated):
    build_catalog(tenant, api, ingest, migrated)
    sales = Api(api.base, tenant.make_key("viewer", scope={"domain": "sales"})["key"])
    s = sales.ok("GET", HEALTH, 200).json()
    assert (s["summary"]["datasets"], s["summary"]["without_owner"], s["summary"]["stale"]) == (2, 1, 0)
    assert [d["domain"] for d in s["by_domain"]] == ["sales"]
    assert {o["owner"] for o in s["by_owner"]} == {"alice", None}

    one = Api(api.base, tenant.make_key("viewer", scope={"dataset": {"name": "hc_c"}})["key"])
    o = one.ok("GET", HEALTH, 200).json()
    assert (o["summary"]["datasets"], o["summary"]["breaking_changes_7d"]) == (1, 1)

    other = tenant_factory("enterprise").api
    empty = other.ok("GET", HEALTH, 200).json()
    assert empty["summary"]["datasets"] == 0 and empty["summary"]["documentation_coverage"] is None
    assert empty["by_domain"] == [] and empty["by_owner"] == []

    assert_error(api.post(HEALTH, {}), 405)
    assert_error(Api(api.base).get(HEALTH), 401, "unauthorized")


def test_snapshots_make_the_trend(tenant, tenant_factory, api, spawn_analytics, migrated):
    api.create_dataset("ht_a", domain="sales", owner="alice", description="documented")
    api.create_dataset("ht_b", domain="ops")
    # two replicas every second: each tenant's day is taken by one of them at a time
    replicas = [spawn_analytics("health-%d" % i, {"MF_HEALTH_SNAPSHOT_INTERVAL": "1"}) for i in range(2)]
    rows = wait_for("today's snapshot", lambda: owner_sql(
        migrated, "SELECT coalesce(domain, '-') || '|' || datasets || '|' || without_owner FROM catalog_health_cells "
                  "WHERE tenant_id = '%s' AND day = (now() AT TIME ZONE 'UTC')::date ORDER BY domain" % tenant.id), 15)
    assert rows == ["ops|1|1", "sales|1|0"], rows
    for p in replicas:
        p.stop_and_check()

    # history: days 3 and 40 ago (the trend covers 30 days) as the owner writes them
    for ago, n in ((3, 7), (40, 9)):
        owner_sql(migrated,
                  "INSERT INTO catalog_health_snapshots (tenant_id, day) VALUES ('%(t)s', mf_utc_today() - %(a)d)" %
                  {"t": tenant.id, "a": ago},
                  "INSERT INTO catalog_health_cells (tenant_id, day, domain_id, domain, datasets, without_owner, "
                  "without_description, stale, unused, breaking_changes, failing_quality, fields, documented_fields) "
                  "SELECT '%(t)s', mf_utc_today() - %(a)d, id, name, %(n)d, 1, 2, 0, 3, 0, 0, 4, 1 FROM domains "
                  "WHERE tenant_id = '%(t)s' AND name = 'sales'" % {"t": tenant.id, "a": ago, "n": n})
    trend = api.ok("GET", HEALTH, 200).json()["trend"]
    assert len(trend) == 2, trend
    old, today = trend
    assert (old["datasets"], old["without_owner"], old["unused"], old["field_documentation_coverage"]) == (7, 1, 3, 0.25)
    assert today["datasets"] == 2 and old["day"] < today["day"]

    # a caller scoped to ops sees none of the sales history; other tenants see none of it
    ops = Api(api.base, tenant.make_key("viewer", scope={"domain": "ops"})["key"])
    ops_trend = ops.ok("GET", HEALTH, 200).json()["trend"]
    assert ops_trend[0]["datasets"] == 0 and ops_trend[-1]["datasets"] == 1
    assert [t["day"] for t in tenant_factory("enterprise").api.ok("GET", HEALTH, 200).json()["trend"]] == [today["day"]]


def test_no_tenant_waits_behind_the_others(tenant, tenant_factory, migrated):
    """Snapshots take the stalest tenants first: with every tenant always due (interval 0), one
    tenant per batch still reaches the tenant that sorts last."""
    tenant_factory()
    tenants = int(owner_sql(migrated, "SELECT count(*) FROM tenants WHERE status = 'active'")[0])
    last = owner_sql(migrated, "SELECT max(id::text) FROM tenants WHERE status = 'active'")[0]
    owner_sql(migrated, "SELECT sum(mf_health_snapshot(0, 1)) FROM generate_series(1, %d)" % (tenants + 1))
    rows = owner_sql(migrated, "SELECT count(*) FROM catalog_health_snapshots WHERE tenant_id = '%s' "
                               "AND day = mf_utc_today()" % last)
    assert rows == ["1"], rows
