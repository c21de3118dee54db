"""GET /stats and GET /audit."""

import datetime

from conftest import assert_error, assert_list_page, assert_ts, psql, unique

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
    assert tenant.api.delete("/api/v1/api-keys/" + made["id"]).status_code == 204
    after = audit(tenant.api)
    assert len(after) >= before + 2
    text = str(after[:2])
    assert made["id"] in text or "audited-key" in text
    # the secret never lands in the audit log
    assert made["key"] not in str(after)
    assert made["key"].rsplit("_", 1)[1] not in str(after)


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


# ---------------------------------------------------------------- audit filters


def seed_audit(infra, tenant_id, rows):
    """Insert audit rows (at, actor, action, target) for the tenant as the owner, oldest first."""
    values = ",".join(
        "('%s', '%s', '%s', '%s', '%s')" % (tenant_id, at, actor, action, target)
        for at, actor, action, target in rows)
    psql(infra["MF_PG_ADMIN_URL"],
         "INSERT INTO audit_log (tenant_id, at, actor, action, target) VALUES " + values)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def seeded(migrated, tenant, n=30):
    """n rows one minute apart ending an hour ago, three actors, two actions, five targets.
    Returns them newest first (the order of the log) as dicts, and their base time."""
    base = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - \
        datetime.timedelta(hours=1, minutes=n)
    marker = unique("seed")
    rows = []
    for i in range(n):
        rows.append({"at": base + datetime.timedelta(minutes=i),
                     "actor": "key:%s-actor%d" % (marker, i % 3),
                     "action": "seed.%s" % ("create" if i % 2 == 0 else "delete"),
                     "target": "%s/t%d" % (marker, i % 5)})
    seed_audit(migrated, tenant.id, [(iso(r["at"]), r["actor"], r["action"], r["target"])
                                     for r in rows])
    return list(reversed(rows)), base


def key_of(row):
    return (row["actor"], row["action"], row["target"], row["at"])


