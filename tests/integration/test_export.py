"""SQLite export and import: GET /api/v1/export/sqlite, POST /api/v1/import/sqlite.

Round trip (export, import into an empty tenant, export again: same content),
a hand-made file in the original MetaFuse schema, dry runs that write nothing,
hostile files refused with 400 and nothing written, other tenants' data never
exported, and the admin-only roles.
"""

import os
import sqlite3

import pytest

from conftest import assert_error, q, unique
from export_support import (SQLITE_CT, build_rich_catalog, catalog_content, export, import_file,
                            original_file, tenant_counts, write)


@pytest.fixture
def workdir(tmp_path):
    return str(tmp_path)


def test_export_is_a_plain_sqlite_file(api, tenant_factory, workdir):
    names = build_rich_catalog(api)
    other = tenant_factory()
    other.api.create_dataset("other_tenant_secret", description="never exported elsewhere")

    r = export(api)
    assert r.headers["Content-Type"] == SQLITE_CT
    assert int(r.headers["Content-Length"]) == len(r.content)
    disp = r.headers["Content-Disposition"]
    assert disp.startswith('attachment; filename="metafuse-') and disp.endswith('.sqlite"'), disp
    assert r.content[:16] == b"SQLite format 3\x00"
    path = write(os.path.join(workdir, "a.sqlite"), r.content)

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the FTS5 index answers over names, field names, tags, descriptions
    hits = [row[0] for row in conn.execute(
        "SELECT dataset_name FROM dataset_search WHERE dataset_search MATCH 'email' ORDER BY rank")]
    assert hits == [names["datasets"][1]], hits
    hits = [row[0] for row in conn.execute(
        "SELECT dataset_name FROM dataset_search WHERE dataset_search MATCH 'tags:gold'")]
    assert hits == [names["datasets"][1]]
    # a placeholder for the unknown upstream, flagged as such
    ph = conn.execute("SELECT namespace, placeholder FROM datasets WHERE name = ?",
                      ("rich_unknown_src",)).fetchone()
    assert ph == ("default", 1)
    row = conn.execute("SELECT domain, owner, path, format FROM datasets WHERE name = ?",
                       (names["datasets"][1],)).fetchone()
    assert row == (names["domain"], names["owner"], "warehouse.orders", "table")
    assert conn.execute("SELECT tenant, format FROM catalog_meta").fetchone()[1] == "metafuse-cloud/1"
    all_names = {row[0] for row in conn.execute("SELECT name FROM datasets")}
    assert "other_tenant_secret" not in all_names
    # no triggers or views in an export; only the one virtual table
    kinds = {row[0] for row in conn.execute("SELECT type FROM sqlite_schema")}
    assert kinds <= {"table", "index"}, kinds
    conn.close()

    # the other tenant's export holds only its own dataset
    other_path = write(os.path.join(workdir, "o.sqlite"), export(other.api).content)
    assert [d[1] for d in catalog_content(other_path)["datasets"]] == ["other_tenant_secret"]


