"""scripts/seed_scale.py (make seed-scale) at a small scale: two tenants bulk-loaded
through COPY, the search index and the stored documents built afterwards; counts,
search, suggest, lineage graph and impact answer on the seeded data, and tenant B
never shows in tenant A's answers."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from conftest import REPO, Api, psql

N = 2000


@pytest.fixture(scope="module")
def seeded(infra, server, platform_key, tmp_root):
    out = os.path.join(tmp_root, "seed_scale_%s.json" % uuid.uuid4().hex[:8])
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "seed_scale.py"), "--datasets", str(N),
         "--api-url", server.base, "--platform-key", platform_key, "--pg-url", infra["MF_PG_SUPER_URL"],
         "--prefix", "seedscale-%s" % uuid.uuid4().hex[:8], "--chunk", "1000", "--out", out],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert "copy datasets" in proc.stderr.decode()  # timings per phase
    with open(out, encoding="utf-8") as f:
        s = json.load(f)
    s["api_a"] = Api(server.base, s["tenants"]["a"]["api_key"])
    s["api_b"] = Api(server.base, s["tenants"]["b"]["api_key"])
    return s


def test_counts(seeded, infra):
    for fl in ("a", "b"):
        t = seeded["tenants"][fl]
        c = t["counts"]
        assert c["datasets"] == N
        assert 9 * N <= c["fields"] <= 11 * N
        assert c["lineage_edges"] == 3 * N
        assert 9 * N <= c["column_lineage"] <= 11 * N
        # one index row per dataset and per field, built set-based after the COPY
        assert c["search_index"] == c["datasets"] + c["fields"]
        assert c["search_vocab"] > 50
        _, rows, _ = psql(infra["MF_PG_SUPER_URL"],
                          "SELECT count(*) FILTER (WHERE doc IS NULL), "
                          "count(*) FILTER (WHERE jsonb_array_length(doc->'fields') = 0) "
                          "FROM datasets WHERE tenant_id = '%s'" % t["id"])
        assert rows == ["0|0"]
        # max_datasets' counter holds what the COPY (triggers off) put in
        _, rows, _ = psql(infra["MF_PG_SUPER_URL"],
                          "SELECT datasets FROM tenant_dataset_counts WHERE tenant_id = '%s'" % t["id"])
        assert rows == [str(N)]
    # a hub has 1,000+ downstreams
    assert seeded["samples"]["hub_downstreams"] >= 1000


def test_stored_doc_matches_dataset_doc(seeded, infra):
    """The stored documents are what mf_dataset_doc builds (as every writer keeps them)."""
    t = seeded["tenants"]["a"]["id"]
    _, rows, _ = psql(infra["MF_PG_SUPER_URL"],
                      "SELECT count(*) FROM datasets d WHERE d.tenant_id = '%s' AND d.doc <> mf_dataset_doc(d)" % t)
    assert rows == ["0"]
    api = seeded["api_a"]
    r = api.get("/api/v1/datasets/%s" % seeded["samples"]["exact"],
                params={"namespace": seeded["samples"]["exact_namespace"]})
    if r.status_code == 200:
        d = r.json()
        assert d["name"] == seeded["samples"]["exact"]
        assert len(d["fields"]) >= 6


def test_search_exact_typo_suggest(seeded):
    api, s = seeded["api_a"], seeded["samples"]
    r = api.get("/api/v1/search", params={"q": s["exact"]})
    assert r.status_code == 200, r.text
    top = r.json()["items"][0]
    assert (top["kind"], top["name"], top["namespace"]) == ("dataset", s["exact"], s["exact_namespace"])

    r = api.get("/api/v1/search", params={"q": s["typo"], "kind": "dataset"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] > 0, (s["typo"], body)
    word = s["typo_of"].split()[1]
    assert all(word in it["name"] for it in body["items"]), body["items"][:3]

    r = api.get("/api/v1/search/suggest", params={"q": s["prefix"]})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and items[0]["name"].lower().startswith(s["prefix"].lower()), items[:3]

    r = api.get("/api/v1/search", params={"q": "customer_id", "kind": "field", "limit": 5})
    assert r.status_code == 200 and r.json()["total"] > 0


def test_tenant_b_never_in_a(seeded):
    a, b, s = seeded["api_a"], seeded["api_b"], seeded["samples"]
    for q in (s["b_marker"], s["b_only_word"]):
        r = a.get("/api/v1/search", params={"q": q})
        assert r.status_code == 200 and r.json()["total"] == 0, r.text[:300]
        r = a.get("/api/v1/search/suggest", params={"q": q})
        assert r.status_code == 200 and r.json()["items"] == [], r.text[:300]
        # ... while B finds them
        r = b.get("/api/v1/search", params={"q": q})
        assert r.status_code == 200 and r.json()["total"] > 0, r.text[:300]
    # a name both tenants may hold: every dataset hit of A is one of A's (no B tag)
    r = a.get("/api/v1/search", params={"q": s["typo_of"], "kind": "dataset", "limit": 100})
    assert r.status_code == 200
    for it in r.json()["items"]:
        assert "tenant_b_marker" not in it.get("tags", []), it


def test_lineage_graph_and_impact(seeded, infra):
    api, s = seeded["api_a"], seeded["samples"]
    hub = s["hubs"][0]
    r = api.get("/api/v1/lineage/graph", params={"node": hub, "depth": 1, "direction": "down"})
    assert r.status_code == 200, r.text[:300]
    g = r.json()
    ids = [n["id"] for n in g["nodes"]]
    assert hub in ids and len(ids) == len(set(ids))
    assert len(g["edges"]) >= min(1000, s["hub_downstreams"]) or g["truncated"]

    r = api.get("/api/v1/lineage/graph", params={"node": hub, "depth": 2})
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["nodes"]) > len(ids) or r.json()["truncated"]

    # the default node limit (500) truncates a hub's impact; the maximum (2,000) holds its downstreams
    r = api.get("/api/v1/lineage/impact", params={"node": hub, "depth": 5})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["truncated"] is True and len(r.json()["items"]) == 499, r.text[:300]
    r = api.get("/api/v1/lineage/impact", params={"node": hub, "depth": 5, "limit": 2000})
    assert r.status_code == 200, r.text[:300]
    items = r.json()["items"]
    assert len(items) >= s["hub_downstreams"]
    assert all(it["id"] != hub for it in items)

    # nothing of tenant B's own vocabulary in A's walk
    assert not [it for it in items if s["b_only_word"] in it["id"]]
    r = api.get("/api/v1/lineage/graph", params={"node": hub.replace("orders", s["b_only_word"]), "depth": 1})
    assert r.status_code == 404, r.text[:300]
