"""Bad input on every write route: always a 4xx with the error envelope, never
a 5xx, and nothing written."""

import json
import socket
import urllib.parse

import pytest

from conftest import Api, assert_4xx_envelope, assert_error, unique

TENANT = object()  # marker: the route is called with the tenant admin key
PLATFORM = object()  # marker: called with the platform key


class Route:
    def __init__(self, rid, method, path, body, required=(), types=(), names=(), who=TENANT,
                 bad_values=(), name_values=None):
        self.id = rid
        self.method = method
        self.path = path
        self.body = body  # a valid body
        self.required = required  # fields whose absence is 400
        self.types = types  # (field path for the message, body) pairs with a wrong type
        self.names = names  # name-like fields (1-512 chars)
        self.who = who
        self.bad_values = bad_values  # (field, body) with a bad value of the right type
        # values every name field must refuse (catalog names: 1-512 chars, no controls)
        self.name_values = name_values or NAME_VALUES


NAME_VALUES = ("n" * 20000, "n" * 513, "", "a\x01b", "a\nb", "tab\there", "del\x7f")
OTHER_NAME_VALUES = ("n" * 20000, "", "a\x01b")


def with_(base, **kw):
    b = dict(base)
    b.update(kw)
    return b


DS = {"name": "newds", "namespace": "default", "path": "s3://x", "format": "parquet",
      "description": "d", "domain": "dom", "owner": "own", "tags": ["t1"],
      "fields": [{"name": "a", "type": "int", "nullable": True, "description": "", "tags": []}],
      "upstream": ["up1"], "operational": {"row_count": 1, "size_bytes": 2, "partition_keys": []}}
DS_PUT = {k: v for k, v in DS.items() if k != "name"}


def ds_types(base):
    return [
        ("namespace", with_(base, namespace=1)),
        ("path", with_(base, path=1)),
        ("format", with_(base, format=[])),
        ("description", with_(base, description={})),
        ("domain", with_(base, domain=5)),
        ("owner", with_(base, owner=True)),
        ("tags", with_(base, tags="pii")),
        ("tags[0]", with_(base, tags=[1])),
        ("fields", with_(base, fields={})),
        ("fields[0]", with_(base, fields=[5])),
        ("fields[0].name", with_(base, fields=[{"name": 1, "type": "int"}])),
        ("fields[2].type", with_(base, fields=[{"name": "a", "type": "int"},
                                               {"name": "b", "type": "int"},
                                               {"name": "c", "type": 7}])),
        ("fields[0].nullable", with_(base, fields=[{"name": "a", "type": "int",
                                                    "nullable": "yes"}])),
        ("fields[0].description", with_(base, fields=[{"name": "a", "type": "int",
                                                       "description": 3}])),
        ("fields[0].tags", with_(base, fields=[{"name": "a", "type": "int", "tags": "x"}])),
        ("upstream", with_(base, upstream="x")),
        ("upstream[0]", with_(base, upstream=[1])),
        ("upstream[0]", with_(base, upstream=[{"namespace": "x"}])),
        ("operational", with_(base, operational=[])),
        ("operational.row_count", with_(base, operational={"row_count": "ten"})),
        ("operational.size_bytes", with_(base, operational={"size_bytes": -1.5})),
        ("operational.partition_keys", with_(base, operational={"partition_keys": "day"})),
        ("fields[0].type", with_(base, fields=[{"name": "a"}])),
        ("fields[0].name", with_(base, fields=[{"type": "int"}])),
        ("", with_(base, fields=[{"name": "a", "type": "int"},
                                 {"name": "a", "type": "text"}])),  # duplicate name
        ("colour", with_(base, fields=[{"name": "a", "type": "int", "colour": "red"}])),
    ]


