"""Lineage graphs: GET /api/v1/lineage/graph, /api/v1/lineage/impact and the
Marquez-compatible GET /api/v1/lineage (services/api/src/graph.c,
migrations/0009_lineage_graph.sql).

Node ids are ``dataset:<ns>:<name>``, ``datasetField:<ns>:<name>:<field>`` and
``job:<ns>:<name>``, with ``:`` and ``%`` inside a part percent-encoded
(``%3A``, ``%25``). Jobs and scoped keys are made directly in Postgres as the
owner, as in test_rbac.py.
"""

import hashlib
import secrets
import time

import pytest

from conftest import KEY_RE, Api, assert_error, psql, unique

GRAPH = "/api/v1/lineage/graph"
IMPACT = "/api/v1/lineage/impact"
MARQUEZ = "/api/v1/lineage"


def ref(name, ns="default"):
    return {"namespace": ns, "name": name}


def enc(part):
    return part.replace("%", "%25").replace(":", "%3A")


def ds(name, ns="default"):
    return "dataset:%s:%s" % (enc(ns), enc(name))


def fld(name, field, ns="default"):
    return "datasetField:%s:%s:%s" % (enc(ns), enc(name), enc(field))


def job(name, ns="default"):
    return "job:%s:%s" % (enc(ns), enc(name))


def edge(api, s, t, columns=None):
    body = {"source": s if isinstance(s, dict) else ref(s), "target": t if isinstance(t, dict) else ref(t)}
    if columns:
        body["columns"] = [{"source_field": a, "target_field": b, "transformation": tr}
                           for a, b, tr in columns]
    r = api.post("/api/v1/lineage/edges", body)
    assert r.status_code in (200, 201), r.text


def graph(api, node, **params):
    params["node"] = node
    r = api.get(GRAPH, params=params)
    assert r.status_code == 200, r.text
    g = r.json()
    assert set(g) >= {"nodes", "edges", "truncated"}
    ids = [n["id"] for n in g["nodes"]]
    assert len(ids) == len(set(ids)), "a node appears twice: %r" % ids
    for n in g["nodes"]:
        assert set(n) >= {"id", "type", "data"}
    for e in g["edges"]:
        assert set(e) >= {"from", "to", "type"}
        assert e["from"] in ids and e["to"] in ids, e
    return g


def dists(g, kind="dataset"):
    return {n["id"]: n["distance"] for n in g["nodes"] if n["type"] == kind}


def lineage_edges(g):
    return sorted((e["from"], e["to"]) for e in g["edges"] if e["type"] in ("lineage", "column"))


def owner_sql(infra, *sql):
    return psql(infra["MF_PG_ADMIN_URL"], *sql)[1]


def lit(v):
    return "NULL" if v is None else "'%s'" % str(v).replace("'", "''")


def scoped_key(infra, tenant, role, domain_id):
    env = KEY_RE.match(tenant.key).group(1)
    prefix, secret = secrets.token_hex(6), secrets.token_hex(32)
    key = "mf_%s_%s_%s" % (env, prefix, secret)
    owner_sql(infra, "INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, role, scope_domain_id) "
                     "VALUES (%s, %s, %s, %s, %s, %s)" % (lit(tenant.id), lit(unique("graph")), lit(prefix),
                                                         lit(hashlib.sha256(key.encode()).hexdigest()), lit(role),
                                                         lit(domain_id)))
    return key


def set_job(infra, tenant_id, job_name, src, tgt, ns="default"):
    """Record that job (ns, job_name) made the edge src -> tgt (both in namespace default)."""
    owner_sql(infra,
              "INSERT INTO jobs (tenant_id, namespace, name, description) VALUES (%s, %s, %s, 'the job') "
              "ON CONFLICT DO NOTHING" % (lit(tenant_id), lit(ns), lit(job_name)),
              "UPDATE lineage_edges e SET job_id = j.id FROM jobs j, datasets s, datasets t "
              "WHERE j.tenant_id = %s AND j.namespace = %s AND j.name = %s AND e.tenant_id = j.tenant_id "
              "AND s.id = e.source_id AND t.id = e.target_id AND s.namespace = 'default' AND s.name = %s "
              "AND t.namespace = 'default' AND t.name = %s" % (lit(tenant_id), lit(ns), lit(job_name),
                                                               lit(src), lit(tgt)))


