"""Tenant isolation: through the API (every tenant route) and in Postgres (RLS)."""

import pytest

from conftest import Api, assert_error, psql

# Catalog tables named by the design; every one holds tenant rows under RLS.
CATALOG_TABLES = ["namespaces", "datasets", "fields", "dataset_versions", "domains", "owners",
                  "glossary_terms", "lineage_edges", "column_lineage", "audit_log"]


def build_world(t):
    """Give tenant t one of everything; return ids and a snapshot function."""
    api = t.api
    api.create_dataset("orders", namespace="default", format="parquet", domain="sales",
                       owner="alice", tags=["pii"], description="A's orders",
                       fields=[{"name": "id", "type": "int", "tags": ["key"]},
                               {"name": "amount", "type": "int"}],
                       upstream=["raw_orders"])
    api.ok("PUT", "/api/v1/datasets/orders", 200, json_body={
        "format": "parquet", "domain": "sales", "owner": "alice", "tags": ["pii"],
        "description": "A's orders", "upstream": ["raw_orders"],
        "fields": [{"name": "id", "type": "int", "tags": ["key"]},
                   {"name": "amount", "type": "bigint"}]})
    api.create_dataset("users", namespace="crm")
    api.ok("POST", "/api/v1/domains", 201, json_body={"name": "finance", "description": "A"})
    api.ok("POST", "/api/v1/owners", 201, json_body={"name": "bob", "email": "bob@a.example"})
    api.ok("POST", "/api/v1/glossary/terms", 201,
           json_body={"name": "Revenue", "definition": "A's revenue", "status": "approved"})
    api.ok("POST", "/api/v1/glossary/terms/Revenue/links", 200,
           json_body={"dataset": "orders", "field": "amount"})
    api.ok("POST", "/api/v1/lineage/edges", 201, json_body={
        "source": "orders", "target": {"namespace": "crm", "name": "users"},
        "columns": [{"source_field": "id", "target_field": "id"}]})
    edge_id = api.walk("/api/v1/lineage/edges",
                       params={"dataset": "orders", "direction": "down"})[0]["id"]
    key = t.make_key("viewer", name="a-viewer")
    return {"edge_id": edge_id, "key_id": key["id"], "key": key["key"]}


def snapshot(api):
    s = {}
    s["orders"] = api.get_dataset("orders").json()
    s["raw_orders"] = api.get_dataset("raw_orders").json()
    s["users"] = api.get_dataset("users", "crm").json()
    s["datasets"] = api.walk("/api/v1/datasets")
    s["versions"] = api.walk("/api/v1/datasets/orders/versions")
    s["tags"] = sorted(api.walk("/api/v1/tags"), key=lambda x: x["tag"])
    s["domains"] = sorted(api.walk("/api/v1/domains"), key=lambda x: x["name"])
    s["owners"] = sorted(api.walk("/api/v1/owners"), key=lambda x: x["name"])
    s["terms"] = sorted(api.walk("/api/v1/glossary/terms"), key=lambda x: x["name"])
    s["edges"] = api.walk("/api/v1/lineage/edges", params={"dataset": "orders",
                                                             "direction": "both"})
    s["keys"] = sorted(api.walk("/api/v1/api-keys"), key=lambda x: x["id"])
    for k in s["keys"]:
        k.pop("last_used_at", None)
    s["stats"] = api.get("/api/v1/stats").json()
    return s


