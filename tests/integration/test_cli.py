"""The metafuse CLI (build/bin/metafuse) through a real mf-api (and mf-ingest for emit), and
offline on a SQLite export: table and --json output, errors on stderr, exit codes
(0 ok, 1 API error, 2 usage, 3 not found, 4 not authorized)."""

import json
import os
import subprocess
import time
import uuid

import pytest

from conftest import BIN_DIR, SANITIZER_PATTERNS, unique
from export_support import build_rich_catalog, catalog_content, export, original_file, write

METAFUSE = os.path.join(BIN_DIR, "metafuse")


def run(args, api_url=None, key=None, env_extra=None, stdin=None, timeout=120, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    if api_url:
        env["MF_API_URL"] = api_url
    if key:
        env["MF_API_KEY"] = key
    env.update(env_extra or {})
    p = subprocess.run([METAFUSE] + list(args), env=env, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, cwd=cwd)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    for pat in SANITIZER_PATTERNS:
        assert pat not in err, "metafuse %s printed a sanitizer report:\n%s" % (args, err)
    return p.returncode, out, err


def ok(args, **kw):
    rc, out, err = run(args, **kw)
    assert rc == 0, "metafuse %s exited %d\nstdout:\n%s\nstderr:\n%s" % (args, rc, out, err)
    return out, err


@pytest.fixture(scope="module", autouse=True)
def built():
    if not os.access(METAFUSE, os.X_OK):
        pytest.exit("%s not built (run make)" % METAFUSE, returncode=2)


@pytest.fixture
def catalog(api, tmp_path):
    names = build_rich_catalog(api, prefix="cli")
    path = write(str(tmp_path / "cat.sqlite"), export(api).content)
    return path, names


def test_offline_commands(catalog):
    path, names = catalog
    out, err = ok(["--catalog", path, "list"])
    lines = out.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "FORMAT", "DOMAIN", "OWNER", "FIELDS", "TAGS"]
    assert any(l.split()[:2] == ["default", "cli_orders"] for l in lines[1:]), out
    assert err == ""
    items = json.loads(ok(["--catalog", path, "list", "--json"])[0])["items"]
    assert {i["name"] for i in items} == set(names["datasets"])  # the placeholder is not listed
    orders = [i for i in items if i["name"] == "cli_orders"][0]
    assert (orders["field_count"], orders["domain"], orders["tags"]) == (3, "cli-finance", ["gold", "pii"])

    doc = json.loads(ok(["--catalog", path, "show", "cli_orders", "--json"])[0])
    assert [f["name"] for f in doc["fields"]] == ["order_id", "email", "total"]
    assert {u["name"] for u in doc["upstream"]} == {"cli_raw_orders", "cli_unknown_src"}
    assert [d["name"] for d in doc["downstream"]] == ["cli_orders_daily"]
    table = ok(["--catalog", path, "show", "cli_orders"])[0]
    assert "FIELD" in table and "email" in table and "downstream  default/cli_orders_daily" in table

    hits = json.loads(ok(["--catalog", path, "search", "emai", "--json"])[0])["items"]
    assert [h["name"] for h in hits] == ["cli_orders"]
    assert "cli_orders" in ok(["--catalog", path, "search", 'revenue "day'])[0]

    stats = json.loads(ok(["--catalog", path, "stats", "--json"])[0])
    assert stats["datasets"] == 3 and stats["placeholders"] == 1 and stats["fields"] == 7
    assert stats["lineage_edges"] == 3 and stats["column_lineage"] == 2 and stats["glossary_terms"] == 2


def test_offline_errors(catalog, tmp_path):
    path, _ = catalog
    rc, out, err = run(["--catalog", path, "show", "no_such_dataset"])
    assert (rc, out) == (3, "") and "not found" in err
    bad = write(str(tmp_path / "bad.sqlite"), b"not sqlite at all" * 20)
    rc, out, err = run(["--catalog", bad, "list"])
    assert rc == 2 and out == "" and "not a SQLite database" in err
    rc, _, err = run(["--catalog", path, "export"])
    assert rc == 2 and "list, show, search and stats" in err
    rc, _, err = run(["--catalog", str(tmp_path / "missing.sqlite"), "list"])
    assert rc == 2 and "missing.sqlite" in err
    # a hand-made file in the original tool's schema works offline too
    orig = str(tmp_path / "orig.sqlite")
    original_file(orig, lambda c: c.execute(
        "INSERT INTO datasets (name, path, format, created_at, last_updated) VALUES ('solo', 'p', 'csv', 'x', 'x')"))
    assert "solo" in ok(["--catalog", orig, "list"])[0]