# ---------------------------------------------------------------- shapes of graphs


def test_chain_depth_and_direction(api):
    for s, t in (("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")):
        edge(api, s, t)
    g = graph(api, ds("a"), direction="down")
    assert g["truncated"] is False and g["node"] == ds("a") and g["depth"] == 3
    assert dists(g) == {ds("a"): 0, ds("b"): 1, ds("c"): 2, ds("d"): 3}  # default depth 3
    assert lineage_edges(g) == [(ds("a"), ds("b")), (ds("b"), ds("c")), (ds("c"), ds("d"))]
    assert all(e.get("job") is None and e["edge_id"] for e in g["edges"])
    g = graph(api, ds("a"), direction="down", depth=1)
    assert dists(g) == {ds("a"): 0, ds("b"): 1}
    g = graph(api, ds("a"), direction="down", depth=0)
    assert dists(g) == {ds("a"): 0} and g["edges"] == []
    g = graph(api, ds("a"), direction="down", depth=10)
    assert len(dists(g)) == 5
    g = graph(api, ds("a"), direction="up")
    assert dists(g) == {ds("a"): 0} and g["edges"] == []
    g = graph(api, ds("e"), direction="up", depth=2)
    assert dists(g) == {ds("e"): 0, ds("d"): 1, ds("c"): 2}
    g = graph(api, ds("c"), depth=1)  # both is the default
    assert g["direction"] == "both"
    assert dists(g) == {ds("c"): 0, ds("b"): 1, ds("d"): 1}
    node = [n for n in g["nodes"] if n["id"] == ds("c")][0]
    assert node["data"]["namespace"] == "default" and node["data"]["name"] == "c"
    assert node["data"]["placeholder"] is True
    assert "upstream" not in node["data"] and "downstream" not in node["data"]


def test_fan_out_and_fan_in(api):
    for i in range(5):
        edge(api, "hub", "out%d" % i)
        edge(api, "in%d" % i, "sink")
    g = graph(api, ds("hub"), direction="down")
    assert dists(g) == dict([(ds("hub"), 0)] + [(ds("out%d" % i), 1) for i in range(5)])
    g = graph(api, ds("sink"), direction="up")
    assert dists(g) == dict([(ds("sink"), 0)] + [(ds("in%d" % i), 1) for i in range(5)])
    # a diamond: each node once, at its least distance
    for s, t in (("top", "l"), ("top", "r"), ("l", "bottom"), ("r", "bottom"), ("top", "bottom")):
        edge(api, s, t)
    g = graph(api, ds("top"), direction="down")
    assert dists(g) == {ds("top"): 0, ds("l"): 1, ds("r"): 1, ds("bottom"): 1}
    assert len(lineage_edges(g)) == 5


def test_cycles_terminate(api):
    for s, t in (("a", "b"), ("b", "c"), ("c", "a"), ("c", "x")):
        edge(api, s, t)
    for direction in ("up", "down", "both"):
        g = graph(api, ds("a"), direction=direction, depth=10)
        assert ds("a") in dists(g) and ds("b") in dists(g) and ds("c") in dists(g)
    g = graph(api, ds("a"), direction="down", depth=10)
    assert dists(g) == {ds("a"): 0, ds("b"): 1, ds("c"): 2, ds("x"): 3}
    assert lineage_edges(g) == sorted([(ds("a"), ds("b")), (ds("b"), ds("c")), (ds("c"), ds("a")),
                                       (ds("c"), ds("x"))])
    g = graph(api, ds("a"), direction="up", depth=10)
    assert dists(g) == {ds("a"): 0, ds("c"): 1, ds("b"): 2}
    # the start node is what changes: a cycle back to it does not list it as impacted
    imp = api.get(IMPACT, params={"node": ds("a")}).json()
    assert sorted((i["name"], i["distance"]) for i in imp["items"]) == [("b", 1), ("c", 2), ("x", 3)]


