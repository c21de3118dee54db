"""Datasets: create, read, list (filters, pagination), replace, delete, lineage links."""

import datetime

import pytest

from conftest import UUID_RE, assert_error, assert_list_page, assert_ts

DOC_KEYS = {"id", "namespace", "name", "path", "format", "description", "domain", "owner", "tags",
            "fields", "upstream", "downstream", "operational", "placeholder", "version",
            "schema_version", "created_at", "updated_at"}
SUMMARY_KEYS = {"id", "namespace", "name", "path", "format", "description", "domain", "owner",
                "tags", "field_count", "placeholder", "version", "created_at", "updated_at"}

FULL = {
    "name": "orders",
    "namespace": "default",
    "path": "s3://lake/orders",
    "format": "parquet",
    "description": "All orders",
    "domain": "sales",
    "owner": "alice@example.com",
    "tags": ["pii", "gold"],
    "fields": [
        {"name": "id", "type": "bigint", "nullable": False, "description": "", "tags": ["key"]},
        {"name": "amount", "type": "decimal(10,2)"},
        {"name": "customer", "type": "text", "nullable": True, "description": "who"},
    ],
    "upstream": ["raw_orders", {"namespace": "pg", "name": "public.orders"}],
    "operational": {"row_count": 10, "size_bytes": 2048, "partition_keys": ["day"]},
}


def check_doc(doc):
    assert set(doc.keys()) >= DOC_KEYS, set(DOC_KEYS) - set(doc.keys())
    assert UUID_RE.match(doc["id"]), doc["id"]
    assert_ts(doc["created_at"])
    assert_ts(doc["updated_at"])
    assert isinstance(doc["version"], int) and isinstance(doc["schema_version"], int)
    assert isinstance(doc["placeholder"], bool)
    for i, f in enumerate(doc["fields"]):
        assert f["ordinal"] == i, doc["fields"]


def etag_of(resp):
    return resp.headers.get("ETag")


def test_create_full_document(api):
    r = api.post("/api/v1/datasets", FULL)
    assert r.status_code == 201, r.text
    doc = r.json()
    check_doc(doc)
    assert doc["namespace"] == "default" and doc["name"] == "orders"
    assert doc["path"] == "s3://lake/orders"
    assert doc["format"] == "parquet"
    assert doc["description"] == "All orders"
    assert doc["domain"] == "sales"
    assert doc["owner"] == "alice@example.com"
    assert doc["tags"] == ["gold", "pii"]  # sorted
    assert doc["fields"] == [
        {"name": "id", "type": "bigint", "nullable": False, "description": "", "tags": ["key"],
         "ordinal": 0},
        {"name": "amount", "type": "decimal(10,2)", "nullable": True,
         "description": doc["fields"][1]["description"], "tags": [], "ordinal": 1},
        {"name": "customer", "type": "text", "nullable": True, "description": "who", "tags": [],
         "ordinal": 2},
    ]
    assert doc["fields"][1]["description"] in (None, "")
    assert sorted(doc["upstream"], key=lambda u: (u["namespace"], u["name"])) == [
        {"namespace": "default", "name": "raw_orders"},
        {"namespace": "pg", "name": "public.orders"},
    ]
    assert doc["downstream"] == []
    assert doc["operational"]["row_count"] == 10
    assert doc["operational"]["size_bytes"] == 2048
    assert doc["operational"]["partition_keys"] == ["day"]
    assert doc["placeholder"] is False
    assert doc["version"] == 1 and doc["schema_version"] == 1
    assert etag_of(r) == '"1"'
    # GET gives the same document
    g = api.get("/api/v1/datasets/orders")
    assert g.status_code == 200
    assert g.json() == doc
    assert etag_of(g) == '"1"'
    g2 = api.get("/api/v1/datasets/orders", params={"namespace": "default"})
    assert g2.json() == doc


def test_create_minimal(api):
    r = api.post("/api/v1/datasets", {"name": "mini"})
    assert r.status_code == 201, r.text
    doc = r.json()
    check_doc(doc)
    assert doc["namespace"] == "default"
    assert doc["tags"] == [] and doc["fields"] == [] and doc["upstream"] == []
    assert doc["downstream"] == []
    assert doc["domain"] is None and doc["owner"] is None
    assert doc["placeholder"] is False
    assert doc["version"] == 1


