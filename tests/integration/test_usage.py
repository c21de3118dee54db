"""Usage analytics against the real processes: mf-api appends access events
to the usage stream as it serves dataset reads, search results and lineage
queries; mf-analytics folds them into daily usage; GET
/api/v1/datasets/{name}/usage, /analytics/popular and /analytics/unused read
it back. Counts must show within seconds, per dataset, caller and day, only
to callers who may see the dataset, once each even with several replicas,
reclaimed from a dead replica, and reads must not care whether Redis is up.

Days before today cannot be produced by reading now: the period tests write
those rows into the usage tables directly (as the database owner)."""

import concurrent.futures
import datetime
import json
import re
import subprocess
import time
import uuid

import pytest
import requests

from conftest import Api, assert_error, assert_list_page, free_port, psql, q, redis_cli, unique

GROUP = "mf-analytics-usage"
WAIT = 10.0  # seconds a count may take to show


def usage(api, name, **params):
    r = api.get("/api/v1/datasets/%s/usage" % q(name), params=params)
    assert r.status_code == 200, r.text[:500]
    return r.json()


def wait_usage(api, name, want, period=None, timeout=WAIT):
    """Poll a dataset's usage until every key of want matches; return the last answer."""
    params = {"period": period} if period else {}
    deadline = time.monotonic() + timeout
    while True:
        body = usage(api, name, **params)
        if all(body[k] == v for k, v in want.items()) or time.monotonic() > deadline:
            assert all(body[k] == v for k, v in want.items()), "usage of %s: want %r, got %r" % (name, want, body)
            return body
        time.sleep(0.1)


def read(api, name, times=1):
    for _ in range(times):
        api.ok("GET", "/api/v1/datasets/" + q(name), 200)


def today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def super_sql(infra, *sql):
    return psql(infra["MF_PG_SUPER_URL"], *sql)[1]


def add_daily(infra, tenant, dataset_id, days_ago, reads=0, searches=0, lineage=0, callers=()):
    """A day of usage in the past, as mf-analytics would have folded it."""
    day = today() - datetime.timedelta(days=days_ago)
    super_sql(infra, "INSERT INTO dataset_usage_daily (tenant_id, dataset_id, day, reads, search_appearances, "
                     "lineage_queries) VALUES ('%s', '%s', '%s', %d, %d, %d)" % (
                         tenant.id, dataset_id, day, reads, searches, lineage))
    for caller in callers:
        super_sql(infra, "INSERT INTO dataset_usage_callers_daily (tenant_id, dataset_id, day, caller) "
                         "VALUES ('%s', '%s', '%s', '%s')" % (tenant.id, dataset_id, day, caller))


def backdate(infra, dataset_id, days):
    super_sql(infra, "UPDATE datasets SET created_at = now() - interval '%d days' WHERE id = '%s'" % (days, dataset_id))


# ---------------------------------------------------------------- counting


def test_reads_counted_within_seconds(api, analytics):
    api.create_dataset("orders")
    api.create_dataset("customers")
    read(api, "orders", 3)
    assert_error(api.get_dataset("no_such_dataset"), 404, "not_found")  # a miss counts for nothing
    started = time.monotonic()
    body = wait_usage(api, "orders", {"total_reads": 3})
    assert time.monotonic() - started < WAIT
    assert body["namespace"] == "default" and body["name"] == "orders" and body["period"] == "7d", body
    assert body["unique_users"] == 1 and body["search_appearances"] == 0 and body["lineage_queries"] == 0, body
    assert [d["day"] for d in body["daily"]] == [str(today() - datetime.timedelta(days=6 - i)) for i in range(7)]
    assert body["from"] == body["daily"][0]["day"] and body["to"] == str(today()), body
    assert body["daily"][-1] == {"day": str(today()), "reads": 3, "unique_users": 1, "search_appearances": 0,
                                 "lineage_queries": 0}, body
    assert all(d["reads"] == 0 for d in body["daily"][:-1]), body
    assert usage(api, "customers")["total_reads"] == 0
    # reading the usage is not a read
    time.sleep(0.5)
    assert usage(api, "orders")["total_reads"] == 3