def test_audit_filter_each(migrated, tenant):
    api = tenant.api
    rows, base = seeded(migrated, tenant)
    all_seeded = [r for r in api.walk("/api/v1/audit", limit=500) if r["action"].startswith("seed.")]
    assert [key_of(r) for r in all_seeded] == [
        (r["actor"], r["action"], r["target"], iso(r["at"])) for r in rows]

    def expect(pred):
        return [(r["actor"], r["action"], r["target"], iso(r["at"])) for r in rows if pred(r)]

    def got(**params):
        return [key_of(r) for r in api.walk("/api/v1/audit", params=params)
                if r["action"].startswith("seed.")]

    actor = rows[0]["actor"]
    assert got(actor=actor) == expect(lambda r: r["actor"] == actor)
    assert len(got(actor=actor)) == 10
    assert got(action="seed.delete") == expect(lambda r: r["action"] == "seed.delete")
    target = rows[0]["target"]
    assert got(target=target) == expect(lambda r: r["target"] == target)
    # since is inclusive, until exclusive: [since, until)
    t10, t20 = base + datetime.timedelta(minutes=10), base + datetime.timedelta(minutes=20)
    assert got(since=iso(t10)) == expect(lambda r: r["at"] >= t10)
    assert got(until=iso(t10)) == expect(lambda r: r["at"] < t10)
    assert len(got(until=iso(t10))) == 10
    window = got(since=iso(t10), until=iso(t20))
    assert window == expect(lambda r: t10 <= r["at"] < t20) and len(window) == 10
    # the same instants written with an offset
    t10_ist = (t10 + datetime.timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S+05:30")
    assert got(since=t10_ist, until=iso(t20)) == window
    # every filter at once
    assert got(actor=actor, action="seed.create", since=iso(t10), until=iso(t20)) == expect(
        lambda r: r["actor"] == actor and r["action"] == "seed.create" and t10 <= r["at"] < t20)
    # until before since, or an empty window: nothing, not an error
    assert got(since=iso(t20), until=iso(t10)) == []
    assert got(since=iso(t10), until=iso(t10)) == []
    assert got(actor="key:nobody") == []
    # the API's own rows are filtered by actor too
    created = [r for r in api.walk("/api/v1/audit") if r["action"] == "api_key.create"]
    assert created, "the tenant's first key creation is not in its log"
    real_actor = created[0]["actor"]
    assert real_actor
    assert all(r["actor"] == real_actor for r in api.walk("/api/v1/audit", params={"actor": real_actor}))


def test_audit_actor_from_requests(tenant):
    editor_key = tenant.make_key("editor", name="audit-editor")
    from conftest import Api
    editor = Api(tenant.base, editor_key["key"])
    editor.create_dataset("by-editor")
    tenant.api.create_dataset("by-admin")
    rows = tenant.api.walk("/api/v1/audit", params={"action": "dataset.create"})
    by_target = {r["target"]: r for r in rows}
    editor_actor = next(r["actor"] for t, r in by_target.items() if "by-editor" in t)
    admin_actor = next(r["actor"] for t, r in by_target.items() if "by-admin" in t)
    assert editor_actor and admin_actor and editor_actor != admin_actor
    assert editor_key["prefix"] in editor_actor or "audit-editor" in editor_actor
    mine = tenant.api.walk("/api/v1/audit", params={"actor": editor_actor})
    assert mine and all(r["actor"] == editor_actor for r in mine)
    assert any("by-editor" in r["target"] for r in mine)
    assert not any("by-admin" in r["target"] for r in mine)


def test_audit_pagination_with_filters(migrated, tenant):
    api = tenant.api
    rows, base = seeded(migrated, tenant, n=45)
    actor = rows[0]["actor"]
    since = iso(base + datetime.timedelta(minutes=5))
    until = iso(base + datetime.timedelta(minutes=40))
    want = [(r["actor"], r["action"], r["target"], iso(r["at"])) for r in rows
            if r["actor"] == actor and base + datetime.timedelta(minutes=5) <= r["at"]
            < base + datetime.timedelta(minutes=40)]
    assert len(want) == 12
    for limit in (1, 4, 5, 12, 13):
        items = api.walk("/api/v1/audit", limit=limit,
                         params={"actor": actor, "since": since, "until": until})
        assert [key_of(r) for r in items] == want, limit
        ids = [int(r["id"]) for r in items]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    # a page boundary inside the rows of one action
    items = api.walk("/api/v1/audit", limit=3, params={"action": "seed.delete", "since": since})
    assert [key_of(r) for r in items] == [
        (r["actor"], r["action"], r["target"], iso(r["at"])) for r in rows
        if r["action"] == "seed.delete" and r["at"] >= base + datetime.timedelta(minutes=5)]


def test_audit_bad_filters(api):
    api.create_dataset("x")
    bad = [
        ({"since": "last tuesday"}, "since"),
        ({"until": "last tuesday"}, "until"),
        ({"until": "2026-02-30T00:00:00Z"}, "until"),
        ({"since": "2026-01-01"}, "since"),
        ({"until": "2026-01-01T25:00:00Z"}, "until"),
        ({"until": "2026-01-01T00:00:00+16:00"}, "until"),
        ({"since": "2026-01-01T00:00:00-23:59"}, "since"),
        ({"until": "now"}, "until"),
        ({"since": "epoch"}, "since"),
        ({"actor": "a" * 513}, "actor"),
        ({"action": "a" * 513}, "action"),
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"cursor": "..."}, "cursor"),
        # well-formed cursors (base64url of a JSON array) that no page ever gave out
        ({"cursor": "WyJ4Il0"}, "cursor"),                       # ["x"]
        ({"cursor": "Wzk5OTk5OTk5OTk5OTk5OTk5OTk5XSA"}, "cursor"),  # [99999999999999999999]
        ({"cursor": "W251bGxd"}, "cursor"),                      # [null]
        ({"cursor": "W10"}, "cursor"),                           # []
    ]
    for params, name in bad:
        r = api.get("/api/v1/audit", params=params)
        assert_error(r, 400, "invalid_request", name)
    # control characters are refused before any filter sees them
    for params in ({"actor": "bad\u0001actor"}, {"target": "bad\ttarget"}):
        assert_error(api.get("/api/v1/audit", params=params), 400, "invalid_request")
    # empty values mean no filter
    everything = api.walk("/api/v1/audit")
    assert api.walk("/api/v1/audit", params={"actor": "", "until": "", "since": ""}) == everything
    # offsets PostgreSQL takes are fine
    assert api.get("/api/v1/audit", params={"until": "2100-01-01T00:00:00-15:59"}).status_code == 200
    assert api.get("/api/v1/audit", params={"since": "2000-01-01T00:00:00.123456789+15:00"}).status_code == 200