def test_cross_tenant_api(tenant_factory):
    a = tenant_factory()
    b = tenant_factory()
    ids = build_world(a)
    before = snapshot(a.api)
    audit_before = a.api.walk("/api/v1/audit")
    bapi = Api(b.base, b.key, headers={"X-Request-ID": "from-tenant-b"})

    def nf(method, path, body=None, params=None):
        if body is None:
            r = bapi.req(method, path, params=params)
        else:
            r = bapi.req(method, path, json_body=body, params=params)
        assert_error(r, 404, "not_found")

    # reads
    nf("GET", "/api/v1/datasets/orders")
    nf("GET", "/api/v1/datasets/raw_orders")
    nf("GET", "/api/v1/datasets/users", params={"namespace": "crm"})
    nf("GET", "/api/v1/datasets/orders/versions")
    nf("GET", "/api/v1/datasets/orders/versions/1")
    nf("GET", "/api/v1/datasets/orders/schema/diff", params={"from": "1", "to": "2"})
    nf("GET", "/api/v1/domains/sales")
    nf("GET", "/api/v1/domains/finance")
    nf("GET", "/api/v1/owners/alice")
    nf("GET", "/api/v1/owners/bob")
    nf("GET", "/api/v1/glossary/terms/Revenue")
    # writes and deletes
    nf("PUT", "/api/v1/datasets/orders", {"description": "B was here"})
    nf("PUT", "/api/v1/datasets/users", {"description": "B was here"}, params={"namespace": "crm"})
    nf("POST", "/api/v1/datasets/orders/tags", {"tag": "b-tag"})
    nf("DELETE", "/api/v1/datasets/orders/tags/pii")
    nf("POST", "/api/v1/datasets/orders/fields/id/tags", {"tag": "b-tag"})
    nf("DELETE", "/api/v1/datasets/orders/fields/id/tags/key")
    nf("PUT", "/api/v1/glossary/terms/Revenue", {"definition": "B was here"})
    nf("POST", "/api/v1/glossary/terms/Revenue/links", {"dataset": "orders"})
    nf("DELETE", "/api/v1/glossary/terms/Revenue/links", params={"dataset": "orders",
                                                                 "field": "amount"})
    nf("DELETE", "/api/v1/lineage/edges/" + ids["edge_id"])
    nf("DELETE", "/api/v1/api-keys/" + ids["key_id"])
    nf("DELETE", "/api/v1/glossary/terms/Revenue")
    nf("DELETE", "/api/v1/domains/finance")
    nf("DELETE", "/api/v1/domains/sales")
    nf("DELETE", "/api/v1/owners/bob")
    nf("DELETE", "/api/v1/owners/alice")
    nf("DELETE", "/api/v1/datasets/orders")
    nf("DELETE", "/api/v1/datasets/users", params={"namespace": "crm"})
    nf("DELETE", "/api/v1/datasets/raw_orders")
    # lists show nothing of A's
    assert bapi.walk("/api/v1/datasets") == []
    assert bapi.walk("/api/v1/datasets", params={"namespace": "crm"}) == []
    assert bapi.walk("/api/v1/datasets", params={"tag": "pii"}) == []
    assert bapi.walk("/api/v1/datasets", params={"domain": "sales"}) == []
    assert bapi.walk("/api/v1/tags") == []
    assert bapi.walk("/api/v1/domains") == []
    assert bapi.walk("/api/v1/owners") == []
    assert bapi.walk("/api/v1/glossary/terms") == []
    assert bapi.walk("/api/v1/glossary/terms", params={"status": "approved"}) == []
    for d in ("orders", "raw_orders"):
        r = bapi.get("/api/v1/lineage/edges", params={"dataset": d, "direction": "both"})
        if r.status_code == 200:
            assert r.json()["items"] == [], r.text
        else:
            assert_error(r, 404, "not_found")
    assert len(bapi.walk("/api/v1/api-keys")) == 1
    stats = bapi.get("/api/v1/stats").json()
    for k, v in stats.items():
        if isinstance(v, list):
            assert v == [], (k, v)
        else:
            assert v == 0, (k, v)
    b_audit = bapi.walk("/api/v1/audit")
    text = str(b_audit)
    for marker in ("orders", "Revenue", "finance", "a-viewer", a.id):
        assert marker not in text, marker
    # A's viewer key does not work as a B key on B's data: it sees A's data only
    a_viewer = Api(a.base, ids["key"])
    assert a_viewer.get_dataset("orders").status_code == 200

    # B creates same-named things of its own: no conflict with A's
    assert bapi.post("/api/v1/datasets", {"name": "orders", "description": "B's"}).status_code == 201
    assert bapi.post("/api/v1/domains", {"name": "finance"}).status_code == 201
    assert bapi.post("/api/v1/owners", {"name": "bob"}).status_code == 201
    assert bapi.post("/api/v1/glossary/terms", {"name": "Revenue"}).status_code == 201
    r = bapi.post("/api/v1/lineage/edges", {"source": "orders",
                                            "target": {"namespace": "crm", "name": "users"}})
    assert r.status_code == 201, r.text  # a new edge in B, not A's
    assert bapi.get_dataset("users", "crm").json()["placeholder"] is True
    assert bapi.post("/api/v1/datasets/orders/tags", {"tag": "b-tag"}).status_code == 200
    assert bapi.post("/api/v1/glossary/terms/Revenue/links",
                     {"dataset": "orders"}).status_code == 200
    nf("POST", "/api/v1/glossary/terms/Revenue/links", {"dataset": "orders", "field": "amount"})
    assert bapi.get_dataset("orders").json()["description"] == "B's"
    # and deletes them again
    assert bapi.delete("/api/v1/datasets/orders").status_code == 204
    assert bapi.delete("/api/v1/domains/finance").status_code == 204
    assert bapi.delete("/api/v1/glossary/terms/Revenue").status_code == 204

    # A's data is exactly as it was
    after = snapshot(a.api)
    for k in before:
        assert after[k] == before[k], "tenant A's %s changed:\n%r\n%r" % (k, before[k], after[k])
    audit_after = a.api.walk("/api/v1/audit")
    assert [e for e in audit_after if e["request_id"] == "from-tenant-b"] == []
    assert audit_after[len(audit_after) - len(audit_before):] == audit_before


