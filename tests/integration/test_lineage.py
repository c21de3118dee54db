"""Lineage edges (dataset and column level)."""

import uuid

import pytest

from conftest import UUID_RE, assert_error, assert_list_page, assert_ts


def ref(name, ns="default"):
    return {"namespace": ns, "name": name}


def edges(api, dataset, direction=None, namespace=None, limit=None):
    params = {"dataset": dataset}
    if direction:
        params["direction"] = direction
    if namespace:
        params["namespace"] = namespace
    return api.walk("/api/v1/lineage/edges", limit=limit, params=params)


def pairs(items):
    return sorted(((e["source"]["namespace"], e["source"]["name"]),
                   (e["target"]["namespace"], e["target"]["name"])) for e in items)


def test_create_edge_with_placeholders(api):
    r = api.post("/api/v1/lineage/edges", {"source": "raw", "target": ref("clean", "wh")})
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["source"] == ref("raw") and e["target"] == ref("clean", "wh")
    assert e["columns"] == []
    raw = api.get_dataset("raw").json()
    clean = api.get_dataset("clean", "wh").json()
    assert raw["placeholder"] is True and clean["placeholder"] is True
    assert raw["downstream"] == [ref("clean", "wh")]
    assert clean["upstream"] == [ref("raw")]
    s = api.get("/api/v1/stats").json()
    assert s["lineage_edges"] == 1 and s["datasets"] == 2


def test_edge_between_existing_datasets_keeps_them_real(api):
    api.create_dataset("a", fields=[{"name": "x", "type": "int"}])
    api.create_dataset("b", fields=[{"name": "y", "type": "int"}])
    r = api.post("/api/v1/lineage/edges", {
        "source": "a", "target": "b",
        "columns": [{"source_field": "x", "target_field": "y", "transformation": "identity",
                     "expression": "x"}]})
    assert r.status_code == 201, r.text
    cols = r.json()["columns"]
    assert len(cols) == 1
    assert cols[0]["source_field"] == "x" and cols[0]["target_field"] == "y"
    assert cols[0]["transformation"] == "identity" and cols[0]["expression"] == "x"
    assert api.get_dataset("a").json()["placeholder"] is False
    assert api.get_dataset("b").json()["placeholder"] is False
    assert api.get_dataset("b").json()["upstream"] == [ref("a")]
    assert api.get("/api/v1/stats").json()["column_lineage_edges"] == 1


def test_same_edge_merges_columns(api):
    body = {"source": "a", "target": "b", "columns": [{"source_field": "x", "target_field": "y"}]}
    assert api.post("/api/v1/lineage/edges", body).status_code == 201
    body2 = {"source": ref("a"), "target": ref("b"),
             "columns": [{"source_field": "x2", "target_field": "y2"},
                         {"source_field": "x", "target_field": "y"}]}
    r = api.post("/api/v1/lineage/edges", body2)
    assert r.status_code == 200, r.text
    cols = sorted((c["source_field"], c["target_field"]) for c in r.json()["columns"])
    assert cols == [("x", "y"), ("x2", "y2")]
    items = edges(api, "a", "down")
    assert len(items) == 1
    assert sorted((c["source_field"], c["target_field"]) for c in items[0]["columns"]) == cols
    s = api.get("/api/v1/stats").json()
    assert s["lineage_edges"] == 1 and s["column_lineage_edges"] == 2
    # again with no columns: still one edge, columns kept
    r = api.post("/api/v1/lineage/edges", {"source": "a", "target": "b"})
    assert r.status_code == 200
    assert len(r.json()["columns"]) == 2


def test_self_edge(api):
    r = api.post("/api/v1/lineage/edges", {"source": "a", "target": "a"})
    assert_error(r, 400, "invalid_request")
    r = api.post("/api/v1/lineage/edges", {"source": "a", "target": ref("a")})
    assert_error(r, 400, "invalid_request")
    s = api.get("/api/v1/stats").json()
    assert s["lineage_edges"] == 0 and s["datasets"] == 0


def test_same_name_other_namespace_is_not_self(api):
    r = api.post("/api/v1/lineage/edges", {"source": ref("t", "n1"), "target": ref("t", "n2")})
    assert r.status_code == 201, r.text


