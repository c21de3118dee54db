"""Glossary terms and their links to datasets and fields."""

import pytest

from conftest import UUID_RE, assert_error, assert_list_page, assert_ts

TERM_KEYS = {"id", "name", "definition", "status", "links", "created_at", "updated_at"}


def check_term(t):
    assert set(t.keys()) >= TERM_KEYS, t
    assert UUID_RE.match(t["id"])
    assert_ts(t["created_at"])
    assert_ts(t["updated_at"])
    assert isinstance(t["links"], list)


def test_create_defaults(api):
    r = api.post("/api/v1/glossary/terms", {"name": "Revenue"})
    assert r.status_code == 201, r.text
    t = r.json()
    check_term(t)
    assert t["name"] == "Revenue" and t["status"] == "draft" and t["links"] == []
    assert t["definition"] in (None, "")
    g = api.get("/api/v1/glossary/terms/Revenue")
    assert g.status_code == 200 and g.json() == t


def test_create_full_and_conflict(api):
    r = api.post("/api/v1/glossary/terms", {"name": "ARR", "definition": "Annual recurring revenue",
                                            "status": "approved"})
    assert r.status_code == 201
    assert r.json()["status"] == "approved"
    assert r.json()["definition"] == "Annual recurring revenue"
    assert_error(api.post("/api/v1/glossary/terms", {"name": "ARR"}), 409, "conflict")
    assert api.get("/api/v1/glossary/terms/ARR").json()["status"] == "approved"


def test_bad_status(api):
    r = api.post("/api/v1/glossary/terms", {"name": "X", "status": "final"})
    assert_error(r, 400, "invalid_request", "status")
    assert_error(api.get("/api/v1/glossary/terms/X"), 404, "not_found")


def test_list_and_status_filter(api):
    for name, status in (("a", "draft"), ("b", "approved"), ("c", "deprecated"), ("d", "approved")):
        api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": name, "status": status})
    r = api.get("/api/v1/glossary/terms")
    assert r.status_code == 200
    items = assert_list_page(r.json())["items"]
    assert sorted(i["name"] for i in items) == ["a", "b", "c", "d"]
    for i in items:
        check_term(i)

    def names(status):
        return sorted(i["name"] for i in api.walk("/api/v1/glossary/terms",
                                                    params={"status": status}))

    assert names("approved") == ["b", "d"]
    assert names("draft") == ["a"]
    assert names("deprecated") == ["c"]
    assert_error(api.get("/api/v1/glossary/terms", params={"status": "bogus"}), 400,
                 "invalid_request")


def test_pagination(api):
    for i in range(8):
        api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "term%d" % i})
    items = api.walk("/api/v1/glossary/terms", limit=3)
    assert sorted(i["name"] for i in items) == ["term%d" % i for i in range(8)]
    assert_error(api.get("/api/v1/glossary/terms", params={"limit": "x"}), 400, "invalid_request")
    assert_error(api.get("/api/v1/glossary/terms", params={"cursor": "xx"}), 400,
                 "invalid_request")


def test_put(api):
    t0 = api.post("/api/v1/glossary/terms", {"name": "Churn", "definition": "old"}).json()
    r = api.put("/api/v1/glossary/terms/Churn", {"definition": "new", "status": "approved"})
    assert r.status_code == 200, r.text
    t = r.json()
    check_term(t)
    assert t["definition"] == "new" and t["status"] == "approved"
    assert t["id"] == t0["id"] and t["created_at"] == t0["created_at"]
    assert t["updated_at"] >= t0["updated_at"]
    assert api.get("/api/v1/glossary/terms/Churn").json() == t
    assert_error(api.put("/api/v1/glossary/terms/Churn", {"status": "nope"}), 400,
                 "invalid_request", "status")
    assert_error(api.put("/api/v1/glossary/terms/Nope", {"definition": "x"}), 404, "not_found")
    assert_error(api.get("/api/v1/glossary/terms/Nope"), 404, "not_found")
    assert api.get("/api/v1/glossary/terms/Churn").json()["status"] == "approved"


