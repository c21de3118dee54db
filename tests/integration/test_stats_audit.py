"""GET /stats and GET /audit."""

from conftest import assert_error, assert_list_page, assert_ts

STATS_KEYS = {"datasets", "fields", "lineage_edges", "column_lineage_edges", "tags", "domains",
              "owners", "glossary_terms", "top_formats", "top_domains"}
AUDIT_KEYS = {"id", "at", "actor", "action", "target", "request_id", "client_addr", "before",
              "after"}


def test_stats_empty(api):
    r = api.get("/api/v1/stats")
    assert r.status_code == 200
    s = r.json()
    assert set(s.keys()) >= STATS_KEYS
    for k in STATS_KEYS - {"top_formats", "top_domains"}:
        assert s[k] == 0, (k, s)
    assert s["top_formats"] == [] and s["top_domains"] == []


def test_stats_counts(tenant):
    api = tenant.api
    api.ok("POST", "/api/v1/domains", 201, json_body={"name": "empty"})
    api.ok("POST", "/api/v1/owners", 201, json_body={"name": "bob"})
    api.create_dataset("a", format="parquet", domain="sales", owner="alice", tags=["pii"],
                       fields=[{"name": "x", "type": "int"}, {"name": "y", "type": "int"}])
    api.create_dataset("b", format="parquet", domain="sales", tags=["gold"],
                       fields=[{"name": "z", "type": "int"}])
    api.create_dataset("c", format="csv", domain="ops")
    api.ok("POST", "/api/v1/lineage/edges", 201, json_body={
        "source": "a", "target": "b", "columns": [{"source_field": "x", "target_field": "z"}]})
    api.ok("POST", "/api/v1/lineage/edges", 201, json_body={"source": "b", "target": "c"})
    api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "g1"})
    api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "g2"})
    s = tenant.client("viewer").get("/api/v1/stats").json()
    assert {k: s[k] for k in STATS_KEYS - {"top_formats", "top_domains"}} == {
        "datasets": 3, "fields": 3, "lineage_edges": 2, "column_lineage_edges": 1, "tags": 2,
        "domains": 3, "owners": 2, "glossary_terms": 2}
    assert s["top_formats"] == [{"format": "parquet", "datasets": 2},
                                {"format": "csv", "datasets": 1}]
    assert s["top_domains"][:2] == [{"domain": "sales", "datasets": 2},
                                    {"domain": "ops", "datasets": 1}]
    assert all(d["datasets"] == 0 for d in s["top_domains"][2:])


# ---------------------------------------------------------------- audit


def audit(api, **params):
    return api.walk("/api/v1/audit", params=params)


def test_audit_records_mutations(api):
    r = api.post("/api/v1/datasets", {"name": "orders", "description": "v1"},
                 headers={"X-Request-ID": "audit-create-1"})
    assert r.status_code == 201
    r = api.put("/api/v1/datasets/orders", {"description": "v2"},
                headers={"X-Request-ID": "audit-update-1"})
    assert r.status_code == 200
    r = api.delete("/api/v1/datasets/orders", headers={"X-Request-ID": "audit-delete-1"})
    assert r.status_code == 204
    resp = api.get("/api/v1/audit")
    assert resp.status_code == 200
    items = assert_list_page(resp.json())["items"]
    by_rid = {}
    for i in items:
        assert set(i.keys()) >= AUDIT_KEYS, i
        assert_ts(i["at"])
        by_rid.setdefault(i["request_id"], []).append(i)
    for rid in ("audit-create-1", "audit-update-1", "audit-delete-1"):
        assert rid in by_rid, (rid, [i["request_id"] for i in items])
    create = by_rid["audit-create-1"][0]
    update = by_rid["audit-update-1"][0]
    delete = by_rid["audit-delete-1"][0]
    for e in (create, update, delete):
        assert isinstance(e["action"], str) and e["action"]
        assert "orders" in str(e["target"])
        assert e["actor"]
        assert e["client_addr"] and "127.0.0.1" in str(e["client_addr"])
    assert len({create["action"], update["action"], delete["action"]}) == 3
    assert create["before"] is None and create["after"] is not None
    assert "v1" in str(create["after"])
    assert update["before"] is not None and update["after"] is not None
    assert "v1" in str(update["before"]) and "v2" in str(update["after"])
    assert delete["before"] is not None and delete["after"] is None
    # newest first
    pos = {i["request_id"]: n for n, i in enumerate(items)}
    assert pos["audit-delete-1"] < pos["audit-update-1"] < pos["audit-create-1"]
    ats = [i["at"] for i in items]
    assert ats == sorted(ats, reverse=True)


