"""API keys, authentication (401), roles (403), request ids."""

import datetime
import secrets
import time
import uuid

import pytest

from conftest import (KEY_RE, REQUEST_ID_RE, UUID_RE, Api, assert_error, assert_list_page,
                      assert_ts)

KEY_OBJ_KEYS = {"id", "name", "prefix", "role", "type", "scope", "created_at", "expires_at",
                "revoked_at", "last_used_at"}


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03dZ" % (dt.microsecond // 1000)


def parse_ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def poll_status(client, path, want, seconds):
    """Repeat a GET until it answers `want` or the deadline passes; return last response."""
    deadline = time.monotonic() + seconds
    while True:
        r = client.get(path)
        if r.status_code == want or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


# ---------------------------------------------------------------- keys


def test_create_key_shape(tenant):
    r = tenant.api.post("/api/v1/api-keys", {"name": "ci", "role": "editor"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body.keys()) >= {"key"} | KEY_OBJ_KEYS
    k = body
    assert set(k.keys()) >= KEY_OBJ_KEYS, k
    assert UUID_RE.match(k["id"]), k
    assert k["name"] == "ci"
    assert k["role"] == "editor"
    assert k["revoked_at"] is None
    assert k["last_used_at"] is None
    assert k["expires_at"] is None
    assert_ts(k["created_at"])
    m = KEY_RE.match(body["key"])
    assert m, body["key"]
    assert m.group(2) in k["prefix"]
    assert m.group(3) not in r.text.replace(body["key"], "")
    # the new key works, with its role
    c = Api(tenant.base, body["key"])
    assert c.get("/api/v1/datasets").status_code == 200


def test_create_key_with_expiry(tenant):
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)
    r = tenant.api.post("/api/v1/api-keys", {"name": "exp", "role": "viewer",
                                             "expires_at": rfc3339(exp)})
    assert r.status_code == 201, r.text
    k = r.json()
    assert_ts(k["expires_at"])
    assert abs((parse_ts(k["expires_at"]) - exp).total_seconds()) < 1.0


def test_list_keys_never_shows_secret(tenant):
    made = [tenant.make_key(role) for role in ("viewer", "editor", "admin")]
    r = tenant.api.get("/api/v1/api-keys")
    assert r.status_code == 200
    body = assert_list_page(r.json())
    ids = {k["id"] for k in body["items"]}
    assert {m["id"] for m in made} <= ids
    assert len(body["items"]) == 4  # the first admin key + 3
    for k in body["items"]:
        assert set(k.keys()) >= KEY_OBJ_KEYS, k
        assert "key" not in k and "api_key" not in k and "secret" not in k
    for m in made + [{"key": tenant.key}]:
        secret = KEY_RE.match(m["key"]).group(3)
        assert secret not in r.text


def test_keys_pagination(tenant):
    for i in range(6):
        tenant.make_key("viewer", name="pk%d" % i)
    items = tenant.api.walk("/api/v1/api-keys", limit=4)
    ids = [k["id"] for k in items]
    assert len(ids) == 7 and len(set(ids)) == 7


def test_revoke_key(tenant):
    made = tenant.make_key("editor")
    c = Api(tenant.base, made["key"])
    assert c.get("/api/v1/datasets").status_code == 200  # now in the cache
    r = tenant.api.delete("/api/v1/api-keys/" + made["id"])
    assert r.status_code == 204, r.text
    assert r.content == b""
    # Server under test runs with MF_KEY_CACHE_TTL=1.
    r = poll_status(c, "/api/v1/datasets", 401, 4.0)
    assert_error(r, 401, "unauthorized")
    listed = {k["id"]: k for k in tenant.api.walk("/api/v1/api-keys")}
    assert listed[made["id"]]["revoked_at"] is not None
    assert_ts(listed[made["id"]]["revoked_at"])
    # revoking again / unknown ids
    assert_error(tenant.api.delete("/api/v1/api-keys/" + str(uuid.uuid4())), 404, "not_found")


def test_revoked_key_never_used_is_rejected_at_once(tenant):
    made = tenant.make_key("viewer")
    assert tenant.api.delete("/api/v1/api-keys/" + made["id"]).status_code == 204
    assert_error(Api(tenant.base, made["key"]).get("/api/v1/datasets"), 401, "unauthorized")


def test_expired_key(tenant):
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    made = tenant.make_key("viewer", expires_at=rfc3339(exp))
    c = Api(tenant.base, made["key"])
    r = c.get("/api/v1/datasets")
    assert r.status_code == 200, "key valid until %s: %s" % (made["expires_at"], r.text)
    r = poll_status(c, "/api/v1/datasets", 401, 6.0)
    assert_error(r, 401, "unauthorized")
    assert datetime.datetime.now(datetime.timezone.utc) >= exp


