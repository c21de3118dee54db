"""API keys of people and services: POST/GET /api/v1/api-keys, DELETE /api/v1/api-keys/{id}.

Personal keys act for their user and never exceed what the user holds (tenant
role, or a grant on the key's scope); service keys act for the tenant and only
a tenant admin manages them. No key gets more than its creator holds: a higher
role, a wider scope, a person's role outside a granted scope. Members and
sessions come from people.py (rows written as the table owner)."""

import datetime
import time
import uuid

import pytest

from conftest import (KEY_RE, poll_status, UUID_RE, Api, assert_error, assert_list_page, assert_ts, psql,
                      unique)
from people import People

CREATED_KEYS = {"id", "name", "role", "type", "scope", "prefix", "key", "expires_at", "created_at"}
LISTED_KEYS = {"id", "name", "role", "type", "scope", "prefix", "created_at", "created_by",
               "last_used_at", "expires_at", "revoked_at"}


@pytest.fixture(scope="session")
def people(migrated):
    return People(migrated["MF_PG_ADMIN_URL"])


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03dZ" % (dt.microsecond // 1000)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def keys_of(api):
    return {k["id"]: k for k in api.walk("/api/v1/api-keys")}


def check_created(doc, name, role, type_, scope=None):
    assert set(doc.keys()) >= CREATED_KEYS, doc
    assert UUID_RE.match(doc["id"]), doc
    assert (doc["name"], doc["role"], doc["type"], doc["scope"]) == (name, role, type_, scope), doc
    m = KEY_RE.match(doc["key"])
    assert m, doc["key"]
    assert doc["prefix"] == m.group(2), doc
    assert_ts(doc["created_at"])
    assert doc["revoked_at"] is None and doc["last_used_at"] is None, doc


def check_listed(item):
    assert set(item.keys()) >= LISTED_KEYS, item
    assert "key" not in item and "secret_hash" not in item and "api_key" not in item, item


@pytest.fixture
def world(tenant):
    """A tenant with domains sales and hr, and datasets in each."""
    api = tenant.api
    for d in ("sales", "hr"):
        api.ok("POST", "/api/v1/domains", 201, json_body={"name": d})
    api.create_dataset("orders", domain="sales")
    api.create_dataset("payroll", domain="hr")
    api.create_dataset("loose")
    return tenant


# ---------------------------------------------------------------- service keys


def test_service_key_create_list_revoke(tenant):
    r = tenant.api.post("/api/v1/api-keys", {"name": "ci", "role": "editor"})
    assert r.status_code == 201, r.text
    assert r.headers.get("Cache-Control") == "no-store"
    doc = r.json()
    check_created(doc, "ci", "editor", "service")
    assert doc["user_id"] is None and doc["expires_at"] is None
    c = Api(tenant.base, doc["key"])
    c.create_dataset("by-service-key")
    listed = keys_of(tenant.api)
    assert len(listed) == 2  # the first admin key and this one
    item = listed[doc["id"]]
    check_listed(item)
    assert (item["type"], item["role"], item["scope"], item["prefix"]) == \
        ("service", "editor", None, doc["prefix"])
    assert item["created_by"].startswith("key:"), item
    assert tenant.api.delete("/api/v1/api-keys/" + doc["id"]).status_code == 204
    assert_error(poll_status(c, "GET", "/api/v1/datasets", 401, 4.0), 401, "unauthorized")
    assert keys_of(tenant.api)[doc["id"]]["revoked_at"] is not None
    # revoking again, unknown and malformed ids
    assert_error(tenant.api.delete("/api/v1/api-keys/" + doc["id"]), 404, "not_found")
    assert_error(tenant.api.delete("/api/v1/api-keys/" + str(uuid.uuid4())), 404, "not_found")
    assert_error(tenant.api.delete("/api/v1/api-keys/not-a-uuid"), 404, "not_found")


def test_secret_shown_once(tenant, people):
    admin = people.add(tenant, "admin")
    made = [tenant.make_key("viewer"), admin.make_key("editor"), admin.make_key("viewer", type="service")]
    secrets_ = [KEY_RE.match(m["key"]).group(3) for m in made] + [KEY_RE.match(tenant.key).group(3)]
    texts = [tenant.api.get("/api/v1/api-keys", params={"limit": "500"}).text,
             admin.api.get("/api/v1/api-keys").text,
             tenant.api.get("/api/v1/audit", params={"limit": "500"}).text]
    for text in texts:
        for s in secrets_:
            assert s not in text
    for item in tenant.api.walk("/api/v1/api-keys"):
        check_listed(item)
    # the database keeps only the hash
    rows = psql(people.url, "SELECT secret_hash FROM api_keys WHERE id = '%s'" % made[1]["id"])[1]
    assert rows and all(s not in rows[0] for s in secrets_)