def test_namespaces_are_separate(api, analytics):
    api.create_dataset("events", namespace="wh")
    api.create_dataset("events")
    api.ok("GET", "/api/v1/datasets/events", 200, params={"namespace": "wh"})
    api.ok("GET", "/api/v1/datasets/events", 200, params={"namespace": "wh"})
    read(api, "events")
    r = api.get("/api/v1/datasets/events/usage", params={"namespace": "wh"})
    deadline = time.monotonic() + WAIT
    while r.json()["total_reads"] != 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        r = api.get("/api/v1/datasets/events/usage", params={"namespace": "wh"})
    assert r.json()["total_reads"] == 2 and r.json()["namespace"] == "wh", r.json()
    wait_usage(api, "events", {"total_reads": 1})


def test_search_appearances_and_lineage_queries(api, analytics):
    api.create_dataset("raw_clicks", fields=[{"name": "clickid", "type": "string"}])
    api.create_dataset("clicks_daily", fields=[{"name": "clickid", "type": "string"}])
    api.create_dataset("unrelated")
    api.ok("POST", "/api/v1/lineage/edges", 201, json_body={"source": "raw_clicks", "target": "clicks_daily"})

    # a page that holds a dataset and its field counts the dataset once; terms count for nothing
    appearances = {}
    for q_ in ("clickid", "raw_clicks"):
        page = api.ok("GET", "/api/v1/search", 200, params={"q": q_}).json()
        shown = {i["name"] if i["kind"] == "dataset" else i["dataset"] for i in page["items"] if i["kind"] != "term"}
        for name in shown:
            appearances[name] = appearances.get(name, 0) + 1
        if q_ == "clickid":
            kinds = {(i["kind"], i.get("dataset", i["name"])) for i in page["items"]}
            assert {("field", "raw_clicks"), ("dataset", "raw_clicks")} <= kinds, page
    assert appearances["raw_clicks"] == 2, appearances
    for name, n in appearances.items():
        wait_usage(api, name, {"search_appearances": n})

    api.ok("GET", "/api/v1/lineage/graph", 200, params={"node": "dataset:default:raw_clicks"})
    api.ok("GET", "/api/v1/lineage/impact", 200, params={"node": "dataset:default:raw_clicks"})
    api.ok("GET", "/api/v1/lineage/graph", 200, params={"node": "datasetField:default:clicks_daily:clickid"})
    api.ok("GET", "/api/v1/lineage", 200, params={"nodeId": "dataset:default:clicks_daily", "depth": "2"})
    assert_error(api.get("/api/v1/lineage/graph", params={"node": "dataset:default:nothing"}), 404)
    # only the node asked about counts, not what the walk passes
    body = wait_usage(api, "raw_clicks", {"lineage_queries": 2})
    assert body["total_reads"] == 0 and body["unique_users"] == 0, body
    wait_usage(api, "clicks_daily", {"lineage_queries": 2})
    u = usage(api, "unrelated")
    assert (u["total_reads"], u["search_appearances"], u["lineage_queries"]) == (0, 0, 0), u


def test_unique_users(tenant, analytics):
    tenant.api.create_dataset("shared")
    alice, bob = tenant.client("viewer"), tenant.client("viewer")
    read(alice, "shared", 2)
    read(bob, "shared")
    body = wait_usage(tenant.api, "shared", {"total_reads": 3})
    assert body["unique_users"] == 2 and body["daily"][-1]["unique_users"] == 2, body
    read(tenant.api, "shared")
    body = wait_usage(tenant.api, "shared", {"total_reads": 4})
    assert body["unique_users"] == 3, body


# ---------------------------------------------------------------- periods, popular, unused