def test_node_limit_truncates(api):
    for i in range(30):
        edge(api, "hub", "d%02d" % i)
    g = graph(api, ds("hub"), direction="down", limit=10)
    assert g["truncated"] is True and len(g["nodes"]) == 10
    assert dists(g)[ds("hub")] == 0
    g = graph(api, ds("hub"), direction="down", limit=31)
    assert g["truncated"] is False and len(g["nodes"]) == 31
    g = graph(api, ds("hub"), direction="both", limit=30)
    assert g["truncated"] is True and len(g["nodes"]) == 30
    imp = api.get(IMPACT, params={"node": ds("hub"), "limit": 5}).json()
    assert imp["truncated"] is True and len(imp["items"]) == 4


def test_column_level_paths(api):
    api.create_dataset("src", fields=[{"name": "x", "type": "int"}, {"name": "w", "type": "text"}])
    edge(api, "src", "mid", [("x", "y", "identity"), ("w", "v", "upper")])
    edge(api, "mid", "dst", [("y", "z", "sum")])
    edge(api, "mid", "other", [("v", "q", "identity")])
    g = graph(api, fld("src", "x"), direction="down", depth=10)
    assert g["node"] == fld("src", "x")
    assert dists(g, "datasetField") == {fld("src", "x"): 0, fld("mid", "y"): 1, fld("dst", "z"): 2}
    assert all(n["type"] == "datasetField" for n in g["nodes"])
    assert lineage_edges(g) == [(fld("mid", "y"), fld("dst", "z")), (fld("src", "x"), fld("mid", "y"))]
    by = {(e["from"], e["to"]): e for e in g["edges"]}
    assert by[(fld("src", "x"), fld("mid", "y"))]["transformation"] == "identity"
    assert by[(fld("mid", "y"), fld("dst", "z"))]["transformation"] == "sum"
    src = [n for n in g["nodes"] if n["id"] == fld("src", "x")][0]["data"]
    assert src["field"] == "x" and src["type"] == "int" and src["dataset"] == ds("src")
    g = graph(api, fld("dst", "z"), direction="up", depth=10)
    assert dists(g, "datasetField") == {fld("dst", "z"): 0, fld("mid", "y"): 1, fld("src", "x"): 2}
    g = graph(api, fld("mid", "v"), depth=10)
    assert dists(g, "datasetField") == {fld("mid", "v"): 0, fld("src", "w"): 1, fld("other", "q"): 1}
    # impact of a column: the columns and their datasets, with paths
    imp = api.get(IMPACT, params={"node": fld("src", "x")}).json()
    items = {i["id"]: i for i in imp["items"]}
    assert set(items) == {ds("mid"), ds("dst"), fld("mid", "y"), fld("dst", "z")}
    assert items[fld("dst", "z")]["path"] == [fld("src", "x"), fld("mid", "y"), fld("dst", "z")]
    assert items[ds("dst")]["distance"] == 2 and items[ds("dst")]["type"] == "dataset"
    assert imp["total"] == 2 and imp["total_fields"] == 2
    # unknown column, known dataset
    assert_error(api.get(GRAPH, params={"node": fld("src", "nope")}), 404, "not_found", "field nope")


