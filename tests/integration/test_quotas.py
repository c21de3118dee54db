"""Plan limits and their enforcement: datasets (API and ingest), seats
(invitations), emit events and API calls per month, rate limits (429 with
Retry-After and RateLimit-* headers, per tenant and per key, shared by two
mf-api processes through Redis, failing open without Redis), quota overrides
(PUT /api/v1/admin/tenants/{id} quotas), metering folded by mf-analytics and
the 80% quota.warning.

Tenants come from the harness's tenant_factory, which lifts the rate limits;
each test sets the overrides it exercises before the tenant's first call, so
no cached limits (MF_QUOTA_CACHE_TTL) are in the way."""

import concurrent.futures
import threading
import time

import pytest

from conftest import CORS_ORIGIN, Api, assert_error, psql, unique
from quota_support import counter, folded, set_quotas, wait_folded

TENANT_PATH = "/api/v1/admin/tenants/"


def events_of(infra, tenant_id, kind):
    _, rows, _ = psql(infra["MF_PG_SUPER_URL"],
                      "SELECT detail::text FROM catalog_events WHERE tenant_id = '%s' AND kind = '%s' ORDER BY id"
                      % (tenant_id, kind))
    return rows


def settled_counter(infra, metric, tenant_id, want, seconds=2.0):
    """The counter once it holds want, or its value after seconds: calls admitted on a lease reach Redis
    within 100 ms (quota.c sends them in batches)."""
    deadline = time.monotonic() + seconds
    while True:
        got = counter(infra, metric, tenant_id)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


# ---------------------------------------------------------------- datasets


def test_dataset_quota_api(admin_api, tenant):
    set_quotas(admin_api, tenant.id, max_datasets=2)
    tenant.api.create_dataset("d1")
    tenant.api.create_dataset("d2", namespace="other")
    r = tenant.api.post("/api/v1/datasets", {"name": "d3"})
    assert_error(r, 403, "quota_exceeded", "max_datasets")
    assert "2" in r.json()["error"]["message"]
    assert tenant.api.get_dataset("d3").status_code == 404
    # changing what exists still works; deleting frees a slot
    assert tenant.api.put("/api/v1/datasets/d1", {"description": "kept"}).status_code == 200
    assert tenant.api.delete("/api/v1/datasets/d1").status_code in (200, 204)
    tenant.api.create_dataset("d3")
    # raising the override lets the tenant grow again
    set_quotas(admin_api, tenant.id, max_datasets=3)
    tenant.api.create_dataset("d4")


def _dataset_counts(infra, tenant_id):
    """(the tenant's counter, its datasets counted)."""
    _, rows, _ = psql(infra["MF_PG_SUPER_URL"],
                      "SELECT (SELECT datasets FROM tenant_dataset_counts WHERE tenant_id = '%s'), "
                      "(SELECT count(*) FROM datasets WHERE tenant_id = '%s')" % (tenant_id, tenant_id))
    counted, real = rows[0].split("|")
    return int(counted or 0), int(real)


def _create_together(tenant, names):
    """POST /api/v1/datasets for every name at once (a client each); the status codes by name."""
    clients = [tenant.client("editor") for _ in names]
    barrier = threading.Barrier(len(names))

    def one(i):
        barrier.wait(30)
        return clients[i].post("/api/v1/datasets", {"name": names[i]})

    with concurrent.futures.ThreadPoolExecutor(len(names)) as ex:
        rs = list(ex.map(one, range(len(names))))
    for r in rs:
        if r.status_code != 201:
            assert_error(r, 403, "quota_exceeded", "max_datasets")
    return {names[i]: rs[i].status_code for i in range(len(names))}