def test_last_used_at_set_after_use(tenant):
    made = tenant.make_key("viewer")
    Api(tenant.base, made["key"]).ok("GET", "/api/v1/datasets", 200)
    deadline = time.monotonic() + 5
    while True:
        keys = {k["id"]: k for k in tenant.api.walk("/api/v1/api-keys")}
        lu = keys[made["id"]]["last_used_at"]
        if lu is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert lu is not None
    assert_ts(lu)


def test_key_from_other_env_is_unauthorized(tenant):
    m = KEY_RE.match(tenant.key)
    other = "mf_test_%s_%s" % (m.group(2), m.group(3))
    assert_error(Api(tenant.base, other).get("/api/v1/datasets"), 401, "unauthorized")


# ---------------------------------------------------------------- 401

BAD_AUTH_HEADERS = [
    pytest.param(None, id="missing"),
    pytest.param("", id="empty"),
    pytest.param("Bearer", id="bearer-no-key"),
    pytest.param("Bearer ", id="bearer-space"),
    pytest.param("Basic dXNlcjpwYXNz", id="basic"),
    pytest.param("Bearer not-a-key", id="malformed"),
    pytest.param("Bearer mf_live_abc_def", id="malformed-short"),
    pytest.param("Bearer mf_live_%s_%s" % ("g" * 12, "0" * 64), id="malformed-nonhex"),
    pytest.param("Bearer mf_live_%s_%s" % ("a" * 12, "0" * 63), id="malformed-short-secret"),
    pytest.param("Bearer mf_live_%s_%sx" % ("a" * 12, "0" * 64), id="malformed-trailing"),
    pytest.param("Bearer " + "x" * 10000, id="huge"),
]


@pytest.mark.parametrize("header", BAD_AUTH_HEADERS)
def test_bad_credentials(anon, header):
    headers = {} if header is None else {"Authorization": header}
    r = anon.get("/api/v1/datasets", headers=headers)
    assert_error(r, 401, "unauthorized")
    r = anon.post("/api/v1/datasets", {"name": "nope"}, headers=headers)
    assert_error(r, 401, "unauthorized")


def test_unknown_key(anon):
    key = "mf_live_%s_%s" % (secrets.token_hex(6), secrets.token_hex(32))
    assert_error(anon.get("/api/v1/datasets", key=key), 401, "unauthorized")


def test_right_prefix_wrong_secret(tenant):
    m = KEY_RE.match(tenant.key)
    forged = "mf_%s_%s_%s" % (m.group(1), m.group(2), secrets.token_hex(32))
    assert_error(Api(tenant.base, forged).get("/api/v1/datasets"), 401, "unauthorized")


TENANT_ROUTES_401 = [
    ("GET", "/api/v1/datasets"), ("POST", "/api/v1/datasets"),
    ("GET", "/api/v1/datasets/x"), ("PUT", "/api/v1/datasets/x"), ("DELETE", "/api/v1/datasets/x"),
    ("GET", "/api/v1/datasets/x/versions"), ("GET", "/api/v1/datasets/x/versions/1"),
    ("GET", "/api/v1/datasets/x/schema/diff?from=1&to=2"),
    ("POST", "/api/v1/datasets/x/tags"), ("DELETE", "/api/v1/datasets/x/tags/t"),
    ("POST", "/api/v1/datasets/x/fields/f/tags"), ("DELETE", "/api/v1/datasets/x/fields/f/tags/t"),
    ("GET", "/api/v1/tags"),
    ("GET", "/api/v1/domains"), ("POST", "/api/v1/domains"), ("GET", "/api/v1/domains/d"),
    ("DELETE", "/api/v1/domains/d"),
    ("GET", "/api/v1/owners"), ("POST", "/api/v1/owners"), ("GET", "/api/v1/owners/o"),
    ("DELETE", "/api/v1/owners/o"),
    ("GET", "/api/v1/glossary/terms"), ("POST", "/api/v1/glossary/terms"),
    ("GET", "/api/v1/glossary/terms/g"), ("PUT", "/api/v1/glossary/terms/g"),
    ("DELETE", "/api/v1/glossary/terms/g"), ("POST", "/api/v1/glossary/terms/g/links"),
    ("DELETE", "/api/v1/glossary/terms/g/links?dataset=x"),
    ("GET", "/api/v1/lineage/edges?dataset=x"), ("POST", "/api/v1/lineage/edges"),
    ("DELETE", "/api/v1/lineage/edges/" + str(uuid.UUID(int=1))),
    ("GET", "/api/v1/stats"), ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/api-keys"), ("POST", "/api/v1/api-keys"),
    ("DELETE", "/api/v1/api-keys/" + str(uuid.UUID(int=1))),
]