def test_delete(api):
    api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "Gone"})
    r = api.delete("/api/v1/glossary/terms/Gone")
    assert r.status_code == 204 and r.content == b""
    assert_error(api.get("/api/v1/glossary/terms/Gone"), 404, "not_found")
    assert_error(api.delete("/api/v1/glossary/terms/Gone"), 404, "not_found")
    assert api.get("/api/v1/stats").json()["glossary_terms"] == 0


@pytest.fixture
def linked(api):
    api.create_dataset("orders", fields=[{"name": "amount", "type": "int"}])
    api.create_dataset("users", namespace="crm", fields=[{"name": "email", "type": "text"}])
    api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "Revenue"})
    return api


def link_set(term):
    # a whole-dataset link has field None: sort it before the dataset's field links
    return sorted(((l["namespace"], l["dataset"], l["field"]) for l in term["links"]),
                  key=lambda t: (t[0], t[1], t[2] is not None, t[2] or ""))


def test_links(linked):
    api = linked
    r = api.post("/api/v1/glossary/terms/Revenue/links", {"dataset": "orders"})
    assert r.status_code == 200, r.text
    assert link_set(r.json()) == [("default", "orders", None)]
    r = api.post("/api/v1/glossary/terms/Revenue/links", {"dataset": "orders", "field": "amount"})
    assert r.status_code == 200
    r = api.post("/api/v1/glossary/terms/Revenue/links",
                 {"dataset": "users", "namespace": "crm", "field": "email"})
    assert r.status_code == 200
    t = r.json()
    check_term(t)
    assert link_set(t) == [("crm", "users", "email"), ("default", "orders", None),
                           ("default", "orders", "amount")]
    for l in t["links"]:
        assert set(l.keys()) >= {"namespace", "dataset", "field"}
    assert link_set(api.get("/api/v1/glossary/terms/Revenue").json()) == link_set(t)
    # remove the field link only
    r = api.delete("/api/v1/glossary/terms/Revenue/links",
                   params={"dataset": "orders", "field": "amount"})
    assert r.status_code == 200, r.text
    assert link_set(r.json()) == [("crm", "users", "email"), ("default", "orders", None)]
    r = api.delete("/api/v1/glossary/terms/Revenue/links",
                   params={"dataset": "users", "namespace": "crm", "field": "email"})
    assert r.status_code == 200
    r = api.delete("/api/v1/glossary/terms/Revenue/links", params={"dataset": "orders"})
    assert r.status_code == 200
    assert r.json()["links"] == []


def test_link_missing_targets(linked):
    api = linked
    for body in ({"dataset": "nope"}, {"dataset": "orders", "field": "nofield"},
                 {"dataset": "users"},  # wrong namespace
                 {"dataset": "orders", "namespace": "crm"}):
        assert_error(api.post("/api/v1/glossary/terms/Revenue/links", body), 404, "not_found")
    assert_error(api.post("/api/v1/glossary/terms/Nope/links", {"dataset": "orders"}), 404,
                 "not_found")
    assert api.get("/api/v1/glossary/terms/Revenue").json()["links"] == []


def test_link_duplicate_is_idempotent(linked):
    api = linked
    api.ok("POST", "/api/v1/glossary/terms/Revenue/links", 200, json_body={"dataset": "orders"})
    r = api.post("/api/v1/glossary/terms/Revenue/links", {"dataset": "orders"})
    assert r.status_code == 200
    assert link_set(r.json()) == [("default", "orders", None)]


def test_unlink_missing_param(linked):
    api = linked
    r = api.delete("/api/v1/glossary/terms/Revenue/links")
    assert_error(r, 400, "invalid_request", "dataset")


def test_links_follow_dataset_delete(linked):
    api = linked
    api.ok("POST", "/api/v1/glossary/terms/Revenue/links", 200,
           json_body={"dataset": "orders", "field": "amount"})
    assert api.delete("/api/v1/datasets/orders").status_code == 204
    assert api.get("/api/v1/glossary/terms/Revenue").json()["links"] == []