def test_expires_at(tenant, people):
    soon = now() + datetime.timedelta(days=3)
    doc = tenant.make_key("viewer", expires_at=rfc3339(soon))
    assert abs((datetime.datetime.fromisoformat(doc["expires_at"].replace("Z", "+00:00")) - soon)
               .total_seconds()) < 1
    member = people.add(tenant, "editor")
    past = rfc3339(now() - datetime.timedelta(minutes=5))
    before = len(keys_of(tenant.api))
    for api in (tenant.api, member.api):
        for exp in (past, "2001-01-01T00:00:00Z"):
            assert_error(api.post("/api/v1/api-keys", {"name": "x", "role": "viewer", "expires_at": exp}),
                         400, "invalid_request", "expires_at")
        for bad in ("tomorrow", "2030-13-01T00:00:00Z", 5, True, {}):
            assert_error(api.post("/api/v1/api-keys", {"name": "x", "role": "viewer", "expires_at": bad}),
                         400, "invalid_request", "expires_at")
    assert len(keys_of(tenant.api)) == before


def test_expired_keys_refused(tenant, people):
    member = people.add(tenant, "editor")
    exp = rfc3339(now() + datetime.timedelta(seconds=2))
    service = Api(tenant.base, tenant.make_key("viewer", expires_at=exp)["key"])
    personal = Api(tenant.base, member.make_key("editor", expires_at=exp)["key"])
    for c in (service, personal):
        c.ok("GET", "/api/v1/datasets", 200)
    for c in (service, personal):
        assert_error(poll_status(c, "GET", "/api/v1/datasets", 401, 6.0), 401, "unauthorized")
    # the tenant's log records the refusal
    deadline = time.monotonic() + 5
    while True:
        rows = tenant.api.walk("/api/v1/audit", params={"action": "auth.failed"})
        if any(r.get("after") and r["after"].get("reason") == "expired" for r in rows):
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)


# ---------------------------------------------------------------- personal keys


def test_personal_key_by_session(tenant, people):
    alice = people.add(tenant, "editor")
    bob = people.add(tenant, "editor")
    doc = alice.make_key("editor", name="alice-ci")
    check_created(doc, "alice-ci", "editor", "personal")
    assert doc["user_id"] == alice.id
    c = Api(tenant.base, doc["key"])
    c.create_dataset("by-alice-key")
    me = c.ok("GET", "/api/v1/me", 200).json()
    assert me["kind"] == "key" and me["role"] == "editor"
    assert me["user"]["id"] == alice.id
    # a person lists only their own personal keys; the tenant admin lists every key
    mine = alice.api.walk("/api/v1/api-keys")
    assert [k["id"] for k in mine] == [doc["id"]]
    check_listed(mine[0])
    assert mine[0]["created_by"] == "user:" + alice.email
    assert bob.api.walk("/api/v1/api-keys") == []
    assert doc["id"] in keys_of(tenant.api)
    # nobody else but an admin revokes it
    assert_error(bob.api.delete("/api/v1/api-keys/" + doc["id"]), 404, "not_found")
    assert_error(c.delete("/api/v1/api-keys/" + tenant.api.walk("/api/v1/api-keys")[0]["id"]), 404,
                 "not_found")
    c.ok("GET", "/api/v1/datasets", 200)
    assert alice.api.delete("/api/v1/api-keys/" + doc["id"]).status_code == 204
    assert_error(poll_status(c, "GET", "/api/v1/datasets", 401, 4.0), 401, "unauthorized")


def test_personal_key_made_by_personal_key(tenant, people):
    alice = people.add(tenant, "editor")
    first = alice.make_key("editor")
    k1 = Api(tenant.base, first["key"])
    r = k1.post("/api/v1/api-keys", {"name": "second", "role": "viewer"})
    assert r.status_code == 201, r.text
    second = r.json()
    check_created(second, "second", "viewer", "personal")
    assert second["user_id"] == alice.id
    assert {k["id"] for k in k1.walk("/api/v1/api-keys")} == {first["id"], second["id"]}
    # a personal key revokes its user's keys, itself included
    assert k1.delete("/api/v1/api-keys/" + second["id"]).status_code == 204
    assert k1.delete("/api/v1/api-keys/" + first["id"]).status_code == 204
    assert_error(poll_status(k1, "GET", "/api/v1/datasets", 401, 4.0), 401, "unauthorized")