def test_create_conflict(api):
    api.create_dataset("dup", description="first")
    r = api.post("/api/v1/datasets", {"name": "dup", "description": "second"})
    assert_error(r, 409, "conflict")
    assert api.get_dataset("dup").json()["description"] == "first"
    # same name in another namespace is fine
    r = api.post("/api/v1/datasets", {"name": "dup", "namespace": "other"})
    assert r.status_code == 201
    assert api.get("/api/v1/stats").json()["datasets"] == 2


def test_namespaces(api):
    api.create_dataset("public.orders", namespace="pg", format="table")
    assert api.get_dataset("public.orders", "pg").status_code == 200
    assert_error(api.get_dataset("public.orders"), 404, "not_found")
    assert_error(api.get_dataset("public.orders", "other"), 404, "not_found")


def test_get_missing(api):
    r = api.get("/api/v1/datasets/nope")
    assert_error(r, 404, "not_found")


def test_json_content_type_with_charset(api):
    r = api.req("POST", "/api/v1/datasets", data=b'{"name":"cs"}',
                headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/xml", "multipart/form-data; boundary=x"])
def test_unsupported_media_type(api, ctype):
    r = api.req("POST", "/api/v1/datasets", data=b'{"name":"mt"}', headers={"Content-Type": ctype})
    assert_error(r, 415, "unsupported_media_type")
    api.create_dataset("d0")
    r = api.req("PUT", "/api/v1/datasets/d0", data=b'{"description":"x"}',
                headers={"Content-Type": ctype})
    assert_error(r, 415, "unsupported_media_type")
    assert api.get("/api/v1/stats").json()["datasets"] == 1
    assert api.get_dataset("d0").json()["version"] == 1


# ---------------------------------------------------------------- PUT / ETag


def test_put_replaces_and_bumps_version(api):
    api.create_dataset("orders", **{k: v for k, v in FULL.items() if k not in ("name", "upstream")})
    r = api.put("/api/v1/datasets/orders", {"description": "only this"})
    assert r.status_code == 200, r.text
    doc = r.json()
    check_doc(doc)
    assert doc["description"] == "only this"
    assert doc["tags"] == [] and doc["fields"] == []
    assert doc["path"] in (None, "") and doc["format"] in (None, "")
    assert doc["domain"] is None and doc["owner"] is None
    assert doc["version"] == 2
    assert doc["schema_version"] == 2  # fields changed (all removed)
    assert etag_of(r) == '"2"'
    assert api.get_dataset("orders").json() == doc


def test_put_with_name_matching_path(api):
    api.create_dataset("p1")
    r = api.put("/api/v1/datasets/p1", {"name": "p1", "format": "csv"})
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "csv"


def test_put_name_mismatch(api):
    api.create_dataset("p1")
    r = api.put("/api/v1/datasets/p1", {"name": "p2", "format": "csv"})
    assert_error(r, 400, "invalid_request", "name")
    assert api.get_dataset("p1").json()["version"] == 1
    assert_error(api.get_dataset("p2"), 404)


def test_put_missing(api):
    assert_error(api.put("/api/v1/datasets/absent", {"format": "csv"}), 404, "not_found")
    assert api.get("/api/v1/stats").json()["datasets"] == 0


def test_put_schema_version_only_on_field_change(api):
    fields = [{"name": "a", "type": "int"}]
    api.create_dataset("sv", fields=fields)
    d = api.put("/api/v1/datasets/sv", {"fields": fields, "description": "x"}).json()
    assert (d["version"], d["schema_version"]) == (2, 1)
    d = api.put("/api/v1/datasets/sv", {"fields": fields + [{"name": "b", "type": "text"}],
                                        "description": "x"}).json()
    assert (d["version"], d["schema_version"]) == (3, 2)


def test_if_match(api):
    api.create_dataset("im")
    r = api.put("/api/v1/datasets/im", {"format": "a"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert etag_of(r) == '"2"'
    r = api.put("/api/v1/datasets/im", {"format": "b"}, headers={"If-Match": '"1"'})
    assert_error(r, 412, "precondition_failed")
    assert api.get_dataset("im").json()["format"] == "a"
    r = api.put("/api/v1/datasets/im", {"format": "c"}, headers={"If-Match": '"2"'})
    assert r.status_code == 200
    assert r.json()["version"] == 3
    # stale DELETE
    r = api.delete("/api/v1/datasets/im", headers={"If-Match": '"2"'})
    assert_error(r, 412, "precondition_failed")
    assert api.get_dataset("im").status_code == 200
    r = api.delete("/api/v1/datasets/im", headers={"If-Match": '"3"'})
    assert r.status_code == 204
    assert_error(api.get_dataset("im"), 404)


def test_if_match_garbage_is_stale(api):
    api.create_dataset("img")
    for value in ('"999"', '"abc"', 'W/"1x"'):
        r = api.put("/api/v1/datasets/img", {"format": "z"}, headers={"If-Match": value})
        assert_error(r, 412, "precondition_failed")
    assert api.get_dataset("img").json()["version"] == 1


def test_version_counts_every_change(api):
    api.create_dataset("vc", fields=[{"name": "f", "type": "int"}])
    assert api.post("/api/v1/datasets/vc/tags", {"tag": "t1"}).json()["version"] == 2
    assert api.delete("/api/v1/datasets/vc/tags/t1").json()["version"] == 3
    assert api.post("/api/v1/datasets/vc/fields/f/tags", {"tag": "t2"}).json()["version"] == 4
    r = api.get_dataset("vc")
    assert r.json()["version"] == 4 and etag_of(r) == '"4"'
    r = api.put("/api/v1/datasets/vc", {"fields": [{"name": "f", "type": "int"}]})
    assert r.json()["version"] == 5


# ---------------------------------------------------------------- DELETE and lineage


def test_delete(api):
    api.create_dataset("del", fields=[{"name": "a", "type": "int"}], tags=["x"])
    r = api.delete("/api/v1/datasets/del")
    assert r.status_code == 204
    assert r.content == b""
    assert_error(api.get_dataset("del"), 404, "not_found")
    assert_error(api.delete("/api/v1/datasets/del"), 404, "not_found")
    assert_error(api.get("/api/v1/datasets/del/versions"), 404, "not_found")
    s = api.get("/api/v1/stats").json()
    assert s["datasets"] == 0 and s["fields"] == 0
    tags = {t["tag"]: t for t in api.walk("/api/v1/tags")}
    assert "x" not in tags or tags["x"]["datasets"] == 0
    # can be created again from scratch
    d = api.create_dataset("del")
    assert d["version"] == 1 and d["fields"] == []


def test_placeholder_then_real(api):
    api.create_dataset("orders", upstream=["raw_orders"])
    ph = api.get_dataset("raw_orders")
    assert ph.status_code == 200, ph.text
    ph = ph.json()
    assert ph["placeholder"] is True
    assert ph["downstream"] == [{"namespace": "default", "name": "orders"}]
    assert ph["upstream"] == []
    r = api.post("/api/v1/datasets", {"name": "raw_orders", "format": "json",
                                      "fields": [{"name": "x", "type": "text"}]})
    assert r.status_code == 201, r.text
    real = r.json()
    assert real["placeholder"] is False
    assert real["format"] == "json"
    assert real["id"] == ph["id"]
    assert real["downstream"] == [{"namespace": "default", "name": "orders"}]
    # now it is real: a second create conflicts
    assert_error(api.post("/api/v1/datasets", {"name": "raw_orders"}), 409, "conflict")


def test_placeholder_in_other_namespace(api):
    api.create_dataset("orders", upstream=[{"namespace": "pg", "name": "public.orders"}])
    ph = api.get_dataset("public.orders", "pg").json()
    assert ph["placeholder"] is True and ph["namespace"] == "pg"
    assert ph["downstream"] == [{"namespace": "default", "name": "orders"}]


def test_downstream_one_hop(api):
    api.create_dataset("a")
    api.create_dataset("b", upstream=["a"])
    api.create_dataset("c", upstream=["b"])
    a = api.get_dataset("a").json()
    b = api.get_dataset("b").json()
    c = api.get_dataset("c").json()
    assert a["downstream"] == [{"namespace": "default", "name": "b"}]
    assert a["upstream"] == []
    assert b["upstream"] == [{"namespace": "default", "name": "a"}]
    assert b["downstream"] == [{"namespace": "default", "name": "c"}]
    assert c["upstream"] == [{"namespace": "default", "name": "b"}]
    assert c["downstream"] == []


def test_put_replaces_upstream(api):
    api.create_dataset("t", upstream=["u1", "u2"])
    d = api.put("/api/v1/datasets/t", {"upstream": ["u2", "u3"]}).json()
    assert sorted(u["name"] for u in d["upstream"]) == ["u2", "u3"]
    assert api.get_dataset("u1").json()["downstream"] == []
    assert api.get_dataset("u3").json()["downstream"] == [{"namespace": "default", "name": "t"}]


def test_delete_removes_lineage(api):
    api.create_dataset("src")
    api.create_dataset("mid", upstream=["src"])
    api.create_dataset("dst", upstream=["mid"])
    assert api.delete("/api/v1/datasets/mid").status_code == 204
    assert api.get_dataset("src").json()["downstream"] == []
    assert api.get_dataset("dst").json()["upstream"] == []
    assert api.get("/api/v1/stats").json()["lineage_edges"] == 0
    edges = api.get("/api/v1/lineage/edges", params={"dataset": "src", "direction": "both"})
    assert edges.json()["items"] == []


def test_delete_removes_domain_owner_usage_not_domain(api):
    api.create_dataset("dd", domain="sales", owner="bob")
    api.delete("/api/v1/datasets/dd")
    d = api.get("/api/v1/domains/sales")
    assert d.status_code == 200 and d.json()["datasets"] == 0


def test_unicode_round_trip(api):
    body = {"name": "заказы_📦", "description": "naïve — 中文 \u2028 tab\tnewline\n",
            "fields": [{"name": "größe", "type": "int", "description": "ß"}]}
    r = api.post("/api/v1/datasets", body)
    assert r.status_code == 201, r.text
    d = api.get_dataset("заказы_📦").json()
    assert d["name"] == body["name"]
    assert d["description"] == body["description"]
    assert d["fields"][0]["name"] == "größe"


def test_name_limits(api):
    name = "n" * 512
    assert api.post("/api/v1/datasets", {"name": name}).status_code == 201
    assert api.get_dataset(name).json()["name"] == name
    desc = "d" * 65536
    r = api.post("/api/v1/datasets", {"name": "longdesc", "description": desc})
    assert r.status_code == 201
    assert api.get_dataset("longdesc").json()["description"] == desc
    assert_error(api.post("/api/v1/datasets", {"name": "n" * 513}), 400, "invalid_request", "name")
    assert_error(api.post("/api/v1/datasets", {"name": "x", "description": "d" * 65537}), 400,
                 "invalid_request", "description")
    assert api.get("/api/v1/stats").json()["datasets"] == 2


# ---------------------------------------------------------------- list, filters, pagination


def test_list_summaries_order(api):
    api.create_dataset("zeta", namespace="b")
    api.create_dataset("alpha", namespace="b", fields=[{"name": "x", "type": "int"},
                                                        {"name": "y", "type": "int"}])
    api.create_dataset("omega", namespace="a")
    api.create_dataset("beta")  # default
    r = api.get("/api/v1/datasets")
    assert r.status_code == 200
    body = assert_list_page(r.json())
    assert body["next_cursor"] is None
    got = [(i["namespace"], i["name"]) for i in body["items"]]
    assert got == [("a", "omega"), ("b", "alpha"), ("b", "zeta"), ("default", "beta")]
    for item in body["items"]:
        assert set(item.keys()) >= SUMMARY_KEYS, item
        assert_ts(item["updated_at"])
    alpha = body["items"][1]
    assert alpha["field_count"] == 2
    assert body["items"][0]["field_count"] == 0


def test_list_pagination(api):
    names = ["ds%02d" % i for i in range(23)]
    for n in reversed(names):
        api.create_dataset(n)
    for limit in (1, 5, 7, 23, 500):
        items = api.walk("/api/v1/datasets", limit=limit)
        assert [i["name"] for i in items] == names, limit
    r = api.get("/api/v1/datasets", params={"limit": "23"})
    assert r.json()["next_cursor"] is None
    r = api.get("/api/v1/datasets", params={"limit": "22"})
    assert r.json()["next_cursor"] is not None
    # default limit 50 covers 23
    r = api.get("/api/v1/datasets")
    assert len(r.json()["items"]) == 23 and r.json()["next_cursor"] is None


def test_list_default_limit_is_50(api):
    for i in range(53):
        api.create_dataset("x%03d" % i)
    body = api.get("/api/v1/datasets").json()
    assert len(body["items"]) == 50
    assert body["next_cursor"] is not None
    rest = api.get("/api/v1/datasets", params={"cursor": body["next_cursor"]}).json()
    assert [i["name"] for i in rest["items"]] == ["x050", "x051", "x052"]
    assert rest["next_cursor"] is None


def test_pagination_stable_under_inserts(api):
    for n in ("b", "d", "f", "h"):
        api.create_dataset(n)
    page = api.get("/api/v1/datasets", params={"limit": "2"}).json()
    assert [i["name"] for i in page["items"]] == ["b", "d"]
    api.create_dataset("a")  # before the cursor
    api.create_dataset("e")  # after the cursor
    rest = api.walk("/api/v1/datasets", limit=2, params={"cursor": page["next_cursor"]})
    assert [i["name"] for i in rest] == ["e", "f", "h"]


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "501"}, {"limit": "-1"}, {"limit": "abc"}, {"limit": "5x"},
    {"limit": "1.5"}, {"limit": "99999999999999999999"},
    {"cursor": "garbage"}, {"cursor": "!!!"}, {"cursor": "eyJ4IjoxfQ"},
    {"updated_since": "yesterday"}, {"updated_since": "2026-13-45T00:00:00Z"},
])
def test_list_bad_params(api, params):
    api.create_dataset("one")
    r = api.get("/api/v1/datasets", params=params)
    assert_error(r, 400, "invalid_request")