@pytest.mark.parametrize("method,path", TENANT_ROUTES_401,
                         ids=["%s %s" % mp for mp in TENANT_ROUTES_401])
def test_every_route_needs_a_key(anon, method, path):
    data = b'{"name":"x"}' if method in ("POST", "PUT") else None
    r = anon.req(method, path, data=data)
    assert_error(r, 401, "unauthorized")


# ---------------------------------------------------------------- 403 roles


def test_viewer_cannot_write(tenant):
    tenant.api.create_dataset("ds1", fields=[{"name": "a", "type": "int"}])
    tenant.api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "g1"})
    v = tenant.client("viewer")
    writes = [
        ("POST", "/api/v1/datasets", {"name": "x"}),
        ("PUT", "/api/v1/datasets/ds1", {"description": "changed"}),
        ("DELETE", "/api/v1/datasets/ds1", None),
        ("POST", "/api/v1/datasets/ds1/tags", {"tag": "pii"}),
        ("POST", "/api/v1/datasets/ds1/fields/a/tags", {"tag": "pii"}),
        ("POST", "/api/v1/domains", {"name": "d"}),
        ("POST", "/api/v1/owners", {"name": "o"}),
        ("POST", "/api/v1/glossary/terms", {"name": "g2"}),
        ("PUT", "/api/v1/glossary/terms/g1", {"definition": "changed"}),
        ("POST", "/api/v1/glossary/terms/g1/links", {"dataset": "ds1"}),
        ("DELETE", "/api/v1/glossary/terms/g1", None),
        ("POST", "/api/v1/lineage/edges", {"source": "ds1", "target": "ds2"}),
        ("POST", "/api/v1/api-keys", {"name": "k", "role": "viewer"}),
    ]
    for method, path, body in writes:
        if body is None:
            r = v.req(method, path)
        else:
            r = v.req(method, path, json_body=body)
        assert_error(r, 403, "forbidden")
    # reads work
    for path in ("/api/v1/datasets", "/api/v1/datasets/ds1", "/api/v1/tags", "/api/v1/stats",
                 "/api/v1/domains", "/api/v1/owners", "/api/v1/glossary/terms",
                 "/api/v1/datasets/ds1/versions", "/api/v1/lineage/edges?dataset=ds1"):
        assert v.get(path).status_code == 200, path
    # nothing changed
    doc = tenant.api.get_dataset("ds1").json()
    assert doc["version"] == 1 and doc["tags"] == [] and doc["description"] in (None, "")
    stats = tenant.api.get("/api/v1/stats").json()
    assert stats["datasets"] == 1 and stats["domains"] == 0 and stats["owners"] == 0
    assert stats["glossary_terms"] == 1 and stats["lineage_edges"] == 0


def test_editor_cannot_manage_keys_or_read_audit(tenant):
    e = tenant.client("editor")
    # a service key that is not a tenant admin makes no key and sees or revokes none but its own
    assert_error(e.post("/api/v1/api-keys", {"name": "k", "role": "viewer"}), 403, "forbidden")
    assert e.walk("/api/v1/api-keys") == []
    first = tenant.api.walk("/api/v1/api-keys")[0]["id"]
    assert_error(e.delete("/api/v1/api-keys/" + first), 404, "not_found")
    assert_error(e.get("/api/v1/audit"), 403, "forbidden")
    # but may write the catalog
    assert e.post("/api/v1/datasets", {"name": "by_editor"}).status_code == 201
    # and the admin key was not revoked
    assert tenant.api.get("/api/v1/api-keys").status_code == 200


def test_editor_cannot_escalate(tenant):
    e = tenant.client("editor")
    r = e.post("/api/v1/api-keys", {"name": "esc", "role": "admin"})
    assert_error(r, 403, "forbidden")
    assert len(tenant.api.walk("/api/v1/api-keys")) == 2


# ---------------------------------------------------------------- request ids and routing


def test_request_id_echoed(api):
    r = api.get("/api/v1/datasets", headers={"X-Request-ID": "abc.DEF_123-x"})
    assert r.status_code == 200
    assert r.headers.get("X-Request-ID") == "abc.DEF_123-x"
    r = api.get("/api/v1/datasets/nope", headers={"X-Request-ID": "req-404"})
    body = assert_error(r, 404, "not_found")
    assert body["error"]["request_id"] == "req-404"
    r = api.get("/healthz", headers={"X-Request-ID": "h" * 64})
    assert r.headers.get("X-Request-ID") == "h" * 64