def test_dataset_quota_exact_under_concurrent_creates(admin_api, infra, tenant):
    """Creators of one tenant no longer wait for each other's whole transaction,
    and the limit stays exact: of concurrent creates past it, exactly those that
    fit succeed, and the tenant's counter always equals its datasets."""
    set_quotas(admin_api, tenant.id, max_datasets=10)
    got = _create_together(tenant, ["c%02d" % i for i in range(24)])
    assert sorted(got.values()) == [201] * 10 + [403] * 14, got
    assert _dataset_counts(infra, tenant.id) == (10, 10)
    for name in [n for n, code in got.items() if code == 201][:3]:
        assert tenant.api.delete("/api/v1/datasets/" + name).status_code in (200, 204)
    assert _dataset_counts(infra, tenant.id) == (7, 7)
    got = _create_together(tenant, ["d%02d" % i for i in range(8)])
    assert sorted(got.values()) == [201] * 3 + [403] * 5, got
    assert _dataset_counts(infra, tenant.id) == (10, 10)
    # what exists still changes, and nothing refused was kept
    assert tenant.api.put("/api/v1/datasets/" + [n for n, c in got.items() if c == 201][0],
                          {"description": "kept"}).status_code == 200
    refused = [n for n, c in got.items() if c == 403]
    assert all(tenant.api.get_dataset(n).status_code == 404 for n in refused)


def test_dataset_quota_ingest(admin_api, tenant, ingest, ingest_worker):
    set_quotas(admin_api, tenant.id, max_datasets=1)
    ing = tenant.ingest(ingest)
    ing.wait_applied(ing.emit({"dataset": {"name": "first"}}))
    doc = ing.wait_event(ing.emit({"dataset": {"name": "second"}}), timeout=30)
    assert doc["status"] == "failed", doc
    assert "max_datasets" in doc["reason"], doc
    assert tenant.api.get_dataset("second").status_code == 404
    # events about the dataset it has still apply
    ing.wait_applied(ing.emit({"dataset": {"name": "first", "description": "updated"}}))
    assert tenant.api.get_dataset("first").json()["description"] == "updated"


# ---------------------------------------------------------------- seats


def test_seat_quota_invitations(admin_api, tenant):
    set_quotas(admin_api, tenant.id, max_seats=2)
    for email in ("a@seats.example", "b@seats.example"):
        tenant.api.ok("POST", "/api/v1/invitations", 201, json_body={"email": email, "role": "viewer"})
    r = tenant.api.post("/api/v1/invitations", {"email": "c@seats.example", "role": "viewer"})
    assert_error(r, 403, "quota_exceeded", "max_seats")
    assert len(tenant.api.walk("/api/v1/invitations")) == 2
    billing = tenant.api.ok("GET", "/api/v1/billing", 200).json()
    assert billing["usage"]["seats"] == {"used": 2, "limit": 2}, billing


# ---------------------------------------------------------------- monthly quotas


def test_emit_events_quota(admin_api, infra, tenant, ingest):
    set_quotas(admin_api, tenant.id, emit_events_per_month=3)
    ing = tenant.ingest(ingest)
    ing.emit_batch([{"dataset": {"name": "e1"}}, {"dataset": {"name": "e2"}}])
    # a batch is queued whole or not at all
    r = ing.post("/api/v1/emit/batch", [{"dataset": {"name": "e3"}}, {"dataset": {"name": "e4"}}])
    assert_error(r, 403, "quota_exceeded", "emit events")
    ing.emit({"dataset": {"name": "e3"}})
    assert_error(ing.post("/api/v1/emit", {"dataset": {"name": "e5"}}), 403, "quota_exceeded")
    assert counter(infra, "emit", tenant.id) == 3
    # posts to mf-ingest are emit events, not API calls
    assert counter(infra, "api", tenant.id) == 0


def test_api_calls_quota(admin_api, infra, tenant):
    set_quotas(admin_api, tenant.id, api_calls_per_month=5)
    for _ in range(4):
        tenant.api.ok("GET", "/api/v1/datasets", 200)
    assert tenant.api.get("/api/v1/datasets/missing").status_code == 404  # an answered call counts
    r = tenant.api.get("/api/v1/datasets")
    assert_error(r, 403, "quota_exceeded", "api_calls_per_month")
    assert_error(tenant.api.get("/api/v1/billing"), 403, "quota_exceeded")
    assert counter(infra, "api", tenant.id) == 5  # refused calls are not counted