def test_round_trip_same_content(api, tenant_factory, workdir, infra):
    build_rich_catalog(api)
    first = write(os.path.join(workdir, "first.sqlite"), export(api).content)

    target = tenant_factory()
    r = import_file(target.api, open(first, "rb").read())
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["dry_run"] is False
    assert report["datasets"] == {"create": 3, "update": 0, "unchanged": 0}, report
    assert report["lineage_edges"] == {"create": 3}
    assert report["column_lineage"] == {"create": 2, "update": 0}
    assert report["glossary_terms"] == {"create": 2, "update": 0}
    assert report["glossary_links"] == {"create": 2}
    assert report["fields"]["create"] == 7

    second = write(os.path.join(workdir, "second.sqlite"), export(target.api).content)
    a, b = catalog_content(first), catalog_content(second)
    assert a == b
    assert len(a["datasets"]) == 4 and a["columns"] and a["links"] and a["field_tags"] and a["owners"]

    # the API shows what was imported, with lineage and the audit trail
    doc = target.api.get_dataset("rich_orders").json()
    assert doc["domain"] == "rich-finance" and doc["owner"] == "rich-team-a"
    assert [f["name"] for f in doc["fields"]] == ["order_id", "email", "total"]
    assert doc["fields"][1]["tags"] == ["contact", "pii"]
    assert {u["name"] for u in doc["upstream"]} == {"rich_raw_orders", "rich_unknown_src"}
    term = target.api.get("/api/v1/glossary/terms/" + q("rich Revenue")).json()
    assert term["status"] == "approved" and len(term["links"]) == 2
    audit = target.api.get("/api/v1/audit", params={"action": "catalog.import"}).json()["items"]
    assert len(audit) == 1 and audit[0]["after"]["datasets"]["create"] == 3, audit

    # importing the same file again changes nothing
    again = import_file(target.api, open(first, "rb").read(), dry_run=True).json()
    assert again["datasets"] == {"create": 0, "update": 0, "unchanged": 3}, again
    assert again["fields"] == {"create": 0, "update": 0, "delete": 0}
    assert again["lineage_edges"]["create"] == 0 and again["glossary_links"]["create"] == 0
    assert again["changed_datasets"] == []


def test_dry_run_reports_and_writes_nothing(api, tenant, workdir, infra):
    api.create_dataset("keep", description="old", fields=[{"name": "a", "type": "int"},
                                                          {"name": "gone", "type": "int"}])

    def populate(conn):
        conn.execute("INSERT INTO datasets (id, name, path, format, description, created_at, last_updated)"
                     " VALUES (1, 'keep', '', '', 'new description', 'x', 'x'),"
                     " (2, 'fresh', 's3://b/fresh', 'csv', NULL, 'x', 'x')")
        conn.execute("INSERT INTO fields (dataset_id, name, data_type, nullable) VALUES"
                     " (1, 'a', 'bigint', 1), (2, 'x', 'text', 0)")
        conn.execute("INSERT INTO tags (dataset_id, tag) VALUES (2, 'new')")
        conn.execute("INSERT INTO lineage (upstream_dataset_id, downstream_dataset_id, created_at)"
                     " VALUES (1, 2, 'x')")
        conn.execute("INSERT INTO glossary_terms (id, term, description) VALUES (1, 'Customer', 'a buyer')")

    data = original_file(os.path.join(workdir, "orig.sqlite"), populate)
    before = tenant_counts(infra["MF_PG_ADMIN_URL"], tenant.id)
    r = import_file(api, data, dry_run=True)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["dry_run"] is True
    assert rep["datasets"] == {"create": 1, "update": 1, "unchanged": 0}
    assert rep["fields"] == {"create": 1, "update": 1, "delete": 1}
    assert rep["tags"] == {"add": 1}
    assert rep["lineage_edges"] == {"create": 1}
    assert rep["glossary_terms"] == {"create": 1, "update": 0}
    assert rep["changed_datasets"] == [{"action": "create", "namespace": "default", "name": "fresh"},
                                       {"action": "update", "namespace": "default", "name": "keep"}]
    assert tenant_counts(infra["MF_PG_ADMIN_URL"], tenant.id) == before
    assert api.get_dataset("fresh").status_code == 404
    assert api.get_dataset("keep").json()["description"] == "old"

    r = import_file(api, data, dry_run=False)
    assert r.status_code == 200, r.text
    assert r.json()["datasets"] == rep["datasets"]
    keep = api.get_dataset("keep").json()
    assert keep["description"] == "new description"
    assert [(f["name"], f["type"]) for f in keep["fields"]] == [("a", "bigint")]
    assert [d["name"] for d in keep["downstream"]] == ["fresh"]
    fresh = api.get_dataset("fresh").json()
    assert (fresh["path"], fresh["format"], fresh["tags"]) == ("s3://b/fresh", "csv", ["new"])
    assert fresh["fields"][0]["nullable"] is False
    assert api.get("/api/v1/glossary/terms/Customer").json()["definition"] == "a buyer"