ROUTES = [
    Route("tenants", "POST", "/api/v1/admin/tenants", {"name": "x-tenant", "plan": "team"},
          required=("name",), types=[("name", {"name": 1}), ("plan", {"name": "t", "plan": 1})],
          names=("name",), who=PLATFORM, name_values=OTHER_NAME_VALUES,
          bad_values=[("plan", {"name": "t", "plan": "gold"})]),
    Route("keys", "POST", "/api/v1/api-keys", {"name": "k", "role": "viewer"},
          required=("name", "role"),
          types=[("name", {"name": 1, "role": "viewer"}), ("role", {"name": "k", "role": 1}),
                 ("expires_at", {"name": "k", "role": "viewer", "expires_at": 1})],
          names=("name",), name_values=OTHER_NAME_VALUES,
          bad_values=[("role", {"name": "k", "role": "owner"}),
                      ("role", {"name": "k", "role": "platform_admin"}),
                      ("expires_at", {"name": "k", "role": "viewer", "expires_at": "tomorrow"})]),
    Route("datasets-post", "POST", "/api/v1/datasets", DS, required=("name",),
          types=[("name", with_(DS, name=1))] + ds_types(DS), names=("name", "namespace")),
    Route("datasets-put", "PUT", "/api/v1/datasets/orders", DS_PUT,
          types=[("name", with_(DS_PUT, name=1))] + ds_types(DS_PUT), names=("namespace",)),
    Route("dataset-tags", "POST", "/api/v1/datasets/orders/tags", {"tag": "gold"},
          required=("tag",), types=[("tag", {"tag": 1}), ("tag", {"tag": ["a"]})],
          bad_values=[("tag", {"tag": "bad tag"})]),
    Route("field-tags", "POST", "/api/v1/datasets/orders/fields/id/tags", {"tag": "gold"},
          required=("tag",), types=[("tag", {"tag": 1}), ("tag", {"tag": None})],
          bad_values=[("tag", {"tag": "x" * 129})]),
    Route("domains", "POST", "/api/v1/domains", {"name": "d", "description": "x"},
          required=("name",), types=[("name", {"name": 1}),
                                     ("description", {"name": "d", "description": 1})],
          names=("name",)),
    Route("owners", "POST", "/api/v1/owners", {"name": "o", "email": "o@x", "team": "t"},
          required=("name",), types=[("name", {"name": []}), ("email", {"name": "o", "email": 1}),
                                     ("team", {"name": "o", "team": {}})],
          names=("name",)),
    Route("terms-post", "POST", "/api/v1/glossary/terms",
          {"name": "T", "definition": "d", "status": "draft"}, required=("name",),
          types=[("name", {"name": 1}), ("definition", {"name": "T", "definition": 1}),
                 ("status", {"name": "T", "status": 1})],
          names=("name",), bad_values=[("status", {"name": "T", "status": "final"})]),
    Route("terms-put", "PUT", "/api/v1/glossary/terms/Revenue",
          {"definition": "d2", "status": "approved"},
          types=[("definition", {"definition": 1}), ("status", {"status": False})],
          bad_values=[("status", {"status": "final"})]),
    Route("term-links", "POST", "/api/v1/glossary/terms/Revenue/links",
          {"dataset": "orders", "namespace": "default", "field": "id"}, required=("dataset",),
          types=[("dataset", {"dataset": 1}), ("namespace", {"dataset": "orders", "namespace": 1}),
                 ("field", {"dataset": "orders", "field": 1})]),
    Route("lineage", "POST", "/api/v1/lineage/edges",
          {"source": "orders", "target": "newtarget",
           "columns": [{"source_field": "id", "target_field": "id"}]},
          required=("source", "target"),
          types=[("source", {"source": 1, "target": "b"}),
                 ("target", {"source": "a", "target": True}),
                 ("columns", {"source": "a", "target": "b", "columns": {}}),
                 ("columns[0].target_field", {"source": "a", "target": "b",
                                              "columns": [{"source_field": "x",
                                                           "target_field": 2}]})]),
]
ROUTE_IDS = [r.id for r in ROUTES]


@pytest.fixture(scope="module")
def world(tenant_factory, admin_api):
    t = tenant_factory()
    t.api.create_dataset("orders", fields=[{"name": "id", "type": "int"}])
    t.api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "Revenue"})
    return t, admin_api


