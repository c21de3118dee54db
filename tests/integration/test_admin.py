"""Platform admin routes: /api/v1/admin/tenants, the tenant lifecycle
(suspend, reactivate, delete) and `mf-api purge`."""

import datetime
import json
import time
import uuid

import pytest

from conftest import KEY_RE, UUID_RE, Api, assert_error, assert_ts, psql, run_mf, unique

TENANT_KEYS = {"id", "name", "plan", "status", "purge_after", "created_at"}


def check_tenant(t, name=None, plan=None):
    assert set(t.keys()) >= TENANT_KEYS, t
    assert UUID_RE.match(t["id"]), t
    assert isinstance(t["status"], str) and t["status"], t
    assert_ts(t["created_at"])
    if name is not None:
        assert t["name"] == name
    if plan is not None:
        assert t["plan"] == plan


def test_create_tenant_default_plan(admin_api, base_url):
    name = unique("acme")
    r = admin_api.post("/api/v1/admin/tenants", {"name": name})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body.keys()) >= {"tenant", "api_key"}
    check_tenant(body["tenant"], name, "free")
    m = KEY_RE.match(body["api_key"])
    assert m, body["api_key"]
    assert m.group(1) == "live"  # MF_KEY_ENV default
    # The key is the tenant's first admin key: it can manage keys.
    t_api = Api(base_url, body["api_key"])
    keys = t_api.ok("GET", "/api/v1/api-keys", 200).json()["items"]
    assert len(keys) == 1
    assert keys[0]["role"] == "admin"
    assert keys[0]["prefix"] == m.group(2) or m.group(2) in keys[0]["prefix"]


def test_create_tenant_each_plan(admin_api):
    for plan in ("free", "team", "enterprise"):
        name = unique("plan-" + plan)
        r = admin_api.post("/api/v1/admin/tenants", {"name": name, "plan": plan})
        assert r.status_code == 201, r.text
        check_tenant(r.json()["tenant"], name, plan)


def test_create_tenant_bad_plan(admin_api):
    name = unique("badplan")
    r = admin_api.post("/api/v1/admin/tenants", {"name": name, "plan": "gold"})
    assert_error(r, 400, "invalid_request", "plan")
    all_names = [t["name"] for t in admin_api.walk("/api/v1/admin/tenants", limit=500)]
    assert name not in all_names


def test_create_tenant_duplicate(admin_api):
    name = unique("dup")
    admin_api.ok("POST", "/api/v1/admin/tenants", 201, json_body={"name": name})
    r = admin_api.post("/api/v1/admin/tenants", {"name": name, "plan": "team"})
    assert_error(r, 409, "conflict")
    matches = [t for t in admin_api.walk("/api/v1/admin/tenants", limit=500) if t["name"] == name]
    assert len(matches) == 1
    assert matches[0]["plan"] == "free"


def test_get_tenant(admin_api, tenant):
    r = admin_api.get("/api/v1/admin/tenants/" + tenant.id)
    assert r.status_code == 200, r.text
    t = r.json()
    check_tenant(t, tenant.name, "free")
    assert t["id"] == tenant.id
    for k in TENANT_KEYS:
        assert t[k] == tenant.info[k], (k, t, tenant.info)


def test_get_tenant_unknown(admin_api):
    r = admin_api.get("/api/v1/admin/tenants/" + str(uuid.uuid4()))
    assert_error(r, 404, "not_found")


def test_list_tenants_pagination(admin_api, tenant_factory):
    created = {tenant_factory().id for _ in range(5)}
    items = admin_api.walk("/api/v1/admin/tenants", limit=2)
    ids = [t["id"] for t in items]
    assert len(ids) == len(set(ids)), "duplicate tenants across pages"
    assert created <= set(ids)
    for t in items:
        check_tenant(t)
    # A single big page agrees with the walk.
    big = admin_api.walk("/api/v1/admin/tenants", limit=500)
    assert {t["id"] for t in big} == set(ids)


