"""Helpers for the SQLite export/import tests (test_export.py, test_cli.py).

``build_rich_catalog`` fills a tenant through the public API with everything an
export carries (namespaces, fields with tags, dataset tags, domains and owners
with details, lineage with column lineage, a placeholder, glossary terms and
links, a dropped dataset is not reachable through REST so it is not made here).
``catalog_content`` reads an export with Python's sqlite3 into a comparable
value that leaves out ids, timestamps and versions (which differ between
tenants by design).
"""

import os
import sqlite3

from conftest import q

SQLITE_CT = "application/vnd.sqlite3"

# The local schema of the original single-user MetaFuse tool (its base DDL, including the
# triggers that keep its FTS5 index current), for hand-made files.
ORIGINAL_DDL = """
CREATE TABLE catalog_meta (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL DEFAULT 1,
  last_modified TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
INSERT INTO catalog_meta (id, version, last_modified) VALUES (1, 1, datetime('now'));
CREATE TABLE datasets (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, path TEXT NOT NULL,
  format TEXT NOT NULL, description TEXT, tenant TEXT, domain TEXT, owner TEXT, created_at TEXT NOT NULL,
  last_updated TEXT NOT NULL, row_count INTEGER, size_bytes INTEGER, partition_keys TEXT);
CREATE TABLE fields (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset_id INTEGER NOT NULL, name TEXT NOT NULL,
  data_type TEXT NOT NULL, nullable INTEGER NOT NULL DEFAULT 1, description TEXT,
  FOREIGN KEY (dataset_id) REFERENCES datasets(id) ON DELETE CASCADE);
CREATE TABLE lineage (id INTEGER PRIMARY KEY AUTOINCREMENT, upstream_dataset_id INTEGER NOT NULL,
  downstream_dataset_id INTEGER NOT NULL, created_at TEXT NOT NULL,
  UNIQUE(upstream_dataset_id, downstream_dataset_id));
CREATE TABLE tags (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset_id INTEGER NOT NULL, tag TEXT NOT NULL,
  UNIQUE(dataset_id, tag));
CREATE TABLE glossary_terms (id INTEGER PRIMARY KEY AUTOINCREMENT, term TEXT UNIQUE NOT NULL, description TEXT,
  domain TEXT);
CREATE TABLE term_links (id INTEGER PRIMARY KEY AUTOINCREMENT, term_id INTEGER NOT NULL, dataset_id INTEGER,
  field_id INTEGER,
  CHECK ((dataset_id IS NOT NULL AND field_id IS NULL) OR (dataset_id IS NULL AND field_id IS NOT NULL)));
CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, key_hash TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, revoked_at TEXT, last_used_at TEXT);
CREATE VIRTUAL TABLE dataset_search USING fts5(dataset_name, path, domain, owner, description, tags, field_names);
CREATE TRIGGER dataset_search_insert AFTER INSERT ON datasets BEGIN
  INSERT INTO dataset_search (dataset_name, path, domain, owner, description, tags, field_names)
  VALUES (NEW.name, NEW.path, NEW.domain, NEW.owner, NEW.description, '', '');
END;
CREATE TRIGGER dataset_search_delete AFTER DELETE ON datasets BEGIN
  DELETE FROM dataset_search WHERE dataset_name = OLD.name;
END;
"""


def original_file(path, populate=None):
    """A file in the original tool's schema; populate(conn) adds rows."""
    if os.path.exists(path):
        os.unlink(path)
    conn = sqlite3.connect(path)
    conn.executescript(ORIGINAL_DDL)
    if populate:
        populate(conn)
    conn.commit()
    conn.close()
    with open(path, "rb") as f:
        return f.read()


def export(api, params=None):
    r = api.get("/api/v1/export/sqlite", params=params, timeout=60)
    assert r.status_code == 200, r.text[:500]
    return r