def test_same_names_independent(tenant_factory):
    a = tenant_factory()
    b = tenant_factory()
    a.api.create_dataset("shared", description="from A")
    b.api.create_dataset("shared", description="from B")
    assert a.api.get_dataset("shared").json()["description"] == "from A"
    assert b.api.get_dataset("shared").json()["description"] == "from B"
    b.api.put("/api/v1/datasets/shared", {"description": "B2"})
    assert a.api.get_dataset("shared").json()["version"] == 1
    assert b.api.delete("/api/v1/datasets/shared").status_code == 204
    assert a.api.get_dataset("shared").status_code == 200


# ---------------------------------------------------------------- RLS in Postgres


@pytest.fixture
def two_tenants_with_rows(tenant_factory):
    a = tenant_factory()
    b = tenant_factory()
    for n in ("a1", "a2", "a3"):
        a.api.create_dataset(n, fields=[{"name": "x", "type": "int"}])
    for n in ("b1", "b2"):
        b.api.create_dataset(n)
    return a, b


def test_rls_no_tenant_sees_nothing(infra, two_tenants_with_rows):
    _, out, _ = psql(infra["MF_PG_URL"], "SELECT count(*) FROM datasets")
    assert out == ["0"]
    # sanity: the superuser sees the rows
    _, out, _ = psql(infra["MF_PG_SUPER_URL"], "SELECT count(*) >= 5 FROM datasets")
    assert out == ["t"]


