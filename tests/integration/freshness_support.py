"""Helpers shared by test_freshness.py and test_health.py: polling, the
catalog events of a dataset (read as the owner), and policies."""

import time

from conftest import psql, q


def wait_for(what, fn, seconds=20.0):
    """Call fn until it returns a true value (returned) or the deadline passes."""
    deadline = time.monotonic() + seconds
    while True:
        got = fn()
        if got:
            return got
        assert time.monotonic() < deadline, "timed out waiting for %s (last: %r)" % (what, got)
        time.sleep(0.1)


def owner_sql(infra, *statements):
    """Rows of the last statement, run as the tables' owner (no Row Level Security)."""
    return psql(infra["MF_PG_ADMIN_URL"], *statements)[1]


def events_of(infra, tenant_id, kind):
    """{dataset name: number of catalog_events of this kind} for a tenant."""
    rows = owner_sql(infra, "SELECT d.name || '|' || count(*) FROM catalog_events e JOIN datasets d ON d.id = e.dataset_id "
                            "WHERE e.tenant_id = '%s' AND e.kind = '%s' GROUP BY d.name" % (tenant_id, kind))
    return {r.split("|")[0]: int(r.split("|")[1]) for r in rows}


def put_policy(api, name, status=(200, 201), **body):
    r = api.put("/api/v1/datasets/%s/freshness" % q(name), body)
    assert r.status_code in status, r.text
    return r.json()


def policy_status(api, name):
    return api.ok("GET", "/api/v1/datasets/%s/freshness" % q(name), 200).json()["status"]


def violations(api, **params):
    return api.walk("/api/v1/freshness/violations", params=params)
