"""Integration test fixtures: a throwaway Postgres + Redis, the real mf-api.

Session scope:
  * ``infra``: ``scripts/stack.sh infra-up <tmpdir>`` starts Postgres and
    Redis on free loopback ports and writes ``<tmpdir>/infra.env``;
    ``infra-down <tmpdir>`` stops them at the end.
  * ``platform_key``: ``mf-api migrate`` then ``mf-api create-platform-key``.
  * ``server``: one ``mf-api serve`` on a free port shared by the session.
  * ``ingest``: one ``mf-ingest serve`` on a free port (same Postgres and
    Redis), and ``ingest_worker``: one ``mf-ingest work`` reading the default
    stream with a short claim time; ``spawn_ingest`` starts more of either
    with their own configuration (another stream, another Redis, ...).

Every test gets fresh tenants through ``new_tenant`` so that tests never see
each other's data. The logs of running servers (mf-api, mf-ingest serve and
work) are attached to the report of a failed test, and a test fails when one
of them printed a sanitizer report while it ran. Stopping a process checks
that SIGTERM gives exit status 0.

Run: ``/usr/bin/python3 -m pytest tests/integration`` from the repository root
(Debian's interpreter, which has pytest and requests).

Environment knobs: ``MF_BIN_DIR`` (default ``build/bin``, relative to the
repository root; ``build-san/bin`` for the sanitizer build) and
``MF_TEST_KEEP_TMP=1`` to keep the temporary directory for debugging.
"""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import pytest
import requests

from logfile import StoppableProcess

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.path.join(REPO, os.environ.get("MF_BIN_DIR", "build/bin"))
MF_API = os.path.join(BIN_DIR, "mf-api")
MF_INGEST = os.path.join(BIN_DIR, "mf-ingest")
MF_ANALYTICS = os.path.join(BIN_DIR, "mf-analytics")

SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
)

# Servers currently running, for log dumps and sanitizer checks.
RUNNING_SERVERS = []
# Every start of a server, in order (a test that kills or stops a process
# still gets its log and its sanitizer check).
STARTED_SERVERS = []

RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
KEY_RE = re.compile(r"^mf_([a-z0-9]+)_([0-9a-f]{12})_([0-9a-f]{64})$")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# --------------------------------------------------------------------------
# small helpers


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def q(name):
    """Quote one path segment."""
    return urllib.parse.quote(name, safe="")


