"""Access control: the role x route matrix, scoped keys, grants, what scoped
callers read, ingest refusals, brute force, permission audit rows.

The matrix is generated from the route tables themselves: ``mf-api routes``
and ``mf-ingest routes`` print ``METHOD /path role`` (the route's minimum
role), and every route of both services is called by every kind of caller
with harmless values (no body, unknown names and ids), checking only the
access answer: 401 without credentials on a non-public route, ``403
forbidden`` below the route's role, never 401 or 403 at or above it (then a
400, 404 or 409 is fine), never a 500.

Scoped keys, users, memberships, grants and sessions are created directly in
Postgres as the owner (the key and session formats are those of
libshared/src/auth.c): the tests do not depend on the key and member routes.

The database enforces who writes what (migrations/0007_access.sql): a
domain-scoped key writes inside its domain only and sees nothing outside it;
a member with an editor grant on a domain writes there only.
"""

import hashlib
import json
import re
import secrets
import subprocess
import time
import uuid

import pytest
import requests

from conftest import (KEY_RE, MF_API, MF_INGEST, Api, IngestClient, assert_error, psql, q,
                      redis_cli, unique)

ROLES = ("public", "viewer", "editor", "admin", "billing_admin", "platform_admin")
PLATFORM_ROLES = ("billing_admin", "platform_admin")
RANK = {"viewer": 1, "editor": 2, "admin": 3}


# ---------------------------------------------------------------- the route tables