def test_admin_session_makes_both_types(tenant, people):
    admin = people.add(tenant, "admin")
    svc = admin.make_key("admin", type="service", name="deploy")
    check_created(svc, "deploy", "admin", "service")
    assert svc["user_id"] is None
    own = admin.make_key("admin")
    check_created(own, own["name"], "admin", "personal")
    listed = keys_of(admin.api)
    assert {svc["id"], own["id"]} <= set(listed) and len(listed) == 3  # + the first admin key
    # the service key outlives its creator's membership; the personal one does not
    other = people.add(tenant, "admin")
    other.api.ok("DELETE", "/api/v1/members/" + admin.id, 204)
    Api(tenant.base, svc["key"]).ok("GET", "/api/v1/api-keys", 200)
    assert_error(poll_status(Api(tenant.base, own["key"]), "GET", "/api/v1/datasets", 401, 4.0), 401,
                 "unauthorized")


# ---------------------------------------------------------------- never more than the creator holds


def test_escalation_refused(world, people):
    t = world
    viewer = people.add(t, "viewer")
    editor = people.add(t, "editor")
    before = set(keys_of(t.api))

    def refused(api, body, status=403, needle=None):
        assert_error(api.post("/api/v1/api-keys", body), status,
                     "forbidden" if status == 403 else "invalid_request", needle)

    refused(viewer.api, {"name": "x", "role": "editor"})
    refused(viewer.api, {"name": "x", "role": "admin"})
    refused(editor.api, {"name": "x", "role": "admin"})
    # service keys: tenant admins only
    refused(editor.api, {"name": "x", "role": "viewer", "type": "service"}, needle="service")
    refused(t.client("editor"), {"name": "x", "role": "viewer"}, needle="service")
    refused(t.client("viewer"), {"name": "x", "role": "viewer", "type": "service"})
    # a service key acts for nobody: no personal keys
    refused(t.api, {"name": "x", "role": "viewer", "type": "personal"}, 400, "personal")
    refused(t.client("editor"), {"name": "x", "role": "viewer", "type": "personal"}, 400)
    # a personal key is bounded by its own role
    ek = editor.key_client("viewer")
    refused(ek, {"name": "x", "role": "editor"})
    # a person's tenant role bounds unscoped keys even when the caller's role is higher elsewhere
    people.grant(t, viewer.id, "editor", domain="sales")
    # (written behind mf-api's back: the cached session sees it within the 1 s TTL)
    assert poll_status(viewer.api, "GET", "/api/v1/me", 200, 4.0).json()["role"] in ("viewer", "editor")
    deadline = time.monotonic() + 4
    while viewer.api.get("/api/v1/me").json()["role"] != "editor":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    refused(viewer.api, {"name": "x", "role": "editor"}, needle="scope it")
    refused(viewer.api, {"name": "x", "role": "editor", "scope": {"domain": "hr"}})
    refused(viewer.api, {"name": "x", "role": "editor",
                         "scope": {"dataset": {"namespace": "default", "name": "loose"}}})
    # none of the refused keys exists
    assert before <= set(keys_of(t.api))
    assert all(k["name"] != "x" for k in keys_of(t.api).values())