def test_online_reads(api, catalog, base_url, tenant):
    env = {"api_url": base_url, "key": tenant.key}
    out, err = ok(["list"], **env)
    assert out.splitlines()[0].startswith("NAMESPACE") and "cli_orders_daily" in out and err == ""
    items = json.loads(ok(["list", "--json", "--limit", "2"], **env)[0])["items"]
    assert len(items) == 2
    assert len(json.loads(ok(["list", "--json", "--domain", "cli-finance"], **env)[0])["items"]) == 2
    doc = json.loads(ok(["show", "cli_raw_orders", "--namespace", "s3://lake", "--json"], **env)[0])
    assert doc["path"] == "s3://lake/raw/orders" and doc["operational"]["row_count"] == 1200
    assert "gross" in ok(["show", "cli_raw_orders", "--namespace", "s3://lake"], **env)[0]
    res = json.loads(ok(["search", "orders", "--json"], **env)[0])
    assert any(i["name"] == "cli_orders" for i in res["items"])
    graph = json.loads(ok(["lineage", "cli_orders", "--json", "--direction", "down"], **env)[0])
    assert any(e["to"] == "dataset:default:cli_orders_daily" for e in graph["edges"]), graph
    assert "dataset:default:cli_orders" in ok(["lineage", "cli_orders_daily"], **env)[0]
    stats = json.loads(ok(["stats", "--json"], **env)[0])
    assert isinstance(stats, dict)

    rc, out, err = run(["show", "nope"], **env)
    assert (rc, out) == (3, "") and "not found" in err and "HTTP 404" in err
    rc, _, err = run(["lineage", "cli_orders", "--direction", "sideways"], **env)
    assert rc == 1 and "HTTP 400" in err
    rc, _, err = run(["list"], api_url=base_url, key="mf_live_000000000000_" + "0" * 64)
    assert rc == 4 and "HTTP 401" in err
    rc, _, err = run(["list"], api_url="http://127.0.0.1:9", key=tenant.key)
    assert rc == 1 and err.startswith("metafuse: ")