def client_for(route, world):
    t, admin = world
    return admin if route.who is PLATFORM else t.api


def snapshot(route, world):
    t, admin = world
    s = {
        "stats": t.api.get("/api/v1/stats").json(),
        "orders": t.api.get_dataset("orders").json(),
        "term": t.api.get("/api/v1/glossary/terms/Revenue").json(),
        "keys": sorted(k["id"] for k in t.api.walk("/api/v1/api-keys")),
    }
    if route.who is PLATFORM:
        s["tenants"] = sorted(x["id"] for x in admin.walk("/api/v1/admin/tenants", limit=500))
    return s


def send(route, world, data):
    c = client_for(route, world)
    return c.req(route.method, route.path, data=data,
                 headers={"Content-Type": "application/json"})


def check_nothing_written(route, world, before):
    after = snapshot(route, world)
    assert after == before, "a rejected request changed state:\n%r\n%r" % (before, after)


# ---------------------------------------------------------------- sanity: valid bodies work


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_valid_body_accepted(route, tenant_factory, admin_api):
    t = tenant_factory()
    t.api.create_dataset("orders", fields=[{"name": "id", "type": "int"}])
    t.api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "Revenue"})
    c = admin_api if route.who is PLATFORM else t.api
    body = dict(route.body)
    if route.id == "tenants":
        body["name"] = unique("valid")
    r = c.req(route.method, route.path, json_body=body)
    assert r.status_code in (200, 201), r.text


# ---------------------------------------------------------------- not JSON

NOT_JSON = [
    ("malformed", b'{"name": "x",}'),
    ("unquoted", b"{name: x}"),
    ("single-quotes", b"{'name': 'x'}"),
    ("nan", b'{"name": NaN}'),
    ("comment", b'{"name": "x" /* c */}'),
    ("array", b"[]"),
    ("array-of-object", b'[{"name": "x"}]'),
    ("number", b"42"),
    ("string", b'"name"'),
    ("null", b"null"),
    ("true", b"true"),
    ("empty", b""),
    ("whitespace", b"   \n"),
    ("trailing", b'{"name": "x"} {}'),
    ("bom-garbage", b"\xef\xbb\xbf\xef\xbb\xbf{}"),
    ("binary", bytes(range(256))),
]


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_not_json(route, world):
    before = snapshot(route, world)
    valid = json.dumps(route.body).encode()
    cases = NOT_JSON + [("truncated", valid[: len(valid) // 2]), ("truncated-1", valid[:-1])]
    for name, data in cases:
        r = send(route, world, data)
        try:
            assert_error(r, 400, "invalid_json")
        except AssertionError as e:
            raise AssertionError("case %s: %s" % (name, e))
    check_nothing_written(route, world, before)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_deep_nesting(route, world):
    before = snapshot(route, world)
    for data in (b"[" * 100000, b'{"a":' * 50000 + b"1" + b"}" * 50000):
        r = send(route, world, data)
        assert_error(r, 400, ("invalid_json", "invalid_request"))
    check_nothing_written(route, world, before)


def _first_string_field(body):
    for k, v in body.items():
        if isinstance(v, str):
            return k
    raise AssertionError("no string field in %r" % body)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_bad_encoding(route, world):
    before = snapshot(route, world)
    field = _first_string_field(route.body)
    marker = "@@MARK@@"
    body = dict(route.body)
    body[field] = marker
    text = json.dumps(body).encode()
    for name, raw in (("invalid-utf8", b"\xff\xfe"), ("overlong", b"\xc0\xaf"),
                      ("truncated-seq", b"abc\xe2\x82"), ("surrogate-utf8", b"\xed\xa0\x80"),
                      ("nul-escape", b"a\\u0000b"), ("lone-surrogate-escape", b"\\ud800x")):
        data = text.replace(marker.encode(), raw)
        r = send(route, world, data)
        try:
            if name == "lone-surrogate-escape":
                assert_4xx_envelope(r)
            else:
                assert_error(r, 400, ("invalid_json", "invalid_request"))
        except AssertionError as e:
            raise AssertionError("case %s (field %s): %s" % (name, field, e))
    check_nothing_written(route, world, before)


# ---------------------------------------------------------------- fields


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_unknown_field(route, world):
    before = snapshot(route, world)
    body = with_(route.body, colour="red")
    r = client_for(route, world).req(route.method, route.path, json_body=body)
    assert_error(r, 400, "invalid_request", "colour")
    check_nothing_written(route, world, before)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.required],
                         ids=[r.id for r in ROUTES if r.required])
def test_missing_required(route, world):
    before = snapshot(route, world)
    for field in route.required:
        body = {k: v for k, v in route.body.items() if k != field}
        r = client_for(route, world).req(route.method, route.path, json_body=body)
        assert_error(r, 400, "invalid_request", field)
        body = with_(route.body, **{field: None})
        r = client_for(route, world).req(route.method, route.path, json_body=body)
        assert_error(r, 400, "invalid_request", field)
    r = client_for(route, world).req(route.method, route.path, json_body={})
    assert_error(r, 400, "invalid_request", route.required[0])
    check_nothing_written(route, world, before)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_wrong_types(route, world):
    before = snapshot(route, world)
    for field, body in route.types:
        r = client_for(route, world).req(route.method, route.path, json_body=body)
        try:
            assert_error(r, 400, "invalid_request", field)
        except AssertionError as e:
            raise AssertionError("field %s, body %s: %s" % (field, json.dumps(body)[:200], e))
    check_nothing_written(route, world, before)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.bad_values],
                         ids=[r.id for r in ROUTES if r.bad_values])