def test_jobs_between_datasets(api, infra, tenant):
    edge(api, "in1", "out1")
    edge(api, "in2", "out1")
    edge(api, "out1", "final")
    set_job(infra, tenant.id, "etl", "in1", "out1")
    set_job(infra, tenant.id, "etl", "in2", "out1")
    g = graph(api, ds("out1"), depth=2)
    jobs = [n for n in g["nodes"] if n["type"] == "job"]
    assert [n["id"] for n in jobs] == [job("etl")]
    assert jobs[0]["data"] == {"namespace": "default", "name": "etl", "description": "the job"}
    by = {(e["from"], e["to"]): e for e in g["edges"] if e["type"] == "lineage"}
    assert by[(ds("in1"), ds("out1"))]["job"] == job("etl")
    assert by[(ds("out1"), ds("final"))]["job"] is None
    io = sorted((e["from"], e["to"], e["type"]) for e in g["edges"] if e["type"] in ("input", "output"))
    assert io == [(ds("in1"), job("etl"), "input"), (ds("in2"), job("etl"), "input"),
                  (job("etl"), ds("out1"), "output")]
    # a job as the start node: its inputs upstream, its outputs downstream
    g = graph(api, job("etl"), direction="down", depth=2)
    assert dists(g) == {ds("out1"): 1, ds("final"): 2}
    assert dists(g, "job") == {job("etl"): 0}
    g = graph(api, job("etl"), direction="up")
    assert dists(g) == {ds("in1"): 1, ds("in2"): 1}
    imp = api.get(IMPACT, params={"node": job("etl")}).json()
    items = {i["id"]: i for i in imp["items"]}
    assert items[ds("final")]["path"] == [job("etl"), ds("out1"), ds("final")]
    assert_error(api.get(GRAPH, params={"node": job("nope")}), 404, "not_found")
    # a start job is a node even where no edge of the answer brings it: at depth 0, and with no edges at all
    g = graph(api, job("etl"), depth=0)
    assert [(n["id"], n["distance"]) for n in g["nodes"]] == [(job("etl"), 0)] and g["edges"] == []
    set_job(infra, tenant.id, "lonely", "no_such_source", "no_such_target")
    assert [n["id"] for n in graph(api, job("lonely"))["nodes"]] == [job("lonely")]
    r = api.get(MARQUEZ, params={"nodeId": job("lonely")})
    assert r.status_code == 200, r.text
    assert [(n["id"], n["type"]) for n in r.json()["graph"]] == [(job("lonely"), "JOB")]


def test_answer_order(api, infra, tenant):
    """A graph lists its jobs by name, then its datasets by distance, namespace and name; its lineage
    edges by (from, to), then the job edges by (from, to). Made in an order that is none of these."""
    made = [(ref("mid"), ref("zz_out")), (ref("mid"), ref("aa_out", "b_ns")), (ref("mid"), ref("mm_out", "a_ns")),
            (ref("up_z"), ref("mid")), (ref("up_a"), ref("mid")), (ref("mm_out", "a_ns"), ref("zz_out"))]
    for s, t in made:
        edge(api, s, t)
    set_job(infra, tenant.id, "zeta", "up_z", "mid")
    set_job(infra, tenant.id, "alpha", "mid", "zz_out")
    set_job(infra, tenant.id, "alpha", "up_a", "mid")
    g = graph(api, ds("mid"), depth=1)
    assert [n["id"] for n in g["nodes"]] == [
        job("alpha"), job("zeta"), ds("mid"), ds("mm_out", "a_ns"), ds("aa_out", "b_ns"), ds("up_a"), ds("up_z"),
        ds("zz_out")]
    assert [n["distance"] for n in g["nodes"]] == [None, None, 0, 1, 1, 1, 1, 1]
    lineage = [(e["from"], e["to"]) for e in g["edges"] if e["type"] == "lineage"]
    assert lineage == sorted((ds(s["name"], s["namespace"]), ds(t["name"], t["namespace"])) for s, t in made)
    assert [e["type"] for e in g["edges"]][:len(lineage)] == ["lineage"] * len(lineage)
    jobs = [(e["from"], e["to"], e["type"]) for e in g["edges"][len(lineage):]]
    assert jobs == sorted(jobs) and len(jobs) == 6, jobs


