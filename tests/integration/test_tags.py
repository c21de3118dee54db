"""Dataset and field tags, GET /tags."""

import pytest

from conftest import assert_error, assert_list_page


@pytest.fixture
def ds(api):
    api.create_dataset("orders", fields=[{"name": "id", "type": "int"},
                                         {"name": "email", "type": "text", "tags": ["pii"]}])
    return api


def test_add_tag(ds):
    r = ds.post("/api/v1/datasets/orders/tags", {"tag": "gold"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["name"] == "orders" and doc["tags"] == ["gold"]
    assert doc["version"] == 2
    assert r.headers.get("ETag") == '"2"'
    r = ds.post("/api/v1/datasets/orders/tags", {"tag": "a.b:c/d-e_f"})
    assert r.status_code == 200
    assert r.json()["tags"] == ["a.b:c/d-e_f", "gold"]
    assert ds.get_dataset("orders").json()["tags"] == ["a.b:c/d-e_f", "gold"]


def test_add_tag_idempotent(ds):
    ds.ok("POST", "/api/v1/datasets/orders/tags", 200, json_body={"tag": "gold"})
    r = ds.post("/api/v1/datasets/orders/tags", {"tag": "gold"})
    assert r.status_code == 200
    assert r.json()["tags"] == ["gold"]
    tags = {t["tag"]: t for t in ds.walk("/api/v1/tags")}
    assert tags["gold"]["datasets"] == 1


def test_remove_tag(ds):
    ds.ok("POST", "/api/v1/datasets/orders/tags", 200, json_body={"tag": "gold"})
    r = ds.delete("/api/v1/datasets/orders/tags/gold")
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == []
    assert r.json()["version"] == 3
    assert_error(ds.delete("/api/v1/datasets/orders/tags/gold"), 404, "not_found")
    assert_error(ds.delete("/api/v1/datasets/orders/tags/never"), 404, "not_found")
    assert ds.get_dataset("orders").json()["version"] == 3


def test_tag_on_missing_dataset(api):
    assert_error(api.post("/api/v1/datasets/nope/tags", {"tag": "x"}), 404, "not_found")
    assert_error(api.delete("/api/v1/datasets/nope/tags/x"), 404, "not_found")
    assert_error(api.post("/api/v1/datasets/nope/fields/f/tags", {"tag": "x"}), 404, "not_found")
    assert_error(api.delete("/api/v1/datasets/nope/fields/f/tags/x"), 404, "not_found")
    assert api.walk("/api/v1/tags") == []
    assert api.get("/api/v1/stats").json()["datasets"] == 0


@pytest.mark.parametrize("tag", ["", "has space", "semi;colon", "t" * 129, "ünï", "a\nb", "#hash"])
def test_bad_tag(ds, tag):
    r = ds.post("/api/v1/datasets/orders/tags", {"tag": tag})
    assert_error(r, 400, "invalid_request", "tag")
    r = ds.post("/api/v1/datasets/orders/fields/id/tags", {"tag": tag})
    assert_error(r, 400, "invalid_request", "tag")
    r = ds.post("/api/v1/datasets", {"name": "other", "tags": [tag]})
    assert_error(r, 400, "invalid_request", "tags")
    doc = ds.get_dataset("orders").json()
    assert doc["tags"] == [] and doc["version"] == 1
    assert ds.get("/api/v1/stats").json()["datasets"] == 1


def test_tag_max_length(ds):
    tag = "t" * 128
    r = ds.post("/api/v1/datasets/orders/tags", {"tag": tag})
    assert r.status_code == 200
    assert r.json()["tags"] == [tag]


def test_field_tags(ds):
    r = ds.post("/api/v1/datasets/orders/fields/id/tags", {"tag": "key"})
    assert r.status_code == 200, r.text
    doc = r.json()
    by = {f["name"]: f for f in doc["fields"]}
    assert by["id"]["tags"] == ["key"]
    assert by["email"]["tags"] == ["pii"]
    assert doc["version"] == 2
    r = ds.delete("/api/v1/datasets/orders/fields/email/tags/pii")
    assert r.status_code == 200, r.text
    by = {f["name"]: f for f in r.json()["fields"]}
    assert by["email"]["tags"] == []
    assert by["id"]["tags"] == ["key"]
    assert r.json()["version"] == 3
    assert_error(ds.delete("/api/v1/datasets/orders/fields/email/tags/pii"), 404, "not_found")


def test_field_tag_missing_field(ds):
    assert_error(ds.post("/api/v1/datasets/orders/fields/nofield/tags", {"tag": "x"}), 404,
                 "not_found")
    assert_error(ds.delete("/api/v1/datasets/orders/fields/nofield/tags/x"), 404, "not_found")
    assert ds.get_dataset("orders").json()["version"] == 1


def test_tags_in_namespace(api):
    api.create_dataset("t", namespace="ns1", fields=[{"name": "f", "type": "int"}])
    api.create_dataset("t", namespace="ns2", fields=[{"name": "f", "type": "int"}])
    r = api.post("/api/v1/datasets/t/tags", {"tag": "x"}, params={"namespace": "ns1"})
    assert r.status_code == 200 and r.json()["namespace"] == "ns1"
    r = api.post("/api/v1/datasets/t/fields/f/tags", {"tag": "y"}, params={"namespace": "ns2"})
    assert r.status_code == 200 and r.json()["namespace"] == "ns2"
    assert api.get_dataset("t", "ns1").json()["tags"] == ["x"]
    assert api.get_dataset("t", "ns2").json()["tags"] == []
    assert api.get_dataset("t", "ns2").json()["fields"][0]["tags"] == ["y"]
    assert api.get_dataset("t", "ns1").json()["fields"][0]["tags"] == []
    # without ?namespace= it is "default", where there is no "t"
    assert_error(api.post("/api/v1/datasets/t/tags", {"tag": "x"}), 404, "not_found")
    assert_error(api.delete("/api/v1/datasets/t/tags/x"), 404, "not_found")
    r = api.delete("/api/v1/datasets/t/tags/x", params={"namespace": "ns1"})
    assert r.status_code == 200 and r.json()["tags"] == []
    r = api.delete("/api/v1/datasets/t/fields/f/tags/y", params={"namespace": "ns2"})
    assert r.status_code == 200 and r.json()["fields"][0]["tags"] == []


def test_tag_counts(api):
    api.create_dataset("a", tags=["pii", "gold"], fields=[
        {"name": "x", "type": "int", "tags": ["pii"]},
        {"name": "y", "type": "int", "tags": ["pii", "key"]},
    ])
    api.create_dataset("b", tags=["pii"], fields=[{"name": "z", "type": "int", "tags": ["key"]}])
    r = api.get("/api/v1/tags")
    assert r.status_code == 200
    body = assert_list_page(r.json())
    counts = {t["tag"]: (t["datasets"], t["fields"]) for t in body["items"]}
    assert counts == {"pii": (2, 2), "gold": (1, 0), "key": (0, 2)}
    for t in body["items"]:
        assert set(t.keys()) >= {"tag", "datasets", "fields"}
    walked = api.walk("/api/v1/tags", limit=1)
    assert sorted(t["tag"] for t in walked) == ["gold", "key", "pii"]


def test_tags_pagination(api):
    api.create_dataset("many", tags=["t%02d" % i for i in range(12)])
    walked = api.walk("/api/v1/tags", limit=5)
    assert sorted(t["tag"] for t in walked) == ["t%02d" % i for i in range(12)]
    assert_error(api.get("/api/v1/tags", params={"limit": "0"}), 400, "invalid_request")
    assert_error(api.get("/api/v1/tags", params={"cursor": "@@bad@@"}), 400, "invalid_request")
