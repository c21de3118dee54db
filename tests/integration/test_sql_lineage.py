"""SQL column lineage: POST /api/v1/lineage/parse (parse, resolve against the
catalog, record through the write path) and the OpenLineage sql job facet
through mf-ingest. Roles, scopes, tenant isolation and hostile input."""
import uuid

import pytest

from conftest import assert_error, unique

PARSE = "/api/v1/lineage/parse"


def edge_set(body):
    """The answer's edges as {(source, source_field, target, target_field, transformation)}."""
    return {(e["source"]["name"], e["source_field"], e["target"]["name"], e["target_field"], e["transformation"])
            for e in body["edges"]}


def stats(api):
    s = api.get("/api/v1/stats").json()
    return s["datasets"], s["lineage_edges"], s["column_lineage_edges"]


def upstream_columns(api, dataset, namespace="default"):
    """{(source, source_field, target_field, transformation)} of the recorded edges into dataset."""
    items = api.walk("/api/v1/lineage/edges", params={"dataset": dataset, "namespace": namespace,
                                                     "direction": "up"})
    return {(e["source"]["name"], c["source_field"], c["target_field"], c["transformation"])
            for e in items for c in e["columns"]}


# ---------------------------------------------------------------- parsing

STATEMENTS = [
    ("INSERT INTO mart.daily (day, revenue) SELECT o.created::date, sum(o.amount) FROM raw.orders o GROUP BY 1",
     None,
     {("raw.orders", "created", "mart.daily", "day", "CAST"),
      ("raw.orders", "amount", "mart.daily", "revenue", "AGGREGATION")}),
    ("WITH big AS (SELECT id, amount FROM orders WHERE amount > 100) "
     "SELECT b.id, CASE WHEN b.amount > 1000 THEN 'xl' ELSE 'l' END AS size, c.name "
     "FROM big b JOIN customers c ON c.id = b.id",
     "report",
     {("orders", "id", "report", "id", "IDENTITY"), ("orders", "amount", "report", "size", "CASE"),
      ("customers", "name", "report", "name", "IDENTITY")}),
    ("CREATE TABLE top AS SELECT id, rank() OVER (ORDER BY amount) AS r, sum(amount) OVER () AS total "
     "FROM (SELECT id, amount FROM orders UNION ALL SELECT id, amount FROM archive) u",
     None,
     {("orders", "id", "top", "id", "IDENTITY"), ("archive", "id", "top", "id", "IDENTITY"),
      ("orders", "amount", "top", "total", "WINDOW"), ("archive", "amount", "top", "total", "WINDOW")}),
]


@pytest.mark.parametrize("sql,target,want", STATEMENTS)
def test_parse_statements(tenant, sql, target, want):
    viewer = tenant.client("viewer")
    body = {"sql": sql}
    if target:
        body["target"] = target
    r = viewer.post(PARSE, body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got.keys()) == {"statements", "edges", "sources", "targets", "warnings", "recorded"}
    assert edge_set(got) == want, got
    assert got["recorded"] is None and got["warnings"] == [], got
    for e in got["edges"]:
        assert e["source"]["namespace"] == "default" and e["target"]["namespace"] == "default"
    assert stats(tenant.api) == (0, 0, 0)  # parsing writes nothing