def import_file(api, data, dry_run=None, content_type=SQLITE_CT):
    params = None if dry_run is None else {"dry_run": "true" if dry_run else "false"}
    return api.req("POST", "/api/v1/import/sqlite", data=data, params=params,
                   headers={"Content-Type": content_type}, timeout=120)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def build_rich_catalog(api, prefix="rich"):
    """Every kind of content through the API; returns the names used."""
    dom, own = prefix + "-finance", prefix + "-team-a"
    api.ok("POST", "/api/v1/domains", 201, json_body={"name": dom, "description": "Money matters\nand more"})
    api.ok("POST", "/api/v1/owners", 201,
           json_body={"name": own, "email": "a@example.com", "team": "Data Platform"})
    raw, orders, daily = prefix + "_raw_orders", prefix + "_orders", prefix + "_orders_daily"
    api.create_dataset(raw, namespace="s3://lake", path="s3://lake/raw/orders", format="parquet",
                       description="raw drops", tags=["raw"],
                       fields=[{"name": "id", "type": "bigint", "nullable": False},
                               {"name": "amount", "type": "decimal(12,2)", "description": "gross"}],
                       operational={"row_count": 1200, "size_bytes": 99999, "partition_keys": ["dt"]})
    api.create_dataset(orders, path="warehouse.orders", format="table", description="clean orders",
                       domain=dom, owner=own, tags=["gold", "pii"],
                       fields=[{"name": "order_id", "type": "bigint", "nullable": False, "tags": ["key"]},
                               {"name": "email", "type": "text", "tags": ["pii", "contact"],
                                "description": "customer email"},
                               {"name": "total", "type": "numeric"}],
                       upstream=[{"namespace": "s3://lake", "name": raw}, {"name": prefix + "_unknown_src"}])
    api.create_dataset(daily, format="view", domain=dom, fields=[{"name": "day", "type": "date"},
                                                                 {"name": "revenue", "type": "numeric"}])
    api.ok("POST", "/api/v1/lineage/edges", 201, json_body={
        "source": {"name": orders}, "target": {"name": daily},
        "columns": [{"source_field": "total", "target_field": "revenue", "transformation": "SUM",
                     "expression": "sum(total)"},
                    {"source_field": "order_id", "target_field": "day"}]})
    term = prefix + " Revenue"
    api.ok("POST", "/api/v1/glossary/terms", 201,
           json_body={"name": term, "definition": "Money in.\nAll of it.", "status": "approved"})
    api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": prefix + " Draft term"})
    api.ok("POST", "/api/v1/glossary/terms/%s/links" % q(term), 200, json_body={"dataset": daily})
    api.ok("POST", "/api/v1/glossary/terms/%s/links" % q(term), 200,
           json_body={"dataset": orders, "field": "total"})
    return {"domain": dom, "owner": own, "datasets": [raw, orders, daily], "term": term}


def catalog_content(path):
    """The content of an export, without ids, timestamps or versions."""
    conn = sqlite3.connect(path)
    try:
        ds = {r[0]: r[1:] for r in conn.execute(
            "SELECT id, namespace, name, path, format, description, domain, owner, row_count, size_bytes,"
            " partition_keys, placeholder, lifecycle FROM datasets")}
        tags = sorted((ds[d][:2], t) for d, t in conn.execute("SELECT dataset_id, tag FROM tags"))
        fields = {r[0]: r[1:] for r in conn.execute(
            "SELECT id, dataset_id, ordinal, name, data_type, nullable, description FROM fields")}
        field_list = sorted((ds[f[0]][:2],) + f[1:] for f in fields.values())
        field_tags = sorted((ds[fields[f][0]][:2], fields[f][2], t)
                            for f, t in conn.execute("SELECT field_id, tag FROM field_tags"))
        edges = {r[0]: (ds[r[1]][:2], ds[r[2]][:2]) for r in conn.execute(
            "SELECT id, upstream_dataset_id, downstream_dataset_id FROM lineage")}
        cols = sorted(edges[r[0]] + r[1:] for r in conn.execute(
            "SELECT lineage_id, source_field, target_field, transformation, expression FROM column_lineage"))
        terms = {r[0]: r[1:] for r in conn.execute("SELECT id, term, description, status FROM glossary_terms")}
        links = sorted((terms[t][0], ds[d][:2] if d else (),
                        (ds[fields[f][0]][:2], fields[f][2]) if f else ())
                       for t, d, f in conn.execute("SELECT term_id, dataset_id, field_id FROM term_links"))
        return {
            "datasets": sorted(ds.values()), "tags": tags, "fields": field_list, "field_tags": field_tags,
            "edges": sorted(edges.values()), "columns": cols, "terms": sorted(terms.values()), "links": links,
            "domains": sorted(conn.execute("SELECT name, description FROM domains")),
            "owners": sorted(conn.execute("SELECT owner_id, email, team FROM owners")),
            "search_rows": conn.execute("SELECT count(*) FROM dataset_search").fetchone()[0],
        }
    finally:
        conn.close()


def tenant_counts(psql_url, tenant_id):
    """Rows of the catalog tables and import audit rows of a tenant (as the owner role)."""
    from conftest import psql
    _, out, _ = psql(psql_url, (
        "SELECT (SELECT count(*) FROM datasets WHERE tenant_id = '%s') || ',' ||"
        " (SELECT count(*) FROM glossary_terms WHERE tenant_id = '%s') || ',' ||"
        " (SELECT count(*) FROM domains WHERE tenant_id = '%s') || ',' ||"
        " (SELECT count(*) FROM audit_log WHERE tenant_id = '%s' AND action = 'catalog.import')"
    ) % (tenant_id, tenant_id, tenant_id, tenant_id))
    return tuple(int(x) for x in out[0].split(","))