def test_import_original_tool_file(api, workdir):
    """A file made by the original tool's schema (with its FTS triggers) imports: names, fields,
    tags, lineage, a comma-separated partition list, glossary links to a dataset and a field."""

    def populate(conn):
        conn.execute("INSERT INTO datasets (id, name, path, format, description, tenant, domain, owner,"
                     " created_at, last_updated, row_count, size_bytes, partition_keys) VALUES"
                     " (10, 'events', 's3://x/events', 'delta', 'click events', 'acme', 'web', 'alice',"
                     "  '2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z', 500, 4096, 'dt, country'),"
                     " (11, 'sessions', 's3://x/sessions', 'delta', NULL, NULL, '', NULL, 'x', 'x', NULL,"
                     "  NULL, '[\"dt\"]')")
        conn.execute("INSERT INTO fields (id, dataset_id, name, data_type, nullable, description) VALUES"
                     " (100, 10, 'user_id', 'Int64', 0, 'who'), (101, 10, 'url', 'Utf8', 1, NULL),"
                     " (102, 11, 'session_id', 'Utf8', 0, NULL)")
        conn.execute("INSERT INTO tags (dataset_id, tag) VALUES (10, 'web'), (10, 'raw')")
        conn.execute("INSERT INTO lineage (upstream_dataset_id, downstream_dataset_id, created_at)"
                     " VALUES (10, 11, 'x')")
        conn.execute("INSERT INTO glossary_terms (id, term, description, domain) VALUES (5, 'Visitor', 'a person', 'web')")
        conn.execute("INSERT INTO term_links (term_id, dataset_id, field_id) VALUES (5, 11, NULL), (5, NULL, 100)")

    data = original_file(os.path.join(workdir, "orig.sqlite"), populate)
    r = import_file(api, data, content_type="application/octet-stream")
    assert r.status_code == 200, r.text
    ev = api.get_dataset("events").json()
    assert (ev["path"], ev["format"], ev["domain"], ev["owner"]) == ("s3://x/events", "delta", "web", "alice")
    assert ev["tags"] == ["raw", "web"]
    assert ev["operational"] == {"row_count": 500, "size_bytes": 4096, "partition_keys": ["dt", "country"]}
    assert [(f["name"], f["type"], f["nullable"]) for f in ev["fields"]] == [("user_id", "Int64", False),
                                                                              ("url", "Utf8", True)]
    se = api.get_dataset("sessions").json()
    assert se["domain"] is None and [u["name"] for u in se["upstream"]] == ["events"]
    links = api.get("/api/v1/glossary/terms/Visitor").json()["links"]
    assert {(link["dataset"], link["field"]) for link in links} == {("sessions", None), ("events", "user_id")}


def test_names_that_look_like_sql_are_just_names(api, tenant_factory, workdir):
    evil = ["x'); DROP TABLE datasets; --", 'quote " and \' both', "semi;colon", "ünïcode ✓"]
    for name in evil:
        api.create_dataset(name, fields=[{"name": "f'); DELETE FROM fields; --", "type": "text"}])
    path = write(os.path.join(workdir, "e.sqlite"), export(api).content)
    target = tenant_factory()
    assert import_file(target.api, open(path, "rb").read()).status_code == 200
    for name in evil:
        doc = target.api.get_dataset(name).json()
        assert doc["name"] == name and doc["fields"][0]["name"] == "f'); DELETE FROM fields; --"


def _hostile(workdir, name, ddl, rows=()):
    path = os.path.join(workdir, name + ".sqlite")
    if os.path.exists(path):
        os.unlink(path)
    conn = sqlite3.connect(path)
    conn.executescript(ddl)
    for sql, args in rows:
        conn.execute(sql, args)
    conn.commit()
    conn.close()
    return open(path, "rb").read()


