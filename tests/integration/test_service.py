"""Service routes, process behaviour, configuration docs."""

import json
import os
import re
import subprocess
import threading
import time

import pytest
import requests

from conftest import CORS_ORIGIN, REPO, Api, assert_error, free_port, psql, run_mf


def test_healthz(anon):
    r = anon.get("/healthz")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"status": "ok"}


def test_readyz(anon):
    r = anon.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def _counter_total(text):
    """Sum every sample of every counter whose name mentions requests."""
    counters = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) counter\s*$", line)
        if m and "request" in m.group(1):
            counters.add(m.group(1))
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        assert m, "not Prometheus text: %r" % line
        name = m.group(1)
        if name in counters or (name.endswith("_total") and name[:-6] in counters):
            total += float(m.group(3))
    return counters, total


def test_metrics(anon, api):
    r = anon.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    counters, before = _counter_total(r.text)
    assert counters, "no requests counter in /metrics:\n" + r.text[:2000]
    for _ in range(5):
        api.get("/api/v1/datasets")
    for _ in range(3):
        anon.get("/api/v1/datasets")  # 401s count too
    _, after = _counter_total(anon.get("/metrics").text)
    assert after - before >= 8, (before, after)


def test_metrics_by_route_and_status(anon, api):
    api.get("/api/v1/datasets/definitely-missing")
    text = anon.get("/metrics").text
    assert re.search(r'status="?404"?', text) or re.search(r'code="?404"?', text), text[:3000]


def test_service_routes_need_no_auth_and_ignore_bad_auth(anon):
    for path in ("/healthz", "/readyz", "/metrics"):
        r = anon.get(path, headers={"Authorization": "Bearer garbage"})
        assert r.status_code == 200, path


def test_cors_preflight(anon):
    r = anon.req("OPTIONS", "/api/v1/datasets", headers={
        "Origin": CORS_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })
    assert r.status_code in (200, 204), r.text
    assert r.headers.get("Access-Control-Allow-Origin") == CORS_ORIGIN
    methods = r.headers.get("Access-Control-Allow-Methods", "").upper()
    assert "POST" in methods
    allowed = r.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "authorization" in allowed and "content-type" in allowed
    # a real request from that origin carries the header too
    r = anon.get("/api/v1/datasets", headers={"Origin": CORS_ORIGIN})
    assert r.status_code == 401
    assert r.headers.get("Access-Control-Allow-Origin") == CORS_ORIGIN


def test_cors_other_origin(anon, api):
    r = anon.req("OPTIONS", "/api/v1/datasets", headers={
        "Origin": "https://evil.example.test",
        "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "authorization",
    })
    assert r.headers.get("Access-Control-Allow-Origin") not in ("https://evil.example.test", "*")
    r = api.get("/api/v1/datasets", headers={"Origin": "https://evil.example.test"})
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") not in ("https://evil.example.test", "*")


def test_sigterm_graceful(spawn_server, tenant_factory):
    srv = spawn_server("sigterm")
    t = tenant_factory()
    api = Api(srv.base, t.key)
    assert api.post("/api/v1/datasets", {"name": "before_stop"}).status_code == 201
    assert api.get("/api/v1/datasets").status_code == 200
    start = time.monotonic()
    rc = srv.stop(timeout=10)
    elapsed = time.monotonic() - start
    assert rc == 0, "exit status %r after SIGTERM\n%s" % (rc, srv.log_tail())
    assert elapsed < 5.0, "took %.1fs to stop" % elapsed
    assert srv.sanitizer_report() is None, srv.sanitizer_report()
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.base + "/healthz", timeout=2)
    # the data it wrote is committed
    main = Api(t.base, t.key)
    assert main.get_dataset("before_stop").status_code == 200


def test_sigterm_with_idle_keepalive_connection(spawn_server):
    srv = spawn_server("sigterm-keepalive")
    s = requests.Session()
    assert s.get(srv.base + "/healthz").status_code == 200  # connection stays open
    start = time.monotonic()
    rc = srv.stop(timeout=15)
    assert rc == 0, "exit status %r\n%s" % (rc, srv.log_tail())
    assert time.monotonic() - start < 5.0
    s.close()