def test_impact_distances_paths_counts(api):
    api.create_dataset("root", owner="alice")
    api.create_dataset("l1a", owner="alice")
    api.create_dataset("l1b", owner="bob")
    api.create_dataset("l2", owner="bob")
    api.create_dataset("l3")
    for s, t in (("root", "l1a"), ("root", "l1b"), ("l1a", "l2"), ("l1b", "l2"), ("l2", "l3"), ("l3", "l1a"),
                 ("up", "root")):
        edge(api, s, t)
    r = api.get(IMPACT, params={"node": ds("root")})
    assert r.status_code == 200, r.text
    imp = r.json()
    assert imp["node"] == ds("root") and imp["truncated"] is False and imp["depth"] == 10
    items = {i["id"]: i for i in imp["items"]}
    assert set(items) == {ds("l1a"), ds("l1b"), ds("l2"), ds("l3")}  # not the upstream, not root
    assert {k: v["distance"] for k, v in items.items()} == {ds("l1a"): 1, ds("l1b"): 1, ds("l2"): 2, ds("l3"): 3}
    assert items[ds("l2")]["path"] in ([ds("root"), ds("l1a"), ds("l2")], [ds("root"), ds("l1b"), ds("l2")])
    assert items[ds("l3")]["path"][0] == ds("root") and items[ds("l3")]["path"][-1] == ds("l3")
    assert len(items[ds("l3")]["path"]) == 4
    assert items[ds("l1b")]["owner"] == "bob" and items[ds("l3")]["owner"] is None
    assert imp["total"] == 4
    assert imp["by_depth"] == [{"distance": 1, "datasets": 2, "fields": 0},
                               {"distance": 2, "datasets": 1, "fields": 0},
                               {"distance": 3, "datasets": 1, "fields": 0}]
    assert sorted((o["owner"] or "", o["datasets"]) for o in imp["by_owner"]) == [("", 1), ("alice", 1), ("bob", 2)]
    imp = api.get(IMPACT, params={"node": ds("root"), "depth": 1}).json()
    assert sorted(i["name"] for i in imp["items"]) == ["l1a", "l1b"]
    imp = api.get(IMPACT, params={"node": ds("l3"), "depth": 10}).json()
    assert {i["name"]: i["distance"] for i in imp["items"]} == {"l1a": 1, "l2": 2}


def test_marquez_shape(api, infra, tenant):
    edge(api, "m_in", "m_out")
    edge(api, "m_out", "m_final")
    set_job(infra, tenant.id, "m_job", "m_in", "m_out")
    r = api.get(MARQUEZ, params={"nodeId": ds("m_out"), "depth": 20})  # Marquez's default depth is read as 10
    assert r.status_code == 200, r.text
    g = r.json()["graph"]
    nodes = {n["id"]: n for n in g}
    assert set(nodes) == {ds("m_in"), ds("m_out"), ds("m_final"), job("m_job")}
    assert nodes[job("m_job")]["type"] == "JOB" and nodes[ds("m_in")]["type"] == "DATASET"
    for n in g:
        assert set(n) >= {"id", "type", "data", "inEdges", "outEdges"}
        for e in n["inEdges"]:
            assert e["destination"] == n["id"] and e["origin"] in nodes
        for e in n["outEdges"]:
            assert e["origin"] == n["id"] and e["destination"] in nodes
    assert nodes[ds("m_in")]["outEdges"] == [{"origin": ds("m_in"), "destination": job("m_job")}]
    assert nodes[job("m_job")]["outEdges"] == [{"origin": job("m_job"), "destination": ds("m_out")}]
    assert nodes[ds("m_out")]["inEdges"] == [{"origin": job("m_job"), "destination": ds("m_out")}]
    # no job known: dataset -> dataset
    assert nodes[ds("m_out")]["outEdges"] == [{"origin": ds("m_out"), "destination": ds("m_final")}]
    assert nodes[ds("m_in")]["data"]["id"] == {"namespace": "default", "name": "m_in"}
    assert nodes[job("m_job")]["data"]["inputs"] == [{"namespace": "default", "name": "m_in"}]
    # a job as nodeId
    r = api.get(MARQUEZ, params={"nodeId": job("m_job"), "depth": 1})
    assert r.status_code == 200, r.text
    assert {n["id"] for n in r.json()["graph"]} == {ds("m_in"), ds("m_out"), job("m_job")}
    assert_error(api.get(MARQUEZ, params={"nodeId": "dataset:default:nope"}), 404, "not_found")
    assert_error(api.get(MARQUEZ, params={"nodeId": "nope"}), 400, "invalid_request")
    assert_error(api.get(MARQUEZ), 400, "invalid_request", "nodeId")


