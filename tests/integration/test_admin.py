"""Platform admin routes: /api/v1/admin/tenants."""

import uuid

import pytest

from conftest import KEY_RE, UUID_RE, Api, assert_error, assert_ts, unique

TENANT_KEYS = {"id", "name", "plan", "status", "created_at"}


def check_tenant(t, name=None, plan=None):
    assert set(t.keys()) >= TENANT_KEYS, t
    assert UUID_RE.match(t["id"]), t
    assert isinstance(t["status"], str) and t["status"], t
    assert_ts(t["created_at"])
    if name is not None:
        assert t["name"] == name
    if plan is not None:
        assert t["plan"] == plan


def test_create_tenant_default_plan(admin_api, base_url):
    name = unique("acme")
    r = admin_api.post("/api/v1/admin/tenants", {"name": name})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body.keys()) >= {"tenant", "api_key"}
    check_tenant(body["tenant"], name, "free")
    m = KEY_RE.match(body["api_key"])
    assert m, body["api_key"]
    assert m.group(1) == "live"  # MF_KEY_ENV default
    # The key is the tenant's first admin key: it can manage keys.
    t_api = Api(base_url, body["api_key"])
    keys = t_api.ok("GET", "/api/v1/keys", 200).json()["items"]
    assert len(keys) == 1
    assert keys[0]["role"] == "admin"
    assert keys[0]["prefix"] == m.group(2) or m.group(2) in keys[0]["prefix"]


def test_create_tenant_each_plan(admin_api):
    for plan in ("free", "team", "enterprise"):
        name = unique("plan-" + plan)
        r = admin_api.post("/api/v1/admin/tenants", {"name": name, "plan": plan})
        assert r.status_code == 201, r.text
        check_tenant(r.json()["tenant"], name, plan)


def test_create_tenant_bad_plan(admin_api):
    name = unique("badplan")
    r = admin_api.post("/api/v1/admin/tenants", {"name": name, "plan": "gold"})
    assert_error(r, 400, "invalid_request", "plan")
    all_names = [t["name"] for t in admin_api.walk("/api/v1/admin/tenants", limit=500)]
    assert name not in all_names


def test_create_tenant_duplicate(admin_api):
    name = unique("dup")
    admin_api.ok("POST", "/api/v1/admin/tenants", 201, json_body={"name": name})
    r = admin_api.post("/api/v1/admin/tenants", {"name": name, "plan": "team"})
    assert_error(r, 409, "conflict")
    matches = [t for t in admin_api.walk("/api/v1/admin/tenants", limit=500) if t["name"] == name]
    assert len(matches) == 1
    assert matches[0]["plan"] == "free"


def test_get_tenant(admin_api, tenant):
    r = admin_api.get("/api/v1/admin/tenants/" + tenant.id)
    assert r.status_code == 200, r.text
    t = r.json()
    check_tenant(t, tenant.name, "free")
    assert t["id"] == tenant.id
    for k in TENANT_KEYS:
        assert t[k] == tenant.info[k], (k, t, tenant.info)


def test_get_tenant_unknown(admin_api):
    r = admin_api.get("/api/v1/admin/tenants/" + str(uuid.uuid4()))
    assert_error(r, 404, "not_found")


def test_list_tenants_pagination(admin_api, tenant_factory):
    created = {tenant_factory().id for _ in range(5)}
    items = admin_api.walk("/api/v1/admin/tenants", limit=2)
    ids = [t["id"] for t in items]
    assert len(ids) == len(set(ids)), "duplicate tenants across pages"
    assert created <= set(ids)
    for t in items:
        check_tenant(t)
    # A single big page agrees with the walk.
    big = admin_api.walk("/api/v1/admin/tenants", limit=500)
    assert {t["id"] for t in big} == set(ids)


def test_admin_routes_need_platform_key(tenant, anon):
    admin = tenant.api
    editor = tenant.client("editor")
    for client in (admin, editor):
        assert_error(client.post("/api/v1/admin/tenants", {"name": unique("x")}), 403, "forbidden")
        assert_error(client.get("/api/v1/admin/tenants"), 403, "forbidden")
        assert_error(client.get("/api/v1/admin/tenants/" + tenant.id), 403, "forbidden")
    assert_error(anon.get("/api/v1/admin/tenants"), 401, "unauthorized")
    assert_error(anon.post("/api/v1/admin/tenants", {"name": unique("x")}), 401, "unauthorized")
    assert_error(anon.get("/api/v1/admin/tenants/" + tenant.id), 401, "unauthorized")


def test_platform_key_cannot_use_tenant_routes(admin_api):
    for method, path in (
        ("GET", "/api/v1/datasets"),
        ("GET", "/api/v1/keys"),
        ("GET", "/api/v1/stats"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/domains"),
    ):
        assert_error(admin_api.req(method, path), 403, "forbidden")
    r = admin_api.post("/api/v1/datasets", {"name": "platform_ds"})
    assert_error(r, 403, "forbidden")


def test_admin_method_not_allowed(admin_api, tenant):
    assert_error(admin_api.req("DELETE", "/api/v1/admin/tenants"), 405, "method_not_allowed")
    assert_error(admin_api.req("PATCH", "/api/v1/admin/tenants/" + tenant.id), 405,
                 "method_not_allowed")


# ---------------------------------------------------------------- plan limits


def _tiny_plan(infra, tenant, max_datasets, max_rps):
    from conftest import psql
    plan = "tiny_" + tenant.id.replace("-", "")[:12]
    psql(infra["MF_PG_SUPER_URL"],
         "INSERT INTO plans (name, max_datasets, max_seats, max_api_calls, max_emit_events, "
         "max_rps, audit_retention_days) VALUES ('%s', %d, 5, 1000000, 1000000, %d, 30)"
         % (plan, max_datasets, max_rps),
         "UPDATE tenants SET plan = '%s' WHERE id = '%s'" % (plan, tenant.id))
    return plan


NOT_YET = pytest.mark.xfail(
    strict=True,
    reason="api.md lists quota_exceeded (403) and rate_limited (429) but mf-api enforces no plan "
           "limits yet; strict: remove this marker once it does")


@NOT_YET
def test_quota_datasets(infra, tenant):
    _tiny_plan(infra, tenant, 3, 100000)
    for n in ("q1", "q2", "q3"):
        assert tenant.api.post("/api/v1/datasets", {"name": n}).status_code == 201
    r = tenant.api.post("/api/v1/datasets", {"name": "q4"})
    assert_error(r, 403, "quota_exceeded")
    assert tenant.api.get("/api/v1/stats").json()["datasets"] == 3
    # updates of existing datasets still work
    assert tenant.api.put("/api/v1/datasets/q1", {"description": "x"}).status_code == 200


@NOT_YET
def test_rate_limit(infra, tenant):
    _tiny_plan(infra, tenant, 1000, 5)
    statuses = []
    limited = None
    for _ in range(40):
        r = tenant.api.get("/api/v1/datasets")
        statuses.append(r.status_code)
        if r.status_code == 429:
            limited = r
            break
    assert limited is not None, "40 quick requests on a 5 req/s plan were never limited"
    assert_error(limited, 429, "rate_limited")
    assert limited.headers.get("Retry-After")