def test_export_import_round_trip(api, catalog, base_url, tenant, tenant_factory, tmp_path):
    env = {"api_url": base_url, "key": tenant.key}
    target = str(tmp_path / "out.sqlite")
    out, err = ok(["export", "-o", target, "--json", "--progress"], **env)
    info = json.loads(out)
    assert info == {"file": target, "bytes": os.path.getsize(target)}
    assert "export:" in err and "MiB" in err
    assert not os.path.exists(target + ".part")
    # without -o the server's file name is used, in the current folder
    out, _ = ok(["export"], env_extra={"MF_API_URL": base_url, "MF_API_KEY": tenant.key}, cwd=str(tmp_path))
    name = out.split("\t")[0]
    assert name.startswith("metafuse-") and name.endswith(".sqlite") and os.path.exists(str(tmp_path / name))
    # -o - streams to stdout
    p = subprocess.run([METAFUSE, "--api", base_url, "--key", tenant.key, "export", "-o", "-"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0 and p.stdout[:16] == b"SQLite format 3\x00"
    piped = write(str(tmp_path / "piped.sqlite"), p.stdout)
    assert catalog_content(piped) == catalog_content(target)

    other = tenant_factory()
    oenv = {"api_url": base_url, "key": other.key}
    rep = json.loads(ok(["import", target, "--dry-run", "--json"], **oenv)[0])
    assert rep["dry_run"] is True and rep["datasets"]["create"] == 3
    assert json.loads(ok(["list", "--json"], **oenv)[0])["items"] == []
    out, _ = ok(["import", target], **oenv)
    assert "datasets" in out and "create  default/cli_orders" in out
    assert len(json.loads(ok(["list", "--json"], **oenv)[0])["items"]) == 4

    bad = write(str(tmp_path / "bad.sqlite"), b"SQLite format 3\x00" + b"\x00" * 300)
    rc, out, err = run(["import", bad], **oenv)
    assert rc == 1 and out == "" and "HTTP 400 invalid_request" in err
    rc, _, err = run(["import", str(tmp_path / "nothing.sqlite")], **oenv)
    assert rc == 2
    viewer = other.make_key("viewer")["key"]
    rc, _, err = run(["export", "-o", str(tmp_path / "v.sqlite")], api_url=base_url, key=viewer)
    assert rc == 4 and "HTTP 403" in err and not os.path.exists(str(tmp_path / "v.sqlite"))
    rc, _, err = run(["import", target], api_url=base_url, key=viewer)
    assert rc == 4


def test_emit(tenant, base_url, ingest, ingest_worker, tmp_path):
    name = unique("cli_emitted")
    one = write(str(tmp_path / "one.json"), json.dumps(
        {"dataset": {"name": name, "fields": [{"name": "id", "type": "int"}]}}).encode())
    out, err = ok(["emit", one, "--ingest", ingest.base], api_url=base_url, key=tenant.key)
    assert out.splitlines()[0] == "EVENT_ID" and len(out.splitlines()) == 2 and err == ""
    batch = write(str(tmp_path / "b.ndjson"), "".join(
        json.dumps({"dataset": {"name": name + "_%d" % i}}) + "\n" for i in range(3)).encode())
    res = json.loads(ok(["emit", batch, "--json"], env_extra={
        "MF_API_URL": base_url, "MF_API_KEY": tenant.key, "MF_INGEST_URL": ingest.base})[0])
    assert len(res["event_ids"]) == 3, res
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rc, out, _ = run(["show", name + "_2", "--json"], api_url=base_url, key=tenant.key)
        if rc == 0:
            break
        time.sleep(0.2)
    assert rc == 0 and json.loads(out)["name"] == name + "_2"
    rc, _, err = run(["emit", write(str(tmp_path / "bad.json"), b'{"dataset": {}}'), "--ingest", ingest.base],
                     api_url=base_url, key=tenant.key)
    assert rc == 1 and "HTTP 400" in err


def test_dbt(tenant, base_url, tmp_path):
    """`metafuse dbt PATH` posts a target folder's manifest, run results and catalog to the dbt import."""
    from integrations_support import dbt_catalog, dbt_manifest, dbt_run_results
    target = tmp_path / "target"
    target.mkdir()
    write(str(target / "manifest.json"), json.dumps(dbt_manifest()).encode())
    env = {"api_url": base_url, "key": tenant.key}
    dry = json.loads(ok(["dbt", str(target), "--dry-run", "--json", "--namespace", "warehouse"], **env)[0])
    assert dry["dry_run"] is True and dry["datasets_created"] == 5 and dry["quality_results"] == 0, dry
    assert run(["show", "analytics.marts.customers", "--namespace", "warehouse"], **env)[0] == 3
    write(str(target / "run_results.json"), json.dumps(dbt_run_results(str(uuid.uuid4()))).encode())
    write(str(target / "catalog.json"), json.dumps(dbt_catalog()).encode())
    out, err = ok(["dbt", str(target), "--namespace", "warehouse"], **env)
    rows = dict(line.split() for line in out.splitlines()[1:8])
    assert out.splitlines()[0].split() == ["WHAT", "COUNT"] and err == ""
    assert rows["datasets_created"] == "5" and rows["lineage_edges"] == "4" and rows["quality_results"] == "1", out
    assert "created warehouse/analytics.marts.customers" in " ".join(out.split()), out
    shown = json.loads(ok(["show", "analytics.marts.customers", "--namespace", "warehouse", "--json"], **env)[0])
    assert shown["operational"]["row_count"] == 4200  # from catalog.json
    # a manifest file alone is a project too
    again = json.loads(ok(["dbt", str(target / "manifest.json"), "--namespace", "warehouse", "--json"], **env)[0])
    assert again["datasets_created"] == 0 and again["datasets_updated"] == 5, again
    # not a target folder, a broken file, no credentials to write: named, exit codes, nothing sent
    rc, _, err = run(["dbt", str(tmp_path)], **env)
    assert rc == 2 and "manifest.json is not a readable file" in err, err
    write(str(target / "catalog.json"), b'{"nodes": ')
    rc, _, err = run(["dbt", str(target)], **env)
    assert rc == 2 and str(target) in err and "JSON" in err, err
    write(str(target / "catalog.json"), b"[]")
    rc, _, err = run(["dbt", str(target)], **env)
    assert rc == 2 and "object" in err, err
    (target / "catalog.json").unlink()
    viewer = tenant.make_key("viewer")["key"]
    rc, _, err = run(["dbt", str(target)], api_url=base_url, key=viewer)
    assert rc == 4 and "HTTP 403" in err
    assert run(["dbt"], **env)[0] == 2


def test_table_and_validation_imports(tenant, base_url, tmp_path):
    """great-expectations, iceberg and delta read local files as mf-api reads its integrations folder."""
    from integrations_support import delta_log_files, ge_result, iceberg_metadata
    env = {"api_url": base_url, "key": tenant.key}
    ge = write(str(tmp_path / "validation.json"), json.dumps(ge_result(unexpected=3)).encode())
    res = json.loads(ok(["great-expectations", ge, "--name", "orders", "--namespace", "pg", "--json"], **env)[0])
    assert res["quality_results"] == 1 and res["placeholders_created"] == 1, res  # results of a dataset not yet seen
    # an Iceberg table folder: its metadata folder's newest metadata file
    meta = tmp_path / "events" / "metadata"
    meta.mkdir(parents=True)
    write(str(meta / "v1.metadata.json"), json.dumps(iceberg_metadata(schemas=1)).encode())
    write(str(meta / "v2.metadata.json"), json.dumps(iceberg_metadata(schemas=2)).encode())
    out, _ = ok(["iceberg", str(tmp_path / "events"), "--namespace", "lake"], **env)
    assert "created lake/events" in " ".join(out.split()), out
    shown = json.loads(ok(["show", "events", "--namespace", "lake", "--json"], **env)[0])
    assert [f["name"] for f in shown["fields"]] == ["id", "ts", "kind"] and shown["schema_version"] == 2, shown
    # a Delta table folder: its _delta_log commits in version order
    log = tmp_path / "orders_delta" / "_delta_log"
    log.mkdir(parents=True)
    for version, text in delta_log_files().items():
        write(str(log / ("%020d.json" % version)), text.encode())
    res = json.loads(ok(["delta", str(tmp_path / "orders_delta"), "--name", "orders_delta", "--json"], **env)[0])
    assert res["datasets_created"] == 1 and res["schema_versions"] == 2, res
    rc, _, err = run(["delta", ge], **env)
    assert rc == 2 and "Delta table folder" in err, err
    rc, _, err = run(["iceberg", str(tmp_path / "nothing")], **env)
    assert rc == 2 and "nothing" in err, err


def test_keys(tenant, base_url):
    env = {"api_url": base_url, "key": tenant.key}
    kid, key = ok(["keys", "create", "from-cli", "--role", "viewer"], **env)[0].strip().split("\t")
    listed = json.loads(ok(["keys", "list", "--json"], **env)[0])["items"]
    assert any(k["id"] == kid and k["role"] == "viewer" for k in listed)
    assert "from-cli" in ok(["keys", "list"], **env)[0]
    assert ok(["list"], api_url=base_url, key=key)[0].startswith("NAMESPACE")
    assert ok(["keys", "revoke", kid], **env)[0].strip() == "revoked " + kid
    rc, _, _ = run(["list"], api_url=base_url, key=key)
    assert rc == 4
    rc, _, err = run(["keys", "revoke", "00000000-0000-0000-0000-000000000000"], **env)
    assert rc == 3
    rc, _, err = run(["keys", "create", "x"], **env)
    assert rc == 2 and "--role" in err


def test_usage_errors(base_url, tenant):
    rc, out, err = run([])
    assert rc == 2 and out == "" and "usage:" in err
    assert run(["--bogus", "list"])[0] == 2
    rc, _, err = run(["list"])
    assert rc == 2 and "MF_API_URL" in err
    rc, _, err = run(["list"], api_url=base_url)
    assert rc == 2 and "MF_API_KEY" in err
    assert run(["list", "--limit", "many"], api_url=base_url, key=tenant.key)[0] == 2
    assert run(["frobnicate"], api_url=base_url, key=tenant.key)[0] == 2
    assert run(["show"], api_url=base_url, key=tenant.key)[0] == 2
    out, _ = ok(["--help"])
    assert "Exit codes" in out