def test_namespaces_with_colons(api):
    pg, s3 = "postgres://db:5432", "s3://bucket"
    edge(api, ref("public.orders", pg), ref("orders/2024", s3), [("id", "order_id", "identity")])
    edge(api, ref("orders/2024", s3), ref("a:b%c", "weird:ns"))
    node = ds("public.orders", pg)
    assert node == "dataset:postgres%3A//db%3A5432:public.orders"
    g = graph(api, node, direction="down", depth=5)
    assert g["node"] == node
    assert dists(g) == {node: 0, "dataset:s3%3A//bucket:orders/2024": 1, "dataset:weird%3Ans:a%3Ab%25c": 2}
    data = {n["id"]: n["data"] for n in g["nodes"]}
    assert data["dataset:weird%3Ans:a%3Ab%25c"]["namespace"] == "weird:ns"
    assert data["dataset:weird%3Ans:a%3Ab%25c"]["name"] == "a:b%c"
    # every id in an answer round-trips
    for nid in dists(g):
        assert graph(api, nid, depth=0)["node"] == nid
    # lowercase escapes decode too
    assert graph(api, "dataset:postgres%3a//db%3a5432:public.orders", depth=0)["node"] == node
    g = graph(api, fld("public.orders", "id", pg), direction="down")
    assert dists(g, "datasetField") == {fld("public.orders", "id", pg): 0, fld("orders/2024", "order_id", s3): 1}
    # unencoded ':' inside the namespace: too many parts, and the message says how to encode
    assert_error(api.get(GRAPH, params={"node": "dataset:postgres://db:5432:public.orders"}), 400,
                 "invalid_request", "%3A")
    imp = api.get(IMPACT, params={"node": node}).json()
    assert [i["namespace"] for i in imp["items"]] == [s3, "weird:ns"]
    m = api.get(MARQUEZ, params={"nodeId": node}).json()["graph"]
    assert {n["id"] for n in m} == set(dists(g, "dataset")) | {node, "dataset:s3%3A//bucket:orders/2024",
                                                               "dataset:weird%3Ans:a%3Ab%25c"}


@pytest.mark.parametrize("params,message", [
    ({}, "node"),
    ({"node": ""}, "node"),
    ({"node": "table:default:x"}, "dataset:"),
    ({"node": "dataset:default"}, "parts"),
    ({"node": "dataset:default:a:b"}, "parts"),
    ({"node": "datasetField:default:a"}, "parts"),
    ({"node": "dataset::a"}, "empty"),
    ({"node": "dataset:default:"}, "empty"),
    ({"node": "dataset:%zz:a"}, "percent"),
    ({"node": "dataset:default:a%"}, "percent"),
    ({"node": "dataset:default:a%4"}, "percent"),
    ({"node": "dataset:default:%ff%fe"}, "UTF-8"),
    ({"node": "dataset:default:%01"}, "control"),
    ({"node": "dataset:default:a\x01"}, ""),  # refused by the query-string parser
    ({"node": "dataset:default:" + "x" * 3000}, "node"),
    ({"node": "dataset:default:" + "x" * 600}, "512"),
    ({"node": "dataset:default:a", "depth": "11"}, "depth"),
    ({"node": "dataset:default:a", "depth": "-1"}, "depth"),
    ({"node": "dataset:default:a", "depth": "two"}, "depth"),
    ({"node": "dataset:default:a", "depth": "99999999999999999999"}, "depth"),
    ({"node": "dataset:default:a", "direction": "sideways"}, "direction"),
    ({"node": "dataset:default:a", "limit": "0"}, "limit"),
    ({"node": "dataset:default:a", "limit": "2001"}, "limit"),
])
def test_bad_input_is_400(api, params, message):
    edge(api, "a", "b")
    assert_error(api.get(GRAPH, params=params), 400, "invalid_request", message)
    if "direction" not in params and "depth" not in params:
        assert_error(api.get(IMPACT, params=params), 400, "invalid_request", message)