def test_list_directions(api):
    # a -> b -> c, x -> b
    for s, t in (("a", "b"), ("b", "c"), ("x", "b")):
        api.ok("POST", "/api/v1/lineage/edges", 201, json_body={"source": s, "target": t})
    r = api.get("/api/v1/lineage/edges", params={"dataset": "b", "direction": "up"})
    assert r.status_code == 200
    body = assert_list_page(r.json())
    for e in body["items"]:
        assert set(e.keys()) >= {"id", "source", "target", "columns", "created_at"}
        assert UUID_RE.match(e["id"])
        assert_ts(e["created_at"])
    assert pairs(body["items"]) == [(("default", "a"), ("default", "b")),
                                    (("default", "x"), ("default", "b"))]
    assert pairs(edges(api, "b", "down")) == [(("default", "b"), ("default", "c"))]
    assert pairs(edges(api, "b", "both")) == [(("default", "a"), ("default", "b")),
                                              (("default", "b"), ("default", "c")),
                                              (("default", "x"), ("default", "b"))]
    assert pairs(edges(api, "b")) == pairs(edges(api, "b", "both"))
    assert edges(api, "c", "down") == []
    r = api.get("/api/v1/lineage/edges", params={"dataset": "nope", "direction": "both"})
    if r.status_code == 200:
        assert r.json()["items"] == []
    else:
        assert_error(r, 404, "not_found")


def test_list_namespace(api):
    api.ok("POST", "/api/v1/lineage/edges", 201,
           json_body={"source": ref("s", "n1"), "target": ref("t", "n1")})
    assert len(edges(api, "s", "down", namespace="n1")) == 1
    assert edges(api, "s", "down") == []  # default namespace


def test_list_pagination(api):
    for i in range(7):
        api.ok("POST", "/api/v1/lineage/edges", 201,
               json_body={"source": "hub", "target": "t%d" % i})
    items = edges(api, "hub", "down", limit=3)
    assert len(items) == 7 and len({e["id"] for e in items}) == 7
    assert_error(api.get("/api/v1/lineage/edges", params={"dataset": "hub", "limit": "0"}), 400,
                 "invalid_request")
    assert_error(api.get("/api/v1/lineage/edges", params={"dataset": "hub", "cursor": "junk"}),
                 400, "invalid_request")


def test_list_bad_direction(api):
    r = api.get("/api/v1/lineage/edges", params={"dataset": "a", "direction": "sideways"})
    assert_error(r, 400, "invalid_request", "direction")


def test_delete_edge(api):
    e = api.post("/api/v1/lineage/edges", {
        "source": "a", "target": "b",
        "columns": [{"source_field": "x", "target_field": "y"}]}).json()
    eid = edges(api, "a", "down")[0]["id"]
    if "id" in e:
        assert e["id"] == eid
    r = api.delete("/api/v1/lineage/edges/" + eid)
    assert r.status_code == 204 and r.content == b""
    assert edges(api, "a", "both") == []
    assert api.get_dataset("b").json()["upstream"] == []
    s = api.get("/api/v1/stats").json()
    assert s["lineage_edges"] == 0 and s["column_lineage_edges"] == 0
    assert_error(api.delete("/api/v1/lineage/edges/" + eid), 404, "not_found")
    assert_error(api.delete("/api/v1/lineage/edges/" + str(uuid.uuid4())), 404, "not_found")


def test_delete_edge_malformed_id(api):
    r = api.delete("/api/v1/lineage/edges/not-a-uuid")
    assert r.status_code in (400, 404), r.text
    assert_error(r, r.status_code, ("invalid_request", "not_found"))


@pytest.mark.parametrize("body,field", [
    ({"target": "b"}, "source"),
    ({"source": "a"}, "target"),
    ({"source": 1, "target": "b"}, "source"),
    ({"source": "a", "target": ["b"]}, "target"),
    ({"source": {"namespace": "x"}, "target": "b"}, "source"),
    ({"source": {"name": 5}, "target": "b"}, "source"),
    ({"source": "a", "target": "b", "columns": "x"}, "columns"),
    ({"source": "a", "target": "b", "columns": [{"source_field": "x"}]}, "columns[0]"),
    ({"source": "a", "target": "b", "columns": [{"target_field": "y"}]}, "columns[0]"),
    ({"source": "a", "target": "b", "columns": [{"source_field": 1, "target_field": "y"}]},
     "columns[0].source_field"),
    ({"source": "a", "target": "b", "columns": [5]}, "columns[0]"),
    ({"source": "", "target": "b"}, "source"),
    ({"source": "a", "target": "b", "weight": 3}, "weight"),
])
def test_bad_edge_bodies(api, body, field):
    r = api.post("/api/v1/lineage/edges", body)
    assert_error(r, 400, "invalid_request", field)
    s = api.get("/api/v1/stats").json()
    assert s["lineage_edges"] == 0 and s["datasets"] == 0