BASE = ("CREATE TABLE datasets (id INTEGER PRIMARY KEY, name TEXT, path TEXT, format TEXT, description TEXT);"
        "CREATE TABLE fields (id INTEGER PRIMARY KEY, dataset_id INTEGER, name TEXT, data_type TEXT);")
OK_ROW = ("INSERT INTO datasets (id, name) VALUES (1, 'fine')", ())

HOSTILE = [
    ("not_sqlite", None, "not a SQLite database"),
    ("truncated", "truncate", "SQLite"),
    ("no_datasets_table", ("CREATE TABLE stuff (a);", []), "no datasets table"),
    ("missing_column", ("CREATE TABLE datasets (id INTEGER PRIMARY KEY, title TEXT);"
                        "CREATE TABLE fields (id INTEGER PRIMARY KEY, dataset_id INTEGER, name TEXT, data_type TEXT);",
                        []), "has no column name"),
    ("view", (BASE + "CREATE VIEW v AS SELECT * FROM datasets;", [OK_ROW]), "view"),
    ("trigger", (BASE + "CREATE TRIGGER t AFTER INSERT ON datasets BEGIN DELETE FROM fields; END;", [OK_ROW]),
     "trigger (t)"),
    ("virtual_table", (BASE + "CREATE VIRTUAL TABLE other USING fts5(a);", [OK_ROW]), "virtual table"),
    ("name_not_text", (BASE, [("INSERT INTO datasets (id, name) VALUES (1, x'00ff')", ())]),
     "table datasets, row 1, column name: must be text"),
    ("control_chars", (BASE, [("INSERT INTO datasets (id, name) VALUES (1, ?)", ("bad\x01name",))]),
     "column name: must be UTF-8 text without control characters"),
    ("huge_row", (BASE, [("INSERT INTO datasets (id, name, description) VALUES (1, 'big', ?)", ("x" * 2_000_000,))]),
     "datasets"),
    ("long_description", (BASE, [("INSERT INTO datasets (id, name, description) VALUES (1, 'big', ?)",
                                  ("x" * 70_000,))]), "column description: is longer than 65536 bytes"),
    ("id_not_integer", ("CREATE TABLE datasets (id, name TEXT); CREATE TABLE fields (id, dataset_id, name,"
                        " data_type);", [("INSERT INTO datasets VALUES ('one', 'a')", ())]),
     "table datasets, row 1, column id: must be an integer"),
    ("long_name", (BASE, [("INSERT INTO datasets (id, name) VALUES (1, ?)", ("n" * 600,))]),
     "column name: is longer than 512 bytes"),
    ("orphan_field", (BASE, [OK_ROW, ("INSERT INTO fields (dataset_id, name, data_type) VALUES (7, 'a', 'int')", ())]),
     "table fields, row 1, column dataset_id: no dataset has id 7"),
    ("duplicate_field", (BASE, [OK_ROW, ("INSERT INTO fields (dataset_id, name, data_type) VALUES (1, 'a', 'int')", ()),
                                ("INSERT INTO fields (dataset_id, name, data_type) VALUES (1, 'a', 'int')", ())]),
     "is a duplicate"),
    ("bad_tag", (BASE + "CREATE TABLE tags (id INTEGER PRIMARY KEY, dataset_id INTEGER, tag TEXT);",
                 [OK_ROW, ("INSERT INTO tags (dataset_id, tag) VALUES (1, 'has space')", ())]), "tags"),
    ("self_edge", (BASE + "CREATE TABLE lineage (id INTEGER PRIMARY KEY, upstream_dataset_id INTEGER,"
                          " downstream_dataset_id INTEGER);",
                   [OK_ROW, ("INSERT INTO lineage (upstream_dataset_id, downstream_dataset_id) VALUES (1, 1)", ())]),
     "two different datasets"),
]