# ---------------------------------------------------------------- rate limits


def test_rate_limit_headers_and_refill(admin_api, tenant):
    set_quotas(admin_api, tenant.id, requests_per_second=4, key_requests_per_second=4)
    start = time.monotonic()
    # a browser of the configured origin may read the headers
    answers = [tenant.api.get("/api/v1/datasets", headers={"Origin": CORS_ORIGIN}) for _ in range(12)]
    elapsed = time.monotonic() - start
    ok = [r for r in answers if r.status_code == 200]
    limited = [r for r in answers if r.status_code == 429]
    # a full bucket, plus what refilled meanwhile
    assert 4 <= len(ok) <= 4 + 4 * elapsed + 1 and limited, ([r.status_code for r in answers], elapsed)
    first = ok[0]
    assert first.headers["RateLimit-Limit"] == "4"
    assert int(first.headers["RateLimit-Remaining"]) == 3
    assert int(first.headers["RateLimit-Reset"]) in (1, 2)
    exposed = [h.strip().lower() for h in first.headers["Access-Control-Expose-Headers"].split(",")]
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"} <= set(exposed), exposed
    r = limited[0]
    assert_error(r, 429, "rate_limited", "4 requests per second")
    assert r.headers["Retry-After"] == "1"
    assert r.headers["RateLimit-Remaining"] == "0"
    assert r.headers["RateLimit-Limit"] == "4"
    time.sleep(1.1)  # a second refills the bucket
    assert tenant.api.get("/api/v1/datasets").status_code == 200


def test_rate_limit_per_key_and_per_tenant(admin_api, tenant):
    set_quotas(admin_api, tenant.id, requests_per_second=6, key_requests_per_second=3)
    a, b = tenant.client("viewer"), tenant.client("viewer")
    start = time.monotonic()
    ra = [a.get("/api/v1/datasets").status_code for _ in range(10)]
    assert 3 <= ra.count(200) <= 3 + 3 * (time.monotonic() - start) + 1 and 429 in ra, ra
    # another key has its own bucket, but the tenant's is shared
    rb = [b.get("/api/v1/datasets").status_code for _ in range(10)]
    elapsed = time.monotonic() - start
    assert 200 in rb and 429 in rb, rb
    assert ra.count(200) + rb.count(200) <= 6 + 6 * elapsed + 1, (ra, rb, elapsed)


def test_rate_limit_two_servers_share_the_bucket(admin_api, tenant, spawn_server):
    """Concurrent load on two mf-api processes sharing Redis never exceeds the bucket."""
    rate = 20
    set_quotas(admin_api, tenant.id, requests_per_second=rate, key_requests_per_second=rate)
    servers = [spawn_server(unique("rl")), spawn_server(unique("rl"))]
    counts = {"ok": 0, "limited": 0, "other": 0}
    per_server_ok = [0, 0]
    lock = threading.Lock()
    duration = 2.0

    def hammer(i):
        api = Api(servers[i % 2].base, tenant.key)
        end = time.monotonic() + duration
        while time.monotonic() < end:
            r = api.get("/api/v1/datasets")
            with lock:
                if r.status_code == 200:
                    counts["ok"] += 1
                    per_server_ok[i % 2] += 1
                elif r.status_code == 429:
                    counts["limited"] += 1
                else:
                    counts["other"] += 1

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(hammer, range(8)))
    elapsed = time.monotonic() - start
    assert counts["other"] == 0, counts
    assert counts["limited"] > counts["ok"], counts  # the load was far above the rate
    # a full bucket (rate) plus the refill during the run, with a little slack for timing
    assert counts["ok"] <= rate + rate * elapsed + 2, (counts, elapsed)
    assert counts["ok"] >= rate * duration * 0.6, (counts, elapsed)
    assert min(per_server_ok) > 0, per_server_ok
    for srv in servers:
        srv.stop_and_check()


