"""The dataset document GET answers is stored (datasets.doc) and kept current by
every writer, and so is the node a lineage graph shows for it
(datasets.graph_data). After a mix of every kind of change, each stored
document and node must equal the ones computed from the tables: a writer that
forgets to refresh them fails here."""

from conftest import psql


def test_stored_documents_match_the_tables(tenant, infra):
    api = tenant.api
    assert api.post("/api/v1/datasets", {"name": "src", "domain": "d1", "owner": "o1",
                                         "fields": [{"name": "a", "type": "int"}]}).status_code == 201
    assert api.post("/api/v1/datasets", {"name": "dst", "upstream": ["src", "ghost"],
                                         "fields": [{"name": "a", "type": "int"}]}).status_code == 201
    assert api.post("/api/v1/datasets/src/tags", {"tag": "pii"}).status_code == 200
    assert api.post("/api/v1/datasets/dst/fields/a/tags", {"tag": "key"}).status_code == 200
    r = api.post("/api/v1/lineage/edges", {"source": "dst", "target": "third",
                                           "columns": [{"source_field": "a", "target_field": "a"}]})
    assert r.status_code == 201
    edge = r.json()["id"]
    assert api.put("/api/v1/datasets/src", {"fields": [{"name": "b", "type": "text"}]}).status_code == 200
    assert api.delete("/api/v1/lineage/edges/" + edge).status_code == 204
    assert api.delete("/api/v1/domains/d1").status_code == 204
    assert api.delete("/api/v1/owners/o1").status_code == 204
    assert api.delete("/api/v1/datasets/ghost").status_code == 204

    _, out, _ = psql(infra["MF_PG_SUPER_URL"],
                     "SELECT count(*) FROM datasets WHERE tenant_id = '%s' "
                     "AND doc IS DISTINCT FROM mf_dataset_doc(datasets)" % tenant.id)
    assert out == ["0"], out
    _, out, _ = psql(infra["MF_PG_SUPER_URL"],
                     "SELECT count(*) FROM datasets WHERE tenant_id = '%s' "
                     "AND graph_data::text IS DISTINCT FROM mf_graph_dataset_data(mf_dataset_doc(datasets))::text" % tenant.id)
    assert out == ["0"], out
    # and what GET answers is that document
    doc = api.get("/api/v1/datasets/dst").json()
    assert doc["upstream"] == [{"namespace": "default", "name": "src"}]
    assert doc["downstream"] == []
    src = api.get("/api/v1/datasets/src").json()
    # the PUT replaced src whole: no domain, owner or tags are left
    assert src["domain"] is None and src["owner"] is None and src["tags"] == []
    assert [f["name"] for f in src["fields"]] == ["b"]
    # a graph's nodes show what GET shows (src lost its domain, owner and tags above)
    r = api.get("/api/v1/lineage/graph", params={"node": "dataset:default:dst", "depth": 2})
    assert r.status_code == 200, r.text
    nodes = {n["data"]["name"]: n["data"] for n in r.json()["nodes"] if n["type"] == "dataset"}
    assert set(nodes) == {"src", "dst"}
    keys = ("namespace", "name", "description", "format", "domain", "owner", "tags", "placeholder", "lifecycle",
            "updated_at")
    for name, data in nodes.items():
        doc = api.get("/api/v1/datasets/" + name).json()
        assert data == {k: doc[k] for k in keys}, (name, data, doc)
    assert nodes["src"]["domain"] is None and nodes["src"]["tags"] == []