@pytest.mark.parametrize("case,spec,needle", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_files_refused_and_nothing_written(api, tenant, workdir, infra, case, spec, needle):
    api.create_dataset("existing", description="untouched")
    if spec is None:
        data = b"this is plainly not a database" * 100
    elif spec == "truncate":
        full = _hostile(workdir, case, BASE, [OK_ROW] * 0 + [
            ("INSERT INTO datasets (id, name, description) VALUES (?, ?, ?)", (i, "d%d" % i, "y" * 3000))
            for i in range(1, 60)])
        data = full[: len(full) // 2]
    else:
        ddl, rows = spec
        data = _hostile(workdir, case, ddl, rows)
    before = tenant_counts(infra["MF_PG_ADMIN_URL"], tenant.id)
    for dry in (True, False):
        r = import_file(api, data, dry_run=dry)
        assert_error(r, 400, "invalid_request", needle)
    assert tenant_counts(infra["MF_PG_ADMIN_URL"], tenant.id) == before
    assert api.get_dataset("existing").json()["description"] == "untouched"


def test_bad_requests(api, spawn_server, tenant, workdir):
    good = original_file(os.path.join(workdir, "g.sqlite"))
    assert_error(import_file(api, good, content_type="application/json"), 415, "unsupported_media_type")
    assert_error(import_file(api, b""), 400, "invalid_request")
    r = api.req("POST", "/api/v1/import/sqlite", data=good, params={"dry_run": "maybe"},
                headers={"Content-Type": SQLITE_CT})
    assert_error(r, 400, "invalid_request", "dry_run")
    small = spawn_server(unique("smallupload"), extra_env={"MF_HTTP_MAX_UPLOAD": "4096"})
    from conftest import Api
    r = import_file(Api(small.base, tenant.key), good + b"\0" * 8192)
    assert_error(r, 413, "payload_too_large")


def test_roles(tenant, workdir):
    data = original_file(os.path.join(workdir, "r.sqlite"))
    for role in ("viewer", "editor"):
        c = tenant.client(role)
        assert_error(c.get("/api/v1/export/sqlite"), 403, "forbidden")
        assert_error(import_file(c, data), 403, "forbidden")
    assert tenant.client("admin").get("/api/v1/export/sqlite").status_code == 200


def test_import_hand_made_cloud_schema(api, workdir):
    """A file written by hand in the MetaFuse Cloud superset: namespaces, field order and tags,
    a placeholder, a dropped dataset, column lineage, domain and owner details."""
    path = os.path.join(workdir, "cloud.sqlite")
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE datasets (id INTEGER PRIMARY KEY, namespace TEXT, name TEXT, path TEXT, format TEXT,
          description TEXT, domain TEXT, owner TEXT, row_count INTEGER, size_bytes INTEGER, partition_keys TEXT,
          placeholder INTEGER, lifecycle TEXT);
        CREATE TABLE fields (id INTEGER PRIMARY KEY, dataset_id INTEGER, ordinal INTEGER, name TEXT,
          data_type TEXT, nullable INTEGER, description TEXT);
        CREATE TABLE field_tags (id INTEGER PRIMARY KEY, field_id INTEGER, tag TEXT);
        CREATE TABLE lineage (id INTEGER PRIMARY KEY, upstream_dataset_id INTEGER, downstream_dataset_id INTEGER);
        CREATE TABLE column_lineage (id INTEGER PRIMARY KEY, lineage_id INTEGER, source_field TEXT,
          target_field TEXT, transformation TEXT, expression TEXT);
        CREATE TABLE glossary_terms (id INTEGER PRIMARY KEY, term TEXT, description TEXT, status TEXT);
        CREATE TABLE term_links (id INTEGER PRIMARY KEY, term_id INTEGER, dataset_id INTEGER, field_id INTEGER);
        CREATE TABLE domains (id INTEGER PRIMARY KEY, name TEXT, display_name TEXT, description TEXT);
        CREATE TABLE owners (id INTEGER PRIMARY KEY, owner_id TEXT, name TEXT, email TEXT, team TEXT);
        INSERT INTO datasets VALUES
          (1, 'default', 'hm_a', 'p/a', 'parquet', 'A', 'hm-dom', 'hm-owner', 10, 20, '["dt","h"]', 0, 'active'),
          (2, 'other', 'hm_b', '', '', NULL, NULL, NULL, NULL, NULL, NULL, 0, 'dropped'),
          (3, 'default', 'hm_ghost', '', '', NULL, NULL, NULL, NULL, NULL, NULL, 1, 'active');
        INSERT INTO fields VALUES (10, 1, 1, 'y', 'int', 1, NULL), (11, 1, 0, 'x', 'text', 0, 'first'),
                                  (12, 2, 0, 'z', 'text', 1, NULL);
        INSERT INTO field_tags (field_id, tag) VALUES (11, 'pii'), (11, 'key');
        INSERT INTO lineage VALUES (7, 3, 1), (8, 1, 2);
        INSERT INTO column_lineage (lineage_id, source_field, target_field, transformation, expression)
          VALUES (8, 'x', 'z', 'IDENTITY', 'x');
        INSERT INTO glossary_terms VALUES (1, 'HM term', 'defined', 'deprecated');
        INSERT INTO term_links (term_id, field_id) VALUES (1, 11);
        INSERT INTO domains VALUES (1, 'hm-dom', 'HM', 'the domain');
        INSERT INTO owners VALUES (1, 'hm-owner', 'Owner', 'o@example.com', 'Team O');
    """)
    conn.commit()
    conn.close()
    r = import_file(api, open(path, "rb").read())
    assert r.status_code == 200, r.text
    assert r.json()["datasets"] == {"create": 2, "update": 0, "unchanged": 0}
    a = api.get_dataset("hm_a").json()
    assert [(f["name"], f["nullable"], f["tags"]) for f in a["fields"]] == [("x", False, ["key", "pii"]),
                                                                            ("y", True, [])]
    assert a["operational"] == {"row_count": 10, "size_bytes": 20, "partition_keys": ["dt", "h"]}
    assert [u["name"] for u in a["upstream"]] == ["hm_ghost"]
    assert api.get_dataset("hm_ghost").json()["placeholder"] is True
    b = api.get_dataset("hm_b", namespace="other").json()
    assert b["lifecycle"] == "dropped"
    cols = [c for e in api.walk("/api/v1/lineage/edges") for c in e["columns"]]
    assert cols == [{"source_field": "x", "target_field": "z", "transformation": "IDENTITY", "expression": "x"}]
    assert api.get("/api/v1/domains/hm-dom").json()["description"] == "the domain"
    owner = api.get("/api/v1/owners/hm-owner").json()
    assert (owner["email"], owner["team"]) == ("o@example.com", "Team O")
    term = api.get("/api/v1/glossary/terms/" + q("HM term")).json()
    assert term["status"] == "deprecated" and term["links"] == [{"namespace": "default", "dataset": "hm_a",
                                                                 "field": "x"}]


def test_import_respects_the_dataset_quota(tenant, admin_api, workdir, infra):
    admin_api.ok("PUT", "/api/v1/admin/tenants/" + tenant.id, 200, json_body={"quotas": {"max_datasets": 2}})

    def populate(conn):
        for i in range(3):
            conn.execute("INSERT INTO datasets (name, path, format, created_at, last_updated)"
                         " VALUES (?, '', '', 'x', 'x')", ("q%d" % i,))

    data = original_file(os.path.join(workdir, "q.sqlite"), populate)
    before = tenant_counts(infra["MF_PG_ADMIN_URL"], tenant.id)
    assert import_file(tenant.api, data, dry_run=True).json()["datasets"]["create"] == 3
    assert_error(import_file(tenant.api, data), 403, "quota_exceeded")
    assert tenant_counts(infra["MF_PG_ADMIN_URL"], tenant.id) == before