def test_scoped_key_makes_only_narrower_keys(world, people):
    t = world
    editor = people.add(t, "editor")
    dom = editor.make_key("editor", scope={"domain": "sales"})
    assert dom["scope"] == {"domain": "sales"}
    dk = Api(t.base, dom["key"])
    me = dk.ok("GET", "/api/v1/me", 200).json()
    assert me["scope"] == {"domain": "sales"} and me["write_anywhere"] is False

    def make(body):
        return dk.post("/api/v1/api-keys", dict(body, name=unique("n")))

    for body in ({"role": "viewer"}, {"role": "editor", "scope": None},
                 {"role": "viewer", "scope": {"domain": "hr"}}):
        assert_error(make(body), 403, "forbidden", 'domain "sales"')
    # datasets outside the scope: refused, or (where the scope also bounds reads) not even found
    for body in ({"role": "viewer", "scope": {"dataset": {"name": "payroll"}}},
                 {"role": "viewer", "scope": {"dataset": {"name": "loose"}}}):
        r = make(body)
        if r.status_code == 403:
            assert_error(r, 403, "forbidden", 'domain "sales"')
        else:
            assert_error(r, 400, "invalid_request", "no dataset")
    same = make({"role": "editor", "scope": {"domain": "sales"}})
    assert same.status_code == 201, same.text
    narrower = make({"role": "viewer", "scope": {"dataset": {"namespace": "default", "name": "orders"}}})
    assert narrower.status_code == 201, narrower.text
    assert narrower.json()["scope"] == {"dataset": {"namespace": "default", "name": "orders"}}
    # a dataset-scoped key may not widen to the domain
    nk = Api(t.base, narrower.json()["key"])
    assert_error(nk.post("/api/v1/api-keys", {"name": "w", "role": "viewer", "scope": {"domain": "sales"}}),
                 403, "forbidden", "dataset default/orders")
    r = nk.post("/api/v1/api-keys", {"name": "w", "role": "viewer",
                                     "scope": {"dataset": {"name": "orders"}}})
    assert r.status_code == 201, r.text
    # service keys scoped by a tenant admin
    svc = t.make_key("editor", scope={"domain": "hr"})
    assert (svc["type"], svc["scope"]) == ("service", {"domain": "hr"})
    assert_error(Api(t.base, svc["key"]).post("/api/v1/api-keys", {"name": "s", "role": "viewer",
                                                                   "scope": {"domain": "hr"}}),
                 403, "forbidden", "service")


def test_scope_values(world):
    t = world
    bad = [
        ({"name": "x", "role": "admin", "scope": {"domain": "sales"}}, "admin"),
        ({"name": "x", "role": "viewer", "scope": {"domain": "nope"}}, 'no domain named "nope"'),
        ({"name": "x", "role": "viewer", "scope": {"dataset": {"name": "nope"}}}, "default/nope"),
        ({"name": "x", "role": "viewer", "scope": {"dataset": {"namespace": "crm", "name": "orders"}}},
         "crm/orders"),
        ({"name": "x", "role": "viewer", "scope": "sales"}, "scope"),
        ({"name": "x", "role": "viewer", "scope": ["sales"]}, "scope"),
        ({"name": "x", "role": "viewer", "scope": {}}, "scope"),
        ({"name": "x", "role": "viewer", "scope": {"domain": 1}}, "scope.domain"),
        ({"name": "x", "role": "viewer", "scope": {"domain": ""}}, "scope.domain"),
        ({"name": "x", "role": "viewer", "scope": {"team": "a"}}, "team"),
        ({"name": "x", "role": "viewer", "scope": {"domain": "sales", "dataset": {"name": "orders"}}},
         "scope"),
        ({"name": "x", "role": "viewer", "scope": {"dataset": "orders"}}, "scope.dataset"),
        ({"name": "x", "role": "viewer", "scope": {"dataset": {"namespace": "default"}}},
         "scope.dataset.name"),
        ({"name": "x", "role": "viewer", "scope": {"dataset": {"name": 7}}}, "scope.dataset.name"),
        ({"name": "x", "role": "viewer", "scope": {"dataset": {"name": "orders", "colour": 1}}},
         "colour"),
    ]
    before = set(keys_of(t.api))
    for body, needle in bad:
        assert_error(t.api.post("/api/v1/api-keys", body), 400, "invalid_request", needle)
    assert set(keys_of(t.api)) == before
    # null scope is the whole tenant; a dataset scope defaults to namespace "default"
    doc = t.make_key("editor", scope=None)
    assert doc["scope"] is None
    doc = t.make_key("viewer", scope={"dataset": {"name": "orders"}})
    assert doc["scope"] == {"dataset": {"namespace": "default", "name": "orders"}}
    assert keys_of(t.api)[doc["id"]]["scope"] == doc["scope"]


def test_domain_scoped_key_writes_in_its_domain(world):
    t = world
    k = Api(t.base, t.make_key("editor", scope={"domain": "sales"})["key"])
    k.ok("POST", "/api/v1/datasets", 201, json_body={"name": "invoices", "domain": "sales"})
    # PUT replaces the dataset: it stays in sales
    r = k.put("/api/v1/datasets/orders", {"description": "written by a sales key", "domain": "sales"})
    assert r.status_code == 200, r.text
    assert t.api.get_dataset("orders").json()["description"] == "written by a sales key"
    assert k.get("/api/v1/datasets/orders").status_code == 200