def test_periods(infra, tenant, analytics):
    api = tenant.api
    ds = api.create_dataset("history")
    add_daily(infra, tenant, ds["id"], 3, reads=5, searches=2, lineage=1, callers=("key:a", "key:b"))
    add_daily(infra, tenant, ds["id"], 20, reads=7, callers=("key:c",))
    add_daily(infra, tenant, ds["id"], 40, reads=100)
    read(api, "history")
    one = wait_usage(api, "history", {"total_reads": 1}, period="1d")
    assert one["period"] == "1d" and len(one["daily"]) == 1 and one["unique_users"] == 1, one
    week = wait_usage(api, "history", {"total_reads": 6}, period="7d")
    assert (week["search_appearances"], week["lineage_queries"], week["unique_users"]) == (2, 1, 3), week
    assert len(week["daily"]) == 7 and week["daily"][3]["reads"] == 5 and week["daily"][3]["unique_users"] == 2, week
    month = wait_usage(api, "history", {"total_reads": 13}, period="30d")
    assert len(month["daily"]) == 30 and month["unique_users"] == 4, month
    assert month["from"] == str(today() - datetime.timedelta(days=29)), month
    assert usage(api, "history") == week  # 7d is the default


def test_popular_ordering_and_limit(infra, tenant, analytics):
    api = tenant.api
    ids = {n: api.create_dataset(n)["id"] for n in ("alpha", "beta", "gamma", "delta", "idle")}
    read(api, "beta", 3)
    read(api, "gamma", 2)
    read(api, "alpha", 2)
    read(api, "delta")
    add_daily(infra, tenant, ids["delta"], 10, reads=50)  # popular last month, not this week
    wait_usage(api, "delta", {"total_reads": 1})
    wait_usage(api, "beta", {"total_reads": 3})
    wait_usage(api, "alpha", {"total_reads": 2})
    wait_usage(api, "gamma", {"total_reads": 2})

    week = assert_list_page(api.ok("GET", "/api/v1/analytics/popular", 200).json())
    assert [i["name"] for i in week["items"]] == ["beta", "alpha", "gamma", "delta"], week  # ties by name
    assert week["next_cursor"] is None
    assert week["items"][0] == {"namespace": "default", "name": "beta", "total_reads": 3, "unique_users": 1,
                                "search_appearances": 0, "lineage_queries": 0}, week
    month = api.ok("GET", "/api/v1/analytics/popular", 200, params={"period": "30d"}).json()
    assert [i["name"] for i in month["items"]] == ["delta", "beta", "alpha", "gamma"], month
    assert month["items"][0]["total_reads"] == 51, month

    first = api.ok("GET", "/api/v1/analytics/popular", 200, params={"limit": "2"}).json()
    assert [i["name"] for i in first["items"]] == ["beta", "alpha"] and first["next_cursor"], first
    assert [i["name"] for i in api.walk("/api/v1/analytics/popular", limit=1)] == ["beta", "alpha", "gamma", "delta"]
    assert_error(api.get("/api/v1/analytics/popular", params={"limit": "501"}), 400, "invalid_request", "limit")


def test_unused(infra, tenant, analytics):
    api = tenant.api
    ids = {n: api.create_dataset(n)["id"] for n in ("u_read", "u_never", "u_stale", "u_new", "u_dropped")}
    for n in ("u_read", "u_never", "u_stale", "u_dropped"):
        backdate(infra, ids[n], 60)
    add_daily(infra, tenant, ids["u_stale"], 20, reads=4)
    add_daily(infra, tenant, ids["u_read"], 2, searches=9)  # seen in search, never read
    read(api, "u_read")
    wait_usage(api, "u_read", {"total_reads": 1})
    api.ok("DELETE", "/api/v1/datasets/u_dropped", 204)

    page = assert_list_page(api.ok("GET", "/api/v1/analytics/unused", 200, params={"days": "7"}).json())
    by_name = {i["name"]: i for i in page["items"]}
    assert sorted(by_name) == ["u_never", "u_stale"], page  # u_new has not been around for 7 days
    assert by_name["u_never"]["last_read_on"] is None, page
    assert by_name["u_stale"]["last_read_on"] == str(today() - datetime.timedelta(days=20)), page
    assert re.match(r"^\d{4}-\d\d-\d\dT", by_name["u_never"]["created_at"]), page
    # 30 days (the default) still holds the read 20 days ago
    default = api.ok("GET", "/api/v1/analytics/unused", 200).json()
    assert [i["name"] for i in default["items"]] == ["u_never"], default
    assert [i["name"] for i in api.walk("/api/v1/analytics/unused", limit=1, params={"days": "7"})] == \
        ["u_never", "u_stale"]
    assert [i["name"] for i in api.walk("/api/v1/analytics/unused", params={"days": "50"})] == ["u_never"]
    assert api.walk("/api/v1/analytics/unused", params={"days": "365"}) == []  # none is a year old