def test_rate_limit_fails_open_without_redis(admin_api, tenant, spawn_server):
    set_quotas(admin_api, tenant.id, requests_per_second=1, key_requests_per_second=1)
    srv = spawn_server(unique("noredis"), {"MF_REDIS_URL": "redis://127.0.0.1:1"}, ready_path="/healthz")
    api = Api(srv.base, tenant.key)
    answers = [api.get("/api/v1/datasets") for _ in range(5)]
    assert [r.status_code for r in answers] == [200] * 5
    assert "RateLimit-Limit" not in answers[0].headers
    metrics = Api(srv.base).get("/metrics").text
    line = [l for l in metrics.splitlines() if l.startswith("mf_quota_redis_failures_total")]
    assert line and float(line[0].split()[-1]) >= 5, line
    srv.stop_and_check()


def test_platform_keys_are_not_limited(admin_api):
    for _ in range(30):
        admin_api.ok("GET", "/api/v1/admin/plans", 200)


# ---------------------------------------------------------------- overrides


def test_quota_overrides_validation(admin_api, billing_key, infra, tenant, base_url):
    path = TENANT_PATH + tenant.id
    before = admin_api.ok("GET", path, 200).json()
    assert before["quotas"]["requests_per_second"] == 100000, before  # the harness's overrides
    bad = [
        ({"quotas": {"max_tables": 3}}, "quotas.max_tables"),
        ({"quotas": {"max_datasets": "3"}}, "quotas.max_datasets"),
        ({"quotas": {"max_datasets": -1}}, "quotas.max_datasets"),
        ({"quotas": {"max_datasets": 1.5}}, "quotas.max_datasets"),
        ({"quotas": {"requests_per_second": 0}}, "quotas.requests_per_second"),
        ({"quotas": {"audit_retention_days": 100000}}, "quotas.audit_retention_days"),
        ({"quotas": [1]}, "quotas"),
        ({"quotas": "big"}, "quotas"),
        ({"plan": "team", "quotas": {"max_seats": True}}, "quotas.max_seats"),
    ]
    for body, names in bad:
        assert_error(admin_api.put(path, body), 400, "invalid_request", names)
    assert_error(admin_api.put(path, {"quotas": {"max_seats": 3}, "extra": 1}), 400, "invalid_request", "extra")
    assert admin_api.ok("GET", path, 200).json() == before
    # only the platform admin changes them
    assert_error(Api(base_url, billing_key).put(path, {"quotas": {"max_seats": 3}}), 403, "forbidden")
    assert_error(tenant.api.put(path, {"quotas": {"max_seats": 3}}), 403, "forbidden")
    # set, merge, drop; plan and quotas together
    doc = admin_api.ok("PUT", path, 200, json_body={"plan": "team", "quotas": {"max_seats": 3}}).json()
    assert doc["plan"] == "team" and doc["quotas"]["max_seats"] == 3, doc
    doc = set_quotas(admin_api, tenant.id, max_seats=None, max_datasets=7)
    assert "max_seats" not in doc["quotas"] and doc["quotas"]["max_datasets"] == 7, doc
    assert doc["quotas"]["requests_per_second"] == 100000, doc  # the others stay
    assert_error(admin_api.put(TENANT_PATH + "00000000-0000-4000-8000-000000000000",
                               {"quotas": {"max_seats": 3}}), 404, "not_found")
    # each change is on the tenant's audit record (the harness's own override is the first)
    _, rows, _ = psql(infra["MF_PG_SUPER_URL"], "SELECT count(*) FROM audit_log WHERE tenant_id = '%s' "
                      "AND action = 'tenant.quotas'" % tenant.id)
    assert rows == ["3"], rows


# ---------------------------------------------------------------- metering


