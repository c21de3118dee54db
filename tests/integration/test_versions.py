"""Schema versions and diffs."""

import pytest

from conftest import assert_error, assert_list_page, assert_ts

V1 = [
    {"name": "id", "type": "bigint", "nullable": False},
    {"name": "name", "type": "text"},
    {"name": "amount", "type": "int", "nullable": True},
    {"name": "note", "type": "text", "nullable": False},
]
# add a column: not breaking
V2 = V1 + [{"name": "email", "type": "text"}]
# remove "name", change amount's type: breaking
V3 = [
    {"name": "id", "type": "bigint", "nullable": False},
    {"name": "amount", "type": "bigint", "nullable": True},
    {"name": "note", "type": "text", "nullable": False},
    {"name": "email", "type": "text"},
]
# make note nullable (fine), email non-nullable (breaking)
V4 = [
    {"name": "id", "type": "bigint", "nullable": False},
    {"name": "amount", "type": "bigint", "nullable": True},
    {"name": "note", "type": "text", "nullable": True},
    {"name": "email", "type": "text", "nullable": False},
]
# only nullable relaxed: not breaking
V5 = [
    {"name": "id", "type": "bigint", "nullable": False},
    {"name": "amount", "type": "bigint", "nullable": True},
    {"name": "note", "type": "text", "nullable": True},
    {"name": "email", "type": "text", "nullable": True},
]


def field_names(fields):
    return [f["name"] for f in fields]


@pytest.fixture
def versioned(api):
    api.create_dataset("orders", fields=V1)
    for fields in (V2, V3, V4, V5):
        r = api.put("/api/v1/datasets/orders", {"fields": fields})
        assert r.status_code == 200, r.text
    return api


def test_versions_list(versioned):
    api = versioned
    doc = api.get_dataset("orders").json()
    assert doc["schema_version"] == 5 and doc["version"] == 5
    r = api.get("/api/v1/datasets/orders/versions")
    assert r.status_code == 200
    body = assert_list_page(r.json())
    items = body["items"]
    assert [i["version"] for i in items] == [5, 4, 3, 2, 1]
    assert [i["breaking"] for i in items] == [False, True, True, False, False]
    assert [i["field_count"] for i in items] == [4, 4, 4, 5, 4]
    for i in items:
        assert set(i.keys()) >= {"version", "created_at", "field_count", "breaking"}
        assert_ts(i["created_at"])
    assert body["next_cursor"] is None
    walked = api.walk("/api/v1/datasets/orders/versions", limit=2)
    assert [i["version"] for i in walked] == [5, 4, 3, 2, 1]


def test_version_get(versioned):
    api = versioned
    r = api.get("/api/v1/datasets/orders/versions/1")
    assert r.status_code == 200, r.text
    v = r.json()
    assert set(v.keys()) >= {"version", "created_at", "breaking", "fields"}
    assert v["version"] == 1 and v["breaking"] is False
    assert field_names(v["fields"]) == ["id", "name", "amount", "note"]
    assert [f["type"] for f in v["fields"]] == ["bigint", "text", "int", "text"]
    assert [f["nullable"] for f in v["fields"]] == [False, True, True, False]
    v3 = api.get("/api/v1/datasets/orders/versions/3").json()
    assert v3["breaking"] is True
    assert field_names(v3["fields"]) == ["id", "amount", "note", "email"]


@pytest.mark.parametrize("v", ["0", "6", "999", "-1"])
def test_version_missing(versioned, v):
    assert_error(versioned.get("/api/v1/datasets/orders/versions/" + v), 404, "not_found")


def test_version_not_a_number(versioned):
    r = versioned.get("/api/v1/datasets/orders/versions/abc")
    assert r.status_code in (400, 404), r.text
    assert_error(r, r.status_code, ("invalid_request", "not_found"))


def test_versions_of_missing_dataset(api):
    assert_error(api.get("/api/v1/datasets/nope/versions"), 404, "not_found")
    assert_error(api.get("/api/v1/datasets/nope/versions/1"), 404, "not_found")
    assert_error(api.get("/api/v1/datasets/nope/schema/diff", params={"from": "1", "to": "2"}),
                 404, "not_found")