def test_bad_values(route, world):
    before = snapshot(route, world)
    for field, body in route.bad_values:
        r = client_for(route, world).req(route.method, route.path, json_body=body)
        assert_error(r, 400, "invalid_request", field)
    check_nothing_written(route, world, before)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.names],
                         ids=[r.id for r in ROUTES if r.names])
def test_long_and_bad_names(route, world):
    before = snapshot(route, world)
    for field in route.names:
        for value in route.name_values:
            body = with_(route.body, **{field: value})
            r = client_for(route, world).req(route.method, route.path, json_body=body)
            try:
                assert_error(r, 400, "invalid_request", field)
            except AssertionError as e:
                raise AssertionError("%s=%r: %s" % (field, value[:20], e))
    check_nothing_written(route, world, before)


def test_long_values_everywhere(world):
    t, _ = world
    api = t.api
    before = snapshot(ROUTES[2], world)
    big = "x" * 20000
    for body in (
        with_(DS, fields=[{"name": big, "type": "int"}]),
        with_(DS, domain=big),
        with_(DS, owner=big),
        with_(DS, upstream=[big]),
        with_(DS, upstream=[{"namespace": big, "name": "x"}]),
        with_(DS, description="d" * 65537),
        with_(DS, tags=["t" * 129]),
    ):
        r = api.post("/api/v1/datasets", body)
        assert_error(r, 400, "invalid_request")
    for body in ({"source": big, "target": "b"}, {"source": "a", "target": {"namespace": "n",
                                                                           "name": big}}):
        assert_error(api.post("/api/v1/lineage/edges", body), 400, "invalid_request")
    assert_error(api.post("/api/v1/glossary/terms/Revenue/links", {"dataset": big}), 400,
                 "invalid_request")
    check_nothing_written(ROUTES[2], world, before)


# ---------------------------------------------------------------- size and media type


def raw_http(base, method, path, headers, body, timeout=60):
    """Send one request over a plain socket, tolerating an early close by the
    server; return (status, headers dict, body bytes)."""
    u = urllib.parse.urlparse(base)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n" % (
            method, path, u.netloc, len(body))
        for k, v in headers.items():
            head += "%s: %s\r\n" % (k, v)
        head += "\r\n"
        try:
            s.sendall(head.encode())
            view = memoryview(body)
            for i in range(0, len(body), 1 << 16):
                s.sendall(view[i: i + (1 << 16)])
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        want = None
        while want is None or len(data) < want:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
            if want is None and b"\r\n\r\n" in data:
                hdr = data.split(b"\r\n\r\n", 1)[0]
                for line in hdr.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        want = len(hdr) + 4 + int(line.split(b":", 1)[1])
    finally:
        s.close()
    assert data, "no response at all"
    hdr, _, rest = data.partition(b"\r\n\r\n")
    lines = hdr.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, rest