def test_logs_are_json_lines(server, api):
    api.get("/api/v1/datasets", headers={"X-Request-ID": "log-line-check"})
    api.get("/api/v1/datasets/missing", headers={"X-Request-ID": "log-line-check-2"})
    lines = [l for l in server.log_text().splitlines() if l.strip()]
    assert lines, "the server logged nothing"
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            raise AssertionError("log line is not JSON: %r" % line[:300])
        assert isinstance(doc, dict), line[:300]
    secret = api.key.rsplit("_", 1)[1]
    assert secret not in server.log_text(), "an API key secret is in the log"


def test_no_secrets_in_log(server, tenant):
    tenant.make_key("viewer")
    tenant.api.get("/api/v1/datasets")
    secret = tenant.key.rsplit("_", 1)[1]
    assert secret not in server.log_text()


@pytest.mark.parametrize("env", [{"MF_HTTP_PORT": "notaport"}, {"MF_HTTP_PORT": "70000"},
                                 {"MF_HTTP_THREADS": "0"}, {"MF_HTTP_MAX_BODY": "-5"},
                                 {"MF_LOG_LEVEL": "loud"}, {"MF_KEY_CACHE_TTL": "soon"}])
def test_bad_config_refused(migrated, env):
    full = dict(migrated)
    full["MF_HTTP_PORT"] = str(free_port())
    full.update(env)
    try:
        rc, out, err = run_mf(["serve"], full, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        raise AssertionError("mf-api serve started with %r" % env)
    assert rc != 0, env
    key = list(env)[0]
    assert key in err, "error for bad %s does not name it: %s" % (key, err[-500:])


# ---------------------------------------------------------------- pool queue full -> 503


def test_pg_queue_full_gives_503(spawn_server, tenant_factory, infra):
    srv = spawn_server("queue", {"MF_HTTP_THREADS": "1", "MF_PG_POOL_SIZE": "1",
                                 "MF_PG_QUEUE_MAX": "1", "MF_KEY_CACHE_TTL": "60"})
    t = tenant_factory()
    api = Api(srv.base, t.key)
    api.ok("POST", "/api/v1/datasets", 201, json_body={"name": "q"})
    assert api.get("/api/v1/datasets").status_code == 200  # key now cached
    # Hold an exclusive lock on datasets from a superuser session.
    locker = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
                               infra["MF_PG_SUPER_URL"]], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = {}
    threads = []
    try:
        locker.stdin.write(b"BEGIN; LOCK TABLE datasets IN ACCESS EXCLUSIVE MODE;\n"
                           b"SELECT 'locked';\n")
        locker.stdin.flush()
        assert locker.stdout.readline().strip() == b"locked"

        def call(i):
            try:
                results[i] = Api(srv.base, t.key).get("/api/v1/datasets", timeout=60)
            except Exception as e:  # noqa: BLE001
                results[i] = e

        th = threading.Thread(target=call, args=(0,))
        th.start()
        threads.append(th)
        # wait until the first request is blocked on the lock inside Postgres
        deadline = time.monotonic() + 20
        while True:
            _, out, _ = psql(infra["MF_PG_SUPER_URL"],
                             "SELECT count(*) FROM pg_stat_activity WHERE usename = 'mf_app' "
                             "AND application_name = 'mf-api' AND wait_event_type = 'Lock'")
            if out == ["1"]:
                break
            assert time.monotonic() < deadline, "request never blocked on the lock"
            time.sleep(0.05)
        for i in range(1, 6):
            th = threading.Thread(target=call, args=(i,))
            th.start()
            threads.append(th)
        # four of the five must be refused at once, while the lock is still held
        deadline = time.monotonic() + 20
        while sum(1 for r in list(results.values()) if getattr(r, "status_code", 0) == 503) < 4:
            assert time.monotonic() < deadline, {k: getattr(v, "status_code", v)
                                                 for k, v in results.items()}
            time.sleep(0.05)
    finally:
        locker.stdin.write(b"COMMIT;\n")
        locker.stdin.close()
        locker.wait(timeout=30)
        for th in threads:
            th.join(timeout=60)
    statuses = sorted(getattr(r, "status_code", repr(r)) for r in results.values())
    assert statuses == [200, 200, 503, 503, 503, 503], statuses
    for r in results.values():
        if r.status_code == 503:
            assert_error(r, 503, "unavailable")
            assert r.headers.get("Retry-After"), r.headers
    srv.stop_and_check()


# ---------------------------------------------------------------- commands