def test_parse_answer_shape_and_namespaces(api):
    r = api.post(PARSE, {"sql": "SELECT a AS x FROM s.t; INSERT INTO u SELECT b FROM s.t",
                         "namespace": "warehouse", "target": {"namespace": "marts", "name": "m"},
                         "dialect": "postgres"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["statements"] == 2
    assert body["sources"] == [{"namespace": "warehouse", "name": "s.t"}]
    assert body["targets"] == [{"namespace": "marts", "name": "m"}, {"namespace": "warehouse", "name": "u"}]
    assert {(e["source"]["namespace"], e["target"]["namespace"], e["target"]["name"]) for e in body["edges"]} == {
        ("warehouse", "marts", "m"), ("warehouse", "warehouse", "u")}


def test_catalog_columns_resolve_star_and_unqualified_names(api):
    api.create_dataset("orders", fields=[{"name": "id", "type": "bigint"}, {"name": "customer_id", "type": "bigint"},
                                         {"name": "amount", "type": "numeric"}])
    api.create_dataset("customers", fields=[{"name": "id", "type": "bigint"}, {"name": "region", "type": "text"}])
    sql = "SELECT amount, region FROM orders o JOIN customers c ON o.customer_id = c.id"
    r = api.post(PARSE, {"sql": sql, "target": "by_region"})
    assert r.status_code == 200, r.text
    assert edge_set(r.json()) == {("orders", "amount", "by_region", "amount", "IDENTITY"),
                                  ("customers", "region", "by_region", "region", "IDENTITY")}
    assert r.json()["warnings"] == []
    r = api.post(PARSE, {"sql": "SELECT * FROM customers", "target": "copy"})
    assert edge_set(r.json()) == {("customers", "id", "copy", "id", "IDENTITY"),
                                  ("customers", "region", "copy", "region", "IDENTITY")}
    # INSERT without a column list takes the target's catalog columns in order
    api.create_dataset("slim", fields=[{"name": "k", "type": "bigint"}, {"name": "v", "type": "numeric"}])
    r = api.post(PARSE, {"sql": "INSERT INTO slim SELECT id, amount FROM orders"})
    assert edge_set(r.json()) == {("orders", "id", "slim", "k", "IDENTITY"),
                                  ("orders", "amount", "slim", "v", "IDENTITY")}


def test_unresolved_names_are_warnings(api):
    r = api.post(PARSE, {"sql": "SELECT * FROM nowhere; SELECT x FROM a JOIN b ON a.k = b.k", "target": "t"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["edges"] == []
    assert any("* cannot be expanded over nowhere" in w for w in body["warnings"]), body
    assert any(w.startswith("statement 2: column x could be in any of a, b") for w in body["warnings"]), body


# ---------------------------------------------------------------- recording

def test_record_goes_through_the_write_path(tenant):
    editor = tenant.client("editor")
    sql = ("INSERT INTO mart.revenue (customer_id, total) "
           "SELECT customer_id, sum(amount) FROM orders GROUP BY customer_id")
    r = editor.post(PARSE, {"sql": sql, "record": True}, headers={"X-Request-ID": "sql-record-1"})
    assert r.status_code == 200, r.text
    assert r.json()["recorded"] == {"lineage_edges": 1}
    assert upstream_columns(tenant.api, "mart.revenue") == {
        ("orders", "customer_id", "customer_id", "IDENTITY"), ("orders", "amount", "total", "AGGREGATION")}
    # both ends exist (placeholders), one edge with two column pairs
    assert stats(tenant.api) == (2, 1, 2)
    doc = tenant.api.get("/api/v1/datasets/orders").json()
    assert doc["version"] >= 1
    audit = tenant.api.walk("/api/v1/audit")
    mine = [a for a in audit if a["request_id"] == "sql-record-1"]
    actions = {a["action"] for a in mine}
    assert "lineage.sql_recorded" in actions, mine
    rec = next(a for a in mine if a["action"] == "lineage.sql_recorded")
    assert rec["target"] == "mart.revenue" and rec["actor"].startswith("key:")
    # recording the same SQL again changes nothing in the shape
    r = editor.post(PARSE, {"sql": sql, "record": True})
    assert r.status_code == 200 and r.json()["recorded"] == {"lineage_edges": 1}
    assert stats(tenant.api) == (2, 1, 2)


def test_record_without_edges_writes_nothing(api):
    r = api.post(PARSE, {"sql": "CREATE TABLE t (a int)", "record": True})
    assert r.status_code == 200, r.text
    assert r.json()["recorded"] == {"lineage_edges": 0}
    assert stats(api) == (0, 0, 0)


def test_viewer_parses_but_cannot_record(tenant):
    viewer = tenant.client("viewer")
    r = viewer.post(PARSE, {"sql": "INSERT INTO t SELECT a FROM s", "record": True},
                    headers={"X-Request-ID": "sql-viewer-record"})
    assert_error(r, 403, "forbidden", "editor")
    assert stats(tenant.api) == (0, 0, 0)
    denied = [a for a in tenant.api.walk("/api/v1/audit") if a["request_id"] == "sql-viewer-record"]
    assert [a["action"] for a in denied] == ["permission.denied"]
    r = viewer.post(PARSE, {"sql": "INSERT INTO t SELECT a FROM s", "record": False})
    assert r.status_code == 200 and r.json()["recorded"] is None


def test_scoped_keys(tenant):
    api = tenant.api
    api.create_dataset("inside", fields=[{"name": "a", "type": "int"}])
    api.create_dataset("outside", fields=[{"name": "b", "type": "int"}])
    viewer = tenant.make_key("viewer", scope={"dataset": {"name": "inside"}})["key"]
    v = api.with_key(viewer)
    # the catalog columns of a dataset out of scope stay unknown
    r = v.post(PARSE, {"sql": "SELECT * FROM outside", "target": "t"})
    assert r.status_code == 200, r.text
    assert r.json()["edges"] == [] and any("outside" in w for w in r.json()["warnings"])
    r = v.post(PARSE, {"sql": "SELECT * FROM inside", "target": "t"})
    assert edge_set(r.json()) == {("inside", "a", "t", "a", "IDENTITY")}
    # an editor scoped to one dataset cannot write lineage into another
    editor = api.with_key(tenant.make_key("editor", scope={"dataset": {"name": "inside"}})["key"])
    before = stats(api)
    r = editor.post(PARSE, {"sql": "INSERT INTO outside (b) SELECT a FROM inside", "record": True})
    assert_error(r, 403)
    assert stats(api) == before


def test_tenant_isolation(tenant_factory):
    a, b = tenant_factory(), tenant_factory()
    b.api.create_dataset("secret", fields=[{"name": "ssn", "type": "text"}])
    r = a.api.post(PARSE, {"sql": "SELECT * FROM secret", "target": "t"})
    assert r.status_code == 200 and r.json()["edges"] == [], r.text  # b's columns never resolve a's SQL
    r = a.api.post(PARSE, {"sql": "INSERT INTO secret (ssn) SELECT x FROM leak", "record": True})
    assert r.status_code == 200 and r.json()["recorded"] == {"lineage_edges": 1}
    assert upstream_columns(b.api, "secret") == set()
    assert stats(b.api) == (1, 0, 0)
    assert upstream_columns(a.api, "secret") == {("leak", "x", "ssn", "IDENTITY")}


# ---------------------------------------------------------------- hostile input

BAD = [
    ({"sql": "SELECT a FORM t", "target": "t"}, 400, "the SQL does not parse: syntax error at or near \"t\" (line 1, column 15)"),
    ({"sql": "SELECT 1;\nSELECT (", "target": "t", "record": True}, 400, "(line 2, column 9)"),
    ({"sql": "   ", "record": True}, 400, "holds no statement"),
    ({"sql": 5}, 400, "sql"),
    ({}, 400, "sql"),
    ({"sql": "SELECT 1", "dialect": "mysql"}, 400, "dialect"),
    ({"sql": "SELECT 1", "dialect": 3}, 400, "dialect"),
    ({"sql": "SELECT 1", "target": 7}, 400, "target"),
    ({"sql": "SELECT 1", "target": {"name": ""}}, 400, "target"),
    ({"sql": "SELECT 1", "namespace": "bad\u0001ns"}, 400, "namespace"),
    ({"sql": "SELECT 1", "record": "yes"}, 400, "record"),
    ({"sql": "SELECT 1", "surprise": 1}, 400, "surprise"),
    ({"sql": "SELECT 1\u0001"}, 400, "sql"),
]


@pytest.mark.parametrize("body,status,message", BAD)
def test_bad_input_changes_nothing(api, body, status, message):
    r = api.post(PARSE, body)
    assert_error(r, status, "invalid_request", message)
    assert stats(api) == (0, 0, 0)


def test_malformed_and_oversized_bodies(api):
    r = api.req("POST", PARSE, data=b'{"sql": "SELECT 1",', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")
    r = api.req("POST", PARSE, data=b'{"sql": "SELECT 1\\u0000"}', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")
    r = api.req("POST", PARSE, data=b"SELECT 1", headers={"Content-Type": "text/plain"})
    assert_error(r, 415)
    # longer than MF_SQL_LINEAGE_MAX_BYTES (256 KiB) but within the body limit
    huge = "INSERT INTO t SELECT " + ", ".join("c%d" % i for i in range(40000)) + " FROM s"
    assert len(huge) > 262144
    r = api.post(PARSE, {"sql": huge, "record": True})
    assert_error(r, 413, "payload_too_large", "more than the 262144")
    # beyond the HTTP body limit
    r = api.post(PARSE, {"sql": "SELECT 1 " + " " * (2 * 1024 * 1024), "record": True})
    assert_error(r, 413)
    assert stats(api) == (0, 0, 0)


def test_large_statement_within_limit(api):
    cols = ", ".join("c%d + 1 AS c%d" % (i, i) for i in range(3000))
    sql = "INSERT INTO wide SELECT %s FROM src" % cols
    assert len(sql) < 262144
    r = api.post(PARSE, {"sql": sql, "record": True})
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["edges"]) == 3000
    assert stats(api) == (2, 1, 3000)


def test_unauthenticated(anon):
    assert_error(anon.post(PARSE, {"sql": "SELECT 1"}), 401, "unauthorized")


# ---------------------------------------------------------------- OpenLineage sql facet

def ol_event(sql, outputs, inputs):
    return {
        "eventType": "COMPLETE", "eventTime": "2024-05-01T10:00:00Z",
        "producer": "https://example.com/test", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "airflow", "name": unique("job"),
                "facets": {"sql": {"query": sql}}},
        "inputs": inputs, "outputs": outputs,
    }


def ds(name, fields=None, facets=None):
    d = {"namespace": "postgres://db:5432", "name": name}
    f = dict(facets or {})
    if fields:
        f["schema"] = {"fields": [{"name": n, "type": "int"} for n in fields]}
    if f:
        d["facets"] = f
    return d


def test_openlineage_sql_facet(tenant, ingest, ingest_worker):
    client = tenant.ingest(ingest)
    ns = "postgres://db:5432"
    sql = ("INSERT INTO public.daily (day, total) "
           "SELECT created::date, sum(amount) FROM public.orders GROUP BY 1")
    ev = ol_event(sql, [ds("shop.public.daily")], [ds("shop.public.orders", ["created", "amount"])])
    client.wait_applied(client.lineage(ev))
    assert upstream_columns(tenant.api, "shop.public.daily", ns) == {
        ("shop.public.orders", "created", "day", "CAST"), ("shop.public.orders", "amount", "total", "AGGREGATION")}

    # a bare SELECT feeds the only output; SELECT * resolved through the input's schema facet
    ev = ol_event("SELECT * FROM public.users", [ds("shop.public.users_copy")],
                  [ds("shop.public.users", ["id", "email"])])
    client.wait_applied(client.lineage(ev))
    assert upstream_columns(tenant.api, "shop.public.users_copy", ns) == {
        ("shop.public.users", "id", "id", "IDENTITY"), ("shop.public.users", "email", "email", "IDENTITY")}

    # an output with its own columnLineage facet keeps it; the SQL is not used for it
    facet = {"columnLineage": {"fields": {"k": {"inputFields": [
        {"namespace": ns, "name": "shop.public.src", "field": "key"}]}}}}
    ev = ol_event("INSERT INTO public.dst (k, v) SELECT a, b FROM public.src", [ds("shop.public.dst", facets=facet)],
                  [ds("shop.public.src")])
    client.wait_applied(client.lineage(ev))
    assert upstream_columns(tenant.api, "shop.public.dst", ns) == {("shop.public.src", "key", "k", "")}


def test_openlineage_bad_sql_never_fails_the_event(tenant, ingest, ingest_worker):
    client = tenant.ingest(ingest)
    ns = "postgres://db:5432"
    ev = ol_event("INSERT INTO public.t SELEC broken", [ds("w.public.t")], [ds("w.public.s")])
    doc = client.wait_applied(client.lineage(ev))
    assert doc["status"] == "applied"
    items = tenant.api.walk("/api/v1/lineage/edges", params={"dataset": "w.public.t", "namespace": ns,
                                                            "direction": "up"})
    assert [(e["source"]["name"], e["columns"]) for e in items] == [("w.public.s", [])]