def check_raw_error(status, hdrs, body, want_status, want_code):
    assert status == want_status, (status, body[:300])
    assert hdrs.get("content-type", "").startswith("application/json"), hdrs
    doc = json.loads(body)
    assert doc["error"]["code"] == want_code, doc
    assert doc["error"]["message"]
    assert doc["error"]["request_id"] == hdrs.get("x-request-id"), (doc, hdrs)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_body_20mb(route, world, base_url, platform_key):
    t, _ = world
    before = snapshot(route, world)
    key = platform_key if route.who is PLATFORM else t.key
    body = b'{"name": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    status, hdrs, rbody = raw_http(base_url, route.method, route.path,
                                   {"Authorization": "Bearer " + key,
                                    "Content-Type": "application/json",
                                    "X-Request-ID": "big-body-1"}, body)
    check_raw_error(status, hdrs, rbody, 413, "payload_too_large")
    assert hdrs.get("x-request-id") == "big-body-1"
    check_nothing_written(route, world, before)


def test_body_just_over_default_limit(world, base_url):
    t, _ = world
    api = t.api
    desc = "d" * 60000
    ok = json.dumps({"name": "under_limit", "description": desc}).encode()
    assert len(ok) < 1048576
    r = api.req("POST", "/api/v1/datasets", data=ok)
    assert r.status_code == 201, r.text
    over = b'{"name":"over_limit","description":"' + b"d" * 1048576 + b'"}'
    status, hdrs, rbody = raw_http(base_url, "POST", "/api/v1/datasets",
                                   {"Authorization": "Bearer " + t.key,
                                    "Content-Type": "application/json"}, over)
    check_raw_error(status, hdrs, rbody, 413, "payload_too_large")
    assert api.get_dataset("over_limit").status_code == 404
    assert api.delete("/api/v1/datasets/under_limit").status_code == 204


def test_small_max_body(spawn_server, tenant_factory):
    srv = spawn_server("smallbody", {"MF_HTTP_MAX_BODY": "2048"})
    t = tenant_factory()
    api = Api(srv.base, t.key)

    def body_of(size, name):
        b = {"name": name, "description": ""}
        pad = size - len(json.dumps(b).encode())
        b["description"] = "d" * pad
        data = json.dumps(b).encode()
        assert len(data) == size
        return data

    r = api.req("POST", "/api/v1/datasets", data=body_of(2048, "at_limit"))
    assert r.status_code == 201, r.text
    r = api.req("POST", "/api/v1/datasets", data=body_of(2049, "over_limit"))
    assert_error(r, 413, "payload_too_large")
    status, hdrs, rbody = raw_http(srv.base, "POST", "/api/v1/datasets",
                                   {"Authorization": "Bearer " + t.key,
                                    "Content-Type": "application/json"},
                                   body_of(500000, "way_over"))
    check_raw_error(status, hdrs, rbody, 413, "payload_too_large")
    names = [d["name"] for d in api.walk("/api/v1/datasets")]
    assert names == ["at_limit"]
    srv.stop_and_check()


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_wrong_media_type(route, world):
    before = snapshot(route, world)
    c = client_for(route, world)
    data = json.dumps(route.body).encode()
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "text/json-ish"):
        r = c.req(route.method, route.path, data=data, headers={"Content-Type": ctype})
        assert_error(r, 415, "unsupported_media_type")
    check_nothing_written(route, world, before)


# ---------------------------------------------------------------- stored verbatim

SQLISH = "'; DROP TABLE datasets; --"