# ---------------------------------------------------------------- who sees what


def test_scoped_caller_and_foreign_tenant_see_nothing_of_others(infra, tenant, tenant_factory, analytics):
    api = tenant.api
    api.ok("POST", "/api/v1/domains", 201, json_body={"name": "sales"})
    api.create_dataset("sales_orders", domain="sales")
    api.create_dataset("fin_ledger")
    backdate(infra, api.create_dataset("sales_idle", domain="sales")["id"], 5)
    backdate(infra, api.create_dataset("fin_idle")["id"], 5)
    read(api, "sales_orders")
    read(api, "fin_ledger", 2)
    wait_usage(api, "fin_ledger", {"total_reads": 2})
    wait_usage(api, "sales_orders", {"total_reads": 1})

    scoped = Api(api.base, tenant.make_key("viewer", scope={"domain": "sales"})["key"])
    assert usage(scoped, "sales_orders")["total_reads"] == 1
    assert_error(scoped.get("/api/v1/datasets/fin_ledger/usage"), 404, "not_found")
    assert [i["name"] for i in scoped.walk("/api/v1/analytics/popular")] == ["sales_orders"]
    assert [i["name"] for i in scoped.walk("/api/v1/analytics/unused", params={"days": "1"})] == ["sales_idle"]
    assert [i["name"] for i in api.walk("/api/v1/analytics/unused", params={"days": "1"})] == ["fin_idle", "sales_idle"]
    assert [i["name"] for i in api.walk("/api/v1/analytics/popular")] == ["fin_ledger", "sales_orders"]

    other = tenant_factory().api
    other.create_dataset("fin_ledger")
    assert usage(other, "fin_ledger")["total_reads"] == 0
    assert_error(other.get("/api/v1/datasets/sales_orders/usage"), 404, "not_found")
    assert other.walk("/api/v1/analytics/popular") == []
    assert_error(Api(api.base).get("/api/v1/analytics/popular"), 401, "unauthorized")


def test_bad_parameters(api):
    api.create_dataset("params")
    for period in ("2d", "7", "", "1D", "30d "):
        r = api.get("/api/v1/datasets/params/usage", params={"period": period})
        if period == "":
            assert r.status_code == 200, r.text  # empty: the default
            continue
        assert_error(r, 400, "invalid_request", "period")
        assert_error(api.get("/api/v1/analytics/popular", params={"period": period}), 400, "invalid_request", "period")
    for days in ("0", "366", "abc", "-1", "1.5", "99999999999999999999"):
        assert_error(api.get("/api/v1/analytics/unused", params={"days": days}), 400, "invalid_request", "days")
    for path in ("/api/v1/analytics/popular", "/api/v1/analytics/unused"):
        assert_error(api.get(path, params={"limit": "0"}), 400, "invalid_request", "limit")
        assert_error(api.get(path, params={"cursor": "not-a-cursor"}), 400, "invalid_request", "cursor")
        # a well-formed cursor of the wrong shape is refused, never a 500
        r = api.get(path, params={"cursor": "WyJ4Il0"})  # ["x"]
        assert r.status_code in (200, 400), r.text
    assert_error(api.get("/api/v1/datasets/nope/usage"), 404, "not_found", "dataset")
    assert_error(api.get("/api/v1/datasets/params/usage", params={"namespace": "bad\x01ns"}), 400, "invalid_request")