LAYOUT_KEYS = ["MF_PG_URL", "MF_HTTP_HOST", "MF_HTTP_PORT", "MF_HTTP_THREADS", "MF_HTTP_MAX_BODY",
               "MF_PG_POOL_SIZE", "MF_PG_QUEUE_MAX", "MF_CORS_ORIGIN", "MF_KEY_ENV",
               "MF_KEY_CACHE_TTL", "MF_LOG_LEVEL", "MF_SHUTDOWN_TIMEOUT", "MF_PG_ADMIN_URL",
               "MF_MIGRATIONS_DIR"]


def config_doc_keys():
    rc, out, err = run_mf(["config-doc"], {})
    keys = sorted(set(re.findall(r"\bMF_[A-Z0-9_]+\b", out)))
    return out, keys


def test_config_doc_lists_every_key():
    out, keys = config_doc_keys()
    assert "|" in out, "config-doc is not a markdown table:\n" + out[:500]
    missing = [k for k in LAYOUT_KEYS if k not in keys]
    assert missing == [], "config-doc lacks %s" % missing


def test_config_doc_keys_are_documented():
    _, keys = config_doc_keys()
    path = os.path.join(REPO, "docs", "configuration.md")
    assert os.path.exists(path), "docs/configuration.md is missing"
    with open(path, encoding="utf-8") as fh:
        doc = fh.read()
    documented = set(re.findall(r"\bMF_[A-Z0-9_]+\b", doc))
    missing = [k for k in keys if k not in documented]
    assert missing == [], "keys printed by config-doc but absent from docs/configuration.md: %s" \
        % missing


def _norm_route(line):
    parts = line.split()
    method, path = parts[0].upper(), parts[1]
    return method, re.sub(r"\{[^}]*\}", "{}", path)


API_ROUTES = [
    "GET /healthz", "GET /readyz", "GET /metrics",
    "POST /api/v1/admin/tenants", "GET /api/v1/admin/tenants", "GET /api/v1/admin/tenants/{id}",
    "POST /api/v1/api-keys", "GET /api/v1/api-keys", "DELETE /api/v1/api-keys/{id}",
    "POST /api/v1/datasets", "GET /api/v1/datasets", "GET /api/v1/datasets/{name}",
    "PUT /api/v1/datasets/{name}", "DELETE /api/v1/datasets/{name}",
    "GET /api/v1/datasets/{name}/versions", "GET /api/v1/datasets/{name}/versions/{v}",
    "GET /api/v1/datasets/{name}/schema/diff",
    "POST /api/v1/datasets/{name}/tags", "DELETE /api/v1/datasets/{name}/tags/{tag}",
    "POST /api/v1/datasets/{name}/fields/{field}/tags",
    "DELETE /api/v1/datasets/{name}/fields/{field}/tags/{tag}",
    "GET /api/v1/tags",
    "POST /api/v1/domains", "GET /api/v1/domains", "GET /api/v1/domains/{name}",
    "DELETE /api/v1/domains/{name}",
    "POST /api/v1/owners", "GET /api/v1/owners", "GET /api/v1/owners/{name}",
    "DELETE /api/v1/owners/{name}",
    "POST /api/v1/glossary/terms", "GET /api/v1/glossary/terms",
    "GET /api/v1/glossary/terms/{name}", "PUT /api/v1/glossary/terms/{name}",
    "DELETE /api/v1/glossary/terms/{name}", "POST /api/v1/glossary/terms/{name}/links",
    "DELETE /api/v1/glossary/terms/{name}/links",
    "POST /api/v1/lineage/edges", "GET /api/v1/lineage/edges", "DELETE /api/v1/lineage/edges/{id}",
    "GET /api/v1/stats", "GET /api/v1/audit",
]


def test_routes_command_lists_documented_routes():
    rc, out, err = run_mf(["routes"], {})
    lines = [l.split() for l in out.splitlines() if l.strip()]
    # METHOD /path role: the route's minimum role (test_rbac.py checks every caller against it)
    bad = [l for l in lines if len(l) != 3 or l[2] not in ("public", "viewer", "editor", "admin", "billing_admin", "platform_admin")]
    assert bad == [], "mf-api routes lines not 'METHOD /path role': %s" % bad
    printed = {_norm_route(l) for l in out.splitlines() if l.strip()}
    missing = [r for r in API_ROUTES if _norm_route(r) not in printed]
    assert missing == [], "mf-api routes lacks: %s" % missing


def test_unknown_command_fails():
    rc, out, err = run_mf(["no-such-command"], {}, check=False)
    assert rc != 0


