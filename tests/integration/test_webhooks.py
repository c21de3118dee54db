"""Webhook notifications: the routes of mf-api and the deliveries of mf-analytics.

Deliveries go to a real HTTP receiver (http.server on 127.0.0.1 in a thread)
that checks every signature. Receiving tests use their own mf-api with
MF_WEBHOOK_ALLOW_LOOPBACK=1 (the session server refuses loopback, which the
SSRF tests use). Tests whose outcome depends on one replica's settings (dead
after N attempts, refused at delivery) pause every other mf-analytics while
they run, so no other replica takes their deliveries.
"""

import contextlib
import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest

import conftest
from conftest import Api, Server, assert_error, assert_list_page, assert_ts, psql

SECRET = "whsec_test_0123456789abcdef"
EVENTS = ["dataset.stale", "dataset.fresh_again", "schema.breaking_change", "schema.changed",
          "quality.failed", "quota.warning"]


# --------------------------------------------------------------------------
# the receiver


class Receiver:
    """A local webhook endpoint. `statuses` are answered in order (then 200);
    every request is kept with its headers, body and whether its signature
    verified against `secret`."""

    def __init__(self, secret=SECRET, statuses=(), delay=0.0):
        self.secret = secret
        self.statuses = list(statuses)
        self.delay = delay
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.append({
                        "at": time.monotonic(), "headers": dict(self.headers), "body": body,
                        "signed": receiver.signature_ok(self.headers.get("X-MetaFuse-Signature", ""), body),
                    })
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/hook" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def signature_ok(self, header, body):
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts:
            return False
        want = hmac.new(self.secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300

    def bodies(self):
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def wait_for(self, n, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.05)
        raise AssertionError("receiver got %d requests, expected %d" % (len(self.requests), n))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


# --------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="module")
def loopback_api_base(migrated, platform_key, tmp_root):
    """An mf-api that accepts loopback destinations (the tests' receivers), for the module."""
    srv = Server(migrated, tmp_root, "webhooks", {"MF_WEBHOOK_ALLOW_LOOPBACK": "1"})
    srv.start()
    yield srv.base
    srv.stop_and_check()


@pytest.fixture
def lapi(loopback_api_base, tenant):
    """The fresh tenant's admin client at the loopback-allowing mf-api."""
    return Api(loopback_api_base, tenant.key)


def create_webhook(client, url, events=("schema.changed",), **extra):
    body = {"url": url, "events": list(events), "secret": SECRET}
    body.update(extra)
    return client.ok("POST", "/api/v1/webhooks", 201, json_body=body).json()


def add_event(migrated, tenant_id, kind="quota.warning", detail=None, count=1):
    """Put outbox rows as the freshness and quota workers do."""
    psql(migrated["MF_PG_ADMIN_URL"],
         "INSERT INTO catalog_events (tenant_id, kind, detail) SELECT '%s', '%s', '%s'::jsonb "
         "FROM generate_series(1, %d)" % (tenant_id, kind, json.dumps(detail or {}).replace("'", "''"), count))


def wait_deliveries(client, hook_id, status, n, seconds=20):
    deadline = time.monotonic() + seconds
    while True:
        items = client.walk("/api/v1/webhooks/%s/deliveries" % hook_id, params={"status": status})
        if len(items) >= n or time.monotonic() > deadline:
            assert len(items) == n, "%d %s deliveries, expected %d: %s" % (len(items), status, n, items)
            return items
        time.sleep(0.1)


@contextlib.contextmanager
def only_replicas(*replicas):
    """Pause every running mf-analytics but `replicas` (restarted afterwards)."""
    paused = [s for s in list(conftest.RUNNING_SERVERS)
              if getattr(s, "binary", None) == conftest.MF_ANALYTICS and s not in replicas]
    for s in paused:
        s.stop()
    try:
        yield
    finally:
        for s in paused:
            s.start()


# --------------------------------------------------------------------------
# delivery


def test_schema_events_delivered_signed_and_logged(analytics, lapi, receiver, migrated, tenant):
    rcv = receiver()
    hook = create_webhook(lapi, rcv.url, ["schema.changed", "schema.breaking_change"], description="schemas")
    assert hook["url"] == rcv.url and hook["format"] == "json" and hook["description"] == "schemas"
    assert "secret" not in hook
    assert_ts(hook["created_at"])
    lapi.create_dataset("orders", fields=[{"name": "id", "type": "bigint"}, {"name": "note", "type": "text"}])
    # adding a field: schema.changed only; then dropping one: changed and breaking
    lapi.ok("PUT", "/api/v1/datasets/orders", 200, json_body={
        "fields": [{"name": "id", "type": "bigint"}, {"name": "note", "type": "text"}, {"name": "x", "type": "int"}]})
    lapi.ok("PUT", "/api/v1/datasets/orders", 200, json_body={"fields": [{"name": "id", "type": "bigint"}]})
    reqs = rcv.wait_for(3)
    time.sleep(0.3)
    assert len(rcv.requests) == 3, "each event once: %s" % rcv.bodies()
    assert all(r["signed"] for r in reqs), [r["headers"] for r in reqs]
    bodies = rcv.bodies()
    kinds = sorted(b["event"] for b in bodies)
    assert kinds == ["schema.breaking_change", "schema.changed", "schema.changed"], kinds
    for r, b in zip(reqs, bodies):
        assert r["headers"]["X-MetaFuse-Event"] == b["event"]
        assert r["headers"]["X-MetaFuse-Delivery"] == b["id"]
        assert r["headers"]["Content-Type"] == "application/json"
        assert b["dataset"]["namespace"] == "default" and b["dataset"]["name"] == "orders"
        assert b["tenant"] == {"id": tenant.id, "name": tenant.name}
        assert_ts(b["occurred_at"])
    breaking = [b for b in bodies if b["event"] == "schema.breaking_change"][0]
    assert breaking["detail"]["from"] == 2 and breaking["detail"]["to"] == 3, breaking
    assert [f["name"] for f in breaking["detail"]["removed"]] == ["note", "x"], breaking
    # the delivery log
    items = wait_deliveries(lapi, hook["id"], "delivered", 3)
    for d in items:
        assert d["attempts"] == 1 and d["last_status_code"] == 200 and d["next_attempt_at"] is None, d
        assert_ts(d["created_at"])
        assert_ts(d["finished_at"])
        [a] = d["attempt_log"]
        assert a["outcome"] == "delivered" and a["status_code"] == 200 and a["error"] is None, a
        assert isinstance(a["duration_ms"], int) and a["duration_ms"] >= 0, a
    assert sorted(d["id"] for d in items) == sorted(b["id"] for b in bodies)
    assert_list_page(lapi.ok("GET", "/api/v1/webhooks/%s/deliveries" % hook["id"], 200,
                             params={"status": "dead"}).json())["items"] == []


def test_retried_after_two_failures_then_delivered(analytics, lapi, receiver, migrated, tenant):
    rcv = receiver(statuses=[500, 503])
    hook = create_webhook(lapi, rcv.url, ["quota.warning"])
    add_event(migrated, tenant.id, detail={"metric": "api_calls", "percent": 80})
    reqs = rcv.wait_for(3)
    assert all(r["signed"] for r in reqs)
    ids = {r["headers"]["X-MetaFuse-Delivery"] for r in reqs}
    assert len(ids) == 1, "one delivery, three attempts: %s" % ids
    # exponential backoff (MF_WEBHOOK_BACKOFF_MS=100 in the fixture): at least half of 100, then of 200 ms
    gaps = [reqs[i + 1]["at"] - reqs[i]["at"] for i in range(2)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1, gaps
    [d] = wait_deliveries(lapi, hook["id"], "delivered", 1)
    assert d["attempts"] == 3 and d["event"] == "quota.warning", d
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in d["attempt_log"]] == [
        (1, "failed", 500), (2, "failed", 503), (3, "delivered", 200)], d
    assert d["attempt_log"][0]["error"] == "HTTP status 500"
    assert rcv.bodies()[2]["detail"] == {"metric": "api_calls", "percent": 80}


def test_dead_after_max_attempts(spawn_analytics, lapi, receiver, migrated, tenant):
    rcv = receiver(statuses=[500] * 50)
    hook = create_webhook(lapi, rcv.url, ["quota.warning"])
    replica = spawn_analytics("webhooks-max3", {"MF_WEBHOOK_MAX_ATTEMPTS": "3"})
    with only_replicas(replica):
        add_event(migrated, tenant.id)
        [d] = wait_deliveries(lapi, hook["id"], "dead", 1)
        time.sleep(0.6)  # nothing more is sent once dead
        replica.stop()
    assert len(rcv.requests) == 3, len(rcv.requests)
    assert d["attempts"] == 3 and d["last_status_code"] == 500 and d["finished_at"] is not None, d
    assert [a["outcome"] for a in d["attempt_log"]] == ["failed"] * 3
    assert wait_deliveries(lapi, hook["id"], "pending", 0) == []


def test_timeout_is_a_failed_attempt(spawn_analytics, lapi, receiver, migrated, tenant):
    rcv = receiver(delay=1.5)
    hook = create_webhook(lapi, rcv.url, ["quota.warning"])
    replica = spawn_analytics("webhooks-timeout", {"MF_WEBHOOK_TIMEOUT_MS": "300", "MF_WEBHOOK_MAX_ATTEMPTS": "1"})
    with only_replicas(replica):
        add_event(migrated, tenant.id)
        [d] = wait_deliveries(lapi, hook["id"], "dead", 1)
        replica.stop()
    [a] = d["attempt_log"]
    assert a["outcome"] == "failed" and a["status_code"] is None and "timed out" in a["error"], a
    assert 250 <= a["duration_ms"] < 1400, a


def test_slow_receiver_does_not_hold_up_others(analytics, loopback_api_base, tenant_factory, receiver, migrated):
    slow_tenant, fast_tenant = tenant_factory(), tenant_factory()
    slow, fast = receiver(delay=2.5), receiver()
    create_webhook(Api(loopback_api_base, slow_tenant.key), slow.url, ["quota.warning"])
    create_webhook(Api(loopback_api_base, fast_tenant.key), fast.url, ["quota.warning"])
    add_event(migrated, slow_tenant.id, count=2)
    slow.wait_for(1)
    start = time.monotonic()
    add_event(migrated, fast_tenant.id)
    fast.wait_for(1)
    assert time.monotonic() - start < 1.5, "a slow receiver held up another tenant's delivery"
    slow.wait_for(2)


def test_destination_refused_at_delivery(spawn_analytics, lapi, receiver, migrated, tenant):
    """A replica that does not allow loopback refuses a hostname that resolves to 127.0.0.1."""
    rcv = receiver()
    hook = create_webhook(lapi, "https://localhost:%d/hook" % rcv.port, ["quota.warning"])
    replica = spawn_analytics("webhooks-noloop", {"MF_WEBHOOK_ALLOW_LOOPBACK": "0", "MF_WEBHOOK_MAX_ATTEMPTS": "2"})
    with only_replicas(replica):
        add_event(migrated, tenant.id)
        [d] = wait_deliveries(lapi, hook["id"], "dead", 1)
        replica.stop()
    assert rcv.requests == []
    assert [a["outcome"] for a in d["attempt_log"]] == ["refused", "refused"], d
    assert "loopback" in d["last_error"] and d["last_status_code"] is None, d


def test_two_replicas_never_double_deliver(analytics, spawn_analytics, lapi, receiver, migrated, tenant):
    rcv = receiver(delay=0.01)
    hook = create_webhook(lapi, rcv.url, ["quota.warning"])
    spawn_analytics("webhooks-second")
    n = 60
    add_event(migrated, tenant.id, count=n)
    rcv.wait_for(n, seconds=40)
    time.sleep(1.0)
    ids = [r["headers"]["X-MetaFuse-Delivery"] for r in rcv.requests]
    assert len(ids) == n and len(set(ids)) == n, "%d requests, %d distinct" % (len(ids), len(set(ids)))
    wait_deliveries(lapi, hook["id"], "delivered", n)
    items = lapi.walk("/api/v1/webhooks/%s/deliveries" % hook["id"], limit=25)  # newest first, in pages
    assert all(d["attempts"] == 1 and d["status"] == "delivered" for d in items)
    assert sorted(d["id"] for d in items) == sorted(ids)
    stamps = [d["created_at"] for d in items]
    assert stamps == sorted(stamps, reverse=True)


def test_slack_format(analytics, lapi, receiver, tenant):
    rcv = receiver()
    hook = create_webhook(lapi, rcv.url, ["schema.changed"], format="slack")
    assert hook["format"] == "slack"
    lapi.create_dataset("events", fields=[{"name": "id", "type": "bigint"}])
    lapi.ok("PUT", "/api/v1/datasets/events", 200, json_body={"fields": [{"name": "id", "type": "text"}]})
    [req] = rcv.wait_for(1)
    assert req["signed"]
    assert rcv.bodies() == [{"text": "[MetaFuse %s] schema.changed on default/events: schema version 1 -> 2"
                                     % tenant.name}], rcv.bodies()


def test_quality_failed_event(analytics, lapi, receiver, migrated, tenant):
    rcv = receiver()
    create_webhook(lapi, rcv.url, ["quality.failed"])
    d = lapi.create_dataset("checked")
    admin = migrated["MF_PG_ADMIN_URL"]
    psql(admin, "INSERT INTO dataset_quality (tenant_id, dataset_id, assertions) VALUES "
                "('%s', '%s', '[{\"assertion\":\"not_null\",\"success\":true}]')" % (tenant.id, d["id"]),
         "INSERT INTO dataset_quality (tenant_id, dataset_id, assertions) VALUES "
         "('%s', '%s', '[{\"assertion\":\"not_null\",\"success\":true},"
         "{\"assertion\":\"unique\",\"column\":\"id\",\"success\":false}]')" % (tenant.id, d["id"]))
    rcv.wait_for(1)
    time.sleep(0.3)
    [b] = rcv.bodies()
    assert b["event"] == "quality.failed" and b["dataset"]["name"] == "checked", b
    assert b["detail"]["failed"] == [{"assertion": "unique", "column": "id", "success": False}], b
    assert b["detail"]["assertions"] == 2


def test_tenants_receive_only_their_events(analytics, loopback_api_base, tenant_factory, receiver, migrated):
    a, b = tenant_factory(), tenant_factory()
    ra, rb = receiver(), receiver()
    create_webhook(Api(loopback_api_base, a.key), ra.url, ["quota.warning"])
    create_webhook(Api(loopback_api_base, b.key), rb.url, ["quota.warning", "schema.changed"])
    add_event(migrated, b.id, count=2)
    rb.wait_for(2)
    time.sleep(0.4)
    assert ra.requests == []
    assert {x["tenant"]["id"] for x in rb.bodies()} == {b.id}


def test_webhook_created_after_an_event_does_not_get_it(analytics, lapi, receiver, migrated, tenant):
    rcv = receiver()
    add_event(migrated, tenant.id)
    time.sleep(0.5)  # fanned out with no webhook to deliver to
    hook = create_webhook(lapi, rcv.url, ["quota.warning"])
    add_event(migrated, tenant.id, detail={"n": 2})
    rcv.wait_for(1)
    time.sleep(0.3)
    assert [x["detail"] for x in rcv.bodies()] == [{"n": 2}]
    assert len(wait_deliveries(lapi, hook["id"], "delivered", 1)) == 1


# --------------------------------------------------------------------------
# routes


def test_crud_pagination_and_audit(lapi, tenant):
    made = [create_webhook(lapi, "http://127.0.0.1:9/h%d" % i, EVENTS[i:i + 2]) for i in range(3)]
    items = lapi.walk("/api/v1/webhooks", limit=2)
    assert [w["id"] for w in items] == [w["id"] for w in made]
    assert all("secret" not in w for w in items)
    got = lapi.ok("GET", "/api/v1/webhooks/%s" % made[1]["id"], 200).json()
    assert got == made[1]
    assert got["events"] == EVENTS[1:3]
    lapi.ok("DELETE", "/api/v1/webhooks/%s" % made[1]["id"], 204)
    assert_error(lapi.get("/api/v1/webhooks/%s" % made[1]["id"]), 404, "not_found")
    assert_error(lapi.delete("/api/v1/webhooks/%s" % made[1]["id"]), 404, "not_found")
    assert_error(lapi.get("/api/v1/webhooks/%s/deliveries" % made[1]["id"]), 404, "not_found")
    assert [w["id"] for w in lapi.walk("/api/v1/webhooks")] == [made[0]["id"], made[2]["id"]]
    audit = lapi.walk("/api/v1/audit", params={"target": made[1]["id"]})
    actions = sorted(x["action"] for x in audit)
    assert actions == ["webhook.create", "webhook.delete"], audit
    assert all(SECRET not in json.dumps(x) for x in audit)


SSRF_URLS = [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://localhost/hook", "loopback"),
    ("https://[::1]/hook", "loopback"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback"),
    ("https://2130706433/hook", "loopback"),
    ("https://10.0.0.1/hook", "private"),
    ("https://192.168.1.20/hook", "private"),
    ("https://172.16.5.4/hook", "private"),
    ("https://[fd00::1]/hook", "private"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://0.0.0.0/hook", "unspecified"),
    ("https://100.64.1.1/hook", "CGNAT"),
    ("https://224.0.0.1/hook", "multicast"),
    ("https://255.255.255.255/hook", "broadcast"),
    ("http://127.0.0.1:8080/hook", "https"),
    ("http://hooks.example.com/hook", "https"),
    ("https://user:pw@hooks.example.com/hook", "credentials"),
    ("file:///etc/passwd", "https"),
    ("https://no-such-host.invalid/hook", "does not resolve"),
]


@pytest.mark.parametrize("url,why", SSRF_URLS)
def test_destinations_refused_at_create(api, url, why):
    r = api.post("/api/v1/webhooks", {"url": url, "events": ["schema.changed"], "secret": SECRET})
    assert_error(r, 400, "invalid_request", message_contains=why)
    assert api.walk("/api/v1/webhooks") == []


def test_loopback_allowed_only_where_configured(api, lapi):
    """The same URL: refused by the default mf-api, accepted by the one that allows loopback."""
    url = "https://localhost:9/hook"
    assert_error(api.post("/api/v1/webhooks", {"url": url, "events": ["quota.warning"], "secret": SECRET}),
                 400, message_contains="loopback")
    assert create_webhook(lapi, url, ["quota.warning"])["url"] == url
    # loopback allowance does not open private or metadata addresses
    for bad in ("http://10.0.0.1/h", "http://169.254.169.254/"):
        assert_error(lapi.post("/api/v1/webhooks", {"url": bad, "events": ["quota.warning"], "secret": SECRET}),
                     400)


BAD_BODIES = [
    ({"events": ["schema.changed"], "secret": SECRET}, "url"),
    ({"url": 5, "events": ["schema.changed"], "secret": SECRET}, "url"),
    ({"url": "https://example.com/h", "secret": SECRET}, "events"),
    ({"url": "https://example.com/h", "events": [], "secret": SECRET}, "events"),
    ({"url": "https://example.com/h", "events": "schema.changed", "secret": SECRET}, "events"),
    ({"url": "https://example.com/h", "events": ["schema.breaking"], "secret": SECRET}, "events[0]"),
    ({"url": "https://example.com/h", "events": [7], "secret": SECRET}, "events[0]"),
    ({"url": "https://example.com/h", "events": ["schema.changed", "schema.changed"], "secret": SECRET}, "repeats"),
    ({"url": "https://example.com/h", "events": EVENTS + ["quota.warning"], "secret": SECRET}, "events"),
    ({"url": "https://example.com/h", "events": ["schema.changed"]}, "secret"),
    ({"url": "https://example.com/h", "events": ["schema.changed"], "secret": "short"}, "secret"),
    ({"url": "https://example.com/h", "events": ["schema.changed"], "secret": "x" * 300}, "secret"),
    ({"url": "https://example.com/h", "events": ["schema.changed"], "secret": SECRET, "format": "xml"}, "format"),
    ({"url": "https://example.com/h", "events": ["schema.changed"], "secret": SECRET, "extra": 1}, "extra"),
    ({"url": "https://example.com/h", "events": ["schema.changed"], "secret": SECRET,
      "description": "d" * 501}, "description"),
    ({"url": "https://example.com/" + "a" * 2100, "events": ["schema.changed"], "secret": SECRET}, "url"),
]


@pytest.mark.parametrize("body,names", BAD_BODIES)
def test_bad_bodies(api, body, names):
    assert_error(api.post("/api/v1/webhooks", body), 400, "invalid_request", message_contains=names)
    assert api.walk("/api/v1/webhooks") == []


def test_bad_requests(api, tenant):
    assert_error(api.req("POST", "/api/v1/webhooks", data=b'{"url": '), 400, "invalid_json")
    assert_error(api.req("POST", "/api/v1/webhooks", data=b'[1]'), 400)
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        assert_error(api.get("/api/v1/webhooks/" + bad), 404, "not_found")
        assert_error(api.delete("/api/v1/webhooks/" + bad), 404, "not_found")
        assert_error(api.get("/api/v1/webhooks/%s/deliveries" % bad), 404, "not_found")
    for params in ({"limit": "0"}, {"limit": "x"}, {"cursor": "%%%"}):
        assert_error(api.get("/api/v1/webhooks", params=params), 400)
    assert api.walk("/api/v1/webhooks") == []


def test_roles_and_isolation(lapi, tenant, tenant_factory, loopback_api_base):
    hook = create_webhook(lapi, "http://127.0.0.1:9/h", ["quota.warning"])
    path = "/api/v1/webhooks/%s" % hook["id"]
    assert_error(lapi.get(path + "/deliveries", params={"status": "lost"}), 400, message_contains="status")
    editor = Api(loopback_api_base, tenant.make_key("editor")["key"])
    for method, p in (("GET", "/api/v1/webhooks"), ("GET", path), ("DELETE", path), ("GET", path + "/deliveries")):
        assert_error(editor.req(method, p), 403, "forbidden")
    assert_error(editor.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["quota.warning"],
                                                  "secret": SECRET}), 403)
    other = Api(loopback_api_base, tenant_factory().key)
    assert other.walk("/api/v1/webhooks") == []
    assert_error(other.get(path), 404, "not_found")
    assert_error(other.get(path + "/deliveries"), 404, "not_found")
    assert_error(other.delete(path), 404, "not_found")
    assert lapi.ok("GET", path, 200).json()["id"] == hook["id"]