# ---------------------------------------------------------------- replicas, reclaim, Redis down


def xlen(infra, stream):
    return int(redis_cli(infra["MF_REDIS_URL"], "XLEN", stream))


def wait_for(what, check, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def test_two_replicas_count_once_and_reclaim_a_dead_ones_entries(infra, tenant, spawn_server, spawn_analytics):
    stream = "mf:usage:test-" + uuid.uuid4().hex[:8]
    srv = spawn_server(unique("usage-api"), {"MF_USAGE_STREAM": stream})
    env = {"MF_USAGE_STREAM": stream, "MF_USAGE_CLAIM_IDLE_MS": "300"}
    replicas = [spawn_analytics(unique("usage-%d" % i), dict(env, MF_ANALYTICS_CONSUMER="replica-%d" % i))
                for i in range(2)]
    tenant.api.create_dataset("hot")
    client_key = tenant.key

    def burst(_):
        s = requests.Session()
        for _ in range(40):
            r = s.get(srv.base + "/api/v1/datasets/hot", headers={"Authorization": "Bearer " + client_key}, timeout=10)
            assert r.status_code == 200, r.text
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(burst, range(8)))
    wait_usage(tenant.api, "hot", {"total_reads": 320})
    wait_for("the stream to drain", lambda: xlen(infra, stream) == 0)
    time.sleep(1.0)
    assert usage(tenant.api, "hot")["total_reads"] == 320

    # a replica dies after committing one entry and before acknowledging it, with another
    # entry read but not folded: both stay pending at the dead consumer
    for r in replicas:
        r.stop_and_check()
    line = "%s\tr\tkey:%s\tdefault\thot" % (tenant.id, uuid.uuid4())
    committed = redis_cli(infra["MF_REDIS_URL"], "XADD", stream, "*", "e", line)
    redis_cli(infra["MF_REDIS_URL"], "XADD", stream, "*", "e", line + "\n" + line)
    redis_cli(infra["MF_REDIS_URL"], "XREADGROUP", "GROUP", GROUP, "dead", "COUNT", "10", "STREAMS", stream, ">")
    day = datetime.datetime.fromtimestamp(int(committed.split("-")[0]) / 1000, datetime.timezone.utc).date()
    psql(infra["MF_PG_URL"], "SELECT mf_usage_fold_lines(ARRAY['%s'], E'%s\\t1\\t%s')"
         % (committed, day, line.replace("\t", "\\t")))
    assert usage(tenant.api, "hot")["total_reads"] == 321

    replicas[0].start()
    wait_for("the dead consumer's entries to be reclaimed and acknowledged",
             lambda: xlen(infra, stream) == 0 and
             redis_cli(infra["MF_REDIS_URL"], "XPENDING", stream, GROUP).split("\n")[0] == "0")
    assert usage(tenant.api, "hot")["total_reads"] == 323  # the committed entry once, the other's two reads
    replicas[0].stop_and_check()