def test_sql_strings_stored_verbatim(api):
    name = "Robert'); DROP TABLE students;--"
    body = {"name": name, "namespace": "ns' OR '1'='1", "description": SQLISH,
            "path": "s3://x/'\"\\;--", "format": "parquet\" OR 1=1 --",
            "domain": "dom' OR 'x'='x", "owner": "o\"; SELECT pg_sleep(10); --",
            "fields": [{"name": "col'; DELETE FROM fields; --", "type": "text); DROP TABLE x; --",
                        "description": SQLISH}]}
    r = api.post("/api/v1/datasets", body)
    assert r.status_code == 201, r.text
    doc = api.get_dataset(name, "ns' OR '1'='1").json()
    for k in ("name", "namespace", "description", "path", "format", "domain", "owner"):
        assert doc[k] == body[k], k
    assert doc["fields"][0]["name"] == body["fields"][0]["name"]
    assert doc["fields"][0]["type"] == body["fields"][0]["type"]
    assert doc["fields"][0]["description"] == SQLISH
    assert api.post("/api/v1/datasets", {"name": "plain"}).status_code == 201
    # filters take the strings as data
    items = api.walk("/api/v1/datasets", params={"domain": "dom' OR 'x'='x"})
    assert [i["name"] for i in items] == [name]
    assert api.walk("/api/v1/datasets", params={"namespace": "' OR '1'='1"}) == []
    assert api.walk("/api/v1/datasets", params={"owner": "x' OR 1=1 --"}) == []
    s = api.get("/api/v1/stats").json()
    assert s["datasets"] == 2 and s["fields"] == 1
    r = api.post("/api/v1/glossary/terms", {"name": "T'--", "definition": SQLISH})
    assert r.status_code == 201
    assert api.get("/api/v1/glossary/terms/" + urllib.parse.quote("T'--", safe="")).json()[
        "definition"] == SQLISH


# ---------------------------------------------------------------- odd URLs


@pytest.mark.parametrize("path", [
    "/api/v1/datasets/%FF%FE",
    "/api/v1/datasets/a%00b",
    "/api/v1/datasets/%",
    "/api/v1/datasets/%zz",
    "/api/v1/datasets?namespace=%FF",
    "/api/v1/datasets?limit=%00",
    "/api/v1/datasets?namespace=a&namespace=b",
    "/api/v1/datasets/" + "x" * 4000,
    "/api/v1/domains/" + "%41" * 1000,
    "/api/v1/datasets/x/versions/99999999999999999999999",
    "/api/v1/datasets/x/schema/diff?from=-1&to=99999999999999999999",
])
def test_odd_urls_never_5xx(api, path):
    api.create_dataset("x")
    r = api.s.get(api.base + path, headers={"Authorization": "Bearer " + api.key})
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert_4xx_envelope(r)
    assert api.get("/api/v1/stats").json()["datasets"] == 1


# ---------------------------------------------------------------- odd but well-formed bodies

ODD_DATASETS = [
    ("self-upstream", {"upstream": ["SELF"]}),
    ("dup-upstream", {"upstream": ["u", "u", {"namespace": "default", "name": "u"}]}),
    ("dup-tags", {"tags": ["pii", "pii"]}),
    ("dup-field-tags", {"fields": [{"name": "a", "type": "int", "tags": ["k", "k"]}]}),
    ("max-bigint", {"operational": {"row_count": 9223372036854775807}}),
    ("negative-count", {"operational": {"row_count": -1, "size_bytes": -1}}),
    ("float-count", {"operational": {"row_count": 1e30}}),
    ("long-type", {"fields": [{"name": "a", "type": "t" * 20000}]}),
    ("long-path", {"path": "p" * 20000}),
    ("long-format", {"format": "f" * 20000}),
    ("many-fields", {"fields": [{"name": "f%05d" % i, "type": "int"} for i in range(5000)]}),
    ("many-tags", {"tags": ["t%04d" % i for i in range(1000)]}),
    ("many-upstream", {"upstream": ["up%04d" % i for i in range(300)]}),
    ("empty-field-type", {"fields": [{"name": "a", "type": ""}]}),
    ("null-optional", {"path": None, "format": None, "description": None, "domain": None,
                       "owner": None, "tags": None, "fields": None, "upstream": None,
                       "operational": None}),
    ("empty-operational", {"operational": {}}),
    ("unicode-names", {"fields": [{"name": "\u00e9\u4e2d\U0001F4E6", "type": "int"}]}),
    ("zero-width", {"description": "\u200b\ufeff"}),
]