def test_filters(api):
    api.create_dataset("d1", namespace="n1", domain="sales", owner="alice", tags=["pii"],
                       format="parquet")
    api.create_dataset("d2", namespace="n1", domain="ops", owner="bob", tags=["gold", "pii"],
                       format="csv")
    api.create_dataset("d3", namespace="n2", domain="sales", owner="bob", format="parquet")
    api.create_dataset("d4", namespace="n2")

    def names(**params):
        return [i["name"] for i in api.walk("/api/v1/datasets", params=params)]

    assert names(namespace="n1") == ["d1", "d2"]
    assert names(namespace="n2") == ["d3", "d4"]
    assert names(namespace="zz") == []
    assert names(domain="sales") == ["d1", "d3"]
    assert names(domain="ops") == ["d2"]
    assert names(owner="bob") == ["d2", "d3"]
    assert names(tag="pii") == ["d1", "d2"]
    assert names(tag="gold") == ["d2"]
    assert names(tag="none") == []
    assert names(format="parquet") == ["d1", "d3"]
    assert names(format="csv") == ["d2"]
    assert names(namespace="n2", domain="sales") == ["d3"]
    assert names(owner="bob", format="parquet") == ["d3"]
    assert names(tag="pii", domain="ops") == ["d2"]
    # filters combine with pagination
    items = api.walk("/api/v1/datasets", limit=1, params={"domain": "sales"})
    assert [i["name"] for i in items] == ["d1", "d3"]