def xadd_raw(infra, stream, events):
    """XADD one entry whose events field is these exact bytes (redis-cli -x: no quoting, no UTF-8 check)."""
    proc = subprocess.run(["redis-cli", "-u", infra["MF_REDIS_URL"], "-x", "XADD", stream, "*", "e"], input=events,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert proc.returncode == 0 and b"ERR" not in proc.stdout, proc.stdout + proc.stderr


def test_malformed_lines_count_nothing_and_known_readers_count_once(infra, tenant, spawn_analytics):
    stream = "mf:usage:test-" + uuid.uuid4().hex[:8]
    spawn_analytics(unique("usage-lines"), {"MF_USAGE_STREAM": stream})
    tenant.api.create_dataset("lines")
    reader, other = "key:%s" % uuid.uuid4(), "user:%s" % uuid.uuid4()
    good = ("%s\tr\t%s\tdefault\tlines" % (tenant.id, reader)).encode()
    malformed = [
        b"not-a-tenant-id\tr\tkey:x\tdefault\tlines",
        ("%s\tx\t%s\tdefault\tlines" % (tenant.id, reader)).encode(),        # unknown kind
        ("%s\tr\t%s\tdefault" % (tenant.id, reader)).encode(),                 # a field short
        ("%s\tr\t%s\tdefault\tlines\textra" % (tenant.id, reader)).encode(),  # a field too many
        ("%s\tr\t%s\t\tlines" % (tenant.id, reader)).encode(),                # no namespace
        ("%s\tl\t%s\t" % (tenant.id, reader)).encode(),                       # no lineage node
        ("%s\tr\t%s\tdefault\tli" % (tenant.id, reader)).encode() + b"\xff\x00nes",  # not UTF-8, a NUL
        ("%s\tr\t%s\tdefault\tnobody-has-this" % (tenant.id, reader)).encode(),  # no such dataset
    ]
    xadd_raw(infra, stream, b"\n".join([good] + malformed + [good]))
    wait_usage(tenant.api, "lines", {"total_reads": 2, "unique_users": 1})
    wait_for("the stream to drain", lambda: xlen(infra, stream) == 0)
    # a later batch: the reader again (known to the replica: no second caller row) and a new reader
    xadd_raw(infra, stream, good + b"\n" + ("%s\tr\t%s\tdefault\tlines" % (tenant.id, other)).encode())
    wait_usage(tenant.api, "lines", {"total_reads": 4, "unique_users": 2})
    wait_for("the stream to drain", lambda: xlen(infra, stream) == 0)
    callers = super_sql(infra, "SELECT caller FROM dataset_usage_callers_daily c JOIN datasets d ON d.id = c.dataset_id "
                               "WHERE d.tenant_id = '%s' AND d.name = 'lines' ORDER BY 1" % tenant.id)
    assert callers == sorted([reader, other]), callers


def test_redis_down_does_not_fail_reads(infra, tenant, spawn_server):
    dead = "redis://127.0.0.1:%d" % free_port()  # nothing listens there
    srv = spawn_server(unique("usage-noredis"), {"MF_REDIS_URL": dead}, ready_path="/healthz")
    tenant.api.create_dataset("steady")
    s = Api(srv.base, tenant.key)
    slowest = 0.0
    for _ in range(30):
        started = time.monotonic()
        s.ok("GET", "/api/v1/datasets/steady", 200)
        slowest = max(slowest, time.monotonic() - started)
    assert slowest < 1.0, "a read took %.2fs with Redis down" % slowest

    def dropped():
        text = requests.get(srv.base + "/metrics", timeout=5).text
        m = re.search(r"^mf_usage_events_dropped_total (\d+)$", text, re.M)
        assert m, text[:2000]
        return int(m.group(1))
    wait_for("every event to be counted as dropped", lambda: dropped() == 30)


def test_usage_events_can_be_turned_off(infra, tenant, spawn_server):
    off_stream, on_stream = ("mf:usage:test-" + uuid.uuid4().hex[:8] for _ in range(2))
    off = spawn_server(unique("usage-off"), {"MF_USAGE_EVENTS": "0", "MF_USAGE_STREAM": off_stream})
    on = spawn_server(unique("usage-on"), {"MF_USAGE_STREAM": on_stream})
    tenant.api.create_dataset("quiet")
    for srv in (off, on):
        Api(srv.base, tenant.key).ok("GET", "/api/v1/datasets/quiet", 200)
    wait_for("the producer's entry", lambda: xlen(infra, on_stream) == 1)
    assert xlen(infra, off_stream) == 0
    entry = redis_cli(infra["MF_REDIS_URL"], "XRANGE", on_stream, "-", "+")
    assert "%s\tr\tkey:" % tenant.id in entry and entry.endswith("\tdefault\tquiet"), entry