def diff(api, a, b):
    r = api.get("/api/v1/datasets/orders/schema/diff", params={"from": str(a), "to": str(b)})
    assert r.status_code == 200, r.text
    d = r.json()
    assert set(d.keys()) >= {"from", "to", "added", "removed", "changed", "breaking"}
    assert d["from"] == a and d["to"] == b
    return d


def test_diff_added(versioned):
    d = diff(versioned, 1, 2)
    assert field_names(d["added"]) == ["email"]
    assert d["added"][0]["type"] == "text"
    assert d["removed"] == [] and d["changed"] == []
    assert d["breaking"] is False


def test_diff_removed_and_type_change(versioned):
    d = diff(versioned, 2, 3)
    assert d["added"] == []
    assert field_names(d["removed"]) == ["name"]
    assert d["changed"] == [{"name": "amount", "from": {"type": "int", "nullable": True},
                             "to": {"type": "bigint", "nullable": True}}]
    assert d["breaking"] is True


def test_diff_nullability(versioned):
    d = diff(versioned, 3, 4)
    changed = sorted(d["changed"], key=lambda c: c["name"])
    assert changed == [
        {"name": "email", "from": {"type": "text", "nullable": True},
         "to": {"type": "text", "nullable": False}},
        {"name": "note", "from": {"type": "text", "nullable": False},
         "to": {"type": "text", "nullable": True}},
    ]
    assert d["breaking"] is True
    d = diff(versioned, 4, 5)
    assert [c["name"] for c in d["changed"]] == ["email"]
    assert d["breaking"] is False


def test_diff_across_many(versioned):
    d = diff(versioned, 1, 5)
    assert field_names(d["added"]) == ["email"]
    assert field_names(d["removed"]) == ["name"]
    changed = sorted(d["changed"], key=lambda c: c["name"])
    assert changed == [
        {"name": "amount", "from": {"type": "int", "nullable": True},
         "to": {"type": "bigint", "nullable": True}},
        {"name": "note", "from": {"type": "text", "nullable": False},
         "to": {"type": "text", "nullable": True}},
    ]
    assert d["breaking"] is True
    same = diff(versioned, 3, 3)
    assert same["added"] == [] and same["removed"] == [] and same["changed"] == []
    assert same["breaking"] is False


@pytest.mark.parametrize("params", [
    {"from": "1"}, {"to": "2"}, {}, {"from": "x", "to": "2"}, {"from": "1", "to": "2.5"},
])
def test_diff_bad_params(versioned, params):
    r = versioned.get("/api/v1/datasets/orders/schema/diff", params=params)
    assert_error(r, 400, "invalid_request")


def test_diff_missing_version(versioned):
    r = versioned.get("/api/v1/datasets/orders/schema/diff", params={"from": "1", "to": "9"})
    assert_error(r, 404, "not_found")


def test_same_fields_keep_schema_version(api):
    api.create_dataset("o", fields=[{"name": "a", "type": "int"}, {"name": "b", "type": "int"}])
    d = api.put("/api/v1/datasets/o", {"fields": [{"name": "a", "type": "int"},
                                                  {"name": "b", "type": "int"}]}).json()
    assert d["schema_version"] == 1
    assert len(api.get("/api/v1/datasets/o/versions").json()["items"]) == 1


def test_versions_in_namespace(api):
    api.create_dataset("t", namespace="ns1", fields=[{"name": "a", "type": "int"}])
    api.create_dataset("t", namespace="ns2", fields=[{"name": "z", "type": "int"}])
    r = api.put("/api/v1/datasets/t", {"fields": [{"name": "b", "type": "int"}]},
                params={"namespace": "ns1"})
    assert r.status_code == 200, r.text
    v = api.get("/api/v1/datasets/t/versions", params={"namespace": "ns1"}).json()["items"]
    assert [i["version"] for i in v] == [2, 1]
    v = api.get("/api/v1/datasets/t/versions", params={"namespace": "ns2"}).json()["items"]
    assert [i["version"] for i in v] == [1]
    f = api.get("/api/v1/datasets/t/versions/1", params={"namespace": "ns2"}).json()["fields"]
    assert field_names(f) == ["z"]
    assert_error(api.get("/api/v1/datasets/t/versions"), 404, "not_found")