def _ts_ms(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_filter_updated_since(api):
    a = api.create_dataset("old")
    b = api.create_dataset("new")
    ta = _ts_ms(a["updated_at"])
    tb = _ts_ms(b["updated_at"])
    # make sure at least 2 ms separate them, without sleeping
    for _ in range(200):
        if tb - ta >= datetime.timedelta(milliseconds=2):
            break
        b = api.put("/api/v1/datasets/new", {"description": "touch"}).json()
        tb = _ts_ms(b["updated_at"])
    assert tb - ta >= datetime.timedelta(milliseconds=2)
    mid = (ta + datetime.timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def names(since):
        return [i["name"] for i in api.walk("/api/v1/datasets", params={"updated_since": since})]

    assert names(mid) == ["new"]
    assert names("2000-01-01T00:00:00Z") == ["new", "old"]
    assert names("2100-01-01T00:00:00Z") == []
    # a change to "old" brings it back
    api.put("/api/v1/datasets/old", {"description": "touched"})
    assert names(mid) == ["new", "old"]


# ---------------------------------------------------------------- concurrency


def _parallel(n, fn):
    import threading
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_concurrent_if_match_one_winner(tenant):
    from conftest import Api
    tenant.api.create_dataset("race")
    clients = [Api(tenant.base, tenant.key) for _ in range(8)]
    results = _parallel(8, lambda i: clients[i].put(
        "/api/v1/datasets/race", {"description": "writer %d" % i}, headers={"If-Match": '"1"'}))
    statuses = sorted(getattr(r, "status_code", repr(r)) for r in results)
    assert statuses == [200] + [412] * 7, statuses
    winner = next(r for r in results if r.status_code == 200).json()["description"]
    doc = tenant.api.get_dataset("race").json()
    assert doc["version"] == 2 and doc["description"] == winner
    for r in results:
        if r.status_code == 412:
            assert_error(r, 412, "precondition_failed")


def test_concurrent_create_one_winner(tenant):
    from conftest import Api
    clients = [Api(tenant.base, tenant.key) for _ in range(8)]
    results = _parallel(8, lambda i: clients[i].post(
        "/api/v1/datasets", {"name": "born_once", "upstream": ["shared_up"],
                             "description": "creator %d" % i}))
    statuses = sorted(getattr(r, "status_code", repr(r)) for r in results)
    assert statuses == [201] + [409] * 7, statuses
    for r in results:
        if r.status_code == 409:
            assert_error(r, 409, "conflict")
    s = tenant.api.get("/api/v1/stats").json()
    assert s["datasets"] == 2 and s["lineage_edges"] == 1


def test_concurrent_shared_placeholder(tenant):
    from conftest import Api
    clients = [Api(tenant.base, tenant.key) for _ in range(8)]
    results = _parallel(8, lambda i: clients[i].post(
        "/api/v1/datasets", {"name": "child%d" % i, "upstream": ["common_parent"]}))
    statuses = [getattr(r, "status_code", repr(r)) for r in results]
    assert statuses == [201] * 8, [(s, getattr(r, "text", "")[:200])
                                   for s, r in zip(statuses, results)]
    parent = tenant.api.get_dataset("common_parent").json()
    assert parent["placeholder"] is True
    assert sorted(d["name"] for d in parent["downstream"]) == ["child%d" % i for i in range(8)]
    assert tenant.api.get("/api/v1/stats").json()["datasets"] == 9


def test_concurrent_tag_adds(tenant):
    from conftest import Api
    tenant.api.create_dataset("tagged")
    clients = [Api(tenant.base, tenant.key) for _ in range(8)]
    results = _parallel(8, lambda i: clients[i].post("/api/v1/datasets/tagged/tags",
                                                     {"tag": "t%d" % i}))
    assert [getattr(r, "status_code", repr(r)) for r in results] == [200] * 8
    doc = tenant.api.get_dataset("tagged").json()
    assert doc["tags"] == ["t%d" % i for i in range(8)]
    assert doc["version"] == 9


def test_delete_then_recreate_starts_fresh(api):
    api.create_dataset("again", fields=[{"name": "a", "type": "int"}], tags=["x"],
                       upstream=["up"])
    api.ok("PUT", "/api/v1/datasets/again", 200,
           json_body={"fields": [{"name": "b", "type": "int"}]})
    assert api.delete("/api/v1/datasets/again").status_code == 204
    d = api.create_dataset("again", fields=[{"name": "c", "type": "int"}])
    assert d["version"] == 1 and d["schema_version"] == 1
    assert d["tags"] == [] and d["upstream"] == []
    versions = api.get("/api/v1/datasets/again/versions").json()["items"]
    assert [v["version"] for v in versions] == [1]
    assert api.get_dataset("up").json()["downstream"] == []


def test_names_with_slashes_and_spaces(api):
    from conftest import q
    name = "s3://lake/raw/orders 2024?x=1#frag"
    api.create_dataset(name, namespace="s3 lake/eu",
                       fields=[{"name": "col/with space", "type": "int"}])
    r = api.get("/api/v1/datasets/" + q(name), params={"namespace": "s3 lake/eu"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == name
    r = api.post("/api/v1/datasets/%s/fields/%s/tags" % (q(name), q("col/with space")),
                 {"tag": "pii"}, params={"namespace": "s3 lake/eu"})
    assert r.status_code == 200, r.text
    assert r.json()["fields"][0]["tags"] == ["pii"]
    r = api.delete("/api/v1/datasets/" + q(name), params={"namespace": "s3 lake/eu"})
    assert r.status_code == 204