def test_metering_exact_with_two_folding_replicas(admin_api, infra, tenant, ingest, spawn_analytics):
    ing = tenant.ingest(ingest)
    for i in range(7):
        tenant.api.ok("GET", "/api/v1/datasets", 200)
    tenant.api.create_dataset("m1")
    tenant.api.create_dataset("m2")
    ing.emit_batch([{"dataset": {"name": "x%d" % i}} for i in range(3)])
    ing.emit({"dataset": {"name": "x9"}})
    assert settled_counter(infra, "api", tenant.id, 9) == 9
    assert counter(infra, "emit", tenant.id) == 4
    env = {"MF_METERING_INTERVAL": "1"}
    replicas = [spawn_analytics(unique("meter"), env), spawn_analytics(unique("meter"), env)]
    try:
        got = wait_folded(infra, tenant.id, {"api_calls": 9, "emit_events": 4, "seats": 0})
        assert got.get("api_calls") == 9 and got.get("emit_events") == 4, got
        assert got.get("datasets", 0) >= 2 and got.get("seats") == 0, got
        # more calls: the next rounds catch up exactly, whichever replica folds
        for i in range(5):
            tenant.api.ok("GET", "/api/v1/datasets", 200)
        got = wait_folded(infra, tenant.id, {"api_calls": 14})
        assert got["api_calls"] == 14 and got["emit_events"] == 4, got
        time.sleep(1.5)
        assert folded(infra, tenant.id)["api_calls"] == 14
    finally:
        for proc in replicas:
            proc.stop_and_check()


def test_metering_exact_under_concurrent_load_and_stop(infra, tenant, spawn_server):
    """Busy keys are admitted on leases and their calls counted in batches: every answered call is
    counted once, whichever thread or process answered it, also when a server stops right after."""
    servers = [spawn_server(unique("meter")), spawn_server(unique("meter"))]
    keys = [tenant.key, tenant.client("viewer").key]
    time.sleep(0.3)  # the key's creation was a call too: it reaches the counter within 100 ms
    want = counter(infra, "api", tenant.id) + 8 * 150
    calls = 150
    answered = []
    lock = threading.Lock()

    def hammer(i):
        api = Api(servers[i % 2].base, keys[i // 2 % 2])
        codes = [api.get("/api/v1/datasets").status_code for _ in range(calls)]
        with lock:
            answered.extend(codes)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(hammer, range(8)))
    assert answered == [200] * len(answered) and len(answered) == 8 * calls, sorted(set(answered))
    servers[0].stop_and_check()  # stopping at once: what it had not sent yet goes out before it exits
    assert settled_counter(infra, "api", tenant.id, want) == want
    servers[1].stop_and_check()
    assert counter(infra, "api", tenant.id) == want


def test_quota_warning_once_at_80_percent(admin_api, infra, tenant, spawn_analytics):
    set_quotas(admin_api, tenant.id, api_calls_per_month=10)
    for _ in range(7):
        tenant.api.ok("GET", "/api/v1/datasets", 200)
    proc = spawn_analytics(unique("warn"), {"MF_METERING_INTERVAL": "1"})
    try:
        wait_folded(infra, tenant.id, {"api_calls": 7})
        time.sleep(1.2)
        assert events_of(infra, tenant.id, "quota.warning") == []  # 70%: no warning yet
        tenant.api.ok("GET", "/api/v1/datasets", 200)
        wait_folded(infra, tenant.id, {"api_calls": 8})
        deadline = time.monotonic() + 5
        while not events_of(infra, tenant.id, "quota.warning") and time.monotonic() < deadline:
            time.sleep(0.2)
        tenant.api.ok("GET", "/api/v1/datasets", 200)
        wait_folded(infra, tenant.id, {"api_calls": 9})
        time.sleep(1.5)
        rows = events_of(infra, tenant.id, "quota.warning")
        assert len(rows) == 1, rows
        assert '"quota": "api_calls_per_month"' in rows[0] and '"limit": 10' in rows[0] \
            and '"used": 8' in rows[0], rows
    finally:
        proc.stop_and_check()