def test_audit_filters(api):
    api.create_dataset("alpha")
    api.create_dataset("beta")
    api.ok("POST", "/api/v1/domains", 201, json_body={"name": "dom"})
    everything = audit(api)
    create_action = next(i["action"] for i in everything if "alpha" in str(i["target"]))
    by_action = audit(api, action=create_action)
    assert len(by_action) >= 2
    assert all(i["action"] == create_action for i in by_action)
    targets = [str(i["target"]) for i in by_action]
    assert any("alpha" in t for t in targets) and any("beta" in t for t in targets)
    alpha_target = next(i["target"] for i in everything if "alpha" in str(i["target"]))
    by_target = audit(api, target=alpha_target)
    assert len(by_target) >= 1 and all(i["target"] == alpha_target for i in by_target)
    assert audit(api, since="2100-01-01T00:00:00Z") == []
    assert len(audit(api, since="2000-01-01T00:00:00Z")) == len(everything)
    assert audit(api, action="no.such.action") == []
    assert_error(api.get("/api/v1/audit", params={"since": "last tuesday"}), 400,
                 "invalid_request")


def test_audit_key_events(tenant):
    before = len(audit(tenant.api))
    made = tenant.make_key("viewer", name="audited-key")
    assert tenant.api.delete("/api/v1/keys/" + made["key"]["id"]).status_code == 204
    after = audit(tenant.api)
    assert len(after) >= before + 2
    text = str(after[:2])
    assert made["key"]["id"] in text or "audited-key" in text
    # the secret never lands in the audit log
    assert made["api_key"] not in str(after)
    assert made["api_key"].rsplit("_", 1)[1] not in str(after)


def test_audit_admin_only(tenant):
    tenant.api.create_dataset("x")
    for role in ("viewer", "editor"):
        assert_error(tenant.client(role).get("/api/v1/audit"), 403, "forbidden")
    assert tenant.api.get("/api/v1/audit").status_code == 200


def test_audit_pagination(api):
    for i in range(9):
        api.create_dataset("p%d" % i)
    items = api.walk("/api/v1/audit", limit=4)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) and len(ids) >= 9
    assert_error(api.get("/api/v1/audit", params={"limit": "0"}), 400, "invalid_request")
    assert_error(api.get("/api/v1/audit", params={"cursor": "..."}), 400, "invalid_request")


def test_reads_are_not_mutations(api):
    api.create_dataset("r")
    n = len(audit(api))
    for _ in range(3):
        api.get_dataset("r")
        api.get("/api/v1/datasets")
        api.get("/api/v1/stats")
    assert len(audit(api)) == n


def test_failed_writes_leave_no_mutation_rows(api):
    api.create_dataset("r")
    rows = audit(api)
    n = len(rows)
    create_action = rows[0]["action"]
    assert api.post("/api/v1/datasets", {"name": "r"}).status_code == 409
    assert api.post("/api/v1/datasets", {"nme": "q"}).status_code == 400
    assert api.put("/api/v1/datasets/none", {}).status_code == 404
    rows = audit(api)
    # Security events may be logged, but no new row may record a dataset change.
    new = rows[: len(rows) - n]
    for i in new:
        assert i["action"] != create_action, i
        assert i["after"] is None, i
    assert api.get_dataset("r").json()["version"] == 1


def test_one_audit_row_per_dataset_change(api):
    """One API call that changes one dataset is one audit row for it, whose
    `after` is the dataset as the caller sees it (not an intermediate state)."""
    fields = [{"name": "a", "type": "int"}]
    api.ok("POST", "/api/v1/datasets", 201, json_body={"name": "one", "fields": fields},
           headers={"X-Request-ID": "one-row-create"})
    api.ok("PUT", "/api/v1/datasets/one", 200,
           json_body={"fields": fields + [{"name": "b", "type": "text"}]},
           headers={"X-Request-ID": "one-row-put"})
    rows = audit(api)
    for rid, version, schema_version in (("one-row-create", 1, 1), ("one-row-put", 2, 2)):
        mine = [i for i in rows if i["request_id"] == rid and "one" in str(i["target"])]
        assert len(mine) == 1, [(i["action"], i["target"]) for i in mine]
        after = mine[0]["after"]
        assert after["version"] == version, after
        assert after["schema_version"] == schema_version, after
