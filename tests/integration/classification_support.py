"""Helpers for test_classification.py: datasets with fields, reading a dataset's
classification as {field: {class: entry}}, and searching the whole database (as its
owner) for a string that must never have been stored."""

from conftest import psql, q


def fields(*names, type_="string"):
    return [{"name": n, "type": type_} for n in names]


def make_dataset(api, name, names, **extra):
    r = api.post("/api/v1/datasets", dict({"name": name, "fields": fields(*names)}, **extra))
    assert r.status_code == 201, r.text
    return r.json()


def classes(api, name, status=200):
    """GET /api/v1/datasets/{name}/classification as {field: {class: entry}} (and the document)."""
    r = api.get("/api/v1/datasets/%s/classification" % q(name))
    assert r.status_code == status, r.text
    doc = r.json()
    return {f["name"]: {c["class"]: c for c in f["classes"]} for f in doc["fields"]}, doc


def live(api, name):
    """{field: set of classes} that are not rejected."""
    got, _ = classes(api, name)
    return {f: {c for c, e in cs.items() if e["status"] != "rejected"} for f, cs in got.items()
            if any(e["status"] != "rejected" for e in cs.values())}


def tables_holding(infra, needle):
    """Names of the public tables with a row whose text holds needle (read as the owner)."""
    rows = psql(infra["MF_PG_ADMIN_URL"],
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_type = 'BASE TABLE' AND (xpath('/row/c/text()', query_to_xml(format("
                "'SELECT count(*) AS c FROM %%I x WHERE x::text LIKE %%L', table_name, '%%%s%%'), "
                "false, true, '')))[1]::text::int > 0" % needle)[1]
    return rows


def rule_by_name(api, name):
    for r in api.walk("/api/v1/classification/rules"):
        if r["name"] == name:
            return r
    raise AssertionError("no rule " + name)