def unique(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def parse_env_file(path):
    env = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = shlex.split(line)
            if parts and parts[0] == "export":
                parts = parts[1:]
            for part in parts:
                if "=" in part:
                    k, v = part.split("=", 1)
                    env[k] = v
    return env


def run_mf(args, env, timeout=120, check=True):
    full_env = dict(os.environ)
    full_env.update(env)
    proc = subprocess.run(
        [MF_API] + list(args),
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    for pat in SANITIZER_PATTERNS:
        if pat in err:
            raise AssertionError("mf-api %s printed a sanitizer report:\n%s" % (args, err))
    if check and proc.returncode != 0:
        raise AssertionError(
            "mf-api %s exited %d\nstdout:\n%s\nstderr:\n%s" % (args, proc.returncode, out, err)
        )
    return proc.returncode, out, err


def psql(url, *statements, check=True):
    """Run statements in one psql session (one ``-c`` each).

    Returns (returncode, stdout lines, stderr). Output is unaligned, tuples
    only, so a ``SELECT count(*)`` prints just the number."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url]
    for st in statements:
        cmd += ["-c", st]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise AssertionError("psql failed (%d): %s\n%s" % (proc.returncode, statements, err))
    return proc.returncode, [l for l in out.splitlines() if l != ""], err


def assert_error(resp, status, code=None, message_contains=None):
    """Check an error answer: status, envelope, request id echo. Returns body."""
    assert resp.status_code == status, "expected %d, got %d: %s" % (
        status,
        resp.status_code,
        resp.text[:500],
    )
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), "error Content-Type %r" % ctype
    body = resp.json()
    assert isinstance(body, dict) and set(body.keys()) == {"error"}, body
    err = body["error"]
    assert isinstance(err, dict), body
    assert set(err.keys()) >= {"code", "message", "request_id"}, body
    assert isinstance(err["code"], str) and isinstance(err["message"], str), body
    assert err["message"], body
    if code is not None:
        if isinstance(code, (tuple, list, set)):
            assert err["code"] in code, body
        else:
            assert err["code"] == code, body
    rid = resp.headers.get("X-Request-ID")
    assert rid, "no X-Request-ID header on error response"
    assert err["request_id"] == rid, (err["request_id"], rid)
    if message_contains is not None:
        assert message_contains in err["message"], "message %r lacks %r" % (
            err["message"],
            message_contains,
        )
    return body


def assert_4xx_envelope(resp):
    assert 400 <= resp.status_code < 500, "expected 4xx, got %d: %s" % (
        resp.status_code,
        resp.text[:300],
    )
    return assert_error(resp, resp.status_code)


def poll_status(client, method, path, want, seconds, **kw):
    """Repeat a request until it answers `want` or the deadline passes; return the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        r = client.req(method, path, **kw)
        if r.status_code == want or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def assert_ts(value):
    assert isinstance(value, str) and RFC3339_RE.match(value), "not RFC 3339 UTC: %r" % (value,)


def assert_list_page(body):
    assert isinstance(body, dict), body
    assert set(body.keys()) >= {"items", "next_cursor"}, body
    assert isinstance(body["items"], list), body
    assert body["next_cursor"] is None or isinstance(body["next_cursor"], str), body
    return body


# --------------------------------------------------------------------------
# HTTP client

_DEFAULT = object()


class Api:
    """A thin client bound to a base URL and (optionally) an API key."""

    def __init__(self, base, key=None, headers=None):
        self.base = base.rstrip("/")
        self.key = key
        self.headers = dict(headers or {})  # sent with every request
        self.s = requests.Session()

    def with_key(self, key):
        return Api(self.base, key)

    def url(self, path):
        return self.base + path

    def req(self, method, path, json_body=_DEFAULT, data=None, headers=None, params=None,
            key=_DEFAULT, timeout=15):
        h = dict(self.headers)
        k = self.key if key is _DEFAULT else key
        if k is not None:
            h["Authorization"] = "Bearer " + k
        if json_body is not _DEFAULT:
            data = json.dumps(json_body).encode("utf-8")
            h["Content-Type"] = "application/json"
        elif data is not None and not (headers and "Content-Type" in headers):
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        return self.s.request(method, self.url(path), data=data, headers=h, params=params,
                              timeout=timeout)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=_DEFAULT, **kw):
        return self.req("POST", path, json_body=body, **kw)

    def put(self, path, body=_DEFAULT, **kw):
        return self.req("PUT", path, json_body=body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    # convenience -----------------------------------------------------
    def ok(self, method, path, status, **kw):
        r = self.req(method, path, **kw)
        assert r.status_code == status, "%s %s: expected %d, got %d: %s" % (
            method, path, status, r.status_code, r.text[:800])
        return r

    def walk(self, path, limit=None, params=None, max_pages=1000):
        """Follow next_cursor to the end; check there are no duplicate pages."""
        items = []
        p = dict(params or {})
        if limit is not None:
            p["limit"] = str(limit)
        seen_cursors = set()
        for _ in range(max_pages):
            r = self.get(path, params=p)
            assert r.status_code == 200, "%s: %d %s" % (path, r.status_code, r.text[:500])
            body = assert_list_page(r.json())
            if limit is not None:
                assert len(body["items"]) <= limit, (len(body["items"]), limit)
            items.extend(body["items"])
            cur = body["next_cursor"]
            if cur is None:
                return items
            assert cur not in seen_cursors, "cursor repeated: %r" % cur
            seen_cursors.add(cur)
            if limit is not None:
                assert len(body["items"]) == limit, "short page before the end"
            p["cursor"] = cur
        raise AssertionError("pagination did not end after %d pages" % max_pages)

    # catalog helpers -------------------------------------------------
    def create_dataset(self, name, **fields):
        body = {"name": name}
        body.update(fields)
        return self.ok("POST", "/api/v1/datasets", 201, json_body=body).json()

    def get_dataset(self, name, namespace=None):
        params = {"namespace": namespace} if namespace else None
        return self.get("/api/v1/datasets/" + q(name), params=params)


# --------------------------------------------------------------------------
# server process


class Server(StoppableProcess):
    """One service process: ``mf-api serve`` by default; ``binary`` and
    ``command`` run another (``mf-ingest serve``, ``mf-ingest work``).

    ``http=False`` is a process without a listener (a worker): it counts as
    started once ``ready_log`` appears in its log (or at once without one).
    ``start`` may be called again after ``kill``/``stop`` (same port, same
    log, appended)."""

    def __init__(self, infra_env, tmpdir, name="main", extra_env=None, binary=None,
                 command=("serve",), http=True, ready_log=None, port=None):
        self.name = name
        self.binary = binary or MF_API
        self.prog = os.path.basename(self.binary)
        self.command = list(command)
        self.label = " ".join([self.prog] + self.command)
        self.http = http
        self.ready_log = ready_log
        self.port = port or free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        if self.binary == MF_API and self.command == ["serve"]:
            self.log_path = os.path.join(tmpdir, "mf-api-%s-%d.log" % (name, self.port))
        else:
            self.log_path = os.path.join(tmpdir, "%s-%s-%s-%d.log" % (
                self.prog, "-".join(self.command), name, self.port))
        env = dict(os.environ)
        env.update(infra_env)
        env.update({
            "MF_HTTP_HOST": "127.0.0.1",
            "MF_HTTP_PORT": str(self.port),
            "MF_PG_URL": infra_env["MF_PG_URL"],
            "MF_LOG_LEVEL": "info",
            "MF_KEY_CACHE_TTL": "1",
            # The suite fails authentication on purpose, all from 127.0.0.1;
            # the brute-force test starts its own server with a low limit.
            "MF_AUTH_FAIL_LIMIT": "100000",
        })
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if extra_env:
            env.update(extra_env)
        self.env = env
        self.proc = None
        self.stopped_rc = None

    def start(self, timeout=30.0, ready_path="/readyz"):
        since = self.log_size()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary] + self.command,
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        self.stopped_rc = None
        RUNNING_SERVERS.append(self)
        STARTED_SERVERS.append(self)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                RUNNING_SERVERS.remove(self)
                raise AssertionError("%s exited with %d at start:\n%s" % (
                    self.label, self.proc.returncode, self.log_tail()))
            if not self.http:
                if self.ready_log is None or self.ready_log in self.log_text(since):
                    return self
                last = "%r not logged yet" % self.ready_log
                time.sleep(0.05)
                continue
            try:
                r = requests.get(self.base + ready_path, timeout=2)
                if r.status_code == 200:
                    return self
                last = "%d %s" % (r.status_code, r.text[:200])
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        self.kill()
        raise AssertionError("%s not ready after %.0fs (%s):\n%s" % (
            self.label, timeout, last, self.log_tail()))

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def sanitizer_report(self, since=0):
        text = self.log_text(since)
        for pat in SANITIZER_PATTERNS:
            i = text.find(pat)
            if i >= 0:
                return text[max(0, i - 200): i + 6000]
        return None

    def _finish(self):
        if self in RUNNING_SERVERS:
            RUNNING_SERVERS.remove(self)
        try:
            self._log.close()
        except Exception:
            pass
        self.proc_done = True

    def stop_and_check(self):
        rc = self.stop()
        report = self.sanitizer_report()
        assert report is None, "%s (%s) printed a sanitizer report:\n%s" % (
            self.label, self.name, report)
        assert rc == 0, "%s (%s) exit status after SIGTERM: %r\n%s" % (
            self.label, self.name, rc, self.log_tail())


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def tmp_root():
    d = tempfile.mkdtemp(prefix="mf-it-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    if os.environ.get("MF_TEST_KEEP_TMP") != "1":
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def infra(tmp_root):
    if not os.access(MF_API, os.X_OK):
        pytest.exit("%s not built (run make)" % MF_API, returncode=2)
    d = os.path.join(tmp_root, "infra")
    stack = os.path.join(REPO, "scripts", "stack.sh")
    up = subprocess.run(["bash", stack, "infra-up", d], cwd=REPO,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    try:
        if up.returncode != 0:
            raise AssertionError("stack.sh infra-up failed (%d):\n%s" % (
                up.returncode, up.stdout.decode("utf-8", "replace")))
        env = parse_env_file(os.path.join(d, "infra.env"))
        for k in ("MF_PG_PORT", "MF_REDIS_PORT", "MF_PG_ADMIN_URL", "MF_PG_URL",
                  "MF_PG_SUPER_URL", "MF_REDIS_URL"):
            assert k in env, "infra.env lacks %s: %r" % (k, env)
        env["MF_MIGRATIONS_DIR"] = os.path.join(REPO, "migrations")
        yield env
    finally:
        subprocess.run(["bash", stack, "infra-down", d], cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)


@pytest.fixture(scope="session")
def migrated(infra):
    run_mf(["migrate"], infra)
    return infra


@pytest.fixture(scope="session")
def platform_key(migrated):
    _, out, _ = run_mf(["create-platform-key"], migrated)
    lines = [l.strip() for l in out.splitlines() if l.strip()]
    assert len(lines) == 1, "create-platform-key printed %r" % out
    key = lines[0]
    assert KEY_RE.match(key), "platform key %r does not look like mf_<env>_<prefix>_<secret>" % key
    return key


CORS_ORIGIN = "https://app.example.test"


@pytest.fixture(scope="session")
def billing_key(migrated):
    """A platform key with the billing_admin role (reads tenants, nothing else of the platform's)."""
    _, out, _ = run_mf(["create-platform-key", "billing_admin"], migrated)
    key = out.strip().splitlines()[-1]
    assert KEY_RE.match(key), key
    return key


@pytest.fixture(scope="session")
def server(migrated, platform_key, tmp_root):
    srv = Server(migrated, tmp_root, "main", {"MF_CORS_ORIGIN": CORS_ORIGIN})
    srv.start()
    yield srv
    srv.stop_and_check()


# The spawn_* factories are per test: what a test starts stops when it ends, so
# the session's Postgres never runs out of connections to leftover processes.
@pytest.fixture
def spawn_server(migrated, platform_key, tmp_root):
    """Factory for extra servers with special configuration (stopped at the end of the test)."""
    started = []

    def spawn(name, extra_env=None, start=True, ready_path="/readyz"):
        srv = Server(migrated, tmp_root, name, extra_env)
        started.append(srv)
        if start:
            srv.start(ready_path=ready_path)
        return srv

    yield spawn
    for srv in started:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop()


@pytest.fixture(scope="session")
def base_url(server):
    return server.base


@pytest.fixture(scope="session")
def admin_api(base_url, platform_key):
    """Client with the platform admin key."""
    return Api(base_url, platform_key)


@pytest.fixture(scope="session")
def anon(base_url):
    return Api(base_url, None)


class Tenant:
    def __init__(self, base, info, key):
        self.base = base
        self.id = info["id"]
        self.name = info["name"]
        self.info = info
        self.key = key
        self.api = Api(base, key)  # the tenant's first admin key

    def make_key(self, role, name=None, **extra):
        body = {"name": name or unique("k-" + role), "role": role}
        body.update(extra)
        r = self.api.ok("POST", "/api/v1/api-keys", 201, json_body=body)
        return r.json()

    def client(self, role):
        return Api(self.base, self.make_key(role)["key"])

    def ingest(self, ingest_server, role=None):
        """An IngestClient of this tenant at an mf-ingest serve (admin key, or a new key of role)."""
        key = self.key if role is None else self.make_key(role)["key"]
        return IngestClient(ingest_server.base, key)


def lift_limits(admin, tenant_id):
    """The suite calls faster, and loads more, than a plan allows: lift a test tenant's
    limits (test_quotas.py and test_billing.py test them)."""
    admin.ok("PUT", "/api/v1/admin/tenants/" + tenant_id, 200, json_body={"quotas": {
        "requests_per_second": 100000, "key_requests_per_second": 100000, "max_datasets": 100000000,
        "max_seats": 100000, "api_calls_per_month": 10 ** 12, "emit_events_per_month": 10 ** 12}})


@pytest.fixture(scope="session")
def tenant_factory(admin_api, base_url):
    def make(plan=None):
        body = {"name": unique("tenant")}
        if plan:
            body["plan"] = plan
        r = admin_api.ok("POST", "/api/v1/admin/tenants", 201, json_body=body)
        data = r.json()
        lift_limits(admin_api, data["tenant"]["id"])
        return Tenant(base_url, data["tenant"], data["api_key"])

    return make


@pytest.fixture
def tenant(tenant_factory):
    return tenant_factory()


@pytest.fixture
def api(tenant):
    """Admin client of a fresh tenant."""
    return tenant.api


class OidcSso:
    """What the ``oidc_provider`` fixture gives: see there."""

    def __init__(self, provider, client_id, client_secret, mf_api_port, users):
        self.provider = provider  # an oidc.OidcDevProvider (log_path, discovery(), jwks(), stop())
        self.issuer = provider.issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.mf_api_port = mf_api_port
        self.public_url = "http://127.0.0.1:%d" % mf_api_port
        self.redirect_uri = self.public_url + "/auth/callback"
        self.users = dict(users)  # e-mail -> password
        self.admin_email, self.admin_password = "admin@sso-a.example", users["admin@sso-a.example"]
        self.user_email, self.user_password = "user@sso-b.example", users["user@sso-b.example"]

    def mf_api_env(self):
        """The environment that points an mf-api at this provider."""
        return {
            "MF_OIDC_ISSUER": self.issuer,
            "MF_OIDC_CLIENT_ID": self.client_id,
            "MF_OIDC_CLIENT_SECRET": self.client_secret,
            "MF_PUBLIC_URL": self.public_url,
        }


@pytest.fixture(scope="session")
def oidc_provider(tmp_root):
    """One development OpenID Provider (tools/oidc-dev, npm oidc-provider 8) for the session.

    It knows one confidential client, ``client_id`` ``mf-api`` with a random
    ``client_secret`` (client_secret_basic, code flow, PKCE S256 required, id_token
    RS256), whose only redirect URI is ``redirect_uri`` =
    ``http://127.0.0.1:<mf_api_port>/auth/callback`` (post-logout redirect:
    ``public_url + "/"``). ``mf_api_port`` is a free port picked up front: start the
    SSO tests' mf-api on it with ``extra_env=oidc_provider.mf_api_env()``
    (MF_OIDC_ISSUER, MF_OIDC_CLIENT_ID, MF_OIDC_CLIENT_SECRET, MF_PUBLIC_URL =
    ``public_url``), e.g. ``Server(migrated, tmp_root, "sso", oidc_provider.mf_api_env(),
    port=oidc_provider.mf_api_port)``.

    Users (e-mail -> password in ``users``; email_verified true; ``sub`` is a hash
    of the e-mail): ``admin_email`` admin@sso-a.example / ``admin_password``
    "sso-a-admin-pass" (name "Admin A"), ``user_email`` user@sso-b.example /
    ``user_password`` "sso-b-user-pass" (name "User B").

    Also: ``issuer``, ``provider`` (an ``oidc.OidcDevProvider``: ``log_path``,
    ``discovery()``, ``jwks()``). Log in with ``oidc.browser_login`` or
    ``node tests/browser/sso_login.mjs``. Its log is attached to failed tests; it
    must exit 0 on SIGTERM at the end."""
    import secrets

    from oidc import OidcDevProvider

    users = {"admin@sso-a.example": "sso-a-admin-pass", "user@sso-b.example": "sso-b-user-pass"}
    names = {"admin@sso-a.example": "Admin A", "user@sso-b.example": "User B"}
    mf_api_port = free_port()
    public_url = "http://127.0.0.1:%d" % mf_api_port
    client_secret = secrets.token_hex(24)
    provider = OidcDevProvider(tmp_root, name="session", clients=[{
        "client_id": "mf-api",
        "client_secret": client_secret,
        "redirect_uris": [public_url + "/auth/callback"],
        "post_logout_redirect_uris": [public_url + "/"],
    }], users=[{"email": e, "password": p, "name": names[e]} for e, p in users.items()])
    provider.start()
    RUNNING_SERVERS.append(provider)
    STARTED_SERVERS.append(provider)
    try:
        yield OidcSso(provider, "mf-api", client_secret, mf_api_port, users)
    finally:
        rc = provider.stop()
        if provider in RUNNING_SERVERS:
            RUNNING_SERVERS.remove(provider)
    assert rc == 0, "oidc-dev exit status after SIGTERM: %r\n%s" % (rc, provider.log_tail())


# --------------------------------------------------------------------------
# mf-ingest: the HTTP intake (serve) and the stream worker (work)

# Workers in tests reclaim a dead consumer's (or a failed try's) entries
# after this idle time instead of the 30 s default.
INGEST_CLAIM_IDLE_MS = "500"
# Logged by `mf-ingest work` once it has reached Redis and Postgres.
WORKER_READY_LOG = "reading"


def ingest_serve_proc(infra_env, tmpdir, name, extra_env=None, port=None):
    """An ``mf-ingest serve`` (not started) on the given or a free port."""
    env = {"MF_LOG_LEVEL": "info", "MF_KEY_CACHE_TTL": "1"}
    env.update(extra_env or {})
    return Server(infra_env, tmpdir, name, env, binary=MF_INGEST, command=("serve",), port=port)


def ingest_worker_proc(infra_env, tmpdir, name, extra_env=None):
    """An ``mf-ingest work`` (not started) with the short test claim time."""
    env = {"MF_LOG_LEVEL": "info", "MF_INGEST_CLAIM_IDLE_MS": INGEST_CLAIM_IDLE_MS}
    env.update(extra_env or {})
    return Server(infra_env, tmpdir, name, env, binary=MF_INGEST, command=("work",),
                  http=False, ready_log=WORKER_READY_LOG)


def run_for_fixture(proc):
    """A fixture's body for one process: started (its binary must be built), yielded, and
    stopped with the sanitizer check."""
    if not os.access(proc.binary, os.X_OK):
        pytest.exit("%s not built (run make)" % proc.binary, returncode=2)
    proc.start()
    yield proc
    proc.stop_and_check()


def spawner(make):
    """A spawn_* fixture's body: yields spawn(*args, start=True, **kw), which makes a process with
    make(*args, **kw) and starts it; what still runs is stopped when the test ends."""
    started = []

    def spawn(*args, start=True, **kw):
        proc = make(*args, **kw)
        started.append(proc)
        if start:
            proc.start()
        return proc

    yield spawn
    for proc in started:
        if proc.alive():
            proc.stop()


@pytest.fixture(scope="session")
def ingest(migrated, tmp_root):
    """The session's ``mf-ingest serve`` on the shared Postgres and Redis (default stream)."""
    yield from run_for_fixture(ingest_serve_proc(migrated, tmp_root, "main"))


@pytest.fixture(scope="session")
def ingest_worker(migrated, tmp_root):
    """The session's ``mf-ingest work`` on the default stream."""
    yield from run_for_fixture(ingest_worker_proc(migrated, tmp_root, "main"))


@pytest.fixture
def spawn_ingest(migrated, tmp_root):
    """Factory for more mf-ingest processes: spawn(name, "serve"|"work", extra_env=None,
    start=True, infra_env=None, port=None). Still running ones are stopped at the end of the test."""

    def make(name, kind="serve", extra_env=None, infra_env=None, port=None):
        env = infra_env or migrated
        if kind == "serve":
            return ingest_serve_proc(env, tmp_root, name, extra_env, port=port)
        if kind == "work":
            return ingest_worker_proc(env, tmp_root, name, extra_env)
        raise ValueError(kind)

    yield from spawner(make)


class IngestClient(Api):
    """An Api at mf-ingest with the ingest routes as methods."""

    def emit(self, body, **kw):
        """POST /api/v1/emit; asserts 202 and returns the event id."""
        r = self.post("/api/v1/emit", body, **kw)
        assert r.status_code == 202, "emit: expected 202, got %d: %s" % (r.status_code, r.text[:800])
        return r.json()["event_id"]

    def emit_batch(self, items, ndjson=False, **kw):
        """POST /api/v1/emit/batch (JSON array or NDJSON); asserts 202, returns the event ids."""
        if ndjson:
            data = "".join(json.dumps(i) + "\n" for i in items).encode("utf-8")
            r = self.req("POST", "/api/v1/emit/batch", data=data,
                         headers={"Content-Type": "application/x-ndjson"}, **kw)
        else:
            r = self.post("/api/v1/emit/batch", items, **kw)
        assert r.status_code == 202, "batch: expected 202, got %d: %s" % (r.status_code, r.text[:800])
        body = r.json()
        assert body["accepted"] == len(items) == len(body["event_ids"]), body
        return body["event_ids"]

    def lineage(self, event, **kw):
        """POST /api/v1/lineage (an OpenLineage event); asserts 202, returns the event id."""
        r = self.post("/api/v1/lineage", event, **kw)
        assert r.status_code == 202, "lineage: expected 202, got %d: %s" % (
            r.status_code, r.text[:800])
        return r.json()["event_id"]

    def event(self, event_id):
        return self.get("/api/v1/ingest/events/" + q(event_id))

    def wait_event(self, event_id, timeout=60.0, grace_404=0.0):
        """Poll GET /api/v1/ingest/events/{id} until it is no longer queued (deadline
        ``timeout``); returns the document. An acknowledged event is never unknown, so a
        404 fails at once (unless ``grace_404`` seconds are granted)."""
        start = time.monotonic()
        deadline = start + timeout
        last = None
        while True:
            r = self.event(event_id)
            if r.status_code == 200:
                doc = r.json()
                assert doc.get("event_id") == event_id, doc
                if doc.get("status") != "queued":
                    return doc
                last = doc
            elif r.status_code == 404 and time.monotonic() - start < grace_404:
                last = r.text
            else:
                raise AssertionError("GET /api/v1/ingest/events/%s: %d %s" % (
                    event_id, r.status_code, r.text[:500]))
            if time.monotonic() > deadline:
                raise AssertionError("event %s still not applied or failed after %.0fs: %s" % (
                    event_id, timeout, last))
            time.sleep(0.05)

    def wait_applied(self, event_id, timeout=60.0):
        doc = self.wait_event(event_id, timeout)
        assert doc["status"] == "applied", "event %s: %s" % (event_id, doc)
        return doc

    def wait_all_applied(self, event_ids, timeout=120.0):
        """Wait for the last id first (the stream is mostly in order), then check every one."""
        deadline = time.monotonic() + timeout
        docs = {}
        for eid in reversed(list(event_ids)):
            docs[eid] = self.wait_applied(eid, max(1.0, deadline - time.monotonic()))
        return docs


def redis_cli(url, *args, check=True):
    """Run one redis-cli command against url; returns its stdout (stripped)."""
    proc = subprocess.run(["redis-cli", "-u", url] + [str(a) for a in args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    out = proc.stdout.decode("utf-8", "replace").strip()
    if check and proc.returncode != 0:
        raise AssertionError("redis-cli %s failed (%d): %s" % (
            args, proc.returncode, proc.stderr.decode("utf-8", "replace")))
    return out


# --------------------------------------------------------------------------
# log dump on failure, sanitizer check per test


def _servers_of_test(item):
    """The servers running now plus those started during the test, once each."""
    first = getattr(item, "_mf_started_mark", len(STARTED_SERVERS))
    out = []
    for srv in list(RUNNING_SERVERS) + STARTED_SERVERS[first:]:
        if all(srv is not o for o in out):
            out.append(srv)
    return out


@pytest.fixture(autouse=True)
def _server_log_guard(request):
    marks = {id(s): s.log_size() for s in RUNNING_SERVERS}
    request.node._mf_log_marks = marks
    request.node._mf_started_mark = len(STARTED_SERVERS)
    yield
    for srv in _servers_of_test(request.node):
        report = srv.sanitizer_report(marks.get(id(srv), 0))
        if report:
            pytest.fail("%s (%s) printed a sanitizer report during this test:\n%s" % (
                srv.label, srv.name, report), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        marks = getattr(item, "_mf_log_marks", {})
        for srv in _servers_of_test(item):
            text = srv.log_tail(marks.get(id(srv), 0))
            if not text.strip():
                text = "(nothing logged during this test; the log ends with:)\n" + \
                    srv.log_tail(0, 3000)
            if srv.http:
                title = "%s log (%s, port %d)" % (srv.label, srv.name, srv.port)
            else:
                title = "%s log (%s)" % (srv.label, srv.name)
            rep.sections.append((title, text))


# --------------------------------------------------------------------------
# mf-analytics: usage, freshness, health and webhook workers

# Logged by mf-analytics (libshared worker.c) as each loop starts.
ANALYTICS_READY_LOG = "worker usage started"
# Test speed: usage folded every 200 ms once caught up, freshness evaluated every
# second, webhook retries 100 ms apart, loopback receivers allowed (the tests'
# webhook receivers listen on 127.0.0.1).
ANALYTICS_TEST_ENV = {
    "MF_LOG_LEVEL": "info",
    "MF_USAGE_FOLD_INTERVAL_MS": "200",
    "MF_FRESHNESS_INTERVAL": "1",
    "MF_WEBHOOK_BACKOFF_MS": "100",
    "MF_WEBHOOK_ALLOW_LOOPBACK": "1",
}


def analytics_proc(infra_env, tmpdir, name, extra_env=None):
    """An ``mf-analytics run`` (not started) with the test settings above."""
    env = dict(ANALYTICS_TEST_ENV)
    env.update(extra_env or {})
    return Server(infra_env, tmpdir, name, env, binary=MF_ANALYTICS, command=("run",),
                  http=False, ready_log=ANALYTICS_READY_LOG)


@pytest.fixture(scope="session")
def analytics(migrated, tmp_root):
    """The session's ``mf-analytics run`` on the shared Postgres and Redis."""
    yield from run_for_fixture(analytics_proc(migrated, tmp_root, "main"))


@pytest.fixture
def spawn_analytics(migrated, tmp_root):
    """Factory for more mf-analytics replicas: spawn(name, extra_env=None, start=True).
    Still running ones are stopped at the end of the test."""
    yield from spawner(lambda name, extra_env=None: analytics_proc(migrated, tmp_root, name, extra_env))