def test_domain_scoped_key_writes_nowhere_else(world):
    """The catalog's side of scopes is migrations/0007_access.sql; this checks a key made here."""
    t = world
    k = Api(t.base, t.make_key("editor", scope={"domain": "sales"})["key"])
    assert_error(k.post("/api/v1/datasets", {"name": "elsewhere", "domain": "hr"}), 403, "forbidden")
    assert_error(k.post("/api/v1/datasets", {"name": "nowhere"}), 403, "forbidden")
    # outside its scope a dataset is not even visible to the key
    r = k.put("/api/v1/datasets/payroll", {"description": "no", "domain": "hr"})
    assert r.status_code in (403, 404), r.text
    assert_error(r, r.status_code)
    r = k.put("/api/v1/datasets/orders", {"description": "moved out", "domain": "hr"})
    assert_error(r, 403, "forbidden")
    assert t.api.get_dataset("payroll").json()["description"] in ("", None)
    assert t.api.get_dataset("orders").json()["domain"] == "sales"
    assert [d["name"] for d in k.walk("/api/v1/datasets")] == ["orders"]


def test_grant_lets_a_person_make_a_scoped_key(world, people):
    t = world
    viewer = people.add(t, "viewer")
    grant = people.grant(t, viewer.id, "editor", domain="sales")
    dom = viewer.make_key("editor", scope={"domain": "sales"})
    ds = viewer.make_key("editor", scope={"dataset": {"name": "orders"}})  # inside the granted domain
    for doc in (dom, ds):
        c = Api(t.base, doc["key"])
        me = c.ok("GET", "/api/v1/me", 200).json()
        assert me["role"] == "editor", me
        r = c.put("/api/v1/datasets/orders", {"description": "by " + doc["name"], "domain": "sales"})
        assert r.status_code == 200, r.text
    # without the grant the keys fall back to the person's tenant role
    t.api.ok("DELETE", "/api/v1/members/%s/grants/%s" % (viewer.id, grant), 204)
    for doc in (dom, ds):
        c = Api(t.base, doc["key"])
        assert_error(poll_status(c, "PUT", "/api/v1/datasets/orders", 403, 4.0,
                                 json_body={"description": "z", "domain": "sales"}), 403, "forbidden")
        assert c.get("/api/v1/me").json()["role"] == "viewer"


# ---------------------------------------------------------------- membership changes reach keys


def test_personal_key_stops_when_member_removed(tenant, people):
    alice = people.add(tenant, "editor")
    keep = people.add(tenant, "admin")
    doc = alice.make_key("editor")
    c = Api(tenant.base, doc["key"])
    c.create_dataset("before-removal")
    keep.api.ok("DELETE", "/api/v1/members/" + alice.id, 204)
    assert_error(poll_status(c, "GET", "/api/v1/datasets", 401, 4.0), 401, "unauthorized")
    assert_error(alice.api.get("/api/v1/datasets"), 401, "unauthorized")
    assert keys_of(tenant.api)[doc["id"]]["revoked_at"] is not None
    # being added again does not revive the old key
    people.add(tenant, "editor", email=alice.email)
    time.sleep(1.2)  # past the test servers' key cache TTL
    assert_error(c.get("/api/v1/datasets"), 401, "unauthorized")


def test_personal_key_capped_when_demoted(tenant, people, spawn_server):
    # a long cache TTL: the change must reach the caches at once, not when they expire
    srv = spawn_server("people-ttl", {"MF_KEY_CACHE_TTL": "60"})
    admin = Api(srv.base, tenant.key)
    alice = people.add(tenant, "admin")
    other = people.add(tenant, "admin")
    k = Api(srv.base, alice.make_key("admin")["key"])
    k.ok("GET", "/api/v1/members", 200)
    k.create_dataset("as-admin")
    admin.ok("PUT", "/api/v1/members/" + alice.id, 200, json_body={"role": "editor"})
    assert_error(k.get("/api/v1/members"), 403, "forbidden")
    assert k.get("/api/v1/me").json()["role"] == "editor"
    k.create_dataset("as-editor")
    admin.ok("PUT", "/api/v1/members/" + alice.id, 200, json_body={"role": "viewer"})
    assert_error(k.post("/api/v1/datasets", {"name": "as-viewer"}), 403, "forbidden")
    k.ok("GET", "/api/v1/datasets/as-editor", 200)
    # promoted again: the key's own role (admin) is the bound once more
    admin.ok("PUT", "/api/v1/members/" + alice.id, 200, json_body={"role": "admin"})
    k.ok("GET", "/api/v1/members", 200)
    assert other.id
    srv.stop_and_check()