def test_admin_routes_need_platform_key(tenant, anon, admin_api):
    admin = tenant.api
    editor = tenant.client("editor")
    one = "/api/v1/admin/tenants/" + tenant.id
    calls = (
        ("POST", "/api/v1/admin/tenants", {"name": unique("x")}),
        ("GET", "/api/v1/admin/tenants", None),
        ("GET", one, None),
        ("PUT", one, {"plan": "team"}),
        ("DELETE", one, None),
        ("POST", one + "/suspend", None),
        ("POST", one + "/reactivate", None),
    )
    for client, status, code in ((admin, 403, "forbidden"), (editor, 403, "forbidden"),
                                 (anon, 401, "unauthorized")):
        for method, path, body in calls:
            if body is None:
                r = client.req(method, path)
            else:
                r = client.req(method, path, json_body=body)
            assert_error(r, status, code)
    # nothing changed: the tenant is still active on its plan
    t = admin_api.ok("GET", one, 200).json()
    assert (t["status"], t["plan"], t["purge_after"]) == ("active", "free", None)


def test_platform_key_cannot_use_tenant_routes(admin_api):
    for method, path in (
        ("GET", "/api/v1/datasets"),
        ("GET", "/api/v1/api-keys"),
        ("GET", "/api/v1/stats"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/domains"),
    ):
        assert_error(admin_api.req(method, path), 403, "forbidden")
    r = admin_api.post("/api/v1/datasets", {"name": "platform_ds"})
    assert_error(r, 403, "forbidden")


def test_admin_method_not_allowed(admin_api, tenant):
    assert_error(admin_api.req("DELETE", "/api/v1/admin/tenants"), 405, "method_not_allowed")
    assert_error(admin_api.req("PATCH", "/api/v1/admin/tenants/" + tenant.id), 405,
                 "method_not_allowed")
    for action in ("suspend", "reactivate"):
        assert_error(admin_api.get("/api/v1/admin/tenants/%s/%s" % (tenant.id, action)), 405,
                     "method_not_allowed")


# ---------------------------------------------------------------- update


def tenant_path(tid, action=None):
    return "/api/v1/admin/tenants/" + tid + ("/" + action if action else "")


def test_billing_admin_reads_tenants_and_nothing_else(base_url, billing_key, admin_api, tenant):
    billing = Api(base_url, billing_key)
    assert billing.ok("GET", "/api/v1/admin/tenants/" + tenant.id, 200).json()["id"] == tenant.id
    assert any(t["id"] == tenant.id for t in billing.walk("/api/v1/admin/tenants"))
    for method, path, body in [
        ("POST", "/api/v1/admin/tenants", {"name": unique("b")}),
        ("PUT", "/api/v1/admin/tenants/" + tenant.id, {"plan": "team"}),
        ("POST", "/api/v1/admin/tenants/" + tenant.id + "/suspend", None),
        ("DELETE", "/api/v1/admin/tenants/" + tenant.id, None),
    ]:
        r = billing.req(method, path, **({"json_body": body} if body is not None else {}))
        assert_error(r, 403, "forbidden", "platform_admin")
    # a platform role never reaches a tenant's catalog
    assert_error(billing.get("/api/v1/datasets"), 403, "forbidden")
    assert admin_api.ok("GET", "/api/v1/admin/tenants/" + tenant.id, 200).json()["status"] == "active"


def test_create_platform_key_roles(migrated):
    rc, _, err = run_mf(["create-platform-key", "admin"], migrated, check=False)
    assert rc == 2 and "platform_admin or billing_admin" in err
    rc, out, _ = run_mf(["create-platform-key", "billing_admin"], migrated)
    assert rc == 0 and KEY_RE.match(out.strip().splitlines()[-1])


def test_new_tenant_is_active_without_purge_date(admin_api, tenant):
    assert tenant.info["status"] == "active"
    assert tenant.info["purge_after"] is None
    for t in admin_api.walk("/api/v1/admin/tenants", limit=500):
        assert set(t.keys()) >= TENANT_KEYS, t
        assert t["status"] in ("active", "suspended", "deleting"), t
        if t["status"] == "deleting":
            assert_ts(t["purge_after"])
        else:
            assert t["purge_after"] is None, t


def test_update_tenant(admin_api, tenant):
    path = tenant_path(tenant.id)
    new_name = unique("renamed")
    r = admin_api.ok("PUT", path, 200, json_body={"name": new_name})
    t = r.json()
    check_tenant(t, new_name, "free")
    assert t["id"] == tenant.id and t["created_at"] == tenant.info["created_at"]
    assert t["status"] == "active" and t["purge_after"] is None
    t = admin_api.ok("PUT", path, 200, json_body={"plan": "team"}).json()
    check_tenant(t, new_name, "team")
    newer = unique("both")
    t = admin_api.ok("PUT", path, 200, json_body={"name": newer, "plan": "enterprise"}).json()
    check_tenant(t, newer, "enterprise")
    assert admin_api.ok("GET", path, 200).json() == t
    # setting what it already has is fine (its own name is no conflict)
    assert admin_api.ok("PUT", path, 200, json_body={"name": newer, "plan": "enterprise"}).json() == t
    # the tenant's keys keep working under the new name and plan
    assert tenant.api.get("/api/v1/datasets").status_code == 200


def test_update_tenant_bad_input(admin_api, tenant, tenant_factory):
    path = tenant_path(tenant.id)
    other = tenant_factory()
    cases = [
        ({"name": "x", "colour": "red"}, "colour"),
        ({"plan": "gold"}, "enterprise"),
        ({"plan": ""}, "plan"),
        ({"plan": 5}, "plan"),
        ({"plan": None}, "plan"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"name": 12}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": "bad\u0001name"}, "name"),
        ({}, "name or plan"),
    ]
    for body, mentions in cases:
        r = admin_api.put(path, body)
        assert_error(r, 400, "invalid_request", mentions)
    r = admin_api.put(path, {"plan": "gold"})
    msg = r.json()["error"]["message"]
    for plan in ("free", "team", "enterprise"):
        assert plan in msg, msg
    assert_error(admin_api.req("PUT", path, data=b"{not json"), 400, "invalid_json")
    assert_error(admin_api.req("PUT", path, data=b"[1]"), 400, "invalid_json")
    assert_error(admin_api.req("PUT", path, data=b"{}", headers={"Content-Type": "text/plain"}),
                 415, "unsupported_media_type")
    assert_error(admin_api.put(path, {"name": other.name}), 409, "conflict", other.name)
    assert_error(admin_api.put(tenant_path(str(uuid.uuid4())), {"plan": "team"}), 404, "not_found")
    assert_error(admin_api.put(tenant_path("not-a-uuid"), {"plan": "team"}), 404, "not_found")
    # nothing of the above changed anything
    t = admin_api.ok("GET", path, 200).json()
    assert (t["name"], t["plan"]) == (tenant.name, "free")


# ---------------------------------------------------------------- lifecycle


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def tenant_audit(t, action):
    """The tenant's own audit rows with this action (read with its admin key)."""
    return t.api.walk("/api/v1/audit", params={"action": action})


def test_suspend_and_reactivate(admin_api, tenant):
    tenant.api.create_dataset("kept", description="still here")
    path = tenant_path(tenant.id)
    r = admin_api.ok("POST", tenant_path(tenant.id, "suspend"), 200,
                     headers={"X-Request-ID": "suspend-" + tenant.id[:8]})
    t = r.json()
    check_tenant(t, tenant.name, "free")
    assert t["status"] == "suspended" and t["purge_after"] is None
    # idempotent
    again = admin_api.ok("POST", tenant_path(tenant.id, "suspend"), 200).json()
    assert again == t
    assert admin_api.ok("GET", path, 200).json() == t
    # a suspended tenant can still be renamed or moved to another plan
    t = admin_api.ok("PUT", path, 200, json_body={"plan": "team"}).json()
    assert t["status"] == "suspended" and t["plan"] == "team"
    r = admin_api.ok("POST", tenant_path(tenant.id, "reactivate"), 200,
                     headers={"X-Request-ID": "reactivate-" + tenant.id[:8]})
    t = r.json()
    assert t["status"] == "active" and t["purge_after"] is None
    assert admin_api.ok("POST", tenant_path(tenant.id, "reactivate"), 200).json() == t
    # the data was kept
    doc = tenant.api.get_dataset("kept").json()
    assert doc["description"] == "still here"
    # one audit row per change (the idempotent repeats wrote none), in the tenant's own log
    susp = tenant_audit(tenant, "tenant.suspend")
    react = tenant_audit(tenant, "tenant.reactivate")
    assert len(susp) == 1 and len(react) == 1, (susp, react)
    for row, rid, before, after in ((susp[0], "suspend-", "active", "suspended"),
                                    (react[0], "reactivate-", "suspended", "active")):
        assert row["request_id"] == rid + tenant.id[:8], row
        assert row["actor"], row
        assert "127.0.0.1" in row["client_addr"], row
        assert tenant.name in row["target"] or tenant.id in row["target"], row
        assert row["before"]["status"] == before and row["after"]["status"] == after, row


def test_delete_and_cancel(admin_api, tenant):
    path = tenant_path(tenant.id)
    start = datetime.datetime.now(datetime.timezone.utc)
    r = admin_api.delete(path, headers={"X-Request-ID": "delete-" + tenant.id[:8]})
    assert r.status_code == 202, r.text
    t = r.json()
    check_tenant(t, tenant.name, "free")
    assert t["status"] == "deleting"
    assert_ts(t["purge_after"])
    grace = parse_ts(t["purge_after"]) - start
    # MF_TENANT_DELETE_GRACE_DAYS defaults to 30
    assert abs(grace - datetime.timedelta(days=30)) < datetime.timedelta(minutes=5), grace
    assert admin_api.ok("GET", path, 200).json() == t
    # deleting again keeps the first date
    again = admin_api.delete(path)
    assert again.status_code == 202 and again.json() == t
    # a tenant being deleted is not merely suspended: reactivate first
    assert_error(admin_api.post(tenant_path(tenant.id, "suspend")), 409, "conflict", "reactivate")
    assert admin_api.ok("GET", path, 200).json() == t
    # reactivate cancels the deletion
    t = admin_api.ok("POST", tenant_path(tenant.id, "reactivate"), 200).json()
    assert t["status"] == "active" and t["purge_after"] is None
    rows = tenant_audit(tenant, "tenant.delete")
    assert len(rows) == 1, rows
    assert rows[0]["request_id"] == "delete-" + tenant.id[:8]
    assert rows[0]["after"]["status"] == "deleting" and rows[0]["after"]["purge_after"], rows[0]
    # a suspended tenant can be deleted too, and reactivating it makes it active
    admin_api.ok("POST", tenant_path(tenant.id, "suspend"), 200)
    assert admin_api.delete(path).json()["status"] == "deleting"
    assert admin_api.ok("POST", tenant_path(tenant.id, "reactivate"), 200).json()["status"] == "active"
    # the listing shows the same documents
    listed = {x["id"]: x for x in admin_api.walk("/api/v1/admin/tenants", limit=500)}
    assert listed[tenant.id]["status"] == "active"


def test_lifecycle_unknown_tenant(admin_api):
    for tid in (str(uuid.uuid4()), "not-a-uuid", "00000000-0000-0000-0000-00000000000g"):
        for method, action in (("POST", "suspend"), ("POST", "reactivate"), ("DELETE", None)):
            r = admin_api.req(method, tenant_path(tid, action))
            assert_error(r, 404, "not_found", "tenant")


def test_suspended_tenant_refused(admin_api, tenant):
    """The auth path refuses the keys of a suspended or deleting tenant (403
    tenant_suspended) at once: the lifecycle routes drop its keys from every cache."""
    viewer = tenant.client("viewer")
    assert tenant.api.get("/api/v1/datasets").status_code == 200
    assert viewer.get("/api/v1/datasets").status_code == 200
    admin_api.ok("POST", tenant_path(tenant.id, "suspend"), 200)
    for client in (tenant.api, viewer):
        assert_error(client.get("/api/v1/datasets"), 403, "tenant_suspended")
        assert_error(client.post("/api/v1/datasets", {"name": "nope"}), 403, "tenant_suspended")
    admin_api.ok("POST", tenant_path(tenant.id, "reactivate"), 200)
    assert tenant.api.get("/api/v1/datasets").status_code == 200
    assert viewer.get("/api/v1/datasets").status_code == 200
    assert admin_api.delete(tenant_path(tenant.id)).status_code == 202
    for client in (tenant.api, viewer):
        assert_error(client.get("/api/v1/datasets"), 403, "tenant_suspended")
    admin_api.ok("POST", tenant_path(tenant.id, "reactivate"), 200)
    assert tenant.api.get("/api/v1/datasets").status_code == 200
    # nothing was written while it was refused
    assert tenant.api.get_dataset("nope").status_code == 404


# ---------------------------------------------------------------- purge


def tenant_tables(url):
    """Every table of the schema with a tenant_id column (partitions counted in their parent)."""
    _, rows, _ = psql(url,
                      "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
                      "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                      "AND NOT a.attisdropped ORDER BY 1")
    return rows


def rows_of_tenant(url, tid):
    """{table: count} of the tenant's rows in every table with a tenant_id (and tenants itself)."""
    tables = tenant_tables(url)
    stmts = ["SELECT '%s', count(*) FROM %s WHERE tenant_id = '%s'" % (t, t, tid) for t in tables]
    stmts.append("SELECT 'tenants', count(*) FROM tenants WHERE id = '%s'" % tid)
    _, out, _ = psql(url, *stmts)
    return {line.split("|")[0]: int(line.split("|")[1]) for line in out}


def purge(env):
    rc, out, err = run_mf(["purge"], env, check=False)
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 1, "purge printed %r (stderr %s)" % (out, err)
    report = json.loads(lines[0])
    assert set(report.keys()) >= {"tenants_purged", "tenants", "failed", "audit_rows_deleted"}, report
    assert report["tenants_purged"] == len(report["tenants"])
    assert (rc == 0) == (report["failed"] == []), (rc, report, err)
    return report


def populate(infra, t):
    """Rows of the tenant in every kind of table: catalog, lineage, glossary, keys, ingest, runs."""
    api = t.api
    api.ok("POST", "/api/v1/domains", 201, json_body={"name": "dom"})
    api.ok("POST", "/api/v1/owners", 201, json_body={"name": "own"})
    api.create_dataset("src", domain="dom", owner="own", tags=["pii"],
                       fields=[{"name": "a", "type": "int", "tags": ["key"]}])
    api.create_dataset("dst", upstream=["src"], fields=[{"name": "b", "type": "int"}])
    # a breaking change: a second schema version and a catalog event
    api.ok("PUT", "/api/v1/datasets/dst", 200, json_body={"fields": [{"name": "c", "type": "text"}],
                                                          "upstream": ["src"]})
    api.ok("POST", "/api/v1/lineage/edges", 200, json_body={
        "source": "src", "target": "dst", "columns": [{"source_field": "a", "target_field": "c"}]})
    api.ok("POST", "/api/v1/glossary/terms", 201, json_body={"name": "term"})
    api.ok("POST", "/api/v1/glossary/terms/term/links", 200, json_body={"dataset": "src"})
    t.make_key("viewer")
    tid = t.id
    psql(infra["MF_PG_SUPER_URL"],
         "INSERT INTO jobs (tenant_id, namespace, name) VALUES ('%s', 'etl', 'job1')" % tid,
         "INSERT INTO runs (tenant_id, run_id, job_id, state, event_time) SELECT '%s', "
         "gen_random_uuid(), id, 'COMPLETE', now() FROM jobs WHERE tenant_id = '%s'" % (tid, tid),
         "INSERT INTO dataset_quality (tenant_id, dataset_id, metrics) SELECT '%s', id, '{}' "
         "FROM datasets WHERE tenant_id = '%s' AND name = 'src'" % (tid, tid),
         "INSERT INTO ingest_events (event_id, tenant_id, source, received_at) "
         "VALUES (gen_random_uuid(), '%s', 'emit', now())" % tid,
         "INSERT INTO ingest_failures (event_id, tenant_id, attempts, reason, event) "
         "VALUES (gen_random_uuid(), '%s', 3, 'test', '{}')" % tid)


def test_purge_erases_tenant_past_grace(migrated, admin_api, tenant_factory):
    doomed, waiting, alive = tenant_factory(), tenant_factory(), tenant_factory()
    for t in (doomed, waiting, alive):
        populate(migrated, t)
    before = rows_of_tenant(migrated["MF_PG_SUPER_URL"], doomed.id)
    for table in ("datasets", "fields", "dataset_versions", "lineage_edges", "column_lineage",
                  "glossary_terms", "glossary_links", "domains", "owners", "namespaces", "api_keys",
                  "audit_log", "jobs", "runs", "dataset_quality", "catalog_events", "ingest_events",
                  "ingest_failures", "tenants"):
        assert before.get(table, 0) > 0, (table, before)
    for t in (doomed, waiting):
        assert admin_api.delete(tenant_path(t.id)).status_code == 202
    # the doomed tenant's grace period is over; the waiting one's is not
    psql(migrated["MF_PG_ADMIN_URL"],
         "UPDATE tenants SET purge_after = now() - interval '1 minute' WHERE id = '%s'" % doomed.id)

    report = purge(migrated)
    assert report["failed"] == [], report
    purged = {t["id"]: t for t in report["tenants"]}
    assert doomed.id in purged, report
    assert purged[doomed.id]["name"] == doomed.name
    assert purged[doomed.id]["datasets"] == 2
    assert waiting.id not in purged and alive.id not in purged

    left = rows_of_tenant(migrated["MF_PG_SUPER_URL"], doomed.id)
    assert all(n == 0 for n in left.values()), {k: v for k, v in left.items() if v}
    assert_error(admin_api.get(tenant_path(doomed.id)), 404, "not_found")
    assert doomed.id not in {t["id"] for t in admin_api.walk("/api/v1/admin/tenants", limit=500)}
    assert_error(doomed.api.get("/api/v1/datasets"), 401, "unauthorized")
    # the purge itself is on record at platform level
    _, rows, _ = psql(migrated["MF_PG_SUPER_URL"],
                      "SELECT count(*) FROM audit_log WHERE tenant_id IS NULL AND action = 'tenant.purge' "
                      "AND before->>'id' = '%s'" % doomed.id)
    assert rows == ["1"]

    # the others are untouched
    for t, status in ((waiting, "deleting"), (alive, "active")):
        assert admin_api.ok("GET", tenant_path(t.id), 200).json()["status"] == status
        assert rows_of_tenant(migrated["MF_PG_SUPER_URL"], t.id)["datasets"] == 2
    assert alive.api.get_dataset("dst").status_code == 200
    # running it again purges nothing more of these
    again = purge(migrated)
    assert not {doomed.id, waiting.id, alive.id} & {t["id"] for t in again["tenants"]}
    admin_api.ok("POST", tenant_path(waiting.id, "reactivate"), 200)
    assert waiting.api.get_dataset("dst").status_code == 200


def test_purge_audit_retention(migrated, tenant_factory):
    free, team = tenant_factory(), tenant_factory("team")  # 30 and 365 days
    owner = migrated["MF_PG_ADMIN_URL"]
    marker = unique("ret")

    def insert(t, days, label):
        return ("INSERT INTO audit_log (tenant_id, at, actor, action, target) VALUES "
                "('%s', now() - interval '%s', 'test', 'retention.test', '%s-%s')"
                % (t.id, days, marker, label))

    psql(owner,
         insert(free, "31 days", "free-old"), insert(free, "29 days", "free-new"),
         insert(team, "366 days", "team-old"), insert(team, "31 days", "team-new"),
         insert(team, "364 days", "team-mid"))
    report = purge(migrated)
    assert report["audit_rows_deleted"] >= 2, report
    _, rows, _ = psql(owner, "SELECT target FROM audit_log WHERE target LIKE '%s-%%' ORDER BY target"
                      % marker)
    assert rows == ["%s-free-new" % marker, "%s-team-mid" % marker, "%s-team-new" % marker], rows
    # the tenants' recent rows (their creation, key creation) are kept
    for t in (free, team):
        assert t.api.walk("/api/v1/audit"), "recent audit rows were purged"


def test_delete_grace_days_from_config(migrated, spawn_server, platform_key, tenant_factory):
    srv = spawn_server("grace0", {"MF_TENANT_DELETE_GRACE_DAYS": "0"})
    admin = Api(srv.base, platform_key)
    t = tenant_factory()
    t.api.create_dataset("soon-gone")
    start = datetime.datetime.now(datetime.timezone.utc)
    r = admin.delete(tenant_path(t.id))
    assert r.status_code == 202, r.text
    doc = r.json()
    assert doc["status"] == "deleting"
    assert abs(parse_ts(doc["purge_after"]) - start) < datetime.timedelta(minutes=5), doc
    time.sleep(0.05)
    report = purge(migrated)
    assert t.id in {x["id"] for x in report["tenants"]}, report
    assert_error(admin.get(tenant_path(t.id)), 404, "not_found")


def test_purge_needs_admin_url(migrated):
    env = dict(migrated)
    env["MF_PG_ADMIN_URL"] = ""
    rc, out, err = run_mf(["purge"], env, check=False)
    assert rc == 2 and "MF_PG_ADMIN_URL" in err, (rc, out, err)


# ---------------------------------------------------------------- plan limits


def _tiny_plan(infra, tenant, max_datasets, max_rps):
    """Put tenant on a new plan of max_datasets and max_rps, without the harness's overrides."""
    from conftest import psql
    plan = "tiny_" + tenant.id.replace("-", "")[:12]
    psql(infra["MF_PG_SUPER_URL"],
         "INSERT INTO plans (name, max_datasets, max_seats, max_api_calls, max_emit_events, "
         "max_rps, max_key_rps, audit_retention_days) VALUES ('%s', %d, 5, 1000000, 1000000, %d, %d, 30)"
         % (plan, max_datasets, max_rps, max_rps),
         "UPDATE tenants SET plan = '%s', quotas = '{}' WHERE id = '%s'" % (plan, tenant.id))
    return plan


def test_quota_datasets(infra, tenant):
    _tiny_plan(infra, tenant, 3, 100000)
    for n in ("q1", "q2", "q3"):
        assert tenant.api.post("/api/v1/datasets", {"name": n}).status_code == 201
    r = tenant.api.post("/api/v1/datasets", {"name": "q4"})
    assert_error(r, 403, "quota_exceeded", "max_datasets")
    assert tenant.api.get("/api/v1/stats").json()["datasets"] == 3
    # updates of existing datasets still work
    assert tenant.api.put("/api/v1/datasets/q1", {"description": "x"}).status_code == 200


def test_rate_limit(infra, tenant):
    _tiny_plan(infra, tenant, 1000, 5)
    statuses = []
    limited = None
    for _ in range(40):
        r = tenant.api.get("/api/v1/datasets")
        statuses.append(r.status_code)
        if r.status_code == 429:
            limited = r
            break
    assert limited is not None, "40 quick requests on a 5 req/s plan were never limited"
    assert_error(limited, 429, "rate_limited")
    assert limited.headers.get("Retry-After")