def test_bad_impact_depth_and_unknown_nodes(api):
    edge(api, "a", "b")
    assert_error(api.get(IMPACT, params={"node": ds("a"), "depth": "0"}), 400, "invalid_request", "depth")
    assert_error(api.get(IMPACT, params={"node": ds("a"), "depth": "11"}), 400, "invalid_request", "depth")
    for path, key in ((GRAPH, "node"), (IMPACT, "node"), (MARQUEZ, "nodeId")):
        assert_error(api.get(path, params={key: ds("nope")}), 404, "not_found", "dataset default/nope")
        assert_error(api.get(path, params={key: ds("a", "nope")}), 404, "not_found")
    assert_error(api.get(MARQUEZ, params={"nodeId": ds("a"), "depth": "x"}), 400, "invalid_request", "depth")
    assert_error(api.get(MARQUEZ, params={"nodeId": fld("a", "x")}), 400, "invalid_request", "datasetField")


# ---------------------------------------------------------------- who sees what


def test_domain_scoped_key_sees_only_its_scope(infra, tenant_factory):
    t = tenant_factory()
    a = t.api
    for d in ("sales", "finance"):
        a.ok("POST", "/api/v1/domains", 201, json_body={"name": d})
    a.create_dataset("raw_events", tags=["raw-only"])
    a.create_dataset("sales_orders", domain="sales", upstream=[ref("raw_events")],
                     fields=[{"name": "id", "type": "bigint"}])
    a.create_dataset("sales_summary", domain="sales", upstream=[ref("sales_orders")])
    a.create_dataset("fin_ledger", domain="finance", upstream=[ref("sales_orders")],
                     fields=[{"name": "secret_amount", "type": "numeric"}])
    edge(a, "sales_orders", "fin_ledger", [("id", "secret_amount", "sum")])
    edge(a, "sales_orders", "sales_summary", [("id", "id2", "identity")])
    set_job(infra, t.id, "fin_job", "sales_orders", "fin_ledger")
    sales = owner_sql(infra, "SELECT id FROM domains WHERE tenant_id = %s AND name = 'sales'" % lit(t.id))[0]
    s = Api(t.base, scoped_key(infra, t, "viewer", sales))
    hidden = ("raw_events", "fin_ledger", "secret_amount", "raw-only", "fin_job")
    # the unscoped admin sees everything
    full = graph(a, ds("sales_orders"), depth=10)
    assert set(dists(full)) == {ds(n) for n in ("raw_events", "sales_orders", "sales_summary", "fin_ledger")}
    assert job("fin_job") in dists(full, "job")
    responses = [
        s.get(GRAPH, params={"node": ds("sales_orders"), "depth": 10}),
        s.get(GRAPH, params={"node": fld("sales_orders", "id"), "depth": 10}),
        s.get(IMPACT, params={"node": ds("sales_orders")}),
        s.get(IMPACT, params={"node": fld("sales_orders", "id")}),
        s.get(MARQUEZ, params={"nodeId": ds("sales_orders")}),
        s.get(GRAPH, params={"node": ds("sales_summary"), "direction": "up", "depth": 10}),
    ]
    for r in responses:
        assert r.status_code == 200, r.text
        for h in hidden:
            assert h not in r.text, (h, r.text)
    g = responses[0].json()
    assert set(dists(g)) == {ds("sales_orders"), ds("sales_summary")}
    assert [i["name"] for i in responses[2].json()["items"]] == ["sales_summary"]
    # out-of-scope start nodes do not exist for it
    for path, key in ((GRAPH, "node"), (IMPACT, "node"), (MARQUEZ, "nodeId")):
        for node in (ds("fin_ledger"), ds("raw_events"), fld("fin_ledger", "secret_amount"), job("fin_job")):
            if path == MARQUEZ and node.startswith("datasetField"):
                continue
            r = s.get(path, params={key: node})
            assert_error(r, 404, "not_found")


def test_other_tenant_graph_never_appears(tenant_factory):
    t1, t2 = tenant_factory(), tenant_factory()
    edge(t1.api, "shared", "only_t1")
    edge(t2.api, "shared", "only_t2")
    edge(t2.api, "only_t2", "deeper_t2")
    for t, mine, theirs in ((t1, "only_t1", "only_t2"), (t2, "only_t2", "only_t1")):
        g = graph(t.api, ds("shared"), depth=10)
        assert ds(mine) in dists(g) and ds(theirs) not in dists(g)
        assert_error(t.api.get(GRAPH, params={"node": ds(theirs)}), 404, "not_found")
        m = t.api.get(MARQUEZ, params={"nodeId": ds("shared")}).json()
        assert theirs not in str(m)
    assert len(dists(graph(t1.api, ds("shared"), depth=10))) == 2
    assert len(dists(graph(t2.api, ds("shared"), depth=10))) == 3