def test_database_down_is_503(spawn_server, tenant):
    dead = "postgresql://mf_app@127.0.0.1:%d/metafuse" % free_port()
    srv = spawn_server("nodb", {"MF_PG_URL": dead, "MF_PG_RECONNECT_MAX_MS": "100"},
                       ready_path="/healthz")
    anon = Api(srv.base)
    assert anon.get("/healthz").status_code == 200
    r = anon.get("/readyz")
    assert r.status_code == 503, r.text
    api = Api(srv.base, tenant.key)
    for method, path, body in (("GET", "/api/v1/datasets", None),
                               ("POST", "/api/v1/datasets", {"name": "x"})):
        r = api.req(method, path, json_body=body) if body else api.req(method, path)
        assert_error(r, 503, "unavailable")
        assert r.headers.get("Retry-After"), r.headers
    srv.stop_and_check()


def test_sigterm_drains_in_flight_request(spawn_server, tenant_factory, infra):
    srv = spawn_server("drain", {"MF_SHUTDOWN_TIMEOUT": "10"})
    t = tenant_factory()
    api = Api(srv.base, t.key)
    api.ok("POST", "/api/v1/datasets", 201, json_body={"name": "d"})
    locker = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
                               infra["MF_PG_SUPER_URL"]], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    result = {}
    th = None
    try:
        locker.stdin.write(b"BEGIN; LOCK TABLE datasets IN ACCESS EXCLUSIVE MODE;\n"
                           b"SELECT 'locked';\n")
        locker.stdin.flush()
        assert locker.stdout.readline().strip() == b"locked"

        def call():
            try:
                result["r"] = Api(srv.base, t.key).get("/api/v1/datasets", timeout=30)
            except Exception as e:  # noqa: BLE001
                result["r"] = e

        th = threading.Thread(target=call)
        th.start()
        deadline = time.monotonic() + 20
        while True:
            _, out, _ = psql(infra["MF_PG_SUPER_URL"],
                             "SELECT count(*) FROM pg_stat_activity WHERE usename = 'mf_app' "
                             "AND application_name = 'mf-api' AND wait_event_type = 'Lock'")
            if out == ["1"]:
                break
            assert time.monotonic() < deadline, "request never blocked on the lock"
            time.sleep(0.05)
        srv.proc.send_signal(15)
        # the process must not exit while the request is in flight
        try:
            srv.proc.wait(timeout=0.5)
            raise AssertionError("mf-api exited with a request in flight (rc %r)"
                                 % srv.proc.returncode)
        except subprocess.TimeoutExpired:
            pass
    finally:
        locker.stdin.write(b"COMMIT;\n")
        locker.stdin.close()
        locker.wait(timeout=30)
        if th is not None:
            th.join(timeout=30)
    r = result.get("r")
    assert getattr(r, "status_code", None) == 200, r
    assert r.json()["items"][0]["name"] == "d"
    srv.stop_and_check()


def test_slow_client_does_not_block_others(server, api):
    import socket
    host, port = "127.0.0.1", server.port
    slow = []
    try:
        for _ in range(20):
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"POST /api/v1/datasets HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"na")
            slow.append(s)
        idle = [socket.create_connection((host, port), timeout=5) for _ in range(50)]
        slow.extend(idle)
        start = time.monotonic()
        for _ in range(10):
            assert api.get("/api/v1/datasets").status_code == 200
        assert time.monotonic() - start < 5.0
    finally:
        for s in slow:
            s.close()
    assert api.get("/api/v1/stats").json()["datasets"] == 0


def test_chunked_request_body(api):
    def gen():
        yield b'{"name": "chun'
        yield b'ked", "description": "'
        yield b"x" * 1000
        yield b'"}'

    r = api.s.post(api.base + "/api/v1/datasets", data=gen(),
                   headers={"Authorization": "Bearer " + api.key,
                            "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert api.get_dataset("chunked").json()["description"] == "x" * 1000

    def big():
        yield b'{"name": "too_big", "description": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    try:
        r = api.s.post(api.base + "/api/v1/datasets", data=big(),
                       headers={"Authorization": "Bearer " + api.key,
                                "Content-Type": "application/json"})
        assert_error(r, 413, "payload_too_large")
    except requests.ConnectionError:
        pass  # the server may close the connection once it has answered 413
    assert api.get_dataset("too_big").status_code == 404
