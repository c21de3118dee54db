"""Domains and owners."""

import pytest

from conftest import assert_error, assert_list_page, assert_ts, q


def test_domain_crud(api):
    r = api.post("/api/v1/domains", {"name": "sales", "description": "Revenue data"})
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["name"] == "sales" and d["description"] == "Revenue data"
    assert d["datasets"] == 0
    assert_ts(d["created_at"])
    g = api.get("/api/v1/domains/sales")
    assert g.status_code == 200
    assert g.json() == d
    assert_error(api.post("/api/v1/domains", {"name": "sales"}), 409, "conflict")
    assert api.get("/api/v1/domains/sales").json()["description"] == "Revenue data"
    r = api.delete("/api/v1/domains/sales")
    assert r.status_code == 204 and r.content == b""
    assert_error(api.get("/api/v1/domains/sales"), 404, "not_found")
    assert_error(api.delete("/api/v1/domains/sales"), 404, "not_found")


def test_domain_without_description(api):
    r = api.post("/api/v1/domains", {"name": "ops"})
    assert r.status_code == 201
    assert r.json()["description"] in (None, "")


def test_domain_list_counts(api):
    api.ok("POST", "/api/v1/domains", 201, json_body={"name": "empty"})
    api.create_dataset("a", domain="sales")
    api.create_dataset("b", domain="sales")
    api.create_dataset("c", domain="ops")
    r = api.get("/api/v1/domains")
    assert r.status_code == 200
    items = assert_list_page(r.json())["items"]
    for i in items:
        assert set(i.keys()) >= {"name", "description", "datasets", "created_at"}
    assert {i["name"]: i["datasets"] for i in items} == {"empty": 0, "sales": 2, "ops": 1}
    # created on first use
    assert api.get("/api/v1/domains/ops").json()["datasets"] == 1
    assert api.get("/api/v1/stats").json()["domains"] == 3


def test_domain_delete_detaches_datasets(api):
    api.create_dataset("a", domain="sales")
    assert api.delete("/api/v1/domains/sales").status_code == 204
    doc = api.get_dataset("a").json()
    assert doc["domain"] is None
    assert doc["name"] == "a"
    assert [i["name"] for i in api.walk("/api/v1/datasets", params={"domain": "sales"})] == []


def test_domains_pagination(api):
    names = ["dom%02d" % i for i in range(9)]
    for n in names:
        api.ok("POST", "/api/v1/domains", 201, json_body={"name": n})
    items = api.walk("/api/v1/domains", limit=4)
    assert sorted(i["name"] for i in items) == names
    assert len(items) == 9
    assert_error(api.get("/api/v1/domains", params={"limit": "501"}), 400, "invalid_request")
    assert_error(api.get("/api/v1/domains", params={"cursor": "xx"}), 400, "invalid_request")


def test_domain_names_with_spaces(api):
    r = api.post("/api/v1/domains", {"name": "Sales & Marketing / EU"})
    assert r.status_code == 201
    g = api.get("/api/v1/domains/" + q("Sales & Marketing / EU"))
    assert g.status_code == 200 and g.json()["name"] == "Sales & Marketing / EU"


def test_owner_crud(api):
    r = api.post("/api/v1/owners", {"name": "alice", "email": "alice@example.com",
                                    "team": "data-eng"})
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["name"] == "alice" and o["email"] == "alice@example.com" and o["team"] == "data-eng"
    g = api.get("/api/v1/owners/alice")
    assert g.status_code == 200 and g.json() == o
    assert_error(api.post("/api/v1/owners", {"name": "alice"}), 409, "conflict")
    r = api.post("/api/v1/owners", {"name": "bob"})
    assert r.status_code == 201
    assert r.json()["email"] in (None, "") and r.json()["team"] in (None, "")
    items = api.walk("/api/v1/owners")
    assert sorted(i["name"] for i in items) == ["alice", "bob"]
    assert api.delete("/api/v1/owners/alice").status_code == 204
    assert_error(api.get("/api/v1/owners/alice"), 404, "not_found")
    assert_error(api.delete("/api/v1/owners/alice"), 404, "not_found")
    assert [i["name"] for i in api.walk("/api/v1/owners")] == ["bob"]


def test_owner_created_on_first_use_and_delete_detaches(api):
    api.create_dataset("a", owner="carol@example.com")
    assert api.get("/api/v1/owners/" + q("carol@example.com")).status_code == 200
    assert api.get("/api/v1/stats").json()["owners"] == 1
    assert api.delete("/api/v1/owners/" + q("carol@example.com")).status_code == 204
    assert api.get_dataset("a").json()["owner"] is None


def test_owners_pagination(api):
    for i in range(7):
        api.ok("POST", "/api/v1/owners", 201, json_body={"name": "own%d" % i})
    items = api.walk("/api/v1/owners", limit=3)
    assert sorted(i["name"] for i in items) == ["own%d" % i for i in range(7)]
    assert_error(api.get("/api/v1/owners", params={"limit": "0"}), 400, "invalid_request")
    assert_error(api.get("/api/v1/owners", params={"cursor": "zz"}), 400, "invalid_request")


def test_missing(api):
    assert_error(api.get("/api/v1/domains/none"), 404, "not_found")
    assert_error(api.get("/api/v1/owners/none"), 404, "not_found")
    assert_error(api.delete("/api/v1/owners/none"), 404, "not_found")


@pytest.mark.parametrize("route", ["/api/v1/domains", "/api/v1/owners"])
def test_editor_can_write_viewer_cannot(tenant, route):
    e = tenant.client("editor")
    v = tenant.client("viewer")
    assert e.post(route, {"name": "x"}).status_code == 201
    assert_error(v.post(route, {"name": "y"}), 403, "forbidden")
    assert_error(v.delete(route + "/x"), 403, "forbidden")
    assert v.get(route + "/x").status_code == 200
    assert e.delete(route + "/x").status_code == 204