# ---------------------------------------------------------------- a big graph


def test_hub_timing(api, infra, tenant):
    """A hub with 1,000 downstreams, fanning in to 500, then to one sink: 2,500 edges."""
    tid = lit(tenant.id)
    owner_sql(infra,
              "INSERT INTO namespaces (tenant_id, name) VALUES (%s, 'big') ON CONFLICT DO NOTHING" % tid,
              "INSERT INTO datasets (tenant_id, namespace, name) SELECT %s, 'big', n FROM "
              "(SELECT 'hub' n UNION ALL SELECT 'sink' UNION ALL SELECT 'd' || g FROM generate_series(1, 1000) g "
              " UNION ALL SELECT 'e' || g FROM generate_series(1, 500) g) x" % tid,
              "INSERT INTO lineage_edges (tenant_id, source_id, target_id) "
              "SELECT %s, s.id, t.id FROM datasets s, datasets t WHERE s.tenant_id = %s AND t.tenant_id = %s "
              "AND s.namespace = 'big' AND t.namespace = 'big' AND ("
              " (s.name = 'hub' AND t.name ~ '^d[0-9]+$')"
              " OR (s.name ~ '^d[0-9]+$' AND t.name = 'e' || (substr(s.name, 2)::int %% 500 + 1))"
              " OR (s.name ~ '^e[0-9]+$' AND t.name = 'sink'))" % (tid, tid, tid))
    hub = ds("hub", "big")
    timings = {}

    def timed(label, path, params):
        t0 = time.monotonic()
        r = api.get(path, params=params)
        timings[label] = time.monotonic() - t0
        assert r.status_code == 200, r.text[:300]
        return r.json()

    g = timed("graph down depth 1 (1,001 nodes)", GRAPH, {"node": hub, "direction": "down", "depth": 1,
                                                          "limit": 2000})
    assert len(g["nodes"]) == 1001 and g["truncated"] is False and len(g["edges"]) == 1000
    g = timed("graph down depth 3 (1,502 nodes, 2,500 edges)", GRAPH, {"node": hub, "direction": "down",
                                                                       "limit": 2000})
    assert len(g["nodes"]) == 1502 and g["truncated"] is False and len(g["edges"]) == 2500
    g = timed("graph both depth 10 from sink (1,502 nodes)", GRAPH, {"node": ds("sink", "big"), "depth": 10,
                                                                     "limit": 2000})
    assert len(g["nodes"]) == 1502
    g = timed("graph down depth 3, default limit (500 nodes)", GRAPH, {"node": hub, "direction": "down"})
    assert len(g["nodes"]) == 500 and g["truncated"] is True
    g = timed("graph limit 1,200 (truncated)", GRAPH, {"node": hub, "direction": "down", "limit": 1200})
    assert len(g["nodes"]) == 1200 and g["truncated"] is True
    imp = timed("impact depth 10 (1,501 items)", IMPACT, {"node": hub, "limit": 2000})
    assert imp["total"] == 1501 and imp["by_depth"][0]["datasets"] == 1000
    assert len(imp["items"][-1]["path"]) == 4
    imp = timed("impact depth 10, default limit (499 items)", IMPACT, {"node": hub})
    assert imp["truncated"] is True and imp["total"] == 499 and imp["by_depth"] == [
        {"distance": 1, "datasets": 499, "fields": 0}]
    m = timed("marquez depth 10 (1,502 nodes)", MARQUEZ, {"nodeId": hub, "limit": 2000})
    assert len(m["graph"]) == 1502
    m = timed("marquez depth 10, default limit (500 nodes)", MARQUEZ, {"nodeId": hub})
    assert len(m["graph"]) == 500 and m["truncated"] is True
    for label, secs in timings.items():
        print("TIMING %-50s %7.1f ms" % (label, secs * 1000))
    assert max(timings.values()) < 10.0