def _routes(binary, service):
    try:
        out = subprocess.run([binary, "routes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=30, check=True).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.splitlines():
        if line.strip():
            method, path, role = line.split()
            rows.append((service, method, path, role))
    return rows


ROUTES = _routes(MF_API, "mf-api") + _routes(MF_INGEST, "mf-ingest")


def test_routes_print_their_role():
    assert any(s == "mf-api" for s, _, _, _ in ROUTES), "mf-api routes printed nothing"
    assert any(s == "mf-ingest" for s, _, _, _ in ROUTES), "mf-ingest routes printed nothing"
    for service, method, path, role in ROUTES:
        assert role in ROLES, (service, method, path, role)
    table = {(s, m, p): r for s, m, p, r in ROUTES}
    # a few anchors, so that a table that lost its roles cannot pass
    assert table[("mf-api", "GET", "/healthz")] == "public"
    assert table[("mf-api", "GET", "/api/v1/datasets")] == "viewer"
    assert table[("mf-api", "POST", "/api/v1/datasets")] == "editor"
    assert table[("mf-api", "GET", "/api/v1/audit")] == "admin"
    assert table[("mf-api", "POST", "/api/v1/admin/tenants")] == "platform_admin"
    assert table[("mf-ingest", "POST", "/api/v1/emit")] == "editor"


# ---------------------------------------------------------------- credentials in the database


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


def owner(infra, *sql):
    return psql(infra["MF_PG_ADMIN_URL"], *sql)[1]


def lit(v):
    return "NULL" if v is None else "'%s'" % str(v).replace("'", "''")


def make_key(infra, tenant, role, domain_id=None, dataset_id=None, user_id=None):
    """A new API key of tenant (id "" or None: the platform) as the service would make it."""
    env = KEY_RE.match(tenant.key).group(1)
    prefix, secret = secrets.token_hex(6), secrets.token_hex(32)
    key = "mf_%s_%s_%s" % (env, prefix, secret)
    owner(infra, "INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, role, user_id, scope_domain_id, "
                 "scope_dataset_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)" % (
                     lit(tenant.id), lit(unique("rbac")), lit(prefix), lit(sha256(key)), lit(role),
                     lit(user_id), lit(domain_id), lit(dataset_id)))
    return key


def make_member(infra, tenant_id, role, grants=()):
    """A user who is a member of tenant_id with role, plus grants [(role, domain_id, dataset_id)]."""
    email = "%s@rbac.example" % unique("u")
    user_id = owner(infra, "INSERT INTO users (email, name) VALUES (%s, 'RBAC test') RETURNING id" % lit(email))[0]
    owner(infra, "INSERT INTO memberships (tenant_id, user_id, role, created_by) VALUES (%s, %s, %s, 'test')" % (
        lit(tenant_id), lit(user_id), lit(role)))
    for grole, domain_id, dataset_id in grants:
        owner(infra, "INSERT INTO role_grants (tenant_id, user_id, domain_id, dataset_id, role) "
                     "VALUES (%s, %s, %s, %s, %s)" % (lit(tenant_id), lit(user_id), lit(domain_id),
                                                       lit(dataset_id), lit(grole)))
    return user_id


def make_session(infra, tenant_id, user_id):
    """A live session of user_id: (token, csrf token)."""
    token = "mfs_" + secrets.token_hex(32)
    csrf = secrets.token_hex(16)
    owner(infra, "INSERT INTO sessions (token_hash, tenant_id, user_id, csrf_token, expires_at) "
                 "VALUES (%s, %s, %s, %s, now() + interval '1 hour')" % (
                     lit(sha256(token)), lit(tenant_id), lit(user_id), lit(csrf)))
    return token, csrf


def domain_id(infra, tenant_id, name):
    rows = owner(infra, "SELECT id FROM domains WHERE tenant_id = %s AND name = %s" % (lit(tenant_id), lit(name)))
    assert rows, "no domain %s" % name
    return rows[0]


def dataset_id(infra, tenant_id, name, namespace="default"):
    rows = owner(infra, "SELECT id FROM datasets WHERE tenant_id = %s AND namespace = %s AND name = %s" % (
        lit(tenant_id), lit(namespace), lit(name)))
    assert rows, "no dataset %s/%s" % (namespace, name)
    return rows[0]


def audit_rows(admin, action, want, timeout=10.0):
    """Poll the audit log for rows of action until want(rows) holds; return the rows."""
    deadline = time.monotonic() + timeout
    while True:
        rows = admin.walk("/api/v1/audit", params={"action": action})
        if want(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


# ---------------------------------------------------------------- the matrix


class Caller:
    def __init__(self, name, role, key=None, cookie=None, csrf=None, scoped=False):
        self.name = name
        self.role = role  # None: no credentials
        self.key = key
        self.cookie = cookie
        self.csrf = csrf
        self.scoped = scoped

    def headers(self):
        h = {}
        if self.key:
            h["Authorization"] = "Bearer " + self.key
        if self.cookie:
            h["Cookie"] = "mf_session=" + self.cookie
        if self.csrf:
            h["X-CSRF-Token"] = self.csrf
        return h


def allows(caller_role, route_role):
    if route_role == "public":
        return True
    if caller_role is None:
        return False
    if route_role == "billing_admin":
        return caller_role in PLATFORM_ROLES
    if route_role in PLATFORM_ROLES or caller_role in PLATFORM_ROLES:
        return caller_role == route_role
    return RANK[caller_role] >= RANK[route_role]


def expected(caller, service, method, route_role):
    """401, 403, "ok" (anything but 401/403/5xx), "same" (a public route: what the
    anonymous caller got, whatever the credentials), or "ok or ingest 403"."""
    if route_role == "public":
        return "same"
    if caller.role is None:
        return 401
    if not allows(caller.role, route_role):
        return 403
    if caller.cookie and not caller.csrf and method not in ("GET", "HEAD"):
        return 403  # a cookie-authenticated change needs the CSRF token
    if caller.scoped and service == "mf-ingest" and route_role == "editor":
        return "ok or ingest 403"  # events may write anywhere: ingest needs an unscoped editor key
    return "ok"


PARAM_VALUES = {"id": str(uuid.UUID(int=1)), "event_id": str(uuid.UUID(int=2)), "user_id": str(uuid.UUID(int=3)),
                "grant_id": str(uuid.UUID(int=4)), "v": "1", "namespace": "no-such-ns"}


def fill(path):
    return re.sub(r"\{([^}]+)\}", lambda m: q(PARAM_VALUES.get(m.group(1), "no-such-" + m.group(1))), path)


@pytest.fixture(scope="module")
def matrix(infra, tenant_factory, platform_key, billing_key, base_url, ingest):
    t = tenant_factory()
    admin = t.api
    admin.ok("POST", "/api/v1/domains", 201, json_body={"name": "sales"})
    sales = domain_id(infra, t.id, "sales")
    user = make_member(infra, t.id, "admin")
    token, csrf = make_session(infra, t.id, user)
    callers = [
        Caller("anonymous", None),
        Caller("viewer key", "viewer", key=make_key(infra, t, "viewer")),
        Caller("editor key", "editor", key=make_key(infra, t, "editor")),
        Caller("admin key", "admin", key=make_key(infra, t, "admin")),
        Caller("platform key", "platform_admin", key=platform_key),
        Caller("billing admin key", "billing_admin", key=billing_key),
        Caller("domain-scoped editor key", "editor", key=make_key(infra, t, "editor", domain_id=sales), scoped=True),
        Caller("admin session cookie without CSRF token", "admin", cookie=token),
        Caller("admin session cookie with CSRF token", "admin", cookie=token, csrf=csrf),
    ]
    bases = {"mf-api": base_url, "mf-ingest": ingest.base}
    return {"tenant": t, "callers": callers, "bases": bases, "user": user}


@pytest.mark.parametrize("service,method,path,role", ROUTES,
                         ids=["%s %s %s" % (s, m, p) for s, m, p, _ in ROUTES])
def test_role_route_matrix(infra, matrix, service, method, path, role):
    url = matrix["bases"][service] + fill(path)
    failures = []
    anonymous = None
    for c in matrix["callers"]:
        r = requests.request(method, url, headers=c.headers(), timeout=15, allow_redirects=False)
        want = expected(c, service, method, role)
        got = r.status_code
        if anonymous is None:
            anonymous = got  # the first caller has no credentials
        if got >= 500:
            failures.append("%s: %d (a server error) %s" % (c.name, got, r.text[:200]))
        elif want == "same":
            if got != anonymous:
                failures.append("%s: %d on a public route where no credentials got %d" % (c.name, got, anonymous))
        elif want == "ok or ingest 403":
            # a body that is not JSON is refused (400) before the handler says 403
            if got == 401 or (got == 403 and "ingest needs an unscoped editor key" not in r.text):
                failures.append("%s: %d %s" % (c.name, got, r.text[:200]))
        elif want == "ok":
            if got in (401, 403):
                failures.append("%s: %d, but the route needs %s %s" % (c.name, got, role, r.text[:200]))
        elif got != want:
            failures.append("%s: expected %d, got %d %s" % (c.name, want, got, r.text[:200]))
        elif want == 403 and r.json()["error"]["code"] != "forbidden":
            failures.append("%s: 403 with code %s" % (c.name, r.json()["error"]["code"]))
        elif want == 401 and r.json()["error"]["code"] != "unauthorized":
            failures.append("%s: 401 with code %s" % (c.name, r.json()["error"]["code"]))
        if c.cookie and got == 204 and path == "/auth/logout":
            # it worked: the session is over; give the remaining callers a new one
            token, csrf = make_session(infra, matrix["tenant"].id, matrix["user"])
            for other in matrix["callers"]:
                if other.cookie:
                    other.cookie = token
                    other.csrf = csrf if other.csrf else None
    assert failures == [], "%s %s %s (needs %s):\n  %s" % (service, method, path, role, "\n  ".join(failures))


# ---------------------------------------------------------------- a catalog across domains


@pytest.fixture
def catalog(infra, tenant_factory):
    """A tenant with domains sales and finance:

        raw_events (no domain) -> sales_orders (sales) -> fin_ledger (finance)
                                  sales_orders -> sales_summary (sales)
    """
    t = tenant_factory()
    a = t.api
    for d in ("sales", "finance"):
        a.ok("POST", "/api/v1/domains", 201, json_body={"name": d})
    a.create_dataset("raw_events", tags=["raw-only"])
    a.create_dataset("sales_orders", domain="sales", upstream=[{"namespace": "default", "name": "raw_events"}],
                     fields=[{"name": "id", "type": "bigint"}], tags=["sales-tag"])
    a.create_dataset("sales_summary", domain="sales", upstream=[{"namespace": "default", "name": "sales_orders"}])
    a.create_dataset("fin_ledger", domain="finance", upstream=[{"namespace": "default", "name": "sales_orders"}],
                     fields=[{"name": "secret_amount", "type": "numeric", "tags": ["fin-field-tag"]}],
                     tags=["fin-tag"])
    t.sales = domain_id(infra, t.id, "sales")
    t.finance = domain_id(infra, t.id, "finance")
    return t


HIDDEN = ("fin_ledger", "raw_events", "fin-tag", "fin-field-tag", "raw-only", "secret_amount")


def assert_hides(resp, hidden=HIDDEN):
    assert resp.status_code == 200, resp.text[:500]
    for name in hidden:
        assert name not in resp.text, "%s leaks %s: %s" % (resp.url, name, resp.text[:800])


def names(items):
    return sorted(d["name"] for d in items)


def test_domain_scoped_key_reads_only_its_domain(infra, catalog):
    s = Api(catalog.base, make_key(infra, catalog, "editor", domain_id=catalog.sales))
    assert names(s.walk("/api/v1/datasets")) == ["sales_orders", "sales_summary"]
    assert_hides(s.get("/api/v1/datasets"))
    assert names(s.walk("/api/v1/datasets", params={"domain": "finance"})) == []
    assert_error(s.get_dataset("fin_ledger"), 404, "not_found")
    assert_error(s.get_dataset("raw_events"), 404, "not_found")
    assert_error(s.get("/api/v1/datasets/fin_ledger/versions"), 404, "not_found")

    r = s.get_dataset("sales_orders")
    assert_hides(r)
    doc = r.json()
    assert doc["upstream"] == [] and doc["downstream"] == [{"namespace": "default", "name": "sales_summary"}], doc
    # unscoped callers still see the whole document
    full = catalog.api.get_dataset("sales_orders").json()
    assert full["upstream"] == [{"namespace": "default", "name": "raw_events"}], full
    assert {"namespace": "default", "name": "fin_ledger"} in full["downstream"], full

    edges = s.walk("/api/v1/lineage/edges")
    assert [(e["source"]["name"], e["target"]["name"]) for e in edges] == [("sales_orders", "sales_summary")], edges
    assert_hides(s.get("/api/v1/lineage/edges", params={"dataset": "sales_orders"}))
    assert len(catalog.api.walk("/api/v1/lineage/edges")) == 3

    stats = s.ok("GET", "/api/v1/stats", 200).json()
    assert stats["datasets"] == 2 and stats["lineage_edges"] == 1 and stats["fields"] == 1, stats
    assert_hides(s.get("/api/v1/stats"))
    assert sorted(t["tag"] for t in s.walk("/api/v1/tags")) == ["sales-tag"]
    assert s.ok("GET", "/api/v1/domains/finance", 200).json()["datasets"] == 0
    assert s.ok("GET", "/api/v1/domains/sales", 200).json()["datasets"] == 2


def test_domain_scoped_key_writes_only_its_domain(infra, catalog):
    s = Api(catalog.base, make_key(infra, catalog, "editor", domain_id=catalog.sales))
    # inside: create, replace, tag, lineage between its datasets
    s.ok("POST", "/api/v1/datasets", 201, json_body={"name": "sales_new", "domain": "sales"})
    s.ok("PUT", "/api/v1/datasets/sales_new", 200, json_body={"name": "sales_new", "domain": "sales",
                                                              "description": "mine"})
    s.ok("POST", "/api/v1/datasets/sales_new/tags", 200, json_body={"tag": "ok"})
    s.ok("POST", "/api/v1/lineage/edges", 201, json_body={
        "source": {"namespace": "default", "name": "sales_summary"},
        "target": {"namespace": "default", "name": "sales_new"}})

    # outside: another domain, no domain, moving out, a hidden name, a hidden upstream
    assert_error(s.post("/api/v1/datasets", {"name": "fin_new", "domain": "finance"}), 403, "forbidden",
                 "your access does not reach dataset default/fin_new")
    assert_error(s.post("/api/v1/datasets", {"name": "loose"}), 403, "forbidden",
                 "your access does not reach dataset default/loose")
    assert_error(s.put("/api/v1/datasets/sales_new", {"name": "sales_new", "domain": "finance"}), 403,
                 "forbidden", "your access does not reach dataset default/sales_new")
    assert_error(s.post("/api/v1/datasets", {"name": "fin_ledger", "domain": "sales"}), 403, "forbidden",
                 "your access does not reach dataset default/fin_ledger")
    assert_error(s.post("/api/v1/datasets", {"name": "sales_more", "domain": "sales",
                                             "upstream": [{"namespace": "default", "name": "fin_ledger"}]}),
                 403, "forbidden", "your access does not reach dataset default/fin_ledger")
    assert_error(s.post("/api/v1/lineage/edges", {"source": {"namespace": "default", "name": "raw_events"},
                                                  "target": {"namespace": "default", "name": "sales_new"}}),
                 403, "forbidden", "default/raw_events")
    # what it cannot see is not there for it
    assert_error(s.put("/api/v1/datasets/fin_ledger", {"name": "fin_ledger", "domain": "finance"}), 404)
    assert_error(s.delete("/api/v1/datasets/fin_ledger"), 404)
    assert_error(s.post("/api/v1/datasets/fin_ledger/tags", {"tag": "x"}), 404)
    # tenant-wide objects need tenant-wide write access
    assert_error(s.post("/api/v1/domains", {"name": "newdomain"}), 403, "forbidden", 'creating domain "newdomain"')
    assert_error(s.post("/api/v1/owners", {"name": "someone"}), 403, "forbidden")
    assert_error(s.post("/api/v1/glossary/terms", {"name": "Revenue"}), 403, "forbidden")
    assert_error(s.delete("/api/v1/domains/finance"), 403, "forbidden")
    # naming an existing domain is no creation
    assert_error(s.post("/api/v1/domains", {"name": "sales"}), 409)

    # nothing outside changed
    a = catalog.api
    assert a.get_dataset("fin_ledger").json()["version"] == 1
    for gone in ("fin_new", "loose", "sales_more"):
        assert_error(a.get_dataset(gone), 404)
    assert a.get_dataset("sales_new").json()["domain"] == "sales"
    assert "newdomain" not in [d["name"] for d in a.walk("/api/v1/domains")]

    # deleting its dataset keeps the documents of hidden neighbours right
    s.ok("DELETE", "/api/v1/datasets/sales_orders", 204)
    assert a.get_dataset("fin_ledger").json()["upstream"] == []
    assert a.get_dataset("raw_events").json()["downstream"] == []


def test_dataset_scoped_key(infra, catalog):
    s = Api(catalog.base, make_key(infra, catalog, "editor",
                                   dataset_id=dataset_id(infra, catalog.id, "sales_orders")))
    assert names(s.walk("/api/v1/datasets")) == ["sales_orders"]
    assert_hides(s.get_dataset("sales_orders"), HIDDEN + ("sales_summary",))
    s.ok("POST", "/api/v1/datasets/sales_orders/tags", 200, json_body={"tag": "mine"})
    s.ok("PUT", "/api/v1/datasets/sales_orders", 200, json_body={"name": "sales_orders", "domain": "sales"})
    # it may not take its dataset to another domain, nor write any other
    assert_error(s.put("/api/v1/datasets/sales_orders", {"name": "sales_orders", "domain": "finance"}), 403,
                 "forbidden", "your access does not reach dataset default/sales_orders")
    assert_error(s.post("/api/v1/datasets", {"name": "other", "domain": "sales"}), 403, "forbidden")
    assert_error(s.delete("/api/v1/datasets/sales_summary"), 404)
    # a viewer-scoped key reads its scope and writes nothing
    v = Api(catalog.base, make_key(infra, catalog, "viewer", domain_id=catalog.finance))
    assert names(v.walk("/api/v1/datasets")) == ["fin_ledger"]
    assert_error(v.post("/api/v1/datasets", {"name": "x", "domain": "finance"}), 403, "forbidden")


def test_member_with_domain_grant_writes_only_there(infra, catalog):
    user = make_member(infra, catalog.id, "viewer", grants=[("editor", catalog.sales, None)])
    token, _ = make_session(infra, catalog.id, user)
    u = Api(catalog.base, token)  # Authorization: Bearer mfs_...
    # a viewer member reads the whole tenant
    assert names(u.walk("/api/v1/datasets")) == ["fin_ledger", "raw_events", "sales_orders", "sales_summary"]
    me = u.ok("GET", "/api/v1/me", 200).json()
    assert me["role"] == "editor" and me["write_anywhere"] is False, me

    u.ok("POST", "/api/v1/datasets", 201, json_body={"name": "by_grant", "domain": "sales"})
    u.ok("PUT", "/api/v1/datasets/sales_summary", 200, json_body={"name": "sales_summary", "domain": "sales",
                                                                  "description": "edited"})
    u.ok("POST", "/api/v1/datasets/sales_orders/fields/id/tags", 200, json_body={"tag": "key"})
    # an edge belongs to its downstream: from anywhere into sales is fine, out of sales is not
    u.ok("POST", "/api/v1/lineage/edges", 201, json_body={
        "source": {"namespace": "default", "name": "fin_ledger"},
        "target": {"namespace": "default", "name": "by_grant"}})
    assert_error(u.post("/api/v1/lineage/edges", {"source": {"namespace": "default", "name": "by_grant"},
                                                  "target": {"namespace": "default", "name": "fin_ledger"}}),
                 403, "forbidden", "your access does not reach dataset default/fin_ledger")
    # the upstream's document lists its new downstream (bookkeeping, not a write of it)
    fin = catalog.api.get_dataset("fin_ledger").json()
    assert fin["downstream"] == [{"namespace": "default", "name": "by_grant"}], fin

    for resp in (u.post("/api/v1/datasets", {"name": "fin_x", "domain": "finance"}),
                 u.put("/api/v1/datasets/fin_ledger", {"name": "fin_ledger", "domain": "finance"}),
                 u.delete("/api/v1/datasets/fin_ledger"),
                 u.post("/api/v1/datasets/fin_ledger/tags", {"tag": "x"}),
                 u.put("/api/v1/datasets/by_grant", {"name": "by_grant", "domain": "finance"})):
        assert_error(resp, 403, "forbidden", "your access does not reach dataset default/")
    assert_error(u.post("/api/v1/datasets", {"name": "fin_x", "domain": "finance"}), 403, "forbidden",
                 'default/fin_x (in domain "finance")')
    assert catalog.api.get_dataset("fin_ledger").json() == fin

    # a grant on one dataset: that dataset, in its domain
    owner(infra, "INSERT INTO role_grants (tenant_id, user_id, dataset_id, role) VALUES (%s, %s, %s, 'editor')" % (
        lit(catalog.id), lit(user), lit(dataset_id(infra, catalog.id, "fin_ledger"))))
    u.ok("PUT", "/api/v1/datasets/fin_ledger", 200, json_body={"name": "fin_ledger", "domain": "finance"})
    # into sales, where the domain grant reaches, but not out of any domain
    u.ok("PUT", "/api/v1/datasets/fin_ledger", 200, json_body={"name": "fin_ledger", "domain": "sales"})
    assert_error(u.put("/api/v1/datasets/fin_ledger", {"name": "fin_ledger"}), 403, "forbidden",
                 "default/fin_ledger (in no domain)")

    # without a grant, a viewer member writes nothing
    plain = make_member(infra, catalog.id, "viewer")
    tok, _ = make_session(infra, catalog.id, plain)
    assert_error(Api(catalog.base, tok).post("/api/v1/datasets", {"name": "nope", "domain": "sales"}), 403,
                 "forbidden", "editor")


# ---------------------------------------------------------------- jobs and ingest


def test_jobs_and_ingest_for_scoped_callers(infra, catalog, ingest, ingest_worker):
    ing = IngestClient(ingest.base, catalog.key)
    # a run from raw into sales (hidden from the sales key), one within sales (visible)
    e1 = ing.emit({"dataset": {"name": "sales_orders", "upstream": ["raw_events"]},
                   "run": {"job": {"namespace": "etl", "name": "load_orders"}, "state": "COMPLETE"}})
    e2 = ing.emit({"dataset": {"name": "sales_summary", "upstream": ["sales_orders"]},
                   "run": {"job": {"namespace": "etl", "name": "summarise"}, "state": "COMPLETE"}})
    ing.wait_applied(e1)
    ing.wait_applied(e2)
    admin_jobs = catalog.api.walk("/api/v1/jobs")
    assert sorted(j["name"] for j in admin_jobs) == ["load_orders", "summarise"], admin_jobs

    key = make_key(infra, catalog, "editor", domain_id=catalog.sales)
    s = Api(catalog.base, key)
    assert [j["name"] for j in s.walk("/api/v1/jobs")] == ["summarise"]
    assert_error(s.get("/api/v1/jobs/etl/load_orders"), 404)
    assert_error(s.get("/api/v1/jobs/etl/load_orders/runs"), 404)
    job = s.ok("GET", "/api/v1/jobs/etl/summarise", 200)
    assert_hides(job)
    runs = s.walk("/api/v1/jobs/etl/summarise/runs")
    assert len(runs) == 1 and runs[0]["outputs"] == [{"namespace": "default", "name": "sales_summary"}], runs
    assert_hides(s.get("/api/v1/jobs/etl/summarise/runs"))

    # ingest needs write access to the whole tenant
    si = IngestClient(ingest.base, key)
    body = {"dataset": {"name": "sales_orders", "domain": "sales"}}
    for resp in (si.post("/api/v1/emit", body),
                 si.post("/api/v1/emit/batch", [body]),
                 si.post("/api/v1/lineage", {"eventType": "COMPLETE"})):
        assert_error(resp, 403, "forbidden", "ingest needs an unscoped editor key")
    # and what it can read of ingest never names other datasets
    assert_error(si.get("/api/v1/ingest/events/" + e1), 404)
    assert si.walk("/api/v1/ingest/failures") == []
    # nor can a member who writes through grants only
    user = make_member(infra, catalog.id, "viewer", grants=[("editor", catalog.sales, None)])
    token, _ = make_session(infra, catalog.id, user)
    assert_error(IngestClient(ingest.base, token).post("/api/v1/emit", body), 403, "forbidden",
                 "ingest needs an unscoped editor key")
    # an unscoped editor key ingests
    ed = IngestClient(ingest.base, make_key(infra, catalog, "editor"))
    ed.wait_applied(ed.emit({"dataset": {"name": "fin_ledger", "description": "from ingest"}}))
    assert catalog.api.get_dataset("fin_ledger").json()["description"] == "from ingest"


# ---------------------------------------------------------------- system paths


def test_database_refuses_writes_without_access(infra, catalog):
    """Enforcement is in the database: the service role writes nothing without
    mf.write_all, a scope or a grant; privileged paths (owner) are exempt."""
    app = infra["MF_PG_URL"]
    ctx = "SELECT set_config('mf.tenant_id', '%s', false)" % catalog.id
    rc, _, err = psql(app, ctx, "DELETE FROM datasets WHERE name = 'fin_ledger'", check=False)
    assert rc != 0 and "your access does not reach dataset default/fin_ledger" in err, err
    rc, _, err = psql(app, ctx, "UPDATE datasets SET description = 'x' WHERE name = 'raw_events'", check=False)
    assert rc != 0 and "default/raw_events" in err, err
    rc, _, err = psql(app, ctx, "INSERT INTO glossary_terms (tenant_id, name) VALUES ('%s', 'T')" % catalog.id,
                      check=False)
    assert rc != 0 and "needs write access to the whole tenant" in err, err
    # a document refresh is not a write of the dataset
    psql(app, ctx, "SELECT mf_refresh_docs(ARRAY(SELECT id FROM datasets))")
    # a scoped request context may not enter the worker's path
    rc, _, err = psql(app, ctx, "SELECT set_config('mf.scope', 'domain:%s', false)" % catalog.sales,
                      "SELECT * FROM mf_apply_events('[]')", check=False)
    assert rc != 0 and "ingest needs an unscoped editor key" in err, err
    # with write access to the whole tenant it works
    _, out, _ = psql(app, ctx, "SELECT set_config('mf.write_all', 'on', false)",
                     "WITH d AS (UPDATE datasets SET description = 'ok' WHERE name = 'raw_events' RETURNING 1) "
                     "SELECT count(*) FROM d")
    assert out[-1] == "1"
    # the owner (purge, admin functions, cascades) is not a request
    assert owner(infra, "WITH d AS (UPDATE datasets SET description = 'by owner' WHERE tenant_id = %s "
                        "AND name = 'fin_ledger' RETURNING 1) SELECT count(*) FROM d" % lit(catalog.id)) == ["1"]


def test_purge_of_a_tenant_with_scoped_keys_and_grants(infra, catalog):
    make_key(infra, catalog, "editor", domain_id=catalog.sales)
    make_member(infra, catalog.id, "viewer", grants=[("editor", catalog.sales, None)])
    owner(infra, "UPDATE tenants SET status = 'deleting', purge_after = now() - interval '1 second' "
                 "WHERE id = %s" % lit(catalog.id))
    out = json.loads(owner(infra, "SELECT mf_purge()")[0])
    assert catalog.id in [t["id"] for t in out["tenants"]], out
    assert catalog.id not in [t["id"] for t in out["failed"]], out
    assert owner(infra, "SELECT count(*) FROM datasets WHERE tenant_id = %s" % lit(catalog.id)) == ["0"]


# ---------------------------------------------------------------- brute force, audit


def test_brute_force_is_rate_limited(infra, tenant, spawn_server):
    limit_key = "mf:authfail:127.0.0.1"
    redis_cli(infra["MF_REDIS_URL"], "DEL", limit_key)
    srv = spawn_server("bruteforce", {"MF_AUTH_FAIL_LIMIT": "5"})
    try:
        prefix = KEY_RE.match(tenant.key).group(2)
        env = KEY_RE.match(tenant.key).group(1)
        for i in range(5):
            wrong = "mf_%s_%s_%s" % (env, prefix, secrets.token_hex(32))
            assert_error(Api(srv.base, wrong).get("/api/v1/datasets"), 401, "unauthorized")
        # then even the right key is refused, with Retry-After
        r = Api(srv.base, tenant.key).get("/api/v1/datasets")
        assert_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1, r.headers  # one header, one number
        assert_error(Api(srv.base, "mfs_" + "0" * 64).get("/api/v1/me"), 429, "rate_limited")
        # the count expires (here: is deleted) and the key works again
        redis_cli(infra["MF_REDIS_URL"], "DEL", limit_key)
        Api(srv.base, tenant.key).ok("GET", "/api/v1/datasets", 200)
    finally:
        redis_cli(infra["MF_REDIS_URL"], "DEL", limit_key)


def test_denials_and_failed_keys_are_audited(infra, tenant):
    viewer = make_key(infra, tenant, "viewer")
    r = Api(tenant.base, viewer).post("/api/v1/datasets", {"name": "nope"})
    assert_error(r, 403, "forbidden")
    vprefix = KEY_RE.match(viewer).group(2)
    rows = audit_rows(tenant.api, "permission.denied", lambda rows: any(x["actor"] == "key:" + vprefix
                                                                        for x in rows))
    row = [x for x in rows if x["actor"] == "key:" + vprefix]
    assert row and row[0]["after"]["route"] == "POST /api/v1/datasets", rows
    assert row[0]["request_id"] == r.headers["X-Request-ID"], row

    m = KEY_RE.match(tenant.key)
    wrong = "mf_%s_%s_%s" % (m.group(1), m.group(2), secrets.token_hex(32))
    assert_error(Api(tenant.base, wrong).get("/api/v1/datasets"), 401, "unauthorized")
    rows = audit_rows(tenant.api, "auth.failed", lambda rows: any(x["target"] == "key:" + m.group(2)
                                                                  for x in rows))
    hit = [x for x in rows if x["target"] == "key:" + m.group(2)]
    assert hit and hit[0]["after"]["reason"] == "wrong secret", rows
    assert wrong not in json.dumps(rows)


def test_scoped_denials_are_audited(infra, catalog, ingest):
    key = make_key(infra, catalog, "editor", domain_id=catalog.sales)
    r = IngestClient(ingest.base, key).post("/api/v1/emit", {"dataset": {"name": "x"}})
    assert_error(r, 403, "forbidden")
    prefix = KEY_RE.match(key).group(2)
    rows = audit_rows(catalog.api, "permission.denied", lambda rows: any(x["actor"] == "key:" + prefix
                                                                         for x in rows))
    hit = [x for x in rows if x["actor"] == "key:" + prefix]
    assert hit and hit[0]["after"]["route"] == "POST /api/v1/emit", rows
    # a refusal by the database (the scope does not reach the dataset) is audited too
    r = Api(catalog.base, key).post("/api/v1/datasets", {"name": "fin_new", "domain": "finance"})
    assert_error(r, 403, "forbidden")
    rows = audit_rows(catalog.api, "permission.denied", lambda rows: any(x["request_id"] == r.headers["X-Request-ID"]
                                                                         for x in rows))
    hit = [x for x in rows if x["request_id"] == r.headers["X-Request-ID"]]
    assert hit and hit[0]["actor"] == "key:" + prefix, rows
    assert hit[0]["after"] == {
        "route": "POST /api/v1/datasets",
        "reason": 'your access does not reach dataset default/fin_new (in domain "finance")'}, hit