def test_request_id_generated(anon, api):
    for r in (anon.get("/healthz"), api.get("/api/v1/datasets"), anon.get("/api/v1/datasets")):
        rid = r.headers.get("X-Request-ID")
        assert rid and REQUEST_ID_RE.match(rid), rid
    a = api.get("/api/v1/datasets").headers["X-Request-ID"]
    b = api.get("/api/v1/datasets").headers["X-Request-ID"]
    assert a != b


@pytest.mark.parametrize("bad", ["h" * 65, "has space", "semi;colon", "quote\"", "ünï"])
def test_bad_request_id_replaced(api, bad):
    r = api.get("/api/v1/datasets/nope", headers={"X-Request-ID": bad.encode("utf-8")})
    body = assert_error(r, 404, "not_found")
    rid = r.headers["X-Request-ID"]
    assert rid != bad and REQUEST_ID_RE.match(rid), rid
    assert body["error"]["request_id"] == rid


def test_unknown_route_404(api, anon):
    assert_error(api.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error(api.get("/api/v1/datasets/x/y/z/w"), 404, "not_found")
    assert_error(anon.get("/no-such-page-at-all"), 404, "not_found")


@pytest.mark.parametrize("method,path", [
    ("PATCH", "/api/v1/datasets"),
    ("DELETE", "/api/v1/datasets"),
    ("PUT", "/api/v1/datasets"),
    ("PATCH", "/api/v1/datasets/x"),
    ("POST", "/api/v1/datasets/x"),
    ("PUT", "/api/v1/api-keys"),
    ("GET", "/api/v1/api-keys/" + str(uuid.UUID(int=1))),
    ("POST", "/api/v1/stats"),
    ("DELETE", "/api/v1/audit"),
    ("PUT", "/api/v1/tags"),
    ("PUT", "/api/v1/domains/d"),
    ("DELETE", "/api/v1/glossary/terms"),
    ("PUT", "/api/v1/lineage/edges"),
    ("GET", "/api/v1/lineage/edges/" + str(uuid.UUID(int=1))),
    ("POST", "/healthz"),
])
def test_method_not_allowed(api, method, path):
    assert_error(api.req(method, path, data=b"{}" if method in ("POST", "PUT", "PATCH") else None),
                 405, "method_not_allowed")


def test_key_created_already_expired_never_works(tenant):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    r = tenant.api.post("/api/v1/api-keys", {"name": "past", "role": "viewer",
                                             "expires_at": rfc3339(past)})
    if r.status_code == 201:
        c = Api(tenant.base, r.json()["key"])
        assert_error(c.get("/api/v1/datasets"), 401, "unauthorized")
    else:
        assert_error(r, 400, "invalid_request", "expires_at")


def test_revocation_reaches_other_replica(tenant, spawn_server):
    other = spawn_server("replica", {"MF_KEY_CACHE_TTL": "1"})
    made = tenant.make_key("editor")
    here = Api(tenant.base, made["key"])
    there = Api(other.base, made["key"])
    assert here.get("/api/v1/datasets").status_code == 200
    assert there.get("/api/v1/datasets").status_code == 200  # cached there now
    assert tenant.api.delete("/api/v1/api-keys/" + made["id"]).status_code == 204
    assert_error(poll_status(there, "/api/v1/datasets", 401, 4.0), 401, "unauthorized")
    assert_error(poll_status(here, "/api/v1/datasets", 401, 4.0), 401, "unauthorized")
    other.stop_and_check()


def test_key_env(tenant, spawn_server):
    other = spawn_server("keyenv", {"MF_KEY_ENV": "staging"})
    r = Api(other.base, tenant.key).post("/api/v1/api-keys", {"name": "stg", "role": "viewer"})
    assert r.status_code == 201, r.text
    m = KEY_RE.match(r.json()["key"])
    assert m and m.group(1) == "staging", r.json()["key"]
    other.stop_and_check()


def test_revocation_is_pushed_to_replicas(tenant, spawn_server):
    """DESIGN: revocation reaches every replica at once (Redis pub/sub), not
    only when a long cache TTL runs out."""
    a = spawn_server("push-a", {"MF_KEY_CACHE_TTL": "60"})
    b = spawn_server("push-b", {"MF_KEY_CACHE_TTL": "60"})
    made = tenant.make_key("viewer")
    ca = Api(a.base, made["key"])
    cb = Api(b.base, made["key"])
    assert ca.get("/api/v1/datasets").status_code == 200
    assert cb.get("/api/v1/datasets").status_code == 200  # cached on both for 60 s
    assert Api(a.base, tenant.key).delete("/api/v1/api-keys/" + made["id"]).status_code == 204
    assert_error(poll_status(ca, "/api/v1/datasets", 401, 3.0), 401, "unauthorized")
    assert_error(poll_status(cb, "/api/v1/datasets", 401, 3.0), 401, "unauthorized")
    a.stop_and_check()
    b.stop_and_check()