def test_rls_tables_without_tenant(infra, two_tenants_with_rows):
    _, existing, _ = psql(infra["MF_PG_SUPER_URL"],
                          "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    missing = [t for t in CATALOG_TABLES if t not in existing]
    assert missing == [], "tables named by the design are missing: %s" % missing
    for t in CATALOG_TABLES:
        _, out, _ = psql(infra["MF_PG_URL"], "SELECT count(*) FROM %s" % t)
        assert out == ["0"], "mf_app sees %s rows of %s without mf.tenant_id" % (out, t)


def test_rls_set_tenant(infra, two_tenants_with_rows):
    a, b = two_tenants_with_rows
    url = infra["MF_PG_URL"]
    _, out, _ = psql(url, "SELECT set_config('mf.tenant_id', '%s', false)" % a.id,
                     "SELECT count(*) FROM datasets")
    assert out[-1] == "3"
    _, out, _ = psql(url, "SELECT set_config('mf.tenant_id', '%s', false)" % a.id,
                     "SELECT count(*) FROM fields")
    assert out[-1] == "3"
    _, out, _ = psql(url, "SELECT set_config('mf.tenant_id', '%s', false)" % a.id,
                     "SELECT DISTINCT tenant_id::text FROM datasets")
    assert out[1:] == [a.id]
    _, out, _ = psql(url, "SELECT set_config('mf.tenant_id', '%s', false)" % b.id,
                     "SELECT count(*) FROM datasets")
    assert out[-1] == "2"


def test_rls_cannot_touch_other_tenant(infra, two_tenants_with_rows):
    a, b = two_tenants_with_rows
    url = infra["MF_PG_URL"]
    _, out, _ = psql(
        url, "SELECT set_config('mf.tenant_id', '%s', false)" % b.id,
        "WITH d AS (DELETE FROM datasets WHERE tenant_id::text = '%s' RETURNING 1) "
        "SELECT count(*) FROM d" % a.id)
    assert out[-1] == "0"
    _, out, _ = psql(
        url, "SELECT set_config('mf.tenant_id', '%s', false)" % b.id,
        "WITH u AS (UPDATE datasets SET tenant_id = tenant_id WHERE tenant_id::text = '%s' "
        "RETURNING 1) SELECT count(*) FROM u" % a.id)
    assert out[-1] == "0"
    # moving B's row into A is refused by the policy's check
    rc, _, err = psql(
        url, "SELECT set_config('mf.tenant_id', '%s', false)" % b.id,
        "UPDATE datasets SET tenant_id = '%s' WHERE name = 'b1'" % a.id, check=False)
    assert rc != 0, "mf_app moved a row to another tenant"
    assert len(a.api.walk("/api/v1/datasets")) == 3
    assert len(b.api.walk("/api/v1/datasets")) == 2


def test_rls_cannot_be_disabled(infra, two_tenants_with_rows):
    a, _ = two_tenants_with_rows
    url = infra["MF_PG_URL"]
    rc, _, err = psql(url, "ALTER TABLE datasets DISABLE ROW LEVEL SECURITY", check=False)
    assert rc != 0, "mf_app disabled RLS"
    rc, _, err = psql(url, "ALTER TABLE datasets NO FORCE ROW LEVEL SECURITY", check=False)
    assert rc != 0
    rc, _, err = psql(url, "DROP POLICY IF EXISTS tenant_isolation ON datasets", check=False)
    # either it fails, or there was nothing of that name; RLS must still filter
    rc, out, err = psql(url, "SET row_security = off", "SELECT count(*) FROM datasets",
                        check=False)
    if rc == 0:
        assert out[-1] == "0", "row_security=off let mf_app see %s rows" % out
    rc, out, err = psql(url, "SET row_security = off",
                        "SELECT set_config('mf.tenant_id', '%s', false)" % a.id,
                        "SELECT count(*) FROM datasets", check=False)
    if rc == 0:
        assert out[-1] == "3"
    rc, out, _ = psql(url, "SET ROLE mf_owner", check=False)
    assert rc != 0, "mf_app can SET ROLE mf_owner"
    _, out, _ = psql(infra["MF_PG_SUPER_URL"],
                     "SELECT relrowsecurity FROM pg_class WHERE oid = 'public.datasets'::regclass")
    assert out == ["t"]
    _, out, _ = psql(url, "SELECT count(*) FROM datasets")
    assert out == ["0"]


def test_service_role_attributes(infra):
    _, out, _ = psql(infra["MF_PG_SUPER_URL"],
                     "SELECT rolsuper::text || ',' || rolbypassrls::text "
                     "FROM pg_roles WHERE rolname = 'mf_app'")
    assert out == ["false,false"]
    _, out, _ = psql(infra["MF_PG_SUPER_URL"],
                     "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                     "AND tableowner = 'mf_app'")
    assert out == ["0"]


def test_every_tenant_table_has_rls(infra):
    _, rows, _ = psql(infra["MF_PG_SUPER_URL"], """
        SELECT c.relname || ':' || c.relrowsecurity::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                      AND a.attname = 'tenant_id' AND NOT a.attisdropped)
          AND NOT c.relispartition
        ORDER BY 1""")
    assert rows, "no table has a tenant_id column"
    without = [r.split(":")[0] for r in rows if not r.endswith(":true")]
    assert without == [], "tables with tenant_id but no RLS: %s" % without