# ---------------------------------------------------------------- lists


def test_list_pagination_and_visibility(tenant, people):
    alice = people.add(tenant, "viewer")
    mine = [alice.make_key("viewer", name="a%d" % i)["id"] for i in range(5)]
    for i in range(3):
        tenant.make_key("viewer", name="s%d" % i)
    items = alice.api.walk("/api/v1/api-keys", limit=2)
    assert [k["id"] for k in items] == mine
    everything = tenant.api.walk("/api/v1/api-keys", limit=3)
    ids = [k["id"] for k in everything]
    assert len(ids) == 9 and len(set(ids)) == 9 and set(mine) <= set(ids)
    assert [k["type"] for k in everything].count("personal") == 5
    page = assert_list_page(tenant.api.get("/api/v1/api-keys", params={"limit": "4"}).json())
    assert len(page["items"]) == 4 and page["next_cursor"]
    for bad in ("nope", page["next_cursor"] + "x", "WyJ4IiwieSJd"):  # the last: ["x","y"]
        assert_error(tenant.api.get("/api/v1/api-keys", params={"cursor": bad}), 400, "invalid_request")
    for bad in ("0", "501", "x"):
        assert_error(tenant.api.get("/api/v1/api-keys", params={"limit": bad}), 400, "invalid_request")


# ---------------------------------------------------------------- bad input, other tenants


@pytest.mark.parametrize("data,code", [
    (b'{"name": "x",', "invalid_json"),
    (b"[]", "invalid_json"),
    (b'"x"', "invalid_json"),
    (b"", "invalid_json"),
    (b'{"name": "x", "name": "y", "role": "viewer"}', "invalid_json"),
])
def test_malformed_bodies(tenant, people, data, code):
    member = people.add(tenant, "editor")
    for api in (tenant.api, member.api):
        r = api.req("POST", "/api/v1/api-keys", data=data, headers={"Content-Type": "application/json"})
        assert_error(r, 400, code)


def test_field_types_and_unknown_fields(tenant, people):
    member = people.add(tenant, "editor")
    cases = [
        ({"role": "viewer"}, "name"),
        ({"name": "x"}, "role"),
        ({"name": 1, "role": "viewer"}, "name"),
        ({"name": "", "role": "viewer"}, "name"),
        ({"name": "n" * 129, "role": "viewer"}, "name"),
        ({"name": "a\nb", "role": "viewer"}, "name"),
        ({"name": "x", "role": 2}, "role"),
        ({"name": "x", "role": "owner"}, "role"),
        ({"name": "x", "role": "platform_admin"}, "role"),
        ({"name": "x", "role": "viewer", "type": "robot"}, "type"),
        ({"name": "x", "role": "viewer", "type": 1}, "type"),
        ({"name": "x", "role": "viewer", "colour": "red"}, "colour"),
        ({"name": "x", "role": "viewer", "user_id": str(uuid.uuid4())}, "user_id"),
    ]
    before = set(keys_of(tenant.api))
    for api in (tenant.api, member.api):
        for body, needle in cases:
            assert_error(api.post("/api/v1/api-keys", body), 400, "invalid_request", needle)
    assert set(keys_of(tenant.api)) == before
    r = tenant.api.req("POST", "/api/v1/api-keys", data=b'{"name":"x","role":"viewer"}',
                       headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")


def test_other_tenants_keys(tenant_factory, people):
    a, b = tenant_factory(), tenant_factory()
    a.api.ok("POST", "/api/v1/domains", 201, json_body={"name": "only-in-a"})
    a_member = people.add(a, "editor")
    a_keys = [a.make_key("viewer")["id"], a_member.make_key("viewer")["id"]]
    b_member = people.add(b, "admin")
    for api in (b.api, b_member.api):
        for kid in a_keys:
            assert_error(api.delete("/api/v1/api-keys/" + kid), 404, "not_found")
        assert not set(a_keys) & set(keys_of(api))
        assert_error(api.post("/api/v1/api-keys", {"name": "x", "role": "viewer",
                                                   "scope": {"domain": "only-in-a"}}),
                     400, "invalid_request", "only-in-a")
    # A's keys are untouched; B's list holds only B's first key and nothing of A's
    assert all(keys_of(a.api)[k]["revoked_at"] is None for k in a_keys)
    assert len(keys_of(b.api)) == 1