@pytest.mark.parametrize("case,extra", ODD_DATASETS, ids=[c for c, _ in ODD_DATASETS])
def test_odd_dataset_bodies_never_5xx(api, case, extra):
    name = "odd"
    body = {"name": name}
    for k, v in extra.items():
        if v == ["SELF"]:
            v = [name]
        body[k] = v
    r = api.post("/api/v1/datasets", body)
    assert r.status_code < 500, (r.status_code, r.text[:300])
    stats = api.get("/api/v1/stats").json()
    if r.status_code == 201:
        doc = api.get_dataset(name).json()
        assert doc == r.json()
        if case == "self-upstream":
            raise AssertionError("a dataset was accepted as its own upstream: %r" % doc["upstream"])
        if case == "dup-upstream":
            assert doc["upstream"] == [{"namespace": "default", "name": "u"}]
        if case == "dup-tags":
            assert doc["tags"] == ["pii"]
        if case == "dup-field-tags":
            assert doc["fields"][0]["tags"] == ["k"]
        if case == "many-fields":
            assert len(doc["fields"]) == 5000 and doc["fields"][4999]["ordinal"] == 4999
        if case == "many-tags":
            assert len(doc["tags"]) == 1000
        if case == "many-upstream":
            assert len(doc["upstream"]) == 300 and stats["datasets"] == 301
    else:
        assert_4xx_envelope(r)
        assert stats["datasets"] == 0 and stats["fields"] == 0, stats
        assert api.get_dataset(name).status_code == 404


ODD_EDGES = [
    ("dup-columns", {"source": "a", "target": "b",
                     "columns": [{"source_field": "x", "target_field": "y"},
                                 {"source_field": "x", "target_field": "y"}]}),
    ("many-columns", {"source": "a", "target": "b",
                      "columns": [{"source_field": "x%d" % i, "target_field": "y%d" % i}
                                  for i in range(2000)]}),
    ("empty-columns", {"source": "a", "target": "b", "columns": []}),
    ("long-expression", {"source": "a", "target": "b",
                         "columns": [{"source_field": "x", "target_field": "y",
                                      "expression": "e" * 60000}]}),
]


@pytest.mark.parametrize("case,body", ODD_EDGES, ids=[c for c, _ in ODD_EDGES])
def test_odd_edge_bodies_never_5xx(api, case, body):
    r = api.post("/api/v1/lineage/edges", body)
    assert r.status_code < 500, (r.status_code, r.text[:300])
    s = api.get("/api/v1/stats").json()
    if r.status_code in (200, 201):
        cols = {(c["source_field"], c["target_field"]) for c in r.json()["columns"]}
        assert s["column_lineage_edges"] == len(cols) == len(r.json()["columns"])
    else:
        assert_4xx_envelope(r)
        assert s["lineage_edges"] == 0 and s["datasets"] == 0


def test_time_offsets_beyond_what_postgres_stores(tenant):
    """+16:00 is valid RFC 3339 syntax but no PostgreSQL timestamptz: a 400, never a 500."""
    r = tenant.api.get("/api/v1/datasets", params={"updated_since": "2026-01-01T00:00:00+16:00"})
    assert_error(r, 400, "invalid_request", "updated_since")
    r = tenant.api.post("/api/v1/api-keys", {"name": "k", "role": "viewer", "expires_at": "2099-01-01T00:00:00+16:00"})
    assert_error(r, 400, "invalid_request", "expires_at")
    r = tenant.api.get("/api/v1/datasets", params={"updated_since": "2026-01-01T00:00:00+15:59"})
    assert r.status_code == 200, r.text
